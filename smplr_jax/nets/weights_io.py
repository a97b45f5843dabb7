"""Trained weights on disk: a training run's workdir (its config.json and
orbax checkpoints) or an exported folder (config.json and a small
`variables.npz`, what `third_party/weights/` ships).

`load_variables(path)` reads either; `export_variables` writes the second
from the first; `load_variables_like` checks loaded weights against a
network's fresh init. Serving and training both read weights through here;
writing training state (resume, faults) is `smplr_jax.training.checkpoints`.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any
# Names from before the image-network role was called `image_net` (runs and
# exported folders saved then still load): task names and stage keys.
LEGACY_TASKS = {'hourglass': 'image_net'}
LEGACY_STAGE_KEYS = {'hourglass': 'image_net'}


def upgrade_config(config: ml_collections.ConfigDict
                   ) -> ml_collections.ConfigDict:
  """A saved config with today's names (a copy; `LEGACY_TASKS`, and the
  end-to-end task's `init_from.hourglass` and `e2e.hourglass_weight`)."""
  config = ml_collections.ConfigDict(config.to_dict())
  if config.get('task') in LEGACY_TASKS:
    config.task = LEGACY_TASKS[config.task]
  init_from = config.get('init_from')
  if isinstance(init_from, ml_collections.ConfigDict):
    for old, new in LEGACY_STAGE_KEYS.items():
      if old in init_from:
        init_from[new] = init_from[old]
        del init_from[old]
  e2e = config.get('e2e')
  if isinstance(e2e, ml_collections.ConfigDict) and 'hourglass_weight' in e2e:
    e2e.image_net_weight = e2e.hourglass_weight
    del e2e['hourglass_weight']
  return config


def upgrade_variables(variables: PyTree) -> PyTree:
  """{'params', 'batch_stats'} with a stage saved under an old key (an
  end-to-end run's 'hourglass') under today's (`LEGACY_STAGE_KEYS`)."""
  def rename(tree):
    if not isinstance(tree, dict):
      return tree
    return {LEGACY_STAGE_KEYS.get(k, k): v for k, v in tree.items()}
  return {k: rename(v) for k, v in variables.items()}

def checkpoint_manager(workdir: str | pathlib.Path, keep: int = 3,
                       create: bool = True) -> ocp.CheckpointManager:
  """Keeps the last `keep` checkpoints and the one of lowest 'val_loss'."""
  policies = ocp.checkpoint_managers
  options = ocp.CheckpointManagerOptions(
      create=create,
      preservation_policy=policies.AnyPreservationPolicy([
          policies.LatestN(n=keep),
          policies.BestN(get_metric_fn=lambda m: m['val_loss'], reverse=True,
                         n=1, keep_checkpoints_without_metrics=False),
      ]),
      # Without best_fn, `manager.best_step()` is the latest step.
      best_fn=lambda m: m['val_loss'], best_mode='min',
      # Leftovers of a write that was killed (`<step>.orbax-checkpoint-tmp-*`).
      cleanup_tmp_directories=create,
      enable_async_checkpointing=False)
  return ocp.CheckpointManager(
      pathlib.Path(workdir).resolve() / 'checkpoints', options=options)


def best_or_latest_step(manager: ocp.CheckpointManager) -> int | None:
  """Step of the best checkpoint (lowest val_loss), else the latest."""
  best = manager.best_step()
  return best if best is not None else manager.latest_step()


def load_config(workdir: str | pathlib.Path) -> ml_collections.ConfigDict:
  """The config a run saved in its workdir.

  Raises:
    ValueError: the folder holds no config.json.
  """
  path = pathlib.Path(workdir) / 'config.json'
  if not path.is_file():
    raise ValueError(f'{workdir}: no config.json; is this a training workdir '
                     '(made by train_and_evaluate)?')
  return upgrade_config(ml_collections.ConfigDict(json.loads(
      path.read_text())))


def load_trained_variables(workdir: str | pathlib.Path,
                           step: int | None = None):
  """(config, {'params', 'batch_stats'}, step) of a run's best checkpoint.

  Args:
    workdir: the run's workdir.
    step: a specific checkpoint step; default the best (else the latest).

  Raises:
    ValueError: no config.json, no checkpoint, or no checkpoint for `step`.
  """
  config = load_config(workdir)
  manager = checkpoint_manager(workdir, create=False)
  if step is None:
    step = best_or_latest_step(manager)
  if step is None:
    raise ValueError(f'{workdir}: no checkpoint found under '
                     f'{manager.directory}.')
  if step not in manager.all_steps():
    raise ValueError(f'{workdir}: no checkpoint for step {step} (have '
                     f'{sorted(manager.all_steps())}).')
  # Restore onto this process's first device whatever mesh wrote it (a run
  # trained on 2 devices is evaluated on 1): shapes and dtypes come from the
  # checkpoint's metadata, the sharding is ours.
  metadata = ocp.StandardCheckpointHandler().metadata(
      manager.directory / str(step) / 'default')
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  abstract = jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                        sharding=device), metadata)
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  manager.close()
  variables = upgrade_variables({'params': restored['params'],
                                 'batch_stats': restored['batch_stats']})
  return config, variables, step


