"""inputs_normalized: inputs reach the model as floats at about unit scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import CheckRun, TrainSpec, open_session, user_code_fails
from pytest_mlcheck.checks.training import error_causes
from pytest_mlcheck.diagnosis import scale_causes
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import Settings


def _stats(x: np.ndarray) -> str:
    if not np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
        return f"{x.dtype}"
    finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
    if not finite.size:
        return f"{x.dtype}, no finite values"
    return (f"{x.dtype} in {fmt(float(finite.min()))}..{fmt(float(finite.max()))}, mean {fmt(float(finite.mean()))}, "
            f"std {fmt(float(finite.std()))}")


def inputs_normalized(inputs: Any, *, model: Any = None, settings: Settings) -> CheckResult:
    run = CheckRun("inputs_normalized", settings)
    batches = input_batches(inputs)
    for b in batches:
        if not hasattr(b, "shape"):
            raise usage("inputs", "arrays or tensors of samples (or (x, y) pairs of them)", b)
    if model is None:
        x = np.concatenate([as_numpy(b).reshape(len(b), -1) for b in batches], axis=0)
        where = "the input"
    else:
        session = open_session(model, settings, TrainSpec(), inference=True)
        try:
            with user_code_fails(run, lambda err: error_causes(err, session, (batches[0], None))):
                seen = session.first_layer_input(session.prepare(batches[0]))
        finally:
            session.close()
        if seen is None:
            x = as_numpy(batches[0])
            where = "the input"
            run.result.notes.append("no layer with a weight matrix or kernel ran: judged the raw input")
        else:
            x, lookup = seen
            where = "what reaches the model's first weighted layer"
            run.result.figures["first weighted layer"] = "a lookup (embedding) of integer ids" if lookup else "weighted sum"
            if lookup:
                run.result.figures[where] = _stats(x)
                return run.passed()
    run.result.figures["samples"] = int(len(x))
    run.result.figures[where] = _stats(x)
    causes = scale_causes(x, where)
    if not causes:
        return run.passed()
    raise run.fail(f"{where} is not normalised", causes)
