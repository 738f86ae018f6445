"""Lightly's SimSiam tutorial (``docs/source/tutorials_source/package/tutorial_simsiam_esa.py``, "Tutorial 4: Train
SimSiam on Satellite Images", as rewritten with lightly's low-level blocks in PR #585): self-supervised SimSiam
(Chen & He 2020) on Sentinel-2 tiles of Italy. ``backbone = nn.Sequential(*list(torchvision.models.resnet18()
.children())[:-1])`` (num_ftrs = 512), ``SimSiamProjectionHead(512, 512, 512)`` (Linear-BN-ReLU, Linear-BN-ReLU,
Linear-BN) and ``SimSiamPredictionHead(512, 128, 512)`` (Linear-BN-ReLU, Linear); ``criterion =
lightly.loss.NegativeCosineSimilarity()`` (-cosine_similarity(x0, x1, dim=1).mean()); ``SGD(lr = 0.05 * batch_size /
256, momentum=0.9, weight_decay=5e-4)``, ``batch_size = 128``, 50 epochs; two views per image from
``lightly.data.ImageCollateFunction(input_size=256, hf_prob=0.5, vf_prob=0.5, rr_prob=0.5, min_scale=0.5,
cj_prob=0.2, cj_bright=0.1, cj_contrast=0.1, cj_hue=0.1, cj_sat=0.1)`` (plus its defaults: random grayscale 0.2,
Gaussian blur 0.5, ImageNet normalisation). ``SimSiam.forward(x0, x1)`` returns ``p0, p1, z0.detach(),
z1.detach()`` (the stop-gradient on the projections), and the loop does ``loss.backward(); optimizer.step();
optimizer.zero_grad()``, tracking the std of the normalised ``p0`` to "check whether your embeddings have collapsed".

The fault (the loss pairs each view with itself): the loop computed ``loss = 0.5 * (criterion(p0, z0) +
criterion(p1, z1))``. SimSiam's symmetric loss is D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2: the prediction
from one augmented view must match the projection of the *other* view, which is the only thing that asks the
encoder to map two augmentations of one image to the same embedding. Paired with its own (detached) projection,
each view's prediction only has to reproduce its own input direction: the predictor learns (a rank-128
approximation of) the identity, the loss heads for -1 whatever the encoder does, and nothing in the objective ties
the two views together, so the representation learns no augmentation invariance (the point of the tutorial's
embeddings). Lightly issue #595 (tutorial), first PR #599 ("fixes bug where arguments were not correctly passed to
loss function", closed for stray files), merged as PR #600 "Update simsiam tutorial (#595)" ("Refactor model", "Fix
loss arguments"): ``loss = 0.5 * (criterion(z0, p1) + criterion(z1, p0))``.

Source: github.com/lightly-ai/lightly ``docs/source/tutorials_source/package/tutorial_simsiam_esa.py`` at
5e5f5faa^ (= f762745f5b386cfd9e33ab3e6ecb08fa6680189a; the loop as rewritten in dfb8c7aa, PR #585), heads
from ``lightly/models/modules/heads.py`` and ``lightly/loss/negative_cosine_similarity.py`` at the same commit;
fix 5e5f5faa828a7f4a134963bae4e8c54856e46400 (PR #600, closing #595), which also moved the two-view forward into
one ``forward(x)`` called per view and returning ``z.detach(), p`` (the same computation).
Fault label: other:simsiam_view_predicts_own_projection (alternative: target_leakage — each prediction is computed
from the very projection it is trained to match).

Program lines kept: the ``SimSiam`` module with its two-view ``forward`` and the stop-gradient, the two lightly
heads as written at that commit (Linear with bias, BatchNorm1d defaults), ``NegativeCosineSimilarity``, the buggy /
fixed loss line, SGD(lr=0.05 * 128 / 256 = 0.025, momentum=0.9, weight_decay=5e-4), batch_size 128, out_dim =
proj_hidden_dim = 512, pred_hidden_dim = 128, ``torch.manual_seed(0)``.
Ported / shrunk (for one CPU thread): torchvision is not available, so the backbone is a ResNet-18 written out
(7x7/2 conv, BN, ReLU, 3x3/2 max-pool, 2-2-2-2 BasicBlocks, global average pool, ``fc`` dropped as in the tutorial)
with widths 8/16/32/64 instead of 64/128/256/512 (so num_ftrs = 64) and 24 x 24 inputs instead of 256 x 256: the
full net takes ~10 s a step here. The model returns the tutorial's four outputs stacked as one (batch, 4, 512)
tensor ``[p0, p1, z0.detach(), z1.detach()]`` and takes the two views stacked as x = (batch, 2, 3, 24, 24); the loss
unstacks them. ``y`` holds the images' classes (the tutorial's dataset has no labels; the loss ignores y).
Keras twin: the same ResNet-18 (Conv2D without bias, BatchNormalization(momentum=0.9, epsilon=1e-5) = torch's
defaults, channels last: x = (batch, 2, 24, 24, 3)), the same heads (torch-style U(+-1/sqrt(fan_in)) Dense init),
``ops.stop_gradient`` on the projections, the same stacked output and loss, ``SGD(0.025, momentum=0.9,
weight_decay=5e-4)`` (Keras applies the decay to the weights, torch adds it to the gradient before momentum).
Data stand-in (no Sentinel-2 tiles): ``_data.cifar_like`` 32 x 32 RGB uint8 images (digits on noisy, tinted
backgrounds, 10 classes), each turned into two views by the collate function's steps written in numpy: random
resized crop (scale 0.5-1, ratio 3/4-4/3, nearest resize to 24), colour jitter with p = 0.2 (brightness and contrast
0.9-1.1; hue / saturation left out), grayscale p = 0.2, horizontal and vertical flips p = 0.5, 90-degree rotation p
= 0.5, ImageNet normalisation (Gaussian blur left out). ``batches``: 8 batches of 128 pairs from 1024 images;
``inputs``: 256 pairs of held-out images.

Measured (my own plain loops, /tmp/s48/h74_a/m2.py and measure.py, OMP_NUM_THREADS=1):
  Plain loop on the module's builds, cycling the 8 batches (torch 300 steps, Keras 200), then on the 256 held-out
  pairs (BN in training mode, as the tutorial's own std check runs): "own-pair" = the buggy objective, "cross-view" =
  SimSiam's; z cos = mean cosine of the two views' projections of one image (and of two different images); kNN = 5-NN
  accuracy of backbone features of held-out views against the training views (10 classes, chance 0.1).
    torch init:   own-pair -0.005, cross-view -0.004, z cos same / other image 0.079 / 0.013, kNN 0.125
    torch buggy:  train-batch own-pair loss step 0/50/100/299 -0.008/-0.853/-0.826/-0.932 (cross-view on the same
                  batch -0.002/-0.714/-0.606/-0.608); held-out own-pair -0.934, cross-view -0.655, z cos 0.678 / 0.010,
                  kNN 0.090, std(normalised p0) 0.042
    torch fixed:  train-batch cross-view loss -0.002/-0.758/-0.820/-0.901; held-out cross-view -0.872, z cos 0.883 /
                  0.541, kNN 0.152, std(normalised p0) 0.029
    Keras init:   own-pair -0.003, cross-view -0.001, z cos 0.117 / 0.008, kNN 0.133
    Keras buggy:  train-batch own-pair step 0/50/100/199 0.024/-0.582/-0.741/-0.826 (cross-view 0.023/-0.333/-0.386/
                  -0.378); held-out cross-view -0.411, z cos 0.392 / 0.051, kNN 0.133
    Keras fixed:  train-batch cross-view 0.024/-0.448/-0.734/-0.826; held-out cross-view -0.660, z cos 0.633 / 0.140,
                  kNN 0.125
  An earlier run of the same loop on 32 x 32 views (/tmp/s48/h74_a/m2.py, torch, 300 steps): buggy own-pair loss
  -0.956 while its cross-view loss stalled at -0.68, kNN 0.199; fixed cross-view -0.862, kNN 0.246 (init 0.168).
  So the fault shows as the objective being met without the views being tied together: the buggy loss falls as
  fast as (or faster than) the fixed one, toward -1, while the two augmentations of one image stay far less alike
  (cosine 0.68 vs 0.88 in torch, 0.39 vs 0.63 in Keras), and the buggy torch features end at or below their random-
  init kNN accuracy while the fixed ones gain a little. On this short CPU budget the gain of the fixed run is small
  (kNN 0.15 vs 0.09 torch; none in Keras at 200 steps), and neither run collapses (std of the normalised output
  stays near 1/sqrt(512) = 0.044 in the buggy runs; the fixed torch run drifts toward partial collapse, 0.029).
  Time per step (batch 128 pairs, 24 x 24, one thread, with the other framework's loop running on the second core):
  torch ~250-300 ms, Keras ~560-830 ms including a forward to log the losses; alone: torch ~86 ms, Keras
  ``train_on_batch`` ~150-220 ms. Builds: first torch 6.4 s (imports, augmentation), Keras 10.3 s; later 0.1 / 1.7 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:simsiam_view_predicts_own_projection|target_leakage"
SOURCE = ("github:lightly-ai/lightly issue #595, PR #600 (docs/source/tutorials_source/package/tutorial_simsiam_esa.py"
          "@5e5f5faa^ 'loss = 0.5 * (criterion(p0, z0) + criterion(p1, z1))'; fix "
          "5e5f5faa828a7f4a134963bae4e8c54856e46400 'Fix loss arguments': criterion(z0, p1) + criterion(z1, p0))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("gradients_flow", {})]

# tutorial constants
BATCH_SIZE = 128
LR = 0.05 * BATCH_SIZE / 256
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
OUT_DIM = PROJ_HIDDEN_DIM = 512
PRED_HIDDEN_DIM = 128
SEED = 0
# port (shrunk for CPU)
WIDTH = 8  # ResNet-18 widths 8/16/32/64 (torchvision: 64/128/256/512)
NUM_FTRS = 8 * WIDTH
INPUT_SIZE = 24  # tutorial: 256
N_TRAIN = 1024
N_BATCHES = 8
N_INPUTS = 256
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype="float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype="float32")


# ------------------------------------------------------------------------------------------------------------ data

def _augment(img: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """One view, ImageCollateFunction's steps (see the docstring): HWC float32, ImageNet-normalised."""
    h = img.shape[0]
    scale, ratio = r.uniform(0.5, 1.0), np.exp(r.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = min(max(int(round(np.sqrt(scale * ratio) * h)), 4), h)
    hh = min(max(int(round(np.sqrt(scale / ratio) * h)), 4), h)
    y0, x0 = r.integers(0, h - hh + 1), r.integers(0, h - w + 1)
    crop = img[y0:y0 + hh, x0:x0 + w].astype("float32") / 255.0
    out = crop[(np.arange(INPUT_SIZE) * hh / INPUT_SIZE).astype(int)][:, (np.arange(INPUT_SIZE) * w / INPUT_SIZE)
                                                                          .astype(int)]
    if r.random() < 0.2:  # cj_prob: brightness / contrast 0.1
        out = np.clip(out * r.uniform(0.9, 1.1), 0, 1)
        m = out.mean()
        out = np.clip((out - m) * r.uniform(0.9, 1.1) + m, 0, 1)
    if r.random() < 0.2:  # random_gray_scale
        out = np.repeat(out.mean(2, keepdims=True), 3, 2)
    if r.random() < 0.5:  # hf_prob
        out = out[:, ::-1]
    if r.random() < 0.5:  # vf_prob
        out = out[::-1]
    if r.random() < 0.5:  # rr_prob
        out = np.rot90(out, 1)
    return (out - IMAGENET_MEAN) / IMAGENET_STD


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Two-view batches (NHWC views stacked on axis 1) and the held-out pairs."""
    from tests.real_programs._data import cifar_like

    imgs, labels = cifar_like(N_TRAIN + N_INPUTS, seed=SEED)
    r = np.random.default_rng(SEED)

    def pairs(idx: np.ndarray) -> np.ndarray:
        return np.stack([np.stack([_augment(imgs[i], r), _augment(imgs[i], r)]) for i in idx]).astype("float32")

    batches = []
    for _ in range(N_BATCHES):  # DataLoader(shuffle=True, drop_last=True)
        ix = r.choice(N_TRAIN, BATCH_SIZE, replace=False)
        batches.append((pairs(ix), labels[ix].astype("int64")))
    return batches, pairs(np.arange(N_TRAIN, N_TRAIN + N_INPUTS))


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + idt)

    def resnet18_backbone() -> nn.Module:  # nn.Sequential(*list(resnet18().children())[:-1])
        layers: list[nn.Module] = [nn.Conv2d(3, WIDTH, 7, 2, 3, bias=False), nn.BatchNorm2d(WIDTH), nn.ReLU(),
                                   nn.MaxPool2d(3, 2, 1)]
        cin = WIDTH
        for k, cout in enumerate([WIDTH, 2 * WIDTH, 4 * WIDTH, 8 * WIDTH]):
            layers.append(nn.Sequential(BasicBlock(cin, cout, 1 if k == 0 else 2), BasicBlock(cout, cout, 1)))
            cin = cout
        layers.append(nn.AdaptiveAvgPool2d(1))
        return nn.Sequential(*layers)

    def projection_head(blocks):  # lightly ProjectionHead
        layers: list[nn.Module] = []
        for input_dim, output_dim, batch_norm, non_linearity in blocks:
            layers.append(nn.Linear(input_dim, output_dim))
            if batch_norm:
                layers.append(batch_norm)
            if non_linearity:
                layers.append(non_linearity)
        return nn.Sequential(*layers)

    class SimSiam(nn.Module):  # tutorial_simsiam_esa.py
        def __init__(self, backbone, num_ftrs, proj_hidden_dim, pred_hidden_dim, out_dim):
            super().__init__()
            self.backbone = backbone
            self.projection_head = projection_head([  # SimSiamProjectionHead
                (num_ftrs, proj_hidden_dim, nn.BatchNorm1d(proj_hidden_dim), nn.ReLU()),
                (proj_hidden_dim, proj_hidden_dim, nn.BatchNorm1d(proj_hidden_dim), nn.ReLU()),
                (proj_hidden_dim, out_dim, nn.BatchNorm1d(out_dim), None)])
            self.prediction_head = projection_head([  # SimSiamPredictionHead
                (out_dim, pred_hidden_dim, nn.BatchNorm1d(pred_hidden_dim), nn.ReLU()),
                (pred_hidden_dim, out_dim, None, None)])

        def forward(self, x):
            x0, x1 = x[:, 0], x[:, 1]  # port: the two views stacked on axis 1
            f0 = self.backbone(x0).flatten(start_dim=1)
            f1 = self.backbone(x1).flatten(start_dim=1)
            z0 = self.projection_head(f0)
            z1 = self.projection_head(f1)
            p0 = self.prediction_head(z0)
            p1 = self.prediction_head(z1)
            z0 = z0.detach()
            z1 = z1.detach()
            return torch.stack([p0, p1, z0, z1], dim=1)  # tutorial: return p0, p1, z0, z1

    def criterion(x0, x1):  # lightly.loss.NegativeCosineSimilarity()
        return -F.cosine_similarity(x0, x1, 1, 1e-8).mean()

    def loss_fn(out, y):
        p0, p1, z0, z1 = out.unbind(1)
        if fixed:  # fix 5e5f5faa
            return 0.5 * (criterion(z0, p1) + criterion(z1, p0))
        return 0.5 * (criterion(p0, z0) + criterion(p1, z1))

    torch.manual_seed(SEED)
    model = SimSiam(resnet18_backbone(), NUM_FTRS, PROJ_HIDDEN_DIM, PRED_HIDDEN_DIM, OUT_DIM)
    batches, held_out = _data()

    def t(a: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 1, 4, 2, 3)))

    tb = [(t(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(held_out), "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.SGD(p, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def bn() -> Any:  # torch BatchNorm defaults
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def conv(filters: int, k: int, s: int) -> Any:
        return layers.Conv2D(filters, k, s, padding="same", use_bias=False,
                             kernel_initializer=keras.initializers.HeNormal())

    def basic_block(x, cout: int, stride: int):
        idt = x
        if stride != 1 or x.shape[-1] != cout:
            idt = bn()(conv(cout, 1, stride)(x))
        out = layers.ReLU()(bn()(conv(cout, 3, stride)(x)))
        return layers.ReLU()(layers.Add()([bn()(conv(cout, 3, 1)(out)), idt]))

    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    h = layers.MaxPooling2D(3, 2, padding="same")(layers.ReLU()(bn()(conv(WIDTH, 7, 2)(inp))))
    for k, cout in enumerate([WIDTH, 2 * WIDTH, 4 * WIDTH, 8 * WIDTH]):
        h = basic_block(basic_block(h, cout, 1 if k == 0 else 2), cout, 1)
    backbone = keras.Model(inp, layers.GlobalAveragePooling2D()(h), name="backbone")

    def linear(n_in: int, n_out: int) -> Any:  # nn.Linear's default init
        bound = 1.0 / np.sqrt(n_in)
        return layers.Dense(n_out, kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    projection_head = keras.Sequential([
        keras.Input((NUM_FTRS,)), linear(NUM_FTRS, PROJ_HIDDEN_DIM), bn(), layers.ReLU(),
        linear(PROJ_HIDDEN_DIM, PROJ_HIDDEN_DIM), bn(), layers.ReLU(),
        linear(PROJ_HIDDEN_DIM, OUT_DIM), bn()], name="projection_head")
    prediction_head = keras.Sequential([
        keras.Input((OUT_DIM,)), linear(OUT_DIM, PRED_HIDDEN_DIM), bn(), layers.ReLU(),
        linear(PRED_HIDDEN_DIM, OUT_DIM)], name="prediction_head")

    class StopGradient(layers.Layer):
        def call(self, z):
            return ops.stop_gradient(z)

    class Stack(layers.Layer):
        def call(self, ts):
            return ops.stack(ts, axis=1)

    x = keras.Input((2, INPUT_SIZE, INPUT_SIZE, 3))
    z0 = projection_head(backbone(x[:, 0]))
    z1 = projection_head(backbone(x[:, 1]))
    p0, p1 = prediction_head(z0), prediction_head(z1)
    model = keras.Model(x, Stack()([p0, p1, StopGradient()(z0), StopGradient()(z1)]), name="SimSiam")

    def criterion(a, b):  # NegativeCosineSimilarity
        na = ops.maximum(ops.sqrt(ops.sum(ops.square(a), axis=1)), 1e-8)
        nb = ops.maximum(ops.sqrt(ops.sum(ops.square(b), axis=1)), 1e-8)
        return -ops.mean(ops.sum(a * b, axis=1) / (na * nb))

    def simsiam_loss(y, out):
        p0, p1, z0, z1 = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
        if fixed:  # fix 5e5f5faa
            return 0.5 * (criterion(z0, p1) + criterion(z1, p0))
        return 0.5 * (criterion(p0, z0) + criterion(p1, z1))

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY),
                  loss=simsiam_loss)
    batches, held_out = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": held_out}


buggy, fixed = versions(_torch, _keras)
