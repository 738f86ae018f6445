"""PacktPublishing/Deep-Reinforcement-Learning-Hands-On (Maxim Lapan's book, first edition), chapter 8 "Stocks
trading using RL": ``Chapter08/train_model.py`` trains a Double DQN with a dueling head, ``lib/models.py``
``SimpleFFDQN`` (``fc_val``: Linear(obs_len, 512) -> ReLU -> Linear(512, 512) -> ReLU -> Linear(512, 1); ``fc_adv``:
the same with ``actions_n`` = 3 outputs, Skip / Buy / Close), on ``lib/environ.StocksEnv`` over YNDX minute bars
(``bars_count=10``, ``volumes=False``, ``reset_on_close=True``, commission 0.1 %, reward 100 x the relative price
change per bar while a position is held): each observation is the last 10 bars' high / low / close relative to
the bar's open (``data.prices_to_relative``) plus the position flag and the relative profit, 32 floats. The loop:
``BATCH_SIZE = 32``, ``GAMMA = 0.99``, ``REWARD_STEPS = 2`` (``ExperienceSourceFirstLast``), ``REPLAY_INITIAL =
10000``, ``LEARNING_RATE = 0.0001`` (Adam), epsilon-greedy from 1.0 over 1M steps, ``TARGET_NET_SYNC = 1000``;
``common.calc_loss`` picks the next actions with ``net``, values them with ``tgt_net``, zeroes done transitions,
``expected = next_state_values.detach() * gamma + rewards`` (gamma = GAMMA ** 2) and takes ``nn.MSELoss()`` against
``net(states_v).gather(1, actions_v.unsqueeze(-1)).squeeze(-1)``.

The fault (a reduction over the whole batch): ``SimpleFFDQN.forward`` returns ``val + adv - adv.mean()``. The
dueling head should subtract each state's mean advantage over its actions (Wang et al. 2016, eq. 9); ``adv.mean()``
with no ``dim`` averages over the batch *and* the actions, a single scalar, so every Q-value the network gives for
a state depends on the other states of the batch. The Q-values trained on batches of 32 are not those the agent
acts on (ptan's DQNAgent feeds one state, where the mean happens to be the per-state one), nor those of another
batch holding the same state; targets from ``tgt_net`` on the batch of next states carry the same batch offset.
Issue #6 ("Ch. 8's Dueling implementation appears to be incorrect ... the line currently takes the average across
the entire batch_size * n_actions tensor"; the author: "For diverse batch samples it could potentially eliminate the
dueling effect"), fixed by PR #9. The same line sat in ``DQNConv1D`` and ``DQNConv1DLarge`` (``train_model_conv.py``).

Source: github.com/PacktPublishing/Deep-Reinforcement-Learning-Hands-On ``Chapter08/lib/models.py`` at
8284151b4bd409292077092be43af3aebca440f4 (= cbc5d0d^, where the file was added), with ``train_model.py``,
``lib/common.py``, ``lib/environ.py``, ``lib/data.py``; issue #6, PR #9, fix cbc5d0d0c274577682b901bf8b59f5643163cd24
("Fixing bug that computes advantage values as an average across the minibatch, instead of one advantage value
per sample"): ``return val + adv - adv.mean(dim=1, keepdim=True)`` in all three models.
Fault label: batch_mixing (each sample's Q-values depend on the other samples of the batch through the batch-wide
advantage mean).

Program lines kept: ``SimpleFFDQN`` as written (torch default init), the buggy / fixed ``forward``; the constants
above; ``State.encode`` / ``State.step`` (volumes off, reward_on_close False, reset_on_close) and
``StocksEnv.reset``'s random offset; ``ExperienceSourceFirstLast``'s 2-step discounted rewards with the last
transitions of an episode marked done (``unpack_batch`` puts the state itself as their next state); the
``calc_loss`` target lines (Double DQN: argmax by ``net``, value by ``tgt_net``, done -> 0, ``* GAMMA ** 2 +
rewards``) and its gather + ``nn.MSELoss()``; Adam(1e-4).
Ported: gym / ptan / tensorboardX are not used. As in b18b (the Hands-On ML DQN), each batch's targets are computed
once, by those lines, with the freshly initialised net (``tgt_net`` is its copy when training starts, with the
buggy forward in the buggy build, on the batch of 32 next states), and packed with the actions as ``y = [action,
expected_state_action_value]`` (32, 2) that the loss splits back; the model's output stays the (32, 3) Q-values.
The replay buffer is the first 10,000 transitions (training starts at ``REPLAY_INITIAL``, when epsilon = 0.99:
uniform random actions here). Keras twin: the same two 512-wide branches (kernels VarianceScaling(1/3, fan_in,
uniform) and U(+-1/sqrt(fan_in)) biases, torch's Linear init) joined by a weightless layer returning ``val + adv -
ops.mean(adv)`` (buggy) / ``ops.mean(adv, axis=1, keepdims=True)`` (fixed), compiled with the same gather + MSE
loss and Adam(1e-4): a Lambda-style dueling join without an axis is Keras' form of the same slip (keras-rl PR
#239 fixed exactly that in its dueling 'avg').
Data stand-in (no YNDX csv): 20,000 seeded synthetic minute bars with the real file's scale (checked against
YNDX_160101_161231.csv from the repository's ch08-small-quotes.tgz: relative close std 0.0018, a quarter of the
bars closing at the open, high / low 0.0006 beyond the body on average, next open within 0.16 % of the previous
close), run through the kept environment with random actions: 10,000 transitions (a third of them done, mostly
Close with a position), actions balanced. ``batches``: 8 samples of 32 drawn with replacement (``buffer.sample``);
``inputs``: 256 later states (the program evaluates ``STATES_TO_EVALUATE = 1000`` held states). The 30 price
features are ~1e-3 (the program's own scale, unnormalised), the position flag 0 / 1.

Measured (my own plain loops, /tmp/s44/h_b62c/measure.py, OMP_NUM_THREADS=1, the module's builds):
  batch dependence, Q of 16 held-out states computed in one batch vs one at a time: torch buggy max |diff| 7.2e-4
    at init (max |Q| 0.042), fixed 2.6e-8; Keras buggy 5.3e-4, fixed 2.2e-8. After the DQN loop below: buggy max /
    mean |diff| 0.015 / 0.011 (torch), 0.012 / 0.0089 (Keras) on Q-values spanning -0.20..-0.07; fixed < 6e-8.
  module batches, fixed targets (200 Adam steps cycling the 8 batches): torch buggy loss 0.0747 -> 0.0484, fixed
    0.0747 -> 0.0488; Keras buggy 0.0774 -> 0.0481, fixed 0.0774 -> 0.0485. One batch repeated, steps 1 / 50 / 200:
    torch buggy 0.0747 / 0.0487 / 0.0481, fixed 0.0747 / 0.0487 / 0.0483; Keras 0.0774 / 0.0476 / 0.0473 both
    (the loss floors near 0.047 in both: the ~1e-3 price features barely separate the states at lr 1e-4).
  DQN loop on the replay (targets recomputed every step as calc_loss does, tgt_net synced every 1000 steps; torch
    3000 steps, Keras 2000): mean loss of the first / last 200 steps torch buggy 0.0545 / 0.0526, fixed 0.0544 /
    0.0527; Keras buggy 0.0539 / 0.0529, fixed 0.0538 / 0.0529. TD MSE on 512 replay transitions with the Q-values
    read in batches of 32 / one state at a time: torch buggy 0.0515 / 0.0518, fixed 0.0516 / 0.0516. Greedy
    actions identical in batch and alone (the batch offset is shared by a state's three actions), and
    ``calc_values_of_states``'s values_mean unaffected (the offset averages out over a chunk).
  So on this stand-in the fault does NOT show in the loss or the learned policy: what reproduces is the batch
    coupling itself (a state's Q-values move with the batch it is in, by ~10 % of their spread after training).
    The issue's worry (diverse batches undoing the dueling decomposition) is not measured here.
  Time per step (batch 32, one thread, loaded machine): torch ~13 ms, Keras ``train_on_batch`` ~17 ms. Builds:
    first (imports, bars, replay) torch 6.9 s, Keras 11.3 s; later builds 0.04 s / 0.24 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "batch_mixing"
SOURCE = ("github:PacktPublishing/Deep-Reinforcement-Learning-Hands-On issue #6, PR #9 (Chapter08/lib/models.py "
          "SimpleFFDQN.forward 'return val + adv - adv.mean()' @8284151b4bd409292077092be43af3aebca440f4 = "
          "cbc5d0d^; Chapter08/train_model.py, lib/common.py calc_loss, lib/environ.py StocksEnv, lib/data.py; "
          "fix cbc5d0d0c274577682b901bf8b59f5643163cd24 'adv.mean(dim=1, keepdim=True)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

# train_model.py
BATCH_SIZE = 32
BARS_COUNT = 10
GAMMA = 0.99
REPLAY_INITIAL = 10000
REWARD_STEPS = 2
LEARNING_RATE = 0.0001
MAX_EPISODE_STEPS = 1000  # gym.wrappers.TimeLimit(env, max_episode_steps=1000)
# lib/environ.py
DEFAULT_COMMISSION_PERC = 0.1
ACTIONS = ("Skip", "Buy", "Close")
OBS_LEN = 3 * BARS_COUNT + 1 + 1  # [h, l, c] * bars + position_flag + rel_profit, volumes=False
HIDDEN = 512
# port
N_BARS = 20000  # synthetic minute bars (YNDX_160101_161231.csv: 131,542 rows)
N_BATCHES = 8
N_INPUTS = 256  # held-out states (train_model.py evaluates STATES_TO_EVALUATE = 1000)
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _prices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded minute bars in data.prices_to_relative form: open, and high / low / close relative to the open."""
    r = np.random.default_rng(SEED)
    rc = r.normal(0.0, 0.0018, N_BARS) * (r.random(N_BARS) > 0.25)  # a quarter of the bars close at the open
    rh = np.maximum(rc, 0.0) + r.exponential(0.0006, N_BARS)
    rl = np.minimum(rc, 0.0) - r.exponential(0.0006, N_BARS)
    o = np.empty(N_BARS)
    o[0] = 1150.0
    for i in range(1, N_BARS):  # next open near the previous close
        o[i] = o[i - 1] * (1.0 + rc[i - 1]) * (1.0 + r.normal(0.0, 0.0016))
    f = np.float32
    return o.astype(f), rh.astype(f), rl.astype(f), rc.astype(f)


