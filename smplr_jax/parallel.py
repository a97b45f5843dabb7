"""The device mesh, its `data` axis and how batches are placed on it.

Every data-parallel computation of the project runs on one 1-D mesh whose
single axis, `DATA_AXIS`, splits the batch. Parameters are replicated
(`replicated(mesh)`); batches are sharded along the axis (`batch_sharding`),
from device-side arrays or from host numpy batches (`shard_batch`, which is
multi-process safe: each process passes its own share).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = 'data'


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first `num_devices` devices (0 or None: all).

  Raises:
    ValueError: more devices asked for than there are.
  """
  devices = jax.devices()
  if num_devices:
    if num_devices > len(devices):
      raise ValueError(f'asked for {num_devices} devices, have {len(devices)}')
    devices = devices[:num_devices]
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """The sharding of arrays held whole by every device (parameters)."""
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """The sharding of batches: leading axis split along `DATA_AXIS`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def shard_batch(batch: Mapping[str, np.ndarray],
                mesh: Mesh) -> dict[str, jax.Array]:
  """A host batch as global jax arrays split along the mesh's data axis.

  Args:
    batch: numpy arrays with a leading batch axis (this process's share;
      with one process, the whole batch), divisible by the axis' size.
    mesh: the device mesh (`make_mesh`).

  Returns:
    dict of jax.Array sharded as `PartitionSpec(DATA_AXIS)`.

  Raises:
    ValueError: a leading size not divisible by the number of devices.
  """
  sharding = batch_sharding(mesh)
  size = mesh.shape[DATA_AXIS]
  out = {}
  for key, value in batch.items():
    value = np.asarray(value)
    if value.shape[0] % size:
      raise ValueError(f"batch['{key}'] has {value.shape[0]} rows, not "
                       f'divisible by the {size} devices of mesh axis '
                       f'{DATA_AXIS!r}.')
    out[key] = jax.make_array_from_process_local_data(sharding, value)
  return out
