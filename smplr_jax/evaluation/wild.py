r"""Photos as people take them: a rendered evaluation set with ground truth,
and the matching and metrics of its evaluation (`experiments/evaluate_wild.py`,
docs/wild.md).

`renders.render_set` checks one full body at 512 px. Users' photos are
close-ups, people cut by the frame, groups, grey or badly exposed shots,
12-megapixel phone photos and photos with nobody in them. `render_wild_set`
renders each of those `CATEGORIES` in the held-out ('unseen') style of
`synthetic` (its soft colour-wave clothes, `synthetic._face_albedo`, and
its held-out background photographs `synthetic.UNSEEN_BACKGROUND_PHOTOS`)
with the default body model and `sampler.sample_parameters`' poses, men
and women (`synthetic._draw_example` draws each person's pose, shape,
gender, clothes and lights):

| category | photo (width x height) | people |
|---|---|---|
| full_body | 512 x 512 | 1, 60-88% of the height |
| closeup_head_shoulders | 640 x 480 or 480 x 640 | 1, standing height 2.6-3.2x the photo's |
| closeup_waist_up | same | 1, 1.8-2.2x |
| closeup_knees_up | same | 1, 1.25-1.45x |
| cut_by_edge | 4:3, 3:4, 16:9 or square | 1, 25-55% of its box past one edge |
| two_side_by_side | 800 x 600 or 960 x 540 | 2, side by side, often overlapping |
| group_3_to_5 | same | 3-5, 80 px to 75% of the height, overlapping |
| grayscale, dark, bright | 4:3, 3:4, 16:9 or square | 1 full body; grey, under- or over-exposed |
| phone_4000x3000 | 4000 x 3000 (1000 x 750 upscaled 4x) | 1-2 full bodies |
| empty | 4:3, 3:4, 16:9 or square | none (a background photograph) |

A scene: one pinhole camera (principal point at the centre, a field of
view of 50-70 degrees along the longer side, tilted by a small elevation);
each person's root is placed in the camera frame so that the person lands
where the category wants (a box of a given height and centre, or, for
close-ups, a standing height in pixels and the head joint's pixel);
pairs and groups stand on a ground plane seen from eye height (a
person's feet ~0.94 of its height below the horizon). People face the
camera within 60 degrees in 80% of cases (any direction otherwise; the
yaw is recorded), and a pose whose posed height is under 80% of its
standing height (a crouch) is replaced by the next draw, as most
photographed people stand. Each person is rasterised alone (`rasterize`:
`render.rasterize` with large-face classes, checked to drop no face, else
`render.rasterize_mesh`) and composited
farthest first; flat Lambert shading under the scene's lights (the first
person's draw); sensor noise. Everything is deterministic given (seed,
category, index).

Held-out seed `HELD_OUT_SEED` = 2025 (the numbers docs/wild.md reports);
`TUNING_SEED` = 8 is the one to tune settings on.

Ground truth per person (`WildPhoto.people`): pose [24, 3, 3] (joint 0 the
global orientation in the camera frame), betas [10], gender (0 female, 1
male), joints [24, 3] / jl [42, 3] / vertices [V, 3] root-relative,
joints_cam / vertices_cam / root_cam in the camera frame (metres), focal
[2], principal [2], joint_pixels [24, 2], joint_in_photo [24],
joint_occluded [24] (covered by a nearer person), height_px (the posed
mesh's vertical extent in pixels, off-screen parts included),
standing_height (metres, rest pose), head_in_view, shoulders_in_view,
box (the projected mesh's box clipped to the photo) and box_full,
visible_fraction (of its own silhouette, the share no one covers),
findable (`is_findable`), yaw_deg, edge (cut_by_edge).

Evaluation helpers: `match_people` (greedy by box IoU), `count_people`,
`pose_errors` (P1 / P2 over the joints inside the photo and over all of
them, through `metrics`), `metrics.expected_calibration_error`,
`standing_heights`, `bone_length_error`, `polygon_silhouette` (an
independent drawing of a mesh) against `overlay_silhouette` (the mask the
overlay draws), `evaluate_photo`, `summarise` and `format_table`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from smplr_jax.body import body_model as bm
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import render, sampler, synthetic
from smplr_jax.evaluation import metrics as metrics_lib

CATEGORIES = ('full_body', 'closeup_head_shoulders', 'closeup_waist_up',
              'closeup_knees_up', 'cut_by_edge', 'two_side_by_side',
              'group_3_to_5', 'grayscale', 'dark', 'bright',
              'phone_4000x3000', 'empty')
HELD_OUT_SEED = 2025  # the set docs/wild.md reports
TUNING_SEED = 8  # the set to tune settings on
EMPTY_PHOTOS = 50  # empty photos of the default set (target: <= 1 false)

# Photo sizes (width, height) by aspect: a few, so that the rasteriser
# compiles a few times only.
SIZES = {'1:1': (512, 512), '4:3': (640, 480), '3:4': (480, 640),
         '16:9': (768, 432)}
GROUP_SIZES = {'4:3': (800, 600), '16:9': (960, 540)}
PHONE_SIZE = (4000, 3000)
PHONE_RENDER = (1000, 750)  # rendered, then upscaled to PHONE_SIZE

# A person counts in the found recall when at least this tall (pixels) with
# the head or both shoulders in view (`is_findable`).
MIN_FINDABLE_HEIGHT_PX = 100
# Smallest box IoU of a prediction and a true person to match them.
MIN_MATCH_IOU = 0.3
HEAD, LEFT_SHOULDER, RIGHT_SHOULDER = 15, 16, 17
# Closest any vertex may come to the camera (metres).
_MIN_DEPTH = 0.15
# Candidate people drawn per photo (one compiled batch); crouched ones are
# skipped.
_CANDIDATES = 16
# A posed body shorter than this share of its standing height is skipped.
_MIN_UPRIGHT = 0.8
# Rasteriser classes for the largest faces of close-ups (faces up to 256
# pixels on a side; room for every face of the body model in the last
# class): `rasterize`'s first pass.
_CANVAS_STEP = 128
_LARGE_FACES = render.RasterConfig(
    small_window=4, ranked_windows=((256, 8), (128, 32), (64, 128),
                                    (32, 1024), (16, 4096), (8, 32768)))
_STYLE = synthetic.SyntheticConfig(style='unseen')


@dataclasses.dataclass
class WildPhoto:
  """One photo of the set and its truth.

  Attributes:
    category: one of `CATEGORIES`.
    index: its index within the category.
    image: uint8 [H, W, 3].
    focal: [2] fx, fy (pixels).
    principal: [2] cx, cy (pixels; the photo's centre).
    people: one truth dict per person (see the module docstring), the
      farthest first.
    person_map: int8 [H, W]: the index into `people` of the person seen at
      each pixel, -1 on the background.
  """
  category: str
  index: int
  image: np.ndarray
  focal: np.ndarray
  principal: np.ndarray
  people: list[dict[str, Any]]
  person_map: np.ndarray

  @property
  def size(self) -> tuple[int, int]:
    """(width, height)."""
    return self.image.shape[1], self.image.shape[0]


# ----------------------------------------------------------------------------
# Rendering.


@functools.lru_cache(maxsize=None)
def _models() -> bm.BodyModel:
  return gendered.load_gendered_models()


@functools.lru_cache(maxsize=None)
def _neutral() -> bm.BodyModel:
  return bm.load_body_model(None, 'neutral')


@functools.lru_cache(maxsize=None)
def _backgrounds(long_side: int) -> synthetic.Backgrounds:
  return synthetic.load_backgrounds(long_side, scales=(1.0, 1.5),
                                    names=synthetic.UNSEEN_BACKGROUND_PHOTOS)


@jax.jit
def _draw_people(keys: jax.Array) -> dict:
  """[N] keys -> `synthetic._draw_example`'s draws (body-frame pose, betas,
  gender, clothes, lights), unseen style."""
  return jax.vmap(lambda k: synthetic._draw_example(k, _STYLE))(keys)  # pylint: disable=protected-access


@jax.jit
def _bodies(models, rotations, betas, gender):
  """Root-relative posed bodies [N, ...] and standing heights [N] (the
  rest pose's vertical extent, metres)."""
  posed = gendered.posed_body(models, rotations, betas, gender)
  rest = jnp.broadcast_to(jnp.eye(3), rotations.shape)
  standing = gendered.posed_body(models, rest, betas, gender)['vertices']
  return posed, jnp.ptp(standing[..., 1], axis=-1)


@jax.jit
def _face_colours(models: bm.BodyModel, draws: dict,
                  vertices_cam: jnp.ndarray, light: dict) -> jnp.ndarray:
  """[N, F, 3] flat-shaded colours in [0, 1] of camera-frame bodies
  [N, V, 3]: `synthetic._face_albedo` (unseen style) under the scene's
  lights (Lambert, as `synthetic` shades)."""
  faces = models.faces
  parts = synthetic.body_part_per_face(models)
  template = jnp.mean(models.v_template, axis=0)
  rest_centroids = jnp.mean(template[faces], axis=1)
  albedo = jax.vmap(lambda d: synthetic._face_albedo(  # pylint: disable=protected-access
      d, parts, rest_centroids, 'unseen'))(draws)
  count = vertices_cam.shape[0]
  tile = lambda x: jnp.broadcast_to(x, (count,) + x.shape)
  cosine = render.face_normal_dot(vertices_cam, faces, tile(light['light']))
  cosine2 = render.face_normal_dot(vertices_cam, faces,
                                   tile(light['light2']))
  shade = (light['ambient'] + light['diffuse'] * jnp.maximum(cosine, 0.0) +
           light['diffuse2'] * jnp.maximum(cosine2, 0.0))[..., None]
  return jnp.clip(albedo * shade * light['light_colour'], 0.0, 1.0)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _rasterize_points(points, faces, height, width, config):
  return render.rasterize(points, faces, height, width, config)


def rasterize(vertices_cam: np.ndarray, faces: np.ndarray, focal: np.ndarray,
              principal: np.ndarray, height: int, width: int) -> np.ndarray:
  """int32 [H, W] visible face per pixel (-1: background) of one
  camera-frame mesh [V, 3], every face drawn.

  `render.rasterize` with classes for faces up to 256 pixels (`_LARGE_FACES`;
  one compilation per photo size, ~0.1 s a render), checked to drop no
  face; where it would (a face larger still, or one crossing the near
  plane), `render.rasterize_mesh`, which never drops one (it compiles
  again for most meshes, seconds each, hence not first).

  Raises:
    RuntimeError: faces were dropped and `render.rasterize_mesh` does not
      exist (the photo is not kept).
  """
  vertices_cam = jnp.asarray(vertices_cam, jnp.float32)[None]
  faces = jnp.asarray(faces, jnp.int32)
  focal = jnp.asarray(np.broadcast_to(focal, (2,)), jnp.float32)[None]
  principal = jnp.asarray(principal, jnp.float32)[None]
  points = render.project(vertices_cam, focal, principal)
  # Drawn on a square canvas of a multiple of `_CANVAS_STEP` (the photo at
  # its top-left corner), so that photos of several sizes share one
  # compilation.
  side = -(-max(height, width) // _CANVAS_STEP) * _CANVAS_STEP
  fragments = _rasterize_points(points, faces, side, side, _LARGE_FACES)
  fragments = fragments._replace(
      face_index=fragments.face_index[:, :height, :width])
  near = float(jnp.min(vertices_cam[..., 2])) <= render.NEAR_PLANE
  if int(fragments.overflow[0]) or near:
    if not hasattr(render, 'rasterize_mesh'):
      raise RuntimeError(
          f'wild: the rasteriser dropped {int(fragments.overflow[0])} faces '
          f'of a {width} x {height} render (or the mesh crosses the near '
          'plane).')
    fragments = render.rasterize_mesh(vertices_cam, faces, focal, principal,
                                      height, width)
  return np.asarray(fragments.face_index[0])


def _project(points: np.ndarray, focal: np.ndarray,
             principal: np.ndarray) -> np.ndarray:
  """[..., 3] camera-frame points -> [..., 2] pixels."""
  return points[..., :2] / points[..., 2:] * focal + principal


def _place_box(vertices: np.ndarray, focal: float, principal: np.ndarray,
               height_px: float, centre: np.ndarray) -> np.ndarray:
  """[3] root putting root-relative vertices [V, 3] at `height_px` tall
  with their box's centre at `centre` [2] (pixels)."""
  depth = focal * np.ptp(vertices[:, 1]) / height_px
  root = np.array([0.0, 0.0, depth])
  for _ in range(12):
    root[2] = max(root[2], _MIN_DEPTH - vertices[:, 2].min())
    px = _project(vertices + root, focal, principal)
    low, high = px.min(0), px.max(0)
    root[:2] += (centre - (low + high) / 2) * root[2] / focal
    root[2] *= (high[1] - low[1]) / height_px
  return root


def _place_head(vertices: np.ndarray, head: np.ndarray, standing: float,
                focal: float, principal: np.ndarray, standing_px: float,
                head_px: np.ndarray) -> np.ndarray:
  """[3] root of a close-up: the standing height `standing` (metres) spans
  `standing_px` pixels at the root's depth and the head joint [3] lands on
  `head_px` [2]."""
  depth = max(focal * standing / standing_px,
              _MIN_DEPTH - vertices[:, 2].min())
  xy = (head_px - principal) / focal * (head[2] + depth) - head[:2]
  return np.array([xy[0], xy[1], depth])


def _yaw_rotation(angle: float) -> np.ndarray:
  c, s = math.cos(angle), math.sin(angle)
  return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _background(rng: np.random.Generator, width: int,
                height: int) -> np.ndarray:
  """float [H, W, 3] in [0, 1]: a crop of a held-out photograph, maybe
  mirrored, brightness and contrast jittered (as `synthetic` does)."""
  stored = _backgrounds(max(width, height))
  fits = np.flatnonzero((stored.sizes[:, 0] >= height) &
                        (stored.sizes[:, 1] >= width))
  index = int(rng.choice(fits))
  top = int(rng.integers(0, stored.sizes[index, 0] - height + 1))
  left = int(rng.integers(0, stored.sizes[index, 1] - width + 1))
  crop = stored.images[index, top:top + height, left:left + width]
  if rng.random() < 0.5:
    crop = crop[:, ::-1]
  return np.clip(crop * (rng.uniform(0.7, 1.2) / 255.0) +
                 rng.uniform(-0.1, 0.1), 0.0, 1.0)


def _layout(category: str, rng: np.random.Generator, count_hint: int,
            size_scale: float = 1.0) -> tuple[tuple[int, int], list[dict]]:
  """((width, height), one placement per person) of a category; photo
  sizes (and the smallest person of a group) times `size_scale`."""
  pick = lambda table: table[rng.choice(sorted(table))]
  if category == 'full_body':
    size = SIZES['1:1']
  elif category.startswith('closeup'):
    size = pick({k: SIZES[k] for k in ('4:3', '3:4')})
  elif category in ('two_side_by_side', 'group_3_to_5'):
    size = pick(GROUP_SIZES)
  elif category == 'phone_4000x3000':
    size = PHONE_RENDER
  else:
    size = pick(SIZES)
  width, height = size = (round(size[0] * size_scale),
                          round(size[1] * size_scale))
  if category == 'empty':
    return size, []
  if category.startswith('closeup'):
    low, high = {'closeup_head_shoulders': (2.6, 3.2),
                 'closeup_waist_up': (1.8, 2.2),
                 'closeup_knees_up': (1.25, 1.45)}[category]
    standing_px = rng.uniform(low, high) * height
    # The head joint sits ~0.12 of the standing height below the top of
    # the head (a margin of 3-12% of the photo above it).
    head_v = rng.uniform(0.03, 0.12) * height + 0.12 * standing_px
    return size, [{'kind': 'head', 'standing_px': standing_px,
                   'head_px': np.array([rng.uniform(0.4, 0.6) * width,
                                        head_v])}]
  if category in ('two_side_by_side', 'group_3_to_5'):
    count = 2 if category == 'two_side_by_side' else count_hint
    if category == 'two_side_by_side':
      first = rng.uniform(0.5, 0.8) * height
      heights = np.array([first, first * rng.uniform(0.85, 1.15)])
    else:  # people at several distances, down to 80 px
      heights = np.exp(rng.uniform(math.log(80 * size_scale),
                                   math.log(0.75 * height), count))
    heights = np.minimum(heights, 0.9 * height)
    # Feet on a ground plane seen from eye height: a person's feet lie
    # ~0.94 of its height below the horizon.
    horizon = min(rng.uniform(0.3, 0.45) * height,
                  0.97 * height - 0.94 * heights.max())
    spacing = rng.uniform(0.18, 0.42, count) * heights.mean()
    offsets = np.cumsum(spacing) - spacing[0]
    start = width / 2 - offsets[-1] / 2 + rng.uniform(-0.05, 0.05) * width
    order = rng.permutation(count)
    people = []
    for slot, person in enumerate(order):
      h = heights[person]
      bottom = horizon + 0.94 * h
      people.append({'kind': 'box', 'height_px': h, 'centre': np.array(
          [start + offsets[slot], bottom - h / 2])})
    return size, people
  if category == 'phone_4000x3000':
    count = count_hint
    heights = rng.uniform(0.5, 0.85, count) * height
    centres = (np.array([0.5]) if count == 1 else
               np.array([0.38, 0.62]) + rng.uniform(-0.05, 0.05, 2))
    return size, [{'kind': 'box', 'height_px': h, 'centre': np.array(
        [c * width, rng.uniform(0.45, 0.55) * height])}
                  for h, c in zip(heights, centres)]
  h = rng.uniform(0.6, 0.88) * height
  centre = np.array([rng.uniform(0.4, 0.6) * width,
                     rng.uniform(0.45, 0.55) * height])
  place = {'kind': 'box', 'height_px': h, 'centre': centre}
  if category == 'cut_by_edge':
    h = rng.uniform(0.55, 0.85) * height
    place = {'kind': 'box', 'height_px': h, 'centre': centre,
             'edge': str(rng.choice(['left', 'right', 'top', 'bottom'])),
             'outside': rng.uniform(0.25, 0.55)}
  return size, [place]


def _cut(place: dict, vertices: np.ndarray, focal: float,
         principal: np.ndarray, width: int, height: int) -> np.ndarray:
  """The root of a person pushed `place['outside']` of its box past
  `place['edge']`."""
  root = _place_box(vertices, focal, principal, place['height_px'],
                    place['centre'])
  px = _project(vertices + root, focal, principal)
  low, high = px.min(0), px.max(0)
  extent = high - low
  outside = place['outside']
  shift = {'left': np.array([-outside * extent[0] - low[0], 0.0]),
           'right': np.array([width - 1 + outside * extent[0] - high[0],
                              0.0]),
           'top': np.array([0.0, -outside * extent[1] - low[1]]),
           'bottom': np.array([0.0, height - 1 + outside * extent[1] -
                               high[1]])}[place['edge']]
  return _place_box(vertices, focal, principal, place['height_px'],
                    (low + high) / 2 + shift)


def _truth(person: dict, focal: np.ndarray, principal: np.ndarray,
           width: int, height: int) -> dict:
  """The geometric truth of one placed person (no occlusion yet)."""
  root = person['root_cam']
  joints_cam = person['joints'] + root
  vertices_cam = person['vertices'] + root
  joint_px = _project(joints_cam, focal, principal)
  vertex_px = _project(vertices_cam, focal, principal)
  inside = ((joint_px[:, 0] >= 0) & (joint_px[:, 0] <= width - 1) &
            (joint_px[:, 1] >= 0) & (joint_px[:, 1] <= height - 1))
  low, high = vertex_px.min(0), vertex_px.max(0)
  box = np.concatenate([np.maximum(low, 0), np.minimum(high, [width - 1,
                                                              height - 1])])
  return dict(person, joints_cam=joints_cam, vertices_cam=vertices_cam,
              joint_pixels=joint_px, joint_in_photo=inside,
              height_px=float(high[1] - low[1]),
              box=box, box_full=np.concatenate([low, high]),
              focal=np.asarray(focal, np.float64),
              principal=np.asarray(principal, np.float64))


def is_findable(person: dict) -> bool:
  """Whether a true person counts in the found recall: at least
  `MIN_FINDABLE_HEIGHT_PX` tall, with the head or both shoulders in view
  (inside the photo, not covered by a nearer person)."""
  return bool(person['height_px'] >= MIN_FINDABLE_HEIGHT_PX and
              (person['head_in_view'] or person['shoulders_in_view']))


def _exposure(category: str, image: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
  """float [H, W, 3] in [0, 1] after the category's colour change."""
  if category == 'grayscale':
    grey = image @ np.array([0.299, 0.587, 0.114])
    return np.repeat(grey[..., None], 3, axis=-1)
  if category == 'dark':  # under-exposed: dim, then the sensor's noise
    dim = image * rng.uniform(0.12, 0.3)
    return dim + rng.normal(0.0, 3.0 / 255.0, image.shape)
  if category == 'bright':  # over-exposed: washed out, highlights clipped
    return image * rng.uniform(1.7, 2.5) + rng.uniform(0.05, 0.2)
  return image


def render_photo(seed: int, category: str, index: int, *,
                 size_scale: float = 1.0) -> WildPhoto:
  """Photo `index` of `category` (see the module docstring).

  Deterministic given (seed, category, index). `size_scale` shrinks the
  photos (tests; `SIZES` times it) but phone photos stay `PHONE_SIZE`
  (rendered at `PHONE_RENDER` times it, then upscaled).

  Raises:
    ValueError: an unknown category, or a size_scale whose phone render
      does not upscale to `PHONE_SIZE`.
    RuntimeError: the rasteriser dropped faces.
  """
  if category not in CATEGORIES:
    raise ValueError(f'unknown wild category {category!r}; known: '
                     f'{CATEGORIES}.')
  number = CATEGORIES.index(category)
  rng = np.random.default_rng([seed, number, index])
  count_hint = {'group_3_to_5': int(rng.integers(3, 6)),
                'phone_4000x3000': int(rng.integers(1, 3))}.get(category, 1)
  (width, height), places = _layout(category, rng, count_hint, size_scale)
  fov = math.radians(rng.uniform(50.0, 70.0))
  focal = 0.5 * max(width, height) / math.tan(fov / 2)
  principal = np.array([(width - 1) / 2, (height - 1) / 2])
  image = _background(rng, width, height)
  person_map = np.full((height, width), -1, np.int8)
  people = []
  if places:
    models = _models()
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed),
                                                number), index)
    draws = jax.device_get(_draw_people(jax.random.split(key,
                                                         _CANDIDATES)))
    closeup = category.startswith('closeup')
    elevation = math.radians(rng.uniform(-5.0, 10.0) if closeup else
                             rng.uniform(-5.0, 20.0))
    view = np.asarray(sampler.body_to_camera(jnp.asarray([elevation]))[0])
    rotations = np.array(draws['rotations'])
    yaws = np.where(rng.random(_CANDIDATES) < 0.8,
                    rng.uniform(-60.0, 60.0, _CANDIDATES),
                    rng.uniform(-180.0, 180.0, _CANDIDATES))
    for i in range(_CANDIDATES):  # turn each body to its yaw, then view it
      forward = rotations[i, 0] @ np.array([0.0, 0.0, 1.0])
      turn = math.radians(yaws[i]) - math.atan2(forward[0], forward[2])
      rotations[i, 0] = view @ _yaw_rotation(turn) @ rotations[i, 0]
    posed, standing = jax.device_get(_bodies(
        models, jnp.asarray(rotations, jnp.float32), draws['betas'],
        draws['gender']))
    upright = np.ptp(posed['vertices'][..., 1], axis=-1) >= (
        _MIN_UPRIGHT * standing)
    chosen = np.flatnonzero(upright)[:len(places)]
    if len(chosen) < len(places):
      raise RuntimeError(f'wild: too few upright bodies among '
                         f'{_CANDIDATES} draws ({category} {index}).')
    light = {k: np.asarray(draws[k][chosen[0]]) for k in (
        'light', 'light2', 'ambient', 'diffuse', 'diffuse2',
        'light_colour')}
    for place, i in zip(places, chosen):
      vertices = np.asarray(posed['vertices'][i], np.float64)
      if place['kind'] == 'head':
        root = _place_head(vertices, posed['joints'][i, HEAD],
                           float(standing[i]), focal, principal,
                           place['standing_px'], place['head_px'])
      elif 'edge' in place:
        root = _cut(place, vertices, focal, principal, width, height)
      else:
        root = _place_box(vertices, focal, principal, place['height_px'],
                          place['centre'])
      people.append(_truth({
          'pose': rotations[i].astype(np.float32),
          'betas': np.asarray(draws['betas'][i]),
          'gender': int(draws['gender'][i]),
          'joints': np.asarray(posed['joints'][i], np.float64),
          'jl': np.asarray(posed['jl'][i], np.float64),
          'vertices': vertices, 'root_cam': root,
          'standing_height': float(standing[i]),
          'yaw_deg': float(yaws[i]), 'draw': int(i),
          **({'edge': place['edge']} if 'edge' in place else {})},
          np.array([focal, focal]), principal, width, height))
    people.sort(key=lambda p: -p['root_cam'][2])  # farthest first
    colours = np.asarray(_face_colours(
        models, {k: v[np.array([p['draw'] for p in people])]
                 for k, v in draws.items()},
        jnp.asarray(np.stack([p['vertices_cam'] for p in people]),
                    jnp.float32), light))
    faces = np.asarray(models.faces)
    own = []
    for n, person in enumerate(people):
      face_index = rasterize(person['vertices_cam'], faces, person['focal'],
                             principal, height, width)
      mask = face_index >= 0
      own.append(mask)
      image[mask] = colours[n][face_index[mask]]
      person_map[mask] = n
    for n, person in enumerate(people):
      person.pop('draw')
      person['visible_fraction'] = float((person_map == n).sum() / max(
          own[n].sum(), 1))
      px = np.round(person['joint_pixels']).astype(int)
      inside = person['joint_in_photo']
      rows = np.clip(px[:, 1], 0, height - 1)
      cols = np.clip(px[:, 0], 0, width - 1)
      covered = inside & (person_map[rows, cols] > n)
      person['joint_occluded'] = covered
      in_view = inside & ~covered
      person['head_in_view'] = bool(in_view[HEAD])
      person['shoulders_in_view'] = bool(in_view[LEFT_SHOULDER] and
                                         in_view[RIGHT_SHOULDER])
      person['findable'] = is_findable(person)
  image = _exposure(category, image, rng)
  image = image + rng.normal(0.0, 2.0 / 255.0, image.shape)
  image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
  focal2 = np.array([focal, focal])
  if category == 'phone_4000x3000':
    factor = PHONE_SIZE[0] // width
    if (width * factor, height * factor) != PHONE_SIZE:
      raise ValueError(f'size_scale {size_scale}: a {width} x {height} '
                       f'render does not upscale to {PHONE_SIZE}.')
    image, person_map, focal2, principal, people = _upscale(
        image, person_map, focal2, principal, people, factor)
  return WildPhoto(category=category, index=index, image=image,
                   focal=focal2, principal=principal, people=people,
                   person_map=person_map)