class _State:
    """environ.State(bars_count=10, commission_perc=0.1, reset_on_close=True, reward_on_close=False,
    volumes=False): encode() and step() as in the program."""

    def __init__(self) -> None:
        self.open, self.high, self.low, self.close = _prices()

    def reset(self, offset: int) -> None:
        self.have_position = False
        self.open_price = 0.0
        self._offset = offset

    def encode(self) -> np.ndarray:
        res = np.ndarray(shape=(OBS_LEN,), dtype=np.float32)
        shift = 0
        for bar_idx in range(-BARS_COUNT + 1, 1):
            res[shift] = self.high[self._offset + bar_idx]
            res[shift + 1] = self.low[self._offset + bar_idx]
            res[shift + 2] = self.close[self._offset + bar_idx]
            shift += 3
        res[shift] = float(self.have_position)
        res[shift + 1] = 0.0 if not self.have_position else (self._cur_close() - self.open_price) / self.open_price
        return res

    def _cur_close(self) -> float:
        return float(self.open[self._offset]) * (1.0 + float(self.close[self._offset]))

    def step(self, action: int) -> tuple[float, bool]:
        reward, done = 0.0, False
        close = self._cur_close()
        if ACTIONS[action] == "Buy" and not self.have_position:
            self.have_position = True
            self.open_price = close
            reward -= DEFAULT_COMMISSION_PERC
        elif ACTIONS[action] == "Close" and self.have_position:
            reward -= DEFAULT_COMMISSION_PERC
            done = True  # reset_on_close
            self.have_position = False
            self.open_price = 0.0
        self._offset += 1
        prev_close = close
        close = self._cur_close()
        done |= self._offset >= self.close.shape[0] - 1
        if self.have_position:  # not reward_on_close
            reward += 100.0 * (close - prev_close) / prev_close
        return reward, done


