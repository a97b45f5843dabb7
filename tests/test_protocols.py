"""Tables 2 and 3's protocols: errors, and the whole chain on fake releases
(built by the human36m / surreal builders, run through `load_pipeline`)."""

from __future__ import annotations

import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_datasets import h36m_joints, write_h36m_sequence, write_surreal_clip

from smplr_jax.body import gendered, keypoints, rotations
from smplr_jax.data import datasets as datasets_lib
from smplr_jax.data.datasets import common, human36m, surreal
from smplr_jax.evaluation import protocols
from smplr_jax.predict import predictor as predictor_lib


def test_h36m17_errors_are_p1_and_p2():
  rng = np.random.default_rng(0)
  truth = rng.normal(size=(3, 17, 3))
  # Shifted: P1 subtracts each pelvis, so a shift costs nothing.
  errors = protocols.h36m17_errors(jnp.asarray(truth + [1.0, 2.0, 3.0]),
                                   jnp.asarray(truth))
  np.testing.assert_allclose(errors['p1'], 0.0, atol=1e-5)
  # Rotated and scaled about the pelvis: P1 sees it, P2 does not.
  rotation = Rotation.from_euler('y', 40, degrees=True).as_matrix()
  centred = truth - truth[:, :1]
  moved = 1.3 * centred @ rotation.T
  errors = protocols.h36m17_errors(jnp.asarray(moved), jnp.asarray(truth))
  want_p1 = np.linalg.norm(moved - centred, axis=-1).mean(axis=1)
  np.testing.assert_allclose(errors['p1'], want_p1, rtol=1e-5)
  np.testing.assert_allclose(errors['p2'], 0.0, atol=1e-5)
  # One joint off by 17 cm: P1 = 0.17 / 17 metres.
  off = centred.copy()
  off[:, 5, 0] += 0.17
  errors = protocols.h36m17_errors(jnp.asarray(off), jnp.asarray(truth))
  np.testing.assert_allclose(errors['p1'], 0.01, rtol=1e-5)


def test_action_names_of_the_release():
  assert human36m.action_index('Directions 1.54138969') == 0
  assert human36m.action_index('Directions.54138969') == 0
  assert human36m.action_index('TakingPhoto.55011271') == (
      human36m.ACTIONS.index('Photo'))
  assert human36m.action_index('WalkingDog 1.58860488') == (
      human36m.ACTIONS.index('WalkDog'))
  assert human36m.action_index('WalkTogether 1.58860488') == (
      human36m.ACTIONS.index('WalkTogether'))
  assert human36m.action_index('SittingDown 2.60457274') == (
      human36m.ACTIONS.index('SittingDown'))
  assert human36m.action_index('Dancing.60457274') == -1


def test_h36m17_of_the_mesh_follows_the_skeleton(predictor):
  # Regressed from the default body's mesh: the 17 points sit where the
  # protocol's skeleton puts them (limb joints exact, head above the neck).
  body = predictor.body
  # Batches of 2 with roots throughout this file: one compilation.
  size = predictor.input_size
  out = predictor.predict_crops(np.full((2, size, size, 3), 0.5, np.float32),
                                np.array([[0.0, 0.0, 4.0]] * 2))
  skeleton = np.asarray(protocols.h36m17_from_mesh(
      body.gendered, jnp.asarray(out['joints']),
      jnp.asarray(out['vertices'])))[0]
  assert skeleton.shape == (17, 3)
  names = keypoints.H36M17.names
  joints = out['joints'][0]
  from smplr_jax.body import jl as jl_lib  # pylint: disable=g-import-not-at-top
  for name in ('pelvis', 'left_wrist', 'right_ankle'):
    np.testing.assert_allclose(skeleton[names.index(name)],
                               joints[jl_lib.JOINT_NAMES.index(name)],
                               atol=1e-6)
  neck = joints[jl_lib.JOINT_NAMES.index('neck')]
  head_top = skeleton[names.index('head')]
  # 10-30 cm from the base of the neck to the top of the skull.
  assert 0.10 < np.linalg.norm(head_top - neck) < 0.30


@pytest.fixture(scope='module')
def predictor():
  return predictor_lib.load_pipeline()


