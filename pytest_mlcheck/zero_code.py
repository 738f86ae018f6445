"""The zero-code sanity run: ``pytest --mlcheck-model module:factory`` adds one pytest item per
(model, check), ``mlcheck-model[module:factory]::<check>``, that builds the model with random
weights, synthesises a seeded batch (random class labels) and runs the check through the fixture
object, so its result reaches the summary, JUnit properties and the report like any check's."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mlcheck.errors import CheckFailed, MlcheckUsageError, usage
from pytest_mlcheck.model_spec import ImportedWithError, InputSpec, SpecNotFound, build, resolve, where
from pytest_mlcheck.settings import Settings

BATCH = 8  # samples in the synthesised batch: enough for batch_independence, quick to memorise
CHECKS = ("output_range", "batch_independence", "init_loss", "gradients_flow", "overfit_one_batch")
LABELLED = ("init_loss", "gradients_flow", "overfit_one_batch")  # the checks that need a loss and labels


class ZeroCodeError(Exception):
    """The model could not be built or run on the synthesised batch: every item of the spec fails."""


@dataclasses.dataclass
class Prepared:
    """A built model and its synthesised batch; ``skip`` says why a labelled check cannot apply."""

    model: Any
    x: np.ndarray
    y: np.ndarray | None
    loss_fn: Any
    kind: str | None  # what output_range expects (None: finite outputs only)
    skip: str | None


def pair_inputs(models: list[str], inputs: list[InputSpec]) -> list[tuple[str, InputSpec | None]]:
    """``--mlcheck-inputs`` once for every model, or once per ``--mlcheck-model`` in order."""
    if inputs and not models:
        raise pytest.UsageError("pytest-mlcheck: --mlcheck-inputs: expected together with --mlcheck-model, which "
                                "names the model it is for; e.g. --mlcheck-model my_project.models:build "
                                "--mlcheck-inputs 3,32,32")
    if len(inputs) > 1 and len(inputs) != len(models):
        raise pytest.UsageError(f"pytest-mlcheck: --mlcheck-inputs: expected once (for every model) or once per "
                                f"--mlcheck-model ({len(models)}), got {len(inputs)}; give them in the order of "
                                "the models")
    pairs = [(m, inputs[0] if len(inputs) == 1 else inputs[i] if inputs else None) for i, m in enumerate(models)]
    return list(dict.fromkeys(pairs))  # the same model and inputs twice: one set of items


class ZeroCodeRun:
    """Registered as a plugin when ``--mlcheck-model`` is given: adds the items at collection."""

    def __init__(self, pairs: list[tuple[str, InputSpec | None]]) -> None:
        self.pairs = pairs

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so those select these items too
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        for spec, inputs in self.pairs:
            try:
                target: Any = resolve(spec, search=config.invocation_params.dir)
            except SpecNotFound as exc:
                raise pytest.UsageError(f"pytest-mlcheck: --mlcheck-model {spec}: {exc}; pass module:factory with an "
                                        f"importable module, e.g. my_project.models:build") from None
            except ImportedWithError as exc:
                target = exc  # the user's module is broken: its items fail saying so
            repeated = sum(1 for s, _ in self.pairs if s == spec) > 1
            name = f"mlcheck-model[{spec}" + (f",inputs={inputs}]" if repeated else "]")
            node = ModelSpec.from_parent(session, name=name, nodeid=name, path=config.rootpath, spec=spec,
                                         target=target, inputs=inputs)
            items.extend(session.genitems(node))  # as pytest collects: counted, reported, --collect-only


class ModelSpec(pytest.Collector):
    """One ``--mlcheck-model``: builds the model once (per process) for its items."""

    def __init__(self, *, spec: str, target: Any, inputs: InputSpec | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.target = target
        self.inputs = inputs
        self._prepared: Prepared | BaseException | None = None

    def collect(self) -> list[pytest.Item]:
        return [ModelCheck.from_parent(self, name=name) for name in CHECKS]

    def prepared(self, settings: Settings) -> Prepared:
        if self._prepared is None:
            try:
                self._prepared = self._prepare(settings)
            except (ZeroCodeError, MlcheckUsageError) as exc:
                self._prepared = exc
        if isinstance(self._prepared, BaseException):
            raise self._prepared
        return self._prepared

    def _prepare(self, settings: Settings) -> Prepared:
        from pytest_mlcheck.backends.rng import seeded_globals

        seed = settings.seed
        if isinstance(self.target, ImportedWithError):
            raise ZeroCodeError(f"importing the module of {self.spec} raised {self.target}{where(self.target.exc)}")
        try:
            with seeded_globals(seed):  # the same weights on every run with this seed
                model, how = build(self.target, self.inputs)
        except Exception as exc:
            raise ZeroCodeError(f"building the model from {self.spec} raised {type(exc).__name__}: {exc}"
                                f"{where(exc)}; the factory is called with no arguments and must return a "
                                "torch.nn.Module or a keras.Model") from exc
        from pytest_mlcheck.backends import is_keras_model, is_torch_model

        if not (is_torch_model(model) or is_keras_model(model)):
            raise ZeroCodeError(f"{self.spec}: {how} returned {type(model).__name__}, not a torch.nn.Module or a "
                                "keras.Model")
        inputs, source = self._inputs(model)
        rng = np.random.default_rng(seed)
        x = inputs.sample(BATCH, rng)
        outputs = self._forward(model, x, inputs, source, settings)
        if outputs.ndim != 2 or outputs.shape[1] < 2:
            return Prepared(model, x, None, None, None,
                            f"the model's output has shape {tuple(outputs.shape)}, not (samples, classes) with at "
                            "least 2 classes: the zero-code run trains on random class labels only; test other "
                            "heads with the mlcheck fixture and your own targets")
        from pytest_mlcheck.backends.zero_code import classifier_head

        head = classifier_head(model, outputs)
        classes = outputs.shape[1]
        ids = rng.integers(0, classes, size=BATCH)
        y = None if head.labels is None else ids if head.labels == "ids" else np.eye(classes, dtype=np.float32)[ids]
        skip = None if y is not None else (f"{head.said} takes neither class ids nor one-hot labels: the zero-code "
                                           "run trains on random class labels only")
        return Prepared(model, x, y, head.loss_fn, head.kind, skip)

    def _inputs(self, model: Any) -> tuple[InputSpec, str]:
        if self.inputs is not None:
            return self.inputs, "--mlcheck-inputs"
        from pytest_mlcheck.backends.zero_code import infer_inputs

        inferred = infer_inputs(model)
        if inferred is None:
            raise usage("--mlcheck-inputs", "one sample's input shape for " + self.spec,
                        fix="The model does not say it (its first weighted layer is not a Linear, Conv or Embedding, "
                            "or the Keras model is not built); pass e.g. --mlcheck-inputs 3,32,32 or "
                            "--mlcheck-inputs int:30522,128")
        return inferred

    def _forward(self, model: Any, x: np.ndarray, inputs: InputSpec, source: str, settings: Settings) -> np.ndarray:
        """One eval-mode forward pass on a copy: the output width, and the model runs on this input."""
        from pytest_mlcheck.checks.common import open_session
        from pytest_mlcheck.checks.runner import TrainSpec
        from pytest_mlcheck.errors import UserCodeError

        session = open_session(model, settings, TrainSpec(), inference=True)
        try:
            return np.asarray(session.predict(session.prepare(x)))
        except UserCodeError as err:
            raise ZeroCodeError(f"{err} on a synthesised batch of shape {x.shape} ({inputs}, from {source})"
                                f"{where(err.exc)}; pass --mlcheck-inputs with the shape of one sample") from err.exc
        finally:
            session.close()


class ModelCheck(pytest.Item):
    """One check on the model of its parent ``ModelSpec``."""

    parent: ModelSpec

    def runtest(self) -> None:
        from pytest_mlcheck.fixture import MLCheck
        from pytest_mlcheck.plugin import SESSION_KEY

        session = self.config.stash[SESSION_KEY]
        prepared = self.parent.prepared(session.settings)
        if self.name in LABELLED and prepared.skip is not None:
            pytest.skip(prepared.skip)
        mlcheck = MLCheck(session.settings, session.recorder(self))
        method = getattr(mlcheck, self.name)
        if self.name == "output_range":
            bounds: dict[str, Any] = ({"kind": prepared.kind} if prepared.kind is not None else
                                      {"low": -math.inf, "high": math.inf})  # finite outputs only
            method(prepared.model, prepared.x, **bounds)
        elif self.name == "batch_independence":
            method(prepared.model, prepared.x)
        else:
            method(prepared.model, (prepared.x, prepared.y), loss_fn=prepared.loss_fn)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (CheckFailed, ZeroCodeError)):
            return str(excinfo.value)
        if isinstance(excinfo.value, MlcheckUsageError):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid
