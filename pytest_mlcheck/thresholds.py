"""Every budget and threshold a verdict depends on, one block per check, each with the figures it
was chosen from (benchmarks/sweep_defaults.py, benchmarks/seed_sweep.py; the README has the tables).
A call argument overrides the ones it names (``steps=``, ``min_drop=``, ``max_share=``, ...)."""

from __future__ import annotations

# -- overfit_one_batch ---------------------------------------------------------------------------
OVERFIT_MAX_STEPS = 400
OVERFIT_MIN_DROP = 0.9  # pass once the loss fell by this fraction of its start (and, for classes, all right)

# Dense class ids (segmentation masks, per-token targets): a batch is fitted, and a sample counts as
# right in the accuracy figure, when this share of its positions is right
# (boundary pixels settle last: Pytorch-UNet #291's fixed net at RMSprop 1e-5 had 99.8-99.9 % of 4x1024
# pixels right at step 1200, its loss 97.6 % of the way to the floor, and every pixel only at ~1600;
# the zoo's tiny GPT-2 had 508 of 512 tokens right, 4 sequences one token short, at 99 % of the way).
DENSE_MIN_RIGHT = 0.99
# A run whose loss goes this fraction of (start - floor), or of |floor| where larger, below the floor refutes it: the floor is the
# loss of what this check built as a perfect prediction, so no fit of a loss that reads the targets as
# the check does goes below it beyond rounding (a cross-entropy's floor is ~1e-11). A loss that pairs
# output and target positions otherwise (a language model's shift inside the loss: floor 3.11, the
# run 0.23) does; the run is then judged on its loss alone, toward 0. Per-position readings only: one
# row of class scores per sample below its floor is a loss that rewards something else (MSE on ids).
FLOOR_REFUTED = 0.25
# The loss at outputs equal to value targets, asked again where a run meets the criterion, counts as unmoved
# within this share of the run's way down (float32 rounding of a loss of the outputs alone); beyond it the
# model's state moved it (a KL read from the latent) and the criterion asks the part the outputs set.
FLOOR_STILL = 1e-3
# Class ids the loss skips (targets.py _ignored_ids): at most this many distinct ids are asked, each
# with one loss evaluation on given outputs (no forward pass): out-of-range ids (-100) and the
# commonest in-range ones (a padding id the loss masks out).
IGNORED_MAX_ASKED = 16
# Samples whose outputs the loss never reads (targets.py Targets.fitted): a loss over a mask of the
# samples it trains on (a transductive graph network's training nodes, a semi-supervised batch's
# labelled rows) cannot make the others right, so a sample it is found never to read is not demanded.
# Asked only of the samples still wrong once the loss has come its way, first all at once (one loss
# evaluation on given outputs, no forward pass), then halving where some are read: at most this many
# evaluations per batch, after which the samples not yet cleared stay demanded.
UNREAD_ROWS_MAX_ASKED = 32
# Classes that overlap in the batch: a sample most of whose OVERLAP_NEIGHBOURS nearest inputs (features
# standardised) carry another class is "outvoted"; a smooth fit gets it wrong and memorises it last.
# The criterion then reads the loss of the samples not outvoted, and asks every sample right only
# among those all of whose nearest inputs share their class: a correct MLP (64x64, Adam 1e-3 and
# 1e-2) had every one of those right within 25-125 steps on eight batches (blobs, circles, moons,
# make_classification with flip_y, iris, wine, breast cancer), while the samples merely not outvoted
# stayed short of all right after 1,600 steps on blobs and circles (183/189, 82/83) and 675 on moons:
# memorising an outvoted sample flips its bordering neighbours. Judged only
# when the neighbourhoods say something: at least OVERLAP_MIN_DETERMINED of the batch not outvoted
# (chance for 3 balanced classes ≈ 0.21, 10 classes ≈ 0.01; 32 samples of 14 standardised features
# from make_classification: 0.03). Measured on the real programs' correct versions: AUTOTRAINER's blobs
# (cluster_std 2) 0.53-0.74 determined, circles (noise 0.1) 0.65, breast cancer (30 features) 0.95.
OVERLAP_NEIGHBOURS = 5
OVERLAP_MIN_DETERMINED = 0.5
OVERLAP_MAX_SAMPLES = 2048  # pairwise distances cost N² (32 MiB here)
# A loss still falling steadily at the budget may train on, up to this × the budget. Measured on the
# real-program corpus (benchmarks/real_programs_findings.md): 16× let 11 more fixed versions pass
# (slow learning rates kept from their programs, fitting at 1,250-5,400 steps of 400) and cost no
# buggy version its catch or its first cause. The cap is also the horizon of the on-course
# projection: at 4× AUTOTRAINER's blob repairs, which fit at step 1,540, were judged off course at 400.
OVERFIT_EXTEND = 16
EXTEND_MIN_GAIN = 0.05  # "still falling": the last quarter came ≥ this of the way from start to floor
# A run still falling at the budget but off course by its own pace asks a retry at a larger rate
# (these factors, in turn) how long it needs: lr×F reaching the goal in n steps stands for F·n steps
# at the user's rate (gradient flow: the course depends on lr × steps), and the run may train up to
# this margin × F·n steps, within the cap above.
HORIZON_FACTORS = (10.0, 100.0, 1000.0)
HORIZON_MARGIN = 2.0

