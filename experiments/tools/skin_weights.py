r"""What a .glb's four skinning weights per vertex cost against all of them.

    python -m experiments.tools.skin_weights [--num_poses=200] [--seed=0]

`write.write_glb` writes four weights per vertex by default (one
JOINTS_0 / WEIGHTS_0 set: what every glTF viewer reads), each vertex's
largest four renormalised; eight (a second set) reproduce our forward
exactly. This prints, over the seeded held-out test set's bodies
(`sampler.make_test_set`: poses, shapes and genders of the default body
model), the share of vertices that move and the vertex error of the
four-weight skin in mm (`write.skinning_error`): mean, 99th percentile,
max.
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

from smplr_jax.body import gendered
from smplr_jax.data import sampler
from smplr_jax.predict import write

_NUM_POSES = flags.DEFINE_integer('num_poses', 200, 'Bodies measured.')
_SEED = flags.DEFINE_integer('seed', 0, 'Test-set seed.')


def main(argv):
  del argv
  models = gendered.load_gendered_models()
  bodies = sampler.make_test_set(models, size=_NUM_POSES.value,
                                 seed=_SEED.value)
  rows = []
  for count in (4, 8):
    error = 1000 * np.concatenate([write.skinning_error(
        models, bodies['pose'][i:i + 50], bodies['betas'][i:i + 50],
        bodies['gender'][i:i + 50], count)
        for i in range(0, _NUM_POSES.value, 50)])
    rows.append((count, 100 * np.mean(error > 1e-3), error.mean(),
                 np.percentile(error, 99), error.max()))
  print(f'{_NUM_POSES.value} bodies of the test set (seed {_SEED.value}); '
        'vertex error of the .glb skin against our forward, mm:')
  print('| weights per vertex | vertices moved % | mean | 99th pct | max |')
  print('|---:|---:|---:|---:|---:|')
  for count, moved, mean, p99, worst in rows:
    print(f'| {count} | {moved:.1f} | {mean:.3f} | {p99:.2f} | '
          f'{worst:.2f} |')


if __name__ == '__main__':
  app.run(main)
