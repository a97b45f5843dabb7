"""The photo path's fit side without mediapipe (smplr_jax.predict.photo_path):
landmarks outside the photo, the gated second pass and the fused reading.

Detections are simulated: the true BlazePose landmarks of held-out bodies
(their world landmarks, hip-centred, and their pixels in a 640 x 480
camera), with seeded noise where a test needs it.
"""

import dataclasses

import jax
import numpy as np
import pytest

from smplr_jax import camera, fitting
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.data import sampler
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import hypotheses, keypoint_predictor, photo_path
from smplr_jax.predict import settings as settings_lib

SIZE = (640, 480)  # width, height
FOCAL = 600.0
NUM_BODIES = 4


@pytest.fixture(scope='module')
def reader():
  return keypoint_predictor.load_keypoint_predictor('blazepose33_3d',
                                                    use_dae=True)


@pytest.fixture(scope='module')
def bodies(reader):
  """Held-out bodies 3.5 m away: their true joints [N, 24, 3], BlazePose
  landmarks [N, 33, 3] (root-relative) and pixels [N, 33, 2]."""
  body = reader.body
  truth = sampler.make_test_set(body.gendered, size=NUM_BODIES, seed=3)
  points = fitting.fit_points_for(body, kp_lib.BLAZEPOSE33)
  posed = jax.device_get(fitting.fit_body(
      points, truth['pose'], truth['betas'], truth['gender'],
      points_3d=np.zeros((NUM_BODIES, 33, 3)), weights_3d=np.zeros(33),
      options=fitting.FitOptions(num_iterations=0)))
  landmarks = np.asarray(posed['keypoints'], np.float64)
  cam = landmarks + [0.0, 0.0, 3.5]
  pixels = cam[..., :2] / cam[..., 2:] * FOCAL + camera.principal_point(SIZE)
  return {'joints': np.asarray(posed['jl'])[:, :24], 'landmarks': landmarks,
          'pixels': pixels}


def _detection(bodies, i, noise=0.0, seed=0) -> detector_lib.Detection:
  rng = np.random.default_rng(seed)
  world = bodies['landmarks'][i] + rng.normal(0.0, noise, (33, 3))
  world = world - world[list(kp_lib.BLAZEPOSE33.centre_ids)].mean(0)
  return detector_lib.Detection(
      keypoints_2d=bodies['pixels'][i], keypoints_3d=world,
      visibility=np.ones(33), box=np.array([0.0, 0.0, *SIZE]))


def _path(reader, **settings):
  return photo_path.PhotoPath(None, reader, settings=dataclasses.replace(
      settings_lib.PhotoSettings(), **settings))


class _SecondPass:
  """The mirrored photo's detection, counting the calls."""

  def __init__(self, detection):
    self.detection, self.calls = detection, 0

  def __call__(self):
    self.calls += 1
    return self.detection


def _as_mirrored(detection: detector_lib.Detection) -> detector_lib.Detection:
  """The detection of the mirrored photo that maps back to `detection`
  (`hypotheses.unmirror` is its own inverse)."""
  world, pixels, visibility = hypotheses.unmirror(
      detection.keypoints_3d, detection.keypoints_2d, detection.visibility,
      kp_lib.BLAZEPOSE33.left_right_permutation(), SIZE[0])
  return detector_lib.Detection(pixels, world, visibility, detection.box)


def test_a_landmark_outside_the_photo_gets_no_weight(reader):
  path = _path(reader)
  pixels = np.array([[10.0, 10.0], [639.0, 479.0], [-1.0, 100.0],
                     [100.0, 480.5], [700.0, 500.0]])
  visibility = np.array([1.0, 0.0, 1.0, 1.0, 0.5])
  np.testing.assert_array_equal(camera.inside_image(pixels, SIZE),
                                [True, True, False, False, False])
  weights = path.point_weights(visibility, pixels, SIZE)
  low = path.settings.min_point_weight
  np.testing.assert_allclose(weights, [1.0, low, 0.0, 0.0, 0.0])
  # Without the photo's size, visibility alone (as a clip's fit asks).
  np.testing.assert_allclose(path.point_weights(visibility),
                             [1.0, low, 1.0, 1.0, low + (1 - low) * 0.5])


