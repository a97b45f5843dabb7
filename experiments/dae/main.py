r"""Trains one DAE experiment: a thin launcher around `train_and_evaluate`.

    python -m experiments.dae.main --config=experiments/dae/configs/structured.py \
        --workdir=workdirs/dae/structured [--config.num_steps=...]

Prints, per evaluation noise model, the held-out errors (mm) of the DAE's
input ("before") and of its output ("after").
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from smplr_jax import metrics
from smplr_jax import tasks
from smplr_jax import train

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run folder (resumes).')
flags.mark_flags_as_required(['config', 'workdir'])


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
  if not flags.FLAGS['verbosity'].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  config = _CONFIG.value
  results = train.train_and_evaluate(config, _WORKDIR.value,
                                     tasks.make_task(config))
  print(f'\n{_WORKDIR.value}, held-out set, DAE input (before) and output '
        '(after), mm:')
  print(metrics.format_table(before_after_rows(results)))


if __name__ == '__main__':
  app.run(main)
