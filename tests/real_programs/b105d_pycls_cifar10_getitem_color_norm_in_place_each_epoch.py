"""facebookresearch/pycls (FAIR's image-classification codebase, 2019-2020): CIFAR-10 ResNet training
(``configs/cifar/resnet/R-56_nds_1gpu.yaml``: ResNet-56 with ``basic_transform``, SGD lr 0.1, momentum 0.9, Nesterov,
weight decay 5e-4 (0 on BN), cosine schedule over 200 epochs, batch 128, ``cross_entropy``) with the data loader set to
run in the main process (``DATA_LOADER.NUM_WORKERS 0``).

The fault (the training loop's data step, an in-place update): ``Cifar10.__getitem__`` hands a VIEW of the dataset's
stored array (``self._inputs[index, ...]``) to ``_prepare_im``, whose first transform ``transforms.color_norm``
writes ``im[i] = im[i] - mean[i]; im[i] = im[i] / std[i]`` into that view. Every time the loop draws an image it
normalises the copy held in memory once more. With ``NUM_WORKERS 0`` the dataset object lives for the whole run, so
epoch 1 sees (x - m) / s, epoch 2 ((x - m) / s - m) / s, and so on: each epoch divides the pixel differences between
images by s (~63) again and pulls every pixel to the fixed point -m / (s - 1) (~-2.0 per channel). After 2 to 3
epochs the images carry almost nothing but the zero padding of the random crop; the network stops learning and
then forgets. (With the default 4 workers each epoch's fresh worker processes get a pickled copy of the untouched
array, which hid the bug.) The test split is built by the same class, so every evaluation squashes the test images
once more too.

Source: github.com/facebookresearch/pycls ``pycls/datasets/cifar10.py`` (``Cifar10.__getitem__`` / ``_prepare_im``)
with ``pycls/datasets/transforms.py`` ``color_norm``, ``zero_pad``, ``horizontal_flip``, ``random_crop``,
``pycls/models/resnet.py``, ``pycls/utils/net.py`` ``init_weights``, ``pycls/core/optimizer.py``
``construct_optimizer``, ``tools/train_net.py`` ``train_epoch``, ``pycls/datasets/loader.py`` at
996cb1d (initial commit) = 8079cbf^; fixed by PR #21, commit 8079cbf3b928ca9bb324cd82773f20adfbb5ce6a "Fixed Cifar10
dataset __getitem__ transformations modifying loaded data permanently". The PR's description: the dataset class did
its augmentation in place, so each ``__getitem__`` changed the loaded data for good; it went unnoticed because the
loader's worker processes got unmodified copies; with ``DATA_LOADER.NUM_WORKERS=0`` the model "fails to train after
~3 epochs". The fix: ``im, label = self._inputs[index, ...].copy(), self._labels[index]``.

Fault label: no_input_signal|inputs_not_normalized (the training images are normalised again every epoch: their
spread shrinks by ~1/63 an epoch until they are near-constant, ~-2, in every pixel; the label rests on what the
inputs lose, not on the model).

Program lines kept verbatim: ``__getitem__`` (buggy: without ``.copy()``, fixed: with it), ``_prepare_im``, the
``_MEAN`` / ``_SD`` constants, ``color_norm``, ``zero_pad``, ``horizontal_flip``, ``random_crop``, the ResNet classes
(``ResHead``, ``BasicTransform``, ``ResBlock``, ``ResStage``, ``ResStem`` cifar branch, ``ResNet._construct_cifar``
with its widths halved, see below; ``get_trans_fun`` resolved to ``BasicTransform``) with ``cfg`` read from a small
namespace holding the config's values, ``init_weights`` (conv N(0, sqrt(2 / fan_out)),
BN gamma 1, linear N(0, 0.01)), ``construct_optimizer`` (BN params without weight decay, SGD 0.1 / 0.9 / Nesterov /
5e-4), ``nn.CrossEntropyLoss``, the loader's ``batch_size=128, shuffle=True, drop_last=True`` for training and
batch 200 unshuffled for test, and the plain loop body ``preds = model(inputs); loss = loss_fun(preds, labels);
optimizer.zero_grad(); loss.backward(); optimizer.step()`` (so no ``train_step`` is given).
Shrunk / replaced: ResNet-56 (9 blocks a stage, widths 16/32/64) -> ResNet-8 (DEPTH 8, one block a stage) with the
widths halved to 8/16/32, so that a step of batch 128 on 32x32 images fits one CPU core (the full widths took
~0.5-0.7 s a step here); ``cuda()`` calls dropped; the cosine lr (0.1 x (1 + cos(pi e / 200)) / 2) stays within
0.3 % of 0.1 over the 8 epochs simulated, so the optimizer keeps lr 0.1; ``compute_precise_bn_stats``, the
checkpointing and the logging / meters are left out. Pickle loading is replaced by the stand-in below (same layout:
(n, 3, 32, 32) float32 0..255, a list of int labels).
Data stand-in (no CIFAR-10 download): ``_data.cifar_like(1536)`` (scikit-learn digits blown up 4x4 over noisy
coloured backgrounds, channel means ~110-125), moved to CHW float32; the first 1280 images are the training split
(10 batches of 128 an epoch), the last 256 the test split. The module runs the program's data path itself with
``num_workers=0`` (numpy and torch seeded): ``batches`` are the 80 training batches the loader yields in epochs 1-8,
in order (buggy: epoch 1 normalised once, epoch 2 twice, ...); ``batch`` is the first batch of epoch 3 (the epoch
from which the PR says training fails); ``inputs`` are the 256 test images as the test loader yields them at the
third evaluation (after epoch 3). Both versions draw the same shuffles, flips and crops.

Measured (my own plain loop, /tmp/s60/p/qd/measure.py, on the module's builds: the kept loop body over the 80
batches in order = 8 epochs, torch seed 0, OMP_NUM_THREADS=1):
  spread between the images of a batch (std over the batch, mean over the 16x16 centre pixels), epochs 1-8:
    buggy 0.80 / 0.012 / 2e-4 / 3e-6 / 7e-8 / 0 / 0 / 0 (float32 can no longer tell the images apart from epoch 6;
    what is left is the zero padding of the random crop against the ~-2 images, batch std ~0.63), fixed ~0.80 in
    every epoch (batch std 0.74-0.76);
  training loss, mean over each epoch's 10 steps: buggy 2.30 / 2.31 / 2.31 / 2.32 / 2.32 / 2.31 / 2.31 / 2.31,
    fixed 2.30 / 2.25 / 2.12 / 2.11 / 1.93 / 1.81 / 1.76 / 1.38;
  training accuracy: buggy 0.12 in epoch 1, 0.09-0.10 in epochs 2-8 (chance), fixed 0.12 -> 0.23 (epoch 3) -> 0.48
    (epoch 8); after the 8 epochs, on the ``inputs`` test images (model.eval()): buggy 0.10, fixed 0.16 (the small
    fixed model is still early in training).
  Time: ~0.2-0.28 s a step (batch 128, one thread, on a shared 2-core machine under load ~5); build: first ~9 s
    (imports, data path), later ~1.5 s.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np

LABEL = "no_input_signal|inputs_not_normalized"
SOURCE = ("github:facebookresearch/pycls PR #21, fix 8079cbf3b928ca9bb324cd82773f20adfbb5ce6a 'Fixed Cifar10 dataset "
          "__getitem__ transformations modifying loaded data permanently' (pycls/datasets/cifar10.py "
          "Cifar10.__getitem__ 'im, label = self._inputs[index, ...], self._labels[index]' + transforms.py color_norm "
          "in place, @8079cbf^ = 996cb1d; configs/cifar/resnet/R-56_nds_1gpu.yaml with DATA_LOADER.NUM_WORKERS 0)")
FRAMEWORKS = ("torch",)
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("input_independent_baseline", {}), ("not_constant_predictions", {})]

SEED = 0
N_TRAIN = 1280
N_TEST = 256
EPOCHS = 8
BATCH_EPOCH = 3  # ``batch``: the first training batch of this epoch (1-based)
EVAL_EPOCH = 3  # ``inputs``: the test images at the evaluation after this epoch

cfg = SimpleNamespace(  # the values of configs/cifar/resnet/R-56_nds_1gpu.yaml + pycls/core/config.py defaults
    MODEL=SimpleNamespace(DEPTH=8, NUM_CLASSES=10),  # DEPTH 56 in the config: shrunk
    RESNET=SimpleNamespace(TRANS_FUN="basic_transform"),
    BN=SimpleNamespace(EPS=1e-5, MOM=0.1, ZERO_INIT_FINAL_GAMMA=False, WEIGHT_DECAY=0.0),
    MEM=SimpleNamespace(RELU_INPLACE=True),
    OPTIM=SimpleNamespace(BASE_LR=0.1, MOMENTUM=0.9, DAMPENING=0.0, NESTEROV=True, WEIGHT_DECAY=0.0005),
    TRAIN=SimpleNamespace(DATASET="cifar10", BATCH_SIZE=128, IM_SIZE=32),
    TEST=SimpleNamespace(DATASET="cifar10", BATCH_SIZE=200),
    DATA_LOADER=SimpleNamespace(NUM_WORKERS=0, PIN_MEMORY=False),
)

# Per-channel mean and SD values in BGR order
_MEAN = [125.3, 123.0, 113.9]
_SD = [63.0, 62.1, 66.7]


# ---- pycls/datasets/transforms.py (verbatim) ----
def color_norm(im: np.ndarray, mean: list, std: list) -> np.ndarray:
    """Performs per-channel normalization (CHW format)."""
    for i in range(im.shape[0]):
        im[i] = im[i] - mean[i]
        im[i] = im[i] / std[i]
    return im


def zero_pad(im: np.ndarray, pad_size: int) -> np.ndarray:
    """Performs zero padding (CHW format)."""
    pad_width = ((0, 0), (pad_size, pad_size), (pad_size, pad_size))
    return np.pad(im, pad_width, mode='constant')


def horizontal_flip(im: np.ndarray, p: float, order: str = 'CHW') -> np.ndarray:
    """Performs horizontal flip (CHW or HWC format)."""
    assert order in ['CHW', 'HWC']
    if np.random.uniform() < p:
        if order == 'CHW':
            im = im[:, :, ::-1]
        else:
            im = im[:, ::-1, :]
    return im


def random_crop(im: np.ndarray, size: int, pad_size: int = 0) -> np.ndarray:
    """Performs random crop (CHW format)."""
    if pad_size > 0:
        im = zero_pad(im=im, pad_size=pad_size)
    h, w = im.shape[1:]
    y = np.random.randint(0, h - size)
    x = np.random.randint(0, w - size)
    im_crop = im[:, y:(y + size), x:(x + size)]
    assert im_crop.shape[1:] == (size, size)
    return im_crop


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, list, np.ndarray, list]:
    """The stand-in for ``Cifar10._load_data``: (n, 3, 32, 32) float32 0..255 and a list of int labels."""
    from tests.real_programs._data import cifar_like

    x, y = cifar_like(N_TRAIN + N_TEST, seed=SEED)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)
    return x[:N_TRAIN], [int(v) for v in y[:N_TRAIN]], x[N_TRAIN:], [int(v) for v in y[N_TRAIN:]]


@functools.lru_cache(maxsize=2)
def _pipeline(copy_fix: bool) -> tuple[list, np.ndarray]:
    """Runs the program's data path for EPOCHS epochs (train loader, then the test loader after each epoch), with
    ``NUM_WORKERS 0``: the training batches in order and the test images at evaluation EVAL_EPOCH."""
    import torch
    import torch.utils.data

    class Cifar10(torch.utils.data.Dataset):
        """CIFAR-10 dataset."""

        def __init__(self, inputs, labels, split):
            self._split = split
            self._inputs, self._labels = inputs.copy(), list(labels)  # the loaded (pickled) data

        def _prepare_im(self, im):
            """Prepares the image for network input."""
            im = color_norm(im, _MEAN, _SD)
            if self._split == 'train':
                im = horizontal_flip(im=im, p=0.5)
                im = random_crop(
                    im=im, size=cfg.TRAIN.IM_SIZE, pad_size=4
                )
            return im

        def __getitem__(self, index):
            if copy_fix:  # the fix (8079cbf)
                im, label = self._inputs[index, ...].copy(), self._labels[index]
            else:
                im, label = self._inputs[index, ...], self._labels[index]
            im = self._prepare_im(im)
            return im, label

        def __len__(self):
            return self._inputs.shape[0]

    x_tr, y_tr, x_te, y_te = _raw()
    np.random.seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    train_loader = torch.utils.data.DataLoader(
        Cifar10(x_tr, y_tr, 'train'), batch_size=cfg.TRAIN.BATCH_SIZE, shuffle=True, generator=gen,
        num_workers=cfg.DATA_LOADER.NUM_WORKERS, pin_memory=cfg.DATA_LOADER.PIN_MEMORY, drop_last=True)
    test_loader = torch.utils.data.DataLoader(
        Cifar10(x_te, y_te, 'test'), batch_size=cfg.TEST.BATCH_SIZE, shuffle=False,
        num_workers=cfg.DATA_LOADER.NUM_WORKERS, pin_memory=cfg.DATA_LOADER.PIN_MEMORY, drop_last=False)
    batches, test_x = [], None
    for epoch in range(EPOCHS):
        for inputs, labels in train_loader:
            batches.append((inputs.numpy().copy(), labels.numpy().copy()))
        xs = np.concatenate([inputs.numpy() for inputs, _ in test_loader])
        if epoch + 1 == EVAL_EPOCH:
            test_x = xs.copy()
    return batches, test_x


def _build(copy_fix: bool) -> dict[str, Any]:
    import math

    import torch
    import torch.nn as nn

    class ResHead(nn.Module):
        """ResNet head."""

        def __init__(self, w_in, nc):
            super(ResHead, self).__init__()
            self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(w_in, nc, bias=True)

        def forward(self, x):
            x = self.avg_pool(x)
            x = x.view(x.size(0), -1)
            x = self.fc(x)
            return x

    class BasicTransform(nn.Module):
        """Basic transformation: 3x3, 3x3"""

        def __init__(self, w_in, w_out, stride, w_b=None, num_gs=1):
            assert w_b is None and num_gs == 1, \
                'Basic transform does not support w_b and num_gs options'
            super(BasicTransform, self).__init__()
            self._construct(w_in, w_out, stride)

        def _construct(self, w_in, w_out, stride):
            # 3x3, BN, ReLU
            self.a = nn.Conv2d(
                w_in, w_out, kernel_size=3,
                stride=stride, padding=1, bias=False
            )
            self.a_bn = nn.BatchNorm2d(w_out, eps=cfg.BN.EPS, momentum=cfg.BN.MOM)
            self.a_relu = nn.ReLU(inplace=cfg.MEM.RELU_INPLACE)
            # 3x3, BN
            self.b = nn.Conv2d(
                w_out, w_out, kernel_size=3,
                stride=1, padding=1, bias=False
            )
            self.b_bn = nn.BatchNorm2d(w_out, eps=cfg.BN.EPS, momentum=cfg.BN.MOM)
            self.b_bn.final_bn = True

        def forward(self, x):
            for layer in self.children():
                x = layer(x)
            return x

    class ResBlock(nn.Module):
        """Residual block: x + F(x)"""

        def __init__(self, w_in, w_out, stride, trans_fun, w_b=None, num_gs=1):
            super(ResBlock, self).__init__()
            self._construct(w_in, w_out, stride, trans_fun, w_b, num_gs)

        def _add_skip_proj(self, w_in, w_out, stride):
            self.proj = nn.Conv2d(
                w_in, w_out, kernel_size=1,
                stride=stride, padding=0, bias=False
            )
            self.bn = nn.BatchNorm2d(w_out, eps=cfg.BN.EPS, momentum=cfg.BN.MOM)

        def _construct(self, w_in, w_out, stride, trans_fun, w_b, num_gs):
            # Use skip connection with projection if shape changes
            self.proj_block = (w_in != w_out) or (stride != 1)
            if self.proj_block:
                self._add_skip_proj(w_in, w_out, stride)
            self.f = trans_fun(w_in, w_out, stride, w_b, num_gs)
            self.relu = nn.ReLU(cfg.MEM.RELU_INPLACE)

        def forward(self, x):
            if self.proj_block:
                x = self.bn(self.proj(x)) + self.f(x)
            else:
                x = x + self.f(x)
            x = self.relu(x)
            return x

    class ResStage(nn.Module):
        """Stage of ResNet."""

        def __init__(self, w_in, w_out, stride, d, w_b=None, num_gs=1):
            super(ResStage, self).__init__()
            self._construct(w_in, w_out, stride, d, w_b, num_gs)

        def _construct(self, w_in, w_out, stride, d, w_b, num_gs):
            # Construct the blocks
            for i in range(d):
                # Stride and w_in apply to the first block of the stage
                b_stride = stride if i == 0 else 1
                b_w_in = w_in if i == 0 else w_out
                # Retrieve the transformation function
                trans_fun = BasicTransform  # get_trans_fun(cfg.RESNET.TRANS_FUN)
                # Construct the block
                res_block = ResBlock(
                    b_w_in, w_out, b_stride, trans_fun, w_b, num_gs
                )
                self.add_module('b{}'.format(i + 1), res_block)

        def forward(self, x):
            for block in self.children():
                x = block(x)
            return x

    class ResStem(nn.Module):
        """Stem of ResNet (the cifar branch)."""

        def __init__(self, w_in, w_out):
            super(ResStem, self).__init__()
            self._construct_cifar(w_in, w_out)

        def _construct_cifar(self, w_in, w_out):
            # 3x3, BN, ReLU
            self.conv = nn.Conv2d(
                w_in, w_out, kernel_size=3,
                stride=1, padding=1, bias=False
            )
            self.bn = nn.BatchNorm2d(w_out, eps=cfg.BN.EPS, momentum=cfg.BN.MOM)
            self.relu = nn.ReLU(cfg.MEM.RELU_INPLACE)

        def forward(self, x):
            for layer in self.children():
                x = layer(x)
            return x

    def init_weights(m):
        """Performs ResNet-style weight initialization."""
        if isinstance(m, nn.Conv2d):
            # Note that there is no bias due to BN
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(mean=0.0, std=math.sqrt(2.0 / fan_out))
        elif isinstance(m, nn.BatchNorm2d):
            zero_init_gamma = (
                hasattr(m, 'final_bn') and m.final_bn and
                cfg.BN.ZERO_INIT_FINAL_GAMMA
            )
            m.weight.data.fill_(0.0 if zero_init_gamma else 1.0)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            m.weight.data.normal_(mean=0.0, std=0.01)
            m.bias.data.zero_()

    class ResNet(nn.Module):
        """ResNet model (the cifar branch)."""

        def __init__(self):
            super(ResNet, self).__init__()
            self._construct_cifar()
            self.apply(init_weights)

        def _construct_cifar(self):
            assert (cfg.MODEL.DEPTH - 2) % 6 == 0, \
                'Model depth should be of the format 6n + 2 for cifar'
            # Each stage has the same number of blocks for cifar
            d = int((cfg.MODEL.DEPTH - 2) / 6)
            # widths halved for one CPU core: 16 / 32 / 64 in the program
            # Stem: (N, 3, 32, 32) -> (N, 8, 32, 32)
            self.stem = ResStem(w_in=3, w_out=8)
            # Stage 1: (N, 8, 32, 32) -> (N, 8, 32, 32)
            self.s1 = ResStage(w_in=8, w_out=8, stride=1, d=d)
            # Stage 2: (N, 8, 32, 32) -> (N, 16, 16, 16)
            self.s2 = ResStage(w_in=8, w_out=16, stride=2, d=d)
            # Stage 3: (N, 16, 16, 16) -> (N, 32, 8, 8)
            self.s3 = ResStage(w_in=16, w_out=32, stride=2, d=d)
            # Head: (N, 32, 8, 8) -> (N, num_classes)
            self.head = ResHead(w_in=32, nc=cfg.MODEL.NUM_CLASSES)

        def forward(self, x):
            for module in self.children():
                x = module(x)
            return x

    def construct_optimizer(model):
        """Constructs the optimizer (pycls/core/optimizer.py)."""
        # Batchnorm parameters.
        bn_params = []
        # Non-batchnorm parameters.
        non_bn_parameters = []
        for name, p in model.named_parameters():
            if 'bn' in name:
                bn_params.append(p)
            else:
                non_bn_parameters.append(p)
        optim_params = [
            {
                'params': bn_params,
                'weight_decay': cfg.BN.WEIGHT_DECAY,
            },
            {
                'params': non_bn_parameters,
                'weight_decay': cfg.OPTIM.WEIGHT_DECAY,
            },
        ]
        return torch.optim.SGD(
            optim_params,
            lr=cfg.OPTIM.BASE_LR,
            momentum=cfg.OPTIM.MOMENTUM,
            weight_decay=cfg.OPTIM.WEIGHT_DECAY,
            dampening=cfg.OPTIM.DAMPENING,
            nesterov=cfg.OPTIM.NESTEROV
        )

    batches_np, test_x = _pipeline(copy_fix)
    torch.manual_seed(SEED)
    model = ResNet()
    loss_fun = nn.CrossEntropyLoss()
    optimizer = construct_optimizer(model)
    batches = [(torch.tensor(x), torch.tensor(y)) for x, y in batches_np]
    n_per_epoch = N_TRAIN // cfg.TRAIN.BATCH_SIZE
    return {"model": model, "batch": batches[(BATCH_EPOCH - 1) * n_per_epoch], "batches": batches,
            "inputs": torch.tensor(test_x), "loss_fn": loss_fun, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(copy_fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(copy_fix=True)
