r"""Trains one SMPLR experiment: a thin launcher around `train_and_evaluate`.

    python -m experiments.smplr.main --config=experiments/smplr/configs/psi.py \
        --workdir=workdirs/psi [--config.num_steps=...]
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


def main(argv):
  del argv
  if not flags.FLAGS['verbosity'].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  config = _CONFIG.value
  results = train.train_and_evaluate(config, _WORKDIR.value,
                                     tasks.make_task(config))
  for variant in ('clean', 'noisy'):
    row = {k.split('/', 1)[1]: v for k, v in results.items()
           if k.startswith(variant + '/')}
    print(f'\n{_WORKDIR.value}, held-out set, input = {variant} JL (mm):')
    print(metrics.format_table({_WORKDIR.value: row}))


if __name__ == '__main__':
  app.run(main)
