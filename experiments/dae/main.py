r"""Trains one DAE experiment: a thin launcher around `train_and_evaluate`.

    python -m experiments.dae.main --config=experiments/dae/configs/structured.py \
        --workdir=workdirs/dae/structured [--config.num_steps=...]

Prints, per evaluation noise model, the held-out errors (mm) of the DAE's
input ("before") and of its output ("after").
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax import metrics


def before_after_rows(results: dict[str, float]) -> dict[str, dict]:
  """'<noise>/<before|after>/<metric>' results -> table rows."""
  rows = {}
  for key, value in results.items():
    parts = key.split('/')
    if len(parts) == 3:
      rows.setdefault(f'{parts[0]} {parts[1]}', {})[parts[2]] = value
  return rows


def main(argv):
  del argv
  results = launch.train_from_flags()
  print(f'\n{launch.WORKDIR.value}, held-out set, DAE input (before) and '
        'output (after), mm:')
  print(metrics.format_table(before_after_rows(results)))


if __name__ == '__main__':
  cli.run(main)
