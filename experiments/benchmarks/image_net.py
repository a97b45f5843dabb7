r"""Benchmark: the image network's training step (stacked hourglass or U-Net).

    python -m experiments.benchmarks.image_net [--batch_size=16]
    # the U-Net of configs/cpu_unet.py
    python -m experiments.benchmarks.image_net --architecture=unet \
        --input_size=96 --paper_batch_size=0 --point_loss=softmax_ce \
        --limb_weight=0 --l1_weight=1

* CPU config (2 stacks, 128 features, 128 x 128 input, 32 x 32 x 16 x 45
  volumes): images/s of a jit-compiled train step (forward + backward +
  Adam update, BatchNorm in training mode, targets computed in the step) on
  random images and random `jl_cube`, and its FLOP rate (XLA cost analysis
  of the compiled step) as a fraction of a float32 matmul measured in the
  same run. For the profile, the same for the network alone (forward +
  backward of a sum of the logits) and the loss alone (targets, cross-
  entropy and soft-argmax, forward + backward w.r.t. the logits).
* Paper config (5 stacks, 256 features, 256 x 256 input, 64 x 64 x 16 x 45
  volumes) at batch 8: the compiled step's memory analysis (lowered and
  compiled only, never run).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from absl import app, flags

from experiments.benchmarks import timing, train_step
from smplr_jax.nets import heatmaps, hourglass, image_net, unet

_BATCH_SIZE = flags.DEFINE_integer('batch_size', 16, 'CPU-config batch.')
_PAPER_BATCH_SIZE = flags.DEFINE_integer('paper_batch_size', 8,
                                         'Paper-config batch (memory only); 0 skips it.')
# Shared with train_step (it defines --min_time; importing it registers it).
_MIN_TIME = train_step._MIN_TIME  # pylint: disable=protected-access
_flops = train_step._flops  # pylint: disable=protected-access
_STACKS = flags.DEFINE_integer('num_stacks', 2, 'CPU config: stacks.')
_FEATURES = flags.DEFINE_integer('num_features', 128, 'CPU config: features.')
_INPUT_SIZE = flags.DEFINE_integer('input_size', 128, 'CPU config: input.')
_DEPTH = flags.DEFINE_integer('hourglass_depth', 4, 'CPU config: hourglass '
                              'depth (3 for 96 px inputs).')
_POINT_LOSS = flags.DEFINE_enum('point_loss', 'sigmoid_ce',
                                heatmaps.POINT_LOSSES, 'Point-channel loss.')
_LIMB_WEIGHT = flags.DEFINE_float('limb_weight', 1.0,
                                  'Limb-channel weight (0: no limb targets).')
_L1_WEIGHT = flags.DEFINE_float('l1_weight', 0.0, 'Soft-argmax L1 weight.')
_ARCHITECTURE = flags.DEFINE_enum(
    'architecture', 'stacked_hourglass', image_net.ARCHITECTURES,
    "CPU config's network; 'unet' is `unet.VolumetricUNet` with its default "
    'widths (--num_stacks, --num_features and --hourglass_depth ignored).')


CUBE = 2.5


def _loss_options():
  return dict(cube_size=CUBE, point_loss=_POINT_LOSS.value,
              limb_weight=_LIMB_WEIGHT.value, l1_weight=_L1_WEIGHT.value)


def make_train_step(net: hourglass.StackedHourglass,
                    tx: optax.GradientTransformation):
  """A plain single-device jitted step (the real one lives in train.py)."""

  def loss_fn(params, stats, batch, key):
    outputs, updates = net.apply(
        {'params': params, 'batch_stats': stats}, batch['image'], train=True,
        mutable=['batch_stats'], rngs={'dropout': key})
    loss, metrics = heatmaps.image_net_loss(
        outputs, batch['jl_cube'], batch['jl_valid'], **_loss_options())
    return loss, (metrics, updates['batch_stats'])

  def step(params, stats, opt_state, batch, key):
    (_, (metrics, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, stats, batch, key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, metrics

  return jax.jit(step, donate_argnums=(0, 1, 2))


def random_batch(key, batch_size: int, input_size: int) -> dict:
  k1, k2 = jax.random.split(key)
  jl = jax.random.uniform(k2, (batch_size, 42, 3), minval=-0.9, maxval=0.9)
  return {'image': jax.random.uniform(k1, (batch_size, input_size,
                                           input_size, 3)),
          'jl_cube': jl.at[:, 0].set(0.0),
          'jl_valid': jnp.ones((batch_size, 42))}


def _row(what, batch, seconds, flops, peak):
  rate = flops / seconds / 1e9
  return (f'| {what} | {batch} | {batch / seconds:.2f} | {1e3 * seconds:.0f} '
          f'| {flops / 1e9:.1f} | {rate:.1f} | {100 * rate / peak:.0f}% |')


def print_conv_comparison(peak: float) -> None:
  """Why 1x1 convolutions are Dense layers: both forward + backward."""
  shape, features = (16, 32, 32, 64), 64
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  dimension_numbers = ('NHWC', 'HWIO', 'NHWC')
  layers = {
      '1x1 lax.conv': ((1, 1), lambda x, w: jax.lax.conv_general_dilated(
          x, w, (1, 1), 'SAME', dimension_numbers=dimension_numbers)),
      '1x1 as matmul (Dense)': ((1, 1), lambda x, w: x @ w[0, 0]),
      '3x3 lax.conv': ((3, 3), lambda x, w: jax.lax.conv_general_dilated(
          x, w, (1, 1), 'SAME', dimension_numbers=dimension_numbers)),
  }
  print('\nconvolution [16, 32, 32, 64] -> 64 channels, forward + backward:')
  print('| layer | GFLOP/s | % of peak |')
  print('|---|---|---|')
  for name, (kernel, layer) in layers.items():
    w = jax.random.normal(jax.random.PRNGKey(1), (*kernel, shape[-1],
                                                  features))
    grad = jax.jit(jax.grad(lambda x, w, layer=layer: jnp.sum(
        jnp.square(layer(x, w))), argnums=(0, 1)))
    seconds = timing.median_seconds(
        lambda _, grad=grad, w=w: jax.block_until_ready(grad(x, w)),
        _MIN_TIME.value)
    flops = 3 * 2 * x.size * features * kernel[0] * kernel[1]
    rate = flops / seconds / 1e9
    print(f'| {name} | {rate:.1f} | {100 * rate / peak:.0f}% |')


def main(argv):
  del argv
  peak = timing.matmul_peak_gflops(_MIN_TIME.value)
  print(f'devices: {jax.devices()}; f32 matmul peak {peak:.1f} GFLOP/s\n')
  b, s = _BATCH_SIZE.value, _INPUT_SIZE.value
  if _ARCHITECTURE.value == 'unet':
    net = unet.VolumetricUNet()
    what = f'U-Net {"-".join(map(str, net.widths))}, {s}px'
  else:
    net = hourglass.StackedHourglass(_STACKS.value, _FEATURES.value,
                                     hourglass_depth=_DEPTH.value)
    what = f'{_STACKS.value} stacks, F={_FEATURES.value}, {s}px'
  variables = hourglass.init_variables(net, jax.random.PRNGKey(0), s)
  tx = optax.adam(1e-3)
  batch = random_batch(jax.random.PRNGKey(1), b, s)
  key = jax.random.PRNGKey(2)
  step = make_train_step(net, tx)
  holder = [variables['params'], variables['batch_stats'],
            tx.init(variables['params'])]
  compiled = step.lower(*holder, batch, key).compile()

  def run_step():
    *state, metrics = compiled(*holder, batch, key)
    holder[:] = state
    jax.block_until_ready(metrics)

  step_seconds = timing.median_seconds(lambda _: run_step(), _MIN_TIME.value)
  rows = [_row(f'train step ({what})', b, step_seconds, _flops(compiled),
               peak)]

  params, stats = holder[0], holder[1]
  net_grad = jax.jit(jax.grad(lambda p: sum(jnp.sum(o) for o in net.apply(
      {'params': p, 'batch_stats': stats}, batch['image'], train=True,
      mutable=['batch_stats'], rngs={'dropout': key})[0])))
  net_compiled = net_grad.lower(params).compile()
  seconds = timing.median_seconds(
      lambda _: jax.block_until_ready(net_compiled(params)), _MIN_TIME.value)
  rows.append(_row('network fwd+bwd', b, seconds, _flops(net_compiled), peak))

  logits = [jnp.zeros(o.shape, o.dtype) for o in jax.eval_shape(
      lambda: net.apply(variables, batch['image'], train=False))]
  loss_grad = jax.jit(jax.grad(lambda o: heatmaps.image_net_loss(
      o, batch['jl_cube'], batch['jl_valid'], **_loss_options())[0]))
  loss_compiled = loss_grad.lower(logits).compile()
  seconds = timing.median_seconds(
      lambda _: jax.block_until_ready(loss_compiled(logits)), _MIN_TIME.value)
  rows.append(_row('loss fwd+bwd (targets, CE, soft-argmax)', b, seconds,
                   _flops(loss_compiled), peak))

  print('| what | batch | images/s | ms/step | GFLOP/step | GFLOP/s | '
        '% of peak |')
  print('|---|---|---|---|---|---|---|')
  print('\n'.join(rows), flush=True)
  print_conv_comparison(peak)

  # Paper config: memory of one training step (compiled, not run).
  pb = _PAPER_BATCH_SIZE.value
  if pb <= 0:
    return
  paper = hourglass.StackedHourglass(5, 256)
  shapes = hourglass.variable_shapes(paper, 256)
  opt_shapes = jax.eval_shape(tx.init, shapes['params'])
  batch_shapes = jax.eval_shape(lambda: random_batch(key, pb, 256))
  paper_compiled = make_train_step(paper, tx).lower(
      shapes['params'], shapes['batch_stats'], opt_shapes, batch_shapes,
      key).compile()
  memory = paper_compiled.memory_analysis()
  n_params = sum(x.size for x in jax.tree.leaves(shapes['params']))
  gib = 2.0**30
  print(f'\npaper config (5 stacks, 256 features, 256px, 64x64x16x45), '
        f'batch {pb}, {n_params:,} parameters, '
        f'{_flops(paper_compiled) / 1e9:.0f} GFLOP/step:')
  print('| arguments | outputs | temporaries | generated code | '
        'peak (args + temps) |')
  print('|---|---|---|---|---|')
  args = memory.argument_size_in_bytes
  temps = memory.temp_size_in_bytes
  print(f'| {args / gib:.2f} GiB | {memory.output_size_in_bytes / gib:.2f} '
        f'GiB | {temps / gib:.2f} GiB | '
        f'{memory.generated_code_size_in_bytes / 2**20:.1f} MiB | '
        f'{(args + temps) / gib:.2f} GiB |')


if __name__ == '__main__':
  app.run(main)
