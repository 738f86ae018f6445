"""AUTOTRAINER L-code Dying-ReLU case 16: an MNIST classifier built as a plain stack of 35 ``Dense(128)``
+ ``Activation('relu')`` layers (Keras default glorot_uniform kernels, zero biases) and a
``Dense(10, activation='softmax')`` head, compiled with ``categorical_crossentropy`` and ``Adam()``,
``batch_size=32``, pixels ``/ 255``. With glorot kernels over 128 -> 128 units every ReLU layer halves the
variance of its input, so after 35 layers the signal that reaches the head is ~1e-5 of the input's scale:
the softmax sees nearly the same vector for every image, most ReLU units are silent for most inputs and
the gradients reaching the early layers are tiny; Adam's per-parameter scaling lets it crawl out slowly.

Source: github.com/shiningrain/AUTOTRAINER ``DL_tools/code/L-code/dying_relu/case-16-dying_relu/case_16.py``
(commit 27df1ce0ee0e6eca93ffee88871786871aeee8fa, "Draft Code"), filed by the authors under dying_relu.
Program lines kept: ``n_layers = 35``, ``n_hwidth = 128``, ``activation='relu'``, ``create_Layer`` (a
``Dense(n_hwidth)`` then ``Activation(activation)`` per layer), ``Dense(n_classes, activation='softmax')``,
``opt = Adam()``, ``loss='categorical_crossentropy'``, ``batch_size=32``, ``x /= 255``, ``to_categorical``.
The same file defines the repair, ``create_residual_layer`` (an identity skip around every two Dense
layers: at odd ``i`` keep ``temp_x = x``, at even ``i != 0`` add ``temp_x`` to the Dense output before
the activation), which is what the fix below uses. Ported to Keras 3 (``Input``/``Dense``/``Activation``/
``add`` unchanged). Torch twin: the same stack of ``nn.Linear`` (glorot kernels, zero biases) + ReLU with
the skips in ``forward`` for the fix; the softmax head written the torch way (logits into
``CrossEntropyLoss``), Adam(lr=1e-3) as Keras' default.
Data stand-in (no MNIST download): ``_data.mnist_like(256)`` (sklearn digits blown up to 28x28 uint8),
flattened to 784 and divided by 255 as in the program; one-hot labels for Keras, class ids for torch;
8 batches of 32.
Fault label: dead_units|vanishing_gradients (a 35-layer plain ReLU stack whose signal and gradients fade
with depth). Fix: the file's ``create_residual_layer`` (identity skips every two layers), all else equal.
Symptom in a short loop (300 Adam steps cycling over the 8 batches, then loss/accuracy on all 256; one
batch of 32 for 200 steps): torch (1 thread, ~35 ms/step buggy, ~19 ms fixed): buggy loss 1.43 / accuracy
0.38, fixed (residual) 0.000 / 1.00; one batch: buggy 0.24 vs fixed 0.0000. Keras (model.fit, batch 32,
shuffle=False): buggy stays at loss 2.302 / accuracy 0.10 (chance), fixed 0.000 / 1.00; one batch: buggy
1.33 vs fixed 0.0000.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "dead_units|vanishing_gradients"
SOURCE = ("github:shiningrain/AUTOTRAINER@27df1ce DL_tools/code/L-code/dying_relu/case-16-dying_relu/case_16.py "
          "(create_Layer vs the file's create_residual_layer)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

n_layers = 35
n_hwidth = 128
n_classes = 10
batch_size = 32
n_samples = 256


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs import _data

    x, y = _data.mnist_like(n_samples)
    x = x.reshape(n_samples, 784).astype("float32")
    x /= 255
    return x, y


def _build(framework: str, residual: bool) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "keras":
        import keras
        from keras.layers import Activation, Dense, Input

        from tests.real_programs import _data

        keras.utils.set_random_seed(0)
        yk = _data.one_hot(y, n_classes)
        inputs = Input(shape=(784,))
        h = inputs
        temp_x = inputs
        for i in range(n_layers):
            if residual and i % 2 != 0:
                temp_x = h
            h = Dense(n_hwidth)(h)
            if residual and i % 2 == 0 and i != 0:
                h = keras.layers.add([temp_x, h])
            h = Activation('relu')(h)
        predictions = Dense(n_classes, activation='softmax')(h)
        model = keras.Model(inputs=inputs, outputs=predictions)
        model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(), metrics=['accuracy'])
        batches = [(x[i:i + batch_size], yk[i:i + batch_size]) for i in range(0, n_samples, batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([_nets.torch_dense(784 if i == 0 else n_hwidth, n_hwidth)
                                         for i in range(n_layers)])
            self.out = _nets.torch_dense(n_hwidth, n_classes)

        def forward(self, h: Any) -> Any:
            temp_x = h
            for i, layer in enumerate(self.layers):
                if residual and i % 2 != 0:
                    temp_x = h
                h = layer(h)
                if residual and i % 2 == 0 and i != 0:
                    h = temp_x + h
                h = torch.relu(h)
            return self.out(h)  # logits; the softmax is in CrossEntropyLoss

    tx, ty = torch.tensor(x), torch.tensor(y)
    batches = [(tx[i:i + batch_size], ty[i:i + batch_size]) for i in range(0, n_samples, batch_size)]
    return {"model": Net(), "batch": batches[0], "batches": batches, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, residual=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, residual=True)
