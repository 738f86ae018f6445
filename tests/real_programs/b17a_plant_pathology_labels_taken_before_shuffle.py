"""Borda/kaggle_image-classify (then "kaggle_plant-pathology", Jirka Borovec's PyTorch Lightning solution for
the Kaggle "Plant Pathology 2021 - FGVC8" competition), ``kaggle_plantpatho/data.py`` + ``models.py`` as driven
by ``notebooks/Plant-Pathology-with-Lightning.ipynb``: ``PlantPathologyDM(simple=False, batch_size=128)``
(multi-label: one-hot over the 6 disease labels), ``LitResnet(arch='resnet50', num_classes=6)`` wrapped in
``MultiPlantPathology(model=net, lr=1e-3)`` (``forward`` = ``torch.sigmoid(self.model(x))``, loss
``nn.BCEWithLogitsLoss()`` on that output and ``y.to(float)``, ``AdamW(self.model.parameters(), lr)``).
The fault is in ``PlantPathologyDataset.__init__``: it reads ``self.raw_labels = list(self.data['labels'])``
from the CSV table *before* it shuffles the table (``self.data.sample(frac=1, random_state=42)``) and cuts the
train/valid split, then builds ``self.labels`` from that unshuffled, unsplit list while ``self.img_names`` come
from the shuffled split. Item ``i`` therefore pairs the i-th shuffled image with the label of the i-th row of the
original CSV: labels are a random permutation of the images' own labels, carry no information about the image,
and the network can only learn the label frequencies (the PR: "the shuffle was made after taking raw labels").

Source: github.com/Borda/kaggle_image-classify PR #12 "fix dataset shuffle", ``kaggle_plantpatho/data.py`` at
42db7ef^ (eaf5785), fixed by 42db7efbaac0b0897f419e3557fd3481c5c7c98c (``raw_labels`` becomes a property over
the current, shuffled-and-split ``self.data``; the PR adds a test that labels follow their image names).
Program lines kept: ``PlantPathologyDataset.__init__`` (table, ``raw_labels``, sorted unique labels, lookup
table, ``sample(frac=1, random_state=42)``, ``split=0.8`` cut, ``img_names``, ``_prepare_labels``,
``to_onehot_encoding``, ``__getitem__`` pairing ``img_names[idx]`` with ``labels[idx]``), ``LitPreprocess``
(``image_to_tensor(...).float() / 255.`` then ``Normalize(DATASET_IMAGE_MEAN, DATASET_IMAGE_STD)``),
``MultiPlantPathology.forward``/``compute_loss`` (sigmoid output into ``BCEWithLogitsLoss``, as in both the
buggy and the fixed commit: that second quirk is not what PR #12 fixed and is kept in both versions),
``AdamW(lr=1e-3)``.
Ported minimally / for CPU speed: the pretrained torchvision ResNet-50 at 512 px (several seconds per batch of
128 on one CPU thread, and no weights offline) becomes a ResNet of the same family written out (3x3 stem conv
+ BN + ReLU, four stages of one basic residual block each, widths 8/16/32/64, strides 1/2/2/2, global average
pool, ``Linear(64, 6)``), randomly initialised, on 24x24 images; batch 128 -> 32; no ``CosineAnnealingLR`` and
no ``ImbalancedDatasetSampler`` (a seeded shuffle instead; the fix commit also turned balancing off), no
kornia/Lightning (the same arithmetic written in numpy/torch). ~35-45 ms per torch step, ~90-100 ms per Keras
``train_on_batch`` step (mostly Keras' fixed per-step overhead) on one CPU thread.
Keras twin: the identical table/dataset code (framework-free numpy/pandas), the same ResNet in Keras
(``BatchNormalization(momentum=0.9, epsilon=1e-5)`` like torch's), a sigmoid output layer and the loss written out as
``mean(softplus(y_hat) - y * y_hat)`` (= ``BCEWithLogitsLoss(y_hat, y)`` on the sigmoid output; Keras'
``BinaryCrossentropy(from_logits=True)`` would silently take the sigmoid's own logits instead) and
``AdamW(1e-3, weight_decay=0.01)`` (torch's AdamW default decay).
Data stand-in (the competition's 18,632 leaf photos are not shipped): a seeded 480-row ``train.csv``-like table
(image name, space-separated labels) whose label mix follows FGVC8's (scab 26 %, healthy 25 %,
frog_eye_leaf_spot 17 %, rust 10 %, complex 9 %, powdery_mildew 6 %, plus the multi-label combinations such
as "scab frog_eye_leaf_spot" and "rust complex"), and for each row a 24x24 RGB uint8 leaf image (green leaf
texture with the dataset's mean colour) carrying one visible mark per label: dark olive blotches (scab),
brown rings with pale centres (frog-eye), orange pustules (rust), white haze (powdery mildew), a large brown
necrotic patch (complex), none (healthy); after ``LitPreprocess`` the channels have mean -0.3..0 and std
0.55..0.87. 384 training items after the 0.8 split, in a seeded shuffled order, 12 batches of 32; the images are
identical in both versions, only 17 % of the buggy labels happen to equal the image's own (chance level).
Fault label: no_input_signal (labels are paired with the wrong images, so they carry no signal).
Fix (42db7ef): ``raw_labels`` read from ``self.data`` after the shuffle and split.
Symptom in a short loop (plain torch loop / Keras ``train_on_batch``, AdamW 1e-3, cycling over the 12 batches;
losses are 6-step means): torch: buggy 0.871 at the start, 0.698 after 120 steps (10 epochs), 0.691 after 240,
i.e. stuck at the input-independent floor (ln 2 = 0.693: predict 0 for every label), per-label accuracy
against the images' own labels 0.807 (the all-negative rate is 0.815); fixed 0.862 -> 0.646 (120) -> 0.630
(240; this loss cannot go much below ~0.62 with its sigmoid output), per-label accuracy 0.993. Keras: buggy
0.884 -> 0.694 (120) -> 0.668 (240, by then memorising the shuffled labels), accuracy against the images'
labels 0.779; fixed 0.870 -> 0.637 (120) -> 0.630 (240), accuracy 0.994.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

LABEL = "no_input_signal"
SOURCE = ("github:Borda/kaggle_image-classify PR #12 (kaggle_plantpatho/data.py PlantPathologyDataset@42db7ef^, "
          "models.py MultiPlantPathology, notebooks/Plant-Pathology-with-Lightning.ipynb; "
          "fix 42db7efbaac0b0897f419e3557fd3481c5c7c98c)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("input_independent_baseline", {}), ("not_constant_predictions", {})]

#: computed color mean / STD from given dataset (kaggle_plantpatho/__init__.py)
DATASET_IMAGE_MEAN = (0.48690377, 0.62658835, 0.4078062)
DATASET_IMAGE_STD = (0.18142496, 0.15883319, 0.19026241)
batch_size = 32  # program: 128
PROGRAM_BATCH = 128  # the program's batch size: the one batch input_independent_baseline takes (lead's edit)
img_size = 24  # program: LitPreprocess(512), resnet50
lr = 1e-3  # MultiPlantPathology(model=net, lr=1e-3)
n_rows = 480

# FGVC8 train.csv label combinations (approximate share of the 18,632 rows)
_COMBOS = [("scab", 0.26), ("healthy", 0.25), ("frog_eye_leaf_spot", 0.17), ("rust", 0.10), ("complex", 0.085),
           ("powdery_mildew", 0.064), ("scab frog_eye_leaf_spot", 0.037), ("scab frog_eye_leaf_spot complex", 0.011),
           ("frog_eye_leaf_spot complex", 0.009), ("rust frog_eye_leaf_spot", 0.007), ("rust complex", 0.005),
           ("powdery_mildew complex", 0.005)]


def _table(seed: int = 0):
    """A ``train.csv``-like DataFrame (image, labels) and the uint8 images keyed by name."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    probs = np.array([p for _, p in _COMBOS])
    idx = rng.choice(len(_COMBOS), n_rows, p=probs / probs.sum())
    names = [f"{int(rng.integers(2 ** 62)):016x}.jpg" for _ in range(n_rows)]
    labels = [_COMBOS[i][0] for i in idx]
    images = {n: _leaf(lb.split(" "), rng) for n, lb in zip(names, labels)}
    return pd.DataFrame({"image": names, "labels": labels}), images


