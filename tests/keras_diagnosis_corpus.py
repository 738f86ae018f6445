"""The diagnosis corpus in Keras 3 spellings (see diagnosis_corpus.py)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

import keras_corpus as kc
import recipe_corpus as rc
from diagnosis_corpus import NAMES, TRAIN_CODES, Diag, line_arrays, mask_arrays, regression_arrays
from keras_corpus import keras, layers
from keras import ops

K = "keras"
SCE = kc.sparse_ce


def _init(seed: int = 0) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=seed)


def written_out_ce(clip: bool) -> Callable[[Any, Any], Any]:
    """Cross-entropy written out over every class, -sum(onehot * log p), on class ids: 0 · log 0 =
    NaN once a wrong class's probability reaches 0 (``clip``: clipped first)."""
    def loss(y_true: Any, y_pred: Any) -> Any:
        p = ops.clip(y_pred, 1e-7, 1.0) if clip else y_pred
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), ops.shape(y_pred)[-1])
        return -ops.mean(ops.sum(onehot * ops.log(p), axis=-1))
    return loss


def _fit(model_fn: Callable[[], keras.Model], loss: Any = None, optimizer: Any = None, batch: Any = None,
         **kw: Any) -> Callable[[Any], Any]:
    """overfit_one_batch on 32 digits; ``loss=False`` uses the model's compiled loss."""
    def run(m: Any) -> Any:
        extra = {} if loss is False else {"loss_fn": loss or SCE()}
        opt = {} if loss is False else {"optimizer": optimizer or keras.optimizers.Adam(1e-3)}
        return m.overfit_one_batch(model_fn(), kc.digits_arrays(32) if batch is None else batch(), **extra, **opt,
                                   **kw)
    return run


def _regression(target: str, optimizer: Callable[[], Any]) -> Callable[[Any], Any]:
    """overfit_one_batch of a 10-64-1 Dense net on 32 diabetes samples, compiled with 'mse'."""
    def run(m: Any) -> Any:
        model = keras.Sequential([keras.Input((10,)), layers.Dense(64, activation="relu", kernel_initializer=_init()),
                                  layers.Dense(1, kernel_initializer=_init(1))])
        model.compile(optimizer=optimizer(), loss="mse")
        return m.overfit_one_batch(model, regression_arrays(target))
    return run


def _line(lr: float) -> Callable[[Any], Any]:
    def run(m: Any) -> Any:
        model = keras.Sequential([keras.Input((1,)), layers.Dense(1, kernel_initializer=_init())])
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        return m.overfit_one_batch(model, line_arrays())
    return run


def _segment(raw: bool, check: str) -> Callable[[Any], Any]:
    """A 2-class per-pixel head (N, H, W, 2) with sparse categorical CE from logits on masks (N, H, W)."""
    def run(m: Any) -> Any:
        model = keras.Sequential([keras.Input((16, 16, 3)),
                                  layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=_init()),
                                  layers.Conv2D(2, 1, kernel_initializer=_init(1))])
        batch = mask_arrays(raw, channels_last=True)
        if check == "init_loss":
            return m.init_loss(model, batch, loss_fn=SCE())
        return m.overfit_one_batch(model, batch, loss_fn=SCE(), optimizer=keras.optimizers.Adam(1e-2))
    return run


def _one_hot() -> tuple:
    x, y = kc.digits_arrays(32)
    return x, np.eye(10, dtype=np.float32)[y]


def _flow(model_fn: Callable[[], keras.Model], optimizer: Any = None) -> Callable[[Any], Any]:
    return lambda m: m.gradients_flow(model_fn(), kc.digits_arrays(64), loss_fn=SCE(),
                                      optimizer=optimizer or keras.optimizers.Adam(1e-3))


def dropout_mlp(rate: float) -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                             layers.Dense(64, activation="relu", kernel_initializer=_init()),
                             layers.Dropout(rate, seed=1), layers.Dense(10, kernel_initializer=_init())])


def l2_mlp(l2: float) -> keras.Model:
    """The digits MLP with an L2 penalty of ``l2`` on both kernels (``kernel_regularizer=``)."""
    reg = keras.regularizers.L2(l2)
    return keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                             layers.Dense(64, activation="relu", kernel_initializer=_init(), kernel_regularizer=reg),
                             layers.Dense(10, kernel_initializer=_init(), kernel_regularizer=reg)])


