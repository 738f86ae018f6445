"""Measure the largest-class share that not_constant_predictions sees, over seeds, for untrained
models, models trained on balanced digits, and models trained on 98 % one class (collapse).
Usage: python benchmarks/sweep_collapse.py [--seeds 10]"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402
from torch_corpus import DigitsCNN, digits_batches, digits_mlp, held_out, imbalanced_batches  # noqa: E402


def share(model: nn.Module, seed: int, **kwargs) -> float:
    """The largest class share in percent, read with max_share=0.999 so nothing short of 100 % fails."""
    try:
        result = MLCheck(Settings(seed=seed)).not_constant_predictions(model, held_out(), max_share=0.999, **kwargs)
        text = result.figures["largest class share"]
    except CheckFailed as failed:
        text = failed.result.figures["largest class share"]
    return float(text.split("%")[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    train = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    for name, build in (("cnn", DigitsCNN), ("mlp", digits_mlp)):
        rows: dict[str, list[float]] = {"untrained": [], "balanced": [], "98% one class": []}
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            rows["untrained"].append(share(build(), seed))
            rows["balanced"].append(share(build(), seed, train_on=digits_batches(10), **train))
            rows["98% one class"].append(share(build(), seed, train_on=imbalanced_batches(), **train))
        print(name + ": " + "; ".join(f"{k} {min(v):.0f}–{max(v):.0f} %" for k, v in rows.items()))


if __name__ == "__main__":
    main()