def _upscale(image, person_map, focal, principal, people, factor):
  """A photo and its truth `factor` times larger (bicubic; the person map
  nearest): pixel centres map as u' = factor (u + 0.5) - 0.5."""
  height, width = image.shape[:2]
  big = (width * factor, height * factor)
  image = np.asarray(Image.fromarray(image).resize(big, Image.BICUBIC))
  person_map = np.asarray(Image.fromarray(person_map).resize(
      big, Image.NEAREST))
  focal = focal * factor
  principal = factor * (principal + 0.5) - 0.5
  scaled = []
  for person in people:
    person = dict(person, focal=focal, principal=principal,
                  joint_pixels=factor * (person['joint_pixels'] + 0.5) - 0.5,
                  box=factor * (person['box'] + 0.5) - 0.5,
                  box_full=factor * (person['box_full'] + 0.5) - 0.5,
                  height_px=factor * person['height_px'])
    person['findable'] = is_findable(person)
    scaled.append(person)
  return image, person_map, focal, principal, scaled


def render_wild_set(seed: int = HELD_OUT_SEED, per_category: int = 10,
                    categories: Sequence[str] | None = None, *,
                    empty_photos: int | None = EMPTY_PHOTOS,
                    size_scale: float = 1.0) -> list[WildPhoto]:
  """The wild set: `per_category` photos of each category (`empty_photos`
  of 'empty'; None: `per_category`), in `CATEGORIES` order.

  Args:
    seed: `HELD_OUT_SEED` (reported) or `TUNING_SEED`.
    per_category: photos per category.
    categories: a subset of `CATEGORIES` (None: all).
    empty_photos: photos of the 'empty' category.
    size_scale: `render_photo`'s (1 for the set; smaller for tests).

  Returns:
    `WildPhoto`s.
  """
  categories = CATEGORIES if categories is None else tuple(categories)
  unknown = sorted(set(categories) - set(CATEGORIES))
  if unknown:
    raise ValueError(f'unknown wild categories {unknown}; known: '
                     f'{CATEGORIES}.')
  photos = []
  for category in CATEGORIES:
    if category not in categories:
      continue
    count = (empty_photos if category == 'empty' and
             empty_photos is not None else per_category)
    photos.extend(render_photo(seed, category, i, size_scale=size_scale)
                  for i in range(count))
  return photos


