"""Refinement fit: SMPL parameters fitted to JL or 2D keypoints, from SMPLR's
start, by batched Levenberg-Marquardt.

SMPLR's networks give a body in one pass (`inference.load_smplr`); a short
optimisation from that start matches the evidence much more closely.
`refine` fits to root-relative camera-frame JL [B, 42, 3]; `refine_2d` to
pixel keypoints [B, 42, 2] of a camera with known intrinsics and root depth
(a 2D detector's output). `fit_points` / `fit_keypoints` are the jitted
cores (parameters and JL, no mesh).

Unknowns, per body: 24 local rotation increments d_j (axis-angle, applied
on the right, R_j <- R_j exp([d_j]x): no singularity near the current pose),
the betas, and for 2D the root's x, y (its depth is given). Gender stays as
given. Residuals, each divided by its sigma (`FitOptions`):

  * data: fitted minus target point (3D), or the reprojection error times
    root depth / focal (2D: metres at the root's depth), per point weighted
    by `weights`, `visible` and a Geman-McClure IRLS weight;
  * betas: betas / beta_sigma, the sampler's N(0, 1) shapes;
  * pose: log(R0_j^T R_j) / pose_sigma, toward the start (SMPLR's pose);
  * limits: how far each joint's Euler angles leave the sampler's ranges of
    motion (`limits.JOINT_LIMITS`, widened by `limit_margin_deg`).

Jacobians are analytic. Turning joint j by d (in its own frame) turns its
subtree about the posed joint p_j by the world vector G_j d, so a joint x
below j moves by (G_j d) x (x - p_j), and a landmark (skinned by weights w_k)
by (G_j d) x sum_{k below j} w_k (T_k v - p_j); points are affine in the
betas for a fixed pose. Pose correctives (real SMPL files) enter the
residuals, not the Jacobian. Each iteration solves (H + lambda diag(H)) d =
-g by Cholesky ([P, P] per body, P = 82 or 84) and keeps the step per body
only when the cost drops (then lambda / 3, else lambda x 5): a fixed number
of iterations in `lax.fori_loop`, one compilation per batch size.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import checks
from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, limits, rotations, smpl
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib

NUM_JOINTS = jl_lib.NUM_JOINTS
NUM_POSE_PARAMS = 3 * NUM_JOINTS


@dataclasses.dataclass(frozen=True)
class FitOptions:
  """Settings of the fit (hashable: a static argument of the jitted cores).

  Attributes:
    num_iterations: LM iterations (each one Jacobian and one solve).
    point_sigma: the 3D data term's unit (metres): a point off by this
      much costs as much as a beta off by `beta_sigma`.
    robust_scale: Geman-McClure scale (metres) of the 3D term: points
      farther off than this count less and less; None for least squares.
    beta_sigma: std of the betas' Gaussian prior (the sampler's is 1).
    pose_sigma: std (radians) of each joint's rotation away from the start.
    limit_sigma: std (radians) of an angle beyond the joint limits.
    limit_margin_deg: the sampler's limits are widened by this much.
    damping: initial LM lambda (relative to diag(H)).
    point_sigma_2d: the 2D term's unit: a reprojection error of this many
      metres at the start's root depth (pixels * depth / focal).
    robust_scale_2d: Geman-McClure scale (metres, as point_sigma_2d) of the
      2D term; None for least squares.
  """
  num_iterations: int = 10
  point_sigma: float = 0.005
  robust_scale: float | None = 0.1
  beta_sigma: float = 1.0
  pose_sigma: float = 0.5
  limit_sigma: float = 0.02
  limit_margin_deg: float = 2.0
  damping: float = 1e-3
  point_sigma_2d: float = 0.005
  robust_scale_2d: float | None = 0.1


def _ancestors(parents: tuple[int, ...]) -> np.ndarray:
  """[J, J] A with A[k, j] = 1 when joint j is k or one of its ancestors."""
  a = np.zeros((len(parents),) * 2, np.float32)
  for k in range(len(parents)):
    j = k
    while j >= 0:
      a[k, j] = 1.0
      j = parents[j]
  return a


def _euler_axes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Joints 1..23: their Euler orders as axes [23, 3] (i, j, k), the
  position of axis x, y, z in the order [23, 3], and the parity [23]."""
  axes = np.asarray([rotations.order_axes(o)
                     for o in limits.JOINT_EULER_ORDERS[1:]])
  position = np.argsort(axes, axis=1)
  parity = np.where((axes[:, 1] - axes[:, 0]) % 3 == 1, 1.0, -1.0)
  return axes, position, parity.astype(np.float32)


def _limits_radians(margin_deg: float) -> np.ndarray:
  """[24, 3, 2] (lower, upper) per joint and axis, widened by the margin."""
  degrees = limits.joint_limits_degrees() + np.asarray([-margin_deg,
                                                        margin_deg])
  return np.deg2rad(degrees).astype(np.float32)


class _Body(NamedTuple):
  """One body's model arrays (its gender's), for the points model.

  joint_template [24, 3]; joint_dirs [S, 24, 3]; v_template [18, 3];
  shape_dirs [S, 18, 3]; pose_dirs [P, 18, 3] (P may be 0); weights [18, 24].
  """
  joint_template: jnp.ndarray
  joint_dirs: jnp.ndarray
  v_template: jnp.ndarray
  shape_dirs: jnp.ndarray
  pose_dirs: jnp.ndarray
  weights: jnp.ndarray


def _select_bodies(points_model: bm.BodyModel, gender: jnp.ndarray,
                   num_betas: int) -> _Body:
  """[B]-batched `_Body` of a stacked landmark-points model."""
  model = points_model
  if not model.is_stacked:
    model = bm.stack_body_models([model])
    gender = jnp.zeros_like(gender)
  num_v = model.v_template.shape[-2]

  def pick(x):
    return jnp.take(x, gender, axis=0)

  # Planar [.., 3 * V] directions -> [.., V, 3].
  dirs = jnp.swapaxes(model.blend_dirs.reshape(
      model.blend_dirs.shape[:2] + (3, num_v)), -1, -2)
  return _Body(
      joint_template=pick(model.joint_template),
      joint_dirs=pick(model.joint_shape_dirs[:, :num_betas].reshape(
          model.joint_shape_dirs.shape[0], num_betas, NUM_JOINTS, 3)),
      v_template=pick(model.v_template),
      shape_dirs=pick(dirs[:, :num_betas]),
      pose_dirs=pick(dirs[:, model.num_betas:]),
      weights=pick(model.lbs_weights))