@functools.lru_cache(maxsize=1)
def _replay() -> tuple[np.ndarray, ...]:
    """The first REPLAY_INITIAL transitions of ExperienceSourceFirstLast(env, agent, GAMMA, steps_count=2) under
    EpsilonGreedyActionSelector(epsilon ~ 0.99): (state, action, 2-step discounted reward, done, last_state)."""
    r = np.random.default_rng(SEED + 1)
    st = _State()
    mem: list[tuple[np.ndarray, int, float, bool, np.ndarray]] = []
    held_out: list[np.ndarray] = []
    while len(mem) < REPLAY_INITIAL + N_INPUTS:
        st.reset(int(r.choice(N_BARS - BARS_COUNT * 10)) + BARS_COUNT)  # random_ofs_on_reset
        obs, steps = st.encode(), []
        for t in range(MAX_EPISODE_STEPS):
            a = int(r.integers(0, len(ACTIONS)))
            rew, done = st.step(a)
            nxt = st.encode()
            steps.append((obs, a, rew))
            obs = nxt
            done |= t == MAX_EPISODE_STEPS - 1  # the (old gym) TimeLimit wrapper reports done
            if len(steps) >= REWARD_STEPS and not done:
                s0, a0, _ = steps[-REWARD_STEPS]
                ret = sum(x[2] * GAMMA ** k for k, x in enumerate(steps[-REWARD_STEPS:]))
                mem.append((s0, a0, ret, False, nxt))
            if done:  # the last transitions end the episode: last_state None (unpack_batch puts the state there)
                tail = steps[-REWARD_STEPS:]
                for i in range(len(tail)):
                    ret = sum(x[2] * GAMMA ** k for k, x in enumerate(tail[i:]))
                    mem.append((tail[i][0], tail[i][1], ret, True, tail[i][0]))
                break
    for s, *_ in mem[REPLAY_INITIAL:]:
        held_out.append(s)
    mem = mem[:REPLAY_INITIAL]
    states, actions, rewards, dones, last_states = (np.array([m[i] for m in mem]) for i in range(5))
    return (states.astype("float32"), actions.astype("int64"), rewards.astype("float32"), dones.astype(bool),
            last_states.astype("float32"), np.array(held_out[:N_INPUTS], dtype="float32"))


