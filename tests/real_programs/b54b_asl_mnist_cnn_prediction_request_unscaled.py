"""GoogleCloudPlatform/asl-ml-immersion (Google Cloud's Advanced Solutions Lab notebooks),
``notebooks/image_models/solutions/2_mnist_models_vertex.ipynb``: an MNIST classifier trained as a Vertex AI
Python package (``mnist_models/trainer/{task,util,model}.py`` written by the notebook) and then served from a
Vertex endpoint. ``MODEL_TYPE = "cnn"``: ``Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Conv2D(32, 3, relu) ->
MaxPooling2D(2) -> Flatten -> Dense(400, relu) -> Dense(100, relu) -> Dropout(0.25) -> Dense(10) -> Softmax``,
``compile(optimizer='adam', loss='categorical_crossentropy')``; ``util.load_dataset``: labels one-hot
(``to_categorical(y, 10)``), ``dataset.map(scale).batch(100)`` then ``.shuffle(5000).repeat()`` for training,
where ``scale`` casts the uint8 pixels to float and divides by 255 (``image /= 255``) and adds the channel
axis; the local run uses ``--epochs=5 --steps_per_epoch=50``.

The fault is in the prediction request (at 84c17f16^ = cf8f1405): the notebook builds the endpoint's input
from the raw test image, ``test_image = x_test[IMGNO]``,
``{"instances": [test_image.reshape(HEIGHT, WIDTH, 1).tolist()]}`` -- pixels 0..255, while the model was
trained on ``scale``d pixels in [0, 1]. The exported SavedModel contains
no scaling layer, so the served network sees inputs 255 times larger than anything it was trained on: the
ReLU activations grow by ~255, the softmax saturates to one-hot outputs, and some predictions turn
confidently wrong.
Fix: 84c17f16d99a2a031fe7fbb36693eaf3ff0734bf "minor fix of prediction data scaling" (2022-08-02, labs and
solutions): ``test_image = x_test[IMGNO] / 255``.

Source: github.com/GoogleCloudPlatform/asl-ml-immersion,
notebooks/image_models/solutions/2_mnist_models_vertex.ipynb (and labs/ twin) at 84c17f16^ = cf8f1405 (the
notebook last changed in 03cf0ac7; the cells ``%%writefile mnist_models/trainer/util.py`` / ``model.py`` /
``task.py`` and the prediction cell); fix 84c17f16d99a2a031fe7fbb36693eaf3ff0734bf.
Fault label: preprocessing_mismatch (training divides the pixels by 255, the serving request does not).

Program lines kept: ``get_layers('cnn')`` as written (Keras default initialisers), ``build_model``'s compile
(Adam at Keras' default 0.001, categorical cross-entropy on the softmax output), ``util.scale`` and the one-hot
labels, batch size 100, the notebook's local schedule (5 epochs x 50 steps = 250 steps) for the measurements,
the prediction request's ``reshape(HEIGHT, WIDTH, 1)`` of the raw (buggy) or /255 (fixed) test image.
Ported: the Vertex packaging, TensorBoard callback, SavedModel export and endpoint are dropped (the endpoint
runs the exported Keras model unchanged, so ``model(inputs)`` stands for ``gcloud ai endpoints predict``);
the batch-order shuffle of ``load_dataset`` (it shuffles whole batches after ``.batch``) is replaced by
consecutive batches of the shuffled stand-in. Torch twin: the same layers NCHW (Conv2d 1->64->32 k3 valid,
MaxPool2d(2), Linear 800->400->100->10, Dropout(0.25), Softmax(dim=1)), Keras' glorot-uniform kernels and
zero biases, the loss ``-(y * log p).sum(1).mean()`` on the softmax output (Keras' categorical cross-entropy
clips p to [1e-7, 1 - 1e-7]; kept), ``Adam(lr=0.001, eps=1e-7)`` (Keras' defaults). The bug is in the
preprocessing around the model, so it exists in both frameworks.
Data stand-in (no MNIST download): ``_data.mnist_like(1797)`` (scikit-learn's 8x8 digits blown up to 28x28
uint8 0..255, labels 0..9), shuffled once (seed 0); the first 1400 images are the training split, the
remaining 397 the test split (``x_test``) the prediction request is built from.
``raw_samples`` are test images as ``mnist.load_data()`` gives them (uint8 28x28); ``train_pipeline`` is
``util.scale`` on one image, ``eval_pipeline`` the request's preprocessing (buggy: raw reshape; fixed: /255).

Measured (my own plain loop, /tmp/s39/h54b/measure.py; OMP_NUM_THREADS=1, seed 0, the program's batch of 100,
250 steps (5 x 50) cycling the 14 training batches; Keras ``train_on_batch``, torch zero_grad / forward / loss /
backward / step in train mode; predictions on all 397 test images in eval mode / ``model(x, training=False)``;
training is the same in both versions, only the request differs):
  training loss at steps 1/10/50/100/250: keras 2.305, 1.75, 0.23, 0.039, 0.038; torch 2.296, 1.60, 0.18,
        0.048, 0.019.
  request inputs: fixed mean 0.22, max 1.0; buggy mean 56.9, max 255.
  trained model, fixed vs buggy requests: keras test CE 0.039 vs 0.487, accuracy 0.990 vs 0.970, mean
        max-probability 0.988 vs 1.000 (max-probability > 0.999 for 81 % vs 100 % of the images), mean
        |pre-softmax logit| 4.4 vs 1146; torch CE 0.020 vs 0.162, accuracy 0.992 vs 0.990, max-probability
        0.990 vs 1.000 (80 % vs 100 % above 0.999), |logit| 4.8 vs 1289. The ReLU network is close to
        scale-equivariant (the biases are small), so most argmaxes survive the x255 inputs on this easy stand-in;
        what the served model returns is saturated one-hot "probabilities" and confidently wrong answers for the
        rest (the wrong ones cost the CE).
  freshly built model: keras CE 2.310 (fixed) vs 13.84 (buggy), max-probability 0.11 vs 0.95; torch 2.297 vs
        11.34, 0.11 vs 0.87.
Step time on the loaded two-core machine, one thread, batch 100: torch ~0.14 s, keras ~0.17 s; the ``batch`` /
``batches`` given here hold 50 images (halved from util.load_dataset's 100): torch ~0.08-0.09 s, keras
``train_on_batch`` ~0.10 s a step. A build takes 0.05 s (torch) / 0.15 s (keras) once the framework is
imported; the first one, import included, 4 s (torch) / 9 s (keras) on the loaded machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:GoogleCloudPlatform/asl-ml-immersion notebooks/image_models/solutions/2_mnist_models_vertex.ipynb"
          "@84c17f16^ (= cf8f1405; mnist_models/trainer/util.py scale /255 + model.py get_layers('cnn'), prediction "
          "request 'test_image = x_test[IMGNO]'; fix 84c17f16d99a2a031fe7fbb36693eaf3ff0734bf 'minor fix of "
          "prediction data scaling': test_image = x_test[IMGNO] / 255)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 10}), ("loss_decreases", {})]

HEIGHT = WIDTH = 28
nclasses = 10
batch_size = 100  # util.load_dataset
BATCH = 50  # the batches given here (halved so a CPU step stays near 0.1 s on a loaded core)
learning_rate = 0.001  # 'adam' (Keras default)
hidden_layer_1_neurons, hidden_layer_2_neurons = 400, 100
dropout_rate = 0.25
num_filters_1, kernel_size_1, pooling_size_1 = 64, 3, 2
num_filters_2, kernel_size_2, pooling_size_2 = 32, 3, 2
N_IMAGES, N_TRAIN = 1797, 1400
N_BATCHES = 4
N_REQUEST = 100  # test images sent as prediction requests in ``inputs``
SEED = 0


def _mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Stand-in for ``tf.keras.datasets.mnist.load_data()``: uint8 (n, 28, 28) images, int labels."""
    from tests.real_programs._data import mnist_like

    x, y = mnist_like(N_IMAGES)
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])


