"""abhimishra91/transformers-tutorials, ``transformers_multi_label_classification.ipynb`` ("Fine Tuning
Transformer for MultiLabel Text Classification"): BERT fine-tuned on the Jigsaw toxic-comment data
(``train.csv``: ``comment_text`` and six 0/1 columns ``toxic``, ``severe_toxic``, ``obscene``, ``threat``,
``insult``, ``identity_hate``), ``df['list'] = df[df.columns[2:]].values.tolist()``, ``BertTokenizer``
(``encode_plus``, ``max_length=MAX_LEN=200``, padded, ``token_type_ids``), ``BERTClass`` = ``BertModel`` ->
pooled output -> ``Dropout(0.3)`` -> ``Linear(768, 6)``, ``BCEWithLogitsLoss``, ``Adam(lr=1e-05)``,
``TRAIN_BATCH_SIZE = 8``, then "validation" on the held-out 20% with a 0.5 threshold on the sigmoid.
The fault is in the train/test split::

    train_size = 0.8
    train_dataset=new_df.sample(frac=train_size,random_state=200).reset_index(drop=True)
    test_dataset=new_df.drop(train_dataset.index).reset_index(drop=True)

``reset_index`` renumbers the sampled training rows 0..n_train-1 *before* their index is used to drop them, so
``new_df.drop(train_dataset.index)`` drops the first n_train rows of the frame instead of the sampled ones:
the "test" set is simply the last 20% of ``train.csv``, and about 80% of it was sampled into the training set
too. The notebook's reported scores (accuracy 0.935, F1 micro 0.81 after one epoch) are largely measured on
comments the model was trained on.

Source: github.com/abhimishra91/transformers-tutorials PR #1 ("Fix train/test split overlap issue", merged
bbb5426), fix commit bd21b3c4dca440fa8305e269e72f4551852ebc4d: "The original indices of train_dataset must be
dropped *after* we use them to exclude train examples from the test set. Otherwise the current setting
trivially excludes the *initial* `train_len` examples from test set, and among the remaining there can still
be overlap." Buggy file: ``transformers_multi_label_classification.ipynb`` at bd21b3c^. Fix:
``train_dataset=new_df.sample(frac=train_size,random_state=200)``, ``test_dataset=new_df.drop(
train_dataset.index).reset_index(drop=True)``, then ``train_dataset = train_dataset.reset_index(drop=True)``.
Fault label: split_leakage (the same comments are in the training and the test split).

Program lines kept: the ``list`` column, the buggy/fixed split lines verbatim (pandas, ``random_state=200``,
``train_size = 0.8``), ``CustomDataset``'s text handling (``" ".join(comment_text.split())``, [CLS] ... [SEP],
truncation and zero padding to ``MAX_LEN``, ``attention_mask``, all-zero ``token_type_ids`` for one
segment), ``BERTClass``'s head (pooled [CLS] -> ``Dropout(0.3)`` -> ``Linear(hidden, 6)``), ``BCEWithLogitsLoss``
on the logits, ``Adam(lr=1e-05)``, batches of 8, shuffled training loader.
Ported minimally / stand-ins: ``BertModel.from_pretrained('bert-base-uncased')`` (a 440 MB download, 110M
parameters) is replaced by a randomly initialised BERT of the published BERT-Tiny shape (Turc et al.,
``bert_uncased_L-2_H-128_A-2``: 2 post-LN encoder layers, hidden 128, 2 heads, GELU feed-forward 512, word /
position / token-type embeddings with LayerNorm(eps 1e-12), tanh pooler on [CLS], BERT's N(0, 0.02) init,
vocabulary 30,522 cut to 4,096, which holds every id the stand-in tokenizer emits), so ``Linear(768, 6)`` becomes
``Linear(128, 6)``; the fault does not depend on the encoder. ``MAX_LEN`` 200 -> 128 so a step stays near 60 ms on
one CPU thread (the stand-in comments are 8-150 words, median ~40). ``BertTokenizer`` (a vocabulary download) is
replaced by a whole-word lookup into a fixed vocabulary of the stand-in corpus' words (ids from 1,996 up, [CLS]
101, [SEP] 102, [PAD] 0). The model takes the padded ``ids`` only and builds ``mask = ids != 0`` and
``token_type_ids = 0`` itself, which is exactly what ``encode_plus`` returns for one unpaired sentence, so a batch
is one tensor. 2,000 comments instead of 159,571 (split 1,600 / 400). Keras twin (Keras 3, TF backend): the same
split code (it is framework-free pandas) and the same BERT-Tiny encoder and head in Keras layers
(``MultiHeadAttention`` with the padding mask), ``BinaryCrossentropy(from_logits=True)``,
``Adam(learning_rate=1e-05)``.
Data stand-in (the Kaggle download is not available): seeded synthetic comments, 2,000 distinct texts of 8-150
words drawn from a Zipf-weighted vocabulary of 1,500 pseudo-words, about 10% of them toxic; a toxic comment
contains words of a "toxic" word group, and each of the five sub-labels (``severe_toxic`` 10%, ``obscene``
53%, ``threat`` 3%, ``insult`` 49%, ``identity_hate`` 9% of the toxic comments, the Jigsaw train.csv rates)
adds words of its own group, so the labels are learnable from the text; label columns are 0/1 ints in the
frame and float targets in the batches, as ``CustomDataset`` returns them. Rows are in random order like
``train.csv``.
``train_split`` / ``test_split`` are the token-id matrices of the two splits (what ``CustomDataset`` feeds the
model); ``batch``/``batches`` are the training split's shuffled batches of 8, ``inputs`` the test split's ids.

Measured (``_measure``: a plain loop cycling over the 200 training batches, seed 0, OMP_NUM_THREADS=1, ~60 ms
a step in torch and with Keras ``train_on_batch``): test comments whose token ids equal a training comment's:
buggy 326/400 (82%), fixed 0/400 (the buggy test split is rows 1,600-1,999 of the frame). The training split,
and so the training, is identical for both. Torch training-batch BCE 0.696 (step 1) -> 0.672 (50) -> 0.538 (200)
-> 0.347 (600) -> 0.252 (1,000) -> 0.182 (2,000); Keras 0.690 -> 0.667 -> 0.571 -> 0.357 -> 0.249 -> 0.182
(at first mostly the label priors; a constant prediction of the priors scores 0.13). The test BCE shows
the leak once the model starts fitting individual comments: torch buggy / fixed 0.533 / 0.536 at step 200,
0.332 / 0.339 at 600, 0.241 / 0.251 at 1,000, 0.176 / 0.190 at 2,000; Keras 0.561 / 0.563, 0.348 / 0.354,
0.247 / 0.257, 0.177 / 0.191 -- the buggy split reports a lower, partly memorised test loss (and the gap widens
with training), while the fixed one starts to turn away from the training loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "split_leakage"
SOURCE = ("github:abhimishra91/transformers-tutorials PR #1 (transformers_multi_label_classification.ipynb "
          "train/test split @bd21b3c^; fix bd21b3c4dca440fa8305e269e72f4551852ebc4d, merge bbb5426)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("no_split_leakage", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"}),
          ("init_loss", {})]

MAX_LEN = 128  # port: MAX_LEN = 200 (CPU cost)
TRAIN_BATCH_SIZE = 8
LEARNING_RATE = 1e-05
train_size = 0.8
N_COMMENTS = 2000  # port: 159,571 rows in train.csv
LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
VOCAB_SIZE, HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS = 4096, 128, 2, 2, 512, 512  # BERT-Tiny; vocab 30,522 there
SEED = 0


def _pseudo_words(n: int, rng: np.random.Generator) -> list[str]:
    syl = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "po", "an", "el", "is", "or", "um", "ber", "gan",
           "tor", "lin", "mar", "sen", "pra", "quo", "zel"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        w = "".join(rng.choice(syl, size=int(rng.integers(1, 4))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _jigsaw_like(n: int = N_COMMENTS, seed: int = SEED):
    """A stand-in for ``pd.read_csv('./data/train.csv')``: id, comment_text and the six label columns."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    words = _pseudo_words(1500 + 6 * 12, rng)
    common, groups = words[:1500], [words[1500 + 12 * k:1500 + 12 * (k + 1)] for k in range(6)]
    zipf = 1.0 / np.arange(1, len(common) + 1)
    zipf /= zipf.sum()
    sub_rate = [1.0, 0.10, 0.53, 0.03, 0.49, 0.09]  # given toxic (Jigsaw train.csv rates)
    texts, labels, seen = [], [], set()
    while len(texts) < n:
        length = int(np.clip(rng.lognormal(np.log(40), 0.7), 8, 150))
        toks = list(rng.choice(common, size=length, p=zipf))
        lab = [0] * 6
        if rng.random() < 0.10:
            lab = [1] + [int(rng.random() < r) for r in sub_rate[1:]]
            for k in range(6):
                if lab[k]:
                    for _ in range(int(rng.integers(1, 4))):
                        toks.insert(int(rng.integers(0, len(toks) + 1)), str(rng.choice(groups[k])))
        text = " ".join(toks)
        if text in seen:
            continue
        seen.add(text)
        # sprinkle the line breaks / double blanks CustomDataset normalises away
        texts.append(text.replace(" ", "\n", 1) if rng.random() < 0.2 else text)
        labels.append(lab)
    df = pd.DataFrame({"id": [f"{i:016x}" for i in rng.integers(0, 2 ** 62, size=n)], "comment_text": texts})
    for k, name in enumerate(LABELS):
        df[name] = [lab[k] for lab in labels]
    vocab = {w: 1996 + i for i, w in enumerate(words)}
    return df, vocab


