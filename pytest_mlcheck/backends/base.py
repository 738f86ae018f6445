"""What a check asks of a framework. Checks hold the logic; adapters answer these questions."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np


class Session(Protocol):
    """A training copy of the user's model on a device, inside a guard of every RNG it could touch.

    Numbers come back as floats and numpy arrays; tensors stay inside the adapter.
    """

    device: str
    optimizer_notes: list[str]

    def prepare(self, x: Any, y: Any) -> Any:
        """Convert one (x, y) batch for this model and device; returns an opaque handle."""

    def labels(self, batch: Any) -> np.ndarray:
        """The batch's targets as numpy."""

    def inputs(self, batch: Any) -> np.ndarray | None:
        """The batch's inputs as numpy (None if they are not one array)."""

    def train_step(self, batch: Any) -> float:
        """One training step on the copy; returns the loss before the update."""

    def predict(self, batch: Any) -> np.ndarray:
        """The selected output in eval mode, without gradients."""

    def uncovered_parameters(self) -> list[str]:
        """Names of trainable parameters the optimizer does not update."""

    def trainable_count(self) -> int:
        """Number of trainable parameter tensors."""

    def scale_lr(self, factor: float) -> None:
        """Multiply the optimizer's learning rates (used by probes on a fresh session)."""

    def close(self) -> None:
        """Release the copy and restore every RNG."""


class Backend(Protocol):
    name: str

    def open(
        self,
        model: Any,
        *,
        device: str,
        seed: int,
        loss_fn: Callable | None,
        optimizer: Any,
        train_step: Callable | None,
        output: Any,
    ) -> Session:
        """Copy the model to ``device``, build its optimizer, seed every RNG inside a guard."""
