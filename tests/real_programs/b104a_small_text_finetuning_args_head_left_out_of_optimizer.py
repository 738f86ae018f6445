"""small-text (webis-de/small-text), active learning for text classification: layer-specific fine-tuning of a
transformer left the new classification head (and the embeddings) out of the optimizer.

Source: github.com/webis-de/small-text, small_text/integrations/transformers/classifiers/classification.py at
3d99fb5 (= e919bbc^, version 1.3.0 code): ``FineTuningArguments``, ``_get_layer_params`` and
``TransformerBasedClassification._default_optimizer`` / ``_train_single_batch`` / ``_compute_loss``, with
``small_text/integrations/pytorch/classifiers/base.py`` (``_get_default_criterion``) and the model of
``examples/examplecode/transformers_multiclass_classification.py`` (distilroberta-base, three 20-newsgroups
categories). Issue #36 ("Regarding potential bottleneck during training of Classifiers"): with
``fine_tuning_arguments`` set, the parameter groups are built from ``base_model.encoder.layer`` only, "instead of
training the head of the RobertaForSequenceClassification model the whole encoder is trained and the head
neglected"; the maintainer: "You are completely right. I think this might be a bug. This only occurs if fine-tuning
arguments are set". Fixed by PR #38 (JP-SystemsX), commits e919bbc58497db403b4b7cbd6d552a5e55a5f025 ("Fixed Issue
#36: _get_layer_params function didn't include all necessary Parameters and still didn't throw exception") and
adbd6a484ce62891a1d49f9b3ca85adc13ab8d89 ("fixed bug with layerwise decay"), merged as bb8d1c7; changelog of 1.3.1:
"Fixed a bug where parameter groups were omitted when using TransformerBasedClassification's layer-specific
fine-tuning functionality".

Fault label: params_not_updated. When a user passes ``FineTuningArguments`` (layer-wise learning-rate decay,
ULMFiT style), ``_default_optimizer`` hands AdamW only the parameter groups of the transformer's encoder blocks.
The classification head that ``from_pretrained`` creates freshly at random for the new task (RoBERTa's
``classifier.dense`` and ``classifier.out_proj``) and the embeddings are never put in any group, so they keep their
initial values for the whole training although they get gradients: the randomly initialised head stays random and
the encoder has to bend its features to a fixed random projection, at lr 2e-5. Nothing raises and the loss moves a
little, so it looks like slow fine-tuning. The fix collects embeddings, every encoder layer, the pooler (if any)
and the classifier into the groups (the classifier gets the base lr, lower layers decayed) and raises if any
trainable parameter is still missing.

Kept verbatim: ``FineTuningArguments``, the buggy ``_get_layer_params`` (3d99fb5) and the fixed one (bb8d1c7 =
e919bbc + adbd6a4), function bodies line for line (renamed with a _buggy / _fixed suffix and given type hints;
two long lines of the fixed one wrapped, the ``l`` loop variable given a noqa), ``AdamW(params,
lr=base_lr, eps=1e-8)`` with ``lr=2e-5`` (the classifier's default, also passed as ``base_lr`` as
``_default_optimizer`` does), mini batch 12 (default), ``CrossEntropyLoss()`` for more than two classes with
``logits.view(-1, num_classes)``, and the train step of ``_train_single_batch`` (zero_grad, forward with the
attention mask, loss, backward, ``clip_grad_norm_(..., 1.0)``, step), given as ``train_step``. Buggy and fixed
differ only in which ``_get_layer_params`` builds the optimizer's groups.
Chosen by me: ``FineTuningArguments(2e-5, layerwise_gradient_decay=0.9)`` (gradual_unfreezing left at -1, so the
second fault fixed in adbd6a4, a negative decay exponent, only shifts the encoder lrs: buggy layer lrs 1.62e-5 and
1.8e-5, fixed 1.46e-5 .. 2e-5).
Replaced: distilroberta-base (82M parameters, download) by a tiny ``transformers`` ``RobertaForSequenceClassification``
(vocabulary 120, hidden 64, 2 layers, 4 heads, FFN 128, 24 positions; 80,899 parameters, of which the buggy
optimizer gets 66,944: the 2 encoder layers, without the 4,355 head and 9,600 embedding parameters). The pretrained
weights are stood in for by the same body trained for 300 Adam (lr 1e-3) steps of 32 documents on a related 6-way
sub-topic task (cached, seed 1); ``_build`` then creates the 3-class model with a new random head (seed 0) and
loads that body, as ``from_pretrained`` does. The model is wrapped so that ``model(x)`` takes token ids and returns
the logits, with the attention mask ``x != pad`` (what the tokenizer's mask is for post-padded ids). Left out: the
linear lr schedule (``get_linear_schedule_with_warmup``, warm-up 0), the validation split, early stopping and
model selection, none of which touches the fault.
Data stand-in (no 20-newsgroups download, no tokenizer): seeded synthetic documents ``<s> w1 .. wn </s> <pad>..``
of 8-22 words, 24 ids long (int64); class c (3 classes) draws about 30 % of its words from its own 10 topic words,
the rest from 87 common words, so the topic words determine the label. ``batches``: 40 distinct batches of 12,
``inputs``: 256 held-out documents, ``baseline_batch``: the first 96 training documents.

Measured (/tmp/s60/p/a/measure.py, OMP_NUM_THREADS=1, the module's builds, seed 0, the 40 batches cycled in order,
model in train mode; held-out = the 256 ``inputs`` in eval mode):
  held-out loss / accuracy at the start (same for both: body pretrained, head random): 1.082 / 0.66.
  mean train loss per epoch and held-out loss / accuracy after epochs 1, 2, 3, 5, 10 (40 .. 400 steps):
    buggy  train 1.081 1.076 1.071 1.063 1.034   held-out 1.077/0.72 1.072/0.77 1.068/0.81 1.057/0.90 1.026/0.95
    fixed  train 1.066 1.031 0.996 0.926 0.741   held-out 1.046/0.91 1.010/0.95 0.974/0.96 0.900/0.97 0.710/0.99
  one batch repeated 100 times, loss at steps 1 / 10 / 50 / 100: buggy 1.079 / 1.070 / 1.071 / 1.055, fixed
    1.079 / 1.061 / 1.021 / 0.955.
  So with the head left out the loss hardly falls (-0.06 in 400 steps against -0.37): the frozen random head keeps
  the logits near zero and the probabilities near uniform, while the encoder slowly rotates its features so that
  the argmax (accuracy) still improves. At lr 2e-5 on the tiny model both versions learn slowly; the gap in loss is
  the fault's.
  Time per step (batch 12, one thread): ~48 ms either version. First build ~33 s (transformers import and the
  300-step body pretraining, cached); later builds < 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:webis-de/small-text issue #36, PR #38 (small_text/integrations/transformers/classifiers/"
          "classification.py _get_layer_params / TransformerBasedClassification._default_optimizer @"
          "3d99fb5 = e919bbc^; fix e919bbc58497db403b4b7cbd6d552a5e55a5f025 'Fixed Issue #36' + adbd6a4 "
          "'fixed bug with layerwise decay', merged bb8d1c7; examples/examplecode/"
          "transformers_multiclass_classification.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 3})]

# TransformerBasedClassification defaults (lr=2e-5, mini_batch_size=12) and the example's three categories
LR = 2e-5
MINI_BATCH_SIZE = 12
NUM_CLASSES = 3
LAYERWISE_GRADIENT_DECAY = 0.9  # FineTuningArguments(base_lr, layerwise_gradient_decay); gradual_unfreezing=-1
# tiny RoBERTa stand-in for distilroberta-base
VOCAB, HIDDEN, LAYERS, HEADS, FFN, MAX_LEN = 120, 64, 2, 4, 128, 24
BOS, PAD, EOS = 0, 1, 2
TOPIC0, N_TOPIC = 3, 10  # ids 3..32: ten topic words per class
PRE_STEPS, PRE_BATCH, PRE_LR = 300, 32, 1e-3
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _docs(r: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, MAX_LEN) of <s> words </s> <pad>..., and the class whose topic words the document uses."""
    y = r.integers(0, NUM_CLASSES, n)
    x = np.full((n, MAX_LEN), PAD, "int64")
    for i, c in enumerate(y):
        length = int(r.integers(8, MAX_LEN - 1))
        words = r.integers(TOPIC0 + 3 * N_TOPIC, VOCAB, length)  # common words
        topical = r.random(length) < 0.3
        words[topical] = TOPIC0 + c * N_TOPIC + r.integers(0, N_TOPIC, topical.sum())
        x[i, 0], x[i, 1:length + 1], x[i, length + 1] = BOS, words, EOS
    return x, y


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, ...]:
    r = np.random.default_rng(SEED)
    xp, yp = _docs(r, PRE_STEPS * PRE_BATCH)
    # pretraining stand-in labels: six sub-topics (five topic words each), two per downstream class
    word = np.where((xp >= TOPIC0) & (xp < TOPIC0 + 3 * N_TOPIC), (xp - TOPIC0) // 5, -1)
    yp6 = np.array([np.bincount(w[w >= 0], minlength=6).argmax() for w in word])
    xt, yt = _docs(r, N_BATCHES * MINI_BATCH_SIZE + N_INPUTS)
    return xp, yp6, xt, yt


@functools.lru_cache(maxsize=1)
def _pretrained_body() -> dict[str, Any]:
    """Stand-in for from_pretrained('distilroberta-base'): the tiny RoBERTa body after 300 Adam steps on a
    related 6-way sub-topic task (its head is dropped, as a new task head is created by from_pretrained)."""
    import torch
    from transformers import RobertaForSequenceClassification

    xp, yp6, _, _ = _data()
    torch.manual_seed(SEED + 1)
    m = RobertaForSequenceClassification(_config(6))
    opt = torch.optim.Adam(m.parameters(), lr=PRE_LR)
    m.train()
    for s in range(PRE_STEPS):
        x = torch.from_numpy(xp[s * PRE_BATCH:(s + 1) * PRE_BATCH])
        y = torch.from_numpy(yp6[s * PRE_BATCH:(s + 1) * PRE_BATCH])
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x, attention_mask=(x != PAD).long()).logits, y)
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in m.roberta.state_dict().items()}


