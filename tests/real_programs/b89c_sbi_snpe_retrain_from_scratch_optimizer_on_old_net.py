"""sbi-dev/sbi (then mackelab/sbi, simulation-based inference in PyTorch), ``sbi/inference/snpe/snpe_base.py``
``SnpeBase._train`` as of 05b66c3c^ (June 2020): multi-round SNPE with ``retrain_from_scratch_each_round=True``.
Each round the posterior's density estimator is trained on the (theta, x) bank of all rounds with Adam
(``learning_rate=5e-4``, ``batch_size=100``, ``clip_max_norm=5.0``, 10 % validation split, early stopping); from
round 1 on SNPE-C (APT) uses the atomic proposal-posterior loss.

The fault (the training set-up of every round after the first): ``_train`` builds the optimizer first,
``optimizer = optim.Adam(list(self._posterior.net.parameters()), lr=learning_rate)``, and only then, if retraining
from scratch and ``round_ > 0``, replaces the posterior by a fresh copy, ``self._posterior =
deepcopy(self._untrained_neural_posterior)``. The optimizer therefore holds the parameters of the previous round's
net, which no longer takes part in the loss; the loss, the backward pass and the gradient clipping all go through
the new copy, whose parameters no optimizer steps. Every round after the first runs its epochs until early
stopping and returns the untrained estimator (its validation loss moves only by the noise of the atom draws); its
posterior is the random initial mixture, not p(theta | x_o). (The new copy's ``.grad`` is never zeroed either,
``optimizer.zero_grad()`` clears the old net's, but nothing reads it.)

Source: github.com/sbi-dev/sbi issue #200 "retrain_from_scratch bug" (a maintainer: when
``retrain_from_scratch=True`` we need to reset the optimizer, otherwise it points to the wrong nn and won't train
anything), fixed by 05b66c3c5734567c03595d7bcd3a56b40455f199 "#200, fix bug for retrain_from_scratch" (buggy
version: its parent, 05b66c3c^). The fix re-creates the optimizer right after the reset:
``self._posterior = deepcopy(self._untrained_neural_posterior); optimizer = optim.Adam(list(
self._posterior.net.parameters()), lr=learning_rate)`` (it also moves the untrained copy after the z-scoring set-up
and adds the option to SNL).
Fault label: params_not_updated (the optimizer steps the previous round's net; the net in the loss is never
updated).

Program lines kept: the loop of ``_train`` for round 1 (``optimizer.zero_grad()``; ``batch_loss =
torch.mean(self._loss(...))``; ``batch_loss.backward()``; ``clip_grad_norm_(self._posterior.net.parameters(),
max_norm=clip_max_norm)``; ``optimizer.step()``) as ``train_step``; the optimizer line and the deepcopy reset in the
buggy order (and the fix's extra optimizer line in the fixed build); lr 5e-4, batch 100, clip 5.0; SNPE-C's
``_log_prob_proposal_posterior`` (atoms drawn with ``torch.multinomial`` from the other thetas of the batch,
``num_atoms=10``, minus the prior's log prob, normalised over the atoms) with the default calibration kernel (ones);
pyknos' ``MultivariateGaussianMDN`` (the sbi ``posterior_nn("mdn")`` build: hidden net Linear(x, 50)-ReLU-
Dropout(0)-Linear(50, 50)-ReLU-Linear(50, 50)-ReLU, 20 full-covariance Gaussian components,
``custom_initialization=True``) with its ``get_mixture_components`` / ``log_prob`` / ``_initialize`` math.
Replaced / adapted: sbi's default estimator then was a MAF from nflows (not installed here); I use the library's
documented ``density_estimator="mdn"`` option instead, written out from pyknos (same layers, init and log-prob). The
MDN is called through ``log_prob(theta, context=x)`` in sbi; here ``model(x)`` returns the MDN's raw head outputs
(logits, means, unconstrained diagonals, upper triangles, concatenated) and ``loss_fn(outputs, theta)`` turns them
into the mixture and computes the atomic loss: repeating the rows of the outputs instead of re-running the net on
repeated x gives the same numbers (the net is row-wise and its dropout is 0). With an MDN, sbi's z-scoring embedding
is stored as ``net._embedding_net`` but never called by the MDN, so x enters unscaled, as here. The round-0 net
(the one the buggy optimizer holds) is left untrained in the build: the round-1 loss never reads it.
Data stand-in: the library's own multi-round test set-up (tests/linearGaussian_snpe_test.py
``test_c2st_multi_round_snpe_on_linearGaussian``): 2-D theta, prior N(0, I), simulator x = theta - 1 + N(0, 0.3 I),
x_o = 0, 2 rounds of 1000 simulations, num_atoms=10, ``discard_prior_samples=False`` (both rounds are trained on),
with ``retrain_from_scratch_each_round=True`` as in the issue. Round 1's thetas come from the round-0 posterior at
x_o; as a stand-in for a well-trained round-0 estimate I draw them from the true posterior N(0.769, 0.231 I). The
2000 pairs are shuffled and split 90 / 10 as ``_train`` does: ``batches`` = the 18 training batches of 100,
``batch`` the first, ``inputs`` the 200 validation x. Nothing was shrunk (the MDN is small).

Measured (my own plain loop, /tmp/s55/p/h89_c/measure.py: the module's builds, ``train_step`` over the 18 batches
in a reshuffled order each epoch, 30 epochs = 540 steps, torch seed 0, OMP_NUM_THREADS=1):
  training atomic loss, epoch means at epochs 1 / 5 / 10 / 20 / 30:
    buggy 2.30 2.30 2.30 2.30 2.30 (flat at log(10) = 2.30, all ten atoms equally likely, in every epoch);
    fixed 2.28 1.72 1.39 1.35 1.34.
  after the 30 epochs: validation atomic loss buggy 2.30 / fixed 1.31; largest change of any model parameter
    buggy 0.0 / fixed 0.16. Posterior at x_o (true: N(0.769, 0.231 I)): mean log q(theta | x_o) over 2000 true
    posterior draws buggy -2.66 / fixed -1.40 (the true density gives -1.39); posterior mean buggy (0.01, 0.01),
    std (1.00, 1.00), i.e. the initial mixture, fixed (0.80, 0.76), std (0.51, 0.49).
  Time per step (batch 100, one thread): ~10-13 ms. Build: first ~1.8 s (imports), later ~0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:sbi-dev/sbi issue #200, fix 05b66c3c5734567c03595d7bcd3a56b40455f199 '#200, fix bug for "
          "retrain_from_scratch' (sbi/inference/snpe/snpe_base.py SnpeBase._train@05b66c3c^, snpe/snpe_c.py "
          "_log_prob_proposal_posterior, utils/get_nn_models.py posterior_nn('mdn'), pyknos/mdn/mdn.py "
          "MultivariateGaussianMDN; tests/linearGaussian_snpe_test.py multi-round set-up)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

NUM_DIM = 2
NUM_SIMS = 1000  # num_simulations_per_round, 2 rounds
BATCH_SIZE = 100
LEARNING_RATE = 5e-4
CLIP_MAX_NORM = 5.0
NUM_ATOMS = 10
HIDDEN_FEATURES = 50
MDN_NUM_COMPONENTS = 20
VALIDATION_FRACTION = 0.1
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Theta and x banks of rounds 0 and 1, shuffled and split into training and validation pairs."""
    r = np.random.default_rng(SEED)
    shift, like_std = -1.0, np.sqrt(0.3)  # likelihood_shift = -1, likelihood_cov = 0.3 * eye
    post_var = 1.0 / (1.0 + 1.0 / 0.3)  # true posterior at x_o = 0 under the N(0, I) prior
    post_mean = post_var * (0.0 - shift) / 0.3
    theta0 = r.normal(0.0, 1.0, (NUM_SIMS, NUM_DIM))  # round 0: the prior
    theta1 = r.normal(post_mean, np.sqrt(post_var), (NUM_SIMS, NUM_DIM))  # round 1: stand-in proposal
    theta = np.concatenate([theta0, theta1]).astype("float32")
    x = (theta + shift + like_std * r.standard_normal(theta.shape)).astype("float32")
    perm = r.permutation(len(theta))
    n_train = int((1 - VALIDATION_FRACTION) * len(theta))
    tr, va = perm[:n_train], perm[n_train:]
    return x[tr], theta[tr], x[va], theta[va]


