"""TensorFlow guide "Training and evaluation with the built-in methods" (``site/en/guide/keras/
train_and_evaluate.ipynb``), Part II "Using the GradientTape: a first end-to-end example": the guide's MNIST
model (``Input(784)`` -> ``Dense(64, relu, name='dense_1')`` -> ``Dense(64, relu, name='dense_2')`` ->
``Dense(10, name='predictions')``) trained by a custom ``tf.GradientTape`` loop with
``keras.optimizers.SGD(learning_rate=1e-3)``, batches of 64, on ``x_train.reshape(60000, 784) / 255``. PR #1225
("Fix loss function bug in GradientTape example": "Add from_logits=True to loss function in tf.GradientTape
example. The code is broken without it.") changed the loss to
``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` while the cell's output layer still was
``Dense(10, activation='softmax', name='predictions')``: the loss takes the softmax probabilities for logits and
applies a second softmax. With 10 classes the loss cannot fall below -log(e / (e + 9)) ~ 1.46, and the second
softmax's Jacobian (entries at most 1/4, about 1/10 at the start) damps every gradient, so SGD at 1e-3 barely moves.

Source: github.com/tensorflow/docs PR #1225 (fibigerg, commits 53cf54044c2b3bdcfd79095328c2a05b6c23b7cd and
c4fb275b3 "Add training=True to model in GradientTape example", merged as ab7118f27 on 2020-01-23), the buggy cell
at 43d61b5e5^; fixed by 43d61b5e5 (Billy Lamberta, "Remove softmax", same day): ``outputs =
layers.Dense(10, name='predictions')(x)``. Program lines kept: the cell's model (layer sizes, relu, names),
``SGD(learning_rate=1e-3)``, ``SparseCategoricalCrossentropy(from_logits=True)``, ``batch_size = 64``,
``model(x_batch_train, training=True)`` and the preprocessing ``reshape(-1, 784).astype('float32') / 255``.
Ported minimally: the ``tf.data`` shuffle/batch pipeline is replaced by fixed batches. Keras twin: the guide's
functional model compiled with ``SGD(1e-3)``; the loss is written with ``keras.ops`` as what TF 2.1's
``SparseCategoricalCrossentropy(from_logits=True)`` computed on the eager output (mean of
``-log_softmax(output)[y]``): Keras 3 on TensorFlow looks through a softmax output's ``_keras_logits`` even when
``from_logits=True`` (it only warns) and would silently undo the fault. Torch twin: ``Linear`` layers with Keras'
glorot-uniform kernels and zero biases, a ``Softmax(dim=1)`` after the last one in the buggy version,
``nn.CrossEntropyLoss()`` (the same from-logits loss on class ids) and ``SGD(lr=1e-3)``. Data stand-in (no MNIST
download): ``_data.mnist_like(512)`` (sklearn digits blown up to 28x28 uint8, 0..255), flattened to 784 and divided
by 255 as the guide does; 8 batches of 64, labels int64 class ids.
Fault label: output_activation|loss_mismatch (softmax output fed to a from-logits cross-entropy).
Fix (43d61b5e5): ``outputs = layers.Dense(10, name='predictions')(x)`` -- the output layer returns logits.
Symptom in a short loop: plain loop cycling over the 8 batches with the guide's SGD(1e-3), 2,000 steps
(about 2 epochs of the guide's 3 over MNIST would be ~2,800 steps); mean loss over the 512 images at steps 0 / 100 /
1,000 / 2,000: torch buggy 2.297 / 2.296 / 2.279 / 2.250, fixed 2.284 / 2.156 / 1.238 / 0.614; Keras
(train_on_batch) buggy 2.306 / 2.305 / 2.293 / 2.279, fixed 2.392 / 2.246 / 1.489 / 0.736. Overfitting one batch of
64 for 200 steps: torch buggy 2.300 -> 2.296, fixed 2.318 -> 2.006; Keras buggy 2.305 -> 2.302, fixed 2.381 -> 2.051
(SGD at 1e-3 is slow even when fixed; the buggy loss stays flat at ln 10). About 2-3 ms (torch) / 10 ms (Keras) per
step on one CPU thread; nothing shrunk.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:tensorflow/docs PR #1225 (site/en/guide/keras/train_and_evaluate.ipynb GradientTape example "
          "@43d61b5e5^, loss changed in 53cf54044; fix 43d61b5e5 'Remove softmax')")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 10}),
          ("output_range", {"kind": "logits", "num_classes": 10}), ("gradients_flow", {})]

num_classes = 10
num_features = 784
learning_rate = 1e-3  # optimizer = keras.optimizers.SGD(learning_rate=1e-3)
batch_size = 64
n_images = 512  # 8 batches of the stand-in


def _mnist() -> tuple[Any, Any]:
    imgs, y = _data.mnist_like(n_images)
    x = imgs.reshape(-1, num_features).astype("float32") / 255  # x_train.reshape(60000, 784).astype('float32') / 255
    return x, y


def _keras(softmax_out: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    x, y = _mnist()
    inputs = keras.Input(shape=(784,), name='digits')
    h = layers.Dense(64, activation='relu', name='dense_1')(inputs)
    h = layers.Dense(64, activation='relu', name='dense_2')(h)
    if softmax_out:  # PR #1225 state
        outputs = layers.Dense(10, activation='softmax', name='predictions')(h)
    else:  # 43d61b5e5
        outputs = layers.Dense(10, name='predictions')(h)
    model = keras.Model(inputs=inputs, outputs=outputs)

    def loss_fn(y_true, y_pred):  # SparseCategoricalCrossentropy(from_logits=True) as TF 2.1 computed it
        y_true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        return ops.mean(-ops.sum(ops.one_hot(y_true, num_classes) * ops.log_softmax(y_pred, axis=-1), axis=-1))

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss=loss_fn)
    batches = _data.batches(x, y, batch_size)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:256]}


def _torch(softmax_out: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)
    layers_ = [_nets.torch_dense(num_features, 64), nn.ReLU(),
               _nets.torch_dense(64, 64), nn.ReLU(),
               _nets.torch_dense(64, num_classes)]
    if softmax_out:
        layers_.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers_)
    x, y = _mnist()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = _data.batches(xt, yt, batch_size)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:256],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)
