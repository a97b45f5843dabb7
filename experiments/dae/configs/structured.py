r"""DAE trained on CNN-like structured noise (limb swaps, occlusions, chained
bone tilts mostly in depth, depth scale, jitter).

    python -m experiments.dae.main --config=experiments/dae/configs/structured.py \
        --workdir=workdirs/dae/structured

Evaluated before/after the DAE on the held-out set under every noise model
(`eval_noises`); README "Denoising autoencoder (DAE)" has the numbers.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'structured'
  return config
