"""Brian Pulfer's "Vision Transformers from Scratch (PyTorch): A step-by-step guide" (the code of his Medium tutorial),
github.com/BrianPulfer/PapersReimplementations ``vit/vit_torch.py``: a one-block ViT, ``MyViT((1, 28, 28),
n_patches=7, hidden_d=20, n_heads=2, out_d=10)``, on MNIST (``ToTensor()``, pixels in [0, 1]). ``patchify`` cuts each
28 x 28 image into 7 x 7 = 49 patches of 4 x 4 pixels (16 values); ``linear_mapper = nn.Linear(16, 20)`` tokenises
them, a learnable class token (``torch.rand(1, 20)``) is stacked in front, fixed sinusoidal positional embeddings are
added, then ``LayerNorm((50, 20))`` -> hand-written multi-head self-attention (per head ``nn.Linear(10, 10)`` q / k / v
mappings, ``softmax(q @ k.T / sqrt(10))``) with a residual, ``LayerNorm((50, 20))`` -> ``Linear(20, 20) + ReLU`` with a
residual, and the class token through ``nn.Sequential(nn.Linear(20, 10), nn.Softmax(dim=-1))``. Training:
``Adam(model.parameters(), lr=0.01)``, ``CrossEntropyLoss()``, ``loss = criterion(y_hat, y) / len(x)``, batches of 16,
5 epochs.

The fault (the patches do not cover the image): ``patchify`` loops

    for i in range(h // n_patches):
        for j in range(w // n_patches):
            patch = image[:, i * patch_size: (i + 1) * patch_size, j * patch_size: (j + 1) * patch_size]
            patches[idx, i * n_patches + j] = patch.flatten()

``h // n_patches`` is the patch *size* (28 // 7 = 4), not the number of patches per side (7). Only the 4 x 4 = 16
patches of the top-left 16 x 16 pixels are filled; the other 33 of the 49 tokens stay the zeros ``patches`` was
created with, so the transformer never sees the right and bottom 12 pixel rows / columns of any digit (where most of
a centred digit's lower half and right side are). The network trains, but on a fraction of the evidence, and digits
that differ in the unseen parts cannot be told apart. Issue BrianPulfer/PapersReimplementations #3 "patchify for loop
ranges" (baxterai: "Note there is an issue in patchify(), introduced by commit 'Added patchify method which keeps
positional information.' (7cffc6c) ... It can be changed to ``for i in range(n_patches): for j in range(n_patches):``";
the author: "Yes, your change looks good to me."), fixed by merged PR #4, commit
d8457a563ea2092a8760acc56e7f1f89116200e5 "Fixed #3 patchify for loop ranges".

Source: github:BrianPulfer/PapersReimplementations vit/vit_torch.py@d8457a563ea2092a8760acc56e7f1f89116200e5^ (issue
#3, PR #4, fix d8457a5). Fault label: other:patchify_loops_cover_top_left_only (a preprocessing step inside the model's
forward that drops 33 of 49 patches: 67 % of the image never reaches the network).

Program lines kept: ``patchify`` (with the buggy / fixed loop ranges), ``MyViT`` and ``MyMSA`` as written (per-sequence
and per-head Python loops, the class token stacked with ``torch.vstack``, ``get_positional_embeddings`` recomputed in
every forward, ``LayerNorm((n_patches ** 2 + 1, hidden_d))``, the ``nn.Softmax`` head fed to ``CrossEntropyLoss`` -- a
second flaw of this tutorial version, kept because it is the program), hidden_d=20, n_heads=2, n_patches=7,
``Adam(lr=0.01)``, ``criterion(y_hat, y) / len(x)``, batch size 16, ``ToTensor()`` scaling, ``torch.manual_seed(0)``.
Ported: ``device`` is the CPU. Nothing is shrunk (the network is already tiny); the run is shorter (see Measured).
Keras twin (the fault is plain array slicing, so it exists in both frameworks): channels-last input (28, 28, 1), the
same patchify loops as a layer (slices of the image stacked into 49 tokens; buggy: the 33 uncovered slots are zeros),
the class token as a (1, 20) weight drawn U(0, 1), the same constant positional embeddings,
``LayerNormalization(axis=[1, 2], epsilon=1e-5)`` (normalises and scales over the (50, 20) block like
``nn.LayerNorm((50, 20))``), per-head ``Dense(10)`` q / k / v with torch's ``nn.Linear`` default init (kernel and bias
U(-1/sqrt(fan_in), 1/sqrt(fan_in))), ``Dense(20, relu)``, ``Dense(10, softmax)``, the loss ``mean(-log_softmax(softmax
output)[y]) / batch size`` written out (what ``CrossEntropyLoss`` does to probabilities; Keras' ``from_logits=True``
would silently strip the softmax), Adam(0.01).
Data stand-in (no MNIST download): ``_data.mnist_like`` -- scikit-learn's 1797 8 x 8 digits blown up 3 x 3 and padded
to 28 x 28 uint8 (the digit fills rows / columns 2..25 like a centred MNIST digit), through ``ToTensor()`` ([0, 1]
float32, (1, 28, 28)); the first 1280 images are the training set (80 shuffled batches of 16 per epoch), the last 512
held out. ``batch`` / ``batches``: the first 1 / 8 training batches of 16; ``inputs``: 128 held-out images;
``baseline_batch``: 128 training images (the program's batch holds 16).

Measured (my own plain loops, /tmp/s48/h72_a/measure.py, OMP_NUM_THREADS=1, the module's builds; same data, seed
and batch order in both versions):
  30 epochs of the 1280 training images (80 batches of 16 per epoch, 2400 steps), then argmax accuracy on 512
  training and the 512 held-out images; "loss" is the sum over the epoch's 80 batches of criterion(y_hat, y) / 16
  (80 * log(10) / 16 = 11.5 at chance; the softmax head keeps it above ~80 * 1.46 / 16 = 7.3 even when perfect).
  torch buggy: epoch loss 11.16, 10.23, 9.82, 9.52, 9.39 (ep 1-5) ... 9.15 (ep 10) ... 8.92 (ep 20) ... 9.24 (ep 30):
  plateau near 9.0 from epoch 8 on; train acc 0.62, held-out acc 0.56.
  torch fixed: 11.39, 9.96, 9.32, 9.03, 8.80 ... 8.12 (ep 10) ... 7.85 (ep 20) ... 7.64 (ep 30); train acc 0.93,
  held-out acc 0.83.
  keras buggy: 11.34, 10.54, 10.10, 9.77, 9.97 ... 9.64 (ep 10) ... 9.61 (ep 20) ... 9.54 (ep 30); train acc 0.59,
  held-out acc 0.53.
  keras fixed: 11.25, 10.33, 9.52, 9.16, 9.26 ... 8.98 (ep 10) ... 8.85 (ep 20) ... 8.63 (ep 30); train acc 0.75,
  held-out acc 0.70 (the Keras twin learns more slowly than torch in both versions -- different random draws of
  the same inits -- but the gap has the same sign and size).
  After 1 epoch the two versions are indistinguishable (torch held-out 0.40 buggy vs 0.37 fixed); the fault shows
  as a plateau: the buggy model stops improving at ~55 % because the 16 visible patches do not separate the
  classes, while the fixed one keeps going. No version collapses to one class (largest predicted-class share
  0.21 / 0.13 torch, 0.23 / 0.22 keras), the loss does decrease in both and gradients reach every parameter in
  both (the zero tokens still get the linear_mapper bias and positional embedding), so the symptom is a lower
  ceiling, not a dead network. Time per training step (1 thread): torch ~20-35 ms (the per-image / per-patch
  Python loops of the program), keras ~10 ms; a build takes < 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs import _data
from tests.real_programs._versions import versions

LABEL = "other:patchify_loops_cover_top_left_only"
SOURCE = ("github:BrianPulfer/PapersReimplementations issue #3, PR #4 (vit/vit_torch.py patchify@d8457a5^, "
          "fix d8457a563ea2092a8760acc56e7f1f89116200e5)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("gradients_flow", {}), ("input_independent_baseline", {})]

# vit_torch.py main()
N_PATCHES = 7
HIDDEN_D = 20
N_HEADS = 2
OUT_D = 10
LR = 0.01
BATCH_SIZE = 16
SEED = 0
# port
N_TRAIN = 1280
N_HELD_OUT = 512
N_BATCHES = 8
N_INPUTS = 128
N_BASELINE = 128


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST stand-in through ``ToTensor()``: (n, 28, 28) float32 in [0, 1]; training and held-out parts."""
    imgs, y = _data.mnist_like(N_TRAIN + N_HELD_OUT)
    x = imgs.astype("float32") / 255.0
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def _train_batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """``DataLoader(train_set, shuffle=True, batch_size=16)``: one seeded shuffle, cut into batches of 16."""
    x, y, _, _ = _digits()
    order = np.random.RandomState(SEED).permutation(len(x))
    return _data.batches(x[order], y[order], BATCH_SIZE)


