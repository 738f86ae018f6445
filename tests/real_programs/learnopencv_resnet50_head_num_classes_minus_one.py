"""LearnOpenCV's "Image Classification using Transfer Learning in PyTorch" notebook (Caltech-256
subset of 10 classes, ``caltech_10``): a frozen ImageNet ResNet50 whose ``fc`` is replaced by a new
head ``Linear(2048, 256) - ReLU - Dropout(0.4) - Linear(256, num_classes) - LogSoftmax(dim=1)``,
trained with ``NLLLoss`` and ``Adam`` (default lr 1e-3), batch size 32. The notebook computes
``num_classes = len(os.listdir(valid_directory))-1`` -- one less than the number of class folders that
``ImageFolder`` turns into the labels 0..9 -- so the head has 9 outputs for 10 classes: every sample
of the last class has a target with no output. On the GPU the loss fails with the device-side assert
``t >= 0 && t < n_classes`` (the issue's report: "that breaks training"); on the CPU ``NLLLoss``
raises "Target 9 is out of bounds"; even where it did not fail, the last class could never be
predicted.

Source: github.com/spmallick/learnopencv issue #517 ("the code has a bug that will set output of last
layer (prior to softmax) to one less than classes and that breaks training") and PR #516 ("Num classes
should not be entries -1", the traceback of the ``ClassNLLCriterion`` assert); the maintainer closed
the PR as "already incorporated ... the corrected num_classes calculation is already present".
Program: ``Image-Classification-in-PyTorch/image_classification_using_transfer_learning_in_pytorch.ipynb``
at commit ba648f792cfc56114c44c5419c0482dc7e7ea02a (``num_classes = len(os.listdir(valid_directory))-1``);
fixed at 1c4716120ec9ee4eb5aa32b4cb7b1eb6d62f1b7b (``num_classes = len(os.listdir(valid_directory))``).
Lines kept: the new ``resnet50.fc`` head, ``loss_func = nn.NLLLoss()``,
``optimizer = optim.Adam(resnet50.parameters())``, ``bs = 32``, the train step of
``train_and_validate`` (zero_grad, forward, NLL loss, backward, step).
Ported minimally / reduced for CPU cost: the ResNet50 backbone is frozen (``requires_grad = False``)
and pretrained, so training only ever touches the head; the backbone is replaced by its output -- the
2048-d global-average-pooled features that ``resnet50.fc`` receives -- and the model here is the head
(``resnet50.fc``) on those features. Data stand-in (no download, no pretrained weights): seeded
2048-d non-negative post-ReLU-like pooled features (mean about 0.45, as ResNet50's pooled features),
each of the 10 classes with its own sparse prototype plus noise, labels 0..9 as ImageFolder gives
them; 4 batches of 32.
Fault label: head_width (the fix widened the head to the number of class folders).
Keras twin: the same head in Keras 3 (``Dense(256, relu)``, ``Dropout(0.4)``,
``Dense(num_classes, softmax)``) compiled with ``sparse_categorical_crossentropy`` and ``Adam()`` on
integer labels, as ``image_dataset_from_directory`` gives them; buggy ``num_classes = 10 - 1``
(TensorFlow's sparse cross-entropy rejects the label 9 on the CPU).
Own loop: buggy torch raises ``IndexError: Target 9 is out of bounds.`` at the first loss on
``batch``; buggy Keras raises ``InvalidArgumentError`` (label 9 outside [0, 9)) in ``evaluate``/``fit``;
fixed: output (32, 10), initial NLL 2.38 (torch) / 2.43 (Keras), near 0 after 100 torch epochs over
the 4 batches / 30 Keras epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:spmallick/learnopencv issue #517, PR #516 (Image-Classification-in-PyTorch/"
          "image_classification_using_transfer_learning_in_pytorch.ipynb@ba648f79, fixed at 1c471612)")
FRAMEWORKS = ("keras", "torch")
# the torch head ends in LogSoftmax (read as logits), the Keras twin in a softmax: each user asks for
# what their own head gives (the port first listed kind="logits" for both)
CHECKS = {fw: [
    ("init_loss", {"num_classes": 10}),
    ("output_range", {"kind": kind, "num_classes": 10}),
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
] for fw, kind in (("torch", "logits"), ("keras", "probabilities"))}

n_folders = 10  # caltech_10/valid holds one folder per class
bs = 32
fc_inputs = 2048  # resnet50.fc.in_features


def _features(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for the frozen ResNet50's pooled features of caltech_10 images (see docstring)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_folders
    rng.shuffle(y)
    proto = rng.gamma(0.6, 0.75, (n_folders, fc_inputs)) * (rng.random((n_folders, fc_inputs)) < 0.5)
    x = proto[y] + rng.normal(0.0, 0.35, (n, fc_inputs))
    x = np.maximum(x, 0.0)
    return x.astype("float32"), y.astype("int64")


def _build(framework: str, num_classes: int) -> dict[str, Any]:
    x, y = _features()
    batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, len(x) - bs + 1, bs)]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((fc_inputs,)),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(num_classes, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)
    # Change the final layer of ResNet50 Model for Transfer Learning (program lines)
    fc = nn.Sequential(
        nn.Linear(fc_inputs, 256),
        nn.ReLU(),
        nn.Dropout(0.4),
        nn.Linear(256, num_classes),  # Since 10 possible outputs
        nn.LogSoftmax(dim=1),  # For using NLLLoss()
    )
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": fc, "batch": tb[0], "batches": tb, "loss_fn": nn.NLLLoss(),
            "optimizer": lambda p: optim.Adam(p)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, num_classes=n_folders - 1)  # len(os.listdir(valid_directory))-1


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, num_classes=n_folders)  # len(os.listdir(valid_directory))
