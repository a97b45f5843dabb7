r"""A CPU-sized hourglass: 2 stacks, 64 features, 128 x 128 input, 32x32x16.

    python -m experiments.hourglass.main \
        --config=experiments/hourglass/configs/cpu.py \
        --workdir=workdirs/hourglass/cpu

Trains on the rendered `smplr_synthetic/small` (4,096 training images, built
on first use in about a minute) with all augmentations: 600 steps of batch
16 (about 13 img/s, ~15 minutes on 2 CPU cores).
"""

from experiments.hourglass.configs import base


def get_config():
  config = base.base_config(input_size=128, num_stacks=2, num_features=64,
                            num_steps=600)
  config.batch_size = 16
  config.learning_rate = 1e-3
  # The paper's cross-entropy alone first learns the empty volume: after 300
  # steps the soft-argmax was still ~480 mm off (the cube's centre). The L1
  # on the soft-argmax (metres) drives the coordinates from the start.
  config.loss.l1_weight = 1.0
  return config
