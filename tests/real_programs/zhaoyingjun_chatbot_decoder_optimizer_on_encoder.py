"""Chinese seq2seq chatbot (zhaoyingjun/chatbot, ``chineseChatbotWeb-pytorch/seq2seqChatbot``): a GRU
``Encoder`` and an attention GRU decoder (``AttentionDencoder``, the PyTorch seq2seq-translation
tutorial's ``AttnDecoderRNN``), trained one question/answer pair at a time by ``seq2seqModel.train_step``
with ``nn.NLLLoss`` summed over the answer's tokens and teacher forcing at ratio 0.5. ``execute.train``
passes it two optimizers, ``optim.SGD(encoder1.parameters(), lr=0.001)`` and -- meant for the decoder --
``optim.SGD(encoder1.parameters(), lr=0.001)`` again: the decoder's parameters are in no optimizer, so
the decoder (embedding, attention, GRU, output layer) keeps its random initial weights for ever while
the encoder takes two SGD steps per pair; its gradients are computed and never applied.

Source: github.com/zhaoyingjun/chatbot issue #115 ("torch版本seq2seq训练优化器输入是否有bug": the last
argument should be ``optim.SGD(attn_decoder1.parameters(), lr=0.001)``; maintainer: "嗯 是的 感谢提出来",
yes, thanks), ``chineseChatbotWeb-pytorch/seq2seqChatbot/execute.py`` at
58c6ab9cdedabc2cdc44ad11b9f57b7d69ba30a2, fixed by commit 1a00adf5c68a3ffdc7c2ab55d3451894870987ae
("Update execute.py, 更新一个bug"), which passes ``optim.SGD(attn_decoder1.parameters(), lr=0.001)``.
Program lines kept (``seq2seqModel.py``, ``execute.py``): ``Encoder`` (Embedding + GRU, hidden 256),
``AttentionDencoder`` (``dropout_p=0.1``, ``MAX_LENGTH = 200`` attention slots, ``log_softmax`` output),
``train_step`` as written (the encoder loop over ``range(0, input_length-1)``, the
``random.random() < 0.5`` teacher-forcing branch, the free-running branch breaking at EOS, ``criterion(
F.log_softmax(decoder_output, dim=1), target_tensor[di])`` summed over the steps), the two SGD optimizers
(lr 0.001, built anew for every pair, as ``execute.train`` does), one pair per step, and the data
handling: ``preprocess_sentence`` wraps each sentence in the words ``SOS``/``EOS`` (which ``Lang`` numbers
2 and 3, as index 0/1 are reserved but not in ``word2index``), ``tensorFromSentence`` appends
``EOS_token = 1``.
Ported minimally: the encoder and decoder are wrapped in one module whose input is the ``(1, 8 + 8)`` id
row of a question and its answer (the answer feeds teacher forcing) and whose output is the decoder's
output for every answer step, ``(1, 8, vocab)`` (teacher-forced, for evaluation);
``loss_fn(outputs, targets)`` is the program's summed per-step NLL. ``train_step(model, optimizer,
loss_fn, x, y)`` is the program's ``train_step`` with its two optimizers made as ``execute.train`` makes
them (the optimizer the caller passes is not used, as in the program); ``optimizer`` is
``SGD(lr=0.001)``. ``random`` is a ``random.Random(0)`` instance instead of the global module.
Data: the xiaohuangji corpus (50 000 pairs, vocabularies of thousands of words) is replaced by 64
seeded pairs over 30 + 30 words: a question of 5 words, the answer its mapped words in reverse order,
each wrapped in ``SOS ... EOS`` and ``EOS_token``: 8 ids each, vocabularies of 34 ids.
Fault label: params_not_updated (the decoder is in no optimizer). Fix (1a00adf): the second optimizer
is ``optim.SGD(attn_decoder1.parameters(), lr=0.001)``.
Observed (own loop: 3 passes over the 64 pairs, one ``train_step`` per pair, ~20 ms per step on one
thread; teacher-forced NLL summed over the 8 answer steps, mean over the 64 pairs; chance is
8 ln 34 = 28.2): buggy 28.37 -> 27.24 (the decoder's 646 k parameters unchanged, max |change| 0.0; only
the encoder moves), fixed 28.37 -> 23.69.
Torch only: in Keras one ``compile`` optimizer updates every trainable weight of the model.
"""

