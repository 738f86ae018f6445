"""gabrielloye/LSTM_Sentiment-Analysis ``main.ipynb`` (the code of the FloydHub article "Long Short-Term Memory: From
Zero to Hero with PyTorch", 2019): an LSTM sentiment classifier on the Amazon reviews dataset (``__label__1`` /
``__label__2`` lines, the first 800,000 training and 200,000 test reviews). Preprocessing: lower-case, digits -> ``0``,
URLs -> ``<url>``, ``nltk.word_tokenize``; a vocabulary of the training words seen more than once, with ``_PAD`` = 0
and ``_UNK`` = 1 in front; every review mapped to indices and left-padded with 0 to 200 tokens. Model ``SentimentNet``:
``Embedding(vocab, 400)``, 2-layer ``LSTM(400, 512, dropout=0.5)``, ``Dropout(0.2)``, ``Linear(512, 1)``, sigmoid,
the output of the last time step; ``nn.BCELoss()``, ``Adam(lr=0.005)``, batch 400, gradient clipping at 5. The test
file is split in half into validation (model selection by validation loss) and test.

The fault (the index mapping of words not in the vocabulary differs between training and evaluation): commit 660820a
("Minor bug fix") changed the training loop to map an unknown word to 1 (``_UNK``) but left the test loop mapping it
to 0, which is ``_PAD``, the padding index. So the model is trained on sequences where a rare word is ``_UNK`` and
padding only ever precedes the review, and is then validated and tested on sequences where every unseen word is
turned into padding in the middle of the review, an input it never saw in training. Training itself is untouched;
the validation loss that picks the checkpoint and the test predictions are computed on differently encoded inputs.

Source: github.com/gabrielloye/LSTM_Sentiment-Analysis ``main.ipynb`` at 660820ad06862ca24a2ee1b61313f8f37f69ba89
(the buggy version; before it both loops used 0), issue #2 (stas00, "bug: using _PAD instead of _UNK in word
lookup": the unknown-word index should be ``word2idx['_UNK']``; "I see you fixed the first half of it in this repo,
but test_sentences is still else 0"; the author: "Thanks for pointing this out ... I've since modified the code in
the repo"), fixed by e4db4385e9038ff98e0c23d5cb031820dad6c79c "unknown word embedding in preprocessing", which makes
both loops use ``word2idx['_UNK']``.
Fault label: preprocessing_mismatch (the evaluation encoding of out-of-vocabulary words differs from training's).

Kept verbatim: the cleaning (lower, ``re.sub('\\d','0', ...)``, the URL regex), the vocabulary cell (``Counter``,
``v>1``, sort by count, ``['_PAD','_UNK'] + words``, ``word2idx``), the two mapping lines of the buggy and the fixed
version (the faulty ``... else 0 for word in nltk.word_tokenize(sentence)`` with ``_word_tokenize`` in its place),
``pad_input``, ``SentimentNet`` (its ``forward(x, hidden)`` and ``init_hidden``), ``vocab_size = len(word2idx) + 1``,
``output_size = 1``, ``nn.BCELoss()`` on ``output.squeeze()`` and ``labels.float()``, ``Adam(lr=0.005)``, batch size
400, ``clip_grad_norm_(..., 5)`` (hence ``train_step``: ``model.zero_grad()``, forward, loss, backward, clip, step).
Shrunk / replaced: embedding 400 -> 32, hidden 512 -> 32 and sequence length 200 -> 40, to run on one CPU core;
``nltk.word_tokenize`` -> a regex tokenizer (words and punctuation; nltk and its punkt data are not available
offline); the notebook carries the detached (h, c) of one batch into the next, the port starts every batch from
``init_hidden`` (a zero state): ``model`` is ``SentimentNetZeroState``, which calls ``SentimentNet(x,
init_hidden(len(x)))`` and returns the sigmoid output only, so that ``model(x)`` works for the checks.
``train_pipeline`` / ``eval_pipeline`` map raw review texts to the padded index rows the model reads (training path:
cells 10, 13, 17, 20; test path: the same cleaning and the test mapping line); ``raw_samples``: 256 held-out review
texts; ``inputs``: those reviews through the version's evaluation path (the buggy one holds 0s for unseen words).
Data stand-in (no Kaggle download): 18,000 synthetic reviews in the ``__label__N title: text`` format, label drawn
50/50; 8..36 tokens each: 33 % sentiment words (60 positive, 60 negative words of a 2,000-word letter-only vocabulary;
85 % of them of the review's polarity), 8 % random 5-8 letter strings (typos, names: seen once or never, so they
become ``_UNK`` in training: 7.7 % of training tokens, and unseen words at test: 7.2 % of test tokens), punctuation,
numbers, the rest Zipf-distributed neutral words. A bag-of-words logistic regression reaches 0.92 on it. 16,000
training reviews (``batches``: 40 batches of 400, ``batch``: the first), 2,000 test reviews (1,000 validation,
1,000 test).

Measured (my own plain loop, /tmp/s55/p/h92_a/measure.py and measure2.py: the module's builds, the 40 batches
reshuffled each epoch (torch generator seed 0), 5 epochs = 200 steps, ``train_step`` as above, torch seed 0,
OMP_NUM_THREADS=1; ~0.07 s a step):
  Training is identical in both versions (same training inputs, same losses: 0.672 / 0.475 / 0.298 / 0.201 / 0.163
    mean training loss at steps 20 / 40 / 60 / 100 / 200, training accuracy 0.95 at step 200).
  Held-out loss on the 1,000 test reviews, buggy (OOV -> 0) / fixed (OOV -> _UNK), at steps 20 / 40 / 60 / 80 / 100 /
    120 / 160 / 200: 0.591/0.571, 0.377/0.344, 0.262/0.242, 0.227/0.211, 0.207/0.197, 0.194/0.182, 0.221/0.197,
    0.194/0.188 (accuracy 0.716/0.725, 0.835/0.850, 0.894/0.897, 0.902/0.908, 0.919/0.921, 0.919/0.925,
    0.904/0.915, 0.920/0.928); the validation loss that selects the checkpoint is likewise higher under the buggy
    encoding at 7 of the 10 evaluations (0.590 vs 0.565 at step 20, 0.362 vs 0.333 at step 40, 0.226 vs
    0.207 at step 160; within 0.004 below it at steps 140, 180, 200).
  After 200 steps, on all 2,000 held-out reviews: loss 0.195 / 0.195, accuracy 0.924 / 0.927; on the 1,606 reviews
    with an unseen word: accuracy 0.930 / 0.933, mean |p_buggy - p_fixed| 0.026, 25 predictions flipped.
  The two pipelines of the buggy version disagree on 210 of the 256 ``raw_samples``; the fixed version's agree on all.
  So the damage on this stand-in is real but small and shrinks as training goes on: the trained model learns to read
    both ``_UNK`` and ``_PAD`` as carrying little, and unseen words carry no usable signal under either encoding.
    The fault is an evaluation-side mismatch, not a training failure.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any, Callable

import numpy as np

LABEL = "preprocessing_mismatch"
SOURCE = ("github:gabrielloye/LSTM_Sentiment-Analysis issue #2 (main.ipynb@660820ad06862ca24a2ee1b61313f8f37f69ba89 "
          "'Minor bug fix': train OOV -> 1 (_UNK), test OOV -> 0 (_PAD); fix e4db4385e9038ff98e0c23d5cb031820dad6c79c "
          "'unknown word embedding in preprocessing': word2idx['_UNK'] in both loops)")
FRAMEWORKS = ("torch",)
CHECKS = [("preprocessing_parity", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"kind": "sigmoid"})]

SEED = 0
NUM_TRAIN = 16000  # 40 batches of 400 (the notebook: the first 800,000 Amazon reviews)
NUM_TEST = 2000  # split in half into validation and test as in the notebook (it: 200,000)
N_INPUTS = 256
BATCH_SIZE = 400
SEQ_LEN = 40  # shrunk from 200 (one CPU core); the stand-in reviews are 8..36 tokens long
EMBEDDING_DIM = 32  # shrunk from 400
HIDDEN_DIM = 32  # shrunk from 512
N_LAYERS = 2
LR = 0.005
CLIP = 5


@functools.lru_cache(maxsize=1)
def _raw_files() -> tuple[list[str], list[str]]:
    """Stand-in for train.ft.txt.bz2 / test.ft.txt.bz2 decoded: lines '__label__1|2 <title>: <review>\\n'."""
    r = np.random.default_rng(SEED)
    n_core = 2000
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    core = sorted({"".join(r.choice(letters, int(r.integers(2, 8)))) for _ in range(3 * n_core)})
    core = [str(w) for w in r.permutation(core)[:n_core]]  # letters only: the cleaning turns digits into 0
    zipf = 1.0 / np.arange(1, n_core + 1) ** 1.1
    zipf /= zipf.sum()
    senti = r.choice(np.arange(20, 400), 120, replace=False)
    pos, neg = senti[:60], senti[60:]

    def review(y: int) -> str:
        n = int(r.integers(8, 37))
        toks = []
        for _ in range(n):
            u = r.random()
            if u < 0.08:  # a typo / rare name / model number: seen once or never
                toks.append("".join(r.choice(letters, int(r.integers(5, 9)))))
            elif u < 0.33:
                own, other = (pos, neg) if y == 1 else (neg, pos)
                toks.append(core[int(r.choice(own if r.random() < 0.85 else other))])
            elif u < 0.39:
                toks.append(str(r.choice([".", ",", "!", "?"])))
            elif u < 0.41:
                toks.append(str(int(r.integers(1, 500))))
            else:
                toks.append(core[int(r.choice(n_core, p=zipf))])
        title = " ".join(toks[:3]).capitalize()
        return f"__label__{y + 1} {title}: " + " ".join(toks[3:]) + "\n"

    lines = [review(int(r.integers(0, 2))) for _ in range(NUM_TRAIN + NUM_TEST)]
    return lines[:NUM_TRAIN], lines[NUM_TRAIN:]


def _word_tokenize(sentence: str) -> list[str]:
    """Stand-in for nltk.word_tokenize (punkt data cannot be downloaded): words and punctuation as tokens."""
    return re.findall(r"<url>|\w+|[^\w\s]", sentence)


def _clean(sentences: list[str]) -> list[str]:
    """The notebook's cleaning: lower(), digits -> 0, URLs -> <url> (applied to train and test alike)."""
    sentences = [s.lower() for s in sentences]
    for i in range(len(sentences)):
        sentences[i] = re.sub(r'\d', '0', sentences[i])
    for i in range(len(sentences)):
        if 'www.' in sentences[i] or 'http:' in sentences[i] or 'https:' in sentences[i] or '.com' in sentences[i]:
            sentences[i] = re.sub(r"([^ ]+(?<=\.[a-z]{3}))", "<url>", sentences[i])
    return sentences


