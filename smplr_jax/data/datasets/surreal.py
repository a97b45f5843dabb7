"""`surreal`: SURREAL (Varol et al., CVPR 2017) as a TFDS dataset (no TF).

Manual directory: the `SURREAL/data` folder of the official release
(SURREAL_v1.tar.gz, or the per-file download script), holding

    cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>.mp4        RGB 320x240
    cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>_info.mat   annotation
    cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>_segm.mat   optional

Each `_info.mat` has (T frames, mostly 100): joints2D [2, 24, T], joints3D
[3, 24, T] (Blender world, metres), pose [72, T] (SMPL axis-angle), shape
[10, T], gender [T, 1] (0 female, 1 male), camLoc [3, 1], zrot [T, 1] and
more; `_segm.mat` holds segm_1 .. segm_T, [240, 320] uint8 body-part labels
(0 background). `_depth.mat` files are not read. Splits: train <- cmu/train,
validation <- cmu/val, test <- cmu/test. Build with

    python -m smplr_jax.data.datasets.build surreal --data_dir=DATA \
        --manual_dir=/path/to/SURREAL/data [--config=stride10] \
        [--body_model_dir=/path/to/smpl]

Every clip needs both its .mp4 and its _info.mat, and every split folder at
least one clip; otherwise the build stops with a `MissingFilesError` naming
the missing files.

Camera (fixed in SURREAL): f = 600 px, principal point (160, 120), 320 x
240, and the extrinsic of SURREAL's `get_extrinsic(camLoc)`: x = K (A
(X_world - camLoc)) with A = [[0, 0, -1], [0, 1, 0], [-1, 0, 0]]. A is a
reflection (det A = -1): SURREAL's frames are mirror images of what a real
camera would see, which is why its joints' left/right labels look swapped on
the images. We flip every frame (and mask) horizontally, u -> 319 - u; the
flipped frames are the view of a proper camera, X_cam = R (X_world -
camLoc) with the rotation R = diag(-1, 1, 1) A = [[0, 0, 1], [0, 1, 0],
[-1, 0, 0]], f = 600 and principal point (159, 120), so that every label is
on the right side of the body and the SMPL parameters describe the imaged
body exactly.

Records (one per `frame_stride`-th frame of every clip):
  * pose: SURREAL's pose with its global rotation moved to the camera frame:
    R_cam = R R_x(90 deg) R_z(zrot[0]) R(pose[:3]) (the body is turned by
    the clip's zrot and stood up by R_x before rendering; SURREAL's
    `rotateBody`); betas = shape[:, t]; gender from the file; has_smpl = 1.
  * jl_cam: the JL of (pose, betas, gender) on OUR body model, root-relative,
    plus the annotated root joints3D[:, 0, t] moved to the camera frame.
    With the official SMPL models (`body_model_dir`) this reproduces
    SURREAL's bodies; with the embedded default model the 41 non-root points
    are an approximation (another mesh with SMPL's parameters).
  * mask: segm > 0 from `_segm.mat` when present (has_mask = 1), else zeros
    and has_mask = 0.
  * image: the decoded video frame, flipped horizontally (see above),
    stored as JPEG (config `image_format`).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import re
from typing import Any, ClassVar

import numpy as np
import scipy.io
import tensorflow_datasets as tfds
from scipy.spatial.transform import Rotation

from smplr_jax.body import rotations
from smplr_jax.data.datasets import common

FOCAL = (600.0, 600.0)
IMAGE_SIZE = (240, 320)  # height, width
# SURREAL's principal point, and ours after the horizontal flip (u -> W-1-u).
SURREAL_PRINCIPAL = (160.0, 120.0)
PRINCIPAL = (IMAGE_SIZE[1] - 1 - SURREAL_PRINCIPAL[0], SURREAL_PRINCIPAL[1])
# SURREAL's world (Blender) -> OpenCV camera matrix; a reflection (det -1).
SURREAL_WORLD_TO_CAMERA = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0],
                                    [-1.0, 0.0, 0.0]])
# The proper rotation of the horizontally flipped frames: diag(-1, 1, 1) A.
WORLD_TO_CAMERA = np.diag([-1.0, 1.0, 1.0]) @ SURREAL_WORLD_TO_CAMERA
# Stands the SMPL body up in Blender's z-up world: rotation of 90 deg about x.
BODY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0],
                          [0.0, 1.0, 0.0]])

SPLIT_FOLDERS = {'train': 'train', 'validation': 'val', 'test': 'test'}
RUNS = ('run0', 'run1', 'run2')
_CLIP_RE = re.compile(r'^(?P<clip>.+_c\d{4})(?P<suffix>\.mp4|_info\.mat)$')

LAYOUT = """\
  cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>.mp4
  cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>_info.mat
  cmu/{train,val,test}/run{0,1,2}/<seq>/<seq>_c<NNNN>_segm.mat (optional)
