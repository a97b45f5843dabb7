r"""Adapter: coco17 keypoints (2D) -> JL.

Command:

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/coco17_2d.py \
        --workdir=workdirs/adapter/coco17_2d

Runtime: 4.3 minutes (10,000 steps, evaluation included) on the README's
2-core CPU machine while other jobs ran (experiments/adapter/run_all.sh).

Measured, held-out set (2,048 bodies, test seed 2), mm: from clean keypoints
the adapter's JL P1 90.1, P2 76.1 and the body SMPLR recovers from them P1
91.9, P2 75.4, surface 126.8; from noisy keypoints (detector noise at scale
1) JL P1 118.3, P2 101.0, body P1 118.7, P2 98.3, surface 161.4.
"""

from experiments.adapter.configs import base


def get_config():
  return base.base_config('coco17', 2)
