"""CSAILVision/GazeCapture, the PyTorch re-implementation of iTracker ("Eye Tracking for Everyone", CVPR 2016):
``main.py`` regresses the gaze point on the screen (``labelDotXCam``, ``labelDotYCam``, cm from the camera) from
four inputs, the face crop, the two eye crops (224x224 RGB) and a 25x25 binary face grid (where the face is in the
camera frame). ``ITrackerModel`` (``ITrackerModel.py``): an AlexNet-like ``ItrackerImageModel`` (conv 11x11/4 96
-> ReLU -> max-pool 3/2 -> ``CrossMapLRN2d(5, 1e-4, 0.75, 1)`` -> conv 5x5 256 groups=2 -> ReLU -> max-pool ->
LRN -> conv 3x3 384 -> ReLU -> conv 1x1 64 -> ReLU, flattened) shared by both eyes, a second one for the face
followed by FC 128 -> 64, FC 625 -> 256 -> 128 for the grid, FC 2*12*12*64 -> 128 joining the eyes, and FC
320 -> 128 -> 2; ``nn.MSELoss()``, ``torch.optim.SGD(lr=0.0001, momentum=0.9, weight_decay=1e-4)``, batch size
``torch.cuda.device_count()*100``. ``ITrackerData`` (``ITrackerData.py``) loads each crop with
``transforms.Compose([transforms.Scale(imSize), transforms.ToTensor(), SubtractMean(meanImg=...)])``, the mean
crops coming from ``mean_face_224.mat`` / ``mean_left_224.mat`` / ``mean_right_224.mat`` (float32 arrays in
0..255: 72..192 for the left eye, 80..181 for the face; I read them from the repository).

The fault is in ``SubtractMean``: ``self.meanImg = transforms.ToTensor()(meanImg)`` then ``return
tensor.sub(self.meanImg)``. The image goes through ``ToTensor`` as a uint8 PIL image and is divided by 255 to
[0, 1]; the mean is a float32 ndarray, and ``ToTensor`` divides an ndarray by 255 only when it is uint8
(torchvision since 0.2.1; the code was written when every ndarray was divided), so the mean stays in 0..255.
Every crop becomes ``img/255 - mean``: values around -72..-192 (mean -93, std 32 on the stand-in) in which
the image's own content is a ~0.15-std ripple. Reported in issue #32 ("division by 255 was introduced in
SubtractMean... why?"); the maintainer: "Previously the division was handled by ToTensor(). It seems that
pytorch behavior has changed and the mean was no longer normalized... it should be around 0.5 and not 127".
Fix (ccc0f6c, "* pytorch 0.4.1 * data preprocessing"): ``self.meanImg = transforms.ToTensor()(meanImg / 255)``.

Source: github.com/CSAILVision/GazeCapture, ``pytorch/ITrackerData.py`` at ccc0f6c^ (= 0095a0b, "Pytorch code",
2018-03-15), ``pytorch/ITrackerModel.py``, ``pytorch/main.py``, the three mean .mat files; fix commit
ccc0f6c1c391e052dbbf320192b829e1325f3131 (2019-01-25); issue #32.
Fault label: inputs_not_normalized (the mean image is subtracted in the wrong units: the inputs sit at about
-100 instead of around 0, the data's variation a tiny fraction of their magnitude). Fix: the mean divided by 255.

Program lines kept: ``SubtractMean`` and the ``ToTensor`` semantics (uint8 -> /255, float32 mean untouched in
the buggy version, ``meanImg / 255`` in the fixed one), ``makeGrid``'s 25x25 grid, the whole ``ITrackerModel``
wiring (shared eye network, face network + FC 128/64, grid FC 256/128, eyes FC 128, FC 128 -> 2, ReLUs, no
output activation), PyTorch's default initialisation, MSELoss, SGD(1e-4, momentum 0.9, weight decay 1e-4), batch
size 100 (one GPU).
Ported / shrunk: imSize (224, 224) -> (64, 64) and the convolution widths 96/256/384 divided by 4 (24/64/96; the
1x1 conv keeps 64), so the conv features are 2x2x64 instead of 12x12x64 and the FCs after them take 2*2*64
(faces) / 2*2*2*64 (eyes) inputs: at 224 with the full widths a step of 100 samples costs many seconds on one CPU
thread; shrunk it is ~0.11-0.15 s torch (a loaded 2-core machine). ``nn.CrossMapLRN2d`` is replaced by
``nn.LocalResponseNorm`` with the same arguments (the Caffe LRN it ports: x / (k + alpha/size * sum of x**2
over 5 neighbouring channels)**beta; torch's legacy CrossMapLRN2d loops over samples in Python in its backward,
~120 ms per call here, and its running sum never drops channel 0 from the window; with alpha = 1e-4 the two
differ little). The four inputs are packed into one float32 tensor per sample (face, left eye, right eye as
3x64x64 CHW blocks, then the 625 grid cells; ``forward`` unpacks them), so ``batch`` is (x, gaze). The
``Scale``/``Resize`` step, the DataLoader workers, checkpoints, the lr schedule (``adjust_learning_rate`` writes
into the copy that ``optimizer.state_dict()`` returns, so the lr stays 1e-4 anyway) and validation are left out.
Keras twin: the same network channels-last (``Conv2D``, the groups=2 conv as two half-width ``Conv2D`` on the
two channel halves, concatenated; the LRN in ``keras.ops``; ``Permute`` before ``Flatten`` so the flattened
order is torch's CHW), PyTorch's default initialisation (``VarianceScaling(1/3, fan_in, uniform)`` kernels,
U(+-1/sqrt(fan_in)) biases), the weight decay as ``L2(5e-5)`` on every kernel and bias (its gradient 1e-4 * w is
what torch's coupled weight decay adds), compiled with ``SGD(1e-4, momentum=0.9)`` and ``"mse"``; crops HWC.

Data stand-in (no GazeCapture download; ``gaze_like``): seeded synthetic records. Eye crops: a skin-toned patch
(per-subject tone, lighting) with a white sclera ellipse and an iris/pupil disc offset by the gaze direction
(px, py in [-1, 1]); face crops: a background, a face oval slightly off-centre with the head position, two eyes
with the same (smaller) pupil offset and a mouth; pixel noise, uint8 0..255 RGB as the JPEGs. Face grid: a
square of 8-12 cells at a random place in the 25x25 grid. Gaze: ``labelDotXCam = 7*px + 3*hx + N(0, .3)``,
``labelDotYCam = -8 + 6*py + 2.5*hy + N(0, .3)`` (cm, about -10..10 and -17..1 like GazeCapture's phone
targets), hx, hy the grid square's centre in [-1, 1]; so the target follows from the pupils and the grid. The
mean crops are the float32 means (0..255) of 1000 other stand-in records, as the .mat files hold.
``batch``/``batches``: 6 batches of 100 training records; ``inputs``: 300 other records.

Measured (my own plain loop, /tmp/p47a/measure_t.py, measure_k.py, seed 0, OMP_NUM_THREADS=1, cycling over
the 6 batches; "held-out" = the 300 ``inputs`` records with their gaze; predicting their mean gives MSE 15.06):
  inputs: buggy mean -93.5, std 31.7; fixed mean 0.012, std 0.146.
  torch (``zero_grad; MSELoss(model(x), y).backward(); step``), training-batch loss at steps 1/11/26/101/201/600:
  buggy 47.0/18.4/18.8/13.9/16.9/15.4, fixed 49.0/48.6/43.2/39.9/17.5/14.7; held-out MSE buggy 43.9/25.6/15.2/
  15.1/15.1/15.08 vs fixed 46.9/46.5/45.4/38.2/16.3/14.76. The buggy network jumps to the targets' mean within
  ~25 steps (its huge constant inputs act as a huge bias) and stays there: the std of its held-out predictions is
  0.006-0.019 cm over 600 steps (fixed: 0.03 at step 101, 0.85 at 201, 0.58 at 600) and 54% of the eye
  network's first-layer filters are dead on the held-out eyes (38% from the start; fixed 0%). The fixed network
  moves slowly at lr 1e-4 (the program trains 100 epochs) but starts to use its inputs (held-out MSE 15.23 at
  step 401, 14.76 at step 600, below the mean-only 15.06); the buggy one predicts one constant gaze for every face.
  Keras (``train_on_batch``, the compiled loss includes the L2 term), training loss at steps 1/11/26/101/200:
  buggy 49.4/20.2/19.8/13.9/16.9, fixed 49.4/48.8/43.4/39.7/18.4; held-out MSE buggy 46.3/15.5/16.9/15.14/15.14
  vs fixed 47.1/46.7/45.6/38.1/16.3; held-out prediction std buggy 0.004-0.006 throughout vs fixed 0.035 at
  step 101 and 0.82 at step 200 (the same course as torch).
  The fault shows as inputs far from normalised (mean -93) and, in training, as a fast fall to the mean-only
  loss followed by constant predictions; the loss curve alone looks healthy (it falls faster than the fixed
  one's at first).
  Step time (one thread, loaded machine): torch ~0.11-0.15 s (buggy up to 0.25 s with another run beside it),
  Keras ~0.2 s (first step several seconds, tracing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "inputs_not_normalized"
SOURCE = ("github:CSAILVision/GazeCapture pytorch/ITrackerData.py SubtractMean@ccc0f6c^ (= 0095a0b; "
          "pytorch/ITrackerModel.py, pytorch/main.py, pytorch/mean_{face,left,right}_224.mat; fix "
          "ccc0f6c1c391e052dbbf320192b829e1325f3131 '* pytorch 0.4.1 * data preprocessing': "
          "ToTensor()(meanImg / 255); issue #32)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("inputs_normalized", {}), ("not_constant_predictions", {}), ("input_independent_baseline", {})]

# main.py
batch_size = 100  # torch.cuda.device_count()*100 on one GPU
base_lr = 0.0001
momentum = 0.9
weight_decay = 1e-4
# port: imSize (224, 224) -> (64, 64) and the conv widths 96/256/384 divided by 4 (see the docstring)
IM = 64
W1, W2, W3, W4 = 96 // 4, 256 // 4, 384 // 4, 64
FEAT = 2  # spatial size of the conv features at 64x64 (12 at 224x224)
GRID = 25  # gridSize=(25, 25)
N_BATCHES = 6
N_INPUTS = 300


# ---------------------------------------------------------------- data stand-in
def _ellipse(h: int, cx: np.ndarray, cy: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """(n, h, h) boolean masks of axis-aligned ellipses (centres / radii in pixels, one per row)."""
    yy, xx = np.mgrid[0:h, 0:h].astype("float32")
    return (((xx[None] - cx[:, None, None]) / rx[:, None, None]) ** 2
            + ((yy[None] - cy[:, None, None]) / ry[:, None, None]) ** 2) <= 1.0


def gaze_like(n: int, seed: int) -> dict[str, np.ndarray]:
    """GazeCapture-shaped records: face, left-eye and right-eye crops as uint8 RGB (n, IM, IM, 3) like the
    appleFace / appleLeftEye / appleRightEye JPEGs after ``Resize``, the 25x25 face grid (``makeGrid`` of
    ``labelFaceGrid`` = x, y, w, h in grid cells) and the gaze point (``labelDotXCam``, ``labelDotYCam``, in cm
    from the camera, float32). The gaze follows from where the face is in the camera frame (the grid, the face
    crop's offset) and where the pupils sit in the eyes (the eye crops, the face crop)."""
    rng = np.random.default_rng(seed)
    h = IM
    # head pose / position in the frame and the eye direction
    gw = rng.integers(8, 13, n)  # face box width in grid cells
    gx = rng.integers(0, GRID - gw + 1)
    gy = rng.integers(0, GRID - gw + 1)
    px = rng.uniform(-1, 1, n).astype("float32")  # pupil offset, -1..1 of its travel
    py = rng.uniform(-1, 1, n).astype("float32")
    hx = ((gx + gw / 2) - GRID / 2) / (GRID / 2)  # head centre in the frame, -1..1
    hy = ((gy + gw / 2) - GRID / 2) / (GRID / 2)
    dot_x = 7.0 * px + 3.0 * hx + rng.normal(0, 0.3, n)  # labelDotXCam (cm), about -10..10
    dot_y = -8.0 + 6.0 * py + 2.5 * hy + rng.normal(0, 0.3, n)  # labelDotYCam (cm), about -17..1
    grid = np.zeros((n, GRID, GRID), "float32")
    for i in range(n):
        grid[i, gy[i]:gy[i] + gw[i], gx[i]:gx[i] + gw[i]] = 1.0
    grid = grid.reshape(n, GRID * GRID)

    skin = rng.uniform(90, 220, (n, 1, 1, 1)) * np.array([1.0, 0.8, 0.65], "float32")  # per subject
    light = rng.uniform(0.7, 1.2, (n, 1, 1, 1))

    def eye(shift: float) -> np.ndarray:
        img = np.broadcast_to(skin, (n, h, h, 3)).copy()
        c = np.full(n, h / 2, "float32")
        sclera = _ellipse(h, c + shift, c, np.full(n, h * 0.42), np.full(n, h * 0.26))
        img[sclera] = 235.0
        iris = _ellipse(h, c + shift + px * h * 0.2, c + py * h * 0.1, np.full(n, h * 0.14), np.full(n, h * 0.14))
        iris &= sclera
        img[iris] = np.array([70.0, 50.0, 35.0], "float32")
        pupil = _ellipse(h, c + shift + px * h * 0.2, c + py * h * 0.1, np.full(n, h * 0.06), np.full(n, h * 0.06))
        img[pupil & sclera] = 15.0
        return img

    def face() -> np.ndarray:
        img = np.broadcast_to(rng.uniform(20, 120, (n, 1, 1, 3)), (n, h, h, 3)).copy()  # background
        ox = (hx * 4).astype("float32")  # the face crop is not perfectly centred
        c = np.full(n, h / 2, "float32")
        oval = _ellipse(h, c + ox, c + 2, np.full(n, h * 0.36), np.full(n, h * 0.46))
        img[oval] = np.broadcast_to(skin, (n, h, h, 3))[oval]
        for side in (-1, 1):
            ex = c + ox + side * h * 0.16
            sc = _ellipse(h, ex, c - 4, np.full(n, h * 0.1), np.full(n, h * 0.06))
            img[sc] = 235.0
            pu = _ellipse(h, ex + px * h * 0.05, c - 4 + py * h * 0.025, np.full(n, h * 0.035), np.full(n, h * 0.035))
            img[pu & sc] = 20.0
        mouth = _ellipse(h, c + ox, c + h * 0.25, np.full(n, h * 0.12), np.full(n, h * 0.03))
        img[mouth] = np.array([150.0, 60.0, 60.0], "float32")
        return img

    def finish(img: np.ndarray) -> np.ndarray:
        img = img * light + rng.normal(0, 8, img.shape)
        return np.clip(img, 0, 255).astype("uint8")

    return {"face": finish(face()), "eye_left": finish(eye(-h * 0.04)), "eye_right": finish(eye(h * 0.04)),
            "grid": grid, "gaze": np.stack([dot_x, dot_y], 1).astype("float32")}


def _records(fixed: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """The training records through ITrackerData's transforms, packed (see the docstring): returns x (N, D)
    float32, y (N, 2) float32 and the number of image values per crop."""
    # mean_face_224.mat, mean_left_224.mat, mean_right_224.mat: the data set's mean crops, float32 in 0..255
    mean_src = gaze_like(1000, seed=123)
    means = {k: mean_src[k].astype("float64").mean(0).astype("float32") for k in ("face", "eye_left", "eye_right")}
    n = batch_size * N_BATCHES + N_INPUTS
    d = gaze_like(n, seed=0)

    def to_tensor(pic: np.ndarray) -> np.ndarray:
        # torchvision ToTensor on an HWC ndarray: CHW; divided by 255 only when it is uint8 (torchvision >= 0.2.1)
        out = np.ascontiguousarray(pic.transpose(2, 0, 1))
        return out.astype("float32") / 255.0 if pic.dtype == np.uint8 else out

    crops = []
    for k in ("face", "eye_left", "eye_right"):
        if fixed:  # ccc0f6c: self.meanImg = transforms.ToTensor()(meanImg / 255)
            mean_t = to_tensor(means[k] / 255)
        else:  # buggy: self.meanImg = transforms.ToTensor()(meanImg) -> float32 mean stays in 0..255
            mean_t = to_tensor(means[k])
        # transforms.Compose([Resize(imSize), ToTensor(), SubtractMean(meanImg)]) -> tensor.sub(self.meanImg)
        crops.append(np.stack([to_tensor(im) - mean_t for im in d[k]]).astype("float32"))
    per = 3 * IM * IM
    x = np.concatenate([c.reshape(n, per) for c in crops] + [d["grid"]], 1)
    return x, d["gaze"], per


# ---------------------------------------------------------------- builders
def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    class ItrackerImageModel(nn.Module):
        # Used for both eyes (with shared weights) and the face (with unqiue weights)
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, W1, kernel_size=11, stride=4, padding=0),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LocalResponseNorm(size=5, alpha=0.0001, beta=0.75, k=1.0),  # CrossMapLRN2d(...) in the program
                nn.Conv2d(W1, W2, kernel_size=5, stride=1, padding=2, groups=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LocalResponseNorm(size=5, alpha=0.0001, beta=0.75, k=1.0),  # CrossMapLRN2d(...) in the program
                nn.Conv2d(W2, W3, kernel_size=3, stride=1, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(W3, W4, kernel_size=1, stride=1, padding=0),
                nn.ReLU(inplace=True),
            )

        def forward(self, x):
            x = self.features(x)
            x = x.view(x.size(0), -1)
            return x

    class FaceImageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = ItrackerImageModel()
            self.fc = nn.Sequential(nn.Linear(FEAT * FEAT * W4, 128), nn.ReLU(inplace=True),
                                    nn.Linear(128, 64), nn.ReLU(inplace=True))

        def forward(self, x):
            return self.fc(self.conv(x))

    class FaceGridModel(nn.Module):
        # Model for the face grid pathway
        def __init__(self, gridSize=GRID):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(gridSize * gridSize, 256), nn.ReLU(inplace=True),
                                    nn.Linear(256, 128), nn.ReLU(inplace=True))

        def forward(self, x):
            x = x.view(x.size(0), -1)
            return self.fc(x)

    class ITrackerModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.eyeModel = ItrackerImageModel()
            self.faceModel = FaceImageModel()
            self.gridModel = FaceGridModel()
            # Joining both eyes
            self.eyesFC = nn.Sequential(nn.Linear(2 * FEAT * FEAT * W4, 128), nn.ReLU(inplace=True))
            # Joining everything
            self.fc = nn.Sequential(nn.Linear(128 + 64 + 128, 128), nn.ReLU(inplace=True), nn.Linear(128, 2))

        def forward(self, x):  # forward(faces, eyesLeft, eyesRight, faceGrids), the four packed in one tensor
            per = 3 * IM * IM
            faces = x[:, :per].reshape(-1, 3, IM, IM)
            eyesLeft = x[:, per:2 * per].reshape(-1, 3, IM, IM)
            eyesRight = x[:, 2 * per:3 * per].reshape(-1, 3, IM, IM)
            faceGrids = x[:, 3 * per:]
            # Eye nets
            xEyeL = self.eyeModel(eyesLeft)
            xEyeR = self.eyeModel(eyesRight)
            # Cat and FC
            xEyes = torch.cat((xEyeL, xEyeR), 1)
            xEyes = self.eyesFC(xEyes)
            # Face net
            xFace = self.faceModel(faces)
            xGrid = self.gridModel(faceGrids)
            # Cat all
            x = torch.cat((xEyes, xFace, xGrid), 1)
            return self.fc(x)

    model = ITrackerModel()
    x, y, _ = _records(fixed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    nb = batch_size * N_BATCHES
    bs = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, nb, batch_size)]

    def optimizer(params):
        return torch.optim.SGD(params, base_lr, momentum=momentum, weight_decay=weight_decay)

    return {"model": model, "batch": bs[0], "batches": bs, "inputs": xt[nb:], "loss_fn": nn.MSELoss(),
            "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L2(weight_decay / 2)  # SGD(weight_decay=1e-4) adds 1e-4 * w to every gradient

    def init(fan_in: int) -> dict[str, Any]:  # PyTorch's default Conv2d / Linear initialisation
        bound = 1.0 / np.sqrt(fan_in)
        return {"kernel_initializer": keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                "bias_initializer": keras.initializers.RandomUniform(-bound, bound),
                "kernel_regularizer": reg, "bias_regularizer": reg}

    class CrossMapLRN2d(layers.Layer):
        """nn.CrossMapLRN2d(size, alpha, beta, k) channels-last: x / (k + alpha / size * sum over `size`
        neighbouring channels of x**2) ** beta."""

        def __init__(self, size=5, alpha=0.0001, beta=0.75, k=1.0, **kw):
            super().__init__(**kw)
            self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

        def call(self, x):
            sq = ops.square(x)
            pad = ops.pad(sq, [[0, 0], [0, 0], [0, 0], [(self.size - 1) // 2, self.size // 2]])
            c = ops.shape(x)[-1]
            s = sum(pad[..., i:i + c] for i in range(self.size))
            return x / ops.power(self.k + self.alpha / self.size * s, self.beta)

    class GroupedConv(layers.Layer):
        """Conv2d(..., groups=2): two convolutions on the two halves of the channels, concatenated."""

        def __init__(self, c_in, c_out, kernel, **kw):
            super().__init__(**kw)
            self.half = c_in // 2
            self.convs = [layers.Conv2D(c_out // 2, kernel, padding="same", **init(self.half * kernel * kernel))
                          for _ in range(2)]

        def call(self, x):
            return ops.concatenate([self.convs[0](x[..., :self.half]), self.convs[1](x[..., self.half:])], -1)

    def image_model(name: str) -> keras.Sequential:
        return keras.Sequential([
            layers.Conv2D(W1, 11, strides=4, padding="valid", **init(3 * 11 * 11)),
            layers.ReLU(),
            layers.MaxPooling2D(3, 2),
            CrossMapLRN2d(size=5, alpha=0.0001, beta=0.75, k=1.0),
            GroupedConv(W1, W2, 5),
            layers.ReLU(),
            layers.MaxPooling2D(3, 2),
            CrossMapLRN2d(size=5, alpha=0.0001, beta=0.75, k=1.0),
            layers.Conv2D(W3, 3, padding="same", **init(W2 * 9)),
            layers.ReLU(),
            layers.Conv2D(W4, 1, **init(W3)),
            layers.ReLU(),
            layers.Permute((3, 1, 2)),  # x.view(x.size(0), -1) of an NCHW tensor
            layers.Flatten(),
        ], name=name)

    per = 3 * IM * IM
    inp = keras.Input((3 * per + GRID * GRID,))

    def crop(i: int):
        return layers.Reshape((IM, IM, 3))(inp[:, i * per:(i + 1) * per])

    eye_model = image_model("eyeModel")  # shared by both eyes
    x_eye_l, x_eye_r = eye_model(crop(1)), eye_model(crop(2))
    x_eyes = layers.Concatenate()([x_eye_l, x_eye_r])
    x_eyes = layers.Dense(128, activation="relu", **init(2 * FEAT * FEAT * W4))(x_eyes)
    x_face = image_model("faceConv")(crop(0))
    x_face = layers.Dense(128, activation="relu", **init(FEAT * FEAT * W4))(x_face)
    x_face = layers.Dense(64, activation="relu", **init(128))(x_face)
    x_grid = layers.Dense(256, activation="relu", **init(GRID * GRID))(inp[:, 3 * per:])
    x_grid = layers.Dense(128, activation="relu", **init(256))(x_grid)
    x = layers.Concatenate()([x_eyes, x_face, x_grid])
    x = layers.Dense(128, activation="relu", **init(320))(x)
    out = layers.Dense(2, **init(128))(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=base_lr, momentum=momentum), loss="mse")

    xs, y, _ = _records(fixed)
    # channels-last crops for Keras: each (3, IM, IM) block -> (IM, IM, 3)
    n = len(xs)
    parts = [xs[:, i * per:(i + 1) * per].reshape(n, 3, IM, IM).transpose(0, 2, 3, 1).reshape(n, per)
             for i in range(3)]
    xk = np.ascontiguousarray(np.concatenate(parts + [xs[:, 3 * per:]], 1))
    nb = batch_size * N_BATCHES
    bs = [(xk[i:i + batch_size], y[i:i + batch_size]) for i in range(0, nb, batch_size)]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": xk[nb:]}


buggy, fixed = versions(_torch, _keras)
