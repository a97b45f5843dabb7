"""Error metrics: the one home of P1, P2 and the paper's Table 1 (Sec. 4.3).

P1 (MPJPE: mean per-joint position error after root alignment) and P2
(PA-MPJPE: after a similarity Procrustes alignment) are different numbers
over different joint sets, so every one here names its set: the sets are
named constants below (indices into the 24 SMPL joints, `jl.JOINT_NAMES`,
which are also the first 24 of the 42 JL points), `mpjpe` / `pa_mpjpe` take
the set as a required argument, and `metric_name` gives the label a table
shows ('P1-23', 'P2-16', ...).

  * P1-16, P2-16 (the Procrustes fit on 24): `jl_metrics`' 'mpjpe' and
    'pa_mpjpe', Table 1's 'Jt' / 'PA-Jt' (training, the SURREAL protocol);
  * P1-23, P2-24: `renders.body_errors` and `experiments/evaluate_video.py`
    (the photo and video evaluations);
  * limb P1-12 (hip-aligned), limb P2-12: `renders.limb_errors`.

Per-sample values are metres, computed with numpy (in the inputs'
precision) when every input is a numpy array and with jax.numpy otherwise
(device arrays, under jit); `accumulate` keeps (sum, count) pairs on
device across batches; `finalize` brings them to the host in millimetres
(accuracies in percent); `format_table` prints rows shaped like the paper's
Table 1.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib

# ----------------------------------------------------------------------------
# Joint sets: indices into the 24 SMPL joints (and the 42 JL).

# Every SMPL joint (SMPL's joint regressor, `jl.JOINT_NAMES`). P2 of the photo
# and video evaluations is fit on it and averages over it
# (`renders.body_errors`, `experiments/evaluate_video.py`); `jl_metrics`' P2
# is fit on it.
JOINTS_24 = tuple(range(jl_lib.NUM_JOINTS))
# Every SMPL joint but the pelvis: the root, zero in root-relative bodies, so
# left out of the mean. P1 of the photo and video evaluations.
JOINTS_23 = JOINTS_24[1:]
# The authors' 16 evaluation joints: the paper's Table 1 'Jt' ([code]
# `eval_joints` in `Models/e2ePoseestimator.py`; docs/paper_facts.md Sec. 9):
# hips, knees, ankles, spine1, spine3, neck, head, shoulders, elbows,
# wrists; not spine2, the feet, the collars or the hands. P1 / P2 of
# `jl_metrics` (training, Table 1, the SURREAL protocol).
JOINTS_16_PAPER = (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 18, 19, 20, 21)
# The 12 limb joints, in `keypoints.LIMB_JOINT_NAMES` order (shoulders,
# elbows, wrists, hips, knees, ankles; left then right): the only points
# BlazePose shares with SMPL. Limb P1 / P2 (`renders.limb_errors`), on
# [B, 12, 3] arrays of these points in this order.
JOINTS_12_LIMBS = tuple(jl_lib.JOINT_NAMES.index(n)
                        for n in kp_lib.LIMB_JOINT_NAMES)
# The former name of JOINTS_16_PAPER, kept for its callers.
EVAL_JOINTS = JOINTS_16_PAPER

# The points each skeleton is centred on before P1.
ROOT = (0,)  # the pelvis: P1's root alignment
LIMB_HIPS = (6, 7)  # left and right hip among JOINTS_12_LIMBS: limb P1

JOINT_GROUPS = collections.OrderedDict([
    ('Hd', (12, 15)), ('Ts', (3, 6, 9)), ('Sr', (13, 14, 16, 17)),
    ('Ew', (18, 19)), ('Wt', (20, 21)), ('Hp', (1, 2)), ('Kn', (4, 5)),
    ('Ft', (7, 8, 10, 11))])
_LANDMARKS = tuple(range(jl_lib.NUM_JOINTS, jl_lib.NUM_POINTS))
_PERCENT = ('gender_acc',)
_PROTOCOLS = ('P1', 'P2')


def metric_name(protocol: str, joints: Sequence[int]) -> str:
  """The label of a metric over a joint set: 'P1-23', 'P2-16', ...

  Args:
    protocol: 'P1' (after root alignment, `mpjpe`) or 'P2' (after
      Procrustes, `pa_mpjpe`).
    joints: the set the metric averages over (e.g. `JOINTS_23`).

  Returns:
    '<protocol>-<number of joints>'.
  """
  if protocol not in _PROTOCOLS:
    raise ValueError(f'protocol {protocol!r}: expected one of {_PROTOCOLS}.')
  return f'{protocol}-{len(tuple(joints))}'


# What `jl_metrics`' P1 / P2 keys are, as labels ('Jt' is P1-16).
JL_METRIC_NAMES = {'mpjpe': metric_name('P1', JOINTS_16_PAPER),
                   'pa_mpjpe': metric_name('P2', JOINTS_16_PAPER)}


def _xp(*arrays):
  """numpy when every input is a host numpy array (kept in its precision,
  e.g. float64), else jax.numpy (device arrays, tracers)."""
  return np if all(isinstance(a, np.ndarray) for a in arrays) else jnp


def _index(joints: Sequence[int]) -> tuple[int, ...]:
  """A joint set as a tuple of ints (a static index, also under jit)."""
  return tuple(int(j) for j in joints)


def _mean_over(errors, joints: Sequence[int]):
  """[B] mean of [B, N] errors over the indices `joints`."""
  if isinstance(errors, np.ndarray):  # `take` keeps the rows contiguous,
    # so numpy sums them in the order of a plain slice's.
    return np.take(errors, _index(joints), axis=1).mean(axis=1)
  return errors[:, _index(joints)].mean(axis=1)


def center(points: jnp.ndarray, on: Sequence[int] = ROOT) -> jnp.ndarray:
  """[B, N, 3] points minus the mean of their points `on` (the root joint
  by default; `LIMB_HIPS` for limb points)."""
  points = _xp(points).asarray(points)
  return points - points[:, _index(on)].mean(axis=1, keepdims=True)


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


def point_errors(pred: jnp.ndarray, truth: jnp.ndarray, *,
                 center_on: Sequence[int] | None = None) -> jnp.ndarray:
  """Per-point distances (joints, landmarks or vertices), in metres.

  Args:
    pred, truth: [B, N, 3] points.
    center_on: None: compare the points as given (e.g. both root-relative);
      else indices of the points each side is first centred on (`ROOT`:
      root-aligned, P1's per-joint errors; `LIMB_HIPS`).

  Returns:
    [B, N] distances.
  """
  xp = _xp(pred, truth)
  pred, truth = xp.asarray(pred), xp.asarray(truth)
  if center_on is not None:
    pred, truth = center(pred, center_on), center(truth, center_on)
  return xp.linalg.norm(pred - truth, axis=-1)


def mpjpe(pred: jnp.ndarray, truth: jnp.ndarray, *, joints: Sequence[int],
          center_on: Sequence[int] | None = ROOT) -> jnp.ndarray:
  """P1 over a named joint set (label: `metric_name('P1', joints)`).

  Args:
    pred, truth: [B, N, 3] points (N = 24 SMPL joints, 42 JL, or the 12
      limb points of `JOINTS_12_LIMBS`).
    joints: indices into N the mean is over (`JOINTS_23`,
      `JOINTS_16_PAPER`, ...).
    center_on: the points each skeleton is centred on first (`ROOT`, or
      `LIMB_HIPS`); None when both are root-relative already and any
      offset between them counts (`jl_metrics`).

  Returns:
    [B] mean distances (metres).
  """
  return _mean_over(point_errors(pred, truth, center_on=center_on), joints)


def pa_mpjpe(pred: jnp.ndarray, truth: jnp.ndarray, *, joints: Sequence[int],
             fit_on: Sequence[int] | None = None) -> jnp.ndarray:
  """P2 over a named joint set (label: `metric_name('P2', joints)`).

  Args:
    pred, truth: [B, N, 3] points.
    joints: indices into N the mean is over.
    fit_on: indices into N the similarity Procrustes (`procrustes_align`) is
      fit on; it must hold `joints`. None: `joints` itself. `jl_metrics`
      fits on `JOINTS_24` and averages over `JOINTS_16_PAPER`.

  Returns:
    [B] mean distances after the alignment (metres).
  """
  joints = _index(joints)
  fit_on = joints if fit_on is None else _index(fit_on)
  missing = sorted(set(joints) - set(fit_on))
  if missing:
    raise ValueError(f'pa_mpjpe: joints {missing} are not among fit_on '
                     f'{fit_on}: the alignment is fit on fit_on and applied '
                     'to those points only.')
  xp = _xp(pred, truth)
  pred, truth = xp.asarray(pred)[:, fit_on], xp.asarray(truth)[:, fit_on]
  aligned = procrustes_align(jnp.asarray(pred), jnp.asarray(truth))
  if xp is np:
    aligned = np.asarray(aligned)  # float32: the alignment runs on device
  errors = point_errors(aligned, truth)
  return _mean_over(errors, [fit_on.index(j) for j in joints])


def acceleration(points: jnp.ndarray) -> jnp.ndarray:
  """[T - 2, N, 3] second differences of a [T, N, 3] sequence."""
  return points[2:] - 2 * points[1:-1] + points[:-2]


def acceleration_error(pred: jnp.ndarray, truth: jnp.ndarray, *,
                       joints: Sequence[int]) -> jnp.ndarray:
  """Mean distance between predicted and true second differences.

  Args:
    pred, truth: [T, N, 3] sequences (frames in order).
    joints: indices into N the mean is over.

  Returns:
    [T - 2] per-frame means (metres / frame^2).
  """
  xp = _xp(pred, truth)
  pred, truth = xp.asarray(pred), xp.asarray(truth)
  return _mean_over(point_errors(acceleration(pred), acceleration(truth)),
                    joints)


def jl_metrics(pred_jl: jnp.ndarray, gt_jl: jnp.ndarray,
               pred_vertices: jnp.ndarray | None = None,
               gt_vertices: jnp.ndarray | None = None,
               pred_male_prob: jnp.ndarray | None = None,
               gt_male: jnp.ndarray | None = None) -> dict[str, jnp.ndarray]:
  """Per-sample errors of predicted joints and landmarks (metres).

  Args:
    pred_jl, gt_jl: [B, 42, 3] root-relative JL (compared as given: an
      offset between them counts).
    pred_vertices, gt_vertices: optional [B, V, 3] root-relative meshes.
    pred_male_prob, gt_male: optional [B] probability / boolean.

  Returns:
    dict of [B] arrays: 'mpjpe' (P1-16: protocol 1 over JOINTS_16_PAPER),
    'pa_mpjpe' (P2-16: Procrustes fit on JOINTS_24, mean over
    JOINTS_16_PAPER), one per JOINT_GROUPS key, 'landmarks', 'bones' (mean
    abs bone-length error over the 41 bones), and 'surface' / 'gender_acc'
    when their inputs are given.
  """
  pred_jl, gt_jl = jnp.asarray(pred_jl), jnp.asarray(gt_jl)  # on device
  errors = point_errors(pred_jl, gt_jl)  # [B, 42]
  out = {'mpjpe': mpjpe(pred_jl, gt_jl, joints=JOINTS_16_PAPER,
                        center_on=None),
         'pa_mpjpe': pa_mpjpe(pred_jl, gt_jl, joints=JOINTS_16_PAPER,
                              fit_on=JOINTS_24)}
  for name, ids in JOINT_GROUPS.items():
    out[name] = errors[:, ids].mean(axis=1)
  out['landmarks'] = errors[:, _LANDMARKS].mean(axis=1)
  out['bones'] = jnp.abs(jl_lib.bone_lengths(pred_jl) -
                         jl_lib.bone_lengths(gt_jl)).mean(axis=1)
  if pred_vertices is not None and gt_vertices is not None:
    out['surface'] = point_errors(jnp.asarray(pred_vertices),
                                  jnp.asarray(gt_vertices)).mean(axis=1)
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

  'Jt' and 'PA-Jt' carry their joint set: 'Jt (P1-16)', 'PA-Jt (P2-16)'
  (`JL_METRIC_NAMES`). `spread` (same layout as `rows`, e.g. standard
  deviations over seeds) turns a cell into 'value ± spread' where it has a
  finite entry.
  """
  columns = list(JOINT_GROUPS) + [f"Jt ({JL_METRIC_NAMES['mpjpe']})", 'Lm',
                                   'Bn']
  keys = list(JOINT_GROUPS) + ['mpjpe', 'landmarks', 'bones']
  for extra, title in (('pa_mpjpe', f"PA-Jt ({JL_METRIC_NAMES['pa_mpjpe']})"),
                       ('surface', 'Surface'),
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


def expected_calibration_error(probability, outcome,
                               num_bins: int = 10) -> float:
  """Expected calibration error of a probability [N] of a binary outcome
  [N] (e.g. P(male) and the true genders, 1 male): over `num_bins` equal
  bins of [0, 1], |mean probability - share of outcomes| weighted by the
  bin's share of the N (NaN when N = 0)."""
  p = np.asarray(probability, np.float64).reshape(-1)
  y = np.asarray(outcome, np.float64).reshape(-1)
  if p.size == 0:
    return float('nan')
  which = np.minimum((p * num_bins).astype(int), num_bins - 1)
  total = 0.0
  for b in range(num_bins):
    chosen = which == b
    if chosen.any():
      total += chosen.sum() * abs(p[chosen].mean() - y[chosen].mean())
  return float(total / p.size)
