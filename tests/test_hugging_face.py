"""Hugging Face models as users hold them (tiny local configs, no downloads): dict and
BatchEncoding batches, the model's own loss from labels=, logits picked from its ModelOutput."""

from __future__ import annotations

import pytest
import torch

from pytest_mlcheck import CheckFailed, MlcheckUsageError

transformers = pytest.importorskip("transformers")


def bert(num_labels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=60, num_labels=num_labels,
                                     max_position_embeddings=32)
    return transformers.BertForSequenceClassification(config)


def encoded(n: int = 16, length: int = 8) -> transformers.BatchEncoding:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 60, (n, length), generator=gen)
    labels = ids[:, 0] % 3  # the first token decides the class: learnable
    return transformers.BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})


def test_a_batch_with_labels_trains_on_the_models_own_loss(mlcheck):
    result = mlcheck.overfit_one_batch(bert(), encoded(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    assert result.passed and result.start_loss > result.end_loss


def test_a_plain_dict_batch_with_a_loss_fn_uses_the_logits(mlcheck):
    batch = dict(encoded())
    assert mlcheck.overfit_one_batch(bert(), batch, loss_fn=torch.nn.CrossEntropyLoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-3)).passed


def test_inference_checks_read_the_logits_of_named_inputs(mlcheck):
    inputs = {k: v for k, v in encoded().items() if k != "labels"}
    assert mlcheck.output_range(bert(), inputs, kind="logits", num_classes=3).passed
    assert mlcheck.output_range(bert(), encoded(), kind="logits").passed  # labels are not an input
    result = mlcheck.inputs_normalized(inputs, model=bert())
    assert result.passed and result.figures["first_layer"] == "lookup"  # token ids feed an embedding


def test_labels_beyond_the_head_fail_with_a_cause_not_a_crash(mlcheck):
    batch = encoded()
    batch["labels"] = batch["labels"] + 5
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(bert(), batch)
    assert failed.value.causes, str(failed.value)


def test_a_dict_batch_without_labels_names_its_keys(mlcheck):
    inputs = {k: v for k, v in encoded().items() if k != "labels"}
    with pytest.raises(MlcheckUsageError, match=r"put the targets under 'labels'"):
        mlcheck.overfit_one_batch(bert(), inputs)
