"""Machine Learning with PyTorch and Scikit-Learn (rasbt/machine-learning-book), chapter 13, "Project two
- classifying MNIST hand-written digits" (``ch13/ch13_part2.py`` / ``ch13_part2.ipynb``): torchvision MNIST
through ``transforms.ToTensor()`` (float pixels in [0, 1], shape (1, 28, 28)), ``DataLoader(batch_size=64,
shuffle=True)``, and an MLP built in a loop: ``nn.Flatten() -> Linear(784, 32) -> ReLU -> Linear(32, 16) ->
ReLU -> Linear(16, 10) -> nn.Softmax(dim=1)``, trained with ``nn.CrossEntropyLoss()`` and
``torch.optim.Adam(model.parameters(), lr=0.001)`` for 20 epochs.
The fault: the model ends in ``nn.Softmax(dim=1)``, but ``nn.CrossEntropyLoss`` takes logits and applies
its own log-softmax, so the loss is the cross-entropy of ``softmax(p)`` with ``p`` already probabilities.
Its gradient is damped by the softmax Jacobian, the loss can never go below ``-log(e / (e + 9)) = 1.46``
for 10 classes (a perfect, confident prediction still costs that much), and training slows and stalls.

Source: github.com/rasbt/machine-learning-book PR #7 ("ch13 softmax update", branch ``softmax-fix``),
merge d4b9be606b7d71f78a3ad625e1a80f34dce00e3b; fix commit 2a820dfd3fa7b3701bb6c00270bea4df1eb7a115 ("ch13
softmax update"), which deletes ``all_layers.append(nn.Softmax(dim=1))`` from ``ch13/ch13_part2.py`` (and
the notebook). Buggy file: ``ch13/ch13_part2.py`` at 2a820df^ (412c139). The book's errata (ERRATA/
old-errata, page 396) reports the same softmax-before-CrossEntropyLoss slip in the chapter 12 iris model.
Program lines kept: ``hidden_units = [32, 16]`` and the layer loop (Flatten, Linear + ReLU per hidden unit,
``Linear(hidden_units[-1], 10)``), the softmax layer (buggy), ``nn.CrossEntropyLoss()``, ``Adam(lr=0.001)``,
batch size 64, ``ToTensor`` scaling (pixels / 255, NCHW) and ``torch.manual_seed(1)`` before the model.
Ported minimally: the DataLoader's shuffled epochs are 6 fixed batches of 64 (384 images); the training
loop is the checks' own (the program's loop is plain: forward, loss, backward, step, zero_grad).
Keras twin: the same layers (``nn.Linear``'s default uniform init written out), the softmax written out
as a ``Lambda`` (so Keras 3 does not see a softmax activation and recover the logits) under
``SparseCategoricalCrossentropy(from_logits=True)`` -- the same fault as ``CrossEntropyLoss`` over
probabilities; Adam(learning_rate=0.001, epsilon=1e-8) as in torch.
Data stand-in (MNIST is a download): ``_data.mnist_like`` -- scikit-learn's bundled 8x8 digits blown up to
28x28 uint8 (0..255), labels 0..9, then ``ToTensor``'s / 255: same shape, dtype and value range, real
signal.
Fault label: output_activation|loss_mismatch (softmax output into a loss that expects logits).
Fix (2a820df): no softmax layer; the last ``Linear(16, 10)`` gives logits to ``nn.CrossEntropyLoss``.

Symptom in a short loop (my own loop: torch ``opt.zero_grad(); loss_fn(model(x), y).backward();
opt.step()``, Keras ``train_on_batch``; seeds as the module sets them, OMP_NUM_THREADS=1; ~0.4 ms a step in
torch, ~1.8 ms in Keras). Loss at steps 1/50/100/200/300/600, cycling over the 6 batches: torch buggy
2.301 -> 2.016 -> 1.714 -> 1.595 -> 1.574 -> 1.567, fixed 2.293 -> 1.185 -> 0.331 -> 0.086 -> 0.051 ->
0.010; Keras buggy 2.303 -> 2.111 -> 1.901 -> 1.548 -> 1.495 -> 1.479, fixed 2.326 -> 1.505 -> 0.563 ->
0.112 -> 0.088 -> 0.023. One batch of 64, same steps: torch buggy 2.301 -> 1.852 -> 1.706 -> 1.563 ->
1.464 -> 1.462 (the 1.461 floor), fixed 2.293 -> 0.801 -> 0.085 -> 0.011 -> 0.004 -> 0.001; Keras buggy
2.303 -> 2.041 -> 1.738 -> 1.518 -> 1.464 -> 1.462, fixed 2.326 -> 1.260 -> 0.223 -> 0.017 -> 0.006 ->
0.001. The argmax still learns (after 600 cycled steps torch accuracy on the 384 images 0.90 buggy vs
1.00 fixed), so the program "works" while its loss sits near 1.5 and its outputs are probabilities in
[0, 1] summing to 1, not logits. The initial loss is log 10 either way, so an init-loss check cannot
see it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:rasbt/machine-learning-book PR #7 (ch13/ch13_part2.py MNIST MLP@2a820df^, "
          "fix 2a820dfd3fa7b3701bb6c00270bea4df1eb7a115, merge d4b9be606b7d71f78a3ad625e1a80f34dce00e3b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "logits", "num_classes": 10})]

batch_size = 64  # program lines
hidden_units = [32, 16]  # program lines
lr = 0.001  # program lines
n_batches = 6


def _data_np() -> tuple[np.ndarray, np.ndarray]:
    imgs, y = _data.mnist_like(batch_size * n_batches)
    x = (imgs.astype("float32") / 255.0)[:, None, :, :]  # transforms.ToTensor(): [0, 1], (N, 1, 28, 28)
    return x, y


def _build(framework: str, softmax_out: bool) -> dict[str, Any]:
    x, y = _data_np()
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(1)
        image_size = x.shape[1:]  # mnist_train_dataset[0][0].shape
        input_size = image_size[0] * image_size[1] * image_size[2]
        all_layers = [nn.Flatten()]
        for hidden_unit in hidden_units:
            layer = nn.Linear(input_size, hidden_unit)
            all_layers.append(layer)
            all_layers.append(nn.ReLU())
            input_size = hidden_unit
        all_layers.append(nn.Linear(hidden_units[-1], 10))
        if softmax_out:  # removed by the fix (2a820df)
            all_layers.append(nn.Softmax(dim=1))
        model = nn.Sequential(*all_layers)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        batches = _data.batches(xt, yt, batch_size)
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt,
                "loss_fn": nn.CrossEntropyLoss(),
                "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}

    if framework != "keras":
        raise ValueError(framework)
    import keras

    keras.utils.set_random_seed(1)

    def torch_like_dense(n_in: int, n_out: int, **kw) -> keras.layers.Dense:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return keras.layers.Dense(n_out, kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                                  bias_initializer=keras.initializers.RandomUniform(-bound, bound), **kw)

    def softmax_written_out(z):  # nn.Softmax(dim=1), not recognised by Keras' from_logits shortcut
        e = keras.ops.exp(z - keras.ops.max(z, axis=-1, keepdims=True))
        return e / keras.ops.sum(e, axis=-1, keepdims=True)

    xk = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # channels last, (N, 28, 28, 1)
    layers = [keras.Input(xk.shape[1:]), keras.layers.Flatten()]
    input_size = int(np.prod(xk.shape[1:]))
    for hidden_unit in hidden_units:
        layers.append(torch_like_dense(input_size, hidden_unit, activation="relu"))
        input_size = hidden_unit
    layers.append(torch_like_dense(hidden_units[-1], 10))
    if softmax_out:
        layers.append(keras.layers.Lambda(softmax_written_out))
    model = keras.Sequential(layers)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # nn.CrossEntropyLoss
                  optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8), metrics=["accuracy"])
    batches = _data.batches(xk, y, batch_size)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=False)
