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
   smoothed over time (a Gaussian window of `sigma` frames); every frame
   is fitted again with the smoothed pose as a firm prior and its evidence
   down-weighted (`data_scale`), and the result is smoothed once more (the
   left-out frames' roots are not used: `final_roots`). The settings were
   chosen on clips of seeds 7 and 8 (`settings.VideoSettings`).
5. **Causal mode** does each of the three steps (leaving out, smoothing,
   smoothing the refit) over frames t - 4 sigma .. t + lag only, with the
   track's running mean shape and gender, so frame t's body is final once
   frame t + 3 lag is read (`VideoSettings.causal_window`: 12 frames, 0.4 s
   at 30 frames/s). `stream.VideoStream` gives the same bodies with frames
   pushed one at a time.

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


class Tracker:
  """Online tracking by boxes: each detection joins the live track whose
  last box it overlaps most (IoU >= `min_iou`; greedy, highest IoU
  first), a track is live while it was seen in the last `max_gap` frames,
  and an unmatched detection starts a new track."""

  def __init__(self, min_iou: float = settings_lib.VideoSettings.min_iou,
               max_gap: int = settings_lib.VideoSettings.max_gap):
    self.min_iou, self.max_gap = min_iou, max_gap
    self.last: dict[int, tuple[int, Any]] = {}  # id -> (frame, detection)
    self.count = 0

  def update(self, index: int, detections: list[Any]
             ) -> tuple[list[tuple[int, Any]], list[int]]:
    """Frame `index`'s detections -> ((track id, detection) in detection
    order, ids of the tracks that ended: unseen for more than max_gap
    frames)."""
    ended = [i for i, (last, _) in self.last.items()
             if index - last > self.max_gap + 1]
    for i in ended:
      del self.last[i]
    live = list(self.last)
    pairs = sorted(((detector_lib.box_iou(self.last[i][1].box, d.box), ti, di)
                    for ti, i in enumerate(live)
                    for di, d in enumerate(detections)), reverse=True)
    assigned: dict[int, int] = {}
    for iou, ti, di in pairs:
      if iou < self.min_iou or live[ti] in assigned.values() or (
          di in assigned):
        continue
      assigned[di] = live[ti]
    out = []
    for di, detection in enumerate(detections):
      if di not in assigned:
        assigned[di] = self.count
        self.count += 1
      self.last[assigned[di]] = (index, detection)
      out.append((assigned[di], detection))
    return out, ended


def track_detections(per_frame: list[tuple[int, list[Any]]],
                     min_iou: float = settings_lib.VideoSettings.min_iou,
                     max_gap: int = settings_lib.VideoSettings.max_gap
                     ) -> list[list[tuple[int, Any]]]:
  """Tracks of detections (`Tracker`): each a list of (frame index,
  detection).

  Args:
    per_frame: (frame index, detections with a `box`) in frame order.
    min_iou: a detection joins a track whose last box overlaps it this much.
    max_gap: frames a track may miss and still be continued.

  Returns:
    tracks, in order of their first frame.
  """
  tracker = Tracker(min_iou, max_gap)
  tracks: list[list[tuple[int, Any]]] = []
  for index, detections in per_frame:
    for track_id, detection in tracker.update(index, detections)[0]:
      if track_id == len(tracks):
        tracks.append([])
      tracks[track_id].append((index, detection))
  return tracks


def smooth(values: np.ndarray, sigma: float,
           lag: int | None = None) -> np.ndarray:
  """Gaussian smoothing over the first axis [T, ...].

  Frame t's value is the Gaussian-weighted mean of frames t - 4 sigma ..
  t + lag. Frames that are NaN (no body) and the clip's edges get no
  weight; a frame with no weighted neighbour stays NaN.

  Args:
    values: [T, ...] (NaN rows are missing frames).
    sigma: the window's std in frames (0: no smoothing).
    lag: frames after t that weigh in frame t (None: every frame, offline;
      0: only the past and t). Frame t's value is final once frame
      t + lag is known.

  Returns:
    [T, ...] float64.
  """
  values = np.asarray(values, np.float64)
  num = values.shape[0]
  if sigma <= 0 or num < 2:
    return values.copy()
  flat = values.reshape(num, -1)
  present = np.all(np.isfinite(flat), axis=1)
  # Banded: frames farther than 4 sigma weigh nothing (exp(-8)).
  band = int(np.ceil(4 * sigma))
  ahead = band if lag is None else min(lag, band)
  out = np.full_like(flat, np.nan)
  for start in range(0, num, CHUNK):
    rows = np.arange(start, min(start + CHUNK, num))
    cols = np.arange(max(start - band, 0), min(rows[-1] + ahead + 1, num))
    offset = cols[None] - rows[:, None]  # s - t
    weights = np.exp(-0.5 * (offset / sigma)**2) * present[cols][None]
    if lag is not None:
      # Exactly the window, so that a stream holding only it agrees.
      weights = np.where((offset > lag) | (offset < -band), 0.0, weights)
    total = weights.sum(axis=1, keepdims=True)
    block = np.where(present[cols][:, None], flat[cols], 0.0)
    out[rows] = np.where(total > 0, weights @ block /
                         np.maximum(total, 1e-300), np.nan)
  return out.reshape(values.shape)


def smooth_rotations(rot: np.ndarray, sigma: float,
                     lag: int | None = None) -> np.ndarray:
  """[T, J, 3, 3] rotations smoothed over time (`smooth`'s window): the
  weighted mean of the matrices, projected back onto rotations (NaN
  frames get no weight)."""
  mean = smooth(rot, sigma, lag)
  finite = np.all(np.isfinite(mean.reshape(len(mean), -1)), axis=1)
  out = np.full(mean.shape, np.nan, np.float32)
  if finite.any():
    out[finite] = np.asarray(rotations.project_to_rotation(
        mean[finite].astype(np.float32)))
  return out


def _turn_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[...] degrees between [..., 3, 3] rotations."""
  cosine = (np.einsum('...ab,...ab->...', a, b) - 1.0) / 2.0
  return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
  """The nearest rotation (SVD) of a [3, 3] matrix, in numpy (one per
  frame: no device round trip)."""
  u, _, vt = np.linalg.svd(matrix)
  return u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt


def is_outlier(orientation: np.ndarray, left_out: np.ndarray, position: int,
               sigma: float, max_angle_deg: float) -> bool:
  """Whether one frame of a window is a flipped or turned-around reading:
  its body orientation is more than `max_angle_deg` from the
  Gaussian-weighted mean orientation of the window's other frames, less
  those already left out.

  Args:
    orientation: [W, 3, 3] the window's global orientations.
    left_out: [W] bool, frames already found to be outliers.
    position: the frame's index in the window.
    sigma: the Gaussian's std, in frames.
    max_angle_deg: the largest turn from the reference.
  """
  weights = np.exp(-0.5 * ((np.arange(len(orientation)) - position) /
                           sigma)**2)
  weights[position] = 0.0
  weights[left_out] = 0.0
  if not weights.any():
    return False
  mean = np.einsum('t,tab->ab', weights,
                   np.asarray(orientation, np.float64))
  return bool(_turn_deg(_nearest_rotation(mean), orientation[position]) >
              max_angle_deg)


def outlier_frames(rot: np.ndarray, sigma: float, lag: int | None,
                   max_angle_deg: float) -> np.ndarray:
  """[T] bool: frames whose global orientation is more than
  `max_angle_deg` away from the smoothed orientation of the other frames
  (a detector's flipped or turned-around reading).

  Offline (lag None): twice over the whole clip, the second time without
  the first's outliers. With a lag, frame by frame (`is_outlier` over
  frames t - 4 sigma .. t + lag, less the earlier outliers): frame t's
  answer is final once frame t + lag is known.
  """
  num = len(rot)
  outliers = np.zeros(num, bool)
  if lag is None:
    for _ in range(2):  # once more without the first round's outliers
      kept = np.where(outliers[:, None, None], np.nan, rot[:, 0])
      smoothed = smooth_rotations(kept[:, None], sigma)[:, 0]
      # Frames with no kept neighbour keep their own orientation.
      smoothed = np.where(np.isfinite(smoothed), smoothed, rot[:, 0])
      outliers = _turn_deg(smoothed, rot[:, 0]) > max_angle_deg
    return outliers
  band = int(np.ceil(4 * sigma))
  for t in range(num):
    lo = max(t - band, 0)
    outliers[t] = is_outlier(rot[lo:t + lag + 1, 0], outliers[lo:t + lag + 1],
                             t - lo, sigma, max_angle_deg)
  return outliers


def clip_detector(photo_path, settings: settings_lib.VideoSettings
                  ) -> detector_lib.BlazePoseDetector:
  """The detector for a clip or a stream.

  One person: BlazePose's video mode tracks them (a fresh graph per clip);
  several: detection in every frame, tracked by their boxes, without the
  photo's extra looks and checks of unsure readings (they cost 1.5-5x per
  frame, the tracker bridges the frames where someone is missed and drops
  people seen in a frame or two).
  """
  return detector_lib.BlazePoseDetector(
      dataclasses.replace(photo_path.settings, extra_looks=False,
                          confirm_below=0.0),
      video_mode=settings.max_people == 1)


def detect_frame(detector, frame: np.ndarray, max_people: int) -> list[Any]:
  """The people `clip_detector` finds in one checked frame."""
  if max_people > 1:
    return detector.detect_people(frame, max_people)
  try:
    return [detector(frame)]
  except detector_lib.NoPersonError:
    return []


def check_frame(frame: np.ndarray, index: int, detector,
                size: tuple[int, int] | None) -> np.ndarray:
  """A frame checked (`detector.check_photo`) and of the clip's size
  (width, height; None for the first frame).

  Raises:
    VideoError: a frame that is not an image or too small, or of another
      size than the first.
  """
  try:
    frame = detector_lib.check_photo(frame,
                                     detector.settings.min_image_side)
  except ValueError as e:
    raise read.VideoError(f'frame {index}: {e}') from e
  if size is not None and tuple(frame.shape[1::-1]) != tuple(size):
    raise read.VideoError(f'frame {index} is {frame.shape[1]} x '
                          f'{frame.shape[0]}, the first {size[0]} x '
                          f'{size[1]}.')
  return frame


def _detect(detector, frames: Iterable[np.ndarray], max_people: int,
            progress):
  """(frame index, detections) for every decoded frame, and the frame
  size (None without frames); frames are dropped as soon as they are
  read."""
  per_frame, size = [], None
  for index, frame in enumerate(frames):
    frame = check_frame(frame, index, detector, size)
    size = frame.shape[1::-1]
    per_frame.append((index, detect_frame(detector, frame, max_people)))
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
def joints_of_parameters(points_model, pose, betas, gender):
  """[B, 24, 3] root-relative joints of SMPL parameters."""
  return jl_lib.smpl_points(points_model, pose, betas, gender)[:, :24]


def reader(photo_path, intrinsics):
  """[B, 33, 3] world landmarks, [B, 33, 2] pixels -> SMPLR's reading
  (pose [B, 24, 3, 3], betas [B, 10], male_probability [B])."""
  def read_frames(world, pixels):
    out = photo_path.read(world, pixels, intrinsics)
    return {k: out[k] for k in ('pose', 'betas', 'male_probability')}
  return read_frames


def fitter(photo_path, intrinsics):
  """The fit of a batch of frames to their landmarks, each frame's betas
  held near the track's (`PhotoPath.fit` with `betas_prior_mean`):
  (pose, betas, gender, world, visibility, pixels, root or None,
  fit options) -> pose, betas, root_cam, cost."""
  def fit_frames(pose, betas, gender, world, visibility, pixels, root,
                 fit_options):
    out = photo_path.fit(
        {'pose': pose, 'betas': betas, 'gender': gender}, world, pixels,
        visibility, intrinsics, root_cam=root, betas_prior_mean=betas,
        options=fit_options)
    return {k: out[k] for k in ('pose', 'betas', 'root_cam', 'cost')}
  return fit_frames


def fit_options(photo_path, options: settings_lib.VideoSettings):
  """The per-frame fit's options and the temporal fit's (the smoothed
  pose a firm prior, the landmarks down-weighted)."""
  base = dataclasses.replace(photo_path.settings.fit,
                             beta_sigma=options.beta_sigma)
  return base, dataclasses.replace(
      base, pose_sigma=options.smooth_pose_sigma,
      point_sigma=base.point_sigma * options.data_scale,
      point_sigma_2d=base.point_sigma_2d * options.data_scale)


def kept_targets(per_frame_pose: np.ndarray, per_frame_root: np.ndarray,
                 flipped: np.ndarray, sigma: float, lag: int | None
                 ) -> tuple[np.ndarray, np.ndarray]:
  """The temporal fit's targets: the per-frame fits' rotations [T, 24, 3,
  3] and roots [T, 3] smoothed without the flipped frames [T]; a frame
  with no kept neighbour keeps its own fit."""
  kept_pose = np.where(flipped[:, None, None, None], np.nan, per_frame_pose)
  kept_root = np.where(flipped[:, None], np.nan, per_frame_root)
  target = smooth_rotations(kept_pose, sigma, lag)
  root = smooth(kept_root, sigma, lag)
  missing = ~np.all(np.isfinite(target.reshape(len(target), -1)), axis=1)
  target[missing] = per_frame_pose[missing]
  root[missing] = per_frame_root[missing]
  return target, root


def final_roots(refit_root: np.ndarray, target_root: np.ndarray,
                flipped: np.ndarray, sigma: float,
                lag: int | None) -> np.ndarray:
  """[T, 3] the temporal fit's roots smoothed, less the flipped frames'
  (their landmarks disagree with the smoothed pose, so their fit trades
  depth for a smaller image: measured 4.4 -> 13.5 m) which take the
  target's root where no neighbour is kept."""
  root = smooth(np.where(flipped[:, None], np.nan, refit_root), sigma, lag)
  return np.where(np.isfinite(root), root, target_root)