def test_truncated_legs_come_from_the_prior(reader, bodies):
  """A photo cut above the knees: BlazePose's guesses for the legs outside
  it move the body unless the adapter and the fit leave them out (the
  default: SMPLR's pose, the prior, places them, whatever the guesses)."""
  i = 0
  detection = _detection(bodies, i)
  knees_down = np.array([25, 26, 27, 28, 29, 30, 31, 32])
  height = int(bodies['pixels'][i][knees_down, 1].min()) - 1
  assert height < SIZE[1]
  ankles = [7, 8]  # SMPL joints
  moved = {}
  for weight, skips in ((1.0, False), (0.0, True)):
    path = _path(reader, outside_point_weight=weight,
                 adapter_skips_outside=skips)
    found = []
    for shift in (-0.5, 0.5):  # two sets of wrong guesses, 1 m apart
      world = detection.keypoints_3d.copy()
      world[knees_down, 0] += shift
      found.append(path.predict_detection(
          dataclasses.replace(detection, keypoints_3d=world),
          (SIZE[0], height), focal=FOCAL)['joints'][ankles])
    moved[weight, skips] = np.linalg.norm(found[1] - found[0],
                                          axis=-1).mean()
  assert moved[0.0, True] < 1e-4, moved
  assert moved[1.0, False] > 0.3, moved


def test_the_second_pass_runs_only_when_the_reading_is_ambiguous(reader,
                                                                 bodies):
  clean = _detection(bodies, 1)
  second = _SecondPass(_as_mirrored(clean))
  out = _path(reader).predict_detection(clean, SIZE, FOCAL, second)
  assert second.calls == 0 and out['hypothesis'] == 'detected'
  assert out['fit_cost'] < settings_lib.PhotoSettings().second_pass_cost
  assert list(out['hypothesis_costs']) == ['detected']
  # An ambiguous reading (its fit costs more than the threshold).
  out = _path(reader, second_pass_cost=0.5 * out['fit_cost']
              ).predict_detection(clean, SIZE, FOCAL, second)
  assert second.calls == 1
  assert list(out['hypothesis_costs']) == ['detected', 'mirrored_photo',
                                           'fused']
  # No second pass where the photo path was not asked for it.
  out = _path(reader, second_pass_cost=0.0, hypotheses=('detected',)
              ).predict_detection(clean, SIZE, FOCAL, second)
  assert second.calls == 1 and out['hypothesis'] == 'detected'


def test_the_fused_reading_averages_the_two_passes(reader, bodies):
  """Two readings with independent noise: the body fitted to their mean
  is closer to the truth than the body fitted to the detection alone."""
  gains = []
  for i in range(NUM_BODIES):
    first = _detection(bodies, i, noise=0.08, seed=i)
    other = _detection(bodies, i, noise=0.08, seed=100 + i)
    alone = _path(reader, second_pass_cost=np.inf).predict_detection(
        first, SIZE, FOCAL, _SecondPass(_as_mirrored(other)))
    fused = _path(reader, second_pass_cost=-np.inf,
                  hypothesis_margin=1e-6).predict_detection(
                      first, SIZE, FOCAL, _SecondPass(_as_mirrored(other)))
    assert fused['hypothesis'] == 'fused'
    # The fused body is the fit to the mean of the two readings.
    mean = detector_lib.Detection(
        first.keypoints_2d, (first.keypoints_3d + other.keypoints_3d) / 2,
        first.visibility, first.box)
    of_mean = _path(reader, second_pass_cost=np.inf).predict_detection(
        mean, SIZE, FOCAL)
    np.testing.assert_allclose(fused['joints'], of_mean['joints'],
                               atol=1e-5)
    assert np.abs(fused['joints'] - alone['joints']).max() > 0.01
    truth = bodies['joints'][i]
    gains.append(
        np.linalg.norm(alone['joints'] - truth, axis=-1)[1:].mean() -
        np.linalg.norm(fused['joints'] - truth, axis=-1)[1:].mean())
  # Seeded: 2.4 mm on average over the 4 bodies.
  assert np.mean(gains) > 0.001, gains


def test_fuse_and_choose():
  a = (np.zeros((33, 3)), np.zeros((33, 2)), np.ones(33))
  b = (np.ones((33, 3)), np.full((33, 2), 4.0), np.zeros(33))
  fused = hypotheses.fuse([a, b])
  np.testing.assert_allclose(fused[0], 0.5)
  np.testing.assert_allclose(fused[1], 2.0)
  np.testing.assert_allclose(fused[2], 0.5)
  names = ['detected', 'mirrored_photo', 'fused']
  # The mirrored reading wins only under margin x the detected cost.
  assert photo_path.choose(names, [10.0, 7.0, 1.0], 0.8) == 1
  # Otherwise the fused reading replaces the detected one.
  assert photo_path.choose(names, [10.0, 9.0, 50.0], 0.8) == 2
  assert photo_path.choose(names[:2], [10.0, 9.0], 0.8) == 0
