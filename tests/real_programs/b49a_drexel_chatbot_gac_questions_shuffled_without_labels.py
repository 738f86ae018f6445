"""DrexelChatbot's "generic answer classifier" (GAC) training script (DrexelChatbotGroup/DrexelChatbot,
``tools/gac_training_tests.py``; Keras 1/2.0 era, ``nb_epoch``): a Keras LSTM text classifier that maps a
student's question about a professor to one of ``num_of_gas = 9`` generic answers (0 = "no generic answer",
1 office, 2 email, 3 who is at a room, 4 degree, 5 website, 6 department head, 7 who is / research, 8 photo).
It reads the CSV of collected questions (``gac_data.csv``, or ``gac_data_combined.csv`` = those rows plus every
single-letter keyboard typo of each made by ``tools/misspeller.py``), keeps the professor questions
(``record[4] == "yes"``), hashes each word of the generic question with ``adler32(word) % top_words``
(``my_hash``: ``'`` -> space, punctuation in ``filt`` removed, lower case, split on " "), one-hot encodes the
answer number, shuffles, ``sequence.pad_sequences(x, maxlen=25)`` (pre-padding with 0), puts the first
``percent_test = 0.5`` in the test split and the rest in the training split, and trains
``Embedding(5000, 64, input_length=25) -> LSTM(50) -> Dense(9, softmax)`` with ``optimizer='rmsprop'``,
``loss='categorical_crossentropy'``, ``batch_size=64``.

The fault (data pipeline): the shuffle shuffles the questions only,

    random.shuffle(x)

while ``y`` stays in file order, so after the shuffle every question carries the answer number of some other
question: the inputs say nothing about their targets, in the training split and in the test split alike.
Training can only learn the label frequencies of the training half (the program's own "validation accuracy"
is then the share of class 0 among the test half's labels, and its accuracy on correctly paired questions is
the share of class 0 among them).
Fix (issue #15 "Incomplete randomization": "gac_training_tests.py randomizes the order of the x data, but not
the y data. This invalidates the required association between them."), commit fedac35:

    indexes = list(range(len(x)))
    random.shuffle(indexes)
    new_x = []
    new_y = []
    for i in indexes:
        new_x.append(x[i])
        new_y.append(y[i])
    x = new_x
    y = new_y

Source: github.com/DrexelChatbotGroup/DrexelChatbot, ``tools/gac_training_tests.py`` at fedac35^ (3df6fef; the
file as 94885da "Added a quick tool for testing accuracy of misspelled data" left it, the commit that added
``random.shuffle(x)`` and ``gac_data_combined.csv``), issue #15, fix commit
fedac35cc213c390347e21bea57c952f4a9661a8 "Fixed issue #15: Incomplete randomization" (the next day). The fix
commit also switched ``file_name`` from ``gac_data.csv`` to ``gac_data_combined.csv`` (the buggy script had it
as the commented-out alternative) and ``nb_epoch`` from 8 to 16; both versions here use the combined data (the
64-question file gives a training split of 32 questions) and the same steps, so only the shuffle differs.
Fault label: no_input_signal (questions shuffled without their labels; the pairs are random).

Program lines kept: ``my_hash`` (adler32 word hashing, ``filt``, ``top_words = 5000``), the record filter,
the one-hot targets, the buggy / fixed shuffle (Python ``random``, seeded here with 0; the program seeds only
``numpy.random``), ``pad_sequences(maxlen=25)`` (pre-padding and pre-truncating with 0, written out in numpy
so that building the data needs no framework), the 50/50 test/train split, the model, ``rmsprop`` (Keras
default lr 1e-3, rho 0.9) and ``categorical_crossentropy``, batch 64. ``model.fit`` shuffles the training
arrays each epoch (jointly, so it cannot undo the fault): ``batches`` are the first 6 batches of 64 of one such
epoch permutation (seed 0). Ported minimally to Keras 3: ``Embedding(top_words, 64)`` (``input_length``
dropped; Keras 3 default init uniform(-0.05, 0.05) as Keras 1's), ``LSTM(50)`` with Keras 3 defaults
(Keras 1/2.0 used ``hard_sigmoid`` for the recurrent activation; Keras 3 uses ``sigmoid``), ``Dense(9,
softmax)``. Torch twin: the same layers with Keras' initialisers (embedding uniform(-0.05, 0.05), LSTM input
kernel glorot-uniform, recurrent kernel orthogonal, bias 0 with forget-gate bias 1, Dense glorot-uniform, zero
bias), the model returns the softmax probabilities, ``loss_fn`` is Keras' categorical cross-entropy on them
(``-sum(y * log(clip(p, 1e-7, 1 - 1e-7)))``, batch mean), ``RMSprop(lr=1e-3, alpha=0.9, eps=1e-7)``.
No widths were shrunk (a step costs ~10-35 ms). Left out: the CSV file handling, ``input(...)``, saving.

Data stand-in (no repository file read at run time): the program's own 64 professor generic questions with
their answer numbers, in file order (column "Potential generic question" of ``tools/gac_data.csv`` at
fedac35^: 21 of class 0, 10 of 1, 8 of 4, 6 each of 5, 7, 8, 3 of 6, 2 each of 2 and 3), followed by every
typo ``misspeller.allTypoSentences`` makes of each (one letter outside the "(Slot)" names replaced by a
neighbouring key from its ``adjacency`` table), i.e. the professor rows of ``gac_data_combined.csv`` rebuilt the
way the repository built them: 2,596 questions (as many as the real file's professor rows), 1,298 for
training and 1,298 for test; word ids 0..4999 (0 = padding), up to 10 words. Class 0 is 41% of the fixed
training half and 47% of the buggy one (the second half of the file order, which ``y`` keeps).

Measured (my own loop, /tmp/h49a/measure.py, seed 0, OMP_NUM_THREADS=1; Keras ``train_on_batch``, torch
``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``; 160 steps = 8 epochs of fit-style
reshuffled batches of 64 of the training split; loss on the whole training split; "held-out accuracy" =
accuracy on the 1,298 test questions with their true answer numbers, i.e. the fixed program's test split,
where class 0 is 43.8%):
  torch  buggy: loss 2.20 at init, 1.73 after 20 steps, 1.70 after 80, 1.65 after 160; held-out accuracy
         0.438: every one of the 1,298 questions is predicted class 0 (the program's own mismatched test
         split: 0.383).
         fixed: 2.20, 1.64, 0.88, 0.31; held-out accuracy 0.920, 8 of the 9 classes predicted.
  keras  buggy: 2.20, 1.72, 1.72, 1.70; held-out accuracy 0.438, all 1,298 predicted class 0 (program's own
         split 0.383).
         fixed: 2.20, 1.67, 0.81, 0.22; held-out accuracy 0.937, all 9 classes predicted.
  One batch (the first training batch), 100 steps on a fresh model: buggy 0.51 (torch) / 0.67 (keras), fixed
  0.15 / 0.15 (a batch of random pairs is memorised, only more slowly).
About 10 ms (torch) and 25-35 ms (keras) per training step on one busy CPU thread.
"""

