"""The record contract: what every image example looks like before cropping.

The renderer (`smplr_jax.data.synthetic`), every dataset builder
(`smplr_jax.data.datasets`) and the augmentation (`smplr_jax.data.augment`) speak this
one contract; `check_record` enforces it.

| key | dtype, shape | meaning |
|---|---|---|
| image | uint8 [H, W, 3] | full frame, RGB |
| mask | uint8 [H, W] | 1 on the person; all 0 when has_mask == 0 |
| has_mask | int32 [] | 1 if the mask is real |
| jl_cam | float32 [42, 3] | JL in the camera frame (metres, absolute) |
| jl_valid | float32 [42] | 1 where the point is annotated |
| focal | float32 [2] | fx, fy (pixels) |
| principal | float32 [2] | cx, cy (pixels) |
| pose | float32 [24, 3] | SMPL axis-angle; joint 0 in the camera frame |
| betas | float32 [10] | SMPL shape |
| gender | int32 [] | 0 female, 1 male, -1 unknown (neutral model) |
| has_smpl | int32 [] | 1 when pose / betas / gender are valid |

Frame and units: the camera frame is OpenCV's (x right, y down, z forward,
metres); a pixel (row i, column j) has its centre at (u, v) = (j, i), and a
point p projects to (u, v) = f * (p_x, p_y) / p_z + principal. JL order: 24
SMPL joints then 18 landmarks (`smplr_jax.body.jl`).

This is the project's one frame for every stage: after the image network,
JL are this frame minus the root (root-relative metres), and so are the
inputs and outputs of the DAE, SMPLR, the SMPL forward of their parameters
(global orientation in this frame), the predictors and the demo. The only
other frame is the image network's cube frame, converted at its edge by
`smplr_jax.crop` (`cube_to_root_relative`, `camera_to_cube`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from smplr_jax import checks
from smplr_jax.body import jl as jl_lib

NUM_BETAS = 10

# key -> (numpy dtype, shape); None dims are image sizes.
RECORD_SPEC = {
    'image': (np.uint8, (None, None, 3)),
    'mask': (np.uint8, (None, None)),
    'has_mask': (np.int32, ()),
    'jl_cam': (np.float32, (jl_lib.NUM_POINTS, 3)),
    'jl_valid': (np.float32, (jl_lib.NUM_POINTS,)),
    'focal': (np.float32, (2,)),
    'principal': (np.float32, (2,)),
    'pose': (np.float32, (jl_lib.NUM_JOINTS, 3)),
    'betas': (np.float32, (NUM_BETAS,)),
    'gender': (np.int32, ()),
    'has_smpl': (np.int32, ()),
}
RECORD_KEYS = tuple(RECORD_SPEC)
INT_KEYS = ('has_mask', 'gender', 'has_smpl')


def check_record(record: Mapping[str, Any], source: str = 'record',
                 extra_spec: Mapping[str, tuple] | None = None) -> None:
  """Raises ValueError unless `record` follows the contract.

  Args:
    record: a dict of arrays.
    source: what the record is (a file and index, ...), for the message.
    extra_spec: a builder's own keys beyond the contract, key -> (numpy
      dtype, shape) like `RECORD_SPEC`: required too, with that dtype and
      shape.

  Raises:
    ValueError: naming `source` and the key: a missing key, a wrong dtype or
      shape (see `RECORD_SPEC`), NaN or Inf values, a mask not of the
      image's size or not 0/1.
  """
  spec = {**RECORD_SPEC, **(extra_spec or {})}
  missing = [k for k in spec if k not in record]
  if missing:
    raise ValueError(f'{source}: missing keys {missing}; a record needs '
                     f'{list(spec)}.')
  for key, (dtype, shape) in spec.items():
    value = np.asarray(record[key])
    if value.dtype != dtype:
      raise ValueError(f'{source}: {key} must be {np.dtype(dtype).name}, got '
                       f'{value.dtype}.')
    if value.ndim != len(shape) or any(
        s is not None and s != v for s, v in zip(shape, value.shape)):
      raise ValueError(f'{source}: {key} must have shape {shape} (None: any), '
                       f'got {value.shape}.')
  # Parameters before the JL they determine, so a NaN is named at its source.
  for key in ('pose', 'betas', 'focal', 'principal', 'jl_cam', 'jl_valid'):
    checks.check_finite(record[key], f'{source}: {key}', batched=False)
  image, mask = np.asarray(record['image']), np.asarray(record['mask'])
  if mask.shape != image.shape[:2]:
    raise ValueError(f'{source}: mask {mask.shape} must match the image size '
                     f'{image.shape[:2]}.')
  if mask.size and mask.max() > 1:
    raise ValueError(f'{source}: mask must hold 0/1, found {mask.max()}.')
