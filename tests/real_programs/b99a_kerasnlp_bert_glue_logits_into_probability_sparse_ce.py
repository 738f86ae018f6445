"""keras-team/keras-nlp (now keras-team/keras-hub), ``examples/bert/run_glue_finetuning.py``: the BERT example's
GLUE fine-tuning script. It reloads a pretrained ``BertModel`` (``examples/bert/bert_model.py``: word, position and
segment embeddings, LayerNorm, dropout, post-norm Transformer encoder blocks; the README runs it with
``configs/bert_tiny.json``: 2 layers, hidden 128, 2 heads, inner 512, GELU, dropout 0.1, TruncatedNormal(0.02)),
puts a head on the [CLS] vector (``BertClassificationFinetuner``: ``Dense(hidden_size, activation="tanh",
name="pooler")`` then ``tf.keras.layers.Dense(num_classes, name="logits")``), and lets KerasTuner search the Adam
learning rate in ``hp.Choice("lr", [5e-5, 4e-5, 3e-5, 2e-5])`` for 3 epochs of batches of 32 (``max_seq_length``
128) on a GLUE task.

The fault (the head / loss pair): the last layer has no activation, so the model emits raw logits, but the model is
compiled with ``loss="sparse_categorical_crossentropy"``, whose default ``from_logits=False`` takes the outputs as
probabilities. Keras then clips every output into [1e-7, 1 - 1e-7] and takes its log before the softmax
cross-entropy: each logit below 1e-7 or above 1 - 1e-7 is flattened to a constant and passes no gradient, and the
"probability" of the true class is clip(z_y) / sum_k clip(z_k). A logit head lives on the whole real line, so
most of the outputs sit in the flat zones from the start or drift into them, and the model stops learning. The
fix turns the outputs into what the loss reads (it declares them logits); the head's activation and the loss's
expectation disagree, which is this corpus's output_activation cause.

Source: github.com/keras-team/keras-hub (then keras-nlp) ``examples/bert/run_glue_finetuning.py`` at
4ba87293c2df69b897c008dee95da27acc1dab58 (the parent of the fix; the file as left by 68eb2f7 "Added KerasTuner
Hyper-Parameter Search for the BERT fine-tuning script. (#143)"), fixed by PR #176
1844b464f6dc387bd75fa25f0a9922f3cdd8e513 "Fix the finetuning script's loss and metric config" (its description:
"Model output should be probability instead of logits"; in review the maintainer asked to keep the logit outputs,
consistent with the pretraining script, and to pass ``from_logits=True`` to the loss, which is what was merged:
``loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` and
``metrics=[keras.metrics.SparseCategoricalAccuracy()]``).
Fault label: output_activation (a linear logit head fed to a loss that expects probabilities).

Program lines kept: ``BertClassificationFinetuner`` as written (the [CLS] slice ``outputs[:, 0, :]``, the tanh
pooler, the ``Dense(num_classes, name="logits")`` head; ``tf.keras.layers`` written as Keras 3's
``keras.layers``), ``num_classes=2``, the compile call of each version
(``optimizer=keras.optimizers.Adam(learning_rate=...)``, buggy ``loss="sparse_categorical_crossentropy",
metrics=["accuracy"]``, fixed as in the PR), batch size 32, the bert_tiny config. The learning rate is 5e-5, the
first (default) value of the tuner's ``hp.Choice``; the tuner's four trials are not run.
Replaced / shrunk, and why:
- ``BertModel`` is rebuilt here in Keras 3 from ``bert_model.py`` with the bert_tiny config (embeddings + position
  embedding over 512 positions + segment embedding, LayerNorm eps 1e-12, dropout 0.1, post-norm blocks of
  MultiHeadAttention (dropout 0.1) / dropout / add+LayerNorm / Dense 512 GELU / Dense 128 / dropout /
  add+LayerNorm, 3-D attention mask from ``input_mask``); Keras 3 has no ``keras_nlp`` / ``EinsumDense``
  experimental API in this env, so these are plain ``Embedding`` / ``Dense`` layers doing the same maths.
- The program fine-tunes a PRETRAINED model (``keras.models.load_model(FLAGS.saved_model_input)``); there is no
  checkpoint here, so the encoder starts from its own initialisers (TruncatedNormal(0.02)). Both versions start
  from the same weights.
- Vocabulary 1000 ids (the stand-in's vocabulary) instead of the pretraining vocab file; ``max_seq_length`` 32
  instead of 128 (the stand-in sentences have at most 26 tokens plus [CLS]/[SEP]; saves CPU time).
- ``model(x)`` takes one int32 array (n, 96) = [input_ids | input_mask | segment_ids] and splits it back into the
  dict that ``pack_inputs`` builds, so the checks can call the model with one tensor.
Ported: Keras only. The fault is Keras's loss-string default (``from_logits=False``) read against a logit head;
torch's ``nn.CrossEntropyLoss`` always takes logits, so a torch twin would have to re-implement Keras's
clip-and-log by hand rather than port a line of the program.
Data stand-in (no GLUE download): an SST-2-like single-sentence sentiment task (``--task_name sst2``, one segment,
segment ids 0; the script's default is MRPC, a sentence-pair task that a from-scratch encoder cannot learn in a
few hundred steps). Each sentence has 5..24 tokens drawn from 950 neutral ids with exactly one sentiment word, from
20 positive ids (label 1) or 20 negative ids (label 0), at a random place; packed as ``pack_inputs`` does:
[CLS] tokens [SEP], padded with 0, mask 1 on real tokens. ``batches``: 100 distinct batches of 32; ``batch``: the
first; ``inputs``: 256 held-out sentences (labels balanced by construction, ~50 / 50).

Measured (my own plain loop, /tmp/s58/p/b99a/measure.py: the module's builds, ``train_on_batch`` over its 100
batches in order for 3 epochs = 300 steps, as the program's ``epochs=3``; keras seed 0, OMP_NUM_THREADS=1,
TF_ENABLE_ONEDNN_OPTS=0, Keras 3.15 / TF 2.21 CPU):
  at init (both versions share the weights) the [CLS] vector of the from-scratch encoder is nearly the same for
    every sentence, so the two logits are about 1.80 (class 0) and -0.52 (class 1) for every input (spread ~0.01):
    each one lies outside (1e-7, 1 - 1e-7), so the buggy loss is flat in every output and sends no gradient.
  compiled loss, means of 30-step blocks (steps 0-299):
    buggy 8.60 8.19 8.40 8.50 8.14 8.43 8.36 8.41 8.09 8.50: flat; class-0 sentences cost ~0, class-1 sentences
      cost -log(1e-7 / (1 + 1e-7)) = 16.1, so the value only follows each batch's class mix;
    fixed 0.785 0.695 0.694 0.687 0.684 0.678 0.629 0.323 0.021 0.004: a plateau near ln 2, then it learns.
  after 300 steps, on the 256 held-out sentences: accuracy buggy 0.508 (every sentence predicted class 0) /
    fixed 1.000; cross-entropy read as logits buggy 1.243 / fixed 0.004; held-out logits buggy unchanged from
    init (range [-0.56, 1.83] before and after) / fixed range [-3.81, 4.62].
  other init seeds (/tmp/s58/p/b99a/seeds.py: SEED 1..4 for the weights, same data, 200 steps = the first 100
    batches twice): buggy held-out accuracy 0.49 / 0.49 / 0.49 / 0.51, largest weight change 0 / 9.8e-4 / 0 /
    3.0e-3, loss stuck at ~7.9 (seed 1) or at exactly 0.693 (seeds 2-4: the logits still inside (0, 1) are
    pushed out of it, after which both classes read as the same clipped value); fixed 0.93 / 0.96 / 0.96 / 0.98.
  Time per step (batch 32, one thread, train_on_batch): ~110 ms buggy, ~90 ms fixed; build ~1-1.6 s.
  Caveat: with the program's pretrained encoder the logits would vary between inputs and some would fall inside
    (0, 1), so the buggy run would get some gradient; the from-scratch stand-in makes it the all-flat extreme.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:keras-team/keras-hub (keras-nlp) PR #176, fix 1844b464f6dc387bd75fa25f0a9922f3cdd8e513 "
          "'Fix the finetuning script's loss and metric config' (examples/bert/run_glue_finetuning.py@"
          "4ba87293c2df69b897c008dee95da27acc1dab58: Dense(num_classes, name='logits') head compiled with "
          "loss='sparse_categorical_crossentropy'; examples/bert/bert_model.py, configs/bert_tiny.json)")
FRAMEWORKS = ("keras",)
CHECKS = [("init_loss", {"num_classes": 2}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("not_constant_predictions", {})]

BATCH_SIZE = 32
LR = 5e-5  # hp.Choice("lr", [5e-5, 4e-5, 3e-5, 2e-5]): its first (default) value
SEQ = 32  # --max_seq_length (128 in the script)
VOCAB = 1000
CLS_ID, SEP_ID, PAD_ID = 2, 3, 0
POS_IDS, NEG_IDS = np.arange(10, 30), np.arange(30, 50)
BERT_TINY = {"num_layers": 2, "hidden_size": 128, "hidden_dropout": 0.1, "num_attention_heads": 2,
             "attention_dropout": 0.1, "inner_size": 512, "inner_activation": "gelu", "initializer_range": 0.02,
             "max_sequence_length": 512}
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """x = [input_ids | input_mask | segment_ids] (n, 3 * SEQ) int32 as pack_inputs makes them; y (n,) int32."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    neutral = np.arange(50, VOCAB)
    ids = np.full((n, SEQ), PAD_ID, "int32")
    mask = np.zeros((n, SEQ), "int32")
    y = r.integers(0, 2, n).astype("int32")
    for i in range(n):
        length = int(r.integers(5, 25))
        toks = r.choice(neutral, length)
        toks[r.integers(0, length)] = r.choice(POS_IDS if y[i] else NEG_IDS)
        seq = [CLS_ID, *toks.tolist(), SEP_ID]  # combine_segments: [CLS] segment [SEP]
        ids[i, :len(seq)] = seq
        mask[i, :len(seq)] = 1
    return np.concatenate([ids, mask, np.zeros_like(ids)], axis=1), y


