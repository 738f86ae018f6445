"""DANA's controlled experiment (mmalekzadeh/dana, experiment/Synthetic_Dataset_and_Experiment.ipynb):
the non-adaptive baseline ``Ordonez2016DeepOriginal`` (two Conv2D(10, (5, 1)) + ReLU, Reshape, LSTM(5),
Dropout(.5), ``Dense(5, activation='softmax')``) trained by ``standard_training``, whose loss is
``tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)``. The model already ends in a softmax,
so the loss applies a second softmax to probabilities in [0, 1]: the loss cannot get near zero and its
gradients are damped by the extra softmax's Jacobian.

Source: github.com/mmalekzadeh/dana issue #1 ("Potential bug - Usage of from_logits=True on the model
that has softmax activated output"); the notebook as at 747c5db47214fbd309d83b6705c2200d6571ace7^, fixed by
the author's commit 747c5db ("Updated Notebooks", same day as the issue, together with 02cce81 for
DANA_a_tutorial.ipynb), which sets ``from_logits=False`` in ``standard_training`` and
``dimension_adaptive_training``. Program lines kept: ``n_classes = 5``, ``dim = 50``,
``rhos[exp_type=1] = 0.57423``, ``means``/``stddevs``, ``sample_correlated_gaussian`` /
``generate_dataset`` (two correlated 3-row sensors, transposed and appended into (50, 6) windows),
``np.expand_dims(X, 3)``, ``Ordonez2016DeepOriginal((50, 6, 1), 5)`` (nb_filters 10, nb_dense 5,
drp_out_dns .5), ``tf.keras.optimizers.Adam()``, ``standard_training``'s default ``batch_size=128``.
Ported minimally: the GradientTape loop (``model(X)`` then ``loss_fn(Y, logits, sample_weight)``,
``optimizer.apply_gradients``) is the model compiled with that loss and optimizer; the
``sample_weight`` of "balanced" class weights (about 1.0 each for the uniform class draw) is dropped.
Data: the notebook's own generator, rewritten with a seeded numpy ``normal`` in place of
``tf.random.normal`` (same shapes, scales and class structure), 256 training windows instead of 4000.
Fault label: loss_mismatch|output_activation. Fix (747c5db): ``SparseCategoricalCrossentropy(from_logits=False)``
(the softmax head stays). Torch twin: the same network ending in ``F.softmax`` fed to
``nn.CrossEntropyLoss`` (which also applies log-softmax to its input); fixed: the softmax output scored
as probabilities (NLL of ``log`` of the outputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:mmalekzadeh/dana issue #1 (experiment/Synthetic_Dataset_and_Experiment.ipynb@747c5db^, "
          "fix 747c5db)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

n_classes = 5  # program lines
dim = 50
rho = 0.57423  # rhos[exp_type], exp_type = 1
means = [0., 0., 0., 0., 0.]
stddevs = [.6, .7, .8, .9, 1.]
batch_size = 128  # standard_training default


def _moving_average(x: np.ndarray, w: int) -> np.ndarray:
    return np.convolve(x, np.ones(w), "same") / w


def _sample_correlated_gaussian(rng: np.random.Generator, mean: float, stddev: float,
                                class_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``sample_correlated_gaussian(rho=0.57423, dim=50, batch_size=3, ..., train=True)``: the
    ``rho > .4`` branch of the notebook, numpy in place of tf.random."""
    x, eps = np.split(rng.normal(mean, stddev, (3, 2 * dim)), 2, axis=1)
    y = rho * x + np.sqrt(1. - rho ** 2) * eps
    t = np.arange(0, dim)
    trends = [0. * t, 0.002 * (t - dim // 2) ** 2 - .5, 0.001 * (t - dim // 4) ** 2 - .5,
              1 - 0.002 * (t - dim // 2) ** 2 - .5, 1 - 0.001 * (t - dim // 4) ** 2 - .5]
    periods = [np.sin(2 * np.pi * t / p) * .7 for p in (5, 10, 15, 20, 25, 30, 35)]
    for i in range(len(x)):
        noise = rng.normal(0., mean + stddev / ((i + class_id) % 3 + 2), dim)
        x[i] += noise
        y[i] += noise
        x[i] = _moving_average(x[i], (i + class_id) % 3 + 1)
        y[i] = _moving_average(y[i], (i + class_id) % 3 + 1)
        x[i] += trends[class_id % 5]
        y[i] += trends[(class_id + 1) % 5]
        x[i] += periods[class_id % 5] + periods[(class_id + 2) % 5] + periods[(class_id + 3) % 5]
        y[i] += periods[class_id % 5] + periods[(class_id + 1) % 5] + periods[(class_id + 5) % 5]
    return x, y


def _generate_dataset(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``generate_dataset(exp_type, n, train=True)`` then ``np.expand_dims(X, 3)``: (n, 50, 6, 1)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        class_id = int(rng.integers(0, n_classes))
        s1, s2 = _sample_correlated_gaussian(rng, means[class_id], stddevs[class_id], class_id)
        xs.append(np.append(s1.T, s2.T, axis=1))
        ys.append(class_id)
    return np.expand_dims(np.array(xs, dtype="float32"), 3), np.array(ys, dtype="int64")


def _batches(x: Any, y: Any) -> list[tuple[Any, Any]]:
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _generate_dataset(2 * batch_size)
    w, h = x.shape[1], x.shape[2]
    if framework == "keras":
        import keras
        from keras.layers import LSTM, Conv2D, Dense, Dropout, Input, Reshape

        nb_filters, drp_out_dns, nb_dense = 10, .5, 5  # Ordonez2016DeepOriginal (synthetic version)
        inp = Input((w, h, 1))
        z = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(inp)
        z = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(z)
        z = Reshape((z.shape[1], z.shape[2] * z.shape[3]))(z)
        act = LSTM(nb_dense, return_sequences=False, activation="tanh", name="lstm_1")(z)
        act = Dropout(drp_out_dns, name="dot_1")(act)
        out_act = Dense(n_classes, activation="softmax", name="act_smx")(act)
        model = keras.models.Model(inputs=inp, outputs=out_act)
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not fixed),
                      optimizer=keras.optimizers.Adam())
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]), "batches": _batches(x, y)}

    import torch
    import torch.nn.functional as F
    from torch import nn

    class Ordonez2016DeepOriginal(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, (5, 1))
            self.conv2 = nn.Conv2d(10, 10, (5, 1))
            self.lstm_1 = nn.LSTM(h * 10, 5, batch_first=True)
            self.dot_1 = nn.Dropout(.5)
            self.act_smx = nn.Linear(5, n_classes)

        def forward(self, x):  # x: (N, 50, 6, 1) channels-last as in the Keras program
            z = x.permute(0, 3, 1, 2)
            z = F.relu(self.conv2(F.relu(self.conv1(z))))  # (N, 10, 42, 6)
            z = z.permute(0, 2, 3, 1).reshape(z.shape[0], z.shape[2], -1)  # Reshape((42, 6 * 10))
            out, _ = self.lstm_1(z)
            return F.softmax(self.act_smx(self.dot_1(out[:, -1])), dim=1)

    class ProbabilityNLL(nn.Module):
        """The fix's loss: cross-entropy of probabilities (Keras ``from_logits=False``)."""

        def forward(self, probs, target):
            return F.nll_loss(torch.log(probs.clamp_min(1e-7)), target)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Ordonez2016DeepOriginal(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _batches(xt, yt), "loss_fn": ProbabilityNLL() if fixed else nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
