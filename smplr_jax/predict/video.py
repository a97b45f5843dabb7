"""Video: frames -> tracked people -> one shape each -> smooth bodies.

`predict_video(photo_path, frames, fps)` (`inference.ImagePredictor.
predict_video` calls it with the pipeline's photo path):

1. **Detection, streamed**: each frame goes to the detector and is then
   dropped; only its keypoints are kept (33 x 6 numbers), so memory stays
   bounded on long clips. A frame that fails to decode is skipped and
   counted.
2. **Tracking** (`track_detections`): each detection joins the track whose
   last box it overlaps most (IoU >= `MIN_IOU`), if that track was seen in
   the last `MAX_GAP` frames; otherwise it starts a new track. A person who
   leaves and returns within the gap keeps the id.
3. **One shape per track**: adapter -> DAE -> SMPLR on every frame, then the
   track's betas are the mean of SMPLR's, its gender the vote of the
   probabilities of male; per-frame fits keep them (`fit.fit_body` with
   `betas_prior_mean` and a tight `beta_sigma`).
4. **Temporal fit**: frames whose body orientation is far from their
   neighbours' (`max_turn_deg`: a flipped or turned-around reading) are
   left out; the other per-frame fits' joint rotations and roots are
   smoothed over time (a Gaussian window of `sigma` frames: centred in
   'offline' mode; in 'causal' mode only past frames and the current one,
   so frame t depends on frames <= t); every frame is fitted again with the
   smoothed pose as a firm prior and its evidence down-weighted
   (`data_scale`), and the result is smoothed once more. The settings were
   chosen on clips of seeds 7 and 8 (`VideoOptions`).

Frames: camera frame (x right, y down, z forward), metres; joints
root-relative, `root_cam` the root in the camera.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import Any, Iterable, Iterator

import jax
import numpy as np

from smplr_jax import crop
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.body import rotations
from smplr_jax.predict import fit as fit_lib

# A detection joins a track whose last box it overlaps at least this much.
MIN_IOU = 0.3
# A track seen within this many frames can still be continued.
MAX_GAP = 15
# Frames per batched fit (bounds memory on long clips).
CHUNK = 256


class VideoError(ValueError):
  """A video that cannot be read (missing, not a video, no frames)."""


@dataclasses.dataclass
class VideoFrames:
  """Decoded frames of a file, streamed.

  Attributes:
    path: the file.
    fps: frames per second (the stream's average rate; None if unknown).
    skipped: frames that failed to decode (counted while iterating).
  """
  path: pathlib.Path
  fps: float | None
  skipped: int = 0

  def __iter__(self) -> Iterator[np.ndarray]:
    import av  # pylint: disable=g-import-not-at-top
    with av.open(str(self.path)) as container:
      stream = container.streams.video[0]
      packets = container.demux(stream)
      while True:
        try:
          packet = next(packets)
        except StopIteration:
          return
        except av.error.FFmpegError:  # a truncated file ends the clip
          self.skipped += 1
          return
        try:
          frames = packet.decode()
        except av.error.FFmpegError:  # one broken frame: skip, count
          self.skipped += 1
          continue
        for frame in frames:
          yield frame.to_ndarray(format='rgb24')


def open_video(path: str | pathlib.Path) -> VideoFrames:
  """A video file's frames (PyAV, which ships its own ffmpeg).

  Raises:
    VideoError: the file is missing or holds no video stream.
    ImportError: PyAV is not installed (`pip install -e ".[video]"`).
  """
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError('reading video needs PyAV: pip install -e '
                      '".[video]"') from e
  path = pathlib.Path(path)
  if not path.is_file():
    raise VideoError(f'{path} does not exist.')
  try:
    with av.open(str(path)) as container:
      if not container.streams.video:
        raise VideoError(f'{path} has no video stream.')
      rate = container.streams.video[0].average_rate
  except av.error.FFmpegError as e:
    raise VideoError(f'{path} is not a video ffmpeg can read ({e}).') from e
  return VideoFrames(path, float(rate) if rate else None)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
  """Intersection over union of two (x0, y0, x1, y1) boxes."""
  width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = width * height
  union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
           inter)
  return inter / union if union > 0 else 0.0


def track_detections(per_frame: list[tuple[int, list[Any]]],
                     min_iou: float = MIN_IOU, max_gap: int = MAX_GAP
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
    pairs = sorted(((box_iou(t[-1][1].box, d.box), ti, di)
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


@dataclasses.dataclass(frozen=True)
class VideoOptions:
  """How `predict_video` fits and smooths.

  Attributes:
    mode: 'offline' (the whole clip is seen) or 'causal' (frame t uses
      frames <= t only: for live streams).
    sigma: the smoothing window's std, in frames.
    smooth_pose_sigma: the temporal fit's prior: radians a joint may turn
      away from the smoothed pose.
    beta_sigma: how far a frame's betas may leave the track's.
    max_people: people per frame (1 uses the detector once per frame;
      more blank each found person and detect again).
    data_scale: the temporal fit's data terms count 1 / data_scale^2 as
      much as the per-frame fit's (BlazePose's landmarks jitter from frame
      to frame; the smoothed pose holds what they share).
    final_smoothing: smooth the temporal fit's rotations once more.
    max_turn_deg: a frame whose body orientation is this far from its
      neighbours' (a flipped reading) is left out of the smoothing.
  """
  mode: str = 'offline'
  sigma: float = 6.0
  smooth_pose_sigma: float = 0.05
  beta_sigma: float = 0.01
  max_people: int = 1
  data_scale: float = 3.0
  final_smoothing: bool = True
  max_turn_deg: float = 30.0


def _detect(detector, frames: Iterable[np.ndarray], max_people: int,
            progress):
  """(frame index, detections) for every decoded frame, and the frame
  size (None without frames); frames are dropped as soon as they are
  read."""
  from smplr_jax.predict import detector as detector_lib  # pylint: disable=g-import-not-at-top
  per_frame, size = [], None
  for index, frame in enumerate(frames):
    frame = detector_lib.check_photo(frame)
    if size is None:
      size = frame.shape[1::-1]
    elif frame.shape[1::-1] != size:
      raise VideoError(f'frame {index} is {frame.shape[1]} x '
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


def _fit_track(photo_path, track, size, focal, options: VideoOptions):
  """One track's smoothed bodies (see the module docstring)."""
  keypoints = photo_path.keypoints
  body = keypoints.body
  width, height = size
  principal = np.array([(width - 1) / 2, (height - 1) / 2])
  intrinsics = crop.camera_matrix(np.array([focal, focal]), principal)
  frames = np.asarray([index for index, _ in track])
  world = np.stack([d.keypoints_3d for _, d in track])
  pixels = np.stack([d.keypoints_2d for _, d in track])
  visibility = np.stack([d.visibility for _, d in track])
  weight = photo_path.point_weights(visibility)
  num = len(frames)
  chunks = _chunks(num)

  def start_of(world):  # SMPLR's reading of the landmarks
    out = keypoints(world)
    return {k: out[k] for k in ('pose', 'betas', 'male_probability')}

  start = _in_chunks(chunks, start_of, world)
  causal = options.mode == 'causal'
  if causal:  # the running mean: frame t knows frames <= t
    counts = np.arange(1, num + 1)[:, None]
    betas = np.cumsum(start['betas'], axis=0) / counts
    male = np.cumsum(start['male_probability']) / counts[:, 0]
  else:
    betas = np.broadcast_to(start['betas'].mean(0), start['betas'].shape)
    male = np.full(num, start['male_probability'].mean())
  gender = (male > 0.5).astype(np.int32)
  points = fit_lib.fit_points_for(body, kp_lib.BLAZEPOSE33)
  base = dataclasses.replace(photo_path.fit_options,
                             beta_sigma=options.beta_sigma)

  def fit(pose, root, fit_options):
    def one(pose, betas, gender, world, weight, pixels, root):
      out = fit_lib.fit_body(
          points, pose, betas, gender, points_3d=world, weights_3d=weight,
          align_3d='hip', pixels=pixels, weights_2d=weight,
          intrinsics=intrinsics, root_cam=root, betas_prior_mean=betas,
          options=fit_options)
      return {k: out[k] for k in ('pose', 'betas', 'root_cam', 'cost')}
    return _in_chunks(chunks, one, pose, betas, gender, world, weight,
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
  }


