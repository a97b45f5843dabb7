"""Writing every file a user takes away: meshes, body records, animations.

A photo (`write_photo_outputs`): mesh.obj (`write_obj`, every body in the
camera frame), overlay.png (`draw.overlay_picture`), body.json
(`body_record`, one body or {'people': [...]}) and, for the web app, a
static body.glb (`write_mesh_glb`).

A clip (`write_clip_outputs`): per track .npz, .json, .bvh and .glb, the
overlay .mp4 (`draw.write_overlay_video`) and video.json, written to a
staging folder and moved in at the end.

Frames. Our bodies live in the camera frame (x right, y down, z forward,
metres). BVH and glTF tools expect y up, so both are written in the camera
frame turned 180 degrees about x (x right, y up, z toward the viewer;
F = diag(1, -1, -1)): the rest skeleton and mesh are the body model's own
(y up, a T-pose standing upright), the global orientation R0 becomes F R0
and the root's position F root. Units are metres.

* `write_track_npz` / `write_track_json`: pose (axis-angle [T, 24, 3], the
  camera frame), betas, gender (index, label and source), root per frame,
  frame indices and rate, and which joints each frame showed (joint_seen
  [T, 24]) when the track has them.
* `write_bvh`: the 24-joint skeleton of the track's shape (rest offsets
  from its joint regressor), the root's position and every joint's local
  rotation per frame (ZXY Euler, degrees).
* `write_glb`: the skinned mesh of the track's shape in its rest pose, the
  24-joint skin (inverse bind matrices; four weights per vertex in one set
  by default, each vertex's largest four renormalised, eight in two sets
  as an option: `skinning_error`, docs/video.md), and
  one animation channel per joint (rotations) plus the root's translation.
  glTF has no pose-dependent correctives: a user's SMPL file with pose
  blend shapes loses them here (up to ~2 cm at bent joints); the default
  body has none, so its skinned pose is our forward.
  `write_glb` with one frame and no animation is a static body.

Rotations are converted by `smplr_jax.body.rotations` in float64: the files
print more digits (5 for axis-angle, 6 for BVH degrees) than float32 holds.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import struct
import tempfile
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations
from smplr_jax.body import smpl
from smplr_jax.predict import draw

# Camera frame -> y-up export frame (a proper rotation: 180 degrees about x).
FLIP = np.diag([1.0, -1.0, -1.0])
JOINT_NAMES = jl_lib.JOINT_NAMES
PARENTS = jl_lib.SMPL_PARENTS


def _in_float64(convert: Callable[[jnp.ndarray], jnp.ndarray],
                matrices: Any) -> np.ndarray:
  """`convert` (a `rotations` function) of the rotations nearest to
  [..., 3, 3] matrices, in float64. A smoothed or fitted float32 pose is
  orthogonal to ~1e-6 only; its nearest rotation is what it means."""
  with jax.enable_x64(True):
    nearest = rotations.project_to_rotation(jnp.asarray(matrices,
                                                        jnp.float64))
    return np.asarray(convert(nearest))


def _axis_angle(pose: np.ndarray) -> np.ndarray:
  """[..., 3, 3] rotations -> [..., 3] float64 rotation vectors."""
  return _in_float64(rotations.matrix_to_axis_angle, pose)


def _quaternions(pose: np.ndarray) -> np.ndarray:
  """[..., 3, 3] rotations -> [..., 4] unit quaternions (x, y, z, w, glTF's
  order), the largest component positive (Shepperd's sign: one quaternion
  per rotation)."""
  vector = _axis_angle(pose)
  angle = np.linalg.norm(vector, axis=-1, keepdims=True)
  axis = vector / np.where(angle > 0, angle, 1.0)
  quaternion = np.concatenate([axis * np.sin(angle / 2), np.cos(angle / 2)],
                              axis=-1)
  largest = np.take_along_axis(quaternion, np.abs(quaternion).argmax(
      -1)[..., None], axis=-1)
  return quaternion * np.where(largest < 0, -1.0, 1.0)


def _euler_zxy_degrees(pose: np.ndarray) -> np.ndarray:
  """[..., 3, 3] rotations -> [..., 3] intrinsic ZXY Euler angles (degrees),
  in BVH's channel order (Z, X, Y)."""
  angles = _in_float64(lambda m: rotations.matrix_to_euler(m, 'ZXY'), pose)
  return np.degrees(angles[..., [2, 0, 1]])  # per axis (x, y, z) -> Z, X, Y