# -- loss_decreases ------------------------------------------------------------------------------
DECREASE_STEPS = 100
DECREASE_MIN_STEPS = 8  # fewer steps show no trend
DECREASE_MIN_DROP = 0.1  # the last quarter's median at least this fraction below the loss at init

# -- probes of the training checks (diagnosis) ---------------------------------------------------
PROBE_TARGET = 0.5  # a learning-rate retry succeeds when its loss reaches this fraction of its start
# over_regularized needs a stall: a run whose last tenth ends below this fraction of its start did
# not stall (GPT-2 tiny, dropout 0.1: 0.05, failing on accuracy); weight decay 10 stalls at 0.44
STALL_FRACTION = 0.1
# a failed run whose optimizer's learning rate ended below this fraction of its first step's: a
# schedule drove it down inside the run by more than the check's extension can make up for (every step
# up to OVERFIT_EXTEND × the budget at this rate moves the weights less than one budget at the first
# rate): d2l's decay rate of 0 (lr 5, then exactly 0), hazdzz/stgcn's StepLR(10, 0.95) stepped per batch
# (1/60 of its rate by step 800; 1e-3 had left that stall unnamed)
LR_VANISHED = 1 / 16
# where the schedule can be read ahead (a Keras LearningRateSchedule is a function of the step), the
# same question asked of the steps still to come: from the failed run's last step to OVERFIT_EXTEND ×
# its length, its rates add up to less than this share of what the run's own steps added up to (both
# in steps at the first rate) — the whole extension would move the weights a fraction of what the
# run already did. StepLR(10, 0.95) per batch, as Keras's ExponentialDecay(1e-3, 10, 0.95, staircase):
# at step 400 its rate is 1/8 of the first (above LR_VANISHED), and steps 400-6400 add up to 26
# first-rate steps against the run's 174 (0.15); ExponentialDecay(1e-3, 50, 0.9), fast but usable, adds
# 215 against 285 (0.75), tf_unet's per-epoch decay (0.95 every 20 steps) 143 against 257 (0.56)
LR_AHEAD_SHARE = 0.25
SCHEDULE_READS = 256  # a schedule that takes no vector of steps is read at this many, evenly spaced
PROBE_MAX_STEPS = 150  # a retry's step budget (correct models reach PROBE_TARGET within ~40 steps)
# Over several batches a retry halves when at least half of its last this many steps (or of one cycle
# of its batches, if shorter) halved, each against its own batch's start: one step on a batch of five
# samples halves by chance (diagnosis.halved).
HALVED_WINDOW = 8
# A gradient norm this many times the first one after an identical second step means the user's
# step adds to the previous gradients instead of replacing them (ideal: 2.0 vs 1.0).
ACCUMULATION_RATIO = 1.5
SPIKE = 1.5  # a loss peak this many times its start counts as divergence
# A run that halved its loss and then climbed back more than this share of the way it had come (its
# last tenth's median) diverged late (diagnosis.relapsed): the smaller-rate retries are asked. A dropout
# curve's noise moves the tail by a few percent of the way; WaveNet's Adam at 0.03 gave back 55 %.
RELAPSE = 0.5
# A run that met its criterion but whose loss first rose this many times its distance from the floor
# at the start diverged and happened to come back: a learning-rate defect, not a pass. Correct runs of
# the corpora and the zoo peak at ≤ ×4.7 (the digits CNN on its own SGD step, recovering at once;
# every other ≤ ×1.03); Adam at lr 10 on the zoo's packed BiLSTM peaks at ×36–×41 on seeds 0–2 and
# still memorises its batch; lr 1.0 there peaks at ×2.0–×3.5 (not named).
RECOVERED_SPIKE = 10.0
# Softmax applied twice caps every row's largest/smallest probability at e; training presses the widest
# row against it (x2.716 of e = 2.718 on seeds 0-5); a correct softmax barely trained (Keras #9939's MLP
# at SGD 0.01, 100 steps) sat at x2.089. Named only from this fraction of e up.
SOFTMAX_TWICE_PRESSED = 0.95
# Class scores held in [-1, 1] (cosine similarities, a tanh) whose largest a failed run pressed to at
# least this, read as a bounded head: torch-rechub's MIND scores L2-normalised embeddings with its
# temperature never applied, 0.99998 after 800 steps; the test's cosine head over ten digit classes,
# ≥ 0.99 within 400. A head that stays inside without pressing (trained too slowly) is left to the retries
BOUNDED_PRESSED = 0.99
# A loss whose value at the perfect probabilities (one-hot rows) is log(1 + (C - 1)/e) within this
# (relative): the cross-entropy of a one-hot row softmaxed again, which no other loss term there gives
# by chance (float32 rounding leaves ~1e-7; NVIDIA UNet_Medical's cross-entropy + dice: 0.3132617)
SOFTMAX_AGAIN_RTOL = 1e-4
# outputs clipped before the softmax: at least this share of rows tie at their minimum, not constant
# (a ReLU on 3 zero-centred logits leaves exactly two zeros in 3/8 of the rows, on 10 in ~99%;
# unclipped float32 logits never tie)
CLIPPED_MIN_ROWS = 0.25
# ... and the clip holds at least this share of all the class outputs: a ReLU on the logits silences
# those below 0 (half of zero-centred logits; 20-50 % on the eight ReLU heads of the real-program
# corpus), each with no gradient; a clip that binds on few leaves nearly every output its gradient
# and the run decides (SpyTorch's spiking readout, the maximum over time of a potential resting at 0:
# 6 % of 28 outputs, in ties on 53 % of the rows)
CLIPPED_MIN_SHARE = 0.1
# A non-finite loss of finite outputs this many times their size at init, finite once they are scaled
# back: the updates blew them up (keras #3040's SGD regression: x1e17 at step 12), not a loss defect.
OVERFLOW_GROWTH = 1e3
# A non-finite loss whose weights are already non-finite one step before is traced update by update to
# the update that broke them (a finite loss with a NaN gradient), when it came within this many updates.
TRACE_MAX_UPDATES = 400
# An untrained forward pass whose outputs are this many times the larger of its inputs' and targets'
# scale (rms, at least 1) amplifies the signal itself: a standard init keeps it within a few times
# (every real-program version but one: at most x3.6; PyOD's clamped VAE x418-641, its unclamped
# exp(logvar) x1.2e8 in torch), so a loss that turns non-finite is put down to the outputs
FORWARD_BLOWUP = 1e6
# The loss of outputs shuffled across samples (each now facing another sample's targets) within this
# of the loss of the outputs as they are: it does not pair an output with its own target. A loss that
# broadcasts a (B,) distance against (B, 1) labels is invariant up to float32 summation order
# (~1e-7); a per-sample loss moves by the outputs' spread (≥ 1e-3 of a fresh model's loss).
PAIRING_RTOL = 1e-5
# ... and only where the loss is measurably moved (this fraction of its value) by going half way to
# the shuffled outputs: a per-sample loss that is affine in the outputs over that span (MAE, or MSE
# whose targets dwarf the outputs: cubic targets of 1e8 against outputs of 0.1) depends on the sum of
# the outputs alone, and a shuffle keeps that sum — invariant too, proving nothing
PAIRING_SENSITIVE = 1e-3
# An output that moves by more than this (relative to the outputs' largest magnitude) when the input
# that is its own next-token target changes reads that target: a causal mask leaves it unmoved to
# rounding (an additive -inf mask gives exact zeros; a finite one ~1e-7), a full attention moves it
# by a large share of the logits' spread
LEAK_RTOL = 1e-4
# Value targets that equal one input element in every sample are read as the inputs holding the
# answer only on a batch this large with this many distinct target values (a coincidence of k
# distinct float values matching exactly across n samples does not happen by chance)
LEAK_COPY_MIN_SAMPLES = 8
LEAK_COPY_MIN_VALUES = 3
# A binary label column equal to one input column in every sample, which the model reads for that
# label: read as a leak where each value occurs at least LEAK_COPY_MIN_SAMPLES times in a batch of at
# least LEAK_LABEL_MIN_SAMPLES (a feature agreeing with the label on 95 % of samples matches all 64 by
# chance 4 % of the time, and one derived from it always: torch-rechub's ctcvr = purchase x click on
# 15 purchases in 1,024), for targets of at most LEAK_LABEL_MAX_COLUMNS columns (per-task labels: a
# binary image's pixels equal to an inpainting input's outside the hole are no label column)
LEAK_LABEL_MIN_SAMPLES = 64
LEAK_LABEL_MAX_COLUMNS = 8

