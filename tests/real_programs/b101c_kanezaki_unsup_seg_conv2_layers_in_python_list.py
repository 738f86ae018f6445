"""kanezaki/pytorch-unsupervised-segmentation ``demo.py`` (the code of Kanezaki, "Unsupervised Image Segmentation by
Backpropagation", ICASSP 2018): a small fully convolutional net ``MyNet`` (``conv1`` 3x3 3 -> 100, ReLU, BatchNorm;
``nConv - 1`` blocks ``conv2[i]`` 3x3 100 -> 100, ReLU, ``bn2[i]``; ``conv3`` 1x1 100 -> 100, ``bn3``) is trained on
ONE image (``cv2.imread``, BGR, /255, a batch of one) for up to ``maxIter = 1000`` iterations with
``optim.SGD(model.parameters(), lr=0.1, momentum=0.9)``. Each iteration takes the per-pixel argmax over the 100
output channels as the label map, refines it with SLIC superpixels (``segmentation.slic(im, compactness=100,
n_segments=10000)``: every superpixel gets its most frequent label) and minimises ``nn.CrossEntropyLoss`` between
the output and that refined map; it stops once ``nLabels <= minLabels = 3``. Defaults: ``nChannel=100``, ``nConv=2``.

The fault: ``MyNet.__init__`` keeps the middle convolution and batch-norm layers in plain Python lists, ``self.conv2 =
[]`` / ``self.bn2 = []``, filled by ``append``. ``nn.Module`` registers only sub-modules assigned as attributes (or
held by ``nn.ModuleList``), so ``conv2[0]`` / ``bn2[0]`` are used in ``forward`` but are not part of
``model.parameters()``: the optimizer never sees them, and ``model.train()`` / ``model.cuda()`` / ``state_dict()``
skip them (the program called ``.cuda()`` on each of them by hand to get round the ``cuda()`` one). The 3x3 100 -> 100
convolution, the biggest layer of the net (90,100 of its 103,600 parameters), stays at its random initialisation for
the whole run and ``bn2``'s scale and shift stay at 1 and 0; only ``conv1``, ``bn1``, ``conv3`` and ``bn3`` learn.
Pull request #6 (zbyte64, "fix param collection"): "the conv and batch normalization layers were being added to a
normal list on our module instance. This prevents methods like ``train`` and ``params`` from impacting those layers.
This PR puts those layers in a ``nn.ModuleList``"; the author answered "Thanks a lot for fixing the param collection!"
and made the change herself in 878840f31866ca560337f3b56ff62ef2cae166fa "fixed param collection" (merged as PR #7,
dad0ba0): ``self.conv2 = nn.ModuleList()`` / ``self.bn2 = nn.ModuleList()`` and the per-layer ``.cuda()`` calls
removed.

Source: github.com/kanezaki/pytorch-unsupervised-segmentation ``demo.py`` at
919f1d2f1617662a461bbb6ed952110c38e988f9 (= 878840f^, the buggy version; the lists date from cf7c788 / d61b65c
"bug fixed: not to share conv2 weights" / "not to share bn layers"), fixed by
878840f31866ca560337f3b56ff62ef2cae166fa "fixed param collection" (PR #7, merge
dad0ba08d2e451e2189c884f3cbce3621bf73809), after PR #6 "fix param collection, apply black formatting".
Fault label: params_not_updated (a layer used in the forward pass is never registered, so the optimizer never
updates it).

Program lines kept: ``MyNet`` line for line (``args.nChannel = 100``, ``args.nConv = 2``, PyTorch default init),
``self.conv2 = []`` / ``self.bn2 = []`` in the buggy build and ``nn.ModuleList()`` in the fixed one (the only
difference), ``model.train()``, ``torch.nn.CrossEntropyLoss()``, ``optim.SGD(model.parameters(), lr=args.lr,
momentum=0.9)`` with ``lr = 0.1``, the input scaling ``im.transpose((2, 0, 1)).astype('float32') / 255.`` in BGR
order, and the loss computation verbatim (up to spacing): ``output = model(data)[0]``, permute / view to (pixels, 100),
``torch.max(output, 1)`` as target, the superpixel refinement loop, ``loss_fn(output, target)``.
Ported: the target is computed from the output itself, so the program's loss is a function of the output and of
the image's superpixel map alone; ``loss_fn(outputs, targets)`` here does exactly the program's steps, and the
``targets`` of a batch are that superpixel map (``labels`` from ``slic``, one id per pixel, shape (1, H*W) int64),
from which it builds ``l_inds`` as the program does. With the plain zero_grad / forward / loss / backward / step
this is the program's iteration, so no ``train_step`` is given. For a batch of several images the loss refines
each image's label map with its own superpixels and takes one cross-entropy over all their pixels (for the program's
batch of one this is the program's loss). Removed: the ``use_cuda`` branches (CPU), the visualisation and the
``nLabels <= minLabels`` early stop (it belongs to the outer loop; my measurements report nLabels).
Shrunk: the image, 64x64 instead of BSD500's 321x481 (a 38th of the pixels), so that a step takes ~40 ms on one CPU
core; the number of superpixels scaled with it (the program's 10,000 over 154,401 pixels, ~15.4 pixels each, gives 266
for 4,096 pixels; the grid below places 256). Widths and depth are not shrunk.
Data stand-in (no BSD500 image): scikit-learn's bundled photographs ``china.jpg`` and ``flower.jpg`` (427x640 RGB
uint8), averaged over 4x4 blocks (106x160, about half the size of a BSD500 image), reversed to BGR as
``cv2.imread`` returns them, and cut into 64x64 crops at seeded offsets. SLIC (scikit-image is not installed) is
replaced by its core: k-means on (y, x, colour) started from a regular grid of step S = 4 (16 x 16 centres) with
SLIC's weighting, spatial distance x compactness / S with compactness 100, and colour in RGB scaled to 0..100
instead of CIELAB, 10 iterations (skimage's ``max_num_iter``); at compactness 100 SLIC's segments are nearly the grid
cells bent along strong edges, and so are these. ``batch``: the first crop (of china.jpg) with its superpixels;
``batches``: 20 crops (10 of each photograph); ``inputs``: 64 other crops (32 of each), images only.

Measured (my own plain loops, /tmp/s59/p/b101c/measure.py, on the module's builds, torch seed 0, OMP_NUM_THREADS=1):
  the program's run (the one image of ``batch``, 300 iterations; nLabels never reached minLabels = 3), loss / nLabels
  at iterations 0, 5, 10, 20, 50, 100, 200, 299:
    buggy 3.96/100 3.24/95 2.35/72 1.02/17 0.365/12 0.220/12 0.126/11 0.078/11
    fixed 3.96/100 2.86/69 1.97/40 0.748/17 0.164/10 0.054/10 0.012/10 0.045/10
  means of 10 iterations from 0 / 10 / 20 / 50 / 100 / 200 / 290:
    buggy 3.30 1.67 0.782 0.346 0.216 0.128 0.081
    fixed 2.99 1.35 0.541 0.145 0.053 0.012 0.056
  median loss over iterations 200-299: buggy 0.095, fixed 0.012 (8x lower); the fixed run has short momentum
  spikes late on (max 0.215 there, one of them at iteration 290-299), the buggy one creeps down (max 0.135).
  conv2[0]'s weights move 0.0 in the buggy run (max |change| 0.29 in the fixed one); the optimizer holds 8 tensors
  / 13,300 numbers (buggy) vs 12 / 103,600 (fixed).
  ``batches`` (the 20 crops in turn, one SGD step each, 100 steps): mean loss over steps 0-9 / 40-49 / 90-99:
    buggy 3.55 / 0.422 / 0.167, fixed 3.38 / 0.235 / 0.128.
  Time per iteration (one 64x64 image, one thread): ~40 ms either. Build: first ~2.4 s (imports, photos,
  superpixels), later ~0.01 s. Both builds are deterministic (same initial loss 3.9608 twice).
  The fault slows the fall of the loss rather than stopping it: three of the four layers still learn, and the
  frozen random 3x3 convolution still passes on features they can use.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:kanezaki/pytorch-unsupervised-segmentation PR #6 'fix param collection, apply black formatting', "
          "fix 878840f31866ca560337f3b56ff62ef2cae166fa 'fixed param collection' (PR #7, merge dad0ba0; "
          "demo.py@919f1d2 = 878840f^)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

N_CHANNEL = 100  # args.nChannel
N_CONV = 2  # args.nConv
LR = 0.1  # args.lr
CROP = 64
GRID = 16  # SLIC stand-in: 16 x 16 initial centres on a 64 x 64 crop
COMPACTNESS = 100.0  # args.compactness
N_BATCHES = 20
N_INPUTS = 64
SEED = 0


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """china.jpg and flower.jpg, 4x4 block means, BGR uint8 (106, 160, 3), as cv2.imread would give."""
    from sklearn.datasets import load_sample_image

    out = []
    for name in ("china.jpg", "flower.jpg"):
        im = load_sample_image(name).astype("float64")
        h, w = (im.shape[0] // 4) * 4, (im.shape[1] // 4) * 4
        im = im[:h, :w].reshape(h // 4, 4, w // 4, 4, 3).mean((1, 3))
        out.append(np.round(im[..., ::-1]).astype("uint8"))
    return tuple(out)


def _superpixels(im: np.ndarray) -> np.ndarray:
    """SLIC stand-in: k-means on (y, x, colour) from a regular grid, SLIC's weighting; labels (H*W,) int64."""
    h, w, _ = im.shape
    step = h / GRID
    yy, xx = np.mgrid[0:h, 0:w].astype("float64")
    feat = np.concatenate([np.stack([yy.ravel(), xx.ravel()], 1) * (COMPACTNESS / step),
                           im.reshape(-1, 3).astype("float64") * (100.0 / 255.0)], 1)
    cy = (np.arange(GRID) + 0.5) * step
    cy, cx = np.meshgrid(cy, (np.arange(GRID) + 0.5) * (w / GRID), indexing="ij")
    idx = (np.round(cy - 0.5).astype(int) * w + np.round(cx - 0.5).astype(int)).ravel()
    centres = feat[idx].copy()
    k = len(centres)
    for _ in range(10):
        d = (centres ** 2).sum(1)[None, :] - 2.0 * feat @ centres.T  # + |feat|^2, the same for every centre
        lab = d.argmin(1)
        cnt = np.bincount(lab, minlength=k)
        sums = np.stack([np.bincount(lab, feat[:, j], minlength=k) for j in range(feat.shape[1])], 1)
        centres = np.where(cnt[:, None] > 0, sums / np.maximum(cnt, 1)[:, None], centres)
    return lab.astype("int64")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training crops (N, 3, 64, 64) float32 in BGR / 255 with their superpixel maps (N, 4096); held-out crops."""
    photos = _photos()
    r = np.random.default_rng(SEED)

    def crops(n: int) -> list[np.ndarray]:
        out = []
        for i in range(n):
            im = photos[i % 2] if n == N_INPUTS else photos[i // (n // 2)]
            y0 = int(r.integers(0, im.shape[0] - CROP + 1))
            x0 = int(r.integers(0, im.shape[1] - CROP + 1))
            out.append(im[y0:y0 + CROP, x0:x0 + CROP])
        return out

    train, held = crops(N_BATCHES), crops(N_INPUTS)
    x = np.stack([im.transpose((2, 0, 1)).astype("float32") / 255. for im in train])
    sp = np.stack([_superpixels(im) for im in train])
    xh = np.stack([im.transpose((2, 0, 1)).astype("float32") / 255. for im in held])
    return x, sp, xh


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class args:  # the argparse defaults of demo.py that the model and optimizer read
        nChannel = N_CHANNEL
        nConv = N_CONV
        lr = LR

    # CNN model
    class MyNet(nn.Module):
        def __init__(self, input_dim):
            super(MyNet, self).__init__()
            self.conv1 = nn.Conv2d(input_dim, args.nChannel, kernel_size=3, stride=1, padding=1)
            self.bn1 = nn.BatchNorm2d(args.nChannel)
            if fixed:  # 878840f: nn.ModuleList registers the layers
                self.conv2 = nn.ModuleList()
                self.bn2 = nn.ModuleList()
            else:  # the fault: plain Python lists, invisible to parameters() / train() / cuda()
                self.conv2 = []
                self.bn2 = []
            for i in range(args.nConv - 1):
                self.conv2.append(nn.Conv2d(args.nChannel, args.nChannel, kernel_size=3, stride=1, padding=1))
                self.bn2.append(nn.BatchNorm2d(args.nChannel))
            self.conv3 = nn.Conv2d(args.nChannel, args.nChannel, kernel_size=1, stride=1, padding=0)
            self.bn3 = nn.BatchNorm2d(args.nChannel)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.bn1(x)
            for i in range(args.nConv - 1):
                x = self.conv2[i](x)
                x = F.relu(x)
                x = self.bn2[i](x)
            x = self.conv3(x)
            x = self.bn3(x)
            return x

    torch.manual_seed(SEED)
    model = MyNet(3)
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    def seg_loss(outputs, sp_labels):
        """The program's loss: argmax labels, refined per superpixel, as the cross-entropy target."""
        outs, targets = [], []
        for n in range(outputs.shape[0]):
            output = outputs[n]  # output = model( data )[ 0 ]
            output = output.permute(1, 2, 0).contiguous().view(-1, args.nChannel)
            ignore, target = torch.max(output, 1)
            im_target = target.data.cpu().numpy()
            labels = sp_labels[n].cpu().numpy()
            u_labels = np.unique(labels)
            l_inds = []
            for i in range(len(u_labels)):
                l_inds.append(np.where(labels == u_labels[i])[0])
            # superpixel refinement
            for i in range(len(l_inds)):
                labels_per_sp = im_target[l_inds[i]]
                u_labels_per_sp = np.unique(labels_per_sp)
                hist = np.zeros(len(u_labels_per_sp))
                for j in range(len(hist)):
                    hist[j] = len(np.where(labels_per_sp == u_labels_per_sp[j])[0])
                im_target[l_inds[i]] = u_labels_per_sp[np.argmax(hist)]
            outs.append(output)
            targets.append(torch.from_numpy(im_target))
        return loss_fn(torch.cat(outs), torch.cat(targets))

    x, sp, xh = _data()
    xt, st = torch.tensor(x), torch.tensor(sp)
    batches = [(xt[i:i + 1], st[i:i + 1]) for i in range(len(xt))]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": seg_loss, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
