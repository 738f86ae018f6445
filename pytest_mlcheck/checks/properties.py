"""A check fed a Hypothesis strategy runs on every drawn example; a failure is shrunk to a minimal
example. Settings fit a merge gate: no deadline, no example database, seeded from the check's
seed, a budget of ``settings.examples``, and the check's time cap."""

from __future__ import annotations

import reprlib
import sys
from typing import Any, Callable

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.runner import CheckRun
from pytest_mlcheck.errors import CheckFailed, usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import Settings


def is_strategy(value: Any) -> bool:
    """A Hypothesis strategy (hypothesis is imported by whoever built one)."""
    strategies = sys.modules.get("hypothesis.strategies")
    return strategies is not None and isinstance(value, strategies.SearchStrategy)


def describe_example(example: Any) -> str:
    """A drawn example as a CI log can show it: small arrays in full, large ones by their figures."""
    if hasattr(example, "shape") and hasattr(example, "dtype"):
        array = as_numpy(example)
        head = f"{type(example).__module__.split('.')[0]} {array.dtype} array of shape {tuple(array.shape)}"
        if array.size <= 16:
            return f"{head}: {np.array2string(array.reshape(-1), separator=', ')}"
        if array.dtype.kind in "fiub":
            values = array.astype(np.float64)
            bad = ~np.isfinite(values)
            finite = values[~bad]
            parts = []
            if finite.size and finite.min() == finite.max():
                parts.append(f"every {'finite ' if bad.any() else ''}value {fmt(float(finite.min()))}")
            elif finite.size:
                parts.append(f"values {fmt(float(finite.min()))}..{fmt(float(finite.max()))}")
            if bad.any():
                parts.append(f"{int(bad.sum())} non-finite (first {values.reshape(-1)[np.argmax(bad.reshape(-1))]})")
            return f"{head}, " + ", ".join(parts)
        return head
    if isinstance(example, (list, tuple)) and example and hasattr(example[0], "shape"):
        return f"{type(example).__name__} of {len(example)}: " + "; ".join(describe_example(e) for e in example[:3]) + (
            " …" if len(example) > 3 else "")
    return reprlib.Repr(maxlist=12, maxstring=60, maxother=60).repr(example)


def _shrunk(failed: CheckFailed, example: Any, note: str) -> CheckFailed:
    """The failure of one example, with that example shown under its headline."""
    result = failed.result
    shown = describe_example(example)
    if result is not None:
        result.figures = {"example": shown, **result.figures}
    head, _, rest = str(failed).partition("\n")
    message = f"{head}\n  example: {shown}\n  {note}" + (f"\n{rest}" if rest else "")
    return CheckFailed(message, causes=failed.causes, result=result)


class _TimeUp(BaseException):
    """Stops a Hypothesis search at the time cap (a BaseException: Hypothesis neither shrinks nor
    retries it)."""


def for_all(check: str, strategy: Any, settings: Settings, one: Callable[[Any], CheckResult], *,
            judgeable: Callable[[Any], bool] | None = None, argument: str = "inputs") -> CheckResult:
    """Run ``one`` on examples drawn from ``strategy``; raise the shrunk failure, or pass.
    Examples ``judgeable`` rejects (too few samples for the check) are skipped, not failed.

    Inside the user's own @given test no second search is started (that would nest @given):
    the check draws one example from the user's test, whose search and shrinking then cover
    the user's inputs and the check's together."""
    import hypothesis
    import hypothesis.errors
    from hypothesis import HealthCheck, Phase
    from hypothesis import strategies as st
    from hypothesis.control import current_build_context, currently_in_test_context

    if currently_in_test_context():
        example = current_build_context().data.draw(st.data()).draw(strategy, label=f"mlcheck.{check} {argument}")
        if judgeable is not None and not judgeable(example):
            hypothesis.reject()
        try:
            return one(example)
        except CheckFailed as failed:
            raise _shrunk(failed, example, "drawn inside your @given test, which shrinks it") from None

    run = CheckRun(check, settings)
    state: dict[str, Any] = {"drawn": 0, "skipped": 0, "example": None, "failed": False}

    def prop(example: Any) -> None:
        # Past the time cap the search stops at once (the check then did not finish); once a
        # failure is found it is always replayed, so shrinking and Hypothesis's final replay agree.
        if run.out_of_time() and not state["failed"]:
            raise _TimeUp
        if judgeable is not None and not judgeable(example):
            state["skipped"] += 1
            hypothesis.reject()
        state["drawn"] += 1
        state["example"] = example
        try:
            one(example)
        except CheckFailed:
            state["failed"] = True
            raise

    config = hypothesis.settings(
        database=None,  # nothing written into the user's repository
        deadline=None,  # real models on shared CI machines vary in speed
        max_examples=settings.examples,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    test = hypothesis.seed(settings.seed)(config(hypothesis.given(strategy)(prop)))
    try:
        test()
    except _TimeUp:  # fewer examples on a slower machine would be another verdict: none instead
        run.result.figures["examples_drawn"] = state["drawn"]
        raise run.time_up(f"after {state['drawn']} of {settings.examples} examples") from None
    except hypothesis.errors.Unsatisfiable:
        raise usage(argument, f"a strategy that draws examples {check} can judge", strategy,
                    fix=f"none of its examples could be judged ({state['skipped']} skipped: too few samples, "
                        "or too few distinct ones); draw larger, more varied batches") from None
    except CheckFailed as failed:
        raise _shrunk(failed, state["example"], f"shrunk by Hypothesis after {state['drawn']} examples "
                                                f"(seed {settings.seed})") from None
    result = run.passed()
    result.figures["examples_drawn"] = state["drawn"]
    if state["skipped"]:
        result.figures["examples_skipped"] = state["skipped"]
        result.notes.append(f"{state['skipped']} drawn example(s) skipped: too few samples to judge")
    return result
