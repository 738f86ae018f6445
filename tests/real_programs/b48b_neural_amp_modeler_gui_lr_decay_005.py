"""NAM, Neural Amp Modeler (sdatkinson/neural-amp-modeler), the GUI trainer ``nam/train/gui.py`` -> ``nam.train.core.train``:
a WaveNet learns a guitar amplifier from a reamp pair (the standardized dry test signal ``v1_1_1.wav`` at 48 kHz and
the amp's recording of it), i.e. 1-D audio regression, sample by sample. ``_get_wavenet_config(Architecture.STANDARD)``:
two ``_Layers`` arrays (16 channels / head 8, then 8 channels / head 1), kernel 3, dilations 1..512 in each,
``Tanh``, not gated, head_scale 0.02, valid (unpadded) dilated convolutions, every layer also mixing in the raw input
(``_input_mixer``); ``nam.models.base.Model``: ``training_step`` MSE (``_mse_loss``), ``configure_optimizers``
``torch.optim.Adam(lr=lr)`` with ``lr_scheduler {"class": "ExponentialLR", "kwargs": {"gamma": 1.0 - lr_decay}}``
(Lightning's default interval: one ``scheduler.step()`` per epoch); ``nam.data.Dataset`` windows of
``nx + ny - 1`` input samples (nx = receptive field) -> ``ny = 8192`` output samples, ``batch_size=16``,
``shuffle=True``, ``drop_last=True``; ``max_epochs = 100`` (``_DEFAULT_NUM_EPOCHS``); the last 9 s are validation (ESR).

The fault: the GUI's hard-coded "Advanced-er options" were changed in PR #202 (5c16c76, "Metadata in GUI trainer") from

    lr = 0.004
    lr_decay = 0.007

to ``lr_decay = 0.05``, so ``ExponentialLR(gamma=0.95)`` instead of 0.993: the rate falls 5 % every epoch, to 0.004 *
0.95**100 = 2.4e-5 at the end of the default 100 epochs (fixed: 0.0020), and the whole run gets the update budget of
~20 full-rate epochs instead of ~71. Training stalls after ~40 epochs at a worse fit (a higher ESR) than the fixed
schedule reaches.

Source: github.com/sdatkinson/neural-amp-modeler issue #214 by the author ("[BUG] Learning rate decay was changed",
pointing at gui.py#L279 @bba479c2ff97a41ee4e5a884328f8daa6891ecef: "Oops! That's not gonna work so well!"), fixed by
PR #215, commit f1888dd7f24806f0a694030c90d22f709bc38a09 ("Fix learning rate decay"; branch commit 88fec03):
``lr_decay = 0.007`` again (v0.5.2). Buggy program: ``nam/train/gui.py``, ``nam/train/core.py``
(``_get_configs``, ``_get_wavenet_config``), ``nam/models/base.py``, ``nam/models/wavenet.py``,
``nam/models/_base.py`` (``BaseNet.forward``), ``nam/data.py`` (``Dataset``) at 88fec03^ (= bba479c).
Fault label: lr_too_low (a scheduler hyperparameter drives the rate to ~0 long before the run ends).
Fix (f1888dd): ``lr_decay = 0.007``.

Program lines kept: ``_Layer``, ``_Layers``, ``_WaveNet`` (no head, head_scale 0.02) and ``WaveNet._forward``
(channels, head sizes, kernel 3, Tanh, gated False, head_bias False/True, torch's default Conv1d initialisation),
``Model`` called with ``pad_start=False`` (input window (B, nx + ny - 1) -> prediction (B, ny)), MSE loss,
``Adam(lr=0.004)``, ``ExponentialLR(gamma=1 - lr_decay)`` stepped once per epoch, batch 16, the Dataset's windowing
(``x[i : i + nx + ny - 1]``, ``y[j : j + ny]``, ``j = i + nx - 1``, ``i = idx * ny``), shuffled batches. The loop
body is ``train_step`` (zero_grad, forward, MSE, backward, step, and the epoch-end ``scheduler.step()`` after every
``BATCHES_PER_EPOCH`` batches); the scheduler is created by the ``optimizer`` factory next to the Adam it drives
(``optimizer.lr_schedule``) and the batch counter lives on the optimizer, so a fresh optimizer starts a fresh
schedule. ``loss_fn`` is ``nn.MSELoss()``.
Shrunk for CPU speed: dilations 1..512 -> 1..64 in both arrays (receptive field 4,093 -> 509 samples) and
ny 8192 -> 256 (a step of the original sizes takes ~0.3 s even with ny = 128, dominated by the 4,093-sample receptive
field). Widths, depth per dilation, kernel, activations, lr, lr_decay, batch size and epochs are the program's.
An epoch here is one pass over the stand-in's 8 training batches (the real ~3-minute file gives ~66 batches of
8192-sample windows an epoch), so the 100-epoch schedule plays out over 800 steps.
Left out: Lightning's Trainer/checkpointing, the delay calibration, the .wav I/O, plotting and export.
Keras twin (the same mistake in Keras: the schedule as ``ExponentialDecay(0.004, decay_steps=<batches per epoch>,
decay_rate=1 - lr_decay, staircase=True)``): the same WaveNet as a functional Keras 3 model in channels_last layout
(``Cropping1D`` for the program's tail slicing), torch's default initialisation (uniform +-1/sqrt(fan_in) for
kernels and biases), ``loss="mse"``, ``Adam`` with torch's eps 1e-8.

Data stand-in (no reamp .wav files): a seeded dry "DI guitar" at 48 kHz, plucked notes and chords (E2..A4, 8
harmonics with per-harmonic exponential decay, a new note every 60-250 ms, peaks up to ~0.9, pickup noise sd 2e-3,
range [-0.87, 0.94], sd ~0.1) and its "amp" output: a ~100 Hz coupling high-pass, an asymmetric tanh overdrive
(gain 8, bias 0.3), a one-pole ~3.5 kHz tone low-pass and level 0.5 (range [-0.65, 0.35]). A causal, nonlinear
map with memory well within the receptive field, so the WaveNet can learn it. ``batches``: 8 shuffled batches of 16
training windows ((16, 764) inputs, (16, 256) targets); ``inputs``: 256 held-out windows from the recording's tail
(the validation split).

Symptom, measured with my own plain loop (/tmp/h48b/m.py: ``train_step`` as given here cycling over the 8 batches,
torch seed 0, OMP_NUM_THREADS=1; held-out ESR = sum((pred - y)^2) / sum(y^2) on the 256 held-out windows; train MSE
= mean over the last 8 steps). Torch, 800 steps = 100 epochs (buggy / fixed):
  epoch 1: ESR 0.567 / 0.567 (identical: the schedules differ by 5 % at most);
  epoch 10: train MSE 2.0e-3 / 1.7e-3, ESR 0.0151 / 0.0144, rate 2.4e-3 / 3.7e-3;
  epoch 30: 4.0e-4 / 2.4e-4, ESR 0.0054 / 0.0038, rate 8.6e-4 / 3.2e-3;
  epoch 50: 2.9e-4 / 1.4e-4, ESR 0.0043 / 0.0027, rate 3.1e-4 / 2.8e-3;
  epoch 100: 2.4e-4 / 6.7e-5, ESR 0.0038 / 0.0017, rate 2.4e-5 / 2.0e-3.
  The buggy run stops improving after ~epoch 60 (ESR 0.0041 -> 0.0038 over its last 40 epochs) while the fixed one
  keeps going (0.0030 -> 0.0017): 2.2x the fixed run's held-out ESR and 3.6x its training MSE at the end. Initial
  held-out ESR 0.995 (both).
  Keras (``train_on_batch``, keras seed 0), 240 steps = 30 epochs only (~0.2 s a step): epoch 10: train MSE
  2.0e-3 / 1.4e-3, ESR 0.0190 / 0.0141; epoch 20: 6.4e-4 / 4.6e-4, ESR 0.0081 / 0.0060; epoch 30: 4.1e-4 / 3.2e-4,
  ESR 0.0056 / 0.0044, rate 8.6e-4 / 3.2e-3 (the same drift as torch at that point; not run to 100 epochs).
About 50-120 ms a torch step on the loaded two-core machine (one thread).
The fault is a slow one: for the first ~10 epochs the two runs are nearly identical; what differs is that the buggy
one runs out of learning rate, not that it fails early.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_low"
SOURCE = ("github:sdatkinson/neural-amp-modeler issue #214, PR #215 (nam/train/gui.py _GUI._train 'lr_decay = 0.05' "
          "from 5c16c76 (PR #202) @bba479c2ff97a41ee4e5a884328f8daa6891ecef, nam/train/core.py _get_configs "
          "ExponentialLR(gamma=1.0 - lr_decay) + _get_wavenet_config(STANDARD), nam/models/base.py Model, "
          "nam/models/wavenet.py, nam/data.py; fix f1888dd7f24806f0a694030c90d22f709bc38a09 'Fix learning rate "
          "decay (#215)': lr_decay = 0.007)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

# nam/train/gui.py _GUI._train ("Advanced-er options") and nam/train/core.py _get_configs
lr = 0.004
LR_DECAY_BUGGY = 0.05  # 5c16c76 (PR #202) .. f1888dd^
LR_DECAY_FIXED = 0.007  # f1888dd (PR #215), also core.train's default
batch_size = 16
epochs = 100  # gui._DEFAULT_NUM_EPOCHS
REQUIRED_RATE = 48_000
# Architecture.STANDARD, shrunk for CPU speed (see docstring): dilations 1..512 -> 1..64 in both layer arrays,
# ny 8192 -> 256 output samples per training window
DILATIONS = [1, 2, 4, 8, 16, 32, 64]
LAYERS_CONFIGS = [
    {"input_size": 1, "condition_size": 1, "channels": 16, "head_size": 8, "kernel_size": 3,
     "dilations": DILATIONS, "activation": "Tanh", "gated": False, "head_bias": False},
    {"condition_size": 1, "input_size": 16, "channels": 8, "head_size": 1, "kernel_size": 3,
     "dilations": DILATIONS, "activation": "Tanh", "gated": False, "head_bias": True},
]
HEAD_SCALE = 0.02
NY = 256
RECEPTIVE_FIELD = 1 + sum((lc["kernel_size"] - 1) * sum(lc["dilations"]) for lc in LAYERS_CONFIGS)  # nx
N_BATCHES = 8  # the stand-in's training split: one epoch = 8 batches of 16 windows
BATCHES_PER_EPOCH = N_BATCHES
N_INPUTS = 256  # held-out windows (the program's 9 s validation split)
SEED = 0


def _di_guitar(n: int, rng: np.random.Generator) -> np.ndarray:
    """A dry (DI) guitar-like signal at 48 kHz: plucked notes (harmonic series with per-harmonic exponential decay)
    starting every 60-250 ms, some chords, peaks up to ~0.8, plus a little pickup noise."""
    t_all = np.arange(n) / REQUIRED_RATE
    x = np.zeros(n)
    start = 0
    while start < n:
        n_strings = int(rng.choice([1, 1, 2, 3]))
        for _ in range(n_strings):
            f0 = 82.4 * 2 ** (rng.integers(0, 30) / 12.0)  # E2 .. ~A4
            amp = rng.uniform(0.1, 0.35)
            length = min(n - start, int(REQUIRED_RATE * rng.uniform(0.3, 0.8)))
            t = t_all[:length]
            note = np.zeros(length)
            for k in range(1, 9):
                if k * f0 > 8000:
                    break
                note += (amp / k) * np.exp(-t * (2.0 + 1.5 * k)) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3))
            x[start:start + length] += note
        start += int(REQUIRED_RATE * rng.uniform(0.06, 0.25))
    x += rng.normal(0, 2e-3, n)
    return np.clip(x, -1.0, 1.0)


def _amp(x: np.ndarray) -> np.ndarray:
    """A tube-amp-like target: input high-pass (coupling cap, ~100 Hz), asymmetric tanh overdrive (gain 8), a one-pole
    'tone stack' low-pass at ~3.5 kHz and output level 0.5; values in about [-0.65, 0.35]."""
    a_hp = np.exp(-2 * np.pi * 100 / REQUIRED_RATE)
    hp = np.zeros_like(x)
    prev_x = prev_y = 0.0
    for i, v in enumerate(x):
        prev_y = a_hp * (prev_y + v - prev_x)
        prev_x = v
        hp[i] = prev_y
    d = np.tanh(8.0 * hp + 0.3) - np.tanh(0.3)
    a_lp = np.exp(-2 * np.pi * 3500 / REQUIRED_RATE)
    y = np.zeros_like(d)
    acc = 0.0
    for i, v in enumerate(d):
        acc = a_lp * acc + (1 - a_lp) * v
        y[i] = acc
    return 0.5 * y


def _windows(x: np.ndarray, y: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """nam.data.Dataset.__getitem__: input x[i : i + nx + ny - 1], output y[j : j + ny] with j = i + nx - 1,
    i = idx * ny."""
    nx = RECEPTIVE_FIELD
    xs = np.stack([x[i * NY: i * NY + nx + NY - 1] for i in range(count)])
    ys = np.stack([y[i * NY + nx - 1: i * NY + nx - 1 + NY] for i in range(count)])
    return xs.astype("float32"), ys.astype("float32")


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """8 shuffled training batches of 16 windows ((16, nx + ny - 1) inputs, (16, ny) targets), and N_INPUTS held-out
    windows with their targets (the tail of the recording, as the program's validation split)."""
    rng = np.random.default_rng(SEED)
    n_train = N_BATCHES * batch_size
    n_total = (n_train + N_INPUTS) * NY + RECEPTIVE_FIELD - 1
    x = _di_guitar(n_total, rng)
    y = _amp(x)
    split = n_train * NY + RECEPTIVE_FIELD - 1
    xt, yt = _windows(x[:split], y[:split], n_train)
    xv, yv = _windows(x[n_train * NY:], y[n_train * NY:], N_INPUTS)  # the train/validation split ("stop"/"start")
    order = rng.permutation(n_train)  # DataLoader(shuffle=True, drop_last=True), one epoch's order
    xt, yt = xt[order], yt[order]
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, n_train, batch_size)]
    return batches, xv, yv


