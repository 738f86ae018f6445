"""d2l-ai/d2l-en, chapter "Natural Language Processing: Pretraining", sections "Bidirectional Encoder
Representations from Transformers (BERT)" (``bert.md``) and "Pretraining BERT" (``bert-pretraining.md``),
PyTorch tab: ``BERTEncoder`` (token + segment embeddings, a learnable positional embedding
``nn.Parameter(torch.randn(1, max_len, num_hiddens))``, ``num_layers`` d2l ``EncoderBlock``s with biases),
``MaskLM`` (MLP Linear -> ReLU -> LayerNorm -> Linear(vocab_size) on the encodings at the masked positions),
``NextSentencePred`` (Linear(2) on ``hidden`` = Linear + Tanh of the ``<cls>`` encoding), pretrained on
WikiText-2 with masked language modelling + next sentence prediction: ``BERTModel(len(vocab),
num_hiddens=128, norm_shape=[128], ffn_num_input=128, ffn_num_hiddens=256, num_heads=2, num_layers=2,
dropout=0.2, key_size=128, query_size=128, value_size=128, hid_in_features=128, mlm_in_features=128,
nsp_in_features=128)``, ``loss = nn.CrossEntropyLoss()``, ``torch.optim.Adam(net.parameters(), lr=1e-3)``,
``load_data_wiki(batch_size=512, max_len=64)``, ``_get_batch_loss_bert`` (MLM loss times the MLM weights,
summed, divided by the weights' sum, plus the NSP loss).
The fault is in ``BERTEncoder.forward``: ``X = X + self.pos_embedding.data[:, :X.shape[1], :]``. ``.data``
hands over the parameter's storage outside autograd, so the "learnable" positional embedding adds a constant:
no gradient ever reaches ``pos_embedding`` (its ``.grad`` stays ``None``) and Adam never changes it; the
model trains on with a frozen random positional code, which the loss alone does not reveal.

Source: github.com/d2l-ai/d2l-en PR #2121 ("Bug fixing for forward pass in PyTorch BERT"), fix commit
092a9f14674b3b8af3378b85a35529d1c76f27e3: ``self.pos_embedding.data[:, :X.shape[1], :]`` ->
``self.pos_embedding[:, :X.shape[1], :]`` in ``chapter_natural-language-processing-pretraining/bert.md`` and
``d2l/torch.py``. The bug came with the PyTorch port of BERT (PR #1549, d3486dfa, Nov 2020) and lived until
May 2022. Ported state: 9cc1b468^ (Dec 2021; ``d2l/torch.py`` ``BERTEncoder``, ``MaskLM``,
``NextSentencePred``, ``BERTModel``, ``EncoderBlock``, ``MultiHeadAttention``, ``DotProductAttention``,
``masked_softmax``/``sequence_mask``, ``AddNorm``, ``PositionWiseFFN``, ``get_tokens_and_segments``,
``_get_next_sentence``, ``_get_nsp_data_from_paragraph``, ``_replace_mlm_tokens``,
``_get_mlm_data_from_tokens``, ``_pad_bert_inputs``; ``bert-pretraining.md`` sizes, loss,
``_get_batch_loss_bert``, ``train_bert``), where the faulty line is the same as at 092a9f14^ and Adam's lr is
1e-3. Commit 9cc1b468 ("revise bert pretraining lr") raised it to 0.01 and the later ones swapped ``nn.Linear``
for ``nn.LazyLinear`` (same model). I did not use the 0.01 of 092a9f14^: with it my stand-in stalls at the
unigram level in both versions (measured below), so an overfit check would fail on the fixed program for a
reason that is not this fault.
Program lines kept: the classes and functions above (torch), the model sizes, ``max_len=1000`` of the
positional table, the loss (``nn.CrossEntropyLoss()`` with its default mean reduction, as in
``bert-pretraining.md`` then, so the weighted MLM term is the mean over all 10 prediction slots, padded ones
included), Adam lr 1e-3, ``max_len`` 64 of the inputs, and the data pipeline from paragraphs (50% true next
sentence, 15% of the tokens predicted, 80/10/10 mask/keep/random, padding to ``max_len`` and to
``round(0.15 * max_len)`` = 10 prediction slots), with lists and numpy instead of torch tensors.
Ported minimally: the model takes its four inputs packed in one int64 tensor
``[tokens (64) | segments (64) | valid_len (1) | pred_positions (10)]`` and returns one tensor
``[mlm_Y_hat flattened (10 * vocab) | nsp_Y_hat (2)]`` (logits); the targets are packed as
``[mlm_weights (10) | mlm_Y (10) | nsp_y (1)]`` (float32) and ``loss_fn`` unpacks them into
``_get_batch_loss_bert``'s lines. ``nn.DataParallel`` and the device moves are left out (CPU). The vocabulary
is 400 words (405 ids) instead of WikiText-2's ~20k and the batch 32 instead of 512, so a step stays near
60 ms on one CPU thread (batch 64 took 144 ms).
Data stand-in (WikiText-2 is a download): seeded synthetic paragraphs over 400 words "w0".."w399" in 8
topics; each topic has its own 50 words and a sparse first-order Markov chain (3 successors a word), a
paragraph is 4 to 7 sentences of 8 to 28 words of one topic. So a masked word can be inferred from its
neighbours (MLM signal) and a true next sentence shares the topic of its predecessor while a random one
mostly does not (NSP signal). Pairs of 20 to 57 tokens (mean 40), 6 real MLM predictions a pair on average,
51% true next sentences. The vocabulary is ``['<unk>', '<pad>', '<mask>', '<cls>', '<sep>']`` + the words, as
d2l's ``Vocab(..., reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])`` orders the reserved tokens (the
words in their own order, not by frequency). 6 batches of 32 sentence pairs.
Keras (my twin, d2l has no TensorFlow BERT): the same model in Keras 3; the positional table is an
``add_weight`` with ``RandomNormal(stddev=1)`` and the buggy model adds ``ops.stop_gradient(self.pos_embedding)``
(reading a variable outside the gradient tape, the twin of ``.data``); the embeddings are initialised
N(0, 1) like ``nn.Embedding``; attention uses ``layers.MultiHeadAttention`` (biases, 2 heads of 64) with the
key mask ``position < valid_len`` that d2l's ``masked_softmax`` applies; the loss returns each pair's mean
MLM cross-entropy over its 10 slots plus its NSP cross-entropy, so Keras' batch mean equals
``mlm_l + nsp_l``; ``Adam(learning_rate=1e-3)``.
Fault label: no_gradient|params_not_updated (``pos_embedding`` gets no gradient and never moves).
Fix (092a9f14): ``X = X + self.pos_embedding[:, :X.shape[1], :]`` (Keras: no ``stop_gradient``).

Symptom in a short loop (my own loops, seed 0, OMP_NUM_THREADS=1, train mode): the fault is structural and
the loss does not show it. Torch (``zero_grad; loss_fn(model(x), y).backward(); step``), cycling over the 6
batches, loss at steps 1/10/25/50/100/200/300/400: buggy 6.430, 4.507, 4.033, 2.975, 1.947, 0.593, 0.193,
0.252 (mean of the last 20: 0.214); fixed 6.430, 4.506, 4.026, 2.959, 1.934, 0.631, 0.247, 0.100 (0.145).
One batch, steps 1/10/25/50/100/200: buggy 6.430, 4.001, 2.046, 0.699, 0.100, 0.020; fixed 6.430, 3.995,
2.035, 0.693, 0.094, 0.020. After the first backward ``pos_embedding.grad`` is ``None`` in the buggy model
(norm 0.117 fixed); after 400 steps the largest change of ``pos_embedding`` is 0.0 buggy, 0.230 fixed (token
embedding 0.211 / 0.212). ~60 ms a step.
Keras (``train_on_batch``), cycling, steps 1/10/25/50/100/200/300/400: buggy 7.016, 4.613, 4.145, 3.497,
2.722, 1.239, 0.390, 0.226; fixed 7.016, 4.611, 4.144, 3.454, 2.660, 1.256, 0.379, 0.218; one batch, step 200:
0.022 both. ``tape.gradient`` for ``pos_embedding`` is ``None`` in the buggy model (norm 0.169 fixed), Keras
warns "Gradients do not exist for variables ['bert_model/pos_embedding']", and after 400 steps its largest
change is 0.0 buggy, 0.147 fixed. ~50-85 ms a step.
With the 0.01 of 092a9f14^ (torch, cycling, 300 steps) both stall: loss 4.29-4.49 for the buggy model, 4.47-4.49
for the fixed one from step 60 on, MLM cross-entropy on the real slots ~5.5-5.7 (ln 400 = 6.0), NSP at chance;
one batch, 300 steps: 3.5-4.3 both.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

LABEL = "no_gradient|params_not_updated"
SOURCE = ("github:d2l-ai/d2l-en PR #2121 (chapter_natural-language-processing-pretraining/bert.md BERTEncoder"
          "@092a9f14^, bert-pretraining.md, bert-dataset.md, d2l/torch.py; "
          "fix 092a9f14674b3b8af3378b85a35529d1c76f27e3)")
FRAMEWORKS = ("torch", "keras")
# the helper listed a params_update check, which the plugin does not have (the lead's prompt named it in
# error); the lead removed it before the table ran (gradients_flow is the check that looks for the fault)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

MAX_LEN = 64  # load_data_wiki(batch_size, max_len=64)
BATCH_SIZE = 32  # port: 512 in the program
N_BATCHES = 6
N_WORDS = 400  # port: WikiText-2 vocabulary of ~20k
NUM_HIDDENS, FFN_NUM_HIDDENS, NUM_HEADS, NUM_LAYERS, DROPOUT = 128, 256, 2, 2, 0.2
POS_TABLE_LEN = 1000  # BERTModel(..., max_len=1000) default
LR = 1e-3  # torch.optim.Adam(net.parameters(), lr=1e-3) at 9cc1b468^ (0.01 from 9cc1b468 on)
NUM_PREDS = round(MAX_LEN * 0.15)  # max_num_mlm_preds = 10


class _Vocab:
    """d2l.Vocab's lookups: '<unk>' first, then the reserved tokens, then the words."""

    def __init__(self, words: list[str]):
        self.idx_to_token = ['<unk>', '<pad>', '<mask>', '<cls>', '<sep>'] + words
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self.__getitem__(t) for t in tokens]