# unread output columns (diagnosis.unread_outputs) are looked for on heads up to this wide: a few loss
# evaluations per column (a Lightning module's re-run its training_step), on failure only
UNREAD_MAX_COLUMNS = 64
# Targets looked for among the inputs where only some are copies (a forecast shifted into the past
# copies every step past its lag): this many, evenly spread, keep the search at O(n · inputs · 64)
LEAK_SAMPLED_TARGETS = 64
# An output reads an input when changing that input moves it past float32 rounding (a few ulps of the
# outputs' scale) and past this many times what a second identical eval-mode pass varies: an output with
# no path to the input is recomputed bit for bit (a left-to-right GRU at the steps before it), while a
# path carries even a copy not yet learned (Hvass-Labs' Keras GRU after 100 steps: 7.3e-6 of the scale)
LEAK_PATH_RTOL = 1e-6
LEAK_PATH_NOISE = 10.0
# A training-mode pass that gives every sample the very same row drops the inputs where eval-mode rows
# (normalisation statistics set from the batch) differ by more than this share of their scale, past
# float32 rounding: the I3D port with a dropout of rate 1 before its head differs by 0.79 at a scale of
# about 1; behind its placeholder BatchNorm statistics it had differed by 7.7e-6 of its scale
TRAIN_DROP_EVAL_RTOL = 1e-6
# A loss within this of itself (relative) when every target is replaced by the first sample's does
# not read its targets (a one-class objective handed labels): only rounding moved it
UNREAD_RTOL = 1e-6
# A loss that reads one sample alone: every other sample's outputs moved at once by this many times the
# outputs' spread, either way, leave it bit for bit (graph_neural_net's `return` inside the loop over the batch)
UNREAD_SAMPLES_MOVE = 3.0
# Independent outputs in [0, 1] are read as probabilities where the loss at the exact 0/1 targets is
# within this share of its value at 0.9/0.1 (at least 1) of zero: float32 rounding of a loss that costs
# nothing there (a soft Dice; Keras's cross-entropy clips at 1e-7). A loss on logits costs something at
# every finite logit (a binary cross-entropy on logits 0/1: 0.31 and 0.69 a value).
ZERO_AT_TARGETS = 1e-6
# A constant output (the same for every sample, whatever its target) whose loss comes within this
# share of the way from the floor to the untrained model's loss, on targets that differ between
# samples, shows a loss minimised by ignoring the targets (a cross-entropy missing its negative term
# is 0 wherever p = 1, exactly the floor); a proper loss leaves every constant at least the targets'
# spread above it — an asymmetric one too (a 0.99 pinball loss: its edge constant is 0.5 % of the way)
CONSTANT_AT_FLOOR = 1e-3

