r"""Omega: the pose network, L1 on rotation matrices only (Table 1).

    python -m experiments.smplr.main --config=experiments/smplr/configs/omega.py \
        --workdir=workdirs/omega

Paper (SURREAL): 67.8 mm joints. `--config.smplr.rotation=6d` for the 6D
representation.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('pose',)
  return config