def write_obj(path: str | pathlib.Path,
              meshes: list[tuple[np.ndarray, np.ndarray]]) -> pathlib.Path:
  """Wavefront OBJ of (vertices [V, 3], faces [F, 3]) meshes, one object
  ('person_N') each."""
  lines, offset = [], 1
  for number, (vertices, faces) in enumerate(meshes):
    lines.append(f'o person_{number}')
    lines += [f'v {x:.5f} {y:.5f} {z:.5f}' for x, y, z in vertices]
    lines += [f'f {a + offset} {b + offset} {c + offset}'
              for a, b, c in np.asarray(faces)]
    offset += len(vertices)
  path = pathlib.Path(path)
  path.write_text('\n'.join(lines) + '\n')
  return path


def body_record(prediction: dict[str, Any]) -> dict[str, Any]:
  """One body as body.json holds it (camera frame, metres), from a photo's
  prediction (`Predictor.predict_image`; `prediction.PHOTO_KEYS`) alone:
  its `front_end` and `used_dae`, 'refined' when it holds a `fit_cost`,
  the gender's label and source, and the detector's `hypothesis`,
  `keypoints_2d` and `joint_seen` ([24] bools, `JOINT_NAMES` order) when
  present."""
  root = np.asarray(prediction['root_cam'])
  pose = _axis_angle(prediction['pose'])
  record = {
      'pose_axis_angle': pose.round(5).tolist(),
      'betas': np.asarray(prediction['betas']).round(5).tolist(),
      'gender': int(prediction['gender']),
      'male_probability': float(prediction['male_probability']),
      **{key: str(prediction[key]) for key in ('gender_label',
                                               'gender_source')
         if key in prediction},
      'root_cam_m': root.round(4).tolist(),
      'focal_px': float(prediction['focal']),
      'box': [round(float(v), 1) for v in prediction['box']],
      'frame': 'camera: x right, y down, z forward, m',
      'used_dae': bool(prediction['used_dae']),
      'front_end': str(prediction['front_end']),
      'refined': 'fit_cost' in prediction,
  }
  if 'fit_cost' in prediction:
    record['fit_cost'] = float(np.asarray(prediction['fit_cost']).reshape(
        -1)[0])
  if 'hypothesis' in prediction:
    record['hypothesis'] = prediction['hypothesis']
  if 'keypoints_2d' in prediction:
    record['keypoints_2d_px'] = np.asarray(
        prediction['keypoints_2d']).round(1).tolist()
  if 'joint_seen' in prediction:  # [24] in SMPL's joint order
    record['joint_seen'] = np.asarray(prediction['joint_seen'],
                                      bool).tolist()
  return record


def write_photo_outputs(people: list[dict[str, Any]], photo: np.ndarray,
                        output: str | pathlib.Path,
                        glb: bool = False) -> dict[str, pathlib.Path]:
  """A photo's bodies -> files in `output`: mesh.obj (every body, camera
  frame), overlay.png (`draw.overlay_picture`), body.json (one body's
  `body_record`, or {'people': [...]} for several) and with `glb` a static
  body.glb (`write_mesh_glb`, needs pygltflib).

  Args:
    people: `Predictor.predict_image`'s dict, or `predict_people`'s list.
    photo: uint8 [H, W, 3], the photo they came from.
    output: the folder (made if missing).
    glb: also write body.glb.

  Returns:
    the paths written, by kind ('obj', 'png', 'json', 'glb').
  """
  output = pathlib.Path(output)
  output.mkdir(parents=True, exist_ok=True)
  paths = {'obj': output / 'mesh.obj', 'png': output / 'overlay.png',
           'json': output / 'body.json'}
  meshes = [(np.asarray(out['vertices']) + np.asarray(out['root_cam']),
             np.asarray(out['faces'])) for out in people]
  write_obj(paths['obj'], meshes)
  Image.fromarray(draw.overlay_picture(photo, people)).save(paths['png'])
  records = [body_record(out) for out in people]
  paths['json'].write_text(json.dumps(
      records[0] if len(records) == 1 else {'people': records}, indent=1))
  if glb:
    paths['glb'] = write_mesh_glb(output / 'body.glb', meshes)
  return paths


