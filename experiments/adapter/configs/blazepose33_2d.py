r"""Adapter: blazepose33 keypoints (2D) -> JL.

Command:

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/blazepose33_2d.py \
        --workdir=workdirs/adapter/blazepose33_2d

Runtime: 9.0 minutes (10,000 steps, evaluation included) on the README's
2-core CPU machine while other jobs ran (experiments/adapter/run_all.sh).

Measured, held-out set (2,048 bodies, test seed 2), mm: from clean keypoints
the adapter's JL P1 93.6, P2 77.4 and the body SMPLR recovers from them P1
94.4, P2 75.6, surface 123.6; from noisy keypoints (detector noise at scale
1) JL P1 118.3, P2 99.7, body P1 118.3, P2 96.0, surface 154.7.
"""

from experiments.adapter.configs import base


def get_config():
  return base.base_config('blazepose33', 2)
