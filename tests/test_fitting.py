"""The fitting layer (smplr_jax.fitting): Jacobians, recovery, priors, 2D."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from smplr_jax import camera, fitting
from smplr_jax.body import gendered, limits, rotations
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import sampler
from smplr_jax.fitting import points as points_lib
from smplr_jax.fitting import priors, solver

B = 4  # one compilation of the 3D and one of the 2D fit serve every test
INTRINSICS = np.array([[1000.0, 0.0, 500.0], [0.0, 1000.0, 480.0],
                       [0.0, 0.0, 1.0]])


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load()


@pytest.fixture(scope='module')
def bodies(body):
  return sampler.make_test_set(body.gendered, size=B, seed=3)


def _perturbed(bodies, angle=0.15, seed=0):
  """A start off the truth: every joint turned by ~angle rad, betas off by
  ~0.5, gender as a predictor's probability of male."""
  keys = jax.random.split(jax.random.PRNGKey(seed))
  turn = angle * jax.random.normal(keys[0], (B, 24, 3))
  pose = bodies['pose'] @ rotations.axis_angle_to_matrix(turn)
  betas = bodies['betas'] + 0.5 * jax.random.normal(keys[1], (B, 10))
  return dict(pose=pose, betas=betas,
              gender=np.where(bodies['gender'] == 1, 0.9, 0.2))


def _fit_jl(body, jl, init, **kwargs):
  """`fit_body` on the 42 JL from `init`'s pose, betas and gender, with the
  mesh (`with_mesh`) and, with pixels, root_cam."""
  fitted = fitting.fit_body(fitting.fit_points_for(body), init['pose'],
                            init['betas'], init['gender'], points_3d=jl,
                            **kwargs)
  out = fitting.with_mesh(body, fitted, init)
  if 'root_cam' in fitted:
    out['root_cam'] = fitted['root_cam']
  return out


@jax.jit
def _root_at_depth(points_model, pose, betas, gender, rays, weights, depth):
  """[B, 3] the start body's root at a known depth [B]: its x, y put the
  start's JL [B, 42, 3] on their rays [B, 42, 2]."""
  points = jl_lib.smpl_points(points_model, pose, betas, gender)
  return camera.root_from_rays(points, rays, weights, depth=depth)


def _errors_mm(out, jl):
  points = np.concatenate([out['joints'], out['landmarks']], axis=1)
  return np.linalg.norm(points - jl, axis=-1) * 1000


def test_jacobians_match_autodiff(body, bodies):
  model = jax.tree.map(lambda x: x[1], points_lib.select_bodies(
      body.points, jnp.asarray(bodies['gender']), 10))
  rot, betas = jnp.asarray(bodies['pose'][1]), jnp.asarray(bodies['betas'][1])
  parents = body.points.parents

  def points(params):
    increment = params[:72].reshape(24, 3)
    return points_lib.points_and_jacobian(
        model, rot @ rotations.axis_angle_to_matrix(increment),
        betas + params[72:], parents, False)[0]

  _, jac = jax.jit(lambda: points_lib.points_and_jacobian(
      model, rot, betas, parents, True))()
  auto = jax.jit(jax.jacfwd(points))(jnp.zeros(82))
  np.testing.assert_allclose(jac, auto, atol=2e-6)
  assert np.abs(auto).max() > 0.5  # not trivially zero
  # The joint-limit prior: Euler angles as `rotations.matrix_to_euler` in
  # each joint's order, and their rates.
  turns = rotations.axis_angle_to_matrix(
      jnp.asarray(np.random.RandomState(0).randn(24, 3) * 0.5, jnp.float32))
  zero_limits = jnp.zeros((24, 3, 2))  # the excess is then the angles

  def excess(increment):
    return priors.euler_excess(turns @ rotations.axis_angle_to_matrix(
        increment), zero_limits, False)[0]

  angles, rates = jax.jit(lambda: priors.euler_excess(turns, zero_limits,
                                                      True))()
  for joint in (1, 4, 7, 13, 16, 20):
    np.testing.assert_allclose(angles[joint - 1], rotations.matrix_to_euler(
        turns[joint], limits.JOINT_EULER_ORDERS[joint]), atol=1e-6)
  auto = jax.jit(jax.jacfwd(excess))(jnp.zeros((24, 3)))  # [23, 3, 24, 3]
  auto = auto[np.arange(23), :, np.arange(1, 24)]  # own joint's block
  np.testing.assert_allclose(rates, auto, atol=1e-5)


