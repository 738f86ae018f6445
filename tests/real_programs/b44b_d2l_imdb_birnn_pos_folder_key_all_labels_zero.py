"""Dive into Deep Learning (d2l-ai/d2l-en), chapter "Natural Language Processing: Applications",
sections "Sentiment Analysis and the Dataset" (``sentiment-analysis.md``, ``read_imdb`` / ``load_data_imdb``,
also saved into ``d2l/d2l.py``) and "Sentiment Analysis: Using Recurrent Neural Networks"
(``sentiment-analysis-rnn.md``): a two-layer bidirectional LSTM over frozen 100-d GloVe vectors that tells positive
from negative IMDb reviews (aclImdb, ``train/pos``, ``train/neg``, ``test/pos``, ``test/neg``). The label of
every review comes from the folder it is read from::

    def read_imdb(data_dir, is_train):
        data, labels = [], []
        for label in ['pos/', 'neg/']:
            folder_name = data_dir + ('train/' if is_train else 'test/') + label
            for file in os.listdir(folder_name):
                with open(folder_name + file, 'rb') as f:
                    review = f.read().decode('utf-8').replace('\\n', '')
                    data.append(review)
                    labels.append(1 if label == 'pos' else 0)
        return data, labels

The fault: commit 6e665890 ("Add DATA_HUB", #681) changed the folder keys from ``['pos', 'neg']`` (joined with
``os.path.join``) to ``['pos/', 'neg/']`` (joined by string concatenation), but left the label line comparing
against the old key ``'pos'``. The two places that map a folder to a class no longer agree: ``label == 'pos'`` is
never true, so every review, positive or negative, train and test alike, gets label 0. Nothing fails: the data
loader, the model and ``SoftmaxCrossEntropyLoss`` run as before; the training loss drops to ~0 and the reported
train and *test* accuracy would read 1.0 (the test labels come from the same function), while the network has only
learnt to output class 0 for every review (so ``predict_sentiment`` answers 'negative' for any sentence). PR #727
gives no log; these consequences follow from the code and are what the port shows.

Source: github.com/d2l-ai/d2l-en, ``chapter_natural-language-processing/sentiment-analysis.md`` and
``d2l/d2l.py`` ``read_imdb`` at 700e9185^ (bug from 6e66589007fbf4539471c4eef47cbbf4b67844fd, 2020-01-03),
``chapter_natural-language-processing/sentiment-analysis-rnn.md`` (``BiRNN``, training cells) at the same commit,
``d2l/d2l.py`` ``Vocab``, ``tokenize``, ``trim_pad``, ``load_array``, ``train_batch_ch13``. Fixed by PR #727
"fix label in imdb dataset" (commit 700e9185462f4eeac0750ab8436e7b846881926d, merge a40919fb) in the chapter and by
4e114a947d9aca53407cb68ea03e8d11092d7427 "fix d2l.py with pos/" in the saved package:
``labels.append(1 if label == 'pos/' else 0)``.

Program lines kept: ``read_imdb`` as written (run over an in-memory folder tree, see below), ``load_data_imdb``
(``tokenize(..., token='word')``, ``Vocab(train_tokens, min_freq=5)``, ``trim_pad(vocab[line], num_steps,
vocab.unk)``, shuffled ``load_array(..., batch_size=64)``), the ``BiRNN`` model (``Embedding(len(vocab), 100)``,
``LSTM(100, num_layers=2, bidirectional=True)`` fed time-major ``inputs.T``, concatenation of the outputs at the
first and the last time step, ``Dense(2)``), ``net.initialize(init.Xavier())``, the embedding set to the
pre-trained vectors and frozen (``grad_req = 'null'``), ``lr, num_epochs = 0.01, 5``, ``'adam'``,
``SoftmaxCrossEntropyLoss`` with ``trainer.step(batch_size)`` (a mean over the batch).
Ported: MXNet Gluon -> PyTorch (``nn.Embedding`` frozen with ``requires_grad_(False)``, ``nn.LSTM`` time-major,
``nn.Linear(400, 2)``, Xavier-uniform weights and zero biases as ``init.Xavier()``, ``nn.CrossEntropyLoss()``,
``Adam(lr=0.01)``) and a Keras 3 twin (``Embedding(trainable=False)`` holding the same vectors, two stacked
``Bidirectional(LSTM(100, return_sequences=True))`` as MXNet's 2-layer bidirectional LSTM, first/last step
concatenated, ``Dense(2)``; ``SparseCategoricalCrossentropy(from_logits=True)``, ``Adam(0.01)``; Keras' own LSTM
initialisers). ``num_steps`` is shrunk from 500 to 25 (the synthetic reviews are 8-25 words; at 500 steps a
2-layer BiLSTM step costs seconds on one CPU thread). Plotting, the test iterator and ``predict_sentiment`` are
left out.
Data stand-in (no aclImdb / GloVe download): an in-memory aclImdb tree ``{'../data/aclImdb/train/pos/': {file:
bytes}, ...}`` read by the program's ``read_imdb`` through stand-ins for ``os.listdir`` / ``open``. Each review is
6-20 words from a 300-word neutral vocabulary plus 2-5 sentiment words (a positive review draws each 85 % from 30
positive words, else from 30 negative words; a negative review the other way round), 200 positive + 200 negative
training reviews (aclImdb: 12,500 + 12,500) and 128 + 128 test reviews, so a review's class follows from its words.
"GloVe": a fixed seeded 100-d vector per vocabulary word (normal, std 0.4) plus/minus a shared "sentiment"
direction for the positive/negative words (a stand-in for the semantic structure pre-trained vectors carry); zeros for
``<unk>`` (the padding token too), as ``get_vecs_by_tokens`` gives for unknown tokens; frozen as in the program.
The first 6 shuffled batches of 64 (384 reviews) are returned; ``inputs`` are the 256 test reviews.
Fault label: label_mapping_mismatch (the folder key and the key the label line tests for disagree) |
labels_imbalanced (the result: every target is class 0).
Fix: ``labels.append(1 if label == 'pos/' else 0)``.

Symptom measured with a plain loop (seed 0, the 6 returned batches cycled, Adam 0.01; loss = mean over the 6 batches
with the program's labels; accuracy of the argmax on the 256 test reviews against their *true* classes, since the
program's own test labels are all 0 too). Labels in the returned batches: buggy 384 x 0 vs fixed 193 x 0 / 191 x 1
(both frameworks). Torch: initial loss buggy 0.70 vs fixed 0.69; after 3 steps buggy 1.6e-06 (every test review
predicted class 0, true-class accuracy 0.50) vs fixed 0.26 (accuracy 0.87); 10 steps buggy 0.0 (float32 underflow)
vs fixed 0.21 (0.88); 30 steps 0.0 vs 0.052 (0.50 vs 0.86); 60 steps 0.0 vs 0.021 (0.50 vs 0.86). Keras: initial
0.69 vs 0.69; 3 steps 5.7e-06 (0.50) vs 0.33 (0.91); 10 steps 0.0 vs 0.19 (0.93); 30 steps 0.0 vs 0.026 (0.50 vs
0.87); 60 steps 0.0 vs 0.010 (0.50 vs 0.88). So the buggy run's training loss falls faster and lower than the fixed
one's while its prediction is one constant class that carries nothing about the review. Time per step (torch
``zero_grad``/forward/backward/``step``, Keras ``train_on_batch``, one thread): about 60-105 ms torch and 90-190 ms
Keras, measured on a shared 2-core machine under a load of ~4, so roughly half that on an idle core.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "label_mapping_mismatch|labels_imbalanced"
SOURCE = ("github:d2l-ai/d2l-en PR #727 (chapter_natural-language-processing/sentiment-analysis.md read_imdb "
          "@700e9185^, 'pos/' folder keys from 6e665890 vs label == 'pos'; sentiment-analysis-rnn.md BiRNN, "
          "d2l/d2l.py load_data_imdb; fix 700e9185462f4eeac0750ab8436e7b846881926d, merge a40919fb, and "
          "4e114a947d9aca53407cb68ea03e8d11092d7427 for d2l.py)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {"num_classes": 2}),
          ("output_range", {"kind": "logits"}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {})]

batch_size = 64
num_steps = 25  # the program's 500, shrunk for CPU time (the synthetic reviews are at most 25 words)
embed_size, num_hiddens, num_layers = 100, 100, 2
lr, num_epochs = 0.01, 5
n_batches = 6
data_dir = "../data/aclImdb/"

_NEUTRAL = ["w%d" % i for i in range(300)]
_POSITIVE = ["good%d" % i for i in range(30)]
_NEGATIVE = ["bad%d" % i for i in range(30)]
_POSITIVE_SET, _NEGATIVE_SET = set(_POSITIVE), set(_NEGATIVE)


def _aclimdb_like(seed: int = 0, n_per_class: int = 200, n_test_per_class: int = 128) -> dict[str, dict[str, bytes]]:
    """The aclImdb folder tree in memory: folder name -> {file name: review bytes}."""
    rng = np.random.default_rng(seed)

    def review(positive: bool) -> str:
        words = list(rng.choice(_NEUTRAL, rng.integers(6, 21)))
        for _ in range(rng.integers(2, 6)):
            own = rng.random() < 0.85
            pool = _POSITIVE if positive == own else _NEGATIVE
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(pool)))
        return " ".join(words)

    tree: dict[str, dict[str, bytes]] = {}
    for split, n in (("train/", n_per_class), ("test/", n_test_per_class)):
        for key, positive in (("pos/", True), ("neg/", False)):
            tree[data_dir + split + key] = {
                "%d_%d.txt" % (i, int(rng.integers(7, 11) if positive else rng.integers(1, 5))):
                    review(positive).encode("utf-8")
                for i in range(n)}
    return tree


class _Folders:
    """``os.listdir`` and ``open(..., 'rb')`` over the in-memory tree."""

    def __init__(self, tree: dict[str, dict[str, bytes]]):
        self.tree = tree

    def listdir(self, folder_name: str) -> list[str]:
        return list(self.tree[folder_name])

    def open(self, path: str, mode: str = "rb"):
        import io

        folder, file = path.rsplit("/", 1)
        return io.BytesIO(self.tree[folder + "/"][file])


def _read_imdb(fs: _Folders, data_dir: str, is_train: bool, fixed: bool) -> tuple[list[str], list[int]]:
    """The program's read_imdb (only os.listdir / open point at the in-memory tree)."""
    data, labels = [], []
    for label in ['pos/', 'neg/']:
        folder_name = data_dir + ('train/' if is_train else 'test/') + label
        for file in fs.listdir(folder_name):
            with fs.open(folder_name + file, 'rb') as f:
                review = f.read().decode('utf-8').replace('\n', '')
                data.append(review)
                if fixed:
                    labels.append(1 if label == 'pos/' else 0)  # 700e9185 / 4e114a94
                else:
                    labels.append(1 if label == 'pos' else 0)  # the buggy line
    return data, labels


