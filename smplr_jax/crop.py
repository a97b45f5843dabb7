"""Camera-frame geometry shared by the image stages.

The camera frame is OpenCV's (x right, y down, z forward, metres; see
`smplr_jax.data.records`). The image network predicts JL in the *cube* frame of a
root-centred crop (`smplr_jax.data.augment.crop_transform`): x and y are offsets
in the crop plane scaled to metres at the root's depth, z is depth relative
to the root. `cube_to_camera` maps them back.
"""

from __future__ import annotations

import jax.numpy as jnp


def cube_to_camera(jl_cube: jnp.ndarray, root_cam: jnp.ndarray,
                   zoom: jnp.ndarray | float = 1.0) -> jnp.ndarray:
  """Cube-frame JL of a root-centred crop -> camera-frame JL.

  The crop's camera has focal S * z_root * zoom / cube and sees the root at
  the crop centre, so x_cube = zoom * z_root * (X / Z - X_root / Z_root)
  (same for y) and z_cube = zoom * (Z - Z_root) (`augment`'s scale
  augmentation with `scale_depth`, the default: the target is the body of a
  zoom times larger person); this inverts it. Pixels are taken as square
  (fx = fy; the crop uses their mean): with fx != fy the lateral error is
  |fx / fy - 1| times the offset from the root (0.1% on Human3.6M).

  Args:
    jl_cube: [B, 42, 3] metres in the cube frame (root at 0).
    root_cam: [B, 3] the root in camera coordinates (metres).
    zoom: [B] or scalar, the crop's zoom k (1 without scale augmentation).

  Returns:
    [B, 42, 3] camera coordinates (metres).
  """
  zoom = jnp.reshape(jnp.asarray(zoom, jl_cube.dtype), (-1, 1, 1))
  jl_cube = jl_cube / zoom
  z_root = root_cam[:, None, 2:3]
  depth = z_root + jl_cube[..., 2:3]
  ray = jl_cube[..., :2] / z_root + root_cam[:, None, :2] / z_root
  return jnp.concatenate([ray * depth, depth], axis=-1)


def camera_to_cube(jl_cam: jnp.ndarray, zoom: jnp.ndarray | float = 1.0
                   ) -> jnp.ndarray:
  """Camera-frame JL (point 0 the root) -> cube-frame JL of the root-centred
  crop: the inverse of `cube_to_camera` (see there).

  Args:
    jl_cam: [B, 42, 3] camera coordinates (metres), root first.
    zoom: [B] or scalar crop zoom.

  Returns:
    [B, 42, 3] cube frame (metres; the root at 0).
  """
  zoom = jnp.reshape(jnp.asarray(zoom, jl_cam.dtype), (-1, 1, 1))
  root = jl_cam[:, :1]
  z_root = root[..., 2:3]
  lateral = z_root * (jl_cam[..., :2] / jl_cam[..., 2:3] -
                      root[..., :2] / z_root)
  depth = jl_cam[..., 2:3] - z_root
  return zoom * jnp.concatenate([lateral, depth], axis=-1)


def cube_to_root_relative(jl_cube: jnp.ndarray,
                          root_cam: jnp.ndarray | None = None,
                          zoom: jnp.ndarray | float = 1.0) -> jnp.ndarray:
  """Cube-frame JL -> root-relative camera-frame JL, the frame of every
  stage after the image network.

  With the root's camera position, exact (`cube_to_camera` minus the root).
  Without it (a crop whose camera is unknown), the weak-perspective reading
  of the crop as seen by a camera looking at the root from far away:
  jl_cube / zoom. Its error is the relative depth over the root depth times
  the lateral offset (a wrist 0.6 m out and 0.3 m nearer at 4 m: 45 mm).

  Args:
    jl_cube: [B, 42, 3] cube frame (metres).
    root_cam: [B, 3] the root in camera coordinates, or None.
    zoom: [B] or scalar crop zoom.

  Returns:
    [B, 42, 3] root-relative camera-frame JL (metres; point 0 is 0).
  """
  if root_cam is None:
    zoom = jnp.reshape(jnp.asarray(zoom, jl_cube.dtype), (-1, 1, 1))
    return jl_cube / zoom
  return cube_to_camera(jl_cube, root_cam, zoom) - root_cam[:, None]
