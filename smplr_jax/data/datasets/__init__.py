"""TFDS datasets of images with camera-frame JL, built and read without TF.

Importing this package registers the builders `smplr_synthetic`, `surreal`,
`human36m` and `up3d` with TFDS, so that

    import smplr_jax.data.datasets
    import tensorflow_datasets as tfds
    source = tfds.data_source('smplr_synthetic/tiny', split='train',
                              data_dir=DATA)

returns records of the contract in `smplr_jax.data.records`. Build with
`python -m smplr_jax.data.datasets.build NAME --data_dir=DATA [--config=...]
[--manual_dir=...]` (or `build_dataset` from Python), in process or, with
`--beam_runner` / `--beam_options` and the `[beam]` extra, on Apache Beam
(the same examples; see `common`); each module's docstring gives its
manual-directory layout. `PairedJLDataset` holds
(predicted, true) JL pairs of a trained network for the DAE.
"""

import difflib
import os
import pathlib

import tensorflow_datasets as tfds

from smplr_jax.data.datasets import common
from smplr_jax.data.datasets.common import MissingFilesError
from smplr_jax.data.datasets.human36m import Human36m
from smplr_jax.data.datasets.paired import PairedJLDataset
from smplr_jax.data.datasets.smplr_synthetic import SmplrSynthetic
from smplr_jax.data.datasets.surreal import Surreal
from smplr_jax.data.datasets.up3d import Up3d

BUILDERS = {
    'smplr_synthetic': SmplrSynthetic,
    'surreal': Surreal,
    'human36m': Human36m,
    'up3d': Up3d,
}


def _check_config(name: str, config: str) -> None:
  """Raises ValueError naming the valid configs when `config` is not one."""
  known = [k.split(':')[0] for k in BUILDERS[name].builder_configs]
  if config.split(':')[0] in known:
    return
  close = difflib.get_close_matches(config, known, n=3, cutoff=0.5)
  hint = f'did you mean {" or ".join(close)}? ' if close else ''
  custom = (' (or make a custom one: --train_size=N [--validation_size=N '
            '--test_size=N --seed=N])' if name == 'smplr_synthetic' else '')
  raise ValueError(f'{name} has no config {config!r}; {hint}valid: '
                   f'{", ".join(known)}{custom}.')


def _check_manual_dir(name: str, manual_dir: str | None) -> None:
  """Raises MissingFilesError when a given manual folder does not exist."""
  instructions = getattr(BUILDERS[name], 'MANUAL_DOWNLOAD_INSTRUCTIONS', None)
  if manual_dir is None or not instructions or os.path.isdir(manual_dir):
    return
  what = instructions.split(' Layout:')[0]
  raise MissingFilesError(
      f'{name}: the manual directory {manual_dir} does not exist. '
      f'{what[0].upper()}{what[1:]}')


def build_dataset(name: str, data_dir: str | os.PathLike[str],
                  config: str | tfds.core.BuilderConfig | None = None,
                  manual_dir: str | os.PathLike[str] | None = None,
                  body_model_dir: str | os.PathLike[str] | None = None,
                  beam_runner: str | None = None,
                  beam_options=None) -> tfds.core.DatasetBuilder:
  """Builds (downloads nothing, prepares) a dataset and returns its builder.

  Folders TFDS makes on the way (`downloads/`, and on a failed build the
  dataset's own) are removed when the build leaves them empty.

  Args:
    name: a key of `smplr_jax.BUILDERS`.
    data_dir: TFDS data directory.
    config: config name or `BuilderConfig`; None = the builder's default.
    manual_dir: the official release's folder, for the real datasets.
    body_model_dir: SMPL model folder for JL (None = the default model).
    beam_runner: a Beam runner name ('DirectRunner', 'FlinkRunner',
      'DataflowRunner', ...); builds with Beam (the `[beam]` extra).
    beam_options: Beam pipeline flags, one string ('--direct_num_workers=2
      --direct_running_mode=multi_processing') or a list, or a
      `PipelineOptions`; builds with Beam. With neither, the build runs in
      this process.

  Returns:
    The prepared builder (`builder.as_data_source()` reads it).

  Raises:
    ValueError: an unknown dataset or config (naming the valid ones), or
      Beam settings without apache-beam installed.
    MissingFilesError: the manual directory does not exist, or lacks files.
  """
  if name not in BUILDERS:
    raise ValueError(f'unknown dataset {name!r}; choose one of '
                     f'{sorted(BUILDERS)}.')
  if isinstance(config, str):
    _check_config(name, config)
  if manual_dir is not None:
    manual_dir = os.path.expanduser(os.fspath(manual_dir))
  _check_manual_dir(name, manual_dir)
  beam_kwargs = common.beam_download_kwargs(beam_runner, beam_options)
  builder = BUILDERS[name](
      data_dir=os.path.expanduser(os.fspath(data_dir)), config=config,
      body_model_dir=body_model_dir)
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir,
                                                 **beam_kwargs)
  # builder.data_dir is DATA/name/config/version.
  version_dir = pathlib.Path(builder.data_dir)
  dataset_dir = next(p for p in version_dir.parents if p.name == builder.name)
  data_root = dataset_dir.parent
  folders = [data_root, data_root / 'downloads',
             data_root / 'downloads' / 'extracted', dataset_dir,
             dataset_dir / '.config', version_dir.parent, version_dir]
  made = [f for f in folders if not f.exists()]
  try:
    builder.download_and_prepare(download_config=download_config)
  except BaseException:
    if dataset_dir in made:  # TFDS's note of the default config, nothing else
      (dataset_dir / '.config' / 'metadata.json').unlink(missing_ok=True)
    raise
  finally:
    for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
      try:
        folder.rmdir()  # only if empty
      except OSError:
        pass
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
