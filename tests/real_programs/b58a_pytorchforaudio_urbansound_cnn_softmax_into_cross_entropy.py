"""musikalkemist/pytorchforaudio (Valerio Velardo's "PyTorch for Audio + Music Processing" course), video 9
"Training urban sound classifier" (and the copy in video 10's folder): an UrbanSound8K classifier on mel
spectrograms. ``urbansounddataset.py`` loads each clip with torchaudio, resamples to 22,050 Hz, mixes down to mono,
cuts / right-pads to 22,050 samples and applies ``torchaudio.transforms.MelSpectrogram(sample_rate=22050, n_fft=1024,
hop_length=512, n_mels=64)`` (power spectrogram, no log): a (1, 64, 44) input. ``cnn.py`` CNNNetwork: four blocks
``Conv2d(3x3, stride 1, padding 2) -> ReLU -> MaxPool2d(2)`` with 16/32/64/128 channels, ``Flatten``, ``Linear(128 * 5
* 4, 10)``, then ``nn.Softmax(dim=1)``; ``forward`` returns ``predictions = self.softmax(logits)``. ``train.py``:
``DataLoader(usd, batch_size=128)`` (no shuffle), ``loss_fn = nn.CrossEntropyLoss()``, ``Adam(lr=0.001)``, 10 epochs,
``loss = loss_fn(prediction, target)``.

The fault (loss/head pairing): ``nn.CrossEntropyLoss`` applies log-softmax to its input, so the model's softmax
probabilities are softmaxed a second time. The loss can never fall below log(1 + 9 / e) = 1.46 (a one-hot
probability vector softmaxes to 0.23 on its class), its gradient reaches the logits through two softmaxes (tens of
times smaller than the plain cross-entropy's here), and once the softmax saturates (the raw mel-power inputs give
large logits) the gradient vanishes: the classifier freezes on a few classes. Issue #9 "Loss stays same throught
training" (the loss "stays exactly same except for 1st epochs"); PR #10 "Removed SoftMax and added explanation"
(forward returns the logits, the softmax only for inference), approved by the maintainer ("You are absolutely
correct") and merged into the release/v2.0-update branch.

Source: github.com/musikalkemist/pytorchforaudio at 38d1950d82a4a309a5e4259d2638f907ccac55af ("Code for video 10"),
``09 Training urban sound classifier/cnn.py``, ``train.py``, ``urbansounddataset.py``; issue #9; PR #10 (merged into
release/v2.0-update; that branch is not in the stored snapshot, the fix as the PR describes it).
Fault label: output_activation|loss_mismatch (a softmax output layer feeding a loss that takes logits).

Program lines kept: the CNNNetwork layers as written (PyTorch default initialisation), ``nn.CrossEntropyLoss()``,
``Adam(lr=0.001)``, the unshuffled DataLoader order, the MelSpectrogram settings (n_fft 1024, hop 512, 64 mels,
power 2, centred reflect-padded periodic-Hann STFT, HTK mel filterbank without norm, as torchaudio's defaults),
1 s / 22,050-sample clips. Buggy ``forward`` returns the softmax, fixed returns the logits (PR #10).
Ported: batches of 32 instead of 128 (one step of 128 takes 0.25-0.35 s on one CPU thread, one of 32 0.05-0.07 s;
the measurements below include the program's 128 once); the mel spectrogram computed in numpy (no torchaudio
here); ``torchsummary``, the CUDA device and the model saving are dropped. Keras twin: the same layers channels-last
((B, 64, 44, 1); ``ZeroPadding2D(2)`` + valid ``Conv2D`` for padding=2), torch's default initialisation
(VarianceScaling(1/3, fan_in, uniform) kernels, U(+-1/sqrt(fan_in)) biases), ``Adam(1e-3, epsilon=1e-8)``, the head
``Dense(10, activation="softmax")`` (buggy) / ``Dense(10)`` (fixed), and the program's CrossEntropyLoss written as
``tf.nn.sparse_softmax_cross_entropy_with_logits`` in both versions: a Keras ``SparseCategoricalCrossentropy(
from_logits=True)`` notices a softmax-produced tensor, warns and uses the pre-softmax logits, so Keras 3 would train
the buggy model exactly like the fixed one (measured: identical losses).
Data stand-in (no UrbanSound8K download): 768 seeded synthetic 1-s clips at 22,050 Hz in [-1, 1], one of the ten
UrbanSound8K classes each (air conditioner: low-passed noise + hum; car horn: two harmonic tones; children playing:
gliding voiced calls over noise; dog bark: 1-3 short harmonic barks; drilling: AM high whine; engine idling: low
harmonic series; gun shot: one decaying broadband burst, zero-padded; jackhammer: 15-25 Hz impacts; siren: sweeping
tone; street music: chords + kick), random gain 0.05-0.6 plus background noise, classes interleaved as in the
metadata; mel spectrograms as above, (n, 1, 64, 44) float32, raw power: mean 45, median 0.07, 99th percentile 908,
max 2.3e4. ``batches``: the first 4 batches of 32; ``inputs``: the last 256
clips (held out). Both versions feed these raw power values (no log, no scaling), a second property of the program
that the fix leaves: the fixed model's first logits are large (first loss 25-28 instead of ln 10 = 2.30), so
init_loss / inputs_normalized would flag both versions for that (and the buggy softmax head happens to start at
ln 10); they are left out of CHECKS for this reason.

Measured (my own plain loops, /tmp/s41/h58a/work/measure2.py, OMP_NUM_THREADS=1, the module's builds and data;
training = 10 epochs over the first 512 clips in 16 batches of 32 = 160 steps; accuracy = argmax over the 256
held-out clips; "classes" = how many distinct classes the held-out predictions use):
  torch: step 1-4 losses buggy 2.31 / 2.18 / 2.34 / 2.14, fixed 25.5 / 15.5 / 8.7 / 11.4; epoch-mean loss after
    epochs 1 / 5 / 10: buggy 2.12 / 2.07 / 2.06, fixed 7.08 / 0.344 / 0.099; held-out accuracy buggy 0.41 / 0.41 /
    0.41 (4-5 classes, mean max probability 0.96 -> 1.000: saturated), fixed 0.68 / 0.94 / 0.965 (all 10 classes).
    Gradient norms of the five weight tensors at step 0: buggy 0.61 / 2.7 / 3.0 / 6.5 / 14.5, fixed 44 / 181 / 310 /
    607 / 1400. One batch of 32 repeated, loss at steps 0 / 25 / 50 / 100 / 200: buggy 2.31 / 2.03 / 1.99 / 1.992 /
    1.992 (stuck), fixed 25.5 / 0.339 / 0.167 / 0.012 / 0.0009.
  torch with the program's batch of 128 (4 batches, 40 epochs = 160 steps): buggy epoch-mean loss 2.17 / 1.79 /
    1.77 after epochs 1 / 10 / 40, held-out accuracy 0.38 / 0.70 / 0.71 (7 classes); fixed 10.1 / 0.555 / 0.068,
    accuracy 0.43 / 0.87 / 0.984 (10 classes); one batch of 128 repeated: buggy 2.27 -> 1.899 at step 200, fixed
    12.7 -> 0.0023.
  Keras: step 1-4 losses buggy 2.22 / 2.20 / 2.32 / 2.14, fixed 27.9 / 13.0 / 17.7 / 14.5; epoch-mean loss after
    epochs 1 / 5 / 10: buggy 2.16 / 2.07 / 2.06, fixed 8.06 / 0.351 / 0.088; held-out accuracy buggy 0.40 / 0.39 /
    0.39 (4 classes, max probability -> 1.000), fixed 0.75 / 0.96 / 0.98 (10 classes). Step-0 weight gradient norms
    buggy 0.17 / 1.1 / 1.6 / 2.3 / 5.5, fixed 53 / 191 / 337 / 597 / 1610. One batch repeated: buggy 2.22 / 2.01 /
    2.03 / 2.02 / 2.02, fixed 27.9 / 0.418 / 0.163 / 0.0035 / 0.0002. (With Keras' own
    ``SparseCategoricalCrossentropy(from_logits=True)`` the buggy run was identical to the fixed one, see Ported.)
  Time per step (batch 32, one thread, loaded 2-core machine): torch 46-72 ms, Keras ``train_on_batch`` 53-71 ms;
    building the data 1.7 s once (cached), builds: torch < 0.01 s, Keras 0.05 s (first build with the imports:
    torch 1.0 s, Keras + TensorFlow 4.4 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:musikalkemist/pytorchforaudio '09 Training urban sound classifier/cnn.py' CNNNetwork.forward "
          "'predictions = self.softmax(logits)' with train.py 'loss_fn = nn.CrossEntropyLoss()' "
          "@38d1950d82a4a309a5e4259d2638f907ccac55af ('Code for video 10'; same in '10 Predictions with sound "
          "classifier/'), urbansounddataset.py UrbanSoundDataset; issue #9 'Loss stays same throught training'; "
          "fix PR #10 'Removed SoftMax and added explanation' (forward returns the logits), merged into "
          "release/v2.0-update")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

# train.py constants
BATCH_SIZE = 128
EPOCHS = 10
LEARNING_RATE = 0.001
SAMPLE_RATE = 22050
NUM_SAMPLES = 22050
N_FFT = 1024  # torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=512, n_mels=64)
HOP_LENGTH = 512
N_MELS = 64
N_FRAMES = 1 + NUM_SAMPLES // HOP_LENGTH  # 44
NUM_CLASSES = 10
# port: batches of 32 instead of 128 (one step of 128 takes 0.25-0.35 s on one CPU thread, 32 about 0.06 s)
PORT_BATCH_SIZE = 32
# port: 768 stand-in clips instead of UrbanSound8K's 8,732: the first 512 (16 batches of 32) for training, the last
# 256 held out
N_CLIPS = 768
N_TRAIN = 512
N_BATCHES = 4  # the batches handed to the checks: the first 4
SEED = 0

CLASSES = ("air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling", "gun_shot",
           "jackhammer", "siren", "street_music")


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _mel_fbanks() -> np.ndarray:
    """``torchaudio.functional.melscale_fbanks(513, f_min=0, f_max=11025, n_mels=64, sample_rate=22050,
    norm=None, mel_scale="htk")`` (MelSpectrogram's defaults) in numpy: (513, 64)."""
    n_freqs = N_FFT // 2 + 1
    all_freqs = np.linspace(0, SAMPLE_RATE // 2, n_freqs)
    m_min, m_max = 0.0, 2595.0 * np.log10(1.0 + (SAMPLE_RATE / 2.0) / 700.0)
    m_pts = np.linspace(m_min, m_max, N_MELS + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def mel_spectrogram(signal: np.ndarray) -> np.ndarray:
    """``torchaudio.transforms.MelSpectrogram(22050, n_fft=1024, hop_length=512, n_mels=64)`` on a (1, 22050)
    signal: centred (reflect-padded) periodic-Hann STFT, power 2, HTK mel filterbank, no log: (1, 64, 44)."""
    pad = N_FFT // 2
    xp = np.pad(signal[0], pad, mode="reflect")
    n_frames = 1 + (len(xp) - N_FFT) // HOP_LENGTH
    idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    power = np.abs(np.fft.rfft(xp[idx] * window, axis=1)) ** 2  # (frames, 513)
    return (power @ _mel_fbanks()).T[None]  # (1, 64, frames)


def _synth_clip(label: int, r: np.random.Generator) -> np.ndarray:
    """Stand-in for one UrbanSound8K excerpt as ``torchaudio.load`` gives it (float in [-1, 1]), already resampled
    to 22,050 Hz and mixed down, cut to 1 s; short events are right-padded with zeros like the dataset's
    ``_right_pad_if_necessary``. Each class a caricature of its sound source."""
    n = NUM_SAMPLES
    t = np.arange(n) / SAMPLE_RATE
    x = np.zeros(n)
    gain = r.uniform(0.05, 0.6)
    if label == 0:  # air conditioner: steady low-passed noise with a hum
        x = np.convolve(r.standard_normal(n), np.ones(24) / 24, "same")
        x += 0.3 * np.sin(2 * np.pi * r.uniform(50, 120) * t)
    elif label == 1:  # car horn: two steady harmonic tones
        f = r.uniform(350, 500)
        for h in range(1, 6):
            x += np.sin(2 * np.pi * f * h * t) / h + 0.8 * np.sin(2 * np.pi * f * 1.25 * h * t) / h
        on = r.uniform(0.3, 1.0)
        x *= t < on
    elif label == 2:  # children playing: random gliding voiced calls over crowd noise
        x = 0.2 * r.standard_normal(n)
        for _ in range(r.integers(3, 7)):
            s, d = r.uniform(0, 0.8), r.uniform(0.1, 0.3)
            f = r.uniform(300, 900) * (1 + 0.3 * np.sin(2 * np.pi * r.uniform(2, 6) * (t - s)))
            seg = (t >= s) & (t < s + d)
            x[seg] += sum(np.sin(2 * np.pi * np.cumsum(f)[seg] * h / SAMPLE_RATE) / h for h in (1, 2, 3))
    elif label == 3:  # dog bark: 1-3 short harmonic barks
        for _ in range(r.integers(1, 4)):
            s = r.uniform(0, 0.8)
            f = r.uniform(400, 800)
            tt = t - s
            env = (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.05)
            x += env * (sum(np.sin(2 * np.pi * f * h * tt) / h for h in range(1, 5)) + 0.3 * r.standard_normal(n))
    elif label == 4:  # drilling: high harmonic whine, amplitude-modulated
        f = r.uniform(1500, 3500)
        x = (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t)) * (1 + 0.5 * np.sin(2 * np.pi * 30 * t))
        x += 0.1 * r.standard_normal(n)
    elif label == 5:  # engine idling: low fundamental, many harmonics, firing-rate modulation
        f = r.uniform(25, 50)
        x = sum(np.sin(2 * np.pi * f * h * t + r.uniform(0, 6)) / h for h in range(1, 12))
        x *= 1 + 0.4 * np.sin(2 * np.pi * f / 2 * t)
    elif label == 6:  # gun shot: one impulsive broadband burst, then silence (a short clip, padded)
        s = r.uniform(0, 0.3)
        tt = t - s
        x = (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.03) * r.standard_normal(n)
        x[int(r.uniform(0.4, 0.8) * n):] = 0.0
    elif label == 7:  # jackhammer: periodic broadband impacts at 15-25 Hz
        rate = r.uniform(15, 25)
        phase = (t * rate) % 1.0
        x = np.exp(-phase / 0.15) * r.standard_normal(n)
    elif label == 8:  # siren: a tone sweeping up and down
        f = 900 + 400 * np.sin(2 * np.pi * r.uniform(0.5, 2.0) * t + r.uniform(0, 6))
        ph = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
        x = np.sin(ph) + 0.3 * np.sin(2 * ph)
    else:  # street music: chords changing on a beat, with a drum
        beat = 60.0 / r.uniform(90, 140)
        for k in range(int(1.0 / beat) + 1):
            seg = (t >= k * beat) & (t < (k + 1) * beat)
            root = 220 * 2 ** (r.integers(0, 12) / 12)
            for semis in (0, 4, 7):
                x[seg] += 0.4 * np.sin(2 * np.pi * root * 2 ** (semis / 12) * t[seg])
            tt = t - k * beat
            x += (tt >= 0) * np.exp(-np.maximum(tt, 0) / 0.04) * np.sin(2 * np.pi * 70 * tt)
    x = gain * x / (np.abs(x).max() + 1e-9) + 0.003 * r.standard_normal(n)  # street background
    return np.clip(x, -1, 1)[None].astype(np.float32)  # (1, 22050): one channel


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    """``UrbanSoundDataset[i]`` for the stand-in clips in the metadata order (classes interleaved): the mel
    spectrogram (n, 1, 64, 44) float32 and the classID (n,) int64."""
    r = np.random.default_rng(SEED)
    labels = r.integers(0, NUM_CLASSES, N_CLIPS)
    xs = [mel_spectrogram(_synth_clip(int(c), r)) for c in labels]
    return np.stack(xs).astype("float32"), labels.astype("int64")


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """The first batches of ``DataLoader(usd, batch_size=...)`` (no shuffling in the program), PORT_BATCH_SIZE each."""
    x, y = _dataset()
    b = PORT_BATCH_SIZE
    return [(x[i:i + b], y[i:i + b]) for i in range(0, N_BATCHES * b, b)]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    class CNNNetwork(nn.Module):

        def __init__(self):
            super().__init__()
            # 4 conv blocks / flatten / linear / softmax
            self.conv1 = nn.Sequential(
                nn.Conv2d(in_channels=1, out_channels=16, kernel_size=3, stride=1, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=2)
            )
            self.conv2 = nn.Sequential(
                nn.Conv2d(in_channels=16, out_channels=32, kernel_size=3, stride=1, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=2)
            )
            self.conv3 = nn.Sequential(
                nn.Conv2d(in_channels=32, out_channels=64, kernel_size=3, stride=1, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=2)
            )
            self.conv4 = nn.Sequential(
                nn.Conv2d(in_channels=64, out_channels=128, kernel_size=3, stride=1, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=2)
            )
            self.flatten = nn.Flatten()
            self.linear = nn.Linear(128 * 5 * 4, 10)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, input_data):
            x = self.conv1(input_data)
            x = self.conv2(x)
            x = self.conv3(x)
            x = self.conv4(x)
            x = self.flatten(x)
            logits = self.linear(x)
            if fixed:  # PR #10: CrossEntropyLoss applies log-softmax itself
                return logits
            predictions = self.softmax(logits)
            return predictions

    torch.manual_seed(SEED)
    model = CNNNetwork()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches()]
    x, _ = _dataset()
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(x[-256:]),
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    """The same network in Keras (channels-last: the (B, 1, 64, 44) spectrograms are fed as (B, 64, 44, 1); the
    flatten order differs from torch's, which does not change the model), PyTorch's default initialisation
    (kernels and biases U(+-1/sqrt(fan_in))), Adam(1e-3) with torch's eps 1e-8, and the program's
    ``nn.CrossEntropyLoss()`` written as ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (batch mean) on the model
    output, in both versions (a Keras ``SparseCategoricalCrossentropy(from_logits=True)`` would notice the softmax,
    warn and use the pre-softmax logits: Keras 3 would train the buggy model like the fixed one). The bug's Keras
    form: the Dense head ends in a softmax, the loss applies its own."""
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def kinit(seed: int) -> Any:  # kaiming_uniform_(a=sqrt(5)): bound 1 / sqrt(fan_in)
        return keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform", seed=seed)

    def binit(fan_in: int, seed: int) -> Any:
        b = 1.0 / np.sqrt(fan_in)
        return keras.initializers.RandomUniform(-b, b, seed=seed)

    blocks: list[Any] = [keras.Input(shape=(N_MELS, N_FRAMES, 1))]
    c_in = 1
    for i, c in enumerate((16, 32, 64, 128)):
        blocks += [layers.ZeroPadding2D(2),
                   layers.Conv2D(c, 3, activation="relu", kernel_initializer=kinit(2 * i),
                                 bias_initializer=binit(9 * c_in, 2 * i + 1)),
                   layers.MaxPooling2D(2)]
        c_in = c
    blocks += [layers.Flatten(),
               layers.Dense(NUM_CLASSES, activation=None if fixed else "softmax", kernel_initializer=kinit(20),
                            bias_initializer=binit(128 * 5 * 4, 21))]
    model = keras.Sequential(blocks)

    def cross_entropy_loss(y_true: Any, y_pred: Any) -> Any:  # nn.CrossEntropyLoss(): log-softmax + NLL, mean
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8),
                  loss=cross_entropy_loss)
    bs = [(np.transpose(x, (0, 2, 3, 1)), y) for x, y in _batches()]
    x, _ = _dataset()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": np.transpose(x[-256:], (0, 2, 3, 1))}


buggy, fixed = versions(_torch, _keras)
