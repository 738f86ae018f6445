"""GluonTS torch DeepAR: ``default_scale=0.0`` gives windows with an all-padding context a scale of 1e-10.

Source
  Repository awslabs/gluonts. Buggy version: the parent of 268f68055eaeedde1dfcc5691e0c97cd554fa9e6, i.e.
  5b73d2182b1219ac9869bc53c69083d8a9201859 (release 0.13), files src/gluonts/torch/model/deepar/module.py
  (``DeepARModel``), estimator.py (``DeepAREstimator``), lightning_module.py, src/gluonts/torch/scaler.py
  (``MeanScaler``), torch/util.py (``lagged_sequence_values``), torch/distributions/distribution_output.py
  (``NormalOutput``, ``PtArgProj``). The option came in with cd7e472 (PR #2553) and the default 0.0 with #2600.
  Report: issue #2884 "Strange behaviour of `DeepAREstimator` with `NormalOutput`" (the README example on the
  AirPassengers series, 36 months held out, ``prediction_length=12, freq="M", distr_output=NormalOutput()``):
  train_loss 5.67 / 4.76 / 4.60 over three epochs with 0.12, but 9.3e+21 / 3.8e+22 / ... with 0.13.
  Fix: PR #2885 "Fix default scale in torch DeepAR" (commit 268f680): ``default_scale: Optional[float] = None``
  in the estimator and the module; the maintainer's words: "With `default_scale=0`, model training becomes
  highly unstable as soon as an 'empty' training window is encountered, in which case the `default_scale` value
  is used to scale the series ... This PR fixes the issue by setting `default_scale=None` by default, in which
  case the default scale value is taken from the rest of the batch".

Fault label
  The training instance splitter samples split points anywhere from the first time step on
  (``ExpectedNumInstanceSampler(num_instances=1.0, min_future=prediction_length)``, min_past 0), so about one
  window in 97 has a context of pure zero padding (observed indicator all 0). ``MeanScaler`` then uses
  ``default_scale`` for that row; with 0.0 it is clamped to ``minimum_scale`` = 1e-10. The teacher-forced
  future values (92..396 here) are divided by 1e-10 and fed to the LSTM as lags of about 1e12, and the
  Normal likelihood is rescaled by 1e-10, so the row's negative log-likelihood is about 1e24 and its gradient
  dwarfs every other row: the mean loss of a batch that holds such a window is astronomically high and the
  updates it drives (clipped to norm 10) slow the fit of the ordinary windows. The fix takes the batch's mean
  scale for such rows. The cause is a broken normalization of the inputs and targets by the model's own scaler:
  LABEL = "inputs_not_normalized|targets_not_normalized".

Kept verbatim
  ``default_scale: float = 0.0`` in ``DeepARModel.__init__`` (fixed: ``Optional[float] = None``), the body of
  ``MeanScaler.__call__``, ``prepare_rnn_input``, ``unroll_lagged_rnn`` (model part), the ``future_only=False``
  branch of ``DeepARModel.loss`` with ``aggregate_by=torch.mean`` and the lightning module's ``.mean()``,
  ``lagged_sequence_values``, ``NormalOutput.domain_map``, ``PtArgProj``, ``FeatureEmbedder`` (one feature),
  the age feature ``np.log10(2.0 + np.arange(length))`` and ``month_of_year`` ``(month - 1) / 11.0 - 0.5``.
  Defaults as the estimator sets them: context_length = prediction_length = 12, lags for "M"
  [1..7, 11, 12, 13, 23, 24, 25, 35, 36, 37] (minus one inside the model), past_length 48, 2 LSTM layers of 40
  with dropout 0.1, dummy ``feat_static_cat=[0]`` (cardinality [1], embedding 1) and ``feat_static_real=[0.0]``,
  num_feat_dynamic_real 2 (month of year + age), Adam lr 1e-3, weight_decay 1e-8, batch 32, 50 batches per epoch,
  Lightning's ``gradient_clip_val=10.0`` (norm clipping; hence ``train_step``). Nothing was shrunk.
Replaced
  GluonTS' transformation chain and ``InstanceSplitter`` by a numpy re-implementation of the same fields (past
  fields left-padded with zeros, observed indicator 0 on padding), and the sampler by the same Bernoulli draw
  per pass (p = 1/97 on split points 0..96, instances of one pass in time order, no shuffle buffer as by default).
  The checks call ``model(x)`` with one tensor, so x packs, per window, past_target (48) | past_observed_values
  (48) | past_time_feat (48 x 2) | future_time_feat (12 x 2) | future_target (12, the teacher-forced inputs the
  training unroll reads); the wrapper adds the constant static features. The model returns (B, 23, 3): the
  Normal's loc and scale from ``domain_map`` and the MeanScaler scale per row broadcast over time, which the loss
  needs (``AffineTransformed(Normal, scale=scale)``); y packs the 23 targets (last 11 context + 12 future) and
  their observed indicators. ReduceLROnPlateau (per epoch, patience 10) is left out.
Data stand-in
  AirPassengers (monthly, 144 values, 104..622; 108 for training) replaced by a seeded airline-like series: linear
  trend from 112 to about 430 times a 12-month multiplicative season (+-18 %) with 3 % noise, rounded, 144
  months (92..519, 92..396 in the 108 training months); training on the first 108, ``inputs`` are 128
  windows with split points in the last 36 months.

Measured (scripts/measure.py in this folder; torch CPU, 1 thread, SEED 0, the module's own builds,
  train_step = zero_grad / loss / backward / clip_grad_norm_(10) / step, 4 passes over the 50 batches = 200 steps)
  17 of the 50 batches hold an empty-context window (split point 0); ``batch`` (the loader's first) and
  ``baseline_batch`` (batches 0 and 1) hold none.
  Epoch mean train loss: buggy 1.45e+22 / 7.67e+22 / 9.99e+22 / 1.46e+23 (largest batch 8.4e+23, growing);
    fixed 5.59 / 4.85 / 4.66 / 4.29 (largest batch 6.73).
  Epoch mean over the 33 batches without an empty window (the same in both versions):
    buggy 5.76 / 4.87 / 4.82 / 4.68; fixed 5.65 / 4.85 / 4.66 / 4.28.
  Held-out ``inputs`` (128 windows in the last 36 months, none empty, so both versions scale them alike), NLL:
    7.43 at init in both; after 200 steps buggy 5.20, fixed 4.57.
  The first batch with an empty window (batch 6) repeated 100 steps: buggy 2.50e+22 -> 2.53e+22 -> 2.48e+22
    (steps 1 / 50 / 100, flat); fixed 6.64 -> 4.86 -> 4.68. ``batch`` repeated: 6.54 -> 4.77 -> 4.62 in both.
  Time: about 8 ms per step (batch 32); build about 3 s the first time (imports, data), 0.01 s later.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np

LABEL = "inputs_not_normalized|targets_not_normalized"
SOURCE = ("github:awslabs/gluonts issue #2884, PR #2885 (fix 268f68055eaeedde1dfcc5691e0c97cd554fa9e6 'Fix default "
          "scale in torch DeepAR'; src/gluonts/torch/model/deepar/module.py, estimator.py, lightning_module.py, "
          "src/gluonts/torch/scaler.py MeanScaler @5b73d2182b1219ac9869bc53c69083d8a9201859 = 268f680^)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {"task": "regression"})]

SEED = 0
PREDICTION_LENGTH = 12
CONTEXT_LENGTH = 12
LAGS_M = [1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 23, 24, 25, 35, 36, 37]  # get_lags_for_frequency("M")
PAST_LENGTH = CONTEXT_LENGTH + max(LAGS_M) - 1  # 48
N_TIME_FEAT = 2  # month_of_year, age
BATCH_SIZE = 32
N_BATCHES = 50  # num_batches_per_epoch
N_TOTAL, N_TRAIN = 144, 108
N_INPUTS = 128
X_WIDTH = 2 * PAST_LENGTH + PAST_LENGTH * N_TIME_FEAT + PREDICTION_LENGTH * N_TIME_FEAT + PREDICTION_LENGTH


@functools.lru_cache(maxsize=1)
def _series() -> tuple[np.ndarray, np.ndarray]:
    """Airline-like monthly series (144 values) and its time features (2, 144 + 12): month of year, log age."""
    r = np.random.default_rng(SEED)
    t = np.arange(N_TOTAL)
    trend = 112.0 + 2.2 * t
    season = 1.0 + 0.18 * np.sin(2 * np.pi * (t - 3) / 12) + 0.05 * np.sin(4 * np.pi * t / 12)
    y = np.round(trend * season * (1.0 + 0.03 * r.standard_normal(N_TOTAL))).astype("float32")
    months = (np.arange(N_TOTAL + PREDICTION_LENGTH) % 12) + 1  # the series starts in January
    month_of_year = (months - 1) / 11.0 - 0.5
    feat = np.stack([month_of_year, np.zeros_like(month_of_year)]).astype("float32")
    return y, feat


def _instance(target: np.ndarray, feat: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """InstanceSplitter at split point t (past left-padded with zeros), packed as the model's x and the loss's y."""
    length = len(target)
    age = np.log10(2.0 + np.arange(length, dtype="float32"))  # AddAgeFeature(log_scale=True), is_train
    time_feat = np.stack([feat[0, :length], age])  # VstackFeatures([FEAT_TIME, FEAT_AGE])
    observed = np.ones(length, "float32")  # AddObservedValuesIndicator (no NaN)
    lo = t - PAST_LENGTH
    pad = max(0, -lo)
    past_target = np.concatenate([np.zeros(pad, "float32"), target[max(lo, 0):t]])
    past_observed = np.concatenate([np.zeros(pad, "float32"), observed[max(lo, 0):t]])
    past_time_feat = np.concatenate([np.zeros((N_TIME_FEAT, pad), "float32"), time_feat[:, max(lo, 0):t]], 1).T
    future_target = target[t:t + PREDICTION_LENGTH]
    future_time_feat = time_feat[:, t:t + PREDICTION_LENGTH].T
    future_observed = observed[t:t + PREDICTION_LENGTH]
    x = np.concatenate([past_target, past_observed, past_time_feat.ravel(), future_time_feat.ravel(), future_target])
    y_target = np.concatenate([past_target[-(CONTEXT_LENGTH - 1):], future_target])
    y_observed = np.concatenate([past_observed[-(CONTEXT_LENGTH - 1):], future_observed])
    return x.astype("float32"), np.concatenate([y_target, y_observed]).astype("float32")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training windows as the estimator's loader yields them, and held-out windows in the last 36 months."""
    y, feat = _series()
    train = y[:N_TRAIN]
    r = np.random.RandomState(SEED)
    window = N_TRAIN - PREDICTION_LENGTH + 1  # split points 0..96 (min_past 0, min_future 12)
    points: list[int] = []
    while len(points) < N_BATCHES * BATCH_SIZE:  # ExpectedNumInstanceSampler(num_instances=1.0), one pass each
        (idx,) = np.where(r.random_sample(window) < 1.0 / window)
        points.extend(int(i) for i in idx)
    points = points[:N_BATCHES * BATCH_SIZE]
    xs, ys = zip(*[_instance(train, feat, t) for t in points])
    held = r.randint(N_TRAIN - PREDICTION_LENGTH + 1, N_TOTAL - PREDICTION_LENGTH + 1, N_INPUTS)
    xh, yh = zip(*[_instance(y, feat, int(t)) for t in held])
    return np.stack(xs), np.stack(ys), np.array(points), np.stack(xh), np.stack(yh)


