"""Keras' examples/mnist_cnn.py run on tf.keras / Keras 3: the script compiles with
``optimizer=keras.optimizers.Adadelta()``, relying on the default learning rate. Standalone Keras'
Adadelta defaulted to ``lr=1.0`` (Adadelta is meant to be used without a step size), but tf.keras
changed the default to 0.001 (TF 1.14 / 2.0; Keras 3 keeps it), a thousand times smaller: the same
script that "gets to 99.25% test accuracy after 12 epochs" ends its first epoch at a loss of 2.28
(accuracy 0.16) and reaches about 84% after twelve.

Source: github.com/keras-team/keras issue #13815 ("MINST CNN example code claims 99.25% test accuracy
but is only 84%", the example run with the TensorFlow 2.1 backend); diagnosis and fix in
github.com/tensorflow/tensorflow issue #39083 (the same example: "keras and tf.keras have different
default learning rates for Adadelta (keras uses lr=1, tf 0.001)") and issue #32950 (the maintainer:
"change the code to: opt = tf.keras.optimizers.Adadelta(learning_rate=1.0, ...)"); the default change
is recorded in tensorflow PR #30941 ("Adadelta changed from 1.000 to 0.001"). Program lines from
keras-team/keras examples/mnist_cnn.py as last kept in the repository (33c4e162e3^):
``Conv2D(32, (3, 3), relu)``, ``Conv2D(64, (3, 3), relu)``, ``MaxPooling2D((2, 2))``,
``Dropout(0.25)``, ``Flatten()``, ``Dense(128, relu)``, ``Dropout(0.5)``, ``Dense(10, softmax)``;
``loss=keras.losses.categorical_crossentropy``, ``optimizer=keras.optimizers.Adadelta()``;
``batch_size = 128``, ``epochs = 12``; images reshaped to (n, 28, 28, 1) (channels_last),
``astype('float32') / 255``, labels ``to_categorical(y, 10)``.
Data: MNIST is downloaded; stand-in ``_data.mnist_like(512)`` (uint8 28x28 digits, labels 0..9),
through the program's own reshape and /255; four batches of 128.
Fault label: lr_too_low (the optimizer's default learning rate, 0.001, is far too small for Adadelta).
Fix: ``optimizer=keras.optimizers.Adadelta(learning_rate=1.0)`` (the old standalone-Keras default).
No torch twin: torch.optim.Adadelta defaults to lr=1.0, so the program is not written this way there.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "lr_too_low"
SOURCE = ("github:keras-team/keras issue #13815 (examples/mnist_cnn.py; fix per tensorflow/tensorflow "
          "issues #39083, #32950)")
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 128  # program lines
num_classes = 10
img_rows, img_cols = 28, 28


def _build(framework: str, learning_rate: float | None) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    import keras
    from keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from keras.models import Sequential

    x_train, y_train = _data.mnist_like(4 * batch_size)
    # program lines (examples/mnist_cnn.py, channels_last branch)
    x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
    input_shape = (img_rows, img_cols, 1)
    x_train = x_train.astype('float32')
    x_train /= 255
    y_train = keras.utils.to_categorical(y_train, num_classes)

    model = Sequential()
    model.add(keras.Input(input_shape))
    model.add(Conv2D(32, kernel_size=(3, 3), activation='relu'))
    model.add(Conv2D(64, (3, 3), activation='relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation='relu'))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation='softmax'))

    optimizer = keras.optimizers.Adadelta() if learning_rate is None else keras.optimizers.Adadelta(
        learning_rate=learning_rate)
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer=optimizer, metrics=['accuracy'])
    return {"model": model, "batch": (x_train[:batch_size], y_train[:batch_size]),
            "batches": _data.batches(x_train, y_train, batch_size)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, None)  # Adadelta() -> learning_rate=0.001


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, 1.0)
