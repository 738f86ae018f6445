"""Every cause a failed check can name: its id (users match on it; never rename one), what it
means, and how to fix it in each framework. Probes name causes through the constants here, so a
typo cannot mint a new id; the README's table is tested against this registry."""

from __future__ import annotations

import dataclasses

Evidence = tuple[str, str]  # (cause id, what the probe saw)


@dataclasses.dataclass(frozen=True)
class Cause:
    id: str
    meaning: str
    torch: str  # the fix, as a torch user writes it
    keras: str  # the fix, as a Keras user writes it

    def fix(self, framework: str | None) -> str:
        if framework == "torch" or self.torch == self.keras:
            return self.torch
        if framework == "keras":
            return self.keras
        return f"torch: {self.torch}; Keras: {self.keras}"


CAUSES: dict[str, Cause] = {}


def _cause(cause_id: str, meaning: str, *, fix: str = "", torch: str = "", keras: str = "") -> str:
    if cause_id in CAUSES:
        raise ValueError(f"cause {cause_id!r} is registered twice")
    CAUSES[cause_id] = Cause(cause_id, meaning, torch or fix, keras or fix)
    return cause_id


LR_TOO_HIGH = _cause("lr_too_high", "the learning rate is so high that training diverges",
                     fix="lower the learning rate (the evidence says which retry fitted)")
LR_TOO_LOW = _cause("lr_too_low", "the learning rate is too low for the loss to move in the step budget",
                    fix="raise the learning rate, or give the check more steps= if training is meant to be slow")
MISSING_ZERO_GRAD = _cause("missing_zero_grad", "the training step adds each step's gradients to the previous ones",
                           torch="call optimizer.zero_grad() at the start of every step",
                           keras="compute the gradients afresh inside one GradientTape per step")
LOSS_MISMATCH = _cause("loss_mismatch", "the loss does not fit the model's outputs or the targets",
                       torch="use CrossEntropyLoss on logits for classes, BCEWithLogitsLoss for independent labels, "
                             "MSELoss for real-valued targets",
                       keras="match from_logits= to the last layer, use sparse_categorical_crossentropy for class ids, "
                             "binary_crossentropy for independent labels, mse for real-valued targets")
LOSS_NOT_FINITE = _cause("loss_not_finite", "the loss is NaN or ±inf at outputs the model can produce",
                         torch="compute the loss from logits (CrossEntropyLoss, BCEWithLogitsLoss) or clamp "
                               "probabilities before the log (p.clamp(min=1e-7)); a square root needs an epsilon "
                               "under it ((d + 1e-9).sqrt())",
                         keras="use the built-in losses (they clip), from_logits=True on a linear head, or clip "
                               "before the log (ops.clip(p, 1e-7, 1)); a square root needs an epsilon under it "
                               "(ops.sqrt(d + 1e-9))")
OUTPUT_ACTIVATION = _cause("output_activation", "the last layer's activation cannot produce what the loss needs",
                           torch="return raw logits from the last Linear (no ReLU; no softmax before CrossEntropyLoss, no "
                                 "sigmoid before BCEWithLogitsLoss); for value targets, a head that can reach them",
                           keras="end in Dense(C) with from_logits=True, or Dense(C, activation='softmax') with "
                                 "from_logits=False — one softmax, never a ReLU; for value targets, a head that can reach them")
PARAMS_NOT_UPDATED = _cause("params_not_updated", "trainable parameters that training never changes",
                            torch="pass model.parameters() to the optimizer and call loss.backward() before optimizer.step(), or "
                                  "freeze on purpose with requires_grad_(False)",
                            keras="set layer.trainable = False on purpose, or make sure the step applies every gradient")
HEAD_WIDTH = _cause("head_width", "the head's width differs from the number of classes",
                    fix="give the last layer one output per class (one unit for a binary sigmoid/logit head)")
LABELS_INVALID = _cause("labels_invalid", "the targets are not valid for the task (out of range, wrong shape, NaN)",
                        fix="encode class ids as 0..C-1, one per sample, and check the label column for missing values")
CLASS_COLLAPSE = _cause("class_collapse", "the model gives (almost) every input the same class or value",
                        fix="see the other causes; balance the classes (class weights, resampling) or fix the layer "
                            "that stops the input")
