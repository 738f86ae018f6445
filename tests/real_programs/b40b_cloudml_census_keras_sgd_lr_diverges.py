"""GoogleCloudPlatform/cloudml-samples, ``census/keras/trainer/model.py`` (+ ``task.py``): the Keras census
income sample (UCI Adult, ``income_bracket`` ' <=50K' / ' >50K'). ``generator_input`` reads the CSV with
pandas, one-hot encodes the categorical columns with ``pd.get_dummies(..., drop_first=True)``, keeps the raw
continuous columns (age, education_num, capital_gain, capital_loss, hours_per_week; no scaling), takes the
labels as ``pd.get_dummies(income_bracket)`` (two columns) and yields ONE row per step
(``yield (input_data.iloc[[index]], label.iloc[[index]])``); ``task.py`` builds
``model.model_fn(INPUT_SIZE=55, CLASS_SIZE=2)`` and runs ``fit_generator``. The model at the buggy commit::

    def model_fn(input_dim, labels_dim, hidden_units=[100, 70, 50, 20], learning_rate=0.1):
      model = models.Sequential()
      for units in hidden_units:
        model.add(layers.Dense(units=units, input_dim=input_dim, activation=relu))
        input_dim = units
      model.add(layers.Dense(labels_dim, activation=softmax))
      compile_model(model, learning_rate)
      return model

    def compile_model(model, learning_rate):
      model.compile(loss='categorical_crossentropy',
                    optimizer=keras.optimizers.SGD(lr=learning_rate), metrics=['accuracy'])

The fault: plain SGD at lr 0.1 (``model_fn``'s default, which ``task.py`` does not override) on one raw,
unscaled row a step. capital_gain reaches 99,999 and age/hours are in the tens, so the first update is
enormous: the loss blows up to 1e7..1e21 within two or three steps and then the weights are NaN (or, when
they stay finite, every ReLU is dead and the model outputs one constant class). The author's own diagnosis
in the fix commit: "SGD seems to get stuck". Fix (4e28fab): ``learning_rate=0.001`` and
``keras.optimizers.RMSprop(lr=learning_rate)``; nothing else changed (the inputs stay unscaled, so the fixed
program still trains noisily, but it trains).

Source: github.com/GoogleCloudPlatform/cloudml-samples commit 4e28fab9e3b08e53803d541ea1bf09bf64511e6e
"Use RMSprop optimizer (SGD seems to get stuck - due to classes imbalance?)" (RemiTurpaud, merged in PR
#127, census-keras-input_gen, merge e66d375). Buggy file: ``census/keras/trainer/model.py`` at 4e28fab^ =
42e5492accdc2b196d2b883214ee2b31b91c334a (the commit just before, which switched the head to softmax);
``census/keras/trainer/task.py`` at the same commit (INPUT_SIZE = 55, CLASS_SIZE = 2).
Fault label: lr_too_high (SGD lr 0.1 diverges on this data/batch size).

Program lines kept: hidden_units [100, 70, 50, 20] with ReLU, Dense(2, softmax), categorical_crossentropy
on two-column one-hot labels, SGD(lr=0.1) buggy / RMSprop(lr=0.001) fixed, one row per training step, 55
input columns in pandas' order (the five raw continuous columns first, then the drop_first dummies).
Ported minimally: ``lr=`` -> ``learning_rate=`` and ``keras.Input`` instead of ``input_dim=`` (Keras 3);
fit_generator / ContinuousEval / checkpoints / SavedModel export left out.
Torch twin (same fault): the same Linear(55,100)-ReLU-...-Linear(20,2) stack initialised like Keras
(glorot_uniform kernels, zero biases, ``_nets.torch_dense``) returning logits under
``nn.CrossEntropyLoss()`` (the torch idiom for softmax + categorical cross-entropy; Keras 3 also computes
this loss from the logits of a softmax layer), ``optim.SGD(lr=0.1)`` buggy / ``optim.RMSprop(lr=1e-3,
alpha=0.9, eps=1e-7)`` (Keras' RMSprop rho/epsilon) fixed; labels as class indices.
Data stand-in (no download of adult.data): ``_census_like`` below, seeded, 2,000 rows of 55 float32
columns with the census value ranges: age 17..90, education_num 1..16, capital_gain 0 for ~92% of rows
and otherwise one of the common census values 2174..99999, capital_loss 0 or 155..4356, hours_per_week
around 40 (1..99), then 50 one-hot dummy columns (education 15, marital_status 6, relationship 5,
workclass 7, occupation 13, gender 1, race 3). Labels ~30% ' >50K' from a logistic rule on education,
age, hours, being married and capital_gain > 5000, so there is real signal to learn. ``batches`` are the
program's single-row steps (the first 600 rows); ``batch`` is the first 32 rows; ``inputs`` 256 rows.

Measured (my own plain loop, seed 0, OMP_NUM_THREADS=1; torch ``zero_grad/backward/step``, Keras
``train_on_batch``; one row a step over the first 600 rows; "eval" = loss over all 2,000 rows):
- torch: eval loss at init 35.8 (raw inputs, both variants). Buggy: 106.2 after step 1, NaN from step
  <= 10 on (weights NaN, argmax all class 0). Fixed: eval 36.0 (step 1) -> 6.95 (10) -> 12.7 (50) -> 2.58
  (100) -> 2.44 (300) -> 2.07 (600), accuracy ~0.71, predictions vary (std of P(>50K) ~0.25).
- Keras: eval at init 4.62. Buggy: 570 after step 1, NaN from step <= 10 on. Fixed: 11.4 -> 8.70 (10) ->
  12.1 (100) -> 4.37 (300) -> 2.39 (600), finite throughout.
- Loss of the row being stepped on (the module's ``batches``): torch buggy 0.647 -> 1261 (step 2) -> NaN
  (step 10 and every step after); Keras buggy 0.992 -> 5880 -> NaN (step 10 on). Fixed: finite at every
  one of the 600 steps in both (torch mean of the last 100 single-row losses 5.5, noisy on raw inputs).
- One 32-row batch, repeated: torch buggy 57.0 -> 8.5e7 -> 1.5e16 -> 6.4e21 (step 4) -> 0.603 (10) ->
  0.562 from then on (every ReLU dead, constant output = the label mix); fixed 57.0 -> 6.58 -> 0.495
  (50) -> 1.88 (200), noisy. Keras buggy 5.04 -> 1.5e7 -> 1.8e8 -> NaN (step 6 on); fixed 5.04 -> 96.6
  -> 1.84 -> 2.30 (10) -> 1.74 (100) -> 0.67 (300) -> 0.34 (500).
A step takes < 1 ms (torch) / a few ms (Keras) on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_high"
SOURCE = ("github:GoogleCloudPlatform/cloudml-samples census/keras/trainer/model.py + task.py@42e5492 "
          "(model_fn learning_rate=0.1, keras.optimizers.SGD; fix 4e28fab9e3b08e53803d541ea1bf09bf64511e6e "
          "'Use RMSprop optimizer (SGD seems to get stuck ...)', RMSprop(lr=0.001), PR #127)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

INPUT_SIZE = 55  # task.py
CLASS_SIZE = 2  # task.py
hidden_units = [100, 70, 50, 20]  # model.py model_fn default
N_ROWS = 2000
N_STEPS = 600


def _census_like(n: int = N_ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw (unscaled) census-shaped features, 55 float32 columns, and int64 labels (1 = ' >50K')."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 91, n).astype("float64")
    education_num = rng.integers(1, 17, n).astype("float64")
    capital_gain = np.where(rng.random(n) < 0.08,
                            rng.choice([2174., 3103., 5178., 7688., 15024., 99999.], n,
                                       p=[.2, .2, .2, .2, .15, .05]), 0.)
    capital_loss = np.where(rng.random(n) < 0.05, rng.integers(155, 4357, n).astype("float64"), 0.)
    hours_per_week = np.clip(rng.normal(40, 12, n).round(), 1, 99)
    # drop_first dummies: education, marital_status, relationship, workclass, occupation, gender, race
    groups = [15, 6, 5, 7, 13, 1, 3]
    dummies, codes = [], []
    for g in groups:
        k = rng.integers(0, g + 1, n)
        codes.append(k)
        d = np.zeros((n, g))
        m = k > 0
        d[np.flatnonzero(m), k[m] - 1] = 1.
        dummies.append(d)
    married = (codes[1] == 1).astype("float64")
    logit = (-1.6 + 0.35 * (education_num - 10) + 0.04 * (age - 38) + 0.04 * (hours_per_week - 40)
             + 1.6 * married + 3.0 * (capital_gain > 5000) - 0.5 * codes[5])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    cont = np.stack([age, education_num, capital_gain, capital_loss, hours_per_week], 1)
    x = np.concatenate([cont] + dummies, 1).astype("float32")
    assert x.shape[1] == INPUT_SIZE
    return x, y


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    input_dim = INPUT_SIZE
    for units in hidden_units:
        layers += [torch_dense(input_dim, units), nn.ReLU()]
        input_dim = units
    layers.append(torch_dense(input_dim, CLASS_SIZE))  # softmax folded into CrossEntropyLoss
    model = nn.Sequential(*layers)
    x, y = _census_like()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def optimizer(p):
        if fixed:  # 4e28fab: RMSprop(lr=0.001)
            return optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)
        return optim.SGD(p, lr=0.1)  # model_fn(learning_rate=0.1), keras.optimizers.SGD

    return {"model": model, "batch": (xt[:32], yt[:32]),
            "batches": [(xt[i:i + 1], yt[i:i + 1]) for i in range(N_STEPS)],
            "inputs": xt[:256], "loss_fn": nn.CrossEntropyLoss(), "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, models

    keras.utils.set_random_seed(0)
    model = models.Sequential()
    model.add(keras.Input((INPUT_SIZE,)))
    for units in hidden_units:
        model.add(layers.Dense(units=units, activation="relu"))
    model.add(layers.Dense(CLASS_SIZE, activation="softmax"))
    if fixed:  # 4e28fab
        opt = keras.optimizers.RMSprop(learning_rate=0.001)
    else:
        opt = keras.optimizers.SGD(learning_rate=0.1)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    x, y = _census_like()
    yh = np.eye(CLASS_SIZE, dtype="float32")[y]  # pd.get_dummies(income_bracket)
    return {"model": model, "batch": (x[:32], yh[:32]),
            "batches": [(x[i:i + 1], yh[i:i + 1]) for i in range(N_STEPS)], "inputs": x[:256]}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
