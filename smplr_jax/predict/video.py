"""Video: frames -> tracked people -> one shape each -> smooth bodies.

`predict_video(photo_path, frames, fps)` (`Predictor.predict_video` calls
it with the pipeline's photo path, `photo_path.PhotoPath`):

1. **Detection, streamed**: each frame goes to the detector and is then
   dropped; only its keypoints are kept (33 x 6 numbers), so memory stays
   bounded on long clips. A frame that fails to decode is skipped and
   counted.
2. **Tracking** (`track_detections`): each detection joins the track whose
   last box it overlaps most (IoU >= `min_iou`), if that track was seen in
   the last `max_gap` frames; otherwise it starts a new track. A person who
   leaves and returns within the gap keeps the id.
3. **One shape per track**: adapter -> DAE -> SMPLR on every frame, then the
   track's betas are the mean of SMPLR's, its gender the vote of the
   calibrated probabilities of male (their mean; 'unknown', the neutral
   body, inside the unknown band: `gender`), or the user's stated gender;
   per-frame fits keep them (`PhotoPath.fit` with
   `betas_prior_mean` and a tight `beta_sigma`).
4. **Temporal fit**: frames whose body orientation is far from their
   neighbours' (`max_turn_deg`: a flipped or turned-around reading) are
   left out; the other per-frame fits' joint rotations and roots are
   smoothed over time (a Gaussian window of `sigma` frames: centred in
   'offline' mode; in 'causal' mode only past frames and the current one,
   so frame t depends on frames <= t); every frame is fitted again with the
   smoothed pose as a firm prior and its evidence down-weighted
   (`data_scale`), and the result is smoothed once more. The settings were
   chosen on clips of seeds 7 and 8 (`settings.VideoSettings`).

Frames: camera frame (x right, y down, z forward), metres; joints
root-relative, `root_cam` the root in the camera.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import Any, Iterable

import jax
import numpy as np

from smplr_jax import camera
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import read
from smplr_jax.predict import settings as settings_lib
from smplr_jax.predict import visibility as visibility_lib

# Frames per batched fit (bounds memory on long clips; not a tuned setting).
CHUNK = 256


def track_detections(per_frame: list[tuple[int, list[Any]]],
                     min_iou: float = settings_lib.VideoSettings.min_iou,
                     max_gap: int = settings_lib.VideoSettings.max_gap
                     ) -> list[list[tuple[int, Any]]]:
  """Tracks of detections: each a list of (frame index, detection).

  Args:
    per_frame: (frame index, detections with a `box`) in frame order.
    min_iou: a detection joins a track whose last box overlaps it this much.
    max_gap: frames a track may miss and still be continued.

  Returns:
    tracks, in order of their first frame; greedy matching, highest IoU
    first.
  """
  tracks: list[list[tuple[int, Any]]] = []
  for index, detections in per_frame:
    live = [t for t in tracks if index - t[-1][0] <= max_gap + 1]
    pairs = sorted(((detector_lib.box_iou(t[-1][1].box, d.box), ti, di)
                    for ti, t in enumerate(live)
                    for di, d in enumerate(detections)), reverse=True)
    used_tracks, used_detections = set(), set()
    for iou, ti, di in pairs:
      if iou < min_iou or ti in used_tracks or di in used_detections:
        continue
      live[ti].append((index, detections[di]))
      used_tracks.add(ti)
      used_detections.add(di)
    for di, detection in enumerate(detections):
      if di not in used_detections:
        tracks.append([(index, detection)])
  return tracks


def smooth(values: np.ndarray, sigma: float, causal: bool) -> np.ndarray:
  """Gaussian smoothing over the first axis [T, ...]: edges and frames
  that are NaN (no body) get no weight, the rest is renormalised; causal:
  only frames <= t weigh in frame t. A frame with no weighted neighbour
  stays NaN."""
  values = np.asarray(values, np.float64)
  num = values.shape[0]
  if sigma <= 0 or num < 2:
    return values.copy()
  flat = values.reshape(num, -1)
  present = np.all(np.isfinite(flat), axis=1)
  offsets = np.arange(num)[None] - np.arange(num)[:, None]  # [t, s]: s - t
  # Banded: frames farther than 4 sigma weigh nothing (exp(-8)).
  band = int(np.ceil(4 * sigma))
  out = np.full_like(flat, np.nan)
  for start in range(0, num, CHUNK):
    rows = slice(start, min(start + CHUNK, num))
    cols = slice(max(start - band, 0), min(start + CHUNK + band, num))
    offset = offsets[rows, cols]
    weights = np.exp(-0.5 * (offset / sigma)**2) * present[cols][None]
    if causal:
      weights = np.where(offset > 0, 0.0, weights)
    total = weights.sum(axis=1, keepdims=True)
    block = np.where(present[cols][:, None], flat[cols], 0.0)
    out[rows] = np.where(total > 0, weights @ block /
                         np.maximum(total, 1e-300), np.nan)
  return out.reshape(values.shape)


def smooth_rotations(rot: np.ndarray, sigma: float,
                     causal: bool) -> np.ndarray:
  """[T, J, 3, 3] rotations smoothed over time: the weighted mean of the
  matrices, projected back onto rotations (NaN frames get no weight)."""
  mean = smooth(rot, sigma, causal)
  finite = np.all(np.isfinite(mean.reshape(len(mean), -1)), axis=1)
  out = np.full(mean.shape, np.nan, np.float32)
  if finite.any():
    out[finite] = np.asarray(rotations.project_to_rotation(
        mean[finite].astype(np.float32)))
  return out


def outlier_frames(rot: np.ndarray, sigma: float, causal: bool,
                   max_angle_deg: float) -> np.ndarray:
  """[T] bool: frames whose global orientation is more than
  `max_angle_deg` away from the smoothed orientation of the other frames
  (a detector's flipped or turned-around reading)."""
  num = len(rot)
  outliers = np.zeros(num, bool)
  for _ in range(2):  # once more without the first round's outliers
    kept = np.where(outliers[:, None, None], np.nan, rot[:, 0])
    smoothed = smooth_rotations(kept[:, None], sigma, causal)[:, 0]
    # Frames with no kept neighbour keep their own orientation.
    smoothed = np.where(np.isfinite(smoothed), smoothed, rot[:, 0])
    cosine = (np.einsum('tab,tab->t', smoothed, rot[:, 0]) - 1.0) / 2.0
    angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    outliers = angle > max_angle_deg
  return outliers


def _detect(detector, frames: Iterable[np.ndarray], max_people: int,
            progress):
  """(frame index, detections) for every decoded frame, and the frame
  size (None without frames); frames are dropped as soon as they are
  read."""
  per_frame, size = [], None
  for index, frame in enumerate(frames):
    frame = detector_lib.check_photo(frame,
                                     detector.settings.min_image_side)
    if size is None:
      size = frame.shape[1::-1]
    elif frame.shape[1::-1] != size:
      raise read.VideoError(f'frame {index} is {frame.shape[1]} x '
                       f'{frame.shape[0]}, the first {size[0]} x {size[1]}.')
    if max_people == 1:
      try:
        found = [detector(frame)]
      except detector_lib.NoPersonError:
        found = []
    else:
      found = detector.detect_people(frame, max_people)
    per_frame.append((index, found))
    if progress is not None:
      progress(len(per_frame))
  return per_frame, size


# Chunk lengths the per-track programs are compiled for: a chunk is padded
# to the next one, so every clip length reuses at most four programs
# (padding wastes at most half a chunk).
CHUNK_BUCKETS = (32, 64, 128, CHUNK)


def _chunks(num: int) -> list[tuple[slice, int]]:
  """(frames, padded length) of each chunk of a num-frame track."""
  return [(slice(i, min(i + CHUNK, num)),
           next(b for b in CHUNK_BUCKETS if b >= min(CHUNK, num - i)))
          for i in range(0, num, CHUNK)]


def _padded(array, length: int) -> np.ndarray:
  """[n, ...] -> [length, ...], the last row repeated."""
  array = np.asarray(array)
  extra = length - len(array)
  return array if extra <= 0 else np.concatenate(
      [array, np.repeat(array[-1:], extra, axis=0)])


def _in_chunks(chunks: list[tuple[slice, int]], call, *arrays) -> Any:
  """`call` on each chunk (`_chunks`) of [num, ...] arrays, padded to the
  chunk's length (None passes through); its output (an array or a dict of
  [length, ...] arrays) trimmed to the chunk's frames and concatenated."""
  outs = []
  for rows, length in chunks:
    out = jax.device_get(call(*(None if a is None else
                                _padded(a[rows], length) for a in arrays)))
    outs.append(jax.tree.map(
        lambda x, n=rows.stop - rows.start: np.asarray(x)[:n], out))
  return jax.tree.map(lambda *parts: np.concatenate(parts), *outs)


@jax.jit
def _joints(points_model, pose, betas, gender):
  """[B, 24, 3] root-relative joints of SMPL parameters."""
  return jl_lib.smpl_points(points_model, pose, betas, gender)[:, :24]


def _fit_track(photo_path, track, size, focal,
               options: settings_lib.VideoSettings,
               stated_gender: str | None = None):
  """One track's smoothed bodies (see the module docstring)."""
  body = photo_path.body
  intrinsics = camera.camera_matrix(np.array([focal, focal]),
                                    camera.principal_point(size))
  frames = np.asarray([index for index, _ in track])
  world = np.stack([d.keypoints_3d for _, d in track])
  pixels = np.stack([d.keypoints_2d for _, d in track])
  visibility = np.stack([d.visibility for _, d in track])
  num = len(frames)
  chunks = _chunks(num)

  def start_of(world, pixels):  # SMPLR's reading of the landmarks
    out = photo_path.read(world, pixels, intrinsics)
    return {k: out[k] for k in ('pose', 'betas', 'male_probability')}

  start = _in_chunks(chunks, start_of, world, pixels)
  gender_settings = photo_path.settings.gender
  frame_male = gender_lib.calibrate(start['male_probability'],
                                    gender_settings)
  causal = options.mode == 'causal'
  if causal:  # the running mean: frame t knows frames <= t
    counts = np.arange(1, num + 1)[:, None]
    betas = np.cumsum(start['betas'], axis=0) / counts
    male = np.cumsum(frame_male) / counts[:, 0]
  else:
    betas = np.broadcast_to(start['betas'].mean(0), start['betas'].shape)
    male = np.full(num, frame_male.mean())
  # The vote of the calibrated probabilities, or the user's word.
  if stated_gender is None:
    gender = gender_lib.decide(male, gender_settings)
  else:
    gender = np.full(num, gender_lib.STATED[stated_gender], np.int32)
  base = dataclasses.replace(photo_path.settings.fit,
                             beta_sigma=options.beta_sigma)

  def fit(pose, root, fit_options):
    def one(pose, betas, gender, world, visibility, pixels, root):
      out = photo_path.fit(
          {'pose': pose, 'betas': betas, 'gender': gender}, world, pixels,
          visibility, intrinsics, root_cam=root, betas_prior_mean=betas,
          options=fit_options)
      return {k: out[k] for k in ('pose', 'betas', 'root_cam', 'cost')}
    return _in_chunks(chunks, one, pose, betas, gender, world, visibility,
                      pixels, root)

  per_frame = fit(start['pose'], None, base)
  # Frames whose reading flipped the body are left to their neighbours.
  flipped = outlier_frames(per_frame['pose'], options.sigma, causal,
                           options.max_turn_deg)
  if flipped.all():
    flipped[:] = False
  kept_pose = np.where(flipped[:, None, None, None], np.nan,
                       per_frame['pose'])
  kept_root = np.where(flipped[:, None], np.nan, per_frame['root_cam'])
  target = smooth_rotations(kept_pose, options.sigma, causal)
  root = smooth(kept_root, options.sigma, causal)
  missing = ~np.all(np.isfinite(target.reshape(num, -1)), axis=1)
  target[missing] = per_frame['pose'][missing]
  root[missing] = per_frame['root_cam'][missing]
  temporal = fit(target, root, dataclasses.replace(
      base, pose_sigma=options.smooth_pose_sigma,
      point_sigma=base.point_sigma * options.data_scale,
      point_sigma_2d=base.point_sigma_2d * options.data_scale))
  pose = temporal['pose']
  if options.final_smoothing:
    pose = smooth_rotations(pose, options.sigma, causal)
  pose = np.where(np.isfinite(pose), pose, temporal['pose'])
  root = smooth(temporal['root_cam'], options.sigma, causal)

  def joints_of(pose, betas):
    return _in_chunks(chunks, functools.partial(_joints, body.points), pose,
                      betas, gender)

  # The track's one shape (the fits kept within beta_sigma of it).
  betas = np.asarray(betas, np.float32)
  joints = joints_of(pose, betas)
  return {
      'frames': frames, 'pose': pose.astype(np.float32),
      'betas': betas,
      'gender': gender, 'male_probability': male.astype(np.float32),
      'root_cam': root.astype(np.float32), 'joints': joints,
      'per_frame_joints': joints_of(per_frame['pose'], per_frame['betas']),
      'fit_cost': temporal['cost'].astype(np.float32),
      'keypoints_2d': pixels.astype(np.float32),
      'joint_seen': visibility_lib.joint_seen(
          visibility_lib.project(joints + root[:, None], focal,
                                 camera.principal_point(size)),
          size, visibility),
      # The track's gender: its last frame's (every frame's offline).
      **gender_lib.labels(gender[-1:], stated_gender),
  }


def predict_video(photo_path, frames: Iterable[np.ndarray] | str |
                  pathlib.Path, *, fps: float | None = None,
                  focal: float | None = None,
                  settings: settings_lib.VideoSettings = (
                      settings_lib.VideoSettings()),
                  progress=None,
                  gender: str | None = None) -> dict[str, Any]:
  """Every person in a clip, tracked, one shape each, smoothed.

  Args:
    photo_path: the `photo_path.PhotoPath` (`Predictor.photo_path`).
    frames: a video file (a path, or `read.open_video`'s frames), or an
      iterable of uint8 [H, W, 3] frames (read once, one at a time).
    fps: frames per second (a file's own rate when None).
    focal: focal length in pixels (None: a 55 degree field of view).
    settings: `settings.VideoSettings`.
    progress: called with the number of frames read so far.
    gender: every track's body model: 'female', 'male' or 'neutral'; None
      to estimate each track's (`gender`).

  Returns:
    dict: 'tracks' (a list, one dict per person, `prediction.TRACK_KEYS`:
    frames [T] (indices into the clip), pose [T, 24, 3, 3], betas [T, 10]
    (the track's shape, equal over frames offline), gender [T],
    male_probability [T] (calibrated), gender_label, gender_source,
    root_cam [T, 3], joints [T, 24, 3] (root-relative), per_frame_joints
    [T, 24, 3] (the per-frame fit, before the temporal fit), fit_cost [T],
    keypoints_2d [T, 33, 2], joint_seen [T, 24]), 'fps',
    'num_frames', 'skipped_frames' (frames that failed to decode),
    'image_size' (width, height), 'focal'.

  Raises:
    VideoError: an unreadable file, no frames, or frames of changing size.
  """
  gender = gender_lib.check_stated(gender)
  source = frames
  if isinstance(frames, (str, pathlib.Path)):
    source = read.open_video(frames)
  if isinstance(source, read.VideoFrames) and fps is None:
    fps = source.fps
  # One person: BlazePose's video mode tracks them (a fresh graph per
  # clip); several: detection in every frame, tracked by their boxes,
  # without the photo's extra looks and checks of unsure readings (they
  # cost 1.5-5x per frame, the tracker bridges the frames where someone is
  # missed and drops people seen in a frame or two).
  detector = detector_lib.BlazePoseDetector(
      dataclasses.replace(photo_path.settings, extra_looks=False,
                          confirm_below=0.0),
      video_mode=settings.max_people == 1)
  try:
    per_frame, size = _detect(detector, source, settings.max_people,
                              progress)
  finally:
    detector.close()
  if not per_frame:
    raise read.VideoError('the video has no frames that decode.')
  focal = camera.resolve_focal(focal, size)
  tracks = [_fit_track(photo_path, track, size, focal, settings, gender)
            for track in track_detections(per_frame, settings.min_iou,
                                          settings.max_gap)]
  return {'tracks': tracks, 'fps': fps, 'num_frames': len(per_frame),
          'skipped_frames': getattr(source, 'skipped', 0),
          'image_size': tuple(int(v) for v in size), 'focal': float(focal)}


@jax.jit
def _posed_vertices(gendered_model, pose, betas, gender):
  return gendered.posed_body(gendered_model, pose, betas, gender)['vertices']


def track_vertices(body: gendered.GenderedModels,
                   track: dict[str, Any]) -> np.ndarray:
  """[T, V, 3] the root-relative mesh of each frame of a track
  (`predict_video`'s), computed in padded chunks (`CHUNK`)."""
  pose = np.asarray(track['pose'], np.float32)
  return _in_chunks(_chunks(len(pose)),
                    functools.partial(_posed_vertices, body.gendered), pose,
                    np.asarray(track['betas'], np.float32),
                    np.asarray(track['gender'], np.int32))
