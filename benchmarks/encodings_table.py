"""Run the held-out target-encoding corpus (tests/encodings_corpus.py) through the checks and print
what the plugin says for every case x check.

    python benchmarks/encodings_table.py [--seeds N] [--framework torch|keras|all] [--only SUBSTRING]

Each check is called in-process on ``MLCheck(Settings(seed=seed, max_seconds=60))``. A pass, a
``CheckFailed`` (with its causes) and an ``MlcheckUsageError`` are outcomes; any other exception is a
CRASH and recorded with its type. An exception inside a case's own ``build`` is BUILD ERROR (a
corpus defect, not the plugin's). Results go to stdout and ``benchmarks/encodings_table.json``.
"""

from __future__ import annotations

import argparse
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

from tests.encodings_corpus import EncodingCase, all_cases  # noqa: E402

MAX_SECONDS = 60.0


def _call(check: Any, name: str, built: dict[str, Any]) -> Any:
    """Call one check with what the case built; keys that are None are left out."""
    kw = dict(built.get("kwargs", {}).get(name, {}))

    def opt(**more: Any) -> dict[str, Any]:
        return {k: v for k, v in {**more, **kw}.items() if v is not None}

    model, loss_fn, optimizer = built.get("model"), built.get("loss_fn"), built.get("optimizer")
    train = dict(loss_fn=loss_fn, optimizer=optimizer)
    if name == "overfit_one_batch":
        return check.overfit_one_batch(model, built["batch"], **opt(**train))
    if name == "loss_decreases":
        return check.loss_decreases(model, built["batches"], **opt(**train))
    if name == "init_loss":
        return check.init_loss(model, built["batch"], **opt(loss_fn=loss_fn))
    if name == "gradients_flow":
        return check.gradients_flow(model, built["batch"], **opt(**train))
    if name == "input_independent_baseline":
        return check.input_independent_baseline(model, built["batch"], **opt(**train))
    if name == "output_range":
        return check.output_range(model, built["inputs"], **opt())
    if name == "not_constant_predictions":
        return check.not_constant_predictions(model, built["inputs"], **opt(**train))
    if name == "inputs_normalized":
        return check.inputs_normalized(built["batch"][0], **opt(model=model))
    if name == "label_roundtrip":
        return check.label_roundtrip(kw.pop("encode"), kw.pop("decode"), kw.pop("labels"), **opt())
    raise ValueError(f"unknown check {name!r}")


def run_case(case: EncodingCase, seed: int) -> list[dict[str, Any]]:
    from pytest_mlcheck import CheckFailed, MLCheck, MlcheckUsageError
    from pytest_mlcheck.settings import Settings

    rows: list[dict[str, Any]] = []
    try:
        built = case.build(seed)
        build_error = None
    except Exception as exc:  # a corpus defect: say so, never blame the plugin
        built, build_error = None, f"{type(exc).__name__}: {exc}"
    for name in case.checks:
        row: dict[str, Any] = dict(case=case.name, framework=case.framework, check=name, seed=seed,
                                   expected=case.expect, expected_cause=case.cause,
                                   accepted_causes=list(case.accepted_causes))
        start = time.perf_counter()
        if build_error is not None:
            row.update(got="build_error", causes=[], detail=build_error)
        else:
            check = MLCheck(Settings(seed=seed, max_seconds=MAX_SECONDS))
            try:
                result = _call(check, name, built)
                row.update(got="pass", causes=[], detail=_figures(result))
            except CheckFailed as failed:
                row.update(got="fail", causes=list(failed.causes), detail=str(failed).splitlines()[0][:300])
            except MlcheckUsageError as err:
                row.update(got="usage_error", causes=[], detail=str(err)[:300])
            except Exception as exc:  # anything else is a crash of the check
                tb = traceback.extract_tb(exc.__traceback__)
                where = f"{tb[-1].filename.split('/')[-1]}:{tb[-1].lineno}" if tb else ""
                row.update(got="crash", causes=[], detail=f"{type(exc).__name__}: {str(exc)[:200]} @ {where}",
                           exception=type(exc).__name__)
        row["seconds"] = round(time.perf_counter() - start, 2)
        row["verdict_ok"] = (row["got"] == "pass") if case.expect == "pass" else (row["got"] == "fail")
        if case.expect == "fail":
            row["cause_ok"] = bool(row["causes"]) and row["causes"][0] in case.accepted_causes
        else:
            row["cause_ok"] = None
        rows.append(row)
    return rows


