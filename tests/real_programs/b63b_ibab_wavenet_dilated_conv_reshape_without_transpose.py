"""ibab/tensorflow-wavenet (Igor Babuschkin's TensorFlow WaveNet, a widely used open re-implementation of DeepMind's
WaveNet), as of 18 Sep 2016: ``train.py`` reads VCTK speech at 16 kHz (``ffmpeg.decode_audio``, floats in [-1, 1]),
``BATCH_SIZE = 1`` (one whole wav file per step), ``tf.train.AdamOptimizer(learning_rate=0.03)``; ``wavenet.py``
``WaveNet.loss`` mu-law quantizes the waveform to 256 levels (``_preprocess``), one-hot encodes it (``_one_hot``) and
runs ``_create_network``: a causal layer (filter width 2, 256 -> 32 channels), then one dilation layer per entry of
``wavenet_params.json``'s ``"dilations": [1, 2, 4, ..., 256, 1, 2, 4, ..., 256]`` (gated unit
``tanh(conv_filter) * sigmoid(conv_gate)``, 32 -> 16 channels, width 2, then a 1x1 "dense" conv 16 -> 32 that is both
the layer's skip output and added to its input), the skip outputs summed -> ReLU -> 1x1 conv 32 -> 128 -> ReLU -> 1x1
conv 128 -> 256 logits (no biases anywhere; weights ``tf.truncated_normal`` stddev 0.2, 0.3 for the two last convs);
the loss is ``softmax_cross_entropy_with_logits`` of each position's logits against the one-hot of the next sample
(the input shifted left by one, the last position padded with a zero row), ``reduce_mean`` over all positions.

The fault (a dilated convolution that reads the wrong time steps): ``_causal_dilated_conv`` implements dilation
``d > 1`` by folding time into the batch, ``tf.reshape(padded, [shape[0] * dilation, 1, -1, shape[3]])``, running an
ordinary width-2 ``VALID`` convolution and reshaping back. A plain reshape cuts the sequence into ``d`` consecutive
chunks; it does not interleave it (sample ``t`` with ``t + d``, ``t + 2d``, ...), which takes a transpose. So every
"dilated" layer is really an undilated width-2 convolution applied inside chunks of ``T / d`` consecutive samples, and
after the reshape back and the causal left pad of ``d`` the output at position ``t`` reads ``x[t - d + r]`` and
``x[t - d + r + 1]``, ``r`` the chunk it fell in: the taps slide from lag ``d`` at the start of the clip to lag 1 at
its end. The network is no longer shift-equivariant, it never combines ``x[t - d]`` with ``x[t]``, and its receptive
field (1024 samples by design) depends on the position: it grows to ~830 samples in the middle of a 2048-sample clip
and shrinks to ~20 samples at its end. Issue #29 ("Bug with _causal_dilated_conv?", JesseYang, with a 20-sample example
whose correct output "should be" [6, 8, 10, ...] but came out [3, 5, 7, 9, 13, ...]; ibab: "Thanks for spotting
this! The problem is that the function is missing transpose operations.", "I've carefully rewritten the causal
convolution in 5e1c323, and made sure to test it heavily."). The fix 5e1c323 ("Fix causal dilated convolution. The
dilated convolution was missing transpose steps.") moves it to ``wavenet_ops.causal_conv``: pad left by
``(filter_width - 1) * dilation``, ``time_to_batch`` (reshape to rows of ``d``, transpose, reshape), a ``SAME``
convolution, ``batch_to_time`` (the inverse), keep the first ``T`` outputs -- output ``t`` reads ``x[t - d]`` and
``x[t]``.

Source: github.com/ibab/tensorflow-wavenet ``wavenet.py`` (``_causal_dilated_conv``, ``_create_causal_layer``,
``_create_dilation_layer``, ``_create_network``, ``_preprocess``, ``_one_hot``, ``loss``), ``train.py``,
``wavenet_params.json`` at badfbd2f381729b1ee4d2f99a936cbacfa4f4a15 (= 5e1c323^); issue #29; fix
5e1c323f5c84800ccd7eaa2c7502e354c78cb99e (``wavenet_ops.py`` ``time_to_batch``, ``batch_to_time``, ``causal_conv``).
Fault label: other:dilated_conv_reads_wrong_time_steps (a model-structure fault: the dilated causal convolutions read
position-dependent, mostly wrong time steps; nothing leaks from the future, no gradient is lost).

Program lines kept: the network as written -- causal layer, 18 dilation layers with the program's dilations, residual
32 / dilation 16 / 256 quantization channels, filter width 2, the gated unit, the 1x1 dense conv used as skip output
and residual, sum of skips -> ReLU -> 1x1 (32 -> 128) -> ReLU -> 1x1 (128 -> 256), no biases, truncated-normal init
(stddev 0.2 / 0.3, cut at 2 stddev like ``tf.truncated_normal``); the buggy ``_causal_dilated_conv`` (reshape, VALID
conv, reshape back, left pad ``(filter_width - 1) * dilation``, slice off the divisibility padding) and the fixed
``causal_conv`` / ``time_to_batch`` / ``batch_to_time``; ``_preprocess``'s mu-law quantization (``mu = 255``,
``int((sign(a) * log(1 + mu|a|) / log(1 + mu) + 1) / 2 * mu)``) and the one-hot; the loss (next-sample one-hot, last
position a zero row, softmax cross-entropy averaged over all positions); Adam(lr 0.03, TF1's epsilon 1e-8), batch 1.
Ported: the TF1 graph code channels-last ``(batch, time, channels)`` instead of ``(batch, 1, time, channels)`` (the
height-1 conv2d is a conv1d), quantization and one-hot done in numpy before the model, so the model maps a one-hot
clip ``(1, T, 256)`` to logits ``(1, T, 256)`` and ``y`` is the shifted one-hot. Keras: custom layers holding the
program's weights (kernels in TF's ``(width, in, out)`` layout) and computing the convolutions with ``keras.ops``
(``pad``, ``reshape``, ``transpose``, ``conv``), compiled with ``CategoricalCrossentropy(from_logits=True)`` (the mean
over all positions, like ``reduce_mean`` of ``softmax_cross_entropy_with_logits``) and ``Adam(0.03, epsilon=1e-8)``.
Torch twin: the same weights as ``nn.Parameter`` in the same layout, the same channels-last reshapes / transposes
around ``F.conv1d`` (the buggy reshape folds time, not channels, exactly as the TF code), a loss_fn
``mean(-sum(y * log_softmax(logits)))`` and ``Adam(lr=0.03, eps=1e-8)``. Shrunk: clips of T = 2048 samples (128 ms)
instead of whole VCTK files (tens of thousands of samples per step), for CPU time; T still exceeds the 1025-sample
receptive field, and the buggy layer's structure (taps sliding from lag d to lag 1 along the clip) is the same for any
length.
Data stand-in (no VCTK download): seeded synthetic speech at 16 kHz, float32 in [-1, 1] like ``decode_audio``:
voiced stretches (a glottal pulse train at a drifting pitch of 90-220 Hz, spectral tilt, three formant resonators at
random F1 / F2 / F3), a fricative-like stretch of high-passed noise and low-level background noise, a syllable-like
envelope, peaks 0.3-0.7; mu-law quantized (1st-99th percentile of the levels: 27..239). ``batches``: 6 training
clips (one per step, batch 1 as in ``train.py``); ``batch``: the first; ``inputs``: 4 held-out clips ``(4, T, 256)``.

Measured (my own plain loops, /tmp/s45/h_b/measure.py, measure2.py, measure3.py, OMP_NUM_THREADS=1, the module's
builds; 32 training clips cycled one per step (batch 1 as in ``train.py``), 8 held-out clips, the program's loss, the
mean cross-entropy over all 2048 positions):
  structure: the issue's 20-sample example (x = 1..20, dilation 4, filter [1, 1]) gives buggy [0, 0, 0, 0, 3, 5, 7,
    9, 13, 15, ...] (the issue's wrong "out" behind the causal pad) and fixed [1, 2, 3, 4, 6, 8, 10, 12, ...]. At
    init the logit at position 600 / 1200 / 2047 reads 601 / 594 / 21 input samples (buggy) and 601 / 1024 / 1024
    (fixed). With the torch weights copied into the Keras model both give the same logits (max |diff| 8e-6).
    Shift test (the same audio in two windows 512 samples apart, positions with a full 1024-sample context in both):
    fixed log-probabilities identical (max |diff| 0.0, argmax agreement 100 %); buggy max |diff| 13.5 nats at init
    and 22.0 after 300 steps, argmax agreement 5 % / 75 % (torch; Keras 15.1 nats, 80 % after 300 steps).
  training, torch, held-out CE after 150 / 300 / 450 / 600 steps: buggy 4.81 / 4.22 / 3.93 / 3.86, fixed 3.92 / 3.70
    / 3.70 / 3.74 (the training clips' marginal distribution of the 256 levels scores 5.32); train loss (mean of the
    last 50 steps) buggy 4.87 / 4.15 / 3.63 / 3.57, fixed 3.92 / 3.50 / 3.35 / 3.43. Keras (``train_on_batch``), 300
    steps: train loss first / last 20 steps buggy 5.71 / 4.35, fixed 5.51 / 3.49; held-out CE 4.46 vs 3.78. At the
    program's lr 0.03 both versions later diverge (torch, 900 steps: from about step 650 the loss climbs back to 4.5
    buggy / 5.3 fixed), an instability of its own, the same in both.
  one batch (the module's ``batch``) is memorized by both: torch loss at steps 1 / 10 / 50 / 100 buggy 7.27 / 2.34 /
    0.13 / 0.42, fixed 7.35 / 2.70 / 0.12 / 0.30; Keras 7.28 / 2.71 / 0.18 / 0.42 vs 7.38 / 2.93 / 0.09 / 0.00. The
    initial loss is 7.3 in both (ln 256 = 5.55: the stddev 0.2 / 0.3 init gives confident logits, about -14..13 on
    ``inputs``); every weight gets a gradient in both (mean |grad| / mean |w| 0.006..0.07).
  So the fault shows as a slower and worse fit of held-out speech (0.5 nats at 300 steps, 0.1 at 600) and as
    predictions that depend on where a sample sits in the clip; it does not stop training, nor keep one clip from
    being memorized, and nothing the model reads comes from the future.
  Time per step (batch 1 x 2048 samples, one thread, loaded machine): torch 0.10-0.16 s, Keras 0.12-0.14 s; builds:
    torch ~1.2 s first (imports), Keras ~7 s first, later builds under 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:dilated_conv_reads_wrong_time_steps"
SOURCE = ("github:ibab/tensorflow-wavenet issue #29 (wavenet.py _causal_dilated_conv: tf.reshape(padded, "
          "[shape[0] * dilation, 1, -1, shape[3]]) without transpose, @badfbd2f381729b1ee4d2f99a936cbacfa4f4a15 = "
          "5e1c323^, with train.py and wavenet_params.json; fix 5e1c323f5c84800ccd7eaa2c7502e354c78cb99e 'Fix causal "
          "dilated convolution': wavenet_ops.time_to_batch / batch_to_time / causal_conv)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 256}),
          ("gradients_flow", {}), ("output_range", {"kind": "logits"})]

# train.py
BATCH_SIZE = 1
LEARNING_RATE = 0.03
ADAM_EPSILON = 1e-8  # tf.train.AdamOptimizer default
# wavenet_params.json
FILTER_WIDTH = 2
QUANTIZATION_STEPS = 256
SAMPLE_RATE = 16000
DILATIONS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1, 2, 4, 8, 16, 32, 64, 128, 256)
RESIDUAL_CHANNELS = 32
DILATION_CHANNELS = 16
# port
T = 2048  # samples per clip (program: whole VCTK wav files)
N_TRAIN = 6
N_INPUTS = 4
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _utterance(r: np.random.Generator) -> np.ndarray:
    """One synthetic speech clip, (T,) float32 in [-1, 1]."""
    from scipy.signal import lfilter

    n = np.arange(T)
    f0 = r.uniform(90, 220) * (1 + 0.06 * np.sin(2 * np.pi * r.uniform(0.5, 3) * n / SAMPLE_RATE
                                                  + r.uniform(0, 2 * np.pi)))
    phase = np.cumsum(f0 / SAMPLE_RATE) + r.uniform()
    pulses = (np.diff(np.floor(phase), prepend=np.floor(phase[0])) > 0).astype(float)
    voiced = lfilter([1.0], [1.0, -0.9], pulses)  # glottal spectral tilt
    for lo, hi, bw in ((300, 900, 80), (900, 2300, 120), (2300, 3400, 180)):
        f, rad = r.uniform(lo, hi), np.exp(-np.pi * r.uniform(0.7, 1.3) * bw / SAMPLE_RATE)
        voiced = lfilter([1 - rad], [1.0, -2 * rad * np.cos(2 * np.pi * f / SAMPLE_RATE), rad * rad], voiced)
    voiced /= np.abs(voiced).max() + 1e-9
    fric = lfilter([1.0, -1.0], [1.0, -0.3], r.normal(0, 1, T))  # high-passed noise
    fric /= np.abs(fric).max() + 1e-9
    # syllable-like layout: voiced, a fricative stretch, voiced again, soft edges
    a, b = sorted(r.integers(T // 5, 4 * T // 5, 2))
    b = max(b, a + T // 10)
    ramp = np.clip(np.minimum(n - a, b - n) / 80.0, 0, 1)
    env_f = np.where((n >= a) & (n < b), ramp, 0.0)
    env_v = (1 - env_f) * np.clip(np.minimum(n, T - 1 - n) / 200.0, 0, 1)
    x = env_v * voiced + 0.35 * env_f * fric + r.normal(0, 0.004, T)
    x = r.uniform(0.3, 0.7) * x / np.abs(x).max()
    return np.clip(x, -1, 1).astype("float32")


def mu_law_quantize(audio: np.ndarray) -> np.ndarray:
    """wavenet.py _preprocess: mu-law companding, quantized to QUANTIZATION_STEPS levels (int32 cast)."""
    mu = QUANTIZATION_STEPS - 1
    magnitude = np.log(1 + mu * np.abs(audio)) / np.log(1.0 + mu)
    signal = np.sign(audio) * magnitude
    return ((signal + 1) / 2 * mu).astype("int64")


def encode(quantized: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_one_hot, and the loss's target: the one-hot shifted left by one sample, a zero row at the end."""
    encoded = np.eye(QUANTIZATION_STEPS, dtype="float32")[quantized]  # (..., T, 256)
    shifted = np.zeros_like(encoded)
    shifted[..., :-1, :] = encoded[..., 1:, :]
    return encoded, shifted


