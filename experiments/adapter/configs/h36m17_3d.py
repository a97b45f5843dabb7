r"""Adapter: h36m17 keypoints (3D) -> JL.

Command:

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/h36m17_3d.py \
        --workdir=workdirs/adapter/h36m17_3d

Runtime: 4.6 minutes (10,000 steps, evaluation included) on the README's
2-core CPU machine while other jobs ran (experiments/adapter/run_all.sh).

Measured, held-out set (2,048 bodies, test seed 2), mm: from clean keypoints
the adapter's JL P1 27.6, P2 28.5 and the body SMPLR recovers from them P1
40.9, P2 38.1, surface 65.2; from noisy keypoints (detector noise at scale
1) JL P1 72.8, P2 72.7, body P1 77.0, P2 73.8, surface 109.9.
"""

from experiments.adapter.configs import base


def get_config():
  return base.base_config('h36m17', 3)
