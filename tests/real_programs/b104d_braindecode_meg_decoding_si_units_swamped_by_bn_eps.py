"""braindecode (PyTorch EEG/MEG decoding library), tutorial ``examples/advanced_training/
plot_temporal_generalization.py`` ("Temporal generalization with Braindecode"): it redoes MNE's temporal-decoding
tutorial with a neural network. The MNE sample data (``sample_audvis_filt-0-40_raw.fif``) are band-passed 2-20 Hz,
epoched -0.2..0.5 s around the Auditory/Left and Visual/Left events (gradiometers only, 'MEG 2443' marked bad,
``decim=3``, 123 epochs, 203 channels), and an ``EEGClassifier(BasicMLP, criterion=nn.CrossEntropyLoss,
optimizer=AdamW, optimizer__lr=0.01, batch_size=8, max_epochs=30, LRScheduler("CosineAnnealingLR", T_max=29))`` is
fitted per time point by MNE's ``SlidingEstimator`` (so each model sees (batch, 203) channel vectors of one time
point) and scored by ROC AUC over 5 folds. ``BasicMLP`` = ``nn.BatchNorm1d(n_chans, affine=False, eps=1e-5)`` (meant
as the ``StandardScaler`` of MNE's pipeline) -> Linear(203, 203) -> GELU -> Linear(203, 203) -> GELU -> Linear(203, 2).

The fault (input scale): the data were taken with ``X = epochs.get_data(copy=False)``, i.e. in SI units, tesla per
metre, where gradiometer signals are ~1e-12..1e-11 and their variance ~1e-23. The network's only normalisation is
the BatchNorm layer, which divides by sqrt(var + eps) with ``eps=1e-5``: the eps is ~1e18 times the variance, so the
"normalised" input is the centred data divided by ~3e-3, values ~1e-9 instead of unit scale. Every sample then
reaches the MLP as practically the same all-zero vector, the logits are the same for all samples up to ~1e-9, and the
network can only fit the class prior. A comment in the buggy tutorial already noted that with one batch of all
123 epochs (where the BatchNorm equals a StandardScaler) the model did "significantly worse" than MNE's and guessed
at numerical instability; the fix commit puts the loss at a peak AUC of ~0.75 instead of ~0.9.

Source: github.com/braindecode/braindecode ``examples/advanced_training/plot_temporal_generalization.py`` at
3917291a4b8334e64a3065b225aeda75ebad1c96 (= 37b5964f^; the line dates from the tutorial's first commits, e0eb9d21 /
24cc4849, Nov. 2025), fixed by 37b5964f8d9e653be9aa5d5133535eb11d7687eb "[FIX] Fix temporal generalization tutorial
degraded results (#975)": in the maintainer's words, use fT/cm instead of SI units because MEG data in T/m "has
variances ~1e-23, causing BatchNorm1d's eps (1e-5) to dominate the normalization denominator", which broke the
standardisation and lowered the AUC; the fix is ``X = epochs.get_data(units="fT/cm")`` (a factor 1e13 on the
gradiometer data); the same commit removed the tutorial's "importance of normalization" section, whose conclusions
it calls an artifact of the data scale.
Fault label: inputs_not_normalized (inputs in SI units, ~1e-11, so tiny that the BatchNorm eps wipes them out).

Program lines kept: ``BasicMLP`` verbatim (its BatchNorm1d with ``affine=False, eps=1e-5``, torch default inits),
``module__n_times=1``, ``nn.CrossEntropyLoss``, ``AdamW`` with lr 0.01 (torch's other defaults: weight_decay 0.01,
eps 1e-8, as skorch builds it over ``module.parameters()``), batch size 8. Buggy: the data in T/m as
``get_data(copy=False)`` returns them; fixed: the same data times 1e13, what ``get_data(units="fT/cm")`` returns.
Nothing was shrunk (203 channels, 2 classes).
Replaced / left out: skorch's ``EEGClassifier`` fit loop (shuffled batches of 8, ``drop_last=True``) by the
checks' plain loop; MNE's ``SlidingEstimator`` / ``cross_val_multiscore`` (one model per time point) by one time
point; the per-epoch cosine LR schedule (measured below both with and without it); the Shapley-value and
``GeneralizingEstimator`` parts of the tutorial. Data are float32 (torch's default dtype for the MLP).
Keras twin: ``BatchNormalization(epsilon=1e-5, center=False, scale=False, momentum=0.9)`` (= torch momentum 0.1),
``Dense`` layers with torch's Linear init (kernel and bias U(+-1/sqrt(fan_in))), Keras' exact-erf ``gelu``, logits
with ``SparseCategoricalCrossentropy(from_logits=True)``, ``AdamW(0.01, weight_decay=0.01, epsilon=1e-8)``; Keras'
BatchNormalization adds its epsilon to the batch variance the same way, so the fault is the same.
Data stand-in (no MNE sample download): one time point of 203 planar-gradiometer channels (102 sites on a
hemisphere, two orthogonal gradients each, the last one dropped as the bad channel), labels 0 = auditory, 1 =
visual (``LabelEncoder`` of event ids 1 / 3), balanced and shuffled. Each trial = class-specific evoked field
(auditory: opposite bilateral temporal sources; visual: an occipital source; 8 fT/cm peak) x trial amplitude
N(1, 0.35), + 20 random focal background sources (12 fT/cm peak, N(0, 1) weights) + N(0, 6 fT/cm) sensor noise;
drawn in fT/cm (std ~13, |x| up to ~50) and stored in T/m (x 1e-13, std ~1.3e-12) as ``get_data()`` gives it.
``batches``: 12 batches of 8 (96 epochs, as 5-fold training splits of 123 epochs give with drop_last), ``batch``
the first, ``baseline_batch`` the 96 training epochs together, ``inputs`` 128 held-out epochs. A standardised
logistic regression reaches held-out AUC 0.97 on it.

Measured (my own plain loop, /tmp/s60/p/d/measure.py: the module's builds, 30 epochs over the 12 batches in a
seeded random order each epoch = 360 steps, OMP_NUM_THREADS=1, SEED 0; losses are epoch means at epochs
1 / 2 / 3 / 5 / 10 / 15 / 20 / 30; then on the 96 training / 128 held-out epochs in eval mode):
  torch buggy  0.706 0.703 0.694 0.695 0.693 0.694 0.697 0.699; train loss 0.692, held-out loss 0.694, AUC 0.500,
               accuracy 0.48; std over samples of the logit difference 3.7e-9 (all samples get the same output)
  torch fixed  1.148 0.560 0.288 0.107 0.573 0.088 0.000 0.000; train loss 0.037, held-out loss 1.33, AUC 0.891,
               accuracy 0.81; logit-difference std 20.8
  keras buggy  0.705 0.719 0.696 0.698 0.694 0.696 0.693 0.695; train 0.693, held-out 0.694, AUC 0.500, acc 0.48
  keras fixed  1.193 0.614 0.379 0.200 0.316 0.004 0.037 0.000; train 0.109, held-out 1.13, AUC 0.921, acc 0.83
  With the tutorial's cosine schedule: torch buggy held-out AUC 0.500 (loss 0.692 at epoch 30), fixed 0.886;
    Keras buggy 0.500, fixed 0.902.
  One batch of 8 repeated, loss at steps 1 / 10 / 25 / 50 / 100: torch buggy 0.698 0.662 0.662 0.662 0.662 (only the
    biases learn the batch's 3:5 class ratio, whose entropy is 0.662), fixed 0.681 0.000 0.000 0.000 0.000; Keras
    buggy 0.691 0.662 0.662 0.662 0.662, fixed 0.674 0.000 ...
  On the first batch in train mode the BatchNorm output has std 3.9e-10 (buggy) vs 1.0 (fixed); loss at init on the
    96 training epochs 0.693 / 0.694.
  So on this stand-in the buggy network learns nothing beyond the class prior (AUC at chance), a harsher outcome
  than the tutorial's peak AUC 0.75 on the real recordings, where the evoked fields are larger relative to the
  rest. The fixed network fits the training data and overfits after ~10 epochs (held-out loss > 1) while its AUC
  stays ~0.9, as the tutorial reports after the fix.
  Time: torch ~4 ms a step (360 steps ~1.4 s), Keras ``train_on_batch`` ~15-20 ms; first build with the framework
  import ~9 s (torch) / ~18 s (Keras) on a shared machine, later builds < 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "inputs_not_normalized"
SOURCE = ("github:braindecode/braindecode PR #975, fix 37b5964f8d9e653be9aa5d5133535eb11d7687eb '[FIX] Fix temporal "
          "generalization tutorial degraded results (#975)' (examples/advanced_training/plot_temporal_generalization.py"
          "@3917291a4b8334e64a3065b225aeda75ebad1c96 = 37b5964f^: 'X = epochs.get_data(copy=False)' in SI units (T/m) "
          "fed to BasicMLP's nn.BatchNorm1d(n_chans, affine=False, eps=1e-5); fix: "
          "X = epochs.get_data(units=\"fT/cm\"))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("input_independent_baseline", {})]

# the tutorial
N_CHANS = 203  # 204 gradiometers of the MNE sample data less the bad 'MEG 2443'
N_CLASSES = 2  # Auditory/Left vs Visual/Left, LabelEncoder -> 0 / 1
BATCH_SIZE = 8
LR = 0.01
T_PER_FT_CM = 1e-13  # 1 fT/cm = 1e-13 T/m: mne's get_data(units="fT/cm") multiplies gradiometer data by 1e13
# stand-in
N_BATCHES = 12  # ~98 training epochs of a 5-fold split of the 123 epochs, drop_last=True -> 12 batches of 8
N_INPUTS = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in for one time point of the epoched MNE sample gradiometer data, in SI units (T/m) as
    ``epochs.get_data()`` returns it: (n, 203) float32, labels 0 (auditory) / 1 (visual)."""
    r = np.random.default_rng(SEED)
    n_sites = (N_CHANS + 1) // 2  # 102 sensor sites, two orthogonal planar gradiometers each
    k = np.arange(n_sites) + 0.5
    polar = np.arccos(1 - k / n_sites)  # upper hemisphere (helmet), Fibonacci spiral
    azim = np.pi * (1 + 5 ** 0.5) * k
    pos = np.stack([np.sin(polar) * np.cos(azim), np.sin(polar) * np.sin(azim), np.cos(polar)], 1)

    def field(centre: np.ndarray, width: float) -> np.ndarray:
        """Planar-gradient pattern of a focal source: two gradiometers per site, cut to 203 channels."""
        d = pos - centre / np.linalg.norm(centre)
        g = np.exp(-(d ** 2).sum(1) / (2 * width ** 2))
        return np.stack([g * d[:, 0], g * d[:, 1]], 1).reshape(-1)[:N_CHANS] / width

    auditory = field(np.array([-0.9, 0.1, 0.3]), 0.35) - field(np.array([0.9, 0.1, 0.3]), 0.35)
    visual = field(np.array([0.0, -0.9, 0.35]), 0.4)
    patterns = np.stack([auditory, visual])
    patterns *= 8.0 / np.abs(patterns).max(1, keepdims=True)  # evoked peaks 8 fT/cm at one time point
    mixing = np.stack([field(r.normal(size=3), r.uniform(0.3, 0.6)) for _ in range(20)])
    mixing *= 12.0 / np.abs(mixing).max(1, keepdims=True)  # background brain activity

    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    y = np.arange(n) % N_CLASSES
    r.shuffle(y)
    amp = r.normal(1.0, 0.35, (n, 1))  # trial-to-trial variability of the evoked response
    x_ft = amp * patterns[y] + r.normal(size=(n, 20)) @ mixing + r.normal(0, 6.0, (n, N_CHANS))  # fT/cm
    x_si = (x_ft * T_PER_FT_CM).astype("float32")  # T/m, what epochs.get_data(copy=False) returns
    n_tr = N_BATCHES * BATCH_SIZE
    return x_si[:n_tr], y[:n_tr].astype("int64"), x_si[n_tr:], y[n_tr:].astype("int64")


