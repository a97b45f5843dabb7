"""FBX through Blender's own exporter, and any track file read back in
Blender.

Needs the [fbx] extra: Blender's Python module, bpy 4.2, whose wheels exist
for Python 3.11 only (`pip install -e ".[fbx]"`; `import_bpy` says so when
it is missing).

* `glb_to_fbx`: a track's .glb (`write.write_glb`; with eight weights per
  vertex it skins as our forward does) -> imported into an empty Blender
  scene at the track's frame rate -> exported by Blender's FBX exporter,
  the animation baked at every frame -> moved to `path` (a failure leaves
  no .fbx). `write.write_clip_outputs(fbx=True)` calls it.
* `read_in_blender`: a .fbx, .glb or .bvh imported into an empty scene as a
  user's Blender imports it (default import settings) -> its bones, keyed
  frames, frame rate and each bone's head per key (and the skinned mesh's
  vertices), in our camera frame, metres.

Frames. Blender is z up; its importers and its FBX exporter turn y-up files
(glTF and BVH y up; FBX written axis_up 'Y', axis_forward '-Z') into
Blender's frame as (x, y, z) -> (x, -z, y). Our files are the camera frame
turned 180 degrees about x (write.FLIP), so in Blender a point of our
camera frame (x right, y down, z forward) is at (x, z, -y): the camera
looks along Blender's +y with +z up, as Blender's front view does.
`BLENDER_TO_CAMERA` turns it back.

Units. Blender's scene is in metres. The FBX is written with the unit in
the file (FBX_SCALE_ALL: UnitScaleFactor 100, one unit is a metre) and a
scale of 1 on every node; the default ('All Local') writes centimetres
with a scale of 100 on the armature and mesh nodes. Blender reads both
back in metres.

Blender is one scene per process: every function here starts from factory
settings with an empty scene and keeps nothing between calls. This module
knows files, not tracks: `write` writes the .glb and calls it. Blender's
output (its importers' logs, the exporter's progress) is kept off the
terminal and shown in the error when an import or export fails.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import tempfile
from typing import Any, Iterator

import numpy as np

INSTALL_HINT = 'pip install -e ".[fbx]" (bpy 4.2: wheels for Python 3.11 only)'
# Blender's frame (z up) -> our camera frame: camera = BLENDER_TO_CAMERA @
# blender (see the module docstring).
BLENDER_TO_CAMERA = np.array([[1.0, 0.0, 0.0],
                              [0.0, 0.0, -1.0],
                              [0.0, 1.0, 0.0]])
FORMATS = ('.fbx', '.glb', '.gltf', '.bvh')
# The lines of Blender's output quoted in an error.
_LOG_LINES = 20


def import_bpy():
  """Blender's Python module.

  Raises:
    ImportError: bpy is missing, with the extra that installs it.
  """
  try:
    import bpy  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    version = '.'.join(map(str, sys.version_info[:2]))
    raise ImportError(f'FBX files need Blender\'s Python module (bpy), '
                      f'missing here (Python {version}): {INSTALL_HINT}.'
                      ) from e
  return bpy


@contextlib.contextmanager
def _blender_output(what: str) -> Iterator[None]:
  """Blender's prints and logs (C and Python, stdout and stderr) go to a
  temporary file while the block runs; an error out of the block is raised
  again as a RuntimeError naming `what`, with the log's last lines."""
  with tempfile.TemporaryFile(mode='w+b') as log:
    for stream in (sys.stdout, sys.stderr):
      stream.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    failure = None
    try:
      yield
    except Exception as e:  # pylint: disable=broad-except
      failure = e
    finally:
      for stream in (sys.stdout, sys.stderr):
        stream.flush()
      os.dup2(saved[0], 1)
      os.dup2(saved[1], 2)
      for fd in saved:
        os.close(fd)
    if failure is not None:
      log.seek(0)
      lines = log.read().decode('utf-8', 'replace').strip().splitlines()
      tail = '\n'.join(lines[-_LOG_LINES:])
      raise RuntimeError(f'Blender could not {what}: {failure}'
                         + (f'\nBlender said:\n{tail}' if tail else '')
                         ) from failure


