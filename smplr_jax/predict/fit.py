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

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, limits, rotations, smpl
from smplr_jax.body import jl as jl_lib

NUM_JOINTS = jl_lib.NUM_JOINTS
NUM_POSE_PARAMS = 3 * NUM_JOINTS


@dataclasses.dataclass(frozen=True)
class FitOptions:
  """Settings of the fit (hashable: a static argument of the jitted cores).

  Attributes:
    num_iterations: LM iterations (each one Jacobian and one solve).
    point_sigma: the data term's unit (metres): a point off by this much
      costs as much as a beta off by `beta_sigma`.
    robust_scale: Geman-McClure scale (metres): points farther off than
      this count less and less; None for plain least squares.
    beta_sigma: std of the betas' Gaussian prior (the sampler's is 1).
    pose_sigma: std (radians) of each joint's rotation away from the start.
    limit_sigma: std (radians) of an angle beyond the joint limits.
    limit_margin_deg: the sampler's limits are widened by this much.
    damping: initial LM lambda (relative to diag(H)).
  """
  num_iterations: int = 10
  point_sigma: float = 0.005
  robust_scale: float | None = 0.1
  beta_sigma: float = 1.0
  pose_sigma: float = 0.5
  limit_sigma: float = 0.02
  limit_margin_deg: float = 2.0
  damping: float = 1e-3


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
  """One body's evidence: targets [42, 3] (3D JL) or normalised image
  coordinates [42, 2] ((u - c) / f), point weights [42], the start pose
  [24, 3, 3], and for 2D the root depth [] (else 0)."""
  target: jnp.ndarray
  weight: jnp.ndarray
  start_rot: jnp.ndarray
  depth: jnp.ndarray


class _State(NamedTuple):
  """One body's accepted LM iterate and its linearisation."""
  rot: jnp.ndarray  # [24, 3, 3]
  betas: jnp.ndarray  # [S]
  root: jnp.ndarray  # [T]: root x, y for 2D, empty for 3D
  cost: jnp.ndarray  # []
  hessian: jnp.ndarray  # [P, P]
  gradient: jnp.ndarray  # [P]
  damping: jnp.ndarray  # []
  points: jnp.ndarray  # [42, 3]


def _data_residual(points, jac, state, data, two_d: bool):
  """Residuals [42, k] (metres) and Jacobians [42, k, P] of the data term."""
  if not two_d:
    return points - data.target, jac
  depth = data.depth
  cam = points + jnp.concatenate([state.root, depth[None]])
  z = jnp.maximum(cam[:, 2:], 0.1)  # a point behind the camera stays finite
  ratio = cam[:, :2] / z
  resid = depth * (ratio - data.target)
  # d(x/z, y/z)/d(x, y, z), times the root depth.
  proj = depth / z[..., None] * jnp.concatenate(
      [jnp.broadcast_to(jnp.eye(2, dtype=z.dtype), (points.shape[0], 2, 2)),
       -ratio[..., None]], axis=-1)  # [42, 2, 3]
  jac_body = jnp.einsum('qka,qap->qkp', proj, jac)
  return resid, jnp.concatenate([jac_body, proj[..., :2]], axis=-1)


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


def _evaluate(body: _Body, state: _State, data: _Data, parents,
              options: FitOptions, two_d: bool, with_jacobian: bool):
  """(cost, hessian, gradient, points) of one body at `state`."""
  points, jac = _points_and_jacobian(body, state.rot, state.betas, parents,
                                     with_jacobian)
  num_betas = state.betas.shape[0]
  resid, jac_data = _data_residual(points, jac, state, data, two_d)
  resid = resid / options.point_sigma
  squared = jnp.sum(resid * resid, axis=-1)  # [42]
  if options.robust_scale is None:
    robust, irls = squared, jnp.ones_like(squared)
  else:
    scale2 = (options.robust_scale / options.point_sigma)**2
    robust = scale2 * squared / (scale2 + squared)
    irls = (scale2 / (scale2 + squared))**2
  cost = jnp.sum(data.weight * robust)

  beta_resid = state.betas / options.beta_sigma
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

  weight = data.weight * irls  # [42]
  jac_data = jac_data / options.point_sigma
  flat_jac = jac_data.reshape(-1, jac_data.shape[-1])
  flat_weight = jnp.repeat(weight, resid.shape[-1])
  hessian = flat_jac.T @ (flat_weight[:, None] * flat_jac)
  gradient = flat_jac.T @ (flat_weight * resid.reshape(-1))
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
  return (state.rot @ rotations.axis_angle_to_matrix(increment),
          state.betas + step[NUM_POSE_PARAMS:end], state.root + step[end:])


