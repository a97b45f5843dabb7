r"""Draws a grid of augmented training crops with their 2D joints and landmarks.

  python -m experiments.tools.draw_augmentations --output=/tmp/augmentations.png

Each row is one record of the synthetic renderer (`smplr_jax.data.synthetic` on
the default body model); column 0 is its plain root-centred crop
(`train=False`), the other columns are augmented versions (the seeds of
epochs 1, 2, ... of `smplr_jax.data.input_pipeline`: zoom, in-plane rotation,
flip, background, occluders, colour noise, per `augment_config()`). Drawn
on top: the 24 joints (discs) and 18 landmarks (squares) from `jl_crop`,
left side blue / cyan, right side red / orange, centre green / yellow, bones
in white. A correct pipeline puts every marker on the body part it names,
and a flipped crop (mirrored picture) still has blue markers on the body's
left.

`--source=stick` draws procedurally rendered stick figures instead (no
renderer needed). Background and occluder images: `--backgrounds=<folder>`
(jpg/png), else the renderer's photographs (`synthetic.load_backgrounds`)
for the synthetic source and random colour fields for stick figures.
Runs in well under a minute on a CPU.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from smplr_jax import camera
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment

LEFT, RIGHT, CENTRE = 0, 1, 2
JOINT_COLOURS = ((40, 110, 255), (255, 50, 50), (40, 210, 60))
LANDMARK_COLOURS = ((0, 230, 230), (255, 160, 0), (240, 230, 20))


def point_sides() -> np.ndarray:
  """[42] LEFT / RIGHT / CENTRE of each JL point, from its name."""
  return np.array([LEFT if 'left' in n else RIGHT if 'right' in n else CENTRE
                   for n in jl_lib.POINT_NAMES])


def stick_figure_record(jl_cam: np.ndarray, *, image_size: int = 256,
                        focal: float = 300.0, seed: int = 0,
                        pose: np.ndarray | None = None,
                        betas: np.ndarray | None = None,
                        gender: int = -1) -> dict[str, np.ndarray]:
  """A record (image-data contract) with a stick figure drawn for `jl_cam`.

  Bones are discs swept along each JL bone (radius 5 cm at the point's
  depth) on a random smooth background; the mask is the figure. Pixel
  convention as the renderer's (OpenCV, centres at integers).

  Args:
    jl_cam: [42, 3] camera-frame points (metres).
    image_size: the frame's side (pixels).
    focal: fx = fy (pixels); the principal point is the frame's centre.
    seed: seeds the colours.
    pose, betas, gender: SMPL fields to carry (zeros / -1 when None).

  Returns:
    dict: image uint8 [N, N, 3], mask uint8 [N, N], and the other record keys.
  """
  rng = np.random.default_rng(seed)
  n = image_size
  principal = camera.principal_point((n, n))
  uv = focal * jl_cam[:, :2] / jl_cam[:, 2:] + principal
  radius = focal * 0.05 / jl_cam[:, 2]
  cols = np.arange(n, dtype=np.float32)[None, :]
  rows = np.arange(n, dtype=np.float32)[:, None]
  mask = np.zeros((n, n), bool)
  shade = np.zeros((n, n), np.float32)
  for child, parent in enumerate(jl_lib.JL_PARENTS):
    if parent < 0:
      continue
    a, b = uv[parent], uv[child]
    ab = b - a
    t = ((cols - a[0]) * ab[0] + (rows - a[1]) * ab[1]) / max(ab @ ab, 1e-9)
    t = np.clip(t, 0.0, 1.0)
    d2 = (cols - a[0] - t * ab[0]) ** 2 + (rows - a[1] - t * ab[1]) ** 2
    r = radius[parent] + t * (radius[child] - radius[parent])
    inside = d2 <= r ** 2
    mask |= inside
    shade = np.where(inside, 0.6 + 0.4 * (child % 5) / 4, shade)
  low = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
  ramp = np.linspace(0, 3, n, dtype=np.float32)
  i0 = np.minimum(ramp.astype(int), 2)
  f = ramp - i0
  rows_bg = low[i0] * (1 - f)[:, None, None] + low[i0 + 1] * f[:, None, None]
  background = (rows_bg[:, i0] * (1 - f)[None, :, None] +
                rows_bg[:, i0 + 1] * f[None, :, None])
  colour = rng.uniform(80, 255, 3).astype(np.float32)
  image = np.where(mask[..., None], shade[..., None] * colour, background)
  return {
      'image': np.clip(image, 0, 255).astype(np.uint8),
      'mask': mask.astype(np.uint8),
      'has_mask': np.int32(1),
      'jl_cam': np.asarray(jl_cam, np.float32),
      'jl_valid': np.ones(jl_lib.NUM_POINTS, np.float32),
      'focal': np.array([focal, focal], np.float32),
      'principal': principal.astype(np.float32),
      'pose': (np.zeros((24, 3), np.float32) if pose is None
            else np.asarray(pose, np.float32)),
      'betas': (np.zeros(10, np.float32) if betas is None
             else np.asarray(betas, np.float32)),
      'gender': np.int32(gender),
      'has_smpl': np.int32(pose is not None)}


def _stick_records(num: int, seed: int, image_size: int) -> list[dict]:
  """Stick figures of sampled default-model bodies, facing the camera."""
  import jax  # pylint: disable=g-import-not-at-top

  from smplr_jax.data import sampler  # pylint: disable=g-import-not-at-top
  models = gendered.load_gendered_models()
  bodies = sampler.sample_jl(jax.random.PRNGKey(seed), models, num)
  rng = np.random.default_rng(seed)
  flip_yz = np.diag([1.0, -1.0, -1.0])  # body frame -> camera frame
  records = []
  for i in range(num):
    jl = np.asarray(bodies['jl'][i], np.float64) @ flip_yz.T
    root = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2),
                     rng.uniform(3.5, 5.0)])
    records.append(stick_figure_record(jl + root, image_size=image_size,
                                       seed=seed + i))
  return records


def _synthetic_records(num: int, seed: int) -> list[dict]:
  # pylint: disable=g-import-not-at-top
  from smplr_jax.data import synthetic
  models = gendered.load_gendered_models()
  return list(synthetic.render_examples(models, num, seed))


def _load_backgrounds(folder: str | None,
                      source: str) -> list[np.ndarray] | None:
  """Images of `folder`; else the renderer's photos (synthetic source)."""
  if not folder:
    if source != 'synthetic':
      return None
    # pylint: disable=g-import-not-at-top
    from smplr_jax.data import synthetic
    photos = synthetic.load_backgrounds(256, scales=(1.0,))
    return [image[:h, :w] for image, (h, w) in zip(photos.images,
                                                   photos.sizes)]
  paths = sorted(p for p in pathlib.Path(folder).iterdir()
                 if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))
  if not paths:
    raise ValueError(f'{folder}: no .jpg/.png images for --backgrounds.')
  return [np.asarray(Image.open(p).convert('RGB')) for p in paths]


