"""open-mmlab/mmselfsup (OpenMMLab's self-supervised learning toolbox), SimCLR as refactored in December 2021
(``mmselfsup/models/algorithms/simclr.py``): a ResNet-50 backbone, a ``NonLinearNeck`` (fc-bn-relu-fc-bn, 2048 -> 2048
-> 128), L2-normalised projections, and a ``ContrastiveHead(temperature=0.1)`` (cross-entropy over the logits
``cat(pos, neg) / T`` with target 0, i.e. the positive in column 0), trained with LARS (lr 0.3, momentum 0.9,
weight decay 1e-6; BN weights and biases excluded from decay and from the LARS scaling), 32 images a GPU on 8 GPUs
(``simclr_resnet50_8xb32-coslr-200e_in1k.py``), two augmented views of every image (``MultiViewDataset``,
``num_views=[2]``: RandomResizedCrop, flip, colour jitter p 0.8, grayscale p 0.2, blur p 0.5, ImageNet Normalize).

The fault (``forward_train``): the two views arrive as a list ``[view1 (N,C,H,W), view2 (N,C,H,W)]`` and are joined
with ``img = torch.cat(img)``, so the rows of ``z`` are ``view1 of images 0..N-1, then view2 of images 0..N-1``. But
``_create_buffer`` builds ``pos_ind`` for an INTERLEAVED layout (rows 2k and 2k+1 = the two views of image k: after
the diagonal is removed, column 2k of rows 2k and 2k+1 is the partner). With the concatenated layout the "positive"
of row 2k is view 1 of image 2k+1 and that of row 2k+1 is view 1 of image 2k: two DIFFERENT images, while the true
partner (row i+N) sits among the negatives. The loss therefore pulls unrelated images together and pushes the two
views of the same image apart: the pairing labels of the contrastive task point at the wrong samples. On random
batches the "positive" is a random other image, so the best the network can do is make all embeddings alike: the
loss sits at log(2N-1) and the representation collapses. Issue #159 (lzyhha): the images are concatenated in the
order 0 1 ... N-1 0 1 ... N-1, so the positive indexes should be N-1 N ... 0 1 ..., but the code uses 0 0 2 2 4 4
...; the maintainer (fangyixiao18): "it is actually a bug and I also find it today while training simclr for its
training logs. It will be fixed soon!". Fix c545e479 "[Fix] fix data format in simclr" (in #161): ``img =
torch.stack(img, 1)`` and ``img = img.reshape((img.size(0) * 2, img.size(2), img.size(3), img.size(4)))``, i.e.
interleave the views as ``_create_buffer`` expects.
Fault label: label_mapping_mismatch|batch_mixing (the positive-pair index points at another image's view because the
batch rows are laid out differently from what the loss assumes).

Source: github.com/open-mmlab/mmselfsup ``mmselfsup/models/algorithms/simclr.py`` at c545e479^ (introduced by the
refactor 3e7f482c), fixed by c545e479cc8e778baf36198bd73c329ee237a512 (merged as f06c3c3d, PR #161), issue #159.
Program lines kept verbatim: ``_create_buffer`` (less ``.cuda()``), the body of ``forward_train`` (``torch.cat(img)``
in the buggy build, the stack + reshape in the fixed one; ``extract_feat``, ``self.neck(x)[0]``, the L2 division
with 1e-10, ``s = z z^T``, the masked selects, ``positive = s[pos_ind]``), ``ContrastiveHead`` and ``NonLinearNeck``
as written (``build_norm_layer(SyncBN)`` -> ``nn.BatchNorm1d``: one process), the ``LARS`` optimizer class of
``mmselfsup/core/optimizer/optimizers.py`` (argument checks dropped) with the config's lr 0.3, momentum 0.9, weight
decay 1e-6 and its paramwise options (regexes ``(bn|gn)(\\d+)?.(weight|bias)`` and ``bias``: weight_decay 0,
lars_exclude), temperature 0.1, 32 images a batch (one GPU's share of 8xb32).
Shrunk / replaced: ResNet-50 -> a 3-conv stem (3 -> 16 -> 32 -> 64 channels, BN + ReLU, kaiming fan_out init like
ResNet's convs) returning a 1-tuple as ``out_indices=[4]`` does; neck widths 64 -> 128 -> 128 (was 2048 -> 2048 ->
128); images 16x16 (was 224). ``GatherLayer`` dropped: on one process it returns ``z`` itself (on 8 GPUs the bug is
the same in every GPU's block). The cosine schedule with 10 warm-up epochs (lr from 0.3e-4) is dropped: the base lr
is used from step 0. Interface: ``model(x)`` takes x of shape (N, 2, 3, 16, 16) (MultiViewDataset's two views,
split back into the list of two (N, C, H, W) tensors inside ``forward``) and returns the normalised ``z`` (2N, 128)
in the program's row order; ``loss_fn(z, y)`` is the rest of ``forward_train`` + the head. ``y`` holds the digit
labels of the images, which SimCLR never reads (the head builds its own zero targets).
Data stand-in (no ImageNet): scikit-learn's 8x8 digits blown up 2x2 to 16x16, padded to 20x20 and coloured (random
foreground and background RGB per draw), then two independent views each: a random 12..16 px crop resized to 16
(nearest), flip p 0.5, brightness / contrast / saturation jitter x0.2..1.8 with p 0.8 (channel permutation 30% of
the time as a crude hue change), grayscale p 0.2, a 5-point blur p 0.5, then ``Normalize`` with ImageNet's mean /
std. ``batches``: 100 distinct batches of 32 pairs (training images from the first 1500 digits); ``batch``: the
first; ``inputs``: 128 held-out pairs (digits 1500..1796).

Measured (my own plain loop, /tmp/s53/h86_c/measure.py on the module's builds: zero_grad / model / loss_fn /
backward / LARS step over the 100 ``batches`` in order, cycled, 600 steps; torch seed 0, OMP_NUM_THREADS=1):
  training loss (the program's own loss), means of 60-step blocks (log(2N-1) = log 63 = 4.143):
    buggy 5.34 4.15 4.14 4.14 4.13 4.12 4.12 4.10 4.10 4.08: pinned at log 63, the value of identical embeddings;
    fixed 4.86 3.95 3.89 3.82 3.80 3.74 3.67 3.69 3.58 3.60: keeps falling below it.
  on the 128 held-out pairs (BN in training mode, as the loss sees it), init -> after 600 steps:
    mean cosine of the two views of one image / of two different images: init 0.14 / 0.02; buggy 0.92 / 0.92
      (collapsed: every image gets nearly the same embedding); fixed 0.77 / 0.64 (own views closer);
    the correctly paired SimCLR loss over the 256 views (chance log 255 = 5.54): init 8.06, buggy 5.57, fixed 4.94;
    is a view's nearest neighbour among the 255 others its own partner: init 5.5 %, buggy 0.8 %, fixed 10.5 %.
  A logistic-regression probe of the backbone's pooled features for the digit class (2000 training images, 128
    held out) is low for all on this tiny stand-in (init 0.19, buggy 0.13, fixed 0.16): not a usable signal here.
  One batch repeated for 150 steps: buggy 7.08 -> 2.11 -> 0.016 -> 0.004 (steps 0 / 10 / 50 / 149), fixed 6.67 ->
    2.24 -> 0.024 -> 0.004: within one fixed batch the wrong pairs are a fixed labelling the network can memorise,
    so memorising one batch does not tell the two apart; the fault shows over many batches, where the wrong
    "positive" is a different random image each time.
  Loss at init on ``batch``: buggy 7.08, fixed 6.67 (both far above log 63 at temperature 0.1); every parameter
    gets a non-zero gradient in both. Time per step (32 pairs, one thread): ~24 ms buggy, ~26 ms fixed; build: first
    ~10-13 s (torch import, drawing the 6,656 augmented pairs), later ~0.03 s.

Lead's edit: ``forward`` returns the (2N, d) embeddings viewed as (N, 2, d) — rows 2k and 2k+1 as output k, in the
program's row order — and ``loss_fn`` views them back before the contrastive head, so the model gives one output
row per input sample as the corpus asks; what is computed, and the fault, are unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "label_mapping_mismatch|batch_mixing"
SOURCE = ("github:open-mmlab/mmselfsup issue #159 'A problem with simclr implementation', fix c545e479cc8e778baf36198b"
          "d73c329ee237a512 '[Fix] fix data format in simclr' (merged in #161, "
          "f06c3c3d98cbcae4b2cc7970c8f06b61f6c97022)"
          " (mmselfsup/models/algorithms/simclr.py SimCLR._create_buffer / forward_train @c545e479^, "
          "models/heads/contrastive_head.py, models/necks/nonlinear_neck.py, core/optimizer/optimizers.py LARS, "
          "configs/selfsup/simclr/simclr_resnet50_8xb32-coslr-200e_in1k.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

BATCH_SIZE = 32  # imgs_per_gpu=32 (8xb32 config); one process, so GatherLayer gathers nothing
LR = 0.3  # LARS lr=0.3, momentum=0.9, weight_decay=1e-6 (simclr_resnet50_8xb32-coslr-200e_in1k.py)
TEMPERATURE = 0.1
MEAN = np.array([0.485, 0.456, 0.406], "float32")  # img_norm_cfg of imagenet_simclr.py
STD = np.array([0.229, 0.224, 0.225], "float32")
SIZE = 16
N_BATCHES = 100
N_INPUTS = 128
SEED = 0


def _augment(img: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """One random view of a (3, 20, 20) float image in 0..1: crop, flip, colour jitter (p 0.8), grayscale
    (p 0.2), blur (p 0.5), as the SimCLR train_pipeline does, on a small scale."""
    s = int(r.integers(12, 17))  # RandomResizedCrop: a crop of 12..16 px resized to 16
    y0, x0 = r.integers(0, 21 - s, 2)
    crop = img[:, y0:y0 + s, x0:x0 + s]
    idx = (np.arange(SIZE) * s / SIZE).astype(int)
    v = crop[:, idx][:, :, idx]
    if r.random() < 0.5:  # RandomHorizontalFlip
        v = v[:, :, ::-1]
    if r.random() < 0.8:  # ColorJitter(0.8, 0.8, 0.8, 0.2), roughly
        v = v * r.uniform(0.2, 1.8)
        m = v.mean()
        v = (v - m) * r.uniform(0.2, 1.8) + m
        g = v.mean(0, keepdims=True)
        v = (v - g) * r.uniform(0.2, 1.8) + g
        v = v[r.permutation(3)] if r.random() < 0.3 else v  # a crude hue change
    if r.random() < 0.2:  # RandomGrayscale
        v = np.repeat(v.mean(0, keepdims=True), 3, 0)
    if r.random() < 0.5:  # GaussianBlur
        v = (v + np.roll(v, 1, 1) + np.roll(v, -1, 1) + np.roll(v, 1, 2) + np.roll(v, -1, 2)) / 5
    return np.clip(v, 0, 1)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two augmented, ImageNet-normalised views (n, 2, 3, 16, 16) of coloured digits, and the digit labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 2, 3, SIZE, SIZE), "float32")
    for i, k in enumerate(src):
        dig = np.pad(np.kron(d.images[k] / 16.0, np.ones((2, 2))), 2)  # 20x20 in 0..1
        fg, bg = r.uniform(0.3, 1.0, 3), r.uniform(0.0, 0.4, 3)
        img = bg[:, None, None] * (1 - dig) + fg[:, None, None] * dig
        for j in range(2):
            xs[i, j] = _augment(img, r)
    xs = (xs - MEAN[:, None, None]) / STD[:, None, None]  # ToTensor + Normalize(**img_norm_cfg)
    y = d.target[src].astype("int64")
    return xs[:n_tr], y[:n_tr], xs[n_tr:], y[n_tr:]


def _build(stack_views: bool) -> dict[str, Any]:
    import re

    import torch
    import torch.nn as nn
    from torch.optim.optimizer import Optimizer, required

    class LARS(Optimizer):  # mmselfsup/core/optimizer/optimizers.py, as written
        def __init__(self, params, lr=required, momentum=0, weight_decay=0, dampening=0, eta=0.001,
                     nesterov=False, eps=1e-8):
            defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                            nesterov=nesterov, eta=eta)
            self.eps = eps
            super(LARS, self).__init__(params, defaults)

        @torch.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                weight_decay = group['weight_decay']
                momentum = group['momentum']
                dampening = group['dampening']
                eta = group['eta']
                nesterov = group['nesterov']
                lr = group['lr']
                lars_exclude = group.get('lars_exclude', False)
                for p in group['params']:
                    if p.grad is None:
                        continue
                    d_p = p.grad
                    if lars_exclude:
                        local_lr = 1.
                    else:
                        weight_norm = torch.norm(p).item()
                        grad_norm = torch.norm(d_p).item()
                        if weight_norm != 0 and grad_norm != 0:
                            # Compute local learning rate for this layer
                            local_lr = eta * weight_norm / \
                                (grad_norm + weight_decay * weight_norm + self.eps)
                        else:
                            local_lr = 1.
                    actual_lr = local_lr * lr
                    d_p = d_p.add(p, alpha=weight_decay).mul(actual_lr)
                    if momentum != 0:
                        param_state = self.state[p]
                        if 'momentum_buffer' not in param_state:
                            buf = param_state['momentum_buffer'] = \
                                torch.clone(d_p).detach()
                        else:
                            buf = param_state['momentum_buffer']
                            buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                        if nesterov:
                            d_p = d_p.add(buf, alpha=momentum)
                        else:
                            d_p = buf
                    p.add_(-d_p)
            return loss

    class SmallResNetStem(nn.Module):  # stands in for ResNet-50 (out_indices=[4]): returns a 1-tuple of maps
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(32)
            self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
            self.bn3 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.relu(self.bn2(self.conv2(x)))
            x = self.relu(self.bn3(self.conv3(x)))
            return (x,)

    class NonLinearNeck(nn.Module):  # mmselfsup/models/necks/nonlinear_neck.py; SyncBN on one process = BN
        def __init__(self, in_channels, hid_channels, out_channels, num_layers=2, with_bias=False,
                     with_last_bn=True, with_last_bn_affine=True, with_last_bias=False, with_avg_pool=True):
            super(NonLinearNeck, self).__init__()
            self.with_avg_pool = with_avg_pool
            if with_avg_pool:
                self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.relu = nn.ReLU(inplace=True)
            self.fc0 = nn.Linear(in_channels, hid_channels, bias=with_bias)
            self.bn0 = nn.BatchNorm1d(hid_channels)
            self.fc_names = []
            self.bn_names = []
            for i in range(1, num_layers):
                this_channels = out_channels if i == num_layers - 1 \
                    else hid_channels
                if i != num_layers - 1:
                    self.add_module(f'fc{i}', nn.Linear(hid_channels, this_channels, bias=with_bias))
                    self.add_module(f'bn{i}', nn.BatchNorm1d(this_channels))
                    self.bn_names.append(f'bn{i}')
                else:
                    self.add_module(f'fc{i}', nn.Linear(hid_channels, this_channels, bias=with_last_bias))
                    if with_last_bn:
                        self.add_module(f'bn{i}', nn.BatchNorm1d(this_channels, affine=with_last_bn_affine))
                        self.bn_names.append(f'bn{i}')
                    else:
                        self.bn_names.append(None)
                self.fc_names.append(f'fc{i}')

        def forward(self, x):
            assert len(x) == 1
            x = x[0]
            if self.with_avg_pool:
                x = self.avgpool(x)
            x = x.view(x.size(0), -1)
            x = self.fc0(x)
            x = self.bn0(x)
            for fc_name, bn_name in zip(self.fc_names, self.bn_names):
                fc = getattr(self, fc_name)
                x = self.relu(x)
                x = fc(x)
                if bn_name is not None:
                    bn = getattr(self, bn_name)
                    x = bn(x)
            return [x]

    class ContrastiveHead(nn.Module):  # mmselfsup/models/heads/contrastive_head.py, as written
        def __init__(self, temperature=0.1):
            super(ContrastiveHead, self).__init__()
            self.criterion = nn.CrossEntropyLoss()
            self.temperature = temperature

        def forward(self, pos, neg):
            N = pos.size(0)
            logits = torch.cat((pos, neg), dim=1)
            logits /= self.temperature
            labels = torch.zeros((N, ), dtype=torch.long).to(pos.device)
            losses = dict()
            losses['loss'] = self.criterion(logits, labels)
            return losses

    class SimCLR(nn.Module):
        def __init__(self):
            super(SimCLR, self).__init__()
            self.backbone = SmallResNetStem()
            self.neck = NonLinearNeck(in_channels=64, hid_channels=128, out_channels=128, num_layers=2,
                                      with_avg_pool=True)
            self.head = ContrastiveHead(temperature=TEMPERATURE)

        @staticmethod
        def _create_buffer(N):
            mask = 1 - torch.eye(N * 2, dtype=torch.uint8)
            pos_ind = (torch.arange(N * 2),
                       2 * torch.arange(N, dtype=torch.long).unsqueeze(1).repeat(
                           1, 2).view(-1, 1).squeeze())
            neg_mask = torch.ones((N * 2, N * 2 - 1), dtype=torch.uint8)
            neg_mask[pos_ind] = 0
            return mask, pos_ind, neg_mask

        def extract_feat(self, img):
            x = self.backbone(img)
            return x

        def forward(self, views):  # views: (N, 2, C, H, W), collated by MultiViewDataset as a list of 2 (N, C, H, W)
            img = [views[:, 0], views[:, 1]]
            assert isinstance(img, list)
            if stack_views:  # the fix (c545e479): interleave the views, 2k and 2k+1 = the two views of image k
                img = torch.stack(img, 1)
                img = img.reshape(
                    (img.size(0) * 2, img.size(2), img.size(3), img.size(4)))
            else:  # the fault: all first views, then all second views
                img = torch.cat(img)
            x = self.extract_feat(img)  # 2n
            z = self.neck(x)[0]  # (2n)xd
            z = z / (torch.norm(z, p=2, dim=1, keepdim=True) + 1e-10)
            # z = torch.cat(GatherLayer.apply(z), dim=0) is z itself on one process; rows 2k and 2k+1 grouped as
            # output k (lead's edit: one output row per sample; loss_fn undoes it, the order unchanged)
            return z.reshape(-1, 2, z.size(1))

        def contrastive_loss(self, z):  # the rest of forward_train, as written
            assert z.size(0) % 2 == 0
            N = z.size(0) // 2
            s = torch.matmul(z, z.permute(1, 0))  # (2N)x(2N)
            mask, pos_ind, neg_mask = self._create_buffer(N)
            # remove diagonal, (2N)x(2N-1)
            s = torch.masked_select(s, mask == 1).reshape(s.size(0), -1)
            positive = s[pos_ind].unsqueeze(1)  # (2N)x1
            # select negative, (2N)x(2N-2)
            negative = torch.masked_select(s, neg_mask == 1).reshape(s.size(0), -1)
            losses = self.head(positive, negative)
            return losses

    torch.manual_seed(SEED)
    model = SimCLR()
    # paramwise_options of the config: BN weights / biases and all biases: no weight decay, no LARS scaling
    plain, excluded = [], []
    for name, p in model.named_parameters():
        if re.search('(bn|gn)(\\d+)?.(weight|bias)', name) or re.search('bias', name):
            excluded.append(p)
        else:
            plain.append(p)
    optimizer = LARS([{'params': plain}, {'params': excluded, 'weight_decay': 0., 'lars_exclude': True}],
                     lr=LR, momentum=0.9, weight_decay=1e-6)

    def loss_fn(z, y):  # y: the digit labels, which SimCLR never reads (ContrastiveHead makes its own zeros)
        return model.contrastive_loss(z.reshape(-1, z.size(-1)))['loss']

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(stack_views=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(stack_views=True)
