"""amanshenoy/multilogue-net: the official PyTorch code of "Multilogue-Net: A Context Aware RNN for Multi-modal
Emotion Detection and Sentiment Analysis in Conversation" (ACL 2020 Challenge-HML workshop). ``train_emotion.py``
trains ``model.py`` ``CategoricalModel`` on one CMU-MOSEI emotion at a time (``--emotion``, a binary label per
utterance: 1 = the emotion is present) with ``MaskedNLLLoss(loss_weights)`` (``nn.NLLLoss(weight=...,
reduction='sum')`` divided by the summed weights of the unmasked targets), ``optim.Adam(lr=0.0001,
weight_decay=0.00001)``, batch 128 videos, 50 epochs; ``--class-weight`` is ``store_true`` with ``default=True``, so
the weights are always used. The model reads each video as a time-major sequence of utterances (GloVe text 300-d,
OpenSMILE audio 384-d, FACET video 35-d, a speaker one-hot, ``umask``) through six ``MultilogueNet`` recurrences
(forward and reversed, one per modality; each a ``MultilogueNetCell`` of three ``GRUCell``s with attention over
the global-state history), a shared ``linear`` + ReLU, pairwise ``BiModalAttention`` and ``smax_fc`` with
``log_softmax`` over 2 classes.

The fault (the class weights): the weights are written as ``[1/p, 1/(1 - p)]`` with p the share of utterances in
which the emotion is PRESENT (class 1), so the first entry, the weight of class 0 (absent, the majority), is the
large one: for 'fear' (present in 8.16 % of the utterances) class 0 gets 1/0.0816 = 12.25 and class 1 gets
1/0.9184 = 1.09. Instead of balancing the two classes the weights multiply the imbalance by another 11x: class 0
carries 0.918 x 12.25 / (0.918 x 12.25 + 0.082 x 1.09) = 99.2 % of the loss. Always answering "absent" is then
almost optimal, and the classifier collapses to it. Issue #8 ("Model predicting only one class": after training,
every emotion model except happiness (p = 0.54, so the inversion hardly matters) and the binary-sentiment one
(``train_categorical.py``, weights [1/0.3097, 1/0.6903], a mild imbalance) gives the confusion matrix
``[[X 0.] [Y 0.]]``);
the maintainer first blamed the imbalance. Issue #21 ("Possible error in loss weight assignment") pointed at the
order: for fear, label 0 is the more frequent one and should get the smaller weight; the maintainer: "looking into
it you seem to be right. Flipping them should be the right way to go." The repository was not changed afterwards;
the fix used here is the maintainer's: the two entries of each line swapped (fear: ``[1/0.9184, 1/0.0816]``, class 1
x 12.25, giving each class half of the loss).
Fault label: class_collapse|labels_imbalanced (class weights inverted on an 8 %-positive label: the majority is
up-weighted and the model predicts only it).

Source: github.com/amanshenoy/multilogue-net ``train_emotion.py`` (the ``loss_weights`` chain, from 12cf34ce3
"Change emotion weights"), ``model.py`` (CategoricalModel, MultilogueNet, MultilogueNetCell, SimpleAttention,
BiModalAttention, MaskedNLLLoss) and ``dataloader.py`` (MOSEICategorical, collate_fn) at
53ceac5c68af99dc5ebc1ac2def39fc042e4b9a0 (the last commit touching them); issues #8 and #21; no fixing commit (the
fix is the maintainer's answer in #21).

Program lines kept: the whole ``loss_weights`` if / elif chain of ``train_emotion.py`` verbatim with
``emotion = 'fear'`` (the fixed version: the same chain with each pair swapped), ``MaskedNLLLoss`` verbatim, the
model classes of ``model.py`` line for line (torch default init), ``model(textf, acouf, visuf, textf, qmask,
umask)`` (text also as the context), the loop's ``log_prob.transpose(0,1).contiguous().view(-1, 2)`` /
``label.view(-1)``, ``optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)``, rec_dropout 0.1, dropout 0.5,
batch 128, the input widths 300 / 384 / 35 and the context width 300.
Shrunk / replaced: D_g, D_p, D_e, D_h 150 / 150 / 100 / 100 -> 32 each (the full model, 3.6 M parameters, took
~1.5 s a step on one core; now 430 k parameters, ~0.13-0.2 s a step on a loaded machine);
``MultilogueNetCell._select_parties``' Python loop over the batch replaced by the equivalent indexing
``X[arange(B), indices]`` (it doubled the step time); ``_reverse_seq`` kept as written.
Batch layout: the collate_fn's tensors are packed into one batch-first float32 x of shape (videos, 6, 722) = text
300 | audio 384 | video 35 | speaker one-hot 2 | umask 1; a small wrapper ``EmotionModel`` transposes it to the
time-major tensors the model takes and returns ``log_prob`` batch-first (videos, 6, 2); y is (videos, 6) int64.
``loss_fn`` flattens both as the loop does and calls ``MaskedNLLLoss`` with an all-ones umask (every stand-in video
has 6 utterances, so nothing is padded and the loader's umask is all ones).
Keras twin (Keras 3, a subclassed ``keras.Model``): the same model written with ``keras.ops`` -- ``GRUCell``
(reset_after=True, torch's equations) with torch's U(+-1/sqrt(units)) init for kernel, recurrent kernel and both
biases, ``Dense`` with U(+-1/sqrt(fan_in)), the same loops over utterances, the same dropouts; ``_select_parties``
as a one-hot sum, ``_reverse_seq`` as a gather; torch Adam's coupled ``weight_decay`` as an L2(1e-5 / 2)
regulariser on every weight, ``Adam(1e-4, epsilon=1e-8)``; the loss compiled in is ``MaskedNLLLoss``:
w[y] x NLL / mean(w[y]) per utterance (Keras' mean over them gives sum w NLL / sum w), with the same weight pairs.
430,402 parameters in both.
Data stand-in (no CMU-MOSEI pickles: they were lost from the repository's git-lfs): seeded synthetic videos of 6
utterances (MOSEI: ~7 on average). Each video has a mood m ~ N(0, 1); each utterance a fear score 0.6 m + 0.8 e;
an utterance is labelled 1 when its score is above the training set's 91.84 % quantile (8.16 % positives, fear's
rate in the program's weights). Each modality sees the score through its own noise (text sd 0.8, audio and video
1.2) along a random direction on top of N(0, 1) features (text scaled to 0.3 like GloVe averages; audio / video
standardised), so the inputs determine the labels only partly and fusing modalities and context helps. One
speaker per video (MOSEI is monologue: qmask [1, 0]). ``batches``: 18 batches of 128 videos (= one MOSEI epoch of
~2,250 training videos); ``batch``: the first; ``inputs``: 256 held-out videos (1,536 utterances, 104 positive).

Measured (my own plain loops, OMP_NUM_THREADS=1, seed 0, the module's builds, the 18 batches in order, 10 epochs =
180 steps; held-out = the 256 ``inputs`` videos in eval mode, confusion matrix [[TN, FP], [FN, TP]] as the
program prints it; /tmp/s56/p/b94e/work/measure.py and measure_keras.py):
  torch, buggy: weighted training loss (epoch means) 0.736 0.674 0.608 0.533 0.438 0.321 0.205 0.119 0.076 0.061;
    held-out after epoch 2 [[1420, 12], [102, 2]], after epochs 4, 6, 8, 10 [[1432, 0], [104, 0]]: every utterance
    predicted "absent", recall of fear 0.000, balanced accuracy 0.500, accuracy 0.932 (= the majority share);
    mean P(fear) 0.41 -> 0.05.
  torch, fixed: weighted training loss 0.688 0.672 0.652 0.631 0.599 0.566 0.532 0.496 0.470 0.451; held-out
    balanced accuracy 0.675 / 0.786 / 0.815 / 0.822 / 0.810 after epochs 2 / 4 / 6 / 8 / 10, recall of fear
    0.99 / 0.98 / 0.96 / 0.91 / 0.85, after epoch 10 [[1108, 324], [16, 88]] (accuracy 0.779).
  Keras, buggy: training loss 0.651 0.594 0.532 0.457 0.363 0.260 0.169 0.113 0.089 0.079; held-out
    [[1432, 0], [104, 0]] after every evaluation from epoch 2 on (balanced accuracy 0.500, accuracy 0.932).
  Keras, fixed: training loss 0.714 0.701 0.685 0.668 0.644 0.616 0.586 0.554 0.523 0.500; held-out balanced
    accuracy 0.784 / 0.787 / 0.786 / 0.795 / 0.811, recall 0.72 / 0.89 / 0.92 / 0.90 / 0.87, after epoch 10
    [[1084, 348], [14, 90]].
  So the fault reproduces the issue's symptom exactly (predictions constant at the majority class, the
  ``[[X 0] [Y 0]]`` confusion matrix) within 2-4 epochs in both frameworks, while the flipped weights learn the
  minority class. Note that by the numbers a loss- or accuracy-based look would favour the buggy run: its
  weighted training loss falls much faster (to 0.06 vs 0.45), its held-out accuracy (0.932) and unweighted
  held-out NLL (0.24 vs 0.47) are better than the fixed model's; only per-class / constant-prediction views show
  the collapse. At initialisation the torch model happens to predict "present" for every held-out utterance
  (mean P 0.53) and the Keras one "absent" for almost all (0.48): both untrained models are near-constant.
  Time per step (batch 128, one thread, a machine shared with other jobs, load ~7 on 2 cores): torch ~0.13-0.2 s;
    Keras ``train_on_batch`` ~0.13 s after a first call of 25-45 s (graph tracing, ``jit_compile=False``); builds:
    torch ~3 s with the import, Keras 7-17 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "class_collapse|labels_imbalanced"
SOURCE = ("github:amanshenoy/multilogue-net issues #21 (fix per the maintainer: flip the weights) and #8 "
          "(train_emotion.py 'elif emotion=='fear': loss_weights = torch.FloatTensor([1/0.0816, 1/0.9184])' -> "
          "MaskedNLLLoss(loss_weights), model.py CategoricalModel / MultilogueNet / MaskedNLLLoss, dataloader.py "
          "MOSEICategorical @53ceac5c68af99dc5ebc1ac2def39fc042e4b9a0, weights from 12cf34ce3 'Change emotion "
          "weights'; no fixing commit)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("not_constant_predictions", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("input_independent_baseline", {})]

# train_emotion.py (defaults of its argparse options, README command line)
LR = 0.0001
L2 = 0.00001
REC_DROPOUT = 0.1
DROPOUT = 0.5
BATCH_SIZE = 128
N_CLASSES = 2
D_M_TEXT, D_M_AUDIO, D_M_VIDEO, D_M_CONTEXT = 300, 384, 35, 300
# program: D_g, D_p, D_e, D_h = 150, 150, 100, 100 -- shrunk (see the docstring)
D_G, D_P, D_E, D_H = 32, 32, 32, 32
FEAR_RATE = 0.0816  # the 'fear' line: 1/0.0816, 1/0.9184
# stand-in
N_UTT = 6  # utterances per video (CMU-MOSEI: ~7 on average)
N_FEAT = D_M_TEXT + D_M_AUDIO + D_M_VIDEO + 2 + 1  # text | audio | video | speaker one-hot | umask
N_BATCHES = 18  # CMU-MOSEI's ~2,250 training videos / 128 = 18 batches an epoch
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """x (videos, N_UTT, N_FEAT) float32 batch-first, y (videos, N_UTT) int64: 1 = fear present (8.16 %)."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    mood = r.normal(0.0, 1.0, (n, 1))  # a video-level disposition: the context carries information
    score = 0.6 * mood + 0.8 * r.normal(0.0, 1.0, (n, N_UTT))  # per-utterance fear evidence, N(0, 1)
    y = (score > np.quantile(score[:N_BATCHES * BATCH_SIZE], 1.0 - FEAR_RATE)).astype("int64")

    def modality(dim: int, noise: float, scale: float) -> np.ndarray:
        seen = score + noise * r.normal(0.0, 1.0, score.shape)  # each modality sees the evidence through noise
        direction = r.normal(0.0, 1.0, dim)
        return scale * (r.normal(0.0, 1.0, (n, N_UTT, dim)) + 0.5 * seen[..., None] * direction)

    text = modality(D_M_TEXT, 0.8, 0.3)  # GloVe-like averages, |x| ~ 0.3
    audio = modality(D_M_AUDIO, 1.2, 1.0)  # standardised OpenSMILE-like features
    video = modality(D_M_VIDEO, 1.2, 1.0)  # FACET-like scores
    qmask = np.zeros((n, N_UTT, 2))
    qmask[..., 0] = 1.0  # MOSEICategorical: [1, 0] if x == 'M' -- one speaker (monologue videos)
    umask = np.ones((n, N_UTT, 1))  # [1] * len(videoLabels[vid]); equal lengths, so no padding
    x = np.concatenate([text, audio, video, qmask, umask], axis=-1).astype("float32")
    return x, y


