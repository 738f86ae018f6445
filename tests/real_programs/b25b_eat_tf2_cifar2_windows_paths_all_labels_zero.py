"""Eat TensorFlow2 in 30 days (lyhue1991/eat_tensorflow2_in_30_days), section 1-2 "图片数据建模流程范例"
(image-data modelling example, ``1-2,图片数据建模流程范例.md``): a small CNN that tells cifar2 airplanes from
automobiles (cifar2: the first two CIFAR-10 classes, 32x32 JPEG files in ``./data/cifar2/{train,test}/
{airplane,automobile}/``). The label of every image comes from its file path, inside the ``tf.data`` map function::

    def load_image(img_path,size = (32,32)):
        label = tf.constant(1,tf.int8) if tf.strings.regex_full_match(img_path,".*/automobile/.*") \\
                else tf.constant(0,tf.int8)
        img = tf.io.read_file(img_path)
        img = tf.image.decode_jpeg(img)
        img = tf.image.resize(img,size)/255.0
        return(img,label)

    ds_train = tf.data.Dataset.list_files("./data/cifar2/train/*/*.jpg") \\
               .map(load_image, ...).shuffle(buffer_size = 1000).batch(BATCH_SIZE) ...

The fault: the regular expression hard-codes '/' as the path separator around the class folder. Where the listed
file names carry '\\' separators (Windows), no path matches ``.*/automobile/.*``, so *every* image, automobile or
airplane, gets label 0. Training then has nothing to learn from the images: the sigmoid output is driven to 0 for
every input, the loss collapses to ~0 and the training (and validation) accuracy to 1.0 within the first epoch.
Issue #23 ("1-2 load_image函数打标签错误": "the labels are all 0, so the accuracy during training is always 1")
shows exactly that log (epoch 1: loss 0.0116, accuracy 0.9904, val_loss 1.3e-09, val_accuracy 1.0000); the author
answered that it was a Windows path-format problem already made compatible.

Source: github.com/lyhue1991/eat_tensorflow2_in_30_days, ``1-2,图片数据建模流程范例.md`` at 7822444^ (``load_image``,
``ds_train``, the functional-API model and ``model.compile``/``fit`` cells), fixed by commit
78224446f14a98a19499bd599b5d7124525adc98 "revise chapter1, chapter5", which changes the pattern to
``".*automobile.*"`` (separator-agnostic); issue #23 reports the buggy version's symptom.
Program lines kept: the label line (run as written, ``tf.strings.regex_full_match`` on the path strings, int8
labels), the ``/255.0`` scaling, the model (``Conv2D(32, 3)`` -> ``MaxPool2D`` -> ``Conv2D(64, 5)`` -> ``MaxPool2D``
-> ``Dropout(0.1)`` -> ``Flatten`` -> ``Dense(32, relu)`` -> ``Dense(1, sigmoid)``, Keras default initialisers),
``Adam(learning_rate=0.001)`` and ``tf.keras.losses.binary_crossentropy``, shuffled batches (``list_files``
shuffles, then ``shuffle(1000)``).
Ported minimally: ``tf.keras`` -> Keras 3 with the same layers and arguments. The file reading / JPEG decoding is
replaced by in-memory images (``decode_jpeg`` + ``resize`` to the same 32x32 size is a cast to float; the ``/255``
is kept), and each image gets a Windows-style file name with '\\' separators (``data\\cifar2\\train\\
automobile\\<i>.jpg``; only the separators around the class folder matter, not the exact prefix), so the
program's own regex labels them. The program's batch size of 100 (the helper who ported it measured
the symptom below at 50 to keep a step under ~30 ms; the lead restored 100, about 60 ms a step, because
``input_independent_baseline`` holds samples out of one batch and needs at least 64). TensorBoard
callback, validation data and the evaluation cells are left out.
PyTorch twin: the fault is in the label construction, not in Keras; the twin labels the same file names with the
same pattern (``re.fullmatch``) and trains the same network (``nn.Conv2d``/``nn.Linear`` with Xavier-uniform
weights and zero biases as Keras' glorot-uniform defaults, NCHW images, ``nn.BCELoss`` on the sigmoid output,
``Adam(lr=1e-3)``).
Data stand-in (no cifar2 download): 360 images (airplane = scikit-learn digit 0, automobile = digit 1; 178/182),
uint8 32x32x3 in 0..255 with CIFAR-like channel means (``_data.cifar_like``: the 8x8 digit blown up 4x4 over a
noisy coloured background, each class with its own tint), shuffled with a fixed seed and divided by 255; 3
batches of 100 (the program's batch size). Same shape, value range and (balanced) class mix as cifar2.
Fault label: labels_imbalanced (the path-derived labels are a single class: every target 0).
Fix (7822444): ``tf.strings.regex_full_match(img_path, ".*automobile.*")``.
Symptom in a short loop (measured by the helper at batch size 50: Keras ``train_on_batch`` / plain torch loop,
Adam 1e-3, cycling over 6 batches of 50; loss over the 300 returned images with their program labels, accuracy against their *true* classes):
labels in the returned batches buggy 300 x 0 vs fixed 144 x 0 / 156 x 1 (both frameworks). Keras: initial loss
buggy 0.68 vs fixed 0.69; after 10 steps buggy 1.9e-07 (every output < 1e-3, output std over the images < 1e-3,
true-class accuracy 0.48) vs fixed 0.28 (accuracy 0.98, output std 0.29); after 30 steps buggy 0.0 (float32
underflow) vs fixed 6.9e-03 (accuracy 1.00, output std 0.49); 60 steps 0.0 vs 1.3e-03. Torch: initial 0.78 vs
0.70; 10 steps buggy 8.5e-07 (outputs ~0, accuracy 0.48) vs fixed 0.17 (accuracy 0.99, output std 0.36); 30
steps 1.7e-12 vs 3.6e-03 (accuracy 1.00); 60 steps 1.1e-13 vs 9.0e-04. So the buggy run's loss drops to zero
faster than the fixed one's while its prediction is one constant that carries nothing about the image -- the
picture of the issue's log. About 28 ms per Keras step, ~24 ms per torch step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_imbalanced"  # every label one class; the helper offered "|labels_invalid" too, the lead chose before measuring
SOURCE = ("github:lyhue1991/eat_tensorflow2_in_30_days issue #23 (1-2,图片数据建模流程范例.md load_image@7822444^, "
          "regex '.*/automobile/.*' on Windows paths; fix 78224446f14a98a19499bd599b5d7124525adc98)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {}), ("output_range", {"kind": "sigmoid"})]

BATCH_SIZE = 100  # the program's (the helper had halved it for CPU time; the lead restored it, before measuring
# the row again, because input_independent_baseline holds samples out of one batch and asks for at least 64)
learning_rate = 0.001
n_batches = 3
BUGGY_PATTERN = ".*/automobile/.*"
FIXED_PATTERN = ".*automobile.*"  # 7822444


def _cifar2_like() -> tuple[np.ndarray, list[str]]:
    """uint8 (N, 32, 32, 3) images and the Windows-style file names list_files would give for them."""
    from tests.real_programs._data import cifar_like

    imgs, digit = cifar_like(1797, seed=0)
    keep = np.flatnonzero(digit < 2)  # digit 0 -> airplane, digit 1 -> automobile
    rng = np.random.default_rng(0)
    keep = rng.permutation(keep)  # list_files(shuffle=True) then .shuffle(1000)
    names = ("airplane", "automobile")
    paths = ["data\\cifar2\\train\\%s\\%d.jpg" % (names[digit[i]], i) for i in keep]
    return imgs[keep], paths


def _labels(paths: list[str], pattern: str) -> np.ndarray:
    """load_image's label line, vectorised over the file names (int8 as in the program)."""
    import tensorflow as tf

    match = tf.strings.regex_full_match(tf.constant(paths), pattern)
    return np.where(match.numpy(), 1, 0).astype("int8")


