"""braindecode (EEG decoding library), ``braindecode/models/deep4.py`` ``Deep4Net`` (the Deep ConvNet of Schirrmeister
et al. 2017), trained as in the library's trial-wise motor-imagery example
``examples/model_building/plot_bcic_iv_2a_moabb_trial.py``: BCI Competition IV 2a (BNCI2014001), 22 EEG channels at
250 Hz, band-passed 4-38 Hz and exponentially moving standardised, 4 classes (left hand, right hand, feet, tongue),
``EEGClassifier(model, criterion=torch.nn.NLLLoss, optimizer=torch.optim.AdamW, ...)``, batch_size 64, with the
learning rate and weight decay the example gives for deep4 (``lr = 1 * 0.01``, ``weight_decay = 0.5 * 0.001``).
``EEGClassifier.get_loss`` hands the module output straight to the criterion ("Calls loss function directly without
applying log or anything"), so the model must end in a log-softmax for ``NLLLoss``.

The fault (model definition): PR #520 (32477446 "EHN Normalizing the last layer in all the models") moved
``conv_classifier`` into a ``final_layer`` sub-Sequential ``module`` but left the log-softmax line of PR #513
(1391e7e3, ``add_log_softmax=True`` by default) as ``self.add_module("logsoftmax", nn.LogSoftmax(dim=1))`` instead
of ``module.add_module(...)``. Because this line runs before
``self.add_module("final_layer", module)``, the LogSoftmax lands in the OUTER Sequential between the last conv-pool
block and the classifier: it normalises the 200 feature maps of block 4 over the filter axis, and the network's
output is the raw ``conv_classifier`` score. ``NLLLoss`` on raw scores is just minus the mean target score, which
has no lower bound: the optimiser pushes the target score up without limit, the loss runs to -1e4, the scores to
1e4, and the class information is soon lost. Fixed by PR #550 "Fix Logsoftmax deep4" (robintibor, "log softmax was
added incorrectly, not to final layer"), commit a5a2b049652da88cd143a50b05e7b6f4a443f6a4, which changes that one
line to ``module.add_module("logsoftmax", nn.LogSoftmax(dim=1))`` (after ``conv_classifier``, before ``squeeze``).
Buggy version: deep4.py at a5a2b049^ (the bug lived on master from 32477446, 2023-09-20, to 2023-10-06; it was
fixed before the v0.8 release).
Fault label: output_activation|loss_mismatch (the log-softmax the NLL loss needs is missing from the output, which is
an unbounded score; it sits on an inner layer instead).

Program lines kept: ``Deep4Net.__init__`` as written at a5a2b049^ for the default path (split first layer with
``CombinedConv``, batch norm with momentum 0.1, ELU, max pooling (3, stride 3), dropout 0.5, filter length 10,
``final_conv_length="auto"``, xavier-uniform init with zero biases, module names and order), the two LogSoftmax lines
(buggy: ``self.add_module``; fixed: ``module.add_module``), ``CombinedConv.forward``, ``Ensure4d``, ``Expression``,
``squeeze_final_output``; ``torch.nn.NLLLoss()`` called directly on the output; ``AdamW(lr=0.01,
weight_decay=0.0005)``; batch 64; the plain skorch step (zero_grad, forward, loss, backward, step) in train mode.
Replaced: einops ``Rearrange("batch C T 1 -> batch 1 T C")`` by the equal ``permute(0, 3, 2, 1)`` (einops is not
installed); ``EEGModuleMixin.get_output_shape`` by a forward of a zero input in eval mode; the
``stride_before_pool`` / non-split / no-batch-norm branches (unused by the defaults) left out; ``set_random_seeds``
by ``torch.manual_seed(0)``; skorch's cosine LR schedule left out (4 epochs there; our runs are shorter than one
schedule period). torch only: the fault is a module registered on the wrong ``nn.Sequential``; a Keras twin would
be a different program.
Shrunk (for CPU time only): the window is 450 samples (1.8 s) instead of 1125 (4.5 s: trial_start_offset -0.5 s
plus the 4 s trial), the shortest length that keeps all four conv-pool blocks (final_conv_length 1 instead of 9),
and all widths are halved (n_filters_time / spat 12, n_filters_2 25, n_filters_3 50, n_filters_4 100 instead of
25 / 25 / 50 / 100 / 200). ``CombinedConv``'s weight gradient (1 input channel, 10x22 kernel) dominates the step on
CPU; one step still takes ~180 ms on one thread (full size: ~0.7-1 s).
Data stand-in (no MOABB download): (n, 22, 450) float32 trials, labels 0..3 balanced and shuffled. Each trial is a
background of six random 4-38 Hz sinusoids per channel plus white noise, and from 0.5 s on (the cue) a class
rhythm (10 / 12 / 20 / 24 Hz, random phase) with a class-specific spatial pattern over the 22 channels and a
random gain 0.7-1.3; then each channel is standardised to mean 0 / std 1 (as after exponential moving
standardisation). 20 training batches of 64 (``batches``; ``batch`` the first) and 128 held-out trials (``inputs``).

Measured (my own plain loop, /tmp/s54/p/h88_c/measure2.py, on the module's builds: the 20 batches cycled in order,
train mode, torch seed 0, OMP_NUM_THREADS=1; "held-out" = 128 ``inputs`` in eval mode, CE = cross-entropy of the
softmax of the outputs):
  buggy: NLL train loss -3.9 / -53 / -108 / -321 / -1015 / -4339 / -10464 after 1 / 10 / 20 / 50 / 100 / 200 / 300
    steps (falls without bound, never NaN within 300 steps); held-out accuracy 0.25 / 0.23 / 0.69 / 0.66 / 0.42 /
    0.23 / 0.23, held-out CE 4.7 / 11.1 / 1.4 / 0.69 / 25.3 / 65.9 / 144.6, max |output| 13 / 271 / 266 / 565 /
    1061 / 4649 / 14173: it learns something in the first 20-50 steps, then the runaway scores wipe it out and it
    ends at chance (one class).
  fixed: NLL train loss 2.07 / 0.48 / 0.35 / 0.004 / 0.002 / 0.001 / 0.001; held-out accuracy 0.23 / 0.45 / 0.46 /
    0.95 / 0.99 / 0.99 / 0.99, held-out CE 1.56 / 6.9 / 2.4 / 0.09 / 0.04 / 0.02 / 0.03; outputs are
    log-probabilities (max |output| 16-21, all <= 0).
  Build: first ~4.5 s (data), later 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:braindecode/braindecode PR #550 'Fix Logsoftmax deep4' (braindecode/models/deep4.py Deep4Net@"
          "a5a2b049^ = bug from PR #520 32477446; fix a5a2b049652da88cd143a50b05e7b6f4a443f6a4; "
          "training as in examples/model_building/plot_bcic_iv_2a_moabb_trial.py with the deep4 lr / weight_decay)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 4}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"high": 0.0})]

N_CHANS, N_TIMES, N_CLASSES, SFREQ = 22, 450, 4, 250.0
BATCH_SIZE = 64
LR = 1 * 0.01  # the example's "For deep4 they should be: lr = 1 * 0.01"
WEIGHT_DECAY = 0.5 * 0.001  # "weight_decay = 0.5 * 0.001"
N_BATCHES = 20
N_INPUTS = 128
SEED = 0
WIDTHS = dict(n_filters_time=12, n_filters_spat=12, n_filters_2=25, n_filters_3=50, n_filters_4=100)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Motor-imagery-like trials (n, 22, 1125) float32 after band-pass + per-channel standardisation, labels 0..3."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    t = np.arange(N_TIMES) / SFREQ
    y = np.arange(n) % N_CLASSES
    r.shuffle(y)
    patterns = r.normal(0, 1, (N_CLASSES, N_CHANS))
    patterns /= np.abs(patterns).max(1, keepdims=True)
    freqs = np.array([10.0, 12.0, 20.0, 24.0])
    x = np.empty((n, N_CHANS, N_TIMES), "float32")
    onset = (t >= 0.5).astype(float)  # the cue comes 0.5 s into the window (trial_start_offset -0.5 s)
    for i in range(n):
        # background: a few random band-limited oscillations per channel plus white noise
        f_bg = r.uniform(4, 38, (N_CHANS, 6))
        ph = r.uniform(0, 2 * np.pi, (N_CHANS, 6))
        bg = (np.sin(2 * np.pi * f_bg[..., None] * t + ph[..., None]) * r.uniform(0.2, 0.6, (N_CHANS, 6, 1))).sum(1)
        bg += r.normal(0, 0.8, (N_CHANS, N_TIMES))
        c = y[i]
        sig = np.sin(2 * np.pi * freqs[c] * t + r.uniform(0, 2 * np.pi)) * onset
        xi = bg + 1.5 * r.uniform(0.7, 1.3) * patterns[c][:, None] * sig
        xi = (xi - xi.mean(1, keepdims=True)) / xi.std(1, keepdims=True)
        x[i] = xi
    n_tr = N_BATCHES * BATCH_SIZE
    return x[:n_tr], y[:n_tr].astype("int64"), x[n_tr:], y[n_tr:].astype("int64")


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import init
    from torch.nn.functional import elu
    import torch.nn.functional as F

    def identity(x):
        return x

    def squeeze_final_output(x):
        assert x.size()[3] == 1
        x = x[:, :, :, 0]
        if x.size()[2] == 1:
            x = x[:, :, 0]
        return x

    class Ensure4d(nn.Module):
        def forward(self, x):
            while len(x.shape) < 4:
                x = x.unsqueeze(-1)
            return x

    class Expression(nn.Module):
        def __init__(self, expression_fn):
            super().__init__()
            self.expression_fn = expression_fn

        def forward(self, *x):
            return self.expression_fn(*x)

    class Rearrange(nn.Module):  # einops Rearrange("batch C T 1 -> batch 1 T C")
        def forward(self, x):
            return x.permute(0, 3, 2, 1)

    class CombinedConv(nn.Module):
        def __init__(self, in_chans, n_filters_time=40, n_filters_spat=40, filter_time_length=25, bias_time=True,
                     bias_spat=True):
            super().__init__()
            self.bias_time = bias_time
            self.bias_spat = bias_spat
            self.conv_time = nn.Conv2d(1, n_filters_time, (filter_time_length, 1), bias=bias_time, stride=1)
            self.conv_spat = nn.Conv2d(n_filters_time, n_filters_spat, (1, in_chans), bias=bias_spat, stride=1)

        def forward(self, x):
            # Merge time and spat weights
            combined_weight = (self.conv_time.weight * self.conv_spat.weight.permute(1, 0, 2, 3)).sum(0).unsqueeze(1)
            # Calculate bias term
            if not self.bias_spat and not self.bias_time:
                bias = None
            else:
                bias = 0
                if self.bias_time:
                    bias += self.conv_spat.weight.squeeze().sum(-1).mm(self.conv_time.bias.unsqueeze(-1)).squeeze()
                if self.bias_spat:
                    bias += self.conv_spat.bias
            return F.conv2d(x, weight=combined_weight, bias=bias, stride=(1, 1))

    class Deep4Net(nn.Sequential):  # braindecode/models/deep4.py @a5a2b049^, default arguments, split_first_layer
        def __init__(self, n_chans, n_outputs, n_times, final_conv_length="auto", n_filters_time=25,
                     n_filters_spat=25, filter_time_length=10, pool_time_length=3, pool_time_stride=3,
                     n_filters_2=50, filter_length_2=10, n_filters_3=100, filter_length_3=10, n_filters_4=200,
                     filter_length_4=10, first_conv_nonlin=elu, first_pool_mode="max", first_pool_nonlin=identity,
                     later_conv_nonlin=elu, later_pool_mode="max", later_pool_nonlin=identity, drop_prob=0.5,
                     batch_norm=True, batch_norm_alpha=0.1, add_log_softmax=True):
            super().__init__()
            self.n_chans, self.n_outputs, self.n_times = n_chans, n_outputs, n_times
            self.add_log_softmax = add_log_softmax
            self.final_conv_length = final_conv_length
            self.drop_prob = drop_prob
            self.batch_norm = batch_norm
            conv_stride = 1
            pool_stride = pool_time_stride
            self.add_module("ensuredims", Ensure4d())
            pool_class_dict = dict(max=nn.MaxPool2d)
            first_pool_class = pool_class_dict[first_pool_mode]
            later_pool_class = pool_class_dict[later_pool_mode]
            self.add_module("dimshuffle", Rearrange())
            self.add_module("conv_time_spat", CombinedConv(
                in_chans=self.n_chans, n_filters_time=n_filters_time, n_filters_spat=n_filters_spat,
                filter_time_length=filter_time_length, bias_time=True, bias_spat=not self.batch_norm))
            n_filters_conv = n_filters_spat
            self.add_module("bnorm", nn.BatchNorm2d(n_filters_conv, momentum=batch_norm_alpha, affine=True, eps=1e-5))
            self.add_module("conv_nonlin", Expression(first_conv_nonlin))
            self.add_module("pool", first_pool_class(kernel_size=(pool_time_length, 1), stride=(pool_stride, 1)))
            self.add_module("pool_nonlin", Expression(first_pool_nonlin))

            def add_conv_pool_block(model, n_filters_before, n_filters, filter_length, block_nr):
                suffix = "_{:d}".format(block_nr)
                self.add_module("drop" + suffix, nn.Dropout(p=self.drop_prob))
                self.add_module("conv" + suffix, nn.Conv2d(n_filters_before, n_filters, (filter_length, 1),
                                                           stride=(conv_stride, 1), bias=not self.batch_norm))
                self.add_module("bnorm" + suffix, nn.BatchNorm2d(n_filters, momentum=batch_norm_alpha, affine=True,
                                                                 eps=1e-5))
                self.add_module("nonlin" + suffix, Expression(later_conv_nonlin))
                self.add_module("pool" + suffix, later_pool_class(kernel_size=(pool_time_length, 1),
                                                                  stride=(pool_stride, 1)))
                self.add_module("pool_nonlin" + suffix, Expression(later_pool_nonlin))

            add_conv_pool_block(self, n_filters_conv, n_filters_2, filter_length_2, 2)
            add_conv_pool_block(self, n_filters_2, n_filters_3, filter_length_3, 3)
            add_conv_pool_block(self, n_filters_3, n_filters_4, filter_length_4, 4)

            self.eval()
            if self.final_conv_length == "auto":  # EEGModuleMixin.get_output_shape on a zero input
                with torch.inference_mode():
                    self.final_conv_length = self(torch.zeros(1, n_chans, n_times)).shape[2]

            # Incorporating classification module and subsequent ones in one final layer
            module = nn.Sequential()
            module.add_module("conv_classifier", nn.Conv2d(n_filters_4, self.n_outputs,
                                                           (self.final_conv_length, 1), bias=True, ))
            if self.add_log_softmax:
                if fixed:  # a5a2b049: the LogSoftmax goes into final_layer, after conv_classifier
                    module.add_module("logsoftmax", nn.LogSoftmax(dim=1))
                else:  # the bug: added to the outer Sequential here, i.e. BEFORE final_layer
                    self.add_module("logsoftmax", nn.LogSoftmax(dim=1))
            module.add_module("squeeze", Expression(squeeze_final_output))
            self.add_module("final_layer", module)

            # Initialization, xavier is same as in our paper...
            init.xavier_uniform_(self.conv_time_spat.conv_time.weight, gain=1)
            init.constant_(self.conv_time_spat.conv_time.bias, 0)
            init.xavier_uniform_(self.conv_time_spat.conv_spat.weight, gain=1)
            init.constant_(self.bnorm.weight, 1)
            init.constant_(self.bnorm.bias, 0)
            param_dict = dict(list(self.named_parameters()))
            for block_nr in range(2, 5):
                conv_weight = param_dict["conv_{:d}.weight".format(block_nr)]
                init.xavier_uniform_(conv_weight, gain=1)
                bnorm_weight = param_dict["bnorm_{:d}.weight".format(block_nr)]
                bnorm_bias = param_dict["bnorm_{:d}.bias".format(block_nr)]
                init.constant_(bnorm_weight, 1)
                init.constant_(bnorm_bias, 0)
            init.xavier_uniform_(self.final_layer.conv_classifier.weight, gain=1)
            init.constant_(self.final_layer.conv_classifier.bias, 0)
            # Start in eval mode
            self.eval()

    torch.manual_seed(SEED)  # set_random_seeds(seed=...)
    model = Deep4Net(N_CHANS, N_CLASSES, n_times=N_TIMES, final_conv_length="auto", **WIDTHS)
    model.train()  # skorch's fit puts the module in train mode
    criterion = torch.nn.NLLLoss()  # EEGClassifier(criterion=torch.nn.NLLLoss): loss called directly, no log

    def loss_fn(y_pred, y_true):
        return criterion(y_pred, y_true)

    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