def _sample_indices() -> list[np.ndarray]:
    r = np.random.RandomState(SEED)
    return [r.choice(REPLAY_INITIAL, BATCH_SIZE, replace=True) for _ in range(N_BATCHES)]  # buffer.sample(32)


def _batches(q_values: Any) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """common.calc_loss's targets with the initial net (tgt_net = TargetNet(net) is its copy); packed with the
    actions as y = [action, expected_state_action_value] (the loss splits them back)."""
    states, actions, rewards, dones, last_states, held_out = _replay()
    out = []
    for ix in _sample_indices():
        next_q = q_values(last_states[ix])  # net(next_states_v) on the batch of 32 (== tgt_net at the start)
        next_state_actions = next_q.argmax(1)
        next_state_values = np.take_along_axis(next_q, next_state_actions[:, None], 1)[:, 0]
        next_state_values[dones[ix]] = 0.0
        expected = next_state_values * GAMMA ** REWARD_STEPS + rewards[ix]
        y = np.stack([actions[ix].astype("float32"), expected.astype("float32")], axis=1)
        out.append((states[ix], y))
    return out, held_out


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class SimpleFFDQN(nn.Module):  # Chapter08/lib/models.py
        def __init__(self, obs_len: int, actions_n: int) -> None:
            super().__init__()
            self.fc_val = nn.Sequential(nn.Linear(obs_len, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                                        nn.Linear(HIDDEN, 1))
            self.fc_adv = nn.Sequential(nn.Linear(obs_len, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                                        nn.Linear(HIDDEN, actions_n))

        def forward(self, x):
            val = self.fc_val(x)
            adv = self.fc_adv(x)
            if fixed:  # fix cbc5d0d
                return val + adv - adv.mean(dim=1, keepdim=True)
            return val + adv - adv.mean()

    torch.manual_seed(SEED)
    net = SimpleFFDQN(OBS_LEN, len(ACTIONS))

    def q_values(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x)).numpy()

    batches, held_out = _batches(q_values)

    def loss_fn(q, y):  # common.calc_loss: gather the taken action, nn.MSELoss() against the expected values
        actions_v, expected_state_action_values = y[:, 0].long(), y[:, 1]
        state_action_values = q.gather(1, actions_v.unsqueeze(-1)).squeeze(-1)
        return nn.MSELoss()(state_action_values, expected_state_action_values)

    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": t(held_out), "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=LEARNING_RATE)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    class Dueling(layers.Layer):
        def call(self, val, adv):
            if fixed:  # fix cbc5d0d
                return val + adv - ops.mean(adv, axis=1, keepdims=True)
            return val + adv - ops.mean(adv)

    inp = keras.Input((OBS_LEN,))
    fc_val = keras.Sequential([linear(OBS_LEN, HIDDEN, "relu"), linear(HIDDEN, HIDDEN, "relu"), linear(HIDDEN, 1)],
                              name="fc_val")
    fc_adv = keras.Sequential([linear(OBS_LEN, HIDDEN, "relu"), linear(HIDDEN, HIDDEN, "relu"),
                               linear(HIDDEN, len(ACTIONS))], name="fc_adv")
    model = keras.Model(inp, Dueling()(fc_val(inp), fc_adv(inp)), name="SimpleFFDQN")

    def calc_loss(y, q):
        actions_v, expected_state_action_values = ops.cast(y[:, 0], "int32"), y[:, 1]
        state_action_values = ops.take_along_axis(q, ops.expand_dims(actions_v, -1), axis=1)[:, 0]
        return ops.mean(ops.square(state_action_values - expected_state_action_values))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss=calc_loss)
    batches, held_out = _batches(lambda x: np.asarray(model(x)))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": held_out}


buggy, fixed = versions(_torch, _keras)
