"""gabrieleangeletti/Deep-Learning-TensorFlow ("yadlt", TensorFlow 0.x), the convolutional network
``models/convolutional_models/conv_net.py`` (``ConvolutionalNetwork``) driven by ``command_line/run_conv_net.py``
with the usage the project documents (``index.rst``, "Convolutional Networks"): ``--layers
conv2d-5-5-32-1,maxpool-2,conv2d-5-5-64-1,maxpool-2,full-1024,softmax --batch_size 50 --learning_rate 1e-4
--opt adam --dropout 0.5`` on MNIST (``utils/datasets.load_mnist_dataset``: ``input_data.read_data_sets(...,
one_hot=True)``, 784 floats in [0, 1], one-hot labels). The flat input is reshaped to 28x28x1, then conv 5x5 32
(SAME, stride 1) + ReLU -> max-pool 2 (SAME) -> conv 5x5 64 + ReLU -> max-pool 2 -> dense 3136 -> 1024 + ReLU
-> ``tf.nn.dropout(h_fc, keep_prob)`` (keep_prob = --dropout = 0.5) -> dense 1024 -> 10 -> ``tf.nn.softmax``.
The cost (``model.py`` ``_create_cost_function_node``, loss_func 'cross_entropy') is an element-wise binary
cross-entropy on the softmax outputs, ``- tf.reduce_mean(y * tf.log(tf.clip_by_value(p, 1e-10, inf)) + (1 - y)
* tf.log(tf.clip_by_value(1 - p, 1e-10, inf)))``, minimised by ``tf.train.AdamOptimizer(1e-4)``.

The fault is the initialisation of every layer, in ``ConvolutionalNetwork``'s two static helpers:
``initial = tf.truncated_normal(shape=shape, stddev=0.01)`` (weight_variable) and
``initial = tf.constant(0.01, shape=shape)`` (bias_variable). A standard deviation of 0.01 is far below what
these fan-ins need (25, 800, 3136 and 1024 inputs: Glorot or He would give 0.02-0.28): each layer shrinks the
signal, by a factor of about 30 in the first convolution and 2.5-5 in the others, so at initialisation the softmax sees almost nothing of the image (its inputs
are dominated by the 0.01 biases), every prediction is the same near-uniform vector, and the gradient that
reaches the first convolution is about a thousand times smaller than with a workable initialisation. The
network sits at the uniform-prediction loss until Adam has slowly grown the weights.

Source: github.com/gabrieleangeletti/Deep-Learning-TensorFlow (then blackecho/Deep-Learning-TensorFlow),
``models/convolutional_models/conv_net.py`` at ded6612^ (with ``model.py``, ``command_line/run_conv_net.py``,
``utils/datasets.py``, ``index.rst`` of the same commit), fixed by commit
ded661243a7bf86975e4f29fdf192d7dc4a72770 "changed sttdevs from 0.01 to 0.1 and bias init from 0.01 to 0.1":
``initial = tf.truncated_normal(shape=shape, stddev=0.1)`` and ``initial = tf.constant(0.1, shape=shape)`` (the
same commit changes the autoencoders and the RBM the same way). Listed in TheDeepChecker's GitHub bug set
(github.com/thedeepchecker/thedeepchecker ``GH_buggy_examples/DLT_ded6612``, run with the documented command
above).
Program lines kept: the layer sequence (two 5x5 SAME convolutions with ReLU, two 2x2 SAME max-pools, a ReLU
dense layer with dropout keep_prob 0.5, a 10-way softmax), the reshape of the flat 784 inputs inside the model,
the truncated-normal weights (cut at two standard deviations, as ``tf.truncated_normal``) and constant biases
with the buggy 0.01 / 0.01 and fixed 0.1 / 0.1, the element-wise binary cross-entropy on the softmax outputs
with its 1e-10 clipping (unchanged by the fix), Adam(1e-4) with TF's defaults (beta1 0.9, beta2 0.999, epsilon
1e-8), batches of 50.
Ported minimally: the TF0.x graph, session, placeholders, summaries and the layer-string parser are dropped.
Widths are halved (16 and 32 maps, 512 dense units instead of 32, 64, 1024; ``WIDTH_DIV``): the full widths
cost ~0.07-0.15 s a torch step on one (shared) CPU thread, the halved ones 0.03-0.05 s (Keras train_on_batch 0.03-0.09 s, depending on the load). This
changes the fan-ins (25, 400, 1568, 512 instead of 25, 800, 3136, 1024); stddev 0.01 is too small for both
sets (with the full widths I measured the same stall in torch, only ~25 steps shorter: loss 0.3251 / 0.3250 /
0.3191 at steps 0 / 25 / 50, first-kernel gradient norm 1.5e-3 at step 0 vs 2.5 for the fix).
Torch: ``nn.Conv2d``/``nn.Linear`` with weights set by ``nn.init.trunc_normal_(w, 0, std, -2 std, 2 std)`` and
constant biases, ``nn.Dropout(0.5)`` (keep_prob 0.5), softmax in ``forward`` as the program's output node;
``loss_fn`` is the program's cost on those probabilities.
Keras: ``Reshape`` + ``Conv2D``/``MaxPooling2D``/``Dense``/``Dropout(0.5)`` with ``TruncatedNormal(stddev=...)``
kernels and ``Constant(...)`` biases, the last ``Dense`` with ``activation='softmax'``, compiled with the
program's cost and ``Adam(1e-4, epsilon=1e-8)``.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's bundled 8x8 digits blown up to 28x28,
0..255, real signal) divided by 255 and flattened to the 784 floats in [0, 1] of ``read_data_sets``, one-hot
labels; 6 batches of 50.
Fault label: vanishing_gradients (a wrong initialisation: weights too small for the fan-ins, so signal and
gradients vanish through the layers and the predictions start input-independent).
Fix (ded6612): ``stddev=0.1`` weights and 0.1 biases.

Symptom (my own plain loop on the module's models: seed 0, OMP_NUM_THREADS=1, 201 steps on batches of 50
drawn at random from the first 1500 stand-in digits, held-out accuracy on the other 297; "loss" is the
training batch loss before the update, "|g|" the gradient norm of the first convolution's kernel, "spread"
the mean over classes of the standard deviation of the held-out predicted probabilities, i.e. how much the
predictions depend on the input; 0.3251 is the cost of a uniform prediction, chance accuracy 0.10).
Torch, buggy: step 0 loss 0.3251, |g| 5.7e-4, spread 8e-6, accuracy 0.101; step 25 loss 0.3252, |g| 1.3e-3,
spread 8e-5, accuracy 0.101; step 50 loss 0.3243, accuracy 0.162; step 75 0.3170, 0.269; step 100 0.2845,
0.525; step 150 0.1271, 0.791; step 200 0.0943, 0.811. Fixed: step 0 loss 0.6526 (the 0.1 weights start
confidently wrong), |g| 0.92, spread 0.044; step 25 0.3766, 0.367; step 50 0.2767, 0.721; step 100 0.1551,
0.822; step 200 0.0722, 0.869.
Keras (train_on_batch), buggy: step 0 loss 0.3250, |g| 4.2e-4, spread 7e-6, accuracy 0.101; step 25 0.3254,
0.101; step 50 0.3246, 0.364; step 75 0.3171, 0.293; step 100 0.2796, 0.609; step 200 0.0848, 0.798. Fixed:
step 0 loss 0.6103, |g| 0.84, spread 0.039; step 25 0.4062, 0.354; step 50 0.3116, 0.620; step 100 0.1856,
0.805; step 200 0.0837, 0.882.
So for ~50-75 Adam steps the buggy network does not learn at all (loss flat at the uniform-prediction
cost, predictions the same for every input, first-layer gradients ~1000x smaller than the fix's), then Adam
(whose per-parameter step does not depend on the gradient's scale) grows the weights and it catches up
partly. With the run script's default optimizer instead (``--opt gradient_descent --learning_rate 0.01``,
torch SGD) the buggy network never starts: loss 0.3251 / 0.3251 / 0.3252 and accuracy 0.101 at steps 0 / 100
/ 300, vs fixed 0.6292 / 0.3521 / 0.2985 and accuracy 0.19 / 0.38 / 0.68.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "vanishing_gradients"
SOURCE = ("github:gabrieleangeletti/Deep-Learning-TensorFlow models/convolutional_models/conv_net.py@ded6612^ "
          "(weight_variable stddev=0.01, bias_variable 0.01; model.py, command_line/run_conv_net.py, index.rst "
          "usage; fix ded661243a7bf86975e4f29fdf192d7dc4a72770 'changed sttdevs from 0.01 to 0.1 and bias init "
          "from 0.01 to 0.1'; TheDeepChecker GH_buggy_examples/DLT_ded6612)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 10}), ("not_constant_predictions", {})]

batch_size = 50  # --batch_size 50
learning_rate = 1e-4  # --learning_rate 1e-4 --opt adam
keep_prob = 0.5  # --dropout 0.5 (fed to tf.nn.dropout as keep_prob)
n_classes = 10
n_batches = 6
WIDTH_DIV = 2  # port: conv maps and dense units halved to keep a CPU step near the 50 ms guide
maps1, maps2, full = 32 // WIDTH_DIV, 64 // WIDTH_DIV, 1024 // WIDTH_DIV  # conv2d-5-5-32, conv2d-5-5-64, full-1024


def _data(n: int = batch_size * n_batches) -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like, one_hot

    imgs, y = mnist_like(n)
    x = (imgs.reshape(len(imgs), 784) / 255.0).astype("float32")  # read_data_sets: 784 floats in [0, 1]
    return x, one_hot(y, n_classes)  # one_hot=True


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches

    std = 0.1 if fixed else 0.01  # weight_variable: tf.truncated_normal(shape=shape, stddev=...)
    b0 = 0.1 if fixed else 0.01  # bias_variable: tf.constant(..., shape=shape)
    x, y = _data()

    if framework == "torch":
        import torch
        import torch.nn as nn

        torch.manual_seed(0)

        class ConvolutionalNetwork(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv1 = nn.Conv2d(1, maps1, 5, stride=1, padding=2)  # conv2d-5-5-32-1, SAME
                self.conv2 = nn.Conv2d(maps1, maps2, 5, stride=1, padding=2)  # conv2d-5-5-64-1, SAME
                self.fc = nn.Linear(7 * 7 * maps2, full)  # full-1024
                self.sm = nn.Linear(full, n_classes)  # softmax
                self.drop = nn.Dropout(1 - keep_prob)
                for m in (self.conv1, self.conv2, self.fc, self.sm):
                    nn.init.trunc_normal_(m.weight, 0.0, std, -2 * std, 2 * std)
                    nn.init.constant_(m.bias, b0)

            def forward(self, x):
                h = x.reshape(-1, 1, 28, 28)  # tf.reshape(input_data, [-1, 28, 28, 1])
                h = torch.max_pool2d(torch.relu(self.conv1(h)), 2, 2)  # relu(conv + b), max_pool 2 SAME
                h = torch.max_pool2d(torch.relu(self.conv2(h)), 2, 2)
                h = self.drop(torch.relu(self.fc(h.flatten(1))))  # relu(matmul + b), tf.nn.dropout
                return torch.softmax(self.sm(h), dim=-1)  # self.softmax_out = tf.nn.softmax(...)

        def cost(model_output, ref_input):  # model.py _create_cost_function_node, 'cross_entropy'
            return -torch.mean(ref_input * torch.log(torch.clamp(model_output, min=1e-10))
                               + (1 - ref_input) * torch.log(torch.clamp(1 - model_output, min=1e-10)))

        def optimizer(params):  # tf.train.AdamOptimizer(learning_rate)
            return torch.optim.Adam(params, lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)

        tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches(x, y, batch_size)]
        return {"model": ConvolutionalNetwork(), "batch": tb[0], "batches": tb,
                "inputs": torch.from_numpy(x[:256]), "loss_fn": cost, "optimizer": optimizer}

    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    def w_init():
        return keras.initializers.TruncatedNormal(mean=0.0, stddev=std)

    def b_init():
        return keras.initializers.Constant(b0)

    model = keras.Sequential([
        keras.Input((784,)),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(maps1, 5, strides=1, padding="same", activation="relu", kernel_initializer=w_init(),
                      bias_initializer=b_init()),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Conv2D(maps2, 5, strides=1, padding="same", activation="relu", kernel_initializer=w_init(),
                      bias_initializer=b_init()),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Flatten(),
        layers.Dense(full, activation="relu", kernel_initializer=w_init(), bias_initializer=b_init()),
        layers.Dropout(1 - keep_prob),
        layers.Dense(n_classes, activation="softmax", kernel_initializer=w_init(), bias_initializer=b_init()),
    ])

    def cost(ref_input, model_output):  # model.py _create_cost_function_node, 'cross_entropy'
        return -ops.mean(ref_input * ops.log(ops.clip(model_output, 1e-10, np.inf))
                         + (1 - ref_input) * ops.log(ops.clip(1 - model_output, 1e-10, np.inf)))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999,
                                                  epsilon=1e-8),
                  loss=cost)
    kb = batches(x, y, batch_size)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": x[:256]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
