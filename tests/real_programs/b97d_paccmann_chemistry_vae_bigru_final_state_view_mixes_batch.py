"""PaccMann/paccmann_chemistry (IBM Research Zurich, "generative models of chemical data for PaccMann^RL"): a
``TeacherVAE`` for SMILES strings made of a ``StackGRUEncoder`` and a ``StackGRUDecoder``, both subclasses of
``StackGRU`` (``models/stack_rnn.py``), a GRU augmented with a differentiable push-down stack (Joulin & Mikolov). The
GRU is driven one token at a time: ``forward(input_token, hidden, stack)`` gets a [1, batch] token, embeds it, puts
the top of the stack next to the embedding and runs ``nn.GRU(embedding + stack_width, rnn_cell_size, n_layers,
bidirectional=...)`` for that single step, so the hidden state [n_layers * n_directions, batch, cell] is carried by
the Python loop. ``encoder_train_step`` loops over the padded [seq, batch] token ids and maps the final hidden state
to ``mu`` / ``logvar``; ``TeacherVAE.forward`` samples ``z`` (reparameterisation), repeats it n_layers * n_directions
times, and ``decoder_train_step`` starts the decoder from ``latent_to_hidden(z)`` and teacher-forces it over the
decoder sequence, summing ``nn.CrossEntropyLoss()`` over the steps. ``models/training.py`` ``train_vae``: pad the
batch (``pad_sequence``), ``sequential_data_preparation`` (a START column in front, token dropout with
``input_keep``, the target = the batch plus one padding column), ``loss = kl_weight(step) * KL + decoder_loss``,
Adam. ``examples/example_params.json``: ``n_layers`` 2, ``bidirectional`` true, ``batch_size`` 128,
``embedding_size`` 64, ``rnn_cell_size`` 256, ``latent_dim`` 128, stack 50 x 50, ``learning_rate`` 1e-4,
``dropout`` 0.1, Adam, ``kl_growth`` 0.003, ``input_keep`` 0.95.

The fault (samples of a batch mixed in the encoder's final state): with ``bidirectional`` true the encoder does
``hidden.view(n_layers, n_directions, batch_size, cell)``, keeps the last layer, ``[-1, :, :, :]`` (shape
[2, batch, cell]), and then "concatenates forward / backward" with ``.view(batch_size, cell * n_directions)``. A view
of a [2, batch, cell] tensor as [batch, 2 * cell] does not pair a sample's two directions: it reads the memory in
order, so row i gets the forward states of samples 2i and 2i + 1 (for i < batch / 2) or the backward states of
samples 2i - batch and 2i - batch + 1 (for the other half). Every molecule's ``mu`` / ``logvar``, and so the latent
code the decoder has to reconstruct it from, is computed from two OTHER molecules of the batch; the decoder cannot
use the code (it describes other molecules) and falls back on what a language model can predict from the teacher-
forced prefix, and a molecule's reconstruction changes with its batch neighbours. Issue #5 ("Incorrect hidden layer
reshaping in GRUEncoder": "hidden's batch dimension ends up being mixed up with the n_directions dimension, i.e.
mixing the samples together", with the permute fix), fixed by 179c66c "fix: incorrect layer reshaping (#5)"
("Fixes incorrect .view() call that was mixing data from different samples in the same batch"): ``hidden[-1]``,
``permute(1, 0, 2)``, ``reshape(batch_size, cell * n_directions)`` (in a new ``_post_gru_reshape``). The developers
then wrote a batch-crosstalk test (53c3d19 "test: results independence from batch": identical samples in a batch
must get identical ``mu``), which exposed a second mixing of the same kind in ``StackGRU.forward``: the stack
controls were ``stack_controls_layer(hidden[-1, :, :].unsqueeze(0))`` ([1, batch, 3]) with ``F.softmax(...,
dim=1)``, i.e. the push / pop / no-op probabilities normalised over the BATCH instead of over the three actions
(each sample's weights ~1/batch and dependent on all other samples); fixed by 631194e "fix: bug in stack that
computes softmax over baatch" (``stack_controls_layer(hidden[-1, :, :])``, ``softmax(dim=-1)``). The buggy version
here is the program before both commits (a60c54b); the fixed version applies both, nothing else.
Fault label: batch_mixing (a sample's latent code, and its stack, are computed from other samples of the batch).

Source: github.com/PaccMann/paccmann_chemistry at a60c54b4097703705fdb57fddedbfc061baa0462 (= 179c66c^):
``paccmann_chemistry/models/vae.py`` (StackGRUEncoder, StackGRUDecoder, TeacherVAE), ``models/stack_rnn.py``
(StackGRU), ``models/training.py`` (train_vae), ``utils/core.py`` (sequential_data_preparation, collate_fn,
kl_weight), ``utils/loss_functions.py`` (vae_loss_function), ``utils/hyperparams.py``, ``examples/train_vae.py``,
``examples/example_params.json``; issue #5; fixes 179c66c02f53f3c86e68f76a31fc80bc842f5b71 (2020-04-04) and
631194ea466e2198c3a065906ad926cc7014c195 (2020-04-08).

Program lines kept: ``StackGRU`` (``__init__`` with its own unused optimizer, ``forward``, ``stack_augmentation``,
``init_hidden``, ``init_stack``; their CUDA branches dropped, ``get_device`` is the CPU), ``StackGRUEncoder`` with
the buggy ``.view`` lines / the fixed ``_post_gru_reshape``, ``StackGRUDecoder``, ``TeacherVAE`` (``encode``,
``reparameterize``, ``decode``, ``forward``), ``sequential_data_preparation`` and ``kl_weight`` verbatim; the
example's layers (2 layers, bidirectional), batch 128, latent 128, Adam lr 1e-4 over the VAE's parameters,
dropout 0.1, input_keep 0.95 in training / test_input_keep 1.0 in eval mode, torch default init.
Changed, the same in both versions: (1) ``decoder_train_step`` collects the per-step logits and returns them
[batch, seq + 1, vocab] instead of summing ``self.criterion(output, target_entry.squeeze())`` itself; ``loss_fn``
sums that same criterion over the steps and adds ``vae_loss_function``'s ``kl_w * KL`` from the ``mu`` / ``logvar``
the model keeps from its last forward. (2) ``kl_w`` is fixed at ``kl_weight(0, 0.003)`` = 3.1e-7: ``train_vae``
runs epoch 0 first with ``global_step = (epoch - 1) * len(loader) + _iter`` < 0, so the weight stays below that
for the whole first epoch. (3) A wrapper (``BatchFirstVAE``) takes the batch-first [batch, seq] padded ids, transposes
them to ``pad_sequence``'s [seq, batch] and sets the encoder's / decoder's ``batch_size`` to the batch given (the
program's loader uses ``drop_last=True``, so its batch is always ``batch_size``). (4) The batch-of-one guard of
1355ba7 (``input_token.shape[0] != 1 or len(input_token.shape) < 2``) so that a single sample does not crash; it
changes nothing for batches > 1. Shrunk (the per-token Python loop is the cost): ``embedding_size`` 64 -> 32,
``rnn_cell_size`` 256 -> 64, stack 50 x 50 -> 20 x 20, molecules of at most 14 tokens. ``reparameterize`` samples
its noise in eval mode too, as the program's ``test_vae`` does, so two forward passes never give the same logits.
Ported: torch only. The fault is the .view of PyTorch's [layers * directions, batch, cell] state layout (and a
softmax axis on a [1, batch, 3] tensor); Keras' bidirectional RNNs return each direction's state as its own
(batch, units) tensor, so there is no faithful Keras twin.
Data stand-in (no ChEMBL / pytoda download): seeded SMILES-like molecules over a 31-token vocabulary laid out as
pytoda's SMILESLanguage does (0 <PAD>, 1 <UNK>, 2 <START>, 3 <STOP>, then atoms, bonds, brackets, ring digits,
stereo tokens); each molecule is 2-5 fragments from one of six compound families (aliphatic C / O with carbonyls,
aromatic rings, halogenated, nitrogen / nitro, sulfur / phosphorus, stereo / double bonds), 3-14 tokens, wrapped in
<START> ... <STOP> (``add_start_and_stop``) and padded with 0 to 16; every batch of 128 sorted longest first
(``collate_fn``). ``batches``: 40 batches of 128 (x: [128, 16] ids, y: [128, 17] targets = x plus a padding
column); ``batch``: the first; ``inputs``: 128 held-out molecules. The family is visible in every token the encoder
reads but unknown to the decoder before its first tokens, so a working latent code helps the reconstruction.

Measured (my own plain loop, /tmp/s57/p/b97d/measure.py: the module's builds, its 40 batches cycled in order,
zero_grad / forward / loss_fn / backward / Adam step, torch seed 0, OMP_NUM_THREADS=1; held-out = the 128
``inputs`` in eval mode, reconstruction = the summed cross-entropy over the 17 steps, same noise seed):
  training loss (means of 100-step blocks, steps 1-100, 101-200, ..., 901-1000, then 1901-2000):
    buggy 51.08 27.92 22.40 20.22 18.23 16.25 14.51 13.17 12.11 11.31 ... 8.37
    fixed 49.25 27.74 22.13 19.23 16.50 14.26 12.55 11.38 10.39  9.72 ... 7.29
  held-out reconstruction after 100 / 300 / 500 / 1000 / 1500 / 2000 steps (59.4 at init in both):
    buggy 36.09 20.26 16.07 9.75 8.02 7.45;  fixed 32.33 19.80 14.23 8.32 7.04 6.49
    (the buggy run reaches at step 1,500 what the fixed one had at ~1,100: 8.02 vs 7.99);
  held-out token accuracy (non-padding targets) after 1000 / 2000 steps: buggy 0.674 / 0.723, fixed 0.712 / 0.746;
    accuracy on the first molecule token (before the decoder has seen any of it): buggy 0.367 from step 200 on
    (= the share of the most frequent first token, 'C': no use of the code), fixed 0.414-0.422.
  Only the first fix (179c66c, stack softmax still over the batch), 1000 steps: held-out reconstruction 8.96
    (buggy 9.75, fixed 8.32), training block 10.44; both commits account for part of the gap.
  Cross-talk (eval mode, same noise seed; sample 0 of the held-out batch replaced by sample 1, largest change of
    any OTHER sample's logits): at init buggy 0.037, first fix only 5.8e-7, fixed 0.0; after training buggy 0.63,
    first fix only 2.0e-4 (after 1000 steps), fixed 0.0. ``mu`` of a molecule encoded alone vs inside its batch of
    128 (fresh builds): buggy differs by 0.95, fixed by 9e-8.
  One batch repeated (/tmp/s57/p/b97d/overfit.py), loss at steps 1 / 50 / 100 / 200 / 400: buggy 59.21 53.02 37.39
    24.23 16.40, fixed 59.19 52.26 34.68 23.95 15.82: memorising one batch is hardly affected (within a fixed
    batch the mixed code is still a fixed code for each position), the damage shows on new batches.
  Time per step (batch 128, one thread, on a machine shared with other jobs, load ~6 on 2 cores): ~0.53 s in both
    versions (the per-token loop over 16 + 17 steps dominates); build: first ~2.9 s (imports, data), later 0.01 s.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:PaccMann/paccmann_chemistry issue #5, fix 179c66c02f53f3c86e68f76a31fc80bc842f5b71 'fix: incorrect "
          "layer reshaping (#5)' + 631194ea466e2198c3a065906ad926cc7014c195 'fix: bug in stack that computes softmax "
          "over baatch' (paccmann_chemistry/models/vae.py StackGRUEncoder.encoder_train_step, models/stack_rnn.py "
          "StackGRU.forward, models/training.py train_vae, utils/core.py, utils/loss_functions.py, "
          "examples/example_params.json @a60c54b4097703705fdb57fddedbfc061baa0462 = 179c66c^)")
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("input_independent_baseline", {})]

# examples/example_params.json (widths shrunk, see the docstring)
PARAMS = {
    "start_stop": True, "n_layers": 2, "bidirectional": True, "batch_size": 128, "embedding_size": 32,
    "rnn_cell_size": 64, "latent_dim": 128, "stack_width": 20, "stack_depth": 20, "learning_rate": 0.0001,
    "dropout": 0.1, "optimizer": "Adam", "kl_growth": 0.003, "input_keep": 0.95, "test_input_keep": 1.0,
}
VOCAB = ["<PAD>", "<UNK>", "<START>", "<STOP>", "C", "c", "N", "n", "O", "o", "S", "s", "F", "Cl", "Br", "I", "P",
         "(", ")", "=", "#", "1", "2", "3", "[nH]", "[O-]", "[N+]", "[C@@H]", "[C@H]", "/", "\\"]
MAX_LEN = 16  # <START> + up to 14 tokens + <STOP>; every batch padded to this length
N_BATCHES = 40
N_INPUTS = 128
SEED = 0


FAMILIES = (  # fragment pools of six compound families
    (["C", "C", "O"], ["C", "(", "=", "O", ")"], ["C", "O", "C"], ["O"]),  # aliphatic C / O, carbonyls
    (["c", "1", "c", "c", "c", "c", "c", "1"], ["c", "1", "c", "c", "n", "c", "c", "1"], ["n"], ["c"]),  # aromatic
    (["C", "F"], ["C", "Cl"], ["Br"], ["C", "(", "F", ")"], ["I"]),  # halogenated
    (["N"], ["C", "#", "N"], ["[N+]", "(", "=", "O", ")", "[O-]"], ["N", "C"]),  # nitrogen
    (["S"], ["s"], ["P"], ["C", "S"], ["S", "(", "=", "O", ")"]),  # sulfur / phosphorus
    (["[C@@H]"], ["[C@H]"], ["/", "C", "=", "C"], ["\\", "C", "=", "C"]),  # stereo / double bonds
)


def _molecule(r: np.random.Generator) -> list[str]:
    """One SMILES-like token list: 2-5 fragments drawn from one randomly chosen family, 3..MAX_LEN - 2 tokens."""
    while True:
        pool = FAMILIES[int(r.integers(len(FAMILIES)))]
        toks: list[str] = []
        for _ in range(int(r.integers(2, 6))):
            toks += pool[int(r.integers(len(pool)))]
        if 3 <= len(toks) <= MAX_LEN - 2:
            return toks


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """(n, MAX_LEN) int64 token ids, SMILESDataset(add_start_and_stop=True) + collate_fn (each batch sorted longest
    first) + pad_sequence, batch-first; the first N_BATCHES * 128 rows are training batches, the rest held out."""
    r = np.random.default_rng(SEED)
    idx = {t: i for i, t in enumerate(VOCAB)}
    bs = PARAMS["batch_size"]
    n = N_BATCHES * bs + N_INPUTS
    x = np.zeros((n, MAX_LEN), "int64")  # padding index 0
    lengths = np.zeros(n, "int64")
    for i in range(n):
        ids = [idx["<START>"]] + [idx[t] for t in _molecule(r)] + [idx["<STOP>"]]
        x[i, :len(ids)] = ids
        lengths[i] = len(ids)
    for s in range(0, n, bs):  # collate_fn: sort each batch by length, longest first
        order = np.argsort(-lengths[s:s + bs], kind="stable")
        x[s:s + bs] = x[s:s + bs][order]
    return x[:N_BATCHES * bs], x[N_BATCHES * bs:]


def _targets(x: np.ndarray) -> np.ndarray:
    """sequential_data_preparation's target_seq, batch-first: the padded batch followed by one padding column."""
    return np.concatenate([x, np.zeros((len(x), 1), "int64")], 1)


