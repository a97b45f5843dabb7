"""Per-example processing (smplr_jax.data.augment): the root-centred crop and
its augmentations, consistent between pixels, points and SMPL parameters."""

import helpers
import jax
import numpy as np
import pytest
from helpers import augment_config_with, random_body, stick_records
from scipy.spatial.transform import Rotation

from smplr_jax import crop
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment, sampler

PERM = np.asarray(jl_lib.LEFT_RIGHT_PERMUTATION)


def _blob_record(jl_cam, point, size=(240, 320), focal=(300.0, 310.0),
                 principal=(150.0, 110.0), sigma=2.0):
  """A black frame with a Gaussian blob at the projection of one JL point
  (OpenCV pixel convention: pixel (r, c) centred at (u, v) = (c, r))."""
  h, w = size
  u, v = (np.asarray(focal) * jl_cam[point, :2] / jl_cam[point, 2] +
          np.asarray(principal))
  rows, cols = np.mgrid[0:h, 0:w]
  blob = np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2 * sigma ** 2))
  image = np.repeat((blob * 255).round()[..., None], 3, axis=2)
  return {
      'image': image.astype(np.uint8), 'mask': np.zeros((h, w), np.uint8),
      'has_mask': np.int32(0), 'jl_cam': jl_cam.astype(np.float32),
      'jl_valid': np.ones(42, np.float32),
      'focal': np.asarray(focal, np.float32),
      'principal': np.asarray(principal, np.float32),
      'pose': np.zeros((24, 3), np.float32), 'betas': np.zeros(10, np.float32),
      'gender': np.int32(-1), 'has_smpl': np.int32(0)}


def _centroid(image):
  """(u, v) crop coordinates of an image's intensity centroid."""
  weight = image[..., 0].astype(np.float64)
  rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]]
  total = weight.sum()
  return np.array([(weight * (cols + 0.5)).sum() / total,
                   (weight * (rows + 0.5)).sum() / total])


def test_crop_centres_the_root_and_window_follows_depth():
  jl_cam = random_body(root=(0.6, -0.2, 5.0))
  jl_cam[5] = jl_cam[0] + [1.25, 0.0, 0.0]  # right edge of a 2.5 m cube
  jl_cam[6] = jl_cam[0] + [0.0, -0.625, 0.0]  # a quarter above the centre
  record = _blob_record(jl_cam, point=0, focal=(300.0, 300.0))
  for train_ in (False, True):
    config = augment_config_with(
        crop_size=64, on=helpers.AUGMENTATIONS if train_ else ())
    example = augment.process_example(record, config, (0, 1, 2), train=train_)
    np.testing.assert_allclose(example['jl_cube'][0], 0.0, atol=1e-6)
    np.testing.assert_allclose(example['jl_crop'][0, :2], 32.0, atol=1e-4)
  example = augment.process_example(record, augment_config_with(), train=False)
  np.testing.assert_allclose(example['jl_crop'][5, :2], [64.0, 32.0],
                             atol=1e-3)
  np.testing.assert_allclose(example['jl_cube'][5], [1.25, 0.0, 0.0],
                             atol=1e-5)
  np.testing.assert_allclose(example['jl_crop'][6, :2], [32.0, 16.0],
                             atol=1e-3)
  # The blob drawn at the root's projection is at the crop's centre.
  np.testing.assert_allclose(_centroid(example['image']), [32.0, 32.0],
                             atol=0.05)


