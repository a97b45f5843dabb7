"""FBX through Blender (smplr_jax.predict.blender): a track's .fbx, .glb and
.bvh imported by Blender's own importers give the track's bones, frame
count, frame rate, joints and mesh."""

import importlib.util
import os
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax import cli, console
from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.predict import blender, demo, write

needs_bpy = pytest.mark.skipif(
    importlib.util.find_spec('bpy') is None,
    reason=f'needs the [fbx] extra: {blender.INSTALL_HINT}')
T = 8
FPS = 25.0  # neither Blender's default (24) nor write_glb's (30)
# Measured (Blender 4.2.0, this track): bone heads and skinned vertices
# within 0.0022 mm of our forward in every format (float32 files; 0.0036 mm
# on a 150-frame track). A .glb's four weights per vertex are up to 15 mm
# off here: the .fbx's eight must be our forward's skin to pass.
ATOL = 1e-5  # metres


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load(with_neutral=True)


@pytest.fixture(scope='module')
def track(body):
  """A random track with its forward: camera-frame joints [T, 24, 3] (the
  track's root_cam + joints) and vertices with every skin weight and with
  each vertex's four largest (what a .glb skins with)."""
  rng = np.random.default_rng(0)
  pose = np.asarray(rotations.axis_angle_to_matrix(
      jnp.asarray(rng.normal(0, 0.4, (T, 24, 3)), jnp.float32)))
  track = {'frames': np.arange(3, 3 + T), 'pose': pose,
           'betas': np.tile(rng.normal(0, 1, 10).astype(np.float32),
                            (T, 1)),
           'gender': np.ones(T, np.int32),
           'root_cam': np.stack([np.linspace(0, 0.5, T), np.zeros(T),
                                 np.full(T, 4.0)], -1)}
  root = track['root_cam'][:, None]

  def forward(model):
    return smpl.smpl_forward(model, jnp.asarray(pose),
                             jnp.asarray(track['betas']),
                             gender=jnp.asarray(track['gender']))

  full = forward(body.gendered)
  track['joints'] = np.asarray(full.joints - full.joints[:, :1])
  track['vertices'] = np.asarray(full.vertices - full.joints[:, :1]) + root
  four = forward(write.top_weights_model(body.gendered, 4))
  track['vertices_4'] = np.asarray(four.vertices - four.joints[:, :1]) + root
  return track


@pytest.fixture(scope='module')
def files(body, track, tmp_path_factory):
  """The track's .glb and .bvh as the demo writes them, and its .fbx as
  `write_clip_outputs(fbx=True)` does (from eight weights per vertex)."""
  folder = tmp_path_factory.mktemp('blender')
  full = write.write_glb(folder / 'eight.glb', track, body.gendered, FPS,
                         weights_per_vertex=8)
  return {'fbx': blender.glb_to_fbx(full, folder / 'track.fbx', FPS),
          'glb': write.write_glb(folder / 'track.glb', track, body.gendered,
                                 FPS),
          'bvh': write.write_bvh(folder / 'track.bvh', track, body.gendered,
                                 FPS)}


@needs_bpy
@pytest.mark.parametrize('kind, fps, skin', [
    ('fbx', FPS, 'vertices'),  # eight weights per vertex: our forward
    ('glb', 24.0, 'vertices_4'),  # glTF has no rate: the scene's stays
    ('bvh', FPS, None),  # a skeleton only
])
def test_blender_reads_our_track(files, track, kind, fps, skin):
  """Each file imported by Blender's own importer: our 24 bones, one key
  per frame, the track's rate (key times k / 25 s) and its joints (and
  mesh) per frame, in metres, within ATOL."""
  reading = blender.read_in_blender(files[kind], with_vertices=bool(skin))
  assert sorted(reading['bones']) == sorted(write.JOINT_NAMES)
  assert len(reading['frames']) == T
  assert reading['fps'] == pytest.approx(fps)
  np.testing.assert_allclose(reading['times'], np.arange(T) / FPS, rtol=0,
                             atol=1e-5)
  order = [reading['bones'].index(name) for name in write.JOINT_NAMES]
  np.testing.assert_allclose(reading['heads'][:, order],
                             track['root_cam'][:, None] + track['joints'],
                             rtol=0, atol=ATOL)
  if skin:
    np.testing.assert_allclose(reading['vertices'], track[skin], rtol=0,
                               atol=ATOL)


