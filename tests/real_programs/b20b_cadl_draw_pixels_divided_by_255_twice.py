"""pycadl (the Python package of Kadenze's "Creative Applications of Deep Learning with TensorFlow" course),
``cadl/draw.py``: DRAW (Deep Recurrent Attentive Writer, Gregor et al. 2015) as the course builds it --
GRU encoder and decoder, a Gaussian latent per step, filterbank attention for ``read`` and ``write``, a
canvas summed over ``T - 1`` steps and squashed with a sigmoid, loss = per-image summed binary cross-entropy
of the reconstruction against the image + the summed KL term, ``AdamOptimizer(0.0001)`` with every gradient
clipped by norm 5 -- trained by ``train_input_pipeline`` on batches of RGB image files read by the course's
``create_input_pipeline`` (float pixels 0..255). ``create_model`` notes "This assumes the input image is
normalized between 0 - 1" (``x_hat_t = x - sigmoid(canvas)``; the BCE target is ``x``). The training loop
did ``batch_xs = sess.run(batch) / 255.0`` and then fed ``draw['x']: batch_xs.reshape(...) / 255.0``: every
training batch is divided by 255 twice, so the model sees and reconstructs images in [0, 1/255] (all but
black), while the test montage (divided once) is in [0, 1]. The
loss then falls fast only because the model learns to paint the canvas black: nothing of the images is learnt.

Source: github.com/pkmital/pycadl PR #5 (indraastra, "Fix double-normalization bug in train_input_pipeline
version of DRAW": "The input image batch was being divided by 255 twice before being fed to the model"),
``cadl/draw.py`` at 9bc3f50^ (6c80b71), fixed by 9bc3f50a380aad8d3a358b20c65958262d882466 (the first
``/ 255.0`` removed), merged as 015331b.
Program lines kept: ``linear`` (xavier weights, zero bias), ``variational_layer``, ``create_attention_map``,
``create_filterbank``, ``filter_image`` (the per-channel C > 1 branch), ``read``/``write`` with attention,
``binary_cross_entropy`` (eps 1e-10), ``create_model``'s loop, ``loss_x``, ``loss_z`` (with its ``- T * 0.5``)
and ``cost``, Adam(1e-4) with per-gradient ``clip_by_norm(g, 5)``, batch size 64, and the feed
``batch_xs / 255.0`` ... ``/ 255.0`` (buggy) or ``/ 255.0`` once (fixed).
Ported minimally: ``tf.contrib.rnn.GRUCell`` as ``nn.GRUCell`` / ``keras.layers.GRUCell``; the ``noise``
placeholder (one N(0, 1) draw per batch, shared by all steps) drawn inside the forward pass, seeded; the
per-gradient clipping as an Adam subclass that clips each parameter's gradient to norm 5 before stepping
(torch) and ``Adam(1e-4, clipnorm=5)`` (Keras, which clips each variable's gradient the same way);
``filter_image``'s per-channel loop done as one batched matmul over the channel axis (same numbers); the KL
term kept on the model after the forward pass (torch loss_fn adds it) or ``add_loss`` (Keras). Sizes shrunk
for CPU speed (the defaults, 64x64x3 images, T=20, n_enc=n_dec=512, n_z=256, read_n=write_n=15, take well
over a second a step on one thread): 32x32x3 images, T=8, n_enc=n_dec=128, n_z=32, read_n=write_n=6,
batch size 32.
Data stand-in (the program trains on image files of the user's choice, e.g. CelebA crops, through a queue
pipeline): ``_data.cifar_like`` RGB uint8 images 32x32x3 (0..255, channel means near 125), cast to float
and flattened HWC as the pipeline's ``reshape((-1, A * B * C))`` does; 4 batches of 32; y = x (the
reconstruction target is the input).
Fault label: inputs_not_normalized (double-normalised inputs: the images are scaled by 1/255 twice, so
inputs and targets sit in [0, 0.004] instead of [0, 1]).
Fix (9bc3f50): ``batch_xs = sess.run(batch)``, keeping the single ``/ 255.0`` in the feed.
Symptom in a short loop (my plain loop: torch, 100 steps on one batch then 100 passes over the 4 batches;
Keras, ``fit`` 100 epochs on one batch): the buggy program's cost falls fast only because the targets are all
but zero -- it learns to paint the canvas black -- so its reconstructions drift away from the images. Measured
also as the summed BCE of the reconstruction against the once-scaled image (what the model should draw).
torch: buggy cost 2276 -> 545 (one batch), 158 after the 4-batch passes; reconstruction mean 0.036 against an
image mean of 0.50 (input mean 0.002), BCE against the real image 8634; fixed cost 2281 -> 2241 (one batch),
2209 over the 4 batches, reconstruction mean 0.50, BCE against the image 2130 (it is learning the images, the
slow start of Adam(1e-4)). Keras: buggy 2310 -> 2252 (20 epochs) -> 2223 (60) -> 2137 (80), then the loss
turns inf at about epoch 100 and the weights NaN (I did not trace which op overflows first; the torch port
stayed finite over its 500 steps); fixed 2310 -> 2244 after 100 epochs, reconstruction mean 0.50, BCE
against the image 2132.
A torch step took ~70 ms and a Keras fit epoch ~140 ms (after a ~15 s trace) on one thread of a loaded machine
(load ~3 on 2 cores); the original sizes are ~10x slower.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:pkmital/pycadl PR #5 (cadl/draw.py train_input_pipeline@9bc3f50^, "
          "fix 9bc3f50a380aad8d3a358b20c65958262d882466)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "sigmoid"}), ("not_constant_predictions", {})]
# the lead's edit: the helper wrote output_range(kind="probabilities"), which asks for rows summing to 1; the
# canvas is one sigmoid per pixel, for which the API's kind is "sigmoid"

# train_input_pipeline(files, A, B, C, T=20, n_enc=512, n_z=256, n_dec=512, read_n=15, write_n=15,
# batch_size=64, input_shape=(64, 64, 3)), shrunk for CPU speed:
A, B, C = 32, 32, 3
T = 8
n_enc, n_dec, n_z = 128, 128, 32
read_n, write_n = 6, 6
batch_size = 32
learning_rate = 0.0001  # tf.train.AdamOptimizer(learning_rate=0.0001)
clip = 5.0  # tf.clip_by_norm(g, 5)
n_batches = 4


def _images() -> np.ndarray:
    from tests.real_programs._data import cifar_like

    x, _ = cifar_like(n=batch_size * n_batches, seed=0)
    return x.astype("float32").reshape((-1, A * B * C))  # the pipeline's float pixels 0..255, HWC flattened


def _feed(double: bool) -> np.ndarray:
    batch_xs = _images()
    if double:
        batch_xs = batch_xs / 255.0  # buggy: batch_xs = sess.run(batch) / 255.0
    return (batch_xs / 255.0).astype("float32")  # feed_dict={draw['x']: batch_xs.reshape(...) / 255.0}


def _build(framework: str, double: bool) -> dict[str, Any]:
    x = _feed(double)
    batches = [(x[i:i + batch_size], x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "torch":
        return _torch(x, batches)
    return _keras(x, batches)


def _torch(x: np.ndarray, batches: list) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    def linear(n_in, n_output):  # program: xavier weights, zero bias
        lin = nn.Linear(n_in, n_output)
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        return lin

    def create_filterbank(g_x, g_y, log_sigma_sq, log_delta, N):
        g_x = (A + 1) / 2 * (g_x + 1)
        g_y = (B + 1) / 2 * (g_y + 1)
        delta = (max(A, B) - 1) / (N - 1) * torch.exp(log_delta)
        ns = torch.arange(N, dtype=torch.float32).unsqueeze(0)
        mu_x = (g_x + (ns - N / 2 - 0.5) * delta).reshape(-1, N, 1)
        mu_y = (g_y + (ns - N / 2 - 0.5) * delta).reshape(-1, N, 1)
        sigma_sq = torch.exp(log_sigma_sq).reshape(-1, 1, 1)
        xs = torch.arange(B, dtype=torch.float32).reshape(1, 1, -1)
        ys = torch.arange(A, dtype=torch.float32).reshape(1, 1, -1)
        F_x = torch.exp(-torch.square(xs - mu_x) / (2 * sigma_sq))
        F_y = torch.exp(-torch.square(ys - mu_y) / (2 * sigma_sq))
        epsilon = 1e-10
        F_x = F_x / torch.clamp(F_x.sum(2, keepdim=True), min=epsilon)
        F_y = F_y / torch.clamp(F_y.sum(2, keepdim=True), min=epsilon)
        return F_x, F_y

    def filter_image(img, F_x, F_y, log_gamma, N, inverted=False):
        gamma = torch.exp(log_gamma)
        if inverted:
            F_y = F_y.transpose(1, 2)
            gamma = 1.0 / gamma
            img = img.reshape(-1, N, N, C)
        else:
            F_x = F_x.transpose(1, 2)
            img = img.reshape(-1, A, B, C)
        # the program's per-channel loop (split on axis 3, F_y @ x_c @ F_x, concat on axis 3), batched
        img = img.permute(0, 3, 1, 2).contiguous()
        glimpse = torch.matmul(F_y.unsqueeze(1), torch.matmul(img, F_x.unsqueeze(1))).permute(0, 2, 3, 1)
        glimpse = glimpse.reshape(glimpse.shape[0], -1)
        return glimpse * gamma.reshape(-1, 1)

    class DRAW(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn_enc = nn.GRUCell(2 * read_n * read_n * C + n_dec, n_enc)
            self.rnn_dec = nn.GRUCell(n_z, n_dec)
            self.read_attention = linear(n_dec, 5)  # 'read/attention'
            self.mu = linear(n_enc, n_z)
            self.log_sigma = linear(n_enc, n_z)
            self.write_w = linear(n_dec, write_n * write_n * C)
            self.write_attention = linear(n_dec, 5)  # 'write/attention'
            self.loss_z = None

        def read(self, x_t, x_hat_t, h_dec_t):
            g_x, g_y, log_sigma_sq, log_delta, log_gamma = torch.split(self.read_attention(h_dec_t), 1, dim=1)
            F_x, F_y = create_filterbank(g_x, g_y, log_sigma_sq, log_delta, read_n)
            x_t = filter_image(x_t, F_x, F_y, log_gamma, read_n)
            x_hat_t = filter_image(x_hat_t, F_x, F_y, log_gamma, read_n)
            return torch.cat([x_t, x_hat_t], 1)

        def write(self, h_dec_t):
            w_t = self.write_w(h_dec_t)
            g_x, g_y, log_sigma_sq, log_delta, log_gamma = torch.split(self.write_attention(h_dec_t), 1, dim=1)
            F_x, F_y = create_filterbank(g_x, g_y, log_sigma_sq, log_delta, write_n)
            return filter_image(w_t, F_x, F_y, log_gamma, write_n, inverted=True)

        def forward(self, x):
            n = x.shape[0]
            noise = torch.randn(n, n_z)  # the 'noise' placeholder: one draw per batch, shared by all steps
            canvas = [torch.zeros(n, A * B * C)]
            h_dec_t = torch.zeros(n, n_dec)
            enc_state, dec_state = torch.zeros(n, n_enc), torch.zeros(n, n_dec)
            z_mus, z_log_sigmas = [], []
            for t_i in range(1, T):
                # This assumes the input image is normalized between 0 - 1
                x_hat_t = x - torch.sigmoid(canvas[t_i - 1])
                r_t = self.read(x, x_hat_t, h_dec_t)
                enc_state = self.rnn_enc(torch.cat([r_t, h_dec_t], 1), enc_state)
                z_mu, z_log_sigma = self.mu(enc_state), self.log_sigma(enc_state)
                z_t = z_mu + torch.exp(z_log_sigma) * noise
                z_mus.append(z_mu)
                z_log_sigmas.append(z_log_sigma)
                dec_state = self.rnn_dec(z_t, dec_state)
                h_dec_t = dec_state
                canvas.append(canvas[-1] + self.write(h_dec_t))
            loss_zs = [torch.sum(torch.square(m) + torch.square(torch.exp(s)) - 2 * s, 1)
                       for m, s in zip(z_mus, z_log_sigmas)]
            self.loss_z = torch.mean(0.5 * torch.stack(loss_zs, 0).sum(0) - T * 0.5)
            return torch.sigmoid(canvas[-1])  # x_recon

    def binary_cross_entropy(t, o, eps=1e-10):
        return -(t * torch.log(o + eps) + (1.0 - t) * torch.log(1.0 - o + eps))

    model = DRAW()

    # the lead's edit: the helper's loss_fn added ``model.loss_z`` of the model object it closed over, which a
    # check's copy never sets (the check trains a copy); as SpyTorch's port does, loss_fn is the reconstruction
    # term and the loop body (train_step, given the copy) adds the copy's KL term: cost = loss_x + loss_z
    def loss_fn(x_recon, x_t):  # loss_x
        return torch.mean(torch.sum(binary_cross_entropy(x_t, x_recon), 1))

    def train_step(net, optimizer, loss_fn, x_local, y_local):  # the loop body: cost = loss_x + loss_z
        x_recon = net(x_local)
        cost = loss_fn(x_recon, y_local) + net.loss_z
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        return cost

    class ClippedAdam(torch.optim.Adam):  # grads[i] = (tf.clip_by_norm(g, 5), v); opt.apply_gradients(grads)
        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        norm = p.grad.norm()
                        if norm > clip:
                            p.grad.mul_(clip / norm)
            return super().step(closure)

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(x[:batch_size]),
            "loss_fn": loss_fn, "train_step": train_step, "optimizer": lambda p: ClippedAdam(p, lr=learning_rate)}


def _keras(x: np.ndarray, batches: list) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    def linear(n_output, name):
        return layers.Dense(n_output, kernel_initializer="glorot_uniform", bias_initializer="zeros", name=name)

    def create_filterbank(g_x, g_y, log_sigma_sq, log_delta, N):
        g_x = (A + 1) / 2 * (g_x + 1)
        g_y = (B + 1) / 2 * (g_y + 1)
        delta = (max(A, B) - 1) / (N - 1) * ops.exp(log_delta)
        ns = ops.expand_dims(ops.cast(ops.arange(N), "float32"), 0)
        mu_x = ops.reshape(g_x + (ns - N / 2 - 0.5) * delta, (-1, N, 1))
        mu_y = ops.reshape(g_y + (ns - N / 2 - 0.5) * delta, (-1, N, 1))
        sigma_sq = ops.reshape(ops.exp(log_sigma_sq), (-1, 1, 1))
        xs = ops.reshape(ops.cast(ops.arange(B), "float32"), (1, 1, -1))
        ys = ops.reshape(ops.cast(ops.arange(A), "float32"), (1, 1, -1))
        F_x = ops.exp(-ops.square(xs - mu_x) / (2 * sigma_sq))
        F_y = ops.exp(-ops.square(ys - mu_y) / (2 * sigma_sq))
        epsilon = 1e-10
        F_x = F_x / ops.maximum(ops.sum(F_x, 2, keepdims=True), epsilon)
        F_y = F_y / ops.maximum(ops.sum(F_y, 2, keepdims=True), epsilon)
        return F_x, F_y

    def filter_image(img, F_x, F_y, log_gamma, N, inverted=False):
        gamma = ops.exp(log_gamma)
        if inverted:
            F_y = ops.transpose(F_y, (0, 2, 1))
            gamma = 1.0 / gamma
            img = ops.reshape(img, (-1, N, N, C))
        else:
            F_x = ops.transpose(F_x, (0, 2, 1))
            img = ops.reshape(img, (-1, A, B, C))
        img = ops.transpose(img, (0, 3, 1, 2))  # the per-channel loop, batched
        glimpse = ops.matmul(ops.expand_dims(F_y, 1), ops.matmul(img, ops.expand_dims(F_x, 1)))
        glimpse = ops.transpose(glimpse, (0, 2, 3, 1))
        glimpse = ops.reshape(glimpse, (ops.shape(glimpse)[0], -1))
        return glimpse * ops.reshape(gamma, (-1, 1))

    class DRAW(keras.Model):
        def __init__(self):
            super().__init__()
            self.rnn_enc = layers.GRUCell(n_enc, name="encoder")
            self.rnn_dec = layers.GRUCell(n_dec, name="decoder")
            self.read_attention = linear(5, "read_attention")
            self.mu = linear(n_z, "mu")
            self.log_sigma = linear(n_z, "log_sigma")
            self.write_w = linear(write_n * write_n * C, "write_w")
            self.write_attention = linear(5, "write_attention")
            self.seed_gen = keras.random.SeedGenerator(0)

        def read(self, x_t, x_hat_t, h_dec_t):
            g_x, g_y, log_sigma_sq, log_delta, log_gamma = ops.split(self.read_attention(h_dec_t), 5, axis=1)
            F_x, F_y = create_filterbank(g_x, g_y, log_sigma_sq, log_delta, read_n)
            return ops.concatenate([filter_image(x_t, F_x, F_y, log_gamma, read_n),
                                    filter_image(x_hat_t, F_x, F_y, log_gamma, read_n)], axis=1)

        def write(self, h_dec_t):
            w_t = self.write_w(h_dec_t)
            g_x, g_y, log_sigma_sq, log_delta, log_gamma = ops.split(self.write_attention(h_dec_t), 5, axis=1)
            F_x, F_y = create_filterbank(g_x, g_y, log_sigma_sq, log_delta, write_n)
            return filter_image(w_t, F_x, F_y, log_gamma, write_n, inverted=True)

        def call(self, x):
            n = ops.shape(x)[0]
            noise = keras.random.normal((n, n_z), seed=self.seed_gen)
            canvas = [ops.zeros((n, A * B * C))]
            h_dec_t = ops.zeros((n, n_dec))
            enc_state, dec_state = [ops.zeros((n, n_enc))], [ops.zeros((n, n_dec))]
            z_mus, z_log_sigmas = [], []
            for t_i in range(1, T):
                x_hat_t = x - ops.sigmoid(canvas[t_i - 1])
                r_t = self.read(x, x_hat_t, h_dec_t)
                h_enc_t, enc_state = self.rnn_enc(ops.concatenate([r_t, h_dec_t], axis=1), enc_state)
                z_mu, z_log_sigma = self.mu(h_enc_t), self.log_sigma(h_enc_t)
                z_t = z_mu + ops.exp(z_log_sigma) * noise
                z_mus.append(z_mu)
                z_log_sigmas.append(z_log_sigma)
                h_dec_t, dec_state = self.rnn_dec(z_t, dec_state)
                canvas.append(canvas[-1] + self.write(h_dec_t))
            loss_zs = [ops.sum(ops.square(m) + ops.square(ops.exp(s)) - 2 * s, 1)
                       for m, s in zip(z_mus, z_log_sigmas)]
            self.add_loss(ops.mean(0.5 * ops.sum(ops.stack(loss_zs, 0), 0) - T * 0.5))
            return ops.sigmoid(canvas[-1])

    def loss_x(x_t, x_recon, eps=1e-10):  # mean over the batch of the summed binary_cross_entropy
        return ops.sum(-(x_t * ops.log(x_recon + eps) + (1.0 - x_t) * ops.log(1.0 - x_recon + eps)), axis=1)

    model = DRAW()
    model.build((None, A * B * C))
    model.compile(loss=loss_x, optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clip))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:batch_size]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, double=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, double=False)
