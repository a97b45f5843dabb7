r"""Benchmark: synthetic images per second on this machine (CPU).

    python -m experiments.benchmarks.render
    python -m experiments.benchmarks.render --batch_size=32 --num_examples=256

Times, after warm-up (compilation excluded):

* `synthetic.render_examples` end to end: sampling, SMPL forward, camera,
  rasterisation, shading, backgrounds, and the numpy records (image, mask and
  ground truth) on the host;
* `render.rasterize` alone, on the same default-model bodies seen by a
  typical camera (focal 300 px, root 4.5 m away, 256 x 256).

Target: >= 50 images/s on a 2-core CPU. The output gives the ratio.
"""

from __future__ import annotations

import json
import time

from absl import app, flags

from experiments.benchmarks import timing
from smplr_jax.body import gendered

_BATCH_SIZE = flags.DEFINE_integer('batch_size', 16,
                                   'Examples per jitted render batch.')
_NUM_EXAMPLES = flags.DEFINE_integer(
    'num_examples', 192, 'Examples rendered for the end-to-end timing.')
_MIN_TIME = flags.DEFINE_float('min_time', 3.0,
                               'Seconds of timed rasteriser calls.')
_TARGET = flags.DEFINE_float('target', 50.0, 'Target images per second.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')


def main(argv):
  del argv
  import os  # pylint: disable=g-import-not-at-top

  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from smplr_jax.data import (
    render,  # pylint: disable=g-import-not-at-top
    sampler,  # pylint: disable=g-import-not-at-top
    synthetic,  # pylint: disable=g-import-not-at-top
  )

  models = gendered.load_gendered_models()
  backgrounds = synthetic.load_backgrounds()
  config = synthetic.SyntheticConfig(batch_size=_BATCH_SIZE.value)
  batch = config.batch_size
  print(f'devices: {jax.devices()} | cores: {os.cpu_count()} | '
        f'batch {batch} | faces {models.faces.shape[0]}')

  # End to end (records on the host), after one warm-up batch.
  start = time.perf_counter()
  for _ in synthetic.render_examples(models, batch, seed=0, config=config,
                                     backgrounds=backgrounds):
    pass
  compile_seconds = time.perf_counter() - start
  start, cpu_start = time.perf_counter(), time.process_time()
  count = 0
  for _ in synthetic.render_examples(models, _NUM_EXAMPLES.value, seed=1,
                                     config=config, backgrounds=backgrounds):
    count += 1
  end_to_end = count / (time.perf_counter() - start)
  # CPU seconds of this process per image: robust to other processes on a
  # shared machine; cores / cpu_per_image bounds the rate on idle cores.
  cpu_per_image = (time.process_time() - cpu_start) / count

  # Rasteriser alone on bodies seen by a typical camera.
  bodies = jax.jit(sampler.sample_bodies, static_argnums=2)(
      jax.random.PRNGKey(0), models, batch)
  flip = jnp.asarray([1.0, -1.0, -1.0])  # body frame (y up) -> camera
  vertices = bodies['vertices'] * flip + jnp.asarray([0.0, 0.0, 4.5])
  points = render.project(vertices, jnp.full((batch, 2), 300.0),
                          jnp.full((batch, 2), 127.5))
  size = config.image_size
  rasterize = jax.jit(render.rasterize, static_argnums=(2, 3, 4))
  seconds = timing.median_seconds(
      lambda i: rasterize(points + 1e-4 * i, models.faces, size, size,
                          config.raster).face_index.block_until_ready(),
      _MIN_TIME.value)
  raster_rate = batch / seconds
  overflow = int(jnp.max(rasterize(points, models.faces, size, size,
                                   config.raster).overflow))

  target = _TARGET.value
  print()
  print('| what | images / s | ms / image | x target (50 / s) |')
  print('|---|---|---|---|')
  for name, rate in (('render_examples (end to end)', end_to_end),
                     ('rasterize alone', raster_rate)):
    print(f'| {name} | {rate:.1f} | {1e3 / rate:.2f} | {rate / target:.2f} |')
  cores = os.cpu_count()
  print(f'\nend to end: {1e3 * cpu_per_image:.1f} CPU-ms per image, i.e. '
        f'{cores / cpu_per_image:.1f} images/s if all {cores} cores were '
        'free and busy')
  print(f'first batch (compilation included): {compile_seconds:.1f} s; '
        f'rasteriser overflow on the timed bodies: {overflow}; candidates '
        f'per image: {config.raster.candidates_per_image(models.faces.shape[0]):,}')
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump({'batch': batch, 'end_to_end_per_second': end_to_end,
                     'cpu_seconds_per_image': cpu_per_image,
                     'rasterize_per_second': raster_rate,
                     'compile_seconds': compile_seconds, 'target': target}, f,
                indent=2)


if __name__ == '__main__':
  app.run(main)
