"""Shared test helpers: small fabricated files and workdirs (no training)."""

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from experiments.dae.configs import structured as dae_config
from experiments.smplr.configs import smplr as smplr_config
from experiments.tools import draw_augmentations
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment
from smplr_jax.nets import dae, smplr, weights_io
from smplr_jax.training import checkpoints


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
  checkpoints.save_config(config, workdir)
  state = {'params': variables['params'],
           'batch_stats': variables.get('batch_stats', {}),
           'step': jax.numpy.asarray(step, jax.numpy.int32)}
  manager = weights_io.checkpoint_manager(workdir)
  manager.save(step, args=ocp.args.StandardSave(state),
               metrics={'val_loss': val_loss})
  manager.wait_until_finished()
  manager.close()
  return workdir


AUGMENTATIONS = ('scale', 'rotation', 'flip', 'colour', 'background',
                 'occluders', 'garments', 'shadow', 'blur')


def augment_config_with(crop_size=64, on=(), probability=1.0):
  """An augmentation config with only the augmentations in `on`, each with
  the given probability."""
  config = augment.augment_config()
  config.crop_size = crop_size
  for name in AUGMENTATIONS:
    config[name].enabled = name in on
    if 'probability' in config[name]:
      config[name].probability = probability
  return config


def random_body(seed=0, root=(0.1, -0.05, 4.0)):
  """[42, 3] a plausible body (camera frame) from a seeded random walk."""
  rng = np.random.default_rng(seed)
  offsets = rng.normal(0.0, 0.12, (42, 3)) * np.array([1.0, 1.0, 0.5])
  points = np.zeros((42, 3))
  for i, parent in enumerate(jl_lib.JL_PARENTS):
    if parent >= 0:
      points[i] = points[parent] + offsets[i]
  return points + np.asarray(root)


def stick_records(num, image_size=96, seed=0):
  """`num` records of stick figures of `random_body`s (the record contract)."""
  return [draw_augmentations.stick_figure_record(
      random_body(seed + i), image_size=image_size, focal=image_size * 1.2,
      seed=seed + i) for i in range(num)]


def garble_image_of_record(path, index):
  """Rewrites the ArrayRecord file `path` with the first image (PNG or JPEG)
  of record `index` garbled in place: the record still parses, its image
  does not decode."""
  # pylint: disable-next=g-import-not-at-top
  from array_record.python import array_record_module
  reader = array_record_module.ArrayRecordReader(str(path))
  options = reader.writer_options_string()
  records = list(reader.read_all())
  reader.close()
  data = bytearray(records[index])
  starts = [data.find(magic) for magic in (b'\x89PNG', b'\xff\xd8\xff')]
  start = min(s for s in starts if s >= 0)
  data[start:start + 64] = bytes(64)
  records[index] = bytes(data)
  writer = array_record_module.ArrayRecordWriter(str(path), options)
  for record in records:
    writer.write(record)
  writer.close()


def write_untrained_smplr_and_dae(folder: pathlib.Path) -> None:
  """Workdirs `folder/smplr` (6D SMPLR) and `folder/dae` (a small DAE) of
  untrained networks, the stages an end-to-end run starts from."""
  smplr_cfg = smplr_config.get_config()
  smplr_cfg.smplr.rotation = '6d'
  write_workdir(folder / 'smplr', smplr_cfg,
                smplr.from_config(smplr_cfg.smplr).init_variables(jax.random.PRNGKey(1)))
  dae_cfg = dae_config.get_config()
  dae_cfg.dae.encoder, dae_cfg.dae.decoder = (16, 12, 8), (12, 16)
  write_workdir(folder / 'dae', dae_cfg, dae.make_dae(dae_cfg.dae).init(
      {'params': jax.random.PRNGKey(2)}, jnp.zeros((1, 42, 3)), train=False))
