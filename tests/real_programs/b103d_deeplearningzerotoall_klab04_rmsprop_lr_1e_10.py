"""hunkim/DeepLearningZeroToAll (the code of Sung Kim's "Deep Learning Zero to All" lectures), Keras lab 4-1
``keras/klab-04-1-multi_input_linear_regression.py``: linear regression of a final exam score on three quiz scores.
Five students (``x_data`` 5 x 3 scores in 66..100, ``y_data`` 5 x 1 finals in 142..196), ``Sequential()`` with
``Dense(input_dim=3, units=1)`` and ``Activation('linear')``, ``rmsprop = RMSprop(lr=1e-10)``,
``model.compile(loss='mse', optimizer=rmsprop)``, ``model.fit(x_data, y_data, epochs=1000)`` (the default batch
size 32 takes all five rows: one full-batch step an epoch), then a prediction for ``[[95., 100., 80]]``.

The fault: the optimizer's learning rate is 1e-10. RMSprop moves each weight by about lr / sqrt(1 - rho) in its first
steps and by about lr per step once its square-gradient average has settled, whatever the size of the gradient;
at 1e-10 a thousand steps move a weight by ~1e-7, while the weights have to travel ~0.5-1 from their Glorot draw.
The model's output stays where the initialisation put it and the MSE stays at its initial value (tens of
thousands here) for the whole run. How it came in: the file first had ``model.compile(loss='mse',
optimizer='rmsprop', lr=1e-10)``; Keras 2.0 did not use the stray ``lr`` keyword (it only warned, as PR #133's
title says), so those runs trained with RMSprop's default rate 0.001. Commit 85b8d20 (PR #133, "remove
UserWarning(remove learning rate from compile())", "Explicitly define an optimizer") moved the value into
``RMSprop(lr=1e-10)``, where it does take effect, and from then on the lab could not learn. It was fixed in
b5c4c9e2342e4e300a88e68b7c4ef2a8f4f60986 (PR #259, "updated keras models"), which sets ``rmsprop =
RMSprop(lr=0.1)`` (and, apart from the fix, turns the lists into numpy arrays, prints their shapes and adds
``metrics=['accuracy']``).

Source: github.com/hunkim/DeepLearningZeroToAll ``keras/klab-04-1-multi_input_linear_regression.py`` at
5795f794031061870291c81257605d34aecd4d1b (= b5c4c9e^; the file as 85b8d20 left it, moved from ``Keras/`` to
``keras/`` by PR #188, 8abe986); fault introduced by 85b8d20cc6086fe4d72f7093947f108498002d9d (PR #133); fixed by
b5c4c9e2342e4e300a88e68b7c4ef2a8f4f60986 (PR #259): ``RMSprop(lr=1e-10)`` -> ``RMSprop(lr=0.1)``.
Fault label: lr_too_low (RMSprop's learning rate 1e-10, about 1e9 times too small: the weights do not move).

Program lines kept: ``Dense(input_dim=3, units=1)`` + ``Activation('linear')`` (Keras' Glorot-uniform kernel, zero
bias), loss ``'mse'``, RMSprop with the program's rate (buggy 1e-10, fixed 0.1) and Keras' defaults otherwise, the
five students of ``x_data`` / ``y_data`` verbatim as ``batch`` (one step of the program = one step on them).
Ported: Keras 2 -> Keras 3: ``RMSprop(lr=...)`` is written ``RMSprop(learning_rate=...)`` (Keras 3 rejects ``lr``;
the repository made the same rename in its tf2/ labs, 1ce65b6 "Change parameter `lr` to `learning_rate`"), and
``input_dim=3`` becomes an ``Input(shape=(3,))``. Keras 3's RMSprop defaults (rho 0.9, epsilon 1e-7, no momentum)
are those of Keras 2 but for epsilon (1e-8 in Keras 2.0), which does not matter at these gradient sizes. The fix's
extras (``metrics=['accuracy']``, the prints) are left out: buggy and fixed differ only by the learning rate.
Torch twin: ``nn.Linear(3, 1)`` with Keras' init (Glorot-uniform weight, zero bias), identity activation,
``nn.MSELoss()``, ``torch.optim.RMSprop(lr=1e-10 | 0.1, alpha=0.9, eps=1e-7)`` (Keras' rho and epsilon; both
libraries divide by sqrt(v) + eps).
Data stand-in: ``batch`` is the program's own five rows. For more students (``batches``, ``inputs``,
``baseline_batch``) I fitted the repository's ``data-01-test-score.csv`` (25 students, the file later labs read:
quiz means 79 / 79.5 / 81.5, pairwise correlations 0.86-0.91, final ~ 0.356 q1 + 0.543 q2 + 1.167 q3 - 4.3,
residual sd 2.4) and draw quizzes from that Gaussian, rounded and clipped to 40..100, finals from that linear
rule plus N(0, 2.4) noise, rounded, float32, y of shape (n, 1) as ``y_data``. So the inputs determine the targets
up to the noise, with the program's raw (unscaled) value ranges. ``batches``: 20 distinct classes of 5 students;
``inputs``: 128 held-out students; ``baseline_batch``: 64 other students. Nothing was shrunk.

Measured (my own plain loop, /tmp/s59/p/b103d/measure.py, on the module's builds, OMP_NUM_THREADS=1, seed 0;
Keras ``train_on_batch``, torch zero_grad / forward / MSE / backward / step; MSE from the model's outputs):
  the program's run, 1000 full-batch steps on the five rows, MSE after 0 / 1 / 3 / 10 / 30 / 100 / 300 / 1000 steps:
    Keras buggy  18811.6 at every one of them (max |weight change| over the run 1e-7)
    Keras fixed  18811.6 3091.7 91.4 2.1 2.1 170.8 168.0 167.5 (lowest 2.1 at step 38; mean of the last 100: 167.5)
    torch buggy  34820.0 at every one of them (max |weight change| 1e-7)
    torch fixed  34820.0 11037.4 1469.9 10.4 10.0 229.7 171.6 167.5 (lowest 9.4 at step 49; last 100: 167.7)
  (the initial MSE differs between the frameworks only because their seeded Glorot draws differ.) Prediction for
  [[95, 100, 80]] after the run: Keras buggy 23.3, fixed 158.5; torch buggy -13.9, fixed 168.7 (the 25-student fit
  says 181).
  the module's 20 batches cycled for 1000 steps, MSE on the 64 held-out ``baseline_batch`` students after
  0 / 10 / 100 / 1000 steps: Keras buggy 17581.7 throughout, fixed 17581.7 / 11.4 / 150.7 / 130.8; torch buggy
  32653.5 throughout, fixed 32653.5 / 15.0 / 11.3 / 105.2 (the stand-in's noise floor is 2.4^2 = 5.8).
  So the buggy program does not learn at all: loss and weights stay at their initial values (weights within 1e-7),
  while the fixed rate brings the loss from 1e4 to the noise level within ~10 steps. With the fixed rate the loss
  then climbs back to ~100-170 and hovers there: RMSprop's steps stay ~0.1 in size near the minimum and, on the
  raw quiz scores (~90), that jitter moves the output by ~10-25 points; still 100x below the buggy loss.
  Time per step (one thread): Keras ``train_on_batch`` ~3 ms, torch ~0.5-0.7 ms; the first Keras build (TensorFlow
  import) ~10 s, later builds ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "lr_too_low"
SOURCE = ("github:hunkim/DeepLearningZeroToAll keras/klab-04-1-multi_input_linear_regression.py@"
          "5795f794031061870291c81257605d34aecd4d1b = b5c4c9e^ ('rmsprop = RMSprop(lr=1e-10)', made effective by "
          "85b8d20cc6086fe4d72f7093947f108498002d9d, PR #133 'remove UserWarning(remove learning rate from "
          "compile())'); fix b5c4c9e2342e4e300a88e68b7c4ef2a8f4f60986, PR #259 'updated keras models': "
          "RMSprop(lr=0.1)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {"task": "regression"}), ("loss_decreases", {"task": "regression"}),
          ("gradients_flow", {}), ("input_independent_baseline", {"task": "regression"})]

LR_BUGGY = 1e-10  # rmsprop = RMSprop(lr=1e-10)
LR_FIXED = 0.1  # rmsprop = RMSprop(lr=0.1)
RHO, EPSILON = 0.9, 1e-7  # Keras' RMSprop defaults
BATCH_SIZE = 5  # fit's default batch_size=32 over the program's five rows: one batch of 5
N_BATCHES = 20
N_INPUTS = 128
N_BASELINE = 64
SEED = 0

# klab-04-1: x_data / y_data
X_DATA = [[73., 80., 75.],
          [93., 88., 93.],
          [89., 91., 90.],
          [96., 98., 100.],
          [73., 66., 70.]]
Y_DATA = [[152.],
          [185.],
          [180.],
          [196.],
          [142.]]

# fitted to the repository's data-01-test-score.csv (25 students)
QUIZ_MEAN = [79.0, 79.5, 81.5]
QUIZ_COV = [[150.8, 138.4, 129.0],
            [138.4, 156.3, 124.5],
            [129.0, 124.5, 138.4]]
FINAL_COEF = [0.356, 0.543, 1.167]
FINAL_BIAS = -4.336
FINAL_NOISE = 2.4


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS + N_BASELINE
    x = np.clip(np.round(r.multivariate_normal(QUIZ_MEAN, QUIZ_COV, n)), 40, 100)
    y = np.round(x @ np.array(FINAL_COEF) + FINAL_BIAS + r.normal(0, FINAL_NOISE, n))[:, None]
    x, y = x.astype("float32"), y.astype("float32")
    nb = N_BATCHES * BATCH_SIZE
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, nb, BATCH_SIZE)]
    return {"batch": (np.array(X_DATA, "float32"), np.array(Y_DATA, "float32")), "batches": batches,
            "inputs": x[nb:nb + N_INPUTS], "baseline_batch": (x[nb + N_INPUTS:], y[nb + N_INPUTS:])}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)
    model = nn.Sequential(torch_dense(3, 1), nn.Identity())  # Dense(input_dim=3, units=1), Activation('linear')
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR_FIXED if fixed else LR_BUGGY, alpha=RHO, eps=EPSILON)
    mse = nn.MSELoss()

    def loss_fn(out: Any, y: Any) -> Any:  # loss='mse'
        return mse(out, y)

    d = _data()
    t = torch.from_numpy
    return {"model": model, "batch": tuple(t(a) for a in d["batch"]),
            "batches": [(t(a), t(b)) for a, b in d["batches"]], "inputs": t(d["inputs"]),
            "baseline_batch": tuple(t(a) for a in d["baseline_batch"]), "loss_fn": loss_fn, "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Activation, Dense, Input
    from keras.models import Sequential
    from keras.optimizers import RMSprop

    keras.utils.set_random_seed(SEED)
    model = Sequential()
    model.add(Input(shape=(3,)))
    model.add(Dense(units=1))
    model.add(Activation('linear'))

    rmsprop = RMSprop(learning_rate=LR_FIXED if fixed else LR_BUGGY)  # RMSprop(lr=0.1) / RMSprop(lr=1e-10)
    model.compile(loss='mse', optimizer=rmsprop)
    d = _data()
    return {"model": model, "batch": d["batch"], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
