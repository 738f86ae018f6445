"""NVIDIA/flownet2-pytorch (FlowNet 2.0 optical-flow training, ``main.py`` + ``datasets.py`` + ``models.py`` +
``losses.py``): the training datasets (``MpiSintel``, ``FlyingChairs``, ``FlyingThings``, ``ChairsSDHom``) read a frame
pair and its ground-truth flow, and with ``is_cropped`` (always true for the training set) cut a ``--crop_size`` window
(default 256 x 256) with ``StaticRandomCrop``:

    class StaticRandomCrop(object):
        def __init__(self, size):
            self.th, self.tw = size
        def __call__(self, img):
            h, w, _ = img.shape
            h1 = random.randint(0, h - self.th)
            w1 = random.randint(0, w - self.tw)
            return img[h1:(h1+self.th), w1:(w1+self.tw),:]
    ...
    cropper = StaticRandomCrop(self.crop_size)
    images = map(cropper, images)
    flow = cropper(flow)

The offsets are drawn inside ``__call__``, so frame 1, frame 2 and the flow each get their OWN random window: the two
frames handed to the network are no longer the same place seen at two times (frame 2 is shifted against frame 1 by
the difference of two random offsets, up to the whole frame), and the target flow describes yet another window. The
pairs the network learns from carry (almost) no information about their targets, so it can only learn the average
flow. On Sintel (436 x 1024 frames, 256 x 256 crops) the offsets range over 0..180 x 0..768 pixels.

Source: github.com/NVIDIA/flownet2-pytorch issue #22 ("is cropping implemented correct?": "the random cropping is
implemented so that each call of the function will crop different regions ... the left/right/flow image should be
cropped in the same way"; maintainer fitsumreda: "you are right, there is a bug in the cropping logic. Which could be
problematic when training with FlyingThings3D datasets. For the FlyingChairs, this wouldn't have affected things as
the full image size is the crop_size"), ``datasets.py``, ``models.py`` (``FlowNet2S``), ``networks/FlowNetS.py``,
``networks/submodules.py``, ``losses.py`` (``MultiScale``) and ``main.py`` at 66fde95^ (= b8ab989); fixed by commit
66fde956552c98afd0ece54dc6a756b52e7136c5 "fix random cropping bug": ``StaticRandomCrop(image_size, crop_size)`` draws
``h1``, ``w1`` once in ``__init__`` and every dataset builds one cropper per sample and applies it to both frames and
the flow.
Program lines kept: ``StaticRandomCrop`` (buggy and fixed), the dataset's crop / ``np.array(images).transpose(3, 0, 1,
2)`` / ``flow.transpose(2, 0, 1)`` / float32 conversion (a sample is ``images`` (3, 2, H, W) in 0..255 and ``flow``
(2, H, W) in pixels); ``FlowNet2S`` (``rgb_max=255``, ``div_flow=20``, ``batchNorm=False``: per-sample RGB mean
subtracted, divided by 255, the two frames stacked to 6 channels) on ``FlowNetS``'s layers (``conv`` / ``deconv`` /
``predict_flow`` of ``submodules.py`` with LeakyReLU(0.1), 7x7 / 5x5 / 5x5 stride-2 convs then 3x3, down to 1/64,
four ``deconv`` + 4x4 stride-2 transposed-conv flow upsamplers, xavier-uniform weights and U(0, 1) biases) returning
``flow2, flow3, flow4, flow5, flow6`` in training; ``MultiScale`` loss (the README's ``--loss=MultiScale
--loss_norm=L1 --loss_numScales=5 --loss_startScale=4``: target x ``div_flow`` 0.05, average-pooled by 4, 8, 16, 32,
64 for the five outputs, L1 (mean absolute error) weighted 0.32 / 2 ** scale); ``Adam(lr=1e-4)`` (README
``--optimizer=Adam --optimizer_lr=1e-4``, torch defaults otherwise) over the parameters with ``requires_grad``;
``--batch_size 8``; the training loop's ``optimizer.zero_grad(); losses = model(data, target); loss_val =
losses[0]; loss_val.backward(); optimizer.step()``.
Ported / shrunk: the README's MpiSintel example trains ``FlowNet2`` (stacked FlowNetC / FlowNetS / FlowNetSD with
the repository's CUDA-only correlation, resample2d and channelnorm kernels), which cannot run on a CPU; the port
trains ``--model FlowNet2S`` (one of the program's models, the FlowNetS stage of FlowNet2 without those kernels),
whose training output is the five-scale tuple, hence the README's ``MultiScale`` loss. Every width divided by 8
(conv1..conv6 8, 16, 32, 32, 64, 64, 64, 64, 128, 128; deconvs 64, 32, 16, 8; program 64 .. 1024) and frames of
112 x 256 with 64 x 64 crops (Sintel 436 x 1024 with 256 x 256, about a quarter in each direction, so the crop
offsets cover the same share of the frame), so a step of 8 samples takes a few tens of milliseconds on one thread.
``torch.nn.init.uniform`` / ``xavier_uniform`` -> their in-place ``_`` forms; ``Variable`` dropped. So that the
checks see one tensor: ``model`` is ``FlowNet2S`` behind a thin wrapper whose ``forward`` flattens and joins the
five flows into one (N, 682) tensor (2 x (16^2 + 8^2 + 4^2 + 2^2 + 1^2) at 64 x 64 input) in train and eval mode
(the program's eval branch returns the upsampled full-resolution flow; training never uses it), and the target
``y`` is the flow passed through ``MultiScale``'s own target transform (x 0.05, the five average pools) joined the
same way; ``loss_fn`` is ``MultiScale``'s L1 sum on the joined tensors, equal to the program's ``loss_val`` (checked
to 1e-6 against the unjoined form). Torch only: the fault is in the repository's PyTorch dataset; a Keras program
would not reach this ``StaticRandomCrop``.
Data stand-in (no Sintel / FlyingChairs download): seeded synthetic frame pairs of 112 x 256 RGB, 0..255 float32
(``imread`` values), each a smooth background texture (about 60 coloured Gaussian blobs, sigma 2-7 px, over a
random base colour and a faint grating) moving by a random translation of up to 4 px per axis, with a textured
elliptic foreground object moving by its own translation of up to 8 px; ``flow`` (H, W, 2) float32, (u, v) in
pixels, is exactly that motion at every pixel of frame 1 (frame1(p) = frame2(p + flow(p)) outside occlusions).
64 scenes; ``batches``: 8 batches of 8 crops through the dataset's cropper (buggy: three windows per sample; fixed:
one), ``batch`` the first, ``baseline_batch`` 64 crops (one per scene), ``inputs`` its images.
Fault label: other:training_pairs_misaligned (the inputs of each pair and its target are cut from independently
drawn windows, so the targets do not follow from the inputs; no listed cause names a data pipeline that breaks the
input / target correspondence).
Fix (66fde95): draw the crop offsets once per sample (``StaticRandomCrop(image_size, crop_size)``) and crop both
frames and the flow with the same window.

Measured (my own plain loop, /tmp/s47/h_a/measure.py, OMP_NUM_THREADS=1: the module's model, loss_fn and optimizer;
each epoch 64 fresh crops through the buggy / fixed dataset cropper (the dataset redraws its crops every epoch), 8
steps of 8; evaluated on 32 held-out scenes with aligned crops; "inputs zeroed" = the same training with all images
set to 0, an input-independent baseline):
  held-out MultiScale loss (zero-flow predictor 0.0669, flow2 EPE 3.34 px) after 1200 steps (150 epochs):
    buggy 0.0672 (EPE 3.46 px; the same run with inputs zeroed: 0.0670, 3.44 px);
    fixed 0.0647 (EPE 3.34 px; inputs zeroed: 0.0673, 3.45 px).
  Epoch-mean training loss, epochs 1 / 10 / 40 / 80 / 150: buggy 0.526 / 0.105 / 0.074 / 0.069 / 0.068; fixed 0.524 /
    0.102 / 0.072 / 0.067 / 0.066. Output spread across held-out samples (std of flow2 over samples): buggy 0.016,
    fixed 0.041.
  So on this stand-in and budget the fault shows only weakly: both versions spend most of the 1200 steps shedding
  the U(0, 1) bias initialisation and learning the average flow; then the fixed model starts to use the frames
  (held-out loss below the zero-flow and zeroed-input baselines, outputs that vary with the input) while the buggy
  one stays at its zeroed-input twin's loss. FlowNet at lr 1e-4 trains for hundreds of thousands of steps; the gap
  would grow with training, but the measured one here is small (0.0647 vs 0.0672). Time per step (batch 8, one
  thread, loaded machine): about 35-45 ms; the first build about 2.5 s (torch import and the 64 scenes).
"""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np

