"""The DAE task end to end (smplr_jax.training.tasks.dae): synthetic and paired data."""

import json

import jax
import numpy as np
import pytest
from helpers import write_pairs

from experiments.dae.configs import structured as structured_config
from smplr_jax.training import train
from smplr_jax.training.tasks import dae as dae_task

SMALL = dict(encoder=(16, 12, 8), decoder=(12, 16))


def _tiny_config(**overrides):
  config = structured_config.get_config()
  config.dae.encoder, config.dae.decoder = SMALL['encoder'], SMALL['decoder']
  config.update(dict(num_steps=6, batch_size=32, log_every=3, eval_every=6,
                     validation_size=32, test_set_size=32, eval_batch_size=32,
                     progress_bar=False, num_devices=2))
  config.update(overrides)
  return config


@pytest.mark.slow  # 25-35 s; DAE runs also train in test_faults
def test_tiny_training_end_to_end(tmp_path):
  config = _tiny_config(eval_noises=('uniform', 'structured'))
  results = train.train_and_evaluate(config, tmp_path,
                                     dae_task.DAETask(config))
  log = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').open()]
  assert [row['step'] for row in log] == [3, 6]
  assert all(np.isfinite(row[k]) for row in log
             for k in ('loss', 'loss_jl', 'loss_bones'))
  for kind in ('uniform', 'structured'):
    for stage in ('before', 'after'):
      for metric in ('mpjpe', 'pa_mpjpe', 'landmarks', 'bones', 'Wt'):
        assert np.isfinite(results[f'{kind}/{stage}/{metric}'])
  # Structured noise is the largest of the three (before the DAE).
  assert (results['structured/before/mpjpe'] >
          results['uniform/before/mpjpe'] > 10)
  saved = json.loads((tmp_path / 'results.json').read_text())
  assert saved['uniform/after/mpjpe'] == results['uniform/after/mpjpe']
  # The training error (L1 of the DAE's output JL, metres) goes down.
  assert log[-1]['loss_jl'] < log[0]['loss_jl']


@pytest.mark.slow  # ~13 s
def test_paired_training_samples_from_the_file(tmp_path):
  # A network whose predictions are off by 5 cm along x at every non-root
  # point: the DAE (the identity when fresh) learns to remove the offset.
  gt = np.random.default_rng(1).normal(0.0, 0.3, (80, 42, 3))
  pred = gt.copy()
  pred[:, 1:] += [0.05, 0.0, 0.0]
  write_pairs(tmp_path / 'pairs.npz', gt_jl=gt.astype(np.float32),
              pred_jl=pred.astype(np.float32))
  config = _tiny_config(data='paired', num_devices=1, eval_batch_size=8,
                        learning_rate=3e-3)
  config.paired.path = str(tmp_path / 'pairs.npz')
  task = dae_task.DAETask(config)
  batch = task.sample_batch(jax.random.PRNGKey(0), 16)
  pairs = task.train_pairs
  for pred, gt in zip(np.asarray(batch['jl_in']), np.asarray(batch['jl'])):
    index = np.flatnonzero(np.all(pairs.gt_jl == gt, axis=(1, 2)))
    assert index.size == 1
    np.testing.assert_array_equal(pairs.pred_jl[index[0]], pred)
  results = train.train_and_evaluate(config, tmp_path / 'run', task)
  assert set(results) >= {'paired/before/mpjpe', 'paired/after/mpjpe'}
  assert results['paired/before/mpjpe'] == pytest.approx(50.0, abs=1e-3)
  assert results['paired/after/mpjpe'] < 0.8 * results['paired/before/mpjpe']


def test_paired_mode_needs_a_path():
  with pytest.raises(ValueError, match='needs --config.paired.path'):
    dae_task.DAETask(_tiny_config(data='paired'))
