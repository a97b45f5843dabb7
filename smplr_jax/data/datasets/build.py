r"""Builds one of our TFDS datasets (no TensorFlow needed).

    python -m smplr_jax.data.datasets.build NAME --data_dir=DATA \
        [--config=CONFIG] [--manual_dir=DIR] [--body_model_dir=DIR] \
        [--beam_runner=RUNNER] [--beam_options="--flag=value ..."]

NAME is smplr_synthetic, surreal, human36m or up3d (the `tfds build` CLI
imports TensorFlow, hence this script). Examples:

    # From a fresh clone: 64 / 16 / 16 rendered bodies (config `tiny`).
    python -m smplr_jax.data.datasets.build smplr_synthetic \
        --data_dir=~/tensorflow_datasets --config=tiny
    # Any size and seed (config named n1000_v100_t100_s3):
    python -m smplr_jax.data.datasets.build smplr_synthetic \
        --data_dir=~/tensorflow_datasets --train_size=1000 \
        --validation_size=100 --test_size=100 --seed=3
    # Real data from a manual directory (layouts in each module's docstring):
    python -m smplr_jax.data.datasets.build surreal --data_dir=DATA \
        --manual_dir=/data/SURREAL/data
    # The same examples built by Apache Beam (pip install 'smplr_jax[beam]'),
    # here on two local processes; other runners take their own options.
    python -m smplr_jax.data.datasets.build surreal --data_dir=DATA \
        --manual_dir=/data/SURREAL/data --beam_runner=DirectRunner \
        --beam_options="--direct_num_workers=2 \
        --direct_running_mode=multi_processing"

Then `tfds.data_source('NAME/CONFIG', split=..., data_dir=DATA)` reads it
(after `import smplr_jax.data.datasets`).
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

from smplr_jax import cli
from smplr_jax.data import datasets
from smplr_jax.data.datasets import smplr_synthetic

_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data directory.')
_CONFIG = flags.DEFINE_string('config', None,
                              'Builder config name (default: the builder\'s).')
_MANUAL_DIR = flags.DEFINE_string(
    'manual_dir', None, 'Folder of the official release (surreal, human36m, '
    'up3d).')
_BODY_MODEL_DIR = flags.DEFINE_string(
    'body_model_dir', None, 'Folder of SMPL models for JL (default: the '
    'embedded model).')
_TRAIN_SIZE = flags.DEFINE_integer('train_size', None,
                                   'smplr_synthetic: custom train size.')
_VALIDATION_SIZE = flags.DEFINE_integer('validation_size', 16,
                                        'smplr_synthetic: custom size.')
_TEST_SIZE = flags.DEFINE_integer('test_size', 16,
                                  'smplr_synthetic: custom size.')
_SEED = flags.DEFINE_integer('seed', 0, 'smplr_synthetic: custom seed.')
_BEAM_RUNNER = flags.DEFINE_string(
    'beam_runner', None, 'Build with Apache Beam on this runner '
    '(DirectRunner, FlinkRunner, SparkRunner, DataflowRunner, ...; needs '
    'the [beam] extra).')
_BEAM_OPTIONS = flags.DEFINE_string(
    'beam_options', None, 'Build with Apache Beam with these pipeline '
    'options, one string: "--direct_num_workers=2 '
    '--direct_running_mode=multi_processing" (needs the [beam] extra).')


def main(argv: Sequence[str]) -> None:
  if len(argv) != 2:
    raise app.UsageError(f'usage: {argv[0]} NAME --data_dir=DATA; NAME in '
                         f'{sorted(datasets.BUILDERS)}.')
  if not _DATA_DIR.value:
    raise app.UsageError('--data_dir is required.')
  name, config = argv[1], _CONFIG.value
  if _TRAIN_SIZE.value is not None:
    if name != 'smplr_synthetic' or config is not None:
      raise app.UsageError('--train_size makes a custom smplr_synthetic '
                           'config; do not combine it with --config.')
    config = smplr_synthetic.custom_config(
        _TRAIN_SIZE.value, _VALIDATION_SIZE.value, _TEST_SIZE.value,
        _SEED.value)
  builder = datasets.build_dataset(
      name, _DATA_DIR.value, config, _MANUAL_DIR.value,
      _BODY_MODEL_DIR.value, beam_runner=_BEAM_RUNNER.value or None,
      beam_options=_BEAM_OPTIONS.value or None)
  print(f'{builder.info.full_name}: {builder.data_dir}')
  for split, info in builder.info.splits.items():
    print(f'  {split}: {info.num_examples} examples, {info.num_bytes}')


if __name__ == '__main__':
  cli.run(main)
