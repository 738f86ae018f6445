"""docTR's character-classification reference training script (TensorFlow), mindee/doctr
``references/classification/train_tensorflow.py`` with the ``mobilenet_v3_large`` backbone of
``doctr/models/backbones/mobilenet/tensorflow.py`` (``include_top=True``: GAP, Dense(1280, hard_swish),
Dropout(0.2), ``Dense(num_classes, activation='softmax')``), 123 classes (``VOCABS['french']``), 32x32
RGB character images. The training step is

    out = model(images, training=True)
    train_loss = tf.nn.softmax_cross_entropy_with_logits(targets[:, None], out)

with integer class ids as ``targets``: the one-hot-label loss gets a ``(B, 1)`` column of class ids,
which broadcasts over the 123 columns, so each sample's loss is ``-k * sum_j log_softmax(out)_j``
(k its class id) -- the label only scales the loss (class 0 gives no loss at all) and the gradient
pushes every output towards the same uniform distribution instead of towards the right class; on top
of that ``out`` is already a softmax, so the "logits" are probabilities squashed a second time.
Training runs and the loss moves, but the classifier learns nothing about the classes.

Source: github.com/mindee/doctr PR #420 "fix: tf mobilenet classification head + loss classifier"
(merged; "removed the last softmax included in the loss ... tf.nn.softmax_ce is designed for one-hot
labels ... whereas tf.nn.sparse_softmax_ce is designed for a unique class for each entry"), fix commit
ec79733752bbd4ced1640c06b09c4b221b804686; program at ec7973375^: ``references/classification/
train_tensorflow.py`` (Adam with ``ExponentialDecay(lr=1e-3, decay_steps=epochs * len(train_loader),
decay_rate=1 / 25e4)``, ``beta_1=0.95, beta_2=0.99, epsilon=1e-6``; batch size 64; input size 32;
``T.Normalize(mean=(0.694, 0.695, 0.693), std=(0.299, 0.296, 0.301))`` as batch transform;
``tape.gradient`` of the per-sample loss vector, i.e. the gradient of its sum),
``doctr/models/backbones/mobilenet/tensorflow.py`` (MobileNetV3, ``InvertedResidualConfig`` table of
``mobilenet_v3_large``, ``hard_swish``, ``SqueezeExcitation``), ``doctr/models/utils/tensorflow.py``
(``conv_sequence``: he_normal Conv2D without bias, BatchNormalization, activation),
``doctr/datasets/classification/base.py`` (``synthesize_char_img``: white character on black 32x32,
drawn at (4, 0); target ``index % len(vocab)``).
Ported minimally: the subclassed TF2 ``Sequential`` layers to a Keras 3 functional model; the
depth-wise ``Conv2D(groups=expanded_channels)`` of ``conv_sequence`` as ``DepthwiseConv2D`` (the same
operation; grouped Conv2D is not run on CPU by TensorFlow); Keras 3's ``hard_sigmoid`` (relu6(x+3)/6)
in the SE block. The custom ``GradientTape`` step is kept as the compiled loss: the buggy loss is
``tf.nn.softmax_cross_entropy_with_logits`` with the broadcast ``(B, 1)`` labels written with
``keras.ops`` (``-sum_j k * log_softmax(out)_j``, checked equal to the TF op), summed over the batch
(``reduction="sum"``, as the tape's gradient of the loss vector).
Data stand-in: the 123 French-vocabulary characters rendered with ``synthesize_char_img`` (Pillow's
bundled default font instead of FreeMono.ttf; it has no glyph for the 28 accented letters and
currency signs, which it draws all alike, so those are drawn as their base letter (NFD) or a
stand-in letter with the character's code point as a row of dots on top: every class a distinct
image, as FreeMono draws them), 64 samples a batch of seeded random classes, the
``RandomApply(ColorInversion(), .7)`` augmentation kept (JPEG quality, saturation, contrast and
brightness jitter left out), images in [0, 1] then the script's Normalize.
My loop (100 plain training steps over 4 batches): buggy summed loss flat at ~2.36e6, training-mode
accuracy on those batches 0-3%; fixed loss 317 -> ~26 (summed over 64), accuracy ~80%.
Fault label: loss_mismatch|output_activation. Fix (ec79733): ``layers.Dense(num_classes)`` (logits)
and ``tf.nn.sparse_softmax_cross_entropy_with_logits(targets, out)``.
Keras only: the broadcast of a ``(B, 1)`` class-id column as a one-hot target is TensorFlow's
``softmax_cross_entropy_with_logits``; torch's ``cross_entropy`` with probability targets rejects a
``(B, 1)`` target of a ``(B, C)`` input.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:mindee/doctr PR #420 (references/classification/train_tensorflow.py@ec7973375^, fix ec79733)"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

vocab = (string.digits + string.ascii_letters + string.punctuation + '°' + 'àâéèêëîïôùûçÀÂÉÈËÎÏÔÙÛÇ'
         + '£€¥¢฿')  # VOCABS['french']
batch_size = 64
input_size = 32
lr = 0.001
epochs = 10
mean = (0.694, 0.695, 0.693)
std = (0.299, 0.296, 0.301)


def synthesize_char_img(char: str, size: int = 32):
    """docTR's ``synthesize_char_img`` (Pillow's default font in place of FreeMono.ttf)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new('RGB', (size, size), color=(0, 0, 0))
    d = ImageDraw.Draw(img)
    if char.isascii():
        d.text((4, 0), char, font=ImageFont.load_default(size=size), fill=(255, 255, 255))
        return img
    # no glyph in the default font (see docstring): the base letter, and the code point's bits as dots
    base = unicodedata.normalize("NFD", char)[0]
    d.text((4, 4), base if base.isascii() else "$", font=ImageFont.load_default(size=size - 6), fill=(255, 255, 255))
    for bit in range(12):
        if ord(char) >> bit & 1:
            d.rectangle((2 + 2 * bit, 0, 3 + 2 * bit, 1), fill=(255, 255, 255))
    return img


