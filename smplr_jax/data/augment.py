r"""Per-example image processing: the root-centred crop and its augmentations.

`process_example` turns one dataset record (`smplr_jax.data.records`: a full
frame, its person mask, the 42 JL points in camera coordinates, the camera and
the SMPL parameters) into one training example: an S x S crop and ground truth
that agrees with it. Everything runs on the host in numpy, one example at a
time, and is a deterministic function of the record, the config and a seed.

Geometry
--------
The crop is the authors' (`docs/paper_facts.md`): centred on the projection
of the root (point 0), window side `w = f * cube / z_root` pixels (f the mean
focal length, cube 2.5 m), resized to S x S. The augmentations change it as
follows, all about the crop centre so that the root stays there:

  * in-plane rotation by theta: an exact 3D rotation `R` of the scene about
    the ray from the camera centre through the root. Rotating the scene about
    an axis through the camera centre moves every pixel by the homography
    `K R K^-1`, so the image and the points stay exactly consistent (no
    small-angle or weak-perspective approximation); the root is on the axis
    and does not move. A positive angle turns the picture counter-clockwise.
  * horizontal flip: the mirror `F = diag(-1, 1, 1)` of the camera frame,
    i.e. the image mirrored about the vertical line through the principal
    point; the crop, centred on the mirrored root, is then the mirror image of
    the unflipped crop. Points are mirrored and relabelled with
    `jl.LEFT_RIGHT_PERMUTATION` (valid flags too).
  * zoom k (scale augmentation): the window side becomes w / k, so the body
    looks k times larger. This is a change of focal length: the camera-frame
    points (`jl_cam`) do not change, the crop pixels do. `jl_cube` follows the
    pixels in x, y by definition and, with `scale.scale_depth`, its relative
    depth is multiplied by k too, so the target stays an undistorted body
    (that of a k times larger person at the same root depth, to first order
    in depth / z_root).

Together: camera-frame points `p -> M p` with `M = F R`, and a source pixel
`x` (homogeneous) goes to the crop pixel `A K M K^-1 x`, with `A` the
similarity that puts the projection of `M p_root` at the crop centre and
scales by `S k / w`. The image is resampled through the inverse of that
homography with bilinear interpolation; with `antialias`, a window that is
shrunk by a factor d >= 2 is first box-filtered by d (exact area average).

Pixel conventions: in the record's frame, OpenCV's (the calibrated cameras'
and `smplr_jax.data.render`'s): pixel (row r, column c) has its centre at
(u, v) = (c, r). In the crop, pixel (r, c) covers [c, c + 1) x [r, r + 1)
(centre (c + 0.5, r + 0.5)), so that `x = (u / S - 0.5) * cube` of `jl_cube`
spans the crop exactly, the root is at u = v = S / 2, and the hourglass'
voxel mapping `(p / cube + 0.5) * W` uses the same convention.

SMPL parameters: the global orientation (joint 0, camera frame) becomes
`M G F` (rotated, and conjugated by the mirror when flipped); a flip also
swaps the left and right joints' rotations and negates the y and z components
of every axis-angle, which mirrors the body through its sagittal plane.

Appearance (training only, each switchable): loose garments and hair drawn
as silhouettes over the person (skirts, dresses, wide trousers, loose shirts
that do not follow the body surface; short or long hair; plain, striped,
shaded or photo-textured fabric; they join the person mask), background
replacement through the person mask (where `has_mask`), random occluders (rectangles or ellipses
cut from another image), colour noise (per-channel gain and bias, brightness,
contrast, optional pixel noise). Each augmentation draws from its own random
stream, so switching one off leaves the others' draws unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np
import scipy.ndimage
import skimage.draw

from smplr_jax import crop
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations
from smplr_jax.data import records

# Random streams, one per augmentation (appended to an example's seed).
_STREAMS = {'zoom': 0, 'rotation': 1, 'flip': 2, 'colour': 3, 'background': 4,
            'occluders': 5, 'garments': 6, 'shadow': 7, 'blur': 8}

_POINT_PERMUTATION = np.asarray(jl_lib.LEFT_RIGHT_PERMUTATION)
# A background: a list of uint8 [h, w, 3] images, or rng -> such an image.
BackgroundSource = (Sequence[np.ndarray] |
                    Callable[[np.random.Generator], np.ndarray] | None)


def augment_config() -> ml_collections.ConfigDict:
  """Default crop and augmentation settings (every augmentation on).

  Returns:
    ConfigDict with `crop_size` (S), `cube_size` (metres), `antialias`, and
    one sub-config per augmentation, each with an `enabled` switch.
  """
  config = ml_collections.ConfigDict()
  config.crop_size = 256  # paper; 128 for CPU configs
  config.cube_size = 2.5  # metres, window side f * cube / z_root
  config.antialias = True  # box-filter the source when shrinking by >= 2
  # Zoom k ~ U(1 - max_relative, 1 + max_relative): the body looks k x larger.
  config.scale = ml_collections.ConfigDict({
      'enabled': True, 'max_relative': 0.15, 'scale_depth': True})
  # In-plane rotation about the root ray, U(-max_degrees, max_degrees).
  config.rotation = ml_collections.ConfigDict({
      'enabled': True, 'probability': 0.5, 'max_degrees': 30.0})
  config.flip = ml_collections.ConfigDict({'enabled': True, 'probability': 0.5})
  # x * gain_c + bias_c + brightness, then contrast about the mean; [0, 1].
  config.colour = ml_collections.ConfigDict({
      'enabled': True, 'probability': 1.0, 'gain': 0.2, 'bias': 0.05,
      'brightness': 0.1, 'contrast': 0.2, 'pixel_noise_std': 0.0})
  # Replace what is outside the person mask (records with has_mask only).
  config.background = ml_collections.ConfigDict({
      'enabled': True, 'probability': 0.5})
  # Up to max_count patches, sides in [min_size, max_size] x S; together they
  # cover at most max_coverage of the person mask (of the crop without one).
  config.occluders = ml_collections.ConfigDict({
      'enabled': True, 'probability': 0.5, 'max_count': 3, 'min_size': 0.1,
      'max_size': 0.4, 'max_coverage': 0.5, 'ellipse_probability': 0.5})
  # Loose garments and hair as silhouettes over the person (`_garments`):
  # with `probability`, each piece is drawn with its own probability.
  config.garments = ml_collections.ConfigDict({
      'enabled': True, 'probability': 0.6, 'skirt': 0.3, 'dress': 0.2,
      'wide_trousers': 0.25, 'loose_shirt': 0.3, 'hair': 0.6,
      # A long open coat: never in training, for the unseen-style set.
      'coat': 0.0})
  # Off unless a config turns them on (the runs shipped before them stay
  # reproducible): a cast shadow, a soft-edged ellipse or half-plane darkened
  # by a factor in [min_factor, max_factor]; and defocus, a Gaussian blur of
  # sigma ~ U(0, max_sigma) pixels of the crop.
  config.shadow = ml_collections.ConfigDict({
      'enabled': False, 'probability': 0.3, 'min_factor': 0.35,
      'max_factor': 0.8})
  config.blur = ml_collections.ConfigDict({
      'enabled': False, 'probability': 0.3, 'max_sigma': 1.5})
  return config


def _rng(seed: Sequence[int], stream: str) -> np.random.Generator:
  return np.random.default_rng([*seed, _STREAMS[stream]])


def _random_field(rng: np.random.Generator, crop_size: int) -> np.ndarray:
  """float32 [S, S, 3] in [0, 255]: a random n x n colour grid (n in 2..8)
  interpolated bilinearly, separably; the background and occluder stand-in
  when no images are given."""
  n = int(rng.integers(2, 9))
  knots = rng.integers(0, 256, (n, n, 3)).astype(np.float32)
  position = (np.arange(crop_size) + 0.5) * ((n - 1) / crop_size)
  lower = np.minimum(position.astype(int), n - 2)
  frac = (position - lower).astype(np.float32)
  rows = knots[lower] * (1.0 - frac)[:, None, None]  # [S, n, 3]
  rows += knots[lower + 1] * frac[:, None, None]
  field = rows[:, lower]  # [S, S, 3]
  field *= (1.0 - frac)[None, :, None]
  field += rows[:, lower + 1] * frac[None, :, None]
  return field


def _draw_background(backgrounds: BackgroundSource, rng: np.random.Generator,
                     crop_size: int,
                     where: np.ndarray | None = None) -> np.ndarray:
  """A random float32 [S, S, 3] background in [0, 255] (or its [K, 3] pixels
  of `where`): a random square window of a random background image (mirrored
  half of the time), or a random colour field."""
  if backgrounds is None:
    field = _random_field(rng, crop_size)
    return field if where is None else field[where]
  if callable(backgrounds):
    image = np.asarray(backgrounds(rng))
  else:
    if not len(backgrounds):
      raise ValueError('backgrounds is an empty sequence; pass images or None.')
    image = np.asarray(backgrounds[int(rng.integers(len(backgrounds)))])
  if image.ndim != 3 or image.shape[2] != 3:
    raise ValueError('a background image must be [h, w, 3], got '
                     f'{image.shape}.')
  h, w = image.shape[:2]
  side = min(h, w) * rng.uniform(0.5, 1.0)
  x0 = rng.uniform(0, w - side)
  y0 = rng.uniform(0, h - side)
  s = crop_size / side
  if rng.random() < 0.5:  # mirror
    homography = np.array([[-s, 0.0, s * (x0 + side)], [0.0, s, -s * y0],
                           [0.0, 0.0, 1.0]])
  else:
    homography = np.array([[s, 0.0, -s * x0], [0.0, s, -s * y0],
                           [0.0, 0.0, 1.0]])
  return crop.warp(image.astype(np.uint8, copy=False), None, homography,
              crop_size, where=where)[..., :3]


def _occluder_shapes(config: ml_collections.ConfigDict,
                     rng: np.random.Generator, crop_size: int,
                     mask: np.ndarray | None) -> np.ndarray:
  """bool [S, S]: union of random rectangles/ellipses within the coverage."""
  c = np.arange(crop_size, dtype=np.float32) + 0.5
  union = np.zeros((crop_size, crop_size), bool)
  person = mask > 0.5 if mask is not None else None
  if person is not None and person.sum() < 16:
    person = None
  if person is not None:  # centres near the person: inside its bounding box
    rows = np.flatnonzero(person.any(axis=1))
    cols = np.flatnonzero(person.any(axis=0))
    box = (cols[0], cols[-1] + 1, rows[0], rows[-1] + 1)
  else:
    box = (0, crop_size, 0, crop_size)
  area = person.sum() if person is not None else crop_size ** 2
  count = int(rng.integers(1, config.max_count + 1))
  for _ in range(count):
    half_w, half_h = 0.5 * crop_size * rng.uniform(
        config.min_size, config.max_size, 2)
    cx = rng.uniform(box[0], box[1])
    cy = rng.uniform(box[2], box[3])
    ellipse = rng.random() < config.ellipse_probability
    for _ in range(3):  # too much coverage: halve the patch, twice at most
      if ellipse:
        shape = (((c[None, :] - cx) / half_w) ** 2 +
                 ((c[:, None] - cy) / half_h) ** 2) <= 1.0
      else:
        shape = ((np.abs(c[None, :] - cx) <= half_w) &
                 (np.abs(c[:, None] - cy) <= half_h))
      candidate = union | shape
      covered = (candidate & person).sum() if person is not None else (
          candidate.sum())
      if covered <= config.max_coverage * area:
        union = candidate
        break
      half_w, half_h = half_w / 2, half_h / 2
  return union


# JL indices used to place garments (see jl.POINT_NAMES).
_HIPS, _ANKLES = (1, 2), (7, 8)
_SHOULDERS, _ELBOWS = (16, 17), (18, 19)
_NECK, _HEAD, _FACE = 12, 15, 41


def _polygon(corners: np.ndarray, size: int) -> np.ndarray:
  """bool [S, S] inside a polygon of (u, v) crop-pixel corners [K, 2]."""
  rows, cols = skimage.draw.polygon(corners[:, 1] - 0.5, corners[:, 0] - 0.5,
                                    (size, size))
  inside = np.zeros((size, size), bool)
  inside[rows, cols] = True
  return inside


def _thick_segment(a: np.ndarray, b: np.ndarray, half_width: float,
                   size: int) -> np.ndarray:
  """bool [S, S] within a quadrilateral of half-width around segment a-b."""
  direction = b - a
  normal = np.array([-direction[1], direction[0]])
  normal /= max(float(np.linalg.norm(normal)), 1e-6)
  offset = half_width * normal
  return _polygon(np.stack([a + offset, b + offset, b - offset, a - offset]),
                  size)


def _ellipse(centre: np.ndarray, radii: tuple[float, float],
             size: int) -> np.ndarray:
  c = np.arange(size, dtype=np.float32) + 0.5
  return (((c[None, :] - centre[0]) / radii[0]) ** 2 +
          ((c[:, None] - centre[1]) / radii[1]) ** 2) <= 1.0


def _garment_shapes(config: ml_collections.ConfigDict,
                    rng: np.random.Generator, uv: np.ndarray, depth: np.ndarray,
                    pixels_per_metre: float, size: int) -> list[np.ndarray]:
  """bool [S, S] silhouettes of the drawn garments and hair, back to front.

  Args:
    config: the `garments` sub-config.
    rng: random stream.
    uv: [42, 2] crop pixels of the JL points.
    depth: [42] depth relative to the root (metres).
    pixels_per_metre: crop pixels per metre at the root's depth.
    size: crop side S.
  """
  m = pixels_per_metre
  hips, ankles = uv[list(_HIPS)], uv[list(_ANKLES)]
  shoulders = uv[list(_SHOULDERS)]
  shapes = []

  def widened(pair: np.ndarray, factor: float, extra: float) -> np.ndarray:
    centre = pair.mean(axis=0)
    half = 0.5 * (pair[0] - pair[1])
    length = max(float(np.linalg.norm(half)), 1e-6)
    half = half / length * (length * factor + extra * m)
    return np.stack([centre + half, centre - half])

  if rng.random() < config.wide_trousers:
    half_width = rng.uniform(0.08, 0.14) * m
    for leg in range(2):
      shapes.append(_thick_segment(hips[leg], ankles[leg], half_width, size))
  skirt = rng.random() < config.skirt
  dress = rng.random() < config.dress
  if skirt or dress:
    # A flared trapezoid from the waist to a hem between mid-thigh and ankle.
    # level 0.3: mid-thigh, about 0.5: the knees, 1: the ankles.
    hem = hips + rng.uniform(0.3, 1.0) * (ankles - hips)
    waist = widened(hips, rng.uniform(1.2, 1.6), 0.03)
    flare = widened(hem, 1.0, 0.0)
    width = max(float(np.linalg.norm(flare[0] - flare[1])),
                float(np.linalg.norm(waist[0] - waist[1])))
    hem_half = 0.5 * width * rng.uniform(1.1, 1.8)
    axis = flare[0] - flare[1]
    axis = axis / max(float(np.linalg.norm(axis)), 1e-6)
    centre = hem.mean(axis=0)
    shape = _polygon(np.stack([waist[0], waist[1], centre - hem_half * axis,
                               centre + hem_half * axis]), size)
    if dress:  # and a bodice from the shoulders to the waist
      top = widened(shoulders, rng.uniform(0.8, 1.0), 0.0)
      shape |= _polygon(np.stack([top[0], top[1], waist[1], waist[0]]), size)
    shapes.append(shape)
  if rng.random() < config.loose_shirt:
    top = widened(shoulders, rng.uniform(1.05, 1.25), 0.02)
    bottom = widened(hips, rng.uniform(1.3, 1.8), 0.05)
    shape = _polygon(np.stack([top[0], top[1], bottom[1], bottom[0]]), size)
    sleeve = rng.uniform(0.06, 0.1) * m
    for arm in range(2):
      end = shoulders[arm] + rng.uniform(0.5, 1.0) * (
          uv[_ELBOWS[arm]] - shoulders[arm])
      shape |= _thick_segment(shoulders[arm], end, sleeve, size)
    shapes.append(shape)
  if rng.random() < config.get('coat', 0.0):
    # Shoulders to below the knees, flaring, with sleeves to the wrists.
    top = widened(shoulders, rng.uniform(1.1, 1.3), 0.03)
    hem = hips + rng.uniform(0.6, 0.9) * (ankles - hips)
    bottom = widened(hem, 1.0, 0.0)
    bottom = widened(bottom, rng.uniform(1.6, 2.4), 0.15)
    shape = _polygon(np.stack([top[0], top[1], bottom[1], bottom[0]]), size)
    for arm in range(2):
      wrist = uv[20 + arm]
      shape |= _thick_segment(shoulders[arm], uv[_ELBOWS[arm]],
                              0.07 * m, size)
      shape |= _thick_segment(uv[_ELBOWS[arm]], wrist, 0.06 * m, size)
    shapes.append(shape)
  if rng.random() < config.hair:
    head, neck = uv[_HEAD], uv[_NECK]
    up = head - neck
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    radius = rng.uniform(0.1, 0.13) * m
    shape = _ellipse(head + 0.04 * m * up, (radius, radius * 1.1), size)
    if rng.random() < 0.4:  # long hair down to the shoulder blades
      shape |= _thick_segment(head, neck - rng.uniform(0.05, 0.25) * m * up,
                              radius * rng.uniform(0.7, 1.0), size)
    if depth[_FACE] < depth[_HEAD]:  # the face looks at the camera: keep it
      shape &= ~_ellipse(uv[_FACE] - 0.02 * m * up,
                         (0.075 * m, 0.09 * m), size)
    shapes.append(shape)
  return shapes


def _fill_garment(image: np.ndarray, shape: np.ndarray,
                  rng: np.random.Generator,
                  backgrounds: BackgroundSource) -> None:
  """Paints fabric into `image` (float32 [S, S, 3] in [0, 255]) where shape:
  plain, stripes or a photo texture, shaded by a smooth gradient."""
  size = image.shape[0]
  kind = rng.integers(3)
  colours = rng.uniform(0.0, 255.0, (2, 3)).astype(np.float32)
  if kind == 2:
    fabric = _draw_background(backgrounds, rng, size, where=shape)
  else:
    fabric = np.broadcast_to(colours[0], (int(shape.sum()), 3)).copy()
    if kind == 1:
      rows, cols = np.nonzero(shape)
      angle = rng.uniform(0.0, np.pi)
      period = rng.uniform(3.0, 12.0)
      phase = (np.cos(angle) * cols + np.sin(angle) * rows) / period
      fabric[np.floor(phase) % 2 == 1] = colours[1]
  rows, cols = np.nonzero(shape)
  slope = rng.uniform(-1.0, 1.0, 2) / size
  light = 1.0 + rng.uniform(0.2, 0.5) * (
      slope[0] * (cols - size / 2) + slope[1] * (rows - size / 2))
  image[shape] = np.clip(fabric * light[:, None].astype(np.float32), 0.0,
                         255.0)


def _cast_shadow(image: np.ndarray, config: ml_collections.ConfigDict,
                 rng: np.random.Generator) -> None:
  """Darkens a soft-edged region of `image` (float32 [S, S, 3], [0, 255], in
  place): an ellipse (a shadow cast by something off-picture) or a
  half-plane (the edge of a shade), by a factor in [min_factor, max_factor].
  """
  size = image.shape[0]
  rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) / size
  centre = rng.uniform(0.0, 1.0, 2)
  angle = rng.uniform(0.0, np.pi)
  across = (np.cos(angle) * (cols - centre[0]) +
            np.sin(angle) * (rows - centre[1]))
  if rng.random() < 0.5:
    along = (-np.sin(angle) * (cols - centre[0]) +
             np.cos(angle) * (rows - centre[1]))
    radii = rng.uniform(0.15, 0.5, 2)
    inside = 1.0 - np.sqrt((across / radii[0])**2 + (along / radii[1])**2)
  else:
    inside = across
  softness = rng.uniform(0.01, 0.1)  # fraction of the crop
  weight = np.clip(inside / softness + 0.5, 0.0, 1.0)
  factor = rng.uniform(config.min_factor, config.max_factor)
  image *= (1.0 - (1.0 - factor) * weight)[..., None]


def _defocus(image: np.ndarray, config: ml_collections.ConfigDict,
             rng: np.random.Generator) -> np.ndarray:
  """Gaussian blur of `image` (float32 [S, S, 3]) with sigma ~ U(0,
  max_sigma) pixels: out-of-focus or low-resolution photographs."""
  sigma = rng.uniform(0.0, config.max_sigma)
  return scipy.ndimage.gaussian_filter(image, (sigma, sigma, 0.0),
                                       mode='nearest', truncate=3.0)


def _colour_noise(image: np.ndarray, config: ml_collections.ConfigDict,
                  rng: np.random.Generator) -> np.ndarray:
  """Per-channel gain/bias, brightness, contrast, pixel noise.

  Args:
    image: float32 [S, S, 3] in [0, 255] (overwritten).
    config: the `colour` sub-config.
    rng: random stream.

  Returns:
    float32 [S, S, 3] in [0, 1].
  """
  gain = rng.uniform(1.0 - config.gain, 1.0 + config.gain, 3)
  bias = rng.uniform(-config.bias, config.bias, 3)
  brightness = rng.uniform(-config.brightness, config.brightness)
  contrast = rng.uniform(1.0 - config.contrast, 1.0 + config.contrast)
  # x -> ((x * g + b + brightness) - mean) * contrast + mean, as one affine.
  scaled = gain * contrast
  mean = float(image.reshape(-1, 3).mean(axis=0) @ gain) / (3 * 255.0) + (
      float(bias.mean()) + brightness)
  offset = (bias + brightness) * contrast + mean * (1.0 - contrast)
  image *= (scaled / 255.0).astype(np.float32)
  image += offset.astype(np.float32)
  if config.pixel_noise_std > 0:
    image += rng.normal(0.0, config.pixel_noise_std,
                        image.shape).astype(np.float32)
  return np.clip(image, 0.0, 1.0, out=image)


def process_example(record: Mapping[str, Any],
                    config: ml_collections.ConfigDict,
                    seed: Sequence[int] = (0,), *, train: bool = True,
                    backgrounds: BackgroundSource = None
                    ) -> dict[str, np.ndarray]:
  """One record -> one cropped (and, in training, augmented) example.

  Args:
    record: a record of the contract of `smplr_jax.data.records`.
    config: `augment_config()`-like settings.
    seed: integers that seed this example's random streams (the pipeline
      passes (seed, epoch, index)).
    train: False gives the plain root-centred crop (no augmentation).
    backgrounds: images for background replacement and occluders: a sequence
      of uint8 [h, w, 3] arrays, a callable rng -> such an array, or None for
      random colour fields.

  Returns:
    dict of numpy arrays: image float32 [S, S, 3] in [0, 1], mask float32
    [S, S], jl_cube float32 [42, 3], jl_crop float32 [42, 3] (u, v crop
    pixels, depth relative to the root in metres), jl_cam float32 [42, 3],
    jl_valid float32 [42], zoom float32 [] (k, 1 without scale augmentation),
    has_mask int32 [], pose float32 [24, 3], betas float32 [10], gender int32
    [], has_smpl int32 [].
  """
  records.check_record(record)
  seed = tuple(int(s) for s in np.atleast_1d(seed))
  size = int(config.crop_size)
  cube = float(config.cube_size)
  jl_cam = np.asarray(record['jl_cam'], np.float64)
  focal = np.asarray(record['focal'], np.float64)
  principal = np.asarray(record['principal'], np.float64)
  has_mask = int(record['has_mask'])

  zoom, angle, flip = 1.0, 0.0, False
  if train and config.scale.enabled:
    r = config.scale.max_relative
    zoom = float(_rng(seed, 'zoom').uniform(1.0 - r, 1.0 + r))
  if train and config.rotation.enabled:
    rng = _rng(seed, 'rotation')
    if rng.random() < config.rotation.probability:
      angle = np.deg2rad(rng.uniform(-1.0, 1.0) * config.rotation.max_degrees)
  if train and config.flip.enabled:
    flip = bool(_rng(seed, 'flip').random() < config.flip.probability)

  points, pixels = crop.crop_transform(jl_cam[0], focal, principal, size, cube,
                                  zoom, angle, flip)
  warped = crop.warp(np.asarray(record['image'], np.uint8),
                np.asarray(record['mask'], np.uint8), pixels, size,
                config.antialias)
  image = np.ascontiguousarray(warped[..., :3])  # [0, 255] until the end
  mask = warped[..., 3] * np.float32(1.0 / 255.0)
  crop_uv = crop.project_to_crop(jl_cam, focal, principal, pixels)
  new_cam = jl_cam @ points.T

  if train and config.get('garments') and config.garments.enabled:
    rng = _rng(seed, 'garments')
    if rng.random() < config.garments.probability:
      # The window spans cube / zoom metres at the root's depth.
      shapes = _garment_shapes(config.garments, rng, crop_uv,
                               new_cam[:, 2] - new_cam[0, 2],
                               size * zoom / cube, size)
      for shape in shapes:
        _fill_garment(image, shape, rng, backgrounds)
        mask[shape] = 1.0

  if train and has_mask and config.background.enabled:
    rng = _rng(seed, 'background')
    if rng.random() < config.background.probability:
      background = _draw_background(backgrounds, rng, size)
      image -= background  # image = background + (image - background) * mask
      image *= mask[..., None]
      image += background
  if train and config.occluders.enabled:
    rng = _rng(seed, 'occluders')
    if rng.random() < config.occluders.probability:
      shapes = _occluder_shapes(config.occluders, rng, size,
                                mask if has_mask else None)
      image[shapes] = _draw_background(backgrounds, rng, size, where=shapes)
  if train and config.get('shadow') and config.shadow.enabled:
    rng = _rng(seed, 'shadow')
    if rng.random() < config.shadow.probability:
      _cast_shadow(image, config.shadow, rng)
  if train and config.get('blur') and config.blur.enabled:
    rng = _rng(seed, 'blur')
    if rng.random() < config.blur.probability:
      image = _defocus(image, config.blur, rng)
  coloured = False
  if train and config.colour.enabled:
    rng = _rng(seed, 'colour')
    if rng.random() < config.colour.probability:
      image = _colour_noise(image, config.colour, rng)
      coloured = True
  if not coloured:
    image *= np.float32(1.0 / 255.0)

  valid = np.asarray(record['jl_valid'], np.float32)
  # The in-plane rotation R alone (points = F R when flipped).
  rotation = crop.MIRROR @ points if flip else points
  pose = rotations.rotate_global_orientation(rotation, record['pose'][None])[0]
  if flip:
    new_cam = new_cam[_POINT_PERMUTATION]
    crop_uv = crop_uv[_POINT_PERMUTATION]
    valid = valid[_POINT_PERMUTATION]
    pose = crop.mirror_pose(pose)
  depth = new_cam[:, 2] - new_cam[0, 2]
  jl_crop = np.concatenate([crop_uv, depth[:, None]], axis=1)
  depth_scale = zoom if config.scale.scale_depth else 1.0
  jl_cube = np.stack([(crop_uv[:, 0] / size - 0.5) * cube,
                      (crop_uv[:, 1] / size - 0.5) * cube,
                      depth * depth_scale], axis=1)
  return {
      'image': image.astype(np.float32, copy=False),
      'mask': mask.astype(np.float32, copy=False),
      'jl_cube': jl_cube.astype(np.float32),
      'jl_crop': jl_crop.astype(np.float32),
      'jl_cam': new_cam.astype(np.float32),
      'jl_valid': valid,
      'zoom': np.float32(zoom),
      'has_mask': np.int32(has_mask),
      'pose': pose.astype(np.float32),
      'betas': np.asarray(record['betas'], np.float32),
      'gender': np.int32(record['gender']),
      'has_smpl': np.int32(record['has_smpl'])}
