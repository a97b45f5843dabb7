"""SMPLR networks: shapes, parameter counts, structure; rotation helpers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax.nets import mlp


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('net,inputs,expected_params', [
    # Authors' counts (docs/paper_facts.md): Psi ~2.49 M, Omega ~2.77 M;
    # ours drop the redundant biases before BatchNorm (4,352 fewer).
    (mlp.ShapeNet(), jnp.zeros((3, 41)), 2_481_427),
    (mlp.PoseNet(), jnp.zeros((3, 41, 3)), 2_764_040),
    (mlp.PoseNet(rotation='6d'), jnp.zeros((3, 41, 3)), 2_675_120),
])
def test_parameter_counts(net, inputs, expected_params):
  variables = net.init(jax.random.PRNGKey(0), inputs, train=False)
  assert _count(variables['params']) == expected_params
  # BatchNorm on every hidden layer: 7 trunk + 1 branch, mean and var.
  assert _count(variables['batch_stats']) == 2 * (
      sum(mlp.TRUNK) + mlp.BRANCH_WIDTH)


def test_shape_net_outputs():
  net = mlp.ShapeNet(num_betas=10)
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((2, 41)), train=False)
  betas, logit = net.apply(variables, jnp.ones((5, 41)), train=False)
  assert betas.shape == (5, 10) and logit.shape == (5,)


@pytest.mark.parametrize('rotation', ['rotmat', '6d'])
def test_pose_net_outputs(rotation):
  net = mlp.PoseNet(rotation=rotation)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 41, 3))
  variables = net.init(jax.random.PRNGKey(0), x, train=False)
  out = net.apply(variables, x, train=False)
  assert out.shape == (4, 24, 3, 3)
  if rotation == 'rotmat':
    assert float(jnp.max(jnp.abs(out))) <= 1.0  # tanh
  else:  # on SO(3)
    eye = jnp.broadcast_to(jnp.eye(3), out.shape)
    np.testing.assert_allclose(jnp.swapaxes(out, -1, -2) @ out, eye,
                               atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.det(out), 1.0, atol=1e-5)


def test_train_mode_updates_batch_stats_and_eval_mode_is_deterministic():
  net = mlp.ShapeNet()
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 41))
  variables = net.init(jax.random.PRNGKey(1), x, train=False)
  _, updates = net.apply(variables, x, train=True, mutable=['batch_stats'])
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                       updates['batch_stats'], variables['batch_stats'])
  assert max(jax.tree.leaves(moved)) > 0
  a = net.apply(variables, x[:3], train=False)
  b = net.apply(variables, x, train=False)
  np.testing.assert_allclose(a[0], b[0][:3], atol=1e-5)  # no batch coupling


def test_residual_branch_contributes():
  """Zeroing the branch's output layer changes the result (it is wired in)."""
  net = mlp.ShapeNet()
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 41))
  variables = net.init(jax.random.PRNGKey(1), x, train=False)
  params = jax.tree.map(lambda a: a, variables['params'])
  params['mlp']['branch_out']['kernel'] = jnp.zeros_like(
      params['mlp']['branch_out']['kernel'])
  params['mlp']['branch_out']['bias'] = jnp.zeros_like(
      params['mlp']['branch_out']['bias'])
  full = net.apply(variables, x, train=False)[0]
  cut = net.apply({'params': params,
                   'batch_stats': variables['batch_stats']}, x, train=False)[0]
  assert float(jnp.max(jnp.abs(full - cut))) > 1e-3
  assert params['mlp']['trunk5_dense']['kernel'].shape == (512, 512)
  assert params['mlp']['branch1_dense']['kernel'].shape == (512, 256)
  assert params['mlp']['merge']['kernel'].shape == (22, 11)
