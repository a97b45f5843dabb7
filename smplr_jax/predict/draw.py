"""Pictures of recovered bodies: a lit, outlined mesh over an image.

Used by the demo and the quickstart. Host-side wrappers around the
project's rasteriser (`smplr_jax.data.render`): the mesh is shaded with a light
at the camera (Lambert, plus ambient) in a saturated colour and outlined, so
that no limb fades into a white or dark background, and joints are marked.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from smplr_jax.data import render

# Rasteriser classes for large on-screen faces (a close-up mesh), tried when
# the default one overflows.
_LARGE_FACES = render.RasterConfig(
    small_window=2, ranked_windows=((64, 32), (32, 128), (16, 512),
                                    (8, 2048), (4, 8192)))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _rasterize(points, faces, height, width, config):
  return render.rasterize(points[None], faces, height, width, config)


@jax.jit
def _face_shading(vertices, faces):
  """[F] Lambert term of each face under a light at the camera."""
  corners = vertices[faces]
  normal = jnp.cross(corners[:, 1] - corners[:, 0],
                     corners[:, 2] - corners[:, 0])
  normal = normal / jnp.maximum(jnp.linalg.norm(normal, axis=-1,
                                                keepdims=True), 1e-12)
  to_camera = -jnp.mean(corners, axis=1)
  to_camera = to_camera / jnp.maximum(
      jnp.linalg.norm(to_camera, axis=-1, keepdims=True), 1e-12)
  return jnp.abs(jnp.sum(normal * to_camera, axis=-1))


def project(vertices_cam: np.ndarray, focal, principal,
            homography: np.ndarray | None = None) -> np.ndarray:
  """Camera-frame points [N, 3] -> (u, v, z) [N, 3] in an image (render's
  pixel convention: pixel (i, j) centred at (j, i)), optionally mapped by a
  source -> target pixel homography (e.g. a crop's, whose pixel (i, j) is
  centred at (j + 0.5, i + 0.5))."""
  vertices_cam = np.asarray(vertices_cam, np.float64)
  z = vertices_cam[:, 2:]
  uv = np.asarray(focal) * vertices_cam[:, :2] / np.maximum(z, 1e-3) + \
      np.asarray(principal)
  if homography is not None:
    mapped = np.concatenate([uv, np.ones_like(z)], axis=1) @ homography.T
    uv = mapped[:, :2] / mapped[:, 2:] - 0.5
  return np.concatenate([uv, z], axis=1)


def mesh_overlay(image: np.ndarray, points: np.ndarray, faces: np.ndarray,
                 vertices_cam: np.ndarray,
                 colour: tuple[float, float, float] = (0.30, 0.55, 0.95),
                 opacity: float = 0.85, joints: np.ndarray | None = None,
                 outline: tuple[int, int, int] = (20, 20, 40)) -> np.ndarray:
  """Draws a shaded, outlined mesh over an image.

  Args:
    image: uint8 [H, W, 3].
    points: [V, 3] projected vertices (u, v, z) in the image (`project`).
    faces: [F, 3] triangles.
    vertices_cam: [V, 3] camera-frame vertices (for the shading).
    colour: the mesh's RGB in [0, 1].
    opacity: how much the mesh covers the image.
    joints: optional [J, 2] (u, v) pixels to mark.
    outline: RGB of the silhouette outline.

  Returns:
    uint8 [H, W, 3].
  """
  height, width = image.shape[:2]
  faces = jnp.asarray(faces, jnp.int32)
  points = jnp.asarray(points, jnp.float32)
  fragments = _rasterize(points, faces, height, width, render.RasterConfig())
  if int(fragments.overflow[0]):
    fragments = _rasterize(points, faces, height, width, _LARGE_FACES)
  face_index = np.asarray(fragments.face_index[0])
  shade = np.asarray(_face_shading(jnp.asarray(vertices_cam, jnp.float32),
                                   faces))
  mask = face_index >= 0
  light = 0.35 + 0.65 * shade[np.maximum(face_index, 0)]
  body = np.asarray(colour)[None, None] * light[..., None] * 255.0
  out = image.astype(np.float32)
  out[mask] = (1 - opacity) * out[mask] + opacity * body[mask]
  # Outline: mesh pixels with a background 4-neighbour.
  padded = np.pad(mask, 1)
  edge = mask & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] &
                  padded[1:-1, 2:])
  out[edge] = outline
  picture = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
  if joints is not None:
    draw = ImageDraw.Draw(picture)
    radius = max(1.5, min(height, width) / 120)
    for u, v in np.asarray(joints)[:, :2]:
      draw.ellipse([u - radius, v - radius, u + radius, v + radius],
                   fill=(255, 60, 40), outline=(255, 255, 255))
  return np.asarray(picture)
