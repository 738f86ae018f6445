"""batch_independence: no sample's output depends on another sample, in both frameworks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MlcheckUsageError

BROKEN = [
    ("torch features transposed and reshaped", lambda: rc.BatchMixingNet("transpose"), "torch"),
    ("torch features minus their batch mean", lambda: rc.BatchMixingNet("center"), "torch"),
    ("keras features transposed and reshaped", lambda: rc.KBatchMixing("transpose"), "keras"),
    ("keras features minus their batch mean", lambda: rc.KBatchMixing("center"), "keras"),
    # ids held as floats: noise would make no id (an index error), so another sample is put in
    ("torch float ids, outputs minus their batch mean", lambda: tc.FloatIdsNet(mix=True), "float ids"),
]

CORRECT = [
    ("torch cnn", tc.DigitsCNN, "torch"),
    ("torch BatchNorm (judged in eval mode)", rc.mlp_bn, "torch"),
    ("torch embeddings on integer tokens", tc.EmbeddingBagNet, "tokens"),
    ("torch embeddings on ids held as floats", tc.FloatIdsNet, "float ids"),
    ("keras cnn", kc.cnn, "keras"),
    ("keras BatchNorm (judged in eval mode)", rc.k_bn, "keras"),
    ("keras subclassed", lambda: kc._sub()(), "keras"),
]


def _inputs(kind: str):
    if kind == "torch":
        return tc.held_out(16)
    if kind == "tokens":
        return tc.digit_tokens(16)[0]
    if kind == "float ids":
        return tc.float_ids(16)[0]
    return kc.digits_arrays(16, offset=1000)[0]


@pytest.mark.parametrize("name,build,kind", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_model_that_mixes_samples_fails_with_batch_mixing(mlcheck, name, build, kind):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(build(), _inputs(kind))
    assert failed.value.causes == ["batch_mixing"]
    assert "changed the outputs of" in str(failed.value)


@pytest.mark.parametrize("name,build,kind", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_model_that_treats_samples_apart_passes(mlcheck, name, build, kind):
    torch.manual_seed(0)
    result = mlcheck.batch_independence(build(), _inputs(kind))
    assert result.passed and result.figures["samples"] == 16


def test_both_probes_report_a_small_dependence_on_a_neighbour(mlcheck):
    class Leaky(torch.nn.Module):
        """Adds another sample's input times 1e-3: small, but a dependence all the same."""

        def forward(self, x):
            flat = x.flatten(1)
            return flat + 1e-3 * flat.roll(1, dims=0)

    with pytest.raises(CheckFailed, match="changing sample 0 changed the outputs of 1 other") as failed:
        mlcheck.batch_independence(Leaky(), tc.held_out(16))
    assert "the gradient of output 0 reaches other samples" in str(failed.value)
    assert failed.value.causes == ["batch_mixing"]


def test_integer_inputs_are_judged_by_the_forward_probe_only(mlcheck):
    result = mlcheck.batch_independence(tc.EmbeddingBagNet(), tc.digit_tokens(16)[0])
    assert any("forward probe only" in note for note in result.notes)


def test_a_model_that_drops_the_batch_dimension_fails(mlcheck):
    class Pooled(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1).mean(dim=0, keepdim=True)

    with pytest.raises(CheckFailed, match="1 output rows for 16 samples") as failed:
        mlcheck.batch_independence(Pooled(), tc.held_out(16))
    assert failed.value.causes == ["batch_mixing"]


@pytest.mark.parametrize("inputs", [tc.held_out(1), {"x": tc.held_out(4)}], ids=["one sample", "a dict"])
def test_inputs_it_cannot_judge_are_usage_errors(mlcheck, inputs):
    with pytest.raises(MlcheckUsageError, match="^inputs:"):
        mlcheck.batch_independence(tc.DigitsCNN(), inputs)


def test_the_check_leaves_the_inputs_as_they_were(mlcheck):
    x = kc.digits_arrays(16)[0]
    before = x.copy()
    mlcheck.batch_independence(kc.cnn(), x)
    assert np.array_equal(x, before)


