"""init_loss: the untrained loss is near what an uninformative prediction scores, in both frameworks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from keras_corpus import keras
from pytest_mlcheck import CheckFailed, MlcheckUsageError

CE = nn.CrossEntropyLoss

BROKEN = [
    ("torch cnn fed 0-255 pixels", lambda: dict(model=tc.DigitsCNN(), batch=tc.digits_batch(64, scale="uint8"),
                                                loss_fn=CE()), "inputs_not_normalized"),
    ("torch mlp fed 0-255 pixels", lambda: dict(model=tc.digits_mlp(), batch=tc.digits_batch(64, scale="uint8"),
                                                loss_fn=CE()), "inputs_not_normalized"),
    ("torch head re-initialised with nn.init.normal_", lambda: dict(
        model=rc.mlp_big_head(), batch=tc.digits_batch(64), loss_fn=CE()), "init_loss_off"),
    ("torch every weight drawn with std 1", lambda: dict(
        model=rc.normal_init(tc.digits_mlp()), batch=tc.digits_batch(64), loss_fn=CE()), "init_loss_off"),
    ("keras cnn fed 0-255 pixels", lambda: dict(model=kc.cnn(), batch=kc.digits_arrays(64, scale="uint8"),
                                                loss_fn=kc.sparse_ce()), "inputs_not_normalized"),
    ("keras mlp fed 0-255 pixels", lambda: dict(model=kc.mlp(), batch=kc.digits_arrays(64, scale="uint8"),
                                                loss_fn=kc.sparse_ce()), "inputs_not_normalized"),
    ("keras head initialised with RandomNormal(stddev=1)", lambda: dict(
        model=rc.k_mlp(head_std=1.0), batch=kc.digits_arrays(64), loss_fn=kc.sparse_ce()), "init_loss_off"),
    ("keras every kernel drawn with std 1", lambda: dict(
        model=rc.k_mlp(kernel="normal"), batch=kc.digits_arrays(64), loss_fn=kc.sparse_ce()), "init_loss_off"),
]

CORRECT = [
    ("torch cnn", lambda: dict(model=tc.DigitsCNN(), batch=tc.digits_batch(64), loss_fn=CE())),
    ("torch mlp, class weights", lambda: dict(model=tc.digits_mlp(), batch=tc.digits_batch(64),
                                              loss_fn=CE(weight=torch.linspace(0.2, 3.0, 10)))),
    ("torch mlp, label smoothing 0.2", lambda: dict(model=tc.digits_mlp(), batch=tc.digits_batch(64),
                                                    loss_fn=CE(label_smoothing=0.2))),
    ("torch multi-label BCE with pos_weight", lambda: dict(
        model=tc.digits_mlp(2), batch=tc.multilabel_batch(64),
        loss_fn=nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0, 0.5])))),
    ("torch softmax outputs into NLL of their log", lambda: dict(
        model=tc.digits_mlp(final=nn.Softmax(dim=1)), batch=tc.digits_batch(64),
        loss_fn=lambda p, y: nn.functional.nll_loss(torch.log(p), y))),
    ("torch frozen backbone", lambda: dict(model=tc.FrozenBackboneNet(), batch=tc.digits_batch(64), loss_fn=CE())),
    ("torch BatchNorm", lambda: dict(model=rc.mlp_bn(), batch=tc.digits_batch(64), loss_fn=CE())),
    ("torch embeddings on integer tokens", lambda: dict(model=tc.EmbeddingBagNet(), batch=tc.digit_tokens(64),
                                                        loss_fn=CE())),
    ("torch 0-255 pixels divided by 255 in forward", lambda: dict(
        model=rc.ScalesInside(), batch=tc.digits_batch(64, scale="uint8"), loss_fn=CE())),
    ("keras cnn, compiled loss", lambda: dict(model=kc.compiled(kc.cnn(), "adam", kc.sparse_ce()),
                                              batch=kc.digits_arrays(64))),
    ("keras softmax head with from_logits=False", lambda: dict(
        model=kc.cnn(activation="softmax"), batch=kc.digits_arrays(64),
        loss_fn=keras.losses.SparseCategoricalCrossentropy())),
    ("keras label smoothing 0.2 on one-hot targets", lambda: dict(
        model=kc.mlp(), batch=(kc.digits_arrays(64)[0], keras.utils.to_categorical(kc.digits_arrays(64)[1], 10)),
        loss_fn=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2))),
    ("keras Rescaling(1/255) on 0-255 pixels", lambda: dict(
        model=rc.k_mlp(rescale=1 / 255), batch=kc.digits_arrays(64, scale="uint8"), loss_fn=kc.sparse_ce())),
    ("keras frozen first layer", lambda: dict(model=rc.k_frozen_first(), batch=kc.digits_arrays(64),
                                              loss_fn=kc.sparse_ce())),
    ("keras BatchNorm", lambda: dict(model=rc.k_bn(), batch=kc.digits_arrays(64), loss_fn=kc.sparse_ce())),
    ("keras subclassed", lambda: dict(model=kc._sub()(), batch=kc.digits_arrays(64), loss_fn=kc.sparse_ce())),
]


@pytest.mark.parametrize("name,build,cause", BROKEN, ids=[b[0] for b in BROKEN])
def test_an_init_loss_far_from_uninformative_fails_and_names_its_cause(mlcheck, name, build, cause):
    torch.manual_seed(0)  # the init of the model under test, not whatever ran before
    kw = build()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(kw.pop("model"), kw.pop("batch"), **kw)
    assert failed.value.causes[0] == cause, str(failed.value)
    assert "init_loss_off" in failed.value.causes
    assert "loss at init" in str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_correct_model_starts_near_the_uninformative_loss(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    result = mlcheck.init_loss(kw.pop("model"), kw.pop("batch"), **kw)
    assert result.passed
    assert math.isfinite(result.figures["loss_at_init"])


def test_the_default_expectation_is_ln_c_for_plain_cross_entropy(mlcheck):
    result = mlcheck.init_loss(tc.digits_mlp(), tc.digits_batch(64), loss_fn=CE())
    assert result.figures["expected"] == pytest.approx(math.log(10), rel=1e-4)


def test_expected_overrides_the_reference_both_ways(mlcheck):
    model, batch = tc.digits_mlp(), tc.digits_batch(64)
    assert mlcheck.init_loss(model, batch, loss_fn=CE(), expected=math.log(10)).passed
    with pytest.raises(CheckFailed, match=r"expected about 0\.5"):
        mlcheck.init_loss(model, batch, loss_fn=CE(), expected=0.5)


def test_a_head_narrower_than_num_classes_is_named(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(tc.digits_mlp(5), tc.digits_batch(64) , loss_fn=CE(), num_classes=10)
    assert failed.value.causes == ["head_width"]


@pytest.mark.parametrize("kwargs,argument", [
    (dict(expected=-1.0), "expected"), (dict(expected="2.3"), "expected"), (dict(tolerance=0), "tolerance"),
    (dict(num_classes=0), "num_classes"),
])
def test_bad_arguments_are_usage_errors_naming_them(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=f"^{argument}:"):
        mlcheck.init_loss(tc.digits_mlp(), tc.digits_batch(64), loss_fn=CE(), **kwargs)


def test_a_torch_model_without_a_loss_is_a_usage_error(mlcheck):
    with pytest.raises(MlcheckUsageError, match="^loss_fn:"):
        mlcheck.init_loss(tc.digits_mlp(), tc.digits_batch(64))


@pytest.mark.parametrize("head_std", [None, 1.0], ids=["Glorot head", "BROKEN std-1 head"])
def test_outputs_spread_by_uncentred_inputs_are_not_blamed_on_the_head(mlcheck, head_std):
    """Wine features each divided by a power of ten (values in [0, 10), not centred): a Keras Glorot
    MLP starts with logits spread 2.7 (seed 4), as far as a std-1 head; standardised per feature, the
    same model starts at 0.59 and passes, while the std-1 head stays spread and fails."""
    import encodings_corpus as ec

    x, y = ec._features("wine", "decade")
    model = ec._keras_mlp(4, 13, 3)
    if head_std is not None:
        head = model.layers[-1]
        kernel = keras.random.normal(head.kernel.shape, stddev=head_std, seed=4)
        head.kernel.assign(kernel)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if head_std is None:
        result = mlcheck.init_loss(model, (x[:64], y[:64]), loss_fn=loss)
        assert result.figures["output_spread"] > 2.0 and result.figures["output_spread_standardised"] < 1.0
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(model, (x[:64], y[:64]), loss_fn=loss)
    assert failed.value.causes[0] == "init_loss_off"
    assert failed.value.result.figures["output_spread_standardised"] > 1.0


@pytest.mark.parametrize("head_std", [None, 1.0], ids=["Glorot one-unit head", "BROKEN std-1 one-unit head"])
def test_a_one_logit_binary_head_is_judged_as_its_two_logit_pair(mlcheck, head_std):
    """One logit z is the softmax pair (z/2, −z/2): a Keras Glorot Dense(1) on standardised breast
    cancer features starts at |z| rms 1.02 (seed 4; Glorot draws a one-unit head wider than a
    ten-unit one), spread 0.51 as a pair, and passes; a std-1 head stays far above 1.0."""
    import encodings_corpus as ec

    x, y = ec._features("breast_cancer", "std")
    model = ec._keras_mlp(4, 30, 1)
    if head_std is not None:
        head = model.layers[-1]
        head.kernel.assign(keras.random.normal(head.kernel.shape, stddev=head_std, seed=4))
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    batch = (x[:64], y[:64].astype("float32")[:, None])
    if head_std is None:
        result = mlcheck.init_loss(model, batch, loss_fn=loss)
        assert 0.4 < result.figures["output_spread"] < 1.0
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(model, batch, loss_fn=loss)
    assert failed.value.causes[0] == "init_loss_off" and failed.value.result.figures["output_spread"] > 1.5


@pytest.mark.parametrize("head", ["log_softmax", "softmax"])
def test_a_log_softmax_head_before_nll_loss_is_judged_on_uniform_log_probabilities(mlcheck, head):
    """Text-Classification-Models-Pytorch #9: every model ends in a softmax fed to NLLLoss, which
    takes log-probabilities (its loss of uniform probabilities is -1/C). The fix, LogSoftmax before
    NLLLoss, was a usage error: the reference was the loss of all-zero outputs, 0 under NLLLoss."""
    x, y = tc.digits_batch(32)
    torch.manual_seed(0)
    last = nn.LogSoftmax(dim=1) if head == "log_softmax" else nn.Softmax(dim=1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), last)
    if head == "log_softmax":
        result = mlcheck.init_loss(model, (x, y), loss_fn=nn.NLLLoss())
        assert result.figures["expected"] == pytest.approx(math.log(10), rel=1e-4)
        assert result.figures["expected_from"] == "the loss of uniform log-probabilities"
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(model, (x, y), loss_fn=nn.NLLLoss())
    assert failed.value.causes == ["loss_mismatch"], str(failed.value)
    assert "NLLLoss takes log-probabilities" in str(failed.value)


class _Tokens(nn.Module):
    """A per-token classifier: (N, T) token ids → (N, T, C) scores, log-probabilities or raw."""

    def __init__(self, log_softmax: bool) -> None:
        super().__init__()
        self.embed, self.head, self.log_softmax = nn.Embedding(50, 16), nn.Linear(16, 50), log_softmax

    def forward(self, x):
        out = self.head(self.embed(x))
        return torch.log_softmax(out, dim=-1) if self.log_softmax else out


def _nll(out, y):
    return nn.functional.nll_loss(out.reshape(-1, out.shape[-1]), y.reshape(-1))


@pytest.mark.parametrize("log_softmax", [True, False], ids=["log_softmax head", "raw scores"])
def test_nll_loss_on_raw_scores_has_no_floor_and_fails_before_training(mlcheck, log_softmax):
    """pytorch/examples #734: the word language model returned raw decoder scores to NLLLoss, which
    is then minus the target's score — unbounded below; the loss fell to −1302 in 390 steps and the
    example reported negative losses. A loss of probabilities has a floor of 0. Its fix (log_softmax
    before NLLLoss, per token) is judged against uniform log-probabilities along the class axis."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 50, (16, 12), generator=g), torch.randint(0, 50, (16, 12), generator=g)
    torch.manual_seed(0)
    model = _Tokens(log_softmax)
    if log_softmax:
        result = mlcheck.init_loss(model, (x, y), loss_fn=_nll)
        assert result.figures["expected"] == pytest.approx(math.log(50), rel=1e-4)
        assert result.figures["expected_from"] == "the loss of uniform log-probabilities"
        return
    for check in (mlcheck.init_loss, mlcheck.overfit_one_batch):
        with pytest.raises(CheckFailed) as failed:
            check(model, (x, y), loss_fn=_nll)
        assert failed.value.causes == ["loss_mismatch"], str(failed.value)
        assert "falls without bound" in str(failed.value) and failed.value.result.steps == 0


