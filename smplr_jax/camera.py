"""The pinhole camera of every photo: one home for intrinsics and rays.

The camera frame is OpenCV's (x right, y down, z forward, metres); pixels
are (u right, v down), pixel (i, j) centred at (j, i). A photo's principal
point is its centre (`principal_point`), and an unknown focal length follows
from an assumed field of view (`resolve_focal`). `normalised` turns pixels
into normalised image coordinates ((u - c) / f), `root_from_rays` places a
root-relative body so that its points lie on their pixels' rays: the one
solver the photo path, the fit's start and the crop's root share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

# Field of view assumed when the focal length is unknown (degrees, along the
# image's longer side): a typical phone or compact camera at its widest
# zoom.
DEFAULT_FIELD_OF_VIEW_DEG = 55.0


def default_focal(width: int, height: int) -> float:
  """Focal length (pixels) of a `DEFAULT_FIELD_OF_VIEW_DEG` camera on a
  width x height photo (the field of view along its longer side)."""
  return 0.5 * max(width, height) / math.tan(
      math.radians(DEFAULT_FIELD_OF_VIEW_DEG) / 2)


def resolve_focal(focal: float | None,
                  image_size: tuple[int, int] | None) -> float:
  """A caller's focal length (pixels), checked, or when None the
  `default_focal` of a photo of `image_size` (width, height).

  Raises:
    ValueError: a focal length that is not a positive number.
  """
  if focal is None:
    return default_focal(*image_size)
  if not (math.isfinite(focal) and focal > 0):
    raise ValueError(f'focal must be a positive number of pixels, got '
                     f'{focal}.')
  return float(focal)


def principal_point(image_size: tuple[int, int]) -> np.ndarray:
  """[2] (cx, cy): the centre of a (width, height) photo, in pixels."""
  width, height = image_size
  return np.array([(width - 1) / 2, (height - 1) / 2])


def camera_matrix(focal: np.ndarray, principal: np.ndarray) -> np.ndarray:
  """[3, 3] intrinsics K from focal [2] and principal point [2] (pixels)."""
  return np.array([[focal[0], 0.0, principal[0]],
                   [0.0, focal[1], principal[1]],
                   [0.0, 0.0, 1.0]])


def intrinsics(image_size: tuple[int, int],
               focal: float | None = None) -> np.ndarray:
  """[3, 3] K of a (width, height) photo: `resolve_focal`'s focal length on
  both axes, the principal point at the centre."""
  focal = resolve_focal(focal, image_size)
  return camera_matrix(np.array([focal, focal]), principal_point(image_size))


def split_intrinsics(k: Any, batch: int) -> tuple[jnp.ndarray, jnp.ndarray]:
  """([B, 2] focal, [B, 2] principal point) of [3, 3] or [B, 3, 3] K."""
  k = jnp.broadcast_to(jnp.asarray(k, jnp.float32), (batch, 3, 3))
  return jnp.stack([k[:, 0, 0], k[:, 1, 1]], -1), k[:, :2, 2]


def root_from_rays(points: Any, rays: Any, weights: Any,
                   depth: Any = None) -> jnp.ndarray:
  """The root putting root-relative points on their rays.

  Point k at root + X_k projects to the normalised coordinates (a_k, b_k)
  when (t + X_k)_x = a_k (t + X_k)_z (and likewise for y). With the depth
  unknown this is linear least squares in t (weighted, a 1e-6 ridge); with
  the depth given, each point's depth is t_z + X_k,z and t_x, t_y are the
  weighted means of the offsets a_k (t_z + X_k,z) - X_k,x.

  Args:
    points: [..., K, 3] root-relative camera-frame points (metres).
    rays: [..., K, 2] their normalised image coordinates ((u - c) / f).
    weights: [..., K] confidence per point (0: ignored).
    depth: [...] the root's depth, or None to solve it.

  Returns:
    [..., 3] the root in the camera frame (metres).
  """
  points = jnp.asarray(points)
  rays = jnp.asarray(rays, points.dtype)
  weights = jnp.asarray(weights, points.dtype)
  if depth is not None:
    depth = jnp.asarray(depth, points.dtype)
    z = depth[..., None] + points[..., 2]
    offsets = rays * z[..., None] - points[..., :2]  # [..., K, 2]
    total = jnp.maximum(jnp.sum(weights, axis=-1, keepdims=True), 1e-6)
    xy = jnp.sum(weights[..., None] * offsets, axis=-2) / total
    return jnp.concatenate([xy, depth[..., None]], axis=-1)
  rows, rhs = [], []
  for axis in range(2):
    coeff = rays[..., axis]
    row = jnp.zeros(points.shape, points.dtype).at[..., axis].set(1.0)
    rows.append(row.at[..., 2].set(-coeff))
    rhs.append(coeff * points[..., 2] - points[..., axis])
  a = jnp.concatenate(rows, axis=-2)  # [..., 2K, 3]
  b = jnp.concatenate(rhs, axis=-1)
  w = jnp.concatenate([weights, weights], axis=-1)
  normal = jnp.einsum('...ka,...k,...kc->...ac', a, w, a) + 1e-6 * jnp.eye(
      3, dtype=points.dtype)
  return jnp.linalg.solve(normal, jnp.einsum('...ka,...k,...k->...a', a, w,
                                             b)[..., None])[..., 0]


def normalised(pixels: Any, focal: Any, principal: Any) -> Any:
  """[..., K, 2] pixels -> normalised image coordinates (u - c) / f."""
  return (pixels - principal) / focal


def virtual_camera(pixels: np.ndarray, centre_ids: Sequence[int],
                   focal: float, principal: Sequence[float]):
  """Turns a photo's 2D keypoints into a camera looking at the hips.

  The rays of the keypoints are rotated so that the hip midpoint's ray is
  the optical axis (the adapters are trained on such centred views); a
  point X predicted in this virtual camera is `rotation.T @ X` in the
  photo's camera.

  Args:
    pixels: [K, 2] keypoints (pixels); the hips must be detected.
    centre_ids: the hips' indices in `pixels` (`KeypointSet.centre_ids`).
    focal: focal length (pixels).
    principal: (cx, cy) principal point (pixels).

  Returns:
    (points [K, 2] normalised image coordinates in the virtual camera,
    rotation [3, 3] from the photo's camera frame to the virtual one).
  """
  rays = np.concatenate([(np.asarray(pixels, np.float64) -
                          np.asarray(principal)) / focal,
                         np.ones((len(pixels), 1))], axis=1)
  centre = rays[list(centre_ids)].mean(axis=0)
  rotation = _rotation_to_axis(centre / np.linalg.norm(centre))
  turned = rays @ rotation.T
  return turned[:, :2] / turned[:, 2:], rotation


def _rotation_to_axis(direction: np.ndarray) -> np.ndarray:
  """[3, 3] the smallest rotation taking unit `direction` to +z."""
  z = np.array([0.0, 0.0, 1.0])
  axis = np.cross(direction, z)
  sin, cos = np.linalg.norm(axis), float(direction @ z)
  if sin < 1e-12:
    return np.eye(3)
  k = axis / sin
  skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
  return np.eye(3) + sin * skew + (1 - cos) * skew @ skew


def inside_image(pixels, image_size) -> np.ndarray:
  """[...] bool: pixels [..., 2] (u, v) inside an image of `image_size`
  (width, height), pixel centres from 0 to width - 1 and height - 1; NaN
  (a point behind the camera) is outside."""
  width, height = image_size
  pixels = np.asarray(pixels, np.float64)
  with np.errstate(invalid='ignore'):
    return ((pixels[..., 0] >= 0) & (pixels[..., 0] <= width - 1) &
            (pixels[..., 1] >= 0) & (pixels[..., 1] <= height - 1))
