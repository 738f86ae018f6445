"""tensorflow/docs, the Keras guide "Training and evaluation with the built-in methods"
(``site/en/guide/keras/train_and_evaluate.ipynb``, TF 2.x), section "Custom losses": the guide's MNIST classifier
``inputs = keras.Input(shape=(784,), name='digits'); x = layers.Dense(64, activation='relu', name='dense_1')(inputs);
x = layers.Dense(64, activation='relu', name='dense_2')(x); outputs = layers.Dense(10, name='predictions')(x)``
(ten linear outputs), data ``x_train.reshape(60000, 784).astype('float32') / 255``, ``y_train =
y_train.astype('float32')`` (class ids 0..9 as floats, the last 10,000 held out for validation), then the custom-loss
cell: ``def basic_loss_function(y_true, y_pred): return tf.math.reduce_mean(tf.abs(y_true - y_pred))``,
``model.compile(optimizer=keras.optimizers.Adam(), loss=basic_loss_function)``, ``model.fit(x_train, y_train,
batch_size=64, epochs=3)``.

The fault (targets of the wrong shape for the loss): the targets are the sparse class ids, one number per image,
while the model gives ten scores per image. tf.keras brings a rank-1 ``y_true`` to ``(batch, 1)`` before calling the
loss (``compile_utils.match_dtype_and_rank``; Keras 2 ``standardize_single_array`` did the same), so ``y_true -
y_pred`` broadcasts the label column against all ten outputs: the loss asks every one of the ten scores to equal the
class id (a digit 7 should score 7 on all ten classes). The loss falls, but it
trains a regressor of the digit's value copied ten times; the argmax over ten near-equal scores carries no
class information and the "classifier" stays at chance. No error is raised anywhere.

Source: github.com/tensorflow/docs ``site/en/guide/keras/train_and_evaluate.ipynb`` (cell added in 1b9d9e57d /
PR #892 "Updated keras training documentation to include custom losses"; still there at
47b065156a75323da0e60416e51923a9321f2a13^, the last version before the guide moved to keras.io). Fixed when the guide
moved to keras-team/keras-io ``guides/training_with_built_in_methods.py`` (stored at
ad4fc805f5e1a4a4c0bcdd416aa9feac6608fb6c): ``def custom_mean_squared_error(y_true, y_pred): return
tf.math.reduce_mean(tf.square(y_true - y_pred))``, ``model = get_uncompiled_model()``, ``model.compile(
optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)``, "# We need to one-hot encode the labels to use
MSE", ``y_train_one_hot = tf.one_hot(y_train, depth=10)``, ``model.fit(x_train, y_train_one_hot, batch_size=64,
epochs=1)``.
Fault label: target_shape (the (batch,) class ids meet (batch, 10) outputs and are broadcast against them);
loss_mismatch as the alternative (a value-regression loss on class ids for a 10-way classifier).

Program lines kept: the model (Keras default init: glorot-uniform kernels, zero biases, linear 10-wide head), the
pixel scaling /255, float32 class ids, ``basic_loss_function`` with ``Adam()`` (lr 1e-3, Keras defaults) and batch 64
(buggy); the keras.io fix's ``custom_mean_squared_error`` on one-hot targets with ``Adam()`` and batch 64 (fixed), on
the same model (the keras.io guide's model also ends in a softmax; the fix kept here is the loss and target lines).
Ported: Keras 3 no longer expands a rank-1 ``y_true`` for a plain function loss (it raises on (64,) - (64, 10)), so
the buggy targets are handed to the loss as tf.keras 2.x did, a ``(batch, 1)`` float column of class ids; the
broadcast against the (batch, 10) outputs is then the program's; ``tf.math.reduce_mean`` / ``tf.abs`` / ``tf.square``
are written with ``keras.ops``. Torch twin: the same MLP (``nn.Linear`` with
xavier-uniform weights, zero biases), ``torch.optim.Adam(lr=1e-3, eps=1e-7)``, ``loss_fn = mean(|y - out|)`` on the
same (batch, 1) label column (buggy) / ``mean((y - out) ** 2)`` on one-hot rows (fixed): the same broadcast happens
in torch whenever the labels arrive as a column. No sizes changed (the model is small).
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8 x 8 digits blown up to 28 x 28, 0..255),
flattened to 784 and divided by 255 as the guide does; 1,500 training images, the other 297 held out. ``batches``:
the first 8 shuffled training batches of 64; ``batch``: the first; ``inputs``: the 297 held-out images.

Measured (my own plain loops, /tmp/s48/h72_c/measure.py, OMP_NUM_THREADS=1; 15 epochs of the 1,500 training images
in shuffled batches of 64, 345 steps; held-out accuracy = argmax of the ten outputs vs the class id):
  Keras (``train_on_batch``): buggy epoch-mean loss after epochs 1 / 5 / 10 / 15: 3.37 / 1.55 / 1.12 / 0.87 (falls),
    held-out accuracy 0.091 / 0.148 / 0.101 / 0.141 (chance), after epoch 1 every held-out
    image predicted class 2 (outputs mean 5.0), after epoch 15 outputs mean 4.4, std 2.5; fixed loss 0.083 / 0.018 /
    0.010 / 0.0073, accuracy 0.737 / 0.892 / 0.916 / 0.919, predicted classes spread 19..35 per class.
    (Keeping the MAE and only one-hot encoding the targets does not rescue it: accuracy 0.195, collapsing to one
    class, which is why the fix's switch to MSE matters.)
  torch (the module's builds, /tmp/s48/h72_c/measure_mod.py): buggy loss 2.97 / 1.39 / 0.93 / 0.76, accuracy
    0.175 / 0.192 / 0.101 / 0.118 (chance); fixed loss 0.075 / 0.017 / 0.0097 / 0.0068, accuracy 0.761 / 0.879 /
    0.919 / 0.926.
  Time per step (batch 64, one thread): Keras ``train_on_batch`` ~9 ms, torch ~1 ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_shape|loss_mismatch"
SOURCE = ("github:tensorflow/docs site/en/guide/keras/train_and_evaluate.ipynb 'Custom losses' cell "
          "(basic_loss_function = reduce_mean(abs(y_true - y_pred)) on sparse float labels vs Dense(10) outputs; "
          "PR #892, still at 47b065156a75323da0e60416e51923a9321f2a13^); fixed in keras-team/keras-io "
          "guides/training_with_built_in_methods.py@ad4fc805f5e1a4a4c0bcdd416aa9feac6608fb6c "
          "(custom_mean_squared_error on tf.one_hot(y_train, depth=10))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {}), ("gradients_flow", {})]

NUM_CLASSES = 10
HIDDEN = 64
BATCH_SIZE = 64
LEARNING_RATE = 1e-3  # keras.optimizers.Adam() defaults
N_TRAIN = 1500
N_BATCHES = 8
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like images flattened and scaled as the guide does, labels as float32 class ids."""
    from tests.real_programs._data import mnist_like

    x8, y = mnist_like(1797)
    x = x8.reshape(-1, 784).astype("float32") / 255
    return x, y.astype("float32")


