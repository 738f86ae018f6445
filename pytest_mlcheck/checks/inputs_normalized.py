"""inputs_normalized: inputs reach the model as floats at about unit scale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.diagnosis import scale_causes
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt


def _stats(x: np.ndarray) -> dict[str, Any]:
    """dtype, range, mean and std of the finite values."""
    stats: dict[str, Any] = {"dtype": str(x.dtype)}
    if not np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
        return stats
    finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
    if finite.size:
        stats.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()),
                     std=float(finite.std()))
    return stats


def _described(stats: dict[str, Any]) -> str:
    if "min" not in stats:
        return stats["dtype"]
    return (f"{stats['dtype']} in {fmt(stats['min'])}..{fmt(stats['max'])}, mean {fmt(stats['mean'])}, "
            f"std {fmt(stats['std'])}")


@check()
def inputs_normalized(
    run: CheckRun,
    inputs: Any,
    *,
    model: Any = None,
    output: Any = None,
    seed: int | None = None,
    device: str | None = None,
) -> CheckResult:
    """Inputs are floating point at about unit scale (no uint8, no 0–255 or 0–16 ranges, no
    values squashed near zero). With ``model`` it judges what reaches the model's first layer
    holding a weight matrix or kernel, so a model that rescales inside passes, and integer
    ids into an embedding pass. ``output=`` selects the output of a model that returns a tuple, dict
    or ``ModelOutput`` (only what reaches its first layer is judged)."""
    batches = input_batches(inputs)
    for b in batches:
        if not hasattr(b, "shape") and not (model is not None and isinstance(b, Mapping)):
            raise usage("inputs", "arrays or tensors of samples (or (x, y) pairs of them)", b,
                        fix="named inputs (a dict such as a tokenizer's output) are judged with model=")
    if model is None:
        x = np.concatenate([as_numpy(b).reshape(len(b), -1) for b in batches], axis=0)
        where = "input"
    else:
        with run.session(model, TrainSpec(output=output), inference=True, explain=(batches[0], None)) as session:
            seen = next(iter(session.weighted_inputs(session.prepare(batches[0]))), None)
        if seen is None:
            x = as_numpy(batches[0])
            where = "input"
            run.result.notes.append("no layer with a weight matrix or kernel ran: judged the raw input")
        else:
            x, lookup = seen
            where = "first_layer_input"
            run.result.figures["first_layer"] = "lookup" if lookup else "weighted sum"
            if lookup:
                run.result.figures[where] = _stats(x)
                return run.passed()
    run.result.figures["samples"] = int(len(x))
    said = "the input" if where == "input" else "what reaches the model's first weighted layer"
    stats = _stats(x)
    run.figure(where, stats, f"{said}: {_described(stats)}")
    causes = scale_causes(x, said)
    if not causes:
        return run.passed()
    if model is None and np.issubdtype(x.dtype, np.integer):
        run.result.notes.append("integer inputs: if they are ids for an embedding or another lookup, pass model= so "
                                "the check judges what reaches the model's first weighted layer")
    raise run.fail(f"{said} is not normalised", causes)
