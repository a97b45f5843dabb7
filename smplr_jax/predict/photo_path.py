"""The photo path: a whole photo -> BlazePose -> readings -> adapter -> (DAE)
-> SMPLR -> fit -> body.

Each detection is read several ways (`hypotheses`: as detected and, by
default, the detector on the mirrored photo); each reading goes through
the adapter and SMPLR (`read`) and is fitted (`fit`: BlazePose's 3D
landmarks hip-aligned, its pixels reprojected with the root solved,
SMPLR's pose as the prior, the joint limits); the reading with the lowest
cost is kept. `read` and `fit` are also the steps a clip's frames go
through (`video`). Settings: `settings.PhotoSettings`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import camera, fitting
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import hypotheses as hypotheses_lib
from smplr_jax.predict import keypoint_predictor, prediction
from smplr_jax.predict import settings as settings_lib

KEYPOINT_SET = kp_lib.BLAZEPOSE33


class PhotoPath:
  """A whole photo -> body (see the module docstring).

  Attributes:
    detector: the `detector.BlazePoseDetector`.
    reader: the `keypoint_predictor.KeypointPredictor` of BlazePose's
      landmarks (adapter -> DAE -> SMPLR).
    body: the body models.
    fit_points: the fit's `fitting.FitPoints` of BlazePose's 33 landmarks.
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the adapter and SMPLR.
    fits: whether SMPLR's bodies are fitted (else the 'detected' reading's
      SMPLR body, placed by `camera.root_from_rays`).
    hypotheses: the readings fitted (`hypotheses.ALL`).
    settings: the `settings.PhotoSettings`.
  """

  def __init__(self, detector: detector_lib.BlazePoseDetector,
               reader: keypoint_predictor.KeypointPredictor,
               fits: bool = True,
               settings: settings_lib.PhotoSettings = (
                   settings_lib.PhotoSettings())):
    if reader.keypoint_set.name != KEYPOINT_SET.name:
      raise ValueError('the adapter must read blazepose33 keypoints, got '
                       f'{reader.keypoint_set.name}.')
    self.detector = detector
    self.reader = reader
    self.body = reader.body
    self.fit_points = fitting.fit_points_for(self.body, KEYPOINT_SET)
    self.faces = reader.faces
    self.uses_dae = reader.uses_dae
    self.fits = fits
    self.hypotheses = (hypotheses_lib.check_names(settings.hypotheses)
                       if fits else (hypotheses_lib.DETECTED,))
    self.settings = settings

  def point_weights(self, visibility: np.ndarray) -> np.ndarray:
    """[..., 33] the fit's landmark weights from BlazePose's visibility."""
    low = self.settings.min_point_weight
    return low + (1 - low) * np.clip(np.asarray(visibility, np.float64),
                                     0.0, 1.0)

  def read(self, points_3d: np.ndarray, pixels: np.ndarray,
           intrinsics: np.ndarray) -> dict[str, Any]:
    """SMPLR's bodies of landmark readings, batched: the adapter reads the
    3D landmarks [B, 33, 3] (or, for a 2D adapter, the pixels [B, 33, 2]
    with [3, 3] intrinsics). Returns the batched prediction."""
    if self.reader.dims == 3:
      return self.reader(points_3d)
    return self.reader(pixels, focal=float(intrinsics[0, 0]),
                       principal=tuple(intrinsics[:2, 2]))

  def fit(self, start: dict[str, Any], points_3d: np.ndarray,
          pixels: np.ndarray, visibility: np.ndarray,
          intrinsics: np.ndarray, *, root_cam: np.ndarray | None = None,
          betas_prior_mean: np.ndarray | None = None,
          options: fitting.FitOptions | None = None) -> dict[str, Any]:
    """Bodies fitted to landmark readings, batched (`fitting.fit_body`).

    Args:
      start: pose [B, 24, 3, 3], betas [B, S], gender [B] (the start: `read`'s
        output).
      points_3d: [B, 33, 3] world landmarks (hip-aligned in the fit).
      pixels: [B, 33, 2] their pixels.
      visibility: [B, 33] BlazePose's visibility (`point_weights`).
      intrinsics: [3, 3] the camera.
      root_cam: [B, 3] the root's start; None solves it from the rays.
      betas_prior_mean: [B, S] the betas prior's mean (a track's shape).
      options: the fit's options (default `settings.fit`).

    Returns:
      numpy dict: pose, betas, jl, keypoints, cost [B], root_cam [B, 3].
    """
    weight = self.point_weights(visibility)
    return jax.device_get(fitting.fit_body(
        self.fit_points, start['pose'], start['betas'], start['gender'],
        points_3d=points_3d, weights_3d=weight, align_3d='hip',
        pixels=pixels, weights_2d=weight, intrinsics=intrinsics,
        root_cam=root_cam, betas_prior_mean=betas_prior_mean,
        options=self.settings.fit if options is None else options))

  def predict_detection(self, detection: detector_lib.Detection, image_size,
                        focal: float | None = None,
                        mirrored: detector_lib.Detection | None = None
                        ) -> dict[str, Any]:
    """A detection of a photo of `image_size` (width, height) -> one body
    (`predict_image`'s dict, without 'crop'). `mirrored`: the detection of
    the mirrored photo, for the 'mirrored_photo' hypothesis."""
    width, _ = image_size
    focal = camera.resolve_focal(focal, image_size)
    principal = camera.principal_point(image_size)
    intrinsics = camera.camera_matrix(np.array([focal, focal]), principal)
    left_right = KEYPOINT_SET.left_right_permutation()
    back = None
    if mirrored is not None:
      back = hypotheses_lib.unmirror(mirrored.keypoints_3d,
                                     mirrored.keypoints_2d,
                                     mirrored.visibility, left_right, width)
    readings = hypotheses_lib.readings(
        self.hypotheses, detection.keypoints_3d, detection.keypoints_2d,
        detection.visibility, left_right, KEYPOINT_SET.centre_ids, back)
    names = list(readings)
    points_3d, pixels, visibility = (np.stack([r[i] for r in
                                               readings.values()])
                                     for i in range(3))
    out = self.read(points_3d, pixels, intrinsics)
    if self.fits:
      fitted = self.fit(out, points_3d, pixels, visibility, intrinsics)
      costs = np.asarray(fitted['cost'])
      # The detected reading is first (`hypotheses.check_names`).
      best = int(np.argmin(np.where(
          np.arange(len(costs)) == 0, costs,
          costs / self.settings.hypothesis_margin)))
      # The mesh of the kept reading only.
      kept = {k: v[best:best + 1] for k, v in fitted.items()}
      body = jax.device_get(fitting.with_mesh(
          self.body, kept, {'gender': out['gender'][best:best + 1]}))
      out = dict(prediction.one_body(out, best),
                 **{k: np.asarray(body[k][0]) for k in (
                     'pose', 'betas', 'jl_body', 'joints', 'landmarks',
                     'vertices')})
      extra = dict(fit_cost=float(costs[best]),
                   hypothesis_costs=dict(zip(names, costs.tolist())))
      root = np.asarray(fitted['root_cam'][best])
    else:
      best, extra = 0, {}
      out = prediction.one_body(out)
      # The body's keypoints on its mesh, placed at the detected pixels.
      points = kp_lib.keypoints_from_mesh(
          KEYPOINT_SET, self.body.gendered, jnp.asarray(out['joints'][None]),
          jnp.asarray(out['vertices'][None]))[0]
      root = camera.root_from_rays(
          points, camera.normalised(detection.keypoints_2d, focal,
                                    principal),
          np.clip(detection.visibility, 0.05, 1.0))
    return dict(out, **extra, hypothesis=names[best],
                keypoints_2d=detection.keypoints_2d,
                keypoints_3d=detection.keypoints_3d,
                visibility=detection.visibility, box=detection.box,
                root_cam=np.asarray(root, np.float64), focal=float(focal),
                front_end='detector', used_dae=self.uses_dae)

  def _detect_mirrored(self, photo: np.ndarray
                       ) -> detector_lib.Detection | None:
    if hypotheses_lib.MIRRORED_PHOTO not in self.hypotheses:
      return None
    try:
      return self.detector(photo[:, ::-1])
    except detector_lib.NoPersonError:
      return None

  def predict_image(self, image: Any,
                    focal: float | None = None) -> dict[str, Any]:
    """A whole photo (the detector finds the most confident person) -> one
    body (`prediction`: BODY_KEYS, PHOTO_KEYS, DETECTOR_KEYS, fit_cost).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, too small, or a bad focal length.
    """
    photo = detector_lib.check_photo(image, self.settings.min_image_side)
    detection = self.detector(photo)
    height, width = photo.shape[:2]
    out = self.predict_detection(detection, (width, height), focal,
                                 self._detect_mirrored(photo))
    return dict(out, crop=square_crop(photo, detection.box))

  def predict_people(self, image: Any, focal: float | None = None,
                     max_people: int | None = None) -> list[dict[str, Any]]:
    """Every person of a photo (`BlazePoseDetector.detect_people`, at most
    `max_people`, default `settings.max_people`), each as `predict_image`'s
    dict; [] when there is none."""
    photo = detector_lib.check_photo(image, self.settings.min_image_side)
    height, width = photo.shape[:2]
    if max_people is None:
      max_people = self.settings.max_people
    people = []
    for detection in self.detector.detect_people(photo, max_people):
      # The mirrored photo would find the most confident person again:
      # only the one-pass readings here.
      out = self.predict_detection(detection, (width, height), focal)
      people.append(dict(out, crop=square_crop(photo, detection.box)))
    return people


def square_crop(photo: np.ndarray, box: np.ndarray) -> np.ndarray:
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


def load_photo_path(reader: keypoint_predictor.KeypointPredictor,
                    fits: bool = True,
                    settings: settings_lib.PhotoSettings = (
                        settings_lib.PhotoSettings())) -> PhotoPath:
  """The photo path over a BlazePose reader (starts mediapipe).

  Raises:
    ImportError: mediapipe is not installed (`detector.INSTALL_HINT`).
  """
  return PhotoPath(detector_lib.BlazePoseDetector(settings), reader, fits,
                   settings)

