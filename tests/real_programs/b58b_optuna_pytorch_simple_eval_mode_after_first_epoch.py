"""Optuna's PyTorch example (``optuna/optuna``, ``examples/pytorch_simple.py``): a hyper-parameter search over
multi-layer perceptrons for MNIST digit classification. ``define_model(trial)``: 1-3 blocks of ``Linear(in,
n_units)`` -> ``ReLU`` -> ``Dropout(p)`` (``n_units_l{i}`` in 4..128, ``dropout_l{i}`` in 0.2..0.5), then
``Linear(in, 10)`` -> ``LogSoftmax(dim=1)``; ``objective(trial)``: optimizer ``Adam`` / ``RMSprop`` / ``SGD`` with
``lr`` log-uniform in 1e-5..1e-1 over ``model.parameters()``, MNIST through ``transforms.ToTensor()`` (pixels in
[0, 1]), ``BATCHSIZE = 128``, ``EPOCHS = 10`` of ``N_TRAIN_EXAMPLES = BATCHSIZE * 30`` (30 shuffled batches an epoch),
``data.view(data.size(0), -1)``, ``F.nll_loss(output, target)``, and after every epoch a validation pass on
``N_VALID_EXAMPLES = BATCHSIZE * 10`` test images whose accuracy is ``trial.report``-ed for pruning.

The fault (train/eval mode): commit 32773979b "Add pruning" (2020-04-15) moved the validation block, which starts
with ``model.eval()``, inside ``for epoch in range(EPOCHS)`` so that every epoch can be reported, but left the
single ``model.train()`` before the loop. After the first epoch's validation the model never returns to training
mode: epochs 2-10 (270 of the 300 updates) run with every ``Dropout`` switched off, so the trial trains and is
scored as a different, unregularised network than the one it samples (its ``dropout_l{i}`` values have no effect
after epoch 1). PR #1725 (wangxin0716): "model.train() should be called every epoch before training, because the
model.eval() below has changed to mode of the model"; maintainers: "A small bug." / "Good catch!". Fix
352e08625a522e1e8234ca3e522ccc10b5219e62 "Update pytorch_simple.py" moves ``model.train()`` to the top of the
epoch loop; merged as 10e7ec6579fced4414ca0dd3fbb6bdbce79b2863.

Source: github.com/optuna/optuna ``examples/pytorch_simple.py`` at 352e08625^ = f5d824f33a990577139e652787f279390fc9e9a7
(``define_model``, ``get_mnist``, ``objective``, the constants), PR #1725, fix 352e08625 (merge 10e7ec65).
Fault label: other:trained_in_eval_mode (the per-epoch validation leaves the model in eval mode, so from the second
epoch on it trains with its dropout layers off).

Program lines kept: the constants, ``define_model`` verbatim (ReLU/Dropout blocks, ``LogSoftmax``), the optimizer
line ``getattr(optim, optimizer_name)(model.parameters(), lr=lr)``, ``F.nll_loss``, the training and validation
loops and their mode calls, as ``train_step``: it counts iterations on the optimizer, calls ``model.train()`` when
an epoch starts (buggy: only at iteration 0, where the program's single call sits; fixed: every epoch), does the
program's zero_grad / forward / nll_loss / backward / step, and after every 30th iteration runs the validation
pass (``model.eval()``, ``no_grad``, argmax accuracy over 1,280 held-out images, kept on the optimizer as
``last_accuracy``). ``model`` is returned in train mode, as the program has it before its first epoch. Batch size,
epoch length and model widths are the program's (no shrinking).
Ported / changed: the trial is fixed -- one point of the search space, ``n_layers=2``, ``n_units_l0=112``,
``dropout_l0=0.4``, ``n_units_l1=64``, ``dropout_l1=0.3``, ``Adam``, ``lr=1e-3`` (chosen by hand inside the ranges,
a configuration that trains; a tiny-lr SGD trial would hide any training effect), answered by a small stand-in for
``trial.suggest_*``; ``trial.report`` / ``should_prune`` are dropped (a single trial is never pruned by the default
``MedianPruner``, which waits for 5 finished trials); no study loop. Torch only: Keras has no sticky mode flag --
``fit`` / ``train_on_batch`` pass ``training=True`` on every call, so a validation pass cannot leave the model in
inference mode.
Data stand-in (no MNIST download): ``_data()`` -- MNIST-shaped images as the loop feeds them (float32 (n, 784) in
[0, 1], ``ToTensor`` of uint8 pixels, flattened), made from scikit-learn's 8x8 digits (0..16) blown up 3x3 to 24x24,
scaled to 0..255, placed at a random 0..4-pixel offset in a 28x28 frame with a little noise on the strokes; 8,192
training images drawn from the first 1,400 digits and 1,280 validation images from the other 397; labels 0..9.
``batch`` / ``batches``: the first 8 batches of 128 of one shuffle; ``inputs``: 256 validation images.

Measured (my own plain loops, /tmp/s41/h58b/work/measure.py and measure2.py, torch 2.13 CPU, one thread on the
shared 2-core machine, torch seed 0, the module's builds and ``train_step``):
  The program's run, 10 epochs x 30 steps (each epoch 30 batches of a fresh shuffle of the stand-in pool; three data
  orders, the first given): buggy and fixed are identical through epoch 1 (same seed; mean train loss 2.048, val
  acc 0.630), then ``model.training`` is False for every step of epochs 2-10 in the buggy run and True in the fixed.
    mean train loss per epoch: buggy 2.048 1.030 0.553 0.436 0.362 0.314 0.270 0.252 0.211 0.192; fixed 2.048
      1.326 0.917 0.740 0.644 0.574 0.513 0.471 0.425 0.398 (the buggy loss is measured without dropout, so lower).
    val accuracy per epoch (the value the trial reports): buggy 0.630 0.759 0.798 0.808 0.812 0.834 0.830 0.833 0.845
      0.841; fixed 0.630 0.723 0.780 0.798 0.815 0.823 0.827 0.837 0.832 0.841 (orders 2 / 3 end at 0.838 / 0.845
      buggy, 0.830 / 0.850 fixed): the trial's score barely moves, so the study cannot see the fault.
    after the run, loss of 1,024 training images in eval vs train mode (dropout off vs on): buggy 0.167 vs 0.997
      (orders 2 / 3: 0.180 vs 1.007, 0.173 vs 0.996) -- the net has co-adapted to running without its dropout and
      switching dropout back on multiplies its loss by 6; fixed 0.226 vs 0.391 (0.239 vs 0.420, 0.216 vs 0.376).
      Validation loss: buggy 0.528 / 0.527 / 0.514, fixed 0.498 / 0.508 / 0.477 (buggy slightly overfits).
  One batch repeated with ``train_step`` (the program's step; after step 30 the epoch's validation runs): step 1 /
    30 / 31 / 60 / 100 / 200 / 300: buggy 2.305 / 1.307 / 1.095 / 0.128 / 0.0152 / 0.0034 / 0.0015 (eval mode from
    step 31 on), fixed 2.305 / 1.307 / 1.264 / 0.554 / 0.182 / 0.053 / 0.020. The first 30 steps are the same in
    both: a check that runs fewer than 30 ``train_step`` calls never reaches the fault. Initial loss 2.301 (ln 10 =
    2.303) in both. After 31 steps over the 8 ``batches`` (/tmp/s41/h58b/work/verify.py) the buggy model reports
    ``model.training == False`` and two forward passes of a batch are identical (max |diff| 0), the fixed one is
    in train mode (max |diff| 2.35 from dropout).
  The 8 ``batches`` cycled, mean loss of steps 1-8 / 25-32 / 57-64 / 113-120 / 233-240: buggy 2.268 / 1.614 /
    0.590 / 0.248 / 0.071, fixed 2.268 / 1.655 / 0.985 / 0.602 / 0.296.
  Time per step (batch 128, one thread, loaded machine): 1.3-1.7 ms (plus ~2 ms for the validation pass every 30th
    step); builds 2 ms after the first (the first, with the 1.2-1.3 s stand-in -- scikit-learn's import and
    ``load_digits`` -- 1.4 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:trained_in_eval_mode"
SOURCE = ("github:optuna/optuna PR #1725 (examples/pytorch_simple.py objective/define_model @352e08625^, validation "
          "with model.eval() moved inside the epoch loop by 32773979b 'Add pruning' while model.train() stayed "
          "before the loop; fix 352e08625a522e1e8234ca3e522ccc10b5219e62 'Update pytorch_simple.py', merge "
          "10e7ec6579fced4414ca0dd3fbb6bdbce79b2863)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 10}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("gradients_flow", {}), ("not_constant_predictions", {})]

# examples/pytorch_simple.py
BATCHSIZE = 128
CLASSES = 10
EPOCHS = 10
N_TRAIN_EXAMPLES = BATCHSIZE * 30  # 30 batches an epoch
N_VALID_EXAMPLES = BATCHSIZE * 10
EPOCH_LEN = N_TRAIN_EXAMPLES // BATCHSIZE

# one trial of the study (a fixed point of the search space; see the docstring)
TRIAL_PARAMS: dict[str, Any] = {"n_layers": 2, "n_units_l0": 112, "dropout_l0": 0.4, "n_units_l1": 64,
                                "dropout_l1": 0.3, "optimizer": "Adam", "lr": 1e-3}
SEED = 0
N_BATCHES = 8  # consecutive training batches handed out as "batches"
N_TRAIN_POOL = 8192  # stand-in training images (MNIST: 60,000)
N_VALID_POOL = N_VALID_EXAMPLES


class _FixedTrial:
    """The ``trial.suggest_*`` calls of ``define_model`` / ``objective`` answered from ``TRIAL_PARAMS``."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def suggest_int(self, name: str, low: int, high: int) -> int:
        v = int(self.params[name])
        assert low <= v <= high, name
        return v

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        v = float(self.params[name])
        assert low <= v <= high, name
        return v

    def suggest_categorical(self, name: str, choices: list[str]) -> str:
        v = self.params[name]
        assert v in choices, name
        return v


