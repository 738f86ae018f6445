"""torch/demos (the Torch7 team's demo scripts), ``logistic-regression/example-logistic-regression.lua``: a
multinomial logistic regression of brand choice (3 brands) on two inputs, ``female`` (0/1) and ``age`` (integer
years, 24..38), from the UCLA R tutorial's 735-row table. The model is ``nn.Linear(2,3)`` followed by
``nn.LogSoftMax()`` in an ``nn.Sequential``, the loss ``nn.ClassNLLCriterion()``, and it is trained with
``optim.sgd`` one sample at a time, in the order of the CSV file (which is sorted by age), with ``sgd_params =
{learningRate = 1e-3, learningRateDecay = 1e-4, weightDecay = 0, momentum = 0}`` for ``epochs = 1e2`` passes.

The fault (input preprocessing): the raw columns are copied into the input tensor as they are
(``dataset_inputs[{ {},1 }] = females``, ``dataset_inputs[{ {},2 }] = ages``), so one input is 0/1 and the other
sits around 33 with a spread of only ~2.3 years. The loss surface is then stretched by a factor of several hundred
between the age direction and the bias / female directions: a step size small enough for the age weight barely
moves the biases, while the text's solution needs biases near -11.8 and -22.7 (the age effect is all in the
offset from the mean age). Per-sample SGD with lr 1e-3 swings on the age weight and crawls on the rest, so the
fitted model predicts the brands badly.

Source: github.com/torch/demos ``logistic-regression/example-logistic-regression.lua`` at master
ef43a1c8d04dc3d11794d9c2c9f3a050d5e1e4bd (the file as of 6f476f6 "changed to the more recent csvigo package");
fix: pull request #6 by rlowrance "scale data and externalize potentially useful functions" (head 9e6b2ba; the
scaling commit e8a1c9903867f609396deb3ea9a56887b0fcc866 "center data, externalize reusable code" and
cd5da2e3a77c3c19983e9e960ab8bad6ce8b77a3 "new: standardize vector"). The PR text, in short: the SGD example gave
terrible prediction accuracy because the two inputs live on very different scales (age averages about 31,
is-female about 0.5), so SGD needed a tiny step and many iterations; the rewrite standardises the inputs. Its
section "6. Scaling the data" says the same and replaces every input column x by (x - mean) / standard_deviation
(``standardize.lua``: population mean and standard deviation of the training column), for age and, "for
consistency", for is-female too, keeping ``sgd_params`` unchanged. The PR was reviewed favourably by the
maintainers in 2015 but left unmerged; the fix is the PR's.
Fault label: inputs_not_normalized (one raw input column is ~33 +- 2.3 next to a 0/1 column; no standardisation).

Program lines kept: the model (Linear(2, 3) + LogSoftMax, torch7's Linear init = uniform(+-1/sqrt(2)) for weight
and bias, which is also PyTorch's default), ``ClassNLLCriterion`` (``nn.NLLLoss()``), the input column order
(female, age), one sample per step in file order, and optim.sgd with learningRate 1e-3 and learningRateDecay 1e-4
(torch7's ``clr = lr / (1 + nevals * lrd)``; written here as a ``torch.optim.SGD`` subclass whose ``step`` sets
that rate first, so the training step stays plain). The fixed version only standardises both columns with the
training columns' population mean / std, as ``standardize.lua`` does. Lua's brands 1..3 become class ids 0..2.
Keras twin: ``Dense(3, activation="softmax")`` (same uniform init) with ``sparse_categorical_crossentropy`` and
``SGD(InverseTimeDecay(1e-3, decay_steps=1, decay_rate=1e-4))`` (the same per-step rate), batch size 1, float32.
A linear softmax layer trained by SGD has nothing framework-specific, so the twin is faithful.
Batch size: the program's batch is ONE sample (``feval`` picks ``dataset_inputs[_nidx_]``), so ``batch`` is one
(1, 2) row and ``batches`` are 100 single rows; they are every 7th row of the training table, in file order
(ascending age), so they span one epoch the way the program walks it. ``baseline_batch``: 256 training rows (the
check needs >= 64). ``inputs``: 256 held-out rows.
Data stand-in (no CSV read at run time): 735 rows like the file: ages drawn from the file's own age histogram
(24: 1, 26: 2, 27: 9, 28: 15, 29: 19, 30: 23, 31: 40, 32: 333, 33: 55, 34: 64, 35: 35, 36: 85, 37: 22, 38: 32),
female ~ Bernoulli(0.634) (the file's share), brand drawn from the R fit that the program itself prints as the
reference ("text") model: logit2 = -11.774655 + 0.523814 female + 0.368206 age, logit3 = -22.721396 + 0.465941
female + 0.685908 age, logit1 = 0; the rows sorted by age (stable), as in the file. Float64 as in torch7's default
tensor type. Held-out rows: a second draw of the same generator. Nothing was shrunk (the model is 9 parameters).

Measured (my own plain loop, /tmp/s56/p/b95d/measure.py, OMP_NUM_THREADS=1, torch seed 0, the module's builds:
per-sample SGD over the 735 rows in file order, the program's 100 epochs = 73,500 steps):
  reference: the R fit the program quotes scores loss 0.982 / accuracy 0.514 on the stand-in table (majority class
    0.408); on the real CSV (read once from the repository for comparison only) 0.956 / 0.552 (majority 0.418).
  buggy: full-table loss at init 14.09 (accuracy 0.29; the raw age of ~33 times init weights of up to 0.7 gives
    logits of +-20); epoch-mean running SGD loss at epochs 1/2/5/10/25/50/100: 1.469 1.191 1.152 1.113 1.065 1.043
    1.038; after 100 epochs the full-table loss is 1.319 and the accuracy 0.301 (below the 0.408 majority class;
    held-out 256 rows: 1.280 / 0.305). The age weights stay at ~0.02-0.05 and the biases at 0.02 / 0.57 / -0.11:
    the intercepts the age effect needs are never reached. (The running loss is lower than the full-table loss
    because the file order lets the model chase the current age group.)
  fixed: init 1.260 (accuracy 0.33); epoch means 1.210 1.134 1.034 0.995 0.981 0.979 0.978; after 100 epochs
    full-table loss 0.978, accuracy 0.512 (= the R fit; held-out 0.974 / 0.500), age weights -0.72 / 0.11 / 0.66.
  The same loop on the real CSV: buggy 1.452 / 0.301, fixed 0.957 / 0.548: the stand-in reproduces it.
  Keras twin (fit(batch_size=1, shuffle=False), 10 epochs, float32): buggy init 10.65, epoch means 1.363 / 1.189 /
    1.150 / 1.111 at epochs 1/2/5/10, then table loss 1.355 accuracy 0.301 (held-out 1.309 / 0.305); fixed init
    1.233, 1.188 / 1.122 / 1.035 / 0.998, table 0.996 / 0.493 (held-out 0.993 / 0.508). Torch after 10 epochs:
    buggy 1.344 / 0.305, fixed 0.994 / 0.509.
  On the module's pieces (torch, /tmp/s56/p/b95d/measure2.py): one pass over the 100 single-row ``batches``:
    buggy mean loss over steps 0-19 / 40-59 / 80-99 = 9.11 / 1.43 / 1.40 (max 24.3: it falls fast from the huge
    initial loss), fixed 1.32 / 0.97 / 1.21 (max 3.56: lr 1e-3 on single rows barely moves a well-scaled model);
    the one-row ``batch`` (age 24, brand 1) repeated 200 steps: buggy 0.008 -> 0.003 (already fitted at init),
    fixed 3.56 -> 0.51; init loss on ``baseline_batch``: buggy 14.65, fixed 1.26 (ln 3 = 1.10). Inputs: buggy
    columns mean (0.64, 32.98), std (0.48, 2.34), max 38; fixed mean 0, std ~1, max |x| 2.5. So over a short
    run the buggy program's loss falls MORE than the fixed one's (from its inflated start); the damage shows in the
    initial loss, the raw input scale and the end result after the full 73,500 steps.
  Time: ~0.25 ms per single-row step (torch, one thread); build ~0.01 s torch, ~0.1 s Keras after imports.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:torch/demos PR #6 'scale data and externalize potentially useful functions' "
          "(logistic-regression/example-logistic-regression.lua@ef43a1c8d04dc3d11794d9c2c9f3a050d5e1e4bd, "
          "raw female/age columns; fix in the PR head 9e6b2bad5e166222bd1f631f5b6ec3e2fd4da407: e8a1c99 "
          "'center data, externalize reusable code' + cd5da2e 'new: standardize vector', (x - mean) / std)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("init_loss", {"num_classes": 3}), ("loss_decreases", {}),
          ("overfit_one_batch", {}), ("input_independent_baseline", {})]

BATCH_SIZE = 1  # optim.sgd on one sample per feval
LR = 1e-3
LR_DECAY = 1e-4
N_ROWS = 735
N_INPUTS = 256
N_BATCHES = 100
SEED = 0
AGE_COUNTS = {24: 1, 26: 2, 27: 9, 28: 15, 29: 19, 30: 23, 31: 40, 32: 333, 33: 55, 34: 64, 35: 35, 36: 85,
              37: 22, 38: 32}
FEMALE_SHARE = 0.634


def _draw(r: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of (female, age, brand 0..2) from the file's marginals and the R fit the program quotes."""
    ages_all = np.array([a for a, c in AGE_COUNTS.items() for _ in range(c)], "float64")
    age = r.choice(ages_all, n)
    female = (r.random(n) < FEMALE_SHARE).astype("float64")
    logits = np.stack([np.zeros(n), -11.774655 + 0.523814 * female + 0.368206 * age,
                       -22.721396 + 0.465941 * female + 0.685908 * age], 1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    brand = (r.random(n)[:, None] > np.cumsum(p, 1)).sum(1).clip(0, 2)
    return female, age, brand.astype("int64")


@functools.lru_cache(maxsize=2)
def _data(standardize: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training table in file order (sorted by age), its targets, held-out inputs; standardised if the fix."""
    r = np.random.default_rng(SEED)
    female, age, brand = _draw(r, N_ROWS)
    order = np.argsort(age, kind="stable")  # the CSV is sorted by age
    female, age, brand = female[order], age[order], brand[order]
    hf, ha, _ = _draw(r, N_INPUTS)
    x = np.stack([female, age], 1)  # dataset_inputs[{ {},1 }] = females; dataset_inputs[{ {},2 }] = ages
    xh = np.stack([hf, ha], 1)
    if standardize:  # the fix (PR #6, standardize.lua): (x - mean) / std with the training column's statistics
        mean, std = x.mean(0), x.std(0)
        x, xh = (x - mean) / std, (xh - mean) / std
    return x, brand, xh


def _pieces() -> tuple[list[int], np.ndarray]:
    idx = list(range(0, N_ROWS, 7))[:N_BATCHES]  # every 7th row, file order
    base = np.random.default_rng(SEED + 1).choice(N_ROWS, 256, replace=False)
    return idx, base


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class Torch7SGD(torch.optim.SGD):
        """optim.sgd with learningRateDecay: clr = learningRate / (1 + nevals * learningRateDecay)."""

        def __init__(self, params, learningRate, learningRateDecay):
            super().__init__(params, lr=learningRate, momentum=0, weight_decay=0)
            self.lr0, self.lrd, self.nevals = learningRate, learningRateDecay, 0

        def step(self, closure=None):
            for g in self.param_groups:
                g["lr"] = self.lr0 / (1 + self.nevals * self.lrd)
            out = super().step(closure)
            self.nevals += 1
            return out

    torch.manual_seed(SEED)
    linLayer = nn.Linear(2, 3).double()
    softMaxLayer = nn.LogSoftmax(dim=-1)
    model = nn.Sequential()
    model.add_module("0", linLayer)
    model.add_module("1", softMaxLayer)
    criterion = nn.NLLLoss()
    optimizer = Torch7SGD(model.parameters(), learningRate=LR, learningRateDecay=LR_DECAY)

    x, y, xh = _data(fixed)
    xt, yt = torch.tensor(x), torch.tensor(y)
    idx, base = _pieces()
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in idx]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": criterion, "optimizer": optimizer, "baseline_batch": (xt[base], yt[base])}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    stdv = 1.0 / np.sqrt(2.0)  # torch7 nn.Linear:reset(): uniform(-1/sqrt(inputSize), 1/sqrt(inputSize))
    init = keras.initializers.RandomUniform(-stdv, stdv, seed=SEED)
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(3, activation="softmax", kernel_initializer=init,
                                                 bias_initializer=keras.initializers.RandomUniform(-stdv, stdv,
                                                                                                   seed=SEED + 1))])
    lr = keras.optimizers.schedules.InverseTimeDecay(LR, decay_steps=1, decay_rate=LR_DECAY)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y, xh = _data(fixed)
    x, xh = x.astype("float32"), xh.astype("float32")
    idx, base = _pieces()
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in idx]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xh,
            "baseline_batch": (x[base], y[base])}


def buggy(framework: str) -> dict[str, Any]:
    return {"torch": _torch, "keras": _keras}[framework](False)


def fixed(framework: str) -> dict[str, Any]:
    return {"torch": _torch, "keras": _keras}[framework](True)