LABEL = "other:training_pairs_misaligned"
SOURCE = ("github:NVIDIA/flownet2-pytorch issue #22 (datasets.py StaticRandomCrop@66fde95^ = b8ab989, models.py "
          "FlowNet2S, networks/FlowNetS.py, losses.py MultiScale, main.py; "
          "fix 66fde956552c98afd0ece54dc6a756b52e7136c5 'fix random cropping bug')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("input_independent_baseline", {})]

# main.py / README: --batch_size 8 --optimizer=Adam --optimizer_lr=1e-4 --loss=MultiScale --loss_norm=L1
# --loss_numScales=5 --loss_startScale=4, --rgb_max 255
BATCH_SIZE = 8
LR = 1e-4
RGB_MAX = 255.0
DIV_FLOW = 20  # FlowNet2S(div_flow=20)
START_SCALE, NUM_SCALES, L_WEIGHT, LOSS_DIV_FLOW = 4, 5, 0.32, 0.05  # MultiScale defaults
# port: frames 112 x 256, crops 64 x 64 (program: Sintel 436 x 1024, --crop_size 256 256); widths / 8
FRAME_H, FRAME_W = 112, 256
CROP = (64, 64)
WIDTH_DIV = 8
N_SCENES = 64
N_BATCHES = 8
SEED = 1  # main.py --seed 1


# ------------------------------------------------------------------------------------------------------------ data

def _texture(rng: np.random.Generator, n_blobs: int, extent: tuple[float, float]):
    """A smooth random RGB texture, values about 0..255, sampled on a pixel grid shifted by (oy, ox): f(oy, ox)
    gives the (H, W, 3) image t(y - oy, x - ox) (the texture moved by (oy, ox))."""
    base = rng.uniform(40, 200, 3)
    by = rng.uniform(-10, extent[0] + 10, n_blobs)
    bx = rng.uniform(-10, extent[1] + 10, n_blobs)
    bs = rng.uniform(2.0, 7.0, n_blobs)
    bc = rng.uniform(-110, 110, (n_blobs, 3))
    gk = rng.uniform(0.15, 0.5, 2)
    ga = rng.uniform(0, 2 * np.pi)
    ys, xs = np.arange(FRAME_H, dtype=np.float64), np.arange(FRAME_W, dtype=np.float64)

    def f(oy: float, ox: float) -> np.ndarray:
        y, x = ys - oy, xs - ox
        gy = np.exp(-((y[:, None] - by) ** 2) / (2 * bs ** 2))  # Gaussian blobs are separable
        gx = np.exp(-((x[:, None] - bx) ** 2) / (2 * bs ** 2))
        img = base + np.einsum("hn,wn,nc->hwc", gy, gx, bc, optimize=True)
        img = img + 12.0 * np.sin(gk[0] * y[:, None] + gk[1] * x[None, :] + ga)[..., None]
        return img

    return f


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(img1, img2) (H, W, 3) float32 0..255 and flow (H, W, 2) float32 (u, v) in pixels:
    frame1(p) ~ frame2(p + flow(p))."""
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float64)
    bg = _texture(rng, 60, (FRAME_H, FRAME_W))
    obj = _texture(rng, 20, (FRAME_H, FRAME_W))
    d_bg = rng.uniform(-4, 4, 2)  # (dy, dx)
    d_obj = rng.uniform(-8, 8, 2)
    cy, cx = rng.uniform(20, FRAME_H - 20), rng.uniform(30, FRAME_W - 30)
    ry, rx = rng.uniform(10, 22), rng.uniform(14, 36)

    def inside(oy: float, ox: float) -> np.ndarray:
        return ((yy - oy) / ry) ** 2 + ((xx - ox) / rx) ** 2 <= 1.0

    m1 = inside(cy, cx)
    img1 = np.where(m1[..., None], obj(0.0, 0.0), bg(0.0, 0.0))
    m2 = inside(cy + d_obj[0], cx + d_obj[1])
    img2 = np.where(m2[..., None], obj(d_obj[0], d_obj[1]), bg(d_bg[0], d_bg[1]))
    d = np.where(m1[..., None], d_obj, d_bg)  # (H, W, 2) as (dy, dx)
    flow = np.stack([d[..., 1], d[..., 0]], axis=-1)  # .flo order: (u, v) = (dx, dy)
    noise = rng.normal(0, 2.0, (2, FRAME_H, FRAME_W, 3))
    img1 = np.clip(np.round(img1 + noise[0]), 0, 255)
    img2 = np.clip(np.round(img2 + noise[1]), 0, 255)
    return img1.astype("float32"), img2.astype("float32"), flow.astype("float32")


@functools.lru_cache(maxsize=1)
def _scenes() -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    rng = np.random.default_rng(SEED)
    return tuple(_scene(rng) for _ in range(N_SCENES))


class StaticRandomCrop(object):  # datasets.py@66fde95^ (buggy)
    def __init__(self, size):
        self.th, self.tw = size

    def __call__(self, img):
        h, w, _ = img.shape
        h1 = random.randint(0, h - self.th)
        w1 = random.randint(0, w - self.tw)
        return img[h1:(h1 + self.th), w1:(w1 + self.tw), :]


class StaticRandomCropFixed(object):  # datasets.py@66fde95 (fixed): StaticRandomCrop(image_size, crop_size)
    def __init__(self, image_size, crop_size):
        self.th, self.tw = crop_size
        h, w = image_size
        self.h1 = random.randint(0, h - self.th)
        self.w1 = random.randint(0, w - self.tw)

    def __call__(self, img):
        return img[self.h1:(self.h1 + self.th), self.w1:(self.w1 + self.tw), :]


def get_item(index: int, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The training dataset's ``__getitem__`` (is_cropped=True): images (3, 2, h, w) float32, flow (2, h, w)."""
    img1, img2, flow = _scenes()[index % N_SCENES]
    images = [img1, img2]
    image_size = img1.shape[:2]
    if fixed:
        cropper = StaticRandomCropFixed(image_size, CROP)
    else:
        cropper = StaticRandomCrop(CROP)
    images = list(map(cropper, images))
    flow = cropper(flow)
    images = np.array(images).transpose(3, 0, 1, 2)
    flow = flow.transpose(2, 0, 1)
    return images.astype(np.float32), flow.astype(np.float32)


def crops(fixed: bool, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples from the training dataset in a shuffled order (python ``random`` seeded)."""
    state = random.getstate()  # the caller's python random state is left as it was
    random.seed(seed)
    order = np.random.default_rng(seed).permutation(np.arange(n) % N_SCENES)
    items = [get_item(int(i), fixed) for i in order]
    random.setstate(state)
    return np.stack([a for a, _ in items]), np.stack([b for _, b in items])


def multiscale_targets(flow: np.ndarray) -> np.ndarray:
    """``MultiScale.forward``'s target side, in numpy: ``div_flow * target`` average-pooled by 4, 8, .., 64 (one
    pool per output), each flattened, joined: (N, 2 * sum((h / s) * (w / s)))."""
    t = LOSS_DIV_FLOW * flow
    n, c, h, w = t.shape
    out = []
    for i in range(NUM_SCALES):
        s = START_SCALE * 2 ** i
        out.append(t.reshape(n, c, h // s, s, w // s, s).mean(axis=(3, 5)).reshape(n, -1))
    return np.concatenate(out, axis=1).astype("float32")


def _sizes() -> list[int]:
    h, w = CROP
    return [2 * (h // (START_SCALE * 2 ** i)) * (w // (START_SCALE * 2 ** i)) for i in range(NUM_SCALES)]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.nn import init

    def conv(batchNorm, in_planes, out_planes, kernel_size=3, stride=1):  # networks/submodules.py
        if batchNorm:
            return nn.Sequential(
                nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                          padding=(kernel_size - 1) // 2, bias=False),
                nn.BatchNorm2d(out_planes),
                nn.LeakyReLU(0.1, inplace=True)
            )
        else:
            return nn.Sequential(
                nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                          padding=(kernel_size - 1) // 2, bias=True),
                nn.LeakyReLU(0.1, inplace=True)
            )

    def predict_flow(in_planes):
        return nn.Conv2d(in_planes, 2, kernel_size=3, stride=1, padding=1, bias=True)

    def deconv(in_planes, out_planes):
        return nn.Sequential(
            nn.ConvTranspose2d(in_planes, out_planes, kernel_size=4, stride=2, padding=1, bias=True),
            nn.LeakyReLU(0.1, inplace=True)
        )

    k = WIDTH_DIV
    c1, c2, c3, c4, c5, c6 = 64 // k, 128 // k, 256 // k, 512 // k, 512 // k, 1024 // k
    d5, d4, d3, d2 = 512 // k, 256 // k, 128 // k, 64 // k

    class FlowNetS(nn.Module):  # networks/FlowNetS.py, widths / WIDTH_DIV
        def __init__(self, input_channels=12, batchNorm=True):
            super(FlowNetS, self).__init__()

            self.batchNorm = batchNorm
            self.conv1 = conv(self.batchNorm, input_channels, c1, kernel_size=7, stride=2)
            self.conv2 = conv(self.batchNorm, c1, c2, kernel_size=5, stride=2)
            self.conv3 = conv(self.batchNorm, c2, c3, kernel_size=5, stride=2)
            self.conv3_1 = conv(self.batchNorm, c3, c3)
            self.conv4 = conv(self.batchNorm, c3, c4, stride=2)
            self.conv4_1 = conv(self.batchNorm, c4, c4)
            self.conv5 = conv(self.batchNorm, c4, c5, stride=2)
            self.conv5_1 = conv(self.batchNorm, c5, c5)
            self.conv6 = conv(self.batchNorm, c5, c6, stride=2)
            self.conv6_1 = conv(self.batchNorm, c6, c6)

            self.deconv5 = deconv(c6, d5)
            self.deconv4 = deconv(c5 + d5 + 2, d4)
            self.deconv3 = deconv(c4 + d4 + 2, d3)
            self.deconv2 = deconv(c3 + d3 + 2, d2)

            self.predict_flow6 = predict_flow(c6)
            self.predict_flow5 = predict_flow(c5 + d5 + 2)
            self.predict_flow4 = predict_flow(c4 + d4 + 2)
            self.predict_flow3 = predict_flow(c3 + d3 + 2)
            self.predict_flow2 = predict_flow(c2 + d2 + 2)

            self.upsampled_flow6_to_5 = nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)
            self.upsampled_flow5_to_4 = nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)
            self.upsampled_flow4_to_3 = nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)
            self.upsampled_flow3_to_2 = nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)

            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    if m.bias is not None:
                        init.uniform_(m.bias)
                    init.xavier_uniform_(m.weight)

                if isinstance(m, nn.ConvTranspose2d):
                    if m.bias is not None:
                        init.uniform_(m.bias)
                    init.xavier_uniform_(m.weight)
            self.upsample1 = nn.Upsample(scale_factor=4, mode='bilinear')

    class FlowNet2S(FlowNetS):  # models.py
        def __init__(self, batchNorm=False, div_flow=20):
            super(FlowNet2S, self).__init__(input_channels=6, batchNorm=batchNorm)
            self.rgb_max = RGB_MAX
            self.div_flow = div_flow

        def forward(self, inputs):
            rgb_mean = inputs.contiguous().view(inputs.size()[:2] + (-1,)).mean(dim=-1).view(
                inputs.size()[:2] + (1, 1, 1,))
            x = (inputs - rgb_mean) / self.rgb_max
            x = torch.cat((x[:, :, 0, :, :], x[:, :, 1, :, :]), dim=1)

            out_conv1 = self.conv1(x)

            out_conv2 = self.conv2(out_conv1)
            out_conv3 = self.conv3_1(self.conv3(out_conv2))
            out_conv4 = self.conv4_1(self.conv4(out_conv3))
            out_conv5 = self.conv5_1(self.conv5(out_conv4))
            out_conv6 = self.conv6_1(self.conv6(out_conv5))

            flow6 = self.predict_flow6(out_conv6)
            flow6_up = self.upsampled_flow6_to_5(flow6)
            out_deconv5 = self.deconv5(out_conv6)

            concat5 = torch.cat((out_conv5, out_deconv5, flow6_up), 1)
            flow5 = self.predict_flow5(concat5)
            flow5_up = self.upsampled_flow5_to_4(flow5)
            out_deconv4 = self.deconv4(concat5)

            concat4 = torch.cat((out_conv4, out_deconv4, flow5_up), 1)
            flow4 = self.predict_flow4(concat4)
            flow4_up = self.upsampled_flow4_to_3(flow4)
            out_deconv3 = self.deconv3(concat4)

            concat3 = torch.cat((out_conv3, out_deconv3, flow4_up), 1)
            flow3 = self.predict_flow3(concat3)
            flow3_up = self.upsampled_flow3_to_2(flow3)
            out_deconv2 = self.deconv2(concat3)

            concat2 = torch.cat((out_conv2, out_deconv2, flow3_up), 1)
            flow2 = self.predict_flow2(concat2)

            # training branch (port: in both modes; the program's eval branch returns the upsampled flow2)
            return flow2, flow3, flow4, flow5, flow6

    class JoinedFlows(nn.Module):  # port: the five training outputs flattened and joined into one (N, 682) tensor
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, inputs):
            return torch.cat([f.flatten(1) for f in self.net(inputs)], 1)

    sizes = _sizes()
    loss_weights = [(L_WEIGHT / 2 ** scale) for scale in range(NUM_SCALES)]

    def loss_fn(output, target):
        """losses.MultiScale (norm 'L1') on the joined outputs / pooled targets: sum_i w_i * mean|out_i - t_i|."""
        lossvalue = 0
        start = 0
        for i, size in enumerate(sizes):
            lossvalue = lossvalue + loss_weights[i] * torch.abs(output[:, start:start + size]
                                                                - target[:, start:start + size]).mean()
            start += size
        return lossvalue

    torch.manual_seed(SEED)
    model = JoinedFlows(FlowNet2S(batchNorm=False, div_flow=DIV_FLOW))

    def optimizer(params):  # main.py: Adam over filter(lambda p: p.requires_grad, ...), --optimizer_lr=1e-4
        return torch.optim.Adam(filter(lambda p: p.requires_grad, params), lr=LR)

    x, flow = crops(fixed, N_BATCHES * BATCH_SIZE, seed=SEED)
    y = multiscale_targets(flow)
    bs = [(torch.from_numpy(x[i:i + BATCH_SIZE]), torch.from_numpy(y[i:i + BATCH_SIZE]))
          for i in range(0, len(x), BATCH_SIZE)]
    bx, bflow = crops(fixed, N_SCENES, seed=SEED + 100)
    baseline = (torch.from_numpy(bx), torch.from_numpy(multiscale_targets(bflow)))
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": baseline[0], "baseline_batch": baseline,
            "loss_fn": loss_fn, "optimizer": optimizer}


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed)
    raise ValueError("torch only (see the module docstring)")


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
