"""A body's gender (`predict.gender`): the calibration of Psi's probability
of male, 'unknown' with the neutral body, a stated gender reaching the fit
and the files; and the per-joint seen/inferred flags
(`predict.visibility`). The photo-path tests need the [detector] extra."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax import console
from smplr_jax.app import service
from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, smpl
from smplr_jax.data import synthetic
from smplr_jax.evaluation import metrics
from smplr_jax.predict import demo
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.predict import prediction, settings, visibility

UNAVAILABLE = detector_lib.availability()
needs_detector = pytest.mark.skipif(
    UNAVAILABLE is not None,
    reason=f'needs the [detector] extra: {UNAVAILABLE}')
SHIPPED = settings.PhotoSettings().gender


@pytest.fixture(scope='module')
def models():
  return gendered.load_gendered_models(with_neutral=True)


def test_the_shipped_calibration_makes_a_confident_reading_honest():
  # Psi says 0.999 (or float32's 1.0) on clothed people at chance: the
  # calibrated probability must not claim 90 %, and the body is 'unknown'.
  raw = np.array([0.999, 0.001, 1.0, 0.0], np.float32)
  p = gender_lib.calibrate(raw, SHIPPED)
  assert np.all((p > 0.1) & (p < 0.9)), p
  np.testing.assert_array_equal(gender_lib.decide(p, SHIPPED),
                                gender_lib.NEUTRAL)
  # Monotone: more male-looking stays more male.
  assert p[0] > p[1] and p[2] >= p[0]


def test_decide_and_the_band():
  band = gender_lib.GenderSettings(scale=1.0, bias=0.0, unknown_low=0.3,
                                   unknown_high=0.7)
  np.testing.assert_array_equal(
      gender_lib.decide([0.1, 0.3, 0.5, 0.7, 0.9], band), [0, 2, 2, 2, 1])
  with pytest.raises(ValueError, match='unknown band'):
    gender_lib.GenderSettings(unknown_low=0.8, unknown_high=0.2)
  with pytest.raises(ValueError, match="'female', 'male' or 'neutral'"):
    gender_lib.check_stated('robot')
  assert gender_lib.check_stated('auto') is None
  assert gender_lib.check_stated('Female') == 'female'


def test_platt_fit_recovers_a_known_calibration():
  rng = np.random.default_rng(0)
  logit = rng.normal(0, 6, 4000)
  male = rng.random(4000) < 1 / (1 + np.exp(-(0.3 * logit + 0.5)))
  raw = (1 / (1 + np.exp(-logit))).astype(np.float32)
  scale, bias = gender_lib.fit_platt(raw, male)
  assert abs(scale - 0.3) < 0.05 and abs(bias - 0.5) < 0.15
  # Perfect calibration has an ECE near 0; a constant 0.99 on a fair coin
  # about 0.49.
  p = 1 / (1 + np.exp(-(0.3 * logit + 0.5)))
  assert metrics.expected_calibration_error(p, male) < 0.03
  coin = np.arange(1000) % 2 == 0
  assert metrics.expected_calibration_error(
      np.full(1000, 0.99), coin) == pytest.approx(0.49)


def test_a_neutral_body_keeps_near_the_mean_shape():
  fit = settings.PhotoSettings().fit
  tight = gender_lib.fit_options(fit, np.array([2, 2]), SHIPPED)
  assert tight.beta_sigma == SHIPPED.unknown_beta_sigma < fit.beta_sigma
  assert dataclasses.replace(tight, beta_sigma=fit.beta_sigma) == fit
  # A gendered body (estimated or stated) keeps the fit's own prior.
  assert gender_lib.fit_options(fit, np.array([2, 0]), SHIPPED) is fit
  assert gender_lib.fit_options(fit, np.array([1]), SHIPPED) is fit


def _batched(models, raw_probability, hard_gender):
  """A from_chain-like batch: 2 bodies posed with the given hard gender."""
  rng = np.random.default_rng(1)
  pose = np.asarray(smpl._pose_to_rotations(  # pylint: disable=protected-access
      jnp.asarray(rng.normal(0, 0.2, (2, 24, 3)), jnp.float32), 24))
  betas = rng.normal(0, 1, (2, 10)).astype(np.float32)
  hard = np.asarray(hard_gender, np.int32)
  posed = gendered.posed_body(models, pose, betas, hard)
  return {'pose': pose, 'betas': betas, 'gender': hard,
          'male_probability': np.asarray(raw_probability, np.float32),
          'jl_body': np.asarray(posed['jl']),
          'joints': np.asarray(posed['joints']),
          'landmarks': np.asarray(posed['landmarks']),
          'vertices': np.asarray(posed['vertices'])}


def test_unknown_gives_the_neutral_body(models):
  batch = _batched(models, [0.999, 0.0001], [1, 0])
  out = gender_lib.apply(batch, models, SHIPPED)
  np.testing.assert_array_equal(out['gender'], [2, 2])
  assert np.all(out['male_probability'] < 0.9)
  neutral = smpl.smpl_forward(bm.load_body_model(None, 'neutral'),
                              jnp.asarray(batch['pose']),
                              jnp.asarray(batch['betas']))
  root = np.asarray(neutral.joints)[:, :1]
  np.testing.assert_allclose(out['vertices'],
                             np.asarray(neutral.vertices) - root, atol=1e-6)
  np.testing.assert_allclose(out['joints'], np.asarray(neutral.joints) - root,
                             atol=1e-6)
  # ... and not the gendered bodies it was given.
  assert np.abs(out['vertices'] - batch['vertices']).max() > 0.005


def test_stated_gender_poses_that_model(models):
  batch = _batched(models, [0.999, 0.5], [1, 1])
  out = gender_lib.apply(batch, models, SHIPPED, 'female')
  np.testing.assert_array_equal(out['gender'], [0, 0])
  female = gendered.posed_body(models, batch['pose'], batch['betas'],
                               np.zeros(2, np.int32))
  np.testing.assert_array_equal(out['vertices'], female['vertices'])
  assert gender_lib.labels(out['gender'], 'female') == {
      'gender_label': 'female', 'gender_source': 'stated'}
  assert gender_lib.labels(np.int32(2)) == {
      'gender_label': 'unknown', 'gender_source': 'estimated'}


@pytest.mark.slow  # ~8 s
def test_indices_0_and_1_pose_the_same_bodies_as_the_two_model_stack(models):
  two = gendered.load_gendered_models()
  rng = np.random.default_rng(2)
  pose = jnp.asarray(rng.normal(0, 0.3, (4, 24, 3)), jnp.float32)
  betas = jnp.asarray(rng.normal(0, 1, (4, 10)), jnp.float32)
  gender = jnp.asarray([0, 1, 1, 0], jnp.int32)
  a = smpl.smpl_forward(two, pose, betas, gender=gender)
  b = smpl.smpl_forward(models, pose, betas, gender=gender)
  np.testing.assert_array_equal(a.vertices, b.vertices)
  np.testing.assert_array_equal(a.joints, b.joints)
  single = gendered.select_model(models, gendered.NEUTRAL)
  assert np.asarray(single.faces).shape == (27420, 3)
  np.testing.assert_array_equal(single.v_template,
                                bm.load_body_model(None, 'neutral').v_template)


def test_joint_seen_needs_the_photo_and_the_detector():
  pixels = np.tile([[100.0, 100.0]], (24, 1))
  pixels[7] = (100.0, 700.0)  # left ankle below a 640 x 480 photo
  pixels[8] = (-5.0, 100.0)  # right ankle left of it
  pixels[15] = np.nan  # head behind the camera
  seen_all = np.ones(33)
  seen = visibility.joint_seen(pixels, (640, 480), seen_all)
  assert not seen[[7, 8, 15]].any() and seen.sum() == 21
  # Inside the photo but BlazePose did not see the left wrist's landmark.
  hidden = seen_all.copy()
  hidden[15] = 0.1  # left_wrist
  seen = visibility.joint_seen(pixels, (640, 480), hidden)
  assert not seen[20] and seen[21]  # left_wrist, right_wrist
  with pytest.raises(ValueError, match=r'\[\.\.\., 33\]'):
    visibility.joint_seen(pixels, (640, 480), np.ones(17))


@pytest.fixture(scope='module')
def predictor():
  return predictor_lib.load_pipeline(front_end='blazepose')


@pytest.fixture(scope='module')
def render():
  models = gendered.load_gendered_models()
  return next(synthetic.render_examples(models, 1, seed=0, start=33_281,
                                        config={'batch_size': 1}))


@needs_detector
def test_a_stated_gender_reaches_the_fit(predictor, render, models):
  for name, index in (('female', 0), ('male', 1), ('neutral', 2)):
    out = predictor.predict_image(render['image'], gender=name)
    assert out['gender'] == index and out['gender_label'] == name
    assert out['gender_source'] == 'stated'
    assert not prediction.unknown_keys(out)
    # The returned mesh is that model's, of the fitted pose and shape.
    posed = gendered.posed_body(models, out['pose'][None],
                                out['betas'][None],
                                np.asarray([index], np.int32))
    np.testing.assert_allclose(out['vertices'], posed['vertices'][0],
                               atol=1e-6)
    other = gendered.posed_body(models, out['pose'][None],
                                out['betas'][None],
                                np.asarray([(index + 1) % 3], np.int32))
    assert np.abs(out['vertices'] - other['vertices'][0]).max() > 0.005
  estimated = predictor.predict_image(render['image'])
  assert estimated['gender_source'] == 'estimated'
  assert estimated['gender'] == gender_lib.decide(
      estimated['male_probability'], predictor.settings.gender)
  with pytest.raises(ValueError, match='gender must be'):
    predictor.predict_image(render['image'], gender='robot')


@needs_detector
def test_joint_seen_on_a_cropped_render(predictor, render):
  """The render cut at the thighs (and enlarged 4x): the knees, ankles and
  feet are inferred (False), the head and shoulders seen (True)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  photo = np.asarray(Image.fromarray(render['image'][:120, 40:216]).resize(
      (176 * 4, 120 * 4), Image.BICUBIC))
  out = predictor.predict_image(photo)
  seen = out['joint_seen']
  assert seen.shape == (24,) and seen.dtype == bool
  assert seen[[15, 16, 17]].all(), seen  # head, shoulders
  assert not seen[[4, 5, 7, 8, 10, 11]].any(), seen  # knees, ankles, feet
  pixels = visibility.project(out['joints'] + out['root_cam'], out['focal'],
                              ((photo.shape[1] - 1) / 2,
                               (photo.shape[0] - 1) / 2))
  outside = pixels[:, 1] > photo.shape[0]
  assert outside.any() and not seen[outside].any()


@needs_detector
def test_demo_and_app_files_say_the_stated_gender(predictor, render,
                                                  monkeypatch, tmp_path):
  photo = tmp_path / 'photo.png'
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.fromarray(render['image']).save(photo)
  monkeypatch.setattr(demo.predictor_lib, 'load_pipeline',
                      lambda *args, **kwargs: predictor)
  assert console.main(['demo', f'--image={photo}', '--gender=male',
                       f'--output={tmp_path / "out"}']) == 0
  body = json.loads((tmp_path / 'out' / 'body.json').read_text())
  assert body['gender'] == 1 and body['gender_label'] == 'male'
  assert body['gender_source'] == 'stated'
  assert len(body['joint_seen']) == 24
  app = service.AppService(service.SharedPredictor(
      load=lambda weights: predictor), root=tmp_path / 'app')
  result = app.photo(photo, gender='neutral')
  assert result.parameters['gender'] == 2
  assert result.parameters['gender_label'] == 'neutral'
  assert result.parameters['gender_source'] == 'stated'
  assert 'gender: neutral (stated)' in result.status
  estimated = app.photo(photo)
  assert estimated.parameters['gender_source'] == 'estimated'
  assert 'p male = ' in estimated.status
  app.close()