def test_a_cross_entropy_on_raw_scores_is_bounded_and_not_read_as_unbounded(mlcheck):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 50, (16, 12), generator=g), torch.randint(0, 50, (16, 12), generator=g)
    torch.manual_seed(0)
    ce = lambda out, t: nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1))  # noqa: E731
    assert mlcheck.init_loss(_Tokens(False), (x, y), loss_fn=ce).passed


def test_a_per_token_head_is_judged_per_position_and_its_width_per_position(mlcheck):
    """(N, T, C) logits over class ids (N, T): num_classes is the width of each position's row."""
    torch.manual_seed(0)

    class TokenHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = nn.Embedding(50, 16), nn.Linear(16, 50)

        def forward(self, x):
            return self.head(self.embed(x))

    tokens, targets = torch.randint(0, 50, (16, 12)), torch.randint(0, 50, (16, 12))
    loss = lambda out, y: torch.nn.functional.cross_entropy(out.transpose(1, 2), y)  # noqa: E731
    mlcheck.init_loss(TokenHead(), (tokens, targets), loss_fn=loss, num_classes=50)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(TokenHead(), (tokens, targets), loss_fn=loss, num_classes=40)
    assert failed.value.causes[0] == "head_width"


def test_a_loss_that_raises_on_the_models_outputs_is_reported_as_the_users_error(mlcheck):
    """Not as a reference loss that "cannot serve": the user's own exception, named."""
    def loss(out, y):
        raise KeyError("labels")

    with pytest.raises(CheckFailed, match="loss_fn raised KeyError"):
        mlcheck.init_loss(nn.Linear(4, 3), (torch.randn(16, 4), torch.randint(0, 3, (16,))), loss_fn=loss)


