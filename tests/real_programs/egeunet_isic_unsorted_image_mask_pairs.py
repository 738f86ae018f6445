"""EGE-UNet (JCruan519/EGE-UNet), a ~50K-parameter skin-lesion segmentation network (ISIC 2017/2018):
``NPY_datasets`` pairs the i-th entry of ``os.listdir(path_Data + 'train/images/')`` with the i-th entry
of ``os.listdir(path_Data + 'train/masks/')``. ``os.listdir`` returns names in file-system order, not
sorted, so on most systems the two listings come back in different orders and every image is trained
against another image's lesion mask: the network can only learn the average mask, and its predictions fit
other samples' masks as well as their own.

Source: github.com/JCruan519/EGE-UNet issue #1 ("Your dataset.py code should add sorting to the list,
otherwise it will cause the image to not match the corresponding mask"), fixed by commit f52ba30
"Update dataset.py" (2023-07-20), which adds ``images_list = sorted(images_list)`` and ``masks_list =
sorted(masks_list)`` for the train and val splits. Program at f52ba30^: ``datasets/dataset.py``,
``models/egeunet.py`` (``EGEUNet(num_classes=1, input_channels=3, c_list=[8,16,24,32,48,64],
bridge=True, gt_ds=True)``, model lines kept: depth-wise/Hadamard-product attention blocks, group
aggregation bridges, deep supervision, sigmoid outputs), ``utils.py`` (``GT_BceDiceLoss(wb=1, wd=1)``,
``myNormalize('isic17', train=True)``: ``(img - 159.922) / 28.871`` then min-max rescaled to [0, 255],
``myToTensor``), ``configs/config_setting.py`` (AdamW lr 0.001, betas (0.9, 0.999), eps 1e-8,
weight_decay 1e-2; batch_size 8; seed 42).
Ported minimally: ``forward`` returns ``(gt_pre5..gt_pre1), out0`` in the program; here the five
deep-supervision maps are concatenated after ``out0`` on the channel axis (N, 6, H, W), and ``loss_fn`` is
``GT_BceDiceLoss`` applied to that split (channel 0 = ``out0``, channels 1..5 = ``gt_pre5..gt_pre1``), so
the loss is the program's. ``timm``'s ``trunc_normal_`` is ``torch.nn.init.trunc_normal_`` (the model has
no Linear layer, so it is never called). Images are 32x32 instead of 256x256 (``myResize``; the network
needs a multiple of 32); the random flips/rotation of the training transform are left out.
Data stand-in: 128 ISIC-like RGB images (skin-coloured background, a darker elliptical lesion at a random
place and size, noise), masks 0/1 from the lesion, files named ``ISIC_00000NN.jpg`` /
``ISIC_00000NN_segmentation.png``; the buggy dataset takes the mask listing in a fixed shuffled order (a
stand-in for the file-system order ``os.listdir`` gives), the fix sorts both listings.
Batches: 16 of 8 (the program's batch size); ``batch`` is the first 64 samples (for the checks that need
at least 64).
Fault label: no_input_signal. Fix (f52ba30): ``sorted()`` on both listings, so image i meets its own mask.
Measured (plain loop, AdamW as configured, 150 steps cycling the first 12 batches of 8, the last 32
samples held out and scored against their true masks): buggy train loss 4.18 -> 2.38, held-out loss
against each image's own mask 2.27 vs against another image's mask 2.30 (no input signal); fixed 3.84 ->
1.31, held-out own 1.26 vs other 3.40. Speed on one CPU thread of a shared machine: about 130 ms per
step on a batch of 8 and 250-480 ms on the 64-sample batch (the network is many small ops; 32x32 is the
smallest input it takes). The inputs stay in [0, 255] after ``myNormalize`` in both versions (the
program's own preprocessing, unchanged by the fix).
No Keras twin: the architecture (grouped multi-axis Hadamard-product attention with interpolated learned
maps, group aggregation bridges) is PyTorch-only in the source; the fault is in the file pairing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LABEL = "no_input_signal"
SOURCE = ("github:JCruan519/EGE-UNet issue #1 (datasets/dataset.py@f52ba30^, models/egeunet.py, utils.py, "
          "configs/config_setting.py; fix f52ba30 'Update dataset.py')")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {})]

seed = 42
batch_size = 8
input_size = 32  # 256 in the program
lr, betas, eps, weight_decay = 0.001, (0.9, 0.999), 1e-8, 1e-2  # opt = 'AdamW'
ISIC17_TRAIN_MEAN, ISIC17_TRAIN_STD = 159.922, 28.871  # myNormalize('isic17', train=True)
N = 128


def _files(n: int = N, seed_: int = 0) -> dict[str, np.ndarray]:
    """ISIC-like images (uint8 HWC) and 0/255 masks keyed by file name."""
    rng = np.random.default_rng(seed_)
    yy, xx = np.mgrid[0:input_size, 0:input_size]
    files: dict[str, np.ndarray] = {}
    for i in range(n):
        skin = np.array([205, 160, 140]) + rng.normal(0, 12, 3)
        img = np.ones((input_size, input_size, 3)) * skin
        cy, cx = rng.uniform(9, 23, 2)
        ry, rx = rng.uniform(4, 10, 2)
        lesion = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        img[lesion] = img[lesion] * rng.uniform(0.35, 0.6) + rng.normal(0, 5, 3)
        img += rng.normal(0, 10, img.shape)
        files[f"images/ISIC_{i:07d}.jpg"] = np.clip(img, 0, 255).astype("uint8")
        files[f"masks/ISIC_{i:07d}_segmentation.png"] = (lesion * 255).astype("uint8")
    return files


def _dataset(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    files = _files()
    images_list = [k.split("/")[1] for k in files if k.startswith("images/")]
    masks_list = [k.split("/")[1] for k in files if k.startswith("masks/")]
    # os.listdir's file-system order: a fixed shuffle of each directory's names (stand-in)
    rng = np.random.default_rng(1)
    images_list = [images_list[i] for i in rng.permutation(len(images_list))]
    masks_list = [masks_list[i] for i in rng.permutation(len(masks_list))]
    if fixed:  # f52ba30
        images_list = sorted(images_list)
        masks_list = sorted(masks_list)
    xs, ys = [], []
    for i in range(len(images_list)):
        img = files["images/" + images_list[i]].astype("float64")
        msk = np.expand_dims(files["masks/" + masks_list[i]], axis=2) / 255
        img_normalized = (img - ISIC17_TRAIN_MEAN) / ISIC17_TRAIN_STD  # myNormalize
        img_normalized = ((img_normalized - np.min(img_normalized))
                          / (np.max(img_normalized) - np.min(img_normalized))) * 255.
        xs.append(img_normalized.transpose(2, 0, 1))  # myToTensor: permute(2, 0, 1)
        ys.append(msk.transpose(2, 0, 1))
    return np.stack(xs).astype("float32"), np.stack(ys).astype("float32")


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(seed)
    trunc_normal_ = nn.init.trunc_normal_

    class DepthWiseConv2d(nn.Module):
        def __init__(self, dim_in, dim_out, kernel_size=3, padding=1, stride=1, dilation=1):
            super().__init__()
            self.conv1 = nn.Conv2d(dim_in, dim_in, kernel_size=kernel_size, padding=padding,
                                   stride=stride, dilation=dilation, groups=dim_in)
            self.norm_layer = nn.GroupNorm(4, dim_in)
            self.conv2 = nn.Conv2d(dim_in, dim_out, kernel_size=1)

        def forward(self, x):
            return self.conv2(self.norm_layer(self.conv1(x)))

    class LayerNorm(nn.Module):
        def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(normalized_shape))
            self.bias = nn.Parameter(torch.zeros(normalized_shape))
            self.eps = eps
            self.data_format = data_format
            if self.data_format not in ["channels_last", "channels_first"]:
                raise NotImplementedError
            self.normalized_shape = (normalized_shape, )

        def forward(self, x):
            if self.data_format == "channels_last":
                return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            elif self.data_format == "channels_first":
                u = x.mean(1, keepdim=True)
                s = (x - u).pow(2).mean(1, keepdim=True)
                x = (x - u) / torch.sqrt(s + self.eps)
                x = self.weight[:, None, None] * x + self.bias[:, None, None]
                return x

    class group_aggregation_bridge(nn.Module):
        def __init__(self, dim_xh, dim_xl, k_size=3, d_list=[1, 2, 5, 7]):
            super().__init__()
            self.pre_project = nn.Conv2d(dim_xh, dim_xl, 1)
            group_size = dim_xl // 2

            def branch(d):
                return nn.Sequential(
                    LayerNorm(normalized_shape=group_size + 1, data_format='channels_first'),
                    nn.Conv2d(group_size + 1, group_size + 1, kernel_size=3, stride=1,
                              padding=(k_size + (k_size - 1) * (d - 1)) // 2, dilation=d, groups=group_size + 1))
            self.g0, self.g1, self.g2, self.g3 = (branch(d) for d in d_list)
            self.tail_conv = nn.Sequential(
                LayerNorm(normalized_shape=dim_xl * 2 + 4, data_format='channels_first'),
                nn.Conv2d(dim_xl * 2 + 4, dim_xl, 1)
            )

        def forward(self, xh, xl, mask):
            xh = self.pre_project(xh)
            xh = F.interpolate(xh, size=[xl.size(2), xl.size(3)], mode='bilinear', align_corners=True)
            xh = torch.chunk(xh, 4, dim=1)
            xl = torch.chunk(xl, 4, dim=1)
            x0 = self.g0(torch.cat((xh[0], xl[0], mask), dim=1))
            x1 = self.g1(torch.cat((xh[1], xl[1], mask), dim=1))
            x2 = self.g2(torch.cat((xh[2], xl[2], mask), dim=1))
            x3 = self.g3(torch.cat((xh[3], xl[3], mask), dim=1))
            x = torch.cat((x0, x1, x2, x3), dim=1)
            x = self.tail_conv(x)
            return x

    class Grouped_multi_axis_Hadamard_Product_Attention(nn.Module):
        def __init__(self, dim_in, dim_out, x=8, y=8):
            super().__init__()
            c_dim_in = dim_in // 4
            k_size = 3
            pad = (k_size - 1) // 2
            self.params_xy = nn.Parameter(torch.Tensor(1, c_dim_in, x, y), requires_grad=True)
            nn.init.ones_(self.params_xy)
            self.conv_xy = nn.Sequential(nn.Conv2d(c_dim_in, c_dim_in, kernel_size=k_size, padding=pad, groups=c_dim_in),
                                         nn.GELU(), nn.Conv2d(c_dim_in, c_dim_in, 1))
            self.params_zx = nn.Parameter(torch.Tensor(1, 1, c_dim_in, x), requires_grad=True)
            nn.init.ones_(self.params_zx)
            self.conv_zx = nn.Sequential(nn.Conv1d(c_dim_in, c_dim_in, kernel_size=k_size, padding=pad, groups=c_dim_in),
                                         nn.GELU(), nn.Conv1d(c_dim_in, c_dim_in, 1))
            self.params_zy = nn.Parameter(torch.Tensor(1, 1, c_dim_in, y), requires_grad=True)
            nn.init.ones_(self.params_zy)
            self.conv_zy = nn.Sequential(nn.Conv1d(c_dim_in, c_dim_in, kernel_size=k_size, padding=pad, groups=c_dim_in),
                                         nn.GELU(), nn.Conv1d(c_dim_in, c_dim_in, 1))
            self.dw = nn.Sequential(
                nn.Conv2d(c_dim_in, c_dim_in, 1),
                nn.GELU(),
                nn.Conv2d(c_dim_in, c_dim_in, kernel_size=3, padding=1, groups=c_dim_in)
            )
            self.norm1 = LayerNorm(dim_in, eps=1e-6, data_format='channels_first')
            self.norm2 = LayerNorm(dim_in, eps=1e-6, data_format='channels_first')
            self.ldw = nn.Sequential(
                nn.Conv2d(dim_in, dim_in, kernel_size=3, padding=1, groups=dim_in),
                nn.GELU(),
                nn.Conv2d(dim_in, dim_out, 1),
            )

        def forward(self, x):
            x = self.norm1(x)
            x1, x2, x3, x4 = torch.chunk(x, 4, dim=1)
            B, C, H, W = x1.size()
            params_xy = self.params_xy
            x1 = x1 * self.conv_xy(F.interpolate(params_xy, size=x1.shape[2:4], mode='bilinear', align_corners=True))
            x2 = x2.permute(0, 3, 1, 2)
            params_zx = self.params_zx
            x2 = x2 * self.conv_zx(F.interpolate(params_zx, size=x2.shape[2:4], mode='bilinear',
                                                 align_corners=True).squeeze(0)).unsqueeze(0)
            x2 = x2.permute(0, 2, 3, 1)
            x3 = x3.permute(0, 2, 1, 3)
            params_zy = self.params_zy
            x3 = x3 * self.conv_zy(F.interpolate(params_zy, size=x3.shape[2:4], mode='bilinear',
                                                 align_corners=True).squeeze(0)).unsqueeze(0)
            x3 = x3.permute(0, 2, 1, 3)
            x4 = self.dw(x4)
            x = torch.cat([x1, x2, x3, x4], dim=1)
            x = self.norm2(x)
            x = self.ldw(x)
            return x

    GHPA = Grouped_multi_axis_Hadamard_Product_Attention

    class EGEUNet(nn.Module):
        def __init__(self, num_classes=1, input_channels=3, c_list=[8, 16, 24, 32, 48, 64], bridge=True, gt_ds=True):
            super().__init__()
            self.bridge = bridge
            self.gt_ds = gt_ds
            self.encoder1 = nn.Sequential(nn.Conv2d(input_channels, c_list[0], 3, stride=1, padding=1))
            self.encoder2 = nn.Sequential(nn.Conv2d(c_list[0], c_list[1], 3, stride=1, padding=1))
            self.encoder3 = nn.Sequential(nn.Conv2d(c_list[1], c_list[2], 3, stride=1, padding=1))
            self.encoder4 = nn.Sequential(GHPA(c_list[2], c_list[3]))
            self.encoder5 = nn.Sequential(GHPA(c_list[3], c_list[4]))
            self.encoder6 = nn.Sequential(GHPA(c_list[4], c_list[5]))
            if bridge:
                self.GAB1 = group_aggregation_bridge(c_list[1], c_list[0])
                self.GAB2 = group_aggregation_bridge(c_list[2], c_list[1])
                self.GAB3 = group_aggregation_bridge(c_list[3], c_list[2])
                self.GAB4 = group_aggregation_bridge(c_list[4], c_list[3])
                self.GAB5 = group_aggregation_bridge(c_list[5], c_list[4])
            if gt_ds:
                self.gt_conv1 = nn.Sequential(nn.Conv2d(c_list[4], 1, 1))
                self.gt_conv2 = nn.Sequential(nn.Conv2d(c_list[3], 1, 1))
                self.gt_conv3 = nn.Sequential(nn.Conv2d(c_list[2], 1, 1))
                self.gt_conv4 = nn.Sequential(nn.Conv2d(c_list[1], 1, 1))
                self.gt_conv5 = nn.Sequential(nn.Conv2d(c_list[0], 1, 1))
            self.decoder1 = nn.Sequential(GHPA(c_list[5], c_list[4]))
            self.decoder2 = nn.Sequential(GHPA(c_list[4], c_list[3]))
            self.decoder3 = nn.Sequential(GHPA(c_list[3], c_list[2]))
            self.decoder4 = nn.Sequential(nn.Conv2d(c_list[2], c_list[1], 3, stride=1, padding=1))
            self.decoder5 = nn.Sequential(nn.Conv2d(c_list[1], c_list[0], 3, stride=1, padding=1))
            self.ebn1 = nn.GroupNorm(4, c_list[0])
            self.ebn2 = nn.GroupNorm(4, c_list[1])
            self.ebn3 = nn.GroupNorm(4, c_list[2])
            self.ebn4 = nn.GroupNorm(4, c_list[3])
            self.ebn5 = nn.GroupNorm(4, c_list[4])
            self.dbn1 = nn.GroupNorm(4, c_list[4])
            self.dbn2 = nn.GroupNorm(4, c_list[3])
            self.dbn3 = nn.GroupNorm(4, c_list[2])
            self.dbn4 = nn.GroupNorm(4, c_list[1])
            self.dbn5 = nn.GroupNorm(4, c_list[0])
            self.final = nn.Conv2d(c_list[0], num_classes, kernel_size=1)
            self.apply(self._init_weights)

        def _init_weights(self, m):
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Conv1d):
                n = m.kernel_size[0] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2. / n))
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                fan_out //= m.groups
                m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    m.bias.data.zero_()

        def forward(self, x):  # gt_ds=True, bridge=True path
            out = F.gelu(F.max_pool2d(self.ebn1(self.encoder1(x)), 2, 2))
            t1 = out
            out = F.gelu(F.max_pool2d(self.ebn2(self.encoder2(out)), 2, 2))
            t2 = out
            out = F.gelu(F.max_pool2d(self.ebn3(self.encoder3(out)), 2, 2))
            t3 = out
            out = F.gelu(F.max_pool2d(self.ebn4(self.encoder4(out)), 2, 2))
            t4 = out
            out = F.gelu(F.max_pool2d(self.ebn5(self.encoder5(out)), 2, 2))
            t5 = out
            out = F.gelu(self.encoder6(out))
            t6 = out
            out5 = F.gelu(self.dbn1(self.decoder1(out)))
            gt_pre5 = self.gt_conv1(out5)
            t5 = self.GAB5(t6, t5, gt_pre5)
            gt_pre5 = F.interpolate(gt_pre5, scale_factor=32, mode='bilinear', align_corners=True)
            out5 = torch.add(out5, t5)
            out4 = F.gelu(F.interpolate(self.dbn2(self.decoder2(out5)), scale_factor=(2, 2), mode='bilinear', align_corners=True))
            gt_pre4 = self.gt_conv2(out4)
            t4 = self.GAB4(t5, t4, gt_pre4)
            gt_pre4 = F.interpolate(gt_pre4, scale_factor=16, mode='bilinear', align_corners=True)
            out4 = torch.add(out4, t4)
            out3 = F.gelu(F.interpolate(self.dbn3(self.decoder3(out4)), scale_factor=(2, 2), mode='bilinear', align_corners=True))
            gt_pre3 = self.gt_conv3(out3)
            t3 = self.GAB3(t4, t3, gt_pre3)
            gt_pre3 = F.interpolate(gt_pre3, scale_factor=8, mode='bilinear', align_corners=True)
            out3 = torch.add(out3, t3)
            out2 = F.gelu(F.interpolate(self.dbn4(self.decoder4(out3)), scale_factor=(2, 2), mode='bilinear', align_corners=True))
            gt_pre2 = self.gt_conv4(out2)
            t2 = self.GAB2(t3, t2, gt_pre2)
            gt_pre2 = F.interpolate(gt_pre2, scale_factor=4, mode='bilinear', align_corners=True)
            out2 = torch.add(out2, t2)
            out1 = F.gelu(F.interpolate(self.dbn5(self.decoder5(out2)), scale_factor=(2, 2), mode='bilinear', align_corners=True))
            gt_pre1 = self.gt_conv5(out1)
            t1 = self.GAB1(t2, t1, gt_pre1)
            gt_pre1 = F.interpolate(gt_pre1, scale_factor=2, mode='bilinear', align_corners=True)
            out1 = torch.add(out1, t1)
            out0 = F.interpolate(self.final(out1), scale_factor=(2, 2), mode='bilinear', align_corners=True)
            return ((torch.sigmoid(gt_pre5), torch.sigmoid(gt_pre4), torch.sigmoid(gt_pre3),
                     torch.sigmoid(gt_pre2), torch.sigmoid(gt_pre1)), torch.sigmoid(out0))

    class EGEUNetStacked(nn.Module):
        """``out0`` and the five deep-supervision maps on the channel axis: (N, 6, H, W)."""

        def __init__(self):
            super().__init__()
            self.net = EGEUNet(num_classes=1, input_channels=3, c_list=[8, 16, 24, 32, 48, 64], bridge=True, gt_ds=True)

        def forward(self, x):
            gt_pre, out = self.net(x)
            return torch.cat((out,) + tuple(gt_pre), dim=1)

    class BCELoss(nn.Module):
        def __init__(self):
            super(BCELoss, self).__init__()
            self.bceloss = nn.BCELoss()

        def forward(self, pred, target):
            size = pred.size(0)
            pred_ = pred.view(size, -1)
            target_ = target.view(size, -1)
            return self.bceloss(pred_, target_)

    class DiceLoss(nn.Module):
        def forward(self, pred, target):
            smooth = 1
            size = pred.size(0)
            pred_ = pred.view(size, -1)
            target_ = target.view(size, -1)
            intersection = pred_ * target_
            dice_score = (2 * intersection.sum(1) + smooth) / (pred_.sum(1) + target_.sum(1) + smooth)
            dice_loss = 1 - dice_score.sum() / size
            return dice_loss

    class BceDiceLoss(nn.Module):
        def __init__(self, wb=1, wd=1):
            super(BceDiceLoss, self).__init__()
            self.bce = BCELoss()
            self.dice = DiceLoss()
            self.wb = wb
            self.wd = wd

        def forward(self, pred, target):
            bceloss = self.bce(pred, target)
            diceloss = self.dice(pred, target)
            loss = self.wd * diceloss + self.wb * bceloss
            return loss

    class GT_BceDiceLoss(nn.Module):
        def __init__(self, wb=1, wd=1):
            super(GT_BceDiceLoss, self).__init__()
            self.bcedice = BceDiceLoss(wb, wd)

        def forward(self, stacked, target):  # ported: (out, gt_pre5..gt_pre1) stacked on dim 1
            out = stacked[:, 0:1].contiguous()
            gt_pre5, gt_pre4, gt_pre3, gt_pre2, gt_pre1 = (stacked[:, i:i + 1].contiguous() for i in range(1, 6))
            bcediceloss = self.bcedice(out, target)
            gt_loss = (self.bcedice(gt_pre5, target) * 0.1 + self.bcedice(gt_pre4, target) * 0.2
                       + self.bcedice(gt_pre3, target) * 0.3 + self.bcedice(gt_pre2, target) * 0.4
                       + self.bcedice(gt_pre1, target) * 0.5)
            return bcediceloss + gt_loss

    x, y = _dataset(fixed)
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": EGEUNetStacked(), "batch": (xt[:64], yt[:64]), "batches": batches, "inputs": xt[:64],
            "loss_fn": GT_BceDiceLoss(wb=1, wd=1),
            "optimizer": lambda p: torch.optim.AdamW(p, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    assert framework == "torch"
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    assert framework == "torch"
    return _build(fixed=True)
