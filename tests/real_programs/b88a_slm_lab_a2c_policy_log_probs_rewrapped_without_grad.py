"""SLM-Lab (github.com/kengz/SLM-Lab), the modular deep-RL lab that goes with "Foundations of Deep Reinforcement
Learning": ``ActorCritic`` (``slm_lab/agent/algorithm/actor_critic.py``) with the spec ``a2c_mlp_shared_cartpole``
(``slm_lab/spec/a2c.json``): advantage actor-critic on CartPole-v0 with one network shared by actor and critic
(``MLPNetShared`` -> ``MLPHeterogenousTails``: Linear(4, 32) -> Tanh, then two linear tails, 2 action logits and 1
state value; xavier-uniform weights, biases 0.01), Adam(lr=0.02), MSELoss for the critic, gamma 0.99, GAE with lam
1.0, entropy bonus 0.01, policy_loss_coef = val_loss_coef = 1.0, memory ``OnPolicyReplay`` with training_frequency 1:
one update per finished episode, on that episode's transitions.

The fault (the actor gets no gradient): while acting, ``body_act`` appends each step's ``action_pd.log_prob(action)``
and ``action_pd.entropy()`` (0-d tensors still attached to the network's graph) to ``body.log_probs`` /
``body.entropies``. ``calc_policy_loss`` then gathers them with ``torch.tensor(self.body.log_probs,
requires_grad=True)`` (and the same for the entropies). ``torch.tensor`` copies the values into a brand-new leaf
tensor: the graph back to the policy logits is cut, and ``requires_grad=True`` only keeps ``loss.backward()`` from
raising. The policy loss therefore moves nothing; the only gradient the shared net receives is the critic's value
loss, so the action tail never trains and the policy only drifts as the shared hidden layer is reshaped for the
value estimate. Nothing crashes and the logged loss falls (it is the value loss), but the agent does not learn to
balance. Fix, PR #133 "Fix ActorCritic family" (merged as fbf482ee5389ae3c4b9fdb86fe1d12765364edca; its
description: "REINFORCE and its descendants are broken (AC, PPO, SIL). root cause: `torch.tensor` creates a brand
new tensor detached from the computation graph. So no gradient update was done. - solution: use `torch.stack`
instead."; it also added an ``assert_trained`` check "Model parameter is not updated in training_step(), check if
your tensor is detached from graph"): ``log_probs = torch.stack(self.body.log_probs)`` and ``entropies =
torch.stack(self.body.entropies)``.

Source: github.com/kengz/SLM-Lab ``slm_lab/agent/algorithm/actor_critic.py`` at fbf482ee^ =
ca948b36 (``calc_policy_loss``, ``train_shared``, ``calc_gae_advs_v_targets``, ``calc_val_loss``, ``calc_v``,
``body_act``), ``slm_lab/agent/algorithm/math_util.py`` (``calc_gaes``), ``slm_lab/agent/algorithm/policy_util.py``
(``default``: ``Categorical(logits=pdparam)``), ``slm_lab/agent/net/mlp.py`` (``MLPHeterogenousTails``,
``training_step``), ``slm_lab/agent/net/net_util.py`` (``build_sequential``, ``init_layers``), ``slm_lab/spec/a2c.json``
(``a2c_mlp_shared_cartpole``); fix PR #133, fbf482ee.
Fault label: no_gradient (the policy loss reaches no parameter: the actor's log probabilities are re-wrapped by
``torch.tensor`` as fresh leaves, so the action tail gets no gradient and the policy never learns).

Program lines kept: the net (``build_sequential`` with tanh, the ModuleList tails, ``init_layers``: xavier_uniform_
weights, constant 0.01 biases), Adam(lr=0.02) over all its parameters, ``calc_gaes`` and the standardisation with
its NaN guard, ``calc_policy_loss``'s body with the two faulty ``torch.tensor(..., requires_grad=True)`` lines
(fixed: the two ``torch.stack`` lines of fbf482ee, nothing else of that PR: it also moved the loss coefficients,
changed val_loss_coef's default to 0.01 and retuned specs; the coefficients here are the spec's 1.0 in both
versions), ``calc_val_loss`` (MSELoss on ``v_targets.unsqueeze(dim=-1)``), ``loss = policy_loss_coef * policy_loss
+ val_loss_coef * val_loss``, the plain ``training_step`` (zero_grad, backward, step; clip_grad off).
Ported: gym and the lab's Session/Agent/Body/Memory plumbing are not used. The net's ``forward`` returns the list
[logits, value]; the port's ``SharedNet`` returns the logits (the pdparam ``calc_pdparam`` takes) and keeps the value
tail's output on ``net.v``, which ``loss_fn`` reads where the program called ``calc_v(batch['states'])``. The program
computes the log probs while acting and the values again at training time, with the same parameters (the update
comes only after the episode); the port takes both from the one forward over the episode's states, building
``body.log_probs`` / ``body.entropies`` step by step as ``body_act`` does, then computes advantages and value
targets under no_grad from the current values, as ``train_shared`` does before every update. The GAE tail value
``calc_v(batch['next_states'][-1:])`` is multiplied by ``1 - done`` = 0 for the last step of every episode
(CartPole-v0 ends every episode with done, at the latest at its 200-step TimeLimit), so the port uses 0 there.
``np.isnan(rewards)`` is taken on ``rewards.numpy()`` (numpy 2 no longer reduces a torch tensor). lr decay
(``rate_decay``: from timestep 1000, every 500 steps, Adam rebuilt at a compounding lower lr) is left out of the
builds (the checks' runs are shorter than its first decay) and kept in my measuring loop. One batch = one episode,
as the program trains: ``x`` its states (T, 4) float32, ``y`` (T, 3) float32 = [action, reward, done]. Framework:
torch only (the fault is ``torch.tensor`` copying the values out of the autograd graph; Keras has no such
re-wrapping step to port). On torch 2.13 the faulty line also emits "UserWarning: Converting a tensor with
requires_grad=True to a scalar may lead to unexpected behavior" (torch 0.4, the program's, did not).
Data stand-in (no gym): CartPole-v0's dynamics stepped in seeded numpy (``_data.cartpole_step``: gym's equations,
start state U(+-0.05), done when |x| > 2.4 or |theta| > 12 degrees, TimeLimit 200), actions drawn 50/50 (the fresh
net's action probabilities are within a few percent of 0.5), reward 1 per step. ``batches``: 16 episodes (381
steps, 10..56 per episode; unnormalised states as the program feeds them, |velocities| up to ~2.7); ``batch``: the
first (10 steps); ``inputs``: the first 256 states of 11 further episodes.

Measured (my own plain loop, /tmp/s54/p/h88_a/measure.py, OMP_NUM_THREADS=1, torch 2.13 CPU):
  Online: the agent acting on the CartPole-v0 stand-in with the module's builds (net, Adam, loss_fn; seed 0 the
  module's own init, seeds 1 and 2 the same init scheme re-drawn), actions sampled from Categorical(logits), one
  update per finished episode, the spec's lr decay, 500 episodes (the spec's max_episode). Mean episode length over
  episodes 1-100 / 101-200 / 201-300 / 301-400 / 401-500 (longest episode):
    seed 0: buggy 14.7 / 13.5 / 13.2 / 12.4 / 12.6 (37),   fixed 19.3 / 42.8 / 76.3 / 71.6 / 73.7 (200)
    seed 1: buggy 15.6 / 14.8 / 15.4 / 15.5 / 14.7 (51),   fixed 25.5 / 44.0 / 60.4 / 52.5 / 56.4 (200)
    seed 2: buggy 18.8 / 18.2 / 16.5 / 15.6 / 15.8 (50),   fixed 35.1 / 48.3 / 65.3 / 63.8 / 73.2 (200)
  The buggy agent never gets past random play (random actions average ~24 steps here; it even sinks below that as
  the value loss reshapes the shared layer under a frozen action tail); the fixed one triples its episode length
  and reaches the 200-step cap. (The fixed agent plateaus near 55-75 because the spec's compounding lr decay has
  cut the lr below 1e-3 by then: the program's own schedule, the same in both versions.)
  Gradients: one backward of ``loss_fn`` on ``batch``: action tail ``.grad`` None in the buggy build, norm 0.65 in
  the fixed one; value tail 9.38 in both, hidden layer 10.60 / 10.50. After 100 updates cycling ``batches`` the
  buggy action-tail weights are bit-identical to their init.
  Loss (it is mostly the value loss, so it falls in both): 100 updates cycling the 16 ``batches``, mean of the
  first / last 16 updates: buggy 176.0 -> 52.3, fixed 176.0 -> 49.8; 200 updates on ``batch`` alone: buggy
  39.64 -> 0.53, fixed 39.64 -> -43.0 (the fixed policy loss, -log_prob * standardised advantage, has no lower bound
  on one fixed episode: it drives the log probs of negative-advantage actions down).
  Time: ~8-10 ms per update step on a ~24-step episode (the per-step Categorical loop dominates), one thread.
  Builds: first ~3 s (imports), later ~1 ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import cartpole_step

LABEL = "no_gradient"
SOURCE = ("github:kengz/SLM-Lab PR #133 'Fix ActorCritic family' (slm_lab/agent/algorithm/actor_critic.py "
          "calc_policy_loss 'log_probs = torch.tensor(self.body.log_probs, requires_grad=True)' @ca948b36 = "
          "fbf482ee^, spec/a2c.json a2c_mlp_shared_cartpole, net/mlp.py MLPHeterogenousTails; fix "
          "fbf482ee5389ae3c4b9fdb86fe1d12765364edca: torch.stack(self.body.log_probs))")
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

# spec a2c_mlp_shared_cartpole
GAMMA = 0.99
LAM = 1.0
ADD_ENTROPY = True
ENTROPY_COEF = 0.01
POLICY_LOSS_COEF = 1.0
VAL_LOSS_COEF = 1.0
HID_LAYERS = [32]
HID_LAYERS_ACTIVATION = "tanh"
LR = 0.02
STATE_DIM, ACTION_DIM = 4, 2
TIME_LIMIT = 200  # CartPole-v0
# port
N_BATCHES = 16
N_INPUTS = 256
SEED = 0


def _episode(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    state = rng.uniform(-0.05, 0.05, 4)
    states, ys = [], []
    for _t in range(TIME_LIMIT):
        action = int(rng.integers(0, ACTION_DIM))  # the fresh net's probabilities are ~0.5 / 0.5
        nxt, done = cartpole_step(state, action)
        done = done or len(states) + 1 == TIME_LIMIT
        states.append(state)
        ys.append([action, 1.0, float(done)])
        state = nxt
        if done:
            break
    return np.array(states, dtype="float32"), np.array(ys, dtype="float32")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    rng = np.random.default_rng(SEED)
    batches = [_episode(rng) for _ in range(N_BATCHES)]
    held = []
    while sum(len(s) for s in held) < N_INPUTS:
        held.append(_episode(rng)[0])
    return batches, np.concatenate(held)[:N_INPUTS]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch import distributions

    # ---- net_util.py ----
    NN_LOWCASE_LOOKUP = {nn_name.lower(): nn_name for nn_name in nn.__dict__}  # noqa: N806 (program's name)

    def get_activation_fn(activation):
        nn_name = NN_LOWCASE_LOOKUP.get(activation) or NN_LOWCASE_LOOKUP['relu']
        ActivationClass = getattr(nn, nn_name)  # noqa: N806
        return ActivationClass()

    def build_sequential(dims, activation):
        '''Build the Sequential model by interleaving nn.Linear and activation_fn'''
        dim_pairs = list(zip(dims[:-1], dims[1:]))
        layers = []
        for in_d, out_d in dim_pairs:
            layers.append(nn.Linear(in_d, out_d))
            layers.append(get_activation_fn(activation))
        model = nn.Sequential(*layers)
        return model

    def init_layers(layers):
        bias_init = 0.01
        for layer in layers:
            classname = layer.__class__.__name__
            if 'Linear' in classname:
                torch.nn.init.xavier_uniform_(layer.weight.data)
                torch.nn.init.constant_(layer.bias.data, bias_init)

    # ---- mlp.py MLPHeterogenousTails (net_spec plumbing left out) ----
    class MLPHeterogenousTails(nn.Module):
        def __init__(self, in_dim, out_dim, hid_layers, hid_layers_activation):
            super().__init__()
            dims = [in_dim] + hid_layers
            self.model_body = build_sequential(dims, hid_layers_activation)
            # multi-tail output layer with mean and std
            self.model_tails = nn.ModuleList([nn.Linear(dims[-1], out_d) for out_d in out_dim])
            init_layers(self.modules())

        def forward(self, x):
            '''The feedforward step'''
            x = self.model_body(x)
            outs = []
            for model_tail in self.model_tails:
                outs.append(model_tail(x))
            return outs

    class SharedNet(MLPHeterogenousTails):  # port: returns the logits (pdparam), keeps the value on the net
        def forward(self, x):
            pdparam, v = super().forward(x)
            self.v = v  # calc_v: out[-1], read by loss_fn
            return pdparam

    # ---- math_util.py ----
    def calc_gaes(rewards, v_preds, next_v_preds, gamma, lam):
        T = len(rewards)  # noqa: N806
        assert not np.any(np.isnan(rewards.numpy()))  # port: .numpy(); np.any no longer reduces a torch tensor
        assert T == len(v_preds)
        gaes = np.empty(T, 'float32')
        future_gae = 0.0
        for t in reversed(range(T)):
            delta = rewards[t] + gamma * next_v_preds[t] - v_preds[t]
            gaes[t] = future_gae = delta + gamma * lam * future_gae
        assert not np.isnan(gaes).any(), f'GAE has nan: {gaes}'
        gaes = torch.from_numpy(gaes).float()
        return gaes

    # ---- actor_critic.py ----
    def calc_gae_advs_v_targets(v_preds, rewards, dones):
        # calc next_state boundary value and concat with above for efficiency
        next_v_pred_tail = torch.zeros(1)  # port: calc_v(batch['next_states'][-1:]), zeroed below (done = 1)
        next_v_preds = torch.cat([v_preds[1:], next_v_pred_tail], dim=0)
        # ensure val for next_state is 0 at done
        next_v_preds = next_v_preds * (1 - dones)
        # v_targets = gae_targets + v_preds
        adv_targets = calc_gaes(rewards, v_preds, next_v_preds, GAMMA, LAM)
        v_targets = adv_targets + v_preds
        # standardization trick
        # guard nan std by setting to 0 and add small const
        adv_std = adv_targets.std()
        adv_std[adv_std != adv_std] = 0
        adv_std += 1e-08
        adv_targets = (adv_targets - adv_targets.mean()) / adv_std
        return adv_targets, v_targets

    def calc_policy_loss(body_log_probs, body_entropies, advs):
        '''Calculate the actor's policy loss'''
        assert len(body_log_probs) == len(advs), f'{len(body_log_probs)} vs {len(advs)}'
        if fixed:  # fbf482ee (PR #133)
            log_probs = torch.stack(body_log_probs)
            entropies = torch.stack(body_entropies)
        else:
            log_probs = torch.tensor(body_log_probs, requires_grad=True)
            entropies = torch.tensor(body_entropies, requires_grad=True)
        if ADD_ENTROPY:
            policy_loss = (- log_probs * advs) - ENTROPY_COEF * entropies
        else:
            policy_loss = - log_probs * advs
        policy_loss = torch.mean(policy_loss)
        return policy_loss

    mse_loss = nn.MSELoss()  # net.loss_fn: loss_spec default {'name': 'MSELoss'}

    def calc_val_loss(v_preds, v_targets):
        '''Calculate the critic's value loss'''
        v_targets = v_targets.unsqueeze(dim=-1)
        assert v_preds.shape == v_targets.shape
        val_loss = mse_loss(v_preds, v_targets)
        return val_loss

    def loss_fn(logits, y):  # train_shared: advs and v_targets under no_grad, then the two losses
        v = net.v
        actions, rewards, dones = y[:, 0], y[:, 1], y[:, 2]
        body_log_probs, body_entropies = [], []
        for pdparam, action in zip(logits, actions):  # body_act, one step at a time
            action_pd = distributions.Categorical(logits=pdparam)
            body_entropies.append(action_pd.entropy())
            body_log_probs.append(action_pd.log_prob(action.float()))
        with torch.no_grad():
            advs, v_targets = calc_gae_advs_v_targets(v.detach()[:, 0], rewards, dones)
        policy_loss = calc_policy_loss(body_log_probs, body_entropies, advs)  # from actor
        val_loss = calc_val_loss(v, v_targets)  # from critic
        loss = POLICY_LOSS_COEF * policy_loss + VAL_LOSS_COEF * val_loss
        return loss

    torch.manual_seed(SEED)
    net = SharedNet(STATE_DIM, [ACTION_DIM, 1], HID_LAYERS, HID_LAYERS_ACTIVATION)
    optim = torch.optim.Adam(net.parameters(), lr=LR)  # actor_optim_spec {'name': 'Adam', 'lr': 0.02}

    batches, inputs = _data()
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": t(inputs), "loss_fn": loss_fn,
            "optimizer": optim}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
