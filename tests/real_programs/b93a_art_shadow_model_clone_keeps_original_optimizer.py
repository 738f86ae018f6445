"""Trusted-AI/adversarial-robustness-toolbox (ART), the shadow-model membership-inference attack on a PyTorch model:
``ShadowModels(art_classifier, num_shadow_models=3)`` (art/attacks/inference/membership_inference/shadow_models.py)
makes each shadow model with ``shadow_model_template.clone_for_refitting()`` and ``generate_shadow_dataset`` then
trains it with ``shadow_model.fit(shadow_x_train, shadow_y_train)`` (``PyTorchClassifier.fit`` defaults: batches of
128, 10 epochs, ``self._optimizer.zero_grad()`` / forward / ``self._loss(model_outputs[-1], o_batch)`` / backward /
``self._optimizer.step()``). The PyTorch model is the one of ART's own ``notebooks/attack_membership_inference.ipynb``
(``ModelToAttack(4, 24)``: Linear 24-1024-512-256-128 with Tanh, then Linear(128, 4), wrapped in
``torch.nn.DataParallel``; ``nn.CrossEntropyLoss()``; ``optim.Adam(mlp_model.parameters(), lr=0.01)``;
``PyTorchClassifier(model=mlp_model, loss=criterion, optimizer=optimizer, input_shape=(24,), nb_classes=4)``), on
the UCI Nursery table as ``load_nursery`` prepares it; the data flow is the one of
``notebooks/attack_membership_inference_shadow_models.ipynb`` (``load_nursery(test_set=0.75)``, three shadow models).

The fault (art/estimators/classification/pytorch.py ``PyTorchClassifier.clone_for_refitting`` at
8549e0e01a0464e7f59e742013261b5ab065226c): the clone gets a deep copy of the model, but the ORIGINAL optimizer,
``type(self)(model, self._loss, self.input_shape, self.nb_classes, optimizer=self._optimizer)``, an optimizer that
was built over the template model's parameters before they were copied and re-initialised. Training the clone then
backpropagates into the clone's parameters while ``zero_grad`` / ``step`` act on the template's: the shadow model
never takes a single update (it keeps its fresh ``reset()`` weights, its ``.grad`` just piles up), so the shadow
predictions that feed the attack model come from a random network. With the torch of the report (1.10,
``zero_grad`` leaving zero tensors) the stale Adam state even kept moving the template's own weights.
Fault label: params_not_updated (the clone's parameters are in no optimizer; the one it trains with belongs to
another model).

Source: issue #1579 (chao1995, ART 1.9.1, torch 1.10.2): using ShadowModels, the cloned models did not get trained
while, oddly, the original model's parameters changed; the optimizer still holds the original model's parameters
(workaround given: a new optimizer of the same type over ``sm.model.parameters()``). PR #1580 (2653944e6, merged
af9bf9c69, 2022-05-16) made ``clone_for_refitting`` build ``type(self._optimizer)(model.parameters(),
**self._optimizer.defaults)`` for the clone, but the method ends with ``params = self.get_params(); del
params["model"]; clone.set_params(**params)`` and ``get_params`` includes ``optimizer``, so the old optimizer was
put back; issue #1732 / PR #1742 (b7f14ea90d4951e7a745da91b10ebd9b80507546 'PyTorchClassifier: delete optimizer
before calling set_param()', merged e44260890, 2022-06-21) added ``del params["optimizer"]``: "otherwise the cloned
model will still get the old optimizer from params, defeating the purpose of creating a new optimizer binding to the
newly cloned model's parameters". The fixed version here is both PRs together.

Kept verbatim: ``ModelToAttack`` (torch default init), ``torch.nn.DataParallel(mlp_model)`` (a plain pass-through on
CPU), ``nn.CrossEntropyLoss()``, ``optim.Adam(mlp_model.parameters(), lr=0.01)``, the ``PyTorchClassifier(...)``
call, ART's ``reset`` (``reset_parameters`` on every module) and both bodies of ``clone_for_refitting`` (buggy
@8549e0e01, fixed after #1580 + #1742). Replaced: ART's ``PyTorchClassifier`` by a slim class with just what these
lines touch (the stored attributes, read-only properties, ``get_params`` / ``set_params`` over ``["model", "loss",
"input_shape", "nb_classes", "optimizer"]`` setting ``"_" + key`` as ``BaseEstimator.set_params`` does for
properties without a setter); ART's ModelWrapper (whose output list the fit loop indexes with ``[-1]``) is left out,
so ``loss_fn(outputs, targets)`` is ``criterion(outputs, targets)`` on the logits. ``fit``'s loop is the plain
zero_grad / forward / loss / backward / step with the classifier's own optimizer, so there is no ``train_step``:
``optimizer`` is what the shadow model trains with (buggy: the template's Adam; fixed: the clone's new Adam).
The template: ShadowModels' docstring asks for an untrained classifier as template, the notebook passes the trained
target; the template here is built but not trained, because training it (20 epochs, ~15 s) changes nothing the
clone sees: ``reset()`` redraws all of the clone's weights and with torch 2.x ``zero_grad`` sets the template's
gradients to None, so the stale optimizer's ``step`` skips them (measured below: same clone curves either way).
``model`` is the first of the three shadow clones (the torch RNG is seeded once before the template is built).
Nothing was shrunk.

Data stand-in (no UCI download): the real Nursery table is the full Cartesian product of its 8 attributes
(3 x 5 x 4 x 4 x 3 x 2 x 3 x 3 = 12960 rows), so the stand-in has exactly those rows; only the labels (from the
original hierarchical DEX decision model) are replaced by a fixed rule with the same structure: health
'not_recom' -> not_recom (class 0, exactly 1/3 as in Nursery); otherwise a badness score (2 parents + 2 has_nurs +
form + children + 2 housing + finance + 2 social, value indices from best to worst, + 3 if health is 'priority'):
very_recom (1) if health is 'recommended' and score <= 7, else priority (2) if score <= 15, else spec_prior (3).
Counts 4320 / 372 / 4308 / 3960 (Nursery: 4320 / 328 / 4266 / 4044, plus 2 'recommend' rows that load_nursery
drops). Then load_nursery's preprocessing: ``children`` numeric 1..4, the other seven one-hot in its column order,
all 24 columns standardised (values -1.34..2.0), the stratified 25 / 75 split with random_state=18, the 3-way
shadow split of ``generate_shadow_dataset`` (seeded permutation). ``batches``: the 12 full batches of 128 of the
first shadow model's 1620 training rows (classes 579 / 49 / 511 / 481); ``batch``: the first; ``inputs``: 256 rows
of the target's held-out half. (load_nursery's own ``pd.concat(..., join="inner")`` after dropping the
'recommend' rows shifts some labels by a row or two against their features; the stand-in keeps them aligned.)

Measured (my own loop, /tmp/s56/p/b93a/measure.py: PyTorchClassifier.fit's loop on the module's builds, the 1620
rows reshuffled each epoch with the last partial batch kept, 10 epochs = 130 steps, torch seed 0, one thread):
  epoch-mean training loss, epochs 1..10:
    buggy 1.372 1.372 1.372 1.372 1.372 1.372 1.372 1.372 1.372 1.372 (first step 1.370, near ln 4 = 1.386; flat);
    fixed 0.413 0.193 0.146 0.107 0.071 0.071 0.054 0.069 0.077 0.081 (first step 1.370).
  accuracy after fit, members / shadow non-members / target held-out: buggy 0.370 / 0.370 / 0.367 (the reset
    network's argmax, near the 0.357 majority share), fixed 0.977 / 0.964 / 0.958. Sum of |change| of the clone's
    parameters: buggy 0, fixed 4.7e4; the clone's gradient norm at the end: buggy 101 (130 steps piled up), fixed
    0.70.
  one batch repeated (100 steps): buggy 1.375 at steps 1 / 10 / 50 / 100; fixed 1.375 / 0.025 / 0.000 / 0.000.
  /tmp/s56/p/b93a/measure2.py, the notebook's way (template = the target first trained 20 epochs, Adam 0.01, batches
    of 100; its held-out accuracy 0.967): the clone's curves are identical to the above for both versions; with
    ``zero_grad(set_to_none=False)`` (torch 1.10's behaviour) the buggy run also moved the trained target's
    weights (sum |change| 4.0e3) and dropped its held-out accuracy to 0.922, the report's "original model's
    parameters were updated"; with torch 2.x's default it stays at 0.967.
  Time: ~1.2 s (buggy) / ~1.8 s (fixed) per 100 steps of batch 128 on one thread; build: first ~2.8 s (imports,
    data), later ~0.05 s.
"""

