"""Udacity Deep Learning Nanodegree (``udacity/deep-learning-v2-pytorch``), ``sentiment-rnn/Sentiment_RNN_Solution
.ipynb``: an LSTM sentiment classifier on the course's IMDB copy (``data/reviews.txt``, 25,000 reviews, one a line;
``data/labels.txt``, "positive"/"negative", which in these files ALTERNATE: positive, negative, positive, ...). The
notebook lower-cases, strips punctuation, maps words to ids by frequency (1..74,072, 0 = padding), left-pads /
truncates every review to ``seq_length = 200`` (``pad_features``: ``features[i, -len(row):] = row[:seq_length]``),
splits 80/10/10 in file order, and loads ``DataLoader(TensorDataset(...), batch_size=50)`` without shuffling.
``SentimentRNN``: ``Embedding(74073, 400)``, ``LSTM(400, 256, 2 layers, dropout=0.5, batch_first=True)``,
``Linear(256, output_size)``, ``Sigmoid``; ``CrossEntropyLoss``, ``Adam(lr=0.001)``, ``clip_grad_norm_(5)``, the
hidden state carried (detached) from batch to batch, 2 epochs.

The fault (the forward's output reshape): after ``out = self.fc(lstm_out)`` on the (batch, 200, hidden) LSTM output
and the sigmoid, the notebook "reshapes to (hidden_dim, batch_size, n_classes)" with ``sig_out = sig_out.view(-1,
batch_size, self.output_size)`` and keeps ``sig_out[0]`` ("get last batch of labels"). In memory the (50, 200, 2)
tensor is review-major, so the 50 rows it keeps are review 0's outputs at time steps 0..49: every review of the batch
is "predicted" from the first 1..50 tokens of the batch's FIRST review (left padding, mostly), never from its own
words or its last time step. Each output changes with another sample's input (review 0) and not with its own. With
the unshuffled loader the labels of every batch read 1, 0, 1, 0, ..., so the LSTM learns to emit that parity over
review 0's time steps: the notebook's own output shows the loss falling to 0.3135 (the floor of ``CrossEntropyLoss``
on two sigmoid outputs, -log(e / (1 + e)) = 0.3133, a second fault of the same cell) and "Test accuracy: 1.000" on the
equally alternating test split, while its ``predict()`` of single reviews is arbitrary. Issue #5 ("Sentiment RNN
predict() function predicting wrong results with negative reviews"): "the model from the notebook is memorizing the
alternating class structure. If you shuffle the data ... Testing accuracy degrades from perfect to random. Or if you
... shift the testing data by one ... testing performance will be 0%". The course author's fix, commit e8eec7d1 "fix
issue with sentiment prediction model": ``lstm_out.contiguous().view(-1, self.hidden_dim)``, a ``Dropout(0.3)``
before ``fc``, ``sig_out = sig_out.view(batch_size, -1)[:, -1]`` (each review's LAST time step), ``output_size = 1``
with ``nn.BCELoss()`` on ``output.squeeze(), labels.float()``, ``shuffle=True`` loaders, 4 epochs.

Source: github.com/udacity/deep-learning-v2-pytorch ``sentiment-rnn/Sentiment_RNN_Solution.ipynb`` at
79f1b76262092568be21c65f0d19688b82cecdcb (= e8eec7d1^), issue #5; fix e8eec7d1a0f4db1663e595749f7019204a4e51a1.
Fault label: batch_mixing|no_input_signal (each review's output is computed from the batch's first review, not
from its own input). The buggy version keeps the program's second fault as well (sigmoid outputs into
``CrossEntropyLoss``, loss floor 0.313); the fix removes both, as the commit did.

Program lines kept: ``SentimentRNN`` (embedding, 2-layer batch-first LSTM with dropout 0.5 between layers, Linear,
Sigmoid, ``init_hidden`` zero states) with the buggy / fixed ``forward`` bodies as written, ``pad_features``
(left padding), ``output_size`` 2 / 1, ``CrossEntropyLoss()`` / ``BCELoss()`` on ``output.squeeze(),
labels.float()``, ``Adam(lr=0.001)``, ``clip_grad_norm_(..., 5)`` in the loop body (``train_step``), batch size 50,
sequence length 200, unshuffled (buggy) / shuffled (fixed) training order, the 80/10/10 file-order split.
Ported: ``embedding_dim`` 400 -> 64, ``hidden_dim`` 256 -> 64 and the vocabulary 74,073 -> 5,001 ids (so that a step
stays well under 0.3 s on one CPU thread: 0.12-0.15 s at these sizes); 3,000 stand-in reviews instead of
25,000 (train 2,400 = 48 batches, validation 300, test 300); ``forward(x)`` starts from ``init_hidden(batch)`` zero
states on every call instead of taking the previous batch's detached state (the checks call ``model(x)``; the
reshape fault does not depend on it: the kept rows are review 0's first time steps either way); CUDA moves dropped.
PyTorch only: the faulty line is this program's own reshape of a torch batch-first LSTM output; there is no Keras
program behind it (a Keras twin would be a different program written to contain the bug).
Data stand-in (no IMDB download): seeded reviews as id sequences (int64) of log-normal length (median 175 words,
clipped to 10..1,000, about 40 % longer than 200 and so truncated), Zipf-distributed word ids 1..5,000, 10 % of the
words replaced by words from a class-specific set of 150 sentiment ids (two disjoint sets among the frequent ids);
labels alternate 1, 0, 1, 0, ... in file order as in ``labels.txt``; left-padded / truncated to 200 by the
program's ``pad_features``. ``batches``: the first 4 training batches of 50 in the version's order (file order for
the buggy loader, shuffled with a seeded permutation for the fixed one); ``inputs``: the first 150 test reviews;
``baseline_batch``: 100 training reviews (input_independent_baseline asks for at least 64; the program's batch is
50).

Measured (my own plain loops, /tmp/s42/h_b60a_udacity_sentiment/measure.py, OMP_NUM_THREADS=1, the module's builds,
data and ``train_step``; accuracy = argmax (buggy) / round (fixed) as in the notebook's test cell;
training = 12 epochs over the 48 training batches = 576 steps, buggy in file order, fixed shuffled per epoch; test =
the 300 test reviews in batches of 50, read in file order (alternating labels, as the notebook's test loader),
in a shuffled order, and shifted by one review (the issue's experiment, 100 reviews)):
  buggy: epoch-mean loss 0.693 / 0.693 / 0.680 / 0.577 / 0.519 after epochs 1 / 4 / 5 / 8 / 12 (step losses 0.6932
    at step 1, 0.6929 at 200, 0.686 at 400, 0.680 at 576; the floor of CrossEntropyLoss on sigmoids is 0.313); test
    accuracy in file order 0.51 -> 0.65 -> 0.83 -> 0.84 (epochs 1 / 5 / 7 / 12: the learnt parity of review 0's
    time steps), shuffled 0.50 -> 0.47 -> 0.48 -> 0.47, shifted by one 0.49 -> 0.86 (epoch 5) -> 0.37 -> 0.36.
    After training, replacing review 0 of a test batch moves the other 49 outputs by up to 0.53; replacing review 5
    moves review 5's own output by 0.0000.
  fixed: epoch-mean loss 0.695 / 0.424 / 0.064 / 0.011 after epochs 1 / 4 / 8 / 12 (step losses 0.70 at step 1, 0.40
    at 200, 0.029 at 400, 0.004 at 576); test accuracy 0.51 / 0.80 / 0.93 / 0.95 in every order (shifted by one
    0.93 at epoch 12). Replacing review 0 moves the other outputs by 0.0000; replacing review 5 moves its own output
    by 1.00.
  One batch (the version's first) repeated, loss at steps 0 / 25 / 50 / 99: buggy 0.693 / 0.687 / 0.539 / 0.413
    (bounded below by 0.313), fixed 0.705 / 0.536 / 0.094 / 0.005.
  Time per ``train_step`` (batch 50, one thread): median 0.12 s buggy, 0.15 s fixed (max 0.25 / 0.31) measured alone
    on a loaded 2-core machine; 0.53 s median with the two runs side by side. Building the data 1-2 s once (cached),
    the model < 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "batch_mixing|no_input_signal"
SOURCE = ("github:udacity/deep-learning-v2-pytorch sentiment-rnn/Sentiment_RNN_Solution.ipynb SentimentRNN.forward "
          "'sig_out = sig_out.view(-1, batch_size, self.output_size); sig_out = sig_out[0]' with output_size=2, "
          "nn.CrossEntropyLoss() and unshuffled DataLoader(batch_size=50) over alternating labels "
          "@79f1b76262092568be21c65f0d19688b82cecdcb; issue #5 (model memorizes the alternating class structure); "
          "fix e8eec7d1a0f4db1663e595749f7019204a4e51a1 'fix issue with sentiment prediction model' "
          "(sig_out.view(batch_size, -1)[:, -1], output_size=1 + BCELoss, shuffle=True)")
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("input_independent_baseline", {}), ("overfit_one_batch", {}),
          ("loss_decreases", {})]

# notebook settings
seq_length = 200
batch_size = 50
lr = 0.001
clip = 5
n_layers = 2
drop_prob = 0.5
# port: 400 / 256 / 74,073 in the notebook
embedding_dim = 64
hidden_dim = 64
VOCAB = 5000  # word ids 1..VOCAB, 0 = padding
vocab_size = VOCAB + 1
N_REVIEWS = 3000
split_frac = 0.8
N_BATCHES = 4
N_BASELINE = 100
N_INPUTS = 150  # at most seq_length rows: the buggy view keeps rows of review 0 only up to 200
SEED = 0
N_CUES = 150
CUE_SHARE = 0.10


# ------------------------------------------------------------------------------------------------------------ data

def pad_features(reviews_ints: list[np.ndarray], seq_length: int) -> np.ndarray:
    """The notebook's pad_features: left-pad with 0 / truncate to seq_length."""
    features = np.zeros((len(reviews_ints), seq_length), dtype=np.int64)
    for i, row in enumerate(reviews_ints):
        features[i, -len(row):] = np.array(row)[:seq_length]
    return features


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for reviews.txt / labels.txt after the notebook's tokenisation: (N_REVIEWS, 200) int64 features and
    int64 labels alternating 1, 0, 1, 0, ... (positive first, as in labels.txt)."""
    rng = np.random.default_rng(SEED)
    cue_ids = np.random.default_rng(12345).choice(np.arange(20, 1500), 2 * N_CUES, replace=False) + 1
    cues = (cue_ids[:N_CUES], cue_ids[N_CUES:])  # negative, positive
    ranks = np.arange(1, VOCAB + 1)
    p = 1.0 / ranks ** 1.05
    p /= p.sum()
    labels = np.array([1 if i % 2 == 0 else 0 for i in range(N_REVIEWS)], dtype=np.int64)
    reviews = []
    for y in labels:
        n = int(np.clip(np.exp(rng.normal(np.log(175.0), 0.6)), 10, 1000))
        words = rng.choice(VOCAB, n, p=p) + 1
        k = rng.random(n) < CUE_SHARE
        words[k] = rng.choice(cues[int(y)], int(k.sum()))
        reviews.append(words.astype(np.int64))
    return pad_features(reviews, seq_length), labels


def _splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    features, encoded_labels = _dataset()
    split_idx = int(len(features) * split_frac)
    train_x, remaining_x = features[:split_idx], features[split_idx:]
    train_y, remaining_y = encoded_labels[:split_idx], encoded_labels[split_idx:]
    test_idx = int(len(remaining_x) * 0.5)
    return {"train": (train_x, train_y), "valid": (remaining_x[:test_idx], remaining_y[:test_idx]),
            "test": (remaining_x[test_idx:], remaining_y[test_idx:])}


def train_batches(shuffle: bool, epoch: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """DataLoader(train_data, batch_size=50) (buggy) / DataLoader(..., shuffle=True) (fixed), one epoch."""
    x, y = _splits()["train"]
    order = np.random.default_rng(1000 + epoch).permutation(len(x)) if shuffle else np.arange(len(x))
    return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(x), batch_size)]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    output_size = 1 if fixed else 2  # e8eec7d1: output_size = 1 (was 2)

    class SentimentRNN(nn.Module):
        """
        The RNN model that will be used to perform Sentiment analysis.
        """

        def __init__(self, vocab_size, output_size, embedding_dim, hidden_dim, n_layers, drop_prob=0.5):
            super(SentimentRNN, self).__init__()

            self.output_size = output_size
            self.n_layers = n_layers
            self.hidden_dim = hidden_dim

            # embedding and LSTM layers
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim, n_layers,
                                dropout=drop_prob, batch_first=True)

            if fixed:
                # dropout layer
                self.dropout = nn.Dropout(0.3)

            # linear and sigmoid layers
            self.fc = nn.Linear(hidden_dim, output_size)
            self.sig = nn.Sigmoid()

        def forward(self, x, hidden=None):
            batch_size = x.size(0)
            if hidden is None:  # port: zero states on every call (the notebook carries the last batch's)
                hidden = self.init_hidden(batch_size)

            # embeddings and lstm_out
            embeds = self.embedding(x)
            lstm_out, hidden = self.lstm(embeds, hidden)

            if fixed:  # e8eec7d1
                # stack up lstm outputs
                lstm_out = lstm_out.contiguous().view(-1, self.hidden_dim)

                # dropout and fully-connected layer
                out = self.dropout(lstm_out)
                out = self.fc(out)
                # sigmoid function
                sig_out = self.sig(out)

                # reshape to be batch_size first
                sig_out = sig_out.view(batch_size, -1)
                sig_out = sig_out[:, -1]  # get last batch of labels
            else:
                # fully-connected layer
                out = self.fc(lstm_out)
                # sigmoid function
                sig_out = self.sig(out)

                # reshape to (hidden_dim, batch_size, n_classes)
                sig_out = sig_out.view(-1, batch_size, self.output_size)
                sig_out = sig_out[0]  # get last batch of labels

            # return last sigmoid output (port: the hidden state is not returned)
            return sig_out

        def init_hidden(self, batch_size):
            ''' Initializes hidden state '''
            weight = next(self.parameters()).data
            hidden = (weight.new(self.n_layers, batch_size, self.hidden_dim).zero_(),
                      weight.new(self.n_layers, batch_size, self.hidden_dim).zero_())
            return hidden

    torch.manual_seed(SEED)
    net = SentimentRNN(vocab_size, output_size, embedding_dim, hidden_dim, n_layers, drop_prob)
    net.train()

    if fixed:
        criterion = nn.BCELoss()

        def loss_fn(output: Any, labels: Any) -> Any:  # criterion(output.squeeze(), labels.float())
            return criterion(output.squeeze(), labels.float())
    else:
        loss_fn = nn.CrossEntropyLoss()  # criterion(output, labels)

    def train_step(net: Any, optimizer: Any, criterion: Any, inputs: Any, labels: Any) -> Any:  # the batch loop body
        net.train()
        net.zero_grad()
        output = net(inputs)
        loss = criterion(output, labels)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        return loss

    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in train_batches(shuffle=fixed)[:N_BATCHES]]
    tx, ty = _splits()["train"]
    pick = np.random.default_rng(7).choice(len(tx), N_BASELINE, replace=False)
    test_x, _ = _splits()["test"]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(test_x[:N_INPUTS]),
            "baseline_batch": (torch.from_numpy(tx[pick]), torch.from_numpy(ty[pick])),
            "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda params: torch.optim.Adam(params, lr=lr)}


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
