"""Dive-into-DL-PyTorch (ShusenTang/Dive-into-DL-PyTorch), chapter 7.3 "小批量随机梯度下降" (mini-batch
SGD), the concise implementation ``train_pytorch_ch7``: a linear regression ``nn.Sequential(nn.Linear(5, 1))``
on NASA's airfoil self-noise data (the first 1500 rows, 5 features, every column standardised), trained with
``nn.MSELoss()`` and ``optim.SGD(lr=0.05)`` on shuffled batches of 10 for 2 epochs. The loss is computed as
``loss(net(X), y)``: the network outputs shape (10, 1) while ``y`` has shape (10,), so ``MSELoss``
broadcasts them to a (10, 10) matrix and averages every prediction against every target of the batch. The
gradient then pulls every prediction towards the batch mean of the targets: the weights shrink towards zero
and the loss stays near the targets' variance (the book's optimiser notebooks showed ~0.99 instead of ~0.24).

Source: github.com/ShusenTang/Dive-into-DL-PyTorch, docs/chapter07_optimization/7.3_minibatch-sgd.md (and
code/chapter07_optimization/7.3-7.7 notebooks) at aab87e897119a4d9319318612718d6ec2081251f^, fixed by
commit aab87e8 "fix bug on train_pytorch_ch7", which changes the training loss to
``loss(net(X).view(-1), y) / 2`` (and the evaluation loss likewise; "/ 2" to match the from-scratch
``squared_loss``); the notebooks' printed final losses move from 0.994/0.990/0.995/0.997 (7.4-7.7) to about
0.24-0.25. Program lines kept: ``get_data_ch7`` (``(data - data.mean(axis=0)) / data.std(axis=0)``, the
first 1500 rows, features ``data[:, :-1]`` and labels ``data[:, -1]`` as float32), ``net =
nn.Sequential(nn.Linear(features.shape[-1], 1))`` (PyTorch default init), ``loss = nn.MSELoss()``,
``optim.SGD`` with ``{"lr": 0.05}``, ``batch_size=10``, ``DataLoader(..., shuffle=True)``.
Ported minimally: the training loop (zero_grad, forward, loss, backward, step) is standard, so only the
loss differs: buggy ``nn.MSELoss()`` applied to the (N, 1) output and (N,) labels; fixed the same MSE on the
flattened output, halved. The batches are taken in order (the program shuffles).
Data: ``airfoil_self_noise.dat`` is downloaded by the book; here a seeded numpy stand-in of the same shape
and preprocessing: 1500 rows of five raw features with the airfoil's ranges (log-spread frequency in Hz,
angle of attack 0-22 deg, six chord lengths, four free-stream velocities, a displacement thickness growing
with the angle) and a sound-pressure-level target in dB that depends on them linearly plus noise (a linear
fit explains about half its variance, as on the real data), every column standardised with the program's
formula; the first 160 rows cut into 16 batches of 10.
Fault label: target_shape. Fix (aab87e8): ``loss(net(X).view(-1), y) / 2``.
No Keras twin: Keras's losses reduce the trailing axis and do not broadcast (N, 1) against (N,) this way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "target_shape"
SOURCE = ("github:ShusenTang/Dive-into-DL-PyTorch docs/chapter07_optimization/7.3_minibatch-sgd.md@aab87e8^ "
          "(fix aab87e8 'fix bug on train_pytorch_ch7')")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

batch_size = 10  # program lines
lr = 0.05


def _airfoil_like(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``get_data_ch7()`` on an airfoil-self-noise-shaped table: 5 raw features and a dB target, every
    column standardised with ``(data - data.mean(axis=0)) / data.std(axis=0)``, features float32 (n, 5),
    labels float32 (n,)."""
    rng = np.random.default_rng(seed)
    freq = np.exp(rng.uniform(np.log(200.0), np.log(20000.0), n))
    angle = rng.uniform(0.0, 22.2, n)
    chord = rng.choice([0.0254, 0.0508, 0.1016, 0.1524, 0.2286, 0.3048], n)
    velocity = rng.choice([31.7, 39.6, 55.5, 71.3], n)
    thickness = 0.0004 * np.exp(0.12 * angle) * (1 + 0.3 * rng.standard_normal(n) ** 2)
    spl = (150.0 - 3.2 * np.log(freq) - 0.25 * angle - 30.0 * chord + 0.08 * velocity
           - 150.0 * thickness + rng.normal(0.0, 4.0, n))
    data = np.stack([freq, angle, chord, velocity, thickness, spl], axis=1)
    data = (data - data.mean(axis=0)) / data.std(axis=0)
    return data[:, :-1].astype("float32"), data[:, -1].astype("float32")


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn, optim

    class HalvedFlatMSE(nn.Module):
        """The fix's loss: ``loss(net(X).view(-1), y) / 2``."""

        def __init__(self) -> None:
            super().__init__()
            self.mse = nn.MSELoss()

        def forward(self, output, target):
            return self.mse(output.view(-1), target) / 2

    features, labels = _airfoil_like()
    xt, yt = torch.tensor(features[:16 * batch_size]), torch.tensor(labels[:16 * batch_size])
    net = nn.Sequential(nn.Linear(features.shape[-1], 1))  # program lines
    return {"model": net, "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "inputs": xt,
            "loss_fn": HalvedFlatMSE() if fixed else nn.MSELoss(),
            "optimizer": lambda p: optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
