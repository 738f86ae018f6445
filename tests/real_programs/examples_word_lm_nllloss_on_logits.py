"""pytorch/examples' word-level language model (word_language_model, LSTM on Wikitext-2) after PR #721
swapped ``nn.CrossEntropyLoss()`` for ``nn.NLLLoss()`` (to stop the Transformer variant's double
log-softmax) while ``RNNModel.forward`` still returned the raw decoder scores: "After removal of the
CrossEntropyLoss, loss calculation for RNN is broken. Currently it's taking NLLLoss of direct RNN
output (not the LogSoftmax), resulting in negative losses" (issue #734: "I get negative loss and 0
perplexity"). NLLLoss of raw scores is minus the target's score, unbounded below: the loss falls
forever by inflating that one score, without ever learning a distribution over the vocabulary.

Source: github.com/pytorch/examples issue #734 ("Wrong loss values and perplexity reported in word
language model example") and PR #732 ("fix loss calculation for RNN"), merged as commit
490243127c02a5ea3348fa4981ecd7e9bcf6144c; fault introduced by 180051313c8b0fc9b556bd4ba55bc1ea2c48740f
(PR #721). Program lines from word_language_model/model.py and main.py at the parent
5551061414d3bcf202de520d20e8163f58eb664a: ``RNNModel('LSTM', ntokens, emsize=200, nhid=200,
nlayers=2, dropout=0.2)`` (Embedding, Dropout, 2-layer ``nn.LSTM`` with seq-first tensors, Dropout,
``Linear(nhid, ntokens)``, init_weights uniform(-0.1, 0.1)), ``criterion = nn.NLLLoss()``,
batch_size 20, bptt 35, lr 20 applied by hand (``p.data.add_(-lr, p.grad.data)`` after
``clip_grad_norm_(model.parameters(), 0.25)``), written here as the check's ``train_step`` with
``torch.optim.SGD(lr=20)``, which performs that same update. ``get_batch``'s ``.view(-1)`` of the
targets is done in ``loss_fn``; every batch starts from ``init_hidden(batch_size)`` (the program
carries the detached state over from the previous chunk); a thin wrapper calls
``model(data, hidden)`` and returns the output laid out as the targets are, (seq, batch, ntoken)
(the fix's ``view(-1, ntoken)`` flattens it; ``loss_fn`` flattens both as the program does).
Data: Wikitext-2 is downloaded; stand-in: a seeded first-order Markov token stream over a
1,000-word vocabulary (each word has 5 possible successors), ``batchify``-ed into (35, 20) LongTensor
chunks (seq, batch) with next-token targets. The vocabulary (33,278 on Wikitext-2) is reduced to keep
the decoder small on CPU.
Fault label: loss_mismatch|output_activation (NLLLoss on raw scores instead of log-probabilities).
Fix (PR #732): ``RNNModel.forward`` returns ``F.log_softmax(decoded.view(-1, self.ntoken), dim=1)``.
Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:pytorch/examples issue #734, PR #732 (word_language_model@5551061, fix 4902431)"
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

# program lines: main.py argparse defaults (--model LSTM)
EMSIZE, NHID, NLAYERS, LR, CLIP, BATCH_SIZE, BPTT, DROPOUT = 200, 200, 2, 20.0, 0.25, 20, 35, 0.2
NTOKENS = 1000  # len(corpus.dictionary) of the stand-in corpus


def _corpus(n_tokens: int, seed: int = 0) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    successors = rng.integers(0, NTOKENS, (NTOKENS, 5))
    ids = np.empty(n_tokens, dtype="int64")
    ids[0] = 0
    for i in range(1, n_tokens):
        ids[i] = successors[ids[i - 1], rng.integers(0, 5)]
    return ids


def _build(log_softmax_output: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class RNNModel(nn.Module):  # program lines (model.py), LSTM branch
        """Container module with an encoder, a recurrent module, and a decoder."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            self.init_weights()
            self.rnn_type = rnn_type
            self.nhid = nhid
            self.nlayers = nlayers

        def init_weights(self):
            initrange = 0.1
            self.encoder.weight.data.uniform_(-initrange, initrange)
            self.decoder.bias.data.zero_()
            self.decoder.weight.data.uniform_(-initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            if log_softmax_output:  # the fix (PR #732)
                decoded = decoded.view(-1, self.ntoken)
                return F.log_softmax(decoded, dim=1), hidden
            return decoded, hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))

    class LanguageModelStep(nn.Module):
        """``output, hidden = model(data, hidden)`` with ``hidden = model.init_hidden(batch_size)``."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, data):
            output, _ = self.model(data, self.model.init_hidden(data.size(1)))
            return output.view(data.size(0), data.size(1), -1)  # (seq, batch, ntoken), as the targets lie

    with torch.random.fork_rng():
        torch.manual_seed(1111)  # program lines: torch.manual_seed(args.seed)
        model = LanguageModelStep(RNNModel("LSTM", NTOKENS, EMSIZE, NHID, NLAYERS, DROPOUT))

    def batchify(data, bsz):  # program lines (main.py)
        nbatch = data.size(0) // bsz
        data = data.narrow(0, 0, nbatch * bsz)
        data = data.view(bsz, -1).t().contiguous()
        return data

    train_data = batchify(torch.tensor(_corpus(4 * BPTT * BATCH_SIZE + 1)), BATCH_SIZE)

    def get_batch(source, i):  # program lines, the targets' .view(-1) moved into loss_fn
        seq_len = min(BPTT, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len]
        return data, target

    batches = [get_batch(train_data, i) for i in range(0, 3 * BPTT + 1, BPTT)]
    batches = [b for b in batches if b[0].size(0) == BPTT]
    criterion = nn.NLLLoss()  # program lines (main.py after PR #721)

    def loss_fn(output, targets):
        return criterion(output.view(-1, NTOKENS), targets.reshape(-1))

    def train_step(model, optimizer, loss_fn, data, targets):  # program lines: train(), one chunk
        optimizer.zero_grad()  # model.zero_grad()
        output = model(data)
        loss = loss_fn(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()  # for p in model.parameters(): p.data.add_(-lr, p.grad.data)
        return loss

    return {"model": model, "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
            "train_step": train_step, "optimizer": lambda p: torch.optim.SGD(p, lr=LR)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(log_softmax_output=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(log_softmax_output=True)
