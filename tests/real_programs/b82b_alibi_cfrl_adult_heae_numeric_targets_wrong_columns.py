"""SeldonIO/alibi (explainability library), example notebook ``doc/source/examples/cfrl_adult.ipynb``
("Counterfactual with Reinforcement Learning (CFRL) on Adult Census", TensorFlow / Keras). Before the explainer
is fitted, the notebook trains a heterogeneous autoencoder on the Adult census table (12 columns: Age, Capital Gain,
Capital Loss, Hours per week numerical; Workclass, Education, Marital Status, Occupation, Relationship, Race, Sex,
Country categorical with 9, 7, 4, 9, 6, 5, 2, 11 categories, as ``alibi.datasets.fetch_adult`` groups them).
The autoencoder input is ``trainset_input = heae_preprocessor(X_train)``, where ``get_he_preprocessor``
(``alibi/explainers/backends/cfrl_tabular.py``) is a ``ColumnTransformer([("num", StandardScaler(), numerical_ids),
("cat", OneHotEncoder(...), categorical_ids)])``: the 4 standardised numbers FIRST, then the 53 one-hot columns.
``HeAE(encoder=ADULTEncoder(hidden_dim=128, latent_dim=15), decoder=ADULTDecoder(hidden_dim=128, output_dims=[4, 9,
7, 4, 9, 6, 5, 2, 11]))`` (``alibi/models/tensorflow/cfrl_models.py``, ``autoencoder.py``): Dense(128) relu ->
Dense(15) tanh -> Dense(128) relu -> one linear head of 4 units for the numerical features ("output_1") and one
logit head per categorical feature ("output_2" .. "output_9"); compiled with ``MeanSquaredError()`` (weight 1) on
output_1 and ``SparseCategoricalCrossentropy(from_logits=True)`` (weight 1/8 each) on the others,
``Adam(learning_rate=1e-3)``, ``trainset.shuffle(1024).batch(128, drop_remainder=True)``, 50 epochs.

The fault (the reconstruction targets of the numerical head come from the wrong columns): the notebook builds
``trainset_outputs = {"output_1": X_train_ohe[:, :len(numerical_ids)]}``, but ``X_train_ohe`` is the output of the
black-box classifier's OTHER preprocessor, ``ColumnTransformer([("cat", cat_transf, categorical_ids), ("num",
num_transf, numerical_ids)])``, which puts the one-hot categorical columns FIRST. Its first 4 columns are the
one-hot indicators of Workclass categories 0..3 ('?', Federal-gov, Local-gov, Never-worked), not Age / Capital Gain
/ Capital Loss / Hours per week. So the numerical head is trained to reproduce four workclass bits (mostly 0, and
already present in the input), and nothing in the loss ever asks the autoencoder to reconstruct the numerical
features: the latent code need not keep them and the decoder's numerical output is unrelated to them. Training runs
without error and the loss looks better than in the fixed run (output_1 loss 0.028 -> 0.0012 in the notebook's
buggy log vs 0.23 -> 0.008 after the fix), but the decoder the counterfactual search later relies on returns wrong
numerical values. Fix: alibi PR #651 "fix CFRL tabular example" (RobertSamoilescu, commit
15ec5df12ad21b16ef18ab05ca9a9a3b70646a99, merged as 16c4a3f5): ``"output_1": trainset_input[:, :len(numerical_ids)]``
with the PR's words "This wrongly assumed that the preprocessor outputs the numerical columns and then the
categorical ones. To fix the issue, one can use the output of the heae_preprocess which always outputs first the
numerical columns and then the categorical ones." (The same commit also switched the black-box classifier from a
random forest to XGBoost and raised the CFRL training steps; neither touches the autoencoder.)
Fault label: label_mapping_mismatch|preprocessing_mismatch (targets read with the column layout of another
preprocessing pipeline: the numerical head is fitted to the wrong columns).

Source: github.com/SeldonIO/alibi ``doc/source/examples/cfrl_adult.ipynb`` at 15ec5df12ad2^ (cells "Define trainset"
and "Define and train autoencoder"), ``alibi/models/tensorflow/autoencoder.py`` (AE / HeAE),
``alibi/models/tensorflow/cfrl_models.py`` (ADULTEncoder, ADULTDecoder), ``alibi/explainers/backends/cfrl_tabular.py``
(get_he_preprocessor), ``alibi/datasets.py`` (fetch_adult); fix 15ec5df1 in PR #651.

Program lines kept: ``ADULTEncoder`` / ``ADULTDecoder`` / ``AE.call`` layer for layer (hidden 128, latent 15, not
shrunk), the two ``ColumnTransformer``s with their transformer order, ``"output_1": X_train_ohe[:,
:len(numerical_ids)]`` (buggy) vs ``trainset_input[:, :len(numerical_ids)]`` (fixed), the categorical targets
``X_train[:, cat_id]``, the losses and loss weights, ``Adam(learning_rate=1e-3)``, batch 128.
Ported / replaced: Keras 2 (tf.keras) -> Keras 3. ``HeAE.build``'s list-type check is dropped (Keras 3's build
protocol differs; it only raises if the decoder does not return a list). The nine outputs are concatenated into one
(batch, 57) tensor (4 numbers, then the 8 logit blocks) and the nine targets into one (batch, 12) float32 array (4
numerical targets, then the 8 category ids), so a batch is a plain (x, y) pair; the model is compiled with one loss
that splits them again and computes exactly the program's weighted sum (MSE averaged over the 4 numerical columns x 1
+ sum over the 8 heads of sparse softmax cross-entropy from logits x 1/8). ``tf.data`` shuffling is replaced by
fixed batches. The black-box classifier, the CFRL explainer and its DDPG training are not ported (the fault is in the
autoencoder pre-training).
Torch twin: alibi ships the same models for PyTorch (``alibi/models/pytorch/cfrl_models.py``, ``autoencoder.py``);
alibi uses ``nn.LazyLinear``, here ``nn.Linear`` of the same sizes with Keras' init (Glorot-uniform kernel, zero
bias) so both twins start alike; the same packed output and loss, ``Adam(lr=1e-3, eps=1e-7)`` (Keras' defaults); the
same buggy / fixed targets.
Data stand-in (no download of adult.data): seeded synthetic Adult-like rows with the dataset's column order, value
ranges and rough marginals: Age 17..90 (integer), Capital Gain 0 for ~92 % else up to 99999, Capital Loss 0 for
~96 % else ~1500-2500, Hours per week mostly 40 (1..99), and the 8 label-encoded categoricals with Adult-like
frequencies (Workclass 70 % Private, Country 90 % United-States, ...) and some dependencies (marital status on age,
relationship on sex and marital status, capital gain and hours on education / sex). 6,400 training rows (50
batches of 128; the notebook has 26,048 training rows, 203 batches an epoch) and 256 held-out rows; both
preprocessors are fitted on the training rows as in the notebook.
``batch``: the first training batch; ``batches``: the 50 batches; ``inputs``: ``heae_preprocessor`` of the 256
held-out rows.

Measured (my own plain loops, OMP_NUM_THREADS=1, seed 0, the module's builds; /tmp/s52/h82_b/measure.py):
  loss at initialisation on the module's ``batch``: buggy 1.774 (torch) / 1.858 (Keras), fixed 2.761 / 2.860 (the
    buggy numerical targets are four workclass indicator columns with means 0.052, 0.030, 0.066, 0.0006 instead of
    four standardised features with variance 1).
  20 epochs over the 50 batches (1,000 Adam steps, batch order reshuffled each epoch with numpy seed 0); held-out =
    the 256 ``inputs`` rows; "numeric MSE" = MSE of the decoder's numerical head against the TRUE standardised Age /
    Capital Gain / Capital Loss / Hours per week of those rows (what the head is meant to reconstruct), averaged over
    the 4 columns; "cat acc" = mean over the 8 categorical heads of the held-out reconstruction accuracy.
    after epoch               1      2      5      10     20
    torch buggy train loss  1.290  0.830  0.322  0.124  0.053   (its output_1 part 0.033 -> 0.0055)
                numeric MSE 1.132  1.150  1.145  1.148  1.140   correlation with the truth per column -0.11..0.09
                cat acc     0.707  0.766  0.929  0.967  0.985
    torch fixed train loss  1.891  1.113  0.576  0.278  0.141   (its output_1 part 0.573 -> 0.017)
                numeric MSE 0.361  0.207  0.074  0.048  0.030   correlation 0.98-0.99 per column
                cat acc     0.649  0.727  0.845  0.928  0.958
    Keras buggy train loss  1.435  0.885  0.296  0.109  0.041
                numeric MSE 1.123  1.144  1.145  1.149  1.151   correlation -0.03..0.07
                cat acc     0.662  0.759  0.928  0.975  0.989
    Keras fixed train loss  2.105  1.172  0.599  0.285  0.141
                numeric MSE 0.375  0.194  0.063  0.051  0.036   correlation 0.96-0.99
                cat acc     0.614  0.715  0.840  0.930  0.964
  So the buggy autoencoder never learns to reconstruct the numerical features (held-out MSE stays at ~1.15, i.e.
    no better than predicting the mean; per-column MSE Capital Gain 1.64), while the fixed one reaches 0.03; at the
    same time the buggy run's training loss is LOWER at every epoch (its numerical targets are easy 0/1 bits copied
    from the input) and its categorical heads are as good or slightly better, so loss curves alone make the buggy
    run look healthier, as the notebook's own logs did (output_1 loss 0.028 -> 0.0012 buggy vs 0.23 -> 0.008 fixed).
  Time per step (batch 128, one thread): torch ~7 ms, Keras ``train_on_batch`` ~13 ms; first build with the
    TensorFlow import ~10-25 s, later builds < 1 s. Builds are deterministic (same outputs and targets twice).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "label_mapping_mismatch|preprocessing_mismatch"
SOURCE = ("github:SeldonIO/alibi PR #651 'fix CFRL tabular example' (doc/source/examples/cfrl_adult.ipynb "
          "@15ec5df12ad21b16ef18ab05ca9a9a3b70646a99^, alibi/models/tensorflow/cfrl_models.py "
          "ADULTEncoder/ADULTDecoder, autoencoder.py HeAE, explainers/backends/cfrl_tabular.py get_he_preprocessor; "
          "fix 15ec5df12ad21b16ef18ab05ca9a9a3b70646a99: 'output_1': X_train_ohe[:, :len(numerical_ids)] -> "
          "trainset_input[:, :len(numerical_ids)], merge 16c4a3f5)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

# alibi.datasets.fetch_adult: column order and category counts after its grouping of categories
FEATURE_NAMES = ["Age", "Workclass", "Education", "Marital Status", "Occupation", "Relationship", "Race", "Sex",
                 "Capital Gain", "Capital Loss", "Hours per week", "Country"]
CATEGORY_SIZES = {1: 9, 2: 7, 3: 4, 4: 9, 5: 6, 6: 5, 7: 2, 11: 11}
categorical_ids = list(CATEGORY_SIZES.keys())
numerical_ids = [i for i in range(len(FEATURE_NAMES)) if i not in CATEGORY_SIZES]
# notebook constants
HIDDEN_DIM = 128
LATENT_DIM = 15
BATCH_SIZE = 128
LR = 1e-3
OUTPUT_DIMS = [len(numerical_ids)] + [CATEGORY_SIZES[c] for c in categorical_ids]
N_NUM = len(numerical_ids)
IN_DIM = N_NUM + sum(CATEGORY_SIZES.values())
# stand-in
N_BATCHES = 50
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _adult_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic rows in fetch_adult's layout (object-free float array, categoricals label-encoded)."""
    def pick(p: list[float], size: int | None = None) -> np.ndarray:
        p_arr = np.asarray(p, dtype=float)
        return rng.choice(len(p_arr), size=size if size is not None else n, p=p_arr / p_arr.sum())

    sex = pick([0.33, 0.67])  # Female, Male
    age = np.clip(np.rint(17 + rng.gamma(2.2, 9.0, n)), 17, 90)
    young = age < 27
    # Married, Never-Married, Separated, Widowed
    marital = np.where(young, pick([0.15, 0.8, 0.05, 0.0]), pick([0.57, 0.18, 0.21, 0.04]))
    # Husband, Not-in-family, Other-relative, Own-child, Unmarried, Wife
    single = np.where(young, pick([0, 0.35, 0.05, 0.55, 0.05, 0]), pick([0, 0.6, 0.07, 0.08, 0.25, 0]))
    relationship = np.where(marital == 0, np.where(sex == 1, 0, 5), single)
    workclass = pick([5.6, 2.9, 6.4, 0.1, 69.7, 3.4, 7.8, 4.0, 0.1])
    education = pick([7.6, 16.4, 1.3, 12.9, 54.6, 5.3, 1.8])  # Associates, Bachelors, Doctorate, Dropout, HS, ...
    occupation = np.where(workclass == 0, 0, pick([0.0, 11.6, 30.9, 0.1, 4.8, 12.7, 11.2, 10.6, 12.5]))
    race = pick([1.0, 3.2, 9.6, 0.8, 85.4])
    country = pick([1.8, 0.8, 0.3, 0.6, 0.5, 4.0, 0.6, 0.6, 0.6, 89.6, 0.1])
    high_ed = np.isin(education, [1, 2, 5, 6])
    gain = np.where(rng.random(n) < np.where(high_ed, 0.16, 0.05),
                    np.minimum(np.rint(np.exp(rng.normal(8.3, 0.9, n))), 99999), 0)
    gain = np.where((gain > 0) & (rng.random(n) < 0.05), 99999, gain)
    loss = np.where(rng.random(n) < 0.047, np.rint(rng.normal(1900, 250, n)).clip(155, 4356), 0)
    hours = np.where(rng.random(n) < 0.47, 40, np.rint(rng.normal(40 + 5 * sex + 3 * high_ed - 8 * young, 12, n)))
    hours = np.clip(hours, 1, 99)
    cols = [age, workclass, education, marital, occupation, relationship, race, sex, gain, loss, hours, country]
    return np.stack(cols, axis=1).astype("float64")


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (n, 57) float32 = heae_preprocessor(X_train); y (n, 12) float32 = [output_1 targets | 8 category ids];
    held-out x; held-out true standardised numerical features (for measuring)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    X_all = _adult_like(n_tr + N_INPUTS, rng)
    X_train, X_test = X_all[:n_tr], X_all[n_tr:]
    category_values = [range(CATEGORY_SIZES[c]) for c in categorical_ids]

    # the black-box classifier's preprocessor (notebook cell 7): categorical columns FIRST
    num_transf = StandardScaler()
    cat_transf = OneHotEncoder(categories=category_values, handle_unknown="ignore")
    preprocessor = ColumnTransformer(
        transformers=[
            ("cat", cat_transf, categorical_ids),
            ("num", num_transf, numerical_ids),
        ],
        sparse_threshold=0
    )
    preprocessor.fit(X_train)
    X_train_ohe = preprocessor.transform(X_train)

    # get_he_preprocessor: numerical columns FIRST
    he = ColumnTransformer(
        transformers=[
            ("num", StandardScaler(), numerical_ids),
            ("cat", OneHotEncoder(categories=category_values, handle_unknown="ignore"), categorical_ids)
        ],
        sparse_threshold=0
    )
    he.fit(X_train)
    heae_preprocessor = he.transform

    # Define trainset
    trainset_input = heae_preprocessor(X_train).astype(np.float32)
    if fixed:  # PR #651
        trainset_outputs = {"output_1": trainset_input[:, :len(numerical_ids)]}
    else:
        trainset_outputs = {"output_1": X_train_ohe[:, :len(numerical_ids)]}
    for i, cat_id in enumerate(categorical_ids):
        trainset_outputs.update({f"output_{i+2}": X_train[:, cat_id]})

    y = np.concatenate([trainset_outputs["output_1"]] +
                       [trainset_outputs[f"output_{i+2}"][:, None] for i in range(len(categorical_ids))], axis=1)
    x_test = heae_preprocessor(X_test).astype(np.float32)
    return trainset_input, y.astype(np.float32), x_test, x_test[:, :N_NUM].copy()


