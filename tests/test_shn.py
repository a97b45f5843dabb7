"""The hourglass task: cube <-> camera mapping and a tiny end-to-end run."""

import json
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest

from experiments.hourglass.configs import cpu as cpu_config
from smplr_jax import augment, dae, sampler, shn, train


def _records(num, seed=0, size=96):
  """Records with real body JL in front of a camera, random pixels."""
  models = sampler.load_gendered_models()
  bodies = sampler.sample_jl(jax.random.PRNGKey(seed), models, num)
  rng = np.random.default_rng(seed)
  out = []
  for i in range(num):
    root = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3),
                     rng.uniform(3.0, 6.0)])
    # Body frame (y up, z forward) -> camera (y down, z forward, facing it).
    jl = np.asarray(bodies['jl'][i]) * np.array([1.0, -1.0, -1.0]) + root
    out.append(dict(
        image=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        mask=np.zeros((size, size), np.uint8), has_mask=np.int32(0),
        jl_cam=jl.astype(np.float32), jl_valid=np.ones(42, np.float32),
        focal=np.float32([120.0, 120.0]), principal=np.float32([50.0, 45.0]),
        pose=np.zeros((24, 3), np.float32), betas=np.zeros(10, np.float32),
        gender=np.int32(bodies['gender'][i]), has_smpl=np.int32(0)))
  return out


def test_cube_to_camera_inverts_the_plain_crop():
  config = augment.augment_config()
  config.crop_size = 64
  for record in _records(4):
    example = augment.process_example(record, config, (0,), train=False)
    np.testing.assert_allclose(example['jl_cube'][0], 0.0, atol=1e-6)
    back = shn.cube_to_camera(example['jl_cube'][None],
                              example['jl_cam'][None, 0])[0]
    np.testing.assert_allclose(back, example['jl_cam'], atol=1e-4)


def _tiny_config(tmp_path, **overrides):
  config = cpu_config.get_config()
  config.input_size = 64
  config.augment.crop_size = 64
  config.model.num_stacks = 1
  config.model.num_features = 32
  config.model.hourglass_depth = 2  # 16 -> 4: compiles in seconds
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_steps = 30
  config.log_every = 10
  config.eval_every = 15
  config.learning_rate = 2e-3
  config.loss.l1_weight = 0.0  # the paper's loss: cross-entropy only
  config.progress_bar = False
  config.data.builder_config = 'n32_v8_t8_s0'
  config.data.data_dir = str(tmp_path / 'tfds')
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  """30 steps of a tiny hourglass on a freshly built smplr_synthetic set."""
  tmp_path = tmp_path_factory.mktemp('shn')
  config = _tiny_config(tmp_path)
  results = shn.train_and_evaluate(config, tmp_path / 'run')
  return config, tmp_path / 'run', results


def test_tiny_training_run_learns_and_writes_predictions(tiny_run):
  _, workdir, results = tiny_run
  log = [json.loads(line) for line in
         (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert log[-1]['step'] == 30
  assert log[-1]['loss'] < 0.8 * log[0]['loss']
  assert results['num_test_examples'] == 8
  # A network that learned nothing still predicts points inside the cube.
  assert 0 < results['mpjpe'] < 1250 and 0 < results['cube_error'] < 1250
  paired = dae.PairedJLDataset.load(workdir / 'predictions.npz')
  assert paired.pred_jl.shape == (8, 42, 3)
  np.testing.assert_allclose(paired.gt_jl[:, 0], 0.0, atol=1e-6)


def test_tiny_run_checkpoint_reloads(tiny_run):
  config, workdir, _ = tiny_run
  saved, variables, step = train.load_trained_variables(workdir)
  assert step in (15, 30)
  assert saved.model.num_features == config.model.num_features
  task = shn.HourglassTask(ml_collections.ConfigDict(saved))
  predictions = task.predict_camera_jl(variables, 'validation')
  assert predictions['pred_jl'].shape == (8, 42, 3)
  assert np.all(np.isfinite(predictions['pred_jl']))


def test_unbuilt_dataset_is_reported(tmp_path):
  config = _tiny_config(tmp_path)
  config.data.build = False
  with pytest.raises(ValueError, match='is not built in .*smplr_jax.datasets'
                     '.build smplr_synthetic'):
    shn.load_sources(config)


def test_crop_size_must_match_input_size(tiny_run):
  config = _tiny_config(tiny_run[1].parent)
  config.augment.crop_size = 32
  with pytest.raises(ValueError, match='crop_size .32. must equal'):
    shn.HourglassTask(config)


def test_launcher_resumes_finished_run(tiny_run):
  config, workdir, _ = tiny_run
  del config
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.hourglass.main',
       '--config=experiments/hourglass/configs/cpu.py',
       f'--workdir={workdir}'] + [
           f'--config.{k}={v}' for k, v in dict(
               input_size=64, **{'augment.crop_size': 64,
                                 'model.num_stacks': 1,
                                 'model.num_features': 32,
                                 'model.hourglass_depth': 2},
               batch_size=8, eval_batch_size=8, num_steps=30,
               progress_bar=False,
               **{'data.builder_config': 'n32_v8_t8_s0',
                  'data.data_dir': workdir.parent / 'tfds'}).items()],
      capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'cube-frame error of the 41 points' in out.stdout


def test_draw_predictions_writes_a_picture(tiny_run):
  _, workdir, _ = tiny_run
  output = workdir.parent / 'predictions.png'
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.hourglass.draw_predictions',
       f'--workdir={workdir}', f'--output={output}', '--num_examples=4',
       '--columns=2'], capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  from PIL import Image  # pylint: disable=g-import-not-at-top
  picture = np.asarray(Image.open(output))
  # 2 rows x 2 pairs of 64 px crops drawn at 4x (256 px cells).
  assert picture.shape == (2 * (256 + 14 + 4) + 4, 2 * (2 * 256 + 12), 3)
  assert picture.std() > 10  # not a blank canvas
