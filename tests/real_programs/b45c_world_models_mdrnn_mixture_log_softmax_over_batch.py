"""ctallec/world-models (Corentin Tallec, Léonard Blier, Diviyan Kalainathan: a PyTorch reimplementation of Ha &
Schmidhuber's "World Models" on CarRacing): the M model, ``MDRNN`` (``models/mdrnn.py``), a mixture-density
recurrent forecaster trained by ``trainmdrnn.py``. Each rollout frame is encoded by the trained VAE into a
32-d latent (``LSIZE``; ``to_latent`` samples ``mu + exp(logsigma) * eps``); the MDRNN reads the time-major
sequence of (action, latent) pairs with ``nn.LSTM(LSIZE + ASIZE, RSIZE=256)`` and ``gmm_linear =
nn.Linear(256, (2 * LSIZE + 1) * 5 + 2)`` predicts, for every step, a 5-component diagonal Gaussian mixture over
the NEXT latent (``mus``, ``sigmas = exp(.)``, mixture weights ``logpi``), the reward ``rs`` and a terminal logit
``ds``. ``get_loss``: ``(gmm_loss(latent_next_obs, mus, sigmas, logpi) + BCE-with-logits(ds, terminal) +
MSE(rs, reward)) / (LSIZE + 2)``; ``BSIZE = 16``, ``SEQ_LEN = 32``, ``RMSprop(lr=1e-3, alpha=.9)``.

The fault (``MDRNN.forward``, time-major tensors of shape (SEQ_LEN, BSIZE, ...))::

    pi = gmm_outs[:, :, 2 * stride: 2 * stride + self.gaussians]
    pi = pi.view(seq_len, bs, self.gaussians)
    logpi = f.log_softmax(pi, dim=-2)

Dim -2 of (seq_len, bs, gaussians) is the BATCH axis: every component's weight is normalised across the 16
sequences of the batch instead of across the 5 components of one prediction. A sample's mixture weights do not
sum to 1 (on average they sum to gaussians / bs = 5/16), each sample's predicted density depends on which other
sequences share its batch, and a batch of one gives ``logpi = 0`` for every component (a "mixture" of total
weight 5). The GMM log-likelihood that training maximises is therefore not a normalised density and its gradient
on the mixing logits is shared across the batch. Reported in issue #10 ("Wrong dimension for pi softmax": "Here
the softmax is done over the batch dimension of pi. Shouldn't the softmax be done over the gaussians dimension
(ie. dim=-1 instead of dim=-2)?"; ctallec: "You are right ! I'm fixing this"), fixed by 5d4261e "[FIX] Fixing
log_softmax axis (Issue #10)"::

    logpi = f.log_softmax(pi, dim=-1)

(the same line in the one-step ``MDRNNCell``, used by the controller rollouts, was fixed later in d349a58).

Source: github.com/ctallec/world-models issue #10, ``models/mdrnn.py`` (``MDRNN``, ``gmm_loss``) and
``trainmdrnn.py`` (``get_loss``, ``data_pass``, constants, optimizer) at 5d4261e^ (=
11c34963253c1dec73a4216ade7fefbe943fb547), ``utils/misc.py`` (``ASIZE, LSIZE, RSIZE = 3, 32, 256``,
``sample_continuous_policy``), ``data/loaders.py`` (``RolloutSequenceDataset._get_data``), ``data/carracing.py``
(brown-noise policy, dt = 1/50); fix 5d4261e5406fb4724e3617ab4d94bde909374a26.

Program lines kept: ``gmm_loss`` as it was (logsumexp by hand, ``max_log_probs.squeeze()``), ``MDRNN`` (LSTM
35 -> 256, ``gmm_linear`` 256 -> 327, the slicing / ``view`` / ``exp`` of the heads and the buggy / fixed
``log_softmax``), ``get_loss`` (transposing the batch-first data to time-major, the three losses and the
``/ (LSIZE + 2)``), ``BSIZE = 16``, ``SEQ_LEN = 32``, five Gaussians, ``RMSprop(lr=1e-3, alpha=.9)`` and the
loop body ``zero_grad(); loss.backward(); step()``. No size was shrunk (see the step times below).
Ported: the checks take one input and one target tensor, so ``MDRNNTrain`` takes the batch-first
``x = concat(action, latent_obs)`` (B, 32, 3 + 32), transposes it to time-major as ``get_loss`` did, calls the
program's ``MDRNN`` and returns its five heads flattened and concatenated on the last axis, batch-first
(B, 32, 5*32 + 5*32 + 5 + 1 + 1 = 327: mus, sigmas, logpi, rs, ds); ``loss_fn`` splits them again and computes
``get_loss`` with ``y = concat(latent_next_obs, reward, terminal)`` (B, 32, 34); all the loss terms are means
over (time, batch), so the layout does not change the value. The VAE is not part of the program under test
(trained before and used under ``no_grad``); the stand-in below produces its sampled latents directly.
Keras twin: the same network as a Keras 3 functional model (``LSTM(256, return_sequences=True)`` ->
``Dense(327)`` -> a layer that slices the heads, ``exp``s the sigmas and takes ``log_softmax`` of the mixing
logits after the same time-major transpose, ``axis=-2`` = batch in the buggy version, ``axis=-1`` fixed), the
same loss as a Keras loss (per-sequence means; Keras' batch mean makes it the program's (time, batch) mean), and
``RMSprop(learning_rate=1e-3, rho=0.9, epsilon=1e-8)`` (torch's alpha and eps values). Keras' default
initialisers instead of torch's.

Data stand-in (CarRacing rollouts encoded by the trained VAE are not available offline):
``sample_continuous_policy`` as in the program (brownian actions, dt = 1/50, clipped to steer [-1, 1], gas [0, 1],
brake [0, 1]) drives a small seeded car-on-track simulator (speed, heading, lateral offset, progress along a
winding track; a new track tile gives reward +1000/300 - 0.1, otherwise -0.1, CarRacing's scheme; the rollout ends
after 200 steps with terminal = 1; with the brownian policy the car is often off the track, so about 1.4% of the
steps earn a tile, and 5 of the 4,096 training steps are terminal); each frame's 32 "VAE latents" are ``mu + sigma
* eps`` with ``mu = 1.2 * tanh(W f(state) + c)`` for 24 informative dimensions (sigma 0.15) and mu = 0, sigma = 1
for 8 collapsed ones, as a trained VAE's posterior gives (per-dimension std 0.55..1.0, extremes about +-4.5). The
next latent follows from the current latent and the action up to the sampling noise, so a correct MDRNN has real
signal to learn. Windows of SEQ_LEN + 1 frames as ``RolloutSequenceDataset`` cuts them (obs = frames[:-1], next_obs
= frames[1:], action / reward / terminal of steps 1..SEQ_LEN), shuffled; the first 128 windows make 8 batches of
16, all 256 are ``inputs``.

Fault label: batch_mixing (the mixture weights of each sequence are normalised over the batch; they are also not a
distribution over the components).
Fix: ``logpi = f.log_softmax(pi, dim=-1)``.

Measured (my own loops, /tmp/h45c, OMP_NUM_THREADS=1, seed 0, on a 2-core machine under load ~10; torch:
``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()`` cycling over the 8 training batches, Keras:
``train_on_batch``; held-out = 128 windows of other rollouts (seed 7), evaluated in batches of 16; 35-41 ms a
torch step, 54-68 ms a Keras step (90-110 ms at the busiest moment; the machine's load inflates these)):
  * Batch dependence (the clear symptom). Buggy: each sequence's mixture weights sum to 0.3125 = 5/16 on average
    over the components (0.08..0.96 per step after 1,000 steps); after 1,000 steps, replacing the other 15
    sequences of batch 0 changes sequence 0's outputs (its logpi) by up to 1.35 (torch) / 2.62 (keras), and
    feeding it alone changes them by 12.1 / 9.4 (every logpi becomes 0). Fixed: the weights sum to 1, and the
    same changes are 0 / 0 (torch) and 0 / 3e-6 (keras).
  * Training loss (mean over (time, batch) / 34), step 1 / 10 / 50 / 100 / 200 / 500 / 1,000:
      torch buggy 1.301 / 0.985 / 0.577 / 0.428 / 0.305 / 0.101 / -0.055; fixed 1.267 / 0.954 / 0.523 / 0.409 /
      0.260 / 0.067 / -0.104. Keras buggy 1.310 / 0.939 / 0.502 / 0.389 / 0.288 / 0.118 / 0.013; fixed 1.276 /
      0.901 / 0.436 / 0.380 / 0.234 / 0.103 / -0.026. The buggy loss starts log(16/5)/34 = 0.034 higher (the
      weights' missing mass) and both decrease: nothing in the loss curve signals the fault, as in the program,
      where it was found by reading the code (issue #10).
  * What the mixture learns (torch, 1,024 training windows from other rollouts (seed 3) instead of 128, so the
    held-out loss is not dominated by overfitting; 1,500 steps; held-out loss at step 100 / 500 / 1,000 /
    1,500): buggy 0.545 / 0.285 / 0.223 / 0.220, and 0.510 / 0.247 / 0.185 / 0.182 with each sample's weights
    renormalised over the components afterwards; fixed 0.516 / 0.236 / 0.167 / 0.168. Even renormalised the
    buggy model's next-latent density is worse by 0.015 * 34 = 0.5 nats per predicted frame. (With only the 8
    training batches both models overfit within 1,000 steps: held-out 1.064 buggy (1.024 renormalised) vs 1.064
    fixed for torch, 0.821 vs 0.654 for Keras.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:ctallec/world-models issue #10 (models/mdrnn.py MDRNN.forward 'logpi = f.log_softmax(pi, dim=-2)' "
          "+ gmm_loss, trainmdrnn.py get_loss @5d4261e^ = 11c3496, utils/misc.py, data/loaders.py, data/carracing.py; "
          "fix 5d4261e5406fb4724e3617ab4d94bde909374a26 '[FIX] Fixing log_softmax axis (Issue #10)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("batch_independence", {})]

# constants (trainmdrnn.py, utils/misc.py)
BSIZE = 16
SEQ_LEN = 32
ASIZE, LSIZE, RSIZE = 3, 32, 256
GAUSSIANS = 5  # MDRNN(LSIZE, ASIZE, RSIZE, 5)
LR, ALPHA = 1e-3, 0.9  # torch.optim.RMSprop(mdrnn.parameters(), lr=1e-3, alpha=.9)
N_BATCHES = 8
N_INPUTS = 256  # windows made; the first 8 * 16 are the training batches
SEED = 0

# stand-in simulator
ROLLOUT_LEN = 200
N_INFORMATIVE = 24
N_FEATURES = 10
TILE_REWARD = 1000.0 / 300


def sample_continuous_policy(rng, low, high, seq_len, dt):
    """utils/misc.py ``sample_continuous_policy`` (``action_space.sample()`` / ``np.random`` -> ``rng``)."""
    actions = [rng.uniform(low, high)]
    for _ in range(seq_len):
        daction_dt = rng.standard_normal(actions[-1].shape)
        actions.append(
            np.clip(actions[-1] + math.sqrt(dt) * daction_dt,
                    low, high))
    return actions


def _rollout(rng, w, c):
    """One rollout of the stand-in car simulator: latents (L+1, LSIZE), actions, rewards, terminals (L+1,)."""
    low, high = np.array([-1.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0])
    actions = np.array(sample_continuous_policy(rng, low, high, ROLLOUT_LEN, 1. / 50))[:ROLLOUT_LEN + 1]
    v, heading, offset, progress = rng.uniform(0.0, 1.0), rng.uniform(-0.3, 0.3), 0.0, rng.uniform(0, 20)
    tile = math.floor(progress / 0.25)
    mus, rewards, terminals = [], [], []
    for t in range(ROLLOUT_LEN + 1):
        steer, gas, brake = actions[t]
        if t > 0:  # env.step(action): frame t is the state after action t
            v = float(np.clip(0.96 * v + 0.12 * gas - 0.25 * brake - 0.08 * (abs(offset) > 1.0) * v, 0.0, 3.0))
            heading += 0.25 * steer * v / (1.0 + v)
            track_dir = 0.6 * math.sin(0.3 * progress)
            offset += 0.15 * v * math.sin(heading - track_dir)
            progress += 0.1 * v * math.cos(heading - track_dir)
        new_tile = math.floor(progress / 0.25)
        r = -0.1 + TILE_REWARD * max(new_tile - tile, 0) * (abs(offset) <= 1.0)
        tile = max(tile, new_tile)
        track_dir = 0.6 * math.sin(0.3 * progress)
        feats = np.array([v - 1.0, math.cos(heading - track_dir), math.sin(heading - track_dir), offset,
                          float(abs(offset) > 1.0), math.sin(0.3 * progress), math.cos(0.3 * progress),
                          math.sin(2.0 * progress), math.cos(2.0 * progress), steer])
        mus.append(1.2 * np.tanh(w @ feats + c))
        rewards.append(r)
        terminals.append(float(t == ROLLOUT_LEN))
    mu = np.concatenate([np.array(mus), np.zeros((ROLLOUT_LEN + 1, LSIZE - N_INFORMATIVE))], axis=1)
    sigma = np.concatenate([np.full(N_INFORMATIVE, 0.15), np.ones(LSIZE - N_INFORMATIVE)])
    latents = mu + sigma * rng.standard_normal(mu.shape)  # to_latent: x_mu + x_logsigma.exp() * randn_like(x_mu)
    return latents, actions, np.array(rewards), np.array(terminals)


def make_windows(n_windows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_windows`` RolloutSequenceDataset items (4 per rollout), as x = concat(action, latent_obs) (n, 32, 35)
    and y = concat(latent_next_obs, reward, terminal) (n, 32, 34), float32."""
    wrng = np.random.default_rng(1234)  # the "VAE": one fixed observation map for every split
    w = wrng.standard_normal((N_INFORMATIVE, N_FEATURES)) / math.sqrt(N_FEATURES) * 1.5
    c = 0.3 * wrng.standard_normal(N_INFORMATIVE)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    while len(xs) < n_windows:
        latents, actions, rewards, terminals = _rollout(rng, w, c)
        for seq_index in rng.choice(ROLLOUT_LEN - SEQ_LEN, 4, replace=False):
            if seq_index == ROLLOUT_LEN - SEQ_LEN - 1 or rng.random() < 0.03:
                seq_index = ROLLOUT_LEN - SEQ_LEN  # now and then the window that holds the rollout's end
            obs_data = latents[seq_index:seq_index + SEQ_LEN + 1]
            obs, next_obs = obs_data[:-1], obs_data[1:]
            action = actions[seq_index + 1:seq_index + SEQ_LEN + 1]
            reward, terminal = [arr[seq_index + 1:seq_index + SEQ_LEN + 1] for arr in (rewards, terminals)]
            xs.append(np.concatenate([action, obs], axis=1))
            ys.append(np.concatenate([next_obs, reward[:, None], terminal[:, None]], axis=1))
    x, y = np.array(xs[:n_windows], "float32"), np.array(ys[:n_windows], "float32")
    order = np.random.default_rng(seed + 1).permutation(n_windows)  # DataLoader(shuffle=True)
    return x[order], y[order]


