"""Run every zoo member (tests/zoo.py, all correct models) through every check that applies and
print a table: member, framework, check, verdict, causes, seconds, key figures. Any failure is a
false alarm. Writes benchmarks/zoo_table.json (or --out).

    python benchmarks/zoo_table.py                    # CI-sized members, seed 0
    python benchmarks/zoo_table.py --slow             # the larger members too
    python benchmarks/zoo_table.py --only resnet18 --checks gradients_flow
    python benchmarks/zoo_table.py --render a.json b.json --write   # merge runs (later wins), print markdown
    python benchmarks/zoo_table.py --broken --seed N  # each member's labels shuffled apart from its
                                                      # inputs: input_independent_baseline must fail
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any, Callable

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import zoo  # noqa: E402
from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.errors import CheckIncomplete  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402

CHECKS, NOT_FOR_LM, calls = zoo.CHECKS, zoo.NOT_FOR_LM, zoo.check_calls


FIGURES = ("steps", "p_value", "stages", "max_relative_gradient", "input_end_ratio", "settle_steps", "max_radial_gradient", "zero_gradients_settled", "drop", "ratio", "accuracy", "margin", "gain", "max_share", "worst_relative_scale",
           "min_depth_ratio", "gradient_scale", "largest_class_share")


def key_figures(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    figs: dict[str, Any] = {}
    if getattr(result, "steps", None):
        figs["steps"] = result.steps
    for k, v in (getattr(result, "figures", None) or {}).items():
        if isinstance(v, (int, float, str, bool)) and not isinstance(v, dict):
            figs[k] = v if not isinstance(v, float) else float(f"{v:.4g}")
    return figs


def run_one(member: zoo.Member, check: str, seed: int, call: Callable) -> dict[str, Any]:
    model = member.build(seed)
    start = time.perf_counter()
    result, verdict, causes, message = None, "pass", [], ""
    try:
        result = call(MLCheck(Settings(seed=seed)), model)
    except CheckIncomplete as exc:
        verdict, result, message = "incomplete", exc.result, str(exc).splitlines()[0]
    except CheckFailed as exc:
        verdict, causes, result, message = "FAIL", list(exc.causes), exc.result, str(exc).splitlines()[0]
    except Exception as exc:  # a crash is a finding: record it and keep going
        verdict, message = "crash", f"{type(exc).__name__}: {exc}"[:300]
    return {"member": member.name, "framework": member.framework, "check": check, "seed": seed,
            "verdict": verdict, "causes": causes, "seconds": round(time.perf_counter() - start, 2),
            "figures": key_figures(result), "message": message}


def shuffled_baseline(member: zoo.Member, seed: int) -> Callable:
    """The member's baseline call with its labels shuffled apart from its inputs."""
    import numpy as np

    x, y = member.data(max(64, member.batch), seed, 8 * member.batch)
    y = y[np.random.default_rng(1000 + seed).permutation(len(y))]
    return lambda m, model: m.input_independent_baseline(model, (x, y), **member.kwargs())


SHORT = {"overfit_one_batch": "overfit", "loss_decreases": "loss ↓", "init_loss": "init loss",
         "gradients_flow": "gradients", "output_range": "output range", "not_constant_predictions": "not constant",
         "batch_independence": "batch indep.", "inputs_normalized": "inputs norm.",
         "input_independent_baseline": "baseline"}


def markdown(rows: list[dict[str, Any]]) -> str:
    """Members × checks, each cell the verdict and its first cause (the README's zoo table)."""
    members = list(dict.fromkeys((r["member"], r["framework"]) for r in rows))
    cells = {(r["member"], r["check"]): r for r in rows}
    lines = ["| member | framework | " + " | ".join(SHORT[c] for c in CHECKS) + " |",
             "|---|---|" + "---|" * len(CHECKS)]
    for member, framework in members:
        out = []
        for check in CHECKS:
            r = cells.get((member, check))
            if r is None:
                out.append("n/a")
            elif r["verdict"] == "pass":
                out.append("pass")
            else:
                out.append(f"**{r['verdict'].lower()}**" + (f" `{r['causes'][0]}`" if r["causes"] else ""))
        lines.append(f"| {member} | {framework} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", nargs="*", help="print the markdown table of these JSON outputs (later files "
                                                    "override earlier ones per member and check) and exit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", action="store_true", help="include the larger members")
    parser.add_argument("--only", nargs="*", help="member names (substring match)")
    parser.add_argument("--checks", nargs="*", default=CHECKS)
    parser.add_argument("--broken", action="store_true", help="input_independent_baseline only, on each member's "
                                                                 "batch with its labels shuffled (a seeded permutation)")
    parser.add_argument("--write", action="store_true", help="with --render: write the merged rows to --out")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "zoo_table.json"))
    args = parser.parse_args()
    if args.render:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for path in args.render:
            for r in json.loads(pathlib.Path(path).read_text())["rows"]:
                merged[(r["member"], r["check"])] = r
        order = {m.name: i for i, m in enumerate(zoo.members())}
        rows = sorted(merged.values(), key=lambda r: order.get(r["member"], len(order)) * 100 + CHECKS.index(r["check"]))
        print(markdown(rows))
        if args.write:  # the merged rows become the table of record
            pathlib.Path(args.out).write_text(json.dumps({"seed": rows[0]["seed"], "rows": rows}, indent=1) + "\n")
        return
    rows = []
    for member in zoo.members():
        if (member.slow and not args.slow) or not zoo.available(member):
            continue
        if args.only and not any(o in member.name for o in args.only):
            continue
        todo = calls(member, args.seed)
        if args.broken:
            todo = {"input_independent_baseline": shuffled_baseline(member, args.seed)}
        for check in (["input_independent_baseline"] if args.broken else args.checks):
            if member.lm and check in NOT_FOR_LM:
                continue
            row = run_one(member, check, args.seed, todo[check])
            rows.append(row)
            figs = {k: v for k, v in row["figures"].items() if k in FIGURES or k.endswith("ratio")}
            print(f"{row['member']:<32} {row['framework']:<6} {check:<27} {row['verdict']:<10} "
                  f"{','.join(row['causes']) or '-':<40} {row['seconds']:>7.2f}s {figs} {row['message'][:160]}",
                  flush=True)
    if args.broken:
        missed = [r for r in rows if r["verdict"] == "pass"]
        print(f"\n{len(missed)} of {len(rows)} calls on shuffled labels passed")
    else:
        alarms = [r for r in rows if r["verdict"] != "pass"]
        print(f"\n{len(alarms)} of {len(rows)} calls on correct models did not pass")
    pathlib.Path(args.out).write_text(json.dumps({"seed": args.seed, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
