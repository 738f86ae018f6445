"""jakeret/tf_unet (a TensorFlow 1 U-Net package), its toy problem ``scripts/launcher.py``: a 3-class segmentation
of noisy synthetic images (``image_gen.RgbDataProvider(nx, ny, cnt=20)``: up to 20 grey discs and 10 grey squares
of random brightness on a flat background, Gaussian noise sigma 20, min-max normalised, turned into RGB by
``to_rgb``; labels one-hot background / circle / rectangle, about 84 % / 14 % / 2.5 % of the pixels) by
``unet.Unet(channels=3, n_class=3, layers=3, features_root=16, class_weights=weights)`` with
``weights = [1.2, 8.3,  40.4] #85.5% bkg,  12% circles, 2.5% rectangles``, trained by
``unet.Trainer(net, optimizer="momentum", opt_kwargs=dict(momentum=0.2))`` (``MomentumOptimizer`` with the
Trainer's ``learning_rate=0.2`` decayed by 0.95 every ``training_iters=20`` steps, staircase), batch size 1
(``Trainer(batch_size=1)``), dropout keep probability 0.75, on a freshly generated image at every step.
``create_conv_net``: VALID 3x3 convolutions, each followed by ``tf.nn.dropout`` *before* its bias and ReLU, two per
level, 2x2 max-pool down (16, 32, 64 features), 2x2 stride-2 ``conv2d_transpose`` + bias + ReLU up, centre-crop
and concatenate the skip, two 3x3 convolutions, and a 1x1 output convolution to ``n_class`` maps followed by
a ReLU (``output_map = tf.nn.relu(conv + bias)``, kept: it is the program's). Kernels
``tf.truncated_normal(stddev=sqrt(2 / (3*3*features)))``, biases ``tf.constant(0.1)``; ``add_regularizers=True``
adds ``0.001 * sum(tf.nn.l2_loss(v))`` over the 3x3 kernels and their biases (``self.variables``: not the
transposed-convolution or output weights).

The fault is in ``Unet.__init__``'s weighted loss: the class weights multiply the network's outputs before the
softmax instead of weighting each pixel's cross-entropy,
    ``weighted_logits = tf.mul(tf.reshape(logits, [-1, n_class]), class_weights)``
    ``loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(weighted_logits, tf.reshape(self.y, [-1, n_class])))``
With weights 1.2 / 8.3 / 40.4 the loss sees the rectangle map 40 times magnified: the first loss is 4.7 (torch
init here) where an uninformed 3-class prediction costs ln 3 = 1.1, the gradient is 17 times larger (50 times on
the rectangle output kernel), and with momentum SGD at lr 0.2 the first one or two updates throw the output
maps far off (loss 6-20 at step 2 at 100x100; ~1000 at 188x188, then NaN); the ReLU output maps of circles and
rectangles die (stuck at 0) and the network predicts background everywhere, with a loss that looks converged.
Fixed (Felix Grün, issue #8 "Weights before softmax error in the weighted loss
function"):
    ``weight_map = tf.reduce_sum(tf.mul(labels, class_weights), axis=1)``
    ``loss_map = tf.nn.softmax_cross_entropy_with_logits(tf.reshape(logits, [-1, n_class]), labels)``
    ``loss = tf.reduce_mean(tf.mul(loss_map, weight_map))``

Source: github.com/jakeret/tf_unet issue #8 (2016-12-05). The ``weighted_logits`` lines came in with aac3115
"class weights, flexible optimizers"; Felix Grün's fix 5e039083f5736d9a8f7e060a94e9d3079598acbd "Fixed weighted
loss" (2016-12-06) is followed on branch tf012 by c54b0b4 (the circles-and-rectangles toy problem with the
class weights above in ``scripts/launcher.py``), and then 6abab74f85bf850de55fa9e39ece64b8a9eeff58 "removed
deprecated api" put the ``weighted_logits`` lines back while the launcher still passed the weights: the buggy
program is ``tf_unet/unet.py``, ``layers.py``, ``image_gen.py``, ``image_util.py`` and ``scripts/launcher.py`` at
6abab74 (merged to master in PR #12, 42849c5). Master kept the buggy loss in the refactored ``_get_cost``
(144641a) until 31516c4984224611174203a9822e102f94def3ac "using FelixGruen weighted cross entropy" restored the
fix (the fixed formula above is 5e03908's and 31516c4's).

Program lines kept: the U-Net of ``create_conv_net`` (layers=3, features_root=16, filter 3, pool 2, VALID
convolutions, dropout on every 3x3 convolution before its bias, ReLU after the transposed convolutions,
centre crop-and-concat, ReLU on the 1x1 output), the truncated-normal kernels with their stddevs and the 0.1
biases, the buggy and fixed weighted losses, the L2 penalty 0.001 * l2_loss on the 3x3 kernels and biases,
momentum 0.2 with lr 0.2 * 0.95**(step // 20), batch size 1, keep probability 0.75, the labels centre-cropped
to the output (``util.crop_to_shape``), and the toy data generator itself (``create_image_and_label``,
``to_rgb``, ``BaseDataProvider._process_data``; seeded ``np.random.RandomState`` instead of the global one).
Ported: the images are 100x100 instead of 572x572 (output 60x60 instead of 532x532) and the generator's
lengths are scaled with them (radii 1..8 instead of 5..49, border 16 instead of 92; the count of 20 shapes is
kept, so the class fractions stay 84 / 14 / 2.5 %): a 188x188 step already costs 0.15-0.35 s on one CPU
thread (measured in torch), a 572x572 one about nine times that. Sessions, summaries, checkpoints and the
running gradient norms are dropped.
Torch: conv kernels without bias, ``nn.Dropout(0.25)``, then an explicit bias parameter; NCHW inputs and
one-hot NCHW targets; the L2 penalty is SGD's ``weight_decay=0.001`` (the gradient of 0.001 * sum(w**2)/2) on
the 3x3 kernels and their biases, which the ``optimizer`` factory recognises by shape (3x3 kernels; those
biases are stored as (C, 1, 1), the transposed-convolution and output biases as (C,)); the factory's SGD
subclass applies the staircase decay itself at each ``step()``. Keras: ``Conv2D(use_bias=False)`` ->
``Dropout(0.25)`` -> a bias layer, ``Conv2DTranspose``, ``Cropping2D`` + ``Concatenate``, ``L2(0.0005)``
(= 0.001 * l2_loss) as kernel and bias regularisers, ``SGD(ExponentialDecay(0.2, 20, 0.95, staircase=True),
momentum=0.2)``, compiled with the program's loss on the flattened maps.
Data: the program's own generator, no download; 6 batches of one image, 128 inputs for the prediction checks.

Fault label: exploding_gradients|dead_units|class_collapse (the 40x-scaled rectangle logit gives a gradient
17 times larger at initialisation; the first one or two updates kill the ReLU output maps of the minority
classes and the network predicts background only, for good).
Fix: weight each pixel's cross-entropy by the weight of its class (5e03908 / 31516c4).

Symptom, my own plain loop (OMP_NUM_THREADS=1, a freshly generated image per step as in ``Trainer.train``, data
stream ``RandomState(100 + seed)``; "loss" is the step's training loss before its update, torch without and
Keras with the L2 term; "held-out" is 4 images of ``RandomState(123)`` with dropout off: unweighted CE, pixel
accuracy of the argmax as ``store_prediction``/``error_rate`` use it; 69.8 % of those pixels are background).
Torch (25-45 ms a step): at initialisation the buggy loss is 4.75 on ``batch`` with a gradient norm of 51.0
(the rectangle output kernel's 23.7) against the fixed 5.38 and 2.95 (0.46). Buggy, seed 0: loss 4.68 at
step 1, 12.78 at step 2 (seeds 1-3: 20.1, 5.9, 13.6), the rectangle map is 0 on every held-out pixel after
step 1 and the circle map after step 2 in all four seeds; from then on every pixel is predicted background
(held-out accuracy 0.698, CE 0.83) and the training loss sits at 0.70-0.87 up to step 401, below ln 3, so
it looks converged. Fixed: loss 4.56 at step 1, the circle map stays alive (the background map's ReLU is dead
after step 1 here too: the program's output ReLU), every pixel is predicted circle at first, then background
is separated by ties at zero: held-out accuracy 0.905 at step 101 (seed 1), 0.905 at 201 (seed 2), 0.862 /
0.881 at 201 / 301 (seed 3), unstably (seed 1 is back to all-circles, 0.284, at step 401); seed 0 lost all
three maps by step 21, as the buggy runs do. Rectangles are not found within 400 steps by either.
Keras (31-46 ms a step): buggy loss 2.006 at initialisation (L2 term 0.183), all three output maps exactly 0
after the first update (held-out CE ln 3 = 1.100, constant predictions), loss 1.26-1.30 from step 2 to 201;
fixed 5.268 at initialisation, circle map alive (max output ~1 at steps 21-201, one all-zero dip at steps 3-5),
loss 3.5-5.3, held-out all-circles (0.284) at step 201.
At 188x188 (my first prototype of the same torch model, loss and optimizer, the generator scaled to 188, one
seed) the buggy run reached outputs of 1e13 at step 3 and NaN by
step 6, while the fixed one reached 0.94 held-out accuracy at steps 200-300.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "exploding_gradients|dead_units|class_collapse"
SOURCE = ("github:jakeret/tf_unet issue #8 (tf_unet/unet.py Unet.__init__ weighted_logits, layers.py, image_gen.py "
          "RgbDataProvider, image_util.py, scripts/launcher.py class_weights=[1.2, 8.3, 40.4] "
          "@6abab74f85bf850de55fa9e39ece64b8a9eeff58, merged in PR #12; fix 5e039083f5736d9a8f7e060a94e9d3079598acbd "
          "'Fixed weighted loss', re-applied on master by 31516c4984224611174203a9822e102f94def3ac 'using FelixGruen "
          "weighted cross entropy')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("output_range", {"kind": "logits"}), ("inputs_normalized", {})]

SCALE = 100 / 572  # port: 100x100 images instead of nx = ny = 572
nx = ny = 100
cnt = 20  # RgbDataProvider(nx, ny, cnt=20)
r_min, r_max, border = 1, 9, 16  # create_image_and_label: 5, 50, 92 scaled by SCALE
sigma = 20
channels, n_class = 3, 3
layers, features_root, filter_size, pool_size = 3, 16, 3, 2
class_weights = [1.2, 8.3, 40.4]  # 85.5% bkg, 12% circles, 2.5% rectangles
keep_prob = 0.75  # dropout = 0.75 (probability to keep units)
reg_constant = 0.001  # add_regularizers=True
learning_rate, decay_rate, training_iters, momentum = 0.2, 0.95, 20, 0.2
batch_size = 1  # Trainer(batch_size=1)
n_batches = 6
n_inputs = 128
out_size = 60  # 100 -> 96 -> 48 -> 44 -> 22 -> 18 -> 36 -> 32 -> 64 -> 60
offset = (nx - out_size) // 2


def create_image_and_label(rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """image_gen.create_image_and_label (program lines; lengths scaled, seeded RandomState)."""
    image = np.ones((nx, ny, 1))
    label = np.zeros((nx, ny, 3), dtype=bool)
    mask = np.zeros((nx, ny), dtype=bool)
    for _ in range(cnt):
        a = rs.randint(border, nx - border)
        b = rs.randint(border, ny - border)
        r = rs.randint(r_min, r_max)
        h = rs.randint(1, 255)
        y, x = np.ogrid[-a:nx - a, -b:ny - b]
        m = x * x + y * y <= r * r
        mask = np.logical_or(mask, m)
        image[m] = h
    label[mask, 1] = 1
    mask = np.zeros((nx, ny), dtype=bool)
    for _ in range(cnt // 2):
        a = rs.randint(nx)
        b = rs.randint(ny)
        r = rs.randint(r_min, r_max)
        h = rs.randint(1, 255)
        m = np.zeros((nx, ny), dtype=bool)
        m[a:a + r, b:b + r] = True
        mask = np.logical_or(mask, m)
        image[m] = h
    label[mask, 2] = 1
    label[..., 0] = ~(np.logical_or(label[..., 1], label[..., 2]))
    image += rs.normal(scale=sigma, size=image.shape)
    image -= np.amin(image)
    image /= np.amax(image)
    return image, label


def to_rgb(img: np.ndarray) -> np.ndarray:
    img = img.reshape(img.shape[0], img.shape[1])
    img[np.isnan(img)] = 0
    img -= np.amin(img)
    img /= np.amax(img)
    blue = np.clip(4 * (0.75 - img), 0, 1)
    red = np.clip(4 * (img - 0.25), 0, 1)
    green = np.clip(44 * np.fabs(img - 0.5) - 1., 0, 1)
    return np.stack((red, green, blue), axis=2)


def data_provider(n: int, rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """RgbDataProvider(n): (n, 100, 100, 3) float32 in [0, 1] and one-hot labels cropped to (n, 60, 60, 3)."""
    xs, ys = [], []
    for _ in range(n):
        data, label = create_image_and_label(rs)
        data = to_rgb(data)
        data = np.fabs(data)  # BaseDataProvider._process_data (a_min = -inf, a_max = inf)
        data -= np.amin(data)
        data /= np.amax(data)
        xs.append(data)
        ys.append(label[offset:-offset, offset:-offset])  # util.crop_to_shape(batch_y, pred_shape)
    return np.stack(xs).astype("float32"), np.stack(ys).astype("float32")


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    rs = np.random.RandomState(0)
    batches = [data_provider(batch_size, rs) for _ in range(n_batches)]
    xi, _ = data_provider(n_inputs, np.random.RandomState(1))
    return batches, xi


def _stddev(features: int) -> float:
    return float(np.sqrt(2 / (filter_size ** 2 * features)))


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)

    def trunc_normal(shape: tuple[int, ...], std: float) -> nn.Parameter:  # tf.truncated_normal
        return nn.Parameter(nn.init.trunc_normal_(torch.empty(shape), std=std, a=-2 * std, b=2 * std))

    class Conv(nn.Module):  # conv2d(x, W, keep_prob) + b: VALID conv, dropout, then the bias
        def __init__(self, n_in: int, n_out: int, k: int, std: float, dropout: bool = True):
            super().__init__()
            self.weight = trunc_normal((n_out, n_in, k, k), std)
            self.bias = nn.Parameter(torch.full((n_out, 1, 1), 0.1))  # bias_variable; (C, 1, 1): regularised
            self.drop = nn.Dropout(1 - keep_prob) if dropout else nn.Identity()

        def forward(self, x):
            return self.drop(F.conv2d(x, self.weight)) + self.bias

    class Deconv(nn.Module):  # deconv2d(in_node, wd, pool_size) + bd: not in self.variables, not regularised
        def __init__(self, features: int, std: float):
            super().__init__()
            self.weight = trunc_normal((features, features // 2, pool_size, pool_size), std)
            self.bias = nn.Parameter(torch.full((features // 2,), 0.1))

        def forward(self, x):
            return F.conv_transpose2d(x, self.weight, stride=pool_size) + self.bias[:, None, None]

    def crop_and_concat(x1, x2):
        o1 = (x1.shape[2] - x2.shape[2]) // 2
        o2 = (x1.shape[3] - x2.shape[3]) // 2
        return torch.cat([x1[:, :, o1:o1 + x2.shape[2], o2:o2 + x2.shape[3]], x2], 1)

    class Unet(nn.Module):  # create_conv_net(x, keep_prob, channels, n_class, layers=3, features_root=16)
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList()
            for layer in range(layers):
                features = 2 ** layer * features_root
                std = _stddev(features)
                n_in = channels if layer == 0 else features // 2
                self.down.append(nn.ModuleList([Conv(n_in, features, filter_size, std),
                                                Conv(features, features, filter_size, std)]))
            self.up = nn.ModuleList()
            for layer in range(layers - 2, -1, -1):
                features = 2 ** (layer + 1) * features_root
                std = _stddev(features)
                self.up.append(nn.ModuleList([Deconv(features, std),
                                              Conv(features, features // 2, filter_size, std),
                                              Conv(features // 2, features // 2, filter_size, std)]))
            self.out_weight = trunc_normal((n_class, features_root, 1, 1), std)  # stddev of the last up layer
            self.out_bias = nn.Parameter(torch.full((n_class,), 0.1))

        def forward(self, x):
            dw_h_convs = []
            in_node = x
            for layer, (c1, c2) in enumerate(self.down):
                h = F.relu(c2(F.relu(c1(in_node))))
                dw_h_convs.append(h)
                in_node = F.max_pool2d(h, pool_size) if layer < layers - 1 else h
            for i, (deconv, c1, c2) in enumerate(self.up):
                layer = layers - 2 - i
                h_deconv = F.relu(deconv(in_node))
                h = crop_and_concat(dw_h_convs[layer], h_deconv)
                in_node = F.relu(c2(F.relu(c1(h))))
            return F.relu(F.conv2d(in_node, self.out_weight) + self.out_bias[:, None, None])  # output_map

    w = torch.tensor(class_weights)

    def loss_fn(logits, y):
        flat_logits = logits.permute(0, 2, 3, 1).reshape(-1, n_class)
        labels = y.permute(0, 2, 3, 1).reshape(-1, n_class)
        if fixed:  # 5e03908: weight each pixel's cross-entropy by its class weight
            weight_map = (labels * w).sum(1)
            loss_map = -(labels * F.log_softmax(flat_logits, 1)).sum(1)
            return (loss_map * weight_map).mean()
        weighted_logits = flat_logits * w  # buggy: the class weights multiply the logits
        return (-(labels * F.log_softmax(weighted_logits, 1)).sum(1)).mean()

    class MomentumDecay(torch.optim.SGD):  # MomentumOptimizer(exponential_decay(0.2, step, 20, 0.95, staircase))
        def __init__(self, groups):
            super().__init__(groups, lr=learning_rate, momentum=momentum)
            self.global_step = 0

        def step(self, closure=None):
            for g in self.param_groups:
                g["lr"] = learning_rate * decay_rate ** (self.global_step // training_iters)
            self.global_step += 1
            return super().step(closure)

    def optimizer(params):  # cost = loss + 0.001 * sum(l2_loss(self.variables)): 3x3 kernels and their biases
        params = list(params)
        regularised = [p for p in params if p.ndim == 3 or (p.ndim == 4 and p.shape[-1] == filter_size)]
        ids = {id(p) for p in regularised}
        rest = [p for p in params if id(p) not in ids]
        return MomentumDecay([{"params": regularised, "weight_decay": reg_constant},
                              {"params": rest, "weight_decay": 0.0}])

    batches, xi = _data()

    def to_t(a: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    tb = [(to_t(x), to_t(y)) for x, y in batches]
    return {"model": Unet(), "batch": tb[0], "batches": tb, "inputs": to_t(xi), "loss_fn": loss_fn,
            "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers as L
    from keras import ops

    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L2(reg_constant / 2)  # 0.001 * tf.nn.l2_loss(v) = 0.0005 * sum(v**2)

    class BiasAdd(L.Layer):  # conv + b, bias_variable: tf.constant(0.1)
        def __init__(self, regularizer=None, **kwargs):
            super().__init__(**kwargs)
            self.regularizer = regularizer

        def build(self, input_shape):
            self.b = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(0.1),
                                     regularizer=self.regularizer, name="b")

        def call(self, x):
            return x + self.b

    def conv(x, features: int, std: float):  # conv2d(x, W, keep_prob) + b, then relu
        x = L.Conv2D(features, filter_size, padding="valid", use_bias=False, kernel_regularizer=reg,
                     kernel_initializer=keras.initializers.TruncatedNormal(stddev=std))(x)
        x = L.Dropout(1 - keep_prob)(x)
        return L.ReLU()(BiasAdd(reg)(x))

    inp = keras.Input((nx, ny, channels))
    dw_h_convs = []
    in_node = inp
    for layer in range(layers):
        features = 2 ** layer * features_root
        std = _stddev(features)
        h = conv(conv(in_node, features, std), features, std)
        dw_h_convs.append(h)
        in_node = L.MaxPooling2D(pool_size, pool_size, padding="valid")(h) if layer < layers - 1 else h
    for layer in range(layers - 2, -1, -1):
        features = 2 ** (layer + 1) * features_root
        std = _stddev(features)
        h_deconv = L.Conv2DTranspose(features // 2, pool_size, strides=pool_size, padding="valid", use_bias=False,
                                     kernel_initializer=keras.initializers.TruncatedNormal(stddev=std))(in_node)
        h_deconv = L.ReLU()(BiasAdd()(h_deconv))
        skip = dw_h_convs[layer]
        crop = (skip.shape[1] - h_deconv.shape[1]) // 2
        h = L.Concatenate(axis=3)([L.Cropping2D(crop)(skip), h_deconv])  # crop_and_concat
        in_node = conv(conv(h, features // 2, std), features // 2, std)
    out = L.Conv2D(n_class, 1, use_bias=False,
                   kernel_initializer=keras.initializers.TruncatedNormal(stddev=std))(in_node)
    output_map = L.ReLU()(BiasAdd()(out))  # output_map = tf.nn.relu(conv + bias)
    model = keras.Model(inp, output_map)

    w = ops.convert_to_tensor(np.array(class_weights, dtype="float32"))

    def loss(y_true, y_pred):
        flat_logits = ops.reshape(y_pred, (-1, n_class))
        labels = ops.reshape(y_true, (-1, n_class))
        if fixed:  # 5e03908
            weight_map = ops.sum(labels * w, axis=1)
            loss_map = -ops.sum(labels * ops.log_softmax(flat_logits, axis=1), axis=1)
            return ops.mean(loss_map * weight_map)
        weighted_logits = flat_logits * w  # buggy
        return ops.mean(-ops.sum(labels * ops.log_softmax(weighted_logits, axis=1), axis=1))

    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=training_iters,
                                                           decay_rate=decay_rate, staircase=True)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=momentum), loss=loss)
    batches, xi = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xi}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fixed=False) if framework == "torch" else _keras(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fixed=True) if framework == "torch" else _keras(fixed=True)
