r"""Calibrates the photo path's probability of male on clothed renders,
chooses how firmly a neutral body keeps the mean shape, and measures what
both give on a held-out seed.

    python -m experiments.calibrate_gender [--num_renders=200] \
        [--tune_seed=7] [--eval_seed=2024] [--output=gender.json]
    python -m experiments.calibrate_gender --notune  # the shipped settings

Needs the detector extra (`pip install -e ".[detector]"`). Renders
`--num_renders` people of each seed in the unseen style (textured clothes
and backgrounds never used in training; `renders.render_set`) and runs the
photo path (`load_pipeline().predict_image(photo)`, the default settings
but the gender) on them:

1. Tuning seed, raw: Psi's probability of male of the kept reading (the
   gender as before: the hard switch, no 'unknown'). A Platt scaling of
   Psi's logit (calibrated logit = scale x logit + bias) is fitted to the
   true genders by maximum likelihood.
   Then, with that calibration (every body 'unknown', the neutral body),
   the sweep of `--beta_sigmas`: the fit's betas prior for neutral bodies
   (`GenderSettings.unknown_beta_sigma`), each row P1-23, P2-24 (mm) and
   the shape errors of 3. below; `--unknown_beta_sigma` is the value
   chosen from it (by hand: the shape errors against P1).
2. Held-out seed, raw and calibrated (the pipeline with the fitted
   `gender.GenderSettings` and the unknown band `--unknown_low`,
   `--unknown_high`: the gender is stated only when the calibrated
   probability gives its answer at least that confidence): the expected
   calibration error of the probability of male (10 equal bins over
   [0, 1]: sum over bins of n_bin / N x |share male - mean probability|),
   P1-23 and P2-24 (mm, `renders.body_errors`),
   the accuracy (over all people; and over those not 'unknown'), how many
   are wrong with a probability above 0.9 for the wrong answer, and how
   many are 'unknown'.
3. Shape on the held-out seed: each body's standing height (its mesh in
   the zero pose, top to bottom) and its 23 bone lengths (zero-pose joints
   to their parents) against the truth's, in mm: for the raw and the
   calibrated outputs, and for the prior alone (the neutral body with zero
   betas).

It prints the `GenderSettings` to put in `settings.PhotoSettings.gender`
(smplr_jax/predict/gender.py holds its defaults) and the figures
(docs/photo_path.md, "Gender").
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import smpl
from smplr_jax.data import synthetic
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.evaluation import renders
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.predict import settings as settings_lib

FLAGS = flags.FLAGS
flags.DEFINE_integer('num_renders', 200, 'people rendered per seed')
flags.DEFINE_integer('tune_seed', 7, 'renders the calibration is fitted on')
flags.DEFINE_integer('eval_seed', 2024, 'held-out renders reported')
flags.DEFINE_integer('image_size', 512, 'render side (pixels)')
flags.DEFINE_float('unknown_low', 0.2, "calibrated probabilities of male in "
                   "[unknown_low, unknown_high] are 'unknown'")
flags.DEFINE_float('unknown_high', 0.8, 'see unknown_low')
flags.DEFINE_list('beta_sigmas', ['1.0', '0.3', '0.1', '0.03'],
                  "neutral bodies' betas priors swept on the tuning seed")
flags.DEFINE_float('unknown_beta_sigma', 0.1, "the neutral bodies' betas "
                   'prior reported on the held-out seed')
flags.DEFINE_bool('tune', True, 'fit the calibration and sweep on the tuning '
                  'seed; False: report the shipped settings '
                  '(PhotoSettings().gender) on the held-out seed only')
flags.DEFINE_string('output', None, 'optional JSON of the figures')

# The gender as before: the calibration is the identity, no unknown band.
RAW = gender_lib.GenderSettings(scale=1.0, bias=0.0, unknown_low=0.5,
                                unknown_high=0.5,
                                unknown_beta_sigma=float('inf'))
NUM_BINS = 10
CONFIDENT = 0.9


def render(num: int, seed: int, image_size: int) -> list[dict]:
  """`renders.render_set(num, seed, image_size)`'s records, rendered a batch
  at a time: a batch the rasteriser cannot draw (an extreme close-up) is
  left out and counted, not the whole set (records depend only on (seed,
  index), `synthetic.render_examples`)."""
  models = gendered.load_gendered_models()
  config = renders._config(image_size)  # pylint: disable=protected-access
  batch = synthetic.SyntheticConfig.batch_size
  records, left_out = [], 0
  for first in range(0, num, batch):
    count = min(batch, num - first)
    try:
      records += list(synthetic.render_examples(models, count, seed,
                                                start=first, config=config))
    except RuntimeError as e:
      left_out += count
      logging.warning('seed %d: left out %d renders: %s', seed, count, e)
  print(f'seed {seed}: rendered {len(records)} of {num} (left out '
        f'{left_out}: batches the rasteriser could not draw)')
  return records


def run_photo_path(records: list[dict], gender_settings:
                   gender_lib.GenderSettings, body) -> dict[str, np.ndarray]:
  """The photo path on each render: male_probability, gender, betas, the
  true gender and betas, and the joint errors p1, p2 (metres,
  `renders.body_errors`) of the people found."""
  settings = dataclasses.replace(settings_lib.PhotoSettings(),
                                 gender=gender_settings)
  predictor = predictor_lib.load_pipeline(front_end='blazepose',
                                          settings=settings)
  outs, found = [], []
  for record in records:
    try:
      outs.append(predictor.predict_image(record['image']))
      found.append(record)
    except detector_lib.NoPersonError:
      continue
  errors = renders.body_errors(outs, renders.ground_truth(found, body),
                               found)
  out = {name: np.stack([np.asarray(o[name]) for o in outs])
         for name in ('male_probability', 'gender', 'betas')}
  out.update(true_gender=np.stack([r['gender'] for r in found]),
             true_betas=np.stack([r['betas'] for r in found]),
             p1=errors['p1'], p2=errors['p2'])
  return out


def gender_figures(out: dict[str, np.ndarray]) -> dict[str, float]:
  """ECE, accuracy, confident mistakes and unknowns of a run."""
  p = out['male_probability'].astype(np.float64)
  male = out['true_gender'] == gender_lib.MALE
  known = out['gender'] != gender_lib.NEUTRAL
  right = out['gender'] == out['true_gender']
  wrong_confident = np.where(male, p < 1 - CONFIDENT, p > CONFIDENT)
  return {
      'people': int(len(p)),
      'ece_10_bins': metrics_lib.expected_calibration_error(
          p, male, NUM_BINS),
      'accuracy': float(right.mean()),
      'accuracy_of_known': float(right[known].mean()) if known.any() else
                           float('nan'),
      'unknown': int((~known).sum()),
      'wrong_with_p_over_0.9': int(wrong_confident.sum()),
      'mean_p_male_of_women': float(p[~male].mean()),
      'mean_p_male_of_men': float(p[male].mean()),
  }


@jax.jit
def _standing(models, betas, gender):
  batch = betas.shape[0]
  eye = jnp.broadcast_to(jnp.eye(3, dtype=jnp.float32), (batch, 24, 3, 3))
  out = smpl.smpl_forward(models, eye, betas, gender=gender)
  height = jnp.ptp(out.vertices[..., 1], axis=1)
  parents = np.asarray(jl_lib.SMPL_PARENTS[1:])
  bones = jnp.linalg.norm(out.joints[:, 1:] - out.joints[:, parents], axis=-1)
  return height, bones


def standing_shape(models, betas: np.ndarray,
                   gender: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(heights [N], bone lengths [N, 23]) in metres of bodies in the zero
  pose (`models`: the stacked [female, male, neutral] model)."""
  height, bones = _standing(models, jnp.asarray(betas, jnp.float32),
                            jnp.asarray(gender, jnp.int32))
  return np.asarray(height), np.asarray(bones)


