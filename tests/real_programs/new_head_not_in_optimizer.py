"""A newly trainable object-classification head left out of the optimizer's parameter list:
"when I try to also train the objects label ... the training loss doesn't decrease anymore ...
I figured out the reason: I need to add new layers to opt_params".

Source: github.com/GriffinLiang/vrd-dsr issue #8 (``network.set_trainable(self.fc_obj,
requires_grad=True)`` plus an object cross-entropy, while the optimizer is still built from the
old ``opt_params``). The VGG/ROI relation network is reduced to a pooled-feature backbone (Linear
4096 -> 512, ReLU) and the fc_obj head (512 -> 100 object classes); the optimizer is an SGD
instance (lr 1e-3, momentum 0.9) over the backbone's parameters only, as opt_params was; data:
seeded 4096-d ROI features from a 100-class teacher.
Fault label: params_not_updated. Fix: add fc_obj's parameters to the optimizer. Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "params_not_updated"
SOURCE = "github:GriffinLiang/vrd-dsr issue #8"
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {})]


def _build(with_head: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn

    class ObjNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(4096, 512), nn.ReLU())
            self.fc_obj = nn.Linear(512, 100)

        def forward(self, x):
            return self.fc_obj(self.backbone(x))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4096)).astype("float32")
    y = (x @ rng.standard_normal((4096, 100))).argmax(1)
    model = ObjNet()
    opt_params = list(model.backbone.parameters()) + (list(model.fc_obj.parameters()) if with_head else [])
    return {"model": model, "batch": (torch.tensor(x[:32]), torch.tensor(y[:32])), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.SGD(opt_params, lr=1e-3, momentum=0.9)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
