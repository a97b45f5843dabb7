"""The crop and camera geometry of every image stage: one module.

The camera frame is OpenCV's (x right, y down, z forward, metres; see
`smplr_jax.data.records`). A *root-centred crop* of a photo is a square
window of side f * cube / z_root centred on the root's pixel, resized to S
pixels (`crop_transform` gives its point and pixel maps, `warp` resamples
the photo through it, `crop_person` makes it from a person box, and
`uncrop_pixels` takes crop pixels back to the photo). The image network
predicts JL in the crop's *cube* frame: x and y are offsets in the crop
plane scaled to metres at the root's depth, z is depth relative to the root
(`cube_to_camera`, `camera_to_cube`, `cube_to_root_relative`). Mirroring a
photo mirrors the camera frame's x axis and swaps left and right
(`mirror_points`, `mirror_pose`, `MIRROR`). The camera itself (intrinsics,
focal length, rays) is `smplr_jax.camera`'s.

Training (`smplr_jax.data.augment`) and serving (`smplr_jax.predict`) both
use these functions; this module imports neither.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from smplr_jax import camera, checks
from smplr_jax.body import jl as jl_lib

# The mirror x -> -x of the camera frame (a horizontally flipped photo).
MIRROR = np.diag([-1.0, 1.0, 1.0])
# Point i of a left-right mirrored body is point POINT_PERMUTATION[i].
POINT_PERMUTATION = np.asarray(jl_lib.LEFT_RIGHT_PERMUTATION)
_X_SIGN = np.array([-1.0, 1.0, 1.0])
_YZ_SIGN = np.array([1.0, -1.0, -1.0])
# Body extent (metres) that a person box's longer side is taken to cover.
BOX_BODY_EXTENT = 1.8


def cube_to_camera(jl_cube: jnp.ndarray, root_cam: jnp.ndarray,
                   zoom: jnp.ndarray | float = 1.0) -> jnp.ndarray:
  """Cube-frame JL of a root-centred crop -> camera-frame JL.

  The crop's camera has focal S * z_root * zoom / cube and sees the root at
  the crop centre, so x_cube = zoom * z_root * (X / Z - X_root / Z_root)
  (same for y) and z_cube = zoom * (Z - Z_root) (`augment`'s scale
  augmentation with `scale_depth`, the default: the target is the body of a
  zoom times larger person); this inverts it. Pixels are taken as square
  (fx = fy; the crop uses their mean): with fx != fy the lateral error is
  |fx / fy - 1| times the offset from the root (0.1% on Human3.6M).

  Args:
    jl_cube: [B, 42, 3] metres in the cube frame (root at 0).
    root_cam: [B, 3] the root in camera coordinates (metres).
    zoom: [B] or scalar, the crop's zoom k (1 without scale augmentation).

  Returns:
    [B, 42, 3] camera coordinates (metres).
  """
  zoom = jnp.reshape(jnp.asarray(zoom, jl_cube.dtype), (-1, 1, 1))
  jl_cube = jl_cube / zoom
  z_root = root_cam[:, None, 2:3]
  depth = z_root + jl_cube[..., 2:3]
  ray = jl_cube[..., :2] / z_root + root_cam[:, None, :2] / z_root
  return jnp.concatenate([ray * depth, depth], axis=-1)


def camera_to_cube(jl_cam: jnp.ndarray, zoom: jnp.ndarray | float = 1.0
                   ) -> jnp.ndarray:
  """Camera-frame JL (point 0 the root) -> cube-frame JL of the root-centred
  crop: the inverse of `cube_to_camera` (see there).

  Args:
    jl_cam: [B, 42, 3] camera coordinates (metres), root first.
    zoom: [B] or scalar crop zoom.

  Returns:
    [B, 42, 3] cube frame (metres; the root at 0).
  """
  zoom = jnp.reshape(jnp.asarray(zoom, jl_cam.dtype), (-1, 1, 1))
  root = jl_cam[:, :1]
  z_root = root[..., 2:3]
  lateral = z_root * (jl_cam[..., :2] / jl_cam[..., 2:3] -
                      root[..., :2] / z_root)
  depth = jl_cam[..., 2:3] - z_root
  return zoom * jnp.concatenate([lateral, depth], axis=-1)


def cube_to_root_relative(jl_cube: jnp.ndarray,
                          root_cam: jnp.ndarray | None = None,
                          zoom: jnp.ndarray | float = 1.0) -> jnp.ndarray:
  """Cube-frame JL -> root-relative camera-frame JL, the frame of every
  stage after the image network.

  With the root's camera position, exact (`cube_to_camera` minus the root).
  Without it (a crop whose camera is unknown), the weak-perspective reading
  of the crop as seen by a camera looking at the root from far away:
  jl_cube / zoom. Its error is the relative depth over the root depth times
  the lateral offset (a wrist 0.6 m out and 0.3 m nearer at 4 m: 45 mm).

  Args:
    jl_cube: [B, 42, 3] cube frame (metres).
    root_cam: [B, 3] the root in camera coordinates, or None.
    zoom: [B] or scalar crop zoom.

  Returns:
    [B, 42, 3] root-relative camera-frame JL (metres; point 0 is 0).
  """
  if root_cam is None:
    zoom = jnp.reshape(jnp.asarray(zoom, jl_cube.dtype), (-1, 1, 1))
    return jl_cube / zoom
  return cube_to_camera(jl_cube, root_cam, zoom) - root_cam[:, None]


def crop_transform(root: np.ndarray, focal: np.ndarray, principal: np.ndarray,
                   crop_size: int, cube_size: float = 2.5, zoom: float = 1.0,
                   rotation: float = 0.0,
                   flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """The point map and the pixel map of one (augmented) crop.

  Args:
    root: [3] root position in the camera frame (metres, z > 0).
    focal: [2] fx, fy (pixels).
    principal: [2] cx, cy (pixels).
    crop_size: S, the crop's side in pixels.
    cube_size: metres covered by the crop's side at the root's depth.
    zoom: k; the window side is f * cube / (z_root * k).
    rotation: in-plane angle (radians, counter-clockwise on the picture)
      about the ray through the root.
    flip: mirror the camera frame's x axis.

  Returns:
    (M [3, 3], H [3, 3]): camera-frame points map as `p -> M p` (before the
    left/right relabelling), and a homogeneous source pixel `x` maps to the
    crop pixel `H x`.
  """
  root = np.asarray(root, np.float64)
  if not root[2] > 0:
    raise ValueError(f'the root must be in front of the camera (z > 0); got '
                     f'jl_cam[0] = {root}.')
  axis = root / np.linalg.norm(root)
  # Camera y points down: a right-handed turn about the viewing ray is
  # clockwise on the picture, hence the minus sign.
  points = Rotation.from_rotvec(-rotation * np.asarray(axis)).as_matrix()
  if flip:
    points = MIRROR @ points
  k = camera.camera_matrix(focal, principal)
  centre = k @ (points @ root)
  centre = centre[:2] / centre[2]
  window = float(np.mean(focal)) * cube_size / root[2]
  s = crop_size * zoom / window
  similarity = np.array([[s, 0.0, crop_size / 2 - s * centre[0]],
                         [0.0, s, crop_size / 2 - s * centre[1]],
                         [0.0, 0.0, 1.0]])
  pixels = similarity @ k @ points @ np.linalg.inv(k)
  return points, pixels / pixels[2, 2]


def project_to_crop(points: np.ndarray, focal: np.ndarray,
                    principal: np.ndarray, pixels: np.ndarray) -> np.ndarray:
  """The record's camera-frame points [N, 3] -> crop pixels [N, 2].

  `pixels` is the `H` of `crop_transform`; the points are those of the
  record (before `M`), which `H` already includes.
  """
  k = camera.camera_matrix(focal, principal)
  x = points @ (pixels @ k).T
  # Unannotated points are stored as 0 (depth 0): they project to 0, not NaN.
  depth = x[:, 2:]
  return np.divide(x[:, :2], depth, out=np.zeros_like(x[:, :2]),
                   where=depth != 0)


def _grid(crop_size: int, homography: np.ndarray):
  """Source array coordinates (x, y) [S, S] of the crop's pixel centres.

  `homography` maps crop coordinates (pixel (r, c) centred at (c + 0.5,
  r + 0.5)) to the source's array coordinates (pixel centres at integers).
  """
  c = np.arange(crop_size, dtype=np.float64) + 0.5
  h = homography
  den = h[2, 0] * c[None, :] + h[2, 1] * c[:, None] + h[2, 2]
  x = (h[0, 0] * c[None, :] + h[0, 1] * c[:, None] + h[0, 2]) / den
  y = (h[1, 0] * c[None, :] + h[1, 1] * c[:, None] + h[1, 2]) / den
  return x.astype(np.float32), y.astype(np.float32)


def bilinear(packed: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Bilinear samples of a 4-channel uint8 image, 0 outside it.

  The 4 channels are gathered as one uint32 per pixel (4 gathers in all).

  Args:
    packed: uint8 [h, w, 4], C-contiguous.
    x: float32 [...] column coordinates (pixel centres at integers).
    y: float32 [...] row coordinates.

  Returns:
    float32 [..., 4] in [0, 255]; samples blend towards 0 within one pixel
    outside the image.
  """
  h, w = packed.shape[:2]
  # A zero border: coordinates clamped onto it read 0.
  padded = np.zeros((h + 2, w + 2, 4), np.uint8)
  padded[1:-1, 1:-1] = packed
  flat = padded.view(np.uint32).reshape(-1)
  x = np.clip(x + 1.0, 0.0, w + 1.0)
  y = np.clip(y + 1.0, 0.0, h + 1.0)
  x0 = np.minimum(x.astype(np.int32), w)  # floor (x >= 0)
  y0 = np.minimum(y.astype(np.int32), h)
  fx = (x - x0)[..., None]
  fy = (y - y0)[..., None]
  index = y0 * (w + 2) + x0
  shape = x.shape + (4,)

  def gather(offset):
    return np.take(flat, index + offset).view(np.uint8).reshape(shape).astype(
        np.float32)

  top = gather(0)
  top += (gather(1) - top) * fx
  bottom = gather(w + 2)
  bottom += (gather(w + 3) - bottom) * fx
  top += (bottom - top) * fy
  return top


