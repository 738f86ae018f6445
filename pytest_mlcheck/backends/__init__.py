"""Framework adapters. A framework is touched only when it is already in ``sys.modules``."""

from __future__ import annotations

import inspect
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pytest_mlcheck.errors import DeviceUnavailable, usage

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Backend


def is_torch_model(obj: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_keras_model(obj: object) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def gpu_index(device: str, count: int, sees: str, default: int = 0) -> int:
    """The index of GPU ``device`` ("cuda", "cuda:N") among the ``count`` that ``sees`` (a framework's
    name) has, or DeviceUnavailable saying so: the one error every Keras adapter gives."""
    index = int(device.split(":")[1]) if ":" in device else worker_device_index(count, default)
    if index >= count:
        raise DeviceUnavailable(
            f"device: {device!r} was asked for (--mlcheck-gpu, --mlcheck-device or device=) but {sees} sees "
            f"{count} GPU(s); run without --mlcheck-gpu, or on a machine where {sees} has a GPU")
    return index


def worker_device_index(count: int, default: int) -> int:
    """The GPU of a plain ``cuda`` device: under pytest-xdist worker ``gwN`` takes GPU N mod
    ``count``, so workers spread over the devices; otherwise ``default``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if count > 0 and worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) % count
    return default


def framework_of(model: object) -> str | None:
    """'keras' or 'torch' for a model either framework claims (None otherwise): which fix text to show."""
    if is_keras_model(model):
        return "keras"
    return "torch" if is_torch_model(model) else None


def backend_for(model: object, *, argument: str = "model") -> Backend:
    """Return the adapter for ``model``; a usage error when no framework claims it."""
    if is_keras_model(model):  # first: on the torch backend a keras.Model is also an nn.Module
        import keras

        name = keras.backend.backend()
        if name == "tensorflow":
            from pytest_mlcheck.backends.keras_backend import KerasBackend

            return KerasBackend()
        if name == "jax":
            from pytest_mlcheck.backends.keras_jax import KerasJaxBackend

            return KerasJaxBackend()
        if name == "torch":
            from pytest_mlcheck.backends.keras_torch import KerasTorchBackend

            return KerasTorchBackend()
        raise usage(argument, "a Keras model on the TensorFlow, JAX or torch backend", model,
                    fix=f"KERAS_BACKEND is {name!r}, which has no gradients to check; set KERAS_BACKEND to "
                        "tensorflow (the default), jax or torch before Keras is first imported")
    if is_torch_model(model):
        from pytest_mlcheck.backends.torch_backend import TorchBackend

        return TorchBackend()
    raise usage(argument, "a torch.nn.Module or a keras.Model", model,
                fix="Pass the model object itself, not its class or output")


def weights_under(parts: Any, names: dict[str, str], seps: str, of_object: Callable[[Any], dict[str, str] | None],
                  of_name: Callable[[str], dict[str, str] | None], *, argument: str, kinds: str) -> dict[str, str]:
    """The names (as a session's ``parameter_values`` and ``frozen_values`` give them) of the weights
    under ``parts`` — one part, or a list, tuple, set or generator of them: the name of a module or
    layer (``of_name``), a prefix of the weights' names (``names``: every name a weight is reached by,
    aliases included, to the one the session uses) ending at one of ``seps``, or an object of the
    model that ``of_object`` resolves (None: not the model's) — each with a label for messages. A
    prefix that matches no weight, an object that is not the model's, or parts that hold no weight at
    all are usage errors: a typo would otherwise pass the check it was meant to tighten."""
    many = isinstance(parts, (list, tuple, set, frozenset)) or inspect.isgenerator(parts)
    found: dict[str, str] = {}
    for part in list(parts) if many else [parts]:
        if isinstance(part, str):
            stem = part.rstrip(seps)
            hit = of_name(stem) if stem else None
            if hit is None:
                hit = {used: part for n, used in names.items()
                       if stem and (n == stem or any(n.startswith(stem + sep) for sep in seps))}
            if not hit:
                raise usage(argument, f"{kinds} of the model, their names, or a prefix of their weights' names", part,
                            fix=f"No layer is named so and no weight's name starts with it; the model's are named "
                                f"like {', '.join(list(names)[:4])}")
        else:
            hit = of_object(part)
            if hit is None:
                raise usage(argument, f"{kinds} of the model itself, their names, or a prefix of their weights' names",
                            part, fix="Pass a part of the model the check is given (not of another instance)")
        found.update(hit)
    if not found:  # a part without weights in a list (an activation among the backbone's children) is fine
        raise usage(argument, f"{kinds} holding weights", parts, fix="It holds no weights to keep frozen")
    return found


def scalar_loss(loss: Any, source: str) -> float:
    """A loss returned by the user's code as a float; a usage error unless it is one number."""
    if hasattr(loss, "shape"):
        array = as_numpy(loss)
        if array.size != 1:
            raise usage(source, "a scalar loss", loss,
                        fix="Reduce it to one number (a mean, e.g. reduction='mean') before returning it")
        return float(array.reshape(()))
    if isinstance(loss, (float, int, np.floating, np.integer)) and not isinstance(loss, bool):
        return float(loss)
    raise usage(source, "a scalar loss (a one-element tensor or a float)", loss)


def as_numpy(value: Any) -> np.ndarray:
    """Any framework's tensor, a numpy array, a scalar or a nested list, as a numpy array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach()
        if value.layout != torch.strided:  # sparse: densified for reading
            value = value.to_dense()
        if value.dtype == torch.bfloat16:  # numpy has no bfloat16: float32 for reading only
            value = value.float()
        return value.cpu().numpy()
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, tf.SparseTensor):
        return tf.sparse.to_dense(value).numpy()
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
        return value.numpy()
    return np.asarray(value)


def unit_variance(outputs_now: Callable[[], dict[int, np.ndarray]], divide: Callable[[int, float], None]) -> list[float]:
    """Layer-sequential unit variance, the one algorithm behind every adapter's ``rescale_layers``:
    ``outputs_now`` runs one eval-mode forward pass and returns each weighted layer's first output by
    key, in call order; ``divide`` divides that layer's weight matrices by a number. Each layer, in
    call order, is scaled so its output on the batch has unit standard deviation — after the layers
    before it were, so its own spread is read as it will be. Returns each layer's between-sample
    spread before any scaling, in call order."""
    given = outputs_now()
    spreads = [float(out.reshape(len(out), -1).std(0).mean()) if out.ndim else 0.0 for out in given.values()]
    for key in given:
        out = outputs_now().get(key)  # a layer a pass may skip: a branch the forward pass picks at random
        std = float(out.std()) if out is not None else float("nan")
        if np.isfinite(std) and std > 0:
            divide(key, std)
    return spreads


def first_output(out: Any) -> Any:
    """What a layer or module returned, or the first item of a tuple or list it returned (an LSTM's
    sequence beside its states): the output the probes read and move."""
    return out[0] if isinstance(out, (tuple, list)) and out else out


def with_first(out: Any, value: Any) -> Any:
    """``out`` with its first output (:func:`first_output`) replaced by ``value``, as a list or tuple
    where it was one."""
    if not (isinstance(out, (tuple, list)) and out):
        return value
    return [value, *out[1:]] if isinstance(out, list) else (value, *out[1:])


def noise_like(value: np.ndarray, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Normal noise shaped like ``value``, of ``gain`` × its root mean square (1 where that is 0 or
    not finite), in its dtype: what every adapter's ``noisy_outputs`` adds to a layer's output, large
    enough to wake units whose pre-activations sit below 0 by that much."""
    scale = float(np.sqrt(np.mean(np.square(value, dtype=np.float64)))) if value.size else 0.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    return rng.normal(0.0, scale * gain, value.shape).astype(value.dtype, copy=False)


def sample_axis(ids: np.ndarray, rows: np.ndarray) -> int | None:
    """The axis of a lookup's ``ids`` that runs over the samples whose ids are ``rows`` (samples,
    -1): the inputs themselves (axis 0), else the one axis of that length along which every sample's
    slice holds only ids of its own row (a time-major model transposes its ids; a decoder's lookup of
    tokens it generated reads others'). None where no axis, or more than one, reads so."""
    n = len(rows)
    if ids.ndim and ids.shape[0] == n and ids.size == rows.size and np.array_equal(ids.reshape(n, -1), rows):
        return 0

    def owns(axis: int) -> bool:
        per_sample = np.moveaxis(ids, axis, 0).reshape(n, -1)
        return all(np.isin(per_sample[k], rows[k]).all() for k in range(n))

    axes = [a for a in range(ids.ndim) if ids.shape[a] == n and owns(a)]
    return axes[0] if len(axes) == 1 else None


def lookup_axes(calls: list[np.ndarray], reversed_calls: list[np.ndarray], rows: np.ndarray) -> list[int | None]:
    """For each lookup call of one forward pass (``calls``: its ids, in call order), the axis that
    runs over the samples (:func:`sample_axis`), kept only where the same call of a pass over the
    batch reversed (``reversed_calls``) got those ids reversed along that axis: the ids follow the
    samples. A position table's ``arange(T)`` with T the number of samples does not (every
    permutation task's rows hold each position's id, so it passes :func:`sample_axis`); neither does
    a call whose pass took another path. None where a call reads no ids of the samples."""
    if len(calls) != len(reversed_calls):
        return [None] * len(calls)
    axes: list[int | None] = []
    for ids, flipped in zip(calls, reversed_calls):
        axis = sample_axis(ids, rows) if ids.size else None
        follows = axis is not None and flipped.shape == ids.shape and np.array_equal(flipped, np.flip(ids, axis))
        axes.append(axis if follows else None)
    return axes
