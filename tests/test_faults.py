"""Faults on the real tasks (tiny configs): a run killed by SIGKILL at any
moment, in the middle of a checkpoint write included, resumes from its last
complete checkpoint with the same losses; a corrupted latest checkpoint is
reported and skipped; a full disk while writing a checkpoint stops the run
with a clear error and leaves the previous checkpoint intact.

The killed runs are `python tests/train_worker.py` processes (see there for
the moments: 'step', 'save', 'commit'). The default suite kills the DAE in
the middle of a checkpoint write; the matrix over the four tasks is slow.
"""

import errno
import json
import logging
import os
import pathlib
import shutil
import signal
import subprocess

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
import test_tasks_dae
import test_tasks_image_net
import test_tasks_smplr
import train_worker
from helpers import write_pairs, write_untrained_smplr_and_dae

from experiments.end_to_end.configs import cpu as e2e_config
from smplr_jax.nets import weights_io
from smplr_jax.training import checkpoints, parallel, tasks, train
from smplr_jax.training.tasks import image_net as image_net_task

REPO = pathlib.Path(__file__).resolve().parents[1]
# Every run: checkpoints at steps 2, 4, 6, a log row per step.
SCHEDULE = {'num_steps': 6, 'log_every': 1, 'eval_every': 2,
            'keep_checkpoints': 3, 'progress_bar': False, 'num_devices': 1}


@pytest.fixture(scope='module', autouse=True)
def compilation_cache(tmp_path_factory):
  """A persistent compilation cache for this module's runs, in this process
  and in the workers: they compile the same programs again and again."""
  path = tmp_path_factory.mktemp('compilation_cache')
  options = {'jax_compilation_cache_dir': str(path),
             'jax_persistent_cache_min_compile_time_secs': 0}
  saved = {name: getattr(jax.config, name) for name in options}
  for name, value in options.items():
    jax.config.update(name, value)
  yield {name.upper(): str(value) for name, value in options.items()}
  for name, value in saved.items():
    jax.config.update(name, value)


def _dae_paired_config(tmp_path):
  config = test_tasks_dae._tiny_config(  # pylint: disable=protected-access
      data='paired', eval_batch_size=8, **SCHEDULE)
  config.paired.path = str(tmp_path / 'pairs.npz')
  write_pairs(config.paired.path, n=80)
  return config


def _log(workdir):
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  return [json.loads(line) for line in lines]


def _kill(tmp_path, config, workdir, moment, step, cache):
  """Runs `config` in a worker (2 CPUs, as this process; `cache`: the
  compilation cache's variables) that SIGKILLs itself at `moment` of
  `step`."""
  command = train_worker.write_spec(tmp_path / 'killed.json', config,
                                    workdir, devices=2, kill=(moment, step))
  out = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO), **cache),
                       check=False)
  assert out.returncode == -signal.SIGKILL, out.stderr[-3000:]


def _assert_resumed_exactly(straight, resumed):
  """The same rows (one per step: rows logged before the kill are replaced)
  with the same losses, and the same final parameters."""
  a, b = _log(straight), _log(resumed)
  assert [r['step'] for r in b] == [r['step'] for r in a] == list(range(1, 7))
  for x, y in zip(a, b):
    assert y['loss'] == pytest.approx(x['loss'], rel=1e-6), (x, y)
  _, params_a, _ = weights_io.load_trained_variables(straight, 6)
  _, params_b, _ = weights_io.load_trained_variables(resumed, 6)
  jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, atol=1e-6),
               params_a, params_b)


@pytest.fixture(scope='module')
def dae_run(tmp_path_factory):
  """An uninterrupted tiny run of the paired DAE, checkpoints 2, 4, 6."""
  tmp_path = tmp_path_factory.mktemp('dae_faults')
  config = _dae_paired_config(tmp_path)
  train.train_and_evaluate(config, tmp_path / 'straight',
                           tasks.make_task(config))
  return config, tmp_path / 'straight'


