"""Shared pieces of the TFDS builders: record features, files, cameras, JL.

Every builder of `smplr_jax.data.datasets` writes ArrayRecord files with TFDS and
needs no TensorFlow, to build or to read:

  * features are `Tensor`s (float32 arrays, int32 scalars) and `Image`s fed
    with bytes we encode ourselves with PIL (TFDS's own image encoder calls
    TensorFlow; its reader decodes with PIL or OpenCV, without TensorFlow);
  * `tfds.data_source(name, data_dir=...)` (or `builder.as_data_source()`)
    returns random-access splits whose items are dataset records exactly as
    in the contract below: `RecordFeatures` turns TFDS's decoded dict
    (mask [H, W, 1], Python ints) into mask [H, W] uint8 and int32 scalars.

Records follow the one contract of `smplr_jax.data.records` (keys, dtypes,
shapes, frame and units).

Every builder cuts a split into units of work (a clip, a sequence, an
image, a range of synthetic indices) and yields the examples of a unit from
one picklable function. Built in process, a split loops over its units; given
Beam pipeline options (`DownloadConfig(beam_runner=..., beam_options=...)`,
the `[beam]` extra) it is `Create(units) | Reshuffle() | FlatMap(function)`,
one unit per element, on any Beam runner. Keys are integers that sort as the
in-process build yields them (`unit_key`), so both builds write the same
examples in the same order.
"""

from __future__ import annotations

import io
import os
import pathlib
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import jax
import numpy as np
import tensorflow_datasets as tfds
from PIL import Image
from tensorflow_datasets.core import shuffle as tfds_shuffle

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data.records import INT_KEYS, RECORD_SPEC, check_record

IMAGE_FORMATS = ('png', 'jpeg')
# How many missing files an error message names before it counts the rest.
MISSING_FILES_SHOWN = 20


# ----------------------------------------------------------------------------
# Features.


class RecordFeatures(tfds.features.FeaturesDict):
  """The record's features; numpy decoding returns contract records.

  TFDS decodes the mask image as [H, W, 1] and scalars as Python ints; this
  top-level dict squeezes the mask and makes the scalars int32 arrays, so that
  `tfds.data_source(...)[i]` is a record of `RECORD_SPEC`.
  """

  def decode_example_np(self, serialized_example, *, decoders=None):
    example = super().decode_example_np(serialized_example, decoders=decoders)
    return finish_decoded_record(example)


def finish_decoded_record(example: dict[str, Any]) -> dict[str, np.ndarray]:
  """TFDS's numpy-decoded dict -> a contract record (see `RECORD_SPEC`)."""
  example = dict(example)
  mask = np.asarray(example['mask'])
  if mask.ndim == 3:
    mask = mask[..., 0]
  example['mask'] = mask
  for key, value in example.items():
    # The contract's int keys, and any builder extra stored as a scalar int.
    if key in INT_KEYS or isinstance(value, (int, np.integer)):
      example[key] = np.asarray(value, np.int32)
  return example


def record_features(image_format: str = 'jpeg',
                    extra_spec: Mapping[str, tuple] | None = None
                    ) -> RecordFeatures:
  """TFDS features of a dataset record.

  Args:
    image_format: 'png' (lossless) or 'jpeg' for the stored image; masks are
      always PNG.
    extra_spec: a builder's own keys beyond the contract, key -> (numpy
      dtype, shape) like `RECORD_SPEC` (e.g. Human3.6M's 17 joints).

  Returns:
    The `RecordFeatures` dict of the keys of `RECORD_SPEC` and `extra_spec`.
  """
  if image_format not in IMAGE_FORMATS:
    raise ValueError(f'image_format must be one of {IMAGE_FORMATS}, got '
                     f'{image_format!r}.')
  tensor = tfds.features.Tensor
  features = {
      'image': tfds.features.Image(shape=(None, None, 3),
                                   encoding_format=image_format),
      'mask': tfds.features.Image(shape=(None, None, 1), encoding_format='png'),
  }
  for key, (dtype, shape) in {**RECORD_SPEC, **(extra_spec or {})}.items():
    if key in features:
      continue
    if shape:
      features[key] = tensor(shape=shape, dtype=dtype)
    else:
      features[key] = tfds.features.Scalar(dtype=dtype)
  return RecordFeatures(features)


