"""The image-network task (smplr_jax.training.tasks.image_net): a tiny end-to-end run on a
freshly built synthetic dataset, its checkpoint, launcher and picture."""

import itertools
import json
import re
import shutil
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest
from helpers import garble_image_of_record

from experiments.image_net.configs import cpu as cpu_config
from smplr_jax.data import augment, datasets, input_pipeline
from smplr_jax.nets import weights_io
from smplr_jax.training import train
from smplr_jax.training.tasks import image_net as image_net_task


def _tiny_config(tmp_path, **overrides):
  config = cpu_config.get_config()
  config.input_size = 64
  config.augment.crop_size = 64
  config.model.num_stacks = 1
  config.model.num_features = 32
  config.model.hourglass_depth = 2  # 16 -> 4: compiles in seconds
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_steps = 60
  config.log_every = 20
  config.eval_every = 30
  config.learning_rate = 2e-3
  # The CPU config's loss: the paper's cross-entropy plus L1 on the
  # soft-argmax (with the cross-entropy alone, 30 steps lower the loss but
  # not yet the soft-argmax error).
  config.progress_bar = False
  config.data.builder_config = 'n32_v8_t8_s0'
  config.data.data_dir = str(tmp_path / 'tfds')
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  """60 steps of a tiny image network on a freshly built smplr_synthetic set."""
  tmp_path = tmp_path_factory.mktemp('hourglass')
  config = _tiny_config(tmp_path)
  task = image_net_task.ImageNetTask(config)
  init_key, _ = train.run_keys(config.seed)
  before = task.evaluate(task.init_variables(init_key))
  results = train.train_and_evaluate(config, tmp_path / 'run', task)
  return config, tmp_path / 'run', results, before