@pytest.mark.slow  # a training run (the dae_run fixture: ~40 s with the others)
def test_dae_killed_while_writing_a_checkpoint_resumes_exactly(
    tmp_path, dae_run, compilation_cache):
  config, straight = dae_run
  workdir = tmp_path / 'killed'
  _kill(tmp_path, config, workdir, 'save', 4, compilation_cache)
  # Step 4's files were written into orbax's temporary folder, never
  # committed: the last complete checkpoint is step 2.
  assert [r['step'] for r in _log(workdir)] == [1, 2, 3, 4]
  assert list((workdir / 'checkpoints').glob('4.orbax-checkpoint-tmp*'))
  manager = weights_io.checkpoint_manager(workdir, create=False)
  assert manager.all_steps() == [2]
  train.train_and_evaluate(config, workdir, tasks.make_task(config))
  _assert_resumed_exactly(straight, workdir)
  assert not list((workdir / 'checkpoints').glob('*tmp*'))  # cleaned up


def _template(config):
  """A fresh train state of `config`'s task: what a run restores into."""
  task = tasks.make_task(config)
  tx = train.make_optimizer(config)
  state = train.create_train_state(
      task.init_variables(train.run_keys(config.seed)[0]), tx)
  return jax.device_put(state, parallel.replicated(parallel.make_mesh(1)))


def _biggest_file(step_dir):
  return max((p for p in (step_dir / 'default').rglob('*') if p.is_file()),
             key=lambda p: p.stat().st_size)


def _truncate(step_dir):
  path = _biggest_file(step_dir)
  os.truncate(path, path.stat().st_size // 2)


def _change_values(step_dir):
  """Silent corruption: every array still reads back, with other values
  (what flipped bits in the arrays' bytes do; flipping raw bytes of a file
  may land in padding or an index and not reach the arrays at all). Orbax
  cannot tell; the stored fingerprint must."""
  path = step_dir / 'default'
  tree = ocp.StandardCheckpointer().restore(path)
  changed = jax.tree.map(
      lambda x: x + 1 if np.issubdtype(np.asarray(x).dtype, np.floating)
      else x, tree)
  shutil.rmtree(path)
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(path, changed)
  checkpointer.wait_until_finished()


def _garble_metadata(step_dir):
  (step_dir / 'default' / '_METADATA').write_text('{"tree_metadata": ')


def _garble_metrics(step_dir):
  (step_dir / 'metrics' / 'metrics').write_text('{"val_loss": 0.')


@pytest.mark.slow
@pytest.mark.parametrize('corrupt, problem', [
    (_truncate, 'OUT_OF_RANGE'), (_change_values, 'fingerprint'),
    (_garble_metadata, 'JSONDecodeError'), (_garble_metrics, 'metrics')])
def test_corrupted_latest_checkpoint_is_reported_and_skipped(
    tmp_path, dae_run, caplog, corrupt, problem):
  config, straight = dae_run
  workdir = tmp_path / 'run'
  shutil.copytree(straight, workdir)
  corrupt(workdir / 'checkpoints' / '6')
  with caplog.at_level(logging.WARNING):
    manager, state = checkpoints.open_for_training(workdir, 3,
                                                   _template(config))
  assert int(state.step) == 4  # the previous good one
  message = caplog.text
  assert 'Checkpoint step 6' in message and problem in message, message
  assert (workdir / checkpoints.UNUSABLE_DIR / '6').is_dir()
  assert manager.all_steps() == [2, 4]
  # ... and it is step 4 indeed.
  _, saved, _ = weights_io.load_trained_variables(straight, 4)
  jax.tree.map(np.testing.assert_array_equal, saved['params'],
               jax.device_get(state.params))


@pytest.mark.slow
def test_a_changed_config_is_not_taken_for_corruption(tmp_path, dae_run):
  config, straight = dae_run
  changed = config.copy_and_resolve_references()
  changed.dae.encoder = (16, 12, 6)
  with pytest.raises(ValueError, match='checkpoint step 6 in .* holds a '
                     'state of other shapes than this run builds'):
    checkpoints.open_for_training(straight, 3, _template(changed))
  assert weights_io.checkpoint_manager(
      straight, create=False).all_steps() == [2, 4, 6]  # nothing moved


@pytest.mark.slow
def test_full_disk_while_writing_a_checkpoint(tmp_path, dae_run,
                                              monkeypatch):
  config, straight = dae_run
  workdir = tmp_path / 'run'
  shutil.copytree(straight, workdir)
  shutil.rmtree(workdir / 'checkpoints' / '6')  # resume at 4, save 6 again
  save = ocp.CompositeCheckpointHandler.save

  def save_until_the_disk_is_full(self, directory, *args, **kwargs):
    save(self, directory, *args, **kwargs)  # the files are half there
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory))

  monkeypatch.setattr(ocp.CompositeCheckpointHandler, 'save',
                      save_until_the_disk_is_full)
  with pytest.raises(checkpoints.CheckpointWriteError,
                     match=r'writing checkpoint step 6 to .* failed: no space '
                     r'left on device\. Its partial files were removed; step 4 '
                     r'is the latest intact one\.'):
    train.train_and_evaluate(config, workdir, tasks.make_task(config))
  monkeypatch.undo()
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == [
      '2', '4']  # no partial step 6 left behind
  _, state = checkpoints.open_for_training(workdir, 3, _template(config))
  assert int(state.step) == 4