(the SURREAL/data folder of the official SURREAL_v1 release)"""


@dataclasses.dataclass(eq=False)
class SurrealConfig(tfds.core.BuilderConfig):
  """Attributes:
    frame_stride: keep every k-th frame of each clip (frames 0, k, 2k, ...).
    runs: which of run0 (50% clip overlap), run1 (30%), run2 (70%) to read.
    image_format: 'jpeg' or 'png'.
    jpeg_quality: JPEG quality of the stored frames.
  """
  frame_stride: int = 10
  runs: tuple[str, ...] = RUNS
  image_format: str = 'jpeg'
  jpeg_quality: int = 95


def camera_rotation_and_translation(cam_loc: np.ndarray):
  """Extrinsic of the flipped frames: (R [3, 3], t [3]), X_cam = R X_world + t.
  """
  cam_loc = np.asarray(cam_loc, np.float64).reshape(3)
  return WORLD_TO_CAMERA, -WORLD_TO_CAMERA @ cam_loc


def camera_frame_pose(pose: np.ndarray, zrot: float) -> np.ndarray:
  """SURREAL pose [T, 72] -> [T, 24, 3] with the global rotation in the
  camera frame of the flipped frames (R R_x(90) R_z(zrot) R_pelvis)."""
  rz = Rotation.from_euler('z', float(zrot)).as_matrix()
  return rotations.rotate_global_orientation(
      WORLD_TO_CAMERA @ BODY_TO_WORLD @ rz, pose)


def _frames_last(array: np.ndarray, ndim: int) -> np.ndarray:
  """MATLAB drops trailing singleton dims: restore a frame axis of size 1."""
  array = np.asarray(array)
  while array.ndim < ndim:
    array = array[..., None]
  return array


def read_info(path: pathlib.Path) -> dict[str, np.ndarray]:
  """The arrays of an `_info.mat` that we use, frames first.

  Returns:
    dict with pose [T, 72], shape [T, 10], gender [T] int32, joints3d
    [T, 24, 3], cam_loc [3], zrot [T].
  """
  try:
    info = scipy.io.loadmat(path, variable_names=(
        'pose', 'shape', 'gender', 'joints3D', 'camLoc', 'zrot'))
  except (ValueError, OSError, TypeError) as e:
    raise ValueError(f'{path}: not a readable SURREAL _info.mat ({e}).') from e
  missing = [k for k in ('pose', 'shape', 'gender', 'joints3D', 'camLoc',
                         'zrot') if k not in info]
  if missing:
    raise ValueError(f'{path}: missing keys {missing} (a SURREAL _info.mat '
                     'holds pose, shape, gender, joints3D, camLoc, zrot).')
  pose = _frames_last(info['pose'], 2).T
  num = pose.shape[0]
  out = {
      'pose': pose,
      'shape': _frames_last(info['shape'], 2).T,
      'gender': np.asarray(info['gender']).reshape(-1).astype(np.int32),
      'joints3d': np.transpose(_frames_last(info['joints3D'], 3), (2, 1, 0)),
      'cam_loc': np.asarray(info['camLoc'], np.float64).reshape(3),
      'zrot': np.asarray(info['zrot'], np.float64).reshape(-1)}
  if pose.shape[1] != 72 or out['shape'].shape != (num, 10) or out[
      'joints3d'].shape != (num, 24, 3) or len(out['gender']) != num:
    raise ValueError(
        f'{path}: inconsistent shapes pose {info["pose"].shape}, shape '
        f'{info["shape"].shape}, joints3D {info["joints3D"].shape}, gender '
        f'{info["gender"].shape}; expected [72, T], [10, T], [3, 24, T], '
        '[T, 1].')
  return out


def find_clips(manual_dir: pathlib.Path, runs=RUNS):
  """Clips per split and the missing files of the layout.

  Returns:
    (clips: split -> sorted list of clip paths without suffix, missing:
    list of paths relative to manual_dir).
  """
  clips, missing = {}, []
  for split, folder in SPLIT_FOLDERS.items():
    stems = {}
    for run in runs:
      run_dir = manual_dir / 'cmu' / folder / run
      if not run_dir.is_dir():
        continue
      for path in run_dir.glob('*/*'):
        match = _CLIP_RE.match(path.name)
        if match:
          stem = path.parent / match['clip']
          stems.setdefault(stem, set()).add(match['suffix'])
    if not stems:
      missing.append(f'cmu/{folder}/{{{",".join(runs)}}}/<seq>/<seq>_c<NNNN>'
                     '.mp4 and _info.mat (no clip found)')
      continue
    for stem, suffixes in stems.items():
      for suffix in ('.mp4', '_info.mat'):
        if suffix not in suffixes:
          missing.append(str((stem.parent / (stem.name + suffix)
                              ).relative_to(manual_dir)))
    clips[split] = sorted(stems)
  return clips, missing


class Surreal(common.ArrayRecordBuilder):
  """SURREAL frames with camera-frame JL, SMPL parameters and masks."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES: ClassVar[dict[str, str]] = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'Mirror-symmetric landmark vertices of the default model.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download SURREAL (https://www.di.ens.fr/willow/research/surreal/data/, '
      'licence required) and pass its data/ folder, the one holding cmu/, '
      'as the manual directory. Layout:\n' + LAYOUT)
  BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
      SurrealConfig(name='stride10', description='Every 10th frame.'),
      SurrealConfig(name='stride1', description='Every frame.',
                    frame_stride=1),
      SurrealConfig(name='run0_stride10',
                    description='run0 clips only, every 10th frame.',
                    runs=('run0',)),
  ]
  DEFAULT_CONFIG_NAME = 'stride10'

  DESCRIPTION = ('SURREAL frames (Varol et al. 2017) with JL in camera '
                 'coordinates; see smplr_jax/data/datasets/surreal.py.')
  HOMEPAGE = 'https://www.di.ens.fr/willow/research/surreal/'

  def _split_generators(self, dl_manager) -> dict[str, Any]:
    manual_dir = common.manual_dir_of(dl_manager)
    clips, missing = find_clips(manual_dir, self.builder_config.runs)
    common.raise_if_missing('surreal', manual_dir, missing, LAYOUT)
    points = common.SmplPoints(common.load_models(self._body_model_dir))
    examples = functools.partial(clip_examples, manual_dir=str(manual_dir),
                                 config=self.builder_config, points=points)
    # A unit is one clip: (its index in the split, its path in manual_dir).
    return {split: self._generate_examples(
                [(i, str(stem.relative_to(manual_dir)))
                 for i, stem in enumerate(stems)], examples)
            for split, stems in clips.items()}


