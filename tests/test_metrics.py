"""Tests of the evaluation metrics (paper Sec. 4.3, Table 1), their named
joint sets, and the photo and video evaluations that report through them."""

import jax
import jax.numpy as jnp
import chex
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from experiments import evaluate_video
from smplr_jax.body import jl
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.evaluation import metrics
from smplr_jax.evaluation import renders


def _random_jl(seed, batch=4):
  points = np.random.default_rng(seed).normal(0.0, 0.3, (batch, 42, 3))
  points -= points[:, :1]
  return jnp.asarray(points, jnp.float32)


def test_groups_and_eval_joints():
  assert list(metrics.JOINT_GROUPS) == ['Hd', 'Ts', 'Sr', 'Ew', 'Wt', 'Hp',
                                        'Kn', 'Ft']
  assert metrics.JOINT_GROUPS['Sr'] == (13, 14, 16, 17)
  assert metrics.EVAL_JOINTS == (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 18,
                                 19, 20, 21)


@pytest.mark.parametrize('num_points', [4, 24])
def test_procrustes_undoes_a_similarity_transform(num_points):
  rng = np.random.default_rng(0)
  target = rng.normal(size=(3, num_points, 3)).astype(np.float32)
  rotations = Rotation.random(3, random_state=1).as_matrix()
  pred = (1.7 * np.einsum('bij,bnj->bni', rotations, target) +
          rng.normal(size=(3, 1, 3)))
  aligned = jax.jit(metrics.procrustes_align)(jnp.asarray(pred, jnp.float32),
                                              jnp.asarray(target))
  np.testing.assert_allclose(aligned, target, atol=2e-5)


def test_procrustes_excludes_reflections():
  target = np.random.default_rng(2).normal(size=(1, 24, 3)).astype(np.float32)
  mirrored = target * np.asarray([-1.0, 1.0, 1.0], np.float32)
  aligned = metrics.procrustes_align(jnp.asarray(mirrored), jnp.asarray(target))
  assert np.abs(np.asarray(aligned) - target).max() > 0.1
  # The aligned copy is still a similarity transform of the input: distances
  # between points are scaled uniformly.
  d_in = np.linalg.norm(mirrored[0, :, None] - mirrored[0, None], axis=-1)
  d_out = np.linalg.norm(aligned[0, :, None] - aligned[0, None], axis=-1)
  ratio = d_out[d_in > 0] / d_in[d_in > 0]
  np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)


def test_identical_inputs_give_zero_errors():
  points = _random_jl(0)
  vertices = jnp.ones((4, 30, 3))
  out = metrics.jl_metrics(points, points, vertices, vertices,
                           pred_male_prob=jnp.asarray([0.9, 0.1, 0.6, 0.4]),
                           gt_male=jnp.asarray([True, False, True, False]))
  expected = {'mpjpe', 'pa_mpjpe', 'landmarks', 'bones', 'surface',
              'gender_acc', *metrics.JOINT_GROUPS}
  assert set(out) == expected
  for name, value in out.items():
    assert value.shape == (4,), name
    if name == 'gender_acc':
      np.testing.assert_array_equal(value, 1.0)
    else:
      np.testing.assert_allclose(value, 0.0, atol=2e-6, err_msg=name)


def test_known_offsets():
  gt = _random_jl(1, batch=2)
  # Every point 1 cm off along x: translations change no bone length.
  out = metrics.jl_metrics(gt + jnp.asarray([0.01, 0.0, 0.0]), gt)
  for name in ['mpjpe', 'landmarks', *metrics.JOINT_GROUPS]:
    np.testing.assert_allclose(out[name], 0.01, rtol=1e-4, err_msg=name)
  np.testing.assert_allclose(out['bones'], 0.0, atol=1e-6)
  np.testing.assert_allclose(out['pa_mpjpe'], 0.0, atol=1e-5)
  # Only the left elbow (18) 3 cm off along y.
  pred = gt.at[:, 18].add(jnp.asarray([0.0, 0.03, 0.0]))
  out = metrics.jl_metrics(pred, gt)
  np.testing.assert_allclose(out['Ew'], 0.015, rtol=1e-4)
  np.testing.assert_allclose(out['mpjpe'], 0.03 / 16, rtol=1e-4)
  for name in ['Hd', 'Ts', 'Sr', 'Wt', 'Hp', 'Kn', 'Ft', 'landmarks']:
    np.testing.assert_allclose(out[name], 0.0, atol=1e-7, err_msg=name)
  # The elbow moved: its bone and the wrist's change length.
  bone_errors = np.abs(np.asarray(jl.bone_lengths(pred) - jl.bone_lengths(gt)))
  np.testing.assert_allclose(out['bones'], bone_errors.mean(axis=1),
                             rtol=1e-5)
  assert np.count_nonzero(bone_errors[0] > 1e-6) == 2


