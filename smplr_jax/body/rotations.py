"""Rotation representations and conversions, in one place.

Every conversion the project uses is here, batched over leading axes and
jit-able: axis-angle (rotation vectors) <-> matrices (`axis_angle_to_matrix`
is Rodrigues' formula with finite gradients at zero angle), intrinsic Euler
angles <-> matrices, unit quaternions (w, x, y, z) -> matrices / axis-angle,
matrices -> axis-angle, the 6D representation of Zhou et al. (CVPR 2019) and
the projection of arbitrary 3x3 matrices onto SO(3). One host-side (numpy)
helper, `rotate_global_orientation`, re-expresses SMPL poses in another frame
for the dataset builders and the augmentation.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

_AXIS_INDEX = {'X': 0, 'Y': 1, 'Z': 2}


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
  # skew @ skew = r r^T - |r|^2 I, written out: batched 3x3 products are slow
  # on XLA:CPU, elementwise code fuses.
  outer = axis_angle[..., :, None] * axis_angle[..., None, :]
  return eye + sinc * skew + cosc * (outer - theta2 * eye)


def order_axes(order: str) -> tuple[int, int, int]:
  """'XZY' -> (0, 2, 1): the coordinate axes of an intrinsic Euler order."""
  if sorted(order) != ['X', 'Y', 'Z']:
    raise ValueError(f'Euler order must be a permutation of XYZ, got {order!r}')
  return tuple(_AXIS_INDEX[a] for a in order)


def _elementary_matrix(angle: jnp.ndarray, axis: int) -> jnp.ndarray:
  """[..., 3, 3] right-handed rotation by `angle` about coordinate `axis`."""
  c, s = jnp.cos(angle), jnp.sin(angle)
  one, zero = jnp.ones_like(angle), jnp.zeros_like(angle)
  rows = {
      0: ((one, zero, zero), (zero, c, -s), (zero, s, c)),
      1: ((c, zero, s), (zero, one, zero), (-s, zero, c)),
      2: ((c, -s, zero), (s, c, zero), (zero, zero, one)),
  }[axis]
  return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: jnp.ndarray, order: str) -> jnp.ndarray:
  """Intrinsic Euler angles -> rotation matrices.

  Args:
    angles: [..., 3] angles (radians) about x, y and z (stored per axis).
    order: intrinsic order, e.g. 'XZY' means R = R_x(a_x) R_z(a_z) R_y(a_y).

  Returns:
    [..., 3, 3] rotation matrices.
  """
  i, j, k = order_axes(order)
  r = _elementary_matrix(angles[..., i], i)
  r = jnp.einsum('...ab,...bc->...ac', r, _elementary_matrix(angles[..., j], j))
  return jnp.einsum('...ab,...bc->...ac', r,
                    _elementary_matrix(angles[..., k], k))


def matrix_to_euler(matrix: jnp.ndarray, order: str) -> jnp.ndarray:
  """Rotation matrices -> intrinsic Euler angles, the inverse of
  `euler_to_matrix` for middle angles in [-pi/2, pi/2] and others in (-pi, pi].

  Args:
    matrix: [..., 3, 3] rotation matrices.
    order: intrinsic order (see `euler_to_matrix`).

  Returns:
    [..., 3] angles (radians) about x, y and z.
  """
  i, j, k = order_axes(order)
  parity = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders
  m = lambda a, b: matrix[..., a, b]
  first = jnp.arctan2(-parity * m(j, k), m(k, k))
  middle = jnp.arcsin(jnp.clip(parity * m(i, k), -1.0, 1.0))
  last = jnp.arctan2(-parity * m(i, j), m(i, i))
  by_axis = [None] * 3
  by_axis[i], by_axis[j], by_axis[k] = first, middle, last
  return jnp.stack(by_axis, axis=-1)


def _quaternion_product(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
  """Hamilton product of [..., 4] (w, x, y, z) quaternions."""
  aw, ax, ay, az = jnp.moveaxis(a, -1, 0)
  bw, bx, by, bz = jnp.moveaxis(b, -1, 0)
  return jnp.stack([
      aw * bw - ax * bx - ay * by - az * bz,
      aw * bx + ax * bw + ay * bz - az * by,
      aw * by - ax * bz + ay * bw + az * bx,
      aw * bz + ax * by - ay * bx + az * bw,
  ], axis=-1)


def euler_to_quaternion(angles: jnp.ndarray,
                         axes: np.ndarray) -> jnp.ndarray:
  """[..., J, 3] per-axis angles, [J, 3] intrinsic axis order -> [..., J, 4]."""
  ordered = jnp.take_along_axis(
      angles, jnp.broadcast_to(jnp.asarray(axes), angles.shape), axis=-1)
  half = 0.5 * ordered
  onehot = jnp.asarray(np.eye(3)[axes], angles.dtype)  # [J, 3 (step), 3]
  elementary = jnp.concatenate(
      [jnp.cos(half)[..., None], jnp.sin(half)[..., None] * onehot], axis=-1)
  q = _quaternion_product(elementary[..., 0, :], elementary[..., 1, :])
  return _quaternion_product(q, elementary[..., 2, :])


def quaternion_to_axis_angle(q: jnp.ndarray) -> jnp.ndarray:
  """[..., 4] unit (w, x, y, z) quaternions -> [..., 3] rotation vectors with
  angle in [0, pi]."""
  q = jnp.where(q[..., :1] < 0, -q, q)
  w, v = q[..., 0], q[..., 1:]
  sin_half = jnp.sqrt(jnp.sum(v * v, axis=-1))
  small = sin_half < 1e-6
  safe_sin = jnp.where(small, 1.0, sin_half)
  factor = jnp.where(small, 2.0 / jnp.maximum(w, 1e-6),
                     2.0 * jnp.arctan2(sin_half, w) / safe_sin)
  return v * factor[..., None]


def quaternion_to_matrix(q: jnp.ndarray) -> jnp.ndarray:
  """[..., 4] unit (w, x, y, z) quaternions -> [..., 3, 3] rotations."""
  w, x, y, z = jnp.moveaxis(q, -1, 0)
  rows = (
      (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
      (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
      (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
  )
  return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_axis_angle(matrix: jnp.ndarray) -> jnp.ndarray:
  """[..., 3, 3] rotation matrices -> [..., 3] rotation vectors (angle <= pi).

  Via a unit quaternion (Shepperd's method: the largest of w, x, y, z is
  computed from the diagonal, the others from off-diagonal sums).
  """
  m = matrix
  trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
  diag = jnp.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
  choice = jnp.argmax(diag, axis=-1)
  candidates = []
  # w largest.
  w = 0.5 * jnp.sqrt(jnp.maximum(1 + trace, 1e-12))
  candidates.append(jnp.stack([w, (m[..., 2, 1] - m[..., 1, 2]) / (4 * w),
                               (m[..., 0, 2] - m[..., 2, 0]) / (4 * w),
                               (m[..., 1, 0] - m[..., 0, 1]) / (4 * w)], -1))
  # x, y, z largest.
  for i in range(3):
    j, k = (i + 1) % 3, (i + 2) % 3
    s = 0.5 * jnp.sqrt(jnp.maximum(1 + m[..., i, i] - m[..., j, j] -
                                   m[..., k, k], 1e-12))
    q = [None] * 4
    q[0] = (m[..., k, j] - m[..., j, k]) / (4 * s)
    q[1 + i] = s
    q[1 + j] = (m[..., j, i] + m[..., i, j]) / (4 * s)
    q[1 + k] = (m[..., k, i] + m[..., i, k]) / (4 * s)
    candidates.append(jnp.stack(q, -1))
  quaternion = jnp.take_along_axis(
      jnp.stack(candidates, -2), choice[..., None, None], axis=-2)[..., 0, :]
  quaternion = quaternion / jnp.linalg.norm(quaternion, axis=-1,
                                            keepdims=True)
  return quaternion_to_axis_angle(quaternion)


def rotation_6d_to_matrix(six_d: jnp.ndarray) -> jnp.ndarray:
  """Zhou et al. (CVPR 2019) 6D representation -> rotation matrix.

  Args:
    six_d: [..., 6], the first two columns of a rotation matrix, unnormalised.

  Returns:
    [..., 3, 3] rotation matrices (Gram-Schmidt on the two columns).
  """
  a1, a2 = six_d[..., 0:3], six_d[..., 3:6]
  b1 = a1 / jnp.sqrt(jnp.sum(a1 * a1, axis=-1, keepdims=True) + 1e-12)
  a2 = a2 - jnp.sum(b1 * a2, axis=-1, keepdims=True) * b1
  b2 = a2 / jnp.sqrt(jnp.sum(a2 * a2, axis=-1, keepdims=True) + 1e-12)
  b3 = jnp.cross(b1, b2)
  return jnp.stack([b1, b2, b3], axis=-1)


def matrix_to_rotation_6d(matrix: jnp.ndarray) -> jnp.ndarray:
  """[..., 3, 3] rotation matrices -> [..., 6] (first two columns)."""
  return jnp.concatenate([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def project_to_rotation(matrix: jnp.ndarray) -> jnp.ndarray:
  """Nearest rotation (Frobenius) of arbitrary [..., 3, 3] matrices via SVD."""
  u, _, vt = jnp.linalg.svd(matrix)
  det = jnp.linalg.det(u @ vt)
  fix = jnp.concatenate(
      [jnp.ones(det.shape + (2,), matrix.dtype), det[..., None]], axis=-1)
  return (u * fix[..., None, :]) @ vt


def rotate_global_orientation(rotation: np.ndarray,
                              pose: np.ndarray) -> np.ndarray:
  """Pre-multiplies the global orientation (joint 0) by `rotation`.

  Args:
    rotation: [3, 3] or [N, 3, 3] rotation matrices.
    pose: [N, 24, 3] or [N, 72] SMPL axis-angle.

  Returns:
    float32 [N, 24, 3] with joint 0 = axis-angle of rotation @ R(joint 0).
  """
  pose = np.asarray(pose, np.float64)
  pose = pose.reshape(pose.shape[0], -1, 3).copy()
  global_rot = Rotation.from_rotvec(pose[:, 0]).as_matrix()
  rotated = np.einsum('...ab,nbc->nac', np.asarray(rotation, np.float64),
                      global_rot)
  pose[:, 0] = Rotation.from_matrix(rotated).as_rotvec()
  return pose.astype(np.float32)
