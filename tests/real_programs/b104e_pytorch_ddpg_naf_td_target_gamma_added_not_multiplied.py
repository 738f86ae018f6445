"""ikostrikov/pytorch-ddpg-naf ``naf.py`` (+ ``main.py``, ``replay_memory.py``, ``ounoise.py``): a PyTorch
re-implementation of NAF (normalized advantage functions, continuous Q-learning) and DDPG; ``main.py`` defaults to
``--algo NAF --env-name HalfCheetah-v2`` (17-d observations, 6-d actions in [-1, 1] through ``NormalizedActions``),
gamma 0.99, tau 0.001, hidden 128, batch 128, OU noise scale 0.3, 5 updates per environment step once the replay
memory holds more than 128 transitions. ``Policy`` (bn0 -> Linear/tanh -> Linear/tanh, bn1 / bn2 built but
unused, -> heads V, mu, L) returns ``(mu, Q, V)`` with ``Q = A + V``, ``A = -0.5 (u - mu)^T L L^T (u - mu)``;
``NAF.update_parameters`` regresses ``Q(s, a)`` of the model onto a TD target built from the soft-updated target
network's ``V(s')`` with the file's own ``MSELoss``, clips the gradient norm to 1, steps Adam(lr 1e-3) and
soft-updates the target network.

The fault (the TD target): ``expected_state_action_values = reward_batch + (self.gamma * mask_batch +
next_state_values)`` -- a ``+`` where a ``*`` belongs. The target is ``r + gamma * mask + V'(s')`` instead of
``r + gamma * mask * V'(s')``: the bootstrap term is not discounted at all (coefficient 1 on V'), the terminal mask
no longer cuts it off, and every non-terminal target gets a constant +0.99. The Bellman backup is then no longer a
contraction and has no fixed point: each time the target network catches up, V rises by about mean(r) + 0.99, so
the value head climbs without bound and the TD regression chases a moving, ever-growing target while the reward
signal (what tells good actions from bad) becomes a small part of the target. The fault came in with commit
32b42d1 "Fix a bug" (May 2018, which added the ``mask`` for terminal states) and stayed for almost three years.

Source: github.com/ikostrikov/pytorch-ddpg-naf ``naf.py`` ``NAF.update_parameters`` at
ec5a46927faf9a1f85d895416ad1d7e02ac0df04 (the repository's head before the fix; the line unchanged since
32b42d11c0aa01350bd4c23cd32de12d2f2432da). Issue #16 "Typo in the Implementation" (Feb 2021) points at naf.py line 121:
"current Target: r_t + \\gamma * mask + v_{t+1}; correct Target: r_t + \\gamma * mask * v_{t+1}"; the maintainer
answered "Fixed in" d900aa6d7fc8f6eb263332a3334be28b49e83dc2, i.e. ``reward_batch + (self.gamma * mask_batch *
next_state_values)`` (``ddpg.py`` of the same repository always had the ``*``). I could not open d900aa6 itself (the
stored snapshot predates it); the fixed line here is the one the issue and the maintainer's answer give.
Fault label: other:td_target_discount_added_not_multiplied (a wrong TD regression target: undiscounted bootstrap
plus a constant, so the value estimates diverge linearly; none of the fixed labels names a wrong bootstrap formula).

Program lines kept verbatim: ``MSELoss``, ``soft_update``, ``hard_update``, the whole ``Policy`` class (init,
BatchNorm layers kept in train mode as the program trains them, 0.1-scaled heads, ``Variable`` masks, ``F.tanh``),
``NAF.__init__`` (two Policies, ``Adam(self.model.parameters(), lr=1e-3)``, ``hard_update``), and the body of
``update_parameters``: target network called on the next states (in train mode, not detached, as written), the
``unsqueeze(1)``s, the buggy / fixed target line, ``MSELoss(state_action_values, expected_state_action_values)``,
``zero_grad``, ``backward``, ``torch.nn.utils.clip_grad_norm(self.model.parameters(), 1)``, ``step``,
``soft_update(self.target_model, self.model, self.tau)``. No size was shrunk.
Ported: torch only. The update needs its target network soft-updated after every optimizer step and its gradient
norm clipped, which Keras' compile / fit cannot express without a hand-written ``train_step`` -- that would be a
new program, not a twin. For the checks' ``model(x)`` / ``loss_fn(outputs, y)``: ``model`` is a thin
``StateActionQ`` wrapper (no parameters of its own) that splits packed ``x = [state (17), action (6)]`` rows and
returns the Policy's ``Q`` (the ``mu`` and ``V`` outputs are unused by the loss); ``y`` packs ``[reward, mask,
next_state (17)]`` and ``loss_fn`` computes the target from the target network as ``update_parameters`` does;
``train_step`` holds the rest of ``update_parameters`` (clip, step, soft update). ``optimizer`` is the program's Adam
over the Policy's parameters (= the wrapper's).
Data stand-in (no gym / MuJoCo): a HalfCheetah-shaped simulator in numpy (dt 0.05; observation = rootz, rooty, 6
joint angles, x velocity, z velocity, pitch rate, 6 joint velocities; joints are torque-driven damped springs, the body
is pushed by the joint velocities, the forward velocity is driven nonlinearly by the joint motion; reward = forward
velocity - 0.1 * sum(a^2) as in HalfCheetah-v2; 1000-step episodes, ``mask = not done`` is 0 only on the 1000th step
as gym's TimeLimit gives). Replay memory: 3 episodes (3000 transitions) with the program's OU noise (theta 0.15,
sigma 0.2, scale 0.3) as the actions -- the untrained ``mu`` head (0.1-scaled weights) is left out, so the actions are
the noise alone; rewards mean -0.085, std 0.46. ``batches``: 20 ``random.sample``s of 128 (``ReplayMemory.sample``),
``batch`` the first; ``inputs``: 256 [state, action] rows of a fourth episode.

Measured (OMP_NUM_THREADS=1, torch seed 0; my own loops /tmp/s60/p/e/measure.py and online.py):
  The program's online loop (main.py: OU-noise episodes on the stand-in simulator, 5 ``train_step``s per step after
    128 transitions, a noise-free test episode after each; seeds 4 as main.py's), returns per episode:
    buggy test 1000-step return -72.5 / 18.6 / 1243.0 after episodes 0 / 1 / 2 (training-episode returns -841.7 /
    45.9 / 517.8), mean V on ``inputs`` 6.9 / 16.5 / 27.7 and rising, mean training loss 0.047 / 0.140 / 0.264
    (growing); fixed test return 1007.1 / 1979.9 / 2383.1 (training 7.5 / 1098.1 / 1719.0), V 0.40 / 0.89 / 3.42,
    loss 0.004 / 0.023 / 0.100. The buggy agent learns to run far more slowly (about one episode of 5000 updates
    behind after 3 episodes, half the fixed return) and its values explode. (Stopped after 3 episodes: ~4 min each.)
  The module's builds on the fixed replay memory (``train_step`` on 128-transition ``random.sample``s of the 3000,
    ``random.Random(1)``), 20,000 updates: mean Q on ``inputs`` (model in eval mode) buggy -0.02 / 2.38 / 4.67 / 7.57 /
    11.01 / 14.67 / 18.57 / 22.24 / 25.69 / 28.71 / 31.70 at steps 0 / 2k / ... / 20k (target network's mean V 30.4 at
    20k: a steady climb of ~1.6 per 1000 updates with no sign of levelling off), TD loss (mean of 200 steps) 1.12 ->
    0.0077 at 2k, then rising 0.015 / 0.027 / 0.042 / 0.063 / ... / 0.075 as the targets run away; fixed
    -0.04 / 0.08 / 0.44 / 1.44 / 2.76 / 4.08 / 5.67 / 7.19 / 8.59 / 9.85 / 10.99 (target V 10.6 at 20k; V is the
    max over actions, so the correct values of this off-policy data also rise, towards what running well earns,
    but the climb slows: +1.6 / +1.5 / +1.4 / +1.3 / +1.1 per 2k updates at the end, against the buggy +3.7 / +3.4 /
    +3.0 / +3.0), loss 0.19 -> 0.0058 at 2k, then 0.009 / 0.016 / 0.022 / 0.031 / ... / 0.052 (the TD loss of a
    bootstrapped learner grows with the values in both; it is not the loss curve that separates them).
  First 2000 updates (same loop): buggy loss 1.12 at step 0 (the +0.99 in every target) -> 0.074 / 0.0082 / 0.0077
    at 200 / 400 / 2000; fixed 0.19 -> 0.0127 / 0.0049 / 0.0059: both fall fast at first, the buggy one from a
    higher start, so a short run shows the fault mainly as a larger initial loss and values that have started to
    drift (mean Q 2.43 vs 0.07 after 2000 updates).
  Time per update (batch 128, one thread): ~5-7 ms. Build: ~4.5 s in a fresh process (torch import, 4000
    simulated steps), later 0.05 s."""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np

