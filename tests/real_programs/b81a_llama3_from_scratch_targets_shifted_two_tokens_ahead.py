"""tamangmilan/llama3 ``build_llama3_from_scratch.ipynb`` (a 2024 "build Llama 3 from scratch" tutorial): a
character-level Llama 3 (RMSNorm, RoPE, grouped-query attention, SwiGLU feed-forward, ``nn.Embedding``
in, a bias-free ``nn.Linear`` out) trained on tiny_shakespeare. The vocabulary is the text's 65 characters plus
``<|begin_of_text|>``, ``<|end_of_text|>`` and ``<|pad_id|>`` (68 ids); ``ModelArgs``: dim 512, 8 layers, 8 query /
4 key-value heads, ``multiple_of`` 256, ``max_batch_size`` 10, ``max_seq_len`` 256; ``torch.optim.Adam(
model.parameters())`` (lr 1e-3), 2500 iterations, each a fresh batch from ``get_dataset_batch(dataset, 'train',
args)``; the loss is ``F.cross_entropy(logits.view(-1, vocab_size), targets.view(-1))`` inside
``Transformer.forward``.

The fault (data preparation, in ``get_dataset_batch``): the inputs are built as
``x = cat([token_bos, batch_data[i:i+seq_len-1]])``, so the BOS token pushes the text one place to the right
(x[t] = data[i+t-1]), but the targets are still built as if there were no BOS:
``y = cat([batch_data[i+1:i+seq_len], token_eos])`` (y[t] = data[i+t+1]). Every target therefore sits two
characters after its input instead of one: the causal model is trained to skip the next character and guess the one
after it. The loss still falls (the skip-one statistics of text are learnable, only less predictable), so nothing
looks broken while training; the model has learned the wrong conditional, and text sampled from it, where each
sampled character is fed back as the next input, is garbage. The notebook's own output after training shows this
("Consider you what services he has done o eretrane / adetranytnn i eey i ade hs rcuh ...").

Source: github.com/tamangmilan/llama3 ``build_llama3_from_scratch.ipynb`` at
905d90f322bcda7b5cc7a8ea41e349760854e775 (the repository's last commit, "Add files via upload", 2024-09-01), cell
"Step 4: Train Llama 3 Model", ``get_dataset_batch``. Fix: pull request #1 "y dataset is off by one"
(carlos-aguayo, 2024-10-17, open, not merged), which explains that x is already one token ahead because of the
prepended ``token_bos`` and changes the target line to ``y = cat([batch_data[i:i+seq_len-1], token_eos])``; with that
change, the PR reports, the same prompt continues in readable Shakespeare-like lines ("CLARENCE: Why, I say, let me
see the poor of your father, ...") instead of the garbage above.
Fault label: other:lm_targets_shifted_two_tokens_ahead (each input is paired with the wrong target: the character
two places on rather than the next one; none of the listed causes names an x/y misalignment by one step).

Program lines kept: the vocabulary construction (special tokens appended), ``encode``, ``token_bos`` /
``token_eos``; ``RMSNorm``, ``precompute_freqs_cis``, ``reshape_for_broadcast``, ``apply_rotary_emb``, ``repeat_kv``,
the training branch of ``Attention.forward``, ``FeedForward``, ``TransformerBlock``, the ``Transformer`` layers (torch
default init); ``torch.optim.Adam(model.parameters())``; the loss line; the body of ``get_dataset_batch`` with the
80 / 10 / 10 train / val / test split, ``torch.randint(0, len(batch_data) - seq_len - 3, (batch_size,))`` starts and
the buggy ``y`` line verbatim (the fixed version uses the PR's line instead; ``x`` is the same in both).
Shrunk / replaced: dim 512 -> 64, n_layers 8 -> 2, n_heads 8 -> 4, n_kv_heads 4 -> 2, max_seq_len 256 -> 64 (the
full model has 25.2 M parameters and would take, by my estimate, seconds a step on one core; this one has 132 k
parameters and takes ~20 ms a step);
``max_batch_size`` 10 and ``multiple_of`` 256 are kept (feed-forward width 256). The KV-cache inference branch of
``Attention`` (and its cache buffers) is left out, since training never uses it, and ``Transformer.forward`` returns
the training-mode logits, with the loss taken outside by ``loss_fn`` (the program's own loss line), so that the
checks get ``model(x) -> logits`` of shape (batch, 64, 68). ``get_dataset_batch`` takes an optional ``batch_size``
(default ``args.max_batch_size``, the program's value) only to draw the larger ``baseline_batch`` and ``inputs``;
``device`` is 'cpu'. The vocabulary is tiny_shakespeare's 65 characters as the notebook prints them, fixed, not
``sorted(set(data))`` of the stand-in (which uses only a subset), so that there are 68 ids as in the program.
Data stand-in (no tiny_shakespeare download): a seeded 110,000-character play in tiny_shakespeare's layout
("SPEAKER:" lines from 12 of its speaker names, speeches of 1-3 capitalised lines, commas, full stops, question
marks, blank lines between speeches), its words drawn from 108 common Shakespearean words by a sparse word chain
(each word has 3 possible successors), so that the next character is largely predictable from the ones before it.
``batches``: 100 distinct training batches of (10, 64) int64 drawn with the program's ``get_dataset_batch`` after
``torch.manual_seed(0)`` (the program draws a fresh batch every iteration); ``batch``: the first;
``baseline_batch``: 64 training sequences; ``inputs``: 128 sequences from the validation split.

Measured (my own plain loop, /tmp/s52/h81_a/measure.py and measure_gen.py: zero_grad / forward / ``loss_fn`` /
backward / step over the module's 100 batches in order, cycled; OMP_NUM_THREADS=1, module seed 0):
  500 steps, training loss, means of 50-step blocks:
    buggy 3.28 2.69 2.51 2.30 2.03 1.77 1.58 1.42 1.31 1.23
    fixed 3.05 2.29 2.01 1.72 1.41 1.19 1.02 0.92 0.83 0.79   (step 0: 4.35 / 4.39; ln 68 = 4.22)
  after those 500 steps, on the 128 held-out ``inputs`` (positions 1..61): cross-entropy against the true next
    character buggy 6.00 (argmax accuracy 6.3 %) / fixed 0.75 (75.2 %); against the character after next (the buggy
    objective) buggy 1.26 (58.8 %) / fixed 7.28 (5.5 %). So the buggy model learns its skip-one task, more slowly and
    less well (its own objective stays 0.5 nats above the fixed one), and is useless as a next-character model.
  1500 steps, training loss, means of the last 150 steps: buggy 0.83 / fixed 0.53 (seed 0); with the module's SEED
    set to 1 (other text, init and batches) 0.78 / 0.52.
  Greedy continuation of "ROMEO:\\nNoble " after 1500 steps (seed 0): buggy "o uo a f" then "ahr nbea  f" ...,
    fixed "honour heart by shall that people peace now you is" (the PR's contrast, reproduced).
  Time: ~20 ms a step (batch 10 x 64 characters, one thread, machine otherwise idle); build: first ~3.3 s
    (imports, text), later 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:lm_targets_shifted_two_tokens_ahead"
SOURCE = ("github:tamangmilan/llama3 PR #1 'y dataset is off by one' (build_llama3_from_scratch.ipynb "
          "get_dataset_batch@905d90f322bcda7b5cc7a8ea41e349760854e775)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 68}),
          ("gradients_flow", {}), ("input_independent_baseline", {})]

SEED = 0
# tiny_shakespeare's 65 characters, as the notebook prints its vocabulary (the stand-in text uses a subset of them)
SHAKESPEARE_CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
N_BATCHES = 100
N_INPUTS = 128
N_BASELINE = 64

_SPEAKERS = ["First Citizen", "MENENIUS", "ROMEO", "JULIET", "Nurse", "GLOUCESTER", "CLARENCE", "KING RICHARD III",
             "DUKE VINCENTIO", "LUCIO", "QUEEN ELIZABETH", "BRUTUS"]
_WORDS = ("the and to of my a i you that in is not it me with be your his this but for have he thou what so will "
          "all by shall do no thee are our as we him lord good now o come if sir let more on they her here well "
          "then how would from love make at there was man let hath king like say which now know did may upon "
          "speak yet must when should tell an am one too father heart death blood night honour god peace crown "
          "grace france rome citizens people hand eyes fair noble sweet gentle brother mother son day true "
          "friends life").split()


@functools.lru_cache(maxsize=1)
def _text() -> str:
    """A tiny-Shakespeare-shaped play: 'SPEAKER:' lines, then 1-3 lines of words from a sparse seeded word chain
    (each word has 3 possible successors), capitalised line starts, commas / full stops / question marks, blank
    lines between speeches. About 110,000 characters, all from tiny_shakespeare's character set."""
    r = np.random.default_rng(SEED)
    words = sorted(set(_WORDS))
    succ = {w: r.choice(len(words), 3, replace=False) for w in words}
    out: list[str] = []
    w = words[0]
    n = 0
    while n < 110_000:
        speech = [_SPEAKERS[int(r.integers(len(_SPEAKERS)))] + ":\n"]
        for _ in range(int(r.integers(1, 4))):
            line = []
            for k in range(int(r.integers(5, 11))):
                w = words[int(succ[w][int(r.integers(3))])]
                tok = w.capitalize() if k == 0 or w == "i" else w
                line.append(tok + ("," if r.random() < 0.08 else ""))
            speech.append(" ".join(line).rstrip(",") + ("?" if r.random() < 0.2 else "." if r.random() < 0.7
                                                          else ",") + "\n")
        s = "".join(speech) + "\n"
        out.append(s)
        n += len(s)
    text = "".join(out)
    assert set(text) <= set(SHAKESPEARE_CHARS)
    return text


