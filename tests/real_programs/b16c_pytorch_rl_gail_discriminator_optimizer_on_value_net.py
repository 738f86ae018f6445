"""Khrylx/PyTorch-RL, ``gail/gail_gym.py`` (GAIL: generative adversarial imitation learning with a PPO
generator): the discriminator ``Discriminator(state_dim + action_dim)`` (``models/mlp_discriminator.py``:
Linear(., 128) -> tanh -> Linear(128, 128) -> tanh -> Linear(128, 1) with the last layer's weight scaled by
0.1 and its bias zeroed -> sigmoid) is trained with ``nn.BCELoss()`` to output 1 on the policy's own
state-action pairs and 0 on the expert's (``discrim_criterion(g_o, ones) + discrim_criterion(e_o, zeros)``),
one Adam step (lr 3e-4) per PPO minibatch of 64, and its output gives the policy's reward
(``-log D(s, a)``). The faulty version builds the discriminator's optimizer over the wrong network:
``optimizer_discrim = torch.optim.Adam(value_net.parameters(), lr=args.learning_rate)``. ``discrim_loss.
backward()`` puts gradients on the discriminator, but ``optimizer_discrim.step()`` only ever looks at the
critic's parameters (whose gradients ``optimizer_discrim.zero_grad()`` has just cleared), so the
discriminator never changes: its loss stays at its initial 2 ln 2 ~ 1.386 (D ~ 0.5 everywhere), and the
imitation reward it hands the policy is a constant ~ ln 2 that carries no information about the expert.

Source: github.com/Khrylx/PyTorch-RL, ``gail/gail_gym.py`` at 392cb65^ (d8aff48), fixed by commit
392cb65bab9f8357a6a3d6ff640e99d6160d604a "bug fix." (``Adam(value_net.parameters(), ...)`` ->
``Adam(discrim_net.parameters(), ...)``; the same commit also raises the discriminator updates per minibatch
from 1 to 3, which this port leaves at the buggy version's 1 in both versions so the fix is the optimizer
line alone). Listed in the GitHub part of the ICSE 2020 "Repairing Deep Neural Networks: Fix Patterns and
Challenges" data set (github.com/lab-design/ICSE2020DNNBugRepair, ``Dataset.xlsx``, fix pattern "Optimizer").
Program lines kept: ``Discriminator`` and ``Value`` (``models/mlp_critic.py``, the network the faulty
optimizer holds) as written, ``discrim_criterion = nn.BCELoss()``, the discriminator update (policy pairs
labelled 1, expert pairs 0, the two BCE means added), ``lr = 3e-4`` (``--learning-rate`` default),
``optim_batch_size = 64``, state_dim 11 and action_dim 3 (the default env ``Hopper-v1``).
Ported minimally: float32 instead of the script's ``torch.DoubleTensor`` default; ``Variable``/``F.tanh``/
``F.sigmoid`` written as today's tensors/``torch.tanh``/``torch.sigmoid``. The PPO generator update and the
environment roll-outs are not part of the ported step (they do not touch the discriminator); the policy and
expert pairs of one PPO iteration are given as data. Each batch is the program's 64 policy pairs followed by
64 expert pairs (rows ``[state, action]``), targets 1 then 0; ``loss_fn`` splits the batch in two halves and
adds the two ``BCELoss`` means exactly as the program does. The faulty ``optimizer`` ignores the parameters
it is handed and builds Adam over the critic ``value_net``, as the program does.
Torch only: the fault needs an optimizer that can be built over another network's parameters and then
stepped silently. In Keras, ``compile`` binds the optimizer to the model's own weights; the same slip written
in a ``GradientTape`` loop (``tape.gradient(loss, value_net.trainable_variables)``) makes Keras 3's
``apply_gradients`` raise "No gradients provided for any variable" (and applying the discriminator's
gradients to the critic's variables fails on the shapes), so there is no silent Keras twin.
Data stand-in (no gym/mujoco, no ``expert_traj`` pickle): Hopper-shaped rows of 11 state + 3 action values.
Policy pairs: states from short seeded "falling" roll-outs of the untrained policy (height 1.25 sinking
towards 0.8, joint angles and velocities drifting as random walks), actions from its initial Gaussian
(mean ~0, std exp(0) = 1). Expert pairs: a periodic hopping gait (height 1.25 + 0.1 sin, joint angles and
velocities as phase-shifted sinusoids, forward speed ~3) with expert torques ``clip(0.8 cos(.), -1, 1)``,
plus small noise. 6 batches of 64 + 64 rows.
Fault label: params_not_updated (the discriminator's optimizer holds the critic's parameters).
Fix (392cb65): ``optimizer_discrim = torch.optim.Adam(discrim_net.parameters(), lr=args.learning_rate)``.
Symptom in a short loop (plain torch loop: ``opt = optimizer(model.parameters())``, zero_grad / loss_fn /
backward / step, 300 steps cycling over the 6 batches): buggy discriminator loss 1.392 -> 1.393 (50 steps)
-> 1.392 (300 steps), its parameters bit-for-bit unchanged, D = 0.500 on the policy pairs and 0.503 on the
expert pairs; since ``zero_grad`` clears only the critic's gradients, the discriminator's ``.grad`` keeps
accumulating (summed gradient norm 381 after 300 steps, never applied). Fixed: 1.392 -> 0.94 (50) -> 0.46
(100) -> 0.05 (300), D = 0.972 on policy pairs and 0.023 on expert pairs, 99.5 % of the 768 pairs told apart.
About 3 ms per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:Khrylx/PyTorch-RL gail/gail_gym.py@392cb65^ (models/mlp_discriminator.py, models/mlp_critic.py; "
          "fix 392cb65bab9f8357a6a3d6ff640e99d6160d604a; ICSE2020DNNBugRepair GitHub set)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities"}), ("not_constant_predictions", {})]

learning_rate = 3e-4  # --learning-rate default
optim_batch_size = 64
state_dim, action_dim = 11, 3  # Hopper-v1
n_batches = 6


def _pairs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(policy pairs, expert pairs), each (n_batches * 64, 14) float32 rows [state(11), action(3)]."""
    rng = np.random.default_rng(seed)
    n = optim_batch_size * n_batches
    # policy roll-outs: 24 episodes of 16 steps, falling from the reset pose
    steps = 16
    eps = n // steps
    t = np.tile(np.arange(steps), eps)
    height = 1.25 - 0.45 * (t / steps) ** 2 + 0.01 * rng.standard_normal(n)
    angles = np.cumsum(0.05 * rng.standard_normal((eps, steps, 4)), axis=1).reshape(n, 4)
    vel = np.cumsum(0.3 * rng.standard_normal((eps, steps, 6)), axis=1).reshape(n, 6)
    gen_state = np.column_stack([height, angles, vel])
    action_mean = 0.05 * rng.standard_normal((n, action_dim))  # untrained head (weights scaled by 0.1)
    gen_action = action_mean + rng.standard_normal((n, action_dim))  # torch.normal(mean, std=exp(0))
    gen = np.column_stack([gen_state, gen_action])
    # expert gait: a periodic hop
    phase = rng.uniform(0, 2 * np.pi, n)
    off = np.linspace(0, np.pi, 10)
    e_height = 1.25 + 0.1 * np.sin(phase)
    e_angles = 0.3 * np.sin(phase[:, None] + off[None, :4])
    e_vel = 2.0 * np.cos(phase[:, None] + off[None, 4:])
    e_vel[:, 0] += 3.0  # forward speed
    e_state = np.column_stack([e_height, e_angles, e_vel]) + 0.05 * rng.standard_normal((n, state_dim))
    e_action = np.clip(0.8 * np.cos(phase[:, None] + np.array([0.0, 1.0, 2.0])[None, :]), -1, 1)
    exp = np.column_stack([e_state, e_action + 0.05 * rng.standard_normal((n, action_dim))])
    return gen.astype("float32"), exp.astype("float32")


