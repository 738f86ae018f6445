"""skorch-dev/skorch (the scikit-learn compatible wrapper around PyTorch, ~6k stars), as of skorch 0.6 (mid 2019):
``NeuralNetClassifier`` defaults to ``criterion=torch.nn.NLLLoss`` and expects the module to return probabilities;
its ``get_loss`` takes the log itself before calling the criterion. The MNIST example ``notebooks/MNIST.ipynb`` trains
``ClassifierModule`` (``Linear(784, 98)`` -> ReLU -> ``Dropout(0.5)`` -> ``Linear(98, 10)`` -> ``F.softmax(...,
dim=-1)``, torch default init, ``torch.manual_seed(0)``) with ``NeuralNetClassifier(ClassifierModule, max_epochs=20,
lr=0.1, device=device)``, i.e. SGD, NeuralNet's default ``batch_size=128``, an internal stratified 5-fold
train / valid split, and a ``DataLoader`` that does not shuffle; the inputs are ``mnist.data.astype('float32')``
divided by 255.

The fault (the loss): ``get_loss`` computes ``y_pred = torch.log(y_pred)`` on the softmax output and hands it to
``NLLLoss``. The log is taken apart from the softmax, so nothing keeps it finite: once the logits of a sample are
about 100 apart, float32 ``softmax`` returns exactly 0 for the low classes and ``log`` returns -inf there. The loss
only reads the target column, so it may still look finite, but the backward of ``log`` divides the incoming gradient
by its input, and for every zero probability that is 0 / 0 = NaN; a single saturated row in a batch makes the
gradient NaN, the next ``optimizer.step()`` writes NaN into every weight, and from then on the outputs and the loss
are NaN and the network predicts one class for everything. Plain SGD at the notebook's lr rarely gets the logits that
far apart, but adaptive optimizers do at once: RMSprop's squared-gradient average starts at 0 (alpha 0.99), so its
first update is about 10 x lr along the sign of every gradient, which pushes the ten logits of each sample far apart
(on this stand-in the median max-min logit spread is 37 after the first step and 91 after the second).
Issue #481 (opened by a maintainer, May 2019), in my words: testing the MNIST notebook, the loss went NaN whenever
the optimizer was switched to RMSprop or Adam or the learning rate was changed; anomaly detection traced it to
softmax outputs at 0 / 1 making ``torch.log`` return -inf. Fixed by PR #491, commit 873b481 "BUG Adds eps to loss to
prevent nans" (changelog: improve numerical stability when using NLLLoss in NeuralNetClassifier): ``eps =
torch.finfo(y_pred.dtype).eps; y_pred = torch.log(y_pred + eps)``, with a regression test that fits with Adam at lr
2 and asserts the train loss is not all NaN.

Source: github.com/skorch-dev/skorch ``skorch/classifier.py`` ``NeuralNetClassifier.get_loss`` (and
``skorch/net.py`` ``train_step_single`` / ``initialize_optimizer``, ``notebooks/MNIST.ipynb``) at
afb6654c43ba9e5988d11926523d428bc30d22d1 (= 873b481^); issue #481; fix 873b481049a376c9836056140c121fe0ee1bd64e
(PR #491).
Fault label: loss_not_finite (log of probabilities that underflow to 0: -inf in the loss graph, NaN gradients, then
NaN weights, outputs and loss).

Program lines kept: ``ClassifierModule`` as in the notebook (``hidden_dim = int(mnist_dim/8)``, dropout 0.5, softmax
output), ``torch.manual_seed(0)`` before the module is built, ``criterion=torch.nn.NLLLoss``, the ``get_loss`` body
(``if isinstance(self.criterion_, torch.nn.NLLLoss): y_pred = torch.log(y_pred)`` with ``self.`` dropped; the fix's
two lines in the fixed version), ``optimizer(module.parameters(), lr=lr)`` as ``initialize_optimizer`` builds it,
batch size 128. skorch's ``train_step_single`` (``module_.train(); optimizer_.zero_grad(); y_pred = infer(Xi); loss =
get_loss(...); loss.backward()`` inside ``optimizer_.step(closure)``) is the plain step, so no ``train_step`` is
given; the skorch wrapper itself (callbacks, history, the internal valid split) is not ported.
Chosen setting: the issue does not say which learning rate went with RMSprop; I use ``optimizer=torch.optim.RMSprop``
(named first in the issue) with ``lr=0.01``, NeuralNet's own default lr, i.e. the notebook's call with the optimizer
swapped and its ``lr=0.1`` left out. With ``lr=0.1`` kept, RMSprop or Adam NaN just as fast in the buggy version, but
the fixed version does not learn either (the lr is too high for them; figures below), so that setting would not
show what the fix repairs. Nothing was shrunk (the model is small).
Data stand-in (no fetch_openml download): 28x28 uint8 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits
blown up 3x3, padded), each draw shifted by -2..2 pixels, scaled by 0.7..1.0 and given N(0, 10) pixel noise, rounded
and clipped to 0..255, then ``astype('float32') / 255`` and flattened to 784 as the notebook does (mean 0.20);
training images from the first 1500 digits, held-out ones from the last 297. ``batches``: 100 distinct batches of 128
in order (the DataLoader does not shuffle); ``batch``: the first; ``inputs``: 256 held-out images.

Measured (my own plain loop, /tmp/s51/h80_b/measure.py, on the module's builds: zero_grad / forward / ``loss_fn`` /
backward / step over ``batches`` in order, torch seed 0, OMP_NUM_THREADS=1):
  loss at initialisation on ``batch`` (eval mode): 2.314 in both versions (ln 10 = 2.303).
  RMSprop lr 0.01, 300 steps (3 passes over the 100 batches):
    buggy: loss 2.317, 22.45, inf, then NaN from step 3 on; the gradients are NaN from step 2; afterwards every
      weight and output is NaN, argmax gives class 0 for all: held-out accuracy 0.094, training accuracy 0.111.
    fixed: loss 2.317, 12.05, 12.04, 13.6 (the same huge first RMSprop step, now with finite gradients), then
      recovering; 30-step means 5.88 1.22 1.04 0.87 0.86 0.75 0.73 0.69 0.66 0.63; held-out accuracy 0.859,
      training accuracy 0.915.
    model seeds 0-4: buggy NaN loss at step 2 in all five; fixed last-30-step loss 0.54-0.88, held-out accuracy
      0.80-0.87.
  One batch repeated (RMSprop lr 0.01): buggy NaN from step 2; fixed 2.317 / 10.83 / 11.70 / 12.34 / 11.29 / 0.373 /
    0.167 at steps 0 / 1 / 2 / 5 / 10 / 50 / 99.
  Adam (also named in the issue), 1000 steps, model seeds 0-2: lr 0.01: buggy NaN at steps 438 / 507 / 433 (held-out
    accuracy then 0.094), fixed accuracy 0.906 / 0.910 / 0.910 (last-100 loss 0.25-0.26); lr 0.1 (the notebook's lr
    kept): buggy NaN at step 2, fixed finite but not learning (accuracy 0.09-0.16, loss 2.3-14).
  The notebook's own SGD lr 0.1, 1000 steps: no NaN in either version (accuracy 0.895 / 0.891).
  At the second step 3 % of the batch's probabilities are exactly 0 (check2.py), the gradient is NaN there.
  Time: build plus 100 steps ~0.25 s on one thread (first build 2-7 s, imports and data).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_not_finite"
SOURCE = ("github:skorch-dev/skorch issue #481, PR #491 (skorch/classifier.py NeuralNetClassifier.get_loss "
          "'y_pred = torch.log(y_pred)' with criterion NLLLoss @afb6654c43ba9e5988d11926523d428bc30d22d1 = 873b481^, "
          "notebooks/MNIST.ipynb ClassifierModule with optimizer=torch.optim.RMSprop; fix "
          "873b481049a376c9836056140c121fe0ee1bd64e 'BUG Adds eps to loss to prevent nans': "
          "torch.log(y_pred + torch.finfo(y_pred.dtype).eps))")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 10}), ("init_loss", {"num_classes": 10})]

MNIST_DIM = 784
HIDDEN_DIM = int(MNIST_DIM / 8)  # 98
OUTPUT_DIM = 10
BATCH_SIZE = 128  # NeuralNet's default batch_size
LR = 0.01  # NeuralNet's default lr (the notebook's lr=0.1 dropped when the optimizer is swapped)
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shifted, scaled, noisy MNIST-like digits as the notebook feeds them: float32 (n, 784) in [0, 1], int64 labels."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).round()
    x = (xs.reshape(-1, MNIST_DIM).astype("float32")) / 255.0  # X = mnist.data.astype('float32'); X /= 255.0
    y = y0[src].astype("int64")
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]


def _build(eps_in_log: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ClassifierModule(nn.Module):
        def __init__(
                self,
                input_dim=MNIST_DIM,
                hidden_dim=HIDDEN_DIM,
                output_dim=OUTPUT_DIM,
                dropout=0.5,
        ):
            super(ClassifierModule, self).__init__()
            self.dropout = nn.Dropout(dropout)

            self.hidden = nn.Linear(input_dim, hidden_dim)
            self.output = nn.Linear(hidden_dim, output_dim)

        def forward(self, X, **kwargs):
            X = F.relu(self.hidden(X))
            X = self.dropout(X)
            X = F.softmax(self.output(X), dim=-1)
            return X

    torch.manual_seed(SEED)
    model = ClassifierModule()
    criterion_ = torch.nn.NLLLoss()  # NeuralNetClassifier's default criterion
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR)  # initialize_optimizer: optimizer(params, lr=lr)

    def loss_fn(y_pred, y_true):  # NeuralNetClassifier.get_loss -> NeuralNet.get_loss
        if isinstance(criterion_, torch.nn.NLLLoss):
            if eps_in_log:  # the fix (873b481)
                eps = torch.finfo(y_pred.dtype).eps
                y_pred = torch.log(y_pred + eps)
            else:
                y_pred = torch.log(y_pred)
        return criterion_(y_pred, y_true)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(eps_in_log=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(eps_in_log=True)
