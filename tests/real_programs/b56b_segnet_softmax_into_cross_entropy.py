"""say4n/pytorch-segnet, a PyTorch SegNet (VGG16-shaped encoder of 13 conv + BatchNorm layers with max-pooling
indices, a mirrored decoder of 13 ``ConvTranspose2d`` (+ BatchNorm) layers with ``max_unpool2d``) trained on Pascal
VOC 2012 segmentation (``src/dataset.py``: 21 VOC classes plus a 22nd 'border' class for the 255 outline pixels,
images and masks resized to 224 x 224, pixels / 255). ``src/train.py``: ``NUM_OUTPUT_CHANNELS = NUM_CLASSES`` (22),
``LEARNING_RATE = 1e-6``, ``BATCH_SIZE = 16``, ``criterion = torch.nn.CrossEntropyLoss(weight=1.0 /
train_dataset.get_class_probability())``, ``optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)``,
train mode, zero_grad / loss / backward / step per batch.

The fault (src/train.py at be538ae, the last version before the fix):
    predicted_tensor, softmaxed_tensor = model(input_tensor)   # model.py: return x_00d, F.softmax(x_00d, dim=1)
    loss = criterion(softmaxed_tensor, target_tensor)
``CrossEntropyLoss`` applies its own log-softmax, so the loss is computed on softmax(softmax(logits)): the
probabilities (0..1) act as logits, the loss can never fall below log(1 + 21/e) = 2.166 per pixel (ln 22 = 3.091 at
chance), and the gradient reaching the network is squeezed by the softmax Jacobian. Issue #5 ("Why do you use
CrossEntropyLoss on softmax output?"), the author: "It should be ``predicted_tensor`` instead"; fix f7738c6
"Update train.py / Fixes #5.": ``loss = criterion(predicted_tensor, target_tensor)``.

Source: github.com/say4n/pytorch-segnet, src/train.py, src/model.py, src/dataset.py at
be538aecd677b703e0cd9d803b51e33c06fa8a27 (= f7738c6^); fix f7738c6bce384b54fcbb3fe8aff02736d6ec2285 (2020-03-28),
issue #5.
Fault label: output_activation|loss_mismatch (a softmax output fed to CrossEntropyLoss, which expects logits).

Program lines kept: SegNet's layer sequence (conv 3x3 pad 1 + BatchNorm2d, relu, max_pool2d(2, 2,
return_indices=True); max_unpool2d(output_size=...), ConvTranspose2d 3x3 pad 1 + BatchNorm2d, relu; last
ConvTranspose2d to 22 channels without BatchNorm or relu; forward returns ``(x_00d, F.softmax(x_00d, dim=1))``),
the class-weighted ``CrossEntropyLoss(weight=1/p)`` with p the pixel share of each class over the training set,
Adam at 1e-6, batches of 16, train mode.
Ported: the 26 spelled-out layers written as loops over the stage widths; channel widths divided by 4 (64..512 ->
16..128) and images of 32 x 32 instead of 224 x 224 (five poolings down to 1 x 1) so that a step costs well under
0.1 s on one CPU thread (full widths at 224 x 224 are GPU work); ``init_vgg_weigts`` (copying ImageNet VGG16 conv
weights into the encoder) dropped -- no download and the widths differ -- so every layer keeps PyTorch's default
initialisation; ``Variable`` / CUDA / checkpoint plumbing dropped. ``model`` is a thin ``TrainOutput`` wrapper
returning the tensor that train() gives the criterion: ``softmaxed_tensor`` (buggy) or ``predicted_tensor``
(fixed), so ``loss_fn(model(x), y)`` is the program's loss. Torch only: under Keras 3 (TensorFlow backend) a
cross-entropy with ``from_logits=True`` applied to a softmax layer's output takes the layer's pre-softmax logits
instead (with a warning) -- a Keras twin I built (same SegNet, softmax output, class-weighted sparse CE
from_logits=True) trained step for step like its fixed twin (identical losses to 4 decimals over 200 Adam steps),
so the fault does not exist there.
Data stand-in (no VOC download): ``voc_like(n)`` -- images (n, 3, 32, 32) float32 in [0, 1] (8-bit values / 255,
axes as load_image's ``np.transpose(.., (2, 1, 0))``) and masks (n, 32, 32) int64 in 0..21: a noisy, tinted
background (class 0) with 1-2 objects per image (ellipses or boxes of classes 1..20, each class its own colour and
texture) whose one-pixel outline is class 21, as VOC's 255 border pixels are; class weights 1/p computed over 256
such images (background ~1.2, border ~19, objects 110-235).

Measured (my own loop, /tmp/s39/h56b/measure.py; OMP_NUM_THREADS=1, torch seed 0; the module's first batch of 16;
weighted loss, ln 22 = 3.091, buggy floor 2.166):
  program's Adam lr 1e-6, the batch repeated, loss at 0/1/10/25/50/100/200 steps:
    buggy 3.088, 3.088, 3.085, 3.083, 3.081, 3.077, 3.070 (moves 0.018)
    fixed 3.109, 3.097, 3.050, 3.011, 2.975, 2.936, 2.867 (moves 0.24, 13x as far)
  the four batches in turn, 200 steps at 1e-6: buggy 3.088 -> 3.078, fixed 3.109 -> 2.953.
  Adam lr 1e-3 (to show where each can go), the batch repeated, 0/10/25/50/100/200 steps:
    buggy 3.088, 2.937, 2.840, 2.685, 2.432, 2.249 (against its floor 2.166); train-batch pixel accuracy (eval
          mode) 0.863, 12 classes predicted
    fixed 3.109, 2.214, 1.496, 0.757, 0.225, 0.030; pixel accuracy 0.981, 14 classes predicted
  At initialisation the buggy model's output (what the loss sees) lies in 0.0005..0.45, the fixed one's logits in
  -3.5..3.4.
About 65-150 ms per training step (batch 16) in both versions on one CPU thread of the loaded two-core machine
(65 ms when the machine was quiet); building either version takes ~0.1 s (the first call ~1 s for imports)."""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:say4n/pytorch-segnet issue #5 (src/train.py train() 'loss = criterion(softmaxed_tensor, "
          "target_tensor)' with criterion = CrossEntropyLoss(weight=1/class_probability), src/model.py SegNet.forward "
          "'return x_00d, x_softmax', src/dataset.py PascalVOCDataset "
          "@f7738c6^ = be538aecd677b703e0cd9d803b51e33c06fa8a27; "
          "fix f7738c6bce384b54fcbb3fe8aff02736d6ec2285 'Update train.py Fixes #5.': criterion(predicted_tensor, ...))")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 22}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {})]

