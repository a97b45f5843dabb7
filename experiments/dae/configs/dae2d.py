r"""DAE2d: lifts 2D JL (depth set to 0) to 3D.

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/dae2d.py \
        --workdir=workdirs/dae/dae2d

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in experiments/dae/run_all.sh (workdir creation to results.json,
before/after evaluation included): 3.6 minutes (6,000 steps).

Input: structured (CNN-like) noisy JL with z = 0; output: 3D JL. Evaluated
from clean 2D ('none') and from structured-noise 2D. The paper notes DAE2d
converges much slower than the DAE, hence more steps (6,000). Expected
result, as measured (README "Denoising autoencoder (DAE)", held-out set of
4,096 bodies, before -> after): from clean 2D Jt 173.3 -> 69.7 mm,
Lm 182.7 -> 69.0 mm, Bn 35.7 -> 13.0 mm; from structured-noise 2D
Jt 186.3 -> 88.8 mm, Lm 194.1 -> 88.4 mm, Bn 40.7 -> 17.6 mm.

For comparison only, the paper's DAE2d lifting its hourglass's 2D output on
SURREAL (docs/paper_facts.md, Table 1): Jt 65.2 mm.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.dae.zero_depth = True
  config.noise.kind = 'structured'
  config.eval_noises = ('none', 'structured')
  config.num_steps = 6_000
  return config
