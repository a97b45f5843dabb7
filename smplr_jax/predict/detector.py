r"""Finding people: a whole photo -> BlazePose's landmarks and a box.

The optional extra `pip install -e ".[detector]"` installs mediapipe 0.10.14,
whose wheel ships the legacy pose solution: BlazePose's person detector and
its GHUM 'full' landmark model (`pose_landmark_full.tflite`), free and
offline. `BlazePoseDetector` runs it on a photo and returns 33 landmarks
(`keypoints.BLAZEPOSE33` order) as pixels and as 3D world landmarks, and a
person box. What becomes of a detection (adapter, SMPLR, fit) is
`photo_path.PhotoPath`'s work.

Frames. The world landmarks are metres with their origin at the hip
midpoint and, as measured on our renders (Procrustes rotation to the true
keypoints close to the identity when the body is found the right way
round), the camera's axes: x right, y down, z away from the camera, our
camera frame. The 2D landmarks are normalised to the image (x / width,
y / height); here they are pixels.

What it can and cannot detect. The legacy solution finds one person: the
detector's most confident one. `detect_people` finds more by blanking each
person's box and running it again (so two people overlapping may be found
as one). Its detector keys on the head: people seen from behind, lying
down or far smaller than the frame (under ~100 px) are often missed
(`NoPersonError`). Like every monocular pose model it sometimes mirrors a
body (left and right swapped with depth); the adapter cannot undo that.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib
import os
import sys
import warnings
from typing import Any

import numpy as np
from PIL import Image

from smplr_jax import checks
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.predict import settings as settings_lib

# The mediapipe release whose wheel ships the legacy pose solution's models.
MEDIAPIPE_VERSION = '0.10.14'
INSTALL_HINT = ('pip install -e ".[detector]" (mediapipe==' +
                MEDIAPIPE_VERSION + ')')
NUM_LANDMARKS = kp_lib.BLAZEPOSE33.num_keypoints  # 33


_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def _native_stderr_silenced():
  """Silences what mediapipe's C++ core writes straight to file descriptor 2
  (TFLite's 'Created TensorFlow Lite XNNPACK delegate',
  absl's pre-initialisation notice, 'Feedback manager requires a model with
  a single signature'): start-up chatter, not warnings a user can act on.
  Python exceptions are unaffected."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
      yield
  finally:
    # C's stderr may be buffered (once other native libraries have run):
    # flush it while it still points at /dev/null.
    _LIBC.fflush(None)
    os.dup2(saved, 2)
    os.close(saved)


class NoPersonError(ValueError):
  """The detector found no person in the photo."""


def import_mediapipe():
  """The mediapipe module, or an ImportError saying how to install it."""
  try:
    return importlib.import_module('mediapipe')
  except ImportError as e:
    raise ImportError('The BlazePose front end needs mediapipe: '
                      f'{INSTALL_HINT}.') from e


def availability() -> str | None:
  """None when the BlazePose front end can run here, else why not (for
  tests and tools that skip without it)."""
  try:
    BlazePoseDetector().close()
  except ImportError as e:
    return str(e)
  return None


def check_photo(image: Any, min_side: int = (
    settings_lib.PhotoSettings.min_image_side)) -> np.ndarray:
  """A photo as uint8 [H, W, 3] for the detector.

  Grayscale is replicated to RGB and RGBA loses its alpha
  (`checks.as_rgb`), as for the crop predictor.

  Raises:
    ValueError: not an image, or smaller than `min_side` pixels.
  """
  image = checks.as_rgb(image)
  height, width = image.shape[:2]
  if min(height, width) < min_side:
    raise ValueError(
        f'the image is {width} x {height} pixels; the BlazePose front end '
        f'needs at least {min_side} pixels on the shorter side (a '
        'person about 100 pixels tall).')
  return np.ascontiguousarray(image)


@dataclasses.dataclass(frozen=True)
class Detection:
  """One person found by BlazePose.

  Attributes:
    keypoints_2d: [33, 2] landmarks in pixels (`keypoints.BLAZEPOSE33`).
    keypoints_3d: [33, 3] world landmarks: metres, origin at the hip
      midpoint, camera axes (x right, y down, z forward).
    visibility: [33] BlazePose's probability that a landmark is visible.
    box: [4] (x0, y0, x1, y1) person box in pixels: the landmarks' extent
      plus `PhotoSettings.box_margin`, clipped to the photo.
  """
  keypoints_2d: np.ndarray
  keypoints_3d: np.ndarray
  visibility: np.ndarray
  box: np.ndarray


class BlazePoseDetector:
  """mediapipe's legacy pose solution on single photos (static mode).

  Raises (on construction):
    ImportError: mediapipe is missing, or installed but unable to start the
      pose solution (e.g. next to a protobuf it was not built for).
  """

  def __init__(self, settings: settings_lib.PhotoSettings = (
      settings_lib.PhotoSettings()), video_mode: bool = False,
               smooth_landmarks: bool = False):
    """settings: the detector's (min_detection_confidence, min_image_side,
    box_margin, retry_border, max_detector_side); video_mode: frames of one
    clip, in order: BlazePose tracks the person from frame to frame instead
    of detecting it in every frame (faster); smooth_landmarks: its own
    temporal filter (video mode)."""
    mediapipe = import_mediapipe()
    self.settings = settings
    self.video_mode = video_mode
    min_side = settings.min_image_side
    try:
      with _native_stderr_silenced():
        self._pose = mediapipe.solutions.pose.Pose(
            static_image_mode=not video_mode, model_complexity=1,
            smooth_landmarks=smooth_landmarks and video_mode,
            enable_segmentation=False,
            min_detection_confidence=settings.min_detection_confidence)
        # The graph opens its models on threads that print start-up
        # chatter; one run on a blank frame waits for them, still silenced.
        self._pose.process(np.zeros((min_side, min_side, 3), np.uint8))
    except Exception as e:  # any failure inside mediapipe: say what to do
      version = getattr(mediapipe, '__version__', '?')
      raise ImportError(
          f'mediapipe {version} is installed but its pose solution does not '
          f'start ({type(e).__name__}: {e}); the extra pins versions that '
          f'work: {INSTALL_HINT}.') from e

  def close(self) -> None:
    self._pose.close()

  def __call__(self, image: Any) -> Detection:
    """The most confident person of a photo.

    A person filling the whole frame is often missed by BlazePose's
    detector; when nothing is found the photo is tried again inside a grey
    border (`PhotoSettings.retry_border` of its longer side on every
    side).

    Args:
      image: uint8 [H, W, 3] photo (grayscale and RGBA are converted).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, or too small.
    """
    settings = self.settings
    image = check_photo(image, settings.min_image_side)
    height, width = image.shape[:2]
    # BlazePose reads 256-pixel inputs: a huge photo is shrunk first (the
    # pixels are scaled back), which costs nothing in accuracy.
    scale = min(1.0, settings.max_detector_side / max(height, width))
    work = image
    if scale < 1.0:
      work = np.asarray(Image.fromarray(image).resize(
          (max(1, round(width * scale)), max(1, round(height * scale))),
          Image.BILINEAR))
    found = self._process(work)
    if found is None and settings.retry_border > 0 and not self.video_mode:
      border = int(round(settings.retry_border * max(work.shape[:2])))
      padded = np.pad(work, ((border, border), (border, border), (0, 0)),
                      constant_values=128)
      found = self._process(padded)
      if found is not None:
        pixels, world, visibility = found
        found = (pixels - border, world, visibility)
    if found is not None:
      pixels, world, visibility = found
      found = (pixels / scale, world, visibility)
    if found is None:
      raise NoPersonError(
          f'no person found in the {width} x {height} image (BlazePose keys '
          'on the head: people seen from behind, lying down or under ~100 '
          'pixels tall are often missed).')
    pixels, world, visibility = found
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    margin = settings.box_margin * float(np.max(high - low))
    box = np.concatenate([np.maximum(low - margin, 0.0),
                          np.minimum(high + margin, [width - 1, height - 1])])
    return Detection(keypoints_2d=pixels, keypoints_3d=world,
                     visibility=visibility, box=box)

  def _process(self, image: np.ndarray):
    """(pixels [33, 2], world [33, 3], visibility [33]) or None."""
    height, width = image.shape[:2]
    with warnings.catch_warnings():
      # protobuf >= 4 warns on every call of mediapipe 0.10.14's graph
      # runner ('GetPrototype() is deprecated'); the call itself is fine.
      warnings.filterwarnings('ignore', message='.*GetPrototype.*')
      # The models' first runs print start-up chatter from C++ threads
      # (which run may vary): every run is silenced.
      with _native_stderr_silenced():
        results = self._pose.process(np.ascontiguousarray(image))
    if results.pose_landmarks is None or results.pose_world_landmarks is None:
      return None
    image_points = np.asarray([(p.x * width, p.y * height, p.visibility)
                               for p in results.pose_landmarks.landmark])
    world = np.asarray([(p.x, p.y, p.z)
                        for p in results.pose_world_landmarks.landmark])
    return image_points[:, :2], world, image_points[:, 2]

  def detect_people(self, image: Any, max_people: int = 4
                    ) -> list[Detection]:
    """Every person found, most confident first, by blanking each found
    person's box (grey) and detecting again; [] when there is none.

    Raises:
      ValueError: not an image, or too small.
    """
    image = check_photo(image, self.settings.min_image_side).copy()
    found = []
    for _ in range(max_people):
      try:
        detection = self(image)
      except NoPersonError:
        break
      found.append(detection)
      x0, y0, x1, y1 = np.round(detection.box).astype(int)
      image[y0:y1 + 1, x0:x1 + 1] = 128
    return found
