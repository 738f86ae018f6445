"""TensorFlow 2 docs, CycleGAN tutorial (``site/en/r2/tutorials/generative/cyclegan.ipynb``, June-July 2019):
horse2zebra unpaired image-to-image translation with two U-Net generators from ``tensorflow_examples``'
``pix2pix.unet_generator(OUTPUT_CHANNELS=3, norm_type='instancenorm')`` (``generator_g``: X -> Y, horses to zebras;
``generator_f``: Y -> X) and two PatchGAN critics ``pix2pix.discriminator(norm_type='instancenorm', target=False)``
(``discriminator_x``, ``discriminator_y``), all with the module's custom ``InstanceNormalization`` layer (scale ~
N(1, 0.02), offset 0, moments over H and W, epsilon 1e-5) and N(0, 0.02) conv kernels. Losses: ``loss_obj =
BinaryCrossentropy(from_logits=True)``; ``discriminator_loss`` = 0.5 (BCE(1, real) + BCE(0, generated)),
``generator_loss`` = BCE(1, generated), ``calc_cycle_loss`` = LAMBDA mean|real - cycled|, ``identity_loss`` = LAMBDA
0.5 mean|real - same| with LAMBDA = 10; four ``Adam(2e-4, beta_1=0.5)``; BATCH_SIZE = 1; images resized to 286
(nearest), randomly cropped to 256, randomly mirrored and scaled to [-1, 1]. The custom ``train_step`` records
everything under two persistent tapes and takes each network's gradient of its own loss only
(``gen_tape.gradient(total_gen_g_loss, generator_g.trainable_variables)``, the same for F, D_x, D_y).

The fault (a loss term attached to the wrong network): the identity loss (added in ed6dc7444 "to avoid color
inversion": a generator fed an image of its own target domain should return it unchanged, ``same_x =
generator_f(real_x)``, ``same_y = generator_g(real_y)``) was added to the wrong generator's total:
``total_gen_g_loss = gen_g_loss + calc_cycle_loss(real_x, cycled_x) + identity_loss(real_x, same_x)`` and
``total_gen_f_loss = gen_f_loss + calc_cycle_loss(real_y, cycled_y) + identity_loss(real_y, same_y)``. ``same_x`` is
made by F but sits in G's loss, whose gradient is taken only w.r.t. G's weights (and vice versa), so both identity
terms have no gradient path to the weights they are differentiated against: the identity constraint is computed,
added to the reported losses, and never trains anything. Neither generator learns to leave target-domain images
alone (the colour-preserving regulariser the tutorial relies on is silently off). Fixed by zyh911 in 0874b3f11
("Fix a bug."): ``identity_loss(real_y, same_y)`` in G's total and ``identity_loss(real_x, same_x)`` in F's.

Source: github.com/tensorflow/docs ``site/en/r2/tutorials/generative/cyclegan.ipynb`` at
59588ae21b767266a936a838a478dda168b81c21 (= 0874b3f11^; the identity loss came in with ed6dc7444, 2019-06-24),
fix 0874b3f11eadc72a1b44ad14e3b565774269d3a5 (2019-07-10, a two-line swap in ``train_step``; the later PR #842,
aecb77178, also gave both generators the summed cycle loss - not ported); generator / discriminator /
InstanceNormalization from
github.com/tensorflow/examples ``tensorflow_examples/models/pix2pix/pix2pix.py`` (2019, ``norm_type`` version).
Fault label: other:identity_loss_on_other_generator (a loss term differentiated only w.r.t. the weights it does not
depend on; each generator's weights still get gradients from their adversarial and cycle terms, so no parameter is
left without a gradient).

Program lines kept: the four losses, LAMBDA, the optimisers, BATCH_SIZE = 1, the whole ``train_step`` (forward
passes with training=True, the buggy / fixed totals, per-network gradients, four ``apply_gradients``), the U-Net
(strided 4x4 conv down blocks: Conv -> InstanceNorm (not in the first) -> LeakyReLU; 4x4 transposed-conv up blocks:
ConvT -> InstanceNorm -> Dropout(0.5) (innermost) -> ReLU; skip concatenation; ConvT(3) tanh head) and the PatchGAN
(3 down blocks, ZeroPadding, Conv 4x4 stride 1 no bias, InstanceNorm, LeakyReLU, ZeroPadding, Conv(1) 4x4 logits),
LeakyReLU at Keras' default slope 0.3; preprocessing (nearest resize, random crop, random mirror, /127.5 - 1).
Shrunk for CPU speed (one thread, a step well under 0.1 s): images 32x32 instead of 256 (resize to 36 for the
jitter instead of 286), conv widths / 8 (64..512 -> 8..64), the U-Net 5 down / 4 up levels instead of 8 / 7 (the
first five down blocks and the last four up blocks, Dropout on the innermost up block as on the original's innermost
ones); the PatchGAN gives 2x2 logits instead of 30x30.
Ported: Keras 3 - a ``keras.Model`` subclass holding the four networks (``call`` = generator_g, the translation the
tutorial displays) whose ``train_step`` is the tutorial's, with its own four optimisers (the compiled optimiser is
only what ``fit`` asks for); ``compute_loss`` returns the two generator totals. Torch twin: NCHW, the same layers
(Conv2d k4 s2 p1 = 'same', ConvTranspose2d k4 s2 p1, ZeroPadding + Conv k4 = Conv k4 p1, N(0, 0.02) kernels, the
same InstanceNorm), ``train_step`` takes each network's gradient of its own loss with ``torch.autograd.grad`` (what
``tape.gradient(loss, net.trainable_variables)`` does; a plain ``loss.backward()`` would reach the other generator)
and steps four Adam(2e-4, betas=(0.5, 0.999)); ``loss_fn(outputs, y)`` is the sum of the two generator totals
(``outputs`` = G(x); x is read back from the model's last forward) - differentiated w.r.t. all weights at once it
reconnects the identity terms, so the fault lives in the per-network step.
Data stand-in (no tfds horse2zebra): scikit-learn's bundled sample photos, domain X ("horses") 32x32 area-downsampled
128x128 crops of china.jpg (bright buildings / sky, channel means ~145), domain Y ("zebras") crops of flower.jpg
(dark red / green, means ~55-75), uint8 like the tfds images, through the program's train / test preprocessing.
``batch`` = (one X image, one Y image) (BATCH_SIZE 1; x and y are unpaired, as ``tf.data.Dataset.zip`` pairs them);
``batches`` = 8 such pairs; ``inputs`` = 16 preprocessed test X images.

Measured (my own plain loops, /tmp/s48/h70_b/measure.py, OMP_NUM_THREADS=1, the module's builds: the program's
train_step for 400 steps of batch 1 cycling the 64 training pairs; identity error = mean |G(y) - y|, mean |F(x) - x|
and cycle error mean |F(G(x)) - x| on the 16 held-out images per domain, inference mode):
  identity error G / F, init -> after 400 steps: torch buggy 0.64 / 0.57 -> 0.55 / 0.64, fixed 0.64 / 0.57 -> 0.21 /
    0.19; Keras buggy 0.63 / 0.58 -> 0.64 / 0.64, fixed 0.63 / 0.58 -> 0.21 / 0.19.
  cycle error: torch buggy 0.57 -> 0.59, fixed 0.57 -> 0.27; Keras buggy 0.58 -> 0.55, fixed 0.58 -> 0.29 (without
    the identity term the generators never settle near the identity map that the U-Net skips make easy, and the
    cycle loss does not come down either in this budget).
  sum of the two generator totals (mean of the first / last 20 steps): torch buggy 20.4 / 22.2, fixed 20.2 / 11.6;
    Keras buggy 20.3 / 21.9, fixed 20.1 / 11.2 (the buggy sum still carries the dead identity terms, ~6).
  gradient of identity_loss(real_x, same_x) w.r.t. generator_g's weights: None for every weight (torch
    autograd.grad, allow_unused) - the term is in G's total but depends only on F.
  The summed loss (``loss_fn`` / ``compute_loss``) is the same number in both builds (the fix moves terms between the
    two totals), so the fault shows only through the per-network training step.
  Time per step (batch 1, one thread, shared machine): torch ~60 ms, Keras ``train_on_batch`` ~26 ms (tf.function).
    Builds: first (imports, data) torch 1.5 s, Keras 5.2 s; later ones 0.02 s / 1.0 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:identity_loss_on_other_generator"
SOURCE = ("github:tensorflow/docs 0874b3f11 'Fix a bug.' (site/en/r2/tutorials/generative/cyclegan.ipynb "
          "@0874b3f11eadc72a1b44ad14e3b565774269d3a5^, train_step: identity_loss(real_x, same_x) in "
          "total_gen_g_loss and identity_loss(real_y, same_y) in total_gen_f_loss, swapped by the fix; "
          "networks from github:tensorflow/examples tensorflow_examples/models/pix2pix/pix2pix.py)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"low": -1.0, "high": 1.0})]

# the tutorial
LAMBDA = 10
LR, BETA_1 = 2e-4, 0.5
BATCH_SIZE = 1
OUTPUT_CHANNELS = 3
# port (shrunk for CPU speed; the tutorial: 256 / 286 and widths 64..512)
IMG = 32
JITTER = 36
W = 8  # 64 // 8
N_TRAIN = 64
N_BATCHES = 8
N_INPUTS = 16
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _crops(photo: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random 128x128 crops, area-downsampled by 4 to 32x32, uint8 (the tfds images are uint8)."""
    h, w, _ = photo.shape
    out = np.empty((n, IMG, IMG, 3), np.uint8)
    for i in range(n):
        r, c = rng.integers(0, h - 4 * IMG), rng.integers(0, w - 4 * IMG)
        crop = photo[r:r + 4 * IMG, c:c + 4 * IMG].astype(np.float64)
        out[i] = crop.reshape(IMG, 4, IMG, 4, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    return out


def _normalize(image: np.ndarray) -> np.ndarray:  # normalizing the images to [-1, 1]
    return image.astype(np.float32) / 127.5 - 1


def _random_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    idx = np.arange(JITTER) * IMG // JITTER  # resize to 286 x 286 (here 36), NEAREST_NEIGHBOR
    image = image[idx][:, idx]
    r, c = rng.integers(0, JITTER - IMG + 1, size=2)  # random crop to 256 x 256 (here 32)
    image = image[r:r + IMG, c:c + IMG]
    if rng.random() < 0.5:  # random mirroring
        image = image[:, ::-1]
    return image


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train X, train Y) after preprocess_image_train, (test X, test Y) after preprocess_image_test; NHWC float32."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    rng = np.random.default_rng(SEED)
    raw_x, raw_y = _crops(china, N_TRAIN + N_INPUTS, rng), _crops(flower, N_TRAIN + N_INPUTS, rng)
    tr_x = np.stack([_normalize(_random_jitter(im, rng)) for im in raw_x[:N_TRAIN]])
    tr_y = np.stack([_normalize(_random_jitter(im, rng)) for im in raw_y[:N_TRAIN]])
    return tr_x, tr_y, _normalize(raw_x[N_TRAIN:]), _normalize(raw_y[N_TRAIN:])


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    tr_x, tr_y, _, _ = _data()
    return [(tr_x[i:i + BATCH_SIZE], tr_y[i:i + BATCH_SIZE]) for i in range(N_BATCHES)]


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(SEED)

    class InstanceNormalization(layers.Layer):  # pix2pix.py
        def __init__(self, epsilon=1e-5, **kwargs):
            super().__init__(**kwargs)
            self.epsilon = epsilon

        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=input_shape[-1:],
                                         initializer=keras.initializers.RandomNormal(1.0, 0.02), trainable=True)
            self.offset = self.add_weight(name="offset", shape=input_shape[-1:], initializer="zeros",
                                          trainable=True)

        def call(self, x):
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            inv = tf.math.rsqrt(variance + self.epsilon)
            normalized = (x - mean) * inv
            return self.scale * normalized + self.offset

    def init():
        return keras.initializers.RandomNormal(0.0, 0.02)

    def downsample(filters, size, apply_norm=True):  # norm_type='instancenorm'
        result = keras.Sequential()
        result.add(layers.Conv2D(filters, size, strides=2, padding="same", kernel_initializer=init(),
                                 use_bias=False))
        if apply_norm:
            result.add(InstanceNormalization())
        result.add(layers.LeakyReLU())
        return result

    def upsample(filters, size, apply_dropout=False):
        result = keras.Sequential()
        result.add(layers.Conv2DTranspose(filters, size, strides=2, padding="same", kernel_initializer=init(),
                                          use_bias=False))
        result.add(InstanceNormalization())
        if apply_dropout:
            result.add(layers.Dropout(0.5))
        result.add(layers.ReLU())
        return result

    def unet_generator(output_channels, name):
        down_stack = [downsample(W, 4, apply_norm=False), downsample(2 * W, 4), downsample(4 * W, 4),
                      downsample(8 * W, 4), downsample(8 * W, 4)]  # (bs, 16, 16, 8) .. (bs, 1, 1, 64)
        up_stack = [upsample(8 * W, 4, apply_dropout=True), upsample(4 * W, 4), upsample(2 * W, 4), upsample(W, 4)]
        last = layers.Conv2DTranspose(output_channels, 4, strides=2, padding="same", kernel_initializer=init(),
                                      activation="tanh")  # (bs, 32, 32, 3)
        concat = layers.Concatenate()
        inputs = keras.Input(shape=[IMG, IMG, 3])
        x = inputs
        skips = []
        for down in down_stack:
            x = down(x)
            skips.append(x)
        skips = reversed(skips[:-1])
        for up, skip in zip(up_stack, skips):
            x = up(x)
            x = concat([x, skip])
        x = last(x)
        return keras.Model(inputs=inputs, outputs=x, name=name)

    def discriminator(name):  # target=False
        inp = keras.Input(shape=[IMG, IMG, 3], name="input_image")
        x = inp
        down1 = downsample(W, 4, False)(x)
        down2 = downsample(2 * W, 4)(down1)
        down3 = downsample(4 * W, 4)(down2)
        zero_pad1 = layers.ZeroPadding2D()(down3)
        conv = layers.Conv2D(8 * W, 4, strides=1, kernel_initializer=init(), use_bias=False)(zero_pad1)
        norm1 = InstanceNormalization()(conv)
        leaky_relu = layers.LeakyReLU()(norm1)
        zero_pad2 = layers.ZeroPadding2D()(leaky_relu)
        last = layers.Conv2D(1, 4, strides=1, kernel_initializer=init())(zero_pad2)  # (bs, 2, 2, 1)
        return keras.Model(inputs=inp, outputs=last, name=name)

    loss_obj = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real, generated):
        real_loss = loss_obj(tf.ones_like(real), real)
        generated_loss = loss_obj(tf.zeros_like(generated), generated)
        total_disc_loss = real_loss + generated_loss
        return total_disc_loss * 0.5

    def generator_loss(generated):
        return loss_obj(tf.ones_like(generated), generated)

    def calc_cycle_loss(real_image, cycled_image):
        loss1 = tf.reduce_mean(tf.abs(real_image - cycled_image))
        return LAMBDA * loss1

    def identity_loss(real_image, same_image):
        loss = tf.reduce_mean(tf.abs(real_image - same_image))
        return LAMBDA * 0.5 * loss

    class CycleGAN(keras.Model):
        def __init__(self):
            super().__init__(name="cyclegan")
            self.generator_g = unet_generator(OUTPUT_CHANNELS, "generator_g")
            self.generator_f = unet_generator(OUTPUT_CHANNELS, "generator_f")
            self.discriminator_x = discriminator("discriminator_x")
            self.discriminator_y = discriminator("discriminator_y")
            self.generator_g_optimizer = keras.optimizers.Adam(LR, beta_1=BETA_1)
            self.generator_f_optimizer = keras.optimizers.Adam(LR, beta_1=BETA_1)
            self.discriminator_x_optimizer = keras.optimizers.Adam(LR, beta_1=BETA_1)
            self.discriminator_y_optimizer = keras.optimizers.Adam(LR, beta_1=BETA_1)
            for opt, net in self._pairs():
                opt.build(net.trainable_variables)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def _pairs(self):
            return ((self.generator_g_optimizer, self.generator_g), (self.generator_f_optimizer, self.generator_f),
                    (self.discriminator_x_optimizer, self.discriminator_x),
                    (self.discriminator_y_optimizer, self.discriminator_y))

        @property
        def metrics(self):
            return [self.loss_tracker]

        def call(self, x, training=False):  # generate_images(generator_g, ...)
            return self.generator_g(x, training=training)

        def losses_of(self, real_x, real_y):
            # Generator G translates X -> Y; Generator F translates Y -> X.
            fake_y = self.generator_g(real_x, training=True)
            cycled_x = self.generator_f(fake_y, training=True)
            fake_x = self.generator_f(real_y, training=True)
            cycled_y = self.generator_g(fake_x, training=True)
            # same_x and same_y are used for identity loss.
            same_x = self.generator_f(real_x, training=True)
            same_y = self.generator_g(real_y, training=True)
            disc_real_x = self.discriminator_x(real_x, training=True)
            disc_real_y = self.discriminator_y(real_y, training=True)
            disc_fake_x = self.discriminator_x(fake_x, training=True)
            disc_fake_y = self.discriminator_y(fake_y, training=True)
            gen_g_loss = generator_loss(disc_fake_y)
            gen_f_loss = generator_loss(disc_fake_x)
            if fixed:  # fix 0874b3f11
                total_gen_g_loss = gen_g_loss + calc_cycle_loss(real_x, cycled_x) + identity_loss(real_y, same_y)
                total_gen_f_loss = gen_f_loss + calc_cycle_loss(real_y, cycled_y) + identity_loss(real_x, same_x)
            else:
                total_gen_g_loss = gen_g_loss + calc_cycle_loss(real_x, cycled_x) + identity_loss(real_x, same_x)
                total_gen_f_loss = gen_f_loss + calc_cycle_loss(real_y, cycled_y) + identity_loss(real_y, same_y)
            disc_x_loss = discriminator_loss(disc_real_x, disc_fake_x)
            disc_y_loss = discriminator_loss(disc_real_y, disc_fake_y)
            return total_gen_g_loss, total_gen_f_loss, disc_x_loss, disc_y_loss

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            if x is None or y is None:
                raise ValueError("the CycleGAN losses need both domains' images: x (X) and y (Y)")
            total_gen_g_loss, total_gen_f_loss, _, _ = self.losses_of(x, y)
            return total_gen_g_loss + total_gen_f_loss

        def train_step(self, data):
            real_x, real_y, _ = keras.utils.unpack_x_y_sample_weight(data)
            # persistent is set to True because the tapes are used more than once to calculate the gradients.
            with tf.GradientTape(persistent=True) as gen_tape, tf.GradientTape(persistent=True) as disc_tape:
                total_gen_g_loss, total_gen_f_loss, disc_x_loss, disc_y_loss = self.losses_of(real_x, real_y)
            # Calculate the gradients for generator and discriminator
            generator_g_gradients = gen_tape.gradient(total_gen_g_loss, self.generator_g.trainable_variables)
            generator_f_gradients = gen_tape.gradient(total_gen_f_loss, self.generator_f.trainable_variables)
            discriminator_x_gradients = disc_tape.gradient(disc_x_loss, self.discriminator_x.trainable_variables)
            discriminator_y_gradients = disc_tape.gradient(disc_y_loss, self.discriminator_y.trainable_variables)
            # Apply the gradients to the optimizer
            for (opt, net), grads in zip(self._pairs(), (generator_g_gradients, generator_f_gradients,
                                                          discriminator_x_gradients, discriminator_y_gradients)):
                opt.apply_gradients(zip(grads, net.trainable_variables))
            del gen_tape, disc_tape
            self.loss_tracker.update_state(total_gen_g_loss + total_gen_f_loss)
            return {"loss": self.loss_tracker.result()}

        def test_step(self, data):
            real_x, real_y, _ = keras.utils.unpack_x_y_sample_weight(data)
            self.loss_tracker.update_state(self.compute_loss(real_x, real_y))
            return {"loss": self.loss_tracker.result()}

    model = CycleGAN()
    model(np.zeros((1, IMG, IMG, 3), np.float32))
    # fit needs a compiled optimizer; the program's train_step steps its own four Adam(2e-4, beta_1=0.5)
    model.compile(optimizer=keras.optimizers.Adam(LR, beta_1=BETA_1))
    _, _, te_x, _ = _data()
    bs = _pairs()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": te_x[:N_INPUTS]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    class InstanceNormalization(nn.Module):  # pix2pix.py, channels first
        def __init__(self, channels, epsilon=1e-5):
            super().__init__()
            self.epsilon = epsilon
            self.scale = nn.Parameter(torch.normal(1.0, 0.02, (channels,)))
            self.offset = nn.Parameter(torch.zeros(channels))

        def forward(self, x):
            mean = x.mean(dim=(2, 3), keepdim=True)
            variance = x.var(dim=(2, 3), unbiased=False, keepdim=True)
            normalized = (x - mean) * torch.rsqrt(variance + self.epsilon)
            return self.scale[None, :, None, None] * normalized + self.offset[None, :, None, None]

    def conv(cin, cout, transpose=False, stride=2, padding=1, bias=False):
        layer = (nn.ConvTranspose2d if transpose else nn.Conv2d)(cin, cout, 4, stride=stride, padding=padding,
                                                                 bias=bias)
        nn.init.normal_(layer.weight, 0.0, 0.02)  # tf.random_normal_initializer(0., 0.02)
        if bias:
            nn.init.zeros_(layer.bias)
        return layer

    def downsample(cin, filters, apply_norm=True):
        return nn.Sequential(conv(cin, filters), *([InstanceNormalization(filters)] if apply_norm else []),
                             nn.LeakyReLU(0.3))

    def upsample(cin, filters, apply_dropout=False):
        return nn.Sequential(conv(cin, filters, transpose=True), InstanceNormalization(filters),
                             *([nn.Dropout(0.5)] if apply_dropout else []), nn.ReLU())

    class UnetGenerator(nn.Module):
        def __init__(self, output_channels):
            super().__init__()
            self.down_stack = nn.ModuleList([downsample(3, W, apply_norm=False), downsample(W, 2 * W),
                                             downsample(2 * W, 4 * W), downsample(4 * W, 8 * W),
                                             downsample(8 * W, 8 * W)])
            self.up_stack = nn.ModuleList([upsample(8 * W, 8 * W, apply_dropout=True), upsample(16 * W, 4 * W),
                                           upsample(8 * W, 2 * W), upsample(4 * W, W)])
            self.last = conv(2 * W, output_channels, transpose=True, bias=True)

        def forward(self, x):
            skips = []
            for down in self.down_stack:
                x = down(x)
                skips.append(x)
            for up, skip in zip(self.up_stack, reversed(skips[:-1])):
                x = torch.cat([up(x), skip], dim=1)
            return torch.tanh(self.last(x))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(downsample(3, W, False), downsample(W, 2 * W), downsample(2 * W, 4 * W),
                                     conv(4 * W, 8 * W, stride=1), InstanceNormalization(8 * W), nn.LeakyReLU(0.3),
                                     conv(8 * W, 1, stride=1, bias=True))  # ZeroPadding2D + Conv 4x4 valid

        def forward(self, x):
            return self.net(x)

    bce = nn.BCEWithLogitsLoss()  # BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real, generated):
        return (bce(real, torch.ones_like(real)) + bce(generated, torch.zeros_like(generated))) * 0.5

    def generator_loss(generated):
        return bce(generated, torch.ones_like(generated))

    def calc_cycle_loss(real_image, cycled_image):
        return LAMBDA * torch.mean(torch.abs(real_image - cycled_image))

    def identity_loss(real_image, same_image):
        return LAMBDA * 0.5 * torch.mean(torch.abs(real_image - same_image))

    class CycleGAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.generator_g = UnetGenerator(OUTPUT_CHANNELS)
            self.generator_f = UnetGenerator(OUTPUT_CHANNELS)
            self.discriminator_x = Discriminator()
            self.discriminator_y = Discriminator()
            self.last_x = None
            self.opts = None

        def forward(self, x):
            self.last_x = x
            return self.generator_g(x)

        def losses_of(self, real_x, real_y, fake_y=None):
            fake_y = self.generator_g(real_x) if fake_y is None else fake_y
            cycled_x = self.generator_f(fake_y)
            fake_x = self.generator_f(real_y)
            cycled_y = self.generator_g(fake_x)
            same_x = self.generator_f(real_x)
            same_y = self.generator_g(real_y)
            disc_real_x, disc_real_y = self.discriminator_x(real_x), self.discriminator_y(real_y)
            disc_fake_x, disc_fake_y = self.discriminator_x(fake_x), self.discriminator_y(fake_y)
            gen_g_loss, gen_f_loss = generator_loss(disc_fake_y), generator_loss(disc_fake_x)
            if fixed:  # fix 0874b3f11
                total_gen_g_loss = gen_g_loss + calc_cycle_loss(real_x, cycled_x) + identity_loss(real_y, same_y)
                total_gen_f_loss = gen_f_loss + calc_cycle_loss(real_y, cycled_y) + identity_loss(real_x, same_x)
            else:
                total_gen_g_loss = gen_g_loss + calc_cycle_loss(real_x, cycled_x) + identity_loss(real_x, same_x)
                total_gen_f_loss = gen_f_loss + calc_cycle_loss(real_y, cycled_y) + identity_loss(real_y, same_y)
            return (total_gen_g_loss, total_gen_f_loss, discriminator_loss(disc_real_x, disc_fake_x),
                    discriminator_loss(disc_real_y, disc_fake_y))

    def loss_fn(outputs, y):
        """The two generator totals; outputs = generator_g(x), x read back from the model's last forward."""
        g, f, _, _ = model.losses_of(model.last_x, y, fake_y=outputs)
        return g + f

    def train_step(model, optimizer, loss_fn, x, y):
        """The tutorial's train_step: each network's gradient of its own loss (tape.gradient(loss, net vars))."""
        model.train()
        nets = (model.generator_g, model.generator_f, model.discriminator_x, model.discriminator_y)
        if model.opts is None:  # generator_g_optimizer, ..., discriminator_y_optimizer
            model.opts = [torch.optim.Adam(n.parameters(), lr=LR, betas=(BETA_1, 0.999)) for n in nets]
        losses = model.losses_of(x, y)
        grads = [torch.autograd.grad(loss, list(n.parameters()), retain_graph=True, allow_unused=True)
                 for loss, n in zip(losses, nets)]
        for opt, n, gs in zip(model.opts, nets, grads):
            opt.zero_grad()
            for p, g in zip(n.parameters(), gs):
                p.grad = g
            opt.step()
        return (losses[0] + losses[1]).item()

    model = CycleGAN()
    _, _, te_x, _ = _data()

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    bs = [(t(x), t(y)) for x, y in _pairs()]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(te_x[:N_INPUTS]), "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=LR, betas=(BETA_1, 0.999)), "train_step": train_step}


buggy, fixed = versions(_torch, _keras)
