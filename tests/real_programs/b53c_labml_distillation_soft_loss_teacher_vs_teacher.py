"""labml.ai's "Annotated deep learning paper implementations", ``labml_nn/distillation``: "Distilling the Knowledge in a
Neural Network" (Hinton et al.) on CIFAR-10. A ``LargeModel`` (VGG-style ``CIFAR10VGGModel`` with blocks
[[64, 64], [128, 128], [256]*3, [512]*3, [512]*3], dropout 0.1, labml's ``BatchNorm(track_running_stats=False)``;
14.7M parameters, 85 % validation accuracy) is trained first (``large.py``); ``__init__.py`` then trains a
``SmallModel`` (blocks [[32, 32], [64, 64], [128], [128], [128]], Conv 3x3 -> BatchNorm(track_running_stats=False) ->
ReLU, a 2x2 max-pool after each block, ``Linear(128, 10)``; 437k parameters) with the loaded large model as teacher.
``Configs.step``: ``self.large.eval()``, ``large_logits = self.large(data)`` under ``torch.no_grad()``,
``output = self.model(data)``, soft targets ``log_softmax(large_logits / T)``, ``nn.KLDivLoss(log_target=True)``
(default reduction 'mean' over all elements), ``nn.CrossEntropyLoss()`` on the labels,
``loss = soft_targets_weight * soft_targets_loss + label_loss_weight * label_loss`` with ``temperature = 5``,
``soft_targets_weight = 100``, ``label_loss_weight = 0.5``; backward, step, zero_grad. ``main``: Adam, lr 2.5e-4
(labml's Adam, no weight decay); labml_helpers' CIFAR10Configs: ``ToTensor()`` + ``Normalize((0.5,)*3, (0.5,)*3)``,
batches of 64, shuffled; 10 epochs.

The fault (``Configs.step`` as committed in 1a9f15ee "Distillation (#65)"):
    soft_targets = nn.functional.log_softmax(large_logits / self.temperature, dim=-1)
    soft_prob = nn.functional.log_softmax(large_logits / self.temperature, dim=-1)
    soft_targets_loss = self.kl_div_loss(soft_prob, soft_targets)
The student's temperature-softened log-probabilities are computed from the *teacher's* logits, so the distillation
term is KL(teacher || teacher) = 0 exactly, for every batch, with no path to the student's parameters (the teacher
runs under ``no_grad``). The student trains on ``0.5 * CrossEntropy`` alone: there is no distillation, and the
logged ``loss.kl_div`` reads 0. Issue #66 "Small error in distillation code" (jamespayor, 2021-07-05): "I think you
mean to use `output` rather than using `large_logits` again here"; the author (vpj): "It's not a small bug, it just
completely stops doing the distillation ... during the refactoring ... I copy pasted and messed it up." Fixed in
e0d4b658b094546764b33e5a4349689edd435d4f "fix distillation error" (2021-07-12):
``soft_prob = nn.functional.log_softmax(output / self.temperature, dim=-1)``.

Source: github.com/labmlai/annotated_deep_learning_paper_implementations, labml_nn/distillation/__init__.py,
small.py, large.py, labml_nn/experiments/cifar10.py, labml_nn/experiments/mnist.py (MNISTConfigs: epochs, loss,
step), labml_nn/normalization/batch_norm/__init__.py, labml_nn/optimizers/configs.py, all at e0d4b658^ (= 901a7441
"GAT (#67)"); labml_helpers/datasets/cifar10.py from github.com/labmlai/labml (helpers/); issue #66; fix e0d4b658.
Fault label: other:distillation_loss_compares_teacher_with_itself (the soft-target KL term compares the teacher with
itself: identically zero, no gradient, the student is trained on the weighted label loss alone).
Fix (e0d4b658): ``log_softmax(output / self.temperature, dim=-1)``.

Program lines kept: ``BatchNorm`` (labml's, verbatim), ``CIFAR10VGGModel`` and ``SmallModel`` (conv blocks, batch
statistics always, max-pools, ``fc``), PyTorch's default initialisation, the loss of ``Configs.step`` (buggy and
fixed lines verbatim, KLDivLoss(log_target=True) with reduction 'mean', the weights 100 and 0.5, T = 5), the step
order (teacher in eval mode and under no_grad, backward, step, zero_grad), Adam(lr=2.5e-4), the input normalisation.
Ported: ``SmallModel``'s channels halved ([[16, 16], [32, 32], [64], [64], [64]]) and batches of 32 instead of 64,
so a step stays under 0.1 s on one loaded CPU thread (full width and batch 64: ~0.22 s, measured); the fault does
not depend on either. The teacher checkpoint (``get_saved_model``: the trained ``LargeModel``, 14.7M parameters) is
replaced by a frozen stand-in that needs no download and builds in about a second: a multinomial logistic
regression (scikit-learn, C=0.01) on the normalised pixels fitted on the 1,280 training images (held-out accuracy
0.990, logits std 1.86); the fault is in the student's loss, not in the teacher. ``forward`` instead of labml's
``__call__`` override. The torch ``train_step`` is the program's step; ``loss_fn(output, target)`` recomputes the
teacher's logits on the student's last input (kept by a forward pre-hook), as the step feeds the same ``data`` to
both models. Keras twin: a ``keras.Model`` holding the student (channels-last ``Conv2D(padding="same")``, a
``BatchNorm`` layer using the batch's statistics always, PyTorch's default init as ``VarianceScaling(1/3, fan_in,
uniform)`` kernels and U(+-1/sqrt(fan_in)) biases) and the frozen teacher (a non-trainable ``Dense`` with the same
weights); ``call`` returns the student's logits and ``add_loss``-es ``100 * mean(exp(t) * (t - s))`` (KLDivLoss
with log targets, same buggy / fixed line); compiled with ``Adam(2.5e-4, epsilon=1e-8)`` and ``0.5 *`` sparse
categorical cross-entropy from logits.
Data stand-in (no CIFAR-10 download): ``_data.cifar_like(1797)`` (32x32x3 uint8, 10 classes) through ToTensor +
Normalize(0.5, 0.5) -> [-1, 1], in a seeded shuffled order; the first 1,280 images are the training split (and the
teacher's), the other 517 held out. ``batches``: 6 consecutive batches of 32, ``batch`` the first; ``inputs`` the
first 256 images (NCHW for torch, NHWC for Keras); y int64 class ids.

Measured (my own plain loops, /tmp/s39/h53c/work/measure_t.py, measure_k.py, lowdata_t.py, timing.py;
OMP_NUM_THREADS=1 on a 2-core machine with load average 5-7 from other jobs; the module's builds; shuffled batches
of 32 from the 1,280 training images, 40 an epoch; "KL" = KL(teacher || student) at T = 5 on the 517 held-out
images, "acc" held-out accuracy):
  first batch, before training: buggy loss 1.361 (torch) / 1.420 (Keras) = 0.5 * CE, soft term exactly 0.0; fixed
  2.396 / 2.527 (soft term 1.107 in Keras). The buggy gradient equals the label-only gradient (0.5 * CE) to the
  last bit (|difference| 0.0; norm 5.41 torch, 5.85 Keras); fixed gradient norm 8.76 / 9.49, 3.56 / 3.87 away
  from the label-only one.
  torch, train_step, steps 1 / 25 / 50 / 100 / 200 / 300: buggy loss 1.251 / 0.999 / 0.655 / 0.242 / 0.062 / 0.036,
  acc 0.13 / 0.39 / 0.66 / 0.95 / 0.99 / 0.994, KL 0.097 / 0.074 / 0.053 / 0.025 / 0.015 / 0.016 (stops falling);
  fixed loss 2.266 / 1.759 / 1.120 / 0.396 / 0.137 / 0.120, acc 0.13 / 0.39 / 0.71 / 0.95 / 0.99 / 0.994, KL 0.097 /
  0.071 / 0.047 / 0.019 / 0.0077 / 0.0060.
  Keras, train_on_batch, steps 1 / 25 / 50 / 100 / 200: buggy loss 1.279 / 1.011 / 0.623 / 0.250 / 0.067, acc 0.12
  / 0.43 / 0.78 / 0.96 / 0.985, KL 0.099 / 0.073 / 0.050 / 0.024 / 0.015; fixed loss 2.291 / 1.737 / 1.110 / 0.429 /
  0.139, acc 0.13 / 0.40 / 0.76 / 0.97 / 0.983, KL 0.098 / 0.071 / 0.047 / 0.018 / 0.0069.
  The stand-in is easy (a linear model gets 0.99), so with all 1,280 labels the student reaches the same accuracy
  either way; the buggy one just never moves towards the teacher's soft outputs (KL stalls at ~0.015, fixed
  0.006). With only 128 labelled images (4 batches repeated, torch) distillation matters: held-out acc at steps 50
  / 100 / 200 buggy 0.43 / 0.50 / 0.54, fixed 0.45 / 0.56 / 0.58.
  What the fault does in every run: the soft-target term is exactly 0, the loss is 0.5 * CE (lower than the fixed
  loss at every step) and the gradient is the label-only gradient; training, loss curves and accuracy look healthy.
  Time: torch train_step 0.086 s (buggy and fixed), Keras train_on_batch 0.09 - 0.11 s, on one thread of the loaded
  machine (load average ~7); building all four the first time 11.8 s including the torch / TensorFlow imports and the
  teacher fit, 0.67 s after that.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:distillation_loss_compares_teacher_with_itself"
SOURCE = ("github:labmlai/annotated_deep_learning_paper_implementations issue #66 (labml_nn/distillation/__init__.py "
          "Configs.step 'soft_prob = nn.functional.log_softmax(large_logits / self.temperature, dim=-1)' "
          "@e0d4b658^ = 901a7441 (file from 1a9f15ee 'Distillation (#65)'), labml_nn/distillation/small.py SmallModel, "
          "large.py LargeModel, labml_nn/experiments/cifar10.py CIFAR10VGGModel, labml_nn/experiments/mnist.py, "
          "labml_nn/normalization/batch_norm/__init__.py BatchNorm, labmlai/labml helpers/labml_helpers/datasets/"
          "cifar10.py; fix e0d4b658b094546764b33e5a4349689edd435d4f 'fix distillation error': "
          "log_softmax(output / self.temperature, dim=-1))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 10}), ("not_constant_predictions", {})]

# program lines (labml_nn/distillation/__init__.py Configs, labml_nn/experiments/mnist.py, labml_helpers cifar10)
temperature = 5.
soft_targets_weight = 100.
label_loss_weight = 0.5
learning_rate = 2.5e-4  # 'optimizer.optimizer': 'Adam', 'optimizer.learning_rate': 2.5e-4
train_batch_size = 64  # labml_helpers CIFAR10Configs
# port: batches of 32 instead of 64 for the CPU budget
BATCH_SIZE = 32
SMALL_BLOCKS = [[32, 32], [64, 64], [128], [128], [128]]  # SmallModel
# port: SmallModel's channel counts halved for the CPU budget
WIDTH_DIV = 2
BLOCKS = [[c // WIDTH_DIV for c in block] for block in SMALL_BLOCKS]
SEED = 0
N_IMAGES = 1797
N_TRAIN = 1280  # the rest (517) held out
N_BATCHES = 6
N_INPUTS = 256


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 stand-in after ``cifar10_transforms`` (``ToTensor()`` then ``Normalize((0.5,)*3, (0.5,)*3)``):
    (n, 32, 32, 3) float32 in [-1, 1] and int64 labels, in a seeded shuffled order (``train_loader_shuffle``)."""
    from tests.real_programs._data import cifar_like

    imgs, y = cifar_like(N_IMAGES, seed=SEED)
    x = (imgs.astype("float32") / 255.0 - 0.5) / 0.5
    perm = np.random.default_rng(SEED).permutation(N_IMAGES)
    return x[perm], y[perm]