def _torch(fixed_axis: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as f
    from torch.distributions.normal import Normal

    torch.manual_seed(SEED)

    def gmm_loss(batch, mus, sigmas, logpi, reduce=True):  # pylint: disable=too-many-arguments
        """ Computes the gmm loss (models/mdrnn.py, program lines). """
        batch = batch.unsqueeze(-2)
        normal_dist = Normal(mus, sigmas)
        g_log_probs = normal_dist.log_prob(batch)
        g_log_probs = logpi + torch.sum(g_log_probs, dim=-1)
        max_log_probs = torch.max(g_log_probs, dim=-1, keepdim=True)[0]
        g_log_probs = g_log_probs - max_log_probs

        g_probs = torch.exp(g_log_probs)
        probs = torch.sum(g_probs, dim=-1)

        log_prob = max_log_probs.squeeze() + torch.log(probs)
        if reduce:
            return - torch.mean(log_prob)
        return - log_prob

    class _MDRNNBase(nn.Module):
        def __init__(self, latents, actions, hiddens, gaussians):
            super().__init__()
            self.latents = latents
            self.actions = actions
            self.hiddens = hiddens
            self.gaussians = gaussians

            self.gmm_linear = nn.Linear(
                hiddens, (2 * latents + 1) * gaussians + 2)

    class MDRNN(_MDRNNBase):
        """ MDRNN model for multi steps forward (program lines) """
        def __init__(self, latents, actions, hiddens, gaussians):
            super().__init__(latents, actions, hiddens, gaussians)
            self.rnn = nn.LSTM(latents + actions, hiddens)

        def forward(self, actions, latents):  # pylint: disable=arguments-differ
            seq_len, bs = actions.size(0), actions.size(1)

            ins = torch.cat([actions, latents], dim=-1)
            outs, _ = self.rnn(ins)
            gmm_outs = self.gmm_linear(outs)

            stride = self.gaussians * self.latents

            mus = gmm_outs[:, :, :stride]
            mus = mus.view(seq_len, bs, self.gaussians, self.latents)

            sigmas = gmm_outs[:, :, stride:2 * stride]
            sigmas = sigmas.view(seq_len, bs, self.gaussians, self.latents)
            sigmas = torch.exp(sigmas)

            pi = gmm_outs[:, :, 2 * stride: 2 * stride + self.gaussians]
            pi = pi.view(seq_len, bs, self.gaussians)
            if fixed_axis:  # 5d4261e
                logpi = f.log_softmax(pi, dim=-1)
            else:  # 5d4261e^: dim -2 of (seq_len, bs, gaussians) is the batch
                logpi = f.log_softmax(pi, dim=-2)

            rs = gmm_outs[:, :, -2]

            ds = gmm_outs[:, :, -1]

            return mus, sigmas, logpi, rs, ds

    class MDRNNTrain(nn.Module):
        """Batch-first x = concat(action, latent_obs) -> get_loss's transpose -> MDRNN -> the five heads,
        flattened and concatenated on the last axis, batch-first (B, SEQ_LEN, 327)."""

        def __init__(self):
            super().__init__()
            self.mdrnn = MDRNN(LSIZE, ASIZE, RSIZE, GAUSSIANS)

        def forward(self, x):
            action, latent_obs = x[..., :ASIZE], x[..., ASIZE:]
            latent_obs, action = [arr.transpose(1, 0) for arr in [latent_obs, action]]
            mus, sigmas, logpi, rs, ds = self.mdrnn(action, latent_obs)
            t, b = rs.shape
            out = torch.cat([mus.reshape(t, b, -1), sigmas.reshape(t, b, -1), logpi,
                             rs.unsqueeze(-1), ds.unsqueeze(-1)], dim=-1)
            return out.transpose(1, 0)

    stride = GAUSSIANS * LSIZE

    def loss_fn(out, y):  # trainmdrnn.py get_loss
        b, t = out.shape[:2]
        mus = out[..., :stride].reshape(b, t, GAUSSIANS, LSIZE)
        sigmas = out[..., stride:2 * stride].reshape(b, t, GAUSSIANS, LSIZE)
        logpi = out[..., 2 * stride:2 * stride + GAUSSIANS]
        rs, ds = out[..., -2], out[..., -1]
        latent_next_obs, reward, terminal = y[..., :LSIZE], y[..., LSIZE], y[..., LSIZE + 1]
        gmm = gmm_loss(latent_next_obs, mus, sigmas, logpi)
        bce = f.binary_cross_entropy_with_logits(ds, terminal)
        mse = f.mse_loss(rs, reward)
        loss = (gmm + bce + mse) / (LSIZE + 2)
        return loss

    x, y = make_windows(N_INPUTS, seed=SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BSIZE], yt[i:i + BSIZE]) for i in range(0, BSIZE * N_BATCHES, BSIZE)]
    return {"model": MDRNNTrain(), "batch": batches[0], "batches": batches, "inputs": xt, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=LR, alpha=ALPHA)}


