"""hazdzz/stgcn (the PyTorch STGCN of Yu et al., "Spatio-Temporal Graph Convolutional Networks: A Deep Learning
Framework for Traffic Forecasting"), ``main.py`` on METR-LA: 12 past 5-minute speed readings of every sensor
(``x`` [B, 1, n_his=12, n_vertex]) predict every sensor's speed ``n_pred=3`` steps (15 min) ahead (``y`` [B,
n_vertex]), after a per-sensor ``StandardScaler`` fitted on the 70 % train split. ``STGCNChebGraphConv`` is two
``STConvBlock`` s ("TGTND": gated temporal conv (GLU), Chebyshev graph conv (Ks=3) on the scaled symmetric
normalised Laplacian, gated temporal conv, LayerNorm over [n_vertex, 64], dropout 0.5; channels [64, 16, 64]) and
an ``OutputBlock`` (temporal conv over the last Ko=4 steps, LayerNorm, fc 128 -> ReLU -> fc 1), trained with
``nn.MSELoss()``, ``optim.Adam(lr=0.001, weight_decay=0.0005)``, ``batch_size=32`` (``shuffle=False``),
``epochs=10000`` with early stopping (patience 30) and
``scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)`` (10, 0.95): the
rate is meant to shrink by 5 % every 10 epochs.
The fault is in ``train()``: the scheduler was stepped inside the batch loop,

    for x, y in tqdm.tqdm(train_iter):
        ...
        optimizer.step()
        scheduler.step()

so the rate shrinks by 5 % every 10 *batches*. An epoch of METR-LA is 750 batches (34,272 rows, 70 % =
23,992 for training, 23,977 windows / 32), so after one epoch the rate is 1e-3 * 0.95**75 = 2.1e-5, after two
4.6e-7, after four 2e-10: the model stops learning during its second epoch and the run then idles until early
stopping. The total step budget the schedule allows is that of about 200 full-rate steps (sum of 10 * 0.95**k).

Source: github.com/hazdzz/stgcn issue #18 ("confusion about scheduler.step()": "the position of
'scheduler.step()' is error in main.py, which leads to the learning-rate decrese too fast"; the answer in the thread
moves it after the batch loop), fixed by commit 6d620522e6ef90b4d5f26fecf731ccab55f49f47 ("Update main.py", 2023-05-11,
author Chieh Chang, on the master branch), which moves ``scheduler.step()`` out of the batch loop to once per epoch.
Buggy program: ``main.py``, ``model/models.py``, ``model/layers.py``, ``script/dataloader.py``,
``script/utility.py`` at 6d62052^ (492c75bf).
Program lines kept: ``layers.py`` (``Align``, ``CausalConv2d``, ``TemporalConvLayer``, ``ChebGraphConv``,
``GraphConvLayer``, ``STConvBlock``, ``OutputBlock``) and ``STGCNChebGraphConv`` verbatim except that unused
activation members and branches are dropped; ``get_parameters``' defaults and ``blocks``; ``calc_gso(adj,
'sym_norm_lap')`` and ``calc_chebynet_gso``; ``data_transform`` and the 70/15/15 split with the ``StandardScaler``;
``prepare_model``'s loss, Adam and StepLR; the loop body as ``train_step`` (``y_pred = model(x).view(len(x), -1)``,
MSE, zero_grad, backward, step, and ``scheduler.step()`` per batch (buggy) or once every 750 batches, one
METR-LA epoch (fixed)). The scheduler is created by the ``optimizer`` factory next to the Adam it drives (kept as
``optimizer.lr_schedule``) and the batch counter lives on the optimizer, so every fresh optimizer starts a fresh
schedule. ``model`` wraps ``STGCNChebGraphConv`` so that it returns ``model(x).view(len(x), -1)`` (the loop's
reshape); ``loss_fn`` is ``nn.MSELoss()``.
Shrunk for CPU speed: 207 sensors -> 24 (a step of the original size takes ~0.5 s on one loaded CPU thread; the
channel widths, depths, kernel sizes, n_his, n_pred and batch size are the program's).
Keras twin (the same mistake in Keras: ``ExponentialDecay`` counts optimizer steps, so the program's
``StepLR(step_size=10, gamma=0.95)`` written as ``ExponentialDecay(1e-3, decay_steps=args.step_size,
decay_rate=args.gamma, staircase=True)`` decays every 10 batches): the same network as a functional Keras 3
model in channels_last layout (the input stays [B, 1, 12, n] and is transposed inside), torch's default
initialisation (uniform +-1/sqrt(fan_in) for kernels and biases), LayerNorm eps 1e-5, L2 penalty 2.5e-4 on every
weight standing for torch Adam's coupled ``weight_decay=5e-4``, ``loss="mse"``; fixed:
``decay_steps=args.step_size * 750`` (once per 10 epochs, as the fixed program).
Data stand-in (METR-LA's vel.csv/adj.npz are not shipped): 24 sensors placed along a seeded road network in a
unit square, the weighted adjacency ``exp(-d**2 / sigma**2)`` thresholded at 0.1 with self loops (the DCRNN
construction of METR-LA's adj), and 7 days of 5-minute speeds (2,016 rows, mph): free-flow 55-70 mph per sensor,
minus a congestion field that rises at the morning and evening rush hours (sensor-dependent timing and strength),
gets random incidents, and spreads over the graph (each step mixes in the neighbours' congestion), plus noise
(sd 1.5 mph); speeds range ~18-72 mph. ``data_transform`` windows the z-scored splits; ``batches`` are 8 of the
train loader's batches of 32 consecutive windows, evenly spaced over the train split; ``inputs`` are 256
validation windows.
Fault label: lr_too_low (the schedule drives the rate to ~0 within the first epochs).
Fix (6d62052): ``scheduler.step()`` after the batch loop, once per epoch.
Note: as in the program, every ``TemporalConvLayer`` / ``GraphConvLayer`` builds an ``Align`` 1x1 conv even where
it is not used (c_in <= c_out), so 14,784 of the torch model's 150,913 parameters never get a gradient in either
version; the Keras twin (136,129 parameters) has no such unused weights.
Symptom, measured with my own plain loop (``train_step`` as given here, cycling over the 8 batches, model in train
mode, torch seed 0, OMP_NUM_THREADS=1, 70-115 ms a step on the loaded two-core machine). Torch, 2,000 steps (mean
training MSE over the last 40 steps / held-out MSE on the 256 validation windows / rate / relative weight change
in one step): buggy step 400: 0.182 / 0.217 / 1.3e-4 / 1.4e-4; step 800: 0.177 / 0.215 / 1.7e-5 / 2.0e-5; step
2,000: 0.175 / 0.215 / 3.5e-8 / 6.8e-8 (frozen: the loss does not move after ~step 600). Fixed: step 400: 0.177 /
0.216 / 1e-3 / 1.1e-3; step 800: 0.161 / 0.199; step 1,200: 0.145 / 0.219; step 2,000: 0.116 / 0.235 / 1e-3 /
1.7e-3 (still learning; with only 8 distinct batches it starts to overfit them after ~800 steps, which the real
program's 750 distinct batches an epoch would not). Both start at 1.43 (z-scored targets; predicting the last input
value gives 0.30, predicting 0 gives 1.78). One batch repeated 400 times: buggy 0.249 -> 0.089 (rate 1.3e-4 at the
end), fixed 0.249 -> 0.078 (dropout 0.5 keeps both above 0). Keras (``train_on_batch``, the reported loss includes
the ~1.6 L2 penalty), 240 steps over the 8 batches: buggy 3.08 -> 1.50 with the rate at 2.9e-4, fixed 3.08 -> 1.31
at 1e-3; ~200 ms a step. The fault shows late: for the first ~150 steps the two runs are nearly identical, and the
difference is that the buggy one stops moving, not that it fails early.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_low"
SOURCE = ("github:hazdzz/stgcn issue #18 (main.py train(): scheduler.step() inside the batch loop with "
          "StepLR(step_size=10, gamma=0.95) @6d62052^, model/models.py STGCNChebGraphConv, model/layers.py, "
          "script/dataloader.py, script/utility.py; fix 6d620522e6ef90b4d5f26fecf731ccab55f49f47)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("inputs_normalized", {})]

# get_parameters() defaults
n_his, n_pred, Kt, stblock_num, act_func, Ks = 12, 3, 3, 2, 'glu', 3
graph_conv_type, gso_type, enable_bias, droprate = 'cheb_graph_conv', 'sym_norm_lap', True, 0.5
lr, weight_decay_rate, batch_size, step_size, gamma = 0.001, 0.0005, 32, 10, 0.95
n_vertex = 24  # metr-la: 207 (shrunk, see docstring)
BATCHES_PER_EPOCH = 750  # METR-LA: ceil((23992 - n_his - n_pred) / 32)
N_ROWS = 7 * 288  # 7 days of 5-minute readings
N_BATCHES, N_INPUTS = 8, 256

Ko = n_his - (Kt - 1) * 2 * stblock_num
blocks = [[1]]
for _l in range(stblock_num):
    blocks.append([64, 16, 64])
if Ko == 0:
    blocks.append([128])
elif Ko > 0:
    blocks.append([128, 128])
blocks.append([1])


def _road_network(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sensor positions along a few random road polylines in the unit square, and the DCRNN-style weighted
    adjacency exp(-d^2 / sigma^2) with entries under 0.1 set to 0 (self loops kept, as in METR-LA's adj_mx)."""
    pos = []
    per_road = [8, 8, 8]
    for n in per_road:
        a, b = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
        t = np.sort(rng.uniform(0, 1, n))
        pos.append(a + t[:, None] * (b - a) + rng.normal(0, 0.02, (n, 2)))
    pos = np.concatenate(pos)[:n_vertex]
    d = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1))
    sigma = d[d > 0].std()
    adj = np.exp(-(d / sigma) ** 2)
    adj[adj < 0.1] = 0.0
    return pos, adj


