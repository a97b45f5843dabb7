r"""DAE trained on a real network's outputs: (predicted, ground-truth) JL.

    python -m experiments.dae.main --config=experiments/dae/configs/paired.py \
        --workdir=workdirs/dae/paired --config.paired.path=PAIRS.npz

PAIRS.npz holds pred_jl and gt_jl, both [N, 42, 3] in metres (e.g. the
hourglass's predictions on its training images); the last
`paired.held_out_fraction` of the pairs is the validation and test split.
Add --config.dae.zero_depth=True for a DAE2d on the same pairs.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.data = 'paired'
  return config
