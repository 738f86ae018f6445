"""WTTE-RNN (ragulpr/wtte-rnn, Egil Martinsson): a recurrent net that predicts, at every time step of an event
sequence, the parameters (alpha, beta) of a discrete Weibull distribution of the time to the next event, trained on
right-censored time-to-event (TTE) targets with the Weibull log-likelihood. The program is the repository's own
``examples/keras/simple_example.ipynb`` ("WTTE-RNN in keras"): 80 sequences of 200 steps with an event every 80th
step (each sequence starting at another phase), feature = "was there an event in the last step" with 0.5% XOR
noise, ``n_repeats = 1000`` noisy copies, targets ``y = [tte_censored, u]`` (u = 0 on the censored tail after the
last event); ``init_alpha = -1/log(1 - 1/(mean tte + 1)) / mean u`` (= 43.44); model ``GRU(1, activation='tanh',
return_sequences=True) -> Dense(2) -> Lambda(wtte.output_lambda, init_alpha=init_alpha, max_beta_value=4.0)``
(``alpha = init_alpha * exp(x0)``, ``beta = 4 * clip(sigmoid(x1 - log 3), eps, 1 - eps)``), loss
``wtte.loss(kind='discrete').loss_function``, ``compile(optimizer=adam(lr=.01))``, ``fit(epochs=60,
batch_size=x_train.shape[0]//10)``.

The fault is in the library's discrete log-likelihood that the program trains with (``python/wtte/wtte.py``,
``loss.loss_function`` -> ``loglik_discrete``, wtte <= 1.0.4)::

    hazard0 = K.pow((y + 1e-35) / a, b)
    hazard1 = K.pow((y + 1.0) / a, b)
    loglikelihoods = u * K.log(K.exp(hazard1 - hazard0) - 1.0) - hazard1
    loss = -1.0 * K.mean(loglikelihoods, axis=-1)

For an observed event (u = 1) the log-probability is log(exp(h1 - h0) - 1). When the net is confident (beta near its
cap 4) and predicts a long wait (alpha large) at a step where the event does happen (y = 0), h1 - h0 = (1/alpha)^beta
falls below float32's resolution at 1 (alpha > ~70 for beta 3.85: (1/75.6)^3.85 = 6e-8), ``exp(.)`` rounds to exactly
1.0, and the loss takes log(0) = -inf: the batch loss is +inf and its gradient NaN, which Adam writes into every
weight. Such steps are in the data by construction: an XOR noise flip one or two steps before a real event makes the
net restart its 80-step countdown just before the event comes. Nothing bounds the log-likelihood.
The fix, wtte 1.1 (commit dcebad2 "Add clipping to log-likelihood", listed in issue #41 "Clip Log-Likelihood and
more [WTTE 1.1 release]": "fixes 99% of the problem of NaN and numerical instability")::

    def loglik_discrete(y, u, a, b, epsilon=K.epsilon()):
        hazard0 = K.pow((y + epsilon) / a, b)
        hazard1 = K.pow((y + 1.0) / a, b)
        loglikelihoods = u * K.log(K.exp(hazard1 - hazard0) - (1.0 - epsilon)) - hazard1
    ...
    loglikelihoods = K.clip(loglikelihoods, log(self.eps_prob), log(1 - self.eps_prob))   # eps_prob=1e-6

(issue #39 "nan loss function when b approaches 0" had reported the same log(exp(.) - 1) = log(0) and proposed the
epsilon inside the log).

Source: github.com/ragulpr/wtte-rnn, program ``examples/keras/simple_example.ipynb`` and library
``python/wtte/wtte.py`` at ba13045 (= dcebad2^, wtte 1.0.4 + cleanup), fix dcebad233bd318f8529463bb51a38dfc77434a21
(issues #39, #41). Fault label: loss_not_finite (log of zero in the loss), seen as outputs_not_finite / NaN weights
one step later.

Program lines kept: ``get_data`` (``get_equal_spaced``, the censoring, tiling and XOR noise; ``np.random.seed(2)``),
``n_timesteps = 200``, ``every_nth = n_sequences = 80``, ``n_features = 1``, ``noise_level = 0.005``,
``use_censored = True``, the ``init_alpha`` formula, the model (GRU(1) tanh, return_sequences -> Dense(2) ->
``output_lambda`` with ``max_beta_value=4.0``), the discrete loss with ``reduce_loss=True`` (mean over time, then
Keras' mean over the batch) and Adam(lr=0.01). Keras' default initialisers (glorot-uniform kernels, orthogonal
recurrent kernel, zero biases).
Ported / shrunk: ``n_repeats`` 1000 -> 10 (800 noisy sequences instead of 80,000) and the batch 8,000 -> 80 sequences
(one step on 8,000 x 200 steps costs seconds on one CPU thread); the batch keeps one sequence per phase on average.
Keras 3: ``keras.layers.wrappers``/``adam(lr=)`` -> ``keras.optimizers.Adam(learning_rate=)``, ``K.*`` ->
``keras.ops``; the GRU keeps Keras 3's defaults (sigmoid gates, reset_after=True) instead of Keras 2.1's
(hard_sigmoid gates, reset_after=False): with Keras 3's hard_sigmoid (slope 1/6) and reset_after=False the one-unit
GRU barely learned in 2,000 steps (loss 3.86 -> 3.73, beta stuck near 1.7), unlike the program's logged run. Torch
twin: ``nn.GRU(1, 1)`` (the same sigmoid-gate, reset-after form) with Keras' initialisers, the same Dense, output activation and loss lines in torch, Adam(lr=0.01, eps=1e-7) as Keras'.
``WeightWatcher``, ``History``, plots and predictions are left out.
Data stand-in: none needed; the program generates its data (``get_data``), kept as it is with fewer repeats.

Measured (my own loop, /tmp/h44c, OMP_NUM_THREADS=1, the 800 sequences reshuffled every epoch into batches of 80 as
``fit`` does, seed 0; torch ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``, Keras
``train_on_batch``):
  torch buggy: loss 3.84 at step 1, 3.72 at 50, 3.52 at 100, 3.36 at 200, 3.30 at 400 (alpha 18.7..78.5, beta up
               to 3.86 on the first 80 sequences); at step 436 the batch loss is +inf and after that update every
               output (alpha, beta) is NaN, the loss NaN. In an earlier probe with torch's default GRU init
               the log(0) came at step 493 (seed 0) and 1,525 (seed 1), and not within 1,000 steps for seed 2; the
               element that went to -inf was each time y = 0, u = 1, alpha 75.6 / 119.9, beta 3.85 / 3.48.
        fixed: the same trajectory to 4 digits up to step 400 (3.30), then 3.26 at 600, 3.22 at 1,000, 3.30 at
               2,000, outputs finite throughout (alpha 16..78, beta 0.93..4.00).
  keras buggy and fixed: 3.86 at step 1, 3.71 at 100, 3.28 at 400, 3.22 at 1,000, 3.32 / 3.31 at 2,000; both stay
               finite for 2,000 steps (alpha up to 77.6, beta up to 3.999): the Keras run never met a step
               where a y = 0 event came with alpha large enough, so the fault is in its loss but the symptom is
               seed- and trajectory-dependent here (the fix's clipping changed the loss from step ~400 on).
About 35 ms (torch) and 22-25 ms (keras) per step on one CPU thread (batch 80 x 200 steps).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_not_finite|outputs_not_finite"
SOURCE = ("github:ragulpr/wtte-rnn issues #39, #41 (examples/keras/simple_example.ipynb + python/wtte/wtte.py "
          "loss(kind='discrete') loglik_discrete 'K.log(K.exp(hazard1 - hazard0) - 1.0)' @ba13045 = dcebad2^; fix "
          "dcebad233bd318f8529463bb51a38dfc77434a21 'Add clipping to log-likelihood')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

n_timesteps = 200
n_sequences = every_nth = 80
n_features = 1
n_repeats = 10  # port: 1000 in the program
noise_level = 0.005
use_censored = True
max_beta_value = 4.0
lr = 0.01  # adam(lr=.01)
batch_size = 80  # port: x_train.shape[0]//10 = 8000 in the program
n_batches = 6
EPSILON = 1e-7  # K.epsilon()
EPS_PROB = 1e-6  # Loss(eps_prob=1e-6) in the fix
SEED = 0


def get_data(n_timesteps, every_nth, n_repeats, noise_level, n_features, use_censored=True):
    """The program's ``get_data`` (noise from ``np.random.seed(2)``'s stream, kept local)."""
    rs = np.random.RandomState(2)

    def get_equal_spaced(n, every_nth):
        # create some simple data of evenly spaced events recurring every_nth step
        # Each is on (time,batch)-format
        events = np.array([np.array(range(n)) for _ in range(every_nth)])
        events = events + np.array(range(every_nth)).reshape(every_nth, 1) + 1

        tte_actual = every_nth - 1 - events % every_nth

        was_event = (events % every_nth == 0) * 1.0
        was_event[:, 0] = 0.0

        events = tte_actual == 0

        is_censored = (events[:, ::-1].cumsum(1)[:, ::-1] == 0) * 1
        tte_censored = is_censored[:, ::-1].cumsum(1)[:, ::-1] * is_censored
        tte_censored = tte_censored + (1 - is_censored) * tte_actual

        events = np.copy(events.T * 1.0)
        tte_actual = np.copy(tte_actual.T * 1.0)
        tte_censored = np.copy(tte_censored.T * 1.0)
        was_event = np.copy(was_event.T * 1.0)
        not_censored = 1 - np.copy(is_censored.T * 1.0)

        return tte_censored, not_censored, was_event, events, tte_actual

    tte_censored, not_censored, was_event, events, tte_actual = get_equal_spaced(n=n_timesteps, every_nth=every_nth)

    u_train = not_censored.T.reshape(n_sequences, n_timesteps, 1)
    x_train = was_event.T.reshape(n_sequences, n_timesteps, 1)
    tte_censored = tte_censored.T.reshape(n_sequences, n_timesteps, 1)
    y_train = np.append(tte_censored, u_train, axis=2)  # (n_sequences,n_timesteps,2)

    u_test = np.ones(shape=(n_sequences, n_timesteps, 1))
    x_test = np.copy(x_train)
    tte_actual = tte_actual.T.reshape(n_sequences, n_timesteps, 1)
    y_test = np.append(tte_actual, u_test, axis=2)

    if not use_censored:
        x_train = np.copy(x_test)
        y_train = np.copy(y_test)

    x_train = np.tile(x_train.T, n_repeats).T
    y_train = np.tile(y_train.T, n_repeats).T

    x_train_new = np.zeros([x_train.shape[0], x_train.shape[1], n_features])
    x_test_new = np.zeros([x_test.shape[0], x_test.shape[1], n_features])
    for f in range(n_features):
        x_train_new[:, :, f] = x_train[:, :, 0]
        x_test_new[:, :, f] = x_test[:, :, 0]
    x_train = x_train_new
    x_test = x_test_new

    # xtrain is signal XOR noise with probability noise_level
    noise = rs.binomial(1, noise_level, size=x_train.shape)
    x_train = x_train + noise - x_train * noise
    return y_train, x_train, y_test, x_test, events


def _data() -> tuple[np.ndarray, np.ndarray, float, list[np.ndarray]]:
    y_train, x_train, _, _, _ = get_data(n_timesteps, every_nth, n_repeats, noise_level, n_features, use_censored)
    # Start at naive geometric (beta=1) MLE:
    tte_mean_train = np.nanmean(y_train[:, :, 0])
    init_alpha = -1.0 / np.log(1.0 - 1.0 / (tte_mean_train + 1.0))
    mean_u = np.nanmean(y_train[:, :, 1])
    init_alpha = init_alpha / mean_u
    order = np.random.default_rng(SEED).permutation(len(x_train))  # fit(shuffle=True)
    idx = [order[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]
    return x_train.astype("float32"), y_train.astype("float32"), float(init_alpha), idx


def _torch(clipped: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    x, y, init_alpha, idx = _data()

    class WTTERNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(n_features, 1, batch_first=True)  # GRU(1, activation='tanh', return_sequences=True)
            for gate in range(3):  # Keras: glorot_uniform kernel, orthogonal recurrent kernel, zero biases
                nn.init.xavier_uniform_(self.gru.weight_ih_l0.data[gate:gate + 1])
            nn.init.orthogonal_(self.gru.weight_hh_l0.data.T)
            nn.init.zeros_(self.gru.bias_ih_l0)
            nn.init.zeros_(self.gru.bias_hh_l0)
            self.dense = nn.Linear(1, 2)  # Dense(2)
            nn.init.xavier_uniform_(self.dense.weight)
            nn.init.zeros_(self.dense.bias)

        def forward(self, inputs):
            ab = self.dense(self.gru(inputs)[0])
            # Lambda(wtte.output_lambda, arguments={"init_alpha": init_alpha, "max_beta_value": 4.0})
            a = init_alpha * torch.exp(ab[..., 0])
            m = max_beta_value
            b = torch.sigmoid(ab[..., 1] - np.log(m - 1.0))
            b = m * torch.clamp(b, EPSILON, 1.0 - EPSILON)
            return torch.stack([a, b], dim=-1)

    def loss_fn(y_pred, y_true):  # wtte.loss(kind='discrete').loss_function(y_true, y_pred)
        yy, u = y_true[..., 0], y_true[..., 1]
        a, b = y_pred[..., 0], y_pred[..., 1]
        if clipped:  # fix dcebad2
            hazard0 = torch.pow((yy + EPSILON) / a, b)
            hazard1 = torch.pow((yy + 1.0) / a, b)
            loglikelihoods = u * torch.log(torch.exp(hazard1 - hazard0) - (1.0 - EPSILON)) - hazard1
            loglikelihoods = torch.clamp(loglikelihoods, np.log(EPS_PROB), np.log(1 - EPS_PROB))
        else:  # wtte <= 1.0.4
            hazard0 = torch.pow((yy + 1e-35) / a, b)
            hazard1 = torch.pow((yy + 1.0) / a, b)
            loglikelihoods = u * torch.log(torch.exp(hazard1 - hazard0) - 1.0) - hazard1
        return (-1.0 * loglikelihoods.mean(dim=-1)).mean()

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i], yt[i]) for i in idx]
    return {"model": WTTERNN(), "batch": batches[0], "batches": batches, "inputs": xt[:320], "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, eps=1e-7)}


def _keras(clipped: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)
    x, y, init_alpha, idx = _data()

    def _keras_unstack_hack(ab):
        return ab[..., 0], ab[..., 1]

    def output_lambda(x, init_alpha=1.0, max_beta_value=5.0):  # wtte.output_lambda (alpha_kernel_scalefactor None)
        a, b = _keras_unstack_hack(x)
        a = init_alpha * ops.exp(a)
        m = max_beta_value
        if m > 1.05:
            _shift = np.log(m - 1.0)
            b = ops.sigmoid(b - _shift)
        else:
            b = ops.sigmoid(b)
        b = m * ops.clip(b, EPSILON, 1.0 - EPSILON)
        return ops.stack([a, b], axis=-1)

    def loglik_discrete(y, u, a, b):
        if clipped:  # fix dcebad2: epsilon=K.epsilon()
            hazard0 = ops.power((y + EPSILON) / a, b)
            hazard1 = ops.power((y + 1.0) / a, b)
            return u * ops.log(ops.exp(hazard1 - hazard0) - (1.0 - EPSILON)) - hazard1
        hazard0 = ops.power((y + 1e-35) / a, b)
        hazard1 = ops.power((y + 1.0) / a, b)
        return u * ops.log(ops.exp(hazard1 - hazard0) - 1.0) - hazard1

    def loss_function(y_true, y_pred):  # wtte.loss(kind='discrete').loss_function, reduce_loss=True
        yy, u = _keras_unstack_hack(y_true)
        a, b = _keras_unstack_hack(y_pred)
        loglikelihoods = loglik_discrete(yy, u, a, b)
        if clipped:
            loglikelihoods = ops.clip(loglikelihoods, float(np.log(EPS_PROB)), float(np.log(1 - EPS_PROB)))
        return -1.0 * ops.mean(loglikelihoods, axis=-1)

    model = keras.Sequential()
    model.add(keras.Input(shape=(None, n_features)))
    # GRU(1, activation='tanh', return_sequences=True); Keras 3 defaults (sigmoid gates, reset_after=True), as the
    # torch twin's nn.GRU (see the module docstring)
    model.add(keras.layers.GRU(1, activation="tanh", return_sequences=True))
    model.add(keras.layers.Dense(2))
    model.add(keras.layers.Lambda(output_lambda, arguments={"init_alpha": init_alpha, "max_beta_value": 4.0}))
    model.compile(loss=loss_function, optimizer=keras.optimizers.Adam(learning_rate=lr))
    batches = [(x[i], y[i]) for i in idx]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:320]}


def _build(framework: str, clipped: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(clipped)
    if framework == "keras":
        return _keras(clipped)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, clipped=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, clipped=True)
