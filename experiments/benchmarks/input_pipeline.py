r"""Benchmark: host cost of the image pipeline and of the frame subsampling.

    python -m experiments.benchmarks.input_pipeline

* `augment.process_example`: CPU ms per example (one thread) for 256 x 256
  and 1000 x 1000 source frames, crop sizes 128 and 256, plain crops and
  every augmentation forced on (probability 1).
* `input_pipeline.subsample_min_distance` (100 mm): 100k frames of smooth
  motion (sampler keyframes, 50 interpolated frames between each pair) and
  100k independent sampler poses.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from absl import app

from experiments.tools import draw_augmentations
from smplr_jax.body import gendered, jl
from smplr_jax.data import augment, input_pipeline, sampler

_REPEATS = 20


def augment_rows() -> list[str]:
  records = {256: [], 1000: []}
  for i, record in enumerate(draw_augmentations._stick_records(4, 0, 256)):  # pylint: disable=protected-access
    records[256].append(record)
    records[1000].append(draw_augmentations.stick_figure_record(
        record['jl_cam'], image_size=1000, focal=1150.0, seed=i))
  rows = []
  for frame, frame_records in records.items():
    for crop_size in (128, 256):
      for train in (False, True):
        config = augment.augment_config()
        config.crop_size = crop_size
        for name in ('rotation', 'flip', 'background', 'occluders', 'colour'):
          config[name].probability = 1.0
        start, count = time.process_time(), 0
        for repeat in range(_REPEATS):
          for i, record in enumerate(frame_records):
            augment.process_example(record, config, (0, repeat, i),
                                    train=train)
            count += 1
        ms = (time.process_time() - start) / count * 1e3
        what = 'all augmentations' if train else 'plain crop'
        rows.append(f'| {frame} x {frame} | {crop_size} | {what} | {ms:.1f} |')
  return rows


def subsample_rows() -> list[str]:
  models = jl.landmark_points_model(gendered.load_gendered_models())
  sample = jax.jit(sampler.sample_jl, static_argnums=(2,))
  keyframes = np.asarray(sample(jax.random.PRNGKey(0), models, 2001)['jl'])
  keyframes = keyframes[:, :jl.NUM_JOINTS]
  t = np.linspace(0.0, 1.0, 50, endpoint=False)[None, :, None, None]
  smooth = (keyframes[:-1, None] * (1 - t) + keyframes[1:, None] * t)
  independent = np.asarray(sample(jax.random.PRNGKey(1), models,
                                  100_000)['jl'])[:, :jl.NUM_JOINTS]
  rows = []
  for name, frames in (('smooth motion', smooth.reshape(-1, jl.NUM_JOINTS, 3)),
                       ('independent poses', independent)):
    start = time.perf_counter()
    kept = input_pipeline.subsample_min_distance(frames, 0.1)
    rows.append(f'| {name} | {len(frames):,} | {len(kept):,} | '
                f'{time.perf_counter() - start:.1f} |')
  return rows


def main(argv):
  del argv
  print('process_example, CPU ms per example (one thread):')
  print('| source frame | crop | what | ms |')
  print('|---|---|---|---|')
  print('\n'.join(augment_rows()), flush=True)
  print('\nsubsample_min_distance (100 mm):')
  print('| frames | N | kept | seconds |')
  print('|---|---|---|---|')
  print('\n'.join(subsample_rows()))


if __name__ == '__main__':
  app.run(main)
