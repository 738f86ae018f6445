"""Deep-Learning-TensorFlow's deep belief net fine-tuned with its ``cross_entropy`` cost, which
applies ``-mean(y*log(clip(out)) + (1-y)*log(clip(1-out)))`` to the *linear* output of the
"softmax layer" (``matmul(last_layer, softmax_W) + softmax_b``, no softmax), so the clipped logs see
raw scores: accuracy stays near chance.

Source: defects4ML bugs 004 and 005 (github.com/mohmehmo/defects4ml, bugs/004 and bugs/005; the same
one-line fix), i.e. gabrieleangeletti/Deep-Learning-TensorFlow commits 20d1b59 / 1bcc1ef, model.py
``_create_cost_function_node``: the fix adds ``model_output = tf.nn.softmax(model_output)`` in the
``cross_entropy`` branch. The program (command_line/run_dbn.py defaults with
``--finetune_loss_func=cross_entropy``, the only setting where the fix changes anything; the
benchmark's own run kept the default ``mean_squared``): one RBM layer of 256 units pretrained by
CD-1 (lr 0.01, batch 10, 10 epochs, W ~ N(0, 0.01), update divided by the batch size), its W and
hidden bias loaded into the fine-tuning layer (ReLU, keep_prob 1), softmax layer W ~
truncated_normal(0.1), b = 0.1; ``gradient_descent`` lr 0.01, batch 10, one-hot labels. Data: MNIST
(784 float32 in [0, 1], one-hot of 10) replaced offline by ``_data.mnist_like`` / 255, 300 rows
(pretraining included, done in numpy on the same rows with a seeded generator).
Fault label: output_activation|loss_mismatch (probability loss on unnormalised scores).
Fix: softmax the output inside the cost. Torch twin: the same layers and hand-written cost.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = "github:mohmehmo/defects4ml bugs/004, 005 (gabrieleangeletti/Deep-Learning-TensorFlow model.py, fix 20d1b59 / 1bcc1ef)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

_BATCH = 10


def _rows(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    imgs, y = _data.mnist_like(n)
    return (imgs.reshape(n, 784) / 255.0).astype("float32"), _data.one_hot(y, 10)


@functools.lru_cache(maxsize=1)
def _pretrained_rbm(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The program's RBM pretraining (rbm.py at 20d1b59: CD-1, binary units, lr 0.01, batch 10,
    10 epochs, shuffled each epoch) on the stand-in rows; returns (W, bh)."""
    x, _ = _rows()
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.01, (784, 256)).astype("float32")
    bh, bv = np.zeros(256, "float32"), np.zeros(784, "float32")

    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    for _ in range(10):
        data = x[rng.permutation(len(x))]
        for i in range(0, len(data), _BATCH):
            v = data[i:i + _BATCH]
            hprobs0 = sigmoid(v @ w + bh)
            hstates0 = (hprobs0 - rng.random(hprobs0.shape, "float32") > 0).astype("float32")
            vprobs = sigmoid(hprobs0 @ w.T + bv)
            hprobs1 = sigmoid(vprobs @ w + bh)
            w += 0.01 * (v.T @ hstates0 - vprobs.T @ hprobs1) / _BATCH
            bh += 0.01 * np.mean(hprobs0 - hprobs1, 0)
            bv += 0.01 * np.mean(v - vprobs, 0)
    return w, bh


def _xent(ops: Any, out: Any, ref: Any) -> Any:
    """model.py's ``cross_entropy`` cost (program lines)."""
    return -ops.mean(ref * ops.log(ops.clip(out, 1e-10, np.inf))
                     + (1 - ref) * ops.log(ops.clip(1 - out, 1e-10, np.inf)))


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _rows()
    w_pre, bh_pre = _pretrained_rbm()
    if framework == "keras":
        import keras
        from keras import layers, ops

        # program lines: models/rbm_models/dbn.py (_forward_pass, _create_softmax_layer)
        model = keras.Sequential([
            keras.Input((784,)),
            layers.Dense(256, activation="relu", kernel_initializer=keras.initializers.Constant(w_pre),
                         bias_initializer=keras.initializers.Constant(bh_pre)),
            layers.Dense(10, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1),
                         bias_initializer=keras.initializers.Constant(0.1)),
        ])

        def cost(y_true, y_pred):
            return _xent(ops, ops.softmax(y_pred, axis=-1) if fixed else y_pred, y_true)

        model.compile(loss=cost, optimizer=keras.optimizers.SGD(learning_rate=0.01))
        return {"model": model, "batch": (x[:_BATCH], y[:_BATCH]), "batches": _data.batches(x, y, _BATCH)[:5]}

    import torch
    import torch.nn as nn

    class tops:  # the keras.ops names _xent uses, on torch
        mean, log, clip = torch.mean, torch.log, torch.clip

    hidden = nn.Linear(784, 256)
    out = nn.Linear(256, 10)
    with torch.no_grad():
        hidden.weight.copy_(torch.tensor(w_pre.T))
        hidden.bias.copy_(torch.tensor(bh_pre))
        nn.init.trunc_normal_(out.weight, std=0.1, a=-0.2, b=0.2)
        out.bias.fill_(0.1)
    model = nn.Sequential(hidden, nn.ReLU(), out)

    def loss_fn(outputs, targets):
        return _xent(tops, torch.softmax(outputs, dim=1) if fixed else outputs, targets)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:_BATCH], yt[:_BATCH]), "batches": _data.batches(xt, yt, _BATCH)[:5],
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.SGD(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
