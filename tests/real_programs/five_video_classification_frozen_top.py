"""five-video-classification-methods' frame classifier (train_cnn.py): an ImageNet InceptionV3 without
its top, a new GlobalAveragePooling2D -> Dense(1024, relu) -> Dense(len(data.classes), softmax) head,
first trained "top layers only" for 10 epochs. ``get_top_layer_model(model)`` is meant to freeze the
InceptionV3 layers, but it loops over *all* of ``model.layers`` — the new head included — and sets
``layer.trainable = False`` before compiling, so the compiled model has no trainable weight: the loss
stays where it started. Reporter: "none of layers will be trained because all layers of model have
been set 'trainable = False'"; author: "My goodness you're right!".

Source: github.com/harvitronix/five-video-classification-methods issue #19, fixed by PR #26 (merge
e22eb06d; commits 7653d633 "Fix bug where all layers are frozen while trying to train top layers" and
aefc4ec7 "Dont freeze the new dense layers"), program as in train_cnn.py at 7653d633^ (= f2688f0).
Program configuration: ``InceptionV3(weights='imagenet', include_top=False)``, head as above,
``Model(inputs=base_model.input, outputs=predictions)``; UCF101 frames through
``ImageDataGenerator(rescale=1./255, shear/flip/rotation/shift augmentation)``, target_size (299, 299),
batch_size 32, class_mode 'categorical' (one-hot over the 101 UCF101 classes); top-layer phase:
``compile(optimizer='rmsprop', loss='categorical_crossentropy')``, 10 epochs of 100 steps.
Stand-ins: the ImageNet InceptionV3 (a weights download, 21.8M parameters at 299x299) is replaced by a
small randomly initialised convolutional base with the same role and output (a Functional model:
[0, 1] -> [-1, 1] rescaling, three strided He-normal ReLU convolutions and a 1x1 convolution to a
2048-channel ReLU feature map, 0.9M parameters, seeded; frozen in both versions, as the program
intends for the base, and varied enough across images for the new head to fit a batch); the UCF101
frames by ``_data.cifar_like`` (uint8 32x32x3, 10 classes, 128 rows), rescaled by 1/255 as the
generator does (its random augmentations left out), labels one-hot over the program's 101 classes.
The head and the freezing/compiling lines are the program's.
Fault label: params_not_updated (every layer frozen, the new head too: no parameter is trained).
Fix (PR #26): freeze ``model.layers[:-2]`` only, leaving the two new Dense layers trainable.
Keras only: in torch, freezing every parameter makes ``loss.backward()`` (or an optimizer over the
trainable parameters) raise instead of training silently, so there is no like-for-like twin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "params_not_updated"
SOURCE = ("github:harvitronix/five-video-classification-methods issue #19, PR #26 "
          "(train_cnn.py@f2688f0, fixes 7653d633 + aefc4ec7)")
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

BATCH_SIZE = 32
NUM_CLASSES = 101  # len(data.classes): UCF101, DataSet(class_limit=None)


def _frames(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    imgs, labels = _data.cifar_like(n, seed=3)
    x = imgs.astype("float32") * (1. / 255)  # ImageDataGenerator(rescale=1./255)
    return x, _data.one_hot(labels, NUM_CLASSES)


def _base_model() -> Any:
    """Stand-in for ``InceptionV3(weights='imagenet', include_top=False)``: a Functional conv base
    (fixed seed, He-normal filters) ending in a 2048-channel ReLU feature map."""
    import keras
    from keras import layers

    def he(seed: int) -> Any:
        return keras.initializers.HeNormal(seed=seed)

    inp = keras.Input((32, 32, 3))
    h = layers.Rescaling(2.0, offset=-1.0)(inp)
    h = layers.Conv2D(64, 5, strides=2, padding="same", activation="relu", kernel_initializer=he(1))(h)
    h = layers.Conv2D(128, 3, strides=2, padding="same", activation="relu", kernel_initializer=he(2))(h)
    h = layers.Conv2D(256, 3, strides=2, padding="same", activation="relu", kernel_initializer=he(3))(h)
    out = layers.Conv2D(2048, 1, activation="relu", kernel_initializer=he(4))(h)
    return keras.Model(inp, out, name="inception_v3_standin")


def _build(fixed_version: bool) -> dict[str, Any]:
    from keras.layers import Dense, GlobalAveragePooling2D
    from keras.models import Model

    # program lines (train_cnn.py get_model)
    # create the base pre-trained model
    base_model = _base_model()

    # add a global spatial average pooling layer
    x = base_model.output
    x = GlobalAveragePooling2D()(x)
    # let's add a fully-connected layer
    x = Dense(1024, activation='relu')(x)
    # and a logistic layer -- let's say we have 2 classes
    predictions = Dense(NUM_CLASSES, activation='softmax')(x)

    # this is the model we will train
    model = Model(inputs=base_model.input, outputs=predictions)

    if fixed_version:
        # freeze_all_but_top(model) after PR #26
        for layer in model.layers[:-2]:
            layer.trainable = False
        model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    else:
        # get_top_layer_model(model): the argument is the full model, not the base
        for layer in model.layers:
            layer.trainable = False
        # compile the model (should be done *after* setting layers to non-trainable)
        model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])

    xs, ys = _frames()
    return {"model": model, "batch": (xs[:BATCH_SIZE], ys[:BATCH_SIZE]),
            "batches": _data.batches(xs, ys, BATCH_SIZE), "inputs": xs[:BATCH_SIZE]}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(fixed_version=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _build(fixed_version=True)
