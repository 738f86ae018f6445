"""jadore801120/attention-is-all-you-need-pytorch (mid-2017): the encoder-decoder Transformer of "Attention
Is All You Need" for translation (the README's WMT'16 Multi30k En->De), trained by ``train.py`` with
teacher forcing: ``Transformer.forward`` feeds the decoder ``tgt_seq[:, :-1]`` and ``train_epoch`` scores
the logits against ``gold = tgt[0][:, 1:]`` (position ``t`` must predict target token ``t + 1``), with a
causal ``get_attn_subsequent_mask`` in the decoder's self-attention.
The fault is in the hand-written ``LayerNormalization`` (``transformer/Modules.py``), used after every
attention and feed-forward sublayer on tensors of shape ``(batch, seq_len, d_model)``:
``mu = torch.mean(z, dim=1)``, ``sigma = torch.std(z, dim=1)``, i.e. the mean and standard deviation are
taken over the sequence positions (dim 1), per feature, instead of over the features of each position.
Every position's output is shifted and scaled by statistics of the whole sequence. In the decoder that
defeats the causal mask: the output at position ``t`` moves with the decoder inputs at ``t + 1, t + 2, ...``
-- the tokens it is trained to predict -- so teacher-forced training can read its own targets, and the
model that trains this way is not the one that decodes left to right at test time. (In the encoder it only
mixes positions of the same sentence.)

Source: github.com/jadore801120/attention-is-all-you-need-pytorch PR #17 ("Correct LayerNormalization",
ZiJianZhao, merged 4000a6dc15b9add6b4d90c5334bebf4e4362c33b: "the size of z is (batch_size, seq_len,
feature_dim). Your original implementation computes the mean and standard-deviation along the dimsion
seq_len. But the Layer Normalization should compute these values along the dimsion feature_dim"); fix
commit b40c2dac54ae04bab95d92b9d8d5b1c452846d25 (``dim=1`` -> ``dim=-1`` for both). Buggy program: the
repository at b40c2da^ (= ca8c7c0, "fix reshape error", which had reverted the author's own Bottle-based
attempt 9998386 'fix the layer normalization behavior'): ``transformer/Modules.py`` (``Linear``,
``Bottle``, ``ScaledDotProductAttention``, ``LayerNormalization``), ``transformer/SubLayers.py``
(``MultiHeadAttention``, ``PositionwiseFeedForward``), ``transformer/Layers.py``, ``transformer/Models.py``
(``position_encoding_init``, the masks, ``Encoder``, ``Decoder``, ``Transformer``), ``train.py``,
``DataLoader.py``.
Program lines kept: the model classes above (including the program's quirks: decoder layer ``i`` attends to
encoder layer ``i``'s output, the ``if z.size(1) == 1: return z`` shortcut, ``eps=1e-3`` added to sigma,
frozen sinusoid position tables with row 0 for PAD, ``proj_share_weight``/``embs_share_weight`` off as
``train.py``'s store_true flags default), ``CrossEntropyLoss(weight with PAD = 0, size_average=False)``
(summed over the batch's tokens), ``Adam(betas=(0.9, 0.98), eps=1e-09)`` over
``get_trainable_parameters()``, ``batch_size 64``, ``dropout 0.1``, the train step (``zero_grad``, forward,
loss, ``backward``, ``step``) and the DataLoader's positions (``pos_i + 1`` for tokens, 0 for PAD).
Ported minimally: PyTorch 0.1.12 reductions kept the reduced dim, so ``keepdim=True`` is written out in
both versions (buggy ``dim=1``, fixed ``dim=-1``; the fix's ``dim=-1`` only works with that semantics);
``init.xavier_normal`` -> ``xavier_normal_``; ``Bottle`` calls ``.contiguous()`` before ``view`` (PyTorch 0.1.12
returned contiguous results from the transposed feed-forward output; current PyTorch keeps its strides); ``attn.data.masked_fill_(mask, -inf)`` ->
``attn.masked_fill(mask, -inf)`` (same values and gradients); ``Variable`` dropped; the frozen position
tables get ``requires_grad = False`` (the program leaves them out of the optimizer instead); a thin wrapper
takes one batch-first id tensor ``[src | tgt]`` (the checks take a single input), computes the positions as
the DataLoader does, and returns ``(batch, tgt_len - 1, vocab)`` logits instead of the flattened
``(batch * (tgt_len - 1), vocab)``. The ``ScheduledOptim`` warm-up (lr ``d_model^-0.5 * min(step^-0.5,
step * 4000^-1.5)``, 1.7e-7 at step 1) cannot train in a check's few hundred steps: the optimizer runs at
the schedule's peak ``d_model^-0.5 * 4000^-0.5`` (2.0e-3 for the shrunk model) as a constant.
Sizes shrunk for one CPU thread: ``d_model = d_word_vec = 64`` (program 512), ``d_inner_hid 128`` (1024),
``n_head 4`` (8), ``d_k = d_v = 16`` (64), ``n_layers 2`` (6).
Data: Multi30k (downloaded and preprocessed by the program's ``preprocess.py``) is replaced by 512 seeded
sentence pairs: source sentences of 4-9 words from a Zipf-like 40-word vocabulary, targets the word-by-word
translation through a fixed dictionary onto 36 target words with the last source word moved to second place;
both wrapped in ``<s> ... </s>`` as ``preprocess.py`` does, ids 0-3 = PAD/UNK/BOS/EOS, padded to 11 (the
DataLoader pads each batch to its longest sentence). 8 batches of 64.
Keras twin: the same model in Keras 3 (the program's layers as custom layers; ``LayerNormalization`` takes
mean/std over axis 1 in the buggy version, axis -1 fixed), compiled with
``SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD, reduction="sum")`` and
``Adam(2.0e-3, beta_2=0.98, epsilon=1e-9)``.
Fault label: target_leakage (the decoder output at position ``t`` moves with the decoder input at ``t + 1``,
which is its own target). Fix (PR #17): ``mu = torch.mean(z, dim=-1)``, ``sigma = torch.std(z, dim=-1)``.
Observed (own loop: ``train_step`` / ``train_on_batch`` cycling over the first 7 batches, the 8th held out,
seed 0, OMP_NUM_THREADS=1; losses per target token, i.e. the program's summed loss / non-PAD tokens;
"prefix" = held-out loss of the prediction at positions 1-8 when the decoder is given only the target prefix
up to that position, PAD after it, as left-to-right decoding sees it; "leak" = largest change of the logits
at positions 0-4 when the target token at decoder position 5 is replaced, eval mode; ~0.05 s a step in both
frameworks). Torch buggy: leak 1.18 at initialisation (20.0 after training); train 4.23 (step 1) -> 0.89
(100) -> 0.25 (200) -> 0.053 (400), held-out teacher-forced 0.43 at 400, held-out prefix 4.70 -> 5.71 ->
7.85 -> 10.25 (it gets worse the more it trains: it learns to read its targets). Torch fixed: leak 0.0
(exactly) before and after; train 4.36 -> 1.48 -> 0.59 -> 0.28, held-out teacher-forced 0.67, prefix 3.71 ->
1.86 -> 1.32 -> 0.80. Keras buggy: leak 1.21 (17.3 trained); train 4.22 -> 0.89 -> 0.23 -> 0.077, prefix
4.70 -> 6.56 -> 8.17 -> 11.09; Keras fixed: leak 0.0; train 4.21 -> 1.43 -> 0.57 -> 0.14, prefix 3.72 ->
1.88 -> 1.38 -> 0.57. The training loss alone looks better for the buggy model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:jadore801120/attention-is-all-you-need-pytorch PR #17 (transformer/Modules.py "
          "LayerNormalization@b40c2da^ = ca8c7c0, transformer/SubLayers.py, Layers.py, Models.py, train.py, "
          "DataLoader.py; fix b40c2dac54ae04bab95d92b9d8d5b1c452846d25 'Correct LayerNormalization', merge "
          "4000a6dc15b9add6b4d90c5334bebf4e4362c33b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits"}), ("batch_independence", {})]

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # transformer/Constants.py
batch_size = 64  # -batch_size
d_model = 64  # program 512 (shrunk)
d_word_vec = d_model
d_inner_hid = 128  # program 1024
d_k = d_v = 16  # program 64
n_head = 4  # program 8
n_layers = 2  # program 6
dropout = 0.1
n_warmup_steps = 4000
lr = float(d_model ** -0.5 * n_warmup_steps ** -0.5)  # ScheduledOptim's peak, used as a constant
n_src_words, n_tgt_words = 40, 36
max_words = 9
seq_len = max_words + 2  # <s> + words + </s>
n_max_seq = seq_len
n_pairs = 512


def _corpus(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (src, tgt) id pairs, each (n_pairs, 11) PAD-padded, ``<s> ... </s>`` wrapped."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_src_words + 1) ** 0.8
    p /= p.sum()
    dictionary = np.concatenate([np.arange(n_tgt_words), rng.integers(0, n_tgt_words, n_src_words - n_tgt_words)])
    src = np.full((n_pairs, seq_len), PAD, dtype="int64")
    tgt = np.full((n_pairs, seq_len), PAD, dtype="int64")
    for i in range(n_pairs):
        n = int(rng.integers(4, max_words + 1))
        s = rng.choice(n_src_words, size=n, p=p)
        t = dictionary[s]
        t = np.concatenate([t[:1], t[-1:], t[1:-1]])  # last source word -> second target word
        src[i, :n + 2] = [BOS, *(s + 4), EOS]
        tgt[i, :n + 2] = [BOS, *(t + 4), EOS]
    return src, tgt


n_src_vocab, n_tgt_vocab = n_src_words + 4, n_tgt_words + 4


def _torch(fixed_ln: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.init as init

    torch.manual_seed(0)
    ln_dim = -1 if fixed_ln else 1

    # ---- transformer/Modules.py (program lines) ----
    class Linear(nn.Module):
        ''' Simple Linear layer with xavier init '''
        def __init__(self, d_in, d_out, bias=True):
            super(Linear, self).__init__()
            self.linear = nn.Linear(d_in, d_out, bias=bias)
            init.xavier_normal_(self.linear.weight)

        def forward(self, x):
            return self.linear(x)

    class Bottle(nn.Module):
        ''' Perform the reshape routine before and after an operation '''

        def forward(self, input):
            if len(input.size()) <= 2:
                return super(Bottle, self).forward(input)
            size = input.size()[:2]
            out = super(Bottle, self).forward(input.contiguous().view(size[0]*size[1], -1))  # port: .contiguous()
            return out.view(size[0], size[1], -1)

    class BottleLinear(Bottle, Linear):
        pass

    class BottleSoftmax(Bottle, nn.Softmax):
        pass

    class LayerNormalization(nn.Module):
        ''' Layer normalization module '''

        def __init__(self, d_hid, eps=1e-3):
            super(LayerNormalization, self).__init__()

            self.eps = eps
            self.a_2 = nn.Parameter(torch.ones(d_hid), requires_grad=True)
            self.b_2 = nn.Parameter(torch.zeros(d_hid), requires_grad=True)

        def forward(self, z):
            if z.size(1) == 1:
                return z

            # buggy: dim=1 (the sequence axis); fix (PR #17): dim=-1. keepdim as PyTorch 0.1.12 did.
            mu = torch.mean(z, dim=ln_dim, keepdim=True)
            sigma = torch.std(z, dim=ln_dim, keepdim=True)
            ln_out = (z - mu.expand_as(z)) / (sigma.expand_as(z) + self.eps)
            ln_out = ln_out * self.a_2.expand_as(ln_out) + self.b_2.expand_as(ln_out)

            return ln_out

    class ScaledDotProductAttention(nn.Module):
        ''' Scaled Dot-Product Attention '''

        def __init__(self, d_model, attn_dropout=0.1):
            super(ScaledDotProductAttention, self).__init__()
            self.temper = np.power(d_model, 0.5)
            self.dropout = nn.Dropout(attn_dropout)
            self.softmax = BottleSoftmax(dim=-1)

        def forward(self, q, k, v, attn_mask=None):

            attn = torch.bmm(q, k.transpose(1, 2)) / self.temper

            if attn_mask is not None:
                assert attn_mask.size() == attn.size()
                attn = attn.masked_fill(attn_mask, -float('inf'))  # program: attn.data.masked_fill_

            attn = self.softmax(attn)
            attn = self.dropout(attn)
            output = torch.bmm(attn, v)

            return output, attn

    # ---- transformer/SubLayers.py (program lines) ----
    class MultiHeadAttention(nn.Module):
        ''' Multi-Head Attention module '''

        def __init__(self, n_head, d_model, d_k, d_v, dropout=0.1):
            super(MultiHeadAttention, self).__init__()

            self.n_head = n_head
            self.d_k = d_k
            self.d_v = d_v

            self.w_qs = nn.Parameter(torch.FloatTensor(n_head, d_model, d_k))
            self.w_ks = nn.Parameter(torch.FloatTensor(n_head, d_model, d_k))
            self.w_vs = nn.Parameter(torch.FloatTensor(n_head, d_model, d_v))

            self.attention = ScaledDotProductAttention(d_model)
            self.layer_norm = LayerNormalization(d_model)
            self.proj = BottleLinear(n_head*d_v, d_model)

            self.dropout = nn.Dropout(dropout)

            init.xavier_normal_(self.w_qs)
            init.xavier_normal_(self.w_ks)
            init.xavier_normal_(self.w_vs)

        def forward(self, q, k, v, attn_mask=None):

            d_k, d_v = self.d_k, self.d_v
            n_head = self.n_head

            residual = q

            mb_size, len_q, d_model = q.size()
            mb_size, len_k, d_model = k.size()
            mb_size, len_v, d_model = v.size()

            # treat as a (n_head) size batch
            q_s = q.repeat(n_head, 1, 1).view(n_head, -1, d_model)  # n_head x (mb_size*len_q) x d_model
            k_s = k.repeat(n_head, 1, 1).view(n_head, -1, d_model)  # n_head x (mb_size*len_k) x d_model
            v_s = v.repeat(n_head, 1, 1).view(n_head, -1, d_model)  # n_head x (mb_size*len_v) x d_model

            # treat the result as a (n_head * mb_size) size batch
            q_s = torch.bmm(q_s, self.w_qs).view(-1, len_q, d_k)   # (n_head*mb_size) x len_q x d_k
            k_s = torch.bmm(k_s, self.w_ks).view(-1, len_k, d_k)   # (n_head*mb_size) x len_k x d_k
            v_s = torch.bmm(v_s, self.w_vs).view(-1, len_v, d_v)   # (n_head*mb_size) x len_v x d_v

            # perform attention, result size = (n_head * mb_size) x len_q x d_v
            outputs, attns = self.attention(q_s, k_s, v_s, attn_mask=attn_mask.repeat(n_head, 1, 1))

            # back to original mb_size batch, result size = mb_size x len_q x (n_head*d_v)
            outputs = torch.cat(torch.split(outputs, mb_size, dim=0), dim=-1)

            # project back to residual size
            outputs = self.proj(outputs)
            outputs = self.dropout(outputs)

            return self.layer_norm(outputs + residual), attns

    class PositionwiseFeedForward(nn.Module):
        ''' A two-feed-forward-layer module '''

        def __init__(self, d_hid, d_inner_hid, dropout=0.1):
            super(PositionwiseFeedForward, self).__init__()
            self.w_1 = nn.Conv1d(d_hid, d_inner_hid, 1)  # position-wise
            self.w_2 = nn.Conv1d(d_inner_hid, d_hid, 1)  # position-wise
            self.layer_norm = LayerNormalization(d_hid)
            self.dropout = nn.Dropout(dropout)
            self.relu = nn.ReLU()

        def forward(self, x):
            residual = x
            output = self.relu(self.w_1(x.transpose(1, 2)))
            output = self.w_2(output).transpose(2, 1)
            output = self.dropout(output)
            return self.layer_norm(output + residual)

    # ---- transformer/Layers.py (program lines) ----
    class EncoderLayer(nn.Module):
        def __init__(self, d_model, d_inner_hid, n_head, d_k, d_v, dropout=0.1):
            super(EncoderLayer, self).__init__()
            self.slf_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout=dropout)
            self.pos_ffn = PositionwiseFeedForward(d_model, d_inner_hid, dropout=dropout)

        def forward(self, enc_input, slf_attn_mask=None):
            enc_output, enc_slf_attn = self.slf_attn(enc_input, enc_input, enc_input, attn_mask=slf_attn_mask)
            enc_output = self.pos_ffn(enc_output)
            return enc_output, enc_slf_attn

    class DecoderLayer(nn.Module):
        def __init__(self, d_model, d_inner_hid, n_head, d_k, d_v, dropout=0.1):
            super(DecoderLayer, self).__init__()
            self.slf_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout=dropout)
            self.enc_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout=dropout)
            self.pos_ffn = PositionwiseFeedForward(d_model, d_inner_hid, dropout=dropout)

        def forward(self, dec_input, enc_output, slf_attn_mask=None, dec_enc_attn_mask=None):
            dec_output, dec_slf_attn = self.slf_attn(dec_input, dec_input, dec_input, attn_mask=slf_attn_mask)
            dec_output, dec_enc_attn = self.enc_attn(dec_output, enc_output, enc_output,
                                                     attn_mask=dec_enc_attn_mask)
            dec_output = self.pos_ffn(dec_output)
            return dec_output, dec_slf_attn, dec_enc_attn

    # ---- transformer/Models.py (program lines) ----
    def position_encoding_init(n_position, d_pos_vec):
        ''' Init the sinusoid position encoding table '''
        # keep dim 0 for padding token position encoding zero vector
        position_enc = np.array([
            [pos / np.power(10000, 2*i/d_pos_vec) for i in range(d_pos_vec)]
            if pos != 0 else np.zeros(d_pos_vec) for pos in range(n_position)])
        position_enc[1:, 0::2] = np.sin(position_enc[1:, 0::2])  # dim 2i
        position_enc[1:, 1::2] = np.cos(position_enc[1:, 1::2])  # dim 2i+1
        return torch.from_numpy(position_enc).type(torch.FloatTensor)

    def get_attn_padding_mask(seq_q, seq_k):
        ''' Indicate the padding-related part to mask '''
        assert seq_q.dim() == 2 and seq_k.dim() == 2
        mb_size, len_q = seq_q.size()
        mb_size, len_k = seq_k.size()
        pad_attn_mask = seq_k.data.eq(PAD).unsqueeze(1)   # bx1xsk
        pad_attn_mask = pad_attn_mask.expand(mb_size, len_q, len_k)  # bxsqxsk
        return pad_attn_mask

    def get_attn_subsequent_mask(seq):
        ''' Get an attention mask to avoid using the subsequent info.'''
        assert seq.dim() == 2
        attn_shape = (seq.size(0), seq.size(1), seq.size(1))
        subsequent_mask = np.triu(np.ones(attn_shape), k=1).astype('uint8')
        return torch.from_numpy(subsequent_mask)

    class Encoder(nn.Module):
        def __init__(self, n_src_vocab, n_max_seq, n_layers=6, n_head=8, d_k=64, d_v=64,
                     d_word_vec=512, d_model=512, d_inner_hid=1024, dropout=0.1):
            super(Encoder, self).__init__()
            n_position = n_max_seq + 1
            self.n_max_seq = n_max_seq
            self.d_model = d_model
            self.position_enc = nn.Embedding(n_position, d_word_vec, padding_idx=PAD)
            self.position_enc.weight.data = position_encoding_init(n_position, d_word_vec)
            self.position_enc.weight.requires_grad = False  # program: left out of the optimizer
            self.src_word_emb = nn.Embedding(n_src_vocab, d_word_vec, padding_idx=PAD)
            self.layer_stack = nn.ModuleList([
                EncoderLayer(d_model, d_inner_hid, n_head, d_k, d_v, dropout=dropout)
                for _ in range(n_layers)])

        def forward(self, src_seq, src_pos):
            enc_input = self.src_word_emb(src_seq)
            enc_input += self.position_enc(src_pos)
            enc_outputs, enc_slf_attns = [], []
            enc_output = enc_input
            enc_slf_attn_mask = get_attn_padding_mask(src_seq, src_seq)
            for enc_layer in self.layer_stack:
                enc_output, enc_slf_attn = enc_layer(enc_output, slf_attn_mask=enc_slf_attn_mask)
                enc_outputs += [enc_output]
                enc_slf_attns += [enc_slf_attn]
            return enc_outputs, enc_slf_attns

    class Decoder(nn.Module):
        def __init__(self, n_tgt_vocab, n_max_seq, n_layers=6, n_head=8, d_k=64, d_v=64,
                     d_word_vec=512, d_model=512, d_inner_hid=1024, dropout=0.1):
            super(Decoder, self).__init__()
            n_position = n_max_seq + 1
            self.n_max_seq = n_max_seq
            self.d_model = d_model
            self.position_enc = nn.Embedding(n_position, d_word_vec, padding_idx=PAD)
            self.position_enc.weight.data = position_encoding_init(n_position, d_word_vec)
            self.position_enc.weight.requires_grad = False  # program: left out of the optimizer
            self.tgt_word_emb = nn.Embedding(n_tgt_vocab, d_word_vec, padding_idx=PAD)
            self.dropout = nn.Dropout(dropout)
            self.layer_stack = nn.ModuleList([
                DecoderLayer(d_model, d_inner_hid, n_head, d_k, d_v, dropout=dropout)
                for _ in range(n_layers)])

        def forward(self, tgt_seq, tgt_pos, src_seq, enc_outputs):
            dec_input = self.tgt_word_emb(tgt_seq)
            dec_input += self.position_enc(tgt_pos)
            dec_outputs, dec_slf_attns, dec_enc_attns = [], [], []
            dec_slf_attn_pad_mask = get_attn_padding_mask(tgt_seq, tgt_seq)
            dec_slf_attn_sub_mask = get_attn_subsequent_mask(tgt_seq)
            dec_slf_attn_mask = torch.gt(dec_slf_attn_pad_mask + dec_slf_attn_sub_mask, 0)
            dec_enc_attn_pad_mask = get_attn_padding_mask(tgt_seq, src_seq)
            dec_output = dec_input
            for dec_layer, enc_output in zip(self.layer_stack, enc_outputs):
                dec_output, dec_slf_attn, dec_enc_attn = dec_layer(
                    dec_output, enc_output, slf_attn_mask=dec_slf_attn_mask,
                    dec_enc_attn_mask=dec_enc_attn_pad_mask)
                dec_outputs += [dec_output]
                dec_slf_attns += [dec_slf_attn]
                dec_enc_attns += [dec_enc_attn]
            return dec_outputs, dec_slf_attns, dec_enc_attns

    class Transformer(nn.Module):
        def __init__(self, n_src_vocab, n_tgt_vocab, n_max_seq, n_layers=6, n_head=8,
                     d_word_vec=512, d_model=512, d_inner_hid=1024, d_k=64, d_v=64,
                     dropout=0.1, proj_share_weight=True, embs_share_weight=True):
            super(Transformer, self).__init__()
            self.encoder = Encoder(n_src_vocab, n_max_seq, n_layers=n_layers, n_head=n_head, d_k=d_k, d_v=d_v,
                                   d_word_vec=d_word_vec, d_model=d_model, d_inner_hid=d_inner_hid,
                                   dropout=dropout)
            self.decoder = Decoder(n_tgt_vocab, n_max_seq, n_layers=n_layers, n_head=n_head, d_k=d_k, d_v=d_v,
                                   d_word_vec=d_word_vec, d_model=d_model, d_inner_hid=d_inner_hid,
                                   dropout=dropout)
            self.tgt_word_proj = BottleLinear(d_model, n_tgt_vocab, bias=False)
            self.dropout = nn.Dropout(dropout)
            if proj_share_weight:
                self.tgt_word_proj.linear.weight = self.decoder.tgt_word_emb.weight
            if embs_share_weight:
                self.encoder.src_word_emb.weight = self.decoder.tgt_word_emb.weight

        def forward(self, src, tgt):
            src_seq, src_pos = src
            tgt_seq, tgt_pos = tgt
            tgt_seq = tgt_seq[:, :-1]
            tgt_pos = tgt_pos[:, :-1]
            enc_outputs, enc_slf_attns = self.encoder(src_seq, src_pos)
            dec_outputs, dec_slf_attns, dec_enc_attns = self.decoder(tgt_seq, tgt_pos, src_seq, enc_outputs)
            dec_output = dec_outputs[-1]
            seq_logit = self.tgt_word_proj(dec_output)
            return seq_logit.view(-1, seq_logit.size(2))

    class TrainForward(nn.Module):
        """``model(src, tgt)`` on one batch-first id tensor ``[src | tgt]`` (B, 2 * 11); positions as
        ``DataLoader.pad_to_longest`` makes them; returns (B, 10, n_tgt_vocab) logits."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            src_seq, tgt_seq = x[:, :seq_len], x[:, seq_len:]

            def pos(seq):
                return (torch.arange(1, seq.size(1) + 1).unsqueeze(0) * seq.ne(PAD)).long()

            logits = self.model((src_seq, pos(src_seq)), (tgt_seq, pos(tgt_seq)))
            return logits.view(x.size(0), tgt_seq.size(1) - 1, -1)

    model = TrainForward(Transformer(
        n_src_vocab, n_tgt_vocab, n_max_seq, proj_share_weight=False, embs_share_weight=False,
        d_k=d_k, d_v=d_v, d_model=d_model, d_word_vec=d_word_vec, d_inner_hid=d_inner_hid,
        n_layers=n_layers, n_head=n_head, dropout=dropout))

    weight = torch.ones(n_tgt_vocab)  # get_criterion: PAD token zero weight, summed
    weight[PAD] = 0
    crit = nn.CrossEntropyLoss(weight, reduction="sum")

    def loss_fn(pred, gold):  # get_performance: crit(pred, gold.contiguous().view(-1))
        return crit(pred.reshape(-1, n_tgt_vocab), gold.contiguous().view(-1))

    def train_step(model, optimizer, loss_fn, x, gold):  # train_epoch loop body (no lr schedule)
        optimizer.zero_grad()
        pred = model(x)
        loss = loss_fn(pred, gold)
        loss.backward()
        optimizer.step()
        return loss

    src, tgt = _corpus()
    x = torch.from_numpy(np.concatenate([src, tgt], axis=1))
    y = torch.from_numpy(tgt[:, 1:].copy())
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_pairs, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:64], "loss_fn": loss_fn,
            "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.98), eps=1e-09)}