def _common(fixed: bool) -> dict[str, Any]:
    x, y = _data()
    xtr, ytr = x[:N_TRAIN], y[:N_TRAIN]
    order = np.random.default_rng(SEED).permutation(N_TRAIN)
    if fixed:  # y_train_one_hot = tf.one_hot(y_train, depth=10)
        targets = np.eye(NUM_CLASSES, dtype="float32")[ytr.astype("int64")]
    else:  # the float class ids, as tf.keras hands a rank-1 y_true to the loss: a (batch, 1) column
        targets = ytr[:, None]
    bs = []
    for i in range(N_BATCHES):
        idx = order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
        bs.append((np.ascontiguousarray(xtr[idx]), np.ascontiguousarray(targets[idx])))
    return {"batches": bs, "inputs": np.ascontiguousarray(x[N_TRAIN:])}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: nn.Linear) -> nn.Linear:  # Keras defaults: glorot_uniform kernel, zero bias
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    model = nn.Sequential(glorot(nn.Linear(784, HIDDEN)), nn.ReLU(), glorot(nn.Linear(HIDDEN, HIDDEN)), nn.ReLU(),
                          glorot(nn.Linear(HIDDEN, NUM_CLASSES)))

    def basic_loss_function(y_pred: Any, y_true: Any) -> Any:
        return torch.mean(torch.abs(y_true - y_pred))

    def custom_mean_squared_error(y_pred: Any, y_true: Any) -> Any:
        return torch.mean(torch.square(y_true - y_pred))

    d = _common(fixed)
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "loss_fn": custom_mean_squared_error if fixed else basic_loss_function,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(784,), name='digits')
    x = layers.Dense(HIDDEN, activation='relu', name='dense_1')(inputs)
    x = layers.Dense(HIDDEN, activation='relu', name='dense_2')(x)
    outputs = layers.Dense(NUM_CLASSES, name='predictions')(x)
    model = keras.Model(inputs=inputs, outputs=outputs)

    def basic_loss_function(y_true: Any, y_pred: Any) -> Any:
        return ops.mean(ops.abs(y_true - y_pred))

    def custom_mean_squared_error(y_true: Any, y_pred: Any) -> Any:
        return ops.mean(ops.square(y_true - y_pred))

    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=custom_mean_squared_error if fixed else basic_loss_function)
    d = _common(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"]}


buggy, fixed = versions(_torch, _keras)
