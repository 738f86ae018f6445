"""sarus-tech/tf2-published-models (TF2 / Keras re-implementations of published generative models), PixelCNN++
(Salimans et al. 2017) on MNIST: ``pixelcnn_plus/train_mnist.py`` loads tfds MNIST, ``prepare`` casts each image to
float32 and maps it to [-1, 1] (``image / 127.5 - 1.``), the target is the input itself (``duplicate``), ``shuffle(1024)
.batch(64)``; ``model = PixelCNNplus(hidden_dim=64, n_res=3, n_downsampling=2, dropout_rate=.2, n_mix=5)``,
``model.compile(optimizer='adam', loss=discretized_logistic_mix_loss)``, ``fit(train_ds, epochs=50)``.
``pixelcnn_plus/model.py``: down-shifted / down-right-shifted convolutions (vertical and horizontal stacks), gated
residual blocks with dropout, two stride-2 down-sampling and two transposed up-sampling stages with 1x1-projected
skip connections, and two 1x1 output convolutions giving, per pixel, 5 mixture logits ``pi``, 5 means ``mu`` and 5
log-scales ``logvar`` (15 channels). ``discretized_logistic_mix_loss`` is the negative log-likelihood of the pixel
under the mixture of logistics discretised to the 256 bins (bin half-width ``half_pixel = 1 / 255.``):
``log(CDF(x + half) - CDF(x - half))`` for an inner value, with the two edge cases of the original paper: a pixel at
255 (``y_true > 0.999``) takes ``log(1 - CDF(x - half))`` and a pixel at 0 (``y_true < -0.999``) ``log CDF(x +
half)``; then a logsumexp over the components with ``log_softmax(pi)`` and a sum over the image.

The fault (a wrong edge-case threshold in the likelihood): the second edge case reads
``log_probs = tf.where(y_true < 0.999, log_cdf_plus, log_probs)``. Every pixel below 255 (not just those at 0), so
every anti-aliased stroke pixel, is scored by ``log CDF(x + half)``, the probability that the pixel is *at most*
its value, instead of the probability of its bin. That probability is maximised by putting all the mass at -1
(black): the loss rewards the model for predicting an empty image at every position except the few pixels at
exactly 255, so it learns "everything is background", and the loss it reports falls towards 0 all the same.
Commit cff874d ("Fix Pixelcnn++") had turned ``y_true < 0.001`` (the threshold for [0, 1] data) into ``< 0.999``;
a83c151 ("Lots of fixes") made it ``y_true < -0.999`` and converted the loss to bits per dimension. The bug
benchmark defects4ml records it as bugs/021 (buggy = 79d48d0, fixed = a83c151, ``pixelcnn_plus/train_mnist.py``):
"Because of choosing wrong loss function, accuracy of model stays at a lower level than what is should be."

Source: github.com/sarus-tech/tf2-published-models ``pixelcnn_plus/model.py`` and ``pixelcnn_plus/train_mnist.py``
at 79d48d02e5fab3e944965457371dabe9e606bdf0 ("Working implementation of PixelCNN++"; the file is the same at
a83c151^ = b81bbc9); the threshold came in with cff874d; fix a83c151532bfb7027807403eb303a1692e394b44 ("Lots of
fixes"); defects4ml (github.com/mohmehmo/defects4ml) bugs/021.
Fault label: loss_mismatch (the loss scores inner pixel values with the edge-case term for the lowest bin, so it no
longer is the likelihood of the targets; the model it trains collapses to black).

Program lines kept: ``DownShift``, ``RightShift``, ``DownShiftedConv``, ``DownShiftedConvTranspose``,
``DownRightShiftedConv``, ``DownRightShiftedConvTranspose``, ``ResidualBlock`` and ``PixelCNNplus.call`` as
written at 79d48d0 (Keras default initialisers: glorot-uniform kernels, zero biases), ``dropout_rate=.2``,
``n_downsampling=2``, ``n_mix=5``, ``optimizer='adam'`` (Keras defaults: lr 1e-3, epsilon 1e-7), batch size 64,
``prepare`` ([-1, 1]) with target = input, and ``discretized_logistic_mix_loss`` line by line (gray branch, C == 1)
with the buggy ``y_true < 0.999`` / the fixed ``y_true < -0.999`` and bits-per-dim return.
Ported / shrunk: ``hidden_dim`` 12 instead of 64, ``n_res`` 1 instead of 3 and 16 x 16 images instead of 28 x 28 (by
their FLOPs the program's sizes would take seconds a step on one CPU thread; here a step is ~0.1 s, mostly per-op
overhead of the ~70 convolutions). Keras 3: ``tf.*`` ops become ``keras.ops`` ones, the layers the program creates in
``build()`` are created in ``__init__`` (the channel count, 1, is passed in), ``training`` is passed to the blocks as
a keyword; ``tensorflow_probability``, ``sample()``, the callbacks and ``MirroredStrategy`` are left out. Only the
loss is changed between the builds: a83c151 also added ReLUs before the down/up-sampling and output convolutions and
a third 1x1 output convolution and raised the epochs; those are not part of this fault and not ported (both builds
use the 79d48d0 model). Torch twin: the same network channels-first, ``ZeroPadding2D`` -> ``F.pad``, ``Cropping2D``
-> slicing, ``Conv2DTranspose(output_padding=1)`` -> ``ConvTranspose2d(output_padding=1)``, Keras' glorot-uniform /
zero-bias init, ``Adam(lr=1e-3, eps=1e-7)``, the same loss on NHWC views of the outputs / targets and the Keras batch
mean of the per-image losses. The fault is in the loss formula, so it exists in both.
Data stand-in (no tfds download): scikit-learn's 1797 8x8 digits zoomed to 12 x 12 (bilinear), a steep contrast
curve (background exactly 0, strokes peaking at 250..255 with anti-aliased edges), padded to 16 x 16, uint8, shuffled
(seed 0): 75.2 % of the pixels are 0, 23.3 % in 1..254, 1.5 % exactly 255 (MNIST also has mostly-0 backgrounds and
anti-aliased strokes; its exact shares are not checked here). 1536 images train, the other 261 are held out.
``batches``: the first 4 batches of 64 training images (x = y, NHWC for Keras, NCHW for torch); ``inputs``: 64 held-out
images.

Measured (my own plain loops, /tmp/s45/h_c/pkg/measure.py, OMP_NUM_THREADS=1, the module's builds; 300 steps of 64
shuffled training images, ~12.5 epochs, then the held-out 261 in eval mode, scored with the *correct* discretized
logistic mixture NLL in bits per pixel):
  torch: loss at steps 1 / 10 / 50 / 100 / 300: buggy 274.0 / 165.3 / 18.5 / 15.5 / 9.6 (nats per image, i.e. 0.05
    bits per pixel at the end: it looks like near-perfect modelling), fixed 3.57 / 3.14 / 2.38 / 1.96 / 1.75 (bits
    per dim). Held-out true NLL: buggy 4.36 bits/pixel (background 0.001, inner 18.1, 255-pixels 3.33), fixed 1.75
    (0.081, 7.02, 1.61). Mixture mean sum(pi * mu) at inner pixels (target mean +0.30): buggy -0.999, fixed +0.265;
    at 255-pixels (+1.0): buggy -0.998, fixed +0.840. 16 images sampled as ``PixelCNNplus.sample`` does: buggy mean
    pixel 0.1 / 255, no pixel above 127 (data 42.9, 17.0 %); fixed 43.9, 17.3 %.
  Keras (``train_on_batch``): loss steps 1 / 10 / 50 / 100 / 300: buggy 282.0 / 188.0 / 14.0 / 16.4 / 9.8, fixed 3.62 /
    3.23 / 2.29 / 1.99 / 1.85. Held-out true NLL: buggy 4.22 bits/pixel (0.001, 17.5, 3.35), fixed 1.85 (0.068, 7.50,
    1.47); mixture mean at inner pixels buggy -0.999, fixed +0.257; at 255-pixels -0.997 / +0.875.
  So the fault reproduces in both frameworks: the buggy loss falls steeply (x28) while the model learns to predict
  black for every pixel and its samples are empty; the fixed model learns the strokes. Causality of the ported
  network checked: the outputs at a pixel have zero gradient from that pixel and all later ones.
  Time per step (batch 64, one thread, shared machine): torch ~0.12-0.15 s, Keras ``train_on_batch`` ~0.09-0.16 s
    (first call ~11 s of tracing). Builds: first (with imports and data) torch 1.7 s, Keras
    10.4 s; later ones torch < 0.1 s, Keras 1.8 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "loss_mismatch"
SOURCE = ("github:sarus-tech/tf2-published-models (pixelcnn_plus/model.py discretized_logistic_mix_loss "
          "'log_probs = tf.where(y_true < 0.999, log_cdf_plus, log_probs)' "
          "@79d48d02e5fab3e944965457371dabe9e606bdf0 = a83c151^^, introduced in cff874de; "
          "pixelcnn_plus/train_mnist.py; "
          "fix a83c151532bfb7027807403eb303a1692e394b44 'Lots of fixes': 'y_true < -0.999', loss in bits per dim); "
          "defects4ml bugs/021")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

# train_mnist.py
BATCH_SIZE = 64
LEARNING_RATE = 0.001  # optimizer='adam': Keras defaults (epsilon 1e-7)
DROPOUT_RATE = 0.2
N_DOWNSAMPLING = 2
N_MIX = 5
# port (program: hidden_dim=64, n_res=3, 28 x 28 MNIST)
HIDDEN_DIM = 12
N_RES = 1
IMG = 16
N_TRAIN = 1536
N_BATCHES = 4
N_INPUTS = 64
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _digits() -> np.ndarray:
    """MNIST-like uint8 digits (1797, IMG, IMG), 0..255: scikit-learn's 8x8 digits zoomed to 12 x 12 (bilinear),
    a steep contrast curve (background exactly 0, strokes saturating at 250..255 with anti-aliased edges), padded
    by 2; shuffled with a fixed seed."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    r = np.random.default_rng(SEED)
    im = load_digits().images / 16.0
    z = np.stack([ndimage.zoom(i, 1.5, order=1) for i in im])
    c = np.pad(np.clip((z - 0.3) * 2.2, 0.0, 1.0), ((0, 0), (2, 2), (2, 2)))
    peak = r.integers(250, 256, len(c))[:, None, None]
    imgs = np.round(c * peak).astype(np.uint8)
    return imgs[r.permutation(len(imgs))]


