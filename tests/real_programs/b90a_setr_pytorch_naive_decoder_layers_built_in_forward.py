"""gupta-abhay/setr-pytorch (a PyTorch implementation of SETR, Zheng et al. 2020, "Rethinking Semantic Segmentation
from a Sequence-to-Sequence Perspective with Transformers"), ``setr/SETR.py``: ``SETR_Naive`` cuts an image into
16x16 patches, embeds them linearly (``linear_encoding``), adds a learned position embedding, runs a pre-norm ViT
encoder (``TransformerModel``: residual multi-head self-attention + GELU MLP blocks, dropout 0.1) and a final
LayerNorm, reshapes the tokens back to a (embedding_dim, H/16, W/16) map and decodes it with 1x1 conv -> BatchNorm ->
ReLU -> 1x1 conv to ``num_classes`` -> bilinear upsampling by 16, giving per-pixel class scores (N, C, H, W).

The fault (the decoder's layer wiring): ``SETR_Naive.decode`` BUILDS its layers inside ``decode`` (called from
``forward``): ``x = nn.Conv2d(...)(x)``, ``x = nn.BatchNorm2d(self.embedding_dim)(x)``, ``x = nn.Conv2d(...,
out_channels=self.num_classes, ...)(x)``. Each call creates brand-new, freshly initialised modules that are never
attributes of the model: their weights are not in ``model.parameters()``, the optimizer never sees them, they are
thrown away after the call and replaced by new random ones on the next. So the classifier head is a different random
projection at every step; the encoder does receive gradients (through whatever random head this call drew) but
chases a target that moves every step, and the predictions of the trained model are random per call (and the
fresh BatchNorm always normalises with the current batch's statistics, also in eval mode). Issue #4 (zaocan666,
"model building problem"): layers such as nn.Conv2d are initialised in the decode function, which runs in forward,
so they are re-initialised every time data is fed and their weights are not trained at all; they belong in
``__init__`` (and should not sit in plain lists either -- the PUP / MLA variants kept theirs in Python lists).
Maintainer: "fixed. thanks."

Source: github.com/gupta-abhay/setr-pytorch ``setr/SETR.py`` (with ``setr/Transformer.py``,
``setr/PositionalEncoding.py``, ``setr/IntmdSequential.py``) at 82390896d0772b971810e8bedde4104077fa159a (= the
fix's parent), fixed by ddb63efbd77b08f1aca7d8d7302c7fd231288be8 "Adding changes for issue #4": a new
``_init_decode`` called at the end of ``__init__`` creates ``self.conv1``, ``self.bn1``, ``self.act1``,
``self.conv2``, ``self.upsample`` once, and ``decode`` only applies them (the same change for SETR_PUP, whose conv
layers were also kept in a plain list, and SETR_MLA).
Fault label: params_not_updated (the decoder's conv / BatchNorm weights are re-created at random on every forward
and never reach the optimizer, so the head never learns).

Program lines kept (verbatim): ``SegmentationTransformer`` (``encode``, ``forward``, ``_get_padding``,
``_reshape_output``), ``SETR_Naive.decode`` of the buggy version and ``_init_decode`` / ``decode`` of the fixed one,
``SelfAttention``, ``Residual``, ``PreNorm``, ``PreNormDrop``, ``FeedForward``, ``TransformerModel``,
``LearnedPositionalEncoding``, ``IntermediateSequential``; ``SETR_Naive_S``'s settings dropout_rate 0.1,
attn_dropout_rate 0.1, learned positional encoding, no conv patch representation, 19 classes (Cityscapes); torch
default inits (the repo sets none).
Shrunk (CPU budget): SETR_Naive_S is 768x768 input, 16x16 patches, embedding 768, 12 heads, 12 layers, MLP 3072 (on
one core that is minutes per step); here 32x32 input, 4x4 patches (8x8 = 64 tokens, upsampling x4), embedding 64,
4 heads, 2 layers, MLP 128. The decoder's structure is untouched.
Replaced: the repo has no training script (its README lists "Training Scripts" as a to-do), so the training setup is
the SETR paper's for Cityscapes (my reading of the paper, not code from the repo): SGD momentum 0.9, lr 0.01,
batch 8, pixel-wise ``nn.CrossEntropyLoss`` (``ignore_index=255``, Cityscapes' void label; the stand-in has no
void pixels); the paper's poly lr decay is left out (a constant lr over the few hundred steps measured). The
``from Transformer import ...`` imports became nested definitions (same code); the fixed class is named
``SETR_NaiveFixed`` here so that both versions can live in one module (the repo calls it ``SETR_Naive``); both
``__init__`` signatures are joined onto fewer lines; the PUP / MLA / Hybrid variants are not ported.
Ported: torch only (the fault is PyTorch's module registration: a layer built and called inside ``forward`` is not
part of the model; Keras builds a layer's weights once and tracks every layer assigned in a model or called in a
functional graph, so there is no faithful Keras twin).
Data stand-in (no Cityscapes download): 32x32 RGB "scenes" of 19 classes: a background of one class and 3 axis-aligned
rectangles (sides 8..20 px) of other classes painted over it; each class has its own RGB colour (a fixed, seeded
palette, 40..215 per channel), every pixel gets N(0, 20) noise, uint8 0..255, then ToTensor (/255) and ImageNet
Normalize (mean 0.485/0.456/0.406, std 0.229/0.224/0.225) as SETR's mmseg pipeline does; targets are the (32, 32)
int64 class maps. The class of a pixel follows from its colour (and its 4x4 patch), so a working model can learn it.
``batches``: 40 distinct batches of 8 (seed 0); ``batch``: the first; ``inputs``: 128 held-out images.

Measured (my own plain loop, /tmp/s55/p/h90_a/measure.py, on the module's builds: model.train(), the module's
optimizer and loss_fn, the 40 ``batches`` cycled in order, zero_grad / forward / loss / backward / step; torch seed
0 set by the builder, OMP_NUM_THREADS=1):
  400 steps (10 passes over the 40 batches), training loss, means of 40-step blocks (chance level ln 19 = 2.94):
    buggy 3.00 3.01 3.00 2.99 3.00 3.00 2.99 2.99 3.01 3.00 (first step 3.11): never leaves chance level;
    fixed 2.76 2.04 1.56 1.33 1.20 1.10 1.03 0.96 0.91 0.86 (first step 2.98).
  afterwards, model.eval(), on the first 128 training images: loss buggy 3.01 / fixed 0.64, pixel accuracy
    buggy 0.026 (below the 1/19 = 0.053 of a constant guess) / fixed 0.83; two eval calls on the same images agree
    on 4.5 % of the pixels' argmax for the buggy model (a new random head each call) and on 100 % for the fixed.
  one batch (the module's ``batch``) repeated: loss at steps 1 / 10 / 50 / 100 buggy 3.11 / 3.11 / 2.97 / 3.01,
    fixed 2.98 / 2.59 / 1.30 / 0.88.
  another seed (SEED = 1 for data and weights, 200 steps): buggy 2.99 3.01 3.01 2.99 3.02, fixed 2.75 2.06 1.57
    1.30 1.15.
  Parameters: buggy 73,920 (encoder only), fixed 79,443 (+ the decoder's 5,523). Time per step (batch 8, one
    thread): ~19 ms for both. Builds are deterministic (same weights, batches and first losses on rebuild).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:gupta-abhay/setr-pytorch issue #4 'model building problem' (setr/SETR.py SETR_Naive.decode "
          "'x = nn.Conv2d(...)(x)' / 'x = nn.BatchNorm2d(self.embedding_dim)(x)' "
          "@82390896d0772b971810e8bedde4104077fa159a = ddb63ef^, setr/Transformer.py, setr/PositionalEncoding.py, "
          "setr/IntmdSequential.py; fix "
          "ddb63efbd77b08f1aca7d8d7302c7fd231288be8 'Adding changes for issue #4': _init_decode in __init__)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 19})]

SEED = 0
IMG_DIM = 32
PATCH_DIM = 4
NUM_CLASSES = 19  # Cityscapes
BATCH_SIZE = 8
LR = 0.01
N_BATCHES = 40
N_INPUTS = 128
MEAN = np.array([0.485, 0.456, 0.406], "float32")
STD = np.array([0.229, 0.224, 0.225], "float32")


def _scenes(n: int, rng: np.random.Generator, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 32x32 scenes (uint8, HWC) of a background class and 3 rectangles, with their class maps."""
    masks = np.empty((n, IMG_DIM, IMG_DIM), "int64")
    for i in range(n):
        cls = rng.choice(NUM_CLASSES, 4, replace=False)
        masks[i] = cls[0]
        for c in cls[1:]:
            h, w = rng.integers(8, 21, 2)
            y0, x0 = rng.integers(0, IMG_DIM - h + 1), rng.integers(0, IMG_DIM - w + 1)
            masks[i, y0:y0 + h, x0:x0 + w] = c
    imgs = palette[masks] + rng.normal(0, 20, (n, IMG_DIM, IMG_DIM, 3))
    return np.clip(imgs, 0, 255).astype("uint8"), masks


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised NCHW float32 training images, their class maps, and held-out images."""
    rng = np.random.default_rng(SEED)
    palette = rng.uniform(40, 215, (NUM_CLASSES, 3))
    imgs, masks = _scenes(N_BATCHES * BATCH_SIZE + N_INPUTS, rng, palette)
    x = ((imgs.astype("float32") / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2)  # ToTensor + Normalize
    n_tr = N_BATCHES * BATCH_SIZE
    return np.ascontiguousarray(x[:n_tr]), masks[:n_tr], np.ascontiguousarray(x[n_tr:])


@functools.lru_cache(maxsize=1)
def _classes() -> dict[str, Any]:
    """The repository's modules (setr/*.py at ddb63ef^), with the buggy and the fixed ``SETR_Naive``."""
    import torch
    import torch.nn as nn

    # ---- setr/IntmdSequential.py
    class IntermediateSequential(nn.Sequential):
        def __init__(self, *args, return_intermediate=True):
            super().__init__(*args)
            self.return_intermediate = return_intermediate

        def forward(self, input):
            if not self.return_intermediate:
                return super().forward(input)

            intermediate_outputs = {}
            output = input
            for name, module in self.named_children():
                output = intermediate_outputs[name] = module(output)

            return output, intermediate_outputs

    # ---- setr/PositionalEncoding.py
    class FixedPositionalEncoding(nn.Module):
        def __init__(self, embedding_dim, max_length=5000):
            super(FixedPositionalEncoding, self).__init__()

            pe = torch.zeros(max_length, embedding_dim)
            position = torch.arange(0, max_length, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(
                torch.arange(0, embedding_dim, 2).float()
                * (-torch.log(torch.tensor(10000.0)) / embedding_dim)
            )
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer('pe', pe)

        def forward(self, x):
            x = x + self.pe[: x.size(0), :]
            return x

    class LearnedPositionalEncoding(nn.Module):
        def __init__(self, max_position_embeddings, embedding_dim, seq_length):
            super(LearnedPositionalEncoding, self).__init__()
            self.pe = nn.Embedding(max_position_embeddings, embedding_dim)
            self.seq_length = seq_length

            self.register_buffer(
                "position_ids",
                torch.arange(max_position_embeddings).expand((1, -1)),
            )

        def forward(self, x, position_ids=None):
            if position_ids is None:
                position_ids = self.position_ids[:, : self.seq_length]

            position_embeddings = self.pe(position_ids)
            return x + position_embeddings

    # ---- setr/Transformer.py
    class SelfAttention(nn.Module):
        def __init__(
            self, dim, heads=8, qkv_bias=False, qk_scale=None, dropout_rate=0.0
        ):
            super().__init__()
            self.num_heads = heads
            head_dim = dim // heads
            self.scale = qk_scale or head_dim ** -0.5

            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
            self.attn_drop = nn.Dropout(dropout_rate)
            self.proj = nn.Linear(dim, dim)
            self.proj_drop = nn.Dropout(dropout_rate)

        def forward(self, x):
            B, N, C = x.shape
            qkv = (
                self.qkv(x)
                .reshape(B, N, 3, self.num_heads, C // self.num_heads)
                .permute(2, 0, 3, 1, 4)
            )
            q, k, v = (
                qkv[0],
                qkv[1],
                qkv[2],
            )  # make torchscript happy (cannot use tensor as tuple)

            attn = (q @ k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            attn = self.attn_drop(attn)

            x = (attn @ v).transpose(1, 2).reshape(B, N, C)
            x = self.proj(x)
            x = self.proj_drop(x)
            return x

    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x) + x

    class PreNorm(nn.Module):
        def __init__(self, dim, fn):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.fn = fn

        def forward(self, x):
            return self.fn(self.norm(x))

    class PreNormDrop(nn.Module):
        def __init__(self, dim, dropout_rate, fn):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.dropout = nn.Dropout(p=dropout_rate)
            self.fn = fn

        def forward(self, x):
            return self.dropout(self.fn(self.norm(x)))

    class FeedForward(nn.Module):
        def __init__(self, dim, hidden_dim, dropout_rate):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(dim, hidden_dim),
                nn.GELU(),
                nn.Dropout(p=dropout_rate),
                nn.Linear(hidden_dim, dim),
                nn.Dropout(p=dropout_rate),
            )

        def forward(self, x):
            return self.net(x)

    class TransformerModel(nn.Module):
        def __init__(
            self,
            dim,
            depth,
            heads,
            mlp_dim,
            dropout_rate=0.1,
            attn_dropout_rate=0.1,
        ):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers.extend(
                    [
                        Residual(
                            PreNormDrop(
                                dim,
                                dropout_rate,
                                SelfAttention(
                                    dim, heads=heads, dropout_rate=attn_dropout_rate
                                ),
                            )
                        ),
                        Residual(
                            PreNorm(dim, FeedForward(dim, mlp_dim, dropout_rate))
                        ),
                    ]
                )
            self.net = IntermediateSequential(*layers)

        def forward(self, x):
            return self.net(x)

    # ---- setr/SETR.py
    class SegmentationTransformer(nn.Module):
        def __init__(
            self,
            img_dim,
            patch_dim,
            num_channels,
            embedding_dim,
            num_heads,
            num_layers,
            hidden_dim,
            dropout_rate=0.0,
            attn_dropout_rate=0.0,
            conv_patch_representation=False,
            positional_encoding_type="learned",
        ):
            super(SegmentationTransformer, self).__init__()

            assert embedding_dim % num_heads == 0
            assert img_dim % patch_dim == 0

            self.img_dim = img_dim
            self.embedding_dim = embedding_dim
            self.num_heads = num_heads
            self.patch_dim = patch_dim
            self.num_channels = num_channels
            self.dropout_rate = dropout_rate
            self.attn_dropout_rate = attn_dropout_rate
            self.conv_patch_representation = conv_patch_representation

            self.num_patches = int((img_dim // patch_dim) ** 2)
            self.seq_length = self.num_patches
            self.flatten_dim = patch_dim * patch_dim * num_channels

            self.linear_encoding = nn.Linear(self.flatten_dim, embedding_dim)
            if positional_encoding_type == "learned":
                self.position_encoding = LearnedPositionalEncoding(
                    self.seq_length, self.embedding_dim, self.seq_length
                )
            elif positional_encoding_type == "fixed":
                self.position_encoding = FixedPositionalEncoding(
                    self.embedding_dim,
                )

            self.pe_dropout = nn.Dropout(p=self.dropout_rate)

            self.transformer = TransformerModel(
                embedding_dim,
                num_layers,
                num_heads,
                hidden_dim,
                self.dropout_rate,
                self.attn_dropout_rate,
            )
            self.pre_head_ln = nn.LayerNorm(embedding_dim)

            if self.conv_patch_representation:
                self.conv_x = nn.Conv2d(
                    self.num_channels,
                    self.embedding_dim,
                    kernel_size=(self.patch_dim, self.patch_dim),
                    stride=(self.patch_dim, self.patch_dim),
                    padding=self._get_padding(
                        'VALID', (self.patch_dim, self.patch_dim),
                    ),
                )
            else:
                self.conv_x = None

        def encode(self, x):
            n, c, h, w = x.shape
            if self.conv_patch_representation:
                # combine embedding w/ conv patch distribution
                x = self.conv_x(x)
                x = x.permute(0, 2, 3, 1).contiguous()
                x = x.view(x.size(0), -1, self.embedding_dim)
            else:
                x = (
                    x.unfold(2, self.patch_dim, self.patch_dim)
                    .unfold(3, self.patch_dim, self.patch_dim)
                    .contiguous()
                )
                x = x.view(n, c, -1, self.patch_dim ** 2)
                x = x.permute(0, 2, 3, 1).contiguous()
                x = x.view(x.size(0), -1, self.flatten_dim)
                x = self.linear_encoding(x)

            x = self.position_encoding(x)
            x = self.pe_dropout(x)

            # apply transformer
            x, intmd_x = self.transformer(x)
            x = self.pre_head_ln(x)

            return x, intmd_x

        def decode(self, x):
            raise NotImplementedError("Should be implemented in child class!!")

        def forward(self, x, auxillary_output_layers=None):
            encoder_output, intmd_encoder_outputs = self.encode(x)
            decoder_output = self.decode(
                encoder_output, intmd_encoder_outputs, auxillary_output_layers
            )

            if auxillary_output_layers is not None:
                auxillary_outputs = {}
                for i in auxillary_output_layers:
                    val = str(2 * i - 1)
                    _key = 'Z' + str(i)
                    auxillary_outputs[_key] = intmd_encoder_outputs[val]

                return decoder_output, auxillary_outputs

            return decoder_output

        def _get_padding(self, padding_type, kernel_size):
            assert padding_type in ['SAME', 'VALID']
            if padding_type == 'SAME':
                _list = [(k - 1) // 2 for k in kernel_size]
                return tuple(_list)
            return tuple(0 for _ in kernel_size)

        def _reshape_output(self, x):
            x = x.view(
                x.size(0),
                int(self.img_dim / self.patch_dim),
                int(self.img_dim / self.patch_dim),
                self.embedding_dim,
            )
            x = x.permute(0, 3, 1, 2).contiguous()
            return x

    class SETR_Naive(SegmentationTransformer):  # buggy (82390896): the decoder's layers are built in decode()
        def __init__(self, img_dim, patch_dim, num_channels, num_classes, embedding_dim, num_heads, num_layers,
                     hidden_dim, dropout_rate=0.0, attn_dropout_rate=0.0, conv_patch_representation=False,
                     positional_encoding_type="learned"):
            super(SETR_Naive, self).__init__(
                img_dim=img_dim,
                patch_dim=patch_dim,
                num_channels=num_channels,
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                num_layers=num_layers,
                hidden_dim=hidden_dim,
                dropout_rate=dropout_rate,
                attn_dropout_rate=attn_dropout_rate,
                conv_patch_representation=conv_patch_representation,
                positional_encoding_type=positional_encoding_type,
            )

            self.num_classes = num_classes

        def decode(self, x, intmd_x, intmd_layers=None):
            x = self._reshape_output(x)
            x = nn.Conv2d(
                in_channels=self.embedding_dim,
                out_channels=self.embedding_dim,
                kernel_size=1,
                stride=1,
                padding=self._get_padding('VALID', (1, 1),),
            )(x)
            x = nn.BatchNorm2d(self.embedding_dim)(x)
            x = nn.ReLU()(x)

            x = nn.Conv2d(
                in_channels=self.embedding_dim,
                out_channels=self.num_classes,
                kernel_size=1,
                stride=1,
                padding=self._get_padding('VALID', (1, 1),),
            )(x)
            x = nn.Upsample(scale_factor=self.patch_dim, mode='bilinear')(x)

            return x

    class SETR_NaiveFixed(SegmentationTransformer):  # fixed (ddb63ef): the layers are built once, in __init__
        def __init__(self, img_dim, patch_dim, num_channels, num_classes, embedding_dim, num_heads, num_layers,
                     hidden_dim, dropout_rate=0.0, attn_dropout_rate=0.0, conv_patch_representation=False,
                     positional_encoding_type="learned"):
            super(SETR_NaiveFixed, self).__init__(
                img_dim=img_dim,
                patch_dim=patch_dim,
                num_channels=num_channels,
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                num_layers=num_layers,
                hidden_dim=hidden_dim,
                dropout_rate=dropout_rate,
                attn_dropout_rate=attn_dropout_rate,
                conv_patch_representation=conv_patch_representation,
                positional_encoding_type=positional_encoding_type,
            )

            self.num_classes = num_classes
            self._init_decode()

        def _init_decode(self):
            self.conv1 = nn.Conv2d(
                in_channels=self.embedding_dim,
                out_channels=self.embedding_dim,
                kernel_size=1,
                stride=1,
                padding=self._get_padding('VALID', (1, 1),),
            )
            self.bn1 = nn.BatchNorm2d(self.embedding_dim)
            self.act1 = nn.ReLU()
            self.conv2 = nn.Conv2d(
                in_channels=self.embedding_dim,
                out_channels=self.num_classes,
                kernel_size=1,
                stride=1,
                padding=self._get_padding('VALID', (1, 1),),
            )
            self.upsample = nn.Upsample(
                scale_factor=self.patch_dim, mode='bilinear'
            )

        def decode(self, x, intmd_x, intmd_layers=None):
            x = self._reshape_output(x)
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.act1(x)
            x = self.conv2(x)
            x = self.upsample(x)
            return x

    return {"buggy": SETR_Naive, "fixed": SETR_NaiveFixed}


def _build(fixed_version: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    cls = _classes()["fixed" if fixed_version else "buggy"]
    torch.manual_seed(SEED)
    # SETR_Naive_S (num_channels 3, dropout 0.1 / 0.1, learned position embedding), shrunk: see the docstring
    model = cls(
        IMG_DIM,
        PATCH_DIM,
        3,
        NUM_CLASSES,
        embedding_dim=64,
        num_heads=4,
        num_layers=2,
        hidden_dim=128,
        dropout_rate=0.1,
        attn_dropout_rate=0.1,
        conv_patch_representation=False,
        positional_encoding_type="learned",
    )
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)

    def loss_fn(outputs, targets):  # (N, 19, H, W) scores vs (N, H, W) class ids
        return criterion(outputs, targets)

    x, y, xh = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_version=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_version=True)
