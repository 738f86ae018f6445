"""Five-class MLP with a sigmoid output layer trained with categorical cross-entropy ("high accuracy
but very bad prediction ... I got all zeros").

Source: github.com/keras-team/keras issue #9939 ("good accuracy but bad prediction"): Dense(14, relu,
input_shape=(14,)), Dropout(0.5), Dense(14, relu), Dropout(0.5), Dense(14, relu), Dense(5, sigmoid);
SGD(lr=0.01, decay=1e-6, momentum=0.001, nesterov=True); 'categorical_crossentropy'; fit's default
batch 32. The 14 features are not given: a seeded 5-class make_classification with 14 standardised
features stands in; one-hot labels. Keras 3 port: decay dropped, and the loss is Keras 2's
'categorical_crossentropy' written out (outputs divided by their row sum, clipped, -sum(y log p)):
Keras 3's own loss takes the pre-sigmoid logits of a sigmoid layer (``_keras_logits``) and trains
exactly like a softmax head, which would remove the fault (measured: identical loss curves).
Fault label: output_activation (sigmoid where a softmax belongs). Fix: softmax head.
Keras only (the torch spelling of a categorical loss takes logits, so the fault reads differently).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:keras-team/keras issue #9939"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "probabilities"})]


def _build(head: str) -> dict[str, Any]:
    import keras
    from keras.layers import Dense, Dropout
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=256, n_features=14, n_informative=8, n_classes=5, random_state=0)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    yh = _data.one_hot(y, 5)
    model = keras.Sequential([keras.Input((14,)), Dense(14, activation="relu"), Dropout(0.5),
                              Dense(14, activation="relu"), Dropout(0.5), Dense(14, activation="relu"),
                              Dense(5, activation=head)])
    from keras import ops

    def categorical_crossentropy(target, output):  # Keras 2.x backend semantics (from_logits=False)
        output = output / ops.sum(output, axis=-1, keepdims=True)
        output = ops.clip(output, 1e-7, 1 - 1e-7)
        return -ops.sum(target * ops.log(output), axis=-1)

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.001, nesterov=True),
                  loss=categorical_crossentropy)
    return {"model": model, "batch": (x[:32], yh[:32]), "batches": _data.batches(x, yh, 32)}


def buggy(framework: str) -> dict[str, Any]:
    return _build("sigmoid")


def fixed(framework: str) -> dict[str, Any]:
    return _build("softmax")
