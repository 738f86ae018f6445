"""TensorFlow Recommenders two-tower retrieval model (the MovieLens ``MovielensModel`` of
``docs/examples/basic_retrieval.ipynb``) trained with the popularity (logQ) correction of the in-batch softmax,
``candidate_sampling_probability`` passed to ``tfrs.tasks.Retrieval``, as TFRS users were told to do (issues #257,
#440, #535: "pre-compute the probability of candidates occurring in your dataset, then pass it as the
``candidate_sampling_probability`` argument to the Retrieval task"; ``num_times_candidate_appears_in_interactions /
num_all_interactions``). The program: ``user_model = Sequential([StringLookup(vocabulary=unique_user_ids,
mask_token=None), Embedding(len(unique_user_ids) + 1, 32)])``, the same ``movie_model`` over the movie titles,
``compute_loss``: ``self.task(user_embeddings, positive_movie_embeddings, candidate_sampling_probability=...)``,
``model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))``, ``train.shuffle(100_000).batch(8192)``,
``fit(epochs=3)``, evaluated with ``FactorizedTopK`` (is the held-out movie among the user's top-k of all movies).
``Retrieval.call`` (tasks/retrieval.py): ``scores = tf.linalg.matmul(query_embeddings, candidate_embeddings,
transpose_b=True)``, ``labels = tf.eye(num_queries, num_candidates)``, ``scores = layers.loss.
SamplingProbablityCorrection()(scores, candidate_sampling_probability)``, loss ``CategoricalCrossentropy(
from_logits=True, reduction=SUM)(y_true=labels, y_pred=scores)``.

The fault (in the loss): in-batch negatives over-represent popular movies, and the sampled-softmax correction of
Yi et al. 2019 subtracts their log sampling probability from the logits. TFRS 0.4.0 added it:
    buggy (tensorflow_recommenders/layers/loss.py@d18f2db, release v0.4.0):
        ``return logits + tf.math.log(candidate_sampling_probability)``
    fixed (d2a87003210bffffe9019a9e0927739414f7add7):
        ``return logits - tf.math.log(candidate_sampling_probability)``
With the sign flipped the loss doubles the popularity penalty instead of removing it: the in-batch softmax already
learns scores ~ log p(movie | user) - log q(movie), and the buggy correction makes the learned scores ~ log p(movie |
user) - 2 log q(movie), so the trained towers rank rare movies above the popular ones the users actually watch. Training
itself looks healthy (the loss falls smoothly); only the held-out top-k accuracy shows it, below even the uncorrected
model ("my results also got much worse with using the correction", #257; patrickorlando's MovieLens-100k benchmark
there: the ``logits + math.log(q)`` run is below no correction, the ``- log(q)`` run above it).

Source: github.com/tensorflow/recommenders, issue #219 ("tfrs.layers.loss.SamplingProbablityCorrection not correctly
implemented?", "This is actually a bug and we fix it in #220"), issues #257 and #278 (the bug in the PyPI release
0.4.0, d18f2db8c7ff8651b552d97eac1c63cc379f9c52 'Bump version to v0.4.0'); fix commit
d2a87003210bffffe9019a9e0927739414f7add7 "Fix the bug in tfrs.layers.loss.SamplingProbablityCorrection where logits
should substract the log of item probability." (first released in v0.5.0). Program: docs/examples/basic_retrieval.ipynb
@d18f2db plus the ``candidate_sampling_probability`` argument as in issues #257/#453/#535.
Fault label: other:logq_correction_sign_flipped (the loss's popularity correction has the wrong sign; none of the
listed ids fits: the loss matches the outputs, is finite and decreases).

Program lines kept: the two towers (an ``Embedding(n + 1, 32)`` per id vocabulary, Keras' default uniform(-0.05, 0.05)
initialiser; the ``StringLookup`` is replaced by the integer ids 1..n it would output, 0 = OOV), the Retrieval loss
(in-batch dot-product scores, identity labels, the correction with the program's sign, ``CategoricalCrossentropy(
from_logits=True)`` summed over the batch), ``Adagrad(learning_rate=0.1)`` (Keras defaults initial_accumulator_value
0.1, epsilon 1e-7), the sampling probability ``count(movie in train) / len(train)``.
Ported: ``tfrs.Model.compute_loss`` becomes a compiled Keras loss: the model returns the user and the movie embedding
side by side (``(B, 64)``, ``[:, :32]`` user, ``[:, 32:]`` movie), the target ``y`` is each row's
``candidate_sampling_probability`` and the loss builds the task's scores from them; TFRS itself is not imported.
Batches of 1024 instead of 8192 (a 8192 x 8192 in-batch softmax costs far more than 50 ms on one CPU thread; the
logQ correction does not depend on the batch size: a constant log(batch) cancels within each softmax row). Torch
twin: the same two embeddings and loss (``F.cross_entropy(scores, arange(B), reduction="sum")``), ``torch.optim.
Adagrad(lr=0.1, initial_accumulator_value=0.1, eps=1e-7)``. Left out: the tfds download, ``FactorizedTopK`` during
training, ScaNN/BruteForce serving.
Data stand-in (no MovieLens download): 943 users, 1664 movies, 99,993 (user, movie) pairs without repeats, as in
MovieLens-100k (shuffled with seed 0, the first 80,000 for training, the other 19,993 held out). Each user watches
25..830 movies (lognormal activity) drawn without replacement from p(movie | user) ~ pop(movie) * exp(2 u.v) (a
lognormal popularity, sigma 1.2, and 8-dimensional user/movie tastes): movie counts 0..411, median 43 (MovieLens:
1..583, median 27), so the movies are long-tailed and each user's choice is learnable from the ids.
Measured (my own loop, /tmp/h47b/measure.py, seed 0, OMP_NUM_THREADS=1; 80,000 training pairs reshuffled every epoch
in batches of 1024, 78 steps an epoch; torch ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``, Keras
``train_on_batch``; held-out top-k accuracy of the 19,993 held-out pairs over all 1664 movies, as FactorizedTopK;
chance top-10 0.006 / top-100 0.060, ranking every user by training popularity: 0.031 / 0.214). Loss = summed in-batch
softmax cross-entropy (1024 * log 1024 = 7098 for uninformative scores), mean over the epoch's steps:
                    epoch 1             epoch 2             epoch 4
  torch buggy   7069  0.014/0.089   6498  0.019/0.131   6237  0.014/0.116   (top-10 / top-100)
        fixed   7122  0.058/0.369   6464  0.057/0.401   6230  0.050/0.393
        no correction (reference): 6941 0.047/0.330, 6440 0.037/0.302, 6226 0.028/0.262
  keras buggy   7051  0.015/0.095   6484  0.020/0.130   6231  0.015/0.116
        fixed   7110  0.057/0.369   6459  0.057/0.399   6226  0.051/0.387
        no correction (reference): 6937 0.048/0.325, 6438 0.038/0.301, 6222 0.027/0.263
  The training losses of the two versions are alike and fall alike (first steps: buggy 7353, 7362, 7376; fixed
  7435, 7449, 7474; both rise for a few Adagrad steps, then fall); only the held-out ranking differs: the buggy
  towers reach a third of the fixed top-100 accuracy, below the uncorrected model and below ranking by popularity. The
  median training count of the movies in a user's top 10 is 15 for the buggy model and 128 for the fixed one (torch,
  3 epochs): the buggy correction has taught the model to recommend rare movies.
  The program's own size, batches of 8192 for 3 epochs (30 steps, ~1.1-1.3 s a step), gives the same: buggy
  0.017/0.127, fixed 0.055/0.392 (torch).
About 10-11 ms (torch) and 12-14 ms (keras) per step of 1024 on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:logq_correction_sign_flipped"
SOURCE = ("github:tensorflow/recommenders issues #219, #257, #278 (tensorflow_recommenders/layers/loss.py "
          "SamplingProbablityCorrection 'return logits + tf.math.log(candidate_sampling_probability)' @d18f2db "
          "(v0.4.0), tasks/retrieval.py, docs/examples/basic_retrieval.ipynb MovielensModel with "
          "candidate_sampling_probability; fix d2a87003210bffffe9019a9e0927739414f7add7)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

n_users, n_movies = 943, 1664  # MovieLens-100k: unique_user_ids, unique_movie_titles
embedding_dimension = 32
learning_rate = 0.1  # tf.keras.optimizers.Adagrad(learning_rate=0.1)
batch_size = 1024  # port: the program batches 8192
n_train = 80_000  # shuffled.take(80_000)
n_batches = 8
SEED = 0


def _movielens_like(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(user id, movie id) pairs (N, 2) int64 with ids 1..n (0 = StringLookup's OOV), shuffled; N = 99,993."""
    rng = np.random.default_rng(seed)
    log_pop = rng.normal(0.0, 1.2, n_movies)
    taste_u = rng.normal(0.0, 1.0, (n_users, 8)) / np.sqrt(8)
    taste_m = rng.normal(0.0, 1.0, (n_movies, 8))
    counts = np.clip(np.round(20 + rng.lognormal(3.8, 1.0, n_users)), 20, 700)
    counts = np.maximum(np.round(counts * (100_000 / counts.sum())), 20).astype(int)
    users, movies = [], []
    for u in range(n_users):
        logits = log_pop + 2.0 * taste_m @ taste_u[u]
        chosen = np.argsort(-(logits + rng.gumbel(size=n_movies)))[: counts[u]]  # without replacement
        users.append(np.full(len(chosen), u))
        movies.append(chosen)
    pairs = np.stack([np.concatenate(users), np.concatenate(movies)], 1) + 1
    return pairs[rng.permutation(len(pairs))].astype("int64")


