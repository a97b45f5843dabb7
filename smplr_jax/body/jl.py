"""JL: SMPLR's 42-point body representation (24 joints + 18 landmarks).

Point order (paper Fig. 3, `docs/paper_facts.md`): 0 is the root (pelvis),
1-23 are the other SMPL joints in SMPL order, 24-41 the 18 surface landmarks.
JL is root-relative and in metres. Every point but the root has a parent
(`JL_PARENTS`, the paper's kinematic tree kappa); the 41 bones
`child - parent` give the networks' inputs:

  * N (Eq. 1), `bone_directions`: 41 unit vectors -> pose network Omega.
  * B (Eq. 2), `shape_features`: 41 bone lengths minus those of the template
    (B*, `template_bone_lengths`) -> shape network Psi.

JL from SMPL parameters has one home, `smpl_points` (`smpl_points_and_root`
also returns the posed root): it skins only the 18 landmark vertices of a
`landmark_points_model`, which is what sampling, training losses and the
dataset builders need; `joints_and_landmarks` picks JL out of a full forward.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from smplr_jax import checks
from smplr_jax.body import body_model as bm
from smplr_jax.body import smpl
from smplr_jax.body.body_model import BodyModel

NUM_JOINTS = 24
NUM_LANDMARKS = 18
NUM_POINTS = NUM_JOINTS + NUM_LANDMARKS  # 42
NUM_BONES = NUM_POINTS - 1  # 41

JOINT_NAMES = (
    'pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee',
    'spine2', 'left_ankle', 'right_ankle', 'spine3', 'left_foot', 'right_foot',
    'neck', 'left_collar', 'right_collar', 'head', 'left_shoulder',
    'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hand', 'right_hand')

# In the order of the authors' landmark vertex ids (docs/paper_facts.md).
LANDMARK_NAMES = (
    'left_chest', 'right_chest', 'lower_belly', 'right_outer_hip',
    'left_outer_hip', 'right_thigh_front', 'left_thigh_front',
    'right_thigh_back', 'left_thigh_back', 'left_toe_tip', 'right_toe_tip',
    'left_hand_tip', 'left_biceps', 'left_triceps', 'right_biceps',
    'right_triceps', 'right_hand_tip', 'face')

POINT_NAMES = JOINT_NAMES + LANDMARK_NAMES

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16,
                17, 18, 19, 20, 21)

# Parents of landmarks 24..41 (docs/paper_facts.md; inferred from the
# authors' template bone lengths B*).
LANDMARK_PARENTS = (9, 9, 0, 0, 0, 2, 1, 29, 30, 10, 11, 22, 16, 36, 17, 38,
                    23, 15)

JL_PARENTS = SMPL_PARENTS + LANDMARK_PARENTS

# Point i of a left-right mirrored body is point LEFT_RIGHT_PERMUTATION[i].
LEFT_RIGHT_PERMUTATION = (
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21,
    20, 23, 22,
    # landmarks: chest L<->R, belly, outer hip R<->L, thigh front, thigh back,
    # toe tips, hand tip L<->R, biceps L<->R, triceps L<->R, face.
    25, 24, 26, 28, 27, 30, 29, 32, 31, 34, 33, 40, 38, 39, 36, 37, 35, 41)



# Squared length (m^2) under which a bone counts as zero length (1 micron).
_TINY_SQUARED_LENGTH = 1e-12

# Median bone length (metres) accepted as a human body's. The default
# templates measure 0.144 (female), 0.154 (neutral), 0.168 m (male), 512
# sampled bodies 0.127-0.185 m; the range leaves room for children and noisy
# points and rejects centimetres and millimetres (x 100, x 1000).
HUMAN_BONE_RANGE = (0.05, 0.6)
# Distance (metres) from the origin beyond which point 0 is not the root:
# root-relative JL hold exactly 0 there, up to rounding.
ROOT_TOLERANCE = 0.01


def joints_and_landmarks(model: BodyModel, vertices: jnp.ndarray,
                         joints: jnp.ndarray) -> jnp.ndarray:
  """Root-relative JL from an SMPL forward's output.

  Args:
    model: the (single or stacked) body model that produced `vertices`; its
      `landmark_vertex_ids` [18] pick the landmarks.
    vertices: [B, V, 3] posed vertices (metres).
    joints: [B, 24, 3] posed joints (metres).

  Returns:
    [B, 42, 3] joints then landmarks, minus the root joint (point 0 is 0).

  Raises:
    ValueError: when the model defines no landmarks or shapes do not match.
  """
  num_landmarks = model.landmark_vertex_ids.shape[-1]
  if num_landmarks == 0:
    raise ValueError(
        'The body model defines no landmark vertices (landmark_vertex_ids is '
        'empty); JL needs 18. Use a model file with a `landmark_vertex_ids` '
        'array, or an SMPL-topology model (6890 vertices), for which the '
        "authors' ids are used.")
  if num_landmarks != NUM_LANDMARKS:
    raise ValueError(f'expected {NUM_LANDMARKS} landmark vertex ids, the model '
                     f'has {num_landmarks}.')
  if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
    raise ValueError(f'joints must be [B, {NUM_JOINTS}, 3], got {joints.shape}.')
  if vertices.ndim != 3 or vertices.shape[-1] != 3:
    raise ValueError(f'vertices must be [B, V, 3], got {vertices.shape}.')
  landmarks = jnp.take(vertices, model.landmark_vertex_ids, axis=1)
  points = jnp.concatenate([joints, landmarks.astype(joints.dtype)], axis=1)
  return points - joints[:, :1]


def bone_vectors(jl: jnp.ndarray) -> jnp.ndarray:
  """Bones as vectors: child minus parent for points 1..41.

  Args:
    jl: [..., 42, 3] points.

  Returns:
    [..., 41, 3] `jl[i] - jl[parent(i)]` for i = 1..41.
  """
  parents = jnp.asarray(JL_PARENTS[1:])
  return jl[..., 1:, :] - jnp.take(jl, parents, axis=-2)


def _safe_norm(vectors: jnp.ndarray):
  """(norm [...], mask [...] of non-degenerate vectors), finite gradients."""
  squared = jnp.sum(vectors * vectors, axis=-1)
  nonzero = squared > _TINY_SQUARED_LENGTH
  # Double `where`: the sqrt never sees 0, so its gradient stays finite.
  norm = jnp.sqrt(jnp.where(nonzero, squared, 1.0))
  return jnp.where(nonzero, norm, 0.0), nonzero


def bone_lengths(jl: jnp.ndarray) -> jnp.ndarray:
  """Bone lengths ||child - parent||.

  Args:
    jl: [..., 42, 3] points (metres).

  Returns:
    [..., 41] lengths (metres); 0 with zero gradient for a zero-length bone.
  """
  return _safe_norm(bone_vectors(jl))[0]


def bone_directions(jl: jnp.ndarray) -> jnp.ndarray:
  """N of Eq. 1: unit bone vectors, the pose network's input.

  Args:
    jl: [..., 42, 3] points.

  Returns:
    [..., 41, 3] unit vectors (child - parent) / ||child - parent||; a
    zero-length bone gives the zero vector (finite values and gradients).
  """
  vectors = bone_vectors(jl)
  norm, nonzero = _safe_norm(vectors)
  safe = jnp.where(nonzero, norm, 1.0)[..., None]
  return jnp.where(nonzero[..., None], vectors / safe, 0.0)


def template_bone_lengths(model: BodyModel) -> jnp.ndarray:
  """B*: bone lengths of the model's rest pose with zero betas.

  At zero pose and betas the SMPL forward returns the template itself (pose
  correctives vanish at the identity), so B* comes straight from the joint
  template and the template's landmark vertices.

  Args:
    model: a body model with landmarks; for a stacked model, its first model.

  Returns:
    [41] lengths (metres).
  """
  joints = model.joint_template
  vertices = model.v_template
  if model.is_stacked:
    joints, vertices = joints[0], vertices[0]
  jl = joints_and_landmarks(model, vertices[None], joints[None])
  return bone_lengths(jl)[0]


def shape_features(jl: jnp.ndarray, template_lengths: jnp.ndarray) -> jnp.ndarray:
  """B of Eq. 2: bone lengths minus the template's, the shape network's input.

  Args:
    jl: [..., 42, 3] points (metres).
    template_lengths: [41] B* (`template_bone_lengths`).

  Returns:
    [..., 41] length differences (metres).
  """
  return bone_lengths(jl) - template_lengths.astype(jl.dtype)


def check_jl(jl, name: str = 'jl', batch: str = 'B') -> None:
  """Raises ValueError unless `jl` is [batch, 42, 3] (`batch` names the
  leading axis in the message)."""
  shape = tuple(np.shape(jl))
  if len(shape) != 3 or shape[1:] != (NUM_POINTS, 3):
    raise ValueError(f'{name} must be [{batch}, {NUM_POINTS}, 3] (24 joints + '
                     f'18 landmarks, xyz in metres), got {shape}')


def check_jl_values(jl, name: str = 'jl') -> None:
  """Raises ValueError unless `jl` looks like root-relative metres.

  For JL from outside (predictors, files): NaN/Inf, millimetres or a root
  off the origin would otherwise give a confident wrong body (millimetres
  gave betas of -6,170). Host-side numpy; not for use under `jit`.

  Args:
    jl: [B, 42, 3] points.
    name: the array's name in messages.

  Raises:
    ValueError: naming the first bad example: NaN/Inf, a median bone length
      outside `HUMAN_BONE_RANGE` (with the unit it suggests), or point 0
      farther than `ROOT_TOLERANCE` from the origin.
  """
  check_jl(jl, name)
  points = np.asarray(jl, np.float64)
  checks.check_finite(points, name)
  if not len(points):
    return
  bones = points[:, 1:] - points[:, JL_PARENTS[1:]]
  median = np.median(np.linalg.norm(bones, axis=-1), axis=-1)
  low, high = HUMAN_BONE_RANGE
  bad = (median < low) | (median > high)
  if bad.any():
    i = int(np.argmax(bad))
    where = checks.first_bad(bad, name)
    scale = f'median bone length {median[i]:.4g}'
    human = f'a body in metres has {low}-{high}'
    if 1000 * low <= median[i] <= 1000 * high:
      advice = f'look like millimetres: {scale} ({human}); divide by 1000.'
    elif 100 * low <= median[i] <= 100 * high:
      advice = f'look like centimetres: {scale} ({human}); divide by 100.'
    else:
      advice = (f'are not a human body in metres: {scale} ({human}); JL '
                'must be root-relative metres.')
    raise ValueError(f'{where}: JL {advice}')
  distance = np.linalg.norm(points[:, 0], axis=-1)
  bad = distance > ROOT_TOLERANCE
  if bad.any():
    i = int(np.argmax(bad))
    root = ', '.join(f'{v:.3f}' for v in points[i, 0])
    raise ValueError(
        f'{checks.first_bad(bad, name)}: the root (point 0) is at ({root}), '
        f'{distance[i]:.3f} m from the origin; JL must be root-relative: '
        f'subtract {name}[:, :1].')


def landmark_points_model(model: BodyModel) -> BodyModel:
  """The model (single or stacked) restricted to its 18 landmark vertices.

  Its forward pass yields the 24 joints and the 18 landmarks, i.e. JL,
  without skinning the rest of the mesh.
  """
  if model.landmark_vertex_ids.shape[-1] != NUM_LANDMARKS:
    raise ValueError('the body model defines no (or not 18) landmark '
                     'vertices; JL needs 18.')
  return bm.select_vertices(model, model.landmark_vertex_ids)


def smpl_points_and_root(points_model: BodyModel, pose: jnp.ndarray,
                         betas: jnp.ndarray,
                         gender: jnp.ndarray | None = None):
  """Root-relative JL of SMPL parameters and the posed root joint.

  Args:
    points_model: `landmark_points_model(model)` (single or stacked).
    pose: [B, 24, 3] axis-angle or [B, 24, 3, 3] relative rotations.
    betas: [B, S] shape coefficients.
    gender: [B] int model index when `points_model` is stacked (0 female,
      1 male for the project's [female, male] model).

  Returns:
    (jl [B, 42, 3] joints and landmarks minus the root joint, root [B, 3]
    the posed root joint, no translation), metres.
  """
  out = smpl.smpl_forward(points_model, pose, betas, gender=gender,
                          chunk_size=0)
  points = jnp.concatenate([out.joints, out.vertices], axis=1)
  return points - out.joints[:, :1], out.joints[:, 0]


def smpl_points(points_model: BodyModel, pose: jnp.ndarray,
                betas: jnp.ndarray,
                gender: jnp.ndarray | None = None) -> jnp.ndarray:
  """Root-relative JL [B, 42, 3] of SMPL parameters (`smpl_points_and_root`
  without the root)."""
  return smpl_points_and_root(points_model, pose, betas, gender)[0]