def _build(view_fix: bool, stack_fix: bool) -> dict[str, Any]:
    import copy

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.autograd import Variable
    from torch.distributions.bernoulli import Bernoulli

    OPTIMIZER_FACTORY = {  # utils/hyperparams.py
        'Adadelta': optim.Adadelta,
        'Adagrad': optim.Adagrad,
        'Adam': optim.Adam,
        'Adamax': optim.Adamax,
        'RMSprop': optim.RMSprop,
        'SGD': optim.SGD
    }

    def get_device():
        return torch.device("cpu")

    def sequential_data_preparation(
        input_batch, input_keep=1, start_index=2, end_index=3, dropout_index=1
    ):  # utils/core.py
        batch_size = input_batch.shape[1]
        input_batch = torch.LongTensor(input_batch.cpu().numpy())
        decoder_batch = input_batch.clone()
        # apply token dropout if keep != 1
        if input_keep != 1:
            # build dropout indices consisting of dropout_index
            dropout_indices = torch.LongTensor(
                dropout_index * torch.ones(1, batch_size).numpy()
            )
            # mask for token dropout
            mask = Bernoulli(input_keep).sample((input_batch.shape[0], ))
            mask = torch.LongTensor(mask.numpy())
            dropout_loc = np.where(mask == 0)[0]

            decoder_batch[dropout_loc] = dropout_indices

        start_indices = torch.LongTensor(
            start_index * torch.ones(1, batch_size).numpy()
        )
        input_seq = torch.cat((start_indices, input_batch), dim=0)
        decoder_seq = torch.cat((start_indices, decoder_batch), dim=0)

        end_padding = torch.LongTensor(torch.zeros(1, batch_size).numpy())
        target_seq = torch.cat((input_batch, end_padding), dim=0)
        target_seq = copy.deepcopy(target_seq).transpose(1, 0)
        target_seq = target_seq.transpose(1, 0)
        device = get_device()
        return input_seq.to(device), decoder_seq.to(device), target_seq.to(device)

    def kl_weight(step, growth_rate=0.004):  # utils/core.py
        weight = 1 / (1 + math.exp((15 - growth_rate * step)))
        return weight

    class StackGRU(nn.Module):  # models/stack_rnn.py
        """Stack Augmented Gated Recurrent Unit (GRU) class."""

        def __init__(self, params):
            super(StackGRU, self).__init__()

            self.input_size = params['input_size']
            self.embedding_size = params['embedding_size']
            self.rnn_cell_size = params['rnn_cell_size']
            self.output_size = params['output_size']
            self.stack_width = params['stack_width']
            self.stack_depth = params['stack_depth']
            self.batch_size = params['batch_size']
            self.use_cuda = torch.cuda.is_available()
            self.n_layers = params['n_layers']
            self.bidirectional = params.get('bidirectional', False)
            self.n_directions = 2 if self.bidirectional else 1
            self.device = get_device()

            # Network
            self.stack_controls_layer = nn.Linear(
                in_features=self.rnn_cell_size, out_features=3
            )
            self.stack_input_layer = nn.Linear(
                in_features=self.rnn_cell_size, out_features=self.stack_width
            )

            self.encoder = nn.Embedding(
                self.input_size,
                self.embedding_size,
                padding_idx=params.get('pad_index', 0)
            )
            self.gru = nn.GRU(
                self.embedding_size + self.stack_width,
                self.rnn_cell_size,
                self.n_layers,
                bidirectional=self.bidirectional,
                dropout=params['dropout']
            )
            self.decoder = nn.Linear(
                self.rnn_cell_size * self.n_directions, self.output_size
            )
            self.criterion = nn.CrossEntropyLoss()
            self.optimizer = OPTIMIZER_FACTORY[
                params.get('optimizer', 'Adadelta')
            ](self.parameters(), lr=params.get('lr', 0.01))  # yapf: disable

        def forward(self, input_token, hidden, stack):
            if input_token.shape[0] != 1 or len(input_token.shape) < 2:  # 1355ba7 (batch of 1), both versions
                input_token = input_token.view(1, -1)
            embedded_input = self.encoder(input_token.to(self.device))
            if stack_fix:  # 631194e
                stack_controls = self.stack_controls_layer(hidden[-1, :, :])
                stack_controls = F.softmax(stack_controls, dim=-1)
            else:  # @a60c54b: [1, batch, 3], softmax over dim 1 = over the batch
                stack_controls = self.stack_controls_layer(
                    hidden[-1, :, :].unsqueeze(0)
                )
                stack_controls = F.softmax(stack_controls, dim=1)
            stack_input = self.stack_input_layer(hidden[-1, :, :].unsqueeze(0))
            stack_input = torch.tanh(stack_input)
            stack = self.stack_augmentation(
                stack_input.permute(1, 0, 2), stack, stack_controls
            )
            stack_top = stack[:, 0, :].unsqueeze(0)
            inp = torch.cat((embedded_input, stack_top), dim=2)
            output, hidden = self.gru(inp, hidden)
            output = self.decoder(output).squeeze()
            return output, hidden, stack

        def stack_augmentation(self, input_val, prev_stack, controls):
            batch_size = prev_stack.size(0)
            controls = controls.view(-1, 3, 1, 1)
            zeros_at_the_bottom = torch.zeros(batch_size, 1, self.stack_width)
            if self.use_cuda:
                zeros_at_the_bottom = Variable(zeros_at_the_bottom.cuda())
            else:
                zeros_at_the_bottom = Variable(zeros_at_the_bottom)
            a_push, a_pop, a_no_op = (
                controls[:, 0], controls[:, 1], controls[:, 2]
            )
            stack_down = torch.cat((prev_stack[:, 1:], zeros_at_the_bottom), dim=1)
            stack_up = torch.cat((input_val, prev_stack[:, :-1]), dim=1)
            new_stack = a_no_op * prev_stack
            new_stack = new_stack + a_push * stack_up
            new_stack = new_stack + a_pop * stack_down
            return new_stack

        def init_hidden(self, batch_size=None):
            """Initializes hidden state."""
            if batch_size is None:
                batch_size = self.batch_size
            return Variable(
                torch.zeros(
                    self.n_layers * self.n_directions, batch_size,
                    self.rnn_cell_size
                )
            )

        def init_stack(self, batch_size=None):
            """Initializes Stack."""
            if batch_size is None:
                batch_size = self.batch_size
            result = torch.zeros(batch_size, self.stack_depth, self.stack_width)
            return Variable(result)

    class StackGRUEncoder(StackGRU):  # models/vae.py
        """Stacked GRU Encoder."""

        def __init__(self, params):
            super(StackGRUEncoder, self).__init__(params)
            self.latent_dim = params['latent_dim']
            self.hidden_to_mu = nn.Linear(
                in_features=self.rnn_cell_size * self.n_directions,
                out_features=self.latent_dim
            )
            self.hidden_to_logvar = nn.Linear(
                in_features=self.rnn_cell_size * self.n_directions,
                out_features=self.latent_dim
            )

        def encoder_train_step(self, input_seq):
            hidden = self.init_hidden()
            stack = self.init_stack()
            for input_entry in input_seq:
                output, hidden, stack = self(input_entry, hidden, stack)

            if view_fix:  # 179c66c
                hidden = self._post_gru_reshape(hidden)
            else:  # @a60c54b
                # Reshape to disentangle layers and directions
                hidden = hidden.view(
                    self.n_layers, self.n_directions, self.batch_size,
                    self.rnn_cell_size
                )
                # Discard all but last layer, concatenate forward/backward
                hidden = hidden[-1, :, :, :].view(
                    self.batch_size, self.rnn_cell_size * self.n_directions
                )
            mu = self.hidden_to_mu(hidden)
            logvar = self.hidden_to_logvar(hidden)

            return mu, logvar

        def _post_gru_reshape(self, hidden: torch.Tensor) -> torch.Tensor:  # 179c66c
            expected_shape = torch.tensor([
                self.n_layers * self.n_directions, self.batch_size,
                self.rnn_cell_size
            ])
            if not torch.equal(torch.tensor(hidden.shape), expected_shape):
                raise ValueError(
                    f'GRU hidden layer has incorrect shape: {hidden.shape}. '
                    f'Expected shape: {expected_shape}'
                )

            # Reshape to disentangle layers and directions
            hidden = hidden.view(
                self.n_layers, self.n_directions, self.batch_size,
                self.rnn_cell_size
            )
            # Layers x Directions x Batch x Cell_size -> D x B x C
            hidden = hidden[-1, :, :, :]

            # D x B x C -> B x D x C
            hidden = hidden.permute(1, 0, 2)

            # B x D x C -> B x D*C
            hidden = hidden.reshape(
                self.batch_size, self.rnn_cell_size * self.n_directions
            )

            return hidden

    class StackGRUDecoder(StackGRU):  # models/vae.py
        """Stack GRU Decoder."""

        def __init__(self, params, *args, **kwargs):
            super(StackGRUDecoder, self).__init__(params, *args, **kwargs)
            self.params = params
            self.latent_dim = params['latent_dim']
            self.latent_to_hidden = nn.Linear(
                in_features=self.latent_dim, out_features=self.rnn_cell_size
            )

        def decoder_train_step(self, latent_z, input_seq, target_seq):
            hidden = self.latent_to_hidden(latent_z)
            stack = self.init_stack()
            outputs = []  # the program sums self.criterion(output, target_entry.squeeze()) here; see loss_fn
            for input_entry, target_entry in zip(input_seq, target_seq):
                output, hidden, stack = self(
                    input_entry.unsqueeze(0), hidden, stack
                )
                outputs.append(output.reshape(input_entry.shape[-1], -1))
            return torch.stack(outputs, 1)  # [batch, seq, vocab]

    class TeacherVAE(nn.Module):  # models/vae.py
        def __init__(self, encoder, decoder):
            super(TeacherVAE, self).__init__()
            self.encoder = encoder
            self.decoder = decoder

        def encode(self, input_seq):
            mu, logvar = self.encoder.encoder_train_step(input_seq)
            return mu, logvar

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return eps.mul(std).add_(mu)

        def decode(self, latent_z, input_seq, target_seq):
            n_layers = self.decoder.n_layers
            n_directions = self.decoder.n_directions
            latent_z = latent_z.repeat(n_layers * n_directions, 1, 1)
            decoder_loss = self.decoder.decoder_train_step(  # the logits in this port
                latent_z, input_seq, target_seq
            )
            return decoder_loss

        def forward(self, input_seq, decoder_seq, target_seq):
            mu, logvar = self.encode(input_seq)
            latent_z = self.reparameterize(mu, logvar).unsqueeze(0)
            decoder_loss = self.decode(latent_z, decoder_seq, target_seq)
            return decoder_loss, mu, logvar

    class BatchFirstVAE(nn.Module):
        """The body of train_vae / test_vae up to the loss, on a batch-first padded batch: transposes it to
        pad_sequence's [seq, batch], runs sequential_data_preparation and the TeacherVAE; returns the decoder's
        per-step logits [batch, seq + 1, vocab] and keeps mu / logvar for the loss."""

        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, x):
            padded_batch = x.t()
            # the program's batch size is fixed (drop_last=True); follow the batch given
            self.vae.encoder.batch_size = self.vae.decoder.batch_size = padded_batch.shape[1]
            input_keep = params['input_keep'] if self.training else params['test_input_keep']
            encoder_seq, decoder_seq, target_seq = sequential_data_preparation(
                padded_batch, input_keep=input_keep, start_index=2, end_index=3
            )
            logits, self.mu, self.logvar = self.vae(encoder_seq, decoder_seq, target_seq)
            return logits

    params = dict(PARAMS)
    params.update({'input_size': len(VOCAB), 'output_size': len(VOCAB), 'pad_index': 0})
    torch.manual_seed(SEED)
    gru_encoder = StackGRUEncoder(params)
    gru_decoder = StackGRUDecoder(params)
    gru_vae = TeacherVAE(gru_encoder, gru_decoder)
    model = BatchFirstVAE(gru_vae)
    model.train()
    optimizer = OPTIMIZER_FACTORY[params['optimizer']](gru_vae.parameters(), lr=params['learning_rate'])
    criterion = gru_decoder.criterion
    kl_w = kl_weight(0, growth_rate=params['kl_growth'])  # global_step <= 0 throughout epoch 0, see the docstring

    def loss_fn(logits, target):  # decoder_train_step's summed cross-entropy + vae_loss_function
        decoder_loss = 0
        for t in range(logits.shape[1]):
            decoder_loss += criterion(logits[:, t], target[:, t])
        mu, logvar = model.mu, model.logvar
        kl_div = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return kl_w * kl_div + decoder_loss

    x, xh = _data()
    y = _targets(x)
    bs = params['batch_size']
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + bs], yt[i:i + bs]) for i in range(0, len(xt), bs)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(view_fix=False, stack_fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(view_fix=True, stack_fix=True)
