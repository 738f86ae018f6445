"""Pick the tensor to check out of a model's output (tuple, dict, dataclass), framework-neutral."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from pytest_mlcheck.errors import MlcheckUsageError, describe


def select_output(raw: Any, output: Any, *, is_tensor: Callable[[Any], bool]) -> Any:
    if output is None:
        if is_tensor(raw):
            return raw
        keys = list(raw.keys()) if isinstance(raw, Mapping) else None
        hint = f"a key such as output={keys[0]!r}" if keys else "an index such as output=0"
        raise MlcheckUsageError(
            f"output: the model returned {describe(raw)}, not one tensor; pass output= to pick the tensor "
            f"to check ({hint}, or a callable)"
        )
    try:
        if callable(output):
            chosen = output(raw)
        elif isinstance(output, int) and not isinstance(output, bool):
            chosen = raw[output]
        elif isinstance(output, str):
            chosen = raw[output] if isinstance(raw, Mapping) else getattr(raw, output)
        else:
            raise MlcheckUsageError(
                f"output: expected a key, an index or a callable, got {describe(output)}"
            )
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise MlcheckUsageError(
            f"output: {output!r} does not select a tensor from the model's output ({describe(raw)}): {exc}"
        ) from None
    if not is_tensor(chosen):
        raise MlcheckUsageError(f"output: {output!r} selected {describe(chosen)}, not a tensor")
    return chosen
