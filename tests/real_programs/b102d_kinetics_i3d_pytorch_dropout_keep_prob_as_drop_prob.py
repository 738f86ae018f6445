"""hassony2/kinetics_i3d_pytorch: a PyTorch port of DeepMind's I3D video classifier (Carreira & Zisserman, "Quo
Vadis, Action Recognition?"), whose ``src/i3dpt.py`` defines ``I3D(num_classes, modality='rgb',
dropout_keep_prob=1, name='inception')``: a stem of ``Unit3Dpy`` 3D conv + BatchNorm + ReLU units and TF-"SAME"
padded ``MaxPool3dTFPadding`` pools, nine Inception ``Mixed`` blocks (3b..5c), ``AvgPool3d((2, 7, 7), (1, 1, 1))``,
``self.dropout``, and a 1x1x1 conv head ``conv3d_0c_1x1`` (bias, no BN); ``forward`` returns ``(softmax, logits)``.
The repository converts the TF checkpoints and ships the module for others to fine-tune on their own videos.

The fault: the default argument was copied from the TensorFlow code, where ``dropout_keep_prob=1`` means "keep
every unit" (``tf.nn.dropout(x, keep_prob)``), and handed unchanged to ``torch.nn.Dropout(dropout_keep_prob)``,
whose argument is the probability of ZEROING a unit. So by default the model applies dropout with p = 1 in
training: every pooled feature is set to zero before the classifier conv, the logits equal the head's bias for
every clip, and no gradient reaches the head's weights or any layer of the trunk. Only the 400 (here 4) biases
learn, i.e. the class prior: training loss stays at the prior's entropy and training predictions are the same
for every clip (in eval mode dropout is the identity, so eval outputs come from the never-trained trunk). It is
the extreme of "dropout rate given as keep probability": a regulariser so strong that nothing can be learnt.

Source: github.com/hassony2/kinetics_i3d_pytorch ``src/i3dpt.py`` at 2d2880530a1d751a99c9c3eeb40ba5ae6832c47a
(= the fixing commit's parent), issue #6 "Dropout: opposite meaning?" (a user: the code says
``dropout_keep_prob=1`` but in PyTorch ``p`` is the probability of an element to be zeroed; the maintainer: thank
you for pointing this out, fixed by #7), fixed by PR #7 "Fix dropout", commit
d5342670906b53e3fa3fa388df663b515de175ab "Replace I3D param dropout_keep_prob by dropout_prob while keeping same
default behaviour (no dropout)" (merge a4b815fb95d311bbf01734f4d1d3610f7f39cde1): ``dropout_prob=0`` and
``self.dropout = torch.nn.Dropout(dropout_prob)``. The same default in a sibling port, rimchang/kinetics-i3d-Pytorch
issue #2 "dropout_keep_prob in I3D should be set to 0", was reported as producing "uniform results in training".
Fault label: over_regularized (dropout with drop probability 1 on the classifier's input: the keep probability
passed where PyTorch expects the drop probability).

Program lines kept verbatim: ``get_padding_shape``, ``simplify_padding``, ``Unit3Dpy``, ``MaxPool3dTFPadding``,
``Mixed`` (whole), and in ``I3D``: the faulty ``dropout_keep_prob=1`` default and
``self.dropout = torch.nn.Dropout(dropout_keep_prob)`` (fixed: ``dropout_prob=0`` and
``torch.nn.Dropout(dropout_prob)``), the layer order and kernel sizes / strides / paddings, the head
(``activation=None, use_bias=True, use_bn=False``), ``Softmax(1)`` and ``forward`` (squeeze, mean over time,
``return out, out_logits``); torch default init (the repo's models start from converted TF weights or from
scratch; from scratch here). ``load_tf_weights`` and the TF-loading helpers are left out (no checkpoint).
Shrunk, because the full I3D on 64x224x224 clips takes far more than a few seconds a step on one CPU core: every
channel width divided by 8 (stem 64 -> 8, 192 -> 24, Mixed widths e.g. [64, 96, 128, 16, 32, 32] -> [8, 12, 16, 2,
4, 4], head input 1024 -> 128; the concatenation widths stay consistent), clips of 8 frames of 32x32 instead of
64x224x224, and so the final ``AvgPool3d((2, 7, 7), (1, 1, 1))`` (sized for the 8x7x7 map of a 64x224x224 clip)
becomes ``AvgPool3d((1, 1, 1), (1, 1, 1))`` over the 1x1x1 map left by a 8x32x32 clip. ``num_classes=4`` (Kinetics:
400). The repository has no training script: training is the usual fine-tuning recipe, ``CrossEntropyLoss`` on
``out_logits`` (the second output), ``torch.optim.SGD(lr=0.1, momentum=0.9)`` (the optimizer of piergiaj/pytorch-i3d's
``train_i3d.py``, init_lr 0.1, momentum 0.9; its weight_decay 1e-7 left out), batch 8, ``model.train()``.
Ported: torch only. The fault is TF's keep-probability default carried into PyTorch's ``nn.Dropout(p)``, whose
argument is the drop probability; Keras' ``Dropout(rate)`` already takes a drop rate like TF's ``rate``, and the
Keras I3D ports pass a drop rate, so a Keras ``Dropout(1.0)`` (which Keras 3 accepts and which zeroes everything)
would be an invented fault, not a twin of this one.
Data stand-in (no Kinetics download): seeded synthetic RGB clips (n, 3, 8, 32, 32) float32 in [-1, 1] (I3D's rgb
inputs are rescaled to [-1, 1]): a dark noisy background (N(-0.5, 0.1)) and a coloured 4x4 square that moves 2
pixels a frame (wrapping around) in one of 4 directions; the label is the direction (4 classes drawn uniformly), so the
class is only visible in the motion across frames. ``batches``: 40 distinct batches of 8 (seed 0); ``batch``: the
first; ``inputs``: 128 held-out clips (seed 1).

Measured (my own plain loop, /tmp/s59/p/b102d/measure.py on the module's builds: zero_grad / forward / CE on
``out_logits`` / backward / step over the 40 ``batches`` in order, cycled, 300 steps; SEED 0, OMP_NUM_THREADS=1):
  training loss, means of 30-step blocks (steps 0..299):
    buggy 1.397 1.414 1.411 1.410 1.433 1.419 1.412 1.410 1.433 1.419: flat near 1.41 (ln 4 = 1.386: only the bias
      learns, it tracks the class prior and jitters with each batch's class counts);
    fixed 1.820 1.663 1.079 0.883 0.995 0.874 0.857 0.795 0.856 0.815: falls from step ~60 on.
  gradient at step 0 (one batch): buggy 172 of the 173 parameter tensors get an exactly zero gradient (all of the
    trunk and the head's weight; only the head's bias, norm 0.18, gets one); fixed: all 173 (head weight 2.41).
  after 300 steps, on the 128 held-out clips: train-mode logits are identical for every clip in the buggy model
    (std over clips 0.0, a single predicted class) and vary in the fixed one (std 2.77, all 4 classes predicted);
    accuracy buggy 0.20 (eval mode; chance 0.25) / fixed 0.67 (eval mode).
  one batch of 8 repeated 60 steps: buggy 1.390 -> 1.325 -> 1.323 -> 1.321 (steps 0 / 10 / 30 / 59: only the bias
    moves towards the batch's class counts), fixed 1.534 -> 0.092 -> 0.0002 -> 0.0000 (memorised).
  No NaN either way. Time per step (batch 8, one thread): ~0.10 s buggy, ~0.14 s fixed; build ~1.5 s.
  A less shrunk prototype (widths / 8, 16x64x64 clips, ``AvgPool3d((2, 2, 2))``) showed the same picture at 0.42 s
    a step (200 steps: buggy flat at 1.39-1.44, held-out accuracy 0.23; fixed 1.76 -> 0.35, 0.75); widths / 16 at
    8x32x32 were too narrow for the fixed model to learn in 300 steps (0.28), hence / 8 at 8x32x32.
  The fix is expressed by constructing the kept class with ``dropout_keep_prob=0``, which is what the fixed code's
    default ``dropout_prob=0`` feeds to ``torch.nn.Dropout``; the two builds differ by that value only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "over_regularized"
SOURCE = ("github:hassony2/kinetics_i3d_pytorch issue #6, PR #7 'Fix dropout', fix "
          "d5342670906b53e3fa3fa388df663b515de175ab 'Replace I3D param dropout_keep_prob by dropout_prob while "
          "keeping same default behaviour (no dropout)' (src/i3dpt.py@2d2880530a1d751a99c9c3eeb40ba5ae6832c47a: "
          "'dropout_keep_prob=1' -> 'self.dropout = torch.nn.Dropout(dropout_keep_prob)'; "
          "same fault: rimchang/kinetics-i3d-Pytorch issue #2)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {"output": 1}), ("loss_decreases", {"output": 1}),
          ("gradients_flow", {"output": 1}), ("not_constant_predictions", {"output": 1})]

BATCH_SIZE = 8
LR = 0.1
NUM_CLASSES = 4
FRAMES, SIZE, SQUARE, SPEED = 8, 32, 4, 2
N_BATCHES = 40
N_INPUTS = 128
SEED = 0


def _clips(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, FRAMES, SIZE, SIZE) clips in [-1, 1]: a coloured square moving in one of 4 directions (the label)."""
    r = np.random.default_rng(seed)
    y = r.integers(0, NUM_CLASSES, n)
    x = r.normal(0, 0.1, (n, 3, FRAMES, SIZE, SIZE)).astype("float32") - 0.5
    moves = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])  # right, left, down, up
    for i in range(n):
        p = r.integers(0, SIZE - SQUARE, 2).astype(float)
        colour = r.uniform(0.3, 1.0, 3)
        for t in range(FRAMES):
            q = (p + moves[y[i]] * SPEED * (t - FRAMES // 2)) % (SIZE - SQUARE)
            a, b = int(q[0]), int(q[1])
            x[i, :, t, a:a + SQUARE, b:b + SQUARE] = colour[:, None, None]
    return np.clip(x, -1, 1), y.astype("int64")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = _clips(N_BATCHES * BATCH_SIZE, SEED)
    xh, _ = _clips(N_INPUTS, SEED + 1)
    return x, y, xh


def _build(is_fixed: bool) -> dict[str, Any]:
    import torch

    def get_padding_shape(filter_shape, stride):
        def _pad_top_bottom(filter_dim, stride_val):
            pad_along = max(filter_dim - stride_val, 0)
            pad_top = pad_along // 2
            pad_bottom = pad_along - pad_top
            return pad_top, pad_bottom

        padding_shape = []
        for filter_dim, stride_val in zip(filter_shape, stride):
            pad_top, pad_bottom = _pad_top_bottom(filter_dim, stride_val)
            padding_shape.append(pad_top)
            padding_shape.append(pad_bottom)
        depth_top = padding_shape.pop(0)
        depth_bottom = padding_shape.pop(0)
        padding_shape.append(depth_top)
        padding_shape.append(depth_bottom)

        return tuple(padding_shape)


    def simplify_padding(padding_shapes):
        all_same = True
        padding_init = padding_shapes[0]
        for pad in padding_shapes[1:]:
            if pad != padding_init:
                all_same = False
        return all_same, padding_init


    class Unit3Dpy(torch.nn.Module):
        def __init__(self,
                     in_channels,
                     out_channels,
                     kernel_size=(1, 1, 1),
                     stride=(1, 1, 1),
                     activation='relu',
                     padding='SAME',
                     use_bias=False,
                     use_bn=True):
            super(Unit3Dpy, self).__init__()

            self.padding = padding
            self.activation = activation
            self.use_bn = use_bn
            if padding == 'SAME':
                padding_shape = get_padding_shape(kernel_size, stride)
                simplify_pad, pad_size = simplify_padding(padding_shape)
                self.simplify_pad = simplify_pad
            elif padding == 'VALID':
                padding_shape = 0
            else:
                raise ValueError(
                    'padding should be in [VALID|SAME] but got {}'.format(padding))

            if padding == 'SAME':
                if not simplify_pad:
                    self.pad = torch.nn.ConstantPad3d(padding_shape, 0)
                    self.conv3d = torch.nn.Conv3d(
                        in_channels,
                        out_channels,
                        kernel_size,
                        stride=stride,
                        bias=use_bias)
                else:
                    self.conv3d = torch.nn.Conv3d(
                        in_channels,
                        out_channels,
                        kernel_size,
                        stride=stride,
                        padding=pad_size,
                        bias=use_bias)
            elif padding == 'VALID':
                self.conv3d = torch.nn.Conv3d(
                    in_channels,
                    out_channels,
                    kernel_size,
                    padding=padding_shape,
                    stride=stride,
                    bias=use_bias)
            else:
                raise ValueError(
                    'padding should be in [VALID|SAME] but got {}'.format(padding))

            if self.use_bn:
                self.batch3d = torch.nn.BatchNorm3d(out_channels)

            if activation == 'relu':
                self.activation = torch.nn.functional.relu

        def forward(self, inp):
            if self.padding == 'SAME' and self.simplify_pad is False:
                inp = self.pad(inp)
            out = self.conv3d(inp)
            if self.use_bn:
                out = self.batch3d(out)
            if self.activation is not None:
                out = torch.nn.functional.relu(out)
            return out


    class MaxPool3dTFPadding(torch.nn.Module):
        def __init__(self, kernel_size, stride=None, padding='SAME'):
            super(MaxPool3dTFPadding, self).__init__()
            if padding == 'SAME':
                padding_shape = get_padding_shape(kernel_size, stride)
                self.padding_shape = padding_shape
                self.pad = torch.nn.ConstantPad3d(padding_shape, 0)
            self.pool = torch.nn.MaxPool3d(kernel_size, stride, ceil_mode=True)

        def forward(self, inp):
            inp = self.pad(inp)
            out = self.pool(inp)
            return out


    class Mixed(torch.nn.Module):
        def __init__(self, in_channels, out_channels):
            super(Mixed, self).__init__()
            # Branch 0
            self.branch_0 = Unit3Dpy(
                in_channels, out_channels[0], kernel_size=(1, 1, 1))

            # Branch 1
            branch_1_conv1 = Unit3Dpy(
                in_channels, out_channels[1], kernel_size=(1, 1, 1))
            branch_1_conv2 = Unit3Dpy(
                out_channels[1], out_channels[2], kernel_size=(3, 3, 3))
            self.branch_1 = torch.nn.Sequential(branch_1_conv1, branch_1_conv2)

            # Branch 2
            branch_2_conv1 = Unit3Dpy(
                in_channels, out_channels[3], kernel_size=(1, 1, 1))
            branch_2_conv2 = Unit3Dpy(
                out_channels[3], out_channels[4], kernel_size=(3, 3, 3))
            self.branch_2 = torch.nn.Sequential(branch_2_conv1, branch_2_conv2)

            # Branch3
            branch_3_pool = MaxPool3dTFPadding(
                kernel_size=(3, 3, 3), stride=(1, 1, 1), padding='SAME')
            branch_3_conv2 = Unit3Dpy(
                in_channels, out_channels[5], kernel_size=(1, 1, 1))
            self.branch_3 = torch.nn.Sequential(branch_3_pool, branch_3_conv2)

        def forward(self, inp):
            out_0 = self.branch_0(inp)
            out_1 = self.branch_1(inp)
            out_2 = self.branch_2(inp)
            out_3 = self.branch_3(inp)
            out = torch.cat((out_0, out_1, out_2, out_3), 1)
            return out

    class I3D(torch.nn.Module):
        def __init__(self,
                     num_classes,
                     modality='rgb',
                     dropout_keep_prob=1,
                     name='inception'):
            super(I3D, self).__init__()

            self.name = name
            self.num_classes = num_classes
            if modality == 'rgb':
                in_channels = 3
            elif modality == 'flow':
                in_channels = 2
            else:
                raise ValueError(
                    '{} not among known modalities [rgb|flow]'.format(modality))
            self.modality = modality

            # widths divided by 8 (shrunk; see the docstring)
            conv3d_1a_7x7 = Unit3Dpy(
                out_channels=8,
                in_channels=in_channels,
                kernel_size=(7, 7, 7),
                stride=(2, 2, 2),
                padding='SAME')
            # 1st conv-pool
            self.conv3d_1a_7x7 = conv3d_1a_7x7
            self.maxPool3d_2a_3x3 = MaxPool3dTFPadding(
                kernel_size=(1, 3, 3), stride=(1, 2, 2), padding='SAME')
            # conv conv
            conv3d_2b_1x1 = Unit3Dpy(
                out_channels=8,
                in_channels=8,
                kernel_size=(1, 1, 1),
                padding='SAME')
            self.conv3d_2b_1x1 = conv3d_2b_1x1
            conv3d_2c_3x3 = Unit3Dpy(
                out_channels=24,
                in_channels=8,
                kernel_size=(3, 3, 3),
                padding='SAME')
            self.conv3d_2c_3x3 = conv3d_2c_3x3
            self.maxPool3d_3a_3x3 = MaxPool3dTFPadding(
                kernel_size=(1, 3, 3), stride=(1, 2, 2), padding='SAME')

            # Mixed_3b
            self.mixed_3b = Mixed(24, [8, 12, 16, 2, 4, 4])
            self.mixed_3c = Mixed(32, [16, 16, 24, 4, 12, 8])

            self.maxPool3d_4a_3x3 = MaxPool3dTFPadding(
                kernel_size=(3, 3, 3), stride=(2, 2, 2), padding='SAME')

            # Mixed 4
            self.mixed_4b = Mixed(60, [24, 12, 26, 2, 6, 8])
            self.mixed_4c = Mixed(64, [20, 14, 28, 3, 8, 8])
            self.mixed_4d = Mixed(64, [16, 16, 32, 3, 8, 8])
            self.mixed_4e = Mixed(64, [14, 18, 36, 4, 8, 8])
            self.mixed_4f = Mixed(66, [32, 20, 40, 4, 16, 16])

            self.maxPool3d_5a_2x2 = MaxPool3dTFPadding(
                kernel_size=(2, 2, 2), stride=(2, 2, 2), padding='SAME')

            # Mixed 5
            self.mixed_5b = Mixed(104, [32, 20, 40, 4, 16, 16])
            self.mixed_5c = Mixed(104, [48, 24, 48, 6, 16, 16])

            self.avg_pool = torch.nn.AvgPool3d((1, 1, 1), (1, 1, 1))  # (2, 7, 7) for 64x224x224 clips
            self.dropout = torch.nn.Dropout(dropout_keep_prob)
            self.conv3d_0c_1x1 = Unit3Dpy(
                in_channels=128,
                out_channels=self.num_classes,
                kernel_size=(1, 1, 1),
                activation=None,
                use_bias=True,
                use_bn=False)
            self.softmax = torch.nn.Softmax(1)

        def forward(self, inp):
            # Preprocessing
            out = self.conv3d_1a_7x7(inp)
            out = self.maxPool3d_2a_3x3(out)
            out = self.conv3d_2b_1x1(out)
            out = self.conv3d_2c_3x3(out)
            out = self.maxPool3d_3a_3x3(out)
            out = self.mixed_3b(out)
            out = self.mixed_3c(out)
            out = self.maxPool3d_4a_3x3(out)
            out = self.mixed_4b(out)
            out = self.mixed_4c(out)
            out = self.mixed_4d(out)
            out = self.mixed_4e(out)
            out = self.mixed_4f(out)
            out = self.maxPool3d_5a_2x2(out)
            out = self.mixed_5b(out)
            out = self.mixed_5c(out)
            out = self.avg_pool(out)
            out = self.dropout(out)
            out = self.conv3d_0c_1x1(out)
            out = out.squeeze(3)
            out = out.squeeze(3)
            out = out.mean(2)
            out_logits = out
            out = self.softmax(out_logits)
            return out, out_logits

    torch.manual_seed(SEED)
    if is_fixed:  # the fix (d534267): I3D(..., dropout_prob=0) -> torch.nn.Dropout(dropout_prob)
        model = I3D(NUM_CLASSES, modality='rgb', dropout_keep_prob=0)
    else:  # the default dropout_keep_prob=1 -> torch.nn.Dropout(1): every feature zeroed in training
        model = I3D(NUM_CLASSES, modality='rgb')
    model.train()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)

    def loss_fn(out_logits, target):
        return criterion(out_logits, target)

    x, y, xh = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(is_fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(is_fixed=True)
