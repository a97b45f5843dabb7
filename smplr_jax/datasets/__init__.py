"""TFDS datasets of images with camera-frame JL, built and read without TF.

Importing this package registers the builders `smplr_synthetic`, `surreal`,
`human36m` and `up3d` with TFDS, so that

    import smplr_jax.datasets
    import tensorflow_datasets as tfds
    source = tfds.data_source('smplr_synthetic/tiny', split='train',
                              data_dir=DATA)

returns records of the contract in `smplr_jax.records`. Build with
`python -m smplr_jax.datasets.build NAME --data_dir=DATA [--config=...]
[--manual_dir=...]` (or `build_dataset` from Python); each module's
docstring gives its manual-directory layout. `PairedJLDataset` holds
(predicted, true) JL pairs of a trained network for the DAE.
"""

import os

import tensorflow_datasets as tfds

from smplr_jax.datasets.common import MissingFilesError
from smplr_jax.datasets.human36m import Human36m
from smplr_jax.datasets.paired import PairedJLDataset
from smplr_jax.datasets.smplr_synthetic import SmplrSynthetic
from smplr_jax.datasets.surreal import Surreal
from smplr_jax.datasets.up3d import Up3d

BUILDERS = {
    'smplr_synthetic': SmplrSynthetic,
    'surreal': Surreal,
    'human36m': Human36m,
    'up3d': Up3d,
}


def build_dataset(name: str, data_dir: str | os.PathLike[str],
                  config: str | tfds.core.BuilderConfig | None = None,
                  manual_dir: str | os.PathLike[str] | None = None,
                  body_model_dir: str | os.PathLike[str] | None = None
                  ) -> tfds.core.DatasetBuilder:
  """Builds (downloads nothing, prepares) a dataset and returns its builder.

  Args:
    name: a key of `smplr_jax.BUILDERS`.
    data_dir: TFDS data directory.
    config: config name or `BuilderConfig`; None = the builder's default.
    manual_dir: the official release's folder, for the real datasets.
    body_model_dir: SMPL model folder for JL (None = the default model).

  Returns:
    The prepared builder (`builder.as_data_source()` reads it).
  """
  if name not in BUILDERS:
    raise ValueError(f'unknown dataset {name!r}; choose one of '
                     f'{sorted(BUILDERS)}.')
  builder = BUILDERS[name](
      data_dir=os.path.expanduser(os.fspath(data_dir)), config=config,
      body_model_dir=body_model_dir)
  download_config = tfds.download.DownloadConfig(
      manual_dir=None if manual_dir is None else os.path.expanduser(
          os.fspath(manual_dir)))
  builder.download_and_prepare(download_config=download_config)
  return builder


__all__ = [
    'BUILDERS',
    'build_dataset',
    'Human36m',
    'MissingFilesError',
    'PairedJLDataset',
    'SmplrSynthetic',
    'Surreal',
    'Up3d',
]
