r"""Keypoint sets of other detectors, defined on the default body.

SMPLR recovers a body from points alone, whatever produced them; this module
says what the points of three common detectors are on our body, so that an
adapter network (`smplr_jax.nets.adapter`) can map them to JL:

| set | points | given as |
|---|---|---|
| `COCO17` | COCO's 17 (face, limbs) | 2D pixels |
| `H36M17` | Human3.6M's 17 (pelvis, spine, thorax, head, limbs) | 3D metres |
| `BLAZEPOSE33` | BlazePose GHUM's 33 (face, limbs, hands, feet) | 3D, 2D |

(BlazePose gives 3D world landmarks in metres and 2D image landmarks.)

Each keypoint is a weighted sum of SMPL joints and surface vertices of the
default body (`KeypointSet.sources`). The vertices are found geometrically
on the neutral rest mesh (T-pose; x to the body's left, y up, z forward) by
`SURFACE_RULES`: inside a small box placed at an offset from a joint, the
vertex farthest along one axis (the nose: the most forward vertex near the
head's midline; an ear: the most lateral vertex beside the head; a knuckle:
the highest vertex above the hand joint, palms down). Right-side rules are
the left ones mirrored. `find_surface_vertices` applies the rules; the
default body's ids are stored in `DEFAULT_VERTEX_IDS` (a test checks that
the rules still give them). `python -m experiments.adapter.draw_keypoints`
draws every set on the body (docs/keypoints.png).

Joints stand in where a detector's point is a joint centre (shoulders,
elbows, wrists, hips, knees, ankles): COCO and BlazePose annotate hips a
little lower and wider than SMPL's hip joints; the adapters are trained with
noise that covers such offsets.

Frames. Every array here is in the project's camera frame (x right, y
down, z forward, metres) until it is normalised for an adapter:

  * 3D sets (`dims=3`): points minus their hip midpoint (`centre_ids`),
    metres: BlazePose's world landmarks already have this origin.
  * 2D sets (`dims=2`): pixels, turned into a virtual camera looking at the
    hip midpoint (`virtual_camera`: rays rotated so that the hip midpoint is
    on the optical axis, the paper's root-centred view), centred there and
    divided by their RMS distance from it (`normalise_2d`), so the focal
    length and the body's distance drop out.

Training data (`smpl_keypoints`, `detector_noise`, `project_centred`) come
from the sampler's camera-frame bodies; missing points carry visibility 0
and are zeroed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import body_model as bm
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import smpl
from smplr_jax.body.body_model import BodyModel

JOINT_IDS = {name: i for i, name in enumerate(jl_lib.JOINT_NAMES)}


@dataclasses.dataclass(frozen=True)
class SurfaceRule:
  """A surface point of the rest mesh, relative to a joint.

  Among the vertices whose two other coordinates lie within `half_width` of
  `joint + offset`, the one farthest along `sign * axis`.

  Attributes:
    joint: SMPL joint name (`jl.JOINT_NAMES`).
    axis: 0, 1 or 2 (x left, y up, z forward in the rest frame).
    sign: +1 or -1.
    offset: [3] offset from the joint (metres; the `axis` entry is unused).
    half_width: [3] box half-widths (metres; the `axis` entry is unused).
  """
  joint: str
  axis: int
  sign: int
  offset: tuple[float, float, float]
  half_width: tuple[float, float, float]

  def mirrored(self) -> SurfaceRule:
    """The rule of the other side (x negated, left <-> right)."""
    joint = _mirror_name(self.joint)
    sign = -self.sign if self.axis == 0 else self.sign
    x, y, z = self.offset
    return SurfaceRule(joint, self.axis, sign, (-x, y, z), self.half_width)


def _mirror_name(name: str) -> str:
  if name.startswith('left_'):
    return 'right_' + name[len('left_'):]
  if name.startswith('right_'):
    return 'left_' + name[len('right_'):]
  return name


# Left-side and central surface points (offsets measured on the neutral
# rest mesh, docs/keypoints.png). Eyes, mouth corners: on the face's front;
# ears: the most lateral point at the ear's centre; knuckles: the back of the
# hand (palms down); heel: the back of the foot; foot index: the toe tip.
_LEFT_AND_CENTRAL_RULES = {
    'nose': SurfaceRule('head', 2, 1, (0.0, 0.0, 0.0), (0.004, 0.05, 0.0)),
    'head_top': SurfaceRule('head', 1, 1, (0.0, 0.0, 0.0),
                            (0.01, 0.0, 0.03)),
    'left_eye': SurfaceRule('head', 2, 1, (0.032, 0.043, 0.0),
                            (0.004, 0.004, 0.0)),
    'left_eye_inner': SurfaceRule('head', 2, 1, (0.018, 0.043, 0.0),
                                  (0.003, 0.003, 0.0)),
    'left_eye_outer': SurfaceRule('head', 2, 1, (0.047, 0.043, 0.0),
                                  (0.003, 0.003, 0.0)),
    'left_ear': SurfaceRule('head', 0, 1, (0.0, 0.023, -0.005),
                            (0.0, 0.006, 0.006)),
    'left_mouth': SurfaceRule('head', 2, 1, (0.024, -0.032, 0.0),
                              (0.003, 0.003, 0.0)),
    'left_index': SurfaceRule('left_hand', 1, 1, (0.02, 0.0, 0.028),
                              (0.006, 0.0, 0.006)),
    'left_pinky': SurfaceRule('left_hand', 1, 1, (0.0, 0.0, -0.042),
                              (0.006, 0.0, 0.006)),
    'left_thumb': SurfaceRule('left_hand', 1, 1, (-0.02, 0.0, 0.06),
                              (0.006, 0.0, 0.006)),
    'left_heel': SurfaceRule('left_ankle', 2, -1, (0.0, -0.05, 0.0),
                             (0.01, 0.01, 0.0)),
    'left_foot_index': SurfaceRule('left_foot', 2, 1, (0.0, -0.01, 0.0),
                                   (0.02, 0.02, 0.0)),
}


def _all_rules() -> dict[str, SurfaceRule]:
  rules = {}
  for name, rule in _LEFT_AND_CENTRAL_RULES.items():
    rules[name] = rule
    if name.startswith('left_'):
      rules[_mirror_name(name)] = rule.mirrored()
  return rules


# name -> rule, both sides.
SURFACE_RULES = _all_rules()

# `find_surface_vertices` on the default body's neutral template (13,718
# vertices); checked by tests/test_keypoints.py.
DEFAULT_VERTEX_IDS = {
    'nose': 5038, 'head_top': 881, 'left_eye': 6771, 'right_eye': 3,
    'left_eye_inner': 6863, 'right_eye_inner': 95, 'left_eye_outer': 6850,
    'right_eye_outer': 82, 'left_ear': 12163, 'right_ear': 5582,
    'left_mouth': 7149, 'right_mouth': 405, 'left_index': 9439,
    'right_index': 2787, 'left_pinky': 9122, 'right_pinky': 2470,
    'left_thumb': 9307, 'right_thumb': 2655, 'left_heel': 12421,
    'right_heel': 5840, 'left_foot_index': 13101, 'right_foot_index': 6521,
}
DEFAULT_NUM_VERTICES = 13_718


def find_surface_vertices(vertices: np.ndarray, joints: np.ndarray,
                          rules: Mapping[str, SurfaceRule] | None = None
                          ) -> dict[str, int]:
  """Applies surface rules to a rest mesh.

  Args:
    vertices: [V, 3] rest vertices (T-pose, x left, y up, z forward).
    joints: [24, 3] rest joints.
    rules: name -> `SurfaceRule` (default `SURFACE_RULES`).

  Returns:
    name -> vertex id.

  Raises:
    ValueError: a rule's box holds no vertex (not a human rest mesh).
  """
  vertices = np.asarray(vertices, np.float64)
  joints = np.asarray(joints, np.float64)
  ids = {}
  for name, rule in (rules or SURFACE_RULES).items():
    centre = joints[JOINT_IDS[rule.joint]] + np.asarray(rule.offset)
    others = [a for a in range(3) if a != rule.axis]
    inside = np.all(np.abs(vertices[:, others] - centre[others]) <=
                    np.asarray(rule.half_width)[others], axis=1)
    if not inside.any():
      raise ValueError(f'surface point {name!r}: no vertex within '
                       f'{rule.half_width} m of {centre.round(3)}; the rules '
                       'expect an SMPL-layout human in the T-pose, metres.')
    candidates = np.flatnonzero(inside)
    ids[name] = int(candidates[np.argmax(
        rule.sign * vertices[candidates, rule.axis])])
  return ids


# ----------------------------------------------------------------------------
# Keypoint sets.

# A source is an SMPL joint name (`jl.JOINT_NAMES`) or a surface point name
# (`SURFACE_RULES`); a keypoint is a weighted sum of sources.
Sources = tuple[tuple[str, float], ...]

# How far from the trunk a joint is: the detector noise grows with it.
_DISTAL_LEVEL = {
    'knee': 2, 'elbow': 2, 'ankle': 3, 'wrist': 3, 'foot': 4, 'hand': 4,
}


@dataclasses.dataclass(frozen=True)
class KeypointSet:
  """A detector's keypoints as points of the default body.

  Attributes:
    name: short name ('coco17', 'h36m17', 'blazepose33').
    names: [K] keypoint names, in the detector's order.
    sources: [K] weighted sums of joints / surface points (`Sources`).
    centre_ids: keypoints whose mean is the origin of centred points (the
      hips; they must be visible).
    description: one line for tables.
  """
  name: str
  names: tuple[str, ...]
  sources: tuple[Sources, ...]
  centre_ids: tuple[int, ...]
  description: str

  @property
  def num_keypoints(self) -> int:
    return len(self.names)

  @property
  def vertex_names(self) -> tuple[str, ...]:
    """Surface points used by the set, in first-use order."""
    seen = []
    for sources in self.sources:
      for source, _ in sources:
        if source not in JOINT_IDS and source not in seen:
          seen.append(source)
    return tuple(seen)

  def weights(self) -> np.ndarray:
    """[K, 24 + M] weights over [joints; `vertex_names` vertices]."""
    columns = {n: i for i, n in enumerate(jl_lib.JOINT_NAMES)}
    columns.update({n: jl_lib.NUM_JOINTS + i
                    for i, n in enumerate(self.vertex_names)})
    weights = np.zeros((self.num_keypoints, len(columns)), np.float32)
    for k, sources in enumerate(self.sources):
      for source, weight in sources:
        weights[k, columns[source]] += weight
    return weights

  def left_right_permutation(self) -> tuple[int, ...]:
    """Keypoint i of a mirrored body is keypoint perm[i]."""
    index = {n: i for i, n in enumerate(self.names)}
    return tuple(index[_mirror_name(n)] for n in self.names)

  def distal_levels(self) -> np.ndarray:
    """[K] 1 (trunk, head) .. 4 (hands, feet): scales the detector noise."""
    levels = []
    for sources in self.sources:
      level = 1
      for source, _ in sources:
        joint = SURFACE_RULES[source].joint if source in SURFACE_RULES else (
            source)
        part = joint.split('_')[-1]
        level = max(level, _DISTAL_LEVEL.get(part, 1))
      levels.append(level)
    return np.asarray(levels, np.float32)

  def limb_ids(self, limb: str) -> np.ndarray:
    """[K] bool: keypoints on the arms ('arm': shoulder and beyond) or legs
    ('leg': knee and beyond) of either side."""
    parts = {'arm': ('shoulder', 'elbow', 'wrist', 'hand', 'index', 'pinky',
                     'thumb'),
             'leg': ('knee', 'ankle', 'foot', 'heel')}[limb]
    return np.asarray([n.startswith(('left_', 'right_')) and
                       any(p in n for p in parts) for n in self.names])


def _same(*names: str) -> tuple[Sources, ...]:
  return tuple(((n, 1.0),) for n in names)


COCO17 = KeypointSet(
    name='coco17',
    names=('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
           'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
           'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
           'right_knee', 'left_ankle', 'right_ankle'),
    sources=_same('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                  'left_shoulder', 'right_shoulder', 'left_elbow',
                  'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
                  'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                  'right_ankle'),
    centre_ids=(11, 12),
    description='COCO keypoints (17): face points on the surface, limb '
    'points at SMPL joints')

H36M17 = KeypointSet(
    name='h36m17',
    names=('pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
           'left_knee', 'left_ankle', 'spine', 'thorax', 'neck_nose', 'head',
           'left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder',
           'right_elbow', 'right_wrist'),
    sources=(
        *_same('pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
               'left_knee', 'left_ankle'),
        (('pelvis', 0.5), ('neck', 0.5)),  # spine: mid-torso
        (('neck', 1.0),),  # thorax: base of the neck
        (('head', 0.5), ('nose', 0.5)),  # neck/nose
        (('head_top', 1.0),),  # head: top of the skull
        *_same('left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder',
               'right_elbow', 'right_wrist')),
    centre_ids=(1, 4),
    description='Human3.6M joints (17): SMPL joints, mid-torso spine, '
    'nose and head-top surface points')

BLAZEPOSE33 = KeypointSet(
    name='blazepose33',
    names=('nose', 'left_eye_inner', 'left_eye', 'left_eye_outer',
           'right_eye_inner', 'right_eye', 'right_eye_outer', 'left_ear',
           'right_ear', 'left_mouth', 'right_mouth', 'left_shoulder',
           'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
           'right_wrist', 'left_pinky', 'right_pinky', 'left_index',
           'right_index', 'left_thumb', 'right_thumb', 'left_hip',
           'right_hip', 'left_knee', 'right_knee', 'left_ankle',
           'right_ankle', 'left_heel', 'right_heel', 'left_foot_index',
           'right_foot_index'),
    sources=_same('nose', 'left_eye_inner', 'left_eye', 'left_eye_outer',
                  'right_eye_inner', 'right_eye', 'right_eye_outer',
                  'left_ear', 'right_ear', 'left_mouth', 'right_mouth',
                  'left_shoulder', 'right_shoulder', 'left_elbow',
                  'right_elbow', 'left_wrist', 'right_wrist', 'left_pinky',
                  'right_pinky', 'left_index', 'right_index', 'left_thumb',
                  'right_thumb', 'left_hip', 'right_hip', 'left_knee',
                  'right_knee', 'left_ankle', 'right_ankle', 'left_heel',
                  'right_heel', 'left_foot_index', 'right_foot_index'),
    centre_ids=(23, 24),
    description='BlazePose GHUM landmarks (33): face, hand and foot points '
    'on the surface, limb points at SMPL joints')

KEYPOINT_SETS = {s.name: s for s in (COCO17, H36M17, BLAZEPOSE33)}

# The 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles) as
# SMPL joint ids, for comparisons across sets.
LIMB_JOINT_NAMES = ('left_shoulder', 'right_shoulder', 'left_elbow',
                    'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
                    'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                    'right_ankle')


def get_set(name: str) -> KeypointSet:
  """The keypoint set called `name` (a key of `KEYPOINT_SETS`)."""
  if name not in KEYPOINT_SETS:
    raise ValueError(f'unknown keypoint set {name!r}; known: '
                     f'{", ".join(KEYPOINT_SETS)}.')
  return KEYPOINT_SETS[name]


def limb_ids(keypoint_set: KeypointSet) -> np.ndarray:
  """[12] indices of `LIMB_JOINT_NAMES` in the set."""
  return np.asarray([keypoint_set.names.index(n) for n in LIMB_JOINT_NAMES])


# ----------------------------------------------------------------------------
# Keypoints of SMPL bodies.


def vertex_ids(keypoint_set: KeypointSet, model: BodyModel) -> np.ndarray:
  """[M] vertex ids of the set's surface points on `model`.

  The stored default-body ids for a 13,718-vertex model; otherwise the
  surface rules on the model's (first) rest mesh.
  """
  names = keypoint_set.vertex_names
  if model.num_vertices == DEFAULT_NUM_VERTICES:
    return np.asarray([DEFAULT_VERTEX_IDS[n] for n in names], np.int32)
  v, j = np.asarray(model.v_template), np.asarray(model.joint_template)
  if model.is_stacked:
    v, j = v[0], j[0]
  found = find_surface_vertices(v, j, {n: SURFACE_RULES[n] for n in names})
  return np.asarray([found[n] for n in names], np.int32)


def keypoints_model(model: BodyModel,
                    keypoint_set: KeypointSet) -> BodyModel:
  """`model` restricted to the 18 JL landmarks then the set's M surface
  vertices: `smpl_keypoints` skins only those."""
  ids = np.concatenate([np.asarray(model.landmark_vertex_ids),
                        vertex_ids(keypoint_set, model)])
  return bm.select_vertices(model, ids)


def keypoints_from_points(keypoint_set: KeypointSet, joints: jnp.ndarray,
                          surface: jnp.ndarray) -> jnp.ndarray:
  """Keypoints as weighted sums of joints and surface points.

  Args:
    keypoint_set: the set.
    joints: [B, 24, 3] joints.
    surface: [B, M, 3] the set's surface vertices (`vertex_ids` order).

  Returns:
    [B, K, 3] keypoints, in the frame of the inputs.
  """
  weights = jnp.asarray(keypoint_set.weights(), joints.dtype)
  points = jnp.concatenate([joints, surface.astype(joints.dtype)], axis=1)
  return jnp.einsum('ks,bsc->bkc', weights, points)


def keypoints_from_mesh(keypoint_set: KeypointSet, model: BodyModel,
                        joints: jnp.ndarray,
                        vertices: jnp.ndarray) -> jnp.ndarray:
  """[B, K, 3] keypoints of full SMPL outputs (joints [B, 24, 3], vertices
  [B, V, 3] of `model`'s topology), in their frame."""
  surface = jnp.take(vertices, jnp.asarray(vertex_ids(keypoint_set, model)),
                     axis=1)
  return keypoints_from_points(keypoint_set, joints, surface)


def smpl_keypoints(points_model: BodyModel, keypoint_set: KeypointSet,
                   pose: jnp.ndarray, betas: jnp.ndarray,
                   gender: jnp.ndarray | None = None):
  """JL and keypoints of SMPL parameters, both root-relative.

  Args:
    points_model: `keypoints_model(model, keypoint_set)` (single or stacked).
    keypoint_set: the set.
    pose: [B, 24, 3, 3] relative rotations (or [B, 24, 3] axis-angle).
    betas: [B, S].
    gender: [B] int, for a stacked model.

  Returns:
    (jl [B, 42, 3], keypoints [B, K, 3]), minus the root joint, metres, in
    the frame of the global orientation.
  """
  out = smpl.smpl_forward(points_model, pose, betas, gender=gender,
                          chunk_size=0)
  root = out.joints[:, :1]
  landmarks = out.vertices[:, :jl_lib.NUM_LANDMARKS]
  jl = jnp.concatenate([out.joints, landmarks], axis=1) - root
  keypoints = keypoints_from_points(
      keypoint_set, out.joints, out.vertices[:, jl_lib.NUM_LANDMARKS:])
  return jl, keypoints - root


# ----------------------------------------------------------------------------
# Normalisation for the adapters.


def hip_centre(points: jnp.ndarray, keypoint_set: KeypointSet) -> jnp.ndarray:
  """[B, 1, D] mean of the set's `centre_ids` points [B, K, D]."""
  ids = jnp.asarray(keypoint_set.centre_ids)
  return jnp.take(points, ids, axis=1).mean(axis=1, keepdims=True)


def centre_3d(points: jnp.ndarray, visible: jnp.ndarray,
              keypoint_set: KeypointSet) -> jnp.ndarray:
  """3D adapter input: [B, K, 3] metres minus the hip midpoint, missing
  points (visible [B, K] == 0) zeroed."""
  centred = points - hip_centre(points, keypoint_set)
  return centred * visible[..., None]


def normalise_2d(points: jnp.ndarray, visible: jnp.ndarray,
                 keypoint_set: KeypointSet) -> jnp.ndarray:
  """2D adapter input: centred at the hip midpoint, unit RMS radius.

  Args:
    points: [B, K, 2] image-plane points of a centred view (pixels or
      normalised coordinates: the scale drops out).
    visible: [B, K] 1 where the point was detected.
    keypoint_set: the set.

  Returns:
    [B, K, 2] points minus the hip midpoint, divided by the RMS distance of
    the visible points from it; missing points zeroed.
  """
  centred = (points - hip_centre(points, keypoint_set)) * visible[..., None]
  count = jnp.maximum(visible.sum(axis=1), 1.0)
  rms = jnp.sqrt(jnp.sum(centred ** 2, axis=(1, 2)) / count)
  return centred / jnp.maximum(rms, 1e-6)[:, None, None]


def project_centred(points: jnp.ndarray, keypoint_set: KeypointSet,
                    depth: jnp.ndarray) -> jnp.ndarray:
  """A centred view's 2D keypoints: the body's hip midpoint put on the
  optical axis at `depth` [B] metres, then x/z, y/z.

  Args:
    points: [B, K, 3] camera-frame keypoints (metres).
    keypoint_set: the set.
    depth: [B] distance of the hip midpoint (> the body's extent).

  Returns:
    [B, K, 2] normalised image coordinates.
  """
  placed = points - hip_centre(points, keypoint_set)
  placed = placed + jnp.stack([jnp.zeros_like(depth), jnp.zeros_like(depth),
                               depth], -1)[:, None]
  return placed[..., :2] / jnp.maximum(placed[..., 2:], 0.1)


# ----------------------------------------------------------------------------
# Detector-like noise.

# Defaults of `detector_noise` (metres, probabilities).
NOISE_DEFAULTS = {
    'sigma': 0.012,  # jitter std of trunk points; x level 1..4 distally
    'min_scale': 0.0,  # per-body noise scale ~ U(min_scale, max_scale)
    'max_scale': 2.0,
    'depth_factor': 2.0,  # z jitter is this much larger (3D sets)
    'max_drop': 0.25,  # per-body dropout rate ~ U(0, max_drop)
    'lower_body_missing': 0.1,  # knees and below all missing (out of frame)
    'swap': 0.05,  # per limb pair (arms, legs): left/right swapped
    'size_jitter': 0.03,  # 3D: whole-body size error, std (relative)
}


def detector_noise(rng: jax.Array, keypoints: jnp.ndarray,
                   keypoint_set: KeypointSet, sigma: float = 0.012,
                   min_scale: float = 0.0, max_scale: float = 2.0,
                   depth_factor: float = 2.0,
                   max_drop: float = 0.25, lower_body_missing: float = 0.1,
                   swap: float = 0.05, size_jitter: float = 0.03):
  """A detector's errors on camera-frame keypoints.

  Per body: a noise scale s ~ U(min_scale, max_scale) (from 0: clean
  inputs are seen too); Gaussian jitter of std s * sigma * level (level 1
  on the trunk and head up to 4 on hands and feet,
  `KeypointSet.distal_levels`), times `depth_factor` along z; a size error
  (1 + size_jitter * N(0, 1)); with probability `swap` per limb pair, the
  left and right arms (legs) swapped; points dropped at a rate
  ~ U(0, max_drop), and with probability `lower_body_missing` every knee,
  ankle and foot point. The hips
  (`centre_ids`) are never dropped.

  Args:
    rng: PRNG key.
    keypoints: [B, K, 3] root-relative camera-frame keypoints (metres).
    keypoint_set: the set.
    sigma, min_scale, max_scale, depth_factor, max_drop, lower_body_missing,
      swap, size_jitter: as above.

  Returns:
    (noisy keypoints [B, K, 3], visible [B, K] float 0/1); missing points
    keep their (noisy) values: `centre_3d` / `normalise_2d` zero them.
  """
  batch, num = keypoints.shape[:2]
  dtype = keypoints.dtype
  keys = jax.random.split(rng, 8)
  scale = jax.random.uniform(keys[0], (batch, 1, 1), dtype, min_scale,
                             max_scale)
  level = jnp.asarray(keypoint_set.distal_levels(), dtype)[None, :, None]
  axis = jnp.asarray([1.0, 1.0, depth_factor], dtype)
  jitter = jax.random.normal(keys[1], keypoints.shape, dtype)
  noisy = keypoints + jitter * scale * sigma * level * axis
  size = 1.0 + size_jitter * jax.random.normal(keys[2], (batch, 1, 1), dtype)
  noisy = noisy * size
  perm = jnp.asarray(keypoint_set.left_right_permutation())
  for i, limb in enumerate(('arm', 'leg')):
    on_limb = jnp.asarray(keypoint_set.limb_ids(limb))
    swapped = jax.random.bernoulli(keys[3 + i], swap, (batch, 1))
    use = (swapped & on_limb[None])[..., None]
    noisy = jnp.where(use, jnp.take(noisy, perm, axis=1), noisy)
  rate = jax.random.uniform(keys[5], (batch, 1), dtype, 0.0, max_drop)
  kept = jax.random.uniform(keys[6], (batch, num), dtype) >= rate
  lower = jnp.asarray(keypoint_set.limb_ids('leg'))
  cut = jax.random.bernoulli(keys[7], lower_body_missing, (batch, 1))
  kept = kept & ~(cut & lower[None])
  centre = np.zeros(num, bool)
  centre[list(keypoint_set.centre_ids)] = True
  kept = kept | jnp.asarray(centre)[None]
  return noisy, kept.astype(dtype)