def _keras(fixed_ln: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    ln_axis = -1 if fixed_ln else 1

    def xavier(shape):  # torch.nn.init.xavier_normal_ fans
        recept = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[1] * recept, shape[0] * recept
        return keras.initializers.RandomNormal(stddev=float(np.sqrt(2.0 / (fan_in + fan_out))))

    class LayerNormalization(layers.Layer):  # Modules.LayerNormalization
        def __init__(self, d_hid, eps=1e-3, **kw):
            super().__init__(**kw)
            self.eps = eps
            self.a_2 = self.add_weight(shape=(d_hid,), initializer="ones", name="a_2")
            self.b_2 = self.add_weight(shape=(d_hid,), initializer="zeros", name="b_2")

        def call(self, z):
            n = ops.shape(z)[ln_axis]
            mu = ops.mean(z, axis=ln_axis, keepdims=True)  # buggy: axis 1 (sequence); fixed: -1
            sigma = ops.sqrt(ops.sum(ops.square(z - mu), axis=ln_axis, keepdims=True) / (n - 1))  # torch.std
            ln_out = (z - mu) / (sigma + self.eps)
            return ln_out * self.a_2 + self.b_2

    class MultiHeadAttention(layers.Layer):  # SubLayers.MultiHeadAttention + ScaledDotProductAttention
        def __init__(self, n_head, d_model, d_k, d_v, dropout=0.1, **kw):
            super().__init__(**kw)
            self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
            self.temper = float(np.power(d_model, 0.5))
            self.w_qs = self.add_weight(shape=(n_head, d_model, d_k), initializer=xavier((n_head, d_model, d_k)),
                                        name="w_qs")
            self.w_ks = self.add_weight(shape=(n_head, d_model, d_k), initializer=xavier((n_head, d_model, d_k)),
                                        name="w_ks")
            self.w_vs = self.add_weight(shape=(n_head, d_model, d_v), initializer=xavier((n_head, d_model, d_v)),
                                        name="w_vs")
            self.attn_dropout = layers.Dropout(dropout)
            self.proj = layers.Dense(d_model, kernel_initializer=xavier((d_model, n_head * d_v)))
            self.dropout = layers.Dropout(dropout)
            self.layer_norm = LayerNormalization(d_model)

        def call(self, q, k, v, attn_mask, training=None):
            residual = q
            q_s = ops.einsum("bld,hdk->hblk", q, self.w_qs)
            k_s = ops.einsum("bld,hdk->hblk", k, self.w_ks)
            v_s = ops.einsum("bld,hdk->hblk", v, self.w_vs)
            attn = ops.einsum("hbqk,hbsk->hbqs", q_s, k_s) / self.temper
            attn = ops.where(attn_mask[None], -np.inf, attn)
            attn = ops.softmax(attn, axis=-1)
            attn = self.attn_dropout(attn, training=training)
            out = ops.einsum("hbqs,hbsv->hbqv", attn, v_s)
            out = ops.concatenate([out[i] for i in range(self.n_head)], axis=-1)  # heads side by side
            out = self.dropout(self.proj(out), training=training)
            return self.layer_norm(out + residual)

    class PositionwiseFeedForward(layers.Layer):  # Conv1d(kernel 1) == Dense per position
        def __init__(self, d_hid, d_inner_hid, dropout=0.1, **kw):
            super().__init__(**kw)
            self.w_1 = layers.Dense(d_inner_hid, activation="relu")
            self.w_2 = layers.Dense(d_hid)
            self.dropout = layers.Dropout(dropout)
            self.layer_norm = LayerNormalization(d_hid)

        def call(self, x, training=None):
            out = self.dropout(self.w_2(self.w_1(x)), training=training)
            return self.layer_norm(out + x)

    def position_encoding_init(n_position, d_pos_vec):
        position_enc = np.array([
            [pos / np.power(10000, 2*i/d_pos_vec) for i in range(d_pos_vec)]
            if pos != 0 else np.zeros(d_pos_vec) for pos in range(n_position)])
        position_enc[1:, 0::2] = np.sin(position_enc[1:, 0::2])
        position_enc[1:, 1::2] = np.cos(position_enc[1:, 1::2])
        return position_enc.astype("float32")

    class Transformer(layers.Layer):  # Models.Transformer (+ the TrainForward wrapper of the torch port)
        def __init__(self, **kw):
            super().__init__(**kw)
            self.src_word_emb = layers.Embedding(n_src_vocab, d_word_vec,
                                                 embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
            self.tgt_word_emb = layers.Embedding(n_tgt_vocab, d_word_vec,
                                                 embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
            self.pos_table = position_encoding_init(n_max_seq + 1, d_word_vec)  # frozen
            self.enc = [(MultiHeadAttention(n_head, d_model, d_k, d_v, dropout),
                         PositionwiseFeedForward(d_model, d_inner_hid, dropout)) for _ in range(n_layers)]
            self.dec = [(MultiHeadAttention(n_head, d_model, d_k, d_v, dropout),
                         MultiHeadAttention(n_head, d_model, d_k, d_v, dropout),
                         PositionwiseFeedForward(d_model, d_inner_hid, dropout)) for _ in range(n_layers)]
            self.tgt_word_proj = layers.Dense(n_tgt_vocab, use_bias=False,
                                              kernel_initializer=xavier((n_tgt_vocab, d_model)))

        def embed(self, emb, seq):
            nonpad = ops.cast(ops.not_equal(seq, PAD), "float32")
            pos = ops.cast(ops.arange(1, ops.shape(seq)[1] + 1)[None, :] * ops.cast(nonpad, "int32"), "int32")
            pe = ops.take(ops.convert_to_tensor(self.pos_table), pos, axis=0)
            return emb(seq) * nonpad[..., None] + pe  # padding_idx=PAD rows are zero

        def call(self, x, training=None):
            src_seq, tgt_seq = x[:, :seq_len], x[:, seq_len:][:, :-1]
            src_pad = ops.equal(src_seq, PAD)
            tgt_pad = ops.equal(tgt_seq, PAD)
            lt = ops.shape(tgt_seq)[1]
            enc_mask = ops.broadcast_to(src_pad[:, None, :], (ops.shape(src_seq)[0], seq_len, seq_len))
            sub = ops.triu(ops.ones((lt, lt)), k=1) > 0
            dec_slf_mask = ops.logical_or(tgt_pad[:, None, :], sub[None])
            dec_enc_mask = ops.broadcast_to(src_pad[:, None, :], (ops.shape(src_seq)[0], lt, seq_len))
            h = self.embed(self.src_word_emb, src_seq)
            enc_outputs = []
            for attn, ffn in self.enc:
                h = ffn(attn(h, h, h, enc_mask, training=training), training=training)
                enc_outputs.append(h)
            d = self.embed(self.tgt_word_emb, tgt_seq)
            for (slf, ea, ffn), enc_output in zip(self.dec, enc_outputs):
                d = slf(d, d, d, dec_slf_mask, training=training)
                d = ea(d, enc_output, enc_output, dec_enc_mask, training=training)
                d = ffn(d, training=training)
            return self.tgt_word_proj(d)

    inp = keras.Input((2 * seq_len,), dtype="int32")
    model = keras.Model(inp, Transformer()(inp))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.98, epsilon=1e-9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD,
                                                                  reduction="sum"))
    src, tgt = _corpus()
    x = np.concatenate([src, tgt], axis=1).astype("int32")
    y = tgt[:, 1:].astype("int32")
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_pairs, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:64]}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