def test_human36m_protocol_end_to_end_on_a_fake_release(tmp_path, predictor):
  manual = tmp_path / 'h36m'
  for subject in human36m.TRAIN_SUBJECTS + human36m.TEST_SUBJECTS:
    write_h36m_sequence(manual, subject, 'Directions 1.54138969',
                        'Directions 1.54138969')
  write_h36m_sequence(manual, 'S9', 'WalkingDog.55011271', 'WalkDog.55011271')
  config = human36m.Human36mConfig(name='strides33', train_stride=3,
                                   test_stride=3)
  builder = datasets_lib.build_dataset('human36m', tmp_path / 'tfds', config,
                                       manual)
  source = builder.as_data_source()['test']
  assert len(source) == 6  # S9 x 2 sequences, S11 x 1; frames 0 and 3
  record = source[5]  # S11 frame 3
  np.testing.assert_allclose(
      record['h36m17_cam'],
      h36m_joints(11)[3][list(human36m.H36M17_FROM_32)] / 1000.0, atol=1e-6)
  assert int(record['subject']) == 11 and int(record['action']) == 0

  results = protocols.evaluate_human36m(predictor, source, batch_size=2,
                                        progress=False)
  assert results['count'] == 6
  assert set(results['per_action']) == {'Directions', 'WalkDog'}
  assert results['per_action']['WalkDog']['count'] == 2
  assert results['per_subject']['S9']['count'] == 4
  assert results['per_subject']['S11']['count'] == 2
  # Recompute S11's P1 (frames 4, 5) from the predictor's own output.
  s11_records = [source[4], source[5]]
  crops, roots = protocols.crop_records(s11_records, predictor.input_size,
                                        predictor.cube_size)
  np.testing.assert_allclose(roots[1], record['jl_cam'][0])
  out = predictor.predict_crops(crops, roots)
  pred = np.asarray(protocols.h36m17_from_mesh(
      predictor.body.gendered, jnp.asarray(out['joints']),
      jnp.asarray(out['vertices'])))
  truth = np.stack([r['h36m17_cam'] for r in s11_records])
  p1 = np.linalg.norm((pred - pred[:, :1]) - (truth - truth[:, :1]),
                      axis=-1).mean() * 1000
  # The fake skeleton is a straight line, the prediction a body: P1 is
  # large; Procrustes can only lower it.
  assert results['per_subject']['S11']['p1'] == pytest.approx(p1, rel=1e-4)
  assert 100 < results['p1'] < 2000 and 0 < results['p2'] < results['p1']
  means = np.mean([v['p1'] for v in results['per_subject'].values()])
  assert results['p1'] != pytest.approx(means)  # frame-weighted, not mean
  table = protocols.format_human36m(results)
  assert '| WalkDog | 2 |' in table and '| all | 6 |' in table


def test_surreal_protocol_end_to_end_on_a_fake_release(tmp_path, predictor):
  points = common.SmplPoints(common.load_models(None, 'gendered'))
  rng = np.random.default_rng(0)
  manual = tmp_path / 'SURREAL' / 'data'
  for split, seq, gender in (('train', '01_01', 1), ('val', '02_01', 0),
                             ('test', '03_01', 0)):
    write_surreal_clip(manual, split, seq, 1, rng, points, 4, gender=gender,
                       segm=False)
  config = surreal.SurrealConfig(name='run0_every_frame', frame_stride=1,
                                 runs=('run0',))
  builder = datasets_lib.build_dataset('surreal', tmp_path / 'tfds', config,
                                       manual)
  source = builder.as_data_source()['test']
  results = protocols.evaluate_surreal(predictor, source, batch_size=2,
                                       progress=False)
  assert results['count'] == 4
  # The surface error, recomputed: the predictor's meshes against SMPL of
  # the records' parameters, both minus their root joint.
  records = [source[i] for i in range(4)]
  crops, roots = protocols.crop_records(records, predictor.input_size,
                                        predictor.cube_size)
  halves = [predictor.predict_crops(crops[i:i + 2], roots[i:i + 2])
            for i in (0, 2)]
  out = {k: np.concatenate([h[k] for h in halves])
         for k in ('vertices', 'gender')}
  truth = gendered.true_vertices(predictor.body, {
      'pose': rotations.axis_angle_to_matrix(
          jnp.asarray(np.stack([r['pose'] for r in records]))),
      'betas': jnp.asarray(np.stack([r['betas'] for r in records])),
      'gender': jnp.asarray(np.stack([r['gender'] for r in records]))})
  surface = np.linalg.norm(out['vertices'] - np.asarray(truth),
                           axis=-1).mean() * 1000
  assert results['surface'] == pytest.approx(surface, rel=1e-4)
  assert 20 < results['surface'] < 1000  # a body, not a unit mix-up
  assert 0 < results['pa_mpjpe'] < results['mpjpe'] < 1000
  male = np.asarray(out['gender']) == 1
  assert results['gender_acc'] == pytest.approx(100 * np.mean(~male))
  assert '| 4 |' in protocols.format_surreal(results)


def test_protocol_script_names_a_missing_build(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.evaluate_protocols',
       '--dataset=human36m', f'--data_dir={tmp_path}'],
      capture_output=True, text=True, check=False)
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, result.stderr
  assert 'is not built' in lines[0] and 'smplr_jax.data.datasets.build' in lines[0]