def _pack(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
  """uint8 [h, w, 4]: the image's 3 channels and the mask (or 0)."""
  packed = np.empty(image.shape[:2] + (4,), np.uint8)
  packed[..., :3] = image
  packed[..., 3] = 0 if mask is None else mask
  return packed


def _box_downsample(array: np.ndarray, factor: int) -> np.ndarray:
  """uint8 [h, w, C] -> uint8 [h / d, w / d, C] rounded block means.

  h and w are multiples of d <= 16 (the uint16 sums cannot overflow).
  """
  rows = np.zeros((array.shape[0] // factor,) + array.shape[1:], np.uint16)
  for i in range(factor):
    rows += array[i::factor]
  sums = rows[:, 0::factor].copy()
  for j in range(1, factor):
    sums += rows[:, j::factor]
  sums += factor * factor // 2
  return (sums // (factor * factor)).astype(np.uint8)


def warp(image: np.ndarray, mask: np.ndarray | None, homography: np.ndarray,
         crop_size: int, antialias: bool = True,
         where: np.ndarray | None = None) -> np.ndarray:
  """Resamples an image and its mask through a homography onto S x S.

  Only the region of the source that the crop reads is touched. With
  `antialias`, a region shrunk by d >= 2 (at the crop centre) is first
  averaged over d x d blocks.

  Args:
    image: uint8 [H, W, 3] source frame.
    mask: uint8 [H, W] values in {0, 1}, or None.
    homography: [3, 3] source pixel (centres at integers) -> crop pixel
      (pixel (r, c) centred at (c + 0.5, r + 0.5)).
    crop_size: S.
    antialias: box-filter before shrinking by 2 or more.
    where: optional bool [S, S]; only these crop pixels are sampled.

  Returns:
    float32 [S, S, 4] (or [K, 4] for the K pixels of `where`): image
    channels in [0, 255], then 255 * mask (0 outside the source frame).
  """
  height, width = image.shape[:2]
  inverse = np.linalg.inv(homography)
  # Region of the source that the crop reads (corners' pre-images + margin).
  corners = np.array([[0, 0, 1], [crop_size, 0, 1], [0, crop_size, 1],
                      [crop_size, crop_size, 1]], np.float64) @ inverse.T
  corners = corners[:, :2] / corners[:, 2:]
  x_lo = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, width))
  x_hi = int(np.clip(np.ceil(corners[:, 0].max()) + 2, 0, width))
  y_lo = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, height))
  y_hi = int(np.clip(np.ceil(corners[:, 1].max()) + 2, 0, height))
  if x_hi <= x_lo or y_hi <= y_lo:
    shape = (crop_size, crop_size) if where is None else (int(where.sum()),)
    return np.zeros(shape + (4,), np.float32)
  # Source pixels per crop pixel at the crop centre (sqrt |det| of the
  # inverse map's Jacobian there).
  centre = inverse @ np.array([crop_size / 2, crop_size / 2, 1.0])
  jacobian = (inverse[:2, :2] * centre[2] -
              np.outer(centre[:2], inverse[2, :2])) / centre[2] ** 2
  factor = int(np.sqrt(abs(np.linalg.det(jacobian)))) if antialias else 1
  factor = max(1, min(factor, 16, y_hi - y_lo, x_hi - x_lo))
  if factor > 1:
    h = (y_hi - y_lo) // factor * factor
    w = (x_hi - x_lo) // factor * factor
    y_hi, x_hi = y_lo + h, x_lo + w
  image = image[y_lo:y_hi, x_lo:x_hi]
  mask = None if mask is None else mask[y_lo:y_hi, x_lo:x_hi, None]
  if factor > 1:  # shrink first: packing costs a pass over the pixels
    image = _box_downsample(image, factor)
    mask = None if mask is None else _box_downsample(mask * np.uint8(255),
                                                     factor)
  elif mask is not None:
    mask = mask * np.uint8(255)
  region = _pack(image, None if mask is None else mask[..., 0])
  # Source pixel -> region pixel; region pixel c averages source pixels
  # x_lo + d c .. x_lo + d c + d - 1, centred at x_lo + d c + (d - 1) / 2.
  shift = (factor - 1) / 2
  to_region = np.array([[1.0 / factor, 0.0, -(x_lo + shift) / factor],
                        [0.0, 1.0 / factor, -(y_lo + shift) / factor],
                        [0.0, 0.0, 1.0]])
  x, y = _grid(crop_size, to_region @ inverse)
  if where is not None:
    x, y = x[where], y[where]
  return bilinear(region, x, y)


