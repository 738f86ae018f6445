"""Real faulty deep-learning programs, each with its fix, ported from public bug collections and
GitHub issue reports (see each module's docstring for its source and fault label).

Every module defines ``LABEL`` (a cause id, alternatives joined by '|', or ``other:<label>``),
``SOURCE``, ``FRAMEWORKS``, ``CHECKS`` (``[(check, kwargs)]`` or a dict of them per framework) and
``buggy(framework)`` / ``fixed(framework)``, which return a dict with ``model`` and what the checks
take: ``batch``, ``batches``, ``inputs``, ``loss_fn``, ``optimizer``, ``train_step``.
``benchmarks/real_programs_table.py`` runs them. Importing this package imports no ML framework.
"""

from __future__ import annotations

PROGRAMS: tuple[str, ...] = (
    "autotrainer_improper_activation",
    "autotrainer_gradient_vanish",
    "autotrainer_oscillating_loss",
    "har_softmax_before_ce",
    "rnn_lstm_batch_first",
    "layers_in_python_list",
    "sigmoid_before_bce_with_logits",
    "dropout_rate_as_keep_prob",
    "regression_head_squeezed",
    "court_heatmap_no_zero_grad",
    "logreg_manual_cross_entropy",
    "facial_keypoints_adam_lr",
    "super_resolution_bce_low_lr",
    "softmax_on_one_unit",
    "unet_grayscale_masks",
    "reinforce_loss_item",
    "xray_unnormalized_pixels",
    "cges_softmax_then_logits_loss",
    "sigmoid_head_categorical_ce",
    "linear_regression_sgd_nan",
    "lstm_unscaled_targets",
    "mnist_mlp_unnormalized",
    "new_head_not_in_optimizer",
    "autotrainer_loss_issue",
    "autotrainer_data_issue",
    "bolts_logreg_softmax_then_ce",
    "log_softmax_over_batch",
    "aihwkit_example_no_zero_grad",
    "mse_target_broadcast",
    "greebear_linreg_no_grad_zero",
    "lstm_sine_cell_state_output",
    "char_rnn_optimizer_stale_model",
    "cubic_regression_unscaled",
    "tabformer_encoder_batch_axis",
    "vit_example_num_classes",
    "mnist_example_relu_before_log_softmax",
    "autoencoder_uint8_pixels",
    "breast_cancer_sigmoid_categorical_ce",
    "int_pixels_floor_divided",
    "newsgroups_lstm_one_unit_bce",
    "quickstart_relu_on_logits",
    "titanic_softmax_before_cross_entropy",
    "housing_regression_mlp_unscaled_inputs",
    "keras_vae_unscaled_xent_loss",
    "dbn_cross_entropy_on_linear_outputs",
    "vae_mnist_standard_scaled_pixels",
    "pima_mlp_missing_dense_layers",
    "age_classifier_adam_lr_100",
)
