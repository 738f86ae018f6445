"""deep-voice/soundbay (Deep Voice Foundation: detection of marine-mammal calls in underwater recordings,
"finding_willy"). ``soundbay/train.py`` builds the datasets from the hydra configs, a ``ResNet1Channel`` (``models.py``:
torchvision's ``ResNet`` with ``block = Bottleneck``, ``layers = [3, 4, 6, 3]``, ``num_classes = 2``, i.e. a ResNet-50
whose ``conv1`` is replaced by a fresh one-channel ``Conv2d(1, 64, 7, stride=2, padding=3, bias=False)``),
``CrossEntropyLoss``, ``Adam(lr=0.001)`` with ``ExponentialLR(gamma=0.995)`` stepped per epoch, and trains with
``Trainer.train_epoch`` (``model.zero_grad(); loss = criterion(model(audio), label); loss.backward();
optimizer.step()``). The data come from ``soundbay/data.py``'s ``ClassifierDataset``: an annotation CSV (begin_time,
end_time, filename, call_length, label 0 = Noise / 1 = Call), a segment of ``seq_length`` seconds read with
soundfile (train mode: a random start inside a call, the segment start for noise), ``Resample``, the augmentation
chain, then the preprocessors ``torchaudio.transforms.Spectrogram(n_fft, hop_length)``, ``AmplitudeToDB()`` and
``PeakNormalize`` (per-sample min-max to [0, 1]). With the repository's ICML 2013 data config
(``conf/data/icml2013.yaml``: the Cornell / Kaggle right-whale up-call clips, 2 s at 2 kHz, ``seq_length: 1.5``,
``n_fft: 256``, ``hop_length: 64``) an item is a (1, 129, 47) spectrogram.

The fault is in the training sampler. ``experiment.equalize_data: True`` is the default
(``conf/experiment/defaults.yaml``) and ``modeling`` then builds

    sampler = WeightedRandomSampler(1/train_dataset.items_per_classes, len(train_dataset) )

where ``items_per_classes = np.unique(self.metadata['label'], return_counts=True)[1]`` holds one count PER CLASS.
``WeightedRandomSampler`` takes one weight PER SAMPLE and draws ``torch.multinomial(weights, num_samples,
replacement=True)``, so with two classes it returns only the dataset indices 0 and 1 (with odds 1/n_noise :
1/n_call): every training batch of every epoch is made of the first two rows of the annotation CSV, again and again.
In the ICML 2013 ``annotation_train.csv`` (and in the Mozambique 2018 one after the call-length filter) those two
rows are both label 0 (Noise), so every training label is Noise: the loss drops to ~0 at once while the network
learns nothing about calls and predicts Noise for everything. Fixed in PR #49 ("hotfix/randomsampler", the author's
description: "WeightedRandomSampler uses torch.multinomial. This class assigns weights to *each sample* and so it
actually will choose the same samples (The first and second with the probabilities we assigned). What needed to be
done is to assign to *each* sample the prior probability."):

    weights = 1 / self.items_per_classes                                             # data.py BaseDataset.__init__
    self.samples_weight = np.array([weights[t] for t in self.metadata['label'] ])
    sampler = WeightedRandomSampler(train_dataset.samples_weight, len(train_dataset))  # train.py

Source: github.com/deep-voice/soundbay, buggy files at edd667fc2b63470e33cac7018a8d877caae67bb9 (= 4200c22^):
``soundbay/train.py`` (``modeling``), ``soundbay/data.py`` (``BaseDataset``, ``ClassifierDataset``,
``PeakNormalize``), ``soundbay/models.py`` (``ResNet1Channel``), ``soundbay/trainers.py`` (``Trainer``),
``soundbay/conf/{runs/main,experiment/defaults,model/defaults,optim/defaults,data/icml2013,
preprocessors/_preprocessors,augmentations/_augmentations}.yaml``, ``datasets/ICML_2013/annotation_*.csv``; the
sampler came in with 46cd520 "latest changes" (2022-06-07); fix commit 4200c22e255ceb388b66a9d7ec0d3c5147131f81
"hotfix changes" (PR #49, merge fc463680db832302e2a65a4e15e0081a8e0c23f7, 2022-07-26; the same change is also in
history as a94e217 / merge f0f6db5).
Fault label: labels_imbalanced|class_collapse (what reaches the model: batches that hold two distinct clips, both
of one class; the trained model predicts that class for everything). Fix: one weight per sample.

Program lines kept: the sampler lines exactly (as numpy draws with ``torch.multinomial``'s semantics, with
replacement: buggy over the 2 per-class weights, fixed over the per-sample weights), ``ClassifierDataset``'s train
crop (calls: ``start_time = random.randint(begin_time, end_time - seq_length * sr)``, margin_ratio 0; noise: the
segment start) and val crop (``slice_flag: true``: the first 1.5 s), the preprocessors (``Spectrogram(n_fft=256,
hop_length=64)`` = periodic Hann window, centre reflect padding, power 2; ``AmplitudeToDB`` = 10 log10(max(x,
1e-10)); ``PeakNormalize``), ``ResNet1Channel`` (torchvision's ResNet-50 structure: 7x7/2 stem conv + BN + ReLU +
3x3/2 max-pool, Bottleneck stages [3, 4, 6, 3] with the stride on the 3x3 conv and 1x1 conv + BN downsample, global
average pool, Linear head; kaiming_normal(fan_out) convolutions, BN 1/0, the replaced stem conv with PyTorch's
default init), ``CrossEntropyLoss``, ``Adam(lr=0.001)``, ``model.zero_grad`` / ``backward`` / ``step``.
Ported / shrunk: torchvision and torchaudio cannot be imported here, so the ResNet and the two transforms are written
out (same maths); the ResNet widths are divided by 8 (stem 8 channels, stages 8/16/32/64 planes, 256 features at the
head instead of 2048: at full width a step on a batch of 64 costs seconds on one CPU thread; at 1/8 it is
0.15-0.37 s); the batch size is the default config's 64 (``icml2013.yaml`` says 512); the augmentation chain is kept for
AddGaussianNoise (snr 15) and TemporalMasking (0.2 s) with the configured probabilities (chain p 0.5, each 0.5),
FrequencyMasking (a sox band-reject filter) is left out; the per-epoch ExponentialLR (0.995) is left out (the lr
stays 1e-3 over the measured steps); wandb logging, checkpoints and the metrics code are left out.
Keras twin: the same data (the sampler is plain index drawing, it does not depend on the framework: a
``keras.utils.PyDataset`` drawing indices the same way feeds the same batches), the same ResNet channels-last
(ZeroPadding2D + valid convolutions so the padding is PyTorch's, ``BatchNormalization(momentum=0.9, epsilon=1e-5)``,
He-normal fan_out kernels, PyTorch-default init for the stem conv and the head), ``Dense(2)`` logits,
``SparseCategoricalCrossentropy(from_logits=True)``, ``Adam(1e-3, epsilon=1e-8)``.

Data stand-in (no download): ``whale_clips`` draws seeded 2-s clips at 2 kHz (float in [-1, 1], as soundfile reads
the WAVs) of low-frequency ocean noise (1/f-shaped noise, a random tonal ship line on some clips, a few clicks);
a Call adds a North-Atlantic-right-whale up-call, a harmonic sweep rising from 60-110 Hz to 150-230 Hz over
0.5-0.9 s, placed in the first 1.5 s, at a varying SNR. 12.6% Calls, as ``annotation_train.csv`` (3253 of 25871);
rows 0 and 1 are Noise as the CSV's first two rows are (``TRAIN8398_0``, ``TRAIN8399_0``). 512 training clips (the
sampler draws 512 indices = 8 batches of 64), 256 validation clips for ``inputs`` (val mode: no augmentation).

Measured (my own plain loop, /tmp/h46a/measure.py, seed 0, OMP_NUM_THREADS=1, 2 busy cores): each epoch draws the
sampler again and applies fresh augmentations over the 512 training clips (8 steps of 64); torch ``zero_grad;
CE(model(x), y).backward(); step`` in train mode, Keras ``train_on_batch``; then the 256 validation clips (9.8%
Calls) in eval mode / ``predict``. Buggy batches: augmented copies of dataset items 0 and 1 only, all 64 labels 0 in
every batch; fixed: 61-64 distinct items per batch, 45-59% Calls (the training set holds 11.3%).
  torch, 25 epochs (200 steps), training loss at steps 1/10/20/40/80/120/160/200: buggy 0.520/0.0076/0.0008/0.0002/
  0.0001/0.0001/0.0001/0.0001; fixed 0.755/0.691/0.653/0.665/0.555/0.444/0.190/0.112. Validation: buggy predicts
  Noise for all 256 clips (accuracy 0.902 = the Noise share, Call recall 0.00, balanced accuracy 0.50, CE 0.89);
  fixed accuracy 0.902 with Call recall 0.88, Noise specificity 0.905, balanced accuracy 0.89, CE 0.25. (After 120
  steps the fixed model was at balanced accuracy 0.79, Call recall 0.96; the buggy one the same as at 200.)
  Keras, 25 epochs (200 steps), training loss at the same steps: buggy 1.039/0.018/0.0024/0.0005/0.0003/0.0002/
  0.0002/0.0002; fixed 0.701/0.826/0.666/0.772/0.657/0.587/0.599/0.407. Validation: buggy all Noise (accuracy
  0.902, Call recall 0.00, balanced 0.50, CE 0.80); fixed accuracy 0.781, Call recall 0.60, Noise specificity
  0.80, balanced 0.70, CE 0.52 (the Keras twin learns more slowly here; at 120 steps it was at balanced 0.55).
  The buggy run looks like a perfect training run (loss ~1e-4 within 20-40 steps) and its plain validation
  accuracy (0.90) equals the fixed model's: the fault shows in the labels of the batches (one class), in what the
  batches hold (two clips), and in a model whose predictions are constant.
Step time (one thread, loaded machine): torch 0.15-0.37 s, Keras 0.25-0.47 s (first Keras step 24-37 s, tracing);
at the program's full ResNet-50 width a step costs seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_imbalanced|class_collapse"
SOURCE = ("github:deep-voice/soundbay PR #49 (soundbay/train.py modeling 'WeightedRandomSampler(1/train_dataset."
          "items_per_classes, len(train_dataset))' with experiment.equalize_data: True, soundbay/data.py "
          "ClassifierDataset, soundbay/models.py ResNet1Channel, conf/data/icml2013.yaml @edd667fc2b63470e33cac7018"
          "a8d877caae67bb9; fix 4200c22e255ceb388b66a9d7ec0d3c5147131f81 'hotfix changes': per-sample "
          "samples_weight, merge fc463680db832302e2a65a4e15e0081a8e0c23f7)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 2}),
          ("gradients_flow", {}), ("output_range", {"kind": "logits"}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {})]

# conf/data/icml2013.yaml
sample_rate = 2000
data_sample_rate = 2000
seq_length = 1.5
n_fft = 256
hop_length = 64
augmentations_p = 0.5
# conf/data/defaults.yaml (icml2013.yaml: 512)
batch_size = 64
# conf/optim/defaults.yaml
lr = 0.001
num_classes = 2
CLIP_S = 2.0  # ICML 2013 clips: 2 s at 2 kHz (call_length 2.0 in annotation_train.csv)
CALL_FRACTION = 3253 / 25871  # annotation_train.csv
WIDTH_DIV = 8  # port: ResNet widths / 8
N_TRAIN, N_VAL = 512, 256
SEED = 0


# ----------------------------------------------------------------------------------------------------------
# Offline stand-in for the ICML 2013 right-whale clips
# ----------------------------------------------------------------------------------------------------------

def whale_clips(n: int, seed: int, force_first_noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4000) float32 clips in [-1, 1] and labels (n,) int64 (1 = up-call)."""
    rng = np.random.default_rng(seed)
    sr, length = data_sample_rate, int(CLIP_S * data_sample_rate)
    t = np.arange(length) / sr
    y = (rng.random(n) < CALL_FRACTION).astype("int64")
    if force_first_noise:
        y[:2] = 0  # the first two rows of annotation_train.csv are Noise
    freqs = np.fft.rfftfreq(length, 1 / sr)
    shape = 1.0 / np.maximum(freqs, 20.0) ** 0.8  # 1/f-like ocean noise, strongest at low frequencies
    x = np.empty((n, length), "float32")
    for i in range(n):
        spec = shape * (rng.normal(size=freqs.size) + 1j * rng.normal(size=freqs.size))
        noise = np.fft.irfft(spec, length)
        noise /= noise.std()
        if rng.random() < 0.3:  # a ship's tonal line
            noise += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(40, 400) * t + rng.uniform(0, 6))
        for _ in range(rng.integers(0, 4)):  # clicks
            k = rng.integers(0, length - 20)
            noise[k:k + 20] += rng.normal(0, 3, 20)
        sig = noise
        if y[i] == 1:
            dur = rng.uniform(0.5, 0.9)
            t0 = rng.uniform(0.15, 1.45 - dur)
            f0, f1 = rng.uniform(60, 110), rng.uniform(150, 230)
            tt = t - t0
            on = (tt >= 0) & (tt <= dur)
            phase = 2 * np.pi * (f0 * tt + 0.5 * (f1 - f0) / dur * tt ** 2)
            env = np.where(on, np.sin(np.pi * np.clip(tt / dur, 0, 1)), 0.0)
            call = env * (np.sin(phase) + 0.35 * np.sin(2 * phase))
            sig = sig + rng.uniform(1.0, 2.5) * call
        sig = sig / (np.abs(sig).max() + 1e-6) * rng.uniform(0.2, 0.9)
        x[i] = sig
    return x, y


