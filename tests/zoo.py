"""A zoo of CORRECT real architectures (issue 14): every check that applies must pass on each.

torchvision and timm cannot be imported here (the registry's torchvision wheel needs a CUDA build
of torch), so their recipes are re-implemented below from their source: ResNet-18 (BasicBlocks,
Kaiming fan-out init, optional ``zero_init_residual``), MobileNetV3-small (inverted residuals,
hardswish, squeeze-excite, BatchNorm momentum 0.01, eps 1e-3) and a timm-style ViT (class token
drawn with std 1e-6, pre-norm blocks, truncated-normal std 0.02). Hugging Face models are built
from tiny local configs (no downloads). Keras members are keras.applications with ``weights=None``
and preprocessing-layer models.

Data is real or learnable and never downloaded: scikit-learn digits upscaled to 32×32×3 for the
image models; token sequences with class-dependent tokens for the text models; a next-token
pattern for the decoder; tabular features far from unit scale for the Normalization model.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from typing import Any, Callable

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from torch_corpus import digits  # noqa: E402

NUM_CLASSES = 10
TEXT_CLASSES = 4
VOCAB = 100
SEQ = 16


# --- data --------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _digits32() -> tuple[np.ndarray, np.ndarray]:
    """Digits upscaled 4× to 32×32, three channels each a different affine map of the image (so
    channels are not copies), standardised to about zero mean and unit std; (N, 32, 32, 3)."""
    images, labels = digits()
    x = np.kron(images[:, 0] / 16.0, np.ones((4, 4), np.float32))
    x = np.stack([x, 1.0 - x, 0.5 * x + 0.25], axis=-1).astype(np.float32)
    x = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))
    return np.ascontiguousarray(x, dtype=np.float32), labels


def images(n: int, *, offset: int = 0, layout: str = "nchw", scale: str = "unit") -> tuple[Any, Any]:
    """``n`` upscaled digits: torch NCHW tensors, or numpy NHWC arrays (layout 'nhwc'); scale
    'pixels' gives 0–255 values (for models that rescale inside, like EfficientNet)."""
    x, y = _digits32()
    x, y = x[offset:offset + n], y[offset:offset + n]
    if scale == "pixels":
        raw, _ = digits()
        x = np.kron(raw[offset:offset + n, 0] / 16.0, np.ones((4, 4), np.float32))
        x = np.round(np.stack([x, 1.0 - x, 0.5 * x + 0.25], axis=-1) * 255.0).astype(np.float32)
    if layout == "nhwc":
        return np.ascontiguousarray(x), y
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)


def tokens(n: int, *, seed: int = 0, offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequences of SEQ token ids (0 is padding) with random lengths 6..SEQ; class c plants 3
    tokens from its own 5-token range among random filler ids 4·5+1..VOCAB-1. Returns ids, lengths,
    labels. Samples depend on (seed, offset + index) only, so batches from one seed do not overlap."""
    ids = np.zeros((n, SEQ), np.int64)
    lengths = np.zeros(n, np.int64)
    labels = np.zeros(n, np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, offset + i])
        label = int(rng.integers(TEXT_CLASSES))
        length = int(rng.integers(6, SEQ + 1))
        row = rng.integers(TEXT_CLASSES * 5 + 1, VOCAB, size=length)
        where = rng.choice(length, size=3, replace=False)
        row[where] = 1 + label * 5 + rng.integers(0, 5, size=3)
        ids[i, :length] = row
        lengths[i], labels[i] = length, label
    return ids, lengths, labels


