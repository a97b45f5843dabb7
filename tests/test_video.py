"""Video (smplr_jax.predict.video) and the animation files
(smplr_jax.predict.write): smoothing, tracking, motion, and every written
file read back by an independent reader against our SMPL forward."""

import fractions
import json
import os
import pathlib
import subprocess
import sys
import types

import av
import bvh
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import helpers
from helpers import glb_accessor
from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.data import motion
from smplr_jax.evaluation import renders
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import read, settings, stream, video, write
from smplr_jax.predict import predictor as predictor_lib

UNAVAILABLE = detector_lib.availability()
NEEDS_DETECTOR = f'needs the [detector] extra: {UNAVAILABLE}'
needs_mediapipe = pytest.mark.skipif(UNAVAILABLE is not None,
                                     reason=NEEDS_DETECTOR)
T = 6


@pytest.fixture(scope='module')
def body():
  return gendered.GenderedModels.load(with_neutral=True)


@pytest.fixture(scope='module')
def track():
  rng = np.random.default_rng(0)
  pose = np.asarray(rotations.axis_angle_to_matrix(
      jnp.asarray(rng.normal(0, 0.4, (T, 24, 3)), jnp.float32)))
  return {'frames': np.arange(3, 3 + T), 'pose': pose,
          'betas': np.tile(rng.normal(0, 1, 10).astype(np.float32), (T, 1)),
          'gender': np.ones(T, np.int32),
          'root_cam': np.stack([np.linspace(0, 0.5, T), np.zeros(T),
                                np.full(T, 4.0)], -1),
          'joints': np.zeros((T, 24, 3))}


def _forward(body, track, model=None):
  """Camera-frame joints and vertices of a track (our SMPL forward; model:
  another than body.gendered, e.g. its skin cut to four weights)."""
  model = body.gendered if model is None else model
  out = smpl.smpl_forward(model, jnp.asarray(track['pose']),
                          jnp.asarray(track['betas']),
                          gender=jnp.asarray(track['gender']))
  root = np.asarray(track['root_cam'])[:, None]
  return (np.asarray(out.joints - out.joints[:, :1]) + root,
          np.asarray(out.vertices - out.joints[:, :1]) + root)


def test_smoothing_is_gaussian_causal_and_skips_missing_frames():
  rng = np.random.default_rng(1)
  values = rng.normal(size=(40, 2))
  offline = video.smooth(values, 2.0)
  causal = video.smooth(values, 2.0, lag=0)
  lagged = video.smooth(values, 2.0, lag=3)
  assert np.std(np.diff(offline, axis=0)) < 0.5 * np.std(np.diff(values,
                                                                 axis=0))
  changed = values.copy()
  changed[25:] += 10.0  # the future changes
  np.testing.assert_allclose(video.smooth(changed, 2.0, lag=0)[:25],
                             causal[:25])
  # With a lag of 3, frames up to 21 are final before frame 25 is read.
  np.testing.assert_allclose(video.smooth(changed, 2.0, lag=3)[:22],
                             lagged[:22])
  assert np.abs(video.smooth(changed, 2.0, lag=3)[22] - lagged[22]).max(
  ) > 0.01
  assert np.abs(video.smooth(changed, 2.0)[24] - offline[24]).max() > 1.0
  # A window of its own frames gives a frame the clip's value.
  np.testing.assert_allclose(video.smooth(values[12:24], 2.0, lag=3)[8],
                             lagged[20], rtol=0, atol=1e-12)
  with_gap = values.copy()
  with_gap[10:13] = np.nan
  out = video.smooth(with_gap, 2.0)
  assert np.all(np.isfinite(out))  # a short gap is bridged
  constant = np.full((20, 3), 2.0)
  constant[5] = np.nan
  np.testing.assert_allclose(video.smooth(constant, 2.0, lag=0), 2.0)


