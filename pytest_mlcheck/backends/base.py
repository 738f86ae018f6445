"""What a check asks of a framework. Checks hold the logic; adapters answer these questions."""

from __future__ import annotations

from typing import Any, Callable, ContextManager, NamedTuple, Protocol

import numpy as np


class Crossing(NamedTuple):
    """Two operands inside the user's loss that broadcast each other to a shape larger than both."""

    op: str  # the pointwise loss or elementwise operation, as the framework names it
    a: tuple[int, ...]  # a pointwise loss's input; an elementwise operation's operand computed from the outputs
    b: tuple[int, ...]  # the target; the operand computed without the outputs (from the targets)
    both: tuple[int, ...]  # the shape they broadcast to
    pointwise: bool  # a squared, absolute or Huber error (input against target)

    @staticmethod
    def of(op: str, a: tuple[int, ...], b: tuple[int, ...], *, pointwise: bool) -> Crossing | None:
        """The crossing of operands shaped ``a`` and ``b``, or None where they do not broadcast (the
        loss raises on its own) or broadcast to no more elements than one of them has."""
        try:
            both = tuple(int(d) for d in np.broadcast_shapes(a, b))
        except ValueError:
            return None
        return Crossing(op, a, b, both, pointwise) if int(np.prod(both)) > max(int(np.prod(a)), int(np.prod(b))) else None


