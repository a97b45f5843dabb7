"""Tests of the synthetic image generator: records, determinism, ground truth.

Uses the default [female, male] body model; one compilation of the batch
renderer (batch of 4) is shared by all tests.
"""

import jax
import numpy as np
import pytest

from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import render, synthetic

_CONFIG = synthetic.SyntheticConfig(batch_size=4)
_SEED = 7


@pytest.fixture(scope='module')
def models():
  return gendered.load_gendered_models()


@pytest.fixture(scope='module')
def backgrounds():
  return synthetic.load_backgrounds()


@pytest.fixture(scope='module')
def records(models, backgrounds):
  """Examples 0..5 (two batches, the second one padded)."""
  return list(synthetic.render_examples(models, 6, _SEED, config=_CONFIG,
                                        backgrounds=backgrounds))


def test_record_format(records):
  assert len(records) == 6
  expected = {
      'image': (np.uint8, (256, 256, 3)), 'mask': (np.uint8, (256, 256)),
      'has_mask': (np.int32, ()), 'jl_cam': (np.float32, (42, 3)),
      'jl_valid': (np.float32, (42,)), 'focal': (np.float32, (2,)),
      'principal': (np.float32, (2,)), 'pose': (np.float32, (24, 3)),
      'betas': (np.float32, (10,)), 'gender': (np.int32, ()),
      'has_smpl': (np.int32, ())}
  for r in records:
    assert set(r) == set(expected)
    for key, (dtype, shape) in expected.items():
      assert r[key].dtype == dtype, key
      assert r[key].shape == shape, key
    assert set(np.unique(r['mask'])) <= {0, 1}
    assert r['mask'].sum() > 500  # a visible body
    assert r['has_mask'] == 1 and r['has_smpl'] == 1
    assert r['gender'] in (0, 1)
    np.testing.assert_array_equal(r['jl_valid'], 1.0)
    assert 200 <= r['focal'][0] <= 400 and r['focal'][0] == r['focal'][1]
    np.testing.assert_allclose(r['principal'], 127.5)
    assert 3.0 <= r['jl_cam'][0, 2] <= 10.0


def test_images_vary_and_body_differs_from_background(records):
  for r in records:
    image = r['image'].astype(np.float32)
    assert image.std() > 5.0
    body = image[r['mask'] == 1].mean(axis=0)
    ring = np.zeros_like(r['mask'], bool)  # background pixels near the body
    rows, cols = np.nonzero(r['mask'])
    ring[max(rows.min() - 10, 0):rows.max() + 10,
         max(cols.min() - 10, 0):cols.max() + 10] = True
    ring &= r['mask'] == 0
    background = image[ring].mean(axis=0)
    assert np.abs(body - background).max() > 1.0
  assert not np.array_equal(records[0]['image'], records[1]['image'])


def test_deterministic_per_index_whatever_the_chunking(models, backgrounds,
                                                       records):
  shifted = list(synthetic.render_examples(models, 2, _SEED, start=3,
                                           config=_CONFIG,
                                           backgrounds=backgrounds))
  for got, want in zip(shifted, records[3:5]):
    for key in want:
      np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)


def test_fallback_rasteriser_gives_the_same_images(models, backgrounds,
                                                  records):
  # Ranked classes far too small: every batch overflows and is re-rendered
  # with config.fallback_raster, which must reproduce the default images.
  config = synthetic.SyntheticConfig(
      batch_size=4, raster=render.RasterConfig(2, ((4, 8),)))
  got = list(synthetic.render_examples(models, 2, _SEED, config=config,
                                       backgrounds=backgrounds))
  for g, want in zip(got, records[:2]):
    np.testing.assert_array_equal(g['image'], want['image'])
    np.testing.assert_array_equal(g['mask'], want['mask'])


def test_whole_mesh_last_resort_gives_the_same_images(models, backgrounds,
                                                     records):
  # Both configs overflow: the batch is drawn by render.rasterize_mesh
  # (seed 7's render 112 did this with the default fallback: 90 faces).
  tiny = render.RasterConfig(2, ((4, 8),))
  config = synthetic.SyntheticConfig(batch_size=4, raster=tiny,
                                     fallback_raster=tiny)
  got = list(synthetic.render_examples(models, 2, _SEED, config=config,
                                       backgrounds=backgrounds))
  for g, want in zip(got, records[:2]):
    # Pixels on a shared edge may go to either face (same colour mostly).
    assert np.mean(g['mask'] != want['mask']) < 1e-3
    assert np.mean(np.any(g['image'] != want['image'], axis=-1)) < 5e-3


def test_ground_truth_matches_smpl_forward(models, records):
  pose = np.stack([r['pose'] for r in records])
  betas = np.stack([r['betas'] for r in records])
  gender = np.stack([r['gender'] for r in records])
  # The 42 points only (the landmark vertices skinned), jitted: fast.
  points = np.asarray(jax.jit(jl_lib.smpl_points)(
      jl_lib.landmark_points_model(models), pose, betas, gender))
  jl_cam = np.stack([r['jl_cam'] for r in records])
  np.testing.assert_allclose(jl_cam - jl_cam[:, :1], points, atol=2e-4)


def test_projected_points_land_on_the_body(records):
  torso = [0, 3, 6, 9]  # pelvis and spine joints: inside the body
  for r in records:
    p = r['jl_cam'].astype(np.float64)
    uv = p[:, :2] / p[:, 2:] * r['focal'] + r['principal']
    assert np.all((uv > -20) & (uv < 276))  # the body is (mostly) in frame
    for j in torso:
      u, v = np.round(uv[j]).astype(int)
      assert r['mask'][v - 1:v + 2, u - 1:u + 2].any(), j


def test_preview(records, tmp_path):
  path = synthetic.save_preview(records[:3], str(tmp_path / 'preview.png'))
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:
    assert image.size == (3 * 512, 256)


def test_config_from_mapping():
  config = synthetic.config_from_mapping({'batch_size': 8,
                                          'focal_range': [250.0, 300.0]})
  assert config.batch_size == 8 and config.focal_range == (250.0, 300.0)
  with pytest.raises(ValueError, match='unknown'):
    synthetic.config_from_mapping({'focal': 3})


@pytest.mark.slow  # ~13 s; the renders' format and truth are tested above
def test_unseen_style_changes_appearance_not_bodies(models):
  """style='unseen': the same bodies and cameras, other photographs and
  fabric; an unknown style is refused."""
  kwargs = dict(num_examples=2, seed=4, start=0)
  train = list(synthetic.render_examples(
      models, config=dict(image_size=64, batch_size=2), **kwargs))
  unseen = list(synthetic.render_examples(
      models, config=dict(image_size=64, batch_size=2, style='unseen'),
      **kwargs))
  for a, b in zip(train, unseen):
    np.testing.assert_array_equal(a['jl_cam'], b['jl_cam'])
    np.testing.assert_array_equal(a['mask'], b['mask'])
    assert np.abs(a['image'].astype(int) - b['image'].astype(int)).mean() > 5
  assert not set(synthetic.UNSEEN_BACKGROUND_PHOTOS) & set(
      synthetic.BACKGROUND_PHOTOS)
  with pytest.raises(ValueError, match="style must be 'train' or 'unseen'"):
    next(synthetic.render_examples(models, 1, 0, config=dict(style='odd')))