def mirror_points(points):
  """[..., 42, 3] camera-frame JL of the body seen in a mirror (x -> -x),
  relabelled left <-> right: the JL of the horizontally flipped image.

  numpy in, numpy out; a jax array (traced too) in, a jax array out.
  """
  if not isinstance(points, jax.Array):
    points = np.asarray(points)
  return points[..., POINT_PERMUTATION, :] * _X_SIGN.astype(points.dtype)


def mirror_pose(pose: np.ndarray) -> np.ndarray:
  """SMPL pose of the body mirrored through the camera's x = 0 plane.

  Swaps the left and right joints and negates the y and z components of
  every axis-angle (the mirror x -> -x of the body frame conjugates each
  relative rotation; for the global orientation, camera and body frames are
  both mirrored). Its own inverse.

  Args:
    pose: [..., 24, 3] axis-angle, joint 0 the global orientation in the
      camera frame.

  Returns:
    [..., 24, 3] the mirrored pose.
  """
  if not isinstance(pose, jax.Array):
    pose = np.asarray(pose)
  return pose[..., POINT_PERMUTATION[:jl_lib.NUM_JOINTS], :] * (
      _YZ_SIGN.astype(pose.dtype))


def uncrop_pixels(points: np.ndarray, pixels: np.ndarray) -> np.ndarray:
  """Crop pixels [N, 2] -> photo pixels [N, 2]: the inverse of the pixel
  map `H` of `crop_transform` (or `Crop.pixels`)."""
  points = np.asarray(points, np.float64)
  homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
  source = homogeneous @ np.linalg.inv(pixels).T
  return source[:, :2] / source[:, 2:]


