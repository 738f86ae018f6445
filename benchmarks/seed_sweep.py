"""Run the whole diagnosis corpus (every broken case, twin and look-alike, both frameworks) over
many seeds, and report false alarms and misses. Resumable and shardable:

    python benchmarks/seed_sweep.py --seeds 20                       # everything, one process
    python benchmarks/seed_sweep.py --seeds 20 --shard 0/2 &         # or split across processes,
    python benchmarks/seed_sweep.py --seeds 20 --shard 1/2 &         # each appending to the log
    python benchmarks/seed_sweep.py --seeds 20 --report              # summarise the log only

Each (case, seed) result is appended as one JSON line to the log (default
benchmarks/seed_sweep.log.jsonl) as soon as it is known; a rerun skips what the log holds, so an
interrupted sweep resumes. The summary, with the commit it was taken on, goes to
benchmarks/seed_sweep.json. For torch cases the seed sets both the check's seed and torch's global
generator before the model is built (so the initial weights vary too); the Keras corpus builds its
models with fixed initializer seeds, so only the check's seed varies there.

Checks import their modules lazily, so do not edit the package while a sweep runs: run it from a
clean clone (with PYTHONPATH pointing at that clone when the venv holds an editable install).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

from diagnosis_corpus import all_cases  # noqa: E402
from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402


def commit_of_tree() -> str:
    """The commit the sweep runs on, marked '+dirty' when the working tree differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    return head + ("+dirty" if dirty else "")


def run_one(case, seed: int) -> dict:
    torch.manual_seed(seed)
    start = time.perf_counter()
    try:
        case.run(MLCheck(Settings(seed=seed)))
        failed, causes = False, []
    except CheckFailed as exc:
        failed, causes = True, list(exc.causes)
    except Exception as exc:  # a crash is a finding too: record it, keep sweeping
        failed, causes = True, [f"crash: {type(exc).__name__}: {exc}"[:200]]
    return {"case": case.id, "seed": seed, "broken": case.broken, "expected": case.cause, "failed": failed,
            "causes": causes, "seconds": round(time.perf_counter() - start, 3)}


def summarise(records: list[dict], cases: list, seeds: int) -> dict:
    by_case: dict[str, list[dict]] = {}
    for r in records:
        by_case.setdefault(r["case"], []).append(r)
    out = {"cases": {}, "totals": {}}
    for framework in ("torch", "keras"):
        mine = [c for c in cases if c.framework == framework]
        runs = [r for c in mine for r in by_case.get(c.id, [])]
        broken = [r for r in runs if r["broken"]]
        correct = [r for r in runs if not r["broken"]]
        out["totals"][framework] = {
            "broken runs": len(broken),
            "caught": sum(r["failed"] for r in broken),
            "first cause right": sum(r["failed"] and r["causes"][:1] == [r["expected"]] for r in broken),
            "twin and look-alike runs": len(correct),
            "false alarms": sum(r["failed"] for r in correct),
            "crashes": sum(any(str(c).startswith("crash") for c in r["causes"]) for r in runs),
        }
    for case in cases:
        rs = by_case.get(case.id, [])
        if not rs:
            continue
        bad = [r["seed"] for r in rs if (r["failed"] != case.broken) or
               (case.broken and r["causes"][:1] != [case.cause])]
        out["cases"][case.id] = {"seeds run": len(rs), "not right on seeds": bad,
                                 "causes seen": sorted({r["causes"][0] if r["causes"] else "passed" for r in rs})}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--shard", default="0/1", help="i/n: run the cases whose index is i modulo n")
    parser.add_argument("--log", default=str(ROOT / "benchmarks" / "seed_sweep.log.jsonl"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "seed_sweep.json"))
    parser.add_argument("--framework", choices=("torch", "keras"))
    parser.add_argument("--report", action="store_true", help="only summarise what the log holds")
    parser.add_argument("--kinds", nargs="*", help="only the cases of these bug kinds (cause ids), twins included: "
                                                   "re-measure what a change touched, into its own --log/--out")
    args = parser.parse_args()
    index, count = (int(v) for v in args.shard.split("/"))
    cases = [c for c in all_cases() if args.framework in (None, c.framework) and (not args.kinds or c.kind in args.kinds)]
    log = pathlib.Path(args.log)
    done = set()
    if log.exists():
        for line in log.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["case"], r["seed"]))
    commit = commit_of_tree()
    if not args.report:
        with log.open("a") as sink:
            for i, case in enumerate(cases):
                if i % count != index:
                    continue
                for seed in range(args.seeds):
                    if (case.id, seed) in done:
                        continue
                    sink.write(json.dumps({**run_one(case, seed), "commit": commit}) + "\n")
                    sink.flush()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    # one record per (case, seed): the latest, should shards ever have overlapped
    records = list({(r["case"], r["seed"]): r for r in records if r["seed"] < args.seeds}.values())
    summary = summarise(records, cases, args.seeds)
    commits = sorted({r.get("commit", "?") for r in records})
    summary = {"commit": ", ".join(commits), "seeds": args.seeds, **summary}
    pathlib.Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"seed sweep on {summary['commit']}, seeds 0..{args.seeds - 1}")
    print("| framework | broken runs | caught | first cause right | twin and look-alike runs | false alarms | crashes |")
    print("|---|---|---|---|---|---|---|")
    for fw, t in summary["totals"].items():
        if t["broken runs"] or t["twin and look-alike runs"]:
            print(f"| {fw} | {t['broken runs']} | {t['caught']} | {t['first cause right']} | "
                  f"{t['twin and look-alike runs']} | {t['false alarms']} | {t['crashes']} |")
    wrong = {k: v for k, v in summary["cases"].items() if v["not right on seeds"]}
    if wrong:
        print("\nCases not right on some seeds:")
        for k, v in wrong.items():
            print(f"  {k}: seeds {v['not right on seeds']}; causes seen {v['causes seen']}")


if __name__ == "__main__":
    main()
