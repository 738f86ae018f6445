"""Binary classifier whose head ends in a sigmoid while the loss is binary cross-entropy *with
logits* (a second sigmoid inside the loss): the loss can never go below ~0.31 per sample and the
gradients shrink.

Source: github.com/YXNTU/GeneralDyG issue #6 ("Transformer outputs probabilities but training uses
BCEWithLogits (double sigmoid)", confirmed by the author): TransformerBinaryClassifier.forward does
``logits = self.classifier(mean_output); logits = self.sigmoid(logits).squeeze()`` and train.py's
criterion is ``torch.mean(F.binary_cross_entropy_with_logits(logits, labels, reduction='none'))``.
The transformer body is reduced to a 2-layer MLP over pooled features (the report is about the head
and the loss); Adam(1e-3); data: scikit-learn's breast-cancer features, standardised (binary).
Fault label: loss_mismatch (output_activation accepted). Keras twin: Dense(1, sigmoid) trained with
``tf.nn.sigmoid_cross_entropy_with_logits`` (Keras 3's BinaryCrossentropy(from_logits=True) would
quietly use the pre-sigmoid logits and train correctly). Fix: drop the sigmoid from the head.
"""

from __future__ import annotations

from typing import Any

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:YXNTU/GeneralDyG issue #6 (model/Transformer.py, train.py)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {})]


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return x[:256].astype("float32"), y[:256].astype("float32")


def _build(framework: str, sigmoid: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class BinaryClassifier(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.body = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
                self.classifier = nn.Linear(64, 1)
                self.sigmoid = nn.Sigmoid()

            def forward(self, x):
                logits = self.classifier(self.body(x))
                return (self.sigmoid(logits) if sigmoid else logits).squeeze()

        def criterion(logits, labels):
            return torch.mean(F.binary_cross_entropy_with_logits(logits, labels, reduction="none"))

        xt, yt = torch.tensor(x), torch.tensor(y)
        return {"model": BinaryClassifier(), "batch": (xt[:64], yt[:64]),
                "batches": [(xt[i:i + 64], yt[i:i + 64]) for i in range(0, 256, 64)],
                "loss_fn": criterion, "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((30,)), layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"),
                              layers.Dense(1, activation="sigmoid" if sigmoid else None)])
    import tensorflow as tf

    def criterion(labels, logits):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.reshape(labels, [-1, 1]), logits=logits))

    model.compile(loss=criterion, optimizer=keras.optimizers.Adam(1e-3))
    return {"model": model, "batch": (x[:64], y[:64]), "batches": [(x[i:i + 64], y[i:i + 64]) for i in range(0, 256, 64)]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, False)
