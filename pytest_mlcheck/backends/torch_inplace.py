"""Inference on the user's own torch module, without a copy: what it could change is put back.

An inference session needs no second copy of the weights. It runs the user's module itself and
restores, when it closes, all a forward pass can change:

- every tensor of the module (parameter or buffer) that an operation writes into: a dispatch mode
  sees each ATen op that mutates an argument (a BatchNorm's running statistics in training mode,
  an ``Embedding(max_norm=...)`` renormalising its rows, a forward writing into ``.data``) and saves
  that tensor before the first write, on the host (copy on write: nothing is saved for a forward
  that writes nothing, which in eval mode is every common layer);
- each module's attributes as bound (``training`` flags, a momentum, a counter rebound in forward,
  an attribute added), its registered parameters, buffers and submodules, and the storage behind
  each parameter and buffer (``p.data = ...``).

A mutation the snapshot cannot see (an item appended to a Python list the module holds) is out of
its reach; so are hooks, whose closures belong to the user: a module with hooks (or compiled or
scripted) is copied instead (``usable``). The restore is idempotent and critical (``interrupts``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from pytest_mlcheck.backends.interrupts import critical

_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
# ATen op -> the (position, name) of each argument it writes into; computed once per op
_WRITTEN: dict[Any, tuple[tuple[int, str], ...]] = {}


def _modules(*objects: Any) -> list[torch.nn.Module]:
    found: dict[int, torch.nn.Module] = {}
    for obj in objects:
        if isinstance(obj, torch.nn.Module):
            for module in obj.modules():
                found.setdefault(id(module), module)
    return list(found.values())


def usable(model: torch.nn.Module, loss_fn: Any, device: torch.device) -> bool:
    """Whether inference can run on ``model`` itself: every tensor already on ``device`` (moving
    it would change the user's module), no hooks, not scripted or compiled."""
    if isinstance(model, torch.jit.ScriptModule) or type(model).__name__ == "OptimizedModule":
        return False
    for module in _modules(model, loss_fn):
        if any(getattr(module, name, None) for name in _HOOKS):
            return False
        for tensor in list(module._parameters.values()) + list(module._buffers.values()):
            if tensor is None:
                continue
            if isinstance(tensor, torch.nn.parameter.UninitializedParameter) or tensor.device != device:
                return False
    return True


def _storage(tensor: torch.Tensor) -> int | None:
    try:
        return tensor.untyped_storage().data_ptr() or None
    except Exception:  # sparse, nested or meta tensors have no plain storage
        return None


def _written(func: Any) -> tuple[tuple[int, str], ...]:
    """The arguments ``func`` may write into: those its schema marks as written, and the running
    statistics of a batch-norm kernel with a ``training`` flag (``native_batch_norm``, the cuDNN
    and MIOpen kernels update them though their schemas do not say so)."""
    written = _WRITTEN.get(func)
    if written is None:
        arguments = list(getattr(getattr(func, "_schema", None), "arguments", ()))
        updates_stats = any(a.name == "training" for a in arguments)
        written = tuple((i, a.name) for i, a in enumerate(arguments)
                        if (a.alias_info is not None and a.alias_info.is_write)
                        or (updates_stats and a.name in ("running_mean", "running_var")))
        _WRITTEN[func] = written
    return written


class _CopyOnWrite(TorchDispatchMode):
    """Saves a watched tensor (on the host) before the first op that writes into its storage."""

    def __init__(self, owner: InPlace) -> None:
        super().__init__()
        self.owner = owner

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        for position, name in _written(func):
            value = args[position] if position < len(args) else kwargs.get(name)
            for tensor in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(tensor, torch.Tensor):
                    self.owner.save(tensor)
        return func(*args, **kwargs)


class InPlace:
    """What a forward pass on the user's module could change, captured cheaply at construction
    (references and attribute bindings; no tensor is copied) and put back by ``restore``."""

    def __init__(self, model: torch.nn.Module, loss_fn: Any) -> None:
        self._modules = _modules(model, loss_fn)
        self._attributes = [(m, dict(vars(m))) for m in self._modules]
        self._registered = [(m, dict(m._parameters), dict(m._buffers), dict(m._modules)) for m in self._modules]
        self._data: list[tuple[torch.Tensor, torch.Tensor]] = []  # (parameter or buffer, its data as found)
        self._watched: dict[int, list[torch.Tensor]] = {}  # storage -> the tensors on it, as found
        for _, params, buffers, _ in self._registered:
            for tensor in list(params.values()) + list(buffers.values()):
                if tensor is None:
                    continue
                data = tensor.data
                self._data.append((tensor, data))
                key = _storage(data)
                if key is not None and not any(t is data for t in self._watched.get(key, [])):
                    self._watched.setdefault(key, []).append(data)
        self._saved: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.mode = _CopyOnWrite(self)

    def save(self, tensor: torch.Tensor) -> None:
        """Before a write into ``tensor``: keep a host copy of each watched tensor on its storage."""
        key = _storage(tensor)
        if key is None or key in self._saved or key not in self._watched:
            return
        self._saved[key] = [(t, t.detach().to("cpu", copy=True)) for t in self._watched[key]]

    def saved_bytes(self) -> int:
        return sum(c.numel() * c.element_size() for pairs in self._saved.values() for _, c in pairs)

    @critical
    def restore(self) -> None:
        """Put back attributes, registrations, storages and written values (idempotent)."""
        for module, attributes in self._attributes:
            current = vars(module)
            for key in [k for k in current if k not in attributes]:
                del current[key]
            for key, value in attributes.items():
                if current.get(key, self) is not value:
                    current[key] = value
        for module, params, buffers, children in self._registered:
            for live, found in ((module._parameters, params), (module._buffers, buffers), (module._modules, children)):
                if live.keys() != found.keys() or any(live[k] is not v for k, v in found.items()):
                    live.clear()
                    live.update(found)
        with torch.no_grad():
            for tensor, data in self._data:
                if tensor.data.data_ptr() != data.data_ptr() or tensor.data.shape != data.shape:
                    tensor.data = data
            for pairs in self._saved.values():
                for target, value in pairs:
                    target.copy_(value)  # through .data: no version bump, no autograd record


class Untouched:
    """The user's module while the check trains a copy of it. The user's loss or step may still read
    the original (an object holding it, a helper reading it as a global, a bound method of another
    object): a backward pass would accumulate into the user's ``.grad`` and the user's own optimizer
    could step it, and a training-mode forward would move its BatchNorm statistics. So for the session
    each parameter that requires grad carries a hook that raises ``refusal()`` the moment a gradient
    reaches it (before anything accumulates or steps), each gradient is set aside (the original starts
    with none), each buffer is replaced by a copy of itself, and module attributes are captured as
    bound; ``restore`` removes the hooks and puts back the user's own tensors, gradients and
    attributes. Parameters in ``copies`` (a copy that shares them with the original) get no hook."""

    def __init__(self, model: torch.nn.Module, loss_fn: Any, *, copies: set[int],
                 refusal: Callable[[], BaseException]) -> None:
        self._bindings = InPlace(model, loss_fn)  # references only: attributes, registrations, storages
        self._grads: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        self._hooks: list[Any] = []

        def refuse(grad: torch.Tensor) -> None:
            raise refusal()

        seen: set[int] = set()
        try:
            for module in _modules(model, loss_fn):
                for tensor in module._parameters.values():
                    if tensor is None or id(tensor) in seen or id(tensor) in copies:
                        continue
                    seen.add(id(tensor))
                    self._grads.append((tensor, tensor.grad))
                    tensor.grad = None
                    if tensor.requires_grad:
                        self._hooks.append(tensor.register_hook(refuse))
                for name, tensor in module._buffers.items():
                    if tensor is not None:
                        module._buffers[name] = tensor.detach().clone()  # the registration is restored
        except BaseException:
            self.restore()
            raise

    def reached(self) -> bool:
        """Whether a gradient was put onto the user's parameters since the start (past the hooks: an
        assignment to ``.grad``)."""
        return any(tensor.grad is not None for tensor, _ in self._grads)

    @critical
    def restore(self) -> None:
        """Remove the hooks; put back the user's buffers, attributes and gradients (idempotent)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self._bindings.restore()
        for tensor, grad in self._grads:
            if tensor.grad is not grad:
                tensor.grad = grad
