r"""DAE trained on a real network's outputs: (predicted, ground-truth) JL.

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/paired.py \
        --workdir=workdirs/dae/paired --config.paired.path=PAIRS.npz

PAIRS.npz holds pred_jl and gt_jl, both [N, 42, 3] in metres (e.g. the
hourglass's predictions on its training images); the last
`paired.held_out_fraction` of the pairs is the validation and test split.
Add --config.dae.zero_depth=True for a DAE2d on the same pairs.

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU): not
measured (no real pairs yet); the synthetic DAE runs of the same size took
2.3-2.5 minutes for 4,000 steps (experiments/dae/run_all.sh).

Expected result: none measured yet. No network's predictions good enough
to pair have been produced (the CPU hourglass run of
experiments/hourglass/configs/cpu.py predicts only the mean pose), so the
README has no numbers for this config.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.data = 'paired'
  return config
