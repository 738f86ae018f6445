"""suragnair/alpha-zero-general: AlphaZero self-play for board games, shipping one policy/value network per game in
PyTorch, Keras and TensorFlow (``othello/pytorch``, ``othello/keras``, ``othello/tensorflow``). ``main.py`` trains
on 6x6 Othello (``Game(6)``, 37 actions = 36 squares + pass). ``othello/tensorflow/OthelloNNet.py`` (TF1 graph):
the canonical board (6, 6) -> 4 x [conv2d 3x3 (num_channels) -> batch_normalization(training=isTraining) -> relu]
(two 'same', two 'valid') -> flatten -> Dense(1024) -> BN -> relu -> dropout -> Dense(512) -> BN -> relu -> dropout
-> ``self.pi = Dense(s_fc2, self.action_size)``, ``self.prob = tf.nn.softmax(self.pi)``, ``self.v =
Tanh(Dense(s_fc2, 1))``; ``calculate_loss``: ``loss_pi`` + ``loss_v = tf.losses.mean_squared_error(target_vs,
v)``, ``tf.train.AdamOptimizer(0.001)``. ``othello/tensorflow/NNet.py``: batches of 64 (board, pi, v) self-play
examples, num_channels 512, dropout 0.3; ``predict`` returns ``self.prob``.

The fault: ``self.loss_pi = tf.losses.softmax_cross_entropy(self.target_pis, self.prob)``. The loss takes logits and
applies its own softmax, but it gets the probabilities ``self.prob``, so the policy is trained through a double
softmax. Probabilities lie in [0, 1], so the second softmax can put at most e (2.7) times more weight on one move
than on another. The policy loss has a floor far above what the targets allow (ln(1 + 36/e) = 2.66 for a one-hot
target, against 0 when trained on logits), its gradients are weak, and to spread its outputs as far as it can the
net pushes ``self.prob`` towards a confident one-hot. So the policy that ``predict`` hands to MCTS is overconfident
and often points at the wrong move. How it came about: issue #21 asked whether ``self.pi`` should be ``self.prob``.
The maintainer agreed and, after an AttributeError (#25), committed ``softmax_cross_entropy(self.target_pis,
self.prob)`` (e24f756 'tensorflow loss bug fix #25'). Issue #45 ('possible bug in OthelloNNet.py?') pointed out
that softmax_cross_entropy already applies the softmax; the reporter added that 'using self.prob would result in
calculating softmax twice', and the maintainer answered 'That was extremely careless of me. Thanks for pointing this
out.'

Source: github.com/suragnair/alpha-zero-general ``othello/tensorflow/OthelloNNet.py`` ``calculate_loss`` and
``othello/tensorflow/NNet.py`` at e24f756a60226b68046501b96295c1d3754ffe28 (= cf41219^, with ``main.py`` and
``Coach.py``); issues #21, #25, #45; fixed in cf412193fe8492896c3f7e41cad988895d99d4fa ('TensorFlow Othello Bug fix
#45'): ``softmax_cross_entropy(self.target_pis, self.prob)`` -> ``softmax_cross_entropy(self.target_pis, self.pi)``.
The PyTorch and Keras networks of the same commit never had the fault: ``log_softmax`` with ``-sum(targets *
outputs) / n`` in torch, and a softmax head with ``categorical_crossentropy`` in Keras.
Fault label: loss_mismatch|output_activation (a logits loss fed the softmax output: a double softmax).

Program lines kept: the TF graph layer by layer (the TF1 names kept as Keras 3 layers: conv2d 3x3 with 'same' /
'valid' padding, BatchNormalization axis 3 / axis 1, Dense 1024 and 512, the 37-wide ``pi``, tanh ``v``),
``self.prob = softmax(self.pi)``, the loss ``softmax_cross_entropy(target_pis, self.prob)`` (buggy) /
``(target_pis, self.pi)`` (fixed) + the MSE value loss, Adam(lr 0.001, TF1 epsilon 1e-8), batch 64, board 6x6.
Buggy and fixed differ only in which tensor the policy loss gets.
Shrunk: num_channels 512 -> 64. At 512, one step of batch 64 costs ~50 GFLOP, about a second on one core; at 64 it
takes ~30 ms. The dense widths 1024 / 512 are unchanged.
Ported: the two heads come out as one (batch, 38) tensor [pi logits | v], and the targets are [target_pis | target_vs]
in one (batch, 38) array (split again inside the loss), so a batch is a plain (x, y) pair. The program's
``tf.layers.dropout(x, rate=self.dropout)`` is called without ``training=`` and so is the identity in TF1. The Keras
port calls Dropout with training=False to match.
Keras 3 note: ``keras.losses.categorical_crossentropy(..., from_logits=True)`` on the TF backend looks through a
Softmax op and uses that op's input as the logits (it warns and silently undoes this very fault). With it, the
buggy run's losses matched the fixed run's digit for digit (4.463 3.574 3.112 ...). So the Keras port writes
``tf.losses.softmax_cross_entropy`` out as ``-sum(target_pis * log_softmax(logits))`` (mean over the batch), as TF1
computed it.
Torch twin: the repo's own ``othello/pytorch/OthelloNNet.py`` at the same commit (Conv2d/BatchNorm2d x 4, fc1 1024 +
BatchNorm1d, fc2 512 + BatchNorm1d, ``F.dropout(p=0.3, training=self.training)`` active as in that program, torch
default init, ``optim.Adam(parameters())``). Its forward returns [fc3 logits | tanh(fc4)], and the TF program's loss
carries the fault: a soft-target cross-entropy on ``softmax(pi)`` (buggy) or on ``pi`` (fixed), plus the MSE.
Data stand-in (no self-play with MCTS): Othello 6x6 played out with the real rules, seeded. 24 games, each move random
with probability 0.5 and otherwise the best-scoring move. A move's score is the number of stones it flips, + 4 on a
corner, + 1 on an edge. Every position is stored in canonical form (player to move = 1, float32 in {-1, 0, 1}) with
its 8 symmetries, as Coach.executeEpisode / getSymmetries do. target pi: for the first 14 moves (tempThreshold 15)
the softmax of the legal moves' scores (MCTS visit counts at temp 1); after that one-hot on the best move (temp 0);
one-hot on 'pass' when no move is legal. Targets have 2.7 legal moves on average, and 60 % are one-hot. target v:
+1 if the player to move wins a greedy playout from the position, else -1 (a draw counts as a loss, as
getGameEnded). So pi and v are functions of the board. Training examples come from 16 games (4,472, shuffled):
``batches`` are the first 50 x 64, ``batch`` the first of them. ``inputs``: 256 positions from the 8 other games.

Measured (my own plain loops on the module's builds, OMP_NUM_THREADS=1, seed 0; /tmp/s55/p/h91_b/measure.py and
measure_one.py):
  50 batches cycled in order, 500 steps (10 passes). Program training loss (loss_pi + loss_v), 50-step means:
    torch buggy 4.37 4.06 3.94 3.87 3.81 3.76 3.73 3.68 3.63 3.62
    torch fixed 4.04 3.36 2.91 2.57 2.32 2.04 1.82 1.64 1.48 1.33
    Keras buggy 4.57 4.32 4.16 4.00 3.96 3.87 3.81 3.74 3.70 3.65
    Keras fixed 4.46 3.59 3.13 2.73 2.45 2.18 1.89 1.66 1.51 1.39
  After 500 steps, the policy ``predict`` uses (softmax(pi), inference mode), on 1024 training positions: cross-entropy
    to the targets, torch buggy 6.92 / fixed 1.05, Keras 6.58 / 1.04 (ln 37 = 3.61 at init); top move = target's top
    move 0.28 / 0.72 (torch), 0.22 / 0.74 (Keras); mean max probability 0.76 / 0.61 (torch), 0.73 / 0.56 (Keras).
    On the 256 held-out positions: CE 6.85 / 3.01 (torch), 6.68 / 2.97 (Keras); top move 0.18 / 0.30, 0.13 / 0.23.
    The value head is not hurt (training MSE torch 0.25 / 0.22, Keras 0.31 / 0.26). The stand-in's value does not
    generalise in either version (held-out MSE ~1.1).
    So the buggy policy gets worse than uniform in cross-entropy while its training loss still falls slowly. The
    double softmax rewards pushing softmax(pi) towards one-hot, so the net grows confident before it ranks the moves
    right.
  One batch repeated 200 steps, program loss at steps 0 / 10 / 50 / 100 / 200: torch buggy 4.89 3.46 2.90 2.85 2.85,
    fixed 5.17 0.89 0.46 0.44 0.43; Keras buggy 4.94 3.38 2.90 2.85 2.84, fixed 5.27 0.72 0.48 0.47 0.44. The buggy
    loss stalls at its floor near 2.85 (the fixed floor is the targets' entropy, 0.41). torch buggy softmax(pi) CE
    on that batch falls to 1.28 by step 50 and then rises to 1.77 (fixed 0.42).
  At initialisation both versions give the same loss (softmax of near-uniform probabilities is uniform again: loss_pi
    ~ ln 37 = 3.61, plus loss_v 1.3 to 1.7 in training mode).
  Time per step (batch 64, one thread): torch ~30 ms, Keras train_on_batch ~27 ms. Build: first ~12 s (TensorFlow
    import, 1 s of self-play for the data), later builds fast; builds are deterministic (same weights twice).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:suragnair/alpha-zero-general issue #45 (othello/tensorflow/OthelloNNet.py calculate_loss "
          "'tf.losses.softmax_cross_entropy(self.target_pis, self.prob)' @e24f756a60226b68046501b96295c1d3754ffe28 "
          "= cf41219^, othello/tensorflow/NNet.py, main.py Game(6); fix cf412193fe8492896c3f7e41cad988895d99d4fa "
          "'TensorFlow Othello Bug fix #45': softmax_cross_entropy(self.target_pis, self.pi); torch twin from "
          "othello/pytorch/OthelloNNet.py + NNet.py at the same commit)")
FRAMEWORKS = ("torch", "keras")

# main.py / NNet.py args
BOARD_N = 6  # Game(6)
ACTION_SIZE = BOARD_N * BOARD_N + 1  # getActionSize: n*n + 1 (the last one is "pass")
LR = 0.001
DROPOUT = 0.3
BATCH_SIZE = 64
NUM_CHANNELS = 64  # the program: 512 (shrunk for one CPU core)
TEMP_THRESHOLD = 15  # Coach: temp = int(episodeStep < tempThreshold)
# stand-in
N_GAMES = 24
N_TRAIN_GAMES = 16
N_BATCHES = 50
N_INPUTS = 256
SEED = 0

CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]


# ------------------------------------------------------------------------------------------------------------ data

_DIRS = ((1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1))


def _init_board() -> np.ndarray:
    """OthelloGame.getInitBoard: 1 / -1 stones in the four centre squares."""
    b = np.zeros((BOARD_N, BOARD_N), "int8")
    h = BOARD_N // 2
    b[h - 1, h] = b[h, h - 1] = 1
    b[h - 1, h - 1] = b[h, h] = -1
    return b


def _flips(b: np.ndarray, x: int, y: int, c: int) -> list[tuple[int, int]]:
    if b[x, y] != 0:
        return []
    out: list[tuple[int, int]] = []
    for dx, dy in _DIRS:
        i, j, line = x + dx, y + dy, []
        while 0 <= i < BOARD_N and 0 <= j < BOARD_N and b[i, j] == -c:
            line.append((i, j))
            i, j = i + dx, j + dy
        if line and 0 <= i < BOARD_N and 0 <= j < BOARD_N and b[i, j] == c:
            out += line
    return out


def _legal(b: np.ndarray, c: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
    return [(x, y, f) for x in range(BOARD_N) for y in range(BOARD_N) for f in [_flips(b, x, y, c)] if f]


def _score(x: int, y: int, f: list[tuple[int, int]]) -> float:
    """A move's strength for the stand-in 'search': stones flipped, + 4 for a corner, + 1 for an edge square."""
    edge = x in (0, BOARD_N - 1), y in (0, BOARD_N - 1)
    return len(f) + 4.0 * (edge[0] and edge[1]) + 1.0 * (edge[0] or edge[1])


