r"""Trains one keypoint adapter: a thin launcher around `train_and_evaluate`.

    python -m experiments.adapter.main \
        --config=experiments/adapter/configs/blazepose33_3d.py \
        --workdir=workdirs/adapter/blazepose33_3d [--config.num_steps=...]

Prints the held-out errors (mm) of the adapter's JL and of the bodies the
shipped SMPLR recovers from them (without / with the DAE), from clean and
from noisy keypoints.
"""

from experiments import launch
from smplr_jax import cli, metrics


def result_rows(results: dict[str, float]) -> dict[str, dict]:
  """'<clean|noisy>/<row>/<metric>' results -> table rows."""
  rows = {}
  for key, value in results.items():
    parts = key.split('/')
    if len(parts) == 3:
      rows.setdefault(f'{parts[0]} {parts[1]}', {})[parts[2]] = value
  return rows


def main(argv):
  del argv
  results = launch.train_from_flags()
  print(f'\n{launch.WORKDIR.value}, held-out set, mm:')
  print(metrics.format_table(result_rows(results)))


if __name__ == '__main__':
  cli.run(main)
