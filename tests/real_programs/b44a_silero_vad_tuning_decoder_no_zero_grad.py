"""snakers4/silero-vad ``tuning/`` (fine-tuning the Silero voice-activity detector on one's own annotated audio):
``tune.py`` loads the released JIT model, copies its 16 kHz ``decoder`` into a trainable ``VADDecoderRNNJIT``
(``nn.LSTMCell(128, 128)`` -> ``Dropout(0.1)`` -> ``ReLU`` -> ``Conv1d(128, 1, 1)`` -> ``Sigmoid``), builds
``torch.optim.Adam(filter(lambda p: p.requires_grad, decoder.parameters()), lr=config.learning_rate)`` (5e-4) and
``nn.BCELoss(reduction='none')``, and ``utils.train`` streams each clip through the frozen JIT front end the way the
detector runs: the wav is left-padded by 64 samples of context, cut into 512-sample windows (+64 samples of context),
each window goes ``jit_model._model.stft`` -> ``jit_model._model.encoder`` -> ``decoder(out, state)`` with the LSTM
state carried from window to window, and the per-window speech probabilities are stacked and compared with the
window labels, ``loss = (criterion(stacked, targets) * masks).mean()`` (mask 1 on speech windows, ``noise_loss``
0.5 on non-speech ones, 0 on padding).
The fault is in ``tuning/utils.py`` ``train``: the loop body was

    loss = criterion(stacked, targets)
    loss = (loss * masks).mean()
    loss.backward()
    optimizer.step()

with no ``optimizer.zero_grad()`` anywhere, so every decoder ``.grad`` is the running sum of the gradients of all
batches seen so far and Adam steps on that sum (stale gradients from earlier batches and earlier weights) instead of
on the current batch's gradient.

Source: github.com/snakers4/silero-vad PR #699 ("fix bug in tuning/utils.py: add optimizer.zero_grad() before
loss.backward()": "It seems that `optimizer.zero_grad()` is missing, which could cause tuning error"), merged by the
maintainers (merge dc0b62e1e40ecf5328b1caf32350b235e8de89c3). Buggy: ``tuning/utils.py`` at 64fb49e^ (55ba6e28;
the call was missing since the tuning code was added in 88df0ce "код для тюнинга"), with ``tuning/tune.py`` and
``tuning/config.yml``; fix 64fb49e1c8ec9de58f6d1b17b61e51388ed47d28, which inserts ``optimizer.zero_grad()`` just
above ``loss.backward()``.
Program lines kept: ``VADDecoderRNNJIT`` verbatim, the ``train`` loop (context padding, the 512-sample window loop
with carried state, ``torch.cat(outs, dim=2).squeeze(1)``, the masked ``BCELoss(reduction='none')`` mean, the
step), ``SileroVadDataset.get_ground_truth_annotated`` (window labels from the ``speech_ts`` annotation and the
``noise_loss`` mask) and ``config.yml``'s ``learning_rate: 5e-4``, ``noise_loss: 0.5``, ``tune_8k: False``.
Ported: the front end lives inside the released ``silero_vad.jit`` (not in the repository), so it is rebuilt with
the released graph's shapes (``_model.stft.forward_basis_buffer`` [258, 1, 256]: a Hann-windowed DFT basis,
reflect-padded 64 samples on the right, hop 128, magnitude of 129 bins; ``_model.encoder.0..3.reparam_conv``
Conv1d 129->128 s1, 128->64 s2, 64->64 s2, 64->128 s1, kernel 3, padding 1, each + ReLU) but its encoder weights
are random (He-normal, zero bias, so the features keep a usable scale: PyTorch's default init shrinks them to std
~0.02 after four layers), frozen (``requires_grad=False``; in the program they are simply not in the
optimizer), and the decoder starts from PyTorch's init instead of the released decoder weights (no download). The
optimizer factory keeps the program's ``filter(lambda p: p.requires_grad, ...)`` so it trains the decoder only. The
model's ``forward`` is ``train``'s padding and window loop; ``loss_fn`` is the masked BCE with the mask rebuilt
from the targets as ``get_ground_truth_annotated`` does (all clips have the same length, so there is no padding
mask); ``train_step`` is the loop body. Left out: audiomentations (``aug_prob`` 0.4), torchaudio file loading and
resampling, tqdm / ``AverageMeter`` logging. Shrunk for CPU speed: ``batch_size`` 128 -> 16 and
``max_train_length_sec`` 8 -> 1.024 s (32 windows a clip); one step of the original (128 clips x 250 windows)
takes seconds on one CPU thread. Torch only: Keras (``fit`` / ``train_on_batch``) computes fresh gradients every
step, so there is no gradient buffer to forget to clear.
Data stand-in (no audio corpus offline): seeded 16 kHz mono clips of 16384 samples in [-1, 1]: background noise
(std 0.003-0.03) plus, in 80 % of the clips, one or two "utterances" (0.15-0.45 s each: voiced syllables of
60-150 ms with an f0 of 90-250 Hz and harmonics shaped by three random formants, a Hann envelope per syllable, a
little aspiration noise, peak amplitude 0.05-0.4), and in half the clips a non-speech distractor (a broadband
noise burst or a steady 600-3000 Hz beep, 0.1-0.35 s, as loud as speech), so loudness alone does not tell
speech. ``speech_ts`` = the utterances' start/end in seconds; window targets via ``get_ground_truth_annotated``
(29 % speech windows in the training batches). 8 batches of 16 clips; ``inputs`` are 64 held-out clips.
Fault label: missing_zero_grad.
Fix (64fb49e): ``optimizer.zero_grad()`` before ``loss.backward()``.
Symptom, measured with my own loop (``train_step`` as given here, model in train mode, Adam 5e-4, torch seed 0,
OMP_NUM_THREADS=1, ~50 ms a step on the loaded machine). The un-cleared buffer acts like momentum that never
decays: the buggy decoder's ``.grad`` norm keeps growing (6.6 on the output conv after 160 steps, 0.13 with the
fix) and Adam keeps pushing along old batches' directions, so the loss falls and then bounces back up. Cycling over
the 8 batches for 400 steps (mean loss over each 8-step epoch): buggy 0.444 (epoch 1), 0.399 (6), 0.435 (7),
0.301 (20), 0.316 (23), 0.249 (33), 0.222 (40), 0.264 (43), 0.224 (50); fixed 0.444, 0.388, 0.373, 0.266, 0.250,
0.200, 0.177, 0.192, 0.159, falling smoothly except for one small bump near epoch 43. On 64 held-out clips after
the 400 steps the two are close (masked BCE 0.212 vs 0.199, ROC-AUC 0.942 vs 0.936, window accuracy 0.890 vs
0.893). One batch repeated 300 times shows it most: buggy 0.449 (step 1), 0.305 (100), 0.214 (200), 0.251 (250),
0.220 (300), stuck and bouncing; fixed 0.449, 0.174, 0.091, 0.067, 0.068. Note the decoder starts from random
weights here, while the program fine-tunes the released (already trained) decoder; the starting loss 0.444 is the
chance BCE ln 2 times the mean mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "missing_zero_grad"
SOURCE = ("github:snakers4/silero-vad PR #699 (tuning/utils.py train@64fb49e^, VADDecoderRNNJIT, "
          "SileroVadDataset.get_ground_truth_annotated, tuning/tune.py, tuning/config.yml; "
          "fix 64fb49e1c8ec9de58f6d1b17b61e51388ed47d28, merge dc0b62e1e40ecf5328b1caf32350b235e8de89c3)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"})]

sr = 16000  # constant, do not change
num_samples = 512  # constant, do not change
context_size = 64  # 32 if config.tune_8k else 64
learning_rate = 5e-4  # config.yml learning_rate: 5e-4
noise_loss = 0.5  # config.yml noise_loss: 0.5
batch_size = 16  # config.yml batch_size: 128 (shrunk, see docstring)
n_windows = 32  # max_train_length_sec: 8 -> 1.024 s (shrunk, see docstring)
clip_len = n_windows * num_samples
n_batches = 8
n_heldout = 64


def get_ground_truth_annotated(annotation, audio_length_samples):  # SileroVadDataset method, self.* inlined
    gt = np.zeros(audio_length_samples)

    for i in annotation:
        gt[int(i['start'] * sr): int(i['end'] * sr)] = 1

    squeezed_predicts = np.average(gt.reshape(-1, num_samples), axis=1)
    squeezed_predicts = (squeezed_predicts > 0.5).astype(int)
    mask = np.ones(len(squeezed_predicts))
    mask[squeezed_predicts == 0] = noise_loss
    return squeezed_predicts, mask


def _utterance(rng: np.random.Generator, n: int) -> np.ndarray:
    """A voiced 'utterance' of n samples: syllables with f0, formant-shaped harmonics and Hann envelopes."""
    out = np.zeros(n)
    pos = 0
    f0 = rng.uniform(90, 250)
    while pos < n:
        syl = min(int(rng.uniform(0.06, 0.15) * sr), n - pos)
        t = np.arange(syl) / sr
        f0_t = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
        phase = 2 * np.pi * np.cumsum(f0_t) / sr
        formants = [rng.uniform(300, 850), rng.uniform(900, 2300), rng.uniform(2400, 3200)]
        s = np.zeros(syl)
        for k in range(1, int(4000 / f0) + 1):
            fk = k * f0
            amp = sum(np.exp(-0.5 * ((fk - fm) / 120.0) ** 2) * w for fm, w in zip(formants, (1.0, 0.6, 0.3)))
            s += (amp + 0.02) * np.sin(k * phase)
        s += 0.05 * rng.standard_normal(syl) * s.std()
        s *= np.hanning(syl)
        out[pos:pos + syl] = s / (np.abs(s).max() + 1e-9)
        pos += syl + int(rng.uniform(0.0, 0.03) * sr)
    return out


def _clips(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, clip_len) float32 wavs in [-1, 1] and (n, n_windows) float32 window targets."""
    rng = np.random.default_rng(seed)
    wavs = np.empty((n, clip_len), dtype="float32")
    gts = np.empty((n, n_windows), dtype="float32")
    for i in range(n):
        wav = rng.normal(0, rng.uniform(0.003, 0.03), clip_len)
        speech_ts = []
        if rng.random() < 0.8:
            for _ in range(rng.integers(1, 3)):
                length = int(rng.uniform(0.15, 0.45) * sr)
                start = int(rng.integers(0, clip_len - length))
                wav[start:start + length] += rng.uniform(0.05, 0.4) * _utterance(rng, length)
                speech_ts.append({'start': start / sr, 'end': (start + length) / sr})
        if rng.random() < 0.5:  # a loud non-speech event
            length = int(rng.uniform(0.1, 0.35) * sr)
            start = int(rng.integers(0, clip_len - length))
            amp = rng.uniform(0.05, 0.4)
            if rng.random() < 0.5:
                ev = rng.standard_normal(length) / 3.0
            else:
                ev = np.sin(2 * np.pi * rng.uniform(600, 3000) * np.arange(length) / sr)
            wav[start:start + length] += amp * ev * np.hanning(length) ** 0.25
        gt, _ = get_ground_truth_annotated(speech_ts, clip_len)
        wavs[i] = np.clip(wav, -1, 1)
        gts[i] = gt
    return wavs, gts