def _build(fixed_targets: bool) -> dict[str, Any]:
    import math
    from dataclasses import dataclass
    from typing import Optional, Tuple

    import torch
    from torch import nn
    from torch.nn import functional as F

    device: str = 'cpu'
    data = _text()

    # Prepare vocabulary: tiny_shakespeare's characters (the program: sorted(list(set(data))))
    vocab = sorted(list(set(SHAKESPEARE_CHARS)))
    vocab.extend(['<|begin_of_text|>', '<|end_of_text|>', '<|pad_id|>'])
    vocab_size = len(vocab)
    stoi = {ch: i for i, ch in enumerate(vocab)}

    def encode(s):
        return [stoi[ch] for ch in s]

    token_bos = torch.tensor([stoi['<|begin_of_text|>']], dtype=torch.int, device=device)
    token_eos = torch.tensor([stoi['<|end_of_text|>']], dtype=torch.int, device=device)

    @dataclass
    class ModelArgs:
        dim: int = 64               # embedding dimension (program: 512)
        n_layers: int = 2           # number of model decoder blocks (program: 8)
        n_heads: int = 4            # number of heads for queries embedding (program: 8)
        n_kv_heads: int = 2         # number of heads for keys and values embedding (program: 4)
        vocab_size: int = len(vocab)  # Length of vocabulary
        multiple_of: int = 256        # Require to calculate dim of feedfoward network
        ffn_dim_multiplier: Optional[float] = None  # Require to calculate dim of feedfoward network
        norm_eps: float = 1e-5                       # Default Epsilon value set for the RMSNorm calculation
        rope_theta: float = 10000.0   # Default theta value for the RePE calculation

        max_batch_size: int = 10      # Max batch size
        max_seq_len: int = 64         # Max sequence length (program: 256)

        epochs: int = 2500             # Total number of training iteration
        log_interval: int = 10        # Number of interval to print the logs and loss values
        device: str = 'cpu'

    class RMSNorm(nn.Module):
        def __init__(self, dim: int, eps: float = 1e-6):
            super().__init__()
            device = ModelArgs.device
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(dim).to(device))

        def _norm(self, x):
            return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps).to(device)

        def forward(self, x):
            output = self._norm(x.float()).type_as(x)
            return output * self.weight

    def precompute_freqs_cis(dim: int, seq_len: int, theta: float = 10000.0):
        device = ModelArgs.device
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, device=device)[:(dim // 2)].float() / dim))
        t = torch.arange(seq_len, dtype=torch.float32, device=device)
        freqs = torch.outer(t, freqs).to(device)
        freqs_cis = torch.polar(torch.ones_like(freqs).to(device), freqs).to(device)
        return freqs_cis

    def reshape_for_broadcast(freqs_cis, x):
        ndim = x.ndim
        assert 0 <= 1 < ndim
        assert freqs_cis.shape == (x.shape[1], x.shape[-1]), "the last two dimension of freqs_cis, x must match"
        shape = [d if i == 1 or i == ndim - 1 else 1 for i, d in enumerate(x.shape)]
        return freqs_cis.view(*shape)

    def apply_rotary_emb(xq: torch.Tensor, xk: torch.Tensor, freqs_cis: torch.Tensor) -> Tuple[torch.Tensor,
                                                                                            torch.Tensor]:
        device = ModelArgs.device
        xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2)).to(device)
        xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2)).to(device)
        freqs_cis = reshape_for_broadcast(freqs_cis, xq_)
        xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3).to(device)
        xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3).to(device)
        return xq_out.type_as(xq), xk_out.type_as(xk)

    def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
        bsz, seq_len, n_kv_heads, head_dim = x.shape
        if n_rep == 1:
            return x
        return (
            x[:, :, :, None, :]
            .expand(bsz, seq_len, n_kv_heads, n_rep, head_dim)
            .reshape(bsz, seq_len, n_kv_heads * n_rep, head_dim)
        )

    class Attention(nn.Module):  # the training-mode branch (the KV-cache inference branch is not used in training)
        def __init__(self, args: ModelArgs):
            super().__init__()
            self.args = args
            self.dim = args.dim
            self.n_heads = args.n_heads
            self.n_kv_heads = args.n_heads if args.n_kv_heads is None else args.n_kv_heads
            self.head_dim = args.dim // args.n_heads
            self.n_rep = args.n_heads // args.n_kv_heads
            self.wq = nn.Linear(self.dim, self.n_heads * self.head_dim, bias=False, device=device)
            self.wk = nn.Linear(self.dim, self.n_kv_heads * self.head_dim, bias=False, device=device)
            self.wv = nn.Linear(self.dim, self.n_kv_heads * self.head_dim, bias=False, device=device)
            self.wo = nn.Linear(self.n_heads * self.head_dim, self.dim, bias=False, device=device)

        def forward(self, x: torch.Tensor, start_pos, inference):
            bsz, seq_len, _ = x.shape
            mask = None
            xq = self.wq(x)
            xk = self.wk(x)
            xv = self.wv(x)
            xq = xq.view(bsz, seq_len, self.n_heads, self.head_dim)
            xk = xk.view(bsz, seq_len, self.n_kv_heads, self.head_dim)
            xv = xv.view(bsz, seq_len, self.n_kv_heads, self.head_dim)

            freqs_cis = precompute_freqs_cis(dim=self.head_dim, seq_len=self.args.max_seq_len)
            xq, xk = apply_rotary_emb(xq, xk, freqs_cis)
            keys = repeat_kv(xk, self.n_rep)
            values = repeat_kv(xv, self.n_rep)
            mask = torch.full((seq_len, seq_len), float("-inf"), device=self.args.device)
            mask = torch.triu(mask, diagonal=1).to(self.args.device)

            xq = xq.transpose(1, 2)
            keys = keys.transpose(1, 2)
            values = values.transpose(1, 2)
            scores = torch.matmul(xq, keys.transpose(2, 3)).to(self.args.device) / math.sqrt(self.head_dim)
            if mask is not None:
                scores = scores + mask
            scores = F.softmax(scores.float(), dim=-1).type_as(xq)
            output = torch.matmul(scores, values).to(self.args.device)
            output = output.transpose(1, 2).contiguous().view(bsz, seq_len, -1)
            return self.wo(output)

    class FeedForward(nn.Module):
        def __init__(self, dim: int, hidden_dim: int, multiple_of: int, ffn_dim_multiplier: Optional[float]):
            super().__init__()
            self.dim = dim
            hidden_dim = int(2 * hidden_dim / 3)
            if ffn_dim_multiplier is not None:
                hidden_dim = int(ffn_dim_multiplier * hidden_dim)
            hidden_dim = multiple_of * ((hidden_dim + multiple_of - 1) // multiple_of)
            self.w1 = nn.Linear(self.dim, hidden_dim, bias=False, device=device)
            self.w2 = nn.Linear(hidden_dim, self.dim, bias=False, device=device)
            self.w3 = nn.Linear(self.dim, hidden_dim, bias=False, device=device)

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

    class TransformerBlock(nn.Module):
        def __init__(self, args: ModelArgs):
            super().__init__()
            self.args = args
            self.attention_norm = RMSNorm(dim=args.dim, eps=args.norm_eps)
            self.attention = Attention(args)
            self.ff_norm = RMSNorm(dim=args.dim, eps=args.norm_eps)
            self.feedforward = FeedForward(args.dim, 4 * args.dim, args.multiple_of, args.ffn_dim_multiplier)

        def forward(self, x, start_pos, inference):
            h = x + self.attention(self.attention_norm(x), start_pos, inference)
            out = h + self.feedforward(self.ff_norm(h))
            return out

    class Transformer(nn.Module):
        def __init__(self, params: ModelArgs):
            super().__init__()
            self.params = params
            self.tok_embeddings = nn.Embedding(params.vocab_size, params.dim)
            self.layers = nn.ModuleList()
            for layer_id in range(params.n_layers):
                self.layers.append(TransformerBlock(args=params))
            self.norm = RMSNorm(params.dim, eps=params.norm_eps)
            self.output = nn.Linear(params.dim, params.vocab_size, bias=False)

        def forward(self, x, start_pos=0):
            # the program's forward in training mode (targets given: inference = False); the loss is taken outside
            h = self.tok_embeddings(x)
            inference = False
            for layer in self.layers:
                h = layer(h, start_pos, inference)
            h = self.norm(h)
            logits = self.output(h).float()
            return logits

    def loss_fn(logits, targets):  # the program's loss line inside Transformer.forward
        return F.cross_entropy(logits.view(-1, ModelArgs.vocab_size), targets.view(-1))

    dataset = torch.tensor(encode(data), dtype=torch.int).to(ModelArgs.device)

    def get_dataset_batch(data, split, args: ModelArgs, batch_size: int = ModelArgs.max_batch_size):
        seq_len = args.max_seq_len
        device = args.device

        train = data[:int(0.8 * len(data))]
        val = data[int(0.8 * len(data)): int(0.9 * len(data))]
        test = data[int(0.9 * len(data)):]

        batch_data = train
        if split == "val":
            batch_data = val

        if split == "test":
            batch_data = test

        ix = torch.randint(0, len(batch_data) - seq_len - 3, (batch_size,)).to(device)
        x = torch.stack([torch.cat([token_bos, batch_data[i:i+seq_len-1]]) for i in ix]).long().to(device)
        if fixed_targets:  # the fix (PR #1): y[t] is the character that follows x[t]
            y = torch.stack([torch.cat([batch_data[i:i+seq_len-1], token_eos]) for i in ix]).long().to(device)
        else:  # the fault: x already starts one token early (token_bos), so y[t] is two characters after x[t]
            y = torch.stack([torch.cat([batch_data[i+1:i+seq_len], token_eos]) for i in ix]).long().to(device)
        return x, y

    torch.manual_seed(SEED)
    batches = [get_dataset_batch(dataset, "train", ModelArgs) for _ in range(N_BATCHES)]
    baseline_batch = get_dataset_batch(dataset, "train", ModelArgs, batch_size=N_BASELINE)
    inputs, _ = get_dataset_batch(dataset, "val", ModelArgs, batch_size=N_INPUTS)

    torch.manual_seed(SEED)
    model = Transformer(ModelArgs).to(ModelArgs.device)
    optimizer = torch.optim.Adam(model.parameters())
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer, "baseline_batch": baseline_batch}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_targets=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_targets=True)
