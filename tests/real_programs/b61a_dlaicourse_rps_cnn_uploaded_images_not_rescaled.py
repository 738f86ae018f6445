"""lmoroney/dlaicourse (Laurence Moroney's deeplearning.ai "TensorFlow in Practice" course notebooks), Course 2
Part 8 Lesson 2, ``Course 2 - Part 8 - Lesson 2 - Notebook (RockPaperScissors).ipynb`` (the same lab later lives in
https-deeplearning-ai/tensorflow-1-public as ``C2/W4/ungraded_lab/C2_W4_Lab_1_multi_class_classifier.ipynb``): a
three-class rock / paper / scissors classifier on the CGI hand images (300 x 300 RGB, white background). Training
images come from ``ImageDataGenerator(rescale=1./255, rotation_range=40, width_shift_range=0.2,
height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='nearest')
.flow_from_directory(TRAINING_DIR, target_size=(150, 150), class_mode='categorical', batch_size=126)``; the model is
``Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Conv2D(128, 3, relu) ->
MaxPooling2D(2) -> Conv2D(128, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dropout(0.5) -> Dense(512, relu) ->
Dense(3, softmax)``, ``compile(loss='categorical_crossentropy', optimizer='rmsprop')``, ``fit(train_generator,
epochs=25, steps_per_epoch=20)``. The last cell classifies the user's own images:
``img = image.load_img(path, target_size=(150, 150)); x = image.img_to_array(img); x = np.expand_dims(x, axis=0);
classes = model.predict(np.vstack([x]), batch_size=10)``.

The fault (train/serve preprocessing differ): the network is trained on pixels scaled to [0, 1] by the generator's
``rescale=1./255``, but the prediction cell hands it ``img_to_array`` output, raw 0..255 floats. Every activation is
255 times larger than anything seen in training, the softmax saturates and the predictions stop following the
image (near one-hot, mostly the same class). Issue lmoroney/dlaicourse #129 "Image classification code, image
rescaling missing" (on the notebook at 09767115b53c8ac99df7b85fc67a3cea9fed2482: "we should also rescale the values
to [0,1] (by dividing by 255). We are doing this when applying the imagedatagenerator. When we manually upload the
images, we just resize, but don't rescale"; "I have noticed the same!"). The copy in
https-deeplearning-ai/tensorflow-1-public kept the unscaled prediction cell (still there at
10779b2250ec0715932b01a5b3f60018e2a142e9) until a41f77a25cbc4722d9b1aa9f9204f123c5789e97 ("dev: add v4 files"), which
puts ``tf.keras.layers.Rescaling(1./255)`` into the model itself so that training batches and the uploaded images
(both raw 0..255 there) are scaled by the same layer. The fix here is the issue's: the prediction path divides by
255 like the training generator (equivalent to the v4 layer: the network sees [0, 1] pixels in both paths).

Source: github.com/lmoroney/dlaicourse ``Course 2 - Part 8 - Lesson 2 - Notebook (RockPaperScissors).ipynb``
@09767115b53c8ac99df7b85fc67a3cea9fed2482, issue #129; fix in https-deeplearning-ai/tensorflow-1-public
``C2/W4/ungraded_lab/C2_W4_Lab_1_multi_class_classifier.ipynb`` @a41f77a25cbc4722d9b1aa9f9204f123c5789e97
(Rescaling(1./255) inside the model; buggy there at 10779b2250ec0715932b01a5b3f60018e2a142e9).
Fault label: preprocessing_mismatch (training images are scaled by 1/255, the images sent for prediction are not).

Program lines kept: the model (layer order, 3x3 kernels, 2x2 pools, Dropout(0.5), Dense(512, relu), Dense(3,
softmax), Keras default initialisers: glorot-uniform kernels, zero biases), ``categorical_crossentropy`` on the softmax
output, ``optimizer='rmsprop'`` (Keras defaults: lr 1e-3, rho 0.9), class_mode 'categorical' (one-hot targets,
classes in flow_from_directory's alphabetical order: paper, rock, scissors), the generator's ``rescale=1./255`` with
horizontal flips and width / height shifts of up to 20 % filled 'nearest', and the prediction cell's
``img_to_array`` (raw 0..255 float32) without the 1/255 (buggy) / with it (fixed).
Ported / shrunk: images 64 x 64 instead of 150 x 150, the four conv layers 16 / 16 / 32 / 32 filters instead of 64 /
64 / 128 / 128 and batches of 32 instead of 126 (the program's sizes take ~13 s a torch step on one CPU thread);
after the four conv / pool stages the 64-px input leaves 2 x 2 x 32 = 128 features (program: 7 x 7 x 128) for the kept
Dense(512). The generator's rotation, shear and zoom are dropped (flip and shifts kept, in numpy). The torch twin is
the same network channels-first (``nn.Softmax`` head, Keras' glorot-uniform / zero-bias init, ``RMSprop(lr=1e-3,
alpha=0.9, eps=1e-7)``, the Keras categorical cross-entropy on probabilities: clip to [1e-7, 1 - 1e-7], -sum(y log
p), batch mean); the fault is numpy preprocessing around the model, so it exists in both frameworks.
Data stand-in (no download of rps.zip): seeded synthetic CGI-like hands, 64 x 64 RGB uint8 values as float32 (what
``img_to_array`` gives, 0..255), near-white background with a soft shadow, a skin-toned palm (random tone, size,
position) with no fingers (rock: a fist with four knuckle bumps), five spread fingers (paper) or two fingers in a V
(scissors), random finger angles and lengths, pixel noise; 480 training images (balanced, shuffled) and 96 held-out
"uploaded" images. ``batches``: the generator's first 4 batches of 32 (rescaled, augmented); ``inputs``: the 96
held-out images as the prediction cell hands them to ``model.predict`` (buggy 0..255, fixed /255);
``baseline_batch``: 64 generator images; ``train_pipeline`` / ``eval_pipeline``: one raw image through the
generator's rescale (no augmentation) / through the prediction cell (torch: then HWC -> CHW); ``raw_samples``: 16 raw
held-out images (H, W, 3), 0..255.

Measured (my own plain loops, /tmp/s43/h_b61a_dlaicourse_rps/measure.py, OMP_NUM_THREADS=1, the module's builds and
data; training = 15 epochs of the 480 training images in augmented batches of 32 (225 steps), the same in both
versions; then the held-out 96 through the buggy / fixed prediction path):
  prediction inputs: buggy 53..255 (mean ~228 per pixel off the training scale on the 16 raw_samples), fixed
    0.21..1.0 like the training batches; train_pipeline vs eval_pipeline differ by a factor 255 (buggy), 0 (fixed).
  torch: step 1-4 losses 1.108 / 1.064 / 1.188 / 1.112; epoch-mean loss after epochs 1 / 5 / 10 / 15: 1.106 /
    1.083 / 0.761 / 0.487. Held-out 96: buggy accuracy 0.833, predicted classes (paper / rock / scissors) 16 / 33 /
    47, mean max probability 1.000 (saturated); fixed accuracy 0.677, 35 / 46 / 15, mean max probability 0.775.
  Keras (``train_on_batch``): step 1-4 losses 1.098 / 1.097 / 1.117 / 1.103; epoch-mean loss after epochs 1 / 5 /
    10 / 15: 1.105 / 1.100 / 1.094 / 1.021 (slower start than torch). Held-out: buggy accuracy 0.708, 48 / 26 / 22,
    mean max probability 0.987; fixed accuracy 0.740, 24 / 45 / 27, mean max probability 0.438.
  So on this stand-in the unscaled request saturates the softmax (near one-hot outputs in both frameworks) but does
    NOT collapse the predictions to one class, nor lower the accuracy (torch: higher, Keras: slightly lower): the
    ReLU network without batch norm is close to positively homogeneous, so multiplying the input by 255 mostly
    scales the logits and keeps their argmax; the issue's wrong classes on real uploaded photos are not reproduced.
    What reproduces is the train / serve preprocessing disagreement (inputs 255 times off the training scale).
  Time per step (batch 32, one thread): torch ~92 ms, Keras ``train_on_batch`` ~73 ms; builds (first, with imports
    and the 576 stand-in images): torch 3.4 s, Keras 12.9 s on a loaded machine.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:lmoroney/dlaicourse issue #129 ('Course 2 - Part 8 - Lesson 2 - Notebook (RockPaperScissors).ipynb'"
          "@09767115b53c8ac99df7b85fc67a3cea9fed2482: ImageDataGenerator(rescale=1./255) for training, prediction "
          "cell 'x = image.img_to_array(img); model.predict(np.vstack([x]))' without /255); fixed in "
          "https-deeplearning-ai/tensorflow-1-public C2/W4/ungraded_lab/C2_W4_Lab_1_multi_class_classifier.ipynb"
          "@a41f77a25cbc4722d9b1aa9f9204f123c5789e97 (tf.keras.layers.Rescaling(1./255) inside the model; buggy "
          "there at 10779b2250ec0715932b01a5b3f60018e2a142e9)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {}), ("not_constant_predictions", {}),
          ("loss_decreases", {}), ("overfit_one_batch", {})]

CLASSES = ("paper", "rock", "scissors")  # flow_from_directory: alphabetical sub-folder order
NUM_CLASSES = 3
RESCALE = 1.0 / 255  # ImageDataGenerator(rescale = 1./255, ...)
WIDTH_SHIFT = 0.2
HEIGHT_SHIFT = 0.2
LEARNING_RATE = 0.001  # optimizer='rmsprop': Keras defaults
RHO = 0.9
# port: 64 x 64 images, filters / 4, batches of 32 (program: 150 x 150, 64-64-128-128, batch_size=126)
IMG = 64
FILTERS = (16, 16, 32, 32)
DENSE = 512
BATCH_SIZE = 32
N_TRAIN = 480
N_TEST = 96
N_BATCHES = 4
N_RAW = 16
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _hand(label: int, r: np.random.Generator) -> np.ndarray:
    """One CGI-like hand on a white background, (IMG, IMG, 3) float32 in 0..255 (``img_to_array`` of the image)."""
    yy, xx = np.mgrid[0:IMG, 0:IMG].astype(np.float64)
    bg = r.uniform(225, 255)
    img = np.full((IMG, IMG, 3), bg)
    skin = np.array([r.uniform(170, 240), r.uniform(110, 185), r.uniform(80, 155)])
    cy, cx = r.uniform(26, 40), r.uniform(24, 40)
    ry, rx = r.uniform(9, 12), r.uniform(10, 13)
    palm = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    mask = palm.copy()

    def finger(angle: float, length: float, width: float, oy: float, ox: float) -> np.ndarray:
        dy, dx = -np.cos(angle), np.sin(angle)  # angle 0 = pointing up
        py, px = yy - oy, xx - ox
        t = py * dy + px * dx
        d = np.abs(py * dx - px * dy)
        return (t >= 0) & (t <= length) & (d <= width / 2)

    if label == 1:  # rock: a fist, knuckle bumps along the top
        for k in range(4):
            kx = cx - rx * 0.75 + k * rx * 0.5
            mask |= (yy - (cy - ry * 0.85)) ** 2 + (xx - kx) ** 2 <= r.uniform(2.5, 3.5) ** 2
    elif label == 0:  # paper: five spread fingers
        for k, a in enumerate(np.linspace(-0.9, 0.7, 5) + r.normal(0, 0.08, 5)):
            length = r.uniform(10, 15) * (0.7 if k == 0 else 1.0)
            mask |= finger(a, length, r.uniform(3.0, 4.0), cy - ry * 0.5 * np.cos(a), cx + rx * 0.6 * np.sin(a))
    else:  # scissors: two fingers in a V
        spread = r.uniform(0.25, 0.5)
        for a in (-spread, spread):
            a = a + r.normal(0, 0.05)
            mask |= finger(a, r.uniform(13, 17), r.uniform(3.0, 4.0), cy - ry * 0.6, cx + 2.5 * np.sign(a))
    shadow = np.roll(np.roll(mask, 2, axis=0), 2, axis=1) & ~mask
    img[shadow] *= 0.85
    shade = 1.0 - 0.25 * np.clip((yy - cy) / (2 * ry) + 0.5, 0, 1)  # lit from above
    img[mask] = (skin[None, :] * shade[mask][:, None])
    img += r.normal(0, 3.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    """N_TRAIN + N_TEST raw images (n, IMG, IMG, 3) 0..255 float32, labels (n,) int; the last N_TEST held out."""
    r = np.random.default_rng(SEED)
    labels = np.concatenate([np.arange(N_TRAIN) % NUM_CLASSES, np.arange(N_TEST) % NUM_CLASSES])
    r.shuffle(labels[:N_TRAIN])
    r.shuffle(labels[N_TRAIN:])
    xs = np.stack([_hand(int(c), r) for c in labels])
    return xs, labels.astype("int64")


def _augment(x: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """The generator's random transform (kept part): horizontal_flip, width / height shifts of up to 20 %,
    fill_mode='nearest'."""
    if r.random() < 0.5:
        x = x[:, ::-1]
    sy = int(round(r.uniform(-HEIGHT_SHIFT, HEIGHT_SHIFT) * IMG))
    sx = int(round(r.uniform(-WIDTH_SHIFT, WIDTH_SHIFT) * IMG))
    iy = np.clip(np.arange(IMG) - sy, 0, IMG - 1)
    ix = np.clip(np.arange(IMG) - sx, 0, IMG - 1)
    return x[iy][:, ix]


def train_generator(n_batches: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """``training_datagen.flow_from_directory(...)``: shuffled epochs of the training images, each image
    rescaled by 1/255 and augmented, one-hot (categorical) targets, BATCH_SIZE per batch."""
    x, y = _dataset()
    x, y = x[:N_TRAIN], y[:N_TRAIN]
    r = np.random.default_rng(seed + 1)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    order = np.empty(0, dtype=int)
    while len(out) < n_batches:
        if len(order) < BATCH_SIZE:
            order = np.concatenate([order, r.permutation(N_TRAIN)])
        idx, order = order[:BATCH_SIZE], order[BATCH_SIZE:]
        xb = np.stack([_augment(x[i] * RESCALE, r) for i in idx]).astype("float32")
        out.append((xb, np.eye(NUM_CLASSES, dtype="float32")[y[idx]]))
    return out


def train_pipeline(img: np.ndarray) -> np.ndarray:
    """A raw image as the training generator scales it (rescale=1./255; augmentation left out)."""
    return (np.asarray(img, dtype=np.float32) * RESCALE).astype("float32")


def _eval_pipeline(fixed: bool):
    def eval_pipeline(img: np.ndarray) -> np.ndarray:
        """The prediction cell: ``img_to_array(load_img(...))`` (buggy) / the same divided by 255 (fixed)."""
        x = np.asarray(img, dtype=np.float32)
        return (x / 255.0).astype("float32") if fixed else x
    return eval_pipeline


def _common(fixed: bool) -> dict[str, Any]:
    x, _ = _dataset()
    eval_pipeline = _eval_pipeline(fixed)
    bs = train_generator(N_BATCHES)
    base = train_generator(2, seed=SEED + 7)
    return {"batches": bs, "baseline_batch": (np.concatenate([b[0] for b in base]),
                                              np.concatenate([b[1] for b in base])),
            "inputs": np.stack([eval_pipeline(i) for i in x[N_TRAIN:]]),
            "train_pipeline": train_pipeline, "eval_pipeline": eval_pipeline,
            "raw_samples": [i.copy() for i in x[N_TRAIN:N_TRAIN + N_RAW]]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: nn.Module) -> nn.Module:  # Keras defaults: glorot_uniform kernel, zero bias
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    layers: list[nn.Module] = []
    c_in, side = 3, IMG
    for c in FILTERS:  # Conv2D(c, (3,3), activation='relu'), MaxPooling2D(2, 2)
        layers += [glorot(nn.Conv2d(c_in, c, 3)), nn.ReLU(), nn.MaxPool2d(2)]
        c_in, side = c, (side - 2) // 2
    layers += [nn.Flatten(), nn.Dropout(0.5), glorot(nn.Linear(c_in * side * side, DENSE)), nn.ReLU(),
               glorot(nn.Linear(DENSE, NUM_CLASSES)), nn.Softmax(dim=1)]
    model = nn.Sequential(*layers)

    def loss_fn(probs: Any, y: Any) -> Any:
        """Keras categorical_crossentropy on probabilities: clip to [eps, 1 - eps], -sum(y log p), batch mean."""
        p = torch.clamp(probs, 1e-7, 1 - 1e-7)
        return torch.mean(-torch.sum(y * torch.log(p), dim=1))

    d = _common(fixed)

    def t(a: np.ndarray) -> Any:  # NHWC -> NCHW
        return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2))))

    bs = [(t(x), torch.from_numpy(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]

    def chw(f: Any) -> Any:
        return lambda img: np.ascontiguousarray(np.transpose(f(img), (2, 0, 1)))

    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), torch.from_numpy(by)), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.RMSprop(params, lr=LEARNING_RATE, alpha=RHO, eps=1e-7),
            "train_pipeline": chw(d["train_pipeline"]), "eval_pipeline": chw(d["eval_pipeline"]),
            "raw_samples": d["raw_samples"]}  # raw (H, W, 3) images as loaded; the pipelines return (3, H, W)


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    f1, f2, f3, f4 = FILTERS
    model = keras.models.Sequential([
        keras.Input(shape=(IMG, IMG, 3)),
        # This is the first convolution
        keras.layers.Conv2D(f1, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D(2, 2),
        # The second convolution
        keras.layers.Conv2D(f2, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D(2, 2),
        # The third convolution
        keras.layers.Conv2D(f3, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D(2, 2),
        # The fourth convolution
        keras.layers.Conv2D(f4, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D(2, 2),
        # Flatten the results to feed into a DNN
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        # 512 neuron hidden layer
        keras.layers.Dense(DENSE, activation='relu'),
        keras.layers.Dense(NUM_CLASSES, activation='softmax'),
    ])
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE,
                                                                                        rho=RHO))
    d = _common(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"], "train_pipeline": d["train_pipeline"],
            "eval_pipeline": d["eval_pipeline"], "raw_samples": d["raw_samples"]}


buggy, fixed = versions(_torch, _keras)