def _leaf(labels: list[str], rng) -> np.ndarray:
    s = img_size
    yy, xx = np.mgrid[0:s, 0:s]
    base = np.array(DATASET_IMAGE_MEAN) * 255.0
    img = base + rng.normal(0, 12, (s, s, 3)) + 10 * np.sin(xx / 3.0 + rng.uniform(0, 6))[..., None]

    def spots(n, radius, colour, ring=None):
        for _ in range(n):
            cy, cx = rng.uniform(4, s - 4, 2)
            d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
            img[d < radius] = colour
            if ring is not None:
                img[d < radius * 0.45] = ring

    for lb in labels:
        if lb == "scab":
            spots(4, 2.5, (70, 75, 35))
        elif lb == "frog_eye_leaf_spot":
            spots(3, 3.0, (110, 60, 30), ring=(200, 190, 150))
        elif lb == "rust":
            spots(5, 1.8, (240, 140, 20))
        elif lb == "powdery_mildew":
            cy, cx = rng.uniform(8, s - 8, 2)
            d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
            haze = np.clip(1.2 - d / 9.0, 0, 1)[..., None]
            img = img * (1 - haze) + 235 * haze
        elif lb == "complex":
            cy, cx = rng.uniform(8, s - 8, 2)
            d = np.sqrt((yy - cy) ** 2 + ((xx - cx) * 0.7) ** 2) + rng.normal(0, 1.0, (s, s))
            img[d < 7] = (90, 55, 25)
    return np.clip(img, 0, 255).astype("uint8")


