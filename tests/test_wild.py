"""Tests of the wild evaluation set (`smplr_jax.evaluation.wild`): its
ground truth agrees with its pictures, and its matching and metrics give
known answers on hand-made cases.

The set is rendered small (`size_scale`) and shared by the tests (one
module fixture); phone photos stay 4000 x 3000.
"""

import math

import numpy as np
import pytest

from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.evaluation import wild

_SCALE = 0.25  # 512 px -> 128 px; phone photos render at 200 x 150
_SEED = wild.TUNING_SEED


@pytest.fixture(scope='module')
def photos():
  """Two photos of each category but the phone's (one)."""
  out = wild.render_wild_set(
      _SEED, 2, [c for c in wild.CATEGORIES if c != 'phone_4000x3000'],
      empty_photos=2, size_scale=_SCALE)
  out += [wild.render_photo(_SEED, 'phone_4000x3000', 0, size_scale=0.2)]
  return {c: [p for p in out if p.category == c] for c in wild.CATEGORIES}


def _joints_on_mask(photo):
  """(on own mask, total) over every person's joints inside the photo and
  not covered by a nearer person."""
  on, total = 0, 0
  for number, person in enumerate(photo.people):
    seen = person['joint_in_photo'] & ~person['joint_occluded']
    px = np.round(person['joint_pixels'][seen]).astype(int)
    on += int(np.sum(photo.person_map[px[:, 1], px[:, 0]] == number))
    total += len(px)
  return on, total


def test_projected_joints_land_on_their_person(photos):
  on, total = 0, 0
  for category, items in photos.items():
    for photo in items:
      a, b = _joints_on_mask(photo)
      on, total = on + a, total + b
      for person in photo.people:
        # The truth's own numbers agree with each other.
        cam = person['joints'] + person['root_cam']
        np.testing.assert_allclose(person['joints_cam'], cam, atol=1e-9)
        px = cam[:, :2] / cam[:, 2:] * person['focal'] + person['principal']
        np.testing.assert_allclose(person['joint_pixels'], px, atol=1e-6)
        np.testing.assert_allclose(person['focal'], photo.focal)
        assert person['pose'].shape == (24, 3, 3)
        assert person['vertices_cam'].shape[1] == 3
        assert person['gender'] in (0, 1), category
  assert total > 200
  assert on / total > 0.97, (on, total)


def test_closeups_are_close(photos):
  for category in ('closeup_head_shoulders', 'closeup_waist_up',
                   'closeup_knees_up'):
    for photo in photos[category]:
      width, height = photo.size
      (person,) = photo.people
      assert person['height_px'] >= height, (category, person['height_px'])
      assert not person['joint_in_photo'].all(), category
      # Parts outside the frame: the ankles (7, 8) always are.
      assert not person['joint_in_photo'][[7, 8]].any(), category
      assert person['head_in_view'], category
  for category in ('closeup_head_shoulders', 'closeup_waist_up'):
    for photo in photos[category]:
      # Standing 2.6-3.2 (1.8-2.2) photo heights; posed at least 80% of it.
      assert photo.people[0]['height_px'] >= 1.4 * photo.size[1]
      # No knee (4, 5) in the photo.
      assert not photo.people[0]['joint_in_photo'][[4, 5]].any(), category


def test_cut_by_edge_crosses_its_edge(photos):
  for photo in photos['cut_by_edge']:
    width, height = photo.size
    (person,) = photo.people
    x0, y0, x1, y1 = person['box_full']
    crossed = {'left': x0 < -0.2 * (x1 - x0),
               'right': x1 > width - 1 + 0.2 * (x1 - x0),
               'top': y0 < -0.2 * (y1 - y0),
               'bottom': y1 > height - 1 + 0.2 * (y1 - y0)}
    assert crossed[person['edge']], (person['edge'], person['box_full'])
    assert 0 < person['joint_in_photo'].sum() < 24


def test_groups_have_their_people_and_overlap(photos):
  for photo in photos['two_side_by_side']:
    assert len(photo.people) == 2
  overlapping = 0
  for photo in photos['group_3_to_5'] + photos['two_side_by_side']:
    assert 2 <= len(photo.people) <= 5
    boxes = np.stack([p['box'] for p in photo.people])
    iou = wild.box_iou(boxes, boxes)
    overlapping += int(np.any(iou[np.triu_indices(len(boxes), 1)] > 0))
    # Each person is seen somewhere, and the map holds exactly them.
    assert set(np.unique(photo.person_map)) - {-1} <= set(
        range(len(photo.people)))
  for photo in photos['group_3_to_5']:
    assert 3 <= len(photo.people) <= 5
  assert overlapping >= 2


