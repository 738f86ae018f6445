"""TALENT GrowNet regression: the weak learner's boosting target broadcasts to a (B, B) matrix.

What the program is
    TALENT (LAMDA-Tabular/TALENT) is a benchmark toolbox of deep tabular models. Its GrowNet method
    (``TALENT/model/methods/grownet.py``, a port of sbadirli/GrowNet) does gradient boosting with
    small two-hidden-layer MLPs (``MLP_2HL`` in ``TALENT/model/models/grownet.py``): at stage ``s``
    a fresh weak learner ``m`` is fitted with AdamW (lr 1e-4, weight decay 2e-4, ``epochs_per_stage``
    1, batch size 1024 from ``configs/deep_configs.json``) to the functional gradient of the squared
    error, ``grad_direction = -(out - y)``, where ``out`` is the ensemble's current prediction
    (``0`` before any learner is added); then (stage > 0) a corrective step trains the whole
    ensemble on ``F.mse_loss``-style ``MSELoss(out, y)``. Targets are standardised (``mean_std``),
    numeric features standardised, everything in float64 (``use_float`` False).

The fault
    ``out`` is reshaped to a column, ``.view(-1, 1)``, but the loader's regression target ``y`` has
    shape ``(B,)``. ``-(out - y)`` therefore broadcasts to a ``(B, B)`` matrix (``(1, B)`` at stage 0,
    where ``out`` is the scalar 0), and ``MSELoss(boost_rate * m_out, grad_direction)`` with the weak
    learner's ``(B, 1)`` output compares every prediction with every sample's target. The minimiser
    of that loss is the same value for every sample -- the batch mean of the residual -- so each
    weak learner is trained to output a constant and cannot learn which sample needs what; only the
    (correctly shaped) corrective step carries per-sample signal.

Source
    github:LAMDA-Tabular/TALENT PR #109 "Fix MSE shape-broadcast bugs in GrowNet training and TabNet
    loss reporting" (merged 2026-06-12), a follow-up of PR #92 / issue #64. Buggy line, e.g. at
    c9d24c8ab44f8fabb1b7213b28a03a107394ce54 (``TALENT/model/methods/grownet.py``)::

        grad_direction = -(out - y)

    fixed (PR #109) to ``grad_direction = -(out - y.view(-1, 1))`` with the comment "y is (B,) while
    out is (B,1): without the view the subtraction broadcasts to (B,B) and the MSE below is computed
    over wrong sample pairs." The PR description: "The gradient-boosting target ... therefore
    broadcast to a (B, B) matrix, and the subsequent MSELoss((B,1), (B,B)) was computed over wrong
    sample pairs -- silently degrading GrowNet regression training."

Program lines kept
    ``MLP_2HL`` (Linear -> LeakyReLU(0.1) -> BatchNorm1d -> Linear -> [hidden] -> ReLU -> Linear,
    ``.squeeze()`` on the output, the unused-at-stage-0 ``bn2``), ``DynamicNet`` ``boost_rate`` = 1.0
    (``ensemble_model.lr``), ``MSELoss()``, AdamW(lr=1e-4, weight_decay=2e-4) built on the weak
    learner's parameters, float64, the stage-0 boosting step
    ``loss = MSELoss(boost_rate * m_out.view(-1, 1), -(out - y))`` with ``out = 0``.

What was ported and how
    The checked model is the stage-0 weak learner (``dim_in`` = number of features, hidden_d 128 as
    in the default config); ``loss_fn(outputs, y)`` is the program's stage-0 boosting loss. The
    wrapper's forward returns ``m(x, None)[1].view(-1, 1)`` as the program does. CUDA calls dropped.
    Torch only: the bug is raw tensor arithmetic in a hand-written PyTorch boosting step.

Data stand-in
    scikit-learn's bundled diabetes regression set (442 x 10, real signal), 80/20 split (seed 0),
    features and target standardised with training statistics as TALENT does. The training split
    (353 rows) is under the batch size 1024, so one batch is the whole training set, as in the
    program's loader.

Fault label
    target_shape (the broadcast makes every weak learner regress to a constant: class_collapse is
    the visible consequence).

Fix
    ``grad_direction = -(out - y.view(-1, 1))``.

Measured (plain loops, /tmp/s47/h67_a/measure.py, CPU, one thread)
    (a) Stage-0 weak learner on the 353-row training batch, 500 AdamW steps (the program gives it
    one step per stage; more steps show where the objective leads). Buggy: program loss 1.042 ->
    1.000, true per-sample MSE 1.130 -> 1.001 (standardised target: 1.0 = predicting the mean),
    prediction std 0.199 -> 0.005, corr(pred, y) -0.05. Fixed: MSE 1.130 -> 0.418 (step 100) ->
    0.223 (step 500), prediction std 0.82, corr 0.88. About 5 ms a step.
    (b) Whole GrowNet loop as written (60 stages, one boosting step and one corrective step per
    stage, DynamicNet forward, corrective AdamW lr/3 on the new learner): best test RMSE buggy 0.834
    (stage 7) vs fixed 0.792 (stage 14); stage 20 test RMSE 0.915 vs 0.852. The end-to-end harm is
    moderate on this stand-in because the corrective step uses correctly shaped targets and carries
    the per-sample signal; the weak-learner fit itself learns nothing per-sample.
    Sizes kept (hidden_d 128, batch 1024 > training set); nothing shrunk.
"""

