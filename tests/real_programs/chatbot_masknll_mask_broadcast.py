"""PyTorch chatbot tutorial (seq2seq: bidirectional GRU encoder, Luong 'dot' attention GRU decoder
with a softmax output, teacher forcing) whose ``maskNLLLoss`` does not mask anything: ``crossEntropy
= -torch.log(torch.gather(inp, 1, target.view(-1, 1)))`` has shape ``(batch, 1)`` while the mask of
one time step has shape ``(batch,)``; ``crossEntropy.masked_select(mask)`` broadcasts the two to
``(batch, batch)`` and selects, for every sample, the columns of the *other* samples' mask, so every
sample's loss -- padded positions after EOS included -- enters the mean (each repeated ``nTotal``
times). The decoder is trained to emit PAD after the end of each reply and the reported loss is the
unmasked one.

Source: github.com/pytorch/tutorials issue #383 ("CrossEntropy size in chatbot does NOT align with
the mask"), fixed by PR #382 ("fix CrossEntropy size in chatbot to align with the mask", merged,
"nice catch!"), ``beginner_source/chatbot_tutorial.py``; also gDefects4DL ``tutorials382`` (buggy
a46b6437, fix b93ce6e2). (Earlier report: PR #338.) Program lines kept: ``EncoderRNN``, ``Attn``
('dot'), ``LuongAttnDecoderRNN``, ``maskNLLLoss``, the teacher-forced decoding loop of ``train``
(``teacher_forcing_ratio = 1.0``, ``loss += mask_loss`` over the time steps), ``hidden_size = 500``,
``encoder_n_layers = decoder_n_layers = 2``, ``dropout = 0.1``, ``batch_size = 64``,
``MAX_LENGTH = 10``, Adam ``learning_rate = 0.0001``.
Ported minimally: the encoder and decoder are wrapped in one module whose input is the batch-major
``(batch, 10 + 10)`` id matrix of the padded query and the padded reply (the reply feeds teacher
forcing) and whose output is the decoder's softmax for every reply step, ``(batch, 10, vocab)``;
``loss_fn(outputs, targets)`` is the loop ``loss += maskNLLLoss(outputs[:, t], target[:, t],
mask[:, t])`` with ``mask = target != PAD``. ``pack_padded_sequence`` gets ``enforce_sorted=False``
(the tutorial sorts each batch by length). Not kept: the decoder's 5x learning-rate ratio (one Adam
at 1e-4 for all parameters) and the gradient clipping at 50 (rarely active).
Data: the Cornell movie-dialogs pairs (vocabulary 7826 after trimming) are replaced by seeded
synthetic pairs over a 300-word vocabulary (PAD 0, SOS 1, EOS 2): a query of 3..9 words, the reply
the query reversed, each followed by EOS and padded to MAX_LENGTH (the first pair of each batch
of the longest length, as ``max_target_len`` is the batch's longest reply); 3 batches of 64.
Fault label: target_shape (the per-sample loss ``(B, 1)`` broadcasts against the ``(B,)`` mask).
Fix (PR #382): ``-torch.log(torch.gather(inp, 1, target.view(-1, 1)).squeeze(1))``.
Observed (own loop, 40 Adam steps over the 3 batches, ~25 s each version): buggy loss 56.9 -> 37.8,
fixed 57.0 -> 46.0 (the buggy one falls faster because it also fits the trivial padded steps); the
per-token NLL of the real (unpadded) reply tokens is the same in both (4.99 vs 4.95), but the buggy
model puts P(PAD) = 0.95 on padded steps against 0.0008 for the fixed one. The fault trains the
padding, it does not stop training.
The fixed version still takes ``-log`` of a softmax output by hand (the tutorial's design).
Torch only: ``masked_select`` broadcasting is the PyTorch idiom of the bug.
"""

from __future__ import annotations

from typing import Any

LABEL = "target_shape"
SOURCE = "github:pytorch/tutorials issue #383, PR #382 (beginner_source/chatbot_tutorial.py maskNLLLoss)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

PAD_token, SOS_token, EOS_token = 0, 1, 2
MAX_LENGTH = 10
hidden_size = 500
encoder_n_layers = 2
decoder_n_layers = 2
dropout = 0.1
batch_size = 64
learning_rate = 0.0001
num_words = 300  # stand-in vocabulary (the tutorial's trimmed Cornell vocabulary: 7826)
n_batches = 3


def _pairs():
    import numpy as np

    rng = np.random.default_rng(0)
    n = batch_size * n_batches
    q = np.full((n, MAX_LENGTH), PAD_token, "int64")  # filterPairs: fewer than MAX_LENGTH words + EOS
    r = np.full((n, MAX_LENGTH), PAD_token, "int64")
    for i in range(n):
        # the first pair of each batch is a longest one, so max_target_len == MAX_LENGTH in every batch
        k = MAX_LENGTH - 1 if i % batch_size == 0 else int(rng.integers(3, MAX_LENGTH))
        words = rng.integers(3, num_words, k)
        q[i, :k], q[i, k] = words, EOS_token
        r[i, :k], r[i, k] = words[::-1], EOS_token
    return q, r


