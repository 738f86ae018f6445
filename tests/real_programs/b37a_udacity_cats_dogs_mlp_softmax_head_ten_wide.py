"""udacity/intro-to-ml-tensorflow, lesson "Intro to TensorFlow", ``Part_7_Loading_Image_Data_(Solution).ipynb``
(and the Exercise notebook): the filtered Kaggle Dogs vs. Cats set (2,000 training images in ``train/cats``
and ``train/dogs``) read with ``ImageDataGenerator(rescale=1./255, ...).flow_from_directory(train_dir,
batch_size=64, shuffle=True, target_size=(224, 224), class_mode='binary')`` (labels 0. = cat, 1. = dog), and
a fully connected network::

    layer_neurons = [1024, 512, 256, 128, 56, 28, 14]
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Flatten(input_shape = (IMG_SHAPE, IMG_SHAPE, 3)))
    for neurons in layer_neurons:
        model.add(tf.keras.layers.Dense(neurons, activation='relu'))
        model.add(tf.keras.layers.Dropout(0.3))
    model.add(tf.keras.layers.Dense(10, activation='softmax'))
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

The fault: the output layer is 10 wide (copied from the Fashion-MNIST notebooks of the same lesson) for a
2-class problem. ``sparse_categorical_crossentropy`` raises nothing because the labels 0 and 1 are valid
indices into 10 columns, so the model trains, but 8 of its outputs are classes that do not exist: the loss
starts near log(10) = 2.30 instead of log(2) = 0.69, the first steps are spent pushing the 8 phantom
probabilities down, and at initialisation most argmax predictions are class ids 2..9. (The notebook's text
below the training cell even says "the accuracy achieved by the end of training is less than 50%".)

Source: github.com/udacity/intro-to-ml-tensorflow issue #5 ("Incorrect number of neurons in output layer":
"The number of neurons in the output layers should be 2 because there are 2 classes (cats and dogs)"),
resolved by commit db7c46cb206299f4d9d1432e1d36370afdeb8e8a "Updated n_classes in the final dense layer."
(``Dense(10, activation='softmax')`` -> ``Dense(2, activation='softmax')`` in both the Exercise and the
Solution notebook). Buggy file: ``lessons/intro-to-tensorflow/Part_7_Loading_Image_Data_(Solution).ipynb``
at db7c46c^.
Program lines kept: the ``layer_neurons`` stack (Dense + ReLU + Dropout(0.3) per width), the softmax head
(10 wide buggy, 2 wide fixed), Adam with Keras' defaults (lr 0.001), ``sparse_categorical_crossentropy``,
batches of 64, ``rescale=1./255`` and the float 0./1. labels of ``class_mode='binary'``.
Ported minimally / shrunk: images are 32x32x3 instead of 224x224x3 (the first Dense would otherwise hold
154M weights; with 32x32 it is 3.1M and a step of 64 images takes ~20-40 ms on one CPU thread). The
augmentations of the training generator (rotation, shifts, shear, zoom, flips) are left out (random, and
``ImageDataGenerator`` is gone from Keras 3); ``fit_generator`` / validation / plotting are left out.
``Flatten(input_shape=...)`` -> ``keras.Input`` + ``Flatten()`` (Keras 3).
Torch twin (same fault): ``nn.Flatten`` -> the same Linear + ReLU + Dropout(0.3) stack -> ``nn.Linear(14,
10)`` (buggy) / ``nn.Linear(14, 2)`` (fixed) logits under ``nn.CrossEntropyLoss()`` (the torch idiom for
softmax + sparse categorical cross-entropy), ``optim.Adam(lr=1e-3)``, PyTorch default init; labels cast to
int64 (CrossEntropyLoss needs class indices), images channels-first.
Data stand-in (no download of cats_and_dogs_filtered.zip): ``_data.cifar_like`` images (uint8 32x32x3,
0..255; scikit-learn's digits blown up over a noisy random-colour background with a class tint) of digit 0
("cat", label 0.) and digit 1 ("dog", label 1.), 320 images as 5 batches of 64, about balanced; divided by
255 as ``rescale=1./255`` does. Real class signal, so a correct 2-class model can learn it.
Fault label: head_width (10 outputs for 2 classes). Fix (db7c46c): ``Dense(2, activation='softmax')``.

Measured (my own plain loop, seed 0, OMP_NUM_THREADS=1; torch: ``opt.zero_grad(); loss_fn(model(x),
y).backward(); opt.step()`` in train mode, Keras: ``train_on_batch``; loss of the batch being stepped on; the
initial loss and the end-of-run loss/accuracy in eval mode over all 320 images):
- initial loss: torch buggy 2.298 vs fixed 0.734; Keras buggy 2.306 vs fixed 0.703 (log 10 = 2.30 vs
  log 2 = 0.69). At initialisation 100% (torch) / 99.7% (Keras) of the buggy argmax predictions are the
  non-existent classes 2..9.
- torch, cycling the 5 batches: buggy 2.297 (step 1) -> 1.354 (10) -> 1.207 (50) -> 0.827 (100) -> 0.486
  (200) -> 0.305 (300); fixed 0.725 -> 0.709 -> 0.260 -> 0.217 -> 0.012 -> 0.052. End of run (eval, all
  images): buggy loss 0.251 / accuracy 1.00, fixed 0.010 / 0.997. One batch: buggy 2.297 -> 0.988 (50) ->
  0.738 (100) -> 0.361 (300), fixed 0.725 -> 0.273 -> 0.019 -> 0.000.
- Keras, cycling: buggy 2.358 -> 1.762 (10) -> 1.273 (50) -> 1.095 (100) -> 0.100 (200) -> 0.051 (300);
  fixed 0.745 -> 0.719 -> 0.709 -> 0.704 -> 0.404 -> 0.024 (the deep narrow ReLU/dropout stack sits near
  log 2 for ~100 steps); both reach accuracy 1.0 on this easy stand-in. One batch: buggy 2.358 -> 1.331
  (50) -> 0.156 (200) -> 0.022 (300), fixed 0.745 -> 0.760 -> 0.163 -> 0.019.
So the loss curve alone does not show the fault for long (the phantom columns are driven to ~0 within a
few hundred steps and the model still separates the two classes); it shows at initialisation (loss near
log 10 for a 2-class task, nearly every prediction a class id >= 2) and in the model itself (10 outputs
for 2 classes). About 25-45 ms a step (batch 64) on one CPU thread in either framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:udacity/intro-to-ml-tensorflow issue #5 (lessons/intro-to-tensorflow/"
          "Part_7_Loading_Image_Data_(Solution).ipynb@db7c46c^, Dense(10, activation='softmax') for cats vs "
          "dogs; fix db7c46cb206299f4d9d1432e1d36370afdeb8e8a)")
FRAMEWORKS = ("torch", "keras")
CHECKS = {
    "torch": [("init_loss", {"num_classes": 2}),
              ("output_range", {"kind": "logits", "num_classes": 2}),
              ("loss_decreases", {}),
              ("overfit_one_batch", {})],
    "keras": [("init_loss", {"num_classes": 2}),
              ("output_range", {"kind": "probabilities", "num_classes": 2}),
              ("loss_decreases", {}),
              ("overfit_one_batch", {})],
}

BATCH_SIZE = 64  # notebook: BATCH_SIZE = 64
IMG_SHAPE = 32  # port: 224 in the notebook (CPU budget)
N_BATCHES = 5
layer_neurons = [1024, 512, 256, 128, 56, 28, 14]  # notebook


def _data() -> tuple[np.ndarray, np.ndarray]:
    """(N, 32, 32, 3) float32 in [0, 1] (rescale=1./255) and float32 labels 0./1. (class_mode='binary')."""
    from tests.real_programs._data import cifar_like

    raw, digit = cifar_like(1797, seed=0)  # all of the digits set
    keep = np.flatnonzero(digit <= 1)[:BATCH_SIZE * N_BATCHES]
    x = raw[keep].astype("float32") * (1.0 / 255)
    y = digit[keep].astype("float32")
    return np.ascontiguousarray(x), y


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)
    n_out = 2 if fixed else 10  # db7c46c
    stack: list[nn.Module] = [nn.Flatten()]
    width = 3 * IMG_SHAPE * IMG_SHAPE
    for neurons in layer_neurons:
        stack += [nn.Linear(width, neurons), nn.ReLU(), nn.Dropout(0.3)]
        width = neurons
    stack.append(nn.Linear(width, n_out))
    model = nn.Sequential(*stack)
    x, y = _data()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype("int64"))
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]

    def optimizer(p):
        return optim.Adam(p, lr=1e-3)

    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:BATCH_SIZE],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential()
    model.add(keras.Input((IMG_SHAPE, IMG_SHAPE, 3)))
    model.add(keras.layers.Flatten())
    for neurons in layer_neurons:
        model.add(keras.layers.Dense(neurons, activation='relu'))
        model.add(keras.layers.Dropout(0.3))
    model.add(keras.layers.Dense(2 if fixed else 10, activation='softmax'))  # db7c46c
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    x, y = _data()
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:BATCH_SIZE]}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
