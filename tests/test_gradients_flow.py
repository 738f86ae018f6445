"""gradients_flow: one step reaches and changes every trainable parameter, in both frameworks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from keras_corpus import keras
from pytest_mlcheck import CheckFailed

CE = nn.CrossEntropyLoss


def _adam(lr: float = 1e-3):
    return lambda params: torch.optim.Adam(params, lr=lr)


BROKEN = [
    ("torch head left out of the optimizer", lambda: tc._cnn_head_left_out(), "params_not_updated"),
    ("torch learning rate 0", lambda: dict(model=tc.digits_mlp(), loss_fn=CE(), optimizer=_adam(0.0)),
     "params_not_updated"),
    ("torch dead ReLUs (bias -100)", lambda: dict(model=tc.DeadReLUNet(), loss_fn=CE()), "dead_units"),
    ("torch features sent through numpy", lambda: dict(model=rc.NumpyRoundTrip(), loss_fn=CE()), "no_gradient"),
    ("torch a layer never called in forward", lambda: dict(model=rc.UnusedLayer(), loss_fn=CE()), "no_gradient"),
    ("torch 12 sigmoid layers", lambda: dict(model=rc.deep_mlp(nn.Sigmoid), loss_fn=CE()), "vanishing_gradients"),
    ("torch 20 ReLU layers, default init", lambda: dict(model=rc.deep_mlp(nn.ReLU, 20), loss_fn=CE()),
     "vanishing_gradients"),
    ("torch 6 ReLU layers drawn with std 1", lambda: dict(model=rc.normal_init(rc.deep_mlp(nn.ReLU, 6)),
                                                          loss_fn=CE()), "exploding_gradients"),
    ("keras learning rate 0", lambda: dict(model=rc.k_mlp(), loss_fn=kc.sparse_ce(),
                                           optimizer=keras.optimizers.Adam(0.0)), "params_not_updated"),
    ("keras dead ReLUs (bias -100)", lambda: dict(model=rc.k_mlp(bias=-100.0), loss_fn=kc.sparse_ce()),
     "dead_units"),
    ("keras stop_gradient in call", lambda: dict(model=rc.KStopGradient(), loss_fn=kc.sparse_ce()), "no_gradient"),
    ("keras a layer never called in call", lambda: dict(model=rc.KUnusedLayer(), loss_fn=kc.sparse_ce()),
     "no_gradient"),
    ("keras 12 sigmoid layers", lambda: dict(model=rc.k_mlp(depth=12, activation="sigmoid"),
                                             loss_fn=kc.sparse_ce()), "vanishing_gradients"),
    # AUTOTRAINER DL_tools case 14: a step leaves most kernels unchanged (updates below float32 resolution)
    ("keras 8 ReLU layers of 5 drawn uniform ±0.05", lambda: dict(
        model=rc.k_mlp(depth=8, width=5, kernel="small uniform"), loss_fn=kc.sparse_ce()), "vanishing_gradients"),
    ("keras 6 ReLU layers drawn with std 1", lambda: dict(model=rc.k_mlp(depth=6, kernel="normal"),
                                                          loss_fn=kc.sparse_ce()), "exploding_gradients"),
]

CORRECT = [
    ("torch cnn", lambda: dict(model=tc.DigitsCNN(), loss_fn=CE())),
    ("torch cnn, own step with zero_grad", lambda: dict(model=tc.DigitsCNN(), loss_fn=CE(), train_step=tc.good_step,
                                                        optimizer=_adam())),
    ("torch backbone frozen on purpose", lambda: dict(model=tc.FrozenBackboneNet(), loss_fn=CE())),
    ("torch backbone frozen, optimizer over the head only", tc._cnn_frozen_backbone),
    ("torch conv bias before BatchNorm", lambda: dict(model=rc.conv_bn(), loss_fn=CE())),
    ("torch 12 tanh layers", lambda: dict(model=rc.deep_mlp(nn.Tanh), loss_fn=CE())),
    ("torch embeddings on integer tokens", lambda: dict(model=tc.EmbeddingBagNet(), loss_fn=CE(),
                                                        batch=tc.digit_tokens(64))),
    ("keras cnn, compiled", lambda: dict(model=kc.compiled(kc.cnn(), keras.optimizers.Adam(1e-3), kc.sparse_ce()))),
    ("keras first layer frozen on purpose", lambda: dict(model=rc.k_frozen_first(), loss_fn=kc.sparse_ce())),
    ("keras conv before BatchNorm", lambda: dict(model=rc.k_bn(), loss_fn=kc.sparse_ce())),
    ("keras subclassed", lambda: dict(model=kc._sub()(), loss_fn=kc.sparse_ce())),
]


def _batch(name: str):
    return kc.digits_arrays(64) if name.startswith("keras") else tc.digits_batch(64)


@pytest.mark.parametrize("name,build,cause", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_parameter_the_step_does_not_reach_fails_and_names_its_cause(mlcheck, name, build, cause):
    torch.manual_seed(0)
    kw = build()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(kw.pop("model"), kw.pop("batch", _batch(name)), **kw)
    assert failed.value.causes[0] == cause, str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_correct_model_gets_every_trainable_parameter_updated(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    result = mlcheck.gradients_flow(kw.pop("model"), kw.pop("batch", _batch(name)), **kw)
    assert result.passed
    assert result.figures["trainable_tensors"] > 0


def test_the_failure_lists_per_layer_gradient_norms(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(tc.DeadReLUNet(), tc.digits_batch(64), loss_fn=CE())
    text = str(failed.value)
    assert "gradient norm per layer: hidden 0; head" in text
    assert "hidden.weight" in text


def test_frozen_parameters_are_counted_not_reported(mlcheck):
    result = mlcheck.gradients_flow(tc.FrozenBackboneNet(), tc.digits_batch(64), loss_fn=CE())
    assert result.figures["frozen_tensors"] == 2
    assert not any("backbone" in layer for layer in result.figures["gradient_norm_per_layer"])


def test_a_layer_unused_by_design_passes_once_named_frozen(mlcheck):
    """A layer the forward never calls fails with a hint at frozen= (a branch a configuration skips, as
    STGCN's channel-aligning convolution, is no defect), and passes once named there."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(rc.UnusedLayer(), tc.digits_batch(64), loss_fn=CE())
    assert failed.value.causes == ["no_gradient"] and "passed as frozen=" in str(failed.value)
    model = rc.UnusedLayer()
    result = mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), frozen=model.aux)
    assert result.passed and result.figures["frozen_given"] == 2