class TimeMajorPooling(torch.nn.Module):
    """Ids (batch, time) looked up time-major, as a seq2seq encoder does, then attention weights over
    the positions; ``over_batch``: the softmax runs over the batch axis of the (time, batch) scores
    instead (keon/seq2seq's implicit dim), which mixes the sentences only weakly at initialisation."""

    def __init__(self, over_batch: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.over_batch = over_batch
        self.embed = torch.nn.Embedding(17, 8)
        self.score = torch.nn.Linear(8, 1)
        self.head = torch.nn.Linear(8, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        looked_up = self.embed(tokens.t())  # (time, batch, 8)
        weights = torch.softmax(self.score(looked_up).squeeze(-1), dim=1 if self.over_batch else 0)
        return self.head((weights.unsqueeze(-1) * looked_up).sum(0))


def test_ids_are_followed_to_the_vectors_their_lookups_give(mlcheck):
    """Ids have no gradient; the embedding's output, read one sample per slice along the axis its ids
    put the samples on (here the second: the model transposes them), does."""
    tokens = tc.digit_tokens(16)[0][:, :12]
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(TimeMajorPooling(over_batch=True), tokens)
    assert failed.value.causes == ["batch_mixing"]
    assert "the gradient of output 0 reaches other samples" in str(failed.value)
    assert "sample's own lookups" in str(failed.value)
    result = mlcheck.batch_independence(TimeMajorPooling(over_batch=False), tokens)
    assert result.figures["gradient_leak"] == 0.0  # exactly: no path from one sample's ids to another's outputs
    assert not any("forward probe only" in note for note in result.notes)


class KerasBatchShift(kc.keras.layers.Layer):
    """Subtracts a share of the batch's mean: a weak dependence on every other sample."""

    def __init__(self, share: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.share = share

    def call(self, x):
        return x - self.share * kc.keras.ops.mean(x, axis=0, keepdims=True)


@pytest.mark.parametrize("share", [0.0, 0.02], ids=["apart", "batch mean"])
def test_keras_ids_are_followed_through_their_embedding(mlcheck, share):
    keras = kc.keras
    keras.utils.set_random_seed(0)
    tokens = keras.Input((12,), dtype="int32")
    hidden = KerasBatchShift(share)(keras.layers.Embedding(17, 8)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling1D()(hidden)))
    ids = tc.digit_tokens(16)[0][:, :12].numpy().astype("int32")
    if not share:
        assert mlcheck.batch_independence(model, ids).figures["gradient_leak"] == 0.0
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(model, ids)
    assert failed.value.causes == ["batch_mixing"]
    assert "the gradient of output 0 reaches other samples" in str(failed.value)


def test_a_model_that_adds_into_what_its_lookup_gave_is_followed_too(mlcheck):
    """attention-is-all-you-need's encoder writes position codes into the embeddings in place
    (``enc_input += position_enc``): the probe's own leaf must not be what the model writes into."""

    class InPlace(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.embed = torch.nn.Embedding(17, 8)
            self.position = torch.nn.Parameter(torch.randn(12, 8))
            self.head = torch.nn.Linear(8, 10)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            looked_up = self.embed(tokens)
            looked_up += self.position
            return self.head(looked_up.mean(1))

    result = mlcheck.batch_independence(InPlace(), tc.digit_tokens(16)[0][:, :12])
    assert result.figures["gradient_leak"] == 0.0
    assert not any("forward probe only" in note for note in result.notes)


def test_the_samples_axis_of_a_lookup_is_the_one_its_ids_say():
    from pytest_mlcheck.backends import sample_axis

    rows = np.arange(12).reshape(3, 4)
    assert sample_axis(rows, rows) == 0
    assert sample_axis(rows.T.copy(), rows) == 1  # time-major
    square = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert sample_axis(square.T.copy(), square) == 1  # as many positions as samples: read by whose ids they hold
    assert sample_axis(np.array([[0, 1], [1, 0]]), np.array([[0, 1], [0, 1]])) is None  # either axis could be
    assert sample_axis(rows[::-1].copy(), rows) is None  # other samples' ids (tokens a decoder generated)
    assert sample_axis(rows.reshape(-1), rows) is None  # flattened: no axis of samples


class BatchTerm(torch.nn.Module):
    """Adds ``share`` × the batch's mean feature vector to each sample's features, through a gradient
    or not (``detached``): a dependence the backward probe sees, or only the forward one."""

    def __init__(self, share: float, detached: bool) -> None:
        super().__init__()
        self.share, self.detached = share, detached

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(0, keepdim=True)
        return flat + self.share * (mean.detach() if self.detached else mean)


class BatchRounding(torch.nn.Module):
    """Adds the rounding error of the batch's sum plus 10⁴, times 10: in float32 ~1e-2, different
    whenever another sample changes, through no gradient; in float64 ~1e-11. What PyTorch's CPU
    GroupNorm on channels-last activations does to EGE-UNet's outputs (1e-4 of their scale on a CPU,
    7e-3 on a GPU), made large and certain."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        total = flat.sum().detach()
        return flat + 10 * ((total + 1e4) - 1e4 - total)


def test_a_change_through_no_gradient_path_counts_only_if_float64_shows_it_too(mlcheck):
    x = tc.held_out(16)
    rounding = mlcheck.batch_independence(BatchRounding(), x)
    assert rounding.figures["gradient_leak"] == 0.0
    assert rounding.figures["largest_change_elsewhere"] > rounding.figures["allowed_change"]  # in float32
    assert any("float64 copy" in note and "float32 rounding" in note for note in rounding.notes)
    with pytest.raises(CheckFailed, match="changed the outputs of") as failed:
        mlcheck.batch_independence(BatchTerm(1e-2, detached=True), x)  # a small dependence, no gradient to it
    assert failed.value.causes == ["batch_mixing"]
    assert any("the same dependence" in note for note in failed.value.result.notes)
    with pytest.raises(CheckFailed, match="gradient of output 0 reaches other samples") as failed:
        mlcheck.batch_independence(BatchTerm(1e-2, detached=False), x)  # the same term along a gradient
    assert failed.value.causes == ["batch_mixing"]


def test_a_model_that_samples_at_inference_is_compared_on_the_same_draws(mlcheck):
    """A VAE draws noise in eval mode too: two passes differ whatever the batch; each pass of the
    check draws the same noise, so only a dependence on other samples can move an output."""

    class Sampling(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.encode = torch.nn.Linear(64, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mu = self.encode(x.flatten(1))
            return mu + torch.randn_like(mu)

    model = Sampling()
    before = torch.get_rng_state()
    result = mlcheck.batch_independence(model, tc.held_out(16))
    assert result.figures["largest_change_elsewhere"] == 0.0
    # other slots draw other noise: the batch's order is not probed on such a model
    assert result.passed and any("the batch's order is not probed" in note for note in result.notes)
    assert torch.equal(before, torch.get_rng_state())  # the user's generator as it was


class KerasSampling(kc.keras.layers.Layer):
    """The keras.io VAE's sampling layer: its own seed generator, advanced by every call."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed_generator = kc.keras.random.SeedGenerator(1337)

    def call(self, mean):
        return mean + kc.keras.random.normal(kc.keras.ops.shape(mean), seed=self.seed_generator)


def test_a_keras_model_with_its_own_seed_generator_is_compared_on_the_same_draws(mlcheck):
    keras = kc.keras
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, KerasSampling()(keras.layers.Dense(4)(keras.layers.Flatten()(inputs))))
    state = np.array(model.layers[-1].seed_generator.state.numpy(), copy=True)
    result = mlcheck.batch_independence(model, kc.digits_arrays(16)[0])
    assert result.figures["largest_change_elsewhere"] == 0.0
    assert result.passed and any("the batch's order is not probed" in note for note in result.notes)
    assert np.array_equal(state, model.layers[-1].seed_generator.state.numpy())  # put back after the check


class PositionTable(torch.nn.Module):
    """Token and position embeddings, the position ids ``arange(T)``: with T equal to the number of
    samples and every row a permutation (a sorting task), each position id sits in its own row too —
    a lookup of no sample's ids all the same."""

    def __init__(self, length: int, mixing: float = 0.0, axis: int = 1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.tokens, self.positions = torch.nn.Embedding(length, 8), torch.nn.Embedding(length, 8)
        self.head, self.mixing, self.axis = torch.nn.Linear(8, length), mixing, axis

    def forward(self, ids: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # axis 0: cmu-l3/anlp-fall2025-code before 7aa39df, `pos = torch.arange(x.size(0)).unsqueeze(1)`
        pos = torch.arange(ids.shape[1]) if self.axis == 1 else torch.arange(ids.shape[0]).unsqueeze(1)
        h = self.tokens(ids) + self.positions(pos)
        return self.head(h + self.mixing * h.mean(0, keepdim=True).detach())


def test_a_position_table_is_no_lookup_of_the_samples(mlcheck):
    ids = torch.stack([torch.randperm(16, generator=torch.Generator().manual_seed(k)) for k in range(16)])
    result = mlcheck.batch_independence(PositionTable(16), ids)
    assert result.figures["gradient_leak"] == 0.0
    assert result.passed and result.figures["largest_change_reversed"] <= result.figures["allowed_change"]


def test_position_ids_drawn_from_the_batch_axis_fail_on_the_reversed_batch(mlcheck):
    """No sample reaches another, but each reads the table row of its slot: the reversed batch shows it."""
    ids = torch.stack([torch.randperm(16, generator=torch.Generator().manual_seed(k)) for k in range(12)])
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(PositionTable(16, axis=0), ids)
    assert failed.value.causes == ["batch_mixing"]
    assert "reversing the batch's order changed the outputs of 12 sample(s)" in str(failed.value)
    assert failed.value.result.figures["largest_change_elsewhere"] == 0.0


class KerasSlotTable(kc.keras.layers.Layer):
    """Adds row k of a learnt table to the k-th sample (or row 0 to every sample: a correct twin)."""

    def __init__(self, by_slot: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.by_slot = by_slot

    def build(self, input_shape) -> None:
        self.table = self.add_weight(shape=(64, input_shape[-1]), initializer="random_normal")

    def call(self, h):
        ops = kc.keras.ops
        rows = ops.arange(ops.shape(h)[0]) if self.by_slot else ops.zeros((ops.shape(h)[0],), "int32")
        return h + ops.take(self.table, rows, axis=0)


@pytest.mark.parametrize("by_slot", [True, False])
def test_a_keras_table_row_per_batch_slot_fails_and_one_row_for_all_passes(mlcheck, by_slot):
    keras = kc.keras
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, KerasSlotTable(by_slot)(keras.layers.Dense(4)(keras.layers.Flatten()(inputs))))
    x = kc.digits_arrays(16)[0]
    if not by_slot:
        assert mlcheck.batch_independence(model, x).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(model, x)
    assert failed.value.causes == ["batch_mixing"] and "reversing the batch's order" in str(failed.value)


def test_a_model_taking_labels_gets_its_float64_copy_too(mlcheck):
    """A ``labels=`` argument (every Hugging Face model) is no reason to go without the float64 copy:
    a detached batch statistic fails there as anywhere."""
    ids = torch.stack([torch.randperm(16, generator=torch.Generator().manual_seed(k)) for k in range(16)])
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(PositionTable(16, mixing=0.05), ids)
    assert failed.value.causes == ["batch_mixing"]
    assert any("float64 copy" in note and "the same dependence" in note for note in failed.value.result.notes)


class _ConvThenView(torch.nn.Module):
    """A one-channel conv whose output is flattened with .view (the PyTorch book's ConvNet): it works
    on C-ordered inputs only, so every pass must get the batch in that layout."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.fc = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).view(-1, 4 * 8 * 8))


def test_the_reversed_batch_reaches_the_model_in_the_layout_it_was_given(mlcheck):
    images = tc.held_out(16).numpy()[:, 0]
    inputs = torch.tensor(images[:, None])  # a unit channel axis, as ToTensor-like code writes it
    result = mlcheck.batch_independence(_ConvThenView(), inputs)
    assert result.passed and result.figures["largest_change_reversed"] == 0.0


class _PackedGRU(torch.nn.Module):
    """A GRU over padded ids packed with ``pack_padded_sequence``: with ``enforce_sorted`` it runs only
    on batches sorted by length, longest first."""

    def __init__(self, enforce_sorted: bool):
        super().__init__()
        self.enforce_sorted = enforce_sorted
        self.emb = torch.nn.Embedding(20, 8, padding_idx=0)
        self.rnn = torch.nn.GRU(8, 16, batch_first=True)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        lengths = (x != 0).sum(1).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.emb(x), lengths, batch_first=True,
                                                         enforce_sorted=self.enforce_sorted)
        return self.head(self.rnn(packed)[1][-1])


def _sorted_padded_ids():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(16, 10, dtype=torch.long)
    for i in range(16):
        length = 10 - i // 2  # longest first: what enforce_sorted asks for
        x[i, :length] = torch.randint(1, 20, (length,), generator=g)
    return x


def test_a_model_that_refuses_a_reordered_batch_is_not_blamed_on_the_inputs_dtype(mlcheck):
    """The batch as given runs; the copies the probes build (a sample changed, another's ids put in)
    break the sorting: the failure says so, and names no dtype or shape of the given batch."""
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(_PackedGRU(enforce_sorted=True), _sorted_padded_ids())
    assert failed.value.causes == []
    assert "runs on the batch as given but raised on a copy this check built" in str(failed.value)
    assert "enforce_sorted=False" in str(failed.value)


def test_the_same_model_packing_unsorted_batches_passes(mlcheck):
    torch.manual_seed(0)
    assert mlcheck.batch_independence(_PackedGRU(enforce_sorted=False), _sorted_padded_ids()).passed


def test_ids_fed_to_a_float_layer_are_still_named_input_dtype(mlcheck):
    """The given batch itself does not run: the dtype story stands."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(torch.nn.Linear(10, 3), _sorted_padded_ids())
    assert failed.value.causes == ["input_dtype"]


class _ReadsNumpy(torch.nn.Module):
    """Calls .numpy() on its input: the gradient probe's input requires grad, so the batch as given raises."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64, 3)

    def forward(self, x):
        return self.lin(torch.as_tensor(x.flatten(1).numpy()))


def test_an_error_on_the_batch_as_given_is_not_put_down_to_the_probes_copies(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(_ReadsNumpy(), tc.held_out(16))
    assert "raised on a copy this check built" not in str(failed.value)
