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

    def prepare(self, x: Any, y: Any = None) -> Any:
        """Convert one (x, y) batch (y may be None) for this model and device; an opaque handle."""

    def labels(self, batch: Any) -> np.ndarray:
        """The batch's targets as numpy."""

    def inputs(self, batch: Any) -> np.ndarray | None:
        """The batch's inputs as numpy (None if they are not one array)."""

    def train_step(self, batch: Any) -> float:
        """One training step on the copy; returns the loss before the update."""

    def predict(self, batch: Any) -> np.ndarray:
        """The selected output in eval mode, without gradients."""

    def loss(self, batch: Any) -> float:
        """The loss on the batch without an update (NaN when there is no loss to compute)."""

    def loss_of(self, outputs: np.ndarray, batch: Any) -> float:
        """The user's loss for given outputs on the batch's targets (NaN if it cannot say)."""

    def clear_gradients(self) -> None:
        """Drop accumulated gradients (a no-op where steps never accumulate)."""

    def gradient_norm(self) -> float:
        """The global norm of the accumulated gradients (0 where there are none)."""

    def uncovered_parameters(self) -> list[str]:
        """Names of trainable parameters the optimizer does not update."""

    def trainable_count(self) -> int:
        """Number of trainable parameter tensors."""

    def parameter_values(self) -> dict[str, np.ndarray]:
        """Each trainable parameter's current value, by name."""

    def frozen_values(self) -> dict[str, np.ndarray]:
        """Each frozen weight's current value, by name (state such as moving statistics excluded)."""

    def gradients(self, batch: Any) -> dict[str, np.ndarray | None]:
        """Gradients of the loss on the batch per trainable parameter, without an update."""

    def step_gradients(self) -> dict[str, np.ndarray | None]:
        """The gradients the user's own step left behind ({} where they are not visible)."""

    def input_gradient(self, batch: Any, index: int) -> np.ndarray | None:
        """d(sum of output ``index``)/d(inputs) in eval mode; None for non-float inputs."""

    def weighted_layer_inputs(self, batch: Any, *, training: bool) -> list[tuple[str, np.ndarray]]:
        """What reaches each layer with a weight matrix or kernel, in call order."""

    def first_layer_input(self, batch: Any) -> tuple[np.ndarray, bool] | None:
        """What reaches the first layer with a weight matrix or kernel, and whether it is a lookup."""

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
        inference: bool = False,
    ) -> Session:
        """Copy (or snapshot) the model on ``device``, build its optimizer unless ``inference``,
        and seed every RNG inside a guard that restores them on ``close``."""