def _build(framework: str, fixed_optimizer: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only (see the module docstring)")
    import torch
    import torch.nn as nn

    torch.manual_seed(1)  # --seed default 1

    class Value(nn.Module):  # models/mlp_critic.py
        def __init__(self, num_inputs):
            super().__init__()
            self.affine1 = nn.Linear(num_inputs, 128)
            self.affine2 = nn.Linear(128, 128)

            self.value_head = nn.Linear(128, 1)
            self.value_head.weight.data.mul_(0.1)
            self.value_head.bias.data.mul_(0.0)

        def forward(self, x):
            x = torch.tanh(self.affine1(x))
            x = torch.tanh(self.affine2(x))

            value = self.value_head(x)
            return value

    class Discriminator(nn.Module):  # models/mlp_discriminator.py
        def __init__(self, num_inputs):
            super().__init__()
            self.affine1 = nn.Linear(num_inputs, 128)
            self.affine2 = nn.Linear(128, 128)

            self.logic = nn.Linear(128, 1)
            self.logic.weight.data.mul_(0.1)
            self.logic.bias.data.mul_(0.0)

        def forward(self, x):
            x = torch.tanh(self.affine1(x))
            x = torch.tanh(self.affine2(x))

            prob = torch.sigmoid(self.logic(x))
            return prob

    value_net = Value(state_dim)
    discrim_net = Discriminator(state_dim + action_dim)
    discrim_criterion = nn.BCELoss()

    def loss_fn(out, target):
        # discrim_criterion(g_o, ones) + discrim_criterion(e_o, zeros): first half policy, second half expert
        h = out.shape[0] // 2
        return discrim_criterion(out[:h], target[:h]) + discrim_criterion(out[h:], target[h:])

    if fixed_optimizer:  # fix (392cb65)
        def optimizer(params):
            return torch.optim.Adam(params, lr=learning_rate)
    else:  # optimizer_discrim = torch.optim.Adam(value_net.parameters(), lr=args.learning_rate)
        def optimizer(params):
            return torch.optim.Adam(value_net.parameters(), lr=learning_rate)

    gen, exp = _pairs()
    tb = []
    for i in range(n_batches):
        ind = slice(i * optim_batch_size, (i + 1) * optim_batch_size)
        xb = torch.tensor(np.concatenate([gen[ind], exp[ind]]))
        yb = torch.cat([torch.ones((optim_batch_size, 1)), torch.zeros((optim_batch_size, 1))])
        tb.append((xb, yb))
    inputs = torch.tensor(np.concatenate([gen, exp]))
    return {"model": discrim_net, "batch": tb[0], "batches": tb, "inputs": inputs,
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_optimizer=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_optimizer=True)
