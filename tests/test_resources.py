"""Bounded resources: checks give their memory back without any reset of the user's framework
state (no keras.backend.clear_session()), and never keep the user's model alive."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def _calls(framework: str):
    """A passing and a failing (probed) check, cheap enough to run hundreds of times."""
    if framework == "torch":
        model, batch, loss = tc.digits_mlp(), tc.digits_batch(32), nn.CrossEntropyLoss()
        return [lambda m: m.overfit_one_batch(model, batch, loss_fn=loss, steps=3),
                lambda m: m.gradients_flow(model, tc.digits_batch(64), loss_fn=loss)]
    model, batch = kc.mlp(), kc.digits_arrays(32)
    return [lambda m: m.overfit_one_batch(model, batch, loss_fn=kc.sparse_ce(), steps=3),
            lambda m: m.gradients_flow(model, kc.digits_arrays(64), loss_fn=kc.sparse_ce())]


def _run(calls, check: MLCheck, times: int) -> None:
    for i in range(times):
        try:
            calls[i % len(calls)](check)
        except CheckFailed:
            pass


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_resident_memory_grows_less_than_50_mib_over_500_checks(framework):
    calls, check = _calls(framework), MLCheck()
    _run(calls, check, 50)  # warm-up: imports, first traces, allocator pools
    gc.collect()
    before = _resident_mib()
    _run(calls, check, 500)
    gc.collect()
    assert _resident_mib() - before < 50


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_check_keeps_no_reference_to_the_users_model(framework):
    refs = []
    for _ in range(3):
        model = tc.digits_mlp() if framework == "torch" else kc.mlp()
        batch = tc.digits_batch(32) if framework == "torch" else kc.digits_arrays(32)
        loss = nn.CrossEntropyLoss() if framework == "torch" else kc.sparse_ce()
        try:
            MLCheck().overfit_one_batch(model, batch, loss_fn=loss, steps=3)
        except CheckFailed:
            pass
        refs.append(weakref.ref(model))
        del model
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_keras_checks_reuse_one_traced_step_per_model_and_configuration():
    from pytest_mlcheck.backends import keras_backend

    model = kc.mlp()
    check = MLCheck()
    for _ in range(3):
        check.loss_decreases(model, kc.digits_array_batches(4), loss_fn=kc.sparse_ce(), steps=8, min_drop=0.01)
    assert len(keras_backend._TRACED[model]) == 1
    check.loss_decreases(model, kc.digits_array_batches(4), loss_fn=kc.sparse_ce(),
                         optimizer=__import__("keras").optimizers.SGD(0.1), steps=8, min_drop=0.01)
    assert len(keras_backend._TRACED[model]) == 2


def test_a_reused_keras_step_starts_from_a_fresh_optimizer_each_check():
    model = kc.mlp()
    runs = [MLCheck().loss_decreases(model, kc.digits_array_batches(4), loss_fn=kc.sparse_ce(), steps=8,
                                     min_drop=0.01).losses for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_torch_cuda_memory_is_given_back_when_a_gpu_is_there():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here; the device machine runs this")
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    MLCheck().overfit_one_batch(tc.DigitsCNN(), tc.digits_batch(32), loss_fn=nn.CrossEntropyLoss(), device="cuda")
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before
