"""TensorFlow 2 Reinforcement Learning Cookbook (Packt, Praveen Palanisamy), chapter 3 DDPG agent training script
(``# Deep Deterministic Policy Gradients (DDPG) agent training script``), ``Chapter03/7_ddpg.py``: DDPG on ``Pendulum-v0``. Actor
``Sequential([Input((3,)), Dense(32, relu), Dense(32, relu), Dense(1, tanh), Lambda(x * action_bound)])`` (bound 2),
critic ``Model([state_input, action_input], output)`` with ``s1 = Dense(64, relu)(state_input)``, ``s2 = Dense(32,
relu)(s1)``, ``a1 = Dense(32, relu)(action_input)``, ``c1 = concatenate([s2, a1])``, ``c2 = Dense(16, relu)(c1)``,
``output = Dense(1, activation="linear")(c2)``; target actor and target critic start as copies (``set_weights``)
and follow with soft updates (tau 0.05). ``--critic_lr 0.001`` (``Adam``), ``--actor_lr 0.0005``, ``--batch_size
64``, ``--gamma 0.99``, ``--train_start 2000``, ``ReplayBuffer(capacity=10000)`` sampled with ``random.sample``;
the buffer stores ``(reward + 8) / 8``; OU exploration noise (rho 0.15, dt 0.1, sigma 0.2). After every episode
``replay_experience`` runs 10 updates: ``target_q_values = self.target_critic.predict([next_states,
self.target_actor.predict(next_states)])``, ``td_targets = self.get_td_target(rewards, target_q_values, dones)``,
``self.critic.train(states, actions, td_targets)`` (``MeanSquaredError()(td_targets, v_pred)`` under a
``GradientTape``, ``tf.stop_gradient(td_targets)``), then the actor step along ``dQ/da`` and ``update_target()``.

The fault (training data of the critic: the TD target): ``get_td_target`` leaves the reward out of every
non-terminal target:
    buggy (Chapter03/7_ddpg.py@f7b9cc7^):
        ``if dones[i]: targets[i] = rewards[i]``  /  ``else: targets[i] = args.gamma * q_values[i]``
    fixed (f7b9cc7):
        ``else: targets[i] = rewards[i] + args.gamma * q_values[i]``
Pendulum only ends through the 200-step time limit, so 1 transition in 200 carries its reward into the critic's
regression; the other 199 ask the critic to predict 0.99 times the target critic's own value of the next state. The
Bellman backup then has the fixed point Q ~ 0 (up to the rare terminal rewards), the critic never learns which
states and torques are good, and the actor, which climbs ``dQ/da``, follows noise.

Source: github.com/PacktPublishing/Tensorflow-2-Reinforcement-Learning-Cookbook, issue #34 "Is rewards missing in TD
target?" (QuantHao: "_targets[i]_ should be _rewards[i]+args.gamma*q_values[i]_"; the author: "Yes, that sounds right
for the TD target. The ``reward[i]`` is missing and is a bug."), buggy ``Chapter03/7_ddpg.py`` at f7b9cc7^ (=
52384cd8e65b9c1ca6cc1fc6e919d54bc95ac199; the file as of 4bc143d, and the same lines since the first commit
ca552ba), fix commit
f7b9cc7f8d61322e0fa43c6294afa3733e85af46 "Add the missig reward to TD target calc", PR #35 (merge
cfe0334c82be1758fefedd56971e37e7335747c5).
Fault label: other:td_target_missing_reward (the regression targets the critic is trained on have lost the reward
term; the loss, shapes, outputs and gradients are all healthy, and the targets are finite and learnable, they just
carry no reward information; none of the listed ids names that).

Program lines kept: the critic (layers, widths, relu, linear output, Keras default glorot-uniform kernels / zero
biases), ``MeanSquaredError`` between ``td_targets`` (shape (64, 1), as the program's ``assert v_pred.shape ==
td_targets.shape``) and the critic's output, ``Adam(0.001)``, batch 64, ``get_td_target`` verbatim (buggy and fixed),
the target computation from the target actor / target critic, gamma 0.99, the ``(reward + 8) / 8`` reward scaling.
Ported: what the fault changes is the critic's update, so the model here is the critic and each batch is one
``replay_experience`` critic step: ``x = concatenate([states, actions])`` of shape (64, 4) (the model splits it back
into its state input ``x[:, :3]`` and its action input ``x[:, 3:]``; one input instead of the program's two) and
``y = td_targets`` (64, 1) computed by the program's lines with the target networks as they are at the first
``replay_experience`` (copies of the freshly initialised actor and critic, so the target critic is the model itself
before training). The actor is not trained in the port; the target actor (= behaviour actor at init) is a numpy MLP
with the actor's layers and glorot-uniform weights (seeded), shared by both frameworks. Keras 3: the program's
``critic.train`` (tape + ``apply_gradients`` of the MSE) is ``compile(loss=MeanSquaredError(), optimizer=Adam(0.001))``
with ``train_on_batch``; float32 instead of the program's ``set_floatx("float64")``. Torch twin: the same critic from
``nn.Linear`` layers initialised like Keras' (``torch_dense``), ``F.mse_loss``, ``torch.optim.Adam(lr=1e-3, eps=1e-7)``.
Left out: gym, the actor update, target soft updates, TensorBoard logging.
Data stand-in (gym is not used): the replay buffer at ``train_start`` = 10 episodes x 200 steps of gym's
``Pendulum-v0`` equations in numpy (g 10, m 1, l 1, dt 0.05, max speed 8, max torque 2; reward -(angle^2 + 0.1
thdot^2 + 0.001 u^2); observation (cos th, sin th, thdot); start th ~ U(-pi, pi), thdot ~ U(-1, 1); ``done`` only at
the 200th step (TimeLimit)), actions = the initial actor's output plus the program's OU noise, clipped to [-2, 2];
rewards stored as (r + 8) / 8 (values -1.03..1.0). 8 batches of 64 drawn with ``random.sample`` (seeded).

Symptom, measured (my own loops, /tmp/h51a/measure.py, seed 0, OMP_NUM_THREADS=1; torch ``opt.zero_grad();
loss_fn(model(x), y).backward(); opt.step()``, Keras ``train_on_batch``; "held" = the 1,552 buffer transitions in
none of the 8 batches; G = the Monte Carlo discounted return of the stored rewards to the episode's end, mean 6.47,
std 7.78; the stored reward r has std 0.33):
  (a) the module's batches (targets as the first ``replay_experience`` computes them), 300 steps cycling over the 8:
      torch buggy loss 0.0077 (step 1), 0.00018 (50), 0.00003 (300); held corr(Q, r) -0.39;
            fixed loss 0.139, 0.0068, 0.00036; held corr(Q, r) 0.81.
      keras buggy loss 0.0040, 0.00021, 0.00002; held corr(Q, r) 0.13;
            fixed loss 0.142, 0.018, 0.00051; held corr(Q, r) 0.95.
      The buggy targets are 0.99 x the initial critic's own value of the next state, which the critic already
      nearly outputs: its loss starts 20-35x below the fixed one and falls to ~0 (it fits, and overfits, perfectly
      well); what it learns is its own random initial function, not the reward.
  (b) the program's critic updates over the whole buffer (targets recomputed every step from the target actor and
      a soft-updated target critic, tau 0.05; actor held at its initial weights, i.e. evaluating the behaviour
      policy), 1,000 steps: torch buggy Q over the buffer mean 0.14, std 0.06 (returns: mean 6.5, std 7.8); fixed Q
      mean 4.24, std 4.42, held corr(Q, G) 0.95. Keras buggy Q mean 0.012, std 0.034, held corr(Q, G) 0.22; fixed
      Q mean 3.94, std 4.51, corr 0.95. (torch, 2,000 steps: buggy Q mean 0.09, std 0.03; fixed 5.86, 6.45.) The
      buggy critic's values shrink toward 0 at every backup instead of growing toward the returns; its loss stays
      ~1e-4 throughout (fixed: rises to 0.01-0.06 as the bootstrapped values grow, as a TD loss does).
  (c) the whole program (torch twin, /tmp/h51a/ddpg_full.py, actor and critic trained, 10 updates per episode
      after 2,000 transitions as the program does): in 600 episodes (5,900 updates, ~80 s) neither version learns
      the swing-up (mean return of the last 50 episodes: fixed -1,509, buggy -1,314; of the first 50, mostly
      before training starts: -1,462 / -1,485), so the episode return does not tell the two apart within a short
      run; longer runs (``Agent.train``'s default is ``max_episodes=1000``; ``__main__`` passes 2 since 4bc143d) were not made.
  One step takes ~1.2-1.6 ms (torch) and ~2.8 ms (Keras ``train_on_batch``) on one CPU thread.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

LABEL = "other:td_target_missing_reward"
SOURCE = ("github:PacktPublishing/Tensorflow-2-Reinforcement-Learning-Cookbook issue #34, PR #35 (Chapter03/7_ddpg.py "
          "Agent.get_td_target 'targets[i] = args.gamma * q_values[i]' @f7b9cc7^ = 52384cd8e65b9c1ca6cc1fc6e919d54bc95ac199; "
          "fix f7b9cc7f8d61322e0fa43c6294afa3733e85af46 'Add the missig reward to TD target calc', merge cfe0334)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

state_dim, action_dim, action_bound = 3, 1, 2.0  # Pendulum-v0
critic_lr = 0.001  # --critic_lr
batch_size = 64  # --batch_size
gamma = 0.99  # --gamma
train_start = 2000  # --train_start
n_batches = 8
SEED = 0


def pendulum_step(th: float, thdot: float, u: float) -> tuple[float, float, float]:
    """gym Pendulum-v0 step: next (th, thdot) and the reward."""
    g, m, l, dt, max_speed, max_torque = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0
    u = float(np.clip(u, -max_torque, max_torque))
    ang = ((th + np.pi) % (2 * np.pi)) - np.pi  # angle_normalize
    costs = ang ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
    newthdot = thdot + (-3 * g / (2 * l) * np.sin(th + np.pi) + 3.0 / (m * l ** 2) * u) * dt
    newth = th + newthdot * dt
    newthdot = float(np.clip(newthdot, -max_speed, max_speed))
    return newth, newthdot, -costs


def init_actor(seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """The actor's Dense layers (3-32-32-1) with Keras' glorot-uniform kernels and zero biases."""
    rng = np.random.default_rng(seed + 1)
    layers = []
    for n_in, n_out in [(state_dim, 32), (32, 32), (32, action_dim)]:
        lim = np.sqrt(6.0 / (n_in + n_out))
        layers.append((rng.uniform(-lim, lim, (n_in, n_out)), np.zeros(n_out)))
    return layers


def actor_predict(layers: list[tuple[np.ndarray, np.ndarray]], s: np.ndarray) -> np.ndarray:
    """Actor.nn_model: relu, relu, tanh, Lambda(x * action_bound)."""
    h = s
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        h = np.maximum(h, 0.0) if i < 2 else np.tanh(h)
    return h * action_bound


def replay_buffer(n_episodes: int = train_start // 200, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """(states, actions, rewards, next_states, dones) of the episodes before train_start, rewards as stored."""
    rng = np.random.default_rng(seed)
    actor = init_actor(seed)
    buf = []
    for _ in range(n_episodes):
        th, thdot = rng.uniform(-np.pi, np.pi), rng.uniform(-1.0, 1.0)
        bg_noise = np.zeros(action_dim)
        for t in range(200):
            state = np.array([np.cos(th), np.sin(th), thdot])
            action = actor_predict(actor, state[None])[0]
            noise = bg_noise + 0.15 * (0 - bg_noise) * 0.1 + 0.2 * np.sqrt(0.1) * rng.normal(size=action_dim)
            action = np.clip(action + noise, -action_bound, action_bound)
            th, thdot, reward = pendulum_step(th, thdot, action[0])
            next_state = np.array([np.cos(th), np.sin(th), thdot])
            done = t == 199  # TimeLimit(200)
            buf.append((state, action, (reward + 8) / 8, next_state, done))  # self.buffer.store(..., (reward + 8) / 8, ...)
            bg_noise = noise
    return tuple(np.array([e[i] for e in buf], dtype="float32") for i in range(5))


def sample_indices(n: int, seed: int = SEED) -> list[list[int]]:
    r = random.Random(seed)
    return [r.sample(range(n), batch_size) for _ in range(n_batches)]  # random.sample(self.buffer, batch_size)


def get_td_target(rewards, q_values, dones, with_reward: bool):
    targets = np.asarray(q_values).copy()
    for i in range(q_values.shape[0]):
        if dones[i]:
            targets[i] = rewards[i]
        else:
            if with_reward:  # fix f7b9cc7
                targets[i] = rewards[i] + gamma * q_values[i]
            else:  # the program before f7b9cc7
                targets[i] = gamma * q_values[i]
    return targets


def _torch_critic():
    import torch
    from torch import nn

    from tests.real_programs._nets import torch_dense

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.s1 = torch_dense(state_dim, 64)
            self.s2 = torch_dense(64, 32)
            self.a1 = torch_dense(action_dim, 32)
            self.c2 = torch_dense(64, 16)
            self.out = torch_dense(16, 1)

        def forward(self, x):
            state_input, action_input = x[:, :state_dim], x[:, state_dim:]
            s2 = torch.relu(self.s2(torch.relu(self.s1(state_input))))
            a1 = torch.relu(self.a1(action_input))
            c1 = torch.cat([s2, a1], dim=-1)
            return self.out(torch.relu(self.c2(c1)))

    return Critic()


def _keras_critic():
    import keras
    from keras.layers import Dense, Input, concatenate

    inp = Input((state_dim + action_dim,))
    state_input, action_input = inp[:, :state_dim], inp[:, state_dim:]
    s1 = Dense(64, activation="relu")(state_input)
    s2 = Dense(32, activation="relu")(s1)
    a1 = Dense(32, activation="relu")(action_input)
    c1 = concatenate([s2, a1], axis=-1)
    c2 = Dense(16, activation="relu")(c1)
    output = Dense(1, activation="linear")(c2)
    model = keras.Model(inp, output)
    model.compile(loss=keras.losses.MeanSquaredError(), optimizer=keras.optimizers.Adam(critic_lr))
    return model


def _build(framework: str, with_reward: bool) -> dict[str, Any]:
    states, actions, rewards, next_states, dones = replay_buffer()
    idx = sample_indices(len(states))
    target_actor = init_actor()  # target_actor.set_weights(actor.get_weights()) at init

    if framework == "torch":
        import torch

        torch.manual_seed(SEED)
        model = _torch_critic()

        def predict(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.tensor(x)).numpy()
    else:
        import keras

        keras.utils.set_random_seed(SEED)
        model = _keras_critic()

        def predict(x: np.ndarray) -> np.ndarray:
            return np.asarray(model(x))

    batches = []
    for ix in idx:  # replay_experience, first call: target networks = the initial networks
        a_next = actor_predict(target_actor, next_states[ix]).astype("float32")
        target_q_values = predict(np.concatenate([next_states[ix], a_next], axis=1))  # (64, 1)
        td_targets = get_td_target(rewards[ix], target_q_values, dones[ix], with_reward).astype("float32")
        batches.append((np.concatenate([states[ix], actions[ix]], axis=1).astype("float32"), td_targets))
    inputs = np.concatenate([states, actions], axis=1)[:512].astype("float32")

    if framework == "torch":
        import torch
        import torch.nn.functional as F

        tb = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]

        def loss_fn(v_pred, td_targets):  # Critic.compute_loss: MeanSquaredError()(td_targets, v_pred)
            return F.mse_loss(v_pred, td_targets)

        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(inputs), "loss_fn": loss_fn,
                "optimizer": lambda p: torch.optim.Adam(p, lr=critic_lr, eps=1e-7)}
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, with_reward=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, with_reward=True)