def _build(fixed: bool) -> dict[str, Any]:
    from copy import deepcopy

    import torch
    import torch.nn.functional as F
    from torch import nn, optim
    from torch.distributions import MultivariateNormal
    from torch.nn.utils import clip_grad_norm_

    class MultivariateGaussianMDN(nn.Module):
        """pyknos' MDN; ``forward`` returns the raw head outputs, ``mixture`` makes the components from them."""

        def __init__(self, features, context_features, hidden_features, hidden_net, num_components,
                     custom_initialization=False):
            super().__init__()
            self._features = features
            self._context_features = context_features
            self._hidden_features = hidden_features
            self._num_components = num_components
            self._num_upper_params = (features * (features - 1)) // 2
            self._row_ix, self._column_ix = np.triu_indices(features, k=1)
            self._diag_ix = range(features)
            self._hidden_net = hidden_net
            self._logits_layer = nn.Linear(hidden_features, num_components)
            self._means_layer = nn.Linear(hidden_features, num_components * features)
            self._unconstrained_diagonal_layer = nn.Linear(hidden_features, num_components * features)
            self._upper_layer = nn.Linear(hidden_features, num_components * self._num_upper_params)
            self._epsilon = 1e-2
            if custom_initialization:
                self._initialize()

        def forward(self, context):
            h = self._hidden_net(context)
            return torch.cat([self._logits_layer(h), self._means_layer(h), self._unconstrained_diagonal_layer(h),
                              self._upper_layer(h)], dim=-1)

        def mixture(self, raw):  # the rest of get_mixture_components
            k, d = self._num_components, self._features
            logits = raw[:, :k]
            means = raw[:, k:k + k * d].reshape(-1, k, d)
            unconstrained_diagonal = raw[:, k + k * d:k + 2 * k * d].reshape(-1, k, d)
            upper = raw[:, k + 2 * k * d:].reshape(-1, k, self._num_upper_params)
            diagonal = F.softplus(unconstrained_diagonal) + self._epsilon
            precision_factors = torch.zeros(means.shape[0], self._num_components, self._features, self._features)
            precision_factors[..., self._diag_ix, self._diag_ix] = diagonal
            precision_factors[..., self._row_ix, self._column_ix] = upper
            precisions = torch.matmul(torch.transpose(precision_factors, 2, 3), precision_factors)
            sumlogdiag = torch.sum(torch.log(diagonal), dim=-1)
            return logits, means, precisions, sumlogdiag, precision_factors

        def log_prob_raw(self, inputs, raw):  # log_prob(inputs, context) with raw = self(context)
            logits, means, precisions, sumlogdiag, _ = self.mixture(raw)
            batch_size, n_mixtures, output_dim = means.size()
            inputs = inputs.view(-1, 1, output_dim)
            a = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
            b = -(output_dim / 2.0) * np.log(2 * np.pi)
            c = sumlogdiag
            d1 = (inputs.expand_as(means) - means).view(batch_size, n_mixtures, output_dim, 1)
            d2 = torch.matmul(precisions, d1)
            d = -0.5 * torch.matmul(torch.transpose(d1, 2, 3), d2).view(batch_size, n_mixtures)
            return torch.logsumexp(a + b + c + d, dim=-1)

        def _initialize(self):
            self._logits_layer.weight.data = self._epsilon * torch.randn(self._num_components, self._hidden_features)
            self._logits_layer.bias.data = self._epsilon * torch.randn(self._num_components)
            self._unconstrained_diagonal_layer.weight.data = self._epsilon * torch.randn(
                self._num_components * self._features, self._hidden_features)
            self._unconstrained_diagonal_layer.bias.data = torch.log(
                torch.exp(torch.tensor([1 - self._epsilon])) - 1) * torch.ones(
                self._num_components * self._features) + self._epsilon * torch.randn(
                self._num_components * self._features)
            self._upper_layer.weight.data = self._epsilon * torch.randn(
                self._num_components * self._num_upper_params, self._hidden_features)
            self._upper_layer.bias.data = self._epsilon * torch.randn(self._num_components * self._num_upper_params)

    def posterior_nn_mdn() -> nn.Module:  # get_nn_models.posterior_nn(model="mdn", ...)
        return MultivariateGaussianMDN(
            features=NUM_DIM, context_features=NUM_DIM, hidden_features=HIDDEN_FEATURES,
            hidden_net=nn.Sequential(
                nn.Linear(NUM_DIM, HIDDEN_FEATURES), nn.ReLU(), nn.Dropout(p=0.0),
                nn.Linear(HIDDEN_FEATURES, HIDDEN_FEATURES), nn.ReLU(),
                nn.Linear(HIDDEN_FEATURES, HIDDEN_FEATURES), nn.ReLU()),
            num_components=MDN_NUM_COMPONENTS, custom_initialization=True)

    torch.manual_seed(SEED)
    prior = MultivariateNormal(loc=torch.zeros(NUM_DIM), covariance_matrix=torch.eye(NUM_DIM))
    posterior_net = posterior_nn_mdn()  # the round-0 estimator
    untrained_neural_posterior = deepcopy(posterior_net)  # kept at __init__ for retraining from scratch

    # _train, round_ = 1, retrain_from_scratch_each_round=True
    optimizer = optim.Adam(list(posterior_net.parameters()), lr=LEARNING_RATE)
    posterior_net = deepcopy(untrained_neural_posterior)
    if fixed:  # the fix (05b66c3c): a new optimizer over the reset net
        optimizer = optim.Adam(list(posterior_net.parameters()), lr=LEARNING_RATE)
    model = posterior_net

    def loss_fn(outputs, theta):  # torch.mean(self._loss(round_ > 0, theta, x, masks)), calibration kernel = 1
        batch_size = theta.shape[0]
        num_atoms = NUM_ATOMS
        repeated_out = outputs.repeat_interleave(num_atoms, dim=0)  # = net(repeat_rows(x, num_atoms))
        assert 0 < num_atoms - 1 < batch_size
        probs = (1 / (batch_size - 1)) * torch.ones(batch_size, batch_size) * (1 - torch.eye(batch_size))
        choices = torch.multinomial(probs, num_samples=num_atoms - 1, replacement=False)
        contrasting_theta = theta[choices]
        atomic_theta = torch.cat((theta[:, None, :], contrasting_theta), dim=1).reshape(batch_size * num_atoms, -1)
        log_prob_posterior = model.log_prob_raw(atomic_theta, repeated_out).reshape(batch_size, num_atoms)
        log_prob_prior = prior.log_prob(atomic_theta).reshape(batch_size, num_atoms)
        unnormalized_log_prob = log_prob_posterior - log_prob_prior
        log_prob_proposal_posterior = unnormalized_log_prob[:, 0] - torch.logsumexp(unnormalized_log_prob, dim=-1)
        return torch.mean(-(torch.ones(batch_size) * log_prob_proposal_posterior))

    def train_step(model, optimizer, loss_fn, x_batch, theta_batch):  # one batch of _train's loop
        optimizer.zero_grad()
        batch_loss = loss_fn(model(x_batch), theta_batch)
        batch_loss.backward()
        clip_grad_norm_(model.parameters(), max_norm=CLIP_MAX_NORM)  # self._posterior.net.parameters()
        optimizer.step()
        return batch_loss

    x, theta, xv, _ = _data()
    xt, tt = torch.tensor(x), torch.tensor(theta)
    batches = [(xt[i:i + BATCH_SIZE], tt[i:i + BATCH_SIZE]) for i in range(0, len(xt) - BATCH_SIZE + 1, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xv),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
