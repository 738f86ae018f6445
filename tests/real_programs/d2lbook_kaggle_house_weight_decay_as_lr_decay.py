"""Dive into Deep Learning (d2l-ai/d2l-en), section "Predicting House Prices on Kaggle"
(``chapter_multilayer-perceptrons/kaggle-house-price.md``), TensorFlow tab, June 2020: a linear model
``Sequential([Dense(1)])`` on the 331 standardised / one-hot features of the Kaggle house data, compiled
with ``loss=log_rmse`` (``tf.keras.losses.mean_squared_logarithmic_error``) and Adam, trained by
``k_fold(k=5, num_epochs=100, lr=5, weight_decay=0, batch_size=64)``. The TF ``train`` function turns the
``weight_decay`` argument into the *decay rate of an exponential learning-rate schedule*:
``ExponentialDecay(initial_learning_rate=lr, decay_steps=num_epochs, decay_rate=weight_decay)``, so with
the section's ``weight_decay = 0`` the learning rate is ``5 * 0 ** (step / 100)``: 5 for the very first
update and exactly 0 from the second one on. The model takes one Adam step and then never changes again;
the loss is flat for the remaining 100 epochs.

Source: github.com/d2l-ai/d2l-en commit 5686db6122696ee886cc3d99ab72c74dc95a34ef "[TF] Fix incorrect use
of weight decay" (Yuan Tang, 2020-06-17). Program: ``kaggle-house-price.md@5686db61^`` (TF cells
``get_net``, ``log_rmse``, ``train``, ``k_fold`` and the hyperparameter cell
``k, num_epochs, lr, weight_decay, batch_size = 5, 100, 5, 0, 64``).
Ported minimally to Keras 3: ``Sequential([Input((331,)), Dense(1)])`` compiled with
``keras.losses.mean_squared_logarithmic_error`` and ``Adam(ExponentialDecay(5.0, decay_steps=100,
decay_rate=0.0))`` (the program's lines); ``fit`` on the (x, y) arrays instead of ``d2l.load_array``.
Torch twin (the same misuse in PyTorch): ``nn.Linear(331, 1)`` (glorot kernel, zero bias, as Keras'
Dense), ``Adam(lr=5)`` with a per-step ``LambdaLR(lambda step: weight_decay ** (step / num_epochs))``,
which is the same schedule as Keras' ``ExponentialDecay``; the ``train_step`` steps the schedule after
each update (the fixed optimiser has none). ``loss_fn`` is Keras' MSLE written out
(``mean((log(max(pred, eps) + 1) - log(max(y, eps) + 1)) ** 2)``, eps = 1e-7).
Data stand-in (no download of kaggle_house_pred_train.csv, 1460 rows): 256 seeded houses with the
section's preprocessing already applied: 36 numeric columns standardised to zero mean / unit variance with
missing values (about 6 %) set to 0, then 43 categorical columns one-hot encoded with ``dummy_na=True``
(295 indicator columns), 331 float32 features in all as in the book; SalePrice (n, 1) float32 drawn
log-normally around exp(12 + 0.4 * signal) (median about 145,000 USD; the real median is 163,000) from a
linear signal of the features. Four batches of 64 (the program's batch size).
Fault label: lr_too_low (the schedule drives the learning rate to 0 after the first update).
Fix (5686db61): ``Dense(1, kernel_regularizer=tf.keras.regularizers.l2(weight_decay))`` and a constant
``Adam(learning_rate)`` (written ``Adam(float(lr))``: Keras 3 refuses the int 5); torch: ``Adam(lr=5,
weight_decay=0)``, as the book's PyTorch tab. Loss unchanged.
Symptom in a short loop (one thread): over the four batches in turn, the MSLE loss starts at 137 (torch) /
139 (Keras); the one full-rate Adam step takes it to 45, and there it stays: the buggy loss is the same per
batch at steps 10, 200 and 1000 (mean of the last four: 44.1 in both frameworks), while the fixed one goes
on down to 20 (step 200) and 13 (step 1000). On one batch: buggy 42.2 from step 2 to step 200, fixed 21.5
at step 50 and 19.5 at step 200 (the program's MSLE clips negative predictions to eps, so the linear model
learns slowly even when fixed). A step takes 1-6 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_low"
SOURCE = ("github:d2l-ai/d2l-en chapter_multilayer-perceptrons/kaggle-house-price.md@5686db61^ "
          "(TF train(): ExponentialDecay(decay_rate=weight_decay); fix 5686db6122696ee886cc3d99ab72c74dc95a34ef)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("inputs_normalized", {})]

k, num_epochs, lr, weight_decay, batch_size = 5, 100, 5, 0, 64  # program lines
N_NUMERIC, N_CATEGORICAL, N_FEATURES = 36, 43, 331
N_ROWS = 4 * batch_size
EPS = 1e-7  # keras.backend.epsilon()


def _houses(n: int = N_ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle-house-like rows after the section's preprocessing: standardised numeric columns with NaN -> 0,
    then ``pd.get_dummies(all_features, dummy_na=True)`` of 43 categorical columns (295 indicators)."""
    rng = np.random.default_rng(seed)
    num = rng.standard_normal((n, N_NUMERIC))
    num = (num - num.mean(0)) / num.std(0, ddof=1)  # (x - x.mean()) / x.std()
    num[rng.random(num.shape) < 0.06] = 0.0  # fillna(0) after standardising
    levels = np.full(N_CATEGORICAL, (N_FEATURES - N_NUMERIC) // N_CATEGORICAL - 1)  # 5 levels + NaN each
    levels[: (N_FEATURES - N_NUMERIC) - int((levels + 1).sum())] += 1  # 295 indicator columns in all
    cats = []
    for n_levels in levels:
        p = rng.dirichlet(np.ones(n_levels + 1) * 2.0)
        codes = rng.choice(n_levels + 1, n, p=p)  # the last code is the NaN indicator
        cats.append(np.eye(n_levels + 1)[codes])
    x = np.concatenate([num] + cats, axis=1).astype("float32")
    assert x.shape[1] == N_FEATURES
    w = rng.normal(0, 1, N_FEATURES) * (rng.random(N_FEATURES) < 0.3)
    signal = x @ w
    signal = (signal - signal.mean()) / signal.std()
    price = np.exp(12.0 + 0.4 * signal + rng.normal(0, 0.1, n))  # SalePrice, USD
    return x, price.reshape(-1, 1).astype("float32")


def _build(framework: str, lr_decays_to_zero: bool) -> dict[str, Any]:
    x, y = _houses()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        if lr_decays_to_zero:
            net = keras.models.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(1)])  # get_net()
            lr_schedule = keras.optimizers.schedules.ExponentialDecay(
                initial_learning_rate=float(lr), decay_steps=num_epochs, decay_rate=float(weight_decay))
            optimizer = keras.optimizers.Adam(lr_schedule)
        else:
            net = keras.models.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(
                1, kernel_regularizer=keras.regularizers.l2(weight_decay))])  # get_net(weight_decay)
            optimizer = keras.optimizers.Adam(float(lr))  # Adam(learning_rate); Keras 3 wants a float
        log_rmse = keras.losses.mean_squared_logarithmic_error  # program lines
        net.compile(loss=log_rmse, optimizer=optimizer)
        return {"model": net, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Linear(N_FEATURES, 1)
    nn.init.xavier_uniform_(net.weight)  # Keras Dense: glorot_uniform kernel, zero bias
    nn.init.zeros_(net.bias)

    def log_rmse(y_pred, y_true):  # keras.losses.mean_squared_logarithmic_error
        first_log = torch.log(torch.clamp(y_pred, min=EPS) + 1.0)
        second_log = torch.log(torch.clamp(y_true, min=EPS) + 1.0)
        return torch.mean((first_log - second_log) ** 2)

    def make_optimizer(params):
        if lr_decays_to_zero:
            optimizer = torch.optim.Adam(params, lr=lr)
            # ExponentialDecay(lr, decay_steps=num_epochs, decay_rate=weight_decay), stepped per update
            optimizer.lr_schedule = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: float(weight_decay) ** (step / num_epochs))
            return optimizer
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)

    def train_step(model, optimizer, loss_fn, xb, yb):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        schedule = getattr(optimizer, "lr_schedule", None)
        if schedule is not None:
            schedule.step()
        return loss

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": torch.tensor(x), "loss_fn": log_rmse,
            "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, lr_decays_to_zero=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, lr_decays_to_zero=False)
