"""TensorFlow Machine Learning Cookbook (nfmcclure/tensorflow_cookbook), chapter 6 recipe "Improving Linear Regression
with Neural Networks (Logistic Regression)" (``06_Neural_Networks/07_Improving_Linear_Regression/
07_improving_linear_regression.py`` and its notebook): a small TF1 network for the low-birth-weight data (Hosmer &
Lemeshow, 189 mothers; columns ``LOW AGE LWT RACE SMOKE PTL HT UI BWT``) that predicts ``LOW`` (birth weight under
2500 g, 0/1) from the 7 demographic / medical-history columns. ``y = sigmoid(A3 * sigmoid(A2 * sigmoid(A1 * x + b1) +
b2) + b3)``: 7 -> 14 (sigmoid) -> 5 (sigmoid) -> 1 logit, every weight and bias ``tf.Variable(tf.random_normal(shape))``
(stddev 1), loss ``tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=final_output, labels=y_target))``,
``tf.train.AdamOptimizer(learning_rate=0.002)``, ``batch_size = 90`` rows drawn with replacement from the 80 % training
split each generation (``np.random.choice(len(x_vals_train), size=batch_size)``), 1500 generations, features min-max
normalised per column (``normalize_cols``), ``seed = 99``.

The fault: commit 74d6941 ("fixed birthweight-url issues") moved the download from the UMass ``lowbwt.dat`` (columns
``ID LOW AGE LWT RACE SMOKE PTL HT UI FTV BWT``) to the cookbook's own ``birthweight.dat`` (``LOW AGE LWT RACE SMOKE PTL
HT UI BWT``: no ID column) but kept the column indices of the old file:

    # Pull out target variable
    y_vals = np.array([x[1] for x in birth_data])
    # Pull out predictor variables (not id, not target, and not birthweight)
    x_vals = np.array([x[2:9] for x in birth_data])

so the "target" became ``AGE`` (14..45 years) and the inputs ``LWT RACE SMOKE PTL HT UI BWT``. A sigmoid cross-entropy
with a label ``y`` far above 1 is ``softplus(z) - y * z``, which has no minimum: the network drives its logit up without
bound and the loss falls below zero and keeps falling (the issue reports ``Loss = -39.04`` after 150 generations,
``-79.6``, ``-117.9``, ... ``-351.3`` after 1500), while the 0/1 predictions never match an age (accuracy 0).
Also, the new file is written without its header line and then read with ``birth_header = next(csv_reader)``, so the
first mother is dropped (188 rows); kept.

Source: github.com/nfmcclure/tensorflow_cookbook issue #101 ("Confuse of The Result Of 06_Neural_Networks/
07_Improving_Linear_Regression/": negative and falling loss; diagnosis by T-rain: "the column of birth-weight data is
different ... I change the y target to x[0] and x_vals to x[1:8]"; the author answered on the issue). Buggy program:
``06_Neural_Networks/07_Improving_Linear_Regression/07_improving_linear_regression.py`` at
783c8dc76c8f6bb119f17929924c4db212269680 (= b1ae796^; the indices went stale in
74d69416f38e5c3f6e568d4cc3fa0b262420ebe6),
fixed in b1ae796b8c566a342e4b41f1ae90d90755fcec87 ("updated ch6"): ``y_vals = np.array([x[0] for x in birth_data])``,
``x_vals = np.array([x[1:8] for x in birth_data])`` (and the header row written to the cached CSV, so no row is lost).

Program lines kept: the column selection (buggy and fixed), the 80/20 split with ``np.random.seed(99)`` and
``np.random.choice``, ``normalize_cols`` + ``np.nan_to_num`` on the training split, the 7-14-5-1 sigmoid network with
``random_normal`` (stddev 1) weights and biases and a linear last layer, the mean sigmoid cross-entropy on logits, Adam
lr 0.002, batches of 90 rows drawn with replacement, targets as a column (``np.transpose([y])``).
Ported: TF1 graph/session -> Keras 3 ``Sequential`` (``Dense`` with ``RandomNormal(stddev=1.0)`` kernel and bias
initialisers, ``BinaryCrossentropy(from_logits=True)``, which is ``sigmoid_cross_entropy_with_logits`` averaged, and
which checks nothing about the labels; ``Adam(0.002, epsilon=1e-8)`` as TF1's AdamOptimizer). Torch twin: the same
layers with ``normal_(0, 1)`` weights and biases, ``nn.BCEWithLogitsLoss()`` (it too accepts any target value),
``Adam(lr=0.002)``. No size change. The accuracy op, the plots and the test-split evaluation (which, as written,
normalises the test split with its own min/max) are left out.
Data stand-in (no download): 189 seeded synthetic mothers with the file's columns and ranges (``birthweight.dat`` as
stored in the repository: LOW 0/1, mean 0.31; AGE 14..45, mean 23.2, sd 5.3; LWT 80..250 lb, mean 130, sd 29; RACE,
SMOKE, PTL, HT, UI recoded 0/1 with means 0.49, 0.39, 0.17, 0.08, 0.15; BWT 709..4990 g, mean 2945): BWT is a linear
function of the seven risk factors (lower for light, smoking, hypertensive mothers, with a previous premature labour or
uterine irritability, RACE = 1) plus Gaussian noise (sd 420 g), and ``LOW = BWT < 2500`` as in the study. Stand-in:
LOW mean 0.26, correlations with LOW -0.04 .. +0.34 (the real file: -0.19 .. +0.27); a min-max + logistic regression
reaches 0.78 five-fold accuracy against 0.74 for the majority class (weak, real signal like the real data). ``batch``
and ``batches`` are 6 draws of 90 training rows with replacement, as the loop draws them; ``inputs`` is the whole
normalised training split.
Fault label: labels_invalid (the binary cross-entropy's targets are ages, 14..45, not 0/1).
Fix (b1ae796): ``y = x[0]`` (LOW) and ``x = x[1:8]`` (AGE .. UI, no BWT).

Measured (my own loop, /tmp/h43b/measure.py: the program's loop, a fresh draw of 90 training rows each step
(``np.random.RandomState(1).choice``), weights seeded as in ``buggy``/``fixed``, OMP_NUM_THREADS=1; loss and
accuracy = ``round(sigmoid(logit)) == y`` on the whole training split; loss at init / after 150 / 750 / 1500 steps):
  keras buggy: -36.1, -115.9, -270.4, -439.2 (the issue: -39.0 after 150, -351.3 after 1500), accuracy 0.00 all along;
         the mean logit climbs 1.7 -> 5.3 -> 12.3 -> 19.9 without bound (each unit of logit is worth about -22 of loss
         at a mean label of 23);
        fixed: 1.46, 0.68, 0.45, 0.40; training accuracy 0.27 -> 0.57 -> 0.80 -> 0.84 (majority class 0.735).
  torch buggy: -52.5, -92.6, -249.2, -418.6 (accuracy 0.00; mean logit 2.4 -> 19.0); fixed: 1.82, 0.70, 0.49, 0.40
         (accuracy 0.83).
  One batch, 200 steps: buggy -136.5 (keras) / -107.7 (torch), still falling; fixed 0.63 / 0.61.
  The init losses of the buggy program are already negative (a logit of ~2 against labels of ~23), far from the
  log(2) = 0.69 of an untrained binary classifier; the fixed program starts at 1.5-1.8 (stddev-1 initial weights).
About 1-2 ms a step (torch and keras) on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_invalid"
SOURCE = ("github:nfmcclure/tensorflow_cookbook issue #101 (06_Neural_Networks/07_Improving_Linear_Regression/"
          "07_improving_linear_regression.py@783c8dc76c8f6bb119f17929924c4db212269680, y_vals = x[1] / x_vals = "
          "x[2:9] left from the old lowbwt.dat layout by 74d69416; fix b1ae796b8c566a342e4b41f1ae90d90755fcec87 "
          "'updated ch6': y = x[0], x = x[1:8])")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "logits"})]

seed = 99  # the program's np.random.seed / tf.set_random_seed
batch_size = 90
learning_rate = 0.002
n_batches = 6
WEIGHT_SEED = 0


def lowbwt_like(n: int = 189, rng_seed: int = 0) -> np.ndarray:
    """Rows ``LOW AGE LWT RACE SMOKE PTL HT UI BWT`` like the cookbook's ``birthweight.dat`` (float)."""
    rng = np.random.default_rng(rng_seed)
    age = np.clip(np.round(rng.gamma(17.6, 22.24 / 17.6, n) + 1.0), 14, 45)
    lwt = np.clip(np.round(rng.lognormal(np.log(127.0), 0.21, n)), 80, 250)
    race = (rng.random(n) < 0.49).astype(float)
    smoke = (rng.random(n) < 0.39).astype(float)
    ptl = (rng.random(n) < 0.17).astype(float)
    ht = (rng.random(n) < 0.08).astype(float)
    ui = (rng.random(n) < 0.15).astype(float)
    bwt = (3380 + 10 * (age - 23) + 6 * (lwt - 130) - 350 * race - 350 * smoke - 550 * ptl - 550 * ht - 500 * ui
           + rng.normal(0, 420, n))
    bwt = np.clip(np.round(bwt), 709, 4990)
    low = (bwt < 2500).astype(float)
    return np.stack([low, age, lwt, race, smoke, ptl, ht, ui, bwt], 1)