def track_arrays(track: dict[str, Any], fps: float | None) -> dict:
  """The arrays of a track file (see the module docstring)."""
  arrays = {
      'frames': np.asarray(track['frames'], np.int64),
      'pose_axis_angle': _axis_angle(track['pose']).astype(np.float32),
      'betas': np.asarray(track['betas'], np.float32),
      'gender': np.asarray(track['gender'], np.int32),
      'root_cam': np.asarray(track['root_cam'], np.float32),
      'joints': np.asarray(track['joints'], np.float32),
      'fps': np.float32(fps if fps else np.nan),
  }
  if 'times' in track:
    arrays['times'] = np.asarray(track['times'], np.float64)
  if 'joint_seen' in track:
    arrays['joint_seen'] = np.asarray(track['joint_seen'], bool)
  return arrays


def _track_labels(track: dict[str, Any]) -> dict[str, str]:
  """A track's gender_label and gender_source, when it has them."""
  return {key: str(track[key]) for key in ('gender_label', 'gender_source')
          if key in track}


def write_track_npz(path: str | pathlib.Path, track: dict[str, Any],
                    fps: float | None) -> pathlib.Path:
  path = pathlib.Path(path)
  np.savez(path, **track_arrays(track, fps), **{
      key: np.asarray(value) for key, value in _track_labels(track).items()})
  return path


def write_track_json(path: str | pathlib.Path, track: dict[str, Any],
                     fps: float | None) -> pathlib.Path:
  arrays = track_arrays(track, fps)
  path = pathlib.Path(path)
  path.write_text(json.dumps({
      'frame': 'camera: x right, y down, z forward, metres; pose: '
               'axis-angle, joint 0 in the camera frame',
      'joint_names': list(JOINT_NAMES),
      'fps': None if not fps else float(fps),
      **_track_labels(track),
      **{k: (v.tolist() if v.dtype == bool else np.round(v, 5).tolist())
         for k, v in arrays.items() if k != 'fps'}}))
  return path


def rest_joints(model: bm.BodyModel, betas: np.ndarray,
                gender: int) -> np.ndarray:
  """[24, 3] rest joints of a shape (camera-frame axes, metres)."""
  model = _single(model, gender)
  betas = np.asarray(betas, np.float64)[:model.num_betas]
  dirs = np.asarray(model.joint_shape_dirs, np.float64)[:len(betas)]
  return (np.asarray(model.joint_template, np.float64) +
          (betas @ dirs).reshape(-1, 3))


def _single(model: bm.BodyModel, gender: int) -> bm.BodyModel:
  # Only the stacked arrays: the faces and landmark ids are shared.
  return gendered.select_model(model, gender)


def rest_vertices(model: bm.BodyModel, betas: np.ndarray,
                  gender: int) -> np.ndarray:
  """[V, 3] rest mesh of a shape (camera-frame axes, metres)."""
  model = _single(model, gender)
  betas = np.asarray(betas, np.float64)[:model.num_betas]
  v_template = np.asarray(model.v_template, np.float64)
  dirs = np.asarray(model.blend_dirs, np.float64)[:len(betas)]
  return v_template + (betas @ dirs).reshape(3, -1).T


def _export_rotations(pose: np.ndarray) -> np.ndarray:
  """[T, 24, 3, 3] relative rotations in the export frame: the rest pose is
  the model's own (y up), so only the global orientation (joint 0, camera
  frame) is turned by FLIP."""
  out = np.array(pose, np.float64)
  out[:, 0] = FLIP @ out[:, 0]
  return out


