"""A training step that computes a loss of its own (no ``loss_fn``, no compiled loss: a multi-view or
domain-ensemble trainer) gives the check nothing to score given outputs with. ``overfit_one_batch``
then reads the eval-mode outputs' share right: past the drop, a stretch that adds no sample right
stops the run with a note (Dassl's DAEL, whose supervised term was overwritten, drove its consistency
loss to 0 with 12 of 120 images right and ran into the time cap). A ``loss_fn`` that scores every
output alike yet runs the model again is a usage error (see test_loss_reads_the_model.py). Twins: the
same steps training on a cross-entropy pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import torch.nn.functional as F

import torch_corpus as tc
from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed

NOTE = "yet the eval-mode outputs get"  # the stall's note, or the one on a loss that reached 0


def _torch_step(reads_labels: bool):
    def train_step(model, optimizer, loss_fn, x, y):
        out = model(x)
        # the label-blind twin pulls every output toward 0: a loss that falls with no class learnt
        loss = F.cross_entropy(out, y) if reads_labels else out.pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()
    return train_step


class OwnLossModel(keras.Model):
    def __init__(self, reads_labels: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        init = keras.initializers.GlorotUniform(seed=0)
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32, activation="relu", kernel_initializer=init)
        self.head = keras.layers.Dense(10, kernel_initializer=init)
        self.reads_labels = reads_labels
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        return self.head(self.hidden(self.flatten(x)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            out = self(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, out, from_logits=True)) \
                if self.reads_labels else tf.reduce_mean(tf.square(out))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.reset_state()
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


def _run(mlcheck, framework: str, reads_labels: bool):
    if framework == "torch":
        return mlcheck.overfit_one_batch(tc.digits_mlp(), tc.digits_batch(32), train_step=_torch_step(reads_labels))
    model = OwnLossModel(reads_labels)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))  # no loss: the override brings its own
    model(np.zeros((1, 8, 8, 1), np.float32))
    return mlcheck.overfit_one_batch(model, digits_arrays(32))


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_loss_of_the_steps_own_that_falls_with_no_class_learnt_stops_and_says_so(mlcheck, framework):
    with pytest.raises(CheckFailed) as failed:
        _run(mlcheck, framework, reads_labels=False)
    text = str(failed.value)
    assert NOTE in text, text
    assert failed.value.result.steps < 16 * 400, failed.value.result.steps  # stopped, not run to the cap
    assert "the loss rewarded the right classes" not in text  # it could not be scored


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_twin_a_loss_of_the_steps_own_that_reads_the_labels_passes(mlcheck, framework):
    assert _run(mlcheck, framework, reads_labels=True).passed
