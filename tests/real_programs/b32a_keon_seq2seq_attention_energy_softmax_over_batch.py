"""keon/seq2seq: a GRU encoder-decoder with additive (Bahdanau-style) attention for German -> English on
Multi30k (``model.py``, ``train.py``, ``utils.py``). ``Encoder``: ``nn.Embedding(de_vocab, 256)`` -> 2-layer
bidirectional ``nn.GRU(256, 512, dropout=0.5)`` (time-major), the two directions' outputs summed.
``Decoder``: ``nn.Embedding(en_vocab, 256)`` + ``nn.Dropout(0.5, inplace=True)``, ``Attention(512)``, a
1-layer ``nn.GRU(512 + 256, 512)``, ``nn.Linear(1024, en_vocab)`` + ``log_softmax``. ``Seq2Seq.forward``
decodes step by step from ``<sos>`` with teacher forcing ratio 0.5 (else the greedy token). ``train.py``:
``Adam(lr=1e-4)``, batch 32, ``F.nll_loss(output[1:].view(-1, V), trg[1:].view(-1), ignore_index=pad)``,
``clip_grad_norm(model.parameters(), 10.0)``; ``evaluate`` runs the model with teacher forcing 0.
The fault is in ``Attention.score``: PR #6 ("Non linearity after attention", commit 44e32fe) made it
``energy = F.softmax(self.attn(torch.cat([hidden, encoder_outputs], 2)))``. The tensor is
[batch, src_len, hidden] and ``F.softmax`` without ``dim`` falls back to PyTorch's legacy rule
(``_get_softmax_dim``: dim 0 for a 3-D input), so every energy unit is normalised across the sentences of
the batch: each sentence's attention scores, and so its translation, depend on the other sentences it is
batched with (and, for a batch of one, every energy is exactly 1, so the attention is uniform whatever the
input). A reviewer of PR #6 said so (CuriousG102, 2019-03-07: "this softmax does not make sense. It
computes softmax along the batch dimension..."). PR #6's second commit (91dcbd7) also changed the weights to
``F.relu(attn_energies, dim=1)``, which raises a TypeError; both were undone by the fix.

Source: github.com/keon/seq2seq PR #6 (merge 96070b2; commit 44e32fe075438dadfb4042e4897daa3dcadcb891 adds
the softmax in ``score``), fixed by PR #24 ("fix attention", commit
9cb885bcd2a0a90dce5b51939fba6bc3c1538828, merge 1ad7c09): ``energy = F.relu(self.attn(...))`` in ``score``
and ``F.softmax(attn_energies, dim=1)`` for the weights. Buggy state ported: ``model.py`` at 44e32fe (the
softmax over the batch, weights ``F.softmax(attn_energies, dim=1)``), which on master at 9cb885b^ sat next to
the crashing ``F.relu(..., dim=1)``; ``train.py`` and ``utils.py`` at 9cb885b.
Program lines kept: ``Encoder``, ``Attention``, ``Decoder``, ``Seq2Seq`` (buggy and fixed ``score``), the
encoder/decoder options (2 encoder layers, 1 decoder layer, dropout 0.5 both), ``Adam(lr=1e-4)``, batch 32,
the ``nll_loss`` over ``output[1:]`` with ``ignore_index=pad``, the clipping at 10 in the loop body
(``train_step``), time-major id tensors with torchtext's specials (<unk> 0, <pad> 1, <sos> 2, <eos> 3).
Ported minimally: the implicit-``dim`` softmax is written ``F.softmax(..., dim=0)`` (what PyTorch resolves it
to, without the deprecation warning); ``Variable``/``.cuda()`` dropped; ``clip_grad_norm`` -> ``clip_grad_norm_``;
sizes shrunk so a step stays cheap on CPU: hidden 64 and embedding 32 (program 512 and 256), vocabularies of
64 German and 54 English ids (program ~7.9k and 10k); the teacher-forcing coin flips come from
``random.Random(0)`` drawn afresh in each forward call (the program uses the global ``random``), so a
forward pass is deterministic and the checks can compare calls; train mode uses the ratio 0.5 of
``train``, eval mode 0.0 as ``evaluate``. The checks take one id tensor: ``TrainForward`` takes
(batch, src_len + trg_len) batch-first ids, splits and transposes them to the program's time-major ``src`` and
``trg``, and returns ``output[1:]`` batch-first, (batch, trg_len - 1, en_vocab) log-probabilities; the target
is ``trg[1:]``.
Data stand-in (Multi30k and spaCy are not available offline): 256 seeded German/English sentence pairs over a
60-word German and 50-word English vocabulary with a Zipf-like word frequency; each German sentence has 4 to
8 words, its English side translates word by word (some German words share an English word) and moves the
German sentence-final word (the verb) to second place; ``<sos>`` ... ``<eos>`` then ``<pad>`` to 10 ids each
side. 8 batches of 32.
Keras: not ported. The fault is PyTorch's implicit softmax dimension (dim 0 for 3-D tensors); Keras'
``softmax`` defaults to the last axis, so the same line in Keras normalises over the hidden units of each
sentence and mixes nothing.
Fault label: batch_mixing (the attention energies of each sentence are normalised across the batch).
Fix (9cb885b): ``energy = F.relu(self.attn(torch.cat([hidden, encoder_outputs], 2)))``.

Symptom in a short loop (my own loop, /tmp script: ``model.train()`` and the ``train_step`` above, i.e.
``opt.zero_grad(); loss = nll(model(x), y); loss.backward(); clip_grad_norm_(10); opt.step()``, cycling over
the 8 batches, seed 0, OMP_NUM_THREADS=1; 25-55 ms a step on one CPU thread). Batch dependence, eval mode,
first batch: the largest change of any log-probability of sentence 0 when the other 31 sentences are
replaced by those of batch 3 is 1.1e-5 at initialisation (the softmax over 32 sentences flattens the
energies, so the attention is near uniform and the mixing shows only weakly) and 0.088 after 1,500 steps;
fed alone it changes by 8.2e-5 at initialisation and 0.060 after training (fixed: 0.0 and <= 3e-6 at both
points, batched-GEMM rounding). The loss shows it once the fixed model starts to use its attention
(training-step loss, then eval-mode mean over the 8 batches): buggy 3.985 (step 1) -> 3.421 (100) -> 3.138
(300, eval 3.173) -> 2.604 (800, eval 2.614) -> 2.207 (1,500, eval 2.195); fixed 3.984 -> 3.416 -> 3.118
(3.156) -> 2.364 (2.319) -> 1.362 (1.209). Overfitting one batch barely separates them at this learning
rate: 500 steps, buggy 3.985 -> 2.026 (eval 2.058), fixed 3.984 -> 1.933 (eval 1.931).
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:keon/seq2seq PR #6 (model.py Attention.score@44e32fe075438dadfb4042e4897daa3dcadcb891, "
          "train.py, utils.py; review 'computes softmax along the batch dimension'), fixed by PR #24 "
          "(9cb885bcd2a0a90dce5b51939fba6bc3c1538828 'fix attention')")
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

batch_size = 32  # -batch_size
lr = 0.0001  # -lr
grad_clip = 10.0  # -grad_clip
hidden_size = 64  # program: 512 (shrunk for CPU)
embed_size = 32  # program: 256
UNK, PAD, SOS, EOS = 0, 1, 2, 3  # torchtext Field specials: <unk>, <pad>, init_token, eos_token
src_len = trg_len = 10  # <sos> + up to 8 words + <eos>, padded
n_pairs = 256
n_de, n_en = 60, 50


def _corpus(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (de, en) id pairs, batch-first, each (n_pairs, 10): word-by-word translation through a fixed
    dictionary (60 German words onto 50 English ones), the German final word moved to second place."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_de + 1) ** 0.8
    p /= p.sum()
    dictionary = np.concatenate([np.arange(n_en), rng.integers(0, n_en, n_de - n_en)])
    src = np.full((n_pairs, src_len), PAD, dtype="int64")
    trg = np.full((n_pairs, trg_len), PAD, dtype="int64")
    for i in range(n_pairs):
        n = int(rng.integers(4, 9))
        de = rng.choice(n_de, size=n, p=p)
        en = dictionary[de]
        en = np.concatenate([en[:1], en[-1:], en[1:-1]])  # verb-final German -> English verb second
        src[i, :n + 2] = [SOS, *(de + 4), EOS]
        trg[i, :n + 2] = [SOS, *(en + 4), EOS]
    return src, trg


def _build(fixed_score: bool) -> dict[str, Any]:
    import warnings

    import torch
    from torch import nn
    import torch.nn.functional as F
    from torch.nn.utils import clip_grad_norm_

    torch.manual_seed(0)

    class Encoder(nn.Module):  # program lines
        def __init__(self, input_size, embed_size, hidden_size,
                     n_layers=1, dropout=0.5):
            super(Encoder, self).__init__()
            self.input_size = input_size
            self.hidden_size = hidden_size
            self.embed_size = embed_size
            self.embed = nn.Embedding(input_size, embed_size)
            self.gru = nn.GRU(embed_size, hidden_size, n_layers,
                              dropout=dropout, bidirectional=True)

        def forward(self, src, hidden=None):
            embedded = self.embed(src)
            outputs, hidden = self.gru(embedded, hidden)
            # sum bidirectional outputs
            outputs = (outputs[:, :, :self.hidden_size] +
                       outputs[:, :, self.hidden_size:])
            return outputs, hidden

    class Attention(nn.Module):  # program lines
        def __init__(self, hidden_size):
            super(Attention, self).__init__()
            self.hidden_size = hidden_size
            self.attn = nn.Linear(self.hidden_size * 2, hidden_size)
            self.v = nn.Parameter(torch.rand(hidden_size))
            stdv = 1. / math.sqrt(self.v.size(0))
            self.v.data.uniform_(-stdv, stdv)

        def forward(self, hidden, encoder_outputs):
            timestep = encoder_outputs.size(0)
            h = hidden.repeat(timestep, 1, 1).transpose(0, 1)
            encoder_outputs = encoder_outputs.transpose(0, 1)  # [B*T*H]
            attn_energies = self.score(h, encoder_outputs)
            return F.softmax(attn_energies, dim=1).unsqueeze(1)

        def score(self, hidden, encoder_outputs):
            # [B*T*2H]->[B*T*H]
            if fixed_score:  # 9cb885b
                energy = F.relu(self.attn(torch.cat([hidden, encoder_outputs], 2)))
            else:  # 44e32fe: F.softmax(...) with no dim, which PyTorch resolves to dim 0 (the batch) for 3-D
                energy = F.softmax(self.attn(torch.cat([hidden, encoder_outputs], 2)), dim=0)
            energy = energy.transpose(1, 2)  # [B*H*T]
            v = self.v.repeat(encoder_outputs.size(0), 1).unsqueeze(1)  # [B*1*H]
            energy = torch.bmm(v, energy)  # [B*1*T]
            return energy.squeeze(1)  # [B*T]

    class Decoder(nn.Module):  # program lines
        def __init__(self, embed_size, hidden_size, output_size,
                     n_layers=1, dropout=0.2):
            super(Decoder, self).__init__()
            self.embed_size = embed_size
            self.hidden_size = hidden_size
            self.output_size = output_size
            self.n_layers = n_layers

            self.embed = nn.Embedding(output_size, embed_size)
            self.dropout = nn.Dropout(dropout, inplace=True)
            self.attention = Attention(hidden_size)
            self.gru = nn.GRU(hidden_size + embed_size, hidden_size,
                              n_layers, dropout=dropout)
            self.out = nn.Linear(hidden_size * 2, output_size)

        def forward(self, input, last_hidden, encoder_outputs):
            # Get the embedding of the current input word (last output word)
            embedded = self.embed(input).unsqueeze(0)  # (1,B,N)
            embedded = self.dropout(embedded)
            # Calculate attention weights and apply to encoder outputs
            attn_weights = self.attention(last_hidden[-1], encoder_outputs)
            context = attn_weights.bmm(encoder_outputs.transpose(0, 1))  # (B,1,N)
            context = context.transpose(0, 1)  # (1,B,N)
            # Combine embedded input word and attended context, run through RNN
            rnn_input = torch.cat([embedded, context], 2)
            output, hidden = self.gru(rnn_input, last_hidden)
            output = output.squeeze(0)  # (1,B,N) -> (B,N)
            context = context.squeeze(0)
            output = self.out(torch.cat([output, context], 1))
            output = F.log_softmax(output, dim=1)
            return output, hidden, attn_weights

    class Seq2Seq(nn.Module):  # program lines
        def __init__(self, encoder, decoder):
            super(Seq2Seq, self).__init__()
            self.encoder = encoder
            self.decoder = decoder

        def forward(self, src, trg, teacher_forcing_ratio=0.5):
            batch_size = src.size(1)
            max_len = trg.size(0)
            vocab_size = self.decoder.output_size
            outputs = torch.zeros(max_len, batch_size, vocab_size)
            coin = random.Random(0)  # port: the program draws from the global random module

            encoder_output, hidden = self.encoder(src)
            hidden = hidden[:self.decoder.n_layers]
            output = trg.data[0, :]  # sos
            for t in range(1, max_len):
                output, hidden, attn_weights = self.decoder(
                        output, hidden, encoder_output)
                outputs[t] = output
                is_teacher = coin.random() < teacher_forcing_ratio
                top1 = output.data.max(1)[1]
                output = trg.data[t] if is_teacher else top1
            return outputs

    class TrainForward(nn.Module):
        """``model(src, trg)`` of ``train`` (ratio 0.5) / ``evaluate`` (ratio 0.0) on batch-first
        (B, src_len + trg_len) ids; returns ``output[1:]`` batch-first, (B, trg_len - 1, V) log-probs."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            src = x[:, :src_len].transpose(0, 1).contiguous()
            trg = x[:, src_len:].transpose(0, 1).contiguous()
            output = self.model(src, trg, teacher_forcing_ratio=0.5 if self.training else 0.0)
            return output[1:].transpose(0, 1)

    src, trg = _corpus()
    de_size, en_size = n_de + 4, n_en + 4
    with warnings.catch_warnings():  # nn.GRU warns that dropout does nothing with 1 layer (program's decoder)
        warnings.simplefilter("ignore", UserWarning)
        encoder = Encoder(de_size, embed_size, hidden_size,
                          n_layers=2, dropout=0.5)
        decoder = Decoder(embed_size, hidden_size, en_size,
                          n_layers=1, dropout=0.5)
    model = TrainForward(Seq2Seq(encoder, decoder))

    def loss_fn(output, trg_out):  # train.py: F.nll_loss(output[1:].view(-1, vocab_size), trg[1:]..., ignore_index=pad)
        return F.nll_loss(output.reshape(-1, en_size), trg_out.reshape(-1), ignore_index=PAD)

    def train_step(model, optimizer, loss_fn, x, y):  # train.py loop body
        optimizer.zero_grad()
        output = model(x)
        loss = loss_fn(output, y)
        loss.backward()
        clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        return loss

    x = torch.from_numpy(np.concatenate([src, trg], axis=1))
    y = torch.from_numpy(trg[:, 1:].copy())
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_pairs, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:64], "loss_fn": loss_fn,
            "train_step": train_step, "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_score=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_score=True)
