"""fchollet/deep-learning-with-python-notebooks (companion notebooks of "Deep Learning with Python", 3rd edition),
``chapter08_image-classification.ipynb``, section "Fine-tuning a pretrained model": cats vs dogs (180 x 180 RGB,
``image_dataset_from_directory(..., batch_size=64)``, binary labels). The program builds
``conv_base = keras_hub.models.Backbone.from_preset("xception_41_imagenet", trainable=False)``, then
``inputs -> preprocessor (ImageConverter, pixels to [-1, 1]) -> conv_base -> GlobalAveragePooling2D -> Dense(256)
-> Dropout(0.25) -> Dense(1, sigmoid)``, ``compile(loss="binary_crossentropy", optimizer="adam")`` and trains the
head on augmented batches (RandomFlip("horizontal"), RandomRotation(0.1), RandomZoom(0.2)) for 30 epochs
("feature extraction together with data augmentation"). The fine-tuning cell then recompiles with
``keras.optimizers.Adam(learning_rate=1e-5)`` and fits 30 more epochs.

The fault (parameters meant to train never do): the cell before fine-tuning runs ``conv_base.trainable = False``
(it shows ``len(conv_base.trainable_weights)`` with the flag on and off) and nothing sets it back: the fine-tuning
stage recompiles and trains with the backbone still frozen, so only the head moves and "fine-tuning" is a second
round of feature extraction (the backbone's weights never change). Issue #257 "Chapter 8 Fine-tuning a pretrained
model, conv_base.trainable = True missing": "it seems that conv_base.trainable = True is missing from the code (though
it is mentionned in the book ...). So it's basically the same as 'Feature extraction together with data augmentation'.
This is consistent with the epoch duration which are the same but should be longer if the conv_base was trainable."
PR #260 ("[CH8] Fix missing conv_base.trainable for fine-tuning (#257)") adds ``conv_base.trainable = True`` before
the recompile; that is the fix here.

Source: github.com/fchollet/deep-learning-with-python-notebooks ``chapter08_image-classification.ipynb``
@503b0f4bf9e43b8a17d805aababd860fd3293f7c (cells "Feature extraction together with data augmentation" and
"Fine-tuning a pretrained model"), issue #257, fix proposed in PR #260 (closed) and in the book's own text.
Fault label: params_not_updated (the backbone meant to be fine-tuned keeps trainable=False through the fine-tuning
fit; its weights never change).

Program lines kept: the model graph after the backbone (GlobalAveragePooling2D, ``Dense(256)`` with no activation as
written, Dropout(0.25), Dense(1, sigmoid)), the preprocessor's scaling of 0..255 pixels to [-1, 1] inside the model,
``binary_crossentropy``, Adam default (1e-3) for the feature-extraction stage and ``Adam(learning_rate=1e-5)`` for
fine-tuning, batch 64, horizontal-flip augmentation, ``conv_base.trainable = False`` before the first compile and
(fixed) ``conv_base.trainable = True`` before the fine-tuning compile.
Ported / shrunk: no pretrained weights may be loaded, so the Xception-41 backbone (ImageNet) is replaced by a small
randomly initialised Xception-style base (Conv2D(16, 3, stride 2, relu) -> SeparableConv2D(32, 3, relu) ->
MaxPooling2D(2) -> SeparableConv2D(64, 3, relu); batch norm left out) on 32 x 32 images instead of 180 x 180 (CPU
speed: a step must stay under ~0.1 s on one thread). The 30-epoch feature-extraction stage is shortened to
``PRE_STEPS`` steps of Adam(1e-3) with the base frozen, run inside the build so that the returned model is the one the
fine-tuning cell recompiles; rotation and zoom augmentation are dropped (flip kept, in numpy). The torch twin is the
same network channels-first (Keras' glorot-uniform / zero-bias init; the separable convs as depthwise + pointwise
convs), the Keras binary cross-entropy on probabilities (clip to [1e-7, 1 - 1e-7]); ``trainable = False`` maps to
``requires_grad_(False)`` on the base, and the optimizer is ``Adam(model.parameters(), lr=1e-5)`` (torch's Adam skips
parameters without gradients, as Keras' optimizer sees only trainable weights), so the fault exists in both.
Data stand-in (no download of the Kaggle cats-vs-dogs subset): scikit-learn's bundled 8 x 8 digits, the 0s ("cats")
and 1s ("dogs") only, blown up to 32 x 32 RGB over a noisy random-coloured background (``_data.cifar_like``), 0..255
float32 like ``image_dataset_from_directory`` yields; 360 images, the first 320 for training.

Measured (my own plain loops, /tmp/s48/h72_b/measure.py, OMP_NUM_THREADS=1, the module's builds (after the
PRE_STEPS feature-extraction steps), then the fine-tuning stage with the program's Adam(1e-5): the same 400 augmented
batches of 64 in both versions; held-out = the last 40 images):
  torch: loss at fine-tuning steps 1 / 100 / 200 / 400: buggy 0.688 / 0.690 / 0.691 / 0.689 (mean of the last 10:
    0.690), fixed 0.688 / 0.689 / 0.689 / 0.681 (0.684); backbone max |dW| after 400 steps buggy 0 (exactly), fixed
    6.1e-3; held-out accuracy buggy 0.625, fixed 0.725. After 100 steps: buggy 0.690 -> 0.690, fixed 0.690 -> 0.689,
    backbone max |dW| 0 vs 1.1e-3.
  Keras (train_on_batch): buggy 0.689 / 0.691 / 0.691 / 0.691 (last 10: 0.692), fixed 0.689 / 0.690 / 0.691 / 0.688
    (0.689); backbone max |dW| buggy 0, fixed 5.8e-3; held-out accuracy 0.525 in both.
  So the fault shows as it does in the program: the backbone's weights never change during "fine-tuning" (exactly 0
    in both frameworks), and the fixed run's loss falls a little faster. The stand-in makes the gap small: the
    backbone is random (no ImageNet weights), the shortened feature-extraction stage leaves the loss near ln 2, and
    Adam at the program's 1e-5 moves slowly, so neither version learns much in 400 steps; the issue's point (no
    fine-tuning at all) is what reproduces, not a large accuracy gap.
  Time per step (batch 64, 32 x 32, one thread): torch ~4 ms buggy / ~8 ms fixed, Keras train_on_batch ~7 / ~11 ms;
    builds (first, with imports): torch 4.7 s, Keras 5.8 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "params_not_updated"
SOURCE = ("github:fchollet/deep-learning-with-python-notebooks issue #257, PR #260 "
          "(chapter08_image-classification.ipynb@503b0f4bf9e43b8a17d805aababd860fd3293f7c: fine-tuning recompiles "
          "with Adam(learning_rate=1e-5) while conv_base.trainable is still False; fix: conv_base.trainable = True "
          "before the recompile)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

IMG = 32
BATCH_SIZE = 64  # image_dataset_from_directory(..., batch_size=64)
FE_LR = 1e-3  # optimizer="adam" (feature extraction)
FT_LR = 1e-5  # keras.optimizers.Adam(learning_rate=1e-5) (fine-tuning)
PRE_STEPS = 20  # port: the 30-epoch feature-extraction stage, shortened
N_TRAIN = 320
N_BATCHES = 4
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _dataset() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import cifar_like

    x, y = cifar_like(n=1797, seed=SEED)
    keep = np.flatnonzero(y <= 1)
    return x[keep].astype("float32"), y[keep].astype("float32")  # 0 = cat, 1 = dog


def _batches(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled training batches of BATCH_SIZE, randomly flipped left-right (RandomFlip("horizontal"))."""
    x, y = _dataset()
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    r = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    order = np.empty(0, dtype=int)
    while len(out) < n:
        if len(order) < BATCH_SIZE:
            order = np.concatenate([order, r.permutation(N_TRAIN)])
        idx, order = order[:BATCH_SIZE], order[BATCH_SIZE:]
        xb = np.stack([x[i][:, ::-1] if r.random() < 0.5 else x[i] for i in idx]).astype("float32")
        out.append((xb, y[idx].reshape(-1, 1).astype("float32")))
    return out


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: nn.Module) -> nn.Module:
        nn.init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
        return layer

    def sep(c_in: int, c_out: int) -> list[nn.Module]:  # SeparableConv2D(c_out, 3, activation="relu")
        return [glorot(nn.Conv2d(c_in, c_in, 3, groups=c_in, bias=False)), glorot(nn.Conv2d(c_in, c_out, 1)),
                nn.ReLU()]

    class Preprocessor(nn.Module):  # ImageConverter: 0..255 -> [-1, 1]
        def forward(self, x: Any) -> Any:
            return x / 127.5 - 1.0

    conv_base = nn.Sequential(glorot(nn.Conv2d(3, 16, 3, stride=2)), nn.ReLU(), *sep(16, 32), nn.MaxPool2d(2),
                              *sep(32, 64))
    conv_base.requires_grad_(False)  # conv_base.trainable = False
    model = nn.Sequential(Preprocessor(), conv_base, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          glorot(nn.Linear(64, 256)), nn.Dropout(0.25), glorot(nn.Linear(256, 1)), nn.Sigmoid())

    def loss_fn(p: Any, y: Any) -> Any:  # keras binary_crossentropy on probabilities
        p = torch.clamp(p, 1e-7, 1 - 1e-7)
        return torch.mean(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)))

    def t(a: np.ndarray) -> Any:  # NHWC -> NCHW
        return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2))))

    # feature extraction together with data augmentation (base frozen, optimizer="adam")
    opt = torch.optim.Adam(model.parameters(), lr=FE_LR, eps=1e-7)
    model.train()
    for xb, yb in _batches(PRE_STEPS, SEED + 11):
        opt.zero_grad()
        loss_fn(model(t(xb)), torch.from_numpy(yb)).backward()
        opt.step()
    if fixed:
        conv_base.requires_grad_(True)  # conv_base.trainable = True
    bs = [(t(x), torch.from_numpy(y)) for x, y in _batches(N_BATCHES, SEED)]
    x_all, _ = _dataset()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(x_all[N_TRAIN:]), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=FT_LR, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    conv_base = keras.Sequential([
        keras.Input(shape=(IMG, IMG, 3)),
        layers.Conv2D(16, 3, strides=2, activation="relu"),
        layers.SeparableConv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.SeparableConv2D(64, 3, activation="relu"),
    ], name="conv_base")
    conv_base.trainable = False

    inputs = keras.Input(shape=(IMG, IMG, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)  # preprocessor (ImageConverter)
    x = conv_base(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256)(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        loss="binary_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
    )
    for xb, yb in _batches(PRE_STEPS, SEED + 11):  # feature extraction together with data augmentation
        model.train_on_batch(xb, yb)

    if fixed:
        conv_base.trainable = True
    model.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=FT_LR),
        metrics=["accuracy"],
    )
    bs = _batches(N_BATCHES, SEED)
    x_all, _ = _dataset()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": x_all[N_TRAIN:]}


buggy, fixed = versions(_torch, _keras)
