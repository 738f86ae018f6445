"""Hands-On Machine Learning (3rd ed.), chapter 10 notebook ``10_neural_nets_with_keras.ipynb``, section
"Fine-Tuning Neural Network Hyperparameters" (Keras Tuner on Fashion MNIST). The section reloads Fashion MNIST
without scaling it (``(X_train_full, y_train_full), (X_test, y_test) = fashion_mnist``;
``X_train, y_train = X_train_full[:-5000], y_train_full[:-5000]``: uint8 pixels in 0..255), builds its classifier
with ``build_model(hp)`` (``Sequential``: ``Flatten()``, ``n_hidden`` x ``Dense(n_neurons, activation="relu")``,
``Dense(10, activation="softmax")``, compiled with ``loss="sparse_categorical_crossentropy"`` and SGD or Adam at
``hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")``), and for the Hyperband and Bayesian-optimisation
searches wraps it in ``MyClassificationHyperModel``, whose ``fit`` is meant to make input standardisation a
hyperparameter::

    if hp.Boolean("normalize"):
        norm_layer = tf.keras.layers.Normalization()
        X = norm_layer(X)
    return model.fit(X, y, **kwargs)

The fault: the ``Normalization`` layer is called without ``norm_layer.adapt(X)``. A Keras ``Normalization`` layer
that was never adapted (and got no ``mean``/``variance``) holds mean 0 and variance 1, so it is the identity:
every trial that the tuner runs with ``normalize=True`` still trains on raw 0..255 pixels, silently, and the
hyperparameter means nothing. Raw pixels into a glorot-initialised ReLU MLP give first-layer pre-activations
~100x too large: logits of several tens at initialisation, an initial cross-entropy of ~50-70 instead of
log(10) = 2.3, and a network that fits more slowly and less stably than on standardised inputs.

Source: github.com/ageron/handson-ml3, ``10_neural_nets_with_keras.ipynb`` at ddfc427^ (cells
``MyClassificationHyperModel``, ``kt.Hyperband(MyClassificationHyperModel(), ...)`` and
``kt.BayesianOptimization(MyClassificationHyperModel(), ...)``), fixed by commit
ddfc427 "Add missing norm_layer.adapt(X) line in Hyperband code, fixes #200" (issue #200), which adds
``norm_layer.adapt(X)`` before ``X = norm_layer(X)``.
Program lines kept: the unscaled Fashion-MNIST arrays (uint8, (N, 28, 28)), ``build_model``'s layers, activations,
loss and optimizer choice, ``MyClassificationHyperModel.fit``'s ``Normalization()`` lines (buggy: called without
adapt; fixed: ``adapt(X)`` then called, so with the layer's default ``axis=-1`` it standardises each of the 28 pixel
columns over all images and rows, as the fix does), Keras' default initialisers and ``fit``'s default batch size of 32.
Ported minimally: ``tf.keras`` -> Keras 3 (the layers and arguments are the same; Keras 3's un-adapted
``Normalization`` is still the identity, checked, so the buggy line is kept as written). Keras Tuner itself is not
used: one trial is built with ``normalize=True`` (the case the fix is about) and, for the other hyperparameters,
the best values that the notebook's own random search printed for this ``build_model`` (``n_hidden=5``,
``n_neurons=70``, ``learning_rate=0.00041268``, ``optimizer="adam"``); callbacks, validation data and the search
loop are left out. Keras only: the fault is the Keras ``Normalization`` layer's un-adapted state; there is no
torch counterpart of that line.
Data stand-in (no download of Fashion MNIST): 1,536 uint8 28x28 images in 0..255 with labels 0..9 from
scikit-learn's bundled 8x8 digits (each pixel blown up 3x3, padded to 28x28; ``_data.mnist_like``; pixel mean 57,
std 89, Fashion MNIST's are 73 and 90); ``fit``'s ``X`` is that whole array; 6 batches of 32 (``fit``'s default
batch size) are returned.
Fault label: inputs_not_normalized (a normalisation layer that is never adapted, so the intended standardisation is
the identity). Fix (ddfc427): ``norm_layer.adapt(X)`` before ``X = norm_layer(X)``.
Symptom in a short loop (Keras ``train_on_batch``, Adam 4.1e-4; cross-entropy and accuracy over the images
trained on; chance loss log 10 = 2.30): inputs buggy mean 57.0 / std 88.8 / max 255 vs fixed 0.00 / 0.93 / max 83
(the fix's per-column statistics give a few large z-scores in the rarely lit edge columns). Initial batch loss
buggy 57.5 vs fixed 2.36 (over the 192 images of the 6 returned batches: 14.2 vs 2.33; the buggy softmax is
saturated). Cycling over all 48 batches of the 1,536 images: after 48 steps buggy 1.32 (accuracy 0.72) vs fixed
0.68 (0.84); 120 steps 0.48 (0.85) vs 0.22 (0.94); 240 steps 0.28 (0.92) vs 0.064 (0.98); 480 steps 0.043 (0.99)
vs 0.006 (1.00). Cycling over the 6 returned batches (192 images), the small set is memorised either way and the
buggy run is not behind: 30 steps buggy 0.27 (0.90) vs fixed 1.05 (0.86), 60 steps 0.012 vs 0.093, 300 steps
0.0009 vs 0.0010. One batch, 200 steps: both fit it (buggy 2.4e-4, fixed 5.0e-4). So the fault shows as the input
statistics and the initial loss far above log 10, and as slower fitting of the larger set, not as a failure to
fit. With the tuner's default hyperparameters for this ``build_model`` (2 x 16 units, SGD 1e-4) the buggy initial
loss is 73.3 vs 2.40 and both then creep along (480 steps over the 1,536 images: buggy 2.09, fixed 2.27). About
2-5 ms per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:ageron/handson-ml3 issue #200 (10_neural_nets_with_keras.ipynb@ddfc427^, "
          "MyClassificationHyperModel.fit; fix ddfc427 'Add missing norm_layer.adapt(X) line in Hyperband code')")
FRAMEWORKS = ("keras",)
CHECKS = [("inputs_normalized", {}), ("init_loss", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

# one trial with hp.Boolean("normalize") == True; the other values are the best ones the notebook's random search
# printed for build_model (top3_params[0].values)
n_hidden = 5
n_neurons = 70
learning_rate = 0.00041268008323824807
optimizer_name = "adam"
batch_size = 32  # Model.fit default
n_images = 1536
n_batches = 6


def _fashion_like() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    X, y = mnist_like(n_images)  # uint8 (N, 28, 28) in 0..255, as tf.keras.datasets.fashion_mnist gives them
    return X, y.astype("int64")


def _build(adapt: bool) -> dict[str, Any]:
    import keras

    X, y = _fashion_like()
    # MyClassificationHyperModel.fit, with hp.Boolean("normalize") True
    norm_layer = keras.layers.Normalization()
    if adapt:  # fix ddfc427
        norm_layer.adapt(X)
    X = np.asarray(norm_layer(X), dtype="float32")

    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.Input(shape=(28, 28))])  # build_model(hp)
    model.add(keras.layers.Flatten())
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    if optimizer_name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    batches = [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_batches * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": X}


def buggy(framework: str) -> dict[str, Any]:
    return _build(adapt=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(adapt=True)
