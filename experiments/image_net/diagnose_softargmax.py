r"""Why the paper's loss learns slowly at CPU scale: the soft-argmax floor.

  python -m experiments.image_net.diagnose_softargmax

The hourglass reads its points with a soft-argmax: the mean voxel under the
softmax of a channel's logits over the whole volume. The paper trains the
logits with a per-voxel sigmoid cross-entropy against a Gaussian of peak
0.064. That loss is minimised at logit(target), whose softmax is the
Gaussian itself, but a background voxel's gradient, sigmoid(x) - t ~ e^x,
vanishes once its logit is a few units below zero, long before the
background is low enough for the soft-argmax: thousands of background voxels
at a flat floor still hold most of the softmax mass and pull the point
toward the cube's centre.

This script measures that on the CPU config's volume (32 x 32 x 16, 2.5 m
cube), for a point 60 cm from the centre (a wrist), with logits
`max(logit(target), peak - k)` (the Gaussian peak, the background at k
units below it):

  * the share of the softmax mass on the background floor and the resulting
    soft-argmax error (mm), for several k;
  * the per-voxel gradient of each loss on a background voxel at that floor:
    the sigmoid cross-entropy's (mean over voxels, as in
    `heatmaps.image_net_loss`), against the softmax cross-entropy's
    (`point_loss='softmax_ce'`), which trains the softmax itself.

Pure arithmetic on the definitions of `smplr_jax.nets.heatmaps`; a second or two.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.nets import heatmaps

GRID = (32, 32, 16)  # H, W, D of the CPU config (128 px input)
CUBE = 2.5


def floor_logits(point: np.ndarray, gap: float) -> jnp.ndarray:
  """[1, H, W, D, 41] logits: logit(Gaussian target), floored `gap` below
  the peak, for one point (all 41 channels the same point)."""
  jl = np.zeros((1, 42, 3), np.float32)
  jl[0, 1:] = point
  target = heatmaps.point_targets(jnp.asarray(jl), CUBE, GRID)
  logit = jnp.log(target) - jnp.log1p(-target)
  peak = jnp.max(logit)
  return jnp.maximum(logit, peak - gap)


def main() -> None:
  point = np.array([0.6, 0.0, 0.0], np.float32)  # 60 cm right of the root
  jl = np.zeros((1, 42, 3), np.float32)
  jl[0, 1:] = point
  jl = jnp.asarray(jl)
  gaussians = heatmaps.axis_gaussians(jl, CUBE, GRID)
  num_voxels = np.prod(GRID)
  print(f'volume {GRID}, {num_voxels} voxels, point at 600 mm from the '
        'centre')
  print(f'{"gap k":>6} {"floor share":>12} {"soft-argmax error":>18} '
        f'{"d sigmoid-CE/dx":>16} {"d softmax-CE/dx":>16}')

  def sigmoid_ce(logits):
    limbs = jnp.zeros(logits.shape[:4] + (heatmaps.NUM_LIMBS,))
    full = jnp.concatenate([logits, jnp.zeros_like(limbs)], axis=-1)
    ce = heatmaps._mean_cross_entropy  # pylint: disable=protected-access
    return jnp.mean(ce(full, gaussians, limbs)[:, :heatmaps.NUM_POINT_CHANNELS])

  def softmax_ce(logits):
    ce = heatmaps._softmax_cross_entropy  # pylint: disable=protected-access
    return jnp.mean(ce(logits, gaussians))

  corner = (0, 0, 0, 0)  # a background voxel far from the point
  for gap in (3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0):
    logits = floor_logits(point, gap)
    probs = jax.nn.softmax(logits[..., 0].reshape(-1))
    floor = jnp.min(logits[..., 0])
    share = float(jnp.sum(jnp.where(logits[..., 0].reshape(-1) <= floor + 1e-6,
                                    probs, 0.0)))
    predicted = heatmaps.predict_jl(logits, CUBE)[0, 1]
    error = float(jnp.linalg.norm(predicted - point)) * 1000.0
    grad_sigmoid = float(jax.grad(sigmoid_ce)(logits)[corner + (0,)])
    grad_softmax = float(jax.grad(softmax_ce)(logits)[corner + (0,)])
    print(f'{gap:6.0f} {100 * share:11.1f}% {error:15.0f} mm '
          f'{grad_sigmoid:16.2e} {grad_softmax:16.2e}')
  print('The sigmoid CE gradient on a floor voxel shrinks like e^-k (and is '
        'divided by the voxel count); the softmax CE gradient is the voxel\'s '
        'softmax mass, which stays as large as its share of the error.')


if __name__ == '__main__':
  main()
