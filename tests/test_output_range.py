"""output_range: outputs that do not fit the kind the loss expects fail with the worst value."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import DigitsCNN, digits_mlp, held_out


class SoftmaxInForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = digits_mlp()

    def forward(self, x):
        return F.softmax(self.net(x), dim=-1)


class SigmoidInForward(nn.Module):
    def __init__(self, width: int = 1) -> None:
        super().__init__()
        self.net = digits_mlp(width)

    def forward(self, x):
        return torch.sigmoid(self.net(x))


BROKEN = [
    ("softmax layer, checked as logits", lambda: digits_mlp(final=nn.Softmax(dim=1)), dict(kind="logits"),
     "output_activation"),
    ("softmax in forward, checked as logits", SoftmaxInForward, dict(kind="logits"), "output_activation"),
    ("ReLU layer on the logits", lambda: digits_mlp(final=nn.ReLU()), dict(kind="logits"), "output_activation"),
    ("ReLU in forward on the logits", lambda: DigitsCNN(relu_head=True), dict(kind="logits"), "output_activation"),
    ("sigmoid where probabilities belong", lambda: SigmoidInForward(10), dict(kind="probabilities"),
     "output_activation"),
    ("logits where probabilities belong", DigitsCNN, dict(kind="probabilities"), "output_activation"),
    ("softmax over one unit", lambda: digits_mlp(1, final=nn.Softmax(dim=1)), dict(kind="sigmoid"),
     "output_activation"),
    ("logits where a sigmoid belongs", lambda: digits_mlp(1), dict(kind="sigmoid"), "output_activation"),
    ("a head of 5 for 10 classes", lambda: DigitsCNN(5), dict(kind="logits", num_classes=10), "head_width"),
    ("outputs beyond the bounds", lambda: digits_mlp(1, final=nn.ReLU()), dict(low=-1.0, high=1e-6), None),
]

CORRECT = [
    ("CNN logits", DigitsCNN, dict(kind="logits", num_classes=10)),
    ("softmax layer, checked as probabilities", lambda: digits_mlp(final=nn.Softmax(dim=1)),
     dict(kind="probabilities")),
    ("sigmoid in forward, one unit", SigmoidInForward, dict(kind="sigmoid")),
    ("multi-label sigmoid over 2 units", lambda: SigmoidInForward(2), dict(kind="sigmoid", low=0, high=1)),
    ("BatchNorm in eval mode", lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32),
                                                     nn.ReLU(), nn.Linear(32, 10)), dict(kind="logits")),
]


@pytest.mark.parametrize("name,build,kwargs,cause", BROKEN, ids=[b[0] for b in BROKEN])
def test_outputs_that_do_not_fit_their_kind_fail_with_the_worst_sample(mlcheck, name, build, kwargs, cause):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as info:
        mlcheck.output_range(build(), held_out(), **kwargs)
    if cause:
        assert info.value.causes[0] == cause, str(info.value)
    assert "sample" in str(info.value) or "outputs" in str(info.value)


@pytest.mark.parametrize("name,build,kwargs", CORRECT, ids=[c[0] for c in CORRECT])
def test_outputs_that_fit_their_kind_pass(mlcheck, name, build, kwargs):
    torch.manual_seed(0)
    result = mlcheck.output_range(build(), held_out(), **kwargs)
    assert result.passed and result.figures["samples"] == 200


class NanOnBlank(nn.Module):
    """Divides by each image's norm: finite inputs, but NaN for an all-zero image."""

    def __init__(self) -> None:
        super().__init__()
        self.net = digits_mlp()

    def forward(self, x):
        return self.net(x / x.flatten(1).norm(dim=1).view(-1, 1, 1, 1))


def test_a_nan_output_for_finite_inputs_is_reported_with_its_sample(mlcheck):
    x = held_out(20)
    x[7] = 0.0
    with pytest.raises(CheckFailed) as info:
        mlcheck.output_range(NanOnBlank(), x, kind="logits")
    assert info.value.causes == ["outputs_not_finite"]
    assert "sample 7" in str(info.value) and "its inputs are finite" in str(info.value)


def test_samples_with_nan_inputs_are_reported_not_judged(mlcheck):
    x = held_out(20)
    x[3, 0, 0, 0] = float("nan")
    x[5, 0, 1, 1] = float("inf")
    result = mlcheck.output_range(DigitsCNN(), x, kind="logits")
    assert result.figures["non_finite_inputs"] == 2


def test_a_problem_after_a_skipped_sample_names_its_place_in_the_inputs(mlcheck):
    x = held_out(20)
    x[0, 0, 0, 0] = float("nan")
    x[9] = 0.0
    with pytest.raises(CheckFailed, match="first in sample 9"):
        mlcheck.output_range(NanOnBlank(), x, kind="logits")


def test_a_loader_of_pairs_is_read_for_its_inputs(mlcheck):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(held_out(64), torch.zeros(64)), batch_size=16)
    assert mlcheck.output_range(DigitsCNN(), loader, kind="logits").figures["samples"] == 64


@pytest.mark.parametrize("kwargs,argument", [
    (dict(), "kind"), (dict(kind="softmax"), "kind"), (dict(low=2, high=1), "low"), (dict(num_classes=0), "num_classes"),
])
def test_misuse_of_output_range_names_the_argument(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=argument):
        mlcheck.output_range(DigitsCNN(), held_out(8), **kwargs)


class TokenHead(nn.Module):
    """A per-token classifier over 50 ids: (N, T, 50), or (N, 50, T) as torch's losses take it."""

    def __init__(self, softmax: bool = False, channels_first: bool = False) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(50, 16), nn.Linear(16, 50)
        self.softmax, self.channels_first = softmax, channels_first

    def forward(self, x):
        out = self.head(self.embed(x))
        out = out.softmax(-1) if self.softmax else out
        return out.transpose(1, 2) if self.channels_first else out


