"""ssw-nlp-study-group/nlp_study's ``nlp/lstm_with_attention.py``: a hand-written LSTM (``lstm_model``
from ``nlp/lstm.py``) over character embeddings, with dot-product attention of the last hidden state
over the three time steps, then a Linear head; it learns the 4th letter of ten four-letter words
from their first three letters (the classic "TextLSTM" toy task). In ``net.attn`` the scores are laid
out ``[seq_len, batch]`` (the comment says ``# [3, 10]``) and ``F.softmax(attn_weights, 1)`` normalises
them over axis 1, the *batch* axis, instead of over the three time steps: each word's attention
weights depend on the scores of every other word in the batch, so a sample's output changes with the
rest of its batch (and with a batch of one every weight is exactly 1).

Source: github.com/ssw-nlp-study-group/nlp_study, nlp/lstm_with_attention.py and nlp/lstm.py at
a5179ad78c6247011dc70f3f4718542c6f4d0730 (util/data.py ``word_seq_datas`` for the data); pull request
#2 "修复softmax轴数bug" (commit 0c4e3092745e396e38a40261ca493091da1c0997, by Mactarvish) diagnoses it:
"axis 0 is the letter-sequence axis, axis 1 is the batch; the softmax should run along axis 0 to get
attention over the letter sequence", and changes the line to ``F.softmax(attn_weights, 0)``. (The PR
was closed without a merge; its diff is the fix used here.)
Program lines: ``n_emb = 16``, ``hidden_sz = 16``, ``nn.Embedding(n_class + 1, n_emb)``,
``lstm_model(n_emb, hidden_sz)`` (i/f/g/o gates from ``nn.Parameter`` matrices, uniform(-1/sqrt(16),
1/sqrt(16)) init, outputs stacked to ``[seq, batch, hidden]``), ``nn.Linear(hidden_sz, n_class)``,
``nn.CrossEntropyLoss()``, ``optim.Adam(model.parameters(), lr=0.001)``, the whole data set as one
batch (``DataLoader(datas, batch_size=len(datas))``) every epoch, inputs ``input_batch.float()`` cast
back with ``x.long()`` in ``forward``.
Ported minimally: the module-level globals ``n_class``/``n_emb`` read in ``net.__init__`` became
arguments; the two bare ``.squeeze()`` calls became ``.squeeze(-1)`` (same result for any batch of two
or more; the bare form also dropped the batch axis for a batch of one and then crashed in ``bmm``).
Data: the program's own ten words ('make', 'need', 'coal', 'word', 'love', 'hate', 'live', 'home',
'hash', 'star'), letters a..z as ids 0..25, no download; ``batches`` repeats the one full batch, as
the program's epochs do.
Fault label: batch_mixing. Fix (PR #2, 0c4e309): ``attention = F.softmax(attn_weights, 0)``.
No Keras twin: the fault sits in the program's own tensor plumbing, not in a layer Keras offers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = "github:ssw-nlp-study-group/nlp_study PR #2 (nlp/lstm_with_attention.py@a5179ad, fix 0c4e309)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("batch_independence", {})]

n_emb = 16  # program lines
hidden_sz = 16
learning_rate = 0.001
SEQ_DATA = ['make', 'need', 'coal', 'word', 'love', 'hate', 'live', 'home', 'hash', 'star']
CHAR_ARR = [c for c in 'abcdefghijklmnopqrstuvwxyz']


def _words() -> tuple[np.ndarray, np.ndarray]:
    """util/data.py ``word_seq_datas``: first three letters as ids, the last letter as the label."""
    word_dict = {n: i for i, n in enumerate(CHAR_ARR)}
    x = np.array([[word_dict[c] for c in w[:-1]] for w in SEQ_DATA])
    y = np.array([word_dict[w[-1]] for w in SEQ_DATA], dtype="int64")
    return x.astype("float32"), y  # input_batch = input_batch.float()


def _build(framework: str, softmax_axis: int) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn, optim

    class lstm_model(nn.Module):  # program lines: nlp/lstm.py
        def __init__(self, input_sz: int, hidden_sz: int):
            super().__init__()
            self.input_sz = input_sz
            self.hidden_sz = hidden_sz
            self.w_i = nn.Parameter(torch.Tensor(input_sz, hidden_sz))
            self.u_i = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz))
            self.b_i = nn.Parameter(torch.Tensor(hidden_sz))
            self.w_f = nn.Parameter(torch.Tensor(input_sz, hidden_sz))
            self.u_f = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz))
            self.b_f = nn.Parameter(torch.Tensor(hidden_sz))
            self.w_c = nn.Parameter(torch.Tensor(input_sz, hidden_sz))
            self.u_c = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz))
            self.b_c = nn.Parameter(torch.Tensor(hidden_sz))
            self.w_o = nn.Parameter(torch.Tensor(input_sz, hidden_sz))
            self.u_o = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz))
            self.b_o = nn.Parameter(torch.Tensor(hidden_sz))
            self.init_weights()

        def init_weights(self):
            stdv = 1.0 / math.sqrt(self.hidden_sz)
            for weight in self.parameters():
                weight.data.uniform_(-stdv, stdv)

        def forward(self, x):
            bs, seq_sz = x.shape[0], x.shape[1]
            h_t = torch.zeros(bs, self.hidden_sz)
            c_t = torch.zeros(bs, self.hidden_sz)
            hidden_seq = []
            for i in range(seq_sz):
                input = x[:, i, :]
                i_t = torch.sigmoid(input @ self.w_i + h_t @ self.u_i + self.b_i)
                f_t = torch.sigmoid(input @ self.w_f + h_t @ self.u_f + self.b_f)
                g_t = torch.tanh(input @ self.w_c + h_t @ self.u_c + self.b_c)
                o_t = torch.sigmoid(input @ self.w_o + h_t @ self.u_o + self.b_o)
                c_t = f_t * c_t + i_t * g_t
                h_t = o_t * torch.tanh(c_t)
                hidden_seq.append(h_t)
            lstm_output = torch.cat(hidden_seq, dim=0)
            lstm_output = lstm_output.view(-1, hidden_seq[0].shape[0], hidden_seq[0].shape[1])
            return lstm_output, (h_t, c_t)

    class net(nn.Module):  # program lines: nlp/lstm_with_attention.py
        def __init__(self, input_sz, hidden_sz, n_class, n_emb):
            super().__init__()
            self.input_sz = input_sz
            self.hidden_sz = hidden_sz
            self.emb = nn.Embedding(n_class + 1, n_emb)
            self.lstm = lstm_model(n_emb, self.hidden_sz)
            self.fc = nn.Linear(hidden_sz, n_class)

        def attn(self, lstm_output, h_t):
            # lstm_output [3, 10, 16]  h_t[10, 16] # [D B C]
            h_t = h_t.unsqueeze(0)
            h_t = h_t.permute(1, 2, 0)  # [10, 16, 1]
            lstm_output = lstm_output.permute(1, 0, 2)
            attn_weights = torch.bmm(lstm_output, h_t)
            attn_weights = attn_weights.permute(1, 0, 2).squeeze(-1)  # [3, 10]
            attention = F.softmax(attn_weights, softmax_axis)  # buggy: 1 (batch), fixed: 0 (sequence)
            attn_out = torch.bmm(lstm_output.transpose(1, 2), attention.unsqueeze(-1).transpose(1, 0))
            return attn_out.squeeze(-1)

        def forward(self, x):
            x = x.long()
            x = self.emb(x)
            lstm_output, (h_t, c_t) = self.lstm(x)
            attn_out = self.attn(lstm_output, h_t)
            return self.fc(attn_out)

    x, y = _words()
    n_class = len(CHAR_ARR)
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": net(n_class, hidden_sz, n_class, n_emb), "batch": (xt, yt), "batches": [(xt, yt)] * 4,
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_axis=1)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_axis=0)
