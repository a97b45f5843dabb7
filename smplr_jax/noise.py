"""Noise models for joints and landmarks (JL), for training without images.

`uniform_point_noise` is the authors' "uniform noise with constraints": each
coordinate of each point is perturbed uniformly in [-v, +v], with a bound v
per point that grows from ~5 mm on the hips and spine to 7-9 cm on the wrists,
hands and hand landmarks, and is largest along the camera-depth axis z.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Per-point bound (metres) on x and y, in JL order (24 joints, 18 landmarks).
POINT_NOISE_BOUNDS = np.asarray([
    0.0,  # pelvis (root: JL is root-relative)
    0.005, 0.005, 0.005,  # L_hip, R_hip, spine1
    0.03, 0.03, 0.005,  # L_knee, R_knee, spine2
    0.04, 0.04, 0.005,  # L_ankle, R_ankle, spine3
    0.05, 0.05, 0.01,  # L_foot, R_foot, neck
    0.01, 0.01, 0.02,  # L_collar, R_collar, head
    0.02, 0.02,  # L_shoulder, R_shoulder
    0.04, 0.04,  # L_elbow, R_elbow
    0.07, 0.07,  # L_wrist, R_wrist
    0.08, 0.08,  # L_hand, R_hand
    # landmarks: chest L/R, belly, outer hip R/L, thigh front R/L,
    # thigh back R/L, toe L/R, hand tip L, biceps L, triceps L, biceps R,
    # triceps R, hand tip R, face
    0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.02, 0.02, 0.02,
    0.05, 0.05, 0.09, 0.03, 0.03, 0.03, 0.03, 0.09, 0.02,
], np.float32)
DEPTH_FACTOR = 1.5  # the bound on z (camera depth) is this much larger


def uniform_point_noise(rng: jax.Array, jl: jnp.ndarray,
                        scale: float | jnp.ndarray = 1.0,
                        bounds=POINT_NOISE_BOUNDS,
                        depth_factor: float = DEPTH_FACTOR) -> jnp.ndarray:
  """Adds bounded uniform noise to root-relative JL.

  Args:
    rng: PRNG key.
    jl: [B, 42, 3] root-relative points (metres).
    scale: multiplies every bound (0 = no noise); scalar or [B, 1, 1].
    bounds: [42] per-point bound on x and y (metres).
    depth_factor: the z bound is `depth_factor` times larger.

  Returns:
    [B, 42, 3] noisy points; the root stays at the origin.
  """
  axis = jnp.asarray([1.0, 1.0, depth_factor], jl.dtype)
  bound = jnp.asarray(bounds, jl.dtype)[:, None] * axis * scale
  return jl + jax.random.uniform(rng, jl.shape, jl.dtype, -1.0, 1.0) * bound