def animation_times(track: dict[str, Any], fps: float | None) -> np.ndarray:
  """[T] seconds from a track's first frame: its own times (a variable
  frame rate keeps them) when they increase, else one frame per 1 / fps
  (30 when None)."""
  num = len(track['pose'])
  times = np.asarray(track.get('times', ()), np.float64)
  if len(times) == num and (num < 2 or np.all(np.diff(times) > 0)):
    return times - times[0]
  return np.arange(num) / (fps or 30.0)


def frame_time(track: dict[str, Any], fps: float | None) -> float:
  """A BVH's one frame time: the mean interval of the track's times (BVH
  has no per-frame times), 1 / fps (30 when None) for fewer than two."""
  times = animation_times(track, fps)
  return (float(times[-1] / (len(times) - 1)) if len(times) > 1
          else 1.0 / (fps or 30.0))


def write_bvh(path: str | pathlib.Path, track: dict[str, Any],
              model: bm.BodyModel, fps: float | None) -> pathlib.Path:
  """A BVH of a track's skeleton and motion (y up, metres; one frame
  time, the mean of a variable rate: `frame_time`)."""
  pose = _export_rotations(track['pose'])  # [T, 24, 3, 3]
  joints = rest_joints(model, track['betas'][0], track['gender'][0])
  parents = np.asarray(PARENTS)
  offsets = joints - np.where(parents[:, None] >= 0,
                              joints[np.maximum(parents, 0)], 0.0)
  children = {j: [c for c, p in enumerate(PARENTS) if p == j]
              for j in range(len(PARENTS))}
  lines, order = ['HIERARCHY'], []

  def emit(joint, depth):
    order.append(joint)
    pad = '  ' * depth
    if joint == 0:
      lines.append(f'ROOT {JOINT_NAMES[0]}')
      channels = ('CHANNELS 6 Xposition Yposition Zposition Zrotation '
                  'Xrotation Yrotation')
      offset = np.zeros(3)
    else:
      lines.append(f'{pad}JOINT {JOINT_NAMES[joint]}')
      channels = 'CHANNELS 3 Zrotation Xrotation Yrotation'
      offset = offsets[joint]
    lines.append(pad + '{')
    lines.append(f'{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} '
                 f'{offset[2]:.6f}')
    lines.append(f'{pad}  {channels}')
    if not children[joint]:
      # The bone beyond a leaf joint (head, hands, feet): half the leaf's
      # own bone, along it (a zero end site is a zero-length bone that
      # Blender warns of and drops).
      end = 0.5 * offsets[joint]
      lines.append(f'{pad}  End Site')
      lines.append(pad + '  {')
      lines.append(f'{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}')
      lines.append(pad + '  }')
    for child in children[joint]:
      emit(child, depth + 1)
    lines.append(pad + '}')

  emit(0, 0)
  num = len(pose)
  lines += ['MOTION', f'Frames: {num}',
            f'Frame Time: {frame_time(track, fps):.6f}']
  euler = _euler_zxy_degrees(pose)[:, order]  # [T, 24, 3], file order
  # The root joint's position: the track's root (camera frame) turned.
  root = np.asarray(track['root_cam'], np.float64) @ FLIP
  for t in range(num):
    values = np.concatenate([root[t], euler[t].reshape(-1)])
    lines.append(' '.join(f'{v:.6f}' for v in values))
  path = pathlib.Path(path)
  path.write_text('\n'.join(lines) + '\n')
  return path


def _top_weights(weights: np.ndarray,
                 count: int = 8) -> tuple[np.ndarray, np.ndarray]:
  """([V, count] joint indices, [V, count] weights summing to 1) per vertex,
  largest first."""
  order = np.argsort(-weights, axis=1)[:, :count]
  top = np.take_along_axis(weights, order, axis=1)
  top = top / np.maximum(top.sum(axis=1, keepdims=True), 1e-12)
  return order.astype(np.uint16), top.astype(np.float32)


