"""Evaluation metrics of the paper (Sec. 4.3, Table 1), on device.

Per-sample values come out in metres from `jl_metrics`; `accumulate` keeps
(sum, count) pairs on device across batches; `finalize` brings them to the
host in millimetres (accuracies in percent); `format_table` prints rows shaped
like the paper's Table 1.
"""

from __future__ import annotations

import collections
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import jl as jl_lib

JOINT_GROUPS = collections.OrderedDict([
    ('Hd', (12, 15)), ('Ts', (3, 6, 9)), ('Sr', (13, 14, 16, 17)),
    ('Ew', (18, 19)), ('Wt', (20, 21)), ('Hp', (1, 2)), ('Kn', (4, 5)),
    ('Ft', (7, 8, 10, 11))])
# The joints the authors average for their overall number.
EVAL_JOINTS = (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 18, 19, 20, 21)
_LANDMARKS = tuple(range(jl_lib.NUM_JOINTS, jl_lib.NUM_POINTS))
_PERCENT = ('gender_acc',)


def procrustes_align(pred: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
  """Similarity Procrustes: rotation, uniform scale and shift of pred.

  Args:
    pred: [B, N, 3] points to align.
    target: [B, N, 3] points to align them to.

  Returns:
    [B, N, 3] pred after the similarity transform minimising the squared
    distance to target (reflections excluded).
  """
  mu_pred = pred.mean(axis=1, keepdims=True)
  mu_target = target.mean(axis=1, keepdims=True)
  x, y = pred - mu_pred, target - mu_target
  covariance = jnp.einsum('bni,bnj->bij', x, y)  # [B, 3, 3]
  u, s, vt = jnp.linalg.svd(covariance)
  sign = jnp.sign(jnp.linalg.det(jnp.einsum('bij,bjk->bik', u, vt)))
  fix = jnp.concatenate([jnp.ones_like(s[:, :2]), sign[:, None]], axis=1)
  rotation = jnp.einsum('bij,bj,bjk->bik', u, fix, vt)  # x @ rotation ~ y
  scale = jnp.sum(s * fix, axis=1) / jnp.maximum(
      jnp.sum(x * x, axis=(1, 2)), 1e-12)
  return scale[:, None, None] * jnp.einsum('bni,bij->bnj', x,
                                           rotation) + mu_target


def _point_errors(pred, target):
  return jnp.linalg.norm(pred - target, axis=-1)


def jl_metrics(pred_jl: jnp.ndarray, gt_jl: jnp.ndarray,
               pred_vertices: jnp.ndarray | None = None,
               gt_vertices: jnp.ndarray | None = None,
               pred_male_prob: jnp.ndarray | None = None,
               gt_male: jnp.ndarray | None = None) -> dict[str, jnp.ndarray]:
  """Per-sample errors of predicted joints and landmarks (metres).

  Args:
    pred_jl, gt_jl: [B, 42, 3] root-relative JL.
    pred_vertices, gt_vertices: optional [B, V, 3] root-relative meshes.
    pred_male_prob, gt_male: optional [B] probability / boolean.

  Returns:
    dict of [B] arrays: 'mpjpe' (protocol 1 over EVAL_JOINTS), 'pa_mpjpe'
    (protocol 2: Procrustes on the 24 joints), one per JOINT_GROUPS key,
    'landmarks', 'bones' (mean abs bone-length error over the 41 bones),
    and 'surface' / 'gender_acc' when their inputs are given.
  """
  errors = _point_errors(pred_jl, gt_jl)  # [B, 42]
  out = {'mpjpe': errors[:, EVAL_JOINTS].mean(axis=1)}
  joints_pred = pred_jl[:, :jl_lib.NUM_JOINTS]
  joints_gt = gt_jl[:, :jl_lib.NUM_JOINTS]
  aligned = procrustes_align(joints_pred, joints_gt)
  out['pa_mpjpe'] = _point_errors(aligned, joints_gt)[:, EVAL_JOINTS].mean(1)
  for name, ids in JOINT_GROUPS.items():
    out[name] = errors[:, ids].mean(axis=1)
  out['landmarks'] = errors[:, _LANDMARKS].mean(axis=1)
  out['bones'] = jnp.abs(jl_lib.bone_lengths(pred_jl) -
                         jl_lib.bone_lengths(gt_jl)).mean(axis=1)
  if pred_vertices is not None and gt_vertices is not None:
    out['surface'] = _point_errors(pred_vertices, gt_vertices).mean(axis=1)
  if pred_male_prob is not None and gt_male is not None:
    out['gender_acc'] = ((pred_male_prob > 0.5) == gt_male).astype(
        pred_jl.dtype)
  return out


@jax.jit
def accumulate(totals: dict | None,
               per_sample: Mapping[str, jnp.ndarray]) -> dict:
  """Adds a batch of per-sample metrics to on-device (sum, count) totals."""
  batch = {k: (jnp.sum(v), jnp.asarray(v.shape[0], jnp.float32))
           for k, v in per_sample.items()}
  if totals is None:
    return batch
  return jax.tree.map(jnp.add, totals, batch)


def finalize(totals: Mapping[str, tuple]) -> dict[str, float]:
  """Host means: metres -> millimetres, accuracies -> percent."""
  totals = jax.device_get(totals)
  return {k: float(s) / float(n) * (100.0 if k in _PERCENT else 1000.0)
          for k, (s, n) in totals.items()}


def reduce_batches(arrays: Mapping[str, np.ndarray], batch_size: int,
                   fn: Callable[[dict, int], Mapping[str, Mapping]]
                   ) -> dict[str, dict[str, float]]:
  """Per-sample metrics of named rows over a whole set, reduced to means.

  Args:
    arrays: equally long arrays [N, ...] (a test set).
    batch_size: samples per call of `fn` (the last batch may be smaller).
    fn: (batch, start) -> {row: per-sample metrics dict}, e.g. jitted
      `jl_metrics` of several models; `start` is the batch's first index
      (to seed its noise).

  Returns:
    {row: `finalize`d metrics} (mm, %).
  """
  size = len(next(iter(arrays.values())))
  totals = {}
  for start in range(0, size, batch_size):
    batch = {k: v[start:start + batch_size] for k, v in arrays.items()}
    for row, per_sample in fn(batch, start).items():
      totals[row] = accumulate(totals.get(row), per_sample)
  return {row: finalize(t) for row, t in totals.items()}


def rows_by_prefix(results: Mapping[str, float]
                   ) -> dict[str, dict[str, float]]:
  """'<a>/<b>/<metric>' results -> {'<a> <b>': {metric: value}} table rows
  (e.g. a DAE run's '<noise>/<before|after>/<metric>'); other keys are
  left out."""
  rows = {}
  for key, value in results.items():
    parts = key.split('/')
    if len(parts) == 3:
      rows.setdefault(f'{parts[0]} {parts[1]}', {})[parts[2]] = value
  return rows


def format_table(rows: Mapping[str, Mapping[str, float]],
                 spread: Mapping[str, Mapping[str, float]] | None = None
                 ) -> str:
  """Markdown table with the paper's Table 1 columns (mm; gender in %).

  `spread` (same layout as `rows`, e.g. standard deviations over seeds)
  turns a cell into 'value ± spread' where it has a finite entry.
  """
  columns = list(JOINT_GROUPS) + ['Jt', 'Lm', 'Bn']
  keys = list(JOINT_GROUPS) + ['mpjpe', 'landmarks', 'bones']
  for extra, title in (('pa_mpjpe', 'PA-Jt'), ('surface', 'Surface'),
                       ('gender_acc', 'Gender %')):
    if any(extra in r for r in rows.values()):
      columns.append(title)
      keys.append(extra)
  lines = ['| model | ' + ' | '.join(columns) + ' |',
           '|---|' + '---|' * len(columns)]
  for name, row in rows.items():
    plus = (spread or {}).get(name, {})
    cells = ['—' if k not in row or not np.isfinite(row[k]) else
             f'{row[k]:.1f} ± {plus[k]:.1f}' if np.isfinite(plus.get(k, np.nan))
             else f'{row[k]:.1f}' for k in keys]
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)
