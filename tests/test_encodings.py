"""Target encodings (issue 13): every case of the held-out corpus (tests/encodings_corpus.py) x its
checks gives the expected verdict and, for a failure, a first cause among the accepted ones; plus
twins for the value-based probes of pytest_mlcheck/targets.py in both frameworks."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from benchmarks.encodings_table import _call
from encodings_corpus import CASES, EncodingCase
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.settings import Settings


@functools.lru_cache(maxsize=None)
def _built(name: str, seed: int) -> dict:
    """One build per case: the checks never change the user's model, so its checks share it."""
    case = next(c for c in CASES if c.name == name)
    return case.build(seed)


PAIRS = [(case, check) for case in CASES for check in case.checks]

def _param(case: EncodingCase, check: str):
    return pytest.param(case, check, id=f"{case.framework}: {case.name} / {check}")


@pytest.mark.parametrize("case,check", [_param(c, k) for c, k in PAIRS])
def test_the_corpus_verdict_and_first_cause(case: EncodingCase, check: str) -> None:
    mlcheck = MLCheck(Settings(seed=0, max_seconds=60))
    built = _built(case.name, 0)
    if case.expect == "pass":
        result = _call(mlcheck, check, built)
        assert result.passed
        return
    with pytest.raises(CheckFailed) as failed:
        _call(mlcheck, check, built)
    assert failed.value.causes and failed.value.causes[0] in case.accepted_causes, str(failed.value)


# Known wrong verdicts on some seeds, left open: none. (A Keras Glorot MLP on wine features in [0, 10)
# started with a logit spread of 1.2–2.7 on 4 of seeds 1–5; on the batch standardised per feature it
# is 0.51–0.76, which init_loss now checks before blaming the head.)
KNOWN: set[tuple[str, str, str]] = set()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 10))
def test_the_corpus_holds_over_seeds(seed: int) -> None:
    """The multi-seed sweep: no false alarm and no miss on nine more seeds."""
    wrong = []
    for case, check in PAIRS:
        mlcheck = MLCheck(Settings(seed=seed, max_seconds=60))
        try:
            _call(mlcheck, check, case.build(seed))
            got = "pass"
        except CheckFailed:
            got = "fail"
        if got != case.expect and not any(case.framework == f and case.name.startswith(n) and check == k
                                          for f, n, k in KNOWN):
            wrong.append(f"{case.framework}: {case.name} / {check}: {got}")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------- twins of the new probes

def _digits(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    from encodings_corpus import _features
    x, y = _features("digits", "digits")
    idx = np.random.default_rng(0).permutation(len(x))[:n]
    return x[idx], y[idx]


def _multi_hot(y: np.ndarray) -> np.ndarray:
    """Three labels per digit (even, above 4, a multiple of 3): rows hold zero to three 1s."""
    return np.stack([y % 2 == 0, y > 4, y % 3 == 0], axis=1).astype(np.float32)


def _torch_mlp(out: int, final=None):
    import torch
    from torch import nn
    torch.manual_seed(0)
    layers = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, out)] + ([final] if final is not None else [])
    return nn.Sequential(*layers)


def _keras_mlp(out: int, activation=None):
    import keras
    init = keras.initializers.GlorotUniform
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu", kernel_initializer=init(1)),
                             keras.layers.Dense(out, activation=activation, kernel_initializer=init(2))])


def _torch_adam(p):
    import torch
    return torch.optim.Adam(p, lr=1e-2)


def _keras_adam():
    import keras
    return keras.optimizers.Adam(1e-2)


def _torch_bce_fn(out, y):
    import torch.nn.functional as F
    return F.binary_cross_entropy(out.sigmoid(), y)


def _keras_bce_fn(y_true, y_pred):
    import keras
    ops = keras.ops
    return -ops.mean(y_true * ops.log_sigmoid(y_pred) + (1.0 - y_true) * ops.log_sigmoid(-y_pred))


BINARY_LOSSES = {
    "torch: sigmoid then F.binary_cross_entropy, a plain function": ("torch", lambda: (_torch_mlp(3), _torch_bce_fn)),
    "torch: F.binary_cross_entropy_with_logits as a lambda": ("torch", lambda: (
        _torch_mlp(3), lambda o, y: __import__("torch").nn.functional.binary_cross_entropy_with_logits(o, y))),
    "keras: log-sigmoid BCE written with keras.ops": ("keras", lambda: (_keras_mlp(3), _keras_bce_fn)),
    "keras: Dense(3, sigmoid) + BinaryCrossentropy()": ("keras", lambda: (
        _keras_mlp(3, "sigmoid"), __import__("keras").losses.BinaryCrossentropy())),
}


