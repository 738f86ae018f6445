"""yingkaisha/keras-unet-collection (a Keras collection of U-Net variants, installed as ``keras-unet-collection``),
``keras_unet_collection/_model_unet_3plus_2d.py`` ``unet_3plus_2d``: UNET 3+ (full-scale skip connections) with
an ``output_activation`` argument (default ``'Sigmoid'``) and an optional deep supervision. The repository's own
example ``examples/segmentation_unet-three-plus_oxford-iiit.ipynb`` trains a UNET 3+ on Oxford-IIIT Pets: 128 x 128
RGB inputs ``input_array/255.``, trimaps {1, 2, 3} turned into three one-hot channels by
``keras.utils.to_categorical(target_array-1)``, ``filter_num_down = [32, 64, 128, 256, 512]``, skip 32, aggregate 160,
batch norm, max pooling, bilinear unpooling, a sigmoid head on 3 labels, ``keras.losses.categorical_crossentropy``,
``keras.optimizers.Adam(lr=1e-4)``, ``train_on_batch`` on batches of 32.

The fault (in the library): with ``deep_supervision=False`` ``unet_3plus_2d`` built its final output layer with
``CONV_output(X_decoder[0], n_labels, kernel_size=3, activation=activation, ...)``, i.e. with the HIDDEN activation
(``'ReLU'``) instead of ``output_activation``; the ``'Sigmoid'`` the user asked for was silently dropped (the deep
supervision branch used ``output_activation`` correctly). The model's output is then a ReLU of a convolution:
unbounded above and exactly 0 wherever the pre-activation is negative. ``categorical_crossentropy`` on
probabilities divides the output by its sum over the label axis before the log; a pixel whose three ReLU outputs
are all 0 gives 0 / 0 = NaN, so the loss is NaN from the very first batch and the first update writes NaN into
every weight. (Even where it is finite, a ReLU head is not a per-label probability: the loss only sees the ratios,
units that go negative get no gradient, and the values the user reads are not in [0, 1].)
Reported in issue #3 ("Parameter 'output_activation' ignored when 'deep_supervision' is False": the user's
``models.unet_3plus_2d(..., activation='ReLU', output_activation='Sigmoid', batch_norm=True, pool='max',
unpool=False, deep_supervision=False)`` ended in a ``ReLU`` layer, "I'd rather expected a 'sigmoid' activation");
the maintainer: "The problem is identified, I will push a fix shortly", released the next day.
Source: github.com/yingkaisha/keras-unet-collection ``keras_unet_collection/_model_unet_3plus_2d.py`` at
3a1a0bfa5086d2ca9b8e9ed1f2afeb374981472c^ (v0.0.17) with ``layer_utils.py`` / ``_model_unet_2d.py`` of that commit,
and the training of ``examples/segmentation_unet-three-plus_oxford-iiit.ipynb`` there; issue #3; fixed by
3a1a0bfa5086d2ca9b8e9ed1f2afeb374981472c "bug fix on unet 3+": ``activation=activation`` ->
``activation=output_activation`` in the ``deep_supervision=False`` branch.
Fault label: output_activation (the final layer gets ReLU instead of the requested sigmoid; with the example's
probability cross-entropy the 0 / 0 of all-zero pixels makes the loss NaN).

Program lines kept: ``unet_3plus_2d`` / ``unet_3plus_2d_base`` / ``CONV_stack`` / ``UNET_left`` / ``CONV_output``
as written for the arguments used (no backbone, ``pool=True``, ``unpool=True``, ``batch_norm=True``; the
encode / decode helpers reduced to their max-pool / bilinear branches), the buggy and fixed ``CONV_output`` call
verbatim, ``'auto'`` skip / aggregate widths (``filter_num_down[0]`` and ``depth * filter_num_down[0]``, which is
what the example's 32 / 160 are), the example's ``input_data_process`` / ``target_data_process``, the loss
``keras.losses.categorical_crossentropy``, Adam 1e-4, batch 32. Only the final activation differs between buggy
and fixed.
Combined / replaced: the issue gives no training code and the repository's UNET 3+ example builds its own head with
deep supervision, so the training here is the example's (data processing, loss, optimiser, batch size) around
``models.unet_3plus_2d(..., output_activation='Sigmoid', deep_supervision=False)``, the configuration of the issue
(the example's Classification-guided Module, which is not part of ``unet_3plus_2d``, is left out). Keras 2 -> Keras 3
(``Adam(learning_rate=...)``, the activation names looked up in a dict instead of ``eval``, ``Model(IN, OUT)``
instead of ``Model([IN,], [OUT,])`` so that Keras 3 returns one tensor as Keras 2 did).
Shrunk (CPU budget): input 32 x 32 instead of 128 x 128 and ``filter_num_down = [8, 16, 32, 64]`` (depth 4) instead
of ``[32, 64, 128, 256, 512]`` (so skip 8, aggregate 32). Measured on this machine, one thread, batch 32: the
example's size ~64 s a step, 64 x 64 with [8, ..., 128] ~1.8 s, the module's ~0.28 s.
Data stand-in (no Oxford-IIIT download): seeded synthetic "pets": each 32 x 32 RGB image (0..255, rounded, then /255)
holds one elliptical blob of a random colour with a sinusoidal texture on a background of another colour with the
opposite texture, plus N(0, 12) noise; the trimap is 1 inside the blob, 3 on a band of +-1 pixel about its outline
(Oxford's "not classified" border) and 2 elsewhere; one-hot targets (n, 32, 32, 3) float32, class shares pet 0.19 /
surrounding 0.69 / border 0.12. ``batches``: 20 batches of 32; ``batch``: the first; ``inputs``: 128 held-out images.

Measured (my own plain loop, /tmp/s60/p/rb/measure.py and measure2.py: the module's builds, ``train_on_batch`` over
its 20 batches cycled, 200 steps, SEED 0, OMP_NUM_THREADS=1):
  at initialisation: buggy outputs in [0, 0.0086] with 10.9 % of the held-out pixels (6.5 % of the first batch in
    training mode) having all three outputs 0; fixed outputs in [0.498, 0.502].
  buggy: the loss is NaN at step 0 and at every step after (the first update already makes the weights NaN), all
    predictions NaN afterwards.
  fixed: loss 1.162 at step 0; means of 20-step blocks 0.934 0.687 0.590 0.528 0.477 0.432 0.392 0.358 0.329 0.304;
    held-out pixel accuracy (batch statistics) 0.818 after 100 steps and 0.857 after 200 (majority class 0.696),
    pet-pixel recall 0.76 / 0.84; with the moving batch-norm statistics (``predict``) the accuracy is still the
    majority share 0.696 after 200 steps (the example trains 10 x 100 steps at full size).
  Builds are deterministic (same outputs and first loss on two builds); build ~3 s with the TensorFlow import.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:yingkaisha/keras-unet-collection issue #3 'Parameter 'output_activation' ignored when "
          "'deep_supervision' is False.' (keras_unet_collection/_model_unet_3plus_2d.py unet_3plus_2d "
          "@3a1a0bfa5086d2ca9b8e9ed1f2afeb374981472c^ = v0.0.17 'CONV_output(X_decoder[0], n_labels, kernel_size=3, "
          "activation=activation, ...)'; training as in examples/segmentation_unet-three-plus_oxford-iiit.ipynb at the "
          "same commit); fix 3a1a0bfa5086d2ca9b8e9ed1f2afeb374981472c 'bug fix on unet 3+': "
          "activation=output_activation")
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "sigmoid"}),
          ("gradients_flow", {})]

# examples/segmentation_unet-three-plus_oxford-iiit.ipynb (shrunk, see the docstring)
SIZE = 32  # program: 128
FILTER_NUM_DOWN = [8, 16, 32, 64]  # program: [32, 64, 128, 256, 512]
N_LABELS = 3
N_SAMPLE = 32  # batch size
LR = 1e-4
# stand-in
N_BATCHES = 20
N_INPUTS = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data
@functools.lru_cache(maxsize=1)
def _raw(n: int = N_BATCHES * N_SAMPLE + N_INPUTS) -> tuple[np.ndarray, np.ndarray]:
    """Pet-like RGB images (n, SIZE, SIZE, 3) in 0..255 and trimaps (n, SIZE, SIZE, 1) in {1, 2, 3}: one textured
    elliptical 'pet' of its own colour on a textured background of another; trimap 1 = pet, 2 = surrounding,
    3 = a band about the pet's outline (as Oxford-IIIT's 'not classified' border)."""
    r = np.random.default_rng(SEED)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float64") + 0.5
    imgs = np.empty((n, SIZE, SIZE, 3), "float64")
    tri = np.empty((n, SIZE, SIZE, 1), "float64")
    for i in range(n):
        cy, cx = r.uniform(0.3, 0.7, 2) * SIZE
        ay, ax = r.uniform(0.2, 0.36, 2) * SIZE
        th = r.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(th) + dy * np.sin(th)) / ax
        v = (-dx * np.sin(th) + dy * np.cos(th)) / ay
        d = np.sqrt(u ** 2 + v ** 2) * min(ax, ay)  # ~ distance in pixels from the centre, scaled to the short axis
        rim = min(ax, ay)
        t = np.full((SIZE, SIZE), 2.0)
        t[d < rim - 1.0] = 1.0
        t[np.abs(d - rim) <= 1.0] = 3.0
        bg = r.uniform(40, 200, 3)
        fg = r.uniform(40, 200, 3)
        while np.abs(fg - bg).sum() < 120:
            fg = r.uniform(40, 200, 3)
        wave = np.sin(xx * r.uniform(0.3, 1.2) + yy * r.uniform(0.3, 1.2) + r.uniform(0, 6.3))[..., None]
        img = np.where((d < rim)[..., None], fg + 25 * wave, bg - 25 * wave)
        imgs[i] = img + r.normal(0, 12, img.shape)
        tri[i, ..., 0] = t
    return np.clip(imgs, 0, 255).round(), tri


def input_data_process(input_array: np.ndarray) -> np.ndarray:
    '''converting pixel vales to [0, 1]'''
    return input_array/255.


def target_data_process(target_array: np.ndarray) -> np.ndarray:
    '''Converting tri-mask of {1, 2, 3} to three categories.'''
    import keras

    return keras.utils.to_categorical(target_array-1)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    x, t = _raw()
    y = target_data_process(t).reshape(len(t), SIZE, SIZE, N_LABELS)  # (n, S, S, 1, 3) -> (n, S, S, 3)
    return input_data_process(x).astype("float32"), y.astype("float32")


# ----------------------------------------------------------------------------------------------------------- model
def _unet_3plus_2d(fixed: bool) -> Any:
    """keras_unet_collection.models.unet_3plus_2d (v0.0.17) with the layer helpers it uses (layer_utils.CONV_stack,
    encode_layer, decode_layer, CONV_output; _model_unet_2d.UNET_left), for the arguments used here (no backbone,
    pool=True, unpool=True, batch_norm=True, deep_supervision=False); Keras 3 layers."""
    from keras.layers import (Activation, BatchNormalization, Conv2D, Input, MaxPooling2D, ReLU, UpSampling2D,
                              concatenate)
    from keras.models import Model

    layers = {"ReLU": ReLU}

    def CONV_stack(X, channel, kernel_size=3, stack_num=2, dilation_rate=1, activation='ReLU', batch_norm=False,
                   name='conv_stack'):
        bias_flag = not batch_norm
        for i in range(stack_num):
            X = Conv2D(channel, kernel_size, padding='same', use_bias=bias_flag,
                       dilation_rate=dilation_rate, name='{}_{}'.format(name, i))(X)
            if batch_norm:
                X = BatchNormalization(axis=3, name='{}_{}_bn'.format(name, i))(X)
            activation_func = layers[activation]
            X = activation_func(name='{}_{}_activation'.format(name, i))(X)
        return X

    def encode_layer(X, channel, pool_size, pool, name='encode'):  # pool=True: max-pooling
        return MaxPooling2D(pool_size=(pool_size, pool_size), name='{}_maxpool'.format(name))(X)

    def decode_layer(X, channel, pool_size, unpool, name='decode'):  # unpool=True: bilinear upsampling
        return UpSampling2D(size=(pool_size, pool_size), interpolation='bilinear', name='{}_unpool'.format(name))(X)

    def UNET_left(X, channel, kernel_size=3, stack_num=2, activation='ReLU', pool=True, batch_norm=False,
                  name='left0'):
        pool_size = 2
        X = encode_layer(X, channel, pool_size, pool, name='{}_encode'.format(name))
        X = CONV_stack(X, channel, kernel_size, stack_num=stack_num, activation=activation,
                       batch_norm=batch_norm, name='{}_conv'.format(name))
        return X

    def CONV_output(X, n_labels, kernel_size=1, activation='Softmax', name='conv_output'):
        X = Conv2D(n_labels, kernel_size, padding='same', use_bias=True, name=name)(X)
        if activation:
            if activation == 'Sigmoid':
                X = Activation('sigmoid', name='{}_activation'.format(name))(X)
            else:
                activation_func = layers[activation]
                X = activation_func(name='{}_activation'.format(name))(X)
        return X

    def unet_3plus_2d_base(input_tensor, filter_num_down, filter_num_skip, filter_num_aggregate, stack_num_down=2,
                           stack_num_up=1, activation='ReLU', batch_norm=False, pool=True, unpool=True,
                           name='unet3plus'):
        X_encoder = []
        X_decoder = []
        X = input_tensor
        X = CONV_stack(X, filter_num_down[0], kernel_size=3, stack_num=stack_num_down,
                       activation=activation, batch_norm=batch_norm, name='{}_down0'.format(name))
        X_encoder.append(X)
        for i, f in enumerate(filter_num_down[1:]):
            X = UNET_left(X, f, kernel_size=3, stack_num=stack_num_down, activation=activation,
                          pool=pool, batch_norm=batch_norm, name='{}_down{}'.format(name, i+1))
            X_encoder.append(X)
        X_decoder.append(X_encoder[-1])
        X_encoder = X_encoder[::-1]
        depth_decode = len(X_encoder)-1
        for i in range(depth_decode):
            f = filter_num_skip[i]
            X_fscale = []
            for lev in range(depth_decode):
                pool_scale = lev-i-1
                if pool_scale < 0:
                    pool_size = 2**(-1*pool_scale)
                    X = decode_layer(X_decoder[lev], f, pool_size, unpool, name='{}_up_{}_en{}'.format(name, i, lev))
                elif pool_scale == 0:
                    X = X_encoder[lev]
                else:
                    pool_size = 2**(pool_scale)
                    X = encode_layer(X_encoder[lev], f, pool_size, pool, name='{}_down_{}_en{}'.format(name, i, lev))
                X = CONV_stack(X, f, kernel_size=3, stack_num=1,
                               activation=activation, batch_norm=batch_norm,
                               name='{}_down_from{}_to{}'.format(name, i, lev))
                X_fscale.append(X)
            X = concatenate(X_fscale, axis=-1, name='{}_concat_{}'.format(name, i))
            X = CONV_stack(X, filter_num_aggregate, kernel_size=3, stack_num=stack_num_up,
                           activation=activation, batch_norm=True, name='{}_fusion_conv_{}'.format(name, i))
            X_decoder.append(X)
        return X_decoder

    def unet_3plus_2d(input_size, n_labels, filter_num_down, filter_num_skip='auto', filter_num_aggregate='auto',
                      stack_num_down=2, stack_num_up=1, activation='ReLU', output_activation='Sigmoid',
                      batch_norm=False, pool=True, unpool=True, deep_supervision=False, name='unet3plus'):
        depth_ = len(filter_num_down)
        if filter_num_skip == 'auto':
            filter_num_skip = [filter_num_down[0] for num in range(depth_-1)]
        if filter_num_aggregate == 'auto':
            filter_num_aggregate = int(depth_*filter_num_down[0])
        IN = Input(input_size)
        X_decoder = unet_3plus_2d_base(IN, filter_num_down, filter_num_skip, filter_num_aggregate,
                                       stack_num_down=stack_num_down, stack_num_up=stack_num_up,
                                       activation=activation, batch_norm=batch_norm, pool=pool, unpool=unpool,
                                       name=name)
        X_decoder = X_decoder[::-1]
        if fixed:  # 3a1a0bf 'bug fix on unet 3+'
            OUT = CONV_output(X_decoder[0], n_labels, kernel_size=3,
                              activation=output_activation, name='{}_output_final'.format(name))
        else:  # v0.0.17, deep_supervision=False branch
            OUT = CONV_output(X_decoder[0], n_labels, kernel_size=3,
                              activation=activation, name='{}_output_final'.format(name))
        model = Model(IN, OUT)  # program: Model([IN,], [OUT,]); Keras 3 would return a one-element list
        return model

    # the example's configuration (filter_num_skip = [32] * 4 and filter_num_aggregate = 160 there = 'auto')
    return unet_3plus_2d((SIZE, SIZE, 3), n_labels=N_LABELS, filter_num_down=FILTER_NUM_DOWN,
                         filter_num_skip='auto', filter_num_aggregate='auto', stack_num_down=2, stack_num_up=1,
                         activation='ReLU', output_activation='Sigmoid', batch_norm=True, pool=True, unpool=True,
                         deep_supervision=False, name='unet3plus')


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    unet3plus = _unet_3plus_2d(fixed)
    unet3plus.compile(loss=keras.losses.categorical_crossentropy,
                      optimizer=keras.optimizers.Adam(learning_rate=LR))
    x, y = _data()
    n = N_BATCHES * N_SAMPLE
    bs = [(x[i:i + N_SAMPLE], y[i:i + N_SAMPLE]) for i in range(0, n, N_SAMPLE)]
    return {"model": unet3plus, "batch": bs[0], "batches": bs, "inputs": x[n:]}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(fixed=True)
