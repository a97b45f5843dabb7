"""The fit's solver: batched Levenberg-Marquardt over pose, betas and root.

`fit_body` is the one entry: it checks and whitens the evidence on the host,
then runs `_fit_batch` over the bodies with `jax.vmap` (jitted: compiled
once per batch size, points model, set of terms and `FitOptions`). `with_mesh` poses
the fitted bodies' full mesh; `refine_prediction` refines a predictor's
output to the JL it saw. See `smplr_jax.fitting` for the objective.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import camera, checks
from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.body import jl as jl_lib
from smplr_jax.fitting import points as points_lib
from smplr_jax.fitting import priors
from smplr_jax.fitting.points import NUM_JOINTS, NUM_POSE_PARAMS, FitPoints


@dataclasses.dataclass(frozen=True)
class FitOptions:
  """Settings of the fit (hashable: a static argument of the jitted solver).

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
    robust, irls = priors.robust(jnp.sum(resid * resid, -1),
                                 options.robust_scale, options.point_sigma)
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
    robust, irls = priors.robust(jnp.sum(resid * resid, -1),
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


def _evaluate(body: points_lib.Body, state: _State, data: _Data,
              readouts: _Readouts, parents, options: FitOptions,
              terms: _Terms, with_jacobian: bool):
  """(cost, hessian, gradient, points) of one body at `state`."""
  points, jac = points_lib.points_and_jacobian(body, state.rot, state.betas,
                                               parents, with_jacobian)
  num_betas = state.betas.shape[0]
  cost, hessian, gradient = _data_terms(points, jac, state, data, readouts,
                                        options, terms, with_jacobian)
  beta_resid = (state.betas - data.betas_mean) / options.beta_sigma
  deviation = rotations.matrix_to_axis_angle(
      jnp.swapaxes(data.start_rot, -1, -2) @ state.rot)
  pose_resid = deviation / options.pose_sigma
  ranges = jnp.asarray(priors.limits_radians(options.limit_margin_deg))
  excess, jac_limit = priors.euler_excess(state.rot, ranges, with_jacobian)
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
  rot_block = (priors.block_diagonal(limit_blocks) +
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


def _fit_one(body: points_lib.Body, data: _Data, rot: jnp.ndarray,
             betas: jnp.ndarray, root: jnp.ndarray, readouts: _Readouts,
             parents, options: FitOptions, terms: _Terms) -> _State:
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


def as_rotations(pose: jnp.ndarray) -> jnp.ndarray:
  """[B, 24, 3, 3] float32 rotations from [B, 24, 3, 3] rotations or
  [B, 24, 3] axis-angle."""
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
      puts the start body's points on their pixels' rays
      (`camera.root_from_rays`, depth solved). With solve_depth=False and a
      known depth, pass root_from_rays(..., depth=depth) here.
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
  rot = as_rotations(pose)
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
    focal, principal = (np.asarray(x) for x in camera.split_intrinsics(
        intrinsics, batch))
    target_2d = camera.normalised(target_2d, focal[:, None],
                                  principal[:, None]) * (
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
  body = points_lib.select_bodies(points_model, gender, betas.shape[-1])

  def fit(body, data, rot, betas, root):
    return _fit_one(body, data, rot, betas, root, readouts,
                    points_model.parents, options, terms)

  state = jax.vmap(fit)(body, data, rot, betas, root)
  return dict(pose=state.rot, betas=state.betas, root_cam=state.root,
              jl=state.points[:, :jl_lib.NUM_POINTS], cost=state.cost,
              points=state.points)


@jax.jit
def _start_root(points_model, readout_2d, rays, weights, rot, betas,
                gender):
  """[B, 3] the root putting the start body's points on their rays.

  Args:
    points_model: `FitPoints.model`.
    readout_2d: [K, N] the 2D term's readout of the N model points.
    rays: [B, K, 2] normalised image coordinates of the keypoints.
    weights: [B, K] their weights (0: missing).
    rot: [B, 24, 3, 3] start pose.
    betas: [B, S] start betas.
    gender: [B] int model index.
  """
  out = smpl.smpl_forward(points_model, rot, betas, gender=gender,
                          chunk_size=0)
  points = jnp.concatenate([out.joints, out.vertices], axis=1)
  points = jnp.einsum('kn,bna->bka', readout_2d,
                      points - out.joints[:, :1])  # [B, K, 3]
  return camera.root_from_rays(points, rays, weights)


def with_mesh(body: gendered.GenderedModels, fitted: dict[str, Any],
              init: dict[str, Any]) -> dict[str, Any]:
  """A fit's bodies with their mesh.

  Args:
    body: the body models the fit used.
    fitted: `fit_body`'s dict (pose, betas, cost).
    init: the start's dict; only its gender [B] is read (kept as given).

  Returns:
    dict: pose [B, 24, 3, 3], betas [B, S], gender (init's), fit_cost [B]
    (fitted['cost']), jl_body [B, 42, 3], joints [B, 24, 3], landmarks
    [B, 18, 3] and vertices [B, V, 3] (`gendered.posed_body`,
    root-relative metres).
  """
  gender = gender_index(init['gender'])
  out = dict(pose=fitted['pose'], betas=fitted['betas'],
             gender=init['gender'], fit_cost=fitted['cost'])
  posed = gendered.posed_body(body.gendered, fitted['pose'], fitted['betas'],
                              gender)
  out.update(jl_body=posed['jl'], joints=posed['joints'],
             landmarks=posed['landmarks'], vertices=posed['vertices'])
  return out


def refine_prediction(prediction: dict[str, Any],
                      body: gendered.GenderedModels,
                      options: FitOptions = FitOptions()) -> dict[str, Any]:
  """A predictor's output with each body refined to the JL SMPLR saw.

  Args:
    prediction: a predictor's dict (`smplr_jax.predict.prediction`): pose
      [B, 24, 3, 3] (or axis-angle), betas [B, S], gender [B] (probability
      of male, or int), jl_smplr_input [B, 42, 3] (the JL after the DAE).
    body: the body models.
    options: `FitOptions`.

  Returns:
    The same dict (numpy) with pose, betas, jl_body, joints, landmarks and
    vertices replaced by the fitted body's, fit_cost [B] added, gender and
    everything else kept.
  """
  fitted = fit_body(points_lib.fit_points_for(body), prediction['pose'],
                    prediction['betas'], prediction['gender'],
                    points_3d=prediction['jl_smplr_input'], options=options)
  fitted = jax.device_get(with_mesh(body, fitted, prediction))
  keys = ('pose', 'betas', 'jl_body', 'joints', 'landmarks', 'vertices',
          'fit_cost')
  return dict(prediction, **{k: fitted[k] for k in keys})
