"""jessicayung/blog-code-snippets, ``lstm-pytorch/lstm-baseline.py`` (the code behind Jessica Yung's blog post "LSTMs
for Time Series in PyTorch", 2018): a two-layer ``nn.LSTM(1, 32, 2)`` (time-major, PyTorch's default layout) with a
``Linear(32, 1)`` on the last time step's output, trained to forecast an autoregressive series one step ahead. The
data come from the repository's ``generate_data.ARData(100, num_prev=20, test_size=0.2, noise_var=0,
coeffs=fixed_ar_coefficients[20])``: a noiseless AR(20) series with fixed stable coefficients started from 20
``randn`` values, the first 60 points cut, then ``reshape_data`` builds the windows ``x[i] = y[i:i + 20]`` (shape
(100, 20): sample, lag) with the next value ``y[i + 20]`` as target, and the last 20 % are held out (80 training
windows). Training is full-batch: 500 epochs of ``model(X_train)``, ``MSELoss(size_average=False)`` (a sum over the
80 samples), ``Adam(lr=1e-3)``, ``zero_grad(); backward(); step()``.

The fault (time/batch axis order of the fed sequences): the (samples, lags) matrix is turned into the LSTM's
(seq_len, batch, 1) layout with ``X_train = X_train.view([input_size, -1, 1])``, a reinterpretation of the row-major
memory, not a transpose. Element [t, b] of the result is flat entry t * 80 + b of X_train, i.e. window
4t + b // 20 at lag b % 20, so "sequence" b reads y[4t + b // 20 + b % 20] for t = 0..19: a series subsampled every
fourth step that starts at offset c_b = b // 20 + b % 20 and has nothing to do with its target y[b + 20]. Only 23
distinct sequences exist among the 80 (all b with the same c_b get the same sequence) while their targets differ,
so the network cannot even memorise the training set: the loss falls to the target's variance (what predicting the
mean gives) and stays there. The held-out windows are scrambled the same way.

Source: github.com/jessicayung/blog-code-snippets ``lstm-pytorch/lstm-baseline.py`` and ``generate_data.py``
@e22f99bb097acfdcc7965a8a636213e40ff7a22f (last commit touching them); issue #6 "X_train and X_test incorrectly
reshaped in lstm-baseline.py" (hector1980, 2020-04-10): "You should first transpose both matrices. The best way to
track the problem is using a time series with the values 1, 2, 3, etc. and you will find the error. So, you should
use: X_train = X_train.t().view(input_size, -1, 1) / X_test = X_test.t().view(input_size, -1, 1)". The issue is
still open in the repository; its fix is the one ported.
Fault label: other:time_axis_reshaped_without_transpose (each fed sequence mixes values of several windows, and
identical sequences carry different targets: no input-target relation is left to learn).
Fix (issue #6): ``X_train.t().view(input_size, -1, 1)`` (time-major windows; here ``.t().contiguous()`` since
modern torch refuses ``view`` on the transposed tensor; the same values).

Program lines kept: ``ARData`` (the AR recursion ``bayes_preds[i + p] = dot(y[i:p + i][::-1], coeffs)``, noise_var 0,
the cut of the first 3p points, ``reshape_data``, the 80 / 20 split) with ``fixed_ar_coefficients[20]``;
``lstm-baseline.py``'s settings (input_size 20, per_element=True so lstm_input_size 1, h1 32, num_layers 2,
output_dim 1, learning_rate 1e-3), the ``LSTM`` class (``nn.LSTM(input_dim, hidden_dim, num_layers)`` time-major,
``self.linear(lstm_out[-1]...)``, ``y_pred.view(-1)``), ``MSELoss`` summed over the batch, ``Adam(lr=1e-3)``, the
full batch of 80, and the buggy / fixed ``view``. Nothing shrunk (a step takes ~4 ms).
Ported: the initial 20 ``randn`` points come from ``np.random.RandomState(0)`` (the program leaves NumPy unseeded);
``size_average=False`` is ``reduction="sum"``; ``forward`` views its input as ``(len(input), -1, 1)`` and the last
output as ``(-1, hidden_dim)`` instead of using the constructor's ``batch_size=num_train`` (identical for the
program's 80-sample batch, and lets the model run on the 20 held-out windows or a part of a batch); the unused
``init_hidden`` / ``self.hidden`` bookkeeping is dropped (the program never passes ``self.hidden`` to the LSTM, so
its states start at zero every call, as here). The checks take batch-first inputs, so the model's ``forward``
first transposes its input ``(batch, 20, 1) -> (20, batch, 1)`` and the batches hold the program's time-major
tensors transposed back: ``x[b] = X_train.view([20, -1, 1])[:, b]`` is exactly the sequence that sample b feeds
the LSTM in the program (buggy: the scrambled one; fixed: ``X_train[b]``).
``batch`` / ``batches``: the 80 training windows (x (80, 20, 1), y (80,)), the program's one
batch per epoch; ``inputs``: the 20 held-out windows after the same buggy / fixed ``view`` (20, 20, 1).
Keras: not ported. The fault comes from PyTorch's time-major RNN layout (the author reshapes to (seq_len, batch)
because ``nn.LSTM`` wants it); Keras recurrent layers are batch-major, where the natural
``X_train.reshape(-1, 20, 1)`` is already correct and no transpose is needed.

Measured (my own plain loop, /tmp/s46/h65b/measure.py, OMP_NUM_THREADS=1, the module's builds: the program's 500
full-batch epochs; loss = summed squared error over the 80 windows; the training targets' variance is 0.0266,
i.e. a mean predictor's summed loss 2.13):
  buggy: loss epoch 0 / 10 / 50 / 100 / 200 / 300 / 400 / 499: 3.880 / 2.140 / 2.126 / 2.123 / 2.110 / 2.060 /
    2.058 / 2.053 -> final training MSE 0.0257 (= 97 % of the variance), held-out MSE 0.0064 (predicting the
    training mean there: 0.0083);
  fixed: 3.878 / 2.135 / 2.104 / 1.995 / 0.570 / 0.473 / 0.313 / 0.191 -> training MSE 0.0024 (9 % of the
    variance) and still falling, held-out MSE 0.00043 (15 times lower than buggy).
  The buggy batch holds only 23 distinct input sequences for its 80 targets (fixed: 80). With a different seed for
  the initial points (RandomState(1)): buggy 1.505 at epoch 499 (MSE 0.0188, variance 0.0202), fixed 0.211 (MSE
  0.0026). A step (forward, backward, Adam) takes 4-9 ms on one thread (busy machine); the first build 2.2 s with
  the torch import, later ones ~10 ms. Fixed: ``batch`` x equals ``X_train[:, :, None]`` and ``inputs`` equals
  ``X_test[:, :, None]``; each build returns a fresh, identically seeded model and optimiser.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:time_axis_reshaped_without_transpose"
SOURCE = ("github:jessicayung/blog-code-snippets issue #6 (lstm-pytorch/lstm-baseline.py"
          "@e22f99bb097acfdcc7965a8a636213e40ff7a22f: 'X_train = X_train.view([input_size, -1, 1])'; fix in the "
          "issue: 'X_train = X_train.t().view(input_size, -1, 1)')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "regression"}), ("overfit_one_batch", {"task": "regression"}),
          ("input_independent_baseline", {"task": "regression"}),
          ("not_constant_predictions", {"task": "regression"})]

# generate_data.py / lstm-baseline.py
NOISE_VAR = 0
NUM_DATAPOINTS = 100
TEST_SIZE = 0.2
INPUT_SIZE = 20  # num_prev: lags per window = LSTM time steps (per_element=True)
LSTM_INPUT_SIZE = 1
H1 = 32
OUTPUT_DIM = 1
NUM_LAYERS = 2
LEARNING_RATE = 1e-3
FIXED_AR_COEFFICIENTS_20 = [0.1937815, 0.01201026, 0.00464018, -0.21887467, -0.20113385, -0.02322278,
                            0.34285319, -0.21069086, 0.06604683, -0.22377364, 0.11714593, -0.07122126,
                            -0.16346554, 0.03174824, 0.308584, 0.06881604, 0.24840789, -0.32735569,
                            0.21939492, 0.3996207]
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _ar_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ARData(100, num_prev=20, test_size=0.2, noise_var=0, coeffs=fixed_ar_coefficients[20]): X_train (80, 20),
    X_test (20, 20), y_train (80,), y_test (20,), float64 as generated."""
    p, n = INPUT_SIZE, NUM_DATAPOINTS
    r = np.random.RandomState(SEED)
    y = np.zeros(n + p * 4)
    bayes_preds = np.copy(y)
    y[:p] = r.randn(p)  # generate_initial_points
    for i in range(n + 3 * p):
        bayes_preds[i + p] = np.dot(y[i:p + i][::-1], FIXED_AR_COEFFICIENTS_20)
        y[i + p] = bayes_preds[i + p] + NOISE_VAR * r.randn()
    y = y[3 * p:]  # cut the first points so the distribution is roughly stationary
    x = np.reshape([y[i:i + p] for i in range(n)], (-1, p))  # reshape_data
    y = np.copy(y[p:])
    test_size = int(len(y) * TEST_SIZE)
    return x[:-test_size], x[-test_size:], y[:-test_size], y[-test_size:]


