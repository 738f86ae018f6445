"""user683/DRGO (distributionally robust graph recommendation: a VGAE encodes a user-item graph, a diffusion model
denoises the node embeddings, LightGCN is trained on groups built from them). ``main.py`` ``Coach.train_model``
starts every epoch with one pretraining step on the whole training graph: ``batch_latent =
VGAE_model.encoder(node_features, edge_index)`` (three ``GCNConv(64, 64)``, reparametrised sample), ``diffusion_terms =
Diffusion_model.caculate_losses(MLP_model, batch_latent, args.reweight)`` (uniform timestep, forward noising, the
denoiser predicts x0, MSE weighted by SNR(t - 1) - SNR(t)), ``logits = VGAE_model.decoder(diffusion_terms[
"pred_xstart"])`` (sigmoid(z z^T)), ``total_pretrain_loss = elbo_loss + kl_weight * vgae_loss`` (weighted BCE
against the adjacency minus the KL term), then ``zero_grad`` / ``backward`` / ``step`` on ``VGAE_optimizer`` and
``MLP_optimizer`` (both Adam, lr 1e-3, weight_decay 0). The denoiser ``models/MLP_model.py`` ``MLP`` (DiffRec's
DNN): normalise and drop out (p 0.5) the noisy embedding, concatenate a 16-wide sinusoidal timestep embedding passed
through ``emb_layer``, ``Linear(80, 64)`` + tanh, ``Linear(64, 64)``.

The fault (a forward pass that cuts its own graph): ``MLP.forward`` detaches the hidden state before and after every
layer: ``h = layer(h.detach())`` and ``h = torch.tanh(h.detach())`` in the input block, the same in the output
block. The tanh after the first layer is applied to a detached copy of that layer's output, so nothing computed
before the last ``Linear`` is part of the graph that reaches the loss: ``emb_layer`` and ``in_layers[0]`` get no
gradient at all (their ``.grad`` stays None and Adam never moves them; they keep their random init for the whole
run), and the loss cannot reach the VGAE encoder through the denoiser's input either, so the decoder's
reconstruction term trains the last denoiser layer only and the encoder sees the denoiser only as a moving MSE
target. The denoiser degrades to random tanh features of the noisy embedding plus a trained linear read-out.
Reported in issue #1 ("The forward function of the denoise model has h.detach() in each of the linear layers. This
prevent the model to backpropagate when training, why do we want an untrained model to denoise"); the maintainer:
the detach was "temporarily added during our debugging process and was accidentally left in when uploading ... we
will correct this error ... It should be ``h = torch.tanh(h)``". No fixing commit is in the repository as of its
latest snapshot (cb213e7, 2025-06-08, the file unchanged since 8948440); the fix used here is the maintainer's:
every ``.detach()`` in the loop removed (``h = layer(h)``, ``h = torch.tanh(h)``), which is DiffRec's DNN forward.

Source: github.com/user683/DRGO ``models/MLP_model.py`` at cb213e73b209e16dabc8a9ced98c4f84ce57c9fc (the latest
snapshot; the file came in with bc1eed4976f3b3e925a24514b256008bd3750a59 and last changed in
89484407f1e96614c422c05f8275e04a18482a43), ``main.py`` (``Coach.__init__`` / ``train_model`` pretraining step),
``models/diffusion_model.py`` (``DiffusionProcess``: ``betas_num``, ``caculate_losses``, ``forward_process``,
``SNR``, ``_extract_into_tensor``, ``betas_from_linear_variance``, ``mean_flat``), ``models/Vgae.py``,
``utils/loss_functions.py`` (``compute_vgae_loss``), ``utils/functions.py`` (``compute_loss_para``), ``parse.py``
(defaults), and ``data_process/feature_process.py`` (node features); issue #1 (2025-04-17), fix per the
maintainer's answer there.
Fault label: no_gradient (detach() on every hidden state of the denoiser: all of it but the last Linear, and the
encoder path through it, get no gradient).

Program lines kept: ``MLP`` (constructor, ``init_weights``, ``forward`` with the four ``.detach()`` lines in the
buggy version, ``norm=True``, dropout 0.5), ``timestep_embedding``, the ``DiffusionProcess`` methods above
(``caculate_losses`` as written, ``reweight=True``: ``loss = mse`` weighted by ``SNR(ts - 1) - SNR(ts)``, 1 at
t = 0; float64 weights, so the loss is float64 as in the program), ``Vgae.encoder`` / ``decoder``,
``compute_vgae_loss``, ``compute_loss_para``, the pretraining step's sequence of calls, the dimensions
(``Vgae(64, 64, 64)``, ``output_dimensions = [args.dims] + [args.n_hid]`` = [64, 64], ``emb_size`` 16) and the
diffusion settings (100 steps, ``linear-var``, noise scale 0.1, min 1e-4, max 0.02). Nothing was shrunk.
Replaced, and why: torch_geometric's ``GCNConv`` (not installed) by a 20-line equivalent (self-loops, symmetric
normalisation by in-degree + 1, Glorot weight, zero bias); ``Vgae.decoder_mlp`` left out (defined but never called,
so no loss reaches it in either version); the two Adam optimizers by one Adam with the two parameter groups (same
lr, weight decay 0, stepped together after one backward: the same update); ``kl_weight`` fixed at its epoch-0
value 1.0 (the program anneals it to 0.01 over its 5 epochs); ``set_detect_anomaly``, the importance-sampling
branch, the sampling / posterior code and the LightGCN / DRO part (which only consume the denoised embeddings) not
ported. For the checks the step is one module ``Pretrain``: its input is one (N, 64 + N) array, the node features
then the adjacency rows (the Coach keeps the graph on itself; here each batch carries its own), ``edge_index =
adj.nonzero()`` (src -> dst, as ``torch.stack(graph.edges())``), the output is the decoder's (N, N) sigmoid(z z^T);
the ELBO term is kept on the module (``model.elbo_loss``) and ``loss_fn(logits, adj)`` adds it to
``compute_vgae_loss`` as ``total_pretrain_loss``; the plain zero_grad / forward / loss / backward / step is the
program's step, so no ``train_step``. Torch only: the fault is a ``.detach()`` inside a torch_geometric / torch
diffusion pipeline; a Keras version would be a rewrite of the VGAE, the GCN and the diffusion process, not a port.
Data stand-in (the kuairec / yelp2018 / food DGL graphs are not downloaded): 40 users and 40 items (80 nodes; item
ids offset by the number of users as in ``process_dgl.py``), users and items each in 4 hidden clusters, every user
interacting with 5 random items of its own cluster (200 directed user -> item edges, the program's
``dgl.graph((u, v))``); node features as ``feature_process.py`` makes them: relu of a freshly initialised
``nn.Linear(num_ids, 64)`` of the one-hot ids (seed 0). ``batches``: 10 graphs drawn this way over the same nodes
and features (the program repeats one graph; distinct draws give distinct batches); ``batch``: the first;
``inputs``: an 11th, held-out draw (80 rows).

Measured (my own plain loops, /tmp/s57/p/b98b/measure2.py, measure3.py, measure4.py: the module's builds, Adam
steps over the 10 batches in turn, torch seed 0 before the loop unless said, OMP_NUM_THREADS=1):
  after 100 steps the buggy denoiser's ``emb_layer`` and ``in_layers[0]`` are bit-identical to their init (max
    |change| 0.0), ``out_layers[0]`` moved 0.05; fixed: all six MLP tensors moved 0.02-0.06. The VGAE encoder
    trains in both.
  training loss (total_pretrain_loss), means over steps 0-99 / 100-199 / 200-299 / 500-599 / 1000-1099 /
    1400-1499, for loop seeds 0, 1, 2:
      buggy 621.8 113.4 64.1 30.5 18.6 15.2 | 649.1 141.4 55.4 30.2 16.8 16.9 | 614.4 129.3 57.5 29.7 20.4 14.2
      fixed 612.6 105.7 57.2 20.1 11.1  8.5 | 640.2 132.3 47.8 19.3  9.6  8.9 | 607.2 120.8 49.8 20.8 11.7  8.1
    The first few hundred steps look alike (both fall fast while the encoder shrinks the latents the weighted
    denoising MSE is taken on); after that the buggy loss stays 1.5-1.9x the fixed one (seed 0, mean of the last 50
    of 300 / 600 / 900 / 1200 / 1500 steps: buggy 59.6 28.4 21.3 16.3 13.1, fixed 52.4 18.7 11.7 9.0 7.7).
  denoising error after 1500 steps on the held-out graph (eval mode, latents from the encoder, MSE of the predicted
    x0 at fixed t, 20 draws): t = 0 / 50 / 99: buggy 0.0058 0.0090 0.0149, fixed 0.0027 0.0051 0.0089 (latent
    variance 0.0038 / 0.0033): the buggy denoiser's error is 1.7-2.2x the fixed one's and above the latent variance
    even at t = 0.
  link reconstruction (AUC of the decoder output on held-out user-item pairs) is poor in both on this stand-in
    (0.538 buggy / 0.555 fixed after 1500 steps; the SNR-weighted ELBO term, weights up to ~6.7e4 at small t,
    dominates the encoder's gradient in both versions), so the fault shows in the denoiser and the loss, not here.
  one batch repeated for 300 steps: means of 30-step blocks buggy 1020 570 380 191 100 89 99 49 68 61, fixed 1005
    563 373 182 92 82 91 44 59 53: close (the last layer plus the encoder can reduce one graph's loss too).
  Time per step ~3.3 ms buggy / ~3.8 ms fixed (80 nodes, one thread); build: first ~1.1 s (torch import, data),
    later ~0.003 s.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

LABEL = "no_gradient"
SOURCE = ("github:user683/DRGO issue #1 'Detaching Feature in the Denoise MLP model' (models/MLP_model.py MLP.forward "
          "'h = layer(h.detach())' / 'h = torch.tanh(h.detach())' @cb213e73b209e16dabc8a9ced98c4f84ce57c9fc "
          "(file from bc1eed4, last changed 8948440), main.py Coach pretraining step, models/diffusion_model.py "
          "DiffusionProcess.caculate_losses, models/Vgae.py, utils/loss_functions.py compute_vgae_loss, "
          "utils/functions.py compute_loss_para, parse.py; fix per the maintainer's answer: "
          "'It should be h = torch.tanh(h)', i.e. no detach)")
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

N_USERS, N_ITEMS = 40, 40
N_NODES = N_USERS + N_ITEMS  # num_nodes = max_user_id + num_items + 1
N_CLUSTERS = 4
ITEMS_PER_USER = 5
FEAT_DIM = 64  # process_user_item_features(target_dim=64)
N_BATCHES = 10
LR = 0.001  # --lr
DIMS, N_HID, EMB_SIZE = 64, 64, 16  # --dims, --n_hid, --emb_size
STEPS, NOISE_SCHEDULE, NOISE_SCALE, NOISE_MIN, NOISE_MAX = 100, "linear-var", 0.1, 0.0001, 0.02
KL_WEIGHT = 1.0  # initial_kl_weight * (final / initial) ** (epoch / args.epoch) at epoch 0
SEED = 0


def _graph(r: np.random.Generator, user_cluster: np.ndarray, item_cluster: np.ndarray) -> np.ndarray:
    """One draw of user -> item interactions: each user picks ITEMS_PER_USER items of its own cluster."""
    adj = np.zeros((N_NODES, N_NODES), "float32")
    for u in range(N_USERS):
        pool = np.flatnonzero(item_cluster == user_cluster[u])
        for i in r.choice(pool, ITEMS_PER_USER, replace=False):
            adj[u, N_USERS + i] = 1.0  # dgl.graph((u, v)) with item ids offset by the number of users
    return adj


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Node features (relu of a random Linear of the one-hot ids, as feature_process.py) and N_BATCHES + 1
    interaction graphs over the same users and items (the last one held out)."""
    import torch
    import torch.nn as nn

    r = np.random.default_rng(SEED)
    user_cluster = np.arange(N_USERS) % N_CLUSTERS
    item_cluster = np.arange(N_ITEMS) % N_CLUSTERS
    r.shuffle(user_cluster)
    r.shuffle(item_cluster)
    torch.manual_seed(SEED)
    with torch.no_grad():
        user_features_tensor, item_features_tensor = torch.eye(N_USERS), torch.eye(N_ITEMS)  # OneHotEncoder ids
        user_embedding = nn.Linear(user_features_tensor.shape[1], FEAT_DIM)
        item_embedding = nn.Linear(item_features_tensor.shape[1], FEAT_DIM)
        final_user_features = torch.relu(user_embedding(user_features_tensor))
        final_item_features = torch.relu(item_embedding(item_features_tensor))
        feat = torch.cat([final_user_features, final_item_features], dim=0).numpy()
    graphs = [_graph(r, user_cluster, item_cluster) for _ in range(N_BATCHES + 1)]
    return feat, graphs[:N_BATCHES], graphs[N_BATCHES]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch as th
    import torch.nn as nn
    import torch.nn.functional as F

    class GCNConv(nn.Module):
        """torch_geometric's GCNConv (add self-loops, symmetric normalisation by in-degree + 1, Glorot weight
        without bias in the product, zero bias added after aggregation), on one edge_index of src -> dst."""

        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.lin = nn.Linear(in_channels, out_channels, bias=False)
            nn.init.xavier_uniform_(self.lin.weight)
            self.bias = nn.Parameter(torch.zeros(out_channels))

        def forward(self, x, edge_index):
            n = x.size(0)
            loop = torch.arange(n)
            row = torch.cat([edge_index[0], loop])
            col = torch.cat([edge_index[1], loop])
            deg = torch.zeros(n).index_add_(0, col, torch.ones(col.numel()))
            deg_inv_sqrt = deg.pow(-0.5)
            norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]
            h = self.lin(x)
            out = torch.zeros_like(h).index_add_(0, col, norm[:, None] * h[row])
            return out + self.bias

    class Vgae(nn.Module):
        def __init__(self, in_dim, hidden1_dim, hidden2_dim, device, num_nodes):
            super(Vgae, self).__init__()
            self.device = device
            self.num_nodes = num_nodes

            # Graph Convolution layers
            self.base_gc = GCNConv(in_dim, hidden1_dim)
            self.mean_gc = GCNConv(hidden1_dim, hidden2_dim)
            self.log_std_gc = GCNConv(hidden1_dim, hidden2_dim)
            # (the program's unused ``decoder_mlp`` is left out: no loss reaches it in either version)

        def encoder(self, features, edge_index):
            h = self.base_gc(features, edge_index).to(self.device)
            self.mean = self.mean_gc(h, edge_index)
            self.log_std = self.log_std_gc(h, edge_index)

            gaussian_noise = torch.randn(self.mean.size()).to(self.device)
            sampled_z = self.mean + gaussian_noise * torch.exp(self.log_std)

            assert sampled_z.shape[0] == features.shape[0], "Shape mismatch between z and features"

            return sampled_z

        def decoder(self, z):
            adj_rec = torch.sigmoid(torch.matmul(z, z.t()))
            return adj_rec

    def timestep_embedding(timesteps, dim, max_period=10000):
        half = dim // 2
        freqs = torch.exp(
            -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half
        ).to(timesteps.device)
        args = timesteps[:, None].float() * freqs[None]
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
        return embedding

    class MLP(nn.Module):
        """A deep neural network for the reverse diffusion preocess."""

        def __init__(self, in_dims, out_dims, emb_size, time_type="cat", norm=False, dropout=0.5):
            super(MLP, self).__init__()
            self.dropout = None
            self.in_dims = in_dims
            self.out_dims = out_dims
            assert out_dims[0] == in_dims[-1], "In and out dimensions must equal to each other."
            self.time_type = time_type
            self.time_emb_dim = emb_size
            self.norm = norm

            self.emb_layer = nn.Linear(self.time_emb_dim, self.time_emb_dim)

            if self.time_type == "cat":
                in_dims_temp = [self.in_dims[0] + self.time_emb_dim] + self.in_dims[1:]
            else:
                raise ValueError("Unimplemented timestep embedding type %s" % self.time_type)
            out_dims_temp = self.out_dims

            self.in_layers = nn.ModuleList([nn.Linear(d_in, d_out)
                                            for d_in, d_out in zip(in_dims_temp[:-1], in_dims_temp[1:])])
            self.out_layers = nn.ModuleList([nn.Linear(d_in, d_out)
                                             for d_in, d_out in zip(out_dims_temp[:-1], out_dims_temp[1:])])

            self.drop = nn.Dropout(dropout)
            self.init_weights()

        def init_weights(self):
            for layer in self.in_layers:
                # Xavier Initialization for weights
                size = layer.weight.size()
                fan_out = size[0]
                fan_in = size[1]
                std = np.sqrt(2.0 / (fan_in + fan_out))
                layer.weight.data.normal_(0.0, std)

                # Normal Initialization for weights
                layer.bias.data.normal_(0.0, 0.001)

            for layer in self.out_layers:
                # Xavier Initialization for weights
                size = layer.weight.size()
                fan_out = size[0]
                fan_in = size[1]
                std = np.sqrt(2.0 / (fan_in + fan_out))
                layer.weight.data.normal_(0.0, std)

                # Normal Initialization for weights
                layer.bias.data.normal_(0.0, 0.001)

            size = self.emb_layer.weight.size()
            fan_out = size[0]
            fan_in = size[1]
            std = np.sqrt(2.0 / (fan_in + fan_out))
            self.emb_layer.weight.data.normal_(0.0, std)
            self.emb_layer.bias.data.normal_(0.0, 0.001)

            self.dropout = nn.Dropout(0.5)

        def forward(self, x, timesteps):
            time_emb = timestep_embedding(timesteps, self.time_emb_dim).to(x.device)
            emb = self.emb_layer(time_emb)
            if self.norm:
                x = F.normalize(x)
            x = self.drop(x)
            h = torch.cat([x, emb], dim=-1)
            if fixed:  # the fix (maintainer, issue #1): no detach, "h = torch.tanh(h)"
                for i, layer in enumerate(self.in_layers):
                    h = layer(h)
                    h = torch.tanh(h)

                for i, layer in enumerate(self.out_layers):
                    h = layer(h)
                    if i != len(self.out_layers) - 1:
                        h = torch.tanh(h)
                return h
            for i, layer in enumerate(self.in_layers):
                h = layer(h.detach())
                h = torch.tanh(h.detach())

            for i, layer in enumerate(self.out_layers):
                h = layer(h.detach())
                if i != len(self.out_layers) - 1:
                    h = torch.tanh(h.detach())

            return h

    def betas_from_linear_variance(steps, variance, max_beta=0.999):
        alpha_bar = 1 - variance
        betas = []
        betas.append(1 - alpha_bar[0])
        for i in range(1, steps):
            betas.append(min(1 - alpha_bar[i] / alpha_bar[i - 1], max_beta))
        return np.array(betas)

    def mean_flat(tensor):
        return tensor.mean(dim=list(range(1, len(tensor.shape))))

    class DiffusionProcess(nn.Module):
        """models/diffusion_model.py: the parts the training step uses."""

        def __init__(self, noise_schedule, noise_scale, noise_min, noise_max, steps, device):
            super(DiffusionProcess, self).__init__()
            self.noise_schedule = noise_schedule
            self.noise_scale = noise_scale
            self.noise_min = noise_min
            self.noise_max = noise_max
            self.steps = steps
            self.device = device
            self.beta_nums = th.tensor(self.betas_num(), dtype=th.float64).to(self.device)
            alphas = 1.0 - self.beta_nums
            self.alphas_cumprod = th.cumprod(alphas, axis=0).to(self.device)
            self.sqrt_alphas_cumprod = th.sqrt(self.alphas_cumprod)
            self.sqrt_one_minus_alphas_cumprod = th.sqrt(1.0 - self.alphas_cumprod)

        def betas_num(self):
            st_bound = self.noise_scale * self.noise_min
            e_bound = self.noise_scale * self.noise_max
            if self.noise_schedule == "linear":
                return np.linspace(st_bound, e_bound, self.steps, dtype=np.float64)
            else:
                return betas_from_linear_variance(self.steps,
                                                  np.linspace(st_bound, e_bound, self.steps, dtype=np.float64))

        def caculate_losses(self, model, emb_s, reweight=False):
            batch_size, device = emb_s.size(0), emb_s.device
            ts, pt = self.sample_timesteps(batch_size, device, 'uniform')
            noise = th.randn_like(emb_s)
            emb_t = self.forward_process(emb_s, ts, noise)
            terms = {}
            model_output = model(emb_t, ts)

            assert model_output.shape == emb_s.shape

            mse = mean_flat((emb_s - model_output) ** 2)

            if reweight == True:  # noqa: E712  (as written)

                weight = self.SNR(ts - 1) - self.SNR(ts)
                weight = th.where((ts == 0), 1.0, weight)
                loss = mse

            else:
                weight = th.tensor([1.0] * len(model_output)).to(device)

            terms["loss"] = weight * loss
            terms["pred_xstart"] = model_output
            return terms

        def sample_timesteps(self, batch_size, device, method='uniform', uniform_prob=0.001):
            t = th.randint(0, self.steps, (batch_size,), device=device).long()
            pt = th.ones_like(t).float()
            return t, pt

        def forward_process(self, emb_s, t, noise=None):
            if noise is None:
                noise = th.randn_like(emb_s)
            assert noise.shape == emb_s.shape
            return (
                self._extract_into_tensor(self.sqrt_alphas_cumprod, t, emb_s.shape) * emb_s
                + self._extract_into_tensor(self.sqrt_one_minus_alphas_cumprod, t, emb_s.shape)
                * noise
            )

        def SNR(self, t):
            self.alphas_cumprod = self.alphas_cumprod.to(t.device)
            return self.alphas_cumprod[t] / (1 - self.alphas_cumprod[t])

        def _extract_into_tensor(self, arr, timesteps, broadcast_shape):
            arr = arr.to(timesteps.device)
            res = arr[timesteps].float()
            while len(res.shape) < len(broadcast_shape):
                res = res[..., None]
            return res.expand(broadcast_shape)

    def compute_loss_para(adj, device):
        pos_weight = ((adj.shape[0] * adj.shape[0] - adj.sum()) / adj.sum())
        norm = adj.shape[0] * adj.shape[0] / float((adj.shape[0] * adj.shape[0] - adj.sum()) * 2)
        weight_mask = adj.view(-1) == 1
        weight_tensor = torch.ones(weight_mask.size(0)).to(device)
        weight_tensor[weight_mask] = pos_weight
        return weight_tensor, norm

    def compute_vgae_loss(logits, adj, norm, vgae_model, weight_tensor):
        vgae_loss = norm * F.binary_cross_entropy(logits.view(-1), adj.view(-1), weight=weight_tensor)
        kl_divergence = 0.5 / logits.size(0) * (
            1 + 2 * vgae_model.log_std - vgae_model.mean ** 2 - torch.exp(vgae_model.log_std) ** 2).sum(
            1).mean()
        vgae_loss = vgae_loss - kl_divergence
        return vgae_loss

    class Pretrain(nn.Module):
        """The Coach's pretraining step as one module: x = [node features | adjacency rows] (the Coach holds the
        graph; here each batch carries its own), output = the VGAE decoder's sigmoid(z z^T) of the denoiser's
        pred_xstart; the ELBO term is kept on the module for the loss."""

        def __init__(self):
            super().__init__()
            device = torch.device("cpu")
            self.VGAE_model = Vgae(64, 64, 64, device, N_NODES)
            self.Diffusion_model = DiffusionProcess(NOISE_SCHEDULE, NOISE_SCALE, NOISE_MIN, NOISE_MAX, STEPS, device)
            output_dimensions = [DIMS] + [N_HID]
            input_dimensions = output_dimensions[::-1]
            self.MLP_model = MLP(input_dimensions, output_dimensions, EMB_SIZE, time_type="cat", norm=True)
            self.elbo_loss = None

        def forward(self, x):
            node_features, adj = x[:, :FEAT_DIM], x[:, FEAT_DIM:]
            edge_index = adj.nonzero().t()  # torch.stack(graph.edges()): src -> dst
            batch_latent = self.VGAE_model.encoder(node_features, edge_index)
            diffusion_terms = self.Diffusion_model.caculate_losses(self.MLP_model, batch_latent, True)
            logits = self.VGAE_model.decoder(diffusion_terms["pred_xstart"])
            self.elbo_loss = diffusion_terms["loss"].mean()
            return logits

    torch.manual_seed(SEED)
    model = Pretrain()
    # VGAE_optimizer and MLP_optimizer: two Adam(lr=args.lr, weight_decay=0) stepped together after one backward,
    # the same update as one Adam over both parameter groups
    optimizer = torch.optim.Adam([{'params': model.VGAE_model.parameters(), 'weight_decay': 0},
                                  {'params': model.MLP_model.parameters(), 'weight_decay': 0}], lr=LR)

    def loss_fn(logits, adj_matrix):
        weight_tensor, normalization = compute_loss_para(adj_matrix, adj_matrix.device)
        vgae_loss = compute_vgae_loss(logits, adj_matrix, normalization, model.VGAE_model, weight_tensor)
        return model.elbo_loss + KL_WEIGHT * vgae_loss  # total_pretrain_loss

    feat, graphs, held_out = _data()
    ft = torch.tensor(feat)
    batches = [(torch.cat([ft, torch.tensor(a)], 1), torch.tensor(a)) for a in graphs]
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": torch.cat([ft, torch.tensor(held_out)], 1), "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
