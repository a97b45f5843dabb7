r"""DAE trained on independent Gaussian noise per point (the uniform model's std,
larger on depth).

    python -m experiments.dae.main --config=experiments/dae/configs/gaussian.py \
        --workdir=workdirs/dae/gaussian

Evaluated before/after the DAE on the held-out set under every noise model
(`eval_noises`); README "Denoising autoencoder (DAE)" has the numbers.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'gaussian'
  return config
