"""jeffheaton/t81_558_deep_learning (Washington University in St. Louis course T81-558 "Applications of Deep Neural
Networks"), module 4.2 notebook ``t81_558_class_04_2_multi_class.ipynb``, section "ROC Chart Example": a binary
classifier for the Wisconsin diagnostic breast cancer table (``wcbreast_wdbc.csv``, 569 tumours, 30 measurements,
diagnosis M / B). The notebook z-scores every x column over the whole table (``scipy.stats.zscore``), maps
``diagnosis`` to y (M -> 1, B -> 0), splits with ``train_test_split(x, y, test_size=0.25, random_state=42)`` (426
train / 143 test rows), builds ``Sequential`` ``Dense(100, relu) -> Dense(50, relu) -> Dense(25, relu) -> Dense(1)``
(all ``kernel_initializer='random_normal'``), compiles with ``loss='binary_crossentropy'``, ``Adam()`` and
``metrics=['accuracy']``, and fits with ``EarlyStopping(monitor='val_loss', min_delta=1e-3, patience=5,
restore_best_weights=True)``, ``epochs=1000`` and Keras' default batch size 32.

The fault (a linear output under a loss that expects a probability): the output layer was
``Dense(1,activation='linear',...)`` while ``binary_crossentropy`` (``from_logits=False``) reads its input as the
probability of class 1. Keras clips that input to [1e-7, 1 - 1e-7] before taking the logs, so any sample whose raw
output lies outside [0, 1] contributes a constant loss (about 0 on the correct side, -log(1e-7) = 16.1 on the wrong
side) and no gradient at all through the clip. With the small ``random_normal`` initialisation (stddev 0.05) the
first outputs all sit within a few hundredths of 0; if they start just below 0 for every row, every malignant
row costs 16.1, every benign row ~0, and not a single gradient reaches the weights: the loss stays at
0.371 x 16.1 = 5.98 and the network answers "benign" for everybody. When some outputs start above 0, the net
learns through those rows, but its outputs run far past 1 and below 0 (it has no reason to stay in [0, 1]), rows
that end up on the wrong side are frozen at a loss of 16.1, and the "probabilities" fed to the ROC curve are not
probabilities. The course author's fix changed the activation of the output layer to ``'sigmoid'``.

Source: github.com/jeffheaton/t81_558_deep_learning ``t81_558_class_04_2_multi_class.ipynb`` at
f6046e14b9379b929c741495efa4a6d3410a68c1 (= 3b44d5d^), "ROC Chart Example" cell; fixed in
3b44d5d2146ef42ca94954ff29bc5e36efa4dbdb ("Fix module 4.2 so that the binary classification is using sigmoid.":
``Dense(1,activation='linear',kernel_initializer='random_normal')`` ->
``Dense(1,activation='sigmoid',kernel_initializer='random_normal')``). The notebook's saved output was not re-run by
the fix; it shows a run of the linear head that happened to train (loss 1.52 -> 0.03, val accuracy 0.986).
Fault label: output_activation|loss_mismatch (a linear head where the compiled loss needs a sigmoid probability;
the fix is on the activation, equivalently the loss could have been told ``from_logits=True``).

Program lines kept verbatim: the four ``model.add(Dense(...))`` lines (widths 100 / 50 / 25 / 1 unchanged, nothing
shrunk), ``kernel_initializer='random_normal'``, the compile call (``binary_crossentropy``, ``Adam()`` defaults,
``metrics=['accuracy']``), the z-scoring over the whole table, the M -> 1 / B -> 0 mapping and the
``train_test_split`` call; batch size 32 (``fit``'s default). Only the output activation differs between buggy and
fixed.
Ported: ``tensorflow.keras`` -> Keras 3 (``keras.optimizers.Adam()``; ``input_dim=`` kept, Keras 3 still takes it).
The EarlyStopping / ``epochs=1000`` loop is the notebook's training schedule and is not part of the builds.
Data: no download. scikit-learn's bundled ``load_breast_cancer`` is the same UCI WDBC table in the same row order
(first row mean radius 17.99, malignant) and the same 30 columns; its ``target`` is 0 = malignant, 1 = benign, so
y = 1 - target gives the notebook's M -> 1 mapping. These are the real data, not a stand-in. ``batch``: the first 32
training rows; ``batches``: the 13 full batches of 32 of the 426 training rows in split order; ``inputs``: the 143
test rows (x). x float32 (z-scores, about -3..12), y int64 0 / 1 as the notebook's ``.map(...).values``.

Measured (my own plain loop /tmp/s52/h81_b/measure.py on the module's builds, OMP_NUM_THREADS=1, ``model.fit`` on
the 426 training rows, batch 32, shuffled each epoch, validation on the 143 test rows):
  SEED = 0 (the module's seed), 40 epochs (560 Adam steps), train loss after epochs 1 / 5 / 10 / 20 / 40:
    buggy 5.978 5.978 5.978 5.978 5.978, val loss 6.087 throughout, val accuracy 0.622 (all predicted benign),
      raw test outputs in [-0.03, -0.00]: every output starts below 0, the clip passes no gradient, nothing moves;
    fixed 0.680 0.111 0.047 0.012 0.001, val loss 0.050 at epoch 10 and 0.111 at epoch 40 (overfitting), val
      accuracy 0.979 at epoch 40, outputs in (0, 1).
  The notebook's own schedule (EarlyStopping patience 5 on val_loss, restore_best_weights): buggy stops after 6
    epochs with the restored model at val accuracy 0.622 / val loss 6.087; fixed stops after 14 epochs at val
    accuracy 0.986 / val loss 0.0505.
  Loss at initialisation on ``batch`` (9 malignant rows of 32): buggy 4.533 (= 9 / 32 x 16.12), fixed 0.691 (ln 2).
  One batch repeated (``batch``, 100 ``train_on_batch`` steps), steps 1 / 10 / 50 / 100: buggy 4.533 4.533 4.533
    4.533, fixed 0.691 0.665 0.133 0.0026.
  Other seeds (1..4, same 40-epoch loop): seed 1 stuck exactly like seed 0 (loss 5.978 from the first epoch, val
    accuracy 0.622, outputs in [-0.07, -0.01]); seeds 2, 3, 4 do learn (val accuracy 0.986 / 0.972 / 0.965 at epoch
    40) but end with raw test outputs from -0.65 to 16.9 and a val loss of 0.243 / 0.257 / 0.253 (0.046-0.060 at
    epoch 10: rows pushed to the wrong side stay at 16.1 with no gradient); the fixed model with the same seeds:
    val accuracy 0.986, val loss 0.084-0.107 at epoch 40, outputs in (0, 1).
  Time (one thread): a ``train_on_batch`` step ~30 ms; first build ~10 s (TensorFlow import), later builds ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:jeffheaton/t81_558_deep_learning t81_558_class_04_2_multi_class.ipynb"
          "@f6046e14b9379b929c741495efa4a6d3410a68c1 (= 3b44d5d^, 'ROC Chart Example': "
          "Dense(1,activation='linear') with loss='binary_crossentropy'); fix "
          "3b44d5d2146ef42ca94954ff29bc5e36efa4dbdb 'Fix module 4.2 so that the binary classification is using "
          "sigmoid.'")
FRAMEWORKS = ("keras",)
CHECKS = [("output_range", {"kind": "sigmoid"}), ("init_loss", {"num_classes": 2}), ("overfit_one_batch", {}),
          ("loss_decreases", {}), ("not_constant_predictions", {})]

BATCH_SIZE = 32  # model.fit's default
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's x / y and train_test_split, from scikit-learn's copy of the WDBC table."""
    from scipy.stats import zscore
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    d = load_breast_cancer()
    x = zscore(d.data, axis=0)  # for col in x_columns: df[col] = zscore(df[col])
    y = (1 - d.target).astype("int64")  # df['diagnosis'].map({'M':1,"B":0}); sklearn: 0 = malignant
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=42)
    return x_train.astype("float32"), y_train, x_test.astype("float32"), y_test


def _build(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Dense
    from keras.models import Sequential

    x_train, y_train, x_test, _ = _data()
    x = x_train
    keras.utils.set_random_seed(SEED)
    model = Sequential()
    model.add(Dense(100, input_dim=x.shape[1], activation='relu',kernel_initializer='random_normal'))
    model.add(Dense(50,activation='relu',kernel_initializer='random_normal'))
    model.add(Dense(25,activation='relu',kernel_initializer='random_normal'))
    if fixed:  # 3b44d5d
        model.add(Dense(1,activation='sigmoid',kernel_initializer='random_normal'))
    else:
        model.add(Dense(1,activation='linear',kernel_initializer='random_normal'))
    model.compile(loss='binary_crossentropy',
                  optimizer=keras.optimizers.Adam(),
                  metrics =['accuracy'])
    batches = [(x_train[i:i + BATCH_SIZE], y_train[i:i + BATCH_SIZE])
               for i in range(0, len(x_train) - BATCH_SIZE + 1, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_test}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(fixed=True)
