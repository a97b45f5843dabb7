"""Training defaults shared by every experiment config (SMPLR, DAE, ...).

Adam, batch 256 and learning rate 1e-3 follow the paper; the cosine decay to
1e-5, the logging cadence and the seeded validation / held-out sets are ours.
Each experiment's base config starts from `training_config()`.
"""

import ml_collections


def training_config(task: str, num_steps: int,
                    eval_every: int) -> ml_collections.ConfigDict:
  """The fields `smplr_jax.training.train.train_and_evaluate` reads, with defaults."""
  config = ml_collections.ConfigDict()
  config.task = task
  config.seed = 0
  config.num_devices = 0  # 0 = all devices on the `data` mesh axis
  config.body_model_path = ml_collections.FieldReference(None, field_type=str)

  config.batch_size = 256
  config.num_steps = num_steps
  config.learning_rate = 1e-3
  config.final_learning_rate = 1e-5
  config.schedule = 'cosine'
  config.grad_clip_norm = 0.0

  config.log_every = 200
  config.eval_every = eval_every
  config.keep_checkpoints = 3
  config.progress_bar = True
  config.validation_size = 1024
  config.validation_seed = 1
  config.test_set_size = 4096
  config.test_seed = 2
  config.test_noise_seed = 1234  # noise of the evaluation's noisy inputs
  config.eval_batch_size = 256
  return config