# ----------------------------------------------------------------------------------------------------------
# ClassifierDataset.__getitem__ (crop, augmentation chain, preprocessors)
# ----------------------------------------------------------------------------------------------------------

def _augment(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ChainedAugmentations(p=augmentations_p) over AddGaussianNoise(p=0.5, snr=15) and TemporalMasking(p=0.5,
    max_secs=0.2); FrequencyMasking (sox bandreject) left out."""
    x = audio.copy()
    if augmentations_p < rng.random():
        return x
    if not 0.5 < rng.random():  # AddGaussianNoise
        g = rng.normal(size=x.shape)
        x = x + g / g.std() * 10 ** (-15 / 20) * x.std()
    if not 0.5 < rng.random():  # TemporalMasking
        max_len = int(min(0.2 * sample_rate, x.shape[-1]))
        m = int(rng.integers(max_len))
        s = int(rng.integers(x.shape[-1] - m))
        x[s:s + m] = 0
    return x


def _spectrogram(audio: np.ndarray) -> np.ndarray:
    """torchaudio Spectrogram(n_fft=256, hop_length=64) (periodic Hann, center, reflect pad, power 2),
    AmplitudeToDB() (10 log10, amin 1e-10, no top_db), PeakNormalize -> (1, 129, 47) float32 in [0, 1]."""
    pad = n_fft // 2
    a = np.pad(audio.astype("float64"), pad, mode="reflect")
    n_frames = 1 + (a.shape[0] - n_fft) // hop_length
    idx = np.arange(n_fft)[None, :] + hop_length * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(a[idx] * window, axis=1)) ** 2  # (frames, 129)
    db = 10.0 * np.log10(np.maximum(power.T, 1e-10))
    db = (db - db.min()) / (db.max() - db.min())  # PeakNormalize
    return db[None].astype("float32")


def dataset_item(clip: np.ndarray, label: int, mode: str, rng: np.random.Generator) -> np.ndarray:
    seg = int(seq_length * data_sample_rate)
    if mode == "train" and label == 1:  # margin_ratio 0: random.randint(begin_time, end_time - seq_len * sr)
        start = int(rng.integers(0, clip.shape[0] - seg + 1))
    else:
        start = 0  # begin_time
    audio = clip[start:start + seg]  # Resample(2000 -> 2000) is the identity
    if mode == "train":
        audio = _augment(audio, rng)
    return _spectrogram(audio)


# ----------------------------------------------------------------------------------------------------------
# train.py: the sampler
# ----------------------------------------------------------------------------------------------------------

def sampler_indices(labels: np.ndarray, fixed: bool, rng: np.random.Generator) -> np.ndarray:
    """WeightedRandomSampler(weights, len(train_dataset)): torch.multinomial(weights, n, replacement=True)."""
    items_per_classes = np.unique(labels, return_counts=True)[1]
    if fixed:  # 4200c22: data.py samples_weight
        weights = 1 / items_per_classes
        w = np.array([weights[t] for t in labels])
    else:  # WeightedRandomSampler(1/train_dataset.items_per_classes, len(train_dataset))
        w = 1 / items_per_classes
    return rng.choice(len(w), size=len(labels), replace=True, p=w / w.sum())


def epoch_batches(clips: np.ndarray, labels: np.ndarray, fixed: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch of the train DataLoader (batch_size 64, the sampler's order): (x (64, 1, 129, 47), y (64,))."""
    rng = np.random.default_rng(seed)
    order = sampler_indices(labels, fixed, rng)
    xs = np.stack([dataset_item(clips[i], int(labels[i]), "train", rng) for i in order])
    ys = labels[order].astype("int64")
    return [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, len(order) - batch_size + 1, batch_size)]


