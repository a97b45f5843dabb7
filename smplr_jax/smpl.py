"""The SMPL forward pass in JAX: pure, jit-able and differentiable.

    vertices = LBS(v_template + blend(betas, pose), joints(betas), pose)

Written for speed on CPU and accelerator alike: the shape and pose blend
shapes are one [B, S + P] x [S + P, 3V] matrix product, joints come from the
pre-regressed joint template (no [J, V] product per call), the kinematic chain
is evaluated level by level of the tree (8 steps for SMPL instead of 23), and
skinning is one [V, J] x [J, 12B] product on 3x4 affine transforms, all in
a planar [B, 3, V] vertex layout.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from smplr_jax.body_model import BodyModel


class SMPLOutput(NamedTuple):
  """Result of `smpl_forward`.

  Attributes:
    vertices: [B, V, 3] posed mesh vertices (metres).
    joints: [B, J, 3] posed joint locations (metres).
    joint_transforms: [B, J, 4, 4] world transform of each joint (rotation and
      posed joint location), as returned by SMPL's rigid transform chain.
  """
  vertices: jnp.ndarray
  joints: jnp.ndarray
  joint_transforms: jnp.ndarray


def axis_angle_to_matrix(axis_angle: jnp.ndarray) -> jnp.ndarray:
  """Rodrigues' formula, exact and with finite gradients at zero angle.

  Args:
    axis_angle: [..., 3] rotation vectors (angle in radians times unit axis).

  Returns:
    [..., 3, 3] rotation matrices.
  """
  theta2 = jnp.sum(axis_angle * axis_angle, axis=-1)[..., None, None]
  # Double `where` so neither branch produces NaN gradients near zero.
  small = theta2 < 1e-8
  safe_theta2 = jnp.where(small, 1.0, theta2)
  theta = jnp.sqrt(safe_theta2)
  # sin(t)/t and (1 - cos t)/t^2 = 2 sin^2(t/2)/t^2, with Taylor series near 0.
  sinc = jnp.where(small, 1.0 - theta2 / 6.0, jnp.sin(theta) / theta)
  half_sin = jnp.sin(0.5 * theta)
  cosc = jnp.where(small, 0.5 - theta2 / 24.0,
                   2.0 * half_sin * half_sin / safe_theta2)
  x, y, z = axis_angle[..., 0], axis_angle[..., 1], axis_angle[..., 2]
  zero = jnp.zeros_like(x)
  skew = jnp.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1)
  skew = skew.reshape(axis_angle.shape[:-1] + (3, 3))
  eye = jnp.eye(3, dtype=axis_angle.dtype)
  return eye + sinc * skew + cosc * (skew @ skew)


@functools.lru_cache(maxsize=None)
def tree_levels(parents: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
  """Groups joints by depth in the kinematic tree (root level first)."""
  depth = [0] * len(parents)
  for j, p in enumerate(parents):
    depth[j] = 0 if p < 0 else depth[p] + 1
  return tuple(
      tuple(j for j in range(len(parents)) if depth[j] == d)
      for d in range(max(depth) + 1))


def _compose(rot_a, trans_a, rot_b, trans_b):
  """(R_a, t_a) o (R_b, t_b) for [..., 3, 3] rotations and [..., 3] shifts."""
  rot = rot_a @ rot_b
  trans = jnp.einsum('...ij,...j->...i', rot_a, trans_b) + trans_a
  return rot, trans


def forward_kinematics(rotations: jnp.ndarray, rest_joints: jnp.ndarray,
                       parents: tuple[int, ...]):
  """World rotations and posed joint locations along a kinematic tree.

  Joint frames are world-aligned at rest (SMPL's convention), so joint j's
  local transform is (R_j, rest_j - rest_parent(j)).

  Args:
    rotations: [B, J, 3, 3] rotations relative to the parent (joint 0: global).
    rest_joints: [B, J, 3] rest-pose joint locations.
    parents: J parent indices, -1 for the root; parents precede children.

  Returns:
    world_rotations [B, J, 3, 3] and posed_joints [B, J, 3].
  """
  num_joints = len(parents)
  world_rot = [None] * num_joints
  world_pos = [None] * num_joints
  for level in tree_levels(parents):
    if parents[level[0]] < 0:  # roots
      for j in level:
        world_rot[j] = rotations[:, j]
        world_pos[j] = rest_joints[:, j]
      continue
    idx = jnp.asarray(level)
    par = [parents[j] for j in level]
    local_trans = rest_joints[:, idx] - rest_joints[:, jnp.asarray(par)]
    parent_rot = jnp.stack([world_rot[p] for p in par], axis=1)
    parent_pos = jnp.stack([world_pos[p] for p in par], axis=1)
    rot, pos = _compose(parent_rot, parent_pos, rotations[:, idx], local_trans)
    for i, j in enumerate(level):
      world_rot[j] = rot[:, i]
      world_pos[j] = pos[:, i]
  return jnp.stack(world_rot, axis=1), jnp.stack(world_pos, axis=1)


def _pose_to_rotations(pose: jnp.ndarray, num_joints: int) -> jnp.ndarray:
  if pose.ndim == 3 and pose.shape[1:] == (num_joints, 3):
    return axis_angle_to_matrix(pose)
  if pose.ndim == 4 and pose.shape[1:] == (num_joints, 3, 3):
    return pose
  raise ValueError(
      f'pose must be axis-angle [B, {num_joints}, 3] or rotation matrices '
      f'[B, {num_joints}, 3, 3], got shape {pose.shape}.')


def smpl_forward(model: BodyModel,
                 pose: jnp.ndarray,
                 betas: jnp.ndarray,
                 transl: jnp.ndarray | None = None,
                 gender: jnp.ndarray | None = None) -> SMPLOutput:
  """The SMPL forward pass.

  Args:
    model: a `BodyModel`, or a stacked one (`stack_body_models`) together with
      `gender`.
    pose: [B, J, 3] axis-angle or [B, J, 3, 3] rotation matrices, relative to
      the parent joint; joint 0 is the global orientation.
    betas: [B, K] shape coefficients, K <= model.num_betas (missing ones are 0).
    transl: optional [B, 3] translation added to vertices and joints.
    gender: [B] int index into a stacked model's leading axis (e.g. 0 neutral,
      1 male, 2 female for `stack_body_models([neutral, male, female])`).
      Changing the mix does not recompile.

  Returns:
    `SMPLOutput` with vertices [B, V, 3], joints [B, J, 3] and
    joint_transforms [B, J, 4, 4].
  """
  num_joints = model.num_joints
  rotations = _pose_to_rotations(pose, num_joints)
  batch = rotations.shape[0]
  dtype = model.v_template.dtype
  rotations = rotations.astype(dtype)
  if betas.ndim != 2 or betas.shape[0] != batch:
    raise ValueError(f'betas must be [B={batch}, K], got shape {betas.shape}.')
  if betas.shape[1] > model.num_betas:
    raise ValueError(f'betas has {betas.shape[1]} coefficients; the model has '
                     f'only {model.num_betas} shape directions.')
  betas = jnp.pad(betas.astype(dtype),
                  ((0, 0), (0, model.num_betas - betas.shape[1])))
  if model.is_stacked != (gender is not None):
    raise ValueError('pass `gender` exactly when the model is stacked '
                     '(stack_body_models).')

  features = betas
  if model.num_pose_dirs:
    eye = jnp.eye(3, dtype=dtype)
    pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
    features = jnp.concatenate([betas, pose_feature], axis=1)

  # Vertices are kept planar, [B, 3, V], until the end: every product below is
  # then a plain matrix product with contiguous operands (the interleaved
  # [B, V, 3] layout costs several transposes, measured ~3x slower on CPU).
  if gender is None:
    rest_joints = model.joint_template + (
        betas @ model.joint_shape_dirs).reshape(batch, num_joints, 3)
    v_posed = (model.v_template.T.reshape(-1) +
               features @ model.blend_dirs).reshape(batch, 3, -1)
  else:
    # One-hot features select each sample's model inside a single product.
    num_models = model.v_template.shape[0]
    onehot = jax.nn.one_hot(gender, num_models, dtype=dtype)  # [B, G]
    rest_joints = model.joint_template[gender] + jnp.einsum(
        'bs,bsk->bk', betas,
        model.joint_shape_dirs[gender]).reshape(batch, num_joints, 3)
    masked = (onehot[:, :, None] * features[:, None, :]).reshape(batch, -1)
    templates = jnp.swapaxes(model.v_template, 1, 2).reshape(num_models, -1)
    v_posed = (onehot @ templates + masked @ model.blend_dirs.reshape(
        -1, model.blend_dirs.shape[-1])).reshape(batch, 3, -1)

  world_rot, posed_joints = forward_kinematics(rotations, rest_joints,
                                               model.parents)
  # Skinning transforms map rest-pose points: x -> R (x - rest_j) + posed_j.
  skin_trans = posed_joints - jnp.einsum('bjik,bjk->bji', world_rot,
                                         rest_joints)
  skin = jnp.concatenate([world_rot, skin_trans[..., None]], axis=-1)
  skin = skin.reshape(batch, num_joints, 12)
  if gender is None:
    per_vertex = jnp.einsum('vj,bjk->bkv', model.lbs_weights, skin)
  else:
    masked_skin = onehot[:, :, None, None] * skin[:, None]  # [B, G, J, 12]
    weights = jnp.moveaxis(model.lbs_weights, 0, 1).reshape(
        model.lbs_weights.shape[1], -1)  # [V, G * J]
    per_vertex = jnp.einsum('vg,bgk->bkv', weights,
                            masked_skin.reshape(batch, -1, 12))
  # per_vertex [B, 12, V]: row-major 3x4 affine transform of each vertex.
  vertices = jnp.stack([
      per_vertex[:, 4 * i] * v_posed[:, 0] +
      per_vertex[:, 4 * i + 1] * v_posed[:, 1] +
      per_vertex[:, 4 * i + 2] * v_posed[:, 2] + per_vertex[:, 4 * i + 3]
      for i in range(3)
  ], axis=-1)

  if transl is not None:
    transl = transl.astype(dtype)[:, None, :]
    vertices = vertices + transl
    posed_joints = posed_joints + transl
  bottom = jnp.broadcast_to(
      jnp.asarray([0.0, 0.0, 0.0, 1.0], dtype), (batch, num_joints, 1, 4))
  transforms = jnp.concatenate(
      [jnp.concatenate([world_rot, posed_joints[..., None]], axis=-1), bottom],
      axis=-2)
  return SMPLOutput(vertices=vertices, joints=posed_joints,
                    joint_transforms=transforms)


def landmarks_from_vertices(model: BodyModel,
                            vertices: jnp.ndarray) -> jnp.ndarray:
  """[B, V, 3] vertices -> [B, L, 3] SMPLR surface landmarks."""
  return vertices[:, model.landmark_vertex_ids]