# -- not_constant_predictions --------------------------------------------------------------------
TRAIN_ON_STEPS = 100  # with train_on=, a copy trains this long first
COLLAPSE_MAX_SHARE = 0.9  # one class may take at most this share of the predictions
COLLAPSE_MIN_SAMPLES = 10  # distinct inputs needed to judge the spread of predictions
REGRESSION_MIN_SPREAD = 1e-3  # std / (mean |output| + std) below this is a constant output
IMBALANCE_SHARE = 0.5  # training labels this much one class are named as imbalanced ...
# ... when that class also holds this many times the other classes' mean share: 60/40 in two classes
# (where the common scale's 'mild' imbalance starts), any half of the labels in three or more
IMBALANCE_RATIO = 1.5
# A collapse onto the class that holds this share of the training labels or more is explained by
# the imbalance, which comes first: the other classes together hold 40 % or less (the common scale's
# 'mild' imbalance starts at a 20-40 % minority); a 54/46 split explains no collapse
IMBALANCE_EXPLAINS_SHARE = 0.6
# A collapse onto the majority is trained on where the trained outputs fit each sample's own label
# better than the labels shuffled between samples, in every one of this many seeded shuffles (a rank
# test at p = 1/20), pooled over up to this many training batches. overfit_one_batch asks the same
# of a run trained on a loss the user's step computes itself (nothing else scores its outputs)
SHUFFLE_DRAWS = 19
SHUFFLE_BATCHES = 4

# -- output_range --------------------------------------------------------------------------------
SUM_ATOL = 1e-3  # rows of probabilities sum to 1 within this (float32 softmax rounding is ~1e-6)
# a one-output head asked for logits whose outputs all lie in [0, 1] is run again on its float inputs
# scaled by these: an unbounded head (a last Linear) leaves [0, 1] as its pre-activations grow, a
# sigmoid presses against 0 or 1 and stays inside
SATURATION_SCALES = (10.0, 100.0, 1000.0)
SATURATED = 1e-3  # within this of 0 or 1: pressed against a bound (float32 sigmoid reaches 1.0 at ~17)

# -- preprocessing_parity ------------------------------------------------------------------------
PARITY_ATOL = 1e-5  # float32 pipelines doing the same ops agree far closer
PARITY_RTOL = 1e-5

# -- init_loss -----------------------------------------------------------------------------------
INIT_LOSS_TOLERANCE = 0.25  # pass within ×(1 + this) of expected either way; correct corpus models: ≤ ×1.06
# ... or the outputs start near uninformative (benchmarks/init_margins.py, 10 inits x both frameworks):
# rms logit spread about each row's mean (class targets, outputs in [0, 1]). Correct heads on
# standardised tabular and image inputs: torch <= 0.31, Keras Glorot <= 0.75; broken: a std-1 head
# 1.04-2.4 (torch seeds 8, 9 sit near 1.1 and inside x1.25 anyway), std-1 kernels >= 8.6, 0-255 >= 13.8.
INIT_OUTPUT_SPREAD = 1.0
# rms of value outputs over the targets' rms: correct heads <= 1.23 (Keras Glorot on diabetes).
INIT_VALUE_SPREAD = 1.5
# init_loss: an uninformative prediction's loss this close (relative) to ln C / C reads as a cross-entropy
# averaged over the classes too; the value is exact for that formula (float32 rounding is ~1e-7)
PER_CLASS_MEAN_RTOL = 1e-3
# targets: float class ids per position of which at most this share are not whole numbers are read as ids
# the loss truncates (interpolated mask boundaries: 1-3 % of the pixels); more is a map of values
TRUNCATED_IDS_MAX_SHARE = 0.25
# targets: (N, ..., 1) beside (N, ..., C) outputs are ids where outputs picking them (one-hot 0/1) score below
# this share of outputs picking the next id; a cross-entropy scores ≤ 0.62 for C ≤ 21 (1/e-weighted
# softmax), a loss of values about 1
UNIT_AXIS_IDS_RATIO = 0.8
# targets: class ids per position beside channel-first scores (N, C, ...) that the loss reads out of place
# (targets._viewed_channel_first): one-hots of the ids at logit scale VIEWED_LOGIT (a cross-entropy ~0 at the
# right class, ~VIEWED_LOGIT at a wrong one), judged where at least VIEWED_MIN_VALID of the positions hold an
# id in range (the rest an ignore id such as 255); "read" = scoring below VIEWED_READ_RATIO × the ids shuffled
# among each sample's positions. Measured on a DeepLab port (21 classes, 129², 3 % void): a loss that reads the
# ids in place scores 0.0003× its shuffle, the view(-1, C) slip 0.9998× in place and 0.0003× in memory order
VIEWED_LOGIT = 10.0
VIEWED_MIN_VALID = 0.5
VIEWED_READ_RATIO = 0.5
# ... and reading memory order, below this share of its shuffle: near the floor the shuffle is far from (the
# slip 0.0003×; a batch-first CTC loss whose label length equals the classes 0.18-0.19×)
VIEWED_MEMORY_RATIO = 0.05
# targets: class ids the loss reads only as groups (renaming the classes leaves it within float32 rounding of a
# sum's reordering; merging two of them moves it beyond)
GROUPS_RTOL = 1e-5

