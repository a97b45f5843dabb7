"""The web app's work, without the web framework: checking an upload,
sharing the predictor between requests, one temporary folder a request.
It reads, predicts, writes and draws through the same homes as the demo
(`read`, `predictor.Predictor`, `write`, `draw`), never through the demo.

`AppService.photo` and `AppService.clip` take a file the framework saved
and return what the page shows (an overlay, a .glb for the 3D view, the
parameters, a status line) and the files to download. `LiveSession` is the
live webcam mode: frames in one at a time (`stream.VideoStream`), the
newest body drawn over its frame out, with frames/s and latency. Every
user mistake (not an image or video, too large, no person, a bad box, a
missing extra) is an `InputError` with a one-line message for the page;
anything else is a bug and propagates.

Safety:
  * an upload's size and an image's pixel count are checked from the file
    size and the image header before anything is decoded (a decompression
    bomb is refused by its header); a clip's frame count and frame size
    from its container before its frames are decoded;
  * outputs go to a fresh folder per request under the service's own
    temporary root, named by the service (never by the request); the
    oldest folders are removed once more than `keep_requests` exist, and
    the root on `close`;
  * one predictor serves every request, one request at a time
    (`SharedPredictor`): mediapipe's graph is not thread-safe, and two XLA
    CPU computations run from two threads at once deadlocked here (see
    `SharedPredictor`). Checking and decoding an upload happen outside the
    lock. A live frame that finds the predictor (or its own session) busy
    is dropped, never queued: a queue would only add latency.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
from PIL import Image

from smplr_jax import camera
from smplr_jax.body import gendered
from smplr_jax.predict import draw
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import prediction, read, write
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.predict import settings as settings_lib

EXAMPLES = ('person.jpg', 'walk.mp4')


class InputError(ValueError):
  """A problem with the user's input, shown in the page as it is."""


@dataclasses.dataclass
class Result:
  """What the page shows for one request.

  Attributes:
    status: one Markdown line: the path used, the fit's cost, timings.
    overlay: the overlay picture (.png, a photo) or clip (.mp4).
    model: the .glb for the 3D view (static for a photo, animated for a
      clip).
    parameters: the SMPL parameters (body.json's, or the tracks' summary).
    downloads: every file written, to download.
    seconds: wall time of the request, the wait for a predictor included.
  """
  status: str
  overlay: pathlib.Path | None
  model: pathlib.Path | None
  parameters: dict[str, Any]
  downloads: list[pathlib.Path]
  seconds: float


def example_path(name: str) -> pathlib.Path:
  """A shipped example input (`EXAMPLES`), from the installed package."""
  from smplr_jax import resources  # pylint: disable=g-import-not-at-top
  if name not in EXAMPLES:
    raise ValueError(f'no example {name!r}; there are {EXAMPLES}.')
  return resources.data_dir() / 'examples' / name


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
  """`read.parse_box`, its mistakes as `InputError`s."""
  try:
    return read.parse_box(text)
  except ValueError as e:
    raise InputError(str(e)) from e


