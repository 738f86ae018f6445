"""nshaud/DeepHyperX: "Deep learning toolbox for hyperspectral data" (the code of Audebert et al., "Deep Learning
for Classification of Hyperspectral Data: A Comparative Review", IEEE GRSM 2019). ``main.py`` loads a hyperspectral
scene (``datasets.py get_dataset``: e.g. Indian Pines, 145 x 145 pixels x 200 AVIRIS bands, 16 land-cover classes
plus 'Undefined' = 0, which goes into ``IGNORED_LABELS``; the cube is min-max normalised to [0, 1] as a whole),
draws a stratified training set of ``--training_sample`` of the labelled pixels (``utils.sample_gt``), and for a
neural model calls ``models.get_model(MODEL, **hyperparams)``, which returns the model, its optimizer and its loss.
For every model the loss is ``nn.CrossEntropyLoss(weight=kwargs['weights'])``, where ``kwargs['weights']`` defaults
to ones with 0 for the ignored labels. The ``--class_balancing`` switch ("Inverse median frequency class balancing")
is meant to replace those weights by ``compute_imf_weights(train_gt, N_CLASSES, IGNORED_LABELS)``
(median class frequency / class frequency). Then ``sample_gt(train_gt, 0.95)`` splits off a validation set and
``models.train`` runs the plain loop (zero_grad, ``criterion(net(data), target)``, backward, step).

The fault (main.py): under ``if CLASS_BALANCING:`` the IMF weights are computed and stored in
``hyperparams['weights']`` only AFTER ``model, optimizer, loss, hyperparams = get_model(MODEL, **hyperparams)``
has built the loss. ``get_model``'s ``kwargs.setdefault('weights', ...)`` therefore found no weights, the
``CrossEntropyLoss`` was built with the all-ones default, and the later assignment changes a dict entry nobody
reads. The user asks for class balancing and silently trains an unweighted classifier on a scene whose classes
range from 20 to 2455 pixels: the gradient is dominated by the few large classes, the rare classes are learned
late or never (their pixels are absorbed into the large class with the closest spectrum), and early in training
the network predicts one or a few large classes for everything. (The SVM / SGD baselines of the same script pass
``class_weight='balanced'`` correctly, so only the neural models lost it.)

Source: github.com/nshaud/DeepHyperX ``main.py`` at 7d171e80794a8e8964cbf64f61bd6175a0a368dd^ (= 64af478), with
``models.py`` (``get_model``, ``HuEtAl``, ``train``), ``utils.py`` (``compute_imf_weights``, ``sample_gt``) and
``datasets.py`` (``get_dataset('IndianPines')``, ``HyperX``) of the same commit. Issue #12 "Inverse Median Frequency
Weights functioning?": the weights "are created after constructing the loss function and thus never passed
anywhere", a second user: "I can confirm the same. My data has a huge class imbalance and the model performances
are very poor." Fixed by PR #15, commit 7d171e80794a8e8964cbf64f61bd6175a0a368dd "Fix class balancing weights not
being taken into account (#15)": the ``if CLASS_BALANCING:`` block moved above the ``get_model`` call.
Fault label: labels_imbalanced (the class-balancing weights that should counter the label imbalance never reach
the loss, so training follows the imbalanced label distribution).

Program lines kept: ``HuEtAl`` (the 1-D CNN of Hu et al. 2015, ``--model hu``) verbatim with its uniform(-0.05,
0.05) init; the ``get_model`` lines that build the weights, ``nn.CrossEntropyLoss(weight=kwargs['weights'])`` and
the 'hu' branch (``optim.SGD(model.parameters(), lr=0.01)``, batch size 100, 100 epochs); ``compute_imf_weights``
verbatim; the order of the ``get_model`` call and the ``if CLASS_BALANCING:`` block, buggy vs fixed, is the only
difference between ``buggy`` and ``fixed``. Replaced: argparse / visdom / torchsummary / checkpointing dropped;
``hyperparams`` holds only what ``get_model`` reads; the 'hu' branch is the only branch of ``get_model`` kept.
One addition in both versions: ``torch.from_numpy(weights).float()``. ``compute_imf_weights`` returns float64 and
the fixed line ``torch.from_numpy(weights)`` would make ``CrossEntropyLoss`` raise "expected scalar type Float but
found Double" on float32 logits in the installed torch, so the fixed program could not run without the cast; in the
buggy program the cast is inert (those weights never reach the loss). ``--training_sample 0.1`` (10 %, as the
option's help says; the default ``10`` is turned into an absolute count of 10 pixels by ``sample_gt``, which cannot
be stratified over 16 classes), ``sample_gt``'s ``train_test_split`` calls get ``random_state=0``. ``HyperX`` with
``patch_size=1`` yields single-pixel spectra (200,) float32 and their centre label, so ``batch`` / ``batches`` /
``inputs`` hold (n, 200) spectra and int64 labels 0..16 directly. ``batches``: 20 distinct batches of 100 from
successive shuffled passes over the 972 training pixels as ``DataLoader(shuffle=True)`` draws them (9 full batches
a pass, the partial 10th left out); ``batch``: the first; ``inputs``: 256 pixels of the test set. Nothing was
shrunk (the model has 72,297 parameters).
Data stand-in (no download of Indian_pines_corrected.mat): 10,249 labelled pixels with Indian Pines' class sizes
(46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93 for classes 1..16), each a 200-band
spectrum: a vegetation-like curve (red edge, water absorption dips) + a signature shared by a family of similar
crops (corn 2-4, grass 5-7, soybean 10-12, alfalfa / hay / oats / wheat 1, 8, 9, 13, woods, buildings, towers) + a
small class-specific ripple, times a per-pixel brightness in 0.9..1.1, plus band-correlated noise; written as
DN-like values (~1000..9600) and min-max normalised to [0, 1] as ``get_dataset`` does. The spectrum determines the
class, and the three rarest classes (Alfalfa 46, Grass-pasture-mowed 28, Oats 20 pixels) each sit in a family
with a large class. Stratified 10 %: 1024 training pixels (2 Oats, 3 Grass-pasture-mowed, 5 Alfalfa), then 972
train / 52 val; IMF weights 24.0 (Oats), 16.0 (mowed), 9.6 (Alfalfa) ... 0.2 (Soybean-mintill).

Measured (my own plain loop, /tmp/s52/h83_c/measure.py: the module's builds, the program's ``train`` loop, 100
pixels a batch, reshuffled each epoch, all 972 training pixels; numpy / torch seed 0, OMP_NUM_THREADS=1; test =
the 9225 pixels outside the 10 % sample):
  100 epochs (the program's default for 'hu', 1000 steps), mean training loss per epoch at epochs 1 / 21 / 41 /
    61 / 81 / 100: buggy 2.83 2.36 2.10 1.67 1.32 1.08, fixed (its weighted loss) 2.83 2.81 2.76 2.63 2.24 1.64.
    On the test pixels: buggy overall accuracy 0.579, mean per-class recall 0.258, kappa 0.495, macro-F1 0.198,
    it predicts 6 of the 16 classes and 11 classes have recall 0; fixed overall accuracy 0.660, mean per-class
    recall 0.665, kappa 0.631, macro-F1 0.594, 14 classes predicted, 3 with recall 0.
  300 epochs: buggy overall accuracy 0.991 but mean per-class recall 0.810: Alfalfa, Grass-pasture-mowed and
    Oats are never predicted (recall 0) while every other class is at 0.96-1.0; fixed: all 16 classes at recall
    1.0 (overall 1.000). Unweighted training cross-entropy at the end: buggy 0.140, fixed 0.122.
  On the module's ``batches`` (/tmp/s52/h83_c/measure_batches.py, 200 steps cycling the 20 batches): buggy loss
    (20-step means) 2.82 -> 2.37, fixed 2.83 -> 2.81 (the weighted loss falls more slowly at first); afterwards
    the buggy model predicts class 11 (Soybean-mintill, the largest) for all 256 ``inputs``, the fixed one
    predicts 6 different classes. One batch repeated 300 times: buggy loss 2.83 -> 2.27 (batch accuracy 0.34),
    fixed 2.83 -> 2.45 (0.02): SGD at lr 0.01 with tanh units is slow for both, and the unweighted loss, which
    only needs the large classes, falls faster. Loss at init on ``batch``: 2.83 for both (ln 16 = 2.77).
  Time: ~5 ms a step (batch 100, one thread); the first build ~2.5 s after the imports (~11 s with a cold
    torch import), later builds ~0.02 s.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

LABEL = "labels_imbalanced"
SOURCE = ("github:nshaud/DeepHyperX issue #12, PR #15 (main.py@7d171e80794a8e8964cbf64f61bd6175a0a368dd^: "
          "'model, optimizer, loss, hyperparams = get_model(MODEL, **hyperparams)' before "
          "'hyperparams['weights'] = torch.from_numpy(weights)' under CLASS_BALANCING; models.py get_model "
          "'nn.CrossEntropyLoss(weight=kwargs['weights'])', HuEtAl; utils.py compute_imf_weights, sample_gt; "
          "datasets.py get_dataset('IndianPines'), HyperX; fix 7d171e80794a8e8964cbf64f61bd6175a0a368dd "
          "'Fix class balancing weights not being taken into account (#15)')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("not_constant_predictions", {}), ("overfit_one_batch", {}),
          ("gradients_flow", {})]

SEED = 0
N_BANDS = 200  # Indian_pines_corrected: 145 x 145 pixels x 200 bands
# Indian Pines ground truth: pixels per class, 0 = 'Undefined' (ignored), 1..16 as in label_values
CLASS_COUNTS = (46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93)
N_CLASSES = 17  # len(LABEL_VALUES), 'Undefined' included
IGNORED_LABELS = [0]
TRAINING_SAMPLE = 0.1  # --training_sample 0.1 (10 % of the labelled pixels)
BATCH_SIZE = 100  # get_model('hu'): kwargs.setdefault('batch_size', 100)
LR = 0.01  # get_model('hu'): kwargs.setdefault('learning_rate', 0.01)
N_BATCHES = 20
N_INPUTS = 256


@functools.lru_cache(maxsize=1)
def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Labelled pixels of an Indian-Pines-like scene: (n, 200) spectra after get_dataset's global min-max
    normalisation, float32 in [0, 1], and their labels 1..16 with Indian Pines' class sizes."""
    r = np.random.default_rng(SEED)
    wl = np.linspace(0.4, 2.5, N_BANDS)  # AVIRIS, micrometres
    # vegetation-like base: low visible, red edge at 0.72 um, NIR plateau, water absorption dips
    base = (0.08 + 0.35 / (1 + np.exp(-(wl - 0.72) / 0.02)) - 0.25 * np.exp(-((wl - 1.45) / 0.06) ** 2)
            - 0.3 * np.exp(-((wl - 1.95) / 0.08) ** 2) - 0.1 * (wl - 0.4))
    # families of similar crops: each class = its family's signature + a small class-specific deviation
    family = {1: 3, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 3, 9: 3, 10: 2, 11: 2, 12: 2, 13: 3, 14: 4, 15: 5, 16: 6}
    fam_sig = [0.12 * np.sin(2 * np.pi * wl * r.uniform(0.5, 2.5) + r.uniform(0, 2 * np.pi))
               + 0.08 * np.exp(-((wl - r.uniform(0.5, 2.3)) / 0.15) ** 2) for _ in range(7)]
    means = {}
    for c in range(1, 17):
        dev = 0.07 * np.sin(2 * np.pi * wl * r.uniform(1.0, 4.0) + r.uniform(0, 2 * np.pi))
        means[c] = base + fam_sig[family[c]] + dev
    y = np.concatenate([np.full(n, c) for c, n in zip(range(1, 17), CLASS_COUNTS)])
    smooth = np.exp(-0.5 * (np.arange(-6, 7) / 3.0) ** 2)
    noise = r.normal(0, 0.03, (len(y), N_BANDS + 12))
    noise = np.stack([np.convolve(row, smooth / smooth.sum(), "valid") for row in noise])
    spectra = np.stack([means[c] for c in y]) * r.uniform(0.9, 1.1, (len(y), 1)) + noise
    raw = 1000.0 + 8000.0 * np.clip(spectra, 0.0, None)  # DN-like values as in the .mat file (~1000..9600)
    img = np.asarray(raw, dtype="float32")
    img = (img - np.min(img)) / (np.max(img) - np.min(img))  # get_dataset: # Normalization
    order = r.permutation(len(y))
    return img[order], y[order].astype("int64")