def _fit(framework: str, model, loss, x, y, **kw):
    check = MLCheck(Settings(seed=0, max_seconds=60))
    if framework == "torch":
        import torch
        return check.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=loss,
                                       optimizer=_torch_adam, **kw)
    return check.overfit_one_batch(model, (x, y), loss_fn=loss, optimizer=_keras_adam(), **kw)


def _fails_first_with(cause: str, words: str, framework: str, model, loss, x, y) -> None:
    with pytest.raises(CheckFailed) as failed:
        _fit(framework, model, loss, x, y)
    assert failed.value.causes[0] == cause, str(failed.value)
    assert words in str(failed.value)


@pytest.mark.parametrize("name", list(BINARY_LOSSES))
def test_a_binary_loss_over_single_label_one_hot_is_a_loss_mismatch(name: str) -> None:
    framework, build = BINARY_LOSSES[name]
    model, loss = build()
    x, y = _digits()
    _fails_first_with("loss_mismatch", "exactly one 1", framework, model, loss, x, np.eye(3, dtype=np.float32)[y % 3])


@pytest.mark.parametrize("name", list(BINARY_LOSSES))
def test_the_same_binary_loss_over_multi_hot_rows_is_a_correct_look_alike(name: str) -> None:
    framework, build = BINARY_LOSSES[name]
    model, loss = build()
    x, y = _digits()
    result = _fit(framework, model, loss, x, _multi_hot(y))
    assert result.passed and result.figures["task"] == "multilabel"
    assert result.figures["loss_floor"] < result.start_loss


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_task_multilabel_overrides_the_one_hot_reading(framework: str) -> None:
    model, loss = (_torch_mlp(3), _torch_bce_fn) if framework == "torch" else (_keras_mlp(3), _keras_bce_fn)
    x, y = _digits()
    result = _fit(framework, model, loss, x, np.eye(3, dtype=np.float32)[y % 3], task="multilabel")
    assert result.passed and result.figures["task"] == "multilabel"


def _values(low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    x, y = _digits()
    t = (y.astype(np.float32) + np.random.default_rng(1).uniform(0, 1, len(y)).astype(np.float32)) / 10.0
    return x, (low + (high - low) * t).reshape(-1, 1).astype(np.float32)


def _mse_torch():
    from torch import nn
    return nn.MSELoss()


def _mse_keras():
    import keras
    return keras.losses.MeanSquaredError()


UNREACHABLE = {
    "torch: nn.Tanh head, targets up to 5": ("torch", lambda: (_torch_mlp(1, __import__("torch").nn.Tanh()),
                                                                _mse_torch()), (-5.0, 5.0)),
    "torch: nn.Softplus head, targets down to -3": ("torch", lambda: (_torch_mlp(1, __import__("torch").nn.Softplus()),
                                                                       _mse_torch()), (-3.0, 3.0)),
    "keras: Dense(1, 'tanh'), targets up to 5": ("keras", lambda: (_keras_mlp(1, "tanh"), _mse_keras()), (-5.0, 5.0)),
    "keras: Dense(1, 'relu'), targets down to -3": ("keras", lambda: (_keras_mlp(1, "relu"), _mse_keras()), (-3.0, 3.0)),
}


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_a_head_that_cannot_reach_the_targets_is_an_output_activation(name: str) -> None:
    framework, build, (low, high) = UNREACHABLE[name]
    model, loss = build()
    _fails_first_with("output_activation", "cannot reach", framework, model, loss, *_values(low, high))


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_the_same_head_with_targets_in_its_range_is_a_correct_look_alike(name: str) -> None:
    framework, build, _ = UNREACHABLE[name]
    model, loss = build()
    x, t = _values(0.05, 0.95)
    result = _fit(framework, model, loss, x, t)
    assert result.passed and result.figures["task"] == "regression"


def _slow_head(framework: str, bounded: bool):
    """A value head trained by plain SGD too slowly for the run to press its outputs against a bound:
    a sigmoid (bounded to [0, 1]), or its look-alike, a linear head whose outputs start inside [0, 1]
    (last-layer weights × 0.01, bias 0.5), which the retries at larger rates train past 1."""
    if framework == "torch":
        import torch
        from torch import nn
        model = _torch_mlp(1, nn.Sigmoid() if bounded else None)
        if not bounded:
            with torch.no_grad():
                model[2].weight.mul_(0.01)
                model[2].bias.fill_(0.5)
        return model, _mse_torch(), lambda p: torch.optim.SGD(p, lr=1e-4 if not bounded else 1e-3)
    import keras
    init = keras.initializers.GlorotUniform
    last = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init(2)) if bounded else keras.layers.Dense(
        1, kernel_initializer=keras.initializers.RandomNormal(0.0, 1e-3, seed=2),
        bias_initializer=keras.initializers.Constant(0.5))
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu", kernel_initializer=init(1)),
                              last])
    return model, _mse_keras(), keras.optimizers.SGD(1e-4 if not bounded else 1e-3)


