"""yenlung/Deep-Learning-MOOC, notebook "05-1. 建立神經網路的其他方式並學習第一個轉移學習模型.ipynb" (other ways to build
a network, and a first transfer-learning model): the 784-500-500-10 sigmoid MLP trained on raw MNIST pixels in
notebook 01-1 (``loss='mse'``, ``SGD(lr=0.1)``, ``batch_size=100``, weights saved to
``handwriting_model_weights.h5``) is reloaded, its two hidden layers are frozen
(``for layer in all_except_last: layer.trainable = False``) and a new ``Dense(2)`` + ``Activation('softmax')`` head
is trained to tell the digits 0 and 1 apart: ``model_0_to_1.compile(loss='mse', optimizer=SGD(lr=0.1),
metrics=['accuracy'])``, ``model_0_to_1.fit(x_train_01, y_train_01, batch_size=100, epochs=5)``, with
``x_train_01 = x_train[y_train <= 1]`` (pixels reshaped to 784, not scaled, as in the notebook).

The fault (labels prepared from labels that were already one-hot): the label cell was

    y_train = np_utils.to_categorical(y_train, 10)
    y_test = np_utils.to_categorical(y_test, 10)

    y_train_01 = np_utils.to_categorical(y_train[y_train <= 1], 2)
    y_test_01 = np_utils.to_categorical(y_test[y_test <= 1], 2)

``y_train`` is one-hot (60000, 10) by the time it is filtered, so ``y_train <= 1`` is True for every entry and
``y_train[y_train <= 1]`` is the flattened one-hot matrix (600000 zeros and ones), which ``to_categorical(..., 2)``
turns into 600000 two-class rows: 10 label rows per training image, of every digit, against the 12665 images of
``x_train_01``. The issue: "因為前兩行已經先將 y_train 及 y_test 轉成 one-hot encoding 的形式了，導致後面的
y_train[y_train <= 1] 產生非原本預期的結果" (the first two lines already made y_train one-hot, so the filter gives
an unintended result). Fixed by keeping the integer labels: ``y_train_10 = np_utils.to_categorical(y_train, 10)``
(new names for the 10-class targets) and ``y_train_01 = y_train[y_train <= 1]``,
``y_train_01 = np_utils.to_categorical(y_train_01, 2)``, giving (12665, 2).

Source: github.com/yenlung/Deep-Learning-MOOC issue #1 ("(Bug?) 關於「05-1 用不同方式使用Sequential ...」 中的
「2.3 輸入格式整理」", chiangtw, 2018-05-04). Buggy notebook at fb2b229 (2018-03-31, "Advanced Kears Style_v1");
fixed in df96cf4 ("added homework", 2018-08-15: the y_train_10 / y_train_01 cell above; its saved outputs show
``y_train_01.shape == (12665, 2)``). The buggy notebook's saved fit output (12665 samples, acc 0.998) is stale: it
was produced before the label cell was edited into its buggy form (the cell has no output and the x/y shapes cell
that would show it is empty).

Program lines kept: the label preparation (buggy and fixed), the 0/1 filter on the images, raw 0..255 pixels
flattened to 784, the frozen 784-500(sigmoid)-500(sigmoid) base, the new Dense(2) + softmax head, mse loss,
SGD lr 0.1, batch 100. Ported: Keras 2 ``np_utils.to_categorical`` -> a numpy equivalent (same result),
``SGD(lr=)`` -> ``SGD(learning_rate=)``, ``layer.trainable = False`` on the shared layer objects as the program does
(Keras) and ``requires_grad_(False)`` (torch twin: ``nn.Linear`` + ``nn.Sigmoid`` base, ``nn.Linear(500, 2)`` +
``nn.Softmax(dim=1)``, ``nn.MSELoss()``, ``torch.optim.SGD(lr=0.1)``).
The pretrained base: ``handwriting_model_weights.h5`` is not downloaded; instead the 784-500-500-10 network of
notebook 01-1 is trained here, in numpy, the way 01-1 trains it (Glorot-uniform weights, zero biases, softmax
output, mean squared error, SGD lr 0.1, batches of 100, raw pixels) for 3 epochs (270 steps) on the stand-in digits,
and its two hidden layers are copied into both frameworks (cached after the first build). As in the program (raw
0..255 pixels into sigmoids), about 97 % of the first hidden layer's outputs are saturated, so the frozen features
are coarse and the new head learns slowly.
Data stand-in: ``_data.mnist_like(1797)`` (scikit-learn's 8x8 digits blown up to 28x28 uint8, 0..255, labels
0..9) in five copies, as drawn and moved 2 pixels up, down, left and right: 8985 training images, 1800 of them 0s and
1s (the real split: 60000 and 12665). So the buggy labels are 89850 rows for 1800 images.
``batch`` is what the program hands to ``fit``: the 1800 0/1 images and all their label rows (89850 buggy, 1800
fixed); ``batches`` are the first 6 cuts of 100 of the two arrays taken side by side, what a loop slicing
``x_train_01`` and ``y_train_01`` together would feed (buggy: each image gets one entry of some earlier image's
one-hot digit vector, 90 % ``[1, 0]``); ``inputs`` are the 1800 0/1 images.

Fault label: xy_length_mismatch (ten label rows per image, built from every image's one-hot vector; cut side by side
with the images, labels that carry nothing about them).
Fix (df96cf4): one-hot the integer labels of the 0/1 subset, ``to_categorical(y_train[y_train <= 1], 2)`` with
``y_train`` still integer.

Measured (/tmp/h51c/m3.py, OMP_NUM_THREADS=1, weights seeded as in ``buggy``/``fixed``):
  keras buggy: ``model.fit(x_train_01, y_train_01, batch_size=100, epochs=5)`` raises ``ValueError: Data cardinality
  is ambiguous ... 'x' sizes: 1800 'y' sizes: 89850`` before any step (Keras 2.1 raised "Input arrays should have the
  same number of samples as target arrays"); torch buggy: ``TensorDataset(x, y)`` raises "Size mismatch between
  tensors".
  keras fixed: the same fit runs, loss per epoch 0.303, 0.263, 0.259, 0.231, 0.198, training accuracy 0.53 -> 0.62
  (0.69 after the fifth epoch, evaluated); torch fixed, a shuffled DataLoader of 100, 5 epochs: 0.349 -> 0.191,
  accuracy 0.62.
  The 6 ``batches`` repeated 30 times (180 steps), loss at steps 1 / 6 / 30 / 90 / 180:
  keras buggy 0.095, 0.091, 0.091, 0.090, 0.090 (the head settles on the constant [0.9, 0.1]), every image
  predicted 0, accuracy against the true digit 0.49 (the share of 0s); fixed 0.364, 0.334, 0.319, 0.033, 0.020,
  accuracy 0.97, half the images predicted 0.
  torch buggy 0.233, 0.099, 0.095, 0.090, 0.090, all predicted 0, accuracy 0.49; fixed 0.231, 0.316, 0.211, 0.033,
  0.020, accuracy 0.96.
  The buggy loss starts low (0.09-0.23 against 0.23-0.36 fixed) because 90 % of its targets are the same row.
About 3 ms (torch) / 8 ms (keras ``train_on_batch``) a step on one CPU thread; the numpy pretraining of the base
takes about 2 s once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "xy_length_mismatch"
SOURCE = ("github:yenlung/Deep-Learning-MOOC issue #1 (05-1. 建立神經網路的其他方式並學習第一個轉移學習模型.ipynb@fb2b229: "
          "y_train = to_categorical(y_train, 10) then y_train_01 = to_categorical(y_train[y_train <= 1], 2) on "
          "the one-hot labels; fix df96cf4 'added homework': y_train_10 = to_categorical(y_train, 10), "
          "y_train_01 = to_categorical(y_train[y_train <= 1], 2) on the integer labels)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "probabilities"}),
          ("not_constant_predictions", {})]

batch_size = 100
learning_rate = 0.1
N_IMAGES = 1797
PRETRAIN_EPOCHS = 3
N_BATCHES = 6
WEIGHT_SEED = 0
_BASE: dict[str, list[np.ndarray]] = {}


def to_categorical(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Keras 2 ``np_utils.to_categorical``: ravel the integer labels, one row per entry."""
    y = np.array(y, dtype="int").ravel()
    out = np.zeros((len(y), num_classes), dtype="float32")
    out[np.arange(len(y)), y] = 1.0
    return out


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    imgs, labels = mnist_like(N_IMAGES)
    # five copies: as drawn and moved 2 pixels up / down / left / right (inside mnist_like's 2-pixel border)
    shifts = [(0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)]
    x_train = np.concatenate([np.roll(imgs, s, axis=(1, 2)) for s in shifts])
    y_train = np.concatenate([labels] * len(shifts))
    x_train = x_train.reshape(len(x_train), 784).astype("float32")  # x_train.reshape(60000, 784), not scaled
    return x_train, y_train


