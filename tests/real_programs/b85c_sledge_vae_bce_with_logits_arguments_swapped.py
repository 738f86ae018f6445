"""autonomousvision/sledge (SLEDGE, "Synthesizing Driving Environments with Generative Models and Rule-Based
Traffic", ECCV 2024), stage one: the autoencoders that turn a bird's-eye-view raster of a driving scene into a latent
for the diffusion model. Besides the main RVAE the release ships a plain raster VAE (``VAEModel``,
``sledge/autoencoder/modeling/models/vae/vae_model.py``), trained by ``scripts/autoencoder/vae/training_vae.sh``
with the experiment ``training_vae_model.yaml``: objectives ``vae_bce_objective`` + ``kl_objective`` summed
(``objective_aggregate_mode: sum``), ``reconstruction_weight: 1.0``, ``kl_weight: 0.1``. The raster (12 channels:
an x / y pair each for lines, vehicles, pedestrians, static objects, green and red lights, background 0 and drawn
pixels 0.5 * (direction or velocity + 1), so all values in [0, 1]) is both the input and the target. Encoder
``RVAEEncoder``: a torchvision ResNet-50 with ``FrozenBatchNorm2d`` and a 12-channel ``conv1``, up to ``layer4``,
``GroupNorm(32)``, a 3x3 conv to 2 x 64 channels split into ``mu`` / ``log_var``; reparameterisation; decoder
``RasterDecoder``: five ``ConvTranspose2d`` (x2 each) + ``BatchNorm2d`` + ``ReLU`` and a 3x3 conv to 12 channels, no
output activation (logits). AdamW(lr 5e-5, weight_decay 5e-4), batch 64, 50 epochs.

The fault (the reconstruction loss): ``VAEBCEObjective.compute`` calls
``F.binary_cross_entropy_with_logits(gt_raster.data, pred_raster.data)``: the ground-truth raster is passed as the
logits and the decoder's output as the target. Per pixel the loss is then max(g, 0) - g * p + log(1 + exp(-|g|))
for ground truth g and prediction p: linear in p, with gradient -g. Pixels with g = 0 (most of the raster) give no
gradient at all, every drawn pixel pushes its prediction up without bound, and the loss has no minimum: it falls
for ever (through zero into negative values) while the decoder's logits grow and sigmoid(output), the reconstructed
raster, drifts towards 1 everywhere; what the decoder should learn (which pixels are drawn, with which value) is
never asked of it. Issue #4 "VAE loss" (hamid54, 2024-08-28) pointed at the line ("The arguments of
binary_cross_entropy_with_logits may need to be swapped"); the maintainer (DanielDauner): "you're right. We
accidentally introduced the bug during refactoring. We will fix the ordering in the upcoming release."

Source: github.com/autonomousvision/sledge ``sledge/autoencoder/modeling/objectives/vae_objective.py`` at
486ddac449ba92db3084061866167f088e13534e ("SLEDGE v0.1 release", = 345a0c3^), with ``models/vae/vae_model.py``,
``models/vae/vae_config.py``, ``models/rvae/rvae_encoder.py``, ``objectives/kl_objective.py``,
``script/config/common/autoencoder_model/vae_model.yaml``, ``script/experiments/autoencoder/training_vae_model.yaml``,
``script/config/autoencoder/optimizer/adamw.yaml``, ``data_loader/default_data_loader.yaml`` and the rasteriser
``preprocessing/feature_builders/sledge/sledge_feature_processing.py``; fixed in
345a0c33e3a7b5e6aae9de37a6ff387ae3ab9402 "Update README.md and fix #4" (2024-09-03):
``F.binary_cross_entropy_with_logits(pred_raster.data, gt_raster.data)``.
Fault label: loss_mismatch (a with-logits BCE fed the target raster as logits and the network's logits as the
target: a loss without a minimum that rewards ever larger outputs on the drawn pixels).

Program lines kept: ``VAEBCEObjective.compute`` and ``KLObjective.compute`` bodies verbatim (``self._weight`` as a
local; the two ``SledgeRaster`` lines in the order of each commit, ``kl_loss = -0.5 * torch.mean(1 + log_var -
mu**2 - log_var.exp())``), their weights, the sum of the objectives, ``FrozenBatchNorm2d``, the ``RVAEEncoder`` head
(``GroupNorm(num_groups=32, eps=1e-6)``, the 3x3 latent conv, ``torch.chunk``), ``_reparameterize``, the
``RasterDecoder`` layer sequence, AdamW(lr=5e-5, weight_decay=5e-4, betas=(0.9, 0.999)), batch size 64, 12 input
channels, 64 latent channels, the 64 m frame. Buggy and fixed differ only by the argument order.
Shrunk / replaced (a full-width ResNet-18 version already took 1.1 s per step of 64 at 32 x 32 on one core; the
program's ResNet-50 on 256 x 256 rasters is far beyond that):
  - the raster: pixel_size 0.25 m -> 2.0 m on the same 64 m frame, i.e. 32 x 32 pixels instead of 256 x 256 (the
    latent grid follows: 1 x 1 instead of 8 x 8, down_factor 32 kept);
  - the backbone: ``model_name`` "resnet50" -> "resnet18" (the code's own 512-channel branch), written out by hand as
    torchvision's ResNet-18 (torchvision is not installed here) with torchvision's conv init, and without the
    ImageNet weights of ``weights="DEFAULT"`` (no download); all widths divided by 4 (stem 16, stages 16 / 32 / 64 /
    128 channels, so GroupNorm(32) over 128 channels), and the decoder's 256 / 128 / 64 / 32 / 16 -> 64 / 32 / 16 /
    8 / 4; ~0.96 M parameters; ~0.13 s per step of 64 on one idle core;
  - the OneCycleLR schedule (max_lr = the optimizer's 5e-5, pct_start 0: it starts at 5e-5 and only moves beta1 to
    0.85) is left out; the Lightning wrapper becomes a plain ``loss_fn``; the model returns the tuple
    ``(raster logits, mu, log_var)`` instead of its predictions dict (``loss_fn`` rebuilds the dicts the objectives
    read); the nuPlan feature pipeline and the SE(2) / dropout augmentation are replaced by the stand-in below.
Data stand-in (no nuPlan): seeded synthetic scenes rasterised the way ``sledge_feature_processing`` does it, 32 x 32
x 12 float32 in [0, 1], channels first. An ego road (1-2 lanes each way, 3.5 m apart, heading N(0, 0.15) rad,
slight curvature), in 60 % of the scenes a crossing road 8-25 m ahead with the last 6-14 m of every lane before the
crossing drawn in the green-light channels for one road and the red-light channels for the other; lane pixels carry
0.5 * (cos, sin of the heading) + 0.5; the ego vehicle box at the centre (heading 0) and 2-9 vehicles on the lanes
with 0.5 * (v_xy / 15 + 1); 0-4 pedestrians (v / 2), 0-3 static objects (heading colour). 3.3 % of the
pixel-channels are drawn (mean value 0.016). ``batches``: 16 distinct batches of 64 (inputs = targets);
``batch``: the first; ``inputs``: 256 held-out scenes. Building the data takes ~5 s (cached).

Measured (my own plain loop, /tmp/s53/h85_c/measure.py: the module's builds, zero_grad / forward / loss_fn /
backward / step over the 16 batches cycled; torch seed 0, OMP_NUM_THREADS=1; "true BCE" =
``binary_cross_entropy_with_logits(output, raster)``, the fixed objective, on the 256 held-out scenes; the
best constant prediction scores true BCE 0.084 / MSE 0.0117 there):
  at the program's lr 5e-5, steps 0 / 500 / 1000 / 1500 / 2000 (held-out):
    buggy: its own loss 0.708 / 0.677 / 0.645 / 0.612 / 0.577 (falling all the time), true BCE 0.688 / 0.926 /
      1.325 / 1.753 / 2.230 (rising), MSE of sigmoid(output) 0.243 / 0.318 / 0.382 / 0.414 / 0.437, mean sigmoid
      on the empty pixels 0.50 / 0.55 / 0.60 / 0.62 / 0.64, max |logit| 0.2 / 12 / 21 / 34 / 45;
    fixed: loss 0.692 / 0.521 / 0.364 / 0.259 / 0.191 (= the true BCE but for 0.1 x KL: 0.688 at step 0), MSE
      0.243 / 0.163 / 0.093 / 0.053 / 0.032, empty-pixel mean 0.50 / 0.40 / 0.29 / 0.21 / 0.15, max |logit| 0.2 /
      2.0 / 2.6 / 3.1 / 3.5.
    (After 2000 steps the fixed model is still converging towards the constant baseline; lr 5e-5 is slow.)
  the same loop with lr raised to 1e-3 (a side experiment, not the module's setting), steps 0 / 200 / 400 / 600:
    buggy: loss 0.708 / 0.394 / -0.190 / -1.122 (negative from step ~350 on), true BCE 0.69 / 4.9 / 12.9 / 25.8, max
      |logit| 0.2 / 99 / 201 / 410, empty-pixel mean 0.50 / 0.68 / 0.76 / 0.80, MSE 0.66 at 600;
    fixed: true BCE 0.69 / 0.095 / 0.067 / 0.060 (below the constant baseline 0.084), MSE 0.0096 at 600 (constant:
      0.0117), empty-pixel mean 0.017 vs drawn-pixel mean 0.116.
  So the buggy objective keeps decreasing (and goes negative) while the reconstruction gets worse at every
  checkpoint and the outputs grow without bound; no NaN within these runs. In both versions the KL term falls to
  ~0 (posterior collapse with kl_weight 0.1 on a mean-reduced KL); that is not the fault.
  Time per step (batch 64, one thread): ~0.13 s alone, 0.35-0.55 s with two runs sharing the 2-core machine.

Lead's edit: ``forward`` returns the raster logits and keeps the latent on ``model.latent`` for ``loss_fn`` (the
port returned the tuple ``(raster logits, mu, log_var)``, which the checks read only through an ``output=``
selector, and then hand the selected tensor alone to ``loss_fn``); what the model computes and the loss adds up is
unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:autonomousvision/sledge issue #4 'VAE loss', fix 345a0c33e3a7b5e6aae9de37a6ff387ae3ab9402 "
          "'Update README.md and fix #4' (sledge/autoencoder/modeling/objectives/vae_objective.py VAEBCEObjective "
          "@486ddac449ba92db3084061866167f088e13534e = 345a0c3^, models/vae/vae_model.py, models/rvae/rvae_encoder.py, "
          "objectives/kl_objective.py, script/experiments/autoencoder/training_vae_model.yaml)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}), ("inputs_normalized", {})]

# vae_model.yaml / VAEConfig (frame, channels, latent, loss weights); pixel_size and backbone shrunk (see docstring)
FRAME = (64, 64)  # metres
PIXEL_SIZE = 2.0  # the program: 0.25 (a 256 x 256 raster); here 32 x 32
NUM_INPUT_CHANNELS = 12
LATENT_CHANNEL = 64
MODEL_NAME = "resnet18"  # the program: "resnet50"
WIDTH = 16  # ResNet stem width (torchvision: 64); the stages have WIDTH x (1, 2, 4, 8) channels
DEC = (64, 32, 16, 8, 4)  # RasterDecoder deconv widths (the program: 256, 128, 64, 32, 16)
RECONSTRUCTION_WEIGHT = 1.0
KL_WEIGHT = 0.1
VEHICLE_MAX_VELOCITY = 15.0
PEDESTRIAN_MAX_VELOCITY = 2.0
# default_data_loader.yaml / adamw.yaml
BATCH_SIZE = 64
LR = 5e-5
WEIGHT_DECAY = 5e-4
BETAS = (0.9, 0.999)
# stand-in
N_BATCHES = 16
N_INPUTS = 256
SEED = 0
PIXELS = int(FRAME[0] / PIXEL_SIZE)


# ------------------------------------------------------------------------------------------------------------ data

def _to_pixel(xy: np.ndarray) -> np.ndarray:
    """coords_to_pixel: ego-centric metres -> integer pixel indices (x, y)."""
    return (xy / PIXEL_SIZE + PIXELS / 2.0).astype(np.int32)


def _paint(raster: np.ndarray, xy: np.ndarray, ch: int, values: np.ndarray) -> None:
    """Write two-channel ``values`` at the pixels of the points ``xy`` that fall inside the frame."""
    pix = _to_pixel(xy)
    ok = (pix >= 0).all(-1) & (pix < PIXELS).all(-1)
    raster[pix[ok, 0], pix[ok, 1], ch:ch + 2] = values[ok]


def _box(raster: np.ndarray, cx: float, cy: float, heading: float, length: float, width: float, ch: int,
         value: tuple[float, float]) -> None:
    """An oriented box (dense grid of points inside it, always at least its centre) painted with one value."""
    u = np.linspace(-0.5, 0.5, 7)
    a, b = np.meshgrid(u * length, u * width)
    c, s = np.cos(heading), np.sin(heading)
    pts = np.stack([cx + a * c - b * s, cy + a * s + b * c], -1).reshape(-1, 2)
    pts = np.concatenate([pts, [[cx, cy]]])
    _paint(raster, pts, ch, np.tile(np.asarray(value, "float32"), (len(pts), 1)))


def _road(t: np.ndarray, origin: np.ndarray, phi: float, kappa: float, lat: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and headings of a lane ``lat`` metres left of a gently curved road centre line."""
    d, nrm = np.array([np.cos(phi), np.sin(phi)]), np.array([-np.sin(phi), np.cos(phi)])
    xy = origin + t[:, None] * d + (0.5 * kappa * t ** 2 + lat)[:, None] * nrm
    return xy, phi + kappa * t


