"""bkitano/llama-from-scratch ("Llama from scratch (or how to implement a paper without crying)", a blog-style
notebook ``llama.ipynb`` rendered to ``README.md``): a character-level language model on TinyShakespeare (65
characters, ``encode`` = index in ``sorted(set(lines))``, the text as one int8 tensor), ``get_batches`` draws random
16-character windows x and the windows shifted by one as targets y from the first 80 % of the text (batch 32),
``train()`` runs 1000 steps of ``zero_grad`` / ``model(xs, targets=ys)`` / ``backward`` / ``Adam.step``
(``torch.optim.Adam(model.parameters())``, defaults). ``RopeModel``: ``Embedding(65, d_model)`` -> ``RMSNorm`` over
(context_window, d_model) -> ``x + RoPEMultiheadAttention(x)`` (8 heads, each with full-width bias-free q / k / v
projections, q and k rotated by the RoPE matrices, ``F.scaled_dot_product_attention`` with ``dropout_p=.1``; the 8
outputs concatenated -> ``Linear(8 * d_model, d_model)`` -> ``Dropout(.1)``) -> the same RMSNorm -> ``x +
ReLU(Linear(x))`` -> ``Linear(d_model, 65)``; ``F.cross_entropy`` of the logits against the next characters.

The fault (no causal mask in a next-character model): ``RoPEAttentionHead.forward`` calls
``F.scaled_dot_product_attention(q_rotated,k_rotated,v,dropout_p =.1)`` with neither ``attn_mask`` nor
``is_causal``, so the attention is bidirectional: position t attends to every position of the window, including
position t + 1, whose input character IS the target of position t. The model learns to copy the next input
character instead of predicting it; training and validation loss (computed on the same kind of windows) collapse
towards zero, while generation, where the next character is not in the input, produces rubbish. The write-up shows
it: "validation loss: 0.1623 ... That is so low...it's almost too low" (exp(.16) = 1.17), the generated samples are
runs of newlines and repeated letters ("So it looks terrible"), then "the model is attending to tokens that come
after it. In other words, the model is cheating, or leaking information from the future ... it's why we need to
use a causal mask". The fix, in the next cells: ``RoPEMaskedAttentionHead``, the same head with
``F.scaled_dot_product_attention(q_rotated,k_rotated,v,dropout_p =.1, is_causal=True)`` (in
``RoPEMaskedMultiheadAttention``), "Much better, our loss is now not merely dropping to near-zero": validation loss
2.08 and readable text.
Source: github.com/bkitano/llama-from-scratch ``README.md`` / ``llama.ipynb`` at
ce3e52f4f154ce16345927c4f2c5082b5ecfea13 ("run through", the figures above). History: dd22d67 "adding training for
rope, but i can't replicate the mistake i made in the past"; 85ec3ac242ed3e8c4daaba724be6d5dfeee56a1c "fixing rope
attention to not use multihead, per hacker news" (the heads became the hand-written SDPA heads above);
8e0d0b439d226cb7736444c6982ea0daa2e751c0 "adding an example of attention leaking" (the unmasked ``RopeModel``
training run and its masked replacement). The buggy program and its fix are both in the published write-up, one
after the other, not a bug commit followed by a fixing commit.
Fault label: target_leakage (the input window holds each position's target and the attention may read it).

Program lines kept verbatim: ``get_rotary_matrix`` (with its ``(i - 1)``), ``RMSNorm`` (normalising over the time
axis too), the head's projections / rotations and both SDPA calls, ``RoPEMultiheadAttention``, ``RopeModel``,
``get_batches``, the loss, ``torch.optim.Adam(model.parameters())``; MASTER_CONFIG as accumulated at that cell
(vocab 65, batch 32, context 16, 8 heads, 1000 epochs = steps). The program's two head classes differ only in the
SDPA call, so one class with a flag picks the buggy or the fixed call. Dropped: the ``return_attn_weights`` plotting
branch, a copy of ``get_rotary_matrix`` pasted inside the head classes without ``self`` (never called), the
parameter-count print. Shrunk: d_model 128 -> 64 (559,681 -> 144,705 parameters), because at 128 one step took
80 ms on one thread (8 s per 100 steps; now 2.5-3 s). Kept quirks: ``dropout_p=.1`` in the functional SDPA call
drops attention weights in eval mode too; the RMSNorm statistic is taken over the whole window, so even the fixed
model sees a little of the future through it (below). The loss the checks get is the model's own
``F.cross_entropy(logits.view(-1, 65), targets.view(-1))`` on the logits ``model(idx)`` returns without targets.
Ported: torch only (a Keras twin would have to re-write the RoPE heads; there is no faithful one).
Data stand-in (no TinyShakespeare): 200,000 characters (TinyShakespeare has 1,115,394) from a seeded order-2
character Markov chain over TinyShakespeare's 65 characters (newline, space, ! $ & ' , - . 3 : ; ?, A-Z, a-z in that
sorted order): each pair of characters has 2-4 possible next characters, drawn with English-like frequencies
(space, lower-case letters, some newlines and punctuation, rare capitals), Dirichlet(2) probabilities; 62 of the 65
ids occur. The next character depends on the two before it (conditional entropy 0.92 nats: the lowest loss a model
that does not see the future can reach; unigram entropy 3.21). The same 80 / 10 / 10 split; ``batches``: 50
windows-batches of (32, 16) int64 drawn by the program's ``get_batches`` after ``torch.manual_seed(0)``, ``batch``
the first; ``inputs``: 256 windows from the validation split.

Measured (my own plain loop, /tmp/s56/p/b94c/measure.py: the module's builds, the program's train() loop with
fresh random train windows every step (torch generator seed 0), 1000 steps, evaluate_loss-style means over 10
batches of 32 in eval mode; OMP_NUM_THREADS=1; loss at all positions / positions 0-14 / the last position 15, the
only one whose target is not inside the window):
  buggy  step   10: train 3.48 / 3.48 / 3.54, val 3.46 / 3.46 / 3.46
         step  100: train 1.19 / 1.04 / 3.47, val 1.16 / 1.01 / 3.40
         step  500: train 0.20 / 0.03 / 2.76, val 0.19 / 0.02 / 2.70
         step 1000: train 0.16 / 0.009 / 2.37, val 0.15 / 0.007 / 2.35   (the write-up: val 0.16)
  fixed  step   10: train 3.54 / 3.54 / 3.54, val 3.52 / 3.52 / 3.45
         step  100: train 2.63 / 2.63 / 2.68, val 2.61 / 2.61 / 2.59
         step  500: train 1.73 / 1.74 / 1.60, val 1.71 / 1.72 / 1.60
         step 1000: train 1.52 / 1.53 / 1.36, val 1.54 / 1.55 / 1.38   (the write-up: val 2.08 on Shakespeare)
  So the buggy loss falls far below the chain's entropy floor of 0.92 at positions 0-14 while at position 15 it is
  worse than the fixed model's (2.35 vs 1.38 on validation). Initial loss 4.30 in both (ln 65 = 4.17).
  Changing only positions 8-15 of 64 validation windows: the logits at position 7 move by up to 20.6 (buggy; argmax
  changes for 94 % of the windows) vs 1.0 (fixed, through the window-wide RMSNorm; argmax changes for none).
  Generation (5 samples of 300 characters from a newline, the program's generate loop on the last 16
  characters): share of generated character triples that occur in the text: buggy 0.13 (mostly runs of newlines
  with stray letters between them, as in the write-up), fixed 0.80.
  The module's 50 ``batches`` cycled, mean training loss over steps 1-25 / ... / 176-200: buggy 3.49 2.79 2.15 1.47
    1.01 0.73 0.55 0.46; fixed 3.55 3.04 2.87 2.68 2.53 2.36 2.27 2.15: the buggy program is the faster learner by
    its training loss. Afterwards max |logit| on ``inputs``: buggy 15.2, fixed 9.0. No NaN in either.
  Time per step (batch 32, one thread): about 25-30 ms both; first build ~5 s (imports, the text, the rotary
    matrices), later builds ~0.5 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:bkitano/llama-from-scratch README.md / llama.ipynb @ce3e52f4f154ce16345927c4f2c5082b5ecfea13: "
          "'RopeModel' over RoPEMultiheadAttention of RoPEAttentionHead 'F.scaled_dot_product_attention(q_rotated,"
          "k_rotated,v,dropout_p =.1)' (no causal mask; val loss 0.16, generation 'looks terrible'), fixed in the "
          "same write-up by RoPEMaskedAttentionHead '..., is_causal=True' (val loss 2.08); leak example added in "
          "8e0d0b439d226cb7736444c6982ea0daa2e751c0, heads from 85ec3ac242ed3e8c4daaba724be6d5dfeee56a1c)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 65}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {}), ("batch_independence", {})]

# tinyshakespeare's 65 characters, sorted as ``sorted(list(set(lines)))`` sorts them
VOCAB = ["\n", " ", "!", "$", "&", "'", ",", "-", ".", "3", ":", ";", "?"] + \
    [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
MASTER_CONFIG = {"vocab_size": len(VOCAB), "batch_size": 32, "context_window": 16, "d_model": 64,
                 "epochs": 1000, "log_interval": 10, "n_heads": 8}
N_CHARS = 200_000
N_BATCHES = 50
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _text_ids() -> np.ndarray:
    """A seeded order-2 character Markov chain over the 65 tinyshakespeare characters (each pair of characters has
    2-4 possible successors, drawn with English-like letter frequencies), as int8 ids like ``encode(lines)``."""
    r = np.random.default_rng(SEED)
    w = np.full(65, 0.05)
    w[0], w[1] = 2.0, 14.0  # newline, space
    w[[6, 8, 10, 12]] = [1.5, 1.0, 0.6, 0.3]  # , . : ?
    w[13:39] = 0.25  # capitals
    freq = "8.2 1.5 2.8 4.3 12.7 2.2 2.0 6.1 7.0 0.2 0.8 4.0 2.4 6.7 7.5 1.9 0.1 6.0 6.3 9.1 2.8 1.0 2.4 0.2 2.0 0.1"
    w[39:] = [float(f) for f in freq.split()]
    w /= w.sum()
    succ = np.empty((65, 65, 4), "int64")
    prob = np.zeros((65, 65, 4))
    for a in range(65):
        for b in range(65):
            k = int(r.integers(2, 5))
            succ[a, b, :k] = r.choice(65, k, replace=False, p=w)
            succ[a, b, k:] = succ[a, b, 0]
            prob[a, b, :k] = r.dirichlet(np.full(k, 2.0))
    cum = prob.cumsum(-1)
    u = r.random(N_CHARS)
    out = np.empty(N_CHARS, "int8")
    a, b = 0, 1
    for i in range(N_CHARS):
        c = int(succ[a, b, min(int(np.searchsorted(cum[a, b], u[i])), 3)])
        out[i] = c
        a, b = b, c
    return out


def _build(causal: bool) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import functional as F

    def get_rotary_matrix(context_window, embedding_dim):
        R = torch.zeros((context_window, embedding_dim, embedding_dim), requires_grad=False)
        for position in range(context_window):
            for i in range(embedding_dim//2):
                theta = 10000. ** (-2.*(i - 1) / embedding_dim)
                m_theta = position * theta
                R[position, 2*i,2*i] = np.cos(m_theta)
                R[position, 2*i,2*i+1] = - np.sin(m_theta)
                R[position, 2*i+1,2*i] = np.sin(m_theta)
                R[position, 2*i+1,2*i+1] = np.cos(m_theta)
        return R

    class RMSNorm(nn.Module):
        def __init__(self, layer_shape, eps=1e-8, bias=False):
            super(RMSNorm, self).__init__()
            self.register_parameter("scale", nn.Parameter(torch.ones(layer_shape)))

        def forward(self, x):
            """
            assumes shape is (batch, seq_len, d_model)
            """
            # frob norm is not the same as RMS. RMS = 1/sqrt(N) * frob norm
            ff_rms = torch.linalg.norm(x, dim=(1,2)) * x[0].numel() ** -.5
            raw = x / ff_rms.unsqueeze(-1).unsqueeze(-1)
            return self.scale[:x.shape[1], :].unsqueeze(0) * raw

    class RoPEAttentionHead(nn.Module):  # the buggy head; the fix is RoPEMaskedAttentionHead (is_causal=True)
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.w_q = nn.Linear(config['d_model'], config['d_model'], bias=False)
            self.w_k = nn.Linear(config['d_model'], config['d_model'], bias=False)
            self.w_v = nn.Linear(config['d_model'], config['d_model'], bias=False)

            self.R = get_rotary_matrix(config['context_window'], config['d_model'])

        def forward(self, x, return_attn_weights=False):
            b,m,d = x.shape

            q = self.w_q(x)
            k = self.w_k(x)
            v = self.w_v(x)

            q_rotated = (torch.bmm(q.transpose(0,1), self.R[:m])).transpose(0,1)
            k_rotated = (torch.bmm(k.transpose(0,1), self.R[:m])).transpose(0,1)

            if causal:  # RoPEMaskedAttentionHead (the fix)
                activations = F.scaled_dot_product_attention(
                    q_rotated,k_rotated,v,dropout_p =.1, is_causal=True
                )
            else:  # RoPEAttentionHead (the fault)
                activations = F.scaled_dot_product_attention(
                    q_rotated,k_rotated,v,dropout_p =.1
                )
            return activations

    class RoPEMultiheadAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.heads = nn.ModuleList([
                RoPEAttentionHead(config) for _ in range(config['n_heads'])
            ])
            self.linear = nn.Linear(config['n_heads'] * config['d_model'], config['d_model'])
            self.dropout = nn.Dropout(.1)

        def forward(self, x):
            heads = [h(x) for h in self.heads]
            x = torch.cat(heads, dim=-1)
            x = self.linear(x)
            x = self.dropout(x)
            return x

    class RopeModel(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config

            self.embedding = nn.Embedding(config['vocab_size'], config['d_model'])
            self.rms = RMSNorm((config['context_window'], config['d_model']))
            self.rope_attention = RoPEMultiheadAttention(config)

            self.linear = nn.Sequential(
                nn.Linear(config['d_model'], config['d_model']),
                nn.ReLU(),
            )

            self.last_linear = nn.Linear(config['d_model'], config['vocab_size'])

        def forward(self, idx, targets=None):
            x = self.embedding(idx)

            # one block of attention
            x = self.rms(x) # rms pre-normalization
            x = x + self.rope_attention(x)

            x = self.rms(x) # rms pre-normalization
            x = x + self.linear(x)

            logits = self.last_linear(x)

            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, self.config['vocab_size']), targets.view(-1))
                return logits, loss

            else:
                return logits

    def get_batches(data, split, batch_size, context_window, config=MASTER_CONFIG):
        train = data[:int(.8 * len(data))]
        val = data[int(.8 * len(data)): int(.9 * len(data))]
        test = data[int(.9 * len(data)):]

        batch_data = train
        if split == 'val':
            batch_data = val

        if split == 'test':
            batch_data = test

        # pick random starting points
        ix = torch.randint(0, batch_data.size(0) - context_window - 1, (batch_size,))
        x = torch.stack([batch_data[i:i+context_window] for i in ix]).long()
        y = torch.stack([batch_data[i+1:i+context_window+1] for i in ix]).long()
        return x, y

    config = MASTER_CONFIG
    dataset = torch.tensor(_text_ids(), dtype=torch.int8)
    torch.manual_seed(SEED)
    batches = [get_batches(dataset, 'train', config['batch_size'], config['context_window'])
               for _ in range(N_BATCHES)]
    inputs, _ = get_batches(dataset, 'val', N_INPUTS, config['context_window'])

    torch.manual_seed(SEED)
    model = RopeModel(config)
    optimizer = torch.optim.Adam(model.parameters())

    def loss_fn(logits, targets):  # RopeModel.forward's loss on the logits it returns without targets
        return F.cross_entropy(logits.view(-1, config['vocab_size']), targets.view(-1))

    torch.manual_seed(SEED)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(causal=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(causal=True)