def _encode(text: str, vocab: dict[str, int]) -> list[int]:
    """Stand-in for ``tokenizer.encode_plus(text, None, add_special_tokens=True, max_length=MAX_LEN,
    pad_to_max_length=True)['input_ids']`` (whole-word vocabulary, truncation, zero padding)."""
    text = " ".join(str(text).split())  # CustomDataset.__getitem__
    ids = [101] + [vocab.get(w, 100) for w in text.lower().split()][:MAX_LEN - 2] + [102]
    return ids + [0] * (MAX_LEN - len(ids))


def _splits(fixed: bool) -> dict[str, Any]:
    df, vocab = _jigsaw_like()
    df['list'] = df[df.columns[2:]].values.tolist()
    new_df = df[['comment_text', 'list']].copy()
    if fixed:  # bd21b3c
        train_dataset = new_df.sample(frac=train_size, random_state=200)
        test_dataset = new_df.drop(train_dataset.index).reset_index(drop=True)
        train_dataset = train_dataset.reset_index(drop=True)
    else:  # bd21b3c^
        train_dataset = new_df.sample(frac=train_size, random_state=200).reset_index(drop=True)
        test_dataset = new_df.drop(train_dataset.index).reset_index(drop=True)
    out = {}
    for part, d in (("train", train_dataset), ("test", test_dataset)):
        ids = np.array([_encode(t, vocab) for t in d.comment_text], dtype="int64")
        y = np.array(d.list.tolist(), dtype="float32")
        out[part] = (ids, y)
    return out


