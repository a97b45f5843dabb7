"""Tests of the CPU z-buffer rasteriser on scenes with known answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax.body import gendered, smpl
from smplr_jax.data import render

# A 30 x 30 pixel square at depth 2 made of two triangles, counter-clockwise
# on screen (front facing): pixel centres 11..40 (columns) x 21..50 (rows).
_SQUARE = np.asarray([[10.5, 20.5, 2.0], [10.5, 50.5, 2.0], [40.5, 50.5, 2.0],
                      [40.5, 20.5, 2.0]], np.float32)
_SQUARE_FACES = np.asarray([[0, 1, 2], [0, 2, 3]], np.int32)
_BIG = render.RasterConfig(small_window=2, ranked_windows=((64, 4),))


def numpy_reference_rasterize(points: np.ndarray, faces: np.ndarray,
                              height: int, width: int,
                              cull_backfaces: bool = True) -> np.ndarray:
  """Slow loop-over-faces reference for tests: [V, 3] -> [H, W] face index.

  Same conventions as `rasterize` (pixel centres at integers, nearest depth
  wins, ties to the lower index), float64 depth without quantisation.
  """
  depth = np.full((height, width), np.inf)
  index = np.full((height, width), -1, np.int64)
  points = np.asarray(points, np.float64)
  for f, corner in enumerate(np.asarray(faces)):
    (u0, v0, z0), (u1, v1, z1), (u2, v2, z2) = points[corner]
    area = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
    if abs(area) < 1e-12 or min(z0, z1, z2) <= render.NEAR_PLANE:
      continue
    if cull_backfaces and area > 0:
      continue
    c0 = max(int(np.ceil(min(u0, u1, u2))), 0)
    c1 = min(int(np.floor(max(u0, u1, u2))), width - 1)
    r0 = max(int(np.ceil(min(v0, v1, v2))), 0)
    r1 = min(int(np.floor(max(v0, v1, v2))), height - 1)
    if c1 < c0 or r1 < r0:
      continue
    rows, cols = np.mgrid[r0:r1 + 1, c0:c1 + 1].astype(np.float64)
    w0 = ((u1 - cols) * (v2 - rows) - (u2 - cols) * (v1 - rows)) / area
    w1 = ((u2 - cols) * (v0 - rows) - (u0 - cols) * (v2 - rows)) / area
    w2 = 1.0 - w0 - w1
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
    z = 1.0 / (w0 / z0 + w1 / z1 + w2 / z2)
    window_depth = depth[r0:r1 + 1, c0:c1 + 1]
    nearer = inside & (z < window_depth)
    window_depth[nearer] = z[nearer]
    index[r0:r1 + 1, c0:c1 + 1][nearer] = f
  return index


def _rasterize(points, faces, size=64, config=_BIG):
  return jax.jit(render.rasterize, static_argnums=(2, 3, 4))(
      jnp.asarray(points)[None], jnp.asarray(faces), size, size, config)


@pytest.mark.parametrize('config', [_BIG, render.exhaustive_config(64, 64)])
def test_square_coverage(config):
  out = _rasterize(_SQUARE, _SQUARE_FACES, config=config)
  index = np.asarray(out.face_index[0])
  expected = np.zeros((64, 64), bool)
  expected[21:51, 11:41] = True
  np.testing.assert_array_equal(index >= 0, expected)
  assert set(np.unique(index[expected])) == {0, 1}
  assert int(out.overflow[0]) == 0


def test_backface_culling():
  flipped = _SQUARE_FACES[:, ::-1]
  culled = _rasterize(_SQUARE, flipped).face_index[0]
  assert np.all(np.asarray(culled) == -1)
  kept = _rasterize(_SQUARE, flipped, config=render.RasterConfig(
      2, ((64, 4),), cull_backfaces=False)).face_index[0]
  assert np.sum(np.asarray(kept) >= 0) == 30 * 30


@pytest.mark.parametrize('near_first', [True, False])
def test_nearer_triangle_wins(near_first):
  near = [[5.0, 5.0, 2.0], [5.0, 40.0, 2.0], [40.0, 5.0, 2.0]]
  far = [[10.0, 10.0, 3.0], [10.0, 50.0, 3.0], [50.0, 10.0, 3.0]]
  points = np.asarray((near + far) if near_first else (far + near),
                      np.float32)
  faces = np.asarray([[0, 1, 2], [3, 4, 5]], np.int32)
  index = np.asarray(_rasterize(points, faces).face_index[0])
  near_id = 0 if near_first else 1
  assert index[15, 15] == near_id  # inside both
  assert index[30, 30] == 1 - near_id  # only the far one
  assert index[2, 2] == -1


def test_matches_reference_on_random_mesh():
  rng = np.random.default_rng(0)
  num = 400
  centres = rng.uniform(-2, 50, (num, 1, 2))
  offsets = rng.uniform(-4, 4, (num, 3, 2))
  depth = rng.uniform(1, 5, (num, 3, 1))
  points = np.concatenate([centres + offsets, depth], -1).reshape(-1, 3)
  faces = np.arange(3 * num, dtype=np.int32).reshape(num, 3)
  for cull in (True, False):
    config = render.RasterConfig(2, ((16, 64), (8, 400)), cull)
    out = _rasterize(points.astype(np.float32), faces, 48, config)
    assert int(out.overflow[0]) == 0
    reference = numpy_reference_rasterize(points, faces, 48, 48,
                                                 cull_backfaces=cull)
    got = np.asarray(out.face_index[0])
    np.testing.assert_array_equal(got >= 0, reference >= 0)
    assert np.mean(got == reference) > 0.995  # depth quantisation ties


def test_overflow_is_reported():
  big = np.asarray([[0.0, 0.0, 2.0], [0.0, 60.0, 2.0], [60.0, 0.0, 2.0]],
                   np.float32)
  out = _rasterize(big, np.asarray([[0, 1, 2]], np.int32),
                   config=render.RasterConfig(2, ((8, 4),)))
  assert int(out.overflow[0]) == 1


def test_barycentric_coordinates_reproduce_pixel_centres():
  points = jnp.asarray(_SQUARE)[None]
  faces = jnp.asarray(_SQUARE_FACES)
  out = _rasterize(_SQUARE, _SQUARE_FACES)
  weights = render.barycentric_coordinates(points, faces, out.face_index)
  corners = points[0][faces[jnp.maximum(out.face_index[0], 0)]]  # [H, W, 3, 3]
  uv = jnp.einsum('hwk,hwkc->hwc', weights[0], corners)[..., :2]
  rows, cols = np.mgrid[0:64, 0:64]
  inside = np.asarray(out.face_index[0]) >= 0
  np.testing.assert_allclose(np.asarray(uv)[inside][:, 0], cols[inside],
                             atol=1e-3)
  np.testing.assert_allclose(np.asarray(uv)[inside][:, 1], rows[inside],
                             atol=1e-3)
  np.testing.assert_allclose(np.asarray(weights[0]).sum(-1)[inside], 1.0,
                             atol=1e-5)


def test_project_and_normals():
  points = jnp.asarray([[[0.0, 0.0, 2.0], [1.0, -0.5, 2.0]]])
  uv = render.project(points, jnp.asarray([[100.0, 200.0]]),
                      jnp.asarray([[31.5, 31.5]]))
  np.testing.assert_allclose(np.asarray(uv[0]),
                             [[31.5, 31.5, 2.0], [81.5, -18.5, 2.0]])
  # A front face (counter-clockwise seen from the camera) points at it (-z).
  tri = jnp.asarray([[[0.0, 0.0, 2.0], [0.0, 1.0, 2.0], [1.0, 0.0, 2.0]]])
  normal = render.face_normals(tri, jnp.asarray([[0, 1, 2]]))
  np.testing.assert_allclose(np.asarray(normal[0, 0]), [0.0, 0.0, -1.0])
  screen = render.project(tri, jnp.asarray([[100.0, 100.0]]),
                          jnp.asarray([[0.0, 0.0]]))
  out = _rasterize(np.asarray(screen[0]) + [5, 5, 0], [[0, 1, 2]])
  assert np.sum(np.asarray(out.face_index) >= 0) > 100


def test_config_validation():
  with pytest.raises(ValueError, match='ranked_windows'):
    render.RasterConfig(small_window=4, ranked_windows=((4, 10),))
  with pytest.raises(ValueError, match='points'):
    render.rasterize(jnp.zeros((3, 3)), jnp.zeros((1, 3), jnp.int32), 8, 8)


def test_faces_crossing_the_near_plane_are_counted():
  # One corner behind the camera: `rasterize` cannot draw the face and says
  # so (its overflow), the whole-mesh path clips and draws it.
  points = np.asarray([[10.0, 10.0, 2.0], [10.0, 50.0, 2.0],
                       [50.0, 30.0, -1.0]], np.float32)
  out = _rasterize(points, np.asarray([[0, 1, 2]], np.int32),
                   config=render.exhaustive_config(64, 64))
  assert int(out.overflow[0]) == 1


def _normal(tri):
  """[N, 3] (v1 - v0) x (v2 - v0) of [N, 3, 3] triangles (area * 2)."""
  return np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])


@pytest.mark.parametrize('behind, pieces', [(0, 1), (1, 2), (2, 1), (3, 0)])
def test_clip_triangles_at_the_near_plane(behind, pieces):
  # `behind` corners nearer than the near plane (two of them behind the
  # camera).
  z = [-0.5, -0.2, 0.05][:behind] + [1.0, 0.8, 0.6][behind:]
  corners = np.asarray([[0.3, -0.2, z[0]], [0.1, 1.2, z[1]], [1.4, 0.2, z[2]]])
  near = 0.1
  plane = np.asarray([[0.0, 0.0, 1.0, -near]])
  got, owner = render.clip_triangles(corners[None], plane)
  assert len(got) == pieces
  np.testing.assert_array_equal(owner, np.zeros(pieces))
  if not pieces:
    return
  assert got[..., 2].min() >= near - 1e-12
  normal = _normal(corners[None])[0]
  normals = _normal(got)
  # Same plane, same winding; the areas add up to the part beyond `near`
  # (measured by sampling the triangle).
  np.testing.assert_allclose(np.cross(normals, normal), 0, atol=1e-12)
  assert np.all(normals @ normal > 0)
  rng = np.random.default_rng(0)
  w = rng.dirichlet(np.ones(3), 200_000)
  kept = np.mean((w @ corners)[:, 2] >= near)
  np.testing.assert_allclose(
      np.linalg.norm(normals, axis=1).sum() / np.linalg.norm(normal), kept,
      atol=5e-3)


def test_rasterize_mesh_matches_reference_with_large_faces():
  # Random triangles up to the whole image, in front of a pinhole camera:
  # face for face the same picture as the slow reference (which needs no
  # clipping here).
  rng = np.random.default_rng(1)
  num, size, focal = 300, 64, 50.0
  centres = rng.uniform(-10, 74, (num, 1, 2))
  spread = rng.choice([2.0, 8.0, 40.0], (num, 1, 1))
  pixels = centres + rng.uniform(-1, 1, (num, 3, 2)) * spread
  depth = rng.uniform(1, 5, (num, 3, 1))
  points = np.concatenate([pixels, depth], -1).reshape(-1, 3)
  principal = np.asarray([31.5, 31.5])
  vertices = np.concatenate(
      [(points[:, :2] - principal) * points[:, 2:] / focal, points[:, 2:]], -1)
  faces = np.arange(3 * num).reshape(num, 3)
  for cull in (True, False):
    out = render.rasterize_mesh(vertices[None], faces, [[focal, focal]],
                                principal[None], size, size,
                                cull_backfaces=cull)
    reference = numpy_reference_rasterize(points, faces, size, size,
                                          cull_backfaces=cull)
    got = out.face_index[0]
    assert int(out.overflow[0]) == 0
    np.testing.assert_array_equal(got >= 0, reference >= 0)
    assert np.mean(got == reference) > 0.995  # depth quantisation ties


def test_rasterize_mesh_off_image_and_behind_the_camera():
  tri = np.asarray([[[0.0, 0.0, -2.0], [0.0, 1.0, -2.0], [1.0, 0.0, -2.0]],
                    [[50.0, 0.0, 2.0], [50.0, 1.0, 2.0], [51.0, 0.0, 2.0]]])
  out = render.rasterize_mesh(tri.reshape(1, 6, 3),
                              np.arange(6).reshape(2, 3), [[100.0, 100.0]],
                              [[15.5, 15.5]], 32, 32)
  assert np.all(out.face_index == -1)


def test_rasterize_mesh_raises_rather_than_drop_faces(monkeypatch):
  # Break the window assignment: the rasteriser's own count must refuse the
  # partial picture.
  monkeypatch.setattr(render, '_segments',
                      lambda sizes, windows, slots: np.zeros(
                          (len(windows), 2), np.int32))
  with pytest.raises(RuntimeError, match='partial'):
    render.rasterize_mesh(_SQUARE[None] * [0.02, 0.02, 1.0], _SQUARE_FACES,
                          [[50.0, 50.0]], [[0.0, 0.0]], 64, 64)


def test_rasterize_mesh_argument_errors():
  vertices = np.zeros((1, 3, 3))
  faces = np.asarray([[0, 1, 2]])
  with pytest.raises(ValueError, match='focal'):
    render.rasterize_mesh(vertices, faces, [[0.0, 1.0]], [[0.0, 0.0]], 8, 8)
  with pytest.raises(ValueError, match='near'):
    render.rasterize_mesh(vertices, faces, [[1.0, 1.0]], [[0.0, 0.0]], 8, 8,
                          near=0.0)
  with pytest.raises(ValueError, match='face indices'):
    render.rasterize_mesh(vertices, faces + 1, [[1.0, 1.0]], [[0.0, 0.0]], 8,
                          8)


def _close_up(size=256):
  """A head-and-shoulders close-up of the default body: (vertices [V, 3]
  camera frame, faces, focal [2], principal [2], points [V, 3])."""
  models = gendered.load_gendered_models()
  out = smpl.smpl_forward(models, jnp.zeros((1, 24, 3)), jnp.zeros((1, 10)),
                          gender=jnp.asarray([0]))
  vertices = (np.asarray(out.vertices[0] - out.joints[0, :1]) *
              [1.0, -1.0, -1.0] + [0.0, 0.6, 0.7])
  focal, principal = np.full(2, 0.94 * size), np.full(2, (size - 1) / 2)
  points = np.asarray(render.project(jnp.asarray(vertices[None], jnp.float32),
                                     jnp.asarray(focal[None], jnp.float32),
                                     jnp.asarray(principal[None],
                                                 jnp.float32)))[0]
  return vertices, np.asarray(models.faces), focal, principal, points


@pytest.mark.slow  # the default suite: test_draw's close-ups
def test_close_up_overflow_is_counted_and_the_whole_mesh_drawn():
  vertices, faces, focal, principal, points = _close_up()
  fixed = _rasterize(points, faces, 256, render.RasterConfig())
  assert int(fixed.overflow[0]) > 100  # counted, not silently dropped
  whole = render.rasterize_mesh(vertices[None], faces, focal[None],
                                principal[None], 256, 256)
  assert int(whole.overflow[0]) == 0
  drawn = whole.face_index[0] >= 0
  partial = np.asarray(fixed.face_index[0]) >= 0
  assert np.all(drawn[partial])
  assert np.mean(drawn) > 0.2 and np.mean(partial) < 0.9 * np.mean(drawn)


@pytest.mark.slow
def test_close_up_face_for_face():
  # As a config large enough for this picture (slow to compile) draws it.
  vertices, faces, focal, principal, points = _close_up()
  large = render.RasterConfig(2, ((128, 64), (64, 256), (32, 1024),
                                  (16, 4096), (8, 8192), (4, 13000)))
  reference = _rasterize(points, faces, 256, large)
  assert int(reference.overflow[0]) == 0
  reference = np.asarray(reference.face_index[0])
  got = render.rasterize_mesh(vertices[None], faces, focal[None],
                              principal[None], 256, 256).face_index[0]
  # Pixel centres on an edge may flip with float32 rounding (the two paths
  # project in a different order).
  assert np.sum((got >= 0) != (reference >= 0)) <= 3
  assert np.mean(got[reference >= 0] == reference[reference >= 0]) > 0.99
