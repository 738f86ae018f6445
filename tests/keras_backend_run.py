"""Run a slice of the Keras diagnosis corpus on the backend KERAS_BACKEND names, and one
non-mutation case, and print the verdicts as JSON (test_keras_backends.py runs it in a subprocess:
KERAS_BACKEND is fixed at Keras's first import). Usage: python keras_backend_run.py ID [ID ...]"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

import numpy as np

import keras_corpus as kc  # imports keras first, on the backend KERAS_BACKEND names
from keras_corpus import keras
from keras_diagnosis_corpus import keras_cases
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.settings import Settings


def verdict(run: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        run(MLCheck(Settings()))
        outcome: dict[str, Any] = {"passed": True, "cause": None}
    except CheckFailed as failed:
        outcome = {"passed": False, "cause": failed.causes[0] if failed.causes else None}
        if not failed.causes:
            outcome["error"] = str(failed)[:2000]
    except Exception as exc:  # reported, so the parent shows what broke on this backend
        outcome = {"passed": False, "cause": None, "error": f"{type(exc).__name__}: {exc}"}
    outcome["seconds"] = round(time.perf_counter() - start, 1)
    return outcome


def state_of(model: keras.Model) -> dict[str, Any]:
    """Everything of the user's that a check must leave as it was."""
    grads = []
    for v in model.variables:
        grad = getattr(v.value, "grad", None)  # torch: a Parameter's .grad
        grads.append(None if grad is None else np.array(keras.ops.convert_to_numpy(grad)))
    return {
        "weights": [np.array(v.numpy(), copy=True) for v in model.variables],
        "optimizer": model.optimizer,
        "optimizer_values": [np.array(v.numpy(), copy=True) for v in model.optimizer.variables],
        "grads": grads,
        "numpy_rng": np.random.get_state()[1].copy(),
        "python_rng": random.getstate(),
    }


def unchanged(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changed = []
    for key in ("weights", "optimizer_values", "grads"):
        pairs = list(zip(before[key], after[key]))
        if len(before[key]) != len(after[key]) or any(
                (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)) for a, b in pairs):
            changed.append(key)
    if before["optimizer"] is not after["optimizer"]:
        changed.append("optimizer")
    if not np.array_equal(before["numpy_rng"], after["numpy_rng"]) or before["python_rng"] != after["python_rng"]:
        changed.append("rng")
    return changed


def non_mutation() -> dict[str, Any]:
    """A compiled model with optimizer state from fit(), checked by a passing check, a failing one
    whose probes open sessions within it, and a gradient check."""
    model = kc.compiled(kc.cnn(), keras.optimizers.Adam(1e-3), kc.sparse_ce())
    x, y = kc.digits_arrays(32)
    model.fit(x, y, epochs=1, verbose=0)
    before = state_of(model)
    first = verdict(lambda m: m.overfit_one_batch(model, (x, y)))
    second = verdict(lambda m: m.overfit_one_batch(model, (x, y), optimizer=keras.optimizers.Adam(10.0)))
    third = verdict(lambda m: m.gradients_flow(model, (x, y)))
    return {"verdicts": [first, second, third], "changed": unchanged(before, state_of(model))}


class OwnStep(keras.Sequential):
    """A model class with its own train_step (its body never runs where it is refused)."""

    def train_step(self, *args: Any) -> Any:
        return super().train_step(*args)


def refused() -> dict[str, str]:
    """The usage error (or 'ran') for what an adapter may refuse: mixed precision, an own train_step."""
    from pytest_mlcheck import MlcheckUsageError

    def attempt(build: Any) -> str:
        try:
            MLCheck(Settings()).overfit_one_batch(build(), kc.digits_arrays(32), loss_fn=kc.sparse_ce())
            return "ran"
        except MlcheckUsageError as exc:
            return str(exc)
        except CheckFailed:
            return "ran"

    def mixed() -> keras.Model:
        keras.config.set_dtype_policy("mixed_float16")
        try:
            return kc.mlp()
        finally:
            keras.config.set_dtype_policy("float32")

    def own() -> keras.Model:
        return OwnStep([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

    return {"mixed_float16": attempt(mixed), "own_train_step": attempt(own)}


def main(ids: list[str]) -> None:
    cases = {c.id: c for c in keras_cases()}
    report = {"backend": keras.backend.backend(), "cases": {i: verdict(cases[i].run) for i in ids},
              "non_mutation": non_mutation(), "refused": refused()}
    print("MLCHECK-REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
