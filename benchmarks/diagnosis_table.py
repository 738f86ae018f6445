"""Print the diagnosis corpus table: per framework, bug kinds and cases caught, first cause right,
false alarms; then every case that is not right, with what it got. The README shows its output.

Usage: python benchmarks/diagnosis_table.py [--framework torch|keras] [--cases] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import pathlib
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


def verdict(case, seed: int) -> tuple[bool, list[str], float]:
    """Whether the check failed, the causes it named, and the seconds it took."""
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        case.run(MLCheck(Settings(seed=seed)))
        return False, [], time.perf_counter() - start
    except CheckFailed as failed:
        return True, list(failed.causes), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=("torch", "keras"))
    parser.add_argument("--cases", action="store_true", help="print every case, not only the wrong ones")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cases = [c for c in all_cases() if args.framework in (None, c.framework)]
    rows, lines = [], []
    for framework in ("torch", "keras"):
        mine = [c for c in cases if c.framework == framework]
        if not mine:
            continue
        broken = [c for c in mine if c.broken]
        correct = [c for c in mine if not c.broken]
        caught = right = alarms = 0
        slowest = 0.0
        for case in mine:
            failed, causes, seconds = verdict(case, args.seed)
            slowest = max(slowest, seconds)
            ok_first = failed and causes[:1] == [case.cause]
            if case.broken:
                caught += failed
                right += ok_first
            else:
                alarms += failed
            wrong = (case.broken and not ok_first) or (not case.broken and failed)
            if wrong or args.cases:
                got = ", ".join(causes) if failed else "passed"
                want = case.cause if case.broken else "pass"
                note = f"  [xfail: {case.xfail}]" if case.xfail else ""
                lines.append(f"  {case.id}: expected {want}, got {got} ({seconds:.1f}s){note}")
        kinds = len({c.kind for c in broken})
        rows.append((framework, kinds, len(broken), caught, right, len(correct), alarms, slowest))
    print("| framework | bug kinds | broken cases | caught | first cause right | twins and look-alikes | false alarms | slowest case |")
    print("|---|---|---|---|---|---|---|---|")
    for fw, kinds, n, caught, right, n_ok, alarms, slowest in rows:
        print(f"| {fw} | {kinds} | {n} | {caught} ({caught / n:.0%}) | {right} ({right / n:.0%}) | {n_ok} | {alarms} | "
              f"{slowest:.1f}s |")
    for framework in ("torch", "keras"):
        kinds = sorted({c.kind for c in cases if c.framework == framework and c.broken})
        if kinds:
            print(f"\n{framework} bug kinds: {', '.join(kinds)}")
    xfails = [c for c in cases if c.xfail]
    if xfails:
        print("\nListed as strict xfails (first cause still wrong):")
        print("\n".join(f"  {c.id}: {c.xfail}" for c in xfails))
    if lines:
        print("\nCases not right (expected vs got):" if not args.cases else "\nEvery case:")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