def test_empty_photos_have_no_one(photos):
  for photo in photos['empty']:
    assert photo.people == []
    assert np.all(photo.person_map == -1)
    assert photo.image.std() > 5  # a background photograph, not a blank


def test_phone_photos_are_4000_by_3000(photos):
  (photo,) = photos['phone_4000x3000']
  assert photo.image.shape == (3000, 4000, 3)
  assert photo.person_map.shape == (3000, 4000)
  np.testing.assert_allclose(photo.principal, [1999.5, 1499.5])
  on, total = _joints_on_mask(photo)
  assert total > 20 and on / total > 0.97
  for person in photo.people:
    assert person['height_px'] > 1000


def test_exposure_variants(photos):
  grey = photos['grayscale'][0].image.astype(int)
  # Grey up to the sensor noise (added per channel after the grey).
  assert np.abs(grey[..., 0] - grey[..., 1]).mean() < 4
  dark = np.mean([p.image.mean() for p in photos['dark']])
  bright = np.mean([p.image.mean() for p in photos['bright']])
  full = np.mean([p.image.mean() for p in photos['full_body']])
  assert dark < 0.5 * full < bright


def test_rendering_is_deterministic(photos):
  again = wild.render_photo(_SEED, 'two_side_by_side', 1,
                            size_scale=_SCALE)
  first = photos['two_side_by_side'][1]
  np.testing.assert_array_equal(again.image, first.image)
  np.testing.assert_array_equal(again.people[0]['joints_cam'],
                                first.people[0]['joints_cam'])
  other = wild.render_photo(_SEED + 1, 'two_side_by_side', 1,
                            size_scale=_SCALE)
  assert (other.image.shape != first.image.shape or
          not np.array_equal(other.image, first.image))


def test_unknown_category_is_named():
  with pytest.raises(ValueError, match='unknown wild categories'):
    wild.render_wild_set(1, 1, ['selfie'])


# ----------------------------------------------------------------------------
# Matching and metrics on hand-made cases.


def _prediction_of(person):
  """A perfect prediction: the truth's own body."""
  return {'vertices': person['vertices'], 'joints': person['joints'],
          'jl_body': person['jl'], 'root_cam': person['root_cam'],
          'focal': float(person['focal'][0]), 'box': person['box'],
          'betas': person['betas'], 'gender': person['gender'],
          'male_probability': float(person['gender']),
          'faces': np.asarray(wild._models().faces)}  # pylint: disable=protected-access


def test_match_and_count():
  similarity = np.array([[0.9, 0.1], [0.5, 0.4], [0.0, 0.0]])
  pairs = wild.match_people(similarity)
  assert pairs == [(0, 0), (1, 1)]
  assert wild.count_people(pairs, 3, [True, True]) == {
      'findable': 2, 'found': 2, 'false': 1}
  # A missing person lowers the recall.
  pairs = wild.match_people(similarity[:1])
  assert wild.count_people(pairs, 1, [True, True])['found'] == 1
  # A person too small to count is neither found nor false when matched.
  assert wild.count_people([(0, 1)], 1, [True, False]) == {
      'findable': 1, 'found': 0, 'false': 0}
  assert wild.match_people(np.zeros((2, 0))) == []
  np.testing.assert_allclose(
      wild.box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]),
      [[1 / 3, 0.0]])


def test_evaluate_photo_on_perfect_and_missing_people(photos):
  photo = photos['two_side_by_side'][0]
  predictions = [_prediction_of(p) for p in photo.people]
  result = wild.evaluate_photo(photo, predictions, silhouettes=False)
  findable = sum(p['findable'] for p in photo.people)
  assert result['counts'] == {'findable': findable, 'found': findable,
                              'false': 0}
  for row in result['people']:
    for key in ('p1_23', 'p2_24', 'height_error', 'bone_error'):
      assert abs(row[key]) < 1e-4, (key, row[key])
    assert row['gender_label'] == ('male' if row['gender_true'] else
                                   'female')
  # One person missing.
  result = wild.evaluate_photo(photo, predictions[1:], silhouettes=False)
  assert result['counts']['found'] == findable - int(
      photo.people[0]['findable'])
  assert len(result['people']) == 1
  # A prediction on an empty photo is a false person.
  empty = photos['empty'][0]
  shifted = dict(predictions[0], root_cam=np.array([0.0, 0.0, 3.0]))
  result = wild.evaluate_photo(empty, [shifted], silhouettes=False)
  assert result['counts'] == {'findable': 0, 'found': 0, 'false': 1}
  row = wild.summarise([result])
  assert row['false'] == 1 and math.isnan(row['recall'])


