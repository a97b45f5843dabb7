r"""SMPLR alone vs SMPLR + the refinement fit, on the held-out set (mm).

    python -m experiments.evaluate_fit [--weights=FOLDER] [--size=1024] \
        [--json_out=fit_gains.json]

The shipped SMPLR (or --weights, an exported folder or workdir) on the
seeded held-out set of its config (`test_seed`, `test_set_size`), from
four inputs, each followed by the fit (`fitting.fit_body` on the 42 JL
in 3D, or on their pixels with the root's depth known) with the default
`fitting.FitOptions`, and once more with the priors switched off (sigmas
of 1e3), to show what they earn:

  * clean: the true JL;
  * uniform / structured: `noise.add_noise` of that kind at scale 1, the
    noise of batch `start` drawn from fold_in(PRNGKey(test_noise_seed),
    start) as in `stitched.evaluate_stitched`;
  * detector: 2D keypoints as a 2D detector gives them (`detector_input`):
    the true points seen by a 1000 x 1000 px camera (focal 1000 px) with the
    root 3-6 m away, 3 px Gaussian noise, 5% outliers (up to 40 px off) and
    5% points missing; SMPLR sees the structured-noise 3D JL (what an image
    network gives), the fit sees the keypoints, intrinsics and root depth.

Prints the Table-1 columns of every row. The whole run takes ~2 min on the
2-core machine.
"""

from __future__ import annotations

import functools
import json
import pathlib
import time

import jax
import jax.numpy as jnp
from absl import flags

from smplr_jax import camera, cli, fitting, resources
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import noise, sampler
from smplr_jax.evaluation import metrics
from smplr_jax.nets import weights_io
from smplr_jax.predict import predictor as predictor_lib

_WEIGHTS = flags.DEFINE_string('weights', None, 'SMPLR (default: shipped).')
_SIZE = flags.DEFINE_integer('size', None, 'Bodies (default: the config).')
_BATCH = flags.DEFINE_integer('batch_size', 256, 'Bodies per call.')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Write the rows here.')

NO_PRIORS = fitting.FitOptions(beta_sigma=1e3, pose_sigma=1e3, limit_sigma=1e3)
FOCAL, IMAGE_SIZE = 1000.0, 1000.0
INTRINSICS = jnp.asarray([[FOCAL, 0.0, IMAGE_SIZE / 2],
                          [0.0, FOCAL, IMAGE_SIZE / 2], [0.0, 0.0, 1.0]])


def detector_input(key: jax.Array, jl: jnp.ndarray):
  """A 2D detector's view of root-relative JL [B, 42, 3].

  Returns:
    (keypoints [B, 42, 2] pixels, root_depth [B] metres, visible [B, 42]).
  """
  keys = jax.random.split(key, 6)
  batch = jl.shape[0]
  depth = jax.random.uniform(keys[0], (batch,), minval=3.0, maxval=6.0)
  shift = jax.random.uniform(keys[1], (batch, 2), minval=-0.5, maxval=0.5)
  camera = jl + jnp.concatenate([shift, depth[:, None]], -1)[:, None]
  pixels = camera[..., :2] / camera[..., 2:] * FOCAL + IMAGE_SIZE / 2
  pixels = pixels + 3.0 * jax.random.normal(keys[2], pixels.shape)
  outlier = jax.random.bernoulli(keys[3], 0.05, pixels.shape[:2])
  pixels = jnp.where(outlier[..., None], pixels + jax.random.uniform(
      keys[4], pixels.shape, minval=-40.0, maxval=40.0), pixels)
  visible = ~jax.random.bernoulli(keys[5], 0.05, pixels.shape[:2])
  return pixels, depth, visible


def fit_3d(body: gendered.GenderedModels, points: fitting.FitPoints,
           jl: jnp.ndarray, init: dict, options: fitting.FitOptions) -> dict:
  """SMPLR's bodies `init` fitted to JL [B, 42, 3] (`points`: the 42 JL's
  `fitting.fit_points_for`), with their mesh (`fitting.with_mesh`)."""
  fitted = fitting.fit_body(points, init['pose'], init['betas'],
                            init['gender'], points_3d=jl, options=options)
  return fitting.with_mesh(body, fitted, init)


