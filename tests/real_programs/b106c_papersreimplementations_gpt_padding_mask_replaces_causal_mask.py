"""BrianPulfer/PapersReimplementations (re-implementations of papers with PyTorch Lightning), ``src/nlp/gpt``: a GPT
(``GPT(pl.LightningModule)``: learnable token and position ``nn.Embedding``s, the repository's own
``DecoderTransformer`` of pre-LayerNorm ``DecoderBlock``s with per-head ``Attention`` modules, a LayerNorm + Linear
next-token classifier) trained on Wikipedia tokenized by the GPT-2 tokenizer with an added ``[PAD]`` token
(``padding="max_length"``, ``truncation=True``, ``max_length=128``), batch size 32, ``AdamW(lr=1e-4,
weight_decay=0.01, betas=(0.9, 0.999))`` with 100 warm-up steps and a linear decay; ``GPT.get_losses`` takes
``out, _ = self(ids, attn_mask)`` and the cross-entropy of ``out[:, :-1]`` against ``ids[:, 1:]`` at the positions
whose input token is not padding.

The fault (the attention mask): ``get_losses`` passes the tokenizer's ``attention_mask`` (shape (B, T), 1 for tokens,
0 for ``[PAD]``) to ``GPT.forward(ids, attn_mask)``, which hands it on as ``self_attn_mask``.
``DecoderTransformer.forward`` only builds its causal ``torch.tril`` mask when ``self_attn_mask is None``, so in
training the causal mask is replaced by the padding mask: ``Attention`` repeats the (B, T) mask over the query rows,
and every position may attend to every non-padding position, the later ones included. The label of position t is
the input token at t + 1, which that position can now see: the model learns to read the next token out of the
input instead of predicting it. The training loss falls below what any next-token predictor can reach, while
``generate`` (which calls ``self(input_ids)`` with no mask, hence causally) gets a model that never learned to
predict from the past alone. The fix, commit e21f558 "Using causal masking by default in GPT.", drops the mask
argument: ``forward(self, ids)`` builds ``attn_mask = torch.tril(torch.ones(t, t)).repeat(b, 1, 1)`` itself and
``get_losses`` calls ``self(ids)``.
Fault label: target_leakage (the padding mask that replaced the causal mask lets each position attend to the
following token, which is its own target).

Source: github.com/BrianPulfer/PapersReimplementations ``src/nlp/gpt/model.py`` at
bdce27bcb3f4f1b529ab4eada1dc085de7cccd86 (= e21f558^, the version just before the fix; ``get_losses`` has passed
the attention mask this way since the GPT was added in 8b63c7b), with ``src/nlp/layers/decoder.py``,
``src/nlp/layers/attention.py``, ``src/nlp/layers/mlp.py`` and ``src/nlp/gpt/main.py`` at that commit; fixed by
e21f5584318e59cc81bdb09a5fd56bd7b3bcfe8a "Using causal masking by default in GPT." (the same author, the day of
merge c3dd4c3 of PR #17, whose commit bdce27b "Not applying CE loss to pad tokens." is already in the buggy version).

Program lines kept: ``Attention``, ``MultiHeadAttention``, ``MLP``, ``DecoderBlock`` and ``DecoderTransformer``
verbatim; ``GPT.__init__`` and ``GPT.forward`` as written (``get_learnable_embedding`` is ``nn.Embedding``), with
the fix's causal-mask line switched on in the fixed build (its ``attn_mask`` argument is then unused); the loss
lines of ``get_losses`` verbatim (shift by one, selection by ``attn_mask[:, :-1] == 1``,
``nn.functional.cross_entropy``); ``AdamW`` with the program's lr 1e-4, weight decay 0.01 and betas; batch size 32;
dropout 0.1; torch default init.
Replaced / shrunk: ``pl.LightningModule`` -> ``nn.Module`` (Lightning's hooks, logging, ``save_hyperparameters`` left
out; Lightning is not installed). The warm-up / linear-decay ``LambdaLR`` is left out: the checks get the optimizer
at the peak lr 1e-4 (the schedule starts at lr 0 and is stepped by a Lightning hook). The sizes are shrunk so that
a step takes ~0.1 s on one core: n_blocks 12 -> 2, n_heads 12 -> 4, hidden_dim 768 -> 64, max_len 128 -> 32,
vocabulary 50,257 GPT-2 ids + ``[PAD]`` -> 64 word ids + ``[PAD]`` (``PAD_ID`` = 64, the last id, as the added
pad token is for GPT-2). ``GPTTraining`` wraps the GPT so that ``model(ids)`` runs what ``get_losses`` runs: the
buggy one ``self.gpt(ids, attn_mask)`` with ``attn_mask = (ids != PAD_ID)`` (the tokenizer's ``attention_mask``:
``[PAD]`` is only ever added as padding), the fixed one ``self.gpt(ids)``; it returns ``out`` (the logits) and drops
the hidden states as ``get_losses`` does. Targets ``y`` are the ids themselves: ``loss_fn(out, ids)`` does the
shift and the padding selection as ``get_losses`` does.
Data stand-in (no Wikipedia / tokenizer download): 3456 "articles" of word ids from a first-order Markov language
(each of 64 ids has 4 successors, probabilities 0.4 / 0.3 / 0.2 / 0.1, so the best possible next-token accuracy is
about 0.40 and the entropy 1.28 nats a token), 65 % of rows filling all 32 positions (most articles are longer than
max_len and are truncated) and the rest 6..31 tokens long, right-padded with ``PAD_ID`` (11 % of the first batch is
padding). ``batches``: 100 distinct batches of 32; ``batch``: the first; ``inputs``: 256 held-out rows.

Measured (my own plain loop, /tmp/s60/p/rc/measure.py: the module's builds, zero_grad / model(x) / loss_fn /
backward / step over the 100 ``batches`` in order, cycled, 1500 steps, train mode with dropout, torch seed 0,
OMP_NUM_THREADS=1). "train-path" = the held-out loss with ``model(ids)`` (what training computes); "causal" = the
held-out loss with ``model.gpt(ids)`` and no mask (the causal model that ``generate`` runs); both in eval mode on the
256 ``inputs``, accuracy over the same positions as the loss. At init both are 4.39 (ln 65 = 4.17).
  step:                          250          500          750          1000         1250         1500
  buggy training loss (last 20): 3.21         2.25         1.72         1.22         0.68         0.38
  fixed training loss (last 20): 3.21         2.30         1.89         1.70         1.60         1.54
  buggy held-out train-path loss / acc:  3.15/0.26  2.17/0.40  1.64/0.51  1.12/0.70  0.59/0.88  0.30/0.95
  buggy held-out causal loss / acc:      3.18/0.25  2.31/0.35  2.03/0.35  2.15/0.31  2.45/0.27  2.76/0.24
  fixed held-out loss / acc (the same both ways): 3.15/0.26  2.22/0.36  1.82/0.38  1.63/0.39  1.54/0.39  1.49/0.39
So the buggy training loss drops far below the language's entropy floor (0.38 vs >= 1.28, accuracy 0.95 vs a
possible 0.40) by reading the next token through attention, while the causal model it yields gets worse after
step ~600 (held-out loss 2.76 and accuracy 0.24 at step 1500, against 1.49 / 0.39 fixed). Over the first ~400
steps the two learn alike (both first pick up the per-token successor statistics through the residual path; the
leak is learned after that), so a short check may see no difference; the leak then makes the buggy training loss
the LOWER one. An earlier, easier stand-in (2 successors, p 0.75 / 0.25) showed no leak within 600 steps at lr 1e-4
(the successor table alone was almost enough); hence the 4-successor language.
Time per step (batch 32, one thread): ~0.1-0.16 s for both. Build: first ~15 s (torch import), later < 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:BrianPulfer/PapersReimplementations src/nlp/gpt/model.py GPT.forward / get_losses "
          "@bdce27bcb3f4f1b529ab4eada1dc085de7cccd86 (= e21f558^; src/nlp/layers/decoder.py DecoderTransformer, "
          "src/nlp/layers/attention.py Attention, src/nlp/gpt/main.py), fixed by "
          "e21f5584318e59cc81bdb09a5fd56bd7b3bcfe8a 'Using causal masking by default in GPT.'")
FRAMEWORKS = ("torch",)

# main.py defaults, shrunk (n_blocks 12, n_heads 12, hidden_dim 768, max_len 128, GPT-2 vocabulary + [PAD])
VOCAB_WORDS = 64          # stand-in word ids 0..63
PAD_ID = VOCAB_WORDS      # tokenizer.add_special_tokens({"pad_token": "[PAD]"}): the pad id is the last id
VOCAB_SIZE = VOCAB_WORDS + 1
MAX_LEN = 32
HIDDEN_DIM = 64
N_HEADS = 4
N_BLOCKS = 2
DROPOUT = 0.1
BATCH_SIZE = 32           # main.py --batch_size
LR = 1e-4                 # main.py --lr
WEIGHT_DECAY = 0.01       # main.py --weight_decay
BETAS = (0.9, 0.999)      # GPT.DEFAULT_GPT_CONFIG
N_BATCHES = 100
N_INPUTS = 256
SEED = 0

CHECKS = [("init_loss", {"num_classes": VOCAB_SIZE}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {}), ("batch_independence", {})]


@functools.lru_cache(maxsize=1)
def _successors() -> tuple[np.ndarray, np.ndarray]:
    """The stand-in language: each word id is followed by one of 4 successors (p 0.4 / 0.3 / 0.2 / 0.1)."""
    r = np.random.default_rng(SEED)
    nxt = np.stack([r.choice(VOCAB_WORDS, 4, replace=False) for _ in range(VOCAB_WORDS)])
    p = np.tile(np.array([0.4, 0.3, 0.2, 0.1]), (VOCAB_WORDS, 1))
    return nxt, p


@functools.lru_cache(maxsize=1)
def _data() -> np.ndarray:
    """Tokenized 'articles' padded / truncated to MAX_LEN (padding='max_length', truncation=True): int64 ids."""
    nxt, p = _successors()
    r = np.random.default_rng(SEED + 1)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    ids = np.full((n, MAX_LEN), PAD_ID, dtype="int64")
    for i in range(n):
        # most Wikipedia articles are longer than max_len (truncated, no padding); about a third are shorter
        length = MAX_LEN if r.random() < 0.65 else int(r.integers(6, MAX_LEN))
        w = int(r.integers(VOCAB_WORDS))
        for t in range(length):
            ids[i, t] = w
            w = int(nxt[w, r.choice(4, p=p[w])])
    return ids


def _build(is_fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.optim import AdamW

    # ---- src/nlp/layers/attention.py (verbatim)
    class Attention(nn.Module):
        """Single Attention Head."""

        def __init__(self, dropout_p=0.1):
            super(Attention, self).__init__()
            self.softmax = nn.Softmax(dim=-1)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, q, k, v, mask=None):
            # Comput the attention scores by computing the dot product of queries with keys
            b, t, d = q.shape
            attn = q @ k.transpose(-2, -1) / (d**0.5)  # b, nq, nk

            # Mask interactions that should not be captured
            if mask is not None:
                if mask.ndim == 1:
                    new_mask = torch.ones_like(attn)
                    new_mask[:, :, mask == 0] = 0
                    mask = new_mask

                if mask.ndim == 2:
                    if mask.shape == (b, t):
                        mask = mask.repeat(1, t).reshape(b, t, t)
                    elif mask.shape == (t, t):
                        mask = mask.repeat(b, 1, 1)
                    else:
                        raise KeyError(
                            "Provided mask shape is two dimensional but doesn't match sequence length or batch size"
                        )

                attn = attn.masked_fill(mask == 0, float("-inf"))

            # Computing final output by multiplying attention scores with values
            attn = self.softmax(attn)
            out = attn @ v

            # Dropping out as regularization during training
            out = self.dropout(out)
            return out

    class MultiHeadAttention(nn.Module):
        """Multi-Head Attention."""

        def __init__(self, n_heads, dropout_p=0.1):
            super(MultiHeadAttention, self).__init__()
            self.n_heads = n_heads
            self.heads = nn.ModuleList([Attention(dropout_p) for _ in range(self.n_heads)])

        def forward(self, q, k, v, mask=None):
            # Check that dimensionalities are divisible by the number of heads
            b, nq, d = q.shape
            b, nk, dv = v.shape
            assert (
                d % self.n_heads == 0
            ), f"{d}-dimensional query cannot be broken into {self.n_heads} heads."
            assert (
                dv % self.n_heads == 0
            ), f"{dv}-dimensional value cannot be broken into {self.n_heads} heads."

            # Computing attention in all sub-vectors
            qk_dim_per_head = int(d / self.n_heads)
            v_dim_per_head = int(dv / self.n_heads)
            out = torch.cat(
                [
                    head(
                        q[:, :, i * qk_dim_per_head : (i + 1) * qk_dim_per_head],
                        k[:, :, i * qk_dim_per_head : (i + 1) * qk_dim_per_head],
                        v[:, :, i * v_dim_per_head : (i + 1) * v_dim_per_head],
                        mask,
                    )
                    for i, head in enumerate(self.heads)
                ],
                dim=-1,
            )

            return out

    # ---- src/nlp/layers/mlp.py (verbatim)
    class MLP(nn.Module):
        def __init__(
            self, in_dim, hidden_dim=None, out_dim=None, activation=nn.GELU(), drop_p=0.1
        ) -> None:
            super(MLP, self).__init__()

            self.in_dim = in_dim
            self.hidden_dim = hidden_dim if hidden_dim is not None else in_dim * 4
            self.out_dim = out_dim if out_dim is not None else in_dim

            self.linear1 = nn.Linear(self.in_dim, self.hidden_dim)
            self.linear2 = nn.Linear(self.hidden_dim, self.out_dim)
            self.activation = activation
            self.dropout = nn.Dropout(drop_p)

        def forward(self, x):
            out = self.linear1(x)
            out = self.activation(out)
            out = self.linear2(out)
            out = self.dropout(out)
            return out

    # ---- src/nlp/layers/decoder.py (verbatim; the cross-attention branch is unused by GPT)
    class DecoderBlock(nn.Module):
        def __init__(
            self,
            hidden_dim,
            n_heads,
            mlp_hidden=None,
            mlp_out=None,
            mlp_activation=nn.GELU(),
            dropout_p=0.1,
            with_xa=False,
        ):
            super(DecoderBlock, self).__init__()
            self.with_xa = with_xa

            self.ln1 = nn.LayerNorm(hidden_dim)
            self.sa_qkv = nn.Linear(hidden_dim, 3 * hidden_dim)
            self.mhsa = MultiHeadAttention(n_heads, dropout_p)
            self.sa_o = nn.Linear(hidden_dim, hidden_dim)

            if with_xa:
                self.ln2 = nn.LayerNorm(hidden_dim)
                self.xa_q = nn.Linear(hidden_dim, hidden_dim)
                self.xa_kv = nn.Linear(hidden_dim, 2 * hidden_dim)
                self.mhxa = MultiHeadAttention(n_heads, dropout_p)
                self.xa_o = nn.Linear(hidden_dim, hidden_dim)

            self.ln3 = nn.LayerNorm(hidden_dim)
            self.mlp = MLP(hidden_dim, mlp_hidden, mlp_out, mlp_activation, dropout_p)

        def forward(self, x, kv=None, self_attn_mask=None, cross_attn_mask=None):
            # Self-attention and residual part
            q, k, v = self.sa_qkv(self.ln1(x)).chunk(3, -1)
            sa_out = self.sa_o(self.mhsa(q, k, v, self_attn_mask))
            x = x + sa_out

            # Cross-attention and residual part
            if self.with_xa and kv is not None:
                q = self.xa_q(self.ln2(x))
                k, v = self.xa_kv(kv).chunk(2, -1)
                xa_out = self.xa_o(self.mhxa(q, k, v, cross_attn_mask))
                x = x + xa_out

            # MLP and residual part
            out = x + self.mlp(self.ln3(x))
            return out

    class DecoderTransformer(nn.Module):
        def __init__(
            self,
            hidden_dim,
            n_heads,
            depth,
            mlp_hidden=None,
            mlp_out=None,
            mlp_activation=nn.GELU(),
            dropout_p=0.1,
            with_xa=False,
        ):
            super(DecoderTransformer, self).__init__()

            self.blocks = nn.ModuleList(
                [
                    DecoderBlock(
                        hidden_dim,
                        n_heads,
                        mlp_hidden,
                        mlp_out,
                        mlp_activation,
                        dropout_p,
                        with_xa,
                    )
                    for _ in range(depth)
                ]
            )

        def forward(self, hidden, kv=None, self_attn_mask=None, cross_attn_mask=None):
            # Creating causal mask if not provided
            if self_attn_mask is None:
                b, l, d = hidden.shape
                self_attn_mask = torch.tril(torch.ones(l, l, device=hidden.device)).repeat(
                    b, 1, 1
                )

            # Running blocks
            for block in self.blocks:
                hidden = block(hidden, kv, self_attn_mask, cross_attn_mask)

            return hidden

    # ---- src/nlp/gpt/model.py (pl.LightningModule -> nn.Module; logging, scheduler and Lightning hooks left out)
    class GPT(nn.Module):
        def __init__(self, vocab_size, max_len, hidden_dim, n_heads, depth, dropout=0.1):
            super(GPT, self).__init__()
            self.vocab_size = vocab_size
            self.max_len = max_len
            self.hidden_dim = hidden_dim
            self.n_heads = n_heads
            self.depth = depth
            self.dropout = dropout

            # Embeddings
            self.embeddings = nn.Embedding(vocab_size, hidden_dim)  # get_learnable_embedding
            self.pos_embeddings = nn.Embedding(max_len, hidden_dim)  # get_learnable_embedding

            # Transformer and output layer
            self.transformer = DecoderTransformer(
                hidden_dim, n_heads, depth, dropout_p=dropout
            )

            # Next token classifier
            self.classifier = nn.Sequential(
                nn.LayerNorm(hidden_dim), nn.Linear(hidden_dim, vocab_size)
            )

        def forward(self, ids, attn_mask=None):
            # Embedding
            b, t = ids.shape
            hidden = self.embeddings(ids)
            hidden += self.pos_embeddings(torch.arange(t, device=ids.device)).repeat(
                b, 1, 1
            )

            if is_fixed:
                # Causal masking (the fix, e21f558: forward(self, ids) builds this mask itself)
                attn_mask = torch.tril(torch.ones(t, t)).repeat(b, 1, 1).to(ids.device)

            # Transformer
            hidden = self.transformer(hidden, self_attn_mask=attn_mask)

            # Classification
            return self.classifier(hidden), hidden

    class GPTTraining(nn.Module):
        """What GPT.get_losses runs before the loss: the forward pass on the batch's ids (with the tokenizer's
        attention_mask: 1 for tokens, 0 for [PAD])."""

        def __init__(self, gpt):
            super().__init__()
            self.gpt = gpt

        def forward(self, ids):
            attn_mask = (ids != PAD_ID).long()  # batch["attention_mask"]
            if is_fixed:
                out, _ = self.gpt(ids)
            else:
                out, _ = self.gpt(ids, attn_mask)
            return out

    def loss_fn(out, ids):  # GPT.get_losses: the labels are the input ids shifted by one
        attn_mask = (ids != PAD_ID).long()  # batch["attention_mask"]
        # Computing cross-entropy loss
        preds, labels = out[:, :-1], ids[:, 1:]
        preds, labels = preds[attn_mask[:, :-1] == 1], labels[attn_mask[:, :-1] == 1]
        ce_loss = nn.functional.cross_entropy(
            preds.reshape(-1, VOCAB_SIZE), labels.reshape(-1)
        )
        return ce_loss

    torch.manual_seed(SEED)
    model = GPTTraining(GPT(VOCAB_SIZE, MAX_LEN, HIDDEN_DIM, N_HEADS, N_BLOCKS, dropout=DROPOUT))
    optimizer = AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, betas=BETAS)

    ids = torch.tensor(_data())
    n_tr = N_BATCHES * BATCH_SIZE
    batches = [(ids[i:i + BATCH_SIZE], ids[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": ids[n_tr:],
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(is_fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(is_fixed=True)