# ----------------------------------------------------------------------------
# The matrix: the four tasks, killed at each moment (slow).


def _smplr(tmp_path):
  del tmp_path
  return test_tasks_smplr._tiny_config(  # pylint: disable=protected-access
      test_set_size=32, validation_size=32, **SCHEDULE)


def _dae(tmp_path):
  del tmp_path
  return test_tasks_dae._tiny_config(  # pylint: disable=protected-access
      **SCHEDULE)


def _hourglass(tmp_path):
  # pylint: disable-next=protected-access
  config = test_tasks_image_net._tiny_config(tmp_path, **SCHEDULE)
  image_net_task.load_sources(config)  # builds the tiny set
  return config


def _end_to_end(tmp_path):
  """The tiny end-to-end run of test_tasks_end_to_end: a fresh image
  network, untrained SMPLR and DAE workdirs."""
  write_untrained_smplr_and_dae(tmp_path)
  config = e2e_config.get_config()
  config.update({'input_size': 64, 'batch_size': 8, 'eval_batch_size': 8,
                 'learning_rate': 2e-3, 'final_learning_rate': 2e-3,
                 **SCHEDULE})
  config.model.num_features = 32
  config.model.hourglass_depth = 2
  config.data.builder_config = 'n32_v8_t8_s0'
  config.data.data_dir = str(tmp_path / 'tfds')
  config.init_from.image_net = ''
  config.init_from.smplr = str(tmp_path / 'smplr')
  config.init_from.dae = str(tmp_path / 'dae')
  image_net_task.load_sources(config)
  return config


@pytest.mark.slow
@pytest.mark.parametrize('make_config', [_smplr, _dae, _hourglass,
                                         _end_to_end])
def test_killed_runs_resume_exactly(tmp_path, make_config,
                                    compilation_cache):
  """Killed before step 5 (between checkpoints), in the write of checkpoint
  4 (resumes from 2) and right after its commit (resumes from 4)."""
  config = make_config(tmp_path)
  straight = tmp_path / 'straight'
  train.train_and_evaluate(config, straight, tasks.make_task(config))
  for moment, step in (('step', 5), ('save', 4), ('commit', 4)):
    workdir = tmp_path / moment
    _kill(tmp_path, config, workdir, moment, step, compilation_cache)
    last = {'step': 4, 'save': 2, 'commit': 4}[moment]
    assert weights_io.checkpoint_manager(
        workdir, create=False).latest_step() == last
    train.train_and_evaluate(config, workdir, tasks.make_task(config))
    _assert_resumed_exactly(straight, workdir)