@dataclasses.dataclass(frozen=True)
class Crop:
  """A root-centred crop of a photo and the camera it implies.

  Attributes:
    image: uint8 [S, S, 3] the crop.
    root_cam: [3] the estimated root position in the photo's camera frame
      (metres): the box centre's ray at depth focal * 2.5 m / window.
    focal: the focal length used (pixels).
    window: the crop window's side in the photo (pixels).
    pixels: [3, 3] homography from photo pixels to crop pixels.
  """
  image: np.ndarray
  root_cam: np.ndarray
  focal: float
  window: float
  pixels: np.ndarray


def crop_person(image: Any, box: tuple[float, float, float, float],
                size: int, focal: float | None = None,
                cube_size: float = 2.5) -> Crop:
  """The paper's root-centred crop of a photo, from a person box.

  The root (pelvis) is taken at the box centre, and the box's longer side
  to span `BOX_BODY_EXTENT` (1.8 m) at the root's depth, so the window (the
  crop's side in the photo, 2.5 m at that depth) is 2.5 / 1.8 times the
  box's longer side, and the root depth is focal * 2.5 m / window. The
  focal length, when unknown, follows from an assumed field of view of
  `camera.DEFAULT_FIELD_OF_VIEW_DEG` along the photo's longer side (the principal
  point is the image centre). Only the body's scale depends on these
  assumptions: the root-relative pose and shape do not.

  Args:
    image: [H, W, 3] uint8 photo (grayscale and RGBA are converted).
    box: (x0, y0, x1, y1) person box in pixels.
    size: S, the crop side (the predictor's `input_size`).
    focal: focal length in pixels, or None.
    cube_size: the network's cube side (metres).

  Raises:
    ValueError: a malformed box, one outside the image, or a focal length
      that is not a positive number.
  """
  image = checks.as_rgb(image)
  height, width = image.shape[:2]
  box = np.asarray(box, np.float64).reshape(-1)
  if box.shape != (4,) or not np.all(np.isfinite(box)):
    raise ValueError(f'box must be 4 numbers x0, y0, x1, y1; got {box}.')
  x0, y0, x1, y1 = box
  if not (x1 > x0 and y1 > y0):
    raise ValueError(f'box must have x1 > x0 and y1 > y0; got {box}.')
  if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
    raise ValueError(f'box {tuple(round(float(v), 1) for v in box)} lies '
                     f'outside the {width} x {height} image.')
  focal = camera.resolve_focal(focal, (width, height))
  principal = camera.principal_point((width, height))
  window = max(x1 - x0, y1 - y0) * cube_size / BOX_BODY_EXTENT
  depth = focal * cube_size / window
  centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
  root = np.array([*(centre - principal) * depth / focal, depth])
  focal2 = np.array([focal, focal])
  _, pixels = crop_transform(root, focal2, principal, size,
                                     cube_size)
  crop = warp(image, None, pixels, size, True)[..., :3]
  return Crop(image=np.round(crop).astype(np.uint8), root_cam=root,
              focal=float(focal), window=float(window), pixels=pixels)
