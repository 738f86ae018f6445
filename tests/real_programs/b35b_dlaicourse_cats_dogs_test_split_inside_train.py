"""lmoroney/dlaicourse, "Exercises/Exercise 5 - Real World Scenarios/Exercise 5 - Answer.ipynb" (the
Coursera "TensorFlow in Practice" cats-vs-dogs exercise): the Kaggle/Microsoft PetImages folders are split
into training and testing folders by ``split_data(SOURCE, TRAINING, TESTING, SPLIT_SIZE)`` with
``split_size = .9``, then ``ImageDataGenerator(rescale=1.0/255.).flow_from_directory(..., batch_size=100,
class_mode='binary', target_size=(150, 150))`` feeds ``Sequential([Conv2D(16, 3, relu), MaxPool(2),
Conv2D(32, 3, relu), MaxPool(2), Conv2D(64, 3, relu), MaxPool(2), Flatten(), Dense(512, relu),
Dense(1, sigmoid)])`` compiled with ``RMSprop(lr=0.001)`` and ``binary_crossentropy``; the testing folder is
the ``validation_data`` of ``fit_generator``.
The fault is in ``split_data``::

    shuffled_set = random.sample(files, len(files))
    training_set = shuffled_set[0:training_length]
    testing_set = shuffled_set[:testing_length]      # the FIRST testing_length files: all in training_set

so every "testing" image is also a training image (the held-out split is 10% of the training split), and
the validation accuracy the exercise reports measures memorisation, not generalisation.

Source: github.com/lmoroney/dlaicourse commit 4970272f7263739b13dd092295584aeb3c7a7443 ("Fixed bug in
Exercise 5 answer"; the same commit raises epochs 15 -> 50, not ported), file ``Exercises/Exercise 5 - Real
World Scenarios/Exercise 5 - Answer.ipynb`` at 4970272^. Fix: ``testing_set = shuffled_set[-testing_length:]``.
Fault label: split_leakage (the same samples are in the training and the test split).

Program lines kept: ``split_data`` verbatim in logic (``random.sample`` shuffle, ``int(len(files) *
SPLIT_SIZE)``, the two slices), ``split_size = .9``, ``rescale=1.0/255.``, ``class_mode='binary'`` with the
directory order cats=0 / dogs=1 of ``flow_from_directory``, ``batch_size=100``, the CNN's layers and
activations, ``RMSprop(learning_rate=0.001)`` and binary cross-entropy on the sigmoid output.
Ported minimally / shrunk: files are integer ids instead of paths (no copying); 200 images per class
instead of 12,501 and 48x48 instead of 150x150 so a step stays under 0.1 s on one CPU thread (the
Flatten is then 4*4*64 = 1,024 wide instead of 17*17*64); no augmentation (the answer used none).
PyTorch twin (same fault, same split code): the same layers (``nn.Conv2d``/``MaxPool2d``/``Linear``, sigmoid
output, ``nn.BCELoss``) and ``torch.optim.RMSprop(lr=0.001, alpha=0.9, eps=1e-7)`` (Keras' RMSprop defaults
rho 0.9, epsilon 1e-7), channels first.
Data stand-in (the PetImages zip is a download): seeded 48x48x3 uint8 "photos" per file id, 0..255, a
noisy textured background with one soft blob; cats' blobs are a little warmer and rounder, dogs' a little
cooler and elongated, plus strong per-image colour and brightness jitter, so the classes are learnable but
far from trivially, and a CNN of this size can memorise the 360 training images before it generalises.
Besides ``batch``/``batches`` (the training split in ``flow_from_directory`` batches of 100, shuffled once)
and ``inputs`` (the test split's images), the dict carries ``test_batch`` (the test split, x and y) and
``split`` (``{"train_ids": ..., "test_ids": ...}``, the file ids ``split_data`` put in each folder): the
fault is in which samples the two splits hold, and none of the listed training checks can see it (the
buggy and the fixed program train the same model on the same training split).

Measured (``_measure``: Keras ``train_on_batch`` / a plain torch loop over the 4 training batches per
epoch, seed 0, OMP_NUM_THREADS=1; ~70-90 ms a Keras step, ~50-65 ms a torch step incl. the evaluations):
test images that are also training images: buggy 40/40, fixed 0/40. The training split and so the training
loss are identical for both (Keras: 0.710 epoch 1, 0.620 epoch 10, 0.502 epoch 15, 0.446 epoch 20, 0.355
epoch 40). The test ("validation") split tells them apart: Keras buggy test loss 0.689 / 0.627 / 0.437 /
0.379 / 0.342 (accuracy 0.80 at epoch 40) tracks the training loss down; fixed 0.690 / 0.691 / 0.544 / 0.540 /
0.575 (accuracy 0.68) turns up after epoch ~20 (overfitting the buggy split hides). Torch: buggy test loss
0.301 at epoch 40 (accuracy 0.85) vs training 0.351; fixed 0.605 (0.78), its minimum 0.528 at epoch 20.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

LABEL = "split_leakage"
SOURCE = ("github:lmoroney/dlaicourse Exercises/Exercise 5 - Real World Scenarios/Exercise 5 - Answer.ipynb "
          "split_data@4970272^ (fix 4970272f7263739b13dd092295584aeb3c7a7443 'Fixed bug in Exercise 5 answer')")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"}),
          ("inputs_normalized", {}), ("not_constant_predictions", {}),
          ("no_split_leakage", {})]  # added by the lead: the check for this fault (the port's brief did not list it)

split_size = .9
batch_size = 100
learning_rate = 0.001
N_PER_CLASS = 200  # port: 12,501 PetImages per class
IMG = 48  # port: target_size=(150, 150)
SEED = 0


def split_data(files: list[int], split_size_: float, fixed: bool, rng: random.Random) -> tuple[list, list]:
    """The notebook's split_data on file ids (zero-length files: none here)."""
    training_length = int(len(files) * split_size_)
    testing_length = int(len(files) - training_length)
    shuffled_set = rng.sample(files, len(files))
    training_set = shuffled_set[0:training_length]
    if fixed:
        testing_set = shuffled_set[-testing_length:]  # 4970272
    else:
        testing_set = shuffled_set[:testing_length]  # 4970272^: the first files, all in training_set
    return training_set, testing_set