class _GlbBuffer:
  """The binary chunk of a .glb being written: each array appended as a
  4-byte-aligned buffer view and an accessor of it."""

  def __init__(self, gl):
    self._gl = gl
    self.blobs: list[bytes] = []
    self.views: list = []
    self.accessors: list = []

  def add(self, array: np.ndarray, kind: str, component: int,
          target: int | None = None, minmax: bool = False) -> int:
    """Appends `array`; returns its accessor's index."""
    data = np.ascontiguousarray(array).tobytes()
    self.views.append(self._gl.BufferView(
        buffer=0, byteOffset=sum(len(b) for b in self.blobs),
        byteLength=len(data), target=target))
    self.blobs.append(data + b'\0' * (-len(data) % 4))
    accessor = self._gl.Accessor(bufferView=len(self.views) - 1,
                                 componentType=component, count=len(array),
                                 type=kind)
    if minmax:
      accessor.min = np.asarray(array).min(axis=0).reshape(-1).tolist()
      accessor.max = np.asarray(array).max(axis=0).reshape(-1).tolist()
    self.accessors.append(accessor)
    return len(self.accessors) - 1

  def save(self, path: str | pathlib.Path, **document) -> pathlib.Path:
    """Writes the glTF document (its fields as keywords) with this
    buffer."""
    binary = b''.join(self.blobs)
    gltf = self._gl.GLTF2(asset=self._gl.Asset(generator='smplr_jax'),
                          scene=0, accessors=self.accessors,
                          bufferViews=self.views,
                          buffers=[self._gl.Buffer(byteLength=len(binary))],
                          **document)
    gltf.set_binary_blob(binary)
    path = pathlib.Path(path)
    gltf.save_binary(str(path))
    return path


def top_weights_model(model: bm.BodyModel, count: int) -> bm.BodyModel:
  """model with each vertex's skinning weights cut to its `count` largest,
  renormalised (what a .glb of `count` weights per vertex skins with)."""
  weights = np.asarray(model.lbs_weights, np.float64)
  flat = weights.reshape(-1, weights.shape[-1])
  order, top = _top_weights(flat, count)
  kept = np.zeros_like(flat)
  np.put_along_axis(kept, order.astype(np.int64), top, axis=1)
  return model.replace(lbs_weights=jnp.asarray(
      kept.reshape(weights.shape), model.lbs_weights.dtype))


def skinning_error(model: bm.BodyModel, pose: np.ndarray, betas: np.ndarray,
                   gender: np.ndarray, count: int) -> np.ndarray:
  """[B, V] distance (metres) of each vertex skinned with its `count`
  largest weights (`top_weights_model`) from our forward with all of
  them, for poses [B, 24, 3, 3], betas [B, S], gender [B]."""
  args = (jnp.asarray(pose), jnp.asarray(betas))
  full = smpl.smpl_forward(model, *args, gender=jnp.asarray(gender))
  cut = smpl.smpl_forward(top_weights_model(model, count), *args,
                          gender=jnp.asarray(gender))
  return np.linalg.norm(np.asarray(cut.vertices - full.vertices), axis=-1)


