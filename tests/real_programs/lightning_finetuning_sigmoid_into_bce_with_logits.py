"""PyTorch Lightning's transfer-learning example (``pl_examples/domain_templates/
computer_vision_fine_tuning.py``: a frozen ImageNet ResNet-50 feature extractor with a trainable
head ``Linear(2048, 256), ReLU, Linear(256, 32), Linear(32, 1)`` for cats vs dogs, Adam lr 1e-3):
``forward`` ended with "3. Convert logits to probabilities: ``return torch.sigmoid(x)``" while the loss
was ``F.binary_cross_entropy_with_logits``, so the sigmoid is applied twice: the loss sees
``sigmoid(sigmoid(x))``, which lies in (0.5, 0.73), so it can never predict the negative class
confidently, the loss cannot fall below -log(0.73) = 0.31 for a dog nor -log(0.5) = 0.69 for a cat (about 0.5 on a
balanced batch) even on perfectly separated data, and the
gradient reaching the head is damped by the extra sigmoid's slope (at most 0.25).

Source: github.com/Lightning-AI/pytorch-lightning PR #7096 (merged, "Fixed bug: replaced
bce_loss_with_logits with bce_loss", from discussion #7081); after review (carmocca: "Why not remove
the ``torch.sigmoid`` in forward instead?", awaelchli: "I would go for the more numerically stable
option") the merged fix removed the sigmoid from ``forward`` (which now "Returns logits") and kept
``binary_cross_entropy_with_logits``, applying ``torch.sigmoid`` only for the accuracy metric.
Program lines kept: the head ``_fc_layers``, the loss, ``y_true = y.view((-1, 1)).type_as(x)``,
``optim.Adam(trainable_parameters, lr=self.lr)`` with ``lr=1e-3``, ``batch_size=32`` (the defaults of
the stored version at 02b0873).
Ported minimally: with ``train_bn=False`` and the ``MilestonesFinetuning`` callback the backbone is
frozen for the first milestone epochs, so only the head trains; the frozen ResNet-50 (pretrained
weights cannot be downloaded here) is replaced by its output, the 2048-d pooled feature vector
(``x.squeeze(-1).squeeze(-1)``), and the model here is the head on those features.
Data stand-in: seeded 2048-d non-negative features like ResNet-50's post-ReLU average-pooled
activations (mean ~0.45, many near zero), with a class-dependent shift on 64 of the dimensions
(cats = 0, dogs = 1), labels as float (32, 1) after ``y.view((-1, 1))``.
Fault label: output_activation|loss_mismatch. Fix: ``forward`` returns the logits (no sigmoid);
loss unchanged.
Torch only: a Keras 3 twin (last Dense with ``activation="sigmoid"`` compiled with
``BinaryCrossentropy(from_logits=True)``) trained exactly like the fixed model in our loop (Keras 3
recovers the logits kept on a sigmoid output), so the same bug does not arise there in this idiom.
Own loop (100 Adam steps over the 4 batches): buggy loss 0.66 -> 0.53 (batch 0: 0.46, the floor of
the double sigmoid), fixed 0.68 -> 0.0001.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = "github:Lightning-AI/pytorch-lightning PR #7096 (pl_examples/domain_templates/computer_vision_fine_tuning.py, sigmoid in forward + binary_cross_entropy_with_logits)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "logits"})]

lr = 1e-3
batch_size = 32


def _data(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for ResNet-50 pooled features of cat/dog images: 2048-d, non-negative."""
    rng = np.random.default_rng(1234)
    y = (np.arange(n) % 2).astype("float32")
    rng.shuffle(y)
    feats = np.maximum(rng.normal(0.25, 0.45, (n, 2048)), 0.0)
    signal = rng.choice(2048, 64, replace=False)
    feats[:, signal] += 0.6 * (2 * y[:, None] - 1) * rng.uniform(0.5, 1.0, 64)
    return np.maximum(feats, 0.0).astype("float32"), y.reshape(-1, 1)


def _build(framework: str, sigmoid_in_forward: bool) -> dict[str, Any]:
    x, y = _data()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(1234)

    class TransferLearningHead(nn.Module):
        def __init__(self):
            super().__init__()
            # 2. Classifier:
            _fc_layers = [nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 32), nn.Linear(32, 1)]
            self.fc = nn.Sequential(*_fc_layers)

        def forward(self, x):
            # (1. feature extraction by the frozen backbone: x are its pooled features)
            # 2. Classifier (returns logits):
            x = self.fc(x)
            if sigmoid_in_forward:
                # 3. Convert logits to probabilities:
                return torch.sigmoid(x)
            return x

    def loss(logits, labels):
        return F.binary_cross_entropy_with_logits(input=logits, target=labels)

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": TransferLearningHead(), "batch": tb[0], "batches": tb, "loss_fn": loss,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_in_forward=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid_in_forward=False)
