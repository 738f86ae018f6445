"""keras-team/autokeras (the PyTorch-based AutoKeras 0.3.x of early 2019): ``examples/task_modules/image/
cnn_mnist_regression.py`` fits an ``ImageRegressor(verbose=True, augment=False)`` on MNIST, the digit label used as a
real-valued target. The regressor's search starts by training the default ``CnnGenerator(1, (28, 28, 1)).generate(3,
64)`` graph with ``autokeras/nn/model_trainer.py`` ``ModelTrainer.train_model``: ``torch.optim.SGD(self.model.
parameters(), 0.025, momentum=0.9, weight_decay=3e-4)``, ``CosineAnnealingLR(self.optimizer, max_iter_num)``
(``max_iter_num`` = ``Constant.SEARCH_MAX_ITER`` = 200, ``scheduler.step()`` at the top of every epoch), and in
``_train`` the plain ``zero_grad`` / ``loss_function(outputs, targets)`` / ``backward`` / ``step`` per batch; the loss
is ``regression_loss`` = ``torch.nn.MSELoss()(prediction, target.float())`` on ``y.flatten().reshape(len(y), 1)``;
the images go through ``ImageDataTransformer`` (divide by the data's max, per-channel ``Normalize(mean, std)`` of the
training set, NHWC -> NCHW), batches of ``Constant.MAX_BATCH_SIZE`` = 128, shuffled.

The fault (an optimizer setting): the trainer's SGD learning rate 0.025 with momentum 0.9 is the same for every
task; for the regressor the MSE loss on targets 0..9 starts near 28 with a gradient to
match (the squared error grows with the target scale, a cross-entropy does not), so the momentum steps overshoot,
the weights and gradients blow up within the first few dozen steps, and training either diverges to NaN or
kills every ReLU unit of the dense head, after which the network outputs one constant (the output bias drifts to the
target mean) and the loss stays at the targets' variance for good. Reported in issue #554 ("Exception occurred at
train() : Input contains NaN, infinity or a value too large for dtype('float32'). when run
example/task_modules/image/cnn_mnist_regression.py": the trainer's metric receives NaN predictions); fixed by PR
#571 "[MRG]Regression bug", whose description says that the original learning rate 0.025 causes exploding gradients
when training with the MSE loss and that it is lowered to 0.001 for now (commit message "learning rate fix for
regression model"): ``train_model(self, lr=0.001, ...)`` and ``torch.optim.SGD(self.model.parameters(), lr=lr,
momentum=0.9, weight_decay=3e-4)`` (the new default applies to every task's trainer, the classifiers' too;
the PR calls it a temporary choice until the training arguments are set per task).

Source: github.com/keras-team/autokeras ``autokeras/nn/model_trainer.py`` (``ModelTrainer.train_model`` /
``_train``), ``autokeras/nn/generator.py`` (``CnnGenerator.generate``), ``autokeras/nn/layers.py``,
``autokeras/nn/external_models.py`` (``TorchModel``), ``autokeras/nn/loss_function.py`` (``regression_loss``),
``autokeras/image/image_supervised.py`` (``ImageRegressor``), ``autokeras/preprocessor.py``
(``ImageDataTransformer``), ``autokeras/constant.py``, ``examples/task_modules/image/cnn_mnist_regression.py`` at
b63a1b7f628ae3b61dfcafb9be577fe7c0b149ab (= bf3f97c^); issue #554; fix bf3f97c70cd77f0fb6c21e14a57eebbb75abb92d
(PR #571): SGD lr 0.025 -> 0.001.
Fault label: lr_too_high|exploding_gradients (the SGD + momentum step is too large for the MSE loss of the regressor:
the weights and gradients blow up; NaN or a dead, constant-output head).

Program lines kept: the graph ``CnnGenerator.generate`` builds, layer for layer in its order (three times ReLU ->
BatchNorm2d -> Conv2d(3x3, stride 1, padding 1) -> MaxPool2d(2), since ``int(3 / 4) == 0`` pools after every conv;
then global average pooling, dropout 0.25, Linear(width, width), ReLU, Linear(width, 1)), PyTorch's default init (the
generated graph is unweighted, ``TorchModel`` just calls ``to_real_layer``), ``torch.optim.SGD(..., 0.025,
momentum=0.9, weight_decay=3e-4)`` (fixed: ``lr=0.001``), the ``CosineAnnealingLR(optimizer, 200)`` stepped once as
at the top of the first epoch (lr 0.0249985 buggy / 0.00099994 fixed during that epoch; the real first epoch has
~465 steps, more than any check runs), ``MSELoss()(prediction, target.float())``, targets of shape (n, 1), batch 128.
Shrunk / replaced: ``model_width`` 64 -> 16 (the conv filters and the hidden dense layer): at 64 one step of batch 128
takes ~0.15-0.3 s on one CPU core; at 16 it takes ~25-45 ms. The fault shows at every width tried (see below).
``GlobalAvgPool2d`` is written as the same ``avg_pool2d`` over the full spatial size + ``view``; the graph's
``Dropout2d(0.25)``, which the global pooling hands a 2-D (n, width) tensor, drops single elements on such input (as
it did in torch 1.0; torch 2 warns about it), so it is written as ``nn.Dropout(0.25)``, the same operation. The
graph's topological ``forward`` is an ``nn.Sequential``.
Ported: torch only. The fault is in AutoKeras' PyTorch ``ModelTrainer`` (``torch.optim.SGD`` with coupled L2
``weight_decay`` under momentum, torch BatchNorm / default init); Keras' SGD applies ``weight_decay`` decoupled and its
layers have other defaults, so a Keras version would be a re-implementation, not the program.
Data stand-in (no MNIST download): 28x28 uint8 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up
3x3 and padded), each drawn image shifted by -2..2 pixels, scaled by 0.7..1.0 and given N(0, 10) pixel noise (clipped
0..255), so the batches differ as MNIST's do; training images from the first 1500 digits, held-out ones from the last
297; the target is the digit as a number (0..9, float32, shape (n, 1)), as the example feeds MNIST's labels to the
regressor. Then ``ImageDataTransformer``'s steps: divide by the max (255), subtract the training set's channel mean,
divide by its std, NCHW. ``batches``: 20 distinct batches of 128; ``batch``: the first; ``inputs``: 256 held-out
images.

Measured (my own plain loop, /tmp/s59/p/b101d/measure.py, on this module's builds: train mode, zero_grad / forward /
MSE / backward / step over the 20 ``batches`` in order, cycled, 300 steps; torch.set_num_threads(1)):
  loss at init on ``batch`` (eval mode) 27.8, the same in both versions (targets 0..9, variance 8.46).
  SEED 0 (the module's), training loss in 30-step blocks:
    buggy 11.9 8.68 8.37 8.55 8.38 8.54 8.38 8.54 8.38 8.54 (max 41.6 at step 4; gradient norm 14.2 at step 1, up
      to 149 over steps 2-20): by step ~60 every one of the 16 hidden ReLU units of the dense head is dead, the
      network outputs one constant (prediction std 0 on ``inputs``, output bias 4.51 = the target mean), the loss
      is each batch's target variance for good; held-out MSE 8.27.
    fixed 16.9 7.85 6.24 4.96 3.88 3.33 2.92 2.51 2.16 2.03 (max 31.8 at step 1; gradient norm at most 18.9 over
      steps 2-20); held-out MSE 3.51, prediction std 2.09, 14 / 16 head units alive.
  Model-init seeds 1-5 (``SEED`` changed after the data were made): buggy NaN from step 32 (seed 2, loss 1.9e29 at
    step 31), the same constant-output collapse at 8.4-8.5 for seeds 1, 3, 4, 5 (seed 4 first fell to 5.8 by step
    ~120, then collapsed); fixed: last 30-step block 1.78-2.07, held-out MSE 2.90-3.23, never NaN.
  At the program's own width (``MODEL_WIDTH`` = 64 in the same loop, 200 steps): seed 0 buggy NaN from step 32 (inf
    at 32), seed 1 buggy the constant-output collapse (8.46, 0 / 64 head units alive); fixed 17.0 -> 1.44 and 15.8 ->
    1.49 (20-step blocks), held-out MSE 2.61 / 2.95. Width 32: buggy NaN from step 29 (seed 0) / 28 (seed 1), fixed
    19.5 -> 1.86 / 17.2 -> 1.94. So the shrink does not change the outcome; NaN (what issue #554 hit) and the dead,
    constant head are the two ends of the same blow-up.
  Time per step (batch 128, one thread): width 16 ~25 ms (width 64 ~150-170 ms, 32 ~60 ms). Build: first ~2.8 s
    (imports, data), later < 0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "lr_too_high|exploding_gradients"
SOURCE = ("github:keras-team/autokeras issue #554, PR #571 '[MRG]Regression bug' (autokeras/nn/model_trainer.py "
          "ModelTrainer.train_model 'torch.optim.SGD(self.model.parameters(), 0.025, momentum=0.9, "
          "weight_decay=3e-4)' + nn/generator.py CnnGenerator, image/image_supervised.py ImageRegressor, "
          "examples/task_modules/image/cnn_mnist_regression.py @b63a1b7f628ae3b61dfcafb9be577fe7c0b149ab; "
          "fix bf3f97c70cd77f0fb6c21e14a57eebbb75abb92d 'learning rate fix for regression model': lr=0.001)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "regression"}), ("overfit_one_batch", {"task": "regression"}),
          ("gradients_flow", {}), ("input_independent_baseline", {"task": "regression"})]

MODEL_LEN = 3  # Constant.MODEL_LEN
MODEL_WIDTH = 16  # Constant.MODEL_WIDTH is 64; shrunk for CPU time (see the docstring)
CONV_DROPOUT_RATE = 0.25  # Constant.CONV_DROPOUT_RATE
POOLING_KERNEL_SIZE = 2  # Constant.POOLING_KERNEL_SIZE
MAX_ITER_NUM = 200  # Constant.SEARCH_MAX_ITER (the searcher's trainer_args['max_iter_num'])
BATCH_SIZE = 128  # Constant.MAX_BATCH_SIZE
LR_BUGGY = 0.025  # model_trainer.py before PR #571
LR_FIXED = 0.001  # train_model(self, lr=0.001, ...) after PR #571
N_BATCHES = 20
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shifted, scaled, noisy MNIST-like digits after ImageDataTransformer (NCHW), digit targets (n, 1) float32."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(0)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).astype("uint8")
    x = xs[..., None]  # x_train.reshape(x_train.shape + (1,))
    max_val = x[:n_tr].max()  # ImageDataTransformer.__init__ on the training data
    data = x[:n_tr] / max_val
    mean = np.mean(data, axis=(0, 1, 2), keepdims=True).flatten()
    std = np.std(data, axis=(0, 1, 2), keepdims=True).flatten()
    xn = ((x / max_val - mean) / std).transpose(0, 3, 1, 2).astype("float32")  # /max, Normalize, NHWC -> NCHW
    y = y0[src].astype("float32").flatten().reshape(len(src), 1)  # ImageRegressor.transform_y
    return xn[:n_tr], y[:n_tr], xn[n_tr:]


def _build(lr: float) -> dict[str, Any]:
    import warnings

    import torch
    from torch.nn import functional

    class GlobalAvgPool2d(torch.nn.Module):  # autokeras/nn/layers.py
        def forward(self, input_tensor):
            return functional.avg_pool2d(input_tensor, input_tensor.size()[2:]).view(input_tensor.size()[:2])

    def generate(input_channel: int, n_output_node: int, model_len: int, model_width: int) -> torch.nn.Module:
        """CnnGenerator.generate: the layers of the graph in topological order."""
        layers = []
        pooling_len = int(model_len / 4)
        temp_input_channel = input_channel
        for i in range(model_len):
            layers.append(torch.nn.ReLU())
            layers.append(torch.nn.BatchNorm2d(temp_input_channel))
            layers.append(torch.nn.Conv2d(temp_input_channel, model_width, 3, stride=1, padding=int(3 / 2)))
            temp_input_channel = model_width
            if pooling_len == 0 or ((i + 1) % pooling_len == 0 and i != model_len - 1):
                layers.append(torch.nn.MaxPool2d(POOLING_KERNEL_SIZE, stride=POOLING_KERNEL_SIZE))
        layers += [GlobalAvgPool2d(), torch.nn.Dropout(CONV_DROPOUT_RATE), torch.nn.Linear(model_width, model_width),
                   torch.nn.ReLU(), torch.nn.Linear(model_width, n_output_node)]
        return torch.nn.Sequential(*layers)

    torch.manual_seed(SEED)
    model = generate(1, 1, MODEL_LEN, MODEL_WIDTH)  # ImageRegressor.get_n_output_node() == 1

    def regression_loss(prediction, target):
        return torch.nn.MSELoss()(prediction, target.float())

    optimizer = torch.optim.SGD(
        model.parameters(),
        lr,
        momentum=0.9,
        weight_decay=3e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, MAX_ITER_NUM)
    with warnings.catch_warnings():  # torch >= 1.1 warns about step() before optimizer.step(); the program did this
        warnings.simplefilter("ignore")
        scheduler.step()  # for epoch in range(max_iter_num): self.scheduler.step(); self._train() ...

    x, y, xh = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": regression_loss, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(LR_BUGGY)


def fixed(framework: str) -> dict[str, Any]:
    return _build(LR_FIXED)
