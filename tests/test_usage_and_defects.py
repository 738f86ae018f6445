"""Misuse of the API is a usage error naming the argument; a defect in the user's model or data is
a failed check naming its cause — never a raw framework exception."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import DigitsCNN, digits_batch, held_out, raw_images, to_chw

CE = nn.CrossEntropyLoss()


def _exhausted():
    gen = iter([digits_batch(8)])
    next(gen)
    return gen


def _factory_over(m, *, original: bool):
    """A factory that ignores the parameters it is given: closing over the model passed to the check
    (a misuse of the factory contract: the check trains a copy), or building over another network's
    tensors, as PyTorch-RL's GAIL built the discriminator's Adam over the critic (the program's defect:
    the model never trains)."""
    model, critic = DigitsCNN(), nn.Linear(4, 1)
    other = model if original else critic
    return m.overfit_one_batch(model, digits_batch(8), loss_fn=CE,
                               optimizer=lambda params: torch.optim.Adam(other.parameters(), lr=1e-3))


def _empty_loader():
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*digits_batch(4)), batch_size=8, drop_last=True)


USAGE = [
    ("model is a class", "model", lambda m: m.overfit_one_batch(DigitsCNN, digits_batch(8), loss_fn=CE)),
    ("model is an array", "model", lambda m: m.loss_decreases(torch.zeros(3), [digits_batch(8)], loss_fn=CE)),
    ("no loss for a torch model", "loss_fn", lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8))),
    ("loss is not callable", "loss_fn", lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn="ce")),
    ("loss returns a vector", "loss_fn",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=nn.CrossEntropyLoss(reduction="none"))),
    ("loss returns a string", "loss_fn",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=lambda o, y: "low")),
    ("optimizer is a string", "optimizer",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, optimizer="adam")),
    ("optimizer class is not an optimizer", "optimizer",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, optimizer=dict)),
    ("optimizer factory returns something else", "optimizer",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, optimizer=lambda p: None)),
    ("optimizer factory over the original model's parameters, not those it is given", "optimizer",
     lambda m: _factory_over(m, original=True)),
    ("optimizer over another model's tensors", "optimizer",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE,
                                   optimizer=torch.optim.SGD(nn.Linear(3, 3).parameters(), lr=0.1))),
    ("train_step is not callable", "train_step",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, train_step=3)),
    ("train_step returns nothing", "train_step",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, train_step=lambda *a: None)),
    ("batch is a number", "batch", lambda m: m.overfit_one_batch(DigitsCNN(), 3, loss_fn=CE)),
    ("batch is an empty list", "batch", lambda m: m.overfit_one_batch(DigitsCNN(), [], loss_fn=CE)),
    ("batch holds a dict", "batch",
     lambda m: m.overfit_one_batch(DigitsCNN(), [{"x": 1}], loss_fn=CE)),
    ("batches is an empty list", "batches", lambda m: m.loss_decreases(DigitsCNN(), [], loss_fn=CE)),
    ("batches is a zero-batch loader", "batches", lambda m: m.loss_decreases(DigitsCNN(), _empty_loader(), loss_fn=CE)),
    ("batches is an exhausted generator", "batches", lambda m: m.loss_decreases(DigitsCNN(), _exhausted(), loss_fn=CE)),
    ("steps is zero", "steps", lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, steps=0)),
    ("steps is a float", "steps", lambda m: m.loss_decreases(DigitsCNN(), [digits_batch(8)], loss_fn=CE, steps=2.5)),
    ("too few steps for a trend", "steps",
     lambda m: m.loss_decreases(DigitsCNN(), [digits_batch(8)], loss_fn=CE, steps=3)),
    ("unknown task", "task", lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, task="cls")),
    ("min drop above one", "min_drop",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, min_drop=2)),
    ("min drop of zero", "min_drop", lambda m: m.loss_decreases(DigitsCNN(), [digits_batch(8)], loss_fn=CE, min_drop=0)),
    ("tuple output without output=", "output",
     lambda m: m.overfit_one_batch(nn.LSTM(8, 4, batch_first=True), (torch.zeros(4, 3, 8), torch.zeros(4, 3, 4)),
                                   loss_fn=nn.MSELoss())),
    ("output= index out of range", "output",
     lambda m: m.overfit_one_batch(nn.LSTM(8, 4, batch_first=True), (torch.zeros(4, 3, 8), torch.zeros(4, 3, 4)),
                                   loss_fn=nn.MSELoss(), output=5)),
    ("device name unknown", "device",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, device="tpu")),
    ("cuda asked for on a machine without it", "device",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, device="cuda")),
    ("seed negative", "seed", lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, seed=-1)),
    ("max seconds zero", "max_seconds",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE, max_seconds=0)),
    ("examples zero", "examples",
     lambda m: m.output_range(DigitsCNN(), held_out(8), kind="logits", examples=0)),
    ("a model on the meta device (no weights)", "model",
     lambda m: m.overfit_one_batch(DigitsCNN().to("meta"), digits_batch(8), loss_fn=CE)),
    ("gpu and a cpu device in one marker", "gpu",
     lambda m: m.settings.merged({"gpu": True, "device": "cpu"}, source="@pytest.mark.mlcheck")),
    ("an unknown marker key", "unknown key",
     lambda m: m.settings.merged({"sed": 1}, source="@pytest.mark.mlcheck")),
    # output_range, not_constant_predictions
    ("output_range with an unknown kind", "kind", lambda m: m.output_range(DigitsCNN(), held_out(8), kind="probs")),
    ("output_range with low above high", "low/high",
     lambda m: m.output_range(DigitsCNN(), held_out(8), low=1.0, high=0.0)),
    ("output_range on an empty list of inputs", "inputs", lambda m: m.output_range(DigitsCNN(), [], kind="logits")),
    ("not_constant_predictions with max_share 1.5", "max_share",
     lambda m: m.not_constant_predictions(DigitsCNN(), held_out(), max_share=1.5)),
    ("not_constant_predictions on 3 copies of one image", "inputs",
     lambda m: m.not_constant_predictions(DigitsCNN(), held_out(1).repeat(3, 1, 1, 1))),
    # preprocessing_parity, label_roundtrip
    ("a pipeline that is not callable", "eval_pipeline",
     lambda m: m.preprocessing_parity(to_chw, "resize", raw_images())),
    ("no raw samples", "raw_samples", lambda m: m.preprocessing_parity(to_chw, to_chw, [])),
    ("a negative atol", "atol", lambda m: m.preprocessing_parity(to_chw, to_chw, raw_images(), atol=-1)),
    ("an encoder that is a number", "encode", lambda m: m.label_roundtrip(3, ["a"], ["a"])),
    ("a model for label_roundtrip without inputs", "model/inputs",
     lambda m: m.label_roundtrip({"a": 0}, ["a"], ["a"], model=DigitsCNN())),
    # recipe checks
    ("init_loss with a negative expected loss", "expected",
     lambda m: m.init_loss(DigitsCNN(), digits_batch(8), loss_fn=CE, expected=-2.3)),
    ("gradients_flow with a loss that is not callable", "loss_fn",
     lambda m: m.gradients_flow(DigitsCNN(), digits_batch(8), loss_fn=0.5)),
    ("batch_independence on one sample", "inputs", lambda m: m.batch_independence(DigitsCNN(), held_out(1))),
    ("inputs_normalized on a string", "inputs", lambda m: m.inputs_normalized("pixels.npy")),
    ("input_independent_baseline on 16 samples", "batch",
     lambda m: m.input_independent_baseline(DigitsCNN(), digits_batch(16), loss_fn=CE)),
    ("input_independent_baseline with margin 0", "margin",
     lambda m: m.input_independent_baseline(DigitsCNN(), digits_batch(64), loss_fn=CE, margin=0)),
    ("no_split_leakage with max_overlap 1", "max_overlap",
     lambda m: m.no_split_leakage(held_out(8), held_out(8), max_overlap=1.0)),
    ("no_split_leakage with an empty train split", "train", lambda m: m.no_split_leakage([], held_out(8))),
    ("no_split_leakage on samples of two sizes", "test",
     lambda m: m.no_split_leakage(held_out(8), torch.zeros(4, 3))),
    ("a strategy built with an unknown image kind", "kind",
     lambda m: __import__("pytest_mlcheck.strategies", fromlist=["x"]).image_batches(kind="rgb")),
]


@pytest.mark.parametrize("name,argument,call", USAGE, ids=[u[0] for u in USAGE])
def test_misuse_is_a_usage_error_that_names_the_argument(mlcheck, name, argument, call):
    if argument == "device" and "cuda" in name and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(MlcheckUsageError) as info:
        call(mlcheck)
    assert argument in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def _nan_batch():
    x, y = digits_batch(16)
    x[3, 0, 2, 2] = float("nan")
    return x, y


DEFECTS = [
    ("labels beyond the head", "head_width",
     lambda m: m.overfit_one_batch(DigitsCNN(num_classes=5), digits_batch(32), loss_fn=CE)),
    ("negative labels", "labels_invalid",
     lambda m: m.overfit_one_batch(DigitsCNN(), (digits_batch(8)[0], -torch.ones(8, dtype=torch.long)), loss_fn=CE)),
    ("NaN in a batch", "inputs_not_finite", lambda m: m.overfit_one_batch(DigitsCNN(), _nan_batch(), loss_fn=CE)),
    ("a batch that does not fit the model", "input_shape",
     lambda m: m.overfit_one_batch(DigitsCNN(), (torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)), loss_fn=CE)),
    ("uint8 images fed to a float model", "input_dtype",
     lambda m: m.overfit_one_batch(DigitsCNN(), ((digits_batch(8)[0] * 255).byte(), digits_batch(8)[1]), loss_fn=CE)),
    ("x and y of different lengths", "xy_length_mismatch",
     lambda m: m.loss_decreases(DigitsCNN(), [(digits_batch(8)[0], digits_batch(6)[1])], loss_fn=CE)),
    ("a loss detached through a float", "no_gradient",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8),
                                   loss_fn=lambda o, y: torch.tensor(float(CE(o.detach(), y))))),
    ("a loss rebuilt as a new leaf tensor", "no_gradient",  # REINFORCE ports: torch.tensor(loss.item(), requires_grad=True)
     lambda m: m.loss_decreases(DigitsCNN(), [digits_batch(8)],
                                loss_fn=lambda o, y: torch.tensor(float(CE(o, y)), requires_grad=True))),
    ("an optimizer factory that builds over another network's tensors", "params_not_updated",
     lambda m: _factory_over(m, original=False)),
    ("an optimizer built over another instance of the model", "params_not_updated",
     lambda m: m.overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=CE,
                                   optimizer=torch.optim.SGD(DigitsCNN().parameters(), lr=0.1))),
    ("nothing trainable", "params_not_updated",
     lambda m: m.overfit_one_batch(DigitsCNN().requires_grad_(False), digits_batch(8), loss_fn=CE)),
    ("a device hard-coded in forward", "device_mismatch",
     lambda m: m.overfit_one_batch(HardCodedDevice(), digits_batch(8), loss_fn=CE)),
    ("labels beyond the head, init loss", "head_width",
     lambda m: m.init_loss(DigitsCNN(num_classes=5), digits_batch(32), loss_fn=CE)),
    ("a batch that does not fit, one step", "input_shape",
     lambda m: m.gradients_flow(DigitsCNN(), (torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)), loss_fn=CE)),
    ("x and y of different lengths, baseline", "xy_length_mismatch",
     lambda m: m.input_independent_baseline(DigitsCNN(), (digits_batch(64)[0], digits_batch(60)[1]), loss_fn=CE)),
    ("a pipeline that raises on a sample", "preprocessing_mismatch",
     lambda m: m.preprocessing_parity(to_chw, lambda im: 1 / 0, raw_images())),
]


class HardCodedDevice(nn.Module):
    """Adds a tensor created on a fixed device (the meta device stands in for a hard-coded .cuda())."""

    def __init__(self) -> None:
        super().__init__()
        self.net = DigitsCNN()

    def forward(self, x):
        return self.net(x) + torch.zeros(1, device="meta")


@pytest.mark.parametrize("name,cause,call", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_user_defect_is_a_failed_check_with_its_cause(mlcheck, name, cause, call):
    with pytest.raises(CheckFailed) as info:
        call(mlcheck)
    assert info.value.causes[0] == cause, str(info.value)
    assert f"cause {cause}:" in str(info.value)
    assert info.value.result is not None and not info.value.result.passed


@pytest.mark.parametrize("sequence_first", [True, False])
def test_a_sequence_first_batch_is_named_as_such_beside_the_length_mismatch(mlcheck, sequence_first):
    # Text-Classification-Models-Pytorch's fastText takes torchtext's (seq_len, batch) token ids
    tokens = torch.randint(0, 50, (40, 128) if sequence_first else (127, 40))
    labels = torch.randint(0, 4, (128,))
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(320, 4))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(model, (tokens, labels), loss_fn=nn.CrossEntropyLoss())
    assert failed.value.causes == ["xy_length_mismatch"]
    assert ("if it is sequence-first, the checks read dim 0 as the batch" in str(failed.value)) == sequence_first
