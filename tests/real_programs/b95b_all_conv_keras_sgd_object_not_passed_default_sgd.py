"""getcrest/All-Conv-Keras ``allconv.py``: a Keras 1 re-implementation of the All-Convolutional Net (All-CNN-C,
Springenberg et al. 2015) for CIFAR-10. Nine convolutions (96-96-96/stride 2-192-192-192/stride 2-192-1x1 192-1x1 10)
with ReLU, Dropout(0.5) after each stride-2 convolution, GlobalAveragePooling2D and a softmax, trained with
``categorical_crossentropy`` on one-hot labels, ``batch_size = 32``, inputs ``X_train /= 255``.

The fault (the compile call): the script builds the optimizer it wants,
``sgd = SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)``, and then compiles with the STRING ``optimizer='sgd'``.
Keras resolves the string to a fresh ``SGD()`` with its defaults (lr 0.01, no momentum, no Nesterov, no decay), so the
configured object is never used: the deep, un-normalised all-convolutional net is trained by plain SGD at 0.01, whose
effective step is about ten times smaller than that of momentum-0.9 SGD at the same rate. The net sits on the plateau
of the uniform prediction (loss ln 10 = 2.303) for a very long time; the maintainer's answer in the PR says it took
350 epochs and almost a day on an AWS g2.8xlarge to converge.

Source: github.com/getcrest/All-Conv-Keras ``allconv.py`` at 1762413 (= dca8f05^; the file last changed in d642d15
'Data Augmentation added'), fixed by dca8f055a636c27e9613afaff2c41cb1c9633689 "use correct optimizer object"
(PR #1 by jbinas, merged as 52a1e99): "The sgd object created was not passed to the model, so the actual sgd
parameters used were the default ones (lr=0.01, momentum=0.0, decay=0.0, nesterov=False)". The fix passes the
object and sets its rate to 0.01:
``sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)`` and ``optimizer=sgd``. In the PR thread the
contributor adds that lr=0.1 "does not seem to work at all" while lr=0.01 with momentum gives the reported results;
the maintainer (iabhi7) notes his run of the buggy script needed 350 epochs.
Fault label: lr_too_low (the optimizer actually used is SGD lr 0.01 without momentum: the effective step is ~10x
smaller than the intended momentum-0.9 Nesterov SGD, and the net stays on the ln 10 plateau).

Program lines kept: the layer stack as written (kernel sizes, paddings, strides, the two Dropout(0.5), the 1x1
convolutions, GlobalAveragePooling2D, Activation('softmax'); Keras default init, glorot-uniform kernels, zero
biases), ``loss='categorical_crossentropy'``, ``batch_size = 32``, ``X /= 255``, one-hot labels, and the two
optimizer lines. Keras 3 spellings: ``Convolution2D(96, 3, 3, border_mode='same', subsample=(2, 2))`` ->
``Conv2D(96, 3, padding='same', strides=2)``; ``SGD(lr=..., decay=1e-6, ...)`` -> ``SGD(learning_rate=
InverseTimeDecay(lr, decay_steps=1, decay_rate=1e-6), ...)``, which is Keras 1's per-iteration ``lr / (1 + decay *
iterations)``. Buggy: ``sgd = SGD(lr=0.1, ...)`` is built and left unused, ``model.compile(..., optimizer='sgd')``
(Keras 3's ``'sgd'`` is ``SGD(learning_rate=0.01)``, the same defaults as Keras 1). Fixed: ``sgd = SGD(lr=0.01, ...)``
and ``optimizer=sgd``.
Shrunk / replaced: the widths 96 / 192 are cut to 32 / 64 (a third) so that a step of batch 32 takes ~0.1 s on one
core instead of ~0.5 s; depth, kernel sizes, strides, dropout and the head are unchanged (at a sixth of the width,
16 / 32, the fixed net was unstable on the stand-in: it left the plateau, spiked and fell back to ln 10).
``make_parallel(model, 4)`` (a 4-GPU data-parallel wrapper that splits each batch and
concatenates the outputs; no batch statistics, so the same function) is left out, as are the ImageDataGenerator
augmentation (shifts of 0.1 and horizontal flips), the checkpoint callback and the trailing predict on 'image.jpg'.
The script's ``input_shape=(3, 32, 32)`` (Keras 1 channels-first) is ported channels-last, (32, 32, 3), the layout
a later commit (9c5a2b4, ``K.set_image_dim_ordering('tf')``) moved to; the model is the same either way.
Torch twin: the same stack (``nn.Conv2d`` with xavier-uniform weights and zero biases, ``nn.Dropout(0.5)``, mean over
the spatial axes, softmax) returning probabilities like the Keras model, Keras' categorical cross-entropy on them
(clip to [1e-7, 1 - 1e-7], mean over the batch), and the optimizer the program really trains with:
``optim.SGD(lr=0.01)`` (buggy) vs ``optim.SGD(lr=0.01, momentum=0.9, nesterov=True)`` (fixed; torch's Nesterov
update equals Keras' for a constant rate). The fault itself is a Keras API slip (a string name where the configured
object was meant); the twin reproduces its consequence, the default optimizer. The 1e-6 decay is left out in torch
(lr x 0.999 after 1000 steps).
Data stand-in (no CIFAR-10 download): built like ``_data.cifar_like`` (32x32x3 uint8 images 0..255: scikit-learn's
8x8 digits blown up 4x4, each class with its own colour tint, over a random-colour background with pixel noise; 10
classes) but with a darker background (20..60), a stronger digit (x200) and less noise (sd 10), so that the fixed
net leaves the plateau within a few hundred steps (on the plain ``cifar_like`` both versions stayed near ln 10 for
1000 steps at width 16 / 32); then ``/ 255`` and one-hot as the script. ``batches``: 48 distinct batches of 32 from
the first 1536 images; ``batch``: the first; ``inputs``: the last 256 of the 1797 images (held out).

Measured (my own plain loop, /tmp/s56/p/b95b/measure.py, on the module's own builds: ``train_on_batch`` (Keras) /
zero_grad-forward-loss-backward-step (torch) over the 48 ``batches`` in a seeded random order (numpy seed 0), 1000
steps, one thread, SEED 0; afterwards the model in inference mode on the 256 held-out ``inputs``):
  Keras, training loss, means of 100-step blocks:
    buggy 2.303 2.303 2.301 2.300 2.297 2.293 2.276 2.212 2.083 1.946 (leaves the plateau after ~600 steps);
    fixed 2.296 2.188 1.929 1.694 1.493 1.131 0.712 0.466 0.281 0.257 (max single-step loss 4.06);
    held-out loss / accuracy: buggy 1.91 / 0.21, fixed 0.21 / 0.91.
  torch (same protocol):
    buggy 2.302 2.301 2.299 2.295 2.281 2.206 2.001 1.898 1.783 1.651 (leaves the plateau after ~500 steps);
    fixed 2.260 2.224 2.268 1.940 1.439 1.129 1.551 1.476 1.319 0.866 (spiky: max single-step loss 13.9);
    held-out loss / accuracy: buggy 1.72 / 0.20, fixed 0.62 / 0.74.
  Over the first ~100 steps both versions are near ln 10 = 2.303 (the fixed net too starts on the plateau, it
  just leaves it sooner); the gap opens after a few hundred steps, as in the original where the buggy run needed
  hundreds of epochs. The fixed configuration is itself on the edge of stability here (loss spikes, and at width
  16 / 32 it collapsed back to ln 10), which the PR thread also hints at (lr 0.1 with momentum "does not seem to
  work at all"). Time per step (batch 32, one thread): Keras ~0.1-0.16 s, torch ~0.06-0.12 s (about 10 s per
  hundred steps). Build: ~5-8 s first (imports, data), later ~0.3 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "lr_too_low"
SOURCE = ("github:getcrest/All-Conv-Keras PR #1 (allconv.py@dca8f05^: 'sgd = SGD(lr=0.1, decay=1e-6, momentum=0.9, "
          "nesterov=True)' then model.compile(loss='categorical_crossentropy', optimizer='sgd', ...); fix "
          "dca8f055a636c27e9613afaff2c41cb1c9633689 'use correct optimizer object': SGD(lr=0.01, decay=1e-6, "
          "momentum=0.9, nesterov=True) passed as optimizer=sgd; merge 52a1e99)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "probabilities"})]

batch_size = 32
nb_classes = 10
W1, W2 = 32, 64  # the program's 96 / 192, cut to a third (see the docstring)
N_BATCHES = 48
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10-like images / 255 (n, 32, 32, 3) float32, one-hot labels: training part, held-out inputs.
    Built as ``_data.cifar_like`` (8x8 digits blown up 4x4, class tint, random-colour background, pixel noise), with
    a darker background (20..60), a stronger digit (200) and less noise (10), so the digit carries the label."""
    from sklearn.datasets import load_digits

    from tests.real_programs._data import one_hot

    d = load_digits()
    r = np.random.default_rng(SEED)
    y = d.target
    digit = np.kron(d.images, np.ones((4, 4))) / 16.0  # (1797, 32, 32) in [0, 1]
    tint = r.uniform(0.4, 1.0, (10, 3))
    bg = r.uniform(20, 60, (len(y), 1, 1, 3))
    imgs = bg + 200 * digit[..., None] * tint[y][:, None, None, :] + r.normal(0, 10, (len(y), 32, 32, 3))
    X = np.clip(imgs, 0, 255).astype("uint8").astype("float32")
    X /= 255
    Y = one_hot(y, nb_classes)
    n = N_BATCHES * batch_size
    return X[:n], Y[:n], X[-N_INPUTS:]


