"""Camera-frame geometry shared by the image stages.

The camera frame is OpenCV's (x right, y down, z forward, metres; see
`smplr_jax.records`). The image network predicts JL in the *cube* frame of a
root-centred crop (`smplr_jax.augment.crop_transform`): x and y are offsets
in the crop plane scaled to metres at the root's depth, z is depth relative
to the root. `cube_to_camera` maps them back.
"""

from __future__ import annotations

import jax.numpy as jnp


def cube_to_camera(jl_cube: jnp.ndarray, root_cam: jnp.ndarray) -> jnp.ndarray:
  """Cube-frame JL of an unaugmented crop -> camera-frame JL.

  The crop's camera has focal S * z_root / cube and sees the root at the
  crop centre, so x_cube = z_root * (X / Z - X_root / Z_root) (same for y)
  and z_cube = Z - Z_root; this inverts it. Pixels are taken as square
  (fx = fy; the crop uses their mean): with fx != fy the lateral error is
  |fx / fy - 1| times the offset from the root (0.1% on Human3.6M).

  Args:
    jl_cube: [B, 42, 3] metres in the cube frame (root at 0).
    root_cam: [B, 3] the root in camera coordinates (metres).

  Returns:
    [B, 42, 3] camera coordinates (metres).
  """
  z_root = root_cam[:, None, 2:3]
  depth = z_root + jl_cube[..., 2:3]
  ray = jl_cube[..., :2] / z_root + root_cam[:, None, :2] / z_root
  return jnp.concatenate([ray * depth, depth], axis=-1)
