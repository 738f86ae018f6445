"""OpendTect/dgbpy (dGB Earth Sciences' Python machine-learning layer of OpendTect), PyTorch model
``dGB UNet VGG19 Regression`` (``dGB_UNetReg_VGG19`` in ``dgbpy/mlmodel_torch_dGB.py``, network ``UNet_VGG19`` in
``dgbpy/torch_classes.py``): a 2D image-to-image regression U-Net (VGG19-style encoder 64/128/256/512 filters, decoder
32/16/16, 1x1 output conv), trained by ``dgbtorch.train`` with ``torch.optim.Adam(model.parameters(),
lr=params['learnrate'])`` (default ``learnrate`` 1e-4), default batch 8, and ``get_criterion`` returning
``nn.MSELoss()`` for a regression; ``Trainer.one_batch`` is the plain zero_grad / forward / ``criterion(out, target)``
/ backward / step. The regression model class was added in bd903572c53b411bc4d584233fc6c7c260500fa5 ("Allow vgg19
unet arch as default for 2D regression", 2023-06-02), reusing the segmentation network unchanged.

Fault label: output_activation. ``UNet_VGG19.__init__`` sets ``self.activation = nn.Sigmoid() if out_channels == 1
else nn.Softmax(dim=1)`` and ``forward`` always ends ``output = self.activation(conv8)``, also for the regression
model, which has one output channel: every predicted pixel is squashed into (0, 1) while the regression targets
(seismic amplitudes, standardized or raw, of either sign) lie mostly outside that interval. About half of the
targets are negative, which the sigmoid can never produce, so the MSE has a floor far above what the network can
reach without it; and pixels whose target is below 0 or above 1 push the pre-sigmoid value towards -inf / +inf,
where the sigmoid saturates and their gradient dies. (With two or more outputs the same line would apply a softmax
over the regression channels.) The Keras twin of this network in the same repository got a ``'linear'``
activation for ``DataPredType.Continuous`` in the very commit that added the regression class; the torch one did
not until the fix.

Source: github.com/OpendTect/dgbpy ``dgbpy/torch_classes.py`` ``UNet_VGG19`` and ``dgbpy/mlmodel_torch_dGB.py``
``dGB_UNetReg_VGG19`` at 5bbb20bae9856f3061ba437c22b12d4a902ac112 (the parent of the fix on main), with
``dgbpy/dgbtorch.py`` (``torch_dict``: batch 8, learnrate 1e-4; ``train``: Adam; ``get_criterion``: MSELoss for
regression). Fixed by PR #159 "Remove Last Activation For VGG19 Regression - Torch" (merge
4aa4fa4f105e6a01d39cd05df2e3a5aa0ac22a17 on main, 47683a7abb56775d6f0298703ea59d8d6251cc52 on od7.0; branch commit
9b9d6b8031ef6ca0226c78717eb4024f8af9809e), whose description reads: "This PR ensures that the sigmoid/softmax
activation is not used for VGG19 regression architecture". The fix passes the model's ``predtype`` into
``UNet_VGG19`` (``UNet_VGG19(..., predtype=self.predtype)``) and ends ``forward`` with ``if self.predtype ==
DataPredType.Classification: return self.activation(conv8)`` / ``return conv8``.

Program lines kept: the ``UNet_VGG19`` layer list and ``forward`` as written (3x3 convs with padding 1, max pools,
bilinear ``interpolate`` + ``torch.cat`` skips, ReLU, 1x1 ``conv8``), ``self.activation`` as written, the buggy
tail ``output = self.activation(conv8)`` and the fix's predtype branch; torch's default init (the program sets none);
``torch.optim.Adam(model.parameters(), lr=1e-4)``; ``nn.MSELoss()``; batch size 8; the plain training step.
Shrunk: the encoder widths 64/128/256/512 -> 16/32/64/128 (the decoder's 32/16/16 and the 1x1 head kept), because
the full 8.4 M-parameter network needs 0.13 s a step on one core even on 16x16 patches (13 s per hundred steps);
the shrunk one (0.60 M parameters) needs 0.05-0.08 s. The head, the only place of the fault, is untouched.
Ported: torch only. dgbpy's Keras ``UNet_VGG19`` already chose ``activation = 'linear'`` for ``Continuous`` when
its regression model was added (bd90357), so no buggy Keras program exists to twin.

Data stand-in (no OpendTect project): a "Seismic Image Transformation" (image-to-image regression) task, denoising:
synthetic 2D seismic sections of 64 time samples x 64 traces: a layered log-impedance model (10-19 dipping,
gently curved boundaries with random impedance jumps, plus a small random-walk background), reflectivity
diff(log AI) / 2, convolved along time with a 30 Hz Ricker wavelet (4 ms sampling); the input is that section
plus white noise of equal standard deviation (SNR 1), the target the clean section. Sections are cut into 16x16
patches (one attribute, shape (1, 16, 16) as the network's 2D input) and each patch is standardized by its own mean
and standard deviation, input and target alike (dgbpy's "Local Standardization" scaler, which for an
image-to-image regression also scales the label). So the targets have mean 0 and std 1 (range about -8..7): 50 %
of the training target pixels are negative and 15 % above 1; the best any (0, 1)-valued prediction could do is an
MSE of 0.59 (predicting 0 everywhere: 1.00). (Under the default "Global Standardization" only the input is scaled
and the target keeps its raw amplitudes, signed too.) ``batches``: 100 distinct batches of 8 patches from 50
sections, in a seeded random order; ``batch``: the first; ``baseline_batch``: the first 64 training patches;
``inputs``: 256 patches of 16 other sections.
Also as in the program: ``upconv5`` / ``upconv6`` / ``upconv7`` (``ConvTranspose2d``) are built in ``__init__`` but
never used by ``forward`` (it upsamples with ``interpolate``), so their parameters get no gradient in either version.

Measured (my own plain loop, /tmp/s57/p/b97c/measure.py, on the module's builds: zero_grad / forward / MSELoss /
backward / Adam step; torch seed 0, OMP_NUM_THREADS=1):
  ``batches`` in order, cycled three times = 300 steps, training loss means over blocks of 50 steps:
    buggy 1.294 1.062 1.000 1.000 1.000 1.000 (step 1: 1.308): between steps 50 and 100 every output pixel falls
      into the sigmoid's lower tail (held-out predictions: max 0.548 at step 50, max 0.001 from step 100 on,
      mean 0.000) and the gradient norm drops from 0.41 to 2.6e-5 (1.0e-5 at step 300): the model predicts a
      constant 0 and stops learning, its loss stuck at the targets' mean square;
    fixed 1.017 0.763 0.392 0.391 0.345 0.370 (step 1: 1.049), predictions ranging -3.4..3.2, gradient norm
      0.5 -> 2.2;
  held-out MSE on ``inputs`` after 300 steps: buggy 1.000 (as good as predicting 0), fixed 0.332;
  one batch repeated (``batch``, 200 steps): buggy 1.308 -> 1.266 (step 50) -> 1.000 (step 200; its sigmoid floor
    on that batch would be 0.564), fixed 1.049 -> 0.943 -> 0.221;
  ``baseline_batch`` (64 patches), 200 steps, real vs zeroed inputs: buggy 1.000 vs 1.000, fixed 0.355 vs 0.991.
  Other torch init seeds (1, 2, 3; same data), 200 steps: buggy loss 1.244 / 1.276 / 1.180 over steps 1-50, 1.000
    over steps 151-200 each time; fixed 0.973 / 0.998 / 1.042 -> 0.384 / 0.386 / 0.396.
  Time per step (batch 8, 16x16, one thread): buggy 0.06-0.08 s, fixed 0.05 s. Build: first ~2 s (imports, data),
  later ~0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:OpendTect/dgbpy PR #159 'Remove Last Activation For VGG19 Regression - Torch' "
          "(dgbpy/torch_classes.py UNet_VGG19 + dgbpy/mlmodel_torch_dGB.py dGB_UNetReg_VGG19 + dgbpy/dgbtorch.py "
          "train/get_criterion @5bbb20bae9856f3061ba437c22b12d4a902ac112; "
          "fix 4aa4fa4f105e6a01d39cd05df2e3a5aa0ac22a17, branch commit 9b9d6b8031ef6ca0226c78717eb4024f8af9809e; "
          "regression model added in bd903572c53b411bc4d584233fc6c7c260500fa5)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {}),
          ("gradients_flow", {})]

BATCH_SIZE = 8  # dgbtorch torch_dict['batch']
LR = 1e-4  # dgbtorch torch_dict['learnrate']
PATCH = 16
NT, NX = 64, 64  # samples x traces of one synthetic section
N_TRAIN_SECTIONS, N_HELD_SECTIONS = 50, 16  # 16 patches each: 800 training patches, 256 held out
N_BASELINE = 64
SEED = 0


def _ricker(f: float = 30.0, dt: float = 0.004, n: int = 25) -> np.ndarray:
    t = (np.arange(n) - n // 2) * dt
    a = (np.pi * f * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


def _sections(n_sec: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy and clean synthetic seismic sections (n_sec, NT, NX): layered impedance -> reflectivity -> Ricker."""
    w = _ricker()
    xs, tt = np.arange(NX), np.arange(NT)[:, None, None]
    noisy, clean = np.empty((n_sec, NT, NX)), np.empty((n_sec, NT, NX))
    for s in range(n_sec):
        nb = int(rng.integers(10, 20))
        t0, dip = rng.uniform(-10, NT + 10, nb), rng.uniform(-0.25, 0.25, nb)
        amp, lam, ph = rng.uniform(0, 3, nb), rng.uniform(30, 120, nb), rng.uniform(0, 2 * np.pi, nb)
        tb = t0[:, None] + dip[:, None] * xs + amp[:, None] * np.sin(2 * np.pi * xs / lam[:, None] + ph[:, None])
        logai = 8.5 + (rng.normal(0, 0.12, nb)[None, :, None] * (tt >= tb[None])).sum(1)
        logai = logai + np.cumsum(rng.normal(0, 0.01, (NT, NX)), 0)
        refl = np.diff(logai, axis=0, prepend=logai[:1]) / 2
        c = np.apply_along_axis(lambda v: np.convolve(v, w, mode="same"), 0, refl)
        clean[s], noisy[s] = c, c + rng.normal(0, 1.0, c.shape) * c.std()
    return noisy, clean


