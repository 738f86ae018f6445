"""The char-rnn name classifier of "Practical PyTorch", switched from its manual parameter update
to ``torch.optim.SGD``: "loss is big, and loss flow up and down, do not diminish". The maintainer:
"I have the model instantiated twice - once directly after the RNN class, and once before the main
``for epoch in ...`` loop ... Try moving the optimizer to below the second one, so the params aren't
reset" — the optimizer holds the first instance's parameters while the second is trained.

Source: github.com/spro/practical-pytorch issue #9 ("char-rnn-classification parameters update method
confusion"), fixed in the tutorial by commit 67ac021c6525347c9d69f5a6e323d935ddaf53d1; program lines
from char-rnn-classification/char-rnn-classification.ipynb at its parent (``RNN`` with ``i2h`` /
``i2o`` Linear layers on ``cat(input, hidden)`` and LogSoftmax, n_hidden 128, 57 letters, 18
languages, ``nn.NLLLoss``, learning_rate 0.005, the user's ``optim.SGD(rnn.parameters(), lr=0.005)``).
The tutorial trains one name at a time; here a wrapper runs the same RNN cell over a batch of names
of equal length (hidden state zeros(batch, 128)); LogSoftmax gets ``dim=1``. Data: a stand-in for
the names files (one-hot letters, 18 classes, see ``_data.names_like``).
Fault label: params_not_updated. Fix: build the optimizer over the instance that is trained. Torch only.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "params_not_updated"
SOURCE = "github:spro/practical-pytorch issue #9 (char-rnn-classification.ipynb, fix 67ac021)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

N_LETTERS, N_HIDDEN, N_CATEGORIES = 57, 128, 18


def _build(optimizer_after_second: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class RNN(nn.Module):  # program lines
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.input_size = input_size
            self.hidden_size = hidden_size
            self.output_size = output_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(input_size + hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = torch.cat((input, hidden), 1)
            hidden = self.i2h(combined)
            output = self.i2o(combined)
            output = self.softmax(output)
            return output, hidden

    class NameClassifier(nn.Module):
        """The program's ``train()`` forward: the cell over every letter, the last output kept."""

        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, line_tensor):  # (batch, letters, n_letters)
            hidden = torch.zeros(line_tensor.size(0), self.rnn.hidden_size)
            for i in range(line_tensor.size(1)):
                output, hidden = self.rnn(line_tensor[:, i], hidden)
            return output

    rnn = RNN(N_LETTERS, N_HIDDEN, N_CATEGORIES)  # first instance, right after the class
    optimizer = torch.optim.SGD(rnn.parameters(), lr=0.005)
    rnn = RNN(N_LETTERS, N_HIDDEN, N_CATEGORIES)  # second instance, before the training loop
    if optimizer_after_second:
        optimizer = torch.optim.SGD(rnn.parameters(), lr=0.005)
    model = NameClassifier(rnn)
    x, y = _data.names_like(64)
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:32], yt[:32]), "batches": [(xt[:32], yt[:32]), (xt[32:], yt[32:])],
            "loss_fn": nn.NLLLoss(), "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