# -- gradients_flow: each weight matrix or kernel, against scale = max(|weight|, √size × the
# network's median weight RMS), so a tensor started near zero on purpose is judged on the network's
# scale. Margins over seeds 0–9 (benchmarks/sweep_gradients.py: the zoo of tests/zoo.py, slow members
# included, and the digits corpus; README, "gradients_flow"):
# - radial |<g, w/|w|>| / scale: correct ≤ 0.54 (ViT, Keras MobileNetV2; BatchNorm'd kernels ~0 though
#   their |g|/|w| reaches ×154), broken ≥ 47.6 (12 ReLU layers at std 0.5; std 1: 53–6352).
# - input-end |g|/scale ÷ the best-fed tensor's: correct ≥ 1.9e-3 (packed BiLSTM, 12 tanh layers),
#   broken ≤ 1.3e-7 (20 ReLU layers at default init; 12 sigmoid layers 6e-12). BERT's query/key sit
#   at 1.7e-5 mid-network: judged across depth, they are not vanishing.
# - all-zero gradients: 32 of 32 cleared within 5 steps behind zero-initialised residual scales;
#   none cleared for dead ReLUs (bias −100).
EXPLODING_SCALE = 10.0  # radial relative gradient above this: exploding (×18 / ×4.8 margins)
# A cross-entropy's gradient per sample w.r.t. the outputs, |softmax − one-hot|, is at most √2: the
# exploding margins above were measured under that bound. A loss whose error signal per sample is
# larger (an MSE on raw targets of ~150 gives ~300) scales every gradient by it; that is the target's
# scale, not a gain of the network, so the radial figure is divided by (signal / √2) where it exceeds 1.
CROSS_ENTROPY_SIGNAL = 2 ** 0.5
VANISHING_RATIO = 1e-4  # input-end ratio under this: vanishing (×19 / ×760 margins)
# a tensor a step left unchanged though its gradient was not zero, at |grad|/|weight| under this: the
# update fell below float32 resolution (SGD at lr 0.1 moves a weight by 1e-7 of itself there), the
# gradient vanished on its way; AUTOTRAINER's ±0.05-uniform 8×5 ReLU stack: 1e-11..1e-15 under Adam
FAINT_GRADIENT = 1e-6
# A failed run whose steps moved no trainable tensor by more than RUN_MOVE_NEGLIGIBLE of its size (a
# few float32 ulps over the whole run) while the loss gives some tensor a gradient of at least
# RUN_MOVE_GRADIENT of its size (which plain SGD at lr 0.01 would move by 1e-6 of itself in one step):
# the optimizer's steps, not the gradient, are too small. hunkim's linear regression at RMSprop(1e-10):
# no weight moved at all in 400 steps (the updates round away in float32), gradients ×10⁴ the weights
RUN_MOVE_NEGLIGIBLE = 1e-6
RUN_MOVE_GRADIENT = 1e-4
# the look runs only where every step's loss equals its batch's start within this (relative): weights
# that did not move give the same loss bit for bit, so a run whose loss moved at all is spared a copy
RUN_LOSS_STILL = 1e-6
# ... unless the tensor is a bias whose every element moved by these multiples of its scale (each by a
# seeded share of its own) leaves the training-mode loss within CANCELLED_RTOL of itself: a normalisation
# over the batch right after it (a conv bias before BatchNorm) removes it, so its gradient is 0 by design,
# not faded: SETR's decoder conv bias moves the loss by exactly 0 at ×1, ×10 and ×100 in torch. A faded
# bias leaves the float32 loss as still (an 8×5 sigmoid stack at ±0.05: 0; at ±0.5: 8e-8), so only a bias beside a weight of its
# layer that is not faint is asked (gradients_flow._cancelled)
CANCELLED_SHIFTS = (1.0, 10.0)
CANCELLED_RTOL = 1e-5
# ... and only a bias whose gradient is under this share of what its layer's weight gradient says reaches
# the layer (|grad W| over the rms of the layer's inputs and the square root of its fan-in): a
# normalisation over the batch leaves the bias float32 rounding while the weight's per-sample signal
# stays (1e-7..1e-6: a conv or Dense before BatchNorm, four seeds each); a faded signal fades both alike
# (0.6..2.8 through sigmoid stacks of 2 and 8 layers), and inputs at 1e4 before a LayerNorm give 3..42:
# there the weight's gradient grows with its inputs and kept the bias off the faint list by its scale alone
CANCELLED_SIGNAL_SHARE = 1e-3
SETTLE_STEPS = 5  # an all-zero gradient stands only if still zero after this many more steps
# All-zero gradients that noise on the whole set at once (the tensors and their layers' pre-activations)
# does not show cut off are asked layer by layer (one forward pass per tensor) up to this many tensors:
# enough for the attention or normalisation layer a wrong axis cuts off (2-3 tensors), not a whole dead
# network (b50b: 63)
NO_PATH_MAX_ASKED = 16
# ... and a layer whose output reaches none of the model's: noise of that output's own size moves no
# output by more than this fraction of the outputs' largest magnitude (float32 rounding: Keras's
# LayerNormalization over one position moves them by 4.3e-7 of 1.3 through its fused arithmetic; a
# torch softmax over one element by 0; a layer that reaches them, the same norm's gamma, by 1e-2)
NO_PATH_RTOL = 1e-5
# A gradient of rounding only (not 0) is read as a cut-off layer only where the whole set, probed at
# once, moves nothing at this gain on the noise either: a path that is merely weak grows with the noise
# (NVIDIA's medical U-Net's bottleneck at init: 7.8e-5 of the outputs at ×1, all of them at ×10; a
# 21-layer sigmoid stack: 6.4e-4, then 1.7e-3), a softmax over one element stays at 1
ROUNDING_CUT_GAIN = 100.0
# A failed run that never halved its loss, where a fresh copy whose weighted layers were rescaled to
# unit-variance outputs (layer-sequential unit variance) halves it at the same rate: the signal's spread
# across samples from the first weighted layer's output to the last's fading by more than this factor
# at initialisation names the init (vanishing_gradients). Measured (first to last weighted layer): ReLU
# MLPs on digits at PyTorch's default init shrink ×0.37-0.39 per layer — 3 layers ×0.138, 5 ×0.019,
# 8 ×0.0009 — and He init keeps ×0.54-0.64 at any depth; the Keras twin of 5 layers ×0.037; d2l's
# sigmoid LeNet ×4.2e-4; correct nets that train: the torch digits CNN ×0.136, Keras's Glorot CNN,
# MLP and tanh stacks ×0.59-1.5. The margin on the correct side is thin by itself: the rescaled
# retry succeeding where lr×10 … ×10000 did not is the evidence, the fade only says it is the init.
INIT_FADE = 10.0
# Behind outputs that ignore the inputs, a spread across samples that fell layer by layer to this
# share of the first weighted layer's input's or less has fallen to float32 rounding (eps 1.2e-7, with
# room for the biases it meets): AUTOTRAINER case 14's stack falls to 1.4e-11 (torch) and 1.4e-13 (Keras)
SIGNAL_GONE = 1e-6
# Behind outputs that ignore the inputs, a spread that fell layer by layer to this share of the first
# one's without reaching rounding has still faded: the outputs no longer show it. AUTOTRAINER L-code
# case 16's 35 glorot ReLU layers halve the variance at each (×0.7 a layer) down to 2.3e-6 (Keras)
# and 2.2e-6 (torch) of the first layer's input's, where their softmax moves by 4e-7; a head
# initialised to zero after a few layers at PyTorch's default init (×0.38 a layer: 5 layers 0.019)
# ignores the inputs too, and its fall is no fade.
SIGNAL_FADED = 1e-4
# A failed training check names parameters without any gradient (the loss never reaches them) as
# no_gradient when they hold this share of the trainable weights or more: three dangling 512-unit
# layers of an MNIST MLP hold 66 %; the parts a correct model leaves unused by design hold a sliver
# (BERT-base's pooler under a custom head that reads the token states: 0.59M of 109.5M weights,
# 0.5 %), and gradients_flow still lists any.
UNREACHED_SHARE = 0.1
# backward passes of one copy, each drawing its own randomness, before a tensor counts as unreached: a forward
# pass that picks one of two tables at random (RecBole's LINE scores a pair with its user's or its item's context
# table, random.random() < 0.5) leaves each out of half the passes; one of them missing from all 8 is 1 in 256
UNREACHED_PASSES = 8
# eval-mode passes over one batch before a model counts as not sampling at inference: a forward pass that takes
# one of two branches at random agrees with the first in half the passes (LINE: two of its passes alike, then
# changing 16 samples' inputs 'moved' all 2048 outputs: batch_mixing); all 6 alike by chance is 1 in 32
INFERENCE_PASSES = 6
# overfit_one_batch's extension stops where eval mode came as far as the run and the samples still
# wrong cost the loss no more than this many times what the right ones cost (the share right not
# growing over a stretch): a loss that rewards the class costs a wrong sample more than a right one
UNSEEN_WRONG = 2.0
# ... and the right ones cost it at most this share of what they cost at initialisation, and of what
# uninformative outputs (zero logits, uniform probabilities) cost them: outputs a
# penalty holds near where they started cost right and wrong samples alike (an L2 of 1 on a digits
# MLP's kernels: 2.08 right against 2.33 wrong, near log 10), which is no margin header's doing (an
# angle clamped in an ArcFace loss: right 0.0003 against 0.97 at initialisation)
UNSEEN_FITTED = 0.5
# gradients_flow: a tensor a step leaves unchanged while it moves others is asked of one step of a
# fresh copy at this × the rate; moved there, its update rounds away at the rate given (SGD at 1e-6 on
# a bias in front of a batch norm), which an optimizer that skips it would not do at any rate
ROUNDING_PROBE_LR = 1000.0
# overfit_one_batch on value targets: besides coming OVERFIT_MIN_DROP of the way from its start, the
# loss must come this far from the best constant prediction's (each target's batch mean) toward the
# floor; a run that learned only the mean converges onto the constant's loss to float precision.
BEAT_CONSTANT = 0.1
# overfit_one_batch on value targets with more target values than the model has trainable weights: a
# smooth model of P weights reaches at most a P-dimensional set of outputs, so it cannot interpolate
# more than P generic values (a linear regression of 6 weights on 10 noisy samples levels off at its
# least-squares residual). Such a model is judged on samples spread evenly over the batch holding this
# share of P values: at half, a random design's smallest singular value stays well away from zero (it
# tends to zero as the share nears 1), so gradient descent reaches the fit in few steps. Spread, not
# the first ones: in a batch in order (the TensorFlow guide's 201 points on a linspace) the first two
# samples lie 0.02 apart, and a line through them takes thousands of SGD steps.
INTERPOLATE_SHARE = 0.5

