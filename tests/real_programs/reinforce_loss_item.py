"""Policy-gradient generator whose loss is accumulated from ``log_probs[...].item() * reward``
(a Python float): the loss no longer reaches any parameter and "the grad of each layer comes back
as None".

Source: github.com/isayev/ReLeaSE issue #39 ("Weights are not updating": the user changed
``rl_loss -= (log_probs[0, top_i]*discounted_reward)`` to ``.cpu().detach().numpy()`` and then
``.item()``; maintainer: "your changes detach rl_loss from the computational graph"). The
stack-augmented GRU generator is reduced to a GRU over one-hot tokens with a Linear head; the
REINFORCE loss over a fixed batch of sampled token sequences and rewards is the program's
(``rl_loss -= log_probs[0, top_i] * discounted_reward``, then divided by the number of steps);
Adam(lr 1e-3). To keep a differentiable loss the buggy version wraps the float like such code does
to silence the backward error: ``torch.tensor(rl_loss, requires_grad=True)``.
Fault label: no_gradient. Fix: keep the tensor. Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "no_gradient"
SOURCE = "github:isayev/ReLeaSE issue #39 (release/reinforcement.py policy_gradient)"
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {})]


def _build(detach: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn

    vocab, hidden, steps = 12, 64, 10

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(vocab, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, x):
            out, _ = self.gru(x)
            return torch.log_softmax(self.head(out), dim=-1)

    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocab, (32, steps + 1))
    x = torch.tensor(np.eye(vocab, dtype="float32")[tokens[:, :-1]])
    # target: next token and its discounted reward (reward favours low token ids)
    top_i = torch.tensor(tokens[:, 1:])
    reward = torch.tensor((1.0 - tokens[:, 1:] / vocab).astype("float32"))

    def policy_loss(log_probs, target):
        ids, rew = target[..., 0].long(), target[..., 1]
        rl_loss = 0
        for t in range(steps):
            lp = log_probs[:, t].gather(1, ids[:, t:t + 1]).squeeze(1)
            if detach:
                rl_loss -= (lp.mean().item() * rew[:, t].mean().item())
            else:
                rl_loss -= (lp * rew[:, t]).mean()
        rl_loss = rl_loss / steps
        return torch.tensor(rl_loss, requires_grad=True) if detach else rl_loss

    y = torch.stack([top_i.float(), reward], dim=-1)
    return {"model": Generator(), "batch": (x, y), "batches": [(x, y)], "loss_fn": policy_loss,
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(False)