class Session(Protocol):
    """A training copy of the user's model on a device, inside a guard of every RNG it could touch.

    Numbers come back as floats and numpy arrays; tensors stay inside the adapter. A capability the
    framework cannot offer raises ``NotSupported`` (never a made-up 0, {} or []); probes note it.
    """

    device: str
    optimizer_notes: list[str]
    loss_fn: Callable | None  # the user's loss as given (None: a compiled Keras loss, or train_step only)

    def prepare(self, x: Any, y: Any = None) -> Any:
        """Convert one (x, y) batch (y may be None) for this model and device; an opaque handle."""

    def labels(self, batch: Any) -> np.ndarray:
        """The batch's targets as numpy."""

    def inputs(self, batch: Any) -> np.ndarray | None:
        """The batch's inputs as numpy (None if they are not one array)."""

    def train_step(self, batch: Any) -> float:
        """One training step on the copy; returns the loss before the update."""

    def predict(self, batch: Any) -> np.ndarray:
        """The selected output in eval mode, without gradients."""

    def same_draws(self, seed: int) -> ContextManager[None]:
        """Inside, every pass draws the noise the first such pass drew: the global generators seeded
        with ``seed`` and the model's own (Keras seed generators) put back as they were then. A model
        that samples at inference (a VAE) then compares like with like. Restored after."""

    def float64_predictor(self) -> Callable[[Any], np.ndarray]:
        """:meth:`predict` on one float64 copy of the model (float inputs cast too): float32 rounding
        gone, whatever the model computes stays. NotSupported (here or from a call) where no such copy
        can be made or run."""

    def has_loss(self) -> bool:
        """Whether a loss can be computed: the user's ``loss_fn`` or a compiled Keras loss."""

    def loss(self, batch: Any, *, training: bool) -> float:
        """The loss on the batch without an update, in training or inference mode (NaN when there is
        no loss to compute)."""

    def loss_of(self, outputs: np.ndarray, batch: Any) -> float:
        """The user's loss for given outputs on the batch's targets (NaN if it cannot say)."""

    def loss_reads_weights(self, outputs: np.ndarray, batch: Any) -> bool:
        """Whether the user's loss, given ``outputs`` that carry no gradient, still reaches trainable
        weights (a loss computed from the model itself: a stored input run through it again). Asked
        of a loss that scores every output alike. NotSupported where the adapter cannot tell."""

    def loss_gradient(self, outputs: np.ndarray, batch: Any) -> np.ndarray:
        """The gradient of the user's loss with respect to given outputs, as the loss's own backward
        computes it (which a fused loss may compute from assumptions about its input). NotSupported
        where the adapter cannot differentiate the loss at given outputs."""

    def penalty(self) -> float:
        """The part of :meth:`loss_of` that no output moves: ``add_loss`` terms a compiled Keras loss
        adds in inference mode too (the weights' regularizer penalties are out of every loss read);
        0.0 where the adapter sees none."""

    def traced_loss(self, batch: Any) -> float | None:
        """The loss of the batch's eval-mode outputs as a traced training step computes it, where that
        can differ from :meth:`loss_of` on the same outputs (Keras under TensorFlow lets a loss read
        the logits beneath the last softmax or sigmoid there); None where it cannot differ."""

    def loss_broadcasts(self, outputs: np.ndarray, batch: Any) -> list[Crossing]:
        """What the user's loss, scoring ``outputs`` on the batch, broadcasts to a shape larger than both
        sides: every pointwise loss (squared, absolute, Huber error) whose input and target do, and
        every elementwise operation between an operand computed from the outputs and one computed
        without them that does. NotSupported where the adapter cannot see inside the loss."""

    def clear_gradients(self) -> None:
        """Drop accumulated gradients. NotSupported where the step's gradients are not visible."""

    def gradient_norm(self) -> float:
        """The global norm of the accumulated gradients. NotSupported where they are not visible."""

    def optimizer_steps(self) -> int:
        """How many times the optimizer has stepped since this was first asked. NotSupported where
        the steps are not visible."""

    def steps_own_code(self) -> bool:
        """Whether a training step runs the user's own code (``train_step=``, a Keras model's
        ``train_step`` override), which may leave the gradients it computes unapplied."""

    def uncovered_parameters(self) -> list[str]:
        """Names of trainable parameters the optimizer does not update."""

    def unregistered_leaves(self, batch: Any) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of tensors that require grad and reach the batch's loss but are not the
        model's parameters (layers in a plain Python list): no optimizer over them updates them.
        One the run changed since its first step is left out: something trains it (a soft update)."""

    def note_foreign(self, batch: Any) -> None:
        """Before a lone step: read which tensors outside the parameters the batch's loss reaches and
        their values, so that :meth:`unregistered_leaves` can tell whether the step changed them."""

    def trainable_count(self) -> int:
        """Number of trainable scalars (the sizes of the trainable parameter tensors, summed)."""

    def parameter_values(self) -> dict[str, np.ndarray]:
        """Each trainable parameter's current value, by name."""

    def frozen_values(self) -> dict[str, np.ndarray]:
        """Each frozen weight's current value, by name (state such as moving statistics excluded)."""

    def lookup_tables(self) -> set[str]:
        """The names (as :meth:`parameter_values` gives them) of trainable tables that ids look rows
        up in (torch ``Embedding``/``EmbeddingBag``, Keras ``Embedding``): their gradient is the
        gradient at their output gathered into the rows a batch reads, multiplied by nothing."""

    def flagged_frozen(self) -> dict[str, str]:
        """Trainable weights, by name, under a module or layer whose ``requires_grad`` is a plain
        attribute set to False (neither framework reads such a flag: the assignment freezes nothing),
        each with the name of that module."""

    def gradients(self, batch: Any) -> dict[str, np.ndarray | None]:
        """Gradients of the loss on the batch per trainable parameter, without an update."""

    def step_gradients(self) -> dict[str, np.ndarray | None]:
        """The gradients the user's own step left behind. NotSupported where they are not visible."""

    def leftover_gradients(self, batch: Any) -> float:
        """One training step on the batch, watching the first gradient that reaches each parameter
        the optimizer holds: the norm of what those parameters' gradients already held then (0 when
        the step cleared them first). NotSupported where gradients are not visible."""

    def input_gradient(self, batch: Any, index: int) -> np.ndarray | None:
        """d(sum of output ``index``)/d(inputs) in eval mode; None for non-float inputs."""

    def weighted_layer_inputs(self, batch: Any, *, training: bool) -> list[tuple[str, np.ndarray]]:
        """What reaches each layer with a weight matrix or kernel, in call order."""

    def negated_head(self, batch: Any) -> np.ndarray | None:
        """The eval-mode outputs with the pre-activation of the last layer holding a weight matrix or
        kernel (in call order) negated, a probe of what follows it: outputs a linear head gives change
        sign, a bounding activation's stay within its bound; None where no such layer ran."""

    def shifted_loss(self, batch: Any, name: str, shift: np.ndarray, seed: int) -> float:
        """The training-mode loss on the batch, its draws those of ``seed`` (:meth:`same_draws`), with
        the named parameter moved by ``shift`` (an array of its shape) in this call only: the parameter and
        whatever the forward pass updates (normalisation statistics) are put back after. NotSupported
        where the name is no trainable parameter of the model."""

    def noisy_outputs(self, batch: Any, names: list[str], seed: int,
                      redrawn: tuple[str, ...] = (), gain: float = 1.0) -> np.ndarray | None:
        """The eval-mode outputs with the named parameters (as ``parameter_values`` names them) moved
        by noise (:func:`noise_like`) and noise added to the pre-activation, or else the output, of
        each layer owning one of them, in this call only (the parameters are restored after): whether
        anything those layers compute reaches the outputs. Each layer draws from its own stream of
        ``seed``, another one for the layers owning a name in ``redrawn``; ``gain`` scales every noise.
        None where a name's owner is the model itself or cannot be found, or outputs no float tensor."""

    def stacked_dense(self, batch: Any) -> list[tuple[str, str, int, int, int]]:
        """In an eval-mode call, each pair of fully connected layers where the second receives the
        first one's output unchanged (nothing between them but reshapes and eval-mode dropout): both
        names, the first one's inputs and units, and the second one's units."""

    def rescale_layers(self, batch: Any) -> list[float]:
        """Scale each layer's weight matrices or kernels (not lookups), in call order, so what the
        layer outputs on the batch in eval mode has unit standard deviation (a probe on a fresh
        session); each layer's spread across samples before any scaling, in call order."""

    def weighted_inputs(self, batch: Any) -> list[tuple[str, np.ndarray, bool]]:
        """Each layer with a weight matrix or kernel, in call order: its name, what reaches it in a
        training call (an input BatchNorm normalises by the batch, as in training), and whether it
        is a lookup."""

    def scale_lr(self, factor: float) -> None:
        """Multiply the optimizer's learning rates (used by probes on a fresh session)."""

    def learning_rates(self) -> tuple[float, float]:
        """The optimizer's learning rate at its first step and at the step it has reached (the
        largest over parameter groups; a schedule's values there; the first is the rate now where
        no schedule tells it). NotSupported where no optimizer is visible."""

    def schedule_ahead(self, start: int, stop: int) -> float:
        """How far the optimizer's schedule lets steps ``start`` to ``stop`` move the weights, in steps
        at its first rate: the sum of its rate over them over the rate at step 0. NotSupported where
        no schedule can be read ahead (a torch scheduler moves only when stepped)."""

    def weight_decay(self) -> float:
        """The optimizer's weight decay (the largest over its groups; 0 when it has none)."""

    def weight_penalties(self) -> str:
        """The penalties the model's own layers add to the loss for their weights (Keras
        ``kernel_regularizer=``), described ("an L2 0.0025 penalty on 4 weight tensor(s)"); "" when
        none (torch modules have none: a penalty in the user's loss_fn is the loss's own)."""

    def drop_weight_decay(self) -> None:
        """Train without weight decay, or the weight penalties above, from now on (a probe)."""

    def training_outputs(self, batch: Any) -> np.ndarray:
        """The outputs of one training-mode forward pass on the batch (dropout and the like active;
        no gradient, no step), as the loss reads them."""

    def train_without_noise(self) -> None:
        """Train with dropout and other training-mode noise off from now on (a probe)."""

    def recalibrate(self, batch: Any) -> bool:
        """Set the running statistics of every batch-normalisation layer of the copy to this
        batch's (so eval mode normalises as training did, however small the layer's momentum);
        False when the model has none. Training is not affected: it normalises by the batch."""

    def shed(self) -> None:
        """Free what only training needed (gradients, optimizer state) once the check trains no more:
        a failed check's probes open fresh copies beside this one, which would otherwise double the
        peak. Parameter groups stay (probes read the learning rate and weight decay)."""

    def release(self) -> None:
        """Free the copy's own tensors before probes that only train fresh copies: nothing but close()
        may be called afterwards. A no-op where the copy's memory is not ours to free."""

    def close(self) -> None:
        """Release the copy (or restore the model) and restore every global generator. Idempotent,
        and complete even when interrupted: an interrupt that arrives meanwhile is raised after it."""


class Backend(Protocol):
    def weights_under(self, model: Any, parts: Any, *, argument: str) -> dict[str, str]:
        """The names (as a session's ``parameter_values`` and ``frozen_values`` give them) of the
        model's weights under ``parts``: a module or layer of the model, a parameter or variable, a
        prefix of their names, or a list of these; each with a label for messages. A usage error
        naming ``argument`` for a part that is none of these or holds no weight."""

    def open(
        self,
        model: Any,
        *,
        device: str,
        seed: int,
        loss_fn: Callable | None,
        optimizer: Any,
        train_step: Callable | None,
        output: Any,
        inference: bool = False,
        within: Session | None = None,
    ) -> Session:
        """Copy (or snapshot) the model on ``device``, build its optimizer unless ``inference``,
        and seed every RNG inside a guard that restores them on ``close``. ``within``: the session
        of the same check that this probe session is opened inside; the probe starts from the
        model as the user had it (a Keras model is trained in place)."""
