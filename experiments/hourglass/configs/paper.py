r"""The paper's hourglass: 5 stacks, 256 features, 256 x 256 input, 64x64x16.

    python -m experiments.hourglass.main \
        --config=experiments/hourglass/configs/paper.py \
        --workdir=workdirs/hourglass/paper

A GPU run: batch 8 (the authors used 6-10), Adam at 1e-3 with cosine decay.
The authors trained for about 10 days on one GPU; this config is the
architecture at full size, not a reproduction of that schedule.
"""

from experiments.hourglass.configs import base


def get_config():
  config = base.base_config(input_size=256, num_stacks=5, num_features=256,
                            num_steps=200_000)
  config.batch_size = 8
  config.learning_rate = 1e-3
  config.data.builder_config = 'large'
  config.eval_every = 10_000
  config.log_every = 200
  return config