def test_a_step_that_moves_a_frozen_parameter_fails(mlcheck):
    def step(model, optimizer, loss_fn, x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.backbone[0].weight.mul_(0.5)  # "fine-tunes" the frozen layer behind the optimizer's back
        return loss

    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(tc.FrozenBackboneNet(), tc.digits_batch(64), loss_fn=CE(), train_step=step,
                               optimizer=_adam())
    assert failed.value.causes == ["frozen_params_changed"]


@pytest.mark.parametrize("how", ["attribute", "requires_grad_", "per parameter"])
def test_a_module_frozen_by_a_plain_attribute_fails_and_its_twins_pass(mlcheck, how):
    """catalyst's ResnetEncoder(frozen=True) set ``requires_grad = False`` on each child module: an
    attribute no module reads, so Adam trained the encoder it meant to freeze (issue #79)."""
    torch.manual_seed(0)
    model = tc.digits_mlp()
    encoder = model[1]
    if how == "attribute":
        encoder.requires_grad = False  # BROKEN: freezes nothing
    elif how == "requires_grad_":
        encoder.requires_grad_(False)
    else:
        for p in encoder.parameters():
            p.requires_grad = False
    if how != "attribute":
        assert mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), optimizer=_adam()).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), optimizer=_adam())
    assert failed.value.causes[0] == "frozen_params_changed"
    assert "2 parameter(s) under 1 changed in a step" in str(failed.value)
    assert vars(encoder)["requires_grad"] is False  # the user's model as it was


