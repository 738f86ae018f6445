"""ray-skorch (Yard1/ray-skorch, skorch on Ray Train), the README example ``examples/readme_example.py``:
sklearn's ``make_classification(1000, 20, n_informative=10, random_state=0)`` (float32 features, int64
labels 0/1) and ``MyModule``: ``Linear(20, 10) -> ReLU -> Dropout(0.5) -> Linear(10, 10) -> ReLU ->
Linear(10, 2) -> nn.Softmax(dim=-1)``, trained by ``RayTrainNeuralNet(MyModule, num_workers=2,
criterion=nn.CrossEntropyLoss, max_epochs=10, lr=0.1, iterator_train__unsqueeze_label_tensor=False, ...)``
(skorch's defaults: ``torch.optim.SGD``, ``batch_size=128``, a 5-fold ``ValidSplit``, so 800 training rows).
The fault: the module ends in a softmax, but ``nn.CrossEntropyLoss`` takes logits and applies its own
log-softmax, so the loss is a cross-entropy over ``softmax(p)`` with ``p`` already probabilities. With two
classes the loss can never fall below ``log(1 + e^-1) = 0.313`` (perfect, confident predictions still cost
that much), and its gradient is the true one damped by the softmax Jacobian (``p_y (1 - p_y)``), so the
network learns slowly and stops pushing as soon as its probabilities saturate. skorch's
``NeuralNetClassifier.get_loss`` only takes the log itself for ``NLLLoss``, so with ``CrossEntropyLoss`` the
probabilities reach the loss as they are.

Source: github.com/Yard1/ray-skorch PR #18 ("Remove softmax from output", by rasbt: "I don't think there
should be a softmax in the output layer if you use `CrossEntropyLoss` since CrossEntropyLoss takes logits
as inputs"), merged as f104219b972a7a61bb0599fb9165aa44aa32b1ef; fix commits 5f0181f (README.md) and
20a019e6a2e365ed60c8d93f92c5eeaab8628d3e ("removed softmax", ``examples/readme_example.py``): the
``self.softmax`` layer is deleted and ``forward`` returns ``self.output(X)``. Buggy file:
``examples/readme_example.py`` at 20a019e^.
Program lines kept: the data call (offline, scikit-learn), ``MyModule`` with its defaults (``num_units=10``,
``nn.ReLU()``, dropout 0.5), the softmax output (buggy), ``nn.CrossEntropyLoss``, plain SGD with lr 0.1 and
skorch's batch size 128.
Ported minimally: Ray Train's two data-parallel workers (``num_workers=2``) are one process (they average
their gradients, so the update is the same in expectation); skorch's ``ValidSplit(5)`` is the first 768 of
the 1,000 rows (six batches of 128, about the 800 training rows skorch keeps); torch is seeded (0) where
the program is not. Keras twin: the same layers (``nn.Linear``'s default uniform init written out), the
softmax written out as a ``Lambda`` (so Keras' from-logits shortcut does not see it) under
``SparseCategoricalCrossentropy(from_logits=True)`` -- the same fault as ``CrossEntropyLoss`` over probabilities.
Data stand-in: none needed; ``make_classification`` is the program's own data (features about N(0, 1)-scaled,
balanced binary labels).
Fault label: output_activation|loss_mismatch (softmax output into a loss that expects logits).
Fix (20a019e): linear output, ``X = self.output(X)``.

Symptom in a short loop (my own loop: ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``,
seed 0, OMP_NUM_THREADS=1, model in train mode, dropout active; ~0.2 ms a step in torch, ~1.5 ms with Keras
``train_on_batch``). Cycling over the 6 batches, loss at steps 1/50/100/200/300/600: torch buggy 0.691 ->
0.665 -> 0.641 -> 0.564 -> 0.556 -> 0.562, fixed 0.693 -> 0.617 -> 0.578 -> 0.476 -> 0.461 -> 0.489; Keras
buggy 0.689 -> 0.651 -> 0.616 -> 0.584 -> 0.577 -> 0.565, fixed 0.689 -> 0.592 -> 0.545 -> 0.480 -> 0.466 ->
0.446. After 1,500 steps (torch, eval mode, all 768 rows) the true cross-entropy of the predicted
probabilities is 0.516 buggy (accuracy 0.871) vs 0.299 fixed (0.902). One batch of 128, steps
1/100/300/1000/2000 (torch): buggy 0.691 -> 0.628 -> 0.519 -> 0.414 -> 0.434 (floor 0.313), fixed 0.693 ->
0.495 -> 0.317 -> 0.231 -> 0.216; Keras one batch, step 300: buggy 0.533 vs fixed 0.346. The initial loss is
the same (log 2) either way, so an init-loss check cannot see it; the buggy model's outputs are
probabilities in [0, 1] summing to 1, not logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:Yard1/ray-skorch PR #18 (examples/readme_example.py MyModule@20a019e^, README.md; "
          "fix 20a019e6a2e365ed60c8d93f92c5eeaab8628d3e + 5f0181f, merge f104219b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "logits", "num_classes": 2})]

lr = 0.1
batch_size = 128  # skorch NeuralNet default
n_batches = 6
num_units = 10


def _data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(1000, 20, n_informative=10, random_state=0)  # program lines
    X = X.astype(np.float32)
    y = y.astype(np.int64)
    n = batch_size * n_batches
    return X[:n], y[:n]


def _build(framework: str, softmax_out: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(0)

        class MyModule(nn.Module):  # examples/readme_example.py
            def __init__(self, num_units=10, nonlin=nn.ReLU()):
                super().__init__()
                self.dense0 = nn.Linear(20, num_units)
                self.nonlin = nonlin
                self.dropout = nn.Dropout(0.5)
                self.dense1 = nn.Linear(num_units, num_units)
                self.output = nn.Linear(num_units, 2)
                self.softmax = nn.Softmax(dim=-1)

            def forward(self, X, **kwargs):
                X = self.nonlin(self.dense0(X))
                X = self.dropout(X)
                X = self.nonlin(self.dense1(X))
                # fix 20a019e: X = self.output(X)
                X = self.softmax(self.output(X)) if softmax_out else self.output(X)
                return X

        model = MyModule()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt,
                "loss_fn": nn.CrossEntropyLoss(),
                "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}  # skorch default optimizer

    if framework != "keras":
        raise ValueError(framework)
    import keras

    keras.utils.set_random_seed(0)

    def torch_like_dense(n_in: int, n_out: int, **kw) -> keras.layers.Dense:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return keras.layers.Dense(n_out, kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                                  bias_initializer=keras.initializers.RandomUniform(-bound, bound), **kw)

    def softmax_written_out(z):  # nn.Softmax(dim=-1), not recognised by Keras' from_logits shortcut
        e = keras.ops.exp(z - keras.ops.max(z, axis=-1, keepdims=True))
        return e / keras.ops.sum(e, axis=-1, keepdims=True)

    layers = [keras.Input((20,)), torch_like_dense(20, num_units, activation="relu"), keras.layers.Dropout(0.5),
              torch_like_dense(num_units, num_units, activation="relu"), torch_like_dense(num_units, 2)]
    if softmax_out:
        layers.append(keras.layers.Lambda(softmax_written_out))
    model = keras.Sequential(layers)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # nn.CrossEntropyLoss
                  optimizer=keras.optimizers.SGD(learning_rate=lr), metrics=["accuracy"])
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=False)
