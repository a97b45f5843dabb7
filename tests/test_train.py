"""The training library on a toy task: data parallelism, resume, NaN stop."""

import json
from unittest import mock

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from smplr_jax.nets import weights_io
from smplr_jax.training import parallel, train


class _Net(nn.Module):
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool):
    h = nn.Dense(16, use_bias=False)(x)  # BatchNorm follows
    h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name,
                     momentum=0.9)(h)
    return nn.Dense(2)(nn.elu(h))


class ToyTask:
  """Regress a fixed linear map of Gaussian inputs through a BatchNorm MLP."""

  def __init__(self, poison_probability: float = 0.0):
    self.poison_probability = poison_probability  # chance of a NaN batch
    self.net = _Net(axis_name=parallel.DATA_AXIS)
    self.eval_net = _Net()
    self.true_map = jnp.asarray(np.random.default_rng(0).normal(size=(4, 2)),
                                jnp.float32)

  def init_variables(self, rng):
    return dict(self.eval_net.init(rng, jnp.zeros((2, 4)), train=False))

  def sample_batch(self, rng, batch_size):
    x = jax.random.normal(rng, (batch_size, 4))
    y = x @ self.true_map
    poisoned = jax.random.uniform(jax.random.fold_in(rng, 1)) < (
        self.poison_probability)
    return dict(x=x, y=jnp.where(poisoned, jnp.nan, y))

  def loss(self, params, batch_stats, batch, rng, train):
    del rng
    variables = {'params': params, 'batch_stats': batch_stats}
    if train:
      pred, updates = self.net.apply(variables, batch['x'], train=True,
                                     mutable=['batch_stats'])
      batch_stats = updates['batch_stats']
    else:
      pred = self.eval_net.apply(variables, batch['x'], train=False)
    loss = jnp.mean((pred - batch['y'])**2)
    return loss, ({'mse': loss}, batch_stats)

  def validation_batches(self):
    return [jax.device_get(self.sample_batch(jax.random.PRNGKey(7), 32))]

  def evaluate(self, variables):
    loss, _ = self.loss(variables['params'], variables['batch_stats'],
                        self.validation_batches()[0], None, False)
    return {'mse': float(loss)}


class HostFedToyTask(ToyTask):
  """The toy task with batches made on the host, as an image loader would."""

  def train_batches(self, start_step, batch_size):
    for step in range(start_step, 10**9):
      x = np.random.default_rng(step).normal(size=(batch_size, 4))
      yield dict(x=x.astype(np.float32),
                 y=(x @ np.asarray(self.true_map)).astype(np.float32))


def _config(**overrides):
  config = ml_collections.ConfigDict(dict(
      seed=0, num_devices=1, batch_size=32, num_steps=40, learning_rate=1e-2,
      final_learning_rate=1e-4, schedule='cosine', log_every=5, eval_every=10,
      keep_checkpoints=2, progress_bar=False))
  config.update(overrides)
  return config


def _params(workdir, step=None):
  _, variables, _ = weights_io.load_trained_variables(workdir, step)
  return variables


def _log(workdir):
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  return {row['step']: row for row in map(json.loads, lines)}


def test_training_reduces_loss_and_writes_outputs(tmp_path):
  results = train.train_and_evaluate(_config(num_steps=60), tmp_path, ToyTask())
  log = _log(tmp_path)
  assert log[60]['loss'] < 0.2 * log[5]['loss']
  assert results['mse'] < 0.1
  assert json.loads((tmp_path / 'results.json').read_text())['mse'] == (
      results['mse'])
  assert list(tmp_path.glob('events.out.tfevents.*'))  # TensorBoard
  assert json.loads((tmp_path / 'config.json').read_text())['batch_size'] == 32


@pytest.mark.parametrize('task_class', [ToyTask, HostFedToyTask])
def test_two_devices_match_one_device(tmp_path, task_class):
  assert len(jax.devices()) >= 2, 'conftest asks for 2 fake CPU devices'
  train.train_and_evaluate(_config(num_devices=1), tmp_path / 'one',
                           task_class())
  train.train_and_evaluate(_config(num_devices=2), tmp_path / 'two',
                           task_class())
  one, two = _params(tmp_path / 'one', 40), _params(tmp_path / 'two', 40)
  jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5, rtol=0), one,
      two)
  log_one, log_two = _log(tmp_path / 'one'), _log(tmp_path / 'two')
  for step in (5, 20, 40):
    np.testing.assert_allclose(log_one[step]['loss'], log_two[step]['loss'],
                               rtol=1e-5)


