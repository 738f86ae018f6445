"""nyu-mll/jiant (the NYU "jiant" sentence-representation toolkit), January 2019: BERT support (PR #452, a12d5e00 "BERT
encoder module") and ``config/edgeprobe_bert.conf`` (PR #460) for edge probing of BERT (Tenney et al.'s span
classification tasks over the token states of a pretrained encoder). The program: ``src/bert/utils.py``
``BertEmbedderModule`` wraps pytorch-pretrained-BERT's ``BertModel.from_pretrained(bert_model_name)``; its forward
copies the AllenNLP ids (0 = padding, 1 = @@UNKNOWN@@, BERT WordPiece id + 2 otherwise) into a block of exactly
``max_seq_len`` ids, builds the attention mask, shifts the ids back to BERT's and returns the last encoder layer,
truncated to the input length. ``sent_enc = "null"`` + ``skip_embs`` + ``sep_embs_for_skip`` make those token states
(dropout 0.2, padding zeroed) the sentence encoding; ``src/modules/edge_probing.py`` ``EdgeClassifierModule``
projects them (``Conv1d``, kernel 1, to ``classifier_hid_dim`` = 256), pools each target span with AllenNLP's
``SelfAttentiveSpanExtractor`` (``classifier_span_pooling = "attn"``) and classifies it with jiant's ``Classifier``
('mlp': Linear -> Tanh -> LayerNorm -> Dropout(0.3) -> Linear to the 18 OntoNotes NER types for
``edges-ner-ontonotes``, a single-sided task); loss ``F.binary_cross_entropy(torch.sigmoid(logits), labels)`` on
k-hot labels. ``src/trainer.py``: Adam (amsgrad, lr 1e-4, no weight decay) over the trainable parameters, batch 32,
``zero_grad`` / forward / ``backward`` / ``clip_grad_norm_(5.0)`` / ``step`` per batch.

The fault (``BertEmbedderModule.forward``): ``mask = (ids == 0)`` is True on the ``[PAD]`` filler of the block and
False on every real token, but ``BertModel`` takes 1 for the positions to attend and adds -10000 to the scores of the
0 positions. So every real token ([CLS], the word pieces, [SEP]) attends only to the padding positions, and those
attend only to each other: their states depend on nothing but the sentence length. Each token's output is then a
function of its own piece, its position and the sentence length; no token sees any other token. BERT is turned from
a contextual encoder into a per-token lexical one, and a probe (or a fine-tuned model) can only learn what the span's
own pieces tell. Nothing fails or warns. Fixed by PR #465 "Critical bug: fix sign of BERT attention mask" (Ian
Tenney: "You want ones for the nonzero tokens :)"), commit bb1fd22a8bcc44e39a4fe5e5696d6c529fa4ec83 "Fix sign on BERT
attention mask": ``mask = (ids != 0)``, merged as 301a4e64852e8d5f95292edc42fc00dac7b36dca (also in PR #466).
Fault label: context_ignored (the attention mask hides every real token, so no token's output depends on the others).

Source: github.com/nyu-mll/jiant ``src/bert/utils.py`` at 29f6ebe7fc602d63ce1a8b248c4a1993e174c706 (= bb1fd22a^),
with ``config/edgeprobe_bert.conf``, ``config/defaults.conf`` (edges-tmpl, edges-ner-ontonotes), ``src/models.py``,
``src/modules/modules.py``, ``src/modules/edge_probing.py``, ``src/tasks/edge_probing.py``, ``src/trainer.py`` at the
same commit; pytorch-pretrained-BERT 0.5.0 ``modeling.py`` for ``BertModel``.

Program lines kept: ``BertEmbedderModule.__init__``'s trainability loop and ``forward`` line for line (the block of
``seq_len`` ids, ``mask = (ids == 0)`` in the buggy build and ``mask = (ids != 0)`` in the fixed one, the
``FILL_ID`` correction, ``assert (ids > 1).all()``, ``ids -= 2``, the ``BertModel`` call with zero token types and
``output_all_encoded_layers=True``, the truncation), BertModel's mask arithmetic (``(1.0 - mask) * -10000.0``), the
SentenceEncoder steps (dropout 0.2, ``masked_fill`` of the padding), ``EdgeClassifierModule``'s single-sided path
(``proj1`` Conv1d, span extractor, ``Classifier`` 'mlp' with ``classifier_hid_dim`` 256 and dropout 0.3,
``logits[span_mask]``), ``compute_loss`` ('sigmoid'), the trainer's loop body with ``clip_grad_norm_(..., 5.0)`` (as
``train_step``, with ``model.train()`` as each pass starts) and Adam(lr=1e-4, weight_decay=0, amsgrad=True), batch 32.
Replaced / shrunk: ``BertModel.from_pretrained('bert-base-cased')`` -> the same ``BertModel`` built from a local
config with its random ``init_bert_weights`` (normal(0, 0.02), LayerNorm 1 / 0, zero biases), shrunk for one CPU
core: vocabulary 28,996 -> 1,000, hidden 768 -> 64, 12 -> 2 layers, 12 -> 2 heads, FFN 3,072 -> 256;
``max_seq_len`` 512 -> 24 (the sentences hold at most 22 ids, so the block always has padding, as with 512).
pytorch-pretrained-BERT's ``BertModel`` and AllenNLP's ``SelfAttentiveSpanExtractor`` are re-written here with the same
computation (embeddings sum -> TF-style LayerNorm eps 1e-12 -> dropout 0.1; post-LN layers with erf GELU; the pooler
is computed and unused, as in the program, so its weights get no gradient in either version). Only
``bert_embeddings_mode = "none"`` is kept. The AllenNLP fields are packed into one int64 tensor: x = (batch, 24), the
22 text-field ids then the target's span1 (start, end), inclusive and shifted by one for [CLS]
(``_make_span_field(s, text_field, 1)``); one target per sentence (OntoNotes records hold several), so the model
returns (batch, 18) logits and y is the (batch, 18) k-hot float label. The scorers, task sampling, validation and
the ReduceLROnPlateau scheduler (stepped only on validation) are left out.
``bert_fine_tune = 1`` instead of edgeprobe_bert.conf's default 0 (frozen BERT, only the probe trains): it is the
program's own switch (``param.requires_grad = bool(args.bert_fine_tune)``), used for fine-tuning runs. With random
weights a frozen BERT has no learnt contextual attention for the fault to remove: frozen, seed 0, 1,500 steps, the
buggy and fixed builds train the same (training loss, last 100 steps, 0.1646 / 0.1646; held-out accuracy 0.445 /
0.441, name-like types 0.054 / 0.047; the fixed model's context moves its logits by only 0.12). Fine-tuned, the
random BERT learns the context attention that the pretrained one brings, and the fault shows.
Ported: torch only (the fault is in the program's PyTorch wrapper around pytorch-pretrained-BERT; no Keras twin).
Data stand-in (no OntoNotes): ``edges-ner-ontonotes``-shaped records (label order alphabetical, assumed): a
sentence of 6-20 pieces drawn from 700 filler pieces, one entity target of 1-3 pieces at a random place. The 11
name-like types (EVENT, FAC, GPE, LANGUAGE, LAW, LOC, NORP, ORG, PERSON, PRODUCT, WORK_OF_ART) take their pieces
from one shared pool of 60 name pieces and differ only by one of 4 type-specific context pieces placed elsewhere in
the sentence (as "Washington" is a PERSON, a GPE or an ORG by its context); the 7 numeric types (CARDINAL, DATE,
MONEY, ORDINAL, PERCENT, QUANTITY, TIME) each have 6 pieces of their own. Types uniform; the inputs fix the label.
``batches``: 100 distinct batches of 32; ``batch``: the first; ``inputs``: 256 held-out records;
``baseline_batch``: the first 128 training records.

Measured (my own plain loops, /tmp/s51/h80_e/measure.py and measure2.py, the module's builds and ``train_step``,
OMP_NUM_THREADS=1, the 100 batches cycled in order for 1,500 steps = 15 epochs; SEED changes data and init):
  training loss (train mode), means of 150-step blocks, seed 0:
    buggy 0.280 0.202 0.164 0.142 0.132 0.129 0.125 0.123 0.121 0.121
    fixed 0.281 0.201 0.164 0.142 0.132 0.127 0.096 0.060 0.041 0.029
  last 100 steps, buggy / fixed: seed 0 0.120 / 0.028, seed 1 0.124 / 0.028, seed 2 0.122 / 0.024.
  held-out (256 records, eval mode) loss buggy / fixed: seed 0 0.113 / 0.016, seed 1 0.116 / 0.015, seed 2 0.120 /
    0.013; accuracy (argmax) 0.477 / 1.000, 0.477 / 1.000, 0.445 / 1.000, where the buggy model gets every numeric
    type right and the name-like ones at chance (0.101, 0.124, 0.107; 1/11 = 0.091).
  Replacing every piece outside the target span by one filler piece (same length, [CLS] / [SEP] kept) changes the
    buggy model's held-out logits by exactly 0 (max |diff| 0.0, after training) and the fixed one's by up to 10.
  No NaN. Up to ~750 steps the two curves agree within 0.001 (the lexical types are learnt first); they part
    when the fixed model starts to read the context piece. Short runs do not tell them apart: 100 distinct batches,
    means of steps 0-9 / 45-54 / 90-99: buggy 0.697 / 0.240 / 0.218, fixed 0.699 / 0.241 / 0.218; the first batch
    repeated 300 steps: buggy 0.825 -> 0.054 (batch accuracy 1.000 in eval mode: its entities are memorised from
    their name pieces, position and length), fixed 0.825 -> 0.054.
  Initial loss (eval mode, first batch) 0.839 in both. Time: ~36 ms a step on one thread (both); the first build
    ~3.2 s (imports, data), later 0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "context_ignored"
SOURCE = ("github:nyu-mll/jiant PR #465 'Critical bug: fix sign of BERT attention mask' (src/bert/utils.py "
          "BertEmbedderModule.forward 'mask = (ids == 0)' @29f6ebe7fc602d63ce1a8b248c4a1993e174c706 = bb1fd22a^, "
          "from a12d5e00 (PR #452 'BERT encoder module'); config/edgeprobe_bert.conf, config/defaults.conf, "
          "src/modules/edge_probing.py, src/modules/modules.py, src/tasks/edge_probing.py edges-ner-ontonotes, "
          "src/trainer.py; fix bb1fd22a8bcc44e39a4fe5e5696d6c529fa4ec83 'mask = (ids != 0)', merged "
          "301a4e64852e8d5f95292edc42fc00dac7b36dca)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {}),
          ("batch_independence", {})]

SEED = 0
BATCH_SIZE = 32  # defaults.conf batch_size
LR = 1e-4  # defaults.conf lr (edges-tmpl does not override it)
MAX_GRAD_NORM = 5.0  # defaults.conf max_grad_norm
DROPOUT = 0.2  # defaults.conf dropout (SentenceEncoder, on the embedder output)
CLASSIFIER_HID_DIM = 256  # edges-tmpl classifier_hid_dim (also the span projection width)
CLASSIFIER_DROPOUT = 0.3  # edges-tmpl classifier_dropout
MAX_SEQ_LEN = 24  # edgeprobe_bert.conf max_seq_len = 512, shrunk for one CPU core
BERT_FINE_TUNE = 1  # defaults.conf bert_fine_tune (0 = frozen BERT); see the docstring
# Stand-in for bert-base-cased (vocab 28996, hidden 768, 12 layers, 12 heads, FFN 3072), shrunk, random weights:
BERT_CONFIG = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=256, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                   max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02)
LABELS = ("CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY", "NORP", "ORDINAL", "ORG",
          "PERCENT", "PERSON", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART")  # OntoNotes NER types
N_CLASSES = len(LABELS)
CONTEXT_TYPES = ("EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "NORP", "ORG", "PERSON", "PRODUCT", "WORK_OF_ART")
N_BATCHES = 100
N_INPUTS = 256
N_BASELINE = 128
MAX_WORDS = 20
VAR_LEN = MAX_WORDS + 2  # [CLS] + pieces + [SEP], zero-padded (AllenNLP padding id 0)
CLS_ID, SEP_ID = 101, 102  # BERT WordPiece ids of [CLS] / [SEP]; AllenNLP ids are BERT ids + 2


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """Edge-probing NER records as the model sees them: AllenNLP ids (BERT WordPiece id + 2; 0 = padding) of
    ``[CLS] pieces [SEP]``, then the target's span1 (start, end), inclusive and shifted by 1 for ``[CLS]``
    (``_make_span_field(s, text_field, 1)``), and its k-hot label (``MultiLabelField``)."""
    r = np.random.default_rng(SEED)
    n_ctx = len(CONTEXT_TYPES)
    cues = 104 + np.arange(n_ctx * 4).reshape(n_ctx, 4)  # 4 context pieces per name-like type
    lexical = 104 + n_ctx * 4 + np.arange((N_CLASSES - n_ctx) * 6).reshape(N_CLASSES - n_ctx, 6)
    names = np.arange(200, 260)  # name pieces shared by all name-like types
    filler = np.arange(300, BERT_CONFIG["vocab_size"])
    ctx_of = {LABELS.index(t): i for i, t in enumerate(CONTEXT_TYPES)}
    lex_of = {c: i for i, c in enumerate(c for c in range(N_CLASSES) if c not in ctx_of)}
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    x = np.zeros((n, VAR_LEN + 2), "int64")
    y = np.zeros((n, N_CLASSES), "float32")
    for i in range(n):
        m = int(r.integers(6, MAX_WORDS + 1))
        words = r.choice(filler, m)
        c = int(r.integers(0, N_CLASSES))
        width = int(r.integers(1, 4))
        s = int(r.integers(0, m - width + 1))
        if c in ctx_of:  # an ambiguous name; its type is given by a context piece elsewhere in the sentence
            words[s:s + width] = r.choice(names, width)
            outside = [j for j in range(m) if j < s or j >= s + width]
            words[r.choice(outside)] = r.choice(cues[ctx_of[c]])
        else:  # numbers, dates, amounts: the pieces themselves give the type
            words[s:s + width] = r.choice(lexical[lex_of[c]], width)
        toks = np.concatenate([[CLS_ID], words, [SEP_ID]]) + 2
        x[i, :len(toks)] = toks
        x[i, VAR_LEN:] = (s + 1, s + width - 1 + 1)
        y[i, c] = 1.0
    return x, y


def _build(fixed: bool) -> dict[str, Any]:
    import math

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils.clip_grad import clip_grad_norm_

    # --- pytorch-pretrained-BERT 0.5 BertModel (re-written here; random init_bert_weights, no checkpoint) ---
    class BertLayerNorm(nn.Module):  # TF-style LayerNorm, epsilon inside the square root
        def __init__(self, hidden_size, eps=1e-12):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(hidden_size))
            self.bias = nn.Parameter(torch.zeros(hidden_size))
            self.variance_epsilon = eps

        def forward(self, x):
            u = x.mean(-1, keepdim=True)
            s = (x - u).pow(2).mean(-1, keepdim=True)
            return self.weight * ((x - u) / torch.sqrt(s + self.variance_epsilon)) + self.bias

    def gelu(x):
        return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))

    class BertEmbeddings(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.word_embeddings = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
            self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])
            self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], cfg["hidden_size"])
            self.LayerNorm = BertLayerNorm(cfg["hidden_size"])
            self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

        def forward(self, input_ids, token_type_ids):
            pos = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0).expand_as(input_ids)
            e = self.word_embeddings(input_ids) + self.position_embeddings(pos)
            e = e + self.token_type_embeddings(token_type_ids)
            return self.dropout(self.LayerNorm(e))

    class BertLayer(nn.Module):  # BertAttention (self + output) -> BertIntermediate -> BertOutput
        def __init__(self, cfg):
            super().__init__()
            h = cfg["hidden_size"]
            self.n_heads = cfg["num_attention_heads"]
            self.head_size = h // self.n_heads
            self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
            self.attn_dropout = nn.Dropout(cfg["attention_probs_dropout_prob"])
            self.attn_dense, self.attn_LayerNorm = nn.Linear(h, h), BertLayerNorm(h)
            self.intermediate = nn.Linear(h, cfg["intermediate_size"])
            self.out_dense, self.out_LayerNorm = nn.Linear(cfg["intermediate_size"], h), BertLayerNorm(h)
            self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

        def _heads(self, t):
            return t.view(t.size(0), t.size(1), self.n_heads, self.head_size).permute(0, 2, 1, 3)

        def forward(self, hidden, attention_mask):
            q, k, v = self._heads(self.query(hidden)), self._heads(self.key(hidden)), self._heads(self.value(hidden))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + attention_mask
            probs = self.attn_dropout(nn.Softmax(dim=-1)(scores))
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(hidden.size())
            attn_out = self.attn_LayerNorm(self.dropout(self.attn_dense(ctx)) + hidden)
            inter = gelu(self.intermediate(attn_out))
            return self.out_LayerNorm(self.dropout(self.out_dense(inter)) + attn_out)

    class BertModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.config = cfg
            self.embeddings = BertEmbeddings(cfg)
            self.encoder = nn.ModuleList([BertLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
            self.pooler = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])  # BertPooler (dense + tanh on [CLS])
            self.apply(self.init_bert_weights)

        def init_bert_weights(self, module):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.data.normal_(mean=0.0, std=self.config["initializer_range"])
            elif isinstance(module, BertLayerNorm):
                module.bias.data.zero_()
                module.weight.data.fill_(1.0)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()

        def forward(self, input_ids, token_type_ids=None, attention_mask=None, output_all_encoded_layers=True):
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            # 1.0 = attend, 0.0 = masked; masked positions get -10000 added to their scores
            extended_attention_mask = attention_mask.unsqueeze(1).unsqueeze(2)
            extended_attention_mask = extended_attention_mask.to(dtype=next(self.parameters()).dtype)
            extended_attention_mask = (1.0 - extended_attention_mask) * -10000.0
            hidden = self.embeddings(input_ids, token_type_ids)
            encoded_layers = []
            for layer in self.encoder:
                hidden = layer(hidden, extended_attention_mask)
                encoded_layers.append(hidden)
            pooled_output = torch.tanh(self.pooler(encoded_layers[-1][:, 0]))
            if not output_all_encoded_layers:
                encoded_layers = encoded_layers[-1]
            return encoded_layers, pooled_output

    # --- jiant src/bert/utils.py @29f6ebe ---
    class BertEmbedderModule(nn.Module):
        """ Wrapper for BERT module to fit into jiant APIs. """

        def __init__(self, args):
            super(BertEmbedderModule, self).__init__()
            self.model = BertModel(BERT_CONFIG)  # stands in for BertModel.from_pretrained(args.bert_model_name)
            self.embeddings_mode = args["bert_embeddings_mode"]
            assert args["max_seq_len"] <= 512
            self.seq_len = args["max_seq_len"]
            # Set trainability of this module.
            for param in self.model.parameters():
                param.requires_grad = bool(args["bert_fine_tune"])

        def forward(self, sent, unused_task_name=""):
            assert "bert_wpm_pretokenized" in sent
            # <int32> [batch_size, var_seq_len]
            var_ids = sent["bert_wpm_pretokenized"]

            # Model has fixed, learned positional component, so we must pass a
            # block of exactly seq_len length.
            # ids is <int32> [batch_size, seq_len]
            ids = torch.zeros(var_ids.size()[0], self.seq_len, dtype=var_ids.dtype,
                              device=var_ids.device)
            fill_len = min(var_ids.size()[1], self.seq_len)
            ids[:,:fill_len] = var_ids[:,:fill_len]

            if fixed:
                mask = (ids != 0)  # the fix, bb1fd22a: ones for the real tokens
            else:
                mask = (ids == 0)
            # "Correct" ids to account for different indexing between BERT and
            # AllenNLP.
            FILL_ID = 0  # [PAD] for BERT models.
            ids[ids == 0] = FILL_ID + 2
            # Index 1 should never be used since the BERT WPM uses its own
            # unk token, and handles this at the string level before indexing.
            assert (ids > 1).all()
            ids -= 2

            # embeddings_mode == "none": only the encoder output is used
            encoded_layers, _ = self.model(ids, token_type_ids=torch.zeros_like(ids),
                                           attention_mask=mask,
                                           output_all_encoded_layers=True)
            h = encoded_layers[-1]

            # Truncate back to the original ids length, for compatiblity with the
            # rest of our embedding models. This only drops padding
            # representations.
            h_trunc = h[:,:var_ids.size()[1],:]
            # <float32> [batch_size, var_seq_len, output_dim]
            return h_trunc

        def get_output_dim(self):
            return self.model.config["hidden_size"]

    # --- AllenNLP SelfAttentiveSpanExtractor (span pooling "attn"), re-written ---
    class SelfAttentiveSpanExtractor(nn.Module):
        def __init__(self, input_dim):
            super().__init__()
            self._input_dim = input_dim
            self._global_attention = nn.Linear(input_dim, 1)

        def get_output_dim(self):
            return self._input_dim

        def forward(self, sequence_tensor, span_indices, sequence_mask=None, span_indices_mask=None):
            span_starts, span_ends = span_indices.split(1, dim=-1)  # (batch, n_spans, 1), ends inclusive
            span_widths = span_ends - span_starts
            max_width = int(span_widths.max().item()) + 1
            logits = self._global_attention(sequence_tensor).squeeze(-1)  # (batch, seq_len)
            offsets = torch.arange(max_width, device=sequence_tensor.device).view(1, 1, -1)
            span_mask = (offsets <= span_widths) & (span_ends - offsets >= 0)
            idx = torch.relu(span_ends - offsets)  # (batch, n_spans, max_width)
            b = torch.arange(sequence_tensor.size(0), device=sequence_tensor.device).view(-1, 1, 1)
            span_embeddings = sequence_tensor[b, idx]  # (batch, n_spans, max_width, dim)
            span_logits = logits[b, idx].masked_fill(~span_mask, -1e32)
            weights = torch.softmax(span_logits, dim=-1) * span_mask.float()
            weights = weights / (weights.sum(-1, keepdim=True) + 1e-13)
            attended = (weights.unsqueeze(-1) * span_embeddings).sum(2)
            if span_indices_mask is not None:
                return attended * span_indices_mask.unsqueeze(-1).float()
            return attended

    # --- jiant src/modules/modules.py Classifier (cls_type 'mlp') ---
    class Classifier(nn.Module):
        def __init__(self, d_inp, n_classes, cls_type="mlp", dropout=.2, d_hid=512):
            super(Classifier, self).__init__()
            assert cls_type == "mlp"
            self.classifier = nn.Sequential(nn.Linear(d_inp, d_hid),
                                            nn.Tanh(), nn.LayerNorm(d_hid),
                                            nn.Dropout(dropout), nn.Linear(d_hid, n_classes))

        def forward(self, seq_emb):
            return self.classifier(seq_emb)

    # --- jiant src/modules/edge_probing.py EdgeClassifierModule, single_sided task (edges-ner-ontonotes) ---
    class EdgeClassifierModule(nn.Module):
        def __init__(self, d_inp, task_params):
            super(EdgeClassifierModule, self).__init__()
            self.loss_type = task_params["cls_loss_fn"]
            self.cnn_context = task_params["edgeprobe_cnn_context"]
            self.proj_dim = task_params["d_hid"]
            k = 1 + 2 * self.cnn_context
            self.proj1 = nn.Conv1d(d_inp, self.proj_dim, kernel_size=k, stride=1, padding=self.cnn_context,
                                   dilation=1, groups=1, bias=True)
            self.span_extractor1 = SelfAttentiveSpanExtractor(self.proj_dim)
            self.classifier = Classifier(self.span_extractor1.get_output_dim(), N_CLASSES,
                                         cls_type=task_params["cls_type"], dropout=task_params["dropout"],
                                         d_hid=task_params["d_hid"])

        def forward(self, span1s, sent_embs, sent_mask):
            sent_embs_t = sent_embs.transpose(1, 2)  # needed for CNN layer
            se_proj1 = self.proj1(sent_embs_t).transpose(2, 1).contiguous()
            span_mask = (span1s[:, :, 0] != -1)  # [batch_size, num_targets] bool
            _kw = dict(sequence_mask=sent_mask.long(), span_indices_mask=span_mask.long())
            span_emb = self.span_extractor1(se_proj1, span1s, **_kw)
            logits = self.classifier(span_emb)  # [batch_size, num_targets, n_classes]
            return logits[span_mask]

    # --- jiant MultiTaskModel: SentenceEncoder (sent_enc 'null', skip_embs, sep_embs_for_skip) + edge module ---
    class EdgeProbingModel(nn.Module):
        """x: (batch, VAR_LEN + 2) int64, the AllenNLP ids of the text field then span1 (start, end) of the one
        target; returns the target's logits (batch, N_CLASSES)."""

        def __init__(self):
            super().__init__()
            args = {"bert_embeddings_mode": "none", "max_seq_len": MAX_SEQ_LEN, "bert_fine_tune": BERT_FINE_TUNE}
            self.embedder = BertEmbedderModule(args)
            self._dropout = nn.Dropout(p=DROPOUT)
            task_params = {"cls_type": "mlp", "d_hid": CLASSIFIER_HID_DIM, "dropout": CLASSIFIER_DROPOUT,
                           "cls_loss_fn": "sigmoid", "cls_span_pooling": "attn", "edgeprobe_cnn_context": 0}
            self.edges_ner_ontonotes_mdl = EdgeClassifierModule(self.embedder.get_output_dim(), task_params)

        def forward(self, x):
            sent = {"bert_wpm_pretokenized": x[:, :-2]}
            span1s = x[:, None, -2:]
            task_sent_embs = self._dropout(self.embedder(sent, "edges-ner-ontonotes"))
            sent_mask = (sent["bert_wpm_pretokenized"] != 0).float()  # util.get_text_field_mask
            sent_enc = task_sent_embs  # NullPhraseLayer: the skip embeddings are the sentence encoding
            sent_mask = sent_mask.unsqueeze(dim=-1)
            sent_enc = sent_enc.masked_fill(sent_mask == 0, 0)
            return self.edges_ner_ontonotes_mdl(span1s, sent_enc, sent_mask)

    torch.manual_seed(SEED)
    model = EdgeProbingModel()
    # trainer.py: AllenNLP Optimizer over the trainable parameters, Adam with amsgrad, no weight decay
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0,
                                 amsgrad=True)

    def loss_fn(logits, labels):  # EdgeClassifierModule.compute_loss, loss_type 'sigmoid'
        return F.binary_cross_entropy(torch.sigmoid(logits), labels.float())

    def train_step(model, optimizer, loss_fn, x, y):  # trainer.py SamplingMultiTaskTrainer.train, one batch
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        return loss

    x, y = _data()
    n_tr = N_BATCHES * BATCH_SIZE
    xt, yt = torch.tensor(x[:n_tr]), torch.tensor(y[:n_tr])
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(x[n_tr:]),
            "baseline_batch": (xt[:N_BASELINE], yt[:N_BASELINE]), "loss_fn": loss_fn, "optimizer": optimizer,
            "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
