"""Measure the margins behind batch_independence's allowances: over every build of the real-program
corpus (buggy and fixed) and every zoo member, the forward probe's largest change in another
sample's output (as a share of the largest |output|) and the backward probe's largest gradient
reaching another sample (as a share of the gradient on the sample's own inputs, or on the vectors
its ids look up).

    python benchmarks/independence_margins.py [--framework torch|keras] [--set corpus|zoo|all]
                                              [--device cpu|cuda] [--out FILE]

Writes benchmarks/independence_margins_<framework>_<device>.json (rows: build, label, verdict,
forward share, backward share, how the backward probe read the inputs), and prints the largest
share of each probe among builds that pass and the smallest among those that fail naming
``batch_mixing``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys
from typing import Any

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.thresholds import (  # noqa: E402
    INDEPENDENCE_GRAD_RTOL,
    INDEPENDENCE_RTOL,
)


def _row(tag: str, label: str, call: Any) -> dict[str, Any] | None:
    try:
        result, verdict = call(), "pass"
    except CheckFailed as failed:
        result, verdict = failed.result, "fail"
    except Exception as exc:  # noqa: BLE001 - a build the probe cannot run is listed, not fatal
        print("ERR", tag, repr(exc)[:160], flush=True)
        return None
    figures, notes = result.figures, result.notes
    scale = figures.get("output_scale")
    forward = figures.get("largest_change_elsewhere")
    reversed_ = figures.get("largest_change_reversed")  # asked only where no sample reached another
    row = dict(build=tag, label=label, verdict=verdict, causes=list(getattr(result, "causes", []) or []),
               forward=None if forward is None or not scale else forward / scale,
               reversed=None if reversed_ is None or not scale else reversed_ / scale,
               backward=figures.get("gradient_leak"),
               read="forward only" if any("forward probe only" in n for n in notes) else "inputs or lookups")
    print(json.dumps(row), flush=True)
    return row


def corpus(framework: str, check: MLCheck) -> list[dict[str, Any]]:
    import tests.real_programs as rp

    rows = []
    for name in rp.PROGRAMS:
        module = importlib.import_module("tests.real_programs." + name)
        if framework not in module.FRAMEWORKS:
            continue
        for which in ("buggy", "fixed"):
            try:
                built = getattr(module, which)(framework)
            except Exception as exc:  # noqa: BLE001
                print("ERR build", name, which, repr(exc)[:120], flush=True)
                continue
            batch = built.get("batch") or (built.get("batches") or [None])[0]
            inputs = built.get("inputs", batch[0] if batch is not None else None)
            if inputs is None or not hasattr(inputs, "shape"):
                continue
            kwargs = {} if built.get("output") is None else {"output": built["output"]}
            rows.append(_row(f"{name}/{framework}/{which}", module.LABEL,
                             lambda: check.batch_independence(built["model"], inputs, **kwargs)))
    return [r for r in rows if r]


def zoo(framework: str, check: MLCheck, seeds: int) -> list[dict[str, Any]]:
    import tests.zoo as Z

    rows = []
    for member in Z.members():
        if member.framework != framework or not Z.available(member):
            continue
        for seed in range(seeds):
            calls = Z.check_calls(member, seed)
            model = member.build(seed)
            rows.append(_row(f"{member.name}/{seed}", "zoo", lambda: calls["batch_independence"](check, model)))
    return [r for r in rows if r]


def summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    for probe in ("forward", "reversed", "backward"):
        passing = [r[probe] for r in rows if r["verdict"] == "pass" and r.get(probe) is not None]
        mixing = [r[probe] for r in rows if "batch_mixing" in r["causes"] and r.get(probe)]
        lines.append(f"{probe}: largest share among {len(passing)} passing builds "
                     f"{max(passing, default=0.0):.3g}; smallest non-zero among {len(mixing)} failing with "
                     f"batch_mixing {min(mixing, default=float('nan')):.3g}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=("torch", "keras"), default="torch")
    parser.add_argument("--set", choices=("corpus", "zoo", "all"), default="all")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    check = MLCheck().with_defaults(device=args.device)
    rows = []
    if args.set in ("corpus", "all"):
        rows += corpus(args.framework, check)
    if args.set in ("zoo", "all"):
        rows += zoo(args.framework, check, args.seeds)
    device = args.device.split(":")[0]
    out = pathlib.Path(args.out) if args.out else ROOT / "benchmarks" / f"independence_margins_{args.framework}_{device}.json"
    out.write_text(json.dumps({"device": args.device, "forward_rtol": INDEPENDENCE_RTOL,
                               "backward_rtol": INDEPENDENCE_GRAD_RTOL, "rows": rows}, indent=1))
    print(summary(rows))


if __name__ == "__main__":
    main()
