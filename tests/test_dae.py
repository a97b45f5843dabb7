"""The denoising autoencoder network (smplr_jax.nets.dae): structure, skips,
parameter count, dropout and DAE2d."""


import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax.body import gendered
from smplr_jax.nets import dae, mlp

SMALL = dict(encoder=(16, 12, 8), decoder=(12, 16))


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load()


def _random_jl(key, batch):
  return jax.random.normal(key, (batch, 42, 3)).at[:, 0].set(0.0) * 0.3


def _randomised(variables, seed=0):
  """Every parameter and BatchNorm statistic random (variance positive)."""
  leaves, tree = jax.tree.flatten_with_path(variables)
  rng = np.random.default_rng(seed)
  out = []
  for path, x in leaves:
    value = rng.normal(0.0, 0.3, x.shape).astype(np.float32)
    if 'var' in jax.tree_util.keystr(path):
      value = np.abs(value) + 0.5
    out.append(jnp.asarray(value))
  return jax.tree.unflatten(tree, out)


# --- module -------------------------------------------------------------------


@pytest.mark.parametrize('batch', [1, 5])
def test_shapes_and_root(batch):
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), batch)
  variables = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))
  out = net.apply(variables, jl, train=False)
  assert out.shape == (batch, 42, 3)
  np.testing.assert_array_equal(out[:, 0], 0.0)
  with pytest.raises(ValueError, match=r'jl must be \[B, 42, 3\]'):
    net.apply(variables, jl[:, 1:], train=False)


def test_mismatched_skip_widths_raise():
  with pytest.raises(ValueError, match='must match the encoder layers'):
    dae.DAE(encoder=(16, 12, 8), decoder=(16, 12)).init(
        jax.random.PRNGKey(0), jnp.zeros((2, 42, 3)), train=False)


@pytest.mark.parametrize('train_mode', [False, True])
def test_fresh_dae_is_the_identity(train_mode):
  net = dae.DAE()
  jl = _random_jl(jax.random.PRNGKey(0), 4)
  variables = net.init(jax.random.PRNGKey(1), jl, train=False)
  np.testing.assert_array_equal(variables['params']['residual']['kernel'], 0)
  if train_mode:
    out, _ = net.apply(variables, jl, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.PRNGKey(2)})
  else:
    out = net.apply(variables, jl, train=False)
  np.testing.assert_array_equal(out, jl)


def test_matches_a_reference_forward_with_skips():
  """Eval-mode forward written out by hand: decoder 1 adds encoder 2,
  decoder 2 adds encoder 1, the output adds the input."""
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 3)
  v = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))
  p, s = v['params'], v['batch_stats']

  def layer(h, name):
    z = h @ np.asarray(p[f'{name}_dense']['kernel'])
    stats, bn = s[f'{name}_bn'], p[f'{name}_bn']
    z = (z - stats['mean']) / np.sqrt(stats['var'] + 1e-5)
    z = z * bn['scale'] + bn['bias']
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))  # ELU

  x = np.asarray(jl[:, 1:]).reshape(3, 123)
  e1 = layer(x, 'encoder1')
  e2 = layer(e1, 'encoder2')
  e3 = layer(e2, 'encoder3')
  d1 = layer(e3, 'decoder1') + e2
  d2 = layer(d1, 'decoder2') + e1
  out = x + d2 @ p['residual']['kernel'] + p['residual']['bias']
  np.testing.assert_allclose(net.apply(v, jl, train=False)[:, 1:],
                             out.reshape(3, 41, 3), atol=1e-4, rtol=1e-4)


def test_parameter_count_is_the_authors():
  net = dae.DAE()
  shapes = jax.eval_shape(
      lambda key: net.init(key, jnp.zeros((2, 42, 3)), train=False),
      jax.random.PRNGKey(0))
  count = mlp.count_parameters(shapes['params'])
  # Dense kernels (no bias before BatchNorm) + BN scale/bias + output layer.
  widths = [123, 1024, 1024, 512, 1024, 1024]
  expected = sum(a * b + 2 * b for a, b in zip(widths[:-1], widths[1:]))
  expected += 1024 * 123 + 123
  assert count == expected == 3_406_971
  assert count == pytest.approx(3.41e6, rel=0.005)  # authors: ~3.41 M


def test_dropout_in_training_only():
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 8)
  v = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))

  def train_out(seed):
    out, _ = net.apply(v, jl, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.PRNGKey(seed)})
    return np.asarray(out)

  assert not np.allclose(train_out(0), train_out(1))
  np.testing.assert_array_equal(train_out(0), train_out(0))
  # Evaluation needs no dropout key and is deterministic.
  np.testing.assert_array_equal(net.apply(v, jl, train=False),
                                net.apply(v, jl, train=False))
  with pytest.raises(flax.errors.InvalidRngError):
    net.apply(v, jl, train=True, mutable=['batch_stats'])


def test_dae2d_ignores_depth():
  net = dae.DAE(zero_depth=True, **SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 4)
  fresh = net.init(jax.random.PRNGKey(1), jl, train=False)
  out = net.apply(fresh, jl, train=False)
  np.testing.assert_array_equal(out[..., 2], 0.0)  # identity of the 2D input
  np.testing.assert_array_equal(out[..., :2], jl[..., :2])
  v = _randomised(fresh)
  other_depth = jl.at[..., 2].set(jax.random.normal(jax.random.PRNGKey(5),
                                                    jl.shape[:2]))
  np.testing.assert_array_equal(net.apply(v, jl, train=False),
                                net.apply(v, other_depth, train=False))
  assert np.abs(net.apply(v, jl, train=False)[:, 1:, 2]).min() > 0