def _torch_model():
    import torch
    import torch.nn as nn

    class _Layer(nn.Module):  # nam/models/wavenet.py
        def __init__(self, condition_size, channels, kernel_size, dilation, activation, gated):
            super().__init__()
            mid_channels = 2 * channels if gated else channels
            self._conv = nn.Conv1d(channels, mid_channels, kernel_size, dilation=dilation)
            self._input_mixer = nn.Conv1d(condition_size, mid_channels, 1, bias=False)
            self._activation = getattr(nn, activation)()
            self._1x1 = nn.Conv1d(channels, channels, 1)
            self._gated = gated

        def forward(self, x, h, out_length):
            zconv = self._conv(x)
            z1 = zconv + self._input_mixer(h)[:, :, -zconv.shape[2]:]
            channels = self._1x1.in_channels
            post_activation = (self._activation(z1) if not self._gated
                               else self._activation(z1[:, :channels]) * torch.sigmoid(z1[:, channels:]))
            return x[:, :, -post_activation.shape[2]:] + self._1x1(post_activation), post_activation[:, :, -out_length:]

    class _Layers(nn.Module):  # nam/models/wavenet.py
        def __init__(self, input_size, condition_size, head_size, channels, kernel_size, dilations,
                     activation="Tanh", gated=True, head_bias=True):
            super().__init__()
            self._rechannel = nn.Conv1d(input_size, channels, 1, bias=False)
            self._layers = nn.ModuleList([_Layer(condition_size, channels, kernel_size, d, activation, gated)
                                          for d in dilations])
            self._head_rechannel = nn.Conv1d(channels, head_size, 1, bias=head_bias)
            self.receptive_field = 1 + (kernel_size - 1) * sum(dilations)

        def forward(self, x, c, head_input=None):
            out_length = x.shape[2] - (self.receptive_field - 1)
            x = self._rechannel(x)
            for layer in self._layers:
                x, head_term = layer(x, c, out_length)
                head_input = head_term if head_input is None else head_input[:, :, -out_length:] + head_term
            return self._head_rechannel(head_input), x

    class _WaveNet(nn.Module):  # nam/models/wavenet.py (no head: head_config None)
        def __init__(self, layers_configs, head_scale=1.0):
            super().__init__()
            self._layers = nn.ModuleList([_Layers(**lc) for lc in layers_configs])
            self._head_scale = head_scale

        def forward(self, x):
            y, head_input = x, None
            for layer in self._layers:
                head_input, y = layer(y, x, head_input=head_input)
            return self._head_scale * head_input

    class Model(nn.Module):  # nam.models.base.Model._shared_step: self(*args, pad_start=False) -> WaveNet._forward
        def __init__(self):
            super().__init__()
            self._net = _WaveNet(LAYERS_CONFIGS, head_scale=HEAD_SCALE)

        def forward(self, x):  # (B, nx + ny - 1) -> (B, ny)
            if x.ndim == 2:
                x = x[:, None, :]
            y = self._net(x)
            return y[:, 0, :]

    return Model()