@pytest.mark.slow  # ~10 s; the keypoint fits below cover fit_body
def test_fit_body_recovers_clean_bodies_from_jl(body, bodies):
  init = _perturbed(bodies)
  fitted = fitting.fit_body(fitting.fit_points_for(body), init['pose'],
                            init['betas'], init['gender'],
                            points_3d=bodies['jl'])
  out = fitting.with_mesh(body, fitted, init)
  before = _errors_mm(gendered.posed_body(body.gendered, init['pose'],
                                        init['betas'],
                                        jnp.asarray(bodies['gender'])),
                      bodies['jl'])
  after = _errors_mm(out, bodies['jl'])
  assert before.mean() > 30.0
  assert after.mean() < 2.0 and after.max() < 10.0
  # Stature; the other betas are seen less well by 42 points.
  np.testing.assert_allclose(out['betas'][:, 0], bodies['betas'][:, 0],
                             atol=0.05)
  # The predictor's keys and conventions.
  assert out['vertices'].shape == (B, 13718, 3)
  np.testing.assert_allclose(out['joints'][:, 0], 0.0, atol=1e-6)
  ids = np.asarray(body.gendered.landmark_vertex_ids)
  np.testing.assert_allclose(out['landmarks'], out['vertices'][:, ids],
                             atol=1e-6)
  np.testing.assert_allclose(jnp.linalg.det(out['pose']), 1.0, atol=1e-4)
  np.testing.assert_array_equal(out['gender'], init['gender'])
  np.testing.assert_array_equal(out['fit_cost'], fitted['cost'])
  # The points model's JL and keypoints (the identity readout) are the
  # mesh's.
  mesh_jl = np.concatenate([out['joints'], out['landmarks']], axis=1)
  np.testing.assert_allclose(fitted['jl'], mesh_jl, atol=1e-5)
  np.testing.assert_array_equal(fitted['keypoints'], fitted['jl'])
  assert 'root_cam' not in fitted  # no pixels, no root
  with pytest.raises(ValueError, match=r'points_3d must be \[B, 42, 3\]'):
    fitting.fit_body(fitting.fit_points_for(body), init['pose'],
                     init['betas'], init['gender'],
                     points_3d=bodies['jl'][:, :24])


@pytest.mark.slow  # ~9 s
def test_refine_prediction_replaces_the_body_and_keeps_the_rest(body,
                                                                bodies):
  """A predictor's dict refined to its `jl_smplr_input`: the fitted body
  (numpy) in place of the predicted one, fit_cost added, gender and every
  other key kept."""
  init = _perturbed(bodies)
  prediction = dict(init, jl_smplr_input=np.asarray(bodies['jl']),
                    faces=np.arange(6).reshape(2, 3))
  out = fitting.refine_prediction(prediction, body)
  expected = _fit_jl(body, bodies['jl'], init)
  for key in ('pose', 'betas', 'jl_body', 'joints', 'landmarks', 'vertices',
              'fit_cost'):
    assert isinstance(out[key], np.ndarray), key
    np.testing.assert_array_equal(out[key], expected[key])
  for key in ('gender', 'jl_smplr_input', 'faces'):
    assert out[key] is prediction[key], key


