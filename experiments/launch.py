"""What every training launcher shares: its two flags and one call.

    --config=experiments/<name>/configs/<config>.py [--config.field=value]
    --workdir=workdirs/<run>          (a run resumes from its workdir)

Importing this module defines the flags; `train_from_flags()` builds the
config's task (`smplr_jax.tasks.make_task`) and runs
`smplr_jax.train.train_and_evaluate`.
"""

from absl import flags
from absl import logging
from ml_collections import config_flags

from smplr_jax import tasks
from smplr_jax import train

CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config.',
                                         lock_config=True)
WORKDIR = flags.DEFINE_string('workdir', None, 'Run folder (resumes).')
flags.mark_flags_as_required(['config', 'workdir'])


def train_from_flags() -> dict[str, float]:
  """Trains and evaluates --config in --workdir; returns the final metrics."""
  if not flags.FLAGS['verbosity'].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  config = CONFIG.value
  return train.train_and_evaluate(config, WORKDIR.value,
                                  tasks.make_task(config))