def _speeds(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N_ROWS, n_vertex) float64 speeds in mph and the (n_vertex, n_vertex) adjacency."""
    rng = np.random.default_rng(seed)
    _, adj = _road_network(rng)
    p = adj / adj.sum(1, keepdims=True)  # neighbour mixing
    free = rng.uniform(55, 70, n_vertex)
    am_peak = rng.normal(8.0, 0.4, n_vertex)
    pm_peak = rng.normal(17.5, 0.5, n_vertex)
    am_amp, pm_amp = rng.uniform(0.2, 0.6, n_vertex), rng.uniform(0.3, 0.7, n_vertex)
    c = np.zeros(n_vertex)
    out = np.empty((N_ROWS, n_vertex))
    for t in range(N_ROWS):
        day, hour = divmod(t / 12.0, 24.0)
        weekday = (int(day) % 7) < 5
        rush = (am_amp * np.exp(-0.5 * ((hour - am_peak) / 0.8) ** 2)
                + pm_amp * np.exp(-0.5 * ((hour - pm_peak) / 1.0) ** 2)) * (1.0 if weekday else 0.3)
        incident = np.zeros(n_vertex)
        if rng.random() < 0.02:
            incident[rng.integers(n_vertex)] = rng.uniform(0.4, 0.8)
        c = np.clip(0.80 * c + 0.12 * (p @ c) + 0.08 * rush + incident + rng.normal(0, 0.01, n_vertex), 0, 1)
        out[t] = free * (1.0 - 0.65 * c) + rng.normal(0, 1.5, n_vertex)
    return np.clip(out, 0, 80), adj


def calc_gso(dir_adj, gso_type):  # script/utility.py, sym_norm_lap branch
    import scipy.sparse as sp

    n_vertex = dir_adj.shape[0]
    if sp.issparse(dir_adj) == False:
        dir_adj = sp.csc_matrix(dir_adj)
    id = sp.identity(n_vertex, format='csc')
    # Symmetrizing an adjacency matrix
    adj = dir_adj + dir_adj.T.multiply(dir_adj.T > dir_adj) - dir_adj.multiply(dir_adj.T > dir_adj)
    assert gso_type == 'sym_norm_lap'
    row_sum = adj.sum(axis=1).A1
    row_sum_inv_sqrt = np.power(row_sum, -0.5)
    row_sum_inv_sqrt[np.isinf(row_sum_inv_sqrt)] = 0.
    deg_inv_sqrt = sp.diags(row_sum_inv_sqrt, format='csc')
    # A_{sym} = D^{-0.5} * A * D^{-0.5}
    sym_norm_adj = deg_inv_sqrt.dot(adj).dot(deg_inv_sqrt)
    sym_norm_lap = id - sym_norm_adj
    gso = sym_norm_lap
    return gso


def calc_chebynet_gso(gso):  # script/utility.py
    import scipy.sparse as sp
    from scipy.sparse.linalg import norm

    if sp.issparse(gso) == False:
        gso = sp.csc_matrix(gso)
    elif gso.format != 'csc':
        gso = gso.tocsc()
    id = sp.identity(gso.shape[0], format='csc')
    eigval_max = norm(gso, 2)
    if eigval_max >= 2:
        gso = gso - id
    else:
        gso = 2 * gso / eigval_max - id
    return gso


def data_transform(data, n_his, n_pred):  # script/dataloader.py (numpy instead of torch.Tensor(...).to(device))
    n_vertex = data.shape[1]
    len_record = len(data)
    num = len_record - n_his - n_pred

    x = np.zeros([num, 1, n_his, n_vertex])
    y = np.zeros([num, n_vertex])

    for i in range(num):
        head = i
        tail = i + n_his
        x[i, :, :, :] = data[head: tail].reshape(1, n_his, n_vertex)
        y[i] = data[tail + n_pred - 1]

    return x.astype("float32"), y.astype("float32")


def _data() -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """gso (float32), 8 train-loader batches (x, y) and N_INPUTS validation windows, as data_preparate makes them."""
    import math

    from sklearn import preprocessing

    vel, adj = _speeds()
    gso = calc_gso(adj, gso_type)
    gso = calc_chebynet_gso(gso)
    gso = gso.toarray().astype(dtype=np.float32)
    data_col = vel.shape[0]
    val_and_test_rate = 0.15
    len_val = int(math.floor(data_col * val_and_test_rate))
    len_test = int(math.floor(data_col * val_and_test_rate))
    len_train = int(data_col - len_val - len_test)
    train, val = vel[:len_train], vel[len_train:len_train + len_val]
    zscore = preprocessing.StandardScaler()
    train = zscore.fit_transform(train)
    val = zscore.transform(val)
    x_train, y_train = data_transform(train, n_his, n_pred)
    x_val, _ = data_transform(val, n_his, n_pred)
    n_loader = len(x_train) // batch_size  # DataLoader(shuffle=False): consecutive windows
    picks = np.linspace(0, n_loader - 1, N_BATCHES).round().astype(int)
    batches = [(x_train[k * batch_size:(k + 1) * batch_size], y_train[k * batch_size:(k + 1) * batch_size])
               for k in picks]
    return gso, batches, x_val[:N_INPUTS]


def _torch_model(gso_np: np.ndarray):
    import math
    import types

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.nn.init as init

    class Align(nn.Module):
        def __init__(self, c_in, c_out):
            super(Align, self).__init__()
            self.c_in = c_in
            self.c_out = c_out
            self.align_conv = nn.Conv2d(in_channels=c_in, out_channels=c_out, kernel_size=(1, 1))

        def forward(self, x):
            if self.c_in > self.c_out:
                x = self.align_conv(x)
            elif self.c_in < self.c_out:
                batch_size, _, timestep, n_vertex = x.shape
                x = torch.cat([x, torch.zeros([batch_size, self.c_out - self.c_in, timestep, n_vertex]).to(x)], dim=1)
            else:
                x = x

            return x

    class CausalConv2d(nn.Conv2d):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, enable_padding=False, dilation=1, groups=1, bias=True):
            kernel_size = nn.modules.utils._pair(kernel_size)
            stride = nn.modules.utils._pair(stride)
            dilation = nn.modules.utils._pair(dilation)
            if enable_padding == True:
                self.__padding = [int((kernel_size[i] - 1) * dilation[i]) for i in range(len(kernel_size))]
            else:
                self.__padding = 0
            self.left_padding = nn.modules.utils._pair(self.__padding)
            super(CausalConv2d, self).__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, dilation=dilation, groups=groups, bias=bias)

        def forward(self, input):
            if self.__padding != 0:
                input = F.pad(input, (self.left_padding[1], 0, self.left_padding[0], 0))
            result = super(CausalConv2d, self).forward(input)

            return result

    class TemporalConvLayer(nn.Module):
        def __init__(self, Kt, c_in, c_out, n_vertex, act_func):
            super(TemporalConvLayer, self).__init__()
            self.Kt = Kt
            self.c_in = c_in
            self.c_out = c_out
            self.n_vertex = n_vertex
            self.align = Align(c_in, c_out)
            self.causal_conv = CausalConv2d(in_channels=c_in, out_channels=2 * c_out, kernel_size=(Kt, 1), enable_padding=False, dilation=1)
            self.act_func = act_func
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            x_in = self.align(x)[:, :, self.Kt - 1:, :]
            x_causal_conv = self.causal_conv(x)
            x_p = x_causal_conv[:, : self.c_out, :, :]
            x_q = x_causal_conv[:, -self.c_out:, :, :]
            # (x_p + x_in) ⊙ Sigmoid(x_q)   (act_func == 'glu')
            x = torch.mul((x_p + x_in), self.sigmoid(x_q))
            return x

    class ChebGraphConv(nn.Module):
        def __init__(self, c_in, c_out, Ks, gso, bias):
            super(ChebGraphConv, self).__init__()
            self.c_in = c_in
            self.c_out = c_out
            self.Ks = Ks
            self.gso = gso
            self.weight = nn.Parameter(torch.FloatTensor(Ks, c_in, c_out))
            if bias:
                self.bias = nn.Parameter(torch.FloatTensor(c_out))
            else:
                self.register_parameter('bias', None)
            self.reset_parameters()

        def reset_parameters(self):
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            if self.bias is not None:
                fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                init.uniform_(self.bias, -bound, bound)

        def forward(self, x):
            #bs, c_in, ts, n_vertex = x.shape
            x = torch.permute(x, (0, 2, 3, 1))
            x_0 = x
            x_1 = torch.einsum('hi,btij->bthj', self.gso, x)
            x_list = [x_0, x_1]
            for k in range(2, self.Ks):
                x_list.append(torch.einsum('hi,btij->bthj', 2 * self.gso, x_list[k - 1]) - x_list[k - 2])

            x = torch.stack(x_list, dim=2)

            cheb_graph_conv = torch.einsum('btkhi,kij->bthj', x, self.weight)

            if self.bias is not None:
                cheb_graph_conv = torch.add(cheb_graph_conv, self.bias)
            else:
                cheb_graph_conv = cheb_graph_conv

            return cheb_graph_conv

    class GraphConvLayer(nn.Module):
        def __init__(self, graph_conv_type, c_in, c_out, Ks, gso, bias):
            super(GraphConvLayer, self).__init__()
            self.graph_conv_type = graph_conv_type
            self.c_in = c_in
            self.c_out = c_out
            self.align = Align(c_in, c_out)
            self.Ks = Ks
            self.gso = gso
            self.cheb_graph_conv = ChebGraphConv(c_out, c_out, Ks, gso, bias)

        def forward(self, x):
            x_gc_in = self.align(x)
            x_gc = self.cheb_graph_conv(x_gc_in)
            x_gc = x_gc.permute(0, 3, 1, 2)
            x_gc_out = torch.add(x_gc, x_gc_in)

            return x_gc_out

    class STConvBlock(nn.Module):
        def __init__(self, Kt, Ks, n_vertex, last_block_channel, channels, act_func, graph_conv_type, gso, bias, droprate):
            super(STConvBlock, self).__init__()
            self.tmp_conv1 = TemporalConvLayer(Kt, last_block_channel, channels[0], n_vertex, act_func)
            self.graph_conv = GraphConvLayer(graph_conv_type, channels[0], channels[1], Ks, gso, bias)
            self.tmp_conv2 = TemporalConvLayer(Kt, channels[1], channels[2], n_vertex, act_func)
            self.tc2_ln = nn.LayerNorm([n_vertex, channels[2]])
            self.relu = nn.ReLU()
            self.dropout = nn.Dropout(p=droprate)

        def forward(self, x):
            x = self.tmp_conv1(x)
            x = self.graph_conv(x)
            x = self.relu(x)
            x = self.tmp_conv2(x)
            x = self.tc2_ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            x = self.dropout(x)

            return x

    class OutputBlock(nn.Module):
        def __init__(self, Ko, last_block_channel, channels, end_channel, n_vertex, act_func, bias, droprate):
            super(OutputBlock, self).__init__()
            self.tmp_conv1 = TemporalConvLayer(Ko, last_block_channel, channels[0], n_vertex, act_func)
            self.fc1 = nn.Linear(in_features=channels[0], out_features=channels[1], bias=bias)
            self.fc2 = nn.Linear(in_features=channels[1], out_features=end_channel, bias=bias)
            self.tc1_ln = nn.LayerNorm([n_vertex, channels[0]])
            self.relu = nn.ReLU()
            self.dropout = nn.Dropout(p=droprate)

        def forward(self, x):
            x = self.tmp_conv1(x)
            x = self.tc1_ln(x.permute(0, 2, 3, 1))
            x = self.fc1(x)
            x = self.relu(x)
            x = self.fc2(x).permute(0, 3, 1, 2)

            return x

    class STGCNChebGraphConv(nn.Module):  # model/models.py ('TGTND TGTND TNFF')
        def __init__(self, args, blocks, n_vertex):
            super(STGCNChebGraphConv, self).__init__()
            modules = []
            for l in range(len(blocks) - 3):
                modules.append(STConvBlock(args.Kt, args.Ks, n_vertex, blocks[l][-1], blocks[l+1], args.act_func, args.graph_conv_type, args.gso, args.enable_bias, args.droprate))
            self.st_blocks = nn.Sequential(*modules)
            Ko = args.n_his - (len(blocks) - 3) * 2 * (args.Kt - 1)
            self.Ko = Ko
            assert self.Ko > 1
            self.output = OutputBlock(Ko, blocks[-3][-1], blocks[-2], blocks[-1][0], n_vertex, args.act_func, args.enable_bias, args.droprate)

        def forward(self, x):
            x = self.st_blocks(x)
            x = self.output(x)
            return x

    class LoopView(nn.Module):
        """train(): y_pred = model(x).view(len(x), -1)  # [batch_size, num_nodes]"""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x).view(len(x), -1)

    args = types.SimpleNamespace(Kt=Kt, Ks=Ks, n_his=n_his, act_func=act_func, graph_conv_type=graph_conv_type,
                                 gso=torch.from_numpy(gso_np), enable_bias=enable_bias, droprate=droprate)
    return LoopView(STGCNChebGraphConv(args, blocks, n_vertex))