def _fit_one(body: _Body, data: _Data, rot: jnp.ndarray, betas: jnp.ndarray,
             root: jnp.ndarray, parents, options: FitOptions,
             two_d: bool) -> _State:
  """LM for one body; returns the last accepted `_State`."""
  size = NUM_POSE_PARAMS + betas.shape[0] + root.shape[0]

  def iteration(_, carry):
    # Evaluate the candidate, keep it if it lowers the cost, then solve for
    # the next one: one evaluation per loop body (the start is the first
    # candidate, accepted against an infinite cost).
    state, candidate = carry
    cost, hessian, gradient, points = _evaluate(
        body, state._replace(rot=candidate[0], betas=candidate[1],
                             root=candidate[2]),
        data, parents, options, two_d, True)
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
  state = _State(rot, betas, root, jnp.asarray(jnp.inf, dtype),
                 jnp.zeros((size, size), dtype), jnp.zeros((size,), dtype),
                 jnp.asarray(3.0 * options.damping, dtype),
                 jnp.zeros((jl_lib.NUM_POINTS, 3), dtype))
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


def _point_weights(weights, visible, batch: int) -> jnp.ndarray:
  weight = jnp.ones((batch, jl_lib.NUM_POINTS), jnp.float32)
  if weights is not None:
    weight = weight * jnp.broadcast_to(jnp.asarray(weights, jnp.float32),
                                       weight.shape)
  if visible is not None:
    weight = weight * jnp.broadcast_to(jnp.asarray(visible, jnp.float32),
                                       weight.shape)
  return weight


@functools.partial(jax.jit, static_argnames=('options', 'two_d'))
def _fit_batch(points_model, target, weight, rot, betas, gender, root, depth,
               options, two_d):
  body = _select_bodies(points_model, gender, betas.shape[-1])
  data = _Data(target, weight, rot, depth)

  def fit(*args):
    return _fit_one(*args, points_model.parents, options, two_d)

  state = jax.vmap(fit)(body, data, rot, betas, root)
  return dict(pose=state.rot, betas=state.betas, root=state.root,
              jl=state.points, cost=state.cost)


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
  jl = jnp.asarray(jl, jnp.float32)
  batch = jl.shape[0]
  out = _fit_batch(points_model, jl, _point_weights(weights, visible, batch),
                   _as_rotations(pose), jnp.asarray(betas, jnp.float32),
                   gender_index(gender), jnp.zeros((batch, 0), jnp.float32),
                   jnp.zeros((batch,), jnp.float32), options, False)
  del out['root']
  return out


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
  """SMPL parameters and the root's x, y fitted to 2D keypoints (jitted).

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
  keypoints = jnp.asarray(keypoints, jnp.float32)
  if keypoints.ndim != 3 or keypoints.shape[1:] != (jl_lib.NUM_POINTS, 2):
    raise ValueError(f'keypoints must be [B, {jl_lib.NUM_POINTS}, 2] '
                     f'pixels, got {keypoints.shape}.')
  batch = keypoints.shape[0]
  focal, principal = _intrinsics(intrinsics, batch)
  depth = jnp.broadcast_to(jnp.asarray(root_depth, jnp.float32), (batch,))
  normalised = (keypoints - principal[:, None]) / focal[:, None]
  weight = _point_weights(weights, visible, batch)
  rot = _as_rotations(pose)
  betas = jnp.asarray(betas, jnp.float32)
  root = _start_root(points_model, normalised, weight, rot, betas,
                     gender_index(gender), depth)
  out = _fit_batch(points_model, normalised, weight, rot, betas,
                   gender_index(gender), root, depth, options, True)
  out['root_cam'] = jnp.concatenate([out.pop('root'), depth[:, None]], -1)
  return out


@jax.jit
def _start_root(points_model, normalised, weight, rot, betas, gender, depth):
  """[B, 2] root x, y putting the start body's points on their rays (each
  point's depth taken from the start body)."""
  points = jl_lib.smpl_points(points_model, rot, betas, gender)
  z = depth[:, None] + points[..., 2]
  offsets = normalised * z[..., None] - points[..., :2]  # [B, 42, 2]
  total = jnp.maximum(jnp.sum(weight, axis=1, keepdims=True), 1e-6)
  return jnp.sum(weight[..., None] * offsets, axis=1) / total


# The fitted body's points and mesh.
_posed_body = jax.jit(gendered.posed_body)


def _with_mesh(body: gendered.GenderedModels, fitted: dict,
               init: dict) -> dict:
  gender = gender_index(init['gender'])
  out = dict(pose=fitted['pose'], betas=fitted['betas'],
             gender=init['gender'], fit_cost=fitted['cost'])
  posed = _posed_body(body.gendered, fitted['pose'], fitted['betas'], gender)
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
  return _with_mesh(body, fitted, init)


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
  return dict(_with_mesh(body, fitted, init), root_cam=fitted['root_cam'])


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
