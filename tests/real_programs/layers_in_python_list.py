"""Hidden layers kept in a plain Python list: nn.Module does not register them, so
``model.parameters()`` (and the optimizer) never sees their weights.

Source: github.com/pytorch/pytorch issue #715 ("Module: parameters are not included if the module is
initialized in a list", kyunghyuncho): ``self.hids = []``; per layer ``self.hids.append([nn.Linear(n_hid,
n_hid), nn.<act>()])``; ``self.classifier = nn.Linear(n_hid, 3)`` (SNLI, 3 classes); maintainers:
wrap them in nn.ModuleList. The report leaves n_hid, n_layers, act, the optimizer and forward out:
here n_hid 300, 2 layers, ReLU, Adam(1e-3), and sentence-pair features of width 300 from a seeded
3-class teacher (SNLI stand-in).
Fault label: params_not_updated. Fix: nn.ModuleList. Torch only (Keras 3 tracks layers in lists).
"""

from __future__ import annotations

from typing import Any

LABEL = "params_not_updated"
SOURCE = "github:pytorch/pytorch issue #715"
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(module_list: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn

    options = {"n_hid": 300, "n_layers": 2, "act": "ReLU"}

    class SNLINet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            hids = []
            for _ in range(options["n_layers"]):
                hids.append(nn.Sequential(nn.Linear(options["n_hid"], options["n_hid"]), getattr(nn, options["act"])()))
            self.hids = nn.ModuleList(hids) if module_list else hids
            self.classifier = nn.Linear(options["n_hid"], 3)

        def forward(self, x):
            for h in self.hids:
                x = h(x)
            return self.classifier(x)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 300)).astype("float32")
    y = (x @ rng.standard_normal((300, 3))).argmax(1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": SNLINet(), "batch": (xt[:64], yt[:64]), "batches": [(xt[i:i + 64], yt[i:i + 64]) for i in range(0, 256, 64)],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