def test_surface_and_gender():
  gt_vertices = jnp.zeros((2, 10, 3))
  pred_vertices = gt_vertices.at[0].add(jnp.asarray([0.0, 0.0, 0.02]))
  points = _random_jl(3, batch=2)
  out = metrics.jl_metrics(points, points, pred_vertices, gt_vertices,
                           pred_male_prob=jnp.asarray([0.7, 0.7]),
                           gt_male=jnp.asarray([True, False]))
  np.testing.assert_allclose(out['surface'], [0.02, 0.0], atol=1e-7)
  np.testing.assert_array_equal(out['gender_acc'], [1.0, 0.0])


def test_accumulate_over_batches_equals_one_pass():
  pred, gt = _random_jl(4, batch=6), _random_jl(5, batch=6)
  male_prob = jnp.linspace(0.0, 1.0, 6)
  gt_male = jnp.asarray([True, True, False, False, True, False])
  whole = metrics.finalize(metrics.accumulate(None, metrics.jl_metrics(
      pred, gt, pred_male_prob=male_prob, gt_male=gt_male)))
  step = jax.jit(lambda totals, p, g, m, t: metrics.accumulate(
      totals, metrics.jl_metrics(p, g, pred_male_prob=m, gt_male=t)))
  totals = None
  for part in (slice(0, 2), slice(2, 6)):  # unequal batches
    totals = step(totals, pred[part], gt[part], male_prob[part],
                  gt_male[part])
  parts = metrics.finalize(totals)
  assert set(parts) == set(whole)
  for name in whole:
    np.testing.assert_allclose(parts[name], whole[name], rtol=1e-5)
  # Millimetres and percent.
  per_sample = metrics.jl_metrics(pred, gt, pred_male_prob=male_prob,
                                  gt_male=gt_male)
  np.testing.assert_allclose(whole['mpjpe'],
                             1000 * float(per_sample['mpjpe'].mean()),
                             rtol=1e-5)
  np.testing.assert_allclose(whole['gender_acc'],
                             100 * float(per_sample['gender_acc'].mean()),
                             rtol=1e-6)


def test_format_table():
  rows = {
      'Psi': {'Hd': 10.0, 'Ts': 11.0, 'Sr': 12.0, 'Ew': 13.0, 'Wt': 14.0,
              'Hp': 15.0, 'Kn': 16.0, 'Ft': 17.0, 'mpjpe': 14.44,
              'landmarks': 11.5, 'bones': 6.6, 'gender_acc': 89.5},
      'Omega': {'mpjpe': 67.8},
  }
  table = metrics.format_table(rows)
  lines = table.splitlines()
  assert len(lines) == 4  # header, rule, two rows
  header = [c.strip() for c in lines[0].strip('|').split('|')]
  for column in ['Hd', 'Ts', 'Sr', 'Ew', 'Wt', 'Hp', 'Kn', 'Ft',
                 'Jt (P1-16)', 'Lm', 'Bn']:
    assert column in header
  assert any('Gender' in c for c in header)
  assert not any('Surface' in c for c in header)  # no row has it
  assert '14.4' in lines[2] and '89.5' in lines[2]
  assert '67.8' in lines[3] and '—' in lines[3]


# ----------------------------------------------------------------------------
# Named joint sets, P1 / P2 and the evaluations that report them.


def _random_joints(seed, batch=4, num=24, dtype=np.float32):
  """[batch, num, 3] root-relative joints (the root at exactly zero)."""
  points = np.random.default_rng(seed).normal(0.0, 0.3, (batch, num, 3))
  return (points - points[:, :1]).astype(dtype)


def _rigidly_moved(points, seed, scale=1.0):
  """points [B, N, 3] under a random rotation, shift (and scale) each."""
  rng = np.random.default_rng(seed)
  rotations = Rotation.random(len(points), random_state=seed).as_matrix()
  shift = rng.normal(0.0, 0.5, (len(points), 1, 3))
  return (scale * np.einsum('bij,bnj->bni', rotations, points) +
          shift).astype(points.dtype)