LABEL = "other:td_target_discount_added_not_multiplied"
SOURCE = ("github:ikostrikov/pytorch-ddpg-naf issue #16 'Typo in the Implementation', fix "
          "d900aa6d7fc8f6eb263332a3334be28b49e83dc2 (naf.py NAF.update_parameters "
          "@ec5a46927faf9a1f85d895416ad1d7e02ac0df04, fault from 32b42d11c0aa01350bd4c23cd32de12d2f2432da "
          "'Fix a bug'; main.py, replay_memory.py, ounoise.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {"task": "regression"})]

# main.py defaults (--algo NAF --env-name HalfCheetah-v2)
GAMMA = 0.99
TAU = 0.001
HIDDEN_SIZE = 128
BATCH_SIZE = 128
NUM_STEPS = 1000  # HalfCheetah-v2's TimeLimit: done (mask 0) on the 1000th step
NOISE_SCALE = 0.3
# HalfCheetah-v2 shapes
NUM_INPUTS = 17
NUM_ACTIONS = 6
# port
N_EPISODES = 3
N_BATCHES = 20
N_INPUTS = 256
SEED = 0


class _Box:
    """The ``action_space`` the Policy reads (only ``shape``): NormalizedActions' [-1, 1]^6."""

    shape = (NUM_ACTIONS,)
    low = -np.ones(NUM_ACTIONS, "float32")
    high = np.ones(NUM_ACTIONS, "float32")


@functools.lru_cache(maxsize=1)
def _env_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r = np.random.default_rng(SEED + 1)
    couple = r.normal(0, 0.3, (4, 6))  # joint velocities -> body (rootz, rooty, vz, vrooty) forces
    fwd_q = r.normal(0, 0.5, 6)  # joint angles x joint velocities -> forward acceleration
    fwd_qd = r.normal(0, 0.2, 6)
    gain = r.uniform(15, 40, 6)  # joint torque gains
    return couple, fwd_q, fwd_qd, gain


def _step(s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, float]:
    """A HalfCheetah-shaped stand-in (dt 0.05): obs = [rootz, rooty, 6 joint angles, vx, vz, vrooty, 6 joint
    velocities]; reward = forward velocity - 0.1 * sum(a^2) as HalfCheetah-v2's."""
    couple, fwd_q, fwd_qd, gain = _env_matrices()
    dt = 0.05
    body, q, vx, bvel, qd = s[0:2], s[2:8], s[8], s[9:11], s[11:17]
    qd2 = qd + dt * (-25.0 * q - 2.0 * qd + gain * a)
    q2 = np.clip(q + dt * qd2, -1.2, 1.2)
    f = couple @ qd2
    bvel2 = bvel + dt * (-20.0 * body - 3.0 * bvel + f[2:])
    body2 = body + dt * bvel2 + dt * 0.1 * f[:2]
    vx2 = vx + dt * (-1.5 * vx + 20.0 * np.tanh(float(fwd_q @ (q2 * qd2)) / 4.0 + float(fwd_qd @ qd2) / 4.0))
    s2 = np.concatenate([body2, q2, [vx2], bvel2, qd2])
    return s2, float(vx2 - 0.1 * np.sum(a ** 2))


@functools.lru_cache(maxsize=1)
def _memory() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replay memory of OU-noise episodes: x = [state (17), action (6)], y = [reward, mask, next_state (17)]; and
    held-out [state, action] rows of a later episode."""
    r = np.random.default_rng(SEED)
    rows_x, rows_y = [], []
    for _ in range(N_EPISODES + 1):
        s = np.concatenate([r.uniform(-0.1, 0.1, 8), r.normal(0, 0.1, 9)])  # HalfCheetah's reset noise
        ou = np.zeros(NUM_ACTIONS)  # OUNoise(6), theta 0.15, sigma 0.2, mu 0, scale 0.3
        for t in range(NUM_STEPS):
            ou = ou + 0.15 * (0 - ou) + 0.2 * r.standard_normal(NUM_ACTIONS)
            a = np.clip(ou * NOISE_SCALE, -1, 1)
            s2, rew = _step(s, a)
            done = t == NUM_STEPS - 1
            rows_x.append(np.concatenate([s, a]))
            rows_y.append(np.concatenate([[rew, float(not done)], s2]))
            s = s2
    x = np.array(rows_x, "float32")
    y = np.array(rows_y, "float32")
    n = N_EPISODES * NUM_STEPS
    held = np.random.default_rng(SEED + 2).choice(NUM_STEPS, N_INPUTS, replace=False)
    return x[:n], y[:n], x[n:][np.sort(held)]


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    x, y, _ = _memory()
    r = random.Random(SEED)
    out = []
    for _ in range(N_BATCHES):  # ReplayMemory.sample: random.sample(self.memory, batch_size)
        ix = np.array(r.sample(range(len(x)), BATCH_SIZE))
        out.append((x[ix], y[ix]))
    return out


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.autograd import Variable
    from torch.optim import Adam

    def MSELoss(input, target):
        return torch.sum((input - target)**2) / input.data.nelement()

    def soft_update(target, source, tau):
        for target_param, param in zip(target.parameters(), source.parameters()):
            target_param.data.copy_(target_param.data * (1.0 - tau) + param.data * tau)

    def hard_update(target, source):
        for target_param, param in zip(target.parameters(), source.parameters()):
            target_param.data.copy_(param.data)

    class Policy(nn.Module):

        def __init__(self, hidden_size, num_inputs, action_space):
            super(Policy, self).__init__()
            self.action_space = action_space
            num_outputs = action_space.shape[0]

            self.bn0 = nn.BatchNorm1d(num_inputs)
            self.bn0.weight.data.fill_(1)
            self.bn0.bias.data.fill_(0)

            self.linear1 = nn.Linear(num_inputs, hidden_size)
            self.bn1 = nn.BatchNorm1d(hidden_size)
            self.bn1.weight.data.fill_(1)
            self.bn1.bias.data.fill_(0)

            self.linear2 = nn.Linear(hidden_size, hidden_size)
            self.bn2 = nn.BatchNorm1d(hidden_size)
            self.bn2.weight.data.fill_(1)
            self.bn2.bias.data.fill_(0)

            self.V = nn.Linear(hidden_size, 1)
            self.V.weight.data.mul_(0.1)
            self.V.bias.data.mul_(0.1)

            self.mu = nn.Linear(hidden_size, num_outputs)
            self.mu.weight.data.mul_(0.1)
            self.mu.bias.data.mul_(0.1)

            self.L = nn.Linear(hidden_size, num_outputs ** 2)
            self.L.weight.data.mul_(0.1)
            self.L.bias.data.mul_(0.1)

            self.tril_mask = Variable(torch.tril(torch.ones(
                num_outputs, num_outputs), diagonal=-1).unsqueeze(0))
            self.diag_mask = Variable(torch.diag(torch.diag(
                torch.ones(num_outputs, num_outputs))).unsqueeze(0))

        def forward(self, inputs):
            x, u = inputs
            x = self.bn0(x)
            x = F.tanh(self.linear1(x))
            x = F.tanh(self.linear2(x))

            V = self.V(x)
            mu = F.tanh(self.mu(x))

            Q = None
            if u is not None:
                num_outputs = mu.size(1)
                L = self.L(x).view(-1, num_outputs, num_outputs)
                L = L * \
                    self.tril_mask.expand_as(
                        L) + torch.exp(L) * self.diag_mask.expand_as(L)
                P = torch.bmm(L, L.transpose(2, 1))

                u_mu = (u - mu).unsqueeze(2)
                A = -0.5 * \
                    torch.bmm(torch.bmm(u_mu.transpose(2, 1), P), u_mu)[:, :, 0]

                Q = A + V

            return mu, Q, V

    class StateActionQ(nn.Module):
        """Port only: takes the packed [state, action] rows and returns the Policy's Q (the network is unchanged)."""

        def __init__(self, policy):
            super().__init__()
            self.policy = policy

        def forward(self, xu):
            _, Q, _ = self.policy((xu[:, :NUM_INPUTS], xu[:, NUM_INPUTS:]))
            return Q

    # NAF.__init__
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    policy = Policy(HIDDEN_SIZE, NUM_INPUTS, _Box())
    target_model = Policy(HIDDEN_SIZE, NUM_INPUTS, _Box())
    optimizer = Adam(policy.parameters(), lr=1e-3)
    hard_update(target_model, policy)
    model = StateActionQ(policy)
    gamma = GAMMA

    def loss_fn(state_action_values, y):  # NAF.update_parameters; y = [reward, mask, next_state]
        reward_batch, mask_batch, next_state_batch = y[:, 0], y[:, 1], y[:, 2:]

        _, _, next_state_values = target_model((next_state_batch, None))

        reward_batch = reward_batch.unsqueeze(1)
        mask_batch = mask_batch.unsqueeze(1)
        if fixed:  # fix d900aa6
            expected_state_action_values = reward_batch + (gamma * mask_batch * next_state_values)
        else:
            expected_state_action_values = reward_batch + (gamma * mask_batch + next_state_values)

        return MSELoss(state_action_values, expected_state_action_values)

    def train_step(model, optimizer, loss_fn, x, y):  # the rest of NAF.update_parameters
        loss = loss_fn(model(x), y)

        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm(model.parameters(), 1)
        optimizer.step()

        soft_update(target_model, model.policy, TAU)
        return loss

    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in _batches()]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(_memory()[2]), "loss_fn": loss_fn,
            "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
