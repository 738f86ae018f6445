"""label_roundtrip: every label survives decode(encode(label)); codes are 0..C-1; C fits the head."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck import causes as C
from pytest_mlcheck.checks.common import check_count
from pytest_mlcheck.checks.output_range import predict_all
from pytest_mlcheck.checks.runner import CheckRun, check
from pytest_mlcheck.errors import describe, usage
from pytest_mlcheck.report import CheckResult


def _as_function(mapping: Any, name: str) -> Callable[[Any], Any]:
    if isinstance(mapping, Mapping):
        return lambda key: mapping[key]
    if isinstance(mapping, Sequence) and not isinstance(mapping, (str, bytes)):
        return lambda code: mapping[code]
    if callable(mapping):
        return mapping
    raise usage(name, "a callable, a dict, or (for decode) a list indexed by code", mapping)


def _plain(value: Any) -> Any:
    """numpy and framework scalars as Python values, so 3, np.int64(3) and tensor(3) compare equal."""
    if hasattr(value, "shape") and not isinstance(value, np.ndarray) and getattr(value, "shape", None) == ():
        value = as_numpy(value)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    return value


@check(strategy="labels")
def label_roundtrip(
    run: CheckRun,
    encode: Any,
    decode: Any,
    labels: Any,
    *,
    num_classes: int | None = None,
    model: Any = None,
    inputs: Any = None,
    output: Any = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
    examples: int | None = None,
) -> CheckResult:
    """Every label survives ``decode(encode(label))``; codes are distinct and contiguous
    0..C-1 (within 0..num_classes-1 when given); with ``model`` and ``inputs`` the head's
    width is C. ``encode``/``decode`` are callables or dicts (``decode`` may be a list).
    ``labels`` may be a Hypothesis strategy drawing lists of labels."""
    enc = _as_function(encode, "encode")
    dec = _as_function(decode, "decode")
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable) and not hasattr(labels, "shape"):
        raise usage("labels", "a list or array of labels", labels)
    values = [_plain(v) for v in (as_numpy(labels).tolist() if hasattr(labels, "shape") else list(labels))]
    if not values:
        raise usage("labels", "at least one label", labels)
    num_classes = check_count(num_classes, "num_classes")
    if (model is None) != (inputs is None):
        raise usage("model/inputs", "both (to read the head's width) or neither",
                    fix="Pass inputs= with model=, or drop model=")
    missing = [i for i, v in enumerate(values) if isinstance(v, float) and v != v]
    if missing:
        raise run.fail(f"{len(missing)} label(s) are NaN (first at position {missing[0]})",
                       [(C.LABELS_INVALID, "NaN is no label: a missing value in the label column")])
    distinct = list(dict.fromkeys(values))
    codes: dict[Any, int] = {}
    length: int | None = None  # the one-hot length when codes are one-hot vectors
    for label in distinct:
        try:
            raw_code = _plain(enc(label))
        except (KeyError, IndexError) as exc:
            raise run.fail(f"encode has no code for label {label!r}",
                           [(C.LABEL_MAPPING_MISMATCH, f"{label!r} is missing from the encoder ({exc!r})")])
        vector = _one_hot_code(raw_code)
        if vector is not None:
            code, size = vector
            if length is not None and size != length:
                raise run.fail(f"encode gives one-hot vectors of length {length} and {size}",
                               [(C.LABELS_INVALID, f"encode({label!r}) has length {size}, earlier codes {length}")])
            length = size
        elif isinstance(raw_code, bool) or not isinstance(raw_code, (int, float)) or float(raw_code) != int(raw_code):
            raise run.fail(f"encode({label!r}) gave {raw_code!r}, not an integer class code or a one-hot vector",
                           [(C.LABELS_INVALID, f"codes must be whole numbers 0..C-1 or one-hot vectors, got "
                                               f"{describe(raw_code)}")])
        else:
            code = int(raw_code)
        try:
            back = _plain(dec(enc(label) if vector is not None else code))
        except (KeyError, IndexError) as exc:
            raise run.fail(f"decode has no label for code {code} (from {label!r})",
                           [(C.LABEL_MAPPING_MISMATCH, f"code {code} is missing from the decoder ({exc!r})")])
        if back != label:
            as_code = _one_hot_of(length) if vector is not None else (lambda i: i)
            raise run.fail(f"label {label!r} → code {code} → {back!r}: it does not survive the round trip",
                           [(C.LABEL_MAPPING_MISMATCH, _drift(label, code, back, enc, dec, distinct, as_code))])
        codes[label] = code
    used = sorted(set(codes.values()))
    run.result.figures["labels"] = len(distinct)
    run.figure("codes", "one-hot vectors" if length is not None else "class ids",
               f"codes: one-hot vectors of length {length}" if length is not None else "")
    run.figure("first_code", used[0], f"codes: {used[0]}..{used[-1]}")
    run.figure("last_code", used[-1], "")
    width = None
    if model is not None:
        out = predict_all(run, model, inputs, output)
        width = out.reshape(len(out), -1).shape[1]
        run.result.figures["head_width"] = width
    classes = num_classes if num_classes is not None else length if length is not None else len(used)
    if num_classes is None and length is None and used != list(range(len(used))):
        raise run.fail(f"codes are {_span(used)}, expected contiguous 0..{len(used) - 1}",
                       [(C.LABEL_MAPPING_MISMATCH, _gap_story(used, len(used)))])
    if used[0] < 0 or used[-1] >= classes:
        raise run.fail(f"codes span {_span(used)}, outside 0..{classes - 1}",
                       [(C.LABEL_MAPPING_MISMATCH, _gap_story(used, classes))])
    if width is not None and width != classes and not (classes == 2 and width == 1):
        source = f"num_classes={num_classes}" if num_classes is not None else f"{classes} distinct labels"
        raise run.fail(f"the head has {width} outputs for {source}",
                       [(C.HEAD_WIDTH, f"{width} outputs per sample, {classes} classes")])
    return run.passed()


def _span(codes: list[int]) -> str:
    return f"{codes[0]}..{codes[-1]}" if len(codes) > 1 else str(codes[0])


def _gap_story(used: list[int], count: int) -> str:
    if used and used[0] == 1 and used[-1] == count:
        return f"codes run 1..{count}: off by one (classes are numbered from 0)"
    missing = sorted(set(range(count)) - set(used))
    return f"codes {_span(used)} for {count} classes; missing {missing[:5]}"


def _one_hot_code(code: Any) -> tuple[int, int] | None:
    """A one-hot vector (one 1, the rest 0; any array type) as (class index, length); else None."""
    if isinstance(code, (list, tuple)) or hasattr(code, "shape") and getattr(code, "shape", ()) != ():
        try:
            v = np.asarray(as_numpy(code) if not isinstance(code, (list, tuple)) else code, dtype=np.float64)
        except Exception:
            return None
        v = v.reshape(-1)
        if v.size >= 2 and np.isin(v, (0.0, 1.0)).all() and v.sum() == 1:
            return int(v.argmax()), int(v.size)
    return None


def _one_hot_of(length: int | None) -> Callable[[int], np.ndarray]:
    def write(index: int) -> np.ndarray:
        if length is None or not 0 <= index < length:
            raise IndexError(index)
        return np.eye(length, dtype=np.float32)[index]
    return write


def _as_index(code: Any) -> Any:
    found = _one_hot_code(code)
    return found[0] if found is not None else code


def _drift(label: Any, code: int, back: Any, enc: Callable, dec: Callable, distinct: list[Any],
           as_code: Callable[[int], Any] = lambda i: i) -> str:
    """Name the relation when decode uses another mapping: a shared code, a shift, another order.
    ``as_code`` writes a class index as the code decode takes (an int, or a one-hot vector)."""
    try:
        other = _as_index(_plain(enc(back))) if back in distinct else None
    except Exception:
        other = None
    if other == code:
        return f"encode gives {label!r} and {back!r} the same code {code}"
    for shift in (1, -1):
        try:
            if _plain(dec(as_code(code + shift))) == label:
                return f"decode({code + shift}) is {label!r}: the two mappings are off by one (shifted by {shift:+d})"
        except Exception:
            pass
    if isinstance(other, int):
        return (f"encode gives {label!r} code {code}, but decode maps code {code} to {back!r} "
                f"(which encode gives code {other}): the two mappings order the labels differently")
    return f"decode({code}) is {back!r}, not {label!r}"
