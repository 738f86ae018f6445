"""jeremyfix/deeplearning-lectures (CentraleSupelec deep-learning course), lab 02 "pytorch-asr", the solution's
``LabsSolutions/02-pytorch-asr/main_ctc.py``: a DeepSpeech2-like speech recogniser trained with CTC on CommonVoice
(French): ``data.BatchCollate`` turns each utterance into a log-mel spectrogram (16 kHz, 25 ms windows, 15 ms hop,
``MelSpectrogram`` + ``AmplitudeToDB``, normalised ``(x + 31) / 32``) packed as (T, B, n_mels), and the transcript
into ``CharMap.encode`` ids (<sos> text <eos>, blank = 0); ``models.CTCModel``: two Conv2d + BatchNorm2d +
Hardtanh(0, 20) + Dropout2d blocks (time stride 4 in all), a 4-layer bidirectional GRU (the program's gate-bias
initialisation) and ``Linear(2 * nhidden_rnn, vocab_size)`` giving per-frame character logits;
``baseloss = nn.CTCLoss(blank=blank_id, reduction="mean", zero_infinity=True)``,
``loss = lambda *params: baseloss(*wrap_ctc_args(*params))``, ``optim.Adam(model.parameters(), lr=base_lr)``
(base_lr 0.0005), trained by ``deepcs.training.train`` (train mode; forward, loss, zero_grad, backward, optional
clip (None), step).

The fault (``wrap_ctc_args``, from c16e0843 "refactored with flake8/blake", 2022-03-18, to b3862d6, 2022-10-26):

    # compute the log_softmax unpacked_predictions = unpacked_predictions.log_softmax(dim=2)  # T, B, vocab_size

The reformatting folded the statement into the comment above it, so the model's raw logits go straight into
``nn.CTCLoss``, which expects log-probabilities. PyTorch does not normalise them: the reported loss is not the CTC
negative log-likelihood (it starts negative, -2.4 here against 8.5), and its gradient with respect to the logits is
``exp(logits)`` minus the alignment posteriors (Graves' eq. 16, written for log-softmax inputs), not the gradient of
any softmax CTC loss: at initialisation it carries a push of about +0.85 per frame on the sum over the vocabulary (0
with the log_softmax), 20 times the parameter-gradient norm, and it drives every logit down until ``exp(logits)``
sums to about one per frame. Training then mostly learns that self-normalisation and the blank. Issue #22
(NickleDave, 2022-10-28: "shouldn't it actually be ... unpacked_predictions.log_softmax(dim=2) ... so that you
transform the 'logits' to log softmax?"); the maintainer: "Good catch, that's actually a mistake; wrap_ctc is indeed
called before CTCLoss which is itself expecting the log probabilities." Fix 2424f8c "fix #22" (2022-10-31): the
``log_softmax(dim=2)`` line restored on its own line.

Source: github.com/jeremyfix/deeplearning-lectures, LabsSolutions/02-pytorch-asr/main_ctc.py (wrap_ctc_args,
train, argparse defaults), models.py (CTCModel), data.py (CharMap, WaveformProcessor, BatchCollate,
get_dataloaders' fixed normalisation), job.py, all at b3862d6dd1af45bea1a99f9b26a0c8baa1520422 (= 2424f8c^, the
commit the issue links); bug from c16e0843c35fa4765cab82c7ba0294af6fbf3907; fix
2424f8cb8aa4f9b74ce7c3e55abc1e9f9363549c.
Fault label: output_activation|loss_mismatch (raw logits into a loss that takes log-probabilities: the
log_softmax output step is missing).

Program lines kept: ``CharMap`` (vocabulary of 44 with the blank at 0, <sos>/<eos>, accent folding), ``CTCModel``
(layers, kernel sizes, strides, paddings, Hardtanh, dropout 0.1, the GRU bias initialisation of
``reset_parameters``, the forward's unpack / transpose / CNN / permute-reshape / pack with ``lens_inputs // 4`` /
GRU / unpack / Linear / pack steps), ``wrap_ctc_args`` (buggy and fixed), ``CTCLoss(blank, "mean",
zero_infinity=True)``, Adam at 0.0005 without clipping, train mode, PyTorch's default initialisation otherwise.
Ported: widths shrunk for one CPU thread -- ``--nmels`` 80 -> 40 and ``--nhidden_rnn`` 1024 -> 128 (71 M -> 1.7 M
parameters; the 1024-unit model costs about 2 s a step), ``--batch_size`` 128 -> 8; the PackedSequences only at
the boundaries: the model takes a batch-first (B, 81, n_mels) tensor of equal-length spectrograms, packs it as
``BatchCollate`` does, and returns its packed (T', B, vocab) logits padded and batch first (B, 20, 44); the loss
takes the (B, S) transcripts padded with 0 as ``pad_sequence`` pads them and recovers their lengths as the count of
non-blank ids (the blank never occurs inside a transcript), then runs the program's ``wrap_ctc_args`` steps; the
LSTM branch of ``reset_parameters`` dropped (GRU is the default), the decoders, tensorboard, checkpointing and
the per-epoch ``StepLR(step_size=5)`` dropped (the runs here are shorter than one real epoch); torch only: the fault
is PyTorch's ``CTCLoss`` taking log-probabilities without normalising them (Keras' ``ctc_loss`` on TensorFlow takes
logits and normalises them itself, Keras 2's ``ctc_batch_cost`` takes softmax outputs), so it has no Keras twin.
Data stand-in (no CommonVoice / torchaudio): ``utterances(n)`` -- (n, 81, 40) float32 normalised log-mel
spectrograms of 1.2 s utterances (silence about -0.9, voiced frames up to about 1.3, as ``(dB + 31) / 32`` gives)
of one to three short French words / numbers (3-8 characters), each character a fixed spectral envelope
(formant-like bumps for letters, high-band noise for digits and the apostrophe, a low floor for the space) held 75-120
ms after 60-150 ms of leading silence, with speaker gain, a +-2-band shift and noise; transcripts encoded by
``CharMap.encode`` (5-10 ids), padded with the blank. ``batch`` / ``batches``: 6 batches of 8 (seed 0);
``inputs``: 64 other utterances (seed 1).

Measured (/tmp/s39/h54c/measure.py, overfit.py, grad.py; OMP_NUM_THREADS=1, model seed 0; 400 training utterances
(seed 10) shuffled into batches of 8, 128 held-out (seed 11) evaluated in eval mode: the true CTC loss (with the
log_softmax), greedy decoding (argmax, repeats merged, blanks removed) character error rate and exact matches):
  buggy: reported training loss -2.12 at step 1, 1.70 at 10, 2.81 at 50, 2.85 at 100/200, 2.61 at 300, 2.38 at
        400/600, 2.67 at 800 (it rises as the logits sink: mean logit 0 -> -4.6 at 100 -> -6.0 at 800); held-out
        true CTC 8.53 at init, 3.32 at 100, 2.66 at 300, 2.40 at 800; CER 0.95 -> 1.00 (all blank) at 25-100 ->
        0.73 from step 300 to 800 (85-90 % of the frames blank, only <sos>/<eos> come out), no exact transcript.
  fixed: training loss 7.44 at step 1, 3.54 at 10, 2.46 at 50, 2.02 at 100, 1.25 at 200, 0.28 at 300; held-out
        true CTC 8.53 -> 2.06 at 100 -> 0.99 at 200 -> 0.26 at 300; CER 0.65 at 100, 0.25 at 200, 0.046 at 300,
        71 % of the transcripts exact.
  Initial loss on the module's first batch: -2.50 buggy vs 9.46 fixed (CTC's
        initial value is path-dependent). Gradient at initialisation (train mode): parameter-gradient norm 217
        buggy vs 10.6 fixed; per frame the logit gradients sum to 0.85 buggy vs 0 fixed.
  One batch of 8 repeated (loss at 0/25/50/100/150 steps, reported (true)): buggy -2.50 (9.46), 1.53 (4.93), 2.66
        (3.82), 2.74 (3.25), 2.62 (2.97), every frame decoded as blank afterwards; fixed 9.46, 2.48, 1.93, 0.96,
        0.18, 39 % of frames blank.
About 0.08-0.12 s per training step (batch 8) on one CPU thread when the two-core machine was least loaded, 0.2-0.4 s
under the other jobs' load, the same in both versions; building either takes under 0.2 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:jeremyfix/deeplearning-lectures issue #22 (LabsSolutions/02-pytorch-asr/main_ctc.py wrap_ctc_args "
          "'# compute the log_softmax unpacked_predictions = unpacked_predictions.log_softmax(dim=2)' folded into the "
          "comment by c16e0843 'refactored with flake8/blake', models.py CTCModel, data.py CharMap/WaveformProcessor/"
          "BatchCollate @b3862d6dd1af45bea1a99f9b26a0c8baa1520422 = 2424f8c^; "
          "fix 2424f8cb8aa4f9b74ce7c3e55abc1e9f9363549c 'fix #22': the log_softmax line restored before nn.CTCLoss)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits"}), ("not_constant_predictions", {})]

# main_ctc.py argparse defaults at b3862d6 (the shrunk ones marked)
n_mels = 40  # --nmels, default data._DEFAULT_NUM_MELS = 80 (halved: the CNN costs scale with it)
nhidden_rnn = 128  # --nhidden_rnn, default 1024 (71 M parameters, 2 s a step on one CPU thread)
nlayers_rnn = 4  # --nlayers_rnn
cell_type = "GRU"  # --cell_type
dropout = 0.1  # --dropout
base_lr = 0.0005  # --base_lr, optim.Adam(model.parameters(), lr=base_lr)
grad_clip = None  # --grad_clip
batch_size = 8  # --batch_size, default 128
# data.py
_DEFAULT_RATE = 16000  # Hz
_DEFAULT_WIN_LENGTH = 25  # ms
_DEFAULT_WIN_STEP = 15  # ms
SPECTRO_NORMALIZATION = (-31, 32)  # get_dataloaders: mean_spectro = -31, std_spectro = 32 (dB)
DURATION = 1.2  # s, every stand-in utterance (min_duration 1 s, max_duration 5 s)
N_FRAMES = int(DURATION * _DEFAULT_RATE) // int(_DEFAULT_WIN_STEP * 1e-3 * _DEFAULT_RATE) + 1  # get_spectro_length: 81
SEED = 0
N_BATCHES = 6
N_INPUTS = 64

WORDS = ["le", "la", "les", "un", "une", "de", "des", "et", "est", "il", "elle", "on", "nous", "vous", "sur", "dans",
         "pas", "mais", "ou", "ce", "qui", "que", "avec", "pour", "tout", "bien", "rue", "mer", "vie", "nuit",
         "jour", "temps", "port", "mot", "roi", "loi", "sol", "ciel", "vent", "feu", "eau", "bois", "lac", "mur",
         "2", "3", "10", "ok", "l'eau", "c'est", "oui", "non"]


class CharMap(object):
    """
    Object in charge of performing the char <-> int conversion
    It holds the vocabulary and the functions required for performing
    the conversions in the two directions
    """

    _BLANK = 172
    _SOS = 182
    _EOS = 166

    def __init__(self) -> None:
        ord_chars = frozenset().union(
            range(97, 123),  # a-z
            range(48, 58),  # 0-9
            [32, 39, 44, 46],  # <space> <,> <.> <'>
            [self._SOS],  # <sos>¶
            [self._EOS],  # <eos>¦
            [10060],  # <unk> ❌
        )

        # The pad symbol is added first to guarantee it has idx 0
        self.idx2char = [chr(self._BLANK)] + [chr(i) for i in ord_chars]
        self.char2idx = {c: idx for (idx, c) in enumerate(self.idx2char)}

        self.equivalent_char = {}
        for i in range(224, 229):
            self.equivalent_char[chr(i)] = "a"
        for i in range(232, 236):
            self.equivalent_char[chr(i)] = "e"
        for i in range(236, 240):
            self.equivalent_char[chr(i)] = "i"
        for i in range(242, 247):
            self.equivalent_char[chr(i)] = "o"
        for i in range(249, 253):
            self.equivalent_char[chr(i)] = "u"
        # Remove the punctuation marks
        for c in ["!", "?", ";"]:
            self.equivalent_char[c] = "."
        for c in ["-", "…", ":"]:
            self.equivalent_char[c] = " "
        self.equivalent_char["—"] = ""
        self.equivalent_char["’"] = "'"

    @property
    def vocab_size(self) -> int:
        return len(self.idx2char)

    @property
    def eoschar(self) -> str:
        return chr(self._EOS)

    @property
    def eos(self) -> int:
        return self.char2idx[self.eoschar]

    @property
    def soschar(self) -> str:
        return chr(self._SOS)

    @property
    def blankid(self) -> int:
        return self.char2idx[chr(self._BLANK)]

    def encode(self, utterance: str) -> list[int]:
        utterance = self.soschar + utterance.lower() + self.eoschar
        # Remove the accentuated characters
        chars = [self.equivalent_char[c] if c in self.equivalent_char else c for c in utterance]
        # Replace the unknown characters
        chars = ["❌" if c not in self.char2idx else c for c in chars]
        return [self.char2idx[c] for c in chars]

    def decode(self, tokens: Any) -> str:
        return "".join([self.idx2char[it] for it in tokens])


charmap = CharMap()


def utterances(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CommonVoice-fr stand-in after ``BatchCollate``: (n, 81, n_mels) float32 log-mel spectrograms of 1.2 s
    utterances (16 kHz, 25 ms windows, 15 ms hop -> 81 frames), normalised as the program does,
    ``(dB - (-31)) / 32`` (so silence about -0.9, voiced frames up to about 1.3), and the transcripts encoded by
    ``CharMap.encode`` (<sos> text <eos>), padded with 0 (the blank id, as ``pad_sequence`` pads them) to
    (n, max_len) int64; plus the texts. Each character has its own spectral envelope (2-3 formant-like bumps
    for letters, a high-band noise for the digits and punctuation, a dip for the space), held for 5-8 frames
    (75-120 ms) with soft on/offsets, after 4-10 frames of leading silence; speakers differ by gain, a shift of
    up to +-2 mel bands and the noise level. The envelopes are fixed (seed 1234); ``seed`` draws the texts and
    the speakers."""
    env_rng = np.random.default_rng(1234)
    vocab = charmap.vocab_size
    mel = np.arange(n_mels)[None, :]
    envelopes = np.zeros((vocab, n_mels))
    for c in range(vocab):
        ch = charmap.idx2char[c]
        if ch == " ":
            envelopes[c] = 0.15
        elif ch.isalpha() and ch.isascii():
            for _ in range(int(env_rng.integers(2, 4))):
                mu, sd = env_rng.uniform(2, n_mels - 3), env_rng.uniform(1.2, 3.5)
                envelopes[c] += env_rng.uniform(0.8, 1.8) * np.exp(-0.5 * ((mel[0] - mu) / sd) ** 2)
        else:
            lo = env_rng.uniform(n_mels * 0.45, n_mels * 0.75)
            envelopes[c] = env_rng.uniform(0.6, 1.2) * (mel[0] > lo) * env_rng.uniform(0.5, 1.0, n_mels)
    rng = np.random.default_rng(seed)
    x = np.empty((n, N_FRAMES, n_mels), "float32")
    texts: list[str] = []
    for i in range(n):
        while True:
            words = [WORDS[int(k)] for k in rng.integers(0, len(WORDS), int(rng.integers(1, 4)))]
            text = " ".join(words)
            if 3 <= len(text) <= 8:
                break
        texts.append(text)
        gain, shift, noise = rng.uniform(0.8, 1.2), int(rng.integers(-2, 3)), rng.uniform(0.06, 0.15)
        spec = np.zeros((N_FRAMES, n_mels))
        t = int(rng.integers(4, 11))
        for ch in text:
            d = int(rng.integers(5, 9))
            ramp = np.minimum(1.0, np.minimum(np.arange(1, d + 1), np.arange(d, 0, -1)) / 2.0)
            stop = min(t + d, N_FRAMES)
            spec[t:stop] += (ramp[:stop - t, None] * np.roll(envelopes[charmap.char2idx[ch]], shift)[None])
            t += d
        x[i] = -0.9 + gain * spec + noise * rng.standard_normal((N_FRAMES, n_mels))
    enc = [charmap.encode(s) for s in texts]
    y = np.zeros((n, max(len(e) for e in enc)), "int64")  # pad_sequence pads with 0 = blank
    for i, e in enumerate(enc):
        y[i, :len(e)] = e
    return x, y, texts