def encode_image(image: np.ndarray, image_format: str = 'jpeg',
                 quality: int = 95) -> bytes:
  """uint8 [H, W, C] (or [H, W]) -> PNG or JPEG bytes (PIL)."""
  pil = Image.fromarray(np.ascontiguousarray(image))
  buffer = io.BytesIO()
  if image_format == 'jpeg':
    pil.save(buffer, format='JPEG', quality=quality)
  elif image_format == 'png':
    # Level 1: much faster than the default 6 for slightly larger files
    # (noisy renders compress poorly at any level); encoding bounds the
    # build speed.
    pil.save(buffer, format='PNG', optimize=False, compress_level=1)
  else:
    raise ValueError(f'image_format must be one of {IMAGE_FORMATS}, got '
                     f'{image_format!r}.')
  return buffer.getvalue()


def encode_record(record: Mapping[str, Any], image_format: str = 'jpeg',
                  quality: int = 95, source: str = 'record',
                  extra_spec: Mapping[str, tuple] | None = None
                  ) -> dict[str, Any]:
  """A contract record -> the values `record_features` encodes.

  Images become file objects of PNG/JPEG bytes (TFDS stores them as they are,
  with no TensorFlow involved). `extra_spec` (as in `record_features`) names
  the builder's own keys, which must be in `record` with that dtype and
  shape.
  """
  check_record(record, source, extra_spec)
  example = {k: np.asarray(record[k]) for k in {**RECORD_SPEC,
                                                **(extra_spec or {})}}
  example['image'] = io.BytesIO(
      encode_image(example['image'], image_format, quality))
  example['mask'] = io.BytesIO(encode_image(example['mask'], 'png'))
  for key, value in example.items():
    if key in INT_KEYS or (isinstance(value, np.ndarray) and value.ndim == 0
                           and value.dtype.kind == 'i'):
      example[key] = int(value)
  return example


# ----------------------------------------------------------------------------
# Builders.

# TFDS writes examples beyond 1 GB (its shuffle buffer, used even with
# shuffling disabled) to temporary files through TensorFlow's gfile, which
# these builders do not need installed; keep up to 16 GB in memory instead
# (the 33k-render synthetic build holds about 4 GB).
tfds_shuffle.MAX_MEM_BUFFER_SIZE = max(tfds_shuffle.MAX_MEM_BUFFER_SIZE,
                                       16 << 30)


# Keys of the examples of a unit of work: unit * UNIT_KEYS + the example's
# index in its unit (a frame number), so keys sort as units and frames do.
UNIT_KEYS = 1 << 20


def unit_key(unit: int, index: int) -> int:
  """The integer key of example `index` (e.g. a frame) of unit `unit`.

  TFDS writes an unshuffled split in key order, in process and on Beam alike
  (Beam's writer needs integer keys), so these keys keep the in-process
  order: units in their listed order, each unit's examples by index.
  """
  if not 0 <= index < UNIT_KEYS:
    raise ValueError(f'example index {index} of unit {unit} is outside '
                     f'[0, {UNIT_KEYS}); a unit holds at most {UNIT_KEYS} '
                     'examples.')
  return int(unit) * UNIT_KEYS + int(index)


def import_beam():
  """`apache_beam`, or a ValueError naming the `[beam]` extra."""
  try:
    import apache_beam as beam  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ValueError("building with Beam (a runner or pipeline options) "
                     "needs apache-beam, the [beam] extra: pip install "
                     "'smplr_jax[beam]'.") from e
  return beam


