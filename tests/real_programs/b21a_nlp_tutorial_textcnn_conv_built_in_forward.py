"""graykode/nlp-tutorial, ``2-1.TextCNN/TextCNN-Torch.py``: Kim's TextCNN on the tutorial's six
three-word sentences ("i love you", "he loves me", "she likes baseball" = 1, "i hate you", "sorry for that",
"this is awful" = 0). A trainable embedding ``W`` (vocab x 2, uniform(-1, 1)) is looked up, three
``Conv2d(1, 3, (2, 2))`` filters run over it with relu and max-pooling over time, the 9 pooled features
go through ``torch.mm(h_pool_flat, self.Weight) + self.Bias`` to 2 logits, trained full-batch with
``nn.CrossEntropyLoss()`` and ``Adam(lr=0.001)`` for 5000 epochs.
The fault: ``forward`` builds the convolutions on every call,
``conv = nn.Conv2d(1, num_filters, (filter_size, embedding_size), bias=True)(embedded_chars)``. They are
never registered on the module, so they are not in ``model.parameters()`` and the optimiser never sees
them, and each forward pass draws fresh random filters: the 9 features the classifier reads are a new
random projection of the embeddings at every step (and at test time). Only ``W``, ``Weight`` and
``Bias`` learn, chasing features that change under them: the loss sits at chance (~0.70) for the
first thousand steps and only comes down later, noisily, once the embeddings have grown large enough
for a random projection to separate the two classes.

Source: github.com/graykode/nlp-tutorial issue #33 ("doubts about the TextCNN Code": the convolution
layers are created in ``forward``), ``2-1.TextCNN/TextCNN-Torch.py`` at
6e171b914ed28eb04dc9176916a99e9a996a7951 (= e785aa3^), fixed by
e785aa3d012468b4b35d7e756bfa83ed887feb5e "fix #33" (``self.filter_list = nn.ModuleList([nn.Conv2d(1,
num_filters, (size, embedding_size), bias=True) for size in filter_sizes])`` in ``__init__``, ``forward``
iterates over it).
Program lines kept: the hyperparameters (embedding_size 2, sequence_length 3, num_classes 2,
filter_sizes [2, 2, 2], num_filters 3), the sentences and labels, the ``TextCNN`` class (``__init__`` and
``forward``, buggy and fixed), ``nn.CrossEntropyLoss()``, ``optim.Adam(model.parameters(), lr=0.001)``,
full-batch training, the test sentence "sorry hate you".
Ported minimally: ``Variable`` dropped; the vocabulary is ``sorted(set(word_list))`` instead of
``list(set(word_list))`` so word ids do not depend on Python's per-process string hashing. No size
shrinking (a step takes well under 1 ms). The data are the program's own (no stand-in).
``batch`` is the full batch of 6 sentences; ``batches`` is that batch 4 times (the program trains
full-batch, one step per epoch); ``inputs`` are the 6 sentences and the test sentence.
Keras: not ported. The repository's TensorFlow twin (``TextCNN-Tensor.py``) creates its filter
variables once in the graph, so the bug does not exist there; in Keras 3 a layer built inside ``call``
under ``fit`` (a ``tf.function``) fails with a variable-creation error instead of training silently.
Fault label: params_not_updated (the convolution filters are never registered/optimised, re-drawn
each forward pass).
Fix (e785aa3): register the convolutions once as ``nn.ModuleList`` in ``__init__`` and use them in
``forward``.
Symptom in a short loop (my own loop: ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``
on the full batch, seed 0, 5000 steps as the program): buggy loss 0.840 (step 1) -> 0.697 (step 200)
-> 0.667 (step 500) -> 0.696 (step 1000) -> 0.340 (step 2000) -> 0.075 (step 5000); mean over steps
401-500 0.713 (range 0.644 .. 0.808), over 901-1000 0.700; 3 registered parameter tensors (W, Weight,
Bias); the test sentence's logits differ between two forward passes ([2.85, -6.01] then [2.38, -2.17]).
Fixed 0.840 -> 0.439 (step 200) -> 0.045 (step 500) -> 0.005 (step 1000) -> 0.0009 (step 2000) ->
0.0001 (step 5000); mean over steps 401-500 0.073; 9 parameter tensors; deterministic outputs. Both
end with the six sentences right and "sorry hate you" classed bad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:graykode/nlp-tutorial issue #33 (2-1.TextCNN/TextCNN-Torch.py@6e171b914ed28eb04dc9176916a99e9a996a7951, "
          "fix e785aa3d012468b4b35d7e756bfa83ed887feb5e)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

# Text-CNN Parameter
embedding_size = 2  # n-gram
sequence_length = 3
num_classes = 2  # 0 or 1
filter_sizes = [2, 2, 2]  # n-gram window
num_filters = 3
lr = 0.001

# 3 words sentences (=sequence_length is 3)
sentences = ["i love you", "he loves me", "she likes baseball", "i hate you", "sorry for that", "this is awful"]
labels = [1, 1, 1, 0, 0, 0]  # 1 is good, 0 is not good.
test_text = 'sorry hate you'

word_list = " ".join(sentences).split()
word_list = sorted(set(word_list))  # program: list(set(word_list)); sorted for a hash-independent order
word_dict = {w: i for i, w in enumerate(word_list)}
vocab_size = len(word_dict)


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inputs = np.asarray([[word_dict[n] for n in sen.split()] for sen in sentences], dtype=np.int64)
    targets = np.asarray(labels, dtype=np.int64)
    tests = np.asarray([[word_dict[n] for n in test_text.split()]], dtype=np.int64)
    return inputs, targets, tests


def _build(framework: str, registered: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only")
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    dtype = torch.FloatTensor

    class TextCNN(nn.Module):  # program lines (buggy: e785aa3^, fixed: e785aa3)
        def __init__(self):
            super(TextCNN, self).__init__()

            self.num_filters_total = num_filters * len(filter_sizes)
            self.W = nn.Parameter(torch.empty(vocab_size, embedding_size).uniform_(-1, 1)).type(dtype)
            self.Weight = nn.Parameter(torch.empty(self.num_filters_total, num_classes).uniform_(-1, 1)).type(dtype)
            self.Bias = nn.Parameter(0.1 * torch.ones([num_classes])).type(dtype)
            if registered:
                self.filter_list = nn.ModuleList(
                    [nn.Conv2d(1, num_filters, (size, embedding_size), bias=True) for size in filter_sizes])

        def forward(self, X):
            embedded_chars = self.W[X]  # [batch_size, sequence_length, sequence_length]
            embedded_chars = embedded_chars.unsqueeze(1)  # add channel(=1) [batch, channel(=1), sequence_length, embedding_size]

            pooled_outputs = []
            if registered:
                for i, conv in enumerate(self.filter_list):
                    h = F.relu(conv(embedded_chars))
                    mp = nn.MaxPool2d((sequence_length - filter_sizes[i] + 1, 1))
                    pooled = mp(h).permute(0, 3, 2, 1)
                    pooled_outputs.append(pooled)
            else:
                for filter_size in filter_sizes:
                    # conv : [input_channel(=1), output_channel(=3), (filter_height, filter_width), bias_option]
                    conv = nn.Conv2d(1, num_filters, (filter_size, embedding_size), bias=True)(embedded_chars)
                    h = F.relu(conv)
                    # mp : ((filter_height, filter_width))
                    mp = nn.MaxPool2d((sequence_length - filter_size + 1, 1))
                    # pooled : [batch_size(=6), output_height(=1), output_width(=1), output_channel(=3)]
                    pooled = mp(h).permute(0, 3, 2, 1)
                    pooled_outputs.append(pooled)

            h_pool = torch.cat(pooled_outputs, len(filter_sizes))  # [batch_size(=6), output_height(=1), output_width(=1), output_channel(=3) * 3]
            h_pool_flat = torch.reshape(h_pool, [-1, self.num_filters_total])  # [batch_size(=6), output_height * output_width * (output_channel * 3)]

            model = torch.mm(h_pool_flat, self.Weight) + self.Bias  # [batch_size, num_classes]
            return model

    model = TextCNN()
    inputs, targets, tests = _data()
    batch = (torch.LongTensor(inputs), torch.LongTensor(targets))
    criterion = nn.CrossEntropyLoss()
    return {"model": model, "batch": batch, "batches": [batch] * 4,
            "inputs": torch.LongTensor(np.concatenate([inputs, tests])),
            "loss_fn": criterion,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, registered=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, registered=True)