@pytest.mark.parametrize("batchnorm", [True, False], ids=["conv, BatchNorm", "BROKEN conv without BatchNorm"])
def test_raw_pixels_into_a_batchnorm_are_judged_as_the_first_training_step_sees_them(mlcheck, batchnorm):
    """0..255 pixels into a conv and its BatchNorm: in eval mode the untrained BatchNorm's
    placeholder statistics pass the raw scale through (loss ×6 the uninformative one), which the
    first training step never sees — judged with the batch's statistics, it starts near
    uninformative and passes, leaving the module's running statistics as they were. Without the
    BatchNorm the raw scale reaches the head: it fails, naming the inputs."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 16, 3, padding=1)] + ([nn.BatchNorm2d(16)] if batchnorm else [])
    model = nn.Sequential(*layers, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    x = torch.randint(0, 256, (64, 3, 16, 16)).float()
    batch = (x, torch.randint(0, 10, (64,)))
    if not batchnorm:
        with pytest.raises(CheckFailed) as info:
            mlcheck.init_loss(model, batch, loss_fn=nn.CrossEntropyLoss())
        assert "inputs_not_normalized" in info.value.causes, str(info.value)
        return
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = mlcheck.init_loss(model, batch, loss_fn=nn.CrossEntropyLoss())
    assert any("BatchNorm statistics the first training step computes" in n for n in result.notes), result.notes
    assert result.figures["loss_at_init"] > 1.25 * math.log(10)  # the eval-mode view alone would fail
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("values", ["standardised", "in [0, 1]"])
def test_a_linear_head_whose_untrained_outputs_happen_to_lie_in_0_1_is_judged_against_zeros(mlcheck, values):
    """Value targets outside [0, 1] (standardised prices, mean below 0 in this batch): outputs of an
    untrained linear head near 0.1 are no probabilities, so the reference is the loss of zeros, not of
    0.5 everywhere (which scored 2.5 here against the untrained 1.45: a false init_loss_off). Targets
    inside [0, 1] keep 0.5 as the uninformative value (a head near 0.5 there passes)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = (torch.randn(64, 1, generator=g) * 0.5 - 1.0) if values == "standardised" else torch.rand(64, 1, generator=g)
    head = torch.nn.Linear(4, 1)
    with torch.no_grad():
        head.weight.mul_(0.05)
        head.bias.fill_(0.1 if values == "standardised" else 0.5)
    result = mlcheck.init_loss(head, (x, y), loss_fn=torch.nn.MSELoss())
    expected = "all-zero outputs" if values == "standardised" else "0.5 everywhere"
    assert expected in result.figures["expected_from"]


