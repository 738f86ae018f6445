"""Hugging Face Deep RL Course (github.com/huggingface/deep-rl-class), unit 5 (now unit 4) "Policy Gradient with
PyTorch": REINFORCE on CartPole-v1. ``Policy``: Linear(s_size=4, h_size=16) -> ReLU -> Linear(16, a_size=2) ->
``F.softmax(x, dim=1)``; ``act`` samples from ``Categorical(probs)`` and keeps ``m.log_prob(action)``;
``cartpole_hyperparameters``: h_size 16, n_training_episodes 1000, max_t 1000, gamma 1.0, lr 1e-2, optimiser
``optim.Adam(policy.parameters(), lr)``; ``reinforce`` runs one episode, builds ``policy_loss`` from the saved log
probs and takes one Adam step per episode (the episode is the batch).

The fault (a wrong policy-gradient weight): the notebook computed one number per episode,
``discounts = [gamma**i for i in range(len(rewards)+1)]``, ``R = sum([a*b for a,b in zip(discounts, rewards)])``,
and weighted every step's log prob by it: ``policy_loss.append(-log_prob * R)``. That is the episode's return G_0,
not the return that follows each step, G_t; with CartPole's reward of 1 per step G_0 is the episode's length, so
every action of an episode (the ones that dropped the pole included) is pushed up by the same positive amount, more
for longer episodes, with no baseline: the gradient is high-variance and credits actions with rewards earned
before they were taken. PR #95 (Chris1nexus, "Fix and improve unit5 REINFORCE computation of the returns"): "The
provided implementation computes the policy loss considering only the return G_0 ... the reinforce algorithm
requires to compute the returns G_t for all t"; its second commit standardises the returns "to obtain more stable
training of Reinforce".

Source: github.com/huggingface/deep-rl-class ``unit5/unit5.ipynb`` at ab8598b77254da25339ec23dd48510de2acd33ea
(= 43dcfac^1), PR #95, fix commits c9b9e4810af5350586f77becde90164f1aa74045 ("Fix unit5 reinforce
implementation") and 7c06423ca4fb4cae34578929e60531552e8c37da (standardisation), merged as 43dcfac. The stored
snapshot lacks the pre-fix notebook blob: the buggy lines are those the PR quotes (G_0 for every t), as they stand in
public copies of the course notebook (same "Line 6 of pseudocode" comments); the Policy, hyperparameters and the
fixed returns are from ``notebooks/unit4/unit4.ipynb`` at HEAD (69df3e4), where the PR's code still stands.
Fault label: other:policy_gradient_weights_every_step_by_episode_return (the per-step weights, the targets of
this loss, are G_0 instead of G_t).

Program lines kept: ``Policy`` as written (torch default init); Adam(lr=1e-2); gamma 1.0; the buggy
``discounts`` / ``R`` lines and ``-log_prob * R`` summed over the episode; the fixed backward ``returns.appendleft(
gamma * disc_return_t + rewards[t])`` loop, ``(returns - returns.mean()) / (returns.std() + eps)`` and
``-log_prob * disc_return`` summed.
Ported: gym is not used. An episode becomes one batch: ``x`` the episode's states (T, 4) float32, ``y`` (T, 2) =
[action, weight] with weight R (buggy) or the standardised G_t (fixed); ``loss_fn`` splits them back, gathers the
log probability of the taken action from the softmax output (what ``Categorical.log_prob`` returns) and sums
``-log_prob * weight`` over the episode. The weights are computed once, from the rollouts below, as the program
computes them after each episode. Keras twin: Dense(16, relu) -> Dense(2, softmax) (torch's Linear init:
VarianceScaling(1/3, fan_in, uniform) kernels, U(+-1/sqrt(fan_in)) biases), Adam(1e-2), the same loss on the packed
y, summed over the batch (returned per sample times the batch size, since Keras averages a loss's per-sample
values); the fault is in the returns, not in either framework's API, so it is the same slip in both.
Data stand-in (no gym): CartPole-v1's dynamics stepped in seeded numpy (``_data.cartpole_step``, gym's equations,
start state U(+-0.05), done when |x| > 2.4 or |theta| > 12 degrees, TimeLimit 500), actions drawn 50/50 as the
freshly initialised policy draws them; reward 1 per step. ``batches``: 8 episodes (10, 42, 31, 28, 12, 16, 56, 11
steps; the states are unnormalised, velocities up to ~2); ``batch``: the first (10 steps); ``inputs``: all 206
states.

Measured (my own plain loop, /tmp/s48/h69_b/measure.py, OMP_NUM_THREADS=1: the notebook's reinforce() with the
policy acting online, 500 episodes, buggy vs fixed, same seed): mean score of episodes 1-100 / 101-200 / 201-300 /
301-400 / 401-500:
  seed 0: buggy 28.7 / 79.0 / 119.8 / 420.9 / 498.9, fixed 63.7 / 344.9 / 462.0 / 442.9 / 466.8
  seed 1: buggy 23.6 / 32.6 / 67.6 / 64.2 / 227.7,  fixed 125.9 / 418.6 / 416.5 / 490.6 / 394.4
  seed 2: buggy 29.0 / 43.0 / 49.4 / 71.6 / 69.1 (best episode 230), fixed 23.1 / 170.0 / 401.5 / 221.8 / 406.8
  So the buggy program learns, but far slower and less reliably (one seed in three averages ~500 over episodes
  401-500, one ~230, one stays near 70); the fixed one averages 170..420 by episodes 101-200. The fault does not
  stop the loss from decreasing on a fixed episode: it changes which direction the gradient points in, not whether
  it can be followed. On the module's 8 fixed episodes (100 update steps cycling them, /tmp/s48/h69_b/check.py):
  torch buggy loss (mean of first / last 8 steps) 637.6 -> 599.1 (weights 10..56, all positive), fixed 0.33 ->
  -141.3 (the standardised weights are negative for late steps, whose log probs it drives down without bound on a fixed
  episode); Keras buggy 631.7 -> 604.3, fixed 0.20 -> -85.3. Update step on an episode: torch ~0.4 ms, Keras
  ``train_on_batch`` ~8 ms. Online loop: ~0.3-0.4 ms per environment step (forward, sampling, update), one thread.
  Builds: first torch 2.0 s, Keras 4.6 s (imports included); later builds < 0.05 s.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from tests.real_programs._data import cartpole_step
from tests.real_programs._versions import versions

LABEL = "other:policy_gradient_weights_every_step_by_episode_return"
SOURCE = ("github:huggingface/deep-rl-class PR #95 (unit5/unit5.ipynb reinforce() 'R = sum(...)', "
          "'-log_prob * R' @ab8598b77254da25339ec23dd48510de2acd33ea = 43dcfac^1; fix c9b9e4810af5350586f77becde90164f"
          "1aa74045 + 7c06423ca4fb4cae34578929e60531552e8c37da: returns G_t, standardised)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "probabilities"}), ("gradients_flow", {}), ("overfit_one_batch", {}),
          ("loss_decreases", {})]

# cartpole_hyperparameters
H_SIZE = 16
MAX_T = 1000
GAMMA = 1.0
LR = 1e-2
S_SIZE, A_SIZE = 4, 2
# port
TIME_LIMIT = 500  # CartPole-v1's TimeLimit
N_EPISODES = 8
SEED = 0


def _episodes() -> list[tuple[np.ndarray, np.ndarray, list[float]]]:
    rng = np.random.default_rng(SEED)
    out = []
    for _ in range(N_EPISODES):
        state = rng.uniform(-0.05, 0.05, 4)
        states, actions, rewards = [], [], []
        for _t in range(min(MAX_T, TIME_LIMIT)):
            action = int(rng.integers(0, A_SIZE))  # the fresh policy's probabilities are ~0.5 / 0.5
            states.append(state)
            actions.append(action)
            state, done = cartpole_step(state, action)
            rewards.append(1.0)
            if done:
                break
        out.append((np.array(states, dtype="float32"), np.array(actions), rewards))
    return out


def _weights(rewards: list[float], fixed: bool) -> np.ndarray:
    if not fixed:  # the notebook before PR #95: G_0 for every step
        discounts = [GAMMA ** i for i in range(len(rewards) + 1)]
        R = sum([a * b for a, b in zip(discounts, rewards)])  # noqa: N806 (the program's name)
        return np.full(len(rewards), R, dtype="float32")
    returns: deque = deque(maxlen=MAX_T)  # fix: G_t, then standardised
    for t in range(len(rewards))[::-1]:
        disc_return_t = returns[0] if len(returns) > 0 else 0
        returns.appendleft(GAMMA * disc_return_t + rewards[t])
    eps = np.finfo(np.float32).eps.item()
    r = np.array(returns, dtype="float32")
    return ((r - r.mean()) / (r.std(ddof=1) + eps)).astype("float32")  # torch.std is the unbiased one


def _data(fixed: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    batches = []
    for states, actions, rewards in _episodes():
        y = np.stack([actions.astype("float32"), _weights(rewards, fixed)], axis=1)
        batches.append((states, y))
    return batches, np.concatenate([b[0] for b in batches])


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Policy(nn.Module):
        def __init__(self, s_size: int, a_size: int, h_size: int) -> None:
            super().__init__()
            self.fc1 = nn.Linear(s_size, h_size)
            self.fc2 = nn.Linear(h_size, a_size)

        def forward(self, x):
            x = F.relu(self.fc1(x))
            x = self.fc2(x)
            return F.softmax(x, dim=1)

    torch.manual_seed(SEED)
    policy = Policy(S_SIZE, A_SIZE, H_SIZE)

    def loss_fn(probs, y):  # policy_loss = torch.cat([-log_prob * weight, ...]).sum()
        log_prob = torch.log(probs.gather(1, y[:, :1].long()).squeeze(1))  # Categorical(probs).log_prob(action)
        return (-log_prob * y[:, 1]).sum()

    batches, inputs = _data(fixed)
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": policy, "batch": tb[0], "batches": tb, "inputs": t(inputs), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(policy.parameters(), lr=LR)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, activation: str) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    model = keras.Sequential([keras.Input((S_SIZE,)), linear(S_SIZE, H_SIZE, "relu"),
                              linear(H_SIZE, A_SIZE, "softmax")], name="Policy")

    def policy_loss(y, probs):  # per sample; times the batch size so Keras' mean is the program's sum
        actions = ops.cast(y[:, 0], "int32")
        p = ops.take_along_axis(probs, ops.expand_dims(actions, -1), axis=1)[:, 0]
        n = ops.cast(ops.shape(y)[0], probs.dtype)
        return -ops.log(p) * y[:, 1] * n

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=policy_loss)
    batches, inputs = _data(fixed)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