def predict_video(photo_path, frames: Iterable[np.ndarray] | str |
                  pathlib.Path, fps: float | None = None,
                  focal: float | None = None,
                  options: VideoOptions = VideoOptions(),
                  progress=None) -> dict[str, Any]:
  """Every person in a clip, tracked, one shape each, smoothed.

  Args:
    photo_path: a `detector.BlazePosePredictor` (`ImagePredictor.
      photo_path()`).
    frames: a video file (a path, or `open_video`'s frames), or an iterable
      of uint8 [H, W, 3] frames (read once, one at a time).
    fps: frames per second (a file's own rate when None).
    focal: focal length in pixels (None: a 55 degree field of view).
    options: `VideoOptions`.
    progress: called with the number of frames read so far.

  Returns:
    dict: 'tracks' (a list, one dict per person: frames [T] (indices into
    the clip), pose [T, 24, 3, 3], betas [T, 10] (the track's shape, equal
    over frames offline), gender [T], male_probability [T], root_cam
    [T, 3], joints [T, 24, 3] (root-relative), per_frame_joints [T, 24, 3]
    (the per-frame fit, before the temporal fit), fit_cost [T],
    keypoints_2d [T, 33, 2]), 'fps', 'num_frames', 'skipped_frames'
    (frames that failed to decode), 'image_size' (width, height), 'focal'.

  Raises:
    VideoError: an unreadable file, no frames, or frames of changing size.
  """
  if options.mode not in ('offline', 'causal'):
    raise ValueError(f"mode must be 'offline' or 'causal', got "
                     f'{options.mode!r}.')
  source = frames
  if isinstance(frames, (str, pathlib.Path)):
    source = open_video(frames)
  if isinstance(source, VideoFrames) and fps is None:
    fps = source.fps
  from smplr_jax.predict import detector as detector_lib  # pylint: disable=g-import-not-at-top
  # One person: BlazePose's video mode tracks them (a fresh graph per
  # clip); several: detection in every frame, tracked by their boxes.
  detector = (detector_lib.BlazePoseDetector(video_mode=True)
              if options.max_people == 1 else photo_path.detector)
  try:
    per_frame, size = _detect(detector, source, options.max_people,
                              progress)
  finally:
    if detector is not photo_path.detector:
      detector.close()
  if not per_frame:
    raise VideoError('the video has no frames that decode.')
  focal = crop.resolve_focal(focal, size)
  tracks = [_fit_track(photo_path, track, size, focal, options)
            for track in track_detections(per_frame)]
  return {'tracks': tracks, 'fps': fps, 'num_frames': len(per_frame),
          'skipped_frames': getattr(source, 'skipped', 0),
          'image_size': tuple(int(v) for v in size), 'focal': float(focal)}
