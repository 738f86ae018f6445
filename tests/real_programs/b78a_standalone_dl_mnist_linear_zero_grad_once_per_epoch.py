"""heartcored98/Standalone-DeepLearning (a Korean deep-learning course, KAIST students, 2019), Lec2
``Assignment1_pytorch_MNIST_MLP.ipynb``: the course's given starter for the MNIST assignment trains a ``LinearModel``
(``nn.Linear(in_features=784, out_features=10, bias=True)``) with ``nn.CrossEntropyLoss()`` and ``optim.SGD(
model.parameters(), lr=0.005)`` on MNIST (``ToTensor()`` + ``Normalize((0.1307,), (0.3081,))``, 50,000 / 10,000
train / val split, ``batch_size=128``, shuffled), 30 epochs; the loop body squeezes and views each batch to
(128, 784) and takes ``cls_loss(pred_y.squeeze(), true_y)``.

The fault (the training loop): ``optimizer.zero_grad()`` is called once per epoch, before the batch loop, not once per
iteration. ``loss.backward()`` adds each batch's gradient to ``.grad``, so every ``optimizer.step()`` within an epoch
moves the weights along the SUM of all the gradients of that epoch so far (step t uses lr x sum of t gradients,
391 batches an epoch): SGD turns into heavy-ball momentum with coefficient 1 and no damping. The stale gradients of
the first batches keep pushing long after the weights passed the point they pointed to, the step grows with t,
the weights overshoot and swing; the loss stops decreasing and the weights grow far beyond what fits the data.
The notebook's own printed output (buggy version) shows it: train loss 1.59 / 1.93 / 1.36 / 1.26 / 1.31 / 1.39
over epochs 0-5, val loss 2.60 / 1.74 / 1.69 / 1.78 / 1.95 / 2.04, test accuracy falling 88.7 % -> 84.9 % (a
linear softmax model on MNIST reaches ~0.3 loss, ~92 %).

Source: github.com/heartcored98/Standalone-DeepLearning ``Lec2/Assignment1_pytorch_MNIST_MLP.ipynb`` at
71d4b8fe21d49f8cbf06b02b5b1ac09c66f7f948 (= the file's version before the fix), fixed by
db84d142079ff9c1a3ab942e8d19d3985e673bb0 "Fix optimizer.zero_grad() position" (the same fix in 8 lab / assignment
notebooks; Lec5 Lab7 in 3e3942a78e61212476cb9f6667d31794cebc4a87, Lec3 Lab4 in 50efcda), after issue #11 (a student:
``zero_grad()`` is used once per epoch, shouldn't it precede every ``loss.backward()``?; the maintainer,
translated: "I made that mistake ... I fixed the same error that was in several lab codes"). README announcement
070ab41: in several labs ``optimizer.zero_grad()`` ran only once per epoch instead of at the start of every
iteration; all moved into the trainloader loop. The fix: ``optimizer.zero_grad()`` as the first line inside
``for input_X, true_y in train_loader:`` (and the stray ``zero_grad()`` calls of the val / test loops replaced by
``torch.no_grad()``).
Fault label: missing_zero_grad (each step adds its gradients to those of the previous steps of the epoch).

Program lines kept: ``LinearModel`` as written (torch default init), ``nn.CrossEntropyLoss()`` on
``pred_y.squeeze()``, ``optim.SGD(model.parameters(), lr=0.005)``, batch size 128, the Normalize constants, the loop
body ``pred_y = model(input_X); loss = cls_loss(...); loss.backward(); optimizer.step()`` with no ``zero_grad`` in
the buggy ``train_step`` (within one epoch of 391 steps the buggy loop never clears ``.grad``: the same for any run
of up to 391 steps) and ``optimizer.zero_grad()`` first in the fixed one.
Ported: torch only. The fault is PyTorch's ``.grad`` accumulation API used in the wrong place; Keras' ``fit`` /
``train_on_batch`` compute fresh gradients every step and a GradientTape loop has no ``.grad`` buffer to forget to
clear, so there is no faithful Keras twin. The loop's ``input_X.squeeze().view(-1, 784)`` is applied when the
batches are built (``batch`` / ``batches`` / ``inputs`` hold (n, 784) float32), so the model sees what it saw.
Data stand-in (no MNIST download): 28x28 uint8 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up
3x3 and padded), each drawn image shifted by -2..2 pixels in x and y, scaled by 0.7..1.0 and given N(0, 10) pixel
noise (clipped to 0..255), so that the batches differ as MNIST's do; training images come from the first 1500
digits, held-out ones from the last 297. Then ToTensor (/255) and Normalize((0.1307,), (0.3081,)) as in the
program (mean 0.22, std 0.95 after it). ``batches``: 100 distinct batches of 128 (the program has 391 an epoch);
``batch``: the first; ``inputs``: 256 held-out images. No size was shrunk (the model is tiny).

Measured (my own plain loop, /tmp/s48/h78_a/measure_lin3.py: the kept lines, 100 distinct batches of 128 cycled
with reshuffling, 391 steps = one epoch of the program; buggy: one ``zero_grad`` at step 0 only; torch seed 0,
OMP_NUM_THREADS=1):
  training loss, means of 12 steps at steps 0 / 39 / 78 / ... / 390:
    buggy 1.94 0.70 0.94 0.79 1.18 0.94 0.99 1.18 1.11 1.26 0.91 (max 2.74): after a fast first drop it stops
      decreasing and swings between 0.7 and 1.3;
    fixed 2.32 1.52 1.19 0.96 0.89 0.81 0.74 0.71 0.69 0.65 0.63 (max 2.53): decreasing throughout.
  after the epoch, on the 12,800 training images: loss buggy 1.19 / fixed 0.63 (accuracy 0.90 / 0.84); on 1000
    held-out images: loss buggy 5.07 / fixed 0.82 (accuracy 0.81 / 0.77); weight gradient norm at the last step
    buggy 29.3 (the accumulated sum) / fixed 1.6. So the fault shows as a loss that stops falling and oscillates
    and as overconfident, blown-up weights (held-out loss 6x); the argmax accuracy is not worse on this stand-in
    after one epoch (the fixed model is still converging at lr 0.005), unlike the notebook's falling test
    accuracy on MNIST over several epochs.
  On the plain 1797-image ``mnist_like`` (12 batches cycled, 391 steps) the buggy loop even reached a lower
    training loss (0.06 vs 0.18; held-out loss 6.5 vs 0.44): with few distinct batches the accumulated sum acts
    like full-batch momentum; hence the shifted / noisy stand-in.
  The module's builds (/tmp/s48/h78_a/mod_check2.py: ``train_step`` over its 100 ``batches`` in order, 391 steps):
    training loss, means of 39-step blocks, buggy 1.12 0.77 0.89 1.02 1.15 1.22 1.29 1.26 1.31 1.37 (falls, then
    rises), fixed 1.98 1.39 1.11 0.97 0.88 0.80 0.75 0.71 0.68 0.66; afterwards weight norm buggy 50.2 / fixed 2.3,
    max |logit| on ``inputs`` 206 / 6.8. Over the first ~40 steps the buggy loss falls FASTER than the fixed one
    (accumulation acts as momentum before it overshoots; one batch repeated: buggy 2.53 / 1.10 / 0.025 at steps
    1 / 10 / 50, fixed 2.53 / 1.98 / 1.07; 16 batches of an earlier draw cycled for 96 steps: buggy 1.71 -> 0.56,
    fixed 2.24 -> 1.14), so a short check may see the buggy program as the better learner.
  Time per step (batch 128, one thread): ~0.5 ms buggy, ~0.3 ms fixed. Build: first ~2.8 s (imports, data), later
    0.02 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "missing_zero_grad"
SOURCE = ("github:heartcored98/Standalone-DeepLearning issue #11, fix db84d142079ff9c1a3ab942e8d19d3985e673bb0 "
          "'Fix optimizer.zero_grad() position' (Lec2/Assignment1_pytorch_MNIST_MLP.ipynb@"
          "71d4b8fe21d49f8cbf06b02b5b1ac09c66f7f948; README announcement 070ab41)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 10})]

BATCH_SIZE = 128
LR = 0.005
MEAN, STD = 0.1307, 0.3081  # transforms.Normalize((0.1307,), (0.3081,))
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shifted, scaled, noisy MNIST-like digits after ToTensor + Normalize, flattened as the loop's view(-1, 784)."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).astype("uint8")
    x = ((xs.astype("float32") / 255.0 - MEAN) / STD).reshape(-1, 784)  # ToTensor, Normalize, view(-1, 784)
    return x[:n_tr], y0[src[:n_tr]], x[n_tr:]


def _build(zero_grad_each_step: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim

    class LinearModel(nn.Module):
        def __init__(self):
            super(LinearModel, self).__init__()
            self.linear = nn.Linear(in_features=784, out_features=10, bias=True)

        def forward(self, x):
            x = self.linear(x)
            return x

    torch.manual_seed(SEED)
    model = LinearModel()
    cls_loss = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR)

    def loss_fn(pred_y, true_y):
        return cls_loss(pred_y.squeeze(), true_y)

    def train_step(model, optimizer, loss_fn, input_X, true_y):  # the loop body of one batch
        if zero_grad_each_step:  # the fix (db84d14): zero_grad() first in the batch loop
            optimizer.zero_grad()
        pred_y = model(input_X)
        loss = loss_fn(pred_y, true_y)
        loss.backward()
        optimizer.step()
        return loss

    x, y, xh = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(zero_grad_each_step=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(zero_grad_each_step=True)
