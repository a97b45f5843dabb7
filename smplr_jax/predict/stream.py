"""Live video: frames in one at a time, each person's body out a fixed
delay later.

`VideoStream` is causal mode (`video.predict_video` with
`VideoSettings(mode='causal')`) run frame by frame, for a camera loop or
the web app's webcam:

    stream = stream_lib.VideoStream(predictor.photo_path, fps=30.0)
    for frame in camera:                     # uint8 [H, W, 3]
      for body in stream.push(frame):        # the bodies now final
        body['track'], body['frame'], body['joints'], body['root_cam']
    for body in stream.finish():             # the last frames' bodies
      ...

Each frame is detected and tracked when it arrives (`video.Tracker`), and
each person in it read by SMPLR and fitted (the per-frame fit). A frame's
body is final once the frame `3 * lag` later has been read (12 frames,
0.4 s, at 30 frames/s: `VideoSettings.causal_window`): `lag` frames to
leave out flipped readings (`video.is_outlier`), `lag` to smooth the fits
(`video.kept_targets`) and fit again, and `lag` to smooth that. The bodies
are `predict_video`'s causal ones (the same functions on the same windows;
tests check them to 1e-4 m); a person missed by the detector delays their
own bodies until they are seen again or their track ends.

Memory is bounded: each track keeps only the frames its windows still
need (4 sigma + 3 lag, 29 at 30 frames/s) and a track unseen for
`max_gap` frames is finished and dropped.

Frames: camera frame (x right, y down, z forward), metres; joints
root-relative, `root_cam` the root in the camera.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from smplr_jax import camera
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import settings as settings_lib
from smplr_jax.predict import video


def _one(array) -> np.ndarray:
  """One frame's array -> a batch of one."""
  return np.asarray(array)[None]


