"""Run-wide state, registered as a plugin: the settings every test starts from, the record of every
check (also handed from pytest-xdist workers to the controller), JUnit properties, the terminal
summary and the ``--mlcheck-report`` files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_mlcheck.errors import DeviceUnavailable
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import Settings

WORKER_KEY = "mlcheck_records"  # in xdist's workeroutput
COLUMNS = ("test", "check", "verdict", "first cause", "steps", "loss", "seconds", "device", "seed")


def record_of(nodeid: str, result: CheckResult) -> dict[str, Any]:
    """One check as the run keeps it: JSON-ready, so workers can hand it over."""
    return {"nodeid": nodeid, **result.to_dict()}


def junit_properties(record: dict[str, Any], index: int) -> list[tuple[str, Any]]:
    """The figures of one check as JUnit properties, ``mlcheck.<n>.<name>`` (n counts the checks
    of the test, from 0)."""
    prefix = f"mlcheck.{index}."
    props = [(prefix + "check", record["check"]), (prefix + "verdict", record["verdict"]),
             (prefix + "causes", ",".join(record["causes"])), (prefix + "steps", record["steps"]),
             (prefix + "start_loss", record["start_loss"]), (prefix + "end_loss", record["end_loss"]),
             (prefix + "seconds", round(record["seconds"], 4)), (prefix + "device", record["device"]),
             (prefix + "seed", record["seed"])]
    for key, value in record["figures"].items():
        props.append((prefix + "figure." + key, json.dumps(value) if isinstance(value, (dict, list)) else value))
    return props


def row(record: dict[str, Any], expected: bool) -> tuple[str, ...]:
    verdict = record["verdict"] + (" (expected)" if expected and not record["passed"] else "")
    loss = (f"{fmt(record['start_loss'])} → {fmt(record['end_loss'])}"
            if record["losses"] and record["start_loss"] is not None and record["end_loss"] is not None else
            "nan" if record["losses"] else "")
    return (record["nodeid"], record["check"], verdict, (record["causes"] or [""])[0],
            str(record["steps"] or ""), loss, f"{record['seconds']:.2f}", record["device"], str(record["seed"]))


class MlcheckSession:
    """One per pytest run (``config.stash``); checks record their results here."""

    def __init__(self, config: pytest.Config, settings: Settings, report_dir: Path | None = None) -> None:
        self.config = config
        self.settings = settings
        self.report_dir = report_dir
        self.records: list[dict[str, Any]] = []
        self.xfailed: set[str] = set()  # tests that failed as expected: their failed checks are expected

    def recorder(self, node: pytest.Item | None) -> Callable[[CheckResult], None]:
        """What a test's fixture object calls with each result: kept for the run and attached to
        the test's JUnit properties."""

        def record(result: CheckResult) -> None:
            entry = record_of(node.nodeid if node is not None else "", result)
            if node is not None:
                index = sum(1 for r in self.records if r["nodeid"] == entry["nodeid"])
                node.user_properties.extend(junit_properties(entry, index))
            self.records.append(entry)

        return record

    # -- pytest-xdist: workers hand their records to the controller -----------------------------
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = json.dumps(self.records)
        elif self.report_dir is not None and self.records:
            from pytest_mlcheck.files import write_report

            write_report(self.report_dir, self.records, self.xfailed)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.records.extend(json.loads(output.get(WORKER_KEY, "[]")))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        yield
        if call.excinfo is not None and call.excinfo.errisinstance(DeviceUnavailable) and not item.session.shouldstop:
            # the device is missing for every test alike: one clear error for the run, not one per test
            item.session.shouldstop = f"pytest-mlcheck: {call.excinfo.value}"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, "wasxfail", None) is not None:
            self.xfailed.add(report.nodeid)

    # -- the terminal summary -----------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self.records or hasattr(config, "workeroutput"):
            return
        expected = [r for r in self.records if not r["passed"] and r["nodeid"] in self.xfailed]
        failed = [r for r in self.records if not r["passed"] and r["nodeid"] not in self.xfailed]
        seconds = sum(r["seconds"] for r in self.records)
        terminalreporter.section("mlcheck")
        counts = f"{len(self.records) - len(failed) - len(expected)} passed, {len(failed)} failed"
        if expected:
            counts += f", {len(expected)} failed as expected (xfail)"
        terminalreporter.write_line(
            f"{len(self.records)} check(s): {counts}, {seconds:.1f}s in checks, "
            f"device {self.settings.device}, seed {self.settings.seed}")
        shown = [r for r in self.records if not r["passed"] or config.option.verbose > 0]
        if not shown:
            return
        rows = [COLUMNS] + [row(r, r["nodeid"] in self.xfailed) for r in shown]
        widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS))]
        right = {4, 6, 8}  # numbers
        for cells in rows:
            terminalreporter.write_line("  " + "  ".join(
                c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
        if self.report_dir is not None:
            terminalreporter.write_line(f"report: {self.report_dir / 'index.html'}")
