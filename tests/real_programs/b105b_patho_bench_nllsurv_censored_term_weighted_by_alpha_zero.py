"""Patho-Bench ABMIL survival fine-tuning: the discrete-time NLL survival loss weights its censored term by
``alpha`` (default 0.0), so every censored patient contributes exactly zero loss.

Source
------
Repository github:mahmoodlab/Patho-Bench.
* Buggy version: ``patho_bench/optim/NLLSurvLoss.py`` at 6b5f1347774e61d59435507425ab4a2a99989a7a^ (= merge
  5191c88, PR #15 "updated with 95 tasks!"). Driver code at the same commit:
  ``patho_bench/ExperimentFactory.py`` ``ExperimentFactory.finetune`` (``loss = NLLSurvLoss(alpha=0.0, eps=1e-7,
  reduction='mean')`` for ``task_type == 'survival'``; ``optimizer_type='AdamW'`` with ``base_lr`` and
  ``weight_decay``; cosine schedule stepped every accumulation step), ``patho_bench/TrainableSlideEncoder.py``
  (``nn.Linear(post_pooling_dim, num_classes)`` head and the survival branch of ``forward``),
  ``patho_bench/experiments/FinetuningExperiment.py`` (batch size 1, ``loss / accumulation_steps``, AdamW over
  ``model.parameters()``, ``CosineAnnealingLR(T_max=len(train_loader) * num_epochs, eta_min=1e-8)``),
  ``patho_bench/experiments/utils/SurvivalMixin.py`` (risk = -sum of the survival curve, c-index), and the
  hyper-parameters of ``advanced_usage/configs/finetune/abmil.yaml`` / the tutorial (lr 3e-4, weight decay 1e-5,
  gradient accumulation 1, 20 epochs, bag size 2048) with ``advanced_usage/configs/abmil_kwargs.yaml``
  (input_feature_dim 768, n_heads 1, head_dim 512, dropout 0.25, gated False). The slide encoder is
  github:mahmoodlab/TRIDENT ``trident/slide_encoder_models/load.py`` ``ABMILSlideEncoder`` and
  ``trident/slide_encoder_models/model_zoo/reusable_blocks/ABMIL.py`` ``ABMIL``.
* Fix: commit 6b5f1347774e61d59435507425ab4a2a99989a7a "Fix bug in NLLSurvLoss", pull request #16
  (branch survloss-patch, merged as 58d27e1): ``loss = uncensored_loss + self.alpha * censored_loss`` becomes
  ``loss = uncensored_loss + (1 - self.alpha) * censored_loss``. The docstring of the class already said that
  alpha = 0.0 "gives equal weight to both terms"; the mahmoodlab ``nll_loss`` it was refactored from (PORPOISE,
  Patch-GCN) computes ``(1-alpha) * neg_l + alpha * uncensored_loss``, i.e. the censored part times 1 - alpha.

Fault label
-----------
The negative log-likelihood of the discrete-time hazard model has two parts: for a patient whose death was
observed in bin k, -log S(k-1) - log h(k); for a censored patient, -log S(k), the evidence that the patient was
still alive at the end of bin k. The buggy line multiplies the censored part by ``alpha``, and the only caller
passes ``alpha=0.0``, so the censored part is multiplied by zero. Every censored patient (often the majority in
overall-survival cohorts) has a loss of exactly 0 and no gradient; the model is fitted on deaths only
and learns that everyone dies within the observed bins: it pushes the hazards up for every input, the predicted
survival curves collapse far below the observed ones, and the loss it reports keeps falling while the true
likelihood gets worse. Because the batch size is 1, a censored training step produces zero gradient outright
(AdamW still applies its momentum and weight decay).
The loss does not model the targets it is given (time bin plus event indicator): ``loss_mismatch``.

Lines kept verbatim
-------------------
The whole body of ``NLLSurvLoss.__call__`` (sigmoid hazards, cumprod survival, padding, the three gathers with
``clamp(min=self.eps)``, the uncensored and censored terms, the faulty/fixed combination line, mean reduction),
``NLLSurvLoss(alpha=0.0, eps=1e-7, reduction='mean')``, ``y_bins = y_bins % 4``, the ABMIL attention pooling
(tanh attention head, dropout, linear branching layer, softmax over patches, einsum pooling), the pre- and
post-attention ``Linear/GELU/Dropout(0.1)`` blocks, the linear classification head, AdamW(lr=3e-4,
weight_decay=1e-5) over ``model.parameters()``, and risk = -sum(cumprod(1 - sigmoid(logits))).

Shrunk or replaced, and why
---------------------------
* Bags of 2048 patch embeddings of width 768 (UNI/CONCH-style patch features of a whole slide) shrink to bags of
  64 patches of width 96, and ABMIL's head_dim 512 to 64 (the same 2:3 ratio to the feature width), so a step
  takes under 10 ms on one CPU core.
* ``TrainableSlideEncoder.forward`` takes a batch dict and returns (loss, info); here the model takes the
  feature tensor (batch x patches x features) and returns the logits (its ``output='logits'`` path), and the loss
  moves into ``loss_fn(logits, y)``, where ``y`` holds one row (task label, event indicator) per patient. With
  batch size 1 (the only one the program allows) ``y[:, 0:1]`` and ``y[:, 1:2]`` have the shape (1, 1) that the
  program's ``y_bins.unsqueeze(0)`` / ``y_event.unsqueeze(0)`` produce; slicing instead of ``unsqueeze(0)`` keeps
  the loss correct for the 64-patient baseline batch.
* ``num_classes = len(task_info['label_dict'])``: the task configs (downloaded from Hugging Face) are not
  available offline. The program's comment "Convert y_bins from 8 to 4 bins" says the survival label takes 8
  values, so the head is 8 wide and the label is bin + 4 * censorship; only the first 4 hazards enter the loss,
  all 8 enter the risk score, as in the program. This is an assumption about the label format.
* einops' ``rearrange`` is replaced by the equivalent ``squeeze(1)``; the multi-head condensing layer, gating and
  attention-map return are not built because the config uses one head, no gating, and the loss never reads them.
* The CUDA autocast/GradScaler (float32 here, so a no-op) and the checkpoint/val bookkeeping are left out.

Data stand-in
-------------
Seeded synthetic cohort of 256 training and 128 held-out patients (``_data``). Each patient is a bag of 64 patch
embeddings drawn around four tissue prototypes plus noise (float32, values in about [-7, 6], standard deviation
1.3); the share of "aggressive" patches sets a log-risk, so the inputs determine the hazard. Death times are
exponential with that risk, censoring times uniform (loss to follow-up), leaving about 61 % of patients censored,
the regime of the CPTAC / TCGA overall-survival cohorts the benchmark uses. The 4 time bins are cut at the
quartiles of the observed death times; the stored task label is bin + 4 * censorship (the assumed 8-value format,
see above), and the event indicator travels with it.

Measured (own loop, /tmp/s60/p/qb/measure_b105b.py, OMP_NUM_THREADS=1, SEED 0, batch size 1 in a shuffled order
(torch.Generator seed 0), AdamW lr 3e-4 wd 1e-5, CosineAnnealingLR over 20 epochs x 256 steps = 5120 steps, the
module's own builds; the 128 held-out patients scored in eval mode, always with the FIXED loss as the yardstick;
about 61 % of patients censored; Kaplan-Meier survival of the held-out patients at 420 days (end of bin 3): 0.62):
  epoch                                  0 (init)   1       5       10      20
  buggy: held-out true NLL               1.966      1.869   2.593   3.010   3.230
  fixed: held-out true NLL               1.966      1.092   1.112   1.086   1.102
  buggy: mean predicted S(420 days)      0.138      0.336   0.337   0.367   0.357
  fixed: mean predicted S(420 days)      0.138      0.738   0.602   0.707   0.652
  buggy: held-out c-index                0.313      0.629   0.663   0.664   0.663
  fixed: held-out c-index                0.313      0.660   0.672   0.672   0.672
  The buggy run's own (training) loss falls all the while (epoch means 0.602 / 0.530 / 0.502 / 0.451 at epochs
  1 / 5 / 10 / 20; fixed 1.217 / 1.015 / 0.975 / 0.918), and 3100 of its 5120 steps have a loss of exactly 0.
  Its survival curves collapse: mean predicted survival through the last bin 0.001 (fixed 0.48). The ranking
  (c-index) is learned from the deaths alone and stays close to the fixed run on this stand-in (0.663 vs 0.672):
  the fault shows in the likelihood and in the survival estimates, not much in the rank metric.
  Short runs (/tmp/s60/p/qb/measure_b105b_short.py, no scheduler): one pass of AdamW over the module's 100
  ``batches``: own loss 0.753 -> 0.638 buggy, 1.866 -> 1.122 fixed, held-out true NLL 1.707 buggy vs 1.152 fixed;
  the 64-patient ``baseline_batch`` repeated 100 steps: own loss 0.758 / 0.727 / 0.539 at steps 1 / 10 / 100
  buggy (true NLL after 2.142), fixed 1.854 / 1.749 / 1.009 (true NLL after 1.003). The first training patient
  (``batch``) happens to be censored, so the buggy loss on it is exactly 0 with zero gradients everywhere
  (fixed: about 2.7, dropout-dependent).
Time per step 6-9 ms on one thread (buggy and fixed alike). Build: first ~8-14 s (torch import, data), later
  ~0.02 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:mahmoodlab/Patho-Bench PR #16 'Fix bug in NLLSurvLoss', fix 6b5f1347774e61d59435507425ab4a2a99989a7a "
          "(patho_bench/optim/NLLSurvLoss.py 'loss = uncensored_loss + self.alpha * censored_loss' with "
          "ExperimentFactory.finetune 'NLLSurvLoss(alpha=0.0, eps=1e-7, reduction='mean')' @6b5f134^ = 5191c88; "
          "TrainableSlideEncoder.py, experiments/FinetuningExperiment.py, configs/finetune/abmil.yaml; "
          "slide encoder github:mahmoodlab/TRIDENT trident/slide_encoder_models/load.py ABMILSlideEncoder + "
          "reusable_blocks/ABMIL.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

SEED = 0
BATCH_SIZE = 1          # 'Only batch_size = 1 is supported for finetuning for now'
LR = 0.0003             # BASE_LEARNING_RATE
WEIGHT_DECAY = 0.00001  # WEIGHT_DECAY
N_TRAIN = 256
N_INPUTS = 128
N_BATCHES = 100
BAG = 64                # stand-in for BAG_SIZE 2048
FEAT = 96               # stand-in for input_feature_dim 768
HEAD_DIM = 64           # stand-in for head_dim 512
NUM_CLASSES = 8         # len(label_dict): 4 time bins x censorship


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bags (n, BAG, FEAT) float32, labels (n, 2) int64 = (bin + 4 * censorship, event), and survival days (n,)."""
    r = np.random.default_rng(SEED)
    n = N_TRAIN + N_INPUTS
    protos = r.normal(0.0, 1.0, (4, FEAT))
    aggressive = r.beta(1.2, 3.0, n)                       # share of patches of the aggressive prototype
    x = np.empty((n, BAG, FEAT), "float32")
    for i in range(n):
        k = int(round(aggressive[i] * BAG))
        kinds = np.concatenate([np.zeros(k, int), r.integers(1, 4, BAG - k)])
        x[i] = protos[kinds] + r.normal(0.0, 0.8, (BAG, FEAT))
    log_risk = 4.0 * (aggressive - aggressive.mean())
    death = r.exponential(1000.0 * np.exp(-log_risk))      # days
    censor = r.uniform(0.0, 1200.0, n)
    event = (death <= censor).astype("int64")
    days = np.minimum(death, censor)
    q = np.quantile(days[event == 1], [0.25, 0.5, 0.75])
    bins = np.digitize(days, q).astype("int64")            # 0..3, quartiles of the observed deaths
    label = bins + 4 * (1 - event)                         # 8 label values; '% 4' gives the bin back
    return x, np.stack([label, event], 1), days, event


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class NLLSurvLoss(nn.Module):
        def __init__(self, alpha=0.0, eps=1e-7, reduction='mean'):
            super().__init__()
            self.alpha = alpha
            self.eps = eps
            self.reduction = reduction

        def __call__(self, x, y_bins, y_event):
            # Convert y_event to y_censor
            y_event = y_event.type(torch.int64)
            y_bins = y_bins.type(torch.int64)

            y_censor = 1 - y_event

            # Compute hazards using sigmoid activation
            hazards = torch.sigmoid(x)

            # Compute survival probabilities
            S = torch.cumprod(1 - hazards, dim=1)

            # Pad survival probabilities with ones at the beginning
            S_padded = torch.cat([torch.ones_like(y_censor), S], 1)

            # Gather previous and current survival probabilities and hazards
            s_prev = torch.gather(S_padded, dim=1, index=y_bins).clamp(min=self.eps)
            h_this = torch.gather(hazards, dim=1, index=y_bins).clamp(min=self.eps)
            s_this = torch.gather(S_padded, dim=1, index=y_bins + 1).clamp(min=self.eps)

            # Compute uncensored and censored loss components
            uncensored_loss = -(1 - y_censor) * (torch.log(s_prev) + torch.log(h_this))
            censored_loss = -y_censor * torch.log(s_this)

            # Combine losses
            if fixed:  # the fix (6b5f134)
                loss = uncensored_loss + (1 - self.alpha) * censored_loss
            else:
                loss = uncensored_loss + self.alpha * censored_loss

            # Apply reduction
            if self.reduction == 'mean':
                return loss.mean()
            elif self.reduction == 'sum':
                return loss.sum()
            else:
                raise ValueError(f"Invalid reduction type: {self.reduction}. Must be 'mean' or 'sum'.")

    class ABMIL(nn.Module):
        def __init__(self, feature_dim=1024, head_dim=256, n_heads=8, dropout=0., n_branches=1, gated=False):
            super().__init__()
            self.gated = gated
            self.n_heads = n_heads

            # Initialize attention head(s)
            self.attention_heads = nn.ModuleList([nn.Sequential(nn.Linear(feature_dim, head_dim),
                                                                nn.Tanh(),
                                                                nn.Dropout(dropout)) for _ in range(n_heads)])

            # Initialize branching layers
            self.branching_layers = nn.ModuleList([nn.Linear(head_dim, n_branches) for _ in range(n_heads)])

        def forward(self, features):
            head_features = []
            for i in range(len(self.attention_heads)):
                attention_vectors = self.attention_heads[i](features)
                attention_scores = self.branching_layers[i](attention_vectors)
                # Softmax attention scores over num_images
                attention_scores_softmax = F.softmax(attention_scores, dim=1)
                # Multiply features by attention scores
                weighted_features = torch.einsum('bnr,bnf->brf', attention_scores_softmax, features)
                head_features.append(weighted_features)
            aggregated_features = torch.cat(head_features, dim=-1)
            return aggregated_features

    class TrainableSlideEncoder(nn.Module):
        """trident ABMILSlideEncoder + Patho-Bench classification head; forward = the output='logits' path."""

        def __init__(self, input_feature_dim, n_heads, head_dim, dropout, gated, num_classes):
            super().__init__()
            pre_attention_layers = nn.Sequential(
                nn.Linear(input_feature_dim, input_feature_dim),
                nn.GELU(),
                nn.Dropout(0.1)
            )
            image_pooler = ABMIL(
                n_heads=n_heads,
                feature_dim=input_feature_dim,
                head_dim=head_dim,
                dropout=dropout,
                n_branches=1,
                gated=gated
            )
            post_attention_layers = nn.Sequential(
                nn.Linear(input_feature_dim, input_feature_dim),
                nn.GELU(),
                nn.Dropout(0.1)
            )
            self.slide_encoder = nn.ModuleDict({
                'pre_attention_layers': pre_attention_layers,
                'image_pooler': image_pooler,
                'post_attention_layers': post_attention_layers
            })
            self.classification_head = nn.Linear(input_feature_dim, num_classes)

        def forward(self, features):
            image_features = self.slide_encoder['pre_attention_layers'](features)
            image_features = self.slide_encoder['image_pooler'](image_features)
            image_features = image_features.squeeze(1)  # rearrange(image_features, 'b 1 f -> b f')
            slide_features = self.slide_encoder['post_attention_layers'](image_features)
            logits = self.classification_head(slide_features)
            return logits

    torch.manual_seed(SEED)
    model = TrainableSlideEncoder(FEAT, n_heads=1, head_dim=HEAD_DIM, dropout=0.25, gated=False,
                                  num_classes=NUM_CLASSES)
    surv_loss = NLLSurvLoss(alpha=0.0, eps=1e-7, reduction='mean')
    optimizer = torch.optim.AdamW(model.parameters(), LR, weight_decay=WEIGHT_DECAY)

    def loss_fn(logits, y):  # TrainableSlideEncoder.forward's survival branch; y rows = (task label, event)
        y_bins = y[:, 0:1]
        y_bins = y_bins % 4 # Convert y_bins from 8 to 4 bins (survival quartiles)
        y_event = y[:, 1:2]
        return surv_loss(logits, y_bins, y_event)

    x, y, _, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[N_TRAIN:],
            "loss_fn": loss_fn, "optimizer": optimizer, "baseline_batch": (xt[:64], yt[:64])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
