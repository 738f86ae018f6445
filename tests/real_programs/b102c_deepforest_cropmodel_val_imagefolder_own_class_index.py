"""weecology/DeepForest (tree / bird detection in airborne imagery), ``src/deepforest/model.py`` ``CropModel``: a
PyTorch Lightning module that classifies the crops cut out around detections (``write_crops`` saves them as
``savedir/<label>/<image>_<i>.png``). ``load_from_disk(train_dir, val_dir)`` reads the two crop directories with
torchvision's ``ImageFolder``, ``create_model`` builds ``simple_resnet_50`` (``models.resnet50(weights=
ResNet50_Weights.DEFAULT)`` with a new ``fc = Linear(num_ftrs, num_classes)``), ``get_transform``: ToTensor,
Normalize(ImageNet mean / std), Resize([224, 224]), RandomHorizontalFlip(0.5) for training;
``training_step`` / ``validation_step``: ``F.cross_entropy(outputs, y)``; Adam(lr=1e-4); batch_size=4; the
validation metrics are torchmetrics accuracy / per-class accuracy / precision on the val_dataloader's targets,
logged per class under the names of ``numeric_to_label_dict`` (the inverse of ``label_dict``).

The fault (the class-index mapping of the validation split): the buggy ``load_from_disk`` does

    self.train_ds = ImageFolder(root=train_dir, transform=self.get_transform(augment=True))
    self.val_ds = ImageFolder(root=val_dir, transform=self.get_transform(augment=False))
    self.label_dict = self.train_ds.class_to_idx

Each ``ImageFolder`` numbers the sub-folders of ITS OWN root in sorted order. When the validation directory lacks a
class that the training directory has (a rare class with no validation crop, which is what happens in a real survey),
every class that sorts after the missing one gets a validation index one lower than its training index: the
validation targets no longer mean what the model's outputs (and ``label_dict`` / ``numeric_to_label_dict``) mean.
The training batches are untouched, but validation loss, accuracy, per-class accuracy and ``val_dataset_confusion``
measure the model against wrongly-numbered labels: correct predictions are scored wrong, and the per-class metric
under one name is another class's. It reaches training too: ``configure_optimizers`` returns
ReduceLROnPlateau(factor 0.5, patience 10) with ``"monitor": "val_loss"``, so the learning rate is halved on a loss
against mis-numbered targets (and any checkpoint / early stopping a user puts on val_loss picks by it). The
maintainer met it as "high Accuracy, but low per-class accuracy" in the BOEM pipeline and wrote: "if the val and
train dataset don't have the same length, there is an off-by-one error"; the fix builds one mapping for both splits.

Source: github.com/weecology/DeepForest ``src/deepforest/model.py`` ``CropModel.load_from_disk`` at
394cf61ff2de2e05b148e910e3ba2590444834a1 (= bb392b68^1, the parent of the merge); PR #1147 "Ensure train and val
dataset have the same index mapping for CropModel" (bw4sz, merged by jveitchmichaelis as
bb392b685f2261bb2868b8ea49cd34cfc0fcd3b0 on 2025-10-01); fixing commit 7b339f5f6fa22e5b9cd6f3652d566977fa006fee
"Ensure that the CropModel index order is the same regardless of whether train or validation datasets have the exact
same classes": ``create_aligned_image_folders(train_dir, val_dir, ...)`` in ``src/deepforest/datasets/training.py``
takes the sorted union of the class folders of both roots as one ``class_to_idx`` and builds both datasets with it
(``FixedClassImageFolder``).
Fault label: label_mapping_mismatch (the validation split's class ids come from its own folder list, not the
training split's mapping).

Program lines kept: the two ``ImageFolder(root=...)`` calls and ``label_dict = train_ds.class_to_idx`` (buggy), the
union mapping of ``create_aligned_image_folders`` (fixed), torchvision's ``find_classes`` rule (sorted sub-folder
names of one root, indexed from 0) and ``make_dataset`` order (class by class, sorted), the Normalize constants,
``F.cross_entropy``, Adam lr 1e-4 over the model's parameters, batch 4, a new ``fc`` on a ResNet-50 with
``num_classes = len(label_dict)``.
Replaced / shrunk, and why:
- torchvision is not installed here, so ``ImageFolder`` is re-implemented on in-memory "directories" ({folder name:
  crops}) with torchvision's own class-numbering rule, and ``models.resnet50`` is re-written (Bottleneck blocks
  [3, 4, 6, 3], expansion 4, 7x7 stride-2 stem + max-pool, global average pool, torchvision's init); depth kept.
- Widths divided by 8 (stem 8, stages 8/16/32/64 -> 256 features instead of 2048) and crops 32x32 instead of
  Resize([224, 224]) (the Resize is then a no-op): the full ResNet-50 took ~0.5 s a step at 32x32 on one core,
  the shrunk one ~20-60 ms.
- ``ResNet50_Weights.DEFAULT`` cannot be downloaded. From random init the network barely learned at lr 1e-4 / batch 4
  (train loss 1.7 after 1200 steps), unlike the ImageNet-initialised original, so a stand-in pre-training is done
  once per process (cached, ~15 s of CPU): the same shrunk ResNet-50 trained 300 Adam(1e-3) steps of batch 32 on
  another crop task (20 other object colours / sizes, seed 1), then ``fc`` replaced as ``simple_resnet_50`` does.
- RandomHorizontalFlip is drawn once per training crop (seeded) when the batches are built; DataLoader(shuffle=True)
  is one seeded permutation.
Ported: torch only. The fault is torchvision ``ImageFolder``'s per-root numbering inside a Lightning module; Keras'
``image_dataset_from_directory`` would number each directory the same way, but a Keras twin would need its own
shrunk ResNet-50 and pre-training stand-in, and it was not written.
Data stand-in (no survey crops): 32x32 RGB uint8 "aerial" crops, sea-coloured noisy background, one animal per crop
drawn as an ellipse of its class's colour and size (jittered), random position / orientation, a shadow rim and pixel
noise. Five class folders Bird, Dolphin, Seal, Shark, Turtle (300 crops each); train_dir holds 200 of each class,
val_dir the other 100 of every class except Dolphin (the missing rare class). So the buggy mapping is train {Bird 0,
Dolphin 1, Seal 2, Shark 3, Turtle 4} vs val {Bird 0, Seal 1, Shark 2, Turtle 3}; the fixed one numbers both splits
like the training split. ``batches``: 100 training batches of 4 (one shuffled pass over 400 crops), ``batch`` the
first (identical in both versions: the training labels do not change); ``inputs``: 200 validation crops (in
val_dataloader order). For ``label_roundtrip``: ``labels`` the class-folder names of those 200 crops, ``encode`` the
name -> target mapping of the validation ``ImageFolder``, ``decode`` the index -> name mapping the module uses for
model outputs (``numeric_to_label_dict`` from ``label_dict``); both take one label or a sequence.

Measured (my own plain loop, /tmp/s59/p/b102c/measure.py on the module's builds: 600 steps = the 100 batches cycled
6 times, ``model.train()``, zero_grad / forward / F.cross_entropy / backward / step; then ``model.eval()``; torch
seed 0, OMP_NUM_THREADS=1):
  training: identical in both versions (same labels, same init): cross-entropy 50-step means 1.87 1.49 1.37 1.35
    1.35 1.27 1.34 1.27 1.31 1.27 1.27 1.28; accuracy on the 400 training crops 0.60; loss at init on ``batch``
    1.39 (eval mode) / 1.67 (train mode), ln 5 = 1.61.
  validation (200 crops, against the targets the val_dataloader yields):
    buggy  loss 1.40, accuracy 0.325; per class Bird 0.92, Seal 0.12, Shark 0.00, Turtle 0.24
    fixed  loss 0.93, accuracy 0.705; per class Bird 0.92, Seal 0.41, Shark 0.84, Turtle 0.67
    (the same predictions; read through ``numeric_to_label_dict`` both models get 0.705 of the crops' folders right.
    Only Bird, which sorts before the missing Dolphin, keeps its index.)
  decode(encode(labels)) == labels for 0.25 of the 200 validation crops (the Birds) buggy, 1.00 fixed.
  So the fault shows as validation figures that say the model is much worse than it is (and rank checkpoints on a
  loss against mis-numbered targets), per-class results filed under the wrong class; training curves cannot show it.
  Before the stand-in pre-training (random init, an earlier draft of the stand-in with closer class colours, 300
  steps) the model learned little and the gap hid in the noise: val accuracy buggy 0.325 / fixed 0.31, train
  accuracy 0.34; hence the pre-training stand-in and the more distinct colours.
  Time: ~20-60 ms per step (batch 4, one thread, shared machine); first build ~15 s CPU (the pre-training stand-in),
  later builds ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "label_mapping_mismatch"
SOURCE = ("github:weecology/DeepForest PR #1147 'Ensure train and val dataset have the same index mapping for "
          "CropModel' (src/deepforest/model.py CropModel.load_from_disk @394cf61ff2de2e05b148e910e3ba2590444834a1 = "
          "bb392b68^1: two separate ImageFolder(root=train_dir) / ImageFolder(root=val_dir), label_dict = "
          "train_ds.class_to_idx; fix 7b339f5f6fa22e5b9cd6f3652d566977fa006fee: create_aligned_image_folders in "
          "src/deepforest/datasets/training.py, merged bb392b685f2261bb2868b8ea49cd34cfc0fcd3b0)")
FRAMEWORKS = ("torch",)

# the crop classes (folder names) of the stand-in; the validation folder has no crop of VAL_MISSING
CLASSES = ("Bird", "Dolphin", "Seal", "Shark", "Turtle")
VAL_MISSING = "Dolphin"
NUM_CLASSES = len(CLASSES)

CHECKS = [("label_roundtrip", {"num_classes": NUM_CLASSES}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("init_loss", {"num_classes": NUM_CLASSES})]

BATCH_SIZE = 4  # CropModel(batch_size=4)
LR = 0.0001  # CropModel(lr=0.0001), torch.optim.Adam
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # CropModel.normalize
SIZE = 32  # transforms.Resize([224, 224]) in the program; shrunk (see the docstring)
WIDTH = 8  # ResNet-50's stem / stage widths 64-128-256-512 divided by 8 (see the docstring)
PRE_CLASSES = 20
PRE_STEPS = 300
N_TRAIN_PER_CLASS = 200
N_BATCHES = 100
N_INPUTS = 200
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _crops(seed: int = SEED, n_classes: int = NUM_CLASSES, n_per_class: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Aerial-survey-like RGB crops (n, 32, 32, 3) uint8 and class ids 0..4: sea-coloured noisy background
    (per-crop brightness), one animal per crop: an ellipse of its class's colour and size (class-specific mean,
    per-crop jitter), at a random position and orientation, with a darker shadow rim and pixel noise."""
    r = np.random.default_rng(seed)
    if seed == SEED:  # the survey's five classes
        colours = np.array([[235, 235, 225], [135, 140, 155], [150, 95, 40], [35, 40, 50], [110, 160, 35]], "float32")
        sizes = np.array([(5, 3), (11, 4), (7, 5), (12, 3), (6, 6)], "float32")  # half-axes in pixels
    else:  # other objects, for the stand-in of the ImageNet pre-training
        colours = r.uniform(30, 250, (n_classes, 3)).astype("float32")
        sizes = r.uniform(3, 12, (n_classes, 2)).astype("float32")
    n = n_per_class * n_classes
    y = np.arange(n) % n_classes
    r.shuffle(y)
    yy, xx = np.mgrid[0:32, 0:32].astype("float32")
    imgs = np.empty((n, 32, 32, 3), "float32")
    for i, c in enumerate(y):
        bg = np.array([20, 70, 100], "float32") * r.uniform(0.7, 1.3) + r.normal(0, 12, (32, 32, 3))
        cy, cx = r.uniform(10, 22, 2)
        th = r.uniform(0, np.pi)
        a, b = sizes[c] * r.uniform(0.8, 1.2, 2)
        u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
        v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
        d = (u / a) ** 2 + (v / b) ** 2
        col = colours[c] * r.uniform(0.85, 1.15, 3)
        img = np.where((d <= 1.0)[..., None], col, bg)
        img = np.where(((d > 1.0) & (d <= 1.6))[..., None], 0.6 * bg, img)
        imgs[i] = img + r.normal(0, 8, (32, 32, 3))
    return np.clip(imgs, 0, 255).astype("uint8"), y.astype("int64")


