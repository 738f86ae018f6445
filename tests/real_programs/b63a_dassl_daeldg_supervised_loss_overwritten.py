"""Dassl.pytorch (Kaiyang Zhou's domain adaptation / generalisation toolbox), ``dassl/engine/dg/daeldg.py``: the
trainer ``DAELDG``, the domain-generalisation version of DAEL ("Domain Adaptive Ensemble Learning", Zhou et al.,
arXiv 2003.07325), with its config for Digits-DG (``configs/trainers/dg/dael/digits_dg.yaml`` +
``configs/datasets/dg/digits_dg.yaml``). A shared feature extractor ``F`` (``SimpleNet`` around the backbone
``cnn_digitsdg``: four [Conv2d(3x3, 64, padding 1) -> ReLU -> max-pool 2] blocks on 32 x 32 RGB, flattened to 256
features, ``init_network_weights(init_type='kaiming')``) and ``Experts``: one ``nn.Linear(fdim, num_classes)`` +
``Softmax(dim=1)`` per source domain. The ``RandomDomainSampler`` fills each batch of 120 with 40 images from each
of the 3 source domains; every image comes twice, ``img`` (resize + normalize, mean / std 0.5) and ``img2`` (the
strong view: ``randaugment2`` then normalize). ``forward_backward`` splits the batch into the domain chunks; for
chunk ``i`` the expert of its domain is trained with the cross-entropy ``(-label_i * torch.log(pred_i +
1e-5)).sum(1).mean()`` on the one-hot labels, and the other domains' experts, applied to the strong view, are pulled
by a squared error towards that expert's (detached) prediction (consistency regularisation, ``loss_cr``). Both
``F`` and ``E`` have their own SGD (lr 0.05, momentum 0.9, weight decay 5e-4, ``model_backward_and_update``:
zero_grad, backward, step). At test time the experts' probabilities are averaged (``model_inference``).

The fault (a variable-name slip): the supervised term is accumulated in a variable called ``loss`` and then the
total is built in the same name:

        loss = 0
        loss_cr = 0
        ...
            loss += (-label_i * torch.log(pred_i + 1e-5)).sum(1).mean()
        ...
        loss /= self.n_domain
        loss_cr /= self.n_domain
        ...
        loss = 0
        loss += loss
        loss += loss_cr
        self.model_backward_and_update(loss)

``loss = 0`` wipes the accumulated cross-entropy and ``loss += loss`` adds 0 to 0, so the step minimises
``loss_cr`` alone: the labels never reach the gradient. What is trained is only the agreement between experts, which
every constant prediction satisfies; with weight decay the experts drift to the same uninformative output. The logged
``'loss'`` is that consistency loss, small from the start and going down, so training looks healthy. Issue #1 "the
loss of daeldg" (zhaoxin94, 2020-05-21): "Why the 'loss' is assigned to 0? This will make the supervised loss be
invalid." The author: "very good spot, thank you. it was a typo when I transferred the private code to here.
supposed to be `loss_x` but fixed now".

Source: github.com/KaiyangZhou/Dassl.pytorch, ``dassl/engine/dg/daeldg.py`` at
5e83fdce6fb51d8d4fbe0441a016eade2ebda423 (= 131d980^; the lines are as in the initial commit 7504f37, 2020-03-10),
with ``dassl/modeling/backbone/cnn_digitsdg.py``, ``dassl/engine/trainer.py`` (``SimpleNet``,
``model_backward_and_update``), ``dassl/data/samplers.py`` (``RandomDomainSampler``),
``dassl/data/transforms/randaugment.py`` (``RandAugment2``), ``dassl/optim/optimizer.py``, ``dassl/config/defaults.py``
and the two Digits-DG configs at the same commit. Issue #1; fix 131d980ae7d2853157ff17baec025ae9a5ad5208 ("fix typo":
the accumulator is ``loss_x``, ``loss += loss_x``), then 0e308c4 (logs ``loss_x``).
Program lines kept: ``Experts``, the backbone's layers and kaiming init (biases 0; experts with torch's default
Linear init), ``forward_backward``'s loss lines as written (buggy / fixed), ``parse_batch_train``'s one-hot labels
(``create_onehot``), ``model_inference``, ``model_backward_and_update``, SGD(lr 0.05, momentum 0.9, weight_decay 5e-4,
dampening 0, no nesterov) for F and E (one SGD over both here: the same hyper-parameters on disjoint parameters),
batch 120 = 3 domains x 40, 10 classes, 32 x 32 x 3 inputs normalised with mean / std 0.5 (range [-1, 1]).
Ported: the backbone's width 64 -> 16 (CPU: the step runs the backbone on 2 x 120 images; 64 wide ~0.5 s a step on
one thread, 16 wide ~0.09 s). The step is ``train_step(model, optimizer, loss_fn, x, y)`` with ``x`` the weak views
(``img``) and ``y`` the class ids; the strong view ``img2`` is made inside the step from ``x`` (un-normalised, two
RandAugment2 draws with p 0.6 and the program's magnitude ranges, normalised again) by 10 of the 15 ops
(AutoContrast, Brightness, Color, Contrast, Identity, Invert, Posterize, Solarize, TranslateX / Y with zero fill;
Equalize, Rotate, Sharpness, ShearX / Y left out), with its random draws re-seeded for every call, so that a batch's
loss is a function of the batch. The batch's chunks keep the domains in a fixed order (0, 1, 2) instead of the
sampler's random order of the 3 domains, so the chunk index is the domain id the program reads from
``batch['domain']`` (for other batch sizes: chunk k -> domain k mod 3; a chunk with no other domain in the batch
gets no consistency term, where the program would fail on ``torch.cat([])``). ``model(x)`` is ``model_inference``
(mean of the experts' softmax, probabilities); ``loss_fn(output, y)`` recomputes the step's loss for the model's last
input ``x``. Keras twin: the same network as a ``keras.Model`` subclass (channels-last, kernels
VarianceScaling(2, fan_in, untruncated normal) = kaiming_normal_, zero biases in the backbone, experts
VarianceScaling(1/3, fan_in, uniform) with U(+-1/sqrt(fan_in)) biases = torch's Linear init), ``call`` =
``model_inference``, and ``forward_backward`` as the custom ``train_step`` with the same buggy / fixed lines (a
hand-written step is Keras' place for this slip); ``test_step`` / ``compute_loss`` give the same loss without the
update. Keras' SGD(0.05, momentum 0.9) with the L2 term ``5e-4 * w`` added to each gradient in ``train_step``
(torch's weight_decay; Keras' own ``weight_decay`` is decoupled).
Data stand-in (no Digits-DG download): scikit-learn's 1,797 8 x 8 digits, each shown once, in one of three source
domains (MNIST-like white on black; MNIST-M-like: the digit blended as |background - digit| into a random coloured
texture; SYN-like: a coloured digit on a coloured background with noise), scaled 3x, placed at a random offset in
32 x 32, uint8 RGB, then / 255 and normalised to [-1, 1]; 499 training and 100 held-out images per domain.
``batches``: 8 batches of the sampler (40 images of each domain, without replacement), ``batch`` the first;
``inputs``: 256 held-out images of the three domains; y int64 class ids.

Fault label: other:supervised_loss_overwritten (the cross-entropy on the labels is computed and then discarded by
``loss = 0``; the optimiser only sees the label-free consistency loss).
Fix (131d980): accumulate the supervised term in ``loss_x`` and ``loss = 0; loss += loss_x; loss += loss_cr``.

Measured (my own plain loops, /tmp/s45/h_a/measure.py and measure_k.py, logs beside them; OMP_NUM_THREADS=1 on
the shared 2-core machine, load ~3-4; the module's builds; the program's step for 300 steps over fresh sampler
batches (~24 epochs of the 1,497 training images); held-out = ``model_inference`` on the 300 held-out images;
"share" = the most frequent predicted class's share; "spread" = the mean over classes of the std over images of the
predicted probability):
  torch, printed (minimised) loss at steps 1 / 10 / 50 / 100 / 300: buggy 0.108 / 0.019 / 0.0014 / 0.0009 / 0.0004,
    fixed 2.83 / 2.33 / 2.11 / 1.47 / 1.26 (mean of the last 10: 0.93). Held-out accuracy at init 0.107; after 300
    steps buggy 0.083 (share 0.94, output entropy 2.292 of ln 10 = 2.303, spread 0.004: every image gets nearly the
    same uniform distribution), fixed 0.56 (share 0.23, entropy 0.83, spread 0.21); the held-out cross-entropy of
    each image's own-domain expert: buggy 2.634 -> 2.310 (= ln 10), fixed 2.634 -> 1.83 (1.53 at step 200).
  Keras (train_on_batch): buggy loss 0.056 (init, test_on_batch) -> 0.010 / 0.0019 / 0.0013 / 0.0005 at steps 10 /
    50 / 100 / 300, held-out accuracy 0.117 -> 0.073 (share 1.00, entropy 2.282); fixed 2.45 -> 2.35 / 2.20 / 1.64 /
    0.82, accuracy 0.65 (share 0.15, entropy 0.75).
  One batch repeated (100 steps), loss / accuracy on that batch at steps 1 / 10 / 50 / 100: torch buggy 0.115 / 0.12,
    0.018 / 0.09, 0.0014 / 0.08, 0.0008 / 0.08; fixed 2.72 / 0.13, 2.18 / 0.19, 1.18 / 0.72, 0.57 / 0.90. Keras buggy
    0.056 / 0.08 -> 0.0013 / 0.04; fixed 2.45 / 0.10 -> 0.18 / 0.93.
  So the buggy run's loss falls by ~2.5 orders of magnitude while nothing is learned: the loss starts far below a
  10-class cross-entropy (0.06-0.11 vs ln 10), and the predictions collapse to one near-uniform output.
  Time per step (batch 120, both views): torch ~0.09 s unloaded (0.11-0.15 s at load 3-4, ~0.03 s of it the strong
    view), Keras 0.13-0.19 s at that load. Builds: first torch 2.6 s (digits rendering, imports), Keras 5.2 s; later
    builds 0.01 s / 0.13 s.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:supervised_loss_overwritten"
SOURCE = ("github:KaiyangZhou/Dassl.pytorch issue #1 (dassl/engine/dg/daeldg.py DAELDG.forward_backward "
          "'loss = 0; loss += loss; loss += loss_cr' @5e83fdce6fb51d8d4fbe0441a016eade2ebda423 = 131d980^, as in "
          "the initial commit 7504f37; configs/trainers/dg/dael/digits_dg.yaml, "
          "dassl/modeling/backbone/cnn_digitsdg.py; fix 131d980ae7d2853157ff17baec025ae9a5ad5208 'fix typo': "
          "loss_x accumulates the cross-entropy, loss += loss_x)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {})]
# the lead's edit: the helper's torch build passed a loss_fn that ignored its outputs and ran the model again
# on its stored input (the trainer's loss needs both views and the domain chunks), which the checks now refuse
# as a usage error naming loss_fn; as that error advises, the torch build gives its train_step alone (the
# Keras twin already trains through its own train_step with no compiled loss), and init_loss, which needs
# a loss of given outputs, is dropped from CHECKS (a usage error in both frameworks without one)

# configs/trainers/dg/dael/digits_dg.yaml, configs/datasets/dg/digits_dg.yaml, dassl/config/defaults.py
BATCH_SIZE = 120  # DATALOADER.TRAIN_X.BATCH_SIZE, SAMPLER 'RandomDomainSampler'
N_DOMAIN = 3  # Digits-DG: 4 domains, one held out as target -> 3 source domains in every batch
SPLIT_BATCH = BATCH_SIZE // N_DOMAIN  # self.split_batch
NUM_CLASSES = 10
LR = 0.05  # OPTIM.NAME 'sgd', LR 0.05
MOMENTUM = 0.9  # OPTIM.MOMENTUM
WEIGHT_DECAY = 5e-4  # OPTIM.WEIGHT_DECAY
PIXEL_MEAN = 0.5  # INPUT.PIXEL_MEAN [0.5, 0.5, 0.5]
PIXEL_STD = 0.5  # INPUT.PIXEL_STD [0.5, 0.5, 0.5]
IMG = 32  # INPUT.SIZE (32, 32)
RANDAUGMENT_N = 2  # INPUT.RANDAUGMENT_N; RandAugment2(n=2, p=0.6)
RANDAUGMENT_P = 0.6
# port
C_HIDDEN = 16  # ConvNet(c_hidden=64) in cnn_digitsdg, narrowed for CPU
FDIM = 2 ** 2 * C_HIDDEN
N_HELD_OUT = 100  # per domain
N_BATCHES = 8
N_INPUTS = 256
SEED = 0
AUG_SEED = 1234

# randaugment_list2(), the ops kept: (name, minval, maxval)
AUG_OPS = (("AutoContrast", 0.0, 1.0), ("Brightness", 0.1, 1.9), ("Color", 0.1, 1.9), ("Contrast", 0.1, 1.9),
           ("Identity", 0.0, 1.0), ("Invert", 0.0, 1.0), ("Posterize", 4.0, 8.0), ("Solarize", 0.0, 256.0),
           ("TranslateX", -0.3, 0.3), ("TranslateY", -0.3, 0.3))


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _domains() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 digits, each rendered once in one of the three source-domain styles: images (n, 32, 32, 3) uint8,
    labels (n,), domain ids (n,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    r = np.random.default_rng(SEED)
    order = r.permutation(len(d.target))
    imgs, labels, domains = [], [], []
    yy, xx = np.mgrid[0:IMG, 0:IMG] / IMG
    for k, i in enumerate(order):
        dom = k % N_DOMAIN
        digit = np.kron(d.images[i] / 16.0, np.ones((3, 3)))  # 24 x 24 in [0, 1]
        mask = np.zeros((IMG, IMG))
        oy, ox = r.integers(0, IMG - 24 + 1, 2)
        mask[oy:oy + 24, ox:ox + 24] = digit
        m = mask[..., None]
        if dom == 0:  # MNIST-like: white digit on black
            img = np.repeat(m, 3, axis=2) * 255.0
        elif dom == 1:  # MNIST-M-like: |texture - digit|
            f1, f2 = r.uniform(2, 9, 2)
            ph = r.uniform(0, 2 * np.pi, (3, 2))
            waves = [0.5 + 0.25 * np.sin(2 * np.pi * f1 * yy + ph[c, 0]) + 0.25 * np.sin(2 * np.pi * f2 * xx + ph[c, 1])
                     for c in range(3)]
            tex = np.stack(waves, axis=2) * r.uniform(80, 255, 3)
            img = np.abs(tex - m * 255.0)
        else:  # SYN-like: coloured digit on a coloured background, noise
            bg, fg = r.uniform(0, 255, 3), r.uniform(0, 255, 3)
            while np.abs(bg - fg).sum() < 150:
                fg = r.uniform(0, 255, 3)
            img = bg * (1 - m) + fg * m + r.normal(0, 12, (IMG, IMG, 3))
        imgs.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
        labels.append(d.target[i])
        domains.append(dom)
    return np.stack(imgs), np.array(labels, dtype=np.int64), np.array(domains, dtype=np.int64)


def normalize(imgs: np.ndarray) -> np.ndarray:
    """ToTensor (/ 255) then Normalize(mean 0.5, std 0.5), channels-last float32."""
    return ((imgs.astype(np.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _splits() -> tuple[list[np.ndarray], np.ndarray]:
    """Per-domain training indices, and the held-out indices (the last N_HELD_OUT of each domain)."""
    _, _, dom = _domains()
    train, held = [], []
    for k in range(N_DOMAIN):
        idx = np.flatnonzero(dom == k)
        train.append(idx[:-N_HELD_OUT])
        held.append(idx[-N_HELD_OUT:])
    held_out = np.stack(held, axis=1).reshape(-1)  # domains interleaved
    return train, held_out


def sampler_batches(n_batches: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """RandomDomainSampler batches: SPLIT_BATCH images of each domain, domains in the fixed order 0, 1, 2, drawn
    without replacement until a domain runs short (then a new epoch); (x NHWC normalised, y class ids)."""
    imgs, labels, _ = _domains()
    train, _ = _splits()
    r = np.random.default_rng(seed + 1)
    pools = [list(r.permutation(t)) for t in train]
    out = []
    while len(out) < n_batches:
        if min(len(p) for p in pools) < SPLIT_BATCH:
            pools = [list(r.permutation(t)) for t in train]
        idx = []
        for k in range(N_DOMAIN):
            idx += pools[k][:SPLIT_BATCH]
            pools[k] = pools[k][SPLIT_BATCH:]
        idx_a = np.array(idx)
        out.append((normalize(imgs[idx_a]), labels[idx_a]))
    return out


def held_out() -> tuple[np.ndarray, np.ndarray]:
    imgs, labels, _ = _domains()
    _, h = _splits()
    return normalize(imgs[h]), labels[h]


def _chunks(n: int) -> list[tuple[int, int, int]]:
    """torch.split(input, self.split_batch, 0): (start, stop, domain id) of each chunk."""
    return [(s, min(s + SPLIT_BATCH, n), k % N_DOMAIN) for k, s in enumerate(range(0, n, SPLIT_BATCH))]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch_strong_view(x: Any) -> Any:
    """``img2``: RandAugment2(n=2, p=0.6) on the image in [0, 1] (the ops kept), then normalised; x is normalised
    NCHW. Random draws from a generator re-seeded on every call."""
    import torch

    g = torch.Generator().manual_seed(AUG_SEED)
    u = (x.detach() * PIXEL_STD + PIXEL_MEAN).clamp(0, 1)
    b, _, h, w = u.shape
    gray_w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    for _ in range(RANDAUGMENT_N):
        op = torch.randint(0, len(AUG_OPS), (b,), generator=g)
        keep = torch.rand(b, generator=g) > RANDAUGMENT_P  # `if random.random() > self.p: continue`
        mag = torch.rand(b, generator=g)
        sign = torch.where(torch.rand(b, generator=g) > 0.5, -1.0, 1.0)
        lo = torch.tensor([o[1] for o in AUG_OPS])[op]
        hi = torch.tensor([o[2] for o in AUG_OPS])[op]
        v = (mag * (hi - lo) + lo).view(b, 1, 1, 1)
        gray = (u * gray_w).sum(1, keepdim=True)
        mn = u.amin(dim=(2, 3), keepdim=True)
        mx = u.amax(dim=(2, 3), keepdim=True)
        u8 = torch.floor(u * 255.0 + 0.5)
        bits = torch.floor(v)
        outs = [
            torch.where(mx > mn, (u - mn) / (mx - mn).clamp_min(1e-8), u),  # AutoContrast
            (u * v).clamp(0, 1),  # Brightness
            (gray + v * (u - gray)).clamp(0, 1),  # Color
            (gray.mean(dim=(2, 3), keepdim=True) + v * (u - gray.mean(dim=(2, 3), keepdim=True))).clamp(0, 1),
            u,  # Identity
            1.0 - u,  # Invert
            torch.floor(u8 / 2.0 ** (8 - bits)) * 2.0 ** (8 - bits) / 255.0,  # Posterize
            torch.where(u8 >= v, 255.0 - u8, u8) / 255.0,  # Solarize
        ]
        shift = torch.round(v.view(b) * sign * w).long()  # TranslateX / Y: v * img.size, random sign, fill 0
        ar = torch.arange(w)
        src = ar.view(1, w) + shift.view(b, 1)  # output(x) = input(x + v)
        valid = ((src >= 0) & (src < w)).float()
        srcc = src.clamp(0, w - 1)
        tx = torch.gather(u, 3, srcc.view(b, 1, 1, w).expand(b, 3, h, w)) * valid.view(b, 1, 1, w)
        ty = torch.gather(u, 2, srcc.view(b, 1, h, 1).expand(b, 3, h, w)) * valid.view(b, 1, h, 1)
        outs += [tx, ty]
        stacked = torch.stack(outs, 0)  # (n_ops, b, 3, h, w)
        new = stacked[op, torch.arange(b)]
        u = torch.where(keep.view(b, 1, 1, 1), u, new)
    return (u - PIXEL_MEAN) / PIXEL_STD


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F

    torch.manual_seed(SEED)

    class Convolution(nn.Module):  # cnn_digitsdg.py
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)
            self.relu = nn.ReLU(True)

        def forward(self, x):
            return self.relu(self.conv(x))

    class ConvNet(nn.Module):
        def __init__(self, c_hidden=64):
            super().__init__()
            self.conv1 = Convolution(3, c_hidden)
            self.conv2 = Convolution(c_hidden, c_hidden)
            self.conv3 = Convolution(c_hidden, c_hidden)
            self.conv4 = Convolution(c_hidden, c_hidden)

        def forward(self, x):
            x = self.conv1(x)
            x = F.max_pool2d(x, 2)
            x = self.conv2(x)
            x = F.max_pool2d(x, 2)
            x = self.conv3(x)
            x = F.max_pool2d(x, 2)
            x = self.conv4(x)
            x = F.max_pool2d(x, 2)
            return x.view(x.size(0), -1)

    class Experts(nn.Module):  # daeldg.py
        def __init__(self, n_source, fdim, num_classes):
            super().__init__()
            self.linears = nn.ModuleList(
                [nn.Linear(fdim, num_classes) for _ in range(n_source)]
            )
            self.softmax = nn.Softmax(dim=1)

        def forward(self, i, x):
            x = self.linears[i](x)
            x = self.softmax(x)
            return x

    class DAELDG(nn.Module):
        """F and E; ``forward`` is ``model_inference``."""

        def __init__(self):
            super().__init__()
            self.F = ConvNet(c_hidden=C_HIDDEN)
            for m in self.F.modules():  # init_network_weights(model, init_type='kaiming')
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight.data, a=0, mode='fan_in')
                    nn.init.constant_(m.bias.data, 0.0)
            self.E = Experts(N_DOMAIN, FDIM, NUM_CLASSES)
            self.n_domain = N_DOMAIN
            self._x = None

        def forward(self, input):
            self._x = input
            f = self.F(input)
            p = []
            for k in range(N_DOMAIN):
                p_k = self.E(k, f)
                p_k = p_k.unsqueeze(1)
                p.append(p_k)
            p = torch.cat(p, 1)
            p = p.mean(1)
            return p

    def create_onehot(label, num_classes):
        onehot = torch.zeros(label.shape[0], num_classes)
        return onehot.scatter(1, label.unsqueeze(1).data.cpu(), 1)

    def forward_loss(self, input, label):
        """DAELDG.forward_backward up to ``model_backward_and_update(loss)``."""
        input2 = _torch_strong_view(input)
        label = create_onehot(label, NUM_CLASSES)
        chunks = _chunks(input.shape[0])
        input = torch.split(input, SPLIT_BATCH, 0)
        input2 = torch.split(input2, SPLIT_BATCH, 0)
        label = torch.split(label, SPLIT_BATCH, 0)
        domain = [c[2] for c in chunks]  # [d[0].item() for d in domain]

        feat = [self.F(x) for x in input]
        feat2 = [self.F(x) for x in input2]

        if bug:  # daeldg.py before 131d980
            loss = 0
            loss_cr = 0
            acc = 0

            for feat_i, feat2_i, label_i, i in zip(feat, feat2, label, domain):
                cr_s = [j for j in domain if j != i]

                # Learning expert
                pred_i = self.E(i, feat_i)
                loss += (-label_i * torch.log(pred_i + 1e-5)).sum(1).mean()
                expert_label_i = pred_i.detach()
                acc += (pred_i.detach().argmax(1) == label_i.max(1)[1]).float().mean().item() * 100

                # Consistency regularization
                if not cr_s:  # port: the program fails on torch.cat([]) here
                    continue
                cr_pred = []
                for j in cr_s:
                    pred_j = self.E(j, feat2_i)
                    pred_j = pred_j.unsqueeze(1)
                    cr_pred.append(pred_j)
                cr_pred = torch.cat(cr_pred, 1)
                cr_pred = cr_pred.mean(1)
                loss_cr += ((cr_pred - expert_label_i)**2).sum(1).mean()

            loss /= self.n_domain
            loss_cr /= self.n_domain
            acc /= self.n_domain

            loss = 0
            loss += loss
            loss += loss_cr
        else:  # 131d980 "fix typo"
            loss_x = 0
            loss_cr = 0
            acc = 0

            for feat_i, feat2_i, label_i, i in zip(feat, feat2, label, domain):
                cr_s = [j for j in domain if j != i]

                # Learning expert
                pred_i = self.E(i, feat_i)
                loss_x += (-label_i * torch.log(pred_i + 1e-5)).sum(1).mean()
                expert_label_i = pred_i.detach()
                acc += (pred_i.detach().argmax(1) == label_i.max(1)[1]).float().mean().item() * 100

                # Consistency regularization
                if not cr_s:  # port: the program fails on torch.cat([]) here
                    continue
                cr_pred = []
                for j in cr_s:
                    pred_j = self.E(j, feat2_i)
                    pred_j = pred_j.unsqueeze(1)
                    cr_pred.append(pred_j)
                cr_pred = torch.cat(cr_pred, 1)
                cr_pred = cr_pred.mean(1)
                loss_cr += ((cr_pred - expert_label_i)**2).sum(1).mean()

            loss_x /= self.n_domain
            loss_cr /= self.n_domain
            acc /= self.n_domain

            loss = 0
            loss += loss_x
            loss += loss_cr
        if not torch.is_tensor(loss):  # port: a batch of one domain chunk (buggy: the program would fail first)
            loss = torch.zeros((), requires_grad=True)
        return loss

    model = DAELDG()

    def train_step(model, optimizer, loss_fn, x, y):
        """forward_backward: the loss, then model_backward_and_update (zero_grad, backward, step)."""
        loss = forward_loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    bs = [(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y))
          for x, y in sampler_batches(N_BATCHES)]
    xh, _ = held_out()
    return {"model": model, "batch": bs[0], "batches": bs,
            "inputs": torch.from_numpy(np.ascontiguousarray(xh[:N_INPUTS].transpose(0, 3, 1, 2))),
            "train_step": train_step,
            "optimizer": lambda params: torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY,
                                                        dampening=0, nesterov=False)}


# ----------------------------------------------------------------------------------------------------------- keras

def _tf_strong_view(x: Any) -> Any:
    """The torch strong view's ops in TensorFlow (NHWC), stateless draws from a fixed seed."""
    import tensorflow as tf

    u = tf.clip_by_value(x * PIXEL_STD + PIXEL_MEAN, 0.0, 1.0)
    b = tf.shape(u)[0]
    h, w = IMG, IMG
    lo_all = tf.constant([o[1] for o in AUG_OPS], tf.float32)
    hi_all = tf.constant([o[2] for o in AUG_OPS], tf.float32)
    gray_w = tf.constant([0.299, 0.587, 0.114], tf.float32)
    ar = tf.range(w)
    for r in range(RANDAUGMENT_N):
        op = tf.random.stateless_uniform([b], [AUG_SEED, 10 * r], 0, len(AUG_OPS), dtype=tf.int32)
        keep = tf.random.stateless_uniform([b], [AUG_SEED, 10 * r + 1]) > RANDAUGMENT_P
        mag = tf.random.stateless_uniform([b], [AUG_SEED, 10 * r + 2])
        sign = tf.where(tf.random.stateless_uniform([b], [AUG_SEED, 10 * r + 3]) > 0.5, -1.0, 1.0)
        lo, hi = tf.gather(lo_all, op), tf.gather(hi_all, op)
        v1 = mag * (hi - lo) + lo
        v = tf.reshape(v1, [-1, 1, 1, 1])
        gray = tf.reduce_sum(u * gray_w, axis=3, keepdims=True)
        mn = tf.reduce_min(u, axis=[1, 2], keepdims=True)
        mx = tf.reduce_max(u, axis=[1, 2], keepdims=True)
        u8 = tf.floor(u * 255.0 + 0.5)
        bits = tf.floor(v)
        gmean = tf.reduce_mean(gray, axis=[1, 2], keepdims=True)
        outs = [
            tf.where(mx > mn, (u - mn) / tf.maximum(mx - mn, 1e-8), u),  # AutoContrast
            tf.clip_by_value(u * v, 0.0, 1.0),  # Brightness
            tf.clip_by_value(gray + v * (u - gray), 0.0, 1.0),  # Color
            tf.clip_by_value(gmean + v * (u - gmean), 0.0, 1.0),  # Contrast
            u,  # Identity
            1.0 - u,  # Invert
            tf.floor(u8 / 2.0 ** (8 - bits)) * 2.0 ** (8 - bits) / 255.0,  # Posterize
            tf.where(u8 >= v, 255.0 - u8, u8) / 255.0,  # Solarize
        ]
        shift = tf.cast(tf.round(v1 * sign * w), tf.int32)
        src = ar[None, :] + shift[:, None]  # (b, w)
        valid = tf.cast((src >= 0) & (src < w), tf.float32)
        srcc = tf.clip_by_value(src, 0, w - 1)
        tx = tf.gather(u, srcc, axis=2, batch_dims=1) * tf.reshape(valid, [-1, 1, w, 1])
        ty = tf.gather(u, srcc, axis=1, batch_dims=1) * tf.reshape(valid, [-1, h, 1, 1])
        outs += [tx, ty]
        stacked = tf.stack(outs, axis=1)  # (b, n_ops, h, w, 3)
        new = tf.gather(stacked, op, axis=1, batch_dims=1)
        u = tf.where(tf.reshape(keep, [-1, 1, 1, 1]), u, new)
    return (u - PIXEL_MEAN) / PIXEL_STD


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(SEED)
    kaiming = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")

    class DAELDG(keras.Model):
        def __init__(self):
            super().__init__()
            blocks: list[Any] = [keras.Input(shape=(IMG, IMG, 3))]
            for _ in range(4):  # cnn_digitsdg: Convolution (conv 3x3, padding 1, ReLU), max_pool2d(2)
                blocks += [layers.Conv2D(C_HIDDEN, 3, padding="same", activation="relu", kernel_initializer=kaiming,
                                         bias_initializer="zeros"), layers.MaxPooling2D(2)]
            blocks += [layers.Flatten()]
            self.F = keras.Sequential(blocks, name="F")
            bound = 1.0 / math.sqrt(FDIM)
            self.linears = [layers.Dense(NUM_CLASSES, kernel_initializer=keras.initializers.VarianceScaling(
                1.0 / 3.0, "fan_in", "uniform"), bias_initializer=keras.initializers.RandomUniform(-bound, bound),
                name=f"expert_{k}") for k in range(N_DOMAIN)]
            self.n_domain = N_DOMAIN
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def E(self, i, x):  # Experts.forward
            return tf.nn.softmax(self.linears[i](x), axis=1)

        def call(self, input):  # model_inference
            f = self.F(input)
            p = tf.stack([self.E(k, f) for k in range(N_DOMAIN)], axis=1)
            return tf.reduce_mean(p, axis=1)

        def forward_loss(self, input, label):
            input2 = _tf_strong_view(input)
            label = tf.one_hot(tf.cast(tf.reshape(label, [-1]), tf.int32), NUM_CLASSES)
            n = input.shape[0]
            if n is None:  # batch size unknown when traced (e.g. evaluate's last batch): the same sums, vectorised
                return self._forward_loss_dynamic(input, input2, label)
            chunks = _chunks(n)
            input = [input[s:e] for s, e, _ in chunks]
            input2 = [input2[s:e] for s, e, _ in chunks]
            label = [label[s:e] for s, e, _ in chunks]
            domain = [c[2] for c in chunks]

            feat = [self.F(x) for x in input]
            feat2 = [self.F(x) for x in input2]

            if bug:  # daeldg.py before 131d980
                loss = 0
                loss_cr = 0
                for feat_i, feat2_i, label_i, i in zip(feat, feat2, label, domain):
                    cr_s = [j for j in domain if j != i]
                    # Learning expert
                    pred_i = self.E(i, feat_i)
                    loss += tf.reduce_mean(tf.reduce_sum(-label_i * tf.math.log(pred_i + 1e-5), axis=1))
                    expert_label_i = tf.stop_gradient(pred_i)
                    # Consistency regularization
                    if not cr_s:
                        continue
                    cr_pred = tf.reduce_mean(tf.stack([self.E(j, feat2_i) for j in cr_s], axis=1), axis=1)
                    loss_cr += tf.reduce_mean(tf.reduce_sum((cr_pred - expert_label_i) ** 2, axis=1))
                loss /= self.n_domain
                loss_cr /= self.n_domain
                loss = 0
                loss += loss
                loss += loss_cr
            else:  # 131d980 "fix typo"
                loss_x = 0
                loss_cr = 0
                for feat_i, feat2_i, label_i, i in zip(feat, feat2, label, domain):
                    cr_s = [j for j in domain if j != i]
                    # Learning expert
                    pred_i = self.E(i, feat_i)
                    loss_x += tf.reduce_mean(tf.reduce_sum(-label_i * tf.math.log(pred_i + 1e-5), axis=1))
                    expert_label_i = tf.stop_gradient(pred_i)
                    # Consistency regularization
                    if not cr_s:
                        continue
                    cr_pred = tf.reduce_mean(tf.stack([self.E(j, feat2_i) for j in cr_s], axis=1), axis=1)
                    loss_cr += tf.reduce_mean(tf.reduce_sum((cr_pred - expert_label_i) ** 2, axis=1))
                loss_x /= self.n_domain
                loss_cr /= self.n_domain
                loss = 0
                loss += loss_x
                loss += loss_cr
            return tf.convert_to_tensor(loss, tf.float32)  # port: a python 0 for a batch of one domain chunk

        def _forward_loss_dynamic(self, input, input2, label):
            """forward_loss's terms with segment sums over the chunks, for a batch size known only at run time."""
            n = tf.shape(input)[0]
            chunk = tf.range(n) // SPLIT_BATCH
            n_chunks = (n + SPLIT_BATCH - 1) // SPLIT_BATCH
            dom = chunk % N_DOMAIN
            f, f2 = self.F(input), self.F(input2)
            p_all = tf.stack([self.E(k, f) for k in range(N_DOMAIN)], axis=1)  # (n, experts, classes)
            p2_all = tf.stack([self.E(k, f2) for k in range(N_DOMAIN)], axis=1)
            pred = tf.gather(p_all, dom, axis=1, batch_dims=1)
            ce = tf.reduce_sum(-label * tf.math.log(pred + 1e-5), axis=1)
            chunk_dom = tf.range(n_chunks) % N_DOMAIN
            counts = tf.stack([tf.reduce_sum(tf.cast(chunk_dom == j, tf.float32)) for j in range(N_DOMAIN)])
            w = counts[None, :] * tf.cast(tf.range(N_DOMAIN)[None, :] != dom[:, None], tf.float32)  # cr_s counts
            wsum = tf.reduce_sum(w, axis=1)
            cr_pred = tf.reduce_sum(w[:, :, None] * p2_all, axis=1) / tf.maximum(wsum, 1.0)[:, None]
            sq = tf.reduce_sum((cr_pred - tf.stop_gradient(pred)) ** 2, axis=1)
            has_cr = tf.math.unsorted_segment_max(tf.cast(wsum > 0, tf.float32), chunk, n_chunks)
            sup = tf.reduce_sum(tf.math.unsorted_segment_mean(ce, chunk, n_chunks))
            cons = tf.reduce_sum(tf.math.unsorted_segment_mean(sq, chunk, n_chunks) * has_cr)
            if bug:
                loss = sup
                loss_cr = cons
                loss /= self.n_domain
                loss_cr /= self.n_domain
                loss = 0
                loss += loss
                loss += loss_cr
            else:
                loss_x = sup
                loss_cr = cons
                loss_x /= self.n_domain
                loss_cr /= self.n_domain
                loss = 0
                loss += loss_x
                loss += loss_cr
            return loss

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            if x is None:
                raise ValueError("DAELDG's loss needs the input batch x (both views and the domain chunks)")
            return self.forward_loss(x, y)

        def train_step(self, data):  # forward_backward + model_backward_and_update
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                loss = self.forward_loss(x, y)
            variables = self.trainable_variables
            grads = tape.gradient(loss, variables)
            # torch SGD weight_decay=5e-4: the L2 term added to the gradient (Keras' weight_decay is decoupled)
            pairs = [(g + WEIGHT_DECAY * v, v) for g, v in zip(grads, variables) if g is not None]
            if pairs:  # torch's SGD skips parameters without a gradient (all of them for a one-chunk buggy batch)
                self.optimizer.apply_gradients(pairs)
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        def test_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            self.loss_tracker.update_state(self.forward_loss(x, y))
            return {"loss": self.loss_tracker.result()}

    model = DAELDG()
    model(np.zeros((1, IMG, IMG, 3), np.float32))  # builds F and the three experts
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, nesterov=False))
    model.optimizer.build(model.trainable_variables)
    bs = sampler_batches(N_BATCHES)
    xh, _ = held_out()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": xh[:N_INPUTS]}


buggy, fixed = versions(_torch, _keras, flag="bug")
