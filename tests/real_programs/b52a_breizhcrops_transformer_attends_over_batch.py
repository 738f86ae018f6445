"""BreizhCrops (dl4sits/BreizhCrops, a Sentinel-2 crop-type time-series benchmark with PyTorch models), its
``TransformerModel`` as ``examples/evaluate.py`` trains it: ``get_model("TransformerEncoder", ndims=13, num_classes=9,
sequencelength=45)`` (L1C level: 13 bands, 9 classes, the default transform samples 45 acquisitions per parcel), the
model defaults ``d_model=64, n_head=1, n_layers=3, d_inner=256, activation="relu", dropout=0.399``, ``Adam(lr=
0.0013144015360979785, weight_decay=5.523908582054716e-08)`` (``select_hyperparameter("TransformerEncoder")``),
``CrossEntropyLoss(reduction="mean")`` on the model's log-probabilities, batches of 256 (evaluate.py's default;
train.py's is 1024), ``train_epoch``: zero_grad, forward, loss, backward, step, in train mode.

The fault (``breizhcrops/models/TransformerModel.py`` at 812bca8, the last version before the fix):
    self.sequential = Sequential(Linear(input_dim, d_model), ReLU(),
                                 TransformerEncoder(encoder_layer, n_layers, encoder_norm),
                                 Flatten(), ReLU(), Linear(d_model*sequencelength, num_classes))
    def forward(self, x): logits = self.sequential(x) ...
The dataloader gives x as N x T x D (batch first), but ``nn.TransformerEncoder`` (requirements: torch>=1.4, which had
no ``batch_first``; it came in 1.9 and is still False by default) reads its input as (sequence, batch, features). So
the self-attention runs over the *batch* axis: at each of the 45 acquisition dates, every parcel attends to the same
date of all other parcels of the batch, and never to its own other dates. The prediction for a parcel depends on which
parcels share its batch; the Flatten + ``Linear(d_model * 45)`` head still sees each parcel's 45 per-date vectors, so
training and batched evaluation look healthy. Fix: 796a923c "fixed Transformer attention bug" (issue #20
"Transformer Bug": "Fixed a bug in the new transformer implementation. Need to redo tuning + upload of weights"):
``x.transpose(0, 1)`` before and after the encoder (N x T x D -> T x N x D), then ``x.max(1)[0]``, ReLU and
``Linear(d_model, num_classes)`` (the commit replaced the flattening head by a max over time, and dropped the
``sequencelength`` argument).

Source: github.com/dl4sits/BreizhCrops, breizhcrops/models/TransformerModel.py, examples/train.py (``get_model``,
``train_epoch``, ``test_epoch``, ``get_dataloader`` meta), examples/evaluate.py (``select_hyperparameter``, batch size
256), breizhcrops/datasets/breizhcrops.py (``get_default_transform``), all at
812bca85bdec0de4a06a80c5b61529ad9b4b3b7d (= 796a923c^; the model file last changed in 4b944fa "updated default
parameter"); fix 796a923c6e4fdbbd856b57573172e67c0fa62321 (2020-06-08), issue #20 (closed, the maintainer citing
796a923c; retuned defaults followed in ea0be0a).
Fault label: batch_mixing (attention over the batch axis: each parcel's output depends on its batch mates).

Program lines kept: both ``TransformerModel`` versions and ``Flatten`` as the two commits have them (the fixed
version's unused ``self.flatten`` included), PyTorch's default initialisation, log_softmax output into
``CrossEntropyLoss``, Adam with evaluate.py's rate and weight decay, the model defaults above (no width shrunk).
Ported: ``enable_nested_tensor=False`` passed to ``TransformerEncoder`` only to silence current PyTorch's warning
for sequence-first layers (no effect on the computation); the dataloader / tqdm / logging plumbing dropped; the
batches given here hold 32 parcels instead of evaluate.py's 256 (a step on 256 parcels costs 0.4-1 s on one loaded
CPU thread, 64 about 0.1 s, 32 about 0.05 s); torch only: the fault is PyTorch's sequence-first layout of
``nn.TransformerEncoder`` -- Keras' attention layers take batch-first input, so the program has no Keras twin.
Data stand-in (no BreizhCrops download): ``parcels(n)`` -- (n, 45, 13) float32 top-of-atmosphere reflectances as
``get_default_transform`` returns them (bands B1, B10, B11, B12, B2, B3, B4, B5, B6, B7, B8, B8A, B9 times 1e-4, so
about 0.0-0.8; 45 of a parcel's 30-140 acquisitions in 2017 drawn without replacement and sorted by date) and int64
labels 0..8 (barley, wheat, rapeseed, corn, sunflower, orchards, nuts, permanent / temporary meadows) with rough
BreizhCrops class shares (meadows and corn dominate, sunflower / orchards / nuts about 1 % or less). Each class has
a phenology (green-up and harvest dates, peak cover) that mixes a canopy spectrum (with per-crop differences) and a
soil spectrum; cereals ripen to straw before harvest, rapeseed flowers in April, meadows are mown; parcels vary in
timing, vigour and soil brightness; 25 % of the acquisitions are cloudy or hazy. A logistic regression on the
flattened series reaches 0.90 held-out accuracy, on per-band mean/max/min/std 0.73 (majority class 0.26).

Measured (my own loop, /tmp/s38/h52a/measure.py; OMP_NUM_THREADS=1, torch seed 0; 4,096 training parcels (seed 10)
shuffled into batches of 32, 6 epochs = 768 steps; 2,048 held-out parcels (seed 11) evaluated in eval mode as
``test_epoch`` does, in batches of 256 in file order; ln 9 = 2.197):
  buggy: held-out loss/acc 2.196/0.26 at init, 0.447/0.85 after 128 steps, 0.190/0.93 after 512, 0.145/0.95 after
        768 (bs 256 shuffled 0.145/0.95, bs 32 0.146/0.95) -- but one parcel at a time, as the readme's pretrained
        inference does (``x.unsqueeze(0)``), 1.423/0.47: 52 % of the held-out predictions differ between batches of
        256 and single parcels, and the log-probabilities of a parcel move by up to 2.86 between two shufflings
        of the held-out set.
  fixed: 2.420/0.23 at init, 1.704/0.40 after 128, 0.389/0.88 after 512, 0.329/0.88 after 768 -- identical in
        batches of 256, 32 and 1 (largest change 0).
  At the program's batch size 256 (8,192 training parcels, 192 steps): buggy 0.156/0.94 batched vs 1.511/0.50 one
        at a time (49 % of predictions change); fixed 0.393/0.88 in every batch size. Batches of 64 (4,096 parcels,
        512 steps): buggy 0.178/0.94 vs 2.940/0.37 one at a time (64 % change); fixed 0.322/0.90 throughout.
  At initialisation (the module's first batch of 32, eval mode) replacing parcel 0 moves the other parcels'
        log-probabilities by up to 0.0079 in the buggy model and by exactly 0 in the fixed one; initial loss on it
        2.076 (eval) / 2.014 (train mode, one dropout draw) buggy vs 2.446 / 2.866 fixed (the max over time of the
        encoder output gives the fixed model larger initial logits).
  One batch of 32 repeated, loss at 0/25/50/100/200 steps: buggy 2.024, 0.252, 0.012, 0.001, 0.000; fixed 2.808,
        1.48, 1.23, 0.358, 0.138. The buggy model learns well and fast (its head sees every date separately); the
        fault shows only as the dependence on the batch.
About 45-55 ms per training step (batch 32) in both versions on one CPU thread of the loaded two-core machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:dl4sits/BreizhCrops issue #20 (breizhcrops/models/TransformerModel.py TransformerModel: "
          "Sequential(Linear, ReLU, TransformerEncoder, Flatten, ReLU, Linear(d_model*sequencelength)) on N x T x D "
          "input @796a923c6e4fdbbd856b57573172e67c0fa62321^ = 812bca85bdec0de4a06a80c5b61529ad9b4b3b7d; "
          "examples/evaluate.py select_hyperparameter, examples/train.py get_model/train_epoch, "
          "breizhcrops/datasets/breizhcrops.py get_default_transform; "
          "fix 796a923c6e4fdbbd856b57573172e67c0fa62321 'fixed Transformer attention bug': "
          "x.transpose(0, 1) around the encoder, max over time)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 9}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {}), ("batch_independence", {})]

# program settings: breizhcrops get_default_transform / train.py get_dataloader meta (level L1C) and the
# TransformerModel defaults; examples/evaluate.py: batchsize 256, select_hyperparameter("TransformerEncoder")
ndims = 13
num_classes = 9
sequencelength = 45
d_model, n_head, n_layers, d_inner = 64, 1, 3, 256
dropout = 0.39907201621346594
batchsize = 256  # evaluate.py's default (train.py: 1024)
BATCH = 32  # the batches given here: 256 parcels cost 0.4-1 s a step on one loaded CPU thread, 32 ~0.05 s
learning_rate = 0.0013144015360979785
weight_decay = 5.523908582054716e-08
SEED = 0
N_BATCHES = 4

# L1C bands in the order of the default transform's selected_bands
BAND_NAMES = ['B1', 'B10', 'B11', 'B12', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9']
CLASSES = ["barley", "wheat", "rapeseed", "corn", "sunflower", "orchards", "nuts", "permanent meadows",
           "temporary meadows"]
# rough class shares of BreizhCrops (meadows and corn dominate; sunflower, orchards and nuts are rare)
CLASS_SHARE = np.array([0.07, 0.15, 0.035, 0.22, 0.005, 0.01, 0.005, 0.26, 0.245])
CLASS_SHARE = CLASS_SHARE / CLASS_SHARE.sum()
# phenology per class: (green-up day, senescence/harvest day, peak vegetation fraction, winter cover)
PHENOLOGY = {
    0: (60, 178, 0.90, 0.45),   # winter barley: green over winter, harvest late June
    1: (75, 205, 0.92, 0.40),   # winter wheat: harvest late July
    2: (50, 185, 0.95, 0.60),   # rapeseed: dense winter cover, flowers in April
    3: (165, 280, 0.95, 0.05),  # maize: bare until June, harvest October
    4: (140, 250, 0.85, 0.05),  # sunflower
    5: (100, 290, 0.60, 0.30),  # orchards: leaves April-October over grass
    6: (110, 280, 0.55, 0.25),  # nuts
    7: (70, 300, 0.80, 0.60),   # permanent meadows: green all year, mown
    8: (60, 290, 0.85, 0.50),   # temporary meadows
}
# TOA reflectance (x 1e-4 already applied) of green vegetation and of bare soil, per band above
VEG = np.array([0.12, 0.004, 0.16, 0.07, 0.08, 0.08, 0.04, 0.11, 0.26, 0.33, 0.36, 0.38, 0.12])
SOIL = np.array([0.14, 0.006, 0.32, 0.24, 0.11, 0.13, 0.16, 0.19, 0.21, 0.23, 0.24, 0.26, 0.08])
STRAW = np.array([0.15, 0.005, 0.36, 0.24, 0.12, 0.15, 0.18, 0.22, 0.26, 0.28, 0.29, 0.31, 0.10])  # ripe cereals
# canopy differences between crops (leaf structure, row spacing, shadows): factors on VEG per band group
CANOPY = {3: {"nir": 1.15, "swir": 0.85}, 4: {"nir": 1.05, "vis": 1.15}, 5: {"nir": 0.8, "vis": 0.9},
          6: {"nir": 0.85, "swir": 1.1}, 7: {"vis": 1.15, "nir": 0.92}, 8: {"nir": 1.05}}
BAND_GROUPS = {"vis": [0, 4, 5, 6], "swir": [2, 3], "nir": [8, 9, 10, 11]}
FLOWER = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.06, 0.05, 0.03, 0.0, 0.0, 0.0, 0.0, 0.0])  # rapeseed's yellow


def parcels(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """BreizhCrops L1C stand-in after ``get_default_transform``: (n, 45, 13) float32 Sentinel-2 top-of-atmosphere
    reflectances (bands B1, B10, B11, B12, B2, B3, B4, B5, B6, B7, B8, B8A, B9, x 1e-4, so mostly 0..0.5, clouds up
    to ~0.9), 45 acquisitions drawn without replacement (with, when fewer) from the parcel's 2017 series and
    sorted by date, and int64 labels 0..8 with BreizhCrops-like class shares. Each class has its own phenology
    (vegetation fraction over the year mixing a vegetation and a soil spectrum), parcels vary in timing,
    vigour and soil brightness, ~25 % of acquisitions are cloudy or hazy."""
    rng = np.random.default_rng(seed)
    y = rng.choice(num_classes, n, p=CLASS_SHARE)
    x = np.empty((n, sequencelength, ndims), "float32")
    for i, c in enumerate(y):
        up, down, peak, winter = PHENOLOGY[int(c)]
        up += rng.normal(0, 10)
        down += rng.normal(0, 10)
        peak = np.clip(peak + rng.normal(0, 0.05), 0.2, 1.0)
        n_obs = int(rng.integers(30, 140))  # acquisitions of the parcel in 2017 (two tiles, overlaps)
        days = np.sort(rng.uniform(0, 365, n_obs))
        idxs = np.sort(rng.choice(n_obs, sequencelength, replace=n_obs < sequencelength))
        t = days[idxs]
        grow = 1.0 / (1.0 + np.exp(-(t - up) / 8.0))
        fall = 1.0 / (1.0 + np.exp((t - down) / 6.0))
        v = winter * (1 - grow) * (t < up + 30) + peak * grow * fall
        if c in (7, 8):  # mowing: short dips of the cover
            for cut in rng.uniform(120, 260, 2):
                v = v * (1 - 0.5 * np.exp(-np.maximum(t - cut, 0) / 12.0) * (t > cut))
        v = np.clip(v + rng.normal(0, 0.03, len(t)), 0, 1)
        soil = SOIL * rng.uniform(0.8, 1.2)
        veg = VEG.copy()
        for group, factor in CANOPY.get(int(c), {}).items():
            veg[BAND_GROUPS[group]] *= factor
        spec = v[:, None] * veg[None] + (1 - v[:, None]) * soil[None]
        if c in (0, 1, 2):  # ripening: the canopy turns to straw in the month before harvest, stubble after
            ripe = np.exp(-((t - (down - 12)) / 14.0) ** 2) * (1 - 0.5 * (t > down))
            spec = (1 - ripe[:, None]) * spec + ripe[:, None] * STRAW[None]
        if c == 2:  # flowering in April-early May
            spec = spec + FLOWER[None] * np.exp(-((t - 110) / 12.0) ** 2)[:, None]
        spec = spec * rng.normal(1.0, 0.04, spec.shape)
        cloud = rng.random(len(t)) < 0.25
        haze = rng.uniform(0.2, 0.8, len(t))[:, None]
        spec = np.where(cloud[:, None], (1 - haze) * spec + haze * rng.uniform(0.45, 0.9, (len(t), 1)), spec)
        spec[cloud, 1] = spec[cloud, 1] + rng.uniform(0.01, 0.08, int(cloud.sum()))  # cirrus band B10
        x[i] = np.clip(spec, 0, 1.2)
    return x, y.astype("int64")


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x, y = parcels(N_BATCHES * BATCH, SEED)
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N_BATCHES * BATCH, BATCH)]
    return batches, x


def _torch_model(fixed: bool) -> Any:
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn import LayerNorm, Linear, ReLU, Sequential
    from torch.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer

    class Flatten(nn.Module):
        def forward(self, input):
            if fixed:
                return input.reshape(input.size(0), -1)
            return input.view(input.size(0), -1)

    class TransformerModel(nn.Module):
        def __init__(self, input_dim=13, num_classes=9, sequencelength=13, d_model=64, n_head=1, n_layers=3,
                     d_inner=256, activation="relu", dropout=0.39907201621346594):
            super().__init__()
            encoder_layer = TransformerEncoderLayer(d_model, n_head, d_inner, dropout, activation)
            encoder_norm = LayerNorm(d_model)
            # enable_nested_tensor=False only silences current PyTorch's warning (sequence-first layers)
            if fixed:  # 796a923c
                self.inlinear = Linear(input_dim, d_model)
                self.relu = ReLU()
                self.transformerencoder = TransformerEncoder(encoder_layer, n_layers, encoder_norm,
                                                             enable_nested_tensor=False)
                self.flatten = Flatten()
                self.outlinear = Linear(d_model, num_classes)
            else:  # 812bca8
                self.sequential = Sequential(
                    Linear(input_dim, d_model),
                    ReLU(),
                    TransformerEncoder(encoder_layer, n_layers, encoder_norm, enable_nested_tensor=False),
                    Flatten(),
                    ReLU(),
                    Linear(d_model * sequencelength, num_classes)
                )

        def forward(self, x):
            if fixed:
                x = self.inlinear(x)
                x = self.relu(x)
                x = x.transpose(0, 1)  # N x T x D -> T x N x D
                x = self.transformerencoder(x)
                x = x.transpose(0, 1)  # T x N x D -> N x T x D
                x = x.max(1)[0]
                x = self.relu(x)
                logits = self.outlinear(x)
            else:
                logits = self.sequential(x)
            logprobabilities = F.log_softmax(logits, dim=-1)
            return logprobabilities

    if fixed:  # the fix also dropped the sequencelength argument (train.py get_model)
        return TransformerModel(input_dim=ndims, num_classes=num_classes, d_model=d_model, n_head=n_head,
                                n_layers=n_layers, d_inner=d_inner, activation="relu", dropout=dropout)
    return TransformerModel(input_dim=ndims, num_classes=num_classes, sequencelength=sequencelength,
                            d_model=d_model, n_head=n_head, n_layers=n_layers, d_inner=d_inner,
                            activation="relu", dropout=dropout)


def _torch(fixed: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    model = _torch_model(fixed)
    model.train()
    batches, inputs = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "loss_fn": torch.nn.CrossEntropyLoss(reduction="mean"),
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _torch(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _torch(fixed=True)
