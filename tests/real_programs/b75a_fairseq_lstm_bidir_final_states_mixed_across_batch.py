"""facebookresearch/fairseq (the PyTorch sequence-to-sequence toolkit), ``fairseq/models/lstm.py``: the LSTM
translation model (``--arch lstm`` / ``lstm_wiseman_iwslt_de_en``) with ``--encoder-bidirectional``. ``LSTMEncoder``
embeds the left-padded source (``utils.convert_padding_direction`` turns it into right padding), packs it
(``pack_padded_sequence``) through a one-layer bidirectional ``nn.LSTM`` and returns the per-token outputs (the
attention memory) and the final hidden / cell states; ``LSTMDecoder`` starts its ``LSTMCell`` from those final
states (``prev_hiddens = [encoder_hiddens[i] ...]``), feeds the previous attention output back in (input feeding),
and ``AttentionLayer`` (dot-product over ``input_proj(hidden)``, padding masked with -inf, ``tanh(output_proj([ctx,
hidden]))``) gives each step's output, projected to the target vocabulary by ``fc_out``. Every weight is drawn
U(-0.1, 0.1) (``Embedding`` / ``LSTM`` / ``LSTMCell`` / ``Linear`` helpers), the pad embedding zeroed. The default
``cross_entropy`` criterion sums the token NLL over non-pad targets and the trainer divides by the token count.

The fault (a reshape that mixes the batch): to give the decoder states of width ``2 * hidden_size``, the bidirectional
encoder's ``final_hiddens`` / ``final_cells`` (``2 * num_layers x bsz x hidden``, forward and backward rows per layer)
were combined by ``torch.cat([outs[2 * i], outs[2 * i + 1]], dim=0).view(1, bsz, self.output_units)``: the
concatenation stacks the forward states of the whole batch on top of the backward states (``2 * bsz x hidden``), and
``view(1, bsz, 2 * hidden)`` then glues rows 2b and 2b + 1 together. Sentence b of the first half of the batch starts
its decoder from the forward states of sentences 2b and 2b + 1, the second half from backward states of other
sentences; only a batch of one is combined right. The decoder's initial state therefore carries another sentence's
summary (the attention memory is right, so the model can partly work around it), training and single-sentence
decoding see different states, and a sentence's translation depends on the batch it is in. Issue #239 ("Combine
outputs of bidirectional encoder": "the ``view`` method in the following function incorrectly mixes the outputs of
different samples in a batch"), Myle Ott: "Good catch, thank you! I've submitted a fix (#249)"; the same function was
copied into facebookresearch/LASER (issue #138 there).

Source: github.com/facebookresearch/fairseq ``fairseq/models/lstm.py`` at af38ed48^ (the combine came in with
bfcc6ec7398993c8156176fa8189ff917935785d "Fix bidirectional lstm", 2018-06-12), issue #239, PR #249, fix
af38ed48bb88cc489d1251e16519c7eef3a2fba7 (2018-08-16) ``return outs.view(self.num_layers, 2, bsz,
-1).transpose(1, 2).contiguous().view(self.num_layers, bsz, -1)``.
Fault label: batch_mixing (each sentence's decoder starts from final encoder states of other sentences of the batch).

Program lines kept: ``LSTMEncoder.forward`` (convert_padding_direction, embed, T x B x C, pack / LSTM from zero
states / unpack, the buggy / fixed ``combine_bidir``, ``encoder_padding_mask``), ``AttentionLayer``, ``LSTMDecoder``
(input feeding, ``LSTMCell`` layers, attention on the last layer's hidden, dropout on the hidden and on the output,
``fc_out``), the U(-0.1, 0.1) init helpers and the zeroed pad embedding; ``lstm_wiseman_iwslt_de_en``'s dropouts
(encoder in / out 0, decoder in 0, decoder out 0.1), one encoder and one decoder layer, attention on, no additional_fc
(hidden == out_embed_dim); fairseq's dictionary ids (pad 1, eos 2; sentences end with eos, sources left-padded,
targets right-padded, ``prev_output_tokens`` = eos + target[:-1]); the criterion as the per-token mean of the NLL over
non-pad targets; the optimiser of fairseq's own LSTM recipe (docs/tutorial_simple_lstm.rst, added 2018-09-03:
``--optimizer adam --lr 0.005``, torch Adam betas (0.9, 0.999), eps 1e-8) with the trainer's default ``--clip-norm
25`` (``train_step``: zero_grad, forward, loss, backward, clip_grad_norm_(25), step). ``--lr-shrink`` (on a
validation plateau) is not used. fairseq's default NAG (lr 0.25, momentum 0.99) diverged on the stand-in, fixed and
buggy alike, so the recipe's Adam is the training setup here.
Ported / shrunk: encoder embed 32 / hidden 16 (bidirectional: 32 output units), decoder embed 32 / hidden 32 /
out_embed 32 instead of 256 / 128 / 256 / 256 (the decoder asserts ``encoder_output_units == hidden_size``, so the
program needs ``--encoder-hidden-size`` half the decoder's), batches of 32 sentences instead of ``--max-tokens``
batches of hundreds, to keep a step at ~20 ms on one CPU thread. The model takes one LongTensor, the
source (13 columns) and ``prev_output_tokens`` (13 columns) side by side, and computes ``src_lengths`` from the pads;
``pack_padded_sequence(..., enforce_sorted=False)`` and ``pad_packed_sequence(..., total_length=srclen)`` so that a
sub-batch (not sorted by length, shorter than the longest source) runs; on fairseq's collated batches (sorted by
source length, padded to the longest) they give the same numbers. The model returns the logits (B x T x V).
Keras twin: the same model as a subclassed ``keras.Model`` (``Bidirectional(LSTM(16, return_sequences=True,
return_state=True))`` over the right-padded source with its pad mask, outputs zeroed at pads; ``LSTMCell(32)``
decoder loop with input feeding, the same attention and dropouts; all kernels, recurrent kernels and biases
U(-0.1, 0.1), ``unit_forget_bias=False``; one LSTM bias instead of torch's two), compiled with the masked token-mean
cross-entropy and ``Adam(0.005, epsilon=1e-8, global_clipnorm=25)``. Keras hands back the forward and backward final
states separately, and the buggy twin combines them with the same slip, ``reshape(concatenate([h_fwd, h_bwd],
axis=0), (bsz, 2 * hidden))`` (fixed: ``concatenate(..., axis=-1)``).
Data stand-in (no IWSLT download): a seeded synthetic "translation" task with fairseq's dictionary layout: 24 source
words (ids 4..27), sentences of 4..12 words + eos; the target is the source reversed with every word mapped through a
fixed random permutation to the 24 target words, + eos. ``batches``: 8 collated batches of 32 (sorted by descending
source length), ``batch`` the first; ``inputs``: 64 held-out sentences.

Measured (my own plain loops, /tmp/s48/h75_a/measure.py and seeds.py, OMP_NUM_THREADS=1, the module's builds,
loss_fn / train_step / optimizer; training = 1000 steps on random batches of 32 from a pool of 1,280 stand-in
sentences (each batch sorted like fairseq's collate); held-out 256 sentences, teacher-forced, evaluated in one batch
and one sentence at a time (as single-sentence translation runs); "acc" = token argmax accuracy on non-pad targets):
  batch dependence: logits of 16 held-out sentences alone vs in their batch, max |diff| after training torch buggy
    16.2, fixed 4.9e-5; Keras buggy 7.4, fixed 3.6e-5 (at init: 4.8e-3 / 7e-9 torch, 5.5e-3 / 7e-9 Keras).
  torch, torch seeds 0 / 1 / 2 / 3: final train loss (mean of the last 20 steps) buggy 0.013 / 0.021 / 0.075 /
    0.011, fixed 0.010 / 0.010 / 0.026 / 0.009; held-out NLL in one batch buggy 0.008 / 0.010 / 0.051 / 0.007,
    fixed 0.005 / 0.004 / 0.016 / 0.005; one sentence at a time buggy 0.073 / 0.030 / 0.280 / 0.080 (acc 0.982 /
    0.990 / 0.953 / 0.977), fixed 0.005 / 0.004 / 0.016 / 0.005 (acc 1.000 / 1.000 / 0.999 / 1.000). Early on the
    buggy runs were AHEAD (train loss at step 250 buggy 1.46 / 1.87 / 1.43 / 1.41, fixed 2.37 / 2.05 / 2.50 / 1.87).
  Keras (train_on_batch, seed 0): train loss steps 1-20 / 481-520 / last 20 buggy 3.240 / 0.153 / 0.260, fixed
    3.242 / 0.169 / 0.014; held-out NLL in one batch buggy 0.200 (acc 0.965), fixed 0.009 (acc 1.000); one at a
    time buggy 0.253 (acc 0.953), fixed 0.009 (acc 1.000).
  Module batches, fresh builds, 200 steps: one batch repeated, loss at steps 1 / 50 / 100 / 200 torch buggy 3.333 /
    2.795 / 2.112 / 0.399, fixed 3.333 / 2.825 / 2.181 / 0.843; Keras buggy 3.334 / 2.870 / 2.281 / 0.494, fixed
    3.334 / 2.940 / 2.328 / 0.536. Cycling the 8 batches: torch buggy 3.333 -> 1.869, fixed 3.333 -> 2.333; Keras
    buggy 3.334 -> 2.408, fixed 3.334 -> 2.476 (so the loss curves on the module's batches do NOT show the fault).
  So on this stand-in the attention memory lets the buggy model learn the task anyway (torch: final losses within
    a factor 1.2-3 of the fixed ones, Keras 0.26 vs 0.014 with a late rise); what shows every time is the batch
    coupling itself and the train / serve mismatch it causes: a sentence decoded alone (the one case combine_bidir
    gets right) is translated worse than in a training-like batch: 7-18x the fixed model's held-out NLL in torch.
  Time per step (batch 32, one thread, loaded machine): torch ~20 ms, Keras train_on_batch ~14-21 ms. Builds: first
    torch 1.6 s, Keras 5.1 s (imports, tracing); later builds ~0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "batch_mixing"
SOURCE = ("github:facebookresearch/fairseq issue #239, PR #249 (fairseq/models/lstm.py LSTMEncoder.forward "
          "combine_bidir 'torch.cat([outs[2 * i], outs[2 * i + 1]], dim=0).view(1, bsz, self.output_units)' "
          "@af38ed48^, fix af38ed48bb88cc489d1251e16519c7eef3a2fba7 'outs.view(self.num_layers, 2, bsz, "
          "-1).transpose(1, 2).contiguous().view(self.num_layers, bsz, -1)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

# fairseq Dictionary: index 0 '<Lua heritage>', pad 1, eos 2, unk 3, then the words
PAD, EOS = 1, 2
N_WORDS = 24
VOCAB = 4 + N_WORDS
SRC_LEN = 13  # up to 12 words + eos
TGT_LEN = 13
# lstm_wiseman_iwslt_de_en --encoder-bidirectional, shrunk (program: 256 / 128 / 256 / 256)
ENC_EMBED, ENC_HIDDEN = 32, 16
DEC_EMBED, DEC_HIDDEN, DEC_OUT_EMBED = 32, 32, 32
DECODER_DROPOUT_OUT = 0.1  # args.dropout; encoder dropouts and decoder_dropout_in are 0 in the wiseman arch
LR = 0.005  # docs/tutorial_simple_lstm.rst: --optimizer adam --lr 0.005
CLIP_NORM = 25.0  # options.py default --clip-norm
BATCH = 32
N_BATCHES = 8
N_INPUTS = 64
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _sentences(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n collated sentence pairs: left-padded sources (+ eos), prev_output_tokens (eos + target[:-1]) and targets
    (+ eos), right-padded, sorted by descending source length (language_pair_dataset.collate)."""
    r = np.random.default_rng(seed)
    perm = np.random.default_rng(123).permutation(N_WORDS)  # the fixed word "translation"
    src = np.full((n, SRC_LEN), PAD, np.int64)
    prev = np.full((n, TGT_LEN), PAD, np.int64)
    tgt = np.full((n, TGT_LEN), PAD, np.int64)
    lens = -np.sort(-r.integers(4, SRC_LEN, n))
    for i, length in enumerate(lens):
        w = r.integers(0, N_WORDS, length)
        s = [*(w + 4), EOS]
        src[i, SRC_LEN - len(s):] = s
        t = [*(perm[w[::-1]] + 4), EOS]
        tgt[i, :len(t)] = t
        prev[i, :len(t)] = [EOS, *t[:-1]]
    return src, prev, tgt


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    batches = []
    for k in range(N_BATCHES):
        src, prev, tgt = _sentences(BATCH, SEED + k)
        batches.append((np.concatenate([src, prev], axis=1), tgt))
    src, prev, _ = _sentences(N_INPUTS, SEED + 100)
    return batches, np.concatenate([src, prev], axis=1)


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def Embedding(num_embeddings, embedding_dim, padding_idx):
        m = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
        nn.init.uniform_(m.weight, -0.1, 0.1)
        nn.init.constant_(m.weight[padding_idx], 0)
        return m

    def LSTM(input_size, hidden_size, **kwargs):
        m = nn.LSTM(input_size, hidden_size, **kwargs)
        for name, param in m.named_parameters():
            if 'weight' in name or 'bias' in name:
                param.data.uniform_(-0.1, 0.1)
        return m

    def LSTMCell(input_size, hidden_size, **kwargs):
        m = nn.LSTMCell(input_size, hidden_size, **kwargs)
        for name, param in m.named_parameters():
            if 'weight' in name or 'bias' in name:
                param.data.uniform_(-0.1, 0.1)
        return m

    def Linear(in_features, out_features, bias=True):
        m = nn.Linear(in_features, out_features, bias=bias)
        m.weight.data.uniform_(-0.1, 0.1)
        if bias:
            m.bias.data.uniform_(-0.1, 0.1)
        return m

    def convert_padding_direction(src_tokens, padding_idx):  # utils.py, left_to_right=True
        pad_mask = src_tokens.eq(padding_idx)
        if not pad_mask.any() or not pad_mask[:, 0].any():
            return src_tokens
        max_len = src_tokens.size(1)
        rng = torch.arange(max_len).type_as(src_tokens).expand_as(src_tokens)
        num_pads = pad_mask.long().sum(dim=1, keepdim=True)
        return src_tokens.gather(1, torch.remainder(rng + num_pads, max_len))

    class LSTMEncoder(nn.Module):
        def __init__(self, embed_dim, hidden_size, num_layers=1, bidirectional=True, padding_value=0.):
            super().__init__()
            self.num_layers = num_layers
            self.bidirectional = bidirectional
            self.hidden_size = hidden_size
            self.padding_idx = PAD
            self.embed_tokens = Embedding(VOCAB, embed_dim, self.padding_idx)
            self.lstm = LSTM(input_size=embed_dim, hidden_size=hidden_size, num_layers=num_layers, dropout=0.,
                             bidirectional=bidirectional)
            self.padding_value = padding_value
            self.output_units = hidden_size * (2 if bidirectional else 1)

        def forward(self, src_tokens):
            src_tokens = convert_padding_direction(src_tokens, self.padding_idx)  # left_pad=True
            src_lengths = src_tokens.ne(self.padding_idx).sum(dim=1)
            bsz, seqlen = src_tokens.size()
            x = self.embed_tokens(src_tokens)  # dropout_in = 0
            x = x.transpose(0, 1)
            packed_x = nn.utils.rnn.pack_padded_sequence(x, src_lengths.tolist(), enforce_sorted=False)
            state_size = 2 * self.num_layers, bsz, self.hidden_size
            h0 = x.new_zeros(*state_size)
            c0 = x.new_zeros(*state_size)
            packed_outs, (final_hiddens, final_cells) = self.lstm(packed_x, (h0, c0))
            x, _ = nn.utils.rnn.pad_packed_sequence(packed_outs, padding_value=self.padding_value,
                                                    total_length=seqlen)  # dropout_out = 0
            if fixed:  # fix af38ed48 (#249)
                def combine_bidir(outs):
                    return outs.view(self.num_layers, 2, bsz, -1).transpose(1, 2).contiguous().view(
                        self.num_layers, bsz, -1)
            else:
                def combine_bidir(outs):
                    return torch.cat([
                        torch.cat([outs[2 * i], outs[2 * i + 1]], dim=0).view(1, bsz, self.output_units)
                        for i in range(self.num_layers)
                    ], dim=0)
            final_hiddens = combine_bidir(final_hiddens)
            final_cells = combine_bidir(final_cells)
            encoder_padding_mask = src_tokens.eq(self.padding_idx).t()
            return (x, final_hiddens, final_cells), (encoder_padding_mask if encoder_padding_mask.any() else None)

    class AttentionLayer(nn.Module):
        def __init__(self, input_embed_dim, output_embed_dim):
            super().__init__()
            self.input_proj = Linear(input_embed_dim, output_embed_dim, bias=False)
            self.output_proj = Linear(input_embed_dim + output_embed_dim, output_embed_dim, bias=False)

        def forward(self, input, source_hids, encoder_padding_mask):
            x = self.input_proj(input)
            attn_scores = (source_hids * x.unsqueeze(0)).sum(dim=2)
            if encoder_padding_mask is not None:
                attn_scores = attn_scores.float().masked_fill_(encoder_padding_mask, float('-inf'))
            attn_scores = F.softmax(attn_scores, dim=0)  # srclen x bsz
            x = (attn_scores.unsqueeze(2) * source_hids).sum(dim=0)
            x = torch.tanh(self.output_proj(torch.cat((x, input), dim=1)))
            return x, attn_scores

    class LSTMDecoder(nn.Module):
        def __init__(self, embed_dim, hidden_size, out_embed_dim, num_layers=1, dropout_out=0.1,
                     encoder_output_units=32):
            super().__init__()
            self.dropout_out = dropout_out
            self.hidden_size = hidden_size
            self.embed_tokens = Embedding(VOCAB, embed_dim, PAD)
            self.encoder_output_units = encoder_output_units
            assert encoder_output_units == hidden_size
            self.layers = nn.ModuleList([
                LSTMCell(input_size=encoder_output_units + embed_dim if layer == 0 else hidden_size,
                         hidden_size=hidden_size)
                for layer in range(num_layers)
            ])
            self.attention = AttentionLayer(encoder_output_units, hidden_size)
            self.fc_out = Linear(out_embed_dim, VOCAB)

        def forward(self, prev_output_tokens, encoder_out, encoder_padding_mask):
            bsz, seqlen = prev_output_tokens.size()
            encoder_outs, encoder_hiddens, encoder_cells = encoder_out
            x = self.embed_tokens(prev_output_tokens)  # dropout_in = 0
            x = x.transpose(0, 1)
            num_layers = len(self.layers)
            prev_hiddens = [encoder_hiddens[i] for i in range(num_layers)]
            prev_cells = [encoder_cells[i] for i in range(num_layers)]
            input_feed = x.new_zeros(bsz, self.encoder_output_units)
            outs = []
            for j in range(seqlen):
                input = torch.cat((x[j, :, :], input_feed), dim=1)
                for i, rnn in enumerate(self.layers):
                    hidden, cell = rnn(input, (prev_hiddens[i], prev_cells[i]))
                    input = F.dropout(hidden, p=self.dropout_out, training=self.training)
                    prev_hiddens[i] = hidden
                    prev_cells[i] = cell
                out, _ = self.attention(hidden, encoder_outs, encoder_padding_mask)
                out = F.dropout(out, p=self.dropout_out, training=self.training)
                input_feed = out
                outs.append(out)
            x = torch.cat(outs, dim=0).view(seqlen, bsz, self.hidden_size)
            x = x.transpose(1, 0)
            return self.fc_out(x)

    class LSTMModel(nn.Module):  # FairseqModel: decoder(prev_output_tokens, encoder(src_tokens, src_lengths))
        def __init__(self):
            super().__init__()
            self.encoder = LSTMEncoder(ENC_EMBED, ENC_HIDDEN, bidirectional=True)
            self.decoder = LSTMDecoder(DEC_EMBED, DEC_HIDDEN, DEC_OUT_EMBED, dropout_out=DECODER_DROPOUT_OUT,
                                       encoder_output_units=self.encoder.output_units)

        def forward(self, x):  # x: [src_tokens | prev_output_tokens]
            encoder_out, encoder_padding_mask = self.encoder(x[:, :SRC_LEN])
            return self.decoder(x[:, SRC_LEN:], encoder_out, encoder_padding_mask)

    torch.manual_seed(SEED)
    model = LSTMModel()

    def loss_fn(logits, target):  # criterions/cross_entropy.py, summed NLL / sample_size (= non-pad tokens)
        lprobs = F.log_softmax(logits, dim=-1).reshape(-1, logits.size(-1))
        return F.nll_loss(lprobs, target.reshape(-1), ignore_index=PAD, reduction="sum") / target.ne(PAD).sum()

    def train_step(model, opt, loss_fn, x, y):  # trainer.py: zero_grad, forward, backward, clip_grad_norm, step
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        return loss

    batches, inputs = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs), "loss_fn": loss_fn,
            "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, lr=LR, betas=(0.9, 0.999), eps=1e-8)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def uniform() -> Any:
        return keras.initializers.RandomUniform(-0.1, 0.1)

    class LSTMModel(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="fairseq_lstm")
            self.enc_embed = layers.Embedding(VOCAB, ENC_EMBED, embeddings_initializer=uniform())
            self.enc_lstm = layers.Bidirectional(layers.LSTM(
                ENC_HIDDEN, return_sequences=True, return_state=True, kernel_initializer=uniform(),
                recurrent_initializer=uniform(), bias_initializer=uniform(), unit_forget_bias=False))
            self.dec_embed = layers.Embedding(VOCAB, DEC_EMBED, embeddings_initializer=uniform())
            self.cell = layers.LSTMCell(DEC_HIDDEN, kernel_initializer=uniform(), recurrent_initializer=uniform(),
                                        bias_initializer=uniform(), unit_forget_bias=False)
            self.input_proj = layers.Dense(DEC_HIDDEN, use_bias=False, kernel_initializer=uniform())
            self.output_proj = layers.Dense(DEC_HIDDEN, use_bias=False, kernel_initializer=uniform())
            self.fc_out = layers.Dense(VOCAB, kernel_initializer=uniform(), bias_initializer=uniform())
            self.drop = layers.Dropout(DECODER_DROPOUT_OUT)

        def build(self, input_shape: Any) -> None:
            self.enc_embed.build((None, SRC_LEN))
            self.dec_embed.build((None, TGT_LEN))
            for emb in (self.enc_embed, self.dec_embed):  # the pad row starts at 0 (nn.init.constant_)
                w = np.array(emb.embeddings.numpy())
                w[PAD] = 0.0
                emb.embeddings.assign(w)
            super().build(input_shape)

        def call(self, x: Any, training: bool = False) -> Any:
            x = ops.cast(x, "int32")
            src, prev = x[:, :SRC_LEN], x[:, SRC_LEN:]
            num_pads = ops.sum(ops.cast(ops.equal(src, PAD), "int32"), axis=1, keepdims=True)
            index = ops.mod(ops.arange(SRC_LEN, dtype="int32")[None, :] + num_pads, SRC_LEN)
            src = ops.take_along_axis(src, index, axis=1)  # convert_padding_direction(left_to_right=True)
            mask = ops.not_equal(src, PAD)
            bsz = ops.shape(src)[0]
            enc, h_fwd, c_fwd, h_bwd, c_bwd = self.enc_lstm(self.enc_embed(src), mask=mask)
            enc = enc * ops.cast(mask[:, :, None], enc.dtype)  # pad_packed_sequence(padding_value=0.)
            units = 2 * ENC_HIDDEN
            if fixed:
                hidden = ops.concatenate([h_fwd, h_bwd], axis=-1)
                cell = ops.concatenate([c_fwd, c_bwd], axis=-1)
            else:  # the same slip: batch axis concatenation, then a view to (bsz, 2 * hidden)
                hidden = ops.reshape(ops.concatenate([h_fwd, h_bwd], axis=0), (bsz, units))
                cell = ops.reshape(ops.concatenate([c_fwd, c_bwd], axis=0), (bsz, units))
            emb = self.dec_embed(prev)
            input_feed = ops.zeros_like(hidden)
            outs = []
            for j in range(TGT_LEN):
                inp = ops.concatenate([emb[:, j, :], input_feed], axis=1)
                hidden, (hidden, cell) = self.cell(inp, [hidden, cell], training=training)
                q = self.input_proj(hidden)
                scores = ops.sum(enc * q[:, None, :], axis=2)
                scores = ops.where(mask, scores, float("-inf"))
                attn = ops.softmax(scores, axis=1)
                ctx = ops.sum(attn[:, :, None] * enc, axis=1)
                out = ops.tanh(self.output_proj(ops.concatenate([ctx, hidden], axis=1)))
                out = self.drop(out, training=training)
                input_feed = out
                outs.append(out)
            return self.fc_out(ops.stack(outs, axis=1))

    def cross_entropy(y_true: Any, logits: Any) -> Any:
        y = ops.cast(y_true, "int32")
        keep = ops.cast(ops.not_equal(y, PAD), "float32")
        nll = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        return ops.sum(nll * keep) / ops.sum(keep)

    model = LSTMModel()
    model.build((None, SRC_LEN + TGT_LEN))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8, global_clipnorm=CLIP_NORM),
                  loss=cross_entropy)
    batches, inputs = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
