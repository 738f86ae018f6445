"""MNIST row-by-row LSTM classifier whose nn.LSTM lost ``batch_first=True`` while the data stays
(batch, seq, feature): the LSTM runs along the batch, and out[:, -1, :] reads the last step of the
wrong axis, so every sample's output depends on the others.

Source: github.com/yunjey/pytorch-tutorial issue #196 ("change batch_first=True to False ... loss
about 2 and accuracy about 11.35%"), a revision of tutorials/02-intermediate/recurrent_neural_network/
main.py: sequence_length 28, input_size 28, hidden_size 128, num_layers 1, num_classes 10,
batch_size 100, learning_rate 0.01, Adam, CrossEntropyLoss, images via ToTensor (0..1),
reshaped to (-1, 28, 28). The zero initial states of the tutorial are the LSTM's default here (the
explicit h0/c0 of shape (num_layers, x.size(0), hidden) would not even fit the transposed LSTM).
Data: MNIST stand-in (digits blown up to 28x28, 0..255 / 255).
Fault label: batch_mixing. Fix: ``batch_first=True``. Torch only (Keras RNNs are batch-major).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "batch_mixing"
SOURCE = "github:yunjey/pytorch-tutorial issue #196 (tutorials/02-intermediate/recurrent_neural_network/main.py)"
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(batch_first: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class RNN(nn.Module):
        def __init__(self, input_size: int, hidden_size: int, num_layers: int, num_classes: int) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=batch_first)
            self.fc = nn.Linear(hidden_size, num_classes)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1, :])

    imgs, y = _data.mnist_like(200)
    xt = torch.tensor(imgs, dtype=torch.float32).reshape(-1, 28, 28) / 255.0
    yt = torch.tensor(y)
    return {"model": RNN(28, 128, 1, 10), "batch": (xt[:100], yt[:100]), "batches": _data.batches(xt, yt, 100),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