def _empty_scene(bpy):
  """Factory settings and an empty scene (no cube, camera or light)."""
  bpy.ops.wm.read_factory_settings(use_empty=True)
  return bpy.context.scene


def _armature(bpy, path: pathlib.Path):
  """The one armature object in the scene."""
  armatures = [o for o in bpy.data.objects if o.type == 'ARMATURE']
  if len(armatures) != 1:
    raise ValueError(f'{path}: expected one armature in Blender, found '
                     f'{len(armatures)}.')
  return armatures[0]


def _key_frames(armature) -> np.ndarray:
  """[K] the frames the armature's action keys, sorted."""
  action = (armature.animation_data.action
            if armature.animation_data else None)
  if action is None:
    return np.zeros(0)
  frames = {point.co[0] for curve in action.fcurves
            for point in curve.keyframe_points}
  return np.array(sorted(frames), np.float64)


def glb_to_fbx(glb: str | pathlib.Path, path: str | pathlib.Path,
               fps: float | None = None) -> pathlib.Path:
  """An animated .glb (`write.write_glb`) -> an .fbx by Blender's exporter.

  Args:
    glb: the .glb to convert.
    path: the .fbx to write (replaced whole, or left as it was on error).
    fps: the .glb's frame rate (30 when None, as `write.write_glb`): glTF
      keys times in seconds; the FBX keys frames at this rate.

  Returns:
    `path`.

  Raises:
    ImportError: bpy is missing (`INSTALL_HINT`).
    FileNotFoundError: `glb` does not exist.
    RuntimeError: Blender failed to import or export (its log attached).
  """
  bpy = import_bpy()
  glb, path = pathlib.Path(glb), pathlib.Path(path)
  if not glb.is_file():
    raise FileNotFoundError(f'no .glb at {glb}.')
  fps = float(fps or 30.0)
  whole = max(1, round(fps))
  handle, partial = tempfile.mkstemp(suffix='.fbx', prefix=f'.{path.stem}-',
                                     dir=path.parent)
  os.close(handle)
  try:
    with _blender_output(f'convert {glb} to FBX'):
      scene = _empty_scene(bpy)
      # Blender's rate is fps / fps_base; its glTF importer (4.2) keys a
      # time t at frame t * fps * fps_base, so this puts key k at frame k.
      scene.render.fps, scene.render.fps_base = whole, fps / whole
      bpy.ops.import_scene.gltf(filepath=str(glb), disable_bone_shape=True,
                                import_shading='SMOOTH')
      scene.render.fps_base = whole / fps
      armature = _armature(bpy, glb)
      frames = _key_frames(armature)
      if len(frames):
        # The keys are float32 seconds: frame k is off by ~1e-5 frames.
        if np.abs(frames - np.round(frames)).max() > 1e-3:
          raise ValueError(f'{glb}: keys are not at whole frames at {fps} '
                           'fps.')
        scene.frame_start, scene.frame_end = (int(round(frames[0])),
                                              int(round(frames[-1])))
      bpy.ops.export_scene.fbx(
          filepath=partial, object_types={'ARMATURE', 'MESH'},
          apply_scale_options='FBX_SCALE_ALL', axis_forward='-Z',
          axis_up='Y', use_mesh_modifiers=False, add_leaf_bones=False,
          bake_anim=bool(len(frames)), bake_anim_use_all_bones=True,
          bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
          bake_anim_force_startend_keying=True, bake_anim_step=1.0,
          bake_anim_simplify_factor=0.0)
    os.replace(partial, path)
  finally:
    if os.path.exists(partial):
      os.remove(partial)
  return path


