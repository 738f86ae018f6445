"""Hypothesis strategies for edge-case tensors, image batches and label batches.

In the style of ``hypothesis.extra.numpy``: keyword-only arguments, checked when the strategy is
built (a misuse raises ``MlcheckUsageError`` naming the argument), and values that favour the edge
cases behind "my model does not learn" reports: NaN and infinities, uint8 images fed unscaled,
constant images, batches of one, labels out of range or of a single class.

Importing this module imports neither torch nor tensorflow: a framework is imported only when a
value is drawn from a strategy that returns its tensors.

    from hypothesis import given
    from pytest_mlcheck import strategies as mst

    @given(mst.image_batches(kind="uint8", framework="torch"))
    def test_my_preprocessing_scales_pixels(batch): ...
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # hypothesis is an optional dependency of the plugin
    raise ImportError(
        "pytest_mlcheck.strategies needs hypothesis: pip install 'pytest-mlcheck[hypothesis]'"
    ) from exc

from pytest_mlcheck.errors import MlcheckUsageError, usage

__all__ = [
    "arrays",
    "edge_floats",
    "image_batches",
    "label_batches",
    "tf_tensors",
    "torch_tensors",
]

FRAMEWORKS = ("numpy", "torch", "tf")
IMAGE_KINDS = ("uint8", "unit_float", "any")
LAYOUTS = ("channels_first", "channels_last")
LABEL_KINDS = ("valid", "single_class", "missing_classes", "unseen", "strings", "any")
# numpy dtypes torch.from_numpy accepts on every supported torch version (uint16/32/64 came late).
TORCH_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")



# --- argument checks -----------------------------------------------------------------------------

def _usage(argument: str, expected: str, got: object, example: str) -> MlcheckUsageError:
    """The usage error, with a call that works."""
    return usage(argument, expected, got, fix=f"pass e.g. {example}")


def _is_int(value: object) -> bool:
    # bool is an int subclass, but shape=(True,) or num_classes=True is always a mistake.
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_bool(argument: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _usage(argument, "True or False", value, f"{argument}=False")
    return bool(value)


def _check_choice(argument: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        options = " | ".join(repr(c) for c in choices)
        raise _usage(argument, f"one of {options}", value, f"{argument}={choices[0]!r}")
    return value


def _check_shape(shape: object) -> tuple[int, ...] | SearchStrategy[Any]:
    example = "shape=(8, 1, 28, 28)"
    if isinstance(shape, SearchStrategy):
        return shape.map(_drawn_shape)
    if _is_int(shape) and int(shape) >= 0:  # type: ignore[arg-type]
        return (int(shape),)  # type: ignore[arg-type]
    if isinstance(shape, (tuple, list)) and all(_is_int(d) and int(d) >= 0 for d in shape):
        return tuple(int(d) for d in shape)
    raise _usage("shape", "a tuple of non-negative ints or a strategy of them", shape, example)


def _drawn_shape(shape: object) -> tuple[int, ...]:
    # A user's strategy is only seen at draw time; a bad value still gets the usage message.
    if isinstance(shape, (tuple, list)) and all(_is_int(d) and int(d) >= 0 for d in shape):
        return tuple(int(d) for d in shape)
    raise _usage("shape", "the shape strategy to draw tuples of non-negative ints", shape,
                 "shape=hypothesis.extra.numpy.array_shapes()")


def _check_dtype(dtype: object, *, kinds: str = "biuf", argument: str = "dtype",
                 example: str = "dtype='float32'") -> np.dtype[Any]:
    """A numpy dtype from a name, a numpy dtype, a torch dtype or a tf DType."""
    candidate: object = dtype
    if type(dtype).__module__.split(".")[0] == "torch":  # torch.float32 -> "float32", no import
        candidate = str(dtype).rpartition(".")[2]
    elif hasattr(dtype, "as_numpy_dtype"):  # tf.DType
        candidate = dtype.as_numpy_dtype  # type: ignore[union-attr]
    try:
        resolved = np.dtype(candidate)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        resolved = None
    if candidate is None or resolved is None or resolved.kind not in kinds:
        names = {"b": "bool", "i": "int", "u": "uint", "f": "float"}
        wanted = "/".join(names[k] for k in kinds if k in names)
        raise _usage(argument, f"a numpy {wanted} dtype name", dtype, example)
    if resolved.kind == "f" and resolved.itemsize not in (2, 4, 8):
        raise _usage(argument, "float16, float32 or float64", dtype, example)
    return resolved


def _check_elements(elements: object) -> SearchStrategy[Any] | None:
    if elements is not None and not isinstance(elements, SearchStrategy):
        raise _usage("elements", "None or a hypothesis strategy", elements,
                     "elements=hypothesis.strategies.floats(0, 1, width=32)")
    return elements


def _check_size(argument: str, value: object, default: SearchStrategy[int]) -> SearchStrategy[int]:
    """A positive int or a strategy of them, as a strategy."""
    if value is None:
        return default
    if isinstance(value, SearchStrategy):
        return value.map(lambda drawn: _drawn_size(argument, drawn))
    if _is_int(value) and int(value) >= 1:  # type: ignore[arg-type]
        return st.just(int(value))  # type: ignore[arg-type]
    raise _usage(argument, "a positive int or a strategy of them", value,
                 f"{argument}=4 or {argument}=hypothesis.strategies.integers(1, 8)")


def _drawn_size(argument: str, drawn: object) -> int:
    if _is_int(drawn) and int(drawn) >= 1:  # type: ignore[arg-type]
        return int(drawn)  # type: ignore[arg-type]
    raise _usage(argument, "the strategy to draw positive ints", drawn,
                 f"{argument}=hypothesis.strategies.integers(1, 8)")


def _check_device(device: object) -> str:
    # torch.device is accepted by its string form, so torch need not be imported to check it.
    if type(device).__module__.split(".")[0] == "torch":
        device = str(device)
    if not isinstance(device, str) or not re.fullmatch(r"[a-z_]+(:\d+)?", device):
        raise _usage("device", "a torch device string", device, "device='cpu' or device='cuda:0'")
    return device


# --- conversion, imported only at draw time ------------------------------------------------------

def _converter(framework: str, device: str = "cpu") -> Callable[[np.ndarray], Any]:
    if framework == "torch":
        return lambda array: _to_torch(array, device)
    if framework == "tf":
        return _to_tf
    return lambda array: array


def _to_torch(array: np.ndarray, device: str) -> Any:
    import torch  # here, not at the top: importing this module must stay free of torch

    # np.array copies: hypothesis may hand out read-only arrays, which torch.from_numpy warns about.
    tensor = torch.from_numpy(np.array(array))
    if device == "cpu":
        return tensor
    try:
        return tensor.to(device)
    except (RuntimeError, AssertionError) as exc:  # no such device, or torch built without CUDA
        raise _usage("device", "a device this machine has", device, "device='cpu'") from exc


def _to_tf(array: np.ndarray) -> Any:
    import tensorflow as tf  # here, not at the top: importing this module must stay free of tf

    return tf.convert_to_tensor(array)


# --- floats and arrays ---------------------------------------------------------------------------

def edge_floats(
    *,
    width: int = 32,
    allow_nan: bool = True,
    allow_infinity: bool = True,
    allow_subnormal: bool = True,
) -> SearchStrategy[float]:
    """Returns a strategy for floats of the given width that favours edge cases.

    About a third of the draws are special values: NaN, +inf and -inf, +0.0 and -0.0, the
    smallest subnormal, the smallest normal and the largest finite value (both signs), 1.0 and
    -1.0. The rest are huge magnitudes (above the square root of the largest finite value), tiny
    ones (below the square root of the smallest normal), and any float Hypothesis would draw.
    Every value is exactly representable at ``width`` (16, 32 or 64 bits).
    """
    if not _is_int(width) or int(width) not in (16, 32, 64):
        raise _usage("width", "16, 32 or 64", width, "width=32")
    width = int(width)
    allow_nan = _check_bool("allow_nan", allow_nan)
    allow_infinity = _check_bool("allow_infinity", allow_infinity)
    allow_subnormal = _check_bool("allow_subnormal", allow_subnormal)

    ftype = {16: np.float16, 32: np.float32, 64: np.float64}[width]
    info = np.finfo(ftype)
    largest, smallest_normal = float(info.max), float(info.tiny)
    # Bounds go through the float type so Hypothesis accepts them as exact at this width.
    huge = float(ftype(np.sqrt(info.max)))
    tiny = float(ftype(np.sqrt(info.tiny)))

    special = [0.0, -0.0, 1.0, -1.0, largest, -largest, smallest_normal, -smallest_normal]
    if allow_subnormal:
        subnormal = float(info.smallest_subnormal)
        special += [subnormal, -subnormal]
    if allow_infinity:
        special += [math.inf, -math.inf]
    if allow_nan:
        special.append(math.nan)

    bounded = dict(width=width, allow_subnormal=False)
    return st.one_of(
        st.sampled_from(special),
        st.sampled_from(special),  # a second branch: special values are the point of this strategy
        st.floats(min_value=huge, max_value=largest, **bounded),
        st.floats(min_value=-largest, max_value=-huge, **bounded),
        st.floats(min_value=smallest_normal, max_value=tiny, **bounded),
        st.floats(min_value=-tiny, max_value=-smallest_normal, **bounded),
        st.floats(width=width, allow_nan=allow_nan, allow_infinity=allow_infinity,
                  allow_subnormal=allow_subnormal),
    )


def _edge_ints(dtype: np.dtype[Any]) -> SearchStrategy[int]:
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    special = sorted({lo, lo + 1, 0, 1, hi - 1, hi} | ({-1} if lo < 0 else set()))
    return st.one_of(st.sampled_from(special), st.integers(lo, hi))


def _ordinary_elements(dtype: np.dtype[Any]) -> SearchStrategy[Any]:
    if dtype.kind == "f":
        # Finite, normal, moderate values: inputs a correct model must handle without NaN.
        bound = float(np.dtype(dtype).type(1e4))
        return st.floats(-bound, bound, width=dtype.itemsize * 8, allow_subnormal=False)
    return hnp.from_dtype(dtype)


def _elements_for(dtype: np.dtype[Any], elements: SearchStrategy[Any] | None,
                  edge_cases: bool) -> SearchStrategy[Any]:
    if elements is not None:
        return elements
    if not edge_cases:
        return _ordinary_elements(dtype)
    if dtype.kind == "f":
        return edge_floats(width=dtype.itemsize * 8)
    if dtype.kind in "iu":
        return _edge_ints(dtype)
    return hnp.from_dtype(dtype)


def arrays(
    *,
    shape: tuple[int, ...] | SearchStrategy[tuple[int, ...]],
    dtype: Any = "float32",
    elements: SearchStrategy[Any] | None = None,
    edge_cases: bool = True,
) -> SearchStrategy[np.ndarray]:
    """Returns a strategy for numpy arrays of ``shape`` and ``dtype`` that favour edge values.

    ``shape`` is a tuple of non-negative ints or a strategy of them. ``dtype`` is a numpy
    bool, int, uint or float (16/32/64-bit) dtype, given by name, numpy dtype, torch dtype or
    tf DType. With ``elements=None`` and ``edge_cases=True``, floats come from
    :func:`edge_floats` and ints favour 0, ±1 and the dtype's extremes; with ``edge_cases=False``
    floats are finite normal values in [-1e4, 1e4] and ints span the dtype. Large arrays repeat
    one fill value with a few drawn elements, as ``hypothesis.extra.numpy.arrays`` does.
    """
    checked_shape = _check_shape(shape)
    resolved = _check_dtype(dtype)
    checked_elements = _check_elements(elements)
    edge_cases = _check_bool("edge_cases", edge_cases)
    return hnp.arrays(resolved, checked_shape, elements=_elements_for(resolved, checked_elements, edge_cases))


def torch_tensors(
    *,
    shape: tuple[int, ...] | SearchStrategy[tuple[int, ...]],
    dtype: Any = "float32",
    elements: SearchStrategy[Any] | None = None,
    edge_cases: bool = True,
    device: Any = "cpu",
) -> SearchStrategy[Any]:
    """Returns a strategy for torch tensors drawn as :func:`arrays` and moved to ``device``.

    torch is imported when the first tensor is drawn, not when the strategy is built.
    """
    resolved = _check_dtype(dtype, example="dtype='float32'")
    if resolved.name not in TORCH_DTYPES:
        raise _usage("dtype", f"a dtype torch.from_numpy takes ({', '.join(TORCH_DTYPES)})", dtype,
                     "dtype='int64'")
    checked_device = _check_device(device)
    return arrays(shape=shape, dtype=resolved, elements=elements, edge_cases=edge_cases).map(
        _converter("torch", checked_device)
    )


def tf_tensors(
    *,
    shape: tuple[int, ...] | SearchStrategy[tuple[int, ...]],
    dtype: Any = "float32",
    elements: SearchStrategy[Any] | None = None,
    edge_cases: bool = True,
) -> SearchStrategy[Any]:
    """Returns a strategy for TensorFlow tensors drawn as :func:`arrays`.

    tensorflow is imported when the first tensor is drawn, not when the strategy is built.
    """
    return arrays(shape=shape, dtype=dtype, elements=elements, edge_cases=edge_cases).map(_converter("tf"))


# --- image batches -------------------------------------------------------------------------------

class _Pixels:
    """What one image kind's pixels look like: dtype, edge values, and how to draw noise."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "uint8":
            self.dtype = np.dtype(np.uint8)
            self.ends: list[Any] = [0, 255]
            self.elements = st.one_of(st.sampled_from([0, 1, 127, 128, 254, 255]), st.integers(0, 255))
        else:
            self.dtype = np.dtype(np.float32)
            below_one = float(np.nextafter(np.float32(1), np.float32(0)))
            tiny = float(np.finfo(np.float32).tiny)
            self.ends = [0.0, 1.0]
            self.elements = st.one_of(st.sampled_from([0.0, 1.0, 0.5, below_one, tiny]),
                                      st.floats(0.0, 1.0, width=32))
        # Constant images: black or white (the ends of the range) as often as any other level.
        self.constant = st.one_of(st.sampled_from(self.ends), self.elements)

    def noise(self, seed: int, shape: tuple[int, ...]) -> np.ndarray:
        # Dense noise from a drawn seed: realistic images without drawing every pixel.
        rng = np.random.default_rng(seed)
        if self.kind == "uint8":
            return rng.integers(0, 256, size=shape, dtype=np.uint8)
        return rng.random(size=shape, dtype=np.float32)


