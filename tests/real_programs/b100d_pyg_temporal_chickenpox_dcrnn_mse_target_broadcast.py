"""benedekrozemberczki/pytorch_geometric_temporal (PyTorch Geometric Temporal), the documentation's introduction
(``docs/source/notes/introduction.rst``), case study "Epidemiological Forecasting": the Hungarian chickenpox table
(``ChickenpoxDatasetLoader``: 20 counties, a static graph of neighbouring counties, node features = the 4 previous
weeks of the county's standardised weekly case series, target = the next week, 517 weekly snapshots), split with
``temporal_signal_split(dataset, train_ratio=0.2)`` (the first 103 snapshots train, 414 test). The model
``RecurrentGCN``: ``DCRNN(node_features, 32, 1)`` -> ``F.relu`` -> ``torch.nn.Linear(32, 1)``, trained with
``torch.optim.Adam(model.parameters(), lr=0.01)`` for 200 epochs; every epoch sums the loss of all training snapshots,
divides by their number and takes one optimizer step.

The fault (the loss does not fit the target's shape): the per-snapshot loss is ``torch.mean((y_hat-snapshot.y)**2)``
with ``y_hat`` of shape (20, 1) (one output per county) and ``snapshot.y`` of shape (20,). PyTorch broadcasts the
difference to a (20, 20) matrix: every county's prediction is compared with the targets of all 20 counties, and the
minimiser of that loss predicts, for every county, the mean of that week's targets over the counties. The model can no
longer learn a county's own next week from its own lags; only the part shared by all counties is left to learn, and
the loss it reports stays near the targets' variance. The commit message of the fix says it: "y_hat is of dimension
[N,1] and snapshot.y is of dimension [N]. If subtracted without first removing the trailing dimension of y_hat, then
the operation is broadcast to [N,N]. Instead a N-dimensional vector is expected which is then used to compute the MSE."
The documented test MSE went from 1.0232 to 0.7302 with the fix (and 0.7760 -> 0.5114 in the web-traffic example of
the same page, fixed in the same commit).

Source: github.com/benedekrozemberczki/pytorch_geometric_temporal ``docs/source/notes/introduction.rst`` at
7f2ca6db4921934440043d0ef3ee5af0ae4d9f10 (= 1c081e3^), with ``torch_geometric_temporal/nn/recurrent/dcrnn.py``
(``DConv``, ``DCRNN``), ``torch_geometric_temporal/dataset/chickenpox.py`` and ``signal/train_test_split.py`` at the
same commit; PR #233 "Fix numerical bug in introduction.rst examples" (fixes issue #231), fixing commit
1c081e3b922a469c8fc7307a90937738370ced92: ``cost = cost + torch.mean((y_hat.squeeze() - snapshot.y)**2)`` in the
training and evaluation loops; merged in c46bf0b335309cef70d162d82d96ec85f83eefaf.
Fault label: target_shape (a (N, 1) prediction against an (N,) target, broadcast to (N, N) inside the MSE).

Program lines kept: ``RecurrentGCN`` as written, ``DCRNN`` with its gate methods as written, ``DConv``'s parameters
(``weight`` of shape (2, K, in, out), Xavier-uniform, zero bias) and its K = 1 computation ``X @ W[0][0] + X @ W[1][0]
+ bias``; ``Adam(lr=0.01)``; the loop's ``cost = cost + torch.mean((y_hat-snapshot.y)**2)`` / ``cost = cost /
(time+1)`` (buggy) and ``torch.mean((y_hat.squeeze() - snapshot.y)**2)`` (fixed), as ``loss_fn`` over a stack of
snapshots; the feature / target construction of ``ChickenpoxDatasetLoader`` (``stacked_target[i : i + lags, :].T``,
``stacked_target[i + lags, :].T``, lags = 4) and the 0.2 temporal split. Nothing shrunk.
Replaced: torch_geometric is not installed, so ``DConv`` is a plain ``nn.Module``: with K = 1 the propagation terms
are skipped in the original too (``if self.weight.size(1) > 1``), so the graph (``edge_index``, ``edge_weight``) never
reaches the output and the model is the same function of ``x``; the degree / adjacency bookkeeping whose results only
the K > 1 branch reads is left out. ``RecurrentGCN.forward`` also takes a stack of snapshots (weeks, 20, 4) and runs
the program's per-snapshot forward on each (the loop ``for time, snapshot in enumerate(train_dataset)``), returning
(weeks, 20, 1), so that one ``model(x)`` / ``loss_fn`` / ``step`` is one epoch of the program. The program sets no seed
at the buggy commit (``torch.manual_seed(1)`` came later, a586da8); here ``torch.manual_seed(0)`` before the model.
Ported: torch only (the fault is PyTorch broadcasting inside a hand-written MSE of a PyTorch Geometric Temporal
example; there is no Keras program to twin).
Data stand-in (no chickenpox.json download): 20 county series of 521 weeks from a pooled AR(4) process whose
coefficients (-0.677, -0.347, -0.167, -0.038 on lags 1..4) I fitted by least squares to the real table's ``FX``
columns, driven by Student-t(5) shocks of which a share of 0.18 is common to all counties (the mean pairwise
correlation of the real columns; 0.17 in the stand-in), then standardised per county as ``FX`` is (values about
-6..6, the real ones -8.9..8.9; lag-1 autocorrelation -0.51 in both). 517 snapshots, 103 training, 414 test, as
with the real table. ``batch``: the whole training split (103, 20, 4) / (103, 20), the program's one batch per step;
``batches``: 10 distinct windows of 10 consecutive training weeks; ``inputs``: the first 128 test snapshots
(128, 20, 4).

Measured (my own plain loop, /tmp/s58/p/b100d/measure.py: the module's builds, the program's 200 epochs = 200 Adam
steps on ``batch``; test MSE is the correct per-county MSE over the 414 test snapshots; torch seed 0,
OMP_NUM_THREADS=1):
  test MSE of predicting 0: 0.999; of the oracle "this week's mean over counties" (what the buggy loss asks for): 0.786.
  epoch                 1       10      25      50      100     200
  buggy own loss      1.022   1.004   0.999   0.995   0.986   0.976
  buggy test MSE      0.990   0.857   0.875   0.880   0.888   0.907
  fixed own loss      1.030   0.839   0.688   0.674   0.662   0.646
  fixed test MSE      0.989   0.827   0.691   0.692   0.697   0.712
  (the documentation's figures on the real table: 1.0232 buggy, measured with the same broadcast metric, and 0.7302
  fixed.) The spread of the predictions across the 20 counties of a week (mean std) after 200 epochs: buggy 0.20,
  fixed 0.55: the buggy model's predictions for the counties of one week stay close together.
  Re-drawn initial weights (torch seeds 1 / 2 / 3, 200 epochs, /tmp/s58/p/b100d/measure2.py): test MSE buggy 0.889
  0.905 0.898, fixed 0.705 0.707 0.714.
  The 10 ``batches`` cycled for 100 steps (measure2.py): own loss, means of steps 0-9 / 45-54 / 90-99, buggy 1.032
  1.014 1.012, fixed 0.967 0.694 0.686.
  So the buggy model ends about where a model that ignores its inputs would be (0.91 vs 1.00; fixed 0.71), and its
  own loss barely falls (1.02 -> 0.98 in 200 steps, against 1.03 -> 0.65).
  Time: ~65 ms a step on ``batch`` (103 snapshot forwards), ~6.5 ms on a 10-week batch, either version; first build
  ~2.7 s (torch import), later builds ~1 ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:benedekrozemberczki/pytorch_geometric_temporal PR #233 'Fix numerical bug in introduction.rst "
          "examples' (docs/source/notes/introduction.rst 'Epidemiological Forecasting' "
          "'cost = cost + torch.mean((y_hat-snapshot.y)**2)' @7f2ca6db4921934440043d0ef3ee5af0ae4d9f10 = 1c081e3^, "
          "torch_geometric_temporal/nn/recurrent/dcrnn.py, dataset/chickenpox.py; fix "
          "1c081e3b922a469c8fc7307a90937738370ced92: 'torch.mean((y_hat.squeeze() - snapshot.y)**2)', merge c46bf0b)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {}),
          ("gradients_flow", {})]

LAGS = 4
N_COUNTIES = 20
N_WEEKS = 521  # rows of chickenpox.json's "FX"
TRAIN_RATIO = 0.2
HIDDEN = 32
LR = 0.01
N_BATCHES = 10
WEEKS_PER_BATCH = 10
N_INPUTS = 128
SEED = 0

# Stand-in process: a pooled AR(4) fitted by least squares to all counties of chickenpox.json's "FX" (coefficients on
# lags 1..4), the share of each week's shock common to all counties (their mean pairwise correlation in FX).
_AR = (-0.677, -0.347, -0.167, -0.038)
_COMMON = 0.18


@functools.lru_cache(maxsize=1)
def _series() -> np.ndarray:
    """(N_WEEKS, N_COUNTIES) float64: each county's weekly series, standardised per county like the 'FX' table."""
    r = np.random.default_rng(SEED)
    burn = 100
    t_all = N_WEEKS + burn
    shock = (np.sqrt(_COMMON) * r.standard_t(5, (t_all, 1))
             + np.sqrt(1 - _COMMON) * r.standard_t(5, (t_all, N_COUNTIES)))
    x = np.zeros((t_all, N_COUNTIES))
    for t in range(LAGS, t_all):
        x[t] = sum(a * x[t - 1 - k] for k, a in enumerate(_AR)) + shock[t]
    x = x[burn:]
    return (x - x.mean(0)) / x.std(0)