def contact_sheet(photos: Sequence[WildPhoto], path: str, columns: int = 6,
                  tile: int = 240, joints: bool = True) -> str:
  """A PNG grid of photos (each fit in a `tile` square; the true joints
  inside the photo in red, the findable people's boxes in green, the
  others' in grey) for eyeballing the set."""
  sheet = Image.new('RGB', (columns * tile, math.ceil(len(photos) / columns)
                            * (tile + 14)), (255, 255, 255))
  for n, photo in enumerate(photos):
    width, height = photo.size
    scale = tile / max(width, height)
    picture = Image.fromarray(photo.image).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))),
        Image.BILINEAR)
    draw = ImageDraw.Draw(picture)
    for person in photo.people:
      colour = (0, 220, 0) if person['findable'] else (150, 150, 150)
      draw.rectangle(list((person['box'] + 0.5) * scale), outline=colour)
      if joints:
        for (u, v), inside in zip(person['joint_pixels'],
                                  person['joint_in_photo']):
          if inside:
            u, v = (u + 0.5) * scale, (v + 0.5) * scale
            draw.ellipse([u - 1.5, v - 1.5, u + 1.5, v + 1.5],
                         fill=(255, 40, 40))
    x, y = (n % columns) * tile, (n // columns) * (tile + 14)
    sheet.paste(picture, (x, y + 14))
    ImageDraw.Draw(sheet).text(
        (x + 2, y + 1), f'{photo.category} {photo.index} {width}x{height}',
        fill=(0, 0, 0))
  sheet.save(path)
  return path


# ----------------------------------------------------------------------------
# Matching and metrics.


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[N, M] IoU of boxes a [N, 4] and b [M, 4] (x0, y0, x1, y1)."""
  a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
  b = np.asarray(b, np.float64).reshape(-1, 4)[None]
  width = np.clip(np.minimum(a[..., 2], b[..., 2]) -
                  np.maximum(a[..., 0], b[..., 0]), 0, None)
  height = np.clip(np.minimum(a[..., 3], b[..., 3]) -
                   np.maximum(a[..., 1], b[..., 1]), 0, None)
  inter = width * height
  area = lambda x: (np.clip(x[..., 2] - x[..., 0], 0, None) *
                    np.clip(x[..., 3] - x[..., 1], 0, None))
  return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def predicted_box(prediction: dict, principal: np.ndarray,
                  size: tuple[int, int]) -> np.ndarray:
  """[4] the box of a prediction's mesh projected with its root and focal,
  clipped to the (width, height) photo (the detector's box when the mesh
  reaches behind the camera)."""
  vertices = np.asarray(prediction['vertices']) + np.asarray(
      prediction['root_cam'])
  if np.min(vertices[:, 2]) <= 1e-3:
    return np.asarray(prediction['box'], np.float64)
  px = _project(vertices, np.asarray(prediction['focal']), principal)
  width, height = size
  low = np.maximum(px.min(0), 0)
  high = np.minimum(px.max(0), [width - 1, height - 1])
  return np.concatenate([low, high])


def match_people(similarity: np.ndarray,
                 min_similarity: float = MIN_MATCH_IOU
                 ) -> list[tuple[int, int]]:
  """Greedy one-to-one matching, the most similar pair first.

  Args:
    similarity: [P, T] e.g. box IoU of P predictions and T true people.
    min_similarity: pairs below it are never matched.

  Returns:
    (prediction, truth) index pairs.
  """
  similarity = np.asarray(similarity, np.float64)
  if similarity.size == 0:
    return []
  pairs, used_p, used_t = [], set(), set()
  for flat in np.argsort(-similarity, axis=None, kind='stable'):
    p, t = np.unravel_index(flat, similarity.shape)
    if similarity[p, t] < min_similarity:
      break
    if p in used_p or t in used_t:
      continue
    pairs.append((int(p), int(t)))
    used_p.add(p)
    used_t.add(t)
  return pairs


def count_people(pairs: Sequence[tuple[int, int]], num_predictions: int,
                 findable: Sequence[bool]) -> dict[str, int]:
  """The found and false counts of one photo.

  Args:
    pairs: `match_people`'s (prediction, truth) pairs.
    num_predictions: people the predictor returned.
    findable: [T] `is_findable` of each true person.

  Returns:
    findable (true people counted in the recall), found (of them, matched),
    false (predictions matched to no true person; one matched to a person
    too small or without head and shoulders in view is neither found nor
    false).
  """
  matched_truth = {t for _, t in pairs}
  return {'findable': int(np.sum(findable, dtype=int)),
          'found': int(sum(bool(findable[t]) for t in matched_truth)),
          'false': num_predictions - len(pairs)}


def pose_errors(pred_joints: np.ndarray, true_joints: np.ndarray,
                in_photo: np.ndarray) -> dict[str, float]:
  """P1 / P2 of one person (metres), over the joints inside the photo and
  over all 24 (`metrics`' functions and joint sets).

  Args:
    pred_joints, true_joints: [24, 3] joints.
    in_photo: [24] bool, the true joints inside the photo.

  Returns:
    'p1_in' (root-aligned, over the in-photo joints but the root; NaN with
    none), 'p2_in' (Procrustes on and over the in-photo joints; NaN with
    fewer than 3), 'p1_23' (`metrics.JOINTS_23`), 'p2_24'
    (`metrics.JOINTS_24`).
  """
  pred = np.asarray(pred_joints, np.float64)[None]
  true = np.asarray(true_joints, np.float64)[None]
  inside = tuple(int(j) for j in np.flatnonzero(in_photo))
  below_root = tuple(j for j in inside if j != metrics_lib.ROOT[0])
  return {
      'p1_in': (float(metrics_lib.mpjpe(pred, true, joints=below_root)[0])
                if below_root else math.nan),
      'p2_in': (float(metrics_lib.pa_mpjpe(pred, true, joints=inside)[0])
                if len(inside) >= 3 else math.nan),
      'p1_23': float(metrics_lib.mpjpe(pred, true,
                                       joints=metrics_lib.JOINTS_23)[0]),
      'p2_24': float(metrics_lib.pa_mpjpe(pred, true,
                                          joints=metrics_lib.JOINTS_24)[0])}


def gender_label(prediction: dict) -> str:
  """'female', 'male' or another label ('unknown', 'neutral') of a
  prediction: its 'gender_label' when given, else from gender 0 / 1
  (anything else 'unknown')."""
  if 'gender_label' in prediction:
    return str(prediction['gender_label'])
  return {0: 'female', 1: 'male'}.get(int(prediction['gender']), 'unknown')


@jax.jit
def _rest_heights(models, betas, gender):
  rest = jnp.broadcast_to(jnp.eye(3), (betas.shape[0], 24, 3, 3))
  vertices = gendered.posed_body(models, rest, betas, gender)['vertices']
  return jnp.ptp(vertices[..., 1], axis=-1)


def standing_heights(betas: np.ndarray, gender: np.ndarray) -> np.ndarray:
  """[B] standing height (metres: the rest pose's vertical extent) of
  betas [B, 10] and gender [B] (0 female, 1 male, 2 neutral)."""
  betas = jnp.asarray(np.atleast_2d(betas), jnp.float32)
  gender = np.atleast_1d(np.asarray(gender, np.int32))
  heights = np.array(_rest_heights(_models(), betas,
                                   jnp.asarray(np.minimum(gender, 1))))
  neutral = gender > 1
  if neutral.any():
    model = _neutral()
    stacked = bm.stack_body_models([model, model])
    heights[neutral] = np.asarray(_rest_heights(
        stacked, betas[neutral], jnp.zeros(int(neutral.sum()), jnp.int32)))
  return heights


def bone_length_error(pred_jl: np.ndarray, true_jl: np.ndarray) -> float:
  """Mean |length difference| over the 41 JL bones (`jl.bone_lengths`,
  Table 1's 'Bn'), metres; [42, 3] each."""
  return float(np.mean(np.abs(
      np.asarray(jl_lib.bone_lengths(jnp.asarray(pred_jl)[None])) -
      np.asarray(jl_lib.bone_lengths(jnp.asarray(true_jl)[None])))))


def _clip_near(triangle: np.ndarray, near: float) -> np.ndarray:
  """[K, 3] polygon of a camera-frame triangle [3, 3] clipped to z >= near
  (Sutherland-Hodgman against one plane); K = 0, 3 or 4."""
  out = []
  for k in range(3):
    a, b = triangle[k], triangle[(k + 1) % 3]
    if a[2] >= near:
      out.append(a)
    if (a[2] >= near) != (b[2] >= near):
      t = (near - a[2]) / (b[2] - a[2])
      out.append(a + t * (b - a))
  return np.asarray(out).reshape(-1, 3)


def _inside(px: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  """Whether points (u, v) [..., N] lie in triangles px [..., 3, 2] (either
  winding, edges included: the pixel-centre rule)."""
  edges = []
  for k in range(3):
    a, b = px[..., k, :], px[..., (k + 1) % 3, :]
    edges.append((b[..., 0:1] - a[..., 0:1]) * (v - a[..., 1:2]) -
                 (b[..., 1:2] - a[..., 1:2]) * (u - a[..., 0:1]))
  edges = np.stack(edges)
  return np.all(edges >= -1e-9, axis=0) | np.all(edges <= 1e-9, axis=0)


def polygon_silhouette(vertices_cam: np.ndarray, faces: np.ndarray,
                       focal: Any, principal: np.ndarray, height: int,
                       width: int, near: float = 0.01) -> np.ndarray:
  """bool [H, W] mask of a mesh drawn independently of the rasteriser: a
  pixel is set where its centre lies in a front-facing face (counter-
  clockwise seen from outside, as `render` assumes), projected in NumPy
  float64; faces crossing the plane z = `near` are clipped to it (pixel
  (i, j) centred at (j, i), the overlay's convention). Small faces are
  tested all at once against the centres of their 4 x 4 box, the rest one
  by one.

  Args:
    vertices_cam: [V, 3] camera-frame vertices.
    faces: [F, 3] triangles.
    focal: fx or [2]; principal: [2] (pixels).
    height, width: the mask's size.
    near: the near plane (metres).
  """
  vertices_cam = np.asarray(vertices_cam, np.float64)
  faces = np.asarray(faces)
  focal = np.broadcast_to(np.asarray(focal, np.float64), (2,))
  corners = vertices_cam[faces]  # [F, 3, 3]
  normal = np.cross(corners[:, 1] - corners[:, 0],
                    corners[:, 2] - corners[:, 0])
  # Front-facing: the normal points back towards the camera.
  front = np.einsum('fi,fi->f', normal, corners[:, 0]) < 0
  corners = corners[front]
  whole = corners[:, :, 2].min(axis=1) >= near
  triangles = [corners[whole]]
  for polygon in (_clip_near(t, near) for t in corners[~whole]):
    for k in range(1, len(polygon) - 1):  # a fan of the clipped polygon
      triangles.append(polygon[[0, k, k + 1]][None])
  triangles = np.concatenate(triangles)
  px = _project(triangles.reshape(-1, 3), focal, principal).reshape(
      -1, 3, 2)
  low = np.maximum(np.ceil(px.min(axis=1)), 0)
  high = np.minimum(np.floor(px.max(axis=1)), [width - 1, height - 1])
  shown = np.all(high >= low, axis=1)
  px, low, high = px[shown], low[shown].astype(int), high[shown].astype(int)
  mask = np.zeros((height, width), bool)
  small = np.all(high - low < 4, axis=1)
  offsets = np.stack(np.meshgrid(np.arange(4), np.arange(4),
                                 indexing='xy'), -1).reshape(-1, 2)
  cells = low[small][:, None] + offsets  # [N, 16, 2] (column, row)
  keep = np.all(cells <= high[small][:, None], axis=-1) & _inside(
      px[small], cells[..., 0].astype(float), cells[..., 1].astype(float))
  mask[cells[keep][:, 1], cells[keep][:, 0]] = True
  for triangle, (u0, v0), (u1, v1) in zip(px[~small], low[~small],
                                          high[~small]):
    u, v = np.meshgrid(np.arange(u0, u1 + 1), np.arange(v0, v1 + 1))
    inside = _inside(triangle, u.reshape(-1).astype(float),
                     v.reshape(-1).astype(float))
    mask[v.reshape(-1)[inside], u.reshape(-1)[inside]] = True
  return mask


def overlay_silhouette(vertices_cam: np.ndarray, faces: np.ndarray,
                       focal: Any, principal: np.ndarray, height: int,
                       width: int) -> np.ndarray:
  """bool [H, W]: the mask the overlay draws for a mesh
  (`draw.silhouette`)."""
  from smplr_jax.predict import draw  # pylint: disable=g-import-not-at-top
  focal2 = np.broadcast_to(np.asarray(focal, np.float64), (2,))
  return np.asarray(draw.silhouette(vertices_cam, faces, focal2, principal,
                                    height, width), bool)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
  """IoU of two bool masks (1 when both are empty)."""
  union = np.logical_or(a, b).sum()
  return float(np.logical_and(a, b).sum() / union) if union else 1.0


def overlay_size(size: tuple[int, int], max_side: int = 800
                 ) -> tuple[float, tuple[int, int]]:
  """(scale, (width, height)) of the overlay picture of a (width, height)
  photo (`draw.MAX_PICTURE_SIDE` = 800 on its longer side at most)."""
  width, height = size
  scale = min(1.0, max_side / max(width, height))
  return scale, (max(1, round(width * scale)), max(1, round(height * scale)))


def silhouette_iou(prediction: dict, photo: WildPhoto,
                   max_side: int = 800) -> float:
  """IoU of the overlay's mask of a predicted mesh (`overlay_silhouette`)
  and `polygon_silhouette` of the same mesh, at the overlay picture's size
  (longer side `max_side`)."""
  scale, (width, height) = overlay_size(photo.size, max_side)
  vertices = np.asarray(prediction['vertices']) + np.asarray(
      prediction['root_cam'])
  focal = scale * np.broadcast_to(np.asarray(prediction['focal'],
                                             np.float64), (2,))
  principal = scale * (np.asarray(photo.principal) + 0.5) - 0.5
  faces = np.asarray(prediction['faces'])
  return mask_iou(overlay_silhouette(vertices, faces, focal, principal,
                                     height, width),
                  polygon_silhouette(vertices, faces, focal, principal,
                                     height, width))


def evaluate_photo(photo: WildPhoto, predictions: list[dict], *,
                   silhouettes: bool = True) -> dict[str, Any]:
  """One photo's counts and, per matched person, its errors.

  Args:
    photo: a `WildPhoto`.
    predictions: `Predictor.predict_people`'s dicts (vertices, joints,
      jl_body, root_cam, focal, box, faces, betas, gender,
      male_probability, maybe gender_label).
    silhouettes: also compute each prediction's `silhouette_iou`.

  Returns:
    dict: counts (`count_people`), people (one dict per matched pair:
    findable, `pose_errors`' keys, gender_true, gender_label,
    male_probability, height_error, bone_error (metres)), silhouette_iou
    (one per prediction).
  """
  truth = photo.people
  pred_boxes = np.asarray([predicted_box(p, photo.principal, photo.size)
                           for p in predictions]).reshape(-1, 4)
  detector_boxes = np.asarray([p.get('box', np.zeros(4))
                               for p in predictions],
                              np.float64).reshape(-1, 4)
  true_boxes = np.asarray([t['box'] for t in truth]).reshape(-1, 4)
  similarity = np.maximum(box_iou(pred_boxes, true_boxes),
                          box_iou(detector_boxes, true_boxes))
  pairs = match_people(similarity)
  counts = count_people(pairs, len(predictions),
                        [t['findable'] for t in truth])
  people = []
  if pairs:
    heights = standing_heights(
        np.stack([predictions[p]['betas'] for p, _ in pairs]),
        np.asarray([int(predictions[p]['gender']) for p, _ in pairs]))
    for (p, t), height in zip(pairs, heights):
      pred, true = predictions[p], truth[t]
      row = pose_errors(pred['joints'], true['joints'],
                        true['joint_in_photo'])
      row.update(
          findable=bool(true['findable']), gender_true=int(true['gender']),
          gender_label=gender_label(pred),
          male_probability=float(pred['male_probability']),
          height_error=float(height - true['standing_height']),
          bone_error=bone_length_error(pred['jl_body'], true['jl']))
      people.append(row)
  ious = ([silhouette_iou(p, photo) for p in predictions]
          if silhouettes else [])
  return {'counts': counts, 'people': people, 'silhouette_iou': ious}


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, float]:
  """One category's row from `evaluate_photo` results (each maybe with
  'ms'): lengths in mm, shares in %."""
  counts = {k: sum(r['counts'][k] for r in results)
            for k in ('findable', 'found', 'false')}
  people = [p for r in results for p in r['people']]
  ious = [i for r in results for i in r['silhouette_iou']]

  def mean_mm(key):
    values = [p[key] for p in people if not math.isnan(p[key])]
    return 1000 * float(np.mean(values)) if values else math.nan

  known = [p for p in people if p['gender_label'] in ('female', 'male')]
  correct = [p['gender_label'] == ('male' if p['gender_true'] else 'female')
             for p in known]
  confident_wrong = sum(
      (p['male_probability'] > 0.9 and p['gender_true'] == 0) or
      (p['male_probability'] < 0.1 and p['gender_true'] == 1)
      for p in people)
  ms = [r['ms'] for r in results if 'ms' in r]
  return {
      'photos': len(results), 'findable': counts['findable'],
      'found': counts['found'], 'false': counts['false'],
      'recall': (100 * counts['found'] / counts['findable']
                 if counts['findable'] else math.nan),
      'matched': len(people),
      'p1_in': mean_mm('p1_in'), 'p2_in': mean_mm('p2_in'),
      'p1_23': mean_mm('p1_23'), 'p2_24': mean_mm('p2_24'),
      'silhouette_iou': float(np.mean(ious)) if ious else math.nan,
      'silhouette_iou_min': float(np.min(ious)) if ious else math.nan,
      'gender_accuracy': (100 * float(np.mean(correct)) if correct
                          else math.nan),
      'gender_unknown': len(people) - len(known),
      'gender_ece': metrics_lib.expected_calibration_error(
          [p['male_probability'] for p in people],
          [p['gender_true'] == 1 for p in people]),
      'confident_wrong': int(confident_wrong),
      'height_error': (1000 * float(np.mean(np.abs(
          [p['height_error'] for p in people]))) if people else math.nan),
      'bone_error': mean_mm('bone_error'),
      'ms': float(np.median(ms)) if ms else math.nan}


# The table's columns: (key, title, format).
TABLE_COLUMNS = (
    ('photos', 'photos', '{:.0f}'), ('findable', 'people', '{:.0f}'),
    ('recall', 'found %', '{:.0f}'), ('false', 'false people', '{:.0f}'),
    ('p1_in', 'P1 in-photo', '{:.0f}'), ('p2_in', 'P2 in-photo', '{:.0f}'),
    ('p1_23', metrics_lib.metric_name('P1', metrics_lib.JOINTS_23),
     '{:.0f}'),
    ('p2_24', metrics_lib.metric_name('P2', metrics_lib.JOINTS_24),
     '{:.0f}'),
    ('silhouette_iou', 'overlay IoU (mean; min)', None),
    ('gender_accuracy', 'gender %', '{:.0f}'),
    ('gender_unknown', 'unknown', '{:.0f}'),
    ('gender_ece', 'ECE', '{:.2f}'),
    ('confident_wrong', 'wrong > 0.9', '{:.0f}'),
    ('height_error', 'height err', '{:.0f}'),
    ('bone_error', 'bone err', '{:.0f}'), ('ms', 'ms / photo', '{:.0f}'))


def format_table(rows: dict[str, dict[str, float]]) -> str:
  """Markdown table of `summarise` rows (mm, %)."""
  lines = ['| category | ' + ' | '.join(t for _, t, _ in TABLE_COLUMNS) +
           ' |', '|---|' + '---:|' * len(TABLE_COLUMNS)]
  for name, row in rows.items():
    cells = []
    for key, _, fmt in TABLE_COLUMNS:
      value = row.get(key, math.nan)
      if key == 'silhouette_iou':
        cells.append('—' if math.isnan(value) else
                     f'{value:.3f}; {row["silhouette_iou_min"]:.3f}')
      else:
        cells.append('—' if isinstance(value, float) and math.isnan(value)
                     else fmt.format(value))
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)
