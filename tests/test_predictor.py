"""The front door (smplr_jax.predict.predictor): load_smplr (a trained SMPLR
run as JL -> mesh) and the Predictor."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import write_workdir

from experiments.smplr.configs import smplr as smplr_config
from smplr_jax import crop, resources
from smplr_jax.body import gendered
from smplr_jax.data import sampler
from smplr_jax.nets import smplr
from smplr_jax.predict import pipeline, prediction
from smplr_jax.predict import predictor as predictor_lib


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load(with_neutral=True)


def _workdir(path, parts=('shape', 'pose'), seed=0):
  """An SMPLR workdir with freshly initialised networks (no training)."""
  config = smplr_config.get_config()
  config.smplr.parts = parts
  variables = smplr.from_config(config.smplr).init_variables(jax.random.PRNGKey(seed))
  return write_workdir(path, config, variables), config, variables


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  return _workdir(tmp_path_factory.mktemp('smplr'))


def test_predictor_outputs(workdir, body):
  workdir, _, _ = workdir
  predictor = predictor_lib.load_smplr(workdir)
  test_set = sampler.make_test_set(body.gendered, size=3, seed=5)
  out = predictor(test_set['jl'])
  assert out['pose'].shape == (3, 24, 3, 3)
  np.testing.assert_allclose(jnp.linalg.det(out['pose']), 1.0, atol=1e-4)
  assert out['betas'].shape == (3, 10)
  assert out['gender'].shape == (3,) and out['gender'].dtype == np.int32
  assert np.all((out['male_probability'] >= 0) &
                (out['male_probability'] <= 1))
  np.testing.assert_array_equal(out['jl_front_end'], out['jl_smplr_input'])
  assert out['vertices'].shape == (3, body.gendered.num_vertices, 3)
  assert out['joints'].shape == (3, 24, 3)
  assert out['landmarks'].shape == (3, 18, 3)
  np.testing.assert_allclose(out['joints'][:, 0], 0.0, atol=1e-6)
  # Landmarks are the mesh's landmark vertices.
  ids = np.asarray(body.gendered.landmark_vertex_ids)
  np.testing.assert_allclose(out['landmarks'], out['vertices'][:, ids],
                             atol=1e-6)
  with pytest.raises(ValueError, match=r'jl must be \[B, 42, 3\]'):
    predictor(np.zeros((2, 24, 3)))
  with pytest.raises(ValueError, match=r'jl\[0\] .*holds NaN'):
    predictor(np.full((1, 42, 3), np.nan))
  # Millimetres gave betas of -6,170 without a word; camera-frame points
  # (root not at the origin) a body that looked right.
  with pytest.raises(ValueError, match='millimetres.*divide by 1000'):
    predictor(test_set['jl'] * 1000)
  with pytest.raises(ValueError, match=r'jl\[1\] .*root \(point 0\)'):
    predictor(test_set['jl'] + np.array([[[0.0]], [[3.0]], [[0.0]]]))


def test_predictor_equals_the_pipeline(workdir, body):
  """The predictor is `pipeline.jl_to_body` on the checkpoint's variables."""
  path, config, variables = workdir
  jl = sampler.make_test_set(body.gendered, size=4, seed=6)['jl']
  out = predictor_lib.load_smplr(path)(jl)
  expected = pipeline.jl_to_body(smplr.from_config(config.smplr), body, variables,
                                 jnp.asarray(jl))
  # Jitted and eager float32 differ by rounding (up to ~3e-5 on a rotation).
  for key in ('pose', 'betas', 'vertices', 'joints', 'landmarks'):
    np.testing.assert_allclose(out[key], expected[key], atol=1e-4)
  np.testing.assert_allclose(out['male_probability'], expected['male_prob'],
                             atol=1e-6)
  np.testing.assert_array_equal(out['faces'], body.gendered.faces)


def test_predictor_needs_both_networks(tmp_path):
  path, _, _ = _workdir(tmp_path, parts=('shape',))
  with pytest.raises(ValueError, match=r"trained only \['shape'\]"):
    predictor_lib.load_smplr(path)


def test_not_a_workdir_is_reported(tmp_path):
  with pytest.raises(ValueError, match='no config.json'):
    predictor_lib.load_smplr(tmp_path)


@pytest.mark.slow  # ~14 s; the shipped weights' accuracy: evaluate_pipeline
def test_shipped_smplr_recovers_rendered_camera_frame_bodies():
  """One frame for every stage: a render's ground-truth camera-frame JL
  (upright in the image, any heading, elevated camera) go through the
  shipped SMPLR to a mesh whose joints match them within Table-1 accuracy."""
  from smplr_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  shipped = resources.weights_dir() / 'smplr'  # ships with the package
  models = gendered.load_gendered_models()
  records = list(synthetic.render_examples(models, 8, seed=0, start=33_280,
                                           config={'batch_size': 8}))
  jl = np.stack([r['jl_cam'] - r['jl_cam'][0] for r in records])
  # Upright in the camera frame: the head is above the pelvis (y down).
  assert np.mean(jl[:, 15, 1] < 0) >= 0.75
  predictor = predictor_lib.load_smplr(shipped)
  out = predictor(jl)
  error = np.linalg.norm(out['joints'] - jl[:, :24], axis=-1).mean() * 1000
  assert error < 45.0  # Table 1: SMPLR from true JL, ~21-31 mm Jt
  gender = np.array([r['gender'] for r in records])
  assert np.mean(out['gender'] == gender) >= 0.75