@jax.jit
def _root_at_depth(points_model, pose, betas, gender, rays, weights, depth):
  """[B, 3] the start body's root at a known depth [B]: its x, y put the
  start's JL [B, 42, 3] on their rays [B, 42, 2]."""
  points = jl_lib.smpl_points(points_model, pose, betas, gender)
  return camera.root_from_rays(points, rays, weights, depth=depth)


def fit_2d(body: gendered.GenderedModels, points: fitting.FitPoints,
           keypoints: jnp.ndarray, depth: jnp.ndarray, visible: jnp.ndarray,
           init: dict, options: fitting.FitOptions) -> dict:
  """SMPLR's bodies `init` fitted to JL pixels [B, 42, 2] (`INTRINSICS`)
  with the root's depth [B] known: the start root's x, y put the start's
  visible [B, 42] points on their rays, then x, y are fitted with the depth
  kept. Returns `fit_3d`'s dict plus root_cam [B, 3]."""
  focal, principal = camera.split_intrinsics(INTRINSICS, keypoints.shape[0])
  root = _root_at_depth(
      body.points, init['pose'], init['betas'],
      fitting.gender_index(init['gender']),
      camera.normalised(keypoints, focal[:, None], principal[:, None]),
      jnp.asarray(visible, jnp.float32), depth)
  fitted = fitting.fit_body(points, init['pose'], init['betas'],
                            init['gender'], pixels=keypoints,
                            weights_2d=visible, intrinsics=INTRINSICS,
                            root_cam=root, solve_depth=False, options=options)
  return dict(fitting.with_mesh(body, fitted, init),
              root_cam=fitted['root_cam'])


def main(argv):
  del argv
  path = _WEIGHTS.value or resources.weights_dir() / 'smplr'
  config = weights_io.load_config(path)
  body = gendered.GenderedModels.load(config.get('body_model_path'))
  predictor = predictor_lib.load_smplr(path)
  jl_points = fitting.fit_points_for(body)
  test_set = sampler.make_test_set(
      body.gendered, size=_SIZE.value or config.test_set_size,
      seed=config.test_seed)
  key = jax.random.PRNGKey(config.test_noise_seed)
  true_vertices = jax.jit(lambda b: gendered.true_vertices(body, b))
  per_sample = jax.jit(metrics.jl_metrics)
  seconds = {}

  def row(out, batch, gt_vertices):
    jl = jnp.concatenate([out['joints'], out['landmarks']], axis=1)
    return per_sample(jl, batch['jl'], out['vertices'], gt_vertices)

  def timed(name, fn):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
    return out

  def rows(batch, start):
    batch_key = jax.random.fold_in(key, start)
    gt_vertices = true_vertices(batch)
    out = {}
    for kind in ('clean', 'uniform', 'structured'):
      jl_in = noise.add_noise(batch_key, jnp.asarray(batch['jl']),
                              'none' if kind == 'clean' else kind)
      init = timed('smplr', functools.partial(predictor, jl_in))
      out[f'{kind}: SMPLR'] = row(init, batch, gt_vertices)
      for name, options in (('+ fit', fitting.FitOptions()),
                            ('+ fit, no priors', NO_PRIORS)):
        fitted = timed(name[2:], functools.partial(
            fit_3d, body, jl_points, jl_in, init, options))
        out[f'{kind}: SMPLR {name}'] = row(fitted, batch, gt_vertices)
    # `init` is now SMPLR on the structured 3D JL.
    keypoints, depth, visible = detector_input(
        jax.random.fold_in(batch_key, 1), jnp.asarray(batch['jl']))
    for name, options in (('+ fit 2D', fitting.FitOptions()),
                          ('+ fit 2D, no priors', NO_PRIORS)):
      fitted = timed(name[2:], functools.partial(
          fit_2d, body, jl_points, keypoints, depth, visible, init,
          options))
      out[f'detector: SMPLR {name}'] = row(fitted, batch, gt_vertices)
    return out

  results = metrics.reduce_batches(test_set, _BATCH.value, rows)
  print(f'{len(test_set["jl"])} held-out bodies (seed {config.test_seed}), '
        'mm; the detector rows start from SMPLR on structured noise.')
  print(metrics.format_table(results))
  print('seconds (incl. compilation and the mesh): ' + ', '.join(
      f'{k} {v:.1f}' for k, v in seconds.items()))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(
        dict(rows=results, seconds=seconds), indent=2))


if __name__ == '__main__':
  cli.run(main)
