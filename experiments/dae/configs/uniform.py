r"""DAE trained on the authors' uniform noise within per-point bounds.

    python -m experiments.dae.main --config=experiments/dae/configs/uniform.py \
        --workdir=workdirs/dae/uniform

Evaluated before/after the DAE on the held-out set under every noise model
(`eval_noises`); README "Denoising autoencoder (DAE)" has the numbers.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'uniform'
  return config
