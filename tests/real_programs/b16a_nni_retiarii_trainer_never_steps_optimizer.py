"""NNI Retiarii's built-in ``PyTorchImageClassificationTrainer`` (``nni/retiarii/trainer/pytorch/base.py``) as
used by the repository's MNIST search test (``test/retiarii_test/mnist/test.py``): ``Net(hidden_size=128)``
(``Conv2d(1, 20, 5)`` -> ReLU -> max-pool 2 -> ``Conv2d(20, 50, 5)`` -> ReLU -> max-pool 2 -> flatten 800 ->
``fc1 = LayerChoice([Linear(800, 128), Linear(800, 128, bias=False)])`` -> ReLU -> ``Linear(128, 10)`` ->
``log_softmax``), trained by the trainer with ``nn.CrossEntropyLoss()`` and ``torch.optim.SGD(model.parameters(),
lr=1e-3)`` (``optimizer_cls='SGD'``, ``optimizer_kwargs={"lr": 1e-3}``), ``batch_size=32``, MNIST normalised
with ``Normalize((0.1307,), (0.3081,))``. The trainer's epoch loop is

    for i, batch in enumerate(self._train_dataloader):
        loss = self.training_step(batch, i)
        loss.backward()

It computes the loss and its gradient but never calls ``self._optimizer.step()`` (nor ``zero_grad()``): no
parameter ever changes, every trial of the architecture search reports the accuracy of its random
initialisation (the PR: "the model is not actually trained, and its accuracy on the Web UI remains
unchanged"), while the gradients pile up in ``.grad`` unused.

Source: github.com/microsoft/nni PR #3339 "Fix PyTorchImageClassificationTrainer's training" (tczhangzhi),
``nni/retiarii/trainer/pytorch/base.py`` at b1a094946^ (``_train``), fixed by
b1a094946e61e9d9e78f2eff495b013d27f097f1 (merged as 533f2ef22), which adds ``self._optimizer.zero_grad()`` before
the training step and ``self._optimizer.step()`` after ``loss.backward()``. Model and trainer arguments from
``test/retiarii_test/mnist/test.py`` at the same commit.
Program lines kept: ``Net`` (with the first ``LayerChoice`` candidate, ``Linear(800, 128)``, as one sampled
trial), ``training_step`` / ``training_step_after_model`` (``CrossEntropyLoss`` on the model's log-softmax
output), the ``_train`` loop body (given as ``train_step(model, optimizer, loss_fn, x, y) -> loss``), SGD lr 1e-3,
batch size 32, the MNIST normalisation.
Ported minimally: NNI's ``nni.retiarii.nn.pytorch`` wrappers are plain ``torch.nn``; the experiment/strategy
machinery is not needed to train one trial. No size changes.
Keras twin: the same ``Net`` as a ``keras.Sequential`` (channels-last, ``Dense(10)`` then a log-softmax
activation, ``SparseCategoricalCrossentropy(from_logits=True)``, which equals torch's cross entropy on
log-probabilities) compiled with ``SGD(learning_rate=1e-3)``; the trainer's loop body is the model's custom
``train_step`` (the Keras place for a hand-written training step): the buggy one records the tape and takes the
gradients but never calls ``optimizer.apply_gradients``; the fixed one applies them.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn digits blown up to 28x28 uint8, 0..255,
10 classes), scaled to [0, 1] by ``ToTensor`` and normalised with (0.1307, 0.3081) as the trainer's default
transform does; 256 images, 8 batches of 32.
Fault label: params_not_updated (the optimizer never steps; the gradients are computed and dropped).
Fix (b1a0949): ``self._optimizer.zero_grad()``; ``loss = self.training_step(batch, i)``; ``loss.backward()``;
``self._optimizer.step()``.
Symptom in a short loop (the program's loop body, steps cycling over the 8 batches, SGD lr 1e-3, loss and
accuracy measured on all 256 images): torch: buggy 2.318 (accuracy 10.2 %) before, after 200 and after 600
steps, every parameter unchanged; fixed 2.318 -> 2.191 after 200 steps (27 %) -> 1.606 after 600 (91 %).
Keras (train_on_batch): buggy 2.303 (4.7 %) before and after 600 steps, weights bit-identical; fixed 2.303 ->
1.808 after 200 (78 %) -> 0.296 after 600 (97.7 %). About 18 ms per torch step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "params_not_updated"
SOURCE = ("github:microsoft/nni PR #3339 (nni/retiarii/trainer/pytorch/base.py@b1a094946^ _train, "
          "test/retiarii_test/mnist/test.py; fix b1a094946e61e9d9e78f2eff495b013d27f097f1)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

hidden_size = 128  # base_model = Net(128)
batch_size = 32  # dataloader_kwargs={"batch_size": 32}
lr = 1e-3  # optimizer_kwargs={"lr": 1e-3}, optimizer_cls='SGD'
n_images = 256


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """ToTensor() then Normalize((0.1307,), (0.3081,)) on MNIST-shaped digits: (N, 28, 28) float32, labels."""
    imgs, y = _data.mnist_like(n_images)
    x = ((imgs.astype("float32") / 255.0) - 0.1307) / 0.3081
    return x.astype("float32"), y.astype("int64")


def _build(framework: str, steps_optimizer: bool) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.manual_seed(0)

        class Net(nn.Module):  # test/retiarii_test/mnist/test.py, LayerChoice -> its first candidate
            def __init__(self, hidden_size):
                super(Net, self).__init__()
                self.conv1 = nn.Conv2d(1, 20, 5, 1)
                self.conv2 = nn.Conv2d(20, 50, 5, 1)
                self.fc1 = nn.Linear(4 * 4 * 50, hidden_size)
                self.fc2 = nn.Linear(hidden_size, 10)

            def forward(self, x):
                x = F.relu(self.conv1(x))
                x = F.max_pool2d(x, 2, 2)
                x = F.relu(self.conv2(x))
                x = F.max_pool2d(x, 2, 2)
                x = x.view(-1, 4 * 4 * 50)
                x = F.relu(self.fc1(x))
                x = self.fc2(x)
                return F.log_softmax(x, dim=1)

        def train_step(model, optimizer, loss_fn, xb, yb):  # PyTorchImageClassificationTrainer._train, one batch
            if steps_optimizer:
                optimizer.zero_grad()
            y_hat = model(xb)  # training_step -> training_step_after_model
            loss = loss_fn(y_hat, yb)
            loss.backward()
            if steps_optimizer:
                optimizer.step()
            return loss.item()

        xt = torch.tensor(x).unsqueeze(1)  # (N, 1, 28, 28)
        yt = torch.tensor(y)
        tb = _data.batches(xt, yt, batch_size)
        return {"model": Net(hidden_size), "batch": tb[0], "batches": tb, "inputs": xt,
                "loss_fn": nn.CrossEntropyLoss(), "train_step": train_step,
                "optimizer": lambda p: getattr(torch.optim, "SGD")(p, lr=lr)}

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)

    class Trainer(keras.Sequential):
        """The trainer's loop body as the model's train_step."""

        def train_step(self, data):
            xb, yb, _ = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_hat = self(xb, training=True)
                loss = self.compute_loss(x=xb, y=yb, y_pred=y_hat)
            grads = tape.gradient(loss, self.trainable_variables)  # loss.backward()
            if steps_optimizer:
                self.optimizer.apply_gradients(zip(grads, self.trainable_variables))  # optimizer.step()
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(yb, y_hat)
            return {m.name: m.result() for m in self.metrics}

    model = Trainer([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(20, 5, 1, activation="relu"),
        keras.layers.MaxPooling2D(2, 2),
        keras.layers.Conv2D(50, 5, 1, activation="relu"),
        keras.layers.MaxPooling2D(2, 2),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden_size, activation="relu"),
        keras.layers.Dense(10),
        keras.layers.Activation("log_softmax"),
    ])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.SGD(learning_rate=lr))
    xk = x[..., None]
    kb = _data.batches(xk, y, batch_size)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xk}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, steps_optimizer=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, steps_optimizer=True)
