"""NYU Deep Learning course (Atcold/NYU-DLSP20, formerly Atcold/pytorch-Deep-Learning-Minicourse),
notebook ``08-seq_classification.ipynb``: many-to-one sequence classification on Hochreiter & Schmidhuber's
temporal-order task (``sequential_tasks.TemporalOrderExp6aSequence``, EASY: sequences of 7-8 one-hot symbols
``B ... E`` over 8 symbols, with X/Y at positions t1 in {1, 2} and t2 in {4, 5}; the class Q/R/S/U is the
order of the two), with ``SimpleRNN`` (``nn.RNN(8, 4, nonlinearity='relu', batch_first=True)`` then
``nn.Linear(4, 4)`` applied to every time step), ``nn.CrossEntropyLoss()`` and ``RMSprop(lr=0.001)``,
batches of 32. The batches are *pre*-padded with zero rows to length 9 (``pad_sequences(...,
padding='pre')``), but the training loop keeps the output at index ``len(sequence) - 1`` of each sequence
(as if it were post-padded): for every padded sequence that is not its last step, and for 7-symbol
sequences (two padding rows) with t2 = 5 it is a step *before* the second X/Y has been read, so about a
quarter of the samples are scored on an output that cannot know their class (accuracy is capped near
87.5 % on unseen data and the loss cannot approach zero).

Source: github.com/Atcold/NYU-DLSP20 PR #19 "bug fix related to output sequence" ("we should pick the last
element of output sequence, because input is pre-padded with 0s, not post-padded"), notebook at
8a4075702d853bdfaa313d9dd641f4c23a31d293^, fixed by that commit (8a40757, PR #19), which replaces the
decode/fancy-indexing with ``output = output[:, -1, :]`` (the evaluation code was fixed later in PR #814, 881d595).
Program lines kept: ``torch.manual_seed(1)``, ``SimpleRNN(input_size, hidden_size=4, output_size)``,
``torch.nn.CrossEntropyLoss()``, ``torch.optim.RMSprop(model.parameters(), lr=0.001)``, ``batch_size =
32``, ``TemporalOrderExp6aSequence.get_predefined_generator(DifficultyLevel.EASY, batch_size)`` (seed 8382)
with its ``generate_pair``/``encode_x_batch`` (``to_categorical``, pre-padding to ``length_range[1]`` = 9)
and ``target.argmax(dim=1)``.
Ported minimally: the loop's output selection is moved into the model's ``forward`` (a wrapper around the
program's ``SimpleRNN``) so that ``model(x)`` gives the (N, 4) logits the loss sees; the buggy selection
computes each sequence's length as its number of non-zero rows (what ``decode_x`` does) and indexes
``output[arange(N), length - 1]``, the fix takes ``output[:, -1]``. The one-hot targets are turned into
class ids (the loop's ``target.argmax(dim=1)``) when the batches are built. The generator's
``np.random.seed`` + global ``np.random`` calls are replayed on a ``RandomState`` seeded the same way.
Data: the program's own offline generator (no download); 16 batches of 32.
Fault label: other:wrong_timestep_output. Fix (PR #19): ``output = output[:, -1, :]``.
No Keras twin: the program is PyTorch-only and the bug is in its manual output indexing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:wrong_timestep_output"
SOURCE = ("github:Atcold/NYU-DLSP20 PR #19 (08-seq_classification.ipynb@8a40757^, fix 8a40757; "
          "eval part PR #814)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 32  # program lines
hidden_size = 4
lr = 0.001

# sequential_tasks.TemporalOrderExp6aSequence, EASY
classes = ["Q", "R", "S", "U"]
relevant_symbols = ["X", "Y"]
distraction_symbols = ["a", "b", "c", "d"]
all_symbols = relevant_symbols + distraction_symbols + ["B", "E"]
s_to_idx = {s: n for n, s in enumerate(all_symbols)}
length_range, t1_range, t2_range = (7, 9), (1, 3), (4, 6)


def _generate_pair(rng: np.random.RandomState) -> tuple[str, str]:
    """``TemporalOrderExp6aSequence.generate_pair``."""
    length = rng.randint(length_range[0], length_range[1])
    t1 = rng.randint(t1_range[0], t1_range[1])
    t2 = rng.randint(t2_range[0], t2_range[1])
    x = rng.choice(distraction_symbols, length)
    x[0] = "B"
    x[-1] = "E"
    y = rng.choice(classes)
    if y == "Q":
        x[t1], x[t2] = relevant_symbols[0], relevant_symbols[0]
    elif y == "R":
        x[t1], x[t2] = relevant_symbols[0], relevant_symbols[1]
    elif y == "S":
        x[t1], x[t2] = relevant_symbols[1], relevant_symbols[0]
    else:
        x[t1], x[t2] = relevant_symbols[1], relevant_symbols[1]
    return "".join(x), y


def _batch(rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """``__getitem__``: ``encode_x_batch`` (one-hot, pre-padded with zero rows to ``length_range[1]``) and
    the class ids (``target.argmax(dim=1)`` of ``encode_y_batch``)."""
    maxlen = length_range[1]
    xb = np.zeros((batch_size, maxlen, len(all_symbols)), dtype="float32")
    yb = np.zeros(batch_size, dtype="int64")
    for i in range(batch_size):
        seq, label = _generate_pair(rng)
        for j, s in enumerate(seq):
            xb[i, maxlen - len(seq) + j, s_to_idx[s]] = 1.0  # padding='pre'
        yb[i] = classes.index(label)
    return xb, yb


def _data(n_batches: int = 16, seed: int = 8382) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.RandomState(seed)  # get_predefined_generator(..., seed=8382) -> np.random.seed(seed)
    return [_batch(rng) for _ in range(n_batches)]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import torch
    import torch.nn as nn

    torch.manual_seed(1)  # program line

    class SimpleRNN(nn.Module):  # program lines
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.rnn = torch.nn.RNN(input_size, hidden_size, nonlinearity='relu', batch_first=True)
            self.linear = torch.nn.Linear(hidden_size, output_size)

        def forward(self, x):
            x, _ = self.rnn(x)
            x = self.linear(x)
            return x

    class LastStepClassifier(nn.Module):
        """The training loop's output selection, moved into the forward pass."""

        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, data):
            output = self.net(data)
            if fixed:
                return output[:, -1, :]  # the fix (PR #19)
            # data_decoded = decode_x_batch(data); sequence_end = len(sequence) - 1
            sequence_end = (data.sum(dim=2) > 0).sum(dim=1) - 1
            return output[torch.arange(data.shape[0]).long(), sequence_end, :]

    model = LastStepClassifier(SimpleRNN(len(all_symbols), hidden_size, len(classes)))
    batches = [(torch.tensor(x), torch.tensor(y)) for x, y in _data()]
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": torch.cat([x for x, _ in batches]),
            "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