@pytest.mark.parametrize('crop_size', [128, 40])  # 40: antialiased path
@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_points_land_where_the_warped_image_shows_them(seed, crop_size):
  # An off-axis root (far from the principal point), so that the exact
  # rotation about the root ray is a true homography, not an affine map.
  jl_cam = random_body(seed, root=(0.9, -0.35, 3.2))
  point = 20 + seed  # wrists and hands: far from the root
  record = _blob_record(jl_cam, point, sigma=2.5)
  config = augment_config_with(crop_size=crop_size,
                               on=('scale', 'rotation', 'flip'))
  config.scale.max_relative = 0.3
  config.flip.probability = 0.5
  example = augment.process_example(record, config, (seed, 0, 7))
  # After a flip the blob's point carries the mirror label PERM[point].
  is_flipped = bool(example['jl_cam'][0, 0] < 0)  # the root's x was +0.9
  index = PERM[point] if is_flipped else point
  np.testing.assert_allclose(example['jl_crop'][index, :2],
                             _centroid(example['image']), atol=0.15)
  # Depth and jl_cube follow jl_cam.
  np.testing.assert_allclose(
      example['jl_crop'][:, 2],
      example['jl_cam'][:, 2] - example['jl_cam'][0, 2], atol=1e-5)
  np.testing.assert_allclose(
      example['jl_cube'][:, :2],
      (example['jl_crop'][:, :2] / crop_size - 0.5) * 2.5, atol=1e-5)
  np.testing.assert_allclose(example['jl_cube'][:, 2],
                             example['jl_crop'][:, 2] * example['zoom'],
                             atol=1e-5)
  # The rotation is rigid and keeps the root where it was.
  np.testing.assert_allclose(np.abs(example['jl_cam'][0]),
                             np.abs(jl_cam[0]), atol=1e-5)
  bones = lambda p: np.linalg.norm(jl_lib.bone_vectors(np.asarray(p)),
                                   axis=-1)
  np.testing.assert_allclose(bones(example['jl_cam']),
                             bones(jl_cam[PERM] if is_flipped else jl_cam),
                             atol=1e-5)


def test_flip_mirrors_image_and_swaps_left_and_right():
  record = stick_records(1, image_size=96)[0]
  plain = augment.process_example(record, augment_config_with(), train=True)
  flipped = augment.process_example(record, augment_config_with(on=('flip',)),
                                    train=True)
  np.testing.assert_allclose(flipped['image'], plain['image'][:, ::-1],
                             atol=1e-4)
  np.testing.assert_allclose(flipped['mask'], plain['mask'][:, ::-1],
                             atol=1e-4)
  np.testing.assert_allclose(flipped['jl_cube'],
                             plain['jl_cube'][PERM] * [-1, 1, 1], atol=1e-5)
  np.testing.assert_allclose(flipped['jl_cam'],
                             crop.mirror_points(plain['jl_cam']),
                             atol=1e-6)
  np.testing.assert_array_equal(flipped['jl_valid'], plain['jl_valid'][PERM])
  # Left-side points are on the picture's other side after the flip.
  left_hip = jl_lib.POINT_NAMES.index('left_hip')
  assert np.sign(flipped['jl_cube'][left_hip, 0]) == -np.sign(
      plain['jl_cube'][PERM[left_hip], 0])


def test_flip_twice_is_identity():
  rng = np.random.default_rng(0)
  pose = rng.normal(size=(5, 24, 3))
  points = rng.normal(size=(5, 42, 3))
  np.testing.assert_allclose(crop.mirror_pose(crop.mirror_pose(pose)),
                             pose)
  np.testing.assert_allclose(
      crop.mirror_points(crop.mirror_points(points)), points)


@pytest.fixture(scope='module')
def smpl_bodies():
  """Records of 3 sampled default-model bodies, SMPL fields included."""
  models = gendered.load_gendered_models()  # ships with the package
  rotations, betas, gender = sampler.sample_parameters(
      jax.random.PRNGKey(3), 3)  # camera frame
  pose = Rotation.from_matrix(
      np.asarray(rotations, np.float64).reshape(-1, 3, 3)).as_rotvec()
  pose = pose.reshape(3, 24, 3)

  # The SMPL forward of the 18 landmark vertices only (the same JL as
  # smpl.smpl_forward + jl.joints_and_landmarks on the full mesh, faster).
  points_model = jl_lib.landmark_points_model(models)

  def jl_of(pose_, betas_, gender_):
    return np.asarray(jl_lib.smpl_points(
        points_model, np.asarray(pose_, np.float32), np.asarray(betas_),
        np.asarray(gender_)))

  points = jl_of(pose, betas, gender)
  records = []
  for i in range(3):
    record = _blob_record(points[i] + [0.3 * i, -0.2, 3.0 + i], point=0,
                          size=(64, 64), focal=(80.0, 80.0),
                          principal=(31.5, 31.5))
    record.update(pose=pose[i].astype(np.float32),
                  betas=np.asarray(betas[i]), gender=np.int32(gender[i]),
                  has_smpl=np.int32(1))
    records.append(record)
  return records, jl_of


