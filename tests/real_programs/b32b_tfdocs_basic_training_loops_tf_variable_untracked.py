"""TensorFlow guide "Basic training loops" (``site/en/guide/basic_training_loops.ipynb``), section "The same
solution, but with Keras": a linear model ``y = w * x + b`` fitted to ``y = 3x + 2 + noise`` (201 points, ``x``
evenly spaced in [-2, 2]). ``MyModelKeras(tf.keras.Model)`` creates its two parameters in ``__init__`` as
``self.w = tf.Variable(5.0)`` and ``self.b = tf.Variable(0.0)`` and returns ``self.w * x + self.b`` from
``call``; it is compiled with ``optimizer=tf.keras.optimizers.SGD(learning_rate=0.1)`` and
``loss=tf.keras.losses.mean_squared_error`` and trained with ``keras_model.fit(x, y, epochs=10, batch_size=1000)``.
The fault: under Keras 3 (``tf.keras`` since TensorFlow 2.16) a layer tracks only Keras variables; plain
``tf.Variable`` attributes are not registered, so ``keras_model.trainable_weights`` is empty. ``fit`` warns
"The model does not have any trainable weights." and every step applies an empty list of gradients: ``w`` and
``b`` stay at 5.0 and 0.0 and the loss does not move. (The guide's own GradientTape loop, which differentiates
with respect to ``[model.w, model.b]`` by name, still trains them; only the Keras training path is broken.)

Source: github.com/tensorflow/docs, ``site/en/guide/basic_training_loops.ipynb`` (``MyModelKeras``, unchanged on
master at 7c3650212); reported as tensorflow/tensorflow issue #97599 ("The model does not have any trainable
weights.", Documentation Bug, TF 2.19, https://github.com/tensorflow/tensorflow/issues/97599); fixed in
tensorflow/docs PR #2388 (https://github.com/tensorflow/docs/pull/2388), commits
795b07712bdd7f1e6eb73aa1895fb986ab287475 "Fix: use add_weight instead of tf.Variable in training loop guide" and
46ffd9bab7251782c7b9d44c50fbf7cf716f5b06 "Fix: Replace tf.Variable with add_weight to resolve trainable weights
warning": ``self.w = self.add_weight(name='w', shape=(), initializer=tf.constant_initializer(5.0))`` and the same
for ``b`` with 0.0. (PR #2388 was still open in the stored snapshot; the same fault and the same kind of fix,
``tf.keras.Variable``, are reported for rasbt/python-machine-learning-book-3rd-edition issue #179.)
Program lines kept: the data (``TRUE_W = 3.0``, ``TRUE_B = 2.0``, ``NUM_EXAMPLES = 201``,
``x = tf.linspace(-2, 2, NUM_EXAMPLES)`` cast to float32, ``y = f(x) + noise`` with standard-normal noise),
``MyModelKeras`` with the buggy ``tf.Variable`` / fixed ``add_weight`` parameters and initial values 5.0 / 0.0,
``SGD(learning_rate=0.1)``, the mean-squared-error loss, ``batch_size=1000`` (so one batch of all 201 points a
step, as in the guide).
Ported minimally: ``tf.keras.Model`` is ``keras.Model`` (Keras 3); ``tf.keras.losses.mean_squared_error`` is
``keras.losses.mean_squared_error`` (the ``tf.keras`` alias lacks the function in Keras 3.15, the function is the
same); the noise is drawn from a seeded NumPy generator instead of ``tf.random.normal`` unseeded; ``run_eagerly``
is left at its default (False, as in the guide); the plots, the checkpoint and the custom GradientTape loop are
left out. ``x`` and ``y`` keep the guide's shape ``(201,)`` (no feature axis).
Data stand-in: none needed, the data is the guide's own synthetic line.
Keras only: the fault is Keras 3's variable tracking. Its PyTorch twin (plain tensors with ``requires_grad``
instead of ``nn.Parameter``) leaves ``model.parameters()`` empty and ``torch.optim.SGD`` refuses the empty list
with a ValueError, i.e. a crash rather than a silent no-op.
Fault label: params_not_updated (the model's only two parameters are never trained).
Fix (PR #2388): ``add_weight`` with constant initialisers 5.0 and 0.0.

Symptom in my own plain loop (``model.train_on_batch(x, y)`` on the one batch of 201 points, seed 0,
OMP_NUM_THREADS=1; the compiled model as built here; a few ms a step): buggy ``trainable_weights == []``, the
loss 10.6463 at steps 1, 2, 5, 10 (the guide's 10 epochs), 50 and 100, ``w, b = 5.0, 0.0`` throughout, with the
warning "The model does not have any trainable weights."; fixed 10.6463 (step 1) -> 6.5411 (2) -> 2.0582 (5) ->
1.0106 (10) -> 0.9176 (50, 100), ``w, b = 2.946, 2.012`` after 100 steps (the noise variance is ~1, so ~0.92 is
the floor). ``model.fit(x, y, epochs=10, batch_size=1000)`` as in the guide gives the same per-epoch losses
(buggy 10.6463 every epoch, fixed 10.6463 -> 1.0106).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:tensorflow/docs PR #2388 (site/en/guide/basic_training_loops.ipynb MyModelKeras@7c3650212; "
          "fix 795b07712bdd7f1e6eb73aa1895fb986ab287475 + 46ffd9bab7251782c7b9d44c50fbf7cf716f5b06); "
          "tensorflow/tensorflow issue #97599")
FRAMEWORKS = ("keras",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

TRUE_W = 3.0  # program lines
TRUE_B = 2.0
NUM_EXAMPLES = 201
learning_rate = 0.1
batch_size = 1000  # keras_model.fit(x, y, epochs=10, batch_size=1000): one batch of all 201 points


def f(x):
    return x * TRUE_W + TRUE_B


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 2, NUM_EXAMPLES).astype("float32")  # tf.cast(tf.linspace(-2, 2, NUM_EXAMPLES), tf.float32)
    noise = rng.standard_normal(NUM_EXAMPLES).astype("float32")  # tf.random.normal(shape=[NUM_EXAMPLES])
    y = (f(x) + noise).astype("float32")
    return x, y


def _build(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    x, y = _data()

    class MyModelKeras(keras.Model):  # tf.keras.Model under Keras 3
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # Initialize the weights to `5.0` and the bias to `0.0`
            if fixed:  # PR #2388
                self.w = self.add_weight(name="w", shape=(), initializer=tf.constant_initializer(5.0))
                self.b = self.add_weight(name="b", shape=(), initializer=tf.constant_initializer(0.0))
            else:  # the guide: plain tf.Variable, not tracked by a Keras 3 layer
                self.w = tf.Variable(5.0)
                self.b = tf.Variable(0.0)

        def call(self, x):
            return self.w * x + self.b

    keras_model = MyModelKeras()
    keras_model.compile(
        run_eagerly=False,
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss=keras.losses.mean_squared_error,
    )
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, NUM_EXAMPLES, batch_size)]
    return {"model": keras_model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