# File of exported variables (`export_variables`) next to the run's
# config.json: the flattened pytree, '/'-joined keys.
EXPORTED_VARIABLES = 'variables.npz'
_EMPTY_KEY = '__empty_subtrees__'


def export_variables(workdir: str | pathlib.Path,
                     output_dir: str | pathlib.Path, dtype: str = 'float16',
                     step: int | None = None) -> int:
  """Writes a run's best (or `step`) variables as a small, portable folder.

  `output_dir` gets the run's config.json and `EXPORTED_VARIABLES` (floating
  arrays cast to `dtype`; float16 halves the size of float32), which
  `load_variables` reads back (as float32) without orbax.

  Returns:
    the exported checkpoint step.
  """
  config, variables, step = load_trained_variables(workdir, step)
  output_dir = pathlib.Path(output_dir)
  output_dir.mkdir(parents=True, exist_ok=True)
  flat = flax.traverse_util.flatten_dict(jax.device_get(variables), sep='/',
                                         keep_empty_nodes=True)
  # Empty sub-trees (a network without BatchNorm) are kept by name.
  empty = [k for k, v in flat.items()
           if v is flax.traverse_util.empty_node]
  arrays = {_EMPTY_KEY: np.asarray(empty, dtype=str)}
  for key, value in flat.items():
    if key in empty:
      continue
    value = np.asarray(value)
    arrays[key] = (value.astype(dtype) if np.issubdtype(value.dtype,
                                                        np.floating)
                   else value)
  np.savez_compressed(output_dir / EXPORTED_VARIABLES, **arrays)
  (output_dir / 'config.json').write_text(
      config.to_json_best_effort(indent=2, sort_keys=True))
  return step


def load_variables(path: str | pathlib.Path):
  """(config, {'params', 'batch_stats'}) of an exported folder
  (`export_variables`) or of a training workdir (its best checkpoint).

  Raises:
    ValueError: the path does not exist, or holds neither.
  """
  path = pathlib.Path(path)
  if not path.exists():
    raise ValueError(f'{path} does not exist.')
  exported = path / EXPORTED_VARIABLES
  if not exported.is_file():
    config, variables, _ = load_trained_variables(path)
    return config, variables
  config = load_config(path)
  with np.load(exported) as data:
    flat = {k: (data[k].astype(np.float32)
                if np.issubdtype(data[k].dtype, np.floating) else data[k])
            for k in data.files if k != _EMPTY_KEY}
    for key in data[_EMPTY_KEY] if _EMPTY_KEY in data.files else ():
      flat[str(key)] = flax.traverse_util.empty_node
  variables = flax.traverse_util.unflatten_dict(flat, sep='/')
  variables.setdefault('batch_stats', {})
  return config, jax.tree.map(jnp.asarray, upgrade_variables(variables))


def load_variables_like(path: str | pathlib.Path, reference: PyTree) -> PyTree:
  """`load_variables(path)`'s variables, checked against `reference` (a fresh
  init of the network that will use them) leaf by leaf, in its dtypes.

  What a run that starts from trained weights (`config.init_from`) uses.

  Raises:
    ValueError: the path holds no variables, or they belong to another
      network: a missing or extra entry, or another shape (the first
      differences are named).
  """
  _, variables = load_variables(path)
  empty = flax.traverse_util.empty_node

  def leaves(tree):  # '/'-joined key -> array; empty sub-trees kept aside
    flat = flax.traverse_util.flatten_dict(tree, sep='/',
                                           keep_empty_nodes=True)
    return ({k: v for k, v in flat.items() if v is not empty},
            [k for k, v in flat.items() if v is empty])

  flat, _ = leaves(variables)
  wanted, wanted_empty = leaves(reference)
  problems = [f'{k}: missing' for k in wanted if k not in flat]
  problems += [f'{k}: not in the network' for k in flat if k not in wanted]
  problems += [f'{k}: shape {tuple(flat[k].shape)}, the network has '
               f'{tuple(wanted[k].shape)}' for k in wanted
               if k in flat and tuple(flat[k].shape) != tuple(wanted[k].shape)]
  if problems:
    raise ValueError(f'{path} does not fit this network ({len(problems)} '
                     'differences): ' + '; '.join(problems[:5]))
  restored = {k: jnp.asarray(flat[k], wanted[k].dtype) for k in wanted}
  restored.update({k: empty for k in wanted_empty})
  return flax.traverse_util.unflatten_dict(restored, sep='/')
