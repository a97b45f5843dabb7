"""Tests of the synthetic-body sampler: limits, determinism, consistency."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax import testing
from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, jl, limits, smpl
from smplr_jax.body import rotations as smplr_rotations
from smplr_jax.data import sampler

_LANDMARK_IDS = np.arange(18) * 7
_sample_bodies = jax.jit(sampler.sample_bodies, static_argnums=(2, 3))
_sample_jl = jax.jit(sampler.sample_jl, static_argnums=(2, 3))
_forward = jax.jit(smpl.smpl_forward)


@pytest.fixture(scope='module')
def models():
  """Stacked [female, male] synthetic models with 18 landmark ids."""
  singles = []
  for seed in (1, 2):
    arrays = testing.random_smpl_arrays(seed=seed, num_vertices=300,
                                        num_faces=500)
    arrays['landmark_vertex_ids'] = _LANDMARK_IDS
    singles.append(bm.body_model_from_arrays(arrays))
  return bm.stack_body_models(singles)


def test_limits_table():
  assert list(limits.JOINT_LIMITS) == list(jl.JOINT_NAMES[1:])
  table = limits.joint_limits_degrees()
  assert table.shape == (24, 3, 2)
  assert np.all(table[..., 0] <= 0) and np.all(table[..., 1] >= 0)
  assert np.all(table[..., 0] <= table[..., 1])
  for name, (order, x, y, z) in limits.JOINT_LIMITS.items():
    assert sorted(order) == ['X', 'Y', 'Z'], name
    if name.startswith('left'):  # right = left mirrored in the x = 0 plane
      r_order, rx, ry, rz = limits.JOINT_LIMITS['right' + name[4:]]
      assert r_order == order and rx == x
      assert ry == (-y[1], -y[0]) and rz == (-z[1], -z[0])
  # Anatomical spot checks in SMPL's frames (x left, y up, z forward).
  assert limits.JOINT_LIMITS['left_knee'][1] == (0, 135)  # bends backwards
  assert limits.JOINT_LIMITS['left_elbow'][2][1] == 0  # y <= 0: forward
  assert limits.JOINT_LIMITS['right_elbow'][2][0] == 0


def test_sampled_poses_are_within_limits():
  batch = 4096
  pose = jax.jit(sampler.sample_pose, static_argnums=1)(
      jax.random.PRNGKey(0), batch)
  assert pose.shape == (batch, 24, 3)
  assert np.all(np.linalg.norm(pose, axis=-1) <= np.pi + 1e-5)
  rotations = smplr_rotations.axis_angle_to_matrix(pose)
  radians = np.deg2rad(limits.joint_limits_degrees())
  tolerance = 1e-3
  for j, order in enumerate(limits.JOINT_EULER_ORDERS):
    angles = np.asarray(smplr_rotations.matrix_to_euler(rotations[:, j], order))
    if j == 0:  # yaw wraps around
      angles = angles[:, [0, 2]]
      lower, upper = radians[0, [0, 2], 0], radians[0, [0, 2], 1]
    else:
      lower, upper = radians[j, :, 0], radians[j, :, 1]
    assert np.all(angles >= lower - tolerance), jl.JOINT_NAMES[j]
    assert np.all(angles <= upper + tolerance), jl.JOINT_NAMES[j]
    # The samples fill the range (not all near rest).
    span = angles.max(0) - angles.min(0)
    np.testing.assert_array_less((upper - lower) * 0.9 - 1e-6, span + 1e-6)


def test_sample_parameters(models):
  del models
  pose, betas, gender = sampler.sample_parameters(
      jax.random.PRNGKey(3), 4096, num_betas=8, beta_std=2.0, beta_clip=1.5)
  assert pose.shape == (4096, 24, 3, 3)
  assert betas.shape == (4096, 8) and gender.shape == (4096,)
  assert gender.dtype == jnp.int32
  assert 0.45 < float(gender.mean()) < 0.55
  assert float(jnp.abs(betas).max()) <= 1.5
  assert 0.1 < float(jnp.mean(jnp.abs(betas) == 1.5)) < 0.6  # clipped often
  np.testing.assert_allclose(
      jnp.einsum('...ji,...jk->...ik', pose, pose),
      np.broadcast_to(np.eye(3), pose.shape), atol=1e-5)


def test_sample_bodies(models):
  key = jax.random.PRNGKey(0)
  bodies = _sample_bodies(key, models, 64, 10)
  assert bodies['jl'].shape == (64, 42, 3)
  assert bodies['vertices'].shape == (64, 300, 3)
  assert bodies['pose'].shape == (64, 24, 3, 3)
  assert bodies['betas'].shape == (64, 10)
  assert bodies['gender'].shape == (64,) and bodies['gender'].dtype == jnp.int32
  np.testing.assert_array_equal(bodies['jl'][:, 0], 0.0)
  np.testing.assert_allclose(bodies['jl'][:, 24:],
                             bodies['vertices'][:, _LANDMARK_IDS], atol=1e-6)
  # The same bodies as the SMPL forward of the returned parameters.
  out = _forward(models, bodies['pose'], bodies['betas'],
                 gender=bodies['gender'])
  np.testing.assert_allclose(bodies['vertices'],
                             out.vertices - out.joints[:, :1], atol=1e-5)
  # And the parameters are those of sample_parameters with the same key.
  pose, betas, gender = jax.jit(sampler.sample_parameters,
                                static_argnums=1)(key, 64)
  np.testing.assert_allclose(bodies['pose'], pose, atol=1e-6)
  np.testing.assert_array_equal(bodies['betas'], betas)
  np.testing.assert_array_equal(bodies['gender'], gender)


def test_determinism_per_key(models):
  first = _sample_bodies(jax.random.PRNGKey(7), models, 64, 10)
  again = _sample_bodies(jax.random.PRNGKey(7), models, 64, 10)
  other = _sample_bodies(jax.random.PRNGKey(8), models, 64, 10)
  for name in first:
    np.testing.assert_array_equal(first[name], again[name])
  assert np.abs(np.asarray(first['jl'] - other['jl'])).max() > 1e-2
  assert not np.array_equal(first['betas'], other['betas'])


@pytest.mark.slow  # ~9 s
def test_sample_jl_matches_sample_bodies(models):
  key = jax.random.PRNGKey(5)
  bodies = _sample_bodies(key, models, 64, 10)
  points = _sample_jl(key, models, 64, 10)
  assert 'vertices' not in points
  np.testing.assert_allclose(points['jl'], bodies['jl'], atol=1e-5)
  np.testing.assert_array_equal(points['gender'], bodies['gender'])
  # A pre-restricted model gives the same.
  restricted = jl.landmark_points_model(models)
  np.testing.assert_allclose(_sample_jl(key, restricted, 64, 10)['jl'],
                             points['jl'], atol=1e-6)


def test_sample_bodies_needs_a_gendered_model(models):
  single = jax.tree.map(lambda x: x[0], models)
  single = single.replace(faces=models.faces,
                          landmark_vertex_ids=models.landmark_vertex_ids)
  with pytest.raises(ValueError, match='female, male'):
    sampler.sample_bodies(jax.random.PRNGKey(0), single, 2)


@pytest.mark.slow  # ~13 s
def test_make_test_set(models):
  small = sampler.make_test_set(models, size=40, seed=3)
  assert set(small) == {'jl', 'pose', 'betas', 'gender'}
  assert all(isinstance(v, np.ndarray) for v in small.values())
  assert small['jl'].shape == (40, 42, 3)
  again = sampler.make_test_set(models, size=100, seed=3,
                                include_vertices=True)
  assert again['vertices'].shape == (100, 300, 3)
  for name in small:  # a smaller set is a prefix of a larger one
    np.testing.assert_allclose(again[name][:40], small[name], atol=1e-5)
  other = sampler.make_test_set(models, size=40, seed=4)
  assert not np.array_equal(other['betas'], small['betas'])
  # Not the stream of the plain seed key.
  train_like = _sample_jl(jax.random.PRNGKey(3), models, 40, 10)
  assert not np.array_equal(np.asarray(train_like['betas']), small['betas'])


def test_load_gendered_models(model_dir):
  stacked = gendered.load_gendered_models(model_dir)
  female = bm.load_body_model(model_dir, 'female')
  male = bm.load_body_model(model_dir, 'male')
  assert stacked.is_stacked and stacked.v_template.shape[0] == 2
  np.testing.assert_array_equal(stacked.v_template[gendered.FEMALE],
                                female.v_template)
  np.testing.assert_array_equal(stacked.v_template[gendered.MALE],
                                male.v_template)


@pytest.mark.slow  # ~8 s
def test_default_model_bodies_look_human():
  models = gendered.load_gendered_models()  # ships with the package
  bodies = _sample_jl(jax.random.PRNGKey(0), models, 256, 10)
  lengths = np.asarray(jl.bone_lengths(bodies['jl']))
  assert np.all(np.isfinite(lengths))
  # Thigh and shin bones of adults: 25 to 60 cm.
  for point in (4, 5, 7, 8):
    assert np.all((lengths[:, point - 1] > 0.25) &
                  (lengths[:, point - 1] < 0.6)), jl.JOINT_NAMES[point]
  # Knees bend backwards only: in the thigh's frame (global orientation and
  # hip rotation undone) the ankle never ends up in front of the knee line.
  out = _forward(jl.landmark_points_model(models), bodies['pose'],
                 bodies['betas'], gender=bodies['gender'])
  world = np.asarray(out.joint_transforms[..., :3, :3])
  joints = np.asarray(out.joints)
  for hip, knee, ankle in ((1, 4, 7), (2, 5, 8)):
    shin = np.einsum('bji,bj->bi', world[:, hip], joints[:, ankle] -
                     joints[:, knee])
    assert np.all(shin[:, 2] < 0.02)  # z (forward) of the shin in thigh frame


def test_camera_frame_bodies_are_upright_in_the_image(models):
  """frame='camera' (the default): the body-frame draws seen by a camera
  with the renderer's elevations and the augmentation's in-plane roll."""
  key = jax.random.PRNGKey(11)
  camera = _sample_bodies(key, models, 512, 10)
  body = jax.jit(sampler.sample_bodies, static_argnums=(2, 3),
                 static_argnames='frame')(key, models, 512, 10, frame='body')
  # Same body pose and shape; only the global orientation differs, by a view
  # rotation R_z(roll) body_to_camera(elevation).
  np.testing.assert_allclose(camera['pose'][:, 1:], body['pose'][:, 1:])
  np.testing.assert_array_equal(camera['betas'], body['betas'])
  view = np.einsum('bij,bkj->bik', camera['pose'][:, 0], body['pose'][:, 0])
  # Undo the roll: the optical axis (third row of the view) is that of a
  # camera raised by the elevation, looking down: view[2] = (0, -sin e, -cos e).
  elevation = np.degrees(np.arcsin(-view[:, 2, 1]))
  assert np.all(np.abs(view[:, 2, 0]) < 1e-5)
  lo, hi = sampler.CAMERA_ELEVATION_RANGE_DEG
  assert lo - 1e-3 <= elevation.min() < lo + 3 and hi - 3 < elevation.max() <= hi + 1e-3
  roll = np.degrees(np.arctan2(view[:, 1, 0], view[:, 0, 0]))
  lo, hi = sampler.CAMERA_ROLL_RANGE_DEG
  assert lo - 1e-3 <= roll.min() < lo + 3 and hi - 3 < roll.max() <= hi + 1e-3
  # The whole body turns with the global orientation about the root.
  np.testing.assert_allclose(camera['jl'], np.einsum(
      'bij,bpj->bpi', view, body['jl']), atol=2e-5)
  # Upright in the image (y down): the body frame's up axis points up in
  # the image, within the elevation and roll ranges (at most 42 degrees).
  up = view[:, :, 1]
  assert np.all(-up[:, 1] > np.cos(np.radians(43.0)))
  with pytest.raises(ValueError, match='unknown frame'):
    sampler.sample_parameters(key, 2, frame='world')
