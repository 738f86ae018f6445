"""Margins of gradients_flow's rule over seeds: every zoo member (tests/zoo.py) and every
gradients_flow case of the digits corpus (tests/test_gradients_flow.py: correct models and
look-alikes, dead, vanishing and exploding bugs), in both frameworks.

    python benchmarks/sweep_gradients.py --seeds 10            # CI-sized zoo + digits corpus
    python benchmarks/sweep_gradients.py --seeds 10 --slow     # the larger zoo members too

For each (case, seed) it records the verdict, the causes and the figures the rule judges on:
``max_radial_gradient`` (exploding above EXPLODING_SCALE), ``input_end_ratio`` (vanishing under
VANISHING_RATIO) and, when the first step had all-zero gradients, how many cleared within
SETTLE_STEPS. The summary gives, per figure, the range over correct models and over the broken
ones it must catch, and writes benchmarks/sweep_gradients.json.
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

import torch  # noqa: E402

import test_gradients_flow as tgf  # noqa: E402
import zoo  # noqa: E402
from diagnosis_corpus import all_cases  # noqa: E402
from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402


def cases(slow: bool) -> list[tuple[str, str | None, Callable[[int], tuple[Any, Any, dict[str, Any]]]]]:
    """(name, expected first cause or None for a correct model, seed -> (model, batch, kwargs))."""
    out: list[tuple[str, str | None, Callable]] = []
    for m in zoo.members():
        if (m.slow and not slow) or not zoo.available(m):
            continue
        out.append((f"zoo: {m.name}", None,
                    lambda seed, m=m: (m.build(seed), m.data(m.batch, seed, 0), m.kwargs())))

    def digits(build: Callable[[], dict[str, Any]], name: str) -> Callable[[int], tuple[Any, Any, dict[str, Any]]]:
        def make(seed: int) -> tuple[Any, Any, dict[str, Any]]:
            torch.manual_seed(seed)  # torch models draw their init from it; the Keras corpus is fixed-seeded
            kw = build()
            return kw.pop("model"), kw.pop("batch", tgf._batch(name)), kw
        return make

    for name, build, cause in tgf.BROKEN:
        out.append((f"digits: {name}", cause, digits(build, name)))
    for name, build in tgf.CORRECT:
        out.append((f"digits: {name}", None, digits(build, name)))
    return out


GRADIENT_KINDS = {"dead_units", "vanishing_gradients", "exploding_gradients"}


def diagnosis_cases() -> list[tuple[str, str | None, Callable[[Any], Any]]]:
    """The diagnosis corpus's dead / vanishing / exploding cases (with their twins and look-alikes):
    (name, expected first cause or None, mlcheck -> result)."""
    return [(f"corpus: {d.id}", d.cause if d.broken else None, d.run) for d in all_cases() if d.kind in GRADIENT_KINDS]


def run_one(name: str, expected: str | None, make: Callable, seed: int, corpus: bool = False) -> dict[str, Any]:
    if corpus:  # a diagnosis-corpus case runs its own check; torch draws its init from the global seed
        torch.manual_seed(seed)
        call = lambda: make(MLCheck(Settings(seed=seed)))  # noqa: E731
    else:
        model, batch, kw = make(seed)
        call = lambda: MLCheck(Settings(seed=seed)).gradients_flow(model, batch, **kw)  # noqa: E731
    start = time.perf_counter()
    try:
        result = call()
        causes: list[str] = []
    except CheckFailed as exc:
        result, causes = exc.result, list(exc.causes)
    figures = getattr(result, "figures", {}) or {}
    keep = ("max_radial_gradient", "input_end_ratio", "zero_gradients_settled", "settle_steps")
    return {"case": name, "seed": seed, "expected": expected, "causes": causes,
            "right": (not causes) if expected is None else bool(causes) and causes[0] == expected,
            "seconds": round(time.perf_counter() - start, 2),
            **{k: figures[k] for k in keep if k in figures}}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def span(sel: list[dict[str, Any]], key: str) -> list[float] | None:
        vals = [r[key] for r in sel if key in r]
        return [min(vals), max(vals)] if vals else None

    correct = [r for r in rows if r["expected"] is None]
    by_cause = {c: [r for r in rows if r["expected"] == c] for c in {r["expected"] for r in rows if r["expected"]}}
    return {
        "wrong_verdicts": [f"{r['case']} seed {r['seed']}: {r['causes'] or 'passed'}" for r in rows if not r["right"]],
        "correct_max_radial_gradient": span(correct, "max_radial_gradient"),
        "correct_input_end_ratio": span(correct, "input_end_ratio"),
        "correct_zero_gradients_settled": span(correct, "zero_gradients_settled"),
        "exploding_max_radial_gradient": span(by_cause.get("exploding_gradients", []), "max_radial_gradient"),
        "vanishing_input_end_ratio": span(by_cause.get("vanishing_gradients", []), "input_end_ratio"),
        "per_case": {name: {k: span([r for r in rows if r["case"] == name], k)
                            for k in ("max_radial_gradient", "input_end_ratio")}
                     for name in dict.fromkeys(r["case"] for r in rows)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--slow", action="store_true")
    parser.add_argument("--only", nargs="*", help="case names (substring match)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "sweep_gradients.json"))
    args = parser.parse_args()
    rows = []
    todo = [(*c, False) for c in cases(args.slow)] + [(*c, True) for c in diagnosis_cases()]
    for name, expected, make, corpus in todo:
        if args.only and not any(o in name for o in args.only):
            continue
        for seed in range(args.seeds):
            row = run_one(name, expected, make, seed, corpus)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = summary(rows)
    print(json.dumps({k: v for k, v in result.items() if k != "per_case"}, indent=1))
    pathlib.Path(args.out).write_text(json.dumps({"seeds": args.seeds, "summary": result, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
