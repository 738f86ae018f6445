"""Cost of each training check against the bare training loop it performs, as ratios in one run.

The check and the bare loop run the same model, batches and number of steps, interleaved and
repeated; the ratio of their median times is the check's overhead (copying, seeding, conversion,
the criterion's evaluations). Usage: python benchmarks/bench_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import statistics
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pytest_mlcheck import MLCheck  # noqa: E402
from torch_corpus import DigitsCNN, digits_batch, digits_batches  # noqa: E402


def bare_loop(model: torch.nn.Module, batches: list, steps: int) -> None:
    model = copy.deepcopy(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        float(loss)


def bare_keras_loop(model, batches: list, steps: int) -> None:
    """The same training by hand: a traced GradientTape step with a fresh Adam, then restore."""
    import keras
    import tensorflow as tf

    saved = [v.numpy() for v in model.variables]
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    for i in range(steps):
        x, y = batches[i % len(batches)]
        float(step(tf.convert_to_tensor(x), tf.convert_to_tensor(y)))
    for v, value in zip(model.variables, saved):
        v.assign(value)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    check = MLCheck()
    loss_fn = torch.nn.CrossEntropyLoss()
    factory = lambda p: torch.optim.Adam(p, lr=1e-3)  # noqa: E731
    torch.manual_seed(0)
    model = DigitsCNN()
    one = digits_batch(32)
    many = digits_batches(10)
    steps = check.overfit_one_batch(model, one, loss_fn=loss_fn, optimizer=factory).steps
    rows = {
        f"overfit_one_batch ({steps} steps)": (
            lambda: check.overfit_one_batch(model, one, loss_fn=loss_fn, optimizer=factory),
            lambda: bare_loop(model, [one], steps)),
        "loss_decreases (100 steps)": (
            lambda: check.loss_decreases(model, many, loss_fn=loss_fn, optimizer=factory),
            lambda: bare_loop(model, many, 100)),
    }
    import keras

    from keras_corpus import cnn, digits_array_batches, digits_arrays, sparse_ce

    kmodel = cnn()
    kone, kmany = digits_arrays(32), digits_array_batches(10)
    kopt = keras.optimizers.Adam(1e-3)
    ksteps = check.overfit_one_batch(kmodel, kone, loss_fn=sparse_ce(), optimizer=kopt).steps
    rows[f"keras overfit_one_batch ({ksteps} steps)"] = (
        lambda: check.overfit_one_batch(kmodel, kone, loss_fn=sparse_ce(), optimizer=kopt),
        lambda: bare_keras_loop(kmodel, [kone], ksteps))
    rows["keras loss_decreases (100 steps)"] = (
        lambda: check.loss_decreases(kmodel, kmany, loss_fn=sparse_ce(), optimizer=kopt),
        lambda: bare_keras_loop(kmodel, kmany, 100))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    for name, (with_check, bare) in rows.items():
        with_check(), bare()  # warm-up
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(timed(with_check))
            theirs.append(timed(bare))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{name:40} check {a * 1000:7.1f} ms   bare loop {b * 1000:7.1f} ms   ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
