"""Shared test helpers: small fabricated files and workdirs (no training)."""

import json
import pathlib

import jax
import ml_collections
import numpy as np

from smplr_jax import checkpoints


def write_pairs(path, n=40, **overrides):
  """Writes an .npz of `n` (pred_jl, gt_jl) pairs [n, 42, 3], not root-relative;
  `overrides` replace arrays. Returns the arrays written."""
  rng = np.random.default_rng(0)
  gt = rng.normal(0.0, 0.3, (n, 42, 3)).astype(np.float32) + 1.0
  arrays = dict(pred_jl=gt + rng.normal(0.0, 0.03, gt.shape), gt_jl=gt)
  arrays.update(overrides)
  np.savez(path, **arrays)
  return arrays


def write_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict,
                  variables: dict, step: int = 1,
                  val_loss: float = 1.0) -> pathlib.Path:
  """A training workdir as `train.train_and_evaluate` leaves it (config.json
  and one orbax checkpoint of {'params', 'batch_stats', 'step'}), made
  without training."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / 'config.json').write_text(
      json.dumps(json.loads(config.to_json_best_effort())))
  state = {'params': variables['params'],
           'batch_stats': variables.get('batch_stats', {}),
           'step': jax.numpy.asarray(step, jax.numpy.int32)}
  manager = checkpoints.checkpoint_manager(workdir)
  manager.save(step, args=checkpoints.ocp.args.StandardSave(state),
               metrics={'val_loss': val_loss})
  manager.wait_until_finished()
  manager.close()
  return workdir