def _tokenize(lines: list[str], token: str = 'word') -> list[list[str]]:
    if token == 'word':
        return [line.split(' ') for line in lines]
    return [list(line) for line in lines]


class _Vocab:
    """d2l.Vocab at 700e9185^."""

    def __init__(self, tokens, min_freq=0, reserved_tokens=()):
        import collections

        counter = collections.Counter(tk for line in tokens for tk in line)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[0])
        self.token_freqs.sort(key=lambda x: x[1], reverse=True)
        self.unk, uniq_tokens = 0, ['<unk>'] + list(reserved_tokens)
        uniq_tokens += [token for token, freq in self.token_freqs
                        if freq >= min_freq and token not in uniq_tokens]
        self.idx_to_token, self.token_to_idx = [], dict()
        for token in uniq_tokens:
            self.idx_to_token.append(token)
            self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]


def _trim_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]  # Trim
    return line + [padding_token] * (num_steps - len(line))  # Pad


def load_data_imdb(fixed: bool, seed: int = 0):
    """load_data_imdb(batch_size, num_steps): (train features, train labels), (test features, program's test
    labels), vocab. The train arrays are in load_array's shuffled order (seeded)."""
    fs = _Folders(_aclimdb_like(seed))
    train_data = _read_imdb(fs, data_dir, True, fixed)
    test_data = _read_imdb(fs, data_dir, False, fixed)
    train_tokens = _tokenize(train_data[0], token='word')
    test_tokens = _tokenize(test_data[0], token='word')
    vocab = _Vocab(train_tokens, min_freq=5)
    train_features = np.array([_trim_pad(vocab[line], num_steps, vocab.unk) for line in train_tokens])
    test_features = np.array([_trim_pad(vocab[line], num_steps, vocab.unk) for line in test_tokens])
    order = np.random.default_rng(seed).permutation(len(train_features))  # DataLoader(shuffle=True)
    train = (train_features[order].astype("int64"), np.asarray(train_data[1], "int64")[order])
    test = (test_features.astype("int64"), np.asarray(test_data[1], "int64"))
    return train, test, vocab


