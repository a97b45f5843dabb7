"""The points a fit reads and their analytic Jacobian.

A keypoint set (the 42 JL, BlazePose-33, COCO-17, ...) is a points model
(the body restricted to the vertices the set needs) and a linear readout of
its N = 24 joints + V vertices (`FitPoints`). `points_and_jacobian` poses
one body's points and differentiates them w.r.t. the 24 joints' rotation
increments and the betas, in closed form (see `smplr_jax.fitting`).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, smpl
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib

NUM_JOINTS = jl_lib.NUM_JOINTS
NUM_POSE_PARAMS = 3 * NUM_JOINTS


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


def fit_points_for(body: gendered.GenderedModels,
                   keypoint_set: kp_lib.KeypointSet | str | None = None
                   ) -> FitPoints:
  """`FitPoints` of a keypoint set on `body`'s models.

  Builds the set's points model on every call (no cache; about 1 ms with
  the default body once warm, the 42 JL reuse `body.points`): a caller
  that fits the same set repeatedly holds the result.

  Args:
    body: the body models (`gendered.GenderedModels`).
    keypoint_set: a `keypoints.KeypointSet` or its name (e.g.
      'blazepose33'), or None / 'jl42' for the 42 JL.

  Returns:
    The set's `FitPoints` (K keypoints).
  """
  if keypoint_set in (None, 'jl42'):
    hips = (jl_lib.JOINT_NAMES.index('left_hip'),
            jl_lib.JOINT_NAMES.index('right_hip'))
    # The landmark points model already gives the 42 JL, in order.
    return FitPoints('jl42', body.points,
                     np.eye(jl_lib.NUM_POINTS, dtype=np.float32), hips,
                     tuple(jl_lib.LEFT_RIGHT_PERMUTATION))
  if isinstance(keypoint_set, str):
    keypoint_set = kp_lib.get_set(keypoint_set)
  weights = keypoint_set.weights()  # [K, 24 + M]
  # The points model puts the 18 JL landmarks before the set's M vertices.
  readout = np.concatenate([
      weights[:, :NUM_JOINTS],
      np.zeros((keypoint_set.num_keypoints, jl_lib.NUM_LANDMARKS),
               np.float32), weights[:, NUM_JOINTS:]], axis=1)
  return FitPoints(keypoint_set.name,
                   kp_lib.keypoints_model(body.gendered, keypoint_set),
                   readout, keypoint_set.centre_ids,
                   keypoint_set.left_right_permutation())


class Body(NamedTuple):
  """One body's model arrays (its gender's), for the points model.

  joint_template [24, 3]; joint_dirs [S, 24, 3]; v_template [V, 3];
  shape_dirs [S, V, 3]; pose_dirs [P, V, 3] (P may be 0); weights [V, 24].
  """
  joint_template: jnp.ndarray
  joint_dirs: jnp.ndarray
  v_template: jnp.ndarray
  shape_dirs: jnp.ndarray
  pose_dirs: jnp.ndarray
  weights: jnp.ndarray


def select_bodies(points_model: bm.BodyModel, gender: jnp.ndarray,
                  num_betas: int) -> Body:
  """[B]-batched `Body` of a (stacked) points model.

  Args:
    points_model: `FitPoints.model` (single or stacked).
    gender: [B] int model index (ignored for a single model).
    num_betas: S, the betas fitted.

  Returns:
    `Body` with a leading [B] axis on every array.
  """
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
  return Body(
      joint_template=pick(model.joint_template),
      joint_dirs=pick(model.joint_shape_dirs[:, :num_betas].reshape(
          model.joint_shape_dirs.shape[0], num_betas, NUM_JOINTS, 3)),
      v_template=pick(model.v_template),
      shape_dirs=pick(dirs[:, :num_betas]),
      pose_dirs=pick(dirs[:, model.num_betas:]),
      weights=pick(model.lbs_weights))


def _ancestors(parents: tuple[int, ...]) -> np.ndarray:
  """[J, J] A with A[k, j] = 1 when joint j is k or one of its ancestors."""
  a = np.zeros((len(parents),) * 2, np.float32)
  for k in range(len(parents)):
    j = k
    while j >= 0:
      a[k, j] = 1.0
      j = parents[j]
  return a


def _dot(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
  """sum(a * b) over the last axis, after broadcasting.

  Elementwise products fuse on XLA:CPU, but reductions over any axis other
  than the last one run ~80x slower there than this form or an einsum
  (measured at B = 1024), so every sum below is over the last axis or a
  contraction of an einsum.
  """
  return jnp.sum(a * b, axis=-1)


def points_and_jacobian(body: Body, rot: jnp.ndarray, betas: jnp.ndarray,
                        parents: tuple[int, ...], with_jacobian: bool):
  """One body's root-relative points and their Jacobian.

  Args:
    body: the body's `Body` (unbatched: V vertices).
    rot: [24, 3, 3] relative rotations.
    betas: [S] shape coefficients.
    parents: the kinematic tree.
    with_jacobian: also return the Jacobian.

  Returns:
    points [N, 3] (N = 24 + V: joints, then vertices; metres, minus the
    root joint) and, with_jacobian, the Jacobian [N, 3, 72 + S] w.r.t.
    (d_0..d_23, betas); else None.
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
  # Each vertex as moved by each joint's transform: [V (i), 24 (k), 3].
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
  arms = jnp.concatenate([arm_joints, arm_landmarks])  # [N, 24, 3]
  # Column d of G_j is the world axis of local axis d.
  axes = jnp.swapaxes(world_rot, -1, -2)  # [24, 3 (d), 3]
  jac_rot = jnp.cross(axes[None], arms[:, :, None])  # [N, 24, 3 (d), 3]
  jac_rot = jnp.transpose(jac_rot, (0, 3, 1, 2)).reshape(-1, 3,
                                                         NUM_POSE_PARAMS)
  # Betas: bones rotated by the parent's world rotation, summed down the
  # chain (root-relative); vertices through their skinning transforms.
  joint_dirs = jnp.swapaxes(body.joint_dirs, 0, 1)  # [24, S, 3]
  par = np.asarray(parents[1:])
  bones = joint_dirs[1:] - joint_dirs[par]
  rotated = _dot(world_rot[par][:, None], bones[:, :, None])  # [23, S, 3]
  d_joints = jnp.einsum('kj,jsa->ksa', anc[:, 1:], rotated)  # [24, S, 3]
  # sum_k w_ik (G_k (Sv_i - S_k) + dJ_k) = Gbar_i Sv_i + sum_k w_ik (dJ_k -
  # G_k S_k), with Gbar_i = sum_k w_ik G_k the blended rotation.
  blended = jnp.einsum('ik,kab->iab', body.weights, world_rot)
  shape_dirs = jnp.swapaxes(body.shape_dirs, 0, 1)  # [V, S, 3]
  turned = _dot(world_rot[:, None], joint_dirs[:, :, None])  # [24, S, 3]
  d_landmarks = (_dot(blended[:, None], shape_dirs[:, :, None]) +
                 jnp.einsum('ik,ksa->isa', body.weights, d_joints - turned))
  jac_betas = jnp.swapaxes(jnp.concatenate([d_joints, d_landmarks]), 1, 2)
  return points, jnp.concatenate([jac_rot, jac_betas], axis=-1)
