"""The diagnosis corpus: every bug kind of DESIGN's table and more, in several spellings, each in
the check that should catch it and beside its correct twin, plus correct look-alikes; in both
frameworks. Shared by tests/test_diagnosis_corpus.py and benchmarks/diagnosis_table.py."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import recipe_corpus as rc
import torch_corpus as tc

CE = nn.CrossEntropyLoss


@dataclasses.dataclass(frozen=True)
class Diag:
    """One case: ``run(mlcheck)`` performs a check; broken cases must fail with ``cause`` first."""

    framework: str
    kind: str  # the bug kind (a cause id) this case is about; the twin carries its broken kind
    name: str
    run: Callable[[Any], Any]
    broken: bool
    cause: str | None = None
    xfail: str | None = None  # why causes[0] is still wrong (listed in the table)
    missed_seeds: tuple[int, ...] = ()  # seeds of the 20-seed sweep on which the verdict is wrong
    missed_why: str = ""

    @property
    def id(self) -> str:
        return f"{self.framework}: {self.name}"


def _adam(lr: float = 1e-3) -> Callable:
    return lambda params: torch.optim.Adam(params, lr=lr)


def _sgd(lr: float, momentum: float = 0.0) -> Callable:
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


def _fit(model_fn: Callable[[], nn.Module], loss: Any = None, optimizer: Any = None, batch: Any = None,
         **kw: Any) -> Callable[[Any], Any]:
    """overfit_one_batch on 32 digits."""
    return lambda m: m.overfit_one_batch(model_fn(), tc.digits_batch(32) if batch is None else batch(),
                                         loss_fn=loss or CE(), optimizer=optimizer or _adam(), **kw)


def _flow(model_fn: Callable[[], nn.Module], optimizer: Any = None, batch: Any = None, **kw: Any) -> Callable:
    return lambda m: m.gradients_flow(model_fn(), tc.digits_batch(64) if batch is None else batch(), loss_fn=CE(),
                                      optimizer=optimizer or _adam(), **kw)


class DropoutNet(nn.Module):
    """``p`` of the hidden units dropped: 0.99 was meant as the keep probability."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(p), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DetachedOutput(nn.Module):
    """``.detach()`` on the logits: nothing reaches the parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tc.digits_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).detach()


class LogSoftmaxNet(nn.Module):
    """A correct look-alike: log_softmax before CrossEntropyLoss changes nothing (shift-invariant)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tc.digits_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.net(x), dim=1)


def normalised_ce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras's categorical cross-entropy on probabilities written out: each row divided by its sum,
    clipped, the log of the true class's share."""
    p = p / p.sum(dim=1, keepdim=True).clamp_min(1e-7)
    return -torch.log(p.clamp(1e-7, 1 - 1e-7))[torch.arange(len(y)), y].mean()


def written_out_ce(clip: bool) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross-entropy written out over every class, -sum(onehot * log p), the tutorial spelling:
    0 · log 0 = NaN once a wrong class's probability reaches 0 (``clip``: clamped first)."""
    def loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = p.clamp(1e-7, 1.0) if clip else p
        return -(F.one_hot(y, p.shape[1]) * torch.log(p)).sum(dim=1).mean()
    return loss


def mask_arrays(raw: bool, *, channels_last: bool = False, n: int = 4, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Images with a bright disc and its mask: class ids 0/1 per pixel, or (``raw``) the 0/255
    greyscale values the mask was saved as (Pytorch-UNet #291)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    x = rng.uniform(0, 0.5, (n, size, size, 3)).astype(np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        cy, cx, r = rng.integers(5, size - 5), rng.integers(5, size - 5), rng.integers(2, 5)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        x[i][disc] += 0.5
        masks[i][disc] = 255 if raw else 1
    return (x if channels_last else np.ascontiguousarray(x.transpose(0, 3, 1, 2))), masks


def _segment(raw: bool, check: str) -> Callable[[Any], Any]:
    """A 2-class per-pixel head (N, 2, H, W) with CrossEntropyLoss on masks (N, H, W)."""
    def run(m: Any) -> Any:
        x, masks = mask_arrays(raw)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 1))
        batch = (torch.from_numpy(x), torch.from_numpy(masks))
        if check == "init_loss":
            return m.init_loss(model, batch, loss_fn=CE())
        return m.overfit_one_batch(model, batch, loss_fn=CE(), optimizer=_adam(1e-2))
    return run


