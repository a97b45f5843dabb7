r"""The paper's benchmark protocols, run through an image predictor.

| table | data (builder, split) | errors (mm) |
|---|---|---|
| 2 | `human36m` test (S9, S11) | P1, P2 on the 17-joint Human3.6M skeleton |
| 3 | `surreal` test | surface (mean vertex error), P1 / P2 on SMPL joints |

Both run `Predictor.predict_crops` (`predictor.load_pipeline()`, or any with its
call signature) on records of the builders:

  * Crop: the paper's root-centred crop around the true root (the record's
    `jl_cam[0]`, `augment.process_example(train=False)`), whose position
    also converts the network's output to the camera frame. Root-relative
    protocols give the root; what is measured is the pose and shape about
    it.
  * Human3.6M skeleton of a prediction: the 17 points of
    `keypoints.H36M17` regressed from the predicted SMPL output: 14 SMPL
    joints (pelvis, hips, knees, ankles, shoulders, elbows, wrists), the
    spine as the pelvis-neck midpoint, the thorax as SMPL's neck joint, the
    neck/nose as the midpoint of SMPL's head joint and the nose vertex, the
    head as the top-of-skull vertex (vertex ids on the default body in
    `keypoints.DEFAULT_VERTEX_IDS`; other meshes by `keypoints.SURFACE_RULES`).
    Published SMPL-based results use `J_regressor_h36m.npy` (Kanazawa et
    al. 2018), a sparse regressor fit to the licensed SMPL mesh; it is not
    freely distributed and does not apply to the default body, so this
    fixed, documented mixture stands in for it. With the licensed files a
    user can swap in that regressor (`h36m17_from_mesh` is the one place).
  * P1: mean over the 17 joints of the distance after subtracting each
    skeleton's pelvis; P2: the same after a similarity Procrustes alignment
    of the 17 joints (`metrics.procrustes_align`). Frames are those of the
    builder's `test_stride` (every 64th by default).
  * SURREAL: the true mesh is SMPL of the record's pose, shape and gender on
    the pipeline's body model (the model the records' JL were built with),
    both meshes minus their root joint; P1 / P2 are `metrics.jl_metrics`'
    (16 joints, Procrustes on 24) on the recovered body's SMPL joints.

`experiments/evaluate_protocols.py` prints the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from smplr_jax.body import gendered, keypoints, rotations
from smplr_jax.data import augment
from smplr_jax.data.datasets import human36m
from smplr_jax.evaluation import metrics

# The metrics of the surface protocol's row (mm; gender_acc in %).
SURREAL_METRICS = ('surface', 'mpjpe', 'pa_mpjpe', 'landmarks', 'bones',
                   'gender_acc')


def crop_records(records: Sequence[dict[str, Any]], input_size: int,
                 cube_size: float) -> tuple[np.ndarray, np.ndarray]:
  """Plain root-centred crops of records at their true roots.

  Returns:
    (crops float32 [B, S, S, 3] in [0, 1], roots [B, 3] camera frame).
  """
  config = augment.augment_config()
  config.crop_size = int(input_size)
  config.cube_size = float(cube_size)
  crops = [augment.process_example(r, config, train=False)['image']
           for r in records]
  roots = np.stack([np.asarray(r['jl_cam'][0], np.float32) for r in records])
  return np.stack(crops).astype(np.float32), roots


def h36m17_from_mesh(model, joints: jnp.ndarray,
                     vertices: jnp.ndarray) -> jnp.ndarray:
  """[B, 17, 3] Human3.6M skeleton (`keypoints.H36M17` order, which is
  `human36m.H36M17_FROM_32`'s) of SMPL outputs joints [B, 24, 3] and
  vertices [B, V, 3] of `model`'s mesh."""
  return keypoints.keypoints_from_mesh(keypoints.H36M17, model, joints,
                                       vertices)


def h36m17_errors(pred: jnp.ndarray, truth: jnp.ndarray
                  ) -> dict[str, jnp.ndarray]:
  """Per-example P1-17 and P2-17 (metres) on 17-joint skeletons [B, 17, 3].

  P1: mean joint distance after subtracting each skeleton's pelvis (joint
  0); P2: after a similarity Procrustes alignment to the truth
  (`metrics.mpjpe`, `metrics.pa_mpjpe` over all 17 joints).
  """
  joints = tuple(range(pred.shape[1]))
  return {'p1': metrics.mpjpe(pred, truth, joints=joints),
          'p2': metrics.pa_mpjpe(pred, truth, joints=joints)}


def _batches(source, batch_size: int, max_examples: int | None,
             progress: bool, what: str):
  """(index list, records) chunks of a random-access source, in order."""
  count = len(source) if max_examples is None else min(len(source),
                                                       max_examples)
  if count == 0:
    raise ValueError(f'{what}: the split has no examples.')
  with tqdm.tqdm(total=count, desc=what, unit='image',
                 disable=not progress) as bar:
    for start in range(0, count, batch_size):
      ids = list(range(start, min(start + batch_size, count)))
      yield ids, [source[i] for i in ids]
      bar.update(len(ids))


def _predict(predictor, records, batch_size: int) -> dict[str, np.ndarray]:
  """The predictor on one chunk, padded to `batch_size` (one compilation)."""
  size = predictor.input_size
  crops, roots = crop_records(records, size, predictor.cube_size)
  count = len(records)
  if count < batch_size:  # repeat the last example; dropped below
    pad = batch_size - count
    crops = np.concatenate([crops, np.repeat(crops[-1:], pad, 0)])
    roots = np.concatenate([roots, np.repeat(roots[-1:], pad, 0)])
  out = predictor.predict_crops(crops, roots)
  return {k: np.asarray(v)[:count] for k, v in out.items() if k != 'faces'}


def evaluate_human36m(predictor, source, *, batch_size: int = 16,
                      max_examples: int | None = None,
                      progress: bool = True) -> dict[str, Any]:
  """Table 2's protocol on a `human36m` split (normally 'test').

  Args:
    predictor: a `predictor.Predictor`.
    source: random-access records of the split (`tfds.data_source(...)`),
      with the builder's `h36m17_cam`, `subject` and `action` (version
      1.1.0 or later).
    batch_size: crops per predictor call.
    max_examples: evaluate only the first N records.
    progress: show a progress bar.

  Returns:
    dict: 'p1', 'p2' (mm, mean over examples), 'count', 'per_action'
    {action: {'p1', 'p2', 'count'}} over the actions present (mean of
    examples, the protocol's per-action columns), 'per_subject' likewise
    ({'S9': ...}).
  """
  model = predictor.body.gendered
  errors_fn = jax.jit(h36m17_errors)
  per_example = {'p1': [], 'p2': []}
  actions, subjects = [], []
  for _, records in _batches(source, batch_size, max_examples, progress,
                             'Human3.6M'):
    if 'h36m17_cam' not in records[0]:
      raise ValueError('the records have no h36m17_cam: rebuild the '
                       'human36m dataset (version 1.1.0 adds it).')
    out = _predict(predictor, records, batch_size)
    pred = h36m17_from_mesh(model, jnp.asarray(out['joints']),
                            jnp.asarray(out['vertices']))
    truth = np.stack([np.asarray(r['h36m17_cam'], np.float32)
                      for r in records])
    errors = jax.device_get(errors_fn(pred, truth))
    for key, chunks in per_example.items():
      chunks.append(np.asarray(errors[key]))
    actions += [int(r['action']) for r in records]
    subjects += [int(r['subject']) for r in records]
  p1 = np.concatenate(per_example['p1']) * 1000.0
  p2 = np.concatenate(per_example['p2']) * 1000.0
  actions, subjects = np.asarray(actions), np.asarray(subjects)

  def summary(keep):
    return {'p1': float(p1[keep].mean()), 'p2': float(p2[keep].mean()),
            'count': int(keep.sum())}

  per_action = {}
  for index, name in enumerate(human36m.ACTIONS):
    if np.any(actions == index):
      per_action[name] = summary(actions == index)
  if np.any(actions < 0):
    per_action['other'] = summary(actions < 0)
  return dict(summary(np.ones_like(p1, bool)), per_action=per_action,
              per_subject={f'S{s}': summary(subjects == s)
                           for s in sorted(set(subjects.tolist()))})


def evaluate_surreal(predictor, source, *, batch_size: int = 16,
                     max_examples: int | None = None,
                     progress: bool = True) -> dict[str, Any]:
  """Table 3's protocol on a `surreal` split (normally 'test').

  Returns:
    dict (mm; gender_acc in %): 'surface' (mean vertex error), 'mpjpe',
    'pa_mpjpe' (SMPL joints of the recovered body), 'landmarks', 'bones',
    'gender_acc', and 'count'.
  """
  body = predictor.body

  @jax.jit
  def errors_fn(out, pose, betas, gender, truth_jl):
    truth = {'pose': rotations.axis_angle_to_matrix(pose), 'betas': betas,
             'gender': gender}
    return metrics.jl_metrics(
        out['jl_body'], truth_jl, pred_vertices=out['vertices'],
        gt_vertices=gendered.true_vertices(body, truth),
        pred_male_prob=out['male_probability'], gt_male=gender == 1)

  totals = None
  count = 0
  for ids, records in _batches(source, batch_size, max_examples, progress,
                               'SURREAL'):
    bad = [i for i, r in zip(ids, records) if int(r['has_smpl']) != 1 or
           int(r['gender']) not in (0, 1)]
    if bad:
      raise ValueError(f'records {bad[:5]} have no SMPL ground truth '
                       '(has_smpl 0 or gender -1); the surface protocol '
                       'needs it.')
    out = _predict(predictor, records, batch_size)
    stack = {key: np.stack([np.asarray(r[key]) for r in records])
             for key in ('jl_cam', 'pose', 'betas', 'gender')}
    jl_cam = stack['jl_cam']
    per_sample = errors_fn(
        {k: jnp.asarray(out[k]) for k in ('jl_body', 'vertices',
                                          'male_probability')},
        stack['pose'], stack['betas'], stack['gender'],
        jl_cam - jl_cam[:, :1])
    totals = metrics.accumulate(totals, per_sample)
    count += len(records)
  results = metrics.finalize(totals)
  return dict({k: results[k] for k in SURREAL_METRICS}, count=count)


def format_human36m(results: dict[str, Any]) -> str:
  """Markdown: P1 / P2 per action, per subject and over all frames."""
  lines = ['| | frames | P1 | P2 |', '|---|---|---|---|']
  rows = [*results['per_action'].items(), *results['per_subject'].items(),
          ('all', results)]
  for name, row in rows:
    lines.append(f'| {name} | {row["count"]} | {row["p1"]:.1f} | '
                 f'{row["p2"]:.1f} |')
  return '\n'.join(lines)


def format_surreal(results: dict[str, Any]) -> str:
  """Markdown: the surface protocol's row."""
  head = ['frames', 'surface', 'P1-16 (Jt)', 'P2-16 (PA-Jt)', 'Lm', 'Bn',
          'gender %']  # SURREAL_METRICS' order
  values = [str(results['count'])] + [f'{results[k]:.1f}'
                                      for k in SURREAL_METRICS]
  return '\n'.join(['| ' + ' | '.join(head) + ' |',
                    '|' + '---|' * len(head),
                    '| ' + ' | '.join(values) + ' |'])


# Protocol name -> (evaluate, format): `experiments/evaluate_protocols.py`.
PROTOCOLS = {
    'human36m': (evaluate_human36m, format_human36m),
    'surreal': (evaluate_surreal, format_surreal),
}