def joint_figures(out: dict[str, np.ndarray]) -> dict[str, float]:
  """Mean P1-23 and P2-24 (mm) of a run."""
  return {'p1_23_mm': float(1000 * out['p1'].mean()),
          'p2_24_mm': float(1000 * out['p2'].mean())}


def shape_figures(models, betas, gender, true_betas,
                  true_gender) -> dict[str, float]:
  """Mean |height error| and mean |bone-length error| (mm) against the
  truth, and the mean signed height error."""
  height, bones = standing_shape(models, betas, gender)
  true_height, true_bones = standing_shape(models, true_betas, true_gender)
  return {'height_abs_error_mm': float(1000 * np.abs(
              height - true_height).mean()),
          'height_signed_error_mm': float(1000 * (height - true_height)
                                          .mean()),
          'bone_abs_error_mm': float(1000 * np.abs(bones - true_bones)
                                     .mean())}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  body = gendered.GenderedModels.load(with_neutral=True)
  models = body.gendered
  if not FLAGS.tune:
    tune, fitted = {}, settings_lib.PhotoSettings().gender
    print(f'the shipped settings: {fitted}')
  else:
    tune_records = render(FLAGS.num_renders, FLAGS.tune_seed,
                          FLAGS.image_size)
    tune = run_photo_path(tune_records, RAW, body)
    scale, bias = gender_lib.fit_platt(tune['male_probability'],
                            tune['true_gender'] == gender_lib.MALE)
    fitted = gender_lib.GenderSettings(
        scale=round(scale, 4), bias=round(bias, 4),
        unknown_low=FLAGS.unknown_low, unknown_high=FLAGS.unknown_high,
        unknown_beta_sigma=FLAGS.unknown_beta_sigma)
    print(f'tuning seed {FLAGS.tune_seed}: {len(tune["gender"])} people '
          f'found of {FLAGS.num_renders}; fitted {fitted}')
  results = {'settings': dataclasses.asdict(fitted),
             'tune_seed': FLAGS.tune_seed, 'eval_seed': FLAGS.eval_seed,
             'num_renders': FLAGS.num_renders, 'sweep': {}}

  def figures(out):
    return dict(gender_figures(out), **joint_figures(out), **shape_figures(
        models, out['betas'], out['gender'], out['true_betas'],
        out['true_gender']))

  def show(name, row):
    print(f'  {name:18s} ' + ', '.join(
        f'{k} {v:.3f}' if isinstance(v, float) else f'{k} {v}'
        for k, v in row.items()))

  if FLAGS.tune:
    print(f'tuning seed {FLAGS.tune_seed}, neutral betas prior sweep:')
    show('raw', figures(tune))
    for sigma in FLAGS.beta_sigmas:
      row = figures(run_photo_path(tune_records, dataclasses.replace(
          fitted, unknown_beta_sigma=float(sigma)), body))
      results['sweep'][sigma] = row
      show(f'beta_sigma {sigma}', row)

  records = render(FLAGS.num_renders, FLAGS.eval_seed, FLAGS.image_size)
  runs = {'raw': run_photo_path(records, RAW, body),
          'calibrated': run_photo_path(records, fitted, body)}
  for name, out in runs.items():
    results[name] = figures(out)
  out = runs['calibrated']
  results['prior'] = shape_figures(
      models, np.zeros_like(out['betas']),
      np.full_like(out['gender'], gender_lib.NEUTRAL), out['true_betas'],
      out['true_gender'])
  print(f'held-out seed {FLAGS.eval_seed}:')
  for name in ('raw', 'calibrated', 'prior'):
    show(name, results[name])
  if FLAGS.output:
    output = pathlib.Path(FLAGS.output)
    output.write_text(json.dumps(results, indent=1))
    np.savez(output.with_suffix('.npz'), **{
        f'{run}_{key}': value for run, out in dict(runs, tune=tune).items()
        for key, value in out.items()})  # tune: {} without --tune


if __name__ == '__main__':
  app.run(main)