def draw_example(example: dict[str, np.ndarray], scale: int = 1) -> Image.Image:
  """The crop of one processed example with its JL drawn (PIL image)."""
  image = np.clip(example['image'] * 255.0 + 0.5, 0, 255).astype(np.uint8)
  picture = Image.fromarray(image)
  if scale != 1:
    picture = picture.resize((picture.width * scale, picture.height * scale),
                             Image.NEAREST)
  draw = ImageDraw.Draw(picture)
  # jl_crop: crop pixel (r, c) covers [c, c + 1): that is also PIL's drawing
  # convention, so points scale by `scale` without an offset.
  uv = example['jl_crop'][:, :2] * scale
  valid = example['jl_valid'] > 0
  sides = point_sides()
  for child, parent in enumerate(jl_lib.JL_PARENTS):
    if parent >= 0 and valid[child] and valid[parent]:
      width = 2 if child < jl_lib.NUM_JOINTS else 1
      draw.line([tuple(uv[parent]), tuple(uv[child])],
                fill=(255, 255, 255), width=width)
  r = 2.5 * max(1, scale // 2) + 0.5
  for i in range(jl_lib.NUM_POINTS):
    if not valid[i]:
      continue
    box = [uv[i, 0] - r, uv[i, 1] - r, uv[i, 0] + r, uv[i, 1] + r]
    if i < jl_lib.NUM_JOINTS:
      draw.ellipse(box, fill=JOINT_COLOURS[sides[i]], outline=(0, 0, 0))
    else:
      draw.rectangle(box, fill=LANDMARK_COLOURS[sides[i]], outline=(0, 0, 0))
  return picture


def draw_grid(records: Sequence[dict], columns: int, crop_size: int,
              seed: int, backgrounds=None, scale: int = 1) -> Image.Image:
  """Rows: records; column 0 the plain crop, then augmented versions."""
  config = augment.augment_config()
  config.crop_size = crop_size
  cell = crop_size * scale
  pad = 4
  legend = 18
  grid = Image.new('RGB', (columns * (cell + pad) + pad,
                           len(records) * (cell + pad) + pad + legend),
                   (30, 30, 30))
  for row, record in enumerate(records):
    for column in range(columns):
      example = augment.process_example(
          record, config, (seed, column, row), train=column > 0,
          backgrounds=backgrounds)
      grid.paste(draw_example(example, scale),
                 (pad + column * (cell + pad), pad + row * (cell + pad)))
  draw = ImageDraw.Draw(grid)
  x, y = pad, grid.height - legend + 2
  items = (('joint L', JOINT_COLOURS[LEFT]), ('joint R', JOINT_COLOURS[RIGHT]),
           ('joint C', JOINT_COLOURS[CENTRE]),
           ('landmark L', LANDMARK_COLOURS[LEFT]),
           ('landmark R', LANDMARK_COLOURS[RIGHT]),
           ('landmark C', LANDMARK_COLOURS[CENTRE]),
           ('| column 0: plain crop', None))
  for text, colour in items:
    if colour is not None:
      draw.rectangle([x, y + 2, x + 9, y + 11], fill=colour)
      x += 12
    draw.text((x, y), text, fill=(230, 230, 230))
    x += 7 * len(text) + 10
  return grid


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output', required=True, help='PNG path to write.')
  parser.add_argument('--rows', type=int, default=4)
  parser.add_argument('--columns', type=int, default=4)
  parser.add_argument('--crop_size', type=int, default=256)
  parser.add_argument('--scale', type=int, default=1,
                      help='integer upscaling of each crop for drawing')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--source', choices=('synthetic', 'stick'),
                      default='synthetic')
  parser.add_argument('--backgrounds', default=None,
                      help='folder of background/occluder images')
  args = parser.parse_args(argv)
  if args.source == 'synthetic':
    records = _synthetic_records(args.rows, args.seed)
  else:
    records = _stick_records(args.rows, args.seed, 256)
  grid = draw_grid(records, args.columns, args.crop_size, args.seed,
                   _load_backgrounds(args.backgrounds, args.source),
                   args.scale)
  output = pathlib.Path(args.output)
  output.parent.mkdir(parents=True, exist_ok=True)
  grid.save(output)
  print(f'wrote {output} ({grid.width}x{grid.height})')


if __name__ == '__main__':
  main()
