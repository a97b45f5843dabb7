r"""Omega_smpl: the pose network with the SMPL loss on joints and landmarks.

    python -m experiments.smplr.main \
        --config=experiments/smplr/configs/omega_smpl.py \
        --workdir=workdirs/omega_smpl

Paper (SURREAL): 63.8 mm joints (vs 67.8 without the SMPL loss).
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('pose',)
  config.loss_weights.smpl = 1.0
  return config
