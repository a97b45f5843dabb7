r"""Trains one DAE experiment: a thin launcher around `train_and_evaluate`.

    python -m experiments.dae.main --config=experiments/dae/configs/structured.py \
        --workdir=workdirs/dae/structured [--config.num_steps=...]

Prints, per evaluation noise model, the held-out errors (mm) of the DAE's
input ("before") and of its output ("after").
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax.evaluation import metrics


def main(argv):
  del argv
  results = launch.train_from_flags()
  print(f'\n{launch.WORKDIR.value}, held-out set, DAE input (before) and '
        'output (after), mm:')
  print(metrics.format_table(metrics.rows_by_prefix(results)))


if __name__ == '__main__':
  cli.run(main)