def _scene(r: np.random.Generator) -> np.ndarray:
    """One synthetic SLEDGE raster (H, W, 12) in [0, 1], channels as SledgeRasterIndex: lines, vehicles,
    pedestrians, static objects, green lights, red lights (an x / y pair each), zero background."""
    raster = np.zeros((PIXELS, PIXELS, NUM_INPUT_CHANNELS), "float32")
    t = np.arange(-50.0, 50.0, PIXEL_SIZE / 4)
    phi, kappa = r.normal(0, 0.15), r.normal(0, 0.004)
    lanes = []  # (points, headings, road, direction)
    for j in range(int(r.integers(1, 3))):  # the ego road: lanes in the ego's direction and opposite ones
        xy, h = _road(t, np.zeros(2), phi, kappa, 3.5 * j)
        lanes.append((xy, h, 0, 1))
    for j in range(int(r.integers(1, 3))):
        xy, h = _road(t, np.zeros(2), phi, kappa, -3.5 * (j + 1))
        lanes.append((xy, h + np.pi, 0, -1))
    cross = r.random() < 0.6
    if cross:  # a crossing road s metres ahead, one lane each way
        s, phi1 = r.uniform(8, 25), phi + np.pi / 2 + r.normal(0, 0.1)
        centre = s * np.array([np.cos(phi), np.sin(phi)])
        for lat, sign in ((-1.75, 1), (1.75, -1)):
            xy, h = _road(t, centre, phi1, 0.0, lat)
            lanes.append((xy, h + (0 if sign == 1 else np.pi), 1, sign))
    for xy, h, _, _ in lanes:  # process_lines: orientation as colour, 0.5 * (dxy + 1)
        _paint(raster, xy, 0, 0.5 * (np.stack([np.cos(h), np.sin(h)], -1) + 1))
    if cross:  # traffic lights on the last metres of each lane before the crossing: one road green, one red
        green = int(r.integers(0, 2))
        for xy, h, road, sign in lanes:
            at = s if road == 0 else 0.0
            seg = (sign * (t - at) > -14) & (sign * (t - at) < -6)
            ch = 8 if road == green else 10
            _paint(raster, xy[seg], ch, 0.5 * (np.stack([np.cos(h[seg]), np.sin(h[seg])], -1) + 1))
    mv, pv = VEHICLE_MAX_VELOCITY, PEDESTRIAN_MAX_VELOCITY
    v = r.uniform(0, mv)  # process_agents' ego box: at the centre, heading 0
    _box(raster, 0.0, 0.0, 0.0, 5.2, 2.3, 2, (0.5 * (v / mv + 1), 0.5))
    for _ in range(int(r.integers(2, 10))):  # other vehicles, on the lanes, moving along them
        xy, h, _, _ = lanes[int(r.integers(len(lanes)))]
        i, v = int(r.integers(len(t))), r.uniform(0, mv)
        val = (0.5 * (v * np.cos(h[i]) / mv + 1), 0.5 * (v * np.sin(h[i]) / mv + 1))
        _box(raster, xy[i, 0], xy[i, 1], h[i], 4.5, 1.9, 2, val)
    for _ in range(int(r.integers(0, 5))):  # pedestrians anywhere
        h, v = r.uniform(0, 2 * np.pi), r.uniform(0, pv)
        x, y = r.uniform(-30, 30, 2)
        _box(raster, x, y, h, 0.7, 0.7, 4, (0.5 * (v * np.cos(h) / pv + 1), 0.5 * (v * np.sin(h) / pv + 1)))
    for _ in range(int(r.integers(0, 4))):  # static objects: heading as colour
        h = r.uniform(0, 2 * np.pi)
        x, y = r.uniform(-30, 30, 2)
        _box(raster, x, y, h, r.uniform(0.5, 3), r.uniform(0.5, 2), 6, (0.5 * (np.cos(h) + 1), 0.5 * (np.sin(h) + 1)))
    return raster