@pytest.mark.slow  # ~8 s
def test_priors_alone_keep_the_pose_within_limits(body, bodies):
  """No visible point: betas go to the prior's mean, the pose stays at the
  start except for a joint beyond its limits, which is pulled back."""
  pose = np.array(bodies['pose'])
  knee = 4  # left knee: flexion 0..135 degrees about x
  pose[:, knee] = np.asarray(rotations.euler_to_matrix(
      jnp.asarray([np.deg2rad(-30.0), 0.0, 0.0]), 'XZY'))
  out = fitting.fit_body(fitting.fit_points_for(body), pose,
                         bodies['betas'], bodies['gender'],
                         points_3d=bodies['jl'], weights_3d=np.zeros((B, 42)))
  np.testing.assert_allclose(out['betas'], 0.0, atol=1e-3)
  others = np.arange(24) != knee
  np.testing.assert_allclose(out['pose'][:, others], pose[:, others],
                             atol=1e-3)
  flexion = np.rad2deg(rotations.matrix_to_euler(out['pose'][:, knee],
                                                 'XZY')[:, 0])
  assert np.all(flexion > -2.0 - 1.0)  # the margin and a soft prior's slack


def test_robust_weights_ignore_an_outlier(body, bodies):
  target = np.array(bodies['jl'])
  target[0, 20] += [0.3, -0.2, 0.25]  # a wrist 45 cm off
  out = _fit_jl(body, target, _perturbed(bodies, seed=1))
  errors = _errors_mm(out, bodies['jl'])
  assert errors[0, 20] < 25.0  # the true wrist, not the outlier
  assert errors.mean() < 3.0
  assert np.linalg.norm(np.concatenate(
      [out['joints'], out['landmarks']], 1)[0, 20] - target[0, 20]) > 0.4


def test_fit_body_2d_at_a_known_depth_matches_keypoints_and_finds_the_root(
    body, bodies):
  """Pixels of the 42 JL with the root's depth known (a 2D detector and a
  depth from elsewhere): the start root's x, y from the rays
  (`camera.root_from_rays`), then x, y fitted with the depth kept."""
  root = np.array([[0.2, -0.1, 4.0], [-0.3, 0.2, 5.5], [0.0, 0.0, 3.0],
                   [0.4, 0.3, 6.0]])
  in_camera = bodies['jl'] + root[:, None]
  keypoints = in_camera[..., :2] / in_camera[..., 2:] * 1000.0 + [500.0,
                                                                 480.0]
  init = _perturbed(bodies, angle=0.1, seed=2)
  focal, principal = camera.split_intrinsics(INTRINSICS, B)
  start_root = _root_at_depth(
      body.points, init['pose'], init['betas'],
      fitting.gender_index(init['gender']),
      camera.normalised(keypoints, focal[:, None], principal[:, None]),
      np.ones((B, 42), np.float32), jnp.asarray(root[:, 2], jnp.float32))
  np.testing.assert_allclose(start_root, root, atol=0.1)  # a start, near
  points = fitting.fit_points_for(body)
  fitted = fitting.fit_body(points, init['pose'], init['betas'],
                            init['gender'], pixels=keypoints,
                            intrinsics=INTRINSICS, root_cam=start_root,
                            solve_depth=False)
  out = dict(fitting.with_mesh(body, fitted, init),
             root_cam=fitted['root_cam'])
  np.testing.assert_allclose(out['root_cam'], root, atol=0.01)
  np.testing.assert_array_equal(out['root_cam'][:, 2], start_root[:, 2])
  fitted = np.concatenate([out['joints'], out['landmarks']], 1) + \
      np.asarray(out['root_cam'])[:, None]
  pixels = fitted[..., :2] / fitted[..., 2:] * 1000.0 + [500.0, 480.0]
  assert np.abs(pixels - keypoints).mean() < 0.5
  before = _errors_mm(gendered.posed_body(body.gendered, init['pose'],
                                        init['betas'],
                                        jnp.asarray(bodies['gender'])),
                      bodies['jl'])
  # 2D alone leaves depth to the priors: 3D error still drops a lot.
  assert _errors_mm(out, bodies['jl']).mean() < 0.5 * before.mean()
  with pytest.raises(ValueError, match=r'pixels must be \[B, 42, 2\]'):
    fitting.fit_body(points, init['pose'], init['betas'], init['gender'],
                     pixels=keypoints[..., :1], intrinsics=INTRINSICS,
                     root_cam=start_root, solve_depth=False)
  with pytest.raises(ValueError, match='solve_depth=False needs root_cam'):
    fitting.fit_body(points, init['pose'], init['betas'], init['gender'],
                     pixels=keypoints, intrinsics=INTRINSICS,
                     solve_depth=False)


