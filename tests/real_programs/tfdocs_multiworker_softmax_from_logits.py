"""tensorflow/docs "Multi-worker training with Estimator" tutorial, before PR #1034: ``model_fn`` builds
a small MNIST convnet (Conv2D(32, 3) + ReLU, MaxPooling2D, Flatten, Dense(64) + ReLU,
``Dense(10, activation='softmax')``) and scores its output with
``tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=NONE)`` summed and divided by
``BATCH_SIZE``, minimised by ``GradientDescentOptimizer(learning_rate=1e-4)``. The loss applies a softmax
to outputs that are already probabilities, so it is squeezed into [log(1 + 9/e), log(9 + e)] ~ [1.46, 2.46] and
its gradient is damped: "Training did not converge in my testing because the loss calculation assumed the
inputs were logits (``from_logits=True``) when they in fact were the output of a softmax."

Source: github.com/tensorflow/docs PR #1034 "multi_worker_with_estimator.ipynb: Remove softmax to get
logits" (merged 2019-09), site/en/tutorials/distribute/multi_worker_with_estimator.ipynb, which deletes
``activation='softmax'`` from the last Dense layer. Program lines: ``BATCH_SIZE = 64``,
``LEARNING_RATE = 1e-4``, the Sequential model, ``scale`` (``tf.cast(image, tf.float32) / 255``), the
loss. Ported minimally: the Estimator/``MultiWorkerMirroredStrategy`` plumbing becomes the Keras model
compiled with the same loss (mean over the batch = ``reduce_sum(loss) / BATCH_SIZE`` for full batches)
and ``SGD(learning_rate=1e-4)`` (plain gradient descent, as ``GradientDescentOptimizer``);
``model(features, training=False)`` changes nothing (no dropout or batch norm). Data: tfds MNIST is
downloaded; stand-in ``_data.mnist_like`` (28x28 uint8, 10 classes) scaled by 1/255 with a channel axis,
256 images. Fault label: output_activation|loss_mismatch. Fix (PR #1034): ``tf.keras.layers.Dense(10)``.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:tensorflow/docs PR #1034 (site/en/tutorials/distribute/multi_worker_with_estimator.ipynb, "
          "softmax removed from the last Dense layer)")
FRAMEWORKS = ("keras",)
CHECKS = [("output_range", {"kind": "logits"}), ("overfit_one_batch", {}), ("loss_decreases", {})]

BATCH_SIZE = 64  # program lines
LEARNING_RATE = 1e-4


def _build(framework: str, softmax: bool) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    import keras

    imgs, y = _data.mnist_like(4 * BATCH_SIZE)
    x = (imgs.astype("float32") / 255)[..., None]  # scale(): cast to float32, / 255; (28, 28, 1)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax" if softmax else None),
    ])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE))
    return {"model": model, "batch": (x[:BATCH_SIZE], y[:BATCH_SIZE]),
            "batches": _data.batches(x, y, BATCH_SIZE)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=False)
