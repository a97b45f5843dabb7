"""Volumetric stacked hourglass: shapes, parameter count, a real overfit."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from smplr_jax.nets import heatmaps, hourglass, mlp

CUBE = 2.5


def _config(num_stacks, num_features, input_size, depth_bins=16):
  return ml_collections.ConfigDict({
      'input_size': input_size, 'cube_size': CUBE,
      'model': {'num_stacks': num_stacks, 'num_features': num_features,
                 'hourglass_depth': 4, 'num_depth_bins': depth_bins,
                 'dropout_rate': 0.1}})


# --- parameter count derived by hand from the architecture -----------------


def _conv(k, cin, cout, bias):
  return k * k * cin * cout + (cout if bias else 0)


def _bn(c):
  return 2 * c  # scale and bias (mean/var are batch_stats)


def _residual(cin, n):
  # BN-ReLU-1x1(n/2), BN-ReLU-3x3(n/2), BN-ReLU-1x1(n, bias) + 1x1 skip.
  return (_bn(cin) + _conv(1, cin, n // 2, False) + _bn(n // 2) +
          _conv(3, n // 2, n // 2, False) + _bn(n // 2) +
          _conv(1, n // 2, n, True) +
          (_conv(1, cin, n, False) if cin != n else 0))


def _expected_parameters(stacks, f, depth, bins, channels):
  stem = (_conv(6, 3, f // 4, False) + _bn(f // 4) + _residual(f // 4, f // 2)
          + _residual(f // 2, f // 2) + _residual(f // 2, f))
  # An hourglass of depth n has 3 residuals per level plus one at the bottom.
  image_net_params = (3 * depth + 1) * _residual(f, f)
  head = _conv(1, f, f, False) + _bn(f) + _conv(1, f, bins * channels, True)
  remap = _conv(1, bins * channels, f, True)
  return stem + stacks * (image_net_params + head) + (stacks - 1) * remap


@pytest.mark.slow  # ~7 s: the paper-sized network
def test_paper_config_shapes_and_parameter_count():
  config = _config(5, 256, 256)
  net = hourglass.from_config(config)
  variables = hourglass.variable_shapes(net, 256)
  outputs = jax.eval_shape(
      lambda v, x: net.apply(v, x, train=False), variables,
      jax.ShapeDtypeStruct((2, 256, 256, 3), jnp.float32))
  assert len(outputs) == 5
  for out in outputs:
    assert out.shape == (2, 64, 64, 16, 45) and out.dtype == jnp.float32
  count = sum(x.size for x in jax.tree.leaves(variables['params']))
  expected = _expected_parameters(5, 256, 4, 16, 45)
  print(f'paper hourglass parameters: {count:,}')
  assert count == expected == 16_270_608
  assert mlp.count_parameters(
      hourglass.variable_shapes(net, 256)['params']) == expected


def test_cpu_config_shapes():
  net = hourglass.from_config(_config(2, 128, 128))
  variables = hourglass.variable_shapes(net, 128)
  assert set(variables) == {'params', 'batch_stats'}
  outputs = jax.eval_shape(
      lambda v, x: net.apply(v, x, train=True, mutable=['batch_stats'],
                             rngs={'dropout': jax.random.PRNGKey(1)}),
      variables, jax.ShapeDtypeStruct((3, 128, 128, 3), jnp.float32))[0]
  assert [o.shape for o in outputs] == [(3, 32, 32, 16, 45)] * 2
  count = sum(x.size for x in jax.tree.leaves(variables['params']))
  assert count == _expected_parameters(2, 128, 4, 16, 45) == 1_802_016


def test_config_errors():
  with pytest.raises(ValueError, match='divisible by 16'):
    hourglass.from_config(_config(1, 32, 96))
  bad = _config(1, 32, 64)
  del bad.model['num_depth_bins']
  with pytest.raises(ValueError, match='num_depth_bins'):
    hourglass.from_config(bad)


def test_init_variables_matches_flax_init_structure():
  net = hourglass.StackedHourglass(1, 32)
  variables = hourglass.init_variables(net, jax.random.PRNGKey(0), 64)
  reference = jax.eval_shape(lambda: net.init(
      jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)), train=False))
  assert jax.tree.structure(variables) == jax.tree.structure(reference)
  same = jax.tree.map(lambda a, b: a.shape == b.shape and a.dtype == b.dtype,
                      variables, reference)
  assert all(jax.tree.leaves(same))
  kernel = variables['params']['hourglass0']['up']['conv2']['kernel']
  bound = 1 / np.sqrt(3 * 3 * 16)  # fan_in of a 3x3 conv on 16 channels
  assert float(jnp.max(jnp.abs(kernel))) <= bound
  np.testing.assert_allclose(jnp.std(kernel), bound / np.sqrt(3), rtol=0.15)
  # Different keys give different kernels.
  other = hourglass.init_variables(net, jax.random.PRNGKey(1), 64)
  assert not np.allclose(
      other['params']['hourglass0']['up']['conv2']['kernel'], kernel)


# A training run: the stacked hourglass learning is also shown in the default
# suite by the image-network task's tiny run (tests/test_tasks_image_net.py).
@pytest.mark.slow
def test_overfits_a_tiny_batch():
  """1 stack, 32 features, 64 x 64 input: Adam on two fixed images.

  Hourglass depth 2 (not 4) halves the CPU compile time of the step.
  """
  config = _config(1, 32, 64)
  config.model.hourglass_depth = 2
  net = hourglass.from_config(config)
  key_init, key_img, key_jl = jax.random.split(jax.random.PRNGKey(0), 3)
  variables = hourglass.init_variables(net, key_init, 64)
  images = jax.random.uniform(key_img, (2, 64, 64, 3))
  jl_cube = jax.random.uniform(key_jl, (2, 42, 3), minval=-0.8, maxval=0.8)
  jl_cube = jl_cube.at[:, 0].set(0.0)
  jl_valid = jnp.ones((2, 42))
  tx = optax.adam(1e-2)
  params, stats = variables['params'], variables['batch_stats']
  opt_state = tx.init(params)

  def loss_fn(params, stats, key):
    outputs, updates = net.apply(
        {'params': params, 'batch_stats': stats}, images, train=True,
        mutable=['batch_stats'], rngs={'dropout': key})
    assert outputs[0].shape == (2, 16, 16, 16, 45)
    loss, _ = heatmaps.image_net_loss(outputs, jl_cube, jl_valid,
                                      cube_size=CUBE)
    return loss, updates['batch_stats']

  @jax.jit
  def step(params, stats, opt_state, key):
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, stats, key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  losses = []
  for i in range(30):
    params, stats, opt_state, loss = step(params, stats, opt_state,
                                          jax.random.PRNGKey(i))
    losses.append(float(loss))
  print(f'overfit: loss {losses[0]:.4f} -> {losses[-1]:.5f}')
  assert np.all(np.isfinite(losses))
  assert losses[-1] < 0.05 * losses[0]
  assert np.all(np.diff(losses[::5]) < 0)  # steadily decreasing
  # Training updated the BatchNorm statistics.
  changed = jax.tree.map(lambda a, b: not np.allclose(a, b), stats,
                         variables['batch_stats'])
  assert all(jax.tree.leaves(changed))