def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    imgs, paths = _cifar2_like()
    y = _labels(paths, FIXED_PATTERN if fixed else BUGGY_PATTERN)
    x = (imgs.astype("float32") / 255.0).astype("float32")  # decode_jpeg, resize (32x32 -> 32x32), /255.0
    n = n_batches * BATCH_SIZE
    return x[:n], y[:n]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _data(fixed)
    if framework == "keras":
        import keras
        from keras import layers, models

        keras.utils.set_random_seed(0)
        inputs = layers.Input(shape=(32, 32, 3))
        h = layers.Conv2D(32, kernel_size=(3, 3))(inputs)
        h = layers.MaxPool2D()(h)
        h = layers.Conv2D(64, kernel_size=(5, 5))(h)
        h = layers.MaxPool2D()(h)
        h = layers.Dropout(rate=0.1)(h)
        h = layers.Flatten()(h)
        h = layers.Dense(32, activation="relu")(h)
        outputs = layers.Dense(1, activation="sigmoid")(h)
        model = models.Model(inputs=inputs, outputs=outputs)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss=keras.losses.binary_crossentropy)
        batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    from torch import nn

    torch.manual_seed(0)

    def glorot(layer):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    model = nn.Sequential(
        glorot(nn.Conv2d(3, 32, 3)), nn.MaxPool2d(2),
        glorot(nn.Conv2d(32, 64, 5)), nn.MaxPool2d(2),
        nn.Dropout(0.1), nn.Flatten(),
        glorot(nn.Linear(64 * 5 * 5, 32)), nn.ReLU(),
        glorot(nn.Linear(32, 1)), nn.Sigmoid(),
    )
    xt = torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.tensor(y.astype("float32")).reshape(-1, 1)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt,
            "loss_fn": nn.BCELoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
