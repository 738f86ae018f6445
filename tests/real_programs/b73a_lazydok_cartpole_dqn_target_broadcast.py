"""Lazydok/RL-Pytorch-cartpole ``1_dqn.py``: a tutorial DQN for CartPole-v0 (``gym.make('CartPole-v0').unwrapped``).
``Network``: Linear(4, 164) -> ReLU -> Linear(164, 2) (``HIDDEN_LAYER = 164``), Adam(``LR = 0.001``), ``GAMMA =
0.75``, ``BATCH_SIZE = 64``, epsilon-greedy from 0.9 to 0.05 (``EPS_DECAY = 200`` steps), a 10,000-transition replay
memory, one ``learn()`` per environment step once the memory holds 64 transitions, no target network. Rewards are
shaped in ``run_episode``: 1 per step, an episode that ends before 30 steps gets 1 - 10 = -9 on its last step, a
later end -1, plus 1 after 100, 200 and 300 steps. ``learn()`` samples 64 transitions and takes
``F.smooth_l1_loss(current_q_values, expected_q_values)`` with ``current_q_values = model(batch_state).gather(1,
batch_action)`` and ``expected_q_values = batch_reward + (GAMMA * max_next_q_values)``, ``max_next_q_values =
model(batch_next_state).detach().max(1)[0]``.

The fault (target shape): ``current_q_values`` is (64, 1) (gather on the (64, 1) actions) while ``batch_reward``
(``torch.cat`` of 64 one-element tensors) and ``max(1)[0]`` are (64,), so ``expected_q_values`` is (64,) and
``smooth_l1_loss`` broadcasts the pair to (64, 64): every Q(s_i, a_i) is regressed onto the targets of all 64
transitions of the batch (PyTorch only warns "Using a target size ... different to the input size"). The minimum of
that loss puts every Q(s_i, a_i) at one Huber location of the batch's 64 targets, the same for every state, so the
network cannot tell the -9 of a falling pole from the +1 of a balanced one and the agent never learns to balance.
The PR that fixed it: "i have changed the reward batch shapes from [128] to [128,1] because otherwise the rewards are
summed and broadcasted as the same value for all the actions in the batch, which is obviously not desired".

Source: github.com/Lazydok/RL-Pytorch-cartpole ``1_dqn.py`` at 7e2f1704dc76addc7d00f2d4344bfca26b793d42 (= ead9d92^);
PR #2 (jamesrichter, "fixed to work with modern Pytorch", merged as 3be18b8), fix
ead9d921604a1aeb463459449436988cfede574a:
``batch_reward = Variable(torch.cat(batch_reward)).unsqueeze(-1)`` and ``expected_q_values = batch_reward + (GAMMA *
max_next_q_values).unsqueeze(-1)`` (the same PR fixed ``2_double_dqn.py`` and ``3_dueling_dqn.py``, and
``env.step(action[0, 0].item())``).
Fault label: target_shape.

Program lines kept: ``Network`` (torch default init), Adam(0.001), GAMMA, BATCH_SIZE, the ``run_episode`` reward
shaping and its 1000-step cap, ``ReplayMemory.sample`` (``random.sample`` of 64), and ``learn()``'s gather, detached
max over the next state's Q-values from the same model, target and ``F.smooth_l1_loss``, buggy and fixed.
Ported: no gym / moviepy / ``Variable``. So that the checks' ``loss_fn(outputs, y)`` can compute ``learn()``'s
target with the model being trained (no target network: the target moves every step), ``y`` packs each transition
as ``[action, reward, next_state (4)]`` (64, 6) and the loss calls the model on the next states, detached, as
``learn()`` does; ``x`` is the (64, 4) states, the model's output stays the (64, 2) Q-values. Keras twin: the same
Dense(164, relu) -> Dense(2) (kernels VarianceScaling(1/3, fan_in, uniform) and U(+-1/sqrt(fan_in)) biases, torch's
Linear init), Adam(0.001), compiled with a loss written in ``keras.ops`` with the same lines: ``take_along_axis``
(64, 1), ``stop_gradient(max(model(next_states), axis=1))`` (64,), ``reward + GAMMA * max_next`` (64,) in the buggy
build (``[:, None]`` on both in the fixed one) and the elementwise Huber (delta 1, = smooth_l1) averaged, which
broadcasts to (64, 64) exactly like torch (Keras' own ``Huber`` loss would align the ranks first, so the ops are
written out).
Data stand-in (no gym): CartPole transitions from ``_data.cartpole_step`` (gym's equations), episodes reset to
U(-0.05, 0.05)^4, uniform random actions (epsilon is 0.9 when learning starts), the program's reward shaping:
2,000 transitions in the replay memory (rewards: 1918 x 1, 64 x -9, 18 x -1; 4 % end an episode). ``batches``: 8
``random.sample``s of 64; ``inputs``: 256 states of later random episodes.

Measured (my own plain loops, /tmp/s48/h73_a/run.py and measure.py, OMP_NUM_THREADS=1):
  the program's online loop on the simulator (one learn() per step, epsilon decay, 100 episodes, torch), mean
    episode length per 20 episodes: seed 0 buggy 16 / 28 / 24 / 21 / 13, fixed 14 / 30 / 198 / 327 / 292; seed 1
    buggy 14 / 19 / 19 / 19 / 19, fixed 13 / 25 / 48 / 98 / 137. The buggy agent never balances the pole.
  module builds, 500 steps cycling the 8 batches with the module's loss (the target recomputed with the current
    model every step), then Q(s, a) over the 2,000 memory transitions: torch buggy loss 1.127 -> 0.334 (mean of the
    last 20), Q of episode-ending transitions 3.835 vs the others 3.807, std of Q(s, a) 0.030; fixed 1.108 -> 0.321,
    3.310 vs 3.883, std 0.383. Keras buggy 1.030 -> 0.335, 3.810 vs 3.800, std 0.026; fixed 1.030 -> 0.322, 3.228
    vs 3.873, std 0.374. The loss curves look alike (the broadcast loss also falls, to the spread of the batch's
    targets); what shows is that the buggy Q is one value for every state and does not see a falling pole.
  Time per step (batch 64, one thread): torch ~1.0 ms, Keras ``train_on_batch`` ~4 ms; first build torch 1.9 s,
    Keras 9.7 s (imports and the replay), later builds < 0.05 s.
"""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_shape"
SOURCE = ("github:Lazydok/RL-Pytorch-cartpole PR #2 (1_dqn.py learn()@7e2f1704dc76addc7d00f2d4344bfca26b793d42 "
          "= ead9d92^, fix ead9d921604a1aeb463459449436988cfede574a, merged 3be18b8)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

# 1_dqn.py hyper parameters
EPS_START = 0.9
GAMMA = 0.75
LR = 0.001
HIDDEN_LAYER = 164
BATCH_SIZE = 64
# port
N_MEMORY = 2000
N_BATCHES = 8
N_INPUTS = 256
SEED = 0


def _reward(steps: int, done: bool) -> float:
    """run_episode's shaping of gym's reward 1.0."""
    reward = 1.0
    if done:
        if steps < 30:
            reward -= 10
        else:
            reward = -1
    if steps > 100:
        reward += 1
    if steps > 200:
        reward += 1
    if steps > 300:
        reward += 1
    return reward


@functools.lru_cache(maxsize=1)
def _memory() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replay memory of random-action CartPole transitions as (state, y = [action, reward, next_state]), plus
    held-out states."""
    from ._data import cartpole_step

    rng = np.random.default_rng(SEED)
    mem: list[tuple[np.ndarray, np.ndarray]] = []
    held: list[np.ndarray] = []
    while len(mem) < N_MEMORY or len(held) < N_INPUTS:
        state, steps = rng.uniform(-0.05, 0.05, 4), 0
        while True:
            action = int(rng.integers(0, 2))
            next_state, done = cartpole_step(state, action)
            if len(mem) < N_MEMORY:
                mem.append((state, np.concatenate([[action, _reward(steps, done)], next_state])))
            elif len(held) < N_INPUTS:
                held.append(state)
            state = next_state
            steps += 1
            if done or steps >= 1000:
                break
    x = np.array([m[0] for m in mem], dtype="float32")
    y = np.array([m[1] for m in mem], dtype="float32")
    return x, y, np.array(held, dtype="float32")


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    x, y, _ = _memory()
    r = random.Random(SEED)
    out = []
    for _ in range(N_BATCHES):  # ReplayMemory.sample: random.sample(self.memory, batch_size)
        ix = np.array(r.sample(range(len(x)), BATCH_SIZE))
        out.append((x[ix], y[ix]))
    return out


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Network(nn.Module):  # 1_dqn.py
        def __init__(self):
            nn.Module.__init__(self)
            self.l1 = nn.Linear(4, HIDDEN_LAYER)
            self.l2 = nn.Linear(HIDDEN_LAYER, 2)

        def forward(self, x):
            x = F.relu(self.l1(x))
            x = self.l2(x)
            return x

    torch.manual_seed(SEED)
    model = Network()

    def loss_fn(q, y):  # learn(): y = [action, reward, next_state]
        batch_action, batch_reward, batch_next_state = y[:, :1].long(), y[:, 1], y[:, 2:]
        if fixed:  # fix ead9d92
            batch_reward = batch_reward.unsqueeze(-1)
        current_q_values = q.gather(1, batch_action)
        max_next_q_values = model(batch_next_state).detach().max(1)[0]
        if fixed:
            expected_q_values = batch_reward + (GAMMA * max_next_q_values).unsqueeze(-1)
        else:
            expected_q_values = batch_reward + (GAMMA * max_next_q_values)
        return F.smooth_l1_loss(current_q_values, expected_q_values)

    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in _batches()]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(_memory()[2]), "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, LR)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    model = keras.Sequential([keras.Input((4,)), linear(4, HIDDEN_LAYER, "relu"), linear(HIDDEN_LAYER, 2)],
                             name="Network")

    def learn_loss(y, q):
        batch_action, batch_reward, batch_next_state = ops.cast(y[:, :1], "int32"), y[:, 1], y[:, 2:]
        current_q_values = ops.take_along_axis(q, batch_action, axis=1)  # (64, 1)
        max_next_q_values = ops.stop_gradient(ops.max(model(batch_next_state), axis=1))  # (64,)
        if fixed:  # fix ead9d92
            expected_q_values = batch_reward[:, None] + (GAMMA * max_next_q_values)[:, None]
        else:
            expected_q_values = batch_reward + (GAMMA * max_next_q_values)
        d = ops.abs(current_q_values - expected_q_values)  # smooth_l1 (beta 1)
        return ops.mean(ops.where(d < 1.0, 0.5 * d * d, d - 0.5))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=learn_loss)
    return {"model": model, "batch": _batches()[0], "batches": _batches(), "inputs": _memory()[2]}


buggy, fixed = versions(_torch, _keras)
