"""practicalAI (now GokuMohandas/Made-With-ML), notebook ``notebooks/11_Convolutional_Neural_Networks.ipynb``:
a character-level CNN that tells a surname's nationality (18 classes) from its one-hot characters. Each
surname is a ``(max_surname_length, len(surname_vocab))`` one-hot matrix (``SurnameVectorizer.vectorize``,
zero rows after the last letter); the model transposes it to channels-first, runs three ``nn.Conv1d(
num_input_channels, num_filters=100, kernel_size=f) for f in [2, 3, 4]``, max-pools each over time,
concatenates, applies ``Dropout(0.1)`` and ``Linear(300, num_classes)``. Training: ``nn.CrossEntropyLoss(
class_weights)`` with ``class_weights = 1 / class counts``, ``optim.Adam(model.parameters(), lr=1e-3)``,
``batch_size=64`` (``drop_last=True``), ``optimizer.zero_grad(); loss.backward(); optimizer.step()``.

The fault is in the notebook's "Model with batch normalization" cell, the version of ``SurnameModel``
the lesson tells the reader to train ("you'll notice that the validation results improve by ~2-5%"):
its constructor defines ``self.conv_bn = nn.ModuleList([nn.BatchNorm1d(num_channels) for i in
range(3)])``, one batch norm per convolution, but ``forward`` applies ``self.conv_bn[0]`` to all three
convolutions (``z1 = self.conv_bn[0](self.conv[0](x_in))``, ``z2 = self.conv_bn[0](self.conv[1](x_in))``,
``z3 = self.conv_bn[0](self.conv[2](x_in))``), and no activation follows the (batch-normed)
convolutions. ``conv_bn[1]`` and ``conv_bn[2]`` (200 scale and shift parameters, registered in
``model.parameters()`` and handed to Adam) are never on the loss's path: their ``.grad`` stays ``None``
and training never changes them, while ``conv_bn[0]``'s running statistics mix three different
convolutions' outputs.

Source: github.com/GokuMohandas/practicalAI (renamed GokuMohandas/Made-With-ML; the history is kept),
commit f703e409c82959426cc599cfe2759c5e37022ff7 ("fixed description of conv1d and respective code", 2018-11-09), buggy file
``notebooks/11_Convolutional_Neural_Networks.ipynb`` at f703e40^. The fix rewrites both ``forward``s as
``z = [F.relu(conv_bn(conv(x))) for conv, conv_bn in zip(self.conv, self.conv_bn)]`` (batch-norm model;
``z = [F.relu(conv(x)) for conv in self.conv]`` in the plain one), then ``F.max_pool1d(zz, zz.size(2))
.squeeze(2)`` for each and ``torch.cat(z, 1)``: every convolution gets its own batch norm, and a ReLU.
Fault label: params_not_updated|no_gradient (two of the three batch norms never receive a gradient and
never change; the missing ReLU goes with it in the same fix).

Program lines kept: ``SurnameModel`` (batch-norm version) as it was and as the fix has it, the argument
values (``num_filters=100``, ``dropout_p=0.1``, ``learning_rate=1e-3``, ``batch_size=64``), the
vectorizer's one-hot layout (rows = character positions, zero-padded to ``max_surname_length``), the
class-weighted ``CrossEntropyLoss`` and ``Adam``.
Ported minimally: the ``Trainer`` (validation loop, early stopping, the epoch-level
``ReduceLROnPlateau``) and ``Inference`` are left out; ``apply_softmax`` stays (False in training).
Keras twin: a subclassed ``keras.Model`` with the same layers (``Conv1D`` reads the channels-last
one-hot matrix directly, so no transpose; global max over time; ``Dropout(0.1)``; ``Dense(18)``), the
same fault in ``call`` (``self.conv_bn[0]`` for all three) and fix, the class-weighted cross-entropy
written as ``CrossEntropyLoss(weight)`` computes it (``sum(w_y * ce) / sum(w_y)``) and ``Adam(1e-3)``.
Keras creates a layer's weights only when the layer is first called, so an unused layer would have no
weights at all; the twin's ``build`` builds the three batch norms the constructor defines (as PyTorch's
constructor does), so the two unused ones exist, are trainable and never move, as in the program.

Data stand-in (``surnames.csv`` is downloaded from GitHub; not available offline): seeded synthetic
surnames, 18 nationalities drawn with the real file's class frequencies (English 2972, Russian 2373,
Arabic 1603, ... Portuguese 55 of 10,980), each nationality with its own letter distribution (a
Dirichlet(0.4) draw over 26 letters) and two typical endings (letter bigrams, used by 70 % of its
surnames), lengths 3 to 12;
one-hot over a 28-token surname vocabulary (``<UNK>``, space, a-z: what ``preprocess_text`` leaves), padded
to ``max_surname_length = 17``. Class weights ``1 / counts`` from the stand-in's training split, as
``SurnameDataset`` computes them. 8 batches of 64.

Measured (my own plain loop, torch and keras: ``zero_grad; loss = loss_fn(model(x), y); backward;
step`` (keras: ``GradientTape`` and ``Adam(1e-3).apply_gradients``) over the 8 batches in turn, model in
train mode, seed 0, OMP_NUM_THREADS=1; about 5-6 ms a step in torch, 40-55 ms in Keras eager): the
fault is structural and the loss alone does not show it (the stand-in is easy to memorise, and one
shared batch norm in front of three max-pools still trains); the parameters show it.
torch: loss at step 1 / 50 / 100 / 200: buggy 3.418 / 0.576 / 0.169 / 0.042, fixed 3.414 / 0.578 /
0.174 / 0.044; in the buggy model ``conv_bn.1`` and ``conv_bn.2`` weight and bias have ``.grad`` None
at every step and after 200 steps are exactly their initial 1 and 0 (max change 0.0), while
``conv_bn.0`` moves by 0.089; in the fixed model all three move (max change 0.078 / 0.072 / 0.067).
One batch, 100 steps: buggy 3.418 -> 0.0073, fixed 3.414 -> 0.0076.
keras: loss at step 1 / 50 / 100 / 200: buggy 5.018 / 0.333 / 0.164 / 0.041, fixed 5.014 / 0.333 /
0.166 / 0.043; the buggy model's ``batch_normalization_1`` and ``_2`` gamma/beta get ``None`` gradients
and stay at 1/0 (max change 0.0; the first moves by 0.052), the fixed model's three move by 0.053 /
0.042 / 0.052. One batch, 100 steps: buggy 5.018 -> 0.0086, fixed 5.014 -> 0.0086.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated|no_gradient"
SOURCE = ("github:GokuMohandas/practicalAI (now GokuMohandas/Made-With-ML) notebooks/"
          "11_Convolutional_Neural_Networks.ipynb@f703e40^ (batch-norm SurnameModel; fix "
          "f703e409c82959426cc599cfe2759c5e37022ff7 'fixed description of conv1d and respective code')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

# args = Namespace(...) of the notebook
learning_rate = 1e-3
batch_size = 64
num_filters = 100
dropout_p = 0.1
n_batches = 8

# stand-in sizes
MAX_LEN = 17          # vectorizer.max_surname_length
VOCAB = 28            # <UNK>, ' ', a..z
NATIONALITY_COUNTS = [2972, 2373, 1603, 775, 600, 576, 414, 258, 236, 229, 220, 183, 156, 120, 77, 75,
                      58, 55]  # surnames.csv: English, Russian, Arabic, Japanese, Italian, German, ...
NUM_CLASSES = len(NATIONALITY_COUNTS)


def _surnames(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One-hot surnames ``(n, MAX_LEN, VOCAB)`` float32 and nationality ids ``(n,)`` int64."""
    rng = np.random.default_rng(seed)
    p_cls = np.asarray(NATIONALITY_COUNTS, dtype="float64")
    p_cls /= p_cls.sum()
    letter_p = rng.dirichlet(np.full(26, 0.4), size=NUM_CLASSES)
    endings = rng.integers(0, 26, size=(NUM_CLASSES, 2, 2))
    y = rng.choice(NUM_CLASSES, size=n, p=p_cls)
    x = np.zeros((n, MAX_LEN, VOCAB), dtype="float32")
    for i, c in enumerate(y):
        length = int(rng.integers(3, 13))
        letters = rng.choice(26, size=length, p=letter_p[c])
        if rng.random() < 0.7:  # a typical ending of that nationality
            letters[-2:] = endings[c, rng.integers(0, 2)]
        x[i, np.arange(length), 2 + letters] = 1.0  # index 0 <UNK>, 1 ' ', 2.. letters
    return x, y.astype("int64")


