"""omniscientoctopus/Physics-Informed-Neural-Networks (Prateek Bhustali's PINN study, now
prateekbhustali/Physics-Informed-Neural-Networks), ``PyTorch/Helmholtz/Helmholtz.ipynb``: a physics-informed network
for the 2-D Helmholtz equation ``u_xx + u_yy + k^2 u = q(x, y)`` on [-1, 1]^2 with ``k = 1``, ``a_1 = a_2 = 1`` and
the manufactured solution ``u = sin(pi x) sin(pi y)`` (so ``q = (-(a_1 pi)^2 - (a_2 pi)^2 + k^2) sin(a_1 pi x)
sin(a_2 pi y)``). ``Sequentialmodel(layers=[2, 50, 50, 50, 1])``: min-max scaling of (x, y) to [0, 1] inside
``forward``, three ``nn.Linear`` + ``tanh`` hidden layers and a linear output, Xavier-normal weights (gain 1), zero
biases. The loss is ``loss_BC`` (MSE of the network against u on ``N_u = 400`` points drawn from the four edges of a
256 x 256 grid) plus ``loss_PDE`` (MSE of the residual ``f = u_xx_1 + u_xx_2 + k^2 u - q`` against zero on ``N_f =
10000`` Latin-hypercube collocation points with the 400 boundary points appended), minimised full-batch by
``optim.Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08)`` for ``max_iter = 1000`` steps (zero_grad, backward, step);
the score is the relative L2 error of u on the 256 x 256 grid.

The fault (the PDE residual uses the wrong second derivatives): ``loss_PDE`` takes the first derivatives with
``u_x = autograd.grad(u, g, ones(N, 1), create_graph=True)[0]`` (columns du/dx, du/dy: right) and then the "second
derivatives" with ``u_xx = autograd.grad(u_x, g, torch.ones(x_to_train_f.shape), create_graph=True)[0]``. With a
ones grad_output over both columns, autograd differentiates the SUM ``u_x + u_y``, so ``u_xx[:, 0] = u_xx + u_yx``
and ``u_xx[:, 1] = u_xy + u_yy``: the residual trains ``u_xx + u_yy + 2 u_xy + k^2 u = q``, a different PDE. For the
chosen solution ``u_xy = pi^2 cos(pi x) cos(pi y)`` is not zero, so the network can only fit the boundary data and
the wrong PDE at once by settling on a wrong field: the loss falls, the error against the true solution does not.
Issue #4 "Helmholtz pytorch predicted problem" (FemLearner, 2023-08-16: the TensorFlow notebook works, "But when I
try the version of pytorch, and whatever i did (changing the layers or iter), the result was bad"); aho38: "The
issue was in autograd of the parameters. It's computing the wrong input."; lrk612 (2025-09-01) gives the fix: "Just
change the code for calculating the second derivative in _loss_PDE_ to ``u_x1 = u_x[:, [0]]; u_x2 = u_x[:, [1]];
u_xx1 = autograd.grad(u_x1, g, grad_outputs=torch.ones_like(u_x1), create_graph=True)[0][:, [0]]; u_xx2 =
autograd.grad(u_x2, g, grad_outputs=torch.ones_like(u_x2), create_graph=True)[0][:, [1]]`` The original code will
mix the partial derivative into the Laplace term." The notebook is unchanged at the repository's last commit
7d26e55 (the issue is still open; the fix is the issue's).

Source: github.com/omniscientoctopus/Physics-Informed-Neural-Networks ``PyTorch/Helmholtz/Helmholtz.ipynb``
@7d26e55 (last change), issue #4 with the fix in its comments.
Fault label: other:pde_residual_laplacian_mixes_partials (the physics loss differentiates the sum of the first
derivatives, so the Laplacian carries 2 u_xy and the network is trained on the wrong equation).

Program lines kept: the grid, edges and exact solution, ``trainingdata`` (400 random edge points without
replacement, LHS collocation points plus the edge points), ``Sequentialmodel`` (scaling, [2, 50, 50, 50, 1] tanh,
Xavier-normal gain 1, zero biases), ``loss_BC`` + ``loss_PDE`` with MSE(reduction='mean') against ``f_hat = 0``,
q, k, a_1, a_2, Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08), full batch, zero_grad / backward / step; the buggy
second derivative (one ``autograd.grad`` of ``u_x`` with ones of shape (N, 2)) and the fixed one (lrk612's two).
Ported / shrunk: ``N_f = 1000`` collocation points instead of 10000 (a full-batch step with second derivatives over
10800 rows would take ~0.1-0.15 s on one thread, against ~10-20 ms for 1800; N_u stays 400); ``pyDOE.lhs`` (not
installed) is a seeded numpy Latin hypercube (one point per stratum per axis, strata shuffled). To let
``loss_fn(outputs, y)`` see the physics loss, the residual is computed in the model's forward: ``model(x)`` returns
the columns ``[u, f]`` (the net's u and the program's residual at each point, derivatives taken inside
``torch.enable_grad`` on a copy of x); ``y`` holds ``[u_target, is_boundary]``: the first 400 rows of a batch are the
boundary points (loss_BC rows), the other 1400 the collocation points (loss_PDE rows), and ``loss_fn`` is ``MSE(u[bc],
u_target[bc]) + MSE(f[colloc], 0)``, the program's ``PINN.loss``. Keras twin (TF backend): the same net
(``glorot_normal`` = Xavier normal gain 1, zero biases) with the residual in ``call`` through nested
``tf.GradientTape``s; the bug exists there the same way (``tape.gradient(u_x, g)`` of the (N, 2) first derivatives
sums their columns) and the fix takes the gradient of each column; compiled with the same loss and
``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-08)``.
Data stand-in: none needed; the program generates its own data (manufactured solution), seeded (numpy 1234).
``batch`` / ``batches`` (one batch: the program is full-batch): the 1800 training rows; ``inputs``: 1024 points of
the 256 x 256 test grid (every 8th row and column).

Fix: take each second derivative from its own first-derivative column (issue #4's code).

Measured (my own plain loop, /tmp/s48/h70_c/measure.py, OMP_NUM_THREADS=1: the module's builds, the program's
1000 full-batch Adam steps (zero_grad, loss_fn(model(x), y), backward, step; Keras ``train_on_batch``), relative L2
error of the net's u against the exact solution on the full 256 x 256 grid, at steps 0 / 100 / 300 / 999):
  torch: loss buggy 61.8 / 34.9 / 3.30 / 0.087, fixed 61.8 / 38.4 / 0.448 / 0.036; relative L2 error buggy
    1.05 / 1.23 / 2.95 / 3.92 (growing while its loss falls: worse than predicting 0), fixed 1.05 / 1.80 / 0.518 /
    0.153. Mean-square residual of the TRUE Helmholtz equation on the collocation points after training: buggy 2616,
    fixed 0.011 -- the buggy net has solved the wrong PDE (its own loss says 0.087).
  Keras: loss buggy 61.6 / 38.5 / 3.32 / 0.157, fixed 61.6 / 50.8 / 0.701 / 0.031; relative L2 error buggy 1.02 /
    1.67 / 2.73 / 3.76, fixed 1.02 / 1.01 / 0.614 / 0.113.
  So the training loss falls in both versions, nearly as far in the buggy one; only the error against the true
    solution (or the true residual) shows the fault: the buggy net converges to a wrong field.
  Time per step (1800 rows, one thread): torch buggy ~10 ms, fixed ~20 ms (two second-derivative passes); Keras
    ~9 / ~14 ms. Builds: torch ~3 s with the import, Keras ~12 s with the TensorFlow import on a loaded machine.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:pde_residual_laplacian_mixes_partials"
SOURCE = ("github:omniscientoctopus/Physics-Informed-Neural-Networks issue #4 "
          "(PyTorch/Helmholtz/Helmholtz.ipynb@7d26e55 Sequentialmodel.loss_PDE; fix in the issue's comments)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("batch_independence", {})]

# the notebook's settings; N_f 10000 -> 1000 for CPU time (see the docstring)
N_u = 400
N_f = 1000
layers = [2, 50, 50, 50, 1]
a_1 = 1
a_2 = 1
k = 1
lr = 0.001
max_iter = 1000
lb = np.array([-1, -1])  # lower bound
ub = np.array([1, 1])  # upper bound


def _lhs(n_dim: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """pyDOE ``lhs(n_dim, n)`` stand-in: one uniform point per stratum of [0, 1] per axis, strata shuffled."""
    cut = np.linspace(0, 1, n + 1)
    u = rng.random((n, n_dim))
    pts = cut[:n, None] + u * (cut[1] - cut[0])
    for j in range(n_dim):
        pts[:, j] = pts[rng.permutation(n), j]
    return pts


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's grid, exact solution and ``trainingdata(N_u, N_f)`` (seeded like the notebook: 1234).

    Returns x (N_u + N_f + N_u, 2): boundary rows then collocation rows; y (same rows, 2): [u_target, is_boundary];
    the test grid points (65536, 2) and the exact u there."""
    np.random.seed(1234)
    x_1 = np.linspace(-1, 1, 256)
    x_2 = np.linspace(1, -1, 256)
    X, Y = np.meshgrid(x_1, x_2)
    X_u_test = np.hstack((X.flatten(order="F")[:, None], Y.flatten(order="F")[:, None]))
    usol = np.sin(a_1 * np.pi * X) * np.sin(a_2 * np.pi * Y)
    u_true = usol.flatten("F")[:, None]
    leftedge_x = np.hstack((X[:, 0][:, None], Y[:, 0][:, None]))
    leftedge_u = usol[:, 0][:, None]
    rightedge_x = np.hstack((X[:, -1][:, None], Y[:, -1][:, None]))
    rightedge_u = usol[:, -1][:, None]
    topedge_x = np.hstack((X[0, :][:, None], Y[0, :][:, None]))
    topedge_u = usol[0, :][:, None]
    bottomedge_x = np.hstack((X[-1, :][:, None], Y[-1, :][:, None]))
    bottomedge_u = usol[-1, :][:, None]
    all_X_u_train = np.vstack([leftedge_x, rightedge_x, bottomedge_x, topedge_x])
    all_u_train = np.vstack([leftedge_u, rightedge_u, bottomedge_u, topedge_u])
    idx = np.random.choice(all_X_u_train.shape[0], N_u, replace=False)
    X_u_train = all_X_u_train[idx[0:N_u], :]
    u_train = all_u_train[idx[0:N_u], :]
    X_f = lb + (ub - lb) * _lhs(2, N_f, np.random.default_rng(1234))
    X_f_train = np.vstack((X_f, X_u_train))  # append training points to collocation points
    x = np.vstack((X_u_train, X_f_train)).astype(np.float32)
    y = np.zeros((len(x), 2), np.float32)
    y[:N_u, 0] = u_train[:, 0]
    y[:N_u, 1] = 1.0
    return x, y, X_u_test.astype(np.float32), u_true.astype(np.float32)


