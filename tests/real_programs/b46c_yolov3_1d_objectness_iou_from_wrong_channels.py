"""ljbkusters/YOLOv3-1D ("a minimum viable YOLOv3 Network for 1D event detection", PyTorch, after Aladdin Persson's
"YOLOv3 from scratch"): an object detector for 1-D signals. ``Yolo1DV3`` (``model/yolov3.py``) is YOLOv3 with
``Conv1d``: a Darknet backbone of ``CNN1DBlock`` (conv, BatchNorm1d, LeakyReLU(0.1)) and residual blocks, three
``ScalePrediction`` heads on 416 / 32 = 13, 416 / 16 = 26 and 416 / 8 = 52 cells with two nearest upsamplings and
route concatenations; every cell and each of its 3 anchors predicts (objectness, x in the cell, width, 3 class
logits), output (N, 3 anchors, cells, 6). The data (``generate_curves.py``): 416-sample noiseless curves over x in
[0, 50], single and double gaussians, skewed gaussians and lorentzians, divided by the largest absolute value;
each event is a "bounding domain" (centre, width normalised to [0, 1], class gaussian 0 / skew_gaussian 1 /
lorentzian 2). ``YOLO1DDataset`` assigns each event to the best-fitting anchor (``iou_width``) on every scale:
target (objectness 1, x relative to the cell, width in cells, class); other anchors with an anchor IoU > 0.5 get
-1 (ignored). ``Yolo1DLoss`` (``model/loss.py``), summed over the three scales in ``train.py``: 10 x BCE-with-
logits(objectness, 0) on the empty cells + 1 x BCE-with-logits(objectness, IoU(predicted box, true box).detach())
on the object cells (the YOLOv3 "IoU-weighted" objectness target) + 10 x MSE((sigmoid(t_x), t_w), (x, log(w /
anchor + 1e-6))) + 1 x cross-entropy of the class logits; ``Adam(lr=1e-4, weight_decay=0)``, ``BATCH_SIZE = 32``,
``ExponentialLR(gamma=0.95)`` per epoch, anchors ``ANCHORS_1D * SCALES`` (in cells). At inference a cell is a
detection when sigmoid(objectness) > ``CONF_THRESHOLD = 0.05``, then NMS (0.45) and mAP.

The fault (``Yolo1DLoss.forward``, the predicted box whose IoU with the true box is the objectness target)::

    box_predictions = torch.cat([self.sigmoid(predictions[..., 0:1]),
                                 torch.exp(predictions[..., 1:2] * anchors)],
                                dim=-1)

Channel 0 is the objectness logit and channel 1 the x logit: the "predicted box" takes its centre from the
objectness score and its width from the x coordinate, so the IoU that becomes the objectness target of every
object cell has nothing to do with the box the network predicts (channels 1 and 2, which the box loss trains and
``cells_to_bboxes`` decodes). Those IoUs are small (mean 0.12-0.14 on held-out object cells, against 0.26-0.31 for
the boxes actually predicted), so the detector is taught to give its own object cells a score near the background
score: detections fall under the confidence threshold and the ranking that NMS and mAP use is poor. Issue #42 (by
the author): "I found an indexation error for the box_predictions which led to incorrect IOU calculations which
weight the target objectness. This likely meant that most targets were set to near 0 and the network only learnt
to detect objects very badly." Fix 842cb8b "model.loss: Fix critical object loss error" ("First tests show
immensly improved network results")::

    box_predictions = torch.cat([self.sigmoid(predictions[..., 1:2]),
                                 torch.exp(predictions[..., 2:3] * anchors)],
                                dim=-1)

(The fix keeps ``exp(t_w * anchor)`` where ``cells_to_bboxes`` decodes ``exp(t_w) * anchor``; that is the fixed
program as published and is kept in both versions.)

Source: github.com/ljbkusters/YOLOv3-1D issue #42 "Fix Loss Function", PR #43 "42 fix loss function" (merged);
``model/loss.py``, ``model/yolov3.py``, ``model/dataset.py``, ``model/utils.py`` (``iou_width``,
``intersection_over_union_1d``, ``cells_to_bboxes``, ``non_max_suppression``, ``mean_average_precision``,
``check_class_accuracy``), ``model/config.py``, ``train.py`` and ``generate_curves.py`` at 842cb8b^ =
5d8df61ca926131ea6644c869f4a720fd369f70e (the buggy line dates from the initial commit 4ef1809); fix
842cb8b848d9ab855409f7857babe316efa67b15.

Program lines kept: ``CNN1DBlock``, ``ResidualBlock``, ``ScalePrediction``, ``Yolo1DV3`` (its forward with the
route connections and upsampling, ``_create_conv_layers``), ``Yolo1DLoss`` as it was (including its in-place
writes into the predictions and targets), ``intersection_over_union_1d``, the three-scale loss sum of ``train.py``,
``ANCHORS_1D``, ``SCALES``, ``NUM_CLASSES = 3``, ``IN_CHANNELS = 1``, ``BATCH_SIZE = 32``, ``IMAGE_SIZE = 416``, Adam
lr 1e-4 / weight decay 0, the loop body ``optimizer.zero_grad(); loss.backward(); optimizer.step()``, and
``generate_curves.py``'s curve functions, parameter ranges and normalisation and ``YOLO1DDataset``'s target
assignment (numpy instead of torch, same values).
Shrunk: the program builds ``default_config`` (Darknet-53, widths 32..1024, 24.4 M parameters), 1.1 s a step on
one CPU thread; here its own ``config_tiny`` (the same layout with fewer residual repeats, also in
``model/yolov3.py``) with every conv width divided by 8 (4..128 channels, 228 k parameters): about 40 ms a step.
Ported: the model returns its three scale outputs concatenated on the cell axis, (N, 3, 13 + 26 + 52 = 91, 6),
and the targets are the three scale targets concatenated the same way, (N, 3, 91, 4); ``loss_fn`` cuts them
again and sums ``Yolo1DLoss`` over the scales with each scale's anchors, as ``train.py`` did, on clones of the
slices (the loss writes into its predictions and its targets, ``target[..., 2:3] = log(...)``; the program's
DataLoader made fresh targets every step, whereas the batches here are reused). Left out: CUDA autocast /
GradScaler and ``x.half()`` (float32 on CPU), the per-epoch ``ExponentialLR`` (an epoch of the program is ~560
steps), the training augmentations (``train_transforms``, random translate / baseline / flip), checkpoints and the
mAP evaluation. The ``bn`` that ``CNN1DBlock(..., batch_norm_activation=False)`` creates but never uses (the last
conv of each ``ScalePrediction``) is kept: it receives no gradient in both versions, as in the program.
Keras twin: the same network as a Keras 3 functional model, channels last (input (N, 416, 1); ``ZeroPadding1D(1)``
+ ``Conv1D`` for the padded k = 3 convs, ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` (torch's),
``LeakyReLU(0.1)``, ``UpSampling1D(2)``, the head reshaped to (N, 91 cells, 3, 6) and permuted to (N, 3, cells, 6));
the loss is ``Yolo1DLoss`` written with masks (means over the object / empty cells instead of boolean indexing,
``stop_gradient`` on the IoU), the same buggy / fixed ``box_predictions``; ``Adam(learning_rate=1e-4,
epsilon=1e-8)``. Keras' default initialisers instead of torch's.

Data (the program's own generator, run offline at a small size): ``generate_curves.py`` with ``N_curves = 64``
per type and a seeded generator: 64 single gaussians, 64 double gaussians (2 events), 32 + 32 skewed gaussians and
64 lorentzians = 256 curves (320 events: 192 gaussian, 64 skewed, 64 lorentzian), normalised to [0, 1] by their
largest value, shuffled; 8 batches of 32 (960 object cells, 463 ignored). Held out in my measurement: the same
generator with seed 1.

Fault label: other:objectness_target_iou_from_wrong_channels (the objectness target is built from the wrong output
channels; what it shows is a detector that scores its objects low).
Fix: ``box_predictions`` from channels 1 (x) and 2 (width).

Measured (my own loops, /tmp/h46c/measure.py, seed 0, OMP_NUM_THREADS=1, on a 2-core machine under load 3-5;
torch ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()`` in train mode, Keras ``train_on_batch``,
cycling over the 8 batches; held-out = 256 curves (seed 1) in eval mode; "score" = sigmoid(objectness); the
detections, NMS (0.45), CONF_THRESHOLD 0.05 and mAP (IoU 0.45, as ``train.py`` calls it) as ``model/utils.py``
computes them; 40-46 ms a torch step, 42-52 ms a Keras step when the machine was quiet, 60-75 ms under load):
  * Training loss (sum over the scales), step 1 / 10 / 50 / 100 / 1,000 / 2,000 / 3,000:
      torch buggy 51.0 / 40.0 / 27.7 / 23.4 / 5.14 / 1.99 / 1.09;  fixed 51.1 / 40.5 / 27.5 / 23.7 / 5.66 / 2.59 / 1.92.
      Keras buggy 76.4 / 47.2 / 30.9 / 26.4 / 6.25 / 2.39 / 1.31;  fixed 76.5 / 46.9 / 31.2 / 26.4 / 6.76 / 3.11 / 2.07.
    Both decrease; the buggy loss is the LOWER one (its objectness targets are smaller, closer to the background's
    0, hence easier to fit): nothing in the loss curve signals the fault.
  * Held-out after 3,000 steps (torch / Keras):
      mean score on the object cells: buggy 0.069 / 0.063, fixed 0.197 / 0.209 (empty cells 0.022 / 0.031 in
      both); object cells above CONF_THRESHOLD: buggy 41% / 36%, fixed 77% / 73%; class accuracy on object cells
      0.82 / 0.77 vs 0.84 / 0.79; mAP buggy 0.359 / 0.145, fixed 0.626 / 0.464; events found (IoU > 0.45):
      buggy 82% / 79%, fixed 94% / 94%.
    After 1,000 steps: mAP buggy 0.022 / 0.010, fixed 0.269 / 0.071; object-cell score buggy 0.119 / 0.134 (below
    the empty cells' 0.16 / 0.19), fixed 0.231 / 0.247 (above them).
    Mean objectness target (IoU) on the held-out object cells after 3,000 steps, buggy decoding: 0.144 / 0.124;
    IoU of the box the model actually predicts (the fixed decoding): 0.311 / 0.269 (fixed model: 0.293 / 0.263).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:objectness_target_iou_from_wrong_channels"
SOURCE = ("github:ljbkusters/YOLOv3-1D issue #42, PR #43 (model/loss.py Yolo1DLoss.forward box_predictions "
          "'torch.cat([self.sigmoid(predictions[..., 0:1]), torch.exp(predictions[..., 1:2] * anchors)]'"
          " @842cb8b^ = 5d8df61ca926131ea6644c869f4a720fd369f70e, model/yolov3.py, model/dataset.py, "
          "model/utils.py, model/config.py, train.py, generate_curves.py; fix "
          "842cb8b848d9ab855409f7857babe316efa67b15 'model.loss: Fix critical object loss error')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

# model/config.py
IN_CHANNELS = 1
BATCH_SIZE = 32
IMAGE_SIZE = 416
NUM_CLASSES = 3
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0
SCALES = [IMAGE_SIZE // 32, IMAGE_SIZE // 16, IMAGE_SIZE // 8]  # 13, 26, 52 cells
ANCHORS_1D = [
    [0.28, 0.38, 0.9],
    [0.07, 0.15, 0.14],
    [0.02, 0.04, 0.08],
]  # Note these have been rescaled to be between [0, 1]
N_ANCHORS = 3  # num_anchors_per_scale=len(model.config.ANCHORS_1D[0])
WIDTH_DIV = 8  # port: every conv width of the program's config divided by 8 (see the docstring)

# model/yolov3.py config_tiny: (out_channels, kernel, stride), ["R"/"RS", repeats], "S" prediction, "U" upsample
config_tiny = [
    (32, 3, 1),
    (64, 3, 2),
    ["R", 1],
    (128, 3, 2),
    ["R", 2],
    (256, 3, 2),
    ["RS", 2],
    (512, 3, 2),
    ["RS", 2],
    (1024, 3, 2),
    ["R", 1],
    (512, 1, 1),
    (1024, 3, 1),
    "S",
    (256, 1, 1),
    "U",
    (256, 1, 1),
    (512, 3, 1),
    "S",
    (128, 1, 1),
    "U",
    (128, 1, 1),
    (256, 3, 1),
    "S",
]
BUILD_CONFIG = [(m[0] // WIDTH_DIV,) + m[1:] if isinstance(m, tuple) else m for m in config_tiny]

# generate_curves.py
NX = 416
XMIN, XMAX = 0, 50
DX = XMAX - XMIN
CL_TO_INT = {"gaussian": 0, "skew_gaussian": 1, "lorentzian": 2}
N_CURVES = 64  # curves per type (program: 20_000); 4 * 64 = 256 curves = 8 batches of 32
N_BATCHES = 8
SEED = 0


# ---------------------------------------------------------------- data: generate_curves.py + YOLO1DDataset
def gaussian(x, A, mu, sig, nsigma=4, randomness=True):
    onset = max(mu - nsigma * sig, min(x))
    end = min(mu + nsigma * sig, max(x))
    curve = (A * np.exp(-(x - mu) ** 2 / sig ** 2)
             + randomness * np.random.normal(0, 0.005, len(x)))
    return (curve, onset, end)


def skew_gaussian(x, A, mu, sig, skewness, nsigma=4, randomness=True):
    onset = max(mu - nsigma * sig, min(x))
    end = min(mu + nsigma * sig, max(x))
    gaussian_curve, o, e = gaussian(x, A, mu, sig, randomness=False)
    sigmoid = 0.5 * (1 + np.tanh((x - mu) * skewness))
    curve = (abs(sigmoid * gaussian_curve)
             + randomness * np.random.normal(0, 0.005, len(x)))
    return (curve, onset, end)


def lorentzian(x, A, mu, gamma, randomness=True):
    onset = max(mu - 5 * gamma, min(x))
    end = min(mu + 5 * gamma, max(x))
    curve = (A * (gamma ** 2 / (gamma ** 2 + (x - mu) ** 2))
             + randomness * np.random.normal(0, 0.005, len(x)))
    return (curve, onset, end)


def generate_curves(n_curves: int, seed: int) -> tuple[np.ndarray, list[list[tuple[float, float, int]]]]:
    """generate_curves.py's ``__main__`` with ``N_curves = n_curves`` and a seeded generator: single gaussians,
    double gaussians, skewed gaussians (two halves) and lorentzians, noiseless (``randomness=False``), normalised by
    the largest absolute value, labels (mean_norm, width_norm, class), shuffled. Returns (n, 416) float32."""
    rng = np.random.default_rng(seed)
    x = np.linspace(XMIN, XMAX, NX)
    N_curves = n_curves
    curves = []
    random_sigmas = rng.uniform(1, 4, N_curves)
    random_mus = rng.uniform(10, 40, N_curves)
    random_amplitudes = rng.uniform(1, 3, N_curves)
    for A, mu, sig in zip(random_amplitudes, random_mus, random_sigmas):
        gaussian_, onset, end = gaussian(x, A, mu, sig, randomness=False)
        curves.append((gaussian_, [(onset, end, "gaussian")]))
    # double peaks
    random_sigmas_1 = rng.uniform(1, 2, N_curves)
    random_sigmas_2 = rng.uniform(1, 2, N_curves)
    random_mus_1 = rng.uniform(10, 20, N_curves)
    random_mus_2 = rng.uniform(30, 40, N_curves)
    random_amplitudes_1 = rng.uniform(1, 3, N_curves)
    random_amplitudes_2 = rng.uniform(1, 3, N_curves)
    for A_1, mu_1, sig_1, A_2, mu_2, sig_2 in zip(random_amplitudes_1, random_mus_1, random_sigmas_1,
                                                  random_amplitudes_2, random_mus_2, random_sigmas_2):
        gaussian_left, onset_left, end_left = gaussian(x, A_1, mu_1, sig_1, randomness=False)
        gaussian_right, onset_right, end_right = gaussian(x, A_2, mu_2, sig_2, randomness=False)
        curves.append((gaussian_left + gaussian_right,
                       [(onset_left, end_left, "gaussian"), (onset_right, end_right, "gaussian")]))
    random_sigmas = rng.uniform(1, 4, N_curves // 2)
    random_mus = rng.uniform(10, 40, N_curves // 2)
    random_amplitudes = rng.uniform(1, 3, N_curves // 2)
    random_skewness = rng.uniform(-2, -1, N_curves // 2)
    for A, mu, sig, skew in zip(random_skewness, random_mus, random_sigmas, random_skewness):  # (sic: A = skew)
        skew_gaussian_, onset, end = skew_gaussian(x, A, mu, sig, skew, randomness=False)
        curves.append((skew_gaussian_, [(onset, end, "skew_gaussian")]))
    random_sigmas = rng.uniform(1, 4, N_curves // 2)
    random_mus = rng.uniform(10, 40, N_curves // 2)
    random_amplitudes = rng.uniform(1, 3, N_curves // 2)
    random_skewness = rng.uniform(1, 2, N_curves // 2)
    for A, mu, sig, skew in zip(random_amplitudes, random_mus, random_sigmas, random_skewness):
        skew_gaussian_, onset, end = skew_gaussian(x, A, mu, sig, skew, randomness=False)
        curves.append((skew_gaussian_, [(onset, end, "skew_gaussian")]))
    random_gammas = rng.uniform(1, 2, N_curves)
    random_mus = rng.uniform(10, 40, N_curves)
    random_amplitudes = rng.uniform(1, 3, N_curves)
    for A, mu, gamma in zip(random_amplitudes, random_mus, random_gammas):
        lorentzian_, onset, end = lorentzian(x, A, mu, gamma, randomness=False)
        curves.append((lorentzian_, [(onset, end, "lorentzian")]))

    curves_series = np.array([c[0] for c in curves])
    abs_max = np.max(np.abs(curves_series))
    curves_series_normalized = curves_series / abs_max
    curves_labels = []
    for c in curves:
        targets = []
        for onset, end, cl in c[1]:
            mean = (end + onset) / 2
            width = (end - onset)
            targets.append(((mean - XMIN) / DX, width / DX, CL_TO_INT[cl]))
        curves_labels.append(targets)
    permutation = rng.permutation(len(curves))
    return (curves_series_normalized[permutation].astype("float32"),
            [curves_labels[p] for p in permutation])


def iou_width(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:  # model/utils.py
    intersection = np.minimum(boxes1, boxes2)
    union = boxes1 + boxes2 - intersection
    return intersection / union


def build_targets(bboxes: list[tuple[float, float, int]], ignore_iou_thresh: float = 0.5) -> list[np.ndarray]:
    """YOLO1DDataset.__getitem__'s target assignment (numpy instead of torch, same values): one array per scale,
    (num_anchors_per_scale, grid_size, 4) of (objectness 1 / 0 / -1 = ignore, x in the cell, width in cells,
    class)."""
    grids = SCALES
    anchors = np.array(ANCHORS_1D[0] + ANCHORS_1D[1] + ANCHORS_1D[2])
    num_anchors_per_scale = len(anchors) // 3
    targets = [np.zeros((num_anchors_per_scale, grid_size, 4), "float32") for grid_size in grids]
    for bbox in bboxes:
        iou_anchors = iou_width(np.array(bbox[1:2]), anchors)
        anchor_indices = np.argsort(-iou_anchors, kind="stable")
        x, width, class_label = bbox
        has_anchor = [False, False, False]
        for idx in anchor_indices:
            scale_idx = idx // num_anchors_per_scale
            anchor_on_scale = idx % num_anchors_per_scale
            grid_size = grids[scale_idx]
            x_cell = int(grid_size * x)
            anchor_taken = targets[scale_idx][anchor_on_scale, x_cell, 0]
            if not anchor_taken and not has_anchor[scale_idx]:
                targets[scale_idx][anchor_on_scale, x_cell, 0] = 1
                x_cell_rel = (x * grid_size) - x_cell
                cell_width = width * grid_size
                targets[scale_idx][anchor_on_scale, x_cell, 1:3] = [x_cell_rel, cell_width]
                targets[scale_idx][anchor_on_scale, x_cell, 3] = int(class_label)
                has_anchor[scale_idx] = True
            elif not anchor_taken and iou_anchors[idx] > ignore_iou_thresh:
                targets[scale_idx][anchor_on_scale, x_cell, 0] = -1
    return targets


def curves_and_targets(n_curves: int = N_CURVES, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, list]:
    """Series (n, 416) float32, targets (n, 3, 13 + 26 + 52 = 91, 4) float32 (the three scales' targets
    concatenated on the cell axis), and the label boxes."""
    series, labels = generate_curves(n_curves, seed)
    y = np.stack([np.concatenate(build_targets(b), axis=1) for b in labels])
    return series, y, labels


def scaled_anchors() -> np.ndarray:
    """train.py: ``torch.tensor(ANCHORS_1D) * torch.tensor(SCALES).unsqueeze(1)`` (anchor widths in cells)."""
    return (np.array(ANCHORS_1D, "float32") * np.array(SCALES, "float32")[:, None]).astype("float32")


def _segments() -> list[tuple[int, int]]:
    starts = np.cumsum([0] + SCALES)
    return [(int(starts[i]), int(starts[i + 1])) for i in range(3)]


# ---------------------------------------------------------------- torch (the program)
def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    class CNN1DBlock(nn.Module):  # model/yolov3.py
        def __init__(self, in_channels, out_channels, batch_norm_activation=True, *args, **kwargs) -> None:
            super().__init__(*args)
            self.conv = nn.Conv1d(in_channels, out_channels, bias=not batch_norm_activation, **kwargs)
            self.bn = nn.BatchNorm1d(out_channels)
            self.leaky = nn.LeakyReLU(0.1)
            self.use_bn_activation = batch_norm_activation

        def forward(self, x):
            if self.use_bn_activation:
                return self.leaky(self.bn(self.conv(x)))
            else:
                return self.conv(x)

    class ResidualBlock(nn.Module):
        def __init__(self, channels, use_residual=True, num_repeats=1, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.layers = nn.ModuleList()
            for _ in range(num_repeats):
                self.layers += [
                    nn.Sequential(
                        CNN1DBlock(channels, channels // 2, kernel_size=1, padding=0),
                        CNN1DBlock(channels // 2, channels, kernel_size=3, padding=1)
                    )
                ]
            self.use_residual = use_residual
            self.num_repeats = num_repeats

        def forward(self, x):
            for layer in self.layers:
                x = layer(x) + x if self.use_residual else layer(x)
            return x

    class ScalePrediction(nn.Module):
        def __init__(self, in_channels, num_classes, num_anchors_per_scale=1, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.num_anchors_per_scale = num_anchors_per_scale
            self.prediction_features_1d = 3  # objectness, anchor_x, width
            self.pred = nn.Sequential(
                CNN1DBlock(in_channels, 2 * in_channels, kernel_size=3, padding=1),
                CNN1DBlock(2 * in_channels,
                           (self.num_anchors_per_scale * (num_classes + self.prediction_features_1d)),
                           batch_norm_activation=False, kernel_size=1)
            )
            self.num_classes = num_classes

        def forward(self, x):
            return (self.pred(x)
                    .reshape(x.shape[0], self.num_anchors_per_scale,
                             (self.num_classes + self.prediction_features_1d), x.shape[2])
                    .permute(0, 1, 3, 2))  # (N, anchors, cells, (objectness, anch_x, width, *classes))

    class Yolo1DV3(nn.Module):
        def __init__(self, in_channels=1, num_classes=4, num_anchors_per_scale=1, config=BUILD_CONFIG,
                     *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.in_channels = in_channels
            self.num_classes = num_classes
            self.num_anchors_per_scale = num_anchors_per_scale
            self.config = config
            self.layers, self.route_connection_locations = self._create_conv_layers()

        def forward(self, x):
            outputs = []
            route_connections = []
            for layer_idx, layer in enumerate(self.layers):
                if isinstance(layer, ScalePrediction):
                    outputs.append(layer(x))
                    continue
                x = layer(x)
                if layer_idx in self.route_connection_locations:
                    route_connections.append(x)
                elif isinstance(layer, nn.Upsample):
                    x = torch.cat([x, route_connections[-1]], dim=1)
                    route_connections.pop()
            return outputs

        def _create_conv_layers(self):
            layers = nn.ModuleList()
            route_connection_locations = []
            in_channels = self.in_channels
            for module_idx, module in enumerate(self.config):
                if isinstance(module, tuple):
                    out_channels, kernel_size, stride = module
                    layers.append(CNN1DBlock(in_channels, out_channels=out_channels, kernel_size=kernel_size,
                                             stride=stride, padding=1 if kernel_size == 3 else 0))
                    in_channels = out_channels
                elif isinstance(module, list):
                    block_type, num_repeats = module
                    if "R" in block_type:
                        layers.append(ResidualBlock(in_channels, num_repeats=num_repeats))
                    if "S" in block_type:
                        route_connection_locations.append(module_idx)
                elif isinstance(module, str):
                    if module == "S":
                        layers += [
                            ResidualBlock(in_channels, use_residual=False, num_repeats=1),
                            CNN1DBlock(in_channels, in_channels // 2, kernel_size=1),
                            ScalePrediction(in_channels // 2, num_classes=self.num_classes,
                                            num_anchors_per_scale=self.num_anchors_per_scale)
                        ]
                        in_channels = in_channels // 2
                    elif module == "U":
                        layers.append(nn.Upsample(scale_factor=2))
                        in_channels = in_channels * 3
            return layers, route_connection_locations

    def intersection_over_union_1d(boxes_preds, boxes_labels):  # model/utils.py, box_format="midpoint"
        box1_x1 = boxes_preds[..., 0:1] - boxes_preds[..., 1:2] / 2
        box1_x2 = boxes_preds[..., 0:1] + boxes_preds[..., 1:2] / 2
        box2_x1 = boxes_labels[..., 0:1] - boxes_labels[..., 1:2] / 2
        box2_x2 = boxes_labels[..., 0:1] + boxes_labels[..., 1:2] / 2
        x1 = torch.max(box1_x1, box2_x1)
        x2 = torch.min(box1_x2, box2_x2)
        intersection = (x2 - x1).clamp(0)
        box1_length = abs((box1_x2 - box1_x1))
        box2_length = abs((box2_x2 - box2_x1))
        return intersection / (box1_length + box2_length - intersection + 1e-6)

    class Yolo1DLoss(nn.Module):  # model/loss.py
        def __init__(self):
            super().__init__()
            self.mse = nn.MSELoss()
            self.bce = nn.BCEWithLogitsLoss()
            self.entropy = nn.CrossEntropyLoss()
            self.sigmoid = nn.Sigmoid()
            self.lambda_class = 1
            self.lambda_noobj = 10
            self.lambda_obj = 1
            self.lambda_box = 10

        def forward(self, predictions, target, anchors):
            # predictions[..., 0] : objectness score, 1 : box x coordinate, 2 : box x width, 3: : classes
            obj = target[..., 0] == 1
            noobj = target[..., 0] == 0
            no_obj_loss = self.bce(predictions[..., 0:1][noobj], target[..., 0:1][noobj])

            anchors = torch.reshape(anchors, (1, len(anchors), 1, 1))
            if bug:  # 842cb8b^
                box_predictions = torch.cat([self.sigmoid(predictions[..., 0:1]),
                                             torch.exp(predictions[..., 1:2] * anchors)],
                                            dim=-1)
            else:  # fix 842cb8b
                box_predictions = torch.cat([self.sigmoid(predictions[..., 1:2]),
                                             torch.exp(predictions[..., 2:3] * anchors)],
                                            dim=-1)
            # no gradients over ious
            ious = (intersection_over_union_1d(box_predictions[obj], target[..., 1:3][obj]).detach())
            object_loss = self.bce(predictions[..., 0:1][obj], ious * target[..., 0:1][obj])

            predictions[..., 1:2] = self.sigmoid(predictions[..., 1:2])  # x between 0, 1
            target[..., 2:3] = torch.log(target[..., 2:3] / anchors + 1e-6)  # width
            box_loss = self.mse(predictions[..., 1:3][obj], target[..., 1:3][obj])

            class_loss = self.entropy((predictions[..., 3:][obj]), (target[..., 3][obj].long()))
            return (self.lambda_box * box_loss + self.lambda_class * class_loss
                    + self.lambda_noobj * no_obj_loss + self.lambda_obj * object_loss)

    class Yolo1DV3Concat(nn.Module):
        """Port: the program's model, its three scale outputs concatenated on the cell axis."""

        def __init__(self):
            super().__init__()
            self.yolov3 = Yolo1DV3(num_classes=NUM_CLASSES, in_channels=IN_CHANNELS,
                                   num_anchors_per_scale=N_ANCHORS, config=BUILD_CONFIG)

        def forward(self, x):
            return torch.cat(self.yolov3(x), dim=2)  # (N, 3, 13 + 26 + 52, 3 + NUM_CLASSES)

    loss_function = Yolo1DLoss()
    sa = torch.from_numpy(scaled_anchors())
    segments = _segments()

    def loss_fn(out, y):
        # train.py: loss_function(out[0], y0, sa0) + loss_function(out[1], y1, sa1) + loss_function(out[2], y2, sa2);
        # port: each scale's slice is cloned (the loss writes into its predictions and targets; the program's
        # DataLoader gave fresh targets every step, the fixed batches here are reused)
        return sum(loss_function(out[:, :, a:b].clone(), y[:, :, a:b].clone(), sa[i])
                   for i, (a, b) in enumerate(segments))

    series, y, _ = curves_and_targets()
    xt = torch.from_numpy(series[:, None, :])  # (N, 1, 416): IN_CHANNELS = 1
    yt = torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": Yolo1DV3Concat(), "batch": batches[0], "batches": batches, "inputs": xt, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)}


