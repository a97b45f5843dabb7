"""Tests of the JL representation: points, kinematic tree, N and B."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import test_util as jtu

from smplr_jax import testing
from smplr_jax.body import body_model as bm
from smplr_jax.body import jl, smpl

_forward = jax.jit(smpl.smpl_forward)


@pytest.fixture(scope='module')
def model():
  arrays = testing.random_smpl_arrays(seed=3, num_vertices=400, num_faces=700)
  arrays['landmark_vertex_ids'] = np.arange(18) * 7
  return bm.body_model_from_arrays(arrays)


def test_sizes_and_names():
  assert (jl.NUM_JOINTS, jl.NUM_LANDMARKS, jl.NUM_POINTS) == (24, 18, 42)
  assert len(jl.JOINT_NAMES) == 24 and len(jl.LANDMARK_NAMES) == 18
  assert len(set(jl.JOINT_NAMES + jl.LANDMARK_NAMES)) == 42
  assert len(jl.JL_PARENTS) == 42 and jl.JL_PARENTS[0] == -1


def test_parents_precede_children_and_match_the_paper():
  for child, parent in enumerate(jl.JL_PARENTS[1:], start=1):
    assert 0 <= parent < child
  assert jl.SMPL_PARENTS == testing.SMPL_PARENTS
  landmark_parents = {24: 9, 25: 9, 26: 0, 27: 0, 28: 0, 29: 2, 30: 1,
                      31: 29, 32: 30, 33: 10, 34: 11, 35: 22, 36: 16, 37: 36,
                      38: 17, 39: 38, 40: 23, 41: 15}
  assert {i: jl.JL_PARENTS[i] for i in range(24, 42)} == landmark_parents


def test_left_right_permutation():
  perm = jl.LEFT_RIGHT_PERMUTATION
  assert sorted(perm) == list(range(42))
  assert all(perm[perm[i]] == i for i in range(42))  # an involution
  for i in range(1, 42):  # the mirrored tree is the tree
    assert jl.JL_PARENTS[perm[i]] == perm[jl.JL_PARENTS[i]]
  for i, name in enumerate(jl.POINT_NAMES):
    mirrored = jl.POINT_NAMES[perm[i]]
    if 'left' in name:
      assert mirrored == name.replace('left', 'right')
    elif 'right' in name:
      assert mirrored == name.replace('right', 'left')
    else:
      assert perm[i] == i


def _chain():
  """Root -> left hip -> left knee -> left ankle; every other point at 0."""
  points = np.zeros((42, 3), np.float32)
  points[1] = (0.1, 0.0, 0.0)
  points[4] = (0.1, -0.4, 0.0)
  points[7] = (0.1, -0.4, 0.3)
  return jnp.asarray(points)


def test_chain_vectors_lengths_directions():
  points = _chain()
  vectors = np.asarray(jl.bone_vectors(points))
  lengths = np.asarray(jl.bone_lengths(points))
  directions = np.asarray(jl.bone_directions(points))
  assert vectors.shape == (41, 3) and lengths.shape == (41,)
  # Bone i - 1 ends at point i.
  np.testing.assert_allclose(vectors[0], [0.1, 0.0, 0.0], atol=1e-7)
  np.testing.assert_allclose(vectors[3], [0.0, -0.4, 0.0], atol=1e-7)
  np.testing.assert_allclose(vectors[6], [0.0, 0.0, 0.3], atol=1e-7)
  np.testing.assert_allclose(lengths[[0, 3, 6]], [0.1, 0.4, 0.3], rtol=1e-6)
  np.testing.assert_allclose(directions[[0, 3, 6]],
                             [[1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=1e-6)
  # Point 10 (left foot) sits at 0 with its parent, the ankle, at (.1,-.4,.3).
  np.testing.assert_allclose(lengths[9], np.sqrt(0.26), rtol=1e-6)
  # Zero-length bones (e.g. point 2 at the root) give zeros, not NaN.
  assert lengths[1] == 0.0
  np.testing.assert_array_equal(directions[1], 0.0)


@pytest.mark.parametrize('batch_shape', [(), (5,), (2, 3)])
def test_directions_are_unit_vectors(batch_shape):
  points = jax.random.normal(jax.random.PRNGKey(0), batch_shape + (42, 3))
  directions = jax.jit(jl.bone_directions)(points)
  assert directions.shape == batch_shape + (41, 3)
  np.testing.assert_allclose(jnp.linalg.norm(directions, axis=-1), 1.0,
                             rtol=1e-5)
  np.testing.assert_allclose(
      jl.bone_lengths(points),
      jnp.linalg.norm(jl.bone_vectors(points), axis=-1), rtol=1e-6)


def test_zero_length_bones_have_finite_gradients():
  points = jnp.zeros((2, 42, 3))
  for fn in (jl.bone_directions, jl.bone_lengths):
    value, grad = jax.value_and_grad(lambda p, f=fn: jnp.sum(f(p)))(points)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_gradients_match_finite_differences():
  points = np.random.default_rng(1).normal(size=(2, 42, 3)).astype(np.float32)
  jtu.check_grads(jl.bone_directions, (points,), order=1, modes=['rev'],
                  atol=2e-2, rtol=2e-2)
  jtu.check_grads(lambda p: jl.shape_features(p, jnp.ones(41)), (points,),
                  order=1, modes=['rev'], atol=2e-2, rtol=2e-2)


def test_joints_and_landmarks_is_root_relative(model):
  pose = 0.3 * jax.random.normal(jax.random.PRNGKey(0), (3, 24, 3))
  betas = jax.random.normal(jax.random.PRNGKey(1), (3, 10))
  out = _forward(model, pose, betas,
                          transl=jnp.asarray([[1.0, 2.0, 3.0]] * 3))
  points = jax.jit(jl.joints_and_landmarks)(model, out.vertices, out.joints)
  assert points.shape == (3, 42, 3)
  root = out.joints[:, :1]
  np.testing.assert_array_equal(points[:, 0], 0.0)
  np.testing.assert_allclose(points[:, :24], out.joints - root, atol=1e-6)
  np.testing.assert_allclose(points[:, 24:],
                             out.vertices[:, np.arange(18) * 7] - root,
                             atol=1e-6)


def test_joints_and_landmarks_needs_landmarks():
  arrays = testing.random_smpl_arrays(seed=0, num_vertices=100, num_faces=10)
  model = bm.body_model_from_arrays(arrays)  # no landmark ids
  with pytest.raises(ValueError, match='landmark'):
    jl.joints_and_landmarks(model, jnp.zeros((1, 100, 3)),
                            jnp.zeros((1, 24, 3)))


def test_template_lengths_give_zero_shape_features_at_rest(model):
  template = jl.template_bone_lengths(model)
  assert template.shape == (41,)
  out = _forward(model, jnp.zeros((2, 24, 3)), jnp.zeros((2, 10)))
  points = jl.joints_and_landmarks(model, out.vertices, out.joints)
  np.testing.assert_allclose(jl.shape_features(points, template), 0.0,
                             atol=1e-6)
  # Shape changes the features.
  out = _forward(model, jnp.zeros((1, 24, 3)), 3 * jnp.ones((1, 10)))
  points = jl.joints_and_landmarks(model, out.vertices, out.joints)
  assert np.abs(jl.shape_features(points, template)).max() > 1e-3


def test_template_lengths_of_a_stacked_model_use_the_first(model):
  arrays = testing.random_smpl_arrays(seed=4, num_vertices=400, num_faces=700)
  arrays['landmark_vertex_ids'] = np.arange(18) * 7
  other = bm.body_model_from_arrays(arrays)
  stacked = bm.stack_body_models([model, other])
  np.testing.assert_allclose(jl.template_bone_lengths(stacked),
                             jl.template_bone_lengths(model), rtol=1e-6)


def test_check_jl_values_names_the_mistake():
  """Millimetres, centimetres, a root off the origin or NaN are refused."""
  model = bm.load_body_model()  # the default neutral body
  template = np.asarray(jl.joints_and_landmarks(
      model, model.v_template[None], model.joint_template[None]))
  points = np.repeat(template, 3, axis=0)
  jl.check_jl_values(points)  # median bone 0.154 m
  jl.check_jl_values(points * 0.5)  # a small child still passes
  cases = [
      (points * 1000, (r'jl\[0\] \(3 of 3 examples\): JL look like '
                       r'millimetres: median bone length 153\.6 .*divide '
                       r'by 1000')),
      (points * 100, r'look like centimetres: .*divide by 100\.'),
      (points * 1e-4, r'are not a human body in metres'),
      (points + [0.0, 0.2, 4.0],
       (r'jl\[0\] \(3 of 3 examples\): the root \(point 0\) is at '
        r'\(0\.000, 0\.200, 4\.000\), 4\.005 m from the origin; JL must be '
        r'root-relative: subtract jl\[:, :1\]')),
  ]
  nan = points.copy()
  nan[2, 5, 1] = np.nan
  cases.append((nan, r'jl\[2\] \(1 of 3 examples\) holds NaN or Inf'))
  for bad, message in cases:
    with pytest.raises(ValueError, match=message):
      jl.check_jl_values(bad)