def _torch_model():
    import torch
    import torch.nn as nn

    class TinyBert(nn.Module):  # BertModel's shape (embeddings, post-LN encoder, tanh pooler), BERT-Tiny sizes
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(VOCAB_SIZE, HIDDEN, padding_idx=0)
            self.position_embeddings = nn.Embedding(MAX_POS, HIDDEN)
            self.token_type_embeddings = nn.Embedding(2, HIDDEN)
            self.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.dropout = nn.Dropout(0.1)
            self.encoder = nn.ModuleList([nn.TransformerEncoderLayer(
                HIDDEN, HEADS, INTERMEDIATE, dropout=0.1, activation="gelu", layer_norm_eps=1e-12,
                batch_first=True) for _ in range(LAYERS)])
            self.pooler = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, ids, attention_mask, token_type_ids):
            pos = torch.arange(ids.shape[1], device=ids.device)[None]
            h = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(token_type_ids)
            h = self.dropout(self.LayerNorm(h))
            for layer in self.encoder:
                h = layer(h, src_key_padding_mask=attention_mask == 0)
            return h, torch.tanh(self.pooler(h[:, 0]))

    class BERTClass(torch.nn.Module):  # the notebook's head
        def __init__(self):
            super(BERTClass, self).__init__()
            self.l1 = TinyBert()  # port: transformers.BertModel.from_pretrained('bert-base-uncased')
            self.l2 = torch.nn.Dropout(0.3)
            self.l3 = torch.nn.Linear(HIDDEN, 6)  # port: Linear(768, 6)

        def forward(self, ids):  # mask / token_type_ids as encode_plus returns them for one sentence
            mask = (ids != 0).long()
            token_type_ids = torch.zeros_like(ids)
            _, output_1 = self.l1(ids, attention_mask=mask, token_type_ids=token_type_ids)
            output_2 = self.l2(output_1)
            output = self.l3(output_2)
            return output

    torch.manual_seed(SEED)
    model = BERTClass()
    for m in model.modules():  # BertPreTrainedModel._init_weights
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
    return model


