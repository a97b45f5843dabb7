"""Processes, the device mesh, its `data` axis and how batches are placed.

Every data-parallel computation of the project runs on one 1-D mesh whose
single axis, `DATA_AXIS`, splits the batch. With several processes (one per
host or per GPU; `initialize_distributed`), the mesh spans the devices of
every process, ordered by process, so that process p holds the p-th
contiguous share of each global batch. Parameters are replicated
(`replicated(mesh)`); batches are sharded along the axis (`batch_sharding`),
from device-side arrays or from host numpy batches (`shard_batch`: each
process passes its own share, `process_share` says which).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = 'data'
# How `initialize_distributed` is switched: by what it finds (flags, the
# JAX_* variables, a SLURM step or Open MPI job of several tasks), always
# (let JAX detect the rest, as on a TPU pod slice), or never.
DISTRIBUTED_MODES = ('auto', 'on', 'off')


def _int_or_none(value: str | int | None) -> int | None:
  return None if value in (None, '') else int(value)


def _cluster_size(environ: Mapping[str, str]) -> int:
  """Tasks of the SLURM step or Open MPI job this process belongs to (1:
  none). `sbatch` alone sets SLURM_NTASKS for the job; only `srun` starts
  the tasks, so the step's count is the one that says we are one of many."""
  for key in ('SLURM_STEP_NUM_TASKS', 'OMPI_COMM_WORLD_SIZE'):
    if environ.get(key):
      return int(environ[key])
  return 1


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None,
                           mode: str = 'auto',
                           environ: Mapping[str, str] | None = None) -> bool:
  """Joins this process to a multi-process run (`jax.distributed`).

  Call it before any other JAX call. Unset arguments come from the
  environment: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID,
  else from what JAX detects (SLURM, Open MPI, Cloud TPU). A single process
  (no arguments, no such environment) is left alone, so launchers call it
  unconditionally. CPU processes exchange collectives over gloo.

  Args:
    coordinator_address: 'host:port' of process 0 (any free port).
    num_processes: number of processes of the run.
    process_id: this process' index, 0 .. num_processes - 1.
    mode: 'auto' (initialise when the arguments, the JAX_* variables or a
      SLURM step / Open MPI job say there are several processes), 'on'
      (always; JAX detects what is unset: TPU pod slices) or 'off'.
    environ: the environment (default `os.environ`).

  Returns:
    Whether this process is part of an initialised multi-process run.

  Raises:
    ValueError: an unknown mode, or a process id without a process count.
  """
  if mode not in DISTRIBUTED_MODES:
    raise ValueError(f'distributed mode must be one of {DISTRIBUTED_MODES}, '
                     f'got {mode!r}.')
  if mode == 'off':
    return False
  if jax.distributed.is_initialized():
    return True
  environ = os.environ if environ is None else environ
  coordinator_address = (coordinator_address or
                         environ.get('JAX_COORDINATOR_ADDRESS') or None)
  num_processes = _int_or_none(num_processes or
                               environ.get('JAX_NUM_PROCESSES'))
  if process_id is None or process_id < 0:
    process_id = _int_or_none(environ.get('JAX_PROCESS_ID'))
  if process_id is not None and num_processes is None and mode == 'auto':
    raise ValueError(f'process id {process_id} given without the number of '
                     'processes (--num_processes or JAX_NUM_PROCESSES).')
  if mode == 'auto' and (num_processes or _cluster_size(environ)) <= 1:
    return False  # one process: nothing to join
  # CPU collectives across processes need an implementation (some JAX
  # versions default to none); GPU and TPU backends ignore the option.
  if jax.config.jax_cpu_collectives_implementation in (None, '', 'none'):
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address, num_processes, process_id)
  logging.info('Process %d of %d (coordinator %s), devices %s.',
               jax.process_index(), jax.process_count(),
               coordinator_address or 'detected', jax.local_devices())
  return True


def is_main_process() -> bool:
  """Whether this is process 0, the one that writes logs and files."""
  return jax.process_index() == 0


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first `num_devices` devices (0 or None: all).

  Devices are ordered by (process, id): process p's devices hold the p-th
  contiguous share of a batch sharded along `DATA_AXIS`.

  Raises:
    ValueError: more devices asked for than there are, or a multi-process
      run asked for fewer than all (every process must take part), or
      processes with different numbers of devices.
  """
  devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
  if num_devices:
    if num_devices > len(devices):
      raise ValueError(f'asked for {num_devices} devices, have {len(devices)}')
    if jax.process_count() > 1 and num_devices != len(devices):
      raise ValueError(
          f'asked for {num_devices} of the {len(devices)} devices of a '
          f'{jax.process_count()}-process run; every process takes part, so '
          'set num_devices to 0 (all).')
    devices = devices[:num_devices]
  per_process = {d.process_index: 0 for d in devices}
  for d in devices:
    per_process[d.process_index] += 1
  if len(set(per_process.values())) > 1:
    raise ValueError(f'processes have different numbers of devices '
                     f'{per_process}; a batch cannot be shared evenly.')
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def process_share() -> tuple[int, int]:
  """(index, count): this process feeds rows [index * B / count,
  (index + 1) * B / count) of every global batch of B rows (`make_mesh`
  orders the mesh by process)."""
  return jax.process_index(), jax.process_count()


def replicated(mesh: Mesh) -> NamedSharding:
  """The sharding of arrays held whole by every device (parameters)."""
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """The sharding of batches: leading axis split along `DATA_AXIS`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def shard_batch(batch: Mapping[str, np.ndarray],
                mesh: Mesh) -> dict[str, jax.Array]:
  """This process' share of a host batch as global jax arrays split along
  the mesh's data axis (`jax.make_array_from_process_local_data`).

  Args:
    batch: numpy arrays with a leading batch axis: this process' rows of the
      global batch (`process_share`; with one process, the whole batch),
      divisible by the number of this process' devices in the mesh.
    mesh: the device mesh (`make_mesh`).

  Returns:
    dict of jax.Array of the global batch (this share's rows times the
    number of processes), sharded as `PartitionSpec(DATA_AXIS)`.

  Raises:
    ValueError: a leading size not divisible by the number of devices.
  """
  sharding = batch_sharding(mesh)
  size = mesh.shape[DATA_AXIS]
  local = sum(d.process_index == jax.process_index()
              for d in mesh.devices.flat)
  out = {}
  for key, value in batch.items():
    value = np.asarray(value)
    if value.shape[0] % local:
      raise ValueError(f"batch['{key}'] has {value.shape[0]} rows, not "
                       f'divisible by the {local} devices of mesh axis '
                       f'{DATA_AXIS!r}.')
    global_shape = (value.shape[0] * size // local,) + value.shape[1:]
    out[key] = jax.make_array_from_process_local_data(sharding, value,
                                                      global_shape)
  return out


def to_local(tree: Any) -> Any:
  """Replicated arrays as copies on this process' first device of the mesh
  (the same values), for host-side work such as evaluation: every process
  computes on one device, whatever the number of processes.

  Raises:
    ValueError: an array that is split, not replicated.
  """

  def local(x):
    if not isinstance(x, jax.Array) or len(x.sharding.device_set) == 1:
      return x
    if not x.is_fully_replicated:
      raise ValueError(f'an array sharded as {x.sharding} is not held '
                       'whole by every device.')
    return x.addressable_data(0)

  return jax.tree.map(local, tree)
