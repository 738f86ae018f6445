"""cleverhans' first MNIST tutorial (``tutorials/mnist_tutorial.py`` with ``cleverhans/utils_mnist.py``
and ``cleverhans/utils_tf.py``): a Keras 1 CNN ending in ``Activation('softmax')`` trained by
``tf_model_train``, whose loss is ``tf_model_loss(y, model)`` =
``tf.reduce_mean(keras.backend.categorical_crossentropy(y, model))``. The Keras 1 backend signature is
``categorical_crossentropy(output, target)``, so the one-hot labels are passed as the prediction and the
model's probabilities as the target: the loss is -sum_k p_k * log(clip(y_k, 1e-7, 1 - 1e-7)) =
(1 - p_true) * 16.1, i.e. a linear "expected error" instead of the cross-entropy. It starts near 14.5
rather than log(10) ~ 2.3, its gradient vanishes where the softmax saturates on a wrong class, and the
issue reports that deeper models fail to train with it.

Source: github.com/cleverhans-lab/cleverhans issue #25 "wrong order in tf_model_loss" ("it should be
categorical_crossentropy(model, y) instead of categorical_crossentropy(y, model) ... will make the
training fail to work when I tried a deeper model on cifar-10"), fixed by Ian Goodfellow's PR #31 "Fix
mistakes in the loss": commit 701e187357a7b694ac695a15640eb18a8f784273 ("fix the loss":
``categorical_crossentropy(output=model, target=y, ...)``) and a2b4632f ("simplify loss":
``tf.nn.softmax_cross_entropy_with_logits`` on the softmax's input), after which 5aa89bce raised the
test's expected MNIST accuracy from 0.97 to 0.993 "now that loss is fixed". Program lines kept (at
701e187^): ``model_mnist()`` (Convolution2D(nb_filters, 5, 5, border_mode='valid'), ReLU,
Convolution2D(nb_filters, 3, 3), ReLU, MaxPooling2D(nb_pool), Dropout(0.25), Flatten, Dense(128), ReLU,
Dropout(0.5), Dense(nb_classes), softmax; Keras 1 default Glorot-uniform init), ``data_mnist()``
(float32 / 255, one-hot ``to_categorical``), ``tf.train.AdadeltaOptimizer(learning_rate=
FLAGS.learning_rate=0.1, rho=0.95, epsilon=1e-08)``, ``nb_classes = 10``, ``nb_pool = 2``.
Ported minimally: the TF1 session loop (``train_step.run(feed_dict=..., learning_phase: 1)``) is the
Keras model compiled with that loss and optimizer (dropout on in training); Keras 1's
``categorical_crossentropy(output, target)`` (normalise ``output`` to sum 1, clip to [1e-7, 1 - 1e-7],
``-sum(target * log(output))``) is re-written with ``keras.ops`` and called exactly as
``tf_model_loss`` called it; Theano 'th' (1, 28, 28) input ordering becomes channels-last (28, 28, 1).
The flags ``batch_size`` (128) and ``nb_filters`` (64) are cut to 32 and 32 to keep a CPU step near
50 ms.
Data: ``_data.mnist_like`` (MNIST-shaped uint8 digits) through ``data_mnist``'s own steps, 256 images.
As the issue says, on MNIST the network still fits (more slowly, 97% instead of 99.3% test accuracy
after 5aa89bce); the fault shows at once in the initial loss (~14.5 where an uninformative softmax over 10
classes scores log(10) ~ 2.3) and in the loss's scale and shape over training.
Fault label: loss_mismatch|init_loss_off. Fix (PR #31, 701e187): ``categorical_crossentropy(output=model,
target=y)``, i.e. the ordinary cross-entropy of the softmax output against the labels.
Torch twin: the same network ending in ``F.softmax`` and the same Keras-1-style
``categorical_crossentropy(output, target)`` helper called as ``categorical_crossentropy(y, probs)``;
fixed: ``categorical_crossentropy(probs, y)``. Layers get the Keras Glorot-uniform / zero init.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "loss_mismatch|init_loss_off"
SOURCE = ("github:cleverhans-lab/cleverhans issue #25, PR #31 (cleverhans/utils_tf.py@701e187^, "
          "utils_mnist.py, tutorials/mnist_tutorial.py; fix 701e187 + a2b4632f)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("init_loss", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 10})]

batch_size = 32  # FLAGS.batch_size = 128 in the tutorial
nb_classes = 10  # program flags
img_rows = 28
img_cols = 28
nb_filters = 32  # FLAGS.nb_filters = 64 in the tutorial
nb_pool = 2
learning_rate = 0.1
_EPSILON = 1e-7  # Keras 1 backend epsilon (10e-8)


def _data_mnist(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``data_mnist()``: float32 pixels / 255 (channels-last here), one-hot labels."""
    imgs, labels = _data.mnist_like(n)
    x = imgs.reshape(imgs.shape[0], img_rows, img_cols, 1).astype("float32")
    x /= 255
    return x, _data.one_hot(labels, nb_classes)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _data_mnist()
    if framework == "keras":
        import keras
        from keras import ops
        from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D

        def categorical_crossentropy(output, target):
            """Keras 1 ``keras.backend.categorical_crossentropy(output, target, from_logits=False)``."""
            output = output / ops.sum(output, axis=-1, keepdims=True)
            output = ops.clip(output, _EPSILON, 1. - _EPSILON)
            return -ops.sum(target * ops.log(output), axis=-1)

        def tf_model_loss(y, model):
            if fixed:  # 701e187
                return ops.mean(categorical_crossentropy(output=model, target=y))
            return ops.mean(categorical_crossentropy(y, model))

        model = keras.Sequential([  # model_mnist()
            Input((img_rows, img_cols, 1)),
            Conv2D(nb_filters, (5, 5), padding="valid"),
            Activation("relu"),
            Conv2D(nb_filters, (3, 3)),
            Activation("relu"),
            MaxPooling2D(pool_size=(nb_pool, nb_pool)),
            Dropout(0.25),
            Flatten(),
            Dense(128),
            Activation("relu"),
            Dropout(0.5),
            Dense(nb_classes),
            Activation("softmax"),
        ])
        model.compile(loss=tf_model_loss, optimizer=keras.optimizers.Adadelta(learning_rate=learning_rate, rho=0.95,
                                                                              epsilon=1e-08))
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}

    import torch
    import torch.nn.functional as F
    from torch import nn

    class ModelMnist(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, nb_filters, 5)
            self.conv2 = nn.Conv2d(nb_filters, nb_filters, 3)
            self.drop1 = nn.Dropout(0.25)
            self.fc1 = nn.Linear(nb_filters * 11 * 11, 128)
            self.drop2 = nn.Dropout(0.5)
            self.fc2 = nn.Linear(128, nb_classes)
            for m in self.modules():  # Keras defaults
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):  # x: (N, 28, 28, 1)
            z = F.relu(self.conv2(F.relu(self.conv1(x.permute(0, 3, 1, 2)))))
            z = self.drop1(F.max_pool2d(z, nb_pool))
            z = z.permute(0, 2, 3, 1).flatten(1)  # Flatten over channels-last, as in Keras
            z = self.drop2(F.relu(self.fc1(z)))
            return F.softmax(self.fc2(z), dim=1)

    def categorical_crossentropy(output, target):
        output = output / output.sum(dim=-1, keepdim=True)
        output = output.clamp(_EPSILON, 1. - _EPSILON)
        return -(target * torch.log(output)).sum(dim=-1)

    class TFModelLoss(nn.Module):
        """``tf_model_loss(y, model)``, called as loss_fn(model(x), y)."""

        def forward(self, model, y):
            if fixed:
                return categorical_crossentropy(output=model, target=y).mean()
            return categorical_crossentropy(y, model).mean()

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": ModelMnist(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": TFModelLoss(),
            "optimizer": lambda p: torch.optim.Adadelta(p, lr=learning_rate, rho=0.95, eps=1e-08)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