def get_positional_embeddings(sequence_length: int, d: int) -> np.ndarray:
    result = np.ones((sequence_length, d), dtype="float32")
    for i in range(sequence_length):
        for j in range(d):
            result[i][j] = np.sin(i / (10000 ** (j / d))) if j % 2 == 0 else np.cos(i / (10000 ** ((j - 1) / d)))
    return result


def _patch_ranges(h: int, w: int, fixed: bool) -> tuple[range, range]:
    if fixed:  # fix d8457a5
        return range(N_PATCHES), range(N_PATCHES)
    return range(h // N_PATCHES), range(w // N_PATCHES)


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    def patchify(images, n_patches):
        n, c, h, w = images.shape

        assert h == w, "Patchify method is implemented for square images only"

        patches = torch.zeros(n, n_patches ** 2, h * w // n_patches ** 2)
        patch_size = h // n_patches

        rows, cols = _patch_ranges(h, w, fixed)
        for idx, image in enumerate(images):
            for i in rows:
                for j in cols:
                    patch = image[:, i * patch_size: (i + 1) * patch_size, j * patch_size: (j + 1) * patch_size]
                    patches[idx, i * n_patches + j] = patch.flatten()
        return patches

    class MyMSA(nn.Module):
        def __init__(self, d, n_heads=2):
            super().__init__()
            self.d = d
            self.n_heads = n_heads
            d_head = int(d / n_heads)
            self.q_mappings = nn.ModuleList([nn.Linear(d_head, d_head) for _ in range(self.n_heads)])
            self.k_mappings = nn.ModuleList([nn.Linear(d_head, d_head) for _ in range(self.n_heads)])
            self.v_mappings = nn.ModuleList([nn.Linear(d_head, d_head) for _ in range(self.n_heads)])
            self.d_head = d_head
            self.softmax = nn.Softmax(dim=-1)

        def forward(self, sequences):
            result = []
            for sequence in sequences:
                seq_result = []
                for head in range(self.n_heads):
                    q_mapping = self.q_mappings[head]
                    k_mapping = self.k_mappings[head]
                    v_mapping = self.v_mappings[head]

                    seq = sequence[:, head * self.d_head: (head + 1) * self.d_head]
                    q, k, v = q_mapping(seq), k_mapping(seq), v_mapping(seq)

                    attention = self.softmax(q @ k.T / (self.d_head ** 0.5))
                    seq_result.append(attention @ v)
                result.append(torch.hstack(seq_result))
            return torch.cat([torch.unsqueeze(r, dim=0) for r in result])

    class MyViT(nn.Module):
        def __init__(self, input_shape, n_patches=7, hidden_d=8, n_heads=2, out_d=10, device=None):
            super().__init__()
            self.device = device
            self.input_shape = input_shape
            self.n_patches = n_patches
            self.n_heads = n_heads
            self.patch_size = (input_shape[1] / n_patches, input_shape[2] / n_patches)
            self.hidden_d = hidden_d
            self.input_d = int(input_shape[0] * self.patch_size[0] * self.patch_size[1])
            self.linear_mapper = nn.Linear(self.input_d, self.hidden_d)
            self.class_token = nn.Parameter(torch.rand(1, self.hidden_d))
            self.ln1 = nn.LayerNorm((self.n_patches ** 2 + 1, self.hidden_d))
            self.msa = MyMSA(self.hidden_d, n_heads)
            self.ln2 = nn.LayerNorm((self.n_patches ** 2 + 1, self.hidden_d))
            self.enc_mlp = nn.Sequential(nn.Linear(self.hidden_d, self.hidden_d), nn.ReLU())
            self.mlp = nn.Sequential(nn.Linear(self.hidden_d, out_d), nn.Softmax(dim=-1))

        def forward(self, images):
            n, c, w, h = images.shape
            patches = patchify(images, self.n_patches)
            tokens = self.linear_mapper(patches)
            tokens = torch.stack([torch.vstack((self.class_token, tokens[i])) for i in range(len(tokens))])
            pos = torch.from_numpy(get_positional_embeddings(self.n_patches ** 2 + 1, self.hidden_d))
            tokens += pos.repeat(n, 1, 1).to(self.device)
            out = tokens + self.msa(self.ln1(tokens))
            out = out + self.enc_mlp(self.ln2(out))
            out = out[:, 0]
            return self.mlp(out)

    torch.manual_seed(SEED)
    model = MyViT((1, 28, 28), n_patches=N_PATCHES, hidden_d=HIDDEN_D, n_heads=N_HEADS, out_d=OUT_D,
                  device=torch.device("cpu"))
    criterion = nn.CrossEntropyLoss()

    def loss_fn(y_hat, y):  # main(): loss = criterion(y_hat, y) / len(x)
        return criterion(y_hat, y) / len(y)

    def t(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:  # ToTensor(): (1, 28, 28)
        return torch.from_numpy(x[:, None]), torch.from_numpy(y)

    bs = [t(x, y) for x, y in _train_batches()[:N_BATCHES]]
    xtr, ytr, xho, _ = _digits()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(xho[:N_INPUTS, None]),
            "baseline_batch": t(xtr[:N_BASELINE], ytr[:N_BASELINE]), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=LR)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    seq_len = N_PATCHES ** 2 + 1

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    class Patchify(layers.Layer):
        def call(self, images):  # (n, h, w, c)
            h, w, c = images.shape[1], images.shape[2], images.shape[3]
            patch_size = h // N_PATCHES
            rows, cols = _patch_ranges(h, w, fixed)
            zero = ops.zeros_like(ops.reshape(images[:, :patch_size, :patch_size, :], (-1, patch_size ** 2 * c)))
            slots = [zero] * N_PATCHES ** 2
            for i in rows:
                for j in cols:
                    patch = images[:, i * patch_size: (i + 1) * patch_size, j * patch_size: (j + 1) * patch_size, :]
                    slots[i * N_PATCHES + j] = ops.reshape(patch, (-1, patch_size ** 2 * c))
            return ops.stack(slots, axis=1)

    class ClassTokenAndPositions(layers.Layer):
        def build(self, input_shape):
            self.class_token = self.add_weight(shape=(1, HIDDEN_D),
                                               initializer=keras.initializers.RandomUniform(0.0, 1.0),
                                               name="class_token")
            self.pos = get_positional_embeddings(seq_len, HIDDEN_D)

        def call(self, tokens):
            cls = ops.repeat(ops.expand_dims(self.class_token, 0), ops.shape(tokens)[0], axis=0)
            return ops.concatenate([cls, tokens], axis=1) + self.pos

    class MyMSA(layers.Layer):
        def __init__(self, d: int, n_heads: int = 2, **kw: Any) -> None:
            super().__init__(**kw)
            self.n_heads, self.d_head = n_heads, d // n_heads
            self.q_mappings = [linear(self.d_head, self.d_head) for _ in range(n_heads)]
            self.k_mappings = [linear(self.d_head, self.d_head) for _ in range(n_heads)]
            self.v_mappings = [linear(self.d_head, self.d_head) for _ in range(n_heads)]

        def call(self, sequences):
            out = []
            for head in range(self.n_heads):
                seq = sequences[:, :, head * self.d_head: (head + 1) * self.d_head]
                q, k, v = self.q_mappings[head](seq), self.k_mappings[head](seq), self.v_mappings[head](seq)
                attention = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))) / (self.d_head ** 0.5), axis=-1)
                out.append(ops.matmul(attention, v))
            return ops.concatenate(out, axis=-1)

    inp = keras.Input((28, 28, 1))
    tokens = linear(16, HIDDEN_D)(Patchify()(inp))
    tokens = ClassTokenAndPositions()(tokens)
    out = tokens + MyMSA(HIDDEN_D, N_HEADS)(layers.LayerNormalization(axis=[1, 2], epsilon=1e-5)(tokens))
    out = out + linear(HIDDEN_D, HIDDEN_D, "relu")(layers.LayerNormalization(axis=[1, 2], epsilon=1e-5)(out))
    out = linear(HIDDEN_D, OUT_D, "softmax")(out[:, 0])
    model = keras.Model(inp, out, name="MyViT")

    def loss(y, y_hat):  # CrossEntropyLoss on the softmax output (it applies log_softmax), / len(x)
        logp = ops.log_softmax(y_hat, axis=-1)  # written out: Keras' from_logits=True would strip the softmax
        ce = -ops.take_along_axis(logp, ops.expand_dims(ops.cast(y, "int32"), -1), axis=-1)[:, 0]
        return ops.mean(ce) / ops.cast(ops.shape(y_hat)[0], "float32")

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=loss)
    bs = [(x[..., None], y) for x, y in _train_batches()[:N_BATCHES]]
    xtr, ytr, xho, _ = _digits()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": xho[:N_INPUTS, ..., None],
            "baseline_batch": (xtr[:N_BASELINE, ..., None], ytr[:N_BASELINE])}


buggy, fixed = versions(_torch, _keras)
