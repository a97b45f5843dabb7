r"""Draws a trained hourglass's JL on test crops: truth | prediction pairs.

    python -m experiments.image_net.draw_predictions \
        --workdir=workdirs/image_net/cpu --output=docs/hourglass_predictions.png

Each pair shows the plain test crop with the ground-truth JL (left) and the
last stack's soft-argmax projected onto the crop (right), with the point's
3D error in the caption (mean over the 41 non-root points, mm).
"""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

from experiments.tools import draw_augmentations
from smplr_jax.data import input_pipeline
from smplr_jax.nets import heatmaps, weights_io
from smplr_jax.training.tasks import image_net as image_net_task

_WORKDIR = flags.DEFINE_string('workdir', None, 'A trained hourglass run.')
_OUTPUT = flags.DEFINE_string('output', None, 'PNG to write.')
_NUM = flags.DEFINE_integer('num_examples', 8, 'Test examples to draw.')
_COLUMNS = flags.DEFINE_integer('columns', 4, 'Pairs per row.')
flags.mark_flags_as_required(['workdir', 'output'])


def cube_to_crop_pixels(jl_cube: np.ndarray, crop_size: int,
                        cube_size: float) -> np.ndarray:
  """[N, 42, 3] cube-frame JL -> crop pixels (u, v) and relative depth.

  Crop pixels follow the voxel convention (pixel c covers [c, c + 1)), so
  this is the hourglass's metres -> voxels map on an S x S grid.
  """
  uv = heatmaps.metres_to_voxels(jnp.asarray(jl_cube), cube_size,
                                 (crop_size, crop_size, 1))[..., :2]
  return np.concatenate([np.asarray(uv), jl_cube[..., 2:]], axis=-1)


def main(argv: Sequence[str]) -> None:
  del argv
  config, variables, step = weights_io.load_trained_variables(
      _WORKDIR.value)
  task = image_net_task.ImageNetTask(config)
  size, cube = config.input_size, config.cube_size
  batch = next(input_pipeline.make_iterator(
      task.sources['test'], config.augment, _NUM.value, config.seed,
      train=False, shuffle=False, num_epochs=1, drop_remainder=False,
      num_threads=0))
  pred_cube = np.asarray(task.predict_cube(variables, batch['image']))
  errors = np.linalg.norm(pred_cube - batch['jl_cube'], axis=-1)[:, 1:]
  scale = max(1, 256 // size)
  cell, pad, caption = size * scale, 4, 14
  columns = _COLUMNS.value
  rows = -(-_NUM.value // columns)
  grid = Image.new('RGB', (columns * (2 * cell + 3 * pad), rows *
                           (cell + caption + pad) + pad), (30, 30, 30))
  draw = ImageDraw.Draw(grid)
  for i in range(_NUM.value):
    row, column = divmod(i, columns)
    x0 = column * (2 * cell + 3 * pad) + pad
    y0 = row * (cell + caption + pad) + pad
    example = {k: batch[k][i] for k in ('image', 'jl_crop', 'jl_valid')}
    grid.paste(draw_augmentations.draw_example(example, scale), (x0, y0))
    example['jl_crop'] = cube_to_crop_pixels(pred_cube[i], size, cube)
    grid.paste(draw_augmentations.draw_example(example, scale),
               (x0 + cell + pad, y0))
    draw.text((x0, y0 + cell + 1),
              f'truth | prediction: {1000 * errors[i].mean():.0f} mm',
              fill=(230, 230, 230))
  grid.save(_OUTPUT.value)
  print(f'{_OUTPUT.value}: {_NUM.value} test examples of {_WORKDIR.value} '
        f'(checkpoint step {step}); mean error '
        f'{1000 * errors.mean():.1f} mm')


if __name__ == '__main__':
  app.run(main)