# src/dataset.py: 21 VOC classes + 'border' (mask value 255 -> 21); src/train.py constants
VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')
NUM_CLASSES = len(VOC_CLASSES) + 1  # 22
NUM_INPUT_CHANNELS = 3
LEARNING_RATE = 1e-6
BATCH_SIZE = 16
WIDTH_DIV = 4   # ported: channel widths of the VGG16-style SegNet divided by 4 (64..512 -> 16..128)
SIZE = 32       # ported: 32 x 32 images instead of 224 x 224 (five 2x2 poolings -> 1 x 1)
SEED = 0
N_BATCHES = 4
N_WEIGHT_IMAGES = 256  # images over which get_class_probability() is computed


def voc_like(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Pascal-VOC-segmentation stand-in after PascalVOCDataset: images (n, 3, SIZE, SIZE) float32 in [0, 1]
    (uint8 / 255, axes transposed as load_image's np.transpose(..., (2, 1, 0))), masks (n, SIZE, SIZE) int64 in
    0..21: background 0, 1-2 objects per image (classes 1..20, ellipses or boxes, each class its own colour and
    texture frequency), the one-pixel object outline labelled 21 as VOC's 255 'border' pixels are."""
    rng = np.random.default_rng(seed)
    colours = np.random.default_rng(1234).uniform(0.1, 0.9, (NUM_CLASSES, 3))
    freq = np.random.default_rng(4321).uniform(0.2, 1.2, NUM_CLASSES)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    imgs = np.empty((n, SIZE, SIZE, 3), "float32")
    masks = np.zeros((n, SIZE, SIZE), "int64")
    for i in range(n):
        bg = rng.uniform(0.2, 0.8, 3)
        img = bg[None, None] + 0.08 * rng.standard_normal((SIZE, SIZE, 3))
        img = img + 0.1 * np.sin(xx * rng.uniform(0.1, 0.5) + yy * rng.uniform(0.1, 0.5))[..., None]
        m = np.zeros((SIZE, SIZE), "int64")
        for _ in range(int(rng.integers(1, 3))):
            c = int(rng.integers(1, NUM_CLASSES - 1))
            cy, cx = rng.uniform(6, SIZE - 6, 2)
            ry, rx = rng.uniform(4, 10, 2)
            if rng.random() < 0.5:
                inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
            else:
                inside = (np.abs(yy - cy) <= ry * 0.8) & (np.abs(xx - cx) <= rx * 0.8)
            tex = 0.12 * np.sin(freq[c] * (xx + yy) + rng.uniform(0, 6.28))
            obj = colours[c][None, None] * rng.uniform(0.8, 1.2) + tex[..., None]
            img = np.where(inside[..., None], obj + 0.05 * rng.standard_normal((SIZE, SIZE, 3)), img)
            m[inside] = c
            # outline: object pixels with a non-object 4-neighbour -> border class 21
            pad = np.pad(inside, 1)
            interior = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
            m[inside & ~interior] = NUM_CLASSES - 1
        imgs[i] = np.clip(img, 0, 1)
        masks[i] = m
    imgs = np.round(imgs * 255.0) / 255.0
    return np.ascontiguousarray(np.transpose(imgs, (0, 3, 2, 1))).astype("float32"), \
        np.ascontiguousarray(np.transpose(masks, (0, 2, 1)))


def class_weights() -> np.ndarray:
    """train.py: class_weights = 1.0 / train_dataset.get_class_probability() (pixel shares over the train set)."""
    _, m = voc_like(N_WEIGHT_IMAGES, seed=SEED + 100)
    counts = np.array([np.sum(m == i) for i in range(NUM_CLASSES)], "float64")
    p = counts / counts.sum()
    return (1.0 / p).astype("float32")


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x, y = voc_like(N_BATCHES * BATCH_SIZE, SEED)
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return batches, x


def _w(c: int) -> int:
    return c // WIDTH_DIV


# SegNet: (out_channels per conv) per encoder stage, mirrored by the decoder (src/model.py vgg16_dims / decoder)
ENC = [(64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)]
DEC = [(512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64, None)]  # None = output_channels


def _torch_model(fixed: bool) -> Any:
    import torch.nn as nn

    F = nn.functional

    class SegNet(nn.Module):
        """src/model.py SegNet, its 13 conv+BN encoder layers and 13 ConvTranspose2d(+BN) decoder layers written
        as loops (the file spells out each one); max_pool2d with indices / max_unpool2d, relu after every layer but
        the last; forward returns (x_00d, F.softmax(x_00d, dim=1))."""

        def __init__(self, input_channels, output_channels):
            super().__init__()
            self.input_channels = input_channels
            self.output_channels = output_channels
            self.enc = nn.ModuleList()
            cin = input_channels
            for stage in ENC:
                layers = nn.ModuleList()
                for c in stage:
                    layers.append(nn.Sequential(nn.Conv2d(cin, _w(c), kernel_size=3, padding=1),
                                                nn.BatchNorm2d(_w(c))))
                    cin = _w(c)
                self.enc.append(layers)
            self.dec = nn.ModuleList()
            for stage in DEC:
                layers = nn.ModuleList()
                for c in stage:
                    if c is None:  # decoder_convtr_00: no BatchNorm
                        layers.append(nn.Sequential(nn.ConvTranspose2d(cin, output_channels, kernel_size=3,
                                                                       padding=1)))
                    else:
                        layers.append(nn.Sequential(nn.ConvTranspose2d(cin, _w(c), kernel_size=3, padding=1),
                                                    nn.BatchNorm2d(_w(c))))
                        cin = _w(c)
                self.dec.append(layers)

        def forward(self, input_img):
            x = input_img
            dims, indices = [], []
            for stage in self.enc:
                dims.append(x.size())
                for layer in stage:
                    x = F.relu(layer(x))
                x, idx = F.max_pool2d(x, kernel_size=2, stride=2, return_indices=True)
                indices.append(idx)
            for k, stage in enumerate(self.dec):
                s = len(self.enc) - 1 - k
                x = F.max_unpool2d(x, indices[s], kernel_size=2, stride=2, output_size=dims[s])
                for j, layer in enumerate(stage):
                    x = layer(x)
                    if not (k == len(self.dec) - 1 and j == len(stage) - 1):
                        x = F.relu(x)
            x_00d = x
            x_softmax = F.softmax(x_00d, dim=1)
            return x_00d, x_softmax

    class TrainOutput(nn.Module):
        """Ported: the tensor train() hands to the criterion -- softmaxed_tensor (buggy) / predicted_tensor
        (fixed) -- so that model(x) is what the loss sees."""

        def __init__(self, net, index):
            super().__init__()
            self.net = net
            self.index = index

        def forward(self, x):
            return self.net(x)[self.index]

    net = SegNet(input_channels=NUM_INPUT_CHANNELS, output_channels=NUM_CLASSES)
    return TrainOutput(net, 0 if fixed else 1)


def _torch(fixed: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    model = _torch_model(fixed)
    model.train()
    batches, inputs = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    criterion = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights()))
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "loss_fn": criterion,
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE)}


def buggy(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=False)
    raise ValueError(framework)


def fixed(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=True)
    raise ValueError(framework)