def test_the_causal_window_is_set_in_seconds():
  causal = settings.VideoSettings(mode='causal')
  assert causal.causal_window(30.0) == (pytest.approx(4.0), 4)
  assert causal.causal_window(None) == causal.causal_window(30.0)
  assert causal.causal_window(10.0) == (pytest.approx(4 / 3), 1)
  assert causal.causal_window(60.0)[1] == 8
  with pytest.raises(ValueError, match='causal_lag_s'):
    settings.VideoSettings(causal_lag_s=-0.1)
  with pytest.raises(ValueError, match='causal_sigma_s'):
    settings.VideoSettings(causal_sigma_s=0.0)


def test_tracking_keeps_ids_through_a_short_gap():
  def det(x):
    return types.SimpleNamespace(box=np.array([x, 100.0, x + 80, 300.0]))

  per_frame = []
  for t in range(30):
    people = [det(50 + 2 * t)]  # walks right
    if not 10 <= t < 14:  # the second person leaves for 4 frames
      people.append(det(400 - t))
    per_frame.append((t, people))
  tracks = video.track_detections(per_frame)
  assert len(tracks) == 2
  assert [len(t) for t in tracks] == [30, 26]
  assert all(d.box[0] < 200 for _, d in tracks[0])
  # Gone longer than the gap: a new track.
  per_frame = [(t, [det(50)]) for t in range(5)] + [
      (t, [det(50)]) for t in range(5 + settings.VideoSettings.max_gap + 5, 40)]
  assert len(video.track_detections(per_frame)) == 2


def test_smooth_motion_has_smooth_joint_trajectories(body):
  rot = motion.smooth_motion(seed=3, num_frames=61, frames_per_key=20)
  assert rot.shape == (61, 24, 3, 3)
  np.testing.assert_allclose(np.einsum('tjab,tjcb->tjac', rot, rot),
                             np.broadcast_to(np.eye(3), rot.shape),
                             atol=1e-5)
  joints = np.asarray(smpl.smpl_forward(
      body.gendered, jnp.asarray(rot), jnp.zeros((61, 10)),
      gender=jnp.zeros(61, jnp.int32)).joints)
  speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean()
  accel = np.linalg.norm(np.diff(joints, 2, axis=0), axis=-1).mean()
  assert speed > 0.002  # it moves
  assert accel < 0.3 * speed  # smoothly


def test_glb_files_pass_the_khronos_validator(body, track, tmp_path):
  """Every .glb we write, animated and static, has 0 errors and 0 warnings
  in the Khronos glTF validator (it reported 1000+ warnings on a track:
  the skinned mesh's node under a parent, joints named with zero weight)."""
  validator = helpers.gltf_validator()
  animated = write.write_glb(tmp_path / 'track.glb', track, body.gendered, 30)
  one_frame = write.write_glb(tmp_path / 'still.glb', track, body.gendered,
                              30, frame_range=(0, 1))
  vertices = np.asarray(smpl.smpl_forward(
      body.gendered, jnp.asarray(track['pose'][:2]), jnp.zeros((2, 10)),
      gender=jnp.zeros(2, jnp.int32)).vertices) + [0.0, 0.0, 3.0]
  faces = np.asarray(body.gendered.faces)
  static = write.write_mesh_glb(tmp_path / 'people.glb',
                                [(vertices[0], faces), (vertices[1], faces)])
  for path in (animated, one_frame, static):
    report = helpers.gltf_validator_report(validator, path)
    assert (report['errors'], report['warnings']) == (0, 0), (path, report)


def test_four_weights_cost_little(body, track):
  """The default .glb skin (four weights per vertex) against our forward:
  most vertices exact, the rest within a few millimetres; eight are exact
  (the default body has up to seven)."""
  gender = np.asarray(track['gender'])
  four = write.skinning_error(body.gendered, track['pose'], track['betas'],
                              gender, 4)
  eight = write.skinning_error(body.gendered, track['pose'],
                               track['betas'], gender, 8)
  assert eight.max() < 1e-5
  moved = np.mean(four > 1e-6)  # vertices with more than four influences
  assert 0.02 < moved < 0.3 and 0.002 < four.max() < 0.03, (
      moved, four.max())
  with pytest.raises(ValueError, match='must be 4 or 8'):
    write.write_glb('never.glb', track, body.gendered, weights_per_vertex=6)


