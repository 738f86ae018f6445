"""torchTextClassifiers (InseeFrLab, a PyTorch / Lightning text-classification package) with *label attention*, as
its explainability tutorial enables it (``docs/source/tutorials/explainability.md``, "Enable Label Attention"):
``ModelConfig(embedding_dim=96, num_classes=6, attention_config=AttentionConfig(n_layers=2, n_head=4,
n_kv_head=4, sequence_len=50), n_heads_label_attention=4)`` with ``WordPieceTokenizer(vocab_size=5000)`` and the
tutorial's ``TrainingConfig(num_epochs=25, batch_size=8, lr=1e-3, ...)`` (defaults ``loss=nn.CrossEntropyLoss()``,
``optimizer=torch.optim.Adam``). The model: ``TokenEmbedder`` = ``nn.Embedding(5000, 96, padding_idx=[PAD])`` ->
rms ``norm`` -> 2 nanochat-style ``Block``s (self-attention with rotary embeddings and QK-norm through
``F.scaled_dot_product_attention`` without any padding mask, ReLU^2 MLP, pre-norm residuals) -> ``norm``; then
``SentenceEmbedder(aggregation_method=None)`` = ``LabelAttention``: one learned query per class (``label_embeds``)
cross-attends over the token embeddings (4 heads) and gives one sentence embedding per class, (B, 6, 96); the shared
``ClassificationHead`` ``nn.Linear(96, 1)`` (weight zero-initialised) on ``norm`` of it gives the (B, 6) logits.
The dataset collate tokenises each batch with padding to its longest text, and passes ``input_ids`` and the
tokenizer's ``attention_mask`` (1 = token, 0 = [PAD]).

The fault (``LabelAttention.forward``, added in 49caf94 "Apply attention mask in LabelAttentionClassifier
cross-attention"):
    # Convert: 0 (padding) -> True (mask out), 1 (real) -> False (attend to)
    attn_mask = attention_mask == 0  # (B, T)
    attn_mask = attn_mask.unsqueeze(1).unsqueeze(2)  # (B, 1, 1, T)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=False)
The comment has the convention of ``nn.MultiheadAttention``'s ``key_padding_mask``, but a boolean ``attn_mask`` of
``F.scaled_dot_product_attention`` marks the positions that *take part* in the attention. So every class query
attends only to the [PAD] positions of its text and to none of its words; the text of a batch that has no padding
(its longest one) has every key masked, and PyTorch (2.13 here) returns zeros for such a row. Fixed by 9a8b215 "fix:
invert attention mask in LabelAttention to correctly ignore padding tokens" (PR #92 "fix: correct LabelAttention
mask"): ``attn_mask = attention_mask == 1``. What the classifier sees of a text is then the [PAD] embedding -- one
constant vector (drawn by ``init_weights``, no gradient through ``padding_idx``), identical at every pad position,
since the blocks start as the identity (their ``c_proj`` are zero-initialised); only through the unmasked
self-attention, once it has grown, can a [PAD] position carry something of the words around it. The predictions are
the same for every text: the model cannot learn (no_input_signal; the class queries ignore the text:
context_ignored).

Source: github.com/InseeFrLab/torchTextClassifiers, torchTextClassifiers/model/components/text_embedder.py
(``LabelAttention``, ``TokenEmbedder``, ``SentenceEmbedder``), components/attention.py (``Block``,
``SelfAttentionLayer``, ``MLP``, ``norm``, ``apply_rotary_emb``), components/classification_head.py, model/model.py
(``TextClassificationModel``), model/lightning.py (``step``: ``loss(outputs, targets)``), torchTextClassifiers.py
(``ModelConfig``, ``TrainingConfig``, how the wrapper assembles the model), tokenizers/WordPiece.py and
tokenizers/base.py (``padding=True`` when no ``output_dim``), dataset/dataset.py (``collate_fn``), all at
9a8b215dde66d6d549f4e479899edbb7c287fc12^ (the buggy mask line from 49caf94e78089f21a18a947e35157938a8a5d377,
27 Jan 2026); fix 9a8b215dde66d6d549f4e479899edbb7c287fc12 (7 May 2026), PR #92, merged. (PR #96, fad80a5,
later fixed the same inversion in the returned attention matrix, which is for explanations only.)
Fault label: no_input_signal|context_ignored. Fix: ``attn_mask = attention_mask == 1``.

Program lines kept: the modules above as they are (initialisation included: ``TokenEmbedder.init_weights`` --
normal(0, 1) embeddings, normal(0, 1/sqrt(fan_in) * min(1, sqrt(fan_out/fan_in))) Linears, zero ``c_proj`` --,
PyTorch defaults for ``LabelAttention``'s layers, zero head weight), rotary tables in bfloat16 for
``sequence_len * 10`` positions, cross-entropy on the logits, Adam(lr=1e-3), batches of 8; no size was shrunk (a
step costs 20-45 ms on one CPU thread). Ported: the Lightning module / trainer / tokenizer plumbing is replaced by
a plain model whose ``forward(input_ids)`` computes the collate's ``attention_mask`` as ``input_ids != [PAD]``
(what the HF tokenizer returns for right-padded batches) and returns the logits; no categorical variables (the
tutorial has none). Keras twin (Keras 3): the same layers as Dense without bias with the same initialisers,
``keras.ops.dot_product_attention`` -- whose boolean ``mask`` also marks the positions to attend, as in torch --
for both attentions, the [PAD] row kept out of the gradient with ``stop_gradient`` (``padding_idx``),
``SparseCategoricalCrossentropy(from_logits=True)``, ``Adam(1e-3, epsilon=1e-8)`` as torch's. One difference:
Keras' (TensorFlow) dot_product_attention fills masked scores with a large negative number, so the fully masked row
(the unpadded text) averages all positions instead of returning zeros.
Data stand-in (no corpus download): seeded tokenised texts as ``WordPieceTokenizer`` gives them -- ``[CLS]``
word-pieces ``[SEP]`` with ids [UNK]=0, [PAD]=1, [CLS]=2, [SEP]=3 (the trainer's special-token order) and words in
4..4999 from a Zipf(1) vocabulary, 3..48 word-pieces (log-normal, median 14), 1% [UNK], 20% class keywords (85% from
25 ids of the text's class, 15% from another class's), 6 balanced classes, int64; each batch right-padded with
[PAD] to its longest text. A bag-of-words model can learn it (the fixed program reaches ~0.75 held-out accuracy).
Measured (my own loop, /tmp/h49b/measure.py, seed 0, OMP_NUM_THREADS=1; 1,024 training texts shuffled into batches
of 8, each padded to its longest; held-out 512 other texts in batches of 8; loss / accuracy / std over texts of the
predicted probabilities; chance loss ln 6 = 1.792):
  torch buggy: 1.792/0.17/0.000 at init, 1.792/0.16/0.000 after 50 steps, 1.792/0.20/0.000 after 200,
         1.792/0.21/0.000 after 300, 1.792/0.18/0.000 after 500, 1.776/0.18/0.028 after 800; mean training loss
         1.792 over steps 1-50 and 1.792 over steps 251-300;
        fixed: 1.792/0.17/0.000, 1.236/0.58/0.151 after 50, 0.919/0.67/0.268 after 200, 0.814/0.74/0.313 after 300,
         0.785/0.75/0.329 after 500; mean training loss 1.641 (steps 1-50) -> 0.431 (251-300).
  keras buggy: 1.792/0.17/0.000 at init, 1.792/0.17/0.000 after 50, 1.792/0.20/0.000 after 200, 1.792/0.19/0.000
         after 300; mean training loss 1.792 -> 1.792;
        fixed: 1.792/0.17/0.000, 1.678/0.42/0.032 after 50, 1.011/0.66/0.214 after 200, 0.954/0.72/0.306 after 300;
         mean training loss 1.693 -> 0.443.
  One batch of 8 (the module's ``batch``), loss at 0/25/50/100 steps: torch buggy 1.792, 0.912, 0.240, 0.225 vs
  fixed 1.792, 0.068, 0.014, 0.006; keras buggy 1.792, 1.593, 0.272, 0.225 vs fixed 1.792, 0.069, 0.015, 0.007.
  The buggy model memorises one batch only through its padding: after 100 steps (torch) 7 texts are at 0.002 and
  the longest one (37 tokens, no padding, zero output) stays at 1.792; padded to 50 positions instead, the same 8
  texts score 0.66 / 0.75 accuracy -- it learned the padding pattern, not the words. The initial loss is exactly
  ln 6 in both versions (zero head weight, shared head).
About 20-45 ms per training step in torch and 55-110 ms in Keras on one CPU thread, measured while two busy cores
were shared with other runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_input_signal|context_ignored"
SOURCE = ("github:InseeFrLab/torchTextClassifiers PR #92 (torchTextClassifiers/model/components/text_embedder.py "
          "LabelAttention.forward 'attn_mask = attention_mask == 0' passed to F.scaled_dot_product_attention "
          "@9a8b215dde66d6d549f4e479899edbb7c287fc12^, mask from 49caf94e78089f21a18a947e35157938a8a5d377; "
          "components/attention.py, model/model.py, torchTextClassifiers.py ModelConfig/TrainingConfig, "
          "tokenizers/WordPiece.py, docs/source/tutorials/explainability.md 'Enable Label Attention'; "
          "fix 9a8b215dde66d6d549f4e479899edbb7c287fc12 'fix: invert attention mask in LabelAttention to correctly "
          "ignore padding tokens': attention_mask == 1)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 6}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("not_constant_predictions", {}), ("input_independent_baseline", {})]

# program lines (docs/source/tutorials/explainability.md, "Enable Label Attention", and its TrainingConfig)
embedding_dim = 96
num_classes = 6
n_layers = 2
n_head = 4
n_kv_head = 4
sequence_len = 50
n_heads_label_attention = 4
vocab_size = 5000  # WordPieceTokenizer(vocab_size=5000)
batch_size = 8
lr = 1e-3
# WordPieceTokenizer special tokens, in the order the trainer adds them: [UNK], [PAD], [CLS], [SEP]
UNK, PAD, CLS, SEP = 0, 1, 2, 3
n_batches = 8
SEED = 0
# input_independent_baseline holds samples out of one batch and asks for at least 64; a user shown that
# requirement passes 128 training texts (16 of the program's batches), padded to their longest as the collate does
BASELINE = 128


def texts_like(n: int, seed: int = SEED) -> tuple[list[np.ndarray], np.ndarray]:
    """n tokenised texts as WordPieceTokenizer returns them before padding: [CLS] word-pieces [SEP], int64 ids in
    0..4999, and int64 labels 0..5 (balanced). 3..48 word-pieces (log-normal, median 14), drawn from a Zipf(1)
    vocabulary over ids 4..4999 with 1% [UNK]; 20% of them are keywords: 85% from 25 ids of the text's own class,
    15% from another class's 25 (ids 100..3000)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    ranks = np.arange(4, vocab_size)
    zipf = 1.0 / (ranks - 3.0)
    zipf /= zipf.sum()
    lexicon = np.random.default_rng(1234).choice(np.arange(100, 3000), (num_classes, 25), replace=False)
    lengths = np.clip(np.round(np.exp(rng.normal(np.log(14.0), 0.5, n))), 3, sequence_len - 2).astype(int)
    seqs = []
    for i, c in enumerate(y):
        m = int(lengths[i])
        words = rng.choice(ranks, m, p=zipf)
        words[rng.random(m) < 0.01] = UNK
        key = rng.random(m) < 0.20
        own = rng.random(m) < 0.85
        words[key & own] = rng.choice(lexicon[c], int((key & own).sum()))
        others = [k for k in range(num_classes) if k != c]
        for j in np.flatnonzero(key & ~own):
            words[j] = rng.choice(lexicon[rng.choice(others)])
        seqs.append(np.concatenate([[CLS], words, [SEP]]).astype("int64"))
    return seqs, y.astype("int64")


