"""Run the real-program corpus (tests/real_programs/) through its own checks: per program and
framework, whether the buggy version is caught, whether the first cause (and any cause) matches
the labelled fault, and what the fixed version gets. Writes benchmarks/real_programs_table.json.

Usage: python benchmarks/real_programs_table.py [--only NAME[,NAME]] [--framework torch|keras] [--seed N]
       [--max-seconds S] [--checks CHECK[,CHECK]] [-v] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys
import time
import traceback
from typing import Any

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_mlcheck import CheckFailed, CheckIncomplete, MLCheck, MlcheckUsageError, Settings  # noqa: E402
from tests.real_programs import PROGRAMS  # noqa: E402


def _seed(framework: str) -> None:
    """Seed what the builders draw from, so model inits are the same on every run. The entry's
    framework is imported first: a builder imports it itself, and a framework seeded only when
    already loaded left the first entry of each framework in a process unseeded (its verdict then
    depended on which entries ran before it, e.g. under --only)."""
    import importlib
    import random

    import numpy as np

    importlib.import_module(framework)
    random.seed(0)
    np.random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(0)


def run_check(m: MLCheck, check: str, kw: dict[str, Any], b: dict[str, Any]) -> Any:
    """Call one check with the arguments it takes from the builder's dict; its result."""
    train = {k: b[k] for k in ("loss_fn", "optimizer", "train_step") if b.get(k) is not None}
    model, batch = b["model"], b.get("batch")
    inputs = b.get("inputs", batch[0] if batch is not None else None)
    if check == "overfit_one_batch":
        return m.overfit_one_batch(model, batch, **train, **kw)
    if check == "loss_decreases":
        return m.loss_decreases(model, b.get("batches") or [batch], **train, **kw)
    if check == "gradients_flow":
        return m.gradients_flow(model, batch, **train, **kw)
    if check == "init_loss":
        return m.init_loss(model, batch, **({"loss_fn": b["loss_fn"]} if b.get("loss_fn") is not None else {}), **kw)
    if check == "output_range":
        return m.output_range(model, inputs, **kw)
    if check == "inputs_normalized":
        return m.inputs_normalized(inputs, model=model, **kw)
    if check == "batch_independence":
        return m.batch_independence(model, inputs, **kw)
    if check == "input_independent_baseline":  # a batch of ≥ 64 where the program's own is smaller
        return m.input_independent_baseline(model, b.get("baseline_batch", batch), **train, **kw)
    if check == "preprocessing_parity":
        return m.preprocessing_parity(b["train_pipeline"], b["eval_pipeline"], b["raw_samples"], **kw)
    if check == "label_roundtrip":
        return m.label_roundtrip(b["encode"], b["decode"], b["labels"], **kw)
    if check == "no_split_leakage":
        return m.no_split_leakage(b["train_split"], b["test_split"], **kw)
    if check == "not_constant_predictions":
        return m.not_constant_predictions(model, inputs, train_on=b.get("batches") or [batch], **train, **kw)
    raise ValueError(f"unknown check {check!r}")


def verdict(m: MLCheck, build: Any, framework: str, check: str, kw: dict[str, Any]) -> dict[str, Any]:
    """One check on a freshly built program version."""
    _seed(framework)
    start = time.perf_counter()
    out: dict[str, Any] = {"check": check, "kwargs": {k: repr(v) for k, v in kw.items()}}
    try:
        b = build(framework)
        result = run_check(m, check, kw, b)
        out.update(verdict="pass", causes=[])
        if getattr(result, "steps", None):
            out["steps"] = result.steps  # an extended run says how long it trained
    except CheckIncomplete as exc:
        out.update(verdict="incomplete", causes=list(exc.causes), message=str(exc))
    except CheckFailed as exc:
        out.update(verdict="fail", causes=list(exc.causes), message=str(exc))
    except MlcheckUsageError as exc:
        out.update(verdict="usage_error", causes=[], message=str(exc))
    except Exception as exc:  # noqa: BLE001 - any other exception is a crash of the check or the port
        out.update(verdict="crash", causes=[], message="".join(traceback.format_exception(exc))[-3000:])
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def checks_for(mod: Any, framework: str) -> list[tuple[str, dict[str, Any]]]:
    checks = mod.CHECKS
    return list(checks[framework] if isinstance(checks, dict) else checks)


def label_matches(label: str, cause: str) -> bool:
    """A label may list alternatives with '|': lr_too_high|exploding_gradients."""
    return cause in label.split("|")


def catalogued(label: str) -> bool:
    """Whether the label names a cause of the catalogue: a fault labelled only ``other:...`` has no
    cause a check could name, so no first cause can match it (its catch and its fix still count)."""
    return any(not part.startswith("other:") for part in label.split("|"))


