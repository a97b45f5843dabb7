r"""SURREAL-like synthetic images of sampled bodies, rendered on the CPU.

Each example is a 256 x 256 RGB image of one posed, shaped body from the
default [female, male] model and `sampler.sample_parameters`, drawn by the
z-buffer rasteriser of `smplr_jax.data.render`, with its ground truth in the
dataset-record format of the image data (see `render_examples`).

What is random, per example (ranges are `SyntheticConfig` fields):

| what | distribution (defaults) |
|---|---|
| pose, betas, gender | `sampler.sample_parameters` (joint limits; betas N(0, 1) clipped at 3; fair coin) |
| azimuth | the sampler's global orientation: uniform yaw about the vertical, small pitch and roll |
| focal length | fx = fy ~ U(200, 400) px; principal point at the image centre ((W - 1) / 2, (H - 1) / 2) |
| camera distance | root depth ~ U(3, 6) m, pushed back if needed so the body fits in `fill` of the half-image around the root |
| elevation | camera above (+) or below (-) the root, U(-10, 30) degrees; the camera looks along its tilted optical axis |
| root position | projects at the principal point +- U(-16, 16) px in u and v |
| appearance | with probability 0.3 a random colour per body part (24 SMPL parts, argmax of the skinning weights); otherwise "clothing": skin, shirt with short or long sleeves, trousers or shorts, shoes, each garment plain, striped or checked in object space with random colours |
| shading | Lambert: ambient U(0.25, 0.55) + diffuse U(0.45, 0.9) x max(0, n . l) of a directional light from the camera's hemisphere, slightly tinted, plus in half of the examples a second light from any direction (a rim light when from behind) of strength U(0.2, 0.6); flat per-face normals |
| background | with probability 0.6 a random 256 x 256 crop of a photograph bundled with scikit-image (`BACKGROUND_PHOTOS`, stored at 3 scales; mirrored, brightness and contrast jittered); otherwise a procedural texture: smooth colour noise, stripes or a checkerboard with random colours and orientation |
| sensor noise | Gaussian, sigma 2/255 |

Camera frame: OpenCV (x right, y down, z forward, metres); a pixel (row i,
column j) has its centre at (u, v) = (j, i). The record's pose has joint 0
= the global orientation in the camera frame, and its JL follow

    jl_cam = JL(smpl_forward(model[gender], pose, betas)) - root + jl_cam[0].

Examples are deterministic per (seed, index): example i uses the key
`fold_in(PRNGKey(seed), i)`, whatever batch or shard it is rendered in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import body_model as bm
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations, smpl
from smplr_jax.data import records, render, sampler

# scikit-image photographs that ship inside the package (no download).
# Loader name in skimage.data -> whether it is a colour image.
BACKGROUND_PHOTOS = (
    'astronaut', 'coffee', 'chelsea', 'rocket', 'hubble_deep_field',
    'immunohistochemistry', 'retina', 'stereo_motorcycle', 'camera', 'brick',
    'grass', 'gravel', 'moon', 'coins')
# Photographs kept out of training renders: backgrounds of the unseen-style
# evaluation set (`SyntheticConfig.style='unseen'`).
UNSEEN_BACKGROUND_PHOTOS = ('cell', 'clock', 'colorwheel', 'page', 'text')

# SMPL parts of each clothing region (joint indices, see jl.JOINT_NAMES).
_SHIRT_PARTS = (3, 6, 9, 13, 14, 16, 17)
_SLEEVE_PARTS = (18, 19)  # elbows: sleeve for long sleeves, skin otherwise
_TROUSER_PARTS = (0, 1, 2)
_LEG_PARTS = (4, 5)  # knees: trousers, or skin for shorts
_SHOE_PARTS = (7, 8, 10, 11)
# Everything else (neck, head, wrists, hands) is skin.


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """Ranges of the synthetic renders (see the module docstring).

  Frozen and hashable: it is a static argument of the jitted renderer.
  `config_from_mapping` builds one from a dict or `ml_collections.ConfigDict`.
  """
  image_size: int = 256
  batch_size: int = 16
  focal_range: tuple[float, float] = (200.0, 400.0)
  distance_range: tuple[float, float] = (3.0, 6.0)
  elevation_range_deg: tuple[float, float] = (-10.0, 30.0)
  root_jitter_px: float = 16.0
  fill: float = 0.92
  part_colour_probability: float = 0.3
  photo_background_probability: float = 0.6
  # 'train' or 'unseen': the unseen-style evaluation set uses photographs
  # kept out of training (`UNSEEN_BACKGROUND_PHOTOS`) and a fabric pattern
  # never rendered for training (soft colour waves), with no part colouring.
  style: str = 'train'
  ambient_range: tuple[float, float] = (0.25, 0.55)
  diffuse_range: tuple[float, float] = (0.45, 0.9)
  noise_std: float = 2.0 / 255.0
  num_betas: int = 10
  raster: render.RasterConfig = dataclasses.field(
      default_factory=render.RasterConfig)
  # Used for a batch whose fast `raster` pass overflowed (large faces).
  fallback_raster: render.RasterConfig = dataclasses.field(
      default_factory=lambda: render.RasterConfig(
          small_window=2, ranked_windows=((64, 32), (32, 128), (16, 512),
                                          (8, 2048), (4, 8192))))


def config_from_mapping(values: Mapping[str, Any] | None) -> SyntheticConfig:
  """`SyntheticConfig` from a dict / ConfigDict of field overrides."""
  if values is None:
    return SyntheticConfig()
  if isinstance(values, SyntheticConfig):
    return values
  names = {f.name for f in dataclasses.fields(SyntheticConfig)}
  values = dict(values)
  unknown = set(values) - names
  if unknown:
    raise ValueError(f'unknown SyntheticConfig fields {sorted(unknown)}; '
                     f'known: {sorted(names)}.')
  return SyntheticConfig(**{
      k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


class Backgrounds(NamedTuple):
  """Background photographs, padded to a common square size.

  Attributes:
    images: [N, S, S, 3] uint8, each photo at the top-left corner.
    sizes: [N, 2] int32 height and width of each photo.
  """
  images: np.ndarray
  sizes: np.ndarray


def load_backgrounds(image_size: int = 256,
                     scales: tuple[float, ...] = (1.0, 1.3, 1.75),
                     names: tuple[str, ...] = BACKGROUND_PHOTOS) -> Backgrounds:
  """Loads scikit-image's bundled photographs at a few scales.

  Each photo is stored once per scale, resized (area filter) so that its
  shorter side is `scale * image_size` and centre-cropped to at most
  `max(scales) * image_size` along the longer side. A background is then a
  plain `image_size` square crop of one entry (no resampling at render time).

  Args:
    image_size: side of the rendered images.
    scales: shorter side of the stored photos, in units of `image_size`
      (>= 1).
    names: loaders of `skimage.data`; grey images are replicated to RGB.

  Returns:
    `Backgrounds` with len(names) * len(scales) entries.

  Raises:
    ImportError: when scikit-image is not installed (pip install
      scikit-image).
  """
  try:
    from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError('synthetic backgrounds need scikit-image: '
                      'pip install scikit-image') from e
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if min(scales) < 1:
    raise ValueError(f'load_backgrounds: scales must be >= 1, got {scales}.')
  longest = round(max(scales) * image_size)
  photos = []
  for name in names:
    image = getattr(skdata, name)()
    if name == 'stereo_motorcycle':
      image = image[0]
    image = np.asarray(image)
    if image.dtype != np.uint8:
      image = (255 * (image.astype(np.float64) / max(image.max(), 1))).astype(
          np.uint8)
    if image.ndim == 2:
      image = np.repeat(image[..., None], 3, axis=-1)
    image = Image.fromarray(np.ascontiguousarray(image[..., :3]))
    for scale in scales:
      factor = scale * image_size / min(image.size)
      size = (max(image_size, round(image.size[0] * factor)),
              max(image_size, round(image.size[1] * factor)))
      resized = np.asarray(image.resize(size, Image.BOX))
      top = max(0, (resized.shape[0] - longest) // 2)
      left = max(0, (resized.shape[1] - longest) // 2)
      photos.append(resized[top:top + longest, left:left + longest])
  side = max(max(p.shape[:2]) for p in photos)
  images = np.zeros((len(photos), side, side, 3), np.uint8)
  for i, p in enumerate(photos):
    images[i, :p.shape[0], :p.shape[1]] = p
  sizes = np.asarray([p.shape[:2] for p in photos], np.int32)
  return Backgrounds(images=images, sizes=sizes)


def body_part_per_face(models: bm.BodyModel) -> jnp.ndarray:
  """[F] int32 SMPL part (joint index) of each face: the part with the
  largest skinning weight summed over the face's vertices (first model of a
  stacked one; they share the topology)."""
  weights = models.lbs_weights
  if weights.ndim == 3:
    weights = weights[0]
  return jnp.argmax(weights[models.faces].sum(axis=1), axis=-1).astype(
      jnp.int32)


# ----------------------------------------------------------------------------
# Per-example random draws.


class _Uniforms:
  """Hands out consecutive slices of one vector of U(0, 1) draws.

  One threefry call per example instead of ~40 keeps the jitted renderer's
  compile time down (each `jax.random` call is its own unrolled hash).
  """

  def __init__(self, key: jax.Array, size: int = 320):
    self._values = jax.random.uniform(key, (size,))
    self._next = 0

  def __call__(self, low: float = 0.0, high: float = 1.0,
               shape: tuple[int, ...] = ()) -> jnp.ndarray:
    count = math.prod(shape)
    if self._next + count > self._values.shape[0]:
      raise ValueError('synthetic._Uniforms: too few draws; raise `size`.')
    values = self._values[self._next:self._next + count].reshape(shape)
    self._next += count
    return low + (high - low) * values

  def bernoulli(self, p: float) -> jnp.ndarray:
    return self() < p

  def integer(self, low: int, high: int, shape=()) -> jnp.ndarray:
    """Integers in [low, high)."""
    return jnp.minimum(jnp.floor(self(low, high, shape)),
                       high - 1).astype(jnp.int32)


def _draw_example(key: jax.Array, config: SyntheticConfig) -> dict:
  """All random choices of one example (vmapped over keys)."""
  param_key, uniform_key = jax.random.split(key)
  pose, betas, gender = sampler.sample_parameters(
      param_key, 1, config.num_betas, frame='body')
  u = _Uniforms(uniform_key)
  draw = {'rotations': pose[0], 'betas': betas[0], 'gender': gender[0]}
  draw['focal'] = u(*config.focal_range)
  draw['distance'] = u(*config.distance_range)
  draw['elevation'] = jnp.deg2rad(u(*config.elevation_range_deg))
  draw['jitter'] = u(-config.root_jitter_px, config.root_jitter_px, (2,))
  # Light from the camera's hemisphere (camera frame: -z towards the camera,
  # -y up).
  light = jnp.stack([u(-1.0, 1.0), u(-1.0, 0.4), u(-1.0, -0.3)])
  draw['light'] = light / jnp.linalg.norm(light)
  draw['light_colour'] = u(0.85, 1.0, (3,))
  # A second light from any direction (rim light from behind included), on
  # in half of the examples.
  light2 = u(-1.0, 1.0, (3,)) + jnp.asarray([0.0, 0.0, 1e-3])
  draw['light2'] = light2 / jnp.linalg.norm(light2)
  draw['diffuse2'] = u(0.2, 0.6) * u.bernoulli(0.5)
  draw['ambient'] = u(*config.ambient_range)
  draw['diffuse'] = u(*config.diffuse_range)
  # Appearance.
  draw['use_parts'] = u.bernoulli(config.part_colour_probability)
  draw['palette'] = u(0.0, 1.0, (jl_lib.NUM_JOINTS, 3))
  skin_dark = u()
  draw['skin'] = (jnp.asarray([0.95, 0.78, 0.66]) * (1 - 0.75 * skin_dark) +
                  u(-0.04, 0.04, (3,)))
  # Garments: 0 shirt, 1 trousers, 2 shoes; two colours, a pattern (0 plain,
  # 1 stripes, 2 checks), a direction and a period each.
  draw['garment_colours'] = u(0.0, 1.0, (3, 2, 3))
  draw['garment_pattern'] = u.integer(0, 3, (3,))
  direction = u(-1.0, 1.0, (3, 3)) + jnp.asarray([0.0, 1e-3, 0.0])
  draw['garment_direction'] = direction / jnp.linalg.norm(
      direction, axis=-1, keepdims=True)
  draw['garment_period'] = u(0.03, 0.15, (3,))
  draw['long_sleeves'] = u.bernoulli(0.6)
  draw['long_trousers'] = u.bernoulli(0.7)
  # Background: 0 photo, else 1 noise, 2 stripes, 3 checks.
  draw['background_kind'] = jnp.where(
      u.bernoulli(config.photo_background_probability), 0, u.integer(1, 4))
  draw['photo'] = u(0.0, 1.0, (6,))
  draw['procedural'] = u(0.0, 1.0, (9,))
  draw['noise'] = u(0.0, 1.0, (3,))
  # Coarse colour-noise background (6 x 6 x 3 values).
  draw['coarse'] = u(0.0, 1.0, (6, 6, 3))
  return draw


# ----------------------------------------------------------------------------
# Appearance.


def _face_albedo(draw: dict, parts: jnp.ndarray,
                 rest_centroids: jnp.ndarray,
                 style: str = 'train') -> jnp.ndarray:
  """[F, 3] colour of each face for one example."""
  part_colour = draw['palette'][parts]
  in_parts = lambda ids: jnp.isin(parts, jnp.asarray(ids))
  shirt = in_parts(_SHIRT_PARTS) | (in_parts(_SLEEVE_PARTS) &
                                     draw['long_sleeves'])
  trousers = in_parts(_TROUSER_PARTS) | (in_parts(_LEG_PARTS) &
                                         draw['long_trousers'])
  shoes = in_parts(_SHOE_PARTS)
  garment = jnp.where(shirt, 0, jnp.where(trousers, 1,
                                          jnp.where(shoes, 2, -1)))
  g = jnp.maximum(garment, 0)
  direction = draw['garment_direction'][g]  # [F, 3]
  period = draw['garment_period'][g]
  phase = jnp.sum(rest_centroids * direction, -1) / period
  stripes = jnp.floor(phase) % 2
  other = jnp.sum(rest_centroids * jnp.roll(direction, 1, axis=-1), -1) / period
  checks = (jnp.floor(phase) + jnp.floor(other)) % 2
  pattern = draw['garment_pattern'][g]
  second = jnp.where(pattern == 1, stripes, jnp.where(pattern == 2, checks,
                                                      0.0))
  colours = draw['garment_colours'][g]  # [F, 2, 3]
  cloth = jnp.where(second[:, None] > 0, colours[:, 1], colours[:, 0])
  if style == 'unseen':  # soft colour waves, never in training renders
    wave = 0.5 + 0.5 * jnp.sin(2 * jnp.pi * (phase + 0.5 * jnp.sin(
        2 * jnp.pi * other)))
    cloth = colours[:, 0] * wave[:, None] + colours[:, 1] * (1 - wave[:, None])
  clothing = jnp.where(garment[:, None] >= 0, cloth, draw['skin'])
  if style == 'unseen':
    return clothing
  return jnp.where(draw['use_parts'], part_colour, clothing)


def _procedural_background(values: jnp.ndarray, coarse: jnp.ndarray,
                           kind: jnp.ndarray, size: int) -> jnp.ndarray:
  """[S, S, 3] in [0, 1]: 1 smooth colour noise, 2 stripes, 3 checkerboard.

  Args:
    values: [9] U(0, 1) draws (colours, angle, period).
    coarse: [6, 6, 3] U(0, 1) draws, upsampled for the noise.
    kind: background kind (1, 2 or 3).
    size: S.
  """
  noise = jax.image.resize(coarse, (size, size, 3), 'cubic')
  colours = values[:6].reshape(2, 3)
  angle = jnp.pi * values[6]
  period = 6.0 + 34.0 * values[7]
  rows, cols = jnp.meshgrid(jnp.arange(size, dtype=jnp.float32),
                            jnp.arange(size, dtype=jnp.float32),
                            indexing='ij')
  a = (jnp.cos(angle) * cols + jnp.sin(angle) * rows) / period
  b = (-jnp.sin(angle) * cols + jnp.cos(angle) * rows) / period
  stripes = jnp.floor(a) % 2
  checks = (jnp.floor(a) + jnp.floor(b)) % 2
  pick = jnp.where(kind == 2, stripes, checks)[..., None]
  pattern = colours[0] * (1 - pick) + colours[1] * pick
  return jnp.clip(jnp.where(kind == 1, noise, pattern), 0.0, 1.0)


def _photo_background(values: jnp.ndarray, images: jnp.ndarray,
                      sizes: jnp.ndarray, size: int) -> jnp.ndarray:
  """[S, S, 3] in [0, 1]: a random S x S crop of a random stored photo
  (`load_backgrounds` keeps each at several scales), maybe mirrored, with
  brightness and contrast jittered.

  Args:
    values: [6] U(0, 1) draws.
    images, sizes: `Backgrounds` arrays (entries at least S x S).
    size: S.
  """
  count = images.shape[0]
  index = jnp.minimum(jnp.floor(values[0] * count), count - 1).astype(
      jnp.int32)
  room = (sizes[index] - size + 1).astype(jnp.float32)
  corner = jnp.minimum(jnp.floor(values[1:3] * room), room - 1).astype(
      jnp.int32)
  crop = jax.lax.dynamic_slice(
      images, (index, corner[0], corner[1], 0), (1, size, size, 3))[0]
  crop = jnp.where(values[3] < 0.5, crop, crop[:, ::-1])
  gain = 0.7 + 0.5 * values[4]
  bias = -0.1 + 0.2 * values[5]
  return jnp.clip(crop.astype(jnp.float32) * (gain / 255.0) + bias, 0.0, 1.0)


def _sensor_noise(values: jnp.ndarray, size: int) -> jnp.ndarray:
  """[B, S, S, 3] Gaussian noise, cheap: a window of one fixed, tiled field
  of normals (drawing S * S * 3 normals per image costs more than the
  rendering) at a random offset, sign-flipped at random ([B, 3] U(0, 1))."""
  tile_size = min(size, 128)
  # A constant of the program (not recomputed per call or per pixel).
  tile = np.random.default_rng(0).standard_normal(
      (tile_size, tile_size, 3)).astype(np.float32)
  reps = -(-size // tile_size) + 1
  field = jnp.asarray(np.tile(tile, (reps, reps, 1)))

  def one(v):
    shift = jnp.minimum(jnp.floor(v[:2] * tile_size),
                        tile_size - 1).astype(jnp.int32)
    window = jax.lax.dynamic_slice(field, (shift[0], shift[1], 0),
                                   (size, size, 3))
    return jnp.where(v[2] < 0.5, window, -window)

  return jax.vmap(one)(values)


# ----------------------------------------------------------------------------
# The batch renderer.


def _geometry(models: bm.BodyModel, keys: jax.Array,
              config: SyntheticConfig,
              body_rotations: jnp.ndarray | None = None,
              depth: jnp.ndarray | None = None) -> dict[str, jnp.ndarray]:
  """Stage 1: draws, posed camera-frame bodies, projected vertices, packed
  face colours and the ground truth (see `render_batch`). A clip
  (`render_clip`) gives its body-frame `body_rotations` [B, 24, 3, 3] and one
  root `depth` [B] for all its frames."""
  size = config.image_size
  batch = keys.shape[0]
  draw = jax.vmap(lambda k: _draw_example(k, config))(keys)
  if body_rotations is not None:
    draw['rotations'] = body_rotations
  faces = models.faces
  parts = body_part_per_face(models)

  # Camera-frame pose: global orientation composed with the camera rotation.
  cam_rot = sampler.body_to_camera(draw['elevation'])  # [B, 3, 3]
  pose = draw['rotations'].at[:, 0].set(
      jnp.einsum('bij,bjk->bik', cam_rot, draw['rotations'][:, 0]))
  out = smpl.smpl_forward(models, pose, draw['betas'],
                          gender=draw['gender'])
  root = out.joints[:, :1]
  vertices = out.vertices - root  # [B, V, 3] root-relative, camera axes
  jl = jl_lib.joints_and_landmarks(models, out.vertices, out.joints)

  # Distance: sampled, pushed back until the body fits around the root.
  focal = draw['focal']
  half = 0.5 * size
  reach = jnp.max(jnp.sqrt(jnp.sum(vertices[..., :2]**2, -1)), axis=1)
  margin = jnp.maximum(config.fill * half - jnp.max(
      jnp.abs(draw['jitter']), axis=-1), 1.0)
  if depth is None:
    depth = jnp.maximum(draw['distance'],
                        focal * reach / margin + 0.5 * reach)
  principal = jnp.full((batch, 2), (size - 1) / 2.0, jnp.float32)
  root_cam = jnp.concatenate(
      [draw['jitter'] * depth[:, None] / focal[:, None], depth[:, None]], -1)
  vertices = vertices + root_cam[:, None]
  jl_cam = jl + root_cam[:, None]
  focal2 = jnp.stack([focal, focal], -1)
  points = render.project(vertices, focal2, principal)

  # Flat Lambert shading per face.
  template = jnp.mean(models.v_template, axis=0)
  rest_centroids = jnp.mean(template[faces], axis=1)  # [F, 3]
  albedo = jax.vmap(lambda d: _face_albedo(d, parts, rest_centroids,
                                           config.style))(draw)
  cosine = render.face_normal_dot(vertices, faces, draw['light'])  # [B, F]
  cosine2 = render.face_normal_dot(vertices, faces, draw['light2'])
  shade = (draw['ambient'][:, None] +
           draw['diffuse'][:, None] * jnp.maximum(cosine, 0.0) +
           draw['diffuse2'][:, None] * jnp.maximum(cosine2, 0.0)
           )[..., None] * draw['light_colour'][:, None]
  face_colour = jnp.clip(albedo * shade, 0.0, 1.0)  # [B, F, 3]
  # 8-bit RGB packed in one int32 per face: a single-element gather per pixel.
  rgb = jnp.round(face_colour * 255.0).astype(jnp.int32)
  packed = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)  # [B, F]

  num_points = jl_lib.NUM_POINTS
  return {
      'points': points, 'packed_colours': packed,
      'background': {
          'photo': draw['photo'], 'procedural': draw['procedural'],
          'coarse': draw['coarse'], 'kind': draw['background_kind'],
          'noise': draw['noise']},
      'record': {
          'has_mask': jnp.ones((batch,), jnp.int32),
          'jl_cam': jl_cam.astype(jnp.float32),
          'jl_valid': jnp.ones((batch, num_points), jnp.float32),
          'focal': focal2.astype(jnp.float32),
          'principal': principal,
          'pose': rotations.matrix_to_axis_angle(pose).astype(jnp.float32),
          'betas': draw['betas'].astype(jnp.float32),
          'gender': draw['gender'].astype(jnp.int32),
          'has_smpl': jnp.ones((batch,), jnp.int32)}}


def _compose(face_index: jnp.ndarray, packed_colours: jnp.ndarray,
             background: dict[str, jnp.ndarray],
             background_images: jnp.ndarray, background_sizes: jnp.ndarray,
             config: SyntheticConfig) -> dict[str, jnp.ndarray]:
  """Stage 3: body pixels over the background, noise, uint8 image, mask."""
  size = config.image_size
  batch, num_faces = packed_colours.shape
  face_index = face_index.reshape(batch, -1)
  mask = (face_index >= 0).reshape(batch, size, size)
  flat = (jnp.maximum(face_index, 0) + jnp.arange(batch)[:, None] *
          num_faces).reshape(-1)
  pixel_rgb = packed_colours.reshape(-1)[flat].reshape(batch, size, size, 1)
  body = ((pixel_rgb >> jnp.asarray([0, 8, 16])) & 255).astype(
      jnp.float32) / 255.0
  photo = jax.vmap(lambda v: _photo_background(
      v, background_images, background_sizes, size))(background['photo'])
  procedural = jax.vmap(lambda v, c, kind: _procedural_background(
      v, c, kind, size))(background['procedural'], background['coarse'],
                         background['kind'])
  backdrop = jnp.where((background['kind'] == 0)[:, None, None, None],
                       photo, procedural)
  image = jnp.where(mask[..., None], body, backdrop)
  if config.noise_std > 0:
    image = image + config.noise_std * _sensor_noise(background['noise'],
                                                     size)
  image = jnp.round(jnp.clip(image, 0.0, 1.0) * 255.0).astype(jnp.uint8)
  return {'image': image, 'mask': mask.astype(jnp.uint8)}


def render_batch(models: bm.BodyModel, background_images: jnp.ndarray,
                 background_sizes: jnp.ndarray, keys: jax.Array,
                 config: SyntheticConfig,
                 raster: render.RasterConfig) -> dict[str, jnp.ndarray]:
  """Renders one example per key (jit-able with `config`, `raster` static).

  `render_examples` runs the same three stages (geometry and colours,
  rasterisation, composition) as separate jitted calls: each stage's
  outputs are then computed once, where XLA:CPU would otherwise fuse, e.g.,
  the face colours into the per-pixel gather and recompute them per pixel.

  Args:
    models: stacked [female, male] body model.
    background_images: [N, S, S, 3] uint8 (`load_backgrounds`).
    background_sizes: [N, 2] int32.
    keys: [B] PRNG keys, one per example.
    config: `SyntheticConfig`.
    raster: the rasteriser config (`config.raster` or its fallback).

  Returns:
    dict of batched record fields (see `render_examples`) plus overflow [B]
    (faces the rasteriser could not draw; 0 when the image is exact).
  """
  geometry = _geometry(models, keys, config)
  size = config.image_size
  fragments = render.rasterize(geometry['points'], models.faces, size, size,
                               raster)
  out = _compose(fragments.face_index, geometry['packed_colours'],
                 geometry['background'], background_images,
                 background_sizes, config)
  return dict(out, **geometry['record'], overflow=fragments.overflow)


_jitted_geometry = jax.jit(_geometry, static_argnames='config')
_jitted_rasterize = jax.jit(render.rasterize, static_argnums=(2, 3, 4))
_jitted_compose = jax.jit(_compose, static_argnames='config')


def _render_batch_staged(models, background_images, background_sizes, keys,
                         config, raster, body_rotations=None, depth=None):
  """`render_batch` as three jitted calls (the fast path on CPU); a clip's
  frames pass their rotations and depth (`_geometry`)."""
  # The rasteriser settings do not affect the other stages: strip them so
  # that a config differing only there reuses their compilations.
  config = dataclasses.replace(config, raster=render.RasterConfig(),
                               fallback_raster=render.RasterConfig())
  geometry = _jitted_geometry(models, keys, config, body_rotations, depth)
  size = config.image_size
  if raster is None:  # every face drawn, whatever its size (host)
    points = np.asarray(geometry['points'], np.float64)
    focal = np.asarray(geometry['record']['focal'], np.float64)
    principal = np.asarray(geometry['record']['principal'], np.float64)
    depth_ = points[..., 2:]
    vertices_cam = np.concatenate(
        [(points[..., :2] - principal[:, None]) * depth_ / focal[:, None],
         depth_], axis=-1)
    fragments = render.rasterize_mesh(vertices_cam, np.asarray(models.faces),
                                      focal, principal, size, size)
    fragments = render.Fragments(jnp.asarray(fragments.face_index),
                                 jnp.asarray(fragments.overflow))
  else:
    fragments = _jitted_rasterize(geometry['points'], models.faces, size,
                                  size, raster)
  out = _jitted_compose(fragments.face_index, geometry['packed_colours'],
                        geometry['background'], background_images,
                        background_sizes, config)
  return dict(out, **geometry['record'], overflow=fragments.overflow)


def _render_drawable(models, background_images, background_sizes, keys,
                     config, count: int, **clip):
  """`_render_batch_staged` with `config.raster`; a batch where a face of the
  first `count` examples overflowed is drawn again with its fallback, and
  then, if a face still overflows, by `render.rasterize_mesh` (host-side,
  never drops a face; slower). The records' `overflow` is then 0."""
  out = _render_batch_staged(models, background_images, background_sizes,
                             keys, config, config.raster, **clip)
  for raster in (config.fallback_raster, None):
    if not np.any(np.asarray(out['overflow'][:count])):
      break
    out = _render_batch_staged(models, background_images, background_sizes,
                               keys, config, raster, **clip)
  return out