def _glorot(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    lim = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out)).astype("float32")


def _pretrained_base() -> list[np.ndarray]:
    """Stand-in for handwriting_model_weights.h5: notebook 01-1's network trained in numpy (mse, SGD 0.1)."""
    if "w" in _BASE:
        return _BASE["w"]
    x, y = _mnist()
    t = to_categorical(y, 10)
    rng = np.random.default_rng(1)
    w1, w2, w3 = _glorot(rng, 784, 500), _glorot(rng, 500, 500), _glorot(rng, 500, 10)
    b1, b2, b3 = (np.zeros(n, "float32") for n in (500, 500, 10))

    def sig(z):
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    for _ in range(PRETRAIN_EPOCHS):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, tb = x[idx], t[idx]
            h1 = sig(xb @ w1 + b1)
            h2 = sig(h1 @ w2 + b2)
            z = h2 @ w3 + b3
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            dp = 2.0 * (p - tb) / (10 * len(xb))  # mean over classes, then over the batch
            dz = p * (dp - (dp * p).sum(1, keepdims=True))
            dh2 = dz @ w3.T * h2 * (1 - h2)
            dh1 = dh2 @ w2.T * h1 * (1 - h1)
            w3 -= learning_rate * h2.T @ dz
            b3 -= learning_rate * dz.sum(0)
            w2 -= learning_rate * h1.T @ dh2
            b2 -= learning_rate * dh2.sum(0)
            w1 -= learning_rate * xb.T @ dh1
            b1 -= learning_rate * dh1.sum(0)
    _BASE["w"] = [w1, b1, w2, b2]
    return _BASE["w"]