@functools.lru_cache(maxsize=4)
def clips(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """n clips as (x, y): one-hot (n, T, 256) and next-sample one-hot (n, T, 256)."""
    r = np.random.default_rng(seed)
    q = np.stack([mu_law_quantize(_utterance(r)) for _ in range(n)])
    return encode(q)


def _data() -> dict[str, Any]:
    x, y = clips(N_TRAIN)
    hx, _ = clips(N_INPUTS, SEED + 1)
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, N_TRAIN, BATCH_SIZE)]
    return {"batches": batches, "batch": batches[0], "inputs": hx}


def _pad_elements(width: int, dilation: int) -> int:
    return dilation - 1 - (width + dilation - 1) % dilation


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv(x: Any, w: Any) -> Any:
        """tf conv2d(..., 'VALID') on a height-1 image: x (B, T, Cin), w (width, Cin, Cout) -> (B, T - width + 1,
        Cout)."""
        return F.conv1d(x.transpose(1, 2), w.permute(2, 1, 0)).transpose(1, 2)

    def causal_dilated_conv_buggy(value: Any, filt: Any, dilation: int) -> Any:
        """wavenet.py _causal_dilated_conv at 5e1c323^."""
        if dilation == 1:
            out = conv(value, filt)
            pad_elements = 0
        else:
            b, t, c = value.shape
            # Pad the input with zeros until the number of entries is divisible by `dilation`.
            pad_elements = _pad_elements(t, dilation)
            padded = F.pad(value, (0, 0, 0, pad_elements))
            # Reshape the width dimension into the batch dimension (the bug: no transpose).
            reshaped = padded.reshape(b * dilation, -1, c)
            out = conv(reshaped, filt).reshape(b, -1, filt.shape[2])
        filter_width = filt.shape[0]
        padded = F.pad(out, (0, 0, (filter_width - 1) * dilation, 0))
        return padded[:, :padded.shape[1] - pad_elements]

    def time_to_batch(value: Any, dilation: int) -> Any:
        b, t, c = value.shape
        padded = F.pad(value, (0, 0, 0, _pad_elements(t, dilation)))
        transposed = padded.reshape(-1, dilation, c).transpose(0, 1)
        return transposed.reshape(b * dilation, -1, c)

    def batch_to_time(value: Any, dilation: int) -> Any:
        n, _, c = value.shape
        prepared = value.reshape(dilation, -1, c).transpose(0, 1)
        return prepared.reshape(n // dilation, -1, c)

    def causal_conv_fixed(value: Any, filt: Any, dilation: int) -> Any:
        """wavenet_ops.causal_conv at 5e1c323 (SAME conv of width 2: one zero appended on the right)."""
        filter_width = filt.shape[0]
        padded = F.pad(value, (0, 0, (filter_width - 1) * dilation, 0))
        if dilation > 1:
            transformed = time_to_batch(padded, dilation)
            restored = batch_to_time(conv(F.pad(transformed, (0, 0, 0, filter_width - 1)), filt), dilation)
        else:
            restored = conv(F.pad(padded, (0, 0, 0, filter_width - 1)), filt)
        return restored[:, :value.shape[1]]

    causal_conv = causal_conv_fixed if fixed else causal_dilated_conv_buggy

    def tn(*shape: int, stddev: float) -> nn.Parameter:  # tf.truncated_normal(shape, stddev=...)
        return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=stddev, a=-2 * stddev, b=2 * stddev))

    class WaveNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            q, rc, dc = QUANTIZATION_STEPS, RESIDUAL_CHANNELS, DILATION_CHANNELS
            self.causal = tn(FILTER_WIDTH, q, rc, stddev=0.2)
            self.filters = nn.ParameterList([tn(FILTER_WIDTH, rc, dc, stddev=0.2) for _ in DILATIONS])
            self.gates = nn.ParameterList([tn(FILTER_WIDTH, rc, dc, stddev=0.2) for _ in DILATIONS])
            self.denses = nn.ParameterList([tn(1, dc, rc, stddev=0.2) for _ in DILATIONS])
            self.w1 = tn(1, rc, q // 2, stddev=0.3)
            self.w2 = tn(1, q // 2, q, stddev=0.3)

        def forward(self, input_batch: Any) -> Any:
            current_layer = causal_conv(input_batch, self.causal, 1)
            outputs = []
            for dilation, w_f, w_g, w_d in zip(DILATIONS, self.filters, self.gates, self.denses):
                out = torch.tanh(causal_conv(current_layer, w_f, dilation)) * torch.sigmoid(
                    causal_conv(current_layer, w_g, dilation))
                transformed = conv(out, w_d)
                outputs.append(transformed)
                current_layer = current_layer + transformed
            total = sum(outputs)
            transformed1 = torch.relu(total)
            conv1 = conv(transformed1, self.w1)
            transformed2 = torch.relu(conv1)
            return conv(transformed2, self.w2)

    torch.manual_seed(SEED)
    model = WaveNet()

    def loss_fn(logits: Any, y: Any) -> Any:
        """reduce_mean(softmax_cross_entropy_with_logits) over all positions of the batch."""
        return torch.mean(-torch.sum(y * torch.log_softmax(logits, dim=-1), dim=-1))

    d = _data()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE, eps=ADAM_EPSILON)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    def tn(stddev: float) -> Any:
        return keras.initializers.TruncatedNormal(stddev=stddev)

    def conv(x: Any, w: Any) -> Any:
        return ops.conv(x, w, strides=1, padding="valid")

    def causal_dilated_conv_buggy(value: Any, filt: Any, dilation: int) -> Any:
        """wavenet.py _causal_dilated_conv at 5e1c323^ (time length static: T)."""
        t, c = value.shape[1], value.shape[2]
        if dilation == 1:
            out = conv(value, filt)
            pad_elements = 0
        else:
            pad_elements = _pad_elements(t, dilation)
            padded = ops.pad(value, [[0, 0], [0, pad_elements], [0, 0]])
            reshaped = ops.reshape(padded, (-1, (t + pad_elements) // dilation, c))  # batch * dilation rows
            out = ops.reshape(conv(reshaped, filt), (-1, t + pad_elements - dilation, filt.shape[2]))
        filter_width = filt.shape[0]
        padded = ops.pad(out, [[0, 0], [(filter_width - 1) * dilation, 0], [0, 0]])
        return padded[:, :padded.shape[1] - pad_elements]

    def time_to_batch(value: Any, dilation: int) -> Any:
        t, c = value.shape[1], value.shape[2]
        pad_elements = _pad_elements(t, dilation)
        padded = ops.pad(value, [[0, 0], [0, pad_elements], [0, 0]])
        transposed = ops.transpose(ops.reshape(padded, (-1, dilation, c)), (1, 0, 2))
        return ops.reshape(transposed, (-1, (t + pad_elements) // dilation, c))

    def batch_to_time(value: Any, dilation: int) -> Any:
        w, c = value.shape[1], value.shape[2]
        prepared = ops.transpose(ops.reshape(value, (dilation, -1, c)), (1, 0, 2))
        return ops.reshape(prepared, (-1, w * dilation, c))

    def causal_conv_fixed(value: Any, filt: Any, dilation: int) -> Any:
        """wavenet_ops.causal_conv at 5e1c323 (SAME conv of width 2: one zero appended on the right)."""
        filter_width = filt.shape[0]
        padded = ops.pad(value, [[0, 0], [(filter_width - 1) * dilation, 0], [0, 0]])
        if dilation > 1:
            transformed = time_to_batch(padded, dilation)
            restored = batch_to_time(conv(ops.pad(transformed, [[0, 0], [0, filter_width - 1], [0, 0]]), filt),
                                     dilation)
        else:
            restored = conv(ops.pad(padded, [[0, 0], [0, filter_width - 1], [0, 0]]), filt)
        return restored[:, :value.shape[1]]

    causal_conv = causal_conv_fixed if fixed else causal_dilated_conv_buggy

    class CausalLayer(layers.Layer):  # _create_causal_layer
        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(FILTER_WIDTH, QUANTIZATION_STEPS, RESIDUAL_CHANNELS),
                                     initializer=tn(0.2), name="filter")

        def call(self, x: Any) -> Any:
            return causal_conv(x, self.w, 1)

    class DilationLayer(layers.Layer):  # _create_dilation_layer
        def __init__(self, dilation: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dilation = dilation

        def build(self, input_shape: Any) -> None:
            rc, dc = RESIDUAL_CHANNELS, DILATION_CHANNELS
            self.w_filter = self.add_weight(shape=(FILTER_WIDTH, rc, dc), initializer=tn(0.2), name="filter")
            self.w_gate = self.add_weight(shape=(FILTER_WIDTH, rc, dc), initializer=tn(0.2), name="gate")
            self.w_dense = self.add_weight(shape=(1, dc, rc), initializer=tn(0.2), name="dense")

        def call(self, input_batch: Any) -> Any:
            conv_filter = causal_conv(input_batch, self.w_filter, self.dilation)
            conv_gate = causal_conv(input_batch, self.w_gate, self.dilation)
            out = ops.tanh(conv_filter) * ops.sigmoid(conv_gate)
            transformed = conv(out, self.w_dense)
            return transformed, input_batch + transformed

    class PostProcessing(layers.Layer):
        def build(self, input_shape: Any) -> None:
            q, rc = QUANTIZATION_STEPS, RESIDUAL_CHANNELS
            self.w1 = self.add_weight(shape=(1, rc, q // 2), initializer=tn(0.3), name="postprocess1")
            self.w2 = self.add_weight(shape=(1, q // 2, q), initializer=tn(0.3), name="postprocess2")

        def call(self, total: Any) -> Any:
            transformed1 = ops.relu(total)
            conv1 = conv(transformed1, self.w1)
            transformed2 = ops.relu(conv1)
            return conv(transformed2, self.w2)

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((T, QUANTIZATION_STEPS))
    current_layer = CausalLayer(name="causal_layer")(inp)
    outputs = []
    for i, dilation in enumerate(DILATIONS):
        output, current_layer = DilationLayer(dilation, name=f"layer{i}")(current_layer)
        outputs.append(output)
    logits = PostProcessing(name="postprocessing")(layers.Add()(outputs))
    model = keras.Model(inp, logits, name="wavenet")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=ADAM_EPSILON),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    d = _data()
    return {"model": model, "batch": d["batch"], "batches": d["batches"], "inputs": d["inputs"]}


buggy, fixed = versions(_torch, _keras)