def write_glb(path: str | pathlib.Path, track: dict[str, Any],
              model: bm.BodyModel, fps: float | None = None,
              frame_range: tuple[int, int] | None = None,
              weights_per_vertex: int = 4) -> pathlib.Path:
  """A skinned, animated glTF binary of a track (y up, metres).

  Args:
    path: the .glb to write.
    track: pose [T, 24, 3, 3], betas [T, S] (the first is used), gender
      [T], root_cam [T, 3] (camera frame).
    model: the body model (stacked [female, male, neutral] or single).
    fps: frame rate (30 when None) when the track has no increasing
      `times` [T] (seconds; `animation_times`); one frame gives a static
      body.
    frame_range: (start, end) frames of the track to write (all if None).
    weights_per_vertex: 4 (one JOINTS_0 / WEIGHTS_0 set, what every glTF
      viewer reads; each vertex's largest four, renormalised:
      `skinning_error` measures the cost) or 8 (a second set; the default
      body has up to seven, so this is our forward exactly).

  Requires pygltflib (`pip install -e ".[video]"`).

  Raises:
    ValueError: weights_per_vertex is not 4 or 8.
  """
  if weights_per_vertex not in (4, 8):
    raise ValueError(f'weights_per_vertex must be 4 or 8, got '
                     f'{weights_per_vertex}.')
  import pygltflib as gl  # pylint: disable=g-import-not-at-top
  pose = np.asarray(track['pose'], np.float64)
  root = np.asarray(track['root_cam'], np.float64)
  times = np.asarray(track.get('times', ()), np.float64)
  if frame_range is not None:
    pose, root = pose[slice(*frame_range)], root[slice(*frame_range)]
    times = times[slice(*frame_range)]
  gender = int(np.asarray(track['gender']).reshape(-1)[0])
  betas = np.asarray(track['betas']).reshape(-1, np.shape(
      track['betas'])[-1])[0]
  single = _single(model, gender)
  vertices = rest_vertices(model, betas, gender).astype(np.float32)
  joints = rest_joints(model, betas, gender)
  faces = np.asarray(single.faces, np.uint32)
  indices, weights = _top_weights(np.asarray(single.lbs_weights,
                                             np.float64), weights_per_vertex)
  # A zero weight's joint is 0: validators warn of a joint named with zero
  # weight.
  indices = np.where(weights > 0, indices, 0).astype(np.uint16)
  parents = np.asarray(PARENTS)
  local = joints - np.where(parents[:, None] >= 0,
                            joints[np.maximum(parents, 0)], 0.0)
  inverse_bind = np.tile(np.eye(4), (24, 1, 1))
  inverse_bind[:, :3, 3] = -joints
  # glTF matrices are column-major.
  inverse_bind = np.transpose(inverse_bind, (0, 2, 1)).astype(np.float32)
  quats = _quaternions(_export_rotations(pose)).astype(
      np.float32)  # [T, 24, 4] x, y, z, w
  root_positions = (root @ FLIP).astype(np.float32)
  times = animation_times({'pose': pose, 'times': times},
                          fps).astype(np.float32)

  buffer = _GlbBuffer(gl)
  add = buffer.add
  position = add(vertices, gl.VEC3, gl.FLOAT, gl.ARRAY_BUFFER, minmax=True)
  sets = range(0, weights_per_vertex, 4)
  joint_ids = [add(indices[:, i:i + 4], gl.VEC4, gl.UNSIGNED_SHORT,
                   gl.ARRAY_BUFFER) for i in sets]
  joint_weights = [add(weights[:, i:i + 4], gl.VEC4, gl.FLOAT,
                       gl.ARRAY_BUFFER) for i in sets]
  influences = {}
  for number, (ids, weight) in enumerate(zip(joint_ids, joint_weights)):
    influences[f'JOINTS_{number}'] = ids
    influences[f'WEIGHTS_{number}'] = weight
  triangles = add(faces.reshape(-1), gl.SCALAR, gl.UNSIGNED_INT,
                  gl.ELEMENT_ARRAY_BUFFER)
  binds = add(inverse_bind.reshape(24, 16), gl.MAT4, gl.FLOAT)
  nodes = [gl.Node(name=JOINT_NAMES[j], translation=local[j].tolist(),
                   rotation=quats[0, j].tolist(),
                   children=[c for c in range(24) if parents[c] == j])
           for j in range(24)]
  nodes[0].translation = root_positions[0].tolist()
  # The skinned mesh's node is a root of the scene: glTF ignores a skinned
  # mesh's parent transforms (and validators warn of one).
  nodes.append(gl.Node(name='body', mesh=0, skin=0))
  nodes.append(gl.Node(name='smplr_jax', children=[0]))
  animations = []
  if len(pose) > 1:
    time_accessor = add(times, gl.SCALAR, gl.FLOAT, minmax=True)
    samplers, channels = [], []
    for j in range(24):
      samplers.append(gl.AnimationSampler(
          input=time_accessor, output=add(quats[:, j], gl.VEC4, gl.FLOAT),
          interpolation='LINEAR'))
      channels.append(gl.AnimationChannel(
          sampler=j, target=gl.AnimationChannelTarget(node=j,
                                                      path='rotation')))
    samplers.append(gl.AnimationSampler(
        input=time_accessor, output=add(root_positions, gl.VEC3, gl.FLOAT),
        interpolation='LINEAR'))
    channels.append(gl.AnimationChannel(
        sampler=24, target=gl.AnimationChannelTarget(node=0,
                                                     path='translation')))
    animations = [gl.Animation(name='motion', samplers=samplers,
                               channels=channels)]
  return buffer.save(
      path, scenes=[gl.Scene(nodes=[25, 24])], nodes=nodes,
      meshes=[gl.Mesh(name='body', primitives=[gl.Primitive(
          attributes=gl.Attributes(POSITION=position, **influences),
          indices=triangles)])],
      skins=[gl.Skin(joints=list(range(24)), inverseBindMatrices=binds,
                     skeleton=0)],
      animations=animations)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """[V, 3] unit normals: the area-weighted mean of each vertex's faces'."""
  corners = vertices[faces]
  face_normals = np.cross(corners[:, 1] - corners[:, 0],
                          corners[:, 2] - corners[:, 0])
  normals = np.zeros_like(vertices)
  for k in range(3):
    np.add.at(normals, faces[:, k], face_normals)
  return normals / np.maximum(np.linalg.norm(normals, axis=1,
                                             keepdims=True), 1e-12)