def beam_download_kwargs(runner: str | None = None,
                         options=None) -> dict[str, Any]:
  """`DownloadConfig`'s Beam arguments: {} builds in process.

  Args:
    runner: a Beam runner name ('DirectRunner', 'DataflowRunner', ...) or
      None (then `--runner` in `options`, else the DirectRunner).
    options: command-line flags as one string ('--direct_num_workers=2
      --direct_running_mode=multi_processing') or a list, or a
      `PipelineOptions`; None with `runner` None builds in process.

  Returns:
    {} or {'beam_runner': runner, 'beam_options': PipelineOptions}.

  Raises:
    ValueError: Beam was asked for and apache-beam is not installed.
  """
  if runner is None and options is None:
    return {}
  beam = import_beam()
  if isinstance(options, str):
    options = shlex.split(options)
  if not isinstance(options, beam.options.pipeline_options.PipelineOptions):
    options = beam.options.pipeline_options.PipelineOptions(
        flags=list(options or ()))
  return {'beam_runner': runner, 'beam_options': options}


def split_examples(units: Sequence[Any],
                   examples_of_unit: Callable[[Any], Iterable[tuple[int, Any]]],
                   use_beam: bool):
  """A split's (key, example) pairs, in process or as a Beam transform.

  Args:
    units: the split's units of work, in the order the in-process build
      writes them; plain values (ints, strings, tuples of them).
    examples_of_unit: unit -> (key, example) pairs, keys from `unit_key` (or
      any ints increasing in the in-process order). On Beam it is pickled to
      the workers: a module-level function, a `functools.partial` of one
      with picklable arguments, or an object with `__call__`.
    use_beam: return a Beam transform instead of a generator.

  Returns:
    A generator over the units' examples, or the `beam.PTransform`
    `Create(units) | Reshuffle() | FlatMap(examples_of_unit)` (the
    reshuffle spreads units over workers instead of fusing them to the
    reader of `Create`).
  """
  if not use_beam:
    return (example for unit in units for example in examples_of_unit(unit))
  beam = import_beam()
  return ('Units' >> beam.Create(list(units))
          | 'Spread' >> beam.Reshuffle()
          | 'Examples' >> beam.FlatMap(examples_of_unit))


class ArrayRecordBuilder(tfds.core.GeneratorBasedBuilder,
                         skip_registration=True):
  """Base of our builders: ArrayRecord files, an optional body-model folder.

  Subclasses set `DESCRIPTION` (and `HOMEPAGE`) and define
  `_split_generators`, returning `self._generate_examples(units,
  examples_of_unit)` per split (see `split_examples`); every builder stores
  the same record features, unshuffled, in process or on Beam.
  """
  DESCRIPTION: ClassVar[str] = ''
  HOMEPAGE: ClassVar[str | None] = None
  # A builder's own record keys beyond the contract (see `record_features`).
  EXTRA_SPEC: ClassVar[dict[str, tuple]] = {}

  def __init__(self, *, body_model_dir: str | os.PathLike[str] | None = None,
               **kwargs):
    """Args: body_model_dir: folder of SMPL models used to compute JL (None:
    the default embedded model); other arguments as
    `tfds.core.GeneratorBasedBuilder` (file_format defaults to
    'array_record', the format that builds and reads without TensorFlow)."""
    self._body_model_dir = (None if body_model_dir is None else
                            os.fspath(body_model_dir))
    self._use_beam = False
    kwargs.setdefault('file_format', 'array_record')
    super().__init__(**kwargs)

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    # As TFDS itself: Beam builds exactly when given a runner or options
    # (TFDS refuses a Beam transform otherwise); `_split_generators` reads it.
    self._use_beam = (download_config.beam_runner is not None or
                      download_config.beam_options is not None)
    super()._download_and_prepare(dl_manager, download_config)

  def _generate_examples(self, units: Sequence[Any],
                         examples_of_unit: Callable[[Any], Iterable[Any]]):
    """A split's examples (see `split_examples`): a generator, or a Beam
    transform when the build was given Beam options."""
    return split_examples(units, examples_of_unit, self._use_beam)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.DESCRIPTION,
        features=record_features(self.builder_config.image_format,
                                 self.EXTRA_SPEC),
        disable_shuffling=True,
        homepage=self.HOMEPAGE,
        metadata=tfds.core.MetadataDict(
            body_model_dir=self._body_model_dir or 'default'),
    )


