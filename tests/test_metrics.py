"""Tests of the evaluation metrics (paper Sec. 4.3, Table 1)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from smplr_jax.body import jl
from smplr_jax.evaluation import metrics


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
  for column in ['Hd', 'Ts', 'Sr', 'Ew', 'Wt', 'Hp', 'Kn', 'Ft', 'Jt', 'Lm',
                 'Bn']:
    assert column in header
  assert any('Gender' in c for c in header)
  assert not any('Surface' in c for c in header)  # no row has it
  assert '14.4' in lines[2] and '89.5' in lines[2]
  assert '67.8' in lines[3] and '—' in lines[3]
