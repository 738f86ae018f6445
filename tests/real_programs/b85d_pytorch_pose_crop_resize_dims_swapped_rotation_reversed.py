"""bearpaw/pytorch-pose (PyTorch Stacked Hourglass for 2-D human pose, MPII / LSP / COCO): ``example/main.py`` trains
``pose/models/hourglass.py`` ``HourglassNet`` (pre-activation ``Bottleneck`` blocks, 4-level ``Hourglass``) with
``pose/losses/jointsmseloss.py`` ``JointsMSELoss()`` (use_target_weight=True) and ``torch.optim.RMSprop(lr, momentum=0,
weight_decay=0)`` on ``pose/datasets/mpii.py`` ``Mpii``; the repository's run script
``experiments/mpii/256x256-hg-s1-b1-rmsprop-lr1e-3.sh``: 1 stack, 1 block, batch 32, lr 1e-3, inputs 256x256, target
heatmaps 64x64 (sigma 1, scale factor 0.25, rotation factor 30). ``Mpii.__getitem__`` draws a scale and (with
probability 0.6) a rotation ``r ~ N(0, 30) clamped to +-60``, flips half the samples, jitters the colours, then cuts the
network input with ``pose/utils/transforms.py`` ``crop(img, c, s, [256, 256], rot=r)`` and draws each joint's Gaussian
at ``transform(pt, c, s, [64, 64], rot=r)``: image and targets must go through the same geometry.

The fault (two lines of ``crop``, written when the scipy.misc calls were ported to OpenCV in b7ea7ed): (1)
``img= cv2.resize(img, dsize=(new_ht,new_wd), ...)``: OpenCV's ``dsize`` is (width, height), so whenever the person is
large against the input resolution (``sf = scale * 200 / res >= 2``) the whole frame is shrunk to the transposed aspect
(a 720 x 1280 frame becomes 1280/sf rows x 720/sf columns) while ``center`` and ``scale`` are divided by ``sf`` as if
the aspect were kept, so the crop is cut from a stretched image at the wrong place; (2) ``new_img=
imutils.rotate_bound(new_img,rot)``: ``rotate_bound`` rotates clockwise (it negates the angle) and enlarges the canvas
to the rotated bounding box, whereas ``get_transform`` turns the keypoints counter-clockwise by ``rot`` on the
unchanged canvas ("To match direction of rotation from cropping"); after the padding is cut off and the result resized,
every rotated sample is turned the other way and shrunk against its heatmaps. Both the training path and the
validation path (resize only) feed the network images whose joints are not where the target heatmaps put them; the
network learns from misaligned pairs: the loss falls more slowly and the joints are found less precisely.

Source: github.com/bearpaw/pytorch-pose ``pose/utils/transforms.py`` ``crop`` at
e09fb262c473e705075d20e8981368e94cdfc4a3 (merge of PR #112, which brought b7ea7ed7bb6972d965ebae6abe59c979f98d53bc
"fixed a bug in crop function ... SCIPY.MISC.reshape and other function are not working in new version of scipy so
instead used cv2"), with ``pose/datasets/mpii.py``, ``pose/models/hourglass.py``, ``pose/losses/jointsmseloss.py``,
``example/main.py`` of that commit; fixed by 6d48375fde4d6ff0322775b342d563bcaf3f818a "Fixed rotation, resize bug in
crop method": ``dsize=(new_wd,new_ht)`` and ``imutils.rotate(new_img,rot)`` (a269e0b then tried
``rotate_bound(new_img,-rot)`` and 6963b58c "Updated crop method, removed bounded rotation" went back to the 6d48375
lines). Public bug benchmark: gDefects4DL (github.com/llmhyy/defects4dl ``metadata/Database.xml``), bug
pytorch-pose116, buggy e09fb26, fix 6d48375, "Input image width and height position reversed", type shape mismatch.
Fault label: other:image_crop_transform_misaligned_with_keypoint_targets (the image transform of the crop disagrees
with the keypoint transform that places the targets: swapped resize dimensions and a reversed, canvas-growing
rotation); none of the listed causes names a data augmentation that moves the inputs but not the labels.

Program lines kept: ``crop`` as at e09fb26 (the debug ``print`` dropped; ``np.math.floor`` written ``math.floor``
since numpy 2 has no ``np.math``), with a ``fixed`` flag choosing between the two faulty lines and the two lines of
6d48375; ``get_transform``, ``transform``, ``draw_labelmap``, ``color_normalize``, ``fliplr``, ``shufflelr``,
``im_to_numpy`` / ``im_to_torch``; ``Mpii.__getitem__`` (the centre / scale adjustment, the scale and rotation draws
with ``torch.randn`` and ``random.random``, flip, colour jitter, crop, heatmaps); ``Bottleneck``, ``Hourglass``,
``HourglassNet``, ``JointsMSELoss``; RMSprop lr 1e-3, momentum 0, weight decay 0; batch 32; sigma 1, scale factor 0.25,
rotation factor 30; ``Mpii._compute_mean`` (per-channel mean over the training list, subtracted by
``color_normalize``). The training step is the plain zero_grad / forward / loss / backward / step of ``train()``.
Replaced or shrunk: OpenCV and imutils are not installed: ``cv2.resize`` (``dsize`` = (width, height), bilinear, as
``F.interpolate(align_corners=False)``), ``cv2.getRotationMatrix2D`` (OpenCV's formula) and ``cv2.warpAffine``
(bilinear, zero border, via ``scipy.ndimage.affine_transform``) are small stand-ins with OpenCV's semantics, and
``imutils.rotate`` / ``rotate_bound`` are imutils 0.5.4's code on top of them. Resolutions shrunk 4x (input 256 -> 64,
heatmaps 64 -> 16) and the frames 5x (720 x 1280 -> 144 x 256), so the ``sf >= 2`` branch is taken for the same
relative person sizes; widths shrunk for CPU time (``inplanes`` 64 -> 8, ``num_feats`` 128 -> 16) and the hourglass
depth 4 -> 2 (its lowest map stays 4 x 4, as depth 4 on 64 x 64 maps). ``s`` and ``r`` are turned into Python floats
before ``crop`` (same values; numpy on 0-d tensors is slow). ``model`` wraps the one-stack ``HourglassNet`` and returns
its only output tensor instead of a one-element list (the program sums the loss over that list). ``loss_fn(output,
target)`` is ``JointsMSELoss`` with ``target_weight`` = 1 where the target heatmap is non-empty, which is
``meta['target_weight']`` here (every stand-in joint is marked visible; ``draw_labelmap`` returns vis 0 exactly when it
draws nothing).
Data stand-in (no MPII): 144 x 256 RGB frames in [0, 1] (smooth coloured background, three random boxes, N(0, 0.03)
noise) with one stick figure, 70-140 px tall, tilted +-15 degrees, joints jittered, facing the camera (its right side
on the image's left, so flip + ``shufflelr`` keep left / right consistent); the 16 MPII joints are discs coloured by
joint type (a left / right pair shares a colour), limbs are skin-coloured bars. Annotation: ``joint_self`` (x, y, 1),
``objpos`` = mean of the joints, ``scale_provided`` = height / 200. Channel means 0.43 / 0.43 / 0.41 (MPII's
mean.pth.tar: 0.44 / 0.44 / 0.43). ``batches``: 16 distinct batches of 32 through the training path (augmented);
``batch``: the first; ``baseline_batch``: the first 64 samples; ``inputs``: 64 held-out frames through the validation
path. In the buggy pipeline 251 / 512 training samples and 33 / 64 held-out samples take the resize branch and 281 /
512 training samples are rotated. Alignment (share of target heatmap peaks whose 4 x 4 input patch holds that joint's
colour, /tmp/s53/h85_d/sanity.py): fixed 0.929 (training path) / 0.979 (validation path), buggy 0.182 / 0.489.

Measured (my own plain loop, /tmp/s53/h85_d/measure.py: the module's builds, ``train()``'s step, 300 steps = 18.75
passes over the 16 batches, reshuffled each pass, torch seed 0, OMP_NUM_THREADS=1; identical initial weights):
  training loss x 1e3, means of 30-step blocks:
    buggy 12.71 5.41 4.83 4.40 4.15 3.96 3.75 3.61 3.51 3.38
    fixed 11.53 4.80 4.17 3.77 3.45 3.25 3.01 2.86 2.71 2.59
  after training, eval mode, loss x 1e3 / PCK (argmax within 0.8 px of the target's on the 16 x 16 map, the program's
  ``accuracy`` threshold of 0.5 x res / 10) / PCK at 2 px:
    512 training samples: buggy 3.46 / 0.165 / 0.773, fixed 2.49 / 0.345 / 0.933;
    64 held-out, each version's own validation path: buggy 3.10 / 0.178 / 0.844, fixed 2.29 / 0.353 / 0.961;
    the same 64 held-out frames correctly cropped (fixed path): buggy model 3.59 / 0.062 / 0.760.
  Loss at initialisation on ``batch`` (train mode): buggy 0.0788, fixed 0.0807. So the fault does not stop learning
  (half the samples are still aligned) but it slows the loss decrease (3.38 vs 2.59 x 1e-3 over the last 30 steps)
  and halves the exact keypoint hit rate (0.18 vs 0.35 held-out; 0.06 for the buggy model on correctly cropped
  frames).
  Time (on a shared 2-core machine at load ~8, so slower than an idle core): ~0.26-0.29 s per step; building both
  versions from scratch 41 s wall / 16 s CPU (imports, rendering and cropping 576 frames twice; cached afterwards).

Lead's edit: ``gradients_flow`` listed without ``task='regression'`` (it takes no ``task=``: the brief's list
showed its signature without one).
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any

import numpy as np

LABEL = "other:image_crop_transform_misaligned_with_keypoint_targets"
SOURCE = ("github:bearpaw/pytorch-pose pose/utils/transforms.py crop() @e09fb262c473e705075d20e8981368e94cdfc4a3 "
          "(cv2 port from b7ea7ed7bb6972d965ebae6abe59c979f98d53bc), fix 6d48375fde4d6ff0322775b342d563bcaf3f818a "
          "'Fixed rotation, resize bug in crop method' (+ 6963b58c); gDefects4DL pytorch-pose116 "
          "(llmhyy/defects4dl metadata/Database.xml: 'Input image width and height position reversed')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "regression"}), ("overfit_one_batch", {"task": "regression"}),
          ("input_independent_baseline", {"task": "regression"}), ("gradients_flow", {})]

SEED = 0
NJOINTS = 16  # mpii.njoints
INP_RES, OUT_RES = 64, 16  # the program: --inp-res 256, --out-res 64 (shrunk 4x, same ratio)
SIGMA = 1.0  # --sigma
SCALE_FACTOR, ROT_FACTOR = 0.25, 30.0  # --scale-factor, --rot-factor
LABEL_TYPE = "Gaussian"
BATCH_SIZE = 32  # experiments/mpii/256x256-hg-s1-b1-rmsprop-lr1e-3.sh: TRAINB=32
LR = 1e-3  # LR=1e-3, --solver rms, --momentum 0, --weight-decay 0
N_BATCHES = 16
N_INPUTS = 64
N_BASELINE = 64
IMG_H, IMG_W = 144, 256  # MPII images are 720 x 1280; scaled by 0.2 like the resolutions


# --------------------------------------------------------------------------------------------------------------
# Stand-ins for OpenCV / imutils (not installed): the semantics of cv2.resize (dsize = (width, height), bilinear),
# cv2.getRotationMatrix2D, cv2.warpAffine (bilinear, zero border) and imutils 0.5.4's rotate / rotate_bound.
# --------------------------------------------------------------------------------------------------------------
class _Cv2:
    INTER_LINEAR = 1

    @staticmethod
    def resize(img: np.ndarray, dsize: tuple[int, int], interpolation: int = 1) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        w, h = int(dsize[0]), int(dsize[1])
        t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float64))
        t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
        out = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0]
        out = out[0] if img.ndim == 2 else out.permute(1, 2, 0)
        return out.numpy().astype(img.dtype, copy=False)

    @staticmethod
    def getRotationMatrix2D(center: tuple[float, float], angle: float, scale: float) -> np.ndarray:
        a = math.radians(float(angle))
        alpha, beta = scale * math.cos(a), scale * math.sin(a)
        cx, cy = float(center[0]), float(center[1])
        return np.array([[alpha, beta, (1 - alpha) * cx - beta * cy],
                         [-beta, alpha, beta * cx + (1 - alpha) * cy]])

    @staticmethod
    def warpAffine(img: np.ndarray, M: np.ndarray, dsize: tuple[int, int]) -> np.ndarray:
        from scipy import ndimage

        w, h = int(dsize[0]), int(dsize[1])
        a_inv = np.linalg.inv(M[:, :2])
        off = -a_inv @ M[:, 2]
        mat = a_inv[::-1, ::-1]  # (x, y) -> (row, col)
        off_rc = off[::-1]
        chans = [img] if img.ndim == 2 else [img[..., k] for k in range(img.shape[2])]
        out = [ndimage.affine_transform(c, mat, offset=off_rc, output_shape=(h, w), order=1, mode="constant",
                                        cval=0.0) for c in chans]
        return out[0] if img.ndim == 2 else np.stack(out, -1)


cv2 = _Cv2()


class _Imutils:
    @staticmethod
    def rotate(image: np.ndarray, angle: float, center: Any = None, scale: float = 1.0) -> np.ndarray:
        (h, w) = image.shape[:2]
        if center is None:
            center = (w // 2, h // 2)
        M = cv2.getRotationMatrix2D(center, angle, scale)
        return cv2.warpAffine(image, M, (w, h))

    @staticmethod
    def rotate_bound(image: np.ndarray, angle: float) -> np.ndarray:
        (h, w) = image.shape[:2]
        (cX, cY) = (w / 2, h / 2)
        M = cv2.getRotationMatrix2D((cX, cY), -angle, 1.0)
        cos = np.abs(M[0, 0])
        sin = np.abs(M[0, 1])
        nW = int((h * sin) + (w * cos))
        nH = int((h * cos) + (w * sin))
        M[0, 2] += (nW / 2) - cX
        M[1, 2] += (nH / 2) - cY
        return cv2.warpAffine(image, M, (nW, nH))


imutils = _Imutils()


# --------------------------------------------------------------------------------------------------------------
# pose/utils/misc.py, imutils.py, transforms.py (the program's helpers, as written)
# --------------------------------------------------------------------------------------------------------------
def to_numpy(tensor: Any) -> np.ndarray:
    import torch

    if torch.is_tensor(tensor):
        return tensor.detach().cpu().numpy()
    return tensor


def to_torch(ndarray: Any) -> Any:
    import torch

    if type(ndarray).__module__ == 'numpy':
        return torch.from_numpy(ndarray)
    return ndarray


def im_to_numpy(img: Any) -> np.ndarray:
    img = to_numpy(img)
    img = np.transpose(img, (1, 2, 0))  # H*W*C
    return img


def im_to_torch(img: np.ndarray) -> Any:
    img = np.transpose(img, (2, 0, 1))  # C*H*W
    img = to_torch(img).float()
    if img.max() > 1:
        img /= 255
    return img


def draw_labelmap(img: Any, pt: Any, sigma: float, type: str = 'Gaussian') -> tuple[Any, int]:
    img = to_numpy(img)
    ul = [int(pt[0] - 3 * sigma), int(pt[1] - 3 * sigma)]
    br = [int(pt[0] + 3 * sigma + 1), int(pt[1] + 3 * sigma + 1)]
    if (ul[0] >= img.shape[1] or ul[1] >= img.shape[0] or
            br[0] < 0 or br[1] < 0):
        return to_torch(img), 0
    size = 6 * sigma + 1
    x = np.arange(0, size, 1, float)
    y = x[:, np.newaxis]
    x0 = y0 = size // 2
    if type == 'Gaussian':
        g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
    g_x = max(0, -ul[0]), min(br[0], img.shape[1]) - ul[0]
    g_y = max(0, -ul[1]), min(br[1], img.shape[0]) - ul[1]
    img_x = max(0, ul[0]), min(br[0], img.shape[1])
    img_y = max(0, ul[1]), min(br[1], img.shape[0])
    img[img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return to_torch(img), 1


def color_normalize(x: Any, mean: Any, std: Any) -> Any:
    if x.size(0) == 1:
        x = x.repeat(3, 1, 1)
    for t, m, s in zip(x, mean, std):
        t.sub_(m)
    return x


MATCHED_PARTS = ([0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13])


def shufflelr(x: Any, width: int, dataset: str = 'mpii') -> Any:
    x[:, 0] = width - x[:, 0]
    for pair in MATCHED_PARTS:
        tmp = x[pair[0], :].clone()
        x[pair[0], :] = x[pair[1], :]
        x[pair[1], :] = tmp
    return x


def fliplr(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        x = np.transpose(np.fliplr(np.transpose(x, (0, 2, 1))), (0, 2, 1))
    return x.astype(float)


def get_transform(center: Any, scale: Any, res: Any, rot: Any = 0) -> np.ndarray:
    h = 200 * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(res[1]) / h
    t[1, 1] = float(res[0]) / h
    t[0, 2] = res[1] * (-float(center[0]) / h + .5)
    t[1, 2] = res[0] * (-float(center[1]) / h + .5)
    t[2, 2] = 1
    if not rot == 0:
        rot = -rot  # To match direction of rotation from cropping
        rot_mat = np.zeros((3, 3))
        rot_rad = rot * np.pi / 180
        sn, cs = np.sin(rot_rad), np.cos(rot_rad)
        rot_mat[0, :2] = [cs, -sn]
        rot_mat[1, :2] = [sn, cs]
        rot_mat[2, 2] = 1
        t_mat = np.eye(3)
        t_mat[0, 2] = -res[1] / 2
        t_mat[1, 2] = -res[0] / 2
        t_inv = t_mat.copy()
        t_inv[:2, 2] *= -1
        t = np.dot(t_inv, np.dot(rot_mat, np.dot(t_mat, t)))
    return t


def transform(pt: Any, center: Any, scale: Any, res: Any, invert: int = 0, rot: Any = 0) -> np.ndarray:
    t = get_transform(center, scale, res, rot=rot)
    if invert:
        t = np.linalg.inv(t)
    new_pt = np.array([pt[0] - 1, pt[1] - 1, 1.]).T
    new_pt = np.dot(t, new_pt)
    return new_pt[:2].astype(int) + 1


def crop(img: Any, center: Any, scale: Any, res: Any, rot: Any = 0, fixed: bool = False) -> Any:
    """transforms.crop at e09fb26 (buggy) / 6963b58 (fixed); ``fixed`` selects the two lines of the fix."""
    import torch

    img = im_to_numpy(img)

    # Preprocessing for efficient cropping
    ht, wd = img.shape[0], img.shape[1]
    sf = scale * 200.0 / res[0]
    if sf < 2:
        sf = 1
    else:
        new_size = int(math.floor(max(ht, wd) / sf))  # np.math.floor in the program (np.math is gone in numpy 2)
        new_ht = int(math.floor(ht / sf))
        new_wd = int(math.floor(wd / sf))
        if new_size < 2:
            return torch.zeros(res[0], res[1], img.shape[2]) \
                        if len(img.shape) > 2 else torch.zeros(res[0], res[1])
        else:
            if fixed:
                img = cv2.resize(img, dsize=(new_wd, new_ht), interpolation=cv2.INTER_LINEAR)  # the fix
            else:
                img = cv2.resize(img, dsize=(new_ht, new_wd), interpolation=cv2.INTER_LINEAR)  # FAULT
            center = center * 1.0 / sf
            scale = scale / sf

    # Upper left point
    ul = np.array(transform([0, 0], center, scale, res, invert=1))
    # Bottom right point
    br = np.array(transform(res, center, scale, res, invert=1))

    # Padding so that when rotated proper amount of context is included
    pad = int(np.linalg.norm(br - ul) / 2 - float(br[1] - ul[1]) / 2)
    if not rot == 0:
        ul -= pad
        br += pad

    new_shape = [br[1] - ul[1], br[0] - ul[0]]
    if len(img.shape) > 2:
        new_shape += [img.shape[2]]
    new_img = np.zeros(new_shape)

    # Range to fill new array
    new_x = [max(0, -ul[0]), min(br[0], img.shape[1]) - ul[0]]
    new_y = [max(0, -ul[1]), min(br[1], img.shape[0]) - ul[1]]
    # Range to sample from original image
    old_x = [max(0, ul[0]), min(img.shape[1], br[0])]
    old_y = [max(0, ul[1]), min(img.shape[0], br[1])]

    if (new_x[1] < new_x[0]):
        tmp = new_x[1]
        new_x[1] = new_x[0]
        new_x[0] = tmp
        tmp = old_x[0]
        old_x[0] = old_x[1]
        old_x[1] = tmp
        # swapping the upper-left and bottom right point if upper-left goes out of image

    new_img[new_y[0]:new_y[1], new_x[0]:new_x[1]] = img[old_y[0]:old_y[1], old_x[0]:old_x[1]]

    if not rot == 0:
        # Remove padding
        if fixed:
            new_img = imutils.rotate(new_img, rot)  # the fix
        else:
            new_img = imutils.rotate_bound(new_img, rot)  # FAULT
        new_img = new_img[pad:-pad, pad:-pad]

    new_img = im_to_torch(cv2.resize(new_img, dsize=(res[0], res[1]), interpolation=cv2.INTER_LINEAR))
    return new_img


# --------------------------------------------------------------------------------------------------------------
# Stand-in for MPII (images + mpii_annotations.json entries): synthetic figures
# --------------------------------------------------------------------------------------------------------------
# template joints (x, y) in units of the figure's height, MPII order, facing the camera (its right at image left)
_TEMPLATE = np.array([
    [-0.09, 1.00], [-0.08, 0.74], [-0.07, 0.50], [0.07, 0.50], [0.08, 0.74], [0.09, 1.00],  # r ank..l ank
    [0.00, 0.50], [0.00, 0.20], [0.00, 0.13], [0.00, 0.00],  # pelvis, thorax, upper neck, head top
    [-0.20, 0.48], [-0.17, 0.34], [-0.12, 0.20], [0.12, 0.20], [0.17, 0.34], [0.20, 0.48]])  # r wri..l wri
_LIMBS = [(0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (7, 12), (7, 13),
          (10, 11), (11, 12), (13, 14), (14, 15)]
_JOINT_TYPE = [0, 1, 2, 2, 1, 0, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7]  # left and right of a pair look the same
_TYPE_COLORS = np.array([[1, .1, .1], [1, .6, 0], [1, 1, 0], [.2, 1, .2], [0, 1, 1], [.1, .4, 1],
                         [.7, .2, 1], [1, .3, .8], [.6, .6, .6], [1, 1, 1]])


@functools.lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:IMG_H, 0:IMG_W].astype(float)
    return yy, xx


def _person(rng: np.random.Generator) -> dict[str, Any]:
    """One image (3 x H x W in [0, 1]) with one figure; its joints (x, y, visible), objpos and scale_provided."""
    hgt = rng.uniform(70, 140)
    tilt = math.radians(rng.uniform(-15, 15))
    pts = _TEMPLATE + rng.normal(0, 0.035, _TEMPLATE.shape)
    pts[10:16:5, 1] += rng.uniform(-0.25, 0.05, 2)  # wrists up or down
    pts[[10, 15], 0] += rng.uniform(-0.08, 0.08, 2) * np.array([-1, 1])
    rot = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    pts = (pts - [0, 0.5]) @ rot.T * hgt
    cx, cy = rng.uniform(0.3 * IMG_W, 0.7 * IMG_W), rng.uniform(0.4 * IMG_H, 0.6 * IMG_H)
    pts = pts + [cx, cy]
    yy, xx = _grid()
    base = rng.uniform(0.2, 0.6, 3).astype("float32")
    wave_x = np.sin(np.arange(IMG_W)[:, None] / rng.uniform(8, 30) + rng.uniform(0, 6, 3)).astype("float32")
    wave_y = np.cos(np.arange(IMG_H) / rng.uniform(8, 30)).astype("float32")
    img = base + 0.15 * wave_y[:, None, None] * wave_x[None]  # (H, W, 3) background
    for _ in range(3):  # distractor boxes
        x0, y0, bw, bh = rng.uniform(0, IMG_W), rng.uniform(0, IMG_H), rng.uniform(5, 25), rng.uniform(5, 25)
        img[max(0, int(y0 - bh)):int(y0 + bh), max(0, int(x0 - bw)):int(x0 + bw)] = rng.uniform(0, 1, 3)
    thick, rad = 0.03 * hgt, 0.04 * hgt
    # draw inside the figure's bounding box only
    x_lo, y_lo = max(0, int(pts[:, 0].min() - rad - 2)), max(0, int(pts[:, 1].min() - rad - 2))
    x_hi, y_hi = min(IMG_W, int(pts[:, 0].max() + rad + 3)), min(IMG_H, int(pts[:, 1].max() + rad + 3))
    sub = img[y_lo:y_hi, x_lo:x_hi]
    ys, xs = yy[y_lo:y_hi, x_lo:x_hi], xx[y_lo:y_hi, x_lo:x_hi]
    body = np.zeros(ys.shape, bool)
    for a, b in _LIMBS:
        p, q = pts[a], pts[b]
        d = q - p
        t = np.clip(((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
        body |= (xs - p[0] - t * d[0]) ** 2 + (ys - p[1] - t * d[1]) ** 2 <= thick ** 2
    sub[body] = [0.85, 0.75, 0.6]
    for j in range(NJOINTS):
        disc = (xs - pts[j, 0]) ** 2 + (ys - pts[j, 1]) ** 2 <= rad ** 2
        sub[disc] = _TYPE_COLORS[_JOINT_TYPE[j]]
    img += 0.03 * rng.standard_normal(img.shape, dtype=np.float32)
    np.clip(img, 0, 1, out=img)
    joints = np.concatenate([pts, np.ones((NJOINTS, 1))], 1).astype("float32")
    return {"img": np.transpose(img, (2, 0, 1)), "joint_self": joints, "objpos": pts.mean(0).astype("float32"),
            "scale_provided": float(hgt / 200.0)}


def _get_item(a: dict[str, Any], is_train: bool, mean: Any, std: Any, fixed: bool) -> tuple[Any, Any]:
    """Mpii.__getitem__ (pose/datasets/mpii.py) on one stand-in annotation; returns (inp, target)."""
    import torch

    sf = SCALE_FACTOR
    rf = ROT_FACTOR
    pts = torch.Tensor(a['joint_self'])
    c = torch.Tensor(a['objpos'])
    s = a['scale_provided']

    # Adjust center/scale slightly to avoid cropping limbs
    if c[0] != -1:
        c[1] = c[1] + 15 * s
        s = s * 1.25

    nparts = pts.size(0)
    img = torch.from_numpy(a['img'].copy())  # load_image(img_path): CxHxW in [0, 1]

    r = 0
    if is_train:
        s = s*torch.randn(1).mul_(sf).add_(1).clamp(1-sf, 1+sf)[0]
        r = torch.randn(1).mul_(rf).clamp(-2*rf, 2*rf)[0] if random.random() <= 0.6 else 0

        # Flip
        if random.random() <= 0.5:
            img = torch.from_numpy(fliplr(img.numpy())).float()
            pts = shufflelr(pts, width=img.size(2), dataset='mpii')
            c[0] = img.size(2) - c[0]

        # Color
        img[0, :, :].mul_(random.uniform(0.8, 1.2)).clamp_(0, 1)
        img[1, :, :].mul_(random.uniform(0.8, 1.2)).clamp_(0, 1)
        img[2, :, :].mul_(random.uniform(0.8, 1.2)).clamp_(0, 1)

    s, r = float(s), float(r)  # (port) the same values as plain floats: numpy is slow on 0-d tensors
    # Prepare image and groundtruth map
    inp = crop(img, c, s, [INP_RES, INP_RES], rot=r, fixed=fixed)
    inp = color_normalize(inp, mean, std)

    # Generate ground truth
    tpts = pts.clone()
    target = torch.zeros(nparts, OUT_RES, OUT_RES)
    for i in range(nparts):
        if tpts[i, 1] > 0:
            tpts[i, 0:2] = to_torch(transform(tpts[i, 0:2]+1, c, s, [OUT_RES, OUT_RES], rot=r))
            target[i], vis = draw_labelmap(target[i], tpts[i]-1, SIGMA, type=LABEL_TYPE)
    return inp, target


@functools.lru_cache(maxsize=1)
def _annos() -> tuple[list[dict[str, Any]], Any, Any]:
    """The stand-in annotations (images included) and Mpii._compute_mean over the training list."""
    import torch

    rng = np.random.default_rng(SEED)
    annos = [_person(rng) for _ in range(N_BATCHES * BATCH_SIZE + N_INPUTS)]
    imgs = np.stack([a["img"] for a in annos[:N_BATCHES * BATCH_SIZE]])
    mean = torch.from_numpy(imgs.reshape(len(imgs), 3, -1).mean(2).mean(0))
    std = torch.from_numpy(imgs.reshape(len(imgs), 3, -1).std(2).mean(0))
    return annos, mean, std


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training samples (the training path, augmented) and held-out samples (the validation path), float32."""
    import torch

    annos, mean, std = _annos()
    n_tr = N_BATCHES * BATCH_SIZE
    random.seed(SEED)
    torch.manual_seed(SEED)
    tr = [_get_item(a, True, mean, std, fixed) for a in annos[:n_tr]]
    te = [_get_item(a, False, mean, std, fixed) for a in annos[n_tr:]]
    x = torch.stack([t[0] for t in tr]).numpy()
    y = torch.stack([t[1] for t in tr]).numpy()
    xh = torch.stack([t[0] for t in te]).numpy()
    yh = torch.stack([t[1] for t in te]).numpy()
    return x, y, xh, yh


