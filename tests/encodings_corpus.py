"""Held-out corpus of target encodings (issue 13): correct pipelines that must pass, broken twins
that must fail with a named cause, in PyTorch and Keras 3 (TensorFlow backend).

Written from the README and DESIGN only, without reading the plugin's code. Every case is a small
tabular or digits model on scikit-learn's offline datasets, so a check runs in seconds on a CPU.

A case's ``build(seed)`` returns a dict with what its checks need:

``model``, ``batch`` (an ``(x, y)`` pair of 64 samples), ``batches`` (8 pairs of 32), ``inputs``
(x of 128 samples), ``loss_fn``, ``optimizer`` and ``kwargs``: per-check keyword arguments, keyed by
check name (``output_range``: ``kind=``/``num_classes=``; ``not_constant_predictions``:
``train_on=``; ``label_roundtrip``: ``encode``/``decode``/``labels``). Keys that do not apply are
absent or None. Importing this module imports neither torch nor TensorFlow: builders import them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Built = dict[str, Any]

TRAINING = ("overfit_one_batch", "loss_decreases", "init_loss", "gradients_flow")
CLASSIFIER = TRAINING + ("not_constant_predictions", "input_independent_baseline")


@dataclass(frozen=True)
class EncodingCase:
    """One pipeline: ``expect`` is "pass" or "fail" for every check in ``checks``.

    ``cause`` is the cause id a user would want named first; ``also`` lists ids that are equally
    right as the first cause (a target of 2 into a binary loss is both ``labels_invalid`` and
    ``loss_mismatch``)."""

    name: str
    framework: str
    expect: str
    checks: tuple[str, ...]
    build: Callable[[int], Built]
    cause: str | None = None
    also: tuple[str, ...] = ()
    doc: str = ""

    @property
    def accepted_causes(self) -> tuple[str, ...]:
        return ((self.cause,) if self.cause else ()) + self.also


# ----------------------------------------------------------------------------------------- data

@functools.lru_cache(maxsize=None)
def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine,
              "breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes,
              "digits": datasets.load_digits}[name]
    data = loader()
    return np.asarray(data.data, np.float64), np.asarray(data.target)


def _standardise(x: np.ndarray) -> np.ndarray:
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


def _decade_scaled(x: np.ndarray) -> np.ndarray:
    """Each raw column divided by a power of ten so its largest value lies in [1, 10): raw
    features in a unit a person would pick, not centred, not standardised."""
    top = np.abs(x).max(0)
    return (x / 10.0 ** np.floor(np.log10(top))).astype(np.float32)


def _features(dataset: str, scale: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _sklearn(dataset)
    if scale == "std":
        x = _standardise(x)
    elif scale == "decade":
        x = _decade_scaled(x)
    elif scale == "digits":
        x = (x / 16.0).astype(np.float32)
    else:
        x = x.astype(np.float32)
    return x, y


@dataclass
class Split:
    """A fixed draw of one dataset: a 64-sample batch, 8 batches of 32 and 128 inputs."""

    x: np.ndarray
    y: np.ndarray
    batch_idx: np.ndarray = field(repr=False)
    batches_idx: list[np.ndarray] = field(repr=False)
    inputs_idx: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, *, stratify_rng: int = 0) -> "Split":
        rng = np.random.default_rng(stratify_rng)
        n = len(x)
        perm = rng.permutation(n)
        batches = [rng.choice(n, 32, replace=False) for _ in range(8)]
        inputs = perm[:128] if n >= 128 else rng.choice(n, 128, replace=True)
        return cls(x, y, perm[:64], batches, inputs)

    def batch(self, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        y = self.y if y is None else y
        return self.x[self.batch_idx], y[self.batch_idx]

    def batches(self, y: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        y = self.y if y is None else y
        return [(self.x[i], y[i]) for i in self.batches_idx]

    def inputs(self) -> np.ndarray:
        return self.x[self.inputs_idx]


def _split(dataset: str, scale: str = "std") -> Split:
    x, y = _features(dataset, scale)
    return Split.of(x, y)


def _multilabel_split() -> Split:
    """scikit-learn's make_multilabel_classification: count features (standardised here) and an
    int multi-hot target matrix, with rows holding zero, one or several 1s."""
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(n_samples=400, n_features=16, n_classes=5, n_labels=2,
                                          allow_unlabeled=True, random_state=0)
    split = Split.of(_standardise(x.astype(np.float64)), y)
    per_row = y[split.batch_idx].sum(1)
    assert (per_row == 0).any() and (per_row >= 2).any(), "the batch must hold empty and multi-label rows"
    return split


def _imbalanced_binary(seed_data: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """95 % negatives, weak signal: 8 training batches of 64, plus a balanced held-out set of 128."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=6000, n_features=8, n_informative=3, n_redundant=0,
                               class_sep=0.6, flip_y=0.0, weights=[0.5, 0.5], random_state=seed_data)
    x = x.astype(np.float32)
    rng = np.random.default_rng(seed_data)
    neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    held = np.concatenate([neg[:64], pos[:64]])
    neg, pos = neg[64:], pos[64:]
    batches = []
    for _ in range(8):
        idx = np.concatenate([rng.choice(neg, 61, replace=False), rng.choice(pos, 3, replace=False)])
        rng.shuffle(idx)
        batches.append((x[idx], y[idx]))
    return batches, x[held], y[held]


def _one_hot(y: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c, dtype=np.float32)[y]


# ---------------------------------------------------------------------------------------- torch

