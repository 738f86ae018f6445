"""graykode/nlp-tutorial, ``4-3.Bi-LSTM(Attention)/Bi-LSTM(Attention).py``: a bidirectional LSTM with
dot-product attention for sentiment on the tutorial's six three-word sentences ("i love you", "he loves me",
"she likes baseball" = 1, "i hate you", "sorry for that", "this is awful" = 0). ``nn.Embedding(vocab, 2)`` ->
``nn.LSTM(2, 5, bidirectional=True)`` (time-major) -> attention over the 3 outputs with the final hidden state
as the query -> ``nn.Linear(10, 2)``; ``nn.CrossEntropyLoss()``, ``optim.Adam(lr=0.001)``, full-batch, 5000
epochs, then the test sentence "sorry hate you".
The fault is in ``attention_net``: ``hidden = final_state.view(-1, n_hidden * 2, 1)`` is meant to turn the
final state of shape [num_directions(=2), batch, n_hidden] into [batch, 2 * n_hidden, 1], i.e. to concatenate
each sentence's forward and backward final states. ``view`` only regroups the memory, which is laid out
direction-major, so row b of the result is the concatenation of the final states of sentences 2b and 2b+1 of
the same direction (the forward states for the first half of the batch, the backward states for the second
half). Every sentence's attention query is built from other sentences of the batch: its prediction depends on
which sentences it is batched with and on their order, and the attention it learns is keyed to its neighbours
rather than to itself. With a batch of one (the program's test sentence) the view happens to be right, so the
train-time and test-time models differ.

Source: github.com/graykode/nlp-tutorial issue #38 ("Question about tensor.view operation in
Bi-LSTM(Attention)": the view "will mess up the data examples in a batch", with a worked ``torch.arange``
example) and issue #68 ("Bi-LSTM attention calc may be wrong", 2021: "this line in source code is wrong,
bi-lstm's hidden is [2, batch, embed_size], we need to concatenate forward and backward hidden state"; fix
given in the thread: ``final_state.transpose(0, 1).reshape(batch_size, -1, 1)``, equivalently
``torch.cat((final_state[0], final_state[1]), 1).view(batch_size, -1, 1)``). Buggy file:
``4-3.Bi-LSTM(Attention)/Bi-LSTM(Attention).py`` at 5c4ed7f3cdec9f34baef489f967b91ebd885cc82 (the 2020
refactor, still the repository's HEAD d05e31ec; the same line is in ``Bi-LSTM(Attention)-Torch.py`` at
cb4881ebf, the commit issue #38 links). The repository never merged a fix; the fix used here is the one in
the issue #68 thread.
Program lines kept: the hyperparameters (embedding_dim 2, n_hidden 5, num_classes 2), the sentences and
labels, the ``BiLSTM_Attention`` class (``__init__``, ``attention_net``, ``forward``; buggy and fixed),
``nn.CrossEntropyLoss()``, ``optim.Adam(model.parameters(), lr=0.001)``, full-batch training, the test
sentence.
Ported minimally: the module-level globals the class reads (``vocab_size``, ``n_hidden``...) are passed to
``__init__``; ``attention_net`` returns ``soft_attn_weights.detach()`` instead of ``.data.numpy()`` and a
thin wrapper returns only the logits (the program's ``forward`` returns ``(logits, attention)``, the
attention only being plotted); the vocabulary is ``sorted(set(word_list))`` instead of
``list(set(word_list))`` so word ids do not depend on Python's per-process string hashing. No size
shrinking (a step takes well under 1 ms). The data are the program's own (no stand-in).
``batch`` is the program's full batch of 6 sentences; ``batches`` are 4 orderings of those 6 sentences
(the original order and 3 seeded permutations, as a shuffling loader over the six sentences would give);
``inputs`` are the 6 sentences and the test sentence.
Keras: not ported. The fault is a ``view`` over PyTorch's [num_directions, batch, hidden] state layout;
Keras' ``Bidirectional(LSTM(..., return_state=True))`` returns the forward and backward states as separate
[batch, hidden] tensors, so the natural Keras program has nothing to regroup (the repository's TensorFlow
twin concatenates the two directions' outputs correctly).
Fault label: batch_mixing (each sentence's attention query is made of other sentences' final states).
Fix (issue #68 thread): ``hidden = final_state.transpose(0, 1).reshape(len(lstm_output), -1, 1)``.
Symptom in a short loop (my own loop: ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()`` on the
full batch in the program's order, seed 0, OMP_NUM_THREADS=1, 5000 steps as the program; ~0.8 ms a step):
the training loss alone does not show it, buggy 0.723 (step 1) -> 0.452 (200) -> 0.016 (500) -> 0.0030
(1000) -> 0.0001 (5000), fixed 0.723 -> 0.500 -> 0.022 -> 0.0030 -> 0.0001. The trained buggy model only
works for the batch it was trained as: the same six sentences in reversed order get 1/6 right (loss 4.62),
fed one at a time 5/6 (loss 0.55), and the program's test sentence "sorry hate you" comes out good (logits
[-2.46, 2.50]); the largest change of a logit between the full batch and one-at-a-time is 6.5. The fixed
model gets 6/6 in any order or alone (loss 0.0001 everywhere, identical logits) and calls "sorry hate you"
bad ([3.03, -2.89]). At initialisation the batch dependence is already there but small (largest logit
change 0.0017 alone vs batched, 0.0036 for the reversed order; fixed 0). Cycling over the 4 orderings in
``batches`` for 2000 steps both fit (mean loss over steps 1901-2000: buggy 0.0012, fixed 0.0007), the
buggy one by learning an order-independent-enough solution more slowly (steps 901-1000: 0.0052 vs 0.0034).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:graykode/nlp-tutorial issues #38, #68 (4-3.Bi-LSTM(Attention)/Bi-LSTM(Attention).py"
          "@5c4ed7f3cdec9f34baef489f967b91ebd885cc82, attention_net final_state.view; fix from the #68 thread)")
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

embedding_dim = 2  # embedding size
n_hidden = 5  # number of hidden units in one cell
num_classes = 2  # 0 or 1

# 3 words sentences (=sequence_length is 3)
sentences = ["i love you", "he loves me", "she likes baseball", "i hate you", "sorry for that", "this is awful"]
labels = [1, 1, 1, 0, 0, 0]  # 1 is good, 0 is not good.
test_text = "sorry hate you"


def _build(fixed_view: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    torch.manual_seed(0)
    word_list = " ".join(sentences).split()
    word_list = sorted(set(word_list))  # port: list(set(...)) in the program (hash-order dependent)
    word_dict = {w: i for i, w in enumerate(word_list)}
    vocab_size = len(word_dict)

    class BiLSTM_Attention(nn.Module):  # program lines (globals passed in)
        def __init__(self, vocab_size, embedding_dim, n_hidden, num_classes):
            super(BiLSTM_Attention, self).__init__()
            self.n_hidden = n_hidden
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, n_hidden, bidirectional=True)
            self.out = nn.Linear(n_hidden * 2, num_classes)

        # lstm_output : [batch_size, n_step, n_hidden * num_directions(=2)], F matrix
        def attention_net(self, lstm_output, final_state):
            if fixed_view:  # fix (issue #68 thread): one row per sentence, [forward ; backward]
                hidden = final_state.transpose(0, 1).reshape(len(lstm_output), -1, 1)
            else:  # buggy: regroups the direction-major memory, mixing sentences of the batch
                hidden = final_state.view(-1, self.n_hidden * 2, 1)
            attn_weights = torch.bmm(lstm_output, hidden).squeeze(2)  # attn_weights : [batch_size, n_step]
            soft_attn_weights = F.softmax(attn_weights, 1)
            # [batch_size, n_hidden * 2, n_step] * [batch_size, n_step, 1] = [batch_size, n_hidden * 2, 1]
            context = torch.bmm(lstm_output.transpose(1, 2), soft_attn_weights.unsqueeze(2)).squeeze(2)
            return context, soft_attn_weights.detach()  # context : [batch_size, n_hidden * num_directions(=2)]

        def forward(self, X):
            input = self.embedding(X)  # input : [batch_size, len_seq, embedding_dim]
            input = input.permute(1, 0, 2)  # input : [len_seq, batch_size, embedding_dim]

            hidden_state = torch.zeros(1 * 2, len(X), self.n_hidden)  # [num_layers * num_directions, batch, n_hidden]
            cell_state = torch.zeros(1 * 2, len(X), self.n_hidden)

            # final_hidden_state, final_cell_state : [num_layers(=1) * num_directions(=2), batch_size, n_hidden]
            output, (final_hidden_state, final_cell_state) = self.lstm(input, (hidden_state, cell_state))
            output = output.permute(1, 0, 2)  # output : [batch_size, len_seq, n_hidden * 2]
            attn_output, attention = self.attention_net(output, final_hidden_state)
            # model : [batch_size, num_classes], attention : [batch_size, n_step]
            return self.out(attn_output), attention

    class LogitsOnly(nn.Module):  # port: the checks take a model returning the logits
        def __init__(self):
            super().__init__()
            self.net = BiLSTM_Attention(vocab_size, embedding_dim, n_hidden, num_classes)

        def forward(self, X):
            return self.net(X)[0]

    model = LogitsOnly()
    inputs = torch.LongTensor(np.asarray([[word_dict[n] for n in sen.split()] for sen in sentences]))
    targets = torch.LongTensor([out for out in labels])  # To using Torch Softmax Loss function
    test_batch = torch.LongTensor(np.asarray([[word_dict[n] for n in test_text.split()]]))

    rng = np.random.default_rng(0)
    orders = [np.arange(len(sentences))] + [rng.permutation(len(sentences)) for _ in range(3)]
    tb = [(inputs[torch.as_tensor(o)], targets[torch.as_tensor(o)]) for o in orders]
    return {"model": model, "batch": (inputs, targets), "batches": tb,
            "inputs": torch.cat([inputs, test_batch]), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_view=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_view=True)
