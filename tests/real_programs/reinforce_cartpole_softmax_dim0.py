"""Deep Reinforcement Learning in Action, chapter 4: REINFORCE on CartPole with a policy network
that ends in ``torch.nn.Softmax(dim=0)``. Sampling an action feeds one state (a 1-D tensor of 4), so
dim 0 is the action axis there; but the update re-runs the whole episode as a batch
(``pred_batch = model(state_batch)``, shape (T, 2)), and dim 0 is then the time/batch axis: each
"action probability" is normalised across the episode's states instead of across the two actions.

Source: github.com/DeepReinforcementLearning/DeepReinforcementLearningInAction issue #32
("Chap.4. softmax(dim=1)": "the softmax operation with dim=0 is only OK when the input is a 1
dimensional array ... when you give a batch input, then the probability will be computed along the
row direction of the batch matrix"; fix given there: ``torch.nn.Softmax(dim=1)`` plus
``unsqueeze(0)`` / ``squeeze(0)`` around the single-state call; a later comment adds that after the
fix a learning rate of 0.001 trains better). Program lines from "Chapter 4/Ch4_book.ipynb" at
d0e0bb6 (same in Errata/Chapter 4.ipynb): Linear(4, 150), LeakyReLU, Linear(150, 2), Softmax(dim=0);
``Adam(lr=0.009)``; ``discount_rewards`` (gamma 0.99, rewards ``t+1`` flipped, divided by their max);
``loss_fn(preds, r) = -sum(r * log(preds))`` on ``pred_batch.gather(1, actions)``; one update per
episode (the episode is the batch). The earlier notebook (old_but_more_detailed/
Ch4_PolicyGradients.ipynb) had ``nn.Softmax()``, whose implicit dim is 1 for a 2-D batch.
Data: CartPole-v1 is a gym environment; here its dynamics (gym's classic-control equations:
gravity 9.8, cart 1.0 kg, pole 0.1 kg, half-length 0.5, force 10, tau 0.02, done when |x| > 2.4 or
|theta| > 12 degrees, start state uniform in +-0.05) are stepped in seeded numpy, with actions drawn
50/50 as the freshly initialised policy draws them; each episode gives the state batch (T, 4)
float32 and a target (T, 2) of [action, discounted return] that the loss splits back into the
program's ``action_batch`` and ``disc_returns``.
Fault label: batch_mixing (the output for one state depends on the other states of the batch).
Fix (issue #32): ``Softmax(dim=1)``. Torch only (a PyTorch dim argument).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._data import cartpole_step

LABEL = "batch_mixing"
SOURCE = "github:DeepReinforcementLearning/DeepReinforcementLearningInAction issue #32 (Chapter 4/Ch4_book.ipynb@d0e0bb6)"
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("output_range", {"kind": "probabilities"}),
          ("overfit_one_batch", {}), ("loss_decreases", {})]


def _cartpole_episodes(n_episodes: int = 6, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """CartPole-v1 episodes (gym's dynamics, Euler integration) under a 50/50 policy."""
    rng = np.random.default_rng(seed)
    episodes = []
    while len(episodes) < n_episodes:
        s = rng.uniform(-0.05, 0.05, 4)
        transitions = []
        for t in range(200):  # MAX_DUR
            a = int(rng.integers(0, 2))
            prev = s.copy()
            s, done = cartpole_step(s, a)
            transitions.append((prev, a, t + 1))
            if done:
                break
        if len(transitions) < 8:  # keep episodes long enough to be a batch
            continue
        # program lines: reward_batch flipped, discount_rewards(gamma=0.99)
        reward_batch = np.array([r for (_, _, r) in transitions], "float32")[::-1]
        disc = (0.99 ** np.arange(len(reward_batch))).astype("float32") * reward_batch
        disc /= disc.max()
        states = np.array([st for (st, _, _) in transitions], "float32")
        actions = np.array([ac for (_, ac, _) in transitions], "float32")
        episodes.append((states, np.stack([actions, disc], axis=1).astype("float32")))
    return episodes


def _build(softmax_dim: int) -> dict[str, Any]:
    import torch

    l1, l2, l3 = 4, 150, 2  # program lines
    model = torch.nn.Sequential(
        torch.nn.Linear(l1, l2),
        torch.nn.LeakyReLU(),
        torch.nn.Linear(l2, l3),
        torch.nn.Softmax(dim=softmax_dim),
    )
    learning_rate = 0.009

    def loss_fn(pred_batch, target):
        # program lines: prob_batch = pred_batch.gather(...); loss_fn(preds, r)
        action_batch, disc_returns = target[:, 0], target[:, 1]
        prob_batch = pred_batch.gather(dim=1, index=action_batch.long().view(-1, 1)).squeeze()
        return -1 * torch.sum(disc_returns * torch.log(prob_batch))

    eps = [(torch.tensor(s), torch.tensor(t)) for s, t in _cartpole_episodes()]
    return {"model": model, "batch": eps[0], "batches": eps[1:], "inputs": eps[0][0],
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(0)


def fixed(framework: str) -> dict[str, Any]:
    return _build(1)
