"""Adapters: another detector's keypoints -> root-relative JL.

`Adapter` is a small residual MLP from one keypoint set's normalised points
and visibility mask (`smplr_jax.body.keypoints`: 3D sets centred at the hip
midpoint in metres, 2D sets seen by a virtual camera looking at the hips,
centred and scaled to unit RMS radius; missing points zeroed) to
root-relative camera-frame JL [B, 42, 3] in metres, which the DAE and SMPLR
take as they take the image network's. `smplr_jax.training.tasks.adapter`
trains it on synthetic bodies with detector-like noise;
`smplr_jax.predict.keypoint_predictor` runs it, the DAE and SMPLR on a
detector's keypoints.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib

PyTree = Any


class Adapter(nn.Module):
  """Keypoints of one set -> root-relative JL.

  Attributes:
    num_keypoints: K.
    dims: 2 or 3, the points' dimension.
    width: hidden width.
    num_blocks: residual blocks (LayerNorm -> Dense -> GELU -> Dense); the
      output is a Dense layer of the GELU of the last one plus a linear map
      of the input.
  """
  num_keypoints: int
  dims: int
  width: int = 352
  num_blocks: int = 2

  @nn.compact
  def __call__(self, points: jnp.ndarray, visible: jnp.ndarray
               ) -> jnp.ndarray:
    """[B, K, dims] normalised points, [B, K] visibility -> [B, 42, 3] JL
    (metres, point 0 the root at the origin)."""
    batch = points.shape[0]
    x = jnp.concatenate([points.reshape(batch, -1), visible], axis=-1)
    h = nn.Dense(self.width)(x)
    for _ in range(self.num_blocks):
      y = nn.Dense(self.width)(nn.LayerNorm()(h))
      h = h + nn.Dense(self.width)(nn.gelu(y))
    size = (jl_lib.NUM_POINTS - 1) * 3
    # A linear path from the input keeps the metric scale of 3D points
    # (a joint given as a keypoint is copied, not re-derived).
    out = nn.Dense(size)(nn.gelu(h)) + nn.Dense(size, use_bias=False)(x)
    out = out.reshape(batch, -1, 3)
    return jnp.concatenate([jnp.zeros_like(out[:, :1]), out], axis=1)


def make_adapter(config: ml_collections.ConfigDict) -> Adapter:
  """The `Adapter` of a config's `adapter` block (keypoint_set, dims, width,
  num_blocks)."""
  keypoint_set = kp_lib.get_set(config.keypoint_set)
  if config.dims not in (2, 3):
    raise ValueError(f'adapter dims must be 2 or 3, got {config.dims}.')
  return Adapter(num_keypoints=keypoint_set.num_keypoints,
                 dims=int(config.dims), width=int(config.width),
                 num_blocks=int(config.num_blocks))