def _tt(a: np.ndarray) -> Any:
    """numpy -> torch, as a DataLoader over a TensorDataset would yield it."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.float() if t.is_floating_point() else t.long()


def _torch_pairs(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[Any, Any]]:
    return [(_tt(x), _tt(y)) for x, y in pairs]


def _torch_mlp(seed: int, d: int, out: int, *, hidden: int = 32, final: Any = None) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers: list[Any] = [nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, out)]
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def _torch_forward_post(seed: int, d: int, out: int, fn: Callable[[Any], Any], *, hidden: int = 32) -> Any:
    """An nn.Module whose ``forward`` applies ``fn`` (e.g. F.softmax) to the head's output:
    the op spelling of an activation layer."""
    import torch
    from torch import nn

    class PostNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
            self.head = nn.Linear(hidden, out)

        def forward(self, x: Any) -> Any:
            return fn(self.head(self.body(x)))

    torch.manual_seed(seed)
    return PostNet()


def _adam_t(lr: float = 1e-2) -> Callable[[Any], Any]:
    def factory(params: Any) -> Any:
        import torch

        return torch.optim.Adam(params, lr=lr)
    return factory


def _torch_built(model: Any, split: Split, loss_fn: Any, *, y: np.ndarray | None = None,
                 lr: float = 1e-2, kwargs: dict[str, dict[str, Any]] | None = None) -> Built:
    x64, y64 = split.batch(y)
    built: Built = dict(model=model, batch=(_tt(x64), _tt(y64)), batches=_torch_pairs(split.batches(y)),
                        inputs=_tt(split.inputs()), loss_fn=loss_fn, optimizer=_adam_t(lr),
                        kwargs=dict(kwargs or {}))
    built["kwargs"].setdefault("not_constant_predictions", {"train_on": built["batches"]})
    return built


# ---------------------------------------------------------------------------------------- keras

def _keras_mlp(seed: int, d: int, out: int, *, hidden: int = 32, activation: str | None = None,
               final: Any = None) -> Any:
    import keras

    init = keras.initializers.GlorotUniform
    inputs = keras.Input((d,))
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer=init(seed=2 * seed))(inputs)
    o = keras.layers.Dense(out, activation=activation, kernel_initializer=init(seed=2 * seed + 1))(h)
    if final is not None:
        o = final(o)
    return keras.Model(inputs, o)


def _adam_k(lr: float = 1e-2) -> Any:
    import keras

    return keras.optimizers.Adam(lr)


def _keras_built(model: Any, split: Split, loss_fn: Any, *, y: np.ndarray | None = None,
                 lr: float = 1e-2, compile_loss: Any = None,
                 kwargs: dict[str, dict[str, Any]] | None = None) -> Built:
    """``compile_loss`` compiles the model with it (it then brings loss and optimizer)."""
    if compile_loss is not None:
        model.compile(optimizer=_adam_k(lr), loss=compile_loss)
        loss_fn, optimizer = None, None
    else:
        optimizer = _adam_k(lr)
    built: Built = dict(model=model, batch=split.batch(y), batches=split.batches(y), inputs=split.inputs(),
                        loss_fn=loss_fn, optimizer=optimizer, kwargs=dict(kwargs or {}))
    built["kwargs"].setdefault("not_constant_predictions", {"train_on": built["batches"]})
    return built


# --------------------------------------------------------------------------------- torch losses

def _ce_on_column_ids(out: Any, y: Any) -> Any:
    """Cross-entropy over (N, 1) class ids, squeezed inside the loss."""
    import torch.nn.functional as F

    return F.cross_entropy(out, y.squeeze(1))


def _ce_on_float_ids(out: Any, y: Any) -> Any:
    """Whole-number float class ids (0., 1., 2.) cast to long inside the loss."""
    import torch.nn.functional as F

    return F.cross_entropy(out, y.long())


def _torch_focal(out: Any, y: Any) -> Any:
    """Focal loss (gamma 2) over class ids, written as a plain function."""
    import torch.nn.functional as F

    logp = F.log_softmax(out, dim=1).gather(1, y.unsqueeze(1)).squeeze(1)
    return (-(1 - logp.exp()) ** 2 * logp).mean()


def _bce_logits_fn(out: Any, y: Any) -> Any:
    """Hand-written BCE on logits: the head's outputs against the targets cast to float."""
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(out.reshape(y.shape), y.float())