class ListNet(nn.Module):
    """Two hidden layers kept in a plain Python list (pytorch/pytorch #715): the module does not
    register them, so model.parameters() and the optimizer never see their weights."""

    def __init__(self, registered: bool) -> None:
        super().__init__()
        hidden = [nn.Sequential(nn.Linear(64, 64), nn.ReLU()), nn.Sequential(nn.Linear(64, 64), nn.ReLU())]
        self.hidden = nn.ModuleList(hidden) if registered else hidden
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = layer(x)
        return self.head(x)


def _uint8_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = tc.digits_batch(32, scale="uint8")
    return x.to(torch.uint8), y


def _with_nan(value: float) -> Callable[[], tuple]:
    def build() -> tuple:
        x, y = tc.digits_batch(32)
        x = x.clone()
        x[5, 0, 3, 3] = value
        return x, y
    return build


def _short_y() -> tuple:
    x, y = tc.digits_batch(32)
    return x, y[:31]


def _labels(shift: int) -> Callable[[], tuple]:
    def build() -> tuple:
        x, y = tc.digits_batch(32)
        return x, y + shift
    return build


NAMES = ["cat", "dog", "bird", "fish"]
TRAIN_CODES = {n: i for i, n in enumerate(NAMES)}


def _loader_split(a: slice, b: slice) -> tuple:
    x, y = tc.digits_batch(400)
    return (x[a], y[a]), (x[b], y[b])


def regression_arrays(target: str, n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's diabetes: standardised features; targets "raw" (25..346), "std" (standardised) or
    "dollars" (raw × 1000, the scale of prices or salaries)."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    y = {"raw": y, "std": (y - y.mean()) / y.std(), "dollars": 1000.0 * y}[target]
    return x[:n], y[:n].astype(np.float32)[:, None]


def line_arrays(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """y = 2x on raw x in 0..199 (keras #3040): MSE overflows float32 once SGD diverges."""
    x = np.random.default_rng(0).permutation(200)[:n].astype(np.float32)[:, None]
    return x, 2.0 * x


def _line(lr: float) -> Callable[[Any], Any]:
    def run(m: Any) -> Any:
        x, y = line_arrays()
        return m.overfit_one_batch(nn.Linear(1, 1), (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=nn.MSELoss(),
                                   optimizer=_sgd(lr))
    return run


def _regression(target: str, optimizer: Any) -> Callable[[Any], Any]:
    """overfit_one_batch of a 10-64-1 MLP on 32 diabetes samples with MSELoss."""
    def run(m: Any) -> Any:
        x, y = regression_arrays(target)
        model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1))
        return m.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=nn.MSELoss(),
                                   optimizer=optimizer)
    return run


