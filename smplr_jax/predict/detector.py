r"""A pretrained detector front end: a whole photo -> a person -> a body.

The optional extra `pip install -e ".[detector]"` installs mediapipe 0.10.14,
whose wheel ships the legacy pose solution: BlazePose's person detector and
its GHUM 'full' landmark model (`pose_landmark_full.tflite`), free and
offline. `BlazePoseDetector` runs it on a photo and returns 33 landmarks
(`keypoints.BLAZEPOSE33` order) as pixels and as 3D world landmarks, and a
person box. `BlazePosePredictor` feeds the world landmarks to the shipped
BlazePose adapter (`keypoint_predictor.load_keypoint_predictor('blazepose33_3d')`),
then the DAE and SMPLR: `inference.load_pipeline(front_end='blazepose')`.

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
import pathlib
import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from smplr_jax import checks, crop
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.predict import fit as fit_lib
from smplr_jax.predict import hypotheses as hypotheses_lib
from smplr_jax.predict import keypoint_predictor

# The mediapipe release whose wheel ships the legacy pose solution's models.
MEDIAPIPE_VERSION = '0.10.14'
INSTALL_HINT = ('pip install -e ".[detector]" (mediapipe==' +
                MEDIAPIPE_VERSION + ')')
# Smallest photo side (pixels) the front end accepts: BlazePose needs a
# person of roughly 100 px.
MIN_IMAGE_SIDE = 64
# Margin added around the landmarks' extent for the person box (fraction of
# the box's longer side).
BOX_MARGIN = 0.1
NUM_LANDMARKS = kp_lib.BLAZEPOSE33.num_keypoints  # 33
# A photo where nothing is found is tried again inside a grey border of this
# fraction of its longer side (a person filling the frame is often missed).
RETRY_BORDER = 0.25
# Photos with a longer side above this are shrunk to it for the detector.
MAX_DETECTOR_SIDE = 1920


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


def check_photo(image: Any) -> np.ndarray:
  """A photo as uint8 [H, W, 3] for the detector.

  Grayscale is replicated to RGB and RGBA loses its alpha
  (`checks.as_rgb`), as for the crop predictor.

  Raises:
    ValueError: not an image, or smaller than `MIN_IMAGE_SIDE` pixels.
  """
  image = checks.as_rgb(image)
  height, width = image.shape[:2]
  if min(height, width) < MIN_IMAGE_SIDE:
    raise ValueError(
        f'the image is {width} x {height} pixels; the BlazePose front end '
        f'needs at least {MIN_IMAGE_SIDE} pixels on the shorter side (a '
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
      plus `BOX_MARGIN`, clipped to the photo.
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

  def __init__(self, min_detection_confidence: float = 0.5,
               video_mode: bool = False, smooth_landmarks: bool = False):
    """video_mode: frames of one clip, in order: BlazePose tracks the
    person from frame to frame instead of detecting it in every frame
    (faster); smooth_landmarks: its own temporal filter (video mode)."""
    mediapipe = import_mediapipe()
    self.video_mode = video_mode
    try:
      with _native_stderr_silenced():
        self._pose = mediapipe.solutions.pose.Pose(
            static_image_mode=not video_mode, model_complexity=1,
            smooth_landmarks=smooth_landmarks and video_mode,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence)
        # The graph opens its models on threads that print start-up
        # chatter; one run on a blank frame waits for them, still silenced.
        self._pose.process(np.zeros((MIN_IMAGE_SIDE, MIN_IMAGE_SIDE, 3),
                                    np.uint8))
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
    border (`RETRY_BORDER` of its longer side on every side).

    Args:
      image: uint8 [H, W, 3] photo (grayscale and RGBA are converted).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, or too small.
    """
    image = check_photo(image)
    height, width = image.shape[:2]
    # BlazePose reads 256-pixel inputs: a huge photo is shrunk first (the
    # pixels are scaled back), which costs nothing in accuracy.
    scale = min(1.0, MAX_DETECTOR_SIDE / max(height, width))
    work = image
    if scale < 1.0:
      work = np.asarray(Image.fromarray(image).resize(
          (max(1, round(width * scale)), max(1, round(height * scale))),
          Image.BILINEAR))
    found = self._process(work)
    if found is None and RETRY_BORDER > 0 and not self.video_mode:
      border = int(round(RETRY_BORDER * max(work.shape[:2])))
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
    margin = BOX_MARGIN * float(np.max(high - low))
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
    image = check_photo(image).copy()
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