def _config(num_labels: int) -> Any:
    from transformers import RobertaConfig

    return RobertaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                         intermediate_size=FFN, max_position_embeddings=MAX_LEN + 2, num_labels=num_labels,
                         pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)


# ------------------------------------------------------------------------------------------ small-text (verbatim)

class FineTuningArguments(object):

    def __init__(self, base_lr, layerwise_gradient_decay, gradual_unfreezing=-1, cut_fraction=0.1):

        if base_lr <= 0:
            raise ValueError('FineTuningArguments: base_lr must be greater than zero')
        if layerwise_gradient_decay:
            if not (0 < layerwise_gradient_decay < 1 or layerwise_gradient_decay == -1):
                raise ValueError('FineTuningArguments: valid values for layerwise_gradient_decay '
                                 'are between 0 and 1 (or set it to -1 to disable it)')

        self.base_lr = base_lr
        self.layerwise_gradient_decay = layerwise_gradient_decay

        self.gradual_unfreezing = gradual_unfreezing
        self.cut_fraction = cut_fraction


def _get_layer_params_buggy(model: Any, base_lr: float, fine_tuning_arguments: Any) -> list[dict[str, Any]]:  # @3d99fb5

    layerwise_gradient_decay = fine_tuning_arguments.layerwise_gradient_decay

    params = []

    base_model = getattr(model, model.base_model_prefix)
    if hasattr(base_model, 'encoder'):
        layers = base_model.encoder.layer
    else:
        layers = base_model.transformer.layer

    total_layers = len(layers)

    use_gradual_unfreezing = isinstance(fine_tuning_arguments.gradual_unfreezing, int) and \
        fine_tuning_arguments.gradual_unfreezing > 0

    start_layer = 0 if not use_gradual_unfreezing else total_layers-fine_tuning_arguments.gradual_unfreezing
    num_layers = total_layers - start_layer

    for i in range(start_layer, total_layers):
        lr = base_lr if not layerwise_gradient_decay else base_lr * layerwise_gradient_decay ** (
                    num_layers - i)
        params.append({
            'params': layers[i].parameters(),
            'lr': lr
        })

    return params