def write_mesh_glb(path: str | pathlib.Path,
                   meshes: list[tuple[np.ndarray, np.ndarray]]
                   ) -> pathlib.Path:
  """A static glTF binary of posed meshes: (vertices [V, 3] in the camera
  frame, metres; faces [F, 3]) each, written y up (`FLIP`, as
  `write_glb`), with smooth normals and one matte material; one node
  ('person_N') a mesh. Requires pygltflib."""
  import pygltflib as gl  # pylint: disable=g-import-not-at-top
  if not meshes:
    raise ValueError('no mesh to write.')
  buffer = _GlbBuffer(gl)
  add = buffer.add
  nodes, gl_meshes = [], []

  for number, (vertices, faces) in enumerate(meshes):
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.all(
        np.isfinite(vertices)):
      raise ValueError(f'mesh {number}: vertices must be finite [V, 3], got '
                       f'{vertices.shape}.')
    # FLIP is a rotation (det +1): the triangles keep their winding.
    flipped = vertices @ FLIP
    position = add(flipped.astype(np.float32), gl.VEC3, gl.FLOAT,
                   gl.ARRAY_BUFFER, minmax=True)
    normal = add(vertex_normals(flipped, faces).astype(np.float32), gl.VEC3,
                 gl.FLOAT, gl.ARRAY_BUFFER)
    triangles = add(faces.astype(np.uint32).reshape(-1), gl.SCALAR,
                    gl.UNSIGNED_INT, gl.ELEMENT_ARRAY_BUFFER)
    gl_meshes.append(gl.Mesh(name=f'person_{number}', primitives=[
        gl.Primitive(attributes=gl.Attributes(POSITION=position,
                                              NORMAL=normal),
                     indices=triangles, material=0)]))
    nodes.append(gl.Node(name=f'person_{number}', mesh=number))
  return buffer.save(
      path, scenes=[gl.Scene(nodes=list(range(len(nodes))))], nodes=nodes,
      meshes=gl_meshes,
      materials=[gl.Material(name='body', doubleSided=True,
                             pbrMetallicRoughness=gl.PbrMetallicRoughness(
                                 baseColorFactor=[0.35, 0.55, 0.9, 1.0],
                                 metallicFactor=0.0,
                                 roughnessFactor=0.8))])


