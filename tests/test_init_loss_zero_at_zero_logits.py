"""init_loss on class targets whose loss costs nothing at all-zero outputs: a cross-entropy of logits costs
ln C there, so the loss reads the outputs as something else. NLLLoss reads log-probabilities (0 is
probability 1 for every class). It was a usage error asking for ``expected=``; it is the model's or the
loss's defect, named: a log_softmax over the batch axis (pointnet.pytorch's classifier, ``dim=0``) is
``output_activation``, raw logits into NLLLoss ``loss_mismatch``. Twins: log_softmax over the classes into
NLLLoss, and logits into CrossEntropyLoss."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck


class _Head(nn.Module):
    def __init__(self, finish: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net, self.finish = tc.digits_mlp(), finish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        if self.finish == "log_softmax over the batch":
            return F.log_softmax(z, dim=0)
        return F.log_softmax(z, dim=1) if self.finish == "log_softmax over the classes" else z


@pytest.mark.parametrize(("finish", "cause"), [("log_softmax over the batch", "output_activation"),
                                               ("logits", "loss_mismatch")])
def test_a_loss_that_costs_nothing_at_zero_logits_names_why(mlcheck: MLCheck, finish: str, cause: str):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_Head(finish), tc.digits_batch(32), loss_fn=nn.NLLLoss())
    assert failed.value.causes == [cause], str(failed.value)
    if cause == "output_activation":  # logits into NLLLoss: the loss's lack of a floor says it first
        assert "on these class targets" in str(failed.value) and "over dim 0, the batch" in str(failed.value)


@pytest.mark.parametrize(("finish", "loss"), [("log_softmax over the classes", nn.NLLLoss()),
                                              ("logits", nn.CrossEntropyLoss())],
                         ids=["log_softmax(dim=1) into NLLLoss", "logits into CrossEntropyLoss"])
def test_a_head_the_loss_reads_as_written_passes(mlcheck: MLCheck, finish: str, loss: nn.Module):
    assert mlcheck.init_loss(_Head(finish), tc.digits_batch(32), loss_fn=loss).passed
