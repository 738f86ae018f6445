"""How every check runs. A check is one function, ``def name(run, ...)``, whose parameters after
``run`` are the public signature; :func:`check` declares it and :func:`bind` makes it a method of
the fixture object. The runner owns what all checks share: the settings keywords (``seed``,
``device``, ``max_seconds``, ``examples``), ``with_defaults`` values, Hypothesis strategy inputs,
the clock, the result, failing with figures, and sessions that turn the user's exceptions into
failed checks and always close."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import time
from typing import TYPE_CHECKING, Any, Callable, Concatenate, Generic, Iterator, ParamSpec, Protocol, Sequence

from pytest_mlcheck.errors import CheckFailed, CheckIncomplete, MlcheckUsageError, UserCodeError
from pytest_mlcheck.report import CheckResult, failure_message
from pytest_mlcheck.settings import Settings
from pytest_mlcheck.thresholds import HANG_CLOCK_FACTOR

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session
    from pytest_mlcheck.causes import Evidence

P = ParamSpec("P")

# Call keywords that configure the run rather than the check; a check declares those it honours.
SETTING_KEYWORDS = ("seed", "device", "max_seconds", "examples")


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """How to train the copy: the user's loss, optimizer, own step and output selector."""

    loss_fn: Callable | None = None
    optimizer: Any = None
    train_step: Callable | None = None
    output: Any = None


class CheckRun:
    """One execution of a check: its settings, clock and result, and how it fails."""

    def __init__(self, check: str, settings: Settings):
        self.settings = settings
        self.result = CheckResult(check=check, device=settings.device, seed=settings.seed)
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def elapsed(self) -> float:
        """Seconds on the clock since the check began (the figure a result reports)."""
        return time.perf_counter() - self._t0

    def worked(self) -> float:
        """Seconds of work the check has had: this process's CPU time since it began, or the clock
        where that is less. What other processes of a busy machine take is not counted, so where the
        cap falls does not depend on the load."""
        return min(self.elapsed(), time.process_time() - self._cpu0)

    def out_of_time(self) -> bool:
        """Past ``max_seconds`` of work, or HANG_CLOCK_FACTOR times it on the clock (a check that waits)."""
        cap = self.settings.max_seconds
        return self.worked() > cap or self.elapsed() > HANG_CLOCK_FACTOR * cap

    def time_up(self, what: str) -> CheckIncomplete:
        """The check did not finish: stopped at its time cap (checked between steps and probe
        steps; no signals). No verdict on the model, so no causes."""
        self.result.passed = False
        self.result.finished = False
        self.result.seconds = self.elapsed()
        self.result.headline = headline = (f"did not finish: stopped at the time cap ({self.settings.max_seconds:g}s) {what}; no verdict "
                    "on the model. Raise max_seconds (--mlcheck-max-seconds, the marker or the call) or give a "
                    "smaller model or batch")
        return CheckIncomplete(failure_message(self.result, headline), result=self.result)

    def figure(self, key: str, value: Any, shown: str | None = None) -> None:
        """Record a figure; ``shown`` is the line the message prints instead of "key: value"."""
        self.result.figures[key] = value
        if shown is not None:
            self.result.shown[key] = shown

    def record_sources(self, session: Any) -> None:
        """Say where the session's loss and optimizer came from when not from the call (a
        LightningModule's training_step and configure_optimizers): figures ``loss_from``, ``optimizer_from``."""
        for key, text in getattr(session, "sources", {}).items():
            self.figure(key, text, f"{key.removesuffix('_from')}: from {text}")

    def record_losses(self, losses: Sequence[float]) -> None:
        self.result.losses = list(losses)
        self.result.steps = len(losses)
        if losses:
            self.result.start_loss = float(losses[0])
            self.result.end_loss = float(losses[-1])

    def fail(self, headline: str, causes: Sequence[Evidence] = ()) -> CheckFailed:
        self.result.passed = False
        self.result.seconds = self.elapsed()
        causes = list(causes)[:3]
        self.result.causes = [c for c, _ in causes]
        self.result.headline = headline
        message = failure_message(self.result, headline, causes)
        return CheckFailed(message, causes=[c for c, _ in causes], result=self.result)

    def passed(self) -> CheckResult:
        self.result.passed = True
        self.result.seconds = self.elapsed()
        return self.result

    @contextlib.contextmanager
    def session(self, model: Any, spec: TrainSpec = TrainSpec(), *, inference: bool = False,
                explain: tuple[Any, Any] | None = None) -> Iterator[Session]:
        """A session on a copy of ``model``; an exception from the user's code inside the block
        is a failed check (its causes found on ``explain``, a raw (x, y) batch; y may be None).
        The session is closed however the block ends."""
        from pytest_mlcheck.backends import framework_of
        from pytest_mlcheck.checks.common import open_session
        from pytest_mlcheck.checks.training import error_causes

        session = open_session(model, self.settings, spec, inference=inference)

        def probes(err: UserCodeError) -> list[Evidence]:
            return [] if explain is None else error_causes(err, session, explain)

        try:
            self.result.framework = framework_of(model)
            self.record_sources(session)
            with user_code_fails(self, probes):
                yield session
        finally:
            session.close()