def test_crop_person_refuses_a_bad_focal():
  photo = np.zeros((64, 48, 3), np.uint8)
  for focal in (float('nan'), 0.0, -500.0):
    with pytest.raises(ValueError, match='focal must be a positive number'):
      crop.crop_person(photo, (10, 10, 30, 50), 32, focal)


# --- the Predictor ------------------------------------------------------------


@pytest.fixture(scope='module')
def pipeline_predictor():
  return predictor_lib.load_pipeline()


def _photo():
  rng = np.random.default_rng(3)
  return rng.integers(0, 255, (180, 140, 3), dtype=np.uint8)


def test_a_box_reads_its_crop_and_every_key_is_documented(pipeline_predictor):
  """predict_image(photo, box=...) is one body: the batched network call on
  its own crop, with the photo's keys, all of them in `prediction`."""
  predictor = pipeline_predictor
  photo = _photo()
  out = predictor.predict_image(photo, box=(20, 10, 120, 170), focal=300.0)
  assert prediction.unknown_keys(out) == []
  assert set(prediction.BODY_KEYS + prediction.PHOTO_KEYS) <= set(out)
  assert out['front_end'] == 'crop' and out['used_dae'] is True
  np.testing.assert_array_equal(out['box'], [20, 10, 120, 170])
  assert out['vertices'].shape == (predictor.body.gendered.num_vertices, 3)
  batched = predictor.predict_crops(out['crop'][None],
                                    out['root_cam'][None])
  assert batched['vertices'].shape == (1,) + out['vertices'].shape
  for key in prediction.BODY_KEYS:
    np.testing.assert_array_equal(prediction.one_body(batched)[key],
                                  out[key], err_msg=key)
  expected = crop.crop_person(photo, (20, 10, 120, 170),
                              predictor.input_size, 300.0)
  np.testing.assert_array_equal(out['crop'], expected.image)
  np.testing.assert_allclose(out['root_cam'], expected.root_cam)


def test_each_front_end_says_what_it_cannot_do():
  photo = _photo()
  crop_only = predictor_lib.load_pipeline(front_end='crop')
  with pytest.raises(ValueError, match='needs a person box'):
    crop_only.predict_image(photo)
  with pytest.raises(ValueError, match="front_end='crop'"):
    crop_only.predict_video([photo])
  detector_only = predictor_lib.load_pipeline(front_end='blazepose')
  assert detector_only.crop_path is None  # no image network loaded
  with pytest.raises(ValueError, match='needs the image network'):
    detector_only.predict_image(photo, box=(20, 10, 120, 170))
  with pytest.raises(ValueError, match="'auto', 'crop' or 'blazepose'"):
    predictor_lib.load_pipeline(front_end='yolo')
  with pytest.raises(ValueError, match='unknown hypotheses'):
    predictor_lib.load_pipeline(hypotheses=('sideways',))
  with pytest.raises(ValueError, match='crop front end'):
    predictor_lib.load_pipeline(front_end='blazepose', flip_test=True)


def test_a_tracks_mesh_is_one_call_away(pipeline_predictor, body):
  predictor = pipeline_predictor
  rng = np.random.default_rng(0)
  frames = 5
  axis_angle = rng.normal(0, 0.3, (frames, 24, 3)).astype(np.float32)
  from smplr_jax.body import rotations  # pylint: disable=g-import-not-at-top
  track = {'pose': np.asarray(rotations.axis_angle_to_matrix(axis_angle)),
           'betas': np.tile(rng.normal(0, 1, (1, 10)), (frames, 1)),
           'gender': np.array([1] * frames)}
  vertices = predictor.track_vertices(track)
  assert vertices.shape == (frames, body.gendered.num_vertices, 3)
  expected = gendered.posed_body(body.gendered, track['pose'],
                                 np.asarray(track['betas'], np.float32),
                                 track['gender'])['vertices']
  np.testing.assert_allclose(vertices, expected, atol=1e-5)
  assert np.ptp(vertices, axis=0).max() > 0.01  # the frames differ


def test_the_settings_have_one_default_each(pipeline_predictor):
  """The photo path, the detector, the app and the video read the same
  values (one default per setting)."""
  from smplr_jax.predict import detector, settings  # pylint: disable=g-import-not-at-top
  photo = settings.PhotoSettings()
  assert settings.AppLimits().min_image_side == photo.min_image_side
  with pytest.raises(ValueError, match=f'at least {photo.min_image_side}'):
    detector.check_photo(np.zeros((photo.min_image_side - 1, 200, 3),
                                  np.uint8))
  assert pipeline_predictor.settings == photo
  with pytest.raises(ValueError, match="'offline' or 'causal'"):
    settings.VideoSettings(mode='live')
