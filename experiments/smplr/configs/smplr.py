r"""SMPLR end to end: Omega + Psi + SMPL, initialised from trained Omega, Psi.

    python -m experiments.smplr.main --config=experiments/smplr/configs/smplr.py \
        --workdir=workdirs/smplr \
        --config.init_from.shape=workdirs/psi \
        --config.init_from.pose=workdirs/omega_smpl

Losses: L1 pose + L1 betas + gender + L1 SMPL joints/landmarks, equal weights;
learning rate 1e-4 as in the authors' end-to-end stage.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape', 'pose')
  config.loss_weights.smpl = 1.0
  config.learning_rate = 1e-4
  config.final_learning_rate = 1e-6
  config.num_steps = 10_000
  return config
