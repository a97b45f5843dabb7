"""Checkpoints of training runs: saving and resuming the train state.

A run's workdir holds `config.json` (the config it was trained with) and
`checkpoints/<step>/` written by an orbax `CheckpointManager` that keeps the
last N steps and the one of lowest validation loss
(`weights_io.checkpoint_manager`). Reading a trained run's weights for
evaluation and inference is `smplr_jax.nets.weights_io`.

Faults. Orbax writes a checkpoint into `<step>.orbax-checkpoint-tmp-*` and
renames it when complete, so a run killed mid-write leaves no `<step>/`
(the leftover is removed when the run restarts). `save_state` stores with
each checkpoint a fingerprint of the state (`state_fingerprint`);
`open_for_training` restores the newest checkpoint that reads back whole and
matches its fingerprint, moving any newer unusable one (truncated files,
flipped bytes, unreadable metadata) to `checkpoints_unusable/` with a
warning that names the step and the problem. A failed write (a full disk)
raises `CheckpointWriteError`, its partial files removed and the previous
checkpoints untouched. With several processes every process calls these
functions (orbax writes collectively; process 0 writes the metadata).
"""

from __future__ import annotations

import errno
import hashlib
import json
import pathlib
import shutil
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils

from smplr_jax.nets.weights_io import checkpoint_manager

PyTree = Any
# Where `open_for_training` moves checkpoints it cannot use (in the workdir).
UNUSABLE_DIR = 'checkpoints_unusable'
# The metric `save_state` stores next to 'val_loss'.
_FINGERPRINT = 'state_fingerprint'


class CheckpointWriteError(RuntimeError):
  """Writing a checkpoint failed; the previous checkpoints are intact."""


def restore_state(manager: ocp.CheckpointManager, step: int,
                  template: PyTree) -> PyTree:
  """Restores checkpoint `step` with the shapes, dtypes and shardings of
  `template` (e.g. a freshly initialised, replicated train state)."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
  return manager.restore(step, args=ocp.args.StandardRestore(abstract))


def state_fingerprint(state: PyTree) -> str:
  """A hash of the bytes, dtypes and shapes of every leaf of `state` (fully
  replicated or host arrays), in tree order."""
  digest = hashlib.blake2b(digest_size=16)
  for leaf in jax.tree.leaves(jax.device_get(state)):
    leaf = np.ascontiguousarray(leaf)
    digest.update(f'{leaf.dtype}{leaf.shape}'.encode())
    digest.update(leaf.tobytes())
  return digest.hexdigest()


def _chain(error: BaseException | None):
  """An exception and those it was raised from or while handling, as
  Python's traceback shows them."""
  while error is not None:
    yield error
    error = error.__cause__ or (None if error.__suppress_context__
                                else error.__context__)


def _root_cause(error: BaseException) -> str:
  """'Type: first line' of the innermost exception of a chain (orbax wraps
  the tensorstore error that says what is wrong)."""
  *_, error = _chain(error)
  line = (str(error).strip().splitlines() or [''])[0]
  return f'{type(error).__name__}: {line[:300]}'


def _is_disk_full(error: BaseException) -> bool:
  return any((isinstance(e, OSError) and e.errno == errno.ENOSPC) or
             'No space left on device' in str(e) for e in _chain(error))


def _sync(name: str) -> None:
  """Barrier of all processes (none with one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def save_state(manager: ocp.CheckpointManager, step: int, state: PyTree,
               val_loss: float) -> None:
  """Saves checkpoint `step` of `state` with its validation loss and
  fingerprint (all processes call it).

  Raises:
    CheckpointWriteError: the write failed (a full disk: says so); its
      partial files are removed, earlier checkpoints are untouched.
  """
  metrics = {'val_loss': val_loss, _FINGERPRINT: state_fingerprint(state)}
  try:
    manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)
    manager.wait_until_finished()
  except Exception as error:  # orbax wraps what went wrong
    if jax.process_index() == 0:
      for partial in manager.directory.glob(f'{step}.orbax-checkpoint-tmp*'):
        shutil.rmtree(partial, ignore_errors=True)
    previous = sorted(s for s in manager.all_steps() if s != step)
    kept = (f'step {previous[-1]} is the latest intact one' if previous
            else 'there is no earlier checkpoint')
    cause = ('no space left on device' if _is_disk_full(error)
             else _root_cause(error))
    raise CheckpointWriteError(
        f'writing checkpoint step {step} to {manager.directory} failed: '
        f'{cause}. Its partial files were removed; {kept}. Fix the cause '
        '(free disk space) and rerun the same command to resume.'
    ) from error


def _set_aside(directory: pathlib.Path, step: int) -> pathlib.Path:
  """Moves `directory/<step>` to the workdir's UNUSABLE_DIR (on process 0;
  callers then wait for it); returns where it goes."""
  target_dir = directory.parent / UNUSABLE_DIR
  target = target_dir / str(step)
  suffix = 1
  while target.exists():  # the same step set aside before
    target, suffix = target_dir / f'{step}.{suffix}', suffix + 1
  if jax.process_index() == 0:
    target_dir.mkdir(exist_ok=True)
    shutil.move(str(directory / str(step)), target)
  return target


def _step_metrics_problem(step_dir: pathlib.Path) -> str | None:
  """Why a step's metrics file is unreadable (orbax reads it on opening)."""
  path = step_dir / 'metrics' / 'metrics'
  if not path.exists():
    return None
  try:
    json.loads(path.read_text())
  except (ValueError, OSError, UnicodeDecodeError) as error:
    return f'unreadable metrics ({_root_cause(error)})'
  return None