from __future__ import annotations

import random
from typing import Any
from zlib import adler32

import numpy as np

LABEL = "no_input_signal"
SOURCE = ("github:DrexelChatbotGroup/DrexelChatbot issue #15 (tools/gac_training_tests.py@fedac35^ "
          "'random.shuffle(x)' with y left in file order; fix fedac35cc213c390347e21bea57c952f4a9661a8 "
          "'Fixed issue #15: Incomplete randomization': shuffle an index list and reorder x and y with it)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

num_of_gas = 9
max_question_length = 25  # used to be 100
top_words = 5000
filt = '.?"\\/!,<>@#$%^&*_-+=|}{][:;~`'
embedding_vector_length = 64
percent_test = 0.5
batch_size = 64
lr = 1e-3  # optimizer='rmsprop' (Keras default)
n_batches = 6
SEED = 0

# tools/gac_data.csv at fedac35^: the professor questions (record[4] == "yes"), generic form and answer number,
# in file order
QUESTIONS: tuple[tuple[str, int], ...] = (
    ("Where is (Faculty)'s office?", 1),
    ("What is Professor (Faculty)'s email address?", 2),
    ("Where is Professor (Faculty)'s office?", 1),
    ("Who's office is at (Building) (Room)?", 3),
    ("Where did Professor (Faculty) get his P.hd from?", 4),
    ("Where did (Faculty) get his P.hd from?", 4),
    ("Does Professor (Faculty) have a website?", 5),
    ("Do you have Professor (Faculty)'s website?", 5),
    ("What professors do research in (Topic)?", 0),
    ("What classes does Professor (Faculty) teach?", 0),
    ("Who is head of (Department) Department?", 6),
    ("Who is dean of (Department) Department?", 0),
    ("How many professors are there in (Department) department?", 0),
    ("Can I get the address of Professor (Faculty)'s office?", 1),
    ("Who is (Faculty)?", 7),
    ("What classes does (Faculty) teach?", 0),
    ("What is (Faculty)'s office?", 1),
    ("Where is (Faculty)' office?", 1),
    ("Does (Faculty) have a PhD", 4),
    ("Does (Faculty) have a website?", 5),
    ("Who is Dr. (Faculty)?", 7),
    ("What does (Faculty) look like?", 8),
    ("Show me (Faculty)'s face.", 8),
    ("Why is (Faculty) so nice?", 0),
    ("What is (Faculty)'s area of research?", 7),
    ("What does (Faculty)'s face look like?", 8),
    ("What is (Faculty)'s favorite color?", 0),
    ("What is the highest degree earned by (Faculty)?", 4),
    ("Does (Faculty) like students using laptops in class?", 0),
    ("Who is the best professor in (Department) department?", 0),
    ("Which professors went to the same school?", 0),
    ("What class does Professor (Faculty) teach this quarter?", 0),
    ("Where can I talk to (Faculty)?", 1),
    ("Can you give me (Faculty)'s email address?", 2),
    ("Where is (Faculty)'s office?", 1),
    ("Who is at (Building) (Room)?", 3),
    ("Where did (Faculty) graduate from?", 4),
    ("Where did (Faculty) get her P.hd from?", 4),
    ("Does (Faculty) have a website?", 5),
    ("Do you have (Faculty)'s website?", 5),
    ("What professors do research in (Topic)?", 0),
    ("What classes does Professor (Faculty) teach?", 0),
    ("Who leads the (Department) Department?", 6),
    ("Who is dean of the (Department) Department?", 6),
    ("How many professors are there in (Department) department?", 0),
    ("How do I get to (Faculty)'s office?", 1),
    ("Can you tell me who (Faculty) is?", 7),
    ("What classes does (Faculty) teach?", 0),
    ("How do I find (Faculty)'s office?", 1),
    (" How do I get to (Faculty)'s office?", 1),
    ("Does (Faculty) have a Master's?", 4),
    ("How can I visit (Faculty)'s website?", 5),
    ("Who is (Faculty)?", 7),
    ("What does (Faculty)'s face look like?", 8),
    ("Show me (Faculty).", 8),
    ("Why is (Faculty) so nice?", 0),
    ("What does (Faculty) research?", 7),
    ("What does (Faculty) look like?", 8),
    ("What is (Faculty)'s favorite color?", 0),
    ("What is the education of (Faculty)?", 4),
    ("Does (Faculty) like students using laptops in class?", 0),
    ("Who is the best professor in (Department) department?", 0),
    ("Which professors went to the same school?", 0),
    ("What class does Professor (Faculty) teach this quarter?", 0),
)

adjacency = {  # tools/misspeller.py: the likelihood of exchanging one letter for another
    "a": ["s"], "b": ["v", "n"], "c": ["x", "v"], "d": ["s", "f"], "e": ["w", "r"], "f": ["d", "g"],
    "g": ["f", "h"], "h": ["g", "j"], "i": ["u", "o"], "j": ["h", "k"], "k": ["j", "l"], "l": ["k"],
    "m": ["n"], "n": ["b", "m"], "o": ["i", "p"], "p": ["o"], "q": ["w"], "r": ["e", "t"], "s": ["a", "d"],
    "t": ["r", "y"], "u": ["y", "i"], "v": ["c", "b"], "w": ["q", "e"], "x": ["z", "c"], "y": ["t", "u"],
    "z": ["x"],
}


def allTypoSentences(sentence: str, model: dict[str, list[str]]) -> list[str]:  # tools/misspeller.py
    sentences = []
    parens = False
    for i in range(len(sentence)):
        char = sentence[i]
        if char == "(":
            parens = True
        elif char == ")":
            parens = False
        elif not parens and char.isalpha():
            for r in model[char.lower()]:
                if char.isupper():
                    sentences.append(sentence[:i] + r.upper() + sentence[i + 1:])
                else:
                    sentences.append(sentence[:i] + r + sentence[i + 1:])
    return sentences


def my_hash(item: str) -> list[int]:  # program lines
    to_hash = item.replace("'", " ")
    for c in filt:
        to_hash = to_hash.replace(c, "")
    final = []
    words = to_hash.lower().split(" ")
    for word in words:
        final.append(adler32(word.encode()) % top_words)
    return final


def _records() -> list[tuple[str, int]]:
    """The professor rows of gac_data_combined.csv: the originals, then every typo of each, in file order."""
    rows = list(QUESTIONS)
    for question, answer in QUESTIONS:
        rows += [(s, answer) for s in allTypoSentences(question, adjacency)]
    return rows


def _pad_sequences(seqs: list[list[int]], maxlen: int) -> np.ndarray:
    """keras.preprocessing.sequence.pad_sequences defaults: int32, padding='pre', truncating='pre', value 0."""
    out = np.zeros((len(seqs), maxlen), "int32")
    for i, s in enumerate(seqs):
        s = s[-maxlen:]
        if s:
            out[i, -len(s):] = s
    return out


def _data(shuffle_x_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = []
    y = []
    for question, answer in _records():
        x.append(my_hash(question))
        temp = [0] * num_of_gas
        temp[int(answer)] = 1
        y.append(temp)
    rnd = random.Random(SEED)
    if shuffle_x_only:
        rnd.shuffle(x)  # the fault: y stays in file order
    else:  # fix (fedac35)
        indexes = list(range(len(x)))
        rnd.shuffle(indexes)
        new_x = []
        new_y = []
        for i in indexes:
            new_x.append(x[i])
            new_y.append(y[i])
        x = new_x
        y = new_y
    x = _pad_sequences(x, maxlen=max_question_length)
    y = np.asarray(y, "float32")
    split_point = int(np.floor(len(x) * percent_test))
    return x[split_point:], y[split_point:], x[:split_point], y[:split_point]  # x_train, y_train, x_test, y_test


def _fit_batches(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """What model.fit(shuffle=True, batch_size=64) feeds in one epoch (the first n_batches of them)."""
    order = np.random.default_rng(SEED).permutation(len(x))
    return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]])
            for i in range(0, n_batches * batch_size, batch_size)]