def _keras(fixed_axis: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)
    stride = GAUSSIANS * LSIZE

    class MixtureHeads(keras.layers.Layer):
        """MDRNN.forward after gmm_linear: exp of the sigmas, log_softmax of the mixing logits on the time-major
        (seq_len, bs, gaussians) tensor (axis -2 = batch in the buggy version), the rest passed through."""

        def call(self, gmm_outs):
            mus = gmm_outs[..., :stride]
            sigmas = ops.exp(gmm_outs[..., stride:2 * stride])
            pi = ops.transpose(gmm_outs[..., 2 * stride:2 * stride + GAUSSIANS], (1, 0, 2))  # time-major
            if fixed_axis:
                logpi = ops.log_softmax(pi, axis=-1)
            else:
                logpi = ops.log_softmax(pi, axis=-2)
            logpi = ops.transpose(logpi, (1, 0, 2))
            return ops.concatenate([mus, sigmas, logpi, gmm_outs[..., -2:]], axis=-1)

    def gmm_loss(batch, mus, sigmas, logpi):  # per sequence: mean over time
        batch = ops.expand_dims(batch, -2)
        g_log_probs = (-0.5 * ops.square((batch - mus) / sigmas) - ops.log(sigmas)
                       - 0.5 * math.log(2 * math.pi))  # Normal(mus, sigmas).log_prob(batch)
        g_log_probs = logpi + ops.sum(g_log_probs, axis=-1)
        max_log_probs = ops.max(g_log_probs, axis=-1, keepdims=True)
        g_log_probs = g_log_probs - max_log_probs
        g_probs = ops.exp(g_log_probs)
        probs = ops.sum(g_probs, axis=-1)
        log_prob = ops.squeeze(max_log_probs, -1) + ops.log(probs)
        return -ops.mean(log_prob, axis=-1)

    def get_loss(y_true, y_pred):
        mus = ops.reshape(y_pred[..., :stride], (-1, SEQ_LEN, GAUSSIANS, LSIZE))
        sigmas = ops.reshape(y_pred[..., stride:2 * stride], (-1, SEQ_LEN, GAUSSIANS, LSIZE))
        logpi = y_pred[..., 2 * stride:2 * stride + GAUSSIANS]
        rs, ds = y_pred[..., -2], y_pred[..., -1]
        latent_next_obs, reward, terminal = y_true[..., :LSIZE], y_true[..., LSIZE], y_true[..., LSIZE + 1]
        gmm = gmm_loss(latent_next_obs, mus, sigmas, logpi)
        bce = ops.mean(ops.maximum(ds, 0) - ds * terminal + ops.log1p(ops.exp(-ops.abs(ds))), axis=-1)
        mse = ops.mean(ops.square(rs - reward), axis=-1)
        return (gmm + bce + mse) / (LSIZE + 2)

    inp = keras.Input(shape=(SEQ_LEN, ASIZE + LSIZE))
    outs = keras.layers.LSTM(RSIZE, return_sequences=True)(inp)
    gmm_outs = keras.layers.Dense((2 * LSIZE + 1) * GAUSSIANS + 2)(outs)
    model = keras.Model(inp, MixtureHeads()(gmm_outs))
    model.compile(loss=get_loss, optimizer=keras.optimizers.RMSprop(learning_rate=LR, rho=ALPHA, epsilon=1e-8))
    x, y = make_windows(N_INPUTS, seed=SEED)
    batches = [(x[i:i + BSIZE], y[i:i + BSIZE]) for i in range(0, BSIZE * N_BATCHES, BSIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def _build(framework: str, fixed_axis: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed_axis)
    if framework == "keras":
        return _keras(fixed_axis)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_axis=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_axis=True)