# ---------------------------------------------------------------- keras twin
def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def cnn1d_block(x, out_channels, batch_norm_activation=True, kernel_size=3, stride=1, padding=0):
        if padding:
            x = layers.ZeroPadding1D(padding)(x)
        x = layers.Conv1D(out_channels, kernel_size, strides=stride, use_bias=not batch_norm_activation)(x)
        if batch_norm_activation:
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)  # torch BatchNorm1d defaults
            x = layers.LeakyReLU(negative_slope=0.1)(x)
        return x

    def residual_block(x, channels, use_residual=True, num_repeats=1):
        for _ in range(num_repeats):
            h = cnn1d_block(x, channels // 2, kernel_size=1, padding=0)
            h = cnn1d_block(h, channels, kernel_size=3, padding=1)
            x = layers.Add()([h, x]) if use_residual else h
        return x

    def scale_prediction(x, in_channels):
        h = cnn1d_block(x, 2 * in_channels, kernel_size=3, padding=1)
        h = cnn1d_block(h, N_ANCHORS * (NUM_CLASSES + 3), batch_norm_activation=False, kernel_size=1)
        cells = h.shape[1]
        h = layers.Reshape((cells, N_ANCHORS, NUM_CLASSES + 3))(h)
        return layers.Permute((2, 1, 3))(h)  # (N, anchors, cells, (objectness, anch_x, width, *classes))

    inp = keras.Input((IMAGE_SIZE, IN_CHANNELS))  # channels last
    x = inp
    in_channels = IN_CHANNELS
    outputs, route_connections = [], []
    for module in BUILD_CONFIG:
        if isinstance(module, tuple):
            out_channels, kernel_size, stride = module
            x = cnn1d_block(x, out_channels, kernel_size=kernel_size, stride=stride,
                            padding=1 if kernel_size == 3 else 0)
            in_channels = out_channels
        elif isinstance(module, list):
            block_type, num_repeats = module
            if "R" in block_type:
                x = residual_block(x, in_channels, num_repeats=num_repeats)
            if "S" in block_type:
                route_connections.append(x)
        elif module == "S":
            x = residual_block(x, in_channels, use_residual=False, num_repeats=1)
            x = cnn1d_block(x, in_channels // 2, kernel_size=1)
            outputs.append(scale_prediction(x, in_channels // 2))
            in_channels = in_channels // 2
        elif module == "U":
            x = layers.UpSampling1D(2)(x)
            x = layers.Concatenate(axis=-1)([x, route_connections.pop()])
            in_channels = in_channels * 3
    model = keras.Model(inp, layers.Concatenate(axis=2)(outputs))  # (N, 3, 91, 3 + NUM_CLASSES)

    sa = scaled_anchors()
    segments = _segments()

    def bce_with_logits(logits, z):
        return ops.maximum(logits, 0.0) - logits * z + ops.log1p(ops.exp(-ops.abs(logits)))

    def masked_mean(values, mask):  # values (..., k), mask (...) in {0, 1}: mean over the masked elements
        k = values.shape[-1]
        return ops.sum(values * mask[..., None]) / (k * ops.sum(mask))

    def iou_1d(bp, bl):
        box1_x1 = bp[..., 0:1] - bp[..., 1:2] / 2
        box1_x2 = bp[..., 0:1] + bp[..., 1:2] / 2
        box2_x1 = bl[..., 0:1] - bl[..., 1:2] / 2
        box2_x2 = bl[..., 0:1] + bl[..., 1:2] / 2
        x1 = ops.maximum(box1_x1, box2_x1)
        x2 = ops.minimum(box1_x2, box2_x2)
        intersection = ops.maximum(x2 - x1, 0.0)
        return intersection / (ops.abs(box1_x2 - box1_x1) + ops.abs(box2_x2 - box2_x1) - intersection + 1e-6)

    def yolo_1d_loss(predictions, target, anchors):  # model/loss.py Yolo1DLoss.forward, masks instead of indexing
        obj = ops.cast(ops.equal(target[..., 0], 1.0), "float32")
        noobj = ops.cast(ops.equal(target[..., 0], 0.0), "float32")
        no_obj_loss = masked_mean(bce_with_logits(predictions[..., 0:1], target[..., 0:1]), noobj)
        anchors = ops.reshape(ops.convert_to_tensor(anchors), (1, len(anchors), 1, 1))
        if bug:  # 842cb8b^
            box_predictions = ops.concatenate([ops.sigmoid(predictions[..., 0:1]),
                                               ops.exp(predictions[..., 1:2] * anchors)], axis=-1)
        else:  # fix 842cb8b
            box_predictions = ops.concatenate([ops.sigmoid(predictions[..., 1:2]),
                                               ops.exp(predictions[..., 2:3] * anchors)], axis=-1)
        ious = ops.stop_gradient(iou_1d(box_predictions, target[..., 1:3]))
        object_loss = masked_mean(bce_with_logits(predictions[..., 0:1], ious * target[..., 0:1]), obj)
        pred_box = ops.concatenate([ops.sigmoid(predictions[..., 1:2]), predictions[..., 2:3]], axis=-1)
        target_box = ops.concatenate([target[..., 1:2], ops.log(target[..., 2:3] / anchors + 1e-6)], axis=-1)
        box_loss = masked_mean(ops.square(pred_box - target_box), obj)
        logp = ops.log_softmax(predictions[..., 3:], axis=-1)
        onehot = ops.one_hot(ops.cast(target[..., 3], "int32"), NUM_CLASSES)
        class_loss = masked_mean(-ops.sum(onehot * logp, axis=-1, keepdims=True), obj)
        return 10 * box_loss + 1 * class_loss + 10 * no_obj_loss + 1 * object_loss

    def loss(y_true, y_pred):
        return sum(yolo_1d_loss(y_pred[:, :, a:b], y_true[:, :, a:b], sa[i]) for i, (a, b) in enumerate(segments))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8), loss=loss)
    series, y, _ = curves_and_targets()
    xk = series[:, :, None]  # (N, 416, 1)
    batches = [(xk[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(xk), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk}


buggy, fixed = versions(_torch, _keras, flag="bug")
