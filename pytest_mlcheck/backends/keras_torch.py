"""Keras 3 adapter, torch backend (see ``keras_common`` for what every Keras adapter shares).

On this backend a Keras variable holds a ``torch.nn.Parameter``: gradients come from
``torch.autograd.grad`` over the forward pass and the loss (no ``.grad`` is written), and the
optimizer applies them, every step eager as Keras's own torch trainer runs them. A model class with
its own ``train_step`` is trained through it (``model.optimizer`` is the check's meanwhile); the
``.grad`` its ``loss.backward()`` leaves on the user's parameters is put back as it was when the
session closes, with everything else.

Not supported (a usage error that names the backend): the ``mixed_float16`` policy."""

from __future__ import annotations

from typing import Any, ContextManager

import keras
import numpy as np
import torch

from pytest_mlcheck.backends import gpu_index
from pytest_mlcheck.backends.base import Crossing
from pytest_mlcheck.backends.interrupts import critical
from pytest_mlcheck.backends.keras_common import KerasBackendBase, KerasSessionBase
from pytest_mlcheck.backends.torch_watch import elementwise_crossings
from pytest_mlcheck.errors import usage


class KerasTorchSession(KerasSessionBase):
    backend = "torch"

    def _resolve_device(self, device: str) -> None:
        if device == "cpu":
            self._device = "cpu"
            return
        self._device = f"cuda:{gpu_index(device, torch.cuda.device_count(), 'torch')}"

    def _place(self) -> ContextManager[Any]:
        return keras.device(self._device)

    def _refuse_unsupported(self) -> None:
        if self._mixed:
            raise usage("model", "a Keras model without the mixed_float16 policy on KERAS_BACKEND=torch", self.model,
                        fix="mixed precision is checked on KERAS_BACKEND=tensorflow only; check the float32 "
                            "model here")

    @critical
    def _capture_backend_state(self) -> None:
        """The ``.grad`` of every parameter: a model's own step (``loss.backward()``) writes them."""
        self._grads = [(p, p.grad) for p in self._parameters()]

    @critical
    def _restore_backend_state(self) -> None:
        for parameter, grad in getattr(self, "_grads", []):
            parameter.grad = grad

    def _parameters(self) -> list[torch.Tensor]:
        return [v.value for v in self.model.variables if isinstance(v.value, torch.nn.Parameter)]

    @critical
    def _remember_new(self) -> None:
        super()._remember_new()
        known = {id(p) for p, _ in self._grads}
        self._grads.extend((p, p.grad) for p in self._parameters() if id(p) not in known)

    def _loss_and_grads(self, x: Any, y: Any, *, training: bool, scale: bool) -> tuple[Any, list[Any]]:
        variables = self.model.trainable_variables
        out = self._forward(x, training=training)
        loss = self._loss(x, y, out, training=training)
        self._scalar(loss)
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            return loss, [None] * len(variables)
        objective = self._objective(loss) if scale else loss
        grads = torch.autograd.grad(objective.reshape(()), [v.value for v in variables], allow_unused=True)
        return loss.detach(), list(grads)

    def _loss_crossings(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        """Watched as the torch adapter watches a torch loss: Keras's ops call torch's, and what is
        computed from outputs that require grad carries that."""
        with self._place():
            return elementwise_crossings(lambda out: self._loss(batch[0], batch[1], out, training=False),
                                         torch.tensor(outputs, dtype=getattr(torch, keras.config.floatx()),
                                                      device=self._device))

    def _input_grad(self, x: Any, index: int) -> Any:
        watched = x.detach().clone().requires_grad_(True)
        target = self._forward(watched, training=False)[index].sum()
        if not target.requires_grad:
            return None
        return torch.autograd.grad(target, watched, allow_unused=True)[0]

    def _output_grad(self, loss: Any, out: Any) -> Any:
        leaf = out.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            value = loss(leaf)
        if not value.requires_grad:
            return None
        return torch.autograd.grad(value, leaf, allow_unused=True)[0]

    def _output_watch(self) -> _LeafWatch:
        return _LeafWatch()


class _LeafWatch:
    """A layer's output replaced by a leaf of the autograd graph (see :class:`OutputWatch`)."""

    def __enter__(self) -> _LeafWatch:
        self.leaves: list[Any] = []  # the leaves themselves; the model goes on with their clones
        self._grad = torch.enable_grad()
        self._grad.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._grad.__exit__(*exc)

    def leaf(self, out: Any) -> Any:
        self.leaves.append(out.detach().requires_grad_(True))
        return self.leaves[-1].clone()  # the model may write into it in place: not into a leaf

    def grads(self, target: Any) -> list[Any]:
        return list(torch.autograd.grad(target, self.leaves, allow_unused=True))


class KerasTorchBackend(KerasBackendBase):
    session = KerasTorchSession
