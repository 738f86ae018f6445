"""encode-attend-navigate-pytorch (astariul), a PyTorch translation of Deudon et al.'s TF 1.x "Learning Heuristics
for the TSP by Policy Gradient" (MichelDeudon/encode-attend-navigate): an actor-critic for the travelling salesman
problem. ``Agent`` embeds the city coordinates (``Embedding``: Linear(2, 128, bias=False) + BatchNorm1d), encodes
them with a multi-head self-attention + feed-forward stack (ReLU q/k/v, 16 heads, BatchNorm instead of LayerNorm),
and the ``Decoder`` samples a tour city by city from a ``Pointer`` (``10 * tanh`` clipped scores, visited cities
masked out by subtracting 1e8; the query is built from the last 3 chosen cities); a ``Critic`` (attention
"glimpse" -> Linear(128, 256) -> ReLU -> Linear(256, 1)) predicts the tour length from the same encoder states.
``Trainer.train_step`` computes the reward (tour length, to be minimised) with ``reward_fn``, the REINFORCE loss
with the critic as baseline and the critic's MSE, backpropagates their sum through the shared network, clips the
global grad norm to ``grad_clip`` = 1 and steps one ``Adam(lr)`` over all parameters.
The fault: the baseline is not detached in the policy loss,
``loss1 = ((reward - critique) * log_probs).mean()`` (buggy) vs
``loss1 = ((reward - critique).detach() * log_probs).mean()`` (fixed), next to ``loss2 = F.mse_loss(reward,
critique)``. The policy-gradient term then also trains the critic (and, through it, the shared encoder): its
gradient with respect to each prediction is ``-log_probs / B``, and ``log_probs`` (the sum of the tour's 20
log-probabilities, about -20 at the start) is always negative, so it pushes every prediction down; the two terms
balance at ``reward - critique = -log_probs / 2`` (about 10, i.e. a critic that predicts negative tour lengths)
instead of ``critique = reward``. The baseline is then a constant offset, every sampled tour gets a large positive
"advantage" whatever its length, and the huge critic gradients dominate the clipped global norm. Issue #2
("Critic not detached from policy loss", the TF original has ``tf.stop_gradient(self.reward-self.predictions)``);
PR #3: "Because critic values were not detached when computing policy loss, the critic network was backpropagated
from both the policy loss and critic loss, leading to unstable training ... With this PR, we can reproduce the
official repo's results" (the README's earlier note, "the difference of score between 'RL only' and 'RL + 2-opt'
is more important than the original repository. I'm still trying to find the issue", was removed with the fix).
The bug is the PyTorch port's own: the TF original it translates stopped the gradient.

Source: github.com/astariul/encode-attend-navigate-pytorch issue #2, PR #3 "Fix gradients & reproduce results";
buggy ``trainer.py``, ``agent.py``, ``module.py``, ``data.py``, ``config.yaml``, ``README.md`` at 5870c16^
(d3eddd8), fixed by 5870c16d408eab2a12ed0dad12b7df11162f77f7 ":bug: Fix gradients bug" (the one line above),
merged as 64e76ae.
Program lines kept: ``Embedding``, ``MultiHeadAttention``, ``FeedForward``, ``Encoder``, ``Pointer``,
``FullGlimpse``, ``Decoder``, ``Critic`` (module.py), ``Agent`` (agent.py), ``reward_fn`` and the body of
``Trainer.train_step`` (trainer.py: zero_grad, forward, reward, loss1 + loss2, backward,
``clip_grad_norm_(..., grad_clip)``, step), ``DataGenerator.gen_instance`` (data.py: ``np.random.rand(max_length,
dimension)`` then a per-instance ``PCA(n_components=dimension).fit_transform`` that centres and rotates the
cities), config.yaml's architecture (embed 128, ff 512, 16 heads, query 360, attention 256, critic 256, history 3,
grad_clip 1) with the README's "expected results" command ``python main.py enc_stacks=1 lr=0.0002
p_dropout=0.1``.
Ported minimally: ``PackedAgent`` returns the agent's outputs as one tensor ``[critique, log_probs, tour (as
float)]`` of shape (B, 2 + 21), and ``loss_fn(outputs, coords)`` holds the reward and the two loss lines (the
targets are the city coordinates themselves, which the reward needs); ``train_step`` is the trainer's step. Left
out: the ``ExponentialLR(gamma=1 - 0.96/5000)`` stepped each step (lr x0.93 over 400 steps; the step signature has
no scheduler), wandb logging, the 2-opt test. Shrunk for CPU time: ``batch_size`` 256 -> 32 and ``max_len`` 50 ->
20 (TSP20, one of the paper's problem sizes; the decoder samples one city per step in a Python loop, so a
256 x 50 step with 3 encoder stacks took 6-10 s on one CPU thread here). Instances come from 8 fixed
seeded batches instead of a fresh ``train_batch`` every step.
Keras twin, written as equivalently as possible: one subclassed ``keras.Model`` with the same layers (Dense with
nn.Linear's U(+-1/sqrt(fan_in)) init, ``BatchNormalization(epsilon=1e-3, momentum=0.99)`` = torch momentum 0.01,
the same split-heads-into-the-batch attention with dropout 0.1, the pointer / glimpse vectors as weights, tours
sampled with ``keras.random.categorical``) returning the same (B, 23) tensor, compiled with
``Adam(2e-4, global_clipnorm=1)`` (``clip_grad_norm_`` clips the global norm) and a loss giving each instance
``(reward - critique) * log_probs + (reward - critique) ** 2`` (Keras' batch mean = the program's two means);
the fix wraps ``reward - critique`` in ``ops.stop_gradient``. y is the coordinates flattened to (B, 40).
Data stand-in: the program generates its own data (random uniform cities, PCA-centred); the module draws 8 x 32
instances of 20 cities with ``np.random.RandomState(0)`` through the program's own generator lines (coordinates
about -0.7..0.7, centred). x: float32 (32, 20, 2); y: the same coordinates (torch) / flattened (Keras).
Fault label: other:critic_baseline_not_detached (a missing detach/stop-gradient on the baseline of a policy
gradient: the actor's loss trains the critic toward a wrong value and the policy stops improving).
Fix (5870c16): ``loss1 = ((reward - critique).detach() * log_probs).mean()``.
Symptom in a short loop (the trainer's step -- zero_grad, loss, backward, clip 1, Adam 2e-4 -- cycling over the 8
batches, OMP_NUM_THREADS=1, seeds 0; numbers are means over 25 steps of the sampled tour length, the critic's
prediction and the critic MSE): torch, 400 steps: fixed tour 7.14 (steps 0-25) -> 5.04 (100-125) -> 4.29
(375-400; the untrained policy starts at 8.10, random TSP20 tours are ~10.4 and optimal ones ~3.8), critic 1.4 ->
4.27 tracking the reward, critic MSE 35 -> 0.14, grad norm before clipping 163 -> 7; buggy tour 7.29 -> 6.77 ->
6.49, oscillating between 6.1 and 7.5 without converging, critic -1.1 -> -3.9 -> -1.5 (negative tour lengths),
critic MSE 72 -> 131 -> 65, grad norm 77-280 throughout. One batch repeated 200 times: fixed tour 7.14 -> 4.86,
critic MSE 0.21; buggy 7.21 -> 7.22, critic -3.1, critic MSE 108. The summed loss is a REINFORCE surrogate, not a
quantity that should fall: it starts at -168 in both and rises, to about -0.5 (fixed) and -69 (buggy). Keras
twin (``train_on_batch``), 400 steps: fixed tour 8.01 -> 5.12 -> 4.27, critic MSE 49 -> 0.15; buggy 8.09 ->
7.46 -> 8.18 (6.2-8.2 in between), critic -0.8 -> -2.7, critic MSE 79 -> 120. A torch step takes ~80 ms alone and
~200 ms on the two shared, busy CPU cores; a Keras step ~180-190 ms there.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:critic_baseline_not_detached"
SOURCE = ("github:astariul/encode-attend-navigate-pytorch issue #2, PR #3 (trainer.py Trainer.train_step@5870c16^, "
          "agent.py, module.py, data.py, config.yaml, README.md; fix 5870c16d408eab2a12ed0dad12b7df11162f77f7, "
          "merge 64e76ae)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("not_constant_predictions", {})]

# config.yaml with the README's "expected results" command (enc_stacks=1 lr=0.0002 p_dropout=0.1);
# batch_size 256 -> 32 and max_len 50 -> 20 for CPU time (see the docstring)
embed_hidden = 128
enc_stacks = 1
ff_hidden = 512
enc_heads = 16
query_hidden = 360
att_hidden = 256
crit_hidden = 256
n_history = 3
p_dropout = 0.1
batch_size = 32
max_len = 20
dimension = 2
lr = 0.0002
grad_clip = 1
n_batches = 8
LARGE_NUMBER = 100_000_000


@functools.lru_cache(maxsize=1)
def _instances(seed: int = 0) -> np.ndarray:
    """data.py DataGenerator.train_batch / gen_instance (seeded): n_batches * batch_size random TSP instances,
    ``max_len`` cities uniform in [0, 1]^2, centred and rotated by a PCA fit per instance."""
    from sklearn.decomposition import PCA

    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n_batches * batch_size):
        sequence = rng.rand(max_len, dimension)  # (max_length) cities with (dimension) coordinates in [0,1]
        pca = PCA(n_components=dimension)  # center & rotate coordinates
        sequence = pca.fit_transform(sequence)
        out.append(sequence)
    return np.asarray(out, dtype="float32")


def _torch(fix: bool) -> dict[str, Any]:
    import math

    import torch
    import torch.distributions as distrib
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    # ---- module.py (program lines) ----
    class Embedding(nn.Module):
        def __init__(self, in_dim, out_dim, batch_norm=True):
            super().__init__()
            self.dense = nn.Linear(in_dim, out_dim, bias=False)
            self.batch_norm = (
                nn.BatchNorm1d(out_dim, eps=0.001, momentum=0.01)
                if batch_norm
                else nn.Identity()
            )   # (Use TF default parameter, for consistency with original code)

        def forward(self, x):
            # x : [bs, seq, in_dim]
            emb_x = self.dense(x)   # [bs, out_dim, seq]
            return self.batch_norm(emb_x.transpose(1, 2)).transpose(1, 2)

    class MultiHeadAttention(nn.Module):
        def __init__(self, n_hidden=512, num_heads=16, p_dropout=0.1):
            super().__init__()
            if n_hidden % num_heads != 0:
                raise ValueError("`n_hidden` ({}) should be a multiple of `num_heads` ({})".format(n_hidden, num_heads))
            self.q = nn.Linear(n_hidden, n_hidden)
            self.k = nn.Linear(n_hidden, n_hidden)
            self.v = nn.Linear(n_hidden, n_hidden)
            self.dropout = nn.Dropout(p_dropout)
            self.batch_norm = nn.BatchNorm1d(n_hidden, eps=0.001, momentum=0.01)
            self.num_heads = num_heads

        def forward(self, inputs):
            # inputs : [bs, seq, n_hidden]
            bs, _, n_hidden = inputs.size()
            # Linear projections
            q = F.relu(self.q(inputs))
            k = F.relu(self.k(inputs))
            v = F.relu(self.v(inputs))
            # Split and concat
            q_ = torch.cat(torch.split(q, n_hidden // self.num_heads, dim=2))
            k_ = torch.cat(torch.split(k, n_hidden // self.num_heads, dim=2))
            v_ = torch.cat(torch.split(v, n_hidden // self.num_heads, dim=2))
            # Multiplication
            outputs = torch.matmul(q_, torch.transpose(k_, 2, 1))
            # Scale
            outputs = outputs / (k_.size(-1) ** 0.5)
            # Activation
            outputs = F.softmax(outputs, dim=-1)
            # Dropout
            outputs = self.dropout(outputs)
            # Weighted sum
            outputs = torch.matmul(outputs, v_)
            # Restore shape
            outputs = torch.cat(torch.split(outputs, bs), dim=2)
            # Residual connection
            outputs += inputs
            # Normalize
            outputs = self.batch_norm(outputs.transpose(1, 2)).transpose(1, 2)
            return outputs

    class FeedForward(nn.Module):
        def __init__(self, layers_size=[512, 2048, 512]):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(in_size, out_size)
                                         for in_size, out_size in zip(layers_size[:-1], layers_size[1:])])
            self.batch_norm = nn.BatchNorm1d(layers_size[-1], eps=0.001, momentum=0.01)

        def forward(self, inputs):
            # inputs : [bs, seq, n_hidden]
            outputs = inputs
            for i, layer in enumerate(self.layers):
                outputs = layer(outputs)
                if i < len(self.layers) - 1:
                    outputs = F.relu(outputs)
            # Residual connection
            outputs += inputs
            # Normalize
            outputs = self.batch_norm(outputs.transpose(1, 2)).transpose(1, 2)
            return outputs

    class Encoder(nn.Module):
        def __init__(self, num_layers=3, n_hidden=512, ff_hidden=2048, num_heads=16, p_dropout=0.1):
            super().__init__()
            self.multihead_attention = nn.ModuleList([MultiHeadAttention(n_hidden, num_heads, p_dropout)
                                                      for _ in range(num_layers)])
            self.ff = nn.ModuleList([FeedForward(layers_size=[n_hidden, ff_hidden, n_hidden])
                                     for _ in range(num_layers)])

        def forward(self, input_seq):
            for att, ff in zip(self.multihead_attention, self.ff):
                input_seq = ff(att(input_seq))
            return input_seq

    class Pointer(nn.Module):
        def __init__(self, query_dim=256, n_hidden=512):
            super().__init__()
            self.w_q = nn.Linear(query_dim, n_hidden, bias=False)
            self.v = nn.Parameter(torch.Tensor(n_hidden))
            self.reset_parameters()

        def reset_parameters(self):
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.w_q.weight)
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.v, -bound, bound)    # Similar to a bias of Linear layer

        def forward(self, encoded_ref, query, mask, c=10, temp=1):
            encoded_query = self.w_q(query).unsqueeze(1)
            scores = torch.sum(self.v * torch.tanh(encoded_ref + encoded_query), dim=-1)
            scores = c * torch.tanh(scores / temp)
            masked_scores = torch.clip(scores - LARGE_NUMBER * mask, -LARGE_NUMBER, LARGE_NUMBER)
            return masked_scores

    class FullGlimpse(nn.Module):
        def __init__(self, in_dim=128, out_dim=256):
            super().__init__()
            self.dense = nn.Linear(in_dim, out_dim, bias=False)
            self.v = nn.Parameter(torch.Tensor(out_dim))
            self.reset_parameters()

        def reset_parameters(self):
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.dense.weight)
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.v, -bound, bound)    # Similar to a bias of Linear layer

        def forward(self, ref):
            # Attention
            encoded_ref = self.dense(ref)
            scores = torch.sum(self.v * torch.tanh(encoded_ref), dim=-1)
            attention = F.softmax(scores, dim=-1)
            # Glimpse : Linear combination of reference vectors (define new query vector)
            glimpse = ref * attention.unsqueeze(-1)
            glimpse = torch.sum(glimpse, dim=1)
            return glimpse

    class Decoder(nn.Module):
        def __init__(self, n_hidden=512, att_dim=256, query_dim=360, n_history=3):
            super().__init__()
            self.dense = nn.Linear(n_hidden, att_dim, bias=False)
            self.n_history = n_history
            self.queriers = nn.ModuleList([nn.Linear(n_hidden, query_dim, bias=False) for _ in range(n_history)])
            self.pointer = Pointer(query_dim, att_dim)

        def forward(self, inputs, c=10, temp=1):
            batch_size, seq_len, hidden = inputs.size()
            idx_list, log_probs, entropies = [], [], []  # Tours index, log_probs, entropies
            mask = torch.zeros([batch_size, seq_len], device=inputs.device)  # Mask for actions
            encoded_input = self.dense(inputs)
            prev_actions = [torch.zeros([batch_size, hidden], device=inputs.device) for _ in range(self.n_history)]
            for _ in range(seq_len):
                query = F.relu(
                    torch.stack(
                        [
                            querier(prev_action)
                            for prev_action, querier in zip(prev_actions, self.queriers)
                        ]
                    ).sum(dim=0)
                )
                logits = self.pointer(encoded_input, query, mask, c=c, temp=temp)
                probs = distrib.Categorical(logits=logits)
                idx = probs.sample()
                idx_list.append(idx)  # Tour index
                log_probs.append(probs.log_prob(idx))
                entropies.append(probs.entropy())
                mask = mask + torch.zeros([batch_size, seq_len], device=inputs.device).scatter_(1, idx.unsqueeze(1), 1)
                action_rep = inputs[torch.arange(batch_size), idx]
                prev_actions.pop(0)
                prev_actions.append(action_rep)
            idx_list.append(idx_list[0])  # Return to start
            tour = torch.stack(idx_list, dim=1)  # Permutations
            log_probs = sum(log_probs)  # log-probs for backprop (Reinforce)
            entropies = sum(entropies)
            return tour, log_probs, entropies

    class Critic(nn.Module):
        def __init__(self, n_hidden=128, att_hidden=256, crit_hidden=256):
            super().__init__()
            self.glimpse = FullGlimpse(n_hidden, att_hidden)
            self.hidden = nn.Linear(n_hidden, crit_hidden)
            self.output = nn.Linear(crit_hidden, 1)

        def forward(self, inputs):
            frame = self.glimpse(inputs)
            hidden_out = F.relu(self.hidden(frame))
            preds = self.output(hidden_out).squeeze()
            return preds

    # ---- agent.py (program lines) ----
    class Agent(nn.Module):
        def __init__(self, space_dim=2, embed_hidden=128, enc_stacks=3, ff_hidden=512, enc_heads=16,
                     query_hidden=360, att_hidden=256, crit_hidden=256, n_history=3, p_dropout=0.1):
            super().__init__()
            # Actor
            self.embedding = Embedding(in_dim=space_dim, out_dim=embed_hidden)
            self.encoder = Encoder(num_layers=enc_stacks, n_hidden=embed_hidden, ff_hidden=ff_hidden,
                                   num_heads=enc_heads, p_dropout=p_dropout)
            self.decoder = Decoder(n_hidden=embed_hidden, att_dim=att_hidden, query_dim=query_hidden,
                                   n_history=n_history)
            # Critic
            self.critic = Critic(n_hidden=embed_hidden, att_hidden=att_hidden, crit_hidden=crit_hidden)

        def forward(self, inputs, c=10, temp=1):
            embed_inp = self.embedding(inputs)
            encoder_hidden = self.encoder(embed_inp)
            tour, log_probs, entropies = self.decoder(encoder_hidden)
            critique = self.critic(encoder_hidden)
            return tour, critique, log_probs, entropies

    class PackedAgent(Agent):  # port: one output tensor [critique, log_probs, tour (as float)]
        def forward(self, inputs):
            tour, critique, log_probs, _ = super().forward(inputs)
            return torch.cat([critique.reshape(-1, 1), log_probs.reshape(-1, 1), tour.float()], dim=1)

    # ---- trainer.py (program lines) ----
    def reward_fn(coords, tour):
        dim = coords.size(-1)
        ordered_coords = torch.gather(coords, 1, tour.long().unsqueeze(-1).repeat(1, 1, dim))
        ordered_coords = ordered_coords.transpose(0, 2)   # [dim, seq_len, batch_size]
        # For each dimension (x, y), compute the squared difference between each city
        delta2 = [torch.square(d[1:] - d[:-1]).transpose(0, 1) for d in ordered_coords]
        # Euclidian distance between each city
        inter_city_distances = torch.sqrt(sum(delta2))
        distance = inter_city_distances.sum(dim=-1)
        return distance.float()

    def loss_fn(outputs, data):  # Trainer.train_step: reward and the two losses
        critique, log_probs, tour = outputs[:, 0], outputs[:, 1], outputs[:, 2:]
        # Compute reward
        reward = reward_fn(data, tour)
        # Compute losses for both actor (reinforce) and critic
        if fix:  # 5870c16
            loss1 = ((reward - critique).detach() * log_probs).mean()
        else:
            loss1 = ((reward - critique) * log_probs).mean()
        loss2 = F.mse_loss(reward, critique)
        return loss1 + loss2

    def train_step(model, optimizer, loss_fn, data, target):  # Trainer.train_step (no lr scheduler)
        model.train()
        optimizer.zero_grad()
        # Forward pass, reward, losses
        loss = loss_fn(model(data), target)
        # Backward pass
        loss.backward()
        # Clip gradients
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        # Optimize
        optimizer.step()
        return loss

    model = PackedAgent(embed_hidden=embed_hidden, enc_stacks=enc_stacks, ff_hidden=ff_hidden, enc_heads=enc_heads,
                        query_hidden=query_hidden, att_hidden=att_hidden, crit_hidden=crit_hidden,
                        n_history=n_history, p_dropout=p_dropout)
    data = torch.tensor(_instances())
    tb = [(data[i * batch_size:(i + 1) * batch_size], data[i * batch_size:(i + 1) * batch_size])
          for i in range(n_batches)]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": data, "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params=params, lr=lr), "train_step": train_step}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    def dense(n_in, n_out, use_bias=True, activation=None):  # nn.Linear's default init: U(+-1/sqrt(fan_in))
        bound = 1.0 / np.sqrt(n_in)
        return layers.Dense(n_out, use_bias=use_bias, activation=activation,
                            kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    def batch_norm():  # nn.BatchNorm1d(eps=0.001, momentum=0.01) over the feature axis (TF defaults)
        return layers.BatchNormalization(epsilon=0.001, momentum=0.99)

    class Agent(keras.Model):  # agent.py + module.py as one Keras model; output [critique, log_probs, tour]
        def __init__(self):
            super().__init__()
            self.embed_dense, self.embed_bn = dense(dimension, embed_hidden, use_bias=False), batch_norm()
            self.att = []
            for _ in range(enc_stacks):
                self.att.append(dict(q=dense(embed_hidden, embed_hidden), k=dense(embed_hidden, embed_hidden),
                                     v=dense(embed_hidden, embed_hidden), drop=layers.Dropout(p_dropout),
                                     bn=batch_norm(), ff1=dense(embed_hidden, ff_hidden, activation="relu"),
                                     ff2=dense(ff_hidden, embed_hidden), ff_bn=batch_norm()))
            self.dec_dense = dense(embed_hidden, att_hidden, use_bias=False)
            self.queriers = [dense(embed_hidden, query_hidden, use_bias=False) for _ in range(n_history)]
            self.w_q = dense(query_hidden, att_hidden, use_bias=False)
            b = 1.0 / np.sqrt(query_hidden)
            self.ptr_v = self.add_weight(shape=(att_hidden,), initializer=keras.initializers.RandomUniform(-b, b),
                                         name="pointer_v")
            self.glimpse_dense = dense(embed_hidden, att_hidden, use_bias=False)
            b = 1.0 / np.sqrt(embed_hidden)
            self.glimpse_v = self.add_weight(shape=(att_hidden,), initializer=keras.initializers.RandomUniform(-b, b),
                                             name="glimpse_v")
            self.crit_hidden = dense(embed_hidden, crit_hidden, activation="relu")
            self.crit_out = dense(crit_hidden, 1)
            self.seed_gen = keras.random.SeedGenerator(0)

        def call(self, inputs, training=False):
            x = self.embed_bn(self.embed_dense(inputs), training=training)
            bs = ops.shape(x)[0]
            for a in self.att:  # MultiHeadAttention then FeedForward
                q, k, v = ops.relu(a["q"](x)), ops.relu(a["k"](x)), ops.relu(a["v"](x))
                q_ = ops.concatenate(ops.split(q, enc_heads, axis=2), axis=0)
                k_ = ops.concatenate(ops.split(k, enc_heads, axis=2), axis=0)
                v_ = ops.concatenate(ops.split(v, enc_heads, axis=2), axis=0)
                o = ops.matmul(q_, ops.transpose(k_, (0, 2, 1))) / (embed_hidden // enc_heads) ** 0.5
                o = a["drop"](ops.softmax(o, axis=-1), training=training)
                o = ops.concatenate(ops.split(ops.matmul(o, v_), enc_heads, axis=0), axis=2)
                x = a["bn"](o + x, training=training)
                x = a["ff_bn"](a["ff2"](a["ff1"](x)) + x, training=training)
            # Decoder (pointer with a memory of the n_history last cities, sampled tour)
            seq_len = max_len
            mask = ops.zeros((bs, seq_len))
            encoded_input = self.dec_dense(x)
            prev_actions = [ops.zeros((bs, embed_hidden)) for _ in range(n_history)]
            idx_list, log_probs = [], 0.0
            for _ in range(seq_len):
                query = ops.relu(sum(qr(pa) for pa, qr in zip(prev_actions, self.queriers)))
                scores = ops.sum(self.ptr_v * ops.tanh(encoded_input + ops.expand_dims(self.w_q(query), 1)), axis=-1)
                scores = 10.0 * ops.tanh(scores)
                logits = ops.clip(scores - LARGE_NUMBER * mask, -LARGE_NUMBER, LARGE_NUMBER)
                idx = ops.cast(keras.random.categorical(logits, 1, seed=self.seed_gen)[:, 0], "int32")
                one_hot = ops.one_hot(idx, seq_len)
                log_probs = log_probs + ops.sum(ops.log_softmax(logits, axis=-1) * one_hot, axis=-1)
                idx_list.append(idx)
                mask = mask + one_hot
                prev_actions = prev_actions[1:] + [ops.sum(x * ops.expand_dims(one_hot, -1), axis=1)]
            idx_list.append(idx_list[0])  # Return to start
            tour = ops.cast(ops.stack(idx_list, axis=1), "float32")
            # Critic (FullGlimpse, hidden, output)
            att = ops.softmax(ops.sum(self.glimpse_v * ops.tanh(self.glimpse_dense(x)), axis=-1), axis=-1)
            glimpse = ops.sum(x * ops.expand_dims(att, -1), axis=1)
            critique = self.crit_out(self.crit_hidden(glimpse))
            return ops.concatenate([critique, ops.expand_dims(log_probs, 1), tour], axis=1)

    def actor_critic_loss(y_true, y_pred):  # y_true: the coordinates, flattened; per-instance loss1 + loss2
        critique, log_probs, tour = y_pred[:, 0], y_pred[:, 1], ops.cast(y_pred[:, 2:], "int32")
        coords = ops.reshape(y_true, (-1, max_len, dimension))
        ordered = ops.take_along_axis(coords, ops.repeat(ops.expand_dims(tour, -1), dimension, axis=-1), axis=1)
        reward = ops.sum(ops.sqrt(ops.sum(ops.square(ordered[:, 1:] - ordered[:, :-1]), axis=-1)), axis=1)
        if fix:
            loss1 = ops.stop_gradient(reward - critique) * log_probs
        else:
            loss1 = (reward - critique) * log_probs
        return loss1 + ops.square(reward - critique)

    data = _instances()
    model = Agent()
    model(data[:batch_size])
    model.compile(loss=actor_critic_loss,
                  optimizer=keras.optimizers.Adam(learning_rate=lr, global_clipnorm=grad_clip))
    batches = [(data[i * batch_size:(i + 1) * batch_size],
                data[i * batch_size:(i + 1) * batch_size].reshape(batch_size, -1)) for i in range(n_batches)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": data}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fix=False) if framework == "torch" else _keras(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fix=True) if framework == "torch" else _keras(fix=True)