def _mse_vs_ids_one_unit(out: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.mse_loss(out.squeeze(1), y.float())


def _mse_vs_ids_broadcast(out: Any, y: Any) -> Any:
    """MSE between every logit and the class id (the broadcast a shape slip gives)."""
    return ((out - y.float().unsqueeze(1)) ** 2).mean()


# --------------------------------------------------------------------------------- keras losses

def _keras_focal(y_true: Any, y_pred: Any) -> Any:
    """Focal loss (gamma 2) over sparse class ids and logits, as a plain function."""
    import keras

    ops = keras.ops
    ids = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    logp = ops.take_along_axis(ops.log_softmax(y_pred, axis=-1), ops.expand_dims(ids, -1), axis=-1)[:, 0]
    return ops.mean(-ops.square(1.0 - ops.exp(logp)) * logp)


def _keras_weighted_sce(weights: np.ndarray) -> Callable[[Any, Any], Any]:
    """Class-weighted sparse cross-entropy on logits, normalised by the weights (torch's convention)."""
    import keras

    w = keras.ops.convert_to_tensor(weights.astype(np.float32))

    def loss(y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        ids = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        per = keras.losses.sparse_categorical_crossentropy(ids, y_pred, from_logits=True)
        sw = ops.take(w, ids)
        return ops.sum(per * sw) / ops.sum(sw)
    return loss


def _keras_pos_weight_bce(pos_weight: float) -> Callable[[Any, Any], Any]:
    import keras

    def loss(y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        y = ops.cast(ops.reshape(y_true, (-1,)), "float32")
        z = ops.reshape(y_pred, (-1,))
        return -ops.mean(pos_weight * y * ops.log_sigmoid(z) + (1.0 - y) * ops.log_sigmoid(-z))
    return loss


def _keras_mse_ids(y_true: Any, y_pred: Any) -> Any:
    import keras

    ops = keras.ops
    return ops.mean(ops.square(ops.cast(ops.reshape(y_true, (-1, 1)), "float32") - y_pred))


def _keras_manual_softmax() -> Any:
    """A softmax spelled with exp and sum in a Lambda layer, which Keras cannot see through."""
    import keras

    return keras.layers.Lambda(lambda z: keras.ops.exp(z) / keras.ops.sum(keras.ops.exp(z), axis=-1, keepdims=True))


# ------------------------------------------------------------------------------- case builders

def _torch_cases() -> list[EncodingCase]:
    from_ = "torch"
    cases: list[EncodingCase] = []

    def add(name: str, expect: str, checks: tuple[str, ...], build: Callable[[int], Built],
            cause: str | None = None, also: tuple[str, ...] = (), doc: str = "") -> None:
        cases.append(EncodingCase(name, from_, expect, checks, build, cause, also, doc))

    # --- class ids
    def iris_ids(seed: int) -> Built:
        from torch import nn
        s = _split("iris")
        return _torch_built(_torch_mlp(seed, 4, 3), s, nn.CrossEntropyLoss(),
                            kwargs={"output_range": {"kind": "logits", "num_classes": 3}})
    add("iris std, class ids (N,) int64, CrossEntropyLoss", "pass",
        CLASSIFIER + ("output_range", "inputs_normalized"), iris_ids,
        doc="The textbook encoding: one int64 class id per sample.")

    def wine_column_ids(seed: int) -> Built:
        s = _split("wine")
        return _torch_built(_torch_mlp(seed, 13, 3), s, _ce_on_column_ids, y=s.y.reshape(-1, 1))
    add("wine std, class ids (N, 1) squeezed inside the loss", "pass", CLASSIFIER, wine_column_ids,
        doc="Column-shaped ids as keras.datasets.*.load_data returns them, squeezed in the loss.")

    def iris_float_ids(seed: int) -> Built:
        s = _split("iris")
        return _torch_built(_torch_mlp(seed, 4, 3), s, _ce_on_float_ids, y=s.y.astype(np.float32))
    add("iris std, whole-number float ids 0.,1.,2., cast to long in the loss", "pass", TRAINING,
        iris_float_ids, doc="Float ids as a CSV column reads them; the loss casts them.")

    def wine_one_hot(seed: int) -> Built:
        from torch import nn
        s = _split("wine")
        return _torch_built(_torch_mlp(seed, 13, 3), s, nn.CrossEntropyLoss(), y=_one_hot(s.y, 3))
    add("wine std, one-hot float targets, CrossEntropyLoss (class probabilities)", "pass", TRAINING,
        wine_one_hot, doc="torch CrossEntropyLoss accepts class probabilities as (N, C) float targets.")

    def digits_smoothing(seed: int) -> Built:
        from torch import nn
        s = _split("digits", "digits")
        return _torch_built(_torch_mlp(seed, 64, 10, hidden=64), s, nn.CrossEntropyLoss(label_smoothing=0.1))
    add("digits /16, 10 classes, CrossEntropyLoss(label_smoothing=0.1)", "pass", TRAINING, digits_smoothing,
        doc="Label smoothing: the loss floor on a perfect fit is ~0.5 with 10 classes.")

    def digits_smoothing_onehot(seed: int) -> Built:
        from torch import nn
        s = _split("digits", "digits")
        return _torch_built(_torch_mlp(seed, 64, 10, hidden=64), s, nn.CrossEntropyLoss(label_smoothing=0.1),
                            y=_one_hot(s.y, 10))
    add("digits /16, one-hot targets, CrossEntropyLoss(label_smoothing=0.1)", "pass",
        ("overfit_one_batch", "init_loss"), digits_smoothing_onehot)

    def wine_weighted(seed: int) -> Built:
        import torch
        from torch import nn
        s = _split("wine")
        w = torch.tensor([1.0, 0.5, 2.0])
        return _torch_built(_torch_mlp(seed, 13, 3), s, nn.CrossEntropyLoss(weight=w))
    add("wine std, class-weighted CrossEntropyLoss(weight=[1, .5, 2])", "pass", TRAINING, wine_weighted)

    def iris_focal(seed: int) -> Built:
        s = _split("iris")
        return _torch_built(_torch_mlp(seed, 4, 3), s, _torch_focal)
    add("iris std, focal loss (gamma 2) as a plain function", "pass", TRAINING, iris_focal,
        doc="Focal loss (Lin et al. 2017) written by hand; its floor is 0 but it flattens near a fit.")

    # --- binary
    bc_binary = TRAINING + ("not_constant_predictions", "input_independent_baseline", "output_range")

    def bc_logit(seed: int) -> Built:
        from torch import nn
        s = _split("breast_cancer")
        return _torch_built(_torch_mlp(seed, 30, 1), s, nn.BCEWithLogitsLoss(),
                            y=s.y.astype(np.float32).reshape(-1, 1),
                            kwargs={"output_range": {"kind": "logits", "num_classes": 2}})
    add("breast cancer std, one logit, BCEWithLogitsLoss, float (N, 1) targets", "pass", bc_binary, bc_logit)

    def bc_logit_fn(seed: int) -> Built:
        s = _split("breast_cancer")
        return _torch_built(_torch_mlp(seed, 30, 1), s, _bce_logits_fn,
                            kwargs={"output_range": {"kind": "logits", "num_classes": 2}})
    add("breast cancer std, one logit, F.binary_cross_entropy_with_logits on int 0/1 (N,)", "pass",
        bc_binary, bc_logit_fn)

    def bc_sigmoid(seed: int) -> Built:
        from torch import nn
        s = _split("breast_cancer")
        return _torch_built(_torch_mlp(seed, 30, 1, final=nn.Sigmoid()), s, nn.BCELoss(),
                            y=s.y.astype(np.float32).reshape(-1, 1),
                            kwargs={"output_range": {"kind": "sigmoid", "num_classes": 2}})
    add("breast cancer std, sigmoid unit, BCELoss", "pass", bc_binary, bc_sigmoid)

    def bc_two(seed: int) -> Built:
        from torch import nn
        s = _split("breast_cancer")
        return _torch_built(_torch_mlp(seed, 30, 2), s, nn.CrossEntropyLoss(),
                            kwargs={"output_range": {"kind": "logits", "num_classes": 2}})
    add("breast cancer std, two logits, CrossEntropyLoss", "pass", bc_binary, bc_two)

    # --- multi-label
    def ml_int(seed: int) -> Built:
        s = _multilabel_split()
        return _torch_built(_torch_mlp(seed, 16, 5, hidden=64), s, _bce_logits_fn)
    add("multi-label, int multi-hot (make_multilabel_classification), BCE-with-logits function", "pass",
        TRAINING, ml_int, doc="What sklearn.datasets.make_multilabel_classification returns: an int matrix.")

    def ml_float(seed: int) -> Built:
        from torch import nn
        s = _multilabel_split()
        return _torch_built(_torch_mlp(seed, 16, 5, hidden=64), s, nn.BCEWithLogitsLoss(),
                            y=s.y.astype(np.float32))
    add("multi-label, float multi-hot, BCEWithLogitsLoss", "pass", TRAINING, ml_float)

    def ml_sigmoid(seed: int) -> Built:
        from torch import nn
        s = _multilabel_split()
        return _torch_built(_torch_mlp(seed, 16, 5, hidden=64, final=nn.Sigmoid()), s, nn.BCELoss(),
                            y=s.y.astype(np.float32), kwargs={"output_range": {"kind": "sigmoid"}})
    add("multi-label, float multi-hot, sigmoid + BCELoss", "pass", TRAINING + ("output_range",), ml_sigmoid)

    # --- regression
    def diab(seed: int, target: str) -> Built:
        from torch import nn
        x, y = _features("diabetes", "std")
        if target == "std":
            t = ((y - y.mean()) / y.std()).astype(np.float32)
        elif target == "raw":
            t = y.astype(np.float32)
        else:
            t = ((y - y.min()) / (y.max() - y.min())).astype(np.float32)
        s = Split.of(x, t.reshape(-1, 1))
        final = nn.Sigmoid() if target == "unit" else None
        lr = 3e-2 if target == "raw" else 1e-2
        return _torch_built(_torch_mlp(seed, 10, 1, hidden=64, final=final), s, nn.MSELoss(), lr=lr)
    add("diabetes std features, standardised target, MSELoss", "pass", TRAINING + ("inputs_normalized",),
        lambda seed: diab(seed, "std"))
    add("diabetes std features, raw target 25..346, MSELoss", "pass", TRAINING, lambda seed: diab(seed, "raw"))
    add("diabetes std features, target min-max scaled to [0, 1], sigmoid head, MSELoss", "pass", TRAINING,
        lambda seed: diab(seed, "unit"))

    # --- tabular scales
    def wine_decade(seed: int) -> Built:
        from torch import nn
        s = _split("wine", "decade")
        return _torch_built(_torch_mlp(seed, 13, 3), s, nn.CrossEntropyLoss())
    add("wine raw features divided by a power of ten per column (values in [0, 10))", "pass",
        ("overfit_one_batch", "init_loss", "inputs_normalized", "loss_decreases"), wine_decade,
        doc="Un-standardised but unit-scale-ish tabular features that train well.")

    def bc_stdonly(seed: int) -> Built:
        from torch import nn
        s = _split("breast_cancer")
        return _torch_built(_torch_mlp(seed, 30, 2), s, nn.CrossEntropyLoss())
    add("breast cancer standardised features", "pass", ("inputs_normalized", "init_loss"), bc_stdonly)

    def bc_raw(seed: int) -> Built:
        from torch import nn
        s = _split("breast_cancer", "raw")
        return _torch_built(_torch_mlp(seed, 30, 2), s, nn.CrossEntropyLoss())
    add("breast cancer RAW features (up to ~4000)", "fail", ("inputs_normalized",), bc_raw,
        cause="inputs_not_normalized", doc="Genuinely un-normalised: area features reach ~4000.")

    # --- label round trips with one-hot encoders
    for c in _roundtrip_cases_numpy(from_):
        cases.append(c)

    # --- broken twins
    def iris_bce_onehot(seed: int, spelling: str) -> Built:
        from torch import nn
        s = _split("iris")
        loss = nn.BCEWithLogitsLoss() if spelling == "module" else _bce_logits_fn
        return _torch_built(_torch_mlp(seed, 4, 3), s, loss, y=_one_hot(s.y, 3))
    add("BROKEN iris: BCEWithLogitsLoss over single-label one-hot (3 classes)", "fail", ("overfit_one_batch",),
        lambda seed: iris_bce_onehot(seed, "module"), cause="loss_mismatch",
        doc="BCEWithLogitsLoss where CrossEntropyLoss belongs: every target row holds exactly one 1.")
    add("BROKEN iris: F.binary_cross_entropy_with_logits over single-label one-hot", "fail",
        ("overfit_one_batch",), lambda seed: iris_bce_onehot(seed, "function"), cause="loss_mismatch")

    def wine_bce_onehot_sigmoid(seed: int) -> Built:
        from torch import nn
        s = _split("wine")
        return _torch_built(_torch_mlp(seed, 13, 3, final=nn.Sigmoid()), s, nn.BCELoss(), y=_one_hot(s.y, 3))
    add("BROKEN wine: sigmoid + BCELoss over single-label one-hot", "fail", ("overfit_one_batch",),
        wine_bce_onehot_sigmoid, cause="loss_mismatch")

    def iris_ids_binary(seed: int, spelling: str) -> Built:
        from torch import nn
        s = _split("iris")
        y = s.y.astype(np.float32).reshape(-1, 1)
        if spelling == "sigmoid":
            return _torch_built(_torch_mlp(seed, 4, 1, final=nn.Sigmoid()), s, nn.BCELoss(), y=y)
        return _torch_built(_torch_mlp(seed, 4, 1), s, nn.BCEWithLogitsLoss(), y=y)
    add("BROKEN iris: float ids 0.,1.,2. into one sigmoid unit + BCELoss", "fail", ("overfit_one_batch",),
        lambda seed: iris_ids_binary(seed, "sigmoid"), cause="labels_invalid", also=("loss_mismatch",),
        doc="Three classes into a binary loss: a target of 2 makes BCE unbounded below.")
    add("BROKEN iris: float ids 0.,1.,2. into one logit + BCEWithLogitsLoss", "fail", ("overfit_one_batch",),
        lambda seed: iris_ids_binary(seed, "logit"), cause="labels_invalid", also=("loss_mismatch",))

    def diab_relu(seed: int, spelling: str) -> Built:
        import torch.nn.functional as F
        from torch import nn
        x, y = _features("diabetes", "std")
        s = Split.of(x, ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1))
        model = (_torch_mlp(seed, 10, 1, hidden=64, final=nn.ReLU()) if spelling == "layer"
                 else _torch_forward_post(seed, 10, 1, F.relu, hidden=64))
        return _torch_built(model, s, nn.MSELoss())
    add("BROKEN diabetes: standardised (half negative) targets under an nn.ReLU head", "fail",
        ("overfit_one_batch",), lambda seed: diab_relu(seed, "layer"), cause="output_activation")
    add("BROKEN diabetes: standardised targets under F.relu in forward", "fail", ("overfit_one_batch",),
        lambda seed: diab_relu(seed, "op"), cause="output_activation")

    def diab_sigmoid_100(seed: int, spelling: str) -> Built:
        import torch
        from torch import nn
        x, y = _features("diabetes", "std")
        s = Split.of(x, (100.0 * y / y.max()).astype(np.float32).reshape(-1, 1))
        model = (_torch_mlp(seed, 10, 1, hidden=64, final=nn.Sigmoid()) if spelling == "layer"
                 else _torch_forward_post(seed, 10, 1, torch.sigmoid, hidden=64))
        return _torch_built(model, s, nn.MSELoss())
    add("BROKEN diabetes: targets up to 100 under an nn.Sigmoid head", "fail", ("overfit_one_batch",),
        lambda seed: diab_sigmoid_100(seed, "layer"), cause="output_activation")
    add("BROKEN diabetes: targets up to 100 under torch.sigmoid in forward", "fail", ("overfit_one_batch",),
        lambda seed: diab_sigmoid_100(seed, "op"), cause="output_activation")

    def wine_narrow(seed: int, spelling: str) -> Built:
        from torch import nn
        s = _split("wine")
        if spelling == "narrow":
            return _torch_built(_torch_mlp(seed, 13, 2), s, nn.CrossEntropyLoss())
        return _torch_built(_torch_mlp(seed, 13, 3), s, nn.CrossEntropyLoss(), y=s.y + 1)
    add("BROKEN wine: 3 classes into a 2-unit head", "fail", ("overfit_one_batch", "init_loss"),
        lambda seed: wine_narrow(seed, "narrow"), cause="head_width", also=("labels_invalid",))
    add("BROKEN wine: ids 1..3 (one-based, off by one) into a 3-unit head", "fail",
        ("overfit_one_batch", "init_loss"), lambda seed: wine_narrow(seed, "one_based"),
        cause="head_width", also=("labels_invalid",))

    def collapse(seed: int, pos_weight: float | None, spelling: str = "module") -> Built:
        import torch
        from torch import nn
        batches, held_x, _ = _imbalanced_binary()
        pairs = [(_tt(x), _tt(y.astype(np.float32).reshape(-1, 1))) for x, y in batches]
        if pos_weight is not None:
            loss: Any = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([pos_weight]))
        elif spelling == "module":
            loss = nn.BCEWithLogitsLoss()
        else:
            loss = _bce_logits_fn
        model = _torch_mlp(seed, 8, 1)
        return dict(model=model, batch=pairs[0], batches=pairs, inputs=_tt(held_x), loss_fn=loss,
                    optimizer=_adam_t(1e-2), kwargs={"not_constant_predictions": {"train_on": pairs}})
    add("imbalanced 95/5 binary, one logit, BCEWithLogitsLoss(pos_weight=19)", "pass",
        ("not_constant_predictions",), lambda seed: collapse(seed, 19.0),
        doc="The fix for imbalance: weight the positives; predictions on a balanced set spread.")
    add("BROKEN imbalanced 95/5 binary, one logit, BCEWithLogitsLoss without pos_weight", "fail",
        ("not_constant_predictions",), lambda seed: collapse(seed, None), cause="class_collapse",
        also=("labels_imbalanced",), doc="Predicts negative for every sample of a balanced held-out set.")
    add("BROKEN imbalanced 95/5 binary, one logit, BCE-with-logits function without pos_weight", "fail",
        ("not_constant_predictions",), lambda seed: collapse(seed, None, "function"), cause="class_collapse",
        also=("labels_imbalanced",))

    def softmax_before_ce(seed: int, spelling: str) -> Built:
        import torch
        from torch import nn
        s = _split("wine")
        model = (_torch_mlp(seed, 13, 3, final=nn.Softmax(dim=1)) if spelling == "layer"
                 else _torch_forward_post(seed, 13, 3, lambda z: torch.softmax(z, dim=1)))
        return _torch_built(model, s, nn.CrossEntropyLoss())
    add("BROKEN wine: nn.Softmax before CrossEntropyLoss", "fail", ("overfit_one_batch",),
        lambda seed: softmax_before_ce(seed, "layer"), cause="loss_mismatch", also=("output_activation",))
    add("BROKEN wine: torch.softmax in forward before CrossEntropyLoss", "fail", ("overfit_one_batch",),
        lambda seed: softmax_before_ce(seed, "op"), cause="loss_mismatch", also=("output_activation",))

    def mse_ids(seed: int, spelling: str) -> Built:
        s = _split("digits", "digits")
        if spelling == "one_unit":
            return _torch_built(_torch_mlp(seed, 64, 1, hidden=64), s, _mse_vs_ids_one_unit)
        return _torch_built(_torch_mlp(seed, 64, 10, hidden=64), s, _mse_vs_ids_broadcast)
    add("BROKEN digits: one output regressing class ids 0..9 with MSE", "fail", ("overfit_one_batch",),
        lambda seed: mse_ids(seed, "one_unit"), cause="loss_mismatch")
    add("BROKEN digits: 10 logits against the class id broadcast, MSE", "fail", ("overfit_one_batch",),
        lambda seed: mse_ids(seed, "broadcast"), cause="loss_mismatch")
    return cases


# ---------------------------------------------------------------------------------- round trips

def _wine_names(shuffled: bool = True) -> np.ndarray:
    """Wine cultivar names per sample (59 / 71 / 48), shuffled so first-seen order differs from sorted."""
    _, y = _sklearn("wine")
    names = np.array(["barbera", "grignolino", "nebbiolo"])[y]
    if shuffled:
        for seed in range(100):  # the first shuffle whose first-seen order is not alphabetical
            out = names[np.random.default_rng(seed).permutation(len(names))]
            if _first_seen(out) != sorted(_first_seen(out)):
                return out
    return names


def _first_seen(labels: np.ndarray) -> list[str]:
    return list(dict.fromkeys(str(v) for v in labels))


def _roundtrip_cases_numpy(framework: str) -> list[EncodingCase]:
    cases: list[EncodingCase] = []
    RT = ("label_roundtrip",)

    def eye(seed: int, broken: bool) -> Built:
        labels = _wine_names()
        order = _first_seen(labels)
        assert order != sorted(order)
        index = {n: i for i, n in enumerate(order)}

        def encode(label: Any) -> np.ndarray:
            return np.eye(len(order), dtype=np.float32)[index[str(label)]]

        classes = sorted(order) if broken else order

        def decode(vector: Any) -> str:
            return classes[int(np.argmax(np.asarray(vector)))]
        return dict(kwargs={"label_roundtrip": dict(encode=encode, decode=decode, labels=labels)})
    cases.append(EncodingCase("np.eye(C)[code] one-hot encoder, argmax + same list decoder", framework, "pass",
                              RT, lambda seed: eye(seed, False)))
    cases.append(EncodingCase("BROKEN np.eye one-hot in first-seen order, decoder list sorted", framework, "fail",
                              RT, lambda seed: eye(seed, True), cause="label_mapping_mismatch",
                              doc="Codes from first appearance, names decoded with sorted(set(labels))."))

    def ohe(seed: int, broken: bool) -> Built:
        from sklearn.preprocessing import OneHotEncoder
        labels = _wine_names()
        enc = OneHotEncoder(sparse_output=False).fit(labels.reshape(-1, 1))

        def encode(label: Any) -> np.ndarray:
            return enc.transform(np.array([[label]]))[0]

        if broken:
            served = list(reversed(enc.categories_[0].tolist()))

            def decode(vector: Any) -> str:
                return served[int(np.argmax(np.asarray(vector)))]
        else:
            def decode(vector: Any) -> str:
                return str(enc.inverse_transform(np.asarray(vector).reshape(1, -1))[0, 0])
        return dict(kwargs={"label_roundtrip": dict(encode=encode, decode=decode, labels=labels)})
    cases.append(EncodingCase("sklearn OneHotEncoder, inverse_transform decoder", framework, "pass", RT,
                              lambda seed: ohe(seed, False)))
    cases.append(EncodingCase("BROKEN sklearn OneHotEncoder, serving class list in reverse order", framework,
                              "fail", RT, lambda seed: ohe(seed, True), cause="label_mapping_mismatch"))

    if framework == "torch":
        def torch_one_hot(seed: int) -> Built:
            import torch
            import torch.nn.functional as F
            labels = _wine_names()
            names = sorted(set(labels.tolist()))

            def encode(label: Any) -> Any:
                return F.one_hot(torch.tensor(names.index(str(label))), len(names))

            def decode(vector: Any) -> str:
                return names[int(torch.as_tensor(vector).argmax())]
            return dict(kwargs={"label_roundtrip": dict(encode=encode, decode=decode, labels=labels)})
        cases.append(EncodingCase("torch F.one_hot encoder, argmax decoder", framework, "pass", RT, torch_one_hot))
    return cases


def _keras_roundtrip_cases() -> list[EncodingCase]:
    cases: list[EncodingCase] = []
    RT = ("label_roundtrip",)

    def to_cat(seed: int, broken: bool) -> Built:
        import keras
        labels = _wine_names()
        names = _first_seen(labels)
        served = sorted(names) if broken else names

        def encode(label: Any) -> np.ndarray:
            return keras.utils.to_categorical(names.index(str(label)), num_classes=len(names))

        def decode(vector: Any) -> str:
            return served[int(np.argmax(vector))]
        return dict(kwargs={"label_roundtrip": dict(encode=encode, decode=decode, labels=labels)})
    cases.append(EncodingCase("keras.utils.to_categorical encoder, argmax decoder", "keras", "pass", RT,
                              lambda seed: to_cat(seed, False)))
    cases.append(EncodingCase("BROKEN to_categorical over first-seen codes, decoded with a sorted list", "keras",
                              "fail", RT, lambda seed: to_cat(seed, True), cause="label_mapping_mismatch"))

    def lookup(seed: int, mode: str) -> Built:
        import keras
        labels = _wine_names()
        if mode == "vocab":
            layer = keras.layers.StringLookup(vocabulary=sorted(set(labels.tolist())), num_oov_indices=0,
                                              output_mode="one_hot")
        else:
            layer = keras.layers.StringLookup(output_mode="one_hot")
            layer.adapt(labels)
        vocab = layer.get_vocabulary()
        served = vocab
        if mode == "adapt_sorted":
            served = ["[UNK]"] + sorted(set(labels.tolist()))
            assert served != vocab

        def encode(label: Any) -> Any:
            return layer(str(label))

        def decode(vector: Any) -> str:
            return served[int(np.argmax(np.asarray(vector)))]
        kw: dict[str, Any] = dict(encode=encode, decode=decode, labels=labels)
        if mode != "vocab":
            kw["num_classes"] = len(vocab)
        return dict(kwargs={"label_roundtrip": kw})
    cases.append(EncodingCase("StringLookup(vocabulary=, num_oov_indices=0, output_mode='one_hot'), argmax -> "
                              "get_vocabulary()", "keras", "pass", RT, lambda seed: lookup(seed, "vocab")))
    cases.append(EncodingCase("StringLookup adapted (frequency order, [UNK] at 0), one_hot, argmax -> "
                              "get_vocabulary(), num_classes=C+1", "keras", "pass", RT,
                              lambda seed: lookup(seed, "adapt"),
                              doc="adapt() orders the vocabulary by frequency and reserves index 0 for OOV."))
    cases.append(EncodingCase("BROKEN StringLookup adapted (frequency order), decoded with a sorted name list",
                              "keras", "fail", RT, lambda seed: lookup(seed, "adapt_sorted"),
                              cause="label_mapping_mismatch"))
    return cases


# ------------------------------------------------------------------------------------ keras cases

def _keras_cases() -> list[EncodingCase]:
    cases: list[EncodingCase] = []

    def add(name: str, expect: str, checks: tuple[str, ...], build: Callable[[int], Built],
            cause: str | None = None, also: tuple[str, ...] = (), doc: str = "") -> None:
        cases.append(EncodingCase(name, "keras", expect, checks, build, cause, also, doc))

    def sce() -> Any:
        import keras
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # --- class ids
    def iris_ids(seed: int) -> Built:
        s = _split("iris")
        return _keras_built(_keras_mlp(seed, 4, 3), s, sce(),
                            kwargs={"output_range": {"kind": "logits", "num_classes": 3}})
    add("iris std, class ids (N,), SparseCategoricalCrossentropy(from_logits=True)", "pass",
        CLASSIFIER + ("output_range", "inputs_normalized"), iris_ids)

    def column_ids(seed: int, compiled: bool) -> Built:
        s = _split("wine")
        y = s.y.reshape(-1, 1).astype(np.uint8)
        if compiled:
            return _keras_built(_keras_mlp(seed, 13, 3, activation="softmax"), s, None, y=y,
                                compile_loss="sparse_categorical_crossentropy")
        return _keras_built(_keras_mlp(seed, 13, 3), s, sce(), y=y)
    add("wine std, class ids (N, 1) uint8, softmax head compiled with 'sparse_categorical_crossentropy'",
        "pass", CLASSIFIER, lambda seed: column_ids(seed, True),
        doc="(N, 1) uint8 ids: what keras.datasets.cifar10.load_data returns.")
    add("wine std, class ids (N, 1), SparseCategoricalCrossentropy(from_logits=True)", "pass", TRAINING,
        lambda seed: column_ids(seed, False))

    def float_ids(seed: int) -> Built:
        s = _split("iris")
        return _keras_built(_keras_mlp(seed, 4, 3), s, sce(), y=s.y.astype(np.float32))
    add("iris std, float32 ids 0.,1.,2. (ImageDataGenerator class_mode='sparse')", "pass", TRAINING, float_ids,
        doc="flow_from_directory(class_mode='sparse') yields float32 class ids.")

    def one_hot(seed: int, compiled: bool) -> Built:
        import keras
        s = _split("wine")
        y = keras.utils.to_categorical(s.y, 3)
        if compiled:
            return _keras_built(_keras_mlp(seed, 13, 3, activation="softmax"), s, None, y=y,
                                compile_loss="categorical_crossentropy")
        return _keras_built(_keras_mlp(seed, 13, 3), s, keras.losses.CategoricalCrossentropy(from_logits=True), y=y)
    add("wine std, to_categorical one-hot, softmax head + 'categorical_crossentropy'", "pass", CLASSIFIER,
        lambda seed: one_hot(seed, True))
    add("wine std, to_categorical one-hot, CategoricalCrossentropy(from_logits=True)", "pass", TRAINING,
        lambda seed: one_hot(seed, False))

    def smoothing(seed: int, compiled: bool) -> Built:
        import keras
        s = _split("digits", "digits")
        y = keras.utils.to_categorical(s.y, 10)
        if compiled:
            return _keras_built(_keras_mlp(seed, 64, 10, hidden=64, activation="softmax"), s, None, y=y,
                                compile_loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
        return _keras_built(_keras_mlp(seed, 64, 10, hidden=64), s,
                            keras.losses.CategoricalCrossentropy(label_smoothing=0.1, from_logits=True), y=y)
    add("digits /16, 10 classes, CategoricalCrossentropy(label_smoothing=0.1, from_logits=True)", "pass",
        TRAINING, lambda seed: smoothing(seed, False))
    add("digits /16, softmax head compiled with CategoricalCrossentropy(label_smoothing=0.1)", "pass",
        ("overfit_one_batch", "init_loss"), lambda seed: smoothing(seed, True))

    def weighted(seed: int) -> Built:
        s = _split("wine")
        return _keras_built(_keras_mlp(seed, 13, 3), s, _keras_weighted_sce(np.array([1.0, 0.5, 2.0])))
    add("wine std, class-weighted sparse CE as a plain function", "pass", TRAINING, weighted)

    def focal(seed: int) -> Built:
        s = _split("iris")
        return _keras_built(_keras_mlp(seed, 4, 3), s, _keras_focal)
    add("iris std, focal loss (gamma 2) as a plain function", "pass", TRAINING, focal)

    def focal_builtin(seed: int) -> Built:
        import keras
        s = _split("wine")
        return _keras_built(_keras_mlp(seed, 13, 3), s,
                            keras.losses.CategoricalFocalCrossentropy(from_logits=True),
                            y=keras.utils.to_categorical(s.y, 3))
    add("wine std, keras.losses.CategoricalFocalCrossentropy(from_logits=True) on one-hot", "pass", TRAINING,
        focal_builtin)

    # --- binary
    bc_binary = TRAINING + ("not_constant_predictions", "input_independent_baseline", "output_range")

    def binary(seed: int, spelling: str) -> Built:
        import keras
        s = _split("breast_cancer")
        if spelling == "logit":
            return _keras_built(_keras_mlp(seed, 30, 1), s, keras.losses.BinaryCrossentropy(from_logits=True),
                                kwargs={"output_range": {"kind": "logits", "num_classes": 2}})
        if spelling == "sigmoid":
            return _keras_built(_keras_mlp(seed, 30, 1, activation="sigmoid"), s, None,
                                y=s.y.astype(np.float32).reshape(-1, 1), compile_loss="binary_crossentropy",
                                kwargs={"output_range": {"kind": "sigmoid", "num_classes": 2}})
        return _keras_built(_keras_mlp(seed, 30, 2), s, sce(),
                            kwargs={"output_range": {"kind": "logits", "num_classes": 2}})
    add("breast cancer std, Dense(1) + BinaryCrossentropy(from_logits=True), int 0/1 (N,)", "pass",
        bc_binary, lambda seed: binary(seed, "logit"))
    add("breast cancer std, Dense(1, sigmoid) compiled 'binary_crossentropy', float (N, 1)", "pass",
        bc_binary, lambda seed: binary(seed, "sigmoid"))
    add("breast cancer std, Dense(2) + SparseCategoricalCrossentropy(from_logits=True)", "pass",
        bc_binary, lambda seed: binary(seed, "two"))

    # --- multi-label
    def multilabel(seed: int, spelling: str) -> Built:
        import keras
        s = _multilabel_split()
        if spelling == "int":
            return _keras_built(_keras_mlp(seed, 16, 5, hidden=64), s,
                                keras.losses.BinaryCrossentropy(from_logits=True))
        return _keras_built(_keras_mlp(seed, 16, 5, hidden=64, activation="sigmoid"), s, None,
                            y=s.y.astype(np.float32), compile_loss="binary_crossentropy",
                            kwargs={"output_range": {"kind": "sigmoid"}})
    add("multi-label, int multi-hot (make_multilabel_classification), BinaryCrossentropy(from_logits=True)",
        "pass", TRAINING, lambda seed: multilabel(seed, "int"))
    add("multi-label, float multi-hot, Dense(5, sigmoid) compiled 'binary_crossentropy'", "pass",
        TRAINING + ("output_range",), lambda seed: multilabel(seed, "float"))

    # --- regression
    def diab(seed: int, target: str) -> Built:
        x, y = _features("diabetes", "std")
        if target == "std":
            t = ((y - y.mean()) / y.std()).astype(np.float32)
        elif target == "raw":
            t = y.astype(np.float32)
        else:
            t = ((y - y.min()) / (y.max() - y.min())).astype(np.float32)
        s = Split.of(x, t.reshape(-1, 1))
        act = "sigmoid" if target == "unit" else None
        lr = 3e-2 if target == "raw" else 1e-2
        return _keras_built(_keras_mlp(seed, 10, 1, hidden=64, activation=act), s, None, lr=lr, compile_loss="mse")
    add("diabetes std features, standardised target, compiled 'mse'", "pass", TRAINING + ("inputs_normalized",),
        lambda seed: diab(seed, "std"))
    add("diabetes std features, raw target 25..346, compiled 'mse'", "pass", TRAINING,
        lambda seed: diab(seed, "raw"))
    add("diabetes std features, target in [0, 1], Dense(1, sigmoid), compiled 'mse'", "pass", TRAINING,
        lambda seed: diab(seed, "unit"))

    # --- tabular scales and init
    def wine_decade(seed: int) -> Built:
        s = _split("wine", "decade")
        return _keras_built(_keras_mlp(seed, 13, 3), s, sce())
    add("wine raw features divided by a power of ten per column (values in [0, 10))", "pass",
        ("overfit_one_batch", "init_loss", "inputs_normalized", "loss_decreases"), wine_decade)

    def bc(seed: int, scale: str) -> Built:
        s = _split("breast_cancer", scale)
        return _keras_built(_keras_mlp(seed, 30, 2), s, sce())
    add("breast cancer standardised features", "pass", ("inputs_normalized", "init_loss"),
        lambda seed: bc(seed, "std"))
    add("breast cancer RAW features (up to ~4000)", "fail", ("inputs_normalized",), lambda seed: bc(seed, "raw"),
        cause="inputs_not_normalized")

    def glorot_head(seed: int) -> Built:
        import keras
        s = _split("iris")
        init = keras.initializers.GlorotUniform
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu", kernel_initializer=init(seed=100 + seed)),
            keras.layers.Dense(3, kernel_initializer=init(seed=200 + seed)),
        ])
        return _keras_built(model, s, sce())
    add("iris std, Glorot-initialised 3-unit head (run with --seeds 10)", "pass", ("init_loss",), glorot_head,
        doc="Keras's default Glorot init puts a small head's logits further from 0 than torch's.")

    cases.extend(_keras_roundtrip_cases())

    # --- broken twins
    def bce_onehot(seed: int, spelling: str) -> Built:
        import keras
        s = _split("iris")
        y = keras.utils.to_categorical(s.y, 3)
        if spelling == "compiled":
            return _keras_built(_keras_mlp(seed, 4, 3, activation="sigmoid"), s, None, y=y,
                                compile_loss="binary_crossentropy")
        return _keras_built(_keras_mlp(seed, 4, 3), s, keras.losses.BinaryCrossentropy(from_logits=True), y=y)
    add("BROKEN iris: BinaryCrossentropy(from_logits=True) over to_categorical one-hot", "fail",
        ("overfit_one_batch",), lambda seed: bce_onehot(seed, "loss"), cause="loss_mismatch")
    add("BROKEN iris: Dense(3, sigmoid) compiled 'binary_crossentropy' over one-hot", "fail",
        ("overfit_one_batch",), lambda seed: bce_onehot(seed, "compiled"), cause="loss_mismatch",
        doc="The classic Keras mistake: binary_crossentropy for a single-label multi-class problem.")

    def ids_binary(seed: int, spelling: str) -> Built:
        import keras
        s = _split("iris")
        y = s.y.astype(np.float32)
        if spelling == "compiled":
            return _keras_built(_keras_mlp(seed, 4, 1, activation="sigmoid"), s, None, y=y,
                                compile_loss="binary_crossentropy")
        return _keras_built(_keras_mlp(seed, 4, 1), s, keras.losses.BinaryCrossentropy(from_logits=True), y=y)
    add("BROKEN iris: float ids 0.,1.,2. into Dense(1, sigmoid) + 'binary_crossentropy' "
        "(class_mode='binary' over three folders)", "fail", ("overfit_one_batch",),
        lambda seed: ids_binary(seed, "compiled"), cause="labels_invalid", also=("loss_mismatch",))
    add("BROKEN iris: float ids 0.,1.,2. into Dense(1) + BinaryCrossentropy(from_logits=True)", "fail",
        ("overfit_one_batch",), lambda seed: ids_binary(seed, "logit"), cause="labels_invalid",
        also=("loss_mismatch",))

    def diab_bad_head(seed: int, act: str) -> Built:
        x, y = _features("diabetes", "std")
        t = ((y - y.mean()) / y.std()) if act == "relu" else 100.0 * y / y.max()
        s = Split.of(x, t.astype(np.float32).reshape(-1, 1))
        return _keras_built(_keras_mlp(seed, 10, 1, hidden=64, activation=act), s, None, compile_loss="mse")
    add("BROKEN diabetes: standardised (half negative) targets under Dense(1, activation='relu')", "fail",
        ("overfit_one_batch",), lambda seed: diab_bad_head(seed, "relu"), cause="output_activation")
    add("BROKEN diabetes: targets up to 100 under Dense(1, activation='sigmoid')", "fail",
        ("overfit_one_batch",), lambda seed: diab_bad_head(seed, "sigmoid"), cause="output_activation")

    def narrow(seed: int, spelling: str) -> Built:
        s = _split("wine")
        if spelling == "narrow":
            return _keras_built(_keras_mlp(seed, 13, 2), s, sce())
        return _keras_built(_keras_mlp(seed, 13, 3), s, sce(), y=s.y + 1)
    add("BROKEN wine: 3 classes into a Dense(2) head", "fail", ("overfit_one_batch", "init_loss"),
        lambda seed: narrow(seed, "narrow"), cause="head_width", also=("labels_invalid",))
    add("BROKEN wine: ids 1..3 (one-based) into a Dense(3) head", "fail", ("overfit_one_batch", "init_loss"),
        lambda seed: narrow(seed, "one_based"), cause="head_width", also=("labels_invalid",))

    def collapse(seed: int, mode: str) -> Built:
        import keras
        batches, held_x, _ = _imbalanced_binary()
        if mode == "weighted":
            model, loss = _keras_mlp(seed, 8, 1), _keras_pos_weight_bce(19.0)
        elif mode == "logit":
            model, loss = _keras_mlp(seed, 8, 1), keras.losses.BinaryCrossentropy(from_logits=True)
        else:
            model, loss = _keras_mlp(seed, 8, 1, activation="sigmoid"), keras.losses.BinaryCrossentropy()
        return dict(model=model, batch=batches[0], batches=batches, inputs=held_x, loss_fn=loss,
                    optimizer=_adam_k(1e-2), kwargs={"not_constant_predictions": {"train_on": batches}})
    add("imbalanced 95/5 binary, Dense(1), pos-weighted (19) BCE function", "pass",
        ("not_constant_predictions",), lambda seed: collapse(seed, "weighted"))
    add("BROKEN imbalanced 95/5 binary, Dense(1) + BinaryCrossentropy(from_logits=True), no weighting",
        "fail", ("not_constant_predictions",), lambda seed: collapse(seed, "logit"), cause="class_collapse",
        also=("labels_imbalanced",))
    add("BROKEN imbalanced 95/5 binary, Dense(1, sigmoid) + BinaryCrossentropy(), no weighting",
        "fail", ("not_constant_predictions",), lambda seed: collapse(seed, "sigmoid"), cause="class_collapse",
        also=("labels_imbalanced",))

    def hidden_softmax(seed: int) -> Built:
        s = _split("wine")
        return _keras_built(_keras_mlp(seed, 13, 3, final=_keras_manual_softmax()), s, sce())
    add("BROKEN wine: softmax spelled exp/sum in a Lambda before from_logits=True", "fail",
        ("overfit_one_batch",), hidden_softmax, cause="loss_mismatch", also=("output_activation",),
        doc="Keras undoes only a softmax it can see; a hand-written one stays before the logits loss.")

    def mse_ids(seed: int, spelling: str) -> Built:
        s = _split("digits", "digits")
        if spelling == "compiled":
            return _keras_built(_keras_mlp(seed, 64, 10, hidden=64), s, None, compile_loss="mse",
                                y=s.y.reshape(-1, 1))
        return _keras_built(_keras_mlp(seed, 64, 1, hidden=64), s, _keras_mse_ids)
    add("BROKEN digits: Dense(10) compiled 'mse' on (N, 1) int class ids (broadcast)", "fail", ("overfit_one_batch",),
        lambda seed: mse_ids(seed, "compiled"), cause="loss_mismatch",
        doc="(N, 1) ids as keras.datasets.*.load_data returns them broadcast against 10 outputs; Keras trains it.")
    add("BROKEN digits: Dense(1) regressing class ids 0..9 with an MSE function", "fail", ("overfit_one_batch",),
        lambda seed: mse_ids(seed, "one_unit"), cause="loss_mismatch")
    return cases


def all_cases(framework: str = "all") -> list[EncodingCase]:
    """Every case, torch first; ``framework`` filters ("torch", "keras" or "all")."""
    out: list[EncodingCase] = []
    if framework in ("torch", "all"):
        out += _torch_cases()
    if framework in ("keras", "all"):
        out += _keras_cases()
    return out


CASES: list[EncodingCase] = all_cases()