def pad_input(sentences: list[list[int]], seq_len: int) -> np.ndarray:
    features = np.zeros((len(sentences), seq_len),dtype=int)
    for ii, review in enumerate(sentences):
        if len(review) != 0:
            features[ii, -len(review):] = np.array(review)[:seq_len]
    return features


@functools.lru_cache(maxsize=1)
def _vocab() -> tuple[dict[str, int], list[list[str]], np.ndarray]:
    """Cells 10, 13, 15: labels, tokenized training sentences, the vocabulary of words seen more than once."""
    train_file, _ = _raw_files()
    train_labels = [0 if x.split(' ')[0] == '__label__1' else 1 for x in train_file]
    train_sentences = _clean([x.split(' ', 1)[1][:-1] for x in train_file])
    words = Counter()
    for i, sentence in enumerate(train_sentences):
        train_sentences[i] = []
        for word in _word_tokenize(sentence):
            words.update([word.lower()])
            train_sentences[i].append(word)
    # Removing the words that only appear once
    words = {k:v for k,v in words.items() if v>1}
    # Sorting the words according to the number of appearances, with the most common word being first
    words = sorted(words, key=words.get, reverse=True)
    # Adding padding and unknown to our vocabulary so that they will be assigned an index
    words = ['_PAD','_UNK'] + words
    # Dictionaries to store the word to index mappings and vice versa
    word2idx = {o:i for i,o in enumerate(words)}
    return word2idx, train_sentences, np.array(train_labels)


