"""minutes (speaker recognition by transfer learning on audio spectrograms): ``Minutes.fit`` copies
the pretrained base CNN, freezes it, pops its two Dense layers and adds a new head, but the new
hidden layer is ``Dense(128, activation='softmax')``. A softmax over 128 hidden units squeezes the
features into a probability vector whose entries sum to one (about 1/128 each), so the output layer
sees an almost constant, tiny input and the head barely learns: the issue says the "second-to-last
layer should have a usual activation function".

Source: github.com/ubclaunchpad/minutes issue #133 ("2 last layers have softmax activation") and PR
#134 ("Wrong activation function", merged in 4f385fe); fix commit
fee6cae1bf4712798bcd515ca5e268b8151565cb in minutes/minutes.py; program lines from b13d33b83b34:
minutes/minutes.py ``Minutes.fit`` (``copy_model(parent)``; ``for layer in model.layers[:-2]:
layer.trainable = False``; two ``model.layers.pop()``; ``Dense(128, activation='softmax')``,
``Dense(n_speakers, activation='softmax')``; ``loss='categorical_crossentropy'``,
``optimizer='adam'``; ``epochs=15, batch_size=16``) and minutes/base.py (the parent 'cnn' model:
``Conv1D(32, 32, strides=2, relu)``, ``MaxPooling1D(2)``, ``Dropout(0.5)``, ``Flatten()``,
``Dense(128, relu)``, ``Dense(k, softmax)``; observations are ``scipy.signal.spectrogram`` of 3000 ms
rows of 16 kHz audio, shape (129, 214); labels ``to_categorical``; ``train_test_split(test_size=0.33,
random_state=42)``). Keras 2.1.3 API ported to Keras 3: the two ``model.layers.pop()`` become
``model.pop()`` (what they were meant to do: drop the parent's Dense head), ``Adam`` at its default
learning rate 0.001.
Data: the speakers' .wav files and the pretrained base (models/base/cnn/keras.h5) are not available
offline; stand-ins: two synthetic "speakers" (16 kHz harmonic voices at 120 Hz and 210 Hz with
syllable-like envelopes plus noise, amplitude about 0.15), cut into 3000 ms rows and passed through
the program's own ``scipy.signal.spectrogram`` (float32, 0 to about 1.3); the base CNN is freshly
initialised (Keras defaults), then frozen as the program does. Batches of 16 (the program's).
Fault label: other:softmax_hidden_activation (softmax used as a hidden-layer activation).
Fix (fee6cae): ``Dense(128, activation='relu', name='transfer_dense_1')``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "other:softmax_hidden_activation"
SOURCE = "github:ubclaunchpad/minutes issue #133, PR #134 (minutes/minutes.py@b13d33b, fix fee6cae)"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

BATCH_SIZE = 16  # program lines: model.fit(..., batch_size=16)
RATE = 16000  # the fixtures are 16 kHz mono .wav files
MS_PER_OBSERVATION = 3000  # models/base/cnn/params.json


def _speaker_audio(f0: float, seconds: float, seed: int) -> np.ndarray:
    """A synthetic voice: harmonics of a slowly wobbling fundamental, gated by a syllable envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f) / RATE
    voice = sum((0.6 / k) * np.sin(k * phase + rng.uniform(0, 6)) for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.5) * t + rng.uniform(0, 6)), 0, None) ** 2
    return np.clip(0.15 * env * voice + 0.01 * rng.standard_normal(t.size), -1, 1)


def _get_spectrograms(data: np.ndarray) -> np.ndarray:
    """minutes/audio.py ``Audio.get_spectrograms``: one spectrogram per ms_per_observation row."""
    from scipy import signal

    d = int(RATE * MS_PER_OBSERVATION / 1000.)
    n = len(data) // d
    data = data[:n * d].reshape((n, d))
    return np.array([signal.spectrogram(row)[2] for row in data])


def _training_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    # BaseModel._generate_training_data: one label per speaker, to_categorical, train_test_split
    obs = [_get_spectrograms(_speaker_audio(f0, 3.0 * 72, seed=i)) for i, f0 in enumerate((120.0, 210.0))]
    labels = np.concatenate([[i] * len(o) for i, o in enumerate(obs)])
    x = np.concatenate(obs).astype("float32")
    y = _data.one_hot(labels, len(obs))
    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.33, random_state=42)
    return x_train, y_train


def _build(framework: str, hidden_activation: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    import keras
    from keras.layers import Conv1D, Dense, Dropout, Flatten, MaxPooling1D

    x_train, y_train = _training_data()
    # program lines (minutes/base.py BaseModel.fit): the parent 'cnn' model
    parent = keras.Sequential([
        keras.Input(x_train[0].shape),
        Conv1D(32, 32, strides=2, activation='relu'),
        MaxPooling1D(pool_size=2),
        Dropout(0.5),
        Flatten(),
        Dense(128, activation='relu'),
        Dense(y_train[0].size, activation='softmax'),
    ])
    # program lines (minutes/minutes.py Minutes.fit)
    model = keras.models.clone_model(parent)  # copy_model
    model.set_weights(parent.get_weights())
    for layer in model.layers[:-2]:  # Layer freezing.
        layer.trainable = False
    model.pop()  # self.model.layers.pop()
    model.pop()
    d1 = Dense(128, activation=hidden_activation, name='transfer_dense_1')
    d2 = Dense(y_train[0].size, activation='softmax', name='output_1')
    model.add(d1)
    model.add(d2)
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  metrics=['accuracy'])
    return {"model": model, "batch": (x_train[:BATCH_SIZE], y_train[:BATCH_SIZE]),
            "batches": _data.batches(x_train, y_train, BATCH_SIZE)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "softmax")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "relu")
