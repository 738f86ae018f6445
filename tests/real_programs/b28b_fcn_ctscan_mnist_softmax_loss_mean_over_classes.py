"""KienHuynh/FCN-CTSCAN ("TensorFun", a small TensorFlow project), ``mnist_train.py`` with its ``tfun`` helpers:
a VGG-style MNIST classifier built from ``create_conv_layer`` (3x3 convolutions, SAME padding, ReLU, Xavier
(``tf.contrib.layers.xavier_initializer()``, uniform) kernels, zero biases): conv 64 -> conv 64 -> max-pool 2 ->
conv 128 -> conv 128 -> max-pool 2 -> conv 256 -> conv 256 -> max-pool 2 (VALID, 7 -> 3) -> ``create_linear_layer``
(3*3*256 -> 10 logits), reshaped to (N, 1, 1, 10) like the one-hot targets of ``create_one_hot``. The loss is
``loss.softmax_log_loss(x, y)`` (a hand-written log-softmax, ``xdev - log(sum(exp(xdev)))``) plus
``loss.l2_loss('weight', lm=0.0005)`` (``0.0005 * tf.nn.l2_loss`` of every kernel), minimised by
``trainer.create_adam_optimizer(0.001)`` on batches of 128 (``global_cfg.batch_size = 128``) of
``mnist.pkl.gz`` images (784 floats in [0, 1], reshaped to 28x28x1).
The fault is in ``softmax_log_loss``: ``l = -tf.reduce_mean(target_weight*target*lsm)``. The mean runs over every
element of the (N, 1, 1, 10) one-hot product, i.e. over the batch *and the ten classes*, so the cross-entropy
is divided by the number of classes: an uninformative prediction costs ln(10)/10 = 0.23 instead of
ln(10) = 2.30, every printed loss is ten times too small, and next to the unchanged weight-decay term the
data term weighs ten times less than intended (the L2 penalty is in effect ten times stronger).

Source: github.com/KienHuynh/FCN-CTSCAN, ``tfun/loss.py`` ``softmax_log_loss`` at b170a9b^ (b2f4313; the
MNIST program ``mnist_train.py`` and ``tfun/util.py``, ``tfun/trainer.py`` at the same commit), fixed by commit
b170a9be0672376149fd435ac4121373ff9dafac "fixed normalizaton bug in softmax log loss":
``l = -tf.reduce_sum(target_weight*target*lsm)/tf.cast(tf.shape(X)[0], dtype=global_cfg.dtype)`` (sum over the
classes, mean over the samples). Listed in TheDeepChecker's GitHub bug set
(github.com/thedeepchecker/thedeepchecker ``GH_buggy_examples/FCN-CTSCAN_b170a9b``).
Program lines kept: the layer sequence (six 3x3 SAME convolutions with ReLU, three 2x2 max-pools, a linear
head of 10), Xavier-uniform kernels and zero biases, the hand-written log-softmax loss with the buggy
``reduce_mean`` / fixed ``reduce_sum / N``, the L2 penalty ``0.0005 * sum(w**2) / 2`` on every kernel (not the
biases: ``l2_loss('weight')`` picks variables named ``weight``), Adam(lr 0.001, beta1 0.9, beta2 0.999, eps
1e-8), batch size 128, inputs in [0, 1], one-hot targets.
Ported minimally: the TF1 graph, ``MonitoredTrainingSession``, hooks and summaries are dropped. The (N, 1, 1, 10)
reshape of logits and targets is left out (it only adds two unit axes; the mean still runs over N * 10
elements). Channel widths are divided by 4 (16, 16, 32, 32, 64, 64 instead of 64, 64, 128, 128, 256, 256) so a
torch step stays near 0.045 s on one CPU thread (the full widths take ~1.1 s, measured); the fault does not
depend on the width.
Torch: ``nn.Conv2d``/``nn.Linear`` re-initialised with ``xavier_uniform_`` and zero biases, NCHW inputs; the
L2 term is Adam's ``weight_decay=0.0005`` on the kernels only (the gradient of ``0.0005 * sum(w**2) / 2`` is
``0.0005 * w``, which is exactly what Adam's coupled weight decay adds to the gradient), so ``loss_fn`` is the
data term alone; the ``optimizer`` factory splits the parameters it is given into kernels (ndim > 1) and biases.
Keras: ``Conv2D``/``Dense`` with their default ``glorot_uniform`` kernels and zero biases, and
``kernel_regularizer=L2(0.00025)`` (Keras' ``L2(l)`` is ``l * sum(w**2)`` = ``0.0005 * tf.nn.l2_loss``), so the
compiled training loss includes the penalty as in the program; the loss function is the program's formula
on the logits.
Data stand-in (no ``mnist.pkl.gz``): ``_data.mnist_like`` (scikit-learn's bundled 8x8 digits blown up to 28x28,
0..255, real signal) divided by 255 to the [0, 1] floats of ``mnist.pkl.gz``, one-hot labels as
``create_one_hot`` makes them; 6 batches of 128.
Fault label: init_loss_off (the cross-entropy is divided by the number of classes: the loss at
initialisation is ln(10)/10, a tenth of an uninformative prediction's).
Fix (b170a9b): ``-tf.reduce_sum(target*lsm) / batch_size``.

Symptom in a short loop (my own plain loop, seed 0, OMP_NUM_THREADS=1, 300 Adam steps cycling over the 6
batches; "loss" is the training loss of the step's batch before its update, "CE" the per-sample cross-entropy
over all 768 images after the update, so both versions are on one scale; ln 10 = 2.303). Torch (~45 ms a
step, loss without the L2 term): step-1 loss buggy 0.2305 vs fixed 2.3054; buggy loss 0.2175 / 0.0622 /
0.0210 / 0.0045 at steps 11 / 26 / 51 / 101 (CE 2.102 / 0.698 / 0.230 / 0.029) vs fixed 2.0934 / 0.6693 /
0.1570 / 0.0379 (CE 1.974 / 0.705 / 0.243 / 0.020); after 300 steps buggy CE 0.092 (accuracy 0.962, a late
wobble) vs fixed 0.000 (1.000). Keras (train_on_batch, ~80 ms a step, loss including the L2 penalty):
step-1 loss buggy 0.2801 (L2 part 0.0485) vs fixed 2.3545 (L2 0.0491); step 26 buggy 0.0848 (CE 0.655) vs
fixed 0.5361 (CE 0.705); step 101 buggy 0.0356, of which 0.0322 is the penalty (CE 0.033), vs fixed 0.0594
(L2 0.0468, CE 0.012); step 301 buggy 0.0257 (L2 0.0253, CE 0.002) vs fixed 0.0448 (L2 0.0441, CE 0.001).
On these easy digits the buggy network still learns at about the same pace:
Adam is blind to the overall scale of the loss. What the fault changes is the loss itself, a tenth of
the per-sample cross-entropy (initial loss ln(10)/10 instead of ln 10), and its balance against the weight
decay (the buggy run's L2 term shrinks to about half while the fixed one's barely moves, and once the fit is
done the penalty is almost all of the buggy loss).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "init_loss_off"
SOURCE = ("github:KienHuynh/FCN-CTSCAN tfun/loss.py softmax_log_loss@b170a9b^ (mnist_train.py, tfun/util.py, "
          "tfun/trainer.py; fix b170a9be0672376149fd435ac4121373ff9dafac 'fixed normalizaton bug in softmax log "
          "loss'; TheDeepChecker GH_buggy_examples/FCN-CTSCAN_b170a9b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 10}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"kind": "logits", "num_classes": 10}), ("gradients_flow", {})]

batch_size = 128  # global_cfg.batch_size
learning_rate = 0.001  # t.create_adam_optimizer(0.001)
lm = 0.0005  # l.l2_loss('weight', lm=0.0005)
num_class = 10
n_batches = 6
WIDTH_DIV = 4  # port: channel widths divided by 4 to keep a CPU step cheap
c1, c2, c3 = 64 // WIDTH_DIV, 128 // WIDTH_DIV, 256 // WIDTH_DIV


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like, one_hot

    imgs, y = mnist_like(batch_size * n_batches)
    x = (imgs / 255.0).astype("float32")[..., None]  # mnist.pkl.gz floats in [0, 1], reshaped to (N, 28, 28, 1)
    return x, one_hot(y, num_class)  # create_one_hot (without the two unit axes)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches

    x, y = _data()
    if framework == "torch":
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        layers = []
        for n_in, n_out, pool in ((1, c1, False), (c1, c1, True), (c1, c2, False), (c2, c2, True),
                                  (c2, c3, False), (c3, c3, True)):
            layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU()]  # create_conv_layer, SAME, relu
            if pool:
                layers.append(nn.MaxPool2d(2, 2))  # tf.nn.max_pool 2x2, VALID
        layers += [nn.Flatten(), nn.Linear(3 * 3 * c3, num_class)]  # create_linear_layer (3*3*256, 10)
        model = nn.Sequential(*layers)
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)):  # xavier_initializer() kernels, zero biases
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        def softmax_log_loss(X, target):
            xdev = X - X.max(dim=-1, keepdim=True).values
            lsm = xdev - torch.log(torch.exp(xdev).sum(dim=-1, keepdim=True))
            if fixed:  # b170a9b
                return -(target * lsm).sum() / X.shape[0]
            return -(target * lsm).mean()  # buggy: mean over the batch and the 10 classes

        def optimizer(params):  # Adam(0.001) on softmax_log_loss + 0.0005 * l2_loss(kernels)
            params = list(params)
            kernels = [p for p in params if p.ndim > 1]
            biases = [p for p in params if p.ndim <= 1]
            return torch.optim.Adam([{"params": kernels, "weight_decay": lm}, {"params": biases}],
                                    lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)

        xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NCHW
        tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches(xt, y, batch_size)]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xt[:256]),
                "loss_fn": softmax_log_loss, "optimizer": optimizer}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L2(lm / 2)  # lm * tf.nn.l2_loss(w) = lm * sum(w**2) / 2
    seq = [keras.Input((28, 28, 1))]
    for n_out, pool in ((c1, False), (c1, True), (c2, False), (c2, True), (c3, False), (c3, True)):
        seq.append(keras.layers.Conv2D(n_out, 3, padding="same", activation="relu", kernel_regularizer=reg))
        if pool:
            seq.append(keras.layers.MaxPooling2D(2, 2, padding="valid"))
    seq += [keras.layers.Flatten(), keras.layers.Dense(num_class, kernel_regularizer=reg)]
    model = keras.Sequential(seq)

    def softmax_log_loss(target, X):
        xdev = X - ops.max(X, axis=-1, keepdims=True)
        lsm = xdev - ops.log(ops.sum(ops.exp(xdev), axis=-1, keepdims=True))
        if fixed:  # b170a9b
            return -ops.sum(target * lsm) / ops.cast(ops.shape(X)[0], X.dtype)
        return -ops.mean(target * lsm)  # buggy: mean over the batch and the 10 classes

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999,
                                                  epsilon=1e-8),
                  loss=softmax_log_loss)
    kb = batches(x, y, batch_size)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": x[:256]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