def _common() -> dict[str, Any]:
    x, y = _data()
    n = N_BATCHES * BATCH_SIZE
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[n:]}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)

    def make_attention_mask(inputs: Any, mask: Any) -> Any:  # [batch, from_seq, to_seq] from the 2-D input mask
        mask = ops.cast(ops.expand_dims(mask, 1), inputs.dtype)
        return ops.ones_like(inputs[:, :, :1]) * mask

    class PositionEmbedding(keras.layers.Layer):  # keras_nlp.layers.PositionEmbedding
        def __init__(self, sequence_length: int, initializer: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sequence_length, self.initializer = sequence_length, initializer

        def build(self, input_shape: Any) -> None:
            self.position_embeddings = self.add_weight(
                shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer,
                name="embeddings")

        def call(self, inputs: Any) -> Any:
            return ops.expand_dims(self.position_embeddings[:ops.shape(inputs)[1]], 0)

    class TransformerEncoderBlock(keras.layers.Layer):  # norm_first=False, inner_dropout=0
        def __init__(self, num_attention_heads: int, inner_size: int, inner_activation: str, hidden_dropout: float,
                     attention_dropout: float, kernel_initializer: Any, hidden_size: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._attention_layer = keras.layers.MultiHeadAttention(
                num_heads=num_attention_heads, key_dim=hidden_size // num_attention_heads,
                dropout=attention_dropout, kernel_initializer=kernel_initializer, name="self_attention")
            self._attention_dropout = keras.layers.Dropout(rate=hidden_dropout)
            self._attention_layer_norm = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)
            self._intermediate_dense = keras.layers.Dense(inner_size, kernel_initializer=kernel_initializer)
            self._intermediate_activation_layer = keras.layers.Activation(inner_activation)
            self._output_dense = keras.layers.Dense(hidden_size, kernel_initializer=kernel_initializer)
            self._hidden_dropout = keras.layers.Dropout(rate=hidden_dropout)
            self._output_layer_norm = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)

        def call(self, query: Any, attention_mask: Any = None) -> Any:
            attention_output = self._attention_layer(query=query, value=query, attention_mask=attention_mask)
            attention_output = self._attention_dropout(attention_output)
            attention_output = self._attention_layer_norm(query + attention_output)
            inner_output = self._intermediate_activation_layer(self._intermediate_dense(attention_output))
            layer_output = self._hidden_dropout(self._output_dense(inner_output))
            return self._output_layer_norm(layer_output + attention_output)

    class BertModel(keras.Model):  # examples/bert/bert_model.py, bert_tiny config
        def __init__(self, vocab_size: int, num_layers: int, hidden_size: int, hidden_dropout: float,
                     num_attention_heads: int, attention_dropout: float, inner_size: int, inner_activation: str,
                     initializer_range: float, max_sequence_length: int, type_vocab_size: int = 2,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
            self._embedding_layer = keras.layers.Embedding(vocab_size, hidden_size,
                                                           embeddings_initializer=initializer)
            self._position_embedding_layer = PositionEmbedding(max_sequence_length, initializer)
            self._type_embedding_layer = keras.layers.Embedding(type_vocab_size, hidden_size,
                                                                embeddings_initializer=initializer)
            self._embedding_norm_layer = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)
            self._embedding_dropout = keras.layers.Dropout(rate=hidden_dropout)
            self._transformer_layers = [
                TransformerEncoderBlock(num_attention_heads, inner_size, inner_activation, hidden_dropout,
                                        attention_dropout, initializer, hidden_size, name="transformer_%d" % i)
                for i in range(num_layers)]

        def call(self, inputs: dict[str, Any]) -> Any:
            input_ids, input_mask, segment_ids = inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"]
            word_embeddings = self._embedding_layer(input_ids)
            position_embeddings = self._position_embedding_layer(word_embeddings)
            type_embeddings = self._type_embedding_layer(segment_ids)
            embeddings = word_embeddings + position_embeddings + type_embeddings
            embeddings = self._embedding_norm_layer(embeddings)
            embeddings = self._embedding_dropout(embeddings)
            attention_mask = make_attention_mask(embeddings, input_mask)
            x = embeddings
            for layer in self._transformer_layers:
                x = layer(x, attention_mask=attention_mask)
            return x

    class BertClassificationFinetuner(keras.Model):
        """Adds a classification head to a pre-trained BERT model for finetuning"""

        def __init__(self, bert_model, hidden_size, num_classes, **kwargs):
            super().__init__(**kwargs)
            self.bert_model = bert_model
            self._pooler_layer = keras.layers.Dense(
                hidden_size,
                activation="tanh",
                name="pooler",
            )
            self._logit_layer = keras.layers.Dense(
                num_classes,
                name="logits",
            )

        def call(self, inputs):
            inputs = {"input_ids": inputs[:, :SEQ], "input_mask": inputs[:, SEQ:2 * SEQ],  # added: one array in
                      "segment_ids": inputs[:, 2 * SEQ:]}
            outputs = self.bert_model(inputs)
            # Get the first [CLS] token from each output.
            outputs = outputs[:, 0, :]
            outputs = self._pooler_layer(outputs)
            return self._logit_layer(outputs)

    bert_config = BERT_TINY
    model = BertModel(vocab_size=VOCAB, **bert_config)
    finetuning_model = BertClassificationFinetuner(
        bert_model=model,
        hidden_size=bert_config["hidden_size"],
        num_classes=2,
    )
    if fixed:  # PR #176
        finetuning_model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=LR),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy()],
        )
    else:
        finetuning_model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=LR),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    finetuning_model(_data()[0][:2])  # build the weights
    return {"model": finetuning_model, **_common()}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(fixed=True)
