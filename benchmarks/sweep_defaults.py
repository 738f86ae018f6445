"""Sweep the training checks over seeds on the corpus of correct and broken digits models.

Prints, per case, the verdicts across seeds and the figures the defaults were chosen from:
for overfit_one_batch the steps needed and the best loss ratio, for loss_decreases the drop
at several step budgets. Usage: python benchmarks/sweep_defaults.py [--seeds 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.checks.runner import TrainSpec  # noqa: E402
from pytest_mlcheck.checks.loss_decreases import trend, _losses_at_init  # noqa: E402
from pytest_mlcheck.checks.common import open_session  # noqa: E402
from pytest_mlcheck.checks.training import train_loop  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402
from torch_corpus import digits_batch, digits_batches, training_cases  # noqa: E402


def decrease_curve(case_kw: dict, seed: int, steps: int) -> tuple[float, list[float], list[float]]:
    """The raw loss curve loss_decreases sees (no verdict), to read its drop at any budget."""
    spec = TrainSpec(loss_fn=case_kw.get("loss_fn"), optimizer=case_kw.get("optimizer"),
                     train_step=case_kw.get("train_step"))
    session = open_session(case_kw["model"], Settings(seed=seed), spec)
    try:
        prepared = [session.prepare(*b) for b in digits_batches(10)]
        at_init = _losses_at_init(session, prepared, steps)
        losses, _, _ = train_loop(session, prepared, steps, None)
        return float(np.mean(at_init[:5])), losses, at_init
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "sweep_defaults.json"))
    args = parser.parse_args()
    budgets = (40, 60, 100)
    rows = []
    for case in training_cases():
        row = {"case": case.name, "broken": case.broken, "overfit": [], "decrease": {b: [] for b in budgets},
               "decrease_verdict": [], "causes": []}
        for seed in range(args.seeds):
            kw = case.build()
            check = MLCheck(Settings(seed=seed))
            try:
                r = check.overfit_one_batch(batch=digits_batch(32), **kw)
                row["overfit"].append({"pass": True, "steps": r.steps, "ratio": r.end_loss / r.start_loss})
            except CheckFailed as e:
                finite = [v for v in e.result.losses if np.isfinite(v)]
                ratio = min(finite) / e.result.start_loss if finite else float("nan")
                row["overfit"].append({"pass": False, "steps": e.result.steps, "ratio": ratio})
                row["causes"].append(e.causes[0] if e.causes else None)
            base, losses, at_init = decrease_curve(case.build(), seed, max(budgets))
            for b in budgets:
                part = losses[:b]
                ok = all(np.isfinite(part))
                row["decrease"][b].append(trend(part, base, at_init=at_init)[2] if ok else float("-inf"))
            try:
                check.loss_decreases(batches=digits_batches(10), **case.build())
                row["decrease_verdict"].append(True)
            except CheckFailed:
                row["decrease_verdict"].append(False)
        rows.append(row)
        ov = row["overfit"]
        passed = sum(o["pass"] for o in ov)
        steps = [o["steps"] for o in ov if o["pass"]]
        ratios = [o["ratio"] for o in ov if not o["pass"]]
        drops = {b: (min(v), max(v)) for b, v in row["decrease"].items()}
        print(f"{'BROKEN' if case.broken else 'correct':7} {case.name}")
        print(f"   overfit: {passed}/{len(ov)} pass; steps to pass max {max(steps) if steps else '-'}; "
              f"failing best ratio min {min(ratios) if ratios else '-'}; first causes {sorted(set(map(str, row['causes'])))}")
        print("   loss_decreases drop (min, max): " + ", ".join(f"{b} steps {lo:.2f}..{hi:.2f}" for b, (lo, hi) in drops.items())
              + f"; default verdict {sum(row['decrease_verdict'])}/{len(row['decrease_verdict'])} pass")
        sys.stdout.flush()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    pathlib.Path(args.out).write_text(json.dumps({"commit": commit, "seeds": args.seeds, "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
