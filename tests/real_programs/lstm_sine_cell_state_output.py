"""pytorch/examples' time-sequence predictor as it was before PR #222: the first LSTMCell's *cell*
state ``c_t`` is fed to the second cell and the second cell's cell state ``c_t2`` is returned as the
prediction, where the hidden states ``h_t`` / ``h_t2`` belong ("h rather than c should be fed into
the next layer of LSTM").

Source: github.com/pytorch/examples, time_sequence_prediction/train.py at the parent of commit
ddf9e3094a7fb7c487de5f6128666fc3b8176018 (PR #222, the fix), i.e. after a72359893f198c432549d3bc7e4453f67963b0b6
set LBFGS's lr to 0.8: LSTMCell(1, 51), LSTMCell(51, 1), outputs = the second cell's state,
``nn.MSELoss``, ``optim.LBFGS(lr=0.8)``, 15 steps, float64 sine waves from generate_sine_wave.py.
``Variable`` wrappers dropped (PyTorch >= 0.4); 32 rows of 100 steps of the waves (the example: 97 of
999) to keep CPU runs short.
Fault label: other:cell_state_as_output (the wrong recurrent state wired between layers and out).
Fix (PR #222): feed and return the hidden states ``h_t`` / ``h_t2``. Torch only.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "other:cell_state_as_output"
SOURCE = "github:pytorch/examples PR #222 (time_sequence_prediction/train.py, fix ddf9e30)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"steps": 15}), ("overfit_one_batch", {"steps": 15})]


def lbfgs_step(model, optimizer, criterion, input, target):
    """The program's loop body: ``optimizer.step(closure)``; returns the closure's first loss."""
    losses = []

    def closure():
        optimizer.zero_grad()
        out = model(input)
        loss = criterion(out, target)
        losses.append(loss.detach())
        loss.backward()
        return loss

    optimizer.step(closure)
    return losses[0]


def _build(use_h: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class Sequence(nn.Module):  # program lines: time_sequence_prediction/train.py before ddf9e30
        def __init__(self) -> None:
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = torch.zeros(input.size(0), 51).double()
            c_t = torch.zeros(input.size(0), 51).double()
            h_t2 = torch.zeros(input.size(0), 1).double()
            c_t2 = torch.zeros(input.size(0), 1).double()
            for input_t in input.chunk(input.size(1), dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                if use_h:
                    h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                    outputs += [h_t2]
                else:
                    h_t2, c_t2 = self.lstm2(c_t, (h_t2, c_t2))
                    outputs += [c_t2]
            for _ in range(future):
                if use_h:
                    h_t, c_t = self.lstm1(h_t2, (h_t, c_t))
                    h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                    outputs += [h_t2]
                else:
                    h_t, c_t = self.lstm1(c_t2, (h_t, c_t))
                    h_t2, c_t2 = self.lstm2(c_t, (h_t2, c_t2))
                    outputs += [c_t2]
            return torch.stack(outputs, 1).squeeze(2)

    data = torch.from_numpy(_data.sine_waves(32, 100))
    input, target = data[:, :-1], data[:, 1:]
    return {"model": Sequence().double(), "batch": (input, target), "batches": [(input, target)],
            "loss_fn": nn.MSELoss(), "train_step": lbfgs_step,
            "optimizer": lambda p: torch.optim.LBFGS(p, lr=0.8)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
