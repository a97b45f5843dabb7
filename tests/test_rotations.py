"""Rotation representations and conversions (smplr_jax.body.rotations)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from smplr_jax.body import rotations


def test_axis_angle_to_matrix_matches_scipy():
  rng = np.random.default_rng(0)
  vecs = np.concatenate([rng.normal(size=(50, 3)), np.zeros((1, 3)),
                         [[np.pi, 0, 0], [0, 1e-6, 0], [3e-5, -2e-5, 1e-5]]])
  with jax.enable_x64(True):
    got = rotations.axis_angle_to_matrix(jnp.asarray(vecs))
  np.testing.assert_allclose(got, Rotation.from_rotvec(vecs).as_matrix(),
                             atol=1e-12)


def test_rodrigues_gradient_finite_and_exact_at_zero():
  """d R / d r at r = 0 is the skew-symmetric generator: finite and exact."""
  jac = jax.jacfwd(rotations.axis_angle_to_matrix)(jnp.zeros(3))
  jac_rev = jax.jacrev(rotations.axis_angle_to_matrix)(jnp.zeros(3))
  generators = np.zeros((3, 3, 3))
  generators[2, 1, 0], generators[1, 0, 2], generators[0, 2, 1] = 1, 1, 1
  generators[1, 2, 0], generators[2, 0, 1], generators[0, 1, 2] = -1, -1, -1
  expected = np.moveaxis(generators, 0, -1)  # [3, 3, 3]: d R_ij / d r_k
  np.testing.assert_allclose(jac, expected, atol=1e-7)
  np.testing.assert_allclose(jac_rev, expected, atol=1e-7)


@pytest.mark.parametrize('order', ['XYZ', 'XZY', 'YXZ', 'YZX', 'ZXY', 'ZYX'])
def test_euler_round_trip(order):
  rng = np.random.default_rng(0)
  angles = rng.uniform(-3.1, 3.1, (100, 3))
  middle = 'XYZ'.index(order[1])
  angles[:, middle] /= 2.1  # within (-pi/2, pi/2)
  angles = jnp.asarray(angles, jnp.float32)
  matrix = rotations.euler_to_matrix(angles, order)
  np.testing.assert_allclose(
      jnp.einsum('...ji,...jk->...ik', matrix, matrix),
      np.broadcast_to(np.eye(3), matrix.shape), atol=1e-5)
  np.testing.assert_allclose(rotations.matrix_to_euler(matrix, order), angles,
                             atol=1e-5)
  # First angle about the first axis of the order, and so on (intrinsic).
  ids = rotations.order_axes(order)
  expected = np.eye(3)
  for axis in ids:
    e = np.zeros((100, 3), np.float32)
    e[:, axis] = angles[:, axis]
    expected = expected @ np.asarray(
        rotations.axis_angle_to_matrix(jnp.asarray(e)))
  np.testing.assert_allclose(matrix, expected, atol=1e-5)


def test_matrix_to_axis_angle_round_trip():
  rng = np.random.default_rng(0)
  vectors = rng.normal(size=(64, 3))
  vectors *= (rng.uniform(0, np.pi - 1e-3, 64) /
              np.linalg.norm(vectors, axis=-1))[:, None]
  vectors[0] = 0.0
  matrices = rotations.axis_angle_to_matrix(jax.numpy.asarray(vectors,
                                                         np.float32))
  back = jax.jit(rotations.matrix_to_axis_angle)(matrices)
  np.testing.assert_allclose(np.asarray(back), vectors, atol=2e-3)


def test_rotation_6d_roundtrip_and_projection():
  mats = jnp.asarray(Rotation.random(20, random_state=0).as_matrix(),
                     jnp.float32)
  np.testing.assert_allclose(
      rotations.rotation_6d_to_matrix(rotations.matrix_to_rotation_6d(mats)),
      mats, atol=1e-5)
  noisy = mats + 0.05 * jax.random.normal(jax.random.PRNGKey(0), mats.shape)
  projected = rotations.project_to_rotation(noisy)
  np.testing.assert_allclose(jnp.linalg.det(projected), 1.0, atol=1e-5)
  assert float(jnp.max(jnp.abs(projected - mats))) < 0.1
  reflected = mats.at[:, :, 0].multiply(-1.0)  # det -1 input
  np.testing.assert_allclose(
      jnp.linalg.det(rotations.project_to_rotation(reflected)), 1.0,
      atol=1e-5)


def test_quaternions_agree_with_matrices_and_axis_angle():
  rng = np.random.default_rng(1)
  q = rng.normal(size=(32, 4))
  q /= np.linalg.norm(q, axis=-1, keepdims=True)
  expected = Rotation.from_quat(q[:, [1, 2, 3, 0]])  # scipy: (x, y, z, w)
  np.testing.assert_allclose(
      rotations.quaternion_to_matrix(jnp.asarray(q, jnp.float32)),
      expected.as_matrix(), atol=1e-5)
  np.testing.assert_allclose(
      rotations.quaternion_to_axis_angle(jnp.asarray(q, jnp.float32)),
      expected.as_rotvec(), atol=1e-4)


def test_euler_to_quaternion_matches_euler_to_matrix():
  rng = np.random.default_rng(2)
  angles = jnp.asarray(rng.uniform(-1.5, 1.5, (16, 2, 3)), jnp.float32)
  orders = ('XZY', 'YZX')
  axes = np.asarray([rotations.order_axes(o) for o in orders])
  q = rotations.euler_to_quaternion(angles, axes)
  for j, order in enumerate(orders):
    np.testing.assert_allclose(
        rotations.quaternion_to_matrix(q[:, j]),
        rotations.euler_to_matrix(angles[:, j], order), atol=1e-5)
  with pytest.raises(ValueError, match='permutation of XYZ'):
    rotations.order_axes('XXY')


def test_rotate_global_orientation_changes_only_joint_zero():
  rng = np.random.default_rng(3)
  pose = rng.normal(0.0, 0.5, (5, 24, 3)).astype(np.float32)
  rotation = Rotation.from_rotvec([0.3, -1.2, 0.4]).as_matrix()
  out = rotations.rotate_global_orientation(rotation, pose.reshape(5, 72))
  assert out.shape == (5, 24, 3) and out.dtype == np.float32
  np.testing.assert_array_equal(out[:, 1:], pose[:, 1:])
  np.testing.assert_allclose(
      Rotation.from_rotvec(out[:, 0]).as_matrix(),
      rotation @ Rotation.from_rotvec(pose[:, 0]).as_matrix(), atol=1e-6)
