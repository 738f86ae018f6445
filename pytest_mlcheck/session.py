"""Run-wide state, registered as a plugin: the settings every test starts from, the results of
every check, and the terminal summary."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mlcheck.report import CheckResult
from pytest_mlcheck.settings import Settings


class MlcheckSession:
    """One per pytest run (``config.stash``); checks record their results here."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.results: list[tuple[str, CheckResult]] = []

    def recorder(self, nodeid: str) -> Any:
        """What a test's fixture object calls with each result."""
        return lambda result: self.results.append((nodeid, result))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self.results:
            return
        failed = [r for _, r in self.results if not r.passed]
        seconds = sum(r.seconds for _, r in self.results)
        terminalreporter.section("mlcheck")
        terminalreporter.write_line(
            f"{len(self.results)} check(s): {len(self.results) - len(failed)} passed, {len(failed)} failed, "
            f"{seconds:.1f}s in checks, device {self.settings.device}, seed {self.settings.seed}"
        )
        for nodeid, result in self.results:
            if not result.passed or config.option.verbose > 0:
                terminalreporter.write_line(f"  {nodeid}: {result.summary()}")
