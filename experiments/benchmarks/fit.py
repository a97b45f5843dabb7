r"""Benchmark: our refinement fit vs smplfitter, same bodies, same machine.

    pip install smplfitter     # MIT; its NumPy and JAX backends are timed
    python -m experiments.benchmarks.fit [--batch_sizes=1,64,1024] \
        [--min_time=2] [--json_out=fit_benchmark.json]

The bodies are the first B of the shipped SMPLR's held-out set (default
body model: 13,718 vertices, female and male). What each side fits:

  * ours (`fitting.fit_body` on `fitting.fit_points_for(body)`, the 42 JL;
    default `fitting.FitOptions`, 10 LM iterations): the 42 true JL
    points, from the shipped SMPLR's prediction on them; timed alone and
    with SMPLR in front (JL -> parameters).
  * smplfitter (NumPy backend up to --np_max_batch; `BodyFitter.fit(
    target_vertices, target_joints, num_iter=3, beta_regularizer=1)`, its
    README's settings): all 13,718 true vertices
    and the 24 true joints, from nothing (it needs no start). It reads
    official SMPL files, so our default model's arrays are written in that
    layout to a temporary folder (`smplfitter_model_dir`); one fitter per
    gender, each body fitted with its own gender's model (the timed call
    is both genders' calls); the JAX backend under `jax.jit`.

Both return pose and betas; errors are measured from them by our SMPL
forward against the truth: Jt (Table 1's 16 joints), JL (all 42 points) and
surface (all vertices), mm, root-relative. Throughput counts bodies fitted
per second (median call time after compilation).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pathlib
import pickle
import tempfile
import time

import numpy as np
from absl import app, flags

from smplr_jax import resources
from smplr_jax.body import gendered
from smplr_jax.nets import weights_io

_BATCH_SIZES = flags.DEFINE_list('batch_sizes', ['1', '64', '1024'],
                                 'Batch sizes to time.')
_MIN_TIME = flags.DEFINE_float('min_time', 2.0,
                               'Seconds of timed calls per measurement.')
_BACKENDS = flags.DEFINE_list('backends', ['jax', 'np'],
                              'smplfitter backends to time.')
_NP_MAX_BATCH = flags.DEFINE_integer(
    'np_max_batch', 64, 'Largest batch for smplfitter\'s NumPy backend (it '
    'takes ~0.7 s per body on the 2-core machine: 12 min at B = 1024).')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')

_SMPLFITTER_FILES = {'female': 'f', 'male': 'm', 'neutral': 'neutral'}


def smplfitter_model_dir(folder: pathlib.Path) -> pathlib.Path:
  """Writes the default body model as smplfitter's 'smpl' model folder.

  smplfitter loads `basicmodel_{f,m,neutral}_lbs_10_207_0_v1.1.0.pkl` and a
  `kid_template.npy` (an all-zero file means no kid shapes) from a folder;
  the arrays are ours, unchanged (their pose correctives are zero).
  """
  from smplr_jax.body import body_model as bm  # pylint: disable=g-import-not-at-top
  folder = pathlib.Path(folder) / 'smpl'
  folder.mkdir(parents=True, exist_ok=True)
  keys = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights',
          'kintree_table', 'f')
  for gender, short in _SMPLFITTER_FILES.items():
    arrays = bm.read_model_arrays(
        bm.default_body_model_dir() / f'SMPL_{gender.upper()}.npz')
    with open(folder / f'basicmodel_{short}_lbs_10_207_0_v1.1.0.pkl',
              'wb') as f:
      pickle.dump({k: np.asarray(arrays[k]) for k in keys}, f)
  num_vertices = arrays['v_template'].shape[0]
  np.save(folder / 'kid_template.npy', np.zeros((num_vertices, 3)))
  return folder


def seconds_per_call(fn, min_time: float) -> float:
  """Median wall time of `fn()` after one warm-up call (compilation); at
  least 3 timed calls, 1 when a call takes over 10 s."""
  start = time.perf_counter()
  fn()
  warm = time.perf_counter() - start
  times = []
  begin = time.perf_counter()
  while (time.perf_counter() - begin < min_time or
         len(times) < (1 if warm > 10 else 3)):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return sorted(times)[len(times) // 2]


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from smplr_jax.body import smpl  # pylint: disable=g-import-not-at-top
  from smplr_jax.data import sampler  # pylint: disable=g-import-not-at-top
  from smplr_jax import fitting  # pylint: disable=g-import-not-at-top
  from smplr_jax.evaluation import metrics  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top

  sizes = [int(b) for b in _BATCH_SIZES.value]
  path = resources.weights_dir() / 'smplr'
  config = weights_io.load_config(path)
  body = gendered.GenderedModels.load()
  predictor = predictor_lib.load_smplr(path)
  jl_points = fitting.fit_points_for(body)
  bodies = sampler.make_test_set(body.gendered, size=max(sizes),
                                 seed=config.test_seed,
                                 include_vertices=True)

  @jax.jit
  def errors(pose, betas, gender, gt_jl, gt_vertices):
    out = smpl.smpl_forward(body.gendered, pose, betas, gender=gender)
    root = out.joints[:, :1]
    jl = jnp.concatenate([out.joints, out.vertices[
        :, body.gendered.landmark_vertex_ids]], axis=1) - root
    m = metrics.jl_metrics(jl, gt_jl, out.vertices - root, gt_vertices)
    return dict(jt=m['mpjpe'].mean(), surface=m['surface'].mean(),
                jl=jnp.linalg.norm(jl - gt_jl, axis=-1).mean())

  fitters = {}
  if importlib.util.find_spec('smplfitter') is None:
    print('smplfitter is not installed (pip install smplfitter): timing '
          'only ours.')
  else:
    folder = smplfitter_model_dir(tempfile.mkdtemp())
    for backend in _BACKENDS.value:
      module = importlib.import_module(f'smplfitter.{backend}')
      fitters[backend] = {
          g: module.BodyFitter(module.BodyModel(
              'smpl', name, model_root=str(folder), num_betas=10))
          for g, name in enumerate(('female', 'male'))}

  results = []
  for size in sizes:
    batch = {k: v[:size] for k, v in bodies.items()}
    gt_jl, gender = jnp.asarray(batch['jl']), jnp.asarray(batch['gender'])
    init = predictor(gt_jl)
    def ours(gt_jl=gt_jl, init=init):
      return jax.block_until_ready(fitting.fit_body(
          jl_points, init['pose'], init['betas'], init['gender'],
          points_3d=gt_jl))

    def both(gt_jl=gt_jl):  # SMPLR, then the fit
      return ours(gt_jl, predictor(gt_jl))

    def smplr_alone(gt_jl=gt_jl):
      return jax.block_until_ready(predictor(gt_jl))

    fitted = ours()
    rows = [('ours: fit', '42 JL + SMPLR start', seconds_per_call(
        ours, _MIN_TIME.value), fitted['pose'], fitted['betas'])]
    rows.append(('ours: SMPLR + fit', '42 JL', seconds_per_call(
        both, _MIN_TIME.value), fitted['pose'], fitted['betas']))
    rows.append(('SMPLR alone', '42 JL', seconds_per_call(
        smplr_alone, _MIN_TIME.value), init['pose'], init['betas']))
    for backend, per_gender in fitters.items():
      if backend == 'np' and size > _NP_MAX_BATCH.value:
        continue
      groups = [(g, np.flatnonzero(batch['gender'] == g)) for g in (0, 1)]
      groups = [(g, ids) for g, ids in groups if len(ids)]
      calls = []
      for g, ids in groups:
        def fn(v, j, fitter=per_gender[g]):
          return fitter.fit(v, j, num_iter=3, beta_regularizer=1,
                            requested_keys=['pose_rotvecs', 'shape_betas'])

        if backend == 'jax':
          fn = jax.jit(fn)
          args = (jnp.asarray(batch['vertices'][ids]),
                  jnp.asarray(batch['jl'][ids, :24]))
        else:
          args = (batch['vertices'][ids], batch['jl'][ids, :24])
        calls.append((ids, fn, args))

      def run_all(calls=calls):
        return [jax.block_until_ready(fn(*args)) for _, fn, args in calls]

      seconds = seconds_per_call(run_all, _MIN_TIME.value)
      pose = np.zeros((size, 24, 3), np.float32)
      betas = np.zeros((size, 10), np.float32)
      for (ids, _, _), out in zip(calls, run_all()):
        pose[ids] = np.asarray(out['pose_rotvecs']).reshape(-1, 24, 3)
        betas[ids] = np.asarray(out['shape_betas'])
      rows.append((f'smplfitter {backend}', '13,718 vertices + 24 joints',
                   seconds, jnp.asarray(pose), jnp.asarray(betas)))
    for name, fits, seconds, pose, betas in rows:
      err = jax.device_get(errors(pose, betas, gender, gt_jl,
                                  jnp.asarray(batch['vertices'])))
      results.append(dict(batch=size, method=name, fits=fits,
                          fits_per_s=size / seconds,
                          ms_per_call=1000 * seconds,
                          **{f'{k}_mm': 1000 * float(v)
                             for k, v in err.items()}))
      print(json.dumps(results[-1]), flush=True)

  lines = [('| B | method | fits to | fits/s | ms / call | Jt mm | JL mm | '
            'surface mm |'), '|---|---|---|---|---|---|---|---|']
  for r in results:
    lines.append(f"| {r['batch']} | {r['method']} | {r['fits']} | "
                 f"{r['fits_per_s']:.0f} | {r['ms_per_call']:.1f} | "
                 f"{r['jt_mm']:.1f} | {r['jl_mm']:.1f} | "
                 f"{r['surface_mm']:.1f} |")
  print('\n'.join(lines))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  app.run(main)