def _import(bpy, path: pathlib.Path) -> None:
  """`path` imported by Blender's own importer, default settings but the
  BVH's rate and length, which its importer takes only when asked."""
  suffix = path.suffix.lower()
  if suffix == '.fbx':
    bpy.ops.import_scene.fbx(filepath=str(path))
  elif suffix in ('.glb', '.gltf'):
    bpy.ops.import_scene.gltf(filepath=str(path))
  else:
    bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=True,
                            update_scene_duration=True)


def _vertices(bpy, armature) -> np.ndarray:
  """[V, 3] world positions of the mesh the armature deforms, as Blender
  shows it now (modifiers applied)."""
  meshes = [o for o in bpy.data.objects if o.type == 'MESH' and any(
      m.type == 'ARMATURE' and m.object == armature for m in o.modifiers)]
  if len(meshes) != 1:
    raise ValueError(f'expected one mesh skinned to {armature.name}, found '
                     f'{len(meshes)}.')
  evaluated = meshes[0].evaluated_get(
      bpy.context.evaluated_depsgraph_get())
  mesh = evaluated.to_mesh()
  try:
    local = np.zeros(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get('co', local)
  finally:
    evaluated.to_mesh_clear()
  world = np.asarray(evaluated.matrix_world)
  return local.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]


def read_in_blender(path: str | pathlib.Path,
                    with_vertices: bool = False) -> dict[str, Any]:
  """A track file as Blender sees it: imported into an empty scene by
  Blender's own importer, played key by key.

  Args:
    path: a .fbx, .glb (.gltf) or .bvh.
    with_vertices: also the skinned mesh's vertices per key (a .fbx or
      .glb).

  Returns:
    'bones': the armature's B bone names, in Blender's order;
    'frames': [K] the keyed frames (every bone channel's, sorted);
    'fps': Blender's frame rate after the import (fps / fps_base; a .glb
      carries none, so this is the empty scene's 24);
    'times': [K] seconds of each key from the first (frames / fps);
    'heads': [K, B, 3] each bone's head (its joint) per key, camera frame,
      metres;
    'vertices': [K, V, 3] with `with_vertices`, camera frame, metres.

  Raises:
    ImportError: bpy is missing (`INSTALL_HINT`).
    FileNotFoundError: no file at `path`.
    ValueError: not one of `FORMATS`, or not one armature in it.
    RuntimeError: Blender's importer failed (its log attached).
  """
  path = pathlib.Path(path)
  if path.suffix.lower() not in FORMATS:
    raise ValueError(f'{path}: Blender reads {", ".join(FORMATS)} here, '
                     f'not {path.suffix or "a file without a suffix"}.')
  if not path.is_file():
    raise FileNotFoundError(f'no file at {path}.')
  bpy = import_bpy()
  with _blender_output(f'read {path}'):
    scene = _empty_scene(bpy)
    _import(bpy, path)
  armature = _armature(bpy, path)
  frames = _key_frames(armature)
  if not len(frames):  # a still: its one pose
    frames = np.array([float(scene.frame_current)])
  names = [bone.name for bone in armature.data.bones]
  heads, vertices = [], []
  for frame in frames:
    whole = int(np.floor(frame))
    scene.frame_set(whole, subframe=float(frame - whole))
    world = np.asarray(armature.matrix_world)
    local = np.array([armature.pose.bones[name].head for name in names])
    heads.append(local @ world[:3, :3].T + world[:3, 3])
    if with_vertices:
      vertices.append(_vertices(bpy, armature))
  fps = scene.render.fps / scene.render.fps_base
  out = {'bones': names, 'frames': frames, 'fps': fps,
         'times': (frames - frames[0]) / fps,
         'heads': np.stack(heads) @ BLENDER_TO_CAMERA.T}
  if with_vertices:
    out['vertices'] = np.stack(vertices) @ BLENDER_TO_CAMERA.T
  return out