@pytest.mark.parametrize('task_class', [ToyTask, HostFedToyTask])
def test_killed_run_resumes_with_identical_losses(tmp_path, task_class):
  train.train_and_evaluate(_config(), tmp_path / 'straight', task_class())

  real_make_train_step = train.make_train_step

  def make_dying_step(*args, **kwargs):
    step_fn = real_make_train_step(*args, **kwargs)

    def dying_step(state, *args):
      if int(state.step) == 27:
        raise KeyboardInterrupt('simulated kill')
      return step_fn(state, *args)

    return dying_step

  with mock.patch.object(train, 'make_train_step', make_dying_step):
    with pytest.raises(KeyboardInterrupt):
      train.train_and_evaluate(_config(), tmp_path / 'killed', task_class())
  assert max(_log(tmp_path / 'killed')) == 25
  train.train_and_evaluate(_config(), tmp_path / 'killed', task_class())
  straight, resumed = _log(tmp_path / 'straight'), _log(tmp_path / 'killed')
  # Resumed from the step-20 checkpoint: steps 25..40 are logged again and
  # match the uninterrupted run exactly.
  for step in (25, 30, 35, 40):
    assert resumed[step]['loss'] == pytest.approx(straight[step]['loss'],
                                                  rel=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
               _params(tmp_path / 'straight', 40),
               _params(tmp_path / 'killed', 40))


def test_host_batches_of_the_wrong_size_are_refused(tmp_path):
  task = HostFedToyTask()
  task.train_batches = lambda start, size: iter([dict(x=np.zeros((3, 4)),
                                                      y=np.zeros((3, 2)))])
  with pytest.raises(ValueError, match=r'leading sizes \[3\]; expected 32'):
    train.train_and_evaluate(_config(), tmp_path, task)


def test_keeps_last_n_and_best_checkpoints(tmp_path):
  train.train_and_evaluate(_config(num_steps=60), tmp_path, ToyTask())
  manager = weights_io.checkpoint_manager(tmp_path, create=False)
  steps = sorted(manager.all_steps())
  assert steps[-2:] == [50, 60]  # the last two (keep_checkpoints=2)
  assert manager.best_step() in steps
  assert len(steps) <= 3


def test_nonfinite_loss_stops_with_last_good_checkpoint(tmp_path):
  config = _config(num_steps=200, log_every=4, eval_every=4)
  with pytest.raises(train.NonFiniteLossError,
                     match=r'NaN/Inf at step (\d+).*Last good checkpoint: '
                     r'step (\d+)') as error:
    train.train_and_evaluate(config, tmp_path, ToyTask(0.05))
  message = str(error.value)
  bad_step = int(message.split('at step ')[1].split(';')[0])
  manager = weights_io.checkpoint_manager(tmp_path, create=False)
  good = manager.latest_step()
  assert good is not None and good <= bad_step
  variables = _params(tmp_path, good)
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(variables))


def test_cosine_warmup_schedule():
  """A linear warm-up from 0 (the first update moves nothing), the peak at
  warmup_steps, the final rate at num_steps; only for the cosine."""
  config = ml_collections.ConfigDict(dict(
      learning_rate=1e-2, final_learning_rate=1e-4, num_steps=40,
      warmup_steps=10, schedule='cosine'))
  tx = train.make_optimizer(config)
  params = {'w': jnp.ones(3)}
  state = tx.init(params)
  sizes = []
  for _ in range(40):
    updates, state = tx.update({'w': jnp.ones(3)}, state, params)
    sizes.append(float(jnp.abs(updates['w'][0])))
  # Adam's first step is lr-sized; with equal gradients every step is.
  np.testing.assert_allclose(sizes[0], 0.0, atol=1e-9)
  np.testing.assert_allclose(sizes[5], 5e-3, rtol=1e-3)
  np.testing.assert_allclose(sizes[10], 1e-2, rtol=1e-3)
  assert sizes[10] > sizes[25] > sizes[39] > 1e-4
  config.schedule = 'sigmoid'
  with pytest.raises(ValueError, match='warmup_steps is for the cosine'):
    train.make_optimizer(config)
