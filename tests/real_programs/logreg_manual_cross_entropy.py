"""Softmax regression trained on a hand-written cross-entropy ``-mean(y*log(p) + (1-y)*log(1-p))``
of the softmax output: once a probability saturates to exactly 1.0 (or 0.0) in float32,
log(0) = -inf times 0 gives NaN and training is lost.

Source: defects4ml bug 003 (github.com/mohmehmo/defects4ml @d2d823d, bugs/003/conf.ini: "Because of
implementing cross_entropy manually, in some cases it shows nan value"), upstream commit
github.com/gabrieleangeletti/Deep-Learning-TensorFlow/commit/726b371; program lines from
bugs/003/buggy/models/logistic_regression.py (softmax(x W + b), W and b zeros, AdamOptimizer) and
model.py (the cost), command_line/run_logistic_regression.py (learning_rate 0.01, batch_size 10,
loss_func cross_entropy). Data: MNIST stand-in flattened to 784, 0..1, one-hot labels.
Fault label: loss_not_finite (a numerically unsafe hand-written loss; labelled other:log_of_zero
until the plugin had a cause for a loss that is not finite at outputs the model can produce). Fix: the upstream clip, log(clip(p, 1e-10, inf)).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "loss_not_finite"
SOURCE = "defects4ml bug 003 = github:gabrieleangeletti/Deep-Learning-TensorFlow@726b371"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _data784() -> tuple[Any, Any]:
    imgs, y = _data.mnist_like(100)
    return (imgs.reshape(-1, 784).astype("float32") / 255.0), _data.one_hot(y, 10)


def _build(framework: str, clip: bool) -> dict[str, Any]:
    x, y = _data784()
    if framework == "keras":
        import keras
        from keras import ops

        def cost(ref, out):
            lo = ops.clip(out, 1e-10, float("inf")) if clip else out
            hi = ops.clip(1 - out, 1e-10, float("inf")) if clip else 1 - out
            return -ops.mean(ref * ops.log(lo) + (1 - ref) * ops.log(hi))

        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax",
                                                                         kernel_initializer="zeros")])
        model.compile(loss=cost, optimizer=keras.optimizers.Adam(learning_rate=0.01))
        return {"model": model, "batch": (x[:10], y[:10]), "batches": _data.batches(x, y, 10)}
    import torch

    def cost_t(out, ref):
        lo = out.clamp(min=1e-10) if clip else out
        hi = (1 - out).clamp(min=1e-10) if clip else 1 - out
        return -torch.mean(ref * torch.log(lo) + (1 - ref) * torch.log(hi))

    lin = torch.nn.Linear(784, 10)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    model = torch.nn.Sequential(lin, torch.nn.Softmax(dim=1))
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:10], yt[:10]), "batches": _data.batches(xt, yt, 10),
            "loss_fn": cost_t, "optimizer": lambda p: torch.optim.Adam(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