def test_pose_errors_use_the_in_photo_joints():
  rng = np.random.default_rng(0)
  truth = rng.normal(size=(24, 3))
  truth -= truth[0]
  pred = truth.copy()
  pred[7] += [0.0, 0.3, 0.0]  # a wrong ankle, outside the photo
  in_photo = np.ones(24, bool)
  in_photo[[7, 8, 10, 11]] = False
  errors = wild.pose_errors(pred, truth, in_photo)
  assert errors['p1_in'] == pytest.approx(0.0, abs=1e-9)
  assert errors['p2_in'] == pytest.approx(0.0, abs=1e-6)
  assert errors['p1_23'] == pytest.approx(0.3 / 23)
  assert errors['p2_24'] > 0
  nothing = wild.pose_errors(pred, truth, np.zeros(24, bool))
  assert math.isnan(nothing['p1_in']) and math.isnan(nothing['p2_in'])


def test_gender_counts_and_calibration():
  # Ten people at P(male) = 0.95, five of them men: ECE = 0.45.
  assert metrics_lib.expected_calibration_error(
      [0.95] * 10, [1] * 5 + [0] * 5) == pytest.approx(0.45)
  assert metrics_lib.expected_calibration_error([0.0, 1.0], [0, 1]) == 0.0
  base = {'p1_in': 0.1, 'p2_in': 0.1, 'p1_23': 0.1, 'p2_24': 0.1,
          'findable': True, 'height_error': 0.02, 'bone_error': 0.01}
  people = [dict(base, gender_true=0, gender_label='male',
                 male_probability=0.97),  # confidently wrong
            dict(base, gender_true=1, gender_label='male',
                 male_probability=0.8),
            dict(base, gender_true=1, gender_label='unknown',
                 male_probability=0.5)]
  result = {'counts': {'findable': 3, 'found': 3, 'false': 0},
            'people': people, 'silhouette_iou': [1.0, 0.5, 0.9]}
  row = wild.summarise([result])
  assert row['confident_wrong'] == 1
  assert row['gender_unknown'] == 1
  assert row['gender_accuracy'] == pytest.approx(50.0)
  assert row['height_error'] == pytest.approx(20.0)
  assert row['silhouette_iou_min'] == 0.5
  assert wild.gender_label({'gender': 2}) == 'unknown'
  assert wild.gender_label({'gender': 0, 'gender_label': 'unknown'}) == (
      'unknown')
  table = wild.format_table({'full_body': row})
  assert '| full_body | 1 | 3 | 100 |' in table


def _cube(centre, side):
  corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1)
                      for z in (0, 1)], np.float64) - 0.5
  faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],
                    [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],
                    [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
  return corners * side + centre, faces


def test_polygon_silhouette_matches_the_rasteriser():
  vertices, faces = _cube(np.array([0.05, -0.02, 2.0]), 0.5)
  # The cube's faces all wind counter-clockwise seen from outside.
  centre = vertices.mean(0)
  corners = vertices[faces]
  normal = np.cross(corners[:, 1] - corners[:, 0],
                    corners[:, 2] - corners[:, 0])
  assert np.all(np.einsum('fi,fi->f', normal,
                          corners.mean(1) - centre) > 0)
  focal, principal = np.array([100.0, 100.0]), np.array([39.5, 29.5])
  polygons = wild.polygon_silhouette(vertices, faces, focal, principal,
                                     60, 80)
  raster = wild.rasterize(vertices, faces, focal, principal, 60, 80) >= 0
  assert wild.mask_iou(polygons, raster) > 0.99
  # The front face alone: 0.5 m at 1.75 m -> ~28.6 px on a side.
  assert 26**2 < polygons.sum() < 34**2
  # A floor 0.5 m below the camera from 1 m behind it to 5 m ahead: clipped
  # at the near plane, it fills the rows below v = cy + f 0.5 / 5.
  floor = np.array([[-10, 0.5, -1], [10, 0.5, -1], [10, 0.5, 5],
                    [-10, 0.5, 5]], np.float64)
  drawn = wild.polygon_silhouette(floor, np.array([[0, 1, 2], [0, 2, 3]]),
                                  focal, principal, 60, 80)
  assert drawn[41:].all() and not drawn[:39].any()
  # A cube behind the camera is not drawn.
  behind, _ = _cube(np.array([0.0, 0.0, -2.0]), 0.5)
  assert not wild.polygon_silhouette(behind, faces, focal, principal, 60,
                                     80).any()


def test_silhouette_iou_of_a_perfect_overlay(photos):
  photo = photos['closeup_waist_up'][0]
  iou = wild.silhouette_iou(_prediction_of(photo.people[0]), photo)
  assert iou >= 0.99  # the target: pixel-centre rule on both sides
