"""Models Genesis (MrGiovanni/ModelsGenesis, Zhou et al., MICCAI 2019), the README's recipe for fine-tuning the
pre-trained 3D U-Net on a target *segmentation* task (Keras, ``unet3d.py``): ``K.set_image_data_format(
"channels_first")``; ``unet_model_3d((1, 64, 64, 32), batch_normalization=True)`` -- Isensee's 3D U-Net, depth 4,
``n_base_filters=32``: per level two blocks Conv3D(3x3x3, same) + BatchNormalization(axis=1) + ReLU with
n*2**d and n*2**d*2 filters, MaxPooling3D(2) between levels, then UpSampling3D(2), concatenate(axis=1) with the
level's second block and two blocks with that block's width; the layer ``depth_13_relu`` (the last decoder block) is
taken, ``final_convolution = Conv3D(num_class, (1, 1, 1))(x)`` with ``num_class = 2`` (background, target),
``model.compile(optimizer="adam", loss=dice_coef_loss, metrics=[mean_iou, dice_coef])`` (``models.compile`` in the
README, a typo), ``model.fit(X, Y)`` on cubes (N, 1, 64, 64, 32) clipped to [-1000, 1000] HU and scaled to [0, 1],
one-hot masks (N, 2, 64, 64, 32).
``dice_coef`` is the global soft Dice of the repository (``keras/downstream_tasks/utils.py``): y_true and y_pred
flattened, ``(2 * sum(y_true * y_pred) + 1) / (sum(y_true) + sum(y_pred) + 1)``, loss = 1 - dice.

The fault (README.md, the segmentation example, from be0ea0b "Update README.md" (2019-09-29) to 2ccc2a39 =
8e1cdc1^):
    num_class, activate = 2, 'softmax'
    ...
    output = Activation(activate)(final_convolution)
Keras' softmax normalises over the last axis; with the channels_first model the output is (B, C, D, H, W), so the
"class probabilities" are normalised over W, the last spatial axis, not over the two classes: for every (class,
row, column) the 16 (here) voxels along W share a probability mass of 1. The per-voxel outputs no longer sum to one
over the classes, the background channel cannot be near 1 anywhere, the global Dice cannot exceed about
4 / (W + 2) (0.22 for W = 16, 0.12 for the README's W = 32), and argmax over the class axis gives a meaningless
mask. Nothing crashes and the loss goes down a little. PR #8 "a bug on softamx and K.set_image_data_format(
"channels_first")" (duducheng, commit 8e1cdc13b7aea0f38884924fec3a5888956ffca7, merged by the author as
16a0bc7, 2019-11-06, "the bug does exist when activating using 'softmax'. Many thanks."): ``num_class, activate =
2, keras.activations.softmax`` and ``output = activate(final_convolution, axis=1)`` -- softmax over the class axis.

Source: github.com/MrGiovanni/ModelsGenesis README.md (segmentation fine-tuning example) and unet3d.py
(``unet_model_3d``, ``create_convolution_block``, ``get_up_convolution``) at 16a0bc7 (= the merge of PR #8; the
README lines before it are 8e1cdc1^); ``dice_coef`` / ``dice_coef_loss`` from keras/downstream_tasks/utils.py
(12f7feb). Fix 8e1cdc13b7aea0f38884924fec3a5888956ffca7 (PR #8).
Fault label: output_activation (the output softmax normalises the wrong axis -- the last spatial axis of the
channels_first output instead of the class axis -- so the head's outputs are not per-voxel class probabilities).

Program lines kept: ``unet_model_3d`` as in unet3d.py (depth 4, pool 2, UpSampling3D (deconvolution=False),
conv blocks Conv3D 3x3x3 same + BatchNormalization(axis=1) + ReLU, the filter schedule n*2**d / n*2**d*2, the
decoder widths taken from the skip, concatenate on axis 1, channels_first), the README head (``depth_13_relu`` ->
Conv3D(2, 1x1x1) -> softmax on the last axis (buggy) / axis 1 (fixed)), global ``dice_coef_loss`` with smooth 1,
``optimizer="adam"`` (Keras Adam: lr 1e-3, epsilon 1e-7), Keras' default initialisers (glorot uniform, zero bias),
BatchNormalization defaults (momentum 0.99, epsilon 1e-3), train mode.
Ported: Keras 3, without the global ``K.set_image_data_format("channels_first")`` (the module changes no global
Keras setting): the model keeps the program's channels_first interface -- it takes (B, 1, R, C, D) cubes and
``final_convolution`` is the (B, 2, R, C, D) tensor the README's head acts on -- but its body runs channels_last
between two ``Permute`` layers (BatchNormalization / concatenate on the channel axis), the same computation, because
TensorFlow's channels_first 3D convolutions on CPU cost 3x as much (0.44 s against 0.15 s a step here); the 3D
U-Net's own sigmoid head (``n_labels=1``) that the README discards is not built. Widths and sizes shrunk for one CPU
thread: ``n_base_filters`` 32 -> 4 (level widths 4/8, 8/16, 16/32, 32/64 instead of 32/64 ... 256/512), cubes 64x64x32
-> 16x16x16 (W = 16 on the softmax axis), batches of 8 instead of ``fit``'s default 32 -- the full-width model on
32x32x16 cubes takes 6.5 s a step in torch on one thread, base 8 on 16^3 cubes 0.17 s; the shrunk one 0.07 s. The
pre-trained weights (``pretrained_weights/Genesis_Chest_CT.h5``, a download) are not loaded: both versions start
from the same random initialisation, i.e. the paper's learning-from-scratch baseline; the fault is in the head
added on top, which is trained from scratch in the README too. Torch twin: the same network as an ``nn.Module``
(NCDHW, ``nn.Conv3d`` with Keras' glorot-uniform / zero-bias init, ``BatchNorm3d(eps=1e-3, momentum=0.01)``, max-pool
and nearest upsampling by 2, ``torch.cat(dim=1)``), softmax with ``dim=-1`` (buggy, what Keras' default axis does to
this tensor) / ``dim=1`` (fixed), the same global Dice loss, ``torch.optim.Adam(lr=1e-3, eps=1e-7)``.
Data stand-in (no LUNA16 cubes): ``nodule_cubes(n)`` -- (n, 1, 16, 16, 16) float32 CT cubes as the README prepares
them ((HU + 1000) / 2000 after clipping to [-1000, 1000]): lung parenchyma around -850 HU with a 4-voxel block
texture and noise (~0.07), 1-3 vessels (tubes of radius 0.8-1.6 voxels, ~+40 HU, ~0.52) crossing the cube, and one
solid nodule (an ellipsoid of radius 2-4.5 voxels, -100..+60 HU, ~0.45-0.53) somewhere inside; the mask is the nodule,
one-hot (n, 2, 16, 16, 16) float32 [background, nodule] (nodule share ~3.5 % of the voxels). ``batches``: 4
consecutive batches of 8 (seed 0), ``batch`` the first, ``inputs`` 32 cubes (seed 1).

Measured (my own plain loops, /tmp/s40/h57b/work/measure.py; OMP_NUM_THREADS=1 on the shared 2-core machine;
the module's builds; 256 training cubes (seed 10) in shuffled batches of 8 = 32 steps an epoch, 64 held-out cubes
(seed 11) scored in eval mode: the global Dice loss, and the nodule Dice of the argmax-over-classes mask;
"class sum" = the mean over voxels of the sum of the two outputs over the class axis):
  torch, steps 0 / 16 / 32 / 64 / 128 / 192:
    buggy: held-out Dice loss 0.889 / 0.888 / 0.887 / 0.887 / 0.885 / 0.878 (train loss 0.889 at step 1, 0.871-0.879
      later); nodule Dice 0.06 / 0.11 / 0.09 / 0.09 / 0.08 / 0.09 with 54-81 % of the voxels called nodule; class
      sum 0.125 (= 2 / W) at every step.
    fixed: held-out Dice loss 0.499 / 0.406 / 0.371 / 0.268 / 0.130 / 0.082 (train loss 0.368 at step 1, 0.047 at
      192); nodule Dice 0.05 / 0.45 / 0.43 / 0.32 / 0.36 / 0.33 (0.8-1.3 % of the voxels called nodule against 3.5 %
      true: the global Dice is dominated by the background channel); class sum 1.000.
  Keras, train_on_batch, same steps:
    buggy: held-out Dice loss 0.889 / 0.888 / 0.887 / 0.887 / 0.884 / 0.879; nodule Dice 0.04 / 0.20 / 0.16 / 0.12
      / 0.13 / 0.13 (34-52 % of the voxels called nodule); class sum 0.125.
    fixed: held-out Dice loss 0.499 / 0.479 / 0.426 / 0.338 / 0.292 / 0.248 (train loss 0.640 at step 1, 0.179 at
      192); nodule Dice 0.04 / 0.00 / 0.00 / 0.38 / 0.69 / 0.61; class sum 1.000.
  One batch of 8 repeated, loss at steps 0 / 25 / 50 / 100 / 150: torch buggy 0.889, 0.875, 0.875, 0.875, 0.875
    (0.8753 is the ceiling the head allows on this batch: each (class, row, column) line of W = 16 voxels carries a
    mass of 1, so at most one unit per line can meet the target); fixed 0.365, 0.204, 0.153, 0.092, 0.058. Keras
    buggy 0.889, 0.875, 0.875, 0.875, 0.875; fixed 0.641, 0.415, 0.366, 0.289, 0.222.
  At initialisation (torch, the module's batch, train mode): loss 0.889 buggy vs 0.365 fixed, parameter-gradient
    norm 0.041 vs 0.547; every parameter gets a gradient in both versions; outputs in (0, 1) in both, but their sum
    over the class axis is 0.125 in the buggy version (1 over the last axis).
  Time per training step (batch 8, one thread, loaded machine): torch 0.06-0.09 s, Keras train_on_batch 0.14-0.15
    s (0.44 s with the body channels_first); builds: torch < 0.01 s, Keras 0.2 s (first build 0.8-1.4 s torch /
    4-5 s Keras with the imports).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:MrGiovanni/ModelsGenesis PR #8 (README.md segmentation fine-tuning example "
          "'num_class, activate = 2, 'softmax'' / 'output = Activation(activate)(final_convolution)' on the "
          "channels_first unet3d.py unet_model_3d @8e1cdc1^, dice_coef_loss from keras/downstream_tasks/utils.py; "
          "fix 8e1cdc13b7aea0f38884924fec3a5888956ffca7 'a bug on softamx and K.set_image_data_format("
          "\"channels_first\")': output = keras.activations.softmax(final_convolution, axis=1), merge 16a0bc7)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 2}), ("inputs_normalized", {})]

# README / unet3d.py settings (sizes shrunk, see Ported)
input_channels, input_rows, input_cols, input_deps = 1, 16, 16, 16  # README: 1, 64, 64, 32
num_class = 2
depth = 4
n_base_filters = 4  # unet3d.py default 32
batch_size = 8  # model.fit default 32
learning_rate = 1e-3  # optimizer="adam"
SEED = 0
N_BATCHES = 4
SMOOTH = 1.0


def nodule_cubes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for LUNA16 nodule-segmentation cubes: (n, 1, R, C, D) float32 CT in [0, 1] ((HU + 1000) / 2000 after
    clipping to [-1000, 1000]) and one-hot masks (n, 2, R, C, D) float32 [background, nodule]."""
    rng = np.random.default_rng(seed)
    shape = (input_rows, input_cols, input_deps)
    grid = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"), -1)
    xs = np.empty((n, 1) + shape, "float32")
    ys = np.zeros((n, 2) + shape, "float32")
    for i in range(n):
        # lung parenchyma: 4-voxel block texture around -850 HU
        tex = rng.normal(0, 1, tuple(s // 4 + 2 for s in shape))
        tex = np.kron(tex, np.ones((4, 4, 4)))[:shape[0], :shape[1], :shape[2]]
        hu = -850.0 + 40.0 * tex
        # vessels: tubes of ~+40 HU along random lines through the cube
        for _ in range(int(rng.integers(1, 4))):
            p0 = rng.uniform(0, np.array(shape))
            d = rng.normal(0, 1, 3)
            d /= np.linalg.norm(d)
            rel = grid - p0
            dist = np.linalg.norm(rel - (rel @ d)[..., None] * d, axis=-1)
            r = rng.uniform(0.8, 1.6)
            hu = np.where(dist < r, 40.0 + rng.normal(0, 30), hu)
        # one solid nodule: an ellipsoid of radius 2-4.5 voxels
        c = rng.uniform(4, np.array(shape) - 4)
        radii = rng.uniform(2.0, 4.5) * rng.uniform(0.8, 1.2, 3)
        inside = (((grid - c) / radii) ** 2).sum(-1) <= 1.0
        hu = np.where(inside, rng.uniform(-100, 60) + rng.normal(0, 25, shape), hu)
        hu = hu + rng.normal(0, 20, shape)
        xs[i, 0] = (np.clip(hu, -1000, 1000) + 1000) / 2000
        ys[i, 1] = inside
        ys[i, 0] = ~inside
    return xs, ys


@functools.lru_cache(maxsize=1)
def _data() -> tuple[tuple[tuple[np.ndarray, np.ndarray], ...], np.ndarray]:
    x, y = nodule_cubes(N_BATCHES * batch_size, seed=SEED)
    bs = tuple((x[k:k + batch_size], y[k:k + batch_size]) for k in range(0, len(x), batch_size))
    xi, _ = nodule_cubes(32, seed=1)
    return bs, xi


def dice_coef(y_true: Any, y_pred: Any, ops: Any) -> Any:
    """keras/downstream_tasks/utils.py dice_coef (smooth 1), written with the ops given (keras.ops or torch)."""
    y_true_f = ops.reshape(y_true, (-1,))
    y_pred_f = ops.reshape(y_pred, (-1,))
    intersection = ops.sum(y_true_f * y_pred_f)
    return (2. * intersection + SMOOTH) / (ops.sum(y_true_f) + ops.sum(y_pred_f) + SMOOTH)


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    def conv(cin: int, cout: int, k: int) -> nn.Conv3d:  # Keras Conv3D: glorot uniform kernel, zero bias
        layer = nn.Conv3d(cin, cout, k, padding=k // 2)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    def create_convolution_block(cin: int, n_filters: int) -> nn.Sequential:  # Conv3D + BN(axis=1) + ReLU
        return nn.Sequential(conv(cin, n_filters, 3), nn.BatchNorm3d(n_filters, eps=1e-3, momentum=0.01), nn.ReLU())

    class ModelsGenesisSegmentation(nn.Module):
        """unet_model_3d up to depth_13_relu + the README head: Conv3D(num_class, 1x1x1) and the softmax."""

        def __init__(self) -> None:
            super().__init__()
            self.down = nn.ModuleList()
            widths = []
            cin = input_channels
            for layer_depth in range(depth):
                n1 = n_base_filters * (2 ** layer_depth)
                self.down.append(nn.Sequential(create_convolution_block(cin, n1),
                                               create_convolution_block(n1, n1 * 2)))
                widths.append(n1 * 2)
                cin = n1 * 2
            self.up = nn.ModuleList()
            for layer_depth in range(depth - 2, -1, -1):
                w = widths[layer_depth]
                self.up.append(nn.Sequential(create_convolution_block(cin + w, w), create_convolution_block(w, w)))
                cin = w
            self.final_convolution = conv(cin, num_class, 1)

        def forward(self, x: Any) -> Any:
            levels = []
            for i, level in enumerate(self.down):
                x = level(x)
                if i < depth - 1:
                    levels.append(x)
                    x = F.max_pool3d(x, 2)
            for level in self.up:
                x = F.interpolate(x, scale_factor=2, mode="nearest")  # UpSampling3D(size=2)
                x = level(torch.cat([x, levels.pop()], dim=1))  # concatenate(axis=1)
            x = self.final_convolution(x)
            if fixed:  # 8e1cdc1: keras.activations.softmax(final_convolution, axis=1)
                return torch.softmax(x, dim=1)
            return torch.softmax(x, dim=-1)  # Activation('softmax'): the last axis of (B, C, D, H, W)

    class _TorchOps:
        reshape = staticmethod(torch.reshape)
        sum = staticmethod(torch.sum)

    def dice_coef_loss(y_pred: Any, y_true: Any) -> Any:  # (outputs, targets)
        return 1. - dice_coef(y_true, y_pred, _TorchOps)

    model = ModelsGenesisSegmentation()
    model.train()
    bs, xi = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in bs]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xi),
            "loss_fn": dice_coef_loss,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate, eps=1e-7)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    # The program's model is channels_first (K.set_image_data_format("channels_first")). TensorFlow runs
    # channels_first 3D convolutions on CPU 3x slower (transposes around each op), so the body below runs
    # channels_last between two Permute layers: the model takes (B, 1, R, C, D) and final_convolution is the
    # program's (B, num_class, R, C, D) tensor, on which the README's head acts.
    cl = "channels_last"

    def create_convolution_block(input_layer: Any, n_filters: int, layer_depth: int) -> Any:
        layer = layers.Conv3D(n_filters, (3, 3, 3), padding="same", strides=(1, 1, 1), data_format=cl,
                              name="depth_" + str(layer_depth) + "_conv")(input_layer)
        layer = layers.BatchNormalization(axis=-1, name="depth_" + str(layer_depth) + "_bn")(layer)  # axis=1 in NCDHW
        return layers.Activation("relu", name="depth_" + str(layer_depth) + "_relu")(layer)

    def unet_model_3d(input_shape: tuple[int, ...]) -> Any:  # unet3d.py, up to the last decoder block
        inputs = keras.Input(input_shape)
        current_layer = layers.Permute((2, 3, 4, 1))(inputs)  # NCDHW -> NDHWC
        levels = []
        num_layer = 0
        for layer_depth in range(depth):
            layer1 = create_convolution_block(current_layer, n_base_filters * (2 ** layer_depth), num_layer)
            num_layer += 1
            layer2 = create_convolution_block(layer1, n_base_filters * (2 ** layer_depth) * 2, num_layer)
            num_layer += 1
            if layer_depth < depth - 1:
                current_layer = layers.MaxPooling3D(pool_size=(2, 2, 2), data_format=cl)(layer2)
                levels.append([layer1, layer2, current_layer])
            else:
                current_layer = layer2
                levels.append([layer1, layer2])
        for layer_depth in range(depth - 2, -1, -1):
            up_convolution = layers.UpSampling3D(size=(2, 2, 2), data_format=cl)(current_layer)
            concat = layers.concatenate([up_convolution, levels[layer_depth][1]], axis=-1)  # axis=1 in NCDHW
            n = levels[layer_depth][1].shape[-1]
            current_layer = create_convolution_block(concat, n, num_layer)
            num_layer += 1
            current_layer = create_convolution_block(current_layer, n, num_layer)
            num_layer += 1
        return keras.Model(inputs, current_layer)

    def dice_coef_loss(y_true: Any, y_pred: Any) -> Any:
        return 1. - dice_coef(y_true, y_pred, ops)

    models_genesis = unet_model_3d((input_channels, input_rows, input_cols, input_deps))
    x = models_genesis.get_layer("depth_13_relu").output
    final_convolution = layers.Conv3D(num_class, (1, 1, 1), data_format=cl)(x)
    final_convolution = layers.Permute((4, 1, 2, 3))(final_convolution)  # NDHWC -> NCDHW, as in the program
    if fixed:  # 8e1cdc1
        activate = keras.activations.softmax
        output = activate(final_convolution, axis=1)
    else:  # README before PR #8
        activate = "softmax"
        output = layers.Activation(activate)(final_convolution)
    model = keras.Model(inputs=models_genesis.input, outputs=output)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=dice_coef_loss)
    bs, xi = _data()
    return {"model": model, "batch": bs[0], "batches": list(bs), "inputs": xi}


def buggy(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=False)
    if framework == "keras":
        return _keras(fixed=False)
    raise ValueError(framework)


def fixed(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=True)
    if framework == "keras":
        return _keras(fixed=True)
    raise ValueError(framework)