@pytest.mark.slow  # loads and compiles the image pipeline (~40 s)
def test_pipeline_and_demo_refine(tmp_path):
  """The crop path's refine switch (`fitting.refine_prediction` after
  SMPLR) and the demo's --refine."""
  # The layer above, imported here: the other tests need none of it.
  from smplr_jax.predict import demo  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  predictor = predictor_lib.load_pipeline(refine=True)
  size = predictor.input_size
  crop = np.random.RandomState(0).randint(0, 256, (size, size, 3), np.uint8)
  refined = predictor.predict_crops(crop)
  predictor.crop_path.refine = False
  plain = predictor.predict_crops(crop)
  np.testing.assert_array_equal(refined['jl_smplr_input'],
                                plain['jl_smplr_input'])
  np.testing.assert_array_equal(refined['gender'], plain['gender'])
  np.testing.assert_allclose(refined['jl_body'][:, :24], refined['joints'])
  assert refined['fit_cost'].shape == (1,)

  def gap(out):  # the body's JL vs SMPLR's input
    return np.abs(out['jl_body'] - out['jl_smplr_input']).mean()

  assert gap(refined) < 0.5 * gap(plain)
  photo = tmp_path / 'photo.png'
  Image.fromarray(np.random.RandomState(1).randint(
      0, 256, (200, 160, 3), np.uint8)).save(photo)
  paths = demo.run(str(photo), '20,10,140,190', str(tmp_path / 'out'),
                   refine=True)
  assert json.loads(paths['json'].read_text())['refined'] is True


@pytest.mark.parametrize('set_name', [
    pytest.param('jl42', marks=pytest.mark.slow), 'blazepose33',
    # The same code with other readouts; ~5-8 s each: run with -m slow.
    pytest.param('coco17', marks=pytest.mark.slow),
    pytest.param('h36m17', marks=pytest.mark.slow)])
def test_keypoint_set_jacobians_match_autodiff(body, bodies, set_name):
  """The data terms' Gauss-Newton gradient J^T W r (3D hip-aligned points
  and 2D reprojection with the root free) equals autodiff of half the
  least-squares cost, for every keypoint set's points model."""
  points = fitting.fit_points_for(body, set_name)
  model = jax.tree.map(lambda x: x[1], points_lib.select_bodies(
      points.model, jnp.asarray(bodies['gender']), 10))
  rot, betas = jnp.asarray(bodies['pose'][1]), jnp.asarray(bodies['betas'][1])
  num = points.num_keypoints
  rng = np.random.RandomState(0)
  readouts = solver._Readouts(jnp.asarray(points.hip_aligned_readout()),
                              jnp.asarray(points.readout))
  data = solver._Data(
      jnp.asarray(rng.normal(0, 0.3, (num, 3)), jnp.float32),
      jnp.asarray(rng.uniform(0.2, 1, num), jnp.float32),
      jnp.asarray(rng.normal(0, 0.1, (num, 2)), jnp.float32),
      jnp.asarray(rng.uniform(0.2, 1, num), jnp.float32), rot,
      jnp.asarray(4.0), jnp.zeros(10))
  options = fitting.FitOptions(robust_scale=None, robust_scale_2d=None)
  terms = solver._Terms(True, True, 3)
  root = jnp.asarray([0.2, -0.1, 4.0])

  def state(params):
    increment = params[:72].reshape(24, 3)
    return solver._State(rot @ rotations.axis_angle_to_matrix(increment),
                         betas + params[72:82], root + params[82:], 0.0,
                         None, None, 0.0, None)

  def cost(params):
    s = state(params)
    pts, _ = points_lib.points_and_jacobian(model, s.rot, s.betas,
                                            points.model.parents, False)
    return 0.5 * solver._data_terms(pts, None, s, data, readouts, options,
                                    terms, False)[0]

  @jax.jit
  def analytic():
    s = state(jnp.zeros(85))
    pts, jac = points_lib.points_and_jacobian(model, s.rot, s.betas,
                                              points.model.parents, True)
    return solver._data_terms(pts, jac, s, data, readouts, options, terms,
                              True)[2]

  auto = jax.jit(jax.grad(cost))(jnp.zeros(85))
  np.testing.assert_allclose(analytic(), auto, rtol=2e-3,
                             atol=2e-3 * float(jnp.abs(auto).max()))
  assert float(jnp.abs(auto).max()) > 1.0  # not trivially zero


