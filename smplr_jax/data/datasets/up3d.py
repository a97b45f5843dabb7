"""`up3d`: UP-3D (Lassner et al., CVPR 2017) as a TFDS dataset (no TF).

Manual directory: the `up-3d` folder of the official release
(upi-s1h.zip / up-3d.zip of "Unite the People"), holding

    train.txt, val.txt, test.txt      one image per line, e.g. /00001_image.png
    <id>_image.png                    the image
    <id>_body.pkl                     SMPL fit (neutral model), a Python-2
                                      pickle: pose [72], betas [10], trans [3],
                                      and the camera: f (focal, pixels), rt [3]
                                      (axis-angle), t [3]
    <id>_render_light.png             optional: the fit rendered on white
    <id>_joints.npy, <id>_quality_info, ...   not read

Splits: train <- train.txt, validation <- val.txt, test <- test.txt. Every
image of a split file needs its `_image.png` and `_body.pkl`; otherwise the
build stops with a `MissingFilesError` naming the missing files. Build with

    python -m smplr_jax.data.datasets.build up3d --data_dir=DATA \
        --manual_dir=/path/to/up-3d [--body_model_dir=/path/to/smpl]

Camera (opendr's `ProjectPoints`, as in the release's renderer): x_cam =
R(rt) (v + trans) + t, pixel = f x_cam / z + c, with c = (w / 2, h / 2)
(or the fit's `cam_c` when present); OpenCV axes.

Records:
  * pose: the fit's pose with its global rotation pre-multiplied by R(rt)
    (identity in the release); betas from the fit; gender -1 (the fits use
    SMPL's neutral model); has_smpl = 1.
  * jl_cam: the JL of (pose, betas) on OUR neutral model, root-relative,
    plus the root R(rt) (J_0(betas) + trans) + t. With the official neutral
    SMPL model (`body_model_dir`) this is exact; with the embedded default
    model J_0 and the other points are an approximation.
  * mask: pixels of `_render_light.png` that are not white (the fit's
    silhouette), has_mask = 1; without it zeros and has_mask = 0.
  * image: RGB, stored as JPEG (config `image_format`), optionally shrunk to
    `max_side`.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image
from scipy.spatial.transform import Rotation

from smplr_jax.body import body_model as bm
from smplr_jax.body import rotations
from smplr_jax.data import records
from smplr_jax.data.datasets import common

SPLIT_FILES = {'train': 'train.txt', 'validation': 'val.txt',
               'test': 'test.txt'}
_BODY_KEYS = ('pose', 'betas', 'trans', 'f', 'rt', 't')

LAYOUT = """\
  train.txt, val.txt, test.txt   (lines like /00001_image.png)
  <id>_image.png, <id>_body.pkl  (for every listed image)
  <id>_render_light.png          (optional, gives the mask)