def _build(squeeze: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)

    class EncoderRNN(nn.Module):  # program lines
        def __init__(self, hidden_size, embedding, n_layers=1, dropout=0):
            super().__init__()
            self.n_layers = n_layers
            self.hidden_size = hidden_size
            self.embedding = embedding
            self.gru = nn.GRU(hidden_size, hidden_size, n_layers,
                              dropout=(0 if n_layers == 1 else dropout), bidirectional=True)

        def forward(self, input_seq, input_lengths, hidden=None):
            embedded = self.embedding(input_seq)
            packed = nn.utils.rnn.pack_padded_sequence(embedded, input_lengths, enforce_sorted=False)
            outputs, hidden = self.gru(packed, hidden)
            outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, total_length=input_seq.shape[0])
            outputs = outputs[:, :, :self.hidden_size] + outputs[:, :, self.hidden_size:]
            return outputs, hidden

    class Attn(nn.Module):  # program lines ('dot')
        def __init__(self, method, hidden_size):
            super().__init__()
            self.method = method
            self.hidden_size = hidden_size

        def dot_score(self, hidden, encoder_output):
            return torch.sum(hidden * encoder_output, dim=2)

        def forward(self, hidden, encoder_outputs):
            attn_energies = self.dot_score(hidden, encoder_outputs)
            attn_energies = attn_energies.t()
            return F.softmax(attn_energies, dim=1).unsqueeze(1)

    class LuongAttnDecoderRNN(nn.Module):  # program lines
        def __init__(self, attn_model, embedding, hidden_size, output_size, n_layers=1, dropout=0.1):
            super().__init__()
            self.attn_model = attn_model
            self.hidden_size = hidden_size
            self.output_size = output_size
            self.n_layers = n_layers
            self.dropout = dropout
            self.embedding = embedding
            self.embedding_dropout = nn.Dropout(dropout)
            self.gru = nn.GRU(hidden_size, hidden_size, n_layers, dropout=(0 if n_layers == 1 else dropout))
            self.concat = nn.Linear(hidden_size * 2, hidden_size)
            self.out = nn.Linear(hidden_size, output_size)
            self.attn = Attn(attn_model, hidden_size)

        def forward(self, input_step, last_hidden, encoder_outputs):
            embedded = self.embedding(input_step)
            embedded = self.embedding_dropout(embedded)
            rnn_output, hidden = self.gru(embedded, last_hidden)
            attn_weights = self.attn(rnn_output, encoder_outputs)
            context = attn_weights.bmm(encoder_outputs.transpose(0, 1))
            rnn_output = rnn_output.squeeze(0)
            context = context.squeeze(1)
            concat_input = torch.cat((rnn_output, context), 1)
            concat_output = torch.tanh(self.concat(concat_input))
            output = self.out(concat_output)
            output = F.softmax(output, dim=1)
            return output, hidden

    class Seq2Seq(nn.Module):
        """``train``'s teacher-forced forward pass: returns the decoder softmax of every reply step."""

        def __init__(self):
            super().__init__()
            embedding = nn.Embedding(num_words, hidden_size)
            self.encoder = EncoderRNN(hidden_size, embedding, encoder_n_layers, dropout)
            self.decoder = LuongAttnDecoderRNN('dot', embedding, hidden_size, num_words, decoder_n_layers, dropout)

        def forward(self, x):
            input_variable = x[:, :MAX_LENGTH].t()  # (max_length, batch) as in batch2TrainData
            target_variable = x[:, MAX_LENGTH:].t()
            lengths = (input_variable != PAD_token).sum(0).cpu()
            encoder_outputs, encoder_hidden = self.encoder(input_variable, lengths)
            decoder_input = torch.full((1, x.shape[0]), SOS_token, dtype=torch.long, device=x.device)
            decoder_hidden = encoder_hidden[:self.decoder.n_layers]
            outputs = []
            for t in range(target_variable.shape[0]):  # use_teacher_forcing (ratio 1.0)
                decoder_output, decoder_hidden = self.decoder(decoder_input, decoder_hidden, encoder_outputs)
                decoder_input = target_variable[t].view(1, -1)
                outputs.append(decoder_output)
            return torch.stack(outputs, dim=1)  # (batch, steps, vocab)

    def maskNLLLoss(inp, target, mask):  # program lines
        nTotal = mask.sum()
        crossEntropy = -torch.log(torch.gather(inp, 1, target.view(-1, 1)))
        if squeeze:  # the fix (PR #382)
            crossEntropy = crossEntropy.squeeze(1)
        loss = crossEntropy.masked_select(mask).mean()
        return loss, nTotal.item()

    def loss_fn(outputs, target):
        mask = target != PAD_token  # binaryMatrix
        loss = 0
        for t in range(target.shape[1]):
            mask_loss, nTotal = maskNLLLoss(outputs[:, t], target[:, t], mask[:, t])
            loss += mask_loss
        return loss

    import numpy as np

    q, r = _pairs()
    x = torch.tensor(np.concatenate([q, r], axis=1))
    y = torch.tensor(r)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": Seq2Seq(), "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(squeeze=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(squeeze=True)
