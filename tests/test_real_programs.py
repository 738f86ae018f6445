"""The real-program corpus (tests/real_programs/) stays well formed: every module declares a valid
label, source, frameworks and checks, and its buggy and fixed versions build in each of its
frameworks into a model that takes the documented batch. No check runs here; the corpus is measured
by benchmarks/real_programs_table.py."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_mlcheck import CAUSES, MLCheck  # noqa: E402
from tests.real_programs import PROGRAMS  # noqa: E402

KNOWN_CHECKS = {"overfit_one_batch", "loss_decreases", "gradients_flow", "init_loss", "output_range",
                "inputs_normalized", "batch_independence", "not_constant_predictions",
                "input_independent_baseline", "no_split_leakage", "preprocessing_parity", "label_roundtrip"}
ENTRIES = [(name, fw) for name in PROGRAMS for fw in importlib.import_module(f"tests.real_programs.{name}").FRAMEWORKS]


def _np(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def test_the_corpus_holds_at_least_248_entries_each_listed_once() -> None:
    assert len(set(PROGRAMS)) == len(PROGRAMS)
    on_disk = {p.stem for p in (ROOT / "tests" / "real_programs").glob("*.py") if not p.stem.startswith("_")}
    assert on_disk == set(PROGRAMS)
    assert len(ENTRIES) >= 248


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_module_declares_a_label_source_and_checks(name: str) -> None:
    mod = importlib.import_module(f"tests.real_programs.{name}")
    for alternative in mod.LABEL.split("|"):
        assert alternative in CAUSES or alternative.startswith("other:"), alternative
    assert mod.SOURCE and mod.__doc__ and "Fault label" in mod.__doc__
    assert set(mod.FRAMEWORKS) <= {"torch", "keras"} and mod.FRAMEWORKS
    checks = mod.CHECKS if isinstance(mod.CHECKS, dict) else {fw: mod.CHECKS for fw in mod.FRAMEWORKS}
    assert set(checks) == set(mod.FRAMEWORKS)
    for fw_checks in checks.values():
        assert fw_checks
        for check, kwargs in fw_checks:
            assert check in KNOWN_CHECKS and hasattr(MLCheck, check), check
            assert isinstance(kwargs, dict)


@pytest.mark.parametrize(("name", "framework"), ENTRIES)
def test_buggy_and_fixed_versions_build_and_take_their_batch(name: str, framework: str) -> None:
    mod = importlib.import_module(f"tests.real_programs.{name}")
    for build in (mod.buggy, mod.fixed):
        b = build(framework)
        assert b["model"] is not None
        batch = b.get("batch")
        inputs = b.get("inputs", batch[0] if batch is not None else None)
        assert inputs is not None
        # a program whose fault is the mismatch hands its checks batches of unequal lengths, its fix does not
        mismatched = build is mod.buggy and "xy_length_mismatch" in mod.LABEL.split("|")
        if batch is not None:
            assert (len(batch[0]) != len(batch[1])) if mismatched else (len(batch[0]) == len(batch[1]))
        for xb, yb in b.get("batches") or []:
            assert len(xb) == len(yb)
        if "baseline_batch" in b:  # only where the program's own batch is under input_independent_baseline's 64
            assert len(b["baseline_batch"][0]) == len(b["baseline_batch"][1]) >= 64 > len(batch[0])
        if framework == "torch":
            assert b.get("loss_fn") is not None or b.get("train_step") is not None
            assert b.get("optimizer") is not None
        else:
            assert b["model"].compiled or b.get("train_step") is not None
        # a few samples take the model as well as all of them (a forward over all cost up to 8 s);
        # a model that needs the whole batch (a fixed batch size) is given it
        if not _forward_takes(b["model"], inputs[:SLICE] if hasattr(inputs, "shape") else inputs, framework):
            assert _forward_takes(b["model"], inputs, framework)


SLICE = 4  # samples of ``inputs`` the build test runs forward first


def _forward_takes(model: Any, inputs: Any, framework: str) -> bool:
    """Whether ``model`` maps ``inputs`` to outputs with one row per sample; False where it raises
    on a part of the batch (a model built for one batch size) or returns another number of rows."""
    try:
        if framework == "torch":
            import torch

            with torch.no_grad():
                out = model(inputs)
        else:
            out = model(inputs)
    except Exception:
        return False
    out = out[0] if isinstance(out, tuple) else out
    return _np(out).shape[0] == len(inputs)


def _out(b: dict[str, Any]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return _np(b["model"](b["batch"][0]))


def test_the_new_ports_keep_the_documented_faults() -> None:
    """The faults the new modules document are present in the buggy version and gone from the fix."""
    from tests.real_programs import (
        aihwkit_example_no_zero_grad,
        autotrainer_data_issue,
        autotrainer_loss_issue,
        bolts_logreg_softmax_then_ce,
        log_softmax_over_batch,
    )

    # AUTOTRAINER data issue: raw uint8 pixels vs the dataset's per-channel standardisation
    bx = autotrainer_data_issue.buggy("keras")["batch"][0]
    fx = autotrainer_data_issue.fixed("keras")["batch"][0]
    assert bx.dtype == np.uint8 and bx.max() > 200 and 100 < bx.mean() < 150
    assert fx.dtype == np.float32 and abs(fx.mean()) < 0.5 and 0.5 < fx.std() < 1.5
    assert _np(autotrainer_data_issue.buggy("torch")["batch"][0]).max() > 200

    # AUTOTRAINER loss issue: a softmax over softmax outputs, so no class can pass e / (e + 2) = 0.576
    # nor fall below 1 / (1 + 2e) = 0.155; MSE on one-hot targets
    b = autotrainer_loss_issue.buggy("torch")
    out = _out(b)
    bound = np.e / (np.e + 2)
    assert np.allclose(out.sum(1), 1, atol=1e-5) and out.min() >= 1 / (1 + 2 * np.e) - 1e-6 and out.max() <= bound + 1e-6
    assert not np.allclose(_out(autotrainer_loss_issue.fixed("torch")).sum(1), 1, atol=1e-2)  # logits
    assert b["batch"][1].shape == (256, 3) and type(b["loss_fn"]).__name__ == "MSELoss"
    assert type(autotrainer_loss_issue.fixed("torch")["loss_fn"]).__name__ == "CrossEntropyLoss"
    assert autotrainer_loss_issue.buggy("keras")["model"].layers[-1].__class__.__name__ == "Softmax"

    # Lightning Bolts #654: forward returns probabilities; the buggy step feeds them to cross_entropy
    b = bolts_logreg_softmax_then_ce.buggy("torch")
    assert np.allclose(_out(b).sum(1), 1, atol=1e-5) and b["batch"][0].shape == (16, 4)

    # MS Learn LogSoftmax(dim=0): columns (over the batch) normalised instead of rows
    out = np.exp(_out(log_softmax_over_batch.buggy("torch")))
    assert np.allclose(out.sum(0), 1, atol=1e-4) and not np.allclose(out.sum(1), 1, atol=1e-2)
    out = np.exp(_out(log_softmax_over_batch.fixed("torch")))
    assert np.allclose(out.sum(1), 1, atol=1e-4)

    # pytorch #16045: (n,) targets against (n, 1) predictions, reshaped in the fix
    from tests.real_programs import mse_target_broadcast

    assert mse_target_broadcast.buggy("torch")["batch"][1].shape == (100,)
    assert mse_target_broadcast.fixed("torch")["batch"][1].shape == (100, 1)

    # aihwkit #446: the buggy step accumulates gradients, the fixed one does not
    import torch

    for build, doubled in ((aihwkit_example_no_zero_grad.buggy, True), (aihwkit_example_no_zero_grad.fixed, False)):
        b = build("torch")
        opt = b["optimizer"](b["model"].parameters())
        for g in opt.param_groups:
            g["lr"] = 0.0
        x, y = b["batch"]
        b["train_step"](b["model"], opt, b["loss_fn"], x, y)
        first = b["model"].weight.grad.clone()
        b["train_step"](b["model"], opt, b["loss_fn"], x, y)
        assert torch.allclose(b["model"].weight.grad, 2 * first if doubled else first)


def test_importing_the_corpus_imports_no_framework() -> None:
    code = ("import sys; import importlib; from tests.real_programs import PROGRAMS\n"
            "[importlib.import_module('tests.real_programs.' + n) for n in PROGRAMS]\n"
            "bad = [m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_rerun_of_some_checks_keeps_the_others_results_and_adds_them_up_again(monkeypatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_programs_table", ROOT / "benchmarks" / "real_programs_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    name = PROGRAMS[0]
    mod = importlib.import_module(f"tests.real_programs.{name}")
    framework = mod.FRAMEWORKS[0]
    checks = [c for c, _ in table.checks_for(mod, framework)]
    assert len(checks) >= 2
    rerun: list[str] = []

    def fake(m, build, fw, check, kw):
        rerun.append(check)
        return {"check": check, "kwargs": {}, "verdict": "fail", "causes": ["lr_too_low"], "message": "", "seconds": 0.0}

    monkeypatch.setattr(table, "verdict", fake)
    stored = {version: [{"check": c, "kwargs": {}, "verdict": "pass", "causes": [], "seconds": 1.0} for c in checks]
              for version in ("buggy", "fixed")}
    row = table.evaluate(name, framework, 0, None, {checks[-1]}, stored)
    assert rerun == [checks[-1], checks[-1]]  # once per version, nothing else
    assert [r["verdict"] for r in row["buggy"]] == ["pass"] * (len(checks) - 1) + ["fail"]
    assert row["caught"] and row["first_cause"] == "lr_too_low" and not row["fixed_pass"]


def test_the_table_counts_a_label_as_catalogued_when_one_alternative_is_a_cause() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_programs_table", ROOT / "benchmarks" / "real_programs_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    assert table.catalogued("lr_too_low") and table.catalogued("other:kl_outweighs_reconstruction|target_leakage")
    assert not table.catalogued("other:kl_outweighs_reconstruction")
    assert not table.catalogued("other:a|other:b")
