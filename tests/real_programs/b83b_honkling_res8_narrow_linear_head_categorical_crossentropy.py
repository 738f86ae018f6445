"""castorini/honkling (Honkling: keyword spotting in the browser, University of Waterloo, 2018). Its Keras training
script ``training/training.py`` (RES8_NARROW, the narrow residual net of Honk) reads one text file of MFCCs per
recording (100 frames x 40 coefficients, written by the browser front end ``audio.js``), pads it at the end to 4000
values and reshapes it to ``input_shape=(100,40,1,)``; labels are the index of the command (``-c go yes stop no``)
the file name starts with, ``train_test_split(X, Y, test_size=0.10, random_state=1)`` and ``to_categorical``.
``define_layers`` / ``compile_model``: ``conv0`` (19 maps, 3x3, 'same', ReLU, no bias) -> ``AveragePooling2D((4,
3))`` -> ``conv1..conv6`` (ReLU) with an ``Add`` of the block input after every second conv and a
``BatchNormalization(momentum=0.1, epsilon=1e-5)`` after each -> ``GlobalAveragePooling2D`` -> the head ``Dense(
n_labels, activation='linear')``; ``model.compile(loss='categorical_crossentropy', optimizer=SGD(lr=0.01,
decay=1e-5, momentum=0.9), metrics=['categorical_accuracy'])``, ``fit(batch_size=250, epochs=500)``.

The fault (the head): the last layer is a linear ``Dense`` and no softmax follows, but ``categorical_crossentropy``
(``from_logits=False``) expects probabilities. Keras then divides each output row by its own sum, clips the result
to [1e-7, 1 - 1e-7] and takes -log of the true class' entry. With free-signed linear outputs the row sum can be small,
negative or of either sign relative to the true entry, so the "probability" of the true class is often <= 0 or
>= 1; the clip then makes the loss 16.1 or 0 and its gradient exactly zero. Training drifts into a state where
every sample sits at one of the two clip bounds: the loss freezes, nothing is learnt any more, and the predictions
are one class. In PR #11 the authors (paraphrased) say training gave a wrong accuracy and a high loss
because ``categorical_crossentropy`` needs a softmax layer as the model's last layer, and that after the fix the
model reached over 90 % accuracy on four commands (go, no, yes, stop).

Source: github.com/castorini/honkling ``training/training.py`` at d22483555e03b4c3df9a32e9443f3eac67082935 (=
d9d7151^; script added by 9a6c703 in PR #10), fixed by d9d7151211ee62c2e504a1895b08b1224bef0121 "fix model
architecture" (PR #11 "prediction with audio file on honking", merged as 32e91e2e643dacc0713b0ec63d133c3a0bc33142):
the ``Dense`` is renamed ``'dense'`` and ``layers['output'] = Softmax()`` is applied after it.
Fault label: output_activation|loss_mismatch (a linear head under a loss that expects softmax probabilities).

Program lines kept: ``define_layers`` and ``compile_model`` as written (the conv, pool, BN, ``Add`` and
``GlobalAveragePooling2D`` layers with their arguments; the head ``Dense(config['n_labels'], activation='linear',
...)`` verbatim in the buggy version), ``layer_config`` (3x3 convs, stride 1, ``n_layers=6``, ``res_pool=(4, 3)``,
input (100, 40, 1)), ``loss='categorical_crossentropy'``, SGD lr 0.01 / momentum 0.9 / no Nesterov, batch 250,
Glorot-uniform kernels, the 4000-value end padding of ``prepare_dataset``, ``train_test_split(test_size=0.10,
random_state=1)`` and one-hot targets. Fixed version: the fix's ``Dense(name="dense")`` + ``Softmax()`` and nothing
else.
Not ported from the fixing commit: it also put a new ``bn0`` (BatchNormalization of the raw input) in front of
``conv0`` and changed ``prepare_dataset`` to walk sub-folders and left-pad short recordings at a random offset.
Neither is part of the head / loss fault the PR describes, so the fixed version leaves them out (my stand-in
recordings are read as the buggy loader reads them); the fixed model learns the stand-in without ``bn0``.
Shrunk: ``n_feature_maps`` 19 -> 8 (CPU time: at 19 maps a batch of 250 cost ~0.7-2 s a step on this shared
machine, torch and Keras, much of it ``conv0`` at the full 100 x 40 resolution; at 8 maps ~0.2-0.6 s). Depth,
pooling, batch size and everything else as in the program.
Ported: Python 2 / Keras 2 -> Keras 3 (the logging of ``print_log``, ``ProgressChecker`` and
``generate_weights_json`` dropped; Keras 2's ``SGD(decay=1e-5)``, lr / (1 + decay x iterations), is Keras 3's
``InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-5)``). Keras 3's ``categorical_crossentropy`` on a
non-softmax output does what Keras 2's did (normalise by the row sum, clip, -log).
Torch twin: the same net in NCHW (input permuted from (batch, 100, 40, 1)), ``nn.Conv2d(..., 3, padding=1,
bias=False)`` + ReLU with Xavier-uniform weights (Keras' Glorot fans), ``nn.AvgPool2d((4, 3))``,
``nn.BatchNorm2d(eps=1e-5, momentum=0.9)`` (Keras' momentum 0.1 keeps 0.1 of the old moving statistics), the
``Add`` after every second conv, a spatial mean, ``nn.Linear`` (Xavier kernel, zero bias) returned raw in the buggy
version and through ``softmax`` in the fixed one; ``loss_fn`` is Keras' probability cross-entropy written out
(divide by the row sum, clamp to [1e-7, 1 - 1e-7], -sum y log p, batch mean) on the one-hot targets;
``SGD(lr=0.01, momentum=0.9)`` (the 1e-5 decay left out: < 0.3 % over 256 steps).
Data stand-in (no recordings): seeded synthetic keyword MFCCs built the way Honk computes them. Each of the 4
commands has 3 formant-like tracks (a start and an end mel band among 40 and a power) and a mean duration of 35-55
frames; a recording is a log-mel spectrogram of 41-100 frames (mean 73; noise floor around e^-9, 0-5 frames of
lead-in, the word with its tracks moved by a per-speaker band shift, gain and speed, 5-40 frames of tail, N(0, 0.3)
noise on the log), then the orthonormal DCT-II (librosa.filters.dct) of each frame gives 40 coefficients; written
out frame by frame and end-padded with zeros to 4000 values as ``prepare_dataset`` does. Values -62.5..28.1 (mean
-0.89, std 5.5; the 0th coefficient of a frame about -52 in silence, up to about -12 in a word), classes balanced
(1019 / 1004 / 961 / 1016 of 4000).
4445 recordings, split 90 / 10 with the program's ``train_test_split``: ``batches`` = the 4000 training ones as 16
batches of 250 (``batch`` the first), ``inputs`` = 256 of the held-out ones.

Measured (my own plain loops, /tmp/s52/h83_b/measure.py on the module's builds: the 16 batches in order per epoch,
16 epochs = 256 steps; Keras ``train_on_batch``, torch zero_grad / forward / loss_fn / backward / step; SEED 0,
OMP_NUM_THREADS=1):
  loss at the first step on ``batch``: torch buggy 8.77 / fixed 1.41 (ln 4 = 1.39); Keras buggy 6.61 / fixed 1.38.
  training loss, mean per epoch (epochs 1, 2, 3, 4, 5, 8, 12, 16):
    Keras buggy  5.17 4.60 4.27 7.01 12.01 12.01 12.01 12.01   fixed 1.34 1.22 1.05 0.81 0.62 0.20 0.05 0.02
    torch buggy  5.25 4.42 4.02 9.70 12.25 12.25 12.25 12.25   fixed 1.39 1.30 1.13 0.87 0.64 0.29 0.08 0.03
  The buggy loss first falls (while some rows still have a true-class ratio inside (0, 1)), then jumps and from
  epoch 5 on does not move by a digit: every training sample sits at a clip bound (the first 1000, inference mode:
  Keras 75.1 % at p_true <= 1e-7, loss 16.1, and 24.9 % at p_true >= 1, loss 0; torch 73.9 / 26.1 %), so every
  gradient is zero (only the momentum still moves the weights, and it dies out). After 256 steps:
  held-out accuracy (256) Keras buggy 0.262 / fixed 1.000, torch 0.219 / 1.000; training accuracy (first 1000)
  Keras 0.249 / 1.000, torch 0.261 / 0.998; the buggy models predict a single class for all 256 held-out
  recordings (Keras class 0, torch class 2); buggy outputs range -3.4..9.3 with row sums 0.45..1.29, fixed outputs
  are probabilities (rows sum to 1). No NaN in either version.
  With the program's 19 maps (5 epochs, earlier run): the same picture, torch buggy loss 6.15 then 8.20 per epoch
  (accuracy 0.25), fixed 1.25 -> 0.19 (accuracy 1.00); Keras after 2 epochs buggy 5.29 / 6.76 (all class 0), fixed
  1.27 / 0.98 (held-out 0.945).
  Time per step (batch 250, one thread, shared machine with load 5-7): Keras ~0.36-0.58 s, torch ~0.19-0.35 s;
  data ~7 s (first call, cached), first Keras build with the TensorFlow import ~10 s, torch ~6 s, later builds < 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:castorini/honkling PR #11 (training/training.py define_layers / compile_model / main "
          "@d22483555e03b4c3df9a32e9443f3eac67082935 = d9d7151^: output Dense(n_labels, activation='linear') "
          "compiled with loss='categorical_crossentropy'; fix d9d7151211ee62c2e504a1895b08b1224bef0121 "
          "'fix model architecture': Softmax() after the Dense; merge 32e91e2e643dacc0713b0ec63d133c3a0bc33142)")
FRAMEWORKS = ("torch", "keras")

# training.py: usage 'python training.py -d sample_data -c go yes stop no', argparse defaults, layer_config
COMMAND_LIST = ["go", "yes", "stop", "no"]
N_LABELS = len(COMMAND_LIST)
INPUT_SHAPE = (100, 40, 1)
N_LAYERS = 6
N_FEATURE_MAPS = 8  # the program: 19 (shrunk for CPU time, see the docstring)
RES_POOL = (4, 3)
BATCH_SIZE = 250
LEARNING_RATE = 0.01
DECAY = 1e-5
TEST_SIZE = 0.10
# stand-in
N_BATCHES = 16
N_INPUTS = 256
N_MELS = 40
SEED = 0

CHECKS = [("output_range", {"kind": "probabilities"}), ("init_loss", {"num_classes": N_LABELS}),
          ("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]


# ------------------------------------------------------------------------------------------------------------ data

def _dct_filters(n_filters: int, n_input: int) -> np.ndarray:
    """librosa.filters.dct (Honk's ``dct_filters``): the orthonormal DCT-II basis, (n_filters, n_input)."""
    basis = np.empty((n_filters, n_input))
    basis[0, :] = 1.0 / np.sqrt(n_input)
    samples = np.arange(1, 2 * n_input, 2) * np.pi / (2.0 * n_input)
    for i in range(1, n_filters):
        basis[i, :] = np.cos(i * samples) * np.sqrt(2.0 / n_input)
    return basis


def _utterance(r: np.random.Generator, tracks: np.ndarray, dur: float, dct: np.ndarray) -> np.ndarray:
    """One keyword as the flattened MFCC frames that were written to a data file (frames x 40, 41..100 frames):
    a log-mel spectrogram (noise floor + 3 formant-like tracks of the class moving across the mel bands over the
    word, shifted per speaker in frequency, gain and speed), then 40 DCT coefficients per frame."""
    d = int(np.clip(round(dur * r.uniform(0.8, 1.2)), 20, 70))
    lead, tail = int(r.integers(0, 6)), int(r.integers(5, 40))
    n = min(INPUT_SHAPE[0], lead + d + tail)
    m = np.arange(N_MELS)[None, :]
    floor = -9.0 + 0.04 * m + r.normal(0, 0.4)
    power = np.exp(floor) * np.ones((n, N_MELS))
    warp, gain = r.normal(0, 1.5), np.exp(r.normal(0, 0.8))
    t = np.clip((np.arange(n)[:, None] - lead) / d, -1, 2)
    env = np.where((t >= 0) & (t <= 1), np.sin(np.pi * np.clip(t, 0, 1)) ** 0.5, 0.0)
    for f0, f1, amp in tracks:
        centre = f0 + (f1 - f0) * np.clip(t, 0, 1) + warp
        power += gain * amp * env * np.exp(-0.5 * ((m - centre) / 1.5) ** 2)
    log_mel = np.log(power) + r.normal(0, 0.3, power.shape)
    return (log_mel @ dct.T).reshape(-1)  # per frame: np.matmul(dct_filters, x); frames x 40, flattened


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_train (N_BATCHES * 250, 100, 40, 1) float32 MFCCs, Y_train one-hot (., 4) float32, held-out x, y."""
    from sklearn.model_selection import train_test_split

    r = np.random.default_rng(SEED)
    dct = _dct_filters(N_MELS, N_MELS)
    # each command: 3 tracks (start band, end band, power) and a mean duration in frames
    tracks = np.stack([np.stack([r.uniform(4, 36, 3), r.uniform(4, 36, 3), r.uniform(1.0, 4.0, 3)], 1)
                       for _ in COMMAND_LIST])
    durs = r.uniform(35, 55, N_LABELS)
    n_train = N_BATCHES * BATCH_SIZE
    n = int(np.ceil(n_train / (1 - TEST_SIZE)))
    X, Y = [], []
    for _ in range(n):
        index = int(r.integers(N_LABELS))
        original_data = _utterance(r, tracks[index], durs[index], dct)
        data = np.pad(original_data, (0, 4000 - len(original_data)), 'constant').reshape(INPUT_SHAPE)
        X.append(data)
        Y.append(index)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=TEST_SIZE, random_state=1)
    y_train = np.eye(N_LABELS, dtype="float32")[np.array(Y_train)]  # keras.utils.to_categorical
    return (np.array(X_train, "float32")[:n_train], y_train[:n_train],
            np.array(X_test, "float32")[:N_INPUTS], np.array(Y_test, "int64")[:N_INPUTS])


def _common() -> dict[str, Any]:
    x, y, xh, _ = _data()
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": xh}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import (Add, AveragePooling2D, BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D,
                              Input, Softmax)
    from keras.models import Model

    keras.utils.set_random_seed(SEED)
    config = dict(input_shape=INPUT_SHAPE, conv_size=(3, 3), conv_stride=(1, 1), n_labels=N_LABELS,
                  n_layers=N_LAYERS, n_feature_maps=N_FEATURE_MAPS, res_pool=RES_POOL, use_dilation=False)

    def define_layers(config: dict[str, Any]) -> dict[str, Any]:
        layers = {}

        layers['conv0'] = Conv2D(
            filters=config['n_feature_maps'],
            kernel_size=config['conv_size'],
            strides=config['conv_stride'],
            padding='same',
            use_bias=False,
            activation='relu',
            kernel_initializer='glorot_uniform',
            bias_initializer=keras.initializers.zeros(),
            name='conv0'
        )

        layers['pool'] = AveragePooling2D(
            pool_size=config['res_pool'],
            strides=None,
            data_format=None,
            name='pool')

        for i in range(config['n_layers']):
            conv = Conv2D(
                filters=config['n_feature_maps'],
                kernel_size=config['conv_size'],
                strides=config['conv_stride'],
                padding='same',
                use_bias=False,
                activation='relu',
                kernel_initializer='glorot_uniform',
                bias_initializer=keras.initializers.zeros(),
                name="conv{}".format(i + 1)
            )
            layers.update({"conv{}".format(i + 1): conv})

        for i in range(config['n_layers']):
            bn = BatchNormalization(
                momentum=0.1,
                epsilon=0.00001,
                gamma_initializer=keras.initializers.ones(),
                beta_initializer=keras.initializers.zeros(),
                name="bn{}".format(i)
            )
            layers.update({"bn{}".format(i + 1): bn})

        dense = Dense(
            config['n_labels'],
            activation='linear',  # None
            use_bias=True,
            kernel_initializer='glorot_uniform',
            bias_initializer='zeros',
            kernel_regularizer=None,
            bias_regularizer=None,
            activity_regularizer=None,
            kernel_constraint=None,
            bias_constraint=None,
            name="dense" if fixed else "output"
        )
        if fixed:  # d9d7151: layers['dense'] = Dense(...), layers['output'] = Softmax()
            layers['dense'] = dense
            layers['output'] = Softmax()
        else:
            layers['output'] = dense

        layers['add'] = Add()

        layers['globalAvgPool'] = GlobalAveragePooling2D()
        return layers

    def compile_model(config: dict[str, Any], layers: dict[str, Any]) -> Any:
        input = Input(shape=config['input_shape'], name='input')
        x = input

        for i in range(config['n_layers'] + 1):
            y = layers["conv{}".format(i)](x)
            if i == 0:
                if 'pool' in layers:
                    y = layers['pool'](y)
                old_x = y

            if i > 0 and i % 2 == 0:
                x = layers['add']([y, old_x])
                old_x = x
            else:
                x = y

            if i > 0:
                x = layers["bn{}".format(i)](x)

        x = layers['globalAvgPool'](x)

        if fixed:
            x = layers['dense'](x)

        output = layers['output'](x)

        model = Model(inputs=input, outputs=output)
        return model

    layers = define_layers(config)
    model = compile_model(config, layers)
    # keras.optimizers.SGD(lr=args.learning_rate, decay=1e-5, momentum=0.9, nesterov=False): Keras 2's decay is
    # lr / (1 + decay * iterations), Keras 3's InverseTimeDecay
    optimizer = keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.InverseTimeDecay(LEARNING_RATE, decay_steps=1, decay_rate=DECAY),
        momentum=0.9,
        nesterov=False
    )
    model.compile(
        loss='categorical_crossentropy',
        optimizer=optimizer,
        metrics=['categorical_accuracy']
    )
    return {"model": model, **_common()}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def conv(in_channels: int) -> nn.Conv2d:  # Conv2D(n_feature_maps, (3, 3), padding='same', use_bias=False)
        c = nn.Conv2d(in_channels, N_FEATURE_MAPS, 3, padding=1, bias=False)
        nn.init.xavier_uniform_(c.weight)  # kernel_initializer='glorot_uniform' (same fans as Keras')
        return c

    class Res8Narrow(nn.Module):  # compile_model(layer_config, define_layers(layer_config))
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList([conv(1)] + [conv(N_FEATURE_MAPS) for _ in range(N_LAYERS)])
            self.pool = nn.AvgPool2d(RES_POOL)
            # Keras BatchNormalization(momentum=0.1): moving = 0.1 * moving + 0.9 * batch, torch momentum 0.9
            self.bns = nn.ModuleList([nn.BatchNorm2d(N_FEATURE_MAPS, eps=1e-5, momentum=0.9)
                                      for _ in range(N_LAYERS)])
            self.output = nn.Linear(N_FEATURE_MAPS, N_LABELS)  # Dense(n_labels, activation='linear')
            nn.init.xavier_uniform_(self.output.weight)
            nn.init.zeros_(self.output.bias)

        def forward(self, x: Any) -> Any:
            x = x.permute(0, 3, 1, 2)  # (batch, 100, 40, 1) channels-last -> (batch, 1, 100, 40)
            old_x = None
            for i in range(N_LAYERS + 1):
                y = torch.relu(self.convs[i](x))
                if i == 0:
                    y = self.pool(y)
                    old_x = y
                if i > 0 and i % 2 == 0:
                    x = y + old_x
                    old_x = x
                else:
                    x = y
                if i > 0:
                    x = self.bns[i - 1](x)
            out = self.output(x.mean(dim=(2, 3)))  # GlobalAveragePooling2D, Dense
            return torch.softmax(out, dim=-1) if fixed else out  # the fix: Softmax() after the Dense

    model = Res8Narrow()
    eps = 1e-7

    def loss_fn(output: Any, target: Any) -> Any:  # Keras categorical_crossentropy(from_logits=False)
        output = output / output.sum(-1, keepdim=True)
        output = output.clamp(eps, 1.0 - eps)
        return -(target * torch.log(output)).sum(-1).mean()

    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9, nesterov=False)}


buggy, fixed = versions(_torch, _keras)