class PlantPathologyDataset:
    """The ful dataset with one-hot encoding for multi-label case (program lines, framework-free)."""

    def __init__(self, df_data, images, transforms=None, mode: str = 'train', split: float = 0.8,
                 uq_labels=None, random_state=42, labels_after_shuffle: bool = False):
        self.images = images
        self.transforms = transforms
        self.mode = mode
        self.data = df_data
        self._after = labels_after_shuffle
        # take over existing table or load from file
        if not self._after:
            self._raw_labels = list(self.data['labels'])  # buggy: read before the shuffle below
        if uq_labels:
            self.labels_unique = tuple(uq_labels)
        else:
            labels_all = list(itertools.chain(*[lbs.split(" ") for lbs in self.raw_labels]))
            self.labels_unique = tuple(sorted(set(labels_all)))
        self.labels_lut = {lb: i for i, lb in enumerate(self.labels_unique)}
        self.num_classes = len(self.labels_unique)

        # shuffle data
        self.data = self.data.sample(frac=1, random_state=random_state).reset_index(drop=True)

        # split dataset
        assert 0.0 <= split <= 1.0, f"split {split} is out of range"
        frac = int(split * len(self.data))
        self.data = self.data[:frac] if mode == 'train' else self.data[frac:]
        self.img_names = list(self.data['image'])
        self.labels = self._prepare_labels()

    @property
    def raw_labels(self):
        if self._after:  # fix 42db7ef: @property over the current (shuffled, split) table
            return list(self.data['labels'])
        return self._raw_labels

    def _prepare_labels(self) -> list:
        return [np.array(self.to_onehot_encoding(lb)) if lb else None for lb in self.raw_labels]

    def to_onehot_encoding(self, labels: str) -> tuple:
        one_hot = [0] * len(self.labels_unique)
        for lb in labels.split(" "):
            one_hot[self.labels_lut[lb]] = 1
        return tuple(one_hot)

    def __getitem__(self, idx: int) -> tuple:
        img_name = self.img_names[idx]
        label = self.labels[idx]
        img = self.images[img_name]
        if self.transforms:
            img = self.transforms(img)
        return img, label

    def __len__(self) -> int:
        return len(self.data)


def lit_preprocess(img: np.ndarray) -> np.ndarray:
    """``LitPreprocess``: image_to_tensor(...).float() / 255., resize (already img_size), Normalize."""
    x = np.transpose(img, (2, 0, 1)).astype("float32") / 255.
    mean = np.array(DATASET_IMAGE_MEAN, "float32")[:, None, None]
    std = np.array(DATASET_IMAGE_STD, "float32")[:, None, None]
    return (x - mean) / std


def _arrays(labels_after_shuffle: bool):
    df, images = _table()
    uq = tuple(sorted(set(itertools.chain(*[lbs.split(" ") for lbs in df['labels']]))))
    ds = PlantPathologyDataset(df, images, transforms=lit_preprocess, mode='train', split=0.8, uq_labels=uq,
                               labels_after_shuffle=labels_after_shuffle)
    xs, ys = zip(*[ds[i] for i in range(len(ds))])
    x = np.stack(xs).astype("float32")
    y = np.stack(ys).astype("float32")
    order = np.random.default_rng(1).permutation(len(x))  # DataLoader(shuffle=True), seeded
    return x[order], y[order]


