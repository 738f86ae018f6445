"""MorvanZhou's TensorFlow tutorial ``tutorial-contents/401_CNN.py`` (TF 1.x): an MNIST convnet fed from
``input_data.read_data_sets('./mnist', one_hot=True)``, whose images are already float32 in [0, 1]; the
graph divides the placeholder by 255 a second time, ``tf_x = tf.placeholder(tf.float32, [None, 28*28])/255.
# normalize to range (0, 1)``, so the first convolution sees pixels in [0, 1/255] (mean ~0.0005). Every
activation downstream is ~255x smaller than the initialisation expects, the logits start out and stay almost
input-independent, and Adam first has to grow the weights by orders of magnitude: the loss sits near
ln(10) = 2.30 for the first ~50-100 of the program's 600 steps before it starts to fall, and stays an order
of magnitude behind the fixed run after that.

Source: github.com/MorvanZhou/Tensorflow-Tutorial, ``tutorial-contents/401_CNN.py`` at 9f4b057 (buggy: the
``/255.`` on the placeholder with the comment "normalize to range (0, 1)"), fixed by
504f4b452fc398f5902cabebd5fa106775c0ce57 ("update", 2017-05-11), which drops the division and annotates the
loader "they has been normalized to range (0,1)" (same fix in ``402_RNN_classification.py``). The division
came back in f181033 ("normalized input", 2017-07-17) and is still in the file at HEAD.
Program lines kept: ``BATCH_SIZE = 50``, ``LR = 0.001``, the graph (``tf.layers.conv2d(image, 16, 5, 1,
'same', relu)`` -> ``max_pooling2d(2, 2)`` -> ``conv2d(32, 5, 1, 'same', relu)`` -> ``max_pooling2d(2, 2)`` ->
reshape to 7*7*32 -> ``tf.layers.dense(flat, 10)``), ``tf.losses.softmax_cross_entropy(onehot_labels=tf_y,
logits=output)``, ``tf.train.AdamOptimizer(LR)``, the one-hot labels and the in-graph ``/255.``.
Ported minimally: Keras twin as a functional model (``Rescaling(1/255)`` standing for the in-graph division,
``Reshape`` to (28, 28, 1), ``Conv2D``/``MaxPooling2D``/``Flatten``/``Dense`` with tf.layers' defaults:
glorot-uniform kernels, zero biases), ``CategoricalCrossentropy(from_logits=True)`` on the one-hot labels,
``Adam(1e-3, epsilon=1e-8)`` (TF1's epsilon). Torch twin: the same layers channels-first, glorot-uniform
kernels and zero biases, the ``/255.`` as the first op of ``forward``, ``nn.CrossEntropyLoss()`` on class ids,
``Adam(lr=1e-3)``. The division lives in the model, as in the program: the arrays fed are in [0, 1].
Data stand-in (no MNIST download): ``_data.mnist_like(400)`` (sklearn digits blown up to 28x28) divided by 255
and flattened to (n, 784) float32, i.e. what ``input_data`` delivers; 8 batches of 50.
Fault label: inputs_not_normalized (the network's input is scaled by 1/255 twice, to [0, 0.004]).
Fix (504f4b4): no ``/255.`` on the placeholder; the loader already returns [0, 1] pixels.
Symptom in a short loop (plain loop cycling over the 8 batches; full-data loss / accuracy on the 400 images at
steps 0 / 25 / 50 / 100 / 200 / 600): torch buggy 2.303 / 2.297 / 2.240 / 1.300 / 0.244 / 0.041 (accuracy 0.13
/ 0.27 / 0.48 / 0.90 / 0.96 / 1.00), fixed 2.319 / 0.531 / 0.089 / 0.031 / 0.048 / 0.000 (0.92 at step 25);
Keras (train_on_batch) buggy 2.303 / 2.295 / 2.231 / 1.215 / 0.233 / 0.037, fixed 2.315 / 0.569 / 0.102 /
0.031 / 0.015 / 0.000. Overfitting one batch of 50 for 100 steps: torch buggy 2.303 -> 0.745, fixed 2.315 ->
0.0007; Keras buggy 2.303 -> 0.800, fixed 2.329 -> 0.0006. So the fault costs ~100 steps of plateau at ln(10)
and then trails the fixed run by an order of magnitude; with torch's default (kaiming) conv init instead of
glorot the plateau lasted ~150 steps. About 40-50 ms per step on one CPU thread in both frameworks (the
program's own sizes; nothing shrunk).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = ("github:MorvanZhou/Tensorflow-Tutorial tutorial-contents/401_CNN.py@9f4b057 (fix "
          "504f4b452fc398f5902cabebd5fa106775c0ce57; reintroduced in f181033)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 10}), ("output_range", {"kind": "logits", "num_classes": 10}),
          ("not_constant_predictions", {}), ("inputs_normalized", {})]

BATCH_SIZE = 50
LR = 0.001  # learning rate
N_IMAGES = 400  # 8 batches


def _mnist_input_data() -> tuple[Any, Any]:
    """What ``input_data.read_data_sets(..., one_hot=True)`` hands the program: float32 [0, 1], (n, 784)."""
    imgs, y = _data.mnist_like(N_IMAGES)
    x = (imgs.astype("float32") / 255.0).reshape(len(imgs), 28 * 28)
    return x, y


def _keras(divide_again: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)  # tf.set_random_seed(1); np.random.seed(1)
    x, y = _mnist_input_data()
    y1h = _data.one_hot(y, 10)
    tf_x = keras.Input((28 * 28,))
    h = layers.Rescaling(1.0 / 255)(tf_x) if divide_again else tf_x  # tf_x = placeholder(...)/255.
    image = layers.Reshape((28, 28, 1))(h)  # (batch, height, width, channel)
    conv1 = layers.Conv2D(16, 5, strides=1, padding="same", activation="relu")(image)  # -> (28, 28, 16)
    pool1 = layers.MaxPooling2D(pool_size=2, strides=2)(conv1)  # -> (14, 14, 16)
    conv2 = layers.Conv2D(32, 5, strides=1, padding="same", activation="relu")(pool1)  # -> (14, 14, 32)
    pool2 = layers.MaxPooling2D(2, 2)(conv2)  # -> (7, 7, 32)
    flat = layers.Flatten()(pool2)  # -> (7*7*32, )
    output = layers.Dense(10)(flat)  # output layer
    model = keras.Model(tf_x, output)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    batches = _data.batches(x, y1h, BATCH_SIZE)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:100]}


def _torch(divide_again: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(1)

    def conv(c_in: int, c_out: int) -> Any:
        layer = nn.Conv2d(c_in, c_out, 5, stride=1, padding=2)  # 'same'
        nn.init.xavier_uniform_(layer.weight)  # tf.layers default glorot_uniform
        nn.init.zeros_(layer.bias)
        return layer

    class CNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = conv(1, 16)
            self.conv2 = conv(16, 32)
            self.output = _nets.torch_dense(7 * 7 * 32, 10)

        def forward(self, tf_x: Any) -> Any:
            if divide_again:
                tf_x = tf_x / 255.0  # the program's in-graph division
            image = tf_x.view(-1, 1, 28, 28)
            pool1 = torch.max_pool2d(torch.relu(self.conv1(image)), 2, 2)
            pool2 = torch.max_pool2d(torch.relu(self.conv2(pool1)), 2, 2)
            return self.output(pool2.flatten(1))

    x, y = _mnist_input_data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = _data.batches(xt, yt, BATCH_SIZE)
    return {"model": CNN(), "batch": batches[0], "batches": batches, "inputs": xt[:100],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=LR)}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)