@pytest.mark.parametrize('flip', [False, True])
def test_augmented_smpl_parameters_give_the_augmented_points(
    smpl_bodies, flip):
  records, jl_of = smpl_bodies
  config = augment_config_with(crop_size=32, on=('rotation', 'scale') +
                   (('flip',) if flip else ()))
  examples = [augment.process_example(r, config, (5, 0, i))
              for i, r in enumerate(records)]
  pose = np.stack([e['pose'] for e in examples])
  betas = np.stack([e['betas'] for e in examples])
  gender = np.stack([e['gender'] for e in examples])
  expected = np.stack([e['jl_cam'] - e['jl_cam'][0] for e in examples])
  got = jl_of(pose, betas, gender)
  # Without a flip: exact. With one, up to the default model's asymmetry:
  # its joints are mirror symmetric to 0.5 mm in the rest pose (about 1 mm
  # posed and shaped) and its landmark vertices are mirror pairs
  # (build_default_body_model.select_landmarks).
  np.testing.assert_allclose(got, expected, atol=3e-3 if flip else 2e-4)


def test_all_switches_off_is_the_plain_crop():
  record = stick_records(1)[0]
  plain = augment.process_example(record, augment.augment_config(), (1,),
                                  train=False)
  off = augment.augment_config()
  for name in helpers.AUGMENTATIONS:
    off[name].enabled = False
  example = augment.process_example(record, off, (1,), train=True)
  for key in plain:
    np.testing.assert_array_equal(example[key], plain[key], err_msg=key)


def test_background_replacement_changes_only_pixels_outside_the_mask():
  record = stick_records(1, image_size=96)[0]
  plain = augment.process_example(record, augment_config_with(), train=True)
  replaced = augment.process_example(
      record, augment_config_with(on=('background',)),
                                     (3,), train=True)
  inside = plain['mask'] >= 1.0
  outside = plain['mask'] <= 0.0
  assert inside.sum() > 50 and outside.sum() > 50
  np.testing.assert_allclose(replaced['image'][inside], plain['image'][inside],
                             atol=1e-6)
  changed = np.abs(replaced['image'] - plain['image']).max(axis=-1) > 1e-3
  assert changed[outside].mean() > 0.9
  # Without a real mask nothing is replaced.
  no_mask = dict(record, has_mask=np.int32(0))
  example = augment.process_example(
      no_mask, augment_config_with(on=('background',)),
                                    (3,), train=True)
  np.testing.assert_array_equal(example['image'], plain['image'])


def test_backgrounds_from_a_list_and_a_callable():
  record = stick_records(1, image_size=96)[0]
  red = np.zeros((50, 70, 3), np.uint8)
  red[..., 0] = 255
  config = augment_config_with(on=('background',))
  for backgrounds in ([red], lambda rng: red):
    example = augment.process_example(record, config, (0,),
                                      backgrounds=backgrounds)
    outside = example['mask'] <= 0.0
    np.testing.assert_allclose(example['image'][outside],
                               np.broadcast_to([1.0, 0.0, 0.0],
                                               example['image'][outside].shape),
                               atol=1e-6)


def test_occluders_cover_at_most_the_allowed_share_of_the_person():
  record = stick_records(1, image_size=96)[0]
  plain = augment.process_example(record, augment_config_with(), train=True)
  config = augment_config_with(on=('occluders',)).occluders
  config.max_coverage = 0.3
  for seed in range(10):
    shapes = augment._occluder_shapes(  # pylint: disable=protected-access
        config, np.random.default_rng(seed), 64, plain['mask'])
    person = plain['mask'] > 0.5
    assert (shapes & person).sum() <= 0.3 * person.sum()
  changed = 0
  for seed in range(5):
    example = augment.process_example(
        record, augment_config_with(on=('occluders',)),
                                      (seed,))
    changed += not np.allclose(example['image'], plain['image'])
    np.testing.assert_array_equal(example['jl_cube'], plain['jl_cube'])
  assert changed >= 4