def _paragraphs(rng: np.random.Generator, n_paragraphs: int) -> list[list[list[str]]]:
    """Seeded stand-in for WikiText-2: topic paragraphs of Markov-chain sentences (tokenized)."""
    n_topics, per_topic = 8, N_WORDS // 8
    succ = {}
    for k in range(n_topics):
        words = np.arange(k * per_topic, (k + 1) * per_topic)
        for w in words:
            succ[int(w)] = (rng.choice(words, size=3, replace=False), rng.dirichlet(np.ones(3) * 0.5))
    paragraphs = []
    for _ in range(n_paragraphs):
        k = int(rng.integers(n_topics))
        paragraph = []
        for _ in range(int(rng.integers(4, 8))):
            w = int(rng.integers(k * per_topic, (k + 1) * per_topic))
            sentence = [w]
            for _ in range(int(rng.integers(8, 29)) - 1):
                nxt, p = succ[w]
                w = int(rng.choice(nxt, p=p))
                sentence.append(w)
            paragraph.append([f"w{i}" for i in sentence])
        paragraphs.append(paragraph)
    return paragraphs


# ---- d2l data pipeline (bert-dataset.md / d2l/torch.py @092a9f14^), lists instead of torch tensors ----
def get_tokens_and_segments(tokens_a, tokens_b=None):
    tokens = ['<cls>'] + tokens_a + ['<sep>']
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += tokens_b + ['<sep>']
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def _get_next_sentence(sentence, next_sentence, paragraphs):
    if random.random() < 0.5:
        is_next = True
    else:
        next_sentence = random.choice(random.choice(paragraphs))
        is_next = False
    return sentence, next_sentence, is_next