def example_keys(seed: int, indices: np.ndarray) -> jax.Array:
  """[N] keys of examples `indices`: fold_in(PRNGKey(seed), index)."""
  base = jax.random.PRNGKey(seed)
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(
      jnp.asarray(indices, jnp.uint32))


def render_examples(models: bm.BodyModel, num_examples: int, seed: int,
                    start: int = 0,
                    config: SyntheticConfig | Mapping[str, Any] | None = None,
                    backgrounds: Backgrounds | None = None
                    ) -> Iterator[dict[str, np.ndarray]]:
  """Yields dataset records of examples start, ..., start + num_examples - 1.

  Each record is deterministic given (seed, index), whatever `start` and the
  batching (builders can shard freely). Rendering runs in jit-compiled
  batches of `config.batch_size` (the last one padded).

  Args:
    models: stacked [female, male] `BodyModel` (`load_gendered_models`).
    num_examples: number of records.
    seed: dataset seed.
    start: index of the first example.
    config: `SyntheticConfig`, or a mapping of field overrides.
    backgrounds: photos (`load_backgrounds(config.image_size)` when None).

  Yields:
    dicts of numpy arrays: image uint8 [S, S, 3], mask uint8 [S, S],
    has_mask int32 [] (1), jl_cam float32 [42, 3] (metres, camera frame),
    jl_valid float32 [42] (ones), focal float32 [2], principal float32 [2],
    pose float32 [24, 3] (axis-angle, joint 0 in the camera frame), betas
    float32 [10], gender int32 [] (0 female, 1 male), has_smpl int32 [] (1).

  Every face is drawn: a batch that overflows `config.raster` is drawn again
  with `config.fallback_raster`, then by `render.rasterize_mesh`.
  """
  config = config_from_mapping(config)
  if config.style not in ('train', 'unseen'):
    raise ValueError(f"SyntheticConfig.style must be 'train' or 'unseen', "
                     f'got {config.style!r}.')
  if backgrounds is None:
    backgrounds = load_backgrounds(
        config.image_size, names=(UNSEEN_BACKGROUND_PHOTOS
                                  if config.style == 'unseen'
                                  else BACKGROUND_PHOTOS))
  if np.min(backgrounds.sizes) < config.image_size:
    raise ValueError(
        f'backgrounds: every photo must be at least {config.image_size} '
        f'pixels on each side, got sizes down to {np.min(backgrounds.sizes)}; '
        'use load_backgrounds(config.image_size).')
  images = jnp.asarray(backgrounds.images)
  sizes = jnp.asarray(backgrounds.sizes)
  batch = config.batch_size
  for first in range(start, start + num_examples, batch):
    count = min(batch, start + num_examples - first)
    keys = example_keys(seed, np.arange(first, first + batch))
    out = _render_drawable(models, images, sizes, keys, config, count)
    out = jax.device_get({k: out[k] for k in records.RECORD_KEYS})
    for i in range(count):
      yield {k: np.asarray(v[i]) for k, v in out.items()}