def test_colour_noise_stays_in_range_and_keeps_geometry():
  record = stick_records(1)[0]
  plain = augment.process_example(record, augment_config_with(), train=True)
  config = augment_config_with(on=('colour',))
  config.colour.pixel_noise_std = 0.05
  example = augment.process_example(record, config, (2,))
  assert example['image'].min() >= 0.0 and example['image'].max() <= 1.0
  assert np.abs(example['image'] - plain['image']).mean() > 0.01
  np.testing.assert_array_equal(example['mask'], plain['mask'])
  np.testing.assert_array_equal(example['jl_cube'], plain['jl_cube'])


def test_record_errors_name_the_key():
  record = stick_records(1)[0]
  del record['focal']
  with pytest.raises(ValueError, match='focal'):
    augment.process_example(record, augment_config_with())


def test_garments_cover_the_person_and_keep_the_targets():
  records = stick_records(4, image_size=96)
  config = augment_config_with(crop_size=64, on=('garments',))
  for piece in ('skirt', 'dress', 'wide_trousers', 'loose_shirt', 'hair'):
    config.garments[piece] = 1.0
  plain_config = augment_config_with(crop_size=64)
  changed = 0
  for i, record in enumerate(records):
    dressed = augment.process_example(record, config, (2, 0, i))
    plain = augment.process_example(record, plain_config, (2, 0, i))
    for key in ('jl_cube', 'jl_cam', 'jl_valid', 'pose'):
      np.testing.assert_array_equal(dressed[key], plain[key])
    differs = np.any(dressed['image'] != plain['image'], axis=-1)
    # Garment pixels join the person mask; nothing else changes.
    assert np.all(dressed['mask'][differs] == 1.0)
    assert np.all(dressed['mask'] >= plain['mask'])
    changed += int(differs.sum())
    # Garments and hair stay near the body: inside the points' box + margin.
    rows, cols = np.nonzero(differs)
    if rows.size:
      uv = dressed['jl_crop'][:, :2]
      margin = 0.45 * 64 / 2.5  # 45 cm
      assert cols.min() >= uv[:, 0].min() - margin
      assert cols.max() <= uv[:, 0].max() + margin
      assert rows.min() >= uv[:, 1].min() - margin
      assert rows.max() <= uv[:, 1].max() + margin
  assert changed > 100  # with every piece's probability 1, something is drawn


def test_shadow_only_darkens_and_reaches_its_factor():
  record = stick_records(1, image_size=96)[0]
  plain = augment.process_example(record, augment_config_with(), (5,))
  config = augment_config_with(on=('shadow',))
  darkest = []
  for seed in range(6):
    shaded = augment.process_example(record, config, (seed,))
    assert np.all(shaded['image'] <= plain['image'] + 1e-6)
    for key in ('jl_cube', 'mask'):  # the labels do not move
      np.testing.assert_array_equal(shaded[key], plain[key])
    bright = plain['image'] > 0.05
    darkest.append(np.min(shaded['image'][bright] / plain['image'][bright]))
  # Each shadow has a core darkened by a factor in [0.35, 0.8].
  assert all(0.35 - 1e-3 <= d <= 0.8 + 1e-3 for d in darkest), darkest


def test_defocus_blurs_and_keeps_the_brightness():
  record = stick_records(1, image_size=96)[0]
  plain = augment.process_example(record, augment_config_with(), (5,))
  config = augment_config_with(on=('blur',))
  config.blur.max_sigma = 2.0
  # Seed 0 draws sigma 1.55 px (sigma ~ U(0, 2)).
  blurred = augment.process_example(record, config, (0,))['image']
  # Fine detail (second differences) fades; the range cannot widen.
  detail = lambda image: np.abs(np.diff(image, n=2, axis=0)).mean()
  assert detail(blurred) < 0.6 * detail(plain['image'])
  assert blurred.max() <= plain['image'].max() + 1e-6
  assert blurred.min() >= plain['image'].min() - 1e-6
  assert abs(blurred.mean() - plain['image'].mean()) < 2e-3