# ----------------------------------------------------------------------------
# Manual directories and their files.


class MissingFilesError(FileNotFoundError):
  """A manual directory lacks files of a dataset's documented layout."""


def manual_dir_of(dl_manager) -> pathlib.Path:
  """The manual directory of a TFDS download manager, even when empty.

  `dl_manager.manual_dir` raises a generic error for a missing or empty
  folder; we want to list the missing files of an existing one instead, so
  read its path (a folder that does not exist is reported as such).
  """
  path = getattr(dl_manager, '_manual_dir', None)
  if not path:
    raise MissingFilesError(
        'No manual directory was given. Pass --manual_dir=PATH to '
        '`python -m smplr_jax.data.datasets.build` (or DownloadConfig(manual_dir='
        'PATH) to download_and_prepare).')
  path = pathlib.Path(os.fspath(path))
  if not path.is_dir():  # say so rather than list every file as missing
    raise MissingFilesError(f'the manual directory {path} does not exist; '
                            'pass the folder of the official release.')
  return path


def raise_if_missing(dataset: str, manual_dir: pathlib.Path,
                     missing: Sequence[str], layout: str) -> None:
  """Raises `MissingFilesError` naming the missing files, if any.

  Args:
    dataset: dataset name for the message.
    manual_dir: where the files were looked for.
    missing: paths relative to `manual_dir` (patterns allowed), most
      important first (the message names the first `MISSING_FILES_SHOWN`).
    layout: a short description of the expected layout, for the message.
  """
  if not missing:
    return
  missing = list(dict.fromkeys(missing))  # unique, in the order found
  shown = missing[:MISSING_FILES_SHOWN]
  more = len(missing) - len(shown)
  lines = '\n'.join(f'  {m}' for m in shown)
  tail = f'\n  ... and {more} more' if more else ''
  raise MissingFilesError(
      f'{dataset}: the manual directory {manual_dir} is missing '
      f'{len(missing)} expected file(s) (paths relative to it):\n{lines}{tail}'
      f'\nExpected layout:\n{layout}')


def read_lines(path: pathlib.Path) -> list[str]:
  """Non-empty stripped lines of a text file."""
  return [line.strip() for line in path.read_text().splitlines()
          if line.strip()]


# ----------------------------------------------------------------------------
# Video.


