"""Offline stand-ins for the datasets the real programs downloaded: same shape, dtype and value
range, built from scikit-learn's bundled data or seeded noise. Nothing here downloads."""

from __future__ import annotations

import numpy as np


def autotrainer_blobs(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """AUTOTRAINER ``simplednn.load_data('blob')`` then ``preprocess`` (x*100/100): 2 features, 3
    classes (class ids). The generator call is the program's own (sklearn, offline)."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    x = (x * 100) / 100
    return x[:n].astype("float32"), y[:n].astype("int64")


def autotrainer_circles(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """AUTOTRAINER ``simplednn.load_data('circle')`` then ``preprocess``: 2 features, binary labels."""
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    x = (x * 100) / 100
    return x[:n].astype("float32"), y[:n].astype("float32")


def mnist_like(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped uint8 images (n, 28, 28), 0..255, labels 0..9: scikit-learn's 8x8 digits
    (0..16) scaled to 0..255 and each pixel blown up 3x3, padded to 28x28. Real signal, so a
    correct classifier can learn them."""
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.kron(d.images[:n], np.ones((3, 3))) * (255.0 / 16.0)
    imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2)))
    return np.clip(imgs, 0, 255).astype("uint8"), d.target[:n].astype("int64")


def har_like(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """UCI-HAR-shaped windows (n, 9, 1, 128) float32 of body signals in about [-1, 1], 6 activity
    classes: each class a different frequency and phase mix per channel, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 6
    rng.shuffle(y)
    t = np.linspace(0, 1, 128)
    x = np.empty((n, 9, 1, 128), dtype="float32")
    for i, c in enumerate(y):
        for ch in range(9):
            x[i, ch, 0] = 0.6 * np.sin(2 * np.pi * (2 + c) * t + ch * 0.3 * (c + 1)) + 0.2 * rng.standard_normal(128)
    return x, y.astype("int64")


def cifar_like(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-shaped uint8 images (n, 32, 32, 3), 0..255 with channel means near 125 (CIFAR-10: 114..125),
    labels 0..9: scikit-learn's 8x8 digits blown up 4x4 over a noisy background of random colour,
    each class with its own tint. Real signal, so a correct classifier can learn them."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    y = d.target[:n]
    digit = np.kron(d.images[:n], np.ones((4, 4))) / 16.0  # (n, 32, 32) in [0, 1]
    tint = rng.uniform(0.4, 1.0, (10, 3))
    bg = rng.uniform(40, 160, (n, 1, 1, 3))
    imgs = bg + 110 * digit[..., None] * tint[y][:, None, None, :] + rng.normal(0, 20, (n, 32, 32, 3))
    return np.clip(imgs, 0, 255).astype("uint8"), y.astype("int64")


def iris_bolts_train() -> tuple[np.ndarray, np.ndarray]:
    """Lightning Bolts' SklearnDataModule on scikit-learn's iris (4 raw features in cm, 3 classes):
    ``sklearn.utils.shuffle(X, y, random_state=1234)``, the first floor(150 * 0.3) = 45 rows held
    out for validation and test, the other 105 the training split."""
    from sklearn.datasets import load_iris
    from sklearn.utils import shuffle

    x, y = load_iris(return_X_y=True)
    x, y = shuffle(x, y, random_state=1234)
    return x[45:].astype("float32"), y[45:].astype("int64")


def one_hot(y: np.ndarray, c: int) -> np.ndarray:
    """Keras ``to_categorical``."""
    return np.eye(c, dtype="float32")[y]


def batches(x: np.ndarray, y: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The data in order, cut into batches of ``size`` (the program's batch size)."""
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x) - size + 1, size)]


def sine_waves(n: int = 32, length: int = 100) -> np.ndarray:
    """pytorch/examples ``time_sequence_prediction/generate_sine_wave.py`` (seed 2, T = 20, each row
    shifted by a random offset in [-4T, 4T)), float64 in [-1, 1], cut to ``n`` rows of ``length``
    steps (the example writes 100 rows of 1000)."""
    rng = np.random.RandomState(2)
    t_ = 20
    x = np.empty((100, 1000), "int64")
    x[:] = np.array(range(1000)) + rng.randint(-4 * t_, 4 * t_, 100).reshape(100, 1)
    data = np.sin(x / 1.0 / t_).astype("float64")
    return data[:n, :length]


