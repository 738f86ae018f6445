"""PyTorch adapter: trains a deep copy of the user's module, inside the guard of every global generator.

The model and a loss module are copied together (one memo: a parameter they share stays shared), so a
loss's own parameters (a learnable temperature) train on the copy too. Hooks registered on the model
are copied with it; a hook that is a plain function or closure would be shared by ``deepcopy``, so its
closure is copied in the same memo: what it records or changes lands on copies, not the user's objects.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import types
from collections.abc import Iterator, Mapping
from typing import Any, Callable, ContextManager

import numpy as np
import torch

from pytest_mlcheck.backends import (
    as_numpy, first_output, lookup_axes, noise_like, scalar_loss, unit_variance, weights_under, with_first,
    worker_device_index,
)
from pytest_mlcheck.backends.base import Crossing, Session
from pytest_mlcheck.backends.torch_watch import LossWatch, elementwise_crossings
from pytest_mlcheck.backends.interrupts import critical, user_boundary
from pytest_mlcheck.backends.lightning import (
    STEP, Configured, NoLoss, lightning_base, lightning_batch, loss_of_outputs, manual_error, manual_optimization, overrides,
    silence_logging, training_loss,
)
from pytest_mlcheck.backends.outputs import select_output
from pytest_mlcheck.backends import own_loss, torch_inplace
from pytest_mlcheck.backends.rng import Guard, seeded_globals
from pytest_mlcheck.backends.torch_inplace import InPlace, Untouched
from pytest_mlcheck.backends.torch_user_optimizer import UserOptimizer
from pytest_mlcheck.errors import DeviceUnavailable, MlcheckUsageError, NotSupported, UserCodeError, call_user, usage

DEFAULT_LR = 1e-3
LOSS_SOURCE = "the LightningModule's training_step(batch, batch_idx)"


def resolve_device(device: str) -> torch.device:
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"device: {device!r} was asked for (--mlcheck-gpu, --mlcheck-device or device=) but torch "
                "sees no CUDA device; run without --mlcheck-gpu, or on a machine with CUDA"
            )
        index = (int(device.split(":")[1]) if ":" in device else
                 worker_device_index(torch.cuda.device_count(), torch.cuda.current_device()))
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device: {device!r} does not exist; torch sees {torch.cuda.device_count()} CUDA device(s), "
                f"cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
        return torch.device("cuda", index)
    return torch.device("cpu")


_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def _copy_hook(hook: Any, memo: dict) -> Any:
    """A hook function whose closure cells are deep copies (in ``memo``); the hook itself when it has
    no closure or a cell cannot be copied. Its globals stay shared: out of reach of any copy."""
    if not isinstance(hook, types.FunctionType) or not hook.__closure__:
        return hook
    try:
        cells = tuple(types.CellType(copy.deepcopy(cell.cell_contents, memo)) for cell in hook.__closure__)
    except Exception:  # an empty cell or an object deepcopy cannot copy (a lock, a file): left shared
        return hook
    copied = types.FunctionType(hook.__code__, hook.__globals__, hook.__name__, hook.__defaults__, cells)
    copied.__kwdefaults__ = copy.copy(hook.__kwdefaults__)
    copied.__dict__.update(hook.__dict__)
    return copied


def _on_copy(fn: Any, memo: dict, cells: dict[int, Any]) -> Any:
    """The user's loss (or step) pointed at the copy: a function whose closure cells or default
    arguments hold an object the copy was made of (the model, a submodule, a parameter) gets those
    bound to the copies; a bound method of such an object is bound to its copy; a
    ``functools.partial`` likewise for its arguments. What the loss reads of the model it then reads
    on the copy the check trains, as the user's loop reads the model it trains. Cells holding anything
    else stay the user's own cells (a ``nonlocal`` the loss and step share stays shared: ``cells``
    gives both the same new cell where one is made); globals are not rebound (a module's namespace is
    shared by everything in it): a loss reaching the model that way is refused by ``Untouched``."""
    def mapped(value: Any) -> Any:
        return memo.get(id(value), value)

    if type(fn) is functools.partial:
        inner, args = _on_copy(fn.func, memo, cells), [mapped(a) for a in fn.args]
        keywords = {k: mapped(v) for k, v in fn.keywords.items()}
        if inner is fn.func and all(a is b for a, b in zip(args, fn.args)) and all(
                keywords[k] is v for k, v in fn.keywords.items()):
            return fn
        return functools.partial(inner, *args, **keywords)
    if isinstance(fn, types.MethodType):
        owner = mapped(fn.__self__)
        return fn if owner is fn.__self__ else types.MethodType(fn.__func__, owner)
    if not isinstance(fn, types.FunctionType):
        return fn
    closure = list(fn.__closure__ or ())
    for i, cell in enumerate(closure):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: a name the function reads before it is bound
            continue
        if mapped(value) is not value:
            closure[i] = cells.setdefault(id(cell), types.CellType(mapped(value)))
    defaults = tuple(mapped(v) for v in fn.__defaults__) if fn.__defaults__ else fn.__defaults__
    kwdefaults = {k: mapped(v) for k, v in fn.__kwdefaults__.items()} if fn.__kwdefaults__ else fn.__kwdefaults__
    if all(a is b for a, b in zip(closure, fn.__closure__ or ())) \
            and all(a is b for a, b in zip(defaults or (), fn.__defaults__ or ())) \
            and all(kwdefaults[k] is v for k, v in (fn.__kwdefaults__ or {}).items()):
        return fn
    copied = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults, tuple(closure) or None)
    copied.__kwdefaults__ = kwdefaults
    copied.__dict__.update(fn.__dict__)
    return copied


def _reads_original(argument: str) -> MlcheckUsageError:
    """A loss (or step) that reaches the module the user passed, which the check does not train."""
    return usage(argument, "code that reaches the model only through the outputs it is given (the check "
                           "trains a copy of your model)",
                 fix="a gradient reached the parameters of the model object you passed (read through an "
                     "object holding it, a helper function or a bound method, e.g. a weight penalty or a "
                     "second forward pass), so that term would be a constant for the check; the check stopped "
                     "it there: your model, its gradients, buffers and optimizer are as they were. Pass "
                     "train_step=lambda model, optimizer, loss_fn, x, y: ..., which is given the copy, close "
                     "over the model in a plain function (bound to the copy), or return the term among the "
                     "model's outputs")


_VIEWS = "_mlcheck_views"  # on a copy: the views of its parameters it keeps (:func:`_rebind_views`)


def _graph_values(*modules: Any) -> dict:
    """A deepcopy memo holding a detached copy of every tensor a module keeps as a plain attribute (or
    in lists, tuples and dicts there) that is no graph leaf: a value its forward computed and stored — a
    regulariser's term, a weight that ``weight_norm`` rebuilds before each forward, an attention map
    kept for a plot. ``deepcopy`` refuses such a tensor; the copy gets its value without the graph
    (its forward recomputes it from the copy's own parameters), and the user's module is not touched.
    A view of a parameter kept that way (tied weights as ``self.w_t = self.w.t()``) is made a view of
    the copy's parameter afterwards (:func:`_view_specs`)."""
    memo: dict = {}

    def keep(value: Any, depth: int = 0) -> None:
        if isinstance(value, torch.Tensor):
            if not value.is_leaf:
                memo.setdefault(id(value), value.detach().clone())
        elif depth < 3 and isinstance(value, (list, tuple, dict)):  # containers a few levels deep
            for item in (value.values() if isinstance(value, dict) else value):
                keep(item, depth + 1)

    for root in modules:
        if isinstance(root, torch.nn.Module):
            for module in root.modules():
                for value in vars(module).values():
                    keep(value)
    return memo


def _view_specs(originals: list[torch.nn.Module], copies: list[torch.nn.Module], memo: dict) -> list[tuple]:
    """Where the original keeps a view of one of its parameters (or another leaf the copy holds) — as
    an attribute, or in a list or dict that is one — whose graph reaches that parameter and whose
    values follow its updates: (holder on the copy, key, the copied parameter, size, strides, offset
    from the parameter's own). Only where the copied parameter has the original's strides: the view
    is then the same elements of it."""
    specs = []
    for original, copied in zip(originals, copies):
        for name, value in vars(original).items():
            held = vars(copied).get(name)
            pairs = [(copied, name, value, held)]
            if isinstance(value, list) and isinstance(held, list) and len(value) == len(held):
                pairs = [(held, i, v, h) for i, (v, h) in enumerate(zip(value, held))]
            elif isinstance(value, dict) and isinstance(held, dict):
                pairs = [(held, k, v, held.get(k)) for k, v in value.items()]
            for holder, key, view, now in pairs:
                if not isinstance(view, torch.Tensor) or view.is_leaf or not view._is_view():
                    continue
                base = view._base
                twin = memo.get(id(base)) if base is not None and base.is_leaf else None
                if twin is None or now is not memo.get(id(view)) or twin.stride() != base.stride() \
                        or twin.shape != base.shape:
                    continue
                specs.append((holder, key, twin, tuple(view.size()), tuple(view.stride()),
                              view.storage_offset() - base.storage_offset()))
    return specs


def _rebind_views(model: torch.nn.Module) -> None:
    """Makes each view a copy keeps (:func:`_view_specs`) a view of its copied parameter as that
    parameter is now: after the copy is made, moved to a device or widened to float64 (both give the
    parameter new storage, which a view made before would not follow)."""
    for holder, key, param, size, stride, offset in getattr(model, _VIEWS, ()):
        view = param.as_strided(size, stride, param.storage_offset() + offset)
        if isinstance(holder, (list, dict)):
            holder[key] = view
        else:
            object.__setattr__(holder, key, view)


def copy_with_hooks(model: torch.nn.Module, loss_fn: Any, train_step: Any = None) -> tuple[torch.nn.Module, Any, Any]:
    """Deep copies of the model and (when it is a module) the loss, in one memo, with every hook's
    closure copied in that memo too; a loss function or step that reads the model is pointed at the
    copy (``_on_copy``). Values a forward stored on a module keep their value, not their graph
    (:func:`_graph_values`); views of parameters stay views of the copy's (:func:`_rebind_views`)."""
    loss_is_module = isinstance(loss_fn, torch.nn.Module)
    memo: dict = _graph_values(model, loss_fn)
    model_copy, loss_copy = copy.deepcopy((model, loss_fn if loss_is_module else None), memo)
    originals = list(model.modules()) + (list(loss_fn.modules()) if loss_is_module else [])
    copies = list(model_copy.modules()) + (list(loss_copy.modules()) if loss_is_module else [])
    specs = _view_specs(originals, copies, memo)
    if specs:
        object.__setattr__(model_copy, _VIEWS, specs)
        _rebind_views(model_copy)
    for module in copies:
        for name in _HOOKS:
            hooks = getattr(module, name, None)
            if hooks:
                for key, hook in list(hooks.items()):
                    hooks[key] = _copy_hook(hook, memo)
    cells: dict[int, Any] = {}
    return model_copy, loss_copy if loss_is_module else _on_copy(loss_fn, memo, cells), _on_copy(train_step, memo, cells)


def _takes_labels(model: torch.nn.Module) -> bool:
    """Whether the model's forward computes a loss itself from ``labels=`` (Hugging Face models)."""
    try:
        return "labels" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _float_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


# modules whose output is a pre-activation: no activation of their own inside
_PRE_ACTIVATION = (torch.nn.Linear, torch.nn.Bilinear, torch.nn.modules.conv._ConvNd, torch.nn.Embedding,
                   torch.nn.EmbeddingBag)



def _as_arrays(grads: dict[str, torch.Tensor | None]) -> dict[str, np.ndarray | None]:
    """Gradients as float32 numpy copies (None kept where a parameter has none); a sparse gradient (an
    ``nn.EmbeddingBag(sparse=True)``'s) densified, rows it does not touch 0."""
    return {n: None if g is None else (g if g.layout == torch.strided else g.to_dense()).detach().float().cpu()
            .numpy().copy() for n, g in grads.items()}


def _rebuilt(opt: torch.optim.Optimizer, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """An optimizer of ``opt``'s class over ``groups`` with fresh state, built without calling its
    constructor: torch's Optimizer set-up with ``opt``'s defaults, then a copy of every attribute the
    subclass added (its own schedule counters and rates, as they are now)."""
    clone = type(opt).__new__(type(opt))
    torch.optim.Optimizer.__init__(clone, groups, dict(opt.defaults))
    for name, value in vars(opt).items():
        if name not in vars(clone):
            setattr(clone, name, copy.deepcopy(value))
    return clone


class TorchSession:
    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: str,
        seed: int,
        loss_fn: Callable | None,
        optimizer: Any,
        train_step: Callable | None,
        output: Any,
        inference: bool = False,
    ):
        # a LightningModule without loss_fn (and train_step) trains on its own training_step's loss
        self._lightning = lightning_base(model)
        self._step_loss = (self._lightning is not None and loss_fn is None and train_step is None
                           and overrides(model, self._lightning, "training_step"))
        if self._step_loss and not inference and manual_optimization(model):
            raise manual_error(model)
        # a model that computes its own loss from labels= (Hugging Face) trains on it without loss_fn
        self._own_loss = (loss_fn is None and train_step is None and not self._step_loss
                          and _takes_labels(model))
        # how the model's own loss pairs outputs with labels (own_loss.py): found on the first labelled batch
        self._alignment: str | None = None
        self._label_length: int | None = None  # labels of this length along axis 1 are shifted
        if loss_fn is None and train_step is None and not inference and not self._own_loss and not self._step_loss:
            raise usage(
                "loss_fn",
                "a callable (outputs, targets) -> scalar loss for a torch model",
                fix="Pass e.g. loss_fn=torch.nn.CrossEntropyLoss(), or train_step= with your own step"
                    + (" (or give the LightningModule a training_step)" if self._lightning else ""),
            )
        if loss_fn is not None and not callable(loss_fn):
            raise usage("loss_fn", "a callable (outputs, targets) -> scalar loss", loss_fn)
        if train_step is not None and not callable(train_step):
            raise usage("train_step", "a callable (model, optimizer, loss_fn, x, y) -> loss", train_step)
        self.torch_device = resolve_device(device)
        self.device = str(self.torch_device)
        self.user_step = train_step
        self.output = output
        self.optimizer_notes: list[str] = []
        self.sources: dict[str, str] = {}  # where the loss and optimizer came from, when not the call
        self._configured: Configured | None = None  # configure_optimizers' optimizer and schedulers
        self._steps = 0  # training steps taken: training_step's batch_idx
        self._step_count: list[int] | None = None  # optimizer.step() calls, once optimizer_steps() asked
        # the gradients the last optimizer.step() of the user's step saw (see _watch_step_gradients)
        self._at_step: list[dict[str, torch.Tensor | None] | None] | None = None
        self._guard = Guard()
        self._inplace: InPlace | None = None
        self._untouched: Untouched | None = None  # the user's module beside the copy
        self._user_optimizer: UserOptimizer | None = None  # the optimizer passed beside a train_step
        # (batch, its loss's leaves outside the parameters) from the last gradients(): unregistered_leaves' first call
        self._graph_leaves: tuple[Any, dict[int, torch.Tensor]] | None = None
        # tensors outside the parameters that the loss reached at the first step, with their values then
        # (what unregistered_leaves compares: one the run changed is trained, by a soft update or the like)
        self._foreign: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None
        # a LightningModule's loss runs its training_step with forward swapped and self.log silenced:
        # that changes the module, so it gets a copy
        if inference and self._lightning is None and torch_inplace.usable(model, loss_fn, self.torch_device):
            # Inference needs no copy: the user's module itself runs, and what a forward pass could
            # change is put back when the session closes (torch_inplace).
            self.model, self.loss_fn, self._loss_params = model, loss_fn, []
            self.optimizer = None
            self._begin(seed, inplace=True)
            return
        # The copy is trained, never the user's module: only the global generators need a guard.
        # The copy and the optimizer are built before any generator is seeded (copying draws nothing).
        try:
            self.model, self.loss_fn, self.user_step = copy_with_hooks(model, loss_fn, train_step)
        except Exception as exc:
            raise usage("model", "a module (and loss module) that copy.deepcopy can copy", model,
                        fix=f"copying it raised {type(exc).__name__}: {exc}") from None
        try:
            self.model.to(self.torch_device).train()
            _rebind_views(self.model)  # the move gave the parameters new storage
            if isinstance(self.loss_fn, torch.nn.Module):
                self.loss_fn.to(self.torch_device)
        except (NotImplementedError, RuntimeError) as exc:
            raise usage("model", f"a model whose parameters can move to {self.device}", model,
                        fix=f"moving it raised {type(exc).__name__}: {str(exc).splitlines()[0]} (parameters "
                            "on the meta device hold no data: materialise and load them first)") from None
        if self._lightning is not None:
            silence_logging(self.model)  # self.log without a Trainer warns on every call
        if any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in self.model.parameters()):
            raise usage("model", "a model whose parameters are initialised", model,
                        fix="it holds lazy modules (LazyLinear, LazyConv2d, ...) never called: call it once on a "
                            "batch (model(x)) before the check")
        self._loss_params = self._own_loss_parameters()
        self._copy_of = {id(o): c for o, c in zip(model.parameters(), self.model.parameters())}
        if isinstance(loss_fn, torch.nn.Module):  # the user's loss parameters map to the loss copy's
            self._copy_of.update({id(o): c for o, c in zip(loss_fn.parameters(), self.loss_fn.parameters())})
        self.optimizer = None if inference else self._build_optimizer(optimizer, model)
        if not inference and train_step is not None and isinstance(optimizer, torch.optim.Optimizer):
            self._user_optimizer = UserOptimizer(optimizer)
        if self._step_loss and not inference:  # an inference session says so once it computed a loss
            self.sources["loss_from"] = LOSS_SOURCE
        if self._configured is not None:
            self.sources["optimizer_from"] = "the LightningModule's configure_optimizers(): " + self._configured.describe()
        self._begin(seed, original=(model, loss_fn))  # last: nothing after it may fail before the caller holds the session

    @critical
    def _begin(self, seed: int, *, inplace: bool = False, original: tuple[Any, Any] | None = None) -> None:
        """Capture every global generator, then seed them (and, on the user's module itself, capture
        what a forward pass could change and put it in training mode, as a copy starts; beside a copy,
        set aside what the user's loss could change on the ``original`` module it may still read);
        undone in full if anything stops it."""
        try:
            if original is not None:
                argument = "train_step" if self.user_step is not None else "loss_fn"
                self._untouched = Untouched(*original, copies={id(p) for p in self.model.parameters()},
                                            refusal=lambda: _reads_original(argument))
            if inplace:
                self._inplace = InPlace(self.model, self.loss_fn)
                self.model.train()
            self._guard.begin(seed, cuda=self.torch_device.type == "cuda")
        except BaseException:
            self.close()
            raise

    def _own_loss_parameters(self) -> list[torch.nn.Parameter]:
        """The loss copy's parameters that are not the model's (a learnable temperature)."""
        if not isinstance(self.loss_fn, torch.nn.Module):
            return []
        mine = {id(p) for p in self.model.parameters()}
        return [p for p in self.loss_fn.parameters() if id(p) not in mine]

    # -- optimizer ------------------------------------------------------------------------
    def _build_optimizer(self, spec: Any, original: torch.nn.Module) -> torch.optim.Optimizer:
        # a loss's own parameters train with the model's, as in the user's loop over both
        params = list(self.model.parameters()) + self._loss_params
        if spec is None and self._lightning is not None and overrides(original, self._lightning, "configure_optimizers"):
            # called on the copy, so the optimizer is built over the copy's parameters
            self._configured = Configured(self.model)
            return self._configured.optimizer
        if spec is None:
            self.optimizer_notes.append(
                f"no optimizer given: used Adam(lr={DEFAULT_LR}); the learning rate was not tested"
            )
            return torch.optim.Adam(params, lr=DEFAULT_LR)
        if isinstance(spec, torch.optim.Optimizer):
            return self._clone_optimizer(spec)
        if isinstance(spec, type):
            if not issubclass(spec, torch.optim.Optimizer):
                raise usage("optimizer", "a torch.optim.Optimizer class, instance, or factory params -> optimizer",
                            spec)
            return spec(params)
        if callable(spec):
            opt = spec(params)
            if not isinstance(opt, torch.optim.Optimizer):
                raise usage("optimizer", "a factory that returns a torch.optim.Optimizer", opt,
                            fix="Write it as optimizer=lambda params: torch.optim.Adam(params, lr=1e-3)")
            mine = {id(p) for p in params}
            held = [p for g in opt.param_groups for p in g["params"]]
            if any(id(p) not in mine for p in held):
                if held and not ({id(p) for p in held} & (mine | {id(p) for p in original.parameters()})):
                    return self._clone_optimizer(opt, foreign=True)
                raise usage("optimizer", "a factory that builds the optimizer over the parameters it is given",
                            fix="It used other parameters (the original model's?): write "
                                "lambda params: torch.optim.Adam(params, ...)")
            return opt
        raise usage("optimizer", "a torch.optim.Optimizer class, instance, or factory params -> optimizer", spec)

    def _clone_optimizer(self, opt: torch.optim.Optimizer, *, foreign: bool = False) -> torch.optim.Optimizer:
        """Same class, hyper-parameters and param groups, over the copy's parameters; fresh state.
        An optimizer over another instance of the model is the user's defect, not a misuse: see
        ``_over_another_instance``; so is one that a factory, given this model's parameters, built
        over another network's tensors instead (``foreign``: PyTorch-RL's GAIL built the
        discriminator's Adam over the critic's parameters): none of them is this model's, nor the
        original's a factory could have closed over by mistake."""
        if foreign:
            held = sum(len(g["params"]) for g in opt.param_groups)
            self.optimizer_notes.append(
                f"the optimizer factory, given this model's parameters, built the optimizer over {held} other "
                "tensor(s) (another network's?), so training never updates this model; build it over the "
                "parameters it is given")
        stale = foreign or self._over_another_instance(opt)
        groups = []
        for group in opt.param_groups:
            mapped = []
            for p in group["params"]:
                if stale:  # a placeholder: no gradient ever reaches it, as none reaches the other instance
                    mapped.append(torch.nn.Parameter(torch.empty(0, dtype=p.dtype, device=self.torch_device)))
                    continue
                if id(p) not in self._copy_of:
                    raise usage("optimizer", "an optimizer over this model's parameters",
                                fix="It holds parameters that are not the model's: build it from "
                                    "model.parameters() of the model you pass")
                mapped.append(self._copy_of[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": mapped})
        try:
            return type(opt)(groups, **opt.defaults)
        except TypeError:
            pass
        try:
            return type(opt)(groups)
        except TypeError:  # a subclass whose constructor takes other arguments (Torch7SGD(params, learningRate, ...))
            return _rebuilt(opt, groups)

    def _over_another_instance(self, opt: torch.optim.Optimizer) -> bool:
        """Whether the optimizer holds none of the model's parameters but as many of the same shapes,
        in order: built over another instance of the model (one made before this one), so the user's
        loop trains a model its optimizer never updates. The check steps placeholders for them, and
        the model's parameters are reported as never updated (a note says why)."""
        held = [p for g in opt.param_groups for p in g["params"]]
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not held or any(id(p) in self._copy_of for p in held) \
                or [tuple(p.shape) for p in held] != [tuple(p.shape) for p in trainable]:
            return False
        self.optimizer_notes.append(
            f"the optimizer holds none of this model's parameters but {len(held)} tensor(s) of the same shapes: "
            "it was built over another instance of the model (one created before this one?), so training "
            "never updates this one; build the optimizer after the model it trains")
        return True

    def uncovered_parameters(self) -> list[str]:
        covered = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
        return [n for n, p in self.model.named_parameters() if p.requires_grad and id(p) not in covered]

    def unregistered_leaves(self, batch: tuple[Any, Any]) -> list[tuple[str, tuple[int, ...]]]:
        """Tensors that require grad and reach the loss (AccumulateGrad leaves of its graph) in two
        calls alike but are neither the model's parameters, the loss's, nor the batch: layers kept
        in a plain list or dict, or tensors made once with requires_grad=True, which no optimizer over
        model.parameters() updates, and Parameters of layers built inside forward (afresh each call,
        never trained). A plain tensor made afresh in each forward pass (an LSTM's initial state with
        requires_grad_(), inputs a physics-informed model differentiates) is not one. Named by where
        the model holds them when it does."""
        known = self._known(batch)
        # the graph gradients() built on this very batch serves as the first call: one replay, not two
        seen, self._graph_leaves = self._graph_leaves, None
        first = seen[1] if seen is not None and seen[0] is batch else self._loss_leaves(batch, known)
        second = self._loss_leaves(batch, known)
        # held between calls (both calls' leaves alive: ids not reused), or a Parameter, which a layer
        # built inside forward makes afresh and never trains
        kept = {i: t for i, t in second.items() if first.get(i) is t or isinstance(t, torch.nn.Parameter)}
        # one the run changed since its first step is trained, by the user's step (a target network's soft
        # update, an average of the weights) or an optimizer over more than the model's parameters
        at_first = self._foreign or {}
        kept = {i: t for i, t in kept.items()
                if i not in at_first or at_first[i][0] is not t or _same_values(at_first[i][1], t)}
        names = _held_names(self.model)
        return sorted((names.get(i, "an unnamed tensor"), tuple(t.shape)) for i, t in kept.items())

    def _loss_leaves(self, batch: tuple[Any, Any], known: set[int]) -> dict[int, torch.Tensor]:
        """The leaves of one loss call's autograd graph that are not in ``known``, by id."""
        with torch.enable_grad():
            loss = self._loss_tensor(batch[0], batch[1])
        return _graph_leaves(loss, known)

    def trainable_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def parameter_values(self) -> dict[str, np.ndarray]:
        return {n: as_numpy(p).copy() for n, p in self.model.named_parameters() if p.requires_grad}

    def frozen_values(self) -> dict[str, np.ndarray]:
        return {n: as_numpy(p).copy() for n, p in self.model.named_parameters() if not p.requires_grad}

    def lookup_tables(self) -> set[str]:
        tables = {id(p) for m in self.model.modules() if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))
                  for p in m.parameters(recurse=False)}
        return {n for n, p in self.model.named_parameters() if p.requires_grad and id(p) in tables}

    def flagged_frozen(self) -> dict[str, str]:
        flagged: dict[str, str] = {}
        for name, module in self.model.named_modules():
            if vars(module).get("requires_grad") is False:  # `module.requires_grad = False`: an attribute, no flag
                for pname, p in module.named_parameters(prefix=name):
                    if p.requires_grad:
                        flagged.setdefault(pname, name or type(module).__name__)
        return flagged

    def scale_lr(self, factor: float) -> None:
        if self._configured is not None:
            self._configured.scale(factor)
        if self._user_optimizer is not None:
            self._user_optimizer.scale(factor)
        for group in self.optimizer.param_groups:
            group["lr"] = group["lr"] * factor

    def learning_rates(self) -> tuple[float, float]:
        if self.optimizer is None:
            raise NotSupported("reading the learning rate", "no optimizer is given")
        groups = self.optimizer.param_groups  # a scheduler keeps each group's base rate as initial_lr
        return (max(float(g.get("initial_lr", g["lr"])) for g in groups), max(float(g["lr"]) for g in groups))

    def schedule_ahead(self, start: int, stop: int) -> float:
        raise NotSupported("reading a learning-rate schedule ahead", "a torch scheduler moves only when stepped")

    def weight_decay(self) -> float:
        return max((float(g.get("weight_decay", 0.0) or 0.0) for g in self.optimizer.param_groups), default=0.0)

    def weight_penalties(self) -> str:
        return ""  # a module adds no penalty of its own: one written in loss_fn is the user's loss

    def drop_weight_decay(self) -> None:
        for group in self.optimizer.param_groups:
            if "weight_decay" in group:
                group["weight_decay"] = 0.0

    def training_outputs(self, batch: tuple[Any, Any]) -> np.ndarray:
        return self._outputs_in_mode(batch, training=True)

    def train_without_noise(self) -> None:
        """Train in eval mode from now on: dropout and other train-mode noise off (a probe)."""
        self.model.eval()

    def recalibrate(self, batch: tuple[Any, Any]) -> bool:
        norms = [m for m in self.model.modules()
                 if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not norms:
            return False
        momenta = [m.momentum for m in norms]
        was_training = self.model.training
        try:
            for m in norms:  # momentum None with fresh statistics: one pass sets them to the batch's
                with self._writes():
                    m.reset_running_stats()
                m.momentum = None
            self.model.train()
            # dropout off: the statistics of the activations eval mode computes, not of dropped-out ones,
            # whose larger variance a later normalisation would then divide eval mode's by (the
            # variance shift between dropout and batch norm)
            for m in self.model.modules():
                if isinstance(m, torch.nn.modules.dropout._DropoutNd):
                    m.eval()
            with torch.no_grad():
                self._forward(batch[0])
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
            self.model.train(was_training)
        return True

    # -- data -----------------------------------------------------------------------------
    def _tensor(self, value: Any, *, is_input: bool) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(self.torch_device)
        if isinstance(value, (tuple, list)) and is_input:
            return type(value)(self._tensor(v, is_input=True) for v in value)
        if isinstance(value, dict) and is_input:
            return {k: self._tensor(v, is_input=True) for k, v in value.items()}
        array = np.asarray(value)
        if array.dtype == object:
            raise usage("batch", "numeric arrays or tensors", value)
        if not array.flags.writeable:  # torch warns on read-only arrays (an error under -W error)
            array = array.copy()
        tensor = torch.as_tensor(array)
        if tensor.is_floating_point():
            tensor = tensor.to(_float_dtype(self.model))
        elif not is_input and tensor.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
            tensor = tensor.long()
        return tensor.to(self.torch_device)

    def prepare(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        batch = self._tensor(x, is_input=True), None if y is None else self._tensor(y, is_input=False)
        if self._own_loss and batch[1] is not None and self._label_length is None:
            self._find_alignment(*batch)
        return batch

    def _find_alignment(self, x: Any, y: torch.Tensor) -> None:
        """Which formula the model's own loss applies (own_loss.py), from one eval-mode forward pass."""
        self._label_length = int(y.shape[1]) if y.dim() >= 2 else -1
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                raw = self._raw_forward(x, labels=y)
                loss = raw.get("loss") if isinstance(raw, Mapping) else getattr(raw, "loss", None)
                out = select_output(raw, self.output, is_tensor=lambda v: isinstance(v, torch.Tensor))
                if isinstance(loss, torch.Tensor) and isinstance(out, torch.Tensor):
                    self._alignment = own_loss.alignment(loss, out, y)
        except Exception:  # a forward that fails here fails again, with its causes, where a check runs it
            self._alignment = None
        finally:
            self.model.train(was_training)

    def _aligned(self, y: Any) -> Any:
        """Labels as the model's own loss pairs them with outputs (shifted for a causal LM)."""
        if (self._alignment == "next position" and y is not None and getattr(y, "ndim", 0) >= 2
                and y.shape[1] == self._label_length):
            return y[:, 1:]
        return y

    def labels(self, batch: tuple[Any, Any]) -> np.ndarray:
        return as_numpy(self._aligned(batch[1]))

    def inputs(self, batch: tuple[Any, Any]) -> np.ndarray | None:
        x = batch[0]
        return as_numpy(x) if isinstance(x, torch.Tensor) else None

    # -- steps ----------------------------------------------------------------------------
    def _raw_forward(self, x: Any, **extra: Any) -> Any:
        args: tuple = (x,)
        kwargs: dict = {}
        if isinstance(x, Mapping):
            args, kwargs = (), dict(x)
        elif isinstance(x, (tuple, list)):
            args = tuple(x)
        with self._writes():
            return call_user("the model's forward pass", self.model, *args, **kwargs, **extra)

    def _forward(self, x: Any) -> Any:
        return select_output(self._raw_forward(x), self.output, is_tensor=lambda v: isinstance(v, torch.Tensor))

    def _loss_tensor(self, x: Any, y: Any) -> Any:
        """The loss of one batch: the user's loss_fn on the selected output, or the loss the model
        computes itself from ``labels=``, or a LightningModule's training_step loss."""
        if self._step_loss:
            return training_loss(self.model, lightning_batch(x, y), self._steps)
        if not self._own_loss:
            out = self._forward(x)
            with self._writes():
                try:
                    return call_user("loss_fn", self.loss_fn, out, y)
                except UserCodeError as err:  # say whether it raised on non-finite outputs
                    if isinstance(out, torch.Tensor) and out.is_floating_point():
                        bad = int((~torch.isfinite(out.detach())).sum())
                        if bad:
                            err.nonfinite_outputs = (bad, out.numel())
                    raise
        raw = self._raw_forward(x, labels=y)
        loss = raw.get("loss") if isinstance(raw, Mapping) else getattr(raw, "loss", None)
        if loss is None:
            raise usage("loss_fn", "a loss: the model computed none from labels=",
                        fix="pass loss_fn=, or give the model labels it computes a loss from")
        return loss

    def train_step(self, batch: tuple[Any, Any]) -> float:
        self._own_gradients("a training step")
        x, y = batch
        if self.user_step is not None:
            self._watch_step_gradients()
            if self._user_optimizer is None:
                loss = call_user("train_step", self.user_step, self.model, self.optimizer, self.loss_fn, x, y)
            else:
                with self._user_optimizer.stepping(self.optimizer):
                    loss = call_user("train_step", self.user_step, self.model, self.optimizer, self.loss_fn, x, y)
                note = self._user_optimizer.note()
                if note:
                    self.optimizer_notes.append(note)
            self._copy_only("train_step")
            self._note_foreign(loss, batch)  # after the first step: a later one that moves them shows
            self._stepped()
            return scalar_loss(loss, "train_step")
        source = STEP if self._step_loss else "loss_fn"
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss_tensor(x, y)
        value = scalar_loss(loss, "training_step" if self._step_loss else "loss_fn")
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad):
            raise UserCodeError(source, RuntimeError(
                "the loss does not require grad: the graph from the parameters to the loss is cut "
                "(a detach, .item(), .numpy() or an integer op in forward or the loss)"))
        call_user("backward", loss.backward)
        self._copy_only("loss_fn")
        self._note_foreign(loss, batch)
        self.optimizer.step()
        self._stepped()
        return value

    def _note_foreign(self, loss: Any, batch: tuple[Any, Any]) -> None:
        """At the first step: the leaves of ``loss``'s graph outside the parameters, the loss's and the
        batch, with a copy of their values (none, for most models: nothing is copied)."""
        if self._foreign is None:
            self._foreign = _with_values(_graph_leaves(loss, self._known(batch)))

    def _known(self, batch: Any) -> set[int]:
        """The ids of the tensors a loss may reach and no optimizer of the model's misses: its parameters,
        the loss's own and the batch's."""
        known = {id(p) for p in self.model.parameters()} | {id(p) for p in self._loss_params}
        return known | {id(t) for t in _tensors_in(batch)}

    def note_foreign(self, batch: tuple[Any, Any]) -> None:
        """Before a lone step (gradients_flow with a step of the user's own): the loss's leaves outside
        the parameters and their values, read by one replay that leaves the draws and the buffers as
        they were, so the step sees what it would have."""
        if self._foreign is not None or self.model is None:
            return
        try:
            with self._buffers_kept(), self.same_draws(0), torch.enable_grad():
                self._note_foreign(self._loss_tensor(batch[0], batch[1]), batch)
        except Exception:  # noqa: BLE001 - a loss it cannot replay: the look says nothing either way
            self._foreign = {}

    @contextlib.contextmanager
    def _buffers_kept(self) -> Iterator[None]:
        """The model's buffers (running statistics a training-mode pass moves) put back after the block."""
        saved = [(b, b.detach().clone()) for b in self.model.buffers()]
        try:
            yield
        finally:
            with torch.no_grad(), self._writes():
                for buffer, value in saved:
                    buffer.copy_(value)

    def _copy_only(self, argument: str) -> None:
        """After a step or backward pass: the gradients reached the copy only (``Untouched`` refuses
        them on the user's module as they arrive; this catches one assigned to ``.grad``)."""
        if self._untouched is not None and self._untouched.reached():
            raise _reads_original(argument)

    def _stepped(self) -> None:
        """After an optimizer step: count it, and step configure_optimizers' "step" schedulers."""
        self._steps += 1
        if self._configured is not None:
            self._configured.after_step()

    def has_loss(self) -> bool:
        return self.loss_fn is not None or (self._own_loss and self._alignment is not None)

    def loss(self, batch: tuple[Any, Any], *, training: bool) -> float:
        """The loss on ``batch`` in train or eval mode, without an update (NaN when there is no loss_fn)."""
        if self.loss_fn is None and not self._own_loss and not self._step_loss:
            return float("nan")
        was_training = self.model.training
        self.model.train(training)
        try:
            with torch.no_grad():
                return scalar_loss(self._loss_tensor(batch[0], batch[1]), "loss_fn")
        finally:
            self.model.train(was_training)

    def penalty(self) -> float:
        return 0.0  # a weight penalty inside a torch loss is invisible to the adapter

    def traced_loss(self, batch: tuple[Any, Any]) -> float | None:
        return None  # the loss reads the outputs it is given, traced or not

    def loss_of(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> float:
        """The user's loss for given outputs on this batch's targets (NaN if it cannot say). A
        LightningModule's is its training_step run with forward's result replaced by ``outputs``."""
        if self._step_loss:
            return self._step_loss_of(outputs, batch)
        if self.loss_fn is None and self._own_loss and self._alignment is not None:
            try:
                with torch.no_grad():
                    out = torch.as_tensor(outputs, device=self.torch_device)
                    y = self._aligned(batch[1])
                    return scalar_loss(own_loss.loss(self._alignment, out, y), "the model's own loss")
            except Exception:
                return float("nan")
        if self.loss_fn is None:
            return float("nan")
        try:
            with torch.no_grad():
                out = torch.as_tensor(outputs, dtype=_float_dtype(self.model), device=self.torch_device)
                with self._writes():
                    return scalar_loss(self.loss_fn(out, batch[1]), "loss_fn")
        except Exception:
            return float("nan")

    def loss_reads_weights(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> bool:
        if self._step_loss or self.loss_fn is None:
            raise NotSupported("whether the loss reads the weights", "the loss is not a loss_fn=")
        out = torch.as_tensor(outputs, dtype=_float_dtype(self.model), device=self.torch_device)
        try:
            with torch.enable_grad(), self._writes():
                loss = self.loss_fn(out, batch[1])
        except Exception:
            return False
        return bool(torch.is_tensor(loss) and loss.requires_grad)

    def loss_gradient(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> np.ndarray:
        """d(loss_fn)/d(outputs) by the loss's own backward (a LightningModule's or the model's own
        loss is not differentiated so: NotSupported). A loss that raises on them gives NaN."""
        if self._step_loss or self.loss_fn is None:
            raise NotSupported("the loss's gradient at given outputs", "the loss is not a loss_fn=")
        out = torch.tensor(outputs, dtype=_float_dtype(self.model), device=self.torch_device, requires_grad=True)
        try:
            with torch.enable_grad(), self._writes():
                loss = self.loss_fn(out, batch[1])
                (grad,) = torch.autograd.grad(loss, out, allow_unused=True)
        except Exception:
            return np.full(outputs.shape, np.nan, dtype=np.float32)
        return np.zeros(outputs.shape, np.float32) if grad is None else grad.detach().float().cpu().numpy()

    def loss_broadcasts(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        if self._step_loss or self.loss_fn is None:
            raise NotSupported("seeing the operations inside the loss", "the loss is not a loss_fn=")
        watch = LossWatch()
        with watch:  # what is seen before a loss that raises still counts (loss_of gives NaN then)
            self.loss_of(outputs, batch)
        if watch.crossed:
            return watch.crossed
        loss_fn = self.loss_fn
        with self._writes():
            return elementwise_crossings(lambda out: loss_fn(out, batch[1]),
                                         torch.tensor(outputs, dtype=_float_dtype(self.model), device=self.torch_device))

    def _step_loss_of(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> float:
        if self.output is not None:  # forward returns more than the selected output: cannot stand in
            return float("nan")
        try:
            with torch.no_grad():
                out = torch.as_tensor(outputs, dtype=_float_dtype(self.model), device=self.torch_device)
                loss = loss_of_outputs(self.model, out, lightning_batch(*batch), self._steps)
                if loss is None:
                    return float("nan")
                self.sources["loss_from"] = LOSS_SOURCE
                return scalar_loss(loss, "training_step")
        except NoLoss:  # no loss at all is the defect itself, not a loss this probe cannot compute
            raise
        except Exception:
            return float("nan")

    def predict(self, batch: tuple[Any, Any]) -> np.ndarray:
        return self._outputs_in_mode(batch, training=False)

    def _outputs_in_mode(self, batch: tuple[Any, Any], *, training: bool) -> np.ndarray:
        """One forward pass without gradient in train or eval mode, the model's mode restored after."""
        was_training = self.model.training
        self.model.train(training)
        try:
            with torch.no_grad():
                out = self._forward(batch[0])
        finally:
            self.model.train(was_training)
        if self._alignment == "next position" and out.dim() >= 2:
            out = out[:, :-1]  # position t's outputs predict label t + 1
        return out.detach().float().cpu().numpy()

    def same_draws(self, seed: int) -> ContextManager[None]:
        return seeded_globals(seed)

    def float64_predictor(self) -> Callable[[Any], np.ndarray]:
        try:
            wide = copy.deepcopy(self.model, _graph_values(self.model)).double().eval()
            _rebind_views(wide)
        except Exception as exc:  # noqa: BLE001 - a model that will not copy or widen: no such look
            raise NotSupported("a float64 copy of the model", f"copying it raised {exc!r}") from None

        def predict(batch: tuple[Any, Any]) -> np.ndarray:
            x = batch[0]
            if not isinstance(x, torch.Tensor):
                raise NotSupported("a float64 copy of the model", "the inputs are not one tensor")
            try:
                with torch.no_grad():
                    out = select_output(call_user("the model", wide, x.double() if x.is_floating_point() else x),
                                        self.output, is_tensor=lambda v: isinstance(v, torch.Tensor))
            except UserCodeError as err:  # float32 written into the model's code, say
                raise NotSupported("a float64 copy of the model", str(err).splitlines()[0]) from None
            if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:  # autocast, a cast in forward
                raise NotSupported("a float64 copy of the model", "its outputs are not float64")
            if self._alignment == "next position" and out.dim() >= 2:
                out = out[:, :-1]
            return out.detach().cpu().numpy()

        return predict

    def gradients(self, batch: tuple[Any, Any]) -> dict[str, np.ndarray | None]:
        """Gradients of the loss on ``batch`` for each trainable parameter, without an update."""
        self._own_gradients("gradients of the parameters")
        x, y = batch
        self.model.zero_grad(set_to_none=True)
        loss = self._loss_tensor(x, y)
        scalar_loss(loss, "loss_fn")
        leaves = _graph_leaves(loss, self._known(batch))  # the structure outlives backward()
        self._graph_leaves = (batch, leaves)
        if self._foreign is None:
            self._foreign = _with_values(leaves)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            call_user("backward", loss.backward)
            self._copy_only("loss_fn")
        grads = _as_arrays({n: p.grad for n, p in self.model.named_parameters() if p.requires_grad})
        self.model.zero_grad(set_to_none=True)
        for p in self._loss_params:
            p.grad = None
        return grads

    def leftover_gradients(self, batch: tuple[Any, Any]) -> float:
        """(a tensor hook on a parameter runs before the new gradient is added to ``.grad``; what it
        saw there counts only once the gradient is accumulated into ``.grad`` — a step that takes
        its gradients with ``torch.autograd.grad`` and assigns them, as a port of a Keras
        ``GradientTape`` step does, adds nothing to what was left)"""
        self._own_gradients("watching the gradients")
        held = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        found: dict[int, float] = {}
        seen: dict[int, float] = {}  # what .grad held when the pass reached p, until it is accumulated
        accumulates = all(hasattr(p, "register_post_accumulate_grad_hook") for p in self.model.parameters())

        def watch(p: torch.nn.Parameter) -> Callable:
            def hook(grad: torch.Tensor) -> None:
                if id(p) not in found and id(p) not in seen:  # the step's first pass to reach p: a second may add
                    seen[id(p)] = 0.0 if p.grad is None else float(p.grad.detach().double().pow(2).sum())
                    if not accumulates:  # no way to tell an accumulating pass: count it, as before
                        found[id(p)] = seen[id(p)]
            return hook

        def accumulated(p: torch.nn.Parameter) -> None:
            if id(p) in seen and id(p) not in found:
                found[id(p)] = seen[id(p)]

        watched = [p for p in self.model.parameters() if p.requires_grad and id(p) in held]
        handles = [p.register_hook(watch(p)) for p in watched]
        if accumulates:
            handles += [p.register_post_accumulate_grad_hook(accumulated) for p in watched]
        try:
            self.train_step(batch)
        finally:
            for handle in handles:
                handle.remove()
        return sum(found.values()) ** 0.5

    def step_gradients(self) -> dict[str, np.ndarray | None]:
        """The gradients the last step applied to each trainable parameter (None where there is
        none): those its optimizer.step() saw, where the user's step called it — a step that clears
        the gradients after updating (``optimizer.step(); optimizer.zero_grad()``, labml's order)
        leaves none on the parameters — else those left on the parameters."""
        seen = self._at_step[0] if self._at_step is not None else None
        return _as_arrays(seen if seen is not None else
                          {n: p.grad for n, p in self.model.named_parameters() if p.requires_grad})

    def _watch_step_gradients(self) -> None:
        """Before a call of the user's step: forget the last step's gradients, and (once) hook the
        optimizer to hold the ones each optimizer.step() sees — references, not copies: the next call
        drops them before the user's step runs, so no gradient outlives the step that made it. The hook
        holds a box, not the session (no reference cycle)."""
        if self._at_step is None:
            if self.optimizer is None or not hasattr(self.optimizer, "register_step_pre_hook"):
                return
            box: list[dict[str, torch.Tensor | None] | None] = [None]
            named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
            self.optimizer.register_step_pre_hook(lambda *_: box.__setitem__(0, {n: p.grad for n, p in named}))
            self._at_step = box
        self._at_step[0] = None

    def input_gradient(self, batch: tuple[Any, Any], index: int) -> np.ndarray | None:
        """d(sum of output ``index``)/d(inputs) in eval mode; for id inputs, at the outputs of the
        lookups reading them (:meth:`_lookup_gradient`); None for structured inputs."""
        x = batch[0]
        if not isinstance(x, torch.Tensor):
            return None
        if not x.is_floating_point():
            return self._lookup_gradient(x, index)
        watched = x.detach().clone().requires_grad_(True)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad(), _eval_backward():
                out = self._forward(watched.clone())  # a model writing into its input writes into no leaf
                if not out.requires_grad:
                    return None
                (grad,) = torch.autograd.grad(out[index].sum(), watched, allow_unused=True)
        finally:
            self.model.train(was_training)
        return np.zeros(tuple(x.shape), np.float32) if grad is None else grad.detach().float().cpu().numpy()

    def _lookup_gradient(self, x: torch.Tensor, index: int) -> np.ndarray | None:
        """Ids have no gradient; the vectors an ``nn.Embedding`` looks up for them do. Each lookup
        whose ids are the inputs' own, one sample per slice along one axis, and follow the samples
        when the batch is reversed (:func:`lookup_axes`: a position table's ``arange(T)`` does not),
        has its output replaced by a leaf for one eval-mode call; returned: d(sum of output
        ``index``)/d(those leaves), laid out (samples, -1). None where no lookup reads the inputs so,
        or the model will not run so (a table cached under inference mode)."""
        n = int(x.shape[0]) if x.ndim else 0
        lookups = [m for m in self.model.modules() if isinstance(m, torch.nn.Embedding)]
        if not lookups or n < 2:
            return None
        calls: list[np.ndarray] = []  # each lookup call's ids, in call order

        def record(module: torch.nn.Module, args: tuple) -> None:
            calls.append(as_numpy(args[0]) if args and isinstance(args[0], torch.Tensor) else np.empty(0))

        was_training = self.model.training
        self.model.eval()
        hooks = [m.register_forward_pre_hook(record) for m in lookups]
        try:
            with torch.no_grad():
                self._forward(x)
                reference = list(calls)
                calls.clear()
                self._forward(x.flip(0))
        except UserCodeError:
            return None
        finally:
            for handle in hooks:
                handle.remove()
            self.model.train(was_training)
        axes = lookup_axes(reference, calls, as_numpy(x).reshape(n, -1))
        if not any(a is not None for a in axes):
            return None
        seen = iter(range(len(axes)))
        leaves: list[tuple[int, torch.Tensor]] = []

        def swap(module: torch.nn.Module, args: tuple, output: Any) -> Any:
            call = next(seen, None)
            axis = None if call is None else axes[call]
            if axis is None or not (isinstance(output, torch.Tensor) and output.is_floating_point()):
                return None
            leaf = output.detach().requires_grad_(True)
            leaves.append((axis, leaf))
            return leaf.clone()  # the model may write into what the lookup gave (x += position codes): not into a leaf

        hooks = [m.register_forward_hook(swap) for m in lookups]
        self.model.eval()
        try:
            with torch.enable_grad(), _eval_backward():
                out = self._forward(x)
        except UserCodeError:  # the model ran before without the swapped outputs: no look, not the model's fault
            return None
        finally:
            for handle in hooks:
                handle.remove()
            self.model.train(was_training)
        if not leaves or not isinstance(out, torch.Tensor) or not out.requires_grad:
            return None
        grads = torch.autograd.grad(out[index].sum(), [leaf for _, leaf in leaves], allow_unused=True)
        parts = [(torch.zeros_like(leaf) if g is None else g).detach().movedim(axis, 0).reshape(n, -1)
                 for (axis, leaf), g in zip(leaves, grads)]
        return torch.cat(parts, dim=1).float().cpu().numpy()

    def weighted_layer_inputs(self, batch: tuple[Any, Any], *, training: bool) -> list[tuple[str, np.ndarray]]:
        """What reaches each module holding a weight matrix or kernel (a parameter of 2+
        dimensions: linear, conv, embedding), in call order, in train or eval mode."""
        seen: list[tuple[str, np.ndarray]] = []

        def recorder(name: str) -> Callable:
            def record(module: torch.nn.Module, args: tuple) -> None:
                if args and isinstance(args[0], torch.Tensor):
                    seen.append((name, as_numpy(args[0]).copy()))
            return record

        self._hooked_forward(batch[0], [m.register_forward_pre_hook(recorder(n)) for n, m in self.model.named_modules()
                                        if any(p.ndim >= 2 for p in m.parameters(recurse=False))], training=training)
        return seen

    def _hooked_forward(self, x: Any, hooks: list[Any], *, training: bool) -> None:
        """One forward pass without gradients in train or eval mode; the ``hooks`` (handles) are
        removed and the mode restored after it."""
        was_training = self.model.training
        self.model.train(training)
        try:
            with torch.no_grad():
                self._forward(x)
        finally:
            self.model.train(was_training)
            for hook in hooks:
                hook.remove()

    def negated_head(self, batch: tuple[Any, Any]) -> np.ndarray | None:
        """(Only a leaf module of a kind that applies no activation of its own — linear, convolution,
        lookup — is read as the head, its float output negated by a forward hook: an activation is a
        module or a function after it in torch, so what follows sees the negated pre-activation. A
        custom module or a container may apply one inside: None where the last weighted call is one)"""
        order = [name for name, _ in self.weighted_layer_inputs(batch, training=False)]
        head = self.model.get_submodule(order[-1]) if order and order[-1] else None
        if not isinstance(head, _PRE_ACTIVATION):
            return None
        handle = head.register_forward_hook(
            lambda module, args, out: -out if isinstance(out, torch.Tensor) and out.is_floating_point() else None)
        try:
            return self.predict(batch)
        finally:
            handle.remove()

    def shifted_loss(self, batch: tuple[Any, Any], name: str, shift: np.ndarray, seed: int) -> float:
        param = dict(self.model.named_parameters()).get(name)
        if param is None:
            raise NotSupported("moving a parameter", f"{name!r} is no parameter of the model")
        saved = param.detach().clone()
        with self._buffers_kept():
            try:
                with torch.no_grad(), self._writes():
                    param.add_(torch.as_tensor(shift).to(param.device, param.dtype))
                with self.same_draws(seed):
                    return self.loss(batch, training=True)
            finally:
                with torch.no_grad(), self._writes():
                    param.copy_(saved)

    def noisy_outputs(self, batch: tuple[Any, Any], names: list[str], seed: int,
                      redrawn: tuple[str, ...] = (), gain: float = 1.0) -> np.ndarray | None:
        """(A parameter's owner is the module its dotted name ends in; the noise is added by a forward
        hook to the module's output, or to the first tensor of a tuple it returns: an activation is a
        module or a function after it in torch, so that output is a pre-activation)"""
        params = dict(self.model.named_parameters())
        owners: dict[int, torch.nn.Module] = {}
        owner_of: dict[str, int] = {}
        for name in names:
            path = name.rpartition(".")[0]
            try:
                module = self.model.get_submodule(path) if path and name in params else None
            except AttributeError:
                module = None
            if module is None:
                return None
            owners[id(module)] = module
            owner_of[name] = id(module)
        again = {owner_of[name] for name in redrawn if name in owner_of}
        streams = {key: np.random.default_rng([seed, k, int(key in again)]) for k, key in enumerate(owners)}
        refused: list[torch.nn.Module] = []

        def add(rng: np.random.Generator) -> Callable:
            def hook(module: torch.nn.Module, args: tuple, out: Any) -> Any:
                first = first_output(out)
                if not (isinstance(first, torch.Tensor) and first.is_floating_point()):
                    refused.append(module)
                    return None
                noise = torch.from_numpy(noise_like(as_numpy(first), rng, gain)).to(first.device, first.dtype)
                return with_first(out, first + noise)
            return hook

        saved = {name: params[name].detach().clone() for name in names}
        hooks = []
        try:
            with torch.no_grad(), self._writes():
                for name in names:
                    p = params[name]
                    noise = noise_like(as_numpy(p), streams[owner_of[name]], gain)
                    p.add_(torch.from_numpy(noise).to(p.device, p.dtype))
            hooks = [module.register_forward_hook(add(streams[key])) for key, module in owners.items()]
            out = self.predict(batch)
        finally:
            for hook in hooks:
                hook.remove()
            with torch.no_grad(), self._writes():
                for name, value in saved.items():
                    params[name].copy_(value)
        return None if refused else out

    def stacked_dense(self, batch: tuple[Any, Any]) -> list[tuple[str, str, int, int, int]]:
        """(Linear modules; a tensor is passed on unchanged when the second module receives the
        first one's output storage with its values as they were output: a view, a flatten or
        eval-mode dropout, never an in-place activation or a new tensor of equal values)"""
        outputs: list[tuple[str, torch.nn.Module, torch.Tensor, torch.Tensor]] = []
        pairs: list[tuple[str, str, int, int, int]] = []

        def recorder(name: str) -> Callable:
            def record(module: torch.nn.Module, args: tuple, out: Any) -> None:
                if not (args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor)):
                    return
                x = args[0]
                pairs.extend((before, name, first.in_features, first.out_features, module.out_features)
                             for before, first, kept, value in outputs
                             if first is not module and kept.data_ptr() == x.data_ptr()
                             and kept.numel() == x.numel() and torch.equal(value.reshape(-1), x.reshape(-1)))
                # the output itself is kept so that its storage is not reused by a later tensor
                outputs.append((name, module, out, out.detach().clone()))
            return record

        self._hooked_forward(batch[0], [m.register_forward_hook(recorder(n)) for n, m in self.model.named_modules()
                                        if isinstance(m, torch.nn.Linear)], training=False)
        return pairs

    def rescale_layers(self, batch: tuple[Any, Any]) -> list[float]:
        """Scale each weighted module's matrices (linear, conv; not lookups), in call order, so what
        it outputs on the batch in eval mode has unit standard deviation (layer-sequential unit
        variance, a probe on a fresh session); each one's between-sample spread before any scaling."""
        weighted = [m for m in self.model.modules() if not isinstance(m, torch.nn.Embedding)
                    and any(p.ndim >= 2 for p in m.parameters(recurse=False))]
        outputs: dict[int, torch.Tensor] = {}

        def record(module: torch.nn.Module, args: tuple, out: Any) -> None:
            out = first_output(out)
            if isinstance(out, torch.Tensor) and id(module) not in outputs:
                outputs[id(module)] = out.detach().float()

        def outputs_now() -> dict[int, np.ndarray]:
            outputs.clear()
            with torch.no_grad():
                self._forward(batch[0])
            return {key: as_numpy(out).astype(np.float64) for key, out in outputs.items()}

        def divide(key: int, std: float) -> None:
            with torch.no_grad(), self._writes():
                for p in by_id[key].parameters(recurse=False):
                    if p.ndim >= 2:
                        p.div_(std)

        by_id = {id(m): m for m in weighted}
        hooks = [m.register_forward_hook(record) for m in weighted]
        was_training = self.model.training
        self.model.eval()
        try:
            return unit_variance(outputs_now, divide)
        finally:
            self.model.train(was_training)
            for hook in hooks:
                hook.remove()

    def weighted_inputs(self, batch: tuple[Any, Any]) -> list[tuple[str, np.ndarray, bool]]:
        """(torch lookups take integer ids)"""
        return [(name, value, bool(np.issubdtype(value.dtype, np.integer)))
                for name, value in self.weighted_layer_inputs(batch, training=True)]

    def clear_gradients(self) -> None:
        self._own_gradients("clearing the gradients")
        for p in list(self.model.parameters()) + self._loss_params:
            p.grad = None

    def steps_own_code(self) -> bool:
        return self.user_step is not None

    def optimizer_steps(self) -> int:
        if self._step_count is None:  # a counter the hook holds, not the session: no reference cycle
            counter = self._step_count = [0]
            self.optimizer.register_step_post_hook(lambda *_: counter.__setitem__(0, counter[0] + 1))
        return self._step_count[0]

    def gradient_norm(self) -> float:
        total = 0.0
        for p in self.model.parameters():
            if p.grad is not None:
                total += float(p.grad.detach().double().pow(2).sum())
        return total ** 0.5

    def shed(self) -> None:
        self._graph_leaves = None  # (the first step's values of tensors outside the model stay: read after a run)
        if self._inplace is not None or self.model is None:  # the user's module: nothing of ours on it
            return
        for p in [*self.model.parameters(), *self._loss_params]:
            p.grad = None
        if self.optimizer is not None:
            self.optimizer.state.clear()

    def release(self) -> None:
        if self._inplace is not None or self.model is None:  # the user's module: never emptied
            return
        self.shed()
        # the optimizer and the copy's modules still hold these tensors: empty them in place
        for t in [*self.model.parameters(), *self.model.buffers(), *self._loss_params]:
            t.data = torch.empty(0, dtype=t.dtype, device=t.device)

    @critical
    def close(self) -> None:
        """Drop the copy (or put the user's module back as found) and restore every global
        generator (idempotent). Nothing of the model is kept: no copy, optimizer state or gradient."""
        restores = [r.restore for r in (self._inplace, self._untouched, self._user_optimizer) if r is not None]
        self._guard.end(*restores)
        self.model = None  # type: ignore[assignment]
        self.loss_fn = None
        self.optimizer = None  # type: ignore[assignment]
        self._configured = None
        self._copy_of = {}
        self._loss_params = []
        self._inplace = None
        self._untouched = None
        self._user_optimizer = None

    def _writes(self) -> Any:
        """Where the user's code may write into the module: watched on the user's module itself."""
        return self._inplace.mode if self._inplace is not None else contextlib.nullcontext()

    def _own_gradients(self, what: str) -> None:
        """Gradients land on the parameters: never on the user's module (an inference session)."""
        if self._inplace is not None:
            raise NotSupported(what, "an inference session runs the user's module itself, whose gradients "
                                     "are the user's")


user_boundary(TorchSession.__init__)  # it runs the user's deepcopy and optimizer factory


def _tensors_in(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _held_names(model: torch.nn.Module) -> dict[int, str]:
    """Where each tensor hides that a module holds in a plain list, tuple or dict attribute (as
    ``hids[0].0.weight``), by id; registered parameters have their own names already."""
    names: dict[int, str] = {}
    internal = set(vars(torch.nn.Module()))  # the module's own registries and hooks, not the user's
    for prefix, module in model.named_modules():
        for attr, value in vars(module).items():
            if attr in internal or not isinstance(value, (list, tuple, dict)):
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                where = f"{prefix + '.' if prefix else ''}{attr}[{key!r}]"
                if isinstance(item, torch.nn.Module):
                    for name, p in item.named_parameters():
                        names.setdefault(id(p), f"{where}.{name}")
                elif isinstance(item, torch.Tensor):
                    names.setdefault(id(item), where)
    return names


class TorchBackend:
    def weights_under(self, model: Any, parts: Any, *, argument: str) -> dict[str, str]:
        used = {id(p): n for n, p in model.named_parameters()}  # the names a session reports
        names = {n: used[id(p)] for n, p in model.named_parameters(remove_duplicate=False)}  # aliases too
        modules = {id(m): n for n, m in model.named_modules()}
        by_name = {n: m for n, m in model.named_modules(remove_duplicate=False) if n}
        state = {id(b) for b in model.buffers()}

        def of_module(module: torch.nn.Module, label: str) -> dict[str, str]:
            return {used[id(p)]: label for p in module.parameters() if id(p) in used}

        def of_object(part: Any) -> dict[str, str] | None:
            if isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str):
                part = part[1]  # a (name, parameter) pair of named_parameters(): its name is the module's own
            if isinstance(part, torch.Tensor):
                if id(part) in state:
                    raise usage(argument, "modules or parameters (weights) of the model", part,
                                fix="This is a buffer (state such as BatchNorm's running statistics, which a "
                                    "training step may change); pass the module or its parameters")
                return {used[id(part)]: used[id(part)]} if id(part) in used else None
            if isinstance(part, torch.nn.Module):
                return of_module(part, modules[id(part)] or type(part).__name__) if id(part) in modules else None
            raise usage(argument, "a module or parameter of the model, a module's name, a prefix of parameter "
                                  "names, or a list of these", part)

        def of_name(name: str) -> dict[str, str] | None:
            return of_module(by_name[name], name) if name in by_name else None

        return weights_under(parts, names, ".", of_object, of_name, argument=argument, kinds="modules or parameters")

    @critical  # the return from the constructor, before the caller holds the session, is not interruptible
    def open(self, model: Any, *, within: Session | None = None, **kwargs: Any) -> Session:
        return TorchSession(model, **kwargs)  # a trained copy needs nothing from an enclosing session


def _eval_backward() -> ContextManager[None]:
    """cuDNN's recurrent layers take no backward pass in eval mode ("cudnn RNN backward can only be
    called in training mode"); PyTorch's own kernels do, so a probe of eval-mode gradients runs
    without cuDNN (nothing changes on a CPU)."""
    return torch.backends.cudnn.flags(enabled=False)


def _graph_leaves(loss: Any, known: set[int]) -> dict[int, torch.Tensor]:
    """The leaves (AccumulateGrad nodes' tensors) of ``loss``'s autograd graph not in ``known``, by id."""
    if not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
        return {}
    found: dict[int, torch.Tensor] = {}
    stack, seen = [loss.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        leaf = getattr(fn, "variable", None)
        if isinstance(leaf, torch.Tensor) and id(leaf) not in known:
            found[id(leaf)] = leaf
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return found


def _with_values(leaves: dict[int, torch.Tensor]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Each tensor beside a copy of its values now."""
    return {i: (t, t.detach().clone()) for i, t in leaves.items()}


def _same_values(before: torch.Tensor, now: torch.Tensor) -> bool:
    """Whether ``now`` holds the values ``before`` copied (shape, and every element, NaN where NaN)."""
    now = now.detach()
    return before.shape == now.shape and bool(torch.equal(before, now) or torch.allclose(
        before, now, rtol=0, atol=0, equal_nan=True))