@pytest.mark.parametrize("own_step", [False, True], ids=["built-in step", "train_step="])
def test_a_summed_loss_is_judged_per_unit_of_its_error_signal_with_or_without_a_train_step(mlcheck, own_step):
    """A cross-entropy summed over 64 × 64 positions (attention-is-all-you-need's
    ``size_average=False``) scales every gradient by the terms it sums: the target's count, not a gain
    of the network. With a train_step= the gradients show only after the step, and the error signal
    had not been read: the correct transformer failed as exploding."""

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.embed, self.head = nn.Embedding(17, 32), nn.Linear(32, 17)

        def forward(self, tokens):
            return self.head(torch.tanh(self.embed(tokens)))

    tokens = tc.digit_tokens(64)[0]
    summed = nn.CrossEntropyLoss(reduction="sum")
    loss_fn = lambda out, y: summed(out.reshape(-1, 17), y.reshape(-1))  # noqa: E731

    def step(model, optimizer, loss_fn, x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    extra = dict(train_step=step) if own_step else {}
    result = mlcheck.gradients_flow(Tagger(), (tokens, tokens.roll(1, dims=1)), loss_fn=loss_fn, optimizer=_adam(),
                                    **extra)
    assert result.passed


def test_a_model_with_nothing_trainable_fails(mlcheck):
    model = tc.digits_mlp().requires_grad_(False)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE())
    assert failed.value.causes == ["params_not_updated"]


def _raw_targets(n: int = 64) -> "torch.Tensor":
    """Regression targets at a raw scale (mean 150, sd 75, like scikit-learn's diabetes)."""
    g = torch.Generator().manual_seed(0)
    return 150.0 + 75.0 * torch.randn(n, 1, generator=g)


def _torch_regressor(depth: int, std: float | None) -> nn.Module:
    torch.manual_seed(0)
    mods: list[nn.Module] = [nn.Flatten(), nn.Linear(64, 32), nn.ReLU()]
    for _ in range(depth - 1):
        mods += [nn.Linear(32, 32), nn.ReLU()]
    model = nn.Sequential(*mods, nn.Linear(32, 1))
    return rc.normal_init(model, std) if std is not None else model


def _keras_regressor(depth: int, std: float | None) -> keras.Model:
    init = keras.initializers.RandomNormal(stddev=std, seed=0) if std else keras.initializers.GlorotUniform(seed=0)
    stack = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    stack += [keras.layers.Dense(32, activation="relu", kernel_initializer=init) for _ in range(depth)]
    return keras.Sequential(stack + [keras.layers.Dense(1, kernel_initializer=init)])


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_raw_regression_targets_are_a_large_error_not_exploding_gradients(mlcheck, framework):
    """An MSE on targets of ~150 gives every gradient a ×300 error signal (a cross-entropy's is ≤ √2):
    the gradients are large because the error is, and Adam's steps do not depend on it."""
    x, _ = tc.digits_batch(64)
    y = _raw_targets()
    if framework == "torch":
        result = mlcheck.gradients_flow(_torch_regressor(2, None), (x, y), loss_fn=nn.MSELoss(), optimizer=_adam())
    else:
        result = mlcheck.gradients_flow(_keras_regressor(2, None), (x.permute(0, 2, 3, 1).numpy(), y.numpy()),
                                        loss_fn=keras.losses.MeanSquaredError(),
                                        optimizer=keras.optimizers.Adam(1e-3))
    assert result.passed
    assert result.figures["error_signal"] > 100  # the figure the verdict was judged with


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_network_with_a_large_gain_still_explodes_under_the_same_raw_targets(mlcheck, framework):
    x, _ = tc.digits_batch(64)
    y = _raw_targets()
    with pytest.raises(CheckFailed) as failed:
        if framework == "torch":
            mlcheck.gradients_flow(_torch_regressor(6, 1.0), (x, y), loss_fn=nn.MSELoss(), optimizer=_adam())
        else:
            mlcheck.gradients_flow(_keras_regressor(6, 1.0), (x.permute(0, 2, 3, 1).numpy(), y.numpy()),
                                   loss_fn=keras.losses.MeanSquaredError(), optimizer=keras.optimizers.Adam(1e-3))
    assert failed.value.causes[0] == "exploding_gradients", str(failed.value)
    assert "your loss's is ×" in str(failed.value)


