"""bkitano/llama-from-scratch (a blog-style walk-through that builds Llama step by step on TinyShakespeare, 2023),
``README.md`` / ``llama.ipynb``, section "Setting up a working base model": the first model is ``SimpleBrokenModel``,
a character-level feed-forward net, ``nn.Embedding(vocab_size, d_model)`` then ``nn.Sequential(nn.Linear(d_model,
d_model), nn.ReLU(), nn.Linear(d_model, vocab_size))`` applied at every position, with ``vocab_size`` 65 (the
characters of TinyShakespeare), ``d_model`` 128, ``context_window`` 16, ``batch_size`` 32, ``torch.optim.Adam(
model.parameters())`` (lr 1e-3), 1000 steps of ``get_batches`` (random windows of the first 80 % of the text,
targets = the window shifted one character on) and ``F.cross_entropy(logits.view(-1, vocab_size),
targets.view(-1))``.

The fault (the head): ``forward`` computes ``a = self.linear(x)`` and then ``logits = F.softmax(a, dim=-1)``, and
those probabilities go into ``F.cross_entropy``, which applies its own log-softmax. The loss becomes
-log softmax(softmax(a))[y]: its inputs are squeezed into [0, 1], so even a perfect prediction (p_y = 1, the rest 0)
still costs log(1 + 64/e) = 3.19 nats, and the gradient reaching ``a`` is multiplied by the softmax Jacobian, which
vanishes as the prediction grows confident. The net can hardly move the loss off its start value log(65) = 4.17.
The author's printed run of the buggy model: "The cross-entropy loss before training is 4.17, and after 1000
epochs is 3.93 ... This is a very small improvement, so something is probably wrong" (validation loss 3.94).

Source: github.com/bkitano/llama-from-scratch ``README.md`` (and the same cells of ``llama.ipynb``) at
ce3e52f4f154ce16345927c4f2c5082b5ecfea13 (the tutorial keeps both versions side by side, the buggy one first).
The fix is the author's own next cell, ``SimpleModel``: "for using the built in `F.cross_entropy` function, we need
to pass in the unnormalized logits directly ... So let's remove that from our model and try again" -- ``forward``
returns ``logits = self.linear(x)``; the printed validation loss after the same 1000 steps is 2.51 ("now our loss
is 2.54, so we're choosing from 12.67 characters. That's way better than the 65 we started with"). The same line was
reported again in issue #5 "no need to softmax before cross_entrpoy" (closed).
Fault label: output_activation|loss_mismatch (a softmax on the outputs that are handed to a loss taking logits).

Program lines kept verbatim: the model's ``__init__`` layers and ``forward`` (``x = self.embedding(idx)``,
``a = self.linear(x)``, ``logits = F.softmax(a, dim=-1)`` in the buggy version / ``logits = self.linear(x)`` in the
fixed one, the ``targets is not None`` branch returning ``logits, loss``), ``get_batches`` (80/10/10 split, random
windows with ``torch.randint``), the config (vocab 65, d_model 128, context 16, batch 32), ``torch.optim.Adam(
model.parameters())``, torch default init. Left out: the ``print("model params: ...")`` line of ``__init__``
(33,217 params, as printed) to keep builds quiet. The loss the checks get, ``loss_fn(outputs, targets)``, is the
program's own expression ``F.cross_entropy(logits.view(-1, vocab_size), targets.view(-1))`` on what ``model(x)``
returns (``model(x)`` without targets returns the model's ``logits``, as in the program's ``generate``). The
training loop (zero_grad / forward / loss / backward / step) is plain, so no ``train_step``. Nothing was shrunk.
Data stand-in (no TinyShakespeare download): 200,000 characters over TinyShakespeare's 65-character vocabulary
(``\\n``, space, ``!$&',-.3:;?``, A-Z, a-z), drawn from a seeded order-1 Markov chain: every character has 8-16
successors picked with a Zipf-like preference, with Dirichlet(1) weights, so the next character follows (partly)
from the current one, which is all this per-position model can use. Its conditional entropy is 2.08 nats (the
Shakespeare bigram floor is about 2.45; the author's fixed model reached 2.51). Encoded with ``encode`` into an
int8 tensor as in the program. ``batches``: 100 ``get_batches(dataset, 'train', 32, 16)`` draws after
``torch.manual_seed(0)``; ``batch``: the first; ``inputs``: 128 windows of 16 from the 'val' split.

Measured (my own plain loop, /tmp/s56/p/b96a/measure.py, on the module's builds: Adam lr 1e-3, 1000 steps, each a
fresh random-window batch of 32 x 16 from the train split as ``train`` draws them, torch seed 0, OMP_NUM_THREADS=1;
the loss is the program's ``F.cross_entropy`` on what the model returns):
  training loss, means over steps 0-9 / 90-99 / 190-199 / 490-499 / 990-999:
    buggy 4.169 / 3.957 / 3.923 / 3.922 / 3.935 (stuck after ~100 steps); fixed 3.983 / 2.356 / 2.186 / 2.106 /
    2.111 (near the stand-in's 2.08-nat floor).
  after training, val split (10 batches of 32 as in ``evaluate_loss``): loss buggy 3.927 (the author, on
    Shakespeare: 3.94) / fixed 2.106 (author: 2.51). The buggy net saturates its softmax: mean max probability on
    ``inputs`` 0.997 (fixed 0.281), so the probabilities it would sample from in ``generate`` are near one-hot and
    their true cross-entropy -log p_y is 10.4 nats (fixed 2.11); its loss sits at accuracy x 3.19 + (1 - accuracy)
    x 4.2, where the gradient through the saturated softmax is ~0. Next-character accuracy is about the same
    (buggy 0.274 / fixed 0.278): the argmax is learnt, the probabilities are not.
  one batch (``batch``) repeated 200 steps: buggy 4.174 -> 3.832, fixed 4.185 -> 1.593 (the buggy loss cannot go
    below log(1 + 64/e) = 3.19). One pass over the 100 ``batches``: mean loss of the first / last 10 steps buggy
    4.169 / 3.961, fixed 3.975 / 2.406.
  Time: about 2.5 ms per step for either version (one thread); build: first ~4 s (imports, text), later 0.1 s.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:bkitano/llama-from-scratch README.md / llama.ipynb @ce3e52f4f154ce16345927c4f2c5082b5ecfea13: "
          "SimpleBrokenModel 'logits = F.softmax(a, dim=-1)' into F.cross_entropy, fixed in the author's next cell "
          "SimpleModel ('we need to pass in the unnormalized logits directly'); issue #5")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {"num_classes": 65}),
          ("output_range", {"kind": "logits"}), ("gradients_flow", {})]

VOCAB = ["\n", " ", "!", "$", "&", "'", ",", "-", ".", "3", ":", ";", "?"] + \
    [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
N_CHARS = 200_000
N_BATCHES = 100
N_INPUTS = 128
SEED = 0


@functools.lru_cache(maxsize=1)
def _text() -> str:
    """Seeded order-1 Markov text over TinyShakespeare's 65 characters (8-16 successors per character)."""
    r = np.random.default_rng(SEED)
    v = len(VOCAB)
    base = 1.0 / np.arange(1, v + 1)
    base = base[r.permutation(v)]
    base /= base.sum()
    cum = []
    for _ in range(v):
        k = int(r.integers(8, 17))
        succ = r.choice(v, k, replace=False, p=base)
        row = np.zeros(v)
        row[succ] = r.dirichlet(np.ones(k))
        cum.append(list(np.cumsum(row)))
    u = r.random(N_CHARS)
    s, out = 1, []
    for i in range(N_CHARS):
        s = min(bisect.bisect_left(cum[s], u[i]), v - 1)
        out.append(VOCAB[s])
    return "".join(out)