(the up-3d folder of the official UP-3D release)"""


@dataclasses.dataclass(eq=False)
class Up3dConfig(tfds.core.BuilderConfig):
  """Attributes:
    max_side: shrink images to this longest side (None: keep).
    image_format: 'jpeg' or 'png'.
    jpeg_quality: JPEG quality.
  """
  max_side: int | None = None
  image_format: str = 'jpeg'
  jpeg_quality: int = 95


def image_ids(split_file: pathlib.Path) -> list[str]:
  """Ids listed in a split file (`/00001_image.png` -> `00001`)."""
  ids = []
  for line in common.read_lines(split_file):
    name = pathlib.PurePosixPath(line).name
    if not name.endswith('_image.png'):
      raise ValueError(f'{split_file}: line {line!r} is not an '
                       '<id>_image.png name.')
    ids.append(name[:-len('_image.png')])
  return ids


def find_images(manual_dir: pathlib.Path):
  """(split -> ids, missing files relative to manual_dir)."""
  missing = [name for name in SPLIT_FILES.values()
             if not (manual_dir / name).is_file()]
  ids = {split: image_ids(manual_dir / name)
         for split, name in SPLIT_FILES.items() if name not in missing}
  for split_ids in ids.values():
    for image_id in split_ids:
      for suffix in ('_image.png', '_body.pkl'):
        if not (manual_dir / f'{image_id}{suffix}').is_file():
          missing.append(f'{image_id}{suffix}')
  return ids, missing


def read_fit(path: pathlib.Path) -> dict[str, np.ndarray]:
  """A `_body.pkl` (Python-2 pickle, chumpy arrays allowed) -> float arrays."""
  try:
    fit = bm.read_model_arrays(path)
  except ValueError as e:
    raise ValueError(f'{path}: not a readable UP-3D body fit ({e}).') from e
  missing = [k for k in _BODY_KEYS if k not in fit]
  if missing:
    raise ValueError(f'{path}: missing keys {missing}; a UP-3D fit holds '
                     f'{list(_BODY_KEYS)}.')
  out = {k: np.asarray(fit[k], np.float64).reshape(-1) for k in _BODY_KEYS}
  if 'cam_c' in fit:
    out['cam_c'] = np.asarray(fit['cam_c'], np.float64).reshape(-1)
  if out['pose'].size != 72 or out['trans'].size != 3 or out['t'].size != 3:
    raise ValueError(f'{path}: pose {out["pose"].shape}, trans '
                     f'{out["trans"].shape}, t {out["t"].shape}; expected '
                     '[72], [3], [3].')
  return out


def _read_rgb(path: pathlib.Path) -> np.ndarray:
  with Image.open(path) as image:
    return np.asarray(image.convert('RGB'))


def image_record(manual_dir: pathlib.Path, image_id: str,
                 points: common.SmplPoints, max_side: int | None = None):
  """The record of one UP-3D image (see the module docstring)."""
  fit = read_fit(manual_dir / f'{image_id}_body.pkl')
  image = _read_rgb(manual_dir / f'{image_id}_image.png')
  height, width = image.shape[:2]
  render = manual_dir / f'{image_id}_render_light.png'
  if render.is_file():
    silhouette = _read_rgb(render)
    if silhouette.shape != image.shape:
      raise ValueError(f'{render}: size {silhouette.shape[:2]} differs from '
                       f'the image {image.shape[:2]}.')
    mask, has_mask = (silhouette.min(axis=-1) < 255).astype(np.uint8), 1
  else:
    mask, has_mask = common.empty_mask(image), 0
  rotation = Rotation.from_rotvec(fit['rt']).as_matrix()
  pose = rotations.rotate_global_orientation(rotation, fit['pose'][None])
  betas = np.zeros((1, records.NUM_BETAS), np.float32)
  num_betas = min(fit['betas'].size, records.NUM_BETAS)
  betas[0, :num_betas] = fit['betas'][:num_betas]
  # SMPL rotates the body about its root joint, so `root` is J_0(betas)
  # whatever the global rotation.
  jl, root = points(pose, betas)
  root_cam = rotation @ (root[0] + fit['trans']) + fit['t']
  focal = np.full(2, float(fit['f'][0]), np.float32)
  principal = (fit['cam_c'].astype(np.float32) if 'cam_c' in fit else
               np.asarray([width / 2.0, height / 2.0], np.float32))
  image, mask, focal, principal = common.downscale(image, mask, focal,
                                                   principal, max_side)
  return {
      'image': image, 'mask': mask, 'has_mask': np.int32(has_mask),
      'jl_cam': (jl[0] + root_cam).astype(np.float32),
      'jl_valid': common.full_jl_valid(),
      'focal': np.asarray(focal, np.float32),
      'principal': np.asarray(principal, np.float32), 'pose': pose[0],
      'betas': betas[0], 'gender': np.int32(-1), 'has_smpl': np.int32(1)}


class Up3d(common.ArrayRecordBuilder):
  """UP-3D images with SMPL fits, camera-frame JL and silhouettes."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES: ClassVar[dict[str, str]] = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'Mirror-symmetric landmark vertices of the default model.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download UP-3D (https://files.is.tuebingen.mpg.de/classner/up/) and '
      'pass its extracted up-3d folder as the manual directory. Layout:\n' +
      LAYOUT)
  BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
      Up3dConfig(name='full', description='Images at their size.'),
      Up3dConfig(name='500px', description='Images shrunk to 500 px.',
                 max_side=500),
  ]
  DEFAULT_CONFIG_NAME = 'full'

  DESCRIPTION = ('UP-3D images (Lassner et al. 2017) with SMPL fits and '
                 'JL in camera coordinates; see smplr_jax/data/datasets/up3d.py.')
  HOMEPAGE = 'https://files.is.tuebingen.mpg.de/classner/up/'

  def _split_generators(self, dl_manager) -> dict[str, Any]:
    manual_dir = common.manual_dir_of(dl_manager)
    ids, missing = find_images(manual_dir)
    common.raise_if_missing('up3d', manual_dir, missing, LAYOUT)
    points = common.SmplPoints(common.load_models(self._body_model_dir,
                                                  'neutral'))
    examples = functools.partial(image_examples, manual_dir=str(manual_dir),
                                 config=self.builder_config, points=points)
    # A unit is one image: (its index in the split, its id).
    return {split: self._generate_examples(list(enumerate(split_ids)),
                                           examples)
            for split, split_ids in ids.items()}


def image_examples(unit: tuple[int, str], *, manual_dir: str,
                   config: Up3dConfig, points: common.SmplPoints):
  """The encoded example of one image, the unit of work of a build.

  Args:
    unit: (the image's index in its split, its id '00001').
    manual_dir: the up-3d folder.
    config: the builder config (max side, image format, quality).
    points: JL of SMPL parameters (the neutral model).

  Yields:
    (`common.unit_key(index, 0)`, example of `common.encode_record`).
  """
  index, image_id = unit
  manual_dir = pathlib.Path(manual_dir)
  record = image_record(manual_dir, image_id, points, config.max_side)
  yield common.unit_key(index, 0), common.encode_record(
      record, config.image_format, config.jpeg_quality,
      source=f'{manual_dir / image_id}_image.png')