def _leaf_shapes(tree: PyTree) -> list[tuple[tuple[int, ...], str]]:
  """Sorted (shape, dtype) of the leaves of arrays or orbax metadata (whose
  trees order the same leaves differently)."""
  return sorted((tuple(x.shape), np.dtype(x.dtype).str)
                for x in jax.tree.leaves(tree))


def _check_same_state(manager: ocp.CheckpointManager, step: int,
                      template: PyTree) -> None:
  """Raises ValueError when checkpoint `step` holds arrays of other shapes
  than `template` (the config changed); a checkpoint whose metadata cannot
  be read is left to the restore to report."""
  try:
    metadata = ocp.StandardCheckpointHandler().metadata(
        pathlib.Path(manager.directory) / str(step) / 'default')
    found = _leaf_shapes(metadata)
  except Exception:  # noqa: BLE001  (unreadable: the restore says why)
    return
  expected = _leaf_shapes(template)
  if found != expected:
    differ = sorted(set(found) ^ set(expected))[:4]
    raise ValueError(
        f'checkpoint step {step} in {manager.directory} holds a state of '
        f'other shapes than this run builds (e.g. {differ}): the config '
        'changed. Resume with the config the run was trained with (its '
        'config.json), or train in a new --workdir.')


def open_for_training(workdir: str | pathlib.Path, keep: int,
                      template: PyTree) -> tuple[ocp.CheckpointManager,
                                                 PyTree | None]:
  """The run's checkpoint manager and its newest usable state, if any.

  Tries the checkpoints from the newest: one that fails to restore, or whose
  restored state does not match the fingerprint saved with it, is reported
  (a warning naming its step and the problem), moved to
  `workdir/UNUSABLE_DIR/` and skipped for the previous one.

  Args:
    workdir: the run's folder.
    keep: last checkpoints kept (`checkpoint_manager`).
    template: a state of the right structure, shapes, dtypes and shardings.

  Returns:
    (manager, the restored state or None when no checkpoint is usable).

  Raises:
    ValueError: the newest checkpoint holds a state of other shapes than
      `template` (a changed config); nothing is moved.
  """
  directory = pathlib.Path(workdir).resolve() / 'checkpoints'
  # Orbax reads every step's metrics on opening; an unreadable one would
  # stop it there.
  candidates = ([p for p in directory.iterdir() if p.name.isdigit()]
                if directory.is_dir() else [])
  unreadable = {int(p.name): problem for p in candidates
                if (problem := _step_metrics_problem(p))}
  manager = checkpoint_manager(workdir, keep) if not unreadable else None
  if unreadable:
    _sync('checkpoints:scan')  # every process has looked before any move
    for step, problem in sorted(unreadable.items()):
      target = _set_aside(directory, step)
      logging.warning('Checkpoint step %d in %s is unusable (%s); moved to '
                      '%s, resuming from an earlier one.', step, directory,
                      problem, target)
    _sync('checkpoints:set_aside')
    manager = checkpoint_manager(workdir, keep)
  set_aside = sorted(unreadable)
  for step in sorted(manager.all_steps(), reverse=True):
    _check_same_state(manager, step, template)
    problem = None
    try:
      state = restore_state(manager, step, template)
    except Exception as error:  # noqa: BLE001  (orbax raises anything)
      problem = _root_cause(error)
    else:
      saved = (manager.metrics(step) or {}).get(_FINGERPRINT)
      if saved is not None and saved != state_fingerprint(state):
        problem = ('its arrays do not match the fingerprint saved with them '
                   '(corrupted bytes)')
    if problem is None:
      return manager, state
    _sync(f'checkpoints:restore_{step}')
    target = _set_aside(pathlib.Path(manager.directory), step)
    logging.warning('Checkpoint step %d in %s is unusable (%s); moved to %s, '
                    'resuming from an earlier one.', step, manager.directory,
                    problem, target)
    _sync(f'checkpoints:set_aside_{step}')
    manager.reload()
    set_aside.append(step)
  if set_aside:
    logging.warning('No usable checkpoint left in %s (set aside: steps %s); '
                    'the run starts from step 0.', manager.directory,
                    set_aside)
  return manager, None


def save_config(config: ml_collections.ConfigDict,
                workdir: pathlib.Path) -> None:
  """Writes `workdir/config.json`; warns when a resumed run's config changed."""
  path = workdir / 'config.json'
  text = config.to_json_best_effort(indent=2, sort_keys=True)
  if path.exists() and json.loads(path.read_text()) != json.loads(text):
    logging.warning('%s differs from the config of this run; the run resumes '
                    'from its checkpoint with the new config.', path)
  path.write_text(text)