@functools.lru_cache(maxsize=1)
def _folders() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The two crop directories as {class folder name: uint8 crops (n, 32, 32, 3)}: train_dir holds all five
    classes, val_dir every class but VAL_MISSING (a rare class that no validation crop happened to have)."""
    x, y = _crops()
    train, val = {}, {}
    for c, name in enumerate(CLASSES):
        xc = x[y == c]
        train[name] = xc[:N_TRAIN_PER_CLASS]
        if name != VAL_MISSING:
            val[name] = xc[N_TRAIN_PER_CLASS:]
    return train, val


def _find_classes(root: dict[str, np.ndarray]) -> tuple[list[str], dict[str, int]]:
    """torchvision.datasets.folder.find_classes: the sorted sub-folder names of ONE root, indexed 0.."""
    classes = sorted(entry for entry in root)
    class_to_idx = {cls_name: i for i, cls_name in enumerate(classes)}
    return classes, class_to_idx


def _image_folder(root: dict[str, np.ndarray], class_to_idx: dict[str, int] | None = None) -> dict[str, Any]:
    """ImageFolder(root=...) (class_to_idx=None: its own find_classes) or the fix's FixedClassImageFolder(root,
    class_to_idx): the samples as (crop, target, folder name), class by class in sorted order."""
    if class_to_idx is None:
        _, class_to_idx = _find_classes(root)
    samples = [(img, class_to_idx[name], name) for name in sorted(root) if name in class_to_idx for img in root[name]]
    return {"class_to_idx": dict(class_to_idx), "samples": samples}


def load_from_disk(aligned: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """CropModel.load_from_disk(train_dir, val_dir): train_ds, val_ds and label_dict."""
    train_dir, val_dir = _folders()
    if aligned:  # the fix (7b339f5f): create_aligned_image_folders(train_dir, val_dir, ...)
        union_classes = sorted(set(train_dir).union(set(val_dir)))
        class_to_idx = {name: idx for idx, name in enumerate(union_classes)}
        train_ds = _image_folder(train_dir, class_to_idx=class_to_idx)
        val_ds = _image_folder(val_dir, class_to_idx=class_to_idx)
    else:  # the program: self.train_ds = ImageFolder(root=train_dir, ...); self.val_ds = ImageFolder(root=val_dir, ...)
        train_ds = _image_folder(train_dir)
        val_ds = _image_folder(val_dir)
    label_dict = train_ds["class_to_idx"]  # self.label_dict = self.train_ds.class_to_idx
    return train_ds, val_ds, label_dict


def _transform(crops: np.ndarray, flip: np.ndarray | None = None) -> np.ndarray:
    """get_transform: ToTensor (HWC uint8 -> CHW float in [0, 1]), Normalize(ImageNet mean / std), Resize (no-op at
    SIZE = 32), RandomHorizontalFlip(0.5) for the training crops (drawn once, seeded)."""
    x = crops.astype("float32").transpose(0, 3, 1, 2) / 255.0
    x = (x - np.array(MEAN, "float32")[:, None, None]) / np.array(STD, "float32")[:, None, None]
    if flip is not None:
        x[flip] = x[flip][..., ::-1]
    return np.ascontiguousarray(x)


@functools.lru_cache(maxsize=2)
def _arrays(aligned: bool) -> dict[str, Any]:
    train_ds, val_ds, label_dict = load_from_disk(aligned)
    r = np.random.default_rng(SEED)
    tr = train_ds["samples"]
    order = r.permutation(len(tr))[:N_BATCHES * BATCH_SIZE]  # DataLoader(shuffle=True), one pass
    xt = _transform(np.stack([tr[i][0] for i in order]), flip=r.random(len(order)) < 0.5)
    yt = np.array([tr[i][1] for i in order], "int64")
    va = val_ds["samples"]
    pick = np.sort(r.permutation(len(va))[:N_INPUTS])
    xv = _transform(np.stack([va[i][0] for i in pick]))
    yv = np.array([va[i][1] for i in pick], "int64")  # the targets the val_dataloader hands to validation_step
    names_v = [va[i][2] for i in pick]  # the class folder each held-out crop came from
    return {"xt": xt, "yt": yt, "xv": xv, "yv": yv, "names_v": names_v,
            "val_class_to_idx": val_ds["class_to_idx"], "label_dict": label_dict}


def _codec(val_class_to_idx: dict[str, int], label_dict: dict[str, int]) -> tuple[Any, Any]:
    """encode: class name -> the target the validation ImageFolder gives it; decode: model output index -> class name
    via numeric_to_label_dict (built from label_dict = train_ds.class_to_idx), as on_validation_epoch_end and the
    prediction code read it. Both take one label or a sequence."""
    numeric_to_label_dict = {v: k for k, v in label_dict.items()}

    def encode(labels: Any) -> Any:
        if isinstance(labels, str):
            return val_class_to_idx[labels]
        return np.array([val_class_to_idx[str(label)] for label in labels], "int64")

    def decode(ids: Any) -> Any:
        if np.ndim(ids) == 0:
            return numeric_to_label_dict[int(ids)]
        return [numeric_to_label_dict[int(i)] for i in np.asarray(ids).ravel()]

    return encode, decode


# ----------------------------------------------------------------------------------------------------------- model

def _resnet50(num_classes: int, width: int, pretrained: dict[str, Any] | None = None) -> Any:
    """torchvision.models.resnet50 (Bottleneck blocks [3, 4, 6, 3], expansion 4, 7x7 stride-2 stem, max-pool,
    global average pool, fc to num_classes), torchvision's init; widths divided by 64 / width."""
    import torch
    import torch.nn as nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * self.expansion)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self, layers: list[int], num_classes: int):
            super().__init__()
            self.inplanes = width
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(width, layers[0])
            self.layer2 = self._make_layer(2 * width, layers[1], 2)
            self.layer3 = self._make_layer(4 * width, layers[2], 2)
            self.layer4 = self._make_layer(8 * width, layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * width * Bottleneck.expansion, 1000)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> Any:
            downsample = None
            if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride,
                                                     bias=False), nn.BatchNorm2d(planes * Bottleneck.expansion))
            layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * Bottleneck.expansion
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    # simple_resnet_50: models.resnet50(weights=models.ResNet50_Weights.DEFAULT) then a new fc
    m = ResNet([3, 4, 6, 3], num_classes)
    if pretrained is not None:
        m.load_state_dict(pretrained)
    num_ftrs = m.fc.in_features
    m.fc = torch.nn.Linear(num_ftrs, num_classes)
    return m


