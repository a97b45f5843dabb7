"""The overlay draws the whole body at any size (issue 35).

`draw.silhouette` (the mask `mesh_overlay` covers) against an independent
drawing: a NumPy ray cast of every front face (a pixel is covered when the
ray through its centre meets a front face deeper than the near plane),
with no projection, clipping or rasteriser code in common. Scenes: the
default body model in close-ups, cut by the frame, reaching behind the
camera, tiny, and in a 4000 x 3000 photo.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax.body import gendered, smpl
from smplr_jax.data import render
from smplr_jax.predict import draw

_HEIGHT, _WIDTH = 240, 320
_FOCAL = 300.0


def reference_silhouette(vertices: np.ndarray, faces: np.ndarray,
                         focal: float, principal, height: int, width: int,
                         near: float = render.MESH_NEAR_PLANE) -> np.ndarray:
  """[H, W] pixels whose centre's ray meets a front face at depth > near.

  The ray through pixel (i, j) is D = ((j - cx) / f, (i - cy) / f, 1);
  writing D = a' a + b' b + c' c in the face's corners (Cramer), the ray
  meets the face at t = 1 / (a' + b' + c') when a', b', c' >= 0, at depth
  t. A face is front facing when a . (b x c) < 0 (the camera sees it
  counter-clockwise).
  """
  tri = np.asarray(vertices, np.float64)[np.asarray(faces)]
  a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
  bc, ca, ab = np.cross(b, c), np.cross(c, a), np.cross(a, b)
  det = np.einsum('fk,fk->f', a, bc)
  cx, cy = principal
  z = tri[..., 2]
  with np.errstate(divide='ignore', invalid='ignore'):
    u = focal * tri[..., 0] / z + cx
    v = focal * tri[..., 1] / z + cy
  in_front = z.min(1) > near
  reaches = z.max(1) > near  # a face wholly within z <= near shows nothing
  # Pixel box of faces wholly in front; the whole image for the others.
  c0 = np.where(in_front, np.ceil(u.min(1)), 0).clip(0, width)
  c1 = np.where(in_front, np.floor(u.max(1)), width - 1).clip(-1, width - 1)
  r0 = np.where(in_front, np.ceil(v.min(1)), 0).clip(0, height)
  r1 = np.where(in_front, np.floor(v.max(1)), height - 1).clip(-1, height - 1)
  mask = np.zeros((height, width), bool)
  for f in np.flatnonzero((det < 0) & reaches & (c1 >= c0) & (r1 >= r0)):
    rows, cols = np.mgrid[int(r0[f]):int(r1[f]) + 1,
                          int(c0[f]):int(c1[f]) + 1]
    ray = np.stack([(cols - cx) / focal, (rows - cy) / focal,
                    np.ones(rows.shape)], axis=-1)
    weights = ray @ np.stack([bc[f], ca[f], ab[f]], axis=1) / det[f]
    total = weights.sum(-1)
    hit = (np.all(weights >= 0, axis=-1) & (total > 0) &
           (total < 1.0 / near))  # depth 1 / total beyond the near plane
    mask[int(r0[f]):int(r1[f]) + 1, int(c0[f]):int(c1[f]) + 1] |= hit
  return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.sum(a & b) / max(np.sum(a | b), 1))


@pytest.fixture(scope='module')
def body():
  """(vertices [V, 3] root-relative in camera axes (y down, facing the
  camera), faces [F, 3]) of the default male model, arms down, and the same
  body with its right arm reaching towards the camera."""
  models = gendered.load_gendered_models()
  pose = np.zeros((2, 24, 3), np.float32)
  pose[:, 16, 2], pose[:, 17, 2] = -1.1, 1.1  # arms down
  pose[1, 17] = [0.0, 1.5, 0.0]  # right arm forward
  out = smpl.smpl_forward(models, jnp.asarray(pose), jnp.zeros((2, 10)),
                          gender=jnp.asarray([1, 1]))
  flip = np.array([1.0, -1.0, -1.0])  # body frame (y up, +z front) -> camera
  vertices = np.asarray(out.vertices - out.joints[:, :1]) * flip
  return vertices, np.asarray(models.faces)


def _principal(height=_HEIGHT, width=_WIDTH):
  return np.array([(width - 1) / 2, (height - 1) / 2])


def _check(vertices, faces, focal=_FOCAL, height=_HEIGHT, width=_WIDTH,
           least_pixels=100):
  principal = _principal(height, width)
  got = draw.silhouette(vertices, faces, [focal, focal], principal, height,
                        width)
  want = reference_silhouette(vertices, faces, focal, principal, height,
                              width)
  assert got.shape == (height, width) and got.dtype == bool
  assert want.sum() >= least_pixels  # the scene shows the body
  assert iou(got, want) >= 0.99, (iou(got, want), got.sum(), want.sum())
  return got, want


# Root positions (metres, camera frame) of the scenes, drawn at 640 x 480
# with f = 600 (the overlay's own sizes: at most draw.MAX_PICTURE_SIDE).
_SCENES = {
    # Head and shoulders: the body ~3.7x the frame height.
    'head_and_shoulders': [0.0, 0.60, 0.60],
    # Waist up: the pelvis at the bottom edge.
    'waist_up': [0.0, 0.40, 1.20],
    # Waist up, the body's midline on the left / right frame edge.
    'cut_by_left_edge': [-319.5 / 600.0 * 0.9, 0.45, 0.9],
    'cut_by_right_edge': [319.5 / 600.0 * 0.9, 0.45, 0.9],
}


@pytest.mark.parametrize('scene', sorted(_SCENES))
def test_silhouette_matches_independent_drawing(body, scene):
  vertices, faces = body
  got, want = _check(vertices[0] + _SCENES[scene], faces, focal=600.0,
                     height=480, width=640)
  if scene == 'head_and_shoulders':
    assert want.mean() > 0.3  # a close-up fills much of the frame


@pytest.mark.slow  # the default suite keeps the close-up and edge scenes
def test_body_reaching_behind_the_camera(body):
  # The arm reaches past the camera: some vertices are behind it and many
  # faces cross the near plane.
  vertices = body[0][1] + [0.25, 0.3, 0.45]
  assert np.sum(vertices[:, 2] < render.MESH_NEAR_PLANE) > 50
  got, want = _check(vertices, body[1])
  assert want.mean() > 0.1


def test_floor_reaching_behind_the_camera():
  # A floor 2 cm under the camera, from 1 m behind it to 5 m ahead (two
  # faces, both crossing the near plane): only their clipped parts show,
  # the frame below the horizon.
  vertices = np.asarray([[-2.0, 0.02, -1.0], [2.0, 0.02, -1.0],
                         [2.0, 0.02, 5.0], [-2.0, 0.02, 5.0]])
  faces = np.asarray([[0, 1, 2], [0, 2, 3]])
  got, want = _check(vertices, faces, least_pixels=10_000)
  assert got[-1].all() and not got[:_HEIGHT // 2].any()


@pytest.mark.slow  # the default suite keeps the close-up and edge scenes
def test_camera_just_in_front_of_the_chest(body):
  vertices, faces = body
  vertices = vertices[0] + [0.0, 0.25, 0.0]
  vertices[:, 2] += 0.005 - vertices[:, 2].min()  # nearest point at 5 mm
  _check(vertices, faces)


@pytest.mark.slow  # the default suite keeps the close-up and edge scenes
def test_tiny_body(body):
  vertices, faces = body
  # About 80 pixels tall.
  got, _ = _check(vertices[0] + [0.0, 0.0, _FOCAL * 1.77 / 80], faces,
                  least_pixels=300)
  rows = np.flatnonzero(got.any(axis=1))
  assert 70 <= rows[-1] - rows[0] + 1 <= 90


@pytest.mark.slow  # the default suite keeps the close-up and edge scenes
def test_large_photo_geometry_at_reduced_size(body):
  # A 4000 x 3000 close-up, drawn at a tenth of its size (the overlay's own
  # size is at most draw.MAX_PICTURE_SIDE).
  vertices, faces = body
  _check(vertices[0] + [0.0, 0.55, 0.7], faces, focal=340.0, height=300,
         width=400)


@pytest.mark.slow
def test_large_photo_full_size(body):
  vertices, faces = body
  _check(vertices[0] + [0.0, 0.55, 0.7], faces, focal=3400.0, height=3000,
         width=4000)


def test_mesh_overlay_draws_the_silhouette(body):
  vertices, faces = body
  vertices = vertices[0] + [0.0, 0.60, 0.60]  # head and shoulders
  image = np.full((_HEIGHT, _WIDTH, 3), 255, np.uint8)
  out = draw.mesh_overlay(image, vertices, faces, _FOCAL, _principal())
  mask = draw.silhouette(vertices, faces, _FOCAL, _principal(), _HEIGHT,
                         _WIDTH)
  changed = np.any(out != 255, axis=-1)
  np.testing.assert_array_equal(changed, mask)


def test_camera_in_picture_matches_project():
  focal, principal = np.array([500.0, 520.0]), np.array([320.0, 240.0])
  homography = np.array([[0.5, 0.0, 0.25], [0.0, 0.5, 0.25], [0.0, 0.0, 1.0]])
  points = np.array([[0.1, -0.2, 2.0], [-0.3, 0.4, 3.0]])
  want = draw.project(points, focal, principal, homography)[:, :2]
  f, c = draw.camera_in_picture(focal, principal, homography)
  np.testing.assert_allclose(f * points[:, :2] / points[:, 2:] + c, want,
                             atol=1e-9)
  with pytest.raises(ValueError, match='scale and shift'):
    draw.camera_in_picture(focal, principal,
                           [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
