"""datawhalechina/awesome-compression (a Chinese course on model compression), chapter 2 notebook
``docs/notebook/ch02/1.mnist_classify.ipynb``: trains a LeNet-5 (conv 1->6, 5x5 / max-pool / conv 6->16, 5x5 /
max-pool / fc 256->120->84->10, ReLU) on MNIST with ``transforms.Compose([transforms.ToTensor(),
transforms.Normalize((0.1307,), (0.3081,))])`` for both the train and the test ``DataLoader`` (batch 64, shuffled),
``torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)``, ``nn.CrossEntropyLoss()``, 5 epochs, keeps the best
checkpoint (98.48 % test accuracy in the notebook's output), then, under "predict a single image", reloads the
checkpoint and classifies an image file through ``preprocess_image``: ``Grayscale(num_output_channels=1)``,
``Resize((28, 28))``, ``ToTensor()``, ``Normalize((0.5,), (0.5,))  # Normalize as per model's training``.

The fault (inference preprocessing differs from training): the prediction helper standardises the pixels with mean
0.5 / std 0.5, while the network was trained on pixels standardised with MNIST's mean 0.1307 / std 0.3081, in spite
of the comment that says "as per model's training". A pixel p in [0, 1] reaches the trained network as 2p - 1
instead of (p - 0.1307) / 0.3081 = 3.25p - 0.42: the black background, most of every digit image, moves from -0.42
to -1.0 and full ink from 2.82 to 1.0, i.e. what the model sees at inference is 0.62 x (training input) - 0.74.
Every first-layer activation is shifted and shrunk away from what training fitted, so many predicted digits are
wrong although training and the notebook's own test loop (which reuses the training transform) look fine.
Training itself is untouched by the fault: the buggy and fixed programs train the same model on the same inputs;
only what the trained model is asked to classify differs.

Source: github.com/datawhalechina/awesome-compression ``docs/notebook/ch02/1.mnist_classify.ipynb`` at
37cf03a5c3386b3bdfb795281bfc4434f3833375 (= 879f35e^; the helper since 66f4c50 "Update ch02 jupyter"), fixed by
879f35ee80e1e113000cdafd5017bb53ca26b5d5 "Update 1.mnist_classify.ipynb", pull request #30 (merge 2f53312,
branch "uniform-the-Normalization"), whose description says, in my paraphrase, that Normalize is set at the start
of the notebook but not applied consistently later on, and that the two are made uniform: in ``preprocess_image``
``transforms.Normalize((0.5,), (0.5,))`` -> ``transforms.Normalize((0.1307,), (0.3081,))``.
Fault label: preprocessing_mismatch (the prediction pipeline normalises with other statistics than the training
pipeline).

Program lines kept: ``LeNet`` as written (torch default init, ``torch.manual_seed(0)`` before it as the notebook
seeds first), ``nn.CrossEntropyLoss()``, ``SGD(lr=0.01, momentum=0.5)``, batch size 64, the plain
zero_grad / forward / loss / backward / step loop (no ``train_step`` needed), the training transform's constants
(0.1307, 0.3081) and the prediction transform's constants ((0.5,), (0.5,) buggy; (0.1307,), (0.3081,) fixed).
Replaced: torchvision is not installed here, so the two ``transforms.Compose`` pipelines are written out step by
step with PIL and numpy (Grayscale = PIL ``convert("L")``, Resize((28, 28)) = PIL bilinear resize, identity on
28x28 input, ToTensor = / 255 to (1, 28, 28) float32, Normalize = (x - mean) / std); they map raw uint8 images
(n, 28, 28) to model inputs (n, 1, 28, 28). ``train_pipeline`` is the training / test-loader transform,
``eval_pipeline`` the single-image prediction transform (buggy or fixed) applied image by image, ``raw_samples``
256 raw held-out images. ``batches`` are built with the training transform in both versions; ``inputs`` are the
held-out images as the prediction helper prepares them (so they differ between buggy and fixed, the training data
do not). Nothing shrunk (LeNet is small).
Keras twin: the same LeNet in Keras 3 (Conv2D(6, 5, relu), MaxPooling2D(2), Conv2D(16, 5, relu), MaxPooling2D(2),
Flatten, Dense(120, relu), Dense(84, relu), Dense(10) logits; channels-last (n, 28, 28, 1) inputs, Keras' default
Glorot init), compiled with ``SGD(learning_rate=0.01, momentum=0.5)`` and ``SparseCategoricalCrossentropy(
from_logits=True)``; the pipelines are the same numpy steps with a channels-last output. The fault is in the
framework-neutral pixel arithmetic of the two pipelines, so the twin carries it unchanged.
Data stand-in (no MNIST download): 28x28 uint8 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up
3x3 and padded), each drawn image shifted by -2..2 pixels in x and y, scaled by 0.7..1.0 and given N(0, 10) pixel
noise clipped to 0..255, so batches differ as MNIST's do; training images from the first 1500 digits, held-out
from the last 297. After ToTensor the pixel mean is 0.20 (MNIST 0.13); after the training Normalize the training
images have mean 0.22, std 0.95 (held-out 0.23 / 0.98); the held-out images after the buggy prediction Normalize
mean -0.59, std 0.60 (largest change of a pixel between the two pipelines 1.82). ``batches``: 100 distinct
batches of 64 (the notebook has 938 an epoch); ``batch``: the first; ``inputs``: 256 held-out images through the
prediction pipeline.

Measured (my own plain loop, /tmp/s57/p/b97a/measure.py and seeds.py, OMP_NUM_THREADS=1, seed 0, on the module's
builds: the program's zero_grad / forward / loss / backward / step loop over the module's 100 training batches, in
order, for several passes; then the model, in eval mode, classifies the 256 held-out images through the training
pipeline and through the version's prediction pipeline (= ``inputs``)):
  torch (the program's framework), 1000 steps (10 passes, about one notebook epoch of 938 steps), 5-7 ms a step:
    training loss, 30-step means: 2.31 2.30 2.30 2.29 2.29 2.28 2.27 2.26 2.21 2.05 1.61 1.16 ... 0.14 0.10, the same
      in both versions (the fix does not touch training);
    held-out accuracy / cross-entropy: fixed 0.867 / 0.47 through its prediction pipeline (= the training one);
      buggy 0.867 / 0.47 through the training pipeline but 0.770 / 0.99 through its own prediction pipeline
      (= ``inputs``), with class 5 predicted for 56 of 256 images (26 in the fixed version).
    3000 steps (30 passes, train loss 0.01): fixed 0.898 / 0.51, buggy 0.805 / 0.70 via its prediction pipeline.
    Other torch init seeds (the same data, 1000 steps), held-out accuracy buggy / fixed: seed 1 0.848 / 0.883,
      seed 2 0.746 / 0.902, seed 3 0.613 / 0.875: the loss of accuracy varies with the trained weights (4 to 26
      points) but is always there.
  Keras twin, 1000 steps, ~20-30 ms a step (``train_on_batch``): training loss 2.25 1.81 1.11 0.69 ... 0.05 0.04
    (Glorot init starts learning at once; torch's default init sits near ln 10 for ~200 steps at lr 0.01);
    held-out accuracy / cross-entropy fixed 0.883 / 0.40, buggy 0.742 / 0.90 via the prediction pipeline (0.883
    via the training one). After 300 steps: fixed 0.863, buggy 0.711.
  So the fault leaves the training curves identical and costs 9 to 26 accuracy points (and doubles the
    cross-entropy) when the trained LeNet classifies images prepared by the notebook's prediction helper. The
    notebook printed a single prediction ("Predicted label: 5") for its own test.png, whose true digit is not
    given, so the size of the effect on real MNIST is not known from the source.
  Build time (both frameworks, both versions): first ~23 s (TensorFlow import, data, PIL pipelines), later < 0.2 s.

Lead's edit: the builders' ``train_pipeline`` / ``eval_pipeline`` take one raw sample (28, 28) and return one model
input, as ``preprocessing_parity`` calls them (the port's pipelines mapped a batch (n, 28, 28) to (n, 1, 28, 28), so a
single image was read as 28 one-row images and the fixed version's identical pipelines differed).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:datawhalechina/awesome-compression PR #30 (docs/notebook/ch02/1.mnist_classify.ipynb "
          "preprocess_image 'transforms.Normalize((0.5,), (0.5,))  # Normalize as per model's training' with training "
          "transform Normalize((0.1307,), (0.3081,)) @37cf03a5c3386b3bdfb795281bfc4434f3833375 = 879f35e^; "
          "fix 879f35ee80e1e113000cdafd5017bb53ca26b5d5 'Update 1.mnist_classify.ipynb', merge 2f53312)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {}), ("loss_decreases", {}),
          ("overfit_one_batch", {})]

BATCH_SIZE = 64
LR = 0.01
MOMENTUM = 0.5
TRAIN_MEAN, TRAIN_STD = (0.1307,), (0.3081,)  # transforms.Normalize((0.1307,), (0.3081,)) for train / test loaders
PREDICT_MEAN_BUGGY, PREDICT_STD_BUGGY = (0.5,), (0.5,)  # preprocess_image: transforms.Normalize((0.5,), (0.5,))
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw uint8 (n, 28, 28) training images and labels, raw held-out images and labels: shifted, scaled, noisy
    digits."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).astype("uint8")
    return xs[:n_tr], y0[src[:n_tr]], xs[n_tr:], y0[src[n_tr:]]


def _pipeline(mean: tuple[float, ...], std: tuple[float, ...], *, pil_steps: bool) -> Any:
    """A transforms.Compose written out: [Grayscale(1), Resize((28, 28)),] ToTensor(), Normalize(mean, std).
    Maps raw uint8 images (n, 28, 28) to float32 (n, 1, 28, 28)."""

    def run(raw: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = np.empty((len(raw), 1, 28, 28), "float32")
        for i, a in enumerate(np.asarray(raw)):
            if pil_steps:  # preprocess_image: Grayscale(num_output_channels=1), Resize((28, 28))
                img = Image.fromarray(np.asarray(a, "uint8")).convert("L").resize((28, 28), Image.BILINEAR)
                a = np.asarray(img)
            t = np.asarray(a, "float32")[None] / 255.0  # ToTensor()
            out[i] = (t - mean[0]) / std[0]  # Normalize(mean, std)
        return out

    return run


def _pipelines(fixed: bool) -> tuple[Any, Any]:
    train_tf = _pipeline(TRAIN_MEAN, TRAIN_STD, pil_steps=False)
    if fixed:  # the fix (879f35e): transforms.Normalize((0.1307,), (0.3081,)) in preprocess_image
        predict_tf = _pipeline(TRAIN_MEAN, TRAIN_STD, pil_steps=True)
    else:  # transforms.Normalize((0.5,), (0.5,))  # Normalize as per model's training
        predict_tf = _pipeline(PREDICT_MEAN_BUGGY, PREDICT_STD_BUGGY, pil_steps=True)
    return train_tf, predict_tf


@functools.lru_cache(maxsize=1)
def _train_arrays() -> tuple[np.ndarray, np.ndarray]:
    x_raw, y = _raw()[:2]
    return _pipeline(TRAIN_MEAN, TRAIN_STD, pil_steps=False)(x_raw), y


def _common(fixed: bool, channels_last: bool) -> dict[str, Any]:
    train_tf, predict_tf = _pipelines(fixed)
    x, y = _train_arrays()
    raw_held = _raw()[2]
    inputs = predict_tf(raw_held)

    def nhwc(f: Any) -> Any:
        return lambda raw: np.transpose(f(raw), (0, 2, 3, 1))

    if channels_last:
        x, inputs, train_tf, predict_tf = np.transpose(x, (0, 2, 3, 1)), np.transpose(inputs, (0, 2, 3, 1)), \
            nhwc(train_tf), nhwc(predict_tf)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]

    def one(f: Any) -> Any:  # lead's edit: preprocessing_parity hands a pipeline one raw sample at a time
        return lambda raw: f(np.asarray(raw)[None])[0]

    train_tf, predict_tf = one(train_tf), one(predict_tf)
    return {"batch": bs[0], "batches": bs, "inputs": inputs, "train_pipeline": train_tf,
            "eval_pipeline": predict_tf, "raw_samples": raw_held}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    class LeNet(nn.Module):
        def __init__(self, num_classes=10):
            super(LeNet, self).__init__()
            self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5)
            self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5)
            self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.fc1 = nn.Linear(in_features=16 * 4 * 4, out_features=120)
            self.fc2 = nn.Linear(in_features=120, out_features=84)
            self.fc3 = nn.Linear(in_features=84, out_features=num_classes)

        def forward(self, x):
            x = self.maxpool(F.relu(self.conv1(x)))
            x = self.maxpool(F.relu(self.conv2(x)))

            x = x.view(x.size()[0], -1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)

            return x

    model = LeNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    criterion = nn.CrossEntropyLoss()

    c = _common(fixed, channels_last=False)
    train_np, predict_np = c["train_pipeline"], c["eval_pipeline"]
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(c["inputs"]),
            "loss_fn": criterion, "optimizer": optimizer,
            "train_pipeline": lambda raw: torch.from_numpy(train_np(raw)),
            "eval_pipeline": lambda raw: torch.from_numpy(predict_np(raw)), "raw_samples": c["raw_samples"]}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, 5, activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(16, 5, activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return {"model": model, **_common(fixed, channels_last=True)}


buggy, fixed = versions(_torch, _keras)
