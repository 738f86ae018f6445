"""Defects4ML bug 091 (mohmehmo/defects4ml ``bugs/091``, credited there to Stack Overflow question 56103207): a
small Keras CNN for 28x28 grayscale images of 5 classes. The data come from ``x.npy`` / ``y.npy`` and go straight to
``model.fit(x=x, y=y, batch_size=100, epochs=20, validation_split=0.2)``.

The fault (the data split): ``y.npy`` is sorted by class. Its 60,000 one-hot rows are 12,000 of class 0, then 12,000
of class 1, and so on up to class 4 (I checked this on the ``y.npy`` stored in the collection). Keras'
``validation_split`` takes the LAST 20 % of the arrays as the validation set before it shuffles anything; ``fit``'s
``shuffle=True`` only shuffles the other 80 %. So the program trains on classes 0-3 only and validates on class 4
only. No training image has label 4, so the softmax unit for class 4 is pushed down at every step and the model
learns a 4-class problem inside a 5-class head. The training loss and accuracy look healthy, yet the model can never
predict class 4: validation accuracy stays at 0. The collection's test_suite.py asserts a final val_accuracy
>= 0.85 for each script; the buggy one is meant to fail it.

Source: github.com/mohmehmo/defects4ml ``bugs/091/buggy/script.py`` and ``bugs/091/fixed/script.py`` (repository
snapshot d2d823d; conf.ini: "Because of skipping necessary preprocessing step (data shuffling), accuracy of the
model stays at near 0", bug_type "Missing preprocessing", url stackoverflow.com/questions/56103207, Keras 2.3.1 / TF
2.1.0; I could not read the question itself). The fixed script shuffles x and y together before ``fit``:
``p = np.random.permutation(len(x)); x = x[p]; y = y[p]`` (commented "# Shuffle the data!"). Nothing else changes.
Fault label: labels_imbalanced (the training split has no example at all of one of the 5 classes; every training
label is 0-3). The cause is the ordering plus the tail split.

Kept verbatim: the Sequential model (Conv2D(32, 5, relu) -> MaxPooling2D -> Conv2D(16, 3, relu) -> MaxPooling2D ->
Flatten -> Dense(128, relu) -> Dense(64, relu) -> Dense(5, softmax), ``data_format="channels_last"``), Keras
default initialisers, ``compile(optimizer="adam", loss="categorical_crossentropy")``, batch size 100, and the
class-sorted order of x / y. The split is Keras' ``validation_split=0.2`` semantics (the last 20 % before any shuffle
are held out). ``fit``'s per-epoch shuffle of the training part is reproduced by one seeded permutation of that part
when ``batches`` are cut. The fix's ``np.random.permutation`` uses ``np.random.RandomState(SEED)`` so that the
module is deterministic. Ported to Keras only: the fault is ``fit(validation_split=...)`` taking the tail of the
arrays. A torch program has no such argument and would have to slice by hand, so there is no faithful torch twin.

Shrunk: 1,200 images a class instead of 12,000 (6,000 in all, still sorted by class), so that building is quick.
The split is unchanged: 4,800 training images (classes 0-3) and 1,200 validation images (class 4) in the buggy
version. ``batches``: the 48 batches of 100 that one epoch of ``fit`` draws from the training part. ``batch``: the
first one. ``inputs``: the first 256 images of the validation part. In the buggy version these are all class 4,
because that is what the program holds out.
Data stand-in (x.npy is not in the collection's snapshot: its x.zip is missing; the question's images are
unknown): 28x28x1 float32 images in [0, 1], 5 classes. Each image is one of scikit-learn's 8x8 digits 0-4 (digit k
gives class k), blown up 3x3, placed on a 28x28 canvas shifted by -3..3 pixels in x and y, scaled by 0.6..1.0 and
given N(0, 0.08) noise, then clipped. Labels are one-hot float32 like y.npy, and the arrays are sorted by class.

Measured (my own plain runs, /tmp/s51/h79_d/measure.py, output in measure_out.txt; OMP_NUM_THREADS=1,
keras.utils.set_random_seed(0), TF backend, CPU):
  Program as written (``model.fit(x=x, y=y, batch_size=100, epochs=5, validation_split=0.2)`` on the module's 6,000
  sorted images; buggy = no permutation, fixed = the permutation first), per epoch 1-5:
    buggy  loss 0.906 0.262 0.165 0.111 0.077, accuracy 0.640 0.917 0.947 0.964 0.977,
           val_loss 28.6 30.6 28.4 28.0 27.6, val_accuracy 0.000 0.000 0.000 0.000 0.000
    fixed  loss 0.986 0.271 0.156 0.107 0.076, accuracy 0.669 0.910 0.948 0.967 0.976,
           val_loss 0.346 0.185 0.122 0.098 0.075, val_accuracy 0.892 0.936 0.959 0.967 0.970
  On a balanced held-out set drawn the same way (1,000 new images, 200 a class, other seed), after those 5 epochs:
    buggy  accuracy 0.778; recall per class 0.995 0.955 0.995 0.945 0.000; share of predictions that are class 4
           0.000; mean predicted probability of class 4 on class-4 images < 0.0001
    fixed  accuracy 0.974; recall per class 0.985 0.965 0.990 0.960 0.970; share of class-4 predictions 0.199;
           mean probability of class 4 on class-4 images 0.960
  The module's builds, trained with ``train_on_batch`` over their 48 ``batches`` for 2 passes (96 steps):
    training loss at step 1: buggy 1.599, fixed 1.620 (ln 5 = 1.609); means of 12-step blocks
    buggy 1.427 1.070 0.694 0.437 0.337 0.297 0.240 0.221, fixed 1.544 1.188 0.668 0.459 0.332 0.267 0.215 0.226.
    Both fall, the buggy one a little faster at first (it has a 4-class problem to solve). Afterwards, on its own
    ``inputs`` (256 held-out images): buggy accuracy 0.000 (all 256 are class 4; argmax counts over classes 0-4
    113 129 8 6 0, so it never predicts 4), fixed accuracy 0.938 (labels 50 53 55 56 42, argmax counts
    53 47 57 56 43). On the balanced set: buggy 0.743 with class-4 recall 0.000, fixed 0.926 with class-4 recall
    0.985. Label counts over the 48 batches: buggy 1200 1200 1200 1200 0, fixed 966 968 944 968 954.
  So the training loss alone looks healthy in both versions. The fault shows in the labels the batches carry (one
  class absent) and in a model that never predicts that class.
  Time (one core, taskset + TF_NUM_INTRAOP_THREADS=1): about 95 ms per ``train_on_batch`` step of 100 images
  (about 60 ms with two threads), so about 10 s per hundred steps. I kept the program's widths: halving the first
  Conv2D only brings it to 71 ms, most of the cost is TF's per-step overhead. Build: first about 20 s (TF and
  scikit-learn imports, 1 s of data), later under 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "labels_imbalanced"
SOURCE = ("defects4ml bugs/091 = stackoverflow.com/questions/56103207 (github:mohmehmo/defects4ml "
          "bugs/091/buggy/script.py vs bugs/091/fixed/script.py @d2d823d; fix: 'p = np.random.permutation(len(x)); "
          "x = x[p]; y = y[p]' before model.fit(..., validation_split=0.2) on class-sorted x.npy / y.npy)")
FRAMEWORKS = ("keras",)
NUM_CLASSES = 5
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("output_range", {"kind": "probabilities", "num_classes": NUM_CLASSES}),
          ("init_loss", {"num_classes": NUM_CLASSES})]

BATCH_SIZE = 100  # model.fit(..., batch_size=100, ...)
VALIDATION_SPLIT = 0.2  # model.fit(..., validation_split=0.2)
PER_CLASS = 1200  # the program's y.npy: 12,000 a class (shrunk 10x)
N_INPUTS = 256
SEED = 0


def _images(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(5 * n_per_class, 28, 28, 1) float32 in [0, 1] and one-hot (.., 5) float32, SORTED by class (0s, then 1s...)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    r = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(NUM_CLASSES):
        pool = d.images[d.target == c] / 16.0
        src = pool[r.integers(0, len(pool), n_per_class)]
        canvas = np.pad(np.kron(src, np.ones((1, 3, 3))), ((0, 0), (5, 5), (5, 5)))  # (n, 34, 34)
        dy, dx = r.integers(-3, 4, (2, n_per_class))  # shift each digit by -3..3 pixels (crop of the canvas)
        rows = (3 - dy)[:, None, None] + np.arange(28)[None, :, None]
        cols = (3 - dx)[:, None, None] + np.arange(28)[None, None, :]
        big = canvas[np.arange(n_per_class)[:, None, None], rows, cols]  # (n, 28, 28)
        big = big * r.uniform(0.6, 1.0, (n_per_class, 1, 1)) + r.normal(0, 0.08, big.shape)
        xs.append(np.clip(big, 0, 1))
        ys.append(np.full(n_per_class, c))
    x = np.concatenate(xs)[..., None].astype("float32")
    y = np.eye(NUM_CLASSES, dtype="float32")[np.concatenate(ys)]
    return x, y


@functools.lru_cache(maxsize=2)
def _data(shuffled: bool) -> dict[str, Any]:
    """What ``fit`` trains and validates on: the training part cut into one epoch's batches, the held-out part."""
    x, y = _images(PER_CLASS, SEED)  # x = np.load("./data/x.npy"); y = np.load("./data/y.npy")
    if shuffled:  # the fix
        # Shuffle the data!
        p = np.random.RandomState(SEED).permutation(len(x))
        x = x[p]
        y = y[p]
    split_at = int(len(x) * (1.0 - VALIDATION_SPLIT))  # Keras: validation data = the last 20 %, taken before shuffling
    x_tr, y_tr, x_val = x[:split_at], y[:split_at], x[split_at:]
    q = np.random.RandomState(SEED + 1).permutation(split_at)  # fit(shuffle=True) shuffles only the training part
    x_tr, y_tr = x_tr[q], y_tr[q]
    bs = [(x_tr[i:i + BATCH_SIZE], y_tr[i:i + BATCH_SIZE]) for i in range(0, split_at - BATCH_SIZE + 1, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x_val[:N_INPUTS]}


def _build(shuffled: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    from keras.models import Sequential

    keras.utils.set_random_seed(SEED)
    model = Sequential()
    model.add(Input(shape=(28, 28, 1)))  # Keras 3: input_shape= on the first layer becomes an Input
    model.add(Conv2D(filters=32, kernel_size=5, data_format="channels_last", activation="relu"))
    model.add(MaxPooling2D(data_format="channels_last"))
    model.add(Conv2D(filters=16, kernel_size=3, data_format="channels_last", activation="relu"))
    model.add(MaxPooling2D(data_format="channels_last"))

    model.add(Flatten(data_format="channels_last"))

    model.add(Dense(units=128, activation="relu"))
    model.add(Dense(units=64, activation="relu"))
    model.add(Dense(units=5, activation="softmax"))

    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return {"model": model, **_data(shuffled)}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(shuffled=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(shuffled=True)