def _batches(n_batches: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    cache = np.stack([np.asarray(synthesize_char_img(c), dtype="float32") / 255.0 for c in vocab])
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_batches):
        targets = rng.integers(0, len(vocab), batch_size)
        images = cache[targets].copy()
        invert = rng.random(batch_size) < 0.7  # RandomApply(ColorInversion(), .7)
        images[invert] = 1.0 - images[invert]
        images = (images - np.array(mean, "float32")) / np.array(std, "float32")  # T.Normalize
        out.append((images.astype("float32"), targets.astype("int32")))
    return out


def _build(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    def hard_swish(x):
        return x * ops.relu6(x + 3.) / 6.0

    def _make_divisible(v, divisor, min_value=None):
        if min_value is None:
            min_value = divisor
        new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
        if new_v < 0.9 * v:
            new_v += divisor
        return new_v

    def conv_sequence(x, out_channels, activation=None, kernel_size=1, strides=1, depthwise=False):
        if depthwise:  # Conv2D(groups=expanded_channels)
            x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding='same', use_bias=False,
                                       depthwise_initializer='he_normal')(x)
        else:
            x = layers.Conv2D(out_channels, kernel_size, strides=strides, padding='same', use_bias=False,
                              kernel_initializer='he_normal')(x)
        x = layers.BatchNormalization()(x)
        if activation is not None:
            x = layers.Activation(activation)(x)
        return x

    def squeeze_excitation(x, chan, squeeze_factor=4):
        s = layers.GlobalAveragePooling2D()(x)
        s = layers.Dense(chan // squeeze_factor, activation='relu')(s)
        s = layers.Dense(chan, activation='hard_sigmoid')(s)
        s = layers.Reshape((1, 1, chan))(s)
        return layers.Multiply()([x, s])

    # mobilenet_v3_large: (input, kernel, expanded, out, use_se, activation, stride)
    layout = [
        (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
        (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
        (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
        (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
        (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
    ]
    head_chans = 1280

    inp = keras.Input((input_size, input_size, 3))
    x = conv_sequence(inp, _make_divisible(layout[0][0], 8), hard_swish, kernel_size=3, strides=2)  # stem
    for cin, k, exp, cout, use_se, act, stride in layout:  # InvertedResidual
        cin, exp, cout = (_make_divisible(c, 8) for c in (cin, exp, cout))
        act_fn = hard_swish if act == "HS" else 'relu'
        h = x
        if exp != cin:
            h = conv_sequence(h, exp, act_fn, kernel_size=1)
        h = conv_sequence(h, exp, act_fn, kernel_size=k, strides=stride, depthwise=True)
        if use_se:
            h = squeeze_excitation(h, exp)
        h = conv_sequence(h, cout, None, kernel_size=1)
        x = layers.Add()([h, x]) if (stride == 1 and cin == cout) else h
    x = conv_sequence(x, 6 * layout[-1][3], hard_swish, kernel_size=1)  # final_block
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(head_chans, activation=hard_swish)(x)
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(len(vocab), activation=None if fixed else 'softmax')(x)
    model = keras.Model(inp, out)

    class BroadcastSoftmaxCE(keras.losses.Loss):
        """``tf.nn.softmax_cross_entropy_with_logits(targets[:, None], out)``."""

        def call(self, y_true, y_pred):
            labels = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))  # targets[:, None]
            return -ops.sum(labels * ops.log_softmax(y_pred, axis=-1), axis=-1)

    class SparseSoftmaxCE(keras.losses.Loss):
        """``tf.nn.sparse_softmax_cross_entropy_with_logits(targets, out)``."""

        def call(self, y_true, y_pred):
            return keras.losses.sparse_categorical_crossentropy(
                ops.reshape(y_true, (-1,)), y_pred, from_logits=True)

    loss = SparseSoftmaxCE(reduction="sum") if fixed else BroadcastSoftmaxCE(reduction="sum")
    steps_per_epoch = 1000 * len(vocab) // batch_size  # train_set: num_samples=1000 * len(vocab), drop_last
    scheduler = keras.optimizers.schedules.ExponentialDecay(
        lr, decay_steps=epochs * steps_per_epoch, decay_rate=1 / (25e4), staircase=False)
    optimizer = keras.optimizers.Adam(learning_rate=scheduler, beta_1=0.95, beta_2=0.99, epsilon=1e-6)
    model.compile(optimizer=optimizer, loss=loss)
    batches = _batches()
    return {"model": model, "batch": batches[0], "batches": batches}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