def _program_data(buggy: bool) -> tuple[np.ndarray, np.ndarray]:
    x_train, y_train = _mnist()
    x_train_01 = x_train[y_train <= 1]
    if buggy:  # fb2b229
        y_train = to_categorical(y_train, 10)
        y_train_01 = to_categorical(y_train[y_train <= 1], 2)
    else:  # df96cf4
        y_train_10 = to_categorical(y_train, 10)  # noqa: F841 (the 10-class targets, unused here)
        y_train_01 = y_train[y_train <= 1]
        y_train_01 = to_categorical(y_train_01, 2)
    return x_train_01, y_train_01


def _build(framework: str, buggy: bool) -> dict[str, Any]:
    x01, y01 = _program_data(buggy)
    base = _pretrained_base()
    xb = [x01[i:i + batch_size] for i in range(0, N_BATCHES * batch_size, batch_size)]
    yb = [y01[i:i + batch_size] for i in range(0, N_BATCHES * batch_size, batch_size)]
    if framework == "keras":
        import keras
        from keras.layers import Activation, Dense

        keras.utils.set_random_seed(WEIGHT_SEED)
        all_except_last = [Dense(500), Activation("sigmoid"), Dense(500), Activation("sigmoid")]
        new_output_layer = [Dense(2), Activation("softmax")]
        model_0_to_1 = keras.Sequential([keras.Input((784,))] + all_except_last + new_output_layer)
        all_except_last[0].set_weights(base[:2])  # model_0_to_9.load_weights('handwriting_model_weights.h5')
        all_except_last[2].set_weights(base[2:])
        for layer in all_except_last:
            layer.trainable = False
        model_0_to_1.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                             metrics=["accuracy"])
        return {"model": model_0_to_1, "batch": (x01, y01), "batches": list(zip(xb, yb)), "inputs": x01}

    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    torch.manual_seed(WEIGHT_SEED)
    l1, l2 = nn.Linear(784, 500), nn.Linear(500, 500)
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(base[0].T.copy()))
        l1.bias.copy_(torch.from_numpy(base[1]))
        l2.weight.copy_(torch.from_numpy(base[2].T.copy()))
        l2.bias.copy_(torch.from_numpy(base[3]))
    head = nn.Linear(500, 2)
    nn.init.xavier_uniform_(head.weight)  # Keras Dense default: glorot_uniform, zero bias
    nn.init.zeros_(head.bias)
    model = nn.Sequential(l1, nn.Sigmoid(), l2, nn.Sigmoid(), head, nn.Softmax(dim=1))
    for p in list(l1.parameters()) + list(l2.parameters()):
        p.requires_grad_(False)
    t = torch.from_numpy
    return {"model": model, "batch": (t(x01), t(y01)),
            "batches": [(t(a), t(b)) for a, b in zip(xb, yb)], "inputs": t(x01),
            "loss_fn": nn.MSELoss(),
            "optimizer": lambda params: torch.optim.SGD([p for p in params if p.requires_grad],
                                                        lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, buggy=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, buggy=False)
