"""Shared defaults of the SMPLR experiments (each config file overrides a few).

Hyperparameters follow the authors' code (../shared/docs/PAPER_FACTS.md):
Adam, batch 256, ELU, L1 losses with equal weights, uniform input noise.
Learning rate 1e-3 (paper) with a cosine decay to 1e-5 over the run.
"""

import ml_collections

from experiments import common_config


def base_config() -> ml_collections.ConfigDict:
  config = common_config.training_config('smplr', num_steps=20_000,
                                         eval_every=2_000)
  config.input_noise_scale = 1.0  # x the per-point bounds of smplr_jax.noise

  config.smplr = ml_collections.ConfigDict()
  config.smplr.parts = ('shape', 'pose')
  config.smplr.shape_inputs = 'joints_landmarks'  # or 'joints' (Psi_nL)
  config.smplr.rotation = 'rotmat'  # paper; '6d' is our improvement
  config.smplr.activation = 'elu'
  config.smplr.num_betas = 10

  config.loss_weights = ml_collections.ConfigDict(dict(
      betas=1.0, gender=1.0, shape_reg=0.0, pose=1.0, smpl=0.0))
  # Workdirs of trained runs whose networks initialise this one.
  config.init_from = ml_collections.ConfigDict(dict(shape='', pose=''))
  return config