LABELS_IMBALANCED = _cause("labels_imbalanced", "most training labels are one class",
                           torch="weight the loss (CrossEntropyLoss(weight=...), BCEWithLogitsLoss(pos_weight=...)) "
                                 "or resample",
                           keras="pass class_weight= to fit, weight the loss, or resample")
OUTPUTS_NOT_FINITE = _cause("outputs_not_finite", "the model outputs NaN or ±inf for finite inputs",
                            fix="look for a division, log or exp of unbounded values in the model")
PREPROCESSING_MISMATCH = _cause("preprocessing_mismatch", "training and evaluation preprocess a sample differently",
                                fix="build both pipelines from one shared function (same resize, scaling, channel "
                                    "order, layout)")
LABEL_MAPPING_MISMATCH = _cause("label_mapping_mismatch", "labels and class codes disagree between encode and decode",
                                fix="derive encoder and decoder from one sorted list of labels, numbered from 0")
INPUTS_NOT_FINITE = _cause("inputs_not_finite", "the inputs hold NaN or ±inf",
                           fix="impute or drop missing values before they reach the model")
INPUTS_NOT_NORMALIZED = _cause("inputs_not_normalized", "the inputs are far from unit scale",
                               torch="convert to float and scale (x.float() / 255) or standardise",
                               keras="scale inside the model (layers.Rescaling(1/255), layers.Normalization) or "
                                     "before it")
TARGETS_NOT_NORMALIZED = _cause("targets_not_normalized",
                                "regression targets far larger than anything the untrained model outputs",
                                torch="standardise the targets (y - mean) / std for training and invert it on the "
                                      "predictions (or divide by a fixed unit, e.g. thousands)",
                                keras="standardise the targets before fit ((y - mean) / std) and invert it on the "
                                      "predictions (or divide by a fixed unit, e.g. thousands)")
INPUT_DTYPE = _cause("input_dtype", "the inputs have a dtype the model does not compute in",
                     torch="convert the inputs to the model's float dtype (x.float())",
                     keras="cast the inputs to float32 (tf.cast(x, 'float32')) or add a Rescaling layer")
INPUT_SHAPE = _cause("input_shape", "the batch does not fit the model's expected input shape",
                     fix="check the input layout (channels first or last), flattening and the sample shape")
XY_LENGTH_MISMATCH = _cause("xy_length_mismatch", "inputs and targets of one batch hold different numbers of samples",
                            fix="build x and y from the same indices")
DEVICE_MISMATCH = _cause("device_mismatch", "tensors on different devices meet in the model or the loss",
                         torch="create tensors on x.device instead of hard-coding .cuda() or device='cuda'",
                         keras="let Keras place tensors; do not pin ops with tf.device inside the model")
OVER_REGULARIZED = _cause("over_regularized", "so much regularisation that the model cannot fit",
                          fix="lower the weight decay or the dropout rate (a rate is the fraction dropped)",
                          keras="lower the optimizer's weight_decay, the layers' kernel_regularizer= penalties or "
                                "the dropout rate (a rate is the fraction dropped)")
DEAD_UNITS = _cause("dead_units", "units that never activate, so nothing reaches the layers after them",
                    fix="check initialisation and biases; lower the learning rate; try LeakyReLU")
NO_GRADIENT = _cause("no_gradient", "the loss gives some parameters no gradient: no path back to them, or a "
                                    "loss flat where the model's outputs are",
                     torch="wire each layer's output into the next layer (not an earlier one's) and keep the "
                           "computation in torch: no .detach(), .item(), .numpy() or integer ops between the parameters "
                           "and the loss; a loss must move with the outputs where the model is (not clamped at a "
                           "margin it always meets, not read through a rounding or comparison)",
                     keras="wire each layer's output into the next layer (not an earlier one's) and keep the "
                           "computation in tensors: no numpy round trip or stop_gradient between the variables and "
                           "the loss; a loss must move with the outputs where the model is (not clamped at a margin "
                           "it always meets, not read through a rounding or comparison)")
# what a loss read through a step (its value changes between outputs, never around one) does, and the remedy
THROUGH_A_STEP = ("it reads them through a step (torch.round, an argmax, a comparison), whose gradient is 0, so no "
                  "parameter learns; compute the loss on the logits or probabilities, and round only to report accuracy")
INIT_LOSS_OFF = _cause("init_loss_off", "the loss at initialisation is far from an uninformative prediction's",
                       fix="scale the inputs and keep the head's initial weights small (its outputs near zero); "
                           "a cross-entropy sums over the classes and averages over the samples")
