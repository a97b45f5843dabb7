r"""Psi_nL: the shape network without landmarks (skeleton bones only).

    python -m experiments.smplr.main \
        --config=experiments/smplr/configs/psi_nl.py --workdir=workdirs/psi_nl

Paper (SURREAL): 14.3 mm joints and landmarks; compare Psi's landmark error.
"""

from experiments.smplr.configs import base


def get_config():
  config = base.base_config()
  config.smplr.parts = ('shape',)
  config.smplr.shape_inputs = 'joints'
  return config
