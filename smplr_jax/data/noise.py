"""Noise models for joints and landmarks (JL), for training without images.

All take a PRNG key and root-relative JL [B, 42, 3] in metres, return noisy JL
of the same shape with the root left at the origin, are pure and jit-able, and
are a deterministic function of their key. The camera-depth axis is z.

  * `uniform_point_noise`: our version of the authors' "uniform noise with
    constraints" (bounds set by hand, smaller on the torso than theirs): each
    coordinate of each point is perturbed uniformly in [-v, +v], with a bound v
    per point that grows from ~5 mm on the hips and spine to 7-9 cm on the
    wrists, hands and hand landmarks, and is largest along z.
  * `authors_point_noise`: the same kind with the authors' exact 123 bounds
    (`AUTHORS_NOISE_BOUNDS`), whose torso bounds are 2-3x larger.
  * `gaussian_point_noise`: independent Gaussian noise, a sigma per point (by
    default the uniform model's standard deviation, v / sqrt(3)).
  * `structured_point_noise`: errors shaped like a CNN's (paper Sec. 3.4):
    left/right swaps of whole distal limbs, occluded points pulled toward
    their parent, bone directions perturbed mostly in depth and recomposed
    along the kinematic tree (so errors grow toward the wrists and feet and
    are correlated along a limb while bone lengths barely change), a
    per-body depth scale error and a small independent jitter.

`add_noise(rng, jl, kind, ...)` dispatches on a model's name (`NOISE_MODELS`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import jl as jl_lib

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


# The authors' per-coordinate bounds (mm), from `joint_gaussian_noise` in
# their `Data/datagenerator_cloth3d.py` (docs/paper_facts.md, "The authors'
# input-noise table"), used as uniform in [-v, +v] (`train_smplr.py`). Their
# first column is the camera depth, then horizontal, then vertical; here the
# columns are reordered to our camera frame: (x horizontal, y vertical, z
# depth). Row 0 is the root (no noise: JL are root-relative).
AUTHORS_NOISE_BOUNDS = np.asarray([
    (0.0, 0.0, 0.0),  # pelvis
    (6.9, 5.2, 8.3),  # left_hip
    (7.1, 5.0, 8.0),  # right_hip
    (6.9, 5.3, 8.5),  # spine1
    (22.2, 19.6, 34.5),  # left_knee
    (23.1, 19.1, 34.3),  # right_knee
    (8.9, 9.8, 14.9),  # spine2
    (23.5, 24.2, 53.5),  # left_ankle
    (22.3, 25.5, 52.1),  # right_ankle
    (9.0, 10.8, 16.7),  # spine3
    (24.3, 25.3, 56.7),  # left_foot
    (22.6, 24.7, 56.1),  # right_foot
    (10.6, 14.4, 26.5),  # neck
    (10.4, 12.2, 21.7),  # left_collar
    (10.3, 12.2, 22.2),  # right_collar
    (11.9, 15.8, 30.5),  # head
    (16.4, 17.4, 26.2),  # left_shoulder
    (15.9, 16.6, 27.0),  # right_shoulder
    (25.8, 28.1, 44.1),  # left_elbow
    (25.6, 27.2, 45.8),  # right_elbow
    (30.7, 35.8, 64.8),  # left_wrist
    (29.5, 33.4, 69.7),  # right_wrist
    (33.6, 40.6, 75.7),  # left_hand
    (32.5, 37.5, 81.7),  # right_hand
    (14.6, 15.0, 20.6),  # left_chest
    (14.8, 14.8, 21.6),  # right_chest
    (11.4, 10.5, 11.3),  # lower_belly
    (13.2, 8.7, 12.9),  # right_outer_hip
    (12.9, 8.1, 13.2),  # left_outer_hip
    (15.9, 14.4, 17.7),  # right_thigh_front
    (15.3, 14.1, 18.6),  # left_thigh_front
    (12.3, 10.4, 16.1),  # right_thigh_back
    (11.6, 10.1, 15.3),  # left_thigh_back
    (28.3, 29.5, 59.6),  # left_toe_tip
    (26.3, 28.7, 60.4),  # right_toe_tip
    (41.0, 48.6, 85.1),  # left_hand_tip
    (17.2, 19.1, 30.4),  # left_biceps
    (19.8, 21.8, 31.1),  # left_triceps
    (17.8, 19.7, 33.9),  # right_biceps
    (20.4, 22.3, 33.7),  # right_triceps
    (41.6, 45.9, 91.2),  # right_hand_tip
    (21.6, 29.1, 39.2),  # face
], np.float32) / 1000.0


def authors_point_noise(rng: jax.Array, jl: jnp.ndarray,
                        scale: float | jnp.ndarray = 1.0,
                        bounds=AUTHORS_NOISE_BOUNDS) -> jnp.ndarray:
  """The authors' input noise: uniform in [-v, +v] with their 123 bounds.

  Their torso bounds are 2-3x those of `uniform_point_noise` (spine3: 9.0 /
  10.8 / 16.7 mm here against 5 / 5 / 7.5 mm there); their limb bounds are
  close to ours. Their frame's axes are the camera's horizontal, vertical
  and depth axes of a level camera; ours is the camera frame of a camera
  that may be tilted by up to 30 degrees, where z is still the depth.

  Args:
    rng: PRNG key.
    jl: [B, 42, 3] root-relative points (metres, camera frame).
    scale: multiplies every bound (0 = no noise); scalar or [B, 1, 1].
    bounds: [42, 3] per-point, per-axis bounds (metres), x, y, z.

  Returns:
    [B, 42, 3] noisy points; the root stays at the origin.
  """
  bound = jnp.asarray(bounds, jl.dtype) * scale
  return jl + jax.random.uniform(rng, jl.shape, jl.dtype, -1.0, 1.0) * bound


# Per-point sigma (metres) on x and y of `gaussian_point_noise`: the standard
# deviation of the uniform model, so that both have the same variance.
GAUSSIAN_SIGMAS = (POINT_NOISE_BOUNDS / np.sqrt(3.0)).astype(np.float32)


def gaussian_point_noise(rng: jax.Array, jl: jnp.ndarray,
                         scale: float | jnp.ndarray = 1.0,
                         sigmas=GAUSSIAN_SIGMAS,
                         depth_factor: float = DEPTH_FACTOR) -> jnp.ndarray:
  """Adds independent Gaussian noise to every coordinate of root-relative JL.

  Args:
    rng: PRNG key.
    jl: [B, 42, 3] root-relative points (metres).
    scale: multiplies every sigma (0 = no noise); scalar or [B, 1, 1].
    sigmas: [42] per-point standard deviation on x and y (metres); the root's
      must be 0. Default `GAUSSIAN_SIGMAS` (the uniform model's std).
    depth_factor: the sigma on z (camera depth) is this much larger.

  Returns:
    [B, 42, 3] noisy points; the root stays at the origin.
  """
  axis = jnp.asarray([1.0, 1.0, depth_factor], jl.dtype)
  sigma = jnp.asarray(sigmas, jl.dtype)[:, None] * axis * scale
  return jl + jax.random.normal(rng, jl.shape, jl.dtype) * sigma


# --- structured (CNN-like) noise ---------------------------------------------

# Per-bone angular sigma (radians) of the structured noise, indexed by the
# bone's child point (entry 0, the root, is unused). Distal limb bones get
# the largest, torso bones the smallest; errors then accumulate down the tree.
# With the other defaults of `structured_point_noise` these give per-group
# errors close to the paper's stacked hourglass on SURREAL (Table 1, SHN:
# Hd 46, Ts 23, Sr 43, Ew 75, Wt 110, Hp 15, Kn 61, Ft 102, Jt 62 mm).
STRUCTURED_ANGLE_SIGMAS = np.asarray([
    0.0,  # pelvis (root)
    0.055, 0.055, 0.05,  # L_hip, R_hip, spine1
    0.05, 0.05, 0.05,  # L_knee, R_knee, spine2
    0.07, 0.07, 0.05,  # L_ankle, R_ankle, spine3
    0.18, 0.18, 0.09,  # L_foot, R_foot, neck
    0.10, 0.10, 0.12,  # L_collar, R_collar, head
    0.10, 0.10,  # L_shoulder, R_shoulder
    0.08, 0.08,  # L_elbow, R_elbow
    0.13, 0.13,  # L_wrist, R_wrist
    0.25, 0.25,  # L_hand, R_hand
    # landmarks: chest L/R, belly, outer hip R/L, thigh front R/L,
    # thigh back R/L, toe L/R, hand tip L, biceps L, triceps L, biceps R,
    # triceps R, hand tip R, face
    0.08, 0.08, 0.08, 0.08, 0.08, 0.10, 0.10, 0.10, 0.10,
    0.25, 0.25, 0.30, 0.12, 0.15, 0.12, 0.15, 0.30, 0.14,
], np.float32)

# Per-point sigma (metres) on x and y of the structured noise's independent
# jitter (what a heatmap's quantisation and blur add on top).
STRUCTURED_JITTER_SIGMAS = np.where(np.arange(jl_lib.NUM_POINTS) == 0, 0.0,
                                    0.005).astype(np.float32)

# Point groups swapped left <-> right as a whole (each closed under
# `jl.LEFT_RIGHT_PERMUTATION`): the forearms with hands, the shins with feet.
SWAP_GROUPS = {
    'arms': (18, 19, 20, 21, 22, 23, 35, 40),  # elbows, wrists, hands, tips
    'legs': (4, 5, 7, 8, 10, 11, 33, 34),  # knees, ankles, feet, toe tips
}


def _check_swap_groups() -> None:
  perm = np.asarray(jl_lib.LEFT_RIGHT_PERMUTATION)
  for name, ids in SWAP_GROUPS.items():
    if set(perm[list(ids)]) != set(ids):
      raise AssertionError(f'swap group {name} is not mirror-closed')


_check_swap_groups()


@functools.cache
def _ancestor_matrix() -> np.ndarray:
  """[42, 42] A with A[i, j] = 1 when bone j (ending at point j) lies on the
  path from the root to point i (j = i included, j = 0 excluded), so that
  points = A @ bone vectors for root-relative JL."""
  n = jl_lib.NUM_POINTS
  a = np.zeros((n, n), np.float32)
  for i in range(1, n):
    j = i
    while j > 0:
      a[i, j] = 1.0
      j = jl_lib.JL_PARENTS[j]
  return a


def swap_left_right(jl: jnp.ndarray, swap: jnp.ndarray,
                    group: tuple[int, ...]) -> jnp.ndarray:
  """Swaps a mirror-closed point group with its other side where `swap`.

  Args:
    jl: [B, 42, 3] points.
    swap: [B] bool, which bodies get the swap.
    group: point ids, closed under `jl.LEFT_RIGHT_PERMUTATION`.

  Returns:
    [B, 42, 3]: point i of `group` takes the position of its mirror point.
  """
  mirrored = jnp.take(jl, jnp.asarray(jl_lib.LEFT_RIGHT_PERMUTATION), axis=1)
  in_group = np.zeros(jl_lib.NUM_POINTS, bool)
  in_group[list(group)] = True
  mask = swap[:, None] & jnp.asarray(in_group)[None]
  return jnp.where(mask[..., None], mirrored, jl)


def structured_point_noise(
    rng: jax.Array, jl: jnp.ndarray, scale: float | jnp.ndarray = 1.0, *,
    angle_sigmas=STRUCTURED_ANGLE_SIGMAS, depth_factor: float = 2.0,
    jitter_sigmas=STRUCTURED_JITTER_SIGMAS, depth_scale_sigma: float = 0.03,
    swap_probability: float = 0.04, occlusion_probability: float = 0.05,
    occlusion_pull: tuple[float, float] = (0.2, 0.6),
    occlusion_angle_factor: float = 2.0) -> jnp.ndarray:
  """Adds errors shaped like those of an image CNN to root-relative JL.

  In this order, per body:
    1. swaps: each group of `SWAP_GROUPS` (forearms + hands, shins + feet) is
       swapped with its mirror side with probability `swap_probability`;
    2. occlusion: each non-root point is occluded with probability
       `occlusion_probability`: moved a fraction t ~ U(occlusion_pull) of the
       way toward its parent (`jl.JL_PARENTS`), and its bone's angular sigma
       is multiplied by `occlusion_angle_factor`;
    3. bone directions: every bone (child - parent) is tilted by a random
       vector of per-axis std `angle_sigmas[child]` times (1, 1,
       depth_factor) (x, y, z), renormalised to its length, and the body is
       recomposed from the root down the kinematic tree: a point inherits
       every error of its ancestors, so distal points (wrists, hands, feet)
       err most, mostly along z, with bone lengths preserved;
    4. depth scale: all z coordinates are multiplied by 1 + depth_scale_sigma
       * N(0, 1) (one factor per body);
    5. jitter: independent Gaussian noise of per-point std `jitter_sigmas`
       (x, y) and depth_factor times that on z.

  Args:
    rng: PRNG key.
    jl: [B, 42, 3] root-relative points (metres).
    scale: multiplies the continuous errors (angles, depth scale, jitter;
      0 = none of them); scalar or [B, 1, 1]. Swaps and occlusions have their
      own probabilities (set them to 0 to turn them off).
    angle_sigmas: [42] angular std (radians) of the bone ending at each point.
    depth_factor: how much larger the z components of tilts and jitter are.
    jitter_sigmas: [42] per-point jitter std on x and y (metres).
    depth_scale_sigma: std of the per-body relative depth-scale error.
    swap_probability: probability per body and group of a left/right swap.
    occlusion_probability: probability per non-root point of occlusion.
    occlusion_pull: (low, high) range of the pull toward the parent.
    occlusion_angle_factor: angular std multiplier of occluded points.

  Returns:
    [B, 42, 3] noisy points; the root stays at the origin.
  """
  batch, num_points = jl.shape[0], jl_lib.NUM_POINTS
  if jl.shape[1:] != (num_points, 3):
    raise ValueError(f'jl must be [B, {num_points}, 3], got {jl.shape}')
  dtype = jl.dtype
  keys = jax.random.split(rng, 7)
  # 1. Left/right swaps of whole distal limbs.
  for key, group in zip(jax.random.split(keys[0], len(SWAP_GROUPS)),
                        SWAP_GROUPS.values()):
    swap = jax.random.bernoulli(key, swap_probability, (batch,))
    jl = swap_left_right(jl, swap, group)
  # 2. Occluded points pulled toward their parent.
  not_root = jnp.arange(num_points) > 0
  occluded = jax.random.bernoulli(keys[1], occlusion_probability,
                                  (batch, num_points)) & not_root
  pull = jax.random.uniform(keys[2], (batch, num_points, 1), dtype,
                            occlusion_pull[0], occlusion_pull[1])
  parents = jnp.take(jl, jnp.asarray((0,) + jl_lib.JL_PARENTS[1:]), axis=1)
  jl = jnp.where(occluded[..., None], jl + pull * (parents - jl), jl)
  # 3. Tilted bones, recomposed from the root.
  bones = jnp.concatenate([jnp.zeros_like(jl[:, :1]),
                           jl_lib.bone_vectors(jl)], axis=1)  # [B, 42, 3]
  length = jnp.linalg.norm(bones, axis=-1, keepdims=True)
  axis = jnp.asarray([1.0, 1.0, depth_factor], dtype)
  angle = (jnp.asarray(angle_sigmas, dtype)[None, :, None] * scale *
           jnp.where(occluded, occlusion_angle_factor, 1.0)[..., None])
  tilt = jax.random.normal(keys[3], jl.shape, dtype) * angle * axis
  safe_length = jnp.where(length > 0, length, 1.0)
  direction = bones / safe_length + tilt
  direction_norm = jnp.linalg.norm(direction, axis=-1, keepdims=True)
  tilted = jnp.where(length > 0,
                     direction / jnp.maximum(direction_norm, 1e-6) * length,
                     0.0)
  jl = jnp.einsum('ij,bjc->bic', jnp.asarray(_ancestor_matrix(), dtype),
                  tilted)
  # 4. Per-body depth scale.
  depth_scale = 1.0 + depth_scale_sigma * jnp.asarray(scale, dtype).reshape(
      -1, 1)[:, :1] * jax.random.normal(keys[4], (batch, 1), dtype)
  jl = jl.at[..., 2].multiply(depth_scale)
  # 5. Independent jitter.
  jitter = jnp.asarray(jitter_sigmas, dtype)[:, None] * axis * scale
  return jl + jax.random.normal(keys[5], jl.shape, dtype) * jitter


def no_noise(rng: jax.Array, jl: jnp.ndarray,
             scale: float | jnp.ndarray = 1.0) -> jnp.ndarray:
  """The identity (clean input): `rng` and `scale` are ignored."""
  del rng, scale
  return jl


NOISE_MODELS = {
    'none': no_noise,
    'uniform': uniform_point_noise,
    'authors': authors_point_noise,
    'gaussian': gaussian_point_noise,
    'structured': structured_point_noise,
}


def add_noise(rng: jax.Array, jl: jnp.ndarray, kind: str,
              scale: float | jnp.ndarray = 1.0, **params) -> jnp.ndarray:
  """Applies the noise model named `kind` (a key of `NOISE_MODELS`).

  Args:
    rng: PRNG key.
    jl: [B, 42, 3] root-relative points (metres).
    kind: 'none', 'uniform', 'authors', 'gaussian' or 'structured'.
    scale: the model's noise scale (scalar or [B, 1, 1]).
    **params: the model's keyword parameters (see its docstring).

  Returns:
    [B, 42, 3] noisy points.
  """
  if kind not in NOISE_MODELS:
    raise ValueError(f'unknown noise model {kind!r}; known: '
                     f'{sorted(NOISE_MODELS)}')
  return NOISE_MODELS[kind](rng, jl, scale, **params)
