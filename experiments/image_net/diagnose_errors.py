r"""Where an image network's JL error is: per point, in the image plane and
in depth; the body's heading; and whether another soft-argmax readout helps.

    python -m experiments.image_net.diagnose_errors \
        [--weights=third_party/weights/image_net] [--num=384] [--seed=7]

Renders `--num` fresh bodies (`synthetic.render_examples`, seed `--seed`,
plain crops: no augmentation), predicts with the exported (or workdir)
weights and prints, in mm, root-relative in the camera frame (true root):

  * MPJPE, and per point the xy (image-plane) and z (depth) errors;
  * the heading error: the angle of the left-to-right hip vector in the
    x-z plane, predicted against true, per true-heading bin;
  * MPJPE of other readouts of the same logits: the softmax sharpened
    (logits x beta) and a soft-argmax restricted to a window around the
    peak (radius r voxels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from smplr_jax import cli, crop
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment, synthetic
from smplr_jax.nets import heatmaps, weights_io
from smplr_jax.training.tasks import image_net as image_net_task

_WEIGHTS = flags.DEFINE_string('weights', 'third_party/weights/image_net',
                               'Exported folder or training workdir.')
_NUM = flags.DEFINE_integer('num', 384, 'Renders to evaluate.')
_SEED = flags.DEFINE_integer('seed', 7, 'Render seed (not the test split).')


def heading_degrees(jl: np.ndarray) -> np.ndarray:
  """[N] angle (degrees) of left hip - right hip in the camera x-z plane."""
  hips = jl[:, 1] - jl[:, 2]
  return np.degrees(np.arctan2(hips[:, 2], hips[:, 0]))


def local_readout(logits: np.ndarray, radius: int,
                  cube_size: float) -> np.ndarray:
  """Soft-argmax within `radius` voxels of each channel's peak."""
  b, h, w, d, c = logits.shape
  peak = logits.reshape(b, -1, c).argmax(axis=1)  # [B, C]
  iy, ix, iz = np.unravel_index(peak, (h, w, d))
  yy, xx, zz = np.meshgrid(np.arange(h), np.arange(w), np.arange(d),
                           indexing='ij')

  def near(grid, index):  # [1, H, W, D, 1] vs [B, 1, 1, 1, C]
    return np.abs(grid[None, ..., None] -
                  index[:, None, None, None, :]) <= radius

  window = near(yy, iy) & near(xx, ix) & near(zz, iz)
  return np.asarray(heatmaps.predict_jl(
      jnp.where(window, logits, -1e9), cube_size))


def main(argv):
  del argv
  config, variables = weights_io.load_variables(_WEIGHTS.value)
  config.progress_bar = False
  task = image_net_task.ImageNetTask(config)
  records = synthetic.render_examples(gendered.load_gendered_models(),
                                      _NUM.value, _SEED.value, start=0)
  crop_config = augment.augment_config()
  crop_config.crop_size = config.input_size
  examples = [augment.process_example(r, crop_config, (_SEED.value, i),
                                      train=False)
              for i, r in enumerate(records)]
  crops = np.stack([e['image'] for e in examples])
  truth = np.stack([e['jl_cam'] for e in examples])
  root = truth[:, 0]
  gt = truth - root[:, None]
  logits_fn = jax.jit(lambda v, x: task.eval_net.apply(v, x, train=False)[-1])
  logits = np.concatenate([np.asarray(logits_fn(variables, crops[i:i + 64]))
                           for i in range(0, len(crops), 64)])

  def errors(pred_cube):  # [N, 42] mm
    pred = np.asarray(crop.cube_to_root_relative(pred_cube, root))
    return pred, np.linalg.norm(pred - gt, axis=-1) * 1000

  pred, per_point = errors(heatmaps.predict_jl(jnp.asarray(logits),
                                               config.cube_size))
  print(f'{len(crops)} renders, MPJPE {per_point[:, 1:].mean():.1f} mm')
  names = list(jl_lib.JOINT_NAMES) + list(jl_lib.LANDMARK_NAMES)
  xy = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1).mean(0) * 1000
  z = np.abs(pred[..., 2] - gt[..., 2]).mean(0) * 1000
  print('point              xy mm    z mm')
  for i in range(1, jl_lib.NUM_POINTS):
    print(f'{names[i]:<18} {xy[i]:6.1f}  {z[i]:6.1f}')

  true_heading, pred_heading = heading_degrees(gt), heading_degrees(pred)
  delta = np.abs((pred_heading - true_heading + 180) % 360 - 180)
  print(f'heading error: median {np.median(delta):.1f} deg, '
        f'{np.mean(delta > 90) * 100:.0f}% over 90 deg')
  edges = np.linspace(-180, 180, 9)
  for low, high in zip(edges[:-1], edges[1:]):
    inside = (true_heading >= low) & (true_heading < high)
    if inside.any():
      print(f'  true heading {low:5.0f}..{high:4.0f}: n={inside.sum():3d} '
            f'MPJPE {per_point[inside, 1:].mean():6.1f}, median heading '
            f'error {np.median(delta[inside]):5.1f} deg')

  for beta in (1.5, 2.0, 3.0):
    _, e = errors(heatmaps.predict_jl(jnp.asarray(logits) * beta,
                                      config.cube_size))
    print(f'readout: logits x {beta}: MPJPE {e[:, 1:].mean():.1f} mm')
  for radius in (1, 2, 3, 5):
    _, e = errors(local_readout(logits, radius, config.cube_size))
    print(f'readout: local soft-argmax, radius {radius}: MPJPE '
          f'{e[:, 1:].mean():.1f} mm')


if __name__ == '__main__':
  cli.run(main)
