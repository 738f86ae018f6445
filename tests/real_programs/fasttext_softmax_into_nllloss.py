"""Text-Classification-Models-Pytorch's fastText classifier: the model ends in ``nn.Softmax()`` and is
trained with ``nn.NLLLoss()``, which expects log-probabilities. Fed probabilities, the loss is
``-mean(p_target)``: it starts near -1/C instead of log(C), is always negative, and its gradient
vanishes as soon as the softmax saturates (right or wrong).

Source: github.com/AnubhavGupta3377/Text-Classification-Models-Pytorch issue #9 ("NLLLoss": "the
input of nn.NLLloss() is after logsoftmax ... here only softmax is provided in model.py therefore,
the loss is always negative"; the reporter checked the Transformer model — the same
``nn.Softmax()`` + ``nn.NLLLoss()`` pair is in every model of the repository, fastText included).
Program lines from Model_fastText/model.py, config.py and train.py at 8571fe6: frozen pretrained
embeddings (``nn.Embedding(vocab, 300)`` with ``nn.Parameter(word_embeddings, requires_grad=False)``),
``embedded_sent = self.embeddings(x).permute(1,0,2)``, ``fc1 = Linear(300, 10)`` on the mean over
words, ``fc2 = Linear(10, 4)``, softmax; ``optim.SGD(model.parameters(), lr=0.5)``,
``nn.NLLLoss()``, batch size 128, targets ``batch.label - 1``. ``nn.Softmax()`` is written
``nn.Softmax(dim=1)``, the dim PyTorch's implicit choice takes for a 2-D input.
Data: AG News (4 classes) through torchtext (sequence-first LongTensor (seq_len, batch), padded
with ``<pad>`` = index 1 whose GloVe vector is zero) and GloVe 840B 300-d vectors, both
downloaded. Stand-in: a seeded 2,000-word vocabulary with GloVe-like vectors (normal, std 0.4;
``<unk>``/``<pad>`` zero), sentences of 20..40 words in which a third of the words come from
50 topic words of their class, padded to the longest in the batch; labels 0..3 (after ``- 1``).
Fault label: loss_mismatch (NLLLoss given probabilities; output_activation: softmax where the loss
wants log_softmax). Fix (issue #9): log-softmax output before ``NLLLoss``
(``nn.LogSoftmax(dim=1)``). Torch only (NLLLoss's log-probability contract is PyTorch's).
The checks read dim 0 of x as the batch, so the test hands them (batch, seq_len) token ids and
wraps the program's model in a module that transposes them back (the program's lines unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:AnubhavGupta3377/Text-Classification-Models-Pytorch issue #9 (Model_fastText@8571fe6)"
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

_VOCAB, _EMB, _BATCH = 2000, 300, 128


def _ag_news_like(n: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0.0, 0.4, (_VOCAB, _EMB)).astype("float32")
    vectors[:2] = 0.0  # <unk>, <pad>
    topics = rng.choice(np.arange(2, _VOCAB), (4, 50), replace=False)
    y = rng.integers(0, 4, n)
    sents = []
    for c in y:
        length = int(rng.integers(20, 41))
        words = rng.integers(2, _VOCAB, length)
        topical = rng.random(length) < 1 / 3
        words[topical] = rng.choice(topics[c], topical.sum())
        sents.append(words)
    return vectors, sents, y.astype("int64")


def _pad(sents: list[np.ndarray]) -> np.ndarray:
    """torchtext Field(sequential=True): (seq_len, batch), padded with <pad> = 1."""
    out = np.ones((max(len(s) for s in sents), len(sents)), "int64")
    for j, s in enumerate(sents):
        out[:len(s), j] = s
    return out


def _build(log_softmax: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    vectors, sents, y = _ag_news_like(4 * _BATCH)

    class fastText(nn.Module):  # program lines (Model_fastText/model.py)
        def __init__(self, vocab_size, word_embeddings):
            super().__init__()
            self.embeddings = nn.Embedding(vocab_size, _EMB)
            self.embeddings.weight = nn.Parameter(word_embeddings, requires_grad=False)
            self.fc1 = nn.Linear(_EMB, 10)
            self.fc2 = nn.Linear(10, 4)
            self.softmax = nn.LogSoftmax(dim=1) if log_softmax else nn.Softmax(dim=1)

        def forward(self, x):
            embedded_sent = self.embeddings(x).permute(1, 0, 2)
            h = self.fc1(embedded_sent.mean(1))
            z = self.fc2(h)
            return self.softmax(z)

    class BatchFirst(nn.Module):  # the test's adapter: the checks hand the model batch-first inputs
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.t())

    model = BatchFirst(fastText(_VOCAB, torch.tensor(vectors)))
    batches = [(torch.tensor(_pad(sents[i:i + _BATCH]).T.copy()), torch.tensor(y[i:i + _BATCH]))
               for i in range(0, len(sents), _BATCH)]
    return {"model": model, "batch": batches[0], "batches": batches, "loss_fn": nn.NLLLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=0.5)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(log_softmax=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(log_softmax=True)
