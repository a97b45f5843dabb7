"""Alternative readings of a detection (smplr_jax.predict.hypotheses)."""

import numpy as np
import pytest

from smplr_jax.body import keypoints as kp
from smplr_jax.predict import hypotheses

SET = kp.BLAZEPOSE33
PERM = np.asarray(SET.left_right_permutation())


def _detection(seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(0, 0.4, (33, 3)), rng.uniform(0, 500, (33, 2)),
          rng.uniform(0, 1, 33))


def test_readings_relabel_and_mirror_depth():
  points, pixels, vis = _detection()
  out = hypotheses.readings(hypotheses.ONE_PASS, points, pixels, vis, PERM,
                            SET.centre_ids)
  assert list(out) == list(hypotheses.ONE_PASS)
  np.testing.assert_array_equal(out['detected'][0], points)
  swapped = out['left_right_swapped']
  # left_shoulder (11) reads the detected right_shoulder (12).
  np.testing.assert_array_equal(swapped[1][11], pixels[12])
  np.testing.assert_array_equal(swapped[0][PERM], points)
  mirrored = out['depth_mirrored'][0]
  hips = points[list(SET.centre_ids)].mean(0)
  np.testing.assert_allclose(mirrored[:, :2], points[:, :2])
  np.testing.assert_allclose(mirrored[:, 2] - hips[2], hips[2] - points[:, 2])
  np.testing.assert_array_equal(out['depth_mirrored'][1], pixels)
  turned = out['turned_around']
  np.testing.assert_allclose(turned[0], mirrored[PERM])
  np.testing.assert_array_equal(turned[1], pixels[PERM])


def test_mirrored_photo_maps_back():
  points, pixels, vis = _detection(1)
  width = 640
  # What a detector would return on the mirrored photo, mapped back.
  flipped_pixels = pixels.copy()
  flipped_pixels[:, 0] = width - 1 - pixels[:, 0]
  flipped = (points * [-1, 1, 1])[PERM], flipped_pixels[PERM], vis[PERM]
  back = hypotheses.unmirror(*flipped, PERM, width)
  for a, b in zip(back, (points, pixels, vis)):
    np.testing.assert_allclose(a, b)
  out = hypotheses.readings(hypotheses.ALL, points, pixels, vis, PERM,
                            SET.centre_ids, mirrored=back)
  assert list(out)[-1] == 'mirrored_photo'
  without = hypotheses.readings(hypotheses.ALL, points, pixels, vis, PERM,
                                SET.centre_ids)
  assert 'mirrored_photo' not in without  # nobody in the mirrored photo


def test_names_are_checked():
  assert hypotheses.check_names(['mirrored_photo', 'detected']) == (
      'detected', 'mirrored_photo')
  with pytest.raises(ValueError, match='unknown hypotheses'):
    hypotheses.check_names(['detected', 'upside_down'])
  with pytest.raises(ValueError, match="with 'detected'"):
    hypotheses.check_names(['mirrored_photo'])
