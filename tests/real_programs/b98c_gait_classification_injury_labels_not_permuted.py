"""sebastian-lapuschkin/explaining-deep-clinical-gait-classification (Slijepcevic, Horst, Lapuschkin et al.,
"Explaining machine learning models for clinical gait analysis"), ``python/gait_experiments.py``: ground reaction
force (GRF) curves of gait trials, 6 force channels x 101 time-normalised points, 1142 trials of 57 subjects from
``data/DatasetC_Classification_Norm_5_Normal-Ankle-Hip-Knee.mat``, are classified into 4 injury classes (healthy,
ankle, hip, knee). The script shuffles the trials with a seeded permutation (``helpers.create_index_splits``, seed
1234, which also builds 8 subject-disjoint, class-balanced splits from the permuted labels), trims empty label columns
and trains, per split, models of ``training.py`` / ``model/`` on the flattened curves, e.g. ``run_3layer_fcnn``:
``Sequential([Linear(D, n_hidden), Rect(), Linear(n_hidden, n_hidden), Rect(), Linear(n_hidden, L), SoftMax()])``
trained with ``nn.train(Xtrain, Ytrain, ..., batchsize=5, lrate=0.005)`` (then lrate 0.001 and 0.0005), in the
authors' numpy LRP toolbox.

Fault label: label_mapping_mismatch. After the permutation the script applies it to the inputs and to the label
matrices it does not use (``Y_Injury = Y_Injury[Permutation, ...]``, ``Y_Subject = Y_Subject[Permutation, ...]``),
while the matrix the models are trained and tested on, ``Y_Injury_trimmed``, stays in file order. Trial i of the
shuffled inputs is therefore paired with the injury label of whatever trial was i-th in the file: the labels no longer
belong to their inputs (in effect random labels with the right class frequencies). The nets can only memorise, the
training loss stays near the label entropy, and held-out accuracy is chance. The author noticed the symptom in the
commit that left the bug in place (3e1f683, "heavy refactor of training code. something is wonky though! svm does
not train! data?") and fixed it the same day.

Source: github.com/sebastian-lapuschkin/explaining-deep-clinical-gait-classification, ``python/gait_experiments.py``
at 3e1f683 (= 845b5b4^, buggy), fixed by 845b5b43061da3c389276c314026a2fcfb25958d "aha! this should be it.
permuted the wrong label matrix." (``Y_Injury_trimmed = Y_Injury_trimmed[Permutation, ...]`` and
``Y_Subject_trimmed = Y_Subject_trimmed[Permutation, ...]`` instead of the untrimmed matrices), merged by
PR #2 (1f07fa9, "found the bug breaking predictions. wrong permutation of labels."). Model and trainer:
``python/training.py`` ``run_3layer_fcnn``, ``python/modules/linear.py`` (init ``W ~ N(0, m**-0.5)``,
``B = 0``; update ``W -= lrate*dW/m**.5``, ``B -= lrate*dB/n**.25``), ``python/modules/sequential.py``
``train`` (``self.backward(Ypred - Y[samples,:])``, batches of 5 drawn at random),
``python/modules/softmax.py`` (backward passes the gradient through unchanged).

Lines kept verbatim: ``trim_empty_classes`` (as written, it returns None when nothing is trimmed, so the data's label
matrix carries one empty column as the real file must), ``RANDOMSEED = 1234``, the permutation
(``numpy.random.seed(seed); Permutation = numpy.random.permutation(Permutation)``), the three buggy permutation lines
(the fixed version: the two lines of 845b5b4 for the trimmed matrices), ``numpy.transpose(X_GRF_AV, [0, 2, 1])``,
the training data ``x[iTrain, ...]`` / ``y[iTrain, ...]`` read from ``Y_Injury_trimmed``, the flatten to
(N, 606), the 3-layer FCNN with ReLU, n_hidden = 64 (the smallest width the script trains), its init, batch size 5,
lrate 0.005 with the toolbox's per-layer scaling.
Replaced: the LRP toolbox is numpy, so the net is ported to torch: ``nn.Linear`` layers initialised as the toolbox
does; the toolbox's update ``W -= lrate*dW/m**.5``, ``B -= lrate*dB/n**.25`` is ``torch.optim.SGD`` with one
parameter group per tensor at lr 0.005/m**.5 resp. 0.005/n**.25; its gradient ``Ypred - Y`` summed over the batch
through an identity softmax backward is exactly the gradient of ``CrossEntropyLoss(reduction="sum")`` on the logits,
so the model returns the logits (the toolbox's final SoftMax is folded into the loss) and the targets are the class
ids (argmax of the one-hot rows; the same loss). The 8 subject-disjoint splits of ``create_index_splits`` are
replaced by a simpler subject-disjoint, class-stratified hold-out chosen on the permuted labels (as the original
splits are, which is why the held-out labels are as wrong as the training ones). Not Keras: the program is neither
framework, and its per-tensor learning-rate scaling has no plain Keras optimizer equivalent, so torch only.
Data stand-in (the .mat is not downloadable here): 1142 trials of 57 subjects (15 healthy, 14 each ankle / hip /
knee; 20 trials each, two subjects 21), in file order subject by subject, label matrix with 5 columns of which one
is empty; channels = vertical, anterior-posterior and medio-lateral force of the affected and the unaffected side,
body-weight normalised (vertical double hump peaking ~1.1, AP -0.2..+0.2, ML ~0.05-0.08), 101 points; each injury
changes the affected side differently (ankle: weaker push-off; knee: weaker loading peak, shallower valley; hip:
weaker ML force, delayed loading), plus per-subject amplitude / timing offsets and per-trial noise.
``batches``: 60 distinct shuffled batches of 5 training trials; ``batch``: the first; ``baseline_batch``: 128
training trials; ``inputs``: 256 held-out trials (subjects never seen in training).

Measured (/tmp/s57/p/b98c/measure.py, the module's builds, plain zero_grad/forward/loss/backward/step over random
batches of 5 from the 821 training trials, torch seed 0, OMP_NUM_THREADS=1):
  10,000 steps (the program's first ``nn.train`` phase, lrate 0.005), training loss per sample, means of 1000-step
  blocks: buggy 1.386 1.386 1.386 1.384 1.384 1.383 1.384 1.383 1.383 1.383 (stuck at ln 4 = 1.386);
  fixed 1.342 1.175 0.950 0.810 0.667 0.512 0.368 0.262 0.183 0.133.
  Afterwards, on the 821 training trials: loss buggy 1.383 / fixed 0.111, accuracy 0.29 / 0.99; on the 321
  held-out trials (16 unseen subjects): loss 1.397 / 0.143, accuracy 0.22 / 0.975 (chance 0.25), each scored
  against its own version's labels; the buggy model scored against the TRUE labels: 0.20 train, 0.27 held-out.
  The module's 60 ``batches`` cycled 10x (600 steps), 60-step means: buggy 1.389 -> 1.386, fixed 1.389 -> 1.340
  (the toolbox's per-layer lr is small, so 600 steps only start the descent; after 3000 random-batch steps fixed
  is at 0.90 while buggy is still 1.385).
  One batch of 5 repeated 200 steps: buggy 1.408 / 1.159 / 1.055 / 0.967 at steps 0 / 50 / 100 / 199, fixed
  1.384 / 1.057 / 0.908 / 0.753: both can memorise a batch (wrong labels are still memorisable), so a one-batch
  overfit test does not separate them much.
  Time: ~1.5 ms a step (batch 5, one thread); first build ~4 s (imports, data), later builds ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy
import numpy as np

LABEL = "label_mapping_mismatch"
SOURCE = ("github:sebastian-lapuschkin/explaining-deep-clinical-gait-classification python/gait_experiments.py@3e1f683 "
          "(X_GRF_AV permuted, Y_Injury_trimmed not); fix 845b5b43061da3c389276c314026a2fcfb25958d 'aha! this should "
          "be it. permuted the wrong label matrix.' (training.py run_3layer_fcnn, modules/linear.py, sequential.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {})]

SEED = 0
RANDOMSEED = 1234
BATCH_SIZE = 5  # nn.train(..., batchsize=5, lrate=0.005)
LRATE = 0.005
N_HIDDEN = 64  # run_3layer_fcnn(..., n_hidden=64), the smallest of 64..1024
N_BATCHES = 60
N_BASELINE = 128
N_INPUTS = 256
CLASSES = ("Normal", "Ankle", "Calcaneus", "Hip", "Knee")  # one column without samples, trimmed
SUBJECTS = {"Normal": 15, "Ankle": 14, "Hip": 14, "Knee": 14}


def trim_empty_classes(Y):  # TODO: move this function to helpers
    # expects an input array shaped Y x C. removes label columns for classes without samples.
    n_per_col = Y.sum(axis=0)
    empty_cols = n_per_col == 0
    if numpy.any(empty_cols):
        print('{} Empty columns detected in label matrix shaped {}. Columns are: {}. Removing.'.format(
            empty_cols.sum(), Y.shape, numpy.where(empty_cols)[0]))
        Y = Y[:, ~empty_cols]
        print('    shape is {} post column removal.'.format(Y.shape))
        return Y
    else:
        print('No empty columns detected in label matrix shaped {}'.format(Y.shape))


@functools.lru_cache(maxsize=1)
def _gait_file() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in for the .mat: Feature (1142, 6, 101), Target_Injury (1142, 5) one-hot, Target_Subject (1142, 58)
    with one empty column,
    trials in file order (subject by subject)."""
    r = np.random.default_rng(SEED)
    t = np.linspace(0, 1, 101)
    feats, inj, subj = [], [], []
    s_id = 0
    for cname, n_sub in SUBJECTS.items():
        for _ in range(n_sub):
            n_trials = 21 if s_id in (3, 40) else 20
            amp = r.normal(1.0, 0.04)
            p1, p2 = r.normal(0.25, 0.02), r.normal(0.75, 0.02)
            ml_amp = r.normal(0.06, 0.01)
            for _ in range(n_trials):
                sides = []
                for affected in (True, False):
                    a1, a2, valley, ap_push, ml, q1 = 1.1, 1.1, 0.75, 0.2, ml_amp, p1
                    if affected and cname == "Ankle":
                        a2, ap_push = 0.95, 0.12
                    if affected and cname == "Knee":
                        a1, valley = 0.95, 0.85
                    if affected and cname == "Hip":
                        ml, q1 = 0.6 * ml_amp, p1 + 0.05
                    q1j, q2j = q1 + r.normal(0, 0.01), p2 + r.normal(0, 0.01)
                    v = amp * (a1 * np.exp(-((t - q1j) / 0.12) ** 2) + a2 * np.exp(-((t - q2j) / 0.12) ** 2))
                    v = np.minimum(v, amp * max(a1, a2)) - (1.0 - valley) * np.exp(-((t - 0.5) / 0.1) ** 2)
                    v = v * np.sin(np.pi * t) ** 0.3
                    ap = -0.2 * np.sin(2 * np.pi * t) * (t < 0.5) - ap_push * np.sin(2 * np.pi * t) * (t >= 0.5)
                    mlc = ml * np.sin(np.pi * t) * (1 + 0.3 * np.sin(3 * np.pi * t))
                    sides += [v, ap, mlc]
                x = np.stack(sides) + r.normal(0, 0.02, (6, 101))
                feats.append(x)
                inj.append(CLASSES.index(cname))
                subj.append(s_id)
            s_id += 1
    X = np.asarray(feats, "float64")
    return X, np.eye(len(CLASSES))[inj], np.eye(s_id + 1)[subj]  # one subject column without trials