from __future__ import annotations

import copy
import functools
import itertools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:Trusted-AI/adversarial-robustness-toolbox issue #1579, PR #1580 (2653944e6, merge af9bf9c69) + "
          "issue #1732, PR #1742 (b7f14ea90d4951e7a745da91b10ebd9b80507546, merge e44260890) "
          "(art/estimators/classification/pytorch.py PyTorchClassifier.clone_for_refitting / fit @"
          "8549e0e01a0464e7f59e742013261b5ab065226c, art/attacks/inference/membership_inference/shadow_models.py "
          "ShadowModels, notebooks/attack_membership_inference.ipynb ModelToAttack, "
          "notebooks/attack_membership_inference_shadow_models.ipynb, art/utils.py load_nursery)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 4})]

SEED = 0
NB_CLASSES = 4
NB_FEATURES = 24
BATCH_SIZE = 128  # PyTorchClassifier.fit(batch_size=128), what ShadowModels.generate_shadow_dataset trains with
LR = 0.01  # optim.Adam(mlp_model.parameters(), lr=0.01)
NUM_SHADOW_MODELS = 3
N_INPUTS = 256

# Nursery attribute values, in the column order of nursery.data (label excluded)
_ATTRS = {
    "parents": ["usual", "pretentious", "great_pret"],
    "has_nurs": ["proper", "less_proper", "improper", "critical", "very_crit"],
    "form": ["complete", "completed", "incomplete", "foster"],
    "children": ["1", "2", "3", "more"],
    "housing": ["convenient", "less_conv", "critical"],
    "finance": ["convenient", "inconv"],
    "social": ["nonprob", "slightly_prob", "problematic"],
    "health": ["recommended", "priority", "not_recom"],
}