def _global_settings(path) -> dict:
  """The GlobalSettings of an FBX file, read by the FBX add-on's parser
  (not its importer)."""
  from io_scene_fbx import parse_fbx  # pylint: disable=g-import-not-at-top
  root, _ = parse_fbx.parse(str(path))
  (settings,) = [e for e in root.elems if e.id == b'GlobalSettings']
  (properties,) = [e for e in settings.elems if e.id == b'Properties70']
  return {p.props[0].decode(): p.props[4] for p in properties.elems}


@needs_bpy
def test_fbx_says_y_up_metres_and_its_rate(files):
  """What any FBX reader takes from the file itself: y up, one unit a
  metre (UnitScaleFactor in centimetres), 25 frames a second."""
  settings = _global_settings(files['fbx'])
  assert (settings['UpAxis'], settings['UpAxisSign']) == (1, 1)
  assert (settings['FrontAxis'], settings['FrontAxisSign']) == (2, 1)
  assert settings['UnitScaleFactor'] == 100.0
  assert settings['CustomFrameRate'] == FPS


@needs_bpy
def test_clip_outputs_write_the_fbx(body, track, tmp_path):
  """`write_clip_outputs(fbx=True)` (`--fbx`): track_0.fbx beside the
  other files, read back with every frame."""
  result = {'tracks': [track], 'fps': FPS, 'num_frames': T + 3,
            'skipped_frames': 0, 'image_size': [64, 64], 'focal': 100.0}
  paths = write.write_clip_outputs(result, 'unused.mp4', tmp_path / 'out',
                                   body, track_vertices=None, overlay=False,
                                   fbx=True)
  assert sorted(paths) == sorted(f'track_0.{s}' for s in (
      'npz', 'json', 'bvh', 'glb', 'fbx')) + ['video.json']
  reading = blender.read_in_blender(paths['track_0.fbx'])
  assert len(reading['frames']) == T and reading['fps'] == FPS


@needs_bpy
def test_blender_failures_are_clear_and_leave_nothing(tmp_path):
  with pytest.raises(FileNotFoundError, match='no .glb at'):
    blender.glb_to_fbx(tmp_path / 'none.glb', tmp_path / 'out.fbx')
  with pytest.raises(ValueError, match='Blender reads .fbx, .glb'):
    blender.read_in_blender(tmp_path / 'track.obj')
  junk = tmp_path / 'junk.glb'
  junk.write_bytes(b'not a glTF file' * 10)
  with pytest.raises(RuntimeError, match='Blender could not convert'):
    blender.glb_to_fbx(junk, tmp_path / 'out.fbx')
  assert sorted(os.listdir(tmp_path)) == ['junk.glb']  # no partial .fbx
  junk = junk.rename(tmp_path / 'junk.fbx')
  with pytest.raises(RuntimeError, match='Blender could not read'):
    blender.read_in_blender(junk)


def test_missing_bpy_is_one_line_before_any_work(tmp_path, monkeypatch,
                                                 capsys):
  """Without bpy (as on Python other than 3.11): an ImportError naming the
  extra; the demo's --fbx says it in one line before reading the clip (a
  missing clip is not what it reports) and writes nothing."""
  monkeypatch.setitem(sys.modules, 'bpy', None)  # `import bpy` fails
  with pytest.raises(ImportError, match=r'pip install -e "\.\[fbx\]"'):
    blender.import_bpy()
  with pytest.raises(ImportError, match='bpy'):  # said before the .glb
    blender.glb_to_fbx(tmp_path / 'none.glb', tmp_path / 'track.fbx', FPS)
  with pytest.raises(ValueError, match=r'\[fbx\]'):
    demo.run_video(str(tmp_path / 'none.mp4'), str(tmp_path / 'out'),
                   fbx=True)
  monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
  assert console.main(['demo', f'--video={tmp_path / "none.mp4"}',
                       f'--output={tmp_path / "out"}', '--fbx']) == 1
  error = capsys.readouterr().err
  assert error.startswith('error: FBX files need Blender') and error.count(
      '\n') == 1, error
  assert console.main(['demo', '--image=p.jpg', f'--output={tmp_path}',
                       '--fbx']) == 1
  assert '--fbx is for clips' in capsys.readouterr().err
  assert not os.listdir(tmp_path)
