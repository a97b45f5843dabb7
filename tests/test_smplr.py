"""SMPLR end to end on the default body model: a tiny training run, its
evaluation from the checkpoint, and the inference API."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.smplr.configs import smplr as smplr_config
from smplr_jax import inference
from smplr_jax import jl as jl_lib
from smplr_jax import noise
from smplr_jax import sampler
from smplr_jax import smplr
from smplr_jax import train


@pytest.fixture(scope='module')
def body():
  return smplr.BodyModels.load()


def _tiny_config(**overrides):
  config = smplr_config.get_config()
  config.num_steps = 30
  config.batch_size = 32
  config.learning_rate = 1e-3
  config.log_every = 10
  config.eval_every = 15
  config.test_set_size = 64
  config.validation_size = 64
  config.eval_batch_size = 32
  config.progress_bar = False
  config.num_devices = 1
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def trained_workdir(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('smplr')
  results = train.train_and_evaluate(_tiny_config(), workdir)
  return workdir, results


def test_tiny_end_to_end_training(trained_workdir):
  workdir, results = trained_workdir
  log = [json.loads(l) for l in (workdir / 'metrics.jsonl').open()]
  assert [row['step'] for row in log] == [10, 20, 30]
  assert log[-1]['loss'] < log[0]['loss']
  for key in ('loss_betas', 'loss_gender', 'loss_pose', 'loss_smpl'):
    assert np.isfinite(log[-1][key])
  for variant in ('clean', 'noisy'):
    for metric in ('mpjpe', 'pa_mpjpe', 'landmarks', 'bones', 'surface',
                   'gender_acc', 'Hd', 'Ft'):
      assert np.isfinite(results[f'{variant}/{metric}']), metric
  assert 0 < results['clean/pa_mpjpe'] <= results['clean/mpjpe'] + 1e-6
  assert 0 <= results['clean/gender_acc'] <= 100


def test_predictor_outputs(trained_workdir, body):
  workdir, _ = trained_workdir
  predictor = inference.load_smplr(workdir)
  test_set = sampler.make_test_set(body.gendered, size=3, seed=5)
  out = predictor(test_set['jl'])
  assert out['pose'].shape == (3, 24, 3, 3)
  np.testing.assert_allclose(jnp.linalg.det(out['pose']), 1.0, atol=1e-4)
  assert out['betas'].shape == (3, 10)
  assert out['gender'].shape == (3,)
  assert np.all((out['gender'] >= 0) & (out['gender'] <= 1))
  assert out['vertices'].shape == (3, body.gendered.num_vertices, 3)
  assert out['joints'].shape == (3, 24, 3)
  assert out['landmarks'].shape == (3, 18, 3)
  np.testing.assert_allclose(out['joints'][:, 0], 0.0, atol=1e-6)
  # Landmarks are the mesh's landmark vertices.
  ids = np.asarray(body.gendered.landmark_vertex_ids)
  np.testing.assert_allclose(out['landmarks'], out['vertices'][:, ids],
                             atol=1e-6)
  with pytest.raises(ValueError, match=r'jl must be \[B, 42, 3\]'):
    predictor(np.zeros((2, 24, 3)))
  with pytest.raises(ValueError, match='NaN'):
    predictor(np.full((1, 42, 3), np.nan))


def test_predictor_needs_both_networks(tmp_path):
  config = _tiny_config(num_steps=2, log_every=1, eval_every=2)
  config.smplr.parts = ('shape',)
  config.loss_weights.smpl = 0.0
  train.train_and_evaluate(config, tmp_path)
  with pytest.raises(ValueError, match=r"trained only \['shape'\]"):
    inference.load_smplr(tmp_path)


def test_evaluate_cli(trained_workdir, tmp_path):
  workdir, results = trained_workdir
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.evaluate', f'--workdirs={workdir}',
       f'--json_out={tmp_path / "all.json"}'],
      capture_output=True, text=True, check=True)
  assert '| model | Hd | Ts | Sr | Ew | Wt | Hp | Kn | Ft | Jt | Lm | Bn |' in (
      out.stdout)
  again = json.loads((tmp_path / 'all.json').read_text())[str(workdir)]
  assert again['clean/mpjpe'] == pytest.approx(results['clean/mpjpe'],
                                               rel=1e-4)


def test_init_from_trained_runs(trained_workdir, body):
  workdir, _ = trained_workdir
  config = _tiny_config()
  config.init_from.shape = str(workdir)
  config.init_from.pose = str(workdir)
  task = smplr.SMPLRTask(config, body)
  variables = task.init_variables(jax.random.PRNGKey(123))
  _, trained, _ = train.load_trained_variables(workdir)
  jax.tree.map(np.testing.assert_array_equal, variables['params'],
               trained['params'])


def test_uniform_point_noise_bounds(body):
  jl = sampler.make_test_set(body.gendered, size=256, seed=3)['jl']
  noisy = noise.uniform_point_noise(jax.random.PRNGKey(0), jnp.asarray(jl))
  delta = np.abs(np.asarray(noisy) - jl)
  bound = noise.POINT_NOISE_BOUNDS[:, None] * np.asarray(
      [1.0, 1.0, noise.DEPTH_FACTOR])
  assert np.all(delta <= bound + 1e-6)
  np.testing.assert_allclose(delta[:, 0], 0.0)  # the root stays put
  # Uniform in [-v, v]: mean |noise| = v / 2 on the wrists (v = 7 cm).
  wrist = jl_lib.JOINT_NAMES.index('left_wrist')
  assert delta[:, wrist, 0].mean() == pytest.approx(0.035, rel=0.15)


@pytest.mark.slow
def test_psi_reaches_target_accuracy(tmp_path):
  """Psi alone, 1,500 steps: joints from predicted shape within 12 mm (P1)."""
  config = _tiny_config(num_steps=1500, batch_size=256, log_every=500,
                        eval_every=1500, test_set_size=1024,
                        validation_size=256, eval_batch_size=256)
  config.smplr.parts = ('shape',)
  config.loss_weights.smpl = 0.0
  results = train.train_and_evaluate(config, tmp_path)
  assert results['clean/mpjpe'] < 12.0
  assert results['clean/gender_acc'] > 95.0
