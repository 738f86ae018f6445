"""Pick the tensor to check out of a model's output (tuple, dict, dataclass), framework-neutral."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from pytest_mlcheck.errors import describe, usage


def select_output(raw: Any, output: Any, *, is_tensor: Callable[[Any], bool]) -> Any:
    """The tensor ``output`` selects from the model's output ``raw``; it must have a batch dimension."""
    chosen = _chosen(raw, output, is_tensor)
    if len(getattr(chosen, "shape", ())) == 0:
        raise usage("output" if output is not None else "model", "outputs with a batch dimension (one row per sample)",
                    fix="the model returned one number for the whole batch (a sum or mean over it?); return "
                        "per-sample outputs, or pick them with output=")
    return chosen


def _chosen(raw: Any, output: Any, is_tensor: Callable[[Any], bool]) -> Any:
    if output is None:
        if is_tensor(raw):
            return raw
        if isinstance(raw, Mapping) and is_tensor(raw.get("logits")):  # a Hugging Face ModelOutput
            return raw["logits"]
        keys = list(raw.keys()) if isinstance(raw, Mapping) else None
        hint = f"a key such as output={keys[0]!r}" if keys else "an index such as output=0"
        raise usage("output", "a selector when the model returns more than one tensor", fix=(
            f"the model returned {describe(raw)}; pass output= to pick the tensor to check ({hint}, or a callable)"))
    try:
        if callable(output):
            chosen = output(raw)
        elif isinstance(output, int) and not isinstance(output, bool):
            chosen = raw[output]
        elif isinstance(output, str):
            chosen = raw[output] if isinstance(raw, Mapping) else getattr(raw, output)
        else:
            raise usage("output", "a key, an index or a callable", output)
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise usage("output", f"a selector of a tensor in the model's output ({describe(raw)})", output,
                    fix=f"selecting it raised {type(exc).__name__}: {exc}") from None
    if not is_tensor(chosen):
        raise usage("output", "a selector of a tensor", output, fix=f"it selected {describe(chosen)}")
    return chosen
