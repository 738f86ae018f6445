"""Results of a check and the text of a failure."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from pytest_mlcheck.causes import CAUSES

_BARS = "▁▂▃▄▅▆▇█"


@dataclasses.dataclass
class CheckResult:
    """The figures behind a verdict. Returned by a passing check, attached to a failing one."""

    check: str
    passed: bool = False
    steps: int = 0
    start_loss: float = math.nan
    end_loss: float = math.nan
    losses: list[float] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    seed: int = 0
    framework: str | None = None  # "torch" or "keras" once a model was touched
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)  # machine-readable: numbers, strings, dicts
    notes: list[str] = dataclasses.field(default_factory=list)
    causes: list[str] = dataclasses.field(default_factory=list)  # of a failure, most likely first
    headline: str = ""  # of a failure
    finished: bool = True  # False: stopped at the time cap, no verdict on the model
    # How the message shows a figure, where plain "key: value" would read badly ("" hides it)
    shown: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed" if self.finished else "did not finish"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the message layout, as JSON-ready values (non-finite floats as None)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "shown"}
        data["verdict"] = self.verdict
        return plain(data)

    def summary(self) -> str:
        """One line: the check, the verdict and its main figures."""
        parts = [f"{self.check} {self.verdict}"]
        if self.steps:
            parts.append(f"{self.steps} steps")
        if self.losses:
            parts.append(f"loss {fmt(self.start_loss)} → {fmt(self.end_loss)}")
        parts.append(f"{self.seconds:.2f}s on {self.device}, seed {self.seed}")
        return ", ".join(parts)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, tuples and non-finite floats made JSON-ready."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(value: float) -> str:
    """A loss or figure in at most four significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return f"{value:.4g}"


def render(value: Any, limit: int = 12) -> str:
    """A figure as the message shows it: numbers in four significant digits, mappings as
    ``key value; ...`` (the first ``limit``)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        items = [f"{k} {render(v)}" for k, v in list(value.items())[:limit]]
        more = len(value) - limit
        return "; ".join(items) + (f"; … {more} more" if more > 0 else "")
    return str(value)


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """A one-line curve; non-finite values show as '×'. Long curves are sampled to ``width``."""
    if not values:
        return ""
    if len(values) > width:
        idx = [round(i * (len(values) - 1) / (width - 1)) for i in range(width)]
        values = [values[i] for i in idx]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "×" * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append("×")
        else:
            out.append(_BARS[min(len(_BARS) - 1, int((v - lo) / span * (len(_BARS) - 1) + 0.5))])
    return "".join(out)


def failure_message(result: CheckResult, headline: str, causes: Sequence[tuple[str, str]] = ()) -> str:
    """The text of a CheckFailed: headline, figures, curve, seed and causes with evidence."""
    lines = [f"mlcheck.{result.check}: {headline}"]
    if result.losses:
        finite = [v for v in result.losses if math.isfinite(v)]
        best = fmt(min(finite)) if finite else "nan"
        lines.append(
            f"  loss {fmt(result.start_loss)} → {fmt(result.end_loss)} (best {best}) over {result.steps} steps"
        )
        lines.append(f"  curve {sparkline(result.losses)}")
    for key, value in result.figures.items():
        line = result.shown.get(key, f"{key.replace('_', ' ')}: {render(value)}")
        if line:
            lines.append(f"  {line}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    for cause, evidence in causes:
        lines.append(f"  cause {cause}: {evidence}")
        known = CAUSES.get(cause)
        if known is not None:
            lines.append(f"    fix: {known.fix(result.framework)}")
    lines.append(f"  {result.seconds:.2f}s on {result.device}, seed {result.seed} (rerun with --mlcheck-seed={result.seed}; "
                 "it seeds the check's own draws: seed your model's construction too to get the same figures)")
    return "\n".join(lines)
