"""JAX's example notebook "Training a Simple Neural Network, with PyTorch Data Loading"
(notebooks/neural_network_and_data_loading.ipynb): an MLP with ``layer_sizes = [784, 512, 512, 10]``, ReLU,
weights and biases drawn from ``scale * normal`` with ``scale=1e-2``, ``logits - logsumexp(logits)`` output,
loss ``-np.sum(preds * targets)`` (summed over the batch of 128, not averaged), and a hand-written SGD
``update`` with ``step_size = 0.001``. The images come from torchvision's MNIST through ``FlattenAndCast``
(``onp.ravel(onp.array(pic, dtype=np.float32))``): raw pixel values 0..255. With a summed loss over 128
images of that scale the step of 0.001 is far too large: the first updates throw the ReLU layers into
huge activations, the log-probabilities blow up and training diverges instead of learning.

Source: github.com/jax-ml/jax PR #159 ("Lower learning rate in NN example notebook to fix divergence.",
Peter Hawkins), commit 12a36f4c28; the notebook as at 12a36f4c28^ (added in 13d8cb1e7d, Dec 2018). The fix
changes ``step_size = 0.001`` to ``step_size = 0.0001`` and nothing else.
Program lines kept: ``random_layer_params`` (``scale=1e-2`` normal weights and biases), ``layer_sizes``,
``step_size``, ``batch_size = 128``, ``n_targets = 10``, ``predict`` (ReLU hidden layers, log-softmax
output), ``one_hot`` targets, ``loss = -np.sum(preds * targets)``, ``update`` (plain SGD on every
parameter), unscaled float pixels from ``FlattenAndCast``.
Ported minimally: JAX has no Keras/torch twin, so both twins are ports of the same program: Keras 3 ``Dense``
layers with ``RandomNormal(stddev=0.01)`` kernel and bias initialisers, a ``log_softmax`` output, a loss
that sums ``-sum(y * preds)`` over the batch (``reduction="sum"``) and ``keras.optimizers.SGD(0.001)``;
torch ``nn.Linear`` layers initialised with ``normal_(std=0.01)``, ``log_softmax``, the same summed loss and
``torch.optim.SGD(lr=0.001)`` (the notebook's ``update`` is exactly one plain SGD step). ``vmap``/``jit`` are
dropped (batched layers compute the same thing); JAX's ``(n, m)`` weight layout becomes ``(m, n)`` kernels.
Data: torchvision MNIST (downloaded) is replaced by scikit-learn's digits blown up 2x2 and centred in 28x28
frames (0..255, about MNIST's ink density; see ``_mnist``), flattened to 784 float32 values, 1024 images cut
into eight batches of 128 in order (the notebook's loader does not shuffle), one-hot targets.
Fault label: lr_too_high. Fix (12a36f4c28): ``step_size = 0.0001``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "lr_too_high"
SOURCE = ("github:jax-ml/jax PR #159 (notebooks/neural_network_and_data_loading.ipynb@12a36f4c28^, "
          "fix 12a36f4c28)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

layer_sizes = [784, 512, 512, 10]  # program lines
layer_scale = 1e-2  # random_layer_params(..., scale=1e-2); the notebook's param_scale = 0.1 is never used
batch_size = 128
n_targets = 10


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like 28x28 uint8 digits at MNIST's ink density: scikit-learn's 8x8 digits (0..16) scaled to
    0..255, each pixel blown up 2x2 and centred in a 28x28 frame (about 12% ink pixels and a pixel sum near
    20k, MNIST: 19% and about 26k; ``_data.mnist_like``'s 3x3 blow-up has twice MNIST's ink, which would
    shift the stable step size of this summed, unscaled loss), then flattened like ``FlattenAndCast``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    n = 8 * batch_size
    imgs = np.kron(d.images[:n], np.ones((2, 2))) * (255.0 / 16.0)
    imgs = np.pad(imgs, ((0, 0), (6, 6), (6, 6)))
    x = np.clip(imgs, 0, 255).astype("uint8").reshape(n, -1).astype("float32")  # ravel, float32, no scaling
    return x, _data.one_hot(d.target[:n].astype("int64"), n_targets)


def _build(framework: str, step_size: float) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "keras":
        import keras

        init = keras.initializers.RandomNormal(stddev=layer_scale)

        class SummedNLL(keras.losses.Loss):
            """``loss = -np.sum(preds * targets)``: summed over classes and over the batch."""

            def __init__(self) -> None:
                super().__init__(reduction="sum", name="summed_nll")

            def call(self, y_true, y_pred):
                return -keras.ops.sum(y_pred * y_true, axis=-1)

        model = keras.Sequential([keras.Input((layer_sizes[0],))])
        for n in layer_sizes[1:-1]:
            model.add(keras.layers.Dense(n, activation="relu", kernel_initializer=init, bias_initializer=init))
        model.add(keras.layers.Dense(layer_sizes[-1], kernel_initializer=init, bias_initializer=init))
        model.add(keras.layers.Activation("log_softmax"))  # logits - logsumexp(logits)
        model.compile(loss=SummedNLL(), optimizer=keras.optimizers.SGD(learning_rate=step_size))
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}
    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(m, n) for m, n in zip(layer_sizes[:-1], layer_sizes[1:]))
            for layer in self.layers:  # random_layer_params: scale * normal for w and b
                nn.init.normal_(layer.weight, std=layer_scale)
                nn.init.normal_(layer.bias, std=layer_scale)

        def forward(self, image):
            activations = image
            for layer in self.layers[:-1]:
                activations = torch.relu(layer(activations))
            logits = self.layers[-1](activations)
            return logits - torch.logsumexp(logits, dim=1, keepdim=True)

    class SummedNLL(nn.Module):
        def forward(self, preds, targets):
            return -torch.sum(preds * targets)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": MLP(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": SummedNLL(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=step_size)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, step_size=0.001)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, step_size=0.0001)