def _dot(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
  """sum(a * b) over the last axis, after broadcasting.

  Elementwise products fuse on XLA:CPU, but reductions over any axis other
  than the last one run ~80x slower there than this form or an einsum
  (measured at B = 1024), so every sum below is over the last axis or a
  contraction of an einsum.
  """
  return jnp.sum(a * b, axis=-1)


def _points_and_jacobian(body: _Body, rot: jnp.ndarray, betas: jnp.ndarray,
                         parents: tuple[int, ...], with_jacobian: bool):
  """One body's root-relative JL and its Jacobian.

  Args:
    body: the body's `_Body`.
    rot: [24, 3, 3] relative rotations.
    betas: [S] shape coefficients.
    parents: the kinematic tree.
    with_jacobian: also return the Jacobian.

  Returns:
    points [42, 3] (metres, minus the root joint) and, with_jacobian, the
    Jacobian [42, 3, 72 + S] w.r.t. (d_0..d_23, betas).
  """
  rest_joints = body.joint_template + jnp.einsum('s,sja->ja', betas,
                                                 body.joint_dirs)
  rest_verts = body.v_template + jnp.einsum('s,sia->ia', betas,
                                            body.shape_dirs)
  if body.pose_dirs.shape[0]:
    feature = (rot[1:] - jnp.eye(3, dtype=rot.dtype)).reshape(-1)
    rest_verts = rest_verts + jnp.einsum('p,pia->ia', feature,
                                         body.pose_dirs)
  world_rot, posed = smpl.forward_kinematics(rot[None], rest_joints[None],
                                             parents)
  world_rot, posed = world_rot[0], posed[0]
  shift = posed - _dot(world_rot, rest_joints[:, None])
  # Each landmark as moved by each joint's transform: [18 (i), 24 (k), 3].
  moved = _dot(world_rot[None], rest_verts[:, None, None]) + shift[None]
  landmarks = jnp.einsum('ik,ika->ia', body.weights, moved)
  points = jnp.concatenate([posed, landmarks]) - posed[0]
  if not with_jacobian:
    return points, None

  anc = jnp.asarray(_ancestors(parents))  # [k, j]
  # Lever arms c[q, j]: x_q moves by (G_j d) x c[q, j].
  arm_joints = anc[:, :, None] * (posed[:, None] - posed[None])
  weighted = body.weights[..., None] * moved
  arm_landmarks = (jnp.einsum('ika,kj->ija', weighted, anc) -
                   (body.weights @ anc)[..., None] * posed[None])
  arms = jnp.concatenate([arm_joints, arm_landmarks])  # [42, 24, 3]
  # Column d of G_j is the world axis of local axis d.
  axes = jnp.swapaxes(world_rot, -1, -2)  # [24, 3 (d), 3]
  jac_rot = jnp.cross(axes[None], arms[:, :, None])  # [42, 24, 3 (d), 3]
  jac_rot = jnp.transpose(jac_rot, (0, 3, 1, 2)).reshape(-1, 3,
                                                         NUM_POSE_PARAMS)
  # Betas: bones rotated by the parent's world rotation, summed down the
  # chain (root-relative); landmarks through their skinning transforms.
  joint_dirs = jnp.swapaxes(body.joint_dirs, 0, 1)  # [24, S, 3]
  par = np.asarray(parents[1:])
  bones = joint_dirs[1:] - joint_dirs[par]
  rotated = _dot(world_rot[par][:, None], bones[:, :, None])  # [23, S, 3]
  d_joints = jnp.einsum('kj,jsa->ksa', anc[:, 1:], rotated)  # [24, S, 3]
  # sum_k w_ik (G_k (Sv_i - S_k) + dJ_k) = Gbar_i Sv_i + sum_k w_ik (dJ_k -
  # G_k S_k), with Gbar_i = sum_k w_ik G_k the blended rotation.
  blended = jnp.einsum('ik,kab->iab', body.weights, world_rot)
  shape_dirs = jnp.swapaxes(body.shape_dirs, 0, 1)  # [18, S, 3]
  turned = _dot(world_rot[:, None], joint_dirs[:, :, None])  # [24, S, 3]
  d_landmarks = (_dot(blended[:, None], shape_dirs[:, :, None]) +
                 jnp.einsum('ik,ksa->isa', body.weights, d_joints - turned))
  jac_betas = jnp.swapaxes(jnp.concatenate([d_joints, d_landmarks]), 1, 2)
  return points, jnp.concatenate([jac_rot, jac_betas], axis=-1)


class _Data(NamedTuple):
  """One body's evidence.

  target_3d [K3, 3] points (metres, aligned as the 3D readout aligns the
  fitted points), weight_3d [K3]; target_2d [K2, 2] normalised image
  coordinates ((u - c) / f), weight_2d [K2]; the start pose [24, 3, 3];
  scale [] (metres per normalised unit of the 2D residual: the start's root
  depth; 0 without a 2D term); and the betas prior's mean [S]."""
  target_3d: jnp.ndarray
  weight_3d: jnp.ndarray
  target_2d: jnp.ndarray
  weight_2d: jnp.ndarray
  start_rot: jnp.ndarray
  scale: jnp.ndarray
  betas_mean: jnp.ndarray


class _Readouts(NamedTuple):
  """How the data terms read the body's points [N, 3] (N = 24 joints + V
  vertices of the points model, root-relative): 3D points = readout_3d @
  points, 2D points = projection of readout_2d @ points + root. Shared by
  the batch."""
  readout_3d: jnp.ndarray  # [K3, N]
  readout_2d: jnp.ndarray  # [K2, N]


class _State(NamedTuple):
  """One body's accepted LM iterate and its linearisation."""
  rot: jnp.ndarray  # [24, 3, 3]
  betas: jnp.ndarray  # [S]
  root: jnp.ndarray  # [3]: the root in the camera frame (2D term), else 0
  cost: jnp.ndarray  # []
  hessian: jnp.ndarray  # [P, P]
  gradient: jnp.ndarray  # [P]
  damping: jnp.ndarray  # []
  points: jnp.ndarray  # [N, 3]


class _Terms(NamedTuple):
  """Static description of the objective (a jit static argument)."""
  use_3d: bool
  use_2d: bool
  num_root: int  # root unknowns: 0 (3D only), 2 (x, y; depth given), 3


def _robust(squared: jnp.ndarray, scale: float | None, sigma: float):
  """Geman-McClure cost and IRLS weight of whitened squared residuals."""
  if scale is None:
    return squared, jnp.ones_like(squared)
  scale2 = (scale / sigma)**2
  return (scale2 * squared / (scale2 + squared),
          (scale2 / (scale2 + squared))**2)


def _data_terms(points, jac, state, data, readouts, options: FitOptions,
                terms: _Terms, with_jacobian: bool):
  """Data cost [] and, with_jacobian, its Gauss-Newton (hessian, gradient)
  over (pose, betas, root) from whitened residuals and Jacobians."""
  cost = jnp.zeros((), points.dtype)
  blocks = []  # (residual [K, k], jacobian [K, k, P] or None, weight [K])
  num_root = terms.num_root
  if terms.use_3d:
    fitted = readouts.readout_3d @ points
    resid = (fitted - data.target_3d) / options.point_sigma
    jac_3d = None
    if with_jacobian:
      jac_3d = jnp.einsum('kn,nap->kap', readouts.readout_3d,
                          jac) / options.point_sigma
      jac_3d = jnp.pad(jac_3d, ((0, 0), (0, 0), (0, num_root)))
    robust, irls = _robust(jnp.sum(resid * resid, -1), options.robust_scale,
                           options.point_sigma)
    cost += jnp.sum(data.weight_3d * robust)
    blocks.append((resid, jac_3d, data.weight_3d * irls))
  if terms.use_2d:
    cam = readouts.readout_2d @ points + state.root
    z = jnp.maximum(cam[:, 2:], 0.1)  # a point behind the camera stays finite
    ratio = cam[:, :2] / z
    sigma = options.point_sigma_2d
    resid = data.scale * (ratio - data.target_2d) / sigma
    jac_2d = None
    if with_jacobian:
      # d(x/z, y/z)/d(x, y, z), in metres at the start's root depth.
      proj = (data.scale / sigma) / z[..., None] * jnp.concatenate(
          [jnp.broadcast_to(jnp.eye(2, dtype=z.dtype), (cam.shape[0], 2, 2)),
           -ratio[..., None]], axis=-1)  # [K2, 2, 3]
      jac_body = jnp.einsum('kba,kn,nap->kbp', proj, readouts.readout_2d,
                            jac)
      jac_2d = jnp.concatenate([jac_body, proj[..., :num_root]], axis=-1)
    robust, irls = _robust(jnp.sum(resid * resid, -1),
                           options.robust_scale_2d, sigma)
    cost += jnp.sum(data.weight_2d * robust)
    blocks.append((resid, jac_2d, data.weight_2d * irls))
  if not with_jacobian:
    return cost, None, None
  size = NUM_POSE_PARAMS + state.betas.shape[0] + num_root
  hessian = jnp.zeros((size, size), points.dtype)
  gradient = jnp.zeros((size,), points.dtype)
  for resid, jacobian, weight in blocks:
    flat_jac = jacobian.reshape(-1, size)
    flat_weight = jnp.repeat(weight, resid.shape[-1])
    hessian += flat_jac.T @ (flat_weight[:, None] * flat_jac)
    gradient += flat_jac.T @ (flat_weight * resid.reshape(-1))
  return cost, hessian, gradient


def _turn(vector: jnp.ndarray, unit: jnp.ndarray,
          angle: jnp.ndarray) -> jnp.ndarray:
  """[..., 3] vectors turned by [...] angles about [..., 3] unit axes."""
  cos, sin = jnp.cos(angle)[..., None], jnp.sin(angle)[..., None]
  along = jnp.sum(unit * vector, axis=-1, keepdims=True) * unit
  return vector * cos + jnp.cross(unit, vector) * sin + along * (1.0 - cos)


def _euler_excess(rot: jnp.ndarray, limits: jnp.ndarray,
                  with_jacobian: bool):
  """Joint-limit excess and its Jacobian, for joints 1..23.

  Each joint's intrinsic Euler angles (`limits.JOINT_EULER_ORDERS`, as
  `rotations.matrix_to_euler` computes them), for all joints at once with
  per-joint index tables. For R = R_i(a) R_j(b) R_k(c), a right increment d
  is d = M (da, db, dc) with columns M = (R_k^T R_j^T e_i, R_k^T e_j, e_k),
  so the angles' rates are M^-1: rows of cross products of the columns over
  det M = +-cos b (zeroed near gimbal lock).

  Args:
    rot: [24, 3, 3] relative rotations (joint 0 has no limits).
    limits: [24, 3, 2] (lower, upper) radians.
    with_jacobian: also return the Jacobian.

  Returns:
    excess [23, 3] (radians beyond the range, 0 inside) and, with_jacobian,
    its Jacobian [23, 3, 3] w.r.t. each joint's own increment.
  """
  axes, position, parity = _euler_axes()
  num = axes.shape[0]
  flat = rot[1:].reshape(num, 9)

  def entry(row, column):  # [23] entries (row, column) of each joint's R
    index = 3 * row[:, None] + column[:, None]
    return jnp.take_along_axis(flat, index, axis=1)[:, 0]

  i, j, k = axes.T
  first = jnp.arctan2(-parity * entry(j, k), entry(k, k))
  middle = jnp.arcsin(jnp.clip(parity * entry(i, k), -1.0, 1.0))
  last = jnp.arctan2(-parity * entry(i, j), entry(i, i))
  ordered = jnp.stack([first, middle, last], axis=-1)
  angles = jnp.take_along_axis(ordered, position, axis=1)  # x, y, z
  low, high = limits[1:, :, 0], limits[1:, :, 1]
  excess = jnp.maximum(angles - high, 0.0) + jnp.minimum(angles - low, 0.0)
  if not with_jacobian:
    return excess, None
  eye = np.eye(3, dtype=np.float32)
  unit_i, unit_j, unit_k = (jnp.asarray(eye[a]) for a in (i, j, k))
  m1 = _turn(_turn(unit_i, unit_j, -middle), unit_k, -last)
  m2 = _turn(unit_j, unit_k, -last)
  rows = jnp.stack([jnp.cross(m2, unit_k), jnp.cross(unit_k, m1),
                    jnp.cross(m1, m2)], axis=1)  # [23, 3 (i j k), 3]
  det = jnp.sum(m1 * rows[:, 0], axis=-1)[:, None, None]
  ok = jnp.abs(det) > 0.05
  rates = jnp.where(ok, rows / jnp.where(ok, det, 1.0), 0.0)
  rates = jnp.take_along_axis(rates, position[..., None], axis=1)
  return excess, jnp.where((excess != 0.0)[..., None], rates, 0.0)


def _block_diagonal(blocks: jnp.ndarray) -> jnp.ndarray:
  """[J, 3, 3] -> [3J, 3J]."""
  num = blocks.shape[0]
  eye = jnp.eye(num, dtype=blocks.dtype)
  return jnp.einsum('jab,jk->jakb', blocks, eye).reshape(3 * num, 3 * num)


def _evaluate(body: _Body, state: _State, data: _Data, readouts: _Readouts,
              parents, options: FitOptions, terms: _Terms,
              with_jacobian: bool):
  """(cost, hessian, gradient, points) of one body at `state`."""
  points, jac = _points_and_jacobian(body, state.rot, state.betas, parents,
                                     with_jacobian)
  num_betas = state.betas.shape[0]
  cost, hessian, gradient = _data_terms(points, jac, state, data, readouts,
                                        options, terms, with_jacobian)
  beta_resid = (state.betas - data.betas_mean) / options.beta_sigma
  deviation = rotations.matrix_to_axis_angle(
      jnp.swapaxes(data.start_rot, -1, -2) @ state.rot)
  pose_resid = deviation / options.pose_sigma
  limits = jnp.asarray(_limits_radians(options.limit_margin_deg))
  excess, jac_limit = _euler_excess(state.rot, limits, with_jacobian)
  limit_resid = excess / options.limit_sigma  # [23, 3]
  cost += (jnp.sum(beta_resid**2) + jnp.sum(pose_resid**2) +
           jnp.sum(limit_resid**2))
  if not with_jacobian:
    return cost, None, None, points
  # Priors: pose (d log / d increment taken as the identity), betas, limits.
  jac_limit = jac_limit / options.limit_sigma
  limit_blocks = jnp.concatenate([
      jnp.zeros((1, 3, 3), jac_limit.dtype),
      jnp.einsum('jka,jkb->jab', jac_limit, jac_limit)])
  rot_block = (_block_diagonal(limit_blocks) +
               jnp.eye(NUM_POSE_PARAMS) / options.pose_sigma**2)
  limit_grad = jnp.einsum('jka,jk->ja', jac_limit, limit_resid)
  rot_grad = (jnp.concatenate([jnp.zeros((3,), limit_grad.dtype),
                               limit_grad.reshape(-1)]) +
              pose_resid.reshape(-1) / options.pose_sigma)
  end = NUM_POSE_PARAMS + num_betas
  hessian = hessian.at[:NUM_POSE_PARAMS, :NUM_POSE_PARAMS].add(rot_block)
  hessian = hessian.at[NUM_POSE_PARAMS:end, NUM_POSE_PARAMS:end].add(
      jnp.eye(num_betas) / options.beta_sigma**2)
  gradient = gradient.at[:NUM_POSE_PARAMS].add(rot_grad)
  gradient = gradient.at[NUM_POSE_PARAMS:end].add(beta_resid /
                                                  options.beta_sigma)
  return cost, hessian, gradient, points


def _apply_step(state: _State, step: jnp.ndarray):
  """(rot, betas, root) after `step` [P]."""
  num_betas = state.betas.shape[0]
  increment = step[:NUM_POSE_PARAMS].reshape(NUM_JOINTS, 3)
  end = NUM_POSE_PARAMS + num_betas
  root_step = step[end:]
  root_step = jnp.pad(root_step, (0, 3 - root_step.shape[0]))
  return (state.rot @ rotations.axis_angle_to_matrix(increment),
          state.betas + step[NUM_POSE_PARAMS:end], state.root + root_step)


def _fit_one(body: _Body, data: _Data, rot: jnp.ndarray, betas: jnp.ndarray,
             root: jnp.ndarray, readouts: _Readouts, parents,
             options: FitOptions, terms: _Terms) -> _State:
  """LM for one body; returns the last accepted `_State`."""
  size = NUM_POSE_PARAMS + betas.shape[0] + terms.num_root

  def iteration(_, carry):
    # Evaluate the candidate, keep it if it lowers the cost, then solve for
    # the next one: one evaluation per loop body (the start is the first
    # candidate, accepted against an infinite cost).
    state, candidate = carry
    cost, hessian, gradient, points = _evaluate(
        body, state._replace(rot=candidate[0], betas=candidate[1],
                             root=candidate[2]),
        data, readouts, parents, options, terms, True)
    better = cost < state.cost  # NaN compares False: rejected
    accepted = _State(*candidate, cost, hessian, gradient,
                      state.damping / 3.0, points)
    rejected = state._replace(damping=state.damping * 5.0)
    state = jax.tree.map(lambda a, r: jnp.where(better, a, r), accepted,
                         rejected)
    diag = jnp.diagonal(state.hessian)
    damped = state.hessian + jnp.diag(state.damping * diag + 1e-9)
    step = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(damped),
                                       state.gradient[:, None])[:, 0]
    return state, _apply_step(state, step)

  dtype = rot.dtype
  num_points = readouts.readout_3d.shape[1]
  state = _State(rot, betas, root, jnp.asarray(jnp.inf, dtype),
                 jnp.zeros((size, size), dtype), jnp.zeros((size,), dtype),
                 jnp.asarray(3.0 * options.damping, dtype),
                 jnp.zeros((num_points, 3), dtype))
  state, _ = jax.lax.fori_loop(0, options.num_iterations + 1, iteration,
                               (state, (rot, betas, root)))
  return state


