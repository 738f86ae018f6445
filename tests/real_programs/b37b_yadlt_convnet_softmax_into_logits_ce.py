"""Deep-Learning-TensorFlow (gabrieleangeletti, a.k.a. blackecho, "yadlt"): the convolutional network
``models/convolutional_models/conv_net.py`` (``ConvolutionalNetwork``) run by ``command_line/run_conv_net.py`` on
MNIST. The layer string of the project's documented command is ``conv2d-5-5-32-1,maxpool-2,conv2d-5-5-64-1,
maxpool-2,full-1024,softmax``: ``tf.nn.relu(conv2d(x, W, stride 1, 'SAME') + b)``, ``max_pool`` 2x2 stride 2
'SAME', the first ``full`` layer ``relu(matmul(flatten, W) + b)`` followed by ``tf.nn.dropout(h, keep_prob)``, and
the ``softmax`` layer ``self.softmax_out = tf.nn.softmax(tf.matmul(next_layer_feed, W_sm) + b_sm)``; every weight
``tf.truncated_normal(stddev=0.01)``, every bias ``tf.constant(0.01)``; inputs are the 784 MNIST pixels in [0, 1]
(``datasets.load_mnist_dataset(mode='supervised')``, TF's ``input_data`` with one-hot float labels), reshaped to
28x28x1 inside the graph.

The fault (0edb182^): with ``loss_func='cross_entropy'`` (the command-line default) the cost is
``tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(self.softmax_out, self.input_labels))``: the network's
*softmax probabilities* go in as *logits*, so a second softmax is taken over values in [0, 1]. That distribution
can never put more than e / (e + 9) = 0.23 on the true class, so the loss is bounded below by
log((e + 9) / e) = 1.46 instead of 0, and its gradient reaches the last layer through two softmaxes (about 10x
smaller than the cross-entropy's at initialisation).

Fix (commit 0edb182373810ff231fc136c351a00931977100c, "Added AdamOptimizer for conv nets. Added log info for conv
nets. Fixed cross_entropy computation for conv nets"): the cost reads the probabilities as probabilities,
``- tf.reduce_mean(self.input_labels * tf.log(self.softmax_out) + (1 - self.input_labels) * tf.log(1 - self.softmax_out))``
(mean over batch and classes). The same commit added the ``adam`` choice of optimizer.
This buggy/fixed pair is also TheDeepChecker's ``GH_buggy_examples/DLT_0edb182`` (github:thedeepchecker/thedeepchecker).

Source: github.com/gabrieleangeletti/Deep-Learning-TensorFlow, ``models/convolutional_models/conv_net.py`` and
``command_line/run_conv_net.py`` @0edb182^ (conv net added in 3c1c064), fixed in
0edb182373810ff231fc136c351a00931977100c.

Training configuration. At 0edb182^ ``run_conv_net.py`` defaults to plain SGD with lr 0.01, batch 10, keep_prob 1,
and the README's example command uses SGD lr 0.001, batch 50, dropout 0.5. Under either, with the weights drawn at
stddev 0.01, *neither* program moves in a short run (measured, torch, full-128, SGD 0.01, batch 10, 400 steps: buggy
2.30259 -> 2.30258, fixed 0.32509 -> 0.32508, accuracy at chance for both; the author raised the stddevs to 0.1 in
the later ded6612). So this port uses the project's documented command from the commit that documented the
optimizer added by the fix (index.rst @b0667a9, and TheDeepChecker's run of this bug): ``--layers conv2d-5-5-32-1,
maxpool-2,conv2d-5-5-64-1,maxpool-2,full-1024,softmax --batch_size 50 --learning_rate 1e-4 --opt adam
--dropout 0.5`` (``tf.train.AdamOptimizer(1e-4)``, keep_prob 0.5 while training). The model, its initialisation,
the loss lines and the data handling are the program's own.
Ported minimally: TF 0.8 graph code -> torch ``nn.Module`` and a Keras 3 ``Sequential`` with the same layers
(torch: NCHW, ``padding=2`` for the 5x5 'SAME' convolutions, the 7x7 maps flattened channel-first; weights
``trunc_normal_(std=0.01, a=-0.02, b=0.02)`` = TF's two-sigma truncation, biases 0.01). Both programs' costs are
written out as the TF lines computed them: buggy torch ``nn.CrossEntropyLoss`` on the softmax output with the
one-hot float labels (= ``softmax_cross_entropy_with_logits``), buggy Keras ``tf.nn.softmax_cross_entropy_with_
logits(labels, logits=softmax_out)`` (not a Keras loss, which might recognise the softmax); the fix's cost as in
0edb182. Summaries, saver, validation and ``predict`` left out.
Data stand-in (no MNIST download): 400 MNIST-shaped images from scikit-learn's bundled 8x8 digits blown up 3x3 and
padded to 28x28 (``_data.mnist_like``), scaled to [0, 1] and flattened to 784 floats as ``input_data`` gives them,
one-hot float32 labels; 8 batches of 50 (the batch size).

Fault label: loss_mismatch (softmax probabilities fed to a loss that applies its own softmax).
Measured (own plain loop, seeded, OMP_NUM_THREADS=1, cycling over the 8 batches, loss/accuracy on all 400
images; buggy loss is the double-softmax CE, fixed loss the commit's per-entry binary cross-entropy, so compare the
buggy loss with its floor 1.46 and the accuracies):
  torch (this module's objects):  step 0 buggy 2.3026 (acc 0.10) / fixed 0.3251 (0.10); 100: 1.753 (0.77) /
    0.0768 (0.92); 200: 1.520 (0.97) / 0.0163 (0.99); 400: 1.476 (0.99) / 0.0039 (0.995).
  keras (train_on_batch):  step 0 buggy 2.3026 (0.13) / fixed 0.3251 (0.13); 100: 1.745 (0.77) / 0.0728 (0.92);
    200: 1.516 (0.975) / 0.0144 (0.98); 400: 1.477 (0.99) / 0.0031 (0.998).
  The buggy loss stalls just above its floor 1.46 while the accuracy still climbs (Adam rescales the shrunken
  gradient); the fixed loss goes to ~0.
  One batch, 300 steps, loss on that batch: torch buggy 2.303 -> 2.082 (100) -> 1.778 (300) vs fixed 0.325 ->
  0.061 -> 0.0057; keras buggy 2.303 -> 2.075 -> 1.870 vs fixed 0.325 -> 0.060 -> 0.0012.
  (A check-writer's caveat: the two losses differ in scale by construction, 2.30 vs 0.325 for a uniform
  prediction; each equals its own loss at a uniform output, so ``init_loss`` is not in CHECKS.)
About 50-75 ms per step (batch 50) on one CPU thread (torch ~50 ms, Keras train_on_batch ~70 ms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:gabrieleangeletti/Deep-Learning-TensorFlow models/convolutional_models/conv_net.py, "
          "command_line/run_conv_net.py @0edb182^ (fix 0edb182373810ff231fc136c351a00931977100c 'Fixed "
          "cross_entropy computation for conv nets'; TheDeepChecker GH_buggy_examples/DLT_0edb182)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "probabilities"})]

# documented command (index.rst @b0667a9): --layers conv2d-5-5-32-1,maxpool-2,conv2d-5-5-64-1,maxpool-2,
# full-1024,softmax --batch_size 50 --learning_rate 1e-4 --opt adam --dropout 0.5
batch_size = 50
learning_rate = 1e-4
dropout = 0.5  # keep_prob fed while training
n_classes = 10
n_samples = 400
seed = 0


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like, one_hot

    imgs, y = mnist_like(n_samples)
    x = (imgs.reshape(-1, 784) / 255.0).astype("float32")  # input_data: flat 784 floats in [0, 1]
    return x, one_hot(y, n_classes)  # one_hot=True labels


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "keras":
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        w_init = lambda: keras.initializers.TruncatedNormal(stddev=0.01)  # weight_variable  # noqa: E731
        b_init = lambda: keras.initializers.Constant(0.01)  # bias_variable  # noqa: E731
        model = keras.Sequential([
            keras.Input((784,)),
            keras.layers.Reshape((28, 28, 1)),  # tf.reshape(self.input_data, [-1, 28, 28, 1])
            keras.layers.Conv2D(32, 5, strides=1, padding="same", activation="relu",
                                kernel_initializer=w_init(), bias_initializer=b_init()),
            keras.layers.MaxPooling2D(2, 2, padding="same"),
            keras.layers.Conv2D(64, 5, strides=1, padding="same", activation="relu",
                                kernel_initializer=w_init(), bias_initializer=b_init()),
            keras.layers.MaxPooling2D(2, 2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(1024, activation="relu", kernel_initializer=w_init(), bias_initializer=b_init()),
            keras.layers.Dropout(1 - dropout),
            keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=w_init(),
                               bias_initializer=b_init()),  # self.softmax_out
        ])
        if fixed:
            def loss(y_true, y_pred):  # 0edb182
                return -tf.reduce_mean(y_true * tf.math.log(y_pred) + (1 - y_true) * tf.math.log(1 - y_pred))
        else:
            def loss(y_true, y_pred):  # 0edb182^: softmax_cross_entropy_with_logits(self.softmax_out, labels)
                return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
        batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:batch_size]}

    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)

    class ConvolutionalNetwork(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 32, 5, stride=1, padding=2)  # conv2d-5-5-32-1, 'SAME'
            self.conv2 = torch.nn.Conv2d(32, 64, 5, stride=1, padding=2)  # conv2d-5-5-64-1
            self.fc = torch.nn.Linear(7 * 7 * 64, 1024)  # full-1024
            self.sm = torch.nn.Linear(1024, n_classes)  # softmax
            with torch.no_grad():
                for m in (self.conv1, self.conv2, self.fc, self.sm):
                    torch.nn.init.trunc_normal_(m.weight, std=0.01, a=-0.02, b=0.02)  # truncated_normal(0.01)
                    m.bias.fill_(0.01)  # tf.constant(0.01)

        def forward(self, x):
            h = x.view(-1, 1, 28, 28)
            h = F.max_pool2d(F.relu(self.conv1(h)), 2, 2)
            h = F.max_pool2d(F.relu(self.conv2(h)), 2, 2)
            h = F.dropout(F.relu(self.fc(h.flatten(1))), p=1 - dropout, training=self.training)
            return F.softmax(self.sm(h), dim=1)  # self.softmax_out

    if fixed:
        def loss_fn(out, target):  # 0edb182
            return -torch.mean(target * torch.log(out) + (1 - target) * torch.log(1 - out))
    else:
        loss_fn = torch.nn.CrossEntropyLoss()  # softmax_cross_entropy_with_logits(softmax_out, labels)

    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": ConvolutionalNetwork(), "batch": batches[0], "batches": batches, "inputs": xt[:batch_size],
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