def names_like(n: int = 64, length: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """char-rnn-classification's names (``line_to_tensor``: one-hot over the 57 letters
    ``string.ascii_letters + " .,;'"``, 18 languages), as ``(n, length, 57)`` float32 one-hot rows of
    ``length`` letters and class ids 0..17: each language draws its letters from its own 8-letter
    alphabet, so the language follows from the letters."""
    rng = np.random.default_rng(seed)
    alphabets = np.stack([rng.choice(52, 8, replace=False) for _ in range(18)])
    y = np.arange(n) % 18
    rng.shuffle(y)
    letters = alphabets[y[:, None], rng.integers(0, 8, (n, length))]
    return np.eye(57, dtype="float32")[letters], y.astype("int64")


def cartpole_step(s: np.ndarray, a: int) -> tuple[np.ndarray, bool]:
    """One step of CartPole-v1 (gym's equations, Euler integration, tau 0.02): the next state and
    whether the episode ends (|x| > 2.4 or |theta| > 12 degrees)."""
    g, m_cart, m_pole, half_len, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_m, pm_len = m_cart + m_pole, m_pole * half_len
    x, x_dot, th, th_dot = s
    force = force_mag if a == 1 else -force_mag
    cos, sin = np.cos(th), np.sin(th)
    temp = (force + pm_len * th_dot ** 2 * sin) / total_m
    th_acc = (g * sin - cos * temp) / (half_len * (4.0 / 3.0 - m_pole * cos ** 2 / total_m))
    x_acc = temp - pm_len * th_acc * cos / total_m
    nxt = np.array([x + tau * x_dot, x_dot + tau * x_acc, th + tau * th_dot, th_dot + tau * th_acc])
    return nxt, bool(abs(nxt[0]) > 2.4 or abs(nxt[2]) > 12 * 2 * np.pi / 360)


def markov_names(n: int, firsts: int, seed: int = 0, max_length: int = 15) -> list[str]:
    """Stand-in for makemore's names.txt: words of 3..max_length lowercase letters from a sparse
    order-2 Markov chain (2-3 successors per letter pair), starting from ``firsts`` letters."""
    rng = np.random.default_rng(seed)
    table: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def nxt(a: int, b: int) -> int:
        if (a, b) not in table:
            k = int(rng.integers(2, 4))
            table[(a, b)] = (rng.choice(26, k, replace=False), rng.dirichlet(np.full(k, 2.0)))
        opts, p = table[(a, b)]
        return int(rng.choice(opts, p=p))

    starts = rng.choice(26, firsts, replace=False)
    out = []
    for _ in range(n):
        a, b = 26, int(rng.choice(starts))  # 26: before the start
        w = [b]
        while len(w) < max_length:
            if len(w) >= 3 and rng.random() < 0.08 * (len(w) - 2):
                break
            a, b = b, nxt(a, b)
            w.append(b)
        out.append("".join(chr(ord("a") + i) for i in w))
    return out


def boston_like(n: int = 506, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for the Boston housing table: (n, 13) float64 raw features in Boston's column order and ranges
    [CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX, PTRATIO, B, LSTAT] and (n,) MEDV in $1000s, 5..50."""
    r = np.random.default_rng(seed)
    crim = np.clip(np.exp(r.normal(-1.3, 2.1, n)), 0.00632, 88.98)
    zn = np.where(r.random(n) < 0.735, 0.0, r.choice([12.5, 18, 20, 21, 22, 25, 28, 30, 33, 34, 35, 40, 45, 52.5,
                                                        55, 60, 70, 75, 80, 82.5, 85, 90, 95, 100], n))
    indus = np.clip(r.normal(11.1, 6.8, n) - 0.05 * zn, 0.46, 27.74)
    chas = (r.random(n) < 0.07).astype(float)
    nox = np.clip(0.42 + 0.0125 * indus + r.normal(0, 0.05, n), 0.385, 0.871)
    rm = np.clip(r.normal(6.28, 0.70, n), 3.561, 8.78)
    age = np.clip(100 * r.beta(2.2, 1.0, n) + 40 * (nox - 0.55), 2.9, 100.0)
    dis = np.clip(8.0 * np.exp(-3.5 * (nox - 0.385)) * np.exp(r.normal(0, 0.25, n)) - 0.02 * age, 1.13, 12.13)
    rad = np.where(r.random(n) < 0.26, 24.0, r.integers(1, 9, n).astype(float))
    tax = np.where(rad == 24, 666.0, np.clip(r.normal(310, 70, n), 187, 469)).round()
    ptratio = np.where(rad == 24, 20.2, np.clip(r.normal(18.0, 2.1, n), 12.6, 22.0)).round(1)
    b = np.where(r.random(n) < 0.85, np.clip(396.9 - r.exponential(8, n), 0.32, 396.9), r.uniform(0.32, 390, n))
    lstat = np.clip(np.exp(r.normal(2.4 - 0.38 * (rm - 6.28) + 0.6 * (nox - 0.55), 0.42, n)), 1.73, 37.97)
    x = np.stack([crim, zn, indus, chas, nox, rm, age, dis, rad, tax, ptratio, b, lstat], 1)
    medv = (35.3 - 0.108 * crim + 0.046 * zn + 0.02 * indus + 2.69 * chas - 17.8 * nox + 3.81 * rm + 0.0007 * age
            - 1.48 * dis + 0.306 * rad - 0.0123 * tax - 0.953 * ptratio + 0.0093 * b - 0.525 * lstat
            + 0.04 * (lstat - 12.0) ** 2 * (lstat < 12) + 5.0 * np.maximum(rm - 6.8, 0) ** 2 + r.normal(0, 3.5, n))
    return x, np.clip(medv, 5.0, 50.0)