# ----------------------------------------------------------------------------------------------------------- torch

def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    x_train_np, x_test_np, y_train_np, _ = _ar_data()
    X_train = torch.from_numpy(x_train_np).type(torch.Tensor)
    X_test = torch.from_numpy(x_test_np).type(torch.Tensor)
    y_train = torch.from_numpy(y_train_np).type(torch.Tensor).view(-1)

    if fixed:  # issue #6: transpose first
        X_train = X_train.t().contiguous().view(INPUT_SIZE, -1, 1)
        X_test = X_test.t().contiguous().view(INPUT_SIZE, -1, 1)
    else:
        X_train = X_train.view([INPUT_SIZE, -1, 1])
        X_test = X_test.view([INPUT_SIZE, -1, 1])

    class LSTM(nn.Module):
        def __init__(self, input_dim, hidden_dim, output_dim=1, num_layers=2):
            super().__init__()
            self.input_dim = input_dim
            self.hidden_dim = hidden_dim
            self.num_layers = num_layers
            self.lstm = nn.LSTM(self.input_dim, self.hidden_dim, self.num_layers)
            self.linear = nn.Linear(self.hidden_dim, output_dim)

        def forward(self, input):
            input = input.transpose(0, 1)  # port: the checks' batch-first (batch, 20, 1) -> time-major (20, batch, 1)
            lstm_out, _ = self.lstm(input.view(len(input), -1, self.input_dim))
            y_pred = self.linear(lstm_out[-1].view(-1, self.hidden_dim))  # the final time step
            return y_pred.view(-1)

    torch.manual_seed(SEED)
    model = LSTM(LSTM_INPUT_SIZE, H1, output_dim=OUTPUT_DIM, num_layers=NUM_LAYERS)
    loss_fn = torch.nn.MSELoss(reduction="sum")  # MSELoss(size_average=False)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    x = X_train.transpose(0, 1).contiguous()  # (80, 20, 1): sample b's sequence as the LSTM reads it
    batch = (x, y_train)
    return {"model": model, "batch": batch, "batches": [batch],
            "inputs": X_test.transpose(0, 1).contiguous(), "loss_fn": loss_fn, "optimizer": optimiser}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
