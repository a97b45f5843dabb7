"""`smplr_synthetic`: rendered synthetic bodies as a TFDS dataset (no TF).

Records come from `smplr_jax.data.synthetic.render_examples(models, n, seed,
start)`: random SMPL bodies (`smplr_jax.data.sampler`) rendered at 256 x 256 with
their mask, camera-frame JL and parameters (the record contract of
`smplr_jax.data.records`). Everything is generated, so the dataset builds
from a fresh clone with one command:

    python -m smplr_jax.data.datasets.build smplr_synthetic \
        --data_dir=~/tensorflow_datasets --config=tiny

and reads without TensorFlow:

    import smplr_jax.data.datasets  # registers the builders
    import tensorflow_datasets as tfds
    train = tfds.data_source('smplr_synthetic/tiny', split='train',
                             data_dir='~/tensorflow_datasets')
    record = train[0]  # image uint8 [256, 256, 3], mask uint8 [256, 256], ...

Configs (sizes of train / validation / test, seed): `tiny` 64 / 16 / 16,
`small` 4096 / 256 / 256, `large` 100000 / 2000 / 2000, all with seed 0;
`build` takes `--train_size`, `--validation_size`, `--test_size` and
`--seed` for a custom config named `n<train>_v<val>_t<test>_s<seed>`.
Example i of a split is example `offset + i` of the seed's stream, with
offsets 0 (train), train_size (validation) and train_size +
validation_size (test), so the splits never share a body and a smaller
config is a prefix of a larger one with the same seed. Images are stored as
PNG (lossless; `image_format='jpeg'` for smaller files) and masks as PNG;
examples keep their generation order (no shuffling on disk).

Built with Beam (`--beam_runner` / `--beam_options`, the `[beam]` extra), a
split is cut into ranges of `BEAM_UNIT_SIZE` examples rendered by the
workers; example i is the same record in any range, so the dataset is the
same as the in-process build's.

The body model is the default embedded one unless the builder gets
`body_model_dir` (`--body_model_dir`); the path is recorded in the
dataset's metadata.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import tensorflow_datasets as tfds

from smplr_jax.data import synthetic
from smplr_jax.data.datasets import common

_SUMMARY = __doc__.split('\n\n')[0]


@dataclasses.dataclass(eq=False)
class SmplrSyntheticConfig(tfds.core.BuilderConfig):
  """Size and seed of a synthetic dataset.

  Attributes:
    train_size, validation_size, test_size: examples per split.
    seed: seed of `render_examples`.
    image_format: 'png' or 'jpeg'.
  """
  train_size: int = 64
  validation_size: int = 16
  test_size: int = 16
  seed: int = 0
  image_format: str = 'png'


def custom_config(train_size: int, validation_size: int, test_size: int,
                  seed: int, image_format: str = 'png') -> SmplrSyntheticConfig:
  """A config of any size, named `n<train>_v<val>_t<test>_s<seed>`."""
  name = f'n{train_size}_v{validation_size}_t{test_size}_s{seed}'
  if image_format != 'png':
    name += f'_{image_format}'
  return SmplrSyntheticConfig(
      name=name, description=f'{train_size} / {validation_size} / '
      f'{test_size} examples, seed {seed}, {image_format} images.',
      train_size=train_size, validation_size=validation_size,
      test_size=test_size, seed=seed, image_format=image_format)


def _split_offsets(config: SmplrSyntheticConfig) -> dict[str, tuple[int, int]]:
  """split -> (start, size) in the seed's example stream."""
  return {
      'train': (0, config.train_size),
      'validation': (config.train_size, config.validation_size),
      'test': (config.train_size + config.validation_size, config.test_size),
  }


class SmplrSynthetic(common.ArrayRecordBuilder):
  """Synthetic rendered SMPL bodies (generated; no download)."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES: ClassVar[dict[str, str]] = {
      '1.0.0': 'Initial release.',
      '1.1.0': ('Mirror-symmetric landmarks of the default model; a second '
                'light in half of the renders.')}
  BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
      SmplrSyntheticConfig(name='tiny', description='64 / 16 / 16 examples.',
                      train_size=64, validation_size=16, test_size=16),
      SmplrSyntheticConfig(name='small',
                           description='4096 / 256 / 256 examples.',
                      train_size=4096, validation_size=256, test_size=256),
      SmplrSyntheticConfig(name='large',
                      description='100000 / 2000 / 2000 examples.',
                      train_size=100_000, validation_size=2000,
                      test_size=2000),
  ]
  DEFAULT_CONFIG_NAME = 'tiny'

  DESCRIPTION = _SUMMARY

  # Examples per unit of work of a Beam build: 32 rendering batches of 16,
  # about 12 s on one core (24 ms an example), which makes the 0.75 s of
  # loading the background photos in each `render_examples` call small.
  # (In process a split is one unit: one `render_examples` call, as before
  # Beam.)
  BEAM_UNIT_SIZE: ClassVar[int] = 512

  def _split_generators(self, dl_manager) -> dict[str, Any]:
    del dl_manager
    models = common.load_models(self._body_model_dir)  # fails early if bad
    examples = RangeExamples(self.builder_config, self._body_model_dir, models)
    unit_size = self.BEAM_UNIT_SIZE if self._use_beam else None
    return {split: self._generate_examples(ranges(start, size, unit_size),
                                           examples)
            for split, (start, size) in _split_offsets(
                self.builder_config).items() if size}


def ranges(start: int, size: int,
           unit_size: int | None) -> list[tuple[int, int]]:
  """[start, start + size) as (start, size) pieces of at most `unit_size`
  examples (one piece when None)."""
  step = unit_size or max(size, 1)
  return [(first, min(step, start + size - first))
          for first in range(start, start + size, step)]


class RangeExamples:
  """The encoded examples of a range of the seed's stream (a unit of work).

  Example i of the stream has key i whatever the range (`render_examples`
  gives the same record for an index in any range or batch), so ranges can
  be built anywhere and in any order. Picklable for Beam workers: it carries
  the config and the body-model folder and loads the models once per
  process (tens of MB of arrays, too large to ship with a pipeline).

  Attributes:
    config: the builder config (seed, image format).
    body_model_dir: SMPL model folder (None: the embedded default model).
  """

  def __init__(self, config: SmplrSyntheticConfig,
               body_model_dir: str | None = None, models=None):
    """Args: models: the loaded [female, male] models of `body_model_dir`
    (None: loaded on first use)."""
    self.config = config
    self.body_model_dir = body_model_dir
    self._models = models

  def __getstate__(self) -> dict[str, Any]:
    return {**self.__dict__, '_models': None}

  def __call__(self, unit: tuple[int, int]):
    """Yields (index, example of `common.encode_record`) for the range
    `unit` = (start, size)."""
    start, size = unit
    if self._models is None:
      self._models = common.load_models(self.body_model_dir)
    config = self.config
    records = synthetic.render_examples(self._models, size, config.seed,
                                        start=start)
    count = 0
    for i, record in enumerate(records):
      index = start + i
      yield index, common.encode_record(
          record, config.image_format,
          source=f'smplr_synthetic example {index}')
      count += 1
    if count != size:
      raise ValueError(f'render_examples yielded {count} examples, expected '
                       f'{size} (start {start}, seed {config.seed}).')