def _holdout(Y_Subject: np.ndarray, Y_Injury: np.ndarray) -> np.ndarray:
    """Subject-disjoint, class-stratified held-out mask on the (permuted) labels: 2 of every 7 subjects a class."""
    subj_cls = {int(s): int(c) for s, c in zip(Y_Subject.argmax(1), Y_Injury.argmax(1))}
    held = set()
    for c in sorted(set(subj_cls.values())):
        ss = sorted(s for s, cc in subj_cls.items() if cc == c)
        held.update(ss[::7][:2] + ss[3::7][:2])
    return np.isin(Y_Subject.argmax(1), sorted(held))


@functools.lru_cache(maxsize=2)
def _data(fix: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The script's data path, then the train / held-out arrays as run_3layer_fcnn reads them."""
    gait_X, gait_Y_Injury, gait_Y_Subject = _gait_file()
    X_GRF_AV = gait_X.copy()
    Y_Subject = gait_Y_Subject.copy()
    Y_Injury = gait_Y_Injury.copy()
    Y_Injury_trimmed = trim_empty_classes(Y_Injury)
    Y_Subject_trimmed = trim_empty_classes(Y_Subject)  # TODO careful with that!
    # helpers.create_index_splits: global permutation sequence
    N = X_GRF_AV.shape[0]
    Permutation = numpy.arange(N)
    numpy.random.seed(RANDOMSEED)
    Permutation = numpy.random.permutation(Permutation)
    held = _holdout(Y_Subject_trimmed[Permutation, ...], Y_Injury_trimmed[Permutation, ...])  # splits: permuted
    # apply the permutation to the given data for the inputs and labels to match the splits again
    X_GRF_AV = X_GRF_AV[Permutation, ...]
    if fix:  # 845b5b4
        Y_Injury_trimmed = Y_Injury_trimmed[Permutation, ...]
        Y_Subject_trimmed = Y_Subject_trimmed[Permutation, ...]
    else:
        Y_Injury = Y_Injury[Permutation, ...]
        Y_Subject = Y_Subject[Permutation, ...]
    # transposing axes, to obtain N x time x channel axis ordering, as in Horst et al. 2019
    X_GRF_AV = numpy.transpose(X_GRF_AV, [0, 2, 1])
    x, y = X_GRF_AV, Y_Injury_trimmed  # X = {'GRF_AV': X_GRF_AV}, Y = {'Injury': Y_Injury_trimmed}
    iTrain, iTest = np.where(~held)[0], np.where(held)[0]
    Xtrain, Ytrain = x[iTrain, ...], y[iTrain, ...]
    Xtest, Ytest = x[iTest, ...], y[iTest, ...]
    Xtrain = numpy.reshape(Xtrain, [Xtrain.shape[0], -1]).astype("float32")  # reshape for fully connected inputs
    Xtest = numpy.reshape(Xtest, [Xtest.shape[0], -1]).astype("float32")
    return Xtrain, Ytrain.argmax(1).astype("int64"), Xtest, Ytest.argmax(1).astype("int64")


def _build(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    Xtrain, ytrain, Xtest, _ = _data(fix)
    D, L = Xtrain.shape[1], 4  # 606 inputs, 4 classes after trimming

    def toolbox_linear(m: int, n: int) -> nn.Linear:  # modules.Linear(m, n)
        layer = nn.Linear(m, n)
        with torch.no_grad():
            layer.weight.normal_(0, 1.0 * m ** (-.5))
            layer.bias.zero_()
        return layer

    torch.manual_seed(SEED)
    model = nn.Sequential(toolbox_linear(D, N_HIDDEN), nn.ReLU(), toolbox_linear(N_HIDDEN, N_HIDDEN), nn.ReLU(),
                          toolbox_linear(N_HIDDEN, L))  # the toolbox's SoftMax() is folded into the loss
    groups = []
    for layer in model:
        if isinstance(layer, nn.Linear):  # W -= lrate*dW/m**.5 ; B -= lrate*dB/n**.25
            groups.append({"params": [layer.weight], "lr": LRATE / layer.in_features ** .5})
            groups.append({"params": [layer.bias], "lr": LRATE / layer.out_features ** .25})
    optimizer = torch.optim.SGD(groups, lr=LRATE)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")  # gradient Ypred - Y summed over the batch

    r = np.random.default_rng(SEED)
    order = r.permutation(len(Xtrain))
    xt, yt = torch.tensor(Xtrain), torch.tensor(ytrain)
    batches = [(xt[order[i:i + BATCH_SIZE]], yt[order[i:i + BATCH_SIZE]])
               for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    base = order[N_BATCHES * BATCH_SIZE:N_BATCHES * BATCH_SIZE + N_BASELINE]
    return {"model": model, "batch": batches[0], "batches": batches, "baseline_batch": (xt[base], yt[base]),
            "inputs": torch.tensor(Xtest[:N_INPUTS]), "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fix=True)
