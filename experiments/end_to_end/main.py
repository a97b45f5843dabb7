r"""Trains the image network end to end through the DAE, SMPLR and SMPL.

    python -m experiments.end_to_end.main \
        --config=experiments/end_to_end/configs/cpu.py \
        --workdir=workdirs/end_to_end/cpu [--config.num_steps=...]

Prints the test-split errors (mm) of the image network's JL, of SMPLR's
input (after the DAE) and of the recovered body.
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax.evaluation import metrics


def main(argv):
  del argv
  results = launch.train_from_flags()
  rows = {}
  for key, value in results.items():
    if '/' in key:
      row, column = key.split('/', 1)
      rows.setdefault(row, {})[column] = value
  print(f'\n{launch.WORKDIR.value}, test split, mm:')
  print(metrics.format_table(rows))


if __name__ == '__main__':
  cli.run(main)
