"""ML Privacy Meter (privacytrustlab/ml_privacy_meter), tutorial ``tutorials/avg_loss_training_algo.ipynb``:
shadow / target models for a membership-inference audit, each an MLP on Purchase100 (600 binary purchase
features, 100 classes, labels one-hot by ``OneHotEncoder``)::

    nn.Sequential(nn.Linear(in_features=600, out_features=350), nn.Tanh(),
                  nn.Linear(in_features=350, out_features=100))
    criterion = nn.CrossEntropyLoss(reduction='sum')
    optimizer = optim.Adam(torch_models[i][j].parameters())
    ...
    y_pred = torch_models[i][j](Tensor(x[b]))
    loss = criterion(Tensor(y[b]), y_pred)

The fault: the arguments of ``CrossEntropyLoss`` are swapped (``input`` first, ``target`` second). The
one-hot labels become the "logits" and the model's outputs the (soft, float) "class probabilities" target,
so the loss is ``-sum_k z_k * log_softmax(y)_k`` = ``log(e + 99) * sum_k z_k - z_true`` per sample: linear in
the logits z and unbounded below. Training drives every logit towards -inf (the true class's a little
less fast), the loss falls through zero to ever more negative values, the logits grow without bound, and
the loss is meaningless as a cross-entropy from the first step (at initialisation it is a sum of the
raw logits, nowhere near 32 * log(100) ~ 147 for a batch of 32).
Issue #95 ("Bug in notebook examples that use PyTorch models": "criterions in PyTorch typically take
arguments in the order of logits, targets. However, the code provides targets, logits"), answered as fixed
by the maintainers ("we have fixed the bug and released an updated version of the tutorials").

Source: github.com/privacytrustlab/ml_privacy_meter, ``tutorials/avg_loss_training_algo.ipynb`` at
ae1a3ab^ (``get_torch_models``, ``get_trained_torch_models``, ``get_models``, ``preprocess_purchase100``),
fixed by commit ae1a3ab363d8c43f8d5d7e251353491d5167004a "fix bug" (``loss = criterion(y_pred,
Tensor(y[b]))``; the same swap fixed in ``tutorials/shadow_metric.ipynb``, whose model also ends in
``nn.Softmax(dim=1)``, a second fault the commit left in place -- that notebook is not ported for that
reason). Issue: github.com/privacytrustlab/ml_privacy_meter/issues/95.
Program lines kept: the model (Linear(600, 350), Tanh, Linear(350, 100); torch default init),
``nn.CrossEntropyLoss(reduction='sum')`` called in the buggy order, ``optim.Adam`` with its default
lr 1e-3, ``BATCH_SIZE = 32``, one-hot float targets (``OneHotEncoder`` -> ``Tensor``), ``np.array_split``
into batches.
Ported minimally: the privacy_meter ``Dataset.subdivide`` / audit machinery and the loops over rounds and
shadow models are left out (one model trained, as each of them is); 512 training records (16 batches of
32) instead of a quarter of Purchase100's 197,324 records.
Keras twin: the same MLP (``Dense(350, activation='tanh')``, ``Dense(100)``, Keras default init) with
``keras.losses.CategoricalCrossentropy(from_logits=True, reduction='sum')`` called with the labels in the
prediction slot and the model output in the target slot (``cce(y_pred, y_true)``, the same swap under
Keras' ``(y_true, y_pred)`` signature); fixed: ``cce(y_true, y_pred)``. Adam(1e-3), batches of 32.
Data stand-in (no download of ``dataset_purchase``): 512 records of 600 binary float32 features in {0, 1},
100 classes: each class a random binary prototype (bit density 0.2), each record its class prototype with
10% of the bits re-drawn at random (seeded), labels one-hot float as ``OneHotEncoder`` gives; like
Purchase100 (binary features, 100 purchase-style clusters) the classes are learnable from the features.
Fault label: loss_mismatch (targets and outputs swapped in the loss: the loss is linear in the logits and
unbounded below). Fix (ae1a3ab): ``criterion(y_pred, Tensor(y[b]))``.
Symptom measured (own plain loop, seeded, OMP_NUM_THREADS=1, cycling over the 16 batches; loss = the
program's summed loss averaged per batch of 32 over all 512 records, accuracy over the 512 records, chance
0.01). Torch: buggy loss -8.6 at init, -2.0e3 after 1 step, -4.1e4 after 10, -5.6e5 after 100, -2.1e6
after 400 (still falling linearly), accuracy 0.010 throughout, max |logit| 0.6 -> 39 -> 147; after 400
steps every record gets the same argmax class and all logits sit near -146 (spread over inputs 0.004).
Fixed: 147.9 at init (= 32 * log 100), 107.6 after 10 steps (accuracy 0.78), 9.4 after 50 (1.00), 1.13
after 100, 0.11 after 400, max |logit| 11. Keras: buggy 55 at init, -3.6e3 after 1 step, -5.7e5 after
100, -2.2e6 after 400, accuracy 0.008, max |logit| 150; fixed 153 -> 83 (10 steps, accuracy 0.67) ->
2.3 (50, 1.00) -> 0.09 (400). About 4 ms per torch step, 9 ms per Keras train_on_batch on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:privacytrustlab/ml_privacy_meter issue #95 (tutorials/avg_loss_training_algo.ipynb@ae1a3ab^ "
          "get_trained_torch_models 'criterion(Tensor(y[b]), y_pred)'; fix ae1a3ab363d8c43f8d5d7e251353491d5167004a)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"kind": "logits"}), ("not_constant_predictions", {})]

BATCH_SIZE = 32  # program
N_FEATURES = 600
N_CLASSES = 100
N_RECORDS = 512  # 16 batches of 32


def _purchase100_like(n: int = N_RECORDS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary (n, 600) float32 features and one-hot (n, 100) float labels, Purchase100-like."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((N_CLASSES, N_FEATURES)) < 0.2)
    label = rng.integers(0, N_CLASSES, n)
    x = protos[label].copy()
    redraw = rng.random((n, N_FEATURES)) < 0.1
    x[redraw] = rng.random(int(redraw.sum())) < 0.2
    x = np.array(x, dtype=np.float32)  # preprocess_purchase100: np.array(x, dtype=np.float32)
    y = np.eye(N_CLASSES)[label]  # OneHotEncoder(sparse=False).fit_transform(...), float64
    return x, y


def _batches(x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    n_batches = int(np.ceil(x.shape[0] / BATCH_SIZE))
    return np.array_split(x, n_batches), np.array_split(y, n_batches)  # program


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _purchase100_like()
    xs, ys = _batches(x, y)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(350, activation="tanh"),
            keras.layers.Dense(N_CLASSES),
        ])
        cce = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")

        def criterion(y_true, y_pred):
            if fixed:  # ae1a3ab
                return cce(y_true, y_pred)
            return cce(y_pred, y_true)  # labels where the output belongs, as criterion(Tensor(y[b]), y_pred)

        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=criterion)
        batches = [(xb, yb.astype("float32")) for xb, yb in zip(xs, ys)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    from torch import Tensor, nn

    torch.manual_seed(0)
    model = nn.Sequential(  # get_torch_models
        nn.Linear(in_features=N_FEATURES, out_features=350),
        nn.Tanh(),
        nn.Linear(in_features=350, out_features=N_CLASSES),
    )
    criterion = nn.CrossEntropyLoss(reduction="sum")

    class Criterion(nn.Module):
        """The program's call of ``criterion``, as loss_fn(y_pred, target)."""

        def forward(self, y_pred, target):
            if fixed:  # ae1a3ab
                return criterion(y_pred, target)
            return criterion(target, y_pred)  # loss = criterion(Tensor(y[b]), y_pred)

    batches = [(Tensor(xb), Tensor(yb)) for xb, yb in zip(xs, ys)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": Tensor(x),
            "loss_fn": Criterion(), "optimizer": lambda p: torch.optim.Adam(p)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
