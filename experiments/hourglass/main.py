r"""Trains the volumetric hourglass: a thin launcher around the library.

    python -m experiments.hourglass.main \
        --config=experiments/hourglass/configs/cpu.py \
        --workdir=workdirs/hourglass/cpu [--config.num_steps=...]

Prints the test-split errors (mm) of the last stack's soft-argmax and writes
`predictions.npz` in the workdir (input of the DAE's `paired` config).
"""

from absl import app, flags, logging
from ml_collections import config_flags

from smplr_jax import metrics, tasks, train

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
  print(f'\n{_WORKDIR.value}, test split, mm:')
  if 'mpjpe' in results:
    print(metrics.format_table({'SHN': results}))
  print(f'cube-frame error of the 41 points: {results["cube_error"]:.1f} mm')


if __name__ == '__main__':
  app.run(main)
