"""Short critical sections that an interrupt cannot tear: setting up and restoring the user's state.

A check changes the user's state (global generators, a Keras model trained in place) only inside a
session; the code that captures, seeds and restores that state is *critical*. A signal whose Python
handler raises (Ctrl-C, pytest-timeout's SIGALRM) is held back while the main thread runs critical
code and delivered again as soon as it has left it, so a restore always completes and the
interrupt still stops the check. Which code is critical is read from the interrupted frame and its
callers (code objects registered with ``critical``), so even the first instruction of a restore, or
the return from ``open`` before the check's ``try`` is entered, is covered; user code called from
critical code (registered with ``user_boundary``) is never held back. Exceptions raised inside a
restore (a patched ``assign``) are handled by ``finish``, which re-runs each idempotent step.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any, Callable, TypeVar

from pytest_mlcheck.errors import call_user

F = TypeVar("F", bound=Callable[..., Any])

# Code objects, registered once at import: no state about any model or check.
_CRITICAL: set[CodeType] = set()
_USER: set[CodeType] = {call_user.__code__}
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGALRM", "SIGTERM") if hasattr(signal, name))
_RETRY_SECONDS = 0.001


def critical(fn: F) -> F:
    """Mark ``fn`` (and everything it calls, down to user code) as a critical section."""
    _CRITICAL.add(fn.__code__)
    return fn


def user_boundary(fn: F) -> F:
    """Mark ``fn`` as running user code: interrupts inside it are never held back."""
    _USER.add(fn.__code__)
    return fn


def in_critical(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs critical code: the nearest registered frame on its stack is critical."""
    while frame is not None:
        code = frame.f_code
        if code in _USER:
            return False
        if code in _CRITICAL:
            return True
        frame = frame.f_back
    return False


class DeferredSignals:
    """Wraps the Python handlers of SIGINT, SIGALRM and SIGTERM while a session is open (main
    thread only; a signal left to the OS, SIG_DFL or SIG_IGN, is not touched). Outside critical
    code a signal goes straight to the handler it replaced; inside, it is held and re-delivered by
    a helper thread (``_thread.interrupt_main``) once the main thread is out of critical code."""

    def __init__(self) -> None:
        self._saved: dict[int, Callable[..., Any]] = {}
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._helper: threading.Thread | None = None

    @critical
    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals only ever interrupt the main thread
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):
                self._saved[signum] = handler
                signal.signal(signum, self._handle)

    @critical
    def uninstall(self) -> None:
        """Give each signal its handler back (idempotent; a handler replaced since is left alone)."""
        for signum, handler in list(self._saved.items()):
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, handler)
            del self._saved[signum]

    def flush(self) -> None:
        """Deliver the signals held so far now; after ``uninstall`` they reach the handlers they were
        meant for (a raising one raises in the caller, at its next instruction)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for signum in dict.fromkeys(pending):
            _thread.interrupt_main(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if in_critical(frame):
            with self._lock:
                self._pending.append(signum)
                if self._helper is None:
                    self._helper = threading.Thread(target=self._redeliver, name="mlcheck-interrupts", daemon=True)
                    self._helper.start()
            return
        handler = self._saved.get(signum, signal.default_int_handler if signum == signal.SIGINT else None)
        if handler is not None:
            handler(signum, frame)

    def _redeliver(self) -> None:
        main = threading.main_thread().ident
        while True:
            time.sleep(_RETRY_SECONDS)
            if in_critical(sys._current_frames().get(main)):
                continue
            with self._lock:
                pending, self._pending = self._pending, []
                if not pending:
                    self._helper = None
                    return
            for signum in dict.fromkeys(pending):
                _thread.interrupt_main(signum)  # whatever handler is current then runs it


@critical
def finish(*steps: Callable[[], None], attempts: int = 3) -> None:
    """Run every idempotent step to completion: a step stopped by an exception runs again (up to
    ``attempts`` times); the first exception is raised once all steps have run."""
    first: BaseException | None = None
    for step in steps:
        for _ in range(attempts):
            try:
                step()
                break
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the restore
                if first is None:
                    first = exc
    if first is not None:
        raise first