def test_joint_sets_have_their_size_and_content():
  names = jl.JOINT_NAMES
  assert metrics.JOINTS_24 == tuple(range(24))
  assert metrics.JOINTS_23 == tuple(range(1, 24))
  assert names[metrics.ROOT[0]] == 'pelvis'
  assert 0 not in metrics.JOINTS_23
  assert len(metrics.JOINTS_16_PAPER) == 16
  assert metrics.JOINTS_16_PAPER == (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17,
                                     18, 19, 20, 21)
  assert metrics.EVAL_JOINTS == metrics.JOINTS_16_PAPER  # the former name
  # The paper's set leaves out the pelvis, spine2, the feet, the collars
  # and the hands.
  left_out = {names[j] for j in set(range(24)) - set(metrics.JOINTS_16_PAPER)}
  assert left_out == {'pelvis', 'spine2', 'left_foot', 'right_foot',
                      'left_collar', 'right_collar', 'left_hand',
                      'right_hand'}
  assert len(metrics.JOINTS_12_LIMBS) == 12
  assert tuple(names[j] for j in metrics.JOINTS_12_LIMBS) == (
      kp_lib.LIMB_JOINT_NAMES)
  assert [kp_lib.LIMB_JOINT_NAMES[i] for i in metrics.LIMB_HIPS] == [
      'left_hip', 'right_hip']
  np.testing.assert_array_equal(renders.LIMB_JOINTS, metrics.JOINTS_12_LIMBS)
  for joint_set in (metrics.JOINTS_23, metrics.JOINTS_16_PAPER,
                    metrics.JOINTS_12_LIMBS):
    assert len(set(joint_set)) == len(joint_set)
    assert set(joint_set) <= set(metrics.JOINTS_24)


def test_metric_names():
  assert metrics.metric_name('P1', metrics.JOINTS_23) == 'P1-23'
  assert metrics.metric_name('P2', metrics.JOINTS_24) == 'P2-24'
  assert metrics.metric_name('P1', metrics.JOINTS_16_PAPER) == 'P1-16'
  assert metrics.metric_name('P2', np.arange(12)) == 'P2-12'
  assert metrics.JL_METRIC_NAMES == {'mpjpe': 'P1-16', 'pa_mpjpe': 'P2-16'}
  assert renders.COLUMN_NAMES == {'p1': 'P1-23', 'p2': 'P2-24',
                                  'limb_p1': 'limb P1-12',
                                  'limb_p2': 'limb P2-12'}
  with pytest.raises(ValueError, match='protocol'):
    metrics.metric_name('MPJPE', metrics.JOINTS_23)


@pytest.mark.parametrize('batch', [1, 5])
@pytest.mark.parametrize('joints', [metrics.JOINTS_24, metrics.JOINTS_23,
                                    metrics.JOINTS_16_PAPER,
                                    metrics.JOINTS_12_LIMBS])
def test_a_rigidly_moved_copy(batch, joints):
  """A rotated and shifted copy: P2 = 0 (also scaled), and P1 = the error
  that is left once each skeleton's root is subtracted (the shift drops
  out, the rotation about the root does not)."""
  truth = _random_joints(0, batch)
  pred = _rigidly_moved(truth, seed=1)
  p1 = metrics.mpjpe(pred, truth, joints=joints)
  chex.assert_shape(p1, (batch,))
  root_relative = pred - pred[:, :1]
  expected = np.linalg.norm(root_relative - truth, axis=-1)[:, joints]
  np.testing.assert_allclose(p1, expected.mean(1), rtol=1e-5)
  # The shift alone: P1 is zero once the roots are aligned, not before.
  shifted = truth + np.float32([0.1, -0.2, 0.3])
  np.testing.assert_allclose(metrics.mpjpe(shifted, truth, joints=joints),
                             0.0, atol=1e-6)
  np.testing.assert_allclose(
      metrics.mpjpe(shifted, truth, joints=joints, center_on=None),
      np.sqrt(0.14), rtol=1e-5)
  for scale in (1.0, 1.7):
    moved = _rigidly_moved(truth, seed=2, scale=scale)
    p2 = metrics.pa_mpjpe(moved, truth, joints=joints)
    chex.assert_shape(p2, (batch,))
    np.testing.assert_allclose(p2, 0.0, atol=2e-5)