def pad_longest(seqs: list[np.ndarray]) -> np.ndarray:
    """tokenizer(texts, padding=True): [PAD] after each text, up to the longest text of the call."""
    width = max(len(s) for s in seqs)
    out = np.full((len(seqs), width), PAD, "int64")
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, tuple[np.ndarray, np.ndarray]]:
    seqs, y = texts_like(max(n_batches * batch_size, BASELINE, 256))
    batches = [(pad_longest(seqs[i:i + batch_size]), y[i:i + batch_size])
               for i in range(0, n_batches * batch_size, batch_size)]
    inputs = pad_longest(seqs[:256])
    baseline = (pad_longest(seqs[:BASELINE]), y[:BASELINE])
    return batches, inputs, baseline


# ----------------------------------------------------------------------------------------------------------------
# torch: the program's modules (components/attention.py, components/text_embedder.py, model/model.py)
# ----------------------------------------------------------------------------------------------------------------

def _torch_model(fixed: bool) -> Any:
    import math

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def apply_rotary_emb(x, cos, sin):
        assert x.ndim == 4  # multihead attention
        d = x.shape[3] // 2
        x1, x2 = x[..., :d], x[..., d:]  # split up last time into two halves
        y1 = x1 * cos + x2 * sin  # rotate pairs of dims
        y2 = x1 * (-sin) + x2 * cos
        out = torch.cat([y1, y2], 3)  # re-assemble
        out = out.to(x.dtype)  # ensure input/output dtypes match
        return out

    def norm(x):
        # Purely functional rmsnorm with no learnable params
        return F.rms_norm(x, (x.size(-1),))

    class SelfAttentionLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_head = n_head
            self.n_kv_head = n_kv_head
            self.enable_gqa = self.n_head != self.n_kv_head
            self.n_embd = embedding_dim
            self.head_dim = self.n_embd // self.n_head
            self.c_q = nn.Linear(self.n_embd, self.n_head * self.head_dim, bias=False)
            self.c_k = nn.Linear(self.n_embd, self.n_kv_head * self.head_dim, bias=False)
            self.c_v = nn.Linear(self.n_embd, self.n_kv_head * self.head_dim, bias=False)
            self.c_proj = nn.Linear(self.n_embd, self.n_embd, bias=False)

        def forward(self, x, cos_sin=None):
            B, T, C = x.size()
            q = self.c_q(x).view(B, T, self.n_head, self.head_dim)
            k = self.c_k(x).view(B, T, self.n_kv_head, self.head_dim)
            v = self.c_v(x).view(B, T, self.n_kv_head, self.head_dim)
            cos, sin = cos_sin
            q, k = apply_rotary_emb(q, cos, sin), apply_rotary_emb(k, cos, sin)  # QK rotary embedding
            q, k = norm(q), norm(k)  # QK norm
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            # is_causal=False for non-autoregressive models (BERT-like); no padding mask in the program's blocks
            y = F.scaled_dot_product_attention(q, k, v, is_causal=False, enable_gqa=self.enable_gqa)
            y = y.transpose(1, 2).contiguous().view(B, T, -1)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(embedding_dim, 4 * embedding_dim, bias=False)
            self.c_proj = nn.Linear(4 * embedding_dim, embedding_dim, bias=False)

        def forward(self, x):
            x = self.c_fc(x)
            x = F.relu(x).square()
            return self.c_proj(x)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = SelfAttentionLayer()
            self.mlp = MLP()

        def forward(self, x, cos_sin):
            x = x + self.attn(norm(x), cos_sin)
            x = x + self.mlp(norm(x))
            return x

    class TokenEmbedder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding_layer = nn.Embedding(embedding_dim=embedding_dim, num_embeddings=vocab_size,
                                                padding_idx=PAD)
            self.transformer = nn.ModuleDict({"h": nn.ModuleList([Block() for _ in range(n_layers)])})
            head_dim = embedding_dim // n_head
            self.rotary_seq_len = sequence_len * 10
            cos, sin = self._precompute_rotary_embeddings(self.rotary_seq_len, head_dim)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

        def init_weights(self):
            self.apply(self._init_weights)
            for block in self.transformer.h:  # zero out c_proj weights in all blocks
                torch.nn.init.zeros_(block.mlp.c_proj.weight)
                torch.nn.init.zeros_(block.attn.c_proj.weight)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                fan_out = module.weight.size(0)
                fan_in = module.weight.size(1)
                std = 1.0 / math.sqrt(fan_in) * min(1.0, math.sqrt(fan_out / fan_in))
                torch.nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=1.0)

        def _precompute_rotary_embeddings(self, seq_len, head_dim, base=10000):
            channel_range = torch.arange(0, head_dim, 2, dtype=torch.float32)
            inv_freq = 1.0 / (base ** (channel_range / head_dim))
            t = torch.arange(seq_len, dtype=torch.float32)
            freqs = torch.outer(t, inv_freq)
            cos, sin = freqs.cos(), freqs.sin()
            cos, sin = cos.bfloat16(), sin.bfloat16()  # keep them in bfloat16
            return cos[None, :, None, :], sin[None, :, None, :]

        def forward(self, input_ids, attention_mask):
            seq_len = input_ids.shape[1]
            token_embeddings = norm(self.embedding_layer(input_ids))
            cos_sin = self.cos[:, :seq_len], self.sin[:, :seq_len]
            for block in self.transformer.h:
                token_embeddings = block(token_embeddings, cos_sin)
            return norm(token_embeddings)

    class LabelAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_classes = num_classes
            self.n_head = n_heads_label_attention
            self.embedding_dim = embedding_dim
            self.head_dim = self.embedding_dim // self.n_head
            self.label_embeds = nn.Embedding(self.num_classes, self.embedding_dim)
            self.c_q = nn.Linear(self.embedding_dim, self.n_head * self.head_dim, bias=False)
            self.c_k = nn.Linear(self.embedding_dim, self.n_head * self.head_dim, bias=False)
            self.c_v = nn.Linear(self.embedding_dim, self.n_head * self.head_dim, bias=False)
            self.c_proj = nn.Linear(self.embedding_dim, self.embedding_dim, bias=False)

        def forward(self, token_embeddings, attention_mask):
            B, T, C = token_embeddings.size()
            label_indices = torch.arange(self.num_classes, dtype=torch.long,
                                         device=token_embeddings.device).expand(B, -1)
            all_label_embeddings = norm(self.label_embeds(label_indices))  # [batch, num_classes, d_model]
            q = self.c_q(all_label_embeddings).view(B, self.num_classes, self.n_head, self.head_dim)
            k = self.c_k(token_embeddings).view(B, T, self.n_head, self.head_dim)
            v = self.c_v(token_embeddings).view(B, T, self.n_head, self.head_dim)
            q, k = norm(q), norm(k)  # QK norm
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            if fixed:
                attn_mask = attention_mask == 1  # (B, T)  fix (9a8b215)
            else:
                # Convert: 0 (padding) -> True (mask out), 1 (real) -> False (attend to)
                attn_mask = attention_mask == 0  # (B, T)  the program's line: SDPA *keeps* True positions
            attn_mask = attn_mask.unsqueeze(1).unsqueeze(2)  # (B, 1, 1, T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=False)
            y = y.transpose(1, 2).contiguous().view(B, self.num_classes, -1)  # (bs, n_labels, d_model)
            return self.c_proj(y)

    class TextClassificationModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedder = TokenEmbedder()
            self.label_attention_module = LabelAttention()  # SentenceEmbedder(aggregation_method=None)
            self.classification_head = nn.Linear(embedding_dim, 1)  # ClassificationHead(num_classes=1)
            self.token_embedder.init_weights()
            torch.nn.init.zeros_(self.classification_head.weight)
            self.num_classes = num_classes

        def forward(self, input_ids):
            # the collate's tokenizer output: attention_mask 1 for tokens, 0 for [PAD]
            attention_mask = (input_ids != PAD).long()
            x_token = self.token_embedder(input_ids, attention_mask)
            x_text = self.label_attention_module(x_token, attention_mask)  # (B, num_classes, d)
            return self.classification_head(norm(x_text)).squeeze(-1)  # (B, num_classes) logits

    return TextClassificationModel()


