"""One training run in a fresh process, for the multi-process and fault tests.

    python tests/train_worker.py SPEC.json

SPEC (`write_spec`): the run's config (JSON), workdir, CPU device count,
optionally the process of a multi-process run (coordinator, number of
processes, id) and a fault: SIGKILL of the process

  * 'step': just before optimizer step N is taken;
  * 'save': in the write of checkpoint N, its files written into orbax's
    temporary folder but not yet committed (renamed);
  * 'commit': right after checkpoint N was committed, before orbax prunes
    old checkpoints and the loop goes on.

The run then trains the task of the config (`tasks.make_task`) with
`train.train_and_evaluate`, exactly as a launcher does.
"""

import faulthandler
import json
import os
import pathlib
import signal
import sys

import jax


def write_spec(path, config, workdir, devices=1, process=None, kill=None):
  """Writes a worker spec; process: (coordinator, num_processes, id); kill:
  (moment, step). Returns the command that runs it."""
  spec = {'config': json.loads(config.to_json_best_effort()),
          'workdir': str(workdir), 'devices': devices, 'process': process,
          'kill': kill}
  pathlib.Path(path).write_text(json.dumps(spec))
  return [sys.executable, str(pathlib.Path(__file__).resolve()), str(path)]


def _die():
  os.kill(os.getpid(), signal.SIGKILL)


def _install_kill(train, moment, step):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  if moment == 'step':
    make_train_step = train.make_train_step

    def dying_make_train_step(*args, **kwargs):
      step_fn = make_train_step(*args, **kwargs)

      def dying_step(state, *rest):
        if int(state.step) == step:
          _die()
        return step_fn(state, *rest)

      return dying_step

    train.make_train_step = dying_make_train_step
  elif moment == 'save':
    save = ocp.CompositeCheckpointHandler.save

    def dying_save(self, directory, *args, **kwargs):
      save(self, directory, *args, **kwargs)
      # The temporary folder is named '<step>.orbax-checkpoint-tmp-...'.
      if pathlib.Path(directory).name.split('.')[0] == str(step):
        _die()

    ocp.CompositeCheckpointHandler.save = dying_save
  elif moment == 'commit':
    # pylint: disable-next=protected-access
    finalize = ocp.CheckpointManager._finalize

    def dying_finalize(self, saved_step, *args, **kwargs):
      if saved_step == step:
        _die()
      return finalize(self, saved_step, *args, **kwargs)

    ocp.CheckpointManager._finalize = (  # pylint: disable=protected-access
        dying_finalize)
  else:
    raise ValueError(f'unknown kill moment {moment!r}')


def main(spec_path):
  # A hung run prints where it hangs and exits instead of stalling the test.
  faulthandler.dump_traceback_later(1200, exit=True)
  spec = json.loads(pathlib.Path(spec_path).read_text())
  jax.config.update('jax_num_cpu_devices', spec['devices'])
  # Before any other JAX call, as in experiments/launch.py.
  from smplr_jax.training import parallel  # pylint: disable=g-import-not-at-top
  if spec['process']:
    parallel.initialize_distributed(*spec['process'])
  import ml_collections  # pylint: disable=g-import-not-at-top

  from smplr_jax.training import tasks, train  # pylint: disable=g-import-not-at-top
  if spec['kill']:
    _install_kill(train, *spec['kill'])
  config = ml_collections.ConfigDict(spec['config'])
  train.train_and_evaluate(config, spec['workdir'], tasks.make_task(config))


if __name__ == '__main__':
  main(sys.argv[1])