def test_p1_and_p2_by_hand():
  """Three points on a line, the middle one lifted by d: worked out on
  paper."""
  d = 0.3
  truth = np.float32([[[-1, 0, 0], [0, 0, 0], [1, 0, 0]]])
  pred = np.float32([[[-1, 0, 0], [0, d, 0], [1, 0, 0]]])
  # P1 (root = point 0, no offset): errors 0, d, 0.
  np.testing.assert_allclose(
      metrics.mpjpe(pred, truth, joints=(0, 1, 2)), [d / 3], rtol=1e-6)
  np.testing.assert_allclose(
      metrics.mpjpe(pred, truth, joints=(1, 2)), [d / 2], rtol=1e-6)
  # Centring on the outer points (as limb P1 centres on the hips) changes
  # nothing here; centring on the lifted one moves every other point by d.
  np.testing.assert_allclose(
      metrics.mpjpe(pred, truth, joints=(0, 1, 2), center_on=(0, 2)),
      [d / 3], rtol=1e-6)
  np.testing.assert_allclose(
      metrics.mpjpe(pred, truth, joints=(0, 1, 2), center_on=(1,)),
      [2 * d / 3], rtol=1e-6)
  # P2: the centred pred is (-1, -d/3), (0, 2d/3), (1, -d/3) (z = 0); the
  # best rotation is the identity and the scale 2 / |x|^2 = 1 / (1 + d^2/3).
  s = 1 / (1 + d * d / 3)
  outer = np.hypot(1 - s, s * d / 3)
  middle = 2 * s * d / 3
  np.testing.assert_allclose(
      metrics.pa_mpjpe(pred, truth, joints=(0, 1, 2)),
      [(2 * outer + middle) / 3], rtol=1e-5)
  # Fit on all three, mean over the middle one only.
  np.testing.assert_allclose(
      metrics.pa_mpjpe(pred, truth, joints=(1,), fit_on=(0, 1, 2)),
      [middle], rtol=1e-5)
  with pytest.raises(ValueError, match='fit_on'):
    metrics.pa_mpjpe(pred, truth, joints=(0, 1), fit_on=(1, 2))


def test_host_arrays_keep_their_precision_and_agree_with_device_arrays():
  truth = _random_joints(3, dtype=np.float64)
  pred = _random_joints(4, dtype=np.float64)
  host = metrics.mpjpe(pred, truth, joints=metrics.JOINTS_23)
  assert isinstance(host, np.ndarray) and host.dtype == np.float64
  device = metrics.mpjpe(jnp.asarray(pred), jnp.asarray(truth),
                         joints=metrics.JOINTS_23)
  np.testing.assert_allclose(host, device, rtol=1e-5)
  host = metrics.pa_mpjpe(pred, truth, joints=metrics.JOINTS_24)
  device = jax.jit(lambda p, t: metrics.pa_mpjpe(
      p, t, joints=metrics.JOINTS_24))(jnp.asarray(pred), jnp.asarray(truth))
  np.testing.assert_allclose(host, device, rtol=1e-5)


def test_jl_metrics_p1_p2_are_the_named_metrics():
  """'mpjpe' = P1-16 of the JL as given; 'pa_mpjpe' = P2-16 with the
  Procrustes fit on the 24 joints (the formulas before the named sets)."""
  pred, gt = _random_jl(6), _random_jl(7)
  out = metrics.jl_metrics(pred, gt)
  np.testing.assert_allclose(
      out['mpjpe'], metrics.mpjpe(pred, gt, joints=metrics.JOINTS_16_PAPER,
                                  center_on=None), rtol=1e-6)
  np.testing.assert_allclose(
      out['pa_mpjpe'], metrics.pa_mpjpe(pred, gt,
                                        joints=metrics.JOINTS_16_PAPER,
                                        fit_on=metrics.JOINTS_24), rtol=1e-6)
  eval_joints = list(metrics.EVAL_JOINTS)
  errors = np.linalg.norm(np.asarray(pred - gt), axis=-1)
  np.testing.assert_allclose(out['mpjpe'], errors[:, eval_joints].mean(1),
                             rtol=1e-5)
  aligned = metrics.procrustes_align(pred[:, :24], gt[:, :24])
  old = np.linalg.norm(np.asarray(aligned - gt[:, :24]), axis=-1)
  np.testing.assert_allclose(out['pa_mpjpe'], old[:, eval_joints].mean(1),
                             rtol=1e-5)


def _old_limb_errors(pred, truth):
  """renders.limb_errors before the named sets (its own alignment)."""
  pred = pred - pred[:, (6, 7), :].mean(1, keepdims=True)
  truth = truth - truth[:, (6, 7), :].mean(1, keepdims=True)
  aligned = np.asarray(metrics.procrustes_align(jnp.asarray(pred),
                                                jnp.asarray(truth)))
  return {'limb_p1': np.linalg.norm(pred - truth, axis=-1).mean(-1),
          'limb_p2': np.linalg.norm(aligned - truth, axis=-1).mean(-1)}


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_renders_limb_errors_are_the_metrics(dtype):
  pred = _random_joints(8, batch=6, num=12, dtype=dtype)
  truth = _random_joints(9, batch=6, num=12, dtype=dtype) + 0.2  # not at 0
  out = renders.limb_errors(pred, truth)
  limbs = tuple(range(12))
  np.testing.assert_array_equal(out['limb_p1'], metrics.mpjpe(
      pred, truth, joints=limbs, center_on=metrics.LIMB_HIPS))
  np.testing.assert_array_equal(out['limb_p2'], metrics.pa_mpjpe(
      pred, truth, joints=limbs))
  old = _old_limb_errors(pred, truth)
  np.testing.assert_array_equal(out['limb_p1'], old['limb_p1'])
  np.testing.assert_allclose(out['limb_p2'], old['limb_p2'], rtol=1e-5)