def read_video_frames(path: str | os.PathLike[str],
                      wanted: Iterable[int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
  """Decodes an .mp4 (or any ffmpeg-readable video) with PyAV.

  Args:
    path: the video file.
    wanted: frame indices to return (0-based, decode order); None = all.

  Yields:
    (index, uint8 [H, W, 3] RGB frame) for the wanted frames, in order.
  """
  import av  # pylint: disable=g-import-not-at-top

  wanted = None if wanted is None else {int(i) for i in wanted}
  last = None if wanted is None else (max(wanted) if wanted else -1)
  try:
    container = av.open(os.fspath(path))
  except av.error.FFmpegError as e:
    raise ValueError(f'{path}: not a readable video ({e}).') from e
  with container:
    stream = container.streams.video[0]
    stream.thread_type = 'AUTO'
    for index, frame in enumerate(container.decode(stream)):
      if last is not None and index > last:
        break
      if wanted is None or index in wanted:
        yield index, frame.to_ndarray(format='rgb24')


# ----------------------------------------------------------------------------
# Images and cameras.


def downscale(image: np.ndarray, mask: np.ndarray, focal: np.ndarray,
              principal: np.ndarray, max_side: int | None):
  """Shrinks a frame so that its longer side is at most `max_side`.

  The intrinsics follow (pixel centres at integer coordinates): f' = s f,
  c' = s (c + 0.5) - 0.5.

  Args:
    image: uint8 [H, W, 3].
    mask: uint8 [H, W].
    focal: [2] fx, fy.
    principal: [2] cx, cy.
    max_side: longest side after resizing; None or 0 keeps the frame.

  Returns:
    (image, mask, focal, principal), resized or unchanged.
  """
  height, width = image.shape[:2]
  if not max_side or max(height, width) <= max_side:
    return image, mask, focal, principal
  scale = max_side / max(height, width)
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  scale_xy = np.asarray([size[0] / width, size[1] / height], np.float32)
  image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
  mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
  focal = np.asarray(focal, np.float32) * scale_xy
  principal = (np.asarray(principal, np.float32) + 0.5) * scale_xy - 0.5
  return image, mask, focal, principal


# ----------------------------------------------------------------------------
# JL from SMPL parameters.


_points_and_root = jax.jit(jl_lib.smpl_points_and_root)


class SmplPoints:
  """JL of SMPL parameters on one body model (only 18 vertices skinned).

  Attributes:
    points_model: the model restricted to its landmark vertices.
    stacked: whether `points_model` is a stacked [female, male] model.
    chunk: batches are padded to a multiple of this, so that sequences of
      different lengths share one compilation.
  """

  def __init__(self, models: bm.BodyModel, chunk: int = 32):
    self.points_model = jl_lib.landmark_points_model(models)
    self.stacked = models.is_stacked
    self.chunk = chunk

  def __getstate__(self) -> dict[str, Any]:
    # Beam workers get the landmark model (a few kB) as numpy arrays.
    return {**self.__dict__,
            'points_model': jax.tree.map(np.asarray, self.points_model)}

  def __call__(self, pose: np.ndarray, betas: np.ndarray,
               gender: np.ndarray | None = None):
    """Root-relative JL and the root joint of each body.

    Args:
      pose: [N, 24, 3] axis-angle.
      betas: [N, K] shape coefficients.
      gender: [N] int index into a stacked [female, male] model (required
        exactly when the model is stacked).

    Returns:
      (jl [N, 42, 3] root-relative, root [N, 3] the posed root joint without
      translation), float32 numpy, metres.
    """
    pose = np.asarray(pose, np.float32).reshape(-1, jl_lib.NUM_JOINTS, 3)
    num = pose.shape[0]
    betas = np.asarray(betas, np.float32).reshape(num, -1)
    pad = -num % self.chunk
    pose = np.concatenate([pose, np.zeros((pad,) + pose.shape[1:], np.float32)])
    betas = np.concatenate([betas, np.zeros((pad, betas.shape[1]), np.float32)])
    if self.stacked:
      if gender is None:
        raise ValueError('a stacked [female, male] model needs `gender`.')
      gender = np.concatenate([np.asarray(gender, np.int32).reshape(num),
                               np.zeros(pad, np.int32)])
    else:
      gender = None
    jl, root = _points_and_root(self.points_model, pose, betas, gender)
    return np.asarray(jl)[:num], np.asarray(root)[:num]


def load_models(path: str | os.PathLike[str] | None,
                kind: str = 'gendered') -> bm.BodyModel:
  """Stacked [female, male] (`kind='gendered'`) or the neutral model.

  Args:
    path: a folder of SMPL models; None = the default (embedded) model.
    kind: 'gendered' or 'neutral'.
  """
  if kind == 'gendered':
    return gendered.load_gendered_models(path)
  if kind == 'neutral':
    return bm.load_body_model(path, 'neutral')
  raise ValueError(f"kind must be 'gendered' or 'neutral', got {kind!r}.")


def full_jl_valid() -> np.ndarray:
  return np.ones(jl_lib.NUM_POINTS, np.float32)


def empty_mask(image: np.ndarray) -> np.ndarray:
  return np.zeros(image.shape[:2], np.uint8)
