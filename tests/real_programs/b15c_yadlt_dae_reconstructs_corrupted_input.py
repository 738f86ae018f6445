"""yadlt (gabrieleangeletti/Deep-Learning-TensorFlow, pip ``yadlt`` 0.0.2), the denoising autoencoder
``yadlt/models/autoencoder_models/denoising_autoencoder.py`` as the documentation runs it
(``index.rst``: ``run_autoencoder.py --n_components 1024 --batch_size 64 --num_epochs 20 --learning_rate 0.05
--corr_type masking --corr_frac 0.5 --enc_act_func sigmoid --dec_act_func sigmoid --loss_func cross_entropy
--opt momentum --momentum 0.9``, ``l2reg`` default 5e-4): tied weights, ``encode = sigmoid(x_corr W + bh)``,
``reconstruction = sigmoid(encode W^T + bv)``, ``W ~ truncated_normal(stddev=0.1)``, ``bh = bv = 0.1``, cost
``-reduce_mean(ref * log(clip(out, 1e-10)) + (1 - ref) * log(clip(1 - out, 1e-10)))`` plus
``l2reg * (l2_loss(W) + l2_loss(bh) + l2_loss(bv))``, ``MomentumOptimizer(0.05, 0.9)``. Every epoch the
training set is corrupted with masking noise (half of the pixels set to 0) and fed as
``{input_data_orig: x_batch, input_data: x_corr_batch}``.
The "major refactor" 7107e09 renamed the placeholders (clean ``input_data`` -> ``input_data_orig``, corrupted
``input_data_corr`` -> ``input_data``) but left ``_create_cost_function_node(self.reconstruction,
self.input_data, regterm)``: the reconstruction is scored against the *corrupted* input it was computed
from, so the "denoising" autoencoder is trained to copy its noisy input (masked pixels stay 0) and never to
restore the clean image; the version 0.0.2 release (e320cb3) shipped with it.

Source: github.com/gabrieleangeletti/Deep-Learning-TensorFlow, yadlt/models/autoencoder_models/
denoising_autoencoder.py@4ac1436^ (bug introduced in 7107e09 "major refactor"), fixed by 4ac1436
"denoising_autoencoder loss function fix" (``self._create_cost_function_node(self.reconstruction,
self.input_data_orig, regterm)``). Same project as the TensorFlow-Program-Bugs / defects4ml subjects IPS-5..8
and defects4ml 002-005, a different bug.
Ported: the model (a tied-weight module / Keras layer with the program's initialisers), the cost (the clipped
cross-entropy; the l2 term as SGD ``weight_decay=5e-4`` in torch, which has the same gradient as
``5e-4 * l2_loss`` = 5e-4 * sum(w^2) / 2, and as ``L2(5e-4 / 2)`` regularisers on W, bh, bv in Keras), momentum
SGD (lr 0.05, momentum 0.9), batch size 64. The batches are (corrupted images, reference the cost sees): the
buggy version's reference is the corrupted batch, the fixed one's the clean batch. The corruption is drawn
once (seeded numpy, 50 % masking as ``masking_noise``) instead of once per epoch.
Data stand-in (no MNIST download): 256 MNIST-shaped digits from ``_data.mnist_like`` scaled to [0, 1] and
flattened to 784 (``read_data_sets`` gives float images in [0, 1]); 4 batches of 64. n_components stays 1024.
Fault label: other:denoising_target_is_corrupted_input (the reconstruction is scored against the corrupted
input instead of the clean one). Fix (4ac1436): score against ``input_data_orig``, the clean batch.
Symptom in a short loop (500 epochs over the 256 images in batches of 64, the corruption redrawn every
epoch as in the program, then scored on 5 fresh corruptions of the 256 images against the clean images):
torch: the buggy training loss ends at 0.21 (fixed 0.23: copying the input is no harder), but its
reconstructions score a clean cross-entropy of 0.34 and MSE 0.070, and masked pixels that are bright in the
clean image come back at 0.26 on average; the fixed model scores 0.24, MSE 0.026 and restores them to 0.62.
Keras (model.fit on the same corruptions): the same, clean cross-entropy 0.34 / MSE 0.070 / restored 0.26
buggy vs 0.24 / 0.026 / 0.62 fixed (training loss incl. the l2 term 0.82 vs 0.84). One step takes ~16 ms
(torch) / ~22 ms (Keras) on one shared CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:denoising_target_is_corrupted_input"
SOURCE = ("github:gabrieleangeletti/Deep-Learning-TensorFlow yadlt/models/autoencoder_models/"
          "denoising_autoencoder.py@4ac1436^ (bug from 7107e09 'major refactor', fix 4ac1436 "
          "'denoising_autoencoder loss function fix'; docs index.rst run_autoencoder.py command)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"}),
          ("gradients_flow", {})]

n_components = 1024  # --n_components 1024
batch_size = 64  # --batch_size 64
learning_rate = 0.05  # --learning_rate 0.05
momentum = 0.9  # --opt momentum --momentum 0.9
corr_frac = 0.5  # --corr_type masking --corr_frac 0.5
l2reg = 5e-4  # default
n_features = 784


def _masking_noise(data: np.ndarray, v: float, rng: np.random.Generator) -> np.ndarray:
    """``utilities.masking_noise``: a fraction v of the elements (chosen at random) forced to zero."""
    data_noise = data.copy()
    data_noise[rng.random(data.shape) < v] = 0
    return data_noise


def _data(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs import _data as data_mod

    x, _ = data_mod.mnist_like(n)
    x = (x.astype("float32") / 255.0).reshape(n, n_features)
    x_corr = _masking_noise(x, corr_frac, np.random.default_rng(seed))
    return x, x_corr


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, x_corr = _data()
    ref = x if fixed else x_corr  # the bug: the cost's reference is the corrupted input
    batches = [(x_corr[i:i + batch_size], ref[i:i + batch_size]) for i in range(0, len(x), batch_size)]

    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(0)

        class DenoisingAutoencoder(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.W_ = nn.Parameter(nn.init.trunc_normal_(torch.empty(n_features, n_components), std=0.1,
                                                             a=-0.2, b=0.2))
                self.bh_ = nn.Parameter(torch.full((n_components,), 0.1))
                self.bv_ = nn.Parameter(torch.full((n_features,), 0.1))

            def forward(self, x_in):
                encode = torch.sigmoid(x_in @ self.W_ + self.bh_)  # enc_act_func sigmoid
                return torch.sigmoid(encode @ self.W_.t() + self.bv_)  # tied weights, dec_act_func sigmoid

        def loss_fn(out, target):
            return -torch.mean(target * torch.log(torch.clamp(out, min=1e-10))
                               + (1 - target) * torch.log(torch.clamp(1 - out, min=1e-10)))

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": DenoisingAutoencoder(), "batch": tb[0], "batches": tb,
                "inputs": torch.tensor(x_corr), "loss_fn": loss_fn,
                # l2reg * l2_loss(.) on W, bh, bv == weight decay l2reg on every parameter
                "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate, momentum=momentum,
                                                       weight_decay=l2reg)}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class TiedDAE(keras.layers.Layer):
        def build(self, input_shape):
            reg = keras.regularizers.L2(l2reg / 2)  # l2reg * tf.nn.l2_loss(v) = l2reg * sum(v^2) / 2
            self.W_ = self.add_weight(shape=(n_features, n_components), name="enc-w", regularizer=reg,
                                      initializer=keras.initializers.TruncatedNormal(stddev=0.1))
            self.bh_ = self.add_weight(shape=(n_components,), name="hidden-bias", regularizer=reg,
                                       initializer=keras.initializers.Constant(0.1))
            self.bv_ = self.add_weight(shape=(n_features,), name="visible-bias", regularizer=reg,
                                       initializer=keras.initializers.Constant(0.1))

        def call(self, x_in):
            encode = ops.sigmoid(ops.matmul(x_in, self.W_) + self.bh_)
            return ops.sigmoid(ops.matmul(encode, ops.transpose(self.W_)) + self.bv_)

    def cross_entropy(ref_input, model_output):
        return -ops.mean(ref_input * ops.log(ops.clip(model_output, 1e-10, np.inf))
                         + (1 - ref_input) * ops.log(ops.clip(1 - model_output, 1e-10, np.inf)))

    model = keras.Sequential([keras.Input((n_features,)), TiedDAE()])
    model.compile(loss=cross_entropy, optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_corr}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
