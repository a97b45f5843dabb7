"""JL -> body (smplr_jax.predict.pipeline): jl_to_body and the stitched evaluation."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from smplr_jax.body import gendered
from smplr_jax.data import sampler
from smplr_jax.evaluation import stitched
from smplr_jax.nets import dae, smplr
from smplr_jax.predict import pipeline

SMALL = dict(encoder=(16, 12, 8), decoder=(12, 16))


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load()


@pytest.mark.slow  # ~12 s; the stitched pipeline's shapes: below
def test_stitched_identity_dae_changes_nothing(body):
  """A fresh DAE is the identity: DAE + SMPLR equals SMPLR alone."""
  net = dae.DAE(**SMALL)
  dae_vars = net.init(jax.random.PRNGKey(0), jnp.zeros((2, 42, 3)),
                      train=False)
  smplr_config = ml_collections.ConfigDict(dict(
      parts=('shape', 'pose'), shape_inputs='joints_landmarks',
      rotation='6d', activation='elu', num_betas=10))
  smplr_net = smplr.from_config(smplr_config)
  smplr_vars = smplr_net.init_variables(jax.random.PRNGKey(1))
  test_set = sampler.make_test_set(body.gendered, size=8, seed=4)
  rows = stitched.evaluate_stitched(net, dae_vars, smplr_net, smplr_vars,
                                    body, test_set, 'structured',
                                    noise_seed=0, batch_size=8)
  assert set(rows) == {'input', 'dae', 'smplr', 'dae+smplr'}
  for key, value in rows['input'].items():
    assert rows['dae'][key] == pytest.approx(value, rel=1e-5, abs=1e-4)
  for key, value in rows['smplr'].items():
    assert rows['dae+smplr'][key] == pytest.approx(value, rel=1e-5, abs=1e-4)
  assert 'surface' in rows['smplr'] and 'gender_acc' in rows['smplr']


@pytest.mark.parametrize('batch', [
    1, pytest.param(3, marks=pytest.mark.slow)])  # 3: ~4 s more
def test_jl_to_body_shapes_and_consistency(body, batch):
  smplr_config = ml_collections.ConfigDict(dict(
      parts=('shape', 'pose'), shape_inputs='joints_landmarks',
      rotation='6d', activation='elu', num_betas=10))
  net = smplr.from_config(smplr_config)
  variables = net.init_variables(jax.random.PRNGKey(2))
  jl = jnp.asarray(sampler.make_test_set(body.gendered, size=batch,
                                         seed=7)['jl'])
  out = jax.jit(lambda v, x: pipeline.jl_to_body(net, body, v, x))(
      variables, jl)
  # Called from outside with concrete arrays, the JL are checked first.
  with pytest.raises(ValueError, match='millimetres'):
    pipeline.jl_to_body(net, body, variables, jl * 1000, check_inputs=True)
  num_vertices = body.gendered.num_vertices
  chex.assert_shape(out['pose'], (batch, 24, 3, 3))
  chex.assert_shape([out['betas'], out['male_prob'], out['gender']],
                    [(batch, 10), (batch,), (batch,)])
  chex.assert_shape([out['jl'], out['joints'], out['landmarks'],
                     out['vertices']],
                    [(batch, 42, 3), (batch, 24, 3), (batch, 18, 3),
                     (batch, num_vertices, 3)])
  chex.assert_type(out['gender'], jnp.int32)
  chex.assert_tree_all_finite(out)
  # One body: JL = joints + landmark vertices, root at the origin, gender
  # the hard switch of the male probability.
  np.testing.assert_allclose(out['jl'][:, :24], out['joints'], atol=1e-6)
  ids = np.asarray(body.gendered.landmark_vertex_ids)
  np.testing.assert_allclose(out['landmarks'], out['vertices'][:, ids],
                             atol=1e-6)
  np.testing.assert_allclose(out['joints'][:, 0], 0.0, atol=1e-7)
  np.testing.assert_array_equal(out['gender'], out['male_prob'] > 0.5)
  np.testing.assert_allclose(
      jnp.einsum('bjik,bjil->bjkl', out['pose'], out['pose']),
      np.broadcast_to(np.eye(3), out['pose'].shape), atol=1e-5)
