"""The photo path: a whole photo -> BlazePose -> readings -> adapter -> (DAE)
-> SMPLR -> fit -> body.

Each detection is read (`hypotheses`: as detected, and any one-pass
alternative asked for); each reading goes through the adapter and SMPLR
(`read`; landmarks outside the photo read as missing) and is fitted
(`fit`: BlazePose's 3D landmarks hip-aligned, its pixels reprojected with
the root solved, SMPLR's pose as the prior, the joint limits; landmarks
outside the photo weigh ~0, `point_weights`). Only when the detected
reading is ambiguous (its fit cost at least `second_pass_cost`) does the
detector read the mirrored photo (a second pass, by default); that reading
and its fusion with the detection (`hypotheses.fuse`) are fitted too, and
`choose` keeps one. Only the kept body is posed. `read` and `fit` are also
the steps a clip's frames go through (`video`). Settings:
`settings.PhotoSettings`; measurements: docs/photo_path.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import camera, fitting
from smplr_jax.body import gendered
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import hypotheses as hypotheses_lib
from smplr_jax.predict import keypoint_predictor, prediction
from smplr_jax.predict import settings as settings_lib
from smplr_jax.predict import visibility as visibility_lib

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
    # A photo's fit (`settings.photo_fit_iterations`; clips use `fit`).
    self.photo_fit_options = dataclasses.replace(
        settings.fit, num_iterations=settings.photo_fit_iterations)

  def point_weights(self, visibility: np.ndarray,
                    pixels: np.ndarray | None = None,
                    image_size: tuple[int, int] | None = None) -> np.ndarray:
    """[..., 33] the fit's landmark weights: min_point_weight + (1 -
    min_point_weight) x BlazePose's visibility [..., 33]; with the pixels
    [..., 33, 2] and the photo's (width, height), a landmark outside the
    photo (`camera.inside_image`) gets `outside_point_weight` x that: its place
    comes from SMPLR's pose (the fit's prior), not from BlazePose's guess."""
    low = self.settings.min_point_weight
    weight = low + (1 - low) * np.clip(np.asarray(visibility, np.float64),
                                       0.0, 1.0)
    if pixels is not None and image_size is not None:
      weight = weight * np.where(camera.inside_image(pixels, image_size), 1.0,
                                 self.settings.outside_point_weight)
    return weight

  def read(self, points_3d: np.ndarray, pixels: np.ndarray,
           intrinsics: np.ndarray, with_mesh: bool = True,
           visible: np.ndarray | None = None) -> dict[str, Any]:
    """SMPLR's bodies of landmark readings, batched: the adapter reads the
    3D landmarks [B, 33, 3] (or, for a 2D adapter, the pixels [B, 33, 2]
    with [3, 3] intrinsics). Returns the batched prediction; with_mesh=False
    stops before SMPL (pose, betas, gender: a fit's start); visible [B, 33]:
    the landmarks the adapter reads (default all; `seen_landmarks`)."""
    if self.reader.dims == 3:
      return self.reader(points_3d, visible, with_mesh=with_mesh)
    return self.reader(pixels, visible, focal=float(intrinsics[0, 0]),
                       principal=tuple(intrinsics[:2, 2]),
                       with_mesh=with_mesh)

  def seen_landmarks(self, pixels: np.ndarray, image_size) -> np.ndarray:
    """[..., 33] the landmarks the adapter reads: those inside the photo
    (`camera.inside_image`; all with `settings.adapter_skips_outside` off), and
    always the hips (it centres the body on them);
    the others it infers, as it learnt to for dropped points."""
    seen = camera.inside_image(pixels, image_size)
    if not self.settings.adapter_skips_outside:
      seen[:] = True
    seen[..., list(KEYPOINT_SET.centre_ids)] = True
    return seen

  def fit(self, start: dict[str, Any], points_3d: np.ndarray,
          pixels: np.ndarray, visibility: np.ndarray,
          intrinsics: np.ndarray, *, root_cam: np.ndarray | None = None,
          betas_prior_mean: np.ndarray | None = None,
          options: fitting.FitOptions | None = None,
          image_size: tuple[int, int] | None = None) -> dict[str, Any]:
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
      image_size: the photo's (width, height): landmarks outside it count
        `settings.outside_point_weight` as much (`point_weights`); None
        weighs every landmark by its visibility only.

    Returns:
      numpy dict: pose, betas, jl, keypoints, cost [B], root_cam [B, 3].
    """
    weight = self.point_weights(visibility, pixels, image_size)
    return jax.device_get(fitting.fit_body(
        self.fit_points, start['pose'], start['betas'], start['gender'],
        points_3d=points_3d, weights_3d=weight, align_3d='hip',
        pixels=pixels, weights_2d=weight, intrinsics=intrinsics,
        root_cam=root_cam, betas_prior_mean=betas_prior_mean,
        options=self.settings.fit if options is None else options))

  def predict_detection(self, detection: detector_lib.Detection, image_size,
                        focal: float | None = None,
                        mirrored: (detector_lib.Detection | None | Callable[
                            [], detector_lib.Detection | None]) = None,
                        gender: str | None = None) -> dict[str, Any]:
    """A detection of a photo of `image_size` (width, height) -> one body
    (`predict_image`'s dict, without 'crop').

    `mirrored`: the detection of the mirrored photo, for the
    'mirrored_photo' hypothesis, or a function that detects it (called only
    when needed): it is read only when the first readings are ambiguous
    (the detected reading's fit cost at least
    `settings.second_pass_cost`), and then fused with the detection unless
    it wins outright (`choose`). `gender`: the user's ('female', 'male',
    'neutral'), None to estimate it (`gender`)."""
    width, _ = image_size
    focal = camera.resolve_focal(focal, image_size)
    principal = camera.principal_point(image_size)
    intrinsics = camera.camera_matrix(np.array([focal, focal]), principal)
    left_right = KEYPOINT_SET.left_right_permutation()
    # The one-pass readings first; the mirrored photo's only when needed.
    readings = hypotheses_lib.readings(
        self.hypotheses, detection.keypoints_3d, detection.keypoints_2d,
        detection.visibility, left_right, KEYPOINT_SET.centre_ids)
    names = list(readings)
    # The fit poses only the kept body: its start needs no mesh.
    out, stacked = self._start_bodies(readings, intrinsics, image_size,
                                      gender, with_mesh=not self.fits)
    if self.fits:
      fitted = self._fit_readings(out, stacked, intrinsics, image_size)
      if (mirrored is not None and
          hypotheses_lib.MIRRORED_PHOTO in self.hypotheses and
          float(fitted['cost'][0]) >= self.settings.second_pass_cost):
        if callable(mirrored):
          mirrored = mirrored()
        if mirrored is not None:
          back = hypotheses_lib.unmirror(
              mirrored.keypoints_3d, mirrored.keypoints_2d,
              mirrored.visibility, left_right, width)
          more = {hypotheses_lib.MIRRORED_PHOTO: back}
          if self.settings.fuse_readings:
            more[hypotheses_lib.FUSED] = hypotheses_lib.fuse(
                [readings[hypotheses_lib.DETECTED], back])
          more_out, more_stacked = self._start_bodies(
              more, intrinsics, image_size, gender, with_mesh=False)
          more_fitted = self._fit_readings(more_out, more_stacked,
                                           intrinsics, image_size)
          names += list(more)
          out = _concatenate(out, more_out)
          fitted = _concatenate(fitted, more_fitted)
      costs = np.asarray(fitted['cost'])
      best = choose(names, costs, self.settings.hypothesis_margin)
      # The mesh of the kept reading only.
      body = jax.device_get(gendered.posed_body(
          self.body.gendered, fitted['pose'][best:best + 1],
          fitted['betas'][best:best + 1], out['gender'][best:best + 1]))
      out = dict(prediction.one_body(out, best),
                 pose=np.asarray(fitted['pose'][best]),
                 betas=np.asarray(fitted['betas'][best]),
                 **{k: np.asarray(body[v][0]) for k, v in (
                     ('jl_body', 'jl'), ('joints', 'joints'),
                     ('landmarks', 'landmarks'), ('vertices', 'vertices'))})
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
    out = dict(out, **extra, hypothesis=names[best],
               keypoints_2d=detection.keypoints_2d,
               keypoints_3d=detection.keypoints_3d,
               visibility=detection.visibility, box=detection.box,
               root_cam=np.asarray(root, np.float64), focal=float(focal),
               front_end='detector', used_dae=self.uses_dae)
    return dict(out, **gender_lib.labels(out['gender'], gender),
                joint_seen=visibility_lib.photo_joint_seen(out, image_size))

  def _start_bodies(self, readings: dict, intrinsics: np.ndarray,
                    image_size, gender: str | None, with_mesh: bool):
    """SMPLR's start bodies of `hypotheses.readings`' dict (the landmarks
    outside the photo read as missing, `seen_landmarks`), the gender
    resolved (`gender.apply`); and the readings stacked (`_stack`)."""
    stacked = _stack(readings)
    points_3d, pixels, _ = stacked
    out = self.read(points_3d, pixels, intrinsics, with_mesh=with_mesh,
                    visible=self.seen_landmarks(pixels, image_size))
    return (gender_lib.apply(out, self.body.gendered, self.settings.gender,
                             gender), stacked)

  def _fit_readings(self, start: dict[str, Any], stacked, intrinsics,
                    image_size) -> dict[str, Any]:
    """A photo's fit of stacked readings from their start bodies
    (`photo_fit_options`, the shape prior of the start's gender)."""
    return self.fit(start, *stacked, intrinsics,
                    options=gender_lib.fit_options(
                        self.photo_fit_options, start['gender'],
                        self.settings.gender),
                    image_size=image_size)

  def _detect_mirrored(self, photo: np.ndarray, box: np.ndarray
                       ) -> detector_lib.Detection | None:
    if hypotheses_lib.MIRRORED_PHOTO not in self.hypotheses:
      return None
    return self.detector.read_mirrored(photo, box)

  def predict_image(self, image: Any, focal: float | None = None,
                    gender: str | None = None) -> dict[str, Any]:
    """A whole photo (the detector finds the most confident person) -> one
    body (`prediction`: BODY_KEYS, PHOTO_KEYS, DETECTOR_KEYS, fit_cost).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, too small, or a bad focal length.
    """
    photo = detector_lib.check_photo(image, self.settings.min_image_side)
    detection = self.detector(photo)
    height, width = photo.shape[:2]
    # The mirrored photo is detected only when the first readings are
    # ambiguous (`predict_detection`).
    out = self.predict_detection(detection, (width, height), focal,
                                 lambda: self._detect_mirrored(
                                     photo, detection.box), gender)
    return dict(out, crop=square_crop(photo, detection.box))

  def predict_people(self, image: Any, focal: float | None = None,
                     max_people: int | None = None,
                     gender: str | None = None) -> list[dict[str, Any]]:
    """Every person of a photo (`BlazePoseDetector.detect_people`, at most
    `max_people`, default `settings.max_people`), each as `predict_image`'s
    dict; [] when there is none."""
    photo = detector_lib.check_photo(image, self.settings.min_image_side)
    height, width = photo.shape[:2]
    if max_people is None:
      max_people = self.settings.max_people
    people = []
    for detection in self.detector.detect_people(photo, max_people):
      # Each person's second pass reads that person (`read_mirrored`).
      out = self.predict_detection(
          detection, (width, height), focal,
          lambda box=detection.box: self._detect_mirrored(photo, box),
          gender)
      people.append(dict(out, crop=square_crop(photo, detection.box)))
    return people


def choose(names, costs: np.ndarray, margin: float) -> int:
  """The index of the reading kept among `names` (the detected reading
  first) with fit costs [R]: another reading replaces the detected one only
  when its cost is under `margin` x the detected one's; when the detected
  reading stays and a fused reading ('fused', `hypotheses.fuse`) was
  fitted, the fused one is kept (tuned on seeds 7-8, docs/photo_path.md)."""
  costs = np.asarray(costs, np.float64)
  candidates = [i for i, n in enumerate(names) if n != hypotheses_lib.FUSED]
  scaled = [costs[i] if i == 0 else costs[i] / margin for i in candidates]
  best = candidates[int(np.argmin(scaled))]
  if best == 0 and hypotheses_lib.FUSED in names:
    best = list(names).index(hypotheses_lib.FUSED)
  return best


def _stack(readings: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(points_3d [R, 33, 3], pixels [R, 33, 2], visibility [R, 33]) of
  `hypotheses.readings`' dict."""
  return tuple(np.stack([r[i] for r in readings.values()]) for i in range(3))


def _concatenate(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
  """Two batched dicts of the same keys as one ('faces' kept once)."""
  return {k: a[k] if k == 'faces' else np.concatenate(
      [np.asarray(a[k]), np.asarray(b[k])]) for k in a}


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

