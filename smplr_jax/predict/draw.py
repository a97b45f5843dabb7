"""Pictures of recovered bodies: a lit, outlined mesh over an image.

* `mesh_overlay`: the mesh drawn whole by the project's rasteriser
  (`render.rasterize_mesh`: clipped at the camera's near plane, every face
  drawn at any size, or an error), shaded with a light at the camera
  (Lambert, plus ambient) in a saturated colour and outlined, so that no
  limb fades into a white or dark background; joints are marked.
  `silhouette` is the exact mask it covers; `project` maps points to
  pixels (joints, crops).
* `overlay_picture`: a photo with every body drawn over it (the demo's and
  the web app's overlay.png).
* `write_overlay_video`: a clip with every track drawn over its frames,
  encoded as H.264 (`_encoder`).
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from smplr_jax import camera
from smplr_jax.data import render
from smplr_jax.predict import read

# The overlay picture's longer side (pixels).
MAX_PICTURE_SIDE = 800
# Frames of a track whose meshes are computed at once for the overlay clip
# (bounds memory on long clips).
_MESH_BLOCK = 256

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


def camera_in_picture(focal, principal, homography: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
  """The focal length and principal point of a camera seen through a pixel
  map that only scales and shifts (`project`'s homography, e.g. a resized
  photo or an unrotated crop).

  Args:
    focal: [2] fx, fy (pixels of the source image; or one number).
    principal: [2] cx, cy.
    homography: [3, 3] source -> target pixel map whose pixel (i, j) is
      centred at (j + 0.5, i + 0.5), as in `project`.

  Returns:
    (focal [2], principal [2]) in the target's pixels (centres at (j, i)).

  Raises:
    ValueError: the map rotates, shears or is projective (no pinhole camera
      with these parameters draws through it).
  """
  h = np.asarray(homography, np.float64)
  h = h / h[2, 2]
  if (abs(h[0, 1]) + abs(h[1, 0]) > 1e-9 * (abs(h[0, 0]) + abs(h[1, 1])) or
      abs(h[2, 0]) + abs(h[2, 1]) > 1e-12):
    raise ValueError(f'camera_in_picture: the pixel map must only scale and '
                     f'shift, got {h.tolist()}.')
  scale = np.array([h[0, 0], h[1, 1]])
  return (scale * _pair(focal), scale * _pair(principal) + h[:2, 2] - 0.5)


def _pair(values) -> np.ndarray:
  """[2] float64 from a number or a pair (a focal length, a point)."""
  return np.broadcast_to(np.asarray(values, np.float64), (2,)).copy()


def _face_index(vertices_cam, faces, focal, principal, height: int,
                width: int) -> np.ndarray:
  """[H, W] the mesh's visible face per pixel (-1: background), the whole
  mesh (`render.rasterize_mesh`)."""
  vertices_cam = np.asarray(vertices_cam, np.float64)
  if vertices_cam.ndim != 2 or vertices_cam.shape[-1] != 3:
    raise ValueError(f'vertices_cam must be [V, 3], got {vertices_cam.shape}.')
  return render.rasterize_mesh(
      vertices_cam[None], faces, _pair(focal)[None], _pair(principal)[None],
      height, width).face_index[0]


def silhouette(vertices_cam, faces, focal, principal, height: int,
               width: int) -> np.ndarray:
  """The pixels `mesh_overlay` covers with the mesh.

  Args:
    vertices_cam: [V, 3] camera-frame vertices (metres).
    faces: [F, 3] triangles.
    focal: [2] fx, fy (pixels; or one number for both).
    principal: [2] cx, cy (pixels; pixel (i, j) centred at (j, i)).
    height, width: the image size.

  Returns:
    [H, W] bool: a front face of the mesh (nearer than 1 cm cut away) covers
    the pixel's centre.
  """
  return _face_index(vertices_cam, faces, focal, principal, height,
                     width) >= 0


def mesh_overlay(image: np.ndarray, vertices_cam: np.ndarray,
                 faces: np.ndarray, focal, principal,
                 colour: tuple[float, float, float] = (0.30, 0.55, 0.95),
                 opacity: float = 0.85, joints: np.ndarray | None = None,
                 outline: tuple[int, int, int] = (20, 20, 40)) -> np.ndarray:
  """Draws a shaded, outlined mesh over an image: the whole mesh, however
  large, cut by the image border or near the camera (`silhouette` is the
  mask it covers).

  Args:
    image: uint8 [H, W, 3].
    vertices_cam: [V, 3] camera-frame vertices (metres).
    faces: [F, 3] triangles.
    focal: [2] fx, fy in the image's pixels (or one number for both).
    principal: [2] cx, cy (pixel (i, j) centred at (j, i)); through a pixel
      map, see `camera_in_picture`.
    colour: the mesh's RGB in [0, 1].
    opacity: how much the mesh covers the image.
    joints: optional [J, 2] (u, v) pixels to mark.
    outline: RGB of the silhouette outline.

  Returns:
    uint8 [H, W, 3].
  """
  height, width = image.shape[:2]
  face_index = _face_index(vertices_cam, faces, focal, principal, height,
                           width)
  shade = np.asarray(_face_shading(jnp.asarray(vertices_cam, jnp.float32),
                                   jnp.asarray(faces, jnp.int32)))
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


def overlay_picture(photo: np.ndarray,
                    people: list[dict[str, Any]]) -> np.ndarray:
  """The photo (longer side at most `MAX_PICTURE_SIDE`) with every body
  drawn over it; one body also shows the crop its front end read, at the
  left.

  Args:
    photo: uint8 [H, W, 3].
    people: bodies of the photo (`Predictor.predict_image`'s dicts:
      vertices [V, 3], joints [24, 3], faces, root_cam [3], focal, crop).

  Returns:
    uint8 [h, w, 3] (one body: [h, w + h, 3]).
  """
  height, width = photo.shape[:2]
  scale = min(1.0, MAX_PICTURE_SIDE / max(height, width))
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  picture = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
  principal = camera.principal_point((width, height))
  to_picture = np.array([[scale, 0, 0.5 * scale], [0, scale, 0.5 * scale],
                         [0, 0, 1.0]])  # then -0.5 in project
  # The farthest first, so that nearer people are drawn over them.
  for out in sorted(people, key=lambda o: -float(o['root_cam'][2])):
    root = np.asarray(out['root_cam'])
    vertices = np.asarray(out['vertices']) + root
    focal, centre = camera_in_picture(out['focal'], principal, to_picture)
    joint_pixels = project(np.asarray(out['joints']) + root, out['focal'],
                           principal, to_picture)
    picture = mesh_overlay(picture, vertices, out['faces'], focal, centre,
                           joints=joint_pixels[:, :2])
  if len(people) != 1:
    return picture
  crop = np.asarray(Image.fromarray(people[0]['crop']).resize(
      (picture.shape[0], picture.shape[0]), Image.NEAREST))
  return np.concatenate([crop, picture], axis=1)


def _encoder(container, width: int, height: int, fps: float):
  """An H.264 stream when PyAV's ffmpeg has it, else MPEG-4 part 2."""
  import av  # pylint: disable=g-import-not-at-top
  for codec in ('libx264', 'mpeg4'):
    try:
      stream = container.add_stream(codec, rate=round(fps))
    except (av.error.FFmpegError, ValueError):
      continue
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = 'yuv420p'
    if codec == 'mpeg4':
      stream.bit_rate = 8_000_000
    return stream
  raise ValueError('PyAV has no H.264 or MPEG-4 encoder here.')


