"""The two kinds of error a check raises: a defect found, or a misuse of the API."""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

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


class CheckIncomplete(CheckFailed):
    """The check reached its time cap (``max_seconds``, a hang guard) before it could judge the
    model: no verdict on the model, no causes; the message says how far it got."""


class MlcheckUsageError(TypeError, ValueError):
    """A misuse of the mlcheck API: the message names the argument and what was expected."""


class NotSupported(Exception):
    """A capability this framework's adapter cannot offer (not a misuse, not a defect): the message
    says what is not supported and why. Probes that need it note that they did not run."""

    def __init__(self, what: str, why: str):
        super().__init__(f"{what} is not supported: {why}")
        self.what = what
        self.why = why


class DeviceUnavailable(MlcheckUsageError):
    """The device asked for (``--mlcheck-gpu``, ``--mlcheck-device``, ``device=``) does not exist
    here: the run stops after the first check that finds it (one clear error, not one per test)."""


class UserCodeError(Exception):
    """The user's model, loss or step raised inside a check; the check turns it into a failure."""

    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"{stage} raised {type(exc).__name__}: {exc}")
        self.stage = stage
        self.exc = exc
        # (non-finite, all) output values a loss was given when it raised, where an adapter saw some
        self.nonfinite_outputs: tuple[int, int] | None = None
        self.notes: list[str] = []  # what the probes learnt about the error beyond any cause
        self.on_built_copy = False  # raised on a copy of the batch a probe built (changed or reordered)


def call_user(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the user's code; its exceptions become UserCodeError (a failed check), ours pass."""
    try:
        return fn(*args, **kwargs)
    except (MlcheckUsageError, UserCodeError):
        raise
    except Exception as exc:
        raise UserCodeError(stage, exc) from exc


_NOTHING: Any = object()


def usage(argument: str, expected: str, got: object = _NOTHING, *, fix: str = "") -> MlcheckUsageError:
    """The one builder of usage errors: "argument: expected ..., got ...; how to fix the call"."""
    text = f"{argument}: expected {expected}"
    if got is not _NOTHING:
        text += f", got {describe(got)}"
    if fix:
        text += "; " + (fix[0].lower() + fix[1:] if fix[:1].isupper() and fix[1:2].islower() else fix)
    return MlcheckUsageError(text)


_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40


def describe(obj: object) -> str:
    """A short description of an object for error messages: small values as written, anything
    else by its type (plus shape or length)."""
    if obj is None or isinstance(obj, (bool, int, float, str, np.generic)):
        return _short.repr(obj)
    if isinstance(obj, tuple) and len(obj) <= 8 and all(isinstance(v, (bool, int, float, str)) for v in obj):
        return repr(obj)
    shape = getattr(obj, "shape", None)
    name = type(obj).__module__.split(".")[0] + "." + type(obj).__qualname__
    if name.startswith("builtins."):
        name = name[len("builtins."):]
    if shape is not None:
        return f"{name} of shape {tuple(shape)}"
    if isinstance(obj, (list, tuple, dict)):
        return f"{name} of length {len(obj)}"
    return name
