"""MorvanZhou's PyTorch-Tutorial "301 Regression" notebook: a 1-10-1 ReLU network fitting
y = x^2 + noise with plain SGD at lr=0.5. The first steps overshoot, every hidden ReLU is pushed
below zero for all inputs, and the network is left predicting one constant: "lr = 0.5 was too big
that will not changing loss in this example" (PR #31). With the notebook's ``torch.manual_seed(1)``
all ten hidden units are dead after two steps and the loss stays at the variance of y.

Source: github.com/MorvanZhou/PyTorch-Tutorial PR #31 ("Fixing error learning rate for this
sample", merged in 304c0b2: commits 0212a9d368ca68ed50deb8bcf80fc9a33221067d lr 0.5 -> 0.4 and
840ed35 -> 0.2 in tutorial-contents-notebooks/301_regression.ipynb, matching the maintainer's own
fix of tutorial-contents/301_regression.py in 7e7c9bb, lr 0.5 -> 0.2). Program lines from the
notebook at 0212a9d^: ``torch.manual_seed(1)``; x = unsqueeze(linspace(-1, 1, 100), 1),
y = x.pow(2) + 0.2 * rand(x.size()); ``Net(n_feature=1, n_hidden=10, n_output=1)`` (Linear hidden,
``F.relu``, Linear predict); ``torch.optim.SGD(net.parameters(), lr=0.5)``; ``torch.nn.MSELoss()``;
100 full-batch steps. ``Variable`` wrappers dropped (PyTorch >= 0.4); the seeding is done in a forked
RNG so importing or building does not reseed the caller.
Data: the program's own generated data (no download), float32 (100, 1).
Fault label: lr_too_high|dead_units. Fix: lr=0.2 (840ed35 / 7e7c9bb). Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "lr_too_high|dead_units"
SOURCE = "github:MorvanZhou/PyTorch-Tutorial PR #31 (301_regression.ipynb@0212a9d^, fix 840ed35 / 7e7c9bb)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]


def _build(lr: float) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    class Net(torch.nn.Module):  # program lines
        def __init__(self, n_feature, n_hidden, n_output):
            super().__init__()
            self.hidden = torch.nn.Linear(n_feature, n_hidden)   # hidden layer
            self.predict = torch.nn.Linear(n_hidden, n_output)   # output layer

        def forward(self, x):
            x = F.relu(self.hidden(x))      # activation function for hidden layer
            x = self.predict(x)             # linear output
            return x

    with torch.random.fork_rng():
        torch.manual_seed(1)    # reproducible
        x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)  # x data (tensor), shape=(100, 1)
        y = x.pow(2) + 0.2 * torch.rand(x.size())               # noisy y data (tensor), shape=(100, 1)
        net = Net(n_feature=1, n_hidden=10, n_output=1)        # define the network
    return {"model": net, "batch": (x, y), "batches": [(x, y)], "loss_fn": torch.nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(0.5)


def fixed(framework: str) -> dict[str, Any]:
    return _build(0.2)
