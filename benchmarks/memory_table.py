"""Memory (and time) of a check against the user's own loop, for torch and Keras MLPs of 1M-200M parameters.

Each figure comes from a fresh process (one per framework, size and scenario), with glibc told to
hand every large block back to the system (``MALLOC_MMAP_THRESHOLD_``), so resident memory is what
is alive. A process imports everything, warms up on a tiny model (first traces, allocator pools),
builds the model and its batch, runs one forward pass, then runs its scenario:

- ``bare_loop``: the user's own loop, ``steps`` Adam steps (torch: zero_grad/backward/step; Keras: a
  ``tf.function`` GradientTape step, as ``fit`` runs);
- ``overfit_one_batch``: the check, Adam (its default) for at most ``steps`` steps;
- ``forward``: one eval-mode forward pass without gradients (torch ``no_grad``, Keras ``training=False``);
- ``output_range``: the check on the same batch (one forward pass).

Each scenario runs in ``--repeats`` fresh processes (3): the table gives the median peak and time,
and every run's peak for the loop and the check. Figures: ``peak_mib`` is the high-water mark of
resident memory during the scenario above what was alive just before it, plus the model's own
weights (so the model counts, for the loop and the check alike). "Alive" means after a garbage
collection and ``malloc_trim``: memory freed earlier but still held by the heap would otherwise be
handed back during the scenario whenever the heap's top is freed, and lower its peak by chance (a
change to the warm-up's check once moved a Keras 1M loop's peak from 18 MiB to 8, below its own
optimizer's state, its first trace's ~10 MiB of graph building hidden in reused heap).
``retained_mib`` is what is alive after the scenario returned minus before it started; ``seconds`` the wall time of a training scenario, and for the inference scenarios
the median of 7 warm calls after the measured one. Ratios: check peak / bare-loop peak, and
output_range peak and time / forward pass peak and time.

    python benchmarks/memory_table.py                 # all sizes, both frameworks -> memory_table.json
    python benchmarks/memory_table.py --sizes 1M 10M --frameworks torch
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

SIZES = {"1M": 1_000_000, "10M": 10_000_000, "50M": 50_000_000, "200M": 200_000_000}
SCENARIOS = ("bare_loop", "overfit_one_batch", "forward", "output_range")
FEATURES, CLASSES, DEPTH, BATCH = 256, 10, 3, 32
INFERENCE_TIMINGS = 7  # warm calls timed after the measured one (inference scenarios)
HERE = Path(__file__).resolve().parent


def width(params: int) -> int:
    """Hidden width of a FEATURES -> width x DEPTH -> CLASSES MLP with about ``params`` parameters."""
    return max(16, int(((params / (DEPTH - 1)) ** 0.5)))


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def trim() -> None:
    """Collect garbage and hand every free heap page back to the system (glibc ``malloc_trim``):
    otherwise memory freed before the scenario, stuck below a live block, is returned during it
    and lowers its measured peak (measured: ~10 MiB at a 1M model's first trace)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current resident size


def _torch(params: int, scenario: str, steps: int) -> tuple:
    import torch
    from torch import nn

    from pytest_mlcheck import CheckFailed, MLCheck

    def build(w: int) -> nn.Module:
        torch.manual_seed(0)
        layers: list[nn.Module] = [nn.Linear(FEATURES, w), nn.ReLU()]
        for _ in range(DEPTH - 1):
            layers += [nn.Linear(w, w), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(w, CLASSES))

    x, y = torch.randn(BATCH, FEATURES), torch.arange(BATCH) % CLASSES
    warm = build(32)
    MLCheck().output_range(warm, x, kind="logits")
    try:
        MLCheck().overfit_one_batch(warm, (x, y), loss_fn=nn.CrossEntropyLoss(), steps=2)
    except CheckFailed:
        pass
    del warm
    model = build(width(params))
    count = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        model.eval()(x)
    model.train()

    def run() -> str:
        if scenario == "bare_loop":
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for _ in range(steps):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return ""
        if scenario == "forward":
            model.eval()
            with torch.no_grad():
                model(x)
            return ""
        try:
            if scenario == "overfit_one_batch":
                return str(MLCheck().overfit_one_batch(model, (x, y), loss_fn=nn.CrossEntropyLoss(), steps=steps).passed)
            return str(MLCheck().output_range(model, x, kind="logits").passed)
        except CheckFailed:
            return "failed"

    return count, run


def _keras(params: int, scenario: str, steps: int) -> tuple:
    import keras
    import numpy as np
    import tensorflow as tf

    from pytest_mlcheck import CheckFailed, MLCheck

    def build(w: int) -> keras.Model:
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((FEATURES,))] + [keras.layers.Dense(w, activation="relu")
                                                               for _ in range(DEPTH)] + [keras.layers.Dense(CLASSES)])

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(BATCH, FEATURES)).astype("float32"), np.arange(BATCH) % CLASSES
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    warm = build(32)
    MLCheck().output_range(warm, x, kind="logits")
    try:
        MLCheck().overfit_one_batch(warm, (x, y), loss_fn=ce, steps=2)
    except CheckFailed:
        pass
    del warm
    model = build(width(params))
    count = int(model.count_params())
    model(x, training=False)

    def run() -> str:
        if scenario == "bare_loop":
            opt = keras.optimizers.Adam(1e-3)

            @tf.function
            def step(xb, yb):
                with tf.GradientTape() as tape:
                    loss = ce(yb, model(xb, training=True))
                opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
                return loss

            for _ in range(steps):
                step(x, y)
            return ""
        if scenario == "forward":
            model(x, training=False)
            return ""
        try:
            if scenario == "overfit_one_batch":
                return str(MLCheck().overfit_one_batch(model, (x, y), loss_fn=ce, steps=steps).passed)
            return str(MLCheck().output_range(model, x, kind="logits").passed)
        except CheckFailed:
            return "failed"

    return count, run


