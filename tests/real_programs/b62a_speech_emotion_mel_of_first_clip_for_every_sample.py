"""Data-Science-kosta/Speech-Emotion-Classification-with-PyTorch, ``notebooks/parallel_cnn_attention_lstm.ipynb``
("3. Parallel 2D CNN - Bidirectional LSTM with attention"): speech-emotion classification on RAVDESS (1440 clips,
8 emotions, 48 kHz) from log-mel spectrograms. The notebook loads each clip (``librosa.load(..., duration=3,
offset=0.5, sr=48000)``, zero-padded to 3 s), splits 80/10/10 per emotion, augments the training signals with
``addAWGN`` (two noisy copies of each, SNR 15-30 dB), turns every signal into ``getMELspectrogram`` (n_fft 1024,
win 512 hamming, hop 256, 128 mels, ``power_to_db(ref=np.max)``), standard-scales the flattened spectrograms
(``StandardScaler`` fitted on train) and trains ``ParallelModel`` (four Conv2d-BN-ReLU-MaxPool-Dropout blocks,
16/32/64/64 channels, pools 2/4/4/4, in parallel with a ``MaxPool2d([2,4])`` + bidirectional LSTM(128) branch with
a linear attention over time, concatenated into ``nn.Linear(2*128+256, 8)``) with ``nn.CrossEntropyLoss`` on the
logits, ``SGD(lr=0.01, weight_decay=1e-3, momentum=0.8)``, batch 32.

The fault (a loop that indexes its first element instead of the loop variable): the three spectrogram loops call
``getMELspectrogram(X_train[0,:], ...)`` (and ``X_val[0,:]``, ``X_test[0,:]``) inside ``for i in range(...)``,
so every training sample's input is the spectrogram of the first training clip, and likewise every validation and
test input is the first validation / test clip. The labels still vary, so the network is trained on one input with
eight different targets: it can only learn the label frequencies. After ``StandardScaler`` (each feature has zero
variance, so it is scaled by 1 after centring) every training input is exactly all zeros; the validation / test
inputs are one constant tensor. Nothing crashes; the loss settles at the label entropy and the predictions are one
class for every clip. Issue #1 ("Seem like a bug ... It always load the first data, I think it may be the index
`i`"); the author re-uploaded the notebooks with ``X_train[i,:]`` / ``X_val[i,:]`` / ``X_test[i,:]``.

Source: github.com/Data-Science-kosta/Speech-Emotion-Classification-with-PyTorch
``notebooks/parallel_cnn_attention_lstm.ipynb`` at 72c2f778 ("Updated notebooks", 2021-01-28; the same three lines
in all four notebooks); issue #1; fix a72b5f4 ("Posted correct version (probably) on github", 2021-02-27), whose
only change to this notebook's code is ``[0,:]`` -> ``[i,:]`` in the three loops.
Fault label: no_input_signal|class_collapse (the inputs carry nothing of the sample, so held-out predictions fit
other samples' targets as well as their own, and the trained model gives every clip the same class).

Program lines kept: ``EMOTIONS`` (surprise 8 -> 0), the per-emotion 80/10/10 split over ``data.Emotion``
(``np.random.permutation`` of each emotion's indices, seeded here), ``addAWGN`` (num_bits 16, augmented_num 2, SNR
15-30 dB) on every training signal, ``getMELspectrogram`` parameters, the three spectrogram loops (buggy index
``0``, fixed ``i``), ``np.expand_dims(..., 1)`` + ``StandardScaler`` fitted on the flattened training set and
applied to val / test, ``ParallelModel`` (its layer order, pools, dropouts, ``lstm_maxpool``, the per-step
attention loop, the ``(output_logits, output_softmax, attention_weights_norm)`` return), ``loss_fnc`` (
``nn.CrossEntropyLoss()(input=logits, target=targets)``), ``SGD(lr=0.01, weight_decay=1e-3, momentum=0.8)``,
``BATCH_SIZE = 32``, per-epoch shuffling, the model in train mode for training steps.
Ported / shrunk: no librosa here and nothing may be downloaded, so ``getMELspectrogram`` is a numpy port of
``librosa.feature.melspectrogram`` (librosa 0.10 defaults: centred frames, zero padding, Slaney mel filters, power
2) + ``power_to_db(ref=np.max)`` (amin 1e-10, top_db 80). A step on the full size (1, 128, 563) inputs took 4-6 s
on this loaded 2-core machine, so: the sample rate is 16 kHz and clips are 2.048 s (32,768 samples) instead of 48 kHz
x 3 s, giving 129 frames instead of 563 (the least the four time pools 2*4*4*4 = 128 allow; the 128 mels are kept,
which the freq pools and the LSTM's ``input_size=64`` need), so the conv branch ends at 1 x 1 instead of 1 x 4 and
``out_linear`` takes 2*128 + 32; the conv widths are halved (8/16/32/32). The LSTM (hidden 128, bidirectional) and
the attention are as in the program. 240 clips instead of 1440 (4 "actors" instead of 24; neutral 16, every other
emotion 32, RAVDESS's proportions): 187 training clips (+374 noisy copies = 561), 23 validation, 30 test.
One latent flaw of the notebook that the fix did not touch is left out so that the pair differs only in the fixed
lines: the augmentation loop labels the copies of ``X_train[i]`` with ``data.loc[i, "Emotion"]`` (the i-th clip in
file order, not the i-th training clip, which are sorted by emotion); here the copies carry their own clip's label
``Y_train[i]``. ``data = data.append(...)`` (removed from pandas) and the CUDA device are dropped.
Keras twin: the same network channels-last (``Conv2D(padding="same")``, ``BatchNormalization(momentum=0.9,
epsilon=1e-5)``, valid ``MaxPooling2D``, ``Dropout``; the LSTM branch as ``MaxPooling2D((2, 4))`` -> ``Reshape`` ->
``Permute`` -> ``Bidirectional(LSTM(128, return_sequences=True))`` -> ``Dropout(0.1)`` -> ``Dense(1)`` over time ->
softmax over time -> ``Dot``), returning only the logits (a Keras fit of a three-output model would need a loss for
each), ``SGD(0.01, momentum=0.8, weight_decay=1e-3)`` (Keras's decay is decoupled, torch's goes through the
gradient), ``SparseCategoricalCrossentropy(from_logits=True)``; Keras default initialisers.
Data stand-in (no RAVDESS download): per clip a voiced harmonic tone whose fundamental (105-231 Hz by emotion,
times a per-actor factor 0.85-1.15 and a per-clip jitter), harmonic roll-off and tremolo rate depend on the emotion,
1.2-2.0 s long at a random onset, peak 0.1-0.5, plus faint noise, zero-padded to 2.048 s like the program's
``signal[:len(audio)] = audio``; the table lists clips actor by actor in RAVDESS's sorted-file order (neutral
first, surprise last). ``batches``: the first 4 batches of 32 of a seeded shuffle of the 561 training spectrograms;
``inputs``: the 30 test spectrograms; ``baseline_batch``: 128 shuffled training spectrograms.

Measured (my own plain loops, /tmp/s44/h_b62a/measure.py, OMP_NUM_THREADS=1, the module's data and builds; the
program's loop: per-epoch shuffle, 17 batches of 32 per epoch, torch ``model.train()`` steps, Keras
``train_on_batch``; accuracies on the 23 validation / 30 test clips in eval mode):
  Inputs: buggy training spectrograms after the scaler are all exactly 0 (std 0.0, 1 distinct tensor of 561); the
    30 test inputs are 1 distinct tensor; fixed: 561 / 30 distinct, training std 1.0.
  torch, epoch-mean loss after epochs 1-5: buggy 2.134 / 2.128 / 2.131 / 2.118 / 2.111 (the label entropy is 2.06),
    train accuracy 0.12-0.14, validation and test accuracy 0.13 every epoch, every test clip given one class (class 0
    after epoch 1, 4 after epochs 2-3, 7 after 4-5); fixed 1.985 / 1.586 / 1.344 / 1.198 / 1.069, train accuracy
    0.22 -> 0.69, validation 0.48 / 0.61 / 0.52 / 0.52 / 0.65, test 0.50 / 0.57 / 0.40 / 0.37 / 0.50 with 5-7
    classes predicted.
  Keras, epochs 1-3: buggy 2.078 / 2.072 / 2.068, validation and test accuracy 0.13, all 30 test clips one class
    (3); fixed 1.833 / 1.184 / 0.870, validation 0.61 / 0.65 / 0.74, test 0.60 / 0.63 / 0.73, 7 classes predicted.
  So the fault shows plainly: the buggy loss never leaves the label entropy and the predictions are one class; the
    fixed network learns the emotions.
  Time per step (batch 32, one thread, a 2-core machine under load average 4-7 from other jobs): torch 276-310 ms,
    Keras 375-407 ms -- over the ~50 ms aimed at even after the shrinking above (the 128 x 129 spectrogram with
    BatchNorm / ReLU / max-pool / dropout over 8 channels is the cost; a full-size step took 4-6 s). Building the
    data: the first build about 17 s (signals and 561 + 53 spectrograms per version), later builds reuse it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_input_signal|class_collapse"
SOURCE = ("github:Data-Science-kosta/Speech-Emotion-Classification-with-PyTorch issue #1 "
          "(notebooks/parallel_cnn_attention_lstm.ipynb@72c2f778 'for i in range(X_train.shape[0]): mel_spectrogram = "
          "getMELspectrogram(X_train[0,:], sample_rate=SAMPLE_RATE)' and the same with X_val[0,:], X_test[0,:]; "
          "fix a72b5f4 'Posted correct version (probably) on github': X_train[i,:], X_val[i,:], X_test[i,:])")
FRAMEWORKS = ("torch", "keras")
_COMMON = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
           ("input_independent_baseline", {}), ("output_range", {"kind": "logits", "num_classes": 8})]
CHECKS = {"torch": [(c, {**kw, "output": 0}) for c, kw in _COMMON], "keras": _COMMON}

# parallel_cnn_attention_lstm.ipynb
EMOTIONS = {1: 'neutral', 2: 'calm', 3: 'happy', 4: 'sad', 5: 'angry', 6: 'fear', 7: 'disgust', 0: 'surprise'}
BATCH_SIZE = 32
LR = 0.01
WEIGHT_DECAY = 1e-3
MOMENTUM = 0.8
HIDDEN = 128
N_MELS = 128
# port
SAMPLE_RATE = 16000  # 48000 in the program
N_SAMPLES = 32768  # 2.048 s (the program: 3 s = 144000 samples at 48 kHz)
ACTORS = 4  # 24 in RAVDESS
WIDTHS = (8, 16, 32, 32)  # the program's 16 / 32 / 64 / 64 halved
N_BATCHES = 4
BASELINE = 64
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _hz_to_mel(f: np.ndarray) -> np.ndarray:  # librosa.hz_to_mel (Slaney)
    f = np.asarray(f, dtype="float64")
    mel = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:  # librosa.mel_to_hz (Slaney)
    m = np.asarray(m, dtype="float64")
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), (200.0 / 3) * m)


@functools.lru_cache(maxsize=None)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmax: float) -> np.ndarray:  # librosa.filters.mel, norm='slaney'
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def getMELspectrogram(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The program's function; librosa.feature.melspectrogram + power_to_db(ref=np.max) ported to numpy."""
    n_fft, win_length, hop_length = 1024, 512, 256
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(win_length) / win_length)  # 'hamming', periodic
    lpad = (n_fft - win_length) // 2
    window = np.pad(window, (lpad, n_fft - win_length - lpad))
    y = np.pad(np.asarray(audio, dtype="float64"), n_fft // 2)  # center=True, pad_mode='constant'
    n_frames = 1 + (len(y) - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(y, (n_frames, n_fft), (y.strides[0] * hop_length, y.strides[0]))
    power = np.abs(np.fft.rfft(frames * window, axis=1)).T ** 2  # (1 + n_fft // 2, frames)
    mel_spec = _mel_basis(sample_rate, n_fft, N_MELS, sample_rate / 2) @ power
    log_spec = 10.0 * np.log10(np.maximum(1e-10, mel_spec)) - 10.0 * np.log10(max(1e-10, mel_spec.max()))
    return np.maximum(log_spec, log_spec.max() - 80.0).astype("float32")  # power_to_db(mel_spec, ref=np.max)


def addAWGN(signal, num_bits=16, augmented_num=2, snr_low=15, snr_high=30, rng=None):
    """The program's function (np.random -> a seeded generator)."""
    signal_len = len(signal)
    noise = rng.normal(size=(augmented_num, signal_len))
    norm_constant = 2.0 ** (num_bits - 1)
    signal_norm = signal / norm_constant
    noise_norm = noise / norm_constant
    s_power = np.sum(signal_norm ** 2) / signal_len
    n_power = np.sum(noise_norm ** 2, axis=1) / signal_len
    target_snr = rng.integers(snr_low, snr_high)
    K = np.sqrt((s_power / n_power) * 10 ** (- target_snr / 10))
    K = np.ones((signal_len, augmented_num)) * K
    return signal + K.T * noise


@functools.lru_cache(maxsize=1)
def _ravdess_like() -> tuple[np.ndarray, np.ndarray]:
    """Clips in file order (actor by actor, emotion codes 01..08 with 8 -> 0) and their emotions."""
    rng = np.random.default_rng(SEED)
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    signals, emotions = [], []
    for _actor in range(ACTORS):
        f_actor = rng.uniform(0.85, 1.15)
        for code in range(1, 9):
            emotion = 0 if code == 8 else code
            for _ in range(4 if code == 1 else 8):
                f0 = (105.0 + 18.0 * emotion) * f_actor * rng.uniform(0.97, 1.03)
                roll = 0.45 + 0.06 * emotion
                n_h = min(30, int((SAMPLE_RATE / 2 - 200) // f0))
                h = np.arange(1, n_h + 1)[:, None]
                voice = (roll ** (h - 1) * np.sin(2 * np.pi * h * f0 * t[None, :] + rng.uniform(0, 6.3, (n_h, 1)))).sum(0)
                voice *= 1.0 + 0.5 * np.sin(2 * np.pi * (2.0 + 1.5 * emotion) * t)  # tremolo
                length = int(rng.uniform(1.2, 2.0) * SAMPLE_RATE)
                onset = int(rng.integers(0, N_SAMPLES - length + 1))
                env = np.zeros(N_SAMPLES)
                env[onset:onset + length] = np.hanning(length) ** 0.3
                audio = voice * env
                audio = rng.uniform(0.1, 0.5) * audio / np.abs(audio).max() + 0.002 * rng.standard_normal(N_SAMPLES)
                signal = np.zeros((N_SAMPLES,))
                signal[:len(audio)] = audio
                signals.append(signal)
                emotions.append(emotion)
    return np.stack(signals, 0), np.array(emotions)


@functools.lru_cache(maxsize=2)
def _dataset(fixed: bool) -> dict[str, np.ndarray]:
    from sklearn.preprocessing import StandardScaler

    X, emotions = _ravdess_like()
    rng = np.random.default_rng(SEED)
    X_train, X_val, X_test, Y_train, Y_val, Y_test = [], [], [], [], [], []
    for emotion in range(len(EMOTIONS)):
        emotion_ind = rng.permutation(np.flatnonzero(emotions == emotion))
        m = len(emotion_ind)
        ind_train, ind_val, ind_test = (emotion_ind[:int(0.8 * m)], emotion_ind[int(0.8 * m):int(0.9 * m)],
                                        emotion_ind[int(0.9 * m):])
        X_train.append(X[ind_train, :])
        Y_train.append(np.array([emotion] * len(ind_train), dtype=np.int32))
        X_val.append(X[ind_val, :])
        Y_val.append(np.array([emotion] * len(ind_val), dtype=np.int32))
        X_test.append(X[ind_test, :])
        Y_test.append(np.array([emotion] * len(ind_test), dtype=np.int32))
    X_train, X_val, X_test = (np.concatenate(a, 0) for a in (X_train, X_val, X_test))
    Y_train, Y_val, Y_test = (np.concatenate(a, 0) for a in (Y_train, Y_val, Y_test))

    aug_signals, aug_labels = [], []
    for i in range(X_train.shape[0]):
        augmented_signals = addAWGN(X_train[i, :], rng=rng)
        for j in range(augmented_signals.shape[0]):
            aug_labels.append(Y_train[i])  # port: the program's data.loc[i, "Emotion"] (see the docstring)
            aug_signals.append(augmented_signals[j, :])
    X_train = np.concatenate([X_train, np.stack(aug_signals, 0)], 0)
    Y_train = np.concatenate([Y_train, np.stack(aug_labels, 0)])

    mels = {}
    for name, sig in (("train", X_train), ("val", X_val), ("test", X_test)):
        out = []
        for i in range(sig.shape[0]):
            k = i if fixed else 0  # buggy: getMELspectrogram(X_train[0,:], ...); fix a72b5f4: X_train[i,:]
            out.append(getMELspectrogram(sig[k, :], sample_rate=SAMPLE_RATE))
        mels[name] = np.expand_dims(np.stack(out, 0), 1)  # (b, 1, 128, frames)

    scaler = StandardScaler()
    b, c, h, w = mels["train"].shape
    x_train = scaler.fit_transform(mels["train"].reshape(b, -1)).reshape(b, c, h, w)
    x_val = scaler.transform(mels["val"].reshape(len(mels["val"]), -1)).reshape(-1, c, h, w)
    x_test = scaler.transform(mels["test"].reshape(len(mels["test"]), -1)).reshape(-1, c, h, w)
    order = np.random.default_rng(SEED + 1).permutation(len(x_train))  # ind = np.random.permutation(DATASET_SIZE)
    return {"x_train": x_train[order].astype("float32"), "y_train": Y_train[order].astype("int64"),
            "x_val": x_val.astype("float32"), "y_val": Y_val.astype("int64"),
            "x_test": x_test.astype("float32"), "y_test": Y_test.astype("int64")}


def _split(fixed: bool, nchw: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, tuple[np.ndarray, np.ndarray]]:
    d = _dataset(fixed)
    xt, xs = d["x_train"], d["x_test"]
    if not nchw:
        xt, xs = np.ascontiguousarray(xt.transpose(0, 2, 3, 1)), np.ascontiguousarray(xs.transpose(0, 2, 3, 1))
    yt = d["y_train"]
    b = BATCH_SIZE
    batches = [(xt[i:i + b], yt[i:i + b]) for i in range(0, N_BATCHES * b, b)]
    return batches, xs, (xt[:BASELINE], yt[:BASELINE])


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    w1, w2, w3, w4 = WIDTHS

    class ParallelModel(nn.Module):
        def __init__(self, num_emotions):
            super().__init__()
            # conv block
            self.conv2Dblock = nn.Sequential(
                nn.Conv2d(in_channels=1, out_channels=w1, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(w1), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Dropout(p=0.3),
                nn.Conv2d(in_channels=w1, out_channels=w2, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(w2), nn.ReLU(), nn.MaxPool2d(kernel_size=4, stride=4), nn.Dropout(p=0.3),
                nn.Conv2d(in_channels=w2, out_channels=w3, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(w3), nn.ReLU(), nn.MaxPool2d(kernel_size=4, stride=4), nn.Dropout(p=0.3),
                nn.Conv2d(in_channels=w3, out_channels=w4, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(w4), nn.ReLU(), nn.MaxPool2d(kernel_size=4, stride=4), nn.Dropout(p=0.3))
            # LSTM block
            self.lstm_maxpool = nn.MaxPool2d(kernel_size=[2, 4], stride=[2, 4])
            hidden_size = HIDDEN
            self.lstm = nn.LSTM(input_size=N_MELS // 2, hidden_size=hidden_size, bidirectional=True, batch_first=True)
            self.dropout_lstm = nn.Dropout(0.1)
            self.attention_linear = nn.Linear(2 * hidden_size, 1)
            # Linear softmax layer (port: 2*hidden_size + 256 in the program, whose conv branch ends at 64 x 1 x 4)
            self.out_linear = nn.Linear(2 * hidden_size + w4, num_emotions)
            self.dropout_linear = nn.Dropout(p=0)
            self.out_softmax = nn.Softmax(dim=1)

        def forward(self, x):
            conv_embedding = self.conv2Dblock(x)  # (b,channel,freq,time)
            conv_embedding = torch.flatten(conv_embedding, start_dim=1)
            x_reduced = self.lstm_maxpool(x)
            x_reduced = torch.squeeze(x_reduced, 1)
            x_reduced = x_reduced.permute(0, 2, 1)  # (b,t,freq)
            lstm_embedding, (h, c) = self.lstm(x_reduced)  # (b, time, hidden_size*2)
            lstm_embedding = self.dropout_lstm(lstm_embedding)
            batch_size, T, _ = lstm_embedding.shape
            attention_weights = [None] * T
            for t in range(T):
                embedding = lstm_embedding[:, t, :]
                attention_weights[t] = self.attention_linear(embedding)
            attention_weights_norm = nn.functional.softmax(torch.stack(attention_weights, -1), -1)
            attention = torch.bmm(attention_weights_norm, lstm_embedding)  # (B,1,2*hidden_size)
            attention = torch.squeeze(attention, 1)
            complete_embedding = torch.cat([conv_embedding, attention], dim=1)
            output_logits = self.out_linear(complete_embedding)
            output_logits = self.dropout_linear(output_logits)
            output_softmax = self.out_softmax(output_logits)
            return output_logits, output_softmax, attention_weights_norm

    def loss_fnc(predictions, targets):
        return nn.CrossEntropyLoss()(input=predictions, target=targets)

    torch.manual_seed(SEED)
    model = ParallelModel(num_emotions=len(EMOTIONS))
    model.train()
    batches, xs, (bx, by) = _split(fixed, nchw=True)
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]

    def optimizer(params: Any) -> Any:
        return torch.optim.SGD(params, lr=LR, weight_decay=WEIGHT_DECAY, momentum=MOMENTUM)

    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(xs), "baseline_batch": (t(bx), t(by)),
            "loss_fn": loss_fnc, "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    batches, xs, baseline = _split(fixed, nchw=False)
    frames = xs.shape[2]
    inp = keras.Input((N_MELS, frames, 1))
    x = inp
    for width, pool in zip(WIDTHS, (2, 4, 4, 4)):
        x = layers.Conv2D(width, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool)(x)
        x = layers.Dropout(0.3)(x)
    conv_embedding = layers.Flatten()(x)
    r = layers.MaxPooling2D((2, 4))(inp)  # lstm_maxpool
    r = layers.Reshape((N_MELS // 2, frames // 4))(r)
    r = layers.Permute((2, 1))(r)  # (b, t, freq)
    lstm_embedding = layers.Bidirectional(layers.LSTM(HIDDEN, return_sequences=True))(r)
    lstm_embedding = layers.Dropout(0.1)(lstm_embedding)
    scores = layers.Dense(1)(lstm_embedding)  # attention_linear at every step
    weights = layers.Softmax(axis=1)(scores)  # softmax over time
    attention = layers.Flatten()(layers.Dot(axes=1)([weights, lstm_embedding]))
    complete_embedding = layers.Concatenate()([conv_embedding, attention])
    output_logits = layers.Dense(len(EMOTIONS))(complete_embedding)
    model = keras.Model(inp, output_logits)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xs, "baseline_batch": baseline}


buggy, fixed = versions(_torch, _keras)
