"""Shared defaults of the SMPLR experiments; not run directly.

Each runnable config starts from `base_config()` and overrides a few fields:
`psi.py`, `psi_nl.py`, `omega.py`, `omega_smpl.py` and `smplr.py` (their
docstrings give the command, runtime and measured result). All Table-1 rows
in one go, with the step counts the README's results were measured with
(6,000 steps per network, 3,000 for the end-to-end stage, instead of this
file's default 20,000):

    bash experiments/smplr/run_table1.sh workdirs/table1

19 minutes on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured with `time`.

Hyperparameters follow the authors' code (docs/paper_facts.md, Sections 5
and 6): Adam, batch 256, ELU, L1 losses with equal weights, uniform input
noise. Learning rate 1e-3 (paper) with a cosine decay to 1e-5 over the run.
"""

import ml_collections

from experiments import common_config


def base_config() -> ml_collections.ConfigDict:
  config = common_config.training_config('smplr', num_steps=20_000,
                                         eval_every=2_000)
  # Input noise kind (smplr_jax.data.noise.NOISE_MODELS): 'uniform' is ours (hand-
  # set bounds), 'authors' the authors' 123 bounds; times this scale.
  config.input_noise = 'uniform'
  config.input_noise_scale = 1.0
  # 'ours' (gender cross-entropy, one SMPL L1 over the 42 points) or
  # 'authors' (gender as a +-1 L1 target with betas, two SMPL L1 terms:
  # 23 joints and 18 landmarks; use shape_reg=0.01 with it).
  config.loss_style = 'ours'

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
