"""SMPLR's regression networks (paper Sec. 3.2): shape net Psi, pose net Omega.

Also the building block shared by every MLP of the project (Psi, Omega and
the DAE): `dense_bn_act`, Dense -> BatchNorm -> activation.

Psi and Omega share one architecture: a trunk of fully connected layers 1024,
1024, 512, 512, 512, 256, 256 -> D (linear), a residual branch from the fifth layer
256 -> D, both concatenated -> D. Every hidden layer has BatchNorm and an
activation (ELU, as in the authors' code). BatchNorm state is explicit: call
with `mutable=['batch_stats']` when training.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from smplr_jax.body import rotations

TRUNK = (1024, 1024, 512, 512, 512, 256, 256)
BRANCH_FROM = 5  # the residual branch leaves after the fifth hidden layer
BRANCH_WIDTH = 256

ACTIVATIONS = {'elu': nn.elu, 'relu': nn.relu}


def count_parameters(params: Any) -> int:
  """Number of scalars in a parameter tree (arrays or `jax.ShapeDtypeStruct`
  leaves, e.g. from `jax.eval_shape(net.init, ...)`)."""
  return int(sum(math.prod(x.shape) for x in jax.tree.leaves(params)))


def dense_bn_act(h: jnp.ndarray, width: int, name: str, *, train: bool,
                 activation: str, axis_name: str | None,
                 momentum: float) -> jnp.ndarray:
  """Dense (no bias) -> BatchNorm -> activation: [B, F] -> [B, width].

  Call inside a compact module: the layers `{name}_dense` and `{name}_bn`
  become its children. No bias: BatchNorm removes it anyway, and Adam would
  amplify its round-off gradients into noise.

  Args:
    h: [B, F] input.
    width: output features.
    name: prefix of the two layers' names.
    train: BatchNorm on batch statistics (else running averages).
    activation: a key of `ACTIVATIONS`.
    axis_name: mesh axis over which BatchNorm averages batch statistics
      inside a data-parallel step (None outside one).
    momentum: BatchNorm running-average momentum.
  """
  h = nn.Dense(width, use_bias=False, name=f'{name}_dense')(h)
  h = nn.BatchNorm(use_running_average=not train, axis_name=axis_name,
                   momentum=momentum, name=f'{name}_bn')(h)
  return ACTIVATIONS[activation](h)


class ResidualMLP(nn.Module):
  """SMPLR's MLP: [B, F] -> [B, out_dim].

  Attributes:
    out_dim: output size D.
    hidden: trunk widths.
    branch_from: 1-based index of the hidden layer the branch starts from.
    activation: 'elu' (authors' code) or 'relu' (paper text).
    output_activation: None or 'tanh'.
    axis_name: mesh axis over which BatchNorm averages batch statistics when
      training inside a data-parallel step (None outside one).
    bn_momentum: BatchNorm running-average momentum.
  """
  out_dim: int
  hidden: Sequence[int] = TRUNK
  branch_from: int = BRANCH_FROM
  activation: str = 'elu'
  output_activation: str | None = None
  axis_name: str | None = None
  bn_momentum: float = 0.99

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    def hidden_layer(h, width, name):
      return dense_bn_act(h, width, name, train=train,
                          activation=self.activation,
                          axis_name=self.axis_name, momentum=self.bn_momentum)

    h = x
    branch_input = None
    for i, width in enumerate(self.hidden, start=1):
      h = hidden_layer(h, width, f'trunk{i}')
      if i == self.branch_from:
        branch_input = h
    trunk_out = nn.Dense(self.out_dim, name='trunk_out')(h)
    branch = hidden_layer(branch_input, BRANCH_WIDTH, 'branch1')
    branch_out = nn.Dense(self.out_dim, name='branch_out')(branch)
    out = nn.Dense(self.out_dim, name='merge')(
        jnp.concatenate([trunk_out, branch_out], axis=-1))
    if self.output_activation == 'tanh':
      out = jnp.tanh(out)
    return out


class ShapeNet(nn.Module):
  """Psi: bone-length features [B, F] -> (betas [B, S], male logit [B])."""
  num_betas: int = 10
  activation: str = 'elu'
  axis_name: str | None = None

  @nn.compact
  def __call__(self, features: jnp.ndarray, train: bool):
    out = ResidualMLP(self.num_betas + 1, activation=self.activation,
                      axis_name=self.axis_name, name='mlp')(features, train)
    return out[:, :self.num_betas], out[:, self.num_betas]


class PoseNet(nn.Module):
  """Omega: bone directions [B, P, 3] -> relative rotations [B, 24, 3, 3].

  Attributes:
    rotation: 'rotmat' (paper: 9 entries per joint with tanh, not forced onto
      SO(3)) or '6d' (Zhou et al. 2019, Gram-Schmidt to SO(3)).
  """
  rotation: str = 'rotmat'
  num_joints: int = 24
  activation: str = 'elu'
  axis_name: str | None = None

  @nn.compact
  def __call__(self, directions: jnp.ndarray, train: bool) -> jnp.ndarray:
    batch = directions.shape[0]
    flat = directions.reshape(batch, -1)
    if self.rotation == 'rotmat':
      out = ResidualMLP(self.num_joints * 9, activation=self.activation,
                        output_activation='tanh', axis_name=self.axis_name,
                        name='mlp')(flat, train)
      return out.reshape(batch, self.num_joints, 3, 3)
    if self.rotation == '6d':
      out = ResidualMLP(self.num_joints * 6, activation=self.activation,
                        axis_name=self.axis_name, name='mlp')(flat, train)
      # Start near the identity so early SMPL losses see plausible bodies.
      identity = rotations.matrix_to_rotation_6d(jnp.eye(3))
      return rotations.rotation_6d_to_matrix(
          out.reshape(batch, self.num_joints, 6) + identity)
    raise ValueError(f"rotation must be 'rotmat' or '6d', got "
                     f'{self.rotation!r}')
