"""adambielski/siamese-triplet (PyTorch metric-learning examples on MNIST / FashionMNIST), ``losses.py``
``ContrastiveLoss`` as used by the "Siamese network" section of ``Experiments_MNIST.ipynb``: an ``EmbeddingNet``
(Conv2d(1, 32, 5) / PReLU / MaxPool / Conv2d(32, 64, 5) / PReLU / MaxPool, then Linear(1024, 256) / PReLU /
Linear(256, 256) / PReLU / Linear(256, 2)) shared by a ``SiameseNet`` that embeds both images of a pair;
``SiameseMNIST`` makes, for every training image, a positive pair (target 1, another image of the same digit) or a
negative pair (target 0, an image of another digit) at random; ``ContrastiveLoss(margin=1.)``, ``optim.Adam(lr=1e-3)``,
batch size 128, ToTensor + Normalize((0.1307,), (0.3081,)).

The fault (the loss): the dissimilar-pair term is ``F.relu(self.margin - distances.sqrt()).pow(2)`` on the SQUARED
distances, with no epsilon under the square root. When the two embeddings of a pair are identical the squared
distance is exactly 0 and d sqrt(d)/dd = 1 / (2 sqrt(0)) = inf. For a positive pair that term is multiplied by
``(1 - target) = 0``, but autograd still multiplies through it: 0 x 2 x margin x (-1) x inf = NaN, and then by
d distances / d outputs = 2 (output2 - output1) = 0, NaN x 0 = NaN. So a single pair of two exactly identical images
in a batch (or two images the net maps to the same point) gives NaN gradients to every weight of the shared
embedding net; Adam writes NaN into all parameters and from the next step on every embedding and every loss is NaN:
training is dead for good. The loss value of the poisoned step itself is finite; only its backward pass is not.

Source: github.com/adambielski/siamese-triplet ``losses.py`` at 244f18f (= 69c1073^, the loss unchanged since the
initial release 4ed17ef), used by ``Experiments_MNIST.ipynb`` with ``networks.py`` ``EmbeddingNet`` / ``SiameseNet``,
``datasets.py`` ``SiameseMNIST``, ``trainer.py`` ``train_epoch``. Issue #18 "Siamese loss problem": the reporter's
derivatives "suddenly equaled to nan in some iteration", because "some of the distances equal to 0" and "the
derivative sqrt(d) to d is nan"; it happened for "two exactly the same samples". Fixed by
69c1073c634882867a374d38efed65b9d0b08a94 "Added eps to contrastive loss sqrt": ``self.eps = 1e-9`` and
``F.relu(self.margin - (distances + self.eps).sqrt()).pow(2)``.
Fault label: loss_not_finite (the loss's backward pass is not finite: an unguarded sqrt at a zero distance gives
NaN gradients, then NaN weights, NaN embeddings and a NaN loss).

Program lines kept verbatim: ``ContrastiveLoss.forward`` (buggy: ``distances.sqrt()``; fixed: with ``self.eps =
1e-9`` as in 69c1073), ``EmbeddingNet`` and ``SiameseNet`` as written (torch default init), ``margin = 1.``,
``optim.Adam(model.parameters(), lr=lr)`` with ``lr = 1e-3``, batch size 128, the Normalize constants, the
``SiameseMNIST.__getitem__`` pairing rule for training (target = randint(0, 2); a positive partner of the same label
with another index, a negative partner from a random other label), and the trainer's plain step (zero_grad,
forward, loss, backward, step).
Replaced: the checks call ``model(x)`` and ``loss_fn(outputs, targets)`` with one input and one output, while
``SiameseNet.forward(x1, x2)`` returns a tuple and ``ContrastiveLoss.forward(output1, output2, target)`` takes three
arguments. So the module's model is ``_PairNet``: it holds the program's ``SiameseNet`` and takes the two images of
a pair stacked on axis 1, x of shape (n, 2, 1, 28, 28), and returns the two embeddings stacked, shape (n, 2, 2);
``loss_fn(out, target)`` calls the program's ``ContrastiveLoss`` on ``out[:, 0]``, ``out[:, 1]``, ``target``. The
computation is the program's. The StepLR scheduler (step 8, gamma 0.1, per epoch) is left out: the runs here are
shorter than one epoch. Shrunk: the two conv layers' widths, 32 -> 8 and 64 -> 16 channels (``C1, C2``; the first
Linear takes 16 * 4 * 4 inputs), since the program's widths cost 0.2-0.3 s a step on one CPU core; depth, the fc
widths and the 2-d embedding are the program's. Ported to torch only: the fault is in a PyTorch loss module;
a Keras twin would be a rewrite of the loss, net and pairing (Keras' own siamese example already guards its sqrt
with ``K.maximum(..., K.epsilon())``), so none is given.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3 and padded to 28x28,
uint8 0..255); the training set is 12,800 entries drawn WITH replacement from the first 1500 digits, so like the
reporter's data it holds exactly identical samples (each digit ~8.5 times; real MNIST has hardly any exact
duplicates, which is why the original notebook never hit it and the reporter's data did). Pairs are made with the
SiameseMNIST rule over these entries (a positive partner has another index, but may be the same image); ToTensor
(/255) and Normalize as in the program. ``batches``: 100 distinct batches of 128 pairs (entries in order, with a
seeded pairing); ``batch``: the first; ``inputs``: 256 pairs made the same way from the 297 held-out digits (no
repeats there). About 0.6 % of the positive pairs are two copies of one image, so roughly a third of the batches
hold at least one.

Measured (my own plain loop, /tmp/s58/p/b99c/measure.py, on the module's builds: the 100 ``batches`` in order,
the plain step, torch seed 0, OMP_NUM_THREADS=1, CPU):
  buggy: loss 0.275 / 0.229 / 0.215 at steps 0 / 1 / 2; batch 2 (index 2) is the first to hold a positive pair of
    two copies of one image: its backward pass gives NaN gradients (step 2), Adam writes NaN into every weight, and
    from step 3 on every loss is NaN (97 of 100 losses NaN); the 256 held-out pairs get NaN embeddings and a NaN loss.
  fixed: the same 0.275 / 0.229 / 0.215 at steps 0-2 (eps = 1e-9 changes no finite value), then 10-step means
    0.156 0.085 0.062 0.053 0.047 0.047 0.036 0.038 0.028 0.027 over the 100 steps; held-out loss 0.056, and
    "distance < margin / 2" separates same-digit from different-digit held-out pairs with 84 % accuracy (the NaN
    buggy net: 47 %, the share of negative pairs).
  One batch repeated 50 steps: batch 0 (no identical pair) gives the SAME curve for both versions (0.275 / 0.238 /
    0.047 / 0.0003 at steps 0 / 1 / 10 / 49); batch 2: buggy 0.269 then NaN from step 1 on, fixed 0.269 / 0.237 /
    0.047 / 0.0003. So the fault is invisible on any batch without a zero distance (the module's ``batch`` is batch 0,
    as in the other corpus modules the first one); 32 of the 100 ``batches`` hold at least one identical pair
    (44 pairs in all), the first at index 2. No held-out pair in ``inputs`` is two copies of one image.
  With the program's widths (32 / 64 channels) the run was the same in kind: NaN gradient at step 2, NaN loss from
    step 3; fixed 10-step means 0.114 ... 0.023, held-out pair accuracy 89 %; but 180-340 ms a step.
  Time per step (128 pairs = 256 images, one thread, shrunk net): ~37 ms buggy (NaN arithmetic), ~75 ms fixed.
    Build: first ~4 s (imports, pairing), later ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_not_finite"
SOURCE = ("github:adambielski/siamese-triplet issue #18 'Siamese loss problem', "
          "fix 69c1073c634882867a374d38efed65b9d0b08a94 'Added eps to contrastive loss sqrt' "
          "(losses.py ContrastiveLoss @244f18f = 69c1073^, networks.py EmbeddingNet/SiameseNet, "
          "datasets.py SiameseMNIST, trainer.py, Experiments_MNIST.ipynb siamese section)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("batch_independence", {})]

BATCH_SIZE = 128
LR = 1e-3
MARGIN = 1.
MEAN, STD = 0.1307, 0.3081  # transforms.Normalize((mean,), (std,))
N_BATCHES = 100
N_INPUTS = 256
N_POOL = 1500
C1, C2 = 8, 16  # the program's conv widths 32 and 64, shrunk 4x for CPU time
SEED = 0


def _pairs(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SiameseMNIST.__getitem__ (train) for every index in order: the partner's index and the pair's target."""
    label_to_indices = {label: np.where(labels == label)[0] for label in set(labels.tolist())}
    partner = np.empty(len(labels), "int64")
    target = np.empty(len(labels), "int64")
    for index, label1 in enumerate(labels.tolist()):
        target[index] = rng.integers(0, 2)
        if target[index] == 1:
            siamese_index = index
            while siamese_index == index:
                siamese_index = rng.choice(label_to_indices[label1])
        else:
            siamese_label = rng.choice(sorted(set(label_to_indices) - {label1}))
            siamese_index = rng.choice(label_to_indices[siamese_label])
        partner[index] = siamese_index
    return partner, target


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (n, 2, 1, 28, 28) after ToTensor + Normalize and their targets: training, then held-out."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    x0 = ((x0.astype("float32") / 255.0 - MEAN) / STD)[:, None]  # ToTensor, Normalize
    r = np.random.default_rng(SEED)
    src = r.integers(0, N_POOL, N_BATCHES * BATCH_SIZE)  # training entries, drawn with replacement
    partner, target = _pairs(y0[src], r)
    x = np.stack([x0[src], x0[src[partner]]], 1)
    held = r.permutation(np.arange(N_POOL, 1797))[:N_INPUTS]
    h_partner, h_target = _pairs(y0[held], r)
    xh = np.stack([x0[held], x0[held[h_partner]]], 1)
    return x, target, xh, h_target