# -- batch_independence --------------------------------------------------------------------------
INDEPENDENCE_RTOL = 1e-4  # changes below this × the largest |output| are rounding
# The backward probe: a gradient reaching another sample is a path, not rounding (zero cotangents stay
# exactly zero through per-sample operations). Measured (benchmarks/independence_margins.py): exactly 0
# on all 341 torch and 266 Keras corpus builds and zoo members that pass, CPU; keon/seq2seq's softmax
# over the batch, the faintest mixing in the corpus, at 2.0e-4 (its forward change, 6.2e-6, is below
# any rounding bar).
INDEPENDENCE_GRAD_RTOL = 1e-6
INDEPENDENCE_MAX_SAMPLES = 16  # enough to see mixing; each probed sample costs a forward pass
# a changed input moved its own output by no more than float32 rounding of the outputs: it is ignored
OUTPUT_UNMOVED = 1e-6
# samples a failed training check changes to see whether the outputs read the inputs (one batch, two
# forward passes whatever the number): a sample can sit where a narrow ReLU network is flat —
# AUTOTRAINER's 8 layers of 5 units at He init move the outputs of 50 of 128 circles when every input
# changes (Keras; torch 118), so 4 changed samples all stayed put while the network learned; the
# outputs ignore the inputs only if none of 16 moves ((78/128)^16 ≈ 4e-4 there)
CHANGED_SAMPLES = 16