def _as_rotations(pose: jnp.ndarray) -> jnp.ndarray:
  pose = jnp.asarray(pose, jnp.float32)
  if pose.ndim == 3 and pose.shape[1:] == (NUM_JOINTS, 3):
    return rotations.axis_angle_to_matrix(pose)
  if pose.ndim == 4 and pose.shape[1:] == (NUM_JOINTS, 3, 3):
    return pose
  raise ValueError(f'pose must be [B, {NUM_JOINTS}, 3, 3] rotations or [B, '
                   f'{NUM_JOINTS}, 3] axis-angle, got {pose.shape}.')


def gender_index(gender: Any) -> jnp.ndarray:
  """[B] int model index (0 female, 1 male) from ints or from a predictor's
  probability of male (male above 0.5)."""
  gender = jnp.asarray(gender)
  if jnp.issubdtype(gender.dtype, jnp.floating):
    return (gender > 0.5).astype(jnp.int32)
  return gender.astype(jnp.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class FitPoints:
  """The points a fit reads, as a points model and a linear readout.

  Attributes:
    name: 'jl42' or a keypoint set's name ('blazepose33', 'coco17', ...).
    model: stacked [female, male] model restricted to the 18 JL landmark
      vertices, then the set's surface vertices (`keypoints.keypoints_model`):
      its forward pass gives N = 24 + V points (joints, then vertices).
    readout: [K, N] each keypoint as a weighted sum of those points
      (`keypoints.KeypointSet.weights`; the identity on the first 42 for JL).
    centre_ids: keypoints whose mean is the origin of hip-aligned 3D points.
    left_right: keypoint i of a mirrored body is keypoint left_right[i].
  """
  name: str
  model: bm.BodyModel
  readout: np.ndarray
  centre_ids: tuple[int, ...]
  left_right: tuple[int, ...]

  @property
  def num_keypoints(self) -> int:
    return self.readout.shape[0]

  def hip_aligned_readout(self) -> np.ndarray:
    """[K, N]: the readout minus the mean of its `centre_ids` rows, i.e.
    keypoints relative to their hip midpoint."""
    centre = self.readout[list(self.centre_ids)].mean(axis=0, keepdims=True)
    return self.readout - centre


# id(body) -> (body, {set name: FitPoints}); the body is kept so that its
# id cannot be reused by another while the entry lives.
_FIT_POINTS_CACHE: dict[int, tuple[Any, dict[str, FitPoints]]] = {}


def fit_points_for(body: gendered.GenderedModels,
                   keypoint_set: kp_lib.KeypointSet | str | None = None
                   ) -> FitPoints:
  """`FitPoints` of a keypoint set (a `keypoints.KeypointSet` or its name,
  e.g. 'blazepose33'), or of the 42 JL (None or 'jl42'), on `body`'s
  models (cached per body and set)."""
  if isinstance(keypoint_set, str) and keypoint_set != 'jl42':
    keypoint_set = kp_lib.get_set(keypoint_set)
  name = 'jl42' if keypoint_set in (None, 'jl42') else keypoint_set.name
  cached = _FIT_POINTS_CACHE.setdefault(id(body), (body, {}))[1]
  if name not in cached:
    if name == 'jl42':
      cached[name] = _jl_points(body.points)
    else:
      weights = keypoint_set.weights()  # [K, 24 + M]
      readout = np.concatenate([
          weights[:, :NUM_JOINTS],
          np.zeros((keypoint_set.num_keypoints, jl_lib.NUM_LANDMARKS),
                   np.float32), weights[:, NUM_JOINTS:]], axis=1)
      cached[name] = FitPoints(
          name, kp_lib.keypoints_model(body.gendered, keypoint_set), readout,
          keypoint_set.centre_ids, keypoint_set.left_right_permutation())
  return cached[name]


def _valid_targets(values, weights, batch: int, num: int, dims: int,
                   name: str):
  """(targets [B, K, D] with NaN/Inf rows zeroed, weights [B, K] zero
  there, the count of finite keypoints [B]): a missing keypoint is a NaN,
  never a wrong number."""
  values = np.asarray(values, np.float32)
  if values.ndim != 3 or values.shape[1:] != (num, dims):
    raise ValueError(f'{name} must be [B, {num}, {dims}], got '
                     f'{values.shape}.')
  if values.shape[0] != batch:
    raise ValueError(f'{name} has {values.shape[0]} bodies, the start '
                     f'{batch}.')
  finite = np.all(np.isfinite(values), axis=-1)
  weight = np.ones((batch, num), np.float32)
  if weights is not None:
    weight = weight * np.broadcast_to(np.asarray(weights, np.float32),
                                      (batch, num))
  if not np.all(np.isfinite(weight)) or np.any(weight < 0):
    raise ValueError(f'the weights of {name} must be finite and >= 0.')
  weight = np.where(finite, weight, 0.0)
  return np.where(finite[..., None], values, 0.0), weight, finite.sum(axis=1)


def fit_body(points: FitPoints, pose: jnp.ndarray, betas: jnp.ndarray,
             gender: jnp.ndarray, *,
             points_3d: np.ndarray | None = None,
             weights_3d: np.ndarray | None = None, align_3d: str = 'root',
             pixels: np.ndarray | None = None,
             weights_2d: np.ndarray | None = None,
             intrinsics: np.ndarray | None = None,
             root_cam: np.ndarray | None = None, solve_depth: bool = True,
             betas_prior_mean: np.ndarray | None = None,
             options: FitOptions = FitOptions()) -> dict[str, jnp.ndarray]:
  """SMPL parameters (and the root) fitted to a keypoint set's points.

  One objective, every term optional (`FitOptions` sets their scales):
  3D points, 2D reprojection, the start pose as a prior (SMPLR's), the
  joint limits and the betas prior. A NaN keypoint counts as missing.

  Args:
    points: `fit_points_for(body, keypoint_set)`: which points are given.
    pose: [B, 24, 3, 3] (or axis-angle [B, 24, 3]) start pose, camera frame.
    betas: [B, S] start betas.
    gender: [B] int model index, or a probability of male.
    points_3d: [B, K, 3] camera-frame metres, root-relative (align_3d=
      'root') or relative to any origin (align_3d='hip': the fitted points
      and these are both taken relative to their hip midpoint, as
      BlazePose's world landmarks are).
    weights_3d: [B, K] or [K] confidences of points_3d (default 1).
    align_3d: 'root' or 'hip'.
    pixels: [B, K, 2] detected pixels (u right, v down).
    weights_2d: [B, K] or [K] confidences of pixels (default 1).
    intrinsics: [B, 3, 3] or [3, 3] camera matrices (with pixels).
    root_cam: [B, 3] the root's start position in the camera frame; None
      solves it from the start body and the pixels (linear least squares).
    solve_depth: fit the root's depth too (else root_cam's depth is kept).
    betas_prior_mean: [B, S] the betas prior's mean (default 0: the
      population's); a video track passes its shared shape.
    options: `FitOptions`.

  Returns:
    dict: pose [B, 24, 3, 3], betas [B, S], jl [B, 42, 3] and keypoints
    [B, K, 3] of the fitted body (root-relative metres), cost [B] (the
    final objective, whitened units), and with pixels root_cam [B, 3].

  Raises:
    ValueError: no data term, wrong shapes, a body without a finite point,
      NaN hips with align_3d='hip', or a NaN start.
  """
  if points_3d is None and pixels is None:
    raise ValueError('give points_3d, pixels or both.')
  if align_3d not in ('root', 'hip'):
    raise ValueError(f"align_3d must be 'root' or 'hip', got {align_3d!r}.")
  rot = _as_rotations(pose)
  betas = jnp.asarray(betas, jnp.float32)
  batch, num = rot.shape[0], points.num_keypoints
  if not (np.all(np.isfinite(np.asarray(rot))) and
          np.all(np.isfinite(np.asarray(betas)))):
    raise ValueError('the start pose or betas contain NaN/Inf.')
  readout_3d = readout_2d = points.readout
  target_3d = np.zeros((batch, 0, 3), np.float32)
  weight_3d = np.zeros((batch, 0), np.float32)
  target_2d = np.zeros((batch, 0, 2), np.float32)
  weight_2d = np.zeros((batch, 0), np.float32)
  valid = np.zeros((batch,), np.float32)
  if points_3d is not None:
    target_3d, weight_3d, count = _valid_targets(points_3d, weights_3d,
                                                 batch, num, 3, 'points_3d')
    if align_3d == 'hip':
      hips = np.asarray(points_3d, np.float32)[:, list(points.centre_ids)]
      if not np.all(np.isfinite(hips)):
        raise ValueError('hip-aligned points_3d need finite hip points '
                         f'(keypoints {points.centre_ids}).')
      target_3d = (target_3d - hips.mean(axis=1, keepdims=True)) * (
          weight_3d[..., None] > 0)
      readout_3d = points.hip_aligned_readout()
    valid += count
  else:
    readout_3d = points.readout[:0]
  scale = np.zeros((batch,), np.float32)
  root = np.zeros((batch, 3), np.float32)
  if pixels is not None:
    if intrinsics is None:
      raise ValueError('pixels need intrinsics.')
    target_2d, weight_2d, count = _valid_targets(pixels, weights_2d, batch,
                                                 num, 2, 'pixels')
    focal, principal = (np.asarray(x) for x in _intrinsics(intrinsics,
                                                          batch))
    target_2d = ((target_2d - principal[:, None]) / focal[:, None]) * (
        weight_2d[..., None] > 0)
    valid += count
  else:
    readout_2d = points.readout[:0]
  if np.any(valid <= 0):
    raise ValueError(f'body {int(np.argmin(valid))} has no finite keypoint '
                     '(all NaN/Inf).')
  gender = gender_index(gender)
  readouts = _Readouts(jnp.asarray(readout_3d), jnp.asarray(readout_2d))
  if pixels is not None:
    if root_cam is None:
      if not solve_depth:
        raise ValueError('solve_depth=False needs root_cam (its depth).')
      root = _start_root(points.model, readouts.readout_2d, target_2d,
                         weight_2d, rot, betas, gender)
    else:
      root = np.broadcast_to(np.asarray(root_cam, np.float32), (batch, 3))
      checks.check_finite(root, 'root_cam')
      if np.any(root[:, 2] <= 0):
        raise ValueError('root_cam must have positive depths.')
    scale = np.asarray(root)[:, 2]
  terms = _Terms(points_3d is not None, pixels is not None,
                 0 if pixels is None else (3 if solve_depth else 2))
  betas_mean = jnp.zeros_like(betas) if betas_prior_mean is None else (
      jnp.broadcast_to(jnp.asarray(betas_prior_mean, jnp.float32),
                       betas.shape))
  data = _Data(jnp.asarray(target_3d), jnp.asarray(weight_3d),
               jnp.asarray(target_2d), jnp.asarray(weight_2d), rot,
               jnp.asarray(scale), betas_mean)
  out = _fit_batch(points.model, readouts, data, rot, betas, gender,
                   jnp.asarray(root, jnp.float32), options, terms)
  out['keypoints'] = jnp.einsum('kn,bna->bka', jnp.asarray(points.readout),
                                out.pop('points'))
  if pixels is None:
    del out['root_cam']
  return out


@functools.partial(jax.jit, static_argnames=('options', 'terms'))
def _fit_batch(points_model, readouts, data, rot, betas, gender, root,
               options, terms):
  body = _select_bodies(points_model, gender, betas.shape[-1])

  def fit(body, data, rot, betas, root):
    return _fit_one(body, data, rot, betas, root, readouts,
                    points_model.parents, options, terms)

  state = jax.vmap(fit)(body, data, rot, betas, root)
  return dict(pose=state.rot, betas=state.betas, root_cam=state.root,
              jl=state.points[:, :jl_lib.NUM_POINTS], cost=state.cost,
              points=state.points)


@jax.jit
def _start_root(points_model, readout_2d, normalised, weight, rot, betas,
                gender):
  """[B, 3] the root putting the start body's points on their rays: linear
  least squares on t_x - a t_z = a X_z - X_x (and likewise for y), with
  (a, b) the normalised image coordinates of point X."""
  out = smpl.smpl_forward(points_model, rot, betas, gender=gender,
                          chunk_size=0)
  points = jnp.concatenate([out.joints, out.vertices], axis=1)
  points = jnp.einsum('kn,bna->bka', readout_2d,
                      points - out.joints[:, :1])  # [B, K, 3]
  rows, rhs = [], []
  for axis in range(2):
    coeff = normalised[..., axis]
    row = jnp.zeros(points.shape, points.dtype).at[..., axis].set(1.0)
    rows.append(row.at[..., 2].set(-coeff))
    rhs.append(coeff * points[..., 2] - points[..., axis])
  a = jnp.concatenate(rows, axis=1)  # [B, 2K, 3]
  b = jnp.concatenate(rhs, axis=1)
  w = jnp.concatenate([weight, weight], axis=1)
  normal = jnp.einsum('bka,bk,bkc->bac', a, w, a) + 1e-6 * jnp.eye(3)
  return jnp.linalg.solve(normal, jnp.einsum('bka,bk,bk->ba', a, w,
                                             b)[..., None])[..., 0]


def fit_points(points_model: bm.BodyModel, jl: jnp.ndarray,
               pose: jnp.ndarray, betas: jnp.ndarray, gender: jnp.ndarray, *,
               weights: jnp.ndarray | None = None,
               visible: jnp.ndarray | None = None,
               options: FitOptions = FitOptions()) -> dict[str, jnp.ndarray]:
  """SMPL parameters fitted to root-relative JL (jitted; no mesh).

  Args:
    points_model: `jl.landmark_points_model` of the (stacked) body model
      (`gendered.GenderedModels.points`).
    jl: [B, 42, 3] target JL, camera frame, root-relative metres.
    pose: [B, 24, 3, 3] (or axis-angle [B, 24, 3]) start pose.
    betas: [B, S] start betas.
    gender: [B] int model index, or a probability of male.
    weights: [B, 42] or [42] per-point confidences (default 1).
    visible: [B, 42] visibility mask (0: the point is ignored).
    options: `FitOptions`.

  Returns:
    dict: pose [B, 24, 3, 3], betas [B, S], jl [B, 42, 3] (the fitted body's
    JL), cost [B] (the final objective, whitened units).
  """
  jl_lib.check_jl(jl)
  points = _jl_points(points_model)
  out = fit_body(points, pose, betas, gender, points_3d=jl,
                 weights_3d=_point_weights(weights, visible),
                 options=options)
  del out['keypoints']
  return out


def _jl_points(points_model: bm.BodyModel) -> FitPoints:
  hips = (jl_lib.JOINT_NAMES.index('left_hip'),
          jl_lib.JOINT_NAMES.index('right_hip'))
  return FitPoints('jl42', points_model,
                   np.eye(jl_lib.NUM_POINTS, dtype=np.float32), hips,
                   tuple(jl_lib.LEFT_RIGHT_PERMUTATION))


def _point_weights(weights, visible):
  if weights is None and visible is None:
    return None
  weight = np.ones((), np.float32)
  for x in (weights, visible):
    if x is not None:
      weight = weight * np.asarray(x, np.float32)
  return weight


def _intrinsics(intrinsics, batch: int):
  k = jnp.broadcast_to(jnp.asarray(intrinsics, jnp.float32), (batch, 3, 3))
  focal = jnp.stack([k[:, 0, 0], k[:, 1, 1]], -1)
  principal = k[:, :2, 2]
  return focal, principal


def fit_keypoints(points_model: bm.BodyModel, keypoints: jnp.ndarray,
                  intrinsics: jnp.ndarray, root_depth: jnp.ndarray,
                  pose: jnp.ndarray, betas: jnp.ndarray, gender: jnp.ndarray,
                  *, weights: jnp.ndarray | None = None,
                  visible: jnp.ndarray | None = None,
                  options: FitOptions = FitOptions()
                  ) -> dict[str, jnp.ndarray]:
  """SMPL parameters and the root's x, y fitted to 2D JL keypoints (jitted).

  The root's depth is given; its x, y start where the start body's visible
  points best match the keypoints (a weighted mean) and are fitted.

  Args:
    points_model: as in `fit_points`.
    keypoints: [B, 42, 2] pixels (u right, v down) of the 42 JL points.
    intrinsics: [B, 3, 3] or [3, 3] camera matrices (fx, fy, cx, cy).
    root_depth: [B] the root's depth z (metres).
    pose, betas, gender, weights, visible, options: as in `fit_points`.

  Returns:
    `fit_points`' dict plus root_cam [B, 3] (the root in camera
    coordinates, metres).
  """
  keypoints = np.asarray(keypoints, np.float32)
  if keypoints.ndim != 3 or keypoints.shape[1:] != (jl_lib.NUM_POINTS, 2):
    raise ValueError(f'keypoints must be [B, {jl_lib.NUM_POINTS}, 2] '
                     f'pixels, got {keypoints.shape}.')
  batch = keypoints.shape[0]
  focal, principal = _intrinsics(intrinsics, batch)
  depth = jnp.broadcast_to(jnp.asarray(root_depth, jnp.float32), (batch,))
  normalised = (keypoints - principal[:, None]) / focal[:, None]
  weight = jnp.ones((batch, jl_lib.NUM_POINTS))
  if weights is not None or visible is not None:
    weight = weight * jnp.asarray(_point_weights(weights, visible))
  rot = _as_rotations(pose)
  betas = jnp.asarray(betas, jnp.float32)
  xy = _start_root_xy(points_model, normalised, weight, rot, betas,
                      gender_index(gender), depth)
  root = jnp.concatenate([xy, depth[:, None]], axis=-1)
  out = fit_body(_jl_points(points_model), rot, betas, gender,
                 pixels=keypoints, weights_2d=_point_weights(weights, visible),
                 intrinsics=intrinsics, root_cam=root, solve_depth=False,
                 options=options)
  del out['keypoints']
  return out


@jax.jit
def _start_root_xy(points_model, normalised, weight, rot, betas, gender,
                   depth):
  """[B, 2] root x, y putting the start body's points on their rays (each
  point's depth taken from the start body)."""
  points = jl_lib.smpl_points(points_model, rot, betas, gender)
  z = depth[:, None] + points[..., 2]
  offsets = normalised * z[..., None] - points[..., :2]  # [B, 42, 2]
  total = jnp.maximum(jnp.sum(weight, axis=1, keepdims=True), 1e-6)
  return jnp.sum(weight[..., None] * offsets, axis=1) / total


def with_mesh(body: gendered.GenderedModels, fitted: dict,
              init: dict) -> dict:
  """A fit's bodies with their mesh: pose, betas, gender (init's),
  fit_cost (fitted['cost']), jl_body, joints, landmarks and vertices
  (`gendered.posed_body`, root-relative)."""
  gender = gender_index(init['gender'])
  out = dict(pose=fitted['pose'], betas=fitted['betas'],
             gender=init['gender'], fit_cost=fitted['cost'])
  posed = gendered.posed_body(body.gendered, fitted['pose'], fitted['betas'],
                              gender)
  out.update(jl_body=posed['jl'], joints=posed['joints'],
             landmarks=posed['landmarks'], vertices=posed['vertices'])
  return out


def refine(jl: jnp.ndarray, init: dict[str, Any], *,
           body: gendered.GenderedModels,
           weights: jnp.ndarray | None = None,
           visible: jnp.ndarray | None = None,
           options: FitOptions = FitOptions()) -> dict[str, jnp.ndarray]:
  """Refines a predictor's bodies to match JL.

  Args:
    jl: [B, 42, 3] target JL, camera frame (x right, y down, z forward),
      root-relative metres.
    init: a predictor's dict (`inference.load_smplr`): pose [B, 24, 3, 3]
      (or axis-angle), betas [B, S], gender [B] (probability of male, or
      int 0 female / 1 male). Gender is kept.
    body: the body models (`gendered.GenderedModels`).
    weights: [B, 42] or [42] per-point confidences (default 1).
    visible: [B, 42] visibility mask (0: the point is ignored).
    options: `FitOptions`.

  Returns:
    dict: pose [B, 24, 3, 3], betas [B, S], gender (init's), jl_body
    [B, 42, 3], joints [B, 24, 3], landmarks [B, 18, 3], vertices [B, V, 3]
    (root-relative metres), fit_cost [B] (the final objective).
  """
  fitted = fit_points(body.points, jl, init['pose'], init['betas'],
                      init['gender'], weights=weights, visible=visible,
                      options=options)
  return with_mesh(body, fitted, init)


def refine_2d(keypoints: jnp.ndarray, init: dict[str, Any], *,
              body: gendered.GenderedModels, intrinsics: jnp.ndarray,
              root_depth: jnp.ndarray, weights: jnp.ndarray | None = None,
              visible: jnp.ndarray | None = None,
              options: FitOptions = FitOptions()) -> dict[str, jnp.ndarray]:
  """Refines a predictor's bodies to match 2D keypoints (detector output).

  Args:
    keypoints: [B, 42, 2] pixel positions of the 42 JL points.
    init: as in `refine`.
    body: the body models.
    intrinsics: [B, 3, 3] or [3, 3] camera matrices.
    root_depth: [B] depth of the root joint (metres).
    weights, visible, options: as in `refine` (e.g. detector confidences).

  Returns:
    `refine`'s dict plus root_cam [B, 3] (the fitted root, camera frame).
  """
  fitted = fit_keypoints(body.points, keypoints, intrinsics, root_depth,
                         init['pose'], init['betas'], init['gender'],
                         weights=weights, visible=visible, options=options)
  return dict(with_mesh(body, fitted, init), root_cam=fitted['root_cam'])


def refine_to_keypoints(init: dict[str, Any], *,
                        body: gendered.GenderedModels,
                        keypoint_set: kp_lib.KeypointSet | str | None,
                        options: FitOptions = FitOptions(),
                        **evidence) -> dict[str, jnp.ndarray]:
  """Refines a predictor's bodies to a keypoint set's 3D and/or 2D points.

  Args:
    init: as in `refine` (pose, betas, gender; gender is kept).
    body: the body models.
    keypoint_set: the set the evidence is given in (`fit_points_for`).
    options: `FitOptions`.
    **evidence: `fit_body`'s keyword arguments: points_3d, weights_3d,
      align_3d, pixels, weights_2d, intrinsics, root_cam, solve_depth.

  Returns:
    `refine`'s dict plus keypoints [B, K, 3] (the fitted body's, root-
    relative) and, with pixels, root_cam [B, 3].
  """
  fitted = fit_body(fit_points_for(body, keypoint_set), init['pose'],
                    init['betas'], init['gender'], options=options,
                    **evidence)
  out = dict(with_mesh(body, fitted, init), keypoints=fitted['keypoints'])
  if 'root_cam' in fitted:
    out['root_cam'] = fitted['root_cam']
  return out


def refine_prediction(prediction: dict[str, Any],
                      body: gendered.GenderedModels,
                      options: FitOptions = FitOptions()) -> dict[str, Any]:
  """A predictor's output (`smplr_jax.predict.prediction`) with each body
  refined to the JL that SMPLR saw (`jl_smplr_input`, after the DAE), its
  `gender` kept: pose, betas, jl_body, joints, landmarks and vertices
  replaced (numpy), fit_cost added, everything else kept."""
  fitted = jax.device_get(refine(prediction['jl_smplr_input'], prediction,
                                 body=body, options=options))
  keys = ('pose', 'betas', 'jl_body', 'joints', 'landmarks', 'vertices',
          'fit_cost')
  return dict(prediction, **{k: fitted[k] for k in keys})