def evaluate(name: str, framework: str, seed: int, max_seconds: float | None = None,
             only: set[str] | None = None, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row. With ``only``, the checks not named keep their results from the ``stored`` row (a
    rule that can reach one check is measured without rerunning an hour of others)."""
    mod = importlib.import_module(f"tests.real_programs.{name}")
    m = MLCheck(Settings(seed=seed) if max_seconds is None else Settings(seed=seed, max_seconds=max_seconds))
    row: dict[str, Any] = {"program": name, "framework": framework, "label": mod.LABEL, "source": mod.SOURCE}
    if stored is not None and "max_seconds" in stored:
        row["max_seconds"] = stored["max_seconds"]
    if max_seconds is not None:
        row["max_seconds"] = max_seconds  # the hang guard raised for a slow machine: say so beside the row
    for version, build in (("buggy", mod.buggy), ("fixed", mod.fixed)):
        kept = {r["check"]: r for r in stored[version]} if stored is not None else {}
        row[version] = [verdict(m, build, framework, c, dict(kw)) if only is None or c in only or c not in kept
                        else kept[c] for c, kw in checks_for(mod, framework)]
    return summarised(row, mod.LABEL)


def summarised(row: dict[str, Any], label: str) -> dict[str, Any]:
    """The row with what its verdicts add up to: caught, the first cause and whether it matches, ..."""
    buggy = row["buggy"]
    failed = [r for r in buggy if r["verdict"] in ("fail", "incomplete")]
    row["caught"] = bool(failed)
    first = next((r for r in failed if r["causes"]), None)
    row["first_cause"] = failed[0]["causes"][0] if failed and failed[0]["causes"] else None
    row["first_cause_match"] = bool(failed) and row["first_cause"] is not None and label_matches(label, row["first_cause"])
    row["first_named_cause"] = first["causes"][0] if first else None
    row["first_named_match"] = row["first_named_cause"] is not None and label_matches(label, row["first_named_cause"])
    row["silent_first_failure"] = bool(failed) and not failed[0]["causes"]
    row["anywhere_match"] = any(label_matches(label, c) for r in failed for c in r["causes"])
    row["fixed_pass"] = all(r["verdict"] == "pass" for r in row["fixed"])
    row["crashes"] = sum(r["verdict"] in ("crash", "usage_error") for r in buggy + row["fixed"])
    return row


def fmt(rs: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r['check']}={r['verdict']}" + (f"[{','.join(r['causes'])}]" if r["causes"] else "") for r in rs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated program names")
    parser.add_argument("--framework", choices=("torch", "keras"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure message")
    parser.add_argument("--max-seconds", type=float, help="the checks' time cap (default: the plugin's 120 s); "
                                                          "each row records a raised cap")
    parser.add_argument("--out", help="where to write the JSON (default: benchmarks/real_programs_table.json for a "
                                      "full run; a partial run (--only, --framework) writes nothing unless given); "
                                      "rewritten after each row (marked partial) until the totals are in")
    parser.add_argument("--checks", help="comma-separated checks to rerun; the others keep their results from "
                                         "benchmarks/real_programs_table.json (a partial run: give --out)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(PROGRAMS)
    only = set(args.checks.split(",")) if args.checks else None
    stored = {}
    if only is not None:
        table = json.loads((ROOT / "benchmarks" / "real_programs_table.json").read_text())
        stored = {(r["program"], r["framework"]): r for r in table["rows"]}
    out = args.out or (None if args.only or args.framework or only else ROOT / "benchmarks" / "real_programs_table.json")
    rows = []
    for name in names:
        mod = importlib.import_module(f"tests.real_programs.{name}")
        for fw in mod.FRAMEWORKS:
            if args.framework and fw != args.framework:
                continue
            row = evaluate(name, fw, args.seed, args.max_seconds, only, stored.get((name, fw)))
            rows.append(row)
            if out is not None:  # rows so far, so a run cut short keeps what it measured
                pathlib.Path(out).write_text(json.dumps({"seed": args.seed, "partial": True, "rows": rows}, indent=1))
            mark = ("C" if row["caught"] else "-") + ("F" if row["first_cause_match"] else "-") + \
                   ("A" if row["anywhere_match"] else "-") + ("P" if row["fixed_pass"] else "-")
            print(f"{mark} {name}/{fw} label={row['label']} first={row['first_cause']} first_named={row['first_named_cause']}",
                  flush=True)
            print(f"    buggy: {fmt(row['buggy'])}")
            print(f"    fixed: {fmt(row['fixed'])}", flush=True)
            if args.verbose:
                for version in ("buggy", "fixed"):
                    for r in row[version]:
                        if r["verdict"] != "pass":
                            print(f"    --- {version} {r['check']}:\n" + "\n".join("      " + s for s in r["message"].splitlines()))
    n = len(rows)
    if not n:
        return
    keys = ("caught", "first_cause_match", "first_named_match", "anywhere_match", "silent_first_failure", "fixed_pass")
    tot = {k: sum(bool(r[k]) for r in rows) for k in keys}
    tot["crashes"] = sum(r["crashes"] for r in rows)
    print("\nC caught, F first cause matches, A a matching cause anywhere, P fixed version passes every check")
    print("\n| framework | entries | caught | first cause matches | first named cause matches | matching cause anywhere "
          "| first failing check names no cause | fixed versions pass | crashes |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups = [(fw, [r for r in rows if r["framework"] == fw]) for fw in ("torch", "keras")] + [("total", rows)]
    groups += [("catalogued labels", [r for r in rows if catalogued(r["label"])]),
               ("`other:` labels only", [r for r in rows if not catalogued(r["label"])])]
    for name, sub in groups:
        if not sub:
            continue
        k = len(sub)
        c = {key: sum(bool(r[key]) for r in sub) for key in keys}
        cells = " | ".join(f"{c[key]} ({c[key] / k:.0%})" for key in keys)
        print(f"| {name} | {k} | {cells} | {sum(r['crashes'] for r in sub)} |")
    if out is not None:
        pathlib.Path(out).write_text(json.dumps({"seed": args.seed, "totals": tot, "entries": n, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