def estimate_root(points: np.ndarray, pixels: np.ndarray,
                  weights: np.ndarray, focal: float,
                  principal: np.ndarray) -> np.ndarray:
  """The translation t placing root-relative points at their pixels.

  Least squares on the linear projection constraints
  f (X + t)_x - (u - c_x) (X + t)_z = 0 (and likewise for y).

  Args:
    points: [K, 3] root-relative camera-frame points (metres).
    pixels: [K, 2] their detected pixels.
    weights: [K] confidence per point.
    focal: focal length (pixels).
    principal: [2] principal point (pixels).

  Returns:
    [3] the root's camera-frame position (metres).
  """
  du = np.asarray(pixels, np.float64) - principal
  rows, rhs = [], []
  for axis in range(2):
    a = np.zeros((len(points), 3))
    a[:, axis] = focal
    a[:, 2] = -du[:, axis]
    rows.append(a)
    rhs.append(du[:, axis] * points[:, 2] - focal * points[:, axis])
  w = np.sqrt(np.concatenate([weights, weights]))[:, None]
  a, b = np.concatenate(rows), np.concatenate(rhs)
  root, *_ = np.linalg.lstsq(a * w, b * w[:, 0], rcond=None)
  return root


# The photo path's fit (`fit.FitOptions`): BlazePose's world landmarks are
# metric but noisy (point_sigma 3 cm), its pixels sharp (1 cm at the body's
# depth); SMPLR's pose is a firm prior (0.15 rad). Chosen on renders of seed
# 7 and on simulated detections (`experiments/evaluate_photo_path.py
# --seed=7`), never on the held-out seed the README reports: among the
# settings tried, the best or within 1 mm of it on both.
PHOTO_FIT_OPTIONS = fit_lib.FitOptions(
    num_iterations=15, point_sigma=0.03, robust_scale=0.15,
    point_sigma_2d=0.01, robust_scale_2d=0.1, pose_sigma=0.15)
# Another reading replaces the detected one only when its fit costs less
# than this fraction of the detected reading's: mirrored and swapped bodies
# explain the same pixels about as well, and the detector's own reading is
# right more often (seed 7: with 1.0, more switches and a worse P1).
HYPOTHESIS_MARGIN = 0.8
# A landmark's weight in the fit: MIN_POINT_WEIGHT + (1 - MIN_POINT_WEIGHT)
# x BlazePose's visibility (occluded points are guessed, still informative).
MIN_POINT_WEIGHT = 0.25


