"""MalConv-keras: a malware / benign classifier over raw file bytes (byte embedding, gated strided
Conv1D, global max pooling, Dense 64) whose output layer is ``Dense(1, activation='softmax')``. A
softmax over a single unit is identically 1.0, so every file is predicted "malware" and no gradient
passes through the output (Keras 2 and torch: the binary cross-entropy stays put). Under Keras 3 the
crossentropy picks up the pre-softmax logit that ``softmax`` caches on its output and trains
sigmoid(logit) instead, so the reported loss falls while ``predict`` still returns 1.0 for every file.

Source: github.com/j40903272/MalConv-keras commit a0c3f1c22a24599bcce809e979722875e55e9ceb ("bug
fix": ``out = Dense(1, activation='softmax')(d)`` -> ``Dense(1, activation='sigmoid')``; the same
commit drops a no-op ``Reshape``), listed as an Activation fix in lab-design/ICSE2020DNNBugRepair's
GitHub sheet. Program lines from malconv.py and train.py at a0c3f1c^: ``Input((max_len,))``,
``Embedding(vocab_size, 8)``, ``conv1 = Conv1D(128, win_size, strides=win_size, padding='same')``
and ``conv2`` the same followed by ``Activation('sigmoid')``, ``multiply([conv1, a])``,
``GlobalMaxPool1D()``, ``Dense(64)``, ``Dense(1, softmax)``; ``loss='binary_crossentropy',
optimizer='adam'`` (Keras default learning rate 0.001); ``--batch_size 64``, ``--win_size 500``;
inputs are the files' bytes through a char-level ``Tokenizer`` and ``pad_sequences(maxlen=max_len,
padding='post', truncating='post')``, labels 0/1 from the csv. ``--max_len`` (default 200000) is set
to 8000 here (16 windows of 500) to keep the port small.
Data: the malware / benign files are not available; stand-in: seeded byte-token sequences (ids 1..256,
0 = padding after the end of each "file", lengths 3000..8000) drawn from one skewed byte
distribution, the malicious files also carrying one to three 400-byte sections made of 12 particular
byte ids (packed code); labels float32 (n, 1), half positive; four batches of 64.
Fault label: output_activation (softmax on a one-unit output).
Fix (a0c3f1c): ``out = Dense(1, activation='sigmoid')(d)``.
Torch twin: the same graph as an nn.Module (Embedding(257, 8) with Keras' uniform(-0.05, 0.05) init,
two Conv1d(8, 128, 500, stride=500) with glorot-uniform kernels, sigmoid gate, max over time,
Linear(128, 64), Linear(64, 1), then ``softmax(dim=1)`` (buggy) or ``sigmoid`` (fixed)),
``nn.BCELoss()``, ``torch.optim.Adam(lr=0.001)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:j40903272/MalConv-keras malconv.py@a0c3f1c^ (fix a0c3f1c \"bug fix\")"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

BATCH_SIZE = 64  # train.py --batch_size
MAX_LEN = 8000  # train.py --max_len (default 200000), reduced
WIN_SIZE = 500  # train.py --win_size
VOCAB_SIZE = 257  # malconv.py default: 256 byte values + padding


def _files_like(n: int = 4 * BATCH_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tokenised, post-padded byte sequences (n, MAX_LEN) int32 and 0/1 labels (n, 1) float32."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype("float32")
    rng.shuffle(y)
    common = rng.dirichlet(np.full(256, 0.3))  # token frequencies of ordinary file content
    packed_ids = rng.choice(np.arange(1, 257), 12, replace=False)
    x = np.zeros((n, MAX_LEN), dtype="int32")
    for i in range(n):
        length = int(rng.integers(3000, MAX_LEN + 1))
        seq = rng.choice(np.arange(1, 257), length, p=common)
        if y[i] == 1:
            for _ in range(int(rng.integers(1, 4))):  # packed / shellcode-like sections
                start = int(rng.integers(0, length - 400))
                seq[start:start + 400] = rng.choice(packed_ids, 400)
        x[i, :length] = seq
    return x, y[:, None]


def _build(framework: str, head: str) -> dict[str, Any]:
    x, y = _files_like()
    if framework == "keras":
        import keras
        from keras.layers import Activation, Conv1D, Dense, Embedding, GlobalMaxPool1D, Input, multiply
        from keras.models import Model

        # program lines (malconv.py Malconv(max_len, win_size, vocab_size))
        inp = Input((MAX_LEN,))
        emb = Embedding(VOCAB_SIZE, 8)(inp)
        conv1 = Conv1D(kernel_size=(WIN_SIZE), filters=128, strides=(WIN_SIZE), padding='same')(emb)
        conv2 = Conv1D(kernel_size=(WIN_SIZE), filters=128, strides=(WIN_SIZE), padding='same')(emb)
        a = Activation('sigmoid')(conv2)
        mul = multiply([conv1, a])
        p = GlobalMaxPool1D()(mul)
        d = Dense(64)(p)
        out = Dense(1, activation=head)(d)
        model = Model(inp, out)
        # program lines (train.py)
        model.compile(loss='binary_crossentropy', optimizer=keras.optimizers.Adam(learning_rate=0.001),
                      metrics=['acc'])
        return {"model": model, "batch": (x[:BATCH_SIZE], y[:BATCH_SIZE]),
                "batches": _data.batches(x, y, BATCH_SIZE)}

    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    def keras_conv() -> nn.Conv1d:
        conv = nn.Conv1d(8, 128, WIN_SIZE, stride=WIN_SIZE)  # 'same' adds no padding: MAX_LEN % WIN_SIZE == 0
        nn.init.xavier_uniform_(conv.weight)
        nn.init.zeros_(conv.bias)
        return conv

    class Malconv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(VOCAB_SIZE, 8)
            nn.init.uniform_(self.emb.weight, -0.05, 0.05)
            self.conv1 = keras_conv()
            self.conv2 = keras_conv()
            self.d = torch_dense(128, 64)
            self.out = torch_dense(64, 1)

        def forward(self, inp):
            emb = self.emb(inp).transpose(1, 2)  # (n, 8, max_len)
            mul = self.conv1(emb) * torch.sigmoid(self.conv2(emb))
            p = mul.max(dim=2).values
            z = self.out(self.d(p))
            return torch.softmax(z, dim=1) if head == "softmax" else torch.sigmoid(z)

    xt, yt = torch.tensor(x, dtype=torch.long), torch.tensor(y)
    return {"model": Malconv(), "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "loss_fn": nn.BCELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "softmax")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "sigmoid")
