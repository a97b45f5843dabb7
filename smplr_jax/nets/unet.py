"""A CPU-efficient volumetric image network: a residual U-Net of 3x3 convs.

Same inputs and outputs as `hourglass.StackedHourglass` (images [B, S, S, 3]
-> a list of one logit volume [B, S/4, S/4, D, C]), so the loss, the
soft-argmax, the pipeline and the shipped-weights loader take either; a
config picks it with `config.model.architecture = 'unet'`.

Why another network: the hourglass' bottleneck modules are mostly 1x1
convolutions over 32-64 channels, which XLA's CPU backend runs at 8-15 % of
the matmul peak, while a 3x3 convolution over 64 channels runs at about 46 %
(`experiments.benchmarks.image_net`). On two cores the 1-stack, 64-feature
hourglass underfits (its training error stays above its test error), so the
CPU budget is better spent on more 3x3 capacity at the same images/s.

Layout (S = 96 with the default widths (32, 64, 128, 256, 256)):
  * stem: 3x3 stride-2 conv(w0)-BN-ReLU              -> S/2
  * encoder level i = 1..4: 3x3 stride-2 conv(w_i) then `blocks[i]` basic
    residual blocks (pre-activation BN-ReLU-3x3, BN-ReLU-3x3, + input)
                                                       -> S/4, S/8, S/16, S/32
  * decoder, back up to S/4: nearest 2x upsampling of the coarser level,
    a 1x1 conv to the finer level's width, plus that level's encoder
    features (the skip), then one basic block
  * head at S/4: BN-ReLU, 3x3 conv(head_features)-BN-ReLU, dropout, 1x1 conv
    to D * C channels, reshaped to [B, S/4, S/4, D, C]

S must be divisible by 32.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from smplr_jax.nets import heatmaps
from smplr_jax.nets.hourglass import KERNEL_INIT, Conv1x1, upsample2

DEFAULT_WIDTHS = (32, 64, 128, 256, 256)
DEFAULT_BLOCKS = (1, 2, 2, 1)


class BasicBlock(nn.Module):
  """Pre-activation residual block of two 3x3 convs: [B, h, w, n] -> same."""
  bn_momentum: float = 0.9
  axis_name: str | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.bn_momentum,
                             axis_name=self.axis_name, dtype=self.dtype)
    conv = functools.partial(nn.Conv, x.shape[-1], (3, 3), padding='SAME',
                             dtype=self.dtype, kernel_init=KERNEL_INIT)
    h = conv(use_bias=False, name='conv1')(nn.relu(norm(name='bn1')(x)))
    h = conv(name='conv2')(nn.relu(norm(name='bn2')(h)))
    return x + h


class VolumetricUNet(nn.Module):
  """Residual U-Net: images -> [one logit volume [B, S/4, S/4, D, C]].

  Attributes:
    widths: channels at S/2, S/4, S/8, S/16, S/32 (5 values).
    blocks: basic blocks at S/4, S/8, S/16, S/32 in the encoder (4 values).
    head_features: channels of the head's 3x3 conv at S/4.
    num_depth_bins: depth bins D of the volume.
    num_channels: volume channels C (41 points + 4 limbs = 45).
    dropout_rate: dropout before the prediction layer.
    bn_momentum, axis_name, dtype: as `hourglass.StackedHourglass`.
  """
  widths: Sequence[int] = DEFAULT_WIDTHS
  blocks: Sequence[int] = DEFAULT_BLOCKS
  head_features: int = 128
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
      images: [B, S, S, 3] (values in [0, 1]), S divisible by 32.
      train: batch statistics and dropout (needs a 'dropout' rng) if True.

    Returns:
      [logits [B, S/4, S/4, D, C]] (float32): a one-element list, like a
      one-stack hourglass.
    """
    check_input_size(images.shape[1])
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
      raise ValueError(f'images must be [B, S, S, C], got {images.shape}.')
    if len(self.widths) != 5 or len(self.blocks) != 4:
      raise ValueError(f'widths needs 5 values and blocks 4, got '
                       f'{tuple(self.widths)} and {tuple(self.blocks)}.')
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.bn_momentum,
                             axis_name=self.axis_name, dtype=self.dtype)
    conv = functools.partial(nn.Conv, padding='SAME', dtype=self.dtype,
                             kernel_init=KERNEL_INIT)
    block = functools.partial(BasicBlock, bn_momentum=self.bn_momentum,
                              axis_name=self.axis_name, dtype=self.dtype)

    x = images.astype(self.dtype)
    x = conv(self.widths[0], (3, 3), strides=(2, 2), use_bias=False,
             name='stem_conv')(x)
    x = nn.relu(norm(name='stem_bn')(x))
    skips = []
    for level, (width, count) in enumerate(zip(self.widths[1:], self.blocks),
                                           start=1):
      x = conv(width, (3, 3), strides=(2, 2), name=f'down{level}')(x)
      for i in range(count):
        x = block(name=f'enc{level}_{i}')(x, train)
      skips.append(x)
    x = skips.pop()
    for level in range(len(skips), 0, -1):
      skip = skips.pop()
      x = Conv1x1(skip.shape[-1], dtype=self.dtype,
                  name=f'up{level}')(upsample2(x)) + skip
      x = block(name=f'dec{level}')(x, train)
    x = nn.relu(norm(name='head_bn0')(x))
    x = conv(self.head_features, (3, 3), use_bias=False, name='head_conv')(x)
    x = nn.relu(norm(name='head_bn')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    pred = Conv1x1(self.num_depth_bins * self.num_channels, dtype=self.dtype,
                   name='predictions')(x)
    b, h, w, _ = pred.shape
    return [pred.reshape(b, h, w, self.num_depth_bins,
                         self.num_channels).astype(jnp.float32)]


def check_input_size(input_size: int) -> None:
  """Raises ValueError unless input_size is divisible by 32."""
  if input_size % 32:
    raise ValueError(f'input size {input_size} does not fit the U-Net: it '
                     'must be divisible by 32 (e.g. 96 -> 24 x 24 volumes, '
                     '128 -> 32 x 32).')
