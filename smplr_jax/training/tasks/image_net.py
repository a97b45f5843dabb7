"""The hourglass task: the volumetric stacked hourglass on images (Sec. 3.3).

`ImageNetTask` (a `train.Task`) plugs the image network of the config
(`image_net.from_config`: `hourglass.StackedHourglass` or `unet.VolumetricUNet`),
`heatmaps.image_net_loss` and the image pipeline (`input_pipeline`,
`augment`) into `train.train_and_evaluate`: batches are read from a TFDS dataset of
`smplr_jax.data.datasets` (built on first use when `config.data.build`), cropped
and augmented on the host and fed to the data-parallel step.

Evaluation reads the soft-argmax of the last stack, maps it from the cube
frame back to the camera (`crop.cube_to_root_relative`, with the true root
position, as root-relative protocols do) and reports the Table 1 errors in
mm; `evaluate_with_predictions` also returns the predictions (pred_jl, gt_jl
[N, 42, 3], root-relative metres), which `train.train_and_evaluate` writes to
`predictions.npz` for `datasets.PairedJLDataset`, so the DAE can learn this
network's errors.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from smplr_jax import crop
from smplr_jax.data import datasets, input_pipeline
from smplr_jax.data.datasets import smplr_synthetic
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import heatmaps, image_net, weights_io
from smplr_jax.training.parallel import DATA_AXIS, process_share

PyTree = Any
# What the loss and the evaluation read from a pipeline batch.
_BATCH_KEYS = ('image', 'jl_cube', 'jl_valid')


def data_dir_of(config: ml_collections.ConfigDict) -> str:
  """config.data.data_dir, else $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
  path = config.data.get('data_dir') or os.environ.get(
      'TFDS_DATA_DIR', '~/tensorflow_datasets')
  return os.path.expanduser(path)


def _builder_config(name: str, builder_config: str):
  """A registered config name, or a custom smplr_synthetic n*_v*_t*_s* one."""
  match = re.fullmatch(r'n(\d+)_v(\d+)_t(\d+)_s(\d+)', builder_config or '')
  if name == 'smplr_synthetic' and match:
    return smplr_synthetic.custom_config(*map(int, match.groups()))
  return builder_config or None


