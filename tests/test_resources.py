"""Bounded resources: checks give their memory back without any reset of the user's framework
state (no keras.backend.clear_session()), and never keep the user's model alive."""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np
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


# -- memory proportional to the model ---------------------------------------------------------

def _wide_mlp() -> nn.Module:
    """About 4.2M parameters (16 MiB): copying it would show far above the allocator's noise."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 2000), nn.BatchNorm1d(2000), nn.ReLU(), nn.Linear(2000, 2000), nn.ReLU(),
                         nn.Dropout(0.1), nn.Linear(2000, 10))


def _model_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _map_large_blocks() -> bool:
    """Tell glibc (from import on) to map every block over 64 KiB on its own, so a freed tensor
    leaves resident memory at once and a new one adds to it (none reuses a freed heap chunk)."""
    import ctypes

    try:
        return bool(ctypes.CDLL(None).mallopt(-3, 64 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


MAPPED = _map_large_blocks()


def _peak_during(call) -> tuple[float, float]:
    """Resident bytes a call adds at its peak, and keeps after it returns."""
    if not MAPPED or not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("not Linux with glibc: resident memory would not show what is alive")
    gc.collect()
    before = _resident_mib()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak resident size starts again from the current one
    call()
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    gc.collect()
    return (peak - before) * 2**20, (_resident_mib() - before) * 2**20


def _live_torch_bytes() -> int:
    """Bytes of the distinct storages of every torch tensor the garbage collector reaches: what a
    call keeps alive, exactly, where resident size also moves with allocator arenas and pages other
    tests in the same worker touched first."""
    gc.collect()
    storages: dict[int, int] = {}
    for obj in gc.get_objects():
        try:
            # type(), not isinstance(): a deprecated module proxy warns when asked for its __class__
            if issubclass(type(obj), torch.Tensor) and obj.device.type == "cpu" and not obj.is_sparse:
                storage = obj.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, ReferenceError, NotImplementedError):
            continue
    return sum(storages.values())


def _copies(monkeypatch) -> list:
    from pytest_mlcheck.backends import torch_backend

    copied: list = []
    real = torch_backend.copy_with_hooks
    monkeypatch.setattr(torch_backend, "copy_with_hooks", lambda *a: copied.append(a) or real(*a))
    return copied


@pytest.mark.parametrize("check", ["output_range", "inputs_normalized", "batch_independence", "init_loss"])
def test_a_torch_inference_check_runs_the_users_module_without_a_copy(mlcheck, monkeypatch, check):
    model = _wide_mlp().eval()
    x, y = torch.randn(32, 64), torch.arange(32) % 10
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    copied = _copies(monkeypatch)
    calls = {"output_range": lambda: mlcheck.output_range(model, x, kind="logits"),
             "inputs_normalized": lambda: mlcheck.inputs_normalized(x, model=model),  # a training-mode pass
             "batch_independence": lambda: mlcheck.batch_independence(model, x[:8]),
             "init_loss": lambda: mlcheck.init_loss(model, (x, y), loss_fn=nn.CrossEntropyLoss())}
    calls[check]()  # warm-up: the first call imports and builds what every later one reuses
    peak, kept = _peak_during(calls[check])
    assert not copied
    assert peak < 0.5 * _model_bytes(model)  # a copy alone would be 1.0x
    # a kept copy would be 1.0x; resident size in a long test process also moves with whatever else
    # the call touches first (measured up to 0.05x in the full suite: pages of code and allocator arenas)
    assert kept < 0.25 * _model_bytes(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BatchNorm statistics too
    assert [m.training for m in model.modules()] == modes


def test_a_torch_training_check_copies_once_and_keeps_nothing(mlcheck, monkeypatch):
    # the twin: training needs its copy (the user's weights never change, even if interrupted)
    model = _wide_mlp()
    copied = _copies(monkeypatch)
    batch = torch.randn(32, 64), torch.arange(32) % 10

    def fit() -> None:
        try:
            mlcheck.overfit_one_batch(model, batch, loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam,
                                      steps=200)
        except CheckFailed:
            pytest.fail("a fit that fails runs probes, each with its own copy: not what is measured here")

    fit()  # warm-up: what the first call builds is kept for every later one
    copied.clear()
    live = _live_torch_bytes()
    peak, _ = _peak_during(fit)
    kept = _live_torch_bytes() - live
    assert len(copied) == 1
    size = _model_bytes(model)
    assert peak > size  # the copy was measured (the check's peak against the user's loop: benchmarks/memory_table.py)
    # a kept copy would be 1.0x, kept Adam moments 2.0x: counted as live tensors, not resident size,
    # which under a worker that ran other tests first kept up to 0.45x without any tensor alive
    assert kept < 0.05 * size, f"{kept / 2**20:.1f} MiB of tensors kept, model {size / 2**20:.1f} MiB"


def test_a_forward_that_writes_into_the_users_module_is_undone(mlcheck, monkeypatch):
    class Writes(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lookup = nn.Embedding(50, 8, max_norm=0.5)  # renormalises the rows it reads, in place
            self.head = nn.Linear(32, 4)
            self.calls = 0

        def forward(self, ids):
            self.calls += 1
            self.head.weight.data.mul_(2.0)  # behind autograd's back
            self.head.bias.data = torch.zeros(4)  # a new storage
            return self.head(self.lookup(ids).flatten(1))

    model = Writes()
    with torch.no_grad():
        model.lookup.weight.mul_(10.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bias = model.head.bias
    copied = _copies(monkeypatch)
    mlcheck.output_range(model, torch.randint(0, 50, (16, 4)), low=-1e9)
    assert not copied  # run on the module itself ...
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # ... and put back
    assert model.calls == 0 and model.head.bias is bias


def _keras_snapshots(monkeypatch) -> list:
    """Every variable a Keras session copies up front (its snapshot), recorded."""
    from pytest_mlcheck.backends import keras_common

    saved: list = []
    real = keras_common._values
    monkeypatch.setattr(keras_common, "_values", lambda variables: saved.extend(variables) or real(variables))
    return saved


def test_a_keras_inference_check_copies_no_weight_and_keeps_nothing(mlcheck, monkeypatch):
    import keras

    from pytest_mlcheck.backends import keras_common

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1400), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1400), keras.layers.Dense(10)])
    x = np.random.default_rng(0).normal(size=(32, 64)).astype("float32")
    before = [np.array(v.numpy()) for v in model.variables]
    saved = _keras_snapshots(monkeypatch)
    written: list = []
    real_save = keras_common.KerasSessionBase._save
    monkeypatch.setattr(keras_common.KerasSessionBase, "_save", lambda s, v: written.append(v) or real_save(s, v))
    mlcheck.output_range(model, x, kind="logits")
    mlcheck.inputs_normalized(x, model=model)  # a training-mode pass: moving statistics change
    weights = {id(v) for v in model.trainable_variables}
    assert not [v for v in saved + written if id(v) in weights]  # only the small state variables were copied
    assert saved  # the moving statistics were
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables))
    assert keras_common._CopyOnWrite.original is None and not keras_common._CopyOnWrite.sessions


def test_a_weight_a_keras_forward_writes_is_saved_on_that_write_and_put_back(mlcheck, monkeypatch):
    import keras

    from pytest_mlcheck.backends import keras_common

    class Drifts(keras.layers.Layer):
        """Writes its own kernel on every call (a bug an inference check must not leave behind)."""

        def build(self, shape):
            self.kernel = self.add_weight(shape=(shape[-1], 10), initializer="glorot_uniform")

        def call(self, x):
            self.kernel.assign_add(keras.ops.ones(self.kernel.shape))
            return keras.ops.matmul(x, self.kernel)

        def compute_output_spec(self, x):  # built without running call (no symbolic write)
            return keras.KerasTensor((*x.shape[:-1], 10), dtype=x.dtype)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(16), Drifts()])
    before = [np.array(v.numpy()) for v in model.variables]
    copied = _keras_snapshots(monkeypatch)
    saves: list = []
    real_save = keras_common.KerasSessionBase._save

    def save(session, variable) -> None:
        if id(variable) in session._watched:
            saves.append(variable)
        real_save(session, variable)

    monkeypatch.setattr(keras_common.KerasSessionBase, "_save", save)
    mlcheck.output_range(model, np.random.default_rng(0).normal(size=(8, 16)).astype("float32"), kind="logits")
    assert not copied  # nothing up front: the model holds weights only ...
    assert [id(v) for v in saves] == [id(model.layers[1].kernel)]  # ... the written one saved once, at its write
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables))  # and put back


def _fit(check: MLCheck, model) -> None:
    try:
        check.overfit_one_batch(model, kc.digits_arrays(32), loss_fn=kc.sparse_ce(), steps=3)
    except CheckFailed:
        pass


def test_a_kept_keras_step_holds_its_optimizer_as_built_in_scalars_not_copies(mlcheck):
    from pytest_mlcheck.backends import keras_backend

    model = kc.mlp()
    _fit(mlcheck, model)
    traced = list(keras_backend._TRACED[model].values())[-1]
    assert traced.bytes > 0 and traced.bytes <= keras_backend._TRACED_BYTES
    assert all(np.ndim(value) == 0 for _, value in traced.initial)  # Adam's zeros, its iteration, its rate


def test_a_keras_step_over_the_budget_is_not_kept_after_its_check(mlcheck, monkeypatch):
    from pytest_mlcheck.backends import keras_backend

    monkeypatch.setattr(keras_backend, "_TRACED_BYTES", 10_000)  # below this MLP's Adam state (~38 KB)
    model = kc.mlp()
    _fit(mlcheck, model)
    assert not keras_backend._TRACED.get(model)
    runs = [MLCheck().loss_decreases(model, kc.digits_array_batches(4), loss_fn=kc.sparse_ce(), steps=8,
                                     min_drop=0.01).losses for _ in range(2)]
    assert runs[0] == runs[1]  # traced anew, the same figures


def test_kept_keras_steps_share_one_budget_and_the_oldest_goes_first(mlcheck, monkeypatch):
    from pytest_mlcheck.backends import keras_backend

    first, second = kc.mlp(), kc.mlp()
    _fit(mlcheck, first)
    size = list(keras_backend._TRACED[first].values())[-1].bytes
    monkeypatch.setattr(keras_backend, "_TRACED_BYTES", size + size // 2)  # room for one MLP's step, not two
    _fit(mlcheck, second)
    assert not keras_backend._TRACED.get(first) and keras_backend._TRACED.get(second)


def test_a_weight_a_tf_function_traced_before_the_check_writes_is_put_back(mlcheck):
    import keras
    import tensorflow as tf

    from pytest_mlcheck.backends import keras_common

    class Bumps(keras.layers.Layer):
        """Writes its kernel in a tf.function: once traced, a call runs the graph, with no Python."""

        def build(self, shape):
            self.kernel = self.add_weight(shape=(shape[-1], 10), initializer="glorot_uniform")
            self.bump = tf.function(lambda: self.kernel.assign_add(tf.ones(self.kernel.shape)))

        def call(self, x):
            self.bump()
            return keras.ops.matmul(x, self.kernel)

        def compute_output_spec(self, x):  # built without running call
            return keras.KerasTensor((*x.shape[:-1], 10), dtype=x.dtype)

    model = keras.Sequential([keras.Input((16,)), Bumps()])
    x = np.ones((4, 16), "float32")
    model(x)  # the user's own call traces the tf.function
    before = [np.array(v.numpy()) for v in model.variables]
    mlcheck.output_range(model, x, kind="logits")
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables))
    assert not keras_common._CopyOnWrite.wrapped and tf.function(lambda: 1)() == 1  # unwrapped, and still works


def test_a_failed_torch_check_empties_its_copy_before_the_retries_train_fresh_ones(mlcheck, monkeypatch):
    """The learning-rate retries each train a fresh copy; the failed run's copy is not read again, so
    its tensors are emptied first (a 200M-parameter model: peak 1.4x -> 1.2x, benchmarks/memory_table.py)."""
    from pytest_mlcheck.backends import torch_backend

    opened: list = []
    seen: list[int] = []  # the failed run's parameter count when each later copy opens
    init = torch_backend.TorchSession.__init__

    def recording(self, *args, **kwargs):
        if opened and opened[0].model is not None:
            seen.append(sum(p.numel() for p in opened[0].model.parameters()))
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(torch_backend.TorchSession, "__init__", recording)
    model = tc.digits_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, tc.digits_batch(32), loss_fn=nn.CrossEntropyLoss(),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-5))
    assert failed.value.causes[0] == "lr_too_low"
    assert seen and seen[-1] == 0 and seen.count(0) >= 1, seen
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _wide_keras_mlp():
    from keras_corpus import keras

    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(8192, activation="relu"),
                             keras.layers.Dense(1024), keras.layers.Dense(10)])  # 8.9 M weights, 34 MiB


@pytest.mark.parametrize("verdict", ["failed (its retries train more optimizers)", "passed"])
def test_a_keras_check_whose_step_is_not_kept_leaves_no_optimizer_state(mlcheck, monkeypatch, verdict):
    """TensorFlow 2.21 keeps every traced graph and what it captured after its function is gone
    (tensorflow#124972): without freeing the slots, each such check left Adam's state (2x the model;
    4x for a failed check) resident for good (measured: 700 MiB after these two failed checks). The
    graphs themselves stay, ~7 MiB per failed check (its retries trace their own steps) whatever
    the model's size: that is TensorFlow's, and below the bound."""
    from pytest_mlcheck.backends import keras_backend

    monkeypatch.setattr(keras_backend, "_TRACED_BYTES", 1)  # as for a model too large to keep its step
    model = _wide_keras_mlp()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 64)).astype("float32")
    y = np.arange(32) % 10
    lr = 1e-3 if verdict == "passed" else 1e-8  # too low to fit 3 steps: the lr retries run

    def fit() -> None:
        from keras_corpus import keras

        try:
            mlcheck.overfit_one_batch(model, (x, y), loss_fn=kc.sparse_ce(), steps=3,
                                      optimizer=keras.optimizers.Adam(lr))
        except CheckFailed as failed:
            assert verdict != "passed", str(failed)
        else:
            assert verdict == "passed"

    fit()  # warm-up: the first trace builds what every later one reuses
    size = sum(int(np.prod(v.shape)) * 4 for v in model.weights)
    _, kept = _peak_during(lambda: [fit() for _ in range(2)])
    assert kept < 0.75 * size, f"{kept / 2**20:.0f} MiB kept after two checks, model {size / 2**20:.0f} MiB"


def test_a_failed_keras_checks_retries_save_the_weights_once(mlcheck, monkeypatch):
    """The lr retries each train a fresh start on the user's model; once the failed run's weights are
    disposable (released) a retry does not copy them again to put them back: that second copy of the
    model took a 200M-parameter check's peak from 1.2x to 1.4x the bare loop's (memory_table.py). The
    user's weights are still what every retry starts from and what the check leaves."""
    from keras_corpus import keras

    model = _wide_keras_mlp()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 64)).astype("float32")
    y = np.arange(32) % 10
    before = [np.array(v.numpy()) for v in model.weights]
    saved = _keras_snapshots(monkeypatch)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y), loss_fn=kc.sparse_ce(), steps=3,
                                  optimizer=keras.optimizers.SGD(1e-3))  # moves the weights (1e-8 does not:
    assert "lr×10" in str(failed.value)  # the retries ran                 # named from them, no retry runs)
    kernels = [v for v in saved if id(v) == id(model.layers[0].kernel)]
    assert len(kernels) == 1, f"the first kernel was copied {len(kernels)} times"
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))