from __future__ import annotations

from typing import Any

LABEL = "params_not_updated"
SOURCE = ("github:zhaoyingjun/chatbot issue #115 (chineseChatbotWeb-pytorch/seq2seqChatbot/execute.py@58c6ab9, "
          "seq2seqModel.py; fix 1a00adf)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

SOS_token, EOS_token = 0, 1  # program lines
MAX_LENGTH = 200
hidden_size = 256
teacher_forcing_ratio = 0.5
lr = 0.001
n_words_side = 30  # stand-in vocabulary: 30 words per language (+ 0, 1 and the words SOS, EOS)
sentence_words = 5
n_pairs = 64


def _pairs():
    """Seeded stand-in pairs, numbered as ``Lang`` numbers them: 0 SOS, 1 EOS (reserved), then the words
    ``SOS`` (2) and ``EOS`` (3) added by ``preprocess_sentence``, then the other words (4..33)."""
    import numpy as np

    rng = np.random.default_rng(0)
    perm = rng.permutation(n_words_side)
    q = rng.integers(0, n_words_side, (n_pairs, sentence_words))
    a = perm[q][:, ::-1]
    wrap = lambda w: np.concatenate([np.full((n_pairs, 1), 2), w + 4, np.full((n_pairs, 1), 3),  # noqa: E731
                                     np.full((n_pairs, 1), EOS_token)], axis=1)
    return wrap(q).astype("int64"), wrap(a).astype("int64"), n_words_side + 4


def _build(fix: bool) -> dict[str, Any]:
    import random

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch import optim

    torch.manual_seed(0)
    rnd = random.Random(0)
    device = torch.device("cpu")
    criterion = nn.NLLLoss()

    class Encoder(nn.Module):  # program lines
        def __init__(self, input_size, hidden_size):
            super(Encoder, self).__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size)

        def forward(self, input, hidden):
            embedded = self.embedding(input).view(1, 1, -1)
            output = embedded
            output, hidden = self.gru(output, hidden)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, 1, self.hidden_size, device=device)

    class AttentionDencoder(nn.Module):  # program lines
        def __init__(self, hidden_size, output_size, dropout_p=0.1, max_length=MAX_LENGTH):
            super(AttentionDencoder, self).__init__()
            self.hidden_size = hidden_size
            self.output_size = output_size
            self.dropout_p = dropout_p
            self.max_length = max_length
            self.embedding = nn.Embedding(self.output_size, self.hidden_size)
            self.attn = nn.Linear(self.hidden_size * 2, self.max_length)
            self.attn_combine = nn.Linear(self.hidden_size * 2, self.hidden_size)
            self.dropout = nn.Dropout(self.dropout_p)
            self.gru = nn.GRU(self.hidden_size, self.hidden_size)
            self.out = nn.Linear(self.hidden_size, self.output_size)

        def forward(self, input, hidden, encoder_outputs):
            embedded = self.embedding(input).view(1, 1, -1)
            embedded = self.dropout(embedded)
            attn_weights = F.softmax(self.attn(torch.cat((embedded[0], hidden[0]), 1)), dim=1)
            attn_applied = torch.bmm(attn_weights.unsqueeze(0), encoder_outputs.unsqueeze(0))
            output = torch.cat((embedded[0], attn_applied[0]), 1)
            output = self.attn_combine(output).unsqueeze(0)
            output = F.relu(output)
            output, hidden = self.gru(output, hidden)
            output = F.log_softmax(self.out(output[0]), dim=1)
            return output, hidden, attn_weights

    q, a, n_words = _pairs()
    li, lt = q.shape[1], a.shape[1]

    class Seq2Seq(nn.Module):
        """``encoder1`` and ``attn_decoder1``; ``forward`` is ``train_step``'s teacher-forced pass."""

        def __init__(self):
            super().__init__()
            self.encoder = Encoder(n_words, hidden_size)
            self.decoder = AttentionDencoder(hidden_size, n_words, dropout_p=0.1)

        def encode(self, input_tensor):
            encoder = self.encoder
            encoder_hidden = encoder.initHidden()
            encoder_outputs = torch.zeros(MAX_LENGTH, encoder.hidden_size, device=device)
            for ei in range(0, input_tensor.size(0) - 1):
                encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
                encoder_outputs[ei] = encoder_output[0, 0]
            return encoder_outputs, encoder_hidden

        def forward(self, x):
            rows = []
            for row in x:
                input_tensor, target_tensor = row[:li].view(-1, 1), row[li:].view(-1, 1)
                encoder_outputs, decoder_hidden = self.encode(input_tensor)
                decoder_input = torch.tensor([[SOS_token]], device=device)
                outs = []
                for di in range(target_tensor.size(0)):
                    decoder_output, decoder_hidden, _ = self.decoder(decoder_input, decoder_hidden, encoder_outputs)
                    outs.append(decoder_output[0])
                    decoder_input = target_tensor[di]
                rows.append(torch.stack(outs))
            return torch.stack(rows)  # (batch, answer steps, vocab)

    def loss_fn(outputs, targets):  # loss += criterion(F.log_softmax(decoder_output, dim=1), target[di])
        loss = 0
        for di in range(targets.shape[1]):
            loss += criterion(F.log_softmax(outputs[:, di], dim=1), targets[:, di])
        return loss

    def train_step(model, optimizer, loss_fn, x, y):  # seq2seqModel.train_step with execute.train's optimizers
        encoder, decoder = model.encoder, model.decoder
        encoder_optimizer = optim.SGD(encoder.parameters(), lr=lr)
        decoder_optimizer = optim.SGD((decoder if fix else encoder).parameters(), lr=lr)  # the bug: encoder1
        input_tensor, target_tensor = x[0, :li].view(-1, 1), x[0, li:].view(-1, 1)
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        target_length = target_tensor.size(0)
        encoder_outputs, encoder_hidden = model.encode(input_tensor)
        loss = 0
        decoder_input = torch.tensor([[SOS_token]], device=device)
        decoder_hidden = encoder_hidden
        use_teacher_forcing = True if rnd.random() < teacher_forcing_ratio else False
        if use_teacher_forcing:
            for di in range(target_length):
                decoder_output, decoder_hidden, decoder_attention = decoder(decoder_input, decoder_hidden,
                                                                            encoder_outputs)
                loss += criterion(F.log_softmax(decoder_output, dim=1), target_tensor[di])
                decoder_input = target_tensor[di]
        else:
            for di in range(target_length):
                decoder_output, decoder_hidden, decoder_attention = decoder(decoder_input, decoder_hidden,
                                                                            encoder_outputs)
                topv, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze().detach()
                loss += criterion(F.log_softmax(decoder_output, dim=1), target_tensor[di])
                if decoder_input.item() == EOS_token:
                    break
        loss.backward()
        encoder_optimizer.step()
        decoder_optimizer.step()
        return loss

    import numpy as np

    x = torch.tensor(np.concatenate([q, a], axis=1))
    y = torch.tensor(a)
    batches = [(x[i:i + 1], y[i:i + 1]) for i in range(n_pairs)]  # one pair per step
    return {"model": Seq2Seq(), "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
            "train_step": train_step, "optimizer": lambda p: optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fix=True)