class InputTimesZero(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.net = kc.mlp()

    def call(self, x, training=False):
        return self.net(x * 0.0)


def log_head(softplus: bool) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    out = kc.mlp()(inputs)
    out = keras.ops.log(keras.ops.softplus(out) if softplus else out)
    return keras.Model(inputs, out)


def imbalanced(majority_share: float = 0.98) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = kc.digits_arrays(1500)
    zeros, others = np.flatnonzero(y == 0), np.flatnonzero(y != 0)
    n_other = max(1, round(len(zeros) * (1 - majority_share) / majority_share))
    idx = np.random.default_rng(0).permutation(np.concatenate([zeros, others[:n_other]]))
    return [(x[idx][i:i + 32], y[idx][i:i + 32]) for i in range(0, len(idx), 32)]


def _with(value: float) -> Callable[[], tuple]:
    def build() -> tuple:
        x, y = kc.digits_arrays(32)
        x = x.copy()
        x[5, 3, 3, 0] = value
        return x, y
    return build


def _labels(shift: int) -> Callable[[], tuple]:
    return lambda: (kc.digits_arrays(32)[0], kc.digits_arrays(32)[1] + shift)


def _raw(n: int = 8) -> list[np.ndarray]:
    return [im[0] for im in kc.digits()[0][:n]]  # 8x8 arrays, 0..16


def train_pipeline(image: np.ndarray) -> tf.Tensor:
    return tf.convert_to_tensor(image[:, :, None] / 16.0, tf.float32)


def keras_cases() -> list[Diag]:
    raw = lambda: kc.digits_arrays(64, scale="raw")  # noqa: E731
    px = lambda: kc.digits_arrays(64, scale="uint8")  # noqa: E731
    adam, sgd = keras.optimizers.Adam, keras.optimizers.SGD
    return [
        # inputs_not_normalized
        Diag(K, "inputs_not_normalized", "0-255 pixels as float, init loss",
             lambda m: m.init_loss(kc.cnn(), px(), loss_fn=SCE()), True, "inputs_not_normalized"),
        Diag(K, "inputs_not_normalized", "raw 0-16 digits, what reaches the first layer",
             lambda m: m.inputs_normalized(raw(), model=kc.mlp()), True, "inputs_not_normalized"),
        Diag(K, "inputs_not_normalized", "uint8 images as a tf tensor, no model",
             lambda m: m.inputs_normalized(tf.constant(px()[0].astype(np.uint8))), True, "inputs_not_normalized"),
        Diag(K, "inputs_not_normalized", "twin: digits scaled to [0, 1]",
             lambda m: m.inputs_normalized(kc.digits_arrays(64), model=kc.mlp()), False),
        Diag(K, "inputs_not_normalized", "look-alike: Rescaling(1/255) on 0-255 pixels",
             lambda m: m.inputs_normalized(px(), model=rc.k_mlp(rescale=1 / 255)), False),
        Diag(K, "inputs_not_normalized", "look-alike: token ids held as float32 into an Embedding",
             lambda m: m.inputs_normalized(rc.k_tokens(64, dtype="float32"), model=rc.k_embedding(True)), False),
        # input_dtype
        Diag(K, "input_dtype", "serving pipeline returns uint8",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: tf.convert_to_tensor(
                 (im[:, :, None] * 16).astype(np.uint8)), _raw()), True, "input_dtype"),
        Diag(K, "input_dtype", "serving pipeline returns float64",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: tf.convert_to_tensor(
                 im[:, :, None] / 16.0, tf.float64), _raw()), True, "input_dtype"),
        Diag(K, "input_dtype", "twin: both pipelines return float32",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: tf.cast(tf.expand_dims(im, -1), tf.float32)
                                              / 16.0, _raw()), False),
        # loss_mismatch
        Diag(K, "loss_mismatch", "logits into the default from_logits=False (compiled by name)",
             _fit(lambda: kc.compiled(kc.cnn(), adam(1e-3), "sparse_categorical_crossentropy"), loss=False), True,
             "loss_mismatch"),
        Diag(K, "loss_mismatch", "logits into SparseCategoricalCrossentropy()",
             _fit(kc.mlp, loss=keras.losses.SparseCategoricalCrossentropy()), True, "loss_mismatch"),
        Diag(K, "loss_mismatch", "MSE between logits and class ids", _fit(kc.cnn, loss=kc.mse_on_class_ids), True,
             "loss_mismatch"),
        Diag(K, "loss_mismatch", "twin: logits into from_logits=True", _fit(kc.cnn), False),
        Diag(K, "loss_mismatch", "look-alike: Dense(softmax) before from_logits=True (Keras undoes it)",
             _fit(lambda: kc.cnn(activation="softmax")), False),
        # loss_not_finite
        Diag(K, "loss_not_finite", "softmax head into -sum(onehot * log p), unclipped",
             _fit(lambda: kc.mlp(final=layers.Softmax()), loss=written_out_ce(False)), True, "loss_not_finite"),
        Diag(K, "loss_not_finite", "twin: the same loss on clipped probabilities",
             _fit(lambda: kc.mlp(final=layers.Softmax()), loss=written_out_ce(True)), False),
        # output_activation
        Diag(K, "output_activation", "ReLU layer on the logits", _fit(lambda: kc.mlp(final=layers.ReLU())), True,
             "output_activation"),
        Diag(K, "output_activation", "Dense(10, activation='relu') head", _fit(lambda: kc.cnn(activation="relu")),
             True, "output_activation"),
        Diag(K, "output_activation", "Dense(10, activation='relu') head, categorical_crossentropy on one-hot",
             _fit(lambda: kc.compiled(kc.mlp(final=layers.ReLU()), keras.optimizers.Adam(1e-3),
                                      "categorical_crossentropy"), loss=False, batch=_one_hot), True,
             "output_activation"),
        Diag(K, "output_activation", "twin: softmax head, categorical_crossentropy on one-hot",
             _fit(lambda: kc.compiled(kc.mlp(final=layers.Softmax()), keras.optimizers.Adam(1e-2),
                                      "categorical_crossentropy"), loss=False, batch=_one_hot), False),
        Diag(K, "output_activation", "Dense(10, activation='relu') then a Softmax layer, from_logits=False",
             _fit(lambda: kc.mlp(final=keras.Sequential([layers.ReLU(), layers.Softmax()])),
                  loss=keras.losses.SparseCategoricalCrossentropy()), True, "output_activation"),
        Diag(K, "output_activation", "twin: a Softmax layer on the logits, from_logits=False",
             _fit(lambda: kc.mlp(final=layers.Softmax()), loss=keras.losses.SparseCategoricalCrossentropy()), False),
        Diag(K, "output_activation", "softmax over one unit, checked as sigmoid",
             lambda m: m.output_range(kc.mlp(1, final=layers.Softmax()), kc.digits_arrays(64)[0], kind="sigmoid"),
             True, "output_activation"),
        Diag(K, "output_activation", "Dense(softmax) then a Softmax layer, from_logits=False",
             _fit(lambda: keras.Sequential([kc.cnn(activation="softmax"), layers.Softmax()]),
                  loss=keras.losses.SparseCategoricalCrossentropy()), True, "output_activation"),
        Diag(K, "output_activation", "twin: Dense(softmax), from_logits=False",
             _fit(lambda: kc.cnn(activation="softmax"), loss=keras.losses.SparseCategoricalCrossentropy()), False),
        Diag(K, "output_activation", "twin: sigmoid over one unit",
             lambda m: m.output_range(kc.mlp(1, final=layers.Activation("sigmoid")), kc.digits_arrays(64)[0],
                                      kind="sigmoid"), False),
        # head_width
        Diag(K, "head_width", "a head of 5 for 10 classes, training", _fit(lambda: kc.cnn(5)), True, "head_width"),
        Diag(K, "head_width", "a head of 5 for num_classes=10, init loss",
             lambda m: m.init_loss(kc.mlp(5), kc.digits_arrays(64), loss_fn=SCE(), num_classes=10), True,
             "head_width"),
        Diag(K, "head_width", "twin: a head of 10",
             lambda m: m.init_loss(kc.mlp(10), kc.digits_arrays(64), loss_fn=SCE(), num_classes=10), False),
        # learning rate
        Diag(K, "lr_too_high", "Adam at lr 10 (compiled)", _fit(lambda: kc.compiled(kc.cnn(), adam(10.0), SCE()),
                                                                loss=False), True, "lr_too_high"),
        Diag(K, "lr_too_high", "SGD at lr 10", _fit(kc.mlp, optimizer=sgd(10.0)), True, "lr_too_high"),
        Diag(K, "lr_too_high", "SGD at lr 1e-3 on y = 2x over raw x (MSE overflows to inf)", _line(1e-3), True,
             "lr_too_high"),
        Diag(K, "lr_too_high", "twin: SGD at lr 1e-5 on y = 2x over raw x", _line(1e-5), False),
        Diag(K, "lr_too_high", "twin: SGD at lr 0.1 with momentum", _fit(kc.mlp, optimizer=sgd(0.1, momentum=0.9)),
             False),
        Diag(K, "lr_too_low", "Adam at lr 1e-7 (compiled)", _fit(lambda: kc.compiled(kc.cnn(), adam(1e-7), SCE()),
                                                                 loss=False), True, "lr_too_low"),
        Diag(K, "lr_too_low", "SGD at lr 1e-5, loss over batches",
             lambda m: m.loss_decreases(kc.mlp(), kc.digits_array_batches(10), loss_fn=SCE(), optimizer=sgd(1e-5)),
             True, "lr_too_low"),
        Diag(K, "lr_too_low", "twin: Adam at lr 1e-3, loss over batches",
             lambda m: m.loss_decreases(kc.cnn(), kc.digits_array_batches(10), loss_fn=SCE(), optimizer=adam(1e-3)),
             False),
        Diag(K, "lr_too_low", "standardised regression targets at SGD lr 1e-6 (not their scale)",
             _regression("std", lambda: sgd(1e-6)), True, "lr_too_low"),
        # targets_not_normalized
        Diag(K, "targets_not_normalized", "regression targets in dollars (diabetes × 1000)",
             _regression("dollars", lambda: adam(1e-3)), True, "targets_not_normalized"),
        Diag(K, "targets_not_normalized", "twin: standardised regression targets",
             _regression("std", lambda: adam(1e-2)), False),
        Diag(K, "targets_not_normalized", "look-alike: raw diabetes targets 25..346 that Adam fits",
             _regression("raw", lambda: adam(3e-2)), False),
        # params_not_updated
        Diag(K, "params_not_updated", "learning rate 0, one step", _flow(rc.k_mlp, optimizer=adam(0.0)), True,
             "params_not_updated"),
        Diag(K, "params_not_updated", "model.trainable = False on the whole model",
             _fit(lambda: _frozen_all()), True, "params_not_updated"),
        Diag(K, "params_not_updated", "look-alike: first layer frozen on purpose, one step", _flow(rc.k_frozen_first),
             False),
        # no_gradient
        Diag(K, "no_gradient", "stop_gradient on the features", _flow(rc.KStopGradient), True, "no_gradient"),
        Diag(K, "no_gradient", "a layer built but never called", _flow(rc.KUnusedLayer), True, "no_gradient"),
        Diag(K, "no_gradient", "stop_gradient on the logits", _fit(lambda: _stopped_logits()), True, "no_gradient"),
        Diag(K, "no_gradient", "twin: every layer on the path", _flow(rc.k_mlp), False),
        # dead / vanishing / exploding
        Diag(K, "dead_units", "hidden bias -100 kills every ReLU", _flow(lambda: rc.k_mlp(bias=-100.0)), True,
             "dead_units"),
        Diag(K, "dead_units", "two dead ReLU layers", _flow(lambda: rc.k_mlp(depth=2, bias=-100.0)), True,
             "dead_units"),
        Diag(K, "dead_units", "twin: hidden bias 0", _flow(lambda: rc.k_mlp(depth=2)), False),
        Diag(K, "vanishing_gradients", "12 sigmoid layers", _flow(lambda: rc.k_mlp(depth=12, activation="sigmoid")),
             True, "vanishing_gradients"),
        Diag(K, "vanishing_gradients", "16 sigmoid layers", _flow(lambda: rc.k_mlp(depth=16, activation="sigmoid")),
             True, "vanishing_gradients"),
        Diag(K, "vanishing_gradients", "look-alike: conv before BatchNorm", _flow(rc.k_bn), False),
        Diag(K, "exploding_gradients", "6 ReLU layers drawn with std 1", _flow(lambda: rc.k_mlp(depth=6, kernel="normal")),
             True, "exploding_gradients"),
        Diag(K, "exploding_gradients", "10 ReLU layers drawn with std 1",
             _flow(lambda: rc.k_mlp(depth=10, kernel="normal")), True, "exploding_gradients"),
        Diag(K, "exploding_gradients", "twin: 6 ReLU layers at Glorot init", _flow(lambda: rc.k_mlp(depth=6)), False),
        # init_loss_off
        Diag(K, "init_loss_off", "head initialised with RandomNormal(stddev=1)",
             lambda m: m.init_loss(rc.k_mlp(head_std=1.0), kc.digits_arrays(64), loss_fn=SCE()), True, "init_loss_off"),
        Diag(K, "init_loss_off", "every kernel drawn with std 1",
             lambda m: m.init_loss(rc.k_mlp(kernel="normal"), kc.digits_arrays(64), loss_fn=SCE()), True,
             "init_loss_off"),
        Diag(K, "init_loss_off", "look-alike: label smoothing on one-hot targets",
             lambda m: m.init_loss(kc.mlp(), (kc.digits_arrays(64)[0], keras.utils.to_categorical(
                 kc.digits_arrays(64)[1], 10)), loss_fn=keras.losses.CategoricalCrossentropy(
                 from_logits=True, label_smoothing=0.2)), False),
        # labels_invalid
        Diag(K, "labels_invalid", "labels shifted to -1..8", _fit(kc.cnn, batch=_labels(-1)), True, "labels_invalid"),
        Diag(K, "labels_invalid", "an encoder that returns fractions, with the model",
             lambda m: m.label_roundtrip({n: i / 4 for i, n in enumerate(NAMES)}, NAMES, NAMES, model=kc.cnn(4),
                                         inputs=kc.digits_arrays(8)[0]), True, "labels_invalid"),
        Diag(K, "labels_invalid", "segmentation masks of 0/255 for 2 classes", _segment(True, "fit"), True,
             "labels_invalid"),
        Diag(K, "labels_invalid", "segmentation masks of 0/255, init loss", _segment(True, "init_loss"), True,
             "labels_invalid"),
        Diag(K, "labels_invalid", "twin: segmentation masks of class ids 0/1", _segment(False, "fit"), False),
        Diag(K, "labels_invalid", "twin: masks of class ids 0/1, init loss", _segment(False, "init_loss"), False),
        Diag(K, "labels_invalid", "twin: class ids 0..9", _fit(kc.cnn, batch=_labels(0)), False),
        # no_input_signal
        Diag(K, "no_input_signal", "labels shuffled apart from inputs (CNN)",
             lambda m: m.input_independent_baseline(kc.cnn(), rc.shuffled_labels(kc.digits_arrays(128, offset=200)),
                                                    loss_fn=SCE()), True, "no_input_signal"),
        Diag(K, "no_input_signal", "input multiplied by zero in call",
             lambda m: m.input_independent_baseline(_built(InputTimesZero), kc.digits_arrays(128, offset=200),
                                                    loss_fn=SCE()), True, "no_input_signal"),
        Diag(K, "no_input_signal", "twin: labels aligned with inputs",
             lambda m: m.input_independent_baseline(kc.cnn(), kc.digits_arrays(128, offset=200), loss_fn=SCE()),
             False),
        # preprocessing_mismatch
        Diag(K, "preprocessing_mismatch", "serving forgets /16",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: tf.convert_to_tensor(im[:, :, None],
                                                                                              tf.float32), _raw()),
             True, "preprocessing_mismatch"),
        Diag(K, "preprocessing_mismatch", "serving transposes the image",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: train_pipeline(im.T), _raw()), True,
             "preprocessing_mismatch"),
        Diag(K, "preprocessing_mismatch", "twin: the same ops spelled with tf.cast",
             lambda m: m.preprocessing_parity(train_pipeline, lambda im: tf.cast(im[:, :, None], tf.float32) / 16.0,
                                              _raw()), False),
        # label_mapping_mismatch
        Diag(K, "label_mapping_mismatch", "serving list sorted alphabetically, with the model",
             lambda m: m.label_roundtrip(TRAIN_CODES, sorted(NAMES), NAMES, model=kc.cnn(4),
                                         inputs=kc.digits_arrays(8)[0]), True, "label_mapping_mismatch"),
        Diag(K, "label_mapping_mismatch", "codes numbered from 1",
             lambda m: m.label_roundtrip({n: i + 1 for n, i in TRAIN_CODES.items()},
                                         {i + 1: n for n, i in TRAIN_CODES.items()}, NAMES, model=kc.cnn(4),
                                         inputs=kc.digits_arrays(8)[0]), True, "label_mapping_mismatch"),
        Diag(K, "label_mapping_mismatch", "twin: the training order and a head of 4",
             lambda m: m.label_roundtrip(TRAIN_CODES, NAMES, NAMES, model=kc.cnn(4), inputs=kc.digits_arrays(8)[0]),
             False),
        # class_collapse
        Diag(K, "class_collapse", "trained on 98% one class",
             lambda m: m.not_constant_predictions(kc.cnn(), kc.digits_arrays(200, offset=1000)[0],
                                                  train_on=imbalanced(), loss_fn=SCE(), optimizer=adam(1e-3)),
             True, "labels_imbalanced"),
        Diag(K, "class_collapse", "trained on batches of one class only",
             lambda m: m.not_constant_predictions(kc.cnn(), kc.digits_arrays(200, offset=1000)[0],
                                                  train_on=_one_class(), loss_fn=SCE(), optimizer=adam(1e-3)),
             True, "labels_imbalanced"),
        Diag(K, "class_collapse", "input multiplied by zero",
             lambda m: m.not_constant_predictions(_built(InputTimesZero), kc.digits_arrays(200, offset=1000)[0]),
             True, "class_collapse"),
        Diag(K, "class_collapse", "twin: trained on balanced batches",
             lambda m: m.not_constant_predictions(kc.cnn(), kc.digits_arrays(200, offset=1000)[0],
                                                  train_on=kc.digits_array_batches(10), loss_fn=SCE(),
                                                  optimizer=adam(1e-3)), False),
        # batch_mixing
        Diag(K, "batch_mixing", "features transposed and reshaped",
             lambda m: m.batch_independence(_built(lambda: rc.KBatchMixing("transpose")), kc.digits_arrays(16)[0]),
             True, "batch_mixing"),
        Diag(K, "batch_mixing", "features minus their batch mean",
             lambda m: m.batch_independence(_built(lambda: rc.KBatchMixing("center")), kc.digits_arrays(16)[0]),
             True, "batch_mixing"),
        Diag(K, "batch_mixing", "look-alike: BatchNormalization, judged in inference mode",
             lambda m: m.batch_independence(rc.k_bn(), kc.digits_arrays(16)[0]), False),
        # over_regularized
        Diag(K, "over_regularized", "Dropout(0.99) meant as keep probability", _fit(lambda: dropout_mlp(0.99)), True,
             "over_regularized"),
        Diag(K, "over_regularized", "weight decay 10 (AdamW)",
             _fit(kc.mlp, optimizer=keras.optimizers.AdamW(1e-3, weight_decay=10.0)), True, "over_regularized"),
        Diag(K, "over_regularized", "twin: Dropout(0.1)", _fit(lambda: dropout_mlp(0.1)), False),
        Diag(K, "over_regularized", "kernel_regularizer L2(0.1) on both kernels", _fit(lambda: l2_mlp(0.1)), True,
             "over_regularized"),
        Diag(K, "over_regularized", "twin: kernel_regularizer L2(0.01)", _fit(lambda: l2_mlp(0.01)), False),
        # split_leakage
        Diag(K, "split_leakage", "tf.data datasets over overlapping ranges",
             lambda m: m.no_split_leakage(tf.data.Dataset.from_tensor_slices(kc.digits_arrays(250)).batch(50),
                                          tf.data.Dataset.from_tensor_slices(kc.digits_arrays(100, offset=200))
                                          .batch(50)), True, "split_leakage"),
        Diag(K, "split_leakage", "numpy arrays sharing one sample",
             lambda m: m.no_split_leakage(kc.digits_arrays(200)[0], np.concatenate(
                 [kc.digits_arrays(60, offset=200)[0], kc.digits_arrays(1, offset=5)[0]])), True, "split_leakage"),
        Diag(K, "split_leakage", "twin: disjoint tf.data datasets",
             lambda m: m.no_split_leakage(tf.data.Dataset.from_tensor_slices(kc.digits_arrays(200)).batch(50),
                                          tf.data.Dataset.from_tensor_slices(kc.digits_arrays(100, offset=250))
                                          .batch(50)), False),
        # inputs_not_finite
        Diag(K, "inputs_not_finite", "a NaN pixel in the batch", _fit(kc.cnn, batch=_with(float("nan"))), True,
             "inputs_not_finite"),
        Diag(K, "inputs_not_finite", "an inf pixel in the batch", _fit(kc.mlp, batch=_with(float("inf"))), True,
             "inputs_not_finite"),
        Diag(K, "inputs_not_finite", "twin: every pixel finite", _fit(kc.mlp, batch=_with(0.5)), False),
        # xy_length_mismatch
        Diag(K, "xy_length_mismatch", "31 labels for 32 images",
             _fit(kc.cnn, batch=lambda: (kc.digits_arrays(32)[0], kc.digits_arrays(31)[1])), True,
             "xy_length_mismatch"),
        Diag(K, "xy_length_mismatch", "31 labels, gradients",
             lambda m: m.gradients_flow(kc.mlp(), (kc.digits_arrays(32)[0], kc.digits_arrays(31)[1]), loss_fn=SCE()),
             True, "xy_length_mismatch"),
        Diag(K, "xy_length_mismatch", "twin: 32 labels for 32 images", _fit(kc.cnn), False),
        # outputs_not_finite
        Diag(K, "outputs_not_finite", "a log of the logits", lambda m: m.output_range(
            log_head(False), kc.digits_arrays(64)[0], kind="logits"), True, "outputs_not_finite"),
        Diag(K, "outputs_not_finite", "each image divided by its sum, one image blank",
             lambda m: m.output_range(per_image_sum(0.0), _blank(), kind="logits"), True, "outputs_not_finite"),
        Diag(K, "outputs_not_finite", "twin: divided by its sum plus 1e-6",
             lambda m: m.output_range(per_image_sum(1e-6), _blank(), kind="logits"), False),
        Diag(K, "outputs_not_finite", "twin: a log of softplus(logits)", lambda m: m.output_range(
            log_head(True), kc.digits_arrays(64)[0], kind="logits"), False),
        # target_leakage
        Diag(K, "target_leakage", "language model through a Bidirectional GRU", _next_tokens("bigru"), True,
             "target_leakage"),
        Diag(K, "target_leakage", "language model through MultiHeadAttention without use_causal_mask",
             _next_tokens("attention"), True, "target_leakage"),
        Diag(K, "target_leakage", "twin: a left-to-right GRU", _next_tokens("gru"), False),
        Diag(K, "target_leakage", "twin: MultiHeadAttention with use_causal_mask=True", _next_tokens("causal"), False),
    ]