class BlazePosePredictor:
  """A whole photo -> BlazePose -> adapter -> (DAE) -> SMPLR -> fit -> body.

  Each detection is read several ways (`hypotheses`: as detected, left and
  right swapped, depth mirrored, turned around, and optionally the detector
  on the mirrored photo); each reading goes through the adapter and SMPLR
  and is fitted (`fit.fit_body`: BlazePose's 3D landmarks hip-aligned, its
  pixels reprojected with the root solved, SMPLR's pose as the prior, the
  joint limits); the reading with the lowest cost is kept.

  Attributes:
    detector: the `BlazePoseDetector`.
    keypoints: the `keypoint_predictor.KeypointPredictor` of BlazePose's
      landmarks.
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the adapter and SMPLR.
    fit: whether SMPLR's bodies are fitted (else the 'detected' reading's
      SMPLR body, placed by `estimate_root`).
    hypotheses: the readings fitted (`hypotheses.ALL`).
    fit_options: the fit's `fit.FitOptions`.
  """

  def __init__(self, detector: BlazePoseDetector,
               keypoints: keypoint_predictor.KeypointPredictor,
               fit: bool = True,
               hypotheses: tuple[str, ...] = hypotheses_lib.DEFAULT,
               fit_options: fit_lib.FitOptions = PHOTO_FIT_OPTIONS):
    if keypoints.keypoint_set.name != kp_lib.BLAZEPOSE33.name:
      raise ValueError('the adapter must read blazepose33 keypoints, got '
                       f'{keypoints.keypoint_set.name}.')
    self.detector = detector
    self.keypoints = keypoints
    self.faces = keypoints.faces
    self.uses_dae = keypoints.uses_dae
    self.fit = fit
    self.hypotheses = (hypotheses_lib.check_names(hypotheses) if fit else
                       (hypotheses_lib.DETECTED,))
    self.fit_options = fit_options

  def predict_detection(self, detection: Detection, image_size,
                        focal: float | None = None,
                        mirrored: Detection | None = None) -> dict[str, Any]:
    """A detection of a photo of `image_size` (width, height) -> body (the
    dict of `predict_image`). `mirrored`: the detection of the mirrored
    photo, for the 'mirrored_photo' hypothesis."""
    width, height = image_size
    focal = crop.resolve_focal(focal, image_size)
    principal = np.array([(width - 1) / 2, (height - 1) / 2])
    keypoint_set = kp_lib.BLAZEPOSE33
    left_right = keypoint_set.left_right_permutation()
    back = None
    if mirrored is not None:
      back = hypotheses_lib.unmirror(mirrored.keypoints_3d,
                                     mirrored.keypoints_2d,
                                     mirrored.visibility, left_right, width)
    readings = hypotheses_lib.readings(
        self.hypotheses, detection.keypoints_3d, detection.keypoints_2d,
        detection.visibility, left_right, keypoint_set.centre_ids, back)
    names = list(readings)
    points_3d, pixels, visibility = (np.stack([r[i] for r in
                                               readings.values()])
                                     for i in range(3))
    if self.keypoints.dims == 3:
      out = self.keypoints(points_3d)
    else:
      out = self.keypoints(pixels, focal=focal, principal=tuple(principal))
    if self.fit:
      weight = self.point_weights(visibility)
      intrinsics = crop.camera_matrix(np.array([focal, focal]), principal)
      fitted = jax.device_get(fit_lib.fit_body(
          fit_lib.fit_points_for(self.keypoints.body, keypoint_set),
          out['pose'], out['betas'], out['gender'],
          options=self.fit_options, points_3d=points_3d, weights_3d=weight,
          align_3d='hip', pixels=pixels, weights_2d=weight,
          intrinsics=intrinsics))
      costs = np.asarray(fitted['cost'])
      # The detected reading is first (`hypotheses.check_names`).
      best = int(np.argmin(np.where(np.arange(len(costs)) == 0, costs,
                                    costs / HYPOTHESIS_MARGIN)))
      # The mesh of the kept reading only.
      kept = {k: v[best:best + 1] for k, v in fitted.items()}
      body = jax.device_get(fit_lib.with_mesh(
          self.keypoints.body, kept, {'gender': out['gender'][best:best + 1]}))
      out = dict({k: v if k == 'faces' else v[best] for k, v in out.items()},
                 **{k: np.asarray(body[k][0]) for k in (
                     'pose', 'betas', 'jl_body', 'joints', 'landmarks',
                     'vertices')})
      extra = dict(fit_cost=float(costs[best]),
                   hypothesis_costs=dict(zip(names, costs.tolist())))
      root = np.asarray(fitted['root_cam'][best])
    else:
      best, extra = 0, {}
      out = {k: v if k == 'faces' else v[0] for k, v in out.items()}
      # The body's keypoints on its mesh, placed at the detected pixels.
      points = np.asarray(kp_lib.keypoints_from_mesh(
          keypoint_set, self.keypoints.body.gendered,
          jnp.asarray(out['joints'][None]),
          jnp.asarray(out['vertices'][None]))[0])
      root = estimate_root(points, detection.keypoints_2d,
                           np.clip(detection.visibility, 0.05, 1.0), focal,
                           principal)
    return dict(out, **extra, hypothesis=names[best],
                keypoints_2d=detection.keypoints_2d,
                keypoints_3d=detection.keypoints_3d,
                visibility=detection.visibility, box=detection.box,
                root_cam=np.asarray(root, np.float64), focal=float(focal))

  @staticmethod
  def point_weights(visibility: np.ndarray) -> np.ndarray:
    """[..., 33] the fit's landmark weights from BlazePose's visibility."""
    return MIN_POINT_WEIGHT + (1 - MIN_POINT_WEIGHT) * np.clip(
        np.asarray(visibility, np.float64), 0.0, 1.0)

  def _detect_mirrored(self, photo: np.ndarray) -> Detection | None:
    if hypotheses_lib.MIRRORED_PHOTO not in self.hypotheses:
      return None
    try:
      return self.detector(photo[:, ::-1])
    except NoPersonError:
      return None

  def predict_image(self, image: Any,
                    focal: float | None = None) -> dict[str, Any]:
    """A whole photo (no box: the detector finds the person) -> body.

    Args:
      image: uint8 [H, W, 3] photo (grayscale and RGBA are converted).
      focal: focal length in pixels; None assumes a
        `crop.DEFAULT_FIELD_OF_VIEW_DEG` field of view.

    Returns:
      The prediction of one person (`smplr_jax.predict.prediction`;
      jl_front_end is the adapter's JL; camera frame, root-relative
      metres) plus 'keypoints_2d' [33, 2] pixels, 'keypoints_3d' [33, 3]
      world landmarks, 'visibility' [33], 'box' [4] (x0, y0, x1, y1)
      pixels, 'root_cam' [3] (the root in the camera frame, metres: the
      body projected with it and 'focal' lies on the person), 'focal',
      'hypothesis' (the reading kept), and with the fit 'fit_cost' and
      'hypothesis_costs' (name -> cost), and 'crop' (the box's square
      window of the photo, for display).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, too small, or a bad focal length.
    """
    photo = check_photo(image)
    detection = self.detector(photo)
    height, width = photo.shape[:2]
    out = self.predict_detection(detection, (width, height), focal,
                                 self._detect_mirrored(photo))
    return dict(out, crop=_square_crop(photo, detection.box))

  def predict_people(self, image: Any, focal: float | None = None,
                     max_people: int = 4) -> list[dict[str, Any]]:
    """Every person of a photo (`BlazePoseDetector.detect_people`), each
    as `predict_image`'s dict; [] when there is none."""
    photo = check_photo(image)
    height, width = photo.shape[:2]
    people = []
    for detection in self.detector.detect_people(photo, max_people):
      # The mirrored photo would find the most confident person again:
      # only the one-pass readings here.
      out = self.predict_detection(detection, (width, height), focal)
      people.append(dict(out, crop=_square_crop(photo, detection.box)))
    return people