@pytest.mark.parametrize("bounded", [True, False], ids=["BROKEN sigmoid head", "linear head starting inside [0, 1]"])
@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_bounded_head_too_slow_to_press_its_bound_is_named_from_the_retries(framework: str, bounded: bool) -> None:
    """Targets up to 3 under SGD at a low rate: neither run presses its outputs against 1 (the
    sigmoid's reach 0.95 at most), so the run alone tells the heads apart by nothing; the retries at
    larger rates pin the sigmoid's at 1 and carry the linear head's past it."""
    model, loss, optimizer = _slow_head(framework, bounded)
    x, t = _values(0.0, 3.0)
    check = MLCheck(Settings(seed=0, max_seconds=120))
    with pytest.raises(CheckFailed) as failed:
        if framework == "torch":
            import torch
            check.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(t)), loss_fn=loss, optimizer=optimizer)
        else:
            check.overfit_one_batch(model, (x, t), loss_fn=loss, optimizer=optimizer)
    message = str(failed.value)
    if bounded:
        assert failed.value.causes[:1] == ["output_activation"], message
        assert "press the outputs against the bound" in message and "no retry" in message
    else:
        assert "output_activation" not in failed.value.causes, message


def test_retries_that_press_a_bound_name_it_only_if_none_went_past_it() -> None:
    from pytest_mlcheck.targets import head_bound, pressed_in_retries

    t = np.array([[0.5], [2.0], [3.0], [0.2]], dtype=np.float32)
    start, end = np.full_like(t, 0.5), np.array([[0.5], [0.9], [0.9], [0.3]], dtype=np.float32)
    bound = head_bound(t, [start, end])
    assert bound is not None and bound[:2] == (0.0, 1.0)
    pinned = np.array([[0.5], [0.999], [0.998], [0.2]], dtype=np.float32)
    past = np.array([[0.5], [1.8], [2.9], [0.2]], dtype=np.float32)
    assert pressed_in_retries(t, [start, end], bound, {100.0: pinned})[0][0] == "output_activation"
    assert pressed_in_retries(t, [start, end], bound, {100.0: pinned, 1000.0: past}) == []  # one went past
    assert pressed_in_retries(t, [start, end], bound, {100.0: end}) == []  # inside, never pressed
    assert pressed_in_retries(t, [start, end], bound, {0.1: pinned}) == []  # a smaller rate trains no harder
    assert pressed_in_retries(t, [start, end], bound, {100.0: np.full_like(t, np.nan)}) == []


@pytest.mark.parametrize("dim,passes", [(1, True), (0, False)], ids=["LogSoftmax(dim=1)", "BROKEN LogSoftmax(dim=0)"])
def test_a_log_softmax_head_under_nll_loss_is_judged_against_a_floor_of_zero(dim: int, passes: bool) -> None:
    """NLLLoss on log-probabilities cannot go below 0 (log 1): the floor must not be the −25 of
    unbounded logits, or a model that predicts every sample right fails at "8% of the way"."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    x = torch.randn(64, 20)
    y = torch.randint(0, 10, (64,))
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), nn.LogSoftmax(dim=dim))
    mlcheck = MLCheck(Settings(seed=0, max_seconds=60))
    if passes:
        result = mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.NLLLoss())
        assert result.passed and abs(result.figures["loss_floor"]) < 1e-3, result.figures
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.NLLLoss())
    assert failed.value.result.figures["loss_floor"] < -1, str(failed.value)  # columns sum to 1, rows do not
