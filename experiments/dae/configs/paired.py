r"""DAE trained on a real network's outputs: (predicted, ground-truth) JL.

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/paired.py \
        --workdir=workdirs/dae/paired --config.paired.path=PAIRS.npz

PAIRS.npz holds pred_jl and gt_jl, both [N, 42, 3] in metres (e.g. the
hourglass's predictions on its training images); the last
`paired.held_out_fraction` of the pairs is the validation and test split.
Add --config.dae.zero_depth=True for a DAE2d on the same pairs.

Measured (README "Volumetric stacked hourglass"): pairs of the CPU image
network (`hourglass/configs/cpu_long.py` at step 8,000) on the first 4,096
training images (`python -m experiments.image_net.predict_pairs`), this
config with --config.dae.dropout_rate=0.0; 4,000 steps took 5 minutes on
the 2-core machine while the image network trained on the same cores. On
the 410 held-out pairs (`python -m experiments.dae.compare_on_pairs`):
Jt 235.3 -> 236.0 mm, Lm 245.2 -> 237.5 mm, bones 64.6 -> 21.6 mm, PA-Jt
166.7 -> 162.7 mm; the shipped structured-noise DAE gives Jt 234.9, Lm
243.8, bones 58.7, PA-Jt 161.0 mm on the same pairs. At this network's
error level neither DAE moves the joints: the errors are not the kind a
denoiser undoes (whole limbs shrunk toward the mean pose); the paired DAE
repairs bone lengths.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.data = 'paired'
  return config
