"""Measure the margins behind init_loss's band and inputs_normalized's scale threshold, over
several inits in both frameworks, on tabular (scikit-learn iris, wine, breast cancer, diabetes;
raw and standardised features) and image (digits MLP and CNN) models.

    python benchmarks/init_margins.py [--seeds 10] [--framework torch|keras|all]

For init_loss, each correct model's loss at init as a multiple of the expected (uninformative)
loss and its output spread in logit units (the figure ``output_spread``), next to the broken
models of tests/test_init_loss.py. For inputs_normalized, each feature scaling's mean |x| and
std, and whether loss_decreases passes on it (does it train?). Writes benchmarks/init_margins.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any, Callable

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from tests import encodings_corpus as ec  # noqa: E402


def _torch_cases(seed: int) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
    import torch
    from torch import nn

    import recipe_corpus as rc
    import torch_corpus as tc

    def tab(dataset: str, scale: str, out: int, loss: Any, y: Any = None) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            x, t = ec._features(dataset, scale)
            t = t if y is None else y(t)
            idx = np.random.default_rng(0).permutation(len(x))[:64]
            yt = torch.from_numpy(np.ascontiguousarray(t[idx]))
            yt = yt.float() if yt.is_floating_point() else yt.long()
            return dict(model=ec._torch_mlp(seed, x.shape[1], out), batch=(torch.from_numpy(x[idx]), yt),
                        loss_fn=loss)
        return build

    def seeded(f: Callable[[], Any]) -> Callable[[], Any]:
        def build() -> Any:
            torch.manual_seed(seed)
            return f()
        return build

    std_target = lambda t: ((t - t.mean()) / t.std()).astype(np.float32).reshape(-1, 1)  # noqa: E731
    cases = []
    for scale in ("std", "raw"):
        broken = "pass" if scale == "std" else "fail"  # raw wine and breast cancer features reach ~1700 / ~4000
        cases += [(f"iris {scale}", "pass", tab("iris", scale, 3, nn.CrossEntropyLoss())),
                  (f"wine {scale}", broken, tab("wine", scale, 3, nn.CrossEntropyLoss())),
                  (f"breast cancer {scale}", broken, tab("breast_cancer", scale, 2, nn.CrossEntropyLoss())),
                  (f"diabetes {scale}, std target, MSE", "pass", tab("diabetes", scale, 1, nn.MSELoss(), std_target))]
    cases += [("iris std, focal", "pass", tab("iris", "std", 3, ec._torch_focal)),
              ("digits mlp", "pass", seeded(lambda: dict(model=tc.digits_mlp(), batch=tc.digits_batch(64),
                                                           loss_fn=nn.CrossEntropyLoss()))),
              ("digits cnn", "pass", seeded(lambda: dict(model=tc.DigitsCNN(), batch=tc.digits_batch(64),
                                                           loss_fn=nn.CrossEntropyLoss()))),
              ("BROKEN head nn.init.normal_", "fail", seeded(lambda: dict(
                  model=rc.mlp_big_head(), batch=tc.digits_batch(64), loss_fn=nn.CrossEntropyLoss()))),
              ("BROKEN every weight std 1", "fail", seeded(lambda: dict(
                  model=rc.normal_init(tc.digits_mlp()), batch=tc.digits_batch(64), loss_fn=nn.CrossEntropyLoss()))),
              ("BROKEN 0-255 pixels", "fail", seeded(lambda: dict(
                  model=tc.digits_mlp(), batch=tc.digits_batch(64, scale="uint8"), loss_fn=nn.CrossEntropyLoss())))]
    return cases


def _keras_cases(seed: int) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
    import keras

    import keras_corpus as kc
    import recipe_corpus as rc

    sce = lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # noqa: E731

    def tab(dataset: str, scale: str, out: int, loss: Any, y: Any = None, act: Any = None) -> Callable[[], dict]:
        def build() -> dict[str, Any]:
            x, t = ec._features(dataset, scale)
            t = t if y is None else y(t)
            idx = np.random.default_rng(0).permutation(len(x))[:64]
            return dict(model=ec._keras_mlp(seed, x.shape[1], out, activation=act), batch=(x[idx], t[idx]),
                        loss_fn=loss)
        return build

    std_target = lambda t: ((t - t.mean()) / t.std()).astype(np.float32).reshape(-1, 1)  # noqa: E731
    unit_target = lambda t: ((t - t.min()) / (t.max() - t.min())).astype(np.float32).reshape(-1, 1)  # noqa: E731
    cases = []
    for scale in ("std", "raw"):
        broken = "pass" if scale == "std" else "fail"
        cases += [(f"iris {scale}", "pass", tab("iris", scale, 3, sce())),
                  (f"wine {scale}", broken, tab("wine", scale, 3, sce())),
                  (f"breast cancer {scale}", broken, tab("breast_cancer", scale, 2, sce())),
                  (f"diabetes {scale}, std target, MSE", "pass",
                   tab("diabetes", scale, 1, keras.losses.MeanSquaredError(), std_target))]
    cases += [("diabetes std, [0, 1] target, sigmoid, MSE", "pass",
               tab("diabetes", "std", 1, keras.losses.MeanSquaredError(), unit_target, "sigmoid")),
              ("iris std, focal", "pass", tab("iris", "std", 3, ec._keras_focal)),
              ("digits mlp", "pass", lambda: dict(model=kc.mlp(seed=seed), batch=kc.digits_arrays(64),
                                                   loss_fn=sce())),
              ("digits cnn", "pass", lambda: dict(model=kc.cnn(seed=seed), batch=kc.digits_arrays(64),
                                                   loss_fn=sce())),
              ("BROKEN head RandomNormal(stddev=1)", "fail", lambda: dict(
                  model=rc.k_mlp(head_std=1.0, seed=seed), batch=kc.digits_arrays(64), loss_fn=sce())),
              ("BROKEN every kernel std 1", "fail", lambda: dict(
                  model=rc.k_mlp(kernel="normal", seed=seed), batch=kc.digits_arrays(64), loss_fn=sce())),
              ("BROKEN 0-255 pixels", "fail", lambda: dict(
                  model=kc.mlp(seed=seed), batch=kc.digits_arrays(64, scale="uint8"), loss_fn=sce()))]
    return cases


def init_rows(framework: str, seeds: int) -> list[dict[str, Any]]:
    from pytest_mlcheck import CheckFailed, MLCheck
    from pytest_mlcheck.settings import Settings

    rows = []
    for seed in range(seeds):
        cases = _torch_cases(seed) if framework == "torch" else _keras_cases(seed)
        for name, expect, build in cases:
            kw = build()
            check = MLCheck(Settings(seed=seed))
            try:
                result = check.init_loss(kw["model"], kw["batch"], loss_fn=kw["loss_fn"])
                got, figures = "pass", result.figures
            except CheckFailed as failed:
                got, figures = "fail", failed.result.figures if failed.result else {}
            observed, expected = figures.get("loss_at_init", float("nan")), figures.get("expected", float("nan"))
            rows.append(dict(framework=framework, case=name, seed=seed, expect=expect, got=got,
                             ratio=float(observed / expected) if expected else float("nan"),
                             spread=float(figures.get("output_spread", float("nan"))),
                             allowed=float(figures.get("allowed_factor", float("nan")))))
    return rows


def scale_rows(framework: str) -> list[dict[str, Any]]:
    """Feature scalings of the tabular sets: their statistics, inputs_normalized's verdict, and
    whether loss_decreases passes (with the corpus's Adam 1e-2) on them."""
    from pytest_mlcheck import CheckFailed, MLCheck
    from pytest_mlcheck.settings import Settings

    rows = []
    for dataset, out in (("iris", 3), ("wine", 3), ("breast_cancer", 2), ("digits", 10)):
        # digits has constant pixels: no per-column standardising; /16 is its unit scale
        for scale in (("digits", "raw") if dataset == "digits" else ("std", "decade", "raw")):
            x, y = ec._features(dataset, scale)
            split = ec.Split.of(x, y)
            if framework == "torch":
                from torch import nn
                built = ec._torch_built(ec._torch_mlp(0, x.shape[1], out), split, nn.CrossEntropyLoss())
            else:
                import keras
                built = ec._keras_built(ec._keras_mlp(0, x.shape[1], out), split,
                                        keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            check = MLCheck(Settings(seed=0))
            try:
                check.inputs_normalized(built["batch"][0])
                normalized = "pass"
            except CheckFailed:
                normalized = "fail"
            try:
                check.loss_decreases(built["model"], built["batches"], loss_fn=built["loss_fn"],
                                     optimizer=built["optimizer"])
                trains = "pass"
            except CheckFailed:
                trains = "fail"
            rows.append(dict(framework=framework, dataset=dataset, scale=scale,
                             mean_abs=float(np.mean(np.abs(x))), std=float(np.std(x)), max=float(np.abs(x).max()),
                             inputs_normalized=normalized, loss_decreases=trains))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--framework", choices=("torch", "keras", "all"), default="all")
    args = parser.parse_args(argv)
    frameworks = ("torch", "keras") if args.framework == "all" else (args.framework,)
    init, scales = [], []
    for fw in frameworks:
        init += init_rows(fw, args.seeds)
        scales += scale_rows(fw)
    print(f"{'fw':<6} {'init_loss case':<40} {'exp':<5} {'ratio min..max':<16} {'spread min..max':<16} wrong")
    for fw in frameworks:
        for name in dict.fromkeys(r["case"] for r in init if r["framework"] == fw):
            rs = [r for r in init if r["framework"] == fw and r["case"] == name]
            ratios, spreads = [r["ratio"] for r in rs], [r["spread"] for r in rs]
            wrong = sum(r["got"] != r["expect"] for r in rs)
            print(f"{fw:<6} {name:<40} {rs[0]['expect']:<5} {min(ratios):>6.3f}..{max(ratios):<8.3f} "
                  f"{min(spreads):>6.3f}..{max(spreads):<8.3f} {wrong}/{len(rs)}")
    print(f"\n{'fw':<6} {'dataset':<14} {'scale':<7} {'mean|x|':>8} {'std':>8} {'max':>8} normalized trains")
    for r in scales:
        print(f"{r['framework']:<6} {r['dataset']:<14} {r['scale']:<7} {r['mean_abs']:>8.3g} {r['std']:>8.3g} "
              f"{r['max']:>8.3g} {r['inputs_normalized']:<10} {r['loss_decreases']}")
    (ROOT / "benchmarks" / "init_margins.json").write_text(json.dumps(dict(init=init, scales=scales), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
