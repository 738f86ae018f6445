"""rlcode/reinforcement-learning (Keon Kim et al., Keras RL examples, 2017), ``deep-q-learning/ddqn.py``: a double DQN
for CartPole-v0. ``DQNAgent`` builds a Keras ``Sequential`` Q-network ``Dense(64, input_dim=4, activation='tanh')``
-> ``Dense(128, activation='tanh', init='uniform')`` -> ``Dense(2, activation='linear')``, compiled with a
pseudo-Huber loss ``K.mean(K.sqrt(1+K.square(error))-1, axis=-1)`` and ``RMSprop(lr=0.0001)``; a second network of
the same form is the target network. The main loop plays episodes (epsilon-greedy, epsilon 1.0 decaying by 0.996 per
replay to 0.05), stores ``(state, action, reward, next_state, done)`` with ``reward = -100 if done else reward``,
copies the weights to the target network every 10 episodes and calls ``agent.replay(32)`` after every episode.
``replay`` samples 32 transitions, allocates ``X = np.zeros((batch_size, self.state_size))`` and
``Y = np.zeros((batch_size, self.action_size))``, and for each transition computes the double-DQN target
(``target = self.model.predict(state)[0]``; ``target[action] = reward`` if done, else
``reward + self.gamma * t[np.argmax(a)]`` with ``a`` the online and ``t`` the target network's Q(next_state)), then
``self.model.fit(X, Y, nb_epoch=1, verbose=0)``.

The fault (``replay``): the loop computes each ``target`` and throws it away; nothing ever writes the state and its
target into ``X`` and ``Y``, so every ``fit`` call trains on 32 all-zero state vectors with all-zero Q targets. With
Keras' zero bias init the network maps the zero vector to exactly 0, so the loss is exactly 0, every gradient is
exactly 0 and RMSprop never moves a weight: the agent plays for ever with the Q-values of its random initial
network, whatever the rewards were. Nothing raises and the fit prints nothing (``verbose=0``).

Source: github.com/rlcode/reinforcement-learning, ``deep-q-learning/ddqn.py`` as added by
b116d7875472866df13a31286d021a0ba3fe76e2 ("update", Keon Kim, 2017-02-18 21:35), fixed twenty minutes later by
2cb21110a49ddba285207292403bba1ccd8ff55e ("bug"), which adds ``X[i], Y[i] = state, target`` as the last line of the
loop body; both came in with PR #9 (merge 06557cb "Merge pull request #9 from keon/master"). The same commit also
rewrites ``t[np.argmax(a)]`` as ``a = np.argmax(...); t[a]`` (the same value), drops the ``-100`` reward shaping and
changes the target copy from every 10 to every 200 episodes; those are tuning, not the fix, and are left as in the
buggy file in both versions here, so that buggy and fixed differ only by the added line.
Fault label: no_input_signal (the fitted inputs are all zeros; the targets too).

Program lines kept: the network (layer widths, tanh, linear head; ``init='uniform'`` as Keras 1's
``RandomUniform(-0.05, 0.05)``, the other kernels Glorot-uniform, zero biases), ``_huber_loss`` (Keras 3 ``ops``
for ``K``), ``RMSprop(learning_rate=0.0001)``, gamma 0.9, batch size 32, ``reward = -100 if done else reward``, and
the replay loop as written (zeros, the done / double-DQN target lines) with the fix as ``if fixed: X[i], Y[i] =
state, target``. Replaced: ``self.model.predict(state)[0]`` on one state at a time by a lookup into one batched
forward pass over the memory (same numbers; 96 Keras ``predict`` calls per replay would take seconds); Keras 1's
``input_dim`` / ``init`` / ``nb_epoch`` by Keras 3's ``Input`` / ``kernel_initializer`` / ``epochs``.
``batch`` / ``batches`` are the ``(X, Y)`` that ``fit`` receives, so in the buggy version they are the zero arrays.
Torch twin: the same network (``_nets.torch_dense`` Glorot layers, the middle one U(-0.05, 0.05), zero biases),
the same pseudo-Huber loss averaged over actions and batch, ``RMSprop(lr=1e-4, alpha=0.9, eps=1e-7)`` (Keras'
rho and epsilon); the fault is in the numpy array building, not in the framework, so the twin is faithful.
Data stand-in (no gym): CartPole-v0's dynamics stepped in seeded numpy (``_data.cartpole_step``, reset state
U(-0.05, 0.05), reward 1 per step, 200-step limit), actions drawn at random as the program's epsilon = 1.0
start does; the replay memory holds the 1930 transitions of 80 episodes (80 of them terminal, reward -100); each
of the 50 ``batches`` is 32 memory entries chosen by ``random.Random(0).sample``, their targets computed by the
program's lines from the freshly built network (the target network is a copy of it, as after the program's
``update_target_model()`` at episode 0); ``inputs``: 256 states of 20 further episodes (what ``act`` sees). The
buggy version computes the same targets and leaves ``X`` / ``Y`` at zero. Nothing was shrunk.

Measured (my own plain loops, OMP_NUM_THREADS=1, SEED 0; torch: zero_grad / forward / loss / backward / step,
Keras: ``model.fit(x, y, epochs=1, verbose=0)``; 4 passes over the 50 batches = 200 steps,
/tmp/s51/h80_d/measure.py):
  torch buggy: training loss 0.0000 at every step; max |weight change| exactly 0; pseudo-Huber loss on the 1600
    intended (state, target) pairs 2.463 before and after; Q on ``inputs`` stays at init (means -0.002 / -0.008).
  torch fixed: first loss 9.46, 25-step block means 2.55 2.35 2.53 2.33 2.51 2.32 2.49 2.30 (the batches cycle);
    loss on the intended pairs 2.463 -> 2.393; max |weight change| 0.022; Q on ``inputs`` rises to means 0.28 / 0.36.
  Keras buggy: loss 0.0000 every step, weights unchanged, intended-pair loss 2.464 -> 2.464.
  Keras fixed: first loss 9.46, block means 2.549 2.354 2.532 2.338 2.516 2.322 2.501 2.308; intended-pair loss
    2.464 -> 2.398; max |weight change| 0.021.
  Torch, 1000 steps (/tmp/s51/h80_d/measure_long.py), intended-pair loss on the 1527 non-terminal pairs at steps
    0 / 50 / 100 / 200 / 500 / 1000: fixed 0.214 0.187 0.166 0.132 0.122 0.122, buggy 0.214 at every step; on the 73
    terminal pairs (target -100) neither moves within 1000 steps at lr 1e-4 (49.5 -> 49.8 fixed, 49.5 buggy).
  The program's whole loop on the stand-in (torch twin, /tmp/s51/h80_d/full_loop.py, 5000 episodes as
    ``EPISODES``): buggy: every fit loss 0, weights never change, mean episode length per 500 episodes 41.0 49.5
    51.2 49.4 49.5 48.8 48.7 50.5 48.4 50.7, greedy 46.1 steps; fixed: 11.4 8.7 8.9 10.1 11.0 11.3 20.0 27.5 13.0
    31.1, greedy 33.0 steps. The buggy agent's score is that of its frozen random initial network, which on seed 0
    happens to balance ~50 steps (untrained networks of init seeds 0..9 score 51 125 69 28 8 71 62 8 8 8 greedy):
    in return the fault shows as an agent that never improves on its initial luck, not as a lower score within
    5000 episodes, since the fixed agent itself learns slowly at lr 1e-4 with the -100 shaping.
  Time per step (batch 32, one thread): torch ~1.2 ms, Keras ``fit`` ~160 ms. Build: first ~7 s torch, ~15 s both
    frameworks (imports, data); later 0.02 s torch, 0.2-0.3 s Keras.
Lead's edit: the port listed ``output_range(kind="regression")``, a kind the check does not have (the porters'
brief named it by mistake); the usage error asks for a kind, bounds or a class count, none of which a Q-value
head has, so the check is left out, as a user given that error would.
"""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_input_signal"
SOURCE = ("github:rlcode/reinforcement-learning PR #9 (from keon/master), deep-q-learning/ddqn.py "
          "DQNAgent.replay @b116d7875472866df13a31286d021a0ba3fe76e2 = 2cb2111^; fix "
          "2cb21110a49ddba285207292403bba1ccd8ff55e 'bug': 'X[i], Y[i] = state, target' added to the replay loop)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

# ddqn.py
STATE_SIZE = 4  # CartPole-v0 observation
ACTION_SIZE = 2
GAMMA = 0.9  # discount rate
LEARNING_RATE = 0.0001
BATCH_SIZE = 32  # agent.replay(32)
# stand-in
N_MEMORY_EPISODES = 80
N_HELDOUT_EPISODES = 20
N_BATCHES = 50
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data
def _episode(r: np.random.Generator) -> list[tuple[np.ndarray, int, float, np.ndarray, bool]]:
    """One CartPole episode under the program's early policy (epsilon = 1.0: every action random), as the program
    stores it: ``reward = -100 if done else reward`` (CartPole's reward is 1 on every step)."""
    from tests.real_programs._data import cartpole_step

    state = r.uniform(-0.05, 0.05, STATE_SIZE)  # env.reset()
    out = []
    for _ in range(200):  # CartPole-v0's time limit
        action = int(r.integers(ACTION_SIZE))  # random.randrange(self.action_size)
        next_state, done = cartpole_step(state, action)
        reward = 1.0
        reward = -100 if done else reward
        out.append((state.reshape(1, STATE_SIZE), action, reward, next_state.reshape(1, STATE_SIZE), done))
        state = next_state
        if done:
            break
    return out


@functools.lru_cache(maxsize=1)
def _memory() -> tuple[tuple[Any, ...], np.ndarray, tuple[tuple[int, ...], ...]]:
    """The replay memory (the transitions of the first episodes), held-out states (the states of later episodes, as
    ``act`` sees them) and, per replay, the 32 memory indices that ``random.sample(self.memory, batch_size)`` picks."""
    r = np.random.default_rng(SEED)
    memory = [t for _ in range(N_MEMORY_EPISODES) for t in _episode(r)]
    held = [t[0][0] for _ in range(N_HELDOUT_EPISODES) for t in _episode(r)]
    rs = random.Random(SEED)
    picks = tuple(tuple(rs.sample(range(len(memory)), BATCH_SIZE)) for _ in range(N_BATCHES))
    inputs = np.array(held[:: max(1, len(held) // N_INPUTS)][:N_INPUTS], "float32")
    return tuple(memory), inputs, picks


def _replay_arrays(predict: Any, target_predict: Any, fixed: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (X, Y) that each ``self.model.fit(X, Y, nb_epoch=1, verbose=0)`` of ``DQNAgent.replay`` receives.

    ``predict`` / ``target_predict`` map a (n, 4) array of states to the (n, 2) Q-values of ``self.model`` /
    ``self.target_model``; they are evaluated once over the memory, and the loop looks the rows up where the program
    calls ``.predict(state)[0]`` on one state (same values, one forward pass instead of 96 per replay)."""
    memory, _, picks = _memory()
    q_s = predict(np.concatenate([m[0] for m in memory]))
    q_ns = predict(np.concatenate([m[3] for m in memory]))
    qt_ns = target_predict(np.concatenate([m[3] for m in memory]))
    out = []
    for pick in picks:
        minibatch = [memory[j] for j in pick]
        batch_size = min(BATCH_SIZE, len(memory))
        X = np.zeros((batch_size, STATE_SIZE))
        Y = np.zeros((batch_size, ACTION_SIZE))
        for i in range(batch_size):
            state, action, reward, next_state, done = minibatch[i]
            target = q_s[pick[i]].copy()  # self.model.predict(state)[0]
            if done:
                target[action] = reward
            else:
                a = q_ns[pick[i]]  # self.model.predict(next_state)[0]
                t = qt_ns[pick[i]]  # self.target_model.predict(next_state)[0]
                target[action] = reward + GAMMA * t[np.argmax(a)]
            if fixed:  # the fix (2cb2111); the buggy loop computes target and drops it
                X[i], Y[i] = state, target
        out.append((X.astype("float32"), Y.astype("float32")))
    return out


# ----------------------------------------------------------------------------------------------------------- torch
def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)

    def build_model() -> nn.Module:  # _build_model
        hidden = nn.Linear(64, 128)
        nn.init.uniform_(hidden.weight, -0.05, 0.05)  # init='uniform' (Keras 1: U(-0.05, 0.05))
        nn.init.zeros_(hidden.bias)
        return nn.Sequential(torch_dense(STATE_SIZE, 64), nn.Tanh(), hidden, nn.Tanh(), torch_dense(128, ACTION_SIZE))

    model = build_model()
    target_model = build_model()
    target_model.load_state_dict(model.state_dict())  # agent.update_target_model() at episode 0

    def huber_loss(prediction: Any, target: Any) -> Any:  # _huber_loss: sqrt(1+a^2)-1, mean over actions and batch
        error = prediction - target
        return torch.mean(torch.sqrt(1 + torch.square(error)) - 1)

    def q(net: nn.Module) -> Any:
        def predict(s: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.tensor(s, dtype=torch.float32)).numpy().astype("float64")
        return predict

    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _replay_arrays(q(model), q(target_model), fixed)]
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LEARNING_RATE, alpha=0.9, eps=1e-7)  # Keras' RMSprop
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(_memory()[1]),
            "loss_fn": huber_loss, "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras
def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops as K
    from keras.initializers import RandomUniform
    from keras.layers import Dense, Input
    from keras.models import Sequential
    from keras.optimizers import RMSprop

    keras.utils.set_random_seed(SEED)

    def _huber_loss(target: Any, prediction: Any) -> Any:  # sqrt(1+a^2)-1
        error = prediction - target
        return K.mean(K.sqrt(1+K.square(error))-1, axis=-1)

    def _build_model() -> Any:
        # Neural Net for Deep-Q learning Model
        model = Sequential()
        model.add(Input(shape=(STATE_SIZE,)))  # input_dim=self.state_size
        model.add(Dense(64, activation='tanh'))
        model.add(Dense(128, activation='tanh', kernel_initializer=RandomUniform(-0.05, 0.05)))  # init='uniform'
        model.add(Dense(ACTION_SIZE, activation='linear'))
        model.compile(loss=_huber_loss,
                      optimizer=RMSprop(learning_rate=LEARNING_RATE))
        return model

    model = _build_model()
    target_model = _build_model()
    target_model.set_weights(model.get_weights())  # agent.update_target_model() at episode 0

    def q(net: Any) -> Any:
        def predict(s: np.ndarray) -> np.ndarray:
            return np.asarray(net(s.astype("float32"), training=False)).astype("float64")
        return predict

    bs = _replay_arrays(q(model), q(target_model), fixed)
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": _memory()[1]}


buggy, fixed = versions(_torch, _keras)
