"""pytorch/examples' Vision Transformer trained on CIFAR-10 with ``--num-classes`` defaulting to 16:
its help text says "default : 10 for CIFAR10", and the head gets six outputs no label ever uses.

Source: github.com/pytorch/examples, vision_transformer/main.py at commit
33cbdfdad4869c6eee48821d4397c724486ecbf5 (PatchExtractor, InputEmbedding, EncoderBlock, ViT, Adam with
``lr=args.lr`` 1e-2 and ``weight_decay=args.weight_decay`` 3e-2, CrossEntropyLoss, images through
``Resize`` + ``ToTensor``), fixed by 741de70c4a20d9c83f811b946c186c4f83abcccb ("Fixed default
num_classes to 10 for CIFAR10", PR #1176). Kept as the program has them, though not the labelled
fault: the class token and positional embedding drawn per batch position (shape (batch_size, 1,
latent)) and ``nn.MultiheadAttention`` fed batch-first tensors without ``batch_first=True``. Reduced
for CPU through the program's own arguments: --img-size 32 (CIFAR's own size; default 224),
--patch-size 8, --latent-size 64, --num-heads 4, --num-encoders 2; --batch-size 4 (the default).
Data: a CIFAR-10 stand-in (``_data.cifar_like``) through ``ToTensor`` (0..1, channels first).
Fault label: head_width. Fix: num_classes 10. Torch only (the program is PyTorch's example).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.real_programs import _data

LABEL = "head_width"
SOURCE = "github:pytorch/examples vision_transformer/main.py@33cbdfd (fix 741de70, PR #1176)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits", "num_classes": 10})]


def _build(num_classes: int) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    args = SimpleNamespace(no_cuda=True, patch_size=8, latent_size=64, n_channels=3, num_heads=4, num_encoders=2,
                           dropout=0.1, img_size=32, num_classes=num_classes, lr=1e-2, weight_decay=3e-2,
                           batch_size=4)

    class PatchExtractor(nn.Module):  # program lines from here to ViT
        def __init__(self, patch_size=16):
            super().__init__()
            self.patch_size = patch_size

        def forward(self, input_data):
            batch_size, channels, height, width = input_data.size()
            num_patches = (height // self.patch_size) * (width // self.patch_size)
            patches = input_data.unfold(2, self.patch_size, self.patch_size). \
                unfold(3, self.patch_size, self.patch_size). \
                permute(0, 2, 3, 1, 4, 5). \
                contiguous(). \
                view(batch_size, num_patches, -1)
            return patches

    class InputEmbedding(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.patch_size = args.patch_size
            self.n_channels = args.n_channels
            self.latent_size = args.latent_size
            use_cuda = not args.no_cuda and torch.cuda.is_available()
            self.device = torch.device("cuda" if use_cuda else "cpu")
            self.batch_size = args.batch_size
            self.input_size = self.patch_size * self.patch_size * self.n_channels
            self.LinearProjection = nn.Linear(self.input_size, self.latent_size)
            self.class_token = nn.Parameter(torch.randn(self.batch_size, 1, self.latent_size)).to(self.device)
            self.pos_embedding = nn.Parameter(torch.randn(self.batch_size, 1, self.latent_size)).to(self.device)

        def forward(self, input_data):
            input_data = input_data.to(self.device)
            patchify = PatchExtractor(patch_size=self.patch_size)
            patches = patchify(input_data)
            linear_projection = self.LinearProjection(patches).to(self.device)
            b, n, _ = linear_projection.shape
            linear_projection = torch.cat((self.class_token, linear_projection), dim=1)
            pos_embed = self.pos_embedding[:, :n + 1, :]
            linear_projection += pos_embed
            return linear_projection

    class EncoderBlock(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.latent_size = args.latent_size
            self.num_heads = args.num_heads
            self.dropout = args.dropout
            self.norm = nn.LayerNorm(self.latent_size)
            self.attention = nn.MultiheadAttention(self.latent_size, self.num_heads, dropout=self.dropout)
            self.enc_MLP = nn.Sequential(
                nn.Linear(self.latent_size, self.latent_size * 4),
                nn.GELU(),
                nn.Dropout(self.dropout),
                nn.Linear(self.latent_size * 4, self.latent_size),
                nn.Dropout(self.dropout)
            )

        def forward(self, emb_patches):
            first_norm = self.norm(emb_patches)
            attention_out = self.attention(first_norm, first_norm, first_norm)[0]
            first_added = attention_out + emb_patches
            second_norm = self.norm(first_added)
            mlp_out = self.enc_MLP(second_norm)
            output = mlp_out + first_added
            return output

    class ViT(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.num_encoders = args.num_encoders
            self.latent_size = args.latent_size
            self.num_classes = args.num_classes
            self.dropout = args.dropout
            self.embedding = InputEmbedding(args)
            self.encoders = nn.ModuleList([EncoderBlock(args) for _ in range(self.num_encoders)])
            self.MLPHead = nn.Sequential(
                nn.LayerNorm(self.latent_size),
                nn.Linear(self.latent_size, self.latent_size),
                nn.Linear(self.latent_size, self.num_classes),
            )

        def forward(self, test_input):
            enc_output = self.embedding(test_input)
            for enc_layer in self.encoders:
                enc_output = enc_layer(enc_output)
            class_token_embed = enc_output[:, 0]
            return self.MLPHead(class_token_embed)

    imgs, labels = _data.cifar_like(64)
    x = torch.tensor(imgs).permute(0, 3, 1, 2).float() / 255.0  # ToTensor (Resize to 32 is the identity)
    y = torch.tensor(labels)
    bs = args.batch_size
    batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, 64, bs)]
    return {"model": ViT(args), "batch": batches[0], "batches": batches, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=args.lr, weight_decay=args.weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(16)


def fixed(framework: str) -> dict[str, Any]:
    return _build(10)