def inspect_upload(path: str | os.PathLike,
                   limits: settings_lib.AppLimits) -> str:
  """'image' or 'video', from the file's header only; nothing decoded.

  Raises:
    InputError: missing, empty, too large, neither an image nor a video we
      read, or over the pixel or frame caps.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise InputError('no file received.')
  size = path.stat().st_size
  if size == 0:
    raise InputError('the file is empty.')
  if size > limits.max_upload_mb * 2**20:
    raise InputError(f'the file is {size / 2**20:.1f} MB; the limit is '
                     f'{limits.max_upload_mb:g} MB.')
  # Image.open reads the header only; PIL's own bomb check (twice its
  # MAX_IMAGE_PIXELS) may fire first and is the same refusal.
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      with Image.open(path) as image:
        width, height = image.size
  except Image.DecompressionBombError:
    raise InputError('the image has too many pixels (a decompression bomb'
                     f'?); the limit is {limits.max_image_pixels / 1e6:g} '
                     'megapixels.') from None
  except (OSError, ValueError, SyntaxError):  # not an image PIL reads
    pass
  else:
    if width * height > limits.max_image_pixels:
      raise InputError(f'the image is {width} x {height} pixels; the limit '
                       f'is {limits.max_image_pixels / 1e6:g} megapixels.')
    return 'image'
  return _inspect_clip(path, limits)


def clip_header(path: str | os.PathLike) -> tuple[int, int, int]:
  """(width, height, frames) of a video from its container (no frame
  decoded; frames estimated from the duration when not stored).

  Raises:
    InputError: no PyAV, or not a video.
  """
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise InputError('the file is not an image, and reading videos needs '
                     'the [video] extra: pip install "smplr_jax[video]".'
                     ) from None
  try:
    with av.open(str(path)) as container:
      if not container.streams.video:
        raise InputError('the file is neither an image nor a video.')
      stream = container.streams.video[0]
      width, height = stream.codec_context.width, stream.codec_context.height
      rate = float(stream.average_rate or 30)
      frames = stream.frames
      if not frames and stream.duration and stream.time_base:
        frames = round(float(stream.duration * stream.time_base) * rate)
      if not frames and container.duration:
        frames = round(container.duration / 1e6 * rate)
  except av.error.FFmpegError:
    raise InputError('the file is neither an image nor a video we can '
                     'read.') from None
  if not width or not height:  # e.g. text, read by ffmpeg's tty demuxer
    raise InputError('the file is neither an image nor a video we can '
                     'read.')
  return width, height, int(frames or 0)


def _inspect_clip(path: pathlib.Path,
                  limits: settings_lib.AppLimits) -> str:
  width, height, frames = clip_header(path)
  if width * height > limits.max_clip_pixels:
    raise InputError(f'the video is {width} x {height} pixels; the limit is '
                     f'{limits.max_clip_pixels / 1e6:g} megapixels a frame.')
  if frames > limits.max_clip_frames:
    raise InputError(f'the video has {frames} frames; the limit is '
                     f'{limits.max_clip_frames}: trim it.')
  return 'video'


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """uint8 [H, W, 3] -> [height, width, 3] of `size` (width, height): the
  image scaled to fit, centred on grey (a clip shown as a webcam's
  frames)."""
  width, height = size
  scale = min(width / image.shape[1], height / image.shape[0])
  inner = (max(1, round(image.shape[1] * scale)),
           max(1, round(image.shape[0] * scale)))
  out = np.full((height, width, 3), 128, np.uint8)
  left, top = (width - inner[0]) // 2, (height - inner[1]) // 2
  out[top:top + inner[1], left:left + inner[0]] = np.asarray(
      Image.fromarray(image).resize(inner, Image.BILINEAR))
  return out


def _warm_up_drawing(body: dict[str, Any], faces: np.ndarray,
                     size: tuple[int, int]) -> None:
  """Compiles `draw.mesh_overlay` for a (width, height) frame and the
  shapes a body there gives the rasterizer (how many triangles it shows,
  its largest on-screen window): the body turned every 45 degrees about
  the vertical, at three distances."""
  vertices = np.asarray(body['vertices'], np.float64)
  root = np.asarray(body['root_cam'], np.float64)
  frame = np.full((size[1], size[0], 3), 128, np.uint8)
  focal = camera.resolve_focal(None, size)
  for distance in (1.0, 1.5, 2.2):
    for angle in np.radians(np.arange(0, 360, 45)):
      turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                       [-np.sin(angle), 0, np.cos(angle)]])
      draw.mesh_overlay(frame, vertices @ turn.T + root * [1, 1, distance],
                        faces, focal, camera.principal_point(size))


def _check_gender(gender: str | None) -> str | None:
  """The app's gender choice ('auto', 'female', 'male', 'neutral') ->
  `gender.check_stated`'s; InputError otherwise."""
  try:
    return gender_lib.check_stated(gender)
  except ValueError as e:
    raise InputError(str(e)) from e


def _gender_text(body: dict) -> str:
  """'male (p = 0.83)', 'unknown (p = 0.55)' or 'female (stated)'."""
  label = body.get('gender_label', '?')
  if body.get('gender_source') == 'stated':
    return f'{label} (stated)'
  p = float(np.asarray(body['male_probability']).reshape(-1)[-1])
  return f'{label} (p male = {p:.2f})'


