"""pytest_mlcheck.strategies: each strategy reaches its edge cases, checks its arguments when built,
and imports no ML framework until a framework tensor is drawn."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pytest_mlcheck import MlcheckUsageError
from pytest_mlcheck import strategies as mst


def sample(strategy: st.SearchStrategy[Any], n: int = 200) -> list[Any]:
    """n values drawn with a fixed seed: edge cases either show up in them or the test fails."""
    drawn: list[Any] = []

    @settings(database=None, derandomize=True, max_examples=n, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def is_negative_zero(x: float) -> bool:
    return x == 0.0 and math.copysign(1.0, x) < 0


# --- edge_floats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("width,ftype", [(16, np.float16), (32, np.float32), (64, np.float64)])
def test_edge_floats_reach_nan_infinities_signed_zero_and_subnormals(width: int, ftype: type) -> None:
    info = np.finfo(ftype)
    values = sample(mst.edge_floats(width=width))
    assert any(math.isnan(x) for x in values)
    assert math.inf in values and -math.inf in values
    assert any(is_negative_zero(x) for x in values)
    assert any(x == 0.0 and not is_negative_zero(x) for x in values)
    assert any(0 < abs(x) < info.tiny for x in values), "no subnormal"
    assert float(info.max) in values and -float(info.max) in values
    assert any(math.isfinite(x) and abs(x) > 1e15 ** (width / 64) for x in values), "no huge magnitude"
    assert any(info.tiny <= abs(x) < 1e-4 for x in values), "no tiny normal magnitude"
    assert any(0.5 < abs(x) < 100 and abs(x) != 1.0 for x in values), "no ordinary value"
    # Exactly representable at the width: casting changes nothing.
    assert all(math.isnan(x) or float(ftype(x)) == x for x in values)


def test_edge_floats_leave_out_what_is_disallowed() -> None:
    values = sample(mst.edge_floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False))
    assert all(math.isfinite(x) for x in values)
    assert not any(0 < abs(x) < np.finfo(np.float32).tiny for x in values)
    assert any(is_negative_zero(x) for x in values)  # signed zero is not a subnormal


# --- arrays and tensors --------------------------------------------------------------------------

def test_float_arrays_have_the_asked_shape_and_dtype_and_contain_nan_and_infinities() -> None:
    drawn = sample(mst.arrays(shape=(3, 4), dtype="float32"), 150)
    assert all(a.shape == (3, 4) and a.dtype == np.float32 for a in drawn)
    assert any(np.isnan(a).any() for a in drawn)
    assert any(np.isposinf(a).any() for a in drawn) and any(np.isneginf(a).any() for a in drawn)


def test_int_arrays_reach_the_extremes_of_their_dtype() -> None:
    drawn = sample(mst.arrays(shape=(4,), dtype="int8"), 150)
    assert all(a.dtype == np.int8 for a in drawn)
    assert any((a == -128).any() for a in drawn) and any((a == 127).any() for a in drawn)


def test_arrays_without_edge_cases_hold_only_moderate_finite_floats() -> None:
    drawn = sample(mst.arrays(shape=(5,), dtype="float64", edge_cases=False), 150)
    stacked = np.concatenate(drawn)
    assert np.isfinite(stacked).all() and np.abs(stacked).max() <= 1e4
    assert not ((stacked != 0) & (np.abs(stacked) < np.finfo(np.float64).tiny)).any()


def test_arrays_take_a_strategy_of_shapes_and_the_given_elements() -> None:
    shapes = st.sampled_from([(0,), (2, 3), (1, 1, 1)])
    drawn = sample(mst.arrays(shape=shapes, dtype="int16", elements=st.integers(5, 7)), 60)
    assert {a.shape for a in drawn} == {(0,), (2, 3), (1, 1, 1)}
    assert all(a.dtype == np.int16 and ((a >= 5) & (a <= 7)).all() for a in drawn)


def test_torch_tensors_have_the_torch_type_dtype_and_shape_asked_for() -> None:
    torch = pytest.importorskip("torch")
    floats = sample(mst.torch_tensors(shape=(2, 3)), 60)
    assert all(isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (2, 3) for t in floats)
    assert all(t.device.type == "cpu" for t in floats)
    assert any(torch.isnan(t).any() for t in floats)
    ints = sample(mst.torch_tensors(shape=(4,), dtype="int64"), 20)
    assert all(t.dtype == torch.int64 and t.shape == (4,) for t in ints)
    # A torch dtype is accepted in place of its numpy name.
    assert sample(mst.torch_tensors(shape=(1,), dtype=torch.float16), 5)[0].dtype == torch.float16


def test_tf_tensors_have_the_tf_type_dtype_and_shape_asked_for() -> None:
    tf = pytest.importorskip("tensorflow")
    floats = sample(mst.tf_tensors(shape=(2, 3)), 30)
    assert all(tf.is_tensor(t) and t.dtype == tf.float32 and tuple(t.shape) == (2, 3) for t in floats)
    assert any(np.isinf(t.numpy()).any() for t in floats)
    ints = sample(mst.tf_tensors(shape=(4,), dtype=tf.int32), 10)
    assert all(t.dtype == tf.int32 for t in ints)


# --- image_batches -------------------------------------------------------------------------------

def test_uint8_image_batches_cover_the_full_range_and_all_black_and_all_white_images() -> None:
    batches = sample(mst.image_batches(kind="uint8"))
    assert all(b.dtype == np.uint8 and b.ndim == 4 for b in batches)
    images = [img for b in batches for img in b]
    assert any((img == 0).all() for img in images), "no all-zero image"
    assert any((img == 255).all() for img in images), "no all-255 image"
    assert any(img.min() == 0 and img.max() == 255 for img in images), "no image spanning 0..255"
    assert any(b.shape[0] > 1 and (b == 0).all() for b in batches), "no all-zero batch of several images"


def test_unit_float_image_batches_stay_in_zero_one_and_reach_both_ends() -> None:
    batches = sample(mst.image_batches(kind="unit_float"))
    assert all(b.dtype == np.float32 for b in batches)
    assert all(np.isfinite(b).all() and b.min() >= 0.0 and b.max() <= 1.0 for b in batches)
    assert any((b == 0.0).any() for b in batches) and any((b == 1.0).any() for b in batches)
    assert any((img == 0.0).all() for b in batches for img in b), "no all-zero image"
    # Not only constants: some images vary inside [0, 1].
    assert any(len(np.unique(img)) > 10 for b in batches for img in b)


def test_batches_of_one_and_constant_images_come_up_often() -> None:
    batches = sample(mst.image_batches())
    ones = sum(b.shape[0] == 1 for b in batches)
    constant = sum(any(img.min() == img.max() for img in b) for b in batches)
    constant_batches = sum(b.shape[0] > 1 and b.min() == b.max() for b in batches)
    # Thresholds well below the rates drawn (about 0.6, 0.75, 0.2) and above what luck alone gives.
    assert ones >= 0.4 * len(batches), f"batch size 1 in only {ones} of {len(batches)}"
    assert constant >= 0.4 * len(batches), f"a constant image in only {constant} of {len(batches)}"
    assert constant_batches >= 0.12 * len(batches), f"a constant batch of several in only {constant_batches}"
    assert any(b.shape[0] == 8 for b in batches)


def test_any_kind_image_batches_mix_uint8_and_unit_float_and_both_channel_counts() -> None:
    batches = sample(mst.image_batches(), 100)
    assert {b.dtype for b in batches} == {np.dtype(np.uint8), np.dtype(np.float32)}
    assert {b.shape[1] for b in batches} == {1, 3}


@pytest.mark.parametrize("layout,expected", [("channels_first", (2, 3, 5, 7)), ("channels_last", (2, 5, 7, 3))])
def test_image_layouts_put_the_channel_axis_where_asked(layout: str, expected: tuple[int, ...]) -> None:
    batches = sample(mst.image_batches(batch_size=2, height=5, width=7, channels=3, layout=layout), 20)
    assert {b.shape for b in batches} == {expected}


def test_image_sizes_drawn_from_strategies_give_the_drawn_shapes() -> None:
    batches = sample(mst.image_batches(batch_size=st.sampled_from([1, 4]), height=st.just(28), width=st.just(28),
                                       channels=st.just(1), kind="unit_float"), 40)
    assert {b.shape for b in batches} == {(1, 1, 28, 28), (4, 1, 28, 28)}


def test_image_batches_convert_to_torch_channels_first_and_tf_channels_last_by_default() -> None:
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    sizes = dict(batch_size=2, height=4, width=6, channels=3)
    torch_batches = sample(mst.image_batches(framework="torch", kind="uint8", **sizes), 10)
    assert all(isinstance(b, torch.Tensor) and b.dtype == torch.uint8 and b.shape == (2, 3, 4, 6)
               for b in torch_batches)
    tf_batches = sample(mst.image_batches(framework="tf", kind="unit_float", **sizes), 10)
    assert all(tf.is_tensor(b) and b.dtype == tf.float32 and tuple(b.shape) == (2, 4, 6, 3) for b in tf_batches)


# --- label_batches -------------------------------------------------------------------------------

C = 5

LABEL_DEFINITIONS: dict[str, Callable[[np.ndarray], bool]] = {
    "valid": lambda y: ((y >= 0) & (y < C)).all(),
    "single_class": lambda y: ((y >= 0) & (y < C)).all() and len(set(y.tolist())) == 1,
    "missing_classes": lambda y: ((y >= 0) & (y < C)).all() and len(set(y.tolist())) < C,
    "unseen": lambda y: ((y < 0) | (y >= C)).any(),
    "strings": lambda y: y.dtype.kind == "U" and all(isinstance(s, str) and s for s in y.tolist()),
}


@pytest.mark.parametrize("kind", list(LABEL_DEFINITIONS))
def test_each_label_kind_satisfies_its_definition(kind: str) -> None:
    batches = sample(mst.label_batches(num_classes=C, kind=kind), 100)
    assert all(b.ndim == 1 and b.shape[0] >= 1 for b in batches)
    bad = [b for b in batches if not LABEL_DEFINITIONS[kind](b)]
    assert not bad, f"{kind}: {bad[:3]}"
    if kind != "strings":
        assert all(b.dtype == np.int64 for b in batches)


def test_valid_labels_include_single_class_and_missing_class_batches_and_every_class() -> None:
    batches = sample(mst.label_batches(num_classes=C, batch_size=6), 150)
    assert any(len(set(b.tolist())) == 1 for b in batches)
    assert any(1 < len(set(b.tolist())) < C for b in batches)
    assert set(np.concatenate(batches).tolist()) == set(range(C))
    assert any(b.shape == (6,) for b in batches) and all(b.shape == (6,) for b in batches)


def test_unseen_labels_reach_both_too_large_and_negative_ids_and_stay_non_negative_when_unsigned() -> None:
    signed = sample(mst.label_batches(num_classes=C, kind="unseen"), 100)
    assert any((b == C).any() for b in signed) and any((b < 0).any() for b in signed)
    unsigned = sample(mst.label_batches(num_classes=C, kind="unseen", dtype="uint8"), 100)
    assert all(b.dtype == np.uint8 and (b >= C).any() for b in unsigned)
    assert any((b == 255).any() for b in unsigned)


def test_string_labels_look_like_class_names() -> None:
    batches = sample(mst.label_batches(num_classes=C, kind="strings"), 60)
    names = set(np.concatenate(batches).tolist())
    assert any(n.startswith("class_") for n in names) and any(n.isdigit() for n in names)


def test_any_labels_cover_every_kind() -> None:
    batches = sample(mst.label_batches(num_classes=C, kind="any", batch_size=4), 200)
    found = {kind for kind, holds in LABEL_DEFINITIONS.items()
             if kind != "valid" and any(_holds(holds, b) for b in batches)}
    assert found == {"single_class", "missing_classes", "unseen", "strings"}


def _holds(definition: Callable[[np.ndarray], bool], batch: np.ndarray) -> bool:
    if batch.dtype.kind == "U":
        return definition is LABEL_DEFINITIONS["strings"]
    return definition is not LABEL_DEFINITIONS["strings"] and bool(definition(batch))


def test_labels_convert_to_torch_and_tf_in_the_asked_dtype() -> None:
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    torch_labels = sample(mst.label_batches(num_classes=C, kind="any", framework="torch"), 60)
    assert all(isinstance(y, torch.Tensor) and y.dtype == torch.int64 for y in torch_labels)
    tf_labels = sample(mst.label_batches(num_classes=C, kind="any", dtype="int32", framework="tf"), 60)
    assert {y.dtype for y in tf_labels} == {tf.int32, tf.string}


# --- usage errors --------------------------------------------------------------------------------

BAD_CALLS = [
    ("width", lambda: mst.edge_floats(width=8)),
    ("allow_nan", lambda: mst.edge_floats(allow_nan="no")),
    ("shape", lambda: mst.arrays(shape="abc")),
    ("shape", lambda: mst.arrays(shape=(2, -1))),
    ("shape", lambda: mst.arrays(shape=(2.0, 3))),
    ("dtype", lambda: mst.arrays(shape=(2,), dtype="floatx")),
    ("dtype", lambda: mst.arrays(shape=(2,), dtype="complex64")),
    ("dtype", lambda: mst.arrays(shape=(2,), dtype=None)),
    ("elements", lambda: mst.arrays(shape=(2,), elements=[1.0, 2.0])),
    ("edge_cases", lambda: mst.arrays(shape=(2,), edge_cases="yes")),
    ("dtype", lambda: mst.torch_tensors(shape=(2,), dtype="uint32")),
    ("device", lambda: mst.torch_tensors(shape=(2,), device=0)),
    ("shape", lambda: mst.tf_tensors(shape=None)),
    ("batch_size", lambda: mst.image_batches(batch_size=0)),
    ("height", lambda: mst.image_batches(height=2.5)),
    ("width", lambda: mst.image_batches(width=True)),
    ("channels", lambda: mst.image_batches(channels=[1, 3])),
    ("layout", lambda: mst.image_batches(layout="NCHW")),
    ("kind", lambda: mst.image_batches(kind="float")),
    ("framework", lambda: mst.image_batches(framework="jax")),
    ("num_classes", lambda: mst.label_batches(num_classes=0)),
    ("num_classes", lambda: mst.label_batches(num_classes=True)),
    ("num_classes", lambda: mst.label_batches(num_classes=300, dtype="uint8")),
    ("num_classes", lambda: mst.label_batches(num_classes=256, kind="unseen", dtype="uint8")),
    ("num_classes", lambda: mst.label_batches(num_classes=1, kind="missing_classes")),
    ("kind", lambda: mst.label_batches(num_classes=3, kind="bogus")),
    ("dtype", lambda: mst.label_batches(num_classes=3, dtype="float32")),
    ("framework", lambda: mst.label_batches(num_classes=3, kind="strings", framework="torch")),
]


@pytest.mark.parametrize("argument,call", BAD_CALLS, ids=[f"{i}-{a}" for i, (a, _) in enumerate(BAD_CALLS)])
def test_a_bad_argument_raises_a_usage_error_naming_it_when_the_strategy_is_built(
    argument: str, call: Callable[[], Any]
) -> None:
    with pytest.raises(MlcheckUsageError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{argument}: expected "), message
    assert "; pass e.g. " in message, message  # says how to fix the call (the one usage() format)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_a_size_strategy_that_draws_zero_raises_a_usage_error_naming_the_size() -> None:
    with pytest.raises(MlcheckUsageError, match=r"^batch_size: expected"):
        sample(mst.image_batches(batch_size=st.just(0)), 1)


def test_the_default_strategies_pass_hypothesis_health_checks() -> None:
    # Users run these under default settings: no filtering, no data too large, no slow generation.
    for strategy in (mst.image_batches(), mst.label_batches(num_classes=10, kind="any"), mst.arrays(shape=(64, 64))):
        @settings(database=None, derandomize=True, max_examples=30)
        @given(strategy)
        def draw(value: Any) -> None:
            pass

        draw()


# --- import isolation ----------------------------------------------------------------------------

def test_importing_building_and_drawing_numpy_strategies_imports_no_ml_framework() -> None:
    code = """
import json, sys
from hypothesis import find, settings
import pytest_mlcheck.strategies as mst
built = [mst.torch_tensors(shape=(2,)), mst.tf_tensors(shape=(2,)), mst.image_batches(framework="torch"),
         mst.label_batches(num_classes=3, framework="tf")]
find(mst.image_batches(), lambda b: b.shape[0] > 1, settings=settings(database=None, derandomize=True))
find(mst.label_batches(num_classes=3, kind="any"), lambda y: True, settings=settings(database=None))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorflow", "keras"))))
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
