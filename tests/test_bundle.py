"""The model bundle (smplr_jax.nets.bundle) and the names from before the
image-network role was called `image_net`: old folders and runs still load."""

import json
import shutil

import jax
import ml_collections
import numpy as np
import pytest

from smplr_jax import resources
from smplr_jax.nets import bundle, weights_io
from smplr_jax.training import tasks

SHIPPED = resources.weights_dir()


def test_shipped_folder_loads_every_stage():
  loaded = bundle.load_stages()
  assert set(loaded.variables) == {'image_net', 'smplr', 'dae'}
  assert loaded.stages.image_net is not None and loaded.stages.dae is not None
  assert loaded.input_size == loaded.configs['image_net'].input_size
  assert loaded.configs['image_net'].task == 'image_net'


def test_jl_only_bundle_has_no_image_network():
  loaded = bundle.load_stages(image_net=False, dae=False)
  assert loaded.stages.image_net is None and loaded.stages.dae is None
  assert set(loaded.variables) == {'smplr'} and loaded.input_size is None


def test_missing_folders_and_stages_are_named(tmp_path):
  with pytest.raises(ValueError, match='does not exist'):
    bundle.load_stages(tmp_path / 'nowhere')
  (tmp_path / 'smplr').symlink_to(SHIPPED / 'smplr')
  with pytest.raises(ValueError, match='no image_net sub-folder'):
    bundle.load_stages(tmp_path)
  with pytest.raises(ValueError, match='no dae sub-folder'):
    bundle.load_stages(tmp_path, image_net=False, require_dae=True)


def _legacy_image_net_folder(path):
  """The shipped image network as it was exported before the rename."""
  path.mkdir()
  (path / 'variables.npz').symlink_to(SHIPPED / 'image_net' / 'variables.npz')
  config = json.loads((SHIPPED / 'image_net' / 'config.json').read_text())
  config['task'] = 'hourglass'
  (path / 'config.json').write_text(json.dumps(config))


def test_a_pipeline_folder_from_before_the_rename_loads(tmp_path):
  _legacy_image_net_folder(tmp_path / 'hourglass')
  for stage in ('smplr', 'dae'):
    (tmp_path / stage).symlink_to(SHIPPED / stage)
  old = bundle.load_stages(tmp_path)
  new = bundle.load_stages()
  assert old.configs['image_net'].task == 'image_net'
  same = jax.tree.map(lambda a, b: bool(np.array_equal(a, b)),
                      old.variables['image_net'], new.variables['image_net'])
  assert all(jax.tree.leaves(same))


def test_an_end_to_end_export_with_the_old_stage_key_loads(tmp_path):
  np.savez(tmp_path / weights_io.EXPORTED_VARIABLES, **{
      'params/hourglass/conv/kernel': np.ones((3, 3), np.float16),
      'params/smplr/shape/bias': np.zeros(2, np.float16),
      'batch_stats/hourglass/bn/mean': np.zeros(4, np.float16)})
  (tmp_path / 'config.json').write_text(json.dumps({
      'task': 'end_to_end', 'init_from': {'hourglass': 'a', 'smplr': 'b'},
      'e2e': {'hourglass_weight': 0.5, 'smplr_weight': 1.0}}))
  config, variables = weights_io.load_variables(tmp_path)
  assert set(variables['params']) == {'image_net', 'smplr'}
  assert set(variables['batch_stats']) == {'image_net'}
  np.testing.assert_array_equal(
      variables['params']['image_net']['conv']['kernel'], np.ones((3, 3)))
  assert dict(config.init_from) == {'image_net': 'a', 'smplr': 'b'}
  assert config.e2e.image_net_weight == 0.5
  assert 'hourglass_weight' not in config.e2e


def test_the_old_task_name_picks_the_image_network_task():
  old = ml_collections.ConfigDict({'task': 'hourglass'})
  upgraded = weights_io.upgrade_config(old)
  assert upgraded.task == 'image_net' and old.task == 'hourglass'  # a copy
  assert tasks.TASKS[upgraded.task].__name__ == 'ImageNetTask'
  with pytest.raises(ValueError, match='unknown task'):
    tasks.make_task(ml_collections.ConfigDict({'task': 'hourglas'}))


def test_a_workdir_copied_from_the_export_is_not_needed(tmp_path):
  # An exported folder copied elsewhere still loads (nothing points back).
  shutil.copytree(SHIPPED / 'dae', tmp_path / 'dae')
  config, variables = weights_io.load_variables(tmp_path / 'dae')
  assert config.task == 'dae' and 'params' in variables