@pytest.mark.slow  # the tiny image-network run (~70 s on 2 cores)
def test_tiny_training_run_learns_and_writes_predictions(tiny_run):
  _, workdir, results, before = tiny_run
  log = [json.loads(line) for line in
         (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert log[-1]['step'] == 60
  assert log[-1]['loss_ce'] < 0.8 * log[0]['loss_ce']  # the paper's loss
  assert results['num_test_examples'] == 8
  # A network that learned nothing still predicts points inside the cube.
  assert 0 < results['mpjpe'] < 1250 and 0 < results['cube_error'] < 1250
  # ... and the trained one predicts them better than the initial one.
  assert results['cube_error'] < before['cube_error']
  assert results['mpjpe'] < before['mpjpe']
  paired = datasets.PairedJLDataset.load(workdir / 'predictions.npz')
  assert paired.pred_jl.shape == (8, 42, 3)
  np.testing.assert_allclose(paired.gt_jl[:, 0], 0.0, atol=1e-6)


@pytest.mark.slow  # the tiny image-network run (~70 s on 2 cores)
def test_tiny_run_checkpoint_reloads(tiny_run):
  config, workdir, _, _ = tiny_run
  saved, variables, step = weights_io.load_trained_variables(workdir)
  assert step in (30, 60)
  assert saved.model.num_features == config.model.num_features
  task = image_net_task.ImageNetTask(ml_collections.ConfigDict(saved))
  predictions = task.predict_camera_jl(variables, 'validation')
  assert predictions['pred_jl'].shape == (8, 42, 3)
  assert np.all(np.isfinite(predictions['pred_jl']))


@pytest.mark.slow  # the tiny image-network run (~70 s on 2 cores)
def test_init_from_starts_where_the_trained_run_ended(tiny_run, tmp_path):
  """config.init_from: a run starts from another run's best weights
  (workdir or exported folder); another network is refused."""
  config, workdir, _, _ = tiny_run
  _, trained, _ = weights_io.load_trained_variables(workdir)
  weights_io.export_variables(workdir, tmp_path / 'export')
  init_key, _ = train.run_keys(config.seed)
  for source, tolerance in ((workdir, 0.0), (tmp_path / 'export', 2e-3)):
    restart = ml_collections.ConfigDict(config.to_dict())
    restart.init_from = str(source)
    task = image_net_task.ImageNetTask(restart)
    start = task.init_variables(init_key)
    for got, want in zip(jax.tree.leaves(start), jax.tree.leaves(trained)):
      np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
  wider = ml_collections.ConfigDict(config.to_dict())
  wider.model.num_features = 48
  wider.init_from = str(workdir)
  with pytest.raises(ValueError, match='does not fit this network'):
    image_net_task.ImageNetTask(wider).init_variables(init_key)


def test_unbuilt_dataset_is_reported(tmp_path):
  config = _tiny_config(tmp_path)
  config.data.build = False
  with pytest.raises(ValueError, match='is not built in .*smplr_jax.data.datasets'
                     '.build smplr_synthetic'):
    image_net_task.load_sources(config)


def test_crop_size_must_match_input_size(tmp_path):
  config = _tiny_config(tmp_path)
  # The configs tie crop_size to input_size; a replaced augment config
  # (crop_size 256) does not follow it.
  config.augment = augment.augment_config()
  with pytest.raises(ValueError, match='crop_size .256. must equal'):
    image_net_task.ImageNetTask(config)
  assert not (tmp_path / 'tfds').exists()  # refused before building data


@pytest.mark.slow  # 15-20 s; resuming is tested on every task in test_faults
def test_launcher_resumes_finished_run(tiny_run):
  workdir = tiny_run[1]
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.image_net.main',
       '--config=experiments/image_net/configs/cpu.py',
       f'--workdir={workdir}'] + [
           f'--config.{k}={v}' for k, v in dict(
               input_size=64, **{'augment.crop_size': 64,
                                 'model.num_stacks': 1,
                                 'model.num_features': 32,
                                 'model.hourglass_depth': 2},
               batch_size=8, eval_batch_size=8, num_steps=60,
               progress_bar=False,
               **{'data.builder_config': 'n32_v8_t8_s0',
                  'data.data_dir': workdir.parent / 'tfds'}).items()],
      capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'cube-frame error of the 41 points' in out.stdout


@pytest.mark.slow  # a picture of the tiny run's predictions
def test_draw_predictions_writes_a_picture(tiny_run):
  workdir = tiny_run[1]
  output = workdir.parent / 'predictions.png'
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.image_net.draw_predictions',
       f'--workdir={workdir}', f'--output={output}', '--num_examples=4',
       '--columns=2'], capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  from PIL import Image  # pylint: disable=g-import-not-at-top
  picture = np.asarray(Image.open(output))
  # 2 rows x 2 pairs of 64 px crops drawn at 4x (256 px cells).
  assert picture.shape == (2 * (256 + 14 + 4) + 4, 2 * (2 * 256 + 12), 3)
  assert picture.std() > 10  # not a blank canvas


@pytest.mark.slow  # the tiny image-network run (~70 s on 2 cores)
def test_corrupt_training_record_is_named_or_skipped(tiny_run, tmp_path,
                                                    caplog):
  config = tiny_run[0].copy_and_resolve_references()
  shutil.copytree(config.data.data_dir, tmp_path / 'tfds')
  config.data.data_dir = str(tmp_path / 'tfds')
  config.data.build = False
  path = next((tmp_path / 'tfds').rglob('*-train.array_record-*'))
  garble_image_of_record(path, 5)
  # 32 records, batches of 8: one epoch of 4 batches reads record 5.
  def epoch(task):
    return list(itertools.islice(task.train_batches(0, 8), 4))

  with pytest.raises(input_pipeline.CorruptRecordError,
                     match=rf'record 5 of {re.escape(str(path))} \(index 5 '
                     r'of the source\): .*skip_corrupt_records=True'):
    epoch(image_net_task.ImageNetTask(config))
  config.data.skip_corrupt_records = True
  with caplog.at_level('WARNING'):
    batches = epoch(image_net_task.ImageNetTask(config))
  assert f'Skipped a corrupt record (1 so far): record 5 of {path}' in (
      caplog.text)
  assert [len(b['image']) for b in batches] == [8] * 4
  assert all(np.all(np.isfinite(b['image'])) for b in batches)