def _build(fixed_head: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F

    lines = _text()
    vocab = sorted(list(set(lines)))
    stoi = {ch: i for i, ch in enumerate(vocab)}

    def encode(s):
        return [stoi[ch] for ch in s]

    MASTER_CONFIG = {
        "vocab_size": len(vocab),
    }
    dataset = torch.tensor(encode(lines), dtype=torch.int8)

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

    MASTER_CONFIG.update({
        'batch_size': 8,
        'context_window': 16
    })
    MASTER_CONFIG.update({
        'd_model': 128,
    })
    MASTER_CONFIG.update({
        'epochs': 1000,
        'log_interval': 10,
        'batch_size': 32,
    })

    class SimpleBrokenModel(nn.Module):
        def __init__(self, config=MASTER_CONFIG):
            super().__init__()
            self.config = config

            self.embedding = nn.Embedding(config['vocab_size'], config['d_model'])
            self.linear = nn.Sequential(
                nn.Linear(config['d_model'], config['d_model']),
                nn.ReLU(),
                nn.Linear(config['d_model'], config['vocab_size']),
            )

        def forward(self, idx, targets=None):
            x = self.embedding(idx)
            if fixed_head:  # the fix (SimpleModel): return the unnormalised logits
                logits = self.linear(x)
            else:
                a = self.linear(x)
                logits = F.softmax(a, dim=-1)

            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, self.config['vocab_size']), targets.view(-1))
                return logits, loss

            else:
                return logits

    torch.manual_seed(SEED)
    model = SimpleBrokenModel(MASTER_CONFIG)
    optimizer = torch.optim.Adam(
        model.parameters(),
    )

    def loss_fn(logits, targets):
        return F.cross_entropy(logits.view(-1, MASTER_CONFIG['vocab_size']), targets.view(-1))

    cw, bs = MASTER_CONFIG['context_window'], MASTER_CONFIG['batch_size']
    batches = [get_batches(dataset, 'train', bs, cw) for _ in range(N_BATCHES)]
    inputs, _ = get_batches(dataset, 'val', N_INPUTS, cw)
    torch.manual_seed(SEED)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_head=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_head=True)
