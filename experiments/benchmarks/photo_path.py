r"""Benchmark: the default photo path against the detector alone, same photos.

    pip install -e ".[detector]"      # mediapipe (BlazePose)
    python -m experiments.benchmarks.photo_path [--num_photos=48] \
        [--seed=2024] [--repeats=3] [--json_out=photo_path_benchmark.json]

On held-out renders (`renders.render_set`: unseen style, 512 x 512, the
photos of `experiments.evaluate_photo_path`), after one untimed pass over
every photo (compilation, including the second pass's batch), it times
per photo, interleaved so that both see the same load on a shared machine:

  * the detector alone (`BlazePoseDetector(photo)`);
  * the default photo path (`load_pipeline().predict_image(photo)`: the
    detector, the readings, adapter -> DAE -> SMPLR, the fit, and the
    mirrored photo's second pass when the first reading is ambiguous).

It prints the mean and median ms of each, their ratio (the target is
1.5x), and the share of photos that took the second pass. Photos where
BlazePose finds no one are left out. Wall-clock ms on this machine; the
ratio is what carries to another.
"""

from __future__ import annotations

import json
import time

import numpy as np
from absl import app, flags

_NUM_PHOTOS = flags.DEFINE_integer('num_photos', 48, 'Renders timed.')
_SEED = flags.DEFINE_integer('seed', 2024, 'Render seed.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed passes over the '
                                'photos.')
_TARGET = flags.DEFINE_float('target', 1.5, 'Target ratio path / detector.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_platforms', 'cpu')

  from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import detector as detector_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top

  records = renders.render_set(_NUM_PHOTOS.value, _SEED.value)
  pipeline = predictor_lib.load_pipeline()
  path = pipeline.photo_path
  detector = path.detector
  photos, second = [], []
  for record in records:  # untimed: compilation, and who is found
    try:
      out = pipeline.predict_image(record['image'])
    except detector_lib.NoPersonError:
      continue
    photos.append(record['image'])
    second.append('mirrored_photo' in out['hypothesis_costs'])
  detector_ms, path_ms = [], []
  for _ in range(_REPEATS.value):
    for photo in photos:
      start = time.perf_counter()
      detector(photo)
      detector_ms.append(1000 * (time.perf_counter() - start))
      start = time.perf_counter()
      pipeline.predict_image(photo)
      path_ms.append(1000 * (time.perf_counter() - start))
  detector_ms, path_ms = np.asarray(detector_ms), np.asarray(path_ms)
  result = {
      'photos': len(photos), 'repeats': _REPEATS.value,
      'detector_ms_mean': float(detector_ms.mean()),
      'detector_ms_median': float(np.median(detector_ms)),
      'path_ms_mean': float(path_ms.mean()),
      'path_ms_median': float(np.median(path_ms)),
      'ratio_mean': float(path_ms.mean() / detector_ms.mean()),
      'ratio_median': float(np.median(path_ms) / np.median(detector_ms)),
      'second_pass_percent': 100 * float(np.mean(second)),
      'target': _TARGET.value}
  print(f'\n{len(photos)} photos with a person (of {len(records)}, seed '
        f'{_SEED.value}), {_REPEATS.value} timed passes, after compilation:')
  print('| what | mean ms | median ms |')
  print('|---|---:|---:|')
  print(f'| detector alone | {result["detector_ms_mean"]:.1f} | '
        f'{result["detector_ms_median"]:.1f} |')
  print(f'| default photo path | {result["path_ms_mean"]:.1f} | '
        f'{result["path_ms_median"]:.1f} |')
  print(f'| ratio (target {_TARGET.value:g}x) | {result["ratio_mean"]:.2f}x '
        f'| {result["ratio_median"]:.2f}x |')
  print(f'second pass (mirrored photo) on {result["second_pass_percent"]:.0f}'
        '% of the photos')
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump(result, f, indent=2)


if __name__ == '__main__':
  app.run(main)
