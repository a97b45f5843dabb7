r"""Benchmark: does the image data pipeline keep up with the image step?

    python -m experiments.benchmarks.image_training \
        [--config=experiments/image_net/configs/cpu_long.py] [--batches=30]

For the config's dataset (built first if needed) and crop size, with every
training augmentation on: images/s of the loader (`input_pipeline.
make_iterator`: array_record read, PNG decode, crop, augmentations; with 0,
1 and 2 worker threads), and images/s of the config's jit-compiled train
step (forward + backward + Adam, the config's loss) on one of those batches,
in one run. The loader keeps up when its rate exceeds the step's; on a
2-core machine both share the cores, so the training run's logged rate is
lower than either.
"""

from __future__ import annotations

import time

import jax
import optax
from absl import app, flags
from ml_collections import config_flags

from experiments.benchmarks import timing
from smplr_jax.data import input_pipeline
from smplr_jax.nets import heatmaps, image_net
from smplr_jax.training.tasks import image_net as image_net_task

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/image_net/configs/cpu_long.py', 'Image config.')
_BATCHES = flags.DEFINE_integer('batches', 30, 'Loader batches to time.')
_MIN_TIME = flags.DEFINE_float('min_time', 5.0, 'Seconds per step timing.')


def main(argv):
  del argv
  config = _CONFIG.value
  config.progress_bar = False
  task = image_net_task.ImageNetTask(config)
  b = config.batch_size
  print(f'{config.data.name}/{config.data.builder_config}, '
        f'{config.input_size} px crops, batch {b}')
  print('| what | images/s |')
  print('|---|---|')
  for threads in (0, 1, 2):
    batches = input_pipeline.make_iterator(
        task.sources['train'], config.augment, b, config.seed, train=True,
        num_threads=threads)
    next(batches)  # start-up
    start = time.perf_counter()
    for _ in range(_BATCHES.value):
      batch = next(batches)
    rate = _BATCHES.value * b / (time.perf_counter() - start)
    print(f'| loader, {threads} worker threads | {rate:.0f} |')
  host = {k: batch[k] for k in task.batch_keys}
  variables = task.init_variables(jax.random.PRNGKey(0))

  def loss_fn(params, stats, images, jl_cube, jl_valid):
    outputs, updates = task.net.clone(axis_name=None).apply(
        {'params': params, 'batch_stats': stats}, images, train=True,
        mutable=['batch_stats'], rngs={'dropout': jax.random.PRNGKey(1)})
    loss, _ = heatmaps.image_net_loss(
        outputs, jl_cube, jl_valid, cube_size=config.cube_size,
        l1_weight=config.loss.l1_weight, point_loss=config.loss.point_loss,
        limb_weight=config.loss.limb_weight)
    return loss, updates['batch_stats']

  optimizer = optax.adam(config.learning_rate)
  state = [variables['params'], variables['batch_stats'],
           optimizer.init(variables['params'])]

  @jax.jit
  def step(params, stats, opt_state, images, jl_cube, jl_valid):
    (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, stats, images, jl_cube, jl_valid)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state

  args = (host['image'], host['jl_cube'], host['jl_valid'])
  jax.block_until_ready(step(*state, *args))
  seconds = timing.median_seconds(
      lambda _: jax.block_until_ready(step(*state, *args)), _MIN_TIME.value)
  if image_net.architecture_of(config) == 'unet':
    network = f'U-Net {"-".join(map(str, config.model.widths))}'
  else:
    network = (f'{config.model.num_stacks} stack, '
               f'F={config.model.num_features}')
  print(f'| train step ({network}, {config.loss.point_loss}) | '
        f'{b / seconds:.0f} |')


if __name__ == '__main__':
  app.run(main)
