"""What a CI job keeps of a run: JUnit properties, the --mlcheck-report files, the summary under
pytest-xdist, expected failures counted as expected, and failures that point at the user's line."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_summary import FAST, TWO_PASSING_ONE_FAILING

XFAIL_TEST = """

@pytest.mark.xfail(reason="known: softmax before the loss", strict=True)
def test_known_bad(mlcheck):
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    mlcheck.overfit_one_batch(model, batch(), loss_fn=nn.CrossEntropyLoss(),
                              optimizer=lambda p: torch.optim.SGD(p, lr=0.0), steps=20)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makepyfile(test_checks="import pytest\n" + TWO_PASSING_ONE_FAILING + XFAIL_TEST)
    return pytester


def _properties(xml: Path, name: str) -> dict[str, str]:
    case = next(c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == name)
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def test_junit_xml_carries_each_checks_figures_as_properties(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST, "--junitxml=out.xml")
    result.assert_outcomes(passed=3, failed=1, xfailed=1)
    failed = _properties(project.path / "out.xml", "test_cannot_fit")
    assert failed["mlcheck.0.check"] == "overfit_one_batch"
    assert failed["mlcheck.0.verdict"] == "failed"
    assert failed["mlcheck.0.causes"].split(",")[0] == "loss_mismatch"
    assert failed["mlcheck.0.steps"] == "20" and failed["mlcheck.0.figure.samples"] == "16"
    passed = _properties(project.path / "out.xml", "test_fits")
    assert passed["mlcheck.0.verdict"] == "passed" and float(passed["mlcheck.0.end_loss"]) < float(
        passed["mlcheck.0.start_loss"])


def test_the_report_directory_holds_json_curves_and_a_page_failures_first(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST, "--mlcheck-report=report")
    result.assert_outcomes(passed=3, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["report: */report/index.html"])
    checks = json.loads((project.path / "report" / "mlcheck.json").read_text())["checks"]
    assert [c["verdict"] for c in checks][:1] == ["failed"]  # the real failure first, the xfail after it
    assert len(checks) == 4 and checks[0]["nodeid"].endswith("test_cannot_fit")
    assert [c["nodeid"].split("::")[1] for c in checks if c["expected_failure"]] == ["test_known_bad"]
    assert checks[0]["causes"][0] == "loss_mismatch" and len(checks[0]["losses"]) == 20
    page = (project.path / "report" / "index.html").read_text()
    assert page.index("test_cannot_fit") < page.index("test_fits")
    pytest.importorskip("matplotlib")
    curves = sorted((project.path / "report" / "curves").glob("*.png"))
    assert len(curves) == 4 and all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for c in curves)
    assert 'src="curves/0.png"' in page


def test_a_check_failing_in_an_xfail_test_counts_as_expected(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST)
    result.stdout.fnmatch_lines([
        "4 check(s): 2 passed, 1 failed, 1 failed as expected (xfail), *",
        "  test_checks.py::test_known_bad * overfit_one_batch * failed (expected) * loss_mismatch *",
    ])


def test_under_xdist_workers_hand_their_checks_to_the_controller(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("-n", "2", "--mlcheck-report=report", "--junitxml=out.xml")
    result.assert_outcomes(passed=3, failed=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "4 check(s): 2 passed, 1 failed, 1 failed as expected (xfail), *",
        "  test_checks.py::test_cannot_fit * overfit_one_batch * failed * loss_mismatch * 20 *",
    ])
    checks = json.loads((project.path / "report" / "mlcheck.json").read_text())["checks"]
    assert sorted(c["nodeid"].split("::")[1] for c in checks) == [
        "test_cannot_fit", "test_fits", "test_fits_with_another_seed", "test_known_bad"]
    assert _properties(project.path / "out.xml", "test_cannot_fit")["mlcheck.0.verdict"] == "failed"


def test_a_failed_check_and_a_usage_error_point_at_the_users_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="""
import torch
from torch import nn

def test_bad_model(mlcheck):
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    x = torch.randn(8, 4)
    mlcheck.overfit_one_batch(model, (x, x[:, :3].argmax(1)), loss_fn=nn.CrossEntropyLoss(), steps=5)  # LINE-A

def test_misuse(mlcheck):
    mlcheck.overfit_one_batch(nn.Linear(4, 3), (torch.randn(8, 4), torch.zeros(8).long()),
                              loss_fn=nn.CrossEntropyLoss(), steps=0)  # LINE-B
""")
    result = pytester.runpytest_subprocess(*FAST, "--tb=long")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    for internal in ("runner.py", "fixture.py", "overfit_one_batch.py", "common.py", "torch_backend.py"):
        assert internal + ":" not in text, internal
    assert text.count("test_user.py:") >= 2  # each failure's location is the test file


def test_the_report_page_renders_in_a_headless_browser(project: pytest.Pytester) -> None:
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no headless browser installed (apt install chromium)")
    project.runpytest_subprocess(*FAST, "--mlcheck-report=report")
    shot = project.path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", f"--screenshot={shot}", "--window-size=1000,1400",
                    (project.path / "report" / "index.html").as_uri()], check=True, timeout=60,
                   capture_output=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