def test_fit_body_recovers_a_body_and_its_root_from_keypoints(body, bodies):
  """BlazePose-33 world-landmark-like 3D points (hip-aligned, another
  origin) and pixels: the fit from a perturbed start finds the body and
  the camera-frame root (depth included); NaN keypoints are ignored."""
  points = fitting.fit_points_for(body, 'blazepose33')
  truth = fitting.fit_body(points, bodies['pose'], bodies['betas'],
                           bodies['gender'], points_3d=np.zeros((B, 33, 3)),
                           weights_3d=np.zeros(33),
                           options=fitting.FitOptions(num_iterations=0))
  keypoints = np.asarray(truth['keypoints'])
  root = np.array([[0.2, -0.1, 4.0], [-0.3, 0.2, 5.5], [0.0, 0.0, 3.0],
                   [0.4, 0.3, 6.0]])
  in_camera = keypoints + root[:, None]
  pixels = in_camera[..., :2] / in_camera[..., 2:] * 1000.0 + [500.0, 480.0]
  world = keypoints - keypoints[:, 23:25].mean(1, keepdims=True) + 0.7
  world[0, 5] = np.nan  # a missing eye
  pixels[1, 30] = np.nan  # a missing heel
  init = _perturbed(bodies, angle=0.1, seed=4)
  fitted = fitting.fit_body(points, init['pose'], init['betas'],
                            init['gender'], points_3d=world, align_3d='hip',
                            pixels=pixels, intrinsics=INTRINSICS,
                            options=fitting.FitOptions(num_iterations=20))
  out = dict(fitting.with_mesh(body, fitted, init),
             root_cam=fitted['root_cam'])
  assert np.all(np.isfinite(out['vertices']))
  np.testing.assert_allclose(out['root_cam'], root, atol=0.03)
  assert _errors_mm(out, bodies['jl']).mean() < 10.0
  before = _errors_mm(gendered.posed_body(
      body.gendered, init['pose'], init['betas'],
      jnp.asarray(bodies['gender'])), bodies['jl']).mean()
  assert before > 40.0
  with pytest.raises(ValueError, match='no finite keypoint'):
    fitting.fit_body(points, init['pose'], init['betas'], init['gender'],
                     points_3d=np.full((B, 33, 3), np.nan))
  with pytest.raises(ValueError, match='finite hip points'):
    bad = world.copy()
    bad[2, 23] = np.nan
    fitting.fit_body(points, init['pose'], init['betas'], init['gender'],
                     points_3d=bad, align_3d='hip')
  with pytest.raises(ValueError, match=r'points_3d must be \[B, 33, 3\]'):
    fitting.fit_body(points, init['pose'], init['betas'], init['gender'],
                     points_3d=world[:, :17])
