"""keras.io example "Knowledge Distillation" (Kenneth Borup, 2020-09-01; keras-team/keras-io
``examples/vision/knowledge_distillation.py``, added by PR #242): a subclassed ``Distiller(keras.Model)`` that overrides
``compile`` (optimizer, metrics, ``student_loss_fn``, ``distillation_loss_fn``, ``alpha``, ``temperature``),
``train_step`` and ``test_step``. ``train_step``: ``teacher_predictions = self.teacher(x, training=False)`` outside the
tape; under ``tf.GradientTape``: ``student_predictions = self.student(x, training=True)``, ``student_loss =
SparseCategoricalCrossentropy(from_logits=True)(y, student_predictions)``, ``distillation_loss = KLDivergence()(
softmax(teacher_predictions / T, axis=1), softmax(student_predictions / T, axis=1))``, ``loss = alpha * student_loss +
(1 - alpha) * distillation_loss``; gradients for ``self.student.trainable_variables`` only, ``apply_gradients``.
``test_step`` evaluates ``self.student``. Teacher ``Sequential``: Conv2D(256, 3, strides 2, same), LeakyReLU(0.2),
MaxPooling2D(2, strides 1, same), Conv2D(512, 3, strides 2, same), Flatten, Dense(10); the student the same with 16
and 32 filters. MNIST / 255; the teacher is trained first (``teacher.fit(x_train, y_train, epochs=5)``, Adam(),
sparse CE from logits), then ``Distiller(student=student, teacher=teacher)`` compiled with ``Adam()``,
``SparseCategoricalAccuracy``, ``alpha=0.1``, ``temperature=10``, ``distiller.fit(x_train, y_train, epochs=3)`` (batch
size left at fit's 32: the script's ``batch_size = 64`` is never used), ``distiller.evaluate(x_test, y_test)``.

The fault: ``Distiller.__init__`` stores the two models under each other's names:
    def __init__(self, student, teacher):
        super(Distiller, self).__init__()
        self.teacher = student
        self.student = teacher
So ``train_step`` runs the untrained student as the "teacher" (outside the tape, never updated) and takes the
gradients of the distillation loss for the variables of the pre-trained teacher, which it keeps training, pulled
towards the random student's temperature-10 outputs (90 % of the loss) and the labels (10 %). The model the script
means to train, ``student``, is never updated; the model meant to stay fixed, the teacher, is; and since
``test_step`` and the Keras 3 ``call`` use ``self.student``, ``distiller.evaluate`` reports the (still good) accuracy of
the teacher, so the loss curve and the reported accuracy look healthy. Issue #257 "Knowledge Distillation Typo"
(alekseisolovev, 2020-09-23): "There is a typo in the code ... I assume it should be the other way around." Fixed by
PR #273 "Fix typo in knowledge distillation example" (SamMinkowicz, merged 2020-10-02, "Addresses issue #257"):
``self.teacher = teacher``, ``self.student = student``. (The T**2 factor on the distillation loss came later, PR
#870, and is not part of either version here.)

Source: github.com/keras-team/keras-io, ``examples/vision/knowledge_distillation.py`` as stored at
1da2fdefe1b108145dcdb0794b60195cda85c38d (the swapped lines; the file as of PR #242), issue #257, fix PR #273 (the
fixed lines as at 501fb4cbe62e5b5c434393f512a452ef833640a1).
Program lines kept: the ``Distiller`` class (``__init__`` buggy and fixed, ``compile`` with the program's arguments,
``train_step`` verbatim: the teacher outside the tape with ``training=False``, the loss, gradients for
``self.student.trainable_variables`` only, ``test_step``), both ``Sequential`` architectures (the teacher's narrowed,
see Ported), Keras' default initialisers, ``Adam()`` (lr 1e-3, epsilon 1e-7) for teacher and distiller, alpha 0.1,
temperature 10, sparse CE from logits, ``KLDivergence()``, batches of 32, pixels / 255, NHWC (n, 28, 28, 1).
Ported: Keras 3 with the TensorFlow backend: ``train_step`` unpacks ``(x, y, sample_weight)`` with
``keras.utils.unpack_x_y_sample_weight`` (``train_on_batch`` passes three), updates ``self.metrics`` by hand (no
``compiled_metrics`` in Keras 3) and also returns ``"loss"`` (the weighted loss it minimises); ``super().compile`` also
gets ``loss=student_loss_fn`` (so Keras' own loss is the student loss, as ``test_step`` reports); ``call(x)`` returns
``self.student(x)`` as the Keras 3 version of the example does (the 2020 class had no ``call``); ``LeakyReLU(alpha=)``
-> ``negative_slope=``. The teacher's filters are divided by 8 (256/512 -> 32/64, still twice the student's 16/32),
since in the buggy version every step trains the teacher (full width: 0.21 s a torch step at batch 32 on one thread,
measured); the teacher is pre-trained in the build (cached per process) for 2 epochs on the 1,280 stand-in training
images instead of 5 on MNIST (held-out accuracy 0.92 both frameworks). Torch twin: the same two networks as
``nn.Module`` s taking NHWC input (TensorFlow "same" padding as an extra row / column after, -inf padding for the
max-pool, NHWC flatten order, ``xavier_uniform_`` kernels and zero biases as Keras' glorot-uniform / zeros), a
``Distiller(nn.Module)`` with the same ``__init__`` (buggy / fixed) whose ``forward`` is ``self.student(x)``,
``loss_fn(output, y)`` = the train_step's weighted loss with the teacher's logits on the same ``x`` under
``torch.no_grad`` (outside the tape), KLDivergence as Keras computes it (both distributions clipped to [1e-7, 1],
summed over classes, mean over the batch), ``torch.optim.Adam(lr=1e-3, eps=1e-7)``, and ``train_step`` = the
program's step (gradients with ``torch.autograd.grad`` for ``model.student``'s parameters only, then the step).
Data stand-in (no MNIST download): ``_data.mnist_like(1797)`` (scikit-learn's 8x8 digits blown up to 28x28 uint8) /
255 as float32 (n, 28, 28, 1), in a seeded shuffled order; the first 1,280 images are the training split (teacher
and distiller), the other 517 held out. ``batches``: 6 consecutive batches of 32, ``batch`` the first; ``inputs`` the
first 256 images; y int64 class ids.

Fault label: params_not_updated|frozen_params_changed (the network the distiller is meant to train, the student,
receives no update at all, while the pre-trained teacher, meant to stay fixed, is the one trained).
Fix (PR #273): ``self.teacher = teacher`` / ``self.student = student``.

Measured (my own plain loops, /tmp/s39/h55b/work/measure.py, extra.py, extra_k.py; OMP_NUM_THREADS=1 on a 2-core
machine with load average ~5 from other jobs; the module's builds; "distiller acc" = held-out (517 images) accuracy of
``model(x)`` = ``self.student(x)``, what ``distiller.evaluate`` reports; "student-net" / "teacher-net" = the objects
passed as ``student=`` / ``teacher=``):
  before training: torch buggy loss 0.120, distiller acc 0.917 (it is the teacher), fixed loss 0.328, distiller acc
  0.070; Keras buggy 0.118 / 0.925, fixed 0.328 / 0.112. Student-net acc 0.070 (torch) / 0.112 (Keras), teacher-net
  0.917 / 0.925.
  120 steps (= distiller.fit's 3 epochs over the 1,280 images, shuffled batches of 32), loss at steps 1 / 10 / 40 /
  80 / 120: torch buggy (train_step) 0.120 / 0.062 / 0.048 / 0.038 / 0.043, fixed 0.328 / 0.304 / 0.119 / 0.019 /
  0.028; Keras buggy (train_on_batch) 0.118 / 0.065 / 0.049 / 0.039 / 0.044, fixed 0.328 / 0.301 / 0.109 / 0.020 /
  0.028. After 120 steps: torch buggy distiller acc 0.965, student-net acc 0.070 with every weight bit-identical
  (max |dW| 0), teacher-net changed (max |dW| 0.065); fixed distiller acc = student-net acc 0.948, teacher-net
  unchanged (max |dW| 0). Keras buggy distiller acc 0.967, student-net 0.112 (max |dW| 0), teacher-net max |dW|
  0.065; fixed 0.930, teacher-net unchanged.
  One batch repeated 100 steps (torch: optimizer over all of ``model.parameters()``, ``loss_fn(model(x), y)``;
  Keras: train_on_batch), loss at steps 1 / 10 / 50 / 100: torch buggy 0.113 / 0.035 / 0.021 / 0.019, fixed 0.329 /
  0.265 / 0.013 / 0.004; Keras buggy 0.107 / 0.035 / 0.021 / 0.019, fixed 0.322 / 0.249 / 0.011 / 0.004.
  In both versions the parameters under the attribute ``teacher`` get no gradient (torch ``.grad`` None): in the
  fixed one that is the 50,186-parameter teacher, in the buggy one the 20,490-parameter student.
  What the fault does: loss curves and the reported accuracy look fine (the buggy loss is lower throughout, the
  reported accuracy higher, because the model being trained and evaluated is the already-trained teacher); the
  student is never trained (chance accuracy) and the teacher drifts.
  Time: one step 7-8 ms (torch train_step) and 16-24 ms (Keras train_on_batch) on one loaded CPU thread; the first
  build of each framework pre-trains the teacher (torch 2.3 s, Keras 1.6 s on the loaded machine, after the imports:
  torch 2.1 s, Keras + TensorFlow 8.1 s), later builds 0.01 s (torch) / 0.14 s (Keras).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "params_not_updated|frozen_params_changed"
SOURCE = ("github:keras-team/keras-io issue #257, PR #273 (examples/vision/knowledge_distillation.py "
          "Distiller.__init__ 'self.teacher = student' / 'self.student = teacher' "
          "@1da2fdefe1b108145dcdb0794b60195cda85c38d, from PR #242 "
          "'Add knowledge distillation example'; fix PR #273 'Fix typo in knowledge distillation example' (merged "
          "2020-10-02): self.teacher = teacher, self.student = student)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 10}), ("not_constant_predictions", {})]

# program lines (examples/vision/knowledge_distillation.py)
alpha = 0.1  # distiller.compile(..., alpha=0.1, temperature=10)
temperature = 10
learning_rate = 1e-3  # keras.optimizers.Adam() defaults (epsilon 1e-7)
fit_batch_size = 32  # teacher.fit / distiller.fit without batch_size (the script's `batch_size = 64` is unused)
teacher_epochs = 5  # teacher.fit(x_train, y_train, epochs=5)
TEACHER_CHANNELS = (256, 512)  # teacher Conv2D(256) / Conv2D(512)
STUDENT_CHANNELS = (16, 32)  # student Conv2D(16) / Conv2D(32)
# port: teacher widths divided by 8 (one buggy step trains the teacher: full width ~0.2 s a step on one thread)
TEACHER_DIV = 8
TEACHER_PORT = tuple(c // TEACHER_DIV for c in TEACHER_CHANNELS)
# port: the teacher is pre-trained on the 1,280 stand-in training images for 2 epochs instead of 5 on MNIST's 60,000
TEACHER_PORT_EPOCHS = 2
SEED = 0
N_IMAGES = 1797
N_TRAIN = 1280  # the rest (517) held out
N_BATCHES = 6
N_INPUTS = 256


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """MNIST stand-in, ``x.astype("float32") / 255.0`` reshaped to (-1, 28, 28, 1), in a seeded shuffled order
    (``fit`` shuffles); int64 class ids."""
    from tests.real_programs._data import mnist_like

    imgs, y = mnist_like(N_IMAGES)
    x = np.reshape(imgs.astype("float32") / 255.0, (-1, 28, 28, 1))
    perm = np.random.default_rng(SEED).permutation(N_IMAGES)
    return x[perm], y[perm]


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = _data()
    return [(x[i:i + fit_batch_size], y[i:i + fit_batch_size])
            for i in range(0, N_BATCHES * fit_batch_size, fit_batch_size)]


def _teacher_order() -> list[np.ndarray]:
    """The shuffled batch order of ``teacher.fit`` (seeded), TEACHER_PORT_EPOCHS epochs over the training split."""
    rng = np.random.default_rng(SEED + 1)
    out = []
    for _ in range(TEACHER_PORT_EPOCHS):
        p = rng.permutation(N_TRAIN)
        out += [p[i:i + fit_batch_size] for i in range(0, N_TRAIN, fit_batch_size)]
    return out


# ----------------------------------------------------------------------------------------------------------- torch

def _torch_net(channels: tuple[int, int]) -> Any:
    """``keras.Sequential([Input((28, 28, 1)), Conv2D(c1, 3, strides=2, padding="same"), LeakyReLU(0.2),
    MaxPooling2D(2, strides=1, padding="same"), Conv2D(c2, 3, strides=2, padding="same"), Flatten(), Dense(10)])``
    in torch: TensorFlow's "same" padding (the extra row / column after), Keras' glorot-uniform kernels and zero
    biases, NHWC input as the program feeds it."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2 = channels
            self.conv1 = nn.Conv2d(1, c1, 3, stride=2)
            self.conv2 = nn.Conv2d(c1, c2, 3, stride=2)
            self.dense = nn.Linear(7 * 7 * c2, 10)
            for layer in (self.conv1, self.conv2, self.dense):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
            h = F.leaky_relu(self.conv1(F.pad(h, (0, 1, 0, 1))), 0.2)
            h = F.max_pool2d(F.pad(h, (0, 1, 0, 1), value=float("-inf")), 2, stride=1)
            h = self.conv2(F.pad(h, (0, 1, 0, 1)))
            return self.dense(h.permute(0, 2, 3, 1).reshape(h.shape[0], -1))  # Flatten (NHWC order)

    return Net()


