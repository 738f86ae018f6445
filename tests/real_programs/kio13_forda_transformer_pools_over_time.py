"""keras-io example "Timeseries classification with a Transformer model"
(``examples/timeseries/timeseries_classification_transformer.py``): FordA engine-noise series (500 steps,
one feature, each series z-normalised, labels -1/1 mapped to 0/1), ``x_train.reshape((n, 500, 1))``; four
``transformer_encoder`` blocks (``MultiHeadAttention(key_dim=head_size=256, num_heads=4, dropout=0.25)`` ->
``Dropout`` -> ``LayerNormalization(epsilon=1e-6)`` -> ``res = x + inputs``, then ``Conv1D(ff_dim=4, 1, relu)``
-> ``Dropout`` -> ``Conv1D(inputs.shape[-1]=1, 1)`` -> ``LayerNormalization`` -> ``x + res``), then
``GlobalAveragePooling1D`` -> ``Dense(128, relu)`` -> ``Dropout(0.4)`` -> ``Dense(2, softmax)``, compiled with
``"sparse_categorical_crossentropy"`` and ``Adam(learning_rate=1e-4)``, ``batch_size=64``.
The faulty version pools with ``data_format="channels_last"``, i.e. it averages the (N, 500, 1) encoder output
over the *time* axis and hands the head one number per series. Because the input has a single feature, every
``LayerNormalization`` inside the encoder normalises over one value and outputs its ``beta`` whatever its input,
so the encoder computes ``x + constant``; the time-average of a z-normalised series is 0, so the head receives
the same constant for every sample: the model cannot see its input, training stalls at the class prior
(loss ~0.693, accuracy ~0.5; the issue reports "val_sparse_categorical_accuracy: 0.5354" after training and a
``(None, 1)`` pooling output instead of the example's ``(None, 500)``).

Source: github.com/keras-team/keras-io, commit a52a1c5fd913f4861146ea0779acd2c38dc6019f (PR #1733 "Update
data_format for GlobalAveragingPool1D timeseries_classification") changed ``GlobalAveragePooling1D(
data_format="channels_first")`` to ``"channels_last"``; reported as breaking the example in keras-io issues
#1813 ("model not converging the sparse categorical accuracy stays same"), #1876, #1908, #2018 and
keras-team/keras issue #20627; fixed by restoring ``data_format="channels_first"`` (PR #2006; file at
dc8c9b4ab936f7111ef5b0c09fff761e9327eb33), which averages over the size-1 feature axis and keeps the 500 steps.
Program lines kept: ``transformer_encoder``, ``build_model`` (4 blocks, 4 heads, ff_dim=4, mlp_units=[128],
mlp_dropout=0.4, dropout=0.25), ``y[y == -1] = 0``, the ``np.random.permutation`` shuffle, the compile line
and ``batch_size=64``.
Ported minimally / for CPU speed: ``head_size`` 256 -> 16 and 500 -> 32 time steps (one train step of the
original size takes ~22 s on one CPU thread, ~0.3 s even at 32 steps with head_size 256; 23 ms now). The
attention output only ever reaches the rest of the network through a ``LayerNormalization`` over a single
feature, which returns ``beta`` for any input, so the attention width changes nothing either version computes.
Torch twin: the same encoder written out in torch (a Keras-style multi-head attention: per-head query/key/value
projections of width head_size, scaled dot product, softmax, attention dropout, output projection back to 1
feature; ``nn.LayerNorm(1, eps=1e-6)``; the kernel-size-1 convolutions as ``nn.Linear``), head ``Linear(128)``
(glorot, zero bias) -> ReLU -> Dropout(0.4) -> ``Linear(2)`` giving logits for ``nn.CrossEntropyLoss()``
(the softmax moved into the loss, the torch idiom), ``Adam(lr=1e-4)``. Its faulty pooling is
``x.mean(dim=1)`` (over time, -> (N, 1)); the fixed one ``x.mean(dim=2)`` (over the feature axis, -> (N, T)).
Data stand-in (no download of FordA_TRAIN.tsv): 256 seeded series of 32 steps, AR(1) noise (phi=0.6) with, for
class 1, a fixed-phase 3-cycle sine of amplitude 0.8 added, then each series z-normalised like the UCR files
(mean 0, std 1 per series); labels drawn as -1/1 and mapped to 0/1 as the example does; 4 batches of 64.
Fault label: no_input_signal (pooling over the wrong axis leaves the head one input-independent number).
Fix (PR #2006): ``GlobalAveragePooling1D(data_format="channels_first")`` (torch: mean over the feature axis).
Note: in both versions the attention and feed-forward kernels get no gradient (the single-feature
LayerNormalization blocks it); that is a property of the original example too, not of this fault.
Symptom in a short loop (train_on_batch / plain torch, 300 steps cycling over the 4 batches, measured on the
256 series): Keras: buggy loss 0.693 -> 0.691 (the entropy of the 53.5 % class prior), accuracy 0.535, the
predicted probabilities identical for all 256 series (std 9e-7); fixed 0.712 -> 0.431, accuracy 0.83 (still
rising at lr 1e-4). Torch: buggy 0.693 -> 0.691, accuracy 0.535, constant predictions (std 8e-7); fixed 0.673 ->
0.412, accuracy 0.84. About 25-30 ms per training step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_input_signal"
SOURCE = ("github:keras-team/keras-io examples/timeseries/timeseries_classification_transformer.py@a52a1c5f "
          "(PR #1733 channels_last; issues #1813, #2018, keras-team/keras #20627; fixed by PR #2006, dc8c9b4a)")
FRAMEWORKS = ("keras", "torch")
_COMMON = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
           ("input_independent_baseline", {})]
CHECKS = {
    "keras": _COMMON + [("output_range", {"kind": "probabilities", "num_classes": 2})],
    "torch": _COMMON + [("output_range", {"kind": "logits", "num_classes": 2})],
}

batch_size = 64
n_batches = 4
steps = 32  # FordA: 500
head_size = 16  # program: 256 (see docstring)
num_heads = 4
ff_dim = 4
num_transformer_blocks = 4
mlp_units = [128]
mlp_dropout = 0.4
dropout = 0.25
lr = 1e-4
n_classes = 2


def _forda_like(n: int = batch_size * n_batches, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice([-1, 1], n)
    eps = rng.standard_normal((n, steps))
    x = np.zeros((n, steps))
    x[:, 0] = eps[:, 0]
    for t in range(1, steps):
        x[:, t] = 0.6 * x[:, t - 1] + eps[:, t]
    x = x + 0.8 * (y == 1)[:, None] * np.sin(2 * np.pi * 3 * np.arange(steps) / steps)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)  # UCR series are z-normalised
    x = x.reshape((x.shape[0], x.shape[1], 1))
    idx = rng.permutation(len(x))
    x, y = x[idx], y[idx]
    y[y == -1] = 0
    return x.astype("float32"), y.astype("int64")


def _keras_model(channels_first: bool) -> Any:
    import keras
    from keras import layers

    def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
        x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=dropout)(inputs, inputs)
        x = layers.Dropout(dropout)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        res = x + inputs
        x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
        x = layers.Dropout(dropout)(x)
        x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        return x + res

    inputs = keras.Input(shape=(steps, 1))
    x = inputs
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)
    x = layers.GlobalAveragePooling1D(data_format="channels_first" if channels_first else "channels_last")(x)
    for dim in mlp_units:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(mlp_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=lr),
                  metrics=["sparse_categorical_accuracy"])
    return model


def _torch_model(channels_first: bool) -> Any:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    class KerasStyleMHA(nn.Module):
        def __init__(self, dim: int, key_dim: int, heads: int, p: float) -> None:
            super().__init__()
            self.h, self.k = heads, key_dim
            self.q, self.kk, self.v = (nn.Linear(dim, heads * key_dim) for _ in range(3))
            self.o = nn.Linear(heads * key_dim, dim)
            self.drop = nn.Dropout(p)

        def forward(self, x: Any) -> Any:
            n, t, _ = x.shape
            q, k, v = (f(x).view(n, t, self.h, self.k).transpose(1, 2) for f in (self.q, self.kk, self.v))
            att = self.drop(torch.softmax(q @ k.transpose(-1, -2) / self.k ** 0.5, dim=-1))
            return self.o((att @ v).transpose(1, 2).reshape(n, t, self.h * self.k))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = KerasStyleMHA(1, head_size, num_heads, dropout)
            self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)
            self.ln1, self.ln2 = nn.LayerNorm(1, eps=1e-6), nn.LayerNorm(1, eps=1e-6)
            self.ff1, self.ff2 = nn.Linear(1, ff_dim), nn.Linear(ff_dim, 1)  # Conv1D(kernel_size=1)

        def forward(self, inputs: Any) -> Any:
            x = self.ln1(self.drop1(self.mha(inputs)))
            res = x + inputs
            x = self.ln2(self.ff2(self.drop2(torch.relu(self.ff1(res)))))
            return x + res

    class TransformerClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(*[Encoder() for _ in range(num_transformer_blocks)])
            width = steps if channels_first else 1
            self.head = nn.Sequential(_nets.torch_dense(width, mlp_units[0]), nn.ReLU(), nn.Dropout(mlp_dropout),
                                      _nets.torch_dense(mlp_units[0], n_classes))

        def forward(self, x: Any) -> Any:
            x = self.blocks(x)  # (N, T, 1)
            x = x.mean(dim=2) if channels_first else x.mean(dim=1)
            return self.head(x)

    torch.manual_seed(0)
    return TransformerClassifier()


def _build(framework: str, channels_first: bool) -> dict[str, Any]:
    x, y = _forda_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        return {"model": _keras_model(channels_first), "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    model = _torch_model(channels_first)
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, channels_first=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, channels_first=True)
