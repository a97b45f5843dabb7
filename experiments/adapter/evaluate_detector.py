r"""Image -> body with the BlazePose front end, beside the project's network.

    python -m experiments.adapter.evaluate_detector [--num_images=1024] \
        [--num_renders=128] [--output=results.json]

Needs the detector extra (`pip install -e ".[detector]"`). On the test
split of the synthetic set the image network was trained on
(`smplr_synthetic/n32768_v512_t1024_s0`, whole 256 x 256 frames) and on
`--num_renders` fresh renders of the unseen style (backgrounds and fabric
never used in training; our stand-in for photos of people), it runs

  * BlazePose alone: its 3D world landmarks against the true keypoints of
    the same definition (12 limb joints only),
  * BlazePose -> adapter (3D world landmarks, or 2D pixels) -> SMPLR
    (without and with the DAE): the recovered body,
  * the project's image network (`predictor.load_pipeline()`): root-centred
    crops at the true root (the protocol of `experiments.
    evaluate_image_pipeline`), and crops from BlazePose's box
    (`crop_person`, no ground truth used),

and prints, per set, the share of images with a person found, P1 (MPJPE on
the authors' 16 joints, root-relative), P2 (Procrustes), the surface error
of the SMPL mesh, P1 / P2 on the 12 limb joints after aligning the hip
midpoints, and the time per image on one CPU core (median; the networks
after compilation, batch 1). Errors are over the images where BlazePose
found a person (the own network also over all images).
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from smplr_jax import resources
from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.data import augment, synthetic
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.evaluation import renders
from smplr_jax.nets import weights_io
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import keypoint_predictor, photo_path
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.training.tasks import image_net as image_net_task

_NUM_IMAGES = flags.DEFINE_integer('num_images', 1024,
                                   'Test-split images (0: skip the split).')
_NUM_RENDERS = flags.DEFINE_integer('num_renders', 128,
                                    'Unseen-style renders (0: skip).')
_RENDER_SEED = flags.DEFINE_integer('render_seed', 2024, 'Seed of renders.')
_DATA = flags.DEFINE_string('data_config', 'n32768_v512_t1024_s0',
                            'smplr_synthetic builder config.')
_OUTPUT = flags.DEFINE_string('output', None, 'Write the results as JSON.')


def body_errors(joints, landmarks, vertices, truth) -> dict[str, np.ndarray]:
  """Per-image errors (metres) of recovered bodies against the truth."""
  jl = np.concatenate([joints, landmarks], axis=1)
  out = jax.device_get(metrics_lib.jl_metrics(
      jnp.asarray(jl), jnp.asarray(truth['jl']),
      pred_vertices=jnp.asarray(vertices),
      gt_vertices=jnp.asarray(truth['vertices'])))
  errors = {k: np.asarray(out[k]) for k in ('mpjpe', 'pa_mpjpe', 'surface')}
  errors.update(renders.limb_errors(jl[:, renders.LIMB_JOINTS],
                                    truth['jl'][:, renders.LIMB_JOINTS]))
  return errors


def ground_truth(records, body) -> dict[str, np.ndarray]:
  """Root-relative true JL, mesh and BlazePose keypoints of records."""
  pose = rotations.axis_angle_to_matrix(
      jnp.asarray(np.stack([r['pose'] for r in records])))
  betas = jnp.asarray(np.stack([r['betas'] for r in records]))
  gender = jnp.asarray(np.stack([r['gender'] for r in records]))
  out = smpl.smpl_forward(body.gendered, pose, betas, gender=gender)
  root = out.joints[:, :1]
  keypoints = kp_lib.keypoints_from_mesh(kp_lib.BLAZEPOSE33, body.gendered,
                                         out.joints, out.vertices)
  jl = jl_lib.joints_and_landmarks(body.gendered, out.vertices, out.joints)
  return jax.device_get({'jl': jl, 'vertices': out.vertices - root,
                         'keypoints': keypoints - root})


def evaluate_set(records, predictors, own, augment_config,
                 body) -> dict[str, dict[str, float]]:
  """Rows of one image set (see the module docstring)."""
  truth = ground_truth(records, body)
  detector = next(iter(predictors.values())).detector
  detections, found, detect_ms = renders.detect_all(
      detector, [r['image'] for r in records])
  on_found = {k: v[found] for k, v in truth.items()}
  rows = {}
  world = np.stack([d.keypoints_3d for d in detections])
  raw = renders.limb_errors(
      world[:, kp_lib.limb_ids(kp_lib.BLAZEPOSE33)],
      on_found['keypoints'][:, kp_lib.limb_ids(kp_lib.BLAZEPOSE33)])
  rows['BlazePose world landmarks alone'] = dict(
      _means(raw), found=100 * len(found) / len(records),
      ms=float(np.median(detect_ms)))
  size = records[0]['image'].shape[1::-1]
  focal = float(records[0]['focal'][0])
  for name, predictor in predictors.items():
    outs, times = [], []
    for detection, i in zip(detections, found):
      start = time.perf_counter()
      outs.append(predictor.predict_detection(
          detection, size, float(records[i]['focal'][0])))
      times.append(1000 * (time.perf_counter() - start))
    stacked = {k: np.stack([o[k] for o in outs])
               for k in ('joints', 'landmarks', 'vertices')}
    errors = body_errors(stacked['joints'], stacked['landmarks'],
                         stacked['vertices'], on_found)
    rows[f'BlazePose -> {name}'] = dict(
        _means(errors), found=100 * len(found) / len(records),
        ms=float(np.median(detect_ms) + np.median(times[1:])))
  # The project's image network: true-root crops, then BlazePose boxes.
  crops = np.stack([augment.process_example(r, augment_config,
                                            train=False)['image']
                    for r in records])
  roots = np.stack([r['jl_cam'][0] for r in records])
  outs, times = [], []
  for crop, root in zip(crops, roots):
    start = time.perf_counter()
    outs.append(own.predict_crops(crop[None], root[None]))
    times.append(1000 * (time.perf_counter() - start))
  stacked = {k: np.concatenate([o[k] for o in outs])
             for k in ('joints', 'landmarks', 'vertices')}
  errors = body_errors(stacked['joints'], stacked['landmarks'],
                       stacked['vertices'], truth)
  rows['own image network, true-root crop (all images)'] = dict(
      _means(errors), found=100.0, ms=float(np.median(times[1:])))
  rows['own image network, true-root crop'] = dict(
      _means({k: v[found] for k, v in errors.items()}),
      found=100 * len(found) / len(records), ms=float(np.median(times[1:])))
  outs = [own.predict_image(records[i]['image'], box=d.box, focal=focal)
          for d, i in zip(detections, found)]
  stacked = {k: np.stack([o[k] for o in outs])
             for k in ('joints', 'landmarks', 'vertices')}
  errors = body_errors(stacked['joints'], stacked['landmarks'],
                       stacked['vertices'], on_found)
  rows['own image network, BlazePose box crop'] = dict(
      _means(errors), found=100 * len(found) / len(records),
      ms=float(np.median(detect_ms) + np.median(times[1:])))
  return rows


def _means(errors: dict[str, np.ndarray]) -> dict[str, float]:
  return {k: 1000 * float(np.mean(v)) for k, v in errors.items()}


def format_rows(rows: dict[str, dict[str, float]]) -> str:
  columns = (('found', 'found %'), ('mpjpe', 'P1'), ('pa_mpjpe', 'P2'),
             ('surface', 'surface'), ('limb_p1', 'limb P1'),
             ('limb_p2', 'limb P2'), ('ms', 'ms / image'))
  lines = ['| front end | ' + ' | '.join(t for _, t in columns) + ' |',
           '|---|' + '---:|' * len(columns)]
  for name, row in rows.items():
    cells = [f'{row[k]:.0f}' if k in row else '—' for k, _ in columns]
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  jax.config.update('jax_platforms', 'cpu')
  own = predictor_lib.load_pipeline()
  detector = detector_lib.BlazePoseDetector()
  predictors = {}
  for name, use_dae in (('3D adapter -> SMPLR', False),
                        ('3D adapter -> DAE -> SMPLR', True),
                        ('2D adapter -> SMPLR', False)):
    adapter = 'blazepose33_2d' if name.startswith('2D') else 'blazepose33_3d'
    predictors[name] = photo_path.PhotoPath(
        detector, keypoint_predictor.load_keypoint_predictor(adapter,
                                                      use_dae=use_dae))
  image_net_config = weights_io.load_config(
      resources.weights_dir() / 'image_net')
  image_net_config.data.builder_config = _DATA.value
  results = {}
  if _NUM_IMAGES.value:
    source = image_net_task.load_sources(image_net_config)['test']
    records = [source[i] for i in range(min(_NUM_IMAGES.value,
                                            len(source)))]
    results[f'synthetic test split ({len(records)} images)'] = evaluate_set(
        records, predictors, own, image_net_config.augment, own.body)
  if _NUM_RENDERS.value:
    models = gendered.load_gendered_models()
    records = list(synthetic.render_examples(
        models, _NUM_RENDERS.value, _RENDER_SEED.value,
        config={'style': 'unseen'}))
    results[f'unseen-style renders ({len(records)})'] = evaluate_set(
        records, predictors, own, image_net_config.augment, own.body)
  for name, rows in results.items():
    print(f'\n{name}; errors in mm:')
    print(format_rows(rows))
  if _OUTPUT.value:
    pathlib.Path(_OUTPUT.value).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  app.run(main)