@functools.lru_cache(maxsize=1)
def _nursery() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for ``load_nursery(test_set=...)`` before its split: all 12960 attribute combinations of Nursery
    (the real table is exactly this Cartesian product), each labelled by a fixed rule (see the docstring), then the
    same preprocessing: ``children`` as the number 1..4 ('more' -> 4), the other seven attributes one-hot encoded in
    ``load_nursery``'s column order, and all 24 columns standardised by sklearn's ``StandardScaler``."""
    from sklearn.preprocessing import StandardScaler

    idx = np.array(list(itertools.product(*[range(len(v)) for v in _ATTRS.values()])))
    par, nurs, form, child, house, fin, soc, health = idx.T
    badness = 2 * par + 2 * nurs + form + child + 2 * house + fin + 2 * soc + 3 * (health == 1)
    y = np.where(health == 2, 0, np.where(badness <= 15, 2, 3))  # not_recom 0, priority 2, spec_prior 3
    y = np.where((health == 0) & (badness <= 7), 1, y)  # very_recom 1
    cols = [(child + 1).astype("float64")[:, None]]  # "children" stays numeric (1, 2, 3, 4)
    for name, j in (("parents", 0), ("has_nurs", 1), ("form", 2), ("housing", 4), ("finance", 5), ("social", 6),
                    ("health", 7)):
        cols.append(np.eye(len(_ATTRS[name]))[idx[:, j]])  # pd.get_dummies
    x = StandardScaler().fit_transform(np.concatenate(cols, 1))
    return x, y.astype("int64")


@functools.lru_cache(maxsize=1)
def _splits() -> dict[str, np.ndarray]:
    """The shadow-models notebook's data flow: ``load_nursery(test_set=0.75)`` (StratifiedShuffleSplit,
    random_state=18), target train / test = halves of the 25 % part, shadow data = the 75 % part; then
    ``generate_shadow_dataset(x_shadow, to_categorical(y_shadow, 4))``: permute, cut into 3 equal parts, the first
    half of each part trains that shadow model (the first part -> the first shadow model)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    x, y = _nursery()
    split = StratifiedShuffleSplit(n_splits=1, test_size=0.75, random_state=18)
    tr, te = next(split.split(x, y))
    x_target, y_target, x_shadow, y_shadow = x[tr], y[tr], x[te], y[te]
    half = len(x_target) // 2
    perm = np.random.default_rng(SEED).permutation(len(x_shadow))  # np.random.permutation(len(x))
    xs, ys = x_shadow[perm].astype(np.float32), y_shadow[perm]
    size = len(xs) // NUM_SHADOW_MODELS
    n_member = int(0.5 * size)
    return {"x_target_train": x_target[:half].astype(np.float32), "y_target_train": y_target[:half],
            "x_target_test": x_target[half:].astype(np.float32), "y_target_test": y_target[half:],
            "shadow_x_train": xs[:n_member], "shadow_y_train": ys[:n_member],
            "shadow_x_test": xs[n_member:size], "shadow_y_test": ys[n_member:size]}