def test_renders_body_errors_are_the_metrics():
  """P1-23, P2-24, surface and the limb columns of `body_errors` are the
  metrics' functions, and equal the formulas it had before them."""
  batch, rng = 5, np.random.default_rng(10)
  joints, true_joints = _random_joints(11, batch), _random_joints(12, batch)
  vertices = rng.normal(0.0, 0.3, (batch, 50, 3)).astype(np.float32)
  true_vertices = rng.normal(0.0, 0.3, (batch, 50, 3)).astype(np.float32)
  outs = [{'joints': j, 'vertices': v, 'root_cam': np.float32([0, 0, 3]),
           'focal': 500.0} for j, v in zip(joints, vertices)]
  records = [{'image': np.zeros((64, 64, 3), np.uint8)}] * batch
  truth = {'joints': true_joints, 'vertices': true_vertices,
           'joint_pixels': rng.uniform(0, 64, (batch, 24, 2)),
           'height_px': np.full(batch, 50.0)}
  out = renders.body_errors(outs, truth, records)
  assert set(out) == {'p1', 'p2', 'surface', 'limb_p1', 'limb_p2',
                      'overlay'}
  np.testing.assert_array_equal(out['p1'], metrics.mpjpe(
      joints, true_joints, joints=metrics.JOINTS_23))
  np.testing.assert_array_equal(out['p2'], metrics.pa_mpjpe(
      joints, true_joints, joints=metrics.JOINTS_24))
  limbs = renders.limb_errors(joints[:, renders.LIMB_JOINTS],
                              true_joints[:, renders.LIMB_JOINTS])
  for key in ('limb_p1', 'limb_p2'):
    np.testing.assert_array_equal(out[key], limbs[key])
  # The formulas before the named sets, bit for bit on root-relative input.
  aligned = np.asarray(metrics.procrustes_align(jnp.asarray(joints),
                                                jnp.asarray(true_joints)))
  np.testing.assert_array_equal(out['p1'], np.linalg.norm(
      joints - true_joints, axis=-1)[:, 1:].mean(-1))
  np.testing.assert_array_equal(out['p2'], np.linalg.norm(
      aligned - true_joints, axis=-1).mean(-1))
  np.testing.assert_array_equal(out['surface'], np.linalg.norm(
      vertices - true_vertices, axis=-1).mean(-1))


def test_evaluate_video_errors_are_the_metrics():
  """The video evaluation's P1-23 / P2-24 / acceleration error are the
  metrics' functions, and equal the formulas it had before them."""
  frames = 7
  truth = _random_joints(13, frames)
  pred = _random_joints(14, frames, dtype=np.float64)  # as the script has
  out = evaluate_video.errors(pred, truth)
  assert evaluate_video.P1_JOINTS == metrics.JOINTS_23
  assert evaluate_video.P2_JOINTS == metrics.JOINTS_24
  mm = lambda per_frame: 1000 * float(np.mean(per_frame))
  assert out['p1'] == mm(metrics.mpjpe(pred, truth, joints=metrics.JOINTS_23))
  assert out['p2'] == mm(metrics.pa_mpjpe(pred, truth,
                                          joints=metrics.JOINTS_24))
  assert out['accel_error'] == mm(metrics.acceleration_error(
      pred, truth, joints=metrics.JOINTS_24))
  aligned = np.asarray(metrics.procrustes_align(jnp.asarray(pred),
                                                jnp.asarray(truth)))
  accel = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]
  old = {'p1': 1000 * np.linalg.norm(pred - truth, axis=-1)[:, 1:].mean(),
         'p2': 1000 * np.linalg.norm(aligned - truth, axis=-1).mean(),
         'accel_error': 1000 * np.linalg.norm(accel(pred) - accel(truth),
                                              axis=-1).mean()}
  for key, value in old.items():
    np.testing.assert_allclose(out[key], value, rtol=1e-6, err_msg=key)