def _get_nsp_data_from_paragraph(paragraph, paragraphs, vocab, max_len):
    nsp_data_from_paragraph = []
    for i in range(len(paragraph) - 1):
        tokens_a, tokens_b, is_next = _get_next_sentence(paragraph[i], paragraph[i + 1], paragraphs)
        if len(tokens_a) + len(tokens_b) + 3 > max_len:
            continue
        tokens, segments = get_tokens_and_segments(tokens_a, tokens_b)
        nsp_data_from_paragraph.append((tokens, segments, is_next))
    return nsp_data_from_paragraph


def _replace_mlm_tokens(tokens, candidate_pred_positions, num_mlm_preds, vocab):
    mlm_input_tokens = [token for token in tokens]
    pred_positions_and_labels = []
    random.shuffle(candidate_pred_positions)
    for mlm_pred_position in candidate_pred_positions:
        if len(pred_positions_and_labels) >= num_mlm_preds:
            break
        masked_token = None
        if random.random() < 0.8:
            masked_token = '<mask>'
        else:
            if random.random() < 0.5:
                masked_token = tokens[mlm_pred_position]
            else:
                masked_token = random.choice(vocab.idx_to_token)
        mlm_input_tokens[mlm_pred_position] = masked_token
        pred_positions_and_labels.append((mlm_pred_position, tokens[mlm_pred_position]))
    return mlm_input_tokens, pred_positions_and_labels


