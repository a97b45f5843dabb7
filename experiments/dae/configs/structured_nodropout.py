r"""DAE on structured noise without the paper's dropout (our best DAE).

    python -m experiments.dae.main \
        --config=experiments/dae/configs/structured_nodropout.py \
        --workdir=workdirs/dae/structured_nodropout

Same as structured.py with dropout_rate 0: on this CPU budget (4000 steps)
the paper's dropout (keep 0.8 on the input and the middle layer) holds the
DAE back: structured-noise MPJPE 61.7 -> 54.7 mm with it, 61.7 -> 43.4 mm
without it (README, "Denoising autoencoder (DAE)").
"""

from experiments.dae.configs import structured


def get_config():
  config = structured.get_config()
  config.dae.dropout_rate = 0.0
  return config
