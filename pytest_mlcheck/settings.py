"""Settings of a check, merged from ini < command line < marker < call argument."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping

from pytest_mlcheck.errors import MlcheckUsageError

_DEVICE_RE = re.compile(r"^(cpu|cuda|cuda:\d+|gpu|gpu:\d+)$")


def parse_device(value: str) -> str:
    """Accept 'cpu', 'cuda', 'cuda:N' (and 'gpu', 'gpu:N' as aliases of cuda)."""
    text = str(value).strip().lower()
    if not _DEVICE_RE.match(text):
        raise ValueError(
            f"{value!r} is not one of 'cpu', 'cuda' or 'cuda:N' (N a device index), for example cuda:0"
        )
    return text.replace("gpu", "cuda")


def parse_seed(value: Any) -> int:
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an integer; pass a whole number such as 0") from None
    if not 0 <= seed < 2**32:
        raise ValueError(f"{seed} is outside 0..2**32-1; pass a non-negative 32-bit integer such as 0")
    return seed


def parse_seconds(value: Any) -> float:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number; pass seconds such as 120") from None
    if not seconds > 0:
        raise ValueError(f"{seconds:g} is not positive; pass seconds such as 120")
    return seconds


def parse_examples(value: Any) -> int:
    try:
        count = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number; pass a count of examples such as 50") from None
    if count < 1:
        raise ValueError(f"{count} is not positive; pass a count of examples such as 50")
    return count


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean; use true or false")


# key -> parser; the keys shared by ini, marker and call arguments.
PARSERS: dict[str, Callable[[Any], Any]] = {
    "gpu": parse_bool,
    "device": parse_device,
    "seed": parse_seed,
    "max_seconds": parse_seconds,
    "examples": parse_examples,
}

DEFAULT_SEED = 0
DEFAULT_MAX_SECONDS = 120.0
DEFAULT_EXAMPLES = 50


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a check runs with. ``device`` is 'cpu', 'cuda' or 'cuda:N'."""

    device: str = "cpu"
    seed: int = DEFAULT_SEED
    max_seconds: float = DEFAULT_MAX_SECONDS
    examples: int = DEFAULT_EXAMPLES  # Hypothesis examples drawn when a check is given a strategy

    def merged(self, layer: Mapping[str, Any], *, source: str, names: Mapping[str, str] | None = None) -> Settings:
        """Return these settings overridden by one layer of raw values (validated here).

        ``gpu=true`` means CUDA: it keeps a CUDA device index chosen by a lower layer and
        otherwise picks 'cuda'; ``gpu=false`` means the CPU unless the layer names a device."""
        names = names or {}
        values = resolve_layer(layer, source=source, names=names)
        gpu = values.pop("gpu", None)
        if gpu is True and "device" not in values:
            values["device"] = self.device if self.device.startswith("cuda") else "cuda"
        elif gpu is False and "device" not in values:
            values["device"] = "cpu"
        return dataclasses.replace(self, **values) if values else self


def resolve_layer(layer: Mapping[str, Any], *, source: str, names: Mapping[str, str]) -> dict[str, Any]:
    """Validate one layer's raw values; errors name the key as that source spells it."""
    unknown = sorted(set(layer) - set(PARSERS))
    if unknown:
        raise MlcheckUsageError(
            f"{source}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(sorted(PARSERS))}"
        )
    parsed: dict[str, Any] = {}
    for key, raw in layer.items():
        if raw is None:
            continue
        try:
            parsed[key] = PARSERS[key](raw)
        except ValueError as exc:
            raise MlcheckUsageError(f"{source}: {names.get(key, key)}: {exc}") from None
    device = parsed.get("device")
    if parsed.get("gpu") is True and device is not None and not device.startswith("cuda"):
        raise MlcheckUsageError(
            f"{source}: {names.get('gpu', 'gpu=true')} contradicts {names.get('device', 'device')}={device!r}; "
            "give one of them (gpu means a CUDA device)"
        )
    if parsed.get("gpu") is False and device is not None and device.startswith("cuda"):
        raise MlcheckUsageError(
            f"{source}: gpu=false contradicts {names.get('device', 'device')}={device!r}; give one of them"
        )
    return parsed