_PIXELS = {"uint8": _Pixels("uint8"), "unit_float": _Pixels("unit_float")}


@st.composite
def _one_image(draw: Callable[[SearchStrategy[Any]], Any], pixels: _Pixels, shape: tuple[int, ...]) -> np.ndarray:
    branch = draw(st.sampled_from(["constant", "noise", "drawn"]))
    if branch == "constant":
        return np.full(shape, draw(pixels.constant), dtype=pixels.dtype)
    if branch == "noise":
        return pixels.noise(draw(st.integers(0, 2**32 - 1)), shape)
    # Pixel by pixel (sparse over a fill value), so Hypothesis can shrink it to the pixel that matters.
    return draw(hnp.arrays(pixels.dtype, shape, elements=pixels.elements))


@st.composite
def _image_batch(
    draw: Callable[[SearchStrategy[Any]], Any],
    batch_size: SearchStrategy[int],
    height: SearchStrategy[int],
    width: SearchStrategy[int],
    channels: SearchStrategy[int],
    layout: str,
    kinds: tuple[str, ...],
) -> np.ndarray:
    n, h, w, c = draw(batch_size), draw(height), draw(width), draw(channels)
    pixels = _PIXELS[draw(st.sampled_from(kinds))]
    shape = (c, h, w) if layout == "channels_first" else (h, w, c)
    if draw(st.booleans()):
        # The whole batch one constant value (an all-black batch, a blank scan): a branch of its
        # own, since independent images would rarely all come out constant together.
        return np.full((n, *shape), draw(pixels.constant), dtype=pixels.dtype)
    return np.stack([draw(_one_image(pixels, shape)) for _ in range(n)])


