"""labmlai/annotated_deep_learning_paper_implementations (annotated, tutorial-style PyTorch implementations of papers,
published as nn.labml.ai), ``labml_nn/transformers/vit/__init__.py`` + ``vit/experiment.py``: a Vision Transformer
trained from scratch on CIFAR-10. ``PatchEmbeddings`` is a ``Conv2d(3, d_model, patch_size, stride=patch_size)``
(patch size 4, so 8 x 8 = 64 patch tokens laid out ``[patches, batch, d_model]``), ``LearnedPositionalEmbeddings``
holds ``nn.Parameter(torch.zeros(max_len, 1, d_model))`` (max_len 5000), a learned ``[CLS]`` token (``randn``) is
prepended, 6 pre-LayerNorm ``TransformerLayer``s (8-head ``MultiHeadAttention``, ``FeedForward`` d_ff 2048, ReLU,
dropout 0.1), a final ``LayerNorm`` on the ``[CLS]`` output and a two-layer ``ClassificationHead`` (hidden 2048).
Training (``MNISTConfigs.step`` via ``CIFAR10Configs``): ``nn.CrossEntropyLoss()`` on the logits, labml's ``Adam``
(lr 2.5e-4, betas (0.9, 0.999), eps 1e-8, no weight decay), batch 64, CIFAR-10 with ``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip``, ``ToTensor`` and ``Normalize((0.5,)*3, (0.5,)*3)``.

Source: github.com/labmlai/annotated_deep_learning_paper_implementations ``labml_nn/transformers/vit/__init__.py`` at
4cf1d74e (= 0bfb2106711c61ee84f4645812c9357bca7a3a95^, the buggy version), issue #133 "ViT and the positional
econding" (a reader: the forward takes ``self.positional_encodings[x.shape[0]]``, so "you are adding the positional
embedding of a specific patch to all patches"; it should slice ``[:x.shape[0]]``; the maintainer: "Thanks! Will
update the training stats and push changes", then "Fixed it" with commit 0bfb2106711c61ee84f4645812c9357bca7a3a95
"fix vit pe", which changes exactly that line to ``pe = self.positional_encodings[:x.shape[0]]`` and replaces the
published CIFAR-10 training run by a new one).

The fault, in my words: ``x.shape[0]`` is the number of patches (64), so ``positional_encodings[64]`` picks ONE row,
shape ``[1, d_model]``, and broadcasting adds that same vector to every patch token. The model therefore gets no
information about where a patch came from: attention, LayerNorm, the feed-forward blocks and the ``[CLS]`` read-out
are all equivariant to permuting the patch tokens, so the network computes a function of the unordered SET of
patches. It cannot tell an image from any shuffle of its own 4 x 4 tiles; only 1 of the 5000 position rows is ever
used or trained (the other 4999 get zero gradient). Training runs without error and the loss still falls (patch
contents alone carry some signal), but more slowly and to a worse fit than the same ViT with one row per patch.
Fault label: other:position_embedding_one_row_for_all_patches (the learned position embedding is indexed with the
patch count instead of sliced, so every patch gets the same vector and the ViT is blind to patch positions).

Program lines kept verbatim: ``LearnedPositionalEmbeddings`` (zeros init, ``max_len = 5_000``) with the buggy
``pe = self.positional_encodings[x.shape[0]]`` (fixed: ``[:x.shape[0]]``), ``PatchEmbeddings`` (conv, permute,
view to ``[patches, batch, d_model]``), ``ClassificationHead``, ``VisionTransformer.__init__/forward`` (``[CLS]``
randn token expanded and concatenated after the position embedding, ``x[0]``, LayerNorm, head), the pre-norm
``TransformerLayer`` (encoder use only: no ``src_attn``), ``MultiHeadAttention`` with ``PrepareForMultiHeadAttention``
(einsum scores, softmax over dim 1 = keys, scale 1/sqrt(d_k), attention dropout, output Linear), ``FeedForward``
(ReLU, not gated), the patch size 4, dropout 0.1, batch size 64, lr 2.5e-4, ``nn.CrossEntropyLoss()``.
Replaced: labml_helpers' ``Module`` by ``nn.Module``; ``clone_module_list`` by an ``nn.ModuleList`` of deep copies
(what it does); the ``tracker.debug('attn', attn)`` call is dropped (logging only); labml's own ``Adam``
(``optimized_update=True``) by ``torch.optim.Adam`` with the same lr / betas / eps / zero weight decay (the same update
up to where eps enters). The training step is the plain one (forward, CE, backward, step; labml zero_grads after the
step), so no ``train_step``.
Shrunk (ONLY for CPU speed): d_model 512 -> 64, n_layers 6 -> 2, n_heads 8 -> 2, d_ff 2048 -> 128, classification
hidden 2048 -> 128 (the [65, 65, batch, heads] attention maps dominate the CPU time, hence the fewer heads). The full
model takes several seconds per step on one core; the shrunk one 0.1-0.4 s (see below). The faulty line, the patch
size, the token count (64 + CLS), the zero-initialised 5000-row position table, the optimiser, lr and batch size are
unchanged.
Ported: torch only (the fault is a tensor indexing slip inside a hand-written PyTorch module; a Keras twin would be a
re-implementation, not the program).

Data stand-in (no CIFAR download): CIFAR-10-shaped images, 32 x 32 x 3 uint8, built from scikit-learn's 8 x 8 digits
(10 classes, roughly balanced) blown up 4 x 4 (so one digit pixel fills one 4 x 4 patch before augmentation), drawn
over a random flat background colour (40..160 per channel) in a random ink colour (70..110 lighter than a dark
background or darker than a light one, per channel; independent of the class), with N(0, 20) pixel noise, clipped to
0..255. Training images come from the first 1500 digits and get the program's train
augmentation applied once when the batches are built (random crop of a 4-pixel zero-padded image, random horizontal
flip); held-out images come from the last 297 digits, not augmented. Then ``ToTensor`` (/255, CHW) and
``Normalize((0.5,)*3, (0.5,)*3)`` as in the program (values in [-1, 1]). In this stand-in, as in real images, WHICH
patch sits WHERE is most of the signal: the multiset of patch contents (ink amount, colours) says little about the
digit. ``batches``: 40 distinct batches of 64; ``batch``: the first; ``inputs``: 256 held-out images.

Measured (my own plain loop, /tmp/s60/p/qc/measure.py, OMP_NUM_THREADS=1 and torch.set_num_threads(1); the module's
builds with SEED = 0: its model, optimizer, loss_fn and 40 batches, reshuffled every pass with torch generator seed 1,
2500 steps = 62.5 passes; model.train() for the steps, model.eval() to evaluate):
  training loss, means of 125-step blocks (step 0 .. 2500):
    buggy  2.30 2.30 2.28 2.25 2.21 2.19 2.15 2.12 2.08 2.06 2.02 1.99 1.96 1.94 1.91 1.88 1.85 1.84 1.82 1.79
    fixed  2.31 2.30 2.28 2.23 2.14 2.06 1.99 1.93 1.87 1.82 1.76 1.67 1.62 1.54 1.47 1.39 1.33 1.27 1.19 1.13
  Both sit on the ln 10 plateau for ~300 steps (lr 2.5e-4, zero-initialised positions: at step 0 the two models
    compute the same function); from ~step 500 the fixed one pulls away and the gap keeps widening.
  After 2500 steps, on the 2560 training images: accuracy buggy 0.40 / fixed 0.67; on the 256 held-out images:
    accuracy buggy 0.17 / fixed 0.23, loss 2.45 / 2.50 (both overfit this small stand-in by then: the held-out
    difference is small, the training-fit difference is large).
  Shuffling the 64 patches of every held-out image (one fixed permutation of the 8 x 8 grid of 4 x 4 tiles): the
    buggy model's logits move by 9e-7 on average (max over classes), i.e. not at all; the fixed model's by 4.4.
  Gradient of the position table at step 0: buggy non-zero in row 64 only (1 of 5000 rows); fixed in rows 0..63.
  Initial loss on ``batch`` (eval mode): 2.336 for both (ln 10 = 2.303).
  Shorter run (/tmp/s60/p/qc/exp.py, same stand-in, 800 steps, 50-step blocks): buggy 2.31 ... 2.19 2.20 2.17,
    fixed 2.31 ... 2.08 2.06 2.03; held-out accuracy 0.13 / 0.20. Over the first ~400 steps the two are
    indistinguishable, so a short check sees two equally slow learners.
  Time per training step (batch 64, one thread): ~0.1 s on an idle core, 0.39 s measured here with two runs sharing a
    loaded 2-core machine. Build: first ~3-9 s (imports, sklearn, data), later < 1 s.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any, Optional

import numpy as np

LABEL = "other:position_embedding_one_row_for_all_patches"
SOURCE = ("github:labmlai/annotated_deep_learning_paper_implementations issue #133 'ViT and the positional econding', "
          "fix 0bfb2106711c61ee84f4645812c9357bca7a3a95 'fix vit pe' (labml_nn/transformers/vit/__init__.py "
          "LearnedPositionalEmbeddings.forward 'pe = self.positional_encodings[x.shape[0]]' @0bfb2106^ = 4cf1d74e; "
          "vit/experiment.py CIFAR-10 configs)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 10}), ("input_independent_baseline", {})]

BATCH_SIZE = 64  # 'train_batch_size': 64
LR = 2.5e-4  # 'optimizer.learning_rate': 2.5e-4
PATCH_SIZE = 4  # Configs.patch_size
N_CLASSES = 10
# shrunk for CPU speed (program: d_model 512, n_layers 6, n_heads 8, d_ff 2048, n_hidden_classification 2048)
D_MODEL, N_LAYERS, N_HEADS, D_FF, N_HIDDEN = 64, 2, 2, 128, 128
DROPOUT = 0.1  # TransformerConfigs.dropout
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


def _render(digits: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """8x8 digits (0..16) -> (n, 32, 32, 3) uint8: blown up 4x4, random ink colour over a random flat background
    (light ink on a dark background, dark ink on a light one; neither colour depends on the class)."""
    ink = np.kron(digits, np.ones((4, 4))) / 16.0  # (n, 32, 32) in [0, 1]
    n = len(digits)
    bg = r.uniform(40, 160, (n, 1, 1, 3))
    sign = np.where(bg.mean(axis=3, keepdims=True) < 100, 1.0, -1.0)
    colour = sign * r.uniform(70, 110, (n, 1, 1, 3))
    imgs = bg + ink[..., None] * colour + r.normal(0, 20, (n, 32, 32, 3))
    return np.clip(imgs, 0, 255).astype("uint8")


def _augment(img: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """RandomCrop(32, padding=4) then RandomHorizontalFlip on one HWC uint8 image (zero padding, as torchvision)."""
    pad = np.pad(img, ((4, 4), (4, 4), (0, 0)))
    dy, dx = r.integers(0, 9, 2)
    out = pad[dy:dy + 32, dx:dx + 32]
    return out[:, ::-1] if r.random() < 0.5 else out


def _to_tensor_normalize(imgs: np.ndarray) -> np.ndarray:
    """ToTensor (/255, HWC -> CHW) and Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))."""
    x = imgs.astype("float32").transpose(0, 3, 1, 2) / 255.0
    return (x - 0.5) / 0.5


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src_tr = r.integers(0, 1500, n_tr)
    src_ho = r.choice(np.arange(1500, 1797), N_INPUTS, replace=False)
    tr = _render(d.images[src_tr], r)
    tr = np.stack([_augment(im, r) for im in tr])
    ho = _render(d.images[src_ho], r)
    return (_to_tensor_normalize(tr), d.target[src_tr].astype("int64"),
            _to_tensor_normalize(ho), d.target[src_ho].astype("int64"))


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    class PrepareForMultiHeadAttention(nn.Module):
        def __init__(self, d_model: int, heads: int, d_k: int, bias: bool):
            super().__init__()
            self.linear = nn.Linear(d_model, heads * d_k, bias=bias)
            self.heads = heads
            self.d_k = d_k

        def forward(self, x: torch.Tensor):
            head_shape = x.shape[:-1]
            x = self.linear(x)
            x = x.view(*head_shape, self.heads, self.d_k)
            return x

    class MultiHeadAttention(nn.Module):
        def __init__(self, heads: int, d_model: int, dropout_prob: float = 0.1, bias: bool = True):
            super().__init__()
            self.d_k = d_model // heads
            self.heads = heads
            self.query = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=bias)
            self.key = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=bias)
            self.value = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=True)
            self.softmax = nn.Softmax(dim=1)
            self.output = nn.Linear(d_model, d_model)
            self.dropout = nn.Dropout(dropout_prob)
            self.scale = 1 / math.sqrt(self.d_k)
            self.attn = None

        def get_scores(self, query: torch.Tensor, key: torch.Tensor):
            return torch.einsum('ibhd,jbhd->ijbh', query, key)

        def forward(self, *, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    mask: Optional[torch.Tensor] = None):
            seq_len, batch_size, _ = query.shape
            query = self.query(query)
            key = self.key(key)
            value = self.value(value)
            scores = self.get_scores(query, key)
            scores *= self.scale
            if mask is not None:
                scores = scores.masked_fill(mask == 0, float('-inf'))
            attn = self.softmax(scores)
            attn = self.dropout(attn)
            x = torch.einsum("ijbh,jbhd->ibhd", attn, value)
            self.attn = attn.detach()
            x = x.reshape(seq_len, batch_size, -1)
            return self.output(x)

    class FeedForward(nn.Module):
        def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation=nn.ReLU(),
                     is_gated: bool = False, bias1: bool = True, bias2: bool = True, bias_gate: bool = True):
            super().__init__()
            self.layer1 = nn.Linear(d_model, d_ff, bias=bias1)
            self.layer2 = nn.Linear(d_ff, d_model, bias=bias2)
            self.dropout = nn.Dropout(dropout)
            self.activation = activation
            self.is_gated = is_gated
            if is_gated:
                self.linear_v = nn.Linear(d_model, d_ff, bias=bias_gate)

        def forward(self, x: torch.Tensor):
            g = self.activation(self.layer1(x))
            if self.is_gated:
                x = g * self.linear_v(x)
            else:
                x = g
            x = self.dropout(x)
            return self.layer2(x)

    class TransformerLayer(nn.Module):
        def __init__(self, *, d_model: int, self_attn: MultiHeadAttention, feed_forward: FeedForward,
                     dropout_prob: float):
            super().__init__()
            self.size = d_model
            self.self_attn = self_attn
            self.feed_forward = feed_forward
            self.dropout = nn.Dropout(dropout_prob)
            self.norm_self_attn = nn.LayerNorm([d_model])
            self.norm_ff = nn.LayerNorm([d_model])

        def forward(self, *, x: torch.Tensor, mask: torch.Tensor):
            z = self.norm_self_attn(x)
            self_attn = self.self_attn(query=z, key=z, value=z, mask=mask)
            x = x + self.dropout(self_attn)
            z = self.norm_ff(x)
            ff = self.feed_forward(z)
            x = x + self.dropout(ff)
            return x

    class PatchEmbeddings(nn.Module):
        def __init__(self, d_model: int, patch_size: int, in_channels: int):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, d_model, patch_size, stride=patch_size)

        def forward(self, x: torch.Tensor):
            x = self.conv(x)
            bs, c, h, w = x.shape
            x = x.permute(2, 3, 0, 1)
            x = x.view(h * w, bs, c)
            return x

    class LearnedPositionalEmbeddings(nn.Module):
        def __init__(self, d_model: int, max_len: int = 5_000):
            super().__init__()
            self.positional_encodings = nn.Parameter(torch.zeros(max_len, 1, d_model), requires_grad=True)

        def forward(self, x: torch.Tensor):
            # Get the positional embeddings for the given patches
            if fixed:  # the fix (0bfb2106): one row per patch
                pe = self.positional_encodings[:x.shape[0]]
            else:  # the program: the single row at index n_patches, broadcast to every patch
                pe = self.positional_encodings[x.shape[0]]
            # Add to patch embeddings and return
            return x + pe

    class ClassificationHead(nn.Module):
        def __init__(self, d_model: int, n_hidden: int, n_classes: int):
            super().__init__()
            self.linear1 = nn.Linear(d_model, n_hidden)
            self.act = nn.ReLU()
            self.linear2 = nn.Linear(n_hidden, n_classes)

        def forward(self, x: torch.Tensor):
            x = self.act(self.linear1(x))
            x = self.linear2(x)
            return x

    class VisionTransformer(nn.Module):
        def __init__(self, transformer_layer: TransformerLayer, n_layers: int,
                     patch_emb: PatchEmbeddings, pos_emb: LearnedPositionalEmbeddings,
                     classification: ClassificationHead):
            super().__init__()
            self.patch_emb = patch_emb
            self.pos_emb = pos_emb
            self.classification = classification
            self.transformer_layers = nn.ModuleList([copy.deepcopy(transformer_layer) for _ in range(n_layers)])
            self.cls_token_emb = nn.Parameter(torch.randn(1, 1, transformer_layer.size), requires_grad=True)
            self.ln = nn.LayerNorm([transformer_layer.size])

        def forward(self, x: torch.Tensor):
            x = self.patch_emb(x)
            x = self.pos_emb(x)
            cls_token_emb = self.cls_token_emb.expand(-1, x.shape[1], -1)
            x = torch.cat([cls_token_emb, x])
            for layer in self.transformer_layers:
                x = layer(x=x, mask=None)
            x = x[0]
            x = self.ln(x)
            x = self.classification(x)
            return x

    torch.manual_seed(SEED)
    encoder_layer = TransformerLayer(d_model=D_MODEL, self_attn=MultiHeadAttention(N_HEADS, D_MODEL,
                                                                                    dropout_prob=DROPOUT),
                                     feed_forward=FeedForward(D_MODEL, D_FF, dropout=DROPOUT),
                                     dropout_prob=DROPOUT)
    model = VisionTransformer(encoder_layer, N_LAYERS,
                              PatchEmbeddings(D_MODEL, PATCH_SIZE, 3),
                              LearnedPositionalEmbeddings(D_MODEL),
                              ClassificationHead(D_MODEL, N_HIDDEN, N_CLASSES))
    loss_func = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_func, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
