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


def one_hot(y: np.ndarray, c: int) -> np.ndarray:
    """Keras ``to_categorical``."""
    return np.eye(c, dtype="float32")[y]


def batches(x: np.ndarray, y: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The data in order, cut into batches of ``size`` (the program's batch size)."""
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x) - size + 1, size)]