def _capped(frames, limit: int) -> Iterator[np.ndarray]:
  # The header's frame count can lie: stop decoding at the cap.
  for number, frame in enumerate(frames):
    if number >= limit:
      raise InputError(f'the video has more than {limit} frames; trim it.')
    yield frame


class SharedPredictor:
  """The `predictor.Predictor`, loaded once, lent to one request at a time.

  One lock, not a pool of predictors: mediapipe's graph is not
  thread-safe, and with a pool of two, eight concurrent requests
  deadlocked jaxlib 0.10.2's CPU runtime within seconds (two computations
  at once: a Cholesky custom call's batch loop waits on the intra-op
  thread pool that the other computation holds). On a small CPU little is
  lost: one computation already uses every core (docs/app.md has the
  measurements).

  `detector_error` is the message to show when people cannot be found here
  (`Predictor.check_photo_path`: the [detector] extra is missing); then only
  requests with a box work.
  """

  def __init__(self, weights: str | None = None,
               load: Callable[..., predictor_lib.Predictor] = (
                   predictor_lib.load_pipeline)):
    self.predictor = load(weights)
    self.detector_error: str | None = None
    self._lock = threading.Lock()
    # Bounded: the server may run for days.
    self._waits: collections.deque[float] = collections.deque(maxlen=4096)
    try:
      self.predictor.check_photo_path()
    except ValueError as e:
      self.detector_error = str(e)

  @contextlib.contextmanager
  def borrow(self) -> Iterator[predictor_lib.Predictor]:
    """Holds the predictor for one request's work (JAX and mediapipe)."""
    start = time.perf_counter()
    with self._lock:
      self._waits.append(time.perf_counter() - start)
      yield self.predictor

  @contextlib.contextmanager
  def try_borrow(self) -> Iterator[predictor_lib.Predictor | None]:
    """Holds the predictor if it is free now; yields None (and waits for
    nothing) when another request has it: a live frame is dropped then."""
    if not self._lock.acquire(blocking=False):
      yield None
      return
    try:
      yield self.predictor
    finally:
      self._lock.release()

  def check_photo_path(self) -> None:
    """Raises InputError (naming the [detector] extra) when people cannot
    be found here."""
    if self.detector_error is not None:
      raise InputError(self.detector_error)

  def waits(self) -> np.ndarray:
    """Seconds each request waited for the predictor (the last 4096)."""
    return np.asarray(list(self._waits))


