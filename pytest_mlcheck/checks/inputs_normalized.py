"""inputs_normalized: inputs reach the model as floats at about unit scale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.diagnosis import scale_causes, scaled_twice
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


def _alike_in_every_sample(x: np.ndarray) -> bool:
    """Every sample's values the same as the first's (a state that starts at 0, a learned query or
    bias broadcast over the batch): nothing of the samples' inputs in it. Two samples or more."""
    if not np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_ or x.ndim == 0 or len(x) < 2:
        return False
    return bool(np.array_equal(x, np.broadcast_to(x[:1], x.shape), equal_nan=np.issubdtype(x.dtype, np.floating)))


def _offset_only(raw: Any, x: np.ndarray, said: str) -> list[Evidence]:
    """Values that reach unit scale only through an offset: the samples differ from their mean by less
    than INPUT_MIN_PEAK in every feature, so the spread that tells them apart stays far below unit
    scale. A raw input scaled twice that the model shifted but did not rescale (DRAW's
    ``x - sigmoid(canvas)`` is about -0.5), or features min-max scaled with another quantity's range
    (tsts fitted the targets' scaler and applied it to the inputs: -0.67 ± 0.0055)."""
    if x.ndim == 0 or len(x) < 2 or not np.issubdtype(x.dtype, np.floating):
        return []
    flat = x.reshape(len(x), -1)
    centred = flat - flat.mean(axis=0, keepdims=True)
    if not scaled_twice(centred):
        return []
    apart = fmt(float(np.max(np.abs(centred))))
    raw = as_numpy(raw) if hasattr(raw, "shape") else x
    if scaled_twice(raw):
        return [(C.INPUTS_NOT_NORMALIZED,
                 f"the input never exceeds {fmt(float(np.max(np.abs(raw))))} in magnitude: scaled twice? "
                 f"(x / 255 / 255); {said} differs between samples by at most {apart} from their mean (the model shifts the input but "
                 "does not rescale it); inputs should reach about 1")]
    return [(C.INPUTS_NOT_NORMALIZED,
             f"{said} spans {fmt(float(np.min(flat)))}..{fmt(float(np.max(flat)))} but differs between samples by at "
             f"most {apart} from their mean: an offset carries it while the part that tells samples apart stays far "
             "below unit scale (scaled with another quantity's range?); standardise each feature with its own mean "
             "and std, fitted on the inputs")]


def _raw_reaches(raw: Any, later: list[tuple[str, np.ndarray, bool]]) -> tuple[str, np.ndarray] | None:
    """The first weighted layer after the first whose input is off unit scale, where the raw input is
    too: a wide-and-deep model normalises its deep path and feeds the raw features to its head."""
    if not hasattr(raw, "shape") or not scale_causes(as_numpy(raw), ""):
        return None
    return next(((name, value) for name, value, lookup in later if not lookup and scale_causes(value, "")), None)


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
    ids into an embedding pass; where the raw input is off unit scale, a later weighted layer it
    reaches un-normalised fails it too (a wide-and-deep model's raw wide path into the head).
    ``output=`` selects the output of a model that returns a tuple, dict or ``ModelOutput``."""
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
            every = session.weighted_inputs(session.prepare(batches[0]))
        # a layer whose input is the same for every sample reads nothing of the inputs (a recurrent state
        # or canvas that starts at 0: DRAW's decoder ran first on zeros): the first that varies is judged
        varies = [lookup or not _alike_in_every_sample(value) for _, value, lookup in every]
        seen = [s for s, v in zip(every, varies) if v]
        first = varies.index(True) if seen else len(every)  # the layers before it are passed over
        if first:
            skipped = [name for name, _, _ in every[:first]]
            run.result.notes.append(f"the input of {', '.join(map(repr, skipped[:3]))}"
                                    + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
                                    + " is the same for every sample (a state that starts at 0), which says nothing of "
                                    "the inputs: " + ("judged the first weighted layer whose input varies" if seen
                                                      else "judged the raw input"))
        if not seen:
            x = as_numpy(batches[0])
            where = "input"
            if not every:  # those passed over said so above
                run.result.notes.append("no layer with a weight matrix or kernel ran: judged the raw input")
        else:
            _, x, lookup = seen[0]
            where = "first_layer_input"
            run.result.figures["first_layer"] = "lookup" if lookup else "weighted sum"
            if lookup:
                run.result.figures[where] = _stats(x)
                return run.passed()
            later = None if scale_causes(x, "") else _raw_reaches(batches[0], seen[1:])
            if later is not None:  # the first layer's input is fine, the raw input reaches a later one
                layer, x = later
                where = "layer_input"
                run.result.figures["layer"] = layer
                run.result.notes.append(f"what reaches the first weighted layer is at unit scale, but the raw input, "
                                        f"off unit scale, reaches layer {layer!r} past it un-normalised")
    run.result.figures["samples"] = int(len(x))
    said = {"input": "the input", "first_layer_input": "what reaches the model's first weighted layer"}.get(
        where, f"what reaches the model's weighted layer {run.result.figures.get('layer')!r}")
    stats = _stats(x)
    run.figure(where, stats, f"{said}: {_described(stats)}")
    causes = scale_causes(x, said)
    if not causes:
        causes = _offset_only(batches[0], x, said)
    if not causes:
        return run.passed()
    if model is None and np.issubdtype(x.dtype, np.integer):
        run.result.notes.append("integer inputs: if they are ids for an embedding or another lookup, pass model= so "
                                "the check judges what reaches the model's first weighted layer")
    raise run.fail(f"{said} is not normalised", causes)
