"""Zero to Mastery "Learn PyTorch for Deep Learning" course (mrdbourke/pytorch-deep-learning),
notebook ``02_pytorch_classification.ipynb``, section "Improving a model": ``CircleModelV1`` (three stacked
``nn.Linear`` layers 2 -> 10 -> 10 -> 1, no activation in between, the model the lesson builds before it
introduces ReLU) trained full-batch on scikit-learn's ``make_circles`` (1,000 points, ``noise=0.03``,
``random_state=42``, 80/20 ``train_test_split``) with ``nn.BCEWithLogitsLoss()`` and
``torch.optim.SGD(model_1.parameters(), lr=0.1)`` for 1,000 epochs.
The faulty training loop computes the loss on the rounded predictions instead of the logits:
``y_pred = torch.round(torch.sigmoid(y_logits))`` then ``loss = loss_fn(y_pred, y_train)``. ``torch.round``
has a zero gradient everywhere, so ``loss.backward()`` leaves every parameter gradient at exactly 0 and SGD
never moves the model: the notebook's own output shows ``Loss: 0.75769, Accuracy: 50.88%`` printed unchanged
at every one of the 10 checkpoints from epoch 0 to epoch 900. (The fixed loop is still a linear model on a
non-linearly separable problem, so it only creeps from 0.694 to 0.693, which is the point the lesson then
makes before adding ``nn.ReLU``; what the fix restores is a live gradient and a loss that moves.)

Source: github.com/mrdbourke/pytorch-deep-learning ``02_pytorch_classification.ipynb`` at 43d87d1^
(fb878cf, cell "Train for longer", ``loss = loss_fn(y_pred, y_train)``); fixed by
43d87d1ecb2f7db381e7638aadf78ff9728c4bdc "calculate loss on logits not preds"
(``loss = loss_fn(y_logits, y_train)``; the committed outputs change from the constant 0.75769 to
0.69396 -> 0.69298).
Program lines kept: ``make_circles(n_samples, noise=0.03, random_state=42)``, ``torch.from_numpy(X).type(
torch.float)``, ``train_test_split(X, y, test_size=0.2, random_state=42)``, ``CircleModelV1``,
``nn.BCEWithLogitsLoss()``, ``SGD(lr=0.1)``, ``torch.manual_seed(42)``, ``y_logits = model_1(X_train).squeeze()``,
``y_pred = torch.round(torch.sigmoid(y_logits))`` and the (buggy/fixed) loss line.
Ported minimally: the ``.squeeze()`` of the forward step and the loss line live in ``loss_fn(outputs,
targets)``; nothing shrunk (a full-batch step on the 800 training points takes well under 1 ms).
Data: the program's own generator (scikit-learn, offline), so no stand-in is needed. ``batch`` is the full
800-point training set the notebook trains on; ``batches`` cuts it into 4 batches of 200 in order; ``inputs``
is the 200-point test split.
Keras twin: none. The bug cannot exist silently in Keras: ``ops.round`` has no registered gradient on the
TensorFlow backend, so a loss written on the rounded predictions makes ``fit`` raise
"No gradients provided for any variable" instead of training (checked with Keras 3.15).
Fault label: no_gradient (the loss is taken through a zero-gradient op, so no gradient reaches any weight).
Fix (43d87d1): ``loss = loss_fn(y_logits, y_train)``.
Symptom in a short loop (plain torch loop, full batch, SGD lr 0.1, 1,000 steps as in the notebook, seed 42 as
in the notebook, which reproduces its printed numbers exactly): buggy loss 0.75769 at step 0 and 0.75769 at step
999, max |grad| = 0.0 on every step, no weight changes at all, train accuracy 50.88 % throughout; fixed 0.69396
-> 0.69298 (max |grad| 6.7e-3 at the start, weights move by up to 0.05), train accuracy 51.0 % (a linear model
cannot separate circles; the lesson's next step adds ReLU). Cycling over the 4 batches of 200 for 200 steps:
buggy per-batch losses 0.776 / 0.756 / 0.769 / 0.730 unchanged from first to last pass; fixed 0.697 / 0.695 /
0.695 / 0.690 -> 0.693 / 0.693 / 0.692 / 0.694.
"""

from __future__ import annotations

from typing import Any

LABEL = "no_gradient"
SOURCE = ("github:mrdbourke/pytorch-deep-learning 02_pytorch_classification.ipynb@43d87d1^ "
          "(CircleModelV1 training loop; fix 43d87d1ecb2f7db381e7638aadf78ff9728c4bdc "
          "'calculate loss on logits not preds')")
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {})]


def _data():
    import torch
    from sklearn.datasets import make_circles
    from sklearn.model_selection import train_test_split

    n_samples = 1000
    X, y = make_circles(n_samples, noise=0.03, random_state=42)
    X = torch.from_numpy(X).type(torch.float)
    y = torch.from_numpy(y).type(torch.float)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    return X_train, X_test, y_train, y_test


def _build(framework: str, on_logits: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only: the Keras version raises 'No gradients provided' instead of training")
    import torch
    from torch import nn

    X_train, X_test, y_train, y_test = _data()
    torch.manual_seed(42)

    class CircleModelV1(nn.Module):  # program lines
        def __init__(self):
            super().__init__()
            self.layer_1 = nn.Linear(in_features=2, out_features=10)
            self.layer_2 = nn.Linear(in_features=10, out_features=10)  # extra layer
            self.layer_3 = nn.Linear(in_features=10, out_features=1)

        def forward(self, x):
            return self.layer_3(self.layer_2(self.layer_1(x)))

    model_1 = CircleModelV1()
    bce = nn.BCEWithLogitsLoss()  # Does not require sigmoid on input

    def loss_fn(outputs, targets):
        y_logits = outputs.squeeze()
        if on_logits:  # fix 43d87d1
            return bce(y_logits, targets)
        y_pred = torch.round(torch.sigmoid(y_logits))  # logits -> prediction probabilities -> prediction labels
        return bce(y_pred, targets)

    batches = [(X_train[i:i + 200], y_train[i:i + 200]) for i in range(0, 800, 200)]
    return {"model": model_1, "batch": (X_train, y_train), "batches": batches, "inputs": X_test,
            "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.SGD(params=params, lr=0.1)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, on_logits=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, on_logits=True)
