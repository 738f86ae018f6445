"""delphi-suite/delphi (a suite of tiny Llama-2 and Mamba language models trained from scratch on TinyStories for
interpretability work), the training code in ``src/delphi/train``: ``init_model`` builds a Hugging Face
``LlamaForCausalLM`` from a config dict (``configs/stories/llama2/base.json`` merged with a size file such as
``100k.json``: vocab 4096, hidden 12, MLP 48, 2 heads, 1 layer, 1 KV head, untied embeddings), the optimizer is
``AdamW(lr=5e-4, weight_decay=0.1, betas=(0.9, 0.95))``, each step takes a batch of 256 rows of 513 token ids
(``max_seq_len`` 512 + 1), gets ``X, Y`` from ``get_xy_batch``, computes ``model(X, labels=Y, return_dict=True).loss``
(divided by ``gradient_accumulation_steps`` = 1), clips the gradient norm at 1.0, steps and calls
``zero_grad(set_to_none=True)``; ``set_lr`` applies a 1000-step linear warmup and a cosine decay before each step.

The fault (``src/delphi/train/utils.py``, ``get_xy_batch``): the batch is split by hand into inputs and next-token
targets, ``return data[:, :-1], data[:, 1:]``, and the targets go in as ``labels`` to a ``*ForCausalLM`` model, which
shifts its labels by one position itself (its loss compares the logits at position t with ``labels[t + 1]``). The
two shifts add up: the logit at position t is trained against token t + 2 of the row. The model learns a "skip one
token" predictor; its training loss still falls (the token after next is partly predictable), and so does the
validation loss the trainer reports, because ``estimate_loss`` uses the same ``get_xy_batch``; but as a next-token
language model it is wrong (sampling from it would skip tokens).
Fault label: other:labels_shifted_twice (inputs and targets of each sequence are misaligned by one extra position;
none of the fixed labels names that).

Source: github.com/delphi-suite/delphi ``src/delphi/train/utils.py`` at 3281227d136cecfb9d4326788fe361fb13a880ac
(= the fix's parent; with ``train/train_step.py`` ``accumulate_gradients``, ``train/training.py``,
``dataset/tokenization.py`` and the ``configs/stories/llama2`` files of that commit, transformers 4.40.0 pinned in
``pyproject.toml``). Fixed by 161c3f0f3fdfe6b74c7af75d64bb30e0bb56d6c6 "Fix training data shifting bug" (PR #134,
2024-04-27; the PR text, in my words: the training data code got simpler, there is no separate label tensor any more
because the ``*ForCausalLM`` classes shift the labels on their own): ``get_xy_batch`` now returns ``data, data``
under the comment that the models shift internally so input and labels are the same.

Program lines kept: the ``base.json`` + ``100k.json`` model config (100k is the smallest stories size whose head
dimension is valid; 50k / 250k / 500k have odd head sizes 3 / 7 / 13, rejected by today's RoPE checks, and their
configs were changed a few hours after the fix in ded84e3), ``init_model`` verbatim, the AdamW call of
``initialize_model_training_state`` with lr, weight decay and betas from ``base.json``, the step of
``train_step`` / ``accumulate_gradients`` (loss / 1, backward, ``clip_grad_norm_(model.parameters(), 1.0)``,
``optimizer.step()``, ``optimizer.zero_grad(set_to_none=True)``) as ``train_step``, and the two return lines of
``get_xy_batch`` (buggy: the hand shift; fixed: ``return data, data``).
Replaced: the checks call ``model(x)`` and want a tensor, so ``model`` wraps the ``LlamaForCausalLM`` (``model.lm``)
and returns its ``.logits``; ``loss_fn`` is the model's own ``loss_function`` (transformers' ``ForCausalLMLoss``,
the internal label shift included), which gives exactly ``model(X, labels=Y, return_dict=True).loss`` (difference
0.0 on the first batch of both versions). The learning rate is the constant peak 5e-4: the warmup / cosine schedule
lives in the outer loop (``set_lr`` before every step) and is left out. Torch seed ``SEED`` = 0 instead of the
config's 42. Shrunk for CPU time: ``max_seq_len`` 512 -> 32 (rows of 33 tokens) and ``batch_size`` 256 -> 32; a
256 x 513 x 4096 logits tensor is 2 GB per step, while at 32 x 33 a step takes ~43 ms on one core. The vocabulary
(4096) and the model are the program's. Ported: torch only; the fault is the clash between a hand-made shift and
the label shift hidden inside the Hugging Face PyTorch causal-LM loss, which a Keras model has no twin of.
Data stand-in (no TinyStories download): a seeded toy language over the 4096 ids (0 = BOS, 1 = EOS, 2 unused): each
id >= 3 belongs to one of 16 word classes, each class is followed by one of two classes (p 0.8 / 0.2), each token is
drawn from its class with Zipf(1.5) weights, stories of 20-60 tokens end with EOS (as ``extend_deque`` appends
``eos_token_id``), and rows are cut from the stream as ``make_new_sample`` does: BOS, 31 tokens popped, the next one
peeked (2748 distinct ids used). Entropies of the stand-in: next token given the previous one 3.21 nats, the token
after next given the current one 3.71, unigram 5.06, uniform ln 4096 = 8.32. ``batches``: 100 distinct batches of
32 rows (3200 rows) passed through ``get_xy_batch`` (buggy X, Y: 32 x 32 and 32 x 32; fixed: 32 x 33 twice);
``batch``: the first; ``inputs``: the X of 256 held-out rows.

Measured (my own plain loop, /tmp/s53/h85_a/measure.py: the module's builds, ``train_step`` over its 100 batches in
order and cycled, torch seed 0, OMP_NUM_THREADS=1; runs repeated twice with identical numbers). Held-out figures are
on the 256 held-out rows scored as a next-token model (logit t vs token t + 1):
  training loss (each version's own objective), means of 100-step blocks over 1000 steps:
    buggy 7.97 7.10 6.33 5.74 5.36 5.15 4.96 4.74 4.53 4.35
    fixed 7.97 7.10 6.33 5.74 5.34 5.08 4.80 4.50 4.21 3.97
  2000 steps, 200-step blocks: buggy 7.53 6.03 5.25 4.85 4.44 4.18 4.06 4.00 3.96 3.93 (floor of its target 3.71),
    fixed 7.54 6.03 5.21 4.65 4.09 3.73 3.56 3.48 3.43 3.40 (floor 3.21).
  held-out next-token loss / accuracy at steps 100 / 300 / 500 / 700 / 1000 / 2000:
    buggy 7.53 / 6.01 / 5.30 / 5.40 / 6.07 / 7.48, accuracy 0.03 / 0.03 / 0.01 / 0.01 / 0.02 / 0.02 (it gets WORSE
      after step 500 while its own loss keeps falling: its loss on the token after next is 4.37 at 1000, 4.11 at 2000);
    fixed 7.52 / 6.00 / 5.22 / 4.69 / 3.94 / 3.54, accuracy 0.03 / 0.03 / 0.07 / 0.23 / 0.29 / 0.29.
  So for the first ~400 steps both runs are the same (both learn the token frequencies, which the two targets
    share); after that the buggy model learns the wrong target: a training loss that ends ~0.5 nats higher and a
    next-token loss that rises back above the unigram level, accuracy ~2 % against 29 %.
  one batch repeated (/tmp/s53/h85_a/measure_one.py), loss at steps 1 / 10 / 50 / 100 / 200 / 300:
    buggy 8.319 / 8.266 / 7.849 / 7.294 / 6.305 / 5.493, fixed 8.321 / 8.264 / 7.853 / 7.300 / 6.311 / 5.503: no
    difference in a short memorisation run (the model is tiny and lr 5e-4 is slow at this scale).
  Loss at initialisation: 8.319 buggy / 8.321 fixed (ln 4096 = 8.318). No NaN. Time per step: ~43 ms at 32 x 33
    tokens on an idle core (/tmp/s53/h85_a/t_time2.py; ~260-390 ms while the machine was shared). Build: 6-10 s the
    first time (transformers import, data), then 0.01 s; two processes give identical weights and batches.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:labels_shifted_twice"
SOURCE = ("github:delphi-suite/delphi PR #134 'Fix training data shifting bug' (src/delphi/train/utils.py get_xy_batch "
          "'return data[:, :-1], data[:, 1:]' @3281227d136cecfb9d4326788fe361fb13a880ac = 161c3f0^, train_step.py "
          "accumulate_gradients 'model(X, labels=Y, return_dict=True).loss', utils.py init_model, "
          "configs/stories/llama2/base.json + 100k.json, dataset/tokenization.py make_new_sample; fix "
          "161c3f0f3fdfe6b74c7af75d64bb30e0bb56d6c6 'return data, data')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {"num_classes": 4096}),
          ("gradients_flow", {})]

# configs/stories/llama2/base.json merged with configs/stories/llama2/100k.json (merge_dicts: later file wins)
MODEL_CONFIG = {
    "model_class": "LlamaForCausalLM",
    "vocab_size": 4096,
    "hidden_act": "silu",
    "max_position_embeddings": 512,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-06,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "tie_word_embeddings": False,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "hidden_size": 12,
    "intermediate_size": 48,
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "num_key_value_heads": 1,
}
VOCAB = 4096
BOS, EOS = 0, 1
MAX_SEQ_LEN = 32  # base.json: 512 (shrunk for CPU time, see the docstring)
BATCH_SIZE = 32  # base.json: 256 (shrunk for CPU time)
LEARNING_RATE = 0.0005
WEIGHT_DECAY = 0.1
BETAS = (0.9, 0.95)
GRAD_CLIP = 1.0
GRADIENT_ACCUMULATION_STEPS = 1
N_BATCHES = 100
N_INPUTS = 256
N_CLASSES = 16  # word classes of the stand-in language
SEED = 0


@functools.lru_cache(maxsize=1)
def _rows() -> np.ndarray:
    """Stand-in for delphi-suite/stories-tokenized: rows of MAX_SEQ_LEN + 1 token ids in 0..4095.

    A seeded toy language: every token id >= 3 belongs to one of N_CLASSES word classes; a story walks through the
    classes (each class is followed by one of two classes, p = 0.8 / 0.2) and draws each token from its class with
    Zipf(1.5) weights; stories hold 20..60 tokens and each one is followed by EOS, as extend_deque does. Rows are cut
    from that stream as make_new_sample does: [BOS] + (MAX_SEQ_LEN - 1) tokens popped + the next token peeked."""
    r = np.random.default_rng(SEED)
    cls = r.integers(0, N_CLASSES, VOCAB)
    cls[:3] = -1  # 0 = BOS, 1 = EOS, 2 unused
    members = [np.flatnonzero(cls == c) for c in range(N_CLASSES)]
    cdfs = []
    for m in members:
        w = 1.0 / np.arange(1, len(m) + 1) ** 1.5
        r.shuffle(w)
        cdfs.append(np.cumsum(w / w.sum()))
    succ = np.stack([r.choice(N_CLASSES, 2, replace=False) for _ in range(N_CLASSES)])
    starts = r.integers(0, N_CLASSES, 4)
    n_rows = N_BATCHES * BATCH_SIZE + N_INPUTS
    need = n_rows * (MAX_SEQ_LEN - 1) + 1
    stream: list[int] = []
    while len(stream) < need:
        n = int(r.integers(20, 61))
        c = int(starts[r.integers(0, 4)])
        moves, u = (r.random(n) >= 0.8).astype(int), r.random(n)
        for i in range(n):
            stream.append(int(members[c][min(np.searchsorted(cdfs[c], u[i]), len(members[c]) - 1)]))
            c = int(succ[c, moves[i]])
        stream.append(EOS)
    rows = np.empty((n_rows, MAX_SEQ_LEN + 1), dtype=np.int64)
    pos = 0
    for k in range(n_rows):  # make_new_sample
        rows[k, 0] = BOS
        rows[k, 1:MAX_SEQ_LEN] = stream[pos:pos + MAX_SEQ_LEN - 1]
        pos += MAX_SEQ_LEN - 1
        rows[k, MAX_SEQ_LEN] = stream[pos]
    return rows


def _build(fixed: bool) -> dict[str, Any]:
    from typing import Type, cast

    import torch
    import transformers
    from torch.optim import AdamW
    from transformers import PreTrainedModel

    def init_model(model_config_dict: dict[str, Any], seed: int) -> PreTrainedModel:
        """
        Get a model from a model config dictionary
        """
        # reseed torch to ensure reproducible results in case other torch calls are different up to this point
        torch.random.manual_seed(seed)
        model_class = getattr(transformers, model_config_dict["model_class"])
        config_class = cast(Type[transformers.PretrainedConfig], model_class.config_class)
        model_params_dict = model_config_dict.copy()
        model_params_dict.pop("model_class")
        return model_class(config_class(**(model_params_dict)))

    def get_xy_batch(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """get_xy_batch after ``data = dataset[batch_indices][feature_name].to(device)``"""
        if fixed:
            # *ForCausalLM models do shifting internally, so input and labels are the same
            return data, data
        return data[:, :-1], data[:, 1:]

    class LogitsOnly(torch.nn.Module):
        """The checks call model(x) and want a tensor: the LlamaForCausalLM's logits."""

        def __init__(self, lm: PreTrainedModel):
            super().__init__()
            self.lm = lm

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.lm(X, return_dict=True).logits

    lm = init_model(dict(MODEL_CONFIG), seed=SEED)
    model = LogitsOnly(lm)
    optimizer = AdamW(lr=LEARNING_RATE, params=model.parameters(), weight_decay=WEIGHT_DECAY, betas=BETAS)

    def loss_fn(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        # what model(X, labels=Y, return_dict=True).loss computes: labels shifted one step left inside the loss
        return lm.loss_function(logits=logits, labels=Y, vocab_size=lm.config.vocab_size)

    def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Any, X: torch.Tensor,
                   Y: torch.Tensor) -> torch.Tensor:  # train_step.py: accumulate_gradients, clip, step, zero_grad
        loss = loss_fn(model(X), Y) / GRADIENT_ACCUMULATION_STEPS
        loss.backward()
        if GRAD_CLIP != 0.0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    rows = torch.tensor(_rows())
    n_tr = N_BATCHES * BATCH_SIZE
    batches = [get_xy_batch(rows[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    inputs = get_xy_batch(rows[n_tr:])[0]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
