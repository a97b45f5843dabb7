"""Rotation representations used by the pose network."""

from __future__ import annotations

import jax.numpy as jnp


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