def _build(zero_grad: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class STFT(nn.Module):  # jit_model._model.stft (released graph: basis [258, 1, 256], hop 128, right pad 64)
        def __init__(self, filter_length=256, hop_length=128):
            super().__init__()
            self.filter_length, self.hop_length = filter_length, hop_length
            n = torch.arange(filter_length, dtype=torch.float32)
            k = torch.arange(filter_length // 2 + 1, dtype=torch.float32)[:, None]
            window = torch.hann_window(filter_length, periodic=True)
            real = torch.cos(2 * np.pi * k * n / filter_length) * window
            imag = -torch.sin(2 * np.pi * k * n / filter_length) * window
            self.register_buffer("forward_basis_buffer", torch.cat([real, imag], 0).unsqueeze(1))

        def forward(self, x):
            x = F.pad(x, (0, (self.filter_length - self.hop_length) // 2), mode="reflect")
            ft = F.conv1d(x.unsqueeze(1), self.forward_basis_buffer, stride=self.hop_length)
            cutoff = self.filter_length // 2 + 1
            real, imag = ft[:, :cutoff], ft[:, cutoff:]
            return torch.sqrt(real ** 2 + imag ** 2)

    class SileroVadBlock(nn.Module):  # jit_model._model.encoder[i]
        def __init__(self, in_channels, out_channels, stride):
            super().__init__()
            self.reparam_conv = nn.Conv1d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
            self.activation = nn.ReLU()

        def forward(self, x):
            return self.activation(self.reparam_conv(x))

    class VADDecoderRNNJIT(nn.Module):  # tuning/utils.py, verbatim

        def __init__(self):
            super(VADDecoderRNNJIT, self).__init__()

            self.rnn = nn.LSTMCell(128, 128)
            self.decoder = nn.Sequential(nn.Dropout(0.1),
                                         nn.ReLU(),
                                         nn.Conv1d(128, 1, kernel_size=1),
                                         nn.Sigmoid())

        def forward(self, x, state=torch.zeros(0)):
            x = x.squeeze(-1)
            if len(state):
                h, c = self.rnn(x, (state[0], state[1]))
            else:
                h, c = self.rnn(x)

            x = h.unsqueeze(-1).float()
            state = torch.stack([h, c])
            x = self.decoder(x)
            return x, state

    class SileroVadTuner(nn.Module):
        """The frozen JIT front end + the trainable decoder, run as ``train`` runs them."""

        def __init__(self):
            super().__init__()
            self.stft = STFT()
            self.encoder = nn.Sequential(SileroVadBlock(129, 128, 1), SileroVadBlock(128, 64, 2),
                                         SileroVadBlock(64, 64, 2), SileroVadBlock(64, 128, 1))
            for block in self.encoder:  # stand-in for the released weights: He init, frozen
                nn.init.kaiming_normal_(block.reparam_conv.weight, nonlinearity="relu")
                nn.init.zeros_(block.reparam_conv.bias)
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            self.decoder = VADDecoderRNNJIT()

        def forward(self, x):  # tuning/utils.py train, loop over the 512-sample windows
            stft_layer, encoder_layer, decoder = self.stft, self.encoder, self.decoder
            x = torch.nn.functional.pad(x, (context_size, 0))

            outs = []
            state = torch.zeros(0)
            for i in range(context_size, x.shape[1], num_samples):
                input_ = x[:, i-context_size:i+num_samples]
                out = stft_layer(input_)
                out = encoder_layer(out)
                out, state = decoder(out, state)
                outs.append(out)
            stacked = torch.cat(outs, dim=2).squeeze(1)
            return stacked

    bce = nn.BCELoss(reduction='none')  # tune.py: criterion = nn.BCELoss(reduction='none')

    def criterion(stacked, targets):
        masks = torch.ones_like(targets)
        masks[targets == 0] = noise_loss  # get_ground_truth_annotated's mask (no padding: equal-length clips)
        loss = bce(stacked, targets)
        loss = (loss * masks).mean()
        return loss

    def train_step(model, optimizer, criterion, x, targets):  # tuning/utils.py train, one batch
        stacked = model(x)
        loss = criterion(stacked, targets)
        if zero_grad:  # the fix (64fb49e)
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    model = SileroVadTuner()
    model.train()
    x, y = _clips(batch_size * n_batches, seed=0)
    xh, _ = _clips(n_heldout, seed=1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    tb = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(xh), "loss_fn": criterion,
            "train_step": train_step,
            # tune.py: torch.optim.Adam(filter(lambda p: p.requires_grad, params), lr=config.learning_rate)
            "optimizer": lambda params: torch.optim.Adam(filter(lambda p: p.requires_grad, params),
                                                         lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(zero_grad=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(zero_grad=True)
