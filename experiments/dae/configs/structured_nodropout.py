r"""DAE on structured noise without the paper's dropout (our best DAE).

Command:

    python -m experiments.dae.main \
        --config=experiments/dae/configs/structured_nodropout.py \
        --workdir=workdirs/dae/structured_nodropout

Runtime on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured in experiments/dae/run_all.sh (workdir creation to results.json,
before/after evaluation included): 2.5 minutes (4,000 steps).

Same as structured.py with dropout_rate 0: at this training length the
paper's dropout (keep 0.8 on the input and the middle layer) holds the DAE
back. Expected result, as measured (README "Denoising autoencoder (DAE)",
held-out set of 4,096 bodies, before -> after):
  * structured noise: Jt 61.7 -> 43.4 mm (-29.7%; 54.7 mm with dropout),
    Lm 63.9 -> 45.4 mm, Bn 12.8 -> 8.9 mm, wrists 110.6 -> 73.5 mm;
  * Gaussian noise (not trained on): Jt 30.5 -> 28.7 mm (-5.9%).
In front of the end-to-end SMPLR (experiments.dae.evaluate_stitched),
structured noise: Jt 44.7 mm, surface 66.5 mm (SMPLR alone 53.2 / 78.6 mm);
Gaussian noise: Jt 30.8 mm (SMPLR alone 27.9 mm).
"""

from experiments.dae.configs import structured


def get_config():
  config = structured.get_config()
  config.dae.dropout_rate = 0.0
  return config
