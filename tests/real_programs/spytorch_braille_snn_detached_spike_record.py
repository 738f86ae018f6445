"""SpyTorch Tutorial 5 (fzenke/spytorch ``notebooks/SpyTorchTutorial5.ipynb``): a surrogate-gradient spiking
network reading Braille letters from a tactile fingertip. The 4 non-zero taxel channels (standardised and
upsampled 2x to 152 time steps) drive a layer of 4 x 32 learnable current-to-spike encoder neurons
(``enc_gain``, ``enc_bias``), a recurrent layer of 200 LIF neurons (``w1``, ``v1``) and a leaky readout of
28 units (``w2``); the class score is the readout's maximum over time, trained with ``LogSoftmax`` +
``NLLLoss`` plus an L1 spike regulariser, ``Adamax(lr=1e-2, betas=(0.9, 0.995))``, batches of 100. In
``run_snn`` the hidden spikes are recorded with ``spk_rec.append(out.detach())`` and that record is what
the readout integrates (``h2 = einsum("abc,cd->abd", spk_rec, w2)``), so the loss is cut from the spiking
layers: ``enc_gain``, ``enc_bias``, ``w1`` and ``v1`` never get a gradient (``.grad`` stays ``None``) and only
the readout ``w2`` learns, on the fixed random spikes of an untrained network.

Source: github.com/fzenke/spytorch commit 0249bde "Hotfix for bug in Tutorial 5" (2022-07-08): the
notebook at 0249bde^ records ``mem_rec.append(mem.detach())``, ``spk_rec.append(out.detach())``,
``enc_rec.append(enc.detach())``; the fix appends the live tensors and detaches only the copies returned
for plotting (``other_recs = [enc_rec.detach(), mem_rec.detach(), spk_rec.detach()]``). The notebook's
recorded results: buggy, 1000 epochs -> loss 0.049, test accuracy 0.818; fixed, 100 epochs -> loss 0.052,
test accuracy 0.967.
Program lines kept: the seeds (``np.random.seed(42)``, ``torch.manual_seed(42)``), the data preparation
(``1.0 - taxel_data / 255``, crop to the shortest trial, channels ``nzid = [1, 2, 6, 10]``, per-channel
standardisation, ``upsample(n=2)``, shuffle, 80/20 split), ``enc_fan_out = 32``, ``nb_hidden = 200``,
``nb_outputs = 27 + 1``, ``time_step = 2e-3 / 2``, ``tau_mem = 20e-3``, ``tau_syn = 10e-3``, the weight
scales and inits, ``SurrGradSpike`` (scale 20), ``run_snn``, and the training loop (max over time,
``LogSoftmax(dim=1)`` + ``NLLLoss``, ``reg_loss = 1e-3 * mean(sum(spks, 1))``, ``Adamax``).
Ported minimally: the five global tensors become ``nn.Parameter``s of one ``nn.Module`` whose ``forward`` is
``run_snn`` followed by the loop's ``m, _ = torch.max(output, 1)``, so ``model(x)`` gives the (N, 28) scores
fed to ``LogSoftmax`` + ``NLLLoss`` (``loss_fn``); the loop body with the spike regulariser is ``train_step``
(the regulariser uses the detached ``spks`` of ``other_recs`` in both versions, as in the program).
Data stand-in (no ``tutorial5_braille_spiking_data.pkl.gz``): seeded taxel recordings of the 27 'letters'
(Space, A-Z), 50 repetitions each, 12 taxels x 76-84 samples of raw 0..255 readings (baseline ~240, a press
lowers it): every letter's standard 6-dot Braille cell is swept over the fingertip, each dot row pressing its
own selected taxel (1, 2, 6) when the dot's column passes (left ~ sample 25, right ~ sample 45, +-3 samples
jitter), taxel 10 feeling every press more weakly; amplitude and sensor noise. Then the program's own
preprocessing. 10 training batches of 100 (the first 4 are ``batches``).
Fault label: no_gradient (the spike record the readout reads is detached from the graph; the encoder and
the spiking layer get no gradient). Fix (0249bde): record the live tensors, detach only the plotting copies.
Symptom in a short loop (plain torch, the program's ``train_step``, Adamax lr 1e-2, 8 epochs over the 4
batches = 32 steps, both from loss 3.58): buggy loss 2.81 and training accuracy 0.34 vs fixed 1.87 and 0.62;
the buggy ``w1`` (likewise ``v1``, ``enc_gain``, ``enc_bias``) has ``.grad is None`` and is unchanged, only
``w2`` moves. A step takes ~0.4 s (buggy) / ~0.8 s (fixed) on one CPU thread (152 time steps).
Torch only: the program is PyTorch-only and the fault is its manual ``.detach()`` in the time loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_gradient"
SOURCE = ("github:fzenke/spytorch notebooks/SpyTorchTutorial5.ipynb@0249bde^ "
          "(fix 0249bde 'Hotfix for bug in Tutorial 5')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

seed = 42
letter_written = ['Space', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K',
                  'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z']
nb_repetitions = 50
nzid = [1, 2, 6, 10]
nb_upsample = 2
enc_fan_out = 32
nb_channels = len(nzid)
nb_inputs = nb_channels * enc_fan_out
nb_hidden = 200
nb_outputs = len(letter_written) + 1
time_step = 2e-3 / nb_upsample
batch_size = 100
lr = 1e-2
tau_mem = 20e-3
tau_syn = 10e-3
alpha = float(np.exp(-time_step / tau_syn))
beta = float(np.exp(-time_step / tau_mem))
encoder_weight_scale = 1.0
fwd_weight_scale = 3.0
rec_weight_scale = 1e-2 * fwd_weight_scale

# standard Braille cells: dots 1-3 = left column rows 1-3, dots 4-6 = right column rows 1-3
_A_J = ["1", "12", "14", "145", "15", "124", "1245", "125", "24", "245"]
_BRAILLE = ([""] + _A_J + [d + "3" for d in _A_J] + [d + "36" for d in _A_J[:5]])
_BRAILLE.insert(23, "2456")  # W (added to Braille after the rest of the alphabet)
_BRAILLE = _BRAILLE[:27]


def _taxel_data(rng: np.random.RandomState) -> list[np.ndarray]:
    """One raw recording per trial, in the program's order (letter-major, 50 repetitions each): (T, 12)
    readings 0..255."""
    trials = []
    for i in range(len(letter_written)):
        dots = [int(c) for c in _BRAILLE[i]]
        for _ in range(nb_repetitions):
            length = rng.randint(76, 85)
            t = np.arange(length)[:, None]
            raw = 240 + rng.normal(0, 3, (length, 12))
            amp = rng.uniform(0.7, 1.3)
            for d in dots:
                row, col = (d - 1) % 3, (d - 1) // 3
                centre = (25 if col == 0 else 45) + rng.randint(-3, 4)
                bump = 70 * amp * np.exp(-0.5 * ((t[:, 0] - centre) / 3.0) ** 2)
                raw[:, nzid[row]] -= bump
                raw[:, nzid[3]] -= 0.4 * bump
            trials.append(np.clip(raw, 0, 255))
    return trials


def _data() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's data cell on the stand-in recordings: training split (1080, 152, 4) and labels."""
    rng = np.random.RandomState(seed)
    raw = _taxel_data(np.random.RandomState(1))
    data, labels = [], []
    for i in range(len(letter_written)):
        for repetition in np.arange(nb_repetitions):
            idx = i * nb_repetitions + repetition
            data.append(1.0 - raw[idx][:] / 255)
            labels.append(i)
    l_ = np.min([len(d) for d in data])
    data = np.array([d[:l_] for d in data], dtype="float32")[:, :, nzid]
    labels = np.array(labels, dtype="int64")
    rshp = data.reshape((-1, data.shape[2]))
    data = (data - rshp.mean(0)) / (rshp.std(0) + 1e-3)
    data = np.tile(data, (1, 1, nb_upsample)).reshape((data.shape[0], nb_upsample * data.shape[1], data.shape[2]))
    idx = np.arange(len(data))
    rng.shuffle(idx)
    data, labels = data[idx], labels[idx]
    a = int(0.8 * len(idx))
    return data[:a].astype("float32"), labels[:a]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    x_train, y_train = _data()
    nb_steps = x_train.shape[1]
    dtype = torch.float

    class SurrGradSpike(torch.autograd.Function):
        scale = 20.0

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            out = torch.zeros_like(input)
            out[input > 0] = 1.0
            return out

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad = grad_input / (SurrGradSpike.scale * torch.abs(input) + 1.0) ** 2
            return grad

    spike_fn = SurrGradSpike.apply

    class BrailleSNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            enc_gain = torch.empty((nb_inputs,), dtype=dtype)
            enc_bias = torch.empty((nb_inputs,), dtype=dtype)
            torch.nn.init.normal_(enc_gain, mean=0.0, std=encoder_weight_scale)
            torch.nn.init.normal_(enc_bias, mean=0.0, std=1.0)
            w1 = torch.empty((nb_inputs, nb_hidden), dtype=dtype)
            torch.nn.init.normal_(w1, mean=0.0, std=fwd_weight_scale / np.sqrt(nb_inputs))
            w2 = torch.empty((nb_hidden, nb_outputs), dtype=dtype)
            torch.nn.init.normal_(w2, mean=0.0, std=fwd_weight_scale / np.sqrt(nb_hidden))
            v1 = torch.empty((nb_hidden, nb_hidden), dtype=dtype)
            torch.nn.init.normal_(v1, mean=0.0, std=rec_weight_scale / np.sqrt(nb_hidden))
            self.enc_gain, self.enc_bias = nn.Parameter(enc_gain), nn.Parameter(enc_bias)
            self.w1, self.w2, self.v1 = nn.Parameter(w1), nn.Parameter(w2), nn.Parameter(v1)
            self.recs = None

        def run_snn(self, inputs):  # program lines
            enc_gain, enc_bias, w1, w2, v1 = self.enc_gain, self.enc_bias, self.w1, self.w2, self.v1
            bs = inputs.shape[0]
            enc = torch.zeros((bs, nb_inputs), dtype=dtype)
            input_spk = torch.zeros((bs, nb_inputs), dtype=dtype)
            syn = torch.zeros((bs, nb_hidden), dtype=dtype)
            mem = -1e-3 * torch.ones((bs, nb_hidden), dtype=dtype)
            out = torch.zeros((bs, nb_hidden), dtype=dtype)
            enc_rec, mem_rec, spk_rec = [], [], []
            encoder_currents = enc_gain * (inputs.tile((enc_fan_out,)) + enc_bias)
            for t in range(nb_steps):
                new_enc = (beta * enc + (1.0 - beta) * encoder_currents[:, t]) * (1.0 - input_spk.detach())
                input_spk = spike_fn(enc - 1.0)
                h1 = input_spk.mm(w1) + torch.einsum("ab,bc->ac", (out, v1))
                mthr = mem - 1.0
                out = spike_fn(mthr)
                rst = out.detach()  # We do not want to backprop through the reset
                new_syn = alpha * syn + h1
                new_mem = (beta * mem + (1.0 - beta) * syn) * (1.0 - rst)
                if fixed:  # 0249bde
                    mem_rec.append(mem)
                    spk_rec.append(out)
                    enc_rec.append(enc)
                else:
                    mem_rec.append(mem.detach())
                    spk_rec.append(out.detach())
                    enc_rec.append(enc.detach())
                enc = new_enc
                mem = new_mem
                syn = new_syn
            enc_rec = torch.stack(enc_rec, dim=1)
            mem_rec = torch.stack(mem_rec, dim=1)
            spk_rec = torch.stack(spk_rec, dim=1)
            # Readout layer
            h2 = torch.einsum("abc,cd->abd", (spk_rec, w2))
            flt = torch.zeros((bs, nb_outputs), dtype=dtype)
            out = torch.zeros((bs, nb_outputs), dtype=dtype)
            out_rec = [out]
            for t in range(nb_steps):
                new_flt = alpha * flt + h2[:, t]
                new_out = beta * out + (1.0 - beta) * flt
                flt = new_flt
                out = new_out
                out_rec.append(out)
            out_rec = torch.stack(out_rec, dim=1)
            if fixed:
                other_recs = [enc_rec.detach(), mem_rec.detach(), spk_rec.detach()]
            else:
                other_recs = [enc_rec, mem_rec, spk_rec]
            return out_rec, other_recs

        def forward(self, inputs):
            output, self.recs = self.run_snn(inputs)
            m, _ = torch.max(output, 1)  # the training loop's max over time
            return m

    log_softmax_fn = nn.LogSoftmax(dim=1)
    nll = nn.NLLLoss()

    def loss_fn(m, y):  # log_p_y = log_softmax_fn(m); loss_fn(log_p_y, y_local)
        return nll(log_softmax_fn(m), y)

    def train_step(model, optimizer, loss_fn, x_local, y_local):  # the loop body
        m = model(x_local)
        _, _, spks = model.recs
        reg_loss = 1e-3 * torch.mean(torch.sum(spks, 1))
        loss_val = loss_fn(m, y_local) + reg_loss
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        return loss_val

    model = BrailleSNN()
    xs, ys = torch.tensor(x_train), torch.tensor(y_train)
    batches = [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, 4 * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": batches[0][0],
            "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adamax(p, lr=lr, betas=(0.9, 0.995))}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