def _reviews(n: int = 64, length: int = 40, vocab: int = 2000):
    """Word ids and raw star ratings (1..5) that follow from the words."""
    g = torch.Generator().manual_seed(0)
    words = torch.randint(0, vocab, (n, length), generator=g)
    stars = 1.0 + 4.0 * ((words % 7).float().mean(dim=1, keepdim=True) / 6.0)
    return words, stars


class ReviewNet(nn.Module):
    """Word vectors drawn uniform ±1 (a review recommender's default: 20× a dense layer's weights), a
    convolution over them, a rating head; ``sigmoids``: that many sigmoid layers between the pooled
    features and the head (a faded stack behind the same table)."""

    def __init__(self, sigmoids: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.words = nn.Embedding(2000, 32)
        nn.init.uniform_(self.words.weight, -1.0, 1.0)
        self.conv = nn.Conv1d(32, 16, 3)
        stack = [m for _ in range(sigmoids) for m in (nn.Linear(16, 16), nn.Sigmoid())]
        self.body = nn.Sequential(*stack)
        self.head = nn.Linear(16, 1)

    def forward(self, words):
        features = torch.relu(self.conv(self.words(words).transpose(1, 2))).amax(dim=2)
        return self.head(self.body(features))


def test_a_lookup_table_drawn_large_is_not_read_as_vanishing(mlcheck):
    """The table's gradient is its output's gathered into the rows read, multiplied by no input: small
    against the ±1 table, while the head's is large on raw ratings (Neu-Review-Rec's DeepCoNN, both
    versions, had failed). The layers that read its rows are judged."""
    result = mlcheck.gradients_flow(ReviewNet(), _reviews(), loss_fn=nn.MSELoss(), optimizer=_adam(2e-3))
    assert result.passed
    assert result.figures["input_end_ratio"] >= 1e-4  # the figure reads the input end too: the convolution


def test_a_faded_stack_behind_the_same_table_still_vanishes(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(ReviewNet(sigmoids=12), _reviews(), loss_fn=nn.MSELoss(), optimizer=_adam(2e-3))
    assert failed.value.causes[0] == "vanishing_gradients", str(failed.value)
    assert "words.weight" not in str(failed.value).split("vanishing_gradients:")[1].split("\n")[0]


def test_a_keras_review_recommender_with_large_word_tables_passes(mlcheck):
    """Neu-Review-Rec's DeepCoNN (the corpus's fixed port), whose Keras word tables (±1) got a relative
    gradient of 4·10⁻⁵ of the FM head's and failed `vanishing_gradients`."""
    from tests.real_programs import b48c_neu_review_rec_deepconn_fm_pairwise_sum_over_batch as deepconn

    keras.utils.set_random_seed(0)
    b = deepconn.fixed("keras")
    assert mlcheck.gradients_flow(b["model"], b["batch"]).passed


def test_a_keras_attention_block_behind_small_tables_is_judged_from_the_tables(mlcheck):
    """Keras draws tables ±0.05, so attention scores start near 0 and the query/key kernels' gradient
    is tiny: the middle of the network, not its input end. A well-fed table ends the walk from the
    input end as any tensor does (the keras.io text-classification transformer, shrunk)."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((50,), dtype="int32")
    tokens = keras.layers.Embedding(2000, 32)(ids)
    positions = keras.layers.Embedding(50, 32)(keras.ops.arange(0, 50, 1))
    x = tokens + positions
    x = keras.layers.LayerNormalization()(x + keras.layers.MultiHeadAttention(num_heads=2, key_dim=32)(x, x))
    x = keras.layers.Dense(20, activation="relu")(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    g = torch.Generator().manual_seed(0)
    words, labels = torch.randint(0, 2000, (32, 50), generator=g), torch.randint(0, 2, (32,), generator=g)
    assert mlcheck.gradients_flow(model, (words.numpy().astype("int32"), labels.numpy())).passed


class SmallTablesNet(nn.Module):
    """A retrieval tower as torch-rechub writes MIND: a projection registered before its tables (the
    input end in parameter order), user and item tables drawn N(0, 10⁻⁴), the pooled lookups projected
    and scored; ``sigmoids``: that many sigmoid layers between the projection and the head."""

    def __init__(self, sigmoids: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.convert = nn.Parameter(torch.rand(48, 16))
        self.users, self.items = nn.Embedding(300, 16), nn.Embedding(2000, 32)
        for table in (self.users, self.items):
            nn.init.normal_(table.weight, 0.0, 1e-4)
        self.body = nn.Sequential(*[m for _ in range(sigmoids) for m in (nn.Linear(16, 16), nn.Sigmoid())])
        self.head = nn.Linear(16, 4)

    def forward(self, ids):
        features = torch.cat([self.users(ids[:, 0]), self.items(ids[:, 1:]).mean(dim=1)], dim=1)
        return self.head(self.body(features @ self.convert))


def _histories(n: int = 64):
    g = torch.Generator().manual_seed(0)
    ids = torch.cat([torch.randint(0, 300, (n, 1), generator=g), torch.randint(0, 2000, (n, 20), generator=g)], 1)
    return ids, ids[:, 1] % 4


def test_tables_drawn_tiny_set_no_bar_for_the_layers_that_read_them(mlcheck):
    """A table drawn N(0, 10⁻⁴) has a first-step gradient ×10⁵ its size: measured against it, the
    projection that reads its rows looked vanishing (torch-rechub's MIND port, both versions, had
    failed with 0.0014 against 1.27·10⁵). The bar is the best-fed tensor that multiplies inputs."""
    result = mlcheck.gradients_flow(SmallTablesNet(), _histories(), loss_fn=CE(), optimizer=_adam())
    assert result.passed, str(result)
    assert result.figures["input_end_ratio"] >= 1e-4


def test_a_faded_stack_behind_tiny_tables_still_vanishes(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(SmallTablesNet(sigmoids=12), _histories(), loss_fn=CE(), optimizer=_adam())
    assert failed.value.causes[0] == "vanishing_gradients", str(failed.value)
    line = str(failed.value).split("vanishing_gradients:")[1].split("\n")[0]
    assert "up to body." in line and "weight" in line.split(" vs ")[0]  # the faded stack, against the head's bar


def _keras_review_net(sigmoids: int = 0):
    """ReviewNet in Keras with its word table written as a custom layer (``ops.take`` on a variable of
    its own, as ports of torch's ``Embedding`` with a per-table learning rate write it): no Keras
    ``Embedding`` to read, only the gather its gradient shows."""

    class Table(keras.layers.Layer):
        def build(self, input_shape):
            # stored ×10 and 20,000 rows: the relative gradient is 2·10⁻⁶ of the head's
            self.table = self.add_weight(shape=(20000, 32), name="table",
                                         initializer=keras.initializers.RandomUniform(-10.0, 10.0))

        def call(self, ids):
            return keras.ops.take(self.table, ids, axis=0)

    keras.utils.set_random_seed(0)
    ids = keras.Input((40,), dtype="int32")
    x = keras.layers.Conv1D(16, 3, activation="relu")(Table()(ids))
    x = keras.layers.GlobalMaxPooling1D()(x)
    for _ in range(sigmoids):
        x = keras.layers.Dense(16, activation="sigmoid")(x)
    model = keras.Model(ids, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    words, stars = _reviews(vocab=20000)
    return model, (words.numpy().astype("int32"), stars.numpy())


@pytest.mark.parametrize("sigmoids", [0, 12])
def test_a_keras_table_read_by_a_gather_is_a_lookup_whatever_layer_holds_it(mlcheck, sigmoids):
    """TensorFlow hands a gathered variable's gradient as row slices: the table of a custom layer is
    judged as an ``Embedding``'s is (fastNLP's Star-Transformer port, Keras fix, had failed
    `vanishing_gradients` on such a table); a faded stack behind it still vanishes."""
    model, batch = _keras_review_net(sigmoids)
    if not sigmoids:
        assert mlcheck.gradients_flow(model, batch).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, batch)
    assert failed.value.causes[0] == "vanishing_gradients", str(failed.value)
    assert "table" not in str(failed.value).split("vanishing_gradients:")[1].split("\n")[0]


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_targets_far_beyond_the_outputs_scale_come_before_the_gradient_story_they_explain(mlcheck, framework):
    """AttentionWalk (tests/real_programs/b52c_*): degree-times-adjacency targets up to 5·10¹⁴ weigh
    the attention's log-likelihood term, which the factors' penalty does not grow with, so the
    factor matrices get ×10⁻⁶ of the attention's relative gradient ("vanishing"). The targets'
    scale is a value and is named first; the symmetric-normalised targets of the fix pass."""
    from tests.real_programs import b52c_attentionwalk_targets_degree_times_adjacency as program

    def call(build):
        b = build(framework)
        train = {k: b[k] for k in ("loss_fn", "optimizer", "train_step") if b.get(k) is not None}
        return mlcheck.gradients_flow(b["model"], b["batch"], **train)

    with pytest.raises(CheckFailed) as failed:
        call(program.buggy)
    assert failed.value.causes[:2] == ["targets_not_normalized", "vanishing_gradients"], str(failed.value)
    assert "the model's outputs after one step have rms" in str(failed.value)
    assert call(program.fixed).passed


def _step_then_clear(model, optimizer, loss_fn, x, y):
    """labml's order: backward, step, then zero_grad — the parameters hold no gradient afterwards."""
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss


@pytest.mark.parametrize("model", ["DigitsCNN", "NumpyRoundTrip"], ids=["correct", "BROKEN body through numpy"])
def test_a_step_that_clears_the_gradients_after_updating_is_judged_on_what_the_update_saw(mlcheck, model):
    """The gradients are read where the user's optimizer.step() saw them: read off the parameters
    after the step, labml's distillation step (zero_grad after step) read as no gradient anywhere."""
    torch.manual_seed(0)
    net = tc.DigitsCNN() if model == "DigitsCNN" else rc.NumpyRoundTrip()
    kw = dict(loss_fn=CE(), train_step=_step_then_clear, optimizer=_adam())
    if model == "DigitsCNN":
        assert mlcheck.gradients_flow(net, tc.digits_batch(64), **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(net, tc.digits_batch(64), **kw)
    assert failed.value.causes[0] == "no_gradient", str(failed.value)
    assert "2 trainable parameter(s)" in str(failed.value) and "body.weight" in str(failed.value)



@pytest.mark.parametrize("version", ["fixed", "buggy"])
def test_lookup_tables_drawn_small_are_no_explosion(mlcheck, version):
    """torch-rechub's PLE (tests/real_programs/b54a_*) draws its 32 embedding tables N(0, 10⁻⁴): a
    table's gradient is its outputs' gathered into the rows read, ×60 its size on the fix's first
    step, which had been told exploding_gradients. Tables are not judged for it (as for vanishing);
    the buggy version's dead second tower is still named."""
    from tests.real_programs import b54a_torch_rechub_ple_towers_without_output_layer as program

    b = getattr(program, version)("torch")
    train = {k: b[k] for k in ("loss_fn", "optimizer", "train_step") if b.get(k) is not None}
    if version == "fixed":
        result = mlcheck.gradients_flow(b["model"], b["batch"], **train)
        assert result.passed and result.figures["max_radial_gradient"] < 10
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(b["model"], b["batch"], **train)
    # the dead second tower is read for what cuts it off: the loss reads 2 of the 16 columns
    assert failed.value.causes == ["no_gradient", "dead_units"], str(failed.value)


class _TwoNets(nn.Module):
    """A classifier and a critic of its outputs, as an adversarial VAE holds its encoder and
    discriminator: the model's output is the classifier's; the critic is trained by the step alone."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        self.critic = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("trains_critic", [True, False])
def test_a_network_the_step_trains_from_a_loss_of_its_own_gets_no_gradient_flag(mlcheck, trains_critic):
    """wiseodd's AVB steps its encoder on the ELBO, then its discriminator on its own loss, each update's
    gradients dropped before the next: after the step the discriminator holds no gradient, yet it
    moved. It is noted, not failed; a critic the step never trains still fails as no_gradient."""
    def step(model, optimizer, loss_fn, x, y):
        out = model(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if trains_critic:  # the critic's own loss, then its gradients dropped (zero_grad(set_to_none))
            optimizer.zero_grad()
            model.critic(out.detach()).pow(2).mean().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    torch.manual_seed(0)
    call = dict(loss_fn=CE(), optimizer=_adam(), train_step=step)
    if trains_critic:
        result = mlcheck.gradients_flow(_TwoNets(), tc.digits_batch(32), **call)
        assert any("4 trainable parameter(s) get no gradient from the loss, yet the step changed them" in n
                   for n in result.notes), result.notes
        return
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(_TwoNets(), tc.digits_batch(32), **call)
    assert info.value.causes[:1] == ["no_gradient"], str(info.value)


class _Offset(nn.Module):
    """A classifier with an offset that reaches its logits through a factor 1e-4: its gradient is
    ~1e-5 of its value, so SGD at 1e-3 moves it by less than float32 holds at 1.0."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        self.offset = nn.Parameter(torch.ones(10))

    def forward(self, x):
        return self.net(x) + 1e-4 * self.offset


@pytest.mark.parametrize("skips_offset", [False, True])
def test_an_update_that_rounds_away_is_no_parameter_left_out(mlcheck, skips_offset):
    """pytorch-deeplab-xception's SGD at 1e-6 leaves the biases in front of its batch norms as they
    were: one step at lr×1000 moves them, so the step updates them and float32 rounds it away (a note).
    A step that never updates the offset leaves it at any rate: params_not_updated."""
    def step(model, optimizer, loss_fn, x, y):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if skips_offset:
            model.offset.grad = None
        optimizer.step()
        return loss.detach()

    call = dict(loss_fn=CE(), optimizer=lambda p: torch.optim.SGD(p, lr=1e-3), train_step=step)
    if not skips_offset:
        result = mlcheck.gradients_flow(_Offset(), tc.digits_batch(32), **call)
        assert any("1 trainable parameter(s) did not change in the step, and one step at lr×1000 moves them" in n
                   for n in result.notes), result.notes
        return
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(_Offset(), tc.digits_batch(32), **call)
    assert "params_not_updated" in info.value.causes or "no_gradient" in info.value.causes, str(info.value)


class _UnitAxisAttention(nn.Module):
    """Attention pooling over the eight rows of a digit, its softmax taken over ``axis`` of the
    (N, 8, 1) scores: -1 is an axis of one element (dongjun-Lee's TF text classifier, b74b in the
    real-program corpus), where every weight is exactly 1 and the score layer gets an all-zero
    gradient; 1 runs over the rows."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis
        self.rows = nn.Linear(8, 16)
        self.score = nn.Linear(16, 1)
        self.out = nn.Linear(16, 10)

    def forward(self, x):
        h = torch.tanh(self.rows(x.reshape(len(x), 8, 8)))
        return self.out((h * torch.softmax(torch.tanh(self.score(h)), dim=self.axis)).sum(1))


@pytest.mark.parametrize("axis", [-1, 1])
def test_a_softmax_over_an_axis_of_one_element_cuts_the_path_it_is_not_a_dead_unit(mlcheck, axis):
    """Noise added to what the score layer outputs leaves every output as it was: no path, named
    no_gradient; dead ReLUs, whose all-zero gradients look the same, pass the noise on and stay
    dead_units (BROKEN above). Over the rows, the layer trains."""
    torch.manual_seed(0)
    if axis == 1:
        assert mlcheck.gradients_flow(_UnitAxisAttention(axis), tc.digits_batch(64), loss_fn=CE()).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_UnitAxisAttention(axis), tc.digits_batch(64), loss_fn=CE())
    assert failed.value.causes == ["no_gradient"], str(failed.value)
    assert "score.bias, score.weight" in str(failed.value) and "beyond float32 rounding" in str(failed.value)


def _k_normalised_score(width: int):
    """Each digit row scored by Dense(width), the scores layer-normalised over their ``width`` (1: a
    normalisation over a single position, whose output is its offset whatever the scores are),
    read beside the rows by the head."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Dense(16, activation="tanh")(keras.layers.Reshape((8, 8))(inputs))
    s = keras.layers.LayerNormalization(axis=-1)(keras.layers.Dense(width)(h))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Concatenate()([h, s])))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("width", [1, 4])
def test_a_keras_normalisation_over_one_position_cuts_the_path_it_is_not_a_dead_unit(mlcheck, width):
    keras.utils.set_random_seed(0)
    if width == 4:
        assert mlcheck.gradients_flow(_k_normalised_score(width), kc.digits_arrays(64), loss_fn=kc.sparse_ce()).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_k_normalised_score(width), kc.digits_arrays(64), loss_fn=kc.sparse_ce())
    # the score layer is cut off; the norm's scale, multiplying a value that is always 0, reaches the outputs
    assert failed.value.causes == ["no_gradient", "dead_units"], str(failed.value)
    cut = str(failed.value).split("cause no_gradient")[1].split("cause dead_units")[0]
    assert "/kernel" in cut and "/bias" in cut and "gamma" not in cut and "beyond float32 rounding" in cut


