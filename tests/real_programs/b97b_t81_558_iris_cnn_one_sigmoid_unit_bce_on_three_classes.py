"""jeffheaton/t81_558_deep_learning (Jeff Heaton's "Applications of Deep Neural Networks" course, Washington
University in St. Louis), ``t81_558_class_06_2_cnn.ipynb``, section "Classification Neural Networks": photos of three
iris species (``iris-image.zip``: directories iris-setosa, iris-versicolour, iris-virginica, "Found 421 images
belonging to 3 classes") are read with ``ImageDataGenerator(rescale = 1./255, horizontal_flip=True,
vertical_flip=True, width_shift_range=[-200,200], rotation_range=360, fill_mode='nearest')`` and
``flow_from_directory(directory=SOURCE, target_size=(256, 256), class_mode='categorical', batch_size=32,
shuffle=True)``, so every target is a one-hot row of width 3. The network: five Conv2D(3x3, relu) + MaxPooling2D(2, 2)
stages of 16 / 32 / 64 / 64 / 64 filters (Dropout(0.5) after the 2nd and 3rd convolution), Flatten, Dropout(0.5),
Dense(512, relu), then ``tf.keras.layers.Dense(1, activation='sigmoid')`` under the comment "Only 1 output neuron.
It will contain a value from 0-1"; ``model.compile(loss = 'binary_crossentropy', optimizer='adam')``;
``model.fit(train_generator, epochs=15, steps_per_epoch=10)``.

The fault: a three-class problem trained through a head of ONE sigmoid unit with a binary loss. The single
probability p is broadcast against the three one-hot columns, so each image's loss is the mean over the three
columns of the binary cross-entropy of (y_j, p). Whatever the image, exactly one column is 1, so that loss is
-(1/3) log p - (2/3) log(1 - p), minimised by p = 1/3 for every image: the loss itself rewards ignoring the input.
The model can only learn the constant 1/3 (the loss floor -(1/3 ln 1/3 + 2/3 ln 2/3) = 0.6365), one output column
carries no class at all, and any argmax prediction is class 0. Nothing raises. The notebook's own printed run shows
exactly that: loss 0.7495, 0.6426, 0.6400, 0.6380, ... 0.6368, 0.6367 over the 15 epochs, a plateau at the floor.

Source: github.com/jeffheaton/t81_558_deep_learning ``t81_558_class_06_2_cnn.ipynb`` at
ec33dd077a998d981f03c3a65a38183284d8cfdb (= b7ced49^; the classification cell was added in f26ea44 "Reworking some
of module 6", 2021-11-28), fixed by b7ced49830c610cf4cafc609f47fa69c113988b4 (2022-03-01) "Fixed equations, and
switched to softmax.": ``class_count = len(train_generator.class_indices)``, the head becomes
``tf.keras.layers.Dense(class_count, activation='softmax')`` and the loss ``'categorical_crossentropy'`` (the same
commit also raised the epochs to 50, not ported: the builders do not train).
Fault label: head_width|loss_mismatch|output_activation (one sigmoid unit and a binary cross-entropy for
single-label three-class one-hot targets; the fix changes the width, the activation and the loss together).

Program lines kept: the layer stack layer for layer with its widths, kernel sizes, pools, dropouts and comments, the
buggy ``Dense(1, activation='sigmoid')`` / fixed ``Dense(class_count, activation='softmax')`` heads,
``optimizer='adam'`` (Keras defaults), batch size 32, one-hot targets, the augmentation parameters and
``rescale = 1./255`` of the training generator (run through Keras' legacy ``ImageDataGenerator`` itself). Buggy and
fixed differ only by head and loss.
Shrunk / replaced (and why):
  - images 256 x 256 -> 32 x 32 (speed: at 256 one step of batch 32 took ~4.8 s on one core, at 96 still ~0.5 s);
    to let the five 3x3-conv / 2x2-pool stages fit 32 pixels the convolutions get ``padding='same'`` (the notebook
    used the default 'valid'); the width shift of +-200 px is scaled to +-25 px (the same 78 % of the width).
  - ``loss='binary_crossentropy'``: the tf.keras 2 of the notebook's run broadcast the (32, 1) output against the
    (32, 3) targets without complaint; Keras 3 raises "Arguments `target` and `output` must have the same shape",
    so the buggy model is compiled with ``binary_crossentropy_tf2``, which computes what the string computed then
    (elementwise clipped binary cross-entropy with broadcasting, mean over the last axis). The fixed model uses the
    string ``'categorical_crossentropy'``.
  - Ported: Keras only. A PyTorch version of this program would not train silently: ``nn.BCELoss`` /
    ``F.binary_cross_entropy`` reject an input of size (32, 1) against a target of size (32, 3) with an error, so
    there is no faithful torch twin of a fault that lives in Keras' silent broadcasting.
Data stand-in (no iris-image.zip download): seeded synthetic close-up "iris photos", 32 x 32 x 3 uint8: three petals
(and three narrower sepals between them) radiating from a yellow centre placed at random in the frame and reaching
past its edges, over noisy green foliage; the species sets the petal colour (blue-violet / magenta-violet / dark
purple, with per-image jitter) and the petal width. 421 training photos (class ids in shuffled order, 141 / 138 /
142 per class) plus 128 held-out ones. ``batches``: 40 distinct batches of 32 drawn as the shuffled generator draws
them (every image through the program's random flips, rotation in [-360, 360] degrees, width shift of +-25 px with
nearest fill, then /255; float32 in [0, 1], one-hot float32 targets); ``batch``: the first; ``inputs``: the 128
held-out photos through the validation generator (rescale only). A logistic regression on per-channel means and
stds separates the classes at 0.94 on the augmented training draws and 0.96 on the held-out photos, so the images
do determine the targets.

Measured (my own plain loop, /tmp/s57/p/b97b/measure.py on the module's builds: ``train_on_batch`` over the 40
batches in order, 150 steps = the notebook's 15 epochs x 10 steps; seed 0, one CPU thread):
  loss on ``batch`` at initialisation: buggy 0.6894 (p = 0.494 for every image), fixed 1.0989 (= ln 3).
  training loss, means of 10-step blocks (steps 0-9, 10-19, ..., 140-149):
    buggy 0.6486 0.6403 0.6385 0.6381 0.6376 0.6374 0.6373 0.6371 0.6370 0.6369 0.6368 0.6368 0.6367 0.6367 0.6366
      (the notebook: 0.7495 -> 0.6367; the floor is 0.6365);
    fixed 1.1060 1.0954 1.0587 1.0087 0.8318 0.8493 0.7252 0.7420 0.5777 0.5319 0.3308 0.3592 0.2832 0.1972 0.1653.
  after 150 steps: buggy output on the 128 held-out photos 0.3605 on average for each of the three true classes
    (std across inputs 0.0002: the output ignores the image), argmax accuracy 0.335 on the 1,280 training draws /
    0.328 held-out (always class 0); fixed argmax accuracy 0.835 / 0.883, held-out categorical cross-entropy 0.327.
  one batch repeated 100 times (a fresh build): buggy loss 0.6796 / 0.6413 / 0.6375 / 0.6368 at steps 1 / 10 / 50 /
    100, batch accuracy 0.375 (the share of class 0 in it); fixed 1.0959 / 1.0265 / 0.4541 / 0.0027, accuracy 1.0.
  Time per step (batch 32, one thread, shared machine): ~80-125 ms, ~8-12 s per hundred steps; first build
    ~17-25 s (TensorFlow import and the 1,280 augmentations), later builds ~0.5 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "head_width|loss_mismatch|output_activation"
SOURCE = ("github:jeffheaton/t81_558_deep_learning t81_558_class_06_2_cnn.ipynb 'Classification Neural Networks' "
          "(iris-image flow_from_directory(class_mode='categorical') into Dense(1, activation='sigmoid') with "
          "loss='binary_crossentropy') @b7ced49830c610cf4cafc609f47fa69c113988b4^; fix "
          "b7ced49830c610cf4cafc609f47fa69c113988b4 'Fixed equations, and switched to softmax': "
          "Dense(class_count, activation='softmax') + loss='categorical_crossentropy'")
FRAMEWORKS = ("keras",)

NUM_CLASSES = 3  # iris-setosa, iris-versicolour, iris-virginica
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": NUM_CLASSES}),
          ("output_range", {"kind": "probabilities", "num_classes": NUM_CLASSES}),
          ("not_constant_predictions", {})]

# the notebook
BATCH_SIZE = 32
N_IMAGES = 421  # "Found 421 images belonging to 3 classes."
# shrunk: target_size (256, 256) -> (32, 32); width_shift_range [-200, 200] px scaled with it
SIZE = 32
SHIFT = 25  # 200 / 256 * 32
# stand-in
N_BATCHES = 40
N_INPUTS = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _flower(r: np.random.Generator, c: int) -> np.ndarray:
    """One close-up 'iris' photo, (SIZE, SIZE, 3) uint8: three petals (and three narrower sepals between them)
    radiating from a yellow centre somewhere in the frame, filling it, over green foliage. The species sets the
    petal colour and the petal width (each drawn with jitter)."""
    base = np.array([[125, 125, 215], [170, 85, 195], [95, 55, 150]], "float64")[c]
    width = (0.55, 0.35, 0.15)[c]  # cos threshold: lower = wider petals
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float64")
    cy, cx = r.uniform(6, SIZE - 6, 2)
    rad = np.hypot(yy - cy, xx - cx)
    th = np.arctan2(yy - cy, xx - cx) + r.uniform(0, 2 * np.pi)
    reach = r.uniform(0.8, 1.3) * SIZE
    petal = (np.cos(3 * th) > width + r.uniform(-0.08, 0.08)) & (rad < reach)
    sepal = (np.cos(3 * th + np.pi) > width + 0.35) & (rad < 0.6 * reach)
    img = np.empty((SIZE, SIZE, 3))
    img[:] = np.array([60, 120, 50]) + r.normal(0, 12, 3)  # foliage
    col = base + r.normal(0, 12, 3)
    shade = (1.0 - 0.25 * rad / SIZE)[..., None]
    img[petal | sepal] = (col * shade[petal | sepal]) * np.where(sepal[petal | sepal], 0.8, 1.0)[:, None]
    img[rad < 2.5] = np.array([230, 200, 60])  # centre
    img += r.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype("uint8")


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 421 "photos" of the three species (class ids 0, 1, 2 as flow_from_directory numbers the directories,
    in shuffled order) and N_INPUTS more, held out."""
    r = np.random.default_rng(SEED)
    n = N_IMAGES + N_INPUTS
    y = np.arange(n) % NUM_CLASSES
    r.shuffle(y)
    x = np.stack([_flower(r, int(c)) for c in y])
    return x[:N_IMAGES], y[:N_IMAGES], x[N_IMAGES:], y[N_IMAGES:]


