"""keras.io example "Image similarity estimation using a Siamese Network with a contrastive loss" (Mehdi,
``examples/vision/siamese_contrastive.py``): MNIST image pairs, a shared embedding tower
(``BatchNormalization`` on the raw float32 pixels, ``Conv2D(4, 5, tanh)``, ``AveragePooling2D(2)``,
``Conv2D(16, 5, tanh)``, ``AveragePooling2D(2)``, ``Flatten``, ``BatchNormalization``, ``Dense(10, tanh)``),
a ``Lambda(euclidean_distance)`` merging the two embeddings, then ``BatchNormalization()`` and
``Dense(1, activation="sigmoid")`` as the output, trained with the contrastive loss
``mean((1 - y) * square(pred) + y * square(max(margin - pred, 0)))``, ``margin = 1``, labels 0 for a pair of
the same digit and 1 for different digits (the label convention of keras-io PR #1050), ``optimizer="RMSprop"``,
``batch_size = 16``. The contrastive loss expects a distance, but the model's output is a learned sigmoid of
the batch-normalised distance: a value in (0, 1) that can never reach the margin of 1, so every
different-digit pair keeps a loss > 0 with a gradient squashed by the saturating sigmoid, and the output is
a classifier score rather than the embedding distance the loss and the example's text describe.

Source: github.com/keras-team/keras-io issue #2230 ("model's final layer sigmoid activation is inconsistent
with contrastive loss (with integer margin)", Keras 3.13) and PR #2261 (maitry63, merged 2026-01: "Because
sigmoid squashes values between 0 and 1, the model could never output a distance greater than 1.0 ... the
model was not able to push dissimilar images far enough apart to satisfy the loss function. Removed the final
'Dense(1, activation="sigmoid")' layer so the model can output raw Euclidean distance.").
Program: ``siamese_contrastive.py`` as of issue #2230 (model, ``loss(margin)``, ``make_pairs``, ``compile``,
hyperparameters; the 2021 file read at keras-io@12bad05f has the same model and loss, with the labels
before PR #1050). Ported minimally: the two ``Input((28, 28, 1))`` of the model become one input holding the
pair, shaped like the program's ``pairs_train`` array, (N, 2, 28, 28, 1), split inside the model into the
two towers (the checks take one input tensor); Keras 3 ops for the distance and the loss.
Fix (PR #2261, as its description states; the diff itself was not readable here): no ``Dense(1, sigmoid)``
head -- the model outputs the Euclidean distance of the two embeddings, which the contrastive loss scores.
Data stand-in (no download): MNIST-like digits (scikit-learn's 8x8 digits blown up to 28x28, float32
0..255 as the program's ``astype("float32")``), 64 images paired by ``make_pairs`` (seeded ``random``): one
same-digit and one different-digit pair per image, 128 pairs, 8 batches of 16; labels float32 (N,).
Torch twin: the same towers (``BatchNorm2d(1)``, ``Conv2d`` 5x5 + tanh, ``AvgPool2d(2)``, ``BatchNorm1d(256)``,
``Linear(256, 10)`` + tanh; Keras' BN eps 1e-3 / momentum 0.99, glorot kernels), the same distance, the
buggy ``BatchNorm1d(1)`` + ``Linear(1, 1)`` + sigmoid head, the contrastive loss as a function of
(pred, y) with y shaped (N, 1) like the prediction, ``RMSprop(lr=1e-3, alpha=0.9, eps=1e-7)``.
Fault label: output_activation (a sigmoid-bounded output fed to a margin loss on distances).
Symptom in a short loop (own script): on one batch of 16, 150 RMSprop steps leave the buggy loss at 0.10
(Keras) / 0.022 (torch) while the fixed one reaches 1e-4 in both; over the 8 batches, 15 epochs end at 0.196
vs 0.096 (Keras) and 0.148 vs 0.119 (torch); the buggy outputs stay inside (0.35, 0.74) (Keras) / (0.16,
0.94) (torch) while the fixed distances spread over (3e-4, 5.1); pair accuracy (output > 0.5 vs label, the
example's "accuracy", inference mode) 0.62 vs 0.75 (Keras), 0.53 vs 0.68 (torch).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:keras-team/keras-io issue #2230, PR #2261 (examples/vision/siamese_contrastive.py, "
          "Dense(1, sigmoid) head under the contrastive loss)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

epochs = 10
batch_size = 16
margin = 1  # Margin for contrastive loss.


def make_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The program's pair builder (labels per keras-io PR #1050: 0 = same digit, 1 = different)."""
    num_classes = max(y) + 1
    digit_indices = [np.where(y == i)[0] for i in range(num_classes)]
    pairs = []
    labels = []
    for idx1 in range(len(x)):
        # add a matching example
        x1 = x[idx1]
        label1 = y[idx1]
        idx2 = random.choice(digit_indices[label1])
        x2 = x[idx2]
        pairs += [[x1, x2]]
        labels += [0]
        # add a non-matching example
        label2 = random.randint(0, num_classes - 1)
        while label2 == label1:
            label2 = random.randint(0, num_classes - 1)
        idx2 = random.choice(digit_indices[label2])
        x2 = x[idx2]
        pairs += [[x1, x2]]
        labels += [1]
    return np.array(pairs), np.array(labels).astype("float32")