@functools.lru_cache(maxsize=1)
def _snapshots() -> tuple[np.ndarray, np.ndarray]:
    """ChickenpoxDatasetLoader._get_targets_and_features: features (S, 20, 4) = the 4 previous weeks of each county,
    targets (S, 20) = the next week; S = N_WEEKS - LAGS."""
    stacked_target = _series()
    features = [stacked_target[i: i + LAGS, :].T for i in range(stacked_target.shape[0] - LAGS)]
    targets = [stacked_target[i + LAGS, :].T for i in range(stacked_target.shape[0] - LAGS)]
    return np.stack(features).astype("float32"), np.stack(targets).astype("float32")


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    class DConv(torch.nn.Module):
        """dcrnn.py DConv with its K = 1 path (the diffusion steps run only for K > 1, so the graph is not used)."""

        def __init__(self, in_channels, out_channels, K, bias=True):
            super(DConv, self).__init__()
            assert K > 0
            self.in_channels = in_channels
            self.out_channels = out_channels
            self.weight = torch.nn.Parameter(torch.Tensor(2, K, in_channels, out_channels))
            if bias:
                self.bias = torch.nn.Parameter(torch.Tensor(out_channels))
            else:
                self.register_parameter("bias", None)
            self.__reset_parameters()

        def __reset_parameters(self):
            torch.nn.init.xavier_uniform_(self.weight)
            torch.nn.init.zeros_(self.bias)

        def forward(self, X, edge_index=None, edge_weight=None):
            Tx_0 = X
            H = torch.matmul(Tx_0, (self.weight[0])[0]) + torch.matmul(
                Tx_0, (self.weight[1])[0]
            )
            assert self.weight.size(1) == 1  # K = 1: no propagation terms
            if self.bias is not None:
                H += self.bias
            return H

    class DCRNN(torch.nn.Module):
        def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True):
            super(DCRNN, self).__init__()
            self.in_channels = in_channels
            self.out_channels = out_channels
            self.K = K
            self.bias = bias
            self._create_parameters_and_layers()

        def _create_update_gate_parameters_and_layers(self):
            self.conv_x_z = DConv(in_channels=self.in_channels + self.out_channels, out_channels=self.out_channels,
                                  K=self.K, bias=self.bias)

        def _create_reset_gate_parameters_and_layers(self):
            self.conv_x_r = DConv(in_channels=self.in_channels + self.out_channels, out_channels=self.out_channels,
                                  K=self.K, bias=self.bias)

        def _create_candidate_state_parameters_and_layers(self):
            self.conv_x_h = DConv(in_channels=self.in_channels + self.out_channels, out_channels=self.out_channels,
                                  K=self.K, bias=self.bias)

        def _create_parameters_and_layers(self):
            self._create_update_gate_parameters_and_layers()
            self._create_reset_gate_parameters_and_layers()
            self._create_candidate_state_parameters_and_layers()

        def _set_hidden_state(self, X, H):
            if H is None:
                H = torch.zeros(X.shape[0], self.out_channels).to(X.device)
            return H

        def _calculate_update_gate(self, X, edge_index, edge_weight, H):
            Z = torch.cat([X, H], dim=1)
            Z = self.conv_x_z(Z, edge_index, edge_weight)
            Z = torch.sigmoid(Z)
            return Z

        def _calculate_reset_gate(self, X, edge_index, edge_weight, H):
            R = torch.cat([X, H], dim=1)
            R = self.conv_x_r(R, edge_index, edge_weight)
            R = torch.sigmoid(R)
            return R

        def _calculate_candidate_state(self, X, edge_index, edge_weight, H, R):
            H_tilde = torch.cat([X, H * R], dim=1)
            H_tilde = self.conv_x_h(H_tilde, edge_index, edge_weight)
            H_tilde = torch.tanh(H_tilde)
            return H_tilde

        def _calculate_hidden_state(self, Z, H, H_tilde):
            H = Z * H + (1 - Z) * H_tilde
            return H

        def forward(self, X, edge_index=None, edge_weight=None, H=None):
            H = self._set_hidden_state(X, H)
            Z = self._calculate_update_gate(X, edge_index, edge_weight, H)
            R = self._calculate_reset_gate(X, edge_index, edge_weight, H)
            H_tilde = self._calculate_candidate_state(X, edge_index, edge_weight, H, R)
            H = self._calculate_hidden_state(Z, H, H_tilde)
            return H

    class RecurrentGCN(torch.nn.Module):
        def __init__(self, node_features):
            super(RecurrentGCN, self).__init__()
            self.recurrent = DCRNN(node_features, 32, 1)
            self.linear = torch.nn.Linear(32, 1)

        def forward(self, x, edge_index=None, edge_weight=None):
            if x.dim() == 3:  # a stack of weekly snapshots (weeks, counties, lags): the loop over train_dataset
                return torch.stack([self.forward(snapshot_x, edge_index, edge_weight) for snapshot_x in x])
            h = self.recurrent(x, edge_index, edge_weight)
            h = F.relu(h)
            h = self.linear(h)
            return h

    torch.manual_seed(SEED)
    model = RecurrentGCN(node_features=LAGS)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def loss_fn(y_hats: Any, ys: Any) -> Any:
        """The cost of the training loop: the per-snapshot MSE summed over the weeks, divided by their number."""
        cost = 0
        for time, (y_hat, snapshot_y) in enumerate(zip(y_hats, ys)):
            if fixed:  # 1c081e3
                cost = cost + torch.mean((y_hat.squeeze() - snapshot_y)**2)
            else:  # y_hat (20, 1) - y (20,) broadcasts to (20, 20)
                cost = cost + torch.mean((y_hat-snapshot_y)**2)
        cost = cost / (time+1)
        return cost

    x, y = _snapshots()
    n_train = int(TRAIN_RATIO * len(x))  # temporal_signal_split(dataset, train_ratio=0.2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batch = (xt[:n_train], yt[:n_train])  # the whole training split: one optimizer step per epoch
    batches = [(xt[i:i + WEEKS_PER_BATCH], yt[i:i + WEEKS_PER_BATCH])
               for i in range(0, N_BATCHES * WEEKS_PER_BATCH, WEEKS_PER_BATCH)]
    return {"model": model, "batch": batch, "batches": batches, "inputs": xt[n_train:n_train + N_INPUTS],
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
