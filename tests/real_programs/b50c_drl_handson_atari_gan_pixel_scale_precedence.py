"""The book "Deep Reinforcement Learning Hands-On" (Maxim Lapan, 2nd edition), ``Chapter03/03_atari_gan.py``: a DCGAN that
learns to generate Atari screens. Three gym environments (Breakout-v0, AirRaid-v0, Pong-v0) play random actions;
``InputWrapper`` resizes each observation to 64x64 (``cv2.resize``) and moves the colour axis first (float32,
0..255); ``iterate_batches`` keeps frames with ``np.mean(obs) > 0.01``, stacks ``BATCH_SIZE = 16`` of them and
normalises them ("Normalising input between -1 to 1"). ``Discriminator``: conv 4x4/2 64 -> ReLU -> conv 128 ->
BatchNorm -> ReLU -> conv 256 -> BN -> ReLU -> conv 512 -> BN -> ReLU -> conv 4x4/1 to 1 -> ``nn.Sigmoid()``;
``Generator``: ConvTranspose from the 100-d latent vector to a 3x64x64 ``nn.Tanh()`` image. ``nn.BCELoss()``,
both nets ``optim.Adam(lr=0.0001, betas=(0.5, 0.999))``; each iteration updates the discriminator with
``objective(net_discr(batch_v), ones) + objective(net_discr(gen_output_v.detach()), zeros)`` (two separate
calls) and then the generator.

The fault is an operator-precedence slip in the normalisation:
    batch_np = np.array(batch, dtype=np.float32)
    batch_np *= 2.0 / 255.0 - 1.0
The in-place ``*=`` evaluates its whole right-hand side first, so every pixel is multiplied by
(2/255 - 1) = -0.992: the real frames arrive in [-253, 0] (sign flipped, scale 253x too large: on the stand-in
mean -64.8, std 66.4; only 17% of real pixel values lie in [-1, 1], the range the generator's tanh can reach)
instead of [-1, 1]. The discriminator sees real frames and generated images on different scales, and the
generator is asked to imitate images it cannot produce.
Source: github.com/PacktPublishing/Deep-Reinforcement-Learning-Hands-On-Second-Edition,
``Chapter03/03_atari_gan.py`` at d1e7cf7^ (= cb5a3d4, "Fix to(device) call"). The 1st-edition import (76e3a13)
had the correct ``np.array(batch, dtype=np.float32) * 2.0 / 255.0 - 1.0``; the author's "Reformat code" commit
f9f94c7 (2019-11-08) split it into the two lines above, and the bug stayed a year. Fixed twice: by the author in
eb4842e84ca8d2e521e0a437320b71969ff2cbb2 (2020-11-25, "Fix stupid mistake with image normalisation"): back to
``batch_np = np.array(batch, dtype=np.float32) * 2.0 / 255.0 - 1.0``, and by PR #33 (bezineb5, "Bug in the
normalization - the '-1' was applied to the factor instead of the value", commit
d1e7cf7bb630530525e6d660aede4e26929d0aa1: ``batch_np *= 2. / 255.; batch_np -= 1.``; the PR notes issue #15
reporting it; merged by the author, "Thanks!", as 8169e15). The fixed version here uses the author's line (the
two are equal). ``04_atari_gan_ignite.py`` kept the one-line form and never had the bug.
Fault label: inputs_not_normalized (the real images are scaled by -0.992 instead of mapped to [-1, 1]).
Fix (eb4842e / d1e7cf7): ``x * 2.0 / 255.0 - 1.0``.

Program lines kept: ``iterate_batches``'s filter and normalisation (buggy and fixed lines verbatim),
``BATCH_SIZE = 16``, the ``Discriminator`` (layers, kernel sizes, strides, paddings, BatchNorm, ReLU, sigmoid
head, ``view(-1, 1).squeeze(dim=1)``), PyTorch's default initialisation, ``nn.BCELoss()``,
``Adam(lr=1e-4, betas=(0.5, 0.999))``, and the discriminator update (torch ``train_step``: real frames and fakes
through the discriminator in two calls, BatchNorm seeing each half alone, the two BCE losses summed).
Ported: only the discriminator's supervised step (the generator update and the gym environments are left out;
a GAN is not a supervised program the checks can drive). ``DISCR_FILTERS = 64`` is divided by 4 (16/32/64/128)
so a torch step stays ~30-45 ms on one CPU thread (halved widths took 0.13 s, measured); the fault does not
depend on the width. ``batch`` = 16 real frames (label 1) followed by 16 generated images (label 0), as the
program's ``true_labels_v`` / ``fake_labels_v``; the fakes stand for the generator's ``tanh`` output.
Keras twin: the same discriminator channels-last (``Conv2D(..., 4, strides=2, padding="same")`` pads 1/1 like
``padding=1``; the last conv ``"valid"``; ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` = torch's
defaults; PyTorch's default init as ``VarianceScaling(1/3, fan_in, uniform)`` kernels and U(+-1/sqrt(fan_in))
biases), compiled with ``Adam(1e-4, beta_1=0.5)`` and ``BinaryCrossentropy()``; ``fit``-style
``train_on_batch`` sees the real and fake halves in one batch (BatchNorm statistics over both halves: the one
difference from the torch step), targets (32, 1).
Data stand-in (no gym/ALE ROMs): ``_atari_frames``, seeded 64x64 RGB uint8 frames drawn in turn from three
Atari-like games (Breakout: black field, grey walls, six rows of coloured bricks with gaps, paddle, ball; Pong:
brown field, white bars, two paddles, ball; AirRaid: blue sky, grey buildings, ship, enemies; +-6 pixel noise),
the same shape and 0..255 range as the resized ALE frames, mostly dark (mean pixel 65); ``_fakes``: smooth
low-amplitude noise through tanh in (-1, 1), like an untrained generator's output. 6 batches of 16 + 16;
``inputs`` = the 192 images of the batches (NCHW for torch, NHWC for Keras).

Measured (my own plain loops, /tmp/p50c/m_t.py, m_k.py, gan_t.py; seed 0, OMP_NUM_THREADS=1, a loaded 2-core
machine):
  inputs: real half of a buggy batch min -253, max 0, mean -64.8, std 66.4 (fixed: -1..1, mean -0.49, std 0.52).
  torch, the module's ``train_step`` cycling over the 6 batches (loss = BCE(real) + BCE(fake)), steps
  1/2/5/11/26/51/120: buggy 1.334/1.250/0.923/0.535/0.200/0.077/0.016, fixed 1.476/1.309/1.038/0.613/0.214/
  0.080/0.017 -- the loss curve does not show the fault (the discriminator tells the stand-in fakes from frames
  either way). In eval mode after 120 steps (running BatchNorm statistics, accumulated over real batches at
  scale ~65 and fake batches at scale ~0.5) the buggy discriminator gives the fakes p = 0.36 on average
  (fixed 0.03; real 0.97 vs 0.99). ~45 ms (buggy) / 29 ms (fixed) a step.
  Keras (train_on_batch on the mixed batch), steps 1/2/5/11/26/60: buggy 0.987/0.721/0.348/0.135/0.036/0.009,
  fixed 0.872/0.735/0.369/0.143/0.041/0.010; before training the buggy outputs on the first 4 (real) images
  are 0.18/0.03/0.06/0.20 (the huge inputs push the sigmoid far from 0.5) vs fixed 0.50 throughout. ~0.12 s a
  step.
  Whole GAN (my own loop with the program's Generator, widths halved, 200 iterations, ~0.28 s each): discriminator
  and generator losses are again almost the same (d_loss 0.0068 vs 0.0085, g_loss 6.32 vs 6.17 at 200; the
  first hundreds of iterations are the discriminator's anyway at lr 1e-4); what differs is the target: the
  generator's tanh images (mean -0.17, std 0.45) can only ever reach the 17% of buggy real pixel values that
  lie in [-1, 1]. The fault shows as inputs far from normalised (and on a different scale from the generated
  images), not in a short loss curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:PacktPublishing/Deep-Reinforcement-Learning-Hands-On-Second-Edition "
          "Chapter03/03_atari_gan.py iterate_batches@d1e7cf7^ (= cb5a3d4; 'batch_np *= 2.0 / 255.0 - 1.0' since "
          "f9f94c7 'Reformat code'); "
          "fix PR #33 d1e7cf7bb630530525e6d660aede4e26929d0aa1 'Fixed normalization' (merge 8169e15) and "
          "eb4842e84ca8d2e521e0a437320b71969ff2cbb2 'Fix stupid mistake with image normalisation'")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities"}), ("inputs_normalized", {})]

# program lines (Chapter03/03_atari_gan.py)
LATENT_VECTOR_SIZE = 100
DISCR_FILTERS = 64
BATCH_SIZE = 16
IMAGE_SIZE = 64
LEARNING_RATE = 0.0001  # Adam(lr=LEARNING_RATE, betas=(0.5, 0.999))
# port: the discriminator's filter counts divided by 4 (64/128/256/512 -> 16/32/64/128) for the CPU budget
WIDTH_DIV = 4
DF = DISCR_FILTERS // WIDTH_DIV
N_BATCHES = 6


# ---------------------------------------------------------------- data stand-in
def _atari_frames(n: int, seed: int) -> np.ndarray:
    """Atari-2600-like frames after ``InputWrapper`` (``cv2.resize`` to 64x64, uint8 RGB 0..255), drawn in
    turn from three games as ``random.choice(envs)`` over Breakout, AirRaid and Pong does: Breakout (black
    field, grey walls, six rows of coloured bricks with gaps, a red paddle, a ball), Pong (brown field, white
    bars, an orange and a green paddle, a white ball), AirRaid (dark-blue sky, grey buildings, a yellow ship,
    white enemies). Positions random per frame."""
    rng = np.random.default_rng(seed)
    h = w = IMAGE_SIZE
    out = np.zeros((n, h, w, 3), np.uint8)
    brick_cols = np.array([[200, 72, 72], [198, 108, 58], [180, 122, 48], [162, 162, 42], [72, 160, 72],
                           [66, 72, 200]], np.uint8)
    for i in range(n):
        img = out[i]
        game = i % 3
        if game == 0:  # Breakout
            img[:] = 0
            img[6:9, :] = 142
            img[6:, :3] = 142
            img[6:, -3:] = 142
            for r in range(6):
                row = slice(14 + 2 * r, 16 + 2 * r)
                for b in range(3, w - 3, 4):
                    if rng.random() > 0.25:
                        img[row, b:b + 4] = brick_cols[r]
            px = rng.integers(3, w - 11)
            img[58:60, px:px + 8] = (200, 72, 72)
            bx, by = rng.integers(4, w - 5), rng.integers(28, 56)
            img[by:by + 2, bx:bx + 1] = (200, 72, 72)
        elif game == 1:  # Pong
            img[:] = (144, 72, 17)
            img[6:8, :] = 236
            img[-4:-2, :] = 236
            ly, ry = rng.integers(9, h - 15), rng.integers(9, h - 15)
            img[ly:ly + 6, 4:6] = (213, 130, 74)
            img[ry:ry + 6, w - 6:w - 4] = (92, 186, 92)
            bx, by = rng.integers(8, w - 8), rng.integers(9, h - 6)
            img[by:by + 2, bx:bx + 1] = 236
        else:  # AirRaid
            img[:] = (24, 26, 167)
            for b in range(0, w, 10):
                top = rng.integers(44, 56)
                img[top:h - 4, b:b + 7] = (111, 111, 111)
            img[h - 4:, :] = (50, 132, 50)
            sx = rng.integers(2, w - 8)
            img[38:42, sx:sx + 6] = (252, 252, 84)
            for _ in range(rng.integers(1, 4)):
                ex, ey = rng.integers(2, w - 6), rng.integers(4, 30)
                img[ey:ey + 3, ex:ex + 5] = 236
        noise = rng.integers(-6, 7, (h, w, 3))
        out[i] = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def _fakes(n: int, seed: int) -> np.ndarray:
    """Stand-in for the untrained generator's ``nn.Tanh()`` output, (n, 64, 64, 3) in (-1, 1): smooth
    low-amplitude noise (8x8 noise blown up to 64x64) plus pixel noise, through tanh."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 0.3, (n, 8, 8, 3))
    return np.tanh(np.kron(coarse, np.ones((1, 8, 8, 1))) + rng.normal(0, 0.15, (n, IMAGE_SIZE, IMAGE_SIZE, 3)))


