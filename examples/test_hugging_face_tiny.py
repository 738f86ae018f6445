"""How a project with a Hugging Face classifier tests that it can learn: a tiny BERT built from a
local config (no download), batches as a tokenizer hands them over (a BatchEncoding with labels),
and the model's own loss. Run with `pytest examples/`."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")


def tiny_bert() -> "transformers.BertForSequenceClassification":
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=60, num_labels=3,
                                     max_position_embeddings=32)
    return transformers.BertForSequenceClassification(config)


def encoded(n: int = 32, length: int = 8) -> "transformers.BatchEncoding":
    """Token ids whose first token decides the class, as a tokenizer's BatchEncoding with labels."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 60, (n, length), generator=gen)
    return transformers.BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                                       "labels": ids[:, 0] % 3})


def test_the_classifier_memorises_one_batch_on_its_own_loss(mlcheck):
    mlcheck.overfit_one_batch(tiny_bert(), encoded())  # no loss_fn=: the model's labels= loss


def test_one_step_reaches_every_layer(mlcheck):
    mlcheck.gradients_flow(tiny_bert(), encoded())


def test_the_logits_are_logits(mlcheck):
    inputs = {k: v for k, v in encoded().items() if k != "labels"}
    mlcheck.output_range(tiny_bert(), inputs, kind="logits")  # read through the ModelOutput's logits


def test_token_ids_are_not_unnormalised_inputs(mlcheck):
    inputs = {k: v for k, v in encoded().items() if k != "labels"}
    mlcheck.inputs_normalized(inputs, model=tiny_bert())  # ids feed an embedding