def measure(framework: str, size: str, scenario: str, steps: int) -> dict:
    """One scenario in this process (run by ``main`` in a fresh one)."""
    count, run = (_torch if framework == "torch" else _keras)(SIZES[size], scenario, steps)
    trim()
    before = rss_mib()
    reset_peak()
    t0 = time.perf_counter()
    verdict = run()
    seconds = time.perf_counter() - t0
    peak = hwm_mib()
    if scenario in ("forward", "output_range"):  # a millisecond each at 1M: the median of warm calls
        seconds = statistics.median(_timed(run) for _ in range(INFERENCE_TIMINGS))
    trim()
    model = count * 4 / 2**20
    return {"framework": framework, "size": size, "params": count, "scenario": scenario, "verdict": verdict,
            "model_mib": round(model, 1), "peak_mib": round(peak - before + model, 1),
            "retained_mib": round(rss_mib() - before, 1), "seconds": round(seconds, 6)}


def _timed(run: Callable[[], str]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def child(framework: str, size: str, scenario: str, steps: int) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
               TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0", PYTHONPATH=str(HERE.parent))
    out = subprocess.run([sys.executable, __file__, "--child", framework, size, scenario, str(steps)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def repeated(framework: str, size: str, scenario: str, steps: int, repeats: int) -> dict:
    """The scenario in ``repeats`` fresh processes: the median peak and time, with every peak kept
    (a loop's own peak varies by up to ~8% between processes; the median steadies the ratios)."""
    runs = [child(framework, size, scenario, steps) for _ in range(repeats)]
    middle = dict(sorted(runs, key=lambda r: r["peak_mib"])[len(runs) // 2])
    middle["seconds"] = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    middle["peak_mib_runs"] = [r["peak_mib"] for r in runs]
    return middle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--frameworks", nargs="+", default=["torch", "keras"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "memory_table.json"))
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per scenario (median taken)")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        framework, size, scenario, steps = args.child
        print(json.dumps(measure(framework, size, scenario, int(steps))))
        return
    rows, table = [], []
    for framework in args.frameworks:
        for size in args.sizes:
            got = {s: repeated(framework, size, s, args.steps, args.repeats) for s in SCENARIOS}
            rows.extend(got.values())
            line = {
                "framework": framework, "size": size, "params": got["forward"]["params"],
                "model_mib": got["forward"]["model_mib"],
                "bare_loop_peak_mib": got["bare_loop"]["peak_mib"],
                "bare_loop_peak_mib_runs": got["bare_loop"]["peak_mib_runs"],
                "overfit_peak_mib": got["overfit_one_batch"]["peak_mib"],
                "overfit_peak_mib_runs": got["overfit_one_batch"]["peak_mib_runs"],
                "overfit_peak_ratio": round(got["overfit_one_batch"]["peak_mib"] / got["bare_loop"]["peak_mib"], 2),
                "overfit_retained_mib": got["overfit_one_batch"]["retained_mib"],
                "overfit_verdict": got["overfit_one_batch"]["verdict"],
                "forward_peak_mib": got["forward"]["peak_mib"],
                "output_range_peak_mib": got["output_range"]["peak_mib"],
                "output_range_peak_ratio": round(got["output_range"]["peak_mib"] / got["forward"]["peak_mib"], 2),
                "output_range_retained_mib": got["output_range"]["retained_mib"],
                "output_range_time_ratio": round(got["output_range"]["seconds"] / max(got["forward"]["seconds"], 1e-6), 2),
            }
            table.append(line)
            print(json.dumps(line), flush=True)
    Path(args.out).write_text(json.dumps({"steps": args.steps, "batch": BATCH, "repeats": args.repeats,
                                          "table": table, "runs": rows},
                                         indent=1) + "\n")


if __name__ == "__main__":
    main()