def _model(seed: int = SEED) -> Any:
    import torch
    import torch.nn as nn
    from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(seed)

    class CTCModel(nn.Module):
        """
        Connectionist Temporal Classification architecture inspired by
        the DeepSpeech2. To be used with the CTC Loss
        """

        def __init__(self, charmap: CharMap, n_mels: int, nhidden_rnn: int, nlayers_rnn: int, cell_type: str,
                     dropout: float) -> None:
            super(CTCModel, self).__init__()
            self.charmap = charmap
            self.n_mels = n_mels
            self.nhidden_rnn = nhidden_rnn
            self.nlayers_rnn = nlayers_rnn
            self.cell_type = cell_type

            # The convolutional layers
            self.cnn = nn.Sequential(
                nn.Conv2d(in_channels=1, out_channels=32, kernel_size=(41, 11), stride=2, padding=(20, 5)),
                nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True),
                nn.Dropout2d(dropout),
                nn.Conv2d(in_channels=32, out_channels=32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)),
                nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True),
                nn.Dropout2d(dropout),
            )

            cell_builder = getattr(nn, cell_type)

            # The temporal layers
            self.rnn = cell_builder(32 * n_mels // 2, nhidden_rnn, num_layers=nlayers_rnn, bidirectional=True)

            # The classification output layers
            self.charlin = nn.Sequential(
                nn.Linear(2 * self.nhidden_rnn, charmap.vocab_size)  # the vocabulary contrains the blank
            )

            self.reset_parameters()

        def reset_parameters(self) -> None:
            with torch.no_grad():
                # GRU
                for i in range(self.nlayers_rnn):
                    for direction in ["", "_reverse"]:
                        gates = getattr(self.rnn, f"bias_ih_l{i}{direction}").chunk(3, dim=0)
                        irg, izg, ing = gates
                        irg.fill_(1.0)
                        izg.fill_(-1.0)
                        ing.fill_(0.0)

                        gates = getattr(self.rnn, f"bias_hh_l{i}{direction}").chunk(3, dim=0)
                        hrg, hzg, hng = gates
                        hrg.fill_(0.0)
                        hzg.fill_(0.0)
                        hng.fill_(0.0)

        def forward_packed(self, inputs: PackedSequence) -> PackedSequence:
            unpacked_inputs, lens_inputs = pad_packed_sequence(inputs)
            unpacked_inputs = unpacked_inputs.transpose(0, 1).unsqueeze(dim=1)
            out_cnn = self.cnn(unpacked_inputs)
            B = out_cnn.shape[0]
            To = out_cnn.shape[2]
            out_cnn = out_cnn.permute(2, 0, 1, 3).reshape(To, B, -1)
            rnn_inputs = pack_padded_sequence(out_cnn, lengths=lens_inputs // 4)
            packed_outrnn, _ = self.rnn(rnn_inputs)
            unpacked_outrnn, lens_outrnn = pad_packed_sequence(packed_outrnn)
            out_lin = self.charlin(unpacked_outrnn)
            outputs = pack_padded_sequence(out_lin, lengths=lens_outrnn)
            return outputs

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # port: a batch-first (B, T, n_mels) tensor of equal-length spectrograms in, packed as BatchCollate
            # packs them (T, B, n_mels); the packed (T', B, vocab) logits come back padded, batch first
            spectros = pack_padded_sequence(x.transpose(0, 1), lengths=[x.shape[1]] * x.shape[0])
            unpacked, _ = pad_packed_sequence(self.forward_packed(spectros))
            return unpacked.transpose(0, 1)

    return CTCModel(charmap, n_mels, nhidden_rnn, nlayers_rnn, cell_type, dropout)


def make_loss(fixed: bool) -> Any:
    """main_ctc.py: ``baseloss = nn.CTCLoss(blank=blank_id, reduction="mean", zero_infinity=True)`` and
    ``loss = lambda *params: baseloss(*wrap_ctc_args(*params))``, on the port's padded tensors."""
    import torch
    import torch.nn as nn

    blank_id = charmap.blankid

    def wrap_ctc_args(predictions: torch.Tensor, targets: torch.Tensor) -> tuple:
        """
        Returns:
            log_softmax predictions, targets, lens_predictions, lens_targets
        """
        unpacked_predictions = predictions.transpose(0, 1)  # T, B, vocab_size
        lens_predictions = torch.full((predictions.shape[0],), predictions.shape[1], dtype=torch.long)

        if fixed:  # 2424f8c
            # compute the log_softmax
            unpacked_predictions = unpacked_predictions.log_softmax(dim=2)  # T, B, vocab_size
        # else b3862d6:
        # compute the log_softmax unpacked_predictions = unpacked_predictions.log_softmax(dim=2)  # T, B, vocab_size

        # the padded (B, S) transcripts: pad_sequence padded them with 0 = blank, which never occurs inside one
        lens_targets = (targets != blank_id).sum(dim=1)
        # Stack the subslices of the tensors
        unpacked_targets = torch.cat([batchi[:ti] for batchi, ti in zip(targets, lens_targets)])

        return unpacked_predictions, unpacked_targets, lens_predictions, lens_targets

    baseloss = nn.CTCLoss(blank=blank_id, reduction="mean", zero_infinity=True)
    return lambda *params: baseloss(*wrap_ctc_args(*params))


def _build(fixed: bool) -> dict[str, Any]:
    import torch

    model = _model(SEED)
    model.train()
    x, y, _ = utterances(N_BATCHES * batch_size, SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, N_BATCHES * batch_size, batch_size)]
    xi, _, _ = utterances(N_INPUTS, SEED + 1)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xi),
            "loss_fn": make_loss(fixed),
            "optimizer": lambda params: torch.optim.Adam(params, lr=base_lr)}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