def test_a_keras_built_in_step_is_traced_from_its_first_step_and_errors_still_read_plainly(mlcheck, monkeypatch):
    """An eager first step's temporaries set a Keras check's peak (50M parameters: 1265 MiB, traced
    1166; the user's own fit() loop ~970): the built-in step is traced from the start. A loss that
    raises is replayed eagerly, so the failure names the user's error, not TensorFlow's staging one."""
    import tensorflow as tf
    from keras_corpus import keras

    from pytest_mlcheck.backends import keras_backend

    eager: list[bool] = []
    real = keras_backend.KerasSession._step
    monkeypatch.setattr(keras_backend.KerasSession, "_step",
                        lambda self, x, y: eager.append(tf.executing_eagerly()) or real(self, x, y))
    model = _wide_keras_mlp()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 64)).astype("float32"), np.arange(32) % 10
    mlcheck.overfit_one_batch(model, (x, y), loss_fn=kc.sparse_ce(), optimizer=keras.optimizers.Adam(1e-3))
    assert eager and not any(eager), eager

    def broken_loss(y_true, y_pred):
        raise ValueError("the user's loss broke")

    eager.clear()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y), loss_fn=broken_loss, optimizer=keras.optimizers.Adam(1e-3))
    assert "the user's loss broke" in str(failed.value)
    assert eager[-1] is True  # the replay