def _figures(result: Any) -> str:
    figures = getattr(result, "figures", None) or {}
    keep = {k: figures[k] for k in list(figures)[:6]}
    return json.dumps(keep, default=str)[:300]


def _got(row: dict[str, Any]) -> str:
    if row["got"] == "fail":
        return "fail " + ",".join(row["causes"])
    if row["got"] == "crash":
        return "CRASH " + row.get("exception", "")
    if row["got"] == "build_error":
        return "BUILD ERROR"
    return row["got"]


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fw in sorted({r["framework"] for r in rows}) + ["all"]:
        rs = [r for r in rows if fw == "all" or r["framework"] == fw]
        passes = [r for r in rs if r["expected"] == "pass"]
        fails = [r for r in rs if r["expected"] == "fail"]
        out[fw] = dict(
            runs=len(rs),
            expected_pass=len(passes),
            false_alarms=sum(r["got"] in ("fail", "crash", "usage_error") for r in passes),
            expected_fail=len(fails),
            caught=sum(r["got"] == "fail" for r in fails),
            misses=sum(r["got"] == "pass" for r in fails),
            right_first_cause=sum(bool(r["cause_ok"]) for r in fails),
            crashes=sum(r["got"] == "crash" for r in rs),
            usage_errors=sum(r["got"] == "usage_error" for r in rs),
            build_errors=sum(r["got"] == "build_error" for r in rs),
            seconds=round(sum(r["seconds"] for r in rs), 1),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 (default 1)")
    parser.add_argument("--framework", choices=("torch", "keras", "all"), default="all")
    parser.add_argument("--only", default=None, help="only cases whose name contains this substring")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "encodings_table.json"))
    args = parser.parse_args(argv)

    cases = [c for c in all_cases(args.framework) if not args.only or args.only.lower() in c.name.lower()]
    rows: list[dict[str, Any]] = []
    header = f"{'case':<92} {'fw':<5} {'check':<27} {'exp':<4} {'got':<44} {'ok':<3} {'cause':<5} {'s':>6}"
    print(header)
    print("-" * len(header))
    for seed in range(args.seeds):
        for case in cases:
            for row in run_case(case, seed):
                rows.append(row)
                cause = "" if row["cause_ok"] is None else ("yes" if row["cause_ok"] else "NO")
                name = case.name if args.seeds == 1 else f"[s{seed}] {case.name}"
                print(f"{name[:92]:<92} {row['framework']:<5} {row['check']:<27} {row['expected']:<4} "
                      f"{_got(row)[:44]:<44} {'yes' if row['verdict_ok'] else 'NO':<3} {cause:<5} "
                      f"{row['seconds']:>6.1f}", flush=True)

    summary = totals(rows)
    print()
    print(f"{'framework':<9} {'runs':>5} {'exp.pass':>8} {'false alarms':>12} {'exp.fail':>8} {'caught':>6} "
          f"{'misses':>6} {'right 1st cause':>15} {'crashes':>7} {'usage':>5} {'build err':>9} {'seconds':>8}")
    for fw, t in summary.items():
        print(f"{fw:<9} {t['runs']:>5} {t['expected_pass']:>8} {t['false_alarms']:>12} {t['expected_fail']:>8} "
              f"{t['caught']:>6} {t['misses']:>6} {t['right_first_cause']:>15} {t['crashes']:>7} "
              f"{t['usage_errors']:>5} {t['build_errors']:>9} {t['seconds']:>8}")

    wrong = [r for r in rows if not r["verdict_ok"] or r["cause_ok"] is False]
    if wrong:
        print("\nwrong verdicts or first causes:")
        for r in wrong:
            print(f"- [{r['framework']}] {r['case']} / {r['check']}: expected {r['expected']}"
                  f"{' (' + '/'.join(r['accepted_causes']) + ')' if r['accepted_causes'] else ''}, got {_got(r)}"
                  f" -- {r['detail'][:200]}")

    commit = os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip()
    pathlib.Path(args.out).write_text(json.dumps(
        dict(commit=commit, seeds=args.seeds, framework=args.framework, only=args.only,
             totals=summary, rows=rows), indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