def test_bvh_end_sites_are_bones(body, track, tmp_path):
  """A BVH's end sites (head, hands, feet) have non-zero offsets, along
  their leaf's bone: with zero ones Blender warns of zero-length bones and
  drops them."""
  path = write.write_bvh(tmp_path / 'track.bvh', track, body.gendered, 25)
  lines = path.read_text().splitlines()
  ends = [np.array(lines[i + 2].split()[1:], float)
          for i, line in enumerate(lines) if line.strip() == 'End Site']
  assert len(ends) == 5  # the head, both hands, both feet
  lengths = np.linalg.norm(ends, axis=1)
  assert np.all(lengths > 0.02) and np.all(lengths < 0.2), lengths


@pytest.mark.parametrize('count', [4, 8])
def test_glb_skinned_pose_reproduces_our_forward(body, track, tmp_path,
                                                 count):
  """The .glb read back without any glTF library: its skin, evaluated at
  every frame from its animation, gives our SMPL forward to 1 mm: exactly
  with eight weights per vertex, with four (the default, one set) that of
  the skin cut to each vertex's largest four (`top_weights_model`)."""
  path = write.write_glb(tmp_path / 'track.glb', track, body.gendered, 30,
                         weights_per_vertex=count)
  document, binary = write.read_glb(path)

  def accessor(i):
    return glb_accessor(document, binary, i)

  attributes = document['meshes'][0]['primitives'][0]['attributes']
  assert ('JOINTS_1' in attributes) == (count == 8)
  rest = accessor(attributes['POSITION'])
  sets = range(count // 4)
  joint_ids = np.concatenate([accessor(attributes[f'JOINTS_{i}'])
                              for i in sets], 1)
  weights = np.concatenate([accessor(attributes[f'WEIGHTS_{i}'])
                            for i in sets], 1)
  inverse_bind = accessor(document['skins'][0]['inverseBindMatrices']
                          ).reshape(24, 4, 4).transpose(0, 2, 1)
  animation = document['animations'][0]
  assert len(animation['channels']) == 25
  times = accessor(animation['samplers'][0]['input'])[:, 0]
  np.testing.assert_allclose(np.diff(times), 1 / 30, rtol=1e-5)
  parent = {c: p for p, node in enumerate(document['nodes'])
            for c in node.get('children', [])}
  joints, vertices = _forward(body, track, None if count == 8 else
                              write.top_weights_model(body.gendered, count))
  for t in range(T):
    local = {}
    for channel in animation['channels']:
      sampler = animation['samplers'][channel['sampler']]
      local.setdefault(channel['target']['node'], {})[
          channel['target']['path']] = accessor(sampler['output'])[t]
    world = []
    for j in range(24):
      matrix = np.eye(4)
      matrix[:3, :3] = Rotation.from_quat(local[j]['rotation']).as_matrix()
      matrix[:3, 3] = local[j].get('translation',
                                   document['nodes'][j]['translation'])
      world.append(matrix if j == 0 else world[parent[j]] @ matrix)
    skin = np.einsum('vk,vkab->vab', weights,
                     (np.stack(world) @ inverse_bind)[joint_ids.astype(int)])
    posed = np.einsum('vab,vb->va', skin[:, :3, :3], rest) + skin[:, :3, 3]
    np.testing.assert_allclose(posed @ write.FLIP, vertices[t], atol=1e-3)
    np.testing.assert_allclose(np.stack(world)[:, :3, 3] @ write.FLIP,
                               joints[t], atol=1e-3)


def test_bvh_reproduces_our_joints(body, track, tmp_path):
  """The BVH read back by the `bvh` package: forward kinematics of its
  offsets and channels give our joints to 1 mm; frame count and rate."""
  path = write.write_bvh(tmp_path / 'track.bvh', track, body.gendered, 25)
  mocap = bvh.Bvh(path.read_text())
  names = mocap.get_joints_names()
  assert len(names) == 24 and mocap.nframes == T
  assert abs(mocap.frame_time - 1 / 25) < 1e-6
  joints, _ = _forward(body, track)
  for t in range(T):
    world, position = {}, {}
    for name in names:
      offset = np.asarray(mocap.joint_offset(name))
      angles = mocap.frame_joint_channels(
          t, name, ['Zrotation', 'Xrotation', 'Yrotation'])
      local = Rotation.from_euler('ZXY', angles, degrees=True).as_matrix()
      parent = mocap.joint_parent(name)
      if parent is None:
        position[name] = np.asarray(mocap.frame_joint_channels(
            t, name, ['Xposition', 'Yposition', 'Zposition']))
        world[name] = local
      else:
        position[name] = (position[parent.name] +
                          world[parent.name] @ offset)
        world[name] = world[parent.name] @ local
    # The file lists joints depth first: compare by name.
    found = np.stack([position[n] for n in write.JOINT_NAMES]) @ write.FLIP
    np.testing.assert_allclose(found, joints[t], atol=1e-3)


def test_track_files_round_trip(track, tmp_path):
  npz = np.load(write.write_track_npz(tmp_path / 't.npz', track, 30.0))
  assert npz['pose_axis_angle'].shape == (T, 24, 3)
  np.testing.assert_allclose(
      np.asarray(rotations.axis_angle_to_matrix(
          jnp.asarray(npz['pose_axis_angle']))), track['pose'], atol=1e-5)
  np.testing.assert_array_equal(npz['frames'], track['frames'])
  assert float(npz['fps']) == 30.0
  data = json.loads(write.write_track_json(tmp_path / 't.json', track,
                                            30.0).read_text())
  assert len(data['pose_axis_angle']) == T and data['fps'] == 30.0
  assert len(data['joint_names']) == 24


def test_bad_video_files_are_one_clear_error(tmp_path):
  with pytest.raises(read.VideoError, match='does not exist'):
    read.open_video(tmp_path / 'missing.mp4')
  junk = tmp_path / 'junk.mp4'
  junk.write_bytes(b'not a video at all' * 100)
  with pytest.raises(read.VideoError, match='not a video'):
    read.open_video(junk)


def write_clip(path: pathlib.Path, frames, fps=30,
               times=None) -> pathlib.Path:
  """Frames -> an MPEG-4 file through PyAV; with `times` (seconds) the
  frames' timestamps are those times (millisecond time base)."""
  with av.open(str(path), 'w') as container:
    stream = container.add_stream('mpeg4', rate=fps)
    stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
    stream.pix_fmt = 'yuv420p'
    stream.bit_rate = 4_000_000
    if times is not None:
      stream.codec_context.time_base = fractions.Fraction(1, 1000)
    for index, frame in enumerate(frames):
      image = av.VideoFrame.from_ndarray(frame, format='rgb24')
      if times is not None:
        image.pts = int(round(times[index] * 1000))
        image.time_base = fractions.Fraction(1, 1000)
      for packet in stream.encode(image):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return path


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
  records = renders.render_motion_clip(2024, 24, 512)
  path = write_clip(tmp_path_factory.mktemp('clip') / 'clip.mp4',
                    [r['image'] for r in records])
  return path, records


@pytest.fixture(scope='module')
def pipeline():
  if UNAVAILABLE is not None:
    pytest.skip(NEEDS_DETECTOR)
  return predictor_lib.load_pipeline()


@pytest.fixture(scope='module')
def clip_result(clip, pipeline):
  """`predict_video` of the clip file (offline, the defaults)."""
  return pipeline.predict_video(clip[0])


@needs_mediapipe
def test_predict_video_tracks_one_shape_and_smooths(clip, clip_result, body):
  """One track, one shape; smoother than its per-frame fits; closer to the
  truth than the track held still (at its mean pose or at its middle
  frame), and moving with the truth.

  Measured (this clip, offline): joint error 167 mm; held still at the
  track's mean pose 207 mm, at its middle frame 217 mm. Each frame's
  displacement from the clip's mean: 79 mm off the truth's, 139 mm for a
  track held still. Joint velocities (every joint, axis and frame)
  correlate with the truth's at r = 0.85; the per-frame fits' at 0.13, the
  track played backwards at -0.59, smoothed noise within +-0.14."""
  path, records = clip
  frames = read.open_video(path)
  assert frames.fps == pytest.approx(30.0)
  result = clip_result
  assert result['num_frames'] == 24 and result['skipped_frames'] == 0
  assert result['fps'] == pytest.approx(30.0)
  track = max(result['tracks'], key=lambda t: len(t['frames']))
  assert len(track['frames']) >= 18
  # One shape per track (offline).
  np.testing.assert_allclose(
      track['betas'], np.broadcast_to(track['betas'][0], track['betas'].shape))
  assert len(set(track['gender'].tolist())) == 1
  truth = renders.ground_truth(
      [records[i] for i in track['frames']], body)['joints']
  joints = track['joints']

  def jitter(joints):
    return np.linalg.norm(np.diff(joints, 2, axis=0), axis=-1).mean()

  def error(joints):  # metres, the 23 joints below the root
    return np.linalg.norm(joints - truth, axis=-1)[:, 1:].mean()

  def motion_error(joints):  # displacements from each clip's own mean
    return error(joints - joints.mean(0) + truth.mean(0))

  def held_still(pose):
    return np.broadcast_to(pose, joints.shape)

  assert jitter(joints) < 0.7 * jitter(track['per_frame_joints'])
  mean_pose, middle = held_still(joints.mean(0)), held_still(
      joints[len(joints) // 2])
  assert error(joints) < 0.2, error(joints)
  assert error(joints) < 0.9 * min(error(mean_pose), error(middle)), (
      error(joints), error(mean_pose), error(middle))
  assert motion_error(joints) < 0.7 * motion_error(middle), (
      motion_error(joints), motion_error(middle))
  velocity = np.diff(joints, axis=0)[:, 1:].reshape(-1)
  true_velocity = np.diff(truth, axis=0)[:, 1:].reshape(-1)
  correlation = np.corrcoef(velocity, true_velocity)[0, 1]
  assert correlation > 0.6, correlation  # NaN (held still) fails too


@needs_mediapipe
def test_a_truncated_video_keeps_what_decodes(clip, pipeline, tmp_path):
  path, _ = clip
  data = path.read_bytes()
  cut = tmp_path / 'cut.mp4'
  cut.write_bytes(data[:len(data) * 2 // 3])
  try:
    result = pipeline.predict_video(cut)
  except read.VideoError as e:  # the index was cut off: nothing decodes
    assert 'video' in str(e)
  else:
    assert 0 < result['num_frames'] < 24


def _glb_animation(path: pathlib.Path) -> dict[str, np.ndarray]:
  """An animated .glb read back (`write.read_glb`): key times [T], each
  joint's rotation [T, 24, 3, 3] and the root's translation [T, 3], in the
  file's y-up frame."""
  document, binary = write.read_glb(path)
  (animation,) = document['animations']
  quats, translation, times = {}, None, None
  for channel in animation['channels']:
    sampler = animation['samplers'][channel['sampler']]
    values = glb_accessor(document, binary, sampler['output'])
    times = glb_accessor(document, binary, sampler['input'])[:, 0]
    if channel['target']['path'] == 'rotation':
      quats[channel['target']['node']] = values
    else:
      assert channel['target'] == {'node': 0, 'path': 'translation'}
      translation = values
  assert sorted(quats) == list(range(24))
  rotation = Rotation.from_quat(np.stack([quats[j] for j in range(24)], 1)
                                .reshape(-1, 4)).as_matrix()
  return {'times': times, 'translation': translation,
          'rotation': rotation.reshape(len(times), 24, 3, 3)}


def test_a_variable_frame_rate_keeps_its_times(body, track, tmp_path):
  """A clip whose frames come 1/30 s and 1/10 s apart in turn: the reader
  gives each frame its timestamp, the .glb's keys fall at those times and
  the BVH (one frame time) takes their mean interval."""
  times = np.cumsum([0.0] + [1 / 30 if i % 2 else 1 / 10
                             for i in range(T - 1)])
  frames = [np.full((64, 64, 3), 20 * i, np.uint8) for i in range(T)]
  path = write_clip(tmp_path / 'vfr.mp4', frames, times=times)
  clip = read.open_video(path)
  assert len(list(clip)) == T
  np.testing.assert_allclose(clip.times, times, atol=1e-3)
  timed = {**track, 'times': np.asarray(clip.times) + 5.0}
  write.write_glb(tmp_path / 'vfr.glb', timed, body.gendered, fps=30.0)
  np.testing.assert_allclose(_glb_animation(tmp_path / 'vfr.glb')['times'],
                             times, atol=1e-3)
  write.write_bvh(tmp_path / 'vfr.bvh', timed, body.gendered, 30.0)
  (frame_time,) = [float(line.split(':')[1]) for line in (
      tmp_path / 'vfr.bvh').read_text().splitlines()
                    if line.startswith('Frame Time:')]
  assert frame_time == pytest.approx(times[-1] / (T - 1), abs=1e-4)
  # Without times (or with times that do not increase): 1 / fps.
  write.write_glb(tmp_path / 'plain.glb', {**timed, 'times': timed['times'][
      ::-1]}, body.gendered, fps=25.0)
  np.testing.assert_allclose(_glb_animation(tmp_path / 'plain.glb')['times'],
                             np.arange(T) / 25.0, atol=1e-6)


@needs_mediapipe
def test_demo_video_writes_every_file(clip, clip_result, tmp_path):
  """`python -m experiments.demo --video=CLIP` as a user runs it: every
  file written and read back; the track's .npz holds `predict_video`'s
  track of the same clip, and its animated .glb the .npz's pose and root,
  frame by frame (frames that differ from each other); a missing clip is
  one line, nothing written."""
  path, _ = clip
  root = pathlib.Path(__file__).resolve().parents[1]
  env = dict(os.environ, PYTHONPATH=str(root), JAX_PLATFORMS='cpu')
  output = tmp_path / 'out'
  run = subprocess.run([sys.executable, '-m', 'experiments.demo',
                        f'--video={path}', f'--output={output}'],
                       capture_output=True, text=True, env=env, cwd=root,
                       timeout=900, check=False)
  assert run.returncode == 0, run.stderr[-2000:]
  summary = json.loads((output / 'video.json').read_text())
  assert summary['num_frames'] == 24 and summary['tracks']
  first = summary['tracks'][0]
  npz = np.load(output / 'track_0.npz')
  assert npz['pose_axis_angle'].shape == (first['num_frames'], 24, 3)
  # The files hold the body that `predict_video` gives.
  (track,) = clip_result['tracks']
  pose = Rotation.from_rotvec(npz['pose_axis_angle'].reshape(-1, 3)
                              ).as_matrix().reshape(track['pose'].shape)
  np.testing.assert_allclose(pose, track['pose'], rtol=0, atol=2e-5)
  np.testing.assert_array_equal(npz['frames'], track['frames'])
  for key in ('betas', 'gender', 'root_cam', 'joints'):
    np.testing.assert_allclose(npz[key], track[key], rtol=0, atol=1e-5,
                               err_msg=key)
  assert float(npz['fps']) == pytest.approx(30.0)
  # The animation: each frame the .npz's, turned y up (`write.FLIP`).
  glb = _glb_animation(output / 'track_0.glb')
  np.testing.assert_allclose(glb['times'],
                             (npz['frames'] - npz['frames'][0]) / 30.0,
                             rtol=0, atol=1e-5)
  pose[:, 0] = write.FLIP @ pose[:, 0]
  np.testing.assert_allclose(glb['rotation'], pose, rtol=0, atol=2e-5)
  np.testing.assert_allclose(glb['translation'], npz['root_cam'] @ write.FLIP,
                             rtol=0, atol=1e-6)
  # Frames that move: every frame's pose differs from the next one's.
  turns = np.abs(np.diff(glb['rotation'], axis=0)).max(axis=(1, 2, 3))
  assert turns.min() > 5e-3, turns  # measured: 0.017 to 0.051
  mocap = bvh.Bvh((output / 'track_0.bvh').read_text())
  assert mocap.nframes == first['num_frames']
  with av.open(str(output / 'overlay.mp4')) as container:
    frames = sum(1 for _ in container.decode(video=0))
  assert frames == 24
  assert not list(output.parent.glob('.smplr-video-*'))  # staging removed
  run = subprocess.run([sys.executable, '-m', 'experiments.demo',
                        f'--video={tmp_path / "none.mp4"}',
                        f'--output={tmp_path / "bad"}'],
                       capture_output=True, text=True, env=env, cwd=root,
                       timeout=600, check=False)
  assert run.returncode == 1 and 'does not exist' in run.stderr
  assert not (tmp_path / 'bad').exists()


@needs_mediapipe
def test_causal_mode_looks_ahead_only_its_delay(clip, pipeline):
  """mode='causal' end to end, at 10 frames/s (a lag of 1 frame, a delay
  of 3): frame t's body is the same (measured: bit for bit) when every
  frame after t + 3 is replaced by its mirror image (the person still
  there, moving otherwise: the track goes on), while the later bodies
  change."""
  _, records = clip
  frames = [r['image'] for r in records]
  cut = 16
  replaced = frames[:cut] + [f[:, ::-1].copy() for f in frames[cut:]]
  causal = settings.VideoSettings(mode='causal')
  assert causal.causal_window(10.0)[1] == 1
  (plain,) = pipeline.predict_video(frames, fps=10.0,
                                    settings=causal)['tracks']
  (other,) = pipeline.predict_video(replaced, fps=10.0,
                                    settings=causal)['tracks']
  np.testing.assert_array_equal(plain['frames'], np.arange(24))
  np.testing.assert_array_equal(other['frames'], np.arange(24))
  final = cut - 3
  for key in ('pose', 'root_cam', 'joints', 'betas', 'male_probability',
              'gender', 'fit_cost'):
    np.testing.assert_allclose(other[key][:final], plain[key][:final],
                               rtol=0, atol=1e-5, err_msg=key)
  # The replaced frames did change the later bodies (measured: joints up
  # to 0.39 m, roots 5.9 m).
  for key in ('pose', 'root_cam', 'joints'):
    assert np.abs(other[key][cut:] - plain[key][cut:]).max() > 0.01, key


@needs_mediapipe
def test_stream_gives_the_causal_bodies_a_delay_later(clip, pipeline):
  """`VideoStream`: frames pushed one at a time give predict_video's
  causal bodies (measured: joints and roots within 4e-5 m), each frame's
  body returned by the push of the frame 3 lag later, and a track holds
  no more than its windows need."""
  _, records = clip
  frames = [r['image'] for r in records]
  causal = settings.VideoSettings(mode='causal')
  (track,) = pipeline.predict_video(frames, fps=30.0,
                                    settings=causal)['tracks']
  live = pipeline.stream(fps=30.0)
  assert (live.lag, live.delay) == (4, 12)
  bodies, pushed_at, held = [], [], []
  for index, frame in enumerate(frames):
    out = live.push(frame)
    bodies += out
    pushed_at += [index] * len(out)
    held += [len(t.buffers['frame']) for t in live.tracks.values()]
  bodies += live.finish()
  live.close()
  assert [b['frame'] for b in bodies] == list(range(24))
  assert [b['frame'] for b in bodies[:len(pushed_at)]] == [
      i - 12 for i in pushed_at]
  assert max(held) <= live.band + 3 * live.lag + 1
  for key in ('joints', 'root_cam', 'pose', 'betas'):
    np.testing.assert_allclose(np.stack([b[key] for b in bodies]),
                               track[key], rtol=0, atol=1e-4, err_msg=key)
  np.testing.assert_allclose([b['time'] for b in bodies],
                             np.arange(24) / 30.0)
  assert {b['track'] for b in bodies} == {0}
  with pytest.raises(ValueError, match='frame 0'):
    stream.VideoStream(pipeline.photo_path).push(np.zeros((4, 4, 3),
                                                          np.uint8))


@needs_mediapipe
def test_two_people_keep_their_ids(pipeline):
  """Two people walking apart (the renders test_detector finds, cut out
  and moved 4 px per frame over a grey frame): `max_people=2` finds both
  and keeps each on one track."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from smplr_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  renders_11 = list(synthetic.render_examples(
      gendered.load_gendered_models(), 5, 11, config={'batch_size': 5}))
  people = []
  for i in (0, 3):  # found by BlazePose (tests/test_detector.py)
    image = renders_11[i]['image']
    x0, y0, x1, y1 = pipeline.photo_path.detector(image).box.astype(int)
    cut = image[y0:y1, x0:x1]
    width = int(cut.shape[1] * 400 / cut.shape[0])
    people.append(np.asarray(Image.fromarray(cut).resize((width, 400))))
  frames = []
  for t in range(10):
    frame = np.full((420, 860, 3), 200, np.uint8)
    left, right = 420 - 4 * t - people[0].shape[1], 440 + 4 * t
    frame[10:410, left:left + people[0].shape[1]] = people[0]
    frame[10:410, right:right + people[1].shape[1]] = people[1]
    frames.append(frame)
  result = pipeline.predict_video(
      frames, fps=30.0, settings=settings.VideoSettings(max_people=2))
  # BlazePose misses both in a few frames: the tracks bridge those gaps.
  long = [t for t in result['tracks'] if len(t['frames']) >= 6]
  assert len(long) == 2, [t['frames'] for t in result['tracks']]
  for track in long:  # each track stays on its side
    xs = track['keypoints_2d'][..., 0].mean(axis=1)
    assert np.all(xs < 430) or np.all(xs > 430), xs


@needs_mediapipe
def test_one_leaves_and_another_enters(clip, pipeline):
  """One person for 12 frames on the left, an empty stage for 4, then
  another person (another body, other motion) on the right: two tracks,
  each with its own frames, shape and side, offline and live."""
  _, records = clip
  other = renders.render_motion_clip(2025, 12, 512)
  frames = []
  for t in range(28):
    frame = np.full((512, 1024, 3), 128, np.uint8)
    if t < 12:
      frame[:, :512] = records[t]['image']
    elif t >= 16:
      frame[:, 512:] = other[t - 16]['image']
    frames.append(frame)
  result = pipeline.predict_video(frames, fps=30.0)
  tracks = result['tracks']
  # BlazePose misses the first at this scale in a few frames (measured:
  # frames 0-5).
  assert len(tracks) == 2, [t['frames'] for t in tracks]
  assert np.all(tracks[0]['frames'] < 12) and len(tracks[0]['frames']) >= 5
  assert np.all(tracks[1]['frames'] >= 16) and len(tracks[1]['frames']) >= 8
  assert tracks[0]['keypoints_2d'][..., 0].mean() < 512 < (
      tracks[1]['keypoints_2d'][..., 0].mean())
  assert np.abs(tracks[0]['betas'][0] - tracks[1]['betas'][0]).max() > 0.1
  live = stream.VideoStream(pipeline.photo_path, fps=30.0)
  bodies = [b for frame in frames for b in live.push(frame)] + live.finish()
  live.close()
  assert [(b['track'], b['frame']) for b in bodies] == [
      (number, int(t)) for number, track in enumerate(tracks)
      for t in track['frames']]