def render_clip(models: bm.BodyModel, rotations: np.ndarray, seed: int,
                config: SyntheticConfig | Mapping[str, Any] | None = None,
                backgrounds: Backgrounds | None = None
                ) -> list[dict[str, np.ndarray]]:
  """Renders a motion clip: one person, one camera, one look, many poses.

  Every frame shares example `seed`'s draws (shape, clothes, background,
  lights, camera, root position); its pose is the clip's, turned into the
  camera frame as `render_examples` does; the root's depth is the largest
  any frame needs, so the camera does not zoom.

  Args:
    models: stacked [female, male] `BodyModel`.
    rotations: [T, 24, 3, 3] body-frame relative rotations (y up; joint 0
      the body's orientation), e.g. `motion.smooth_motion`.
    seed: the look's seed (example 0 of `example_keys(seed, ...)`).
    config: `SyntheticConfig`, or a mapping of field overrides.
    backgrounds: as in `render_examples`.

  Returns:
    T records as `render_examples` yields them (their betas and gender are
    the look's; pose is the frame's, camera frame).
  """
  config = config_from_mapping(config)
  if backgrounds is None:
    backgrounds = load_backgrounds(
        config.image_size, names=(UNSEEN_BACKGROUND_PHOTOS
                                  if config.style == 'unseen'
                                  else BACKGROUND_PHOTOS))
  rotations = jnp.asarray(rotations, jnp.float32)
  num = rotations.shape[0]
  stripped = dataclasses.replace(config, raster=render.RasterConfig(),
                                 fallback_raster=render.RasterConfig())
  keys = jnp.broadcast_to(example_keys(seed, np.zeros(1, np.int64)),
                          (num, 2))
  # The camera's depth: the largest any frame of the clip needs.
  first = _jitted_geometry(models, keys, stripped, rotations)
  depth = jnp.full((num,), jnp.max(first['record']['jl_cam'][:, 0, 2]))
  images = jnp.asarray(backgrounds.images)
  sizes = jnp.asarray(backgrounds.sizes)
  clip = []
  for start in range(0, num, config.batch_size):
    end = min(start + config.batch_size, num)
    out = _render_drawable(models, images, sizes, keys[start:end], config,
                           end - start, body_rotations=rotations[start:end],
                           depth=depth[start:end])
    out = jax.device_get({k: out[k] for k in records.RECORD_KEYS})
    clip.extend({k: np.asarray(v[i]) for k, v in out.items()}
                for i in range(end - start))
  return clip