def _get_mlm_data_from_tokens(tokens, vocab):
    candidate_pred_positions = []
    for i, token in enumerate(tokens):
        if token in ['<cls>', '<sep>']:
            continue
        candidate_pred_positions.append(i)
    num_mlm_preds = max(1, round(len(tokens) * 0.15))
    mlm_input_tokens, pred_positions_and_labels = _replace_mlm_tokens(
        tokens, candidate_pred_positions, num_mlm_preds, vocab)
    pred_positions_and_labels = sorted(pred_positions_and_labels, key=lambda x: x[0])
    pred_positions = [v[0] for v in pred_positions_and_labels]
    mlm_pred_labels = [v[1] for v in pred_positions_and_labels]
    return vocab[mlm_input_tokens], pred_positions, vocab[mlm_pred_labels]


def _pad_bert_inputs(examples, max_len, vocab):
    max_num_mlm_preds = round(max_len * 0.15)
    all_token_ids, all_segments, valid_lens, = [], [], []
    all_pred_positions, all_mlm_weights, all_mlm_labels = [], [], []
    nsp_labels = []
    for (token_ids, pred_positions, mlm_pred_label_ids, segments, is_next) in examples:
        all_token_ids.append(token_ids + [vocab['<pad>']] * (max_len - len(token_ids)))
        all_segments.append(segments + [0] * (max_len - len(segments)))
        valid_lens.append(len(token_ids))
        all_pred_positions.append(pred_positions + [0] * (max_num_mlm_preds - len(pred_positions)))
        all_mlm_weights.append([1.0] * len(mlm_pred_label_ids) + [0.0] * (
            max_num_mlm_preds - len(pred_positions)))
        all_mlm_labels.append(mlm_pred_label_ids + [0] * (max_num_mlm_preds - len(mlm_pred_label_ids)))
        nsp_labels.append(int(is_next))
    return (all_token_ids, all_segments, valid_lens, all_pred_positions,
            all_mlm_weights, all_mlm_labels, nsp_labels)


