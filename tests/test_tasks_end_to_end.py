"""The end-to-end task (smplr_jax.training.tasks.end_to_end): gradients of SMPLR's
losses reach the image network through soft-argmax, DAE and SMPL; a tiny
run learns; one and two devices agree."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import write_untrained_smplr_and_dae

from experiments.end_to_end.configs import cpu as e2e_config
from smplr_jax.nets import weights_io
from smplr_jax.training import train
from smplr_jax.training.tasks import end_to_end
from smplr_jax.training.tasks import image_net as image_net_task


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
  """A built tiny image set and untrained SMPLR and DAE workdirs."""
  tmp_path = tmp_path_factory.mktemp('e2e')
  write_untrained_smplr_and_dae(tmp_path)
  config = e2e_config.get_config()
  config.update(dict(input_size=64, batch_size=8, eval_batch_size=8,
                     num_steps=30, log_every=10, eval_every=30,
                     learning_rate=2e-3, final_learning_rate=2e-3,
                     progress_bar=False, num_devices=1))
  # A tiny U-Net, the architecture of the shipped image network.
  config.model.update(widths=(8, 16, 16, 32, 32), blocks=(1, 1, 1, 1),
                      head_features=16)
  # Dropout masks are drawn per device: off, so 1 and 2 devices can agree.
  config.model.dropout_rate = 0.0
  config.data.builder_config = 'n32_v8_t8_s0'
  config.data.data_dir = str(tmp_path / 'tfds')
  config.init_from.image_net = ''  # a fresh image network
  config.init_from.smplr = str(tmp_path / 'smplr')
  config.init_from.dae = str(tmp_path / 'dae')
  sources = image_net_task.load_sources(config)
  return config, sources, tmp_path


def _batch(task):
  batch = next(iter(task.train_batches(0, 4)))
  return {k: jnp.asarray(v) for k, v in batch.items()}


@pytest.mark.slow  # ~35 s; the tiny end-to-end run below stays quick
def test_smplr_loss_alone_reaches_the_image_net(setup):
  config, sources, _ = setup
  config = config.copy_and_resolve_references()
  config.e2e.image_net_weight = 0.0  # only lambda * SMPLR losses
  config.e2e.smplr_weight = 1.0
  task = end_to_end.EndToEndTask(config, sources)
  variables = task.init_variables(jax.random.PRNGKey(0))
  batch = _batch(task)

  def loss(params):  # inference-mode BatchNorm: no device axis needed
    return task.loss(params, variables['batch_stats'], batch,
                     jax.random.PRNGKey(3), False)[0]

  grads = jax.jit(jax.grad(loss))(variables['params'])
  image_net = jax.tree.leaves(grads['image_net'])
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in image_net)
  norm = float(jnp.sqrt(sum(jnp.sum(g * g) for g in image_net)))
  assert norm > 1e-6
  # Frozen by default: no gradient on SMPLR and the DAE.
  for stage in ('smplr', 'dae'):
    assert all(float(jnp.max(jnp.abs(g))) == 0.0
               for g in jax.tree.leaves(grads[stage]))
  # With the switch, SMPLR gets gradients too.
  config.e2e.train_smplr = True
  task = end_to_end.EndToEndTask(config, sources)
  grads = jax.jit(jax.grad(loss))(variables['params'])
  assert max(float(jnp.max(jnp.abs(g)))
             for g in jax.tree.leaves(grads['smplr'])) > 0.0


@pytest.mark.slow  # ~20 s with its task; the tiny SMPLR run stays
def test_examples_without_smpl_are_masked(setup):
  config, sources, _ = setup
  task = end_to_end.EndToEndTask(config, sources)
  variables = task.init_variables(jax.random.PRNGKey(0))
  batch = _batch(task)
  masked = dict(batch, has_smpl=jnp.zeros_like(batch['has_smpl']),
                betas=batch['betas'] + 5.0)
  # One compiled loss for both batches (eager dispatch costs more than it).
  smplr_loss = jax.jit(lambda b: task.loss(
      variables['params'], variables['batch_stats'], b,
      jax.random.PRNGKey(3), False)[1][0]['loss_smplr'])
  assert float(smplr_loss(masked)) == 0.0
  assert float(smplr_loss(batch)) > 0.0


def _run(setup, devices, name, **overrides):
  config, sources, tmp_path = setup
  config = config.copy_and_resolve_references()
  config.num_devices = devices
  config.update(overrides)
  task = end_to_end.EndToEndTask(config, sources)
  workdir = tmp_path / name
  return task, workdir, train.train_and_evaluate(config, workdir, task)


def _log(workdir):
  return {entry['step']: entry for entry in map(
      json.loads, (workdir / 'metrics.jsonl').read_text().splitlines())}


@pytest.mark.slow  # 50-100 s; the SMPLR, DAE and hourglass tiny runs stay
def test_tiny_run_lowers_the_error(setup):
  task, workdir, results = _run(setup, 2, 'learn')
  init_key, _ = train.run_keys(task.config.seed)
  before, _ = task.evaluate_with_predictions(task.init_variables(init_key))
  log = _log(workdir)
  assert max(log) == 30
  assert log[30]['loss'] < log[10]['loss']
  assert results['image/mpjpe'] < before['image/mpjpe']
  for row in ('image', 'input', 'body'):
    assert 0 < results[f'{row}/mpjpe'] < 1250
  assert 0 < results['body/surface'] < 2000
  assert results['num_test_examples'] == 8


@pytest.mark.slow
def test_one_and_two_devices_agree(setup):
  """The same global batches, cross-device BatchNorm and gradient means: the
  runs agree up to float reduction order, which Adam amplifies on the
  parameters whose gradient is ~0 (conv biases in front of BatchNorm), so
  the comparison is on losses and predictions, with a parameter bound."""
  runs = {d: _run(setup, d, f'devices{d}', num_steps=6, log_every=2,
                  eval_every=6) for d in (1, 2)}
  logs = {d: _log(run[1]) for d, run in runs.items()}
  for step in (2, 4, 6):
    np.testing.assert_allclose(logs[1][step]['loss'], logs[2][step]['loss'],
                               rtol=1e-3)
  for key in ('image/mpjpe', 'body/mpjpe', 'body/surface'):
    np.testing.assert_allclose(runs[1][2][key], runs[2][2][key], rtol=2e-3)
  _, one, _ = weights_io.load_trained_variables(runs[1][1], 6)
  _, two, _ = weights_io.load_trained_variables(runs[2][1], 6)
  # 6 Adam steps move a parameter by at most 6 x lr = 1.2e-2.
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=2e-3,
                                                       rtol=0), one, two)
