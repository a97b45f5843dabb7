"""Synthetic SMPL-layout models for tests and benchmarks (no licensed data)."""

from __future__ import annotations

import numpy as np

from smplr_jax.body.jl import SMPL_PARENTS


def random_smpl_arrays(seed: int = 0,
                       num_vertices: int = 6890,
                       num_betas: int = 10,
                       num_faces: int = 13776,
                       pose_dirs_scale: float = 0.01) -> dict[str, np.ndarray]:
  """A random model in the official SMPL key layout, for parity tests.

  Vertices are scattered around a skeleton-sized box, LBS weights are sparse
  (each vertex skinned to its 4 nearest joints) and the pose correctives are
  non-zero, so every term of the forward pass is exercised.

  Returns:
    dict with v_template [V, 3], shapedirs [V, 3, S], posedirs [V, 3, 207],
    J_regressor [24, V], weights [V, 24], kintree_table [2, 24], f [F, 3].
  """
  rng = np.random.default_rng(seed)
  num_joints = len(SMPL_PARENTS)
  joints = np.zeros((num_joints, 3))
  for j, p in enumerate(SMPL_PARENTS[1:], start=1):
    joints[j] = joints[p] + rng.normal(0.0, 0.12, 3)
  owner = rng.integers(0, num_joints, num_vertices)
  v_template = joints[owner] + rng.normal(0.0, 0.05, (num_vertices, 3))
  dist = np.linalg.norm(v_template[:, None] - joints[None], axis=-1)
  nearest = np.argsort(dist, axis=1)[:, :4]
  weights = np.zeros((num_vertices, num_joints))
  np.put_along_axis(weights, nearest, rng.uniform(0.1, 1.0, nearest.shape), 1)
  weights /= weights.sum(1, keepdims=True)
  j_regressor = np.zeros((num_joints, num_vertices))
  for j in range(num_joints):
    ids = np.argsort(dist[:, j])[:20]
    j_regressor[j, ids] = rng.uniform(0.0, 1.0, ids.size)
  j_regressor /= j_regressor.sum(1, keepdims=True)
  kintree = np.stack([np.asarray(SMPL_PARENTS, np.int64),
                      np.arange(num_joints, dtype=np.int64)])
  kintree[0, 0] = 2**32 - 1
  return {
      'v_template': v_template,
      'shapedirs': rng.normal(0.0, 0.01, (num_vertices, 3, num_betas)),
      'posedirs': rng.normal(0.0, pose_dirs_scale,
                             (num_vertices, 3, 9 * (num_joints - 1))),
      'J_regressor': j_regressor,
      'weights': weights,
      'kintree_table': kintree,
      # Faces do not depend on the seed, so models of one size stack.
      'f': np.random.default_rng(1234).integers(
          0, num_vertices, (num_faces, 3)).astype(np.int64),
  }