def _program_data(stale_columns: bool) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rows = lowbwt_like()
    if stale_columns:
        rows = rows[1:]  # header not written to birth_weight.csv, then skipped by next(csv_reader)
    birth_data = [list(r) for r in rows]
    if stale_columns:  # program lines (b1ae796^)
        y_vals = np.array([x[1] for x in birth_data])
        x_vals = np.array([x[2:9] for x in birth_data])
    else:  # fix (b1ae796)
        y_vals = np.array([x[0] for x in birth_data])
        x_vals = np.array([x[1:8] for x in birth_data])

    np.random.seed(seed)
    train_indices = np.random.choice(len(x_vals), round(len(x_vals) * 0.8), replace=False)
    x_vals_train = x_vals[train_indices]
    y_vals_train = y_vals[train_indices]

    def normalize_cols(m):  # program lines
        col_max = m.max(axis=0)
        col_min = m.min(axis=0)
        return (m - col_min) / (col_max - col_min)

    x_vals_train = np.nan_to_num(normalize_cols(x_vals_train))
    batches = []
    for _ in range(n_batches):  # the training loop's draws
        rand_index = np.random.choice(len(x_vals_train), size=batch_size)
        rand_x = x_vals_train[rand_index]
        rand_y = np.transpose([y_vals_train[rand_index]])
        batches.append((rand_x.astype("float32"), rand_y.astype("float32")))
    return x_vals_train.astype("float32"), y_vals_train.astype("float32"), batches