def _photo(file_id: int, is_dog: bool) -> np.ndarray:
    """A seeded 64x64x3 uint8 stand-in for one PetImages jpg (see the docstring)."""
    rng = np.random.default_rng(10_000 * int(is_dog) + file_id)
    yy, xx = np.mgrid[0:IMG, 0:IMG].astype("float32") / IMG
    bg = rng.uniform(60, 190, 3) + 25 * np.sin(2 * np.pi * (rng.uniform(1, 4) * xx + rng.uniform(1, 4) * yy)
                                                + rng.uniform(0, 6.3))[..., None]
    cy, cx = rng.uniform(0.3, 0.7, 2)
    if is_dog:
        sy, sx = rng.uniform(0.08, 0.14), rng.uniform(0.18, 0.28)  # elongated
        tint = np.array([0.85, 0.95, 1.15])
    else:
        sy = sx = rng.uniform(0.12, 0.2)  # round
        tint = np.array([1.15, 0.95, 0.85])
    blob = np.exp(-(((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))[..., None]
    col = rng.uniform(90, 200, 3) * tint * rng.uniform(0.8, 1.2, 3)
    img = bg * (1 - 0.8 * blob) + col * 0.8 * blob + rng.normal(0, 22, (IMG, IMG, 3))
    return np.clip(img * rng.uniform(0.75, 1.25), 0, 255).astype("uint8")


def _splits(fixed: bool) -> dict[str, Any]:
    rng = random.Random(SEED)
    out: dict[str, Any] = {"train_ids": [], "test_ids": []}
    xs: dict[str, list] = {"train": [], "test": []}
    ys: dict[str, list] = {"train": [], "test": []}
    for label, name in ((0, "cats"), (1, "dogs")):  # flow_from_directory: classes in sorted dir order
        files = list(range(N_PER_CLASS))
        training_set, testing_set = split_data(files, split_size, fixed, rng)
        for part, ids in (("train", training_set), ("test", testing_set)):
            out[f"{part}_ids"] += [f"{name}/{i}.jpg" for i in ids]
            xs[part] += [_photo(i, bool(label)) for i in ids]
            ys[part] += [label] * len(ids)
    for part in ("train", "test"):
        x = np.stack(xs[part]).astype("float32") * (1.0 / 255.)  # ImageDataGenerator(rescale=1.0/255.)
        y = np.array(ys[part], dtype="float32")  # class_mode='binary'
        order = np.random.default_rng(SEED).permutation(len(y))  # shuffle=True (one epoch's order)
        out[part] = (x[order], y[order])
    return out


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    s = _splits(fixed)
    x, y = s["train"]
    xt, yt = s["test"]
    split = {"train_ids": s["train_ids"], "test_ids": s["test_ids"]}
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(SEED)
        model = keras.models.Sequential([
            keras.Input(shape=(IMG, IMG, 3)),
            keras.layers.Conv2D(16, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate), loss="binary_crossentropy")
        batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt,
                "test_batch": (xt, yt), "split": split, "train_split": x, "test_split": xt}

    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    flat = 64 * ((((IMG - 2) // 2 - 2) // 2 - 2) // 2) ** 2
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(), nn.Linear(512, 1), nn.Sigmoid())
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy())
    ty = torch.tensor(y[:, None])
    batches = [(tx[i:i + batch_size], ty[i:i + batch_size]) for i in range(0, len(tx), batch_size)]
    txt = torch.tensor(xt.transpose(0, 3, 1, 2).copy())
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": txt,
            "test_batch": (txt, torch.tensor(yt[:, None])), "split": split, "train_split": tx, "test_split": txt,
            "loss_fn": nn.BCELoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=learning_rate, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)


def _measure(epochs: int = 40) -> None:  # the plain loop behind the docstring's numbers
    import time

    for fw in FRAMEWORKS:
        for name, make in (("buggy", buggy), ("fixed", fixed)):
            d = make(fw)
            overlap = len(set(d["split"]["test_ids"]) & set(d["split"]["train_ids"]))
            m, (xt, yt) = d["model"], d["test_batch"]
            if fw == "torch":
                import torch
                opt, lf = d["optimizer"](m.parameters()), d["loss_fn"]
            t0, steps, line = time.time(), 0, []
            for ep in range(1, epochs + 1):
                tl = []
                for xb, yb in d["batches"]:
                    if fw == "keras":
                        tl.append(float(m.train_on_batch(xb, yb)))
                    else:
                        opt.zero_grad()
                        loss = lf(m(xb), yb)
                        loss.backward()
                        opt.step()
                        tl.append(loss.item())
                    steps += 1
                if ep in (1, 5, 10, 15, 20, 30, 40):
                    if fw == "keras":
                        p = np.asarray(m.predict(xt, verbose=0)).ravel()
                        t = np.asarray(yt).ravel()
                    else:
                        with torch.no_grad():
                            p, t = m(xt).numpy().ravel(), yt.numpy().ravel()
                    pc = np.clip(p, 1e-7, 1 - 1e-7)
                    vl = float(-np.mean(t * np.log(pc) + (1 - t) * np.log(1 - pc)))
                    line.append(f"ep{ep}: train {np.mean(tl):.3f} test {vl:.3f} acc {np.mean((p > 0.5) == t):.2f}")
            print(fw, name, f"overlap {overlap}/{len(d['split']['test_ids'])}",
                  f"{1000 * (time.time() - t0) / steps:.0f} ms/step", " | ".join(line), flush=True)


if __name__ == "__main__":
    _measure()