def _square_crop(photo: np.ndarray, box: np.ndarray) -> np.ndarray:
  """The photo inside the square around `box` (edges padded with grey)."""
  x0, y0, x1, y1 = box
  side = max(x1 - x0, y1 - y0, 1.0)
  cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
  left, top = round(cx - side / 2), round(cy - side / 2)
  size = round(side)
  out = np.full((size, size, 3), 128, np.uint8)
  height, width = photo.shape[:2]
  sx0, sy0 = max(left, 0), max(top, 0)
  sx1, sy1 = min(left + size, width), min(top + size, height)
  out[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = photo[sy0:sy1, sx0:sx1]
  return out


def load_blazepose_pipeline(weights: str | pathlib.Path | None = None,
                            use_dae: bool = False,
                            adapter: str | pathlib.Path = 'blazepose33_3d',
                            min_detection_confidence: float = 0.5,
                            smplr: str | pathlib.Path | None = None,
                            fit: bool = True,
                            hypotheses: tuple[str, ...] = (
                                hypotheses_lib.DEFAULT)
                            ) -> BlazePosePredictor:
  """The BlazePose front end with an adapter, the DAE and SMPLR.

  Args:
    weights: a folder with 'smplr' and (optionally) 'dae' sub-folders; None
      the shipped weights.
    use_dae: run the DAE between the adapter and SMPLR (no measurable
      change on BlazePose's outputs; `inference.load_pipeline` passes its
      own `use_dae`, True by default).
    adapter: 'blazepose33_3d' (world landmarks), 'blazepose33_2d' (pixels)
      or an adapter folder for the blazepose33 set.
    min_detection_confidence: BlazePose's detection threshold.
    smplr: another SMPLR (exported folder or workdir) in place of
      `weights`' one.
    fit: fit SMPLR's bodies to the landmarks (`BlazePosePredictor`).
    hypotheses: the readings of each detection to fit (`hypotheses.ALL`).

  Raises:
    ImportError: mediapipe is not installed (`INSTALL_HINT`).
    ValueError: missing weights.
  """
  detector = BlazePoseDetector(min_detection_confidence)
  keypoints = keypoint_predictor.load_keypoint_predictor(adapter, weights,
                                                         use_dae, smplr)
  return BlazePosePredictor(detector, keypoints, fit=fit,
                            hypotheses=hypotheses)
