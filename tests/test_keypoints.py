"""Keypoint sets on the default body, their noise and normalisation, and the
adapters (`smplr_jax.body.keypoints`, `smplr_jax.nets.adapter`)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered as gendered_lib
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp
from smplr_jax.body import smpl
from smplr_jax.data import sampler
from smplr_jax.evaluation import metrics
from smplr_jax.nets import adapter as adapter_lib
from smplr_jax.predict import keypoint_predictor

# Jitted once per set and settings (eager dispatch is slower on a CPU).
_noise = jax.jit(kp.detector_noise, static_argnums=2,
                 static_argnames=('sigma', 'min_scale', 'max_scale',
                                  'depth_factor', 'max_drop',
                                  'lower_body_missing', 'swap',
                                  'size_jitter'))
_smpl_keypoints = jax.jit(kp.smpl_keypoints, static_argnums=1)


@pytest.fixture(scope='module')
def neutral():
  return bm.load_body_model(None, 'neutral')


@pytest.fixture(scope='module')
def gendered():
  return gendered_lib.load_gendered_models()


def test_surface_rules_give_the_stored_ids(neutral):
  found = kp.find_surface_vertices(np.asarray(neutral.v_template),
                                   np.asarray(neutral.joint_template))
  assert found == kp.DEFAULT_VERTEX_IDS
  v = np.asarray(neutral.v_template)
  for name, i in found.items():
    if name.startswith('left_'):
      mirror = v[found['right_' + name[5:]]] * [-1, 1, 1]
      np.testing.assert_allclose(v[i], mirror, atol=1e-3, err_msg=name)


def test_face_points_sit_where_a_face_has_them(neutral):
  v, j = np.asarray(neutral.v_template), np.asarray(neutral.joint_template)
  ids, head = kp.DEFAULT_VERTEX_IDS, j[15]
  nose, eye = v[ids['nose']], v[ids['left_eye']]
  # Rest frame: x left, y up, z forward. Nose in front of the head on the
  # midline, eyes above it and ~3 cm aside, ears beside the head.
  assert abs(nose[0]) < 1e-3 and nose[2] - head[2] > 0.1
  assert 0.025 < eye[0] < 0.04 and eye[1] > nose[1] + 0.03
  assert v[ids['left_ear']][0] > 0.07 > v[ids['left_eye_outer']][0]
  assert v[ids['head_top']][1] == pytest.approx(v[:, 1].max())
  # Heel behind and below the ankle, foot index in front of the foot joint.
  assert v[ids['left_heel']][2] < j[7][2] - 0.04
  assert v[ids['left_foot_index']][2] > j[10][2] + 0.04


@pytest.mark.parametrize('name', list(kp.KEYPOINT_SETS))
def test_set_definitions(name):
  keypoint_set = kp.KEYPOINT_SETS[name]
  weights = keypoint_set.weights()
  assert weights.shape == (keypoint_set.num_keypoints,
                           24 + len(keypoint_set.vertex_names))
  np.testing.assert_allclose(weights.sum(axis=1), 1.0)
  perm = np.asarray(keypoint_set.left_right_permutation())
  np.testing.assert_array_equal(perm[perm], np.arange(len(perm)))
  assert {keypoint_set.names[i] for i in keypoint_set.centre_ids} == {
      'left_hip', 'right_hip'}
  levels = keypoint_set.distal_levels()
  assert levels[keypoint_set.names.index('left_wrist')] == 3
  assert levels[keypoint_set.names.index('left_hip')] == 1


def test_limb_keypoints_are_the_smpl_joints(gendered):
  keypoint_set = kp.BLAZEPOSE33
  pose, betas, gender = sampler.sample_parameters(jax.random.PRNGKey(0), 4)
  jl, keypoints = _smpl_keypoints(kp.keypoints_model(gendered,
                                                       keypoint_set),
                                    keypoint_set, pose, betas, gender)
  for name in kp.LIMB_JOINT_NAMES:
    np.testing.assert_allclose(
        keypoints[:, keypoint_set.names.index(name)],
        jl[:, jl_lib.JOINT_NAMES.index(name)], atol=1e-6)


@pytest.mark.slow
def test_smpl_keypoints_match_the_full_mesh(gendered):
  keypoint_set = kp.BLAZEPOSE33
  pose, betas, gender = sampler.sample_parameters(jax.random.PRNGKey(0), 4)
  _, keypoints = kp.smpl_keypoints(kp.keypoints_model(gendered,
                                                      keypoint_set),
                                   keypoint_set, pose, betas, gender)
  out = smpl.smpl_forward(gendered, pose, betas, gender=gender)
  full = kp.keypoints_from_mesh(keypoint_set, gendered, out.joints,
                                out.vertices) - out.joints[:, :1]
  np.testing.assert_allclose(keypoints, full, atol=1e-5)


def _points(batch=64, seed=0):
  return jax.random.normal(jax.random.PRNGKey(seed), (batch, 33, 3)) * 0.3


def test_detector_noise_off_is_the_identity():
  points = _points()
  noisy, visible = _noise(
      jax.random.PRNGKey(1), points, kp.BLAZEPOSE33, max_scale=0.0,
      max_drop=0.0, lower_body_missing=0.0, swap=0.0, size_jitter=0.0)
  np.testing.assert_allclose(noisy, points, atol=1e-7)
  np.testing.assert_array_equal(visible, 1.0)


def test_detector_noise_grows_distally_and_keeps_the_hips():
  points = jnp.zeros((4096, 33, 3))
  keypoint_set = kp.BLAZEPOSE33
  noisy, visible = _noise(
      jax.random.PRNGKey(2), points, keypoint_set, sigma=0.01, min_scale=1.0,
      max_scale=1.0, depth_factor=2.0, swap=0.0, size_jitter=0.0,
      max_drop=0.5, lower_body_missing=0.5)
  std = np.asarray(noisy).std(axis=0)
  names = keypoint_set.names
  hip, wrist = names.index('left_hip'), names.index('left_wrist')
  assert std[hip, 0] == pytest.approx(0.01, rel=0.05)
  assert std[wrist, 0] == pytest.approx(0.03, rel=0.05)
  assert std[wrist, 2] == pytest.approx(0.06, rel=0.05)
  np.testing.assert_array_equal(visible[:, [23, 24]], 1.0)
  # ~25% dropped at random plus half the bodies' legs (knee and below).
  knee = names.index('left_knee')
  assert np.mean(visible[:, knee]) == pytest.approx(0.75 * 0.5, abs=0.04)


def test_detector_noise_swaps_whole_limbs():
  points = _points()[:, :17]
  noisy, _ = _noise(
      jax.random.PRNGKey(3), points, kp.COCO17, max_scale=0.0, max_drop=0.0,
      lower_body_missing=0.0, swap=1.0, size_jitter=0.0)
  perm = np.asarray(kp.COCO17.left_right_permutation())
  limbs = kp.COCO17.limb_ids('arm') | kp.COCO17.limb_ids('leg')
  np.testing.assert_allclose(noisy[:, limbs], points[:, perm][:, limbs])
  np.testing.assert_allclose(noisy[:, ~limbs], points[:, ~limbs])


def test_normalise_2d_ignores_scale_shift_and_missing_points():
  points = _points(8)[..., :2]
  visible = jnp.ones((8, 33)).at[:, 5].set(0.0)
  base = kp.normalise_2d(points, visible, kp.BLAZEPOSE33)
  moved = kp.normalise_2d(points * 7.0 + 3.0, visible, kp.BLAZEPOSE33)
  np.testing.assert_allclose(base, moved, atol=1e-5)
  np.testing.assert_array_equal(base[:, 5], 0.0)
  rms = np.sqrt(np.sum(np.asarray(base) ** 2, axis=(1, 2)) / 32)
  np.testing.assert_allclose(rms, 1.0, rtol=1e-5)


def test_adapter_shapes_and_root():
  net = adapter_lib.Adapter(num_keypoints=17, dims=2, width=32, num_blocks=1)
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((3, 17, 2)),
                       jnp.ones((3, 17)))
  out = net.apply(variables, jnp.ones((3, 17, 2)), jnp.ones((3, 17)))
  assert out.shape == (3, 42, 3)
  np.testing.assert_array_equal(out[:, 0], 0.0)


@pytest.fixture(scope='module')
def test_bodies():
  body = gendered_lib.GenderedModels.load()
  test_set = sampler.make_test_set(body.gendered, size=32, seed=5)
  return body, test_set


@pytest.fixture(scope='module')
def predictors():
  """Shipped keypoint predictors, loaded once: name -> predictor."""
  loaded = {}

  def get(name):
    if name not in loaded:
      loaded[name] = keypoint_predictor.load_keypoint_predictor(name, use_dae=False)
    return loaded[name]

  return get


@pytest.mark.parametrize('name', [  # ~19 s each: the photo path's tests
    pytest.param('blazepose33_3d', marks=pytest.mark.slow),  # run the
    pytest.param('coco17_2d', marks=pytest.mark.slow)])  # shipped adapter
def test_shipped_adapter_recovers_bodies(name, test_bodies, predictors):
  body, test_set = test_bodies
  predictor = predictors(name)
  keypoint_set = predictor.keypoint_set
  points_model = kp.keypoints_model(body.gendered, keypoint_set)
  jl, keypoints = kp.smpl_keypoints(points_model, keypoint_set,
                                    test_set['pose'], test_set['betas'],
                                    test_set['gender'])
  keypoints = np.asarray(keypoints)
  if predictor.dims == 3:  # world landmarks: hip-centred metres
    out = predictor(keypoints - keypoints[:, [23, 24]].mean(1, keepdims=True))
  else:  # a camera 4 m in front of the root, 600 px focal
    cam = keypoints + [0.0, 0.0, 4.0]
    pixels = 600 * cam[..., :2] / cam[..., 2:] + [320, 240]
    out = predictor(pixels, focal=600.0, principal=(320, 240))
  body_jl = np.concatenate([out['joints'], out['landmarks']], axis=1)
  errors = metrics.jl_metrics(jnp.asarray(body_jl), jl)
  p1, p2 = (1000 * float(errors[k].mean()) for k in ('mpjpe', 'pa_mpjpe'))
  # Measured (32 bodies): 3D P1 ~57 / P2 ~49 mm, 2D P1 ~88 / P2 ~68 mm.
  limit = {3: 80.0, 2: 120.0}[predictor.dims]
  assert p1 < limit and p2 < limit
  assert out['vertices'].shape == (32, 13718, 3)
  assert np.all((out['male_probability'] >= 0) &
                (out['male_probability'] <= 1))


def test_keypoint_predictor_refuses_bad_keypoints(predictors):
  predictor = predictors('blazepose33_3d')
  good = np.random.default_rng(0).normal(0, 0.3, (33, 3))
  with pytest.raises(ValueError, match=r'must be \[B, 33, 3\]'):
    predictor(good[:, :2])
  with pytest.raises(ValueError, match='left_hip and right_hip'):
    predictor(good, np.r_[np.ones(23), 0, np.ones(9)])
  bad = good.copy()
  bad[3] = np.nan
  with pytest.raises(ValueError, match='NaN'):
    predictor(bad)
  with pytest.raises(ValueError, match='must be metres'):
    predictor(good * 1000)
  # A NaN on a missing point is not used: the adapter sees a zero there.
  keypoints, visible = predictor._check(bad, np.r_[np.ones(3), 0,
                                                   np.ones(29)])
  assert visible[0, 3] == 0 and np.all(np.isfinite(keypoints))


def test_2d_keypoints_need_the_camera(predictors):
  predictor = predictors('coco17_2d')
  with pytest.raises(ValueError, match='need the camera'):
    predictor(np.random.default_rng(0).uniform(100, 300, (17, 2)))


def _fake_pairs(path, gendered, count=6):
  """Pairs as `experiments.adapter.detect_pairs` writes them, with the
  true keypoints standing in for the detector's."""
  from smplr_jax.body import rotations  # pylint: disable=g-import-not-at-top
  pose, betas, gender = sampler.sample_parameters(jax.random.PRNGKey(9),
                                                  count)
  _, keypoints = kp.smpl_keypoints(kp.keypoints_model(gendered,
                                                      kp.BLAZEPOSE33),
                                   kp.BLAZEPOSE33, pose, betas, gender)
  keypoints = np.asarray(keypoints)
  np.savez(path, keypoints_3d=keypoints - keypoints[:, [23, 24]].mean(
      1, keepdims=True), keypoints_2d=np.zeros((count, 33, 2)),
           visibility=np.ones((count, 33)), focal=np.ones((count, 2)),
           principal=np.zeros((count, 2)),
           pose=np.asarray(rotations.matrix_to_axis_angle(pose)),
           betas=np.asarray(betas), gender=np.asarray(gender),
           index=np.arange(count))
  return keypoints