def _fit_track(photo_path, track, size, focal,
               options: settings_lib.VideoSettings,
               stated_gender: str | None = None, fps: float | None = None):
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
  start = _in_chunks(chunks, reader(photo_path, intrinsics), world, pixels)
  gender_settings = photo_path.settings.gender
  frame_male = gender_lib.calibrate(start['male_probability'],
                                    gender_settings)
  causal = options.mode == 'causal'
  # Offline every frame weighs in; causal frame t's body is final once
  # frame t + 3 lag is read (`VideoStream` gives the same bodies live).
  sigma, lag = (options.causal_window(fps) if causal else
                (options.sigma, None))
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
  per_frame_options, temporal_options = fit_options(photo_path, options)
  fit_frames = fitter(photo_path, intrinsics)

  def fit(pose, root, fit_options):
    return _in_chunks(chunks, functools.partial(
        fit_frames, fit_options=fit_options), pose, betas, gender, world,
                      visibility, pixels, root)

  per_frame = fit(start['pose'], None, per_frame_options)
  # Frames whose reading flipped the body are left to their neighbours.
  flipped = outlier_frames(per_frame['pose'], sigma, lag,
                           options.max_turn_deg)
  if flipped.all() and not causal:
    flipped[:] = False
  target, root = kept_targets(per_frame['pose'], per_frame['root_cam'],
                              flipped, sigma, lag)
  temporal = fit(target, root, temporal_options)
  pose = temporal['pose']
  if options.final_smoothing:
    pose = smooth_rotations(pose, sigma, lag)
  pose = np.where(np.isfinite(pose), pose, temporal['pose'])
  root = final_roots(temporal['root_cam'], root, flipped, sigma, lag)

  def joints_of(pose, betas):
    return _in_chunks(chunks, functools.partial(joints_of_parameters, body.points), pose,
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
    frames [T] (indices into the clip), times [T] (seconds: a file's
    timestamps, else index / fps), pose [T, 24, 3, 3], betas [T, 10]
    (the track's shape, equal over frames offline), gender [T],
    male_probability [T] (calibrated), gender_label, gender_source,
    root_cam [T, 3], joints [T, 24, 3] (root-relative), per_frame_joints
    [T, 24, 3] (the per-frame fit, before the temporal fit), fit_cost [T],
    keypoints_2d [T, 33, 2], joint_seen [T, 24]), 'fps', 'times' [N]
    (every decoded frame's), 'num_frames', 'skipped_frames' (frames that
    failed to decode), 'image_size' (width, height), 'focal'.

  Raises:
    VideoError: an unreadable file, no frames, or frames of changing size.
  """
  gender = gender_lib.check_stated(gender)
  source = frames
  if isinstance(frames, (str, pathlib.Path)):
    source = read.open_video(frames)
  if isinstance(source, read.VideoFrames) and fps is None:
    fps = source.fps
  detector = clip_detector(photo_path, settings)
  try:
    per_frame, size = _detect(detector, source, settings.max_people,
                              progress)
  finally:
    detector.close()
  if not per_frame:
    raise read.VideoError('the video has no frames that decode.')
  focal = camera.resolve_focal(focal, size)
  # A file's frames keep their timestamps (a variable frame rate too).
  times = (np.asarray(source.times[:len(per_frame)], np.float64)
           if isinstance(source, read.VideoFrames) else
           np.arange(len(per_frame)) / (fps or 30.0))
  tracks = []
  for track in track_detections(per_frame, settings.min_iou,
                                settings.max_gap):
    fitted = _fit_track(photo_path, track, size, focal, settings, gender,
                        fps)
    tracks.append({**fitted, 'times': times[fitted['frames']]})
  return {'tracks': tracks, 'fps': fps, 'num_frames': len(per_frame),
          'times': times,
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
