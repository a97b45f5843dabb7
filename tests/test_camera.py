"""The camera (`smplr_jax.camera`): focal length, principal point, rays."""

import numpy as np
import pytest

from smplr_jax import camera
from smplr_jax.body import keypoints as kp


def test_resolve_focal_defaults_and_refuses_bad_values():
  assert camera.resolve_focal(None, (640, 480)) == camera.default_focal(640,
                                                                        480)
  # 55 degrees over the longer side.
  np.testing.assert_allclose(
      2 * np.degrees(np.arctan(320 / camera.default_focal(640, 480))), 55.0)
  assert camera.resolve_focal(500, None) == 500.0
  for bad in (0.0, -3.0, float('nan'), float('inf')):
    with pytest.raises(ValueError, match='positive number of pixels'):
      camera.resolve_focal(bad, (640, 480))


def test_principal_point_is_the_pixel_centre_and_intrinsics_use_it():
  np.testing.assert_array_equal(camera.principal_point((640, 480)),
                                [319.5, 239.5])
  k = camera.intrinsics((640, 480), 500.0)
  np.testing.assert_array_equal(k, [[500, 0, 319.5], [0, 500, 239.5],
                                    [0, 0, 1]])
  focal, principal = camera.split_intrinsics(np.stack([k, 2 * k]), 2)
  np.testing.assert_allclose(focal, [[500, 500], [1000, 1000]])
  np.testing.assert_allclose(principal, [[319.5, 239.5], [639, 479]])


def _scene(seed=0):
  rng = np.random.default_rng(seed)
  points = rng.normal(0, 0.4, (2, 33, 3))  # two bodies, root-relative
  root = np.array([[0.3, -0.2, 4.5], [-1.0, 0.4, 7.0]])
  focal, principal = 400.0, np.array([200.0, 150.0])
  cam = points + root[:, None]
  pixels = focal * cam[..., :2] / cam[..., 2:] + principal
  rays = camera.normalised(pixels, focal, principal)
  return points, root, rays


def test_root_from_rays_places_points_at_their_pixels():
  points, root, rays = _scene()
  found = camera.root_from_rays(points, rays, np.ones((2, 33)))
  np.testing.assert_allclose(found, root, atol=1e-4)
  # One body, unbatched, float64 input: the same answer.
  np.testing.assert_allclose(
      camera.root_from_rays(points[1], rays[1], np.ones(33)), root[1],
      atol=1e-4)


def test_root_from_rays_with_a_known_depth_solves_x_and_y():
  points, root, rays = _scene(1)
  found = camera.root_from_rays(points, rays, np.ones((2, 33)),
                                depth=root[:, 2])
  np.testing.assert_allclose(found, root, atol=1e-4)
  # A single ray at a depth (the crop's root): the ray's point there.
  one = camera.root_from_rays(np.zeros((1, 3)), np.array([[0.1, -0.05]]),
                              np.ones(1), depth=np.asarray(4.0))
  np.testing.assert_allclose(one, [0.4, -0.2, 4.0], atol=1e-6)


def test_root_from_rays_ignores_zero_weight_points():
  points, root, rays = _scene(2)
  weights = np.ones((2, 33))
  rays = rays.copy()
  rays[:, :5] += 0.3  # five wrong rays...
  weights[:, :5] = 0.0  # ...that weigh nothing
  np.testing.assert_allclose(camera.root_from_rays(points, rays, weights),
                             root, atol=1e-4)


def test_virtual_camera_undoes_an_off_axis_view():
  rng = np.random.default_rng(0)
  body = rng.normal(0, 0.3, (33, 3)) + [1.5, -0.8, 5.0]  # off-axis
  focal, principal = 500.0, np.array([320.0, 240.0])
  pixels = focal * body[:, :2] / body[:, 2:] + principal
  xy, rotation = camera.virtual_camera(pixels, kp.BLAZEPOSE33.centre_ids,
                                       focal, principal)
  turned = body @ rotation.T
  np.testing.assert_allclose(xy, turned[:, :2] / turned[:, 2:], atol=1e-9)
  # The hips' image midpoint (1.5 m off-axis) is now near the centre.
  assert np.abs(xy[[23, 24]].mean(0)).max() < 0.01
  np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
