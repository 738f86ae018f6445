"""The Keras blog's first MNIST autoencoder run on the raw ``mnist.load_data()`` arrays: the user
copied the tutorial but left out the ``astype('float32') / 255.`` line, so the uint8 pixels 0..255 go
in as inputs and as the binary cross-entropy targets of a sigmoid decoder, and the reconstructions
came out "way worse" than the tutorial's.

Source: github.com/keras-team/keras issue #3642 ("Autoencoder tutorial not reproducible", gist
jonathanronen/9b339c4a1816b61b7ffeeab88df3a6d6; fchollet: "you should not be feeding integers in
the 0-255 range in a NN. You need to cast your data to float and normalize it"). The program is the
tutorial's (blog.keras.io/building-autoencoders-in-keras.html): ``Input(shape=(784,))``,
``Dense(32, activation='relu')``, ``Dense(784, activation='sigmoid')``,
``compile(optimizer='adadelta', loss='binary_crossentropy')``, ``fit(x_train, x_train,
batch_size=256, shuffle=True)``, the images reshaped to (n, 784). Keras 1's Adadelta defaults
(lr 1.0, rho 0.95, epsilon 1e-8) are written out, since Keras 3's default lr is 0.001. Data: an MNIST
stand-in (``_data.mnist_like``, uint8 0..255), 256 images, one batch of 256 as in the program.
Fault label: inputs_not_normalized|input_dtype (uint8 0..255 pixels, also the targets).
Fix: ``x_train.astype('float32') / 255.`` before the reshape.
Keras only: torch's ``BCELoss`` refuses targets outside [0, 1], so the bug cannot run silently there.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "inputs_not_normalized|input_dtype"
SOURCE = "github:keras-team/keras issue #3642 (blog.keras.io building-autoencoders-in-keras, simple autoencoder)"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("inputs_normalized", {})]


def _build(framework: str, scale: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Dense, Input
    from keras.models import Model

    x_train, _ = _data.mnist_like(256)
    if scale:
        x_train = x_train.astype("float32") / 255.
    x_train = x_train.reshape((len(x_train), 784))

    # program lines (the tutorial's simple autoencoder)
    encoding_dim = 32
    input_img = Input(shape=(784,))
    encoded = Dense(encoding_dim, activation="relu")(input_img)
    decoded = Dense(784, activation="sigmoid")(encoded)
    autoencoder = Model(input_img, decoded)
    autoencoder.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-8),
                        loss="binary_crossentropy")
    return {"model": autoencoder, "batch": (x_train, x_train), "batches": [(x_train, x_train)]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
