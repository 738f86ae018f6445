"""What a torch loss does with the outputs it scores, watched through ``TorchFunctionMode``: the torch
adapter and Keras on the torch backend (whose ops call torch's) share it."""

from __future__ import annotations

from typing import Any, Callable

import torch

from pytest_mlcheck.backends.base import Crossing


class LossWatch(torch.overrides.TorchFunctionMode):
    """Records squared, absolute and Huber error losses whose input and target broadcast each other
    to a shape larger than both ((B, 1) against (B,) gives (B, B)); a broadcast within one sample
    ((B, 4) heads against (B, 1) targets, one constant against every output) is not recorded. With
    ``elementwise``, also elementwise operations between an operand computed from the outputs (one
    that requires grad) and one computed without them that do (:class:`Crossing`). The operations
    are those the TensorFlow trace reads (keras_backend._ELEMENTWISE); a value taken from the outputs
    through an argmax or a detach no longer requires grad and reads as the targets' side here."""

    FUNCS = (torch.nn.functional.mse_loss, torch.nn.functional.l1_loss, torch.nn.functional.smooth_l1_loss,
             torch.nn.functional.huber_loss)
    ELEMENTWISE = frozenset({
        "mul", "__mul__", "__rmul__", "multiply", "add", "__add__", "__radd__", "sub", "__sub__", "__rsub__",
        "subtract", "div", "__truediv__", "__rtruediv__", "true_divide", "divide", "masked_select",
        "masked_fill", "where", "maximum", "minimum", "pow", "__pow__", "floor_divide", "__floordiv__",
        "eq", "ne", "lt", "le", "gt", "ge", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"})

    def __init__(self, *, elementwise: bool = False) -> None:
        super().__init__()
        self.elementwise = elementwise
        self.crossed: list[Crossing] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in self.FUNCS:
            given = [args[k] if k < len(args) else kwargs.get(name) for k, name in enumerate(("input", "target"))]
            if all(isinstance(t, torch.Tensor) for t in given):
                self._record(func.__name__, given[0], given[1], pointwise=True)
        elif self.elementwise and getattr(func, "__name__", None) in self.ELEMENTWISE:
            operands = [a for a in args[:3] if isinstance(a, torch.Tensor)]
            for i, a in enumerate(operands):
                for b in operands[i + 1:]:
                    if a.requires_grad != b.requires_grad:
                        self._record(func.__name__, *((a, b) if a.requires_grad else (b, a)), pointwise=False)
        return func(*args, **kwargs)

    def _record(self, name: str, a: torch.Tensor, b: torch.Tensor, *, pointwise: bool) -> None:
        crossing = Crossing.of(name, tuple(a.shape), tuple(b.shape), pointwise=pointwise)
        if crossing is not None:
            self.crossed.append(crossing)


def elementwise_crossings(score: Callable[[torch.Tensor], Any], outputs: torch.Tensor) -> list[Crossing]:
    """What ``score`` (the user's loss of given outputs) crosses elementwise, run on ``outputs`` made
    to require grad: what is computed from them carries that, the targets do not."""
    watch = LossWatch(elementwise=True)
    try:
        with torch.enable_grad(), watch:
            score(outputs.detach().requires_grad_(True))
    except Exception:  # a loss that will not run on such outputs (.numpy() on them) says what it saw
        pass
    return watch.crossed