def torch_cases() -> list[Diag]:
    T = "torch"
    raw = lambda: tc.digits_batch(64, scale="raw")  # noqa: E731
    px = lambda: tc.digits_batch(64, scale="uint8")  # noqa: E731
    cases = [
        # inputs_not_normalized
        Diag(T, "inputs_not_normalized", "0-255 pixels as float, init loss",
             lambda m: m.init_loss(tc.DigitsCNN(), px(), loss_fn=CE()), True, "inputs_not_normalized"),
        Diag(T, "inputs_not_normalized", "raw 0-16 digits, what reaches the first layer",
             lambda m: m.inputs_normalized(raw(), model=tc.digits_mlp()), True, "inputs_not_normalized"),
        Diag(T, "inputs_not_normalized", "uint8 images, no model", lambda m: m.inputs_normalized(_uint8_batch()),
             True, "inputs_not_normalized"),
        Diag(T, "inputs_not_normalized", "twin: digits scaled to [0, 1]",
             lambda m: m.inputs_normalized(tc.digits_batch(64), model=tc.digits_mlp()), False),
        Diag(T, "inputs_not_normalized", "look-alike: 0-255 pixels divided by 255 in forward",
             lambda m: m.inputs_normalized(px(), model=rc.ScalesInside()), False),
        Diag(T, "inputs_not_normalized", "look-alike: integer tokens into an embedding",
             lambda m: m.inputs_normalized(tc.digit_tokens(64), model=tc.EmbeddingBagNet()), False),
        # input_dtype
        Diag(T, "input_dtype", "uint8 tensor into a float CNN", _fit(tc.DigitsCNN, batch=_uint8_batch), True,
             "input_dtype"),
        Diag(T, "input_dtype", "eval pipeline returns uint8",
             lambda m: m.preprocessing_parity(tc.to_chw, lambda im: torch.from_numpy(im).permute(2, 0, 1),
                                              tc.raw_images()), True, "input_dtype"),
        Diag(T, "input_dtype", "twin: float pixels into the CNN", _fit(tc.DigitsCNN), False),
        # loss_mismatch
        Diag(T, "loss_mismatch", "softmax in forward before CrossEntropyLoss",
             _fit(lambda: tc.DigitsCNN(softmax=True)), True, "loss_mismatch"),
        Diag(T, "loss_mismatch", "nn.Softmax layer before F.cross_entropy",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=F.cross_entropy), True, "loss_mismatch"),
        Diag(T, "loss_mismatch", "MSE between logits and class ids", _fit(tc.DigitsCNN, loss=tc.mse_on_class_ids),
             True, "loss_mismatch"),
        Diag(T, "loss_mismatch", "twin: logits into CrossEntropyLoss", _fit(tc.DigitsCNN), False),
        Diag(T, "loss_mismatch", "look-alike: log_softmax before CrossEntropyLoss", _fit(LogSoftmaxNet), False),
        # loss_not_finite
        Diag(T, "loss_not_finite", "softmax into -sum(onehot * log p), unclipped",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=written_out_ce(False)), True, "loss_not_finite"),
        Diag(T, "loss_not_finite", "twin: the same loss on clamped probabilities",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=written_out_ce(True)), False),
        Diag(T, "loss_not_finite", "look-alike: softmax into BCELoss on one-hot (torch clamps its log)",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=lambda p, y: F.binary_cross_entropy(
                 p, F.one_hot(y, 10).float())), False),
        # output_activation
        Diag(T, "output_activation", "nn.ReLU layer on the logits",
             _fit(lambda: tc.digits_mlp(final=nn.ReLU())), True, "output_activation"),
        Diag(T, "output_activation", "F.relu on the logits in forward", _fit(lambda: tc.DigitsCNN(relu_head=True)),
             True, "output_activation"),
        Diag(T, "output_activation", "nn.ReLU head into a loss on row-normalised probabilities",
             _fit(lambda: tc.digits_mlp(final=nn.ReLU()), loss=normalised_ce), True, "output_activation"),
        Diag(T, "output_activation", "twin: softmax head into a loss on row-normalised probabilities",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=normalised_ce, optimizer=_adam(1e-2)), False),
        Diag(T, "output_activation", "ReLU before log_softmax into NLLLoss (pytorch/examples mnist before #117)",
             _fit(lambda: tc.digits_mlp(final=nn.Sequential(nn.ReLU(), nn.LogSoftmax(dim=1))), loss=nn.NLLLoss()),
             True, "output_activation"),
        Diag(T, "output_activation", "twin: log_softmax into NLLLoss",
             _fit(lambda: tc.digits_mlp(final=nn.LogSoftmax(dim=1)), loss=nn.NLLLoss()), False),
        Diag(T, "output_activation", "softmax over one unit, checked as sigmoid",
             lambda m: m.output_range(tc.digits_mlp(1, final=nn.Softmax(dim=1)), tc.held_out(64), kind="sigmoid"),
             True, "output_activation"),
        Diag(T, "output_activation", "softmax applied twice before NLL of the log",
             _fit(lambda: tc.digits_mlp(final=nn.Sequential(nn.Softmax(dim=1), nn.Softmax(dim=1))),
                  loss=lambda p, y: F.nll_loss(torch.log(p), y)), True, "output_activation"),
        Diag(T, "output_activation", "twin: one softmax before NLL of the log",
             _fit(lambda: tc.digits_mlp(final=nn.Softmax(dim=1)), loss=lambda p, y: F.nll_loss(torch.log(p), y)),
             False),
        Diag(T, "output_activation", "twin: plain logits, checked as logits",
             lambda m: m.output_range(tc.DigitsCNN(), tc.held_out(64), kind="logits"), False),
        # head_width
        Diag(T, "head_width", "a head of 5 for 10 classes, training", _fit(lambda: tc.DigitsCNN(5)), True,
             "head_width"),
        Diag(T, "head_width", "a head of 5 for num_classes=10, init loss",
             lambda m: m.init_loss(tc.digits_mlp(5), tc.digits_batch(64), loss_fn=CE(), num_classes=10), True,
             "head_width"),
        Diag(T, "head_width", "twin: a head of 10", lambda m: m.init_loss(tc.digits_mlp(10), tc.digits_batch(64),
                                                                          loss_fn=CE(), num_classes=10), False),
        # lr_too_high / lr_too_low
        Diag(T, "lr_too_high", "Adam at lr 10", _fit(tc.DigitsCNN, optimizer=_adam(10.0)), True, "lr_too_high"),
        Diag(T, "lr_too_high", "SGD at lr 10", _fit(tc.digits_mlp, optimizer=_sgd(10.0)), True, "lr_too_high"),
        Diag(T, "lr_too_high", "SGD at lr 10, loss over batches",
             lambda m: m.loss_decreases(tc.digits_mlp(), tc.digits_batches(10), loss_fn=CE(), optimizer=_sgd(10.0)),
             True, "lr_too_high"),
        Diag(T, "lr_too_high", "SGD at lr 1e-3 on y = 2x over raw x (MSE overflows to inf)", _line(1e-3), True,
             "lr_too_high"),
        Diag(T, "lr_too_high", "twin: SGD at lr 1e-5 on y = 2x over raw x", _line(1e-5), False),
        Diag(T, "lr_too_high", "twin: SGD at lr 0.1 with momentum", _fit(tc.digits_mlp, optimizer=_sgd(0.1, 0.9)),
             False),
        Diag(T, "lr_too_low", "Adam at lr 1e-7", _fit(tc.DigitsCNN, optimizer=_adam(1e-7)), True, "lr_too_low"),
        Diag(T, "lr_too_low", "SGD at lr 1e-5, loss over batches",
             lambda m: m.loss_decreases(tc.digits_mlp(), tc.digits_batches(10), loss_fn=CE(), optimizer=_sgd(1e-5)),
             True, "lr_too_low"),
        Diag(T, "lr_too_low", "twin: Adam at lr 1e-3, loss over batches",
             lambda m: m.loss_decreases(tc.DigitsCNN(), tc.digits_batches(10), loss_fn=CE(), optimizer=_adam()),
             False),
        Diag(T, "lr_too_low", "standardised regression targets at SGD lr 1e-6 (not their scale)",
             _regression("std", _sgd(1e-6)), True, "lr_too_low"),
        # targets_not_normalized
        Diag(T, "targets_not_normalized", "regression targets in dollars (diabetes × 1000)",
             _regression("dollars", _adam()), True, "targets_not_normalized"),
        Diag(T, "targets_not_normalized", "twin: standardised regression targets", _regression("std", _adam(1e-2)),
             False),
        Diag(T, "targets_not_normalized", "look-alike: raw diabetes targets 25..346 that Adam fits",
             _regression("raw", _adam(3e-2)), False),
        # params_not_updated
        Diag(T, "params_not_updated", "the head left out of the optimizer",
             lambda m: m.overfit_one_batch(batch=tc.digits_batch(32), **tc._cnn_head_left_out()), True,
             "params_not_updated"),
        Diag(T, "params_not_updated", "learning rate 0, one step", _flow(tc.digits_mlp, optimizer=_adam(0.0)), True,
             "params_not_updated"),
        Diag(T, "params_not_updated", "every parameter frozen",
             _flow(lambda: tc.digits_mlp().requires_grad_(False)), True, "params_not_updated"),
        Diag(T, "params_not_updated", "hidden layers in a plain Python list", _fit(lambda: ListNet(False)), True,
             "params_not_updated"),
        Diag(T, "params_not_updated", "twin: the hidden layers in nn.ModuleList", _fit(lambda: ListNet(True)), False),
        Diag(T, "params_not_updated", "look-alike: backbone frozen on purpose, head trained",
             lambda m: m.overfit_one_batch(batch=tc.digits_batch(32), **tc._cnn_frozen_backbone()), False),
        Diag(T, "params_not_updated", "look-alike: frozen backbone, one step", _flow(tc.FrozenBackboneNet), False),
        # missing_zero_grad
        Diag(T, "missing_zero_grad", "own step without zero_grad (SGD momentum)",
             _fit(tc.DigitsCNN, optimizer=_sgd(0.05, 0.9), train_step=tc.step_without_zero_grad), True,
             "missing_zero_grad"),
        Diag(T, "missing_zero_grad", "own step without zero_grad, loss over batches",
             lambda m: m.loss_decreases(tc.DigitsCNN(), tc.digits_batches(10), loss_fn=CE(),
                                        optimizer=_sgd(0.05, 0.9), train_step=tc.step_without_zero_grad), True,
             "missing_zero_grad"),
        Diag(T, "missing_zero_grad", "twin: own step with zero_grad",
             _fit(tc.DigitsCNN, optimizer=_sgd(0.05, 0.9), train_step=tc.good_step), False),
        Diag(T, "missing_zero_grad", "look-alike: gradients accumulated over 2 calls, then step and zero_grad",
             _fit(tc.DigitsCNN, train_step=tc.accumulating_step(2)), False),
        Diag(T, "missing_zero_grad", "own step without zero_grad that still fits (Adam)",
             _fit(tc.digits_mlp, train_step=tc.step_without_zero_grad), True, "missing_zero_grad"),
        # no_gradient
        Diag(T, "no_gradient", "features sent through numpy", _flow(rc.NumpyRoundTrip), True, "no_gradient"),
        Diag(T, "no_gradient", ".detach() on the logits", _fit(DetachedOutput), True, "no_gradient"),
        Diag(T, "no_gradient", "a layer built but never called", _flow(rc.UnusedLayer), True, "no_gradient"),
        Diag(T, "no_gradient", "twin: every layer on the path", _flow(tc.digits_mlp), False),
        # dead / vanishing / exploding
        Diag(T, "dead_units", "hidden bias -100 kills every ReLU", _flow(tc.DeadReLUNet), True, "dead_units"),
        Diag(T, "dead_units", "dead ReLUs, predictions on held-out digits",
             lambda m: m.not_constant_predictions(tc.DeadReLUNet(), tc.held_out()), True, "dead_units"),
        Diag(T, "dead_units", "twin: hidden bias 0", _flow(lambda: _zero_bias(tc.DeadReLUNet())), False),
        Diag(T, "vanishing_gradients", "12 sigmoid layers", _flow(lambda: rc.deep_mlp(nn.Sigmoid)), True,
             "vanishing_gradients"),
        Diag(T, "vanishing_gradients", "20 ReLU layers at torch's default init",
             _flow(lambda: rc.deep_mlp(nn.ReLU, 20)), True, "vanishing_gradients"),
        Diag(T, "vanishing_gradients", "look-alike: 12 tanh layers", _flow(lambda: rc.deep_mlp(nn.Tanh)), False),
        Diag(T, "vanishing_gradients", "look-alike: conv bias before BatchNorm", _flow(rc.conv_bn), False),
        Diag(T, "exploding_gradients", "6 ReLU layers drawn with std 1",
             _flow(lambda: rc.normal_init(rc.deep_mlp(nn.ReLU, 6))), True, "exploding_gradients"),
        Diag(T, "exploding_gradients", "12 ReLU layers drawn with std 0.5",
             _flow(lambda: rc.normal_init(rc.deep_mlp(nn.ReLU, 12), 0.5)), True, "exploding_gradients"),
        Diag(T, "exploding_gradients", "twin: 6 ReLU layers at torch's default init",
             _flow(lambda: rc.deep_mlp(nn.ReLU, 6)), False),
        # init_loss_off
        Diag(T, "init_loss_off", "head re-initialised with nn.init.normal_",
             lambda m: m.init_loss(rc.mlp_big_head(), tc.digits_batch(64), loss_fn=CE()), True, "init_loss_off",
             missed_seeds=(8, 9), missed_why="on these inits the std-1 head meets small hidden activations: the "
             "init loss is within ×1.25 of ln 10 (×1.00–×1.91 over 40 inits, within ×1.25 on 6)"),
        Diag(T, "init_loss_off", "every weight drawn with std 1",
             lambda m: m.init_loss(rc.normal_init(tc.digits_mlp()), tc.digits_batch(64), loss_fn=CE()), True,
             "init_loss_off"),
        Diag(T, "init_loss_off", "look-alike: class weights and label smoothing",
             lambda m: m.init_loss(tc.digits_mlp(), tc.digits_batch(64),
                                   loss_fn=CE(weight=torch.linspace(0.2, 3.0, 10), label_smoothing=0.2)), False),
        # labels_invalid
        Diag(T, "labels_invalid", "labels shifted to -1..8", _fit(tc.DigitsCNN, batch=_labels(-1)), True,
             "labels_invalid"),
        Diag(T, "labels_invalid", "an encoder that returns fractions",
             lambda m: m.label_roundtrip({n: i / 4 for i, n in enumerate(NAMES)}, NAMES, NAMES), True,
             "labels_invalid"),
        Diag(T, "labels_invalid", "segmentation masks of 0/255 for 2 classes", _segment(True, "fit"), True,
             "labels_invalid"),
        Diag(T, "labels_invalid", "segmentation masks of 0/255, init loss", _segment(True, "init_loss"), True,
             "labels_invalid"),
        Diag(T, "labels_invalid", "twin: segmentation masks of class ids 0/1", _segment(False, "fit"), False),
        Diag(T, "labels_invalid", "twin: masks of class ids 0/1, init loss", _segment(False, "init_loss"), False),
        Diag(T, "labels_invalid", "twin: class ids 0..9", _fit(tc.DigitsCNN, batch=_labels(0)), False),
        # no_input_signal
        Diag(T, "no_input_signal", "labels shuffled apart from inputs (CNN)",
             lambda m: m.input_independent_baseline(tc.DigitsCNN(), rc.shuffled_labels(tc.digits_batch(128, offset=200)),
                                                    loss_fn=CE()), True, "no_input_signal"),
        Diag(T, "no_input_signal", "input multiplied by zero in forward",
             lambda m: m.input_independent_baseline(tc.InputIgnoringNet(), tc.digits_batch(128, offset=200),
                                                    loss_fn=CE()), True, "no_input_signal"),
        Diag(T, "no_input_signal", "twin: labels aligned with inputs",
             lambda m: m.input_independent_baseline(tc.DigitsCNN(), tc.digits_batch(128, offset=200), loss_fn=CE()),
             False),
        # preprocessing_mismatch
        Diag(T, "preprocessing_mismatch", "serving forgets /255",
             lambda m: m.preprocessing_parity(tc.to_chw, lambda im: torch.from_numpy(im.astype(np.float32)).permute(
                 2, 0, 1), tc.raw_images()), True, "preprocessing_mismatch"),
        Diag(T, "preprocessing_mismatch", "serving reads BGR",
             lambda m: m.preprocessing_parity(tc.to_chw, lambda im: tc.to_chw(np.ascontiguousarray(im[..., ::-1])),
                                              tc.raw_images()), True, "preprocessing_mismatch"),
        Diag(T, "preprocessing_mismatch", "twin: the same ops spelled in numpy",
             lambda m: m.preprocessing_parity(tc.to_chw, lambda im: np.transpose(
                 im.astype(np.float32) / np.float32(255.0), (2, 0, 1)), tc.raw_images()), False),
        # label_mapping_mismatch
        Diag(T, "label_mapping_mismatch", "serving list sorted alphabetically",
             lambda m: m.label_roundtrip(TRAIN_CODES, sorted(NAMES), NAMES), True, "label_mapping_mismatch"),
        Diag(T, "label_mapping_mismatch", "serving list with a background class first",
             lambda m: m.label_roundtrip(TRAIN_CODES, ["background"] + NAMES, NAMES), True, "label_mapping_mismatch"),
        Diag(T, "label_mapping_mismatch", "twin: the training order",
             lambda m: m.label_roundtrip(TRAIN_CODES, NAMES, NAMES), False),
        # class_collapse
        Diag(T, "class_collapse", "trained on 98% one class",
             lambda m: m.not_constant_predictions(tc.DigitsCNN(), tc.held_out(), train_on=tc.imbalanced_batches(),
                                                  loss_fn=CE(), optimizer=_adam()), True, "labels_imbalanced"),
        Diag(T, "class_collapse", "trained on a loader of one class only",
             lambda m: m.not_constant_predictions(tc.DigitsCNN(), tc.held_out(), train_on=_one_class(),
                                                  loss_fn=CE(), optimizer=_adam()), True, "labels_imbalanced"),
        Diag(T, "class_collapse", "input multiplied by zero", lambda m: m.not_constant_predictions(
            tc.InputIgnoringNet(), tc.held_out()), True, "class_collapse"),
        Diag(T, "class_collapse", "twin: trained on balanced batches",
             lambda m: m.not_constant_predictions(tc.DigitsCNN(), tc.held_out(), train_on=tc.digits_batches(10),
                                                  loss_fn=CE(), optimizer=_adam()), False),
        # batch_mixing
        Diag(T, "batch_mixing", "features transposed and reshaped", lambda m: m.batch_independence(
            rc.BatchMixingNet("transpose"), tc.held_out(16)), True, "batch_mixing"),
        Diag(T, "batch_mixing", "features minus their batch mean", lambda m: m.batch_independence(
            rc.BatchMixingNet("center"), tc.held_out(16)), True, "batch_mixing"),
        Diag(T, "batch_mixing", "look-alike: BatchNorm, judged in eval mode",
             lambda m: m.batch_independence(rc.mlp_bn(), tc.held_out(16)), False),
        # over_regularized
        Diag(T, "over_regularized", "Dropout(0.99) meant as keep probability", _fit(lambda: DropoutNet(0.99)), True,
             "over_regularized"),
        Diag(T, "over_regularized", "weight decay 10 (AdamW)",
             _fit(tc.digits_mlp, optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=10.0)), True,
             "over_regularized"),
        Diag(T, "over_regularized", "twin: Dropout(0.1)", _fit(lambda: DropoutNet(0.1)), False),
        # split_leakage
        Diag(T, "split_leakage", "overlapping slices", lambda m: m.no_split_leakage(*_loader_split(
            slice(0, 250), slice(200, 400))), True, "split_leakage"),
        Diag(T, "split_leakage", "each image twice, then a cut", lambda m: m.no_split_leakage(
            torch.cat([tc.digits_batch(150)[0]] * 2)[:200], torch.cat([tc.digits_batch(150)[0]] * 2)[200:]), True,
            "split_leakage"),
        Diag(T, "split_leakage", "twin: disjoint slices", lambda m: m.no_split_leakage(*_loader_split(
            slice(0, 200), slice(200, 400))), False),
        # inputs_not_finite
        Diag(T, "inputs_not_finite", "a NaN pixel in the batch", _fit(tc.DigitsCNN, batch=_with_nan(float("nan"))),
             True, "inputs_not_finite"),
        Diag(T, "inputs_not_finite", "an inf pixel in the batch", _fit(tc.digits_mlp, batch=_with_nan(float("inf"))),
             True, "inputs_not_finite"),
        Diag(T, "inputs_not_finite", "twin: every pixel finite", _fit(tc.digits_mlp, batch=_with_nan(0.5)), False),
        # xy_length_mismatch
        Diag(T, "xy_length_mismatch", "31 labels for 32 images", _fit(tc.DigitsCNN, batch=_short_y), True,
             "xy_length_mismatch"),
        Diag(T, "xy_length_mismatch", "31 labels, init loss",
             lambda m: m.init_loss(tc.digits_mlp(), _short_y(), loss_fn=CE()), True, "xy_length_mismatch"),
        Diag(T, "xy_length_mismatch", "twin: 32 labels for 32 images", _fit(tc.DigitsCNN), False),
        # outputs_not_finite
        Diag(T, "outputs_not_finite", "a log of negative logits in forward",
             lambda m: m.output_range(nn.Sequential(tc.digits_mlp(), _Log()), tc.held_out(64), kind="logits"), True,
             "outputs_not_finite"),
        Diag(T, "outputs_not_finite", "each image divided by its sum, one image blank",
             lambda m: m.output_range(nn.Sequential(_PerImageSum(), tc.digits_mlp()), _with_blank(), kind="logits"),
             True, "outputs_not_finite"),
        Diag(T, "outputs_not_finite", "twin: divided by its sum plus 1e-6",
             lambda m: m.output_range(nn.Sequential(_PerImageSum(1e-6), tc.digits_mlp()), _with_blank(),
                                      kind="logits"), False),
        Diag(T, "outputs_not_finite", "twin: log of softplus",
             lambda m: m.output_range(nn.Sequential(tc.digits_mlp(), nn.Softplus(), _Log()), tc.held_out(64),
                                      kind="logits"), False),
        # target_leakage
        Diag(T, "target_leakage", "language model through a bidirectional GRU", _next_tokens(lambda: TokenLM("bigru")),
             True, "target_leakage"),
        Diag(T, "target_leakage", "language model through self-attention without a causal mask",
             _next_tokens(lambda: TokenLM("attention")), True, "target_leakage"),
        Diag(T, "target_leakage", "twin: a left-to-right GRU", _next_tokens(lambda: TokenLM("gru")), False),
        Diag(T, "target_leakage", "twin: self-attention with a causal mask",
             _next_tokens(lambda: TokenLM("causal")), False),
        Diag(T, "target_leakage", "look-alike: a bidirectional tagger (tags are no shifted tokens)",
             _next_tokens(lambda: TokenLM("bigru"), tags=True), False),
    ]
    return cases