def image_batches(
    *,
    batch_size: int | SearchStrategy[int] | None = None,
    height: int | SearchStrategy[int] | None = None,
    width: int | SearchStrategy[int] | None = None,
    channels: int | SearchStrategy[int] | None = None,
    layout: str | None = None,
    kind: str = "any",
    framework: str = "numpy",
) -> SearchStrategy[Any]:
    """Returns a strategy for batches of images, shaped ``(N, C, H, W)`` or ``(N, H, W, C)``.

    ``kind="uint8"`` gives uint8 pixels over the full 0..255 range (the unscaled input behind
    many "stuck at chance" reports); ``"unit_float"`` gives float32 pixels in [0, 1]; ``"any"``
    draws either. Batches come whole-constant half the time (all-zero and all-max among them);
    otherwise each image is constant, seeded noise, or drawn pixel by pixel.

    Sizes are positive ints or strategies of them; the defaults are ``batch_size`` 1..8 (1 on
    about half the draws), ``height`` and ``width`` 1..16, ``channels`` 1 or 3. ``layout`` is
    ``"channels_first"`` or ``"channels_last"``; by default the framework's convention
    (channels-last for ``"tf"``, channels-first otherwise). ``framework`` is ``"numpy"``,
    ``"torch"`` (CPU tensors) or ``"tf"``.
    """
    batch = _check_size("batch_size", batch_size, st.one_of(st.just(1), st.integers(1, 8)))
    rows = _check_size("height", height, st.integers(1, 16))
    cols = _check_size("width", width, st.integers(1, 16))
    chans = _check_size("channels", channels, st.sampled_from([1, 3]))
    framework = _check_choice("framework", framework, FRAMEWORKS)
    if layout is None:
        layout = "channels_last" if framework == "tf" else "channels_first"
    layout = _check_choice("layout", layout, LAYOUTS)
    kind = _check_choice("kind", kind, IMAGE_KINDS)
    kinds = ("uint8", "unit_float") if kind == "any" else (kind,)
    return _image_batch(batch, rows, cols, chans, layout, kinds).map(_converter(framework))