def _common() -> dict[str, Any]:
    x, y = _data()
    n = N_BATCHES * BATCH_SIZE
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[n:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.nn.utils.rnn import pad_sequence

    # ---- model.py (verbatim apart from layout; see the docstring for _select_parties / _reverse_seq)
    class SimpleAttention(nn.Module):
        def __init__(self, input_dim):
            super().__init__()
            self.input_dim = input_dim
            self.scalar = nn.Linear(self.input_dim, 1, bias=False)

        def forward(self, M):
            scale = self.scalar(M)
            alpha = F.softmax(scale, dim=0).permute(1, 2, 0)
            attn_pool = torch.bmm(alpha, M.transpose(0, 1))[:, 0, :]
            return attn_pool, alpha

    class BiModalAttention(nn.Module):
        def __init__(self, mode1, mode2):
            super().__init__()
            self.mode1 = mode1.permute(1, 0, 2)
            self.mode2 = mode2.permute(1, 0, 2)

        def forward(self):
            c1, c2 = torch.bmm(self.mode1, self.mode2.transpose(1, 2)), \
                torch.bmm(self.mode2, self.mode1.transpose(1, 2))
            n1, n2 = F.softmax(c1, dim=-1), F.softmax(c2, dim=-1)
            o1, o2 = torch.bmm(n1, self.mode2), torch.bmm(n2, self.mode1)
            a1, a2 = o1 * self.mode1, o2 * self.mode2
            return torch.cat([a1, a2], dim=-1).permute(1, 0, 2)

    class MultilogueNetCell(nn.Module):
        def __init__(self, D_m_party, D_m_context, D_g, D_p, D_e, D_a=100, dropout=0.5):
            super().__init__()
            self.D_m_party, self.D_m_context = D_m_party, D_m_context
            self.D_g, self.D_p, self.D_e = D_g, D_p, D_e
            self.g_cell = nn.GRUCell(D_m_context + D_p, D_g)
            self.p_cell = nn.GRUCell(D_m_party + D_g, D_p)
            self.e_cell = nn.GRUCell(D_p, D_e)
            self.dropout = nn.Dropout(dropout)
            self.attention = SimpleAttention(D_g)

        def _select_parties(self, X, indices):
            # program: q0_sel = [j[idx].unsqueeze(0) for idx, j in zip(indices, X)]; torch.cat(q0_sel, 0)
            return X[torch.arange(X.size(0)), indices]

        def forward(self, U, U_context, qmask, g_hist, q0, e0):
            qm_idx = torch.argmax(qmask, 1)
            q0_sel = self._select_parties(q0, qm_idx)
            g_ = self.g_cell(torch.cat([U_context, q0_sel], dim=1),
                             torch.zeros(U_context.size()[0], self.D_g).type(U.type()) if g_hist.size()[0] == 0 else
                             g_hist[-1])
            g_ = self.dropout(g_)
            if g_hist.size()[0] == 0:
                c_ = torch.zeros(U_context.size()[0], self.D_g).type(U.type())
                alpha = None
            else:
                c_, alpha = self.attention(g_hist)
            U_c_ = torch.cat([U, c_], dim=1).unsqueeze(1).expand(-1, qmask.size()[1], -1)
            qs_ = self.p_cell(U_c_.contiguous().view(-1, self.D_m_party + self.D_g),
                              q0.view(-1, self.D_p)).view(U.size()[0], -1, self.D_p)
            qs_ = self.dropout(qs_)
            ql_ = q0
            qmask_ = qmask.unsqueeze(2)
            q_ = ql_ * (1 - qmask_) + qs_ * qmask_
            e0 = torch.zeros(qmask.size()[0], self.D_e).type(U.type()) if e0.size()[0] == 0 \
                else e0
            e_ = self.e_cell(self._select_parties(q_, qm_idx), e0)
            e_ = self.dropout(e_)
            return g_, q_, e_, alpha

    class MultilogueNet(nn.Module):
        def __init__(self, D_m_party, D_m_context, D_g, D_p, D_e, D_a=100, dropout=0.5):
            super().__init__()
            self.D_m_party, self.D_m_context = D_m_party, D_m_context
            self.D_g, self.D_p, self.D_e = D_g, D_p, D_e
            self.dropout = nn.Dropout(dropout)
            self.multilogue_cell = MultilogueNetCell(D_m_party, D_m_context, D_g, D_p, D_e, D_a, dropout)

        def forward(self, U, U_context, qmask):
            g_hist = torch.zeros(0).type(U_context.type())
            q_ = torch.zeros(qmask.size()[1], qmask.size()[2],
                             self.D_p).type(U.type())
            e_ = torch.zeros(0).type(U.type())
            e = e_
            alpha = []
            for u_, uc_, qmask_ in zip(U, U_context, qmask):
                g_, q_, e_, alpha_ = self.multilogue_cell(u_, uc_, qmask_, g_hist, q_, e_)
                g_hist = torch.cat([g_hist, g_.unsqueeze(0)], 0)
                e = torch.cat([e, e_.unsqueeze(0)], 0)
                if type(alpha_) != type(None):
                    alpha.append(alpha_[:, 0, :])
            return e, alpha

    class CategoricalModel(nn.Module):
        def __init__(self, D_m_party_text, D_m_party_audio, D_m_party_video, D_m_context, D_g, D_p, D_e, D_h,
                     n_classes=7, D_a=100, dropout_rec=0.5, dropout=0.5):
            super().__init__()
            self.D_m_party_text = D_m_party_text
            self.D_m_party_audio = D_m_party_audio
            self.D_m_party_video = D_m_party_video
            self.D_m_context = D_m_context
            self.D_g = D_g
            self.D_p = D_p
            self.D_e = D_e
            self.D_h = D_h
            self.n_classes = n_classes
            self.dropout = nn.Dropout(dropout)
            self.dropout_rec = nn.Dropout(dropout + 0.15)
            self.multilogue_net_f_t = MultilogueNet(D_m_party_text, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.multilogue_net_r_t = MultilogueNet(D_m_party_text, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.multilogue_net_f_a = MultilogueNet(D_m_party_audio, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.multilogue_net_r_a = MultilogueNet(D_m_party_audio, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.multilogue_net_f_v = MultilogueNet(D_m_party_video, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.multilogue_net_r_v = MultilogueNet(D_m_party_video, D_m_context, D_g, D_p, D_e, D_a, dropout_rec)
            self.linear = nn.Linear(2 * D_e, 2 * D_h)
            self.smax_fc = nn.Linear(18 * D_h, n_classes)

        def _reverse_seq(self, X, mask):
            X_ = X.transpose(0, 1)
            mask_sum = torch.sum(mask, 1).int()
            xfs = []
            for x, c in zip(X_, mask_sum):
                xf = torch.flip(x[:c], [0])
                xfs.append(xf)
            return pad_sequence(xfs)

        def forward(self, U_t, U_a, U_v, U_context, qmask, umask):
            emotions_f_t, alpha_f_t = self.multilogue_net_f_t(U_t, U_context, qmask)
            emotions_f_a, alpha_f_a = self.multilogue_net_f_a(U_a, U_context, qmask)
            emotions_f_v, alpha_f_v = self.multilogue_net_f_v(U_v, U_context, qmask)
            emotions_f_t = self.dropout_rec(emotions_f_t)
            emotions_f_a = self.dropout_rec(emotions_f_a)
            emotions_f_v = self.dropout_rec(emotions_f_v)
            rev_U_t = self._reverse_seq(U_t, umask)
            rev_U_a = self._reverse_seq(U_a, umask)
            rev_U_v = self._reverse_seq(U_v, umask)
            rev_U_context = self._reverse_seq(U_context, umask)
            rev_qmask = self._reverse_seq(qmask, umask)
            emotions_b_t, alpha_b_t = self.multilogue_net_r_t(rev_U_t, rev_U_context, rev_qmask)
            emotions_b_t = self._reverse_seq(emotions_b_t, umask)
            emotions_b_t = self.dropout_rec(emotions_b_t)
            emotions_t = torch.cat([emotions_f_t, emotions_b_t], dim=-1)
            emotions_b_a, alpha_b_a = self.multilogue_net_r_a(rev_U_a, rev_U_context, rev_qmask)
            emotions_b_a = self._reverse_seq(emotions_b_a, umask)
            emotions_b_a = self.dropout_rec(emotions_b_a)
            emotions_a = torch.cat([emotions_f_a, emotions_b_a], dim=-1)
            emotions_b_v, alpha_b_v = self.multilogue_net_r_v(rev_U_v, rev_U_context, rev_qmask)
            emotions_b_v = self._reverse_seq(emotions_b_v, umask)
            emotions_b_v = self.dropout_rec(emotions_b_v)
            emotions_v = torch.cat([emotions_f_v, emotions_b_v], dim=-1)
            hidden_t = F.relu(self.linear(emotions_t))
            hidden_a = F.relu(self.linear(emotions_a))
            hidden_v = F.relu(self.linear(emotions_v))
            hidden_t = self.dropout(hidden_t)
            hidden_a = self.dropout(hidden_a)
            hidden_v = self.dropout(hidden_v)
            hidden_at = BiModalAttention(hidden_t, hidden_a)
            hidden_tv = BiModalAttention(hidden_t, hidden_v)
            hidden_va = BiModalAttention(hidden_v, hidden_a)
            log_prob = F.log_softmax(self.smax_fc(torch.cat([hidden_at(), hidden_va(), hidden_tv(), hidden_t,
                                                             hidden_a, hidden_v], dim=-1)), 2)
            return log_prob, alpha_f_t, alpha_b_t

    class MaskedNLLLoss(nn.Module):
        def __init__(self, weight=None):
            super().__init__()
            self.weight = weight
            self.loss = nn.NLLLoss(weight=weight,
                                   reduction='sum')

        def forward(self, pred, target, mask):
            mask_ = mask.view(-1, 1)
            if type(self.weight) == type(None):
                loss = self.loss(pred * mask_, target) / torch.sum(mask)
            else:
                loss = self.loss(pred * mask_, target) \
                    / torch.sum(self.weight[target] * mask_.squeeze())
            return loss

    class EmotionModel(nn.Module):
        """The collate_fn's tensors packed into one batch-first x; returns log_prob batch-first (B, T, 2)."""

        def __init__(self) -> None:
            super().__init__()
            self.net = CategoricalModel(D_M_TEXT, D_M_AUDIO, D_M_VIDEO, D_M_CONTEXT, D_G, D_P, D_E, D_H,
                                        n_classes=N_CLASSES, dropout_rec=REC_DROPOUT, dropout=DROPOUT)

        def forward(self, x):
            xt = x.transpose(0, 1)  # pad_sequence(...): time-major
            a, b, c = D_M_TEXT, D_M_TEXT + D_M_AUDIO, D_M_TEXT + D_M_AUDIO + D_M_VIDEO
            textf, acouf, visuf, qmask = xt[..., :a], xt[..., a:b], xt[..., b:c], xt[..., c:c + 2]
            umask = x[..., c + 2]  # pad_sequence(..., True): batch-first
            log_prob, alpha_f, alpha_b = self.net(textf, acouf, visuf, textf, qmask, umask)
            return log_prob.transpose(0, 1)

    torch.manual_seed(SEED)
    model = EmotionModel()
    emotion = 'fear'  # --emotion
    if not fixed:  # train_emotion.py @53ceac5, verbatim: each emotion's share of class 1 weights class 0
        if emotion=='anger': loss_weights = torch.FloatTensor([1/0.2128, 1/0.7872])  # noqa
        elif emotion=='happiness': loss_weights = torch.FloatTensor([1/0.5381, 1/0.4619])  # noqa
        elif emotion=='sadness': loss_weights = torch.FloatTensor([1/0.2546, 1/0.7454])  # noqa
        elif emotion=='disgust': loss_weights = torch.FloatTensor([1/0.1699, 1/0.8301])  # noqa
        elif emotion=='fear': loss_weights = torch.FloatTensor([1/0.0816, 1/0.9184])  # noqa
        elif emotion=='surprise': loss_weights = torch.FloatTensor([1/0.0986, 1/0.9014])  # noqa
    else:  # issue #21, the maintainer: "Flipping them should be the right way to go."
        if emotion=='anger': loss_weights = torch.FloatTensor([1/0.7872, 1/0.2128])  # noqa
        elif emotion=='happiness': loss_weights = torch.FloatTensor([1/0.4619, 1/0.5381])  # noqa
        elif emotion=='sadness': loss_weights = torch.FloatTensor([1/0.7454, 1/0.2546])  # noqa
        elif emotion=='disgust': loss_weights = torch.FloatTensor([1/0.8301, 1/0.1699])  # noqa
        elif emotion=='fear': loss_weights = torch.FloatTensor([1/0.9184, 1/0.0816])  # noqa
        elif emotion=='surprise': loss_weights = torch.FloatTensor([1/0.9014, 1/0.0986])  # noqa
    loss_function = MaskedNLLLoss(loss_weights)
    optimizer = optim.Adam(model.parameters(), lr=LR, weight_decay=L2)

    def loss_fn(log_prob, label):  # train_or_eval_model, on the batch-first log_prob
        lp_ = log_prob.contiguous().view(-1, log_prob.size()[2])
        labels_ = label.view(-1)
        umask = torch.ones(label.shape, dtype=torch.float32)  # the loader's umask: all ones, nothing padded
        return loss_function(lp_, labels_, umask)

    c = _common()
    batches = [(torch.tensor(xb), torch.tensor(yb)) for xb, yb in c["batches"]]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(c["inputs"]),
            "loss_fn": loss_fn, "optimizer": optimizer}

# ----------------------------------------------------------------------------------------------------------- keras

def _weights(fixed: bool) -> list[float]:
    """train_emotion.py's 'fear' line (buggy) or the same line with the two entries flipped (issue #21)."""
    return [1 / 0.9184, 1 / 0.0816] if fixed else [1 / 0.0816, 1 / 0.9184]


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    reg = keras.regularizers.L2(L2 / 2)  # torch Adam(weight_decay=L2) adds L2 x w to every gradient

    def torch_init(fan: int) -> keras.initializers.Initializer:  # nn.GRUCell / nn.Linear default: U(+-1/sqrt(fan))
        return keras.initializers.RandomUniform(-1 / np.sqrt(fan), 1 / np.sqrt(fan))

    def gru_cell(units: int) -> layers.GRUCell:  # reset_after=True: torch's GRUCell equations (b_ih and b_hh)
        return layers.GRUCell(units, kernel_initializer=torch_init(units), recurrent_initializer=torch_init(units),
                              bias_initializer=torch_init(units), kernel_regularizer=reg, recurrent_regularizer=reg,
                              bias_regularizer=reg)

    def linear(n_in: int, n_out: int, use_bias: bool = True) -> layers.Dense:
        return layers.Dense(n_out, use_bias=use_bias, kernel_initializer=torch_init(n_in),
                            bias_initializer=torch_init(n_in), kernel_regularizer=reg, bias_regularizer=reg)

    def select_parties(X, indices):  # X[b, indices[b]]
        return ops.sum(X * ops.expand_dims(ops.one_hot(indices, ops.shape(X)[1]), -1), axis=1)

    class SimpleAttention(layers.Layer):
        def __init__(self, input_dim, **kw):
            super().__init__(**kw)
            self.scalar = linear(input_dim, 1, use_bias=False)

        def call(self, M):  # M (t, B, D): softmax over t (written out: t is 1 at the second utterance), pooled
            scale = self.scalar(M)
            e = ops.exp(scale - ops.max(scale, axis=0, keepdims=True))
            alpha = e / ops.sum(e, axis=0, keepdims=True)
            return ops.sum(alpha * M, axis=0), alpha

    def bimodal_attention(mode1, mode2):  # BiModalAttention(mode1, mode2)()
        m1, m2 = ops.transpose(mode1, (1, 0, 2)), ops.transpose(mode2, (1, 0, 2))
        c1, c2 = ops.matmul(m1, ops.transpose(m2, (0, 2, 1))), ops.matmul(m2, ops.transpose(m1, (0, 2, 1)))
        n1, n2 = ops.softmax(c1, axis=-1), ops.softmax(c2, axis=-1)
        o1, o2 = ops.matmul(n1, m2), ops.matmul(n2, m1)
        a1, a2 = o1 * m1, o2 * m2
        return ops.transpose(ops.concatenate([a1, a2], axis=-1), (1, 0, 2))

    class MultilogueNetCell(layers.Layer):
        def __init__(self, D_m_party, D_m_context, D_g, D_p, D_e, dropout=0.5, **kw):
            super().__init__(**kw)
            self.D_m_party, self.D_g, self.D_p, self.D_e = D_m_party, D_g, D_p, D_e
            self.g_cell = gru_cell(D_g)
            self.p_cell = gru_cell(D_p)
            self.e_cell = gru_cell(D_e)
            self.dropout = layers.Dropout(dropout)
            self.attention = SimpleAttention(D_g)

        def build(self, *shapes):  # the sublayers build themselves on their first call
            pass

        def call(self, U, U_context, qmask, g_hist, q0, e0, training=False):
            qm_idx = ops.argmax(qmask, 1)
            q0_sel = select_parties(q0, qm_idx)
            h0 = ops.zeros((ops.shape(U_context)[0], self.D_g)) if g_hist is None else g_hist[-1]
            g_, _ = self.g_cell(ops.concatenate([U_context, q0_sel], axis=1), [h0], training=training)
            g_ = self.dropout(g_, training=training)
            if g_hist is None:
                c_ = ops.zeros((ops.shape(U_context)[0], self.D_g))
            else:
                c_, _ = self.attention(g_hist)
            n_party = ops.shape(qmask)[1]
            U_c_ = ops.repeat(ops.expand_dims(ops.concatenate([U, c_], axis=1), 1), n_party, axis=1)
            qs_, _ = self.p_cell(ops.reshape(U_c_, (-1, self.D_m_party + self.D_g)),
                                 [ops.reshape(q0, (-1, self.D_p))], training=training)
            qs_ = self.dropout(ops.reshape(qs_, (ops.shape(U)[0], -1, self.D_p)), training=training)
            qmask_ = ops.expand_dims(qmask, 2)
            q_ = q0 * (1 - qmask_) + qs_ * qmask_
            e0 = ops.zeros((ops.shape(qmask)[0], self.D_e)) if e0 is None else e0
            e_, _ = self.e_cell(select_parties(q_, qm_idx), [e0], training=training)
            e_ = self.dropout(e_, training=training)
            return g_, q_, e_

    class MultilogueNet(layers.Layer):
        def __init__(self, D_m_party, D_m_context, D_g, D_p, D_e, dropout=0.5, **kw):
            super().__init__(**kw)
            self.D_p = D_p
            self.multilogue_cell = MultilogueNetCell(D_m_party, D_m_context, D_g, D_p, D_e, dropout)

        def build(self, *shapes):
            pass

        def call(self, U, U_context, qmask, training=False):  # time-major inputs, a loop over the utterances
            g_hist, e_, es = None, None, []
            q_ = ops.zeros((ops.shape(qmask)[1], ops.shape(qmask)[2], self.D_p))
            for t in range(U.shape[0]):
                g_, q_, e_ = self.multilogue_cell(U[t], U_context[t], qmask[t], g_hist, q_, e_, training=training)
                g_ = ops.expand_dims(g_, 0)
                g_hist = g_ if g_hist is None else ops.concatenate([g_hist, g_], 0)
                es.append(e_)
            return ops.stack(es, 0)

    def reverse_seq(X, mask):  # _reverse_seq: each video's first sum(mask) steps reversed, zeros after
        lengths = ops.cast(ops.sum(mask, 1), "int32")
        t = ops.expand_dims(ops.arange(X.shape[0], dtype="int32"), 1)
        valid = ops.cast(t < lengths[None, :], X.dtype)
        idx = ops.where(t < lengths[None, :], lengths[None, :] - 1 - t, 0)
        return ops.take_along_axis(X, ops.expand_dims(idx, -1), axis=0) * ops.expand_dims(valid, -1)

    class CategoricalModel(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            dims = {"t": D_M_TEXT, "a": D_M_AUDIO, "v": D_M_VIDEO}
            self.f = {k: MultilogueNet(d, D_M_CONTEXT, D_G, D_P, D_E, REC_DROPOUT) for k, d in dims.items()}
            self.r = {k: MultilogueNet(d, D_M_CONTEXT, D_G, D_P, D_E, REC_DROPOUT) for k, d in dims.items()}
            self.dropout = layers.Dropout(DROPOUT)
            self.dropout_rec = layers.Dropout(DROPOUT + 0.15)
            self.linear = linear(2 * D_E, 2 * D_H)
            self.smax_fc = linear(18 * D_H, N_CLASSES)

        def call(self, x, training=False):
            a, b, c = D_M_TEXT, D_M_TEXT + D_M_AUDIO, D_M_TEXT + D_M_AUDIO + D_M_VIDEO
            xt = ops.transpose(x, (1, 0, 2))
            U = {"t": xt[..., :a], "a": xt[..., a:b], "v": xt[..., b:c]}
            qmask, umask = xt[..., c:c + 2], x[..., c + 2]
            U_context = U["t"]  # model(textf, acouf, visuf, textf, qmask, umask)
            hidden = {}
            for k in ("t", "a", "v"):
                em_f = self.dropout_rec(self.f[k](U[k], U_context, qmask, training=training), training=training)
                em_b = self.r[k](reverse_seq(U[k], umask), reverse_seq(U_context, umask), reverse_seq(qmask, umask),
                                 training=training)
                em_b = self.dropout_rec(reverse_seq(em_b, umask), training=training)
                h = ops.relu(self.linear(ops.concatenate([em_f, em_b], axis=-1)))
                hidden[k] = self.dropout(h, training=training)
            ht, ha, hv = hidden["t"], hidden["a"], hidden["v"]
            logits = self.smax_fc(ops.concatenate([bimodal_attention(ht, ha), bimodal_attention(hv, ha),
                                                   bimodal_attention(ht, hv), ht, ha, hv], axis=-1))
            return ops.transpose(ops.log_softmax(logits, axis=2), (1, 0, 2))

    loss_weights = ops.convert_to_tensor(np.array(_weights(fixed), "float32"))

    def masked_nll_loss(label, log_prob):  # MaskedNLLLoss(loss_weights): sum_i w[y_i] nll_i / sum_i w[y_i]
        label = ops.cast(label, "int32")
        nll = -ops.squeeze(ops.take_along_axis(log_prob, ops.expand_dims(label, -1), axis=-1), -1)
        w = ops.take(loss_weights, label)
        return w * nll / ops.mean(w)  # Keras averages over the B x T utterances

    c = _common()
    model = CategoricalModel()
    model(c["batch"][0][:2])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8), loss=masked_nll_loss,
                  jit_compile=False)
    return {"model": model, **c}




buggy, fixed = versions(_torch, _keras)
