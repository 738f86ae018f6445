"""Keras example ``examples/babi_memnn.py``: an end-to-end memory network (Sukhbaatar et al. 2015) on bAbI task
QA1 "single supporting fact" (10k): the story (``story_maxlen`` = 68 word ids) is embedded twice
(``input_encoder_m``: ``Embedding(vocab_size, 64)`` + ``Dropout(0.3)``; ``input_encoder_c``:
``Embedding(vocab_size, query_maxlen)`` + ``Dropout(0.3)``), the question (``query_maxlen`` = 4 ids) once
(``Embedding(vocab_size, 64)`` + ``Dropout(0.3)``); ``match`` = the dot product of every story word with every
question word, (samples, 68, 4); ``response`` = ``match + input_encoder_c``, permuted to (samples, 4, 68) and
concatenated with the question embedding; then ``LSTM(32)``, ``Dropout(0.3)``, ``Dense(vocab_size)``,
``softmax``; ``rmsprop``, ``categorical_crossentropy``, ``batch_size=32``. In the buggy program ``match`` has
no softmax: the paper's attention weights ("the inner product followed by a softmax") are raw, unbounded dot
products of the embeddings, so the memory addressing is not a distribution over the story and the model
learns the task much more slowly and generalises worse (the PR author: 67 % validation accuracy after 100
epochs without the softmax, 95 % with it).

Source: github.com/keras-team/keras PR #3706 "Add missing Softmax activation memnn." (Abishek Bhat), merged
as commit b8fddc862e3c5dc8b00fba7ba63498a3adb5750f, which adds ``match.add(Activation('softmax'))`` after the
``Merge([input_encoder_m, question_encoder], mode='dot', dot_axes=[2, 2])``; listed in the ICSE 2020
"Repairing deep neural networks" GitHub bug set (lab-design/ICSE2020DNNBugRepair, Dataset.xlsx: Activation).
Program: examples/babi_memnn.py@b8fddc8^ (model, compile and fit lines, ``vectorize_stories`` with
``pad_sequences`` pre-padding and one-hot answers over ``vocab_size`` = len(vocab) + 1).
Ported minimally to Keras 3: the Keras 1 ``Sequential`` + ``Merge`` graph is written with the functional API
(``dot(axes=(2, 2))``, ``add``, ``Permute((2, 1))``, ``concatenate(axis=-1)``); the program fed
``[inputs, queries, inputs]`` (the story twice) to three inputs, here one int input holds the 68 story ids
followed by the 4 question ids and the model slices it (same graph, one array per batch). Keras 1's LSTM used
``inner_activation='hard_sigmoid'``, Keras 3's uses sigmoid. Torch twin: the same graph with ``nn.Embedding``
initialised ``uniform(-0.05, 0.05)`` (Keras' Embedding init), an ``nn.LSTM(132, 32, batch_first=True)`` with
Keras' LSTM init (glorot input kernels, orthogonal recurrent kernels, zero biases, forget bias 1) keeping the
last step, ``Dropout(0.3)``, a glorot ``Linear(32, vocab_size)`` giving logits into ``nn.CrossEntropyLoss()``
(= softmax + categorical cross-entropy) on class ids, ``RMSprop(lr=1e-3, alpha=0.9, eps=1e-7)`` (Keras'
rmsprop defaults).
Data stand-in (no download of babi_tasks_1-20_v1-2.tar.gz): seeded QA1 stories generated like the task: the
four actors (Mary, John, Sandra, Daniel) move between six places ("Mary moved to the bathroom .", verbs moved /
went / journeyed / travelled / went back), a question "Where is X ?" after every two statements about an actor
mentioned so far, five questions per story, each sample's story = all statements so far (up to 10 sentences);
21 words, ``vocab_size`` = 22, ids sorted as in the program, story pre-padded to 68, query to 4.
256 samples, 8 batches of 32.
Fault label: other:attention_without_softmax (the memory "match" weights are raw dot products).
Fix (b8fddc8): ``match.add(Activation('softmax'))`` (softmax over the last axis of the (68, 4) match).
Symptom in a short loop (rmsprop 1e-3, batches of 32, 60 epochs over the 256 samples, 256 held-out samples
from another seed): Keras: buggy train loss 3.01 -> 0.90, held-out accuracy 0.27; fixed 2.81 -> 1.46, 0.25.
Torch: buggy 3.02 -> 0.92, 0.27; fixed 2.84 -> 1.57, 0.28. On this small stand-in the unbounded match lets
the buggy net fit (memorise) the training batches faster while neither generalises; the PR's gap (67 % vs 95 %
validation accuracy) needs the full 10k stories and ~100 epochs, which a short loop does not reach (torch,
2048 samples x 30 epochs: buggy held-out accuracy 0.46; the fixed run did not finish in the time budget).
Stories longer than 68 ids keep their last 68 (``pad_sequences``' default 'pre' truncation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:attention_without_softmax"
SOURCE = ("github:keras-team/keras PR #3706 (examples/babi_memnn.py@b8fddc8^, fix b8fddc862e3c; "
          "ICSE2020DNNBugRepair GitHub set)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

batch_size = 32  # answer.fit(..., batch_size=32)
embed_dim = 64  # Embedding(output_dim=64)
lstm_units = 32  # LSTM(32)
dropout = 0.3
lr = 1e-3  # optimizer='rmsprop' (Keras default lr)
story_maxlen = 68  # bAbI QA1 10k: story max length 68 words
query_maxlen = 4  # "Where is Mary ?"
n_train = 256

ACTORS = ["Mary", "John", "Sandra", "Daniel"]
PLACES = ["bathroom", "hallway", "garden", "office", "kitchen", "bedroom"]
VERBS = [["moved"], ["went"], ["journeyed"], ["travelled"], ["went", "back"]]
VOCAB = sorted(set(ACTORS + PLACES + ["moved", "went", "journeyed", "travelled", "back", "to", "the", ".",
                                      "Where", "is", "?"]))
word_idx = {w: i + 1 for i, w in enumerate(VOCAB)}  # 0 reserved for padding
vocab_size = len(VOCAB) + 1  # 22


def _qa1_samples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """QA1-like (story, query, answer) samples vectorised like ``vectorize_stories``: story and query ids
    pre-padded (``pad_sequences``), concatenated into one (n, 72) int array; answers as class ids."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    while len(xs) < n:
        story: list[str] = []
        where: dict[str, str] = {}
        for _ in range(5):  # 15 lines: (statement, statement, question) x 5
            for _ in range(2):
                actor = ACTORS[rng.integers(len(ACTORS))]
                place = PLACES[rng.integers(len(PLACES))]
                story += [actor] + VERBS[rng.integers(len(VERBS))] + ["to", "the", place, "."]
                where[actor] = place
            asked = sorted(where)[rng.integers(len(where))]
            query = ["Where", "is", asked, "?"]
            s = [word_idx[w] for w in story][-story_maxlen:]
            q = [word_idx[w] for w in query]
            row = [0] * (story_maxlen - len(s)) + s + [0] * (query_maxlen - len(q)) + q
            xs.append(row)
            ys.append(word_idx[where[asked]])
    return np.array(xs[:n], dtype="int32"), np.array(ys[:n], dtype="int64")


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return _qa1_samples(n_train, seed)