class _Track:
  """One person's frames in a stream, from detection to final bodies."""

  def __init__(self, stream: 'VideoStream', track_id: int):
    self.stream = stream
    self.id = track_id
    self.first = 0  # the track sample held at position 0 of the buffers
    self.buffers: dict[str, list] = {}
    self.num = self.flagged = self.refitted = self.emitted = 0
    self.betas_sum = np.zeros(10)
    self.male_sum = 0.0

  def _rows(self, key: str, lo: int, hi: int) -> np.ndarray:
    """Samples lo..hi-1 of a buffer, stacked."""
    return np.stack(self.buffers[key][lo - self.first:hi - self.first])

  def _put(self, **values) -> None:
    for key, value in values.items():
      self.buffers.setdefault(key, []).append(value)

  def add(self, index: int, time: float, detection) -> list[dict]:
    """A frame's detection of this person -> the bodies now final."""
    s = self.stream
    start = s.read_frames(_one(detection.keypoints_3d),
                          _one(detection.keypoints_2d))
    male = float(gender_lib.calibrate(start['male_probability'],
                                      s.gender_settings)[0])
    # The running means of causal mode: frame t knows frames <= t.
    self.betas_sum += np.asarray(start['betas'][0], np.float64)
    self.male_sum += male
    count = self.num + 1
    betas = (self.betas_sum / count).astype(np.float32)
    male_mean = self.male_sum / count
    if s.stated_gender is None:
      gender = int(gender_lib.decide(np.asarray([male_mean]),
                                     s.gender_settings)[0])
    else:
      gender = int(gender_lib.STATED[s.stated_gender])
    per_frame = s.fit_frames(
        start['pose'], _one(betas), _one(np.int32(gender)),
        _one(detection.keypoints_3d), _one(detection.visibility),
        _one(detection.keypoints_2d), None, fit_options=s.per_frame_options)
    self._put(frame=index, time=time, world=detection.keypoints_3d,
              pixels=detection.keypoints_2d,
              visibility=detection.visibility, betas=betas, gender=gender,
              male=male_mean, per_frame_pose=np.asarray(per_frame['pose'][0]),
              per_frame_root=np.asarray(per_frame['root_cam'][0]))
    self.num += 1
    return self._advance(finished=False)

  def _advance(self, finished: bool) -> list[dict]:
    """Runs each step as far as its window allows (every frame when the
    track is finished); returns the bodies made final."""
    s = self.stream
    lag, band = s.lag, s.band
    ahead = 0 if finished else lag
    # 1. Flipped readings: frame u's answer needs frames up to u + lag.
    while self.flagged + ahead < self.num:
      u = self.flagged
      lo, hi = max(u - band, 0), min(u + lag + 1, self.num)
      flags = np.zeros(hi - lo, bool)
      flags[:u - lo] = self._rows('flipped', lo, u) if u > lo else []
      orientation = self._rows('per_frame_pose', lo, hi)[:, 0]
      self._put(flipped=video.is_outlier(orientation, flags, u - lo,
                                         s.sigma, s.settings.max_turn_deg))
      self.flagged += 1
    # 2. The smoothed target and the temporal fit: flags up to v + lag.
    while self.refitted + ahead < self.flagged:
      v = self.refitted
      lo, hi = max(v - band, 0), min(v + lag + 1, self.flagged)
      target, root = video.kept_targets(
          self._rows('per_frame_pose', lo, hi),
          self._rows('per_frame_root', lo, hi),
          self._rows('flipped', lo, hi), s.sigma, lag)
      row = v - lo
      refit = s.fit_frames(
          _one(target[row]), _one(self._rows('betas', v, v + 1)[0]),
          _one(np.int32(self.buffers['gender'][v - self.first])),
          _one(self.buffers['world'][v - self.first]),
          _one(self.buffers['visibility'][v - self.first]),
          _one(self.buffers['pixels'][v - self.first]), _one(root[row]),
          fit_options=s.temporal_options)
      self._put(refit_pose=np.asarray(refit['pose'][0]),
                refit_root=np.asarray(refit['root_cam'][0]),
                target_root=root[row],
                cost=float(refit['cost'][0]))
      self.refitted += 1
    # 3. The final smoothing: refits up to w + lag.
    bodies = []
    while self.emitted + ahead < self.refitted:
      bodies.append(self._final(self.emitted))
      self.emitted += 1
    # Only what the windows still need is kept.
    drop = max(self.emitted - band, 0) - self.first
    if drop > 0:
      for values in self.buffers.values():
        del values[:drop]
      self.first += drop
    return bodies

  def _final(self, w: int) -> dict[str, Any]:
    s = self.stream
    lo, hi = max(w - s.band, 0), min(w + s.lag + 1, self.refitted)
    refit_pose = self._rows('refit_pose', lo, hi)
    pose = refit_pose[w - lo]
    if s.settings.final_smoothing:
      smoothed = video.smooth_rotations(refit_pose, s.sigma, s.lag)[w - lo]
      pose = np.where(np.isfinite(smoothed), smoothed, pose)
    root = video.final_roots(
        self._rows('refit_root', lo, hi), self._rows('target_root', lo, hi),
        self._rows('flipped', lo, hi), s.sigma, s.lag)[w - lo]
    at = w - self.first
    betas = self.buffers['betas'][at]
    gender = self.buffers['gender'][at]
    joints = np.asarray(s.joints(_one(pose.astype(np.float32)), _one(betas),
                                 _one(np.int32(gender)))[0])
    return {
        'track': self.id, 'frame': self.buffers['frame'][at],
        'time': self.buffers['time'][at],
        'pose': pose.astype(np.float32), 'betas': betas, 'gender': gender,
        'male_probability': np.float32(self.buffers['male'][at]),
        'root_cam': root.astype(np.float32), 'joints': joints,
        'fit_cost': np.float32(self.buffers['cost'][at]),
        'keypoints_2d': np.asarray(self.buffers['pixels'][at], np.float32),
        **gender_lib.labels(np.asarray([gender]), s.stated_gender),
    }

  def finish(self) -> list[dict]:
    return self._advance(finished=True)


