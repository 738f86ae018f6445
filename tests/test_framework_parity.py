"""The same bug gets the same verdict and the same first cause in PyTorch and in Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as K
import torch_corpus as T
from pytest_mlcheck import CheckFailed


def _torch_case(name: str) -> dict:
    return next(c for c in T.training_cases() if c.name == name).build()


def _keras_case(name: str) -> dict:
    return next(c for c in K.training_cases() if c.name == name).build()


def _imbalanced_keras() -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.permute(0, 2, 3, 1).numpy(), y.numpy()) for x, y in T.imbalanced_batches()]


# kind -> (check, torch kwargs builder, keras kwargs builder, expected first cause or None for a pass)
TRAINING = {
    "correct CNN": ("cnn, Adam 1e-3", "cnn, Adam 1e-3", None),
    "correct MLP with momentum SGD": ("mlp, SGD 0.1 momentum", "mlp, SGD 0.1 momentum", None),
    "a plain loss function": ("mlp, F.cross_entropy as a plain function", "mlp, a plain loss function", None),
    "learning rate 10 (Adam)": ("cnn, lr 10 (Adam)", "cnn, lr 10 (Adam)", "lr_too_high"),
    "learning rate 10 (SGD)": ("mlp, lr 10 (SGD)", "mlp, lr 10 (SGD)", "lr_too_high"),
    "learning rate 1e-7": ("cnn, lr 1e-7 (Adam)", "cnn, lr 1e-7 (Adam)", "lr_too_low"),
    "MSE between logits and class ids": ("cnn, MSE between logits and class ids",
                                         "cnn, MSE between logits and class ids", "loss_mismatch"),
    "output and loss disagree on logits vs probabilities": (
        "cnn, softmax in forward before CrossEntropyLoss", "cnn, logits into the default from_logits=False loss",
        "loss_mismatch"),
}


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("kind", list(TRAINING))
def test_overfit_one_batch_gives_the_same_verdict_in_both_frameworks(mlcheck, kind, framework):
    torch_name, keras_name, cause = TRAINING[kind]
    if framework == "torch":
        kwargs, batch = _torch_case(torch_name), T.digits_batch(32)
    else:
        kwargs, batch = _keras_case(keras_name), K.digits_arrays(32)
    if cause is None:
        assert mlcheck.overfit_one_batch(batch=batch, **kwargs).passed
    else:
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(batch=batch, **kwargs)
        assert info.value.causes[:1] == [cause], str(info.value)


def _keras_mlp(final: str | None = None, width: int = 10) -> keras.Model:
    return K.mlp(width, final=keras.layers.Activation(final) if final else None)


OUTPUTS = {
    "logits checked as logits": (lambda: T.DigitsCNN(), lambda: K.cnn(), dict(kind="logits", num_classes=10), None),
    "softmax checked as logits": (lambda: T.digits_mlp(final=nn.Softmax(dim=1)), lambda: _keras_mlp("softmax"),
                                  dict(kind="logits"), "output_activation"),
    "ReLU on the logits": (lambda: T.digits_mlp(final=nn.ReLU()), lambda: K.cnn(activation="relu"),
                           dict(kind="logits"), "output_activation"),
    "sigmoid where probabilities belong": (lambda: T.digits_mlp(final=nn.Sigmoid()), lambda: _keras_mlp("sigmoid"),
                                           dict(kind="probabilities"), "output_activation"),
    "softmax over one unit": (lambda: T.digits_mlp(1, final=nn.Softmax(dim=1)), lambda: _keras_mlp("softmax", 1),
                              dict(kind="sigmoid"), "output_activation"),
    "head narrower than the classes": (lambda: T.DigitsCNN(5), lambda: K.cnn(5), dict(kind="logits", num_classes=10),
                                       "head_width"),
}


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("kind", list(OUTPUTS))
def test_output_range_gives_the_same_verdict_in_both_frameworks(mlcheck, kind, framework):
    build_torch, build_keras, kwargs, cause = OUTPUTS[kind]
    torch.manual_seed(0)
    model, x = (build_torch(), T.held_out()) if framework == "torch" else \
        (build_keras(), T.held_out().permute(0, 2, 3, 1).numpy())
    if cause is None:
        assert mlcheck.output_range(model, x, **kwargs).passed
    else:
        with pytest.raises(CheckFailed) as info:
            mlcheck.output_range(model, x, **kwargs)
        assert info.value.causes[0] == cause, str(info.value)


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("imbalanced", [False, True], ids=["balanced", "98% one class"])
def test_collapse_after_imbalanced_training_is_caught_in_both_frameworks(mlcheck, framework, imbalanced):
    torch.manual_seed(0)
    if framework == "torch":
        model, loss, opt = T.DigitsCNN(), nn.CrossEntropyLoss(), (lambda p: torch.optim.Adam(p, lr=1e-3))
        train = T.imbalanced_batches() if imbalanced else T.digits_batches(10)
        x = T.held_out()
    else:
        model, loss, opt = K.cnn(), K.sparse_ce(), keras.optimizers.Adam(1e-3)
        train = _imbalanced_keras() if imbalanced else K.digits_array_batches(10)
        x = T.held_out().permute(0, 2, 3, 1).numpy()
    if imbalanced:
        with pytest.raises(CheckFailed) as info:
            mlcheck.not_constant_predictions(model, x, train_on=train, loss_fn=loss, optimizer=opt)
        assert info.value.causes[:2] == ["labels_imbalanced", "class_collapse"], str(info.value)
    else:
        mlcheck.not_constant_predictions(model, x, train_on=train, loss_fn=loss, optimizer=opt)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_label_mapping_against_the_head_gives_the_same_verdict_in_both_frameworks(mlcheck, framework):
    names = ["cat", "dog", "bird", "fish"]
    encode = {n: i for i, n in enumerate(names)}
    model_4, model_10 = (T.DigitsCNN(4), T.DigitsCNN()) if framework == "torch" else (K.cnn(4), K.cnn())
    x = T.held_out(8) if framework == "torch" else T.held_out(8).permute(0, 2, 3, 1).numpy()
    assert mlcheck.label_roundtrip(encode, names, names, model=model_4, inputs=x).passed
    with pytest.raises(CheckFailed) as info:
        mlcheck.label_roundtrip(encode, names, names, model=model_10, inputs=x)
    assert info.value.causes == ["head_width"]


def test_preprocessing_parity_compares_tensorflow_pipelines_element_by_element(mlcheck):
    import tensorflow as tf

    def train(im):
        return tf.cast(im, tf.float32) / 255.0

    mlcheck.preprocessing_parity(train, lambda im: tf.image.convert_image_dtype(im, tf.float32), T.raw_images())
    with pytest.raises(CheckFailed, match="channel order reversed"):
        mlcheck.preprocessing_parity(train, lambda im: train(im[..., ::-1]), T.raw_images())
    with pytest.raises(CheckFailed, match="sizes differ"):
        mlcheck.preprocessing_parity(train, lambda im: tf.image.resize(train(im), (6, 6)), T.raw_images())


def test_a_rescaling_layer_makes_uint8_input_correct_in_keras(mlcheck):
    x, y = K.digits_arrays(32, scale="uint8")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255.0), *K.cnn().layers])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=K.sparse_ce())
    mlcheck.overfit_one_batch(model, (x.astype(np.uint8), y))


def _frozen_torch() -> nn.Module:
    return T.DigitsCNN().requires_grad_(False)


def _frozen_keras() -> keras.Model:
    model = K.cnn()
    model.trainable = False
    return model


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_model_with_nothing_trainable_fails_in_both_frameworks(mlcheck, framework):
    if framework == "torch":
        model, batch, loss = _frozen_torch(), T.digits_batch(32), nn.CrossEntropyLoss()
    else:
        model, batch, loss = _frozen_keras(), K.digits_arrays(32), K.sparse_ce()
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(model, batch, loss_fn=loss)
    assert info.value.causes == ["params_not_updated"]


def test_dense_1_with_a_softmax_activation_is_caught_as_always_one(mlcheck):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1, activation="softmax")])
    with pytest.raises(CheckFailed) as info:
        mlcheck.output_range(model, K.digits_arrays(64)[0], kind="sigmoid")
    assert info.value.causes == ["output_activation"]


def _deep_relu(framework: str, *, fan_in_init: bool) -> tuple[object, dict, list]:
    """Five ReLU layers of 64 on digits at SGD 0.01: at PyTorch's default init (Keras: the same
    uniform ±1/√fan_in) the signal's spread across samples shrinks about ×0.4 per layer; He init
    keeps it."""
    if framework == "torch":
        torch.manual_seed(0)
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(5):
            layers += [nn.Linear(64, 10 if i == 4 else 64)] + ([nn.ReLU()] if i < 4 else [])
        model = nn.Sequential(*layers)
        if fan_in_init:
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        return model, dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.SGD(p, lr=0.01)), \
            T.digits_batches(10)
    keras.utils.set_random_seed(0)
    init = "he_normal" if fan_in_init else keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()]
                             + [keras.layers.Dense(64, activation="relu", kernel_initializer=init) for _ in range(4)]
                             + [keras.layers.Dense(10, kernel_initializer=init)])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, {}, [K.digits_arrays(32, offset=32 * i) for i in range(10)]


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_deep_net_whose_init_fades_the_signal_is_named_and_its_fan_in_twin_passes(mlcheck, framework):
    """lr×10 … ×1000 do not halve the loss in 100 steps; a fresh copy with every layer rescaled to
    unit-variance outputs halves it at the same rate: the init, not the rate. The model as given is
    untouched by the rescaled copy."""
    model, train, batches = _deep_relu(framework, fan_in_init=False)
    before = [np.array(w, copy=True) for w in (model.state_dict().values() if framework == "torch"
                                               else [v.numpy() for v in model.weights])]
    with pytest.raises(CheckFailed) as info:
        mlcheck.loss_decreases(model, batches, **train)
    text = str(info.value)
    assert info.value.causes[:1] == ["vanishing_gradients"], text
    assert "the signal fades with depth" in text and "per layer over 5 layers" in text
    after = model.state_dict().values() if framework == "torch" else [v.numpy() for v in model.weights]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, after))
    twin, train, batches = _deep_relu(framework, fan_in_init=True)
    assert mlcheck.loss_decreases(twin, batches, **train).passed


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_value_fit_that_only_learns_the_targets_mean_fails_in_both_frameworks(mlcheck, framework):
    """Targets around 100 from inputs floored to zero: the loss falls from ~10⁴ to the targets'
    variance, "90 % of the way", without memorising a sample; the same targets from the real inputs
    fit. The bar: 10 % of the way from the best constant prediction's loss to the floor."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8)).astype(np.float32)
    y = (100 + 3 * x[:, :1] + 0.1 * rng.normal(size=(32, 1))).astype(np.float32)
    if framework == "torch":
        def build() -> tuple[object, dict]:
            torch.manual_seed(0)
            net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
            return net, dict(loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.Adam(p, lr=0.1))
        as_batch = lambda a: (torch.tensor(a), torch.tensor(y))  # noqa: E731
    else:
        def build() -> tuple[object, dict]:
            keras.utils.set_random_seed(0)
            net = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
            net.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
            return net, {}
        as_batch = lambda a: (a, y)  # noqa: E731
    model, train = build()
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(model, as_batch(np.zeros_like(x)), **train)
    assert "of the way from a constant prediction's" in str(info.value), str(info.value)
    assert info.value.causes[:1] == ["no_input_signal"], str(info.value)
    model, train = build()
    assert mlcheck.overfit_one_batch(model, as_batch(x), **train).passed


