r"""Psi: the shape network on bone lengths of joints + landmarks (Table 1).

    python -m experiments.smplr.main --config=experiments/smplr/configs/psi.py \
        --workdir=workdirs/psi

Paper (SURREAL): 14.4 mm joints, 11.5 mm landmarks, gender accuracy 89.5%.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape',)
  return config
