r"""Adapter: BlazePose world landmarks -> JL, trained on synthetic noise and
on BlazePose's own outputs on renders (the paper's recipe for the DAE).

Commands (the pairs need the detector extra; about 60 ms per frame):

    python -m experiments.adapter.detect_pairs --split=train \
        --num_images=4096 --output=workdirs/pairs/blazepose_train.npz
    python -m experiments.adapter.detect_pairs --split=validation \
        --num_images=512 --output=workdirs/pairs/blazepose_validation.npz
    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/blazepose33_3d_paired.py \
        --workdir=workdirs/adapter/blazepose33_3d_paired

Runtime: 10.1 minutes (10,000 steps, evaluation included) on the README's
2-core CPU machine while other jobs ran (experiments/adapter/run_all.sh).

Measured, held-out set (2,048 bodies, test seed 2), mm: from clean keypoints
the adapter's JL P1 38.3, P2 35.0 and the body SMPLR recovers from them P1
49.4, P2 42.1, surface 62.4; from noisy keypoints (detector noise at scale
1) JL P1 72.9, P2 69.6, body P1 78.6, P2 71.4, surface 99.3.
On BlazePose's real outputs on 352 held-out validation renders (the pairs of
--split=validation): body P1 199.1, P2 122.1, surface 264.6; the adapter
trained without pairs (blazepose33_3d.py) gives P1 210.9, P2 128.9, surface
281.0. This run is the shipped third_party/weights/adapters/blazepose33_3d.
"""

from experiments.adapter.configs import base


def get_config():
  config = base.base_config('blazepose33', 3)
  config.paired.path = 'workdirs/pairs/blazepose_train.npz'
  config.paired.eval_path = 'workdirs/pairs/blazepose_validation.npz'
  return config
