"""torch-rechub (datawhalechina/torch-rechub, a PyTorch recommender-model library), its multi-task ranking example
``examples/ranking/run_census.py --model_name PLE``: Progressive Layered Extraction (Tang et al., RecSys 2020) on the
UCI census-income (KDD) data as in the MMoE / PLE papers -- task 1 ("cvr") income > 50k (main task), task 2 ("ctr")
marital status 'Never married' (auxiliary). ``get_census_data_dict``: 32 categorical columns as
``SparseFeature(col, data[col].max() + 1, embed_dim=4)`` (embeddings initialised N(0, 1e-4)) and 7 min-max scaled
``DenseFeature``s, concatenated into a 135-wide input; ``PLE(features, task_types, n_level=1, n_expert_specific=2,
n_expert_shared=1, expert_params={"dims": [16]}, tower_params_list=[{"dims": [8]}, {"dims": [8]}])``: per task two
specific experts plus one shared expert, each ``MLP`` = Linear -> BatchNorm1d -> ReLU -> Dropout(0); per task a
softmax gate (Linear -> BatchNorm1d -> Softmax) over its 3 experts; per task a tower and ``PredictionLayer``
(sigmoid); ``forward`` returns ``torch.cat(ys, dim=1)``. ``MTLTrainer`` (its own hand-written loop,
``train_one_epoch``): ``y_preds = model(x_dict)``, ``loss_list = [BCELoss()(y_preds[:, i], ys[:, i].float()) for i
in range(n_task)]``, ``loss = sum(loss_list) / n_task`` + ``RegularizationLoss`` (all coefficients 0 by default),
``model.zero_grad()``, ``loss.backward()``, ``optimizer.step()``; ``evaluate`` scores AUC on ``y_preds[:, i]``.
Adam(lr=1e-3, weight_decay=1e-4), batches of 1024 from a shuffled DataLoader, seed 2022.

The fault (``torch_rechub/models/multi_task/ple.py`` from 77056e2 "add v0.0.2" (2022-06) until 4fda8e9^):
    self.towers = nn.ModuleList(MLP(expert_params["dims"][-1], output_layer=False, **tower_params_list[i]) ...)
``output_layer=False`` drops each tower's final ``Linear(8, 1)``: a tower returns its 8 ReLU'd hidden units, the
``PredictionLayer`` puts a sigmoid on them, so ``forward`` returns a (B, 16) tensor -- 8 columns per task, every
value sigmoid(ReLU(.)) in [0.5, 1). Nothing fails: the trainer and ``evaluate`` read ``y_preds[:, 0]`` and
``y_preds[:, 1]``, which are units 0 and 1 of the *first* task's tower. So (1) no prediction can go below 0.5 (a
negative example costs at least ln 2 in BCE; held-out probabilities are exactly 0.5 wherever the ReLU unit is off),
and (2) the second task is predicted by the first task's tower, while its own tower, its two specific experts and
its gate -- 16 of the 68 parameter tensors, 4,982 of 14,156 parameters -- get exactly zero gradient (the cat's
backward passes zeros to the unused columns). Issue #49 (2023-04-01): "When the model is PLE, why is the input ...
100x16 and only the first two columns used for prediction"; issue #68 (2024-05, "ple模型预测问题") shows the 16
columns. Fix: 4fda8e92107a3a9a75689508cf52abffb2692362 "Update ple.py" (2026-02-20, PR #177, merge 908540d):
``MLP(expert_params["dims"][-1], **tower_params_list[i])`` (output layer kept: each tower ends in Linear(8, 1),
B x 2 output).

Source: github.com/datawhalechina/torch-rechub, torch_rechub/models/multi_task/ple.py (PLE, CGC),
torch_rechub/basic/layers.py (MLP, PredictionLayer, EmbeddingLayer), basic/features.py, basic/initializers.py,
basic/activation.py, basic/loss_func.py (RegularizationLoss), utils/data.py (DataGenerator, get_loss_func),
trainers/mtl_trainer.py (MTLTrainer.train_one_epoch, evaluate), examples/ranking/run_census.py (PLE branch, argparse
defaults), examples/ranking/data/census-income/preprocess_census.py, all at 4fda8e9^ (= 33bb03f); fix 4fda8e9.
Fault label: output_activation|no_gradient (the towers end in BatchNorm + ReLU instead of a linear logit, so the
sigmoid outputs are confined to [0.5, 1); the second task's tower, experts and gate get zero gradient).

Program lines kept: PLE, CGC, MLP, PredictionLayer and the sparse/dense part of EmbeddingLayer as the library has
them (buggy and fixed tower lines verbatim), the example's PLE configuration and feature set (32 x embed 4 + 7 dense
= 135 inputs, experts [16], towers [8]), the embedding init N(0, 1e-4) and PyTorch's default Linear / BatchNorm
init, the trainer's step (per-task BCELoss on ``y_preds[:, i]``, mean over tasks, + 0.0 regularisation,
``model.zero_grad()``, backward, step) as ``train_step``, Adam(1e-3, weight_decay=1e-4), batches of 1024 (the
example's default; run on the repository's bundled 80-row sample csv it is one batch of 80), seed 2022 (torch).
Ported: the program feeds a dict ``{column: tensor}``; here the 39 columns are packed into one float32 row
(32 category codes, then the 7 scaled values) that ``PLE.forward`` unpacks into that dict (EmbeddingLayer then
does ``.long()`` / ``.float()`` as in the library); SequenceFeature / shared-embedding branches, tqdm, early
stopping, model saving and the uwl / metabalance / gradnorm options (not used by the example) dropped;
``loss_fn`` is the step's loss. Keras twin: the same network as a ``keras.Model`` on the packed row (one
``Embedding(k, 4)`` per column with RandomNormal(0, 1e-4), ``Dense`` layers with PyTorch's default init
(VarianceScaling(1/3, fan_in, uniform) kernels, U(+-1/sqrt(fan_in)) biases), ``BatchNormalization(momentum=0.9,
epsilon=1e-5)`` as BatchNorm1d, Dropout(0) left out), the same buggy / fixed towers, sigmoid per task and
concatenation; compiled with the trainer's loss (mean over tasks of binary cross-entropy on ``y_pred[:, i]``) and
``Adam(1e-3, epsilon=1e-8, weight_decay=1e-4)`` (Keras' weight decay is decoupled, torch's is added to the
gradient; both are negligible here). The fault is in how the model is built, not in the framework.
Data stand-in (no census download): ``census_income(n)`` -- rows as preprocess_census.py writes them: 32
categorical columns with the KDD data's category counts (class of worker 9, industry 52, occupation 47, education
17, ... year 2) as integer codes, 7 continuous columns min-max scaled to [0, 1] (age / 90, wage per hour, capital
gains / losses, dividends, persons worked for employer, weeks worked / 52, mostly zeros like the real ones), labels
[income 50000+, never married]. People are drawn from latent traits (27 % children; age, sex, schooling,
employment, weeks worked, occupation group, capital income) and the columns follow from them (children: 'not in
universe', nonfiler, 'child < 18 never married'; married adults: joint filers, householder / spouse; with some
noise), the other columns weakly related noise. Income 50000+ for 6.6 % (KDD: 6.2 %), never married 41 % (KDD:
43 %); a logistic regression on one-hot codes reaches held-out AUC 0.91 (income) and 0.998 (marital status) (the
papers report ~0.94-0.95 and ~0.99+). ``batches``: 4 consecutive shuffled batches of 1024 from 4,096 rows (seed
0), ``batch`` the first, ``inputs`` the first 512 rows; y int64 (B, 2) for torch, float32 for Keras.

Measured (my own plain loops, /tmp/s39/h54a/work/measure_t.py and measure_k.py; OMP_NUM_THREADS=1 on the shared
2-core machine, load average ~5; the module's builds; 32,768 training rows (seed 10) in shuffled batches of 1024,
20 epochs = 640 steps; 8,192 held-out rows (seed 11) scored in eval mode as ``evaluate`` does; "loss" = held-out
BCE of [income, marital] on ``y_preds[:, 0]``, ``y_preds[:, 1]``, ln 2 = 0.693):
  torch, train_step, steps 1 / 32 / 160 / 320 / 640:
    buggy: train loss 0.827 / 0.681 / 0.597 / 0.589 / 0.571; held-out loss [0.786, 0.693] / [0.926, 0.809] /
      [0.694, 0.497] / [0.693, 0.479] / [0.693, 0.459]; AUC [0.58, 0.50] / [0.85, 0.99] / [0.69, 0.995] /
      [0.66, 0.994] / [0.64, 0.992]; every output >= 0.5, and 87 % / 95 % / 95 % of the held-out income
      predictions are exactly 0.5 after 160 / 320 / 640 steps.
    fixed: train loss 0.815 / 0.617 / 0.365 / 0.227 / 0.108; held-out loss [0.834, 0.678] / [0.617, 0.635] /
      [0.521, 0.220] / [0.360, 0.110] / [0.208, 0.065]; AUC [0.39, 0.39] / [0.81, 0.98] / [0.88, 0.998] /
      [0.88, 0.998] / [0.86, 0.997]; predictions span 0.000-0.992 at the end.
  Keras, train_on_batch, steps 1 / 32 / 160 / 320 / 640:
    buggy: train loss 0.915 / 0.647 / 0.602 / 0.593 / 0.576; held-out loss [0.693, 0.696] / [1.158, 0.636] /
      [0.696, 0.510] / [0.693, 0.487] / [0.693, 0.464]; AUC [0.50, 0.77] / [0.64, 0.99] / [0.76, 0.99] /
      [0.63, 0.99] / [0.67, 0.99]; min output 0.5 throughout, income predictions exactly 0.5 for 76 % / 96 % /
      94 % of held-out rows after 160 / 320 / 640 steps.
    fixed: train loss 0.702 / 0.493 / 0.259 / 0.152 / 0.083; held-out loss [0.719, 0.678] / [0.560, 0.653] /
      [0.319, 0.220] / [0.212, 0.109] / [0.172, 0.059]; AUC [0.73, 0.43] / [0.78, 0.93] / [0.87, 0.999] /
      [0.90, 0.999] / [0.89, 0.997].
  One batch of 1024 repeated, loss at steps 0 / 25 / 50 / 100 / 200 / 300: torch buggy 0.838, 0.631, 0.599, 0.582,
    0.572, 0.566 (floor 0.534: ln 2 times the batch's share of
    negatives, 0.940 and 0.602, averaged over the tasks); fixed 0.810, 0.618, 0.515, 0.404,
    0.281, 0.192. Keras buggy 0.916, 0.634, 0.609, 0.586, 0.577, 0.570; fixed 0.703, 0.495, 0.418, 0.313, 0.181,
    0.109.
  First batch, before training: output shape (1024, 16) buggy vs (1024, 2) fixed; buggy outputs in [0.5, 0.99]
    (torch, train mode) / [0.5, 0.55] (Keras, inference); gradient exactly zero for 16 of 68 parameter tensors
    (4,982 of 14,156 parameters: task 2's tower, its two specific experts and its gate) in both frameworks, none
    in the fixed model.
  The buggy model still learns something (the loss falls, marital-status AUC reaches 0.99 through the income
    tower's second unit), so training looks alive; the losses stall near their ln 2 floors and the income
    predictions collapse to 0.5.
  Time per training step (batch 1024, one thread, loaded machine): torch train_step 15 ms (buggy and fixed), Keras
    train_on_batch 13-16 ms; builds: torch 0.01-0.03 s, Keras 1.0-1.2 s (all four 11 s the first time, with the
    torch / TensorFlow imports).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation|no_gradient"
SOURCE = ("github:datawhalechina/torch-rechub issues #49, #68 (torch_rechub/models/multi_task/ple.py PLE.__init__ "
          "'self.towers = nn.ModuleList(MLP(expert_params[\"dims\"][-1], output_layer=False, **tower_params_list[i]) "
          "...)' @4fda8e92107a3a9a75689508cf52abffb2692362^ (since 77056e2 'add v0.0.2'), torch_rechub/basic/layers.py "
          "MLP/PredictionLayer/EmbeddingLayer, torch_rechub/trainers/mtl_trainer.py MTLTrainer.train_one_epoch, "
          "examples/ranking/run_census.py --model_name PLE, examples/ranking/data/census-income/preprocess_census.py; "
          "fix 4fda8e92107a3a9a75689508cf52abffb2692362 'Update ple.py' (PR #177, merge 908540d): "
          "MLP(expert_params[\"dims\"][-1], **tower_params_list[i]))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "sigmoid"}), ("not_constant_predictions", {})]

# examples/ranking/run_census.py (argparse defaults) and the PLE branch of main()
learning_rate = 1e-3
batch_size = 1024
weight_decay = 1e-4
seed = 2022
task_types = ["classification", "classification"]  # cvr_label (income), ctr_label (marital status)
n_level, n_expert_specific, n_expert_shared = 1, 2, 1
expert_params = {"dims": [16]}
tower_params_list = [{"dims": [8]}, {"dims": [8]}]
EMBED_DIM = 4  # SparseFeature(col, data[col].max() + 1, embed_dim=4)
EMBED_STD = 0.0001  # SparseFeature's default initializer RandomNormal(0, 0.0001)

# census-income (KDD 1994/95) after preprocess_census.py, columns in the csv order; the 32 categorical columns
# (LabelEncoder codes) with their number of categories, then the 7 min-max scaled continuous ones
SPARSE_COLS = {
    "class of worker": 9, "industry code": 52, "occupation code": 47, "education": 17,
    "enrolled in edu inst last wk": 3, "major industry code": 24, "major occupation code": 15, "race": 5,
    "hispanic origin": 10, "sex": 2, "member of a labor union": 3, "reason for unemployment": 6,
    "full or part time employment stat": 8, "tax filer status": 6, "region of previous residence": 6,
    "state of previous residence": 51, "detailed household and family stat": 38,
    "detailed household summary in household": 8, "migration code-change in msa": 10,
    "migration code-change in reg": 9, "migration code-move within reg": 10, "live in this house 1 year ago": 3,
    "migration prev res in sunbelt": 4, "family members under 18": 5, "country of birth father": 43,
    "country of birth mother": 43, "country of birth self": 43, "citizenship": 5,
    "own business or self employed": 3, "fill inc questionnaire for veterans admin": 3, "veterans benefits": 3,
    "year": 2,
}
DENSE_COLS = ['age', 'wage per hour', 'capital gains', 'capital losses', 'divdends from stocks',
              'num persons worked for employer', 'weeks worked in year']
N_SPARSE = len(SPARSE_COLS)
N_FEATURES = N_SPARSE + len(DENSE_COLS)  # used_cols = sparse_cols + dense_cols, packed into one float32 row

N_BATCHES = 4
N_ROWS = N_BATCHES * batch_size


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def census_income(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for census_income_{train,val,test}.csv after preprocess_census.py and run_census.py: (n, 39) float32
    rows -- the 32 categorical columns as LabelEncoder-style codes (0 .. categories-1, stored as floats), then the 7
    continuous columns min-max scaled to [0, 1] -- and (n, 2) int64 labels [cvr_label = income 50000+, ctr_label =
    'Never married']. People are drawn from a few latent traits (age, sex, schooling, employment, weeks worked,
    occupation group, capital income); the census columns follow from them (children: 'Not in universe' almost
    everywhere, 'Nonfiler', 'Child <18 never marr ...'; married adults: joint filers, householder / spouse; ...),
    the rest are weakly related noise. Income > 50k for ~6 % (KDD: 6.2 %), never married ~43 % (KDD: 43 %)."""
    rng = np.random.default_rng(seed)
    child = rng.random(n) < 0.27
    age = np.where(child, rng.integers(0, 18, n), np.clip(18 + rng.gamma(2.2, 12.0, n), 18, 90)).astype(float)
    male = rng.random(n) < 0.48
    never = np.where(child, True, rng.random(n) < 0.04 + 0.9 * _sigmoid(-(age - 27.0) / 4.0))
    # schooling: 0 children (<15), 1-6 grades, 7 high school, 8 some college, 9-10 associates, 11 bachelors,
    # 12 masters, 13 prof school, 14 doctorate (codes below are a fixed permutation, as LabelEncoder's order is)
    adult_edu = rng.choice(np.arange(1, 15), n, p=np.array([1, 2, 3, 4, 4, 4, 32, 20, 4, 3, 14, 6, 2, 1]) / 100)
    edu = np.where(age < 15, 0, np.where(child, rng.integers(3, 7, n), adult_edu))
    school_years = np.array([0, 3, 6, 8, 9, 10, 11, 12, 13, 14, 14, 16, 18, 19, 20])[edu]
    p_emp = np.where(child, np.where(age >= 15, 0.2, 0.0),
                     np.where(age < 65, np.where(male, 0.82, 0.64) + 0.01 * (school_years - 12), 0.12))
    employed = rng.random(n) < np.clip(p_emp, 0, 1)
    weeks = np.where(employed, np.where(rng.random(n) < 0.72, 52, rng.integers(1, 52, n)), 0).astype(float)
    occ_group = np.where(employed, 1 + rng.choice(14, n), 0)  # 0: not in universe; 1, 2: managerial, professional
    prof = np.isin(occ_group, (1, 2)) & (rng.random(n) < 0.3 + 0.06 * (school_years - 12))
    occ_group = np.where(prof, rng.choice([1, 2], n), np.where(np.isin(occ_group, (1, 2)) & ~prof,
                                                                 3 + rng.choice(12, n), occ_group))
    gains = np.where(~child & (rng.random(n) < 0.03 + 0.02 * prof), rng.lognormal(8.3, 1.0, n), 0.0)
    losses = np.where(~child & (rng.random(n) < 0.02), rng.lognormal(7.4, 0.3, n), 0.0)
    divid = np.where(~child & (rng.random(n) < 0.08 + 0.1 * prof + 0.004 * (age - 40)), rng.lognormal(6.0, 1.5, n), 0.0)
    z = (-6.0 + 0.42 * (school_years - 12) + 2.4 * weeks / 52 + 1.1 * male + 1.3 * prof + 0.7 * ~never
         - 0.0025 * (age - 50) ** 2 + 2.0 * (gains > 3000) + 1.0 * (divid > 2000) + rng.normal(0, 0.6, n))
    income = ~child & (rng.random(n) < _sigmoid(z))

    cols: dict[str, np.ndarray] = {}

    def pick(k: int, p: np.ndarray | list[float] | None = None, size: int = n) -> np.ndarray:
        return rng.choice(k, size, p=None if p is None else np.asarray(p) / np.sum(p))

    def noise_col(name: str, common: int, p_common: float, active: np.ndarray) -> np.ndarray:
        k = SPARSE_COLS[name]
        v = np.where(rng.random(n) < p_common, common, pick(k))
        return np.where(active, v, 0)

    worker = np.where(employed, 1 + pick(8, [75, 7, 7, 4, 3, 3, 0.5, 0.5]), np.where(child, 0, pick(2, [9, 1]) * 7))
    cols["class of worker"] = worker
    cols["major occupation code"] = occ_group
    occ_detail = np.where(occ_group > 0, 1 + (occ_group - 1) * 3 + pick(3), 0)
    cols["occupation code"] = np.minimum(occ_detail, 46)
    ind_major = np.where(employed, 1 + pick(23), 0)
    cols["major industry code"] = ind_major
    cols["industry code"] = np.where(employed, np.minimum(1 + (ind_major - 1) * 2 + pick(3), 51), 0)
    edu_code = np.array([2, 11, 0, 3, 5, 1, 7, 9, 12, 14, 13, 6, 10, 15, 8])  # fixed permutation of 15 levels
    cols["education"] = np.where((edu == 7) & (rng.random(n) < 0.08), 16, edu_code[edu])  # 16: '12th no diploma'
    enrolled = (age >= 14) & (age <= 24) & (rng.random(n) < np.where(age < 19, 0.85, 0.35))
    cols["enrolled in edu inst last wk"] = np.where(enrolled, 1 + pick(2), 0)
    race = pick(5, [3, 3, 10, 1, 83])
    cols["race"] = race
    hisp = np.where(rng.random(n) < 0.9, 0, 1 + pick(9))
    cols["hispanic origin"] = hisp
    cols["sex"] = male.astype(int)
    cols["member of a labor union"] = np.where(employed & (age >= 16), pick(3, [0, 85, 15]), 0)
    unemp = ~employed & ~child & (age < 65) & (rng.random(n) < 0.1)
    cols["reason for unemployment"] = np.where(unemp, 1 + pick(5), 0)
    cols["full or part time employment stat"] = np.where(
        employed, np.where(weeks == 52, 1, 2 + pick(3)), np.where(child, 0, np.where(unemp, 5 + pick(3), 0)))
    married = ~never
    old = age >= 65
    tax = np.where(child | (~employed & ~married & (gains + divid == 0) & (rng.random(n) < 0.7)), 4,  # Nonfiler
                   np.where(married, np.where(old, 2, np.where(rng.random(n) < 0.15, 3, 1)),  # joint filers
                            np.where(rng.random(n) < 0.8, 5, 0)))  # Single / Head of household
    tax = np.where(married & (rng.random(n) < 0.05), 5, tax)  # married filing separately -> 'Single' here
    tax = np.where(~child & never & (rng.random(n) < 0.06), 1, tax)  # couples not married, filing jointly
    cols["tax filer status"] = tax
    moved = rng.random(n) < 0.15
    cols["region of previous residence"] = np.where(moved, 1 + pick(5), 0)
    cols["state of previous residence"] = np.where(moved, 1 + pick(50), 0)
    fam = np.where(child, np.where(age < 15, 1 + pick(4), 5 + pick(3)),  # child <18 never marr ...
                   np.where(married, np.where(rng.random(n) < 0.5, 10, 11 + pick(3)),  # householder / spouse
                            np.where(age < 30, np.where(rng.random(n) < 0.6, 15 + pick(5), 20 + pick(4)),
                                     24 + pick(14))))  # child 18+ never marr / other rel / nonfamily householder
    fam = np.where(married & (rng.random(n) < 0.08), 24 + pick(14), fam)  # divorced / widowed householders
    fam = np.where(~child & never & (rng.random(n) < 0.08), 10, fam)  # never-married householders
    cols["detailed household and family stat"] = fam
    cols["detailed household summary in household"] = np.select(
        [child, (fam >= 10) & (fam < 15), fam >= 24], [0, np.where(fam == 10, 4, 5), 3 + pick(2)], 6 + pick(2))
    for name in ("migration code-change in msa", "migration code-change in reg", "migration code-move within reg"):
        cols[name] = noise_col(name, 1, 0.8, rng.random(n) < 0.5)
    cols["live in this house 1 year ago"] = np.where(moved, 2, np.where(rng.random(n) < 0.5, 0, 1))
    cols["migration prev res in sunbelt"] = np.where(moved, 1 + pick(3), 0)
    cols["family members under 18"] = np.where(child, 1 + pick(4, [60, 25, 10, 5]), 0)
    native = rng.random(n) < np.where(hisp > 0, 0.6, 0.92)
    birth_self = np.where(native, 40, pick(43))
    for name in ("country of birth father", "country of birth mother"):
        cols[name] = np.where(native & (rng.random(n) < 0.9), 40, np.where(native, pick(43), birth_self))
    cols["country of birth self"] = birth_self
    cols["citizenship"] = np.where(native, 4, pick(4, [10, 2, 5, 83]))
    cols["own business or self employed"] = np.where(employed, pick(3, [88, 8, 4]), 0)
    cols["fill inc questionnaire for veterans admin"] = np.where(~child & (rng.random(n) < 0.01), 1 + pick(2), 0)
    cols["veterans benefits"] = np.where(child, 0, np.where(male & (age > 40) & (rng.random(n) < 0.25), 1, 2))
    cols["year"] = pick(2)

    dense = np.stack([
        age / 90.0,
        np.where(employed & (rng.random(n) < 0.25), rng.uniform(400, 2000, n), 0.0) / 9999.0,
        np.minimum(gains, 99999) / 99999.0,
        losses / 4608.0,
        np.minimum(divid, 99999) / 99999.0,
        np.where(employed, 1 + pick(6), np.where(child, 0, pick(2, [8, 2]))) / 6.0,
        weeks / 52.0,
    ], axis=1).round(4)
    sparse = np.stack([cols[name] for name in SPARSE_COLS], axis=1)
    assert all(sparse[:, j].max() < k for j, k in enumerate(SPARSE_COLS.values()))
    x = np.concatenate([sparse.astype("float32"), dense.astype("float32")], axis=1)
    y = np.stack([income, never], axis=1).astype("int64")
    return x, y


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    return census_income(N_ROWS, seed=0)


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled training batches of 1024, as DataGenerator's DataLoader(shuffle=True) gives them."""
    x, y = _data()
    perm = np.random.default_rng(seed).permutation(len(x))
    x, y = x[perm], y[perm]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, N_ROWS, batch_size)]


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)

    class RandomNormal(object):  # torch_rechub/basic/initializers.py
        def __init__(self, mean=0.0, std=1.0):
            self.mean = mean
            self.std = std

        def __call__(self, vocab_size, embed_dim, padding_idx=None):
            embed = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
            torch.nn.init.normal_(embed.weight, self.mean, self.std)
            return embed

    class SparseFeature(object):  # torch_rechub/basic/features.py
        def __init__(self, name, vocab_size, embed_dim=None, initializer=RandomNormal(0, 0.0001)):
            self.name = name
            self.vocab_size = vocab_size
            self.embed_dim = embed_dim
            self.initializer = initializer

        def get_embedding_layer(self):
            if not hasattr(self, 'embed'):
                self.embed = self.initializer(self.vocab_size, self.embed_dim)
            return self.embed

    class DenseFeature(object):
        def __init__(self, name, embed_dim=1):
            self.name = name
            self.embed_dim = embed_dim

    def activation_layer(act_name):  # torch_rechub/basic/activation.py (the two used here)
        if act_name.lower() == 'relu':
            return nn.ReLU(inplace=True)
        if act_name.lower() == "softmax":
            return nn.Softmax(dim=1)
        raise NotImplementedError

    class PredictionLayer(nn.Module):  # torch_rechub/basic/layers.py
        def __init__(self, task_type='classification'):
            super(PredictionLayer, self).__init__()
            self.task_type = task_type

        def forward(self, x):
            if self.task_type == "classification":
                x = torch.sigmoid(x)
            return x

    class EmbeddingLayer(nn.Module):  # sparse + dense branch of torch_rechub's EmbeddingLayer
        def __init__(self, features):
            super().__init__()
            self.features = features
            self.embed_dict = nn.ModuleDict()
            self.n_dense = 0
            for fea in features:
                if fea.name in self.embed_dict:
                    continue
                if isinstance(fea, SparseFeature):
                    self.embed_dict[fea.name] = fea.get_embedding_layer()
                elif isinstance(fea, DenseFeature):
                    self.n_dense += 1

        def forward(self, x, features, squeeze_dim=False):
            sparse_emb, dense_values = [], []
            for fea in features:
                if isinstance(fea, SparseFeature):
                    sparse_emb.append(self.embed_dict[fea.name](x[fea.name].long()).unsqueeze(1))
                else:
                    dense_values.append(x[fea.name].float() if x[fea.name].float().dim() > 1
                                        else x[fea.name].float().unsqueeze(1))
            dense_values = torch.cat(dense_values, dim=1)
            sparse_emb = torch.cat(sparse_emb, dim=1)  # [batch_size, num_features, embed_dim]
            return torch.cat((sparse_emb.flatten(start_dim=1), dense_values), dim=1)

    class MLP(nn.Module):  # torch_rechub/basic/layers.py
        def __init__(self, input_dim, output_layer=True, dims=None, dropout=0, activation="relu"):
            super().__init__()
            if dims is None:
                dims = []
            layers = list()
            for i_dim in dims:
                layers.append(nn.Linear(input_dim, i_dim))
                layers.append(nn.BatchNorm1d(i_dim))
                layers.append(activation_layer(activation))
                layers.append(nn.Dropout(p=dropout))
                input_dim = i_dim
            if output_layer:
                layers.append(nn.Linear(input_dim, 1))
            self.mlp = nn.Sequential(*layers)

        def forward(self, x):
            return self.mlp(x)

    class CGC(nn.Module):  # torch_rechub/models/multi_task/ple.py
        def __init__(self, cur_level, n_level, n_task, n_expert_specific, n_expert_shared, input_dims, expert_params):
            super().__init__()
            self.cur_level = cur_level
            self.n_level = n_level
            self.n_task = n_task
            self.n_expert_specific = n_expert_specific
            self.n_expert_shared = n_expert_shared
            self.n_expert_all = n_expert_specific * self.n_task + n_expert_shared
            input_dims = input_dims if cur_level == 1 else expert_params["dims"][-1]
            self.experts_specific = nn.ModuleList(MLP(input_dims, output_layer=False, **expert_params)
                                                  for _ in range(self.n_task * self.n_expert_specific))
            self.experts_shared = nn.ModuleList(MLP(input_dims, output_layer=False, **expert_params)
                                                for _ in range(self.n_expert_shared))
            self.gates_specific = nn.ModuleList(
                MLP(input_dims, **{"dims": [self.n_expert_specific + self.n_expert_shared], "activation": "softmax",
                                   "output_layer": False}) for _ in range(self.n_task))
            if cur_level < n_level:
                self.gate_shared = MLP(input_dims, **{"dims": [self.n_expert_all], "activation": "softmax",
                                                      "output_layer": False})

        def forward(self, x_list):
            expert_specific_outs = []
            for i in range(self.n_task):
                experts = self.experts_specific[i * self.n_expert_specific:(i + 1) * self.n_expert_specific]
                expert_specific_outs.extend([expert(x_list[i]).unsqueeze(1) for expert in experts])
            expert_shared_outs = [expert(x_list[-1]).unsqueeze(1) for expert in self.experts_shared]
            gate_specific_outs = [gate(x_list[i]).unsqueeze(-1) for i, gate in enumerate(self.gates_specific)]
            cgc_outs = []
            for i, gate_out in enumerate(gate_specific_outs):
                cur_expert_list = expert_specific_outs[i * self.n_expert_specific:(i + 1) * self.n_expert_specific] \
                    + expert_shared_outs
                expert_concat = torch.cat(cur_expert_list, dim=1)
                expert_weight = torch.mul(gate_out, expert_concat)
                expert_pooling = torch.sum(expert_weight, dim=1)
                cgc_outs.append(expert_pooling)
            if self.cur_level < self.n_level:
                gate_shared_out = self.gate_shared(x_list[-1]).unsqueeze(-1)
                expert_concat = torch.cat(expert_specific_outs + expert_shared_outs, dim=1)
                expert_weight = torch.mul(gate_shared_out, expert_concat)
                expert_pooling = torch.sum(expert_weight, dim=1)
                cgc_outs.append(expert_pooling)
            return cgc_outs

    class PLE(nn.Module):  # torch_rechub/models/multi_task/ple.py
        def __init__(self, features, task_types, n_level, n_expert_specific, n_expert_shared, expert_params,
                     tower_params_list):
            super().__init__()
            self.features = features
            self.n_task = len(task_types)
            self.task_types = task_types
            self.n_level = n_level
            self.input_dims = sum([fea.embed_dim for fea in features])
            self.embedding = EmbeddingLayer(features)
            self.cgc_layers = nn.ModuleList(CGC(i + 1, n_level, self.n_task, n_expert_specific, n_expert_shared,
                                                self.input_dims, expert_params) for i in range(n_level))
            if fixed:  # 4fda8e9
                self.towers = nn.ModuleList(MLP(expert_params["dims"][-1], **tower_params_list[i])
                                            for i in range(self.n_task))
            else:  # 4fda8e9^
                self.towers = nn.ModuleList(MLP(expert_params["dims"][-1], output_layer=False, **tower_params_list[i])
                                            for i in range(self.n_task))
            self.predict_layers = nn.ModuleList(PredictionLayer(task_type) for task_type in task_types)

        def forward(self, x):
            if isinstance(x, torch.Tensor):  # port: the packed (B, 39) row back into the program's feature dict
                x = {fea.name: x[:, j] for j, fea in enumerate(self.features)}
            embed_x = self.embedding(x, self.features, squeeze_dim=True)
            ple_inputs = [embed_x] * (self.n_task + 1)
            ple_outs = []
            for i in range(self.n_level):
                ple_outs = self.cgc_layers[i](ple_inputs)
                ple_inputs = ple_outs
            ys = []
            for ple_out, tower, predict_layer in zip(ple_outs, self.towers, self.predict_layers):
                tower_out = tower(ple_out)  # [batch_size, 1]
                y = predict_layer(tower_out)  # logit -> proba
                ys.append(y)
            return torch.cat(ys, dim=1)

    vocab = SPARSE_COLS  # data[col].max() + 1 over the three csv files
    features = [SparseFeature(col, vocab[col], embed_dim=EMBED_DIM) for col in SPARSE_COLS] \
        + [DenseFeature(col) for col in DENSE_COLS]
    model = PLE(features, task_types, n_level=n_level, n_expert_specific=n_expert_specific,
                n_expert_shared=n_expert_shared, expert_params=expert_params, tower_params_list=tower_params_list)
    model.train()

    n_task = len(task_types)
    loss_fns = [torch.nn.BCELoss() for _ in task_types]  # get_loss_func("classification")

    def loss_fn(y_preds, ys):
        """MTLTrainer.train_one_epoch without adaptive weights: the mean of the per-task BCE losses on the
        prediction columns (the RegularizationLoss with its default zero coefficients adds 0.0)."""
        loss_list = [loss_fns[i](y_preds[:, i], ys[:, i].float()) for i in range(n_task)]
        return sum(loss_list) / n_task

    def train_step(model, optimizer, loss_fn, x, y):
        """One iteration of MTLTrainer.train_one_epoch (adaptive_method None): forward, per-task BCE on
        y_preds[:, i], mean, + reg_loss (0.0), model.zero_grad(), backward, step."""
        model.train()
        y_preds = model(x)
        loss_list = [loss_fns[i](y_preds[:, i], y[:, i].float()) for i in range(n_task)]
        loss = sum(loss_list) / n_task
        loss = loss + 0.0  # reg_loss_fn(model): all coefficients 0
        model.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches()]
    xs, _ = _data()
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xs[:512]),
            "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(seed)

    def torch_linear(units: int, fan_in: int) -> Any:  # nn.Linear's default init
        return layers.Dense(units,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5))

    def batch_norm() -> Any:  # nn.BatchNorm1d: momentum 0.1, eps 1e-5
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    class MLP(keras.layers.Layer):
        """torch_rechub MLP: (Linear, BatchNorm1d, activation, Dropout(0)) per entry of dims, then Linear(*, 1)
        when output_layer."""

        def __init__(self, input_dim: int, output_layer: bool = True, dims: list[int] | None = None,
                     activation: str = "relu", **kw: Any) -> None:
            super().__init__(**kw)
            self.seq = []
            for i_dim in dims or []:
                self.seq += [torch_linear(i_dim, input_dim), batch_norm(),
                             layers.ReLU() if activation == "relu" else layers.Softmax(axis=1)]
                input_dim = i_dim
            if output_layer:
                self.seq.append(torch_linear(1, input_dim))

        def call(self, x: Any, training: bool | None = None) -> Any:
            for layer in self.seq:
                x = layer(x, training=training) if isinstance(layer, layers.BatchNormalization) else layer(x)
            return x

    class PLE(keras.Model):
        """PLE with n_level = 1 (one CGC layer, no shared gate), the packed (B, 39) row as input."""

        def __init__(self) -> None:
            super().__init__()
            self.n_task = len(task_types)
            self.embeds = [layers.Embedding(k, EMBED_DIM, embeddings_initializer=keras.initializers.RandomNormal(
                0.0, EMBED_STD)) for k in SPARSE_COLS.values()]
            input_dims = N_SPARSE * EMBED_DIM + len(DENSE_COLS)
            n_gate = n_expert_specific + n_expert_shared
            self.experts_specific = [MLP(input_dims, output_layer=False, **expert_params)
                                     for _ in range(self.n_task * n_expert_specific)]
            self.experts_shared = [MLP(input_dims, output_layer=False, **expert_params) for _ in range(n_expert_shared)]
            self.gates_specific = [MLP(input_dims, dims=[n_gate], activation="softmax", output_layer=False)
                                   for _ in range(self.n_task)]
            if fixed:  # 4fda8e9
                self.towers = [MLP(expert_params["dims"][-1], **tower_params_list[i]) for i in range(self.n_task)]
            else:  # 4fda8e9^
                self.towers = [MLP(expert_params["dims"][-1], output_layer=False, **tower_params_list[i])
                               for i in range(self.n_task)]

        def call(self, x: Any, training: bool | None = None) -> Any:
            codes = ops.cast(x[:, :N_SPARSE], "int32")
            emb = [self.embeds[j](codes[:, j]) for j in range(N_SPARSE)]
            embed_x = ops.concatenate(emb + [x[:, N_SPARSE:]], axis=1)
            specific = [ops.expand_dims(e(embed_x, training=training), 1) for e in self.experts_specific]
            shared = [ops.expand_dims(e(embed_x, training=training), 1) for e in self.experts_shared]
            ys = []
            for i in range(self.n_task):
                gate_out = ops.expand_dims(self.gates_specific[i](embed_x, training=training), -1)
                experts = ops.concatenate(specific[i * n_expert_specific:(i + 1) * n_expert_specific] + shared, axis=1)
                ple_out = ops.sum(gate_out * experts, axis=1)
                tower_out = self.towers[i](ple_out, training=training)
                ys.append(ops.sigmoid(tower_out))  # PredictionLayer("classification")
            return ops.concatenate(ys, axis=1)

    def mtl_loss(y_true: Any, y_pred: Any) -> Any:
        """MTLTrainer: mean over the tasks of BCE(y_pred[:, i], y[:, i])."""
        y_true = ops.cast(y_true, "float32")
        losses = [ops.mean(keras.losses.binary_crossentropy(y_true[:, i:i + 1], y_pred[:, i:i + 1]))
                  for i in range(len(task_types))]
        return sum(losses) / len(task_types)

    model = PLE()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8,
                                                  weight_decay=weight_decay), loss=mtl_loss)
    xs, _ = _data()
    model(xs[:2])
    kb = [(x, y.astype("float32")) for x, y in _batches()]
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xs[:512]}


buggy, fixed = versions(_torch, _keras)