def _pairs(n_images: int = 64) -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    x, y = mnist_like(n_images)
    random.seed(0)
    pairs, labels = make_pairs(x.astype("float32"), y)
    return pairs[..., None], labels  # (2n, 2, 28, 28, 1), (2n,)


def _build(framework: str, sigmoid_head: bool) -> dict[str, Any]:
    pairs, labels = _pairs()
    batches = [(pairs[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(pairs), batch_size)]
    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(0)

        def euclidean_distance(vects: Any) -> Any:
            x, y = vects
            sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
            return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))

        input = layers.Input((28, 28, 1))
        x = layers.BatchNormalization()(input)
        x = layers.Conv2D(4, (5, 5), activation="tanh")(x)
        x = layers.AveragePooling2D(pool_size=(2, 2))(x)
        x = layers.Conv2D(16, (5, 5), activation="tanh")(x)
        x = layers.AveragePooling2D(pool_size=(2, 2))(x)
        x = layers.Flatten()(x)
        x = layers.BatchNormalization()(x)
        x = layers.Dense(10, activation="tanh")(x)
        embedding_network = keras.Model(input, x)

        pair = layers.Input((2, 28, 28, 1))  # port: the program's two Inputs, held as one pair tensor
        input_1 = layers.Lambda(lambda p: p[:, 0])(pair)
        input_2 = layers.Lambda(lambda p: p[:, 1])(pair)
        tower_1 = embedding_network(input_1)
        tower_2 = embedding_network(input_2)
        merge_layer = layers.Lambda(euclidean_distance)([tower_1, tower_2])
        if sigmoid_head:
            normal_layer = layers.BatchNormalization()(merge_layer)
            output_layer = layers.Dense(1, activation="sigmoid")(normal_layer)
        else:
            output_layer = merge_layer
        siamese = keras.Model(inputs=pair, outputs=output_layer)

        def loss(margin: float = 1) -> Any:
            def contrastive_loss(y_true: Any, y_pred: Any) -> Any:
                square_pred = ops.square(y_pred)
                margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
                return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)

            return contrastive_loss

        siamese.compile(loss=loss(margin=margin), optimizer="RMSprop", metrics=["accuracy"])
        return {"model": siamese, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)

    def bn(cls: type, c: int) -> nn.Module:
        return cls(c, eps=1e-3, momentum=0.01)

    def dense(cin: int, cout: int) -> nn.Linear:
        layer = nn.Linear(cin, cout)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class Siamese(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            conv1, conv2 = nn.Conv2d(1, 4, 5), nn.Conv2d(4, 16, 5)
            for c in (conv1, conv2):
                nn.init.xavier_uniform_(c.weight)
                nn.init.zeros_(c.bias)
            self.embedding_network = nn.Sequential(
                bn(nn.BatchNorm2d, 1), conv1, nn.Tanh(), nn.AvgPool2d(2), conv2, nn.Tanh(), nn.AvgPool2d(2),
                nn.Flatten(), bn(nn.BatchNorm1d, 16 * 4 * 4), dense(16 * 4 * 4, 10), nn.Tanh())
            self.head = (nn.Sequential(bn(nn.BatchNorm1d, 1), dense(1, 1), nn.Sigmoid()) if sigmoid_head
                         else nn.Identity())

        def forward(self, pair: torch.Tensor) -> torch.Tensor:
            tower_1 = self.embedding_network(pair[:, 0])
            tower_2 = self.embedding_network(pair[:, 1])
            sum_square = ((tower_1 - tower_2) ** 2).sum(dim=1, keepdim=True)
            distance = torch.sqrt(torch.clamp(sum_square, min=1e-7))
            return self.head(distance)

    def contrastive_loss(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        square_pred = y_pred ** 2
        margin_square = torch.clamp(margin - y_pred, min=0) ** 2
        return torch.mean((1 - y_true) * square_pred + y_true * margin_square)

    # torch layout: (N, 2, 1, 28, 28) pairs, labels (N, 1) like the prediction
    tb = [(torch.tensor(np.ascontiguousarray(a.transpose(0, 1, 4, 2, 3))), torch.tensor(b[:, None]))
          for a, b in batches]
    return {"model": Siamese(), "batch": tb[0], "batches": tb, "loss_fn": contrastive_loss,
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_head=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_head=False)
