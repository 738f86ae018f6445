"""Keras example ``examples/mnist_sklearn_wrapper.py`` (keras-team/keras, 2016-2018): ``make_model(
dense_layer_sizes, filters, kernel_size, pool_size)`` builds an MNIST CNN for a ``GridSearchCV`` over
``dense_size_candidates = [[32], [64], [32, 32], [64, 64]]``: ``Conv2D(filters=8, 3, padding='valid')`` ->
relu -> ``Conv2D(8, 3)`` -> relu -> ``MaxPooling2D(2)`` -> ``Dropout(0.25)`` -> ``Flatten`` -> one
``Dense(layer_size)`` per entry of ``dense_layer_sizes`` -> ``Activation('relu')`` -> ``Dropout(0.5)`` ->
``Dense(10)`` -> softmax, ``categorical_crossentropy``, ``'adadelta'``, ``batch_size=32``, pixels ``/ 255``,
one-hot labels. The ``Activation('relu')`` sits *after* the ``for layer_size in dense_layer_sizes:`` loop
instead of inside it, so for the two-layer candidates ([32, 32], [64, 64]) the dense layers are stacked with
no non-linearity between them: the stack collapses to a single linear map (the issue: "Multi dense layers
should add activation, otherwise one dense layer is enough") and the grid search compares candidates that
differ only in parameter count, not in depth.

Source: github.com/keras-team/keras issue #9286 ("keras/examples/mnist_sklearn_wrapper.py line 67"), fixed by
PR #9317 "Fix mnist sklearn wrapper example" (commit 48e1e8458e: "Add Activation('relu') for every Dense layer
other than the last one", i.e. the ``model.add(Activation('relu'))`` line indented into the loop).
Program: examples/mnist_sklearn_wrapper.py@48e1e8458e^ (``make_model`` and the data lines); the candidate
ported is ``dense_layer_sizes=[64, 64]`` with the grid's ``filters=8, kernel_size=3, pool_size=2`` (for the
one-layer candidates the buggy and fixed code are identical). The ``KerasClassifier``/``GridSearchCV`` wrapper
is dropped (it only calls ``make_model`` and ``fit``).
Ported minimally: Keras 3's ``'adadelta'`` default learning rate is 0.001 while Keras 2.1 (2018) used
``lr=1.0``, so the optimizer is written ``Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7)`` to keep the
program's behaviour. Torch twin: the same network with the loop written the same way (``Linear`` layers
appended in the loop, one ``ReLU`` after it), glorot-uniform kernels and zero biases like the Keras layers,
logits into ``nn.CrossEntropyLoss()`` (the softmax moved into the loss), class-id targets,
``Adadelta(lr=1.0, rho=0.95, eps=1e-7)``.
Data stand-in (no MNIST download): 256 of scikit-learn's 8x8 digits blown up to 28x28 uint8 (``_data.mnist_like``),
``/ 255``, one-hot labels for Keras; 8 batches of 32.
Fault label: other:missing_hidden_activation (linear dense stack: the activation is outside the layer loop).
Fix (PR #9317): ``Activation('relu')`` after every hidden ``Dense`` (torch: a ``ReLU`` after every hidden ``Linear``).
Symptom in a short loop (train_on_batch / plain torch, 150 steps cycling over the 8 batches, Adadelta lr 1.0,
measured on the 256 images): the fault removes depth, not trainability, and on this small training set it shows
no training symptom at all: Keras: buggy loss 2.31 -> 0.005, accuracy 1.00; fixed 2.30 -> 0.013, accuracy 0.996.
Torch: buggy 2.31 -> 0.011, accuracy 0.996; fixed 2.31 -> 0.013, accuracy 0.996. The buggy network's two
hidden Dense layers compose to a single linear map (Dense(64) o Dense(64) = one affine layer of rank <= 64), so
the grid search's two-layer candidates are no deeper than the one-layer ones. About 5 ms per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:missing_hidden_activation"
SOURCE = ("github:keras-team/keras issue #9286, PR #9317 (examples/mnist_sklearn_wrapper.py@48e1e8458e^, "
          "fix 48e1e8458e)")
FRAMEWORKS = ("keras", "torch")
_COMMON = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
           ("not_constant_predictions", {})]
CHECKS = {
    "keras": _COMMON + [("output_range", {"kind": "probabilities", "num_classes": 10})],
    "torch": _COMMON + [("output_range", {"kind": "logits", "num_classes": 10})],
}

num_classes = 10
img_rows, img_cols = 28, 28
batch_size = 32
n_samples = 256
dense_layer_sizes = [64, 64]  # dense_size_candidates = [[32], [64], [32, 32], [64, 64]]
filters, kernel_size, pool_size = 8, 3, 2


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs import _data

    x, y = _data.mnist_like(n_samples)
    x = x.reshape(x.shape[0], img_rows, img_cols, 1).astype("float32")
    x /= 255
    return x, y


def _keras_model(relu_in_loop: bool) -> Any:
    import keras
    from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D

    model = keras.Sequential()
    model.add(keras.Input((img_rows, img_cols, 1)))
    model.add(Conv2D(filters, kernel_size, padding='valid'))
    model.add(Activation('relu'))
    model.add(Conv2D(filters, kernel_size))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=pool_size))
    model.add(Dropout(0.25))

    model.add(Flatten())
    for layer_size in dense_layer_sizes:
        model.add(Dense(layer_size))
        if relu_in_loop:
            model.add(Activation('relu'))
    if not relu_in_loop:
        model.add(Activation('relu'))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes))
    model.add(Activation('softmax'))

    model.compile(loss='categorical_crossentropy',
                  optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7),  # Keras 2 'adadelta'
                  metrics=['accuracy'])
    return model


def _torch_model(relu_in_loop: bool) -> Any:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    def conv(c_in: int, c_out: int) -> Any:
        layer = nn.Conv2d(c_in, c_out, kernel_size)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    torch.manual_seed(0)
    layers: list[Any] = [conv(1, filters), nn.ReLU(), conv(filters, filters), nn.ReLU(), nn.MaxPool2d(pool_size),
                         nn.Dropout(0.25), nn.Flatten()]
    width = filters * ((img_rows - 2 * (kernel_size - 1)) // pool_size) ** 2
    for layer_size in dense_layer_sizes:
        layers.append(_nets.torch_dense(width, layer_size))
        width = layer_size
        if relu_in_loop:
            layers.append(nn.ReLU())
    if not relu_in_loop:
        layers.append(nn.ReLU())
    layers += [nn.Dropout(0.5), _nets.torch_dense(width, num_classes)]
    return nn.Sequential(*layers)


def _build(framework: str, relu_in_loop: bool) -> dict[str, Any]:
    from tests.real_programs import _data

    x, y = _digits()
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        yk = _data.one_hot(y, num_classes)  # keras.utils.to_categorical(y_train, num_classes)
        batches = _data.batches(x, yk, batch_size)
        return {"model": _keras_model(relu_in_loop), "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    model = _torch_model(relu_in_loop)
    xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NCHW
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in _data.batches(xt, y, batch_size)]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, relu_in_loop=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, relu_in_loop=True)
