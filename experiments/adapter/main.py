r"""Trains one keypoint adapter: a thin launcher around `train_and_evaluate`.

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/blazepose33_3d.py \
        --workdir=workdirs/adapter/blazepose33_3d [--config.num_steps=...]

Prints the held-out errors (mm) of the adapter's JL and of the bodies the
shipped SMPLR recovers from them (without / with the DAE), from clean and
from noisy keypoints.
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax.evaluation import metrics


def main(argv):
  del argv
  results = launch.train_from_flags()
  print(f'\n{launch.WORKDIR.value}, held-out set, mm:')
  print(metrics.format_table(metrics.rows_by_prefix(results)))


if __name__ == '__main__':
  cli.run(main)
