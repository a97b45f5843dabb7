"""Volumetric targets, loss and soft-argmax readout of the stacked hourglass.

SMPLR's image network (paper Sec. 3.3, `docs/paper_facts.md`) predicts, per
stack, a volume of logits `[B, H, W, D, C]` over a cube of side `cube_size`
(2.5 m) centred on the root. Channels: C = 45 = 41 JL points (all but the root, which
is the cube's centre) followed by 4 limbs (`LIMBS`).

Conventions (shared by targets and readout):
  * Points are in the cube frame (`jl_cube`, metres): x along image columns,
    y along image rows, z = depth minus root depth; the root is at 0.
  * Volume axes: 1 = rows (y, size H), 2 = columns (x, size W), 3 = depth
    (z, size D). Continuous voxel coordinates are kept in point order
    (x, y, z): `v = (p / cube_size + 0.5) * (W, H, D)`.
  * Voxel index i covers [i, i + 1) in continuous coordinates; its centre is
    i + 0.5. A point at the cube's centre (the root) sits on a voxel corner.
  * Point targets are the authors' unnormalised isotropic Gaussian of the
    voxel-unit distance d from the voxel centre to the point, sigma = 1:
    `POINT_PEAK * exp(-d^2 / 2)` with `POINT_PEAK = (2 pi)^(-3/2)` (the
    authors' peak ~0.064). It factorises into three 1-D Gaussians, so the
    loss never materialises the 41-channel target volume (`point_targets`
    does, for inspection and tests).
  * Limb targets: for each bone (segment between consecutive points of a
    limb) `softmax over the volume of 1 / (1 + d^2)`, d the voxel-unit
    distance from the voxel centre to the segment; a limb is the voxel-wise
    max over its bones. Values are tiny (~e / (H W D)), as in the authors'
    code.

Loss: sigmoid cross-entropy with logits, mean over voxels and valid
channels, summed over stacks. Since `ce(x, t) = softplus(x) - t x` is linear
in the target, the point part of `sum(t x)` is a separable contraction.

Readout (`predict_jl`): 3-D soft-argmax of the logits (softmax over the
volume per channel, expected voxel centre), mapped back to metres; it is
differentiable. Soft-argmax of a *target* needs logits: `log(target)` of a
point's Gaussian target soft-argmaxes back to the point (the softmax of a
log-Gaussian is the discretely sampled Gaussian, whose mean is the point up
to ~1e-8 voxel away from the cube's border).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp

from smplr_jax.body import jl as jl_lib

NUM_POINT_CHANNELS = jl_lib.NUM_POINTS - 1  # 41: every JL point but the root


def _chain(*names: str) -> tuple[int, ...]:
  return tuple(jl_lib.POINT_NAMES.index(n) for n in names)


# Limb channels 41..44: chains of JL points whose consecutive pairs are bones.
LIMBS = (
    ('left_arm', _chain('left_collar', 'left_shoulder', 'left_elbow',
                        'left_wrist', 'left_hand')),
    ('right_arm', _chain('right_collar', 'right_shoulder', 'right_elbow',
                         'right_wrist', 'right_hand')),
    ('left_leg', _chain('left_hip', 'left_knee', 'left_ankle', 'left_foot')),
    ('right_leg', _chain('right_hip', 'right_knee', 'right_ankle',
                         'right_foot')),
)
NUM_LIMBS = len(LIMBS)
NUM_CHANNELS = NUM_POINT_CHANNELS + NUM_LIMBS  # 45

# Peak of a point target: the 3-D normal density's, not renormalised.
POINT_PEAK = (2 * math.pi) ** -1.5


def _bones() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
  """(start point, end point, limb index) of the 14 limb bones."""
  starts, ends, limbs = [], [], []
  for limb, (_, chain) in enumerate(LIMBS):
    for a, b in itertools.pairwise(chain):
      starts.append(a)
      ends.append(b)
      limbs.append(limb)
  return tuple(starts), tuple(ends), tuple(limbs)


def grid_shape_of(volume: jnp.ndarray) -> tuple[int, int, int]:
  """(H, W, D) of a volume [B, H, W, D, C] (or a stack [S, B, H, W, D, C])."""
  if volume.ndim not in (5, 6):
    raise ValueError('expected a volume [B, H, W, D, C] or a stack of them, '
                     f'got shape {volume.shape}.')
  return tuple(volume.shape[-4:-1])


def metres_to_voxels(points: jnp.ndarray, cube_size: float,
                     grid_shape: Sequence[int]) -> jnp.ndarray:
  """Cube-frame points (metres) -> continuous voxel coordinates.

  Args:
    points: [..., 3] (x, y, z) in metres, cube frame.
    cube_size: side of the cube (metres).
    grid_shape: (H, W, D) of the volume.

  Returns:
    [..., 3] voxel coordinates (x in [0, W), y in [0, H), z in [0, D) inside
    the cube); the centre of voxel index i is i + 0.5.
  """
  h, w, d = grid_shape
  sizes = jnp.asarray([w, h, d], points.dtype)
  return (points / cube_size + 0.5) * sizes


def voxels_to_metres(voxels: jnp.ndarray, cube_size: float,
                     grid_shape: Sequence[int]) -> jnp.ndarray:
  """Inverse of `metres_to_voxels`: [..., 3] voxel coords -> metres."""
  h, w, d = grid_shape
  sizes = jnp.asarray([w, h, d], voxels.dtype)
  return (voxels / sizes - 0.5) * cube_size


def _centres(n: int, dtype=jnp.float32) -> jnp.ndarray:
  return jnp.arange(n, dtype=dtype) + 0.5


def axis_gaussians(jl_cube: jnp.ndarray, cube_size: float,
                   grid_shape: Sequence[int]):
  """The 1-D factors of the 41 point targets.

  `point_targets[b, h, w, d, c] == POINT_PEAK * gy[b, h, c] * gx[b, w, c] *
  gz[b, d, c]` with each factor `exp(-(i + 0.5 - v)^2 / 2)`.

  Args:
    jl_cube: [B, 42, 3] JL in the cube frame (metres); point 0 is skipped.
    cube_size: cube side (metres).
    grid_shape: (H, W, D).

  Returns:
    (gy [B, H, 41], gx [B, W, 41], gz [B, D, 41]).
  """
  jl_lib.check_jl(jl_cube, 'jl_cube')
  h, w, d = grid_shape
  voxels = metres_to_voxels(jl_cube[:, 1:].astype(jnp.float32), cube_size,
                            grid_shape)  # [B, 41, 3]

  def gauss(n, coord):  # coord [B, 41] -> [B, n, 41]
    return jnp.exp(-0.5 * jnp.square(_centres(n)[None, :, None] -
                                     coord[:, None, :]))

  return (gauss(h, voxels[..., 1]), gauss(w, voxels[..., 0]),
          gauss(d, voxels[..., 2]))


def point_targets(jl_cube: jnp.ndarray, cube_size: float,
                  grid_shape: Sequence[int]) -> jnp.ndarray:
  """Gaussian targets of the 41 non-root points.

  Args:
    jl_cube: [B, 42, 3] cube-frame JL (metres).
    cube_size: cube side (metres).
    grid_shape: (H, W, D).

  Returns:
    [B, H, W, D, 41] `POINT_PEAK * exp(-d^2 / 2)`, d the voxel-unit distance
    between the voxel centre and the point.
  """
  gy, gx, gz = axis_gaussians(jl_cube, cube_size, grid_shape)
  return POINT_PEAK * jnp.einsum('bhc,bwc,bdc->bhwdc', gy, gx, gz)


def segment_distances_squared(starts: jnp.ndarray, ends: jnp.ndarray,
                              grid_shape: Sequence[int]) -> jnp.ndarray:
  """Squared distance of every voxel centre to line segments (voxel units).

  Args:
    starts: [B, K, 3] segment starts, voxel coordinates (x, y, z).
    ends: [B, K, 3] segment ends.
    grid_shape: (H, W, D).

  Returns:
    [B, K, H, W, D]; a zero-length segment gives the distance to its point.
  """
  h, w, d = grid_shape
  edge = ends - starts  # [B, K, 3]
  length2 = jnp.sum(edge * edge, axis=-1)
  # Relative centre coordinates, one broadcastable array per axis.
  rx = _centres(w)[None, None, None, :, None] - starts[..., 0, None, None, None]
  ry = _centres(h)[None, None, :, None, None] - starts[..., 1, None, None, None]
  rz = _centres(d)[None, None, None, None, :] - starts[..., 2, None, None, None]
  ex, ey, ez = (edge[..., i, None, None, None] for i in range(3))
  safe = jnp.where(length2 > 0, length2, 1.0)[..., None, None, None]
  t = jnp.clip((rx * ex + ry * ey + rz * ez) / safe, 0.0, 1.0)
  return (jnp.square(rx - t * ex) + jnp.square(ry - t * ey) +
          jnp.square(rz - t * ez))


def limb_targets(jl_cube: jnp.ndarray, cube_size: float,
                 grid_shape: Sequence[int]) -> jnp.ndarray:
  """Limb targets: per bone softmax over the volume of 1 / (1 + d^2), max
  over the limb's bones.

  Args:
    jl_cube: [B, 42, 3] cube-frame JL (metres).
    cube_size: cube side (metres).
    grid_shape: (H, W, D).

  Returns:
    [B, H, W, D, 4] targets of `LIMBS` (each bone's volume sums to 1).
  """
  jl_lib.check_jl(jl_cube, 'jl_cube')
  starts, ends, limb_of_bone = _bones()
  voxels = metres_to_voxels(jl_cube.astype(jnp.float32), cube_size,
                            grid_shape)
  d2 = segment_distances_squared(voxels[:, starts], voxels[:, ends],
                                 grid_shape)  # [B, 14, H, W, D]
  b, k = d2.shape[:2]
  scores = (1.0 / (1.0 + d2)).reshape(b, k, -1)
  per_bone = jax.nn.softmax(scores, axis=-1).reshape(d2.shape)
  limbs = []
  for limb in range(NUM_LIMBS):
    ids = [i for i, l in enumerate(limb_of_bone) if l == limb]
    limbs.append(jnp.max(per_bone[:, ids[0]:ids[-1] + 1], axis=1))
  return jnp.stack(limbs, axis=-1)


def volume_targets(jl_cube: jnp.ndarray, cube_size: float,
                   grid_shape: Sequence[int]) -> jnp.ndarray:
  """All 45 target channels [B, H, W, D, 45] (points then limbs)."""
  return jnp.concatenate([point_targets(jl_cube, cube_size, grid_shape),
                          limb_targets(jl_cube, cube_size, grid_shape)],
                         axis=-1)


def channel_validity(jl_valid: jnp.ndarray) -> jnp.ndarray:
  """[B, 42] point validity -> [B, 45] channel validity (float).

  Point channels follow their point; a limb is valid only when all its
  points are.
  """
  if jl_valid.ndim != 2 or jl_valid.shape[1] != jl_lib.NUM_POINTS:
    raise ValueError(f'jl_valid must be [B, {jl_lib.NUM_POINTS}], got '
                     f'{jl_valid.shape}.')
  valid = (jl_valid > 0).astype(jnp.float32)
  limbs = [jnp.prod(valid[:, list(chain)], axis=1) for _, chain in LIMBS]
  return jnp.concatenate([valid[:, 1:], jnp.stack(limbs, axis=1)], axis=1)


def soft_argmax(volume_logits: jnp.ndarray) -> jnp.ndarray:
  """3-D soft-argmax of every channel, in continuous voxel coordinates.

  Args:
    volume_logits: [B, H, W, D, C] logits.

  Returns:
    [B, C, 3] (x, y, z) expected voxel centre under the softmax over the
    H * W * D voxels of each channel.
  """
  b, h, w, d, c = volume_logits.shape
  dtype = jnp.promote_types(volume_logits.dtype, jnp.float32)
  flat = volume_logits.astype(dtype).reshape(b, h * w * d, c)
  probs = jax.nn.softmax(flat, axis=1).reshape(b, h, w, d, c)
  x = jnp.einsum('bhwdc,w->bc', probs, _centres(w, dtype))
  y = jnp.einsum('bhwdc,h->bc', probs, _centres(h, dtype))
  z = jnp.einsum('bhwdc,d->bc', probs, _centres(d, dtype))
  return jnp.stack([x, y, z], axis=-1)


def predict_jl(volume_logits: jnp.ndarray, cube_size: float) -> jnp.ndarray:
  """JL in the cube frame from one stack's volume (differentiable).

  Args:
    volume_logits: [B, H, W, D, C >= 41] logits; channels 0..40 are the
      points 1..41 (limb channels, if any, are ignored).
    cube_size: cube side (metres).

  Returns:
    [B, 42, 3] metres, cube frame; point 0 (the root) is 0.
  """
  if volume_logits.ndim != 5 or volume_logits.shape[-1] < NUM_POINT_CHANNELS:
    raise ValueError('predict_jl expects logits [B, H, W, D, C] with C >= '
                     f'{NUM_POINT_CHANNELS}, got {volume_logits.shape}.')
  grid = grid_shape_of(volume_logits)
  voxels = soft_argmax(volume_logits[..., :NUM_POINT_CHANNELS])
  points = voxels_to_metres(voxels, cube_size, grid)
  root = jnp.zeros_like(points[:, :1])
  return jnp.concatenate([root, points], axis=1)


def _point_sigmoid_cross_entropy(logits: jnp.ndarray, gaussians
                                 ) -> jnp.ndarray:
  """[B, 41] sigmoid cross-entropy of the point channels, mean over voxels.

  `ce(x, t) = softplus(x) - t x`; `t x` is contracted with the separable
  Gaussian factors, so no point target volume is formed.
  """
  gy, gx, gz = gaussians
  x = logits[..., :NUM_POINT_CHANNELS].astype(jnp.float32)
  num_voxels = math.prod(x.shape[1:4])
  softplus = jnp.mean(jax.nn.softplus(x), axis=(1, 2, 3))
  xt = POINT_PEAK * jnp.einsum('bhwdc,bhc,bwc,bdc->bc', x, gy, gx, gz)
  return softplus - xt / num_voxels


def _limb_sigmoid_cross_entropy(logits: jnp.ndarray, limbs: jnp.ndarray
                                ) -> jnp.ndarray:
  """[B, 4] sigmoid cross-entropy of the limb channels, mean over voxels."""
  x = logits[..., NUM_POINT_CHANNELS:].astype(jnp.float32)
  return jnp.mean(jax.nn.softplus(x) - x * limbs, axis=(1, 2, 3))


def _mean_cross_entropy(logits: jnp.ndarray, gaussians, limbs: jnp.ndarray
                        ) -> jnp.ndarray:
  """[B, 45] the paper's sigmoid cross-entropy of one stack, mean over the
  voxels (points then limbs)."""
  return jnp.concatenate([_point_sigmoid_cross_entropy(logits, gaussians),
                          _limb_sigmoid_cross_entropy(logits, limbs)],
                         axis=-1)


def _softmax_cross_entropy(logits: jnp.ndarray, gaussians) -> jnp.ndarray:
  """[B, 41] cross-entropy between the normalised point targets and the
  softmax over the volume of each point channel (the distribution whose mean
  the soft-argmax reads).

  `-sum_v t_v log softmax(x)_v = logsumexp(x) - sum_v t_v x_v` with t the
  target Gaussian normalised to sum 1; the contraction is separable.
  """
  gy, gx, gz = (g / jnp.sum(g, axis=1, keepdims=True) for g in gaussians)
  x = logits[..., :NUM_POINT_CHANNELS].astype(jnp.float32)
  b, h, w, d, c = x.shape
  log_normaliser = jax.nn.logsumexp(x.reshape(b, h * w * d, c), axis=1)
  xt = jnp.einsum('bhwdc,bhc,bwc,bdc->bc', x, gy, gx, gz)
  return log_normaliser - xt


POINT_LOSSES = ('sigmoid_ce', 'softmax_ce')


def image_net_loss(outputs: Sequence[jnp.ndarray] | jnp.ndarray,
                   jl_cube: jnp.ndarray, jl_valid: jnp.ndarray, *,
                   cube_size: float, l1_weight: float = 0.0,
                   point_loss: str = 'sigmoid_ce', limb_weight: float = 1.0
                   ) -> tuple[jnp.ndarray, Mapping[str, jnp.ndarray]]:
  """The image network's training loss on one device's batch.

  Sum over stacks of the volume loss (mean over valid channels), plus
  `l1_weight` times the L1 error (metres, mean over valid non-root points
  and axes) of the last stack's soft-argmax.

  Volume loss of the point channels, `point_loss`:
    * 'sigmoid_ce' (the paper's): sigmoid cross-entropy per voxel against the
      unnormalised Gaussian, mean over voxels. Its optimum, logit(target),
      is what the soft-argmax needs, but the gradient of a background voxel,
      sigmoid(x) - t ~ e^x, vanishes long before the background logits are
      low enough: with 16,384 voxels and a peak e^k times a flat floor, the
      floor holds most of the softmax mass and pulls the soft-argmax toward
      the cube's centre (`experiments/image_net/diagnose_softargmax.py`: on
      the 32 x 32 x 16 volume a floor 7 units below the peak keeps 42 % of
      the mass, 258 mm of error for a point 60 cm out, where the sigmoid
      cross-entropy's gradient on a floor voxel is 7e-11).
    * 'softmax_ce': cross-entropy between the normalised Gaussian and the
      softmax over the volume: it trains exactly the distribution that the
      soft-argmax reads, and its gradient (softmax - target) does not vanish
      while any background mass remains.
  Limb channels use the sigmoid cross-entropy, weighted by `limb_weight`
  (the paper's 1; with 0 their targets are not even computed: on the CPU
  config they cost as much time as the rest of the loss).

  Args:
    outputs: per-stack logits, a sequence of [B, H, W, D, 45] or an array
      [S, B, H, W, D, 45] (as returned by `StackedHourglass`).
    jl_cube: [B, 42, 3] ground-truth JL in the cube frame (metres).
    jl_valid: [B, 42] 1 where a point is annotated; invalid points' channels
      (and limbs with an invalid point) are left out of the loss, and so are
      points outside the cube (counted in the metric `outside_cube`).
    cube_size: cube side (metres).
    l1_weight: weight of the soft-argmax L1 term (a Python float; with 0 the
      term is reported but carries no gradient).

  Returns:
    (loss [], metrics) with scalars `outside_cube` (valid points masked for
    lying outside the cube), `loss_ce` (all stacks), `loss_stack{i}`,
    `loss_l1` (metres) and `jl_error` (mean Euclidean error of the last
    stack's soft-argmax over valid non-root points, metres).
  """
  stacks = list(outputs)
  if not stacks:
    raise ValueError('image_net_loss got no stack outputs.')
  if point_loss not in POINT_LOSSES:
    raise ValueError(f'unknown point_loss {point_loss!r}; choose one of '
                     f'{POINT_LOSSES}.')
  grid = grid_shape_of(stacks[0])
  if stacks[0].shape[-1] != NUM_CHANNELS:
    raise ValueError(f'image-network outputs must have {NUM_CHANNELS} channels '
                     f'(41 points + 4 limbs), got {stacks[0].shape}.')
  # Points outside the cube have no voxel to peak at: masked from every term
  # (and counted), not clamped to the border.
  inside = jnp.all(jnp.abs(jl_cube) < 0.5 * cube_size, axis=-1)  # [B, 42]
  metrics = {'outside_cube': jnp.sum((jl_valid > 0) & ~inside)}
  jl_valid = jnp.where(inside, jl_valid, 0.0)
  gaussians = axis_gaussians(jl_cube, cube_size, grid)
  if limb_weight:
    limbs = limb_targets(jl_cube, cube_size, grid)
  valid = channel_validity(jl_valid)  # [B, 45]
  weights = valid.at[:, NUM_POINT_CHANNELS:].multiply(limb_weight)
  count = jnp.maximum(jnp.sum(valid if limb_weight else
                              valid[:, :NUM_POINT_CHANNELS]), 1.0)
  total = 0.0
  for i, logits in enumerate(stacks):
    if point_loss == 'softmax_ce':
      ce = _softmax_cross_entropy(logits, gaussians)
    else:
      ce = _point_sigmoid_cross_entropy(logits, gaussians)
    stack_loss = jnp.sum(ce * weights[:, :NUM_POINT_CHANNELS])
    if limb_weight:
      stack_loss += jnp.sum(_limb_sigmoid_cross_entropy(logits, limbs) *
                            weights[:, NUM_POINT_CHANNELS:])
    stack_loss = stack_loss / count
    metrics[f'loss_stack{i}'] = stack_loss
    total = total + stack_loss
  metrics['loss_ce'] = total

  last = stacks[-1]
  if not l1_weight:
    last = jax.lax.stop_gradient(last)
  predicted = predict_jl(last, cube_size)[:, 1:]
  target = jl_cube[:, 1:].astype(jnp.float32)
  point_valid = valid[:, :NUM_POINT_CHANNELS]
  point_count = jnp.maximum(jnp.sum(point_valid), 1.0)
  diff = predicted - target
  l1 = jnp.sum(jnp.abs(diff) * point_valid[..., None]) / (3 * point_count)
  metrics['loss_l1'] = l1
  metrics['jl_error'] = jnp.sum(
      jnp.sqrt(jnp.sum(diff * diff, axis=-1) + 1e-12) * point_valid
  ) / point_count
  loss = total + l1_weight * l1 if l1_weight else total
  return loss, metrics