def _track_meshes(track: dict[str, Any],
                  track_vertices: Callable[[dict[str, Any]], np.ndarray]
                  ) -> Iterator[tuple[int, np.ndarray]]:
  """(frame index, [V, 3] camera-frame mesh) of each frame of a track, in
  frame order, `_MESH_BLOCK` frames computed at a time."""
  num = len(track['frames'])
  for start in range(0, num, _MESH_BLOCK):
    part = {k: v[start:start + _MESH_BLOCK] for k, v in track.items()}
    vertices = np.asarray(track_vertices(part)) + np.asarray(
        part['root_cam'])[:, None]
    for frame, mesh in zip(part['frames'], vertices):
      yield int(frame), mesh


def write_overlay_video(path: str | pathlib.Path,
                        video_path: str | pathlib.Path,
                        result: dict[str, Any],
                        track_vertices: Callable[[dict[str, Any]],
                                                 np.ndarray],
                        faces: np.ndarray) -> pathlib.Path:
  """The clip with every track's mesh drawn over its frames (the clip is
  read a second time, frame by frame), as H.264 (MPEG-4 part 2 where
  PyAV's ffmpeg has no H.264).

  Args:
    path: the .mp4 to write.
    video_path: the clip the tracks came from.
    result: `Predictor.predict_video`'s result ('tracks', 'image_size',
      'focal', 'fps').
    track_vertices: a track (or a run of its frames) -> [T, V, 3]
      root-relative meshes (`Predictor.track_vertices`).
    faces: [F, 3] the mesh's triangles.

  Returns:
    `path`.
  """
  import av  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  principal = camera.principal_point(result['image_size'])
  faces = np.asarray(faces)
  meshes = [_track_meshes(track, track_vertices)
            for track in result['tracks']]
  pending = [next(m, None) for m in meshes]  # each track's next frame
  width, height = result['image_size']
  with av.open(str(path), 'w') as container:
    stream = _encoder(container, width, height, result['fps'] or 30.0)
    for index, frame in enumerate(read.open_video(video_path)):
      for number, mesh in enumerate(meshes):
        if pending[number] is None or pending[number][0] != index:
          continue
        vertices = pending[number][1]
        frame = mesh_overlay(frame, vertices, faces, result['focal'],
                             principal)
        pending[number] = next(mesh, None)
      image = av.VideoFrame.from_ndarray(
          np.ascontiguousarray(frame[:stream.height, :stream.width]),
          format='rgb24')
      for packet in stream.encode(image):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return path