def save_preview(records: list[Mapping[str, np.ndarray]], path: str,
                 columns: int = 4, with_points: bool = True) -> str:
  """Saves a grid of rendered images as a PNG (a tool for eyeballing).

  Args:
    records: records from `render_examples`.
    path: output .png path.
    columns: images per row.
    with_points: mark the projected jl_cam (red joints, green landmarks) and
      show the mask as a grey tile next to each image.

  Returns:
    The path.
  """
  from PIL import (
    Image,  # pylint: disable=g-import-not-at-top
    ImageDraw,  # pylint: disable=g-import-not-at-top
  )
  tiles = []
  for r in records:
    image = Image.fromarray(np.asarray(r['image']))
    if with_points:
      draw = ImageDraw.Draw(image)
      p = np.asarray(r['jl_cam'], np.float64)
      uv = p[:, :2] / p[:, 2:] * np.asarray(r['focal']) + np.asarray(
          r['principal'])
      for i, (u, v) in enumerate(uv):
        colour = (255, 0, 0) if i < jl_lib.NUM_JOINTS else (0, 255, 0)
        draw.ellipse([u - 1.5, v - 1.5, u + 1.5, v + 1.5], fill=colour)
      mask = Image.fromarray(np.asarray(r['mask']) * 255).convert('RGB')
      tile = Image.new('RGB', (image.width * 2, image.height))
      tile.paste(image, (0, 0))
      tile.paste(mask, (image.width, 0))
      image = tile
    tiles.append(image)
  if not tiles:
    raise ValueError('save_preview: no records given.')
  w, h = tiles[0].size
  rows = math.ceil(len(tiles) / columns)
  grid = Image.new('RGB', (w * min(columns, len(tiles)), h * rows))
  for i, tile in enumerate(tiles):
    grid.paste(tile, ((i % columns) * w, (i // columns) * h))
  grid.save(path)
  return path
