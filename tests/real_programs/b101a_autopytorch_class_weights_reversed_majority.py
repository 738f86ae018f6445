"""automl/Auto-PyTorch (development branch, June 2021), tabular classification pipeline with its default
trainer: ``StandardTrainer(weighted_loss=True)`` (``weighted_loss`` is a hyperparameter whose default is True),
so ``BaseTrainerComponent.prepare`` calls ``get_class_weights(criterion, labels)`` on the training split's
labels and builds ``criterion(weight=weights)`` with ``criterion = CrossEntropyLoss`` (the default loss for
classification). The weights come from ``autoPyTorch/utils/implementations.py`` ``LossWeightStrategyWeighted``.

Source: github.com/automl/Auto-PyTorch ``autoPyTorch/utils/implementations.py`` at 8237f2c5^ (the parent of the
fixing commit), fixed by 8237f2c5d01b5c490915e26427913c317560d035 "Fix_248 (#263)",
PR #263 "Fixes problems with weighted cross-entropy" (address #248). Issue #248 "Weighted Loss Possible Issue"
(a maintainer): very large fluctuations with the weighted loss on OpenML task 233109, test performance falling from
65.86 to 54 with the weighted loss, and 68.64 once the line ``classes, counts = classes[::-1], counts[::-1]`` is
commented out. The fix deletes that line and adds the comment that ``np.unique`` returns the classes sorted, which
is the order PyTorch expects for the ``weight`` of ``CrossEntropyLoss``; the PR's new test expects
``[3, 6/10]`` for the labels ``[1, 1, 1, 1, 1, 0]`` (the buggy code gives ``[0.6, 3]``).

The fault in my words: for integer class labels (the 1-D path) the inverse-frequency weights
``total / n_classes / count`` are computed per class and then handed out in REVERSED class order. With two classes
the rare class gets the weight meant for the common class and vice versa, so instead of cancelling the imbalance
the loss squares it (a 85 / 15 split weighs like 97 / 3); with more classes the weights are permuted. The network
learns the prior of the majority class and predicts it almost everywhere: the class-balancing switch that is on by
default makes an imbalanced tabular task collapse to the majority class.
Fault label: class_collapse|labels_imbalanced (a wrong class weight drives the classifier to the majority class).
Lead's edit: the porter's ``baseline_batch`` of 256 rows is dropped: the corpus hands ``input_independent_baseline`` a
larger batch only where the program's own is under its 64 samples, and this program's is 64.

Program lines kept verbatim: ``LossWeightStrategyWeighted.__call__`` (the buggy version with the reversal, the
fixed one without it; the fix's other edits, dropping the str-to-float cast and testing ``y.shape[1] != 1`` for 2-D
labels, do nothing for 1-D integer labels and are left as in the buggy file for both), ``get_class_weights``'
``torch.from_numpy(weights).float()`` into ``CrossEntropyLoss(weight=...)``, the default network the pipeline builds
(``nn.Sequential(NoEmbedding, ShapedMLPBackbone, FullyConnectedHead)``): ShapedMLPBackbone defaults num_groups=5,
mlp_shape='funnel', max_units=200, output_dim=200, relu, no dropout -> ``get_shaped_neuron_counts`` gives
[200, 200, 200, 200, 200]: Linear(in, 200)+ReLU, 3 x (Linear(200, 200)+ReLU), Linear(200, 200); the head defaults
num_layers=2, units_layer_1=128, relu: Flatten, Linear(200, 128), ReLU, Linear(128, n_classes); XavierInit
(``xavier_uniform_`` on every Linear weight, bias_strategy default 'Normal' leaves torch's bias init); the optimizer
default AdamOptimizer (lr 1e-2, betas (0.9, 0.9), weight_decay 0.0); data_loader batch_size 64; the
StandardTrainer step (zero_grad, forward, ``criterion(pred, y)``, backward, step), so no ``train_step`` is needed.
Left out: the default ReduceLROnPlateau scheduler (it steps once per epoch on the validation loss, patience 10,
and cannot act within the steps measured here), the embedding (NoEmbedding is the identity), the
imputer/encoder (the stand-in has no missing or categorical values). Nothing was shrunk.
Ported: torch only. Auto-PyTorch is a PyTorch AutoML system; its class weights go into torch's
``CrossEntropyLoss(weight=...)``; a Keras version would be a different program (Keras' ``class_weight`` is a
``fit`` argument, not part of the compiled model), so no twin is given.

Data stand-in (no OpenML download; task 233109's data is not bundled): a seeded scikit-learn
``make_classification`` tabular binary task, 20 numerical features (6 informative, 4 redundant), 85 % class 0 /
15 % class 1 before 10 % of the labels are redrawn at random (81 / 19 after), class_sep 0.5, so the classes
overlap as real tabular data do (a clearly separable stand-in, class_sep 0.8 and 3 % flips, hid the fault: the
buggy model also found the minority class after one epoch); the pipeline's default StandardScaler (fitted on the
training split) is applied, labels are int64 0/1 as the TabularTargetValidator
encodes them. Training split 3200 rows -> ``batches`` = 50 distinct batches of 64 (one epoch), ``batch`` the first,
``inputs`` 256 held-out rows. The class weights are computed on the whole training split's labels as
``X['y_train'][train_indices]`` is in the program.

Measured (my own plain loop, /tmp/s59/p/b101a/measure.py, the module's builds, the 50 batches cycled in order,
torch seed 0, OMP_NUM_THREADS=1):
  class weights from the 3200 training labels (2591 class 0 / 609 class 1): buggy [3.02, 0.60] (the rare class 1
    gets 0.60), fixed [0.60, 3.02]; on the PR's test labels [1, 1, 1, 1, 1, 0] buggy [0.6, 3], fixed [3, 0.6].
  held-out 1000 rows (167 of class 1), after 10 / 25 / 50 / 100 / 200 / 500 steps (50 steps = one epoch):
    share predicted class 1: buggy 0.000 0.000 0.000 0.054 0.081 0.071, fixed 0.464 0.200 0.256 0.229 0.237 0.200;
    recall of class 1:       buggy 0.00  0.00  0.00  0.27  0.44  0.37,  fixed 0.65  0.44  0.65  0.65  0.66  0.62;
    balanced accuracy:       buggy 0.500 0.500 0.500 0.629 0.714 0.677, fixed 0.610 0.646 0.738 0.751 0.753 0.754;
    plain accuracy:          buggy 0.833 0.833 0.833 0.869 0.898 0.884, fixed 0.585 0.781 0.795 0.820 0.816 0.841.
    So the buggy model predicts the majority class for every held-out row for the whole first epoch, and after ten
    epochs still finds only about a third of the minority class (balanced accuracy 0.68 vs 0.75), while the plain
    accuracy looks better because it follows the majority; at init both predict class 1 almost everywhere (0.995).
  the (weighted) training loss, means of 50-step blocks: buggy 0.252 0.187 0.179 0.176 0.172 0.155 0.146 0.146 0.132
    0.126, fixed 0.770 0.581 0.542 0.537 0.512 0.472 0.454 0.447 0.433 0.428: both fall; the buggy loss is LOWER
    because its weights put 85 % x 3.0 of the weight on the easy majority class, so a falling loss does not reveal
    the fault. Loss at init on ``batch``: buggy 0.754, fixed 0.695 (log 2 = 0.693). Unweighted cross-entropy on the
    held-out rows after 500 steps: buggy 0.478, fixed 0.467.
  Time per step (batch 64, one thread): ~5 ms either version. Build: first ~7 s (torch import, data), later ~0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "class_collapse|labels_imbalanced"
SOURCE = ("github:automl/Auto-PyTorch issue #248, PR #263, fix 8237f2c5d01b5c490915e26427913c317560d035 'Fix_248 "
          "(#263)' (autoPyTorch/utils/implementations.py LossWeightStrategyWeighted 'classes, counts = "
          "classes[::-1], counts[::-1]' @8237f2c5^; training/trainer/base_trainer.py get_class_weights / prepare, "
          "StandardTrainer weighted_loss default True, setup/network_backbone/ShapedMLPBackbone.py, "
          "setup/network_head/fully_connected.py, setup/optimizer/AdamOptimizer.py, setup/network_initializer/"
          "XavierInit.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("not_constant_predictions", {}), ("input_independent_baseline", {}),
          ("init_loss", {"num_classes": 2})]

BATCH_SIZE = 64  # data_loader:batch_size default
LR = 1e-2  # AdamOptimizer lr default
BETAS = (0.9, 0.9)  # AdamOptimizer beta1 / beta2 defaults
WEIGHT_DECAY = 0.0
N_FEATURES = 20
N_CLASSES = 2
N_BATCHES = 50
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Imbalanced (85 / 15) overlapping binary tabular data, standard-scaled on the training split."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    n_tr = N_BATCHES * BATCH_SIZE
    x, y = make_classification(n_samples=n_tr + 1000, n_features=N_FEATURES, n_informative=6, n_redundant=4,
                               n_classes=N_CLASSES, weights=[0.85], flip_y=0.1, class_sep=0.5,
                               random_state=SEED)
    scaler = StandardScaler().fit(x[:n_tr])
    x = scaler.transform(x).astype("float32")
    return x[:n_tr], y[:n_tr].astype("int64"), x[n_tr:], y[n_tr:].astype("int64")


def loss_weight_strategy_weighted(y: Any, reverse: bool) -> np.ndarray:
    """``LossWeightStrategyWeighted.__call__``; ``reverse`` keeps the line the fix deleted."""
    import torch

    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy() if y.is_cuda else y.numpy()
    if isinstance(y[0], str):
        y = y.astype('float64')
    counts = np.sum(y, axis=0)
    total_weight = y.shape[0]

    if len(y.shape) > 1:
        weight_per_class = total_weight / y.shape[1]
        weights = (np.ones(y.shape[1]) * weight_per_class) / np.maximum(counts, 1)
    else:
        classes, counts = np.unique(y, axis=0, return_counts=True)
        if reverse:  # deleted by the fix (8237f2c5)
            classes, counts = classes[::-1], counts[::-1]
        weight_per_class = total_weight / classes.shape[0]
        weights = (np.ones(classes.shape[0]) * weight_per_class) / counts

    return weights


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    def _add_layer(layers: list, in_features: int, out_features: int) -> None:  # ShapedMLPBackbone._add_layer
        layers.append(nn.Linear(in_features, out_features))
        layers.append(nn.ReLU())

    torch.manual_seed(SEED)
    # ShapedMLPBackbone.build_backbone with the defaults: neuron counts [200] * 5 ('funnel', step 0)
    neuron_counts = [200, 200, 200, 200, 200]
    layers: list = []
    previous = N_FEATURES
    for i in range(5 - 1):
        _add_layer(layers, previous, neuron_counts[i])
        previous = neuron_counts[i]
    layers.append(nn.Linear(previous, 200))
    backbone = nn.Sequential(*layers)
    # FullyConnectedHead.build_head, num_layers=2, units_layer_1=128, relu
    head = nn.Sequential(nn.Flatten(), nn.Linear(200, 128), nn.ReLU(), nn.Linear(128, N_CLASSES))
    model = nn.Sequential(nn.Identity(), backbone, head)  # NoEmbedding, backbone, head

    def initialization(m: nn.Module) -> None:  # XavierInit, bias_strategy 'Normal': bias left as torch draws it
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight.data)

    model.apply(initialization)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)

    x, y, xh, _ = _data()
    weights = loss_weight_strategy_weighted(y, reverse=not fixed)  # labels = X['y_train'][train split]
    weights = torch.from_numpy(weights)
    weights = weights.float()
    criterion = nn.CrossEntropyLoss(weight=weights)

    def loss_fn(outputs, targets):
        return criterion(outputs, targets)

    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh[:N_INPUTS]),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