def per_image_sum(eps: float) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    scaled = inputs / (keras.ops.sum(inputs, axis=(1, 2, 3), keepdims=True) + eps)
    return keras.Model(inputs, kc.mlp()(scaled))


def _blank() -> np.ndarray:
    x = kc.digits_arrays(64, offset=1000)[0].copy()
    x[10] = 0.0
    return x


def _one_class() -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = kc.digits_arrays(600)
    keep = y == 3
    return [(x[keep][i:i + 16], y[keep][i:i + 16]) for i in range(0, int(keep.sum()), 16)]


def _built(build: Callable[[], keras.Model]) -> keras.Model:
    model = build()
    model(np.zeros((2, 8, 8, 1), np.float32))
    return model


def _frozen_all() -> keras.Model:
    model = kc.mlp()
    model.trainable = False
    return model


def _stopped_logits() -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, keras.ops.stop_gradient(kc.mlp()(inputs)))


def token_lm(layer: str) -> keras.Model:
    """Embedding -> a sequence layer -> per-token logits (N, T, 32), compiled as a language model."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((10,), dtype="int32")
    h = layers.Embedding(32, 32)(inp)
    if layer == "gru":
        h = layers.GRU(32, return_sequences=True)(h)
    elif layer == "bigru":
        h = layers.Bidirectional(layers.GRU(16, return_sequences=True))(h)
    else:
        h = h + layers.MultiHeadAttention(2, 16)(h, h, use_causal_mask=layer == "causal")
    model = keras.Model(inp, layers.Dense(32)(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _next_tokens(layer: str) -> Callable[[Any], Any]:
    """overfit_one_batch on 32 sequences of 11 tokens (each opening with its own token), the targets
    the next tokens."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 32, size=(32, 11)).astype("int32")
    x[:, 0] = rng.permutation(32)
    return lambda m: m.overfit_one_batch(token_lm(layer), (x[:, :-1], x[:, 1:]))
