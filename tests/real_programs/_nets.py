"""Small helpers the ports share: Keras-style initialisers for torch layers, compiling a Keras model.
Imported only inside builders (they import the frameworks)."""

from __future__ import annotations

from typing import Any


def torch_dense(n_in: int, n_out: int, init: str = "glorot_uniform") -> Any:
    """A torch Linear initialised like the Keras Dense of the program (kernel init, zero bias)."""
    import torch

    layer = torch.nn.Linear(n_in, n_out)
    if init == "he_uniform":
        torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    elif init == "glorot_uniform":
        torch.nn.init.xavier_uniform_(layer.weight)
    else:
        raise ValueError(init)
    torch.nn.init.zeros_(layer.bias)
    return layer
