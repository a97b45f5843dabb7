"""The crop path of the predictor (`predictor.load_pipeline`,
`crop_person`), the demo (`demo.run`) and the homes it joins: reading
(`read`: photos, boxes) and body.json (`write.body_record`); the demo's and
the web app's files hold the predictor's body (the photo path's:
tests/test_outputs.py)."""

import json

import numpy as np
import pytest
from PIL import Image

from helpers import app_files, assert_files_hold_the_body
from smplr_jax import console, crop
from smplr_jax.app import service
from smplr_jax.body import gendered, rotations
from smplr_jax.data import augment, synthetic
from smplr_jax.predict import demo, detector, read, write
from smplr_jax.predict import predictor as predictor_lib


@pytest.fixture(scope='module')
def predictor():
  return predictor_lib.load_pipeline()


@pytest.fixture(scope='module')
def render():
  models = gendered.load_gendered_models()
  return next(synthetic.render_examples(models, 1, seed=0, start=33_281,
                                        config={'batch_size': 1}))


def test_predictor_outputs(predictor, render):
  config = augment.augment_config()
  config.crop_size = predictor.input_size
  example = augment.process_example(render, config, train=False)
  crop = np.round(example['image'] * 255).astype(np.uint8)
  out = predictor.predict_crops(np.stack([crop, crop]),
                                np.stack([example['jl_cam'][0]] * 2))
  size = predictor.input_size
  assert out['jl_smplr_input'].shape == out['jl_front_end'].shape == (2, 42, 3)
  assert out['jl_body'].shape == (2, 42, 3)
  assert out['vertices'].shape == (2, 13718, 3)
  assert out['pose'].shape == (2, 24, 3, 3)
  assert out['betas'].shape == (2, 10) and out['gender'].shape == (2,)
  assert out['gender'].dtype == np.int32
  np.testing.assert_array_equal(out['gender'], out['male_probability'] > 0.5)
  np.testing.assert_allclose(out['jl_body'][:, :24], out['joints'], atol=1e-6)
  np.testing.assert_allclose(out['joints'][:, 0], 0.0, atol=1e-6)
  np.testing.assert_allclose(out['jl_smplr_input'][0],
                             out['jl_smplr_input'][1], atol=1e-5)
  # The jl are metres, root-relative, inside the 2.5 m cube.
  assert np.all(np.abs(out['jl_front_end']) < 1.25 + 1e-3)
  # Weak perspective (no root) differs from the exact conversion by little.
  weak = predictor.predict_crops(crop)
  assert np.abs(weak['jl_front_end'][0] -
                out['jl_front_end'][0]).mean() < 0.05
  with pytest.raises(ValueError, match=f'crops must be .B, {size}, {size}'):
    predictor.predict_crops(np.zeros((1, size + 1, size + 1, 3), np.uint8))
  with pytest.raises(ValueError, match=r'crops\[0\] .*holds NaN or Inf'):
    predictor.predict_crops(np.full((1, size, size, 3), np.nan, np.float32))
  with pytest.raises(ValueError, match=r'root_cam\[1\] .*holds NaN or Inf'):
    predictor.predict_crops(np.stack([crop, crop]),
                            [[0.0, 0.0, 3.0], [np.nan, 0.0, 3.0]])


@pytest.mark.slow  # ~6 s
def test_flip_test_averages_the_mirrored_reading(predictor, render):
  """With flip_test the image network's JL are mirror-equivariant: the
  mirrored crop (root mirrored) gives the mirrored, relabelled JL; and
  they are the mean of the plain and mirrored readings."""
  flip = predictor_lib.load_pipeline(flip_test=True)
  plain = predictor  # compiled for 2 crops with roots already
  config = augment.augment_config()
  config.crop_size = flip.input_size
  example = augment.process_example(render, config, train=False)
  crops = np.stack([example['image'], example['image'][:, ::-1]])
  root = np.asarray(example['jl_cam'][0])
  roots = np.stack([root, root * [-1.0, 1.0, 1.0]])
  out = flip.predict_crops(crops, roots)['jl_front_end']
  np.testing.assert_allclose(out[1], crop.mirror_points(out[0]),
                             atol=1e-5)
  single = plain.predict_crops(crops, roots)['jl_front_end']
  np.testing.assert_allclose(
      out[0], 0.5 * (single[0] + crop.mirror_points(single[1])),
      atol=1e-5)
  assert np.abs(out[0] - single[0]).mean() > 1e-3  # a different reading