def _get_layer_params_fixed(model: Any, base_lr: float,
                            fine_tuning_arguments: Any) -> list[dict[str, Any]]:  # @bb8d1c7 (e919bbc + adbd6a4)
    layerwise_gradient_decay = fine_tuning_arguments.layerwise_gradient_decay

    params = []

    # Get layers under assumption that a certain naming convention is kept
    base_model = getattr(model, model.base_model_prefix)
    layers = []
    if hasattr(base_model, 'embeddings'):
        layers.append(base_model.embeddings.parameters())

    if hasattr(base_model, 'encoder'):
        if hasattr(base_model.encoder, 'layer'):
            layers += [l.parameters() for l in base_model.encoder.layer]  # noqa: E741
    else:
        layers += [l.parameters() for l in base_model.transformer.layer]  # noqa: E741

    if hasattr(base_model, 'pooler') and base_model.pooler is not None:
        layers.append(base_model.pooler.parameters())

    if hasattr(model, 'classifier'):
        layers.append(model.classifier.parameters())

    total_layers = len(layers)

    use_gradual_unfreezing = isinstance(fine_tuning_arguments.gradual_unfreezing, int) and \
                             fine_tuning_arguments.gradual_unfreezing > 0

    start_layer = 0 if not use_gradual_unfreezing else max(0, total_layers -
                                                              fine_tuning_arguments.gradual_unfreezing)
    num_layers = total_layers - start_layer

    for i in range(start_layer, total_layers):
        lr = base_lr if not layerwise_gradient_decay else base_lr * layerwise_gradient_decay ** (
            num_layers - (i+1-start_layer))
        for sublayer in layers[i]:
            if sublayer.requires_grad:  # Check whether frozen through pytorch interface
                params.append({
                    'params': sublayer,
                    'lr': lr
                })

    # Check whether all trainable parameters were atleast found
    must_have_layer_ids = set(id(param) for param in model.parameters() if param.requires_grad)
    included_layer_ids = set([id(param["params"]) for param in params])
    excluded_layer_ids = set([id(sublayer) for i in range(0, start_layer) for sublayer in layers[i]])
    found_layer_ids = set.union(included_layer_ids, excluded_layer_ids)
    assert len(found_layer_ids) == len(included_layer_ids) + len(excluded_layer_ids)  # i.e. No Overlap
    if len(must_have_layer_ids - found_layer_ids) != 0:
        # Not all layers were found while following naming convention
        raise Exception(f"{type(model)} doesn't support yet finetuning arguments.")

    return params


