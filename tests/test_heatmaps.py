"""Hourglass volume targets, loss and soft-argmax readout."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import heatmaps

CUBE = 2.5
GRID = (32, 32, 16)  # (H, W, D) of the CPU config


def _random_jl(key, batch, margin=0.6):
  """[B, 42, 3] points inside the inner `margin` fraction of the cube."""
  jl = jax.random.uniform(key, (batch, 42, 3), minval=-margin * CUBE / 2,
                          maxval=margin * CUBE / 2)
  return jl.at[:, 0].set(0.0)


def test_limb_definitions():
  assert heatmaps.NUM_CHANNELS == 45
  names = jl_lib.POINT_NAMES
  left_arm = [names[i] for i in heatmaps.LIMBS[0][1]]
  assert left_arm == ['left_collar', 'left_shoulder', 'left_elbow',
                      'left_wrist', 'left_hand']
  right_leg = [names[i] for i in heatmaps.LIMBS[3][1]]
  assert right_leg == ['right_hip', 'right_knee', 'right_ankle', 'right_foot']
  # Every bone of a limb is a kinematic-tree bone.
  for _, chain in heatmaps.LIMBS:
    for parent, child in itertools.pairwise(chain):
      assert jl_lib.JL_PARENTS[child] == parent


def test_voxel_mapping_round_trip_and_contract():
  points = jnp.asarray([[0.0, 0.0, 0.0], [-1.25, -1.25, -1.25],
                        [0.3, -0.2, 0.7]])
  voxels = heatmaps.metres_to_voxels(points, CUBE, (64, 64, 16))
  # Contract: voxel = (p / cube + 0.5) * (W, H, D).
  np.testing.assert_allclose(voxels[0], [32, 32, 8])
  np.testing.assert_allclose(voxels[1], [0, 0, 0])
  np.testing.assert_allclose(voxels[2], [(0.3 / CUBE + 0.5) * 64,
                                         (-0.2 / CUBE + 0.5) * 64,
                                         (0.7 / CUBE + 0.5) * 16], rtol=1e-6)
  np.testing.assert_allclose(
      heatmaps.voxels_to_metres(voxels, CUBE, (64, 64, 16)), points,
      atol=1e-6)


def test_point_target_shapes_and_peaks():
  jl = _random_jl(jax.random.PRNGKey(0), 3)
  targets = heatmaps.point_targets(jl, CUBE, GRID)
  assert targets.shape == (3, *GRID, 41)
  voxels = np.asarray(heatmaps.metres_to_voxels(jl[:, 1:], CUBE, GRID))
  flat = np.asarray(targets).reshape(3, -1, 41).argmax(axis=1)
  h, w, d = np.unravel_index(flat, GRID)
  # Argmax voxel = the voxel containing the point (index = floor(coord)).
  np.testing.assert_array_equal(w, np.floor(voxels[..., 0]))
  np.testing.assert_array_equal(h, np.floor(voxels[..., 1]))
  np.testing.assert_array_equal(d, np.floor(voxels[..., 2]))
  # Unnormalised Gaussian: value at a voxel centre vs. its distance.
  b, c = 1, 7
  v = voxels[b, c]
  idx = (int(v[1]) + 1, int(v[0]) - 2, int(v[2]))  # (h, w, d)
  centre = np.array([idx[1], idx[0], idx[2]]) + 0.5
  expected = (2 * math.pi) ** -1.5 * np.exp(-0.5 * np.sum((centre - v)**2))
  np.testing.assert_allclose(targets[b][idx][c], expected, rtol=1e-5)
  assert float(targets.max()) <= heatmaps.POINT_PEAK


def test_soft_argmax_recovers_points_from_their_targets():
  # 2 x 41 random points, sub-voxel positions, inside the inner 60% of the
  # cube (>= 3 depth bins from the border): logits = log(target).
  jl = _random_jl(jax.random.PRNGKey(1), 2)
  gy, gx, gz = heatmaps.axis_gaussians(jl, CUBE, GRID)
  logits = (jnp.log(gy)[:, :, None, None] + jnp.log(gx)[:, None, :, None] +
            jnp.log(gz)[:, None, None, :])
  predicted = jax.jit(heatmaps.predict_jl, static_argnums=1)(logits, CUBE)
  assert predicted.shape == (2, 42, 3)
  np.testing.assert_array_equal(predicted[:, 0], 0.0)
  error_mm = 1000 * np.abs(np.asarray(predicted - jl))
  assert error_mm.max() < 1.0, error_mm.max()
  # The same with the materialised target, at the paper grid.
  grid = (64, 64, 16)
  predicted = jax.jit(lambda j: heatmaps.predict_jl(
      jnp.log(heatmaps.point_targets(j, CUBE, grid)), CUBE))(jl[:1])
  assert 1000 * np.abs(np.asarray(predicted - jl[:1])).max() < 1.0


def test_soft_argmax_gradients():
  logits = jax.random.normal(jax.random.PRNGKey(2), (1, 3, 4, 2, 41))
  with jax.enable_x64(True):
    logits = jnp.asarray(np.asarray(logits), jnp.float64)
    check_grads(lambda x: heatmaps.predict_jl(x, CUBE), (logits,), order=1,
                modes=('rev',), atol=1e-6, rtol=1e-6)


def test_segment_distances_against_brute_force():
  rng = np.random.default_rng(0)
  grid = (5, 6, 4)
  starts = rng.uniform(0, 6, (2, 3, 3))
  ends = rng.uniform(0, 6, (2, 3, 3))
  ends[1, 2] = starts[1, 2]  # a zero-length bone
  d2 = np.asarray(heatmaps.segment_distances_squared(
      jnp.asarray(starts, jnp.float32), jnp.asarray(ends, jnp.float32), grid))
  assert d2.shape == (2, 3, *grid)
  for b in range(2):
    for k in range(3):
      a, e = starts[b, k], ends[b, k]
      for (h, w, d) in [(0, 0, 0), (4, 5, 3), (2, 3, 1), (1, 4, 2)]:
        c = np.array([w, h, d]) + 0.5
        seg = e - a
        t = 0.0 if seg @ seg == 0 else np.clip((c - a) @ seg / (seg @ seg),
                                                0, 1)
        expected = np.sum((c - a - t * seg)**2)
        np.testing.assert_allclose(d2[b, k, h, w, d], expected, rtol=1e-4,
                                   atol=1e-4)


def _leg_on_voxel_centres():
  """A JL whose right leg bones run through voxel centres along x.

  Voxel centres (w + 0.5, 16.5, 8.5): hip w=10, knee w=16, ankle w=20,
  foot w=22 (the shortest bone, ankle->foot, has the highest peak).
  """
  grid = GRID
  jl = np.zeros((1, 42, 3), np.float32)
  names = jl_lib.POINT_NAMES
  for name, w in (('right_hip', 10), ('right_knee', 16), ('right_ankle', 20),
                  ('right_foot', 22)):
    voxel = np.array([w + 0.5, 16.5, 8.5], np.float32)
    jl[0, names.index(name)] = heatmaps.voxels_to_metres(voxel, CUBE, grid)
  return jnp.asarray(jl)


def test_limb_targets():
  jl = _leg_on_voxel_centres()
  limbs = np.asarray(jax.jit(heatmaps.limb_targets, static_argnums=(1, 2))(
      jl, CUBE, GRID))
  assert limbs.shape == (1, *GRID, 4)
  leg = limbs[0, ..., 3]
  # On the shortest bone (ankle -> foot, voxels w = 20..22): the volume's max.
  for w in (20, 21, 22):
    np.testing.assert_allclose(leg[16, w, 8], leg.max(), rtol=1e-5)
  # Every voxel on the leg's bones is a maximum across the bone (off-bone
  # neighbours are lower), and 1/(1+d^2) is softmaxed over the volume.
  for w in range(10, 23):
    for dh, dd in ((1, 0), (-1, 0), (0, 1), (0, -1)):
      assert leg[16, w, 8] > leg[16 + dh, w, 8 + dd]
  # The ankle->foot bone has 3 voxels at d = 0; its peak is e / Z.
  d2 = np.asarray(heatmaps.segment_distances_squared(
      heatmaps.metres_to_voxels(jl[:, [8]], CUBE, GRID),
      heatmaps.metres_to_voxels(jl[:, [11]], CUBE, GRID), GRID))
  z = np.sum(np.exp(1.0 / (1.0 + d2.astype(np.float64))))
  np.testing.assert_allclose(leg.max(), math.e / z, rtol=1e-5)
  # Each bone's softmax sums to one, so a limb's volume sums to >= 1.
  assert leg.sum() > 1.0


def test_channel_validity():
  valid = np.ones((2, 42), np.float32)
  valid[0, 20] = 0  # left wrist: point channel 19 and the left arm
  valid[1, 0] = 0  # the root has no channel
  channels = np.asarray(heatmaps.channel_validity(jnp.asarray(valid)))
  assert channels.shape == (2, 45)
  assert channels[0, 19] == 0 and channels[0, 41] == 0
  assert channels[0].sum() == 43
  assert channels[1].sum() == 45


def _random_outputs(key, batch, num_stacks=2, grid=(16, 16, 8)):
  return [jax.random.normal(k, (batch, *grid, 45))
          for k in jax.random.split(key, num_stacks)]


def test_loss_matches_explicit_cross_entropy():
  key1, key2 = jax.random.split(jax.random.PRNGKey(3))
  jl = _random_jl(key1, 2, margin=0.9)
  valid = jnp.ones((2, 42)).at[1, 5].set(0.0)
  outputs = _random_outputs(key2, 2)
  loss, metrics = jax.jit(lambda o: heatmaps.image_net_loss(
      o, jl, valid, cube_size=CUBE))(outputs)
  targets = heatmaps.volume_targets(jl, CUBE, (16, 16, 8))
  channel_valid = heatmaps.channel_validity(valid)
  mean_ce = jax.jit(lambda x: jnp.mean(
      optax.sigmoid_binary_cross_entropy(x, targets), axis=(1, 2, 3)))
  expected = 0.0
  for i, logits in enumerate(outputs):
    ce = mean_ce(logits)
    stack = jnp.sum(ce * channel_valid) / jnp.sum(channel_valid)
    np.testing.assert_allclose(metrics[f'loss_stack{i}'], stack, rtol=1e-5)
    expected += stack
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  # A stacked array gives the same loss.
  stacked, _ = jax.jit(lambda o: heatmaps.image_net_loss(
      o, jl, valid, cube_size=CUBE))(jnp.stack(outputs))
  np.testing.assert_allclose(stacked, loss, rtol=1e-6)


def test_invalid_points_are_masked():
  key1, key2, key3 = jax.random.split(jax.random.PRNGKey(4), 3)
  jl = _random_jl(key1, 2)
  valid = jnp.ones((2, 42)).at[0, 20].set(0.0).at[1, 30].set(0.0)
  outputs = _random_outputs(key2, 2)
  moved = jl.at[0, 20].set(jax.random.uniform(key3, (3,), minval=-1, maxval=1))
  moved = moved.at[1, 30].set(jnp.asarray([0.9, -0.9, 0.1]))
  loss_fn = jax.jit(lambda j, v: heatmaps.image_net_loss(
      outputs, j, v, cube_size=CUBE, l1_weight=0.5))
  loss_a, metrics_a = loss_fn(jl, valid)
  loss_b, metrics_b = loss_fn(moved, valid)
  np.testing.assert_allclose(loss_a, loss_b, rtol=1e-6)
  np.testing.assert_allclose(metrics_a['jl_error'], metrics_b['jl_error'],
                             rtol=1e-6)
  # ... whereas the same change to a valid point changes the loss.
  loss_c, _ = loss_fn(moved, jnp.ones((2, 42)))
  assert abs(float(loss_c) - float(loss_a)) > 1e-6


def test_l1_term_and_gradients():
  key1, key2 = jax.random.split(jax.random.PRNGKey(5))
  jl = _random_jl(key1, 2)
  valid = jnp.ones((2, 42))
  outputs = _random_outputs(key2, 2)
  loss_fn = jax.jit(lambda o, w: heatmaps.image_net_loss(
      o, jl, valid, cube_size=CUBE, l1_weight=w), static_argnums=1)
  loss0, metrics0 = loss_fn(outputs, 0.0)
  loss1, metrics1 = loss_fn(outputs, 2.0)
  np.testing.assert_allclose(loss1, loss0 + 2.0 * metrics0['loss_l1'],
                             rtol=1e-6)
  np.testing.assert_allclose(metrics1['loss_l1'], metrics0['loss_l1'])

  def last_grad(weight):
    return jax.jit(jax.grad(lambda o: heatmaps.image_net_loss(
        o, jl, valid, cube_size=CUBE, l1_weight=weight)[0]))(outputs)[-1]

  assert not np.allclose(last_grad(0.0), last_grad(2.0))


def test_points_outside_the_cube_are_masked_and_counted():
  batch = 3
  jl = _random_jl(jax.random.PRNGKey(6), batch, margin=1.2)  # some outside
  outputs = _random_outputs(jax.random.PRNGKey(7), batch, num_stacks=1,
                            grid=(16, 16, 8))
  inside = np.all(np.abs(np.asarray(jl)) < CUBE / 2, axis=-1)
  assert not inside.all()
  for point_loss in heatmaps.POINT_LOSSES:
    loss_fn = jax.jit(lambda o, j, v, p=point_loss: heatmaps.image_net_loss(
        o, j, v, cube_size=CUBE, l1_weight=1.0, point_loss=p))
    loss, metrics = loss_fn(outputs, jl, jnp.ones((batch, 42)))
    assert np.isfinite(loss)
    assert all(np.isfinite(v) for v in metrics.values())
    assert int(metrics['outside_cube']) == int((~inside).sum())
    # The same as marking those points invalid.
    masked, masked_metrics = loss_fn(outputs, jl, jnp.asarray(inside,
                                                              jnp.float32))
    np.testing.assert_allclose(loss, masked, rtol=1e-6)
    np.testing.assert_allclose(metrics['jl_error'], masked_metrics['jl_error'],
                               rtol=1e-6)
    assert int(masked_metrics['outside_cube']) == 0


def test_shape_errors():
  with pytest.raises(ValueError, match='jl_cube'):
    heatmaps.point_targets(jnp.zeros((2, 41, 3)), CUBE, GRID)
  with pytest.raises(ValueError, match='45 channels'):
    heatmaps.image_net_loss([jnp.zeros((1, 4, 4, 2, 41))],
                            jnp.zeros((1, 42, 3)), jnp.ones((1, 42)),
                            cube_size=CUBE)