def test_crop_person_matches_the_training_crop(render):
  """With the true root and focal, crop_person's crop is the training crop;
  from a box it is centred on the box."""
  size = 64
  config = augment.augment_config()
  config.crop_size = size
  plain = augment.process_example(render, config, train=False)
  uv = render['jl_cam'][:, :2] / render['jl_cam'][:, 2:] * render['focal'] + \
      render['principal']
  box = (uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max())
  window = crop.crop_person(render['image'], box, size,
                            focal=float(render['focal'][0]))
  assert window.image.shape == (size, size, 3)
  assert window.image.dtype == np.uint8
  # The estimated root depth follows from the box: same order as the truth.
  assert 0.5 < window.root_cam[2] / render['jl_cam'][0, 2] < 2.0
  assert np.abs(window.image.astype(float) -
                plain['image'] * 255).mean() < 80  # similar framing
  # Grayscale and RGBA photos work; bad boxes are refused.
  gray = render['image'].mean(axis=-1).astype(np.uint8)
  assert crop.crop_person(gray, box, size).image.shape == (size, size, 3)
  rgba = np.concatenate([render['image'], np.full((256, 256, 1), 255,
                                                  np.uint8)], axis=-1)
  assert crop.crop_person(rgba, box, size).image.shape == (size, size, 3)
  with pytest.raises(ValueError, match='outside'):
    crop.crop_person(render['image'], (300, 300, 400, 400), size)
  with pytest.raises(ValueError, match='x1 > x0'):
    crop.crop_person(render['image'], (50, 50, 40, 80), size)
  with pytest.raises(ValueError, match='too small'):
    crop.crop_person(np.zeros((4, 4, 3), np.uint8), (0, 0, 2, 2), size)


def test_demo_writes_mesh_picture_and_parameters(predictor, render, tmp_path,
                                                 capsys):
  photo = tmp_path / 'photo.png'
  Image.fromarray(render['image']).convert('L').save(photo)  # grayscale
  uv = render['jl_cam'][:, :2] / render['jl_cam'][:, 2:] * render['focal'] + \
      render['principal']
  box = ','.join(f'{v:.0f}' for v in (uv[:, 0].min() - 5, uv[:, 1].min() - 5,
                                      uv[:, 0].max() + 5, uv[:, 1].max() + 5))
  # As a user runs it: the installed `smplr-jax demo` command.
  assert console.main(['demo', f'--image={photo}', f'--box={box}',
                       f'--output={tmp_path / "out"}']) == 0
  paths = {'obj': tmp_path / 'out' / 'mesh.obj',
           'png': tmp_path / 'out' / 'overlay.png',
           'json': tmp_path / 'out' / 'body.json'}
  assert capsys.readouterr().out.split() == [
      word for path in paths.values() for word in ('wrote', str(path))]
  obj = paths['obj'].read_text().splitlines()
  assert sum(line.startswith('v ') for line in obj) == 13718
  assert sum(line.startswith('f ') for line in obj) == 27420
  body = json.loads(paths['json'].read_text())
  assert np.asarray(body['pose_axis_angle']).shape == (24, 3)
  assert len(body['betas']) == 10 and 0 <= body['male_probability'] <= 1
  # The crop path's estimate: Psi's raw probability and switch.
  assert body['gender'] == int(body['male_probability'] > 0.5)
  assert body['gender_label'] == ('female', 'male')[body['gender']]
  assert body['gender_source'] == 'estimated'
  assert body['root_cam_m'][2] > 0
  assert body['front_end'] == 'crop' and body['used_dae'] is True
  assert body['refined'] is False and 'hypothesis' not in body
  picture = np.asarray(Image.open(paths['png']))
  assert picture.ndim == 3 and picture.shape[1] == 2 * picture.shape[0]
  # The files hold `predict_image`'s body of the same photo and box, and so
  # do the web app's (body.glb too).
  want = predictor.predict_image(read.load_photo(photo),
                                 box=read.parse_box(box))
  assert_files_hold_the_body(paths, want)
  app = service.AppService(service.SharedPredictor(load=lambda _: predictor),
                           root=tmp_path / 'app')
  assert_files_hold_the_body(app_files(app.photo(photo, box)), want)
  app.close()
  # Bad input: one clear message each, nothing written.
  for args, message in (((str(tmp_path / 'none.png'), box), 'does not exist'),
                        ((str(paths['json']), box), 'not an image'),
                        ((str(photo), '1,2,3'), 'four numbers x0, y0'),
                        ((str(photo), '900,900,990,990'), 'outside')):
    with pytest.raises(ValueError, match=message):
      demo.run(*args, str(tmp_path / 'bad'))
  with pytest.raises(ValueError, match='no person box'):
    demo.run(str(photo), None, str(tmp_path / 'bad'), front_end='crop')
  with pytest.raises(ValueError, match='--everyone .* without --box'):
    demo.run(str(photo), box, str(tmp_path / 'bad'), everyone=True)
  assert not (tmp_path / 'bad').exists()
  # No box: the photo path where the detector extra is installed (this
  # render has a person), else one line naming the extra.
  if detector.availability() is None:
    written = demo.run(str(photo), None, str(tmp_path / 'found'))
    assert json.loads(written['json'].read_text())['front_end'] == 'detector'
  else:
    with pytest.raises(ValueError, match=r'detector extra.*\[detector\]'):
      demo.run(str(photo), None, str(tmp_path / 'bad'))
    assert not (tmp_path / 'bad').exists()
  # The command: a user's mistake is one line and status 1, a wrong
  # command line status 2.
  capsys.readouterr()
  assert console.main(['demo', f'--image={tmp_path / "none.png"}',
                       f'--box={box}', f'--output={tmp_path / "bad"}']) == 1
  error = capsys.readouterr().err
  assert error.startswith('error: ') and error.count('\n') == 1, error
  assert 'does not exist' in error and not (tmp_path / 'bad').exists()
  with pytest.raises(SystemExit) as exit_info:
    console.main(['demo', f'--box={box}'])  # no --image
  assert exit_info.value.code == 2


