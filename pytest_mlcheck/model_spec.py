"""The zero-code run's two options as values: ``--mlcheck-model module:factory`` (resolved by import,
then built with random weights) and ``--mlcheck-inputs`` (a per-sample input shape). Only here may
the user's framework be imported, because the user named a model to build."""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

_SPEC_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
SPEC_EXAMPLE = "my_project.models:build"
INPUTS_EXAMPLES = "3,32,32 (floats, channels first) or int:30522,128 (token ids below 30522, length 128)"

# A transformers config class is built small: its defaults describe a full-size model (BERT-base
# is 110M parameters), too large for a sanity run. Keys are set only where the config has them.
TINY_TRANSFORMER = {
    "vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 64, "max_position_embeddings": 64, "n_positions": 64, "num_labels": 2,
}


def parse_model_spec(value: str) -> str:
    """``module:attr`` (dotted names both sides)."""
    text = str(value).strip()
    if not _SPEC_RE.match(text):
        raise ValueError(f"{value!r} is not module:factory; pass an importable module and a name in it, "
                         f"for example {SPEC_EXAMPLE}")
    return text


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One sample's input: float values of ``shape``, or integer ids below ``vocab`` (kind "int")."""

    kind: str  # "float" or "int"
    shape: tuple[int, ...]
    vocab: int | None = None

    def __str__(self) -> str:
        dims = ",".join(map(str, self.shape))
        return f"int:{self.vocab},{dims}" if self.kind == "int" else dims

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A batch of ``n``: standard-normal floats (float32) or uniform ids (int64)."""
        if self.kind == "int":
            return rng.integers(0, int(self.vocab or 1), size=(n, *self.shape), dtype=np.int64)
        return rng.standard_normal((n, *self.shape)).astype(np.float32)


def parse_inputs(value: str) -> InputSpec:
    """``D1,D2,...`` (float inputs of that per-sample shape; ``float:`` may prefix it) or
    ``int:V,D1,...`` (integer ids in 0..V-1 of that per-sample shape)."""
    text = str(value).strip().lower()
    kind, _, dims = text.rpartition(":")
    kind = kind or "float"
    fix = f"pass one sample's shape without the batch dimension, for example {INPUTS_EXAMPLES}"
    if kind not in ("float", "int"):
        raise ValueError(f"{value!r}: the prefix {kind + ':'!r} is not float: or int:; {fix}")
    parts = [p.strip() for p in dims.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{value!r} is not a comma-separated list of positive whole numbers; {fix}")
    numbers = tuple(int(p) for p in parts)
    if kind == "int":
        if len(numbers) < 2:
            raise ValueError(f"{value!r} gives the id range but no shape: int: takes the number of ids, then one "
                             f"sample's shape; for example int:30522,128")
        return InputSpec("int", numbers[1:], numbers[0])
    return InputSpec("float", numbers)


class SpecNotFound(Exception):
    """The module or the name in it does not exist (a misuse: the run cannot start)."""


def resolve(spec: str, *, search: Path) -> Any:
    """The object ``spec`` names. A module that is not found is looked for once more with ``search``
    (the directory pytest was started from) first on ``sys.path``, as ``python -m pytest`` would.
    An exception raised while importing the user's module passes (a defect, not a misuse)."""
    module_name, attr = spec.split(":")
    try:
        module = _import(module_name)
    except ModuleNotFoundError:
        if str(search) in sys.path:
            raise SpecNotFound(f"no module named {module_name!r} (searched sys.path)") from None
        sys.path.insert(0, str(search))
        try:
            module = _import(module_name)
        except ModuleNotFoundError:
            raise SpecNotFound(f"no module named {module_name!r} (searched sys.path and {search})") from None
    target: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(target, part):
            where = module_name if i == 0 else f"{module_name}:{'.'.join(attr.split('.')[:i])}"
            names = sorted(n for n in dir(target) if not n.startswith("_"))[:12]
            raise SpecNotFound(f"{where} has no attribute {part!r} (it has {', '.join(names) or 'no public names'})")
        target = getattr(target, part)
    return target


def _import(module_name: str) -> Any:
    """Import; a ModuleNotFoundError escapes only when ``module_name`` itself (or a package above
    it) is missing, not when the user's module fails to import something it needs."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise
        raise ImportedWithError(exc) from exc


class ImportedWithError(Exception):
    """The user's module raised while being imported."""

    def __init__(self, exc: BaseException):
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.exc = exc


def where(exc: BaseException) -> str:
    """The innermost frame of an exception in the user's code (not this plugin's), as
    ' (at file:line in function)'; empty when it was raised at the call itself."""
    here = str(Path(__file__).parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}:{last.lineno} in {last.name})"


def is_model(obj: Any) -> bool:
    torch, keras = sys.modules.get("torch"), sys.modules.get("keras")
    return bool((torch is not None and isinstance(obj, torch.nn.Module))
                or (keras is not None and isinstance(obj, keras.Model)))


def build(target: Any, inputs: InputSpec | None) -> tuple[Any, str]:
    """A model with random weights from what the spec named, and how it was built (for messages).
    A model object is used as it is; a Keras application is called with ``weights=None`` (and
    ``input_shape`` from ``inputs``); a transformers config or model class is built small
    (TINY_TRANSFORMER) with a sequence-classification head; anything else is called with no arguments."""
    if is_model(target):
        return target, "the model object itself"
    if not callable(target):
        raise TypeError(f"it names a {type(target).__name__}, neither a model nor a callable that returns one")
    module = getattr(target, "__module__", "") or ""
    if module.startswith(("keras.src.applications", "keras.applications")):
        kwargs: dict[str, Any] = {"weights": None}
        if inputs is not None and inputs.kind == "float":
            kwargs["input_shape"] = inputs.shape
        said = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return target(**kwargs), f"{target.__name__}({said})"
    transformers = sys.modules.get("transformers")
    if transformers is not None and isinstance(target, type):
        if issubclass(target, transformers.PretrainedConfig):
            config = _tiny(target)
            model = transformers.AutoModelForSequenceClassification.from_config(config)
            return model, f"AutoModelForSequenceClassification.from_config({target.__name__}(<tiny>))"
        if issubclass(target, transformers.PreTrainedModel):
            return target(_tiny(target.config_class)), f"{target.__name__}({target.config_class.__name__}(<tiny>))"
    return target(), f"{getattr(target, '__qualname__', type(target).__name__)}()"


def _tiny(config_class: Any) -> Any:
    defaults = config_class()
    config = config_class(**{k: v for k, v in TINY_TRANSFORMER.items() if hasattr(defaults, k)})
    if getattr(config, "pad_token_id", None) is None:  # sequence classification needs one for batches > 1
        config.pad_token_id = 0
    return config