@functools.lru_cache(maxsize=1)
def _pretrained() -> dict[str, Any]:
    """Stand-in for ResNet50_Weights.DEFAULT (no download): the shrunk ResNet-50 trained, seeded, on another
    crop task (PRE_CLASSES other object colours / sizes, batch 32, Adam 1e-3, PRE_STEPS steps); its state dict."""
    import torch
    import torch.nn.functional as F

    x, y = _crops(seed=SEED + 1, n_classes=PRE_CLASSES, n_per_class=200)
    x, y = torch.tensor(_transform(x)), torch.tensor(y)
    torch.manual_seed(SEED + 1)
    m = _resnet50(num_classes=1000, width=WIDTH)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(SEED + 1)
    m.train()
    for _ in range(PRE_STEPS):
        i = torch.randint(0, len(x), (32,), generator=g)
        opt.zero_grad()
        F.cross_entropy(m(x[i]), y[i]).backward()
        opt.step()
    m.eval()
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _build(aligned: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    a = _arrays(aligned)
    torch.manual_seed(SEED)
    pretrained = _pretrained()
    torch.manual_seed(SEED)
    # create_model(num_classes=len(label_dict)) -> simple_resnet_50(num_classes)
    model = _resnet50(num_classes=len(a["label_dict"]), width=WIDTH, pretrained=pretrained)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)  # configure_optimizers

    def loss_fn(outputs, y):  # training_step / validation_step: F.cross_entropy(outputs, y)
        return F.cross_entropy(outputs, y)

    xt, yt = torch.tensor(a["xt"]), torch.tensor(a["yt"])
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    encode, decode = _codec(a["val_class_to_idx"], a["label_dict"])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(a["xv"]),
            "loss_fn": loss_fn, "optimizer": optimizer,
            "encode": encode, "decode": decode, "labels": list(a["names_v"])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(aligned=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(aligned=True)