def _inputs() -> np.ndarray:
    grid = _data()[2].reshape(256, 256, 2)  # column-major flatten: [x index, y index]
    return np.ascontiguousarray(grid[::8, ::8].reshape(-1, 2))


def _torch(fix: bool) -> dict[str, Any]:
    import torch
    import torch.autograd as autograd
    import torch.nn as nn

    torch.manual_seed(1234)

    class Sequentialmodel(nn.Module):  # the notebook's network (forward)
        def __init__(self, layers):
            super().__init__()
            self.activation = nn.Tanh()
            self.linears = nn.ModuleList([nn.Linear(layers[i], layers[i + 1]) for i in range(len(layers) - 1)])
            for i in range(len(layers) - 1):
                nn.init.xavier_normal_(self.linears[i].weight.data, gain=1.0)
                nn.init.zeros_(self.linears[i].bias.data)

        def forward(self, x):
            u_b = torch.from_numpy(ub).float()
            l_b = torch.from_numpy(lb).float()
            x = (x - l_b) / (u_b - l_b)  # feature scaling
            a = x.float()
            for i in range(len(layers) - 2):
                z = self.linears[i](a)
                a = self.activation(z)
            a = self.linears[-1](a)
            return a

    class PINN(nn.Module):  # returns [u, f]: the net's u and loss_PDE's residual at every point
        def __init__(self):
            super().__init__()
            self.net = Sequentialmodel(layers)

        def forward(self, x_to_train_f):
            x_1_f = x_to_train_f[:, [0]]
            x_2_f = x_to_train_f[:, [1]]
            with torch.enable_grad():
                g = x_to_train_f.detach().clone()
                g.requires_grad = True
                u = self.net(g)
                u_x = autograd.grad(u, g, torch.ones([x_to_train_f.shape[0], 1]), retain_graph=True,
                                    create_graph=True)[0]
                if fix:  # issue #4: each second derivative from its own first-derivative column
                    u_x1 = u_x[:, [0]]
                    u_x2 = u_x[:, [1]]
                    u_xx_1 = autograd.grad(u_x1, g, grad_outputs=torch.ones_like(u_x1), create_graph=True)[0][:, [0]]
                    u_xx_2 = autograd.grad(u_x2, g, grad_outputs=torch.ones_like(u_x2), create_graph=True)[0][:, [1]]
                else:  # BUG: differentiates u_x + u_y: u_xx_1 = u_xx + u_yx, u_xx_2 = u_xy + u_yy
                    u_xx = autograd.grad(u_x, g, torch.ones(x_to_train_f.shape), create_graph=True)[0]
                    u_xx_1 = u_xx[:, [0]]
                    u_xx_2 = u_xx[:, [1]]
                q = (-(a_1 * np.pi) ** 2 - (a_2 * np.pi) ** 2 + k ** 2) * torch.sin(a_1 * np.pi * x_1_f) \
                    * torch.sin(a_2 * np.pi * x_2_f)
                f = u_xx_1 + u_xx_2 + k ** 2 * u - q
            return torch.cat([u, f], dim=1)

    loss_function = nn.MSELoss(reduction="mean")

    def loss_fn(outputs, y):  # PINN.loss: loss_BC on the boundary rows + loss_PDE (f vs f_hat = 0) on the others
        bc = y[:, 1] > 0.5
        loss_u = loss_function(outputs[bc][:, [0]], y[bc][:, [0]])
        f = outputs[~bc][:, [1]]
        loss_f = loss_function(f, torch.zeros_like(f))
        return loss_u + loss_f

    x, y, _, _ = _data()
    batch = (torch.from_numpy(x), torch.from_numpy(y))
    model = PINN()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-08, weight_decay=0,
                                 amsgrad=False)
    return {"model": model, "batch": batch, "batches": [batch], "inputs": torch.from_numpy(_inputs()),
            "loss_fn": loss_fn, "optimizer": optimizer}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    from keras import layers as kl

    keras.utils.set_random_seed(1234)

    class PINN(keras.Model):  # Sequentialmodel + loss_PDE's residual; call returns [u, f]
        def __init__(self):
            super().__init__()
            self.linears = [kl.Dense(n, kernel_initializer="glorot_normal", bias_initializer="zeros")
                            for n in layers[1:]]

        def net(self, x):
            a = (x - lb.astype(np.float32)) / (ub - lb).astype(np.float32)  # feature scaling
            for lin in self.linears[:-1]:
                a = tf.tanh(lin(a))
            return self.linears[-1](a)

        def call(self, x_to_train_f):
            x_1_f = x_to_train_f[:, 0:1]
            x_2_f = x_to_train_f[:, 1:2]
            g = tf.identity(x_to_train_f)
            with tf.GradientTape(persistent=True) as t2:
                t2.watch(g)
                with tf.GradientTape() as t1:
                    t1.watch(g)
                    u = self.net(g)
                u_x = t1.gradient(u, g)
                u_x1 = u_x[:, 0:1]
                u_x2 = u_x[:, 1:2]
            if fix:  # each second derivative from its own first-derivative column
                u_xx_1 = t2.gradient(u_x1, g)[:, 0:1]
                u_xx_2 = t2.gradient(u_x2, g)[:, 1:2]
            else:  # BUG: gradient of the (N, 2) u_x sums its columns: u_xx + u_yx, u_xy + u_yy
                u_xx = t2.gradient(u_x, g)
                u_xx_1 = u_xx[:, 0:1]
                u_xx_2 = u_xx[:, 1:2]
            del t2
            q = (-(a_1 * np.pi) ** 2 - (a_2 * np.pi) ** 2 + k ** 2) * tf.sin(a_1 * np.pi * x_1_f) \
                * tf.sin(a_2 * np.pi * x_2_f)
            f = u_xx_1 + u_xx_2 + k ** 2 * u - q
            return tf.concat([u, f], axis=1)

    def loss_fn(y_true, y_pred):  # PINN.loss: MSE on the boundary rows + MSE(f, 0) on the collocation rows
        bc = y_true[:, 1]
        n_bc = tf.reduce_sum(bc)
        loss_u = tf.reduce_sum(bc * tf.square(y_pred[:, 0] - y_true[:, 0])) / n_bc
        loss_f = tf.reduce_sum((1.0 - bc) * tf.square(y_pred[:, 1])) / (tf.cast(tf.shape(bc)[0], bc.dtype) - n_bc)
        return loss_u + loss_f

    x, y, _, _ = _data()
    model = PINN()
    model(x[:2])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-08),
                  loss=loss_fn)
    batch = (x, y)
    return {"model": model, "batch": batch, "batches": [batch], "inputs": _inputs(), "loss_fn": loss_fn,
            "optimizer": model.optimizer}


buggy, fixed = versions(_torch, _keras)
