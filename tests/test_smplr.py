"""SMPLR's networks and their outputs as SMPL parameters (smplr_jax.nets.smplr)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from smplr_jax.body import body_model, gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import sampler
from smplr_jax.nets import smplr


def _config(**overrides):
  config = ml_collections.ConfigDict(dict(
      parts=('shape', 'pose'), shape_inputs='joints_landmarks',
      rotation='6d', activation='elu', num_betas=10))
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load(with_neutral=True)


def test_gendered_models(body):
  # [female, male, neutral]: the neutral body for an 'unknown' gender.
  assert body.gendered.v_template.shape[0] == 3
  # Training keeps [female, male] (a third model costs every forward).
  assert gendered.GenderedModels.load().gendered.v_template.shape[0] == 2
  for index, name in ((gendered.FEMALE, 'female'), (gendered.MALE, 'male'),
                      (gendered.NEUTRAL, 'neutral')):
    np.testing.assert_array_equal(
        body.gendered.v_template[index],
        body_model.load_body_model(None, name).v_template)
  assert body.points.num_vertices == jl_lib.NUM_LANDMARKS
  assert body.template_lengths.shape == (jl_lib.NUM_BONES,)
  assert np.all(np.asarray(body.template_lengths) > 0)


@pytest.mark.parametrize('shape_inputs, features', [
    ('joints_landmarks', jl_lib.NUM_BONES), ('joints', 23)])
def test_networks_outputs(body, shape_inputs, features):
  net = smplr.from_config(_config(shape_inputs=shape_inputs))
  assert len(net.shape_feature_ids) == features
  variables = net.init_variables(jax.random.PRNGKey(0))
  assert set(variables['params']) == {'shape', 'pose'}
  jl = sampler.make_test_set(body.gendered, size=3, seed=1)['jl']
  predictions, stats = smplr.forward(net, variables['params'],
                                     variables['batch_stats'],
                                     jnp.asarray(jl), body.template_lengths,
                                     False)
  assert predictions['betas'].shape == (3, 10)
  assert predictions['male_logit'].shape == (3,)
  assert predictions['rotation'].shape == (3, 24, 3, 3)
  jax.tree.map(np.testing.assert_array_equal, stats, variables['batch_stats'])
  if shape_inputs != 'joints':
    return
  # A Flax module like the others: its own init has the same variables,
  # and a training step updates the batch statistics.
  flax_init = net.init(jax.random.PRNGKey(0), jnp.asarray(jl),
                       body.template_lengths)
  assert (jax.tree.structure(flax_init) ==
          jax.tree.structure(variables))
  same = net.apply(variables, jnp.asarray(jl), body.template_lengths)
  jax.tree.map(np.testing.assert_array_equal, same, predictions)
  _, trained_stats = smplr.forward(net, variables['params'],
                                   variables['batch_stats'], jnp.asarray(jl),
                                   body.template_lengths, True)
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b),
                         trained_stats, variables['batch_stats'])
  assert all(jax.tree.leaves(changed))


def test_one_part_has_only_its_variables(body):
  net = smplr.from_config(_config(parts=('pose',)))
  variables = net.init_variables(jax.random.PRNGKey(0))
  assert set(variables['params']) == set(variables['batch_stats']) == {
      'pose'}
  both = smplr.from_config(_config()).init_variables(jax.random.PRNGKey(0))
  # Each part starts from its own key: the same Omega with or without Psi.
  jax.tree.map(np.testing.assert_array_equal, variables['params']['pose'],
               both['params']['pose'])
  jl = jnp.zeros((1, 42, 3)).at[:, 1:].set(0.1)
  predictions, _ = smplr.forward(net, variables['params'],
                                 variables['batch_stats'], jl,
                                 body.template_lengths, False)
  assert set(predictions) == {'rotation'}


def test_parts_must_be_known():
  with pytest.raises(ValueError, match='non-empty subset'):
    smplr.from_config(_config(parts=('hands',)))
  with pytest.raises(ValueError, match="shape_inputs must be"):
    smplr.from_config(_config(shape_inputs='vertices'))


def test_smpl_parameters_fill_in_the_parts_not_predicted():
  truth = {'pose': jnp.tile(jnp.eye(3), (2, 24, 1, 1)),
           'betas': jnp.ones((2, 10)), 'gender': jnp.array([0, 1])}
  rotation = 2.0 * jnp.tile(jnp.eye(3), (2, 24, 1, 1))  # not a rotation
  pose, betas, gender = smplr.smpl_parameters({'rotation': rotation}, truth,
                                              project=True)
  np.testing.assert_allclose(pose, truth['pose'], atol=1e-6)  # projected
  np.testing.assert_array_equal(betas, truth['betas'])
  np.testing.assert_array_equal(gender, truth['gender'])
  _, _, gender = smplr.smpl_parameters(
      {'betas': jnp.zeros((2, 10)), 'male_logit': jnp.array([-0.5, 0.2])},
      truth, project=False)
  np.testing.assert_array_equal(gender, [0, 1])  # male when the logit > 0


@pytest.mark.slow  # ~14 s
def test_loss_styles_ours_and_authors(body):
  key = jax.random.PRNGKey(0)
  rotation, betas, gender = sampler.sample_parameters(key, 4)
  jl = jl_lib.smpl_points(body.points, rotation, betas, gender)
  batch = dict(jl=jl, pose=rotation, betas=betas, gender=gender)
  logit = jnp.array([2.0, -1.0, 0.5, -3.0])
  predictions = dict(betas=betas + 0.1, male_logit=logit,
                     rotation=rotation)
  ours = smplr.loss_terms(predictions, batch, body.points, with_smpl=True)
  authors = smplr.loss_terms(predictions, batch, body.points, with_smpl=True,
                             style='authors')
  assert set(ours) == {'betas', 'gender', 'shape_reg', 'pose', 'smpl'}
  assert set(authors) == {'betas', 'shape_reg', 'pose', 'smpl'}
  np.testing.assert_allclose(ours['betas'], 0.1, rtol=1e-5)
  # Theirs: one L1 over 10 betas (off by 0.1) and gender as a +-1 target.
  sign = 2.0 * np.asarray(gender) - 1.0
  expected = (10 * 0.1 + np.abs(np.asarray(logit) - sign)) / 11
  np.testing.assert_allclose(authors['betas'], expected.mean(), rtol=1e-5)
  shape = np.concatenate([np.asarray(betas) + 0.1,
                          np.asarray(logit)[:, None]], axis=1)
  np.testing.assert_allclose(authors['shape_reg'], np.abs(shape).mean(),
                             rtol=1e-5)
  # The SMPL term: true pose, betas off by 0.1 and the gender of the logit.
  # Ours averages the 42 points (the root's error is 0); theirs adds the
  # means over the 23 non-root joints and the 18 landmarks.
  hard = (logit > 0).astype(jnp.int32)
  error = np.abs(np.asarray(jl_lib.smpl_points(
      body.points, rotation, betas + 0.1, hard)) - np.asarray(jl))
  np.testing.assert_allclose(ours['smpl'], error.mean(), rtol=1e-5)
  np.testing.assert_allclose(
      authors['smpl'], error[:, 1:24].mean() + error[:, 24:].mean(),
      rtol=1e-5)
  assert authors['smpl'] > ours['smpl'] > 0.0
  np.testing.assert_allclose(ours['pose'], 0.0)
  with pytest.raises(ValueError, match="unknown SMPLR loss style 'paper'"):
    smplr.loss_terms(predictions, batch, body.points, with_smpl=False,
                     style='paper')