# --------------------------------------------------------------------------------------------------------------
# pose/models/hourglass.py (widths shrunk: inplanes 64 -> 16, num_feats 128 -> 32), pose/losses/jointsmseloss.py
# --------------------------------------------------------------------------------------------------------------
def _hourglass_net() -> Any:
    import torch.nn as nn
    import torch.nn.functional as F

    class Bottleneck(nn.Module):
        expansion = 2

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super(Bottleneck, self).__init__()
            self.bn1 = nn.BatchNorm2d(inplanes)
            self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=True)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=True)
            self.bn3 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 2, kernel_size=1, bias=True)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            residual = x
            out = self.bn1(x)
            out = self.relu(out)
            out = self.conv1(out)
            out = self.bn2(out)
            out = self.relu(out)
            out = self.conv2(out)
            out = self.bn3(out)
            out = self.relu(out)
            out = self.conv3(out)
            if self.downsample is not None:
                residual = self.downsample(x)
            out += residual
            return out

    class Hourglass(nn.Module):
        def __init__(self, block, num_blocks, planes, depth):
            super(Hourglass, self).__init__()
            self.depth = depth
            self.block = block
            self.hg = self._make_hour_glass(block, num_blocks, planes, depth)

        def _make_residual(self, block, num_blocks, planes):
            layers = []
            for i in range(0, num_blocks):
                layers.append(block(planes*block.expansion, planes))
            return nn.Sequential(*layers)

        def _make_hour_glass(self, block, num_blocks, planes, depth):
            hg = []
            for i in range(depth):
                res = []
                for j in range(3):
                    res.append(self._make_residual(block, num_blocks, planes))
                if i == 0:
                    res.append(self._make_residual(block, num_blocks, planes))
                hg.append(nn.ModuleList(res))
            return nn.ModuleList(hg)

        def _hour_glass_forward(self, n, x):
            up1 = self.hg[n-1][0](x)
            low1 = F.max_pool2d(x, 2, stride=2)
            low1 = self.hg[n-1][1](low1)
            if n > 1:
                low2 = self._hour_glass_forward(n-1, low1)
            else:
                low2 = self.hg[n-1][3](low1)
            low3 = self.hg[n-1][2](low2)
            up2 = F.interpolate(low3, scale_factor=2)
            out = up1 + up2
            return out

        def forward(self, x):
            return self._hour_glass_forward(self.depth, x)

    class HourglassNet(nn.Module):
        def __init__(self, block, num_stacks=2, num_blocks=4, num_classes=16):
            super(HourglassNet, self).__init__()
            self.inplanes = 8
            self.num_feats = 16
            self.num_stacks = num_stacks
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=True)
            self.bn1 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = self._make_residual(block, self.inplanes, 1)
            self.layer2 = self._make_residual(block, self.inplanes, 1)
            self.layer3 = self._make_residual(block, self.num_feats, 1)
            self.maxpool = nn.MaxPool2d(2, stride=2)
            ch = self.num_feats*block.expansion
            hg, res, fc, score, fc_, score_ = [], [], [], [], [], []
            for i in range(num_stacks):
                hg.append(Hourglass(block, num_blocks, self.num_feats, 2))  # depth 4 at 64x64 maps
                res.append(self._make_residual(block, self.num_feats, num_blocks))
                fc.append(self._make_fc(ch, ch))
                score.append(nn.Conv2d(ch, num_classes, kernel_size=1, bias=True))
                if i < num_stacks-1:
                    fc_.append(nn.Conv2d(ch, ch, kernel_size=1, bias=True))
                    score_.append(nn.Conv2d(num_classes, ch, kernel_size=1, bias=True))
            self.hg = nn.ModuleList(hg)
            self.res = nn.ModuleList(res)
            self.fc = nn.ModuleList(fc)
            self.score = nn.ModuleList(score)
            self.fc_ = nn.ModuleList(fc_)
            self.score_ = nn.ModuleList(score_)

        def _make_residual(self, block, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=True),
                )
            layers = []
            layers.append(block(self.inplanes, planes, stride, downsample))
            self.inplanes = planes * block.expansion
            for i in range(1, blocks):
                layers.append(block(self.inplanes, planes))
            return nn.Sequential(*layers)

        def _make_fc(self, inplanes, outplanes):
            bn = nn.BatchNorm2d(inplanes)
            conv = nn.Conv2d(inplanes, outplanes, kernel_size=1, bias=True)
            return nn.Sequential(conv, bn, self.relu)

        def forward(self, x):
            out = []
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)
            x = self.layer1(x)
            x = self.maxpool(x)
            x = self.layer2(x)
            x = self.layer3(x)
            for i in range(self.num_stacks):
                y = self.hg[i](x)
                y = self.res[i](y)
                y = self.fc[i](y)
                score = self.score[i](y)
                out.append(score)
                if i < self.num_stacks-1:
                    fc_ = self.fc_[i](y)
                    score_ = self.score_[i](score)
                    x = x + fc_ + score_
            return out

    class LastStack(nn.Module):
        """Returns the last (here: the only) stack's heatmaps as one tensor instead of a one-element list."""

        def __init__(self):
            super().__init__()
            self.net = HourglassNet(Bottleneck, num_stacks=1, num_blocks=1, num_classes=NJOINTS)  # -s 1 -b 1

        def forward(self, x):
            return self.net(x)[-1]

    return LastStack()