@functools.lru_cache(maxsize=1)
def _torch_teacher_state() -> dict[str, Any]:
    """``teacher.compile(Adam(), SparseCategoricalCrossentropy(from_logits=True)); teacher.fit(x_train, y_train)``
    on the stand-in (see TEACHER_PORT_EPOCHS), seeded; the trained state dict."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(SEED + 1)
    teacher = _torch_net(TEACHER_PORT)
    opt = torch.optim.Adam(teacher.parameters(), lr=learning_rate, eps=1e-7)
    x, y = _data()
    xt, yt = torch.from_numpy(x[:N_TRAIN]), torch.from_numpy(y[:N_TRAIN])
    for idx in _teacher_order():
        ix = torch.from_numpy(idx)
        opt.zero_grad()
        F.cross_entropy(teacher(xt[ix]), yt[ix]).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in teacher.state_dict().items()}


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    state = _torch_teacher_state()
    teacher = _torch_net(TEACHER_PORT)
    teacher.load_state_dict(state)
    torch.manual_seed(SEED)
    student = _torch_net(STUDENT_CHANNELS)

    class Distiller(nn.Module):
        def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
            super().__init__()
            if bug:  # knowledge_distillation.py before PR #273
                self.teacher = student
                self.student = teacher
            else:  # PR #273
                self.teacher = teacher
                self.student = student
            self._x = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # Keras 3 version's `call`: self.student(x)
            self._x = x
            return self.student(x)

    distiller = Distiller(student=student, teacher=teacher)

    def student_loss_fn(y, y_pred):  # keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return F.cross_entropy(y_pred, y)

    def distillation_loss_fn(y_true, y_pred):  # keras.losses.KLDivergence(): clip to [1e-7, 1], sum, batch mean
        y_true = y_true.clamp(1e-7, 1.0)
        y_pred = y_pred.clamp(1e-7, 1.0)
        return (y_true * torch.log(y_true / y_pred)).sum(dim=-1).mean()

    def distiller_loss(student_predictions, teacher_predictions, y):
        """``Distiller.train_step``: the weighted student and distillation losses."""
        student_loss = student_loss_fn(y, student_predictions)
        distillation_loss = distillation_loss_fn(
            F.softmax(teacher_predictions / temperature, dim=1),
            F.softmax(student_predictions / temperature, dim=1),
        )
        return alpha * student_loss + (1 - alpha) * distillation_loss

    def loss_fn(student_predictions, y):
        """The train_step's loss for the distiller's last input (the teacher sees the same ``x``)."""
        with torch.no_grad():  # forward pass of teacher, outside the tape
            teacher_predictions = distiller.teacher(distiller._x)
        return distiller_loss(student_predictions, teacher_predictions, y)

    def train_step(model, optimizer, loss_fn, x, y):
        """``Distiller.train_step``: teacher forward outside the tape, student forward, loss, gradients for the
        variables of ``model.student`` only, optimizer step."""
        with torch.no_grad():
            teacher_predictions = model.teacher(x)
        student_predictions = model(x)
        loss = distiller_loss(student_predictions, teacher_predictions, y)
        trainable_vars = list(model.student.parameters())
        gradients = torch.autograd.grad(loss, trainable_vars)
        optimizer.zero_grad()
        for v, g in zip(trainable_vars, gradients):
            v.grad = g
        optimizer.step()
        return loss.detach()

    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches()]
    xs, _ = _data()
    return {"model": distiller, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xs[:N_INPUTS]),
            "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras_net(channels: tuple[int, int], name: str) -> Any:
    import keras
    from keras import layers

    c1, c2 = channels
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(c1, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(c2, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name=name,
    )


@functools.lru_cache(maxsize=1)
def _keras_teacher_weights() -> list[np.ndarray]:
    """``teacher.fit`` (Adam(), sparse CE from logits) on the stand-in, seeded, with ``train_on_batch`` over the
    same batch order as the torch teacher; the trained weights."""
    import keras

    keras.utils.set_random_seed(SEED + 1)
    teacher = _keras_net(TEACHER_PORT, "teacher")
    teacher.compile(optimizer=keras.optimizers.Adam(),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _data()
    for idx in _teacher_order():
        teacher.train_on_batch(x[:N_TRAIN][idx], y[:N_TRAIN][idx])
    return [np.array(w) for w in teacher.get_weights()]


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    weights = _keras_teacher_weights()
    teacher = _keras_net(TEACHER_PORT, "teacher")
    teacher.set_weights(weights)
    keras.utils.set_random_seed(SEED)
    student = _keras_net(STUDENT_CHANNELS, "student")

    class Distiller(keras.Model):
        def __init__(self, student, teacher):
            super().__init__()
            if bug:  # knowledge_distillation.py before PR #273
                self.teacher = student
                self.student = teacher
            else:  # PR #273
                self.teacher = teacher
                self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
            # port: the student loss also given to Keras' compile, so that Keras' own loss (evaluate, compute_loss)
            # is the student loss, as the program's test_step reports it
            super().compile(optimizer=optimizer, metrics=metrics, loss=student_loss_fn)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def call(self, x):  # the Keras 3 version of the example: return self.student(x)
            return self.student(x)

        def train_step(self, data):
            # Unpack data (Keras 3's train_on_batch passes (x, y, sample_weight))
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)

            # Forward pass of teacher
            teacher_predictions = self.teacher(x, training=False)

            with tf.GradientTape() as tape:
                # Forward pass of student
                student_predictions = self.student(x, training=True)

                # Compute losses
                student_loss = self.student_loss_fn(y, student_predictions)
                distillation_loss = self.distillation_loss_fn(
                    tf.nn.softmax(teacher_predictions / self.temperature, axis=1),
                    tf.nn.softmax(student_predictions / self.temperature, axis=1),
                )
                loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss

            # Compute gradients
            trainable_vars = self.student.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)

            # Update weights
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))

            # Update the metrics configured in `compile()` (Keras 3: no `compiled_metrics`)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, student_predictions)

            # Return a dict of performance
            results = {m.name: m.result() for m in self.metrics}
            results.update(
                {"loss": loss, "student_loss": student_loss, "distillation_loss": distillation_loss}
            )
            return results

        def test_step(self, data):
            # Unpack the data
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)

            # Compute predictions
            y_prediction = self.student(x, training=False)

            # Calculate the loss
            student_loss = self.student_loss_fn(y, y_prediction)

            # Update the metrics (Keras 3: the loss tracker gets the student loss)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(student_loss)
                else:
                    metric.update_state(y, y_prediction)

            # Return a dict of performance
            results = {m.name: m.result() for m in self.metrics}
            results.update({"student_loss": student_loss})
            return results

    # Initialize and compile distiller
    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=alpha,
        temperature=temperature,
    )
    xs, _ = _data()
    distiller(xs[:2])
    return {"model": distiller, "batch": _batches()[0], "batches": _batches(), "inputs": xs[:N_INPUTS]}


buggy, fixed = versions(_torch, _keras, flag="bug")