def _pipelines(fixed: bool) -> tuple[Callable[[list[str]], np.ndarray], Callable[[list[str]], np.ndarray]]:
    """Raw review texts -> padded index rows: the training path (cells 10/13/17/20) and the test path."""
    word2idx, _, _ = _vocab()

    def train_pipeline(texts: list[str]) -> np.ndarray:
        train_sentences = [_word_tokenize(s) for s in _clean(list(texts))]
        for i, sentence in enumerate(train_sentences):
            if fixed:  # e4db438
                train_sentences[i] = [word2idx[word] if word in word2idx else word2idx['_UNK'] for word in sentence]
            else:  # 660820a
                train_sentences[i] = [word2idx[word] if word in word2idx else 1 for word in sentence]
        return pad_input(train_sentences, SEQ_LEN)

    def eval_pipeline(texts: list[str]) -> np.ndarray:
        test_sentences = _clean(list(texts))
        for i, sentence in enumerate(test_sentences):
            if fixed:  # e4db438
                test_sentences[i] = [word2idx[word.lower()] if word.lower() in word2idx else word2idx['_UNK']
                                     for word in _word_tokenize(sentence)]
            else:  # 660820a: an unknown test word becomes index 0, the padding token
                test_sentences[i] = [word2idx[word.lower()] if word.lower() in word2idx else 0
                                     for word in _word_tokenize(sentence)]
        return pad_input(test_sentences, SEQ_LEN)

    return train_pipeline, eval_pipeline


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> dict[str, Any]:
    word2idx, _, train_labels = _vocab()
    train_file, test_file = _raw_files()
    train_pipeline, eval_pipeline = _pipelines(fixed)
    train_texts = [x.split(' ', 1)[1][:-1] for x in train_file]
    test_texts = [x.split(' ', 1)[1][:-1] for x in test_file]
    test_labels = np.array([0 if x.split(' ')[0] == '__label__1' else 1 for x in test_file])
    return {"x_train": train_pipeline(train_texts), "y_train": train_labels, "x_test": eval_pipeline(test_texts),
            "y_test": test_labels, "test_texts": test_texts, "vocab_size": len(word2idx) + 1,
            "train_pipeline": train_pipeline, "eval_pipeline": eval_pipeline}


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    device = torch.device("cpu")

    class SentimentNet(nn.Module):
        def __init__(self, vocab_size, output_size, embedding_dim, hidden_dim, n_layers, drop_prob=0.5):
            super(SentimentNet, self).__init__()
            self.output_size = output_size
            self.n_layers = n_layers
            self.hidden_dim = hidden_dim

            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim, n_layers, dropout=drop_prob, batch_first=True)
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(hidden_dim, output_size)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x, hidden):
            batch_size = x.size(0)
            x = x.long()
            embeds = self.embedding(x)
            lstm_out, hidden = self.lstm(embeds, hidden)
            lstm_out = lstm_out.contiguous().view(-1, self.hidden_dim)

            out = self.dropout(lstm_out)
            out = self.fc(out)
            out = self.sigmoid(out)

            out = out.view(batch_size, -1)
            out = out[:,-1]
            return out, hidden

        def init_hidden(self, batch_size):
            weight = next(self.parameters()).data
            hidden = (weight.new(self.n_layers, batch_size, self.hidden_dim).zero_().to(device),
                          weight.new(self.n_layers, batch_size, self.hidden_dim).zero_().to(device))
            return hidden

    class SentimentNetZeroState(nn.Module):
        """model(x) -> the sigmoid output: SentimentNet from a zero (h, c) for every batch."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            out, _ = self.net(x, self.net.init_hidden(x.size(0)))
            return out

    d = _data(fixed)
    torch.manual_seed(SEED)
    output_size = 1
    net = SentimentNet(d["vocab_size"], output_size, EMBEDDING_DIM, HIDDEN_DIM, N_LAYERS)
    model = SentimentNetZeroState(net)
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def loss_fn(output, labels):
        return criterion(output.squeeze(), labels.float())

    def train_step(model, optimizer, loss_fn, inputs, labels):
        model.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        return loss

    xt, yt = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    half = NUM_TEST // 2  # validation = first half of the test file, test = second half
    inputs = torch.from_numpy(d["x_test"][half:half + N_INPUTS])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer, "train_step": train_step, "train_pipeline": d["train_pipeline"],
            "eval_pipeline": d["eval_pipeline"], "raw_samples": d["test_texts"][half:half + N_INPUTS]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
