r"""A z-buffered triangle rasteriser for the CPU, in JAX (no OpenGL).

Renders meshes whose triangles are small on screen (a 27K-face body in a
256x256 image: most faces cover 1-3 pixels) fast on a couple of CPU cores.

How it works (all vectorised, batched over images, jit-able):

1. Per face: the bounding box of its projected vertices, in pixel centres,
   clipped to the image; the plane equations of its barycentric coordinates
   and of inverse depth 1/z (both linear in screen space). Back-facing and
   degenerate faces are skipped.
2. Every face is tested against the pixels of a small fixed window (2 x 2 by
   default) at the corner of its bounding box; faces whose box is larger are
   skipped there and handled by a few ranked classes: `lax.top_k` on the box
   side picks the largest faces (XLA:CPU's float top-k is much faster than
   a cumsum compaction), the first ones get the largest window (16), the
   next a smaller one (8, then 4); see `RasterConfig`. A face that does not
   fit its window, or that falls beyond the ranked capacity, is counted in
   `Fragments.overflow`: `rasterize` never drops a face silently, and the
   caller renders again with a larger config (`exhaustive_config` never
   overflows).
3. A pixel centre is inside when its barycentrics are >= 0 (with a tiny
   tolerance so that shared edges leave no cracks); depth is perspective
   correct (1/z interpolated).
4. Z-buffer: depth (quantised per image between the nearest and farthest
   vertex) and face index are packed into one int32 (`depth << face_bits |
   face`) and scatter-min'ed into the pixel grid, one flat scatter for the
   whole batch; the nearest face wins, ties go to the lower face index.

Pixel convention (OpenCV): pixel (row i, column j) has its centre at image
coordinates (u, v) = (j, i); u = fx * x / z + cx, v = fy * y / z + cy with
camera coordinates x right, y down, z forward. The centre of an H x W image
is ((W - 1) / 2, (H - 1) / 2).

Winding: faces are counter-clockwise seen from outside (the SMPL / OpenGL
convention), so a front face also looks counter-clockwise on screen: its
signed area (u1 - u0)(v2 - v0) - (u2 - u0)(v1 - v0) is negative (v points
down). `cull_backfaces` drops faces with a positive area.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

# Smallest camera depth (metres) of a vertex for its face to be rendered.
NEAR_PLANE = 1e-3
# Relative tolerance on barycentrics: shared edges are covered by both faces.
_INSIDE_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class RasterConfig:
  """Face classes of the rasteriser (static; hashable for jit).

  A face's size is the side of its pixel bounding box: the number of pixel
  centres it spans, the larger of columns and rows.

  Attributes:
    small_window: every face of size <= this is tested against this many
      pixels squared (the bulk of a body mesh).
    ranked_windows: (window side, number of faces) classes for the larger
      faces, largest window first: the largest faces fill the first class,
      and so on. Their capacities sum to the top-k size.
    cull_backfaces: skip faces whose projected winding shows their back.
  """
  small_window: int = 2
  ranked_windows: tuple[tuple[int, int], ...] = ((16, 64), (8, 448),
                                                 (4, 2560))
  cull_backfaces: bool = True

  def __post_init__(self):
    sides = [w for w, _ in self.ranked_windows]
    if (self.small_window < 1 or sides != sorted(sides, reverse=True) or
        any(c < 1 for _, c in self.ranked_windows) or
        any(w <= self.small_window for w in sides)):
      raise ValueError(
          'RasterConfig: ranked_windows must be (side, capacity) pairs with '
          'decreasing sides > small_window and capacities >= 1, got '
          f'small_window={self.small_window}, '
          f'ranked_windows={self.ranked_windows}.')

  def candidates_per_image(self, num_faces: int) -> int:
    """Pixel tests per image."""
    return num_faces * self.small_window**2 + sum(
        c * w * w for w, c in self.ranked_windows)


def exhaustive_config(height: int, width: int,
                      cull_backfaces: bool = True) -> RasterConfig:
  """A config that never overflows: every face may cover the whole image.

  Slow for large meshes (num_faces * H * W pixel tests): for tests, small
  meshes and as a last resort.
  """
  return RasterConfig(small_window=max(height, width), ranked_windows=(),
                      cull_backfaces=cull_backfaces)


class Fragments(NamedTuple):
  """Result of `rasterize`.

  Attributes:
    face_index: [B, H, W] int32 index of the visible face, -1 on background.
    overflow: [B] int32 number of faces that could not be rasterised (larger
      than the largest window, or no slot left); 0 means the image is exact.
  """
  face_index: jnp.ndarray
  overflow: jnp.ndarray


def face_bits(num_faces: int) -> int:
  """Bits of the face index in the packed z-buffer word."""
  return max(1, int(num_faces).bit_length())


def _face_setup(points: jnp.ndarray, faces: jnp.ndarray, height: int,
                width: int):
  """Per-face screen-space data as face-major [F, B] arrays.

  Face-major because XLA:CPU's gather of whole [B, 3] vertex rows is fast
  and everything downstream is then elementwise on contiguous arrays.

  Args:
    points: [B, V, 3] (u, v, z): pixel coordinates and camera depth.
    faces: [F, 3] vertex indices.
    height, width: image size.

  Returns:
    (coefficients: list of 13 [F, B] float32 arrays -- barycentric planes of
    corners 0 and 1 (a, b, c each: w_k = a u + b v + c), the plane of 1/z,
    the first pixel column and row of the clipped bounding box and its number
    of columns and rows; front-facing area [F, B] (minus the signed area,
    positive for front faces); min depth [F, B]; max depth [F, B]).
  """
  num_faces = faces.shape[0]
  rows = jnp.transpose(points, (1, 2, 0))  # [V, 3 (u, v, z), B]
  # One row gather, corner-major: [3 F (corner 0, 1, 2), 3, B].
  gathered = rows[faces.T.reshape(-1)]
  corner = lambda c, k: gathered[k * num_faces:(k + 1) * num_faces, c]
  u = [corner(0, k) for k in range(3)]
  v = [corner(1, k) for k in range(3)]
  z = [corner(2, k) for k in range(3)]
  signed_area = (u[1] - u[0]) * (v[2] - v[0]) - (u[2] - u[0]) * (v[1] - v[0])
  inv_area = 1.0 / jnp.where(jnp.abs(signed_area) > 1e-12, signed_area, 1.0)
  # Barycentric of corner k: edge function of the opposite edge / area.
  bary = []
  for k in range(3):
    i, j = (k + 1) % 3, (k + 2) % 3
    bary.append([(v[i] - v[j]) * inv_area, (u[j] - u[i]) * inv_area,
                 (u[i] * v[j] - u[j] * v[i]) * inv_area])
  inv_z = [1.0 / jnp.maximum(zk, NEAR_PLANE) for zk in z]
  inv_plane = [bary[0][c] * inv_z[0] + bary[1][c] * inv_z[1] +
               bary[2][c] * inv_z[2] for c in range(3)]
  lowest = lambda x: jnp.minimum(jnp.minimum(x[0], x[1]), x[2])
  highest = lambda x: jnp.maximum(jnp.maximum(x[0], x[1]), x[2])
  u_lo = jnp.maximum(jnp.ceil(lowest(u)), 0.0)
  v_lo = jnp.maximum(jnp.ceil(lowest(v)), 0.0)
  u_hi = jnp.minimum(jnp.floor(highest(u)), width - 1.0)
  v_hi = jnp.minimum(jnp.floor(highest(v)), height - 1.0)
  # Clipped so that far off-screen faces cannot overflow an int32 cast.
  num_u = jnp.clip(u_hi - u_lo + 1.0, -1.0, 1e6)
  num_v = jnp.clip(v_hi - v_lo + 1.0, -1.0, 1e6)
  coefficients = bary[0] + bary[1] + inv_plane + [u_lo, v_lo, num_u, num_v]
  return coefficients, -signed_area, lowest(z), highest(z)


def rasterize(points: jnp.ndarray, faces: jnp.ndarray, height: int,
              width: int, config: RasterConfig = RasterConfig()) -> Fragments:
  """Visible face per pixel (z-buffer), batched.

  Args:
    points: [B, V, 3] projected vertices: (u, v) pixel coordinates and the
      camera depth z (> 0 in front of the camera; faces with a vertex closer
      than `NEAR_PLANE` are not drawn).
    faces: [F, 3] int vertex indices (counter-clockwise seen from outside).
    height, width: image size (static).
    config: face classes and culling (static).

  Returns:
    `Fragments` with face_index [B, H, W] and overflow [B].
  """
  if points.ndim != 3 or points.shape[-1] != 3:
    raise ValueError(f'points must be [B, V, 3] (u, v, z), got {points.shape}.')
  if faces.ndim != 2 or faces.shape[-1] != 3:
    raise ValueError(f'faces must be [F, 3], got {faces.shape}.')
  batch, num_faces = points.shape[0], faces.shape[0]
  bits = face_bits(num_faces)
  if bits > 24:
    raise ValueError(f'{num_faces} faces: at most 2^24 - 1 are supported.')
  # At most 24 depth bits: the levels must be exact in float32.
  depth_levels = (1 << min(31 - bits, 24)) - 1
  points = points.astype(jnp.float32)
  faces = jnp.asarray(faces, jnp.int32)

  coefficients, area, min_z, max_z = _face_setup(points, faces, height, width)
  # Computed once per face: XLA would otherwise fuse the setup into the
  # window loops below and redo it for every pixel tested.
  coefficients, area, min_z, max_z = jax.lax.optimization_barrier(
      (coefficients, area, min_z, max_z))
  num_u, num_v = coefficients[-2], coefficients[-1]
  drawable = ((num_u > 0) & (num_v > 0) & (min_z > NEAR_PLANE) &
              (jnp.abs(area) > 1e-12))
  if config.cull_backfaces:
    drawable &= area > 0
  size = jnp.where(drawable, jnp.maximum(num_u, num_v), 0.0)  # [F, B]

  # Per-image depth quantisation over the drawable range.
  big = jnp.float32(1e30)
  z_lo = jnp.min(jnp.where(drawable, min_z, big), axis=0)  # [B]
  z_hi = jnp.max(jnp.where(drawable, max_z, -big), axis=0)
  z_lo = jnp.maximum(z_lo, NEAR_PLANE)
  z_hi = jnp.maximum(z_hi, z_lo * (1 + 1e-6))
  scale = depth_levels / (z_hi - z_lo)
  num_pixels = height * width
  empty = jnp.iinfo(jnp.int32).max
  image_offset = jnp.arange(batch, dtype=jnp.int32) * num_pixels

  def window_candidates(c, ids, side, valid, per_image):
    """Packed keys and flat pixel indices of the K x K windows of faces.

    c: 13 coefficient arrays of shape X ([F, B] or [B, N]); ids, valid: X;
    per_image: reshapes a [B] array to broadcast against X.
    """
    c = [x[..., None, None] for x in c]  # X + [1, 1]
    steps = jnp.arange(side, dtype=jnp.float32)
    du = steps[None, :]  # [1, K] columns
    dv = steps[:, None]  # [K, 1] rows
    uu, vv = c[9] + du, c[10] + dv  # X + [1, K], X + [K, 1]
    w0 = c[0] * uu + c[1] * vv + c[2]
    w1 = c[3] * uu + c[4] * vv + c[5]
    inside = (valid[..., None, None] & (du < c[11]) & (dv < c[12]) &
              (w0 >= -_INSIDE_TOLERANCE) & (w1 >= -_INSIDE_TOLERANCE) &
              (w0 + w1 <= 1.0 + _INSIDE_TOLERANCE))
    inv_z = c[6] * uu + c[7] * vv + c[8]
    z = 1.0 / jnp.maximum(inv_z, 1e-12)
    lo = per_image(z_lo)[..., None, None]
    q = jnp.clip((z - lo) * per_image(scale)[..., None, None], 0,
                 depth_levels).astype(jnp.int32)
    # Invalid candidates carry the empty key (a no-op for the min), so the
    # pixel index needs no inside test (clamped into the image instead).
    key = jnp.where(inside, (q << bits) | ids[..., None, None], empty)
    col = jnp.minimum(uu, width - 1.0).astype(jnp.int32)
    row = jnp.minimum(vv, height - 1.0).astype(jnp.int32)
    pixel = per_image(image_offset)[..., None, None] + row * width + col
    return key.reshape(-1), pixel.reshape(-1)

  # Pass 1: every small face, straight from the [F, B] arrays (no gather).
  small = config.small_window
  face_ids = jnp.broadcast_to(
      jnp.arange(num_faces, dtype=jnp.int32)[:, None], (num_faces, batch))
  key, pixel = window_candidates(coefficients, face_ids, small,
                                 drawable & (size <= small),
                                 lambda x: x[None, :])
  keys, indices = [key], [pixel]
  num_large = jnp.sum(size > small, axis=0, dtype=jnp.int32)  # [B]
  overflow = num_large

  # Pass 2: the largest faces, ranked by size, in classes of fixed windows.
  capacity = min(sum(c for _, c in config.ranked_windows), num_faces)
  if capacity:
    ranked_size, ranked_ids = jax.lax.top_k(
        jnp.where(size > small, size, 0.0).T, capacity)  # [B, K], decreasing
    # The barrier keeps XLA from merging the class slices below into the
    # top-k's own slice, which would turn XLA:CPU's fast TopK into a full sort.
    ranked_size, ranked_ids = jax.lax.optimization_barrier(
        (ranked_size, ranked_ids.astype(jnp.int32)))
    table = jnp.stack(coefficients, axis=-1)  # [F, B, 13]
    rows = table.reshape(num_faces * batch, -1)[
        (ranked_ids * batch + jnp.arange(batch, dtype=jnp.int32)[:, None]
         ).reshape(-1)].reshape(batch, capacity, -1)
    start = 0
    overflow = jnp.maximum(num_large - capacity, 0)
    for side, count in config.ranked_windows:
      stop = min(start + count, capacity)
      if stop <= start:
        break
      class_size = ranked_size[:, start:stop]
      fits = class_size <= side
      overflow += jnp.sum((class_size > 0) & ~fits, axis=1, dtype=jnp.int32)
      c = [rows[:, start:stop, k] for k in range(rows.shape[-1])]
      key, pixel = window_candidates(c, ranked_ids[:, start:stop], side,
                                     (class_size > 0) & fits,
                                     lambda x: x[:, None])
      keys.append(key)
      indices.append(pixel)
      start = stop
  # One scatter-min per pass into the same buffer (concatenating the passes
  # first costs more than the scatters themselves on XLA:CPU).
  zbuffer = jnp.full((batch * num_pixels,), empty, jnp.int32)
  for key, pixel in zip(keys, indices):
    zbuffer = zbuffer.at[pixel].min(key, mode='promise_in_bounds')
  zbuffer = zbuffer.reshape(batch, height, width)
  face_index = jnp.where(zbuffer == empty, -1,
                         zbuffer & ((1 << bits) - 1)).astype(jnp.int32)
  return Fragments(face_index=face_index, overflow=overflow)


def barycentric_coordinates(points: jnp.ndarray, faces: jnp.ndarray,
                            face_index: jnp.ndarray) -> jnp.ndarray:
  """Perspective-correct barycentrics of each pixel centre in its face.

  Args:
    points: [B, V, 3] projected vertices (u, v, z) as given to `rasterize`.
    faces: [F, 3] vertex indices.
    face_index: [B, H, W] from `rasterize` (-1: background).

  Returns:
    [B, H, W, 3] weights of the face's three vertices (sum 1; 0 on the
    background), for interpolating camera-space attributes.
  """
  batch, height, width = face_index.shape
  safe = jnp.maximum(face_index, 0).reshape(batch, -1)
  corners = jnp.asarray(faces, jnp.int32)[safe]  # [B, P, 3]
  tri = jnp.take_along_axis(points[:, :, None, :],
                            corners[..., None].reshape(batch, -1, 1, 1), axis=1)
  tri = tri.reshape(batch, -1, 3, 3)  # [B, P, corner, (u, v, z)]
  u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
  rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                            jnp.arange(width, dtype=jnp.float32),
                            indexing='ij')
  pu, pv = cols.reshape(1, -1, 1), rows.reshape(1, -1, 1)
  u1, u2 = jnp.roll(u, -1, axis=-1), jnp.roll(u, -2, axis=-1)
  v1, v2 = jnp.roll(v, -1, axis=-1), jnp.roll(v, -2, axis=-1)
  edge = (v1 - v2) * pu + (u2 - u1) * pv + u1 * v2 - u2 * v1
  weights = edge / jnp.maximum(z, NEAR_PLANE)  # perspective correction
  total = jnp.sum(weights, axis=-1, keepdims=True)
  weights = weights / jnp.where(jnp.abs(total) > 1e-20, total, 1.0)
  weights = jnp.where((face_index >= 0).reshape(batch, -1, 1), weights, 0.0)
  return weights.reshape(batch, height, width, 3)


def face_normals(vertices: jnp.ndarray, faces: jnp.ndarray) -> jnp.ndarray:
  """Unit normals (v1 - v0) x (v2 - v0) of [B, V, 3] vertices -> [B, F, 3]."""
  tri = vertices[:, faces]
  n = jnp.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])
  return n / jnp.sqrt(jnp.sum(n * n, axis=-1, keepdims=True) + 1e-20)


def face_normal_dot(vertices: jnp.ndarray, faces: jnp.ndarray,
                    direction: jnp.ndarray) -> jnp.ndarray:
  """Cosine between each face's unit normal and a direction, per image.

  Written with planar [B, F] arrays (no size-3 axes, which XLA:CPU handles
  slowly): the flat-shading term of Lambert's law.

  Args:
    vertices: [B, V, 3] camera-frame vertices.
    faces: [F, 3] vertex indices (counter-clockwise from outside).
    direction: [B, 3] unit direction (e.g. towards the light).

  Returns:
    [B, F] dot(normal, direction), normal = unit (v1 - v0) x (v2 - v0).
  """
  num_faces = faces.shape[0]
  planar = jnp.take(jnp.swapaxes(vertices, 1, 2), faces.T.reshape(-1),
                    axis=2)  # [B, 3, 3 F]
  corner = lambda c, k: planar[:, c, k * num_faces:(k + 1) * num_faces]
  e1 = [corner(c, 1) - corner(c, 0) for c in range(3)]
  e2 = [corner(c, 2) - corner(c, 0) for c in range(3)]
  n = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
       e1[0] * e2[1] - e1[1] * e2[0]]
  norm = jnp.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2] + 1e-20)
  d = [direction[:, c, None] for c in range(3)]
  return (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) / norm


def project(points: jnp.ndarray, focal: jnp.ndarray,
            principal: jnp.ndarray) -> jnp.ndarray:
  """Camera-frame points -> (u, v, z).

  Args:
    points: [B, N, 3] camera coordinates (OpenCV: x right, y down, z forward).
    focal: [B, 2] fx, fy in pixels.
    principal: [B, 2] cx, cy in pixels.

  Returns:
    [B, N, 3] pixel coordinates u, v and the depth z.
  """
  z = points[..., 2:]
  uv = (focal[:, None, :] * points[..., :2] / jnp.maximum(z, NEAR_PLANE) +
        principal[:, None, :])
  return jnp.concatenate([uv, z], axis=-1)