def _common(fixed: bool) -> dict[str, Any]:
    x, y, xh, _ = _data()
    if fixed:  # the fix: X = epochs.get_data(units="fT/cm")
        x, xh = x / np.float32(T_PER_FT_CM), xh / np.float32(T_PER_FT_CM)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": xh, "baseline_batch": (x, y)}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.optim import AdamW

    class BasicMLP(nn.Module):
        """Simple 3 Layer MLP with GELU Activations between first
        and second layer and second and third layers
        """

        def __init__(self, n_chans, n_outputs, n_times):
            super().__init__()
            self.n_chans = n_chans
            self.n_classes = n_outputs
            self.n_times = n_times

            self.norm = nn.BatchNorm1d(self.n_chans, affine=False, eps=1e-5)

            self.model = nn.Sequential(
                nn.Linear(self.n_chans, self.n_chans),
                nn.GELU(),
                nn.Linear(self.n_chans, self.n_chans),
                nn.GELU(),
                nn.Linear(self.n_chans, self.n_classes),
            )

        def forward(self, x):
            x_norm = self.norm(x)
            return self.model(x_norm)

    torch.manual_seed(SEED)
    model = BasicMLP(n_chans=N_CHANS, n_outputs=N_CLASSES, n_times=1)  # module__n_times=1: one time point
    optimizer = AdamW(model.parameters(), lr=LR)  # optimizer=AdamW, optimizer__lr=0.01 (skorch)
    criterion = nn.CrossEntropyLoss()

    def loss_fn(outputs: Any, targets: Any) -> Any:
        return criterion(outputs, targets)

    c = _common(fixed)
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    bx, by = c["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": optimizer, "baseline_batch": (t(bx), t(by))}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        """torch.nn.Linear's default init: kernel and bias U(-1/sqrt(n_in), 1/sqrt(n_in))."""
        b = 1.0 / n_in ** 0.5
        return layers.Dense(n_out, activation=activation, kernel_initializer=keras.initializers.RandomUniform(-b, b),
                            bias_initializer=keras.initializers.RandomUniform(-b, b))

    inp = keras.Input((N_CHANS,))
    # nn.BatchNorm1d(n_chans, affine=False, eps=1e-5): torch momentum 0.1 = Keras momentum 0.9
    x = layers.BatchNormalization(epsilon=1e-5, center=False, scale=False, momentum=0.9)(inp)
    x = linear(N_CHANS, N_CHANS, "gelu")(x)  # Keras' gelu is the exact (erf) GELU, as nn.GELU()
    x = linear(N_CHANS, N_CHANS, "gelu")(x)
    out = linear(N_CHANS, N_CLASSES)(x)
    model = keras.Model(inp, out)
    # torch.optim.AdamW defaults: weight_decay=0.01, eps=1e-8
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LR, weight_decay=0.01, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, **_common(fixed)}


buggy, fixed = versions(_torch, _keras)
