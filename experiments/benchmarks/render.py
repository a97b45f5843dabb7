r"""Benchmark: synthetic images per second on this machine (CPU).

    python -m experiments.benchmarks.render
    python -m experiments.benchmarks.render --batch_size=32 --num_examples=256

Times, after warm-up (compilation excluded):

* `synthetic.render_examples` end to end: sampling, SMPL forward, camera,
  rasterisation, shading, backgrounds, and the numpy records (image, mask and
  ground truth) on the host;
* `render.rasterize` alone, on the same default-model bodies seen by a
  typical camera (focal 300 px, root 4.5 m away, 256 x 256);
* the overlay's whole-mesh path (`render.rasterize_mesh`, what
  `draw.mesh_overlay` draws with) against `render.rasterize` with the
  default config on one body of the same draw, full frame at 512 x 512
  (focal 600 px, root 2.5 m away), then a head-and-shoulders close-up at
  800 x 600 (focal 700 px, root 0.62 m away), calls alternated so that
  both see the same load; wall and CPU (this process) milliseconds per
  picture, and the faces the fixed configs could not draw.

Target: >= 50 images/s on a 2-core CPU. The output gives the ratio.

    python -m experiments.benchmarks.render --num_examples=0  # overlay only
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

  overlay = _overlay_timings(models, _MIN_TIME.value)
  if not _NUM_EXAMPLES.value:
    _print_overlay(overlay)
    return
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
  _print_overlay(overlay)
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump({'batch': batch, 'end_to_end_per_second': end_to_end,
                     'cpu_seconds_per_image': cpu_per_image,
                     'rasterize_per_second': raster_rate,
                     'compile_seconds': compile_seconds, 'target': target,
                     'overlay': overlay}, f,
                indent=2)


# The config `draw.mesh_overlay` retried with before issue 35 (then drew
# whatever it got).
_OLD_OVERLAY_RETRY_WINDOWS = ((64, 32), (32, 128), (16, 512), (8, 2048),
                              (4, 8192))


def _alternated(fns: dict, min_time: float) -> dict:
  """Median wall and CPU milliseconds of each fn(i), calls alternated."""
  for fn in fns.values():
    fn(0)
    fn(0)
  wall = {k: [] for k in fns}
  cpu = {k: [] for k in fns}
  start, i = time.perf_counter(), 1
  while time.perf_counter() - start < min_time or i < 8:
    for name, fn in fns.items():
      t0, c0 = time.perf_counter(), time.process_time()
      fn(i)
      wall[name].append(time.perf_counter() - t0)
      cpu[name].append(time.process_time() - c0)
    i += 1
  median = lambda x: 1e3 * sorted(x)[len(x) // 2]
  return {k: {'wall_ms': median(wall[k]), 'cpu_ms': median(cpu[k])}
          for k in fns}


def _overlay_timings(models, min_time: float) -> dict:
  """`rasterize_mesh` against `rasterize` (default config) on one body."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from smplr_jax.data import (
    render,  # pylint: disable=g-import-not-at-top
    sampler,  # pylint: disable=g-import-not-at-top
  )
  bodies = jax.jit(sampler.sample_bodies, static_argnums=2)(
      jax.random.PRNGKey(0), models, 1)
  body = np.asarray(bodies['vertices'][0]) * [1.0, -1.0, -1.0]  # camera axes
  faces = np.asarray(models.faces)
  rasterize = jax.jit(render.rasterize, static_argnums=(2, 3, 4))
  retry = render.RasterConfig(small_window=2,
                              ranked_windows=_OLD_OVERLAY_RETRY_WINDOWS)
  results = {}
  for name, size, focal, root in (
      ('full body 512x512', (512, 512), 600.0, [0.0, 0.0, 2.5]),
      ('close-up 800x600', (600, 800), 700.0, [0.0, 0.62, 0.62])):
    height, width = size
    vertices = (body + root)[None]
    f = np.full((1, 2), focal)
    c = np.array([[(width - 1) / 2, (height - 1) / 2]])
    points = render.project(jnp.asarray(vertices, jnp.float32),
                            jnp.asarray(f, jnp.float32),
                            jnp.asarray(c, jnp.float32))
    default = render.RasterConfig()
    overflow = int(rasterize(points, faces, height, width,
                             default).overflow[0])
    retry_overflow = int(rasterize(points, faces, height, width,
                                   retry).overflow[0])

    def old_overlay(i):
      """The overlay's path before issue 35: the default config, then the
      retry config when it overflows (drawn whatever it then dropped)."""
      out = rasterize(points + 1e-6 * i, faces, height, width, default)
      if int(out.overflow[0]):
        out = rasterize(points + 1e-6 * i, faces, height, width, retry)
      return out.face_index.block_until_ready()

    timings = _alternated({
        'rasterize (default config)': lambda i: rasterize(
            points + 1e-6 * i, faces, height, width,
            default).face_index.block_until_ready(),
        'old overlay path (default, then retry config)': old_overlay,
        'rasterize_mesh': lambda i: render.rasterize_mesh(
            vertices + 1e-9 * i, faces, f, c, height, width)}, min_time)
    covered = int(np.sum(render.rasterize_mesh(vertices, faces, f, c, height,
                                               width).face_index >= 0))
    results[name] = dict(timings, default_overflow=overflow,
                         retry_overflow=retry_overflow, pixels=covered)
  return results


def _print_overlay(overlay: dict) -> None:
  print('\n| scene | path | wall ms | CPU ms |')
  print('|---|---|---|---|')
  for scene, result in overlay.items():
    for path in ('rasterize (default config)',
                 'old overlay path (default, then retry config)',
                 'rasterize_mesh'):
      print(f'| {scene} | {path} | {result[path]["wall_ms"]:.2f} | '
            f'{result[path]["cpu_ms"]:.2f} |')
  for scene, result in overlay.items():
    print(f'{scene}: the default config could not draw '
          f'{result["default_overflow"]} faces, the retry config '
          f'{result["retry_overflow"]}; rasterize_mesh drew '
          f'{result["pixels"]} pixels, no face dropped')


if __name__ == '__main__':
  app.run(main)