def prepare(image: np.ndarray) -> np.ndarray:
    """train_mnist.py prepare(): cast to float32, ``image / 127.5 - 1.`` (normalize between -1 and 1)."""
    image = image.astype(np.float32)
    return image / 127.5 - 1.


def _data() -> tuple[list[np.ndarray], np.ndarray]:
    """Batches of BATCH_SIZE training images (n, IMG, IMG, 1) in [-1, 1] (target = input) and N_INPUTS test ones."""
    imgs = prepare(_digits())[..., None]
    train, test = imgs[:N_TRAIN], imgs[N_TRAIN:N_TRAIN + N_INPUTS]
    return [train[i * BATCH_SIZE:(i + 1) * BATCH_SIZE] for i in range(N_BATCHES)], test


# ----------------------------------------------------------------------------------------------------------- keras

def _keras_model() -> Any:
    import keras
    from keras import layers as tfkl
    from keras import ops

    class DownShift(tfkl.Layer):
        def __init__(self, name='down_shift'):
            super(DownShift, self).__init__(name=name)
            self.pad = tfkl.ZeroPadding2D(((1, 0), (0, 0)))
            self.crop = tfkl.Cropping2D(((0, 1), (0, 0)))

        def call(self, x):
            return self.pad(self.crop(x))

    class RightShift(tfkl.Layer):
        def __init__(self, name='right_shift'):
            super(RightShift, self).__init__(name=name)
            self.pad = tfkl.ZeroPadding2D(((0, 0), (1, 0)))
            self.crop = tfkl.Cropping2D(((0, 0), (0, 1)))

        def call(self, x):
            return self.pad(self.crop(x))

    class DownShiftedConv(tfkl.Layer):
        def __init__(self, filters, kernel_size=(2, 3), strides=1, name='down_shifted_conv'):
            super(DownShiftedConv, self).__init__(name=name)
            self.padding = tfkl.ZeroPadding2D(
                padding=((kernel_size[0] - 1, 0), ((kernel_size[1] - 1) // 2, (kernel_size[1] - 1) // 2)))
            self.conv = tfkl.Conv2D(filters=filters, kernel_size=kernel_size, strides=strides, padding='valid')

        def call(self, x):
            return self.conv(self.padding(x))

    class DownShiftedConvTranspose(tfkl.Layer):
        def __init__(self, filters, kernel_size=(2, 3), strides=1, name='down_shifted_conv_transpose'):
            super(DownShiftedConvTranspose, self).__init__(name=name)
            self.conv = tfkl.Conv2DTranspose(filters=filters, kernel_size=kernel_size, output_padding=strides - 1,
                                             strides=strides, padding='valid')
            self.crop = tfkl.Cropping2D(
                cropping=((0, kernel_size[0] - 1), ((kernel_size[1] - 1) // 2, (kernel_size[1] - 1) // 2)))

        def call(self, x):
            return self.crop(self.conv(x))

    class DownRightShiftedConv(tfkl.Layer):
        def __init__(self, filters, kernel_size=(2, 2), strides=1, name='downright_shifted_conv'):
            super(DownRightShiftedConv, self).__init__(name=name)
            self.padding = tfkl.ZeroPadding2D(padding=((kernel_size[0] - 1, 0), (kernel_size[1] - 1, 0)))
            self.conv = tfkl.Conv2D(filters=filters, kernel_size=kernel_size, strides=strides, padding='valid')

        def call(self, x):
            return self.conv(self.padding(x))

    class DownRightShiftedConvTranspose(tfkl.Layer):
        def __init__(self, filters, kernel_size=(2, 2), strides=1, name='downright_shifted_conv_transpose'):
            super(DownRightShiftedConvTranspose, self).__init__(name=name)
            self.conv = tfkl.Conv2DTranspose(filters=filters, kernel_size=kernel_size, strides=strides,
                                             output_padding=strides - 1, padding='valid')
            self.crop = tfkl.Cropping2D(cropping=((0, kernel_size[0] - 1), (0, kernel_size[1] - 1)))

        def call(self, x):
            return self.crop(self.conv(x))

    class ResidualBlock(tfkl.Layer):
        def __init__(self, hidden_dim, dropout_rate=0.2, name='pixelcnn_layer'):
            super(ResidualBlock, self).__init__(name=name)
            self.dropout_rate = dropout_rate
            # (the program builds these in build() from input_shape[-1] == hidden_dim)
            self.dropout = tfkl.Dropout(rate=self.dropout_rate, name='dropout')
            self.v_conv = DownShiftedConv(filters=hidden_dim, name='v_conv')
            self.h_conv = DownRightShiftedConv(filters=hidden_dim, name='h_conv')
            self.v_conv_2 = DownShiftedConv(filters=2 * hidden_dim, name='v_conv_2')
            self.h_conv_2 = DownRightShiftedConv(filters=2 * hidden_dim, name='h_conv_2')
            self.skip_conv = tfkl.Conv2D(filters=hidden_dim, kernel_size=1, name='skip_conv')

        def call(self, v_stack, h_stack, training=False):
            # First convs
            hidden_v = self.v_conv(ops.relu(v_stack))
            hidden_h = self.h_conv(ops.relu(h_stack))
            # Skip connection
            hidden_h += self.skip_conv(ops.relu(hidden_v))
            # Dropout
            hidden_h = self.dropout(hidden_h, training=training)
            hidden_v = self.dropout(hidden_v, training=training)
            # Second convs
            hidden_v = self.v_conv_2(ops.relu(hidden_v))
            hidden_h = self.h_conv_2(ops.relu(hidden_h))
            # Gated operations
            h, sigmoid_h = ops.split(hidden_h, 2, axis=-1)
            v, sigmoid_v = ops.split(hidden_v, 2, axis=-1)
            hidden_h = h * ops.sigmoid(sigmoid_h)
            hidden_v = v * ops.sigmoid(sigmoid_v)
            # Residual connection
            hidden_h += h_stack
            hidden_v += v_stack
            return hidden_v, hidden_h

    class PixelCNNplus(keras.Model):
        def __init__(self, hidden_dim, dropout_rate=0.2, n_res=5, n_downsampling=2, n_mix=5, n_channels=1,
                     name='pixelcnn_pp'):
            super(PixelCNNplus, self).__init__(name=name)
            self.n_res = n_res
            self.hidden_dim = hidden_dim
            self.n_mix = n_mix
            self.n_downsampling = n_downsampling
            self.dropout_rate = dropout_rate
            # (the program creates the layers below in build(); the channel count is passed here instead)
            self.n_component_per_mix = 3 if n_channels == 1 else 10  # pi, mu, sigma (gray)
            self.down_shift = DownShift()
            self.right_shift = RightShift()
            self.first_conv_v = DownShiftedConv(kernel_size=(2, 3), filters=self.hidden_dim, name='first_conv_v')
            self.first_conv_h_v = DownRightShiftedConv(kernel_size=(1, 3), filters=self.hidden_dim,
                                                       name='first_conv_h_v')
            self.first_conv_h_h = DownShiftedConv(kernel_size=(2, 1), filters=self.hidden_dim, name='first_conv_h_h')
            self.downsampling_res_blocks = [
                [ResidualBlock(self.hidden_dim, dropout_rate=self.dropout_rate, name=f'ds_res_block{i}_{j}')
                 for j in range(self.n_res)] for i in range(self.n_downsampling + 1)]
            self.downsampling_convs_v = [
                DownShiftedConv(filters=self.hidden_dim, strides=2, name=f'downsampling_conv_v_{i}')
                for i in range(self.n_downsampling)]
            self.downsampling_convs_h = [
                DownRightShiftedConv(filters=self.hidden_dim, strides=2, name=f'downsampling_conv_h_{i}')
                for i in range(self.n_downsampling)]
            self.upsampling_res_blocks = [
                [ResidualBlock(self.hidden_dim, dropout_rate=self.dropout_rate, name=f'us_res_block{i}_{j}')
                 for j in range(self.n_res)] for i in range(self.n_downsampling + 1)]
            self.upsampling_convs_v = [
                DownShiftedConvTranspose(filters=self.hidden_dim, strides=2, name=f'upsampling_conv_v_{i}')
                for i in range(self.n_downsampling)]
            self.upsampling_convs_h = [
                DownRightShiftedConvTranspose(filters=self.hidden_dim, strides=2, name=f'upsampling_conv_h_{i}')
                for i in range(self.n_downsampling)]
            # Residuals connections convs
            n_res_connections = (self.n_downsampling + 1) * (self.n_res + 1)
            self.res_conv_h = [tfkl.Conv2D(filters=self.hidden_dim, kernel_size=1, name=f'res_conv_h_{i}')
                               for i in range(n_res_connections)]
            self.res_conv_v = [tfkl.Conv2D(filters=self.hidden_dim, kernel_size=1, name=f'res_conv_v_{i}')
                               for i in range(n_res_connections)]
            # Final convolutions
            self.final_conv_v = tfkl.Conv2D(filters=self.n_mix * self.n_component_per_mix, kernel_size=1,
                                            name='final_conv_v')
            self.final_conv_h = tfkl.Conv2D(filters=self.n_mix * self.n_component_per_mix, kernel_size=1,
                                            name='final_conv_h')

        def call(self, x, training=False):
            # First convs
            v_stack = self.down_shift(self.first_conv_v(x))
            h_stack = self.down_shift(self.first_conv_h_h(x)) + self.right_shift(self.first_conv_h_v(x))
            # Down pass
            residuals_h, residuals_v = [h_stack], [v_stack]
            for ds in range(self.n_downsampling + 1):
                for res_block in self.downsampling_res_blocks[ds]:
                    v_stack, h_stack = res_block(v_stack, h_stack, training=training)  # Keras 3: keyword
                    residuals_h.append(h_stack)
                    residuals_v.append(v_stack)
                if ds < self.n_downsampling:
                    v_stack = self.downsampling_convs_v[ds](v_stack)
                    h_stack = self.downsampling_convs_h[ds](h_stack)
                    residuals_h.append(h_stack)
                    residuals_v.append(v_stack)
            # Residual connections convolutions
            residuals_v = [res_conv_v(ops.relu(res_v)) for res_conv_v, res_v in zip(self.res_conv_v, residuals_v)]
            residuals_h = [res_conv_h(ops.relu(res_h)) for res_conv_h, res_h in zip(self.res_conv_h, residuals_h)]
            # Up pass
            v_stack = residuals_v.pop()
            h_stack = residuals_h.pop()
            for us in range(self.n_downsampling + 1):
                for res_block in self.upsampling_res_blocks[us]:
                    v_stack, h_stack = res_block(v_stack, h_stack, training=training)  # Keras 3: keyword
                    v_stack += residuals_v.pop()
                    h_stack += residuals_h.pop()
                if us < self.n_downsampling:
                    v_stack = self.upsampling_convs_v[us](v_stack)
                    h_stack = self.upsampling_convs_h[us](h_stack)
                    v_stack += residuals_v.pop()
                    h_stack += residuals_h.pop()
            # Final conv
            outputs = self.final_conv_h(h_stack) + self.final_conv_v(v_stack)
            return outputs

    return PixelCNNplus(hidden_dim=HIDDEN_DIM, n_res=N_RES, n_downsampling=N_DOWNSAMPLING,
                        dropout_rate=DROPOUT_RATE, n_mix=N_MIX)


def _keras_loss(fixed: bool) -> Any:
    from keras import ops

    def discretized_logistic_mix_loss(y_true, y_pred):
        # y_true shape (batch_size, H, W, channels); gray images: C == 1
        _, H, W, C = y_true.shape
        num_pixels = float(H * W * C)
        pi, mu, logvar = ops.split(y_pred, 3, axis=-1)
        mu = ops.expand_dims(mu, axis=3)
        logvar = ops.expand_dims(logvar, axis=3)

        logvar = ops.maximum(logvar, -7.)

        # Add extra-dim for broadcasting channel-wise
        y_true = ops.expand_dims(y_true, axis=-1)

        def cdf(x):  # logistic cdf
            return ops.sigmoid((x - mu) * ops.exp(-logvar))

        def log_cdf(x):  # log logistic cdf
            return ops.log_sigmoid((x - mu) * ops.exp(-logvar))

        def log_one_minus_cdf(x):  # log one minus logistic cdf
            return -ops.softplus((x - mu) * ops.exp(-logvar))

        def log_pdf(x):  # log logistic pdf
            norm = (x - mu) * ops.exp(-logvar)
            return norm - logvar - 2. * ops.softplus(norm)

        half_pixel = 1 / 255.

        cdf_plus = cdf(y_true + half_pixel)
        cdf_min = cdf(y_true - half_pixel)

        log_cdf_plus = log_cdf(y_true + half_pixel)
        log_one_minus_cdf_min = log_one_minus_cdf(y_true - half_pixel)

        cdf_delta = cdf_plus - cdf_min
        cdf_delta = ops.maximum(cdf_delta, 1e-12)

        # At small probabilities the interval difference is approximated
        # as the pdf value at the center
        approx_log_cdf_delta = log_pdf(y_true) - np.log(127.5)
        log_probs = ops.where(cdf_delta > 1e-5, ops.log(cdf_delta), approx_log_cdf_delta)

        # Deal with edge cases
        log_probs = ops.where(y_true > 0.999, log_one_minus_cdf_min, log_probs)
        if fixed:  # a83c151
            log_probs = ops.where(y_true < -0.999, log_cdf_plus, log_probs)
        else:  # cff874d .. a83c151^
            log_probs = ops.where(y_true < 0.999, log_cdf_plus, log_probs)

        log_probs = ops.sum(log_probs, axis=3)  # whole pixel prob per component
        log_probs += ops.log_softmax(pi, axis=-1)  # multiply by mixture components
        log_probs = ops.logsumexp(log_probs, axis=-1)  # add components probs
        log_probs = ops.sum(log_probs, axis=[1, 2])

        if fixed:  # a83c151: convert to bits per dim
            return -log_probs / num_pixels / np.log(2.)
        return -log_probs

    return discretized_logistic_mix_loss


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    model = _keras_model()
    model.compile(optimizer='adam', loss=_keras_loss(fixed))
    batches, test = _data()
    model(batches[0][:1])  # build
    bs = [(b, b) for b in batches]  # PixelCNN training requires target = input
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": test}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch_model() -> Any:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def keras_init(m: nn.Module) -> nn.Module:  # Keras defaults: glorot_uniform kernel, zero bias
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
        return m

    def down_shift(x):  # pad one row on top, crop the last row
        return F.pad(x[:, :, :-1, :], (0, 0, 1, 0))

    def right_shift(x):  # pad one column on the left, crop the last column
        return F.pad(x[:, :, :, :-1], (1, 0, 0, 0))

    class DownShiftedConv(nn.Module):
        def __init__(self, c_in, filters, kernel_size=(2, 3), strides=1):
            super().__init__()
            self.pad = ((kernel_size[1] - 1) // 2, (kernel_size[1] - 1) // 2, kernel_size[0] - 1, 0)
            self.conv = keras_init(nn.Conv2d(c_in, filters, kernel_size, stride=strides))

        def forward(self, x):
            return self.conv(F.pad(x, self.pad))

    class DownShiftedConvTranspose(nn.Module):
        def __init__(self, c_in, filters, kernel_size=(2, 3), strides=1):
            super().__init__()
            self.k = kernel_size
            self.conv = keras_init(nn.ConvTranspose2d(c_in, filters, kernel_size, stride=strides,
                                                      output_padding=strides - 1))

        def forward(self, x):
            y = self.conv(x)
            c = (self.k[1] - 1) // 2
            return y[:, :, :y.shape[2] - (self.k[0] - 1), c:y.shape[3] - c]

    class DownRightShiftedConv(nn.Module):
        def __init__(self, c_in, filters, kernel_size=(2, 2), strides=1):
            super().__init__()
            self.pad = (kernel_size[1] - 1, 0, kernel_size[0] - 1, 0)
            self.conv = keras_init(nn.Conv2d(c_in, filters, kernel_size, stride=strides))

        def forward(self, x):
            return self.conv(F.pad(x, self.pad))

    class DownRightShiftedConvTranspose(nn.Module):
        def __init__(self, c_in, filters, kernel_size=(2, 2), strides=1):
            super().__init__()
            self.k = kernel_size
            self.conv = keras_init(nn.ConvTranspose2d(c_in, filters, kernel_size, stride=strides,
                                                      output_padding=strides - 1))

        def forward(self, x):
            y = self.conv(x)
            return y[:, :, :y.shape[2] - (self.k[0] - 1), :y.shape[3] - (self.k[1] - 1)]

    class ResidualBlock(nn.Module):
        def __init__(self, hidden_dim, dropout_rate=0.2):
            super().__init__()
            self.dropout = nn.Dropout(dropout_rate)
            self.v_conv = DownShiftedConv(hidden_dim, hidden_dim)
            self.h_conv = DownRightShiftedConv(hidden_dim, hidden_dim)
            self.v_conv_2 = DownShiftedConv(hidden_dim, 2 * hidden_dim)
            self.h_conv_2 = DownRightShiftedConv(hidden_dim, 2 * hidden_dim)
            self.skip_conv = keras_init(nn.Conv2d(hidden_dim, hidden_dim, 1))

        def forward(self, v_stack, h_stack):
            hidden_v = self.v_conv(torch.relu(v_stack))
            hidden_h = self.h_conv(torch.relu(h_stack))
            hidden_h = hidden_h + self.skip_conv(torch.relu(hidden_v))
            hidden_h = self.dropout(hidden_h)
            hidden_v = self.dropout(hidden_v)
            hidden_v = self.v_conv_2(torch.relu(hidden_v))
            hidden_h = self.h_conv_2(torch.relu(hidden_h))
            h, sigmoid_h = torch.chunk(hidden_h, 2, dim=1)
            v, sigmoid_v = torch.chunk(hidden_v, 2, dim=1)
            hidden_h = h * torch.sigmoid(sigmoid_h)
            hidden_v = v * torch.sigmoid(sigmoid_v)
            return hidden_v + v_stack, hidden_h + h_stack

    class PixelCNNplus(nn.Module):
        def __init__(self, hidden_dim, dropout_rate=0.2, n_res=5, n_downsampling=2, n_mix=5, n_channels=1):
            super().__init__()
            self.n_downsampling = n_downsampling
            d = hidden_dim
            out = n_mix * (3 if n_channels == 1 else 10)
            self.first_conv_v = DownShiftedConv(n_channels, d, kernel_size=(2, 3))
            self.first_conv_h_v = DownRightShiftedConv(n_channels, d, kernel_size=(1, 3))
            self.first_conv_h_h = DownShiftedConv(n_channels, d, kernel_size=(2, 1))
            self.downsampling_res_blocks = nn.ModuleList(
                [nn.ModuleList([ResidualBlock(d, dropout_rate) for _ in range(n_res)])
                 for _ in range(n_downsampling + 1)])
            self.downsampling_convs_v = nn.ModuleList(
                [DownShiftedConv(d, d, strides=2) for _ in range(n_downsampling)])
            self.downsampling_convs_h = nn.ModuleList(
                [DownRightShiftedConv(d, d, strides=2) for _ in range(n_downsampling)])
            self.upsampling_res_blocks = nn.ModuleList(
                [nn.ModuleList([ResidualBlock(d, dropout_rate) for _ in range(n_res)])
                 for _ in range(n_downsampling + 1)])
            self.upsampling_convs_v = nn.ModuleList(
                [DownShiftedConvTranspose(d, d, strides=2) for _ in range(n_downsampling)])
            self.upsampling_convs_h = nn.ModuleList(
                [DownRightShiftedConvTranspose(d, d, strides=2) for _ in range(n_downsampling)])
            n_res_connections = (n_downsampling + 1) * (n_res + 1)
            self.res_conv_h = nn.ModuleList([keras_init(nn.Conv2d(d, d, 1)) for _ in range(n_res_connections)])
            self.res_conv_v = nn.ModuleList([keras_init(nn.Conv2d(d, d, 1)) for _ in range(n_res_connections)])
            self.final_conv_v = keras_init(nn.Conv2d(d, out, 1))
            self.final_conv_h = keras_init(nn.Conv2d(d, out, 1))

        def forward(self, x):
            v_stack = down_shift(self.first_conv_v(x))
            h_stack = down_shift(self.first_conv_h_h(x)) + right_shift(self.first_conv_h_v(x))
            residuals_h, residuals_v = [h_stack], [v_stack]
            for ds in range(self.n_downsampling + 1):
                for res_block in self.downsampling_res_blocks[ds]:
                    v_stack, h_stack = res_block(v_stack, h_stack)
                    residuals_h.append(h_stack)
                    residuals_v.append(v_stack)
                if ds < self.n_downsampling:
                    v_stack = self.downsampling_convs_v[ds](v_stack)
                    h_stack = self.downsampling_convs_h[ds](h_stack)
                    residuals_h.append(h_stack)
                    residuals_v.append(v_stack)
            residuals_v = [c(torch.relu(r)) for c, r in zip(self.res_conv_v, residuals_v)]
            residuals_h = [c(torch.relu(r)) for c, r in zip(self.res_conv_h, residuals_h)]
            v_stack = residuals_v.pop()
            h_stack = residuals_h.pop()
            for us in range(self.n_downsampling + 1):
                for res_block in self.upsampling_res_blocks[us]:
                    v_stack, h_stack = res_block(v_stack, h_stack)
                    v_stack = v_stack + residuals_v.pop()
                    h_stack = h_stack + residuals_h.pop()
                if us < self.n_downsampling:
                    v_stack = self.upsampling_convs_v[us](v_stack) + residuals_v.pop()
                    h_stack = self.upsampling_convs_h[us](h_stack) + residuals_h.pop()
            return self.final_conv_h(h_stack) + self.final_conv_v(v_stack)

    return PixelCNNplus(HIDDEN_DIM, dropout_rate=DROPOUT_RATE, n_res=N_RES, n_downsampling=N_DOWNSAMPLING,
                        n_mix=N_MIX)


def _torch_loss(fixed: bool) -> Any:
    import torch
    import torch.nn.functional as F

    def discretized_logistic_mix_loss(y_pred, y_true):
        """The program's loss on NCHW tensors: (B, 3 * n_mix, H, W) outputs, (B, 1, H, W) targets in [-1, 1]."""
        y_pred = y_pred.permute(0, 2, 3, 1)
        y_true = y_true.permute(0, 2, 3, 1)
        _, H, W, C = y_true.shape
        num_pixels = float(H * W * C)
        pi, mu, logvar = torch.chunk(y_pred, 3, dim=-1)
        mu = mu.unsqueeze(3)
        logvar = logvar.unsqueeze(3)
        logvar = torch.clamp(logvar, min=-7.)
        y_true = y_true.unsqueeze(-1)

        def cdf(x):
            return torch.sigmoid((x - mu) * torch.exp(-logvar))

        def log_cdf(x):
            return F.logsigmoid((x - mu) * torch.exp(-logvar))

        def log_one_minus_cdf(x):
            return -F.softplus((x - mu) * torch.exp(-logvar))

        def log_pdf(x):
            norm = (x - mu) * torch.exp(-logvar)
            return norm - logvar - 2. * F.softplus(norm)

        half_pixel = 1 / 255.
        cdf_plus = cdf(y_true + half_pixel)
        cdf_min = cdf(y_true - half_pixel)
        log_cdf_plus = log_cdf(y_true + half_pixel)
        log_one_minus_cdf_min = log_one_minus_cdf(y_true - half_pixel)
        cdf_delta = torch.clamp(cdf_plus - cdf_min, min=1e-12)
        approx_log_cdf_delta = log_pdf(y_true) - np.log(127.5)
        log_probs = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta), approx_log_cdf_delta)
        log_probs = torch.where(y_true > 0.999, log_one_minus_cdf_min, log_probs)
        if fixed:  # a83c151
            log_probs = torch.where(y_true < -0.999, log_cdf_plus, log_probs)
        else:  # cff874d .. a83c151^
            log_probs = torch.where(y_true < 0.999, log_cdf_plus, log_probs)
        log_probs = log_probs.sum(dim=3)
        log_probs = log_probs + F.log_softmax(pi, dim=-1)
        log_probs = torch.logsumexp(log_probs, dim=-1)
        log_probs = log_probs.sum(dim=[1, 2])
        loss = -log_probs / num_pixels / np.log(2.) if fixed else -log_probs
        return loss.mean()  # Keras: mean of the per-image losses over the batch

    return discretized_logistic_mix_loss


def _torch(fixed: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    model = _torch_model()
    batches, test = _data()

    def t(a: np.ndarray) -> Any:  # NHWC -> NCHW
        return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2))))

    bs = [(t(b), t(b)) for b in batches]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(test), "loss_fn": _torch_loss(fixed),
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE, eps=1e-7)}


buggy, fixed = versions(_torch, _keras)