def scale(image: np.ndarray) -> np.ndarray:
    """util.scale: cast to float, /= 255, expand_dims(-1) (channels-last)."""
    image = image.astype("float32")
    image /= 255
    return image[..., None]


def request(test_image: np.ndarray, fixed: bool) -> np.ndarray:
    """The prediction request's instance: ``x_test[IMGNO]`` (buggy) or ``x_test[IMGNO] / 255`` (fixed),
    ``.reshape(HEIGHT, WIDTH, 1)``; the JSON list arrives at the served float32 input."""
    test_image = test_image / 255 if fixed else test_image
    return np.asarray(test_image.reshape(HEIGHT, WIDTH, 1), dtype="float32")


def _data(fixed: bool, channels_first: bool) -> dict[str, Any]:
    (x_train, y_train), (x_test, _) = _mnist()
    x = scale(x_train)
    y = np.eye(nclasses, dtype="float32")[y_train]  # to_categorical(y, nclasses)
    served = np.stack([request(img, fixed) for img in x_test[:N_REQUEST]])
    if channels_first:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        served = np.ascontiguousarray(served.transpose(0, 3, 1, 2))
    layout = (lambda a: np.ascontiguousarray(a.transpose(2, 0, 1))) if channels_first else (lambda a: a)
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N_BATCHES * BATCH, BATCH)]
    return {"batches": batches, "inputs": served,
            "train_pipeline": lambda img: layout(scale(img)),
            "eval_pipeline": lambda img: layout(request(img, fixed)),
            "raw_samples": list(x_test[:16])}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import Sequential
    from keras.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Softmax

    d = _data(fixed, channels_first=False)
    keras.utils.set_random_seed(SEED)
    model = Sequential([
        Input((WIDTH, HEIGHT, 1)),
        Conv2D(num_filters_1, kernel_size=kernel_size_1, activation="relu"),
        MaxPooling2D(pooling_size_1),
        Conv2D(num_filters_2, kernel_size=kernel_size_2, activation="relu"),
        MaxPooling2D(pooling_size_2),
        Flatten(),
        Dense(hidden_layer_1_neurons, activation="relu"),
        Dense(hidden_layer_2_neurons, activation="relu"),
        Dropout(dropout_rate),
        Dense(nclasses),
        Softmax(),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return {"model": model, "batch": d["batches"][0], **d}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    from tests.real_programs._nets import torch_dense

    d = _data(fixed, channels_first=True)
    torch.manual_seed(SEED)

    def conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:  # Conv2D: glorot_uniform kernel, zero bias, 'valid'
        layer = nn.Conv2d(c_in, c_out, k)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    flat = num_filters_2 * 5 * 5  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
    model = nn.Sequential(
        conv(1, num_filters_1, kernel_size_1), nn.ReLU(), nn.MaxPool2d(pooling_size_1),
        conv(num_filters_1, num_filters_2, kernel_size_2), nn.ReLU(), nn.MaxPool2d(pooling_size_2),
        nn.Flatten(),
        torch_dense(flat, hidden_layer_1_neurons), nn.ReLU(),
        torch_dense(hidden_layer_1_neurons, hidden_layer_2_neurons), nn.ReLU(),
        nn.Dropout(dropout_rate),
        torch_dense(hidden_layer_2_neurons, nclasses),
        nn.Softmax(dim=1),
    )

    def categorical_crossentropy(probs: Any, target: Any) -> Any:
        """Keras' categorical_crossentropy on probabilities (clipped to [1e-7, 1 - 1e-7])."""
        p = probs.clamp(1e-7, 1 - 1e-7)
        return -(target * torch.log(p)).sum(dim=1).mean()

    t = torch.from_numpy
    batches = [(t(a), t(b)) for a, b in d["batches"]]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": t(d["inputs"]),
            "loss_fn": categorical_crossentropy,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate, eps=1e-7),
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


buggy, fixed = versions(_torch, _keras)