def _keras_model(gso_np: np.ndarray, decay_steps: int):
    import keras
    from keras import layers, ops

    reg = keras.regularizers.L2(weight_decay_rate / 2)  # torch Adam(weight_decay=5e-4): grad += 5e-4 * w

    def k_init():  # torch default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))
        return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform", seed=None)

    def b_init(fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)

    def conv(c_in, c_out, kt):
        return layers.Conv2D(c_out, (kt, 1), padding="valid", kernel_initializer=k_init(),
                             bias_initializer=b_init(c_in * kt), kernel_regularizer=reg, bias_regularizer=reg)

    def dense(c_in, c_out):
        return layers.Dense(c_out, kernel_initializer=k_init(), bias_initializer=b_init(c_in),
                            kernel_regularizer=reg, bias_regularizer=reg)

    def layer_norm():  # nn.LayerNorm([n_vertex, C]) on [b, t, n, C]
        return layers.LayerNormalization(axis=[-2, -1], epsilon=1e-5, gamma_regularizer=reg, beta_regularizer=reg)

    def align(x, c_in, c_out):
        if c_in > c_out:
            return conv(c_in, c_out, 1)(x)
        if c_in < c_out:
            return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, c_out - c_in]])
        return x

    def temporal_conv(x, kt, c_in, c_out):  # TemporalConvLayer, GLU, channels_last [b, t, n, c]
        x_in = align(x, c_in, c_out)[:, kt - 1:, :, :]
        x_causal_conv = conv(c_in, 2 * c_out, kt)(x)
        x_p = x_causal_conv[..., :c_out]
        x_q = x_causal_conv[..., -c_out:]
        return (x_p + x_in) * ops.sigmoid(x_q)

    class ChebGraphConv(layers.Layer):
        def __init__(self, c_in, c_out, ks, gso, **kw):
            super().__init__(**kw)
            self.c_in, self.c_out, self.ks = c_in, c_out, ks
            self.gso = ops.convert_to_tensor(gso)
            fan_in = c_in * c_out  # torch's _calculate_fan_in_and_fan_out on a (Ks, c_in, c_out) tensor
            bound = 1.0 / np.sqrt(fan_in)
            self.weight = self.add_weight(shape=(ks, c_in, c_out), regularizer=reg,
                                          initializer=keras.initializers.RandomUniform(-bound, bound))
            self.bias = self.add_weight(shape=(c_out,), regularizer=reg,
                                        initializer=keras.initializers.RandomUniform(-bound, bound))

        def call(self, x):  # [b, t, n, c]
            x_list = [x, ops.einsum('hi,btij->bthj', self.gso, x)]
            for k in range(2, self.ks):
                x_list.append(ops.einsum('hi,btij->bthj', 2 * self.gso, x_list[k - 1]) - x_list[k - 2])
            x = ops.stack(x_list, axis=2)
            return ops.einsum('btkhi,kij->bthj', x, self.weight) + self.bias

    inp = keras.Input((1, n_his, n_vertex))
    x = ops.transpose(inp, (0, 2, 3, 1))  # [b, c, t, n] -> [b, t, n, c]
    for l in range(len(blocks) - 3):  # STConvBlock
        c_last, channels = blocks[l][-1], blocks[l + 1]
        x = temporal_conv(x, Kt, c_last, channels[0])
        x_gc_in = align(x, channels[0], channels[1])
        x = ChebGraphConv(channels[1], channels[1], Ks, gso_np)(x_gc_in) + x_gc_in
        x = ops.relu(x)
        x = temporal_conv(x, Kt, channels[1], channels[2])
        x = layer_norm()(x)
        x = layers.Dropout(droprate)(x)
    x = temporal_conv(x, Ko, blocks[-3][-1], blocks[-2][0])  # OutputBlock
    x = layer_norm()(x)
    x = ops.relu(dense(blocks[-2][0], blocks[-2][1])(x))
    x = dense(blocks[-2][1], blocks[-1][0])(x)
    out = layers.Reshape((n_vertex,))(x)  # .view(len(x), -1)
    model = keras.Model(inp, out)
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=decay_steps, decay_rate=gamma,
                                                           staircase=True)
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(schedule))
    return model


