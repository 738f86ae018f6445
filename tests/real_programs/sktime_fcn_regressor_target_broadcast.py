"""sktime's ``FCNRegressorTorch`` (Fully Convolutional Network for time-series regression, PyTorch
back end): the network ends in ``Linear(128, 1)`` and emits ``(batch, 1)``, while
``BaseDeepRegressorTorch`` yields targets of shape ``(batch,)``; ``_run_epoch`` called
``self._criterion(y_pred, outputs)`` = ``MSELoss()((B, 1), (B,))``, which broadcasts to a ``(B, B)``
all-pairs matrix (PyTorch only warns "Using a target size ... different to the input size"). The
loss is the mean over B^2 pairs of which only B are real residuals, so its minimum is reached when
every sample predicts the batch mean of the targets: the regressor cannot fit individual targets.

Source: github.com/sktime/sktime issue #10931 ("[BUG] BaseDeepRegressorTorch mishandles (batch, 1)
network output in loss and predict"; affected: FCNRegressorTorch, MLPRegressorTorch,
SimpleRNNRegressorTorch, TapNetRegressorTorch), fixed by the merged PR #10932 ("[BUG] fix (batch, 1)
output handling in BaseDeepRegressorTorch": ``_run_epoch`` squeezes the trailing singleton of
``y_pred`` before the criterion). Program: ``sktime/regression/deep_learning/fcn/_fcn_torch.py``
(defaults ``filter_sizes=(128, 256, 128)``, ``kernel_sizes=(8, 5, 3)``, ReLU, ``init_weights=
"kaiming_uniform"``, ``batch_size=16``, ``optimizer="Adam"``, ``lr=0.01``, ``criterion="MSELoss"``)
and ``sktime/networks/fcn/_fcn_torch.py`` (``FCNNetworkTorch``: Conv1d(padding="same") -> BatchNorm1d
-> ReLU per block, AdaptiveAvgPool1d(1), squeeze, Linear(128, num_classes=1); kaiming-uniform conv
weights, zero conv biases; forward takes ``(batch, n_timesteps, n_dims)`` and transposes).
Ported minimally: the network lines as in sktime (``_safe_import`` replaced by plain torch imports);
the base class's dataloader transpose is done when building the batches; the
ReduceLROnPlateau callback is left out (it acts per epoch, not within the few steps here).
Data stand-in: the issue's reproducer used ``np.random.rand(12, 2, 20)`` with random targets (no
signal); here 64 seeded univariate series of length 24 (sktime's ``load_unit_test`` length), each a
noisy sine whose amplitude (0.5 to 2) is the regression target, float32, given as
``(batch, n_timesteps, n_dims) = (16, 24, 1)`` with targets ``(16,)`` as the base class yields them.
Fault label: target_shape. Fix (PR #10932): squeeze the ``(B, 1)`` prediction to ``(B,)`` before
``MSELoss`` (here: the fixed ``loss_fn`` does ``y_pred.squeeze(-1)`` when the shapes are (B, 1) vs (B,)).
Torch only: Keras 3 losses squeeze or expand a trailing singleton to the target's rank, so the
same code cannot broadcast to (B, B) there.
Own loop (150 Adam steps on ``batch``): buggy loss 1.93 -> 0.266 (= the batch targets' variance; the
per-sample MSE of the trained model is 0.266, every sample gets the batch mean), fixed 2.05 -> 0.0002.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = "github:sktime/sktime issue #10931, PR #10932 (regression/deep_learning/fcn/_fcn_torch.py, base/_base_torch.py _run_epoch)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

filter_sizes = (128, 256, 128)  # FCNRegressorTorch defaults
kernel_sizes = (8, 5, 3)
batch_size = 16
lr = 0.01
random_state = 0


def _data(n: int = 64, length: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Seeded noisy sines, amplitude = target; X as the dataloader hands it: (n, n_timesteps, 1)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, length)
    amp = rng.uniform(0.5, 2.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    x = amp[:, None] * np.sin(t[None, :] + phase[:, None]) + 0.1 * rng.standard_normal((n, length))
    return x[:, :, None].astype("float32"), amp.astype("float32")


def _build(squeeze: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(random_state)

    class FCNNetworkTorch(nn.Module):  # program lines (sktime/networks/fcn/_fcn_torch.py)
        def __init__(self, input_size, num_classes, filter_sizes=(128, 256, 128), kernel_sizes=(8, 5, 3),
                     init_weights="kaiming_uniform"):
            super().__init__()
            self.init_weights = init_weights
            self.conv_layers = nn.ModuleList()
            self.bn_layers = nn.ModuleList()
            in_channels = input_size
            for i in range(len(filter_sizes)):
                self.conv_layers.append(nn.Conv1d(in_channels=in_channels, out_channels=filter_sizes[i],
                                                  kernel_size=kernel_sizes[i], padding="same"))
                self.bn_layers.append(nn.BatchNorm1d(filter_sizes[i]))
                in_channels = filter_sizes[i]
            self.gap = nn.AdaptiveAvgPool1d(1)
            self.fc = nn.Linear(in_features=filter_sizes[-1], out_features=num_classes)
            self._hidden_activation = nn.ReLU()
            if self.init_weights is not None:
                self.apply(self._init_weights)

        def forward(self, X):
            x = X.transpose(1, 2)
            for conv, bn in zip(self.conv_layers, self.bn_layers):
                x = conv(x)
                x = bn(x)
                x = self._hidden_activation(x)
            x = self.gap(x)
            x = x.squeeze(-1)
            out = self.fc(x)
            return out

        def _init_weights(self, module):
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    module.bias.data.zero_()

    criterion = nn.MSELoss()

    def loss_fn(y_pred, outputs):
        # buggy _run_epoch: self._criterion(y_pred, outputs) with (B, 1) vs (B,)
        if squeeze and y_pred.ndim == 2 and y_pred.shape[1] == 1 and outputs.ndim == 1:
            y_pred = y_pred.squeeze(-1)  # the fix (PR #10932)
        return criterion(y_pred, outputs)

    x, y = _data()
    tb = [(torch.tensor(x[i:i + batch_size]), torch.tensor(y[i:i + batch_size]))
          for i in range(0, len(x) - batch_size + 1, batch_size)]
    model = FCNNetworkTorch(input_size=1, num_classes=1, filter_sizes=filter_sizes, kernel_sizes=kernel_sizes)
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(squeeze=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(squeeze=True)