def _torch(fixed: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    model = _torch_model(fixed)
    batches, inputs, baseline = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "baseline_batch": (torch.from_numpy(baseline[0]), torch.from_numpy(baseline[1])),
            "loss_fn": torch.nn.CrossEntropyLoss(),  # TrainingConfig default loss
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}  # TrainingConfig default optimizer, lr=1e-3


# ----------------------------------------------------------------------------------------------------------------
# keras twin
# ----------------------------------------------------------------------------------------------------------------

def _keras_model(fixed: bool) -> Any:
    import math

    import keras
    from keras import layers, ops

    eps = float(np.finfo(np.float32).eps)  # F.rms_norm's default eps

    def norm(x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + eps)

    def dense(n_in, n_out, init="torch_default", name=None):
        if init == "zeros":
            k = "zeros"
        elif init == "program":  # TokenEmbedder._init_weights
            k = keras.initializers.RandomNormal(0.0, 1.0 / math.sqrt(n_in) * min(1.0, math.sqrt(n_out / n_in)))
        else:  # torch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            k = keras.initializers.RandomUniform(-1.0 / math.sqrt(n_in), 1.0 / math.sqrt(n_in))
        return layers.Dense(n_out, use_bias=False, kernel_initializer=k, name=name)

    def apply_rotary_emb(x, cos, sin):
        d = x.shape[3] // 2
        x1, x2 = x[..., :d], x[..., d:]
        return ops.concatenate([x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos], axis=3)

    head_dim = embedding_dim // n_head
    inv_freq = 1.0 / (10000 ** (np.arange(0, head_dim, 2, dtype="float32") / head_dim))
    freqs = np.outer(np.arange(sequence_len * 10, dtype="float32"), inv_freq)
    # cos/sin kept in bfloat16 as the program does (rounded, then used in float32)
    cos_np = np.asarray(ops.cast(ops.cast(np.cos(freqs), "bfloat16"), "float32"))[None, :, None, :]
    sin_np = np.asarray(ops.cast(ops.cast(np.sin(freqs), "bfloat16"), "float32"))[None, :, None, :]

    class Block(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.c_q = dense(embedding_dim, embedding_dim, "program")
            self.c_k = dense(embedding_dim, embedding_dim, "program")
            self.c_v = dense(embedding_dim, embedding_dim, "program")
            self.c_proj = dense(embedding_dim, embedding_dim, "zeros")
            self.c_fc = dense(embedding_dim, 4 * embedding_dim, "program")
            self.mlp_proj = dense(4 * embedding_dim, embedding_dim, "zeros")

        def call(self, x):
            B, T = ops.shape(x)[0], ops.shape(x)[1]
            h = norm(x)
            q = ops.reshape(self.c_q(h), (B, T, n_head, head_dim))
            k = ops.reshape(self.c_k(h), (B, T, n_kv_head, head_dim))
            v = ops.reshape(self.c_v(h), (B, T, n_kv_head, head_dim))
            cos = ops.slice(ops.convert_to_tensor(cos_np), (0, 0, 0, 0), (1, T, 1, head_dim // 2))
            sin = ops.slice(ops.convert_to_tensor(sin_np), (0, 0, 0, 0), (1, T, 1, head_dim // 2))
            q, k = norm(apply_rotary_emb(q, cos, sin)), norm(apply_rotary_emb(k, cos, sin))
            y = ops.dot_product_attention(q, k, v)  # (B, T, H, D) layout; no padding mask, as the program
            x = x + self.c_proj(ops.reshape(y, (B, T, embedding_dim)))
            return x + self.mlp_proj(ops.square(ops.relu(self.c_fc(norm(x)))))

    class LabelAttention(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.label_embeds = layers.Embedding(num_classes, embedding_dim,
                                                 embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0))
            self.c_q = dense(embedding_dim, embedding_dim)
            self.c_k = dense(embedding_dim, embedding_dim)
            self.c_v = dense(embedding_dim, embedding_dim)
            self.c_proj = dense(embedding_dim, embedding_dim)

        def call(self, token_embeddings, attention_mask):
            B, T = ops.shape(token_embeddings)[0], ops.shape(token_embeddings)[1]
            hd = embedding_dim // n_heads_label_attention
            labels = norm(self.label_embeds(ops.arange(num_classes)))  # (C, d), same for every text
            q = ops.broadcast_to(ops.reshape(self.c_q(labels), (1, num_classes, n_heads_label_attention, hd)),
                                 (B, num_classes, n_heads_label_attention, hd))
            k = ops.reshape(self.c_k(token_embeddings), (B, T, n_heads_label_attention, hd))
            v = ops.reshape(self.c_v(token_embeddings), (B, T, n_heads_label_attention, hd))
            q, k = norm(q), norm(k)
            if fixed:
                attn_mask = ops.equal(attention_mask, 1)
            else:
                attn_mask = ops.equal(attention_mask, 0)  # the program's line; True = attend, as in torch
            y = ops.dot_product_attention(q, k, v, mask=attn_mask[:, None, None, :])
            return self.c_proj(ops.reshape(y, (B, num_classes, embedding_dim)))

    class TextClassificationModel(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.embedding_layer = layers.Embedding(
                vocab_size, embedding_dim, embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0))
            self.blocks = [Block() for _ in range(n_layers)]
            self.label_attention = LabelAttention()
            b = 1.0 / math.sqrt(embedding_dim)
            self.classification_head = layers.Dense(1, kernel_initializer="zeros",
                                                    bias_initializer=keras.initializers.RandomUniform(-b, b))

        def call(self, input_ids):
            is_pad = ops.equal(input_ids, PAD)
            attention_mask = ops.cast(ops.logical_not(is_pad), "int32")
            e = self.embedding_layer(input_ids)
            # nn.Embedding(padding_idx=PAD): the [PAD] row (drawn by init_weights) gets no gradient
            e = ops.where(is_pad[..., None], ops.stop_gradient(e), e)
            x = norm(e)
            for block in self.blocks:
                x = block(x)
            x = norm(x)
            x_text = self.label_attention(x, attention_mask)
            return ops.squeeze(self.classification_head(norm(x_text)), -1)

    return TextClassificationModel()


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    model = _keras_model(fixed)
    batches, inputs, baseline = _data()
    model(batches[0][0])  # build
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8), metrics=["accuracy"])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "baseline_batch": baseline}


buggy, fixed = versions(_torch, _keras)