def clip_examples(unit: tuple[int, str], *, manual_dir: str,
                  config: SurrealConfig, points: common.SmplPoints):
  """The encoded examples of one clip, the unit of work of a build.

  Args:
    unit: (the clip's index in its split, its path without suffix relative
      to `manual_dir`, e.g. 'cmu/train/run0/01_01/01_01_c0001').
    manual_dir: the SURREAL/data folder.
    config: the builder config (frame stride, image format, quality).
    points: JL of SMPL parameters (stacked [female, male] model).

  Yields:
    (`common.unit_key(index, frame)`, example of `common.encode_record`).
  """
  index, relative = unit
  stem = pathlib.Path(manual_dir) / relative
  for t, record in clip_records(stem, config.frame_stride, points):
    yield common.unit_key(index, t), common.encode_record(
        record, config.image_format, config.jpeg_quality,
        source=f'{stem} frame {t}')


def clip_records(stem: pathlib.Path, frame_stride: int,
                 points: common.SmplPoints):
  """Records of one SURREAL clip.

  Args:
    stem: the clip's path without suffix (`.../<seq>_c<NNNN>`).
    frame_stride: keep frames 0, k, 2k, ...
    points: JL of SMPL parameters (stacked [female, male] model).

  Yields:
    (frame index, record).
  """
  info = read_info(stem.parent / (stem.name + '_info.mat'))
  num = info['pose'].shape[0]
  frames = list(range(0, num, frame_stride))
  if not frames:
    return
  pose = camera_frame_pose(info['pose'][frames], info['zrot'][0])
  betas = info['shape'][frames].astype(np.float32)
  gender = info['gender'][frames]
  jl, _ = points(pose, betas, gender)
  rotation, translation = camera_rotation_and_translation(info['cam_loc'])
  root = info['joints3d'][frames, 0] @ rotation.T + translation
  jl_cam = (jl + root[:, None]).astype(np.float32)
  segm_path = stem.parent / (stem.name + '_segm.mat')
  segm = None
  if segm_path.is_file():
    segm = scipy.io.loadmat(segm_path, variable_names=[
        f'segm_{t + 1}' for t in frames])
  row = {t: i for i, t in enumerate(frames)}
  for t, image in common.read_video_frames(stem.parent / (stem.name + '.mp4'),
                                           frames):
    i = row[t]
    image = np.ascontiguousarray(image[:, ::-1])
    if segm is not None and f'segm_{t + 1}' in segm:
      mask = (np.asarray(segm[f'segm_{t + 1}'])[:, ::-1] > 0).astype(np.uint8)
      has_mask = 1
    else:
      mask, has_mask = common.empty_mask(image), 0
    if mask.shape != image.shape[:2]:
      raise ValueError(f'{segm_path}: segm_{t + 1} is {mask.shape}, the video '
                       f'frame {image.shape[:2]}.')
    yield t, {
        'image': image, 'mask': mask, 'has_mask': np.int32(has_mask),
        'jl_cam': jl_cam[i], 'jl_valid': common.full_jl_valid(),
        'focal': np.asarray(FOCAL, np.float32),
        'principal': np.asarray(PRINCIPAL, np.float32),
        'pose': pose[i], 'betas': betas[i], 'gender': np.int32(gender[i]),
        'has_smpl': np.int32(1)}
