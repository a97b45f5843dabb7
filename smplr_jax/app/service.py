"""The web app's work, without the web framework: checking an upload,
sharing the predictor between requests, one temporary folder a request.
It reads, predicts, writes and draws through the same homes as the demo
(`read`, `predictor.Predictor`, `write`, `draw`), never through the demo.

`AppService.photo` and `AppService.clip` take a file the framework saved
and return what the page shows (an overlay, a .glb for the 3D view, the
parameters, a status line) and the files to download. Every user mistake
(not an image or video, too large, no person, a bad box, a missing extra)
is an `InputError` with a one-line message for the page; anything else is
a bug and propagates.

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
    lock.
"""

from __future__ import annotations

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

import numpy as np
from PIL import Image

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
    self._waits: list[float] = []
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

  def check_photo_path(self) -> None:
    """Raises InputError (naming the [detector] extra) when people cannot
    be found here."""
    if self.detector_error is not None:
      raise InputError(self.detector_error)

  def waits(self) -> np.ndarray:
    """Seconds each request waited for the predictor, so far."""
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
  """

  def __init__(self, predictor: SharedPredictor,
               limits: settings_lib.AppLimits = settings_lib.AppLimits(),
               root: str | os.PathLike | None = None,
               keep_requests: int = 64):
    self.predictor = predictor
    self.limits = limits
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