@pytest.mark.parametrize("channels_first", [False, True], ids=["(N, T, C)", "(N, C, T)"])
@pytest.mark.parametrize("num_classes", [50, None], ids=["num_classes=50", "no num_classes"])
def test_a_head_scoring_every_position_is_read_one_position_at_a_time(mlcheck, channels_first, num_classes):
    """A sequence model's (N, T, C) outputs are T rows of C classes, not one row of T·C: the head
    has num_classes outputs per position, its logits pass as logits and its softmax as
    probabilities, and the twin that softmaxes before a logits loss is still named."""
    torch.manual_seed(0)
    tokens = torch.randint(0, 50, (8, 12))
    given = {} if num_classes is None else {"num_classes": num_classes}
    mlcheck.output_range(TokenHead(channels_first=channels_first), tokens, kind="logits", **given)
    mlcheck.output_range(TokenHead(softmax=True, channels_first=channels_first), tokens, kind="probabilities", **given)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(TokenHead(softmax=True, channels_first=channels_first), tokens, kind="logits", **given)
    assert failed.value.causes[0] == "output_activation", str(failed.value)
    with pytest.raises(CheckFailed) as failed:  # a sigmoid per position is no softmax over classes
        mlcheck.output_range(nn.Sequential(TokenHead(channels_first=channels_first), nn.Sigmoid()), tokens,
                             kind="probabilities", **given)
    assert failed.value.causes[0] == "output_activation", str(failed.value)


def test_a_per_position_head_of_the_wrong_width_is_named(mlcheck):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(TokenHead(), torch.randint(0, 50, (8, 12)), kind="logits", num_classes=40)
    assert failed.value.causes[0] == "head_width" and "(8, 12, 50)" in str(failed.value)


@pytest.mark.parametrize("softmax", [False, True])
def test_one_output_asked_for_probabilities_is_the_positive_class_probability(mlcheck, softmax):
    """kind="probabilities" on a binary head with one sigmoid unit (a GAN discriminator's fix in
    t81_558 PR #81 failed with head_width): the unit's value is a probability, judged as a sigmoid's;
    a softmax over that one unit is 1.0 everywhere and still fails."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 1), nn.Softmax(dim=1) if softmax else nn.Sigmoid())
    x = torch.randn(32, 8)
    if not softmax:
        result = mlcheck.output_range(model, x, kind="probabilities")
        assert result.passed and any("probability of the positive class" in n for n in result.notes)
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(model, x, kind="probabilities")
    assert failed.value.causes == ["head_width", "output_activation"]


def test_independent_sigmoids_asked_for_probabilities_are_told_the_sigmoid_kind(mlcheck):
    """One sigmoid per pixel (an autoencoder's canvas) fails kind='probabilities' — its rows do not sum
    to 1 — and the message names the kind that asks only for [0, 1]; that kind passes it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 12), nn.Sigmoid())
    x = torch.randn(32, 8)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(model, x, kind="probabilities")
    assert failed.value.causes == ["output_activation"] and "the kind is 'sigmoid'" in str(failed.value)
    assert mlcheck.output_range(model, x, kind="sigmoid").passed


class MaskHead(nn.Module):
    """A per-pixel binary head: two convolutions and a one-channel 1×1 convolution whose bias starts at
    0.22 (torch draws it from ±1/√fan_in, so one channel starts on its bias: the Nest-of-UNets U-Net).
    ``final``: an activation after it (the broken twins)."""

    def __init__(self, final: nn.Module | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.out = nn.Conv2d(8, 1, 1)
        with torch.no_grad():
            self.out.weight.mul_(0.05)
            self.out.bias.fill_(0.22)
        self.final = final

    def forward(self, x):
        y = self.out(self.body(x))
        return y if self.final is None else self.final(y)


def test_per_pixel_logits_that_start_on_a_positive_bias_are_no_activation(mlcheck):
    """Every output is above 0 at init, and none is exactly 0: with the inputs scaled up some go below
    0, so no activation bounds the head; a note says why it passes."""
    model = MaskHead().eval()
    with torch.no_grad():
        assert model(held_out()).min() > 0  # the look-alike: every logit ≥ 0 at these inputs
    result = mlcheck.output_range(model, held_out(), kind="logits")
    assert any("start on a positive bias" in n for n in result.notes), result.notes


@pytest.mark.parametrize("final", [nn.Sigmoid(), nn.Softplus(), nn.ReLU()], ids=["sigmoid", "softplus", "relu"])
def test_the_same_head_under_a_non_negative_activation_still_fails(mlcheck, final):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(MaskHead(final), held_out(), kind="logits")
    assert failed.value.causes == ["output_activation"], str(failed.value)


@pytest.mark.parametrize("final", [None, nn.Softplus()], ids=["linear", "softplus"])
def test_id_inputs_cannot_be_scaled_but_the_negated_head_decides(mlcheck, final):
    """Ids have no scale to grow; all-positive logits from an embedding and a linear head on a bias of
    5 are cleared by negating the head's pre-activation, and a softplus after it still fails."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(20, 4), nn.Flatten(), nn.Linear(12, 5), *([final] if final else []))
    with torch.no_grad():
        model[2].bias.fill_(5.0)
    ids = torch.randint(0, 20, (32, 3))
    if final is None:
        result = mlcheck.output_range(model, ids, kind="logits")
        assert any("pre-activation negated" in n for n in result.notes)
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(model, ids, kind="logits")
    assert failed.value.causes == ["output_activation"]
