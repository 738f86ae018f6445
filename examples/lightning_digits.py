"""A LightningModule for scikit-learn's 8x8 digits (offline), as a Lightning project would have it:
the project's CNN inside, the loss in training_step, the optimizer and a warm-up in configure_optimizers."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.nn import functional as F

from digits_torch import DigitsCNN


class LitDigits(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, warmup_steps: int = 10):
        super().__init__()
        self.save_hyperparameters()
        self.model = DigitsCNN()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=self.hparams.warmup_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": warmup, "interval": "step"}}
