"""Checkpoints of training runs (smplr_jax.training.checkpoints) on fabricated
workdirs: loading, step choice and the errors users meet."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import write_workdir

from smplr_jax.nets import weights_io
from smplr_jax.training import checkpoints


def _variables(value):
  return {'params': {'dense': {'kernel': jnp.full((3, 2), value)}},
          'batch_stats': {'bn': {'mean': jnp.full((2,), value)}}}


def _config():
  return ml_collections.ConfigDict({'task': 'toy', 'seed': 3})


def test_loads_the_best_checkpoint_with_its_config(tmp_path):
  write_workdir(tmp_path, _config(), _variables(1.0), step=5, val_loss=0.2)
  write_workdir(tmp_path, _config(), _variables(2.0), step=9, val_loss=0.7)
  config, variables, step = weights_io.load_trained_variables(tmp_path)
  assert step == 5  # lowest val_loss, not the latest
  assert config.seed == 3
  np.testing.assert_array_equal(variables['params']['dense']['kernel'], 1.0)
  np.testing.assert_array_equal(variables['batch_stats']['bn']['mean'], 1.0)
  assert variables['params']['dense']['kernel'].sharding.device_set == {
      jax.devices()[0]}
  _, latest, _ = weights_io.load_trained_variables(tmp_path, step=9)
  np.testing.assert_array_equal(latest['params']['dense']['kernel'], 2.0)


def test_missing_config_checkpoint_or_step_are_reported(tmp_path):
  with pytest.raises(ValueError, match='no config.json; is this a training '
                     'workdir'):
    weights_io.load_trained_variables(tmp_path)
  (tmp_path / 'config.json').write_text(json.dumps({'task': 'toy'}))
  with pytest.raises(ValueError, match='no checkpoint found under'):
    weights_io.load_trained_variables(tmp_path)
  write_workdir(tmp_path, _config(), _variables(1.0), step=4)
  with pytest.raises(ValueError, match=r'no checkpoint for step 7 \(have '
                     r'\[4\]\)'):
    weights_io.load_trained_variables(tmp_path, step=7)


def test_save_config_warns_when_a_resumed_run_changes_it(tmp_path, caplog):
  checkpoints.save_config(_config(), tmp_path)
  assert weights_io.load_config(tmp_path).to_dict() == _config().to_dict()
  changed = _config()
  changed.seed = 4
  with caplog.at_level('WARNING'):
    checkpoints.save_config(changed, tmp_path)
  assert 'differs from the config of this run' in caplog.text
  assert weights_io.load_config(tmp_path).seed == 4


def test_exported_variables_round_trip(tmp_path):
  """export_variables -> load_variables: float16 on disk, same tree back."""
  rng = np.random.default_rng(0)
  variables = {
      'params': {'net': {'kernel': rng.normal(size=(4, 3)).astype(np.float32),
                         'bias': rng.normal(size=(3,)).astype(np.float32)},
                 'no_norm': {'w': np.ones((2,), np.float32)}},
      'batch_stats': {'net': {'mean': rng.normal(size=(3,)).astype(
          np.float32)}, 'no_norm': {}}}
  config = ml_collections.ConfigDict({'task': 'toy', 'width': 3})
  write_workdir(tmp_path / 'run', config, variables, step=7)
  step = weights_io.export_variables(tmp_path / 'run', tmp_path / 'export')
  assert step == 7
  loaded_config, loaded = weights_io.load_variables(tmp_path / 'export')
  assert loaded_config == weights_io.load_config(tmp_path / 'run')
  assert jax.tree.structure(loaded) == jax.tree.structure(variables)
  for got, want in zip(jax.tree.leaves(loaded), jax.tree.leaves(variables)):
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)  # float16
  with np.load(tmp_path / 'export' / weights_io.EXPORTED_VARIABLES) as data:
    assert all(data[k].dtype == np.float16 for k in data.files
               if k != '__empty_subtrees__')
  # A workdir loads the same way; a missing path says so.
  _, from_workdir = weights_io.load_variables(tmp_path / 'run')
  assert jax.tree.structure(from_workdir) == jax.tree.structure(variables)
  with pytest.raises(ValueError, match='does not exist'):
    weights_io.load_variables(tmp_path / 'nowhere')


def test_load_variables_like_checks_the_network(tmp_path):
  """config.init_from's loader: the trained values in the fresh init's
  dtypes; another network's variables are refused with the differences."""
  variables = {'params': {'dense': {'kernel': np.full((4, 3), 0.25,
                                                      np.float32)}},
               'batch_stats': {}}
  write_workdir(tmp_path / 'run', ml_collections.ConfigDict({'task': 'toy'}),
                variables, step=3)
  weights_io.export_variables(tmp_path / 'run', tmp_path / 'export')
  fresh = {'params': {'dense': {'kernel': jnp.zeros((4, 3), jnp.float32)}},
           'batch_stats': {}}
  loaded = weights_io.load_variables_like(tmp_path / 'export', fresh)
  assert jax.tree.structure(loaded) == jax.tree.structure(fresh)
  assert loaded['params']['dense']['kernel'].dtype == jnp.float32
  np.testing.assert_array_equal(loaded['params']['dense']['kernel'], 0.25)
  wider = {'params': {'dense': {'kernel': jnp.zeros((4, 5)),
                                'bias': jnp.zeros((5,))}}, 'batch_stats': {}}
  with pytest.raises(ValueError, match=r'2 differences.*dense/bias: missing'
                     r'.*dense/kernel: shape \(4, 3\), the network has '
                     r'\(4, 5\)'):
    weights_io.load_variables_like(tmp_path / 'export', wider)
