r"""DAE trained on the authors' uniform noise within per-point bounds.

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/uniform.py \
        --workdir=workdirs/dae/uniform

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in experiments/dae/run_all.sh (workdir creation to results.json,
before/after evaluation included): 2.3 minutes (4,000 steps).

Evaluated before/after the DAE on the held-out set (4,096 bodies, test_seed
2, noise seed 1234) under every noise model (`eval_noises`). Expected
result, as measured (README "Denoising autoencoder (DAE)", uniform-noise
input, before -> after): Jt 31.9 -> 31.0 mm (-2.8%), Lm 34.7 -> 33.8 mm,
Bn 22.8 -> 19.9 mm, wrists 79.4 -> 74.7 mm. In front of the end-to-end
SMPLR (experiments.dae.evaluate_stitched) it changes little: Jt 27.8 mm
with it, 27.9 mm without, surface 46.7 vs 46.8 mm.

The noise bounds are those of `smplr_jax.data.noise`; docs/paper_facts.md
(Section 6) lists the authors' exact per-coordinate table for comparison.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'uniform'
  return config