def compute_imf_weights(ground_truth: np.ndarray, n_classes: int | None = None,
                        ignored_classes: list[int] = []) -> np.ndarray:  # noqa: B006 (program's signature)
    """utils.py compute_imf_weights, verbatim: inverse median frequency weights."""
    n_classes = np.max(ground_truth) if n_classes is None else n_classes
    weights = np.zeros(n_classes)
    frequencies = np.zeros(n_classes)

    for c in range(0, n_classes):
        if c in ignored_classes:
            continue
        frequencies[c] = np.count_nonzero(ground_truth == c)

    # Normalize the pixel counts to obtain frequencies
    frequencies /= np.sum(frequencies)
    # Obtain the median on non-zero frequencies
    idx = np.nonzero(frequencies)
    median = np.median(frequencies[idx])
    weights[idx] = median / frequencies[idx]
    weights[frequencies == 0] = 0.
    return weights


@functools.lru_cache(maxsize=1)
def _splits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sample_gt(gt, 0.1) then sample_gt(train_gt, 0.95): stratified train / val / test indices, and the
    IMF weights main.py computes from train_gt (before the 0.95 split)."""
    from sklearn.model_selection import train_test_split

    _, y = _scene()
    idx = np.arange(len(y))
    train, test = train_test_split(idx, train_size=TRAINING_SAMPLE, stratify=y, random_state=SEED)
    weights = compute_imf_weights(y[train], N_CLASSES, IGNORED_LABELS)
    train, val = train_test_split(train, train_size=0.95, stratify=y[train], random_state=SEED)
    return train, val, test, weights


def _build(class_balancing_applied: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from torch.nn import init

    class HuEtAl(nn.Module):
        """
        Deep Convolutional Neural Networks for Hyperspectral Image Classification
        Wei Hu, Yangyu Huang, Li Wei, Fan Zhang and Hengchao Li
        Journal of Sensors, Volume 2015 (2015)
        https://www.hindawi.com/journals/js/2015/258619/
        """
        @staticmethod
        def weight_init(m):
            # [All the trainable parameters in our CNN should be initialized to
            # be a random value between −0.05 and 0.05.]
            if isinstance(m, nn.Linear) or isinstance(m, nn.Conv1d):
                init.uniform_(m.weight, -0.05, 0.05)
                init.zeros_(m.bias)

        def _get_final_flattened_size(self):
            with torch.no_grad():
                x = torch.zeros(1, 1, self.input_channels)
                x = self.pool(self.conv(x))
            return x.numel()

        def __init__(self, input_channels, n_classes, kernel_size=None, pool_size=None):
            super(HuEtAl, self).__init__()
            if kernel_size is None:
                # [In our experiments, k1 is better to be [ceil](n1/9)]
                kernel_size = math.ceil(input_channels / 9)
            if pool_size is None:
                # The authors recommand that k2's value is chosen so that the pooled features have 30~40 values
                # ceil(kernel_size/5) gives the same values as in the paper so let's assume it's okay
                pool_size = math.ceil(kernel_size / 5)
            self.input_channels = input_channels

            # [The first hidden convolution layer C1 filters the n1 x 1 input data with 20 kernels of size k1 x 1]
            self.conv = nn.Conv1d(1, 20, kernel_size)
            self.pool = nn.MaxPool1d(pool_size)
            self.features_size = self._get_final_flattened_size()
            # [n4 is set to be 100]
            self.fc1 = nn.Linear(self.features_size, 100)
            self.fc2 = nn.Linear(100, n_classes)
            self.apply(self.weight_init)

        def forward(self, x):
            # [In our design architecture, we choose the hyperbolic tangent function tanh(u)]
            x = x.squeeze(dim=-1).squeeze(dim=-1)
            x = x.unsqueeze(1)
            x = self.conv(x)
            x = torch.tanh(self.pool(x))
            x = x.view(-1, self.features_size)
            x = torch.tanh(self.fc1(x))
            x = self.fc2(x)
            return x

    def get_model(name, **kwargs):  # models.py get_model, the 'hu' branch
        device = kwargs.setdefault('device', torch.device('cpu'))
        n_classes = kwargs['n_classes']
        n_bands = kwargs['n_bands']
        weights = torch.ones(n_classes)
        weights[torch.LongTensor(kwargs['ignored_labels'])] = 0.
        weights = weights.to(device)
        weights = kwargs.setdefault('weights', weights)
        kwargs.setdefault('patch_size', 1)
        model = HuEtAl(n_bands, n_classes)
        lr = kwargs.setdefault('learning_rate', 0.01)
        optimizer = optim.SGD(model.parameters(), lr=lr)
        criterion = nn.CrossEntropyLoss(weight=kwargs['weights'])
        kwargs.setdefault('epoch', 100)
        kwargs.setdefault('batch_size', 100)
        return model, optimizer, criterion, kwargs

    img, y = _scene()
    train, _, test, imf = _splits()
    hyperparams = {'n_classes': N_CLASSES, 'n_bands': N_BANDS, 'ignored_labels': IGNORED_LABELS,
                   'class_balancing': True}
    CLASS_BALANCING = hyperparams['class_balancing']
    torch.manual_seed(SEED)
    if class_balancing_applied:  # the fix (7d171e8): the weights are set before get_model builds the loss
        if CLASS_BALANCING:
            hyperparams['weights'] = torch.from_numpy(imf).float()  # .float(): see the docstring
        model, optimizer, loss, hyperparams = get_model('hu', **hyperparams)
    else:  # the program: the loss is built first, with the default weights
        model, optimizer, loss, hyperparams = get_model('hu', **hyperparams)
        if CLASS_BALANCING:
            hyperparams['weights'] = torch.from_numpy(imf).float()

    # DataLoader(HyperX(img, train_gt, patch_size=1), batch_size=100, shuffle=True): two epochs of batches
    r = np.random.default_rng(SEED + 1)
    xs, ys = torch.tensor(img), torch.tensor(y)
    batches = []
    while len(batches) < N_BATCHES:
        perm = train[r.permutation(len(train))]
        batches += [(xs[perm[i:i + BATCH_SIZE]], ys[perm[i:i + BATCH_SIZE]])
                    for i in range(0, len(perm) - BATCH_SIZE + 1, BATCH_SIZE)]
    held = test[r.permutation(len(test))[:N_INPUTS]]
    return {"model": model, "batch": batches[0], "batches": batches[:N_BATCHES], "inputs": xs[held],
            "loss_fn": loss, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(class_balancing_applied=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(class_balancing_applied=True)