# -- a cross-entropy averaged over the classes as well as the samples (KienHuynh/FCN-CTSCAN b170a9b:
# `-reduce_mean(target * log_softmax)` on one-hot rows): its own uninformative reference is ln C / C, so
# the loss at init matches it; the check names the formula. Twins: the per-sample mean, label
# smoothing, a focal loss and a summed reduction score an uninformative prediction otherwise.

def _ce_over(reduce: str, smoothing: float = 0.0):
    def loss(out: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        target = onehot * (1 - smoothing) + smoothing / onehot.shape[1]
        terms = -target * torch.log_softmax(out, dim=1)
        return terms.mean() if reduce == "elements" else terms.sum() if reduce == "sum" else terms.sum(1).mean()
    return loss


def _focal(out: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(out, dim=1)
    return (-(onehot * (1 - logp.exp()) ** 2 * logp).sum(1)).mean()


def _onehot_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = tc.digits_batch(64)
    return x, nn.functional.one_hot(y, 10).float()


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_a_cross_entropy_averaged_over_the_classes_too_fails_naming_the_formula(mlcheck, smoothing):
    """Label smoothing leaves an uninformative prediction's cross-entropy at ln C, so the per-class
    mean shows the same ln C / C with it."""
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(tc.digits_mlp(), _onehot_batch(), loss_fn=_ce_over("elements", smoothing))
    assert failed.value.causes == ["init_loss_off"], str(failed.value)
    assert "= ln 10 / 10" in str(failed.value) and "10 times too small" in str(failed.value)


@pytest.mark.parametrize("loss", [_ce_over("samples"), _ce_over("samples", 0.2), _ce_over("sum"), _focal],
                         ids=["per-sample mean", "label smoothing 0.2", "summed", "focal gamma 2"])
def test_per_sample_summed_smoothed_and_focal_cross_entropies_pass(mlcheck, loss):
    torch.manual_seed(0)
    assert mlcheck.init_loss(tc.digits_mlp(), _onehot_batch(), loss_fn=loss).passed


def _keras_penalised(per_class: bool):
    ops = keras.ops
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu",
                                                                     kernel_regularizer=keras.regularizers.L2(1e-3)),
                              keras.layers.Dense(10, kernel_regularizer=keras.regularizers.L2(1e-3))])

    def loss(target, out):
        terms = -target * ops.log_softmax(out, axis=-1)
        return ops.mean(terms) if per_class else ops.mean(ops.sum(terms, axis=-1))

    model.compile(optimizer="adam", loss=loss)
    return model


def test_a_keras_cross_entropy_averaged_over_the_classes_fails_beside_weight_penalties(mlcheck):
    """Keras adds the weights' penalties to the compiled loss: every loss a check reads is without them
    (a training step still adds them), so the rule sees the cross-entropy's own value."""
    x, y = kc.digits_arrays(64)
    onehot = keras.utils.to_categorical(y, 10)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_keras_penalised(per_class=True), (x.reshape(len(x), -1), onehot))
    assert failed.value.causes == ["init_loss_off"], str(failed.value)
    assert "whatever the outputs" not in str(failed.value)  # the weights' penalties are out of the loss read
    assert mlcheck.init_loss(_keras_penalised(per_class=False), (x.reshape(len(x), -1), onehot)).passed
