"""The denoising autoencoder (DAE) between the image CNN and SMPLR (Sec. 3.4).

`DAE` denoises root-relative JL (or lifts 2D JL to 3D, `zero_depth=True`,
the paper's DAE2d): the 41 non-root points, flattened to 123 values, go
through dropout, an encoder 1024 -> 1024 -> 512, dropout, a decoder
1024 -> 1024 whose layers add the matching encoder layers (decoder 1 +
encoder 2, decoder 2 + encoder 1), and a linear layer to 123 values that are
added to the input (a residual). Hidden layers are Dense -> BatchNorm -> ELU.
The output layer starts at zero, so a fresh DAE is the identity.

`smplr_jax.training.tasks.dae.DAETask` trains it (L1 on JL plus L1 on the bone
lengths B, Eq. 2) on synthetic bodies corrupted by a noise model of
`smplr_jax.data.noise`, or on (predicted, ground-truth) pairs of a real network
(`smplr_jax.data.datasets.PairedJLDataset`); `smplr_jax.predict.pipeline` puts it in front
of SMPLR.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import mlp

PyTree = Any
ENCODER = (1024, 1024, 512)
DECODER = (1024, 1024)
NUM_INPUTS = (jl_lib.NUM_POINTS - 1) * 3  # 123


def drop_depth(jl: jnp.ndarray) -> jnp.ndarray:
  """[..., 3] points with z (camera depth) set to 0: DAE2d's input."""
  return jl.at[..., 2].set(0.0)


class DAE(nn.Module):
  """Denoising autoencoder: root-relative JL [B, 42, 3] -> [B, 42, 3].

  Attributes:
    encoder: encoder widths; the last is the middle (bottleneck) layer.
    decoder: decoder widths; decoder layer k adds encoder layer
      len(encoder) - k (1-based), so their widths must match.
    dropout_rate: dropout on the input and after the last encoder layer
      (the authors' keep probability 0.8 -> 0.2). Active only when `train`;
      draws from the 'dropout' RNG stream.
    activation: 'elu' (authors' code) or 'relu'.
    zero_depth: DAE2d: the input's z is set to 0 (2D -> 3D lifting).
    axis_name: mesh axis for BatchNorm statistics inside a data-parallel step.
    bn_momentum: BatchNorm running-average momentum.
  """
  encoder: Sequence[int] = ENCODER
  decoder: Sequence[int] = DECODER
  dropout_rate: float = 0.2
  activation: str = 'elu'
  zero_depth: bool = False
  axis_name: str | None = None
  bn_momentum: float = 0.99

  @nn.compact
  def __call__(self, jl: jnp.ndarray, train: bool) -> jnp.ndarray:
    """Denoises JL.

    Args:
      jl: [B, 42, 3] root-relative points (metres); point 0 is ignored.
      train: dropout on and BatchNorm on batch statistics (needs
        `rngs={'dropout': key}` and `mutable=['batch_stats']`).

    Returns:
      [B, 42, 3] denoised points, the root at the origin.
    """
    jl_lib.check_jl(jl)
    if len(self.decoder) >= len(self.encoder):
      raise ValueError('the decoder needs fewer layers than the encoder '
                       f'(got {self.decoder} vs {self.encoder})')
    skips = list(self.encoder[:-1])[::-1][:len(self.decoder)]
    if tuple(skips) != tuple(self.decoder):
      raise ValueError(f'decoder widths {tuple(self.decoder)} must match the '
                       f'encoder layers they add, {tuple(skips)}')
    batch = jl.shape[0]
    points = jl[:, 1:]
    if self.zero_depth:
      points = drop_depth(points)
    x = points.reshape(batch, NUM_INPUTS)

    def hidden_layer(h, width, name):
      return mlp.dense_bn_act(h, width, name, train=train,
                                 activation=self.activation,
                                 axis_name=self.axis_name,
                                 momentum=self.bn_momentum)

    h = nn.Dropout(self.dropout_rate, deterministic=not train,
                   name='input_dropout')(x)
    encoded = []
    for i, width in enumerate(self.encoder, start=1):
      h = hidden_layer(h, width, f'encoder{i}')
      encoded.append(h)
    h = nn.Dropout(self.dropout_rate, deterministic=not train,
                   name='middle_dropout')(h)
    for k, width in enumerate(self.decoder, start=1):
      h = hidden_layer(h, width, f'decoder{k}') + encoded[-1 - k]
    residual = nn.Dense(NUM_INPUTS, kernel_init=nn.initializers.zeros,
                        name='residual')(h)
    out = (x + residual).reshape(batch, jl_lib.NUM_POINTS - 1, 3)
    return jnp.concatenate([jnp.zeros_like(out[:, :1]), out], axis=1)


def make_dae(config: ml_collections.ConfigDict,
             axis_name: str | None = None) -> DAE:
  """The `DAE` of a `config.dae` block (`bn_momentum` optional, 0.99)."""
  return DAE(encoder=tuple(config.encoder), decoder=tuple(config.decoder),
             dropout_rate=config.dropout_rate, activation=config.activation,
             zero_depth=config.zero_depth, axis_name=axis_name,
             bn_momentum=config.get('bn_momentum', 0.99))


def apply_dae(net: DAE, variables: dict[str, PyTree],
              jl: jnp.ndarray) -> jnp.ndarray:
  """Inference: [B, 42, 3] -> [B, 42, 3] denoised (dropout off)."""
  return net.apply(variables, jl, train=False)