def _play(b: np.ndarray, x: int, y: int, f: list[tuple[int, int]], c: int) -> np.ndarray:
    b = b.copy()
    b[x, y] = c
    for i, j in f:
        b[i, j] = c
    return b


def _greedy_outcome(b: np.ndarray) -> float:
    """Both sides play the best-scoring move to the end from b (player 1 to move); +1 if player 1 ends with more
    stones, else -1 (OthelloGame.getGameEnded: a draw counts as a loss)."""
    cur, passes = 1, 0
    while passes < 2:
        ms = _legal(b, cur)
        if not ms:
            passes, cur = passes + 1, -cur
            continue
        passes = 0
        x, y, f = max(ms, key=lambda m: (_score(*m), -(m[0] * BOARD_N + m[1])))
        b, cur = _play(b, x, y, f, cur), -cur
    return 1.0 if (b == 1).sum() > (b == -1).sum() else -1.0


def _symmetries(board: np.ndarray, pi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """OthelloGame.getSymmetries: the 8 rotations / reflections of the board and of pi[:-1] (pass kept)."""
    pi_board = pi[:-1].reshape(BOARD_N, BOARD_N)
    out = []
    for i in range(1, 5):
        for j in (True, False):
            nb, npi = np.rot90(board, i), np.rot90(pi_board, i)
            if j:
                nb, npi = np.fliplr(nb), np.fliplr(npi)
            out.append((nb.copy(), np.append(npi.ravel(), pi[-1])))
    return out


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, int]:
    """Self-play-like examples (canonical board, pi, v) with their 8 symmetries, as Coach.executeEpisode stores them.
    x: (n, 6, 6) float32 in {-1, 0, 1}; y: (n, 38) float32 = [pi (37) | v]."""
    r = np.random.default_rng(SEED)
    xs, ys, games = [], [], []
    for _ in range(N_GAMES):
        b, c, step, passes = _init_board(), 1, 0, 0
        while passes < 2:
            step += 1
            canon = b * c  # getCanonicalForm
            ms = _legal(canon, 1)
            pi = np.zeros(ACTION_SIZE, "float32")
            if not ms:
                pi[-1] = 1.0  # only "pass" is valid
            else:
                s = np.array([_score(*m) for m in ms])
                if step < TEMP_THRESHOLD:  # temp = 1: visit counts spread over the legal moves
                    p = np.exp(s - s.max())
                    p /= p.sum()
                else:  # temp = 0: all visits on the best move
                    p = (np.arange(len(ms)) == int(np.argmax(s))).astype(float)
                for (x, y, _), q in zip(ms, p):
                    pi[x * BOARD_N + y] = q
            v = _greedy_outcome(canon)
            for sb, sp in _symmetries(canon, pi):
                xs.append(sb.astype("float32"))
                ys.append(np.append(sp, v).astype("float32"))
            if not ms:
                passes, c = passes + 1, -c
                continue
            passes = 0
            x, y, f = ms[int(r.integers(len(ms)))] if r.random() < 0.5 else \
                ms[int(np.argmax([_score(*m) for m in ms]))]
            b, c = _play(b, x, y, f, c), -c
        games.append((np.stack(xs), np.stack(ys)))
        xs, ys = [], []
    n_train = sum(len(g[0]) for g in games[:N_TRAIN_GAMES])
    x, y = np.concatenate([g[0] for g in games]), np.concatenate([g[1] for g in games])
    idx = np.concatenate([r.permutation(n_train), n_train + r.permutation(len(x) - n_train)])
    return x[idx], y[idx], n_train


