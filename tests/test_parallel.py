"""The device mesh and batch placement (smplr_jax.training.parallel), on 2 fake CPUs."""

import jax
import numpy as np
import pytest

from smplr_jax.training import parallel


def test_mesh_spans_all_devices_or_the_first_n():
  assert parallel.make_mesh().devices.size == jax.device_count() == 2
  mesh = parallel.make_mesh(1)
  assert mesh.axis_names == (parallel.DATA_AXIS,)
  assert mesh.devices.size == 1
  with pytest.raises(ValueError, match='asked for 3 devices, have 2'):
    parallel.make_mesh(3)


def test_shard_batch_splits_along_the_data_axis():
  mesh = parallel.make_mesh()
  rng = np.random.default_rng(0)
  batch = {'image': rng.random((4, 16, 16, 3), np.float32),
           'jl_cam': rng.random((4, 42, 3), np.float32),
           'valid': np.ones(4, np.float32)}
  sharded = parallel.shard_batch(batch, mesh)
  for key, value in sharded.items():
    np.testing.assert_array_equal(np.asarray(value), batch[key])
    assert value.sharding.spec == jax.sharding.PartitionSpec(
        parallel.DATA_AXIS)
  assert len(sharded['image'].addressable_shards) == mesh.devices.size
  assert sharded['image'].addressable_shards[0].data.shape[0] == (
      4 // mesh.devices.size)
  assert sharded['image'].sharding == parallel.batch_sharding(mesh)


def test_shard_batch_refuses_an_indivisible_batch():
  with pytest.raises(ValueError, match=r"batch\['x'\] has 3 rows, not "
                     'divisible by the 2 devices'):
    parallel.shard_batch({'x': np.zeros((3, 2))}, parallel.make_mesh())


def test_replicated_arrays_are_whole_on_every_device():
  mesh = parallel.make_mesh()
  value = jax.device_put(np.arange(6.0), parallel.replicated(mesh))
  for shard in value.addressable_shards:
    np.testing.assert_array_equal(shard.data, np.arange(6.0))


def test_initialize_distributed_is_a_no_op_for_one_process():
  # This process already runs JAX: joining a run would raise.
  assert not parallel.initialize_distributed(environ={})
  assert not parallel.initialize_distributed(
      num_processes=1, environ={'SLURM_STEP_NUM_TASKS': '1'})
  assert not parallel.initialize_distributed(
      environ={'JAX_NUM_PROCESSES': '4', 'JAX_PROCESS_ID': '1'}, mode='off')
  assert not parallel.initialize_distributed(
      environ={'JAX_NUM_PROCESSES': '1', 'JAX_PROCESS_ID': '0'})
  with pytest.raises(ValueError, match='process id 1 given without the '
                     'number of processes'):
    parallel.initialize_distributed(process_id=1, environ={})
  with pytest.raises(ValueError, match="mode must be one of .* got 'yes'"):
    parallel.initialize_distributed(mode='yes')
  assert parallel.process_share() == (0, 1)
  assert parallel.is_main_process()


def test_to_local_keeps_values():
  mesh = parallel.make_mesh()
  tree = {'w': jax.device_put(np.arange(4.0), parallel.replicated(mesh))}
  local = parallel.to_local(tree)
  np.testing.assert_array_equal(local['w'], np.arange(4.0))
  assert local['w'].sharding.device_set == {mesh.devices.flat[0]}
  split = jax.device_put(np.arange(4.0), parallel.batch_sharding(mesh))
  with pytest.raises(ValueError, match='is not held whole'):
    parallel.to_local(split)
