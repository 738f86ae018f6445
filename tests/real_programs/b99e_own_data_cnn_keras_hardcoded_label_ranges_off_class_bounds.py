"""anujshah1003/own_data_cnn_implementation_keras ("a complete tutorial on using own dataset to train a CNN from
scratch in Keras", with a three-part video series): ``custom_data_cnn.py`` loads four folders of photos under
``data/`` (cats, dogs, horses, Humans; ``os.listdir`` order, every image ``cv2.imread`` -> grey -> ``cv2.resize``
to 128 x 128 -> float32 / 255, channels-first), then assigns the class ids by hard-coded index ranges over the
concatenated array, one-hot encodes them with ``np_utils.to_categorical(labels, num_classes)`` (num_classes = 4),
``shuffle(img_data, Y, random_state=2)``, ``train_test_split(x, y, test_size=0.2, random_state=2)`` and trains
Conv(32, 3x3, same) - ReLU - Conv(32, 3x3) - ReLU - MaxPool 2 - Dropout 0.5 - Conv(64, 3x3) - ReLU - MaxPool 2 -
Dropout 0.5 - Flatten - Dense(64) - ReLU - Dropout 0.5 - Dense(4) - softmax with
``model.compile(loss='categorical_crossentropy', optimizer='rmsprop')``, ``fit(batch_size=16, nb_epoch=20)``.

The fault (the labels do not follow the classes): each of the four folders holds 202 images, so the class
boundaries in the concatenated array are at 202, 404 and 606, but the buggy script wrote ``labels[0:102]=0``,
``labels[102:204]=1``, ``labels[204:606]=2``, ``labels[606:]=3``. Only the humans block is right. Half of the cats
(indices 102-201) are given the dogs' id 1 together with two dogs; the other 200 dogs are given the horses' id 2, so
id 2 covers dogs and horses (402 images) and no id at all stands for "dog". The labels are in range and the arrays
have the right shapes, so Keras trains without complaint; what it fits is a mapping in which the first and second
halves of one class (cats split arbitrarily by file order) must get different outputs and two classes must get the
same one. The network can only memorise the cat split, cannot tell dogs from horses because it is never asked to,
and the validation split (drawn from the same mislabelled array) reports accuracy against the wrong labels. Fixed by
the author in ecb4275 "corrected the labeling of data in line 129-132": ``labels[0:202]=0``, ``labels[202:404]=1``,
``labels[404:606]=2``, ``labels[606:]=3``; a year later the tutorial's ``updated_custom_data_cnn.py`` (f7f8da90
"better way of assigning labels to classes") dropped the index ranges for a folder-name -> id dict.

Source: github.com/anujshah1003/own_data_cnn_implementation_keras ``custom_data_cnn.py`` at
dcb7bd7d7994a8a6b5ad8e9f5a18393f84cd2be8 (= ecb4275^, the file as of deab5a4); fixed by
ecb4275db1a9ac460ad337dcf4a1bd917b742670 "corrected the labeling of data in line 129-132" (only those four lines
change). Related later: issue #4 "Mislabelling" (os.listdir order vs the names list) and f7f8da90.
Fault label: label_mapping_mismatch (the sample -> class-id assignment disagrees with the data's classes: half of
one class and all of another carry a different class's id; every id stays in range, so nothing raises).

Program lines kept: the four ``labels[...]=...`` lines of each version verbatim, ``labels = np.ones((num_of_samples,),
dtype='int64')``, ``to_categorical(labels, num_classes)``, ``shuffle(img_data, Y, random_state=2)``,
``train_test_split(x, y, test_size=0.2, random_state=2)``, the layer stack (widths 32 / 32 / 64 / 64 / 4, the three
Dropout(0.5), softmax head), categorical cross-entropy, RMSprop with Keras' defaults, batch size 16.
Shrunk: the images are 32 x 32 instead of 128 x 128 (the script's ``cv2.resize(input_img, (128, 128))``): at 128 x
128 one step of batch 16 took ~1.2 s (Keras) / ~0.8 s (torch) on one CPU thread; at 32 x 32 it is ~50 / ~65 ms.
The Flatten then gives 64 x 6 x 6 instead of 64 x 30 x 30 features; no width or depth changed.
Ported: Keras 1 -> Keras 3 (``Conv2D(32, (3, 3), padding="same")`` for ``Convolution2D(32, 3, 3,
border_mode='same')``, ``keras.utils.to_categorical``); channels-last (N, 32, 32, 1) instead of Theano's channels-first
(Keras 3's TensorFlow convolutions on CPU are NHWC). Torch twin: the same stack with ``nn.Conv2d`` / ``nn.Linear``
given Keras' Glorot-uniform kernels and zero biases, ``nn.Softmax`` at the end, the loss Keras' categorical
cross-entropy on those probabilities (clipped to [1e-7, 1 - 1e-7]) against the one-hot rows, ``torch.optim.RMSprop(lr
=1e-3, alpha=0.9, eps=1e-7)`` (Keras' RMSprop defaults); input (N, 1, 32, 32).
Data stand-in (the repository's data.zip is not fetched): four "folders" of 202 grey 32 x 32 images each, in the
order the script's ``names`` list assumes (cats, dogs, horses, humans), each class one of scikit-learn's 8 x 8
digits 0 / 1 / 2 / 3 blown up 4 x 4 (drawn with replacement from the ~180 of that digit), shifted by -2..2 pixels,
scaled by 0.6..1.0, N(0, 20) pixel noise added, clipped to 0..255, uint8 -> float32 / 255 as in the script.
Within a folder the images are in random (file) order, so the cats at 0-101 and at 102-201 look alike, as two halves
of a folder of photos do. ``batches``: the first 40 batches of 16 of X_train (646 images); ``batch``: the first;
``baseline_batch``: the first 64 of X_train; ``inputs``: X_test (162 images).

Measured (/tmp/s58/p/b99e/measure.py, my own plain loop on the module's builds: 20 epochs over X_train as ``fit``
does, reshuffled each epoch with numpy seed 0, batch 16, 41 steps an epoch = 820 steps, Dropout on; SEED 0,
OMP_NUM_THREADS=1). "prog" = accuracy against the labels the program trains on (what its Keras log shows), "true" =
against the stand-in's real classes:
  epoch-mean training loss after epochs 1 / 2 / 5 / 10 / 15 / 20:
    Keras buggy 0.991 0.647 0.409 0.291 0.240 0.216    fixed 0.991 0.521 0.265 0.163 0.084 0.045
    torch buggy 0.968 0.604 0.377 0.281 0.251 0.236    fixed 1.002 0.540 0.286 0.154 0.130 0.073
  after epoch 20, train acc prog / true, val (X_test, 162) acc prog / true:
    Keras buggy 0.906 / 0.594, 0.864 / 0.599          fixed 1.000 / 1.000, 0.963 / 0.963
    torch buggy 0.913 / 0.611, 0.852 / 0.623          fixed 0.980 / 0.980, 0.951 / 0.951
  (buggy true val accuracy over epochs 1 / 2 / 5 / 10 / 15 / 20: Keras 0.61 0.50 0.66 0.72 0.69 0.60, torch 0.67
  0.69 0.67 0.72 0.68 0.62: it never rises towards the fixed model's 0.85 -> 0.96.)
  X_test predictions by real class (rows cats / dogs / horses / humans, columns predicted id 0-3), epoch 20:
    Keras buggy [[19, 22, 0, 0], [0, 0, 40, 0], [0, 0, 33, 0], [0, 0, 3, 45]]: every dog is called a horse and the
      cats are split about evenly between "cat" and "dog" (a coin flip the labels demand);
    Keras fixed [[41, 0, 0, 0], [0, 36, 3, 1], [0, 0, 33, 0], [0, 0, 2, 46]]; torch alike (buggy [[22, 19, 0, 0],
      [0, 0, 40, 0], [0, 0, 33, 0], [0, 0, 2, 46]]).
  Loss at initialisation on the module's ``batch``: Keras 1.372 both, torch buggy 1.334 / fixed 1.392 (~ln 4).
  So the buggy program trains smoothly and its own log looks fine (loss falling, val accuracy 0.85-0.86 against
  its labels): the fault shows as a training loss that stalls near 0.22 (~ the ln 2 x 25 % the arbitrary cat split
  costs) instead of going to ~0.05, a training accuracy stuck near 0.91 (the split caps a model that does not
  memorise at 1 - 100/808 = 0.876), and a model that on the real classes is right only ~60 % of the time.
  Train-label agreement with the real classes: buggy 62 % of X_train, fixed 100 %.
  Time (batch 16, one thread): Keras ~60-75 ms a step, torch ~110-135 ms (two runs sharing the machine); first build
  ~15 s (TensorFlow import), later builds < 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "label_mapping_mismatch"
SOURCE = ("github:anujshah1003/own_data_cnn_implementation_keras custom_data_cnn.py@"
          "dcb7bd7d7994a8a6b5ad8e9f5a18393f84cd2be8 (labels[0:102]=0 / labels[102:204]=1 / labels[204:606]=2 "
          "over four folders of 202 images); fix ecb4275db1a9ac460ad337dcf4a1bd917b742670 'corrected the labeling "
          "of data in line 129-132': labels[0:202]=0 / [202:404]=1 / [404:606]=2 / [606:]=3")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("input_independent_baseline", {}),
          ("output_range", {"kind": "probabilities"})]

PER_CLASS = 202  # images in each of the four data/ folders (the fixed ranges' boundaries)
IMG = 32  # the script resizes to 128 x 128; shrunk to 32 x 32 (see the docstring)
num_classes = 4
BATCH_SIZE = 16
N_BATCHES = 40
N_BASELINE = 64
SEED = 0


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    """The concatenated ``img_data`` (808, 32, 32) float32 in [0, 1], folder by folder, and each image's real class."""
    from sklearn.datasets import load_digits

    d = load_digits()
    r = np.random.default_rng(SEED)
    imgs, true = [], []
    for c in range(num_classes):  # cats, dogs, horses, humans <- digits 0, 1, 2, 3
        pool = np.flatnonzero(d.target == c)
        for s in r.choice(pool, PER_CLASS, replace=True):
            im = np.kron(d.images[s], np.ones((4, 4))) * (255.0 / 16.0)
            dy, dx = r.integers(-2, 3, 2)
            im = np.roll(np.roll(im, dy, 0), dx, 1) * r.uniform(0.6, 1.0) + r.normal(0, 20, im.shape)
            imgs.append(np.clip(im, 0, 255).astype("uint8"))
            true.append(c)
    img_data = np.array(imgs).astype("float32")
    img_data /= 255
    return img_data, np.array(true, "int64")