# --- label batches -------------------------------------------------------------------------------

@st.composite
def _label_batch(
    draw: Callable[[SearchStrategy[Any]], Any],
    num_classes: int,
    batch_size: SearchStrategy[int],
    kind: str,
    dtype: np.dtype[Any],
) -> np.ndarray:
    n = draw(batch_size)
    top = num_classes - 1
    if kind == "single_class":
        return np.full(n, draw(st.integers(0, top)), dtype=dtype)
    if kind == "missing_classes":
        # A strict subset of the classes, then ids only from it: at least one class never appears.
        present = draw(st.lists(st.integers(0, top), min_size=1, max_size=top, unique=True))
        ids = draw(st.lists(st.sampled_from(sorted(present)), min_size=n, max_size=n))
        return np.asarray(ids, dtype=dtype)
    ids = draw(st.lists(st.integers(0, top), min_size=n, max_size=n))
    if kind == "unseen":
        info = np.iinfo(dtype)
        above = st.one_of(st.sampled_from([num_classes, int(info.max)]), st.integers(num_classes, int(info.max)))
        # Negative ids too, for signed dtypes: -1 is the classic "ignore" or off-by-one label.
        bad = st.one_of(above, st.sampled_from([-1, int(info.min)]), st.integers(int(info.min), -1)) \
            if info.min < 0 else above
        for position in draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n)):
            ids[position] = draw(bad)
        return np.asarray(ids, dtype=dtype)
    if kind == "strings":
        # Names as a dataset would store them, and digits read from a CSV as text.
        template = draw(st.sampled_from(["class_{}", "{}"]))
        return np.asarray([template.format(i) for i in ids], dtype=str)
    return np.asarray(ids, dtype=dtype)


