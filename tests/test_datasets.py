"""TFDS builders: tiny fake releases in the official formats, built and read
back without TensorFlow."""

from __future__ import annotations

import pathlib
import pickle

import av
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds
from cdflib.cdfwrite import CDF
from PIL import Image
from scipy.spatial.transform import Rotation

from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations, smpl
from smplr_jax.data import datasets as datasets_lib
from smplr_jax.data import records
from smplr_jax.data.datasets import common, human36m, smplr_synthetic, surreal, up3d


def write_video(path: pathlib.Path, frames) -> None:
  """Writes RGB uint8 frames as an H.264 .mp4 (as the releases are)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with av.open(str(path), 'w') as container:
    stream = container.add_stream('libx264', rate=25)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = 'yuv420p'
    stream.options = {'crf': '10'}
    for frame in frames:
      container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, 'rgb24')))
    container.mux(stream.encode())


def read_split(builder, split):
  source = builder.as_data_source()[split]
  return [source[i] for i in range(len(source))]


@pytest.fixture(scope='module')
def gendered_points():
  return common.SmplPoints(common.load_models(None, 'gendered'))


# ----------------------------------------------------------------------------
# Records and the synthetic dataset.


def fake_render_examples(models, num_examples, seed, start=0, config=None):
  """Stand-in for smplr_jax.data.synthetic.render_examples: seeded records."""
  del models, config
  for index in range(start, start + num_examples):
    rng = np.random.default_rng([seed, index])
    mask = np.zeros((256, 256), np.uint8)
    mask[40 + index:200, 90:170] = 1
    yield {
        'image': (mask[..., None] * rng.integers(0, 255, (1, 1, 3))).astype(
            np.uint8),
        'mask': mask, 'has_mask': np.int32(1),
        'jl_cam': rng.normal(size=(42, 3)).astype(np.float32),
        'jl_valid': np.ones(42, np.float32),
        'focal': np.float32([500.0, 500.0]),
        'principal': np.float32([128, 128]),
        'pose': rng.normal(size=(24, 3)).astype(np.float32),
        'betas': rng.normal(size=10).astype(np.float32),
        'gender': np.int32(index % 2), 'has_smpl': np.int32(1)}


@pytest.mark.parametrize('real_generator', [
    False, pytest.param(True, marks=pytest.mark.slow)])  # True: ~12 s
def test_synthetic_builds_and_reads(tmp_path, monkeypatch, real_generator):
  if real_generator:
    from smplr_jax.data import synthetic  # pylint: disable=g-import-not-at-top
    generate = synthetic.render_examples
  else:  # the builder renders through its module's `synthetic`
    monkeypatch.setattr(smplr_synthetic.synthetic, 'render_examples',
                        fake_render_examples)
    generate = fake_render_examples
  config = smplr_synthetic.custom_config(3, 2, 1, seed=5)
  builder = datasets_lib.build_dataset('smplr_synthetic', tmp_path, config)
  assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
      'train': 3, 'validation': 2, 'test': 1}
  # TFDS's empty downloads/extracted/ is not left behind.
  assert sorted(p.name for p in tmp_path.iterdir()) == ['smplr_synthetic']
  assert not [d for d in tmp_path.rglob('*') if d.is_dir() and
              not any(d.iterdir())]

  # The registered name reads it back too, with no TensorFlow.
  source = tfds.data_source(f'smplr_synthetic/{config.name}',
                            split='validation', data_dir=tmp_path)
  assert len(source) == 2
  models = common.load_models(None) if real_generator else None
  # Validation example i is example 3 + i of the seed's stream, in order.
  expected = list(generate(models, 2, 5, start=3))
  for i, want in enumerate(expected):
    got = source[i]
    records.check_record(got)
    assert set(got) == set(records.RECORD_SPEC)
    np.testing.assert_array_equal(got['image'], want['image'])  # PNG
    np.testing.assert_array_equal(got['mask'], want['mask'])
    np.testing.assert_allclose(got['jl_cam'], want['jl_cam'], atol=1e-6)
    np.testing.assert_allclose(got['pose'], want['pose'], atol=1e-6)
    assert got['gender'] == want['gender'] and got['gender'].dtype == np.int32


# ----------------------------------------------------------------------------
# SURREAL.

SURREAL_T = 5


def surreal_info(rng, points, num, gender):
  """A consistent fake _info.mat: joints3D from our model, SURREAL axes."""
  pose = rng.normal(scale=0.3, size=(num, 72))
  shape = rng.normal(size=(num, 10))
  zrot = np.full(num, 0.7)
  cam_loc = np.array([6.0, -1.0, 0.2])
  root_world = np.array([0.1, -1.0, 0.05]) + np.linspace(0, 0.1, num)[:, None]
  rz = Rotation.from_euler('z', zrot[0]).as_matrix()
  world_pose = rotations.rotate_global_orientation(
      surreal.BODY_TO_WORLD @ rz, pose)
  jl_world, _ = points(world_pose, shape, np.full(num, gender))
  jl_world = jl_world + root_world[:, None]
  joints3d = jl_world[:, :24]
  # SURREAL's own projection (the improper camera matrix A).
  cam = (jl_world - cam_loc) @ surreal.SURREAL_WORLD_TO_CAMERA.T
  joints2d = 600 * cam[..., :2] / cam[..., 2:] + np.array([160.0, 120.0])
  info = {'pose': pose.T, 'shape': shape.T,
              'gender': np.full((num, 1), gender, np.uint8),
              'joints3D': np.transpose(joints3d, (2, 1, 0)),
              'joints2D': np.transpose(joints2d[:, :24], (2, 1, 0)),
              'camLoc': cam_loc[:, None], 'zrot': zrot[:, None],
              'camDist': np.float32(6.0)}
  return info, jl_world, joints2d


def write_surreal_clip(root, split, seq, cam, rng, points, num, gender,
                       segm=True):
  folder = root / 'cmu' / split / 'run0' / seq
  stem = folder / f'{seq}_c{cam:04d}'
  info, jl_world, joints2d = surreal_info(rng, points, num, gender)
  frame = np.zeros((240, 320, 3), np.uint8)
  frame[:, :160] = 200  # bright left half, dark right half
  frame[:, 160:] = 30
  write_video(stem.with_name(stem.name + '.mp4'), [frame] * num)
  scipy.io.savemat(stem.with_name(stem.name + '_info.mat'), info)
  labels = {}
  if segm:
    for t in range(num):
      labels[f'segm_{t + 1}'] = np.zeros((240, 320), np.uint8)
      labels[f'segm_{t + 1}'][50:200, 20 + t:100] = 3 + t
    scipy.io.savemat(stem.with_name(stem.name + '_segm.mat'), labels)
  return jl_world, joints2d, labels, info


def test_surreal_builds_camera_frame_records(tmp_path, gendered_points):
  rng = np.random.default_rng(0)
  manual = tmp_path / 'SURREAL' / 'data'
  jl_world, joints2d, labels, info = write_surreal_clip(
      manual, 'train', '01_01', 1, rng, gendered_points, SURREAL_T, gender=1)
  write_surreal_clip(manual, 'val', '02_01', 2, rng, gendered_points, 3,
                     gender=0, segm=False)
  write_surreal_clip(manual, 'test', '03_01', 1, rng, gendered_points, 3,
                     gender=0, segm=False)
  config = surreal.SurrealConfig(name='stride2', frame_stride=2, runs=('run0',))
  builder = datasets_lib.build_dataset(
      'surreal', tmp_path / 'tfds', config, manual)
  train = read_split(builder, 'train')
  assert len(train) == 3  # frames 0, 2, 4 of 5
  assert len(read_split(builder, 'validation')) == 2  # frames 0, 2 of 3
  assert len(read_split(builder, 'test')) == 2

  for record, t in zip(train, (0, 2, 4)):
    records.check_record(record)
    assert record['image'].shape == (240, 320, 3)
    # Frames are mirrored horizontally: the bright half is now on the right.
    assert record['image'][:, :150].mean() < 60
    assert record['image'][:, 170:].mean() > 170
    np.testing.assert_array_equal(
        record['mask'], (labels[f'segm_{t + 1}'][:, ::-1] > 0).astype(np.uint8))
    assert record['has_mask'] == 1 and record['has_smpl'] == 1
    assert record['gender'] == 1
    np.testing.assert_allclose(record['principal'], [159.0, 120.0])
    # JL in the camera frame: SURREAL's camera then the horizontal flip.
    want = (jl_world[t] - info['camLoc'][:, 0]) @ (
        surreal.SURREAL_WORLD_TO_CAMERA.T)
    want[:, 0] *= -1
    np.testing.assert_allclose(record['jl_cam'], want, atol=2e-4)
    # The projected root lands on the mirrored annotated joints2D root.
    uv = record['focal'] * record['jl_cam'][0, :2] / record['jl_cam'][0, 2] + (
        record['principal'])
    np.testing.assert_allclose(uv, [319 - joints2d[t, 0, 0], joints2d[t, 0, 1]],
                               atol=1e-3)
    # Contract: SMPL of (pose, betas, gender) gives jl_cam up to the root.
    jl, _ = gendered_points(record['pose'][None], record['betas'][None],
                            record['gender'][None])
    np.testing.assert_allclose(jl[0] + record['jl_cam'][0], record['jl_cam'],
                               atol=2e-4)
  assert np.linalg.det(surreal.WORLD_TO_CAMERA) == pytest.approx(1.0)
  validation = read_split(builder, 'validation')
  assert all(r['has_mask'] == 0 and r['mask'].sum() == 0 for r in validation)


def test_surreal_missing_files_are_listed(tmp_path, gendered_points):
  manual = tmp_path / 'data'
  rng = np.random.default_rng(1)
  write_surreal_clip(manual, 'train', '01_01', 1, rng, gendered_points, 2, 0)
  (manual / 'cmu/train/run0/01_01/01_01_c0001_info.mat').unlink()
  with pytest.raises(common.MissingFilesError) as error:
    datasets_lib.build_dataset(
        'surreal', tmp_path / 'tfds', 'stride10', manual)
  assert not (tmp_path / 'tfds').exists()  # no empty folders left
  message = str(error.value)
  assert str(manual) in message
  assert 'cmu/train/run0/01_01/01_01_c0001_info.mat' in message
  assert 'cmu/val/' in message and 'cmu/test/' in message
  assert 'missing 3 expected file(s)' in message


# ----------------------------------------------------------------------------
# Human3.6M.

H36M_FRAMES = 6


def h36m_joints(subject_number: int) -> np.ndarray:
  """[N, 32, 3] mm; joint j of frame t sits at (subject, t, j) cm apart."""
  t = np.arange(H36M_FRAMES)[:, None]
  j = np.arange(32)[None, :]
  return np.stack(np.broadcast_arrays(subject_number * 100.0 + 0 * t,
                                      t * 10.0, 4000.0 + j * 10.0), axis=-1)


def write_h36m_sequence(root, subject, name, video_name=None):
  pose_dir = root / subject / human36m.POSE_DIR
  pose_dir.mkdir(parents=True, exist_ok=True)
  joints = h36m_joints(int(subject[1:]))
  writer = CDF(str(pose_dir / f'{name}.cdf'), delete=True)
  writer.write_var({'Variable': 'Pose', 'Data_Type': CDF.CDF_DOUBLE,
                    'Num_Elements': 1, 'Rec_Vary': True,
                    'Dim_Sizes': [H36M_FRAMES, 96]},
                   var_data=joints.reshape(1, H36M_FRAMES, 96))
  writer.close()
  if video_name is not None:
    frames = [np.full((48, 64, 3), 10 * t, np.uint8)
              for t in range(H36M_FRAMES)]
    write_video(root / subject / human36m.VIDEO_DIR / f'{video_name}.mp4',
                frames)


def test_human36m_builds_with_the_standard_split(tmp_path):
  manual = tmp_path / 'h36m'
  for subject in human36m.TRAIN_SUBJECTS + human36m.TEST_SUBJECTS:
    write_h36m_sequence(manual, subject, 'Directions 1.54138969',
                        'Directions 1.54138969')
  # The release spells some pose and video names differently.
  write_h36m_sequence(manual, 'S1', 'TakingPhoto.55011271', 'Photo.55011271')
  # Excluded by default (broken in the release): no video needed.
  write_h36m_sequence(manual, 'S11', 'Directions.54138969')
  config = human36m.Human36mConfig(name='strides23', train_stride=2,
                                   test_stride=3)
  builder = datasets_lib.build_dataset(
      'human36m', tmp_path / 'tfds', config, manual)
  train, test = read_split(builder, 'train'), read_split(builder, 'test')
  assert len(train) == 6 * 3  # 6 sequences, frames 0, 2, 4
  assert len(test) == 2 * 2  # 2 sequences, frames 0, 3
  subject_of = lambda r: round(r['jl_cam'][0, 0] * 10)  # 100 mm per number
  assert {subject_of(r) for r in train} == {1, 5, 6, 7, 8}
  assert {subject_of(r) for r in test} == {9, 11}
  assert sorted(round(r['jl_cam'][0, 1] * 100) for r in test) == [0, 0, 3, 3]

  record = test[3]  # generation order: S9 frames 0, 3, then S11 0, 3
  records.check_record(record)
  assert record['has_smpl'] == 0 and record['has_mask'] == 0
  assert record['gender'] == -1
  assert record['image'].shape == (48, 64, 3)
  assert record['jl_valid'].sum() == 16 and record['jl_valid'][24:].sum() == 0
  joints = h36m_joints(11)[3] / 1000.0  # frame 3 of S11, metres
  left_shoulder = jl_lib.JOINT_NAMES.index('left_shoulder')
  np.testing.assert_allclose(record['jl_cam'][left_shoulder], joints[17],
                             atol=1e-6)
  np.testing.assert_allclose(record['jl_cam'][jl_lib.JOINT_NAMES.index(
      'right_wrist')], joints[27], atol=1e-6)
  np.testing.assert_allclose(record['jl_cam'][record['jl_valid'] == 0], 0.0)
  np.testing.assert_allclose(record['focal'],
                             human36m.CAMERAS['54138969'][0], rtol=1e-6)
  # The video frame of index 3 (grey level 30, H.264 round-off).
  assert abs(record['image'].mean() - 30) < 4


def test_human36m_missing_files_are_listed(tmp_path):
  manual = tmp_path / 'h36m'
  for subject in ('S1', 'S5', 'S6', 'S7', 'S8', 'S9'):
    write_h36m_sequence(manual, subject, 'Walking 1.60457274',
                        None if subject == 'S9' else 'Walking 1.60457274')
  with pytest.raises(common.MissingFilesError) as error:
    datasets_lib.build_dataset(
        'human36m', tmp_path / 'tfds', 'protocol1', manual)
  message = str(error.value)
  assert 'S9/Videos/Walking 1.60457274.mp4' in message
  assert 'S11/MyPoseFeatures/D3_Positions_mono/' in message
  assert 'S11/Videos/' in message
  assert 'missing 3 expected file(s)' in message
  assert 'S1/' not in message.split('Expected layout')[0].replace(
      'S11/', '')


# ----------------------------------------------------------------------------
# UP-3D.


def write_up3d_image(root, image_id, rng, size=(60, 80), render=False):
  height, width = size
  image = rng.integers(0, 255, (height, width, 3), np.uint8)
  Image.fromarray(image).save(root / f'{image_id}_image.png')
  fit = {'pose': rng.normal(scale=0.3, size=72), 'betas': rng.normal(size=10),
             'trans': np.array([0.02, 0.1, -0.03]), 'f': np.array(500.0),
             'rt': np.array([0.0, 0.2, 0.05]), 't': np.array([0.01, 0.2, 8.0])}
  fit['pose'][:3] = [np.pi, 0.0, 0.0]  # upright in the camera frame
  with open(root / f'{image_id}_body.pkl', 'wb') as f:
    pickle.dump(fit, f, protocol=2)
  if render:
    silhouette = np.full((height, width, 3), 255, np.uint8)
    silhouette[10:50, 20:40] = [200, 150, 150]
    Image.fromarray(silhouette).save(root / f'{image_id}_render_light.png')
  return image, fit


def test_up3d_builds_camera_frame_records(tmp_path):
  rng = np.random.default_rng(2)
  manual = tmp_path / 'up-3d'
  manual.mkdir()
  fits = {}
  for image_id, render in (('00001', True), ('00002', False),
                           ('00003', False), ('00004', False)):
    fits[image_id] = write_up3d_image(manual, image_id, rng, render=render)
  (manual / 'train.txt').write_text('/00001_image.png\n/00002_image.png\n')
  (manual / 'val.txt').write_text('/00003_image.png\n')
  (manual / 'test.txt').write_text('/00004_image.png\n')
  config = up3d.Up3dConfig(name='png', image_format='png')
  builder = datasets_lib.build_dataset(
      'up3d', tmp_path / 'tfds', config, manual)
  train = read_split(builder, 'train')
  assert len(train) == 2 and len(read_split(builder, 'test')) == 1

  record = train[0]
  image, fit = fits['00001']
  records.check_record(record)
  np.testing.assert_array_equal(record['image'], image)
  expected_mask = np.zeros((60, 80), np.uint8)
  expected_mask[10:50, 20:40] = 1
  np.testing.assert_array_equal(record['mask'], expected_mask)
  assert record['has_mask'] == 1 and train[1]['has_mask'] == 0
  assert record['gender'] == -1 and record['has_smpl'] == 1
  np.testing.assert_allclose(record['focal'], [500.0, 500.0])
  np.testing.assert_allclose(record['principal'], [40.0, 30.0])
  # JL of the fit, as the release's camera sees it: R(rt) (x + trans) + t.
  neutral = common.load_models(None, 'neutral')
  out = smpl.smpl_forward(neutral, fit['pose'].reshape(1, 24, 3).astype(
      np.float32), fit['betas'][None].astype(np.float32))
  world = np.asarray(jl_lib.joints_and_landmarks(neutral, out.vertices,
                                                 out.joints))[0] + np.asarray(
                                                     out.joints)[0, 0]
  rotation = Rotation.from_rotvec(fit['rt']).as_matrix()
  want = (world + fit['trans']) @ rotation.T + fit['t']
  np.testing.assert_allclose(record['jl_cam'], want, atol=2e-4)
  # Global orientation in the camera frame.
  np.testing.assert_allclose(
      Rotation.from_rotvec(record['pose'][0]).as_matrix(),
      rotation @ Rotation.from_rotvec(fit['pose'][:3]).as_matrix(), atol=1e-5)


def test_up3d_missing_files_are_listed(tmp_path):
  manual = tmp_path / 'up-3d'
  manual.mkdir()
  write_up3d_image(manual, '00001', np.random.default_rng(3))
  (manual / '00001_body.pkl').unlink()
  ids = ['00001'] + [f'{i:05d}' for i in range(100, 125)]
  (manual / 'train.txt').write_text(''.join(f'/{i}_image.png\n' for i in ids))
  (manual / 'val.txt').write_text('')
  with pytest.raises(common.MissingFilesError) as error:
    datasets_lib.build_dataset(
        'up3d', tmp_path / 'tfds', 'full', manual)
  message = str(error.value).split('Expected layout')[0]
  # 1 + 25 * 2 fit/image files and test.txt; the first 20 are named.
  assert 'missing 52 expected file(s)' in message
  assert '00001_body.pkl' in message and '00001_image.png' not in message
  assert 'test.txt' in message
  assert '... and 32 more' in message