def _keras_model():
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    init = keras.initializers.TruncatedNormal(stddev=0.02)

    class TinyBert(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.word_embeddings = layers.Embedding(VOCAB_SIZE, HIDDEN, embeddings_initializer=init)
            self.position_embeddings = layers.Embedding(MAX_POS, HIDDEN, embeddings_initializer=init)
            self.token_type_embeddings = layers.Embedding(2, HIDDEN, embeddings_initializer=init)
            self.ln = layers.LayerNormalization(epsilon=1e-12)
            self.drop = layers.Dropout(0.1)
            self.att = [layers.MultiHeadAttention(HEADS, HIDDEN // HEADS, dropout=0.1, kernel_initializer=init)
                        for _ in range(LAYERS)]
            self.att_ln = [layers.LayerNormalization(epsilon=1e-12) for _ in range(LAYERS)]
            self.ff1 = [layers.Dense(INTERMEDIATE, activation="gelu", kernel_initializer=init) for _ in range(LAYERS)]
            self.ff2 = [layers.Dense(HIDDEN, kernel_initializer=init) for _ in range(LAYERS)]
            self.ff_ln = [layers.LayerNormalization(epsilon=1e-12) for _ in range(LAYERS)]
            self.ff_drop = [layers.Dropout(0.1) for _ in range(2 * LAYERS)]
            self.pooler = layers.Dense(HIDDEN, activation="tanh", kernel_initializer=init)

        def call(self, ids, attention_mask, token_type_ids, training=None):
            pos = ops.arange(ops.shape(ids)[1])[None]
            h = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(token_type_ids)
            h = self.drop(self.ln(h), training=training)
            att_mask = ops.cast(attention_mask[:, None, :], "bool")
            for i in range(LAYERS):
                a = self.att[i](h, h, attention_mask=att_mask, training=training)
                h = self.att_ln[i](h + self.ff_drop[2 * i](a, training=training))
                f = self.ff2[i](self.ff1[i](h))
                h = self.ff_ln[i](h + self.ff_drop[2 * i + 1](f, training=training))
            return self.pooler(h[:, 0])

    ids = keras.Input(shape=(MAX_LEN,), dtype="int32")
    mask = ops.cast(ops.not_equal(ids, 0), "int32")
    token_type_ids = ops.zeros_like(ids)
    output_1 = TinyBert()(ids, mask, token_type_ids)
    output_2 = layers.Dropout(0.3)(output_1)
    output = layers.Dense(6, kernel_initializer=init)(output_2)
    model = keras.Model(ids, output)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    s = _splits(fixed)
    x, y = s["train"]
    xt, yt = s["test"]
    order = np.random.default_rng(SEED).permutation(len(x))  # train_params shuffle=True (one epoch's order)
    xs, ys = x[order], y[order]
    if framework == "keras":
        xs, xt_k = xs.astype("int32"), xt.astype("int32")
        batches = [(xs[i:i + TRAIN_BATCH_SIZE], ys[i:i + TRAIN_BATCH_SIZE])
                   for i in range(0, len(xs), TRAIN_BATCH_SIZE)]
        return {"model": _keras_model(), "batch": batches[0], "batches": batches, "inputs": xt_k,
                "test_batch": (xt_k, yt), "train_split": x.astype("int32"), "test_split": xt_k}

    import torch

    model = _torch_model()
    tx, ty = torch.from_numpy(xs), torch.from_numpy(ys)
    batches = [(tx[i:i + TRAIN_BATCH_SIZE], ty[i:i + TRAIN_BATCH_SIZE]) for i in range(0, len(tx), TRAIN_BATCH_SIZE)]
    txt = torch.from_numpy(xt)

    def loss_fn(outputs, targets):
        return torch.nn.BCEWithLogitsLoss()(outputs, targets)

    return {"model": model, "batch": batches[0], "batches": batches, "inputs": txt,
            "test_batch": (txt, torch.from_numpy(yt)), "train_split": torch.from_numpy(x), "test_split": txt,
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(params=p, lr=LEARNING_RATE)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)


def _measure(steps: int = 1000) -> None:  # the plain loop behind the docstring's numbers
    import time

    for fw in FRAMEWORKS:
        for name, make in (("buggy", buggy), ("fixed", fixed)):
            d = make(fw)
            tr = {r.tobytes() for r in np.asarray(d["train_split"])}
            te = np.asarray(d["test_split"])
            overlap = sum(r.tobytes() in tr for r in te)
            m, (xt, yt) = d["model"], d["test_batch"]
            if fw == "torch":
                import torch
                opt, lf = d["optimizer"](m.parameters()), d["loss_fn"]
                m.train()
            t0, line = time.time(), []
            for step in range(1, steps + 1):
                xb, yb = d["batches"][(step - 1) % len(d["batches"])]
                if fw == "keras":
                    loss = float(m.train_on_batch(xb, yb))
                else:
                    opt.zero_grad()
                    out = lf(m(xb), yb)
                    out.backward()
                    opt.step()
                    loss = out.item()
                if step in (1, 50, 200, 600, 1000, 2000):
                    if fw == "keras":
                        z = np.asarray(m.predict(xt, verbose=0))
                    else:
                        m.eval()
                        with torch.no_grad():
                            z = m(xt).numpy()
                        m.train()
                    t = np.asarray(yt)
                    p = np.clip(1 / (1 + np.exp(-z)), 1e-7, 1 - 1e-7)
                    vl = float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
                    line.append(f"s{step}: train {loss:.3f} test {vl:.3f}")
            print(fw, name, f"overlap {overlap}/{len(te)}", f"{1000 * (time.time() - t0) / steps:.0f} ms/step",
                  " | ".join(line), flush=True)


if __name__ == "__main__":
    _measure()