def _design(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``noisy``: 40 samples of 5 features, targets a linear function plus noise of std 2; ``sorted``:
    the TensorFlow guide's line, y = 3x + 2 + noise on 201 points of a linspace (in order)."""
    rng = np.random.default_rng(0)
    if kind == "noisy":
        x = rng.normal(size=(40, 5)).astype(np.float32)
        return x, (x @ rng.normal(size=(5, 1)) + 2.0 * rng.normal(size=(40, 1))).astype(np.float32)
    x = np.linspace(-2, 2, 201, dtype=np.float32)[:, None]
    return x, (3 * x + 2 + rng.normal(size=(201, 1))).astype(np.float32)


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("kind,kept,note", [
    ("noisy", 3, "6 trainable weight(s) for the batch's 40 target values"),
    ("sorted", 2, "spread over the batch (one in every 100)"),
])
def test_a_linear_regression_is_judged_on_samples_spread_over_what_its_weights_can_interpolate(
        mlcheck, framework, kind, kept, note):
    """A linear model of P weights cannot interpolate more than P noisy targets: on the whole batch
    the loss levels off at the least-squares residual (about 60 % of the way for six weights on 40
    samples). The check judges samples holding half of what its weights interpolate, spread over the
    batch — the guide's first two points lie 0.02 apart, and a line through them takes thousands of
    SGD steps — and says so; the same model on inputs that lost their features (all zero) learns only
    the mean there and fails."""
    x, y = _design(kind)
    if framework == "torch":
        def build() -> tuple[object, dict]:
            torch.manual_seed(0)
            return nn.Linear(x.shape[1], 1), dict(loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
        as_batch = lambda a: (torch.tensor(a), torch.tensor(y))  # noqa: E731
    else:
        def build() -> tuple[object, dict]:
            keras.utils.set_random_seed(0)
            net = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
            net.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
            return net, {}
        as_batch = lambda a: (a, y)  # noqa: E731
    model, train = build()
    result = mlcheck.overfit_one_batch(model, as_batch(x), **train)
    assert result.figures["samples"] == kept
    assert any(note in n for n in result.notes), result.notes
    model, train = build()
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(model, as_batch(np.zeros_like(x)), **train)
    assert info.value.causes[:1] == ["no_input_signal"], str(info.value)



class _Tiled(nn.Module):
    """One weight and a bias, tiled over 50 outputs: fewer weights than one sample's targets."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x).expand(-1, 50)

def test_a_model_with_fewer_weights_than_two_samples_targets_says_so(mlcheck):
    """wtte-rnn's 16-weight model predicts 400 values a sample: even the two samples a batch norm needs
    hold ×50 what its weights can interpolate, and the note says so (it had claimed half). The twin:
    targets its inputs determine (one line tiled over every column) fit all the same."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 1)).astype(np.float32)
    note = "judged on 2 sample(s) spread over the batch (one in every 4), 100 values, ×50 its weights"
    train = dict(loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(_Tiled(), (torch.tensor(x), torch.tensor(rng.normal(size=(8, 50)).astype(np.float32))),
                                  **train)
    assert note in str(info.value)
    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(_Tiled(), (torch.tensor(x), torch.tensor(np.repeat(3 * x + 1, 50, axis=1))),
                                       **train)
    assert any(note in n for n in result.notes), result.notes

def _skipping_mlp(framework: str, *, skip: bool, spare: bool = False) -> tuple[object, dict, tuple]:
    """Three 64-unit layers on digits whose third reads the first's output when ``skip`` (the second
    then feeds nothing the loss reads, 32 % of the weights); ``spare``: wired right, plus a
    five-weight layer the forward pass never calls."""
    if framework == "torch":
        torch.manual_seed(0)

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.l1, self.l2, self.l3 = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 64)
                self.head = nn.Linear(64, 10)
                self.spare = nn.Linear(4, 1) if spare else None

            def forward(self, x):
                h1 = torch.relu(self.l1(x.flatten(1)))
                h2 = torch.relu(self.l2(h1))
                return self.head(torch.relu(self.l3(h1 if skip else h2)))

        x, y = K.digits_arrays(32)
        return Net(), dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.SGD(p, lr=1e-3)), \
            (torch.tensor(x), torch.tensor(y))
    keras.utils.set_random_seed(0)

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.l1, self.l2, self.l3 = (keras.layers.Dense(64, activation="relu") for _ in range(3))
            self.head = keras.layers.Dense(10)
            self.spare = keras.layers.Dense(1) if spare else None

        def call(self, x):
            h1 = self.l1(keras.ops.reshape(x, (-1, 64)))
            h2 = self.l2(h1)
            return self.head(self.l3(h1 if skip else h2))

    model = Net()
    if spare:
        model.spare.build((None, 4))
    model(np.zeros((1, 8, 8, 1), np.float32))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, {}, K.digits_arrays(32)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_layers_the_loss_never_reaches_are_named_before_any_learning_rate_story(mlcheck, framework):
    """A run cut short (3 steps at a slow rate) fails either way; where a third of the weights get no
    gradient at all (a layer fed an earlier layer's output), that value is the first cause, ahead of
    the retries; wired right, or with only a five-weight spare layer unused, it is not named."""
    for skip, spare, named in ((True, False, True), (False, False, False), (False, True, False)):
        model, train, batch = _skipping_mlp(framework, skip=skip, spare=spare)
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(model, batch, steps=3, **train)
        causes = info.value.causes
        assert (causes[:1] == ["no_gradient"]) is named and (("no_gradient" in causes) is named), str(info.value)
        if named:
            assert "32% of the model's weights" in str(info.value)


def test_learning_rate_retries_scale_a_keras_schedule(mlcheck):
    """A Keras optimizer built on a LearningRateSchedule: the retries at other rates scale every
    step's scheduled rate. Left alone, a retry "at lr×100" had repeated the given run and reported
    its figures as the retry's; here the schedule's slow start names lr_too_low, as a float rate of
    the same size does."""
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-5, decay_steps=1000, decay_rate=0.9)
    for rate in (schedule, 1e-5):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(model, K.digits_arrays(32), steps=100)
        assert info.value.causes[:1] == ["lr_too_low"], str(info.value)
        if rate is schedule:
            assert model.optimizer._learning_rate is schedule  # the retries scaled a clone's


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_targets_marking_every_class_of_every_sample_are_named_before_training_on(mlcheck, framework):
    """A label column one-hot encoded into all ones ([1, 1] for every review) under a two-way
    softmax and a hand-written cross-entropy: the loss starts at its floor (2 ln 2), so its progress
    is rounding. `labels_invalid` is named, without the extension a "still falling" curve would get;
    the twin with the labels one-hot encoded right fits."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)
    for targets, broken in ((np.ones((64, 2), np.float32), True), (np.eye(2, dtype=np.float32)[labels], False)):
        if framework == "torch":
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 2), nn.Softmax(dim=1))
            train = dict(loss_fn=lambda p, y: -(y * torch.log(p.clamp(min=1e-7))).sum(1).mean(),
                         optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
            batch = (torch.tensor(x), torch.tensor(targets))
        else:
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="relu"),
                                      keras.layers.Dense(2, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(1e-2),
                          loss=lambda y, p: -keras.ops.mean(keras.ops.sum(y * keras.ops.log(keras.ops.clip(p, 1e-7, 1.0)), axis=1)))
            train, batch = {}, (x, targets)
        if not broken:
            assert mlcheck.overfit_one_batch(model, batch, **train).passed
            continue
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(model, batch, **train)
        assert info.value.causes[:1] == ["labels_invalid"], str(info.value)
        assert "every target row marks all 2 classes (64 of 64 samples)" in str(info.value)
        assert info.value.result.steps <= 400, "a start at the floor is not a slow run to extend"


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_padding_labelled_with_the_ignore_index_is_not_demanded_and_other_negative_ids_are_invalid(mlcheck,
                                                                                                   framework):
    """A token classifier whose padded positions are labelled -100 (Hugging Face's convention) under
    a loss that skips them (torch's default ignore_index, Keras's ignore_class=-100): those positions
    are read as ignored — the targets are valid, the loss at init is uninformative, the batch is
    fitted on the positions the loss reads. The same labels under a loss that ignores -1 instead
    are outside the head: labels_invalid."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(16, 12))
    lengths = rng.integers(4, 13, size=16)
    pad = np.arange(12)[None, :] >= lengths[:, None]
    x[pad] = 0
    y = (x * 7 + np.arange(12)) % 20
    y[pad] = -100
    for ignore, valid in ((-100, True), (-1, False)):
        if framework == "torch":
            torch.manual_seed(0)

            class Tagger(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.embed, self.rnn, self.head = nn.Embedding(50, 32), nn.GRU(32, 64, batch_first=True), nn.Linear(64, 20)

                def forward(self, tokens):
                    return self.head(self.rnn(self.embed(tokens))[0])

            model = Tagger()
            train = dict(loss_fn=lambda out, t, i=ignore: nn.functional.cross_entropy(out.transpose(1, 2), t, ignore_index=i),
                         optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
            batch = (torch.tensor(x), torch.tensor(y))
        else:
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 32),
                                      keras.layers.GRU(64, return_sequences=True), keras.layers.Dense(20)])
            model.compile(optimizer=keras.optimizers.Adam(1e-2),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore))
            train, batch = {}, (x, y)
        if valid:
            result = mlcheck.overfit_one_batch(model, batch, **train)
            assert "ignored by the loss (target -100)" in result.figures["targets"], result.figures
            assert mlcheck.init_loss(model, batch, **{k: v for k, v in train.items() if k == "loss_fn"}).passed
            continue
        with pytest.raises(CheckFailed) as info:
            mlcheck.init_loss(model, batch, **{k: v for k, v in train.items() if k == "loss_fn"})
        assert info.value.causes[:1] == ["labels_invalid"], str(info.value)