# -- inputs_normalized (also the input-scale probe of the other checks) ----------------------------
# Images in [0, 1] have mean |x| and std ≤ 0.5, standardised data ~1; raw 0–16 digits 4.8 / 6.0,
# 0–255 pixels ~80 / ~100; twice-scaled images peak at 1/255.
INPUT_MAX_SCALE = 3.0
INPUT_MIN_PEAK = 0.05
# inputs_normalized also asks it of the inputs' differences from their mean over the batch, per feature: an offset
# can carry values to unit scale while the part that tells samples apart stays below it (tsts's temperatures
# min-max scaled with the loads' range: -0.67, apart by at most 0.015; its fix 0.59). Over the raw float inputs of
# the real-program corpus (491 buggy and fixed builds) only that one is below it where its peak is not; the
# nearest correct ones 0.055 (keras-gat's row-normalised bag of words, peak 0.056) and 0.074 (a price window)
# A failed training run blames the inputs' scale only at that of raw counts or pixels (mean |x| or std
# above this), where it swamps a standard init. Measured on the real-program corpus: raw 0-255 inputs
# 56-240, a raw regression feature 105; correct programs failing for other reasons sat at 3.2-3.6
# (AUTOTRAINER's blobs, iris in cm: standardising them did not make them fit). Between the two the
# failure's note mentions the scale.
INPUT_RAW_SCALE = 10.0

# -- the target-scale probe of the training checks (regression) ----------------------------------
# rms of the targets over max(rms of the untrained outputs, 1) (outputs at a standard init are < 1, so
# in practice the targets' rms). Measured (seed 0, both frameworks): standardised targets <= 1.05,
# [0, 1] targets 0.48, sklearn diabetes raw targets (25..346) 177 (Adam 3e-2 fits them),
# keras #4563's LSTM targets (~5e4) 4.9e4: margins x5.7 and x49.
TARGET_MAX_SCALE = 1000.0
# Value targets this many times the untrained outputs' scale (the same ratio) earn a failed run one
# retry at the same learning rate on the targets standardised, before the learning-rate retries: the
# counterfactual decides, the gate only spares unit-scale targets the retry (standardised and [0, 1]
# targets sit at <= 1.05, AUTOTRAINER case 17's make_regression targets at x153)
TARGET_RETRY_SCALE = 10.0

# -- a bounded head on value targets (sigmoid, tanh or ReLU on the last layer) --------------------
# at least this share of the targets outside the range the outputs stay in makes the head a suspect
HEAD_OUTSIDE_SHARE = 0.05

