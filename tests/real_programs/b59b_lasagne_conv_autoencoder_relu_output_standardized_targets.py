"""mikesj-public/convolutional_autoencoder, ``mnist_conv_autoencode.ipynb``: a convolutional autoencoder on MNIST in
Lasagne + nolearn (README: "Code for a convolutional autoencoder written on python, theano, lasagne, nolearn").
Kyle McDonald's PR #7 commit d800b2e ("better network for reconstructing random digits") rebuilt the network as
``Conv(16, 3) -> Conv(16, 3) -> MaxPool(2) -> Conv(32, 3) -> MaxPool(2) -> Dense(128) -> Dense(16, name='encode') ->
Dense(128) -> Dense(800) -> Reshape(32, 5, 5) -> Upscale(2) -> Conv(16, 3, pad='full') -> Upscale(2) -> Conv(16, 3,
pad='full') -> Conv(1, 3, pad='full') -> Reshape(784)``, every layer with Lasagne's defaults: GlorotUniform weights,
zero biases and ``nonlinearity=rectify`` (ReLU), the last convolution included (the network before it had
``'nonlinearity': None`` on its convolutions). Trained by ``NeuralNet(max_epochs=20, update=nesterov_momentum,
update_learning_rate=0.01, update_momentum=0.975, regression=True)``: squared error averaged over batch and pixels,
nolearn's ``BatchIterator(batch_size=128)`` (in order) and ``TrainSplit(eval_size=0.2)`` (KFold's first fold: the first
20 % validation, the rest training); ``ae.fit(X_train, X_out)``.

The fault: the notebook kept its data preparation from the earlier linear-output network,
    X = np.rint(X * 256).astype(np.int).reshape((-1, 1, 28,28))
    mu, sigma = np.mean(X.flatten()), np.std(X.flatten())
    X_train = (X_train - mu) / sigma
    X_out = X_train.reshape((X_train.shape[0], -1))
so the reconstruction targets are standardized pixels: the black background (80 % of MNIST's pixels) becomes
-mu/sigma = -0.42, which the ReLU output layer can never produce (its gradient there is zero as well). The best the
network can do on those pixels is 0, i.e. grey (mu = 33 of 255) after the notebook's ``* sigma + mu``; the squared
error has a floor of mean(min(target, 0)^2) (about 0.8 * 0.42^2 = 0.15 on MNIST, 0.26 on the stand-in below). Kyle
McDonald's PR #9, commit e70a8dc ("fixed some issues with clipping the data, and unused variables"): its description
says the mean/std normalization was not needed here and cut off the lower half of the data, since the network cannot
reconstruct negative values (a tanh output being the other way out); the maintainer agreed, recalling that the
original version had used tanh for exactly that reason and that a later pull request must have changed it. The fix
feeds mnist.pkl's floats in [0, 1) directly (``X = np.reshape(X, (-1, 1, 28, 28))``, ``X_out = X.reshape((X.shape[0],
-1))``) and scales predictions by 256 for display. e70a8dc also changed the
layer sizes ('same' padding, Dense(784)); the PR's second commit 5150b47 ("fixing num filters and layer sizes
again...") restored d800b2e's layers exactly, so the merged fix (c7113ca) differs from the buggy notebook only in
the data scaling.

Source: github.com/mikesj-public/convolutional_autoencoder, ``mnist_conv_autoencode.ipynb`` at e70a8dc^ =
d800b2e7ec45a887abd4bd802a6ae60814939f2f (from PR #7, merge 8484b78); fix PR #9:
e70a8dc6b583708cf8fc70f8006a9a53d0742fb7 + 5150b47f0150bacc2745ba7fd2684c7c9da2492e, merge
c7113caf7f963a9da03e2545e934e645481ac068. nolearn's ``BatchIterator``, ``TrainSplit`` and ``squared_error`` objective
as of dnouri/nolearn 409c5f57 (Sept. 2015).

Program lines kept: the layers and their sizes, ReLU everywhere (Lasagne's default nonlinearity), Glorot-uniform
weights and zero biases (Lasagne's defaults), ``pad='full'`` on the decoder convolutions, nearest-neighbour
``Upscale2DLayer``, the mean squared error, Nesterov momentum (lr 0.01, momentum 0.975), batches of 128 in order,
the first 20 % held out; buggy: ``rint(X * 256)``, mu/sigma over all images, standardized inputs and targets;
fixed: the [0, 1) floats as inputs and targets.
Ported: Lasagne/Theano/nolearn -> torch and Keras 3. torch: ``Conv2d`` (``padding=2`` for 'full'),
``nn.Upsample(scale_factor=2)``, ``xavier_uniform_`` weights (Lasagne's GlorotUniform has the same fan-in/fan-out
limits) and zero biases; ``SGD(lr=0.01, momentum=0.975, nesterov=True)`` (the same update as Lasagne's
``nesterov_momentum``). Keras: channels-last, ``ZeroPadding2D(2)`` + valid ``Conv2D`` for 'full', ``UpSampling2D``,
``Reshape((5, 5, 32))``, the default glorot-uniform/zeros initialisers, ``SGD(0.01, momentum=0.975, nesterov=True)``,
``loss='mse'``. Lasagne's filter flipping (true convolution) is irrelevant for learned filters. The cuda-convnet
layer switch, pickling and the image montage cells are dropped. Targets are ``X_out`` (n, 784) as in the program.
Data stand-in (no mnist.pkl.gz download): ``_data.mnist_like(1797)`` (scikit-learn's 8x8 digits blown up to 28x28,
0..255) divided by 256 (mnist.pkl stores pixel / 256, max 0.996); (n, 1, 28, 28) for torch, (n, 28, 28, 1) for
Keras. Its ink is thicker than MNIST's: mean 57.0, std 89.0 (of 255), 62 % zero pixels (MNIST 33.3, 78.6, ~80 %), so
the background standardizes to -0.64 and the unreachable share of the error is larger. 1,797 images instead of
50,000: validation = the first 359 (``inputs``), training = the other 1,438 (12 batches of 128 an epoch, the last one
30); ``batch`` = the first training batch, ``batches`` = the first four.

Fault label: output_activation|other:targets_outside_output_range (the reconstruction targets were standardized
to mean 0 / std 1, but the output layer is a ReLU: every target below 0, the whole background, is out of reach).

Measured (my own plain loops, OMP_NUM_THREADS=1, the module's builds and data, 12 batches of 128 per epoch in
order (the last one 30); /tmp/s41/h59b/measure.py: 20 epochs = 240 steps and one batch repeated, the module's seed;
measure2.py: 60 epochs over weight seeds 0-2 in torch, 40 epochs over seeds 0-1 in Keras (the module's ``SEED`` set).
"train" / "val" = epoch-mean training loss / validation MSE divided by the variance of the targets (1.0 buggy, 0.12
fixed), so the two scalings compare; the buggy floor mean(min(target, 0)^2) / var is 0.262 on the validation images;
"pix" = RMS error in 0..255 on the 359 validation images after the notebook's own un-scaling (buggy ``pred * sigma +
mu``, fixed ``256. * pred``, clipped to 0..255); "bg" = mean reconstructed value of the background (target 0)
pixels, 0..255; "dead" = the output ReLU returns 0 for every pixel of every image (every gradient is then 0 and the
loss stays at mean(target^2)):
  torch, seed 0, raw training loss at steps 1 / 12 / 60 / 120 / 240: buggy 1.008 / 1.022 / 0.649 / 1.084 / 1.084
    (dead between epochs 5 and 20), fixed 0.174 / 0.128 / 0.074 / 0.059 / 0.047. val after epochs 5 / 20 / 60:
    seed 0 buggy 0.651 / 1.000 / 1.000 (dead; pix 89.8, every image a flat grey 57 = mu), fixed 0.600 / 0.385 / 0.154
    (pix 35.0, bg 4.3); seed 1 buggy dead from epoch 1 (val 1.000), fixed 0.838 / 0.419 / 0.160 (pix 35.7, bg 4.4);
    seed 2 buggy 0.682 / 0.435 / 0.335 (train 0.339; pix 51.8, bg 57.3: the background stays grey), fixed 0.790 /
    0.456 / 0.196 (pix 39.6, bg 6.0). One batch of 128 repeated (seed 0), raw loss at steps 0 / 50 / 100 / 200 / 400:
    buggy 1.008 / 0.634 / 0.615 / 0.432 / 0.354 (that batch's floor 0.259, target variance 1.01), fixed 0.174 /
    0.082 / 0.057 / 0.050 / 0.030 (target variance 0.122, so 0.25 of it, still falling).
  Keras, seed 0, raw training loss at steps 1 / 12 / 60 / 120 / 240: buggy 1.003 / 1.017 / 0.631 / 0.534 / 0.417,
    fixed 0.171 / 0.131 / 0.081 / 0.059 / 0.049. val after epochs 5 / 20 / 40: seed 0 buggy 0.641 / 0.431 / 0.362
    (pix 53.9, bg 57.5), fixed 0.646 / 0.415 / 0.236 (pix 43.5, bg 7.5); seed 1 buggy dead from epoch 1 (val
    1.000), fixed 0.825 / 0.436 / 0.228 (pix 42.7, bg 7.3). One batch repeated (seed 0): buggy 1.003 / 0.624 / 0.591
    / 1.011 / 1.011 (dead between steps 100 and 200), fixed 0.171 / 0.086 / 0.056 / 0.049 / 0.031.
  In short: 3 of the 5 buggy runs and 1 of the 2 one-batch runs end with a dead output layer (constant 0
  predictions, zero gradients); the others keep a grey background (bg ~57 = mu) and stay above the 0.262 floor
  (0.34-0.36 of the variance after 480-720 steps), while every fixed run reaches 0.15-0.24 and keeps falling, its
  background going to 4-8. Over the first ~100 steps the two versions' normalised losses are alike.
  Time per step (batch 128, one thread, loaded 2-core machine, load average ~5): torch 60-85 ms, Keras
    ``train_on_batch`` 145-175 ms (batch 64: 86 ms, 32: 43 ms; the program's 128 is kept); builds: torch < 0.02 s,
    Keras 0.07-0.11 s (the first build with the imports: torch 2.3 s, Keras + TensorFlow 4.0 s).
Inputs: buggy standardized (batch mean 0.02, std 1.0), fixed the [0, 1) pixels (mean 0.23, std 0.35), the usual
ToTensor-like range; neither is what the fault is about.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation|other:targets_outside_output_range"
SOURCE = ("github:mikesj-public/convolutional_autoencoder mnist_conv_autoencode.ipynb@e70a8dc^ = "
          "d800b2e7ec45a887abd4bd802a6ae60814939f2f ('better network for reconstructing random digits', PR #7: "
          "all-ReLU layers incl. the output Conv2DLayer, targets (X - mu) / sigma); fix PR #9 "
          "e70a8dc6b583708cf8fc70f8006a9a53d0742fb7 'fixed some issues with clipping the data, and unused "
          "variables' + 5150b47 'fixing num filters and layer sizes again...', merge "
          "c7113caf7f963a9da03e2545e934e645481ac068: X in [0, 1) as inputs and targets")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}), ("inputs_normalized", {}),
          ("not_constant_predictions", {})]

# notebook constants
conv_num_filters = 16
filter_size = 3
pool_size = 2
epochs = 20
encode_size = 16
dense_mid_size = 128
update_learning_rate = 0.01
update_momentum = 0.975
batch_size = 128  # nolearn NeuralNet's default BatchIterator(batch_size=128)
eval_size = 0.2  # nolearn's default TrainSplit(eval_size=0.2)
# port: scikit-learn's 1,797 digits instead of MNIST's 50,000 training images
N_IMAGES = 1797
N_BATCHES = 4
SEED = 0


@functools.lru_cache(maxsize=2)
def _data(bug: bool) -> dict[str, Any]:
    """The notebook's data cells on the stand-in: (X_in, X_out) split like nolearn's TrainSplit (KFold's first fold:
    the first 20 % validation), training batches of 128 in order."""
    from tests.real_programs._data import mnist_like

    imgs, _ = mnist_like(N_IMAGES)
    X = (imgs.astype("float32") / 256.0).reshape(-1, 1, 28, 28)  # mnist.pkl.gz stores pixel / 256
    if bug:  # d800b2e
        X = np.rint(X * 256).astype(np.int64).reshape((-1, 1, 28, 28))  # (0, 255) ints, "we'll do our own scaling"
        mu, sigma = np.mean(X.flatten()), np.std(X.flatten())
        X_train = X.astype(np.float64)
        X_train = (X_train - mu) / sigma
        X_in = X_train.astype(np.float32)
    else:  # e70a8dc / 5150b47
        X_in = X
    # we need our target to be 1 dimensional
    X_out = X_in.reshape((X_in.shape[0], -1))
    n_valid = len(X_in) // int(round(1.0 / eval_size))  # KFold(n, 5): first fold, 359 images
    xs, ys = X_in[n_valid:], X_out[n_valid:]
    batches = [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, len(xs), batch_size)]
    # the notebook's way back to 0..255 pixels: buggy `pred * sigma + mu`, fixed `256. * pred`
    to_pixels = (float(sigma), float(mu)) if bug else (256.0, 0.0)
    return {"train_batches": batches, "valid": (X_in[:n_valid], X_out[:n_valid]), "to_pixels": to_pixels}


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: Any) -> Any:  # Lasagne's defaults: W=GlorotUniform(), b=Constant(0.)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    def conv(c_in: int, c_out: int, pad: str = "valid") -> Any:
        return glorot(nn.Conv2d(c_in, c_out, filter_size, padding=filter_size - 1 if pad == "full" else 0))

    f = conv_num_filters
    model = nn.Sequential(  # every Lasagne layer with its default nonlinearity=rectify
        conv(1, f), nn.ReLU(),
        conv(f, f), nn.ReLU(),
        nn.MaxPool2d(pool_size),
        conv(f, 2 * f), nn.ReLU(),
        nn.MaxPool2d(pool_size),
        nn.Flatten(),  # ReshapeLayer(([0], -1))
        glorot(nn.Linear(800, dense_mid_size)), nn.ReLU(),
        glorot(nn.Linear(dense_mid_size, encode_size)), nn.ReLU(),  # 'encode'
        glorot(nn.Linear(encode_size, dense_mid_size)), nn.ReLU(),
        glorot(nn.Linear(dense_mid_size, 800)), nn.ReLU(),
        nn.Unflatten(1, (32, 5, 5)),
        nn.Upsample(scale_factor=pool_size),
        conv(2 * f, f, "full"), nn.ReLU(),
        nn.Upsample(scale_factor=pool_size),
        conv(f, 16, "full"), nn.ReLU(),
        conv(16, 1, "full"), nn.ReLU(),  # the output layer: a ReLU as well
        nn.Flatten(),  # ReshapeLayer(([0], -1))
    )

    def loss_fn(outputs: Any, targets: Any) -> Any:  # nolearn regression: squared_error, aggregate mean
        return ((outputs - targets) ** 2).mean()

    d = _data(bug)
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["train_batches"][:N_BATCHES]]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(d["valid"][0]),
            "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.SGD(params, lr=update_learning_rate, momentum=update_momentum,
                                                        nesterov=True)}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    f = conv_num_filters
    model = keras.Sequential([  # Keras' default glorot_uniform / zeros initialisers = Lasagne's
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(f, filter_size, activation="relu"),
        layers.Conv2D(f, filter_size, activation="relu"),
        layers.MaxPooling2D(pool_size),
        layers.Conv2D(2 * f, filter_size, activation="relu"),
        layers.MaxPooling2D(pool_size),
        layers.Flatten(),
        layers.Dense(dense_mid_size, activation="relu"),
        layers.Dense(encode_size, activation="relu", name="encode"),
        layers.Dense(dense_mid_size, activation="relu"),
        layers.Dense(800, activation="relu"),
        layers.Reshape((5, 5, 32)),
        layers.UpSampling2D(pool_size),
        layers.ZeroPadding2D(filter_size - 1), layers.Conv2D(f, filter_size, activation="relu"),  # pad='full'
        layers.UpSampling2D(pool_size),
        layers.ZeroPadding2D(filter_size - 1), layers.Conv2D(16, filter_size, activation="relu"),
        layers.ZeroPadding2D(filter_size - 1), layers.Conv2D(1, filter_size, activation="relu"),
        layers.Flatten(),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=update_learning_rate, momentum=update_momentum,
                                                 nesterov=True),
                  loss="mse")
    d = _data(bug)
    kb = [(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y) for x, y in d["train_batches"][:N_BATCHES]]
    return {"model": model, "batch": kb[0], "batches": kb,
            "inputs": np.ascontiguousarray(d["valid"][0].transpose(0, 2, 3, 1))}


buggy, fixed = versions(_torch, _keras, flag="bug")