def _common(fixed: bool) -> dict[str, Any]:
    x, y, xh, _ = _data(fixed)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": xh}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)

    class ADULTEncoder(nn.Module):
        def __init__(self, hidden_dim: int, latent_dim: int) -> None:
            super().__init__()
            self.fc1 = torch_dense(IN_DIM, hidden_dim)
            self.fc2 = torch_dense(hidden_dim, latent_dim)

        def forward(self, x: Any) -> Any:
            x = F.relu(self.fc1(x))
            x = torch.tanh(self.fc2(x))
            return x

    class ADULTDecoder(nn.Module):
        def __init__(self, hidden_dim: int, output_dims: list[int]) -> None:
            super().__init__()
            self.fc1 = torch_dense(LATENT_DIM, hidden_dim)
            self.fcs = nn.ModuleList([torch_dense(hidden_dim, dim) for dim in output_dims])

        def forward(self, x: Any) -> list[Any]:
            x = F.relu(self.fc1(x))
            xs = [fc(x) for fc in self.fcs]
            return xs

    class HeAE(nn.Module):  # AE.forward: decoder(encoder(x)); outputs packed into one tensor
        def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
            super().__init__()
            self.encoder = encoder
            self.decoder = decoder

        def forward(self, x: Any) -> Any:
            z = self.encoder(x)
            x_hat = self.decoder(z)
            return torch.cat(x_hat, dim=-1)

    model = HeAE(encoder=ADULTEncoder(hidden_dim=HIDDEN_DIM, latent_dim=LATENT_DIM),
                 decoder=ADULTDecoder(hidden_dim=HIDDEN_DIM, output_dims=OUTPUT_DIMS))

    def loss_fn(out: Any, y: Any) -> Any:
        """he_loss with he_loss_weights: MSE x 1 on output_1, sparse CE from logits x 1/8 on each categorical."""
        loss = F.mse_loss(out[:, :N_NUM], y[:, :N_NUM])
        off = N_NUM
        for i, dim in enumerate(OUTPUT_DIMS[1:]):
            loss = loss + F.cross_entropy(out[:, off:off + dim], y[:, N_NUM + i].long()) / len(categorical_ids)
            off += dim
        return loss

    c = _common(fixed)
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)

    class ADULTEncoder(keras.Model):
        def __init__(self, hidden_dim: int, latent_dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.fc1 = keras.layers.Dense(hidden_dim)
            self.fc2 = keras.layers.Dense(latent_dim)

        def call(self, x: Any, **kwargs: Any) -> Any:
            x = tf.nn.relu(self.fc1(x))
            x = tf.nn.tanh(self.fc2(x))
            return x

    class ADULTDecoder(keras.Model):
        def __init__(self, hidden_dim: int, output_dims: list[int], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.fc1 = keras.layers.Dense(hidden_dim)
            self.fcs = [keras.layers.Dense(dim) for dim in output_dims]

        def call(self, x: Any, **kwargs: Any) -> list[Any]:
            x = tf.nn.relu(self.fc1(x))
            xs = [fc(x) for fc in self.fcs]
            return xs

    class HeAE(keras.Model):  # AE.call: decoder(encoder(x)); the list of outputs packed into one tensor
        def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder

        def call(self, x: Any, **kwargs: Any) -> Any:
            z = self.encoder(x, **kwargs)
            x_hat = self.decoder(z, **kwargs)
            return keras.ops.concatenate(x_hat, axis=-1)

    heae = HeAE(encoder=ADULTEncoder(hidden_dim=HIDDEN_DIM, latent_dim=LATENT_DIM),
                decoder=ADULTDecoder(hidden_dim=HIDDEN_DIM, output_dims=OUTPUT_DIMS))

    # Define loss functions.
    he_loss = [keras.losses.MeanSquaredError(reduction=None)]
    he_loss_weights = [1.]
    for i in range(len(categorical_ids)):
        he_loss.append(keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None))
        he_loss_weights.append(1. / len(categorical_ids))

    def packed_he_loss(y_true: Any, y_pred: Any) -> Any:
        """The compiled multi-output loss sum_i w_i * loss_i on the packed outputs / targets (per sample)."""
        loss = he_loss_weights[0] * he_loss[0](y_true[:, :N_NUM], y_pred[:, :N_NUM])
        off = N_NUM
        for i, dim in enumerate(OUTPUT_DIMS[1:]):
            loss = loss + he_loss_weights[i + 1] * he_loss[i + 1](y_true[:, N_NUM + i], y_pred[:, off:off + dim])
            off += dim
        return loss

    heae.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=packed_he_loss)
    heae(np.zeros((1, IN_DIM), dtype="float32"))  # create the weights
    return {"model": heae, **_common(fixed)}


buggy, fixed = versions(_torch, _keras)
