"""Udacity "Intro to TensorFlow for Deep Learning" course notebook ``l03c01_classifying_images_of_clothing.ipynb``
(tensorflow/examples, ``courses/udacity_intro_to_tensorflow_for_deep_learning``): Fashion-MNIST (28x28x1
uint8 images, 10 classes) scaled by ``normalize`` (``tf.cast(images, tf.float32); images /= 255``), the model
``Sequential([Flatten(input_shape=(28, 28, 1)), Dense(128, activation=tf.nn.relu), Dense(10,
activation=tf.nn.softmax)])`` compiled with ``optimizer='adam'`` and
``loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)``, ``BATCH_SIZE = 32``, 5 epochs.
The faulty version has a softmax on the output layer *and* a loss told that the outputs are logits, so the
loss applies a second softmax to probabilities: the cross-entropy is squeezed into [log(1 + 9/e), log(9 + e)]
~ [1.46, 2.46] (it can never go below 1.46 however well the model classifies) and its gradient is damped
by the flat second softmax, so training is slow and the reported loss stalls far above zero.

Source: github.com/tensorflow/examples PR #213 ("Fixed forgotten activation function", guruyaya). An earlier
commit (729752738613, "Remove all activation=(softmax|sigmoid)") had made the notebook's last layer linear and
its loss ``from_logits=True``; the PR's commits cc1c3fab98c3 (this notebook) and d04d651b (the same in
``l04c01_image_classification_with_cnns.ipynb``, "Forgot another softmax function in lesson 4") put
``activation=tf.nn.softmax`` back on ``Dense(10)`` while leaving ``from_logits=True``: the program here is the
notebook at d04d651b0a54 (the PR head). The reviewer (MarkDaoust: "There are a couple of tricky things about
the activation=sigmoid approach") fixed it in the merge commit 85daacde (2020-05-18, "Merge pull request #213"),
which changes the loss to ``tf.keras.losses.SparseCategoricalCrossentropy()`` and adds the note "Using
`softmax` activation and `SparseCategoricalCrossentropy()` has issues ... A safer approach, in general, is to use
a linear output (no activation function) with `SparseCategoricalCrossentropy(from_logits=True)`".
Program lines kept: ``normalize`` (/255 as float32), the model's layers, the loss pairing and ``BATCH_SIZE = 32``;
Adam with Keras's defaults (lr 0.001, eps 1e-7). Nothing shrunk (a step takes ~1 ms).
Framework: torch only, as a faithful twin. The original Keras program no longer shows its fault: in Keras 3
(checked with 3.15 on the TensorFlow backend) ``SparseCategoricalCrossentropy(from_logits=True)`` finds the
logits behind a softmax output (``_keras_logits`` / the ``Softmax`` op's input), warns "received
`from_logits=True`, but the `output` argument was produced by a Softmax activation and thus does not
represent logits. Was this intended?" and uses the logits, so the PR-head and merged notebooks train
identically there (own loop, ``train_on_batch``: one batch of 32, 300 steps, both 2.431 -> 0.0010; 1,600
steps over the 8 batches, both 0.0003). The tf.keras backend of 2020 (TF 2.2) only unwrapped a ``Softmax`` op when
``from_logits=False``, so the PR head trained on doubly-softmaxed outputs, which is what the reviewer fixed. Torch twin: ``nn.Flatten() -> nn.Linear(784, 128) -> nn.ReLU() ->
nn.Linear(128, 10) -> nn.Softmax(dim=1)`` with ``nn.CrossEntropyLoss()`` (which, like ``from_logits=True``,
applies its own log-softmax) and ``torch.optim.Adam(lr=1e-3, eps=1e-7)``; the fix mirrors the merge: the model
keeps its softmax and the loss takes probabilities, ``nn.NLLLoss()`` on ``torch.log`` of the outputs clipped to
[1e-7, 1 - 1e-7] (what ``SparseCategoricalCrossentropy()`` computes).
Data stand-in (tfds ``fashion_mnist`` is downloaded): ``_data.mnist_like`` (28x28 uint8 digits, 0..255, 10
classes, the same shape and value range as Fashion-MNIST) normalised as the notebook does, channel-first
(N, 1, 28, 28); 256 images, 8 batches of 32 in order.
Fault label: output_activation|loss_mismatch (softmax outputs fed to a loss that expects logits).
Fix (85daacde): ``loss=tf.keras.losses.SparseCategoricalCrossentropy()`` (torch: NLL on the log-probabilities).
Symptom in a short loop (plain torch loop, one CPU thread, zero_grad/backward/step): one batch of 32 for 300
steps: buggy 2.303 -> 1.462 (the floor log(1 + 9/e) = 1.461: the loss cannot go lower even for a perfect
classifier), fixed 2.307 -> 0.0014; after 20 steps buggy 1.81 against fixed 0.53 (the second softmax damps the
gradient). 1,600 steps cycling over the 8 batches: first-pass mean buggy 2.267 / fixed 2.036, last-pass mean
buggy 1.465 / fixed 0.0004, train accuracy 0.996 / 1.000 (the stand-in digits are easy; the loss value, not
the accuracy, shows the fault).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:tensorflow/examples PR #213 (courses/udacity_intro_to_tensorflow_for_deep_learning/"
          "l03c01_classifying_images_of_clothing.ipynb@d04d651b, softmax output with "
          "SparseCategoricalCrossentropy(from_logits=True); fixed in merge 85daacde)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 10})]  # the model outputs softmax probabilities

BATCH_SIZE = 32  # program lines
n_images = 256


def _data_np():
    imgs, y = _data.mnist_like(n_images)
    x = (imgs.astype("float32") / 255)[..., None]  # normalize(): cast to float32, /= 255; (28, 28, 1)
    return x, y


def _build(framework: str, bug: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only: Keras 3 recovers the logits behind a softmax output (see docstring)")
    x, y = _data_np()
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))
    if bug:
        loss_fn = nn.CrossEntropyLoss()  # expects logits, like from_logits=True
    else:
        nll = nn.NLLLoss()

        def loss_fn(outputs, targets):  # SparseCategoricalCrossentropy() on probabilities
            return nll(torch.log(outputs.clamp(1e-7, 1 - 1e-7)), targets)

    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()  # NCHW, (N, 1, 28, 28)
    yt = torch.tensor(y)
    tb = _data.batches(xt, yt, BATCH_SIZE)
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": xt, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, bug=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, bug=False)