def _torch(shuffle_x_only: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    class GAC(nn.Module):  # Embedding(top_words, 64) -> LSTM(50) -> Dense(num_of_gas, softmax)
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(top_words, embedding_vector_length)
            self.lstm = nn.LSTM(embedding_vector_length, 50, batch_first=True)
            self.dense = nn.Linear(50, num_of_gas)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)  # Keras Embedding default
            nn.init.xavier_uniform_(self.lstm.weight_ih_l0)  # Keras LSTM kernel: glorot_uniform over (64, 200)
            nn.init.orthogonal_(self.lstm.weight_hh_l0)  # recurrent kernel: orthogonal
            nn.init.zeros_(self.lstm.bias_ih_l0)
            nn.init.zeros_(self.lstm.bias_hh_l0)
            with torch.no_grad():
                self.lstm.bias_ih_l0[50:100] = 1.0  # unit_forget_bias (gate order i, f, g, o as Keras')
            nn.init.xavier_uniform_(self.dense.weight)
            nn.init.zeros_(self.dense.bias)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            return torch.softmax(self.dense(h[-1]), dim=-1)

    def loss_fn(y_pred, y_true):  # categorical_crossentropy on probabilities, as Keras computes it
        p = y_pred.clamp(1e-7, 1 - 1e-7)
        return -(y_true * torch.log(p)).sum(dim=-1).mean()

    x_train, y_train, _, _ = _data(shuffle_x_only)
    xt, yt = torch.from_numpy(x_train.astype("int64")), torch.from_numpy(y_train)
    batches = [(torch.from_numpy(bx.astype("int64")), torch.from_numpy(by))
               for bx, by in _fit_batches(x_train, y_train)]
    return {"model": GAC(), "batch": batches[0], "batches": batches, "inputs": xt[:300], "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7)}


def _keras(shuffle_x_only: bool) -> dict[str, Any]:
    import keras
    from keras.layers import LSTM, Dense, Embedding

    keras.utils.set_random_seed(SEED)
    x_train, y_train, _, _ = _data(shuffle_x_only)
    model = keras.Sequential()
    model.add(keras.Input(shape=(max_question_length,), dtype="int32"))
    model.add(Embedding(top_words, embedding_vector_length))  # input_length=max_question_length (Keras 1/2)
    model.add(LSTM(50))  # this was 100...
    model.add(Dense(num_of_gas, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    batches = _fit_batches(x_train, y_train)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_train[:300]}


def _build(framework: str, shuffle_x_only: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(shuffle_x_only)
    if framework == "keras":
        return _keras(shuffle_x_only)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, shuffle_x_only=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, shuffle_x_only=False)
