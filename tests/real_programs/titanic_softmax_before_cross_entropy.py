"""Captum's "Getting started - Titanic Data Analysis" tutorial, whose TitanicSimpleNNModel ends in
``nn.Softmax(dim=1)`` and is trained with ``nn.CrossEntropyLoss``, which applies log-softmax again:
the loss sees probabilities in [0, 1] as logits, so it cannot fall below about 0.31 and its
gradients shrink as the model grows confident.

Source: github.com/meta-pytorch/captum (formerly pytorch/captum) issue #1010 ("Potential Issue of
CrossEntropyLoss in Tutorial Titanic Data Analysis": "the last Softmax layer of TitanicSimpleNNModel
is redundant"; maintainer: "It looks like we could avoid softmax here"), fixed by PR #1839 ("Remove
Titanic tutorial softmax before CrossEntropyLoss"), in tutorials/Titanic_Basic_Interpret.ipynb at
4be90f2c97 (still buggy): Linear(12, 12) Sigmoid, Linear(12, 8) Sigmoid, Linear(8, 2) Softmax(dim=1);
``nn.CrossEntropyLoss()``; ``torch.optim.Adam(lr=0.1)``; 200 full-batch epochs on the 916 training
rows of titanic3.csv (raw features: age, sibsp, parch, fare, then one-hot sex / embarked / pclass;
missing age and fare filled with the mean; no scaling), float32.
Data: titanic3 stand-in built from seeded numpy with the data set's marginals (pclass 1/2/3 about
25/21/54 %, 36 % female, age mean 29.9 with 20 % missing set to the mean, sibsp / parch counts,
fare right-skewed per class up to 512, embarked S/C/Q about 70/21/9 %) and survival drawn from a
logistic rule on sex, class, age and fare (about 38 % survive); 512 rows, the program's full batch
cut to 256.
Fault label: output_activation|loss_mismatch (softmax output fed to a loss that expects logits).
Fix (PR #1839): return ``self.linear3(...)`` without the softmax. Torch only: Keras 3 (TensorFlow
backend) hands a softmax layer's pre-activation to its cross-entropy even under ``from_logits=True``
(with a warning), so a Keras twin would train exactly like the fixed model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = "github:meta-pytorch/captum issue #1010, PR #1839 (tutorials/Titanic_Basic_Interpret.ipynb@4be90f2c)"
FRAMEWORKS = ("torch",)
CHECKS = [("output_range", {"kind": "logits"}), ("overfit_one_batch", {}), ("loss_decreases", {})]

BATCH_SIZE = 256


def _titanic_like(n: int = 512, seed: int = 131254) -> tuple[np.ndarray, np.ndarray]:
    """titanic3.csv after the tutorial's preprocessing: 12 float columns (age, sibsp, parch, fare,
    female, male, embark_C, embark_Q, embark_S, class_1, class_2, class_3), labels 0/1."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice([1, 2, 3], n, p=[0.247, 0.212, 0.541])
    female = (rng.random(n) < np.where(pclass == 1, 0.44, np.where(pclass == 2, 0.38, 0.31))).astype(float)
    age = np.clip(rng.normal(np.where(pclass == 1, 39.0, np.where(pclass == 2, 29.5, 24.8)), 13.0), 0.17, 80.0)
    age = np.round(age)
    age[rng.random(n) < 0.2] = 29.881135  # fillna(mean)
    sibsp = rng.choice([0, 1, 2, 3, 4, 5, 8], n, p=[0.681, 0.244, 0.032, 0.015, 0.017, 0.004, 0.007])
    parch = rng.choice([0, 1, 2, 3, 4, 5, 6, 9], n, p=[0.765, 0.130, 0.086, 0.006, 0.005, 0.005, 0.0015, 0.0015])
    fare = np.where(pclass == 1, rng.lognormal(4.2, 0.6, n), np.where(pclass == 2, rng.lognormal(3.0, 0.35, n),
                                                                    rng.lognormal(2.5, 0.35, n)))
    fare = np.round(np.clip(fare * (1 + 0.3 * (sibsp + parch > 0)), 0.0, 512.3292), 4)
    emb = rng.choice(3, n, p=[0.206, 0.094, 0.70])  # C, Q, S
    logit = -1.3 + 2.6 * female + np.where(pclass == 1, 1.0, np.where(pclass == 2, 0.2, -0.8)) \
        - 0.03 * (age - 30) + 0.004 * fare - 0.3 * (sibsp > 2)
    survived = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    feats = np.column_stack([age, sibsp, parch, fare, female, 1 - female, emb == 0, emb == 1, emb == 2,
                             pclass == 1, pclass == 2, pclass == 3]).astype("float32")
    return feats, survived


def _build(framework: str, softmax_out: bool) -> dict[str, Any]:
    x, y = _titanic_like()
    import torch
    import torch.nn as nn

    class TitanicSimpleNNModel(nn.Module):  # program lines: tutorials/Titanic_Basic_Interpret.ipynb@4be90f2c
        def __init__(self) -> None:
            super().__init__()
            self.linear1 = nn.Linear(12, 12)
            self.sigmoid1 = nn.Sigmoid()
            self.linear2 = nn.Linear(12, 8)
            self.sigmoid2 = nn.Sigmoid()
            self.linear3 = nn.Linear(8, 2)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            lin1_out = self.linear1(x)
            sigmoid_out1 = self.sigmoid1(lin1_out)
            sigmoid_out2 = self.sigmoid2(self.linear2(sigmoid_out1))
            if softmax_out:
                return self.softmax(self.linear3(sigmoid_out2))
            return self.linear3(sigmoid_out2)

    xt, yt = torch.from_numpy(x).type(torch.FloatTensor), torch.from_numpy(y)
    return {"model": TitanicSimpleNNModel(), "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=0.1)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=False)
