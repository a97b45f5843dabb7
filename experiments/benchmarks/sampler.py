r"""Benchmark: synthetic-body samplers, samples per minute on this machine.

    python -m experiments.benchmarks.sampler
    python -m experiments.benchmarks.sampler --batch_sizes=1024,4096 --meshes=false

Times the jitted `sampler.sample_jl` (SMPL parameters -> 42 JL points; only
the 18 landmark vertices are skinned) and `sampler.sample_bodies` (the full
mesh too) on the default [female, male] model, or on a random SMPL-sized
model when the default is absent (`--model`). Target: >= 1M JL per minute on
a 2-core CPU.
"""

from __future__ import annotations

import json

from absl import app, flags

from experiments.benchmarks import timing
from smplr_jax.body import gendered

_BATCH_SIZES = flags.DEFINE_list('batch_sizes', ['256', '1024', '4096',
                                                 '16384'],
                                 'Batch sizes to time sample_jl at.')
_MESH_BATCH_SIZES = flags.DEFINE_list('mesh_batch_sizes', ['64', '256'],
                                      'Batch sizes to time sample_bodies at.')
_MESHES = flags.DEFINE_bool('meshes', True, 'Also time sample_bodies.')
_MODEL = flags.DEFINE_enum('model', 'default', ['default', 'smpl_sized'],
                           'Body model: the embedded default or a random '
                           'SMPL-sized one (6890 vertices, pose correctives).')
_MIN_TIME = flags.DEFINE_float('min_time', 2.0,
                               'Seconds of timed calls per measurement.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from smplr_jax import testing  # pylint: disable=g-import-not-at-top
  from smplr_jax.body import body_model as bm  # pylint: disable=g-import-not-at-top
  from smplr_jax.body import jl as jl_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.data import sampler  # pylint: disable=g-import-not-at-top

  if _MODEL.value == 'default':
    models = gendered.load_gendered_models()
  else:
    singles = []
    for seed in (0, 1):
      arrays = testing.random_smpl_arrays(seed=seed)
      arrays['landmark_vertex_ids'] = np.asarray(
          bm.SMPL_LANDMARK_VERTEX_IDS)
      singles.append(bm.body_model_from_arrays(arrays, 'random'))
    models = bm.stack_body_models(singles)
  points_model = jl_lib.landmark_points_model(models)
  key = jax.random.PRNGKey(0)
  print(f'devices: {jax.devices()} | model {_MODEL.value}: '
        f'V={models.num_vertices}, pose correctives='
        f'{"yes" if models.num_pose_dirs else "no"}')
  print()
  print('| sampler | B | ms / batch | samples / s | samples / min |')
  print('|---|---|---|---|---|')
  rows = []

  def report(name, batch, seconds):
    row = dict(sampler=name, batch=batch, ms=1e3 * seconds,
               per_second=batch / seconds, per_minute=60 * batch / seconds)
    rows.append(row)
    print(f'| {name} | {batch} | {row["ms"]:.1f} | {row["per_second"]:,.0f} '
          f'| {row["per_minute"]:,.0f} |', flush=True)

  sample_jl = jax.jit(sampler.sample_jl, static_argnums=2)
  for batch in [int(b) for b in _BATCH_SIZES.value]:
    seconds = timing.median_seconds(
        lambda i, b=batch: sample_jl(jax.random.fold_in(key, i), points_model,
                                     b)['jl'].block_until_ready(),
        _MIN_TIME.value)
    report('sample_jl', batch, seconds)
  if _MESHES.value:
    sample_bodies = jax.jit(sampler.sample_bodies, static_argnums=2)
    for batch in [int(b) for b in _MESH_BATCH_SIZES.value]:
      seconds = timing.median_seconds(
          lambda i, b=batch: sample_bodies(jax.random.fold_in(key, i), models,
                                           b)['vertices'].block_until_ready(),
          _MIN_TIME.value)
      report('sample_bodies', batch, seconds)
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump(dict(model=_MODEL.value, rows=rows), f, indent=2)


if __name__ == '__main__':
  app.run(main)