def _build(framework: str, step_per_batch: bool) -> dict[str, Any]:
    gso, batches, inputs = _data()
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        decay_steps = step_size if step_per_batch else step_size * BATCHES_PER_EPOCH
        model = _keras_model(gso, decay_steps)
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}

    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)
    model = _torch_model(gso)
    model.train()

    def make_optimizer(params):  # prepare_model()
        optimizer = optim.Adam(params, lr=lr, weight_decay=weight_decay_rate, amsgrad=False)
        optimizer.lr_schedule = optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
        optimizer.batches_seen = 0
        return optimizer

    def train_step(model, optimizer, loss, x, y):  # train(), one batch
        y_pred = model(x)  # model(x).view(len(x), -1), see LoopView
        l = loss(y_pred, y)
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        optimizer.batches_seen = getattr(optimizer, "batches_seen", 0) + 1
        scheduler = getattr(optimizer, "lr_schedule", None)
        if scheduler is not None:
            if step_per_batch:
                scheduler.step()  # the fault: once per batch
            elif optimizer.batches_seen % BATCHES_PER_EPOCH == 0:
                scheduler.step()  # the fix: once per epoch (750 batches of METR-LA)
        return l

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(inputs), "loss_fn": nn.MSELoss(),
            "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, step_per_batch=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, step_per_batch=False)