def _data(seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """(packed inputs int64 (B, 139), packed targets float32 (B, 21)) batches, and the vocabulary size."""
    rng = np.random.default_rng(seed)
    random.seed(seed)
    paragraphs = _paragraphs(rng, n_paragraphs=BATCH_SIZE * N_BATCHES // 3)
    random.shuffle(paragraphs)  # _read_wiki
    vocab = _Vocab([f"w{i}" for i in range(N_WORDS)])
    examples = []
    for paragraph in paragraphs:  # _WikiTextDataset.__init__
        examples.extend(_get_nsp_data_from_paragraph(paragraph, paragraphs, vocab, MAX_LEN))
    examples = [(_get_mlm_data_from_tokens(tokens, vocab) + (segments, is_next))
                for tokens, segments, is_next in examples]
    (tok, seg, vl, pos, w, lab, nsp) = _pad_bert_inputs(examples, MAX_LEN, vocab)
    x = np.concatenate([np.asarray(tok), np.asarray(seg), np.asarray(vl)[:, None], np.asarray(pos)],
                       axis=1).astype(np.int64)
    y = np.concatenate([np.asarray(w), np.asarray(lab), np.asarray(nsp)[:, None]], axis=1).astype(np.float32)
    order = np.random.default_rng(seed + 1).permutation(len(x))  # DataLoader(shuffle=True)
    x, y = x[order], y[order]
    assert len(x) >= BATCH_SIZE * N_BATCHES, len(x)
    batches = [(x[i * BATCH_SIZE:(i + 1) * BATCH_SIZE], y[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
               for i in range(N_BATCHES)]
    return batches, len(vocab)


def _unpack_x(x):
    return (x[:, :MAX_LEN], x[:, MAX_LEN:2 * MAX_LEN], x[:, 2 * MAX_LEN], x[:, 2 * MAX_LEN + 1:])


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    batches, vocab_size = _data()

    def masked_softmax(X, valid_lens):  # d2l.masked_softmax
        def _sequence_mask(X, valid_len, value=0):
            maxlen = X.size(1)
            mask = torch.arange((maxlen), dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
            X[~mask] = value
            return X

        if valid_lens is None:
            return nn.functional.softmax(X, dim=-1)
        shape = X.shape
        if valid_lens.dim() == 1:
            valid_lens = torch.repeat_interleave(valid_lens, shape[1])
        else:
            valid_lens = valid_lens.reshape(-1)
        X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
        return nn.functional.softmax(X.reshape(shape), dim=-1)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = masked_softmax(scores, valid_lens)
            return torch.bmm(self.dropout(self.attention_weights), values)

    class MultiHeadAttention(nn.Module):
        def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout, bias=False):
            super().__init__()
            self.num_heads = num_heads
            self.attention = DotProductAttention(dropout)
            self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
            self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
            self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
            self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

        def forward(self, queries, keys, values, valid_lens):
            queries = self.transpose_qkv(self.W_q(queries))
            keys = self.transpose_qkv(self.W_k(keys))
            values = self.transpose_qkv(self.W_v(values))
            if valid_lens is not None:
                valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
            output = self.attention(queries, keys, values, valid_lens)
            return self.W_o(self.transpose_output(output))

        def transpose_qkv(self, X):
            X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
            X = X.permute(0, 2, 1, 3)
            return X.reshape(-1, X.shape[2], X.shape[3])

        def transpose_output(self, X):
            X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
            X = X.permute(0, 2, 1, 3)
            return X.reshape(X.shape[0], X.shape[1], -1)

    class PositionWiseFFN(nn.Module):
        def __init__(self, ffn_num_input, ffn_num_hiddens, ffn_num_outputs):
            super().__init__()
            self.dense1 = nn.Linear(ffn_num_input, ffn_num_hiddens)
            self.relu = nn.ReLU()
            self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)

        def forward(self, X):
            return self.dense2(self.relu(self.dense1(X)))

    class AddNorm(nn.Module):
        def __init__(self, normalized_shape, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.ln = nn.LayerNorm(normalized_shape)

        def forward(self, X, Y):
            return self.ln(self.dropout(Y) + X)

    class EncoderBlock(nn.Module):
        def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
                     ffn_num_hiddens, num_heads, dropout, use_bias=False):
            super().__init__()
            self.attention = MultiHeadAttention(key_size, query_size, value_size, num_hiddens, num_heads, dropout,
                                                use_bias)
            self.addnorm1 = AddNorm(norm_shape, dropout)
            self.ffn = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
            self.addnorm2 = AddNorm(norm_shape, dropout)

        def forward(self, X, valid_lens):
            Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
            return self.addnorm2(Y, self.ffn(Y))

    class BERTEncoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens, num_heads,
                     num_layers, dropout, max_len=1000, key_size=768, query_size=768, value_size=768):
            super().__init__()
            self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
            self.segment_embedding = nn.Embedding(2, num_hiddens)
            self.blks = nn.Sequential()
            for i in range(num_layers):
                self.blks.add_module(f"{i}", EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape,
                                                          ffn_num_input, ffn_num_hiddens, num_heads, dropout, True))
            # In BERT, positional embeddings are learnable
            self.pos_embedding = nn.Parameter(torch.randn(1, max_len, num_hiddens))

        def forward(self, tokens, segments, valid_lens):
            X = self.token_embedding(tokens) + self.segment_embedding(segments)
            if fixed:
                X = X + self.pos_embedding[:, :X.shape[1], :]  # fix 092a9f14
            else:
                X = X + self.pos_embedding.data[:, :X.shape[1], :]  # the fault: .data, outside autograd
            for blk in self.blks:
                X = blk(X, valid_lens)
            return X

    class MaskLM(nn.Module):
        def __init__(self, vocab_size, num_hiddens, num_inputs=768):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(num_inputs, num_hiddens), nn.ReLU(), nn.LayerNorm(num_hiddens),
                                     nn.Linear(num_hiddens, vocab_size))

        def forward(self, X, pred_positions):
            num_pred_positions = pred_positions.shape[1]
            pred_positions = pred_positions.reshape(-1)
            batch_size = X.shape[0]
            batch_idx = torch.arange(0, batch_size)
            batch_idx = torch.repeat_interleave(batch_idx, num_pred_positions)
            masked_X = X[batch_idx, pred_positions]
            masked_X = masked_X.reshape((batch_size, num_pred_positions, -1))
            return self.mlp(masked_X)

    class NextSentencePred(nn.Module):
        def __init__(self, num_inputs):
            super().__init__()
            self.output = nn.Linear(num_inputs, 2)

        def forward(self, X):
            return self.output(X)

    class BERTModel(nn.Module):
        def __init__(self, vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens, num_heads,
                     num_layers, dropout, max_len=1000, key_size=768, query_size=768, value_size=768,
                     hid_in_features=768, mlm_in_features=768, nsp_in_features=768):
            super().__init__()
            self.encoder = BERTEncoder(vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens,
                                       num_heads, num_layers, dropout, max_len=max_len, key_size=key_size,
                                       query_size=query_size, value_size=value_size)
            self.hidden = nn.Sequential(nn.Linear(hid_in_features, num_hiddens), nn.Tanh())
            self.mlm = MaskLM(vocab_size, num_hiddens, mlm_in_features)
            self.nsp = NextSentencePred(nsp_in_features)

        def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
            encoded_X = self.encoder(tokens, segments, valid_lens)
            mlm_Y_hat = self.mlm(encoded_X, pred_positions) if pred_positions is not None else None
            nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
            return encoded_X, mlm_Y_hat, nsp_Y_hat

    class PackedBERT(BERTModel):  # port: the four inputs in one tensor, the two heads' logits in one
        def forward(self, x):
            tokens, segments, valid_lens, pred_positions = _unpack_x(x)
            _, mlm_Y_hat, nsp_Y_hat = super().forward(tokens, segments, valid_lens.float(), pred_positions)
            return torch.cat([mlm_Y_hat.reshape(x.shape[0], -1), nsp_Y_hat], dim=1)

    net = PackedBERT(vocab_size, num_hiddens=128, norm_shape=[128], ffn_num_input=128, ffn_num_hiddens=256,
                     num_heads=2, num_layers=2, dropout=0.2, key_size=128, query_size=128, value_size=128,
                     hid_in_features=128, mlm_in_features=128, nsp_in_features=128, max_len=POS_TABLE_LEN)
    tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    loss = nn.CrossEntropyLoss()

    def loss_fn(out, y):  # _get_batch_loss_bert on the packed output / targets
        mlm_Y_hat = out[:, :-2].reshape(out.shape[0], NUM_PREDS, vocab_size)
        nsp_Y_hat = out[:, -2:]
        mlm_weights_X, mlm_Y, nsp_y = y[:, :NUM_PREDS], y[:, NUM_PREDS:2 * NUM_PREDS].long(), y[:, -1].long()
        mlm_l = loss(mlm_Y_hat.reshape(-1, vocab_size), mlm_Y.reshape(-1)) * mlm_weights_X.reshape(-1, 1)
        mlm_l = mlm_l.sum() / (mlm_weights_X.sum() + 1e-8)
        nsp_l = loss(nsp_Y_hat, nsp_y)
        return mlm_l + nsp_l

    return {"model": net, "batch": tb[0], "batches": tb, "inputs": torch.cat([a for a, _ in tb[:2]]),
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=LR)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    batches, vocab_size = _data()
    kb = [(a.astype("int32"), b) for a, b in batches]

    class EncoderBlock(layers.Layer):  # d2l EncoderBlock(use_bias=True): MHA -> AddNorm -> FFN -> AddNorm
        def __init__(self, **kw):
            super().__init__(**kw)
            self.attention = layers.MultiHeadAttention(NUM_HEADS, NUM_HIDDENS // NUM_HEADS, dropout=DROPOUT)
            self.drop1, self.ln1 = layers.Dropout(DROPOUT), layers.LayerNormalization(epsilon=1e-5)
            self.dense1 = layers.Dense(FFN_NUM_HIDDENS, activation="relu")
            self.dense2 = layers.Dense(NUM_HIDDENS)
            self.drop2, self.ln2 = layers.Dropout(DROPOUT), layers.LayerNormalization(epsilon=1e-5)

        def call(self, X, mask, training=None):
            Y = self.ln1(self.drop1(self.attention(X, X, attention_mask=mask, training=training),
                                    training=training) + X)
            return self.ln2(self.drop2(self.dense2(self.dense1(Y)), training=training) + Y)

    class BERTModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.token_embedding = layers.Embedding(vocab_size, NUM_HIDDENS,
                                                    embeddings_initializer=keras.initializers.RandomNormal(0, 1))
            self.segment_embedding = layers.Embedding(2, NUM_HIDDENS,
                                                      embeddings_initializer=keras.initializers.RandomNormal(0, 1))
            self.blks = [EncoderBlock() for _ in range(NUM_LAYERS)]
            self.pos_embedding = self.add_weight(shape=(1, POS_TABLE_LEN, NUM_HIDDENS), name="pos_embedding",
                                                 initializer=keras.initializers.RandomNormal(0.0, 1.0))
            self.hidden = layers.Dense(NUM_HIDDENS, activation="tanh")
            self.mlm_1 = layers.Dense(NUM_HIDDENS, activation="relu")
            self.mlm_ln = layers.LayerNormalization(epsilon=1e-5)
            self.mlm_2 = layers.Dense(vocab_size)
            self.nsp = layers.Dense(2)

        def call(self, x, training=None):
            x = ops.cast(x, "int32")
            tokens, segments, valid_lens, pred_positions = _unpack_x(x)
            X = self.token_embedding(tokens) + self.segment_embedding(segments)
            pos = self.pos_embedding if fixed else ops.stop_gradient(self.pos_embedding)  # the fault's twin
            X = X + pos[:, :MAX_LEN, :]
            # masked_softmax: keys at positions >= valid_len are masked for every query
            key_ok = ops.arange(MAX_LEN)[None, :] < valid_lens[:, None]
            mask = ops.repeat(key_ok[:, None, :], MAX_LEN, axis=1)
            for blk in self.blks:
                X = blk(X, mask, training=training)
            masked_X = ops.take_along_axis(X, ops.repeat(pred_positions[:, :, None], NUM_HIDDENS, axis=2), axis=1)
            mlm_Y_hat = self.mlm_2(self.mlm_ln(self.mlm_1(masked_X)))
            nsp_Y_hat = self.nsp(self.hidden(X[:, 0, :]))
            return ops.concatenate([ops.reshape(mlm_Y_hat, (-1, NUM_PREDS * vocab_size)), nsp_Y_hat], axis=1)

    def bert_loss(y_true, y_pred):  # per pair: mean MLM CE over the 10 slots + NSP CE; batch mean = mlm_l + nsp_l
        mlm_Y_hat = ops.reshape(y_pred[:, :-2], (-1, NUM_PREDS, vocab_size))
        mlm_Y = ops.cast(y_true[:, NUM_PREDS:2 * NUM_PREDS], "int32")
        nsp_y = ops.cast(y_true[:, -1], "int32")
        mlm_l = keras.losses.sparse_categorical_crossentropy(mlm_Y, mlm_Y_hat, from_logits=True)
        nsp_l = keras.losses.sparse_categorical_crossentropy(nsp_y, y_pred[:, -2:], from_logits=True)
        return ops.mean(mlm_l, axis=1) + nsp_l

    model = BERTModel()
    model(kb[0][0])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=bert_loss)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": np.concatenate([a for a, _ in kb[:2]])}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fixed=False) if framework == "torch" else _keras(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fixed=True) if framework == "torch" else _keras(fixed=True)
