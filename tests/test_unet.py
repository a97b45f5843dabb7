"""The U-Net image network and the architecture switch of `image_net`."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from smplr_jax.nets import heatmaps, hourglass, image_net, unet

CUBE = 2.5


def _config(widths=(8, 16, 16, 32, 32), blocks=(1, 1, 1, 1), input_size=64):
  return ml_collections.ConfigDict({
      'input_size': input_size, 'cube_size': CUBE,
      'model': {'architecture': 'unet', 'widths': widths, 'blocks': blocks,
                'head_features': 16, 'num_depth_bins': 8,
                'dropout_rate': 0.1}})


def _conv(k, cin, cout, bias):
  return k * k * cin * cout + (cout if bias else 0)


def _expected_parameters(widths, blocks, head, bins, channels):
  def bn(c):
    return 2 * c  # scale and bias

  def block(c):
    return bn(c) + _conv(3, c, c, False) + bn(c) + _conv(3, c, c, True)

  total = _conv(3, 3, widths[0], False) + bn(widths[0])
  for cin, cout, count in zip(widths[:-1], widths[1:], blocks):
    total += _conv(3, cin, cout, True) + count * block(cout)
  for level in range(3, 0, -1):  # decoder S/16, S/8, S/4
    total += _conv(1, widths[level + 1], widths[level], True)
    total += block(widths[level])
  total += bn(widths[1]) + _conv(3, widths[1], head, False) + bn(head)
  return total + _conv(1, head, bins * channels, True)


def test_shapes_and_parameter_count_of_the_cpu_config():
  config = _config(widths=unet.DEFAULT_WIDTHS, blocks=unet.DEFAULT_BLOCKS,
                   input_size=96)
  config.model.head_features = 128
  config.model.num_depth_bins = 16
  net = image_net.from_config(config)
  assert isinstance(net, unet.VolumetricUNet)
  variables = hourglass.variable_shapes(net, 96)
  outputs = jax.eval_shape(
      lambda v, x: net.apply(v, x, train=True, mutable=['batch_stats'],
                             rngs={'dropout': jax.random.PRNGKey(0)}),
      variables, jax.ShapeDtypeStruct((2, 96, 96, 3), jnp.float32))[0]
  assert [o.shape for o in outputs] == [(2, 24, 24, 16, 45)]
  assert outputs[0].dtype == jnp.float32
  count = sum(x.size for x in jax.tree.leaves(variables['params']))
  expected = _expected_parameters(unet.DEFAULT_WIDTHS, unet.DEFAULT_BLOCKS,
                                  128, 16, 45)
  print(f'U-Net parameters: {count:,}')
  assert count == expected


def test_architecture_switch_and_errors():
  image_net_config = _config()
  del image_net_config.model['architecture']
  image_net_config.model.update(num_stacks=1, num_features=32,
                                hourglass_depth=2)
  # Configs from before the key existed (the shipped weights' too) load the
  # stacked hourglass.
  assert isinstance(image_net.from_config(image_net_config),
                    hourglass.StackedHourglass)
  bad = _config()
  bad.model.architecture = 'resnet'
  with pytest.raises(ValueError, match="'resnet'"):
    image_net.from_config(bad)
  with pytest.raises(ValueError, match='divisible by 32'):
    image_net.from_config(_config(input_size=80))
  missing = _config()
  del missing.model['widths']
  with pytest.raises(ValueError, match='widths'):
    image_net.from_config(missing)
  net = unet.VolumetricUNet(widths=(8, 16, 32), blocks=(1, 1))
  with pytest.raises(ValueError, match='5 values'):
    net.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)), train=False)


@pytest.mark.slow  # ~13 s: the U-Net's learning, run with -m slow
def test_overfits_a_tiny_batch():
  """Adam on two fixed random images: the loss falls to a small fraction and
  the soft-argmax error with it."""
  net = image_net.from_config(_config())
  key_init, key_img, key_jl = jax.random.split(jax.random.PRNGKey(0), 3)
  variables = image_net.init_variables(net, key_init, 64)
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
    loss, metrics = heatmaps.image_net_loss(
        outputs, jl_cube, jl_valid, cube_size=CUBE, point_loss='softmax_ce',
        l1_weight=1.0, limb_weight=0.0)
    return loss, (metrics['jl_error'], updates['batch_stats'])

  @jax.jit
  def step(params, stats, opt_state, key):
    (loss, (error, stats)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(params, stats, key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss, error

  losses, errors = [], []
  for i in range(60):
    params, stats, opt_state, loss, error = step(params, stats, opt_state,
                                                 jax.random.PRNGKey(i))
    losses.append(float(loss))
    errors.append(float(error))
  print(f'overfit: loss {losses[0]:.3f} -> {losses[-1]:.3f}, soft-argmax '
        f'error {1e3 * errors[0]:.0f} -> {1e3 * errors[-1]:.0f} mm')
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0] - 2.0
  assert errors[-1] < 0.25 * errors[0]
  changed = jax.tree.map(lambda a, b: not np.allclose(a, b), stats,
                         variables['batch_stats'])
  assert all(jax.tree.leaves(changed))