def _keras_model():
    import keras
    from keras import layers

    def uniform(fan_in: int):  # torch's Conv1d default initialisation, kernel and bias: U(-1/sqrt(fan_in), ..)
        bound = 1.0 / np.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)

    def conv(x, filters, kernel_size, fan_in, dilation=1, use_bias=True):
        return layers.Conv1D(filters, kernel_size, dilation_rate=dilation, padding="valid", use_bias=use_bias,
                             kernel_initializer=uniform(fan_in * kernel_size),
                             bias_initializer=uniform(fan_in * kernel_size))(x)

    def crop_to(t, length: int, current: int):
        return t if current == length else layers.Cropping1D((current - length, 0))(t)

    n_in = RECEPTIVE_FIELD + NY - 1
    inp = keras.Input((n_in,))
    cond = layers.Reshape((n_in, 1))(inp)  # channels_last (B, L, 1)
    y, y_len, head_input, head_len = cond, n_in, None, None
    for lc in LAYERS_CONFIGS:  # _Layers.forward
        rf = 1 + (lc["kernel_size"] - 1) * sum(lc["dilations"])
        out_length = y_len - (rf - 1)
        x = conv(y, lc["channels"], 1, lc["input_size"], use_bias=False)  # _rechannel
        x_len = y_len
        for d in lc["dilations"]:  # _Layer.forward
            z_len = x_len - (lc["kernel_size"] - 1) * d
            zconv = conv(x, lc["channels"], lc["kernel_size"], lc["channels"], dilation=d)
            mix = crop_to(conv(cond, lc["channels"], 1, lc["condition_size"], use_bias=False), z_len, n_in)
            post = layers.Activation("tanh")(layers.Add()([zconv, mix]))
            x = layers.Add()([crop_to(x, z_len, x_len), conv(post, lc["channels"], 1, lc["channels"])])
            x_len = z_len
            head_term = crop_to(post, out_length, z_len)
            head_input = head_term if head_input is None else layers.Add()([crop_to(head_input, out_length, head_len),
                                                                            head_term])
            head_len = out_length
        head_input = conv(head_input, lc["head_size"], 1, lc["channels"], use_bias=lc["head_bias"])
        y, y_len = x, x_len
    out = layers.Reshape((NY,))(layers.Rescaling(HEAD_SCALE)(head_input))
    return keras.Model(inp, out)