def _k_unit_axis_attention(axis: int):
    """The Keras twin of _UnitAxisAttention: Keras computes a softmax over one element as
    exp(x - max) / sum, which leaves the score layer a gradient of float32 rounding (~10⁻⁷ of the
    best-fed tensor's), not exactly 0; Keras itself warns about such a softmax."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Dense(16, activation="tanh")(keras.layers.Reshape((8, 8))(inputs))
    weights = keras.layers.Softmax(axis=axis)(keras.layers.Dense(1, activation="tanh")(h))
    pooled = keras.layers.Lambda(lambda t: keras.ops.sum(t[0] * t[1], axis=1))([h, weights])
    return keras.Model(inputs, keras.layers.Dense(10)(pooled))


@pytest.mark.parametrize("axis", [-1, 1])
def test_a_keras_softmax_over_one_element_leaves_only_rounding_and_is_named(mlcheck, axis):
    keras.utils.set_random_seed(0)
    if axis == 1:
        assert mlcheck.gradients_flow(_k_unit_axis_attention(axis), kc.digits_arrays(64), loss_fn=kc.sparse_ce()).passed
        return
    with pytest.warns(UserWarning, match="softmax"), pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_k_unit_axis_attention(axis), kc.digits_arrays(64), loss_fn=kc.sparse_ce())
    assert failed.value.causes == ["no_gradient"], str(failed.value)
    assert "is float32 rounding, not a signal" in str(failed.value)


@pytest.mark.parametrize("depth", [12, 21])
def test_a_weak_path_is_vanishing_not_cut_off(mlcheck, depth):
    """A sigmoid stack's first layers get gradients far under 1e-4 of the best-fed tensor's, and noise of
    their own size moves the outputs by little (AUTOTRAINER's 21-layer stack: 6.4e-4 of them); it grows
    with the noise, which rounding behind a cut never does: vanishing, never no_gradient."""
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(rc.deep_mlp(nn.Sigmoid, depth), tc.digits_batch(64), loss_fn=CE())
    assert failed.value.causes == ["vanishing_gradients"], str(failed.value)


class _SparseBag(torch.nn.Module):
    """Ids looked up by an EmbeddingBag with sparse gradients (DLRM's tables), then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(50, 8, mode="sum", sparse=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(ids))


def test_sparse_gradients_are_read_not_a_crash(mlcheck):
    # torch refuses to turn a sparse gradient into numpy: the check densifies it (rows not looked up are 0)
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (64, 4))
    y = torch.randn(64, 1)
    result = mlcheck.gradients_flow(_SparseBag(), (ids, y), loss_fn=torch.nn.MSELoss(),
                                    optimizer=lambda p: torch.optim.SGD(p, lr=0.01))
    assert result.passed
    assert result.figures["gradient_norm_per_layer"]["bag"] > 0
