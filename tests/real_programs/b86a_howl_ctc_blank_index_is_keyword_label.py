"""howl (castorini): CTC wake-word training with ``nn.CTCLoss()`` whose default blank 0 is the wake word's own label.

Source: github.com/castorini/howl. CTC ("alignment-free") training came in PR #24 (d94f0d9); PR #47 (99e2f2d, "Fix
training with ctc loss") made the word tokenizer emit one negative label per other word and added
``blank_label = len(vocab) + 1`` to ``InferenceContext`` for the inference engine, but left the loss in
``training/run/train.py`` as ``criterion = nn.CTCLoss()``. Buggy version: 3efb326^ (c639d27), files
``training/run/train.py``, ``howl/context.py``, ``howl/data/tokenize.py`` (WakeWordTokenizer),
``howl/data/transform/base.py`` (AudioSequenceBatchifier, ZmuvTransform), ``howl/model/rnn.py`` (SequentialLstm,
registered as 'seq-lstm') and ``envs/seq-lstm.env`` (VOCAB [" hey","fire","fox"], TOKEN_TYPE word, OBJECTIVE ctc,
LEARNING_RATE 0.0001, WEIGHT_DECAY 0.00001, BATCH_SIZE 16, NUM_MELS 40). Fix: PR #53, commit
3efb326984711e6751336fc037ce003ef87d852f "Refactoring InferenceContext and fixing incorrect ctc blank index"
(bullet "correct blank label"): the blank becomes an explicit '[BLANK]' entry after the vocabulary and the negative
label, and train.py passes it to the loss, ``criterion = nn.CTCLoss(ctx.blank_label)``.

Fault label: label_mapping_mismatch|labels_invalid. With token type 'word' the vocabulary maps ' hey' -> 0,
'fire' -> 1, 'fox' -> 2, the negative (other word) label is 3 and the head's extra unit 4 was meant as the blank
(``num_labels = len(vocab) + 1 + use_blank`` = 5). ``nn.CTCLoss()`` takes blank=0, so the loss treats the wake word's
label as the blank: every target row of a 'hey firefox' clip starts with the blank index (which CTC targets must
never contain), and the unit 4 reserved for the blank is never a target. The model learns to emit 0 on every
frame, which under the loss's view is "blank", so the word 'hey' can never be told apart from silence; and because a
target symbol equal to the blank lets several alignment paths spell the same frame string, the summed "likelihood"
exceeds 1 and the reported CTC loss goes below zero while it keeps "improving".

Kept verbatim: ``SequentialLstm`` (LSTM(40, 128), Linear(128, 256), ReLU, Linear(256, 5); torch default init), the
``InferenceContext`` arithmetic for num_labels / negative_label / blank_label, ``params = list(filter(...))``,
``AdamW(params, 1e-4, weight_decay=1e-5)``, the CTC branch of the train loop (``F.log_softmax(scores, -1)`` on
[frames x batch x labels], ``lengths`` through ``model.compute_length``, ``criterion(scores, batch.labels, lengths,
batch.label_lengths)``), ``nn.CTCLoss()`` in ``buggy`` and ``nn.CTCLoss(ctx.blank_label)`` in ``fixed``, the
label padding with the negative label (AudioSequenceBatchifier ``pad(..., element=self.negative_label)``).
Replaced / adapted: ``ctx`` is a SimpleNamespace holding the three numbers the buggy InferenceContext computes for
this vocabulary; the model runs static, not ``.streaming()`` as train.py sets it (streaming carries the last
batch's (1, 16, 128) LSTM state into the next call, which raises for any batch of another size and makes outputs
depend on the previous call; both versions share it and it is not the fault). The wrapper ``Clips`` calls the
model with the clip lengths as train.py does and returns (batch, frames, labels); ``loss_fn`` turns it back to
time-major before the program's log_softmax and CTC call. Targets are one int64 row per clip,
``[label_length, label_1, ..., label_6]`` (labels padded with 3), since the checks pass a single y tensor.
The per-epoch LR decay (x 0.998) is left out: negligible over these runs.
Data stand-in (no Common Voice / 'hey firefox' download, no torchaudio): the program's StandardAudioTransform
log-mels are synthesised directly: 40 mel bins x 120 frames (1.5 s at hop 200 / 16 kHz; the real clips are 3-6 s,
shrunk for speed), 27 word types each a template of three 'phone' states with two spectral bumps, words 9-14
frames, pauses 2-5 frames, noise N(0, 0.4) and a per-clip level offset, then one global ZMUV mean / std as
ZmuvTransform computes it. Half the clips say 'hey firefox' (firefox = 'fire' + 'fox' with no pause; 30 % add
one more word): targets [0, 1, 2] or [0, 1, 2, 3]; the rest are 2-4 other words (targets 3 per word), a quarter
of them starting with 'hey' ([0, 3, ...]), as WakeWordTokenizer(vocab, ignore_oov=False) encodes transcripts.
``batches``: 40 distinct batches of 16; ``batch``: the first; ``inputs``: 128 held-out clips. Widths unchanged.

Measured (/tmp/s53/h86_a/measure.py: the module's builds, plain zero_grad / forward / loss_fn / backward / step
over the 40 batches cycled, torch seed 0, OMP_NUM_THREADS=1; held-out 128 clips decoded greedily, collapsing
repeats and dropping the loss's blank; "detection" = decoded tokens contain 0, 1, 2 in order):
  program lr 1e-4, 2400 steps (60 passes over the 640 clips; the program runs 100 epochs of a larger set):
    loss (mean of the last 40 steps) at steps 300 / 900 / 1500 / 2100 / 2400:
      buggy 1.03 / -0.00 / -0.27 / -0.36 / -0.40 (single batches down to -1.25);
      fixed 1.80 / 1.63 / 1.53 / 1.23 / 1.09 (min 0.94): still on the usual CTC all-blank plateau, falling.
    buggy: argmax is label 0 (' hey') on 100 % of held-out frames from step 300 on, label 4 on 0 %;
    fixed: label 4 (its blank) on 100 % of frames. Neither decodes a transcript yet at this lr and step count.
  diagnostic with lr 1e-3 (the module keeps 1e-4), 800 steps (/tmp/s53/h86_a/measure_lr.py):
    buggy loss 1.52 / -0.07 / -0.38 / -0.84 at steps 100 / 200 / 500 / 800, min -1.63; label 0 on 100 % of frames,
      exact transcripts 0 / 128, wake-word detection 0 % of positives (0 % false alarms) at every step;
    fixed loss 1.73 / 1.65 / 0.42 / 0.29 (min 0.19), leaves the plateau near step 350; at step 800 exact
      transcripts 41 %, detection 44 % of positives (61 % at step 700), 0 % false alarms; blank 4 on 93 % of frames.
  So the fault shows as a CTC loss below zero (impossible for valid targets) and a model collapsed onto the
  keyword's label, which can never detect the wake word; a falling loss alone looks like learning.
  Time per step (batch 16, one thread): ~0.06-0.1 s both. Build: first ~3-4 s (torch import, data), later ~0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "label_mapping_mismatch|labels_invalid"
SOURCE = ("github:castorini/howl PR #53 'Refactoring InferenceContext and fixing incorrect ctc blank index', fix "
          "3efb326984711e6751336fc037ce003ef87d852f (training/run/train.py 'criterion = nn.CTCLoss()' -> "
          "'nn.CTCLoss(ctx.blank_label)', howl/context.py, howl/model/rnn.py SequentialLstm, envs/seq-lstm.env "
          "@3efb326^ = c639d27; CTC training from PR #24 d94f0d9, #47 99e2f2d)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("batch_independence", {})]

VOCAB = [" hey", "fire", "fox"]  # envs/seq-lstm.env VOCAB='[" hey","fire","fox"]'
BATCH_SIZE = 16  # BATCH_SIZE=16
LEARNING_RATE = 0.0001  # LEARNING_RATE=0.0001
WEIGHT_DECAY = 0.00001  # WEIGHT_DECAY=0.00001
NUM_MELS = 40  # NUM_MELS=40
N_FRAMES = 120  # 1.5 s at hop 200 / 16 kHz (shrunk from Common Voice clips of 3-6 s)
MAX_LABELS = 6  # label columns after the length column (padded with the negative label)
N_BATCHES = 40
N_INPUTS = 128
N_OTHER_WORDS = 24
SEED = 0


def _word_templates(rng: np.random.Generator) -> np.ndarray:
    """One log-mel template per word type: 3 successive 'phone' states, each with two spectral bumps."""
    mel = np.arange(NUM_MELS)
    n_words = len(VOCAB) + N_OTHER_WORDS
    out = np.zeros((n_words, 3, NUM_MELS), "float32")
    for w in range(n_words):
        for s in range(3):
            for c in rng.choice(NUM_MELS, 2, replace=False):
                out[w, s] += rng.uniform(1.5, 3.0) * np.exp(-0.5 * ((mel - c) / rng.uniform(1.5, 3.0)) ** 2)
    return out


def _clip(rng: np.random.Generator, templates: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Log-mels (NUM_MELS, N_FRAMES) of one utterance and its token ids as WakeWordTokenizer(vocab, ignore_oov=False)
    encodes them: ' hey' 0, 'fire' 1, 'fox' 2, one negative label 3 per other word."""
    negative = len(VOCAB)
    if rng.random() < 0.5:  # 'hey firefox' (firefox = 'fire' + 'fox' without a pause), maybe one more word after it
        words = [[0], [1, 2]] + ([[int(rng.integers(3, 3 + N_OTHER_WORDS))]] if rng.random() < 0.3 else [])
    else:  # other sentences, a quarter of them starting with 'hey' ('hey there ...')
        words = [[int(w)] for w in rng.integers(3, 3 + N_OTHER_WORDS, rng.integers(2, 5))]
        if rng.random() < 0.25:
            words[0] = [0]
    spec = np.full((NUM_MELS, N_FRAMES), -1.0, "float32")  # silence floor (log-mel units)
    t = int(rng.integers(2, 10))
    tokens = []
    for word in words:
        for w in word:
            n = int(rng.integers(9, 15))
            if t + n > N_FRAMES:
                break
            idx = np.minimum((np.arange(n) * 3) // n, 2)
            spec[:, t:t + n] += templates[w][idx].T * rng.uniform(0.8, 1.2)
            t += n
            tokens.append(w if w < negative else negative)
        t += int(rng.integers(2, 6))
    spec += rng.normal(0, 0.4, spec.shape).astype("float32") + rng.uniform(-0.3, 0.3)
    return spec, tokens


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ZMUV-normalised log-mels (n, 1, NUM_MELS, N_FRAMES) and label rows [label_length, labels padded with 3]."""
    rng = np.random.default_rng(SEED)
    templates = _word_templates(rng)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    x = np.zeros((n, 1, NUM_MELS, N_FRAMES), "float32")
    y = np.full((n, 1 + MAX_LABELS), len(VOCAB), "int64")  # pad(..., element=self.negative_label)
    for i in range(n):
        x[i, 0], tokens = _clip(rng, templates)
        y[i, 0] = len(tokens)
        y[i, 1:1 + len(tokens)] = tokens
    n_tr = N_BATCHES * BATCH_SIZE
    mean, std = x[:n_tr].mean(), x[:n_tr].std()  # ZmuvTransform: one global mean / std over the training clips
    x = (x - mean) / std
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]


def _build(fixed: bool) -> dict[str, Any]:
    import types
    from typing import Any as _Any

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils.rnn import pad_packed_sequence, pack_padded_sequence
    from torch.optim.adamw import AdamW

    class LstmConfig:
        num_mels: int = 40
        hidden_size: int = 128
        num_labels: int = 2

    class SequentialLstm(nn.Module):  # howl/model/rnn.py, registered as 'seq-lstm'
        def __init__(self, num_labels: int, config: LstmConfig = LstmConfig()):
            super().__init__()
            self.num_labels = num_labels
            self.is_streaming = False  # RegisteredModel.static(); see the docstring
            self.lstm = nn.LSTM(config.num_mels, config.hidden_size)
            self.dnn = nn.Sequential(nn.Linear(config.hidden_size, int(2 * config.hidden_size)),
                                     nn.ReLU(),
                                     nn.Linear(int(2 * config.hidden_size), num_labels))
            self.hc = None

        @property
        def streaming_state(self) -> _Any:
            return self.hc

        @streaming_state.setter
        def streaming_state(self, x: _Any):
            self.hc = x

        def forward(self, x, lengths):
            x = x[:, 0]  # Use log-Mels only
            hx = self.streaming_state if self.is_streaming and self.streaming_state is not None else None
            x = x.permute(2, 0, 1).contiguous()
            if lengths is not None:
                x = pack_padded_sequence(x, lengths)
            rnn_seq, hc = self.lstm(x, hx=hx)
            if self.is_streaming:
                self.streaming_state = (hc[0].clone().detach(), hc[1].clone().detach())
            if lengths is not None:
                rnn_seq, _ = pad_packed_sequence(rnn_seq)
            return self.dnn(rnn_seq)

        def compute_length(self, length: int):
            return length

    class Clips(nn.Module):
        """Calls the model as train.py does, on whole clips, and returns (batch, frames, labels)."""

        def __init__(self, model: nn.Module):
            super().__init__()
            self.model = model

        def forward(self, x):
            lengths = torch.full((x.size(0),), x.size(-1), dtype=torch.int64)
            return self.model(x, lengths).permute(1, 0, 2)  # [num_frames x batch_size x num_labels] -> batch first

    # InferenceContext(VOCAB, token_type='word', use_blank=True) before the fix (howl/context.py @3efb326^):
    # vocab ' hey' 0, 'fire' 1, 'fox' 2, negative_label 3, blank_label 4, num_labels 5
    ctx = types.SimpleNamespace(num_labels=len(VOCAB) + 1 + 1, negative_label=len(VOCAB), blank_label=len(VOCAB) + 1)

    torch.manual_seed(SEED)
    model = SequentialLstm(ctx.num_labels)
    params = list(filter(lambda x: x.requires_grad, model.parameters()))
    optimizer = AdamW(params, LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    if fixed:
        criterion = nn.CTCLoss(ctx.blank_label)  # the fix (3efb326)
    else:
        criterion = nn.CTCLoss()  # blank=0, which is also the label of ' hey'

    def loss_fn(outputs, targets):
        scores = outputs.permute(1, 0, 2)  # back to [num_frames x batch_size x num_labels]
        scores = F.log_softmax(scores, -1)  # [num_frames x batch_size x num_labels]
        lengths = torch.full((scores.size(1),), scores.size(0), dtype=torch.int64)
        lengths = torch.tensor([model.compute_length(x.item()) for x in lengths])
        return criterion(scores, targets[:, 1:], lengths, targets[:, 0])

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": Clips(model), "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