def _digit_images(idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST-like float32 (n, 784) images in [0, 1] (``transforms.ToTensor()`` then ``data.view(B, -1)``):
    scikit-learn's 8x8 digits (0..16) blown up 3x3 to 24x24, scaled to 0..255, placed at a random offset of 0..4
    pixels in a 28x28 frame, a little pixel noise, clipped and quantised to uint8 like MNIST, then / 255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    big = np.kron(d.images[idx], np.ones((3, 3))) * (255.0 / 16.0)  # (n, 24, 24)
    out = np.zeros((len(idx), 28, 28))
    offs = rng.integers(0, 5, (len(idx), 2))
    for i, (r, c) in enumerate(offs):
        out[i, r:r + 24, c:c + 24] = big[i]
    out += rng.normal(0, 8.0, out.shape) * (out > 0)
    out = np.clip(out, 0, 255).astype(np.uint8)
    return (out.reshape(len(idx), 784) / 255.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, np.ndarray]:
    """Training pool from the first 1,400 digits, validation set from the other 397 (different images)."""
    from sklearn.datasets import load_digits

    target = load_digits().target
    rng = np.random.default_rng(SEED)
    tr_idx = rng.integers(0, 1400, N_TRAIN_POOL)
    va_idx = rng.integers(1400, len(target), N_VALID_POOL)
    return {"x_train": _digit_images(tr_idx, rng), "y_train": target[tr_idx].astype(np.int64),
            "x_valid": _digit_images(va_idx, rng), "y_valid": target[va_idx].astype(np.int64)}


def define_model(trial: Any) -> Any:  # examples/pytorch_simple.py
    import torch.nn as nn

    # We optimize the number of layers, hidden untis and dropout ratio in each layer.
    n_layers = trial.suggest_int("n_layers", 1, 3)
    layers = []

    in_features = 28 * 28
    for i in range(n_layers):
        out_features = trial.suggest_int("n_units_l{}".format(i), 4, 128)
        layers.append(nn.Linear(in_features, out_features))
        layers.append(nn.ReLU())
        p = trial.suggest_float("dropout_l{}".format(i), 0.2, 0.5)
        layers.append(nn.Dropout(p))

        in_features = out_features
    layers.append(nn.Linear(in_features, CLASSES))
    layers.append(nn.LogSoftmax(dim=1))

    return nn.Sequential(*layers)


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    import torch.optim as optim

    torch.manual_seed(SEED)
    trial = _FixedTrial(TRIAL_PARAMS)
    # Generate the model.
    model = define_model(trial)
    # Generate the optimizers.
    optimizer_name = trial.suggest_categorical("optimizer", ["Adam", "RMSprop", "SGD"])
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)

    def make_optimizer(params: Any) -> Any:  # getattr(optim, optimizer_name)(model.parameters(), lr=lr)
        return getattr(optim, optimizer_name)(params, lr=lr)

    d = _data()
    x_valid, y_valid = torch.from_numpy(d["x_valid"]), torch.from_numpy(d["y_valid"])

    def validate(model: Any) -> float:  # the "Validation of the model." block at the end of every epoch
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, N_VALID_EXAMPLES, BATCHSIZE):
                data, target = x_valid[start:start + BATCHSIZE], y_valid[start:start + BATCHSIZE]
                output = model(data)
                # Get the index of the max log-probability.
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        return correct / N_VALID_EXAMPLES  # trial.report(accuracy, epoch); no pruning with a single trial

    def loss_fn(output: Any, target: Any) -> Any:
        return F.nll_loss(output, target)

    def train_step(model: Any, optimizer: Any, loss_fn: Any, data: Any, target: Any) -> Any:
        """One iteration of objective()'s training loop. The iteration count lives on the optimizer; every
        EPOCH_LEN (30) iterations an epoch ends with the validation pass, which calls model.eval()."""
        iteration = getattr(optimizer, "iteration", 0)
        if iteration % EPOCH_LEN == 0:
            if iteration == 0 or fixed:
                model.train()  # buggy: 'model.train()' once, before 'for epoch in range(EPOCHS)'; fixed: each epoch
        optimizer.zero_grad()
        output = model(data)
        loss = loss_fn(output, target)
        loss.backward()
        optimizer.step()
        optimizer.iteration = iteration + 1
        if (iteration + 1) % EPOCH_LEN == 0:
            optimizer.last_accuracy = validate(model)  # leaves the model in eval mode
        return loss

    xt, yt = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
    order = torch.from_numpy(np.random.default_rng(SEED + 1).permutation(len(xt)))  # DataLoader(shuffle=True)
    batches = [(xt[order[i:i + BATCHSIZE]], yt[order[i:i + BATCHSIZE]])
               for i in range(0, N_BATCHES * BATCHSIZE, BATCHSIZE)]
    model.train()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_valid[:256],
            "loss_fn": loss_fn, "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
