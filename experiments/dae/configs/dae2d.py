r"""DAE2d: lifts 2D JL (depth set to 0) to 3D (paper Table 1, 65.2 mm).

    python -m experiments.dae.main --config=experiments/dae/configs/dae2d.py \
        --workdir=workdirs/dae/dae2d

Input: structured (CNN-like) noisy JL with z = 0; output: 3D JL. Evaluated
from clean 2D ('none') and from structured-noise 2D. The paper notes DAE2d
converges much slower than the DAE, hence more steps.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.dae.zero_depth = True
  config.noise.kind = 'structured'
  config.eval_noises = ('none', 'structured')
  config.num_steps = 6_000
  return config