class TokenLM(nn.Module):
    """Embedding -> a sequence layer -> per-token logits (N, T, 32), read as a language model. The
    attention layers get learned positions: without them a position's context is the set of tokens
    before it, and two positions of a sample with the same token and the same set (a repeated token)
    get the same output whatever their targets — a batch the causal twin could fit only by float
    rounding, at 98.75 % of its positions on one CPU and fully on another."""

    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer
        self.embed, self.head = nn.Embedding(32, 32), nn.Linear(32, 32)
        if layer in ("gru", "bigru"):
            self.seq = nn.GRU(32, 32 if layer == "gru" else 16, batch_first=True, bidirectional=layer == "bigru")
        else:
            self.seq = nn.MultiheadAttention(32, 2, batch_first=True)
            self.position = nn.Embedding(16, 32)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        if self.layer in ("gru", "bigru"):
            return self.head(self.seq(h)[0])
        h = h + self.position(torch.arange(tokens.shape[1]))
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1]) if self.layer == "causal" else None
        return self.head(h + self.seq(h, h, h, attn_mask=mask, need_weights=False)[0])


def _next_tokens(model_fn: Callable[[], nn.Module], *, tags: bool = False) -> Callable[[Any], Any]:
    """overfit_one_batch on 32 sequences of 11 tokens (each opening with its own token), the targets
    the next tokens — or, with ``tags``, a tag per token that is no shifted copy of the tokens."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 32, size=(32, 11))
    x[:, 0] = rng.permutation(32)
    x = torch.tensor(x)
    batch = (x, (x * 7 + torch.roll(x, 1, dims=1)) % 5) if tags else (x[:, :-1], x[:, 1:])
    return lambda m: m.overfit_one_batch(model_fn(), batch, loss_fn=lambda out, y: F.cross_entropy(
        out.transpose(1, 2), y), optimizer=_adam(1e-2))


def _one_class() -> list[tuple]:
    x, y = tc.digits_batch(600)
    keep = y == 3
    return [(x[keep][i:i + 16], y[keep][i:i + 16]) for i in range(0, int(keep.sum()), 16)]


def _zero_bias(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        model.hidden.bias.zero_()
    return model


class _PerImageSum(nn.Module):
    def __init__(self, eps: float = 0.0) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x.sum(dim=(1, 2, 3), keepdim=True) + self.eps)


def _with_blank() -> torch.Tensor:
    x = tc.held_out(64).clone()
    x[10] = 0.0
    return x


class _Log(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


def keras_cases() -> list[Diag]:
    from keras_diagnosis_corpus import keras_cases as build

    return build()


def all_cases() -> list[Diag]:
    return torch_cases() + keras_cases()