def _build(default_scale_fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MeanScaler:
        def __init__(self, dim: int = -1, keepdim: bool = False, default_scale: Optional[float] = None,
                     minimum_scale: float = 1e-10) -> None:
            self.dim = dim
            self.keepdim = keepdim
            self.default_scale = default_scale
            self.minimum_scale = minimum_scale

        def __call__(self, data, observed_indicator):
            # shape: (N, [C], T=1)
            ts_sum = (data * observed_indicator).abs().sum(self.dim, keepdim=True)
            num_observed = observed_indicator.sum(self.dim, keepdim=True)

            scale = ts_sum / torch.clamp(num_observed, min=1)

            # If `default_scale` is provided, we use it, otherwise we use the scale
            # of the batch.
            if self.default_scale is None:
                batch_sum = ts_sum.sum(dim=0)
                batch_observations = torch.clamp(num_observed.sum(0), min=1)
                default_scale = torch.squeeze(batch_sum / batch_observations)
            else:
                default_scale = self.default_scale * torch.ones_like(scale)

            # apply default scale where there are no observations
            scale = torch.where(
                num_observed > 0,
                scale,
                default_scale,
            )

            # ensure the scale is at least `self.minimum_scale`
            scale = torch.clamp(scale, min=self.minimum_scale)

            scaled_data = data / scale

            if not self.keepdim:
                scale = scale.squeeze(dim=self.dim)

            loc = torch.zeros_like(scale)

            return scaled_data, loc, scale

    def lagged_sequence_values(indices, prior_sequence, sequence, dim):
        full_sequence = torch.cat((prior_sequence, sequence), dim=dim)
        lags_values = []
        for lag_index in indices:
            begin_index = -lag_index - sequence.shape[dim]
            end_index = -lag_index if lag_index > 0 else None
            lags_values.append(full_sequence[..., begin_index:end_index])  # slice_along_dim, dim=-1
        return torch.stack(lags_values, dim=-1)

    def take_last(a, dim, num):
        return a[..., -num:, :] if dim == -2 else a[..., -num:]

    def unsqueeze_expand(a, dim, size):
        a = a.unsqueeze(dim=dim)
        sizes = list(a.shape)
        sizes[dim] = size
        return a.expand(*sizes)

    def normal_domain_map(loc, scale):  # NormalOutput.domain_map
        scale = F.softplus(scale)
        return loc.squeeze(-1), scale.squeeze(-1)

    class PtArgProj(nn.Module):
        def __init__(self, in_features, args_dim, domain_map):
            super().__init__()
            self.args_dim = args_dim
            self.proj = nn.ModuleList([nn.Linear(in_features, dim) for dim in args_dim.values()])
            self.domain_map = domain_map

        def forward(self, x):
            params_unbounded = [proj(x) for proj in self.proj]
            return self.domain_map(*params_unbounded)

    class FeatureEmbedder(nn.Module):
        def __init__(self, cardinalities, embedding_dims):
            super().__init__()
            self._num_features = len(cardinalities)
            self._embedders = nn.ModuleList([nn.Embedding(c, d) for c, d in zip(cardinalities, embedding_dims)])

        def forward(self, features):
            cat_feature_slices = [features]
            return torch.cat([embed(cat_feature_slice.squeeze(-1))
                              for embed, cat_feature_slice in zip(self._embedders, cat_feature_slices)], dim=-1)

    class DeepARModel(nn.Module):
        def __init__(
            self,
            freq: str,
            context_length: int,
            prediction_length: int,
            num_feat_dynamic_real: int = 1,
            num_feat_static_real: int = 1,
            num_feat_static_cat: int = 1,
            cardinality: list[int] = [1],
            embedding_dimension: Optional[list[int]] = None,
            num_layers: int = 2,
            hidden_size: int = 40,
            dropout_rate: float = 0.1,
            lags_seq: Optional[list[int]] = None,
            scaling: bool = True,
            default_scale: float = 0.0,
            num_parallel_samples: int = 100,
        ) -> None:
            super().__init__()
            self.context_length = context_length
            self.prediction_length = prediction_length
            self.param_proj = PtArgProj(hidden_size, {"loc": 1, "scale": 1}, normal_domain_map)  # NormalOutput()
            self.num_feat_dynamic_real = num_feat_dynamic_real
            self.num_feat_static_cat = num_feat_static_cat
            self.num_feat_static_real = num_feat_static_real
            self.embedding_dimension = (
                embedding_dimension
                if embedding_dimension is not None or cardinality is None
                else [min(50, (cat + 1) // 2) for cat in cardinality]
            )
            self.lags_seq = lags_seq or LAGS_M
            self.lags_seq = [l - 1 for l in self.lags_seq]
            self.num_parallel_samples = num_parallel_samples
            self.past_length = self.context_length + max(self.lags_seq)
            self.embedder = FeatureEmbedder(
                cardinalities=cardinality,
                embedding_dims=self.embedding_dimension,
            )
            self.scaler = MeanScaler(dim=-1, keepdim=True, default_scale=default_scale)
            self.rnn_input_size = len(self.lags_seq) + self._number_of_features
            self.rnn = nn.LSTM(
                input_size=self.rnn_input_size,
                hidden_size=hidden_size,
                num_layers=num_layers,
                dropout=dropout_rate,
                batch_first=True,
            )

        @property
        def _number_of_features(self) -> int:
            return (
                sum(self.embedding_dimension)
                + self.num_feat_dynamic_real
                + self.num_feat_static_real
                + 1  # the log(scale)
            )

        def prepare_rnn_input(self, feat_static_cat, feat_static_real, past_time_feat, past_target,
                              past_observed_values, future_time_feat, future_target=None):
            context = past_target[..., -self.context_length :]
            observed_context = past_observed_values[..., -self.context_length :]

            input, _, scale = self.scaler(context, observed_context)
            future_length = future_time_feat.shape[-2]
            if future_length > 1:
                assert future_target is not None
                input = torch.cat(
                    (input, future_target[..., : future_length - 1] / scale),
                    dim=-1,
                )
            prior_input = past_target[..., : -self.context_length] / scale

            lags = lagged_sequence_values(
                self.lags_seq, prior_input, input, dim=-1
            )

            time_feat = torch.cat(
                (
                    take_last(past_time_feat, dim=-2, num=self.context_length - 1),
                    future_time_feat,
                ),
                dim=-2,
            )

            embedded_cat = self.embedder(feat_static_cat)
            static_feat = torch.cat(
                (embedded_cat, feat_static_real, scale.log()),
                dim=-1,
            )
            expanded_static_feat = unsqueeze_expand(
                static_feat, dim=-2, size=time_feat.shape[-2]
            )

            features = torch.cat((expanded_static_feat, time_feat), dim=-1)

            return torch.cat((lags, features), dim=-1), scale, static_feat

        def unroll_lagged_rnn(self, feat_static_cat, feat_static_real, past_time_feat, past_target,
                              past_observed_values, future_time_feat, future_target=None):
            rnn_input, scale, static_feat = self.prepare_rnn_input(
                feat_static_cat,
                feat_static_real,
                past_time_feat,
                past_target,
                past_observed_values,
                future_time_feat,
                future_target,
            )

            output, new_state = self.rnn(rnn_input)

            params = self.param_proj(output)
            return params, scale, output, static_feat, new_state

    class DeepARTrainingView(nn.Module):
        """Unpacks x into the batch fields and returns (loc, sigma, scale) per step of the training unroll."""

        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            b, p, f = x.shape[0], PAST_LENGTH, PREDICTION_LENGTH
            o = 0
            past_target = x[:, o:o + p]
            o += p
            past_observed_values = x[:, o:o + p]
            o += p
            past_time_feat = x[:, o:o + p * N_TIME_FEAT].reshape(b, p, N_TIME_FEAT)
            o += p * N_TIME_FEAT
            future_time_feat = x[:, o:o + f * N_TIME_FEAT].reshape(b, f, N_TIME_FEAT)
            o += f * N_TIME_FEAT
            future_target = x[:, o:o + f]
            feat_static_cat = torch.zeros(b, 1, dtype=torch.long)  # SetField(FEAT_STATIC_CAT, [0])
            feat_static_real = torch.zeros(b, 1)  # SetField(FEAT_STATIC_REAL, [0.0])
            params, scale, _, _, _ = self.model.unroll_lagged_rnn(
                feat_static_cat, feat_static_real, past_time_feat, past_target, past_observed_values,
                future_time_feat, future_target)
            loc, sigma = params
            return torch.stack([loc, sigma, scale.expand_as(loc)], dim=-1)

    def loss_fn(outputs, y):
        """DeepARModel.loss (future_only=False, aggregate_by=torch.mean) then the lightning module's .mean()."""
        n = CONTEXT_LENGTH - 1 + PREDICTION_LENGTH
        target, observed_values = y[:, :n], y[:, n:]
        loc, sigma, scale = outputs[..., 0], outputs[..., 1], outputs[..., 2]
        distr = torch.distributions.TransformedDistribution(  # AffineTransformed(Normal(loc, sigma), scale=scale)
            torch.distributions.Normal(loc, sigma), [torch.distributions.AffineTransform(loc=0.0, scale=scale)])
        loss_values = -distr.log_prob(target) * observed_values  # NegativeLogLikelihood
        return torch.mean(loss_values, dim=1).mean()

    def train_step(model, optimizer, loss_fn, x, y):  # Lightning: gradient_clip_val=10.0 (norm)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        return loss

    torch.manual_seed(SEED)
    model_kwargs: dict[str, Any] = dict(
        freq="M", context_length=CONTEXT_LENGTH, prediction_length=PREDICTION_LENGTH,
        num_feat_dynamic_real=1 + 0 + 1, num_feat_static_real=1, num_feat_static_cat=1, cardinality=[1],
        embedding_dimension=None, num_layers=2, hidden_size=40, dropout_rate=0.1, lags_seq=None, scaling=True)
    if default_scale_fixed:  # PR #2885: default_scale: Optional[float] = None
        model_kwargs["default_scale"] = None
    model = DeepARTrainingView(DeepARModel(**model_kwargs))
    model.train()
    optimizer = torch.optim.Adam(model.model.parameters(), lr=1e-3, weight_decay=1e-8)

    x, y, _, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    baseline_batch = (torch.cat([batches[0][0], batches[1][0]]), torch.cat([batches[0][1], batches[1][1]]))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step, "baseline_batch": baseline_batch}


def buggy(framework: str) -> dict[str, Any]:
    return _build(default_scale_fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(default_scale_fixed=True)
