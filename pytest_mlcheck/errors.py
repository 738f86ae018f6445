"""The two kinds of error a check raises: a defect found, or a misuse of the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from pytest_mlcheck.report import CheckResult


class CheckFailed(AssertionError):
    """A defect in the user's model, data or pipeline.

    ``causes`` holds cause ids (most likely first, at most three); ``result`` holds the figures.
    """

    def __init__(self, message: str, *, causes: Sequence[str] = (), result: CheckResult | None = None):
        super().__init__(message)
        self.causes: list[str] = list(causes)[:3]
        self.result = result


class MlcheckUsageError(TypeError, ValueError):
    """A misuse of the mlcheck API: the message names the argument and what was expected."""


class NotSupported(Exception):
    """A capability this framework's adapter cannot offer (not a misuse, not a defect): the message
    says what is not supported and why. Probes that need it note that they did not run."""

    def __init__(self, what: str, why: str):
        super().__init__(f"{what} is not supported: {why}")
        self.what = what
        self.why = why


class UserCodeError(Exception):
    """The user's model, loss or step raised inside a check; the check turns it into a failure."""

    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"{stage} raised {type(exc).__name__}: {exc}")
        self.stage = stage
        self.exc = exc


def call_user(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the user's code; its exceptions become UserCodeError (a failed check), ours pass."""
    try:
        return fn(*args, **kwargs)
    except (MlcheckUsageError, UserCodeError):
        raise
    except Exception as exc:
        raise UserCodeError(stage, exc) from exc


def usage(argument: str, expected: str, got: object = None, *, fix: str = "") -> MlcheckUsageError:
    """Build a usage error that names the argument, what was expected and what came instead."""
    text = f"{argument}: expected {expected}"
    if got is not None:
        text += f", got {describe(got)}"
    if fix:
        text += f". {fix}"
    return MlcheckUsageError(text)


def describe(obj: object) -> str:
    """A short description of an object for error messages (type plus shape when it has one)."""
    shape = getattr(obj, "shape", None)
    name = type(obj).__module__.split(".")[0] + "." + type(obj).__qualname__
    if name.startswith("builtins."):
        name = name[len("builtins."):]
    if shape is not None:
        return f"{name} of shape {tuple(shape)}"
    if isinstance(obj, (list, tuple, dict)):
        return f"{name} of length {len(obj)}"
    return name
