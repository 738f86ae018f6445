"""piEsposito/blitz-bayesian-deep-learning (BLiTZ, a Bayes-by-Backprop library for PyTorch), its examples folder:
``blitz/examples/bayesian_regression_boston.py`` fits a ``@variational_estimator`` ``BayesianRegressor`` on the
Boston housing table (``load_boston``; X and y each through ``StandardScaler``; ``train_test_split(test_size=.25,
random_state=42)``): ``blinear1 = BayesianLinear(13, 512)``, ``blinear2 = BayesianLinear(512, 1)``, Adam(lr=0.01),
``nn.MSELoss()``, ``DataLoader(batch_size=16, shuffle=True)``, 1000 epochs, each step ``optimizer.zero_grad()``,
``loss = regressor.sample_elbo(inputs, labels, criterion, sample_nbr=3, complexity_cost_weight=1/X_train.shape[0])``,
``loss.backward()``, ``optimizer.step()``; every 100 iterations it prints the test set's 3-sigma interval accuracy
from 25 weight samples.

The fault (missing non-linearity): ``forward`` is ``x_ = self.blinear1(x); return self.blinear2(x_)``, with no
activation between the two layers, so the 512-wide "hidden layer" composes two affine maps into one: the network is
(a Bayesian version of) linear regression on the 13 features, whatever its width. It cannot fit the non-linear part
of the price (LSTAT, RM), and the training ELBO stays higher. PR #65 (piotr-rarus, "Fix: bayesian regression
example": "Without activation network doesn't converge and loss is all over the place."; the maintainer: "Seems
fine, gonna merge it."), commit 9683dd0, adds ``x_ = F.relu(x_)`` between the layers.

Source: github.com/piEsposito/blitz-bayesian-deep-learning ``blitz/examples/bayesian_regression_boston.py`` at
9683dd0^ (the file before the fix), fix 9683dd0ddb905682e0bcb34ebe1b4728a9735050, merged as PR #65 (b78920b); the
library at that commit: ``blitz/modules/linear_bayesian_layer.py``, ``blitz/modules/weight_sampler.py``,
``blitz/utils/variational_estimator.py`` (``sample_elbo``), ``blitz/losses/kl_divergence.py``.
Fault label: other:missing_hidden_activation (two stacked linear layers with nothing between them: a linear model).

Program lines kept: the data handling (both StandardScalers, the split), ``BayesianRegressor`` (13 -> 512 -> 1) and
its buggy / fixed ``forward``, Adam(0.01), ``nn.MSELoss()``, batch 16, and the step (``sample_elbo`` with
``sample_nbr=3``, ``complexity_cost_weight = 1 / 379``), given as ``train_step``; ``loss_fn`` is the criterion.
Ported: the library is not a dependency, so ``BayesianLinear`` is written here from its documented behaviour at the
fix commit, with its defaults: weight / bias mu ~ N(0, 0.1), rho ~ N(-7, 0.1), sigma = log1p(exp(rho)), a fresh
w = mu + sigma * eps on every forward, the prior N(0, 0.1) (``prior_pi = 1``, so the second mixture component is
unused), the layer's KL term = log q(w) - log p(w) summed over weights and biases (each with the library's -0.5 per
element), the model's KL the sum over both layers. Widths unchanged (a step is ~10 ms).
Keras twin: the same layer as a ``keras.layers.Layer`` (same init, sampling, prior and KL, the KL times 1/379 added
with ``add_loss``), ``Sequential([BayesianLinear(512), (ReLU in the fix), BayesianLinear(1)])`` compiled with
Adam(0.01) and MSE. One difference: Keras' ``fit`` takes one weight sample per step (``sample_nbr=1``) instead of
averaging three.
Data stand-in (no network, and ``load_boston`` is gone from scikit-learn): ``_data.boston_like`` (506 rows, the 13
raw columns in Boston's ranges, MEDV 5..50 with a hinge in RM and a curve in LSTAT), through the program's scaling
and split: 379 train / 127 test rows. ``batch`` is the first 16 training rows, ``batches`` the first 8 batches of
16 in order, ``inputs`` the 127 test rows, ``baseline_batch`` 128 training rows.

Measured (my own plain loops, /tmp/s48/h73_c/m_torch2.py, m_keras*.py, m_one.py, the module's builds; the program's
loop over the 379 rows in shuffled batches of 16; "train / test MSE" = MSE of the mean of 25 weight samples, on the
standardised target; OLS on the same split: train 0.182, test 0.252):
  torch (3-sample ELBO), epoch 1 / 25 / 50 / 100 / 200 / 400:
    buggy ELBO 88.5 / 2.11 / 1.83 / 1.64 / 1.83 / 1.71, test MSE 0.47 / 0.65 / 0.42 / 0.61 / 0.42 / 0.54
    fixed ELBO 87.0 / 2.01 / 1.75 / 1.55 / 1.54 / 1.41, test MSE 0.41 / 0.55 / 0.42 / 0.46 / 0.40 / 0.41
    mean ELBO over epochs 51-100 / 101-200 / 201-400: buggy 1.78 / 1.74 / 1.75, fixed 1.47 / 1.46 / 1.46.
    (The ELBO starts dominated by the KL term, ~87, while the posterior sigmas grow from softplus(-7).) The buggy
    net's weight means stay at the prior's scale (max |mu| 0.12) and its ELBO plateaus ~0.3 above the fixed one's;
    its test MSE is noisier and worse late (0.54 vs 0.41 at epoch 400), neither beats OLS on this stand-in.
  Keras (1-sample ELBO via fit), epoch 1 / 10 / 50 / 100: buggy loss 88.8 / 39.6 / 2.56 / 2.57, fixed 87.0 / 39.8 /
    2.47 / 2.23, fixed 2.02 at epoch 200; the buggy run went NaN between epoch 100 and 200 (in a second run at
    epoch 84, after its loss climbed 2.7 -> 9.7 over epochs 77-83 while its weight means grew to |mu| 1.2): a
    sampled |w| > ~1.44 underflows the library's prior density log(exp(log N(w; 0, 0.1))) to log 0 in float32.
    The fixed run stayed finite (|mu| <= 0.9). The torch buggy run did not go NaN in 400 epochs.
  One batch (the module's ``batch``), 1000 steps, ELBO at steps 1 / 100 / 500 / 1000: torch buggy 96.9 / 65.5 / 2.85
    / 1.80 (batch MSE of the mean 0.29), fixed 97.5 / 65.5 / 2.19 / 1.31 (0.23); Keras buggy 97.5 / 65.4 / 5.67 /
    2.35 (0.41), fixed 96.6 / 65.4 / 3.29 / 1.74 (0.18).
  So the fault shows, modestly: a higher, noisier training ELBO and (late) test error; most of the standardised
  price is linear, so the linear network is not far off, which matches the PR's "doesn't converge and loss is all
  over the place" rather than a flat failure.
  Time per step (batch 16, one thread): torch ~10 ms (3 samples), Keras fit ~8.5 ms. Builds: first torch 2.6 s,
  Keras 4.9 s (imports), later 0.0 s / 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._data import boston_like

from tests.real_programs._versions import versions

LABEL = "other:missing_hidden_activation"
SOURCE = ("github:piEsposito/blitz-bayesian-deep-learning PR #65 (blitz/examples/bayesian_regression_boston.py "
          "@9683dd0^, BayesianRegressor.forward without activation; fix 9683dd0ddb905682e0bcb34ebe1b4728a9735050 "
          "'x_ = F.relu(x_)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

IN_DIM = 13
HIDDEN = 512
BATCH_SIZE = 16
LR = 0.01
SAMPLE_NBR = 3
PRIOR_SIGMA_1 = 0.1
POSTERIOR_MU_INIT = 0.0
POSTERIOR_RHO_INIT = -7.0
N_BATCHES = 8
BASELINE = 128
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = boston_like()
    X = StandardScaler().fit_transform(X)
    y = StandardScaler().fit_transform(np.expand_dims(y, -1))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=.25, random_state=42)
    f = np.float32
    return X_train.astype(f), X_test.astype(f), y_train.astype(f), y_test.astype(f)


def _splits() -> dict[str, Any]:
    X_train, X_test, y_train, _ = _data()
    batches = [(X_train[i * BATCH_SIZE:(i + 1) * BATCH_SIZE], y_train[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
               for i in range(N_BATCHES)]
    return {"batches": batches, "inputs": X_test, "baseline_batch": (X_train[:BASELINE], y_train[:BASELINE]),
            "complexity_cost_weight": 1.0 / X_train.shape[0]}


LOG_SQRT2PI = float(np.log(np.sqrt(2 * np.pi)))


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BayesianLinear(nn.Module):  # blitz.modules.BayesianLinear's defaults, written out
        def __init__(self, in_features: int, out_features: int) -> None:
            super().__init__()
            self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).normal_(POSTERIOR_MU_INIT, 0.1))
            self.weight_rho = nn.Parameter(torch.empty(out_features, in_features).normal_(POSTERIOR_RHO_INIT, 0.1))
            self.bias_mu = nn.Parameter(torch.empty(out_features).normal_(POSTERIOR_MU_INIT, 0.1))
            self.bias_rho = nn.Parameter(torch.empty(out_features).normal_(POSTERIOR_RHO_INIT, 0.1))
            self.prior = torch.distributions.Normal(0, PRIOR_SIGMA_1)  # prior_pi = 1
            self.kl = torch.zeros(())

        def _sample(self, mu, rho):
            sigma = torch.log1p(torch.exp(rho))
            w = mu + sigma * torch.randn_like(mu)
            log_posterior = (-LOG_SQRT2PI - torch.log(sigma) - ((w - mu) ** 2) / (2 * sigma ** 2) - 0.5).sum()
            log_prior = (torch.log(torch.exp(self.prior.log_prob(w))) - 0.5).sum()
            return w, log_posterior - log_prior

        def forward(self, x):
            w, kl_w = self._sample(self.weight_mu, self.weight_rho)
            b, kl_b = self._sample(self.bias_mu, self.bias_rho)
            self.kl = kl_w + kl_b  # log_variational_posterior - log_prior
            return F.linear(x, w, b)

    class BayesianRegressor(nn.Module):
        def __init__(self, input_dim: int, output_dim: int) -> None:
            super().__init__()
            self.blinear1 = BayesianLinear(input_dim, HIDDEN)
            self.blinear2 = BayesianLinear(HIDDEN, output_dim)

        def forward(self, x):
            x_ = self.blinear1(x)
            if fixed:  # fix 9683dd0
                x_ = F.relu(x_)
            return self.blinear2(x_)

        def nn_kl_divergence(self):
            return self.blinear1.kl + self.blinear2.kl

        def sample_elbo(self, inputs, labels, criterion, sample_nbr, complexity_cost_weight=1):
            loss = 0
            for _ in range(sample_nbr):
                outputs = self(inputs)
                loss += criterion(outputs, labels)
                loss += self.nn_kl_divergence() * complexity_cost_weight
            return loss / sample_nbr

    torch.manual_seed(SEED)
    regressor = BayesianRegressor(IN_DIM, 1)
    s = _splits()
    ccw = s["complexity_cost_weight"]

    def train_step(model, optimizer, criterion, datapoints, labels):  # the loop body
        optimizer.zero_grad()
        loss = model.sample_elbo(inputs=datapoints, labels=labels, criterion=criterion, sample_nbr=SAMPLE_NBR,
                                 complexity_cost_weight=ccw)
        loss.backward()
        optimizer.step()
        return loss

    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in s["batches"]]
    return {"model": regressor, "batch": tb[0], "batches": tb, "inputs": t(s["inputs"]),
            "baseline_batch": tuple(t(a) for a in s["baseline_batch"]), "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=LR), "train_step": train_step}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    s = _splits()
    ccw = s["complexity_cost_weight"]

    class BayesianLinear(layers.Layer):
        def __init__(self, units: int, **kw: Any) -> None:
            super().__init__(**kw)
            self.units = units
            self.seed = keras.random.SeedGenerator(SEED)

        def build(self, input_shape):
            n_in = int(input_shape[-1])
            mu = keras.initializers.RandomNormal(POSTERIOR_MU_INIT, 0.1)
            rho = keras.initializers.RandomNormal(POSTERIOR_RHO_INIT, 0.1)
            self.weight_mu = self.add_weight(shape=(n_in, self.units), initializer=mu, name="weight_mu")
            self.weight_rho = self.add_weight(shape=(n_in, self.units), initializer=rho, name="weight_rho")
            self.bias_mu = self.add_weight(shape=(self.units,), initializer=mu, name="bias_mu")
            self.bias_rho = self.add_weight(shape=(self.units,), initializer=rho, name="bias_rho")

        def _sample(self, mu, rho):
            sigma = ops.log1p(ops.exp(rho))
            w = mu + sigma * keras.random.normal(ops.shape(mu), seed=self.seed)
            log_posterior = ops.sum(-LOG_SQRT2PI - ops.log(sigma) - ops.square(w - mu) / (2 * sigma ** 2) - 0.5)
            log_prob = -ops.square(w) / (2 * PRIOR_SIGMA_1 ** 2) - np.log(PRIOR_SIGMA_1) - LOG_SQRT2PI
            log_prior = ops.sum(ops.log(ops.exp(log_prob)) - 0.5)
            return w, log_posterior - log_prior

        def call(self, x):
            w, kl_w = self._sample(self.weight_mu, self.weight_rho)
            b, kl_b = self._sample(self.bias_mu, self.bias_rho)
            self.add_loss((kl_w + kl_b) * ccw)
            return ops.matmul(x, w) + b

    stack: list[Any] = [keras.Input((IN_DIM,)), BayesianLinear(HIDDEN, name="blinear1")]
    if fixed:  # fix 9683dd0
        stack.append(layers.ReLU())
    stack.append(BayesianLinear(1, name="blinear2"))
    model = keras.Sequential(stack, name="BayesianRegressor")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss="mse")
    return {"model": model, "batch": s["batches"][0], "batches": s["batches"], "inputs": s["inputs"],
            "baseline_batch": s["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
