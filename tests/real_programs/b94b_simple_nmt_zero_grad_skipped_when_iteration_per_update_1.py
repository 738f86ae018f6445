"""kh-kim/simple-nmt (Ki Hyun Kim's sequence-to-sequence NMT toolkit, PyTorch + Ignite): ``train.py`` builds a
``Seq2Seq`` (``simple_nmt/models/seq2seq.py``: source and target ``nn.Embedding``, a bidirectional multi-layer
``nn.LSTM`` encoder with packed sequences, an input-feeding LSTM decoder run step by step with teacher forcing,
``Attention`` (a bias-free ``Linear`` query, dot product with the encoder states, softmax masked by length),
``concat`` + ``tanh`` and a ``Linear`` + ``LogSoftmax`` generator), ``nn.NLLLoss(weight=..., reduction='sum')``
with the <pad> weight set to 0 (``get_crit``), and ``optim.SGD(model.parameters(), lr=config.lr)`` unless
``--use_adam`` / ``--use_radam`` (``get_optimizer``). ``MaximumLikelihoodEstimationEngine.train`` in
``simple_nmt/trainer.py`` is Ignite's process function: it divides the summed token loss by the batch size and
by ``iteration_per_update``, backpropagates, clips the gradient norm to ``max_grad_norm`` and steps every
``iteration_per_update`` batches. README's Seq2Seq example: ``--batch_size 64 --dropout .2 --word_vec_size 512
--hidden_size 768 --n_layers 4 --lr 1.`` (SGD), with the defaults ``--iteration_per_update 1`` and
``--max_grad_norm 5``.

The fault (the training step): gradient accumulation was added in 4e55efa ("apply gradient accumulation and
amp") with ``if engine.state.iteration % engine.config.iteration_per_update == 1: engine.optimizer.zero_grad()``.
For the default ``iteration_per_update == 1`` the remainder ``n % 1`` is always 0, so the condition never holds
and ``zero_grad()`` is never called in the whole run, while the step condition ``n % 1 == 0`` holds every
batch. Every ``backward()`` adds its gradient to all the earlier ones, and since ``clip_grad_norm_`` rescales
``.grad`` in place, the buffer becomes b_t = clip_5(b_(t-1) + g_t): once its norm reaches 5 each SGD step (lr 1)
moves the weights by a full norm-5 step along a direction dominated by stale gradients, the current batch only
slowly turning it. The loss jumps up right after the start, stays far above its initial value for hundreds of
steps and the weights keep growing.

Source: github.com/kh-kim/simple-nmt, ``simple_nmt/trainer.py`` (``MaximumLikelihoodEstimationEngine.train``),
``simple_nmt/models/seq2seq.py``, ``train.py`` and README at 08fc4baaa96a88e7ce141dd83af572b2851ff1cc
(= 1fd2e56^; the fault entered with 4e55efad6d1c97ae3147050d06d87ad1b5869321, 2020-07-31), fixed by
1fd2e56d4c2f2f624e2b64153c697c7ecbda8d71 "hotfix: handle zero_grad in case of iteration_per_update==1."
(merged as PR #22, 40f6ab6a027ab292025852d6d7b969fc957aa740, 2020-08-29), which adds
``or engine.config.iteration_per_update == 1`` to the ``zero_grad`` condition (the same in ``rl_trainer.py`` and
``dual_trainer.py``).
Fault label: missing_zero_grad (with iteration_per_update 1 the gradients are never zeroed, every step uses the
clipped sum of all gradients so far).

Program lines kept: ``Attention``, ``Encoder``, ``Decoder``, ``Generator``, ``Seq2Seq.__init__`` /
``generate_mask`` / ``fast_merge_encoder_hiddens`` / ``forward`` (comments dropped; ``search`` and the beam
search left out, training does not call them), PyTorch default init, ``get_crit``'s ``NLLLoss`` (weight 0 for
<pad> = 1, reduction ``'sum'``), ``optim.SGD(..., lr=1.)``, batch size 64, dropout 0.2, the body of
``MaximumLikelihoodEstimationEngine.train`` for ``gpu_id -1`` (``model.train()``, the buggy / fixed
``zero_grad`` condition, ``crit`` over ``y_hat.contiguous().view(-1, V)``, ``loss.div(y.size(0))
.div(iteration_per_update)``, ``backward()``, ``clip_grad_norm_(..., 5.)``, ``optimizer.step()``) as
``train_step``, with ``iteration_per_update = 1`` and ``engine.state.iteration`` kept as a counter that
``train_step`` advances first (Ignite counts from 1; the buggy condition is false and the fixed one true for any
value). ``loss_fn`` is the trainer's ``engine.crit(...)`` call (the summed token NLL of the batch).
Left out or replaced: ``with autocast():`` (CUDA AMP; the CPU path never uses the ``GradScaler``), the
``|param|`` / ``|g_param|`` logging, Ignite's engine (the loop body is ``train_step``), the per-epoch
``MultiStepLR`` (decays from epoch 10, far beyond these runs). Shrunk so that a step costs tens of ms on one
CPU core: word_vec_size 32 and hidden_size 64 (program 512 and 768), n_layers 2 (program 4; at this width the
4-layer stack also cost ~1.5x as much per step and the FIXED version still sat on its unigram plateau after
300 steps, 3.50 -> 3.30 nats per token in blocks of 30, so it could not show what the fix buys), vocabularies
of 28 source and 24 target ids (program: the corpus' words).
The checks take one id tensor: ``TeacherForced`` wraps the ``Seq2Seq`` (same parameters) and takes
(batch, 6 + tgt_len - 1) ids ``[src | tgt[:, :-1]]``; it calls the program's
``model(mini_batch.src, mini_batch.tgt[0][:, :-1])`` with ``src = (ids, lengths)`` as torchtext's
``include_lengths`` field gives them (lengths counted from the non-<pad> ids, on the CPU) and returns
(batch, tgt_len - 1, 24) log-probabilities; the target is ``tgt[:, 1:]`` (``mini_batch.tgt[0][:, 1:]``).

Data stand-in (the author's crawled en/ko corpus is not public): seeded sentence pairs built with torchtext's
ids (<unk> 0, <pad> 1, <BOS> 2, <EOS> 3). A source sentence has 6 words, each one of 20 content words or, with
probability 0.3, one of 6 "particles" (first word always a content word); its translation maps each content word
through a fixed random dictionary, keeps the order and drops the particles (as Korean particles have no English
word), so targets are <BOS> + 1..6 words + <EOS>, <pad>-ed to the longest target of their group (as a
BucketIterator batch is). All sources have the same length, so the encoder's ``pack`` needs no sorting.
``batches``: 60 distinct batches of 64; ``batch``: the first; ``inputs``: 256 held-out pairs (decoder inputs
included). Initial loss ~3.18 nats per token = log(24).

Measured (my own loop, /tmp/s56/p/b94b/measure.py, on the module's builds: ``train_step`` over the 60
``batches`` in order, cycled; torch seed 0 after the build, OMP_NUM_THREADS=1; losses below are per target
token, i.e. the ``loss_fn`` value / number of non-<pad> targets):
  300 steps (5 passes), means of 30-step blocks:
    buggy 5.45 5.96 6.45 6.55 6.20 6.14 5.67 5.03 4.49 3.81 (max 15.3): up from 3.18 within the first steps;
    fixed 3.56 3.48 3.43 3.27 2.22 1.82 0.94 0.59 0.32 0.20 (last step 0.10).
    Afterwards (eval mode): training batches buggy 3.76 nats/token, token accuracy 0.47 / fixed 0.057, 0.985;
    held-out buggy 3.84, 0.47 / fixed 0.092, 0.973. The norm of ``.grad`` after each step (clipped) is 5.00
    in the buggy run (the saturated accumulated buffer), median 1.8 over the last 30 steps of the fixed one.
  900 steps, means of 90-step blocks: buggy 5.96 6.30 5.06 2.93 1.80 1.59 1.61 1.51 1.25 1.10 /
    fixed 3.49 2.44 0.62 0.11 0.03 0.02 0.02 0.01 0.01 0.01; held-out afterwards buggy 0.90 nats/token,
    accuracy 0.84 / fixed 0.012, 0.996; weight norm buggy 317 (51 at init, still growing by norm-5 steps) /
    fixed 72.6. So the buggy run does learn eventually, slowly and erratically, from a state much worse than its start.
  First 100 steps, means of 10: buggy 5.72 4.98 5.64 5.50 6.51 5.89 6.56 6.17 6.63 6.50 / fixed 2.99 3.89
    3.81 3.81 2.92 3.71 3.92 3.14 3.23 3.60: the fixed program (SGD lr 1, clip 5) is also noisy and not yet
    decreasing over its first 100 steps; the difference is the level (buggy ~2x the initial loss).
  One batch repeated 150 steps, means of 15: buggy 6.44 6.33 5.81 6.12 5.96 5.86 5.10 3.90 2.70 0.62 (max
    20.1, last 0.46) / fixed 3.14 4.09 3.66 3.35 3.05 2.97 2.28 1.00 0.14 0.04 (last 0.020): the buggy
    run memorises the batch too, later and through a loss up to 6x the initial one.
  Time per step (batch 64, one thread, on a shared 2-core machine under load ~7): 33-70 ms; build: ~3 s first
  (imports), then ~5 ms. 132k parameters.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "missing_zero_grad"
SOURCE = ("github:kh-kim/simple-nmt commit 1fd2e56d4c2f2f624e2b64153c697c7ecbda8d71 'hotfix: handle zero_grad in "
          "case of iteration_per_update==1.' (PR #22, merge 40f6ab6a027ab292025852d6d7b969fc957aa740); buggy "
          "simple_nmt/trainer.py MaximumLikelihoodEstimationEngine.train @08fc4baaa96a88e7ce141dd83af572b2851ff1cc "
          "(= 1fd2e56^, fault introduced by 4e55efa 'apply gradient accumulation and amp'), "
          "simple_nmt/models/seq2seq.py, train.py get_crit/get_optimizer, README Seq2Seq example")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

SEED = 0
BATCH_SIZE = 64  # README example: --batch_size 64
LR = 1.0  # --lr 1. (SGD: no --use_adam)
MAX_GRAD_NORM = 5.0  # --max_grad_norm default
ITERATION_PER_UPDATE = 1  # --iteration_per_update default (and the README's Seq2Seq example)
DROPOUT = 0.2  # README example: --dropout .2
N_LAYERS = 2  # README example: --n_layers 4 (shrunk)
WORD_VEC_SIZE = 32  # program 512 (shrunk)
HIDDEN_SIZE = 64  # program 768 (shrunk)
PAD, BOS, EOS = 1, 2, 3  # simple_nmt/data_loader.py (torchtext: <unk> 0, <pad> 1, <BOS> 2, <EOS> 3)
SRC_LEN = 6  # every source sentence has 6 words (no source padding)
N_CONTENT, N_PARTICLES = 20, 6
INPUT_SIZE = 2 + N_CONTENT + N_PARTICLES  # <unk>, <pad>, then the source words
OUTPUT_SIZE = 4 + N_CONTENT  # <unk>, <pad>, <BOS>, <EOS>, then the target words
N_BATCHES = 60
N_INPUTS = 256


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[np.ndarray, np.ndarray]:
    """Seeded sentence pairs: ``src`` (n, SRC_LEN) ids; ``tgt`` (n, SRC_LEN + 2) = <BOS> words <EOS> <pad>...

    Source words 2..21 are content words, 22..27 particles. The target translates the content words one by one
    through a fixed dictionary (a permutation) in source order and drops the particles, so its length varies.
    """
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    dictionary = 4 + r.permutation(N_CONTENT)
    is_particle = r.random((n, SRC_LEN)) < 0.3
    is_particle[:, 0] = False  # at least one content word
    src = np.where(is_particle, 2 + N_CONTENT + r.integers(0, N_PARTICLES, (n, SRC_LEN)),
                   2 + r.integers(0, N_CONTENT, (n, SRC_LEN)))
    tgt = np.full((n, SRC_LEN + 2), PAD, "int64")
    for i in range(n):
        words = [int(dictionary[w - 2]) for w in src[i] if w < 2 + N_CONTENT]
        tgt[i, :len(words) + 2] = [BOS] + words + [EOS]
    return src.astype("int64"), tgt


def _pack_rows(src: np.ndarray, tgt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One id array per sample, ``[src | tgt[:, :-1]]`` (decoder input without the last column), and ``tgt[:, 1:]``,
    cut to the longest target of the group as torchtext pads each batch to its own longest sentence."""
    width = int((tgt != PAD).sum(1).max())
    tgt = tgt[:, :width]
    return np.concatenate([src, tgt[:, :-1]], 1), tgt[:, 1:]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.utils as torch_utils
    from torch import optim
    from torch.nn.utils.rnn import pack_padded_sequence as pack
    from torch.nn.utils.rnn import pad_packed_sequence as unpack

    class Attention(nn.Module):  # simple_nmt/models/seq2seq.py (comments shortened)

        def __init__(self, hidden_size):
            super(Attention, self).__init__()

            self.linear = nn.Linear(hidden_size, hidden_size, bias=False)
            self.softmax = nn.Softmax(dim=-1)

        def forward(self, h_src, h_t_tgt, mask=None):
            query = self.linear(h_t_tgt)
            weight = torch.bmm(query, h_src.transpose(1, 2))
            if mask is not None:
                weight.masked_fill_(mask.unsqueeze(1), -float('inf'))
            weight = self.softmax(weight)
            context_vector = torch.bmm(weight, h_src)
            return context_vector

    class Encoder(nn.Module):

        def __init__(self, word_vec_size, hidden_size, n_layers=4, dropout_p=.2):
            super(Encoder, self).__init__()
            self.rnn = nn.LSTM(
                word_vec_size,
                int(hidden_size / 2),
                num_layers=n_layers,
                dropout=dropout_p,
                bidirectional=True,
                batch_first=True,
            )

        def forward(self, emb):
            if isinstance(emb, tuple):
                x, lengths = emb
                x = pack(x, lengths.tolist(), batch_first=True)
            else:
                x = emb

            y, h = self.rnn(x)

            if isinstance(emb, tuple):
                y, _ = unpack(y, batch_first=True)

            return y, h

    class Decoder(nn.Module):

        def __init__(self, word_vec_size, hidden_size, n_layers=4, dropout_p=.2):
            super(Decoder, self).__init__()
            self.rnn = nn.LSTM(
                word_vec_size + hidden_size,
                hidden_size,
                num_layers=n_layers,
                dropout=dropout_p,
                bidirectional=False,
                batch_first=True,
            )

        def forward(self, emb_t, h_t_1_tilde, h_t_1):
            batch_size = emb_t.size(0)
            hidden_size = h_t_1[0].size(-1)

            if h_t_1_tilde is None:
                h_t_1_tilde = emb_t.new(batch_size, 1, hidden_size).zero_()

            x = torch.cat([emb_t, h_t_1_tilde], dim=-1)
            y, h = self.rnn(x, h_t_1)

            return y, h

    class Generator(nn.Module):

        def __init__(self, hidden_size, output_size):
            super(Generator, self).__init__()
            self.output = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=-1)

        def forward(self, x):
            y = self.softmax(self.output(x))
            return y

    class Seq2Seq(nn.Module):

        def __init__(self, input_size, word_vec_size, hidden_size, output_size, n_layers=4, dropout_p=.2):
            self.input_size = input_size
            self.word_vec_size = word_vec_size
            self.hidden_size = hidden_size
            self.output_size = output_size
            self.n_layers = n_layers
            self.dropout_p = dropout_p

            super(Seq2Seq, self).__init__()

            self.emb_src = nn.Embedding(input_size, word_vec_size)
            self.emb_dec = nn.Embedding(output_size, word_vec_size)

            self.encoder = Encoder(
                word_vec_size, hidden_size,
                n_layers=n_layers, dropout_p=dropout_p,
            )
            self.decoder = Decoder(
                word_vec_size, hidden_size,
                n_layers=n_layers, dropout_p=dropout_p,
            )
            self.attn = Attention(hidden_size)

            self.concat = nn.Linear(hidden_size * 2, hidden_size)
            self.tanh = nn.Tanh()
            self.generator = Generator(hidden_size, output_size)

        def generate_mask(self, x, length):
            mask = []

            max_length = max(length)
            for l in length:  # noqa: E741
                if max_length - l > 0:
                    mask += [torch.cat([x.new_ones(1, l).zero_(),
                                        x.new_ones(1, (max_length - l))
                                        ], dim=-1)]
                else:
                    mask += [x.new_ones(1, l).zero_()]

            mask = torch.cat(mask, dim=0).bool()

            return mask

        def fast_merge_encoder_hiddens(self, encoder_hiddens):
            h_0_tgt, c_0_tgt = encoder_hiddens
            batch_size = h_0_tgt.size(1)

            h_0_tgt = h_0_tgt.transpose(0, 1).contiguous().view(batch_size,
                                                                -1,
                                                                self.hidden_size
                                                                ).transpose(0, 1).contiguous()
            c_0_tgt = c_0_tgt.transpose(0, 1).contiguous().view(batch_size,
                                                                -1,
                                                                self.hidden_size
                                                                ).transpose(0, 1).contiguous()
            return h_0_tgt, c_0_tgt

        def forward(self, src, tgt):
            batch_size = tgt.size(0)

            mask = None
            x_length = None
            if isinstance(src, tuple):
                x, x_length = src
                mask = self.generate_mask(x, x_length)
            else:
                x = src

            if isinstance(tgt, tuple):
                tgt = tgt[0]

            emb_src = self.emb_src(x)
            h_src, h_0_tgt = self.encoder((emb_src, x_length))

            h_0_tgt = self.fast_merge_encoder_hiddens(h_0_tgt)
            emb_tgt = self.emb_dec(tgt)
            h_tilde = []

            h_t_tilde = None
            decoder_hidden = h_0_tgt
            for t in range(tgt.size(1)):
                emb_t = emb_tgt[:, t, :].unsqueeze(1)

                decoder_output, decoder_hidden = self.decoder(emb_t,
                                                              h_t_tilde,
                                                              decoder_hidden
                                                              )
                context_vector = self.attn(h_src, decoder_output, mask)
                h_t_tilde = self.tanh(self.concat(torch.cat([decoder_output,
                                                             context_vector
                                                             ], dim=-1)))
                h_tilde += [h_t_tilde]

            h_tilde = torch.cat(h_tilde, dim=1)
            y_hat = self.generator(h_tilde)

            return y_hat

    class TeacherForced(nn.Module):
        """The checks' single input: (batch, SRC_LEN + tgt_len - 1) ids = [src | tgt[:, :-1]]. Calls the program's
        ``model(x, mini_batch.tgt[0][:, :-1])`` with ``x = (src, lengths)`` as torchtext's ``include_lengths``
        field gives it (lengths on the CPU, counted from the non-<pad> ids)."""

        def __init__(self, seq2seq):
            super().__init__()
            self.seq2seq = seq2seq

        def forward(self, ids):
            src = ids[:, :SRC_LEN]
            lengths = (src != PAD).sum(1).cpu()
            return self.seq2seq((src, lengths), ids[:, SRC_LEN:])

    torch.manual_seed(SEED)
    model = TeacherForced(Seq2Seq(INPUT_SIZE, WORD_VEC_SIZE, HIDDEN_SIZE, OUTPUT_SIZE,
                                  n_layers=N_LAYERS, dropout_p=DROPOUT))

    # train.py get_crit
    loss_weight = torch.ones(OUTPUT_SIZE)
    loss_weight[PAD] = 0.
    crit = nn.NLLLoss(
        weight=loss_weight,
        reduction='sum'
    )
    optimizer = optim.SGD(model.parameters(), lr=LR)  # train.py get_optimizer (no --use_adam / --use_radam)

    def loss_fn(y_hat, y):  # the trainer's loss = engine.crit(...)
        return crit(
            y_hat.contiguous().view(-1, y_hat.size(-1)),
            y.contiguous().view(-1)
        )

    state = {"iteration": 0}  # ignite's engine.state.iteration: 1 at the first batch

    def train_step(model, optimizer, loss_fn, x, y):  # MaximumLikelihoodEstimationEngine.train, gpu_id -1
        state["iteration"] += 1
        model.train()
        if fixed:  # 1fd2e56
            if state["iteration"] % ITERATION_PER_UPDATE == 1 or \
                    ITERATION_PER_UPDATE == 1:
                optimizer.zero_grad()
        else:  # 08fc4ba: with iteration_per_update == 1, n % 1 == 1 is never true
            if state["iteration"] % ITERATION_PER_UPDATE == 1:
                optimizer.zero_grad()

        y_hat = model(x)
        loss = loss_fn(y_hat, y)
        backward_target = loss.div(y.size(0)).div(ITERATION_PER_UPDATE)

        backward_target.backward()

        if state["iteration"] % ITERATION_PER_UPDATE == 0:
            torch_utils.clip_grad_norm_(
                model.parameters(),
                MAX_GRAD_NORM,
            )
            optimizer.step()
        return loss

    src, tgt = _corpus()
    n_tr = N_BATCHES * BATCH_SIZE
    batches = []
    for i in range(0, n_tr, BATCH_SIZE):
        xb, yb = _pack_rows(src[i:i + BATCH_SIZE], tgt[i:i + BATCH_SIZE])
        batches.append((torch.tensor(xb), torch.tensor(yb)))
    xi, _ = _pack_rows(src[n_tr:], tgt[n_tr:])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xi),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
