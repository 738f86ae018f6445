"""Lightning Bolts' LogisticRegression: forward() returns softmax(linear(x)) and training_step feeds
``self(x)`` to F.cross_entropy, so the loss is the negative log-likelihood of a log-softmax of a
softmax ("deviates from expected behaviour and reduces value separation").

Source: github.com/Lightning-Universe/lightning-bolts issue #654 ("Softmax applied twice when
computing loss in LogisticRegression"), fixed by PR #655 (commit b087892285dbe2889b1d9bd9844ef17443604e09:
``y_hat = self(x)`` -> ``y_hat = self.linear(x)`` in training_step); model and step from
pl_bolts/models/regression/logistic_regression.py at its parent: nn.Linear(input_dim, num_classes),
``forward``: ``softmax(self.linear(x))`` (implicit dim, 1 for 2-D input), loss
``F.cross_entropy(y_hat, y, reduction='sum')`` + l1_strength * sum |p|, divided by the batch size;
``cli_main``: LogisticRegression(input_dim=4, num_classes=3, l1_strength=0.01, learning_rate=0.01),
Adam, iris through SklearnDataModule (shuffled), batch_size 16 (add_model_specific_args default).
The LightningModule's training_step is written as the check's ``train_step``. Data: scikit-learn's
iris (offline), shuffled and split as SklearnDataModule does (seed 1234, 105 training rows).
Fault label: loss_mismatch (probabilities into a loss that applies its own softmax), with
output_activation as the alternative. Fix: the step computes the loss on ``model.linear(x)``.
Torch only.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:Lightning-Universe/lightning-bolts issue #654 (fixed by #655, b0878922)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(twice: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class LogisticRegression(nn.Module):  # program lines: the LightningModule's model part
        def __init__(self, input_dim: int, num_classes: int, bias: bool = True, l1_strength: float = 0.0) -> None:
            super().__init__()
            self.l1_strength = l1_strength
            self.linear = nn.Linear(in_features=input_dim, out_features=num_classes, bias=bias)

        def forward(self, x):
            x = self.linear(x)
            return F.softmax(x, dim=1)

    def train_step(model, optimizer, loss_fn, x, y):  # program lines: training_step + Lightning's step
        optimizer.zero_grad()
        x = x.view(x.size(0), -1)
        y_hat = model(x) if twice else model.linear(x)
        loss = F.cross_entropy(y_hat, y, reduction="sum")
        if model.l1_strength > 0:
            loss = loss + model.l1_strength * sum(param.abs().sum() for param in model.parameters())
        loss = loss / x.size(0)
        loss.backward()
        optimizer.step()
        return loss

    x, y = _data.iris_bolts_train()
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": LogisticRegression(input_dim=4, num_classes=3, l1_strength=0.01), "batch": (xt[:16], yt[:16]),
            "batches": _data.batches(xt, yt, 16), "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(False)