def _common() -> dict[str, Any]:
    x, y, n_train = _data()
    n = N_BATCHES * BATCH_SIZE
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[n_train:n_train + N_INPUTS]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class OthelloNNet(nn.Module):  # othello/pytorch/OthelloNNet.py, heads returned as one (batch, 38) tensor
        def __init__(self):
            self.board_x, self.board_y = BOARD_N, BOARD_N
            self.action_size = ACTION_SIZE

            super(OthelloNNet, self).__init__()
            self.conv1 = nn.Conv2d(1, NUM_CHANNELS, 3, stride=1, padding=1)
            self.conv2 = nn.Conv2d(NUM_CHANNELS, NUM_CHANNELS, 3, stride=1, padding=1)
            self.conv3 = nn.Conv2d(NUM_CHANNELS, NUM_CHANNELS, 3, stride=1)
            self.conv4 = nn.Conv2d(NUM_CHANNELS, NUM_CHANNELS, 3, stride=1)

            self.bn1 = nn.BatchNorm2d(NUM_CHANNELS)
            self.bn2 = nn.BatchNorm2d(NUM_CHANNELS)
            self.bn3 = nn.BatchNorm2d(NUM_CHANNELS)
            self.bn4 = nn.BatchNorm2d(NUM_CHANNELS)

            self.fc1 = nn.Linear(NUM_CHANNELS * (self.board_x - 4) * (self.board_y - 4), 1024)
            self.fc_bn1 = nn.BatchNorm1d(1024)

            self.fc2 = nn.Linear(1024, 512)
            self.fc_bn2 = nn.BatchNorm1d(512)

            self.fc3 = nn.Linear(512, self.action_size)

            self.fc4 = nn.Linear(512, 1)

        def forward(self, s):
            s = s.view(-1, 1, self.board_x, self.board_y)
            s = F.relu(self.bn1(self.conv1(s)))
            s = F.relu(self.bn2(self.conv2(s)))
            s = F.relu(self.bn3(self.conv3(s)))
            s = F.relu(self.bn4(self.conv4(s)))
            s = s.view(-1, NUM_CHANNELS * (self.board_x - 4) * (self.board_y - 4))

            s = F.dropout(F.relu(self.fc_bn1(self.fc1(s))), p=DROPOUT, training=self.training)
            s = F.dropout(F.relu(self.fc_bn2(self.fc2(s))), p=DROPOUT, training=self.training)

            pi = self.fc3(s)  # the TF graph's self.pi (logits)
            v = self.fc4(s)
            return torch.cat([pi, torch.tanh(v)], dim=1)

    torch.manual_seed(SEED)
    model = OthelloNNet()
    optimizer = optim.Adam(model.parameters())  # NNet.train: lr 1e-3

    def loss_fn(out: Any, y: Any) -> Any:  # OthelloNNet.calculate_loss of the TF program
        target_pis, target_vs = y[:, :ACTION_SIZE], y[:, ACTION_SIZE]
        pi, v = out[:, :ACTION_SIZE], out[:, ACTION_SIZE]
        prob = torch.softmax(pi, dim=1)  # self.prob = tf.nn.softmax(self.pi)
        logits = pi if fixed else prob  # the fix: self.pi, not self.prob
        loss_pi = -(target_pis * F.log_softmax(logits, dim=1)).sum(1).mean()  # tf.losses.softmax_cross_entropy
        loss_v = ((target_vs - v) ** 2).mean()  # tf.losses.mean_squared_error
        return loss_pi + loss_v

    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    # Renaming functions (the TF1 program's tf.nn / tf.layers names, as Keras 3 layers)
    def Relu(x: Any) -> Any:
        return layers.Activation("relu")(x)

    def BatchNormalization(x: Any, axis: int) -> Any:  # tf.layers.batch_normalization(..., training=isTraining)
        return layers.BatchNormalization(axis=axis)(x)

    def Dropout(x: Any, rate: float) -> Any:  # tf.layers.dropout(x, rate) without training=: the identity
        return layers.Dropout(rate)(x, training=False)

    def Dense(x: Any, units: int) -> Any:
        return layers.Dense(units)(x)

    def conv2d(x: Any, out_channels: int, padding: str) -> Any:
        return layers.Conv2D(out_channels, kernel_size=[3, 3], padding=padding)(x)

    board_x = board_y = BOARD_N
    input_boards = keras.Input(shape=(board_x, board_y))
    x_image = layers.Reshape((board_x, board_y, 1))(input_boards)
    h_conv1 = Relu(BatchNormalization(conv2d(x_image, NUM_CHANNELS, 'same'), axis=3))
    h_conv2 = Relu(BatchNormalization(conv2d(h_conv1, NUM_CHANNELS, 'same'), axis=3))
    h_conv3 = Relu(BatchNormalization(conv2d(h_conv2, NUM_CHANNELS, 'valid'), axis=3))
    h_conv4 = Relu(BatchNormalization(conv2d(h_conv3, NUM_CHANNELS, 'valid'), axis=3))
    h_conv4_flat = layers.Reshape((NUM_CHANNELS * (board_x - 4) * (board_y - 4),))(h_conv4)
    s_fc1 = Dropout(Relu(BatchNormalization(Dense(h_conv4_flat, 1024), axis=1)), rate=DROPOUT)
    s_fc2 = Dropout(Relu(BatchNormalization(Dense(s_fc1, 512), axis=1)), rate=DROPOUT)
    pi = Dense(s_fc2, ACTION_SIZE)
    v = layers.Activation("tanh")(Dense(s_fc2, 1))
    model = keras.Model(input_boards, layers.Concatenate()([pi, v]))

    def calculate_loss(y_true: Any, y_pred: Any) -> Any:
        target_pis, target_vs = y_true[:, :ACTION_SIZE], y_true[:, ACTION_SIZE]
        pi, v = y_pred[:, :ACTION_SIZE], y_pred[:, ACTION_SIZE]
        prob = ops.softmax(pi)  # self.prob = tf.nn.softmax(self.pi)
        logits = pi if fixed else prob  # the fix: self.pi, not self.prob
        # tf.losses.softmax_cross_entropy(target_pis, logits), written out: Keras 3's categorical_crossentropy(
        # from_logits=True) on the TF backend would take the input of a Softmax op as the logits (see docstring)
        loss_pi = -ops.sum(target_pis * ops.log_softmax(logits, axis=-1), axis=-1)
        loss_v = ops.square(target_vs - v)
        return loss_pi + loss_v

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8), loss=calculate_loss)
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