@pytest.mark.parametrize('text, box', [
    # The demo's old rules: commas, in order.
    ('100,20,300,380', (100, 20, 300, 380)),
    ('1.5,2.5,30,40', (1.5, 2.5, 30, 40)),
    # The web app's: ';' too, spaces, corners in any order.
    ('300, 400; 100, 50', (100, 50, 300, 400)),
    (' 10 ;20;5; 8 ', (5, 8, 10, 20)),
    ('-5,-5,10,10', (-5, -5, 10, 10)),
])
def test_parse_box_accepts_both_old_forms(text, box):
  assert read.parse_box(text) == box


@pytest.mark.parametrize('text', [
    '1,2,3', '1,2,3,4,5', 'a,b,c,d', '1,2,3,nan', '1,2,3,inf', ',,,',
    '1 2 3 4'])
def test_parse_box_names_the_form(text):
  with pytest.raises(ValueError, match=r"four numbers x0, y0, x1, y1 "
                     r"\(pixels\), got '"):
    read.parse_box(text)


def test_parse_box_of_nothing_is_none():
  assert read.parse_box(None) is None
  assert read.parse_box('') is None and read.parse_box('  ') is None


def test_load_photo_turns_and_converts(tmp_path):
  """EXIF orientation applied; 16-bit grayscale, palette and RGBA photos
  become uint8 [H, W, 3]; a missing file or a non-image is one line."""
  rng = np.random.default_rng(0)
  upright = rng.integers(0, 256, (40, 60, 3), np.uint8)
  stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
  exif = Image.Exif()
  exif[0x0112] = 6  # 'rotate 90 CW to display': undoes the stored turn
  stored.save(tmp_path / 'phone.png', exif=exif)
  np.testing.assert_array_equal(read.load_photo(tmp_path / 'phone.png'),
                                upright)
  deep = np.full((20, 30), 65535, np.uint16)
  deep[:, :10] = 257
  Image.fromarray(deep).save(tmp_path / 'deep.png')
  photo = read.load_photo(tmp_path / 'deep.png')
  assert photo.shape == (20, 30, 3) and photo.dtype == np.uint8
  assert photo[0, 0, 0] == 1 and photo[0, -1, 0] == 255
  Image.fromarray(upright).convert('P').save(tmp_path / 'palette.png')
  assert read.load_photo(tmp_path / 'palette.png').shape == (40, 60, 3)
  Image.fromarray(upright).convert('RGBA').save(tmp_path / 'alpha.png')
  np.testing.assert_array_equal(read.load_photo(tmp_path / 'alpha.png'),
                                upright)
  with pytest.raises(ValueError, match='does not exist'):
    read.load_photo(tmp_path / 'none.png')
  (tmp_path / 'notes.png').write_text('not a picture')
  with pytest.raises(ValueError, match='not an image'):
    read.load_photo(tmp_path / 'notes.png')


def _body(**extra):
  """One body as `Predictor.predict_image` returns it (random values)."""
  rng = np.random.default_rng(0)
  pose = np.asarray(rotations.axis_angle_to_matrix(
      rng.normal(0, 0.5, (24, 3)).astype(np.float32)))
  body = dict(pose=pose, betas=rng.normal(size=10).astype(np.float32),
              gender=np.int32(1), male_probability=np.float32(0.75),
              root_cam=np.array([0.1, -0.2, 4.0]), focal=600.0,
              box=np.array([10.04, 20.0, 110.0, 220.0]), front_end='crop',
              used_dae=True)
  return {**body, **extra}


def test_body_record_is_written_from_the_prediction_alone():
  body = _body()
  record = write.body_record(body)
  assert record['front_end'] == 'crop' and record['used_dae'] is True
  assert record['refined'] is False and record['box'] == [10.0, 20, 110, 220]
  assert not {'fit_cost', 'hypothesis', 'keypoints_2d_px'} & set(record)
  # Axis-angle in float64, then 5 digits: the rotation read back.
  np.testing.assert_allclose(
      np.asarray(rotations.axis_angle_to_matrix(np.asarray(
          record['pose_axis_angle'], np.float32))), body['pose'], atol=1e-4)
  assert record['gender'] == 1 and record['male_probability'] == 0.75
  refined = write.body_record(_body(fit_cost=np.array([0.25])))
  assert refined['refined'] is True and refined['fit_cost'] == 0.25
  found = write.body_record(_body(
      fit_cost=0.5, hypothesis='mirrored_photo',
      keypoints_2d=np.full((33, 2), 12.34), front_end='detector',
      used_dae=False))
  assert found['front_end'] == 'detector' and found['used_dae'] is False
  assert found['hypothesis'] == 'mirrored_photo' and found['refined']
  assert np.asarray(found['keypoints_2d_px']).shape == (33, 2)
  assert found['keypoints_2d_px'][0] == [12.3, 12.3]
  json.dumps(found)  # plain JSON types only
