"""A slow run's horizon: how many steps a run at the user's learning rate may take, measured by a
retry at a larger rate. With small steps, training follows the gradient flow, whose course depends
on lr × steps: a fresh copy that reaches a goal at lr×F in n steps says the user's rate needs about
F·n. A run that is still falling at the budget but off course by its own pace (a plateau before the
loss drops) trains on toward that many steps, within the extension cap. The verdict stays the
user's own run: the retry only says how long to watch it."""

from __future__ import annotations

import dataclasses
from typing import Callable

from pytest_mlcheck.thresholds import HORIZON_FACTORS, HORIZON_MARGIN


@dataclasses.dataclass(frozen=True)
class Horizon:
    factor: float  # the retry's lr factor
    steps: int  # the retry's steps to its goal
    goal: str  # what the retry reached, e.g. "fitted the batch"
    limit: int  # the steps the user's run may take in all

    def note(self, budget: int, at: int, met: str | None) -> str:
        """The message line: why the run went on, and where it stopped (``met``: what it reached)."""
        return (f"the loss was still falling at the budget of {budget} steps, too slowly to get there by its own pace; "
                f"a fresh copy at lr×{self.factor:g} {self.goal} in {self.steps} steps, about "
                f"{self.factor * self.steps:,.0f} at your rate, so training went on (up to {self.limit:,} steps): "
                + (f"{met} at step {at:,}; pass steps={at} to say so" if met else f"still short at step {at:,}"))


def horizon(retry: Callable[[float], tuple[bool, float]], reached: Callable[[float], int | None], cap: int,
            goal: str) -> Horizon | None:
    """The horizon from the first retry (lr×10, ×100, ×1000) that reaches its goal — ``reached``
    gives its steps, None or ≤ 0 where it did not — when factor × steps fits in ``cap``; None
    otherwise (a retry that does not reach its goal passes the question to the next factor)."""
    for factor in HORIZON_FACTORS:
        ok, _ = retry(factor)
        n = reached(factor) if ok else None
        if n is not None and n > 0:
            scaled = factor * n
            return Horizon(factor, n, goal, min(cap, int(HORIZON_MARGIN * scaled))) if scaled <= cap else None
    return None