@functools.lru_cache(maxsize=1)
def _data() -> np.ndarray:
    """(n, 12, H, W) float32 rasters, channels first as SledgeRaster.to_feature_tensor makes them."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    return np.stack([_scene(r) for _ in range(n)]).transpose(0, 3, 1, 2).copy()


# ----------------------------------------------------------------------------------------------------------- model

@dataclass
class SledgeRaster:
    """sledge_raster_feature.SledgeRaster, reduced to its tensor."""

    data: Any


@dataclass
class Latent:
    """latent_feature.Latent, reduced to its tensors."""

    mu: Any
    log_var: Any


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class FrozenBatchNorm2d(torch.nn.Module):  # rvae_encoder.py, as in the program (buffers only)
        def __init__(self, n):
            super(FrozenBatchNorm2d, self).__init__()
            self.register_buffer("weight", torch.ones(n))
            self.register_buffer("bias", torch.zeros(n))
            self.register_buffer("running_mean", torch.zeros(n))
            self.register_buffer("running_var", torch.ones(n))

        def forward(self, x):
            w = self.weight.reshape(1, -1, 1, 1)
            b = self.bias.reshape(1, -1, 1, 1)
            rv = self.running_var.reshape(1, -1, 1, 1)
            rm = self.running_mean.reshape(1, -1, 1, 1)
            eps = 1e-5
            scale = w * (rv + eps).rsqrt()
            bias = b - rm * scale
            return x * scale + bias

    class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock with norm_layer=FrozenBatchNorm2d
        def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = FrozenBatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = FrozenBatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                FrozenBatchNorm2d(planes))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18Backbone(nn.Module):  # torchvision resnet18 up to layer4 (IntermediateLayerGetter 'layer4')
        def __init__(self) -> None:
            super().__init__()
            w = WIDTH
            self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
            self.bn1 = FrozenBatchNorm2d(w)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = nn.Sequential(BasicBlock(w, w), BasicBlock(w, w))
            self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w))
            self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w))
            self.layer4 = nn.Sequential(BasicBlock(4 * w, 8 * w, 2), BasicBlock(8 * w, 8 * w))
            for m in self.modules():  # torchvision's init (no pretrained weights here)
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return {"0": self.layer4(self.layer3(self.layer2(self.layer1(x))))}

    class RVAEEncoder(nn.Module):
        """ResNet backbone with frozen BatchNorm."""

        def __init__(self) -> None:
            super().__init__()
            backbone = ResNet18Backbone()
            if NUM_INPUT_CHANNELS != 3:
                backbone.conv1 = nn.Conv2d(NUM_INPUT_CHANNELS, WIDTH, 7, stride=2, padding=3, bias=False)
            self._backbone = backbone
            output_channels = 8 * WIDTH if MODEL_NAME in ["resnet18", "resnet34"] else 32 * WIDTH  # 512 / 2048
            self._group_norm = nn.GroupNorm(num_groups=32, num_channels=output_channels, eps=1e-6, affine=True)
            self._latent = nn.Conv2d(output_channels, 2 * LATENT_CHANNEL, kernel_size=3, stride=1, padding=1)

        def forward(self, raster: torch.Tensor) -> Latent:
            cnn_features = self._backbone(raster)["0"]
            normed_features = self._group_norm(cnn_features)

            latent = self._latent(normed_features)
            mu, log_var = torch.chunk(latent, 2, dim=1)

            return Latent(mu, log_var)

    class RasterDecoder(nn.Module):
        """Simple Raster Decoder from latent."""

        def __init__(self, latent_channel: int, num_output_channels: int = 2):
            super(RasterDecoder, self).__init__()

            c1, c2, c3, c4, c5 = DEC
            self.deconv1 = nn.ConvTranspose2d(latent_channel, c1, kernel_size=4, stride=2, padding=1)
            self.bn1 = nn.BatchNorm2d(c1)
            self.relu1 = nn.ReLU()

            self.deconv2 = nn.ConvTranspose2d(c1, c2, kernel_size=4, stride=2, padding=1)
            self.bn2 = nn.BatchNorm2d(c2)
            self.relu2 = nn.ReLU()

            self.deconv3 = nn.ConvTranspose2d(c2, c3, kernel_size=4, stride=2, padding=1)
            self.bn3 = nn.BatchNorm2d(c3)
            self.relu3 = nn.ReLU()

            self.deconv4 = nn.ConvTranspose2d(c3, c4, kernel_size=4, stride=2, padding=1)
            self.bn4 = nn.BatchNorm2d(c4)
            self.relu4 = nn.ReLU()

            self.deconv5 = nn.ConvTranspose2d(c4, c5, kernel_size=4, stride=2, padding=1)
            self.bn5 = nn.BatchNorm2d(c5)
            self.relu5 = nn.ReLU()

            # Final layer to adjust channels from 8 to 12
            self.final_conv = nn.Conv2d(c5, num_output_channels, kernel_size=3, stride=1, padding=1)

        def forward(self, x):
            x = self.relu1(self.bn1(self.deconv1(x)))
            x = self.relu2(self.bn2(self.deconv2(x)))
            x = self.relu3(self.bn3(self.deconv3(x)))
            x = self.relu4(self.bn4(self.deconv4(x)))
            x = self.relu5(self.bn5(self.deconv5(x)))
            x = self.final_conv(x)
            return SledgeRaster(data=x)

    class VAEModel(nn.Module):
        """Raster Variation Autoencoder."""

        def __init__(self) -> None:
            super().__init__()
            self._raster_encoder = RVAEEncoder()
            self._raster_decoder = RasterDecoder(LATENT_CHANNEL, NUM_INPUT_CHANNELS)

        @staticmethod
        def _reparameterize(latent: Latent) -> torch.Tensor:
            mu, log_var = latent.mu, latent.log_var
            assert mu.shape == log_var.shape
            std = torch.exp(0.5 * log_var)
            eps = torch.randn_like(std)
            return mu + eps * std

        def forward(self, raster: torch.Tensor) -> torch.Tensor:
            latent = self._raster_encoder(raster)  # predictions["latent"]
            self.latent = latent  # kept for loss_fn (lead's edit: the port returned (raster, mu, log_var))
            z = self._reparameterize(latent)
            pred = self._raster_decoder(z)  # predictions["sledge_raster"]
            return pred.data

    def vae_bce_objective(predictions: dict[str, Any], targets: dict[str, Any]) -> dict[str, torch.Tensor]:
        """VAEBCEObjective.compute (weight = reconstruction_weight)."""
        _weight = RECONSTRUCTION_WEIGHT
        if fixed:  # 345a0c3: predictions first (the logits), the ground-truth raster as the target
            pred_raster: SledgeRaster = predictions["sledge_raster"]
            gt_raster: SledgeRaster = targets["sledge_raster"]
            bce_loss = F.binary_cross_entropy_with_logits(pred_raster.data, gt_raster.data)
        else:  # 486ddac: the ground-truth raster passed as the logits, the prediction as the target
            gt_raster: SledgeRaster = targets["sledge_raster"]
            pred_raster: SledgeRaster = predictions["sledge_raster"]
            bce_loss = F.binary_cross_entropy_with_logits(gt_raster.data, pred_raster.data)

        return {"bce_loss": _weight * bce_loss}

    def kl_objective(predictions: dict[str, Any]) -> dict[str, torch.Tensor]:
        """KLObjective.compute (weight = kl_weight)."""
        _weight = KL_WEIGHT
        pred_latent: Latent = predictions["latent"]
        mu, log_var = pred_latent.mu, pred_latent.log_var
        kl_loss = -0.5 * torch.mean(1 + log_var - mu**2 - log_var.exp())

        return {"kl_latent": _weight * kl_loss}

    def loss_fn(raster: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The objectives of training_vae_model.yaml, summed (objective_aggregate_mode: sum)."""
        predictions = {"sledge_raster": SledgeRaster(raster), "latent": model.latent}
        targets = {"sledge_raster": SledgeRaster(target)}
        objectives = {**vae_bce_objective(predictions, targets), **kl_objective(predictions)}
        return sum(objectives.values())

    torch.manual_seed(SEED)
    model = VAEModel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, betas=BETAS)
    x = torch.from_numpy(_data())
    n = N_BATCHES * BATCH_SIZE
    batches = [(x[i:i + BATCH_SIZE], x[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]  # target = input
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[n:], "loss_fn": loss_fn,
            "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
