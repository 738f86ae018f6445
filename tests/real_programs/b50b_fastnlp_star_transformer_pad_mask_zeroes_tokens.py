"""fastNLP's Star-Transformer (``fastNLP/modules/encoder/star_transformer.py``, Guo et al. 2019, added in fastNLP
commit 7c7f28f2 "add star-transformer") used as a POS tagger: ``STSeqLabel`` (``fastNLP/models/star_transformer.py``)
= pretrained GloVe 300d ``Embedding`` -> ``Dropout(emb_dropout)`` -> ``emb_fc`` ``Linear(300, hidden)`` ->
``StarTransformer(hidden, num_layers=4, num_head, head_dim, dropout, max_len=MAX_LEN)`` -> ``_Cls`` (``Linear(hidden,
600)``, ``LeakyReLU``, ``Dropout(0.1)``, ``Linear(600, num_cls)``) on every node, output ``[batch, num_cls, seq_len]``;
trained by ``reproduction/Star_transformer/train.py`` with ``FN.CrossEntropyLoss(padding_idx=tag_v.padding_idx)``
(``F.cross_entropy(..., ignore_index=0)``: padded tag positions ignored), every parameter but the embedding
re-initialised ``normal_(p, 0.0, 0.05)``, ``Adam`` with the embedding at ``lr * 0.1`` and the rest at ``lr`` with
``weight_decay``, ``clip_grad_norm_(..., 5.0)``; run.sh's POS line ``--task pos --ds conll --lr 3e-4 --w_decay 2e-5
--drop 0.3 --bsz 64`` (``--nhead 6 --hdim 50 --hidden 300`` by default, ``MAX_LEN = 128``).

The encoder gets ``mask`` [batch, length] "in which padding pos is 0" and, after every layer, resets the padding
nodes with ``nodes = nodes.masked_fill_(ex_mask, 0)``, where ``ex_mask = mask[:, None, :, None].expand(B, H, L, 1)``.
``masked_fill_`` fills where the mask is *true*, so this zeroes every word node and keeps the padding nodes. The
fault (issue #138, "it will fill not padding position (which value in ex_mask is 1) with 0, this will lead a bad
performance"): every node a tagger reads is exactly 0 after the last layer, so ``_Cls`` gives the same logits to
every token of every sentence, and no gradient reaches the encoder or the embeddings (the only tokens the loss
counts see a constant). Training can only fit the classifier's last bias to the tag frequencies: the tagger
predicts the most frequent tag everywhere.

Source: github.com/fastnlp/fastNLP, ``fastNLP/modules/encoder/star_transformer.py`` at 7c7f28f2ac8ae23d1e86e0df267ecdd4c
72f718e (unchanged up to the fix), issue #138 "masked_fill bug in star-transformer!" (wlhgtc), PR #137; fix commit
8d61cd684eaa198b15a66184f4c290b568fcf574 'fix the "masked_fill" bug', which adds after the ex_mask line
``ex_mask = ex_mask.ne(1) # reverse mask for next masked_fill.``. The tagger wrapper, its training script and run
configuration come from the Dev0.4.0 release (881ce01762f179b3d7c6e837e0413fed6883d1ff: ``fastNLP/models/
star_transformer.py`` ``StarTransEnc``/``_Cls``/``STSeqLabel``, ``reproduction/Star_transformer/{train.py,
datasets.py, util.py, run.sh}``), written by the encoder's author after the fix, so the buggy encoder never shipped
with exactly these files: the port puts the 7c7f28f2 encoder (buggy) or the 8d61cd68 one (fixed) under them. Two
other things the later commit 28d3f500 changed are kept as they were at both 7c7f28f2 and 8d61cd68, the same in both
versions here: the relay's attention mask ``smask`` (built from the same 1-for-words mask, so the relay attends only
to itself and the padding) and ``v = k.view(...)`` in ``MSA2``. The relay is not read by the tagger.
Fault label: no_input_signal|no_gradient (the tagger's outputs at real tokens do not depend on the input; the
encoder's and embedding's gradients are exactly 0).
Fix (8d61cd68): ``ex_mask = ex_mask.ne(1)`` (fill the padding nodes, keep the word nodes).

Program lines kept: the encoder (``StarTransformer``, ``MSA1``, ``MSA2``) line by line, ``StarTransEnc``, ``_Cls``,
``STSeqLabel``, ``init_model`` (``normal_(p, 0.0, 0.05)`` on every parameter whose ``size(0) != len(word_v)``, the
LayerNorm weights included), the loss with ``ignore_index=0``, the two Adam groups (embedding ``lr * 0.1`` without
weight decay; the rest ``lr = 3e-4``, ``weight_decay = 2e-5``), gradient clipping 5.0 (``train_step``), dropout 0.3 on
the embeddings and in the attentions, 0.1 in ``_Cls``, batch 64, padding per batch to the longest sentence.
Ported: ``mask`` is a bool tensor (a uint8 mask, as in 2019, is refused by ``masked_fill_`` in torch 2);
``STSeqLabel.forward`` takes the padded word ids only and computes ``seq_len`` from them (word id 0 = '<pad>';
``seq_len_to_mask`` as in fastNLP); ``get_embeddings(tensor)`` is ``nn.Embedding.from_pretrained(..., freeze=False)``.
Left out: the fastNLP ``Trainer``/``Tester``, ``MyCallback``'s lr warm-up (linear from 0 over the first 6,000 steps) and
its decay (x0.95 every 3,000 steps): they only rescale the lr, and with the warm-up the first hundreds of steps
would barely move any weight; the loop here runs at the peak lr 3e-4.
Shrunk for CPU time: hidden 300 -> 64, 6 heads x 50 -> 4 heads x 16, ``cls_hidden_size`` 600 -> 128 (the full
widths cost well over a second a step on one CPU thread, by a FLOP count; at these widths ~150 ms, most of it the many small
tensor ops of ``MSA1``, which narrower widths barely reduce), vocabulary 4,000 words. The fault does not depend on any
width.
Keras twin (Keras 3, channels-last ``(B, L, H)``): the same encoder as custom layers (``Conv2d`` 1x1 = ``Dense``;
``F.unfold`` over 3 neighbours = the node's left, own and right keys/values with zeros past the ends, plus the
position's embedding and the relay, softmax over the 5; ``MSA2`` with ``v = k``), ``masked_fill_(ex_mask, 0)`` =
``ops.where(ex_mask, 0, nodes)`` with the same buggy/fixed mask, ``RandomNormal(0, 0.05)`` for every kernel, bias,
LayerNorm gamma/beta and the position embedding, LeakyReLU slope 0.01, LayerNorm eps 1e-5; loss
``SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)``; ``Adam(3e-4, epsilon=1e-8,
global_clipnorm=5.0)``; torch's coupled weight decay 2e-5 as ``L2(1e-5)`` regularizers on those weights; the
embedding's ``lr * 0.1`` by storing 10x the GloVe vectors and scaling the lookup by 0.1 (Adam's step does not depend on
the gradient's scale, so the vectors move a tenth as fast).
Data stand-in (no OntoNotes/GloVe): ``pos_corpus``: sentences from a Markov chain over 45 POS tags (Zipf-like tag
frequencies, the most frequent 12.5% of tokens; 4 likely successors per tag), words from tag-specific
vocabularies (Zipf within a tag; 20% of the word types ambiguous between two tags, so context matters), 2% '<unk>'
(id 1), lengths gamma-distributed like PTB's (mean 23, 3..128), word ids padded with 0 and tag ids 1..45 padded with
0 (``num_cls`` = 46 with '<pad>'), and a 300-d "GloVe" matrix of unit rows carrying some tag information (a tag
centroid plus noise), the padding row 0, as ``load_pretrain_emb`` leaves it. 8 batches of 64 sentences; held out:
256 other sentences (seed 1).

Measured (my own plain loop, /tmp/h50b/measure.py, seed 0, OMP_NUM_THREADS=1, torch ``train_step`` / Keras
``train_on_batch`` cycling over 7 of the 8 batches; held-out token cross-entropy / accuracy over the real tokens of
the 256 held-out sentences in eval mode; the majority tag scores 0.125 there, the tag-prior entropy is 3.26, ln 46 =
3.83):
  torch buggy: encoder+embedding gradient norm at init exactly 0.0; CE/acc 3.828/0.007 at init, 3.774/0.125 after
         50 steps, 3.693/0.125 after 100, 3.477/0.125 after 200, 3.332/0.125 after 300, one predicted tag for
         every token throughout (the logits' spread over tokens is 0.0000): the loss creeps down towards the
         prior entropy only because the last bias learns the tag frequencies;
        fixed: gradient norm 0.047; 3.830/0.007 at init, 3.296/0.125 after 50, 3.046/0.234 after 100, 2.075/0.540
         (12 distinct tags predicted) after 200, 1.225/0.730 (25 tags) after 300, still improving.
  keras buggy: 3.824/0.008, 3.769/0.037 after 50, 3.688/0.125 after 100, 3.475/0.125 after 200, 3.332/0.125
         after 300, one predicted tag, spread 0.0000;
        fixed: 3.824/0.004, 3.303/0.125 after 50, 3.083/0.131 after 100, 2.062/0.561 after 200, 1.164/0.735 after
         300.
  One batch (the module's ``batch``), 150 steps, loss/accuracy on it: torch buggy 3.828/0.001 -> 3.692/0.118 (100)
  -> 3.587/0.118 (150), one tag; fixed 3.830 -> 2.991/0.232 (100) -> 2.405/0.363 (150); keras buggy -> 3.585/0.118,
  fixed -> 2.475/0.365 at 150. At lr 3e-4 and this init (LayerNorm gains ~N(0, 0.05)) even the fixed tagger
  starts slowly: it needs ~100 steps before it predicts more than the most frequent tag.
About 150 ms (torch) and 150-200 ms (keras) per training step on one CPU thread, up to ~300 ms when the two
cores were busier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_input_signal|no_gradient"
SOURCE = ("github:fastnlp/fastNLP issue #138, PR #137 (fastNLP/modules/encoder/star_transformer.py StarTransformer."
          "forward 'nodes = nodes.masked_fill_(ex_mask, 0)' with ex_mask from the 1-for-tokens padding mask "
          "@7c7f28f2ac8ae23d1e86e0df267ecdd4c72f718e = 8d61cd68^; STSeqLabel in fastNLP/models/star_transformer.py and "
          "reproduction/Star_transformer/train.py, datasets.py, util.py, run.sh POS config "
          "@881ce01762f179b3d7c6e837e0413fed6883d1ff; "
          "fix 8d61cd684eaa198b15a66184f4c290b568fcf574 'fix the \"masked_fill\" bug': ex_mask = ex_mask.ne(1))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 46})]

# reproduction/Star_transformer/run.sh: --task pos --ds conll --lr 3e-4 --w_decay 2e-5 --lr_decay .95 --drop 0.3
# --ep 25 --bsz 64; train.py g_model_cfg: num_layers 4, cls_hidden_size 600, emb_dropout 0.3, dropout = --drop;
# util.py: --nhead 6, --hdim 50, --hidden 300; datasets.py: MAX_LEN = 128
batch_size = 64
lr = 3e-4
w_decay = 2e-5
drop = 0.3
emb_dropout = 0.3
num_layers = 4
MAX_LEN = 128
emb_dim = 300  # glove.840B.300d
clip = 5.0  # MyCallback.on_backward_end: clip_grad_norm_(model.parameters(), 5.0)
# port: widths shrunk for one CPU thread (see the docstring): hidden 300 -> 64, 6 heads x 50 -> 4 heads x 16,
# cls_hidden_size 600 -> 128
hidden = 64
nhead = 4
hdim = 16
cls_hidden = 128
n_tags = 45  # OntoNotes / PTB POS tag set
n_cls = n_tags + 1  # tag_v = Vocabulary(unknown=None): '<pad>' = 0 plus the tags
vocab_size = 4000  # word_v: '<pad>' = 0, '<unk>' = 1, then the words
n_batches = 8
SEED = 0


def pos_corpus(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in for the OntoNotes POS data as the program's batches hold it: (n, L) int64 word ids padded with 0
    (L = the longest sentence of the n), (n, L) int64 tag ids 1..45 padded with 0, and the (vocab_size, 300)
    float32 'GloVe' matrix as load_pretrain_emb leaves it (rows of norm 1, the padding row 0).

    Sentences come from a first-order Markov chain over 45 tags (skewed tag frequencies, 4 likely successors per
    tag), words from tag-specific vocabularies (Zipf within a tag), 20% of word types ambiguous between two tags
    (so context is needed for them); lengths ~ PTB's (mean ~24, 3..MAX_LEN). The embeddings carry some tag
    information, as GloVe does: a tag centroid plus noise, normalised."""
    g = np.random.default_rng(1234)  # the language: fixed, shared by every split
    tag_p = 1.0 / np.arange(1, n_tags + 1) ** 0.9
    tag_p /= tag_p.sum()
    trans = np.empty((n_tags, n_tags))
    for t in range(n_tags):
        succ = g.choice(n_tags, 4, replace=False, p=tag_p)
        row = 0.3 * tag_p.copy()
        row[succ] += 0.7 * g.dirichlet(np.ones(4))
        trans[t] = row / row.sum()
    words = np.arange(2, vocab_size)
    main = g.choice(n_tags, len(words), p=np.sqrt(tag_p) / np.sqrt(tag_p).sum())
    second = np.where(g.random(len(words)) < 0.2, g.integers(0, n_tags, len(words)), -1)
    second[second == main] = -1
    emitters = []
    for t in range(n_tags):
        ws = words[(main == t) | (second == t)]
        if len(ws) == 0:
            ws = words[:1]
        p = 1.0 / np.arange(1, len(ws) + 1)
        emitters.append((ws, p / p.sum()))
    centroid = g.standard_normal((n_tags, emb_dim))
    emb = np.zeros((vocab_size, emb_dim))
    emb[1] = g.standard_normal(emb_dim)
    for i, w in enumerate(words):
        v = centroid[main[i]] + (centroid[second[i]] if second[i] >= 0 else 0.0)
        emb[w] = 0.4 * v / np.linalg.norm(v) * np.sqrt(emb_dim) + g.standard_normal(emb_dim)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)  # emb /= norm; emb[pad] = 0

    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.gamma(4.0, 6.0, n)), 3, MAX_LEN).astype(int)
    x = np.zeros((n, lengths.max()), "int64")
    y = np.zeros((n, lengths.max()), "int64")
    for i, m in enumerate(lengths):
        t = rng.choice(n_tags, p=tag_p)
        for j in range(m):
            ws, p = emitters[t]
            x[i, j] = rng.choice(ws, p=p)
            y[i, j] = t + 1
            t = rng.choice(n_tags, p=trans[t])
    x[(rng.random(x.shape) < 0.02) & (x > 0)] = 1  # words under min_freq=2 -> '<unk>'
    return x, y, emb.astype("float32")


