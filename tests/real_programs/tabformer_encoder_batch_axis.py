"""TabFormer's hierarchical row embedding runs a field-level ``nn.TransformerEncoder`` (sequence
first, PyTorch 1.6) on a tensor laid out batch first: the embedded fields, viewed as
``(batch * seq_len, ncols, field_hidden)``, are read as ``(S, N, E)``, so every field attends over
all rows of all sequences in the batch instead of over the fields of its own row — "expects the batch
size to be in the second dimension ... the current implementation places the batch size in the first
dimension which causes an incorrect computation during multiheaded attention".

Source: github.com/IBM/TabFormer PR #14 (commit 09b4273cb8fb7fea5aca898c7c9bdadb05c44f23, completed by
the maintainer's 600d4e922a3278d2928c3221d7aa90da71647a12 "minor fix to #14"); buggy
models/hierarchical.py ``TabFormerEmbeddings`` at 820345c3a6c483e06baca2e1cfaee341eef6c495 (kept:
the shared ``nn.Embedding`` with padding_idx 0, one ``TransformerEncoderLayer(d_model=field_hidden,
nhead=8, dim_feedforward=field_hidden)``, ``lin_proj`` to hidden = field_hidden * ncols;
``enable_nested_tensor=False`` added only to silence a warning of current PyTorch). Not kept:
the BERT masked-LM body the embeddings feed (HF Trainer defaults: AdamW, lr 5e-5) — replaced here by
a mean over the sequence and a Linear fraud head trained with cross-entropy and AdamW(lr 5e-5).
Sizes reduced for CPU (field_hidden 32 instead of 768); data: a stand-in for the card-transaction
windows (10 rows x 12 categorical fields, token ids < 100, a binary label that follows from them).
Fault label: batch_mixing. Fix (600d4e9): view as ``(-1, ncols, field_hidden)``, ``permute(1, 0, 2)``
before the encoder and back after, so the encoder's sequence axis is the fields. Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "batch_mixing"
SOURCE = "github:IBM/TabFormer PR #14 (models/hierarchical.py@820345c, fixes 09b4273 + 600d4e9)"
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

VOCAB, SEQ_LEN, NCOLS, FIELD_HS = 100, 10, 12, 32


def _windows(n: int, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (n, SEQ_LEN, NCOLS))
    y = (ids[:, :, 3] > 70).sum(1) >= 3  # "fraud" when a field runs high in several rows
    return ids.astype("int64"), y.astype("int64")


def _build(fields_first: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class TabFormerEmbeddings(nn.Module):  # program lines: models/hierarchical.py
        def __init__(self, config):
            super().__init__()
            self.word_embeddings = nn.Embedding(config["vocab_size"], config["field_hidden_size"],
                                                padding_idx=config.get("pad_token_id", 0), sparse=False)
            encoder_layer = nn.TransformerEncoderLayer(d_model=config["field_hidden_size"], nhead=config["nhead"],
                                                       dim_feedforward=config["field_hidden_size"])
            self.transformer_encoder = nn.TransformerEncoder(encoder_layer, num_layers=config["num_layers"],
                                                             enable_nested_tensor=False)
            self.lin_proj = nn.Linear(config["field_hidden_size"] * config["ncols"], config["hidden_size"])

        def forward(self, input_ids):
            inputs_embeds = self.word_embeddings(input_ids)
            embeds_shape = list(inputs_embeds.size())
            if fields_first:  # 600d4e9
                inputs_embeds = inputs_embeds.view([-1] + embeds_shape[-2:])
                inputs_embeds = inputs_embeds.permute(1, 0, 2)
                inputs_embeds = self.transformer_encoder(inputs_embeds)
                inputs_embeds = inputs_embeds.permute(1, 0, 2)
                inputs_embeds = inputs_embeds.contiguous().view(embeds_shape[0:2] + [-1])
                inputs_embeds = self.lin_proj(inputs_embeds)
            else:  # 820345c
                inputs_embeds = self.transformer_encoder(inputs_embeds.view([-1] + embeds_shape[-2:]))
                inputs_embeds = self.lin_proj(inputs_embeds.view(embeds_shape[:-2] + [-1]))
            return inputs_embeds

    class FraudClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            config = {"vocab_size": VOCAB, "field_hidden_size": FIELD_HS, "nhead": 8, "num_layers": 1,
                      "ncols": NCOLS, "hidden_size": FIELD_HS * NCOLS}
            self.tab_embeddings = TabFormerEmbeddings(config)
            self.head = nn.Linear(config["hidden_size"], 2)

        def forward(self, input_ids):
            return self.head(self.tab_embeddings(input_ids).mean(dim=1))

    x, y = _windows(128)
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + 32], yt[i:i + 32]) for i in range(0, 128, 32)]
    return {"model": FraudClassifier(), "batch": batches[0], "batches": batches,
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.AdamW(p, lr=5e-5)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