class VideoStream:
  """Causal mode, frame by frame (see the module docstring).

  Attributes:
    sigma, lag: the causal window in frames (`causal_window` at `fps`).
    delay: frames between a frame's arrival and its body (3 lag).
    size: the frames' (width, height), set by the first frame.
  """

  def __init__(self, photo_path, *, fps: float | None = None,
               focal: float | None = None,
               settings: settings_lib.VideoSettings = (
                   settings_lib.VideoSettings(mode='causal')),
               gender: str | None = None):
    """A stream.

    Args:
      photo_path: the `photo_path.PhotoPath` (`Predictor.photo_path`).
      fps: the frames' rate (30 when None): sets the window in frames and
        the times of frames pushed without one.
      focal: focal length in pixels (None: a 55 degree field of view).
      settings: `settings.VideoSettings` (its mode is not used: a stream
        is causal).
      gender: every track's body model: 'female', 'male' or 'neutral';
        None to estimate each track's.
    """
    self.photo_path = photo_path
    self.settings = settings
    self.fps = float(fps) if fps else 30.0
    self.focal = focal
    self.stated_gender = gender_lib.check_stated(gender)
    self.sigma, self.lag = settings.causal_window(self.fps)
    self.band = int(np.ceil(4 * self.sigma))
    self.delay = 3 * self.lag
    self.gender_settings = photo_path.settings.gender
    self.per_frame_options, self.temporal_options = video.fit_options(
        photo_path, settings)
    self.joints = functools.partial(video.joints_of_parameters,
                                    photo_path.body.points)
    self.detector = video.clip_detector(photo_path, settings)
    self.tracker = video.Tracker(settings.min_iou, settings.max_gap)
    self.tracks: dict[int, _Track] = {}
    self.size: tuple[int, int] | None = None
    self.index = 0

  def _start(self, size: tuple[int, int]) -> None:
    """The camera, from the first frame's size."""
    self.size = size
    focal = camera.resolve_focal(self.focal, size)
    self.focal = float(focal)
    intrinsics = camera.camera_matrix(np.array([focal, focal]),
                                      camera.principal_point(size))
    self.read_frames = video.reader(self.photo_path, intrinsics)
    self.fit_frames = video.fitter(self.photo_path, intrinsics)

  def push(self, frame: np.ndarray,
           time: float | None = None) -> list[dict[str, Any]]:
    """One frame in; the bodies made final by it out.

    Args:
      frame: uint8 [H, W, 3], the size of the first frame.
      time: its time in seconds (None: its index / fps).

    Returns:
      a list of bodies, each a dict: track (id), frame (index), time,
      pose [24, 3, 3], betas [10], gender, male_probability (the running
      mean, calibrated), root_cam [3], joints [24, 3] (root-relative),
      fit_cost, keypoints_2d [33, 2], gender_label, gender_source.

    Raises:
      ValueError: a frame that is not an image, or of another size
        (`read.VideoError`).
    """
    index = self.index
    frame = video.check_frame(frame, index, self.detector, self.size)
    if self.size is None:
      self._start(tuple(int(v) for v in frame.shape[1::-1]))
    self.index += 1
    time = index / self.fps if time is None else float(time)
    detections = video.detect_frame(self.detector, frame,
                                    self.settings.max_people)
    assigned, ended = self.tracker.update(index, detections)
    bodies = []
    for track_id in ended:
      bodies += self.tracks.pop(track_id).finish()
    for track_id, detection in assigned:
      track = self.tracks.setdefault(track_id, _Track(self, track_id))
      bodies += track.add(index, time, detection)
    return bodies

  def finish(self) -> list[dict[str, Any]]:
    """The end of the stream: every track's remaining bodies."""
    bodies = []
    for track_id in sorted(self.tracks):
      bodies += self.tracks.pop(track_id).finish()
    return bodies

  def close(self) -> None:
    """Closes the detector (the stream takes no more frames)."""
    self.detector.close()

  def __enter__(self) -> 'VideoStream':
    return self

  def __exit__(self, *exc) -> None:
    self.close()
