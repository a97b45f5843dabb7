"""The image network of a config: the stacked hourglass or the U-Net.

`config.model.architecture` picks it: 'stacked_hourglass' (the paper's,
`smplr_jax.nets.hourglass`; the default when the key is absent, so configs and
shipped weights from before the key existed load unchanged) or 'unet'
(`smplr_jax.nets.unet`, the CPU-efficient one). Both map images [B, S, S, 3] to
a list of logit volumes [B, S/4, S/4, D, 45], one per stack.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from smplr_jax.nets import heatmaps, hourglass, unet

ARCHITECTURES = ('stacked_hourglass', 'unet')


def architecture_of(config: ml_collections.ConfigDict) -> str:
  """The config's architecture name (validated)."""
  name = config.model.get('architecture', 'stacked_hourglass')
  if name not in ARCHITECTURES:
    raise ValueError(f'config.model.architecture is {name!r}; choose one of '
                     f'{ARCHITECTURES}.')
  return name


def from_config(config: ml_collections.ConfigDict, axis_name: str | None = None,
                dtype: Any = jnp.float32) -> nn.Module:
  """The network of a config (`hourglass.from_config` or a `VolumetricUNet`).

  A U-Net config has `config.model.{widths, blocks, head_features,
  num_depth_bins, dropout_rate}` and top-level `config.input_size`.
  """
  if architecture_of(config) == 'stacked_hourglass':
    return hourglass.from_config(config, axis_name=axis_name, dtype=dtype)
  model = config.model
  hourglass.check_config_keys(
      config, ('widths', 'blocks', 'head_features', 'num_depth_bins',
               'dropout_rate'), 'smplr_jax.nets.image_net.from_config')
  unet.check_input_size(config.input_size)
  return unet.VolumetricUNet(
      widths=tuple(model.widths), blocks=tuple(model.blocks),
      head_features=model.head_features, num_depth_bins=model.num_depth_bins,
      num_channels=heatmaps.NUM_CHANNELS, dropout_rate=model.dropout_rate,
      axis_name=axis_name, dtype=dtype)


def init_variables(net: nn.Module, rng, input_size: int) -> dict:
  """{'params', 'batch_stats'} of either network (`hourglass.init_variables`:
  PyTorch's default init, fast to compile on CPU)."""
  return hourglass.init_variables(net, rng, input_size)