@pytest.mark.slow
def test_adapter_task_mixes_pairs_into_batches(tmp_path, gendered):
  # pylint: disable=g-import-not-at-top
  from experiments.adapter.configs import base
  from smplr_jax.training.tasks import adapter as adapter_task
  _fake_pairs(tmp_path / 'pairs.npz', gendered)
  config = base.base_config('blazepose33', 3)
  config.adapter.width, config.adapter.num_blocks = 32, 1
  config.paired.path = str(tmp_path / 'pairs.npz')
  config.paired.fraction = 0.25
  task = adapter_task.AdapterTask(config)
  batch = jax.jit(task.sample_batch, static_argnums=1)(
      jax.random.PRNGKey(0), 8)
  assert batch['points'].shape == (8, 33, 3)
  assert batch['jl'].shape == (8, 42, 3)
  # The last quarter comes from the pairs: clean points, all visible, and
  # their JL those of the pairs' bodies.
  pairs = task.pairs
  for row in (6, 7):
    match = np.flatnonzero(np.all(np.isclose(
        pairs['points'], batch['points'][row], atol=1e-6), axis=(1, 2)))
    assert len(match) == 1
    np.testing.assert_allclose(batch['jl'][row], pairs['jl'][match[0]],
                               atol=1e-6)
  variables = task.init_variables(jax.random.PRNGKey(1))
  loss, (terms, _) = task.loss(variables['params'], {}, batch, None, True)
  assert np.isfinite(float(loss)) and float(terms['loss_jl']) > 0
  with pytest.raises(ValueError, match='blazepose33 world landmarks'):
    config.adapter.keypoint_set = 'coco17'
    config.adapter.dims = 2
    adapter_task.AdapterTask(config)


@pytest.mark.slow
def test_adapter_training_learns(tmp_path):
  # pylint: disable=g-import-not-at-top
  from experiments.adapter.configs import base
  from smplr_jax.training import train
  from smplr_jax.training.tasks import adapter as adapter_task
  config = base.base_config('h36m17', 3)
  config.num_steps, config.log_every, config.eval_every = 300, 100, 300
  config.batch_size, config.eval_batch_size = 64, 64
  config.validation_size = config.test_set_size = 128
  config.eval_weights = 'none'
  config.progress_bar = False
  results = train.train_and_evaluate(config, tmp_path / 'run',
                                     adapter_task.AdapterTask(config))
  rows = [json.loads(line) for line in
          (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
  assert rows[-1]['loss'] < 0.7 * rows[0]['loss']
  assert results['clean/adapter/mpjpe'] < results['noisy/adapter/mpjpe']
  assert results['clean/adapter/mpjpe'] < 150.0