# ----------------------------------------------------------------------------------------------------------- build

def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.optim import AdamW
    from transformers import RobertaForSequenceClassification

    body = _pretrained_body()
    torch.manual_seed(SEED)
    hf = RobertaForSequenceClassification(_config(NUM_CLASSES))  # initialize_transformer: a new, random head
    hf.roberta.load_state_dict(body)

    class Classifier(nn.Module):  # self.model(x, attention_mask=masks).logits, masks = the tokenizer's (x != pad)
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Any) -> Any:
            return self.model(x, attention_mask=(x != PAD).long()).logits

    model = Classifier(hf)
    model.train()
    fine_tuning_arguments = FineTuningArguments(LR, LAYERWISE_GRADIENT_DECAY)
    # TransformerBasedClassification._default_optimizer (fine_tuning_arguments set)
    params = (_get_layer_params_fixed if fixed else _get_layer_params_buggy)(hf, LR, fine_tuning_arguments)
    optimizer = AdamW(params, lr=LR, eps=1e-8)
    criterion = nn.CrossEntropyLoss()  # _get_default_criterion, num_classes > 2, class_weight=None

    def loss_fn(logits: Any, cls: Any) -> Any:  # _compute_loss: logits.view(-1, num_classes) vs class ids
        return criterion(logits.view(-1, NUM_CLASSES), cls)

    def train_step(model: Any, optimizer: Any, loss_fn: Any, x: Any, cls: Any) -> Any:  # _train_single_batch
        optimizer.zero_grad()
        loss = loss_fn(model(x), cls)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    _, _, xt, yt = _data()
    n = N_BATCHES * MINI_BATCH_SIZE
    x, y = torch.from_numpy(xt), torch.from_numpy(yt)
    batches = [(x[i:i + MINI_BATCH_SIZE], y[i:i + MINI_BATCH_SIZE]) for i in range(0, n, MINI_BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[n:], "loss_fn": loss_fn,
            "optimizer": optimizer, "train_step": train_step, "baseline_batch": (x[:96], y[:96])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