def label_batches(
    *,
    num_classes: int,
    batch_size: int | SearchStrategy[int] | None = None,
    kind: str = "valid",
    dtype: Any = "int64",
    framework: str = "numpy",
) -> SearchStrategy[Any]:
    """Returns a strategy for 1-d batches of class labels for ``num_classes`` classes.

    ``kind``:

    - ``"valid"``: ids in ``0..num_classes-1``; includes the two kinds below often.
    - ``"single_class"``: one id for the whole batch.
    - ``"missing_classes"``: valid ids, with at least one class absent (needs 2+ classes).
    - ``"unseen"``: at least one id ``>= num_classes`` or, for signed dtypes, negative.
    - ``"strings"``: a numpy array of str such as ``"class_3"`` or ``"3"`` (``dtype`` ignored;
      not for ``framework="torch"``, which has no string tensors).
    - ``"any"``: any of the above the framework can hold.

    ``batch_size`` is a positive int or a strategy of them (default 1..16, 1 on about half the
    draws). ``dtype`` is a numpy int or uint dtype that holds ``num_classes``. ``framework`` is
    ``"numpy"``, ``"torch"`` or ``"tf"``.
    """
    if not _is_int(num_classes) or int(num_classes) < 1:
        raise _usage("num_classes", "a positive int", num_classes, "num_classes=10")
    num_classes = int(num_classes)
    batch = _check_size("batch_size", batch_size, st.one_of(st.just(1), st.integers(1, 16)))
    kind = _check_choice("kind", kind, LABEL_KINDS)
    framework = _check_choice("framework", framework, FRAMEWORKS)
    resolved = _check_dtype(dtype, kinds="iu", example="dtype='int64'")
    if framework == "torch" and resolved.name not in TORCH_DTYPES:
        raise _usage("dtype", "an int dtype torch.from_numpy takes (uint8, int8, int16, int32, int64)",
                     dtype, "dtype='int64'")
    # Valid ids need num_classes - 1 to fit; an unseen id needs num_classes itself to fit.
    can_be_unseen = num_classes <= np.iinfo(resolved).max
    if num_classes - 1 > np.iinfo(resolved).max or (kind == "unseen" and not can_be_unseen):
        raise _usage("num_classes", f"a class count whose ids fit {resolved.name}", num_classes,
                     f"num_classes={int(np.iinfo(resolved).max)} or dtype='int64'")
    if kind == "missing_classes" and num_classes < 2:
        raise _usage("num_classes", "at least 2 for kind='missing_classes'", num_classes, "num_classes=10")
    if kind == "strings" and framework == "torch":
        raise _usage("framework", "'numpy' or 'tf' for kind='strings' (torch has no string tensors)",
                     framework, "framework='numpy'")

    def one(k: str) -> SearchStrategy[np.ndarray]:
        return _label_batch(num_classes, batch, k, resolved)

    if kind == "valid":
        subsets = ["single_class"] + (["missing_classes"] if num_classes >= 2 else [])
        strategy = st.one_of(one("valid"), *(one(k) for k in subsets))
    elif kind == "any":
        kinds = ["valid", "single_class"]
        kinds += ["missing_classes"] if num_classes >= 2 else []
        kinds += ["unseen"] if can_be_unseen else []
        kinds += ["strings"] if framework != "torch" else []
        strategy = st.one_of(*(one(k) for k in kinds))
    else:
        strategy = one(kind)
    return strategy.map(_converter(framework))
