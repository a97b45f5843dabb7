"""`human36m`: Human3.6M (Ionescu et al., TPAMI 2014) as a TFDS dataset (no TF).

Manual directory: the official release's per-subject archives (Videos and
D3_Positions_mono poses), extracted side by side:

    S{1,5,6,7,8,9,11}/Videos/<action>.<camera>.mp4
    S{1,5,6,7,8,9,11}/MyPoseFeatures/D3_Positions_mono/<action>.<camera>.cdf

<action> is the release's name, e.g. `Directions 1`, `WalkDog`; <camera>
one of 54138969, 55011271, 58860488, 60457274. A D3_Positions_mono file
holds `Pose` [1, N, 96]: 32 joints x (x, y, z) per frame, in millimetres,
in the camera frame of <camera> (the release's D2_Positions are not needed).
The video of a pose file is the .mp4 of the same name; for the release's two
spelling differences between pose and video names (`Photo` /
`TakingPhoto`, `WalkDog` / `WalkingDog`) the other spelling is tried too.
Every subject needs at least one pose file and every pose file its video;
otherwise the build stops with a `MissingFilesError` naming the missing
files. Build with

    python -m smplr_jax.data.datasets.build human36m --data_dir=DATA \
        --manual_dir=/path/to/h36m [--config=protocol1]

Splits (the standard protocol): train = S1, S5, S6, S7, S8; test = S9,
S11. Frames are subsampled: every `train_stride`-th frame of the training
subjects (5 by default, the common choice) and every `test_stride`-th of the
test subjects (64, as in protocol-1 evaluations of several works; set 1 for
all frames). `S11/Directions.54138969` is skipped by default (its video is
broken in the release). The cameras' intrinsics are the published
calibration (`CAMERAS`, pixels at the full 1000 x 1000 / 1000 x 1002
resolution); a `cameras.json` in the manual directory, {"<camera>":
{"focal": [fx, fy], "principal": [cx, cy]}, ...}, overrides them. Lens
distortion is ignored.

Records:
  * jl_cam: 16 of the 24 SMPL joints from the 32 Human3.6M joints
    (`H36M_TO_SMPL`: pelvis, hips, knees, ankles, spine2 <- spine (12),
    neck <- thorax (13), head <- neck/nose (14, the height of SMPL's head
    joint; 15 is the top of the head), shoulders, elbows, wrists), metres;
    jl_valid is 1 exactly there, landmarks are invalid (0) and unmapped
    points are 0. The root is the Human3.6M pelvis.
  * h36m17_cam [17, 3]: the standard 17-joint Human3.6M skeleton of the
    evaluation protocols (`H36M17_FROM_32`: pelvis, right hip/knee/ankle,
    left hip/knee/ankle, spine, thorax, neck/nose, head, left
    shoulder/elbow/wrist, right shoulder/elbow/wrist), camera frame, metres,
    absolute. This is the skeleton Table 2's P1 and P2 are computed on.
  * subject (9 for S9, ...) and action (index into `ACTIONS`, the 15
    standard action names; -1 if the sequence name matches none), for
    per-subject and per-action tables.
  * no SMPL parameters (has_smpl = 0, pose and betas 0, gender -1) and no
    mask (has_mask = 0).
  * image: the full frame as JPEG (config `image_format`), optionally
    shrunk to `max_side` pixels (intrinsics scaled to match).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import re
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds

from smplr_jax.body import jl as jl_lib
from smplr_jax.data import records
from smplr_jax.data.datasets import common

TRAIN_SUBJECTS = ('S1', 'S5', 'S6', 'S7', 'S8')
TEST_SUBJECTS = ('S9', 'S11')
SPLITS = {'train': TRAIN_SUBJECTS, 'test': TEST_SUBJECTS}
POSE_DIR = 'MyPoseFeatures/D3_Positions_mono'
VIDEO_DIR = 'Videos'
NUM_H36M_JOINTS = 32

# Published intrinsics of the four Human3.6M cameras (pixels):
# camera id -> (focal (fx, fy), principal point (cx, cy), size (w, h)).
CAMERAS = {
    '54138969': ((1145.0494384765625, 1143.7811279296875),
                 (512.54150390625, 515.4514770507812), (1000, 1002)),
    '55011271': ((1149.6756591796875, 1147.5916748046875),
                 (508.8486328125, 508.0649108886719), (1000, 1000)),
    '58860488': ((1149.1407470703125, 1148.7989501953125),
                 (519.8158569335938, 501.40264892578125), (1000, 1000)),
    '60457274': ((1145.5113525390625, 1144.77392578125),
                 (514.9682006835938, 501.88201904296875), (1000, 1002)),
}

# SMPL joint name -> Human3.6M joint index (32-joint skeleton of the release:
# 0 hip centre, 1-3 right hip/knee/ankle, 6-8 left hip/knee/ankle, 12 Spine1,
# 13 thorax, 14 neck/nose, 15 head top, 17-19 left shoulder/elbow/wrist,
# 25-27 right).
H36M_TO_SMPL = {
    'pelvis': 0, 'right_hip': 1, 'right_knee': 2, 'right_ankle': 3,
    'left_hip': 6, 'left_knee': 7, 'left_ankle': 8, 'spine2': 12,
    'neck': 13, 'head': 14, 'left_shoulder': 17, 'left_elbow': 18,
    'left_wrist': 19, 'right_shoulder': 25, 'right_elbow': 26,
    'right_wrist': 27,
}
SMPL_INDICES = np.array([jl_lib.JOINT_NAMES.index(n) for n in H36M_TO_SMPL])
H36M_INDICES = np.array(list(H36M_TO_SMPL.values()))

# The standard 17 of the 32 joints (Martinez et al. 2017 and most later
# works): pelvis 0, right hip 1, knee 2, ankle 3, left hip 6, knee 7,
# ankle 8, spine 12, thorax 13, neck/nose 14, head 15, left shoulder 17,
# elbow 18, wrist 19, right shoulder 25, elbow 26, wrist 27 (the order of
# `smplr_jax.body.keypoints.H36M17`).
H36M17_FROM_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# The 15 actions of the protocols' per-action tables.
ACTIONS = ('Directions', 'Discussion', 'Eating', 'Greeting', 'Phoning',
           'Photo', 'Posing', 'Purchases', 'Sitting', 'SittingDown',
           'Smoking', 'Waiting', 'WalkDog', 'Walking', 'WalkTogether')

# Pose-file and video spellings that differ in the release.
_ALIASES = (('TakingPhoto', 'Photo'), ('WalkingDog', 'WalkDog'))
_NAME_RE = re.compile(r'^(?P<action>.+)\.(?P<camera>\d{8})$')

LAYOUT = """\
  S{1,5,6,7,8,9,11}/Videos/<action>.<camera>.mp4
  S{1,5,6,7,8,9,11}/MyPoseFeatures/D3_Positions_mono/<action>.<camera>.cdf
