"""dragen1860/Deep-Learning-with-TensorFlow-book (the code of the Chinese book "TensorFlow 深度学习"),
chapter 8 "Keras 高层接口", ``ch08/nb.py`` (section 8.3 "模型装配、训练与测试", the book's p176): a five-layer
MLP on MNIST, ``Sequential([layers.Dense(256, activation='relu'), layers.Dense(128, activation='relu'),
layers.Dense(64, activation='relu'), layers.Dense(32, activation='relu'), layers.Dense(10)])``, built for
``28*28`` inputs and compiled with ``optimizers.Adam(lr=0.01)`` and ``losses.CategoricalCrossentropy(
from_logits=True)``; the data: ``x = tf.convert_to_tensor(x, dtype=tf.float32) / 255.``, ``y = tf.convert_to_
tensor(y, dtype=tf.int32)``, ``proprocess`` only flattens the image (``tf.reshape(x, [-1])``), batches of 128,
``network.fit(train_db, epochs=5, ...)``.
The fault: the labels stay integer class ids of shape ``[b]`` while the loss is the one-hot
(``Categorical``) cross-entropy. tf.keras 2.x gave no error: it expanded the rank-1 targets to ``[b, 1]``
(``standardize_single_array`` in TF 2.0/2.1, ``match_dtype_and_rank`` from 2.2) and fed them as ``labels`` to
``tf.nn.softmax_cross_entropy_with_logits``, whose kernel broadcasts ``[b, 1]`` against the ``[b, 10]`` logits.
So every class gets the target value ``y`` (the digit itself): the per-sample loss is ``-y * sum_k log
softmax_k`` (0 for every "0", about 23 * y otherwise; about 100 at initialisation instead of log 10), and
the fused kernel's gradient ``softmax - labels`` (only right when a label row sums to 1) pushes every logit of
a nonzero digit up, so under Adam the logits run away and the loss grows instead of falling. The issue
reporter saw the training "not right, accuracy too low"; the author: "the code forgot to one-hot encode
[the labels], so training failed. Fixed."

Source: github.com/dragen1860/Deep-Learning-with-TensorFlow-book issue #82 ("p176", 2019-11-27, answered
by the author on 2019-12-06). Buggy program: ``ch08/nb.py`` at b0e6d9c63c59c6b8dc9c81158bb830a05cb464dc (the
notebook script still reads so, now as ``ch08-Keras高层接口/nb.py``). Fixed program: the chapter's
``ch08-Keras高层接口/compile_fit.py`` from 70f833b3f35ddb980fb3162f15001eb6d90d85ad ("完善PPT和代码", 2020-04-19), the same network, optimizer,
loss and batch size with ``y = tf.one_hot(y, depth=10)`` in ``preprocess``.
Program lines kept: the five Dense layers and their activations, Keras' default initialisers (glorot-
uniform kernels, zero biases), Adam with lr 0.01 (Keras default epsilon 1e-7), batches of 128, the /255
scaling and the flattening to 784, int32 class-id labels (buggy) vs ``tf.one_hot(y, depth=10)`` (fixed),
``CategoricalCrossentropy(from_logits=True)`` (fixed).
Ported minimally: ``tf.keras`` -> Keras 3. Keras 3's ``CategoricalCrossentropy`` refuses targets of another
rank ("Arguments `target` and `output` must have the same rank"), so the buggy loss is written out as
tf.keras 2.x computed it: the targets reshaped to ``[b, 1]``, cast to float, into ``tf.nn.softmax_cross_
entropy_with_logits`` (the op tf.keras' ``categorical_crossentropy(from_logits=True)`` called), batch mean.
The shuffle, validation set, metrics and weight saving are left out. Torch twin: the same MLP
(``nn.Linear`` initialised like Keras' Dense), ``torch.optim.Adam(lr=0.01, eps=1e-7)`` and the one-hot
cross-entropy written as a torch user writes it for one-hot targets, ``-(y_true * log_softmax(logits)).sum(-1)
.mean()``, with tf.keras' expansion of rank-1 targets to ``[b, 1]``; torch's autograd differentiates the
broadcast loss exactly (no fused ``softmax - labels`` kernel), so there the buggy model is driven to equal
logits for every input (the minimiser of ``-y * sum_k log softmax_k``) instead of running away.
Data stand-in (no download of MNIST): 768 28x28 uint8 images in 0..255 with labels 0..9 from scikit-learn's
bundled 8x8 digits (``_data.mnist_like``), /255 and flattened to 784 as the program does; 6 batches of 128
(the program's batch size). Same shape, dtype, value range and number of classes as MNIST.
Fault label: target_shape|labels_invalid (class-id targets of shape [b] broadcast across the 10 logits by a
loss that needs one-hot rows). Fix: one-hot targets (``tf.one_hot(y, depth=10)``).
Measured (my own plain loop, seed 0, OMP_NUM_THREADS=1, cycling over the 6 batches, loss on all 768
images): Keras buggy 102.9 at init -> 1.0e5 after 10 steps -> 2.7e8 (50) -> 4.7e12 (300), accuracy 0.10;
fixed 2.30 -> 1.40 -> 0.24 -> 0.000, accuracy 1.00. Torch buggy 104.6 -> 102.77 (10) -> 102.69 (50) ->
102.69 (300), accuracy 0.10, the logits' spread over the inputs 0.10 -> 0.0000 (every input gets the same
output); fixed 2.34 -> 1.37 -> 0.19 -> 0.000, accuracy 1.00. On the first batch alone (200 steps, loss on
that batch): Keras buggy 102.4 -> 7.5e3 (5 steps) -> 5.9e11 (200), fixed 2.30 -> 4.0e-6; torch buggy 104.1 ->
102.2 (from step 20 on), fixed 2.35 -> 1.6e-5. In both buggy runs every image of the batch gets the same
predicted class from step 5 on (fixed: all 10 classes). About 20-25 ms (Keras train_on_batch) and 7 ms (torch)
per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "target_shape|labels_invalid"
SOURCE = ("github:dragen1860/Deep-Learning-with-TensorFlow-book issue #82 "
          "(ch08/nb.py@b0e6d9c63c59c6b8dc9c81158bb830a05cb464dc int labels into "
          "CategoricalCrossentropy(from_logits=True); fixed program ch08-Keras高层接口/compile_fit.py "
          "@70f833b3f35ddb980fb3162f15001eb6d90d85ad, y = tf.one_hot(y, depth=10))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 10}),
          ("not_constant_predictions", {})]

batchsz = 128  # program lines
lr = 0.01  # optimizers.Adam(lr=0.01)
n_batches = 6


def _mnist(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    imgs, y = _data.mnist_like(batchsz * n_batches)
    x = (imgs.astype("float32") / 255.).reshape(-1, 28 * 28)  # / 255., proprocess: tf.reshape(x, [-1])
    if fixed:
        return x, _data.one_hot(y, 10)  # fix: y = tf.one_hot(y, depth=10)
    return x, y.astype("int32")  # y = tf.convert_to_tensor(y, dtype=tf.int32)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _mnist(fixed)
    if framework == "torch":
        import torch
        from torch import nn

        from tests.real_programs._nets import torch_dense

        torch.manual_seed(0)
        network = nn.Sequential(torch_dense(784, 256), nn.ReLU(), torch_dense(256, 128), nn.ReLU(),
                                torch_dense(128, 64), nn.ReLU(), torch_dense(64, 32), nn.ReLU(),
                                torch_dense(32, 10))

        def categorical_crossentropy(logits, y_true):  # CategoricalCrossentropy(from_logits=True)
            if y_true.dim() == 1:  # tf.keras expanded rank-1 targets to [b, 1]
                y_true = y_true[:, None]
            return -(y_true.float() * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()

        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y if fixed else y.astype("int64"))
        batches = _data.batches(xt, yt, batchsz)
        return {"model": network, "batch": batches[0], "batches": batches, "inputs": xt,
                "loss_fn": categorical_crossentropy,
                "optimizer": lambda p: torch.optim.Adam(p, lr=lr, eps=1e-7)}
    if framework != "keras":
        raise ValueError(framework)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input(shape=(28 * 28,)),
                                keras.layers.Dense(256, activation="relu"),
                                keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(64, activation="relu"),
                                keras.layers.Dense(32, activation="relu"),
                                keras.layers.Dense(10)])
    if fixed:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    else:
        def loss(y_true, y_pred):  # tf.keras 2.x CategoricalCrossentropy(from_logits=True) on [b] int targets
            labels = tf.reshape(tf.cast(y_true, y_pred.dtype), [-1, 1])
            return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=y_pred))
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss)
    batches = _data.batches(x, y, batchsz)
    return {"model": network, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