VANISHING_GRADIENTS = _cause("vanishing_gradients", "some layers' gradients are tiny next to their weights",
                             fix="initialise by fan-in (He for ReLU, Glorot for sigmoid and tanh), use ReLU-family "
                                 "activations, normalisation layers or residual connections")
EXPLODING_GRADIENTS = _cause("exploding_gradients", "some layers' gradients are huge next to their weights",
                             torch="scale the inputs, use a standard initialisation, clip gradients "
                                   "(torch.nn.utils.clip_grad_norm_)",
                             keras="scale the inputs, use a standard initialiser, clip gradients (clipnorm= on the "
                                   "optimizer)")
FROZEN_PARAMS_CHANGED = _cause("frozen_params_changed", "parameters meant to be frozen changed in a training step",
                               torch="leave frozen parameters out of the optimizer (weight decay moves them too)",
                               keras="set trainable = False before compiling, and compile again after changing it")
BATCH_MIXING = _cause("batch_mixing", "a sample's output depends on other samples of the batch",
                      torch="reshape with the batch dimension kept first (x.view(x.size(0), -1)); never reduce over dim 0 "
                            "or index a table by a sample's slot in it",
                      keras="keep the batch axis first in Reshape/Permute; never reduce over axis 0 or index a table by "
                            "a sample's slot in it")
NO_INPUT_SIGNAL = _cause("no_input_signal", "the predictions do not follow each sample's own inputs: the outputs "
                                            "ignore the inputs, or on samples the model did not train on they fit "
                                            "other samples' targets as well as their own",
                         fix="check that inputs and labels stay aligned (shuffled together, same file order), that each "
                             "sample gets its own inputs, and that no layer stops them (a mask the wrong way round, "
                             "attention over the wrong axis, a detached or overwritten activation)")
TARGET_SHAPE = _cause("target_shape", "outputs and targets differ in shape, so the loss broadcasts one against the other",
                      torch="make the head's output the targets' shape (out.squeeze(-1) or y.unsqueeze(-1)); "
                            "MSELoss warns about it; a per-sample value computed in the loss needs the targets' "
                            "shape too (F.pairwise_distance(a, b, keepdim=True))",
                      keras="make the last layer's output the targets' shape (a (N,) target for a Dense(1) head "
                            "needs y[:, None] with some losses)")
TARGET_LEAKAGE = _cause("target_leakage", "the model reads the targets it is trained to predict: the output for a "
                                          "position moves with the input that is its own target",
                        torch="mask attention to earlier positions (nn.Transformer.generate_square_subsequent_mask, "
                              "is_causal=True) and keep recurrent layers one-directional, or shift the targets past "
                              "what the model sees; drop a feature computed from the label from the inputs",
                        keras="MultiHeadAttention(..., use_causal_mask=True) and no Bidirectional layer before a "
                              "next-token head, or shift the targets past what the model sees; drop a feature "
                              "computed from the label from the inputs")
TARGETS_SHIFTED = _cause("targets_shifted", "each output of a left-to-right sequence model is scored against the "
                                            "token two or more positions after the last one it reads, so one it "
                                            "never sees lies between: the targets shifted twice",
                         torch="shift the targets once: a Hugging Face causal LM takes labels=input_ids and shifts "
                               "them inside its loss; a loss that does not shift takes x[:, :-1] with x[:, 1:]",
                         keras="shift the targets once, by one position: inputs x[:, :-1] with targets x[:, 1:] "
                               "(or the ids themselves where the loss shifts them)")
CONTEXT_IGNORED = _cause("context_ignored", "a sequence model's output at a position reads no other position's "
                                            "input, while the targets there need them",
                         torch="carry the recurrent state from step to step (h = cell(x[:, t], h) in the loop, the "
                               "new state fed to the next step), and read the sequence's outputs, not one step's; "
                               "a model meant to read one token at a time needs targets that follow from it",
                         keras="run the recurrent layer over the whole sequence (return_sequences=True) and, in a "
                               "hand-written loop, feed each step's state to the next; a model meant to read one "
                               "token at a time needs targets that follow from it")
SPLIT_LEAKAGE = _cause("split_leakage", "the same samples occur in the training and test splits",
                       fix="deduplicate, and split before augmenting")