# -- a softmax inside a loss of the user's own (targets.decide, where no target lines up) ---------
# the most classes the look asks about: two loss evaluations per class (graph_neural_net: 8)
SOFTMAX_INSIDE_MAX_CLASSES = 64

# -- the floor at value targets' edges (targets.decide) ------------------------------------------
# A loss not finite at value targets with exact 0s and 1s (0 · log 0) takes its floor a hair inside
# (0, 1), where the limit exists: read at these distances from the edges, agreeing within the
# tolerance. A cross-entropy on grey pixels moves by about the hair times the share of exact edges
# (10⁻⁴ of a 0.16 floor on MNIST-like digits: 6·10⁻⁴ relative); a log of 0 under a nonzero weight
# moves by log 100 times the weight.
EDGE_LIMIT_HAIRS = (1e-4, 1e-6)
EDGE_LIMIT_RTOL = 1e-2

# -- a loss that reads the outputs through a step (targets.decide, class targets) ----------------
# right and wrong outputs as logits of this size (sigmoid 0.95) beside the probability-range ones;
# each output moved by about this much must move a loss that has a gradient (exact equality is the
# test: a float loss with a gradient moves by ~1e-3 × its slope, far above float32's resolution)
STEP_LOGIT = 3.0
STEP_NUDGE = 1e-3

# -- input_independent_baseline ------------------------------------------------------------------
BASELINE_STEPS = 100  # each copy trains this long on the parts it is not judged on
# a copy that memorised its part (every sample right) at step k trains to step BASELINE_PAST_FIT * k
# (at most BASELINE_STEPS), then stops: past memorising, more steps mostly widen the margins that make
# held-out losses tell (seed 0, held-out accuracy: keras MobileNetV2 0.23 at 100 steps, 0.13 stopping at
# k (p 0.002), 0.19 at 2k, 0.22 at 3k; ResNet-18 0.75 / 0.66 / 0.70 / 0.73), while a 24M-parameter
# ResNet50V2 that memorises in 4 steps no longer trains 100 (past the 120 s cap on 2 cores)
BASELINE_PAST_FIT = 3
# slow but correct is no defect: a copy that has not fitted its part at the budget while its loss still
# falls trains on to this many times the budget, judged at each budget's end. Copies of unrelated targets
# memorise slowly and train on too, so this is also what a failure costs more: at 4× a U-Net on unsorted
# image/mask pairs took 256 s instead of 64 and a text classifier ran past the 300 s cap; a pace rule
# (train on only where the last quarter's pace reaches the fit within 4×) stopped slow correct copies as
# early as those. At 2×: the vertex-ai Boston regressor's fix (features scaled by their maximum,
# RMSprop 1e-3, MSE 58 against its part's constant 70 after 100 steps) p 0.13 → 0.001, its rows-scaled
# bug p 0.26; keras-io's FordA transformer (Keras) p 0.021 → 0.005, its pooling bug 0.73
BASELINE_EXTEND = 2
BASELINE_MIN_SAMPLES = 64  # every sample is held out from one copy
# (copies, share of the significance) per stage: 2 copies settle a clear signal cheaply; 4 copies, each
# trained on 3/4 of the batch, decide the rest. Measured on the zoo's ViT (seeds 0-19): 2 copies p 0.001-0.28,
# 4 copies p 0.001-0.006 (48 training samples generalise where 32 barely do).
BASELINE_STAGES = ((2, 0.25), (4, 0.75))
BASELINE_SIGNIFICANCE = 0.01  # unrelated targets pass at most this often, over all stages
BASELINE_MIN_REPAIRINGS = 999  # re-pairings of held-out predictions and targets (smallest p 0.001)
CROSS_FIT_SPREAD = 2 ** 0.5  # the pooled statistic's null spread over what per-fold re-pairing shows
# a failed check whose copies memorised their parts and whose p lies above the level but at or below this
# says it is weak evidence either way (unrelated targets land here this often): keras-io #2044's
# fixed text LSTM gets p 0.09-0.14 at 128 samples and passes at 256 (torch)
BASELINE_WEAK_P = 0.25

# -- no_split_leakage ----------------------------------------------------------------------------
NEAR_CHUNK_ELEMENTS = 2e6  # differences computed at once with atol= (~16 MB; a few ms between time checks)

# -- every check: torch threads (backends/threads.py) ----------------------------------------------
# One intra-op thread per this many parameters (and never above the cores available): on this
# shared 2-core machine 200 steps of the digits CNN took 0.26–0.46 s on one thread, 3.9–5.1 s on two.
THREAD_PARAMETERS = 4_000_000

# -- the time cap (runner.CheckRun) ----------------------------------------------------------------
# max_seconds counts the work a check got: this process's CPU time, or the clock where that is less (one
# thread on an idle machine). Other processes on a busy machine take CPU time from the check, not from its
# cap (beside four busy processes on two cores a Hugging Face check of the test suite stopped at 120 s on
# the clock, the cap deciding what a quiet machine finishes). A check that waits instead (a lock, a loader,
# a sleep) gets no CPU time: it stops at this many times max_seconds on the clock, the hang guard's last resort.
HANG_CLOCK_FACTOR = 5.0