def _build(framework: str, lr_decay: float) -> dict[str, Any]:
    batches, xv, _ = _data()
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(SEED)
        model = _keras_model()
        # Lightning steps ExponentialLR once per epoch: a staircase decay every BATCHES_PER_EPOCH optimizer steps
        schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=BATCHES_PER_EPOCH,
                                                               decay_rate=1.0 - lr_decay, staircase=True)
        model.compile(loss="mse", optimizer=keras.optimizers.Adam(schedule, epsilon=1e-8))
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xv}

    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    model = _torch_model()
    model.train()

    def make_optimizer(params):  # Model.configure_optimizers
        optimizer = torch.optim.Adam(params, lr=lr)
        optimizer.lr_schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=1.0 - lr_decay)
        optimizer.batches_seen = 0
        return optimizer

    def train_step(model, optimizer, loss_fn, x, y):  # Lightning: training_step, backward, step; scheduler per epoch
        optimizer.zero_grad()
        preds = model(x)
        loss = loss_fn(preds, y)  # Model._mse_loss
        loss.backward()
        optimizer.step()
        optimizer.batches_seen = getattr(optimizer, "batches_seen", 0) + 1
        scheduler = getattr(optimizer, "lr_schedule", None)
        if scheduler is not None and optimizer.batches_seen % BATCHES_PER_EPOCH == 0:
            scheduler.step()  # interval "epoch" (Lightning's default)
        return loss

    tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xv), "loss_fn": nn.MSELoss(),
            "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, LR_DECAY_BUGGY)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, LR_DECAY_FIXED)
