"""PyOD's Deep SVDD outlier detector (yzhao062/pyod, ``pyod/models/deep_svdd.py``, PyTorch version): a
bias-free MLP (``Linear(n_features, 64, bias=False)``, ReLU, ``net_output`` = ``Linear(64, 32, bias=False)``,
ReLU) is trained to pull every embedding towards the hypersphere centre, loss
``mean(sum((outputs - c) ** 2, -1)) + w_d`` with ``w_d = 1e-6 * sum(||W||)``, Adam with
``weight_decay=l2_regularizer`` (0.1), batches of 32 of the standardised data. In the training loop the
line ``loss.backward()`` is commented out, so ``optimizer.zero_grad()`` leaves every ``.grad`` at None,
``optimizer.step()`` skips every parameter, and the network keeps its random initial weights: the
epoch loss stays flat (PR #704: 8.79, 9.05, 8.83, 8.91 over 40 epochs) and the anomaly scores come
from the untrained network.

Source: github.com/yzhao062/pyod issue #606 (and #641), PR #704 "Fix DeepSVDD not training due to
disabled backward pass", merged as commit 80e9ed85f54fa2dc1ea4b2df8b41fc27db690ac8; the program is
``pyod/models/deep_svdd.py`` at 80e9ed8^ (``InnerDeepSVDD._build_model``, ``DeepSVDD.fit``) with
``examples/deepsvdd_example.py`` (``generate_data(n_train=20000, n_features=300, contamination=0.1,
random_state=42)``, ``DeepSVDD(n_features=300, use_ae=False, epochs=5, random_state=10)``). The fix
uncomments ``loss.backward()`` and recomputes ``w_d`` inside the batch loop (built once before the epoch
loop, its graph would be freed by the first backward and the second would raise "Trying to backward
through the graph a second time"); it also moves the best-epoch bookkeeping out of the batch loop.
Program lines kept: ``hidden_neurons=[64, 32]``, ``hidden_activation='relu'``, ``bias=False`` layers
(PyTorch's default init), ``optimizer='adam'`` built as ``Adam(params, weight_decay=0.1)`` (default
lr 1e-3), ``batch_size=32``, ``StandardScaler`` preprocessing, ``torch.manual_seed(random_state=10)``,
and the centre actually used by the loss: ``fit`` sets ``self.c = 0.0`` and the loop reads
``self.c`` (``_init_c`` writes its centre to the inner module, which the loss never reads; that
separate defect, fixed later in d0d9eee, is kept as in the fix commit, so ``fixed`` still pulls the
embeddings towards 0).
Ported minimally: the batch loop body is ``train_step(model, optimizer, loss_fn, x, y) -> float``
(zero_grad, forward, distance, ``w_d``, [backward], step); ``loss_fn`` is the same objective without
``w_d`` (the target, the batch itself as in ``TensorDataset(X_norm, X_norm)``, is ignored).
Data: pyod's own ``generate_data`` / ``_generate_data`` lines (inliers ``coef * randn + offset``,
outliers uniform in [-offset, offset), ``RandomState(42)``) with ``n_train=512`` instead of 20000,
standardised as ``StandardScaler`` does, shuffled once (the DataLoader's ``shuffle=True``), float32.
Fault label: params_not_updated. Fix (80e9ed8): ``loss.backward()`` restored before
``optimizer.step()``, ``w_d`` recomputed every step.
No Keras twin: the bug lives in the PyTorch loop (pyod's earlier Keras DeepSVDD trained with ``fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:yzhao062/pyod issue #606, PR #704 (pyod/models/deep_svdd.py@80e9ed8^, "
          "examples/deepsvdd_example.py; fix 80e9ed8)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

contamination = 0.1  # examples/deepsvdd_example.py
n_train = 512  # the example's 20000, reduced through generate_data's own argument
n_features = 300
random_state = 10  # DeepSVDD(random_state=10) -> torch.manual_seed(10)
hidden_neurons = [64, 32]  # DeepSVDD defaults
batch_size = 32
l2_regularizer = 0.1


def _generate_data(seed: int = 42) -> np.ndarray:
    """pyod ``generate_data(n_train, n_features, contamination, random_state=42)`` (train part)."""
    rs = np.random.RandomState(seed)
    offset_ = rs.randint(low=10)
    coef_ = rs.random_sample() + 0.001
    n_outliers = int(n_train * contamination)
    n_inliers = n_train - n_outliers
    inliers = coef_ * rs.randn(n_inliers, n_features) + offset_
    outliers = rs.uniform(low=-1 * offset_, high=offset_, size=(n_outliers, n_features))
    return np.r_[inliers, outliers]


def _standardized() -> np.ndarray:
    x = _generate_data()
    x = (x - x.mean(axis=0)) / x.std(axis=0)  # StandardScaler().fit_transform(X)
    x = x[np.random.default_rng(0).permutation(len(x))]  # DataLoader(shuffle=True)
    return x.astype("float32")


def _build(framework: str, backward: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(random_state)

    class InnerDeepSVDD(nn.Module):  # program lines (use_ae=False path)
        def __init__(self, n_features, hidden_neurons):
            super().__init__()
            self.n_features = n_features
            self.hidden_neurons = hidden_neurons
            self.model = self._build_model()

        def _build_model(self):
            layers = nn.Sequential()
            layers.add_module('input_layer', nn.Linear(self.n_features, self.hidden_neurons[0], bias=False))
            layers.add_module('hidden_activation_e0', nn.ReLU())
            for i in range(1, len(self.hidden_neurons) - 1):
                layers.add_module(f'hidden_layer_e{i}',
                                  nn.Linear(self.hidden_neurons[i - 1], self.hidden_neurons[i], bias=False))
                layers.add_module(f'hidden_activation_e{i}', nn.ReLU())
                layers.add_module(f'hidden_dropout_e{i}', nn.Dropout(0.2))
            layers.add_module('net_output', nn.Linear(self.hidden_neurons[-2], self.hidden_neurons[-1], bias=False))
            layers.add_module(f'hidden_activation_e{len(self.hidden_neurons)}', nn.ReLU())
            return layers

        def forward(self, x):
            return self.model(x)

    c = 0.0  # ``self.c = 0.0`` in fit; the loop reads this, not the inner module's centre

    class SVDDObjective(nn.Module):
        """``torch.mean(torch.sum((outputs - self.c) ** 2, dim=-1))`` (the target is not used)."""

        def forward(self, outputs, target=None):
            return torch.mean(torch.sum((outputs - c) ** 2, dim=-1))

    stale_w_d: dict[int, Any] = {}

    def train_step(model, optimizer, loss_fn, batch_x, batch_y) -> float:
        optimizer.zero_grad()
        outputs = model(batch_x)
        dist = torch.sum((outputs - c) ** 2, dim=-1)
        if backward:  # the fix: w_d recomputed inside the batch loop
            w_d = 1e-6 * sum([torch.linalg.norm(w) for w in model.parameters()])
        else:  # built once before the epoch loop
            if id(model) not in stale_w_d:
                stale_w_d[id(model)] = 1e-6 * sum([torch.linalg.norm(w) for w in model.parameters()])
            w_d = stale_w_d[id(model)]
        loss = torch.mean(dist) + w_d
        if backward:  # the fix; the program had ``# loss.backward()``
            loss.backward()
        optimizer.step()
        return loss.item()

    x = torch.tensor(_standardized())
    batches = [(x[i:i + batch_size], x[i:i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]
    return {"model": InnerDeepSVDD(n_features, hidden_neurons), "batch": batches[0], "batches": batches,
            "loss_fn": SVDDObjective(),
            "optimizer": lambda p: optim.Adam(p, weight_decay=l2_regularizer),
            "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, backward=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, backward=True)
