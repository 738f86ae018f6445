"""What a loss under JAX does with the outputs it scores, read from its jaxpr (traced, never run): the
Keras adapter on the JAX backend uses it as the TensorFlow adapter reads its traced graph."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.extend.core as jcore

from pytest_mlcheck.backends.base import Crossing

# jax.lax's elementwise primitives that take two or more operands of one shape (jax.numpy broadcasts
# them first, explicitly, with broadcast_in_dim)
ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter", "select_n",
    "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor"})


def jaxpr_crossings(score: Callable[[Any], Any], outputs: Any) -> list[Crossing]:
    """Elementwise operations of ``score`` (the user's loss of given outputs) between an operand
    computed from ``outputs`` and one computed without them whose shapes, as the loss wrote them,
    broadcast each other to a shape larger than both (:class:`Crossing`). An exception while
    tracing says nothing: no crossing."""
    try:
        closed = jax.make_jaxpr(score)(outputs)
    except Exception:  # the probe is a look, not a verdict: a loss that will not trace says nothing
        return []
    found: list[Crossing] = []
    jaxpr = closed.jaxpr
    try:
        _walk(jaxpr, {jaxpr.invars[0]}, {}, found)
    except Exception:  # an equation of a form not foreseen: what was seen so far stands
        pass
    return found


def _walk(jaxpr: Any, carried: set, written: dict, found: list[Crossing]) -> None:
    """One pass over ``jaxpr`` in order, marking what ``carried`` reaches (into the jaxprs of calls:
    a jitted jax.numpy function, a custom derivative). ``written``: a variable's shape before
    jax.numpy broadcast it to the other operand's (:func:`_implicit`), so a (B,) vector met by a
    (B, 1) column reads as the loss wrote it, as TensorFlow's graph shows it."""
    def shape(v: Any) -> tuple[int, ...]:
        own = tuple(int(d) for d in v.aval.shape)
        return own if isinstance(v, jcore.Literal) else written.get(v, own)

    for eqn in jaxpr.eqns:
        operands = [v for v in eqn.invars if not isinstance(v, jcore.Literal)]
        carries = [v in carried for v in operands]
        if any(carries):
            carried.update(eqn.outvars)
        name = eqn.primitive.name
        if name == "broadcast_in_dim" and _implicit(eqn):
            written[eqn.outvars[0]] = shape(eqn.invars[0])
        for inner, given in _called(eqn):
            # each call walked on its own: a jitted helper called twice shares one jaxpr
            inner_carried = {v for outer, v in zip(given, inner.invars)
                             if not isinstance(outer, jcore.Literal) and outer in carried}
            inner_written = {v: written[outer] for outer, v in zip(given, inner.invars)
                             if not isinstance(outer, jcore.Literal) and outer in written}
            _walk(inner, inner_carried, inner_written, found)
        if name not in ELEMENTWISE or all(carries) or not any(carries):
            continue
        for a in (v for v, c in zip(operands, carries) if c):
            for b in (v for v, c in zip(operands, carries) if not c):
                crossing = Crossing.of(name, shape(a), shape(b), pointwise=False)
                if crossing is not None:
                    found.append(crossing)


# where an axis the loss itself writes comes from (x[None], expand_dims): not numpy's implicit rule,
# though the equation is the same
_WRITTEN = frozenset({"expand_dims", "rewriting_take", "_getitem", "_rewriting_take"})


def _implicit(eqn: Any) -> bool:
    """A broadcast_in_dim as numpy's rules make one (axes of 1 put in front, axes of 1 stretched):
    what jax.numpy does to operands of different shapes before an elementwise operation, and not an
    axis the loss wrote itself (read from where the equation was traced; where that is not recorded,
    the rule's shape alone)."""
    before = tuple(eqn.invars[0].aval.shape)
    after = tuple(eqn.params["shape"])
    added = len(after) - len(before)
    if not (added >= 0 and before != after
            and tuple(eqn.params["broadcast_dimensions"]) == tuple(range(added, len(after)))
            and all(b in (1, a) for b, a in zip(before, after[added:]))):
        return False
    traceback = getattr(getattr(eqn, "source_info", None), "traceback", None)
    frames = getattr(traceback, "frames", None) or []
    return not any(getattr(frame, "function_name", "") in _WRITTEN for frame in frames)


def _called(eqn: Any) -> list[tuple[Any, list[Any]]]:
    """The jaxprs a call-like equation runs, each with the operands it is given: a jitted function,
    a custom derivative's primal, a checkpoint, a scan or loop body (on its own operands), each
    branch of a cond (on the operands after the branch index)."""
    found = []
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr", "body_jaxpr"):
        value = eqn.params.get(key)
        inner = value.jaxpr if isinstance(value, jcore.ClosedJaxpr) else value
        if isinstance(inner, jcore.Jaxpr) and len(inner.invars) == len(eqn.invars):
            found.append((inner, list(eqn.invars)))
    for branch in eqn.params.get("branches", ()):
        inner = branch.jaxpr if isinstance(branch, jcore.ClosedJaxpr) else branch
        if isinstance(inner, jcore.Jaxpr) and len(inner.invars) == len(eqn.invars) - 1:
            found.append((inner, list(eqn.invars[1:])))
    return found