@functools.lru_cache(maxsize=1)
def _teacher_weights() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for the trained ``LargeModel`` checkpoint ``get_saved_model`` loads: a multinomial logistic
    regression on the normalised pixels (NHWC-flattened) fitted on the training split, frozen. (3072, 10), (10,)."""
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    clf = LogisticRegression(C=1e-2, max_iter=200).fit(x[:N_TRAIN].reshape(N_TRAIN, -1), y[:N_TRAIN])
    return clf.coef_.T.astype("float32").copy(), clf.intercept_.astype("float32").copy()


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = _data()
    return [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    class BatchNorm(nn.Module):  # labml_nn.normalization.batch_norm.BatchNorm
        def __init__(self, channels: int, *, eps: float = 1e-5, momentum: float = 0.1,
                     affine: bool = True, track_running_stats: bool = True):
            super().__init__()
            self.channels = channels
            self.eps = eps
            self.momentum = momentum
            self.affine = affine
            self.track_running_stats = track_running_stats
            if self.affine:
                self.scale = nn.Parameter(torch.ones(channels))
                self.shift = nn.Parameter(torch.zeros(channels))
            if self.track_running_stats:
                self.register_buffer('exp_mean', torch.zeros(channels))
                self.register_buffer('exp_var', torch.ones(channels))

        def forward(self, x: torch.Tensor):
            x_shape = x.shape
            batch_size = x_shape[0]
            assert self.channels == x.shape[1]
            x = x.view(batch_size, self.channels, -1)
            if self.training or not self.track_running_stats:
                mean = x.mean(dim=[0, 2])
                mean_x2 = (x ** 2).mean(dim=[0, 2])
                var = mean_x2 - mean ** 2
                if self.training and self.track_running_stats:
                    self.exp_mean = (1 - self.momentum) * self.exp_mean + self.momentum * mean
                    self.exp_var = (1 - self.momentum) * self.exp_var + self.momentum * var
            else:
                mean = self.exp_mean
                var = self.exp_var
            x_norm = (x - mean.view(1, -1, 1)) / torch.sqrt(var + self.eps).view(1, -1, 1)
            if self.affine:
                x_norm = self.scale.view(1, -1, 1) * x_norm + self.shift.view(1, -1, 1)
            return x_norm.view(x_shape)

    class CIFAR10VGGModel(nn.Module):  # labml_nn/experiments/cifar10.py
        def conv_block(self, in_channels, out_channels) -> nn.Module:
            return nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
            )

        def __init__(self, blocks):
            super().__init__()
            assert len(blocks) == 5
            layers = []
            in_channels = 3
            for block in blocks:
                for channels in block:
                    layers += self.conv_block(in_channels, channels)
                    in_channels = channels
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(in_channels, 10)

        def forward(self, x):  # the program overrides __call__ (labml_helpers Module); same computation
            x = self.layers(x)
            x = x.view(x.shape[0], -1)
            return self.fc(x)

    class SmallModel(CIFAR10VGGModel):  # labml_nn/distillation/small.py
        def conv_block(self, in_channels, out_channels) -> nn.Module:
            return nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                BatchNorm(out_channels, track_running_stats=False),
                nn.ReLU(inplace=True),
            )

        def __init__(self):
            super().__init__(BLOCKS)  # [[32, 32], [64, 64], [128], [128], [128]] halved

    class LargeStandIn(nn.Module):
        """The frozen teacher: logistic regression on the NHWC-flattened pixels (see ``_teacher_weights``)."""

        def __init__(self):
            super().__init__()
            w, b = _teacher_weights()
            self.fc = nn.Linear(w.shape[0], 10)
            with torch.no_grad():
                self.fc.weight.copy_(torch.from_numpy(w.T.copy()))
                self.fc.bias.copy_(torch.from_numpy(b))

        def forward(self, x):
            return self.fc(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1))

    model = SmallModel()
    large = LargeStandIn()
    large.eval()
    kl_div_loss = nn.KLDivLoss(log_target=True)
    loss_func = nn.CrossEntropyLoss()

    def distillation_loss(output, large_logits, target):
        """``Configs.step`` from the large model's logits to the weighted sum of the two losses."""
        soft_targets = nn.functional.log_softmax(large_logits / temperature, dim=-1)
        if bug:  # e0d4b658^
            soft_prob = nn.functional.log_softmax(large_logits / temperature, dim=-1)
        else:  # e0d4b658
            soft_prob = nn.functional.log_softmax(output / temperature, dim=-1)
        soft_targets_loss = kl_div_loss(soft_prob, soft_targets)
        label_loss = loss_func(output, target)
        return soft_targets_weight * soft_targets_loss + label_loss_weight * label_loss

    # the step feeds the same `data` to both models; keep the student's last input for `loss_fn`
    model.register_forward_pre_hook(lambda mod, args: setattr(mod, "_data", args[0]))

    def loss_fn(output, target):
        with torch.no_grad():
            large_logits = large(model._data)
        return distillation_loss(output, large_logits, target)

    def train_step(model, optimizer, loss_fn, x, y):
        """``Configs.step`` in training mode: teacher logits under no_grad, student forward, the distillation
        loss, backward, step, then zero_grad (the program's order)."""
        model.train()
        large.eval()
        with torch.no_grad():
            large_logits = large(x)
        output = model(x)
        loss = distillation_loss(output, large_logits, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    def to_t(x, y):  # ToTensor: CHW
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)

    tb = [to_t(x, y) for x, y in _batches()]
    xs, _ = _data()
    inputs = torch.from_numpy(np.ascontiguousarray(xs[:N_INPUTS].transpose(0, 3, 1, 2)))
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate), "train_step": train_step}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    class BatchNorm(layers.Layer):
        """labml BatchNorm with ``track_running_stats=False``: always the batch's mean and variance
        (E[x^2] - E[x]^2 over batch and space), eps 1e-5, scale and shift."""

        def __init__(self, eps: float = 1e-5, **kw: Any) -> None:
            super().__init__(**kw)
            self.eps = eps

        def build(self, input_shape: Any) -> None:
            c = input_shape[-1]
            self.scale = self.add_weight(shape=(c,), initializer="ones", name="scale")
            self.shift = self.add_weight(shape=(c,), initializer="zeros", name="shift")

        def call(self, x: Any) -> Any:
            mean = ops.mean(x, axis=[0, 1, 2])
            var = ops.mean(x ** 2, axis=[0, 1, 2]) - mean ** 2
            return self.scale * (x - mean) / ops.sqrt(var + self.eps) + self.shift

    def torch_init(fan_in: int) -> dict[str, Any]:  # PyTorch's default Conv2d / Linear init
        return dict(kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                    bias_initializer=keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5))

    class Distillation(keras.Model):
        """SmallModel (channels-last) with the frozen teacher inside; ``call`` returns the student's logits and
        adds the weighted soft-targets loss; the compiled loss is the weighted label loss."""

        def __init__(self) -> None:
            super().__init__()
            self.blocks = []
            in_channels = 3
            for block in BLOCKS:
                for channels in block:
                    self.blocks += [layers.Conv2D(channels, 3, padding="same", **torch_init(in_channels * 9)),
                                    BatchNorm(), layers.ReLU()]
                    in_channels = channels
                self.blocks.append(layers.MaxPooling2D(2, 2))
            self.fc = layers.Dense(10, **torch_init(in_channels))
            self.large = layers.Dense(10, trainable=False)  # weights set after building

        def call(self, x: Any) -> Any:
            large_logits = ops.stop_gradient(self.large(ops.reshape(x, (-1, 32 * 32 * 3))))
            h = x
            for layer in self.blocks:
                h = layer(h)
            output = self.fc(ops.reshape(h, (-1, h.shape[-1])))
            soft_targets = ops.log_softmax(large_logits / temperature, axis=-1)
            if bug:  # e0d4b658^
                soft_prob = ops.log_softmax(large_logits / temperature, axis=-1)
            else:  # e0d4b658
                soft_prob = ops.log_softmax(output / temperature, axis=-1)
            # nn.KLDivLoss(log_target=True), reduction 'mean' over all elements
            soft_targets_loss = ops.mean(ops.exp(soft_targets) * (soft_targets - soft_prob))
            self.add_loss(soft_targets_weight * soft_targets_loss)
            return output

    def label_loss(y_true: Any, y_pred: Any) -> Any:  # label_loss_weight * nn.CrossEntropyLoss()
        return label_loss_weight * ops.mean(
            keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True))

    model = Distillation()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8), loss=label_loss)
    xs, _ = _data()
    model(xs[:2])
    model.large.set_weights(list(_teacher_weights()))
    kb = _batches()
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xs[:N_INPUTS]}


buggy, fixed = versions(_torch, _keras, flag="bug")
