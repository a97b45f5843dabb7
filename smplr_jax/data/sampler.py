r"""Synthetic SMPL bodies without motion capture: poses within joint limits.

Each of the 23 body joints is posed by three intrinsic Euler angles drawn
uniformly inside anatomical ranges of motion (`smplr_jax.body.limits`); the
global orientation is a uniform yaw times a small pitch and roll; betas are
Gaussian and clipped; the gender is a fair coin. `sample_bodies` runs the SMPL forward
on a stacked [female, male] model and returns root-relative JL and meshes,
`sample_jl` only the 42 points (18 landmark vertices skinned, not the mesh).

Distribution
------------
Uniform Euler angles inside the box, then, for half of the samples (chosen
per sample), all 23 body-joint angles are multiplied by one scale u ~ U(0, 1)
so that poses near the rest pose are common too (every range contains 0, so
scaled poses stay within the limits). Global orientation: yaw ~ U(-180, 180)
about y, pitch (about x) and roll (about z) ~ U(-20, 20), composed as
R_y(yaw) R_x(pitch) R_z(roll) in the body frame (y up).

Frame of the samples
--------------------
By default (`frame='camera'`) bodies are returned as a camera sees them, in
the project's one frame for every stage (`smplr_jax.data.records`: OpenCV camera
frame, x right, y down, z forward): the body-frame orientation above is
viewed by `camera_view`, a camera in front of the body raised by an
elevation ~ U(-10, 30) degrees (the renderer's range) and rolled in-plane
by ~ U(-30, 30) degrees (the image augmentation's rotation range). SMPLR and
the DAE are trained on these, so they take camera-frame JL from the image
network as they are. `frame='body'` returns the body-frame orientation (the
renderer applies its own camera).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered, limits, rotations
from smplr_jax.body import jl as jl_lib
from smplr_jax.body.gendered import FEMALE, MALE  # noqa: F401 (re-exported)

# The camera of `frame='camera'` samples (degrees): the renderer's
# elevation range (`synthetic.SyntheticConfig`) and the augmentation's
# in-plane rotation range (`augment.augment_config().rotation`).
CAMERA_ELEVATION_RANGE_DEG = (-10.0, 30.0)
CAMERA_ROLL_RANGE_DEG = (-30.0, 30.0)
FRAMES = ('camera', 'body')
# Stream constant folded into a sample's key for its camera view, so that the
# body-frame draws do not depend on the frame.
CAMERA_VIEW_STREAM = 0xCA3

# Fraction of samples whose body pose is scaled toward the rest pose.
REST_MIXTURE_PROBABILITY = 0.5

# Stream constant folded into the test-set seed, so that the held-out set never
# shares keys with training or validation streams drawn from the same seed.
TEST_SET_STREAM = 0x7E57
TEST_SET_CHUNK = 256  # bodies generated per jitted call of make_test_set


# ----------------------------------------------------------------------------
# Sampling.


def sample_euler_angles(key: jax.Array, batch: int,
                        dtype=jnp.float32) -> jnp.ndarray:
  """Per-axis Euler angles of all 24 joints, within the limits.

  Args:
    key: PRNG key.
    batch: number of poses (static).
    dtype: floating dtype.

  Returns:
    [B, 24, 3] angles (radians) about x, y, z of each joint, to be composed
    in `limits.JOINT_EULER_ORDERS`; joint 0 is the global orientation.
  """
  radians = np.deg2rad(limits.joint_limits_degrees())
  lower = jnp.asarray(radians[..., 0], dtype)
  upper = jnp.asarray(radians[..., 1], dtype)
  angle_key, mix_key, scale_key = jax.random.split(key, 3)
  unit = jax.random.uniform(angle_key, (batch, jl_lib.NUM_JOINTS, 3), dtype)
  angles = lower + unit * (upper - lower)
  near_rest = jax.random.bernoulli(mix_key, REST_MIXTURE_PROBABILITY, (batch,))
  scale = jnp.where(near_rest, jax.random.uniform(scale_key, (batch,), dtype),
                    1.0)
  body_scale = jnp.concatenate(
      [jnp.ones((batch, 1), dtype),
       jnp.broadcast_to(scale[:, None], (batch, jl_lib.NUM_JOINTS - 1))],
      axis=1)
  return angles * body_scale[..., None]


def _order_axes_table() -> np.ndarray:
  return np.asarray([rotations.order_axes(o)
                     for o in limits.JOINT_EULER_ORDERS], np.int32)


def _sample_pose_quaternions(key: jax.Array, batch: int,
                             dtype=jnp.float32) -> jnp.ndarray:
  """[B, 24, 4] relative joint rotations as unit quaternions."""
  return rotations.euler_to_quaternion(sample_euler_angles(key, batch, dtype),
                              _order_axes_table())


def sample_pose(key: jax.Array, batch: int, dtype=jnp.float32) -> jnp.ndarray:
  """Random SMPL poses within the joint limits (see the module docstring).

  Args:
    key: PRNG key.
    batch: number of poses (static).
    dtype: floating dtype.

  Returns:
    [B, 24, 3] axis-angle relative rotations; joint 0 is the global
    orientation.
  """
  return rotations.quaternion_to_axis_angle(
      _sample_pose_quaternions(key, batch, dtype))


def body_to_camera(elevation: jnp.ndarray) -> jnp.ndarray:
  """[B] elevation (rad) -> [B, 3, 3] rotation from the body frame (y up,
  z forward) to the camera frame (y down, z forward) of a camera in front of
  the body (on its +z side) raised by `elevation`, looking down along its
  tilted optical axis. Elevation 0: diag(1, -1, -1)."""
  c, s = jnp.cos(elevation), jnp.sin(elevation)
  one, zero = jnp.ones_like(c), jnp.zeros_like(c)
  return jnp.stack([
      jnp.stack([one, zero, zero], -1),
      jnp.stack([zero, -c, s], -1),
      jnp.stack([zero, -s, -c], -1)], -2)


def camera_view(key: jax.Array, batch: int, dtype=jnp.float32) -> jnp.ndarray:
  """[B, 3, 3] random views R_z(roll) body_to_camera(elevation): elevation
  ~ U(CAMERA_ELEVATION_RANGE_DEG), in-plane roll ~ U(CAMERA_ROLL_RANGE_DEG).
  A body-frame global orientation G is seen as `view @ G`."""
  elevation_key, roll_key = jax.random.split(key)
  elevation = jnp.deg2rad(jax.random.uniform(
      elevation_key, (batch,), dtype, *CAMERA_ELEVATION_RANGE_DEG))
  roll = jnp.deg2rad(jax.random.uniform(roll_key, (batch,), dtype,
                                        *CAMERA_ROLL_RANGE_DEG))
  c, s = jnp.cos(roll), jnp.sin(roll)
  one, zero = jnp.ones_like(c), jnp.zeros_like(c)
  in_plane = jnp.stack([jnp.stack([c, -s, zero], -1),
                        jnp.stack([s, c, zero], -1),
                        jnp.stack([zero, zero, one], -1)], -2)
  return in_plane @ body_to_camera(elevation)


def _check_frame(frame: str) -> None:
  if frame not in FRAMES:
    raise ValueError(f'unknown frame {frame!r}; choose one of {FRAMES}.')


def _sample_shape_and_gender(key: jax.Array, batch: int, num_betas: int,
                             beta_std: float, beta_clip: float, dtype):
  gender_key, beta_key = jax.random.split(key)
  gender = jax.random.bernoulli(gender_key, 0.5, (batch,)).astype(jnp.int32)
  betas = jnp.clip(beta_std * jax.random.normal(beta_key, (batch, num_betas),
                                                dtype), -beta_clip, beta_clip)
  return betas, gender


def _sample_quaternions_betas_gender(key, batch, num_betas, beta_std,
                                     beta_clip, dtype):
  shape_key, pose_key = jax.random.split(key)
  betas, gender = _sample_shape_and_gender(shape_key, batch, num_betas,
                                           beta_std, beta_clip, dtype)
  return _sample_pose_quaternions(pose_key, batch, dtype), betas, gender


def sample_parameters(key: jax.Array, batch: int, num_betas: int = 10,
                      beta_std: float = 1.0, beta_clip: float = 3.0,
                      dtype=jnp.float32, frame: str = 'camera'):
  """Random SMPL parameters: pose, betas and gender.

  Args:
    key: PRNG key.
    batch: number of bodies (static).
    num_betas: number of shape coefficients.
    beta_std: standard deviation of the Gaussian betas.
    beta_clip: betas are clipped to [-beta_clip, beta_clip].
    dtype: floating dtype.
    frame: 'camera' (the global orientation as a random camera sees it, see
      the module docstring) or 'body' (y up). The body-frame draws are the
      same for both.

  Returns:
    (pose [B, 24, 3, 3] relative rotation matrices (joint 0: global
    orientation), betas [B, num_betas], gender [B] int32 with 0 female /
    1 male, each with probability 1/2). `sample_bodies(key, ...)` and
    `sample_jl(key, ...)` use exactly these parameters.
  """
  _check_frame(frame)
  quaternions, betas, gender = _sample_quaternions_betas_gender(
      key, batch, num_betas, beta_std, beta_clip, dtype)
  pose = rotations.quaternion_to_matrix(quaternions)
  if frame == 'camera':
    view = camera_view(jax.random.fold_in(key, CAMERA_VIEW_STREAM), batch,
                       dtype)
    pose = pose.at[:, 0].set(view @ pose[:, 0])
  return pose, betas, gender


def _check_gendered(models: bm.BodyModel) -> None:
  # [female, male] or [female, male, neutral]: the draws are 0 or 1.
  if not models.is_stacked or models.v_template.shape[0] not in (2, 3):
    raise ValueError('expected a stacked [female, male] model '
                     '(gendered.load_gendered_models or stack_body_models('
                     '[female, male])), got one with v_template '
                     f'{models.v_template.shape}.')


def sample_bodies(key: jax.Array, models: bm.BodyModel, batch: int,
                  num_betas: int = 10, beta_std: float = 1.0,
                  beta_clip: float = 3.0,
                  with_vertices: bool = True,
                  frame: str = 'camera') -> dict[str, jnp.ndarray]:
  """Random posed and shaped bodies, full meshes included.

  Deterministic per key; jit with `batch` (and the floats) static.

  Args:
    key: PRNG key.
    models: stacked [female, male] `BodyModel` (`load_gendered_models`).
    batch: number of bodies (static).
    num_betas: number of shape coefficients (<= models.num_betas).
    beta_std: standard deviation of the Gaussian betas.
    beta_clip: betas are clipped to [-beta_clip, beta_clip].
    with_vertices: False skips the mesh (then this is `sample_jl`).
    frame: 'camera' or 'body' (see `sample_parameters`).

  Returns:
    dict with jl [B, 42, 3] (root-relative, metres), vertices [B, V, 3]
    (minus the same root joint; only `with_vertices`), pose [B, 24, 3, 3] relative rotation
    matrices (joint 0: global orientation), betas [B, num_betas], gender [B]
    int32 (0 female, 1 male). The parameters equal `sample_parameters(key,
    ...)` (pose as matrices).
  """
  if not with_vertices:
    return sample_jl(key, models, batch, num_betas, beta_std, beta_clip,
                     frame)
  _check_gendered(models)
  rotations, betas, gender = sample_parameters(
      key, batch, num_betas, beta_std, beta_clip, models.v_template.dtype,
      frame)
  posed = gendered.posed_body(models, rotations, betas, gender)
  return dict(jl=posed['jl'], vertices=posed['vertices'], pose=rotations,
              betas=betas, gender=gender)


def sample_jl(key: jax.Array, models: bm.BodyModel, batch: int,
              num_betas: int = 10, beta_std: float = 1.0,
              beta_clip: float = 3.0,
              frame: str = 'camera') -> dict[str, jnp.ndarray]:
  """`sample_bodies` without meshes: only the 42 points are computed.

  Same key, same bodies as `sample_bodies` (up to float rounding).
  The SMPL forward skins only the 18 landmark vertices.

  Args:
    key: PRNG key.
    models: stacked [female, male] `BodyModel`, full or already restricted by
      `landmark_points_model` (faster when the caller keeps it).
    batch: number of bodies (static).
    num_betas, beta_std, beta_clip, frame: as in `sample_bodies`.

  Returns:
    dict with jl [B, 42, 3], pose [B, 24, 3, 3], betas [B, num_betas] and
    gender [B] int32.
  """
  _check_gendered(models)
  if models.num_vertices != jl_lib.NUM_LANDMARKS or models.faces.shape[0]:
    models = jl_lib.landmark_points_model(models)
  rotations, betas, gender = sample_parameters(
      key, batch, num_betas, beta_std, beta_clip, models.v_template.dtype,
      frame)
  jl = jl_lib.smpl_points(models, rotations, betas, gender)
  return dict(jl=jl, pose=rotations, betas=betas, gender=gender)


# Compiled once per process (per model shapes), not per make_test_set call.
_jitted_sample_bodies = jax.jit(sample_bodies, static_argnums=(2, 3),
                                static_argnames='frame')
_jitted_sample_jl = jax.jit(sample_jl, static_argnums=(2, 3),
                            static_argnames='frame')


def make_test_set(models: bm.BodyModel, size: int = 2048, seed: int = 0,
                  num_betas: int = 10,
                  include_vertices: bool = False,
                  frame: str = 'camera') -> dict[str, np.ndarray]:
  """A fixed, seeded held-out set of bodies (numpy arrays on the host).

  Keys: `fold_in(PRNGKey(seed), TEST_SET_STREAM)`, then `fold_in(., i)` for
  the i-th chunk of `TEST_SET_CHUNK` bodies, so the set shares no keys with
  training or validation streams drawn from `PRNGKey(seed)` directly, and a
  smaller set is a prefix of a larger one.

  Args:
    models: stacked [female, male] `BodyModel`.
    size: number of bodies.
    seed: seed of the set.
    num_betas: number of shape coefficients.
    include_vertices: also return the root-relative meshes; they take
      size * V * 12 bytes (0.34 GB for 2048 bodies of a 13.7K-vertex model)
      and are cheap to recompute from the parameters, hence off by default.
    frame: 'camera' (default) or 'body' (see `sample_parameters`).

  Returns:
    dict of numpy arrays: jl [N, 42, 3], pose [N, 24, 3, 3], betas
    [N, num_betas], gender [N] int32, and vertices [N, V, 3] when
    `include_vertices`.
  """
  key = jax.random.fold_in(jax.random.PRNGKey(seed), TEST_SET_STREAM)
  if include_vertices:
    sample = _jitted_sample_bodies
  else:
    sample = _jitted_sample_jl
    models = jl_lib.landmark_points_model(models)
  chunks = [jax.device_get(sample(jax.random.fold_in(key, i), models,
                                  TEST_SET_CHUNK, num_betas, frame=frame))
            for i in range(-(-size // TEST_SET_CHUNK))]
  return {k: np.concatenate([c[k] for c in chunks])[:size] for k in chunks[0]}