def _build(framework: str, labels_after_shuffle: bool) -> dict[str, Any]:
    x, y = _arrays(labels_after_shuffle)  # (192, 3, 32, 32) channels-first, (192, 6)
    num_classes = y.shape[1]
    widths, strides = (8, 16, 32, 64), (1, 2, 2, 2)
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(0)

        class BasicBlock(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.bn1 = nn.BatchNorm2d(cout)
                self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.bn2 = nn.BatchNorm2d(cout)
                self.down = None
                if stride != 1 or cin != cout:
                    self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

            def forward(self, x):
                idt = x if self.down is None else self.down(x)
                out = torch.relu(self.bn1(self.conv1(x)))
                return torch.relu(self.bn2(self.conv2(out)) + idt)

        class ResNet(nn.Module):  # stands in for torchvision resnet50 with model.fc = Linear(.., num_classes)
            def __init__(self):
                super().__init__()
                self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                          nn.ReLU())
                blocks, cin = [], widths[0]
                for w, s in zip(widths, strides):
                    blocks.append(BasicBlock(cin, w, s))
                    cin = w
                self.layers = nn.Sequential(*blocks)
                self.fc = nn.Linear(cin, num_classes)
                for m in self.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

            def forward(self, x):
                return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))

        class MultiPlantPathology(nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x):
                return torch.sigmoid(self.model(x))

        model = MultiPlantPathology(ResNet())
        bce = nn.BCEWithLogitsLoss()

        def compute_loss(y_hat, y):
            return bce(y_hat, y.to(float).to(y_hat.dtype))

        tx, ty = torch.tensor(x), torch.tensor(y)
        tb = [(tx[i:i + batch_size], ty[i:i + batch_size]) for i in range(0, len(tx), batch_size)]
        # one batch of the program's own size (128) for input_independent_baseline, which holds samples out
        return {"model": model, "batch": (tx[:PROGRAM_BATCH], ty[:PROGRAM_BATCH]), "batches": tb, "inputs": tx,
                "loss_fn": compute_loss,
                "optimizer": lambda params: torch.optim.AdamW(params, lr=lr)}

    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    xk = np.transpose(x, (0, 2, 3, 1)).copy()  # channels-last for Keras

    def bn():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def basic_block(h, cin, cout, stride):
        idt = h
        if stride != 1 or cin != cout:
            idt = bn()(layers.Conv2D(cout, 1, stride, use_bias=False, kernel_initializer="he_normal")(h))
        out = layers.ReLU()(bn()(layers.Conv2D(cout, 3, stride, padding="same", use_bias=False,
                                               kernel_initializer="he_normal")(h)))
        out = bn()(layers.Conv2D(cout, 3, 1, padding="same", use_bias=False, kernel_initializer="he_normal")(out))
        return layers.ReLU()(layers.Add()([out, idt]))

    inp = keras.Input((img_size, img_size, 3))
    h = layers.ReLU()(bn()(layers.Conv2D(widths[0], 3, 1, padding="same", use_bias=False,
                                         kernel_initializer="he_normal")(inp)))
    cin = widths[0]
    for w, s in zip(widths, strides):
        h = basic_block(h, cin, w, s)
        cin = w
    h = layers.GlobalAveragePooling2D()(h)
    out = layers.Activation("sigmoid")(layers.Dense(num_classes)(h))  # forward: torch.sigmoid(self.model(x))
    model = keras.Model(inp, out)
    def compute_loss(y, y_hat):  # BCEWithLogitsLoss(y_hat, y) = softplus(y_hat) - y * y_hat, on the sigmoid output
        return ops.mean(ops.softplus(y_hat) - y * y_hat)

    model.compile(loss=compute_loss, optimizer=keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01))
    kb = [(xk[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(xk), batch_size)]
    return {"model": model, "batch": (xk[:PROGRAM_BATCH], y[:PROGRAM_BATCH]), "batches": kb, "inputs": xk}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, labels_after_shuffle=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, labels_after_shuffle=True)
