r"""Adapter: blazepose33 keypoints (3D) -> JL.

Command:

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/blazepose33_3d.py \
        --workdir=workdirs/adapter/blazepose33_3d

Runtime: 5.2 minutes (10,000 steps, evaluation included) on the README's
2-core CPU machine while other jobs ran (experiments/adapter/run_all.sh).

Measured, held-out set (2,048 bodies, test seed 2), mm: from clean keypoints
the adapter's JL P1 30.7, P2 28.7 and the body SMPLR recovers from them P1
43.8, P2 38.2, surface 56.4; from noisy keypoints (detector noise at scale
1) JL P1 70.2, P2 67.6, body P1 75.8, P2 69.8, surface 96.0.
"""

from experiments.adapter.configs import base


def get_config():
  return base.base_config('blazepose33', 3)