class AppService:
  """Requests -> `Result`s, with a `SharedPredictor`.

  Args:
    predictor: the shared predictor.
    limits: the caps on inputs.
    root: the folder for request outputs (a fresh temporary one if None;
      removed by `close` when the service made it).
    keep_requests: request folders kept (the page links to the recent
      ones); older ones are removed.
    live: the live webcam mode's `LiveSettings`.
  """

  def __init__(self, predictor: SharedPredictor,
               limits: settings_lib.AppLimits = settings_lib.AppLimits(),
               root: str | os.PathLike | None = None,
               keep_requests: int = 64,
               live: 'LiveSettings | None' = None):
    self.predictor = predictor
    self.limits = limits
    self.live = live if live is not None else LiveSettings()
    self._owns_root = root is None
    self.root = pathlib.Path(root if root is not None else
                             tempfile.mkdtemp(prefix='smplr-app-'))
    self.root.mkdir(parents=True, exist_ok=True)
    self.keep_requests = keep_requests
    self._folders: list[pathlib.Path] = []
    self._lock = threading.Lock()

  def close(self) -> None:
    """Removes every request folder (and the root when the service made
    it)."""
    with self._lock:
      for folder in self._folders:
        shutil.rmtree(folder, ignore_errors=True)
      self._folders.clear()
    if self._owns_root:
      shutil.rmtree(self.root, ignore_errors=True)

  def _new_folder(self) -> pathlib.Path:
    folder = pathlib.Path(tempfile.mkdtemp(prefix='request-',
                                           dir=self.root))
    with self._lock:
      self._folders.append(folder)
      old = self._folders[:-self.keep_requests]
      del self._folders[:-self.keep_requests]
    for stale in old:
      shutil.rmtree(stale, ignore_errors=True)
    return folder

  def live_session(self, gender: str | None = None,
                   look_ahead: bool = False) -> 'LiveSession':
    """A `LiveSession` for one browser's webcam (`gender` as in `photo`);
    `look_ahead`: with `LiveSettings.look_ahead_s` in place of
    `causal_lag_s` (steadier, later).

    Raises:
      InputError: people cannot be found here (the [detector] extra), or
        an unknown gender.
    """
    live = self.live
    if look_ahead:
      live = dataclasses.replace(live, causal_lag_s=live.look_ahead_s)
    return LiveSession(self.predictor, live, gender)

  def warm_up_live(self, frames: int = 8) -> int:
    """Compiles the live mode at each of `LiveSettings.warm_up_sizes`: the
    example photo letterboxed to the size, `frames` frames at each of three
    person sizes and mirrored, through one session per size. The fits
    compile once per window length (a stream's first 7 bodies) and for a
    flipped reading (the mirrored frames), the drawing once per frame size
    and per few sizes of the body on screen (`render.rasterize_mesh`'s
    shapes); a later size of the body still compiles once, for about a
    second (the status line says so).

    Returns:
      the bodies drawn (0 would mean nothing was compiled).
    """
    photo = read.load_photo(str(example_path('person.jpg')))
    with self.predictor.borrow() as predictor:
      body = predictor.predict_image(photo)
      faces = np.asarray(predictor.body.gendered.faces)
      for size in self.live.warm_up_sizes:
        _warm_up_drawing(body, faces, size)
    drawn = 0
    for width, height in self.live.warm_up_sizes:
      shown = []
      for scale in (1.0, 0.75, 0.5):
        inner = letterbox(photo, (round(width * scale), round(height *
                                                              scale)))
        shown += [letterbox(inner, (width, height))] * frames
      shown += [shown[0][:, ::-1]] * frames
      session = self.live_session()
      try:
        for number, frame in enumerate(shown):
          session.push(frame, number / self.live.fps)
      finally:
        session.close()
      drawn += session.drawn
    return drawn

  def kind(self, path: str | os.PathLike) -> str:
    """'image' or 'video' (`inspect_upload`)."""
    return inspect_upload(path, self.limits)

  def photo(self, path: str | os.PathLike, box_text: str | None = None,
            everyone: bool = False, gender: str | None = None) -> Result:
    """A photo -> its body (or everyone's): overlay.png, body.glb,
    mesh.obj, body.json.

    Without a box, the photo path (detector -> adapter -> DAE -> SMPLR ->
    fit); with one, the image network on the box's crop. `gender`: 'auto'
    or None (estimated), 'female', 'male' or 'neutral' (stated).
    """
    start = time.perf_counter()
    if self.kind(path) != 'image':
      raise InputError('this is a video; use it as a clip.')
    gender = _check_gender(gender)
    box = parse_box(box_text)
    try:
      photo = read.load_photo(str(path))
    except ValueError as e:
      raise InputError('the file is not an image we can read.') from e
    side = self.limits.min_image_side
    if min(photo.shape[:2]) < side:
      raise InputError(f'the photo is {photo.shape[1]} x {photo.shape[0]} '
                       f'pixels; at least {side} a side are needed.')
    if box is None:
      self.predictor.check_photo_path()
    with self.predictor.borrow() as predictor:
      try:
        if box is not None:
          people = [predictor.predict_image(photo, box=box, gender=gender)]
        else:
          people = (predictor.predict_people(photo, gender=gender)
                    if everyone else
                    [predictor.predict_image(photo, gender=gender)])
      except ValueError as e:  # no person, a box outside the photo
        raise InputError(str(e)) from e
      if not people:
        raise InputError('no person found in the photo.')
      # The overlay is drawn by JAX too: still under the lock.
      paths = write.write_photo_outputs(people, photo, self._new_folder(),
                                        glb=True)
    parameters = json.loads(paths['json'].read_text())
    costs = [f'{float(np.asarray(p["fit_cost"]).reshape(-1)[0]):.4g}'
             for p in people if 'fit_cost' in p]
    readings = sorted({p['hypothesis'] for p in people if 'hypothesis' in p})
    path_used = prediction.path_of(people[0])
    genders = ', '.join(_gender_text(p) for p in people)
    seconds = time.perf_counter() - start
    status = (f'**{len(people)} {"person" if len(people) == 1 else "people"}'
              f'** · path: {path_used}'
              + f' · gender: {genders}'
              + (f' · reading kept: {", ".join(readings)}' if readings else '')
              + (f' · fit cost: {", ".join(costs)}' if costs else '')
              + f' · {seconds:.2f} s')
    return Result(status, paths['png'], paths['glb'], parameters,
                  [paths['glb'], paths['obj'], paths['json'], paths['png']],
                  seconds)

  def clip(self, path: str | os.PathLike, mode: str = 'offline',
           max_people: int = 1,
           progress: Callable[[int, int], None] | None = None,
           gender: str | None = None) -> Result:
    """A clip -> tracked, temporally fitted bodies: overlay.mp4, one
    animated .glb, .bvh, .json and .npz a track, video.json.

    `progress(frames_done, frames_total)` is called while frames are read;
    `gender` as in `photo`, for every track.
    """
    start = time.perf_counter()
    if self.kind(path) != 'video':
      raise InputError('this is a photo; use it as a photo.')
    gender = _check_gender(gender)
    try:
      frames = read.open_video(str(path))
      settings = settings_lib.VideoSettings(mode=mode,
                                            max_people=max_people)
    except (ImportError, ValueError) as e:
      raise InputError(str(e)) from e
    total = max(1, clip_header(path)[2])
    self.predictor.check_photo_path()
    with self.predictor.borrow() as predictor:
      try:
        result = predictor.predict_video(
            _capped(frames, self.limits.max_clip_frames), fps=frames.fps,
            settings=settings, gender=gender,
            progress=None if progress is None else
            (lambda done: progress(done, max(total, done))))
      except ValueError as e:
        raise InputError(str(e)) from e
      if not result['tracks']:
        raise InputError(f'no person found in any of the '
                         f'{result["num_frames"]} frames.')
      dae = 'DAE -> ' if predictor.uses_dae else ''
      paths = write.write_clip_outputs(
          result, str(path), self._new_folder(), predictor.body,
          predictor.track_vertices, mode)
    parameters = json.loads(paths['video.json'].read_text())
    seconds = time.perf_counter() - start
    tracks = len(result['tracks'])
    genders = ', '.join(_gender_text(t) for t in result['tracks'])
    status = (f'**{tracks} track{"s" if tracks != 1 else ""}** over '
              f'{result["num_frames"]} frames at {result["fps"]:.3g} '
              f'frames/s · path: detector -> adapter -> {dae}SMPLR -> '
              f'temporal fit ({mode}) · gender: {genders} · '
              f'{seconds:.1f} s')
    order = sorted(paths.values(), key=lambda p: (p.suffix != '.glb',
                                                 p.name))
    return Result(status, paths.get('overlay.mp4'), paths['track_0.glb'],
                  parameters, order, seconds)


