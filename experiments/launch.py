"""What every training launcher shares: its two flags and one call.

    --config=experiments/<name>/configs/<config>.py [--config.field=value]
    --workdir=workdirs/<run>          (a run resumes from its workdir)

Importing this module defines the flags; `train_from_flags()` builds the
config's task (`smplr_jax.training.tasks.make_task`) and runs
`smplr_jax.training.train.train_and_evaluate`.

Several processes (hosts, or one per GPU) train one model when started with

    --coordinator_address=HOST:PORT --num_processes=N --process_id=I

(or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, or under
`srun` / `mpirun`, which JAX reads itself; --distributed=on on a TPU pod
slice); see `smplr_jax.training.parallel.initialize_distributed`.
"""

from absl import flags, logging
from ml_collections import config_flags

from smplr_jax.training import parallel, tasks, train

CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config.',
                                         lock_config=True)
WORKDIR = flags.DEFINE_string('workdir', None, 'Run folder (resumes).')
flags.mark_flags_as_required(['config', 'workdir'])
# Multi-process runs (parallel.initialize_distributed); unset: from the
# environment, a no-op for a single process.
COORDINATOR = flags.DEFINE_string('coordinator_address', None,
                                  'host:port of process 0 (multi-process).')
NUM_PROCESSES = flags.DEFINE_integer('num_processes', None,
                                     'Number of processes (multi-process).')
PROCESS_ID = flags.DEFINE_integer('process_id', None,
                                  'This process, 0 .. num_processes - 1.')
DISTRIBUTED = flags.DEFINE_enum('distributed', 'auto',
                                parallel.DISTRIBUTED_MODES,
                                'Join a multi-process run: auto (when the '
                                'flags or environment say so), on, off.')


def train_from_flags() -> dict[str, float]:
  """Trains and evaluates --config in --workdir; returns the final metrics."""
  if not flags.FLAGS['verbosity'].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  parallel.initialize_distributed(COORDINATOR.value, NUM_PROCESSES.value,
                                  PROCESS_ID.value, DISTRIBUTED.value)
  config = CONFIG.value
  return train.train_and_evaluate(config, WORKDIR.value,
                                  tasks.make_task(config))