from __future__ import annotations

from typing import Any

LABEL = "target_shape|class_collapse"
SOURCE = ("github:LAMDA-Tabular/TALENT PR #109 (TALENT/model/methods/grownet.py@c9d24c8, "
          "grad_direction = -(out - y) -> -(out - y.view(-1, 1)); follow-up of PR #92, issue #64)")
FRAMEWORKS = ("torch",)
CHECKS = [
    ("overfit_one_batch", {"task": "regression"}),
    ("loss_decreases", {"task": "regression"}),
    ("not_constant_predictions", {"task": "regression"}),
    ("input_independent_baseline", {"task": "regression"}),
]

HIDDEN_D = 128
BOOST_RATE = 1.0  # ensemble_model.lr in configs/default/grownet.json
LR = 1e-4
WEIGHT_DECAY = 2e-4
BATCH_SIZE = 1024


def _data():
    import numpy as np
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = idx[:n_train], idx[n_train:]
    mu, sd = x[tr].mean(0), x[tr].std(0)
    ym, ys = y[tr].mean(), y[tr].std()
    xs = (x - mu) / sd
    yt = (y - ym) / ys
    return xs[tr], yt[tr], xs[te], yt[te]


def _build(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    class MLP_2HL(nn.Module):
        def __init__(self, dim_in, dim_hidden1, dim_hidden2, dim_out):
            super().__init__()
            self.in_layer = nn.Linear(dim_in, dim_hidden1)
            self.dropout_layer = nn.Dropout(0.0)
            self.lrelu = nn.LeakyReLU(0.1)
            self.relu = nn.ReLU()
            self.hidden_layer = nn.Linear(dim_hidden1, dim_hidden2)
            self.out_layer = nn.Linear(dim_hidden2, dim_out)
            self.bn = nn.BatchNorm1d(dim_hidden1)
            self.bn2 = nn.BatchNorm1d(dim_in)

        def forward(self, x, lower_f):
            if lower_f is not None:
                x = torch.cat([x, lower_f], dim=1)
                x = self.bn2(x)
            out = self.lrelu(self.in_layer(x))
            out = self.bn(out)
            out = self.hidden_layer(out)
            return out, self.out_layer(self.relu(out)).squeeze()

    class Stage0WeakLearner(nn.Module):
        """The stage-0 learner as the boosting step calls it: ``m(embed_input(x), None)``."""

        def __init__(self, dim_in):
            super().__init__()
            self.m = MLP_2HL(dim_in, HIDDEN_D, HIDDEN_D, 1)

        def forward(self, x):
            _, out = self.m(x, None)
            return out.view(-1, 1)

    xtr, ytr, _, _ = _data()
    x = torch.tensor(xtr, dtype=torch.float64)
    y = torch.tensor(ytr, dtype=torch.float64)
    model = Stage0WeakLearner(x.shape[1]).double()
    boost_rate = torch.tensor(BOOST_RATE, dtype=torch.float64)
    loss_f1 = nn.MSELoss()

    def loss_fn(outputs, target):
        # stage 0: DynamicNet.forward returns (None, 0); the program views it as a column
        ens_out = torch.as_tensor(0, dtype=torch.float64).view(-1, 1)
        if fix:
            grad_direction = -(ens_out - target.view(-1, 1))  # PR #109
        else:
            grad_direction = -(ens_out - target)  # (1, B) -> MSELoss broadcasts to (B, B)
        return loss_f1(boost_rate * outputs.view(-1, 1), grad_direction)

    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    batch = (x[:BATCH_SIZE], y[:BATCH_SIZE])
    return {"model": model, "batch": batch, "batches": [batch], "inputs": batch[0],
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fix=True)
