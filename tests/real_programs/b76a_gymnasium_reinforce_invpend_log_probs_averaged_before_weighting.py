"""Farama-Foundation/Gymnasium documentation tutorial "Training using REINFORCE for Mujoco"
(``docs/tutorials/training_agents/reinforce_invpend_gym_v26.py``): REINFORCE on InvertedPendulum-v4 with a Gaussian
policy. ``Policy_Network``: ``shared_net`` Linear(obs_space_dims=4, 16) -> Tanh -> Linear(16, 32) -> Tanh, then
``policy_mean_net`` Linear(32, 1) and ``policy_stddev_net`` Linear(32, 1) passed through ``log(1 + exp(.))``;
``REINFORCE``: ``learning_rate = 1e-4``, ``gamma = 0.99``, ``eps = 1e-6``, ``torch.optim.AdamW(net.parameters(),
lr=1e-4)``; ``sample_action`` builds ``Normal(action_means[0] + eps, action_stddevs[0] + eps)``, samples an action
and keeps ``distrib.log_prob(action)``; after each episode ``update`` computes the discounted returns G_t backwards
(``deltas``) and takes one AdamW step (the episode is the batch); 5,000 episodes per seed.

The fault (a reduction taken too early in the policy-gradient loss): ``update`` did
``log_probs = torch.stack(self.probs)``, ``log_prob_mean = log_probs.mean()`` and ``loss = -torch.sum(log_prob_mean
* deltas)``. The log probabilities are averaged over the episode *before* they are weighted by the returns, so the
loss is ``-(mean_t log pi(a_t|s_t)) * sum_t G_t``: every action of the episode gets the same weight, the sum of all
the episode's returns divided by its length, instead of its own return G_t. With InvertedPendulum's reward of 1 per
step (no baseline), all weights are positive, and the step that lets the pole fall is pushed up as much as the ones
that kept it up: the credit assignment REINFORCE gets from G_t is gone, only "longer episode -> more of everything"
is left. The lines came in with PR #638 ("optimize reinforce_invpend_gym_v26.py", a vectorising refactor of the
original per-step loop ``loss += log_prob.mean() * delta * (-1)``, where ``.mean()`` was over the action dims of one
step); issue #1336 ("Bad REINFORCE implementation for Mujoco Tutorial": "ERROR HERE, why calculate the mean?"),
fixed by PR #1337 ("Fixes REINFORCE implementation: The probability averaging was removed", before/after plots
"not working" / "working"; the maintainer: "Thanks for the PR and the training graph, looks good to me").

Source: github.com/Farama-Foundation/Gymnasium ``docs/tutorials/training_agents/reinforce_invpend_gym_v26.py`` at
12026c5f283fbe6f73d7fb1d7e909dbe19582d92 (= 3d435ed^, the fault since 331414cabdff7e60403bad4bdf2dfd168f9fdeb5,
PR #638); issue #1336, PR #1337, fix 3d435ed177e3b7d3e0d13c489b0a056d46c855af: ``log_probs =
torch.stack(self.probs).squeeze()``, ``loss = -torch.sum(log_probs * deltas)`` (its other change, #1335, is to the
plotting code only).
Fault label: other:policy_gradient_log_probs_averaged_before_weighting (the loss averages the episode's log
probabilities before weighting them, so every step carries the same return-derived weight).

Program lines kept: ``Policy_Network`` as written (torch default init); AdamW(lr=1e-4) (torch's default
weight_decay 0.01); gamma 0.99, eps 1e-6; ``Normal(mean + eps, std + eps).log_prob(action)``; the backward
``running_g = R + gamma * running_g`` returns; the buggy ``-torch.sum(log_probs.mean() * deltas)`` and the fixed
``-torch.sum(log_probs.squeeze() * deltas)``.
Ported: gym / MuJoCo are not used. ``forward`` returns ``torch.cat((action_means, action_stddevs), 1)`` (T, 2)
instead of the tuple, so the checks see one output tensor; ``loss_fn`` splits it back. An episode becomes one batch:
``x`` its observations (T, 4) float32, ``y`` (T, 2) = [action, G_t], computed once from the rollouts below as
``update`` computes them after each episode. Keras twin: the same shared Dense(16, tanh) -> Dense(32, tanh) trunk
and two Dense(1) heads (torch's Linear init: VarianceScaling(1/3, fan_in, uniform) kernels, U(+-1/sqrt(fan_in))
biases), std head ``log(1 + exp(.))``, concatenated; AdamW(1e-4, weight_decay=0.01) as torch's; the same loss on the
packed y, returned per sample so that Keras' mean over the batch is the program's value (buggy: the scalar
``-mean(log_prob) * sum(G)`` repeated T times; fixed: ``-log_prob * G * T``). The fault is in the loss's
reductions, not in either framework's API, so it is the same slip in both.
Data stand-in (no MuJoCo): InvertedPendulum-v4 stepped in seeded numpy as a cart-pole with the model's masses (cart
10.5 kg, pole 5.0 kg, half-length 0.3 m, from the xml's capsules at density 1000), hinge damping 1, force = 100 x
action clipped to the ctrlrange [-3, 3] (gear 100), dt 0.04 (2 x 0.02 frame skip), start state U(+-0.01), reward 1
per step, terminated when |pole angle| > 0.2, TimeLimit 1000. Actions drawn N(0, 0.7^2) as the fresh policy draws
them (mean ~0, std softplus(~0) ~ 0.69): random episodes last ~9 steps, as in the real environment. It is the
textbook cart-pole equations (uniform-rod pole), an approximation of MuJoCo's model, not its exact dynamics.
``batches``: 8 such episodes; ``batch``: the first; ``inputs``: all their states (~1e-2 in scale, unnormalised
as in the program).

Measured (my own plain loop, /tmp/s48/h76_a/measure.py, OMP_NUM_THREADS=1: the tutorial's training loop with the
policy acting online in the stand-in environment, one AdamW step per episode, 3,000 of the tutorial's 5,000 episodes
for CPU time, buggy vs fixed with the same seed): mean episode length (= return) per tenth of the run (300
episodes each):
  seed 1: buggy 11.3 / 13.0 / 14.6 / 16.4 / 19.1 / 25.9 / 30.1 / 38.2 / 44.7 / 50.6 (79k env steps in all),
          fixed 13.1 / 20.8 / 32.6 / 58.0 / 78.4 / 91.0 / 104.2 / 125.2 / 131.8 / 154.9 (243k)
  seed 2: buggy 11.1 / 11.5 / 12.2 / 13.9 / 16.5 / 17.8 / 19.2 / 20.6 / 24.9 / 26.8 (52k),
          fixed 11.6 / 14.0 / 16.5 / 22.0 / 28.5 / 47.2 / 90.8 / 114.6 / 116.9 / 147.8 (183k)
  seed 3: buggy 8.0 / 9.3 / 9.7 / 10.3 / 11.4 / 12.5 / 13.5 / 14.3 / 17.8 / 21.2 (38k),
          fixed 8.8 / 10.6 / 13.8 / 17.7 / 21.2 / 29.8 / 63.2 / 119.3 / 209.8 / 288.6 (235k)
  So the buggy program still learns a little (the episode-level weight still favours longer episodes) but far
  slower: in the last 300 episodes its episodes last 21-51 steps, the fixed ones 148-289 (random policy: ~9).
  On a fixed set of episodes the fault does not stop the loss from falling: it changes the gradient's direction (no
  per-step credit), not whether it can be followed. The module's 8 episodes (3-13 steps), 200 update steps cycling
  them (/tmp/s48/h76_a/check.py), mean loss of the first / last 8 steps: torch buggy 39.59 -> 37.08, fixed 36.61 ->
  35.12; Keras buggy 38.06 -> 36.06, fixed 36.35 -> 34.91 (lr 1e-4 moves the loss slowly in both).
  Time per step: online loop ~0.5-1.2 ms per environment step (forward, sampling, the per-episode update; loaded
  machine); update step on a module episode torch ~1.9 ms, Keras ``train_on_batch`` ~12 ms. Builds: first torch
  5.5 s, Keras 12.5 s (imports included); later builds < 0.1 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:policy_gradient_log_probs_averaged_before_weighting"
SOURCE = ("github:Farama-Foundation/Gymnasium issue #1336, PR #1337 (docs/tutorials/training_agents/"
          "reinforce_invpend_gym_v26.py REINFORCE.update 'log_prob_mean = log_probs.mean()', "
          "'-torch.sum(log_prob_mean * deltas)' @12026c5f283fbe6f73d7fb1d7e909dbe19582d92 = 3d435ed^, introduced by "
          "PR #638 331414c; fix 3d435ed177e3b7d3e0d13c489b0a056d46c855af '-torch.sum(log_probs * deltas)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {}), ("batch_independence", {})]

# REINFORCE.__init__ / Policy_Network
LEARNING_RATE = 1e-4
GAMMA = 0.99
EPS = 1e-6
OBS_DIMS, ACTION_DIMS = 4, 1
HIDDEN1, HIDDEN2 = 16, 32
# InvertedPendulum-v4 stand-in (inverted_pendulum.xml)
M_CART, M_POLE, HALF_LEN, GRAVITY, GEAR, HINGE_DAMPING = 10.5, 5.0, 0.3, 9.81, 100.0, 1.0
TIMESTEP, FRAME_SKIP, CTRL_RANGE, MAX_ANGLE, TIME_LIMIT = 0.02, 2, 3.0, 0.2, 1000
# port
N_EPISODES = 8
ACTION_STD = 0.7  # the fresh policy's std: softplus(~0)
SEED = 0


def pendulum_step(s: np.ndarray, a: float) -> tuple[np.ndarray, bool]:
    """One env step (frame_skip x semi-implicit Euler) of the cart-pole stand-in: (next obs, terminated)."""
    x, th, xd, thd = (float(v) for v in s)
    f = GEAR * float(np.clip(a, -CTRL_RANGE, CTRL_RANGE))
    tot = M_CART + M_POLE
    for _ in range(FRAME_SKIP):
        ct, st = np.cos(th), np.sin(th)
        tmp = (f + M_POLE * HALF_LEN * thd ** 2 * st) / tot
        thacc = ((GRAVITY * st - ct * tmp) / (HALF_LEN * (4.0 / 3.0 - M_POLE * ct ** 2 / tot))
                 - HINGE_DAMPING * thd / (M_POLE * HALF_LEN ** 2))
        xacc = tmp - M_POLE * HALF_LEN * thacc * ct / tot
        xd += TIMESTEP * xacc
        thd += TIMESTEP * thacc
        x += TIMESTEP * xd
        th += TIMESTEP * thd
    nxt = np.array([x, th, xd, thd])
    return nxt, bool(not np.isfinite(nxt).all() or abs(th) > MAX_ANGLE)


def discounted_returns(rewards: list[float]) -> list[float]:
    """REINFORCE.update: running_g = R + gamma * running_g, backwards."""
    running_g = 0.0
    gs: list[float] = []
    for R in rewards[::-1]:  # noqa: N806 (the program's name)
        running_g = R + GAMMA * running_g
        gs.insert(0, running_g)
    return gs


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    rng = np.random.default_rng(SEED)
    batches = []
    for _ in range(N_EPISODES):
        s = rng.uniform(-0.01, 0.01, OBS_DIMS)
        states, actions, rewards = [], [], []
        for _t in range(TIME_LIMIT):
            a = float(rng.normal(0.0, ACTION_STD))
            states.append(s)
            actions.append(a)
            s, terminated = pendulum_step(s, a)
            rewards.append(1.0)
            if terminated:
                break
        y = np.stack([np.array(actions), np.array(discounted_returns(rewards))], axis=1).astype("float32")
        batches.append((np.array(states, dtype="float32"), y))
    return batches, np.concatenate([b[0] for b in batches])


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.distributions.normal import Normal

    class Policy_Network(nn.Module):  # noqa: N801 (the program's name)
        def __init__(self, obs_space_dims: int, action_space_dims: int) -> None:
            super().__init__()
            self.shared_net = nn.Sequential(nn.Linear(obs_space_dims, HIDDEN1), nn.Tanh(),
                                            nn.Linear(HIDDEN1, HIDDEN2), nn.Tanh())
            self.policy_mean_net = nn.Sequential(nn.Linear(HIDDEN2, action_space_dims))
            self.policy_stddev_net = nn.Sequential(nn.Linear(HIDDEN2, action_space_dims))

        def forward(self, x):
            shared_features = self.shared_net(x.float())
            action_means = self.policy_mean_net(shared_features)
            action_stddevs = torch.log(1 + torch.exp(self.policy_stddev_net(shared_features)))
            return torch.cat((action_means, action_stddevs), dim=1)  # port: one tensor instead of the tuple

    torch.manual_seed(SEED)
    net = Policy_Network(OBS_DIMS, ACTION_DIMS)

    def loss_fn(out, y):  # REINFORCE.update on the episode's saved log probs and returns
        distrib = Normal(out[:, 0] + EPS, out[:, 1] + EPS)
        log_probs = distrib.log_prob(y[:, 0])  # torch.stack(self.probs).squeeze()
        deltas = y[:, 1]
        if fixed:  # fix 3d435ed (PR #1337)
            return -torch.sum(log_probs * deltas)
        log_prob_mean = log_probs.mean()
        return -torch.sum(log_prob_mean * deltas)

    batches, inputs = _data()
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": t(inputs), "loss_fn": loss_fn,
            "optimizer": torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import math

    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    inp = keras.Input((OBS_DIMS,))
    h = linear(OBS_DIMS, HIDDEN1, "tanh")(inp)
    shared = linear(HIDDEN1, HIDDEN2, "tanh")(h)
    means = linear(HIDDEN2, ACTION_DIMS)(shared)
    stddevs = layers.Activation(lambda v: ops.log(1 + ops.exp(v)))(linear(HIDDEN2, ACTION_DIMS)(shared))
    model = keras.Model(inp, layers.Concatenate(axis=1)([means, stddevs]), name="Policy_Network")

    def reinforce_loss(y, out):  # per sample; Keras' mean over the batch gives the program's loss
        mu, sigma = out[:, 0] + EPS, out[:, 1] + EPS
        a, deltas = y[:, 0], y[:, 1]
        log_probs = -((a - mu) ** 2) / (2 * sigma ** 2) - ops.log(sigma) - 0.5 * math.log(2 * math.pi)
        n = ops.cast(ops.shape(y)[0], out.dtype)
        if fixed:
            return -log_probs * deltas * n
        return -ops.mean(log_probs) * ops.sum(deltas) * ops.ones_like(deltas)

    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=0.01),
                  loss=reinforce_loss)
    batches, inputs = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