@functools.lru_cache(maxsize=1)
def _train_pool() -> tuple[np.ndarray, np.ndarray]:
    """N_BATCHES x BATCH_SIZE draws of the notebook's training generator: flow_from_directory(shuffle=True,
    class_mode='categorical') -> one-hot float32 targets; each image through the program's random augmentation
    (flips, rotation_range=360, width shift of +-200 px of 256 -> +-25 of 32, fill_mode='nearest') and
    rescale=1./255."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator  # tf.keras.preprocessing.image in TF 2

    training_datagen = ImageDataGenerator(
        rescale=1. / 255,
        horizontal_flip=True,
        vertical_flip=True,
        width_shift_range=[-SHIFT, SHIFT],
        rotation_range=360,
        fill_mode='nearest')
    x0, y0, _, _ = _images()
    r = np.random.default_rng(SEED + 1)
    idx = np.concatenate([r.permutation(N_IMAGES) for _ in range(-(-N_BATCHES * BATCH_SIZE // N_IMAGES))])
    idx = idx[:N_BATCHES * BATCH_SIZE]
    seeds = r.integers(0, 2 ** 31 - 1, len(idx))
    x = np.stack([training_datagen.standardize(training_datagen.random_transform(x0[i].astype("float32"),
                                                                                 seed=int(s)))
                  for i, s in zip(idx, seeds)]).astype("float32")
    return x, np.eye(NUM_CLASSES, dtype="float32")[y0[idx]]


@functools.lru_cache(maxsize=1)
def _heldout() -> tuple[np.ndarray, np.ndarray]:
    """Held-out photos through the validation generator: rescale=1./255 only."""
    _, _, xh, yh = _images()
    return (xh.astype("float32") / 255.0), np.eye(NUM_CLASSES, dtype="float32")[yh]


def _common() -> dict[str, Any]:
    x, y = _train_pool()
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": _heldout()[0]}


# ----------------------------------------------------------------------------------------------------------- keras

def binary_crossentropy_tf2(y_true: Any, y_pred: Any) -> Any:
    """loss='binary_crossentropy' as the notebook's tf.keras 2 run computed it on this model: the binary
    cross-entropy of the probability taken elementwise, the (batch, 1) sigmoid output broadcast against the
    (batch, 3) one-hot target, then the mean over the last axis (backend.binary_crossentropy on a clipped
    probability inside losses.binary_crossentropy). The notebook ran it without an error and its printed loss
    settles at this function's floor, 0.6365. Keras 3 raises on the shape mismatch, hence this stand-in for the
    string."""
    from keras import config, ops

    eps = config.epsilon()
    p = ops.clip(y_pred, eps, 1.0 - eps)
    bce = y_true * ops.log(p + eps) + (1.0 - y_true) * ops.log(1.0 - p + eps)
    return ops.mean(-bce, axis=-1)


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    class_count = NUM_CLASSES  # len(train_generator.class_indices)
    if fixed:  # b7ced49
        head = keras.layers.Dense(class_count, activation='softmax')
    else:
        # Only 1 output neuron. It will contain a value from 0-1
        head = keras.layers.Dense(1, activation='sigmoid')
    # padding='same' added (not in the notebook) so that the five conv / pool stages fit the shrunk 32 x 32 input
    model = keras.models.Sequential([
        keras.Input(shape=(SIZE, SIZE, 3)),
        # This is the first convolution
        keras.layers.Conv2D(16, (3, 3), activation='relu', padding='same'),
        keras.layers.MaxPooling2D(2, 2),
        # The second convolution
        keras.layers.Conv2D(32, (3, 3), activation='relu', padding='same'),
        keras.layers.Dropout(0.5),
        keras.layers.MaxPooling2D(2, 2),
        # The third convolution
        keras.layers.Conv2D(64, (3, 3), activation='relu', padding='same'),
        keras.layers.Dropout(0.5),
        keras.layers.MaxPooling2D(2, 2),
        # The fourth convolution
        keras.layers.Conv2D(64, (3, 3), activation='relu', padding='same'),
        keras.layers.MaxPooling2D(2, 2),
        # The fifth convolution
        keras.layers.Conv2D(64, (3, 3), activation='relu', padding='same'),
        keras.layers.MaxPooling2D(2, 2),
        # Flatten the results to feed into a DNN
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        # 512 neuron hidden layer
        keras.layers.Dense(512, activation='relu'),
        head,
    ])
    model.compile(loss='categorical_crossentropy' if fixed else binary_crossentropy_tf2, optimizer='adam')
    return {"model": model, **_common()}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(True)
