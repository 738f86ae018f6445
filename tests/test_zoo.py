"""Issue 14: every correct real architecture of the zoo (tests/zoo.py) passes the checks that apply.

torchvision and timm cannot be imported here (the registry's torchvision wheel needs a CUDA build
of torch): ResNet-18, MobileNetV3-small and the ViT are re-implementations of their recipes (see
zoo.py). Hugging Face members need ``transformers``, the LightningModule ``lightning``; each is
skipped without it.

The calls that still fail on a correct member are not hidden: they are listed in KNOWN_FAILURES
with the issue item they wait for and run as strict xfails, so the suite is green, the gap is
visible, and a fix that makes one pass turns the xfail into an error to update here.
"""

from __future__ import annotations

import pytest

import zoo
from pytest_mlcheck import CheckFailed

_TIME_CAP = ("issue 14 item 4: 23.6 M parameters at 32×32 on 2 shared CPU cores take ~0.8 s a step: "
             "loss_decreases and not_constant_predictions finished in 82 s, near the 120 s cap under load")

# (member, check) -> (why it fails today, the exception it fails with, strict). Measured with
# benchmarks/zoo_table.py on seed 0 (README, "The zoo"). Time-cap failures depend on the machine's
# speed, so they are not strict.
KNOWN_FAILURES: dict[tuple[str, str], tuple[str, type[BaseException], bool]] = {
    **{("keras ResNet50V2", check): (_TIME_CAP, CheckFailed, False)
       for check in ("loss_decreases", "not_constant_predictions")},
}

# every CI-sized member runs the cheap checks (one step or a few forward passes) in CI; the training
# checks cost seconds to minutes per member: CI runs them on these members, the rest are slow
TRAINING = ["overfit_one_batch", "loss_decreases", "not_constant_predictions", "input_independent_baseline"]
TRAINED_IN_CI = {"resnet18 zero-init residual", "packed bi-lstm", "bert tiny", "gpt2 tiny", "lightning cnn",
                 "keras text (TextVectorization)", "keras tabular (Normalization)"}


def _params() -> list:
    params = []
    for member in zoo.members():
        for check in zoo.CHECKS:
            if member.lm and check in zoo.NOT_FOR_LM:
                continue
            marks = []
            if member.slow or (check in TRAINING and member.name not in TRAINED_IN_CI):
                marks.append(pytest.mark.slow)
            known = KNOWN_FAILURES.get((member.name, check))
            if known:
                reason, raises, strict = known
                marks.append(pytest.mark.xfail(strict=strict, raises=raises, reason=reason))
            params.append(pytest.param(member, check, marks=marks, id=f"{member.name}-{check}"))
    return params


@pytest.mark.parametrize("member,check", _params())
def test_a_correct_real_architecture_passes(mlcheck, member: zoo.Member, check: str) -> None:
    if member.needs:
        pytest.importorskip(member.needs)
    model = member.build(0)
    result = zoo.check_calls(member, 0)[check](mlcheck, model)
    assert result.passed, result


def test_the_zoo_keeps_its_deliberate_initialisations() -> None:
    """The members exercise what the rules must respect: zero-initialised residual scales and a class
    token at std 1e-6 (a refactor of the zoo that lost them would make the zoo tests vacuous)."""
    import torch

    resnet = zoo.ResNet18(width=16, zero_init_residual=True)
    assert all(float(b.bn2.weight.detach().abs().max()) == 0.0 for b in resnet.modules() if isinstance(b, zoo.BasicBlock))
    assert float(zoo.ViT().cls_token.detach().std()) < 1e-5
    bn = [m for m in zoo.MobileNetV3Small(width=0.5).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn and all(m.momentum == 0.01 for m in bn)


def test_zero_init_residual_gradients_are_settled_not_reported(mlcheck) -> None:
    """The first step gives the branches behind a zero BatchNorm scale an all-zero gradient; five more
    steps move the scale and their gradients arrive, so nothing is reported as dead."""
    member = next(m for m in zoo.members() if m.name == "resnet18 zero-init residual")
    result = zoo.check_calls(member, 0)["gradients_flow"](mlcheck, member.build(0))
    assert result.passed
    assert result.figures["settle_steps"] == 5
    assert result.figures["zero_gradients_settled"] == 32  # conv1, bn1.weight/bias, conv2 of each of 8 blocks


def test_a_near_zero_class_token_is_judged_on_the_network_scale(mlcheck) -> None:
    """Against its own norm (1e-5) the class token's gradient is ×1e4; against the network's typical
    weight scale it is ordinary."""
    member = next(m for m in zoo.members() if m.name == "vit tiny")
    result = zoo.check_calls(member, 0)["gradients_flow"](mlcheck, member.build(0))
    assert result.passed
    assert result.figures["max_radial_gradient"] < 1.0


@pytest.mark.parametrize("lr,diverges", [(1e-3, False), (10.0, True)], ids=["Adam 1e-3", "BROKEN Adam lr 10"])
@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_diverging_lr_on_a_recurrent_model_fails_though_it_recovers(mlcheck, check, lr, diverges):
    """Issue 14 item 5: Adam at lr 10 on the packed BiLSTM still memorises its batch, but its loss first
    jumps to ×36–×41 its start; a correct run peaks at ≤ ×4.7 (thresholds.RECOVERED_SPIKE). Whether
    loss_decreases' 100 steps over four batches come back below the start differs between CPUs (the
    float rounding of a run at lr 10): where they do not, the failure tells the same spike."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = zoo.PackedBiLSTM()
    data = zoo._tok(64, 0, 0) if check == "overfit_one_batch" else [zoo._tok(32, 0, 32 * i) for i in range(4)]
    kw = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.Adam(p, lr=lr))
    if not diverges:
        assert getattr(mlcheck, check)(model, data, **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(model, data, **kw)
    text = str(failed.value)
    assert failed.value.causes == ["lr_too_high"], text
    assert "before it came back" in text or (check == "loss_decreases" and "→ peak" in text), text
