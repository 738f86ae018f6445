"""NVIDIA DeepRecommender ("Training Deep AutoEncoders for Collaborative Filtering"), the item-based
autoencoder of its CPU unit test (``test/test_model.py`` ``iRecAutoEncoderTest.test_CPU``):
``AutoEncoder(layer_sizes=[vector_dim, 256, 128], is_constrained=True)`` (encoder ``F.linear`` layers with
xavier-uniform weights and zero biases, the decoder re-using the transposed encoder weights with its own
zero biases), trained with the repository's masked ``MSEloss(outputs, inputs)`` (sum of squared errors on
the observed ratings only, ``inputs * mask`` against the ratings) divided by the number of ratings, and
``optim.SGD(encoder.parameters(), lr=0.01, momentum=0.9)``, batches of 64 item vectors (one rating column
per user, 0 = unrated, ratings 1..5). ``decode`` is meant to leave the last layer linear
(``kind=self._nl_type if ind != self._last else 'none'``), but ``self._last = len(layer_sizes) - 1`` while
``ind`` only runs to ``len(layer_sizes) - 2``: the non-linearity is applied on the output layer too. With
``nl_type='sigmoid'`` (one of the activations the paper compares, and the case the fix's author tested) the
reconstructed ratings are squashed into (0, 1) while the targets are 1..5, so the masked MSE cannot go
below ~the mean of (r - 1)^2 over the ratings.

Source: github.com/NVIDIA/DeepRecommender PR #4 (amoussawi, "fix bug where the non-linear activation is
also applied on the last decoding layer"), ``reco_encoder/model/model.py`` at 9e7ed1a^ (2c58d27), fixed by
9e7ed1add8f65f5d38693c61d42119171a720607 (``self._last = len(layer_sizes) - 2``), merged as fcf3161; the
maintainer confirmed it ("This is indeed a bug. Which invalidates sigmoid and tanh results from section
3.2 of the paper") and then made it an option (7e82959). The PR's description: "run the test units
AutoEncoder with nl_type set to sigmoid, it will perform badly because the last layer is computing values
in the range of [0,1] which does not correspond to the range of ratings".
Program lines kept: ``AutoEncoder.__init__``/``encode``/``decode`` (constrained branch, no dropout),
``activation(..., 'sigmoid')``, ``MSEloss`` + ``loss / num_ratings``, the test's layer sizes, SGD(0.01,
momentum 0.9) and batch size 64, ``nl_type='sigmoid'`` as in the PR's test case.
Ported minimally: ``Variable``/``size_average=False`` written as today's sum reduction. Keras twin: a
subclassed ``keras.Model`` holding the same encoder weights/biases and decoder biases (the decoder uses
``transpose(W)``), the same sigmoid on every layer (buggy) or all but the last (fixed), the masked MSE
written as a Keras loss ``sum((y_pred * mask - y_true)^2) / sum(mask)`` and ``SGD(0.01, momentum=0.9)``.
Data stand-in (the test's ``test/testData_iRec`` files, 163 items x 19,547 users with 25.5k ratings, are
not shipped): 192 item vectors over 1,024 users (smaller so a step stays fast), about 15 % observed,
ratings 1..5 from a seeded low-rank user x item model with the test file's rating mix (1: 4 %, 2: 9.5 %,
3: 28 %, 4: 33 %, 5: 25 %); 3 batches of 64, float32, inputs = targets.
Fault label: output_activation (the activation on the output layer of a rating regressor).
Fix (9e7ed1a): ``self._last = len(layer_sizes) - 2`` -> the last decoder layer is linear.
Symptom in a short loop (plain SGD loop, 300 steps): torch: one batch, buggy loss 11.3 -> 8.64 (floor of
the (0, 1) output on that batch: mean (r - 1)^2 = 8.42), fixed 14.8 -> 0.97 and still falling; 300 steps
over the 3 batches: buggy 8.48, fixed 1.12. Keras (fit): one batch, 300 epochs, buggy 11.4 -> 8.64, fixed
14.9 -> 0.97; 100 epochs over the 3 batches, buggy 8.49, fixed 1.12. A torch step takes 3-5 ms on one
thread (a Keras fit step ~55 ms with its per-epoch overhead).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:NVIDIA/DeepRecommender PR #4 (reco_encoder/model/model.py@9e7ed1a^, test/test_model.py "
          "iRecAutoEncoderTest; fix 9e7ed1add8f65f5d38693c61d42119171a720607)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

batch_size = 64  # params['batch_size'] = 64
lr = 0.01  # optim.SGD(encoder.parameters(), lr=0.01, momentum=0.9)
momentum = 0.9
hidden = [256, 128]  # AutoEncoder(layer_sizes=[data_layer.vector_dim, 256, 128], is_constrained=True)
nl_type = "sigmoid"  # the PR's test case
n_items, n_users = 192, 1024


def _ratings(seed: int = 0) -> np.ndarray:
    """Item-major rating vectors (n_items, n_users): 0 = unrated, else 1..5."""
    rng = np.random.default_rng(seed)
    items = rng.normal(0, 1, (n_items, 8))
    users = rng.normal(0, 1, (n_users, 8))
    score = (items @ users.T / np.sqrt(8) + 0.8 * rng.normal(0, 1, (n_items, 1))
             + 0.5 * rng.normal(0, 1, (n_items, n_users)))
    # thresholds that give the test file's rating mix 1: 4 %, 2: 9.5 %, 3: 28 %, 4: 33 %, 5: 25 %
    cuts = np.quantile(score, [0.039, 0.134, 0.415, 0.749])
    r = 1.0 + np.searchsorted(cuts, score).astype("float64")
    observed = rng.random((n_items, n_users)) < 0.15
    return np.where(observed, r, 0.0).astype("float32")


def _build(framework: str, last_linear: bool) -> dict[str, Any]:
    x = _ratings()
    batches = [(x[i:i + batch_size], x[i:i + batch_size]) for i in range(0, n_items, batch_size)]
    layer_sizes = [n_users] + hidden
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.nn.init as weight_init

        torch.manual_seed(0)

        def activation(input, kind):  # program lines (the kinds the test can reach)
            if kind == 'sigmoid':
                return torch.sigmoid(input)
            elif kind == 'selu':
                return F.selu(input)
            elif kind == 'none':
                return input
            raise ValueError('Unknown non-linearity type')

        class AutoEncoder(nn.Module):  # program lines, constrained branch, no dropout
            def __init__(self, layer_sizes, nl_type='selu', is_constrained=True):
                super().__init__()
                # buggy: len(layer_sizes) - 1, never reached by ind; fix (9e7ed1a): len(layer_sizes) - 2
                self._last = len(layer_sizes) - 2 if last_linear else len(layer_sizes) - 1
                self._nl_type = nl_type
                self.encode_w = nn.ParameterList(
                    [nn.Parameter(torch.rand(layer_sizes[i + 1], layer_sizes[i])) for i in range(len(layer_sizes) - 1)])
                for w in self.encode_w:
                    weight_init.xavier_uniform_(w)
                self.encode_b = nn.ParameterList(
                    [nn.Parameter(torch.zeros(layer_sizes[i + 1])) for i in range(len(layer_sizes) - 1)])
                reversed_enc_layers = list(reversed(layer_sizes))
                self.is_constrained = is_constrained
                self.decode_b = nn.ParameterList(
                    [nn.Parameter(torch.zeros(reversed_enc_layers[i + 1]))
                     for i in range(len(reversed_enc_layers) - 1)])

            def encode(self, x):
                for ind, w in enumerate(self.encode_w):
                    x = activation(input=F.linear(input=x, weight=w, bias=self.encode_b[ind]), kind=self._nl_type)
                return x

            def decode(self, z):
                for ind, w in enumerate(list(reversed(self.encode_w))):
                    z = activation(input=F.linear(input=z, weight=w.transpose(0, 1), bias=self.decode_b[ind]),
                                   # last layer or decoder should not apply non linearities
                                   kind=self._nl_type if ind != self._last else 'none')
                return z

            def forward(self, x):
                return self.decode(self.encode(x))

        def MSEloss(inputs, targets):  # program's loss (size_average=False) then loss / num_ratings
            mask = targets != 0
            num_ratings = torch.sum(mask.float())
            loss = nn.functional.mse_loss(inputs * mask.float(), targets, reduction='sum')
            return loss / num_ratings

        model = AutoEncoder(layer_sizes=layer_sizes, nl_type=nl_type, is_constrained=True)
        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(x),
                "loss_fn": MSEloss,
                "optimizer": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum)}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class AutoEncoder(keras.Model):
        def __init__(self, layer_sizes, nl_type):
            super().__init__()
            n = len(layer_sizes)
            self._last = n - 2 if last_linear else n - 1
            self._nl_type = nl_type
            self.encode_w = [self.add_weight(shape=(layer_sizes[i], layer_sizes[i + 1]), initializer="glorot_uniform",
                                             name=f"encode_w{i}") for i in range(n - 1)]
            self.encode_b = [self.add_weight(shape=(layer_sizes[i + 1],), initializer="zeros", name=f"encode_b{i}")
                             for i in range(n - 1)]
            rev = list(reversed(layer_sizes))
            self.decode_b = [self.add_weight(shape=(rev[i + 1],), initializer="zeros", name=f"decode_b{i}")
                             for i in range(n - 1)]

        def _act(self, x, kind):
            return ops.sigmoid(x) if kind == "sigmoid" else x

        def call(self, x):
            for w, b in zip(self.encode_w, self.encode_b):
                x = self._act(ops.matmul(x, w) + b, self._nl_type)
            for ind, w in enumerate(list(reversed(self.encode_w))):
                x = self._act(ops.matmul(x, ops.transpose(w)) + self.decode_b[ind],
                              self._nl_type if ind != self._last else "none")
            return x

    def masked_mse(y_true, y_pred):
        mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
        return ops.sum(ops.square(y_pred * mask - y_true)) / ops.sum(mask)

    model = AutoEncoder(layer_sizes, nl_type)
    model.build((None, n_users))
    model.compile(loss=masked_mse, optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=momentum))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, last_linear=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, last_linear=True)