def _batches(bug: bool, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``iterate_batches``: BATCH_SIZE frames (``np.mean(obs) > 0.01``), normalised; each paired with
    BATCH_SIZE generated images. One (x, y) = 16 real frames (label 1, ``true_labels_v``) then 16 fakes
    (label 0, ``fake_labels_v``), NHWC float32."""
    frames = _atari_frames(BATCH_SIZE * N_BATCHES, seed)
    fakes = _fakes(BATCH_SIZE * N_BATCHES, seed + 1)
    out = []
    for k in range(N_BATCHES):
        batch = [f for f in frames[k * BATCH_SIZE:(k + 1) * BATCH_SIZE] if np.mean(f) > 0.01]
        if bug:  # d1e7cf7^: the '-1' is folded into the factor, x * (2/255 - 1) = -0.992 * x
            batch_np = np.array(batch, dtype=np.float32)
            batch_np *= 2.0 / 255.0 - 1.0
        else:  # eb4842e / d1e7cf7: x * 2/255 - 1
            batch_np = np.array(batch, dtype=np.float32) * 2.0 / 255.0 - 1.0
        x = np.concatenate([batch_np, fakes[k * BATCH_SIZE:(k + 1) * BATCH_SIZE].astype(np.float32)])
        y = np.concatenate([np.ones(len(batch_np)), np.zeros(BATCH_SIZE)]).astype(np.float32)
        out.append((x, y))
    return out


# ---------------------------------------------------------------- models
def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    class Discriminator(nn.Module):  # program lines (filters divided by 4)
        def __init__(self, input_shape):
            super().__init__()
            self.conv_pipe = nn.Sequential(
                nn.Conv2d(in_channels=input_shape[0], out_channels=DF, kernel_size=4, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(in_channels=DF, out_channels=DF * 2, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm2d(DF * 2),
                nn.ReLU(),
                nn.Conv2d(in_channels=DF * 2, out_channels=DF * 4, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm2d(DF * 4),
                nn.ReLU(),
                nn.Conv2d(in_channels=DF * 4, out_channels=DF * 8, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm2d(DF * 8),
                nn.ReLU(),
                nn.Conv2d(in_channels=DF * 8, out_channels=1, kernel_size=4, stride=1, padding=0),
                nn.Sigmoid(),
            )

        def forward(self, x):
            conv_out = self.conv_pipe(x)
            return conv_out.view(-1, 1).squeeze(dim=1)

    model = Discriminator(input_shape=(3, IMAGE_SIZE, IMAGE_SIZE))
    objective = nn.BCELoss()

    def to_t(x, y):  # InputWrapper: np.moveaxis(new_obs, 2, 0), i.e. CHW frames
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)

    tb = [to_t(x, y) for x, y in _batches(bug)]

    def train_step(model, optimizer, loss_fn, x, y):
        """The program's discriminator update: the real frames and the generated images go through the
        discriminator in two calls (BatchNorm sees each half alone) and the two BCE losses are summed."""
        real, fake = x[y > 0.5], x[y <= 0.5]
        optimizer.zero_grad()
        dis_output_true_v = model(real)
        dis_output_fake_v = model(fake)
        dis_loss = loss_fn(dis_output_true_v, torch.ones(len(real))) + \
            loss_fn(dis_output_fake_v, torch.zeros(len(fake)))
        dis_loss.backward()
        optimizer.step()
        return dis_loss

    inputs = torch.cat([b[0] for b in tb])
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": inputs, "loss_fn": objective,
            "optimizer": lambda p: torch.optim.Adam(params=p, lr=LEARNING_RATE, betas=(0.5, 0.999)),
            "train_step": train_step}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)

    def torch_init(fan_in):  # PyTorch's default Conv2d init: kaiming_uniform(a=sqrt(5)), U(+-1/sqrt(fan_in)) bias
        return dict(kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                    bias_initializer=keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5))

    def bn():  # nn.BatchNorm2d defaults (momentum 0.1, eps 1e-5)
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    model = keras.Sequential([
        keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3)),
        layers.Conv2D(DF, 4, strides=2, padding="same", **torch_init(3 * 16)),
        layers.ReLU(),
        layers.Conv2D(DF * 2, 4, strides=2, padding="same", **torch_init(DF * 16)),
        bn(), layers.ReLU(),
        layers.Conv2D(DF * 4, 4, strides=2, padding="same", **torch_init(DF * 2 * 16)),
        bn(), layers.ReLU(),
        layers.Conv2D(DF * 8, 4, strides=2, padding="same", **torch_init(DF * 4 * 16)),
        bn(), layers.ReLU(),
        layers.Conv2D(1, 4, strides=1, padding="valid", activation="sigmoid", **torch_init(DF * 8 * 16)),
        layers.Flatten(),  # conv_out.view(-1, 1)
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=0.5, beta_2=0.999),
                  loss=keras.losses.BinaryCrossentropy())
    kb = [(x, y[:, None]) for x, y in _batches(bug)]
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": np.concatenate([b[0] for b in kb])}


def _build(framework: str, bug: bool) -> dict[str, Any]:
    return _torch(bug) if framework == "torch" else _keras(bug)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, bug=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, bug=False)