def read_glb(path: str | pathlib.Path) -> tuple[dict, bytes]:
  """(the JSON document, the binary chunk) of a .glb, read from its bytes
  with no glTF library (the tests' independent reader)."""
  data = pathlib.Path(path).read_bytes()
  magic, version, length = struct.unpack_from('<4sII', data, 0)
  if magic != b'glTF' or version != 2 or length != len(data):
    raise ValueError(f'{path} is not a glTF 2 binary.')
  json_length, json_type = struct.unpack_from('<I4s', data, 12)
  if json_type != b'JSON':
    raise ValueError(f'{path}: the first chunk is not JSON.')
  document = json.loads(data[20:20 + json_length])
  offset = 20 + json_length
  binary = b''
  if offset < len(data):
    bin_length, bin_type = struct.unpack_from('<I4s', data, offset)
    if bin_type != b'BIN\0':
      raise ValueError(f'{path}: the second chunk is not BIN.')
    binary = data[offset + 8:offset + 8 + bin_length]
  return document, binary


def write_clip_outputs(result: dict[str, Any], video_path: str | pathlib.Path,
                       output: str | pathlib.Path, body,
                       track_vertices: Callable[[dict[str, Any]], np.ndarray],
                       mode: str = 'offline',
                       overlay: bool = True,
                       fbx: bool = False) -> dict[str, pathlib.Path]:
  """A clip's tracks -> files in `output`: per track .npz, .json, .bvh and
  .glb (and .fbx with `fbx`), overlay.mp4 (`draw.write_overlay_video`) and
  video.json. Written to a staging folder beside `output` first and moved
  in at the end (an error leaves nothing half-written).

  Args:
    result: `Predictor.predict_video`'s result.
    video_path: the clip (read again, frame by frame, for the overlay).
    output: the folder (made if missing).
    body: the body models (`Predictor.body`, `gendered.GenderedModels`).
    track_vertices: a track -> its [T, V, 3] root-relative meshes
      (`Predictor.track_vertices`), for the overlay.
    mode: the fit's mode, recorded in video.json.
    overlay: write overlay.mp4.
    fbx: also write track_N.fbx (`blender.glb_to_fbx` of an eight-weight
      .glb: Blender's exporter, the [fbx] extra; checked before anything
      is written).

  Returns:
    the paths written, by file name.
  """
  if fbx:  # here, not above: bpy is an optional extra
    from smplr_jax.predict import blender  # pylint: disable=g-import-not-at-top
    blender.import_bpy()
  output = pathlib.Path(output)
  output.parent.mkdir(parents=True, exist_ok=True)
  staging = pathlib.Path(tempfile.mkdtemp(prefix='.smplr-video-',
                                          dir=output.parent))
  try:
    names = []
    for number, track in enumerate(result['tracks']):
      stem = staging / f'track_{number}'
      write_track_npz(stem.with_suffix('.npz'), track, result['fps'])
      write_track_json(stem.with_suffix('.json'), track, result['fps'])
      write_bvh(stem.with_suffix('.bvh'), track, body.gendered,
                result['fps'])
      write_glb(stem.with_suffix('.glb'), track, body.gendered,
                result['fps'])
      names += [f'track_{number}{s}' for s in ('.npz', '.json', '.bvh',
                                                '.glb')]
      if fbx:  # from eight weights per vertex: the skin of our forward
        full = write_glb(staging / f'.skin_{number}.glb', track,
                         body.gendered, result['fps'], weights_per_vertex=8)
        blender.glb_to_fbx(full, stem.with_suffix('.fbx'), result['fps'])
        names.append(f'track_{number}.fbx')
    if overlay:
      draw.write_overlay_video(staging / 'overlay.mp4', video_path, result,
                               track_vertices, body.gendered.faces)
      names.append('overlay.mp4')
    (staging / 'video.json').write_text(json.dumps({
        'fps': result['fps'], 'num_frames': result['num_frames'],
        'skipped_frames': result['skipped_frames'],
        'image_size': result['image_size'], 'focal_px': result['focal'],
        'mode': mode, 'tracks': [
            {'file': f'track_{n}', 'first_frame': int(t['frames'][0]),
             'last_frame': int(t['frames'][-1]),
             'num_frames': len(t['frames'])}
            for n, t in enumerate(result['tracks'])]}, indent=1))
    names.append('video.json')
    output.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
      paths[name] = output / name
      shutil.move(str(staging / name), paths[name])
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return paths