def _train_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pairs, held-out pairs, and each training pair's candidate_sampling_probability (float32)."""
    pairs = _movielens_like()
    train, test = pairs[:n_train], pairs[n_train:]
    counts = np.bincount(train[:, 1], minlength=n_movies + 1)
    prob = (counts[train[:, 1]] / len(train)).astype("float32")  # num_times_candidate_appears / num_interactions
    return train, test, prob


def _torch(sign: float) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def embedding(n: int, d: int) -> nn.Embedding:  # Keras Embedding default uniform(-0.05, 0.05)
        layer = nn.Embedding(n, d)
        nn.init.uniform_(layer.weight, -0.05, 0.05)
        return layer

    class MovielensModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.user_model = embedding(n_users + 1, embedding_dimension)
            self.movie_model = embedding(n_movies + 1, embedding_dimension)

        def forward(self, x):  # port: both towers side by side
            return torch.cat([self.user_model(x[:, 0]), self.movie_model(x[:, 1])], dim=1)

    def loss_fn(outputs, candidate_sampling_probability):  # tfrs.tasks.Retrieval.call
        query_embeddings = outputs[:, :embedding_dimension]
        candidate_embeddings = outputs[:, embedding_dimension:]
        scores = query_embeddings @ candidate_embeddings.T
        # SamplingProbablityCorrection: v0.4.0 'logits + log(p)' (sign=+1), fix 'logits - log(p)' (sign=-1)
        scores = scores + sign * torch.log(candidate_sampling_probability.reshape(1, -1))
        labels = torch.arange(scores.shape[0], device=scores.device)  # tf.eye(num_queries, num_candidates)
        return F.cross_entropy(scores, labels, reduction="sum")  # CategoricalCrossentropy(from_logits, SUM)

    train, _, prob = _train_data()
    xt, pt = torch.from_numpy(train), torch.from_numpy(prob)
    batches = [(xt[i:i + batch_size], pt[i:i + batch_size]) for i in range(0, n_batches * batch_size, batch_size)]
    return {"model": MovielensModel(), "batch": batches[0], "batches": batches, "inputs": xt[:512],
            "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adagrad(p, lr=learning_rate, initial_accumulator_value=0.1,
                                                       eps=1e-7)}