def val_items(clips: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([dataset_item(c, 0, "val", rng) for c in clips])


# ----------------------------------------------------------------------------------------------------------
# models.py ResNet1Channel(Bottleneck, [3, 4, 6, 3], num_classes=2) (torchvision ResNet written out)
# ----------------------------------------------------------------------------------------------------------

def _torch_resnet() -> Any:
    import torch
    import torch.nn as nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * self.expansion)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self, block, layers, num_classes=1000):
            super().__init__()
            w = 64 // WIDTH_DIV
            self.inplanes = w
            self.conv1 = nn.Conv2d(3, w, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(w)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, w, layers[0])
            self.layer2 = self._make_layer(block, 2 * w, layers[1], stride=2)
            self.layer3 = self._make_layer(block, 4 * w, layers[2], stride=2)
            self.layer4 = self._make_layer(block, 8 * w, layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * w * block.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, block, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = torch.flatten(self.avgpool(x), 1)
            return self.fc(x)

    class ResNet1Channel(ResNet):
        def __init__(self, block, *args, **kwargs):
            _IN_PLANES = 64 // WIDTH_DIV  # port: 64
            super().__init__(block, *args, **kwargs)
            self.conv1 = nn.Conv2d(1, _IN_PLANES, kernel_size=7, stride=2, padding=3, bias=False)

    return ResNet1Channel(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)


def _keras_resnet() -> Any:
    import keras
    from keras import layers

    def conv(x, filters, k, stride=1, pad=0, init=None):
        if pad:
            x = layers.ZeroPadding2D(pad)(x)
        if init is None:  # kaiming_normal_(fan_out); a fresh initializer per layer (a shared one repeats its draw)
            init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
        return layers.Conv2D(filters, k, strides=stride, use_bias=False, kernel_initializer=init)(x)

    def bn(x):
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)

    def bottleneck(x, inplanes, planes, stride):
        identity = x
        out = layers.ReLU()(bn(conv(x, planes, 1)))
        out = layers.ReLU()(bn(conv(out, planes, 3, stride, pad=1)))
        out = bn(conv(out, planes * 4, 1))
        if stride != 1 or inplanes != planes * 4:
            identity = bn(conv(x, planes * 4, 1, stride))
        return layers.ReLU()(layers.Add()([out, identity]))

    w = 64 // WIDTH_DIV
    inp = keras.Input(shape=(129, 47, 1))
    stem_init = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")  # the replaced conv1
    x = layers.ReLU()(bn(conv(inp, w, 7, 2, pad=3, init=stem_init)))
    x = layers.MaxPooling2D(3, strides=2)(layers.ZeroPadding2D(1)(x))  # after ReLU: zero pad == -inf pad
    inplanes = w
    for planes, blocks, stride in ((w, 3, 1), (2 * w, 4, 2), (4 * w, 6, 2), (8 * w, 3, 2)):
        for b in range(blocks):
            x = bottleneck(x, inplanes, planes, stride if b == 0 else 1)
            inplanes = planes * 4
    x = layers.GlobalAveragePooling2D()(x)
    fan_in = 8 * w * 4
    out = layers.Dense(num_classes,
                       kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                       bias_initializer=keras.initializers.RandomUniform(-1 / np.sqrt(fan_in), 1 / np.sqrt(fan_in)))(x)
    return keras.Model(inp, out)


# ----------------------------------------------------------------------------------------------------------

def training_data(fixed: bool, epoch_seed: int = 100) -> list[tuple[np.ndarray, np.ndarray]]:
    clips, labels = whale_clips(N_TRAIN, SEED, force_first_noise=True)
    return epoch_batches(clips, labels, fixed, epoch_seed)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    nb = training_data(fixed)
    vclips, _ = whale_clips(N_VAL, 1)
    xi = val_items(vclips)

    if framework == "torch":
        import torch

        torch.manual_seed(SEED)
        model = _torch_resnet()
        tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in nb]

        def optimizer(params):
            return torch.optim.Adam(params, lr=lr)

        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xi),
                "loss_fn": torch.nn.CrossEntropyLoss(), "optimizer": optimizer}

    import keras

    keras.utils.set_random_seed(SEED)
    model = _keras_resnet()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    kb = [(a.transpose(0, 2, 3, 1).copy(), b) for a, b in nb]
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xi.transpose(0, 2, 3, 1).copy()}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