def _joints_mse_loss() -> Any:
    import torch.nn as nn

    class JointsMSELoss(nn.Module):
        def __init__(self, use_target_weight=True):
            super(JointsMSELoss, self).__init__()
            self.criterion = nn.MSELoss(reduction='mean')
            self.use_target_weight = use_target_weight

        def forward(self, output, target, target_weight):
            batch_size = output.size(0)
            num_joints = output.size(1)
            heatmaps_pred = output.reshape((batch_size, num_joints, -1)).split(1, 1)
            heatmaps_gt = target.reshape((batch_size, num_joints, -1)).split(1, 1)
            loss = 0
            for idx in range(num_joints):
                heatmap_pred = heatmaps_pred[idx].squeeze()
                heatmap_gt = heatmaps_gt[idx].squeeze()
                if self.use_target_weight:
                    loss += 0.5 * self.criterion(
                        heatmap_pred.mul(target_weight[:, idx]),
                        heatmap_gt.mul(target_weight[:, idx])
                    )
                else:
                    loss += 0.5 * self.criterion(heatmap_pred, heatmap_gt)
            return loss / num_joints

    return JointsMSELoss()


def _build(fixed: bool) -> dict[str, Any]:
    import torch

    x, y, xh, _ = _data(fixed)
    torch.manual_seed(SEED)
    model = _hourglass_net()
    criterion = _joints_mse_loss()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR, momentum=0, weight_decay=0)

    def loss_fn(output, target):
        # meta['target_weight'] = visibility (1 for every stand-in joint) x draw_labelmap's vis, i.e. 0 exactly
        # where the target heatmap is empty
        target_weight = (target.flatten(2).amax(2) > 0).float().unsqueeze(2)
        return criterion(output, target, target_weight)

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xh),
            "loss_fn": loss_fn, "optimizer": optimizer, "baseline_batch": (xt[:N_BASELINE], yt[:N_BASELINE])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