def _keras_model(softmax_match: bool) -> Any:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    both = keras.Input((story_maxlen + query_maxlen,), dtype="int32")
    story = both[:, :story_maxlen]
    question = both[:, story_maxlen:]
    input_encoded_m = layers.Dropout(dropout)(layers.Embedding(vocab_size, embed_dim)(story))
    question_encoded = layers.Dropout(dropout)(layers.Embedding(vocab_size, embed_dim)(question))
    match = layers.dot([input_encoded_m, question_encoded], axes=(2, 2))  # (samples, story_maxlen, query_maxlen)
    if softmax_match:
        match = layers.Activation("softmax")(match)  # the fix
    input_encoded_c = layers.Dropout(dropout)(layers.Embedding(vocab_size, query_maxlen)(story))
    response = layers.add([match, input_encoded_c])
    response = layers.Permute((2, 1))(response)
    answer = layers.concatenate([response, question_encoded], axis=-1)
    answer = layers.LSTM(lstm_units)(answer)
    answer = layers.Dropout(dropout)(answer)
    answer = layers.Dense(vocab_size)(answer)
    answer = layers.Activation("softmax")(answer)
    model = keras.Model(both, answer)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _torch_model(softmax_match: bool) -> Any:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)

    def embedding(dim: int) -> nn.Embedding:
        e = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(e.weight, -0.05, 0.05)
        return e

    class MemNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_encoder_m = embedding(embed_dim)
            self.question_encoder = embedding(embed_dim)
            self.input_encoder_c = embedding(query_maxlen)
            self.drop = nn.Dropout(dropout)
            self.lstm = nn.LSTM(story_maxlen + embed_dim, lstm_units, batch_first=True)
            for name, p in self.lstm.named_parameters():
                if name.startswith("weight_ih"):
                    for g in p.data.chunk(4, 0):
                        nn.init.xavier_uniform_(g)
                elif name.startswith("weight_hh"):
                    for g in p.data.chunk(4, 0):
                        nn.init.orthogonal_(g)
                else:
                    nn.init.zeros_(p)
                    if name.startswith("bias_ih"):
                        p.data[lstm_units:2 * lstm_units] = 1.0  # unit_forget_bias
            self.out = _nets.torch_dense(lstm_units, vocab_size)

        def forward(self, both: Any) -> Any:
            story, question = both[:, :story_maxlen], both[:, story_maxlen:]
            m = self.drop(self.input_encoder_m(story))  # (N, 68, 64)
            u = self.drop(self.question_encoder(question))  # (N, 4, 64)
            match = torch.bmm(m, u.transpose(1, 2))  # (N, 68, 4)
            if softmax_match:
                match = torch.softmax(match, dim=-1)  # the fix
            c = self.drop(self.input_encoder_c(story))  # (N, 68, 4)
            response = (match + c).permute(0, 2, 1)  # (N, 4, 68)
            answer = torch.cat([response, u], dim=-1)  # (N, 4, 132)
            h, _ = self.lstm(answer)
            return self.out(self.drop(h[:, -1]))  # logits over the vocabulary

    return MemNN()


def _build(framework: str, softmax_match: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "keras":
        from tests.real_programs import _data as data

        yk = data.one_hot(y, vocab_size)
        batches = [(x[i:i + batch_size], yk[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {"model": _keras_model(softmax_match), "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    model = _torch_model(softmax_match)
    tx, ty = torch.tensor(x, dtype=torch.long), torch.tensor(y)
    batches = [(tx[i:i + batch_size], ty[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_match=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_match=True)