def _labels(fixed: bool, num_of_samples: int) -> np.ndarray:
    labels = np.ones((num_of_samples,), dtype='int64')
    if fixed:  # ecb4275
        labels[0:202]=0
        labels[202:404]=1
        labels[404:606]=2
        labels[606:]=3
    else:
        labels[0:102]=0
        labels[102:204]=1
        labels[204:606]=2
        labels[606:]=3
    return labels


@functools.lru_cache(maxsize=2)
def split(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, X_test (N, 32, 32) and their one-hot y as the program builds them, plus the real classes of each."""
    from sklearn.model_selection import train_test_split
    from sklearn.utils import shuffle

    img_data, true = _images()
    labels = _labels(fixed, img_data.shape[0])
    Y = np.eye(num_classes, dtype="float32")[labels]  # np_utils.to_categorical(labels, num_classes)
    x, y, t = shuffle(img_data, Y, true, random_state=2)  # the real classes ride along (not in the program)
    X_train, X_test, y_train, y_test, t_train, t_test = train_test_split(x, y, t, test_size=0.2, random_state=2)
    return X_train, X_test, y_train, y_test, t_train, t_test


def _common(fixed: bool, channels_first: bool) -> dict[str, Any]:
    X_train, X_test, y_train, _, _, _ = split(fixed)
    ax = 1 if channels_first else 3
    xtr, xte = np.expand_dims(X_train, ax), np.expand_dims(X_test, ax)
    bs = [(xtr[i:i + BATCH_SIZE], y_train[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": xte,
            "baseline_batch": (xtr[:N_BASELINE], y_train[:N_BASELINE])}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def glorot(layer: Any) -> Any:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    f = (IMG - 2) // 2  # 15
    f = (f - 2) // 2  # 6
    model = nn.Sequential(
        glorot(nn.Conv2d(1, 32, 3, padding=1)), nn.ReLU(),
        glorot(nn.Conv2d(32, 32, 3)), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5),
        glorot(nn.Conv2d(32, 64, 3)), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5),
        nn.Flatten(), glorot(nn.Linear(64 * f * f, 64)), nn.ReLU(), nn.Dropout(0.5),
        glorot(nn.Linear(64, num_classes)), nn.Softmax(dim=1))
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)

    def loss_fn(probs: Any, y: Any) -> Any:  # Keras' categorical_crossentropy on softmax outputs
        p = probs / probs.sum(dim=-1, keepdim=True)
        return -(y * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(dim=-1).mean()

    c = _common(fixed, channels_first=True)

    def t(a: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
        return torch.tensor(a[0]), torch.tensor(a[1])

    bs = [t(b) for b in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.tensor(c["inputs"]),
            "baseline_batch": t(c["baseline_batch"]), "loss_fn": loss_fn, "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        Input((IMG, IMG, 1)),
        Conv2D(32, (3, 3), padding="same"), Activation('relu'),
        Conv2D(32, (3, 3)), Activation('relu'),
        MaxPooling2D(pool_size=(2, 2)), Dropout(0.5),
        Conv2D(64, (3, 3)), Activation('relu'),
        MaxPooling2D(pool_size=(2, 2)), Dropout(0.5),
        Flatten(), Dense(64), Activation('relu'), Dropout(0.5),
        Dense(num_classes), Activation('softmax')])
    model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=["accuracy"])
    return {"model": model, **_common(fixed, channels_first=False)}


buggy, fixed = versions(_torch, _keras)
