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
   `Fragments.overflow` (so is a face crossing `NEAR_PLANE`): `rasterize`
   never drops a face silently, and the caller renders again with a larger
   config (`exhaustive_config` holds any face size).
3. A pixel centre is inside when its barycentrics are >= 0 (with a tiny
   tolerance so that shared edges leave no cracks); depth is perspective
   correct (1/z interpolated).
4. Z-buffer: depth (quantised per image between the nearest and farthest
   vertex) and face index are packed into one int32 (`depth << face_bits |
   face`) and scatter-min'ed into the pixel grid, one flat scatter for the
   whole batch; the nearest face wins, ties go to the lower face index.

`rasterize` suits batched training renders whose bodies fit the frame (one
fixed config, jit-able). `rasterize_mesh` draws any mesh whole on the host
(overlays: close-ups, bodies cut by the border or reaching behind the
camera): it clips the mesh at a near plane in 3D, sorts the faces by their
on-screen size, tests each against a window that holds it (loops whose
lengths are data, so sizes cost no recompilation) and raises rather than
ever return a partial image.

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
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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
  """A config that holds any face size: every face may cover the whole
  image (faces crossing `NEAR_PLANE` still overflow: `rasterize_mesh`).

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
      than the largest window, no slot left, or crossing `NEAR_PLANE`); 0
      means the image is exact. (`rasterize_mesh` returns zeros: it raises
      instead.)
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
  return _corner_setup(u, v, z, height, width)


def _corner_setup(u, v, z, height: int, width: int):
  """`_face_setup` from the corners: u, v, z are lists of the 3 corners'
  [F, B] arrays."""
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


class _DepthKeys(NamedTuple):
  """How a depth becomes the high bits of a packed z-buffer word."""
  z_lo: jnp.ndarray  # [B] nearest drawable depth of each image
  scale: jnp.ndarray  # [B] levels per metre
  levels: int  # largest level (static)
  bits: int  # bits of the face index below the depth (static)


def _window_candidates(c, ids, side, valid, per_image, depth: _DepthKeys,
                       image_offset, height: int, width: int):
  """Packed keys and flat pixel indices of the K x K windows of faces.

  Args:
    c: the 13 coefficient arrays of `_face_setup`, each of shape X ([F, B]
      or [B, N]).
    ids: X int32 face indices packed into the keys.
    side: K, the window side (static).
    valid: X bool; invalid faces give only empty keys.
    per_image: reshapes a [B] array to broadcast against X.
    depth: the depth quantisation.
    image_offset: [B] int32 index of each image's first pixel.
    height, width: image size (static).

  Returns:
    (keys, pixels): flat int32 arrays of X * K * K candidates; an invalid
    candidate has the empty key (int32 max, a no-op for the min).
  """
  empty = jnp.iinfo(jnp.int32).max
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
  lo = per_image(depth.z_lo)[..., None, None]
  q = jnp.clip((z - lo) * per_image(depth.scale)[..., None, None], 0,
               depth.levels).astype(jnp.int32)
  # Invalid candidates carry the empty key (a no-op for the min), so the
  # pixel index needs no inside test (clamped into the image instead).
  key = jnp.where(inside, (q << depth.bits) | ids[..., None, None], empty)
  col = jnp.minimum(uu, width - 1.0).astype(jnp.int32)
  row = jnp.minimum(vv, height - 1.0).astype(jnp.int32)
  pixel = per_image(image_offset)[..., None, None] + row * width + col
  return key.reshape(-1), pixel.reshape(-1)


def rasterize(points: jnp.ndarray, faces: jnp.ndarray, height: int,
              width: int, config: RasterConfig = RasterConfig()) -> Fragments:
  """Visible face per pixel (z-buffer), batched.

  Args:
    points: [B, V, 3] projected vertices: (u, v) pixel coordinates and the
      camera depth z (> 0 in front of the camera; faces with a vertex closer
      than `NEAR_PLANE` are not drawn, and counted in the overflow when
      another is beyond it: they need `rasterize_mesh`'s clipping).
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

  # Pass 1: every small face, straight from the [F, B] arrays (no gather).
  small = config.small_window
  face_ids = jnp.broadcast_to(
      jnp.arange(num_faces, dtype=jnp.int32)[:, None], (num_faces, batch))
  depth = _DepthKeys(z_lo, scale, depth_levels, bits)
  key, pixel = _window_candidates(coefficients, face_ids, small,
                                  drawable & (size <= small),
                                  lambda x: x[None, :], depth, image_offset,
                                  height, width)
  keys, indices = [key], [pixel]
  num_large = jnp.sum(size > small, axis=0, dtype=jnp.int32)  # [B]
  # A face with a corner nearer than NEAR_PLANE and one beyond it is not
  # drawn (it needs clipping, `rasterize_mesh`): counted, never silent.
  cut = jnp.sum((min_z <= NEAR_PLANE) & (max_z > NEAR_PLANE), axis=0,
                dtype=jnp.int32)
  overflow = num_large + cut

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
    overflow = jnp.maximum(num_large - capacity, 0) + cut
    for side, count in config.ranked_windows:
      stop = min(start + count, capacity)
      if stop <= start:
        break
      class_size = ranked_size[:, start:stop]
      fits = class_size <= side
      overflow += jnp.sum((class_size > 0) & ~fits, axis=1, dtype=jnp.int32)
      c = [rows[:, start:stop, k] for k in range(rows.shape[-1])]
      key, pixel = _window_candidates(c, ranked_ids[:, start:stop], side,
                                      (class_size > 0) & fits,
                                      lambda x: x[:, None], depth,
                                      image_offset, height, width)
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


# ---------------------------------------------------------------------------
# Whole meshes: near-plane clipping, windows from the sizes, no face dropped.

# Default near plane of `rasterize_mesh` (metres): geometry closer to the
# camera than this is cut away.
MESH_NEAR_PLANE = 1e-2
# `rasterize_mesh` renders into images whose sides are rounded up to this
# many pixels (then cropped), so that pictures of similar sizes share one
# compilation.
_SIZE_STEP = 64
# Pixel tests per loop step of `rasterize_mesh`'s larger faces: a step holds
# max(1, this / window^2) faces.
_STEP_CANDIDATES = 1 << 14
# Window of `rasterize_mesh`'s first pass (every face of at most this size).
_SMALL_WINDOW = 1
# `rasterize_mesh` compiles its windows up to at least this size (a loop of
# no steps costs nothing), so that the frames of a clip, whose largest faces
# vary, share one compilation.
_LEAST_LARGEST_WINDOW = 32


def view_planes(focal, principal, height: int, width: int,
                near: float) -> np.ndarray:
  """The half-spaces `rasterize_mesh` keeps: z >= near and a guard band
  (the image grown by its longer side on every side).

  The band only bounds the pixel coordinates of what is drawn (float32
  stays exact to ~1e-3 pixel); what it cuts is off the image.

  Args:
    focal: [2] fx, fy (pixels, > 0).
    principal: [2] cx, cy (pixels).
    height, width: image size.
    near: near plane depth (metres).

  Returns:
    [5, 4] planes (a_x, a_y, a_z, b): a point p is kept when a . p + b >= 0
    for all of them.
  """
  fx, fy = (float(f) for f in focal)
  cx, cy = (float(c) for c in principal)
  guard = float(max(height, width))
  return np.array([
      [0.0, 0.0, 1.0, -near],  # z >= near
      [fx, 0.0, cx + guard, 0.0],  # u >= -guard (for z > 0)
      [-fx, 0.0, width - 1.0 + guard - cx, 0.0],  # u <= W - 1 + guard
      [0.0, fy, cy + guard, 0.0],  # v >= -guard
      [0.0, -fy, height - 1.0 + guard - cy, 0.0]])  # v <= H - 1 + guard


def clip_triangles(triangles: np.ndarray, planes: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
  """The part of each triangle inside half-spaces, as triangles.

  Sutherland-Hodgman in 3D (exact: every piece lies in its triangle's
  plane), then a fan: a triangle inside every half-space stays one
  triangle, one outside any gives none, one that crosses a single plane
  gives one or two, with the triangle's winding.

  Args:
    triangles: [N, 3, 3] corners (camera frame).
    planes: [P, 4] (a_x, a_y, a_z, b): inside where a . p + b >= 0.

  Returns:
    (pieces [M, 3, 3] float64, owner [M] int64: the triangle each piece
    comes from, in increasing order).
  """
  polygons = np.asarray(triangles, np.float64)
  counts = np.full(len(polygons), 3)
  for plane in np.asarray(planes, np.float64):
    polygons, counts = _clip_polygons(polygons, counts, plane)
  pieces, owner = [], []
  for k in range(1, polygons.shape[1] - 1):  # the fan (0, k, k + 1)
    has = np.flatnonzero(counts > k + 1)
    pieces.append(polygons[has][:, [0, k, k + 1]])
    owner.append(has)
  if not pieces:
    return np.zeros((0, 3, 3)), np.zeros(0, np.int64)
  pieces, owner = np.concatenate(pieces), np.concatenate(owner)
  order = np.argsort(owner, kind='stable')
  return pieces[order], owner[order]


def _clip_polygons(polygons: np.ndarray, counts: np.ndarray,
                   plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """One Sutherland-Hodgman step for convex polygons [N, M, 3] of
  `counts` [N] corners: their part with a . p + b >= 0, as [N, M', 3] and
  the new counts [N] (0: nothing left)."""
  num, most = polygons.shape[:2]
  if num == 0:
    return polygons, counts
  signed = polygons @ plane[:3] + plane[3]  # [N, M]
  corner = np.arange(most)[None]
  valid = corner < counts[:, None]
  following = np.where(corner + 1 < counts[:, None], corner + 1, 0)
  nxt = np.take_along_axis(polygons, following[..., None], axis=1)
  signed_nxt = np.take_along_axis(signed, following, axis=1)
  here_in, next_in = signed >= 0, signed_nxt >= 0
  # The crossing point, always from the inside corner to the outside one:
  # the neighbouring face, which walks the edge the other way, gets the
  # very same point (no crack between them).
  a = np.where(here_in[..., None], polygons, nxt)
  b = np.where(here_in[..., None], nxt, polygons)
  da = np.where(here_in, signed, signed_nxt)
  db = np.where(here_in, signed_nxt, signed)
  cut = valid & (here_in != next_in)
  t = np.where(cut, da / np.where(cut, da - db, 1.0), 0.0)
  crossing = a + t[..., None] * (b - a)
  emitted = np.stack([valid & here_in, cut], axis=2).reshape(num, -1)
  points = np.stack([polygons, crossing], axis=2).reshape(num, 2 * most, 3)
  order = np.argsort(~emitted, axis=1, kind='stable')
  new_counts = emitted.sum(axis=1)
  keep = max(int(new_counts.max()), 3)
  points = np.take_along_axis(points, order[:, :keep, None], axis=1)
  return points, new_counts


def _round_up(n: int, step: int) -> int:
  return -(-int(n) // step) * step


def _slots(num: int, least: int = 1) -> int:
  """`num` rounded up to four sizes per octave (at most 25% more), and to
  at least `least`: few distinct shapes, few compilations."""
  num = max(int(num), least, 1)
  octave = 1 << max((num - 1).bit_length() - 3, 0)
  return _round_up(num, octave)


def _ranked_windows(largest_size: int) -> tuple[int, ...]:
  """Windows larger than `_SMALL_WINDOW`, decreasing, half an octave apart
  (2, 3, 4, 6, 8, 12, ...: 2^k and 3 * 2^(k - 1)), the first one the
  smallest that holds a face of `largest_size` pixels; () when the first
  pass holds every face."""
  windows, side = [], 2
  while True:
    if side > _SMALL_WINDOW:
      windows.append(side)
    if side >= largest_size:
      break
    side = side * 3 // 2 if side & (side - 1) == 0 else side * 4 // 3
  return tuple(reversed(windows)) if largest_size > _SMALL_WINDOW else ()


def _step_faces(side: int, num_slots: int) -> int:
  """Faces per loop step of window `side`."""
  return min(max(1, _STEP_CANDIDATES // (side * side)), num_slots)


def _box_sizes(u, v, z, height: int, width: int, xp=np):
  """[T] side of each triangle's pixel box as `_face_setup` measures it
  (the larger of its columns and rows of pixel centres in the image), <= 0
  off the image, 0 where a corner is nearer than `NEAR_PLANE`; corners u,
  v, z [3, T] float32 (exact: only min, max, ceil and floor)."""
  lowest = lambda a: xp.minimum(xp.minimum(a[0], a[1]), a[2])
  highest = lambda a: xp.maximum(xp.maximum(a[0], a[1]), a[2])
  num_u = (xp.minimum(xp.floor(highest(u)), width - 1.0) -
           xp.maximum(xp.ceil(lowest(u)), 0.0) + 1.0)
  num_v = (xp.minimum(xp.floor(highest(v)), height - 1.0) -
           xp.maximum(xp.ceil(lowest(v)), 0.0) + 1.0)
  shown = (num_u > 0) & (num_v > 0) & (lowest(z) > NEAR_PLANE)
  return xp.where(shown, xp.maximum(num_u, num_v), 0.0)


def _maybe_front(u, v, xp=np):
  """[T] False where a triangle [3, T] surely faces away: its signed area
  is positive beyond any float32 rounding (near-degenerate ones are left to
  the rasteriser, which decides from its own area)."""
  du1, dv1 = u[1] - u[0], v[1] - v[0]
  du2, dv2 = u[2] - u[0], v[2] - v[0]
  area = du1 * dv2 - du2 * dv1
  return area <= 1e-4 * (xp.abs(du1 * dv2) + xp.abs(du2 * dv1))


@functools.partial(jax.jit, static_argnames=('height', 'width',
                                             'cull_backfaces'))
def _whole_faces(vertices, faces, focal, principal, planes, *, height: int,
                 width: int, cull_backfaces: bool):
  """Stage 1 of `rasterize_mesh` for one mesh: the faces inside every plane
  projected, and which faces cross a plane (for the host to clip).

  Args:
    vertices: [V, 3] camera frame; faces: [F, 3]; focal, principal: [2];
    planes: [P, 4] (`view_planes`); height, width: the (padded) image size.

  Returns:
    (corners [3, 3, F] (corner, (u, v, z), face) float32; size [F] int32:
    the pixel box side of each face inside every plane that is on the image
    and maybe front facing, else 0; crossing [F] bool: partly outside a
    plane).
  """
  signed = vertices @ planes[:, :3].T + planes[:, 3]  # [V, P]
  bits = jnp.sum((signed < 0).astype(jnp.int32) <<
                 jnp.arange(planes.shape[0], dtype=jnp.int32), axis=1)
  m = [bits[faces[:, k]] for k in range(3)]
  inside = (m[0] | m[1] | m[2]) == 0
  crossing = ~inside & ((m[0] & m[1] & m[2]) == 0)
  z = vertices[:, 2]
  safe = jnp.where(z > 0, z, 1.0)
  # Planar [3 (corner), F] arrays: XLA:CPU is slow on size-3 minor axes.
  u, v, z = (x[faces.T] for x in (
      focal[0] * vertices[:, 0] / safe + principal[0],
      focal[1] * vertices[:, 1] / safe + principal[1], z))
  size = jnp.where(inside, _box_sizes(u, v, z, height, width, jnp), 0.0)
  if cull_backfaces:
    size = jnp.where(_maybe_front(u, v, jnp), size, 0.0)
  return jnp.stack([u, v, z], axis=1), size.astype(jnp.int32), crossing


@functools.partial(jax.jit, static_argnames=('padded', 'windows',
                                             'cull_backfaces'))
def _rasterize_sorted(corners, pieces, order, origin, segments, *,
                      padded: tuple[int, int], windows: tuple[int, ...],
                      cull_backfaces: bool):
  """Stage 2 of `rasterize_mesh`: the rasteriser on triangles sorted by
  decreasing screen size.

  Every triangle is tested against a `_SMALL_WINDOW` window in one pass,
  as in `rasterize` (those larger are skipped there); then for each ranked
  window k the triangles of segment k (those the host found to need it)
  are tested `_step_faces` at a time, in a loop whose length is data: the
  sizes of a mesh change no shape.

  Args:
    corners: [3, 3, F] whole faces (`_whole_faces`).
    pieces: [3, 3, Q] triangles cut by the host; the last is all zeros.
    order: [S] int32 triangles (F + index into pieces) by decreasing size;
      padding points at the zero triangle.
    origin: [S] int32 face of each; -1 for padding.
    segments: [K, 2] int32 (first slot, loop steps) per window.
    padded: the rendered size (the image's, rounded up: crop it).
    windows: the K ranked windows, decreasing (static).
    cull_backfaces: as in `RasterConfig`.

  Returns:
    (face_index [padded] int32 face or -1, overflow [] int32: triangles no
    window held).
  """
  rows, cols = padded
  num = order.shape[0]
  table = jnp.concatenate([corners, pieces], axis=2)[..., order]  # [3, 3, S]
  # Gathered once (XLA would otherwise redo the gather in every fusion).
  table = jax.lax.optimization_barrier(table)
  u, v, z = ([table[k, c, :, None] for k in range(3)] for c in range(3))
  bits = face_bits(num)
  depth_levels = (1 << min(31 - bits, 24)) - 1
  coefficients, area, min_z, max_z = _corner_setup(u, v, z, rows, cols)
  coefficients, area, min_z, max_z = jax.lax.optimization_barrier(
      (coefficients, area, min_z, max_z))
  num_u, num_v = coefficients[-2], coefficients[-1]
  drawable = ((num_u > 0) & (num_v > 0) & (min_z > NEAR_PLANE) &
              (jnp.abs(area) > 1e-12))
  if cull_backfaces:
    drawable &= area > 0
  size = jnp.where(drawable, jnp.maximum(num_u, num_v), 0.0)  # [S, 1]
  big = jnp.float32(1e30)
  z_lo = jnp.maximum(jnp.min(jnp.where(drawable, min_z, big), axis=0),
                     NEAR_PLANE)
  z_hi = jnp.max(jnp.where(drawable, max_z, -big), axis=0)
  z_hi = jnp.maximum(z_hi, z_lo * (1 + 1e-6))
  depth = _DepthKeys(z_lo, depth_levels / (z_hi - z_lo), depth_levels, bits)
  offset = jnp.zeros((1,), jnp.int32)
  ids = jnp.arange(num, dtype=jnp.int32)
  key, pixel = _window_candidates(
      coefficients, ids[:, None], _SMALL_WINDOW,
      drawable & (size <= _SMALL_WINDOW), lambda x: x[None, :], depth,
      offset, rows, cols)
  empty = jnp.iinfo(jnp.int32).max
  zbuffer = jnp.full((rows * cols,), empty, jnp.int32)
  zbuffer = zbuffer.at[pixel].min(key, mode='promise_in_bounds')

  table = jnp.stack([c[:, 0] for c in coefficients], axis=-1)  # [S, 13]
  size = size[:, 0]
  window_of = jnp.where(size <= _SMALL_WINDOW, _SMALL_WINDOW, 0.0)
  for k, side in enumerate(windows):
    step = _step_faces(side, num)
    first, steps = segments[k, 0], segments[k, 1]

    def one_step(i, zbuffer, side=side, step=step, first=first):
      # Clamped as dynamic_slice would: a last step may redo earlier
      # triangles, harmless for a min.
      start = jnp.minimum(first + i * step, num - step)
      part = jax.lax.dynamic_slice(table, (start, 0), (step, table.shape[1]))
      part_size = jax.lax.dynamic_slice(size, (start,), (step,))
      key, pixel = _window_candidates(
          [part[:, c] for c in range(table.shape[1])],
          start + jnp.arange(step, dtype=jnp.int32), side,
          (part_size > 0) & (part_size <= side), lambda x: x, depth, offset,
          rows, cols)
      return zbuffer.at[pixel].min(key, mode='promise_in_bounds')

    zbuffer = jax.lax.fori_loop(0, steps, one_step, zbuffer)
    held = (ids >= first) & (ids < first + steps * step)
    window_of = jnp.where(held, jnp.maximum(window_of, side), window_of)
  overflow = jnp.sum((size > 0) & (size > window_of), dtype=jnp.int32)
  zbuffer = zbuffer.reshape(rows, cols)
  triangle = zbuffer & ((1 << bits) - 1)
  face_index = jnp.where(zbuffer == empty, -1, origin[triangle])
  return face_index.astype(jnp.int32), overflow


def _segments(sizes: np.ndarray, windows: tuple[int, ...],
              num_slots: int) -> np.ndarray:
  """[K, 2] (first slot, loop steps) of each window for triangles sorted
  by decreasing `sizes`: window k takes every triangle larger than the
  next window that no larger window took (its last step may run on into
  smaller ones)."""
  segments = np.zeros((len(windows), 2), np.int32)
  taken = 0
  for k, side in enumerate(windows):
    below = windows[k + 1] if k + 1 < len(windows) else _SMALL_WINDOW
    step = _step_faces(side, num_slots)
    need = int(np.sum(sizes > below)) - taken
    steps = -(-need // step) if need > 0 else 0
    segments[k] = taken, steps
    taken += steps * step
  return segments


def rasterize_mesh(vertices_cam, faces, focal, principal, height: int,
                   width: int, *, cull_backfaces: bool = True,
                   near: float = MESH_NEAR_PLANE) -> Fragments:
  """Visible face per pixel of whole meshes, never dropping a face (host).

  For overlays and any picture where a body may be large on screen (a
  close-up), cut by the image border or reach behind the camera; unlike
  `rasterize`, nothing to configure. Per image:

  1. Faces inside the near plane (z >= `near`) and a guard band around the
     image (`view_planes`) are projected on the device (`_whole_faces`);
     the few that cross a plane are cut on the host in 3D
     (`clip_triangles`): a face crossing the near plane becomes one or two
     triangles, each still reporting its face.
  2. Triangles off the image or surely facing away are set aside, the rest
     sorted by on-screen size (the side of the pixel box) and cut into
     segments by window (half-octave steps up to the largest face's).
  3. `_rasterize_sorted` tests each segment's triangles against its window
     in loops whose length is data: only the image size (rounded up to
     `_SIZE_STEP`), the number of triangles (four sizes per octave) and the
     largest window are shapes, so pictures of one size rarely recompile.
  4. The rasteriser counts every triangle that no window held; a count
     raises instead of returning a partial image.

  Args:
    vertices_cam: [B, V, 3] camera-frame vertices (metres; x right, y down,
      z forward).
    faces: [F, 3] vertex indices (counter-clockwise seen from outside).
    focal: [B, 2] fx, fy in pixels (> 0).
    principal: [B, 2] cx, cy in pixels (pixel (i, j) centred at (j, i)).
    height, width: image size.
    cull_backfaces: skip faces seen from behind.
    near: the near plane's depth (metres, > 2 `NEAR_PLANE`).

  Returns:
    `Fragments` of numpy arrays: face_index [B, H, W] int32 (the mesh's
    face, -1 on background) and overflow [B] int32 (zeros).

  Raises:
    ValueError: malformed arguments.
    RuntimeError: a face fit no window (a bug: the windows come from the
      sizes), rather than a partial picture.
  """
  vertices_cam = np.asarray(vertices_cam, np.float64)
  faces = np.asarray(faces, np.int64)
  focal = np.asarray(focal, np.float64)
  principal = np.asarray(principal, np.float64)
  if vertices_cam.ndim != 3 or vertices_cam.shape[-1] != 3:
    raise ValueError('rasterize_mesh: vertices_cam must be [B, V, 3], got '
                     f'{vertices_cam.shape}.')
  batch, num_vertices = vertices_cam.shape[:2]
  if faces.ndim != 2 or faces.shape[-1] != 3 or not faces.size:
    raise ValueError(f'rasterize_mesh: faces must be [F, 3] with F >= 1, got '
                     f'{faces.shape}.')
  if faces.min() < 0 or faces.max() >= num_vertices:
    raise ValueError(f'rasterize_mesh: face indices must be in [0, '
                     f'{num_vertices}), got [{faces.min()}, {faces.max()}].')
  if focal.shape != (batch, 2) or principal.shape != (batch, 2):
    raise ValueError(f'rasterize_mesh: focal and principal must be [B, 2] = '
                     f'[{batch}, 2], got {focal.shape} and {principal.shape}.')
  if not np.all(focal > 0):
    raise ValueError(f'rasterize_mesh: focal lengths must be > 0 pixels, got '
                     f'{focal.tolist()}.')
  if not near > 2 * NEAR_PLANE:
    raise ValueError(f'rasterize_mesh: near must be > {2 * NEAR_PLANE} m '
                     f'(twice render.NEAR_PLANE), got {near}.')
  if height < 1 or width < 1:
    raise ValueError(f'rasterize_mesh: image size must be positive, got '
                     f'{height} x {width}.')
  if not np.all(np.isfinite(vertices_cam)):
    raise ValueError('rasterize_mesh: vertices_cam has NaN or Inf values.')
  padded = (_round_up(height, _SIZE_STEP), _round_up(width, _SIZE_STEP))
  num_faces = len(faces)
  faces32 = faces.astype(np.int32)
  face_index = np.full((batch, height, width), -1, np.int32)
  for b in range(batch):
    planes = view_planes(focal[b], principal[b], height, width, near)
    corners, size, crossing = _whole_faces(
        vertices_cam[b].astype(np.float32), faces32,
        focal[b].astype(np.float32), principal[b].astype(np.float32),
        planes.astype(np.float32), height=padded[0], width=padded[1],
        cull_backfaces=cull_backfaces)
    size, crossing = np.asarray(size), np.flatnonzero(np.asarray(crossing))
    # The crossing faces, cut in float64 and projected.
    cut, owner = clip_triangles(vertices_cam[b][faces[crossing]], planes)
    z = cut[..., 2]
    cut_corners = np.stack(
        [focal[b, 0] * cut[..., 0] / z + principal[b, 0],
         focal[b, 1] * cut[..., 1] / z + principal[b, 1], z],
        axis=1).astype(np.float32).transpose(2, 1, 0)  # [3, 3, M]
    cut_size = _box_sizes(*cut_corners.transpose(1, 0, 2), *padded)
    if cull_backfaces:
      cut_size = np.where(_maybe_front(cut_corners[:, 0],
                                       cut_corners[:, 1]), cut_size, 0)
    sizes = np.concatenate([size, cut_size.astype(np.int32)])
    shown = np.flatnonzero(sizes > 0)
    if not len(shown):
      continue
    # A stable radix sort on small integers: by decreasing size.
    key = -sizes[shown]
    shown = shown[np.argsort(key.astype(np.int16) if key.min() > -(1 << 15)
                             else key, kind='stable')]
    slots = _slots(len(shown),
                   least=_STEP_CANDIDATES // (_SMALL_WINDOW + 1)**2)
    pieces = np.zeros((3, 3, _slots(len(cut) + 1, least=8)), np.float32)
    pieces[..., :len(cut)] = cut_corners
    order = np.full(slots, num_faces + len(cut), np.int32)  # a zero triangle
    order[:len(shown)] = shown
    origin = np.full(slots, -1, np.int32)
    origin[:len(shown)] = np.concatenate([np.arange(num_faces),
                                          crossing[owner]])[shown]
    windows = _ranked_windows(max(int(sizes[shown[0]]),
                                  _LEAST_LARGEST_WINDOW))
    index, overflow = _rasterize_sorted(
        corners, pieces, order, origin,
        _segments(sizes[shown], windows, slots), padded=padded,
        windows=windows, cull_backfaces=cull_backfaces)
    if int(overflow):
      raise RuntimeError(
          f'rasterize_mesh: {int(overflow)} triangles of image {b} fit no '
          f'window (windows {windows} px); refusing to return a partial '
          'picture.')
    face_index[b] = np.asarray(index)[:height, :width]
  return Fragments(face_index=face_index,
                   overflow=np.zeros((batch,), np.int32))


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
