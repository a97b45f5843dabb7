"""The fit's priors: joint limits as Euler-angle excess, robust weights.

The joint-limit prior penalises how far each joint's intrinsic Euler angles
(`limits.JOINT_EULER_ORDERS`) leave the sampler's ranges of motion
(`limits.joint_limits_degrees`); `robust` turns whitened squared residuals
into Geman-McClure costs and their IRLS weights.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from smplr_jax.body import limits, rotations


def _euler_axes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Joints 1..23: their Euler orders as axes [23, 3] (i, j, k), the
  position of axis x, y, z in the order [23, 3], and the parity [23]."""
  axes = np.asarray([rotations.order_axes(o)
                     for o in limits.JOINT_EULER_ORDERS[1:]])
  position = np.argsort(axes, axis=1)
  parity = np.where((axes[:, 1] - axes[:, 0]) % 3 == 1, 1.0, -1.0)
  return axes, position, parity.astype(np.float32)


def limits_radians(margin_deg: float) -> np.ndarray:
  """[24, 3, 2] (lower, upper) per joint and axis, widened by the margin."""
  degrees = limits.joint_limits_degrees() + np.asarray([-margin_deg,
                                                        margin_deg])
  return np.deg2rad(degrees).astype(np.float32)


def _turn(vector: jnp.ndarray, unit: jnp.ndarray,
          angle: jnp.ndarray) -> jnp.ndarray:
  """[..., 3] vectors turned by [...] angles about [..., 3] unit axes."""
  cos, sin = jnp.cos(angle)[..., None], jnp.sin(angle)[..., None]
  along = jnp.sum(unit * vector, axis=-1, keepdims=True) * unit
  return vector * cos + jnp.cross(unit, vector) * sin + along * (1.0 - cos)


def euler_excess(rot: jnp.ndarray, ranges: jnp.ndarray,
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
    ranges: [24, 3, 2] (lower, upper) radians (`limits_radians`).
    with_jacobian: also return the Jacobian.

  Returns:
    excess [23, 3] (radians beyond the range, 0 inside) and, with_jacobian,
    its Jacobian [23, 3, 3] w.r.t. each joint's own increment; else None.
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
  low, high = ranges[1:, :, 0], ranges[1:, :, 1]
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


def block_diagonal(blocks: jnp.ndarray) -> jnp.ndarray:
  """[J, 3, 3] per-joint blocks -> [3J, 3J] block-diagonal matrix."""
  num = blocks.shape[0]
  eye = jnp.eye(num, dtype=blocks.dtype)
  return jnp.einsum('jab,jk->jakb', blocks, eye).reshape(3 * num, 3 * num)


def robust(squared: jnp.ndarray, scale: float | None, sigma: float):
  """Geman-McClure cost and IRLS weight of whitened squared residuals.

  Args:
    squared: [...] squared residuals, in units of sigma.
    scale: the Geman-McClure scale (same unit as sigma), or None for least
      squares.
    sigma: the residuals' unit.

  Returns:
    (cost [...], weight [...]): points farther off than `scale` cost less
    and less, and their IRLS weight falls with them.
  """
  if scale is None:
    return squared, jnp.ones_like(squared)
  scale2 = (scale / sigma)**2
  return (scale2 * squared / (scale2 + squared),
          (scale2 / (scale2 + squared))**2)
