r"""DAE trained on CNN-like structured noise (limb swaps, occlusions, chained
bone tilts mostly in depth, depth scale, jitter), with the paper's dropout.

Command:

    python -m experiments.dae.main --config=experiments/dae/configs/structured.py \
        --workdir=workdirs/dae/structured

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in experiments/dae/run_all.sh (workdir creation to results.json,
before/after evaluation included): 2.5 minutes (4,000 steps).

Evaluated before/after the DAE on the held-out set (4,096 bodies, test_seed
2, noise seed 1234) under every noise model (`eval_noises`). Expected
result, as measured (README "Denoising autoencoder (DAE)", structured-noise
input, before -> after): Jt 61.7 -> 54.7 mm (-11.3%), Lm 63.9 -> 58.2 mm,
Bn 12.8 -> 12.4 mm, wrists 110.6 -> 88.8 mm. In front of the end-to-end
SMPLR (experiments.dae.evaluate_stitched, structured noise): Jt 50.4 mm,
surface 74.2 mm, vs 53.2 / 78.6 mm for SMPLR alone. Without dropout the
DAE does much better at this length: structured_nodropout.py.

For comparison only, the paper's DAE on its hourglass's output (SURREAL,
docs/paper_facts.md, Table 1): Jt 59.2 mm from the hourglass's 61.9 mm.
"""

from experiments.dae.configs import base


def get_config():
  config = base.base_config()
  config.noise.kind = 'structured'
  return config
