"""wenet-e2e/wekws (production keyword-spotting toolkit), the "Hi Xiaowen / Nihao Wenwen" recipe
(``examples/hi_xiaowen/s0``, ``conf/ds_tcn.yaml``, ``--num_keywords 2``, global CMVN with ``--norm_var``):
``KWSModel`` = ``GlobalCMVN`` -> ``LinearSubsampling1`` (``Linear(40, 256)`` + ReLU) -> ``TCN(num_layers=4,
channel=256, kernel_size=8, dropout=0.1, block_class=DsCnnBlock)`` (causal, dilations 1, 2, 4, 8, each block a
depthwise ``Conv1d`` -> BN -> ReLU -> pointwise ``Conv1d`` -> BN -> ReLU -> Dropout plus a residual) ->
``LinearClassifier(256, 2)`` -> ``nn.Sigmoid()``, i.e. one keyword posterior per frame and keyword; trained with
the repository's ``max_pooling_loss`` (for the utterance's keyword, -log of the highest frame posterior; for every
other keyword / filler, -log(1 - p) at the frame with the highest posterior; targets -1 = filler, 0, 1 = keyword
ids), ``optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)``, ``grad_clip: 5``.
The fault is in ``kws/utils/executor.py`` ``Executor.train``: the loop runs ``logits = model(feats)``,
``loss, acc = criterion(...)``, ``loss.backward()``, ``clip_grad_norm_(model.parameters(), clip)``,
``optimizer.step()`` and never calls ``optimizer.zero_grad()`` (nor ``model.zero_grad()``). Every ``.grad``
therefore adds the new batch's gradient to the (in-place clipped) buffer of all earlier ones, and Adam steps along
a direction partly made of stale gradients from earlier batches and earlier parameter values rather than the
current batch's gradient.

Source: github.com/wenet-e2e/wekws issue #72 ("Questions about optimizer.zero_grad()": "when optimizer.step() is
called, optimizer.zero_grad() is not called ... is this a special trick"; maintainer robin1001: "It's a bug, could
you help to make a PR to fix the problem"), PR #73. Buggy: ``kws/utils/executor.py`` at cff8a5f^ (41a3432; the
call was missing since the first commit aa0b0c1); fixed by
141d40704f33bd87805b3010548390592aab58c2 ("[fix bug] add optimizer.zero_grad() in kws/utils/executor.py (#72)
(#73)"), which inserts ``optimizer.zero_grad()`` just above ``loss.backward()``.
Program lines kept: ``KWSModel.forward``, ``GlobalCMVN``, ``LinearSubsampling1``, ``Block``/``DsCnnBlock``/``TCN``
(cache handling kept), ``LinearClassifier``, ``max_pooling_loss`` (its loss part; ``min_duration`` is not passed
by the executor at either commit, so it is 0), ``padding_mask``, the executor's loop body as ``train_step``, the
``ds_tcn.yaml`` sizes and the optimizer settings.
Ported minimally: the quantisation stubs (``QuantStub``/``DeQuantStub``, identities in float training) are
left out; ``criterion`` returns only the loss (the accuracy it also returns is not used for training); all
utterances of a batch have the same length (so the padding mask is all False). For CPU speed: batch 256 -> 16,
hidden_dim 256 -> 128 and utterances of 64 frames (0.64 s, shorter than the recipe's 1-3 s clips); one step of the
recipe's sizes (batch 256, 256 channels, ~150 frames) takes well over a second on one CPU thread, ~40-90 ms now
(the TCN's causal left padding of 7 * (1 + 2 + 4 + 8) frames is kept). Torch only: Keras (``fit`` /
``train_on_batch``) computes fresh gradients every step, so there is no gradient buffer to forget to clear.
Data stand-in (no download of the Mobvoi hotword corpus): 256 utterances of 64 frames x 40 Kaldi-style log-mel
fbank values (background 7..12 with a spectral tilt, per-utterance gain offset, frame noise std 1.5), 25 % "Hi
Xiaowen" (target 0), 25 % "Nihao Wenwen" (target 1), 50 % filler (target -1). Each keyword is a fixed sequence of
four 10-frame "syllables" (energy +4 on a syllable's own three formant bands) starting at a random frame; the two
keywords share their last syllable ("wen"); a filler utterance holds four syllables from the same inventory: half
the time random ones, half the time a keyword with one syllable swapped (a near miss). The CMVN mean / inverse std
are computed from these features, as ``tools/compute_cmvn_stats.py`` does on the training set. 16 batches of 16,
float32 features, int64 targets.
Fault label: missing_zero_grad.
Fix (141d407): ``optimizer.zero_grad()`` before ``loss.backward()``.
Symptom in a short loop (the executor loop body as given here, Adam 1e-3, clip 5, OMP_NUM_THREADS=1, seed 0): mild
at this scale, because the clip keeps the stale-gradient buffer at norm <= 5 while fresh batch gradients have
norm ~4-6 (13 at the first step), so the un-cleared buffer acts like an extra heavy momentum rather than blowing
up. 160 steps over the 16 batches (10 epochs), mean max-pooling loss over each 16-step epoch: buggy 1.22, 0.98,
0.78, 0.42, 0.25, 0.18, 0.15, 0.17, 0.18, 0.13 (stalls at ~0.15 from epoch 6 on), fixed 1.22, 0.98, 0.72, 0.53,
0.35, 0.24, 0.17, 0.12, 0.09, 0.06 (still falling; half the buggy loss at the end). One batch repeated 60 times:
both fit it (buggy 1.71 -> 0.0003, fixed 1.71 -> 0.010). About 90 ms per step on the loaded test machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "missing_zero_grad"
SOURCE = ("github:wenet-e2e/wekws issue #72, PR #73 (kws/utils/executor.py@cff8a5f^, kws/model/*.py, "
          "examples/hi_xiaowen/s0/conf/ds_tcn.yaml; fix 141d40704f33bd87805b3010548390592aab58c2)")
FRAMEWORKS = ("torch",)
# the lead's edit: the helper wrote kind="probabilities", which asks for rows summing to 1 (a softmax); the head
# is one sigmoid per keyword, for which the API's kind is "sigmoid" (each value in [0, 1])
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"})]

input_dim = 40  # fbank num_mel_bins: 40
hidden_dim = 128  # model: hidden_dim: 256 (shrunk, see docstring)
num_layers = 4  # backbone: tcn, ds: true, num_layers: 4
kernel_size = 8
dropout = 0.1
num_keywords = 2  # run.sh: num_keywords=2
lr = 0.001  # optim_conf: lr: 0.001, weight_decay: 0.0001
weight_decay = 0.0001
grad_clip = 5  # training_config: grad_clip: 5
batch_size = 16  # batch_conf: batch_size: 256 (shrunk, see docstring)
n_batches = 16
frames = 64
syl_len = 10


def _fbank_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, frames, 40) log-mel fbank stand-ins and targets -1 (filler), 0, 1."""
    rng = np.random.default_rng(seed)
    n = batch_size * n_batches
    n_syl = 8
    bands = np.stack([rng.choice(input_dim, 3, replace=False) for _ in range(n_syl)])  # formant bands
    keywords = [[0, 1, 2, 3], [4, 5, 6, 3]]  # hi-xiao-w-en / ni-hao-wen-wen: shared last syllable
    y = np.array([0] * (n // 4) + [1] * (n // 4) + [-1] * (n // 2))
    rng.shuffle(y)
    tilt = np.linspace(12.0, 7.0, input_dim)
    x = tilt + rng.normal(0, 1.0, (n, 1, 1)) + rng.normal(0, 1.5, (n, frames, input_dim))
    for i, t in enumerate(y):
        if t >= 0:
            syls = keywords[t]
        else:  # filler: random syllables, half the time a keyword with one syllable replaced
            syls = list(keywords[rng.integers(0, 2)]) if rng.random() < 0.5 else list(rng.integers(0, n_syl, 4))
            syls[rng.integers(0, 4)] = rng.integers(0, n_syl)
        start = rng.integers(0, frames - 4 * syl_len + 1)
        for k, s in enumerate(syls):
            a = start + k * syl_len
            x[i, a:a + syl_len - 2, bands[s]] += 4.0
    return x.astype("float32"), y.astype("int64")


def _build(zero_grad: bool) -> dict[str, Any]:
    from typing import Optional

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils import clip_grad_norm_

    torch.manual_seed(0)
    x, y = _fbank_like()

    class GlobalCMVN(torch.nn.Module):  # kws/model/cmvn.py
        def __init__(self, mean: torch.Tensor, istd: torch.Tensor, norm_var: bool = True):
            super().__init__()
            assert mean.shape == istd.shape
            self.norm_var = norm_var
            self.register_buffer("mean", mean)
            self.register_buffer("istd", istd)

        def forward(self, x: torch.Tensor):
            x = x - self.mean
            if self.norm_var:
                x = x * self.istd
            return x

    class LinearSubsampling1(torch.nn.Module):  # kws/model/subsampling.py (quant stubs dropped)
        def __init__(self, idim: int, odim: int):
            super().__init__()
            self.out = torch.nn.Sequential(torch.nn.Linear(idim, odim), torch.nn.ReLU())
            self.subsampling_rate = 1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(x)

    class Block(nn.Module):  # kws/model/tcn.py
        def __init__(self, channel: int, kernel_size: int, dilation: int, dropout: float = 0.1):
            super().__init__()
            self.padding = (kernel_size - 1) * dilation

        def forward(self, x: torch.Tensor, cache: Optional[torch.Tensor] = None):
            # The CNN used here is causal convolution
            if cache is None:
                y = F.pad(x, (self.padding, 0), value=0.0)
            else:
                y = torch.cat((cache, x), dim=2)
            assert y.size(2) > self.padding
            new_cache = y[:, :, -self.padding:]
            y = self.cnn(y)
            y = y + x  # residual connection
            return y, new_cache

    class DsCnnBlock(Block):
        """ Depthwise Separable Convolution """
        def __init__(self, channel: int, kernel_size: int, dilation: int, dropout: float = 0.1):
            super().__init__(channel, kernel_size, dilation, dropout)
            self.cnn = nn.Sequential(
                nn.Conv1d(channel, channel, kernel_size, stride=1, dilation=dilation, groups=channel),
                nn.BatchNorm1d(channel),
                nn.ReLU(),
                nn.Conv1d(channel, channel, kernel_size=1, stride=1),
                nn.BatchNorm1d(channel),
                nn.ReLU(),
                nn.Dropout(dropout),
            )

    class TCN(nn.Module):
        def __init__(self, num_layers: int, channel: int, kernel_size: int, dropout: float = 0.1,
                     block_class=DsCnnBlock):
            super().__init__()
            self.padding = 0
            self.network = nn.ModuleList()
            for i in range(num_layers):
                dilation = 2 ** i
                self.padding += (kernel_size - 1) * dilation
                self.network.append(block_class(channel, kernel_size, dilation, dropout))

        def forward(self, x: torch.Tensor, cache: Optional[torch.Tensor] = None):
            x = x.transpose(1, 2)  # (B, D, T)
            out_caches = []
            for block in self.network:
                x, c = block(x)
                out_caches.append(c)
            x = x.transpose(1, 2)  # (B, T, D)
            new_cache = torch.cat(out_caches, dim=2)
            return x, new_cache

    class LinearClassifier(nn.Module):  # kws/model/classifier.py (quant stubs dropped)
        def __init__(self, input_dim, output_dim):
            super().__init__()
            self.linear = torch.nn.Linear(input_dim, output_dim)

        def forward(self, x: torch.Tensor):
            return self.linear(x)

    class KWSModel(nn.Module):  # kws/model/kws_model.py
        def __init__(self, idim, odim, hdim, global_cmvn, preprocessing, backbone, classifier, activation):
            super().__init__()
            self.idim, self.odim, self.hdim = idim, odim, hdim
            self.global_cmvn = global_cmvn
            self.preprocessing = preprocessing
            self.backbone = backbone
            self.classifier = classifier
            self.activation = activation

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.global_cmvn is not None:
                x = self.global_cmvn(x)
            x = self.preprocessing(x)
            x, _ = self.backbone(x)
            x = self.classifier(x)
            x = self.activation(x)
            return x

    def padding_mask(lengths: torch.Tensor) -> torch.Tensor:  # kws/utils/mask.py
        batch_size = lengths.size(0)
        max_len = int(lengths.max().item())
        seq = torch.arange(max_len, dtype=torch.int64, device=lengths.device)
        seq = seq.expand(batch_size, max_len)
        return seq >= lengths.unsqueeze(1)

    def max_pooling_loss(logits, target, lengths, min_duration: int = 0):  # kws/model/loss.py (loss part)
        mask = padding_mask(lengths)
        num_utts = logits.size(0)
        num_keywords = logits.size(2)
        target = target.cpu()
        loss = 0.0
        for i in range(num_utts):
            for j in range(num_keywords):
                # Add entropy loss CE = -(t * log(p) + (1 - t) * log(1 - p))
                if target[i] == j:
                    # For the keyword, do max-polling
                    prob = logits[i, :, j]
                    m = mask[i].clone().detach()
                    m[:min_duration] = True
                    prob = prob.masked_fill(m, 0.0)
                    prob = torch.clamp(prob, 1e-8, 1.0)
                    max_prob = prob.max()
                    loss += -torch.log(max_prob)
                else:
                    # For other keywords or filler, do min-polling
                    prob = 1 - logits[i, :, j]
                    prob = prob.masked_fill(mask[i], 1.0)
                    prob = torch.clamp(prob, 1e-8, 1.0)
                    min_prob = prob.min()
                    loss += -torch.log(min_prob)
        return loss / num_utts

    def criterion(logits, target):  # criterion('max_pooling', logits, target, feats_lengths), full-length utts
        feats_lengths = torch.full((logits.size(0),), logits.size(1), dtype=torch.int64)
        return max_pooling_loss(logits, target, feats_lengths)

    xt = torch.tensor(x)
    mean = xt.reshape(-1, input_dim).mean(0)
    istd = 1.0 / xt.reshape(-1, input_dim).std(0).clamp(min=1e-20)
    model = KWSModel(input_dim, num_keywords, hidden_dim, GlobalCMVN(mean, istd, True),
                     LinearSubsampling1(input_dim, hidden_dim),
                     TCN(num_layers, hidden_dim, kernel_size, dropout, DsCnnBlock),
                     LinearClassifier(hidden_dim, num_keywords), nn.Sigmoid())

    def train_step(model, optimizer, criterion, feats, target):  # Executor.train, one batch
        logits = model(feats)
        loss = criterion(logits, target)
        if zero_grad:  # the fix (141d407)
            optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), grad_clip)
        if torch.isfinite(grad_norm):
            optimizer.step()
        return loss

    yt = torch.tensor(y)
    tb = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": xt[:64], "loss_fn": criterion,
            "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(zero_grad=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(zero_grad=True)
