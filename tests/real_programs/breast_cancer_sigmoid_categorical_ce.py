"""A binary breast-cancer classifier (Wisconsin diagnostic data, 30 standardised features, labels
0/1) with one sigmoid output trained with ``categorical_crossentropy``: Keras normalises the
prediction over the last axis, which holds a single value, so the loss is 0 for every sample and
nothing trains ("too low accuracy").

Source: github.com/keras-team/keras issue #14729 ("too low accuracy"); the diagnosis is the Keras
maintainers' own in keras-team/keras issue #17029 (haifeng-jin: with ``categorical_crossentropy``
for binary classification "it does not raise any error, but have all the losses equal to 0 during
training ... they accidentally used the wrong loss"). Program lines: ``pd.read_csv('data.csv')``
(the UCI WDBC file), ``LabelEncoder`` on the diagnosis (B -> 0, M -> 1),
``train_test_split(test_size=0.3, random_state=0)``, ``StandardScaler``; ``Flatten()``,
``Dense(16, relu, kernel_initializer="uniform", input_dim=30)``, ``Dropout(0.1)``, the same again,
``Dense(1, sigmoid, kernel_initializer="uniform")``, ``Adam()``,
``loss=keras.losses.categorical_crossentropy``, ``batch_size=100``. Data: scikit-learn's bundled
copy of the same WDBC table (``load_breast_cancer``, whose target is 0 = malignant, so the
LabelEncoder's labels are ``1 - target``).
Fault label: loss_mismatch. Fix: ``binary_crossentropy`` for the one-unit sigmoid head.
Keras only (torch has no loss that silently normalises a single output).
"""

from __future__ import annotations

from typing import Any

LABEL = "loss_mismatch"
SOURCE = "github:keras-team/keras issue #14729 (diagnosis: keras-team/keras issue #17029)"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}), ("gradients_flow", {})]


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    d = load_breast_cancer()
    X, y = d.data, 1 - d.target  # LabelEncoder: 'B' -> 0, 'M' -> 1
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    sc = StandardScaler()
    X_train = sc.fit_transform(X_train)
    return X_train.astype("float32"), y_train.astype("float32")


def _build(framework: str, loss: str) -> dict[str, Any]:
    import keras
    from keras import layers
    from keras.layers import Dropout, Flatten

    X_train, y_train = _data()
    model3 = keras.Sequential([keras.Input((30,))])  # program: Sequential() with input_dim=30
    model3.add(Flatten())
    model3.add(layers.Dense(16, activation="relu", kernel_initializer="uniform"))
    model3.add(Dropout(0.1))
    model3.add(layers.Dense(16, activation="relu", kernel_initializer="uniform"))
    model3.add(Dropout(0.1))
    model3.add(layers.Dense(1, activation="sigmoid", kernel_initializer="uniform"))
    model3.compile(optimizer=keras.optimizers.Adam(),
                   loss=keras.losses.categorical_crossentropy if loss == "categorical"
                   else keras.losses.binary_crossentropy,
                   metrics=["accuracy"])
    batches = [(X_train[i:i + 100], y_train[i:i + 100]) for i in range(0, 300, 100)]
    return {"model": model3, "batch": batches[0], "batches": batches, "inputs": X_train}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "categorical")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "binary")