@contextlib.contextmanager
def user_code_fails(run: CheckRun, probes: Callable[[UserCodeError], list[Evidence]] | None = None) -> Iterator[None]:
    """Turn an exception raised by the user's model, loss or step into a failed check."""
    try:
        yield
    except UserCodeError as err:
        causes = probes(err) if probes else []
        run.result.notes.extend(err.notes)
        raise run.fail(f"{err}", causes) from err.exc


class Check(Generic[P]):
    """A check declared once: ``function(run, ...)``; the parameters after ``run`` are public."""

    def __init__(self, function: Callable[..., CheckResult], *, strategy: str | None,
                 judgeable: Callable[[Any], bool] | None) -> None:
        self.function = function
        self.name = function.__name__
        full = inspect.signature(function)
        self.parameters = list(full.parameters.values())[1:]
        self.signature = full.replace(parameters=self.parameters)
        self.settings_keywords = tuple(k for k in SETTING_KEYWORDS if k in self.signature.parameters)
        self.strategy = strategy
        self.judgeable = judgeable
        if strategy is not None and strategy not in self.signature.parameters:
            raise TypeError(f"{self.name}: strategy argument {strategy!r} is not a parameter")

    def __call__(self, settings: Settings, defaults: dict[str, Any], args: tuple, kwargs: dict[str, Any]) -> CheckResult:
        """Run the check for one call of the fixture's method."""
        __tracebackhide__ = True
        try:
            return self._run(settings, defaults, args, kwargs)
        except (CheckFailed, MlcheckUsageError) as exc:
            # the traceback starts here, where every frame is hidden, so pytest points at the
            # user's line; an exception from the user's own code stays chained as the cause
            raise exc.with_traceback(None)

    def _run(self, settings: Settings, defaults: dict[str, Any], args: tuple, kwargs: dict[str, Any]) -> CheckResult:
        bound = self.signature.bind(*args, **kwargs)
        arguments = bound.arguments
        for key, value in defaults.items():
            if key in self.signature.parameters and arguments.get(key) is None:
                arguments[key] = value
        layer = {k: arguments.pop(k) for k in self.settings_keywords if arguments.get(k) is not None}
        settings = settings.merged(layer, source="call argument") if layer else settings

        def one(value: Any = None, *, drawn: bool = False) -> CheckResult:
            from pytest_mlcheck.backends.rng import seeded_globals
            from pytest_mlcheck.backends.threads import thread_budget

            call = dict(arguments, **({self.strategy: value} if drawn else {}))
            # the whole check draws from seeded generators, reading the user's loader included
            with seeded_globals(settings.seed), thread_budget(call.get("model")):
                return self.function(CheckRun(self.name, settings), **call)

        if self.strategy is not None:
            from pytest_mlcheck.checks.properties import for_all, is_strategy

            if is_strategy(arguments.get(self.strategy)):
                return for_all(self.name, arguments[self.strategy], settings, lambda v: one(v, drawn=True),
                               judgeable=self.judgeable, argument=self.strategy)
        return one()


def check(*, strategy: str | None = None,
          judgeable: Callable[[Any], bool] | None = None) -> Callable[[Callable[Concatenate[CheckRun, P], CheckResult]], Check[P]]:
    """Declare a check function. ``strategy`` names the argument that may be a Hypothesis strategy
    (the check then runs on each drawn example); ``judgeable`` tells which drawn examples it can judge."""

    def declare(function: Callable[Concatenate[CheckRun, P], CheckResult]) -> Check[P]:
        return Check(function, strategy=strategy, judgeable=judgeable)

    return declare


class Runs(Protocol):
    """What a fixture object gives its checks: settings, ``with_defaults`` values and a recorder."""

    settings: Settings
    defaults: dict[str, Any]

    def record(self, result: CheckResult) -> None: ...


def bind(declared: Check[P]) -> Callable[Concatenate[Any, P], CheckResult]:
    """The fixture's method for a check: its signature and docstring are the check function's."""

    def method(self: Runs, *args: Any, **kwargs: Any) -> CheckResult:
        __tracebackhide__ = True
        try:
            result = declared(self.settings, self.defaults, args, kwargs)
        except CheckFailed as failed:
            if failed.result is not None:
                self.record(failed.result)
            raise
        self.record(result)
        return result

    method.__name__ = declared.name
    method.__qualname__ = f"MLCheck.{declared.name}"
    method.__doc__ = declared.function.__doc__
    method.__module__ = declared.function.__module__
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = declared.signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *declared.parameters])
    return method  # type: ignore[return-value]