class _GRUTagger(nn.Module):
    """Embedding(50, 32) -> GRU(64) -> Linear(20): logits for every token, (N, T, 20)."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = nn.Sequential(nn.Embedding(50, 32), nn.GRU(32, 64, batch_first=True)), nn.Linear(64, 20)

    def forward(self, tokens):
        return self.head(self.body(tokens)[0])


def _gru_tagger(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _GRUTagger()


def test_padding_ignored_under_label_smoothing_fits_toward_the_smoothed_floor(mlcheck):
    """torch's cross-entropy with ignore_index=-100 and label_smoothing=0.1: the padded positions are
    skipped and the floor is the smoothed targets' own loss, above 0 — the tagger fits toward it;
    judged toward 0 instead it could never come 90 % of the way."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(16, 12))
    pad = np.arange(12)[None, :] >= rng.integers(4, 13, size=16)[:, None]
    x[pad] = 0
    y = (x * 7 + np.arange(12)) % 20
    y[pad] = -100
    result = mlcheck.overfit_one_batch(
        _gru_tagger(0), (torch.tensor(x), torch.tensor(y)),
        loss_fn=lambda out, t: nn.functional.cross_entropy(out.transpose(1, 2), t, label_smoothing=0.1),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert "ignored by the loss (target -100)" in result.figures["targets"], result.figures
    assert 0.3 < result.figures["loss_floor"] < 1.0, result.figures


@pytest.mark.parametrize("from_logits", [True, False], ids=["from_logits=True", "BROKEN default from_logits=False"])
def test_a_per_token_head_of_logits_into_a_loss_of_probabilities_is_named(mlcheck, from_logits):
    """A Keras tagger ending in Dense(C) (logits) under SparseCategoricalCrossentropy's default
    from_logits=False: the loss moves when every logit of a position moves by +3, as a loss on
    logits never does — named per position as for one row per sample; the right flag fits."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(16, 12))
    y = (x * 7 + np.arange(12)) % 20
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 32),
                              keras.layers.GRU(64, return_sequences=True), keras.layers.Dense(20)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    if from_logits:
        assert mlcheck.overfit_one_batch(model, (x, y), steps=200).passed
        return
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(model, (x, y), steps=200)
    assert info.value.causes[:1] == ["loss_mismatch"], str(info.value)


def test_a_padding_id_the_loss_masks_out_is_not_demanded(mlcheck):
    """Padding labelled with an ordinary class id (0) that the loss masks out itself (the PyTorch
    chatbot tutorial's maskNLLLoss): those positions are never trained, so their predictions are
    whatever the model happens to give — read as ignored, the batch fits on the positions the loss
    reads. The same targets under a plain cross-entropy are all read."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(16, 12))
    y = (x * 7 + np.arange(12)) % 19 + 1
    pad = np.arange(12)[None, :] >= rng.integers(4, 13, size=16)[:, None]
    x[pad], y[pad] = 0, 0

    def masked(out, t):
        per_position = nn.functional.cross_entropy(out.transpose(1, 2), t, reduction="none")
        return per_position[t != 0].mean()

    for loss, said in ((masked, f"{int(pad.sum())} of 192 ignored by the loss (target 0)"),
                       (lambda out, t: nn.functional.cross_entropy(out.transpose(1, 2), t), None)):
        result = mlcheck.overfit_one_batch(_gru_tagger(1), (torch.tensor(x), torch.tensor(y)), loss_fn=loss,
                                           optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
        assert (said in result.figures["targets"]) if said else ("ignored" not in result.figures["targets"])


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("head", ["BROKEN sigmoid", "logit biased into [0, 1]", "logit behind a LayerNorm"])
def test_a_one_output_head_asked_for_a_logit_is_judged_by_how_it_grows(mlcheck, framework, head):
    """A binary head whose outputs all lie in [0, 1] is ambiguous at init: a sigmoid, or a logit that
    starts there. On the inputs scaled ×10..×1000 the sigmoid presses against 0 or 1 and never leaves
    [0, 1] (output_activation); a last Linear started in [0, 1] grows out of it; behind a LayerNorm
    the scale never reaches the head, proving nothing (a pass)."""
    x = K.digits_arrays(64, offset=1000)[0]
    if framework == "torch":
        torch.manual_seed(0)
        last = nn.Linear(32, 1)
        if head != "BROKEN sigmoid":
            with torch.no_grad():
                last.weight.mul_(0.05)
                last.bias.fill_(0.5)
        layers = [nn.Flatten()] + ([nn.LayerNorm(64)] if "LayerNorm" in head else []) + [
            nn.Linear(64, 32), nn.ReLU(), last] + ([nn.Sigmoid()] if head == "BROKEN sigmoid" else [])
        model, inputs = nn.Sequential(*layers), torch.tensor(x).permute(0, 3, 1, 2)
    else:
        keras.utils.set_random_seed(0)
        small = head != "BROKEN sigmoid"
        last = keras.layers.Dense(1, activation=None if small else "sigmoid",
                                  kernel_initializer=keras.initializers.RandomNormal(stddev=0.01) if small else "glorot_uniform",
                                  bias_initializer=keras.initializers.Constant(0.5 if small else 0.0))
        layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()] + (
            [keras.layers.LayerNormalization()] if "LayerNorm" in head else []) + [keras.layers.Dense(32, activation="relu"), last]
        model, inputs = keras.Sequential(layers), x
    if head != "BROKEN sigmoid":
        result = mlcheck.output_range(model, inputs, kind="logits")
        assert 0.0 <= result.figures["output_min"] and result.figures["output_max"] <= 1.0, result.figures
        return
    with pytest.raises(CheckFailed) as info:
        mlcheck.output_range(model, inputs, kind="logits")
    assert info.value.causes[:1] == ["output_activation"], str(info.value)
    assert "never leaves [0, 1]" in str(info.value)


def _majority_of_79(framework: str, scale: float) -> list[tuple]:
    """Digits labelled 2-9 against 0-1 (79 % class 1, below the 90 % share allowed), their pixels
    times ``scale``."""
    batches = [T.digits_batch(32, offset=i * 32) for i in range(10)]
    if framework == "torch":
        return [(x * scale, (y >= 2).long()) for x, y in batches]
    return [(x.permute(0, 2, 3, 1).numpy() * scale, (y.numpy() >= 2).astype("int64")) for x, y in batches]


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("scale", [1.0, 1 / 255**2], ids=["inputs in 0..1", "pixels divided by 255 twice"])
def test_a_collapse_onto_a_majority_below_the_cap_is_trained_on_where_the_outputs_see_past_it(
        mlcheck, framework, scale):
    # after 100 steps at Adam 3e-4 both predict class 1 for every held-out digit; the 0..1 inputs'
    # outputs already fit each sample's own label better than shuffled labels, and train on until the
    # predictions spread; inputs of 1e-5 reach the head as a constant: only the majority is learned
    torch.manual_seed(0)
    if framework == "torch":
        model, loss, opt = T.digits_mlp(2), nn.CrossEntropyLoss(), (lambda p: torch.optim.Adam(p, lr=3e-4))
        x = T.held_out() * scale
    else:
        model, loss, opt = K.mlp(2), K.sparse_ce(), keras.optimizers.Adam(3e-4)
        x = T.held_out().permute(0, 2, 3, 1).numpy() * scale
    train = _majority_of_79(framework, scale)
    if scale == 1.0:
        result = mlcheck.not_constant_predictions(model, x, train_on=train, loss_fn=loss, optimizer=opt)
        assert result.figures["largest_class_share"] <= 0.9
        assert any("the outputs tell the labels apart" in n for n in result.notes), result.notes
        assert any("they spread at step" in n for n in result.notes), result.notes
    else:
        with pytest.raises(CheckFailed) as info:
            mlcheck.not_constant_predictions(model, x, train_on=train, loss_fn=loss, optimizer=opt)
        assert info.value.causes[:2] == ["labels_imbalanced", "class_collapse"], str(info.value)
        assert "only the majority was learned" in str(info.value)


def test_samples_spread_over_a_batch_reach_the_loss_contiguous(mlcheck):
    """pytorch-deeplab-xception's cross_entropy2d calls .view() on its targets: the spread samples
    (every n-th) must reach it as contiguous tensors, not strided views that .view() refuses."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(8, 1)).astype(np.float32))
    y = torch.tensor(np.repeat(3 * x.numpy() + 1, 50, axis=1))
    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(_Tiled(), (x, y), loss_fn=lambda out, t: nn.functional.mse_loss(out.reshape(-1), t.view(-1)),
                                       optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    assert result.figures["samples"] == 2
