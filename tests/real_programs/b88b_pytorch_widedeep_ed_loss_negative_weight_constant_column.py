"""pytorch-widedeep (jrzaurin/pytorch-widedeep): encoder-decoder self-supervised pre-training of a tabular model
(``EncoderDecoderTrainer``, TabNet-style: reconstruct the column embeddings from the encoder's output). The example is
``examples/notebooks/15_Self_Supervised_Pretraning_pt1.ipynb``: the adult census frame through ``TabPreprocessor(
cat_embed_cols=[workclass, education, marital_status, occupation, relationship, race, gender, capital_gain,
capital_loss, native_country], continuous_cols=[age, hours_per_week])``, ``TabMlp`` as encoder,
``EncoderDecoderTrainer(encoder=tab_mlp)`` (mirror-image ``TabMlpDecoder``, ``masked_prob=0.2``, default
``AdamW``), ``pretrain(X_tab, n_epochs=5, batch_size=256)``. The trainer step is ``x_embed, x_embed_rec, mask =
ed_model(X)``; ``loss = EncoderDecoderLoss()(x_embed, x_embed_rec, mask)``; backward; step.

The fault: ``EncoderDecoderLoss`` divides each feature's squared reconstruction error by that feature's batch variance,
and where the variance is exactly 0 (a feature that is constant in the batch) it divides by the feature's batch mean
instead: ``x_true_stds[x_true_stds == 0] = x_true_means[x_true_stds == 0]``. A constant feature with a negative value
then gets a NEGATIVE weight, so its reconstruction error is subtracted from the loss. The loss is no longer bounded
below: the optimiser can lower it without end by pushing the decoder's output for that feature away from its target,
which it does, and the whole run is spent on that. In this trainer the target is the embedding of each column, so any
categorical column that holds a single value within a batch (a constant column of the frame, or a rare-category column
with small batches) yields embedding coordinates with zero variance and, for about half of them, negative means.
Reported and fixed in PR #239 ("Self_training_fix", merged 4187bbd): "Issue 1: Negative Loss Values in
EncoderDecoderLoss. When calculating the loss, if x_true_stds is zero, it's replaced with the corresponding value from
x_true_means. If these mean values are negative, they cause the loss to become negative, which is problematic for
optimization." Fix c34ff8ddcce918f3d48a1cfe415e1d6818185c7b: ``... = torch.abs(x_true_means[x_true_stds == 0])``.
(The same PR's second commit 882db8b, the swapped return order of the TabNet branch, does not touch a TabMlp encoder
and is not part of this port.)

Fault label: other:loss_weight_negative_for_constant_feature (a sign error in the loss's per-feature normaliser makes
the reconstruction loss unbounded below whenever a feature is constant in the batch with a negative value).

Source: github.com/jrzaurin/pytorch-widedeep at c34ff8d^ (= the branch of PR #239 before its first commit):
``pytorch_widedeep/losses.py`` EncoderDecoderLoss, ``models/tabular/self_supervised/encoder_decoder_model.py``
(``_forward``), ``_random_obfuscator.py``, ``self_supervised_training/encoder_decoder_trainer.py`` (``_train_step``)
and ``_base_encoder_decoder_trainer.py`` (default optimiser ``AdamW(ed_model.parameters())``), ``models/tabular/mlp/
tab_mlp.py`` + ``_layers.py`` (TabMlp, TabMlpDecoder, MLP/dense_layer), ``models/tabular/embeddings_layers.py``
(DiffSizeCatEmbeddings), ``preprocessing/tab_preprocessor.py`` (embedding_rule 'fastai_new').

Kept verbatim: ``EncoderDecoderLoss.forward`` (only the one line differs between buggy and fixed),
``EncoderDecoderModel._forward`` (including its unused ``masked_x``: for non-TabNet encoders the decoder reads the
unmasked input and the mask only selects which entries count in the loss), ``RandomObfuscator``, the trainer step,
TabMlp's defaults (``nn.Embedding(n + 1, dim, padding_idx=0)``, no embedding bias or dropout, raw standardised
continuous columns concatenated, MLP [in, 200, 100] relu dropout 0.1, Linear -> ReLU -> Dropout in every layer, the
last included), the decoder ``MLP([100, 200, embed_dim])`` (so its output is ReLU'd as in the library), AdamW
defaults (lr 1e-3, weight decay 0.01), batch 256, masked_prob 0.2. Not shrunk.
Re-written rather than imported (pytorch-widedeep is not installed): the library classes above, reduced to the code
paths this configuration runs (no continuous embeddings, no batchnorm, no TabNet branch, no callbacks / DataLoader;
the batches are cycled in order).
Data stand-in (no ``load_adult`` download): a seeded adult-like frame of 10,496 rows with the notebook's 12 columns,
label-encoded from 1 with the continuous columns standardised, as TabPreprocessor outputs them: frequencies and
dependencies roughly like adult's (education -> occupation -> workclass, age -> marital status -> relationship,
gender -> relationship and hours, race 85 % White, capital_gain / capital_loss 0 for ~90 % / ~95 % of the rows and
otherwise one of up to 118 / 91 codes tied to education / age). One deliberate change: the frame holds US natives
only, so ``native_country`` is a single category (embedding dim round(1.6 * 1 ** 0.56) = 2). On the real adult frame
with batch 256 a column is practically never constant in a batch (native_country is ~91 % 'United-States':
0.91 ** 256 ~ 3e-11), so the faulty line would not fire there; a constant column is the condition the PR
describes, and with SEED = 0 both coordinates of that column's embedding start negative (-1.30, -1.40), so both
get negative weights. ``y`` in the batches is a synthetic income label; the pre-training loss does not
read it (``loss_fn`` takes the reconstruction and ignores its targets). Lead's edit: the checks take one output
tensor (a tuple needs ``output=``, and the loss then gets that tensor alone), so a thin wrapper returns
``x_embed_rec`` and keeps ``x_embed`` and ``mask`` on itself for ``loss_fn``; the program's modules and loss are
unchanged (the port had handed the checks the 3-tuple). ``batches``: 40
batches of 256; ``inputs``: 256 held-out rows.

Measured (/tmp/s54/p/h88_b/measure.py and long.py: the module's builds, ``train_step`` over the 40 batches in order,
OMP_NUM_THREADS=1, SEED = 0):
  training loss at steps 1 / 10 / 40 / 80 / 120 / 160 / 200 (5 epochs, the notebook's length):
    buggy 7.99 / 5.29 / 3.26 / -1227 / -1.0e7 / -2.2e9 / -1.0e11
    fixed 8.05 / 5.36 / 3.46 / 3.31 / 3.02 / 2.81 / 2.48
  The buggy loss crosses zero between steps 60 and 70 and then falls geometrically; over 15 epochs (600 steps) it
  reaches -1.9e20 (still finite, no NaN / inf within 600 steps), while the fixed loss falls to 1.63.
  Held-out reconstruction after 200 steps (eval mode, all entries): mean squared error over the 30 non-constant
  coordinates buggy 1.49 vs fixed 0.64; over the 2 constant ones buggy 3.2e12 vs fixed 1.37 (the ReLU output cannot
  go negative, so the fixed decoder outputs about 0 there); the fixed loss formula on these outputs buggy 8.3e10 vs
  fixed 3.17. So the fault both ruins the constant feature and stalls the reconstruction of all the others.
  Time per step (batch 256, one thread): ~13 ms for both versions. Build: ~5 s the first time (torch import, data),
  then well under 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:loss_weight_negative_for_constant_feature"
SOURCE = ("github:jrzaurin/pytorch-widedeep PR #239 'Self_training_fix' (pytorch_widedeep/losses.py "
          "EncoderDecoderLoss @c34ff8ddcce918f3d48a1cfe415e1d6818185c7b^, models/tabular/self_supervised/"
          "encoder_decoder_model.py, _random_obfuscator.py, self_supervised_training/encoder_decoder_trainer.py, "
          "models/tabular/mlp/tab_mlp.py, examples/notebooks/15_Self_Supervised_Pretraning_pt1.ipynb; fix "
          "c34ff8ddcce918f3d48a1cfe415e1d6818185c7b: torch.abs(x_true_means[x_true_stds == 0]), merge 4187bbd)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

# notebook 15 pt1: TabMlp encoder, EncoderDecoderTrainer(encoder=tab_mlp), pretrain(X_tab, n_epochs=5, batch_size=256)
CAT_EMBED_COLS = ["workclass", "education", "marital_status", "occupation", "relationship", "race", "gender",
                  "capital_gain", "capital_loss", "native_country"]
CONTINUOUS_COLS = ["age", "hours_per_week"]
BATCH_SIZE = 256
MASKED_PROB = 0.2  # EncoderDecoderTrainer default
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _embed_sz_rule(n_cat: int) -> int:
    """TabPreprocessor's default embedding_rule='fastai_new'."""
    return int(min(600, round(1.6 * n_cat ** 0.56)))


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]]]:
    """An adult-census-like frame after TabPreprocessor(cat_embed_cols, continuous_cols).fit_transform: categorical
    columns label-encoded from 1 (0 is padding), age / hours_per_week standardised; the frame holds US natives only,
    so native_country has one value. Returns X_tab (n, 12) float32, the income label (n,) and cat_embed_input."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    age = np.clip(r.normal(38.6, 13.6, n), 17, 90).round()
    gender = (r.random(n) < 0.33).astype(int)  # 0 male, 1 female
    education = np.clip((r.normal(9.5, 2.6, n) + 0.03 * (age - 38)).round(), 0, 15).astype(int)
    occupation = np.clip((education * 0.8 + r.normal(0, 2.5, n)).round(), 0, 14).astype(int)
    workclass = np.where(r.random(n) < 0.7, 0, np.clip(occupation // 2 + r.integers(-1, 2, n), 1, 8)).astype(int)
    marital = np.where(age < 25, r.choice([0, 0, 0, 1], n), r.choice([1, 1, 1, 2, 3, 4, 5, 6], n)).astype(int)
    relationship = np.where(marital == 1, np.where(gender == 0, 0, 1),
                            np.where(age < 25, 2, r.choice([3, 4, 5], n))).astype(int)
    race = r.choice(5, n, p=[0.854, 0.096, 0.031, 0.01, 0.009])
    gain_p = np.clip(0.02 + 0.012 * education, 0, 1)
    capital_gain = np.where(r.random(n) < gain_p, 1 + np.clip(education * 6 + r.integers(0, 30, n), 0, 117), 0)
    capital_loss = np.where(r.random(n) < 0.047, 1 + np.clip(age.astype(int) + r.integers(0, 20, n) - 17, 0, 90), 0)
    native_country = np.zeros(n, int)  # 'United-States' only
    hours = np.clip(r.normal(40, 11, n) + 0.6 * (occupation - 7) - 4 * gender, 1, 99).round()
    cats = [workclass, education, marital, occupation, relationship, race, gender, capital_gain, capital_loss,
            native_country]
    cols, cat_embed_input = [], []
    for name, c in zip(CAT_EMBED_COLS, cats):
        uniq = np.unique(c)
        cols.append(np.searchsorted(uniq, c) + 1)  # LabelEncoder: values from 1
        cat_embed_input.append((name, len(uniq), _embed_sz_rule(len(uniq))))
    for c in (age, hours):
        cols.append((c - c.mean()) / c.std())  # StandardScaler
    x = np.stack(cols, 1).astype("float32")
    logit = 0.45 * (education - 9) + 0.04 * (age - 38) + 0.04 * (hours - 40) + 1.2 * (marital == 1) - 1.3
    y = (r.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return x, y, cat_embed_input


# ----------------------------------------------------------------------------------------------------------- model

def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    def dense_layer(inp: int, out: int, p: float) -> nn.Module:  # mlp/_layers.py, relu, no batchnorm, linear first
        layers = []
        if p != 0:
            layers.append(nn.Dropout(p))
        lin = [nn.Linear(inp, out, bias=True), nn.ReLU(inplace=True)]
        return nn.Sequential(*(lin + layers))

    class MLP(nn.Module):
        def __init__(self, d_hidden, dropout=0.1):
            super().__init__()
            self.mlp = nn.Sequential()
            for i in range(1, len(d_hidden)):
                self.mlp.add_module("dense_layer_{}".format(i - 1), dense_layer(d_hidden[i - 1], d_hidden[i], dropout))

        def forward(self, X):
            return self.mlp(X)

    class TabMlp(nn.Module):
        """TabMlp defaults: DiffSizeCatEmbeddings (nn.Embedding(val + 1, dim, padding_idx=0), no bias, dropout 0),
        raw continuous columns (no norm layer, not embedded), MLP [in, 200, 100], relu, dropout 0.1."""

        def __init__(self, column_idx, cat_embed_input, continuous_cols, mlp_hidden_dims=(200, 100)):
            super().__init__()
            self.column_idx, self.cat_embed_input = column_idx, cat_embed_input
            self.embed_layers = nn.ModuleDict({"emb_layer_" + col: nn.Embedding(val + 1, dim, padding_idx=0)
                                               for col, val, dim in cat_embed_input})
            self.embedding_dropout = nn.Dropout(0.0)
            self.cat_out_dim = int(np.sum([e[2] for e in cat_embed_input]))
            self.cont_idx = [column_idx[col] for col in continuous_cols]
            self.cont_norm = nn.Identity()
            self.cont_out_dim = len(continuous_cols)
            self.mlp_hidden_dims = list(mlp_hidden_dims)
            self.encoder = MLP([self.cat_out_dim + self.cont_out_dim] + self.mlp_hidden_dims)

        def _get_embeddings(self, X):
            embed = [self.embed_layers["emb_layer_" + col](X[:, self.column_idx[col]].long())
                     for col, _, dim in self.cat_embed_input]
            x_cat = self.embedding_dropout(torch.cat(embed, 1))
            x_cont = self.cont_norm((X[:, self.cont_idx].float()))
            return torch.cat([x_cat, x_cont], 1)

        def forward(self, X):
            return self.encoder(self._get_embeddings(X))

    class TabMlpDecoder(nn.Module):
        def __init__(self, embed_dim, mlp_hidden_dims):
            super().__init__()
            self.decoder = MLP(list(mlp_hidden_dims) + [embed_dim])

        def forward(self, X):
            return self.decoder(X)

    class RandomObfuscator(nn.Module):
        def __init__(self, p: float):
            super(RandomObfuscator, self).__init__()
            self.p = p

        def forward(self, x):
            mask = torch.bernoulli(self.p * torch.ones(x.shape)).to(x.device)
            masked_input = torch.mul(1 - mask, x)
            return masked_input, mask

    class EncoderDecoderModel(nn.Module):
        def __init__(self, encoder, decoder, masked_prob):
            super(EncoderDecoderModel, self).__init__()
            self.encoder = encoder
            self.decoder = decoder
            self.masker = RandomObfuscator(p=masked_prob)

        def forward(self, X):  # _forward (the encoder is not a TabNet)
            x_embed = self.encoder._get_embeddings(X)

            if self.training:
                masked_x, mask = self.masker(x_embed)
                x_embed_rec = self.decoder(self.encoder(X))
            else:
                x_embed_rec = self.decoder(self.encoder(X))
                mask = torch.ones(x_embed.shape).to(X.device)

            return x_embed, x_embed_rec, mask

    class EncoderDecoderLoss(nn.Module):
        def __init__(self, eps: float = 1e-9):
            super(EncoderDecoderLoss, self).__init__()
            self.eps = eps

        def forward(self, x_true, x_pred, mask):
            errors = x_pred - x_true

            reconstruction_errors = torch.mul(errors, mask) ** 2

            x_true_means = torch.mean(x_true, dim=0)
            x_true_means[x_true_means == 0] = 1

            x_true_stds = torch.std(x_true, dim=0) ** 2
            if fixed:  # c34ff8d
                x_true_stds[x_true_stds == 0] = torch.abs(x_true_means[x_true_stds == 0])
            else:
                x_true_stds[x_true_stds == 0] = x_true_means[x_true_stds == 0]

            features_loss = torch.matmul(reconstruction_errors, 1 / x_true_stds)
            nb_reconstructed_variables = torch.sum(mask, dim=1)
            features_loss_norm = features_loss / (nb_reconstructed_variables + self.eps)

            loss = torch.mean(features_loss_norm)

            return loss

    x, y, cat_embed_input = _data()
    column_idx = {c: i for i, c in enumerate(CAT_EMBED_COLS + CONTINUOUS_COLS)}
    torch.manual_seed(SEED)
    tab_mlp = TabMlp(column_idx=column_idx, cat_embed_input=cat_embed_input, continuous_cols=CONTINUOUS_COLS)
    # EncoderDecoderModel._build_tabmlp_decoder: the mirror image of the encoder
    decoder = TabMlpDecoder(embed_dim=tab_mlp.cat_out_dim + tab_mlp.cont_out_dim,
                            mlp_hidden_dims=tab_mlp.mlp_hidden_dims[::-1])
    ed_model = EncoderDecoderModel(tab_mlp, decoder, MASKED_PROB)
    loss = EncoderDecoderLoss()
    optimizer = torch.optim.AdamW(ed_model.parameters())  # the trainer's default optimizer

    class Reconstruction(nn.Module):  # lead's edit: one output tensor for the checks, the rest kept on the model
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, X):
            self.x_embed, x_embed_rec, self.mask = self.net(X)
            return x_embed_rec

    model = Reconstruction(ed_model)

    def loss_fn(x_embed_rec, targets):  # the trainer's loss: self.loss_fn(x_embed, x_embed_rec, mask); no targets
        return loss(model.x_embed, x_embed_rec, model.mask)

    def train_step(model, optimizer, loss_fn, X_tab, target):  # EncoderDecoderTrainer._train_step
        model.train()
        optimizer.zero_grad()
        x_embed_rec = model(X_tab)
        loss = loss_fn(x_embed_rec, target)
        loss.backward()
        optimizer.step()
        return loss

    n_tr = N_BATCHES * BATCH_SIZE
    xt, yt = torch.tensor(x[:n_tr]), torch.tensor(y[:n_tr])
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(x[n_tr:]),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
