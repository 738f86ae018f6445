"""DeepReinforcementLearningInAction (Manning book "Deep Reinforcement Learning in Action", the companion notebooks),
Chapter 10 "Relational Deep Reinforcement Learning", Listings 10.1-10.5: before the relational module is used as an
RL agent it is trained as a supervised classifier on augmented MNIST. ``prepare_images`` rotates (+-30 degrees),
translates (+-6 px), sprinkles random bright spots on each digit and divides by the image maximum; the
``RelationalModule`` runs four 4x4 convolutions (16, 20, 24, 30 channels), appends the (x, y) coordinates of every
cell of the last feature map, treats the 16 x 16 cells as nodes, projects them to keys / queries / values
(node size 36, each layer-normalised), applies one dot-product self-attention, a Linear + ReLU + LayerNorm, a max
over the nodes and a Linear(36, 10) + log_softmax. Listing 10.4 trains it with ``Adam(lr=1e-3)`` and ``NLLLoss``
for 1000 iterations, each on a fresh batch of 300 random training images.

The fault (the optimiser step is outside the training loop): in Listing 10.4 the last line ``opt.step()`` was
indented at the level of the ``for`` statement instead of inside its body. Every iteration zeroes the gradients,
runs the forward pass and ``loss.backward()``, and nothing else; after the 1000 iterations a single Adam step is
taken with the gradient of the last batch. The network is therefore left at (one step away from) its random
initialisation: the batch accuracy ``acc_`` the loop computes stays at chance and the loss never moves, although
every gradient is computed correctly. Fixed by PR #13 (Ryu Gwang, "Fix wrong indentation in the MNIST example
training loop ... opt.step() should be in the `for` loop."), which moves the line into the loop; the notebook's
later saved run of the fixed cells (b035945 "All the notebooks are working now.") prints a test accuracy of
0.96 from ``test_acc``.

Source: github.com/DeepReinforcementLearning/DeepReinforcementLearningInAction ``Chapter 10/Ch10_book.ipynb``
(cells "Listing 10.1", "Listing 10.2/10.3", "Listing 10.4", "Listing 10.5") at
ffaf8ce98b69e9d76f3bdc566c6a24b798c3bf9f (= 5397368^; the cell as written in b7a748ef "edits plus ch 10");
fix 5397368cee0c0b7c2dc3774f2abf405b9a6cc551, PR #13, merged as 95ce516cf236a1d7a95a8dd4557936e9d97b30c2.
Fault label: params_not_updated (the loop computes gradients but never applies them).

Kept verbatim: the training-loop body of Listing 10.4 (``opt.zero_grad()``, forward, ``pred_labels`` / ``acc_`` /
``correct`` bookkeeping, ``lossfn(pred,yt)``, ``loss.backward()``; ``correct[[rows, ...]]`` indexed with a tuple
instead of a list, which torch now warns about), with ``opt.step()`` in the fixed version only
(the buggy program calls it once after all iterations, i.e. never inside a step of the loop); ``Adam(lr=1e-3)``,
``nn.NLLLoss()``, batch size 300, PyTorch's default initialisation, the ``forward`` of ``RelationalModule`` line for
line (including its ``x.squeeze()`` after conv2, so it needs a batch of more than one image), the layer widths
16 / 20 / 24 / 30 channels and node size 36, and ``prepare_images`` / ``add_spots`` step by step.
Shrunk, and why: at 28 x 28 the module has 256 nodes and one Adam step on a batch of 300 takes about 1 s on one
CPU core (measured), far over budget. The images are 16 x 16 instead, so the last feature map is 4 x 4 and
``self.N = int(4**2)`` instead of ``int(16**2)`` (``self.H``, ``self.W``: 16; unused by the program); one step then
takes ~60 ms. ``prepare_images``' default ``maxtrans`` is 3 instead of 6 to keep the same shift relative to the
image (6 / 28 ~ 3 / 16); the noise spots (``m=noise=10`` plus |N(0, 5)|) are unchanged, so they cover ~5 % of the
pixels instead of ~2 %. Replaced: torchvision is not installed, so ``TV.transforms.functional.affine(img, rot,
(xtrans, ytrans), 1, 0)`` is done with PIL's ``Image.rotate(-rot, NEAREST, translate=(xtrans, ytrans))`` (rotation
about the centre, clockwise for a positive angle as in torchvision, nearest neighbour, zero fill), ``to_tensor`` as
``/ 255``, and the global ``np.random`` draws come from one seeded ``RandomState``. The augmentation is drawn once
when the data are built (each training batch is a fresh draw of 300 indices with replacement, as in the loop).
Data stand-in (no MNIST download): scikit-learn's 8 x 8 digits (0..16) resized to 12 x 12 (bilinear), scaled to
0..255 uint8 and padded by 2 to 16 x 16 (MNIST: ~20 x 20 digits in a 28 x 28 frame), labels 0..9. Digits 0..1499
are the training pool (``batches``: 40 batches of 300 drawn as ``np.random.randint(0, n, size=300)``, augmented
with ``rot=30``), digits 1500..1796 the held-out pool (``inputs``: 256 images augmented as in ``test_acc``).

Measured (my own plain loop, /tmp/s51/h79_b/measure.py, OMP_NUM_THREADS=1, SEED = 0, the module's builds, the
40 batches cycled, one call of the module's ``train_step`` (the loop body) per batch, 400 steps; held-out accuracy
on the 256 ``inputs``):
  initial loss on ``batch``: 2.483 in both versions (ln 10 = 2.303; the initial network puts every held-out image in
    class 5, accuracy 0.094).
  buggy: training loss (mean of the last 10 steps) 2.507 / 2.509 / 2.496 / 2.496 at steps 50 / 100 / 200 / 400 (it
    moves only with the batch); after 400 steps the largest change of any parameter is exactly 0.0 and the held-out
    predictions are still all class 5 (accuracy 0.094).
  fixed: training loss 2.049 / 1.507 / 0.547 / 0.205 at steps 50 / 100 / 200 / 400; held-out accuracy 0.29 / 0.52 /
    0.77 / 0.84, predictions spread over all ten classes.
  one batch repeated 100 times (loss at steps 1 / 10 / 50 / 100): buggy 2.483 / 2.483 / 2.483 / 2.483, fixed
    2.483 / 2.278 / 1.540 / 0.377.
  Time per step (batch 300, one thread): ~60 ms on a quiet machine, 100-200 ms while other jobs shared its two
    cores; building the data (12,256 augmented images) ~1-2 s once, the first build with the torch import ~5 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:DeepReinforcementLearning/DeepReinforcementLearningInAction PR #13 (Chapter 10/Ch10_book.ipynb "
          "Listing 10.4 'opt.step()' after the for loop @ffaf8ce98b69e9d76f3bdc566c6a24b798c3bf9f = 5397368^, "
          "Listings 10.1-10.3, 10.5; fix 5397368cee0c0b7c2dc3774f2abf405b9a6cc551 'Fix wrong indentation in the "
          "MNIST example training loop', merge 95ce516)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 10})]

BATCH_SIZE = 300
LR = 1e-3
SIDE = 16  # image side (MNIST: 28), see the docstring
N_TRAIN_POOL = 1500
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like uint8 (n, 16, 16) images, 0..255, from scikit-learn's 8x8 digits; labels int64 0..9."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.zeros((len(d.images), SIDE, SIDE), "uint8")
    for i, im in enumerate(d.images):
        small = Image.fromarray((im * (255.0 / 16.0)).astype("float32"), mode="F").resize((12, 12), Image.BILINEAR)
        imgs[i, 2:14, 2:14] = np.clip(np.asarray(small), 0, 255).astype("uint8")
    return imgs, d.target.astype("int64")


def _add_spots(rng: np.random.RandomState, x: np.ndarray, m: int = 20, std: int = 5, val: int = 1) -> np.ndarray:
    """Listing 10.1 add_spots (numpy, with the seeded generator)."""
    mask = np.zeros(x.shape, "float32")
    N = int(m + std * np.abs(rng.randn()))
    ids = rng.randint(np.prod(x.shape), size=N)
    mask.reshape(-1)[ids] = val
    return np.clip(x + mask, 0, 1)


def _prepare_images(rng: np.random.RandomState, xt: np.ndarray, maxtrans: int = 3, rot: int = 5,
                    noise: int = 10) -> np.ndarray:
    """Listing 10.1 prepare_images; torchvision's affine done with PIL (see the docstring)."""
    from PIL import Image

    out = np.zeros(xt.shape, "float32")
    for i in range(xt.shape[0]):
        img = Image.fromarray(xt[i])  # to_pil_image
        rand_rot = rng.randint(-1 * rot, rot, 1) if rot > 0 else 0
        xtrans, ytrans = rng.randint(-maxtrans, maxtrans, 2)
        img = img.rotate(-float(np.squeeze(rand_rot)), resample=Image.NEAREST, translate=(int(xtrans), int(ytrans)),
                         fillcolor=0)  # TV.transforms.functional.affine(img, rand_rot, (xtrans,ytrans),1,0)
        img = np.asarray(img).astype("float32") / 255.0  # to_tensor(img).squeeze()
        if noise > 0:
            img = _add_spots(rng, img, m=noise)
        maxval = img.reshape(-1).max()
        if maxval > 0:
            img = img / maxval
        out[i] = img
    return out


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training batches as in the loop (random ids, prepare_images(xt, rot=30)) and held-out images as in test_acc."""
    imgs, labels = _raw_digits()
    rng = np.random.RandomState(SEED)
    xs, ys = [], []
    for _ in range(N_BATCHES):
        batch_ids = rng.randint(0, N_TRAIN_POOL, size=BATCH_SIZE)
        xs.append(_prepare_images(rng, imgs[batch_ids], rot=30))
        ys.append(labels[batch_ids])
    test_ids = N_TRAIN_POOL + rng.permutation(len(imgs) - N_TRAIN_POOL)[:N_INPUTS]
    xh = _prepare_images(rng, imgs[test_ids], maxtrans=3, rot=30, noise=10)
    return (np.stack(xs)[:, :, None], np.stack(ys), xh[:, None], labels[test_ids])


# ----------------------------------------------------------------------------------------------------------- torch

def _build(step_in_loop: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    class RelationalModule(torch.nn.Module):
        def __init__(self):
            super(RelationalModule, self).__init__()
            self.ch_in = 1
            self.conv1_ch = 16 #A
            self.conv2_ch = 20
            self.conv3_ch = 24
            self.conv4_ch = 30
            self.H = 16 #B  (28 in the program)
            self.W = 16
            self.node_size = 36 #C
            self.lin_hid = 100
            self.out_dim = 10
            self.sp_coord_dim = 2
            self.N = int(4**2) #D  (int(16**2) for 28 x 28 images)

            self.conv1 = nn.Conv2d(self.ch_in,self.conv1_ch,kernel_size=(4,4))
            self.conv2 = nn.Conv2d(self.conv1_ch,self.conv2_ch,kernel_size=(4,4))
            self.conv3 = nn.Conv2d(self.conv2_ch,self.conv3_ch,kernel_size=(4,4))
            self.conv4 = nn.Conv2d(self.conv3_ch,self.conv4_ch,kernel_size=(4,4))

            self.proj_shape = (self.conv4_ch+self.sp_coord_dim,self.node_size) #E
            self.k_proj = nn.Linear(*self.proj_shape)
            self.q_proj = nn.Linear(*self.proj_shape)
            self.v_proj = nn.Linear(*self.proj_shape)

            self.norm_shape = (self.N,self.node_size)
            self.k_norm = nn.LayerNorm(self.norm_shape, elementwise_affine=True) #F
            self.q_norm = nn.LayerNorm(self.norm_shape, elementwise_affine=True)
            self.v_norm = nn.LayerNorm(self.norm_shape, elementwise_affine=True)

            self.linear1 = nn.Linear(self.node_size, self.node_size)
            self.norm1 = nn.LayerNorm([self.N,self.node_size], elementwise_affine=False)
            self.linear2 = nn.Linear(self.node_size, self.out_dim)

        def forward(self,x):
            N, Cin, H, W = x.shape
            x = self.conv1(x)
            x = torch.relu(x)
            x = self.conv2(x)
            x = x.squeeze()
            x = torch.relu(x)
            x = self.conv3(x)
            x = torch.relu(x)
            x = self.conv4(x)
            x = torch.relu(x)

            _,_,cH,cW = x.shape
            xcoords = torch.arange(cW).repeat(cH,1).float() / cW #G
            ycoords = torch.arange(cH).repeat(cW,1).transpose(1,0).float() / cH
            spatial_coords = torch.stack([xcoords,ycoords],dim=0)
            spatial_coords = spatial_coords.unsqueeze(dim=0)
            spatial_coords = spatial_coords.repeat(N,1,1,1)
            x = torch.cat([x,spatial_coords],dim=1)
            x = x.permute(0,2,3,1)
            x = x.flatten(1,2)

            K = self.k_proj(x) #H
            K = self.k_norm(K)

            Q = self.q_proj(x)
            Q = self.q_norm(Q)

            V = self.v_proj(x)
            V = self.v_norm(V)
            A = torch.einsum('bfe,bge->bfg',Q,K) #I
            A = A / np.sqrt(self.node_size)
            A = torch.nn.functional.softmax(A,dim=2)
            with torch.no_grad():
                self.att_map = A.clone()
            E = torch.einsum('bfc,bcd->bfd',A,V) #J
            E = self.linear1(E)
            E = torch.relu(E)
            E = self.norm1(E)
            E = E.max(dim=1)[0]
            y = self.linear2(E)
            y = torch.nn.functional.log_softmax(y,dim=1)
            return y

    torch.manual_seed(SEED)
    agent = RelationalModule() #A
    lr = LR
    opt = torch.optim.Adam(params=agent.parameters(),lr=lr)
    lossfn = nn.NLLLoss()

    def train_step(agent: Any, opt: Any, lossfn: Any, xt: Any, yt: Any) -> Any:  # one iteration of Listing 10.4
        batch_size = xt.shape[0]
        opt.zero_grad()
        pred = agent(xt)
        pred_labels = torch.argmax(pred,dim=1) #D
        acc_ = 100.0 * (pred_labels == yt).sum() / batch_size #E
        correct = torch.zeros(batch_size,10)
        rows = torch.arange(batch_size).long()
        correct[(rows,yt.detach().long())] = 1.  # correct[[rows,...]]: a list index, deprecated in torch
        loss = lossfn(pred,yt)
        loss.backward()
        if step_in_loop:  # the fix (PR #13): opt.step() inside the for loop; the buggy cell steps once, after it
            opt.step()
        return loss

    x, y, xh, _ = _data()
    batches = [(torch.from_numpy(x[i]), torch.from_numpy(y[i])) for i in range(N_BATCHES)]
    return {"model": agent, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xh),
            "loss_fn": lossfn, "optimizer": opt, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(step_in_loop=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(step_in_loop=True)
