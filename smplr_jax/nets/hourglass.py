"""SMPLR's image network: a volumetric stacked hourglass (paper Sec. 3.3).

The stacked hourglass of Newell et al. (ECCV 2016) with volumetric heads, as
described in `docs/paper_facts.md`:

  * stem: 6x6 stride-2 conv(F/4)-BN-ReLU -> residual(F/2) -> 2x2 max-pool ->
    residual(F/2) -> residual(F); input S x S -> features S/4 x S/4 x F.
    With F = 256 these are the authors' 64, 128, 128, 256; the stem widths
    scale with F so that small CPU configs stay small.
  * residual module (pre-activation bottleneck): BN-ReLU-1x1(n/2),
    BN-ReLU-3x3(n/2), BN-ReLU-1x1(n), plus the input, through a 1x1 conv
    when the channel count changes.
  * hourglass of depth 4 (64 -> 4 at the paper size): a residual at the
    current resolution, and max-pool -> residual -> (hourglass of depth - 1,
    or a residual at the bottom) -> residual -> nearest 2x upsampling; the
    two branches added.
  * per stack: hourglass -> 1x1 conv-BN-ReLU (the stack's features; dropout)
    -> 1x1 conv to D * C channels, reshaped to a logit volume
    [B, S/4, S/4, D, C]. Except after the last stack, the predictions are
    mapped back to F channels by a 1x1 conv and added to the features and
    the stack's input: that sum is the next stack's input.

Convolutions directly followed by BatchNorm have no bias (BatchNorm removes
it). BatchNorm state lives in the 'batch_stats' collection: apply with
`mutable=['batch_stats']` and `rngs={'dropout': key}` when training.

Parameter counts (`models.count_parameters` of `variable_shapes(net, S)`'s
params): the paper config (5 stacks, F = 256, D = 16, C = 45) has
16,270,608 parameters.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from smplr_jax.nets import heatmaps

# PyTorch's default convolution init (the authors' framework): uniform with
# variance 1 / (3 fan_in). It also compiles much faster on CPU than Flax's
# truncated-normal default.
KERNEL_INIT = nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform')


def Conv1x1(features: int, **kwargs) -> nn.Dense:  # pylint: disable=invalid-name
  """A 1x1 convolution as a Dense layer over the channel axis.

  Same maths and parameter count (kernel [c, n] instead of [1, 1, c, n]);
  XLA's CPU backend runs it as a matmul, 3-4x faster than a 1x1 `nn.Conv`
  with its gradient (`experiments.benchmarks.hourglass` compares them).
  """
  return nn.Dense(features, kernel_init=KERNEL_INIT, **kwargs)


class Residual(nn.Module):
  """Pre-activation bottleneck residual module: [B, h, w, c] -> [B, h, w, n].

  Attributes:
    features: output channels n.
    bn_momentum: BatchNorm running-average momentum.
    axis_name: mesh axis for cross-device BatchNorm statistics (or None).
    dtype: computation dtype.
  """
  features: int
  bn_momentum: float = 0.9
  axis_name: str | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.bn_momentum,
                             axis_name=self.axis_name, dtype=self.dtype)
    conv = functools.partial(nn.Conv, dtype=self.dtype,
                             kernel_init=KERNEL_INIT)
    conv1x1 = functools.partial(Conv1x1, dtype=self.dtype)
    half = self.features // 2
    h = nn.relu(norm(name='bn1')(x))
    h = conv1x1(half, use_bias=False, name='conv1')(h)
    h = nn.relu(norm(name='bn2')(h))
    h = conv(half, (3, 3), padding='SAME', use_bias=False, name='conv2')(h)
    h = nn.relu(norm(name='bn3')(h))
    h = conv1x1(self.features, name='conv3')(h)
    if x.shape[-1] != self.features:
      x = conv1x1(self.features, use_bias=False, name='skip')(x)
    return x + h


def upsample2(x: jnp.ndarray) -> jnp.ndarray:
  """Nearest-neighbour 2x upsampling [B, h, w, c] -> [B, 2h, 2w, c]."""
  b, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


class Hourglass(nn.Module):
  """One hourglass of `depth` poolings: [B, h, w, F] -> [B, h, w, F].

  h and w must be divisible by 2**depth.
  """
  depth: int
  features: int
  bn_momentum: float = 0.9
  axis_name: str | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    residual = functools.partial(Residual, self.features,
                                 bn_momentum=self.bn_momentum,
                                 axis_name=self.axis_name, dtype=self.dtype)
    up = residual(name='up')(x, train)
    low = nn.max_pool(x, (2, 2), strides=(2, 2))
    low = residual(name='low1')(low, train)
    if self.depth > 1:
      low = Hourglass(self.depth - 1, self.features, self.bn_momentum,
                      self.axis_name, self.dtype, name='inner')(low, train)
    else:
      low = residual(name='bottom')(low, train)
    low = residual(name='low3')(low, train)
    return up + upsample2(low)


class StackedHourglass(nn.Module):
  """Volumetric stacked hourglass: images -> per-stack logit volumes.

  Attributes:
    num_stacks: number of hourglasses (paper: 5).
    num_features: feature channels F (paper: 256).
    hourglass_depth: poolings per hourglass (paper: 4).
    num_depth_bins: depth bins D of the volume (paper: 16).
    num_channels: volume channels C (41 points + 4 limbs = 45).
    dropout_rate: dropout on each stack's features (paper: 0.1).
    bn_momentum: BatchNorm running-average momentum (0.9, PyTorch's 0.1).
    axis_name: mesh axis over which BatchNorm averages batch statistics in a
      data-parallel step (None outside one).
    dtype: computation dtype (parameters stay float32).
  """
  num_stacks: int
  num_features: int
  hourglass_depth: int = 4
  num_depth_bins: int = 16
  num_channels: int = heatmaps.NUM_CHANNELS
  dropout_rate: float = 0.1
  bn_momentum: float = 0.9
  axis_name: str | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images: jnp.ndarray, train: bool) -> list[jnp.ndarray]:
    """Forward pass.

    Args:
      images: [B, S, S, 3] (values in [0, 1]); S / 4 must be divisible by
        2**hourglass_depth.
      train: batch statistics and dropout (needs a 'dropout' rng) if True.

    Returns:
      A list of `num_stacks` logit volumes [B, S/4, S/4, D, C] (float32),
      first stack first.
    """
    check_input_size(images.shape[1], self.hourglass_depth)
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
      raise ValueError(f'images must be [B, S, S, C], got {images.shape}.')
    f = self.num_features
    kw = {'bn_momentum': self.bn_momentum, 'axis_name': self.axis_name,
              'dtype': self.dtype}
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.bn_momentum,
                             axis_name=self.axis_name, dtype=self.dtype)
    conv = functools.partial(nn.Conv, dtype=self.dtype,
                             kernel_init=KERNEL_INIT)

    x = images.astype(self.dtype)
    x = conv(f // 4, (6, 6), strides=(2, 2), padding='SAME', use_bias=False,
             name='stem_conv')(x)
    x = nn.relu(norm(name='stem_bn')(x))
    x = Residual(f // 2, name='stem_res1', **kw)(x, train)
    x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = Residual(f // 2, name='stem_res2', **kw)(x, train)
    x = Residual(f, name='stem_res3', **kw)(x, train)

    outputs = []
    b, h, w, _ = x.shape
    for s in range(self.num_stacks):
      y = Hourglass(self.hourglass_depth, f, name=f'hourglass{s}', **kw)(
          x, train)
      y = Conv1x1(f, use_bias=False, dtype=self.dtype,
                   name=f'features{s}_conv')(y)
      y = nn.relu(norm(name=f'features{s}_bn')(y))
      y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
      pred = Conv1x1(self.num_depth_bins * self.num_channels, dtype=self.dtype,
                     name=f'predictions{s}')(y)
      outputs.append(pred.reshape(b, h, w, self.num_depth_bins,
                                  self.num_channels).astype(jnp.float32))
      if s + 1 < self.num_stacks:
        x = x + y + Conv1x1(f, dtype=self.dtype, name=f'remap{s}')(pred)
    return outputs


def check_input_size(input_size: int, hourglass_depth: int) -> None:
  """Raises ValueError unless input_size / 4 is divisible by 2**depth."""
  if input_size % 4 or (input_size // 4) % (2 ** hourglass_depth):
    raise ValueError(
        f'input size {input_size} does not fit an hourglass of depth '
        f'{hourglass_depth}: input_size / 4 must be divisible by '
        f'{2 ** hourglass_depth} (e.g. 256 -> 64 x 64 volumes, 128 -> 32).')


def check_config_keys(config: ml_collections.ConfigDict,
                      model_keys: tuple[str, ...], reader: str) -> None:
  """Raises ValueError unless config.model has `model_keys` and config has
  'input_size'; the message names the missing keys and `reader`."""
  missing = [k for k in model_keys if k not in config.model]
  if missing or 'input_size' not in config:
    raise ValueError(f'config.model lacks {missing} or config lacks '
                     f"'input_size'; see {reader}.")


def from_config(config: ml_collections.ConfigDict, axis_name: str | None = None,
                dtype: Any = jnp.float32) -> StackedHourglass:
  """The network of a config.

  Args:
    config: with `config.model.{num_stacks, num_features, hourglass_depth,
      num_depth_bins, dropout_rate}` and top-level `config.input_size`
      (checked against the hourglass depth).
    axis_name: BatchNorm's mesh axis in a data-parallel step.
    dtype: computation dtype.

  Returns:
    The `StackedHourglass` (45 channels: `heatmaps.NUM_CHANNELS`).
  """
  model = config.model
  check_config_keys(config, ('num_stacks', 'num_features', 'hourglass_depth',
                             'num_depth_bins', 'dropout_rate'),
                    'smplr_jax.nets.hourglass.from_config')
  check_input_size(config.input_size, model.hourglass_depth)
  return StackedHourglass(
      num_stacks=model.num_stacks, num_features=model.num_features,
      hourglass_depth=model.hourglass_depth,
      num_depth_bins=model.num_depth_bins,
      num_channels=heatmaps.NUM_CHANNELS, dropout_rate=model.dropout_rate,
      axis_name=axis_name, dtype=dtype)


def variable_shapes(net: StackedHourglass, input_size: int,
                    batch_size: int = 1) -> dict:
  """Shapes/dtypes of `net`'s variables (`jax.ShapeDtypeStruct` leaves)."""
  images = jax.ShapeDtypeStruct((batch_size, input_size, input_size, 3),
                                jnp.float32)
  return jax.eval_shape(functools.partial(net.init, train=False),
                        jax.random.PRNGKey(0), images)


def init_variables(net: StackedHourglass, rng: jax.Array,
                   input_size: int) -> dict:
  """{'params', 'batch_stats'} of `net` for [B, S, S, 3] images.

  Same distributions as `net.init` (conv kernels `KERNEL_INIT`, i.e.
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)); conv biases and BatchNorm shifts 0,
  BatchNorm scales and variances 1, means 0), but drawn as one uniform
  vector sliced into the kernels: on CPU, `jax.jit(net.init)` compiles for
  tens of seconds, this in well under one.

  Args:
    net: the network.
    rng: PRNG key.
    input_size: S (the shapes do not depend on it beyond its validity).

  Returns:
    The variables, a dict of nested dicts of float32 arrays.
  """
  shapes = flax.core.unfreeze(variable_shapes(net, input_size))
  kernels = []
  jax.tree_util.tree_map_with_path(
      lambda path, x: kernels.append((path, x.shape))
      if path[-1].key == 'kernel' else None, shapes['params'])
  total = sum(math.prod(shape) for _, shape in kernels)
  uniform = np.asarray(jax.random.uniform(rng, (total,), jnp.float32, -1, 1))
  values, offset = {}, 0
  for path, shape in kernels:
    size = math.prod(shape)
    fan_in = math.prod(shape[:-1])
    values[path] = (uniform[offset:offset + size].reshape(shape) /
                    np.sqrt(fan_in, dtype=np.float32))
    offset += size

  def fill(path, x):
    name = path[-1].key
    if name == 'kernel':
      return jnp.asarray(values[path])
    if name in ('scale', 'var'):
      return jnp.ones(x.shape, x.dtype)
    return jnp.zeros(x.shape, x.dtype)  # biases, BatchNorm shifts and means

  return {'params': jax.tree_util.tree_map_with_path(fill, shapes['params']),
          'batch_stats': jax.tree_util.tree_map_with_path(
              fill, shapes['batch_stats'])}