def _split(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of the program's size, each cut to its longest sentence (fastNLP pads per batch)."""
    out = []
    for i in range(0, len(x) - batch_size + 1, batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        m = int((xb > 0).sum(1).max())
        out.append((xb[:, :m], yb[:, :m]))
    return out


def _torch(fix: bool) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import functional as F
    import numpy as NP

    torch.manual_seed(SEED)

    # ---- fastNLP/modules/encoder/star_transformer.py @7c7f28f2 (program lines; the fix is 8d61cd68) ----
    class StarTransformer(nn.Module):
        def __init__(self, hidden_size, num_layers, num_head, head_dim, dropout=0.1, max_len=None):
            super(StarTransformer, self).__init__()
            self.iters = num_layers

            self.norm = nn.ModuleList([nn.LayerNorm(hidden_size) for _ in range(self.iters)])
            self.ring_att = nn.ModuleList(
                [MSA1(hidden_size, nhead=num_head, head_dim=head_dim, dropout=dropout)
                 for _ in range(self.iters)])
            self.star_att = nn.ModuleList(
                [MSA2(hidden_size, nhead=num_head, head_dim=head_dim, dropout=dropout)
                 for _ in range(self.iters)])

            if max_len is not None:
                self.pos_emb = self.pos_emb = nn.Embedding(max_len, hidden_size)
            else:
                self.pos_emb = None

        def forward(self, data, mask):
            # mask: [batch, length], padding pos is 0
            def norm_func(f, x):
                # B, H, L, 1
                return f(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

            B, L, H = data.size()
            smask = torch.cat([torch.zeros(B, 1, ).byte().to(mask), mask], 1)

            embs = data.permute(0, 2, 1)[:, :, :, None]  # B H L 1
            if self.pos_emb:
                P = self.pos_emb(torch.arange(L, dtype=torch.long, device=embs.device)
                                 .view(1, L)).permute(0, 2, 1).contiguous()[:, :, :, None]  # 1 H L 1
                embs = embs + P

            nodes = embs
            relay = embs.mean(2, keepdim=True)
            ex_mask = mask[:, None, :, None].expand(B, H, L, 1)
            if fix:  # 8d61cd68
                ex_mask = ex_mask.ne(1)  # reverse mask for next masked_fill.
            r_embs = embs.view(B, H, 1, L)
            for i in range(self.iters):
                ax = torch.cat([r_embs, relay.expand(B, H, 1, L)], 2)
                nodes = nodes + F.leaky_relu(self.ring_att[i](norm_func(self.norm[i], nodes), ax=ax))
                relay = F.leaky_relu(self.star_att[i](relay, torch.cat([relay, nodes], 2), smask))

                nodes = nodes.masked_fill_(ex_mask, 0)  # buggy: zeroes every *word* node, keeps the padding

            nodes = nodes.view(B, H, L).permute(0, 2, 1)

            return nodes, relay.view(B, H)

    class MSA1(nn.Module):
        def __init__(self, nhid, nhead=10, head_dim=10, dropout=0.1):
            super(MSA1, self).__init__()
            self.WQ = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WK = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WV = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WO = nn.Conv2d(nhead * head_dim, nhid, 1)

            self.drop = nn.Dropout(dropout)

            self.nhid, self.nhead, self.head_dim, self.unfold_size = nhid, nhead, head_dim, 3

        def forward(self, x, ax=None):
            # x: B, H, L, 1, ax : B, H, X, L append features
            nhid, nhead, head_dim, unfold_size = self.nhid, self.nhead, self.head_dim, self.unfold_size
            B, H, L, _ = x.shape

            q, k, v = self.WQ(x), self.WK(x), self.WV(x)  # x: (B,H,L,1)

            if ax is not None:
                aL = ax.shape[2]
                ak = self.WK(ax).view(B, nhead, head_dim, aL, L)
                av = self.WV(ax).view(B, nhead, head_dim, aL, L)
            q = q.view(B, nhead, head_dim, 1, L)
            k = F.unfold(k.view(B, nhead * head_dim, L, 1), (unfold_size, 1), padding=(unfold_size // 2, 0)) \
                .view(B, nhead, head_dim, unfold_size, L)
            v = F.unfold(v.view(B, nhead * head_dim, L, 1), (unfold_size, 1), padding=(unfold_size // 2, 0)) \
                .view(B, nhead, head_dim, unfold_size, L)
            if ax is not None:
                k = torch.cat([k, ak], 3)
                v = torch.cat([v, av], 3)

            alphas = self.drop(F.softmax((q * k).sum(2, keepdim=True) / NP.sqrt(head_dim), 3))  # B N L 1 U
            att = (alphas * v).sum(3).view(B, nhead * head_dim, L, 1)

            ret = self.WO(att)

            return ret

    class MSA2(nn.Module):
        def __init__(self, nhid, nhead=10, head_dim=10, dropout=0.1):
            # Multi-head Self Attention Case 2, a broadcastable query for a sequence key and value
            super(MSA2, self).__init__()
            self.WQ = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WK = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WV = nn.Conv2d(nhid, nhead * head_dim, 1)
            self.WO = nn.Conv2d(nhead * head_dim, nhid, 1)

            self.drop = nn.Dropout(dropout)

            self.nhid, self.nhead, self.head_dim, self.unfold_size = nhid, nhead, head_dim, 3

        def forward(self, x, y, mask=None):
            # x: B, H, 1, 1, 1 y: B H L 1
            nhid, nhead, head_dim, unfold_size = self.nhid, self.nhead, self.head_dim, self.unfold_size
            B, H, L, _ = y.shape

            q, k, v = self.WQ(x), self.WK(y), self.WV(y)

            q = q.view(B, nhead, 1, head_dim)  # B, H, 1, 1 -> B, N, 1, h
            k = k.view(B, nhead, head_dim, L)  # B, H, L, 1 -> B, N, h, L
            v = k.view(B, nhead, head_dim, L).permute(0, 1, 3, 2)  # B, H, L, 1 -> B, N, L, h (as at both commits)
            pre_a = torch.matmul(q, k) / NP.sqrt(head_dim)
            if mask is not None:
                pre_a = pre_a.masked_fill(mask[:, None, None, :], -float('inf'))
            alphas = self.drop(F.softmax(pre_a, 3))  # B, N, 1, L
            att = torch.matmul(alphas, v).view(B, -1, 1, 1)  # B, N, 1, h -> B, N*h, 1, 1
            return self.WO(att)

    # ---- fastNLP/models/star_transformer.py @881ce017: StarTransEnc, _Cls, STSeqLabel ----
    class StarTransEnc(nn.Module):
        def __init__(self, init_embed, hidden_size, num_layers, num_head, head_dim, max_len, emb_dropout, dropout):
            super(StarTransEnc, self).__init__()
            self.embedding = nn.Embedding.from_pretrained(init_embed, freeze=False)  # get_embeddings(tensor)
            emb_dim = self.embedding.embedding_dim
            self.emb_fc = nn.Linear(emb_dim, hidden_size)
            self.emb_drop = nn.Dropout(emb_dropout)
            self.encoder = StarTransformer(hidden_size=hidden_size, num_layers=num_layers, num_head=num_head,
                                           head_dim=head_dim, dropout=dropout, max_len=max_len)

        def forward(self, x, mask):
            x = self.embedding(x)
            x = self.emb_fc(self.emb_drop(x))
            nodes, relay = self.encoder(x, mask)
            return nodes, relay

    class _Cls(nn.Module):
        def __init__(self, in_dim, num_cls, hid_dim, dropout=0.1):
            super(_Cls, self).__init__()
            self.fc = nn.Sequential(
                nn.Linear(in_dim, hid_dim),
                nn.LeakyReLU(),
                nn.Dropout(dropout),
                nn.Linear(hid_dim, num_cls),
            )

        def forward(self, x):
            h = self.fc(x)
            return h

    class STSeqLabel(nn.Module):
        def __init__(self, init_embed, num_cls, hidden_size=300, num_layers=4, num_head=8, head_dim=32,
                     max_len=512, cls_hidden_size=600, emb_dropout=0.1, dropout=0.1):
            super(STSeqLabel, self).__init__()
            self.enc = StarTransEnc(init_embed=init_embed, hidden_size=hidden_size, num_layers=num_layers,
                                    num_head=num_head, head_dim=head_dim, max_len=max_len,
                                    emb_dropout=emb_dropout, dropout=dropout)
            self.cls = _Cls(hidden_size, num_cls, cls_hidden_size)

        def forward(self, words):
            # port: the program passes seq_len next to words; here it is read off the padding (id 0)
            seq_len = (words != 0).sum(1)
            mask = torch.arange(words.size(1), device=words.device)[None, :] < seq_len[:, None]  # seq_len_to_mask
            nodes, _ = self.enc(words, mask)
            output = self.cls(nodes)
            output = output.transpose(1, 2)  # make hidden to be dim 1
            return output  # [bsz, n_cls, seq_len]

    xs, ys, emb = pos_corpus(n_batches * batch_size)
    model = STSeqLabel(init_embed=torch.from_numpy(emb), num_cls=n_cls, hidden_size=hidden, num_layers=num_layers,
                       num_head=nhead, head_dim=hdim, max_len=MAX_LEN, cls_hidden_size=cls_hidden,
                       emb_dropout=emb_dropout, dropout=drop)

    def init_model(model):  # train.py
        for p in model.parameters():
            if p.size(0) != vocab_size:
                nn.init.normal_(p, 0.0, 0.05)
    init_model(model)

    def loss_fn(pred, target):  # FN.CrossEntropyLoss(padding_idx=tag_v.padding_idx)
        return F.cross_entropy(input=pred, target=target, ignore_index=0)

    def optimizer(params):  # train.py optim_cfg: the embedding at lr * 0.1, the rest with weight decay
        params = [p for p in params if p.requires_grad]
        emb_p = [p for p in params if p.size(0) == vocab_size]
        ex_param = [p for p in params if p.size(0) != vocab_size]
        return torch.optim.Adam([{'params': emb_p, 'lr': lr * 0.1},
                                 {'params': ex_param, 'lr': lr, 'weight_decay': w_decay}])

    def train_step(model, optimizer, loss_fn, x, y):  # fastNLP Trainer step + MyCallback clipping (no lr schedule)
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss

    batches = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in _split(xs, ys)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xs[:256]),
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    init = keras.initializers.RandomNormal(0.0, 0.05)  # train.py init_model: normal_(p, 0.0, 0.05)
    reg = keras.regularizers.L2(w_decay / 2)  # torch Adam weight_decay 2e-5 == L2 penalty 1e-5 * sum(w ** 2)

    def conv1x1(n):  # nn.Conv2d(nhid, n, 1) on (B, H, L, 1) == Dense(n) on (B, L, H)
        return layers.Dense(n, kernel_initializer=init, bias_initializer=init, kernel_regularizer=reg,
                            bias_regularizer=reg)

    def leaky(x):  # F.leaky_relu / nn.LeakyReLU: slope 0.01
        return ops.leaky_relu(x, negative_slope=0.01)

    class PretrainedEmbedding(layers.Layer):
        """nn.Embedding from the normalised GloVe matrix, trained at lr * 0.1: the variable holds 10x the vectors
        and the lookup scales them by 0.1, so Adam (blind to the gradient's scale) moves them at a tenth of the
        step."""

        def __init__(self, matrix, **kw):
            super().__init__(**kw)
            self.matrix = matrix

        def build(self, input_shape):
            self.v = self.add_weight(shape=self.matrix.shape,
                                     initializer=keras.initializers.Constant(self.matrix / 0.1), name="embeddings")

        def call(self, ids):
            return 0.1 * ops.take(self.v, ids, axis=0)

    class MSA1(layers.Layer):
        def __init__(self, nhid, nhead, head_dim, dropout, **kw):
            super().__init__(**kw)
            self.WQ, self.WK, self.WV = conv1x1(nhead * head_dim), conv1x1(nhead * head_dim), conv1x1(nhead * head_dim)
            self.WO = conv1x1(nhid)
            self.drop = layers.Dropout(dropout)
            self.nhid, self.nhead, self.head_dim = nhid, nhead, head_dim

        def build(self, *shapes):
            for w in (self.WQ, self.WK, self.WV):
                w.build((None, None, self.nhid))
            self.WO.build((None, None, self.nhead * self.head_dim))

        def call(self, x, r_embs, relay, training=None):
            # x, r_embs: (B, L, H); relay: (B, 1, H). Keys/values: the left, own and right node (F.unfold, zero
            # padded at the ends), the position's embedding and the relay.
            B, L = ops.shape(x)[0], ops.shape(x)[1]
            N, h = self.nhead, self.head_dim
            q, k, v = self.WQ(x), self.WK(x), self.WV(x)
            ak_e, av_e = self.WK(r_embs), self.WV(r_embs)
            ak_r = ops.broadcast_to(self.WK(relay), ops.shape(k))
            av_r = ops.broadcast_to(self.WV(relay), ops.shape(v))
            kp = ops.pad(k, [[0, 0], [1, 1], [0, 0]])
            vp = ops.pad(v, [[0, 0], [1, 1], [0, 0]])
            ks = ops.stack([kp[:, :-2], kp[:, 1:-1], kp[:, 2:], ak_e, ak_r], axis=2)  # B, L, 5, N*h
            vs = ops.stack([vp[:, :-2], vp[:, 1:-1], vp[:, 2:], av_e, av_r], axis=2)
            ks = ops.reshape(ks, (B, L, 5, N, h))
            vs = ops.reshape(vs, (B, L, 5, N, h))
            q = ops.reshape(q, (B, L, 1, N, h))
            alphas = self.drop(ops.softmax(ops.sum(q * ks, axis=-1, keepdims=True) / np.sqrt(h), axis=2),
                               training=training)
            att = ops.reshape(ops.sum(alphas * vs, axis=2), (B, L, N * h))
            return self.WO(att)

    class MSA2(layers.Layer):
        def __init__(self, nhid, nhead, head_dim, dropout, **kw):
            super().__init__(**kw)
            self.WQ, self.WK, self.WV = conv1x1(nhead * head_dim), conv1x1(nhead * head_dim), conv1x1(nhead * head_dim)
            self.WO = conv1x1(nhid)
            self.drop = layers.Dropout(dropout)
            self.nhid, self.nhead, self.head_dim = nhid, nhead, head_dim

        def build(self, *shapes):
            for w in (self.WQ, self.WK, self.WV):
                w.build((None, None, self.nhid))
            self.WO.build((None, None, self.nhead * self.head_dim))

        def call(self, x, y, mask, training=None):
            # x: (B, 1, H) relay; y: (B, 1 + L, H); mask: (B, 1 + L) bool, True = filled with -inf
            B, L1 = ops.shape(y)[0], ops.shape(y)[1]
            N, h = self.nhead, self.head_dim
            q = ops.reshape(self.WQ(x), (B, 1, N, h))
            k = ops.reshape(self.WK(y), (B, L1, N, h))
            v = k  # v = k.view(...): the values are the keys, as at both commits
            pre_a = ops.sum(q * k, axis=-1) / np.sqrt(h)  # B, 1 + L, N
            pre_a = ops.where(mask[:, :, None], -np.inf, pre_a)
            alphas = self.drop(ops.softmax(pre_a, axis=1), training=training)
            att = ops.reshape(ops.sum(alphas[..., None] * v, axis=1), (B, 1, N * h))
            return self.WO(att)

    class StarTransformer(layers.Layer):
        def __init__(self, hidden_size, num_layers, num_head, head_dim, dropout, max_len, **kw):
            super().__init__(**kw)
            self.iters = num_layers
            self.norm = [layers.LayerNormalization(epsilon=1e-5, beta_initializer=init, gamma_initializer=init,
                                                   beta_regularizer=reg, gamma_regularizer=reg)
                         for _ in range(num_layers)]
            self.ring_att = [MSA1(hidden_size, num_head, head_dim, dropout) for _ in range(num_layers)]
            self.star_att = [MSA2(hidden_size, num_head, head_dim, dropout) for _ in range(num_layers)]
            self.pos_emb = layers.Embedding(max_len, hidden_size, embeddings_initializer=init,
                                            embeddings_regularizer=reg)
            self.hidden_size = hidden_size

        def build(self, *shapes):
            for i in range(self.iters):
                self.norm[i].build((None, None, self.hidden_size))
                self.ring_att[i].build()
                self.star_att[i].build()
            self.pos_emb.build((None,))

        def call(self, data, mask, training=None):
            # mask: (B, L) bool, True for words (padding pos is 0)
            B, L = ops.shape(data)[0], ops.shape(data)[1]
            smask = ops.concatenate([ops.zeros((B, 1), "bool"), mask], axis=1)
            embs = data + self.pos_emb(ops.arange(L))[None]
            nodes = embs
            relay = ops.mean(embs, axis=1, keepdims=True)
            ex_mask = mask[:, :, None]
            if fix:  # 8d61cd68: ex_mask = ex_mask.ne(1)
                ex_mask = ops.logical_not(ex_mask)
            for i in range(self.iters):
                nodes = nodes + leaky(self.ring_att[i](self.norm[i](nodes), embs, relay, training=training))
                relay = leaky(self.star_att[i](relay, ops.concatenate([relay, nodes], axis=1), smask,
                                               training=training))
                nodes = ops.where(ex_mask, 0.0, nodes)  # nodes.masked_fill_(ex_mask, 0)
            return nodes, relay

    xs, ys, emb = pos_corpus(n_batches * batch_size)
    words = keras.Input(shape=(None,), dtype="int64")
    mask = ops.not_equal(words, 0)  # seq_len_to_mask(seq_len)
    x = PretrainedEmbedding(emb)(words)
    x = layers.Dropout(emb_dropout)(x)
    x = conv1x1(hidden)(x)  # emb_fc
    nodes, _ = StarTransformer(hidden, num_layers, nhead, hdim, drop, MAX_LEN)(x, mask)
    h = leaky(conv1x1(cls_hidden)(nodes))  # _Cls
    h = layers.Dropout(0.1)(h)
    output = conv1x1(n_cls)(h)  # (B, L, n_cls) logits
    model = keras.Model(words, output)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                  optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8, global_clipnorm=clip))
    batches = _split(xs, ys)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xs[:256]}


def _build(framework: str, fix: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fix)
    if framework == "keras":
        return _keras(fix)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fix=True)