(the extracted per-subject Videos and D3_Positions_mono archives of the
official Human3.6M release)"""


@dataclasses.dataclass(eq=False)
class Human36mConfig(tfds.core.BuilderConfig):
  """Attributes:
    train_stride: keep every k-th frame of the training subjects.
    test_stride: keep every k-th frame of the test subjects.
    exclude: `<subject>/<action>.<camera>` sequences to skip.
    max_side: shrink frames to this longest side (None: keep 1000 px).
    image_format: 'jpeg' or 'png'.
    jpeg_quality: JPEG quality.
  """
  train_stride: int = 5
  test_stride: int = 64
  exclude: tuple[str, ...] = ('S11/Directions.54138969',)
  max_side: int | None = None
  image_format: str = 'jpeg'
  jpeg_quality: int = 90


def read_poses(path: pathlib.Path) -> np.ndarray:
  """D3_Positions_mono .cdf -> float32 [N, 32, 3] metres (camera frame)."""
  import cdflib  # pylint: disable=g-import-not-at-top

  try:
    pose = np.asarray(cdflib.CDF(str(path)).varget('Pose'), np.float64)
  except Exception as e:  # cdflib raises several types on bad files.
    raise ValueError(f'{path}: not a readable Human3.6M pose file with a '
                     f'`Pose` variable ({type(e).__name__}: {e}).') from e
  if pose.size % (NUM_H36M_JOINTS * 3):
    raise ValueError(f'{path}: Pose has shape {pose.shape}; expected [1, N, '
                     f'{NUM_H36M_JOINTS * 3}].')
  return (pose.reshape(-1, NUM_H36M_JOINTS, 3) / 1000.0).astype(np.float32)


def video_candidates(name: str) -> list[str]:
  """Video base names to try for a pose file `<action>.<camera>`."""
  names = [name]
  for long, short in _ALIASES:
    if name.startswith(long):
      names.append(short + name[len(long):])
    elif name.startswith(short) and not name.startswith(long):
      names.append(long + name[len(short):])
  return names


def find_sequences(manual_dir: pathlib.Path, subjects, exclude=()):
  """Pose files and their videos per subject, and the missing files.

  Returns:
    (sequences: list of (subject, name, pose path, video path), missing:
    paths relative to manual_dir).
  """
  sequences, missing = [], []
  for subject in subjects:
    pose_files = sorted((manual_dir / subject / POSE_DIR).glob('*.cdf'))
    if not pose_files:
      missing.append(f'{subject}/{POSE_DIR}/<action>.<camera>.cdf (none '
                     'found)')
      if not (manual_dir / subject / VIDEO_DIR).is_dir():
        missing.append(f'{subject}/{VIDEO_DIR}/<action>.<camera>.mp4 (none '
                       'found)')
      continue
    for pose_file in pose_files:
      name = pose_file.stem
      if f'{subject}/{name}' in exclude:
        continue
      video_dir = manual_dir / subject / VIDEO_DIR
      videos = [video_dir / f'{n}.mp4' for n in video_candidates(name)]
      video = next((v for v in videos if v.is_file()), None)
      if video is None:
        missing.append(f'{subject}/{VIDEO_DIR}/{name}.mp4')
        continue
      sequences.append((subject, name, pose_file, video))
  return sequences, missing


def read_cameras(manual_dir: pathlib.Path) -> dict[str, tuple]:
  """`CAMERAS`, overridden by `<manual_dir>/cameras.json` when present."""
  cameras = {k: (np.asarray(f, np.float32), np.asarray(c, np.float32))
             for k, (f, c, _) in CAMERAS.items()}
  path = manual_dir / 'cameras.json'
  if path.is_file():
    try:
      table = json.loads(path.read_text())
      for camera, entry in table.items():
        cameras[str(camera)] = (np.asarray(entry['focal'], np.float32),
                                np.asarray(entry['principal'], np.float32))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
      raise ValueError(
          f'{path}: expected {{"<camera id>": {{"focal": [fx, fy], '
          f'"principal": [cx, cy]}}, ...}} ({type(e).__name__}: {e}).') from e
  return cameras


def action_index(name: str) -> int:
  """`ACTIONS` index of a sequence name `<action>[ <k>].<camera>` (the
  release's alternative spellings `TakingPhoto` and `WalkingDog` included),
  -1 if it is none of them."""
  action = re.sub(r'[\s_\d]+$', '', name.split('.')[0])
  action = {'TakingPhoto': 'Photo', 'WalkingDog': 'WalkDog'}.get(action,
                                                                 action)
  return ACTIONS.index(action) if action in ACTIONS else -1


def joints_to_jl(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Human3.6M joints [N, 32, 3] -> (jl_cam [N, 42, 3], jl_valid [42])."""
  jl_cam = np.zeros((joints.shape[0], jl_lib.NUM_POINTS, 3), np.float32)
  jl_cam[:, SMPL_INDICES] = joints[:, H36M_INDICES]
  jl_valid = np.zeros(jl_lib.NUM_POINTS, np.float32)
  jl_valid[SMPL_INDICES] = 1.0
  return jl_cam, jl_valid


class Human36m(common.ArrayRecordBuilder):
  """Human3.6M frames with 16 camera-frame SMPL joints and the 17-joint
  evaluation skeleton."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES: ClassVar[dict[str, str]] = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'h36m17_cam (the 17-joint evaluation skeleton), subject and '
               'action.'}
  EXTRA_SPEC: ClassVar[dict[str, tuple]] = {
      'h36m17_cam': (np.float32, (len(H36M17_FROM_32), 3)),
      'subject': (np.int32, ()),
      'action': (np.int32, ()),
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download Human3.6M (http://vision.imar.ro/human3.6m/, licence '
      'required): for each of S1, S5, S6, S7, S8, S9, S11 the Videos and '
      'the D3_Positions_mono pose archives; extract them into one folder and '
      'pass it as the manual directory. Layout:\n' + LAYOUT)
  BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
      Human36mConfig(name='protocol1', description='Train every 5th frame, '
                     'test every 64th frame.'),
      Human36mConfig(name='protocol1_500px', description='As protocol1, '
                     'frames shrunk to 500 px.', max_side=500),
      Human36mConfig(name='all_test_frames', description='Train every 5th '
                     'frame, test every frame.', test_stride=1),
  ]
  DEFAULT_CONFIG_NAME = 'protocol1'

  DESCRIPTION = ('Human3.6M frames with 16 SMPL joints in camera '
                 'coordinates; see smplr_jax/data/datasets/human36m.py.')
  HOMEPAGE = 'http://vision.imar.ro/human3.6m/'

  def _split_generators(self, dl_manager) -> dict[str, Any]:
    manual_dir = common.manual_dir_of(dl_manager)
    config = self.builder_config
    found, missing = {}, []
    for split, subjects in SPLITS.items():
      found[split], split_missing = find_sequences(manual_dir, subjects,
                                                   config.exclude)
      missing += split_missing
    common.raise_if_missing('human36m', manual_dir, missing, LAYOUT)
    cameras = read_cameras(manual_dir)
    strides = {'train': config.train_stride, 'test': config.test_stride}
    # A unit is one sequence (a subject's action seen by one camera).
    return {split: self._generate_examples(
        [(i, subject, name, str(pose_file), str(video))
         for i, (subject, name, pose_file, video) in enumerate(seqs)],
        functools.partial(sequence_examples, cameras=cameras,
                          stride=strides[split], config=config))
            for split, seqs in found.items()}


def sequence_examples(unit: tuple[int, str, str, str, str], *,
                      cameras: dict[str, tuple], stride: int,
                      config: Human36mConfig):
  """The encoded examples of one sequence, the unit of work of a build.

  Args:
    unit: (the sequence's index in its split, subject 'S9', name
      '<action>.<camera>', pose file path, video path).
    cameras: camera id -> (focal [2], principal [2]) (`read_cameras`).
    stride: keep frames 0, stride, 2 stride, ...
    config: the builder config (max side, image format, quality).

  Yields:
    (`common.unit_key(index, frame)`, example of `common.encode_record`).
  """
  index, subject, name, pose_file, video = unit
  for t, record in sequence_records(pathlib.Path(pose_file),
                                    pathlib.Path(video), cameras, stride,
                                    config.max_side):
    record.update(subject=np.int32(subject[1:]),
                  action=np.int32(action_index(name)))
    yield common.unit_key(index, t), common.encode_record(
        record, config.image_format, config.jpeg_quality,
        source=f'{video} frame {t}', extra_spec=Human36m.EXTRA_SPEC)


def sequence_records(pose_file: pathlib.Path, video: pathlib.Path,
                     cameras: dict[str, tuple], stride: int,
                     max_side: int | None = None):
  """Records of one Human3.6M sequence (one action, one camera).

  Yields:
    (frame index, record) for frames 0, stride, 2 stride, ... that have
    both a pose and a video frame.
  """
  match = _NAME_RE.match(pose_file.stem)
  if not match or match['camera'] not in cameras:
    raise ValueError(f'{pose_file}: expected <action>.<camera>.cdf with a '
                     f'camera in {sorted(cameras)}.')
  focal, principal = cameras[match['camera']]
  joints = read_poses(pose_file)
  jl_cam, jl_valid = joints_to_jl(joints)
  frames = range(0, joints.shape[0], stride)
  for t, image in common.read_video_frames(video, frames):
    mask = common.empty_mask(image)
    image, mask, f, c = common.downscale(image, mask, focal, principal,
                                         max_side)
    yield t, {
        'image': image, 'mask': mask, 'has_mask': np.int32(0),
        'jl_cam': jl_cam[t], 'jl_valid': jl_valid,
        'focal': np.asarray(f, np.float32),
        'principal': np.asarray(c, np.float32),
        'pose': np.zeros((jl_lib.NUM_JOINTS, 3), np.float32),
        'betas': np.zeros(records.NUM_BETAS, np.float32),
        'gender': np.int32(-1), 'has_smpl': np.int32(0),
        'h36m17_cam': joints[t, list(H36M17_FROM_32)]}