def next_token(n: int, *, seed: int = 0, offset: int = 0, vocab: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder data: each row counts up from a random start by a random step in 1..3 (mod vocab);
    targets are the inputs shifted by one."""
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, offset + i])
        start, step = int(rng.integers(vocab)), int(rng.integers(1, 4))
        rows.append((start + step * np.arange(SEQ + 1)) % vocab)
    seq = torch.from_numpy(np.stack(rows).astype(np.int64))
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


def tabular(n: int, *, seed: int = 0, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8 features on scales 1e-2..1e3 with offsets (raw, like prices and ratios); the class (of 3)
    is decided by two standardised features."""
    scale = np.array([1e-2, 1.0, 1e3, 5.0, 50.0, 0.1, 200.0, 3.0], np.float32)
    shift = np.array([0.0, 10.0, 5e3, -2.0, 100.0, 1.0, 0.0, 7.0], np.float32)
    z = np.stack([np.random.default_rng([seed, offset + i]).standard_normal(8) for i in range(n)]).astype(np.float32)
    y = np.digitize(z[:, 2] + z[:, 4], [-0.6, 0.6]).astype(np.int64)
    return (z * scale + shift).astype(np.float32), y


def sentences(n: int, *, seed: int = 0, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The token data as strings of words ('w17 w3 ...'), for a TextVectorization model."""
    ids, lengths, labels = tokens(n, seed=seed, offset=offset)
    text = [" ".join(f"w{t}" for t in row[:k]) for row, k in zip(ids, lengths)]
    return np.array(text, dtype=object)[:, None], labels


# --- torch: ResNet-18 (torchvision's recipe) -----------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18: 7×7 stem, max-pool, [2, 2, 2, 2] BasicBlocks; ``width`` 64 is
    the original (11.2 M parameters), smaller widths keep CI fast."""

    def __init__(self, num_classes: int = NUM_CLASSES, *, width: int = 64, zero_init_residual: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, inplanes = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            planes = width * 2 ** i
            stages.append(nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(inplanes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # each residual branch starts as the identity (Goyal et al. 2017)
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# --- torch: MobileNetV3-small (torchvision's recipe) -----------------------------------------------

def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = None) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
    if act is not None:
        mods.append(act())
    return nn.Sequential(*mods)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = _divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * s


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, k: int, expanded: int, cout: int, se: bool, act: type[nn.Module], stride: int) -> None:
        super().__init__()
        self.residual = stride == 1 and cin == cout
        mods: list[nn.Module] = []
        if expanded != cin:
            mods.append(_conv_bn(cin, expanded, 1, act=act))
        mods.append(_conv_bn(expanded, expanded, k, stride, groups=expanded, act=act))
        if se:
            mods.append(SqueezeExcite(expanded))
        mods.append(_conv_bn(expanded, cout, 1))
        self.block = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


class MobileNetV3Small(nn.Module):
    """torchvision.models.mobilenet_v3_small (1.5 M parameters at width 1.0)."""

    # in, kernel, expanded, out, squeeze-excite, activation, stride
    CONFIG = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
              (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
              (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
              (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]

    def __init__(self, num_classes: int = NUM_CLASSES, *, width: float = 1.0) -> None:
        super().__init__()
        c = lambda v: _divisible(v * width)  # noqa: E731
        mods: list[nn.Module] = [_conv_bn(3, c(16), 3, 2, act=nn.Hardswish)]
        for cin, k, exp, cout, se, act, stride in self.CONFIG:
            mods.append(InvertedResidual(c(cin), k, c(exp), c(cout), se, nn.ReLU if act == "RE" else nn.Hardswish, stride))
        last = c(96)
        mods.append(_conv_bn(last, 6 * last, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*mods)
        self.classifier = nn.Sequential(nn.Linear(6 * last, 1024), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(1024, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# --- torch: a timm-style ViT ---------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """timm VisionTransformer recipe: patch embedding, class token drawn with std 1e-6, learned
    position embedding (std 0.02), pre-norm blocks, linear layers truncated-normal std 0.02."""

    def __init__(self, num_classes: int = NUM_CLASSES, *, image: int = 32, patch: int = 4, dim: int = 64,
                 depth: int = 4, heads: int = 4) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, 2 * dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


# --- torch: a packed bidirectional LSTM ------------------------------------------------------------

class PackedBiLSTM(nn.Module):
    """Embedding (padding id 0) → bidirectional LSTM over pack_padded_sequence (lengths from the
    padding) → the last hidden state of both directions → linear head."""

    def __init__(self, num_classes: int = TEXT_CLASSES, *, vocab: int = VOCAB, dim: int = 32, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = (ids != 0).sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(torch.cat([h[-2], h[-1]], dim=1))


# --- Hugging Face (tiny local configs) ------------------------------------------------------------

def bert() -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                    intermediate_size=64, vocab_size=VOCAB, num_labels=TEXT_CLASSES,
                                                    max_position_embeddings=64))


def gpt2(vocab: int = 50) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=vocab, n_positions=64,
                                      bos_token_id=0, eos_token_id=0))


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy over every position (the loss GPT2LMHeadModel computes itself)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --- Lightning ------------------------------------------------------------------------------------

def lightning_cnn() -> nn.Module:
    """A small CNN as a LightningModule: cross-entropy in training_step (logged), AdamW with a
    per-step cosine schedule from configure_optimizers; checked with no loss_fn or optimizer."""
    import lightning.pytorch as pl

    class LitCNN(pl.LightningModule):
        def __init__(self, lr: float = 2e-3, total_steps: int = 1000):
            super().__init__()
            self.save_hyperparameters()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            )
            self.head = nn.Linear(32 * 4 * 4, NUM_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x).flatten(1))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-4)
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.hparams.total_steps)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}

    return LitCNN()


# --- Keras ----------------------------------------------------------------------------------------

def _keras() -> Any:
    import keras

    return keras


def k_mobilenet_v2() -> Any:
    keras = _keras()
    return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=NUM_CLASSES)


def k_resnet50_v2() -> Any:
    keras = _keras()
    return keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=NUM_CLASSES)


def k_efficientnet_b0() -> Any:
    keras = _keras()
    # include_preprocessing (the default) rescales 0–255 pixels inside the model
    return keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=NUM_CLASSES)


def k_text(seed: int = 0) -> Any:
    """TextVectorization (adapted on the training text) → Embedding → pooling → Dense logits."""
    keras = _keras()
    layers = keras.layers
    vectorize = layers.TextVectorization(max_tokens=VOCAB + 2, output_sequence_length=SEQ)
    vectorize.adapt(sentences(512, seed=seed + 1000)[0][:, 0])
    inputs = keras.Input((1,), dtype="string")
    h = layers.Embedding(VOCAB + 2, 32)(vectorize(inputs))
    h = layers.Dense(32, activation="relu")(layers.GlobalAveragePooling1D()(h))
    return keras.Model(inputs, layers.Dense(TEXT_CLASSES)(h))


def k_tabular(seed: int = 0) -> Any:
    """Normalization (adapted on raw features) → two Dense layers → logits over 3 classes."""
    keras = _keras()
    layers = keras.layers
    norm = layers.Normalization()
    norm.adapt(tabular(512, seed=seed + 1000)[0])
    inputs = keras.Input((8,))
    h = layers.Dense(32, activation="relu")(norm(inputs))
    h = layers.Dense(32, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))


def k_sparse_ce(from_logits: bool = True) -> Any:
    return _keras().losses.SparseCategoricalCrossentropy(from_logits=from_logits)


# --- the members ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Member:
    """One zoo model: ``build(seed)`` makes it (torch seeds the global generator first), ``data(n,
    seed, offset)`` a batch, ``kwargs()`` the training keywords (loss_fn, optimizer, output)."""

    name: str
    framework: str
    build: Callable[[int], Any]
    data: Callable[[int, int, int], tuple[Any, Any]]
    kwargs: Callable[[], dict[str, Any]]
    kind: str = "logits"  # output_range kind: 'logits' or 'probabilities'
    slow: bool = False
    needs: str | None = None  # an optional package the member needs
    lm: bool = False  # per-token targets (a decoder)
    batch: int = 32


def _torch(make: Callable[[], nn.Module]) -> Callable[[int], nn.Module]:
    def build(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return make()
    return build


def _keras_build(make: Callable[..., Any], takes_seed: bool = False) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        keras = _keras()
        keras.utils.set_random_seed(seed)  # the applications draw their initial weights from it
        return make(seed) if takes_seed else make()
    return build


def _ce() -> dict[str, Any]:
    return dict(loss_fn=nn.CrossEntropyLoss())


def _img(n: int, seed: int, offset: int) -> tuple[Any, Any]:
    return images(n, offset=offset)


def _img_k(n: int, seed: int, offset: int) -> tuple[Any, Any]:
    return images(n, offset=offset, layout="nhwc")


def _tok(n: int, seed: int, offset: int) -> tuple[Any, Any]:
    ids, _, y = tokens(n, seed=seed, offset=offset)
    return torch.from_numpy(ids), torch.from_numpy(y)


def members() -> list[Member]:
    return [
        Member("resnet18", "torch", _torch(lambda: ResNet18(width=16)), _img, _ce),
        Member("resnet18 zero-init residual", "torch", _torch(lambda: ResNet18(width=16, zero_init_residual=True)),
               _img, _ce),
        Member("resnet18 full width", "torch", _torch(lambda: ResNet18(width=64)), _img, _ce, slow=True),
        Member("resnet18 full width zero-init residual", "torch",
               _torch(lambda: ResNet18(width=64, zero_init_residual=True)), _img, _ce, slow=True),
        Member("mobilenet_v3_small", "torch", _torch(lambda: MobileNetV3Small(width=0.5)), _img, _ce),
        Member("mobilenet_v3_small full width", "torch", _torch(MobileNetV3Small), _img, _ce, slow=True),
        Member("vit tiny", "torch", _torch(ViT), _img, _ce, batch=64),
        Member("packed bi-lstm", "torch", _torch(PackedBiLSTM), _tok, _ce, batch=64),
        Member("bert tiny", "torch", _torch(bert), _tok, lambda: dict(loss_fn=nn.CrossEntropyLoss(), output="logits"),
               needs="transformers", batch=64),
        Member("gpt2 tiny", "torch", _torch(gpt2), lambda n, s, o: next_token(n, seed=s, offset=o),
               lambda: dict(loss_fn=lm_loss, output="logits"), needs="transformers", lm=True),
        Member("lightning cnn", "torch", _torch(lightning_cnn), _img, dict, needs="lightning"),
        Member("keras MobileNetV2", "keras", _keras_build(k_mobilenet_v2), _img_k,
               lambda: dict(loss_fn=k_sparse_ce(from_logits=False)), kind="probabilities"),
        Member("keras ResNet50V2", "keras", _keras_build(k_resnet50_v2), _img_k,
               lambda: dict(loss_fn=k_sparse_ce(from_logits=False)), kind="probabilities", slow=True),
        Member("keras EfficientNetB0", "keras", _keras_build(k_efficientnet_b0),
               lambda n, s, o: images(n, offset=o, layout="nhwc", scale="pixels"),
               lambda: dict(loss_fn=k_sparse_ce(from_logits=False)), kind="probabilities", slow=True),
        Member("keras text (TextVectorization)", "keras", _keras_build(k_text, True),
               lambda n, s, o: sentences(n, seed=s, offset=o), lambda: dict(loss_fn=k_sparse_ce()), batch=64),
        Member("keras tabular (Normalization)", "keras", _keras_build(k_tabular, True),
               lambda n, s, o: tabular(n, seed=s, offset=o), lambda: dict(loss_fn=k_sparse_ce()), batch=64),
    ]


def available(member: Member) -> bool:
    if member.needs is None:
        return True
    try:
        __import__(member.needs)
    except ImportError:
        return False
    return True


# --- the checks each member goes through (tests/test_zoo.py, benchmarks/zoo_table.py) -------------

CHECKS = ["overfit_one_batch", "loss_decreases", "init_loss", "gradients_flow", "output_range",
          "not_constant_predictions", "batch_independence", "inputs_normalized", "input_independent_baseline"]
# a decoder's targets are per token: the class-share judgement does not apply (the held-out
# re-pairing does: it re-pairs whole sequences)
NOT_FOR_LM = {"not_constant_predictions"}


def check_calls(member: Member, seed: int) -> dict[str, Callable[[Any, Any], Any]]:
    """``check -> (mlcheck, model) -> result``: one call per check, on the member's own data
    (one batch; four batches to train on; 64 held-out samples; 64 more for the baseline)."""
    n = member.batch
    batch = member.data(n, seed, 0)
    batches = [member.data(n, seed, i * n) for i in range(4)]
    held = member.data(64, seed, 4 * n)[0]
    kw = member.kwargs
    out = {k: v for k, v in kw().items() if k == "output"}
    return {
        "overfit_one_batch": lambda m, model: m.overfit_one_batch(model, batch, **kw()),
        "loss_decreases": lambda m, model: m.loss_decreases(model, batches, **kw()),
        "init_loss": lambda m, model: m.init_loss(model, batch, **kw()),
        "gradients_flow": lambda m, model: m.gradients_flow(model, batch, **kw()),
        "output_range": lambda m, model: m.output_range(model, batch[0], kind=member.kind, **out),
        "not_constant_predictions": lambda m, model: m.not_constant_predictions(model, held, train_on=batches, **kw()),
        "batch_independence": lambda m, model: m.batch_independence(model, batch[0], **out),
        "inputs_normalized": lambda m, model: m.inputs_normalized(batch[0], model=model, **out),
        "input_independent_baseline": lambda m, model: m.input_independent_baseline(
            model, member.data(max(64, n), seed, 8 * n), **kw()),
    }