def _model_to_attack(num_classes: int, num_features: int) -> Any:
    from torch import nn

    class ModelToAttack(nn.Module):

        def __init__(self, num_classes, num_features):
            super(ModelToAttack, self).__init__()

            self.fc1 = nn.Sequential(
                    nn.Linear(num_features, 1024),
                    nn.Tanh(), )

            self.fc2 = nn.Sequential(
                    nn.Linear(1024, 512),
                    nn.Tanh(), )

            self.fc3 = nn.Sequential(
                nn.Linear(512, 256),
                nn.Tanh(), )

            self.fc4 = nn.Sequential(
                nn.Linear(256, 128),
                nn.Tanh(),
            )

            self.classifier = nn.Linear(128, num_classes)

        def forward(self, x):
            out = self.fc1(x)
            out = self.fc2(out)
            out = self.fc3(out)
            out = self.fc4(out)
            return self.classifier(out)

    return ModelToAttack(num_classes, num_features)


class _PyTorchClassifier:
    """The part of ART's ``PyTorchClassifier`` (art/estimators/classification/pytorch.py) that the shadow models go
    through: the constructor's stored attributes, ``get_params`` / ``set_params`` over ``estimator_params``
    (BaseEstimator), ``reset`` and ``clone_for_refitting`` (buggy: @8549e0e01; fixed: + PR #1580 + PR #1742)."""

    estimator_params = ["model", "loss", "input_shape", "nb_classes", "optimizer"]
    fixed = False

    def __init__(self, model: Any, loss: Any, input_shape: tuple[int, ...], nb_classes: int,
                 optimizer: Any = None) -> None:
        self._model = model  # ART keeps it inside its ModelWrapper; ``.model`` gives back the user's module
        self._loss = loss
        self._input_shape = input_shape
        self._nb_classes = nb_classes
        self._optimizer = optimizer

    @property
    def model(self) -> Any:
        return self._model

    @property
    def loss(self) -> Any:
        return self._loss

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    @property
    def nb_classes(self) -> int:
        return self._nb_classes

    @property
    def optimizer(self) -> Any:
        return self._optimizer

    def get_params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.estimator_params}

    def set_params(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():  # every key here is a read-only property: BaseEstimator sets "_" + key
            setattr(self, "_" + key, value)

    def reset(self) -> None:
        def weight_reset(module):
            reset_parameters = getattr(module, "reset_parameters", None)
            if reset_parameters and callable(reset_parameters):
                module.reset_parameters()

        self.model.apply(weight_reset)

    def clone_for_refitting(self) -> "_PyTorchClassifier":
        if not self.fixed:  # @8549e0e01
            model = copy.deepcopy(self.model)
            clone = type(self)(model, self._loss, self.input_shape, self.nb_classes, optimizer=self._optimizer)
            # reset weights
            clone.reset()
            params = self.get_params()
            del params["model"]
            clone.set_params(**params)
            return clone
        model = copy.deepcopy(self.model)  # PR #1580 + PR #1742

        if self._optimizer is None:  # pragma: no cover
            raise ValueError("An optimizer is needed to train the model, but none is provided.")

        # create a new optimizer that binds to the cloned model's parameters and uses original optimizer's defaults
        new_optimizer = type(self._optimizer)(model.parameters(), **self._optimizer.defaults)  # type: ignore

        clone = type(self)(model, self._loss, self.input_shape, self.nb_classes, optimizer=new_optimizer)

        # reset weights
        clone.reset()
        params = self.get_params()
        del params["model"]
        del params["optimizer"]
        clone.set_params(**params)
        return clone


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn, optim

    torch.manual_seed(SEED)
    mlp_model = _model_to_attack(4, 24)
    mlp_model = torch.nn.DataParallel(mlp_model)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(mlp_model.parameters(), lr=LR)

    cls = type("PyTorchClassifier", (_PyTorchClassifier,), {"fixed": fixed})
    mlp_art_model = cls(model=mlp_model, loss=criterion, optimizer=optimizer, input_shape=(24,), nb_classes=4)

    # ShadowModels(mlp_art_model, num_shadow_models=3): one clone_for_refitting() per shadow model
    shadow_models = [mlp_art_model.clone_for_refitting() for _ in range(NUM_SHADOW_MODELS)]
    shadow = shadow_models[0]

    def loss_fn(outputs, targets):  # fit: loss = self._loss(model_outputs[-1], o_batch)
        return shadow._loss(outputs, targets)

    d = _splits()
    x, y = torch.from_numpy(d["shadow_x_train"]), torch.from_numpy(d["shadow_y_train"])
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x) - BATCH_SIZE + 1, BATCH_SIZE)]
    return {"model": shadow.model, "optimizer": shadow._optimizer, "loss_fn": loss_fn, "batch": batches[0],
            "batches": batches, "inputs": torch.from_numpy(d["x_target_test"][:N_INPUTS])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
