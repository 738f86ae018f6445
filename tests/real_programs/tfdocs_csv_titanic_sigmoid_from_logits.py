"""TensorFlow "Load CSV data" tutorial (tensorflow/docs ``site/en/tutorials/load_data/csv.ipynb``, April
2020 version), the Titanic survival classifier: ``DenseFeatures`` (one-hot indicator columns of sex, class,
deck, embark_town, alone + the four numeric columns standardised with the training mean/std) ->
``Dense(128, relu)`` -> ``Dense(128, relu)`` -> ``Dense(1, activation='sigmoid')``, compiled with
``BinaryCrossentropy(from_logits=True)`` and ``'adam'``, trained on ``make_csv_dataset(batch_size=5)``
batches. The sigmoid output is fed to a loss that applies a sigmoid itself: the loss sees
``sigmoid(sigmoid(z))`` in (0.5, 0.731), so it can never go below ~0.31 for survivors nor below ~0.97 for
the others, and its gradient is squashed by the extra sigmoid.

Source: github.com/tensorflow/docs PR #1530 (kyscg:add-sigmoid, merged as feb33221c), commit 296f9abb8
"add-sigmoid" put ``activation='sigmoid'`` on the last Dense layer while the loss kept
``from_logits=True``; fixed the same day by Mark Daoust in 3eef8eb92 "Move sigmoid to end." (the layer back
to ``tf.keras.layers.Dense(1)``, ``tf.sigmoid`` applied to the predictions after ``predict``).
Program: csv.ipynb@296f9abb8 (cells "model = tf.keras.Sequential([preprocessing_layer, ...])", ``compile``,
``get_dataset`` with ``batch_size=5``, ``NUMERIC_FEATURES``, ``CATEGORIES``, ``normalize_numeric_data``).
Ported minimally: ``tf.feature_column``/``DenseFeatures`` no longer exist in Keras 3, so the preprocessing
layer's output (20 one-hot columns in the CATEGORIES order, then the 4 standardised numeric columns, as
DenseFeatures sorts the columns: categorical names before 'numeric') is computed offline and the model
starts at ``keras.Input((24,))``. Keras 3 on the TensorFlow backend detects a ``'sigmoid'`` activation fed to
``from_logits=True`` (UserWarning "received from_logits=True, but the output argument was produced by a
Sigmoid activation") and computes the loss on the pre-sigmoid logits, which hides the bug (checked: the
buggy and fixed losses are identical then); TF 2.2 (2020) did not, so the buggy Keras twin writes the
sigmoid as ``1 / (1 + exp(-z))``, which Keras does not recognise. Torch twin: the same MLP with a final ``nn.Sigmoid()`` and
``nn.BCEWithLogitsLoss()``, Adam(lr=1e-3) (Keras' 'adam' default), glorot kernels, zero biases.
Data stand-in (no download of train.csv, 627 rows): seeded Titanic-like passengers: sex (65% male),
class (First/Second/Third 24/21/55%), deck (mostly 'unknown' -> no listed deck, all-zero one-hot as in
the tutorial), embark_town, alone, age ~ N(29.6, 12.5), n_siblings_spouses / parch small counts, fare
lognormal by class; survival drawn from a logistic model of sex, class, age and fare (40% of the 80 rows survive).
Numeric columns standardised with the tutorial's MEAN/STD of train.csv (age 29.63/12.51, n_siblings 0.55/1.15,
parch 0.38/0.79, fare 34.39/54.60). 16 batches of 5; targets float32 (5, 1).
Fault label: loss_mismatch|output_activation (the sigmoid output into a loss that expects logits).
Fix (3eef8eb92): last layer ``Dense(1)`` (no activation), loss unchanged.
Symptom in a short loop: torch: on one batch of 5, 200 Adam steps leave the buggy loss at 0.62 (floor
~0.31-0.97 per sample) while the fixed one reaches 6e-4; over the 16 batches in 300 steps buggy 0.59 vs
fixed 0.13. Keras (the written-out sigmoid): the same, 0.62 vs 4e-4 on one batch, 0.59 vs 0.14 over the batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:tensorflow/docs PR #1530 (site/en/tutorials/load_data/csv.ipynb@296f9abb8, fix 3eef8eb92)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {}),
          ("output_range", {"kind": "logits"})]

batch_size = 5  # get_dataset(..., batch_size=5)
n_batches = 16
lr = 1e-3  # optimizer='adam'
CATEGORIES = {
    'sex': ['male', 'female'],
    'class': ['First', 'Second', 'Third'],
    'deck': ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'],
    'embark_town': ['Cherbourg', 'Southhampton', 'Queenstown'],
    'alone': ['y', 'n'],
}
MEAN = np.array([29.631308, 0.545455, 0.379585, 34.385399])  # age, n_siblings_spouses, parch, fare
STD = np.array([12.511818, 1.151090, 0.792999, 54.597730])


def _titanic_like(n: int = batch_size * n_batches, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(2, n, p=[0.65, 0.35])
    cls = rng.choice(3, n, p=[0.24, 0.21, 0.55])
    deck = np.where(rng.random(n) < 0.77, -1, rng.integers(0, 7, n))  # 'unknown' is not in the vocabulary
    embark = rng.choice(3, n, p=[0.2, 0.72, 0.08])
    sib = np.minimum(rng.poisson(0.5, n), 8)
    parch = np.minimum(rng.poisson(0.35, n), 5)
    alone = np.where(sib + parch == 0, 0, 1)  # 'y' / 'n'
    age = np.clip(rng.normal(29.6, 12.5, n), 0.75, 80)
    fare = np.exp(np.array([4.1, 3.0, 2.3])[cls] + rng.normal(0, 0.6, n))
    z = -0.9 + 2.4 * sex - 0.9 * (cls == 2) + 0.6 * (cls == 0) - 0.015 * (age - 30) + 0.003 * (fare - 30)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("float32")
    onehots = []
    for codes, vocab in ((sex, 'sex'), (cls, 'class'), (deck, 'deck'), (embark, 'embark_town'), (alone, 'alone')):
        k = len(CATEGORIES[vocab])
        oh = np.zeros((n, k))
        valid = codes >= 0
        oh[np.arange(n)[valid], codes[valid]] = 1
        onehots.append(oh)
    numeric = (np.stack([age, sib, parch, fare], 1) - MEAN) / STD  # normalize_numeric_data
    x = np.concatenate(onehots + [numeric], 1).astype("float32")
    return x, y[:, None]


def _build(framework: str, sigmoid_out: bool) -> dict[str, Any]:
    x, y = _titanic_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((x.shape[1],)),  # preprocessing_layer's output
            keras.layers.Dense(128, activation='relu'),
            keras.layers.Dense(128, activation='relu'),
            # program: Dense(1, activation='sigmoid'); written out so that Keras 3 (TF backend) does not
            # recognise the sigmoid and silently use its logits (TF 2.2 did not do that)
            keras.layers.Dense(1, activation=(lambda z: 1.0 / (1.0 + keras.ops.exp(-z))) if sigmoid_out else None),
        ])
        model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer='adam',
                      metrics=['accuracy'])
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)
    mods = [_nets.torch_dense(x.shape[1], 128), nn.ReLU(), _nets.torch_dense(128, 128), nn.ReLU(),
            _nets.torch_dense(128, 1)] + ([nn.Sigmoid()] if sigmoid_out else [])
    model = nn.Sequential(*mods)
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_out=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_out=False)