def true_test_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The held-out reviews with their true classes (1 = from a pos/ folder), for measuring."""
    (_, _), (x, y), _ = load_data_imdb(True, seed)
    return x, y


def _glove_like(vocab: _Vocab, seed: int = 0) -> np.ndarray:
    """glove_embedding.get_vecs_by_tokens(vocab.idx_to_token): a fixed 100-d vector per known word, zeros for
    <unk>."""
    rng = np.random.default_rng(seed + 100)
    embeds = 0.4 * rng.standard_normal((len(vocab), embed_size))
    polarity = rng.standard_normal(embed_size) / np.sqrt(embed_size)  # a shared "sentiment" direction
    for i, token in enumerate(vocab.idx_to_token):
        if token in _POSITIVE_SET:
            embeds[i] += 2.0 * polarity
        elif token in _NEGATIVE_SET:
            embeds[i] -= 2.0 * polarity
    embeds[vocab.unk] = 0.0
    return embeds.astype("float32")


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    (x, y), (x_test, _), vocab = load_data_imdb(fixed)
    embeds = _glove_like(vocab)
    n = n_batches * batch_size
    x, y = x[:n], y[:n]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        inputs = layers.Input(shape=(num_steps,), dtype="int64")
        embedding = layers.Embedding(len(vocab), embed_size, trainable=False)
        h = embedding(inputs)
        for _ in range(num_layers):
            h = layers.Bidirectional(layers.LSTM(num_hiddens, return_sequences=True))(h)
        encoding = layers.Concatenate(axis=1)([h[:, 0], h[:, -1]])
        outputs = layers.Dense(2)(encoding)
        model = keras.Model(inputs, outputs)
        embedding.set_weights([embeds])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_test}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class BiRNN(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, **kwargs):
            super().__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            # Set bidirectional to True to get a bidirectional recurrent neural network
            self.encoder = nn.LSTM(embed_size, num_hiddens, num_layers=num_layers, bidirectional=True)
            self.decoder = nn.Linear(4 * num_hiddens, 2)

        def forward(self, inputs):
            # (batch size, number of words) -> time-major, as the program's inputs.T
            embeddings = self.embedding(inputs.T)
            outputs, _ = self.encoder(embeddings)
            # Concatenate the hidden states of the initial and final timestep
            encoding = torch.cat((outputs[0], outputs[-1]), dim=1)
            outs = self.decoder(encoding)
            return outs

    net = BiRNN(len(vocab), embed_size, num_hiddens, num_layers)
    for name, p in net.named_parameters():  # net.initialize(init.Xavier())
        if "weight" in name:
            nn.init.xavier_uniform_(p)
        else:
            nn.init.zeros_(p)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.from_numpy(embeds))  # net.embedding.weight.set_data(embeds)
    net.embedding.weight.requires_grad_(False)  # grad_req = 'null'
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, n, batch_size)]
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(x_test),
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda params: torch.optim.Adam(params, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