def load_sources(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """split -> random-access source of records for `config.data`.

  Builds the dataset first when `config.data.build` (a no-op once built).

  Raises:
    ValueError: the dataset is not built and `config.data.build` is off.
  """
  data = config.data
  if data.name not in datasets.BUILDERS:
    raise ValueError(f'unknown dataset {data.name!r}; choose one of '
                     f'{sorted(datasets.BUILDERS)}.')
  data_dir = data_dir_of(config)
  builder_config = _builder_config(data.name, data.builder_config)
  if data.build:
    builder = datasets.build_dataset(data.name, data_dir, builder_config,
                              manual_dir=data.get('manual_dir') or None,
                              body_model_dir=config.get('body_model_path'))
  else:
    builder = datasets.BUILDERS[data.name](data_dir=data_dir,
                                           config=builder_config)
    if not pathlib.Path(builder.data_dir).is_dir():
      raise ValueError(
          f'dataset {data.name}/{data.builder_config} is not built in '
          f'{data_dir}; run `python -m smplr_jax.data.datasets.build {data.name} '
          f'--data_dir={data_dir} ...` or set config.data.build=True.')
  splits = dict(train=data.train_split, validation=data.validation_split,
                test=data.test_split)
  return {role: builder.as_data_source(split=split)
          for role, split in splits.items()}


class ImageNetTask:
  """`train.Task` of the image network (stacked hourglass or U-Net) on an
  image dataset."""

  # What the loss and the evaluation read from a pipeline batch.
  batch_keys = _BATCH_KEYS

  def __init__(self, config: ml_collections.ConfigDict,
               sources: dict[str, Any] | None = None):
    """Args: config (experiments/image_net/configs); sources: split ->
    random-access record source (default: `load_sources(config)`)."""
    self.config = config
    self.net = image_net.from_config(config, axis_name=DATA_AXIS)
    self.eval_net = image_net.from_config(config)
    self.augment = config.augment
    if self.augment.crop_size != config.input_size:
      raise ValueError(f'config.augment.crop_size ({self.augment.crop_size}) '
                       f'must equal config.input_size ({config.input_size}).')
    self.sources = sources if sources is not None else load_sources(config)
    for role in ('train', 'validation', 'test'):
      if len(self.sources[role]) == 0:  # pylint: disable=g-explicit-length-test
        raise ValueError(f'the {role} split of {config.data.name} is empty.')

  def fresh_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    """The image network's random init."""
    return image_net.init_variables(self.eval_net, rng,
                                    self.config.input_size)

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    """A fresh init, or the trained variables `config.init_from` names (an
    exported folder or a workdir, checked against the fresh init)."""
    variables = self.fresh_variables(rng)
    if self.config.get('init_from'):
      variables = weights_io.load_variables_like(self.config.init_from,
                                                  variables)
    return variables

  def train_batches(self, start_step: int,
                    batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """This process' share of the global training batches of steps
    start_step, ... (`parallel.process_share`)."""
    process_index, process_count = process_share()
    batches = input_pipeline.make_iterator(
        self.sources['train'], self.augment, batch_size, self.config.seed,
        train=True, start_step=start_step,
        num_threads=self.config.data.num_threads,
        process_index=process_index, process_count=process_count,
        skip_corrupt=self.config.data.get('skip_corrupt_records', False))
    for batch in batches:
      yield {k: batch[k] for k in self.batch_keys}

  def loss(self, params, batch_stats, batch, rng, train):
    _, loss, metrics, batch_stats = self.outputs_and_loss(
        {'params': params, 'batch_stats': batch_stats}, batch, rng, train)
    return loss, (metrics, batch_stats)

  def outputs_and_loss(self, variables, batch, rng, train):
    """The network on a batch's images and the config's image-network loss.

    Returns:
      (per-stack logits, loss, metrics, batch_stats: the updated BatchNorm
      statistics when `train`, else those of `variables`).
    """
    if train:
      outputs, updates = self.net.apply(
          variables, batch['image'], train=True, mutable=['batch_stats'],
          rngs={'dropout': rng})
      batch_stats = updates['batch_stats']
    else:
      outputs = self.eval_net.apply(variables, batch['image'], train=False)
      batch_stats = variables['batch_stats']
    loss, metrics = heatmaps.image_net_loss(
        outputs, batch['jl_cube'], batch['jl_valid'],
        cube_size=self.config.cube_size,
        l1_weight=self.config.loss.l1_weight,
        point_loss=self.config.loss.get('point_loss', 'sigmoid_ce'),
        limb_weight=self.config.loss.get('limb_weight', 1.0))
    return outputs, loss, dict(metrics), batch_stats

  def _eval_batches(self, role: str, drop_remainder: bool):
    return input_pipeline.make_iterator(
        self.sources[role], self.augment, self.config.eval_batch_size,
        self.config.seed, train=False, shuffle=False, num_epochs=1,
        drop_remainder=drop_remainder, num_threads=self.config.data.num_threads)

  def validation_batches(self) -> list[PyTree]:
    if len(self.sources['validation']) < self.config.eval_batch_size:
      raise ValueError(
          f'the validation split has {len(self.sources["validation"])} '
          f'examples, fewer than config.eval_batch_size '
          f'({self.config.eval_batch_size}).')
    return [{k: b[k] for k in self.batch_keys}
            for b in self._eval_batches('validation', drop_remainder=True)]

  @functools.cached_property
  def _predict(self):
    @jax.jit
    def predict(variables, images):
      outputs = self.eval_net.apply(variables, images, train=False)
      return heatmaps.predict_jl(outputs[-1], self.config.cube_size)
    return predict

  def predict_cube(self, variables: dict[str, PyTree],
                   images: np.ndarray) -> jax.Array:
    """[B, S, S, 3] crops -> [B, 42, 3] JL in the cube frame (last stack)."""
    return self._predict(variables, images)

  def predict_camera_jl(self, variables: dict[str, PyTree],
                        role: str = 'test') -> dict[str, np.ndarray]:
    """Predictions on a split (plain crops): root-relative camera JL.

    Returns:
      dict of pred_jl, gt_jl [N, 42, 3] (root-relative, metres), jl_valid
      [N, 42], pred_cube, gt_cube [N, 42, 3] (cube frame).
    """
    out = {k: [] for k in ('pred_jl', 'gt_jl', 'jl_valid', 'pred_cube',
                           'gt_cube')}
    total = len(self.sources[role])
    for batch in tqdm.tqdm(self._eval_batches(role, drop_remainder=False),
                           desc=f'predict {role}', leave=False,
                           total=-(-total // self.config.eval_batch_size),
                           disable=not self.config.get('progress_bar', True)):
      keep = batch['valid'] > 0
      pred_cube = np.asarray(self.predict_cube(variables, batch['image']))
      root = batch['jl_cam'][:, 0]
      pred = np.asarray(crop.cube_to_root_relative(pred_cube, root))
      values = dict(pred_jl=pred, gt_jl=batch['jl_cam'] - root[:, None],
                    jl_valid=batch['jl_valid'], pred_cube=pred_cube,
                    gt_cube=batch['jl_cube'])
      for key, value in values.items():
        out[key].append(np.asarray(value, np.float32)[keep])
    return {k: np.concatenate(v) for k, v in out.items()}

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """Table 1 errors (mm) of the last stack's JL on the test split."""
    return self.evaluate_with_predictions(variables)[0]

  def evaluate_with_predictions(self, variables: dict[str, PyTree]
                                ) -> tuple[dict[str, float],
                                           dict[str, np.ndarray]]:
    """(Table 1 errors in mm, test predictions).

    Returns:
      metrics: Table 1 errors of the last stack on the test split (only the
        annotated points' error when annotations are partial), the cube-frame
        error and the number of test examples.
      predictions: pred_jl, gt_jl [N, 42, 3] (root-relative camera metres)
        and jl_valid [N, 42], the arrays of `datasets.PairedJLDataset`.
    """
    predictions = self.predict_camera_jl(variables, 'test')
    valid = predictions['jl_valid'][:, 1:] > 0
    if np.all(valid):
      per_sample = metrics_lib.jl_metrics(jnp.asarray(predictions['pred_jl']),
                                          jnp.asarray(predictions['gt_jl']))
      results = metrics_lib.finalize(metrics_lib.accumulate(None, per_sample))
    else:  # partial annotations (Human3.6M): annotated points only
      errors = np.linalg.norm(predictions['pred_jl'] - predictions['gt_jl'],
                              axis=-1)[:, 1:]
      results = {'annotated_point_error': float(errors[valid].mean() * 1e3)}
    cube_error = np.linalg.norm(predictions['pred_cube'] -
                                predictions['gt_cube'], axis=-1)[:, 1:]
    results['cube_error'] = float(cube_error[valid].mean() * 1000.0)
    results['num_test_examples'] = len(predictions['gt_jl'])
    return results, {k: predictions[k]
                      for k in ('pred_jl', 'gt_jl', 'jl_valid')}