def _common() -> dict[str, Any]:
    X, Y, Xh = _data()
    bs = [(X[i:i + batch_size], Y[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return {"batch": bs[0], "batches": bs, "inputs": Xh}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Activation, Conv2D, Dropout, GlobalAveragePooling2D, Input
    from keras.models import Sequential
    from keras.optimizers import SGD
    from keras.optimizers.schedules import InverseTimeDecay

    keras.utils.set_random_seed(SEED)
    model = Sequential()
    model.add(Input(shape=(32, 32, 3)))
    model.add(Conv2D(W1, 3, padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(W1, 3, padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(W1, 3, padding='same', strides=(2, 2)))
    model.add(Dropout(0.5))

    model.add(Conv2D(W2, 3, padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(W2, 3, padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(W2, 3, padding='same', strides=(2, 2)))
    model.add(Dropout(0.5))

    model.add(Conv2D(W2, 3, padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(W2, 1, padding='valid'))
    model.add(Activation('relu'))
    model.add(Conv2D(10, 1, padding='valid'))

    model.add(GlobalAveragePooling2D())
    model.add(Activation('softmax'))

    def keras1_sgd(lr: float) -> Any:  # Keras 1 SGD(lr=lr, decay=1e-6, momentum=0.9, nesterov=True)
        return SGD(learning_rate=InverseTimeDecay(lr, decay_steps=1, decay_rate=1e-6), momentum=0.9, nesterov=True)

    if fixed:  # dca8f05
        sgd = keras1_sgd(0.01)
        model.compile(loss='categorical_crossentropy', optimizer=sgd, metrics=['accuracy'])
    else:
        sgd = keras1_sgd(0.1)  # built, never used
        model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
    return {"model": model, **_common()}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def conv(n_in: int, n_out: int, k: int, stride: int = 1) -> nn.Conv2d:
        c = nn.Conv2d(n_in, n_out, k, stride=stride, padding="same" if stride == 1 else 0)
        nn.init.xavier_uniform_(c.weight)
        nn.init.zeros_(c.bias)
        return c

    class SamePadStride2(nn.Module):  # Keras padding='same' with stride 2 on an even size pads bottom / right only
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.conv = conv(n_in, n_out, 3, 2)

        def forward(self, x: Any) -> Any:
            return self.conv(nn.functional.pad(x, (0, 1, 0, 1)))

    class AllConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                conv(3, W1, 3), nn.ReLU(), conv(W1, W1, 3), nn.ReLU(), SamePadStride2(W1, W1), nn.Dropout(0.5),
                conv(W1, W2, 3), nn.ReLU(), conv(W2, W2, 3), nn.ReLU(), SamePadStride2(W2, W2), nn.Dropout(0.5),
                conv(W2, W2, 3), nn.ReLU(), conv(W2, W2, 1), nn.ReLU(), conv(W2, 10, 1))

        def forward(self, x: Any) -> Any:  # x: (n, 32, 32, 3) as the Keras model takes it
            h = self.net(x.permute(0, 3, 1, 2))
            return torch.softmax(h.mean(dim=(2, 3)), dim=1)  # GlobalAveragePooling2D, Activation('softmax')

    model = AllConv()

    def loss_fn(probs: Any, y: Any) -> Any:  # Keras categorical_crossentropy on probabilities
        p = probs / probs.sum(-1, keepdim=True)
        return -(y * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()

    if fixed:  # the configured optimizer (lr 0.01, momentum 0.9, Nesterov)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    else:  # optimizer='sgd': Keras' default SGD
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": optimizer}


buggy, fixed = versions(_torch, _keras)