def _build(framework: str, stale_columns: bool) -> dict[str, Any]:
    x_train, _, batches = _program_data(stale_columns)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(WEIGHT_SEED)

        def init_variable():  # tf.random_normal(shape=shape): mean 0, stddev 1
            return keras.initializers.RandomNormal(mean=0.0, stddev=1.0)

        model = keras.Sequential([
            keras.Input((7,)),
            # First logistic layer (7 inputs to 14 hidden nodes)
            keras.layers.Dense(14, activation="sigmoid", kernel_initializer=init_variable(),
                               bias_initializer=init_variable()),
            # Second logistic layer (14 hidden inputs to 5 hidden nodes)
            keras.layers.Dense(5, activation="sigmoid", kernel_initializer=init_variable(),
                               bias_initializer=init_variable()),
            # Final output layer (5 hidden nodes to 1 output), activation=False
            keras.layers.Dense(1, kernel_initializer=init_variable(), bias_initializer=init_variable()),
        ])
        # tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=final_output, labels=y_target))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_train}

    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    torch.manual_seed(WEIGHT_SEED)

    def logistic(n_in: int, n_out: int) -> nn.Linear:
        layer = nn.Linear(n_in, n_out)
        nn.init.normal_(layer.weight, 0.0, 1.0)  # init_variable: tf.random_normal
        nn.init.normal_(layer.bias, 0.0, 1.0)
        return layer

    model = nn.Sequential(logistic(7, 14), nn.Sigmoid(), logistic(14, 5), nn.Sigmoid(), logistic(5, 1))
    tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(x_train),
            "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, stale_columns=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, stale_columns=False)
