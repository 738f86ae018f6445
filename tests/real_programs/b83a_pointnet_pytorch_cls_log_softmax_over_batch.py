"""fxia22/pointnet.pytorch (a widely used PyTorch port of PointNet), ``pointnet/model.py`` ``PointNetCls`` trained by
``utils/train_classification.py`` on the ShapeNet part benchmark (``PartDataset(classification=True)``: 16 object
categories, clouds of ``--num_points 2500`` xyz points resampled with replacement, ``--batchSize 32``), with
``F.nll_loss(pred, target)`` on ``target[:, 0]``, ``optim.SGD(classifier.parameters(), lr=0.01, momentum=0.9)``,
``points.transpose(2, 1)`` to (B, 3, N), ``classifier.train()`` before every step, 25 epochs.

The fault (``PointNetCls.forward``): ``return F.log_softmax(x, dim=0), trans``. The log-softmax normalises every
class column over the 32 clouds of the batch instead of normalising each cloud's row over the 16 classes. The
outputs are then not per-cloud log-probabilities: ``nll_loss`` asks that cloud i score higher in the column of its
class than the other clouds of the batch do, which (a) makes each cloud's output depend on the rest of the batch,
(b) gives the class columns no common scale (the column biases of ``fc3`` get exactly zero gradient, since shifting a
column changes nothing), so the argmax over classes that ``pred.data.max(1)`` takes is never trained directly, (c)
puts a floor of log(n_c) on the loss of a class with n_c clouds in the batch, so the reported loss stays high, and
(d) makes a batch of one cloud output all zeros (log 1), i.e. class 0 for everything at inference. The loss at
initialisation is ln(32) = 3.47 instead of ln(16) = 2.77.

Source: github.com/fxia22/pointnet.pytorch. ``dim=-1`` became ``dim=0`` in 5fd9592 ("Use torch.max instead of
torch.nn.MaxPool1d", PR #18, merged 2ec315f); buggy version used here: ``pointnet/model.py`` and
``utils/train_classification.py`` at 0ce9a4b (pytorch-1.0 branch, 2018-12-17; the master copy ``pointnet.py`` at
2ec315f has the same line but its ``train_classification.py`` still passed the removed ``num_points=`` argument).
Issue #27 ("Confusion about the usage of log_softmax function"): the reporter points out that dim 0 is the batch
dimension and the log-softmax belongs on the channel dimension; the maintainer answers that it is fixed in the latest
master. Fix: PR #33, commit 1551005ad0b2733edb9806440e47ee24c8bc802b ("Softmax should be taken across each element
of the batch instead of across batch", ``dim=0`` -> ``dim=1``), merged as 610f826; the pytorch-1.0 branch got the
same change in 523f07f (which also added a dropout layer, not ported: the fix alone is ported).
Fault label: output_activation|batch_mixing (the output log-softmax normalises over the wrong axis, the batch axis,
so one cloud's output depends on the other clouds of its batch).

Program lines kept: ``STN3d``, ``PointNetfeat`` and ``PointNetCls`` as written (layers, BatchNorm, the max over
points, the identity added to the 3x3 transform, torch default init), the return line with ``dim=0`` (buggy) /
``dim=1`` (fixed), ``optim.SGD(..., lr=0.01, momentum=0.9)`` over ``classifier.parameters()``, batch size 32,
``F.nll_loss`` on the log-outputs; the training step is the plain zero_grad / forward / loss / backward / step.
Shrunk, for CPU time (one thread: the program's model at 2500 points takes ~8 s a step, at 64 points still
~0.14 s): ``--num_points`` 2500 -> 64 (the program's own option) and every hidden width divided by 4 (conv 64 / 128
/ 1024 -> 16 / 32 / 256, fully connected 512 / 256 -> 128 / 64, in STN3d as in the classifier): ~0.03-0.05 s a step.
Replaced: no ``.cuda()``; the model handed to the checks is a thin wrapper doing the loop's ``pred, _ =
classifier(points)`` (it returns the log-probabilities only; its parameters are the classifier's, over which the
optimizer is built). Ported: torch only (the fault is the ``dim`` argument of PyTorch's ``F.log_softmax`` in a
PyTorch model; no Keras version of the program exists).
Data stand-in (no ShapeNet download): seeded synthetic clouds of 16 classes whose labels are drawn with the
benchmark's category sizes (Airplane 2690, Bag 76, Cap 55, Car 898, Chair 3758, Earphone 69, Guitar 787, Knife 392,
Lamp 1547, Laptop 451, Motorbike 202, Mug 184, Pistol 283, Rocket 66, Skateboard 152, Table 5271; classes in sorted
order as ``PartDataset`` numbers them), each class a fixed set of boxes, ellipsoids and open cylinders loosely shaped
like the category (y up), points drawn on their surfaces; per cloud the primitives' centres move by N(0, 0.2), their
sizes scale by U(0.4, 1.6) per axis, the cloud by U(0.85, 1.15) per axis, N(0, 0.05) point noise, then centred
with bounding-box diagonal 1 (ShapeNet's normalisation; coordinates within +-0.5), float32, transposed to (n, 3, 64)
as the loop does; labels int64 (n,), after the loop's ``target[:, 0]``. ``batches``: 60 distinct batches of 32;
``batch``: the first; ``inputs``: 256 held-out clouds (15 of the 16 classes occur in them).

Measured (my own plain loop, /tmp/s52/h83_a/measure.py and measure2.py, on the module's builds: its 60 batches
reshuffled each epoch, 5 epochs = 300 steps, ``classifier.train()`` then zero_grad / forward / ``F.nll_loss`` /
backward / step; torch seed 0, OMP_NUM_THREADS=1; held-out figures in eval mode, batches of 32 as the program's
test loop, accuracy by ``pred.max(1)``, "CE" = cross-entropy of the ``fc3`` logits, i.e. what the model's class
scores are worth as per-cloud probabilities):
  at step 0: program loss buggy 3.47 (= ln 32) / fixed 2.73 (ln 16 = 2.77).
  training loss (program's nll), means of 30 steps: buggy 2.96 2.51 2.37 2.31 2.23 2.20 2.14 2.06 2.04 2.03
    (it cannot fall below the log(n_c) floor); fixed 1.64 1.00 0.80 0.69 0.62 0.58 0.56 0.48 0.40 0.42.
  training-batch accuracy, same blocks: buggy 0.48 0.68 0.70 0.72 0.74 0.76 0.74 0.78 0.80 0.77; fixed 0.58 0.74
    0.76 0.79 0.83 0.83 0.83 0.87 0.88 0.87.
  held-out accuracy at steps 60 / 120 / 180 / 240 / 300: buggy 0.70 0.79 0.75 0.76 0.76; fixed 0.75 0.79 0.82 0.85
    0.86; held-out CE after 300 steps buggy 1.01 / fixed 0.54.
  model seeds 0 / 1 / 2 (300 steps each): held-out accuracy buggy 0.758 / 0.781 / 0.738, fixed 0.859 / 0.824 /
    0.852; CE buggy 1.01 / 1.02 / 1.02, fixed 0.54 / 0.62 / 0.55; the same 32 held-out clouds fed one at a time:
    buggy 0.219 every seed (all outputs 0, every prediction class 0; 7 of the 32 are airplanes), fixed 0.78 / 0.81
    / 0.84. The
    class-balanced accuracy is NOT worse for the buggy model (0.58 / 0.62 / 0.52 vs 0.58 / 0.55 / 0.51): the
    per-column objective weighs rare classes up, while the fixed model mostly skips the rarest ones.
  On an easier first stand-in (centre jitter 0.04, sizes U(0.75, 1.25), noise 0.01) the buggy model was as good as
    the fixed one on held-out top-1 accuracy (0.94-0.96 vs 0.93-0.96 over 3 seeds, 180 steps) and better on
    balanced accuracy; only its loss floor (1.8 vs 0.1-0.2) and the batch-of-one collapse (0.22 vs 0.84-0.97)
    showed. Hence the harder shapes, where the untrained cross-class scale costs ~8-10 points of accuracy and
    doubles the CE. The original report is a code reading; neither the issue nor the PR gives training figures.
  Time per step (batch 32, 64 points, one thread): ~0.03-0.05 s; first build ~8 s (torch import
    ~2.5 s, data ~1.3 s, first model ~2 s), later builds ~0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation|batch_mixing"
SOURCE = ("github:fxia22/pointnet.pytorch issue #27, PR #33 (pointnet/model.py PointNetCls.forward "
          "'return F.log_softmax(x, dim=0), trans' @0ce9a4b (pytorch-1.0 branch; pointnet.py @2ec315f on master, "
          "from 5fd9592), utils/train_classification.py, pointnet/dataset.py PartDataset; fix "
          "1551005ad0b2733edb9806440e47ee24c8bc802b 'Softmax should be taken across each element of the batch "
          "instead of across batch', merge 610f826; same fix on the pytorch-1.0 branch in 523f07f)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 16}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("batch_independence", {})]

SEED = 0
BATCH_SIZE = 32  # --batchSize default
NUM_POINTS = 64  # --num_points (the program's default is 2500; shrunk for CPU time)
NUM_CLASSES = 16  # len(dataset.classes) of the ShapeNet part benchmark
LR, MOMENTUM = 0.01, 0.9  # optim.SGD(classifier.parameters(), lr=0.01, momentum=0.9)
WIDTH_DIV = 4  # every hidden width of STN3d / PointNetfeat / PointNetCls divided by 4 (CPU time)
N_BATCHES = 60
N_INPUTS = 256
JIT_C, JIT_H, NOISE = 0.2, 0.6, 0.05  # per-cloud jitter of primitive centres, sizes; point noise
# Category sizes of shapenetcore_partanno_segmentation_benchmark_v0, classes in sorted order
# (Airplane, Bag, Cap, Car, Chair, Earphone, Guitar, Knife, Lamp, Laptop, Motorbike, Mug, Pistol, Rocket,
# Skateboard, Table): the stand-in draws its labels with these frequencies.
CLASS_SIZES = (2690, 76, 55, 898, 3758, 69, 787, 392, 1547, 451, 202, 184, 283, 66, 152, 5271)

# Each class: primitives (kind, centre xyz, half-extents xyz); kind 'box', 'ell' (ellipsoid surface) or
# 'cylX' / 'cylY' / 'cylZ' (open cylinder, axis X / Y / Z). Loosely the shapes of the categories (y is up).
_TEMPLATES: tuple[tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...], ...] = (
    (("cylX", (0, 0, 0), (0.9, 0.1, 0.1)), ("box", (0.05, 0, 0), (0.2, 0.02, 0.9)),
     ("box", (-0.8, 0.15, 0), (0.08, 0.15, 0.02))),  # airplane
    (("box", (0, 0, 0), (0.5, 0.4, 0.2)), ("box", (0, 0.55, 0), (0.25, 0.03, 0.03)),
     ("box", (-0.25, 0.47, 0), (0.03, 0.08, 0.03)), ("box", (0.25, 0.47, 0), (0.03, 0.08, 0.03))),  # bag
    (("ell", (0, 0, 0), (0.45, 0.35, 0.45)), ("box", (0.45, -0.05, 0), (0.3, 0.02, 0.35))),  # cap
    (("box", (0, 0, 0), (0.9, 0.18, 0.4)), ("box", (-0.1, 0.3, 0), (0.45, 0.12, 0.36)),
     ("cylZ", (0.55, -0.2, 0.42), (0.16, 0.16, 0.05)), ("cylZ", (-0.55, -0.2, 0.42), (0.16, 0.16, 0.05)),
     ("cylZ", (0.55, -0.2, -0.42), (0.16, 0.16, 0.05)), ("cylZ", (-0.55, -0.2, -0.42), (0.16, 0.16, 0.05))),
    (("box", (0, 0, 0), (0.4, 0.04, 0.4)), ("box", (0, 0.45, -0.38), (0.4, 0.45, 0.03)),
     ("box", (0.35, -0.4, 0.35), (0.03, 0.4, 0.03)), ("box", (-0.35, -0.4, 0.35), (0.03, 0.4, 0.03)),
     ("box", (0.35, -0.4, -0.35), (0.03, 0.4, 0.03)), ("box", (-0.35, -0.4, -0.35), (0.03, 0.4, 0.03))),  # chair
    (("ell", (-0.45, -0.3, 0), (0.15, 0.25, 0.2)), ("ell", (0.45, -0.3, 0), (0.15, 0.25, 0.2)),
     ("box", (0, 0.45, 0), (0.45, 0.04, 0.06)), ("box", (-0.45, 0.1, 0), (0.04, 0.35, 0.06)),
     ("box", (0.45, 0.1, 0), (0.04, 0.35, 0.06))),  # earphone
    (("ell", (0, -0.45, 0), (0.4, 0.5, 0.12)), ("box", (0, 0.5, 0), (0.06, 0.55, 0.04)),
     ("box", (0, 1.1, 0), (0.1, 0.08, 0.04))),  # guitar
    (("box", (0.3, 0, 0), (0.6, 0.1, 0.01)), ("box", (-0.55, -0.02, 0), (0.3, 0.07, 0.05))),  # knife
    (("cylY", (0, -0.8, 0), (0.35, 0.04, 0.35)), ("cylY", (0, -0.1, 0), (0.04, 0.7, 0.04)),
     ("ell", (0, 0.65, 0), (0.4, 0.25, 0.4))),  # lamp
    (("box", (0, 0, 0), (0.6, 0.02, 0.4)), ("box", (0, 0.4, -0.42), (0.6, 0.4, 0.02))),  # laptop
    (("cylZ", (0.6, 0, 0), (0.3, 0.3, 0.06)), ("cylZ", (-0.6, 0, 0), (0.3, 0.3, 0.06)),
     ("box", (0, 0.3, 0), (0.45, 0.15, 0.1)), ("box", (0.55, 0.5, 0), (0.04, 0.25, 0.3))),  # motorbike
    (("cylY", (0, 0, 0), (0.4, 0.5, 0.4)), ("box", (0.5, 0, 0), (0.12, 0.25, 0.04))),  # mug
    (("box", (0.15, 0.2, 0), (0.55, 0.1, 0.06)), ("box", (-0.25, -0.25, 0), (0.12, 0.35, 0.06))),  # pistol
    (("cylY", (0, 0, 0), (0.15, 0.9, 0.15)), ("ell", (0, 0.95, 0), (0.15, 0.3, 0.15)),
     ("box", (0, -0.75, 0), (0.4, 0.15, 0.02)), ("box", (0, -0.75, 0), (0.02, 0.15, 0.4))),  # rocket
    (("box", (0, 0, 0), (0.9, 0.02, 0.25)), ("cylZ", (0.6, -0.1, 0.15), (0.05, 0.05, 0.04)),
     ("cylZ", (0.6, -0.1, -0.15), (0.05, 0.05, 0.04)), ("cylZ", (-0.6, -0.1, 0.15), (0.05, 0.05, 0.04)),
     ("cylZ", (-0.6, -0.1, -0.15), (0.05, 0.05, 0.04))),  # skateboard
    (("box", (0, 0.4, 0), (0.8, 0.03, 0.5)), ("box", (0.7, 0, 0.4), (0.04, 0.4, 0.04)),
     ("box", (-0.7, 0, 0.4), (0.04, 0.4, 0.04)), ("box", (0.7, 0, -0.4), (0.04, 0.4, 0.04)),
     ("box", (-0.7, 0, -0.4), (0.04, 0.4, 0.04))),  # table
)


def _surface(kind: str, c: np.ndarray, h: np.ndarray, n: int, r: np.random.Generator) -> np.ndarray:
    """n points on the surface of one primitive."""
    if kind == "box":  # a face drawn by its area, then a uniform point on it
        areas = np.array([h[1] * h[2], h[0] * h[2], h[0] * h[1]])
        ax = r.choice(3, n, p=areas / areas.sum())
        p = r.uniform(-1, 1, (n, 3))
        p[np.arange(n), ax] = r.choice([-1.0, 1.0], n)
    elif kind == "ell":
        p = r.normal(size=(n, 3))
        p /= np.linalg.norm(p, axis=1, keepdims=True)
    else:  # open cylinder around axis 'cylX' / 'cylY' / 'cylZ'
        ax = "XYZ".index(kind[-1])
        t = r.uniform(0, 2 * np.pi, n)
        others = [i for i in range(3) if i != ax]
        p = np.empty((n, 3))
        p[:, others[0]], p[:, others[1]], p[:, ax] = np.cos(t), np.sin(t), r.uniform(-1, 1, n)
    return c + p * h


def _cloud(label: int, n_pts: int, r: np.random.Generator) -> np.ndarray:
    """One jittered shape of class ``label``, centred, bounding-box diagonal 1 (ShapeNet's normalisation)."""
    prims = _TEMPLATES[label]
    cs = [np.array(c, float) + r.normal(0, JIT_C, 3) for _, c, _ in prims]
    hs = [np.array(h, float) * r.uniform(1 - JIT_H, 1 + JIT_H, 3) for _, _, h in prims]
    area = np.array([h[0] * h[1] + h[1] * h[2] + h[0] * h[2] for h in hs])
    counts = r.multinomial(n_pts, area / area.sum())
    pts = np.concatenate([_surface(k, c, h, m, r) for (k, _, _), c, h, m in zip(prims, cs, hs, counts)])
    pts = pts * r.uniform(0.85, 1.15, 3) + r.normal(0, NOISE, pts.shape)
    pts -= (pts.max(0) + pts.min(0)) / 2
    return (pts / np.linalg.norm(pts.max(0) - pts.min(0))).astype("float32")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training clouds, labels, held-out clouds, labels; clouds as the loop feeds them: (n, 3, NUM_POINTS)."""
    r = np.random.default_rng(SEED)
    freq = np.array(CLASS_SIZES, float) / sum(CLASS_SIZES)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    y = r.choice(NUM_CLASSES, n, p=freq)
    x = np.stack([_cloud(int(c), NUM_POINTS, r) for c in y]).transpose(0, 2, 1)  # points.transpose(2, 1)
    x = np.ascontiguousarray(x)
    m = N_BATCHES * BATCH_SIZE
    return x[:m], y[:m].astype("int64"), x[m:], y[m:].astype("int64")


def _build(softmax_dim: int) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.autograd import Variable

    W64, W128, W1024, W512, W256 = (w // WIDTH_DIV for w in (64, 128, 1024, 512, 256))

    class STN3d(nn.Module):
        def __init__(self):
            super(STN3d, self).__init__()
            self.conv1 = torch.nn.Conv1d(3, W64, 1)
            self.conv2 = torch.nn.Conv1d(W64, W128, 1)
            self.conv3 = torch.nn.Conv1d(W128, W1024, 1)
            self.fc1 = nn.Linear(W1024, W512)
            self.fc2 = nn.Linear(W512, W256)
            self.fc3 = nn.Linear(W256, 9)
            self.relu = nn.ReLU()

            self.bn1 = nn.BatchNorm1d(W64)
            self.bn2 = nn.BatchNorm1d(W128)
            self.bn3 = nn.BatchNorm1d(W1024)
            self.bn4 = nn.BatchNorm1d(W512)
            self.bn5 = nn.BatchNorm1d(W256)

        def forward(self, x):
            batchsize = x.size()[0]
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            x = F.relu(self.bn3(self.conv3(x)))
            x = torch.max(x, 2, keepdim=True)[0]
            x = x.view(-1, W1024)

            x = F.relu(self.bn4(self.fc1(x)))
            x = F.relu(self.bn5(self.fc2(x)))
            x = self.fc3(x)

            iden = Variable(torch.from_numpy(np.array([1, 0, 0, 0, 1, 0, 0, 0, 1]).astype(np.float32))).view(
                1, 9).repeat(batchsize, 1)
            if x.is_cuda:
                iden = iden.cuda()
            x = x + iden
            x = x.view(-1, 3, 3)
            return x

    class PointNetfeat(nn.Module):
        def __init__(self, global_feat=True):
            super(PointNetfeat, self).__init__()
            self.stn = STN3d()
            self.conv1 = torch.nn.Conv1d(3, W64, 1)
            self.conv2 = torch.nn.Conv1d(W64, W128, 1)
            self.conv3 = torch.nn.Conv1d(W128, W1024, 1)
            self.bn1 = nn.BatchNorm1d(W64)
            self.bn2 = nn.BatchNorm1d(W128)
            self.bn3 = nn.BatchNorm1d(W1024)
            self.global_feat = global_feat

        def forward(self, x):
            n_pts = x.size()[2]
            trans = self.stn(x)
            x = x.transpose(2, 1)
            x = torch.bmm(x, trans)
            x = x.transpose(2, 1)
            x = F.relu(self.bn1(self.conv1(x)))
            pointfeat = x
            x = F.relu(self.bn2(self.conv2(x)))
            x = self.bn3(self.conv3(x))
            x = torch.max(x, 2, keepdim=True)[0]
            x = x.view(-1, W1024)
            if self.global_feat:
                return x, trans
            else:
                x = x.view(-1, W1024, 1).repeat(1, 1, n_pts)
                return torch.cat([x, pointfeat], 1), trans

    class PointNetCls(nn.Module):
        def __init__(self, k=2):
            super(PointNetCls, self).__init__()
            self.feat = PointNetfeat(global_feat=True)
            self.fc1 = nn.Linear(W1024, W512)
            self.fc2 = nn.Linear(W512, W256)
            self.fc3 = nn.Linear(W256, k)
            self.bn1 = nn.BatchNorm1d(W512)
            self.bn2 = nn.BatchNorm1d(W256)
            self.relu = nn.ReLU()

        def forward(self, x):
            x, trans = self.feat(x)
            x = F.relu(self.bn1(self.fc1(x)))
            x = F.relu(self.bn2(self.fc2(x)))
            x = self.fc3(x)
            return F.log_softmax(x, dim=softmax_dim), trans  # buggy: dim=0 (5fd9592); fixed: dim=1 (1551005)

    class Pred(nn.Module):
        """The loop's ``pred, _ = classifier(points)``: the classifier's first output, the log-probabilities."""

        def __init__(self, classifier):
            super().__init__()
            self.classifier = classifier

        def forward(self, points):
            pred, _ = self.classifier(points)
            return pred

    torch.manual_seed(SEED)
    classifier = PointNetCls(k=NUM_CLASSES)
    optimizer = optim.SGD(classifier.parameters(), lr=LR, momentum=MOMENTUM)
    x, y, xh, _ = _data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": Pred(classifier), "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xh),
            "loss_fn": F.nll_loss, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(softmax_dim=0)


def fixed(framework: str) -> dict[str, Any]:
    return _build(softmax_dim=1)
