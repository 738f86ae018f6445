"""eriklindernoren/PyTorch-GAN, ``implementations/bicyclegan`` (BicycleGAN, multimodal image-to-image translation,
edges2shoes): a U-Net ``Generator(latent_dim=8, (3, 128, 128))``, a ResNet-18 ``Encoder`` and two discriminators,
``D_VAE`` for the cVAE-GAN half and ``D_LR`` for the cLR-GAN half, each a ``MultiDiscriminator`` (three PatchGAN
discriminators ``Conv(3, 64)`` -> ``Conv(64, 128)`` + InstanceNorm -> ``Conv(128, 256)`` + IN -> ``Conv(256, 512)`` +
IN, every conv 4x4 stride 2 with LeakyReLU(0.2), then ``Conv(512, 1, 3)``, run on the image at 128, 64 and 32 pixels
via ``AvgPool2d(3, stride=2, padding=1)``), trained as least-squares GAN discriminators:
``compute_loss(x, gt) = sum(mean((out - gt) ** 2) for out in forward(x))``. Each discriminator has its own
``Adam(lr=0.0002, betas=(0.5, 0.999))``; images are normalised to [-1, 1]; batch size 8.
The fault is in the cLR-GAN discriminator update, copied from the cVAE-GAN one without renaming the network:

    optimizer_D_LR.zero_grad()
    loss_D_LR = D_VAE.compute_loss(real_B, valid) + D_VAE.compute_loss(_fake_B.detach(), fake)
    loss_D_LR.backward()
    optimizer_D_LR.step()

The loss is computed with ``D_VAE``, so the backward pass puts gradients on ``D_VAE`` (where nothing applies them:
``optimizer_D_VAE.zero_grad()`` clears them before D_VAE's own update of the next iteration) and none on ``D_LR``;
``optimizer_D_LR.step()`` then has nothing to apply. ``D_LR`` stays at its ``weights_init_normal`` initialisation
for the whole run, so the cLR-GAN half of the generator loss (``D_LR.compute_loss(_fake_B, valid)``) is an
adversary that never learns. In the full program the logged ``LR_loss`` still falls (it is D_VAE's loss, and
D_VAE does train), which hides the fault.

Source: github.com/eriklindernoren/PyTorch-GAN, ``implementations/bicyclegan/bicyclegan.py`` and ``models.py`` at
b2c1838^ (fault present since the multi-scale rewrite 54d89c6, "BicycleGAN: Multi-scale discriminator fix"), fixed
by commit b2c183864417115d23e75573dac207f727983005 "BicycleGAN: Fix LR discriminator training":
``loss_D_LR = D_LR.compute_loss(real_B, valid) + D_LR.compute_loss(_fake_B.detach(), fake)``.
Program lines kept: ``MultiDiscriminator`` (with ``compute_loss``), ``weights_init_normal``, the cLR-GAN
discriminator update above (buggy and fixed), ``valid = 1`` / ``fake = 0``, ``Adam(lr=0.0002, betas=(0.5, 0.999))``,
the 128x128 RGB input and the [-1, 1] normalisation. The ``Generator`` (U-Net, as written, ``weights_init_normal``)
is used once, at its initialisation and under ``no_grad``, to make the ``_fake_B = generator(real_A, sampled_z)``
images the discriminator is shown.
Ported minimally: the step under test is the cLR-GAN discriminator update alone, given as
``train_step(model, optimizer, loss_fn, x, y) -> loss`` with ``model`` = D_LR; the generator/encoder update and the
cVAE-GAN discriminator update are other steps of the loop and are left out, so the generator (and its fakes) and
D_VAE stay at their initialisation (D_VAE would train in the program; here it is the fixed network the buggy line
reads). The ResNet-18 ``Encoder`` needs ImageNet weights and is not used (the cLR path samples ``z ~ N(0, I)``).
The checks see D_LR through a thin wrapper whose ``forward`` joins its three PatchGAN maps (8x8, 4x4, 2x2 at 128
pixels) into one (N, 84) tensor; ``loss_fn`` computes ``compute_loss`` from it exactly (per target value, the
per-scale means of ``(out - gt) ** 2`` summed), so ``loss_fn(model(x), y)`` equals ``D_LR.compute_loss(real_B, 1)
+ D_LR.compute_loss(fake_B, 0)``. Each batch is ``real_B`` then ``_fake_B``, targets 1 then 0.
Size change: batch size 1 instead of 8 (each batch 1 real + 1 generated image; the discriminators use
InstanceNorm, so no statistic depends on the batch), so a step costs about 0.12 s of CPU on one thread (about 6.5
GFLOP; with 8 + 8 images it is over 1 s). The images cannot shrink: below 128 pixels the third scale's last
InstanceNorm sees a 1x1 map and raises. Torch only: the fault needs an optimizer stepped over a network that got
no gradients while the loss came from another; the same slip in a Keras ``GradientTape`` loop
(``tape.gradient(loss_from_d_vae, d_lr.trainable_variables)``) gives all-``None`` gradients and Keras 3's
``apply_gradients`` raises "No gradients provided for any variable" (checked), so there is no silent Keras twin.
Data stand-in (edges2shoes is a download): seeded synthetic product shots at 128x128, [-1, 1]: a shoe silhouette
(rotated ellipse body with a toe box and a darker sole strip) in a random colour with a light shading gradient and
a little noise on a white background (``real_B``), its outline as a black-on-white edge map (``real_A``), and
``_fake_B`` = the initialised U-Net ``Generator``'s output for ``real_A`` and ``z ~ N(0, I)`` (a grey texture,
mean -0.17, std 0.21, range about [-0.93, 0.82]). 8 batches (8 real, 8 generated images).
Fault label: params_not_updated (D_LR's parameters never change; its optimizer gets no gradients).
Fix (b2c1838): ``D_VAE.compute_loss`` -> ``D_LR.compute_loss`` in ``loss_D_LR``.

Symptom in a short loop (my own loop, /tmp/h39a/loop.py: ``opt = optimizer(model.parameters())``, then
``train_step`` cycling over the 8 batches for 160 steps, seed 0, OMP_NUM_THREADS=1): buggy: the step's loss is
the same at every pass over the data (mean over one pass of the 8 batches 7.0166 at steps 1-8, 41-48, 81-88 and
153-160; it is D_VAE's loss, and D_VAE never moves here); D_LR's own loss on all 16 images (``loss_fn(model(x), y)``,
equal to ``D_LR.compute_loss(real_B, 1) + D_LR.compute_loss(_fake_B, 0)``) is 8.4031 before and after, every one
of D_LR's 30 parameter tensors bit-for-bit unchanged, and their ``.grad`` still ``None``. Fixed: pass means 5.455
-> 0.925 (steps 41-48) -> 0.983 (81-88) -> 0.520 (153-160); D_LR's loss on all 16 images 8.4031 -> 1.2486 (largest
weight change 0.0072). Overfitting one batch for 100 steps: buggy 8.0957 at steps 1, 50 and 100; fixed 9.0289 ->
0.561 (50) -> 0.038 (100). (The untrained discriminators' loss is about 8, not 0.5: under ``weights_init_normal``
their patch outputs are of order 1.) About 0.12 s of CPU per step on one thread (0.2 s wall on this loaded
machine); building the data (one generator forward of 8 images, cached) about 0.6 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:eriklindernoren/PyTorch-GAN implementations/bicyclegan/bicyclegan.py + models.py@b2c1838^ "
          "(cLR-GAN discriminator update; fix b2c183864417115d23e75573dac207f727983005 "
          "'BicycleGAN: Fix LR discriminator training')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

lr, b1, b2 = 0.0002, 0.5, 0.999  # --lr, --b1, --b2 defaults
batch_size = 1  # port: --batch_size 8 in the program (see the docstring)
img_height = img_width = 128  # --img_height, --img_width
channels = 3
latent_dim = 8
n_batches = 8
valid = 1
fake = 0


def _shoes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(real_A edge maps, real_B photos), each (n, 3, 128, 128) float32 in [-1, 1] (ToTensor + Normalize(0.5, 0.5))."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:img_height, 0:img_width].astype("float32")
    photos = np.empty((n, 3, img_height, img_width), dtype="float32")
    edges = np.empty((n, 3, img_height, img_width), dtype="float32")
    for i in range(n):
        cx, cy = 64 + rng.uniform(-8, 8), 66 + rng.uniform(-6, 6)
        a, b = rng.uniform(38, 50), rng.uniform(18, 26)
        th = rng.uniform(-0.25, 0.25)
        u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
        v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
        body = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        shaft = (np.abs(u + 0.45 * a) < 0.3 * a) & (v > -1.9 * b) & (v < 0)  # ankle/shaft at the heel end
        toe = ((u - 0.55 * a) / (0.5 * a)) ** 2 + ((v - 0.35 * b) / (0.75 * b)) ** 2 <= 1.0
        mask = body | shaft | toe
        sole = mask & (v > 0.6 * b)
        colour = rng.uniform(0.1, 0.9, 3)
        shade = 0.75 + 0.25 * (1 - (yy - yy.min()) / img_height)
        img = np.ones((3, img_height, img_width), dtype="float32")  # white background
        for c in range(3):
            ch = np.where(mask, colour[c] * shade, 1.0)
            ch = np.where(sole, 0.25 * colour[c] + 0.1, ch)
            img[c] = ch
        img += rng.normal(0, 0.02, img.shape)
        photos[i] = np.clip(img, 0, 1) * 2 - 1
        inner = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
        outline = mask.copy()
        outline[1:-1, 1:-1] &= ~inner
        sole_line = mask & (np.abs(v - 0.6 * b) < 0.7)
        edge = np.where(outline | sole_line, 0.0, 1.0)
        edges[i] = np.broadcast_to(edge * 2 - 1, (3, img_height, img_width))
    return edges, photos


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """(real_B, _fake_B): n_batches * batch_size photos and the initialised generator's images for their edges."""
    import torch
    import torch.nn as nn

    n = n_batches * batch_size
    real_A, real_B = _shoes(n, seed=0)

    class UNetDown(nn.Module):  # models.py
        def __init__(self, in_size, out_size, normalize=True, dropout=0.0):
            super(UNetDown, self).__init__()
            layers = [nn.Conv2d(in_size, out_size, 4, stride=2, padding=1, bias=False)]
            if normalize:
                layers.append(nn.InstanceNorm2d(out_size, affine=True, track_running_stats=True))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
            self.model = nn.Sequential(*layers)

        def forward(self, x):
            return self.model(x)

    class UNetUp(nn.Module):  # models.py
        def __init__(self, in_size, out_size, dropout=0.0):
            super(UNetUp, self).__init__()
            layers = [
                nn.ConvTranspose2d(in_size, out_size, 4, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(out_size, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            if dropout:
                layers.append(nn.Dropout(dropout))
            self.model = nn.Sequential(*layers)

        def forward(self, x, skip_input):
            x = self.model(x)
            x = torch.cat((x, skip_input), 1)
            return x

    class Generator(nn.Module):  # models.py
        def __init__(self, latent_dim, img_shape):
            super(Generator, self).__init__()
            channels, self.h, self.w = img_shape
            self.fc = nn.Linear(latent_dim, self.h * self.w)
            self.down1 = UNetDown(channels + 1, 64, normalize=False)
            self.down2 = UNetDown(64, 128)
            self.down3 = UNetDown(128, 256)
            self.down4 = UNetDown(256, 512)
            self.down5 = UNetDown(512, 512)
            self.down6 = UNetDown(512, 512)
            self.down7 = UNetDown(512, 512, normalize=False)
            self.up1 = UNetUp(512, 512)
            self.up2 = UNetUp(1024, 512)
            self.up3 = UNetUp(1024, 512)
            self.up4 = UNetUp(1024, 256)
            self.up5 = UNetUp(512, 128)
            self.up6 = UNetUp(256, 64)
            final = [nn.ConvTranspose2d(128, channels, 4, stride=2, padding=1), nn.Tanh()]
            self.final = nn.Sequential(*final)

        def forward(self, x, z):
            z_ = self.fc(z).view(z.size(0), 1, self.h, self.w)
            d1 = self.down1(torch.cat((x, z_), 1))
            d2 = self.down2(d1)
            d3 = self.down3(d2)
            d4 = self.down4(d3)
            d5 = self.down5(d4)
            d6 = self.down6(d5)
            d7 = self.down7(d6)
            u1 = self.up1(d7, d6)
            u2 = self.up2(u1, d5)
            u3 = self.up3(u2, d4)
            u4 = self.up4(u3, d3)
            u5 = self.up5(u4, d2)
            u6 = self.up6(u5, d1)
            return self.final(u6)

    torch.manual_seed(0)
    generator = Generator(latent_dim, (channels, img_height, img_width))
    generator.apply(_weights_init_normal)
    rng = np.random.default_rng(1)
    with torch.no_grad():  # _fake_B = generator(real_A, sampled_z); _fake_B.detach() in the D step
        sampled_z = torch.tensor(rng.normal(0, 1, (n, latent_dim)), dtype=torch.float32)
        fake_B = generator(torch.from_numpy(real_A), sampled_z).numpy().astype("float32")
    return real_B, fake_B


def _weights_init_normal(m):  # models.py
    import torch

    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm2d") != -1:
        torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
        torch.nn.init.constant_(m.bias.data, 0.0)


def _build(framework: str, fixed_update: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only (see the module docstring)")
    import torch
    import torch.nn as nn

    class MultiDiscriminator(nn.Module):  # models.py
        def __init__(self, in_channels=3):
            super(MultiDiscriminator, self).__init__()

            def discriminator_block(in_filters, out_filters, normalize=True):
                """Returns downsampling layers of each discriminator block"""
                layers = [nn.Conv2d(in_filters, out_filters, 4, stride=2, padding=1)]
                if normalize:
                    layers.append(nn.InstanceNorm2d(out_filters))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
                return layers

            # Extracts three discriminator models
            self.models = nn.ModuleList()
            for i in range(3):
                self.models.add_module(
                    "disc_%d" % i,
                    nn.Sequential(
                        *discriminator_block(in_channels, 64, normalize=False),
                        *discriminator_block(64, 128),
                        *discriminator_block(128, 256),
                        *discriminator_block(256, 512),
                        nn.Conv2d(512, 1, 3, padding=1)
                    ),
                )

            self.downsample = nn.AvgPool2d(in_channels, stride=2, padding=[1, 1], count_include_pad=False)

        def compute_loss(self, x, gt):
            """Computes the MSE between model output and scalar gt"""
            loss = sum([torch.mean((out - gt) ** 2) for out in self.forward(x)])
            return loss

        def forward(self, x):
            outputs = []
            for m in self.models:
                outputs.append(m(x))
                x = self.downsample(x)
            return outputs

    class PatchMaps(nn.Module):  # port: the three PatchGAN maps joined into one (N, 64 + 16 + 4) tensor
        def __init__(self, d):
            super().__init__()
            self.d = d

        def forward(self, x):
            return torch.cat([out.flatten(1) for out in self.d(x)], 1)

    sizes = [(img_height // 16 // 2 ** s) * (img_width // 16 // 2 ** s) for s in range(3)]  # 64, 16, 4

    def loss_fn(out, target):
        """compute_loss from the joined maps: for each target value gt, sum over scales of mean((out - gt) ** 2)."""
        target = target.reshape(-1)
        loss = out.new_zeros(())
        for gt in (valid, fake):
            rows = out[target == gt]
            if rows.shape[0] == 0:
                continue
            start = 0
            for size in sizes:
                loss = loss + torch.mean((rows[:, start:start + size] - gt) ** 2)
                start += size
        return loss

    torch.manual_seed(0)
    D_VAE = MultiDiscriminator()
    D_LR = MultiDiscriminator()
    D_VAE.apply(_weights_init_normal)
    D_LR.apply(_weights_init_normal)
    model = PatchMaps(D_LR)

    def optimizer(params):  # optimizer_D_LR
        return torch.optim.Adam(params, lr=lr, betas=(b1, b2))

    def train_step(model, optimizer, loss_fn, x, y):
        """Train Discriminator (cLR-GAN): x is real_B then _fake_B.detach(), y their targets (valid 1, fake 0)."""
        real_B, fake_B = x[y == valid], x[y == fake]
        optimizer.zero_grad()  # optimizer_D_LR.zero_grad()
        if fixed_update:  # fix (b2c1838)
            loss_D_LR = model.d.compute_loss(real_B, valid) + model.d.compute_loss(fake_B, fake)
        else:  # loss_D_LR = D_VAE.compute_loss(real_B, valid) + D_VAE.compute_loss(_fake_B.detach(), fake)
            loss_D_LR = D_VAE.compute_loss(real_B, valid) + D_VAE.compute_loss(fake_B, fake)
        loss_D_LR.backward()
        optimizer.step()
        return loss_D_LR.item()

    real_B, fake_B = _data()
    batches = []
    for i in range(n_batches):
        sl = slice(i * batch_size, (i + 1) * batch_size)
        xb = torch.from_numpy(np.concatenate([real_B[sl], fake_B[sl]]))
        yb = torch.cat([torch.full((batch_size,), float(valid)), torch.full((batch_size,), float(fake))])
        batches.append((xb, yb))
    inputs = torch.from_numpy(np.concatenate([real_B, fake_B]))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs,
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_update=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed_update=True)