def _class_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=NUM_CLASSES).astype("float32")
    return (1.0 / np.maximum(counts, 1.0)).astype("float32")  # SurnameDataset: 1.0 / frequencies


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _surnames(batch_size * n_batches)
    w = _class_weights(y)
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.manual_seed(0)

        class SurnameModel(nn.Module):  # "Model with batch normalization" (program lines)
            def __init__(self, num_input_channels, num_channels, num_classes, dropout_p):
                super(SurnameModel, self).__init__()

                # Conv weights
                self.conv = nn.ModuleList([nn.Conv1d(num_input_channels, num_channels,
                                                     kernel_size=f) for f in [2, 3, 4]])
                self.conv_bn = nn.ModuleList([nn.BatchNorm1d(num_channels)  # define batchnorms
                                              for i in range(3)])
                self.dropout = nn.Dropout(dropout_p)

                # FC weights
                self.fc1 = nn.Linear(num_channels * 3, num_classes)

            def forward(self, x_in, channel_first=False, apply_softmax=False):
                # Rearrange input so num_channels is in dim 1 (N, C, L)
                if not channel_first:
                    x_in = x_in.transpose(1, 2)

                if fixed:  # f703e40
                    z = [F.relu(conv_bn(conv(x_in))) for conv, conv_bn in zip(self.conv, self.conv_bn)]
                    z = [F.max_pool1d(zz, zz.size(2)).squeeze(2) for zz in z]
                    z = torch.cat(z, 1)
                else:
                    # Conv outputs
                    z1 = self.conv_bn[0](self.conv[0](x_in))  # apply batch norm
                    z1 = F.max_pool1d(z1, z1.size(2)).squeeze(2)
                    z2 = self.conv_bn[0](self.conv[1](x_in))  # apply batch norm
                    z2 = F.max_pool1d(z2, z2.size(2)).squeeze(2)
                    z3 = self.conv_bn[0](self.conv[2](x_in))  # apply batch norm
                    z3 = F.max_pool1d(z3, z3.size(2)).squeeze(2)

                    # Concat conv outputs
                    z = torch.cat([z1, z2, z3], 1)
                z = self.dropout(z)

                # FC layer
                y_pred = self.fc1(z)

                if apply_softmax:
                    y_pred = F.softmax(y_pred, dim=1)
                return y_pred

        model = SurnameModel(num_input_channels=VOCAB, num_channels=num_filters, num_classes=NUM_CLASSES,
                             dropout_p=dropout_p)
        loss_func = nn.CrossEntropyLoss(torch.from_numpy(w))
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:256],
                "loss_fn": loss_func,
                "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate)}

    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    class SurnameModel(keras.Model):
        def __init__(self, num_channels, num_classes, dropout_p):
            super().__init__()
            self.conv = [layers.Conv1D(num_channels, kernel_size=f) for f in [2, 3, 4]]
            self.conv_bn = [layers.BatchNormalization() for _ in range(3)]  # define batchnorms
            self.dropout = layers.Dropout(dropout_p)
            self.fc1 = layers.Dense(num_classes)

        def build(self, input_shape):
            # Keras builds a layer when it is first called: build all three batch norms, as the torch
            # constructor creates their parameters (the buggy call then uses only the first one)
            length = input_shape[1]
            for f, conv, bn in zip([2, 3, 4], self.conv, self.conv_bn):
                conv.build(input_shape)
                bn.build((None, None if length is None else length - f + 1, self.conv[0].filters))
            self.fc1.build((None, 3 * self.conv[0].filters))

        def call(self, x, training=False):
            if fixed:
                z = [ops.relu(bn(conv(x), training=training)) for conv, bn in zip(self.conv, self.conv_bn)]
            else:
                z = [self.conv_bn[0](conv(x), training=training) for conv in self.conv]
            z = ops.concatenate([ops.max(zz, axis=1) for zz in z], axis=1)  # max_pool1d over time
            z = self.dropout(z, training=training)
            return self.fc1(z)

    weights = ops.convert_to_tensor(w)

    def weighted_ce(y_true, y_pred):  # nn.CrossEntropyLoss(weight): sum(w_y * ce) / sum(w_y)
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        wy = ops.take(weights, y_true)
        return ops.sum(wy * ce) / ops.sum(wy)

    model = SurnameModel(num_filters, NUM_CLASSES, dropout_p)
    model.build((None, MAX_LEN, VOCAB))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=weighted_ce)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:256]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