@dataclasses.dataclass(frozen=True)
class LiveSettings:
  """How the live webcam mode streams (`LiveSession`).

  Latency (a frame's capture -> its body on the page) is the stream's
  delay, 3 * round(causal_lag_s * fps) frames at the rate reached, plus
  the work (detector, SMPLR, two small fits, the drawing: 50-70 ms at
  480 x 360 on 2 cores) and the way to the server and back. Measured in
  Chromium on 2 cores shared with other jobs (load average 4-5;
  `experiments/benchmarks/live.py`, docs/app.md): 9.1-13.1 frames/s,
  latency 0.12-0.16 s median, 0.15-0.22 s p90, with no look-ahead.
  The clip modes' causal look-ahead (4/30 s: one frame a step at 10
  frames/s, a delay of three) would add 0.3 s and miss the 0.3 s target;
  without it a flipped reading is not left out and the smoothing sees
  past frames only: P1-23 189 against 163 mm, acceleration error 33
  against 24 mm/frame^2 at 10 frames/s (`live.py --accuracy`). The page
  offers the look-ahead as a choice (`look_ahead_s`).

  Attributes:
    fps: the rate the stream's windows are sized for
      (`stream.VideoStream`'s fps; the rate reached on 2 cores, measured
      by `experiments/benchmarks/live.py`).
    causal_lag_s: the stream's look-ahead at each of its three steps
      (`VideoSettings.causal_lag_s`); 0: a frame's body is final as soon
      as the frame is read (smoothed over past frames only).
    look_ahead_s: the look-ahead the page offers instead (steadier,
      later): the clip modes' causal one.
    max_side: frames are shrunk to this longer side first (BlazePose
      reads a 256 px crop of the person; the drawing costs by the pixel):
      480 x 360 for a 4:3 webcam.
    extra_frames: frames kept beyond the stream's delay, to draw a body
      over its own frame.
    restart_after_s: a gap longer than this between one frame's read
      and the next frame (the camera was stopped) starts a fresh stream
      (and a fresh detector, which must find the person again).
    rate_window_s: frames/s and latency are measured over this many
      seconds.
    stream_every_s: how often the page sends the camera's newest frame (the
      server reads the newest it has when it is free).
    time_limit_s: a live stream ends after this long (the camera's button
      starts it again), so that a forgotten tab does not hold the server.
    warm_up_sizes: (width, height) frame sizes compiled when the app starts
      (the drawing compiles once per frame size): 4:3 and 16:9 webcams
      after `max_side`.
  """
  fps: float = 10.0
  causal_lag_s: float = 0.0
  look_ahead_s: float = settings_lib.VideoSettings.causal_lag_s
  max_side: int = 480
  extra_frames: int = 4
  restart_after_s: float = 1.0
  rate_window_s: float = 3.0
  stream_every_s: float = 0.05
  time_limit_s: float = 600.0
  warm_up_sizes: tuple[tuple[int, int], ...] = ((480, 360), (480, 270))

  def __post_init__(self):
    if self.fps <= 0 or self.max_side < 64 or self.causal_lag_s < 0:
      raise ValueError(f'fps must be positive, max_side at least 64 and '
                       f'causal_lag_s not negative, got {self.fps}, '
                       f'{self.max_side} and {self.causal_lag_s}.')

  def video_settings(self) -> settings_lib.VideoSettings:
    """The stream's `VideoSettings` (causal, this look-ahead)."""
    return settings_lib.VideoSettings(mode='causal',
                                      causal_lag_s=self.causal_lag_s)

  @property
  def delay_frames(self) -> int:
    """Frames between a frame's arrival and its body (`VideoStream.delay`)."""
    return 3 * self.video_settings().causal_window(self.fps)[1]


