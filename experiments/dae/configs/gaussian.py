r"""DAE trained on independent Gaussian noise per point (the uniform model's std,
larger on depth).

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/gaussian.py \
        --workdir=workdirs/dae/gaussian

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in experiments/dae/run_all.sh (workdir creation to results.json,
before/after evaluation included): 2.3 minutes (4,000 steps).

Evaluated before/after the DAE on the held-out set (4,096 bodies, test_seed
2, noise seed 1234) under every noise model (`eval_noises`). Expected
result, as measured (README "Denoising autoencoder (DAE)", Gaussian-noise
input, before -> after): Jt 30.5 -> 29.8 mm (-2.3%), Lm 33.2 -> 32.6 mm,
Bn 22.3 -> 19.9 mm, wrists 75.9 -> 72.1 mm. The other noise models' rows
are printed by `python -m experiments.dae.summarize --root=workdirs/dae`.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'gaussian'
  return config