def _build(eps_in_sqrt: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class ContrastiveLoss(nn.Module):
        """
        Contrastive loss
        Takes embeddings of two samples and a target label == 1 if samples are from the same class
        and label == 0 otherwise
        """

        def __init__(self, margin):
            super(ContrastiveLoss, self).__init__()
            self.margin = margin
            self.eps = 1e-9

        def forward(self, output1, output2, target, size_average=True):
            distances = (output2 - output1).pow(2).sum(1)  # squared distances
            if eps_in_sqrt:  # the fix (69c1073)
                losses = 0.5 * (target.float() * distances +
                                (1 + -1 * target).float() * F.relu(self.margin - (distances + self.eps).sqrt()).pow(2))
            else:  # the program before 69c1073
                losses = 0.5 * (target.float() * distances +
                                (1 + -1 * target).float() * F.relu(self.margin - distances.sqrt()).pow(2))
            return losses.mean() if size_average else losses.sum()

    class EmbeddingNet(nn.Module):
        def __init__(self):
            super(EmbeddingNet, self).__init__()
            self.convnet = nn.Sequential(nn.Conv2d(1, C1, 5), nn.PReLU(),  # program: 32 channels
                                         nn.MaxPool2d(2, stride=2),
                                         nn.Conv2d(C1, C2, 5), nn.PReLU(),  # program: 64 channels
                                         nn.MaxPool2d(2, stride=2))

            self.fc = nn.Sequential(nn.Linear(C2 * 4 * 4, 256),
                                    nn.PReLU(),
                                    nn.Linear(256, 256),
                                    nn.PReLU(),
                                    nn.Linear(256, 2)
                                    )

        def forward(self, x):
            output = self.convnet(x)
            output = output.view(output.size()[0], -1)
            output = self.fc(output)
            return output

    class SiameseNet(nn.Module):
        def __init__(self, embedding_net):
            super(SiameseNet, self).__init__()
            self.embedding_net = embedding_net

        def forward(self, x1, x2):
            output1 = self.embedding_net(x1)
            output2 = self.embedding_net(x2)
            return output1, output2

    class _PairNet(nn.Module):  # one input, one output for the checks: (n, 2, 1, 28, 28) -> (n, 2, 2)
        def __init__(self, siamese):
            super().__init__()
            self.siamese = siamese

        def forward(self, x):
            output1, output2 = self.siamese(x[:, 0], x[:, 1])
            return torch.stack([output1, output2], 1)

    torch.manual_seed(SEED)
    margin = MARGIN
    embedding_net = EmbeddingNet()
    model = _PairNet(SiameseNet(embedding_net))
    contrastive = ContrastiveLoss(margin)
    lr = LR
    optimizer = optim.Adam(model.parameters(), lr=lr)

    def loss_fn(outputs, target):
        return contrastive(outputs[:, 0], outputs[:, 1], target)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(eps_in_sqrt=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(eps_in_sqrt=True)