def _patches(a: np.ndarray) -> np.ndarray:
    """(n, NT, NX) -> (n * 16, 1, PATCH, PATCH), each patch standardized on its own (Local Standardization)."""
    s = a.shape[0]
    p = a.reshape(s, NT // PATCH, PATCH, NX // PATCH, PATCH).transpose(0, 1, 3, 2, 4).reshape(-1, PATCH, PATCH)
    p = (p - p.mean((1, 2), keepdims=True)) / p.std((1, 2), keepdims=True)
    return p[:, None].astype("float32")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    xn, xc = _sections(N_TRAIN_SECTIONS + N_HELD_SECTIONS, rng)
    x, y = _patches(xn), _patches(xc)
    n_tr = N_TRAIN_SECTIONS * (NT // PATCH) * (NX // PATCH)
    order = rng.permutation(n_tr)
    return x[:n_tr][order], y[:n_tr][order], x[n_tr:], y[n_tr:]


def _build(fixed: bool) -> dict[str, Any]:
    import enum

    import torch
    import torch.nn as nn

    class DataPredType(enum.Enum):  # dgbpy.torch_classes.DataPredType
        Continuous = 'Continuous Data'
        Classification = 'Classification Data'
        Segmentation = 'Segmentation'
        Any = 'Any'

    class UNet_VGG19(nn.Module):
        def __init__(self, model_shape, out_channels, nrattribs, predtype=None):
            super(UNet_VGG19, self).__init__()

            filtersz1 = 16  # 64 in the program (shrunk, see docstring)
            filtersz2 = 32  # 128
            filtersz3 = 64  # 256
            filtersz4 = 128  # 512
            filtersz5 = 32
            filtersz6 = 16

            self.predtype = predtype  # the fix passes the model's predtype in
            params = dict(kernel_size=3, padding=1)

            # Encoder
            self.conv1_1 = nn.Conv2d(nrattribs, filtersz1, **params)
            self.conv1_2 = nn.Conv2d(filtersz1, filtersz1, **params)
            self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)

            self.conv2_1 = nn.Conv2d(filtersz1, filtersz2, **params)
            self.conv2_2 = nn.Conv2d(filtersz2, filtersz2, **params)
            self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)

            self.conv3_1 = nn.Conv2d(filtersz2, filtersz3, **params)
            self.conv3_2 = nn.Conv2d(filtersz3, filtersz3, **params)
            self.conv3_3 = nn.Conv2d(filtersz3, filtersz3, **params)
            self.pool3 = nn.MaxPool2d(kernel_size=2, stride=2)

            self.conv4_1 = nn.Conv2d(filtersz3, filtersz4, **params)
            self.conv4_2 = nn.Conv2d(filtersz4, filtersz4, **params)
            self.conv4_3 = nn.Conv2d(filtersz4, filtersz4, **params)

            # Decoder
            self.upconv5 = nn.ConvTranspose2d(filtersz4, filtersz3, kernel_size=2, stride=2)
            self.conv5_1 = nn.Conv2d(filtersz4 + filtersz3, filtersz5, **params)
            self.conv5_2 = nn.Conv2d(filtersz5, filtersz5, **params)

            self.upconv6 = nn.ConvTranspose2d(filtersz5, filtersz2, kernel_size=2, stride=2)
            self.conv6_1 = nn.Conv2d(filtersz5 + filtersz2, filtersz6, **params)
            self.conv6_2 = nn.Conv2d(filtersz6, filtersz6, **params)

            self.upconv7 = nn.ConvTranspose2d(filtersz6, filtersz1, kernel_size=2, stride=2)
            self.conv7_1 = nn.Conv2d(filtersz6 + filtersz1, filtersz6, **params)
            self.conv7_2 = nn.Conv2d(filtersz6, filtersz6, **params)

            self.conv8 = nn.Conv2d(filtersz6, out_channels, kernel_size=1)

            self.activation = nn.Sigmoid() if out_channels == 1 else nn.Softmax(dim=1)

            self.relu = nn.ReLU()

        def forward(self, x):
            # Encoder
            conv1 = self.relu(self.conv1_1(x))
            conv1 = self.relu(self.conv1_2(conv1))
            pool1 = self.pool1(conv1)

            conv2 = self.relu(self.conv2_1(pool1))
            conv2 = self.relu(self.conv2_2(conv2))
            pool2 = self.pool2(conv2)

            conv3 = self.relu(self.conv3_1(pool2))
            conv3 = self.relu(self.conv3_2(conv3))
            conv3 = self.relu(self.conv3_3(conv3))
            pool3 = self.pool3(conv3)

            conv4 = self.relu(self.conv4_1(pool3))
            conv4 = self.relu(self.conv4_2(conv4))
            conv4 = self.relu(self.conv4_3(conv4))

            # Decoder
            up5 = nn.functional.interpolate(conv4, scale_factor=2.0, mode='bilinear', align_corners=False)
            up5 = torch.cat([up5, conv3], dim=1)
            conv5 = self.relu(self.conv5_1(up5))
            conv5 = self.relu(self.conv5_2(conv5))

            up6 = nn.functional.interpolate(conv5, scale_factor=2.0, mode='bilinear', align_corners=False)
            up6 = torch.cat([up6, conv2], dim=1)
            conv6 = self.relu(self.conv6_1(up6))
            conv6 = self.relu(self.conv6_2(conv6))

            up7 = nn.functional.interpolate(conv6, scale_factor=2.0, mode='bilinear', align_corners=False)
            up7 = torch.cat([up7, conv1], dim=1)
            conv7 = self.relu(self.conv7_1(up7))
            conv7 = self.relu(self.conv7_2(conv7))

            conv8 = self.conv8(conv7)
            if not fixed:  # the bug (5bbb20b): the activation on every model, regression included
                output = self.activation(conv8)
                return output

            if self.predtype == DataPredType.Classification:  # the fix (PR #159)
                return self.activation(conv8)

            return conv8

    torch.manual_seed(SEED)
    model_shape = (1, PATCH, PATCH)  # nrattribs, then the 2D patch
    if fixed:  # dGB_UNetReg_VGG19._make_model after PR #159
        model = UNet_VGG19(model_shape=model_shape, out_channels=1, nrattribs=1, predtype=DataPredType.Continuous)
    else:
        model = UNet_VGG19(model_shape=model_shape, out_channels=1, nrattribs=1)
    criterion = nn.MSELoss()  # dgbtorch.get_criterion for a regression
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)  # dgbtorch.train

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "baseline_batch": (xt[:N_BASELINE], yt[:N_BASELINE]), "loss_fn": criterion, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