@dataclasses.dataclass
class LiveUpdate:
  """What the page shows after one live frame.

  Attributes:
    image: uint8 [h, w, 3]: the newest body drawn over its own frame (the
      camera's frame as it is while nobody is in view; None before the
      first frame is read).
    status: one Markdown line: frames/s, latency, frames dropped.
    frame: the stream's index of the frame shown (None before any).
    latency_s: for a new body, its frame's arrival -> the body drawn.
    drew: this push drew a new body.
    dropped: this frame was dropped (the server or the session was busy).
  """
  image: np.ndarray | None
  status: str
  frame: int | None
  latency_s: float | None
  drew: bool
  dropped: bool


@jax.jit
def _posed_vertices(model, pose, betas, gender):
  """[B, V, 3] root-relative meshes of [B] bodies (one compiled call)."""
  return gendered.posed_body(model, pose, betas, gender)['vertices']


class LiveSession:
  """One browser's live webcam stream: frames in, the newest body drawn
  over the frame it belongs to out (`push`).

  A `stream.VideoStream` (causal mode, `LiveSettings.video_settings`)
  reads each frame; a ring of the last `delay + extra_frames` frames keeps
  the frame each body belongs to. A frame that arrives while this session
  or the shared predictor is busy is dropped, never queued (a queue only
  adds latency); so is a frame older than one already read. Memory is
  bounded: the ring, the stream's windows (`VideoStream`) and the last 256
  timings.

  Args:
    predictor: the app's `SharedPredictor` (needs the [detector] extra).
    settings: `LiveSettings`.
    gender: 'auto'/None (estimated), 'female', 'male' or 'neutral'.
  """

  def __init__(self, predictor: SharedPredictor,
               settings: LiveSettings = LiveSettings(),
               gender: str | None = None):
    predictor.check_photo_path()
    self.predictor = predictor
    self.settings = settings
    self.gender = _check_gender(gender)
    self.keep_frames = settings.delay_frames + 1 + settings.extra_frames
    self.stream: Any = None  # a `stream.VideoStream` from the first frame
    self._origin = 0.0  # `now` of the stream's first frame
    self._frames: collections.OrderedDict[int, tuple[np.ndarray, float]] = (
        collections.OrderedDict())
    self._busy = threading.Lock()  # one push at a time; others drop
    self._counts = threading.Lock()
    self._last_arrival = -np.inf
    self._last_done = -np.inf  # the last read's end, on `now`'s clock
    self._shown: collections.deque[tuple[float, float]] = collections.deque(
        maxlen=256)  # (arrival, latency) of each body drawn
    self.received = self.processed = self.dropped = self.drawn = 0
    self.restarts = 0
    self._image: np.ndarray | None = None
    self._frame: int | None = None
    self._note = 'waiting for the first frame'

  def push(self, frame: np.ndarray, now: float | None = None) -> LiveUpdate:
    """One camera frame in; what the page shows out.

    Args:
      frame: uint8 [H, W, 3] (or RGBA), any size (shrunk to
        `max_side`); a new size starts a fresh stream.
      now: its arrival time in seconds (`time.monotonic()` when None).

    Returns:
      a `LiveUpdate`; a dropped frame's repeats the last image.

    Raises:
      InputError: not an RGB picture, or too small for the detector.
    """
    now = time.monotonic() if now is None else float(now)
    with self._counts:
      self.received += 1
    if not self._busy.acquire(blocking=False):
      return self._drop('dropped a frame: the last one is still being read')
    try:
      if now < self._last_arrival:
        return self._drop('dropped a frame older than one already read')
      with self.predictor.try_borrow() as predictor:
        if predictor is None:
          return self._drop('dropping frames: the server is busy with '
                            'another request')
        return self._read(predictor, frame, now)
    finally:
      self._busy.release()

  def stats(self, now: float | None = None) -> dict[str, float]:
    """Over the last `rate_window_s` before `now` (the last body's arrival
    when None): frames_per_s (bodies drawn a second), latency_median_s and
    latency_p90_s (NaN before two bodies), and the counts so far
    (received, processed, dropped, drawn, restarts) and frames held."""
    shown = list(self._shown)
    if now is None:
      now = shown[-1][0] if shown else 0.0
    recent = [(t, l) for t, l in shown
              if now - self.settings.rate_window_s < t <= now]
    rate = latency = p90 = float('nan')
    if len(recent) >= 2 and recent[-1][0] > recent[0][0]:
      rate = (len(recent) - 1) / (recent[-1][0] - recent[0][0])
    if recent:
      latency, p90 = np.percentile([l for _, l in recent], [50, 90])
    return {'frames_per_s': rate, 'latency_median_s': float(latency),
            'latency_p90_s': float(p90), 'received': self.received,
            'processed': self.processed, 'dropped': self.dropped,
            'drawn': self.drawn, 'restarts': self.restarts,
            'frames_held': len(self._frames)}

  def close(self) -> None:
    """Closes the stream's detector (waits for a push under way)."""
    with self._busy:
      if self.stream is not None:
        self.stream.close()
        self.stream = None
      self._frames.clear()

  def _drop(self, note: str) -> LiveUpdate:
    with self._counts:
      self.dropped += 1
    return LiveUpdate(self._image, self._status(note), self._frame, None,
                      drew=False, dropped=True)

  def _shrink(self, frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (
        3, 4):
      raise InputError(f'a webcam frame must be an RGB picture (uint8 '
                       f'[H, W, 3]), got {frame.dtype} {frame.shape}.')
    height, width = frame.shape[:2]
    scale = self.settings.max_side / max(height, width)
    if scale < 1:
      size = (max(1, round(width * scale)), max(1, round(height * scale)))
      return np.asarray(Image.fromarray(frame[..., :3]).resize(
          size, Image.BILINEAR))
    return np.ascontiguousarray(frame[..., :3])

  def _restart(self, predictor: predictor_lib.Predictor, now: float) -> None:
    """A fresh stream (a first frame, a new size or a pause)."""
    from smplr_jax.predict import stream as stream_lib  # pylint: disable=g-import-not-at-top
    if self.stream is not None:
      self.stream.close()
      self.restarts += 1
    self.stream = stream_lib.VideoStream(
        predictor.photo_path, fps=self.settings.fps,
        settings=self.settings.video_settings(), gender=self.gender)
    self._origin = now
    self._frames.clear()

  def _read(self, predictor: predictor_lib.Predictor, frame,
            now: float) -> LiveUpdate:
    start = time.perf_counter()
    frame = self._shrink(frame)
    size = (frame.shape[1], frame.shape[0])
    # A pause of the camera, not a slow read of ours (a compile), restarts.
    if (self.stream is None or self.stream.size not in (None, size) or
        now - self._last_done > self.settings.restart_after_s):
      self._restart(predictor, now)
    index = self.stream.index
    try:
      bodies = self.stream.push(frame, time=now - self._origin)
    except ValueError as e:  # too small for the detector
      raise InputError(str(e)) from e
    self._last_arrival = now
    self._frames[index] = (frame, now)
    while len(self._frames) > self.keep_frames:
      self._frames.popitem(last=False)
    self.processed += 1
    # The newest frame with final bodies, every person in it.
    shown = [b for b in bodies if b['frame'] in self._frames]
    latency = None
    if shown:
      newest = max(b['frame'] for b in shown)
      base, arrival = self._frames[newest]
      self._image = self._draw(predictor, base,
                               [b for b in shown if b['frame'] == newest])
      self._frame = newest
      latency = now - arrival + time.perf_counter() - start
      self._shown.append((now, latency))
      self.drawn += 1
      self._note = None
    elif not self.stream.tracks:  # nobody in view: the camera as it is
      self._image, self._frame = frame, index
      self._note = ('no person in view (BlazePose first finds a person by '
                    'their face: face the camera)')
    elif self._image is None:
      self._note = 'a person: their first body is on its way'
    work = time.perf_counter() - start
    self._last_done = now + work
    note = self._note
    if work > 1.0:  # compiling (a new session's first frames, a new size)
      note = (f'that frame took {work:.1f} s: compiling for this camera '
              '(the first seconds of a new size only)')
    return LiveUpdate(self._image, self._status(note), self._frame, latency,
                      drew=latency is not None, dropped=False)

  def _draw(self, predictor: predictor_lib.Predictor, frame: np.ndarray,
            bodies: list[dict[str, Any]]) -> np.ndarray:
    """The bodies' meshes over their frame (the farthest first)."""
    stream = self.stream
    vertices = np.asarray(_posed_vertices(
        predictor.body.gendered,
        np.stack([b['pose'] for b in bodies]).astype(np.float32),
        np.stack([b['betas'] for b in bodies]).astype(np.float32),
        np.asarray([b['gender'] for b in bodies], np.int32)))
    vertices = vertices + np.stack([b['root_cam'] for b in bodies])[:, None]
    faces = np.asarray(predictor.body.gendered.faces)
    principal = camera.principal_point(stream.size)
    for mesh in sorted(vertices, key=lambda v: -float(v[:, 2].mean())):
      frame = draw.mesh_overlay(frame, mesh, faces, stream.focal, principal)
    return frame

  def _status(self, note: str | None) -> str:
    stats = self.stats(self._last_arrival if np.isfinite(
        self._last_arrival) else None)
    parts = ['**live**']
    if np.isfinite(stats['frames_per_s']):
      parts.append(f"{stats['frames_per_s']:.1f} frames/s")
    if np.isfinite(stats['latency_median_s']):
      parts.append(f"latency {stats['latency_median_s']:.2f} s (median; "
                   'frame in -> its body drawn)')
    parts.append(f"{stats['dropped']} of {stats['received']} frames "
                 'dropped')
    parts.append(f'look-ahead {self.settings.delay_frames} frames')
    if note:
      parts.append(note)
    return ' · '.join(parts)