def _keras(sign: float) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)

    class MovielensModel(keras.Model):
        def __init__(self):
            super().__init__()
            # StringLookup(vocabulary, mask_token=None) -> ids 1..n (0 = OOV); Embedding(len(vocabulary) + 1, 32)
            self.user_model = keras.layers.Embedding(n_users + 1, embedding_dimension)
            self.movie_model = keras.layers.Embedding(n_movies + 1, embedding_dimension)

        def call(self, x):  # port: both towers side by side
            return ops.concatenate([self.user_model(x[:, 0]), self.movie_model(x[:, 1])], axis=1)

    cce = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")

    def retrieval_loss(candidate_sampling_probability, outputs):  # tfrs.tasks.Retrieval.call
        query_embeddings = outputs[:, :embedding_dimension]
        candidate_embeddings = outputs[:, embedding_dimension:]
        scores = ops.matmul(query_embeddings, ops.transpose(candidate_embeddings))
        num_queries = ops.shape(scores)[0]
        labels = ops.eye(num_queries, dtype=scores.dtype)
        # SamplingProbablityCorrection: v0.4.0 'logits + log(p)' (sign=+1), fix 'logits - log(p)' (sign=-1)
        scores = scores + sign * ops.log(ops.reshape(candidate_sampling_probability, (1, -1)))
        return cce(labels, scores)

    train, _, prob = _train_data()
    model = MovielensModel()
    model(train[:batch_size])  # build
    model.compile(optimizer=keras.optimizers.Adagrad(learning_rate=learning_rate), loss=retrieval_loss)
    batches = [(train[i:i + batch_size], prob[i:i + batch_size])
               for i in range(0, n_batches * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": train[:512]}


def _build(framework: str, sign: float) -> dict[str, Any]:
    if framework == "torch":
        return _torch(sign)
    if framework == "keras":
        return _keras(sign)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sign=+1.0)  # logits + tf.math.log(candidate_sampling_probability)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sign=-1.0)  # logits - tf.math.log(candidate_sampling_probability)
