"""AUTOTRAINER L-code Gradient-Vanish case 16: an MNIST classifier built as a plain stack of 20
``Dense(128)`` + ``Activation('sigmoid')`` layers (Keras default glorot_uniform kernels, zero biases) and a
``Dense(10, activation='softmax')`` head, compiled with ``categorical_crossentropy`` and ``Adam()``,
``batch_size=32``, pixels ``/ 255``. Each sigmoid layer multiplies the backward signal by at most 0.25 times
its weights, so through 20 layers the gradient that reaches the first layers is vanishingly small, and
the forward signal collapses to almost the same hidden vector for every image: the loss sits at
ln(10) = 2.30 and the accuracy at chance.

Source: github.com/shiningrain/AUTOTRAINER ``DL_tools/code/L-code/gradient_vanish/case-16-gradient_vanish/
case_16.py`` (commit 27df1ce0ee0e6eca93ffee88871786871aeee8fa, "Draft Code"), filed by the authors under
gradient_vanish. Program lines kept: ``n_layers = 20``, ``n_hwidth = 128``,
``activation='sigmoid'#'tanh'#'relu'``, ``create_Layer`` (``Dense(n_hwidth)`` then
``Activation(activation)`` per layer), ``Dense(n_classes, activation='softmax')``, ``opt = Adam()``,
``loss='categorical_crossentropy'``, ``batch_size=32``, ``x /= 255``, ``to_categorical``. Ported to Keras 3
unchanged. Torch twin: the same stack of ``nn.Linear`` (glorot kernels, zero biases) + sigmoid, the
softmax head written the torch way (logits into ``CrossEntropyLoss``), Adam(lr=1e-3) as Keras' default.
Data stand-in (no MNIST download): ``_data.mnist_like(256)`` (sklearn digits blown up to 28x28 uint8),
flattened to 784 and divided by 255 as in the program; one-hot labels for Keras, class ids for torch;
8 batches of 32.
Fault label: vanishing_gradients (a deep sigmoid stack). Fix: ``activation='relu'``, the alternative the
file lists next to 'sigmoid' and AUTOTRAINER's repair for vanishing gradients ('vanish_relu': ReLU hidden
activations); everything else equal. (The file's own ``create_residual_layer`` does not rescue the
sigmoid stack: measured, it stays at loss 2.30.)
Symptom in a short loop (300 Adam steps cycling over the 8 batches, then loss/accuracy on all 256; one
batch of 32 for 200 steps): torch (1 thread, ~24 ms/step buggy, ~7 ms fixed): buggy loss 2.302 / accuracy
0.10, fixed (ReLU) 0.186 / 0.96; one batch: buggy 2.295 vs fixed 0.0000. Keras (model.fit, batch 32,
shuffle=False): buggy 2.302 / 0.10, fixed 0.382 / 0.85; one batch: buggy 2.295 vs fixed 0.0000.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "vanishing_gradients"
SOURCE = ("github:shiningrain/AUTOTRAINER@27df1ce DL_tools/code/L-code/gradient_vanish/case-16-gradient_vanish/"
          "case_16.py (activation='sigmoid'#'tanh'#'relu')")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

n_layers = 20
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


def _build(framework: str, activation: str) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "keras":
        import keras
        from keras.layers import Activation, Dense, Input

        from tests.real_programs import _data

        keras.utils.set_random_seed(0)
        yk = _data.one_hot(y, n_classes)
        inputs = Input(shape=(784,))
        h = inputs
        for i in range(n_layers):
            h = Dense(n_hwidth)(h)
            h = Activation(activation)(h)
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
            act = torch.sigmoid if activation == 'sigmoid' else torch.relu
            for layer in self.layers:
                h = act(layer(h))
            return self.out(h)  # logits; the softmax is in CrossEntropyLoss

    tx, ty = torch.tensor(x), torch.tensor(y)
    batches = [(tx[i:i + batch_size], ty[i:i + batch_size]) for i in range(0, n_samples, batch_size)]
    return {"model": Net(), "batch": batches[0], "batches": batches, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, activation='sigmoid')


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, activation='relu')
