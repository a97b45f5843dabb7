"""SMPL reverse (SMPLR): JL -> SMPL pose and shape -> SMPL -> mesh.

`SMPLR` (a Flax module) holds the two networks of the paper (Sec. 3.2):
Psi regresses betas and gender from bone lengths B (Eq. 2), Omega regresses
the 24 relative rotations from bone directions N (Eq. 1); `smpl_parameters`
turns their outputs into SMPL parameters, used with the body models of
`smplr_jax.body.gendered.GenderedModels`. `smplr_jax.predict.pipeline` runs
them through SMPL to a mesh; `smplr_jax.training.tasks.smplr.SMPLRTask`
trains them.

Gender: index 0 = female, 1 = male (the stacked body model is
[female, male]); the shape network outputs a male logit.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from smplr_jax.body import body_model as bm
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import rotations
from smplr_jax.nets import mlp

PARTS = ('shape', 'pose')
# Psi's inputs -> how many bone-length features it sees (the 23 bones that
# end at a joint come first).
SHAPE_INPUTS = {'joints_landmarks': jl_lib.NUM_BONES,
                'joints': jl_lib.NUM_JOINTS - 1}
PyTree = Any


class SMPLR(nn.Module):
  """The networks of SMPLR (a Flax module): root-relative JL [B, 42, 3] ->
  SMPL parameter predictions.

  Its variables are {'params', 'batch_stats'}, each {'shape': Psi's,
  'pose': Omega's} for the parts it has.

  Attributes:
    parts: which networks exist: ('shape',), ('pose',) or both.
    num_betas: S, Psi's number of betas.
    rotation: Omega's output ('rotmat', the paper's, or '6d').
    activation: 'elu' or 'relu'.
    shape_inputs: Psi's bone-length features: 'joints_landmarks' (all 41)
      or 'joints' (the 23 skeleton bones, the no-landmark ablation).
    axis_name: the data axis batch norm averages over in training.
  """
  parts: tuple[str, ...] = PARTS
  num_betas: int = 10
  rotation: str = 'rotmat'
  activation: str = 'elu'
  shape_inputs: str = 'joints_landmarks'
  axis_name: str | None = None

  def __post_init__(self):
    unknown = set(self.parts) - set(PARTS)
    if unknown or not self.parts:
      raise ValueError(f'parts must be a non-empty subset of {PARTS}, got '
                       f'{tuple(self.parts)}')
    if self.shape_inputs not in SHAPE_INPUTS:
      raise ValueError("shape_inputs must be 'joints_landmarks' or 'joints', "
                       f'got {self.shape_inputs!r}')
    super().__post_init__()

  @property
  def shape_feature_ids(self) -> np.ndarray:
    """Which of the 41 bone-length features Psi sees."""
    return np.arange(SHAPE_INPUTS[self.shape_inputs])

  def _shape_net(self, **kwargs) -> mlp.ShapeNet:
    return mlp.ShapeNet(num_betas=self.num_betas, activation=self.activation,
                        axis_name=self.axis_name, **kwargs)

  def _pose_net(self, **kwargs) -> mlp.PoseNet:
    return mlp.PoseNet(rotation=self.rotation, activation=self.activation,
                       axis_name=self.axis_name, **kwargs)

  def _shape_inputs(self, jl, template_lengths):
    features = jl_lib.shape_features(jl, template_lengths)
    return features[:, self.shape_feature_ids]

  @nn.compact
  def __call__(self, jl: jnp.ndarray, template_lengths: jnp.ndarray,
               train: bool = False) -> dict[str, jnp.ndarray]:
    """Runs the networks on root-relative JL [B, 42, 3] with the template's
    bone lengths [41].

    Returns:
      predictions: 'betas' [B, S] and 'male_logit' [B] (shape part),
      'rotation' [B, 24, 3, 3] (pose part).
    """
    predictions = {}
    if 'shape' in self.parts:
      betas, male_logit = self._shape_net(name='shape')(
          self._shape_inputs(jl, template_lengths), train)
      predictions.update(betas=betas, male_logit=male_logit)
    if 'pose' in self.parts:
      predictions['rotation'] = self._pose_net(name='pose')(
          jl_lib.bone_directions(jl), train)
    return predictions

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    """Fresh {'params', 'batch_stats'}: each part initialised on its own
    key of split(rng), so a seed gives the same networks whatever the
    parts."""
    variables = {'params': {}, 'batch_stats': {}}
    dummy = jnp.zeros((2, jl_lib.NUM_POINTS, 3))
    keys = dict(zip(PARTS, jax.random.split(rng)))
    if 'shape' in self.parts:
      # parent=None: stand-alone networks, not submodules of this one.
      v = self._shape_net(parent=None).init(
          keys['shape'], self._shape_inputs(dummy,
                                            jnp.zeros(jl_lib.NUM_BONES)),
          train=False)
      variables['params']['shape'] = v['params']
      variables['batch_stats']['shape'] = v['batch_stats']
    if 'pose' in self.parts:
      v = self._pose_net(parent=None).init(keys['pose'], jl_lib.bone_directions(dummy),
                                train=False)
      variables['params']['pose'] = v['params']
      variables['batch_stats']['pose'] = v['batch_stats']
    return variables


def from_config(config: ml_collections.ConfigDict,
                axis_name: str | None = None) -> SMPLR:
  """The `SMPLR` of a config's `smplr` block (parts, num_betas, rotation,
  activation, shape_inputs)."""
  return SMPLR(parts=tuple(config.parts), num_betas=int(config.num_betas),
               rotation=config.rotation, activation=config.activation,
               shape_inputs=config.shape_inputs, axis_name=axis_name)


def forward(net: SMPLR, params: PyTree, batch_stats: PyTree, jl: jnp.ndarray,
            template_lengths: jnp.ndarray, train: bool):
  """`net` on JL [B, 42, 3]: (predictions, batch_stats after the step; the
  given ones unless `train`)."""
  variables = {'params': params, 'batch_stats': batch_stats}
  if not train:
    return net.apply(variables, jl, template_lengths, False), batch_stats
  predictions, updates = net.apply(variables, jl, template_lengths, True,
                                   mutable=['batch_stats'])
  return predictions, updates['batch_stats']


def smpl_parameters(predictions: dict[str, jnp.ndarray],
                    ground_truth: dict[str, jnp.ndarray] | None,
                    project: bool) -> tuple[jnp.ndarray, jnp.ndarray,
                                            jnp.ndarray]:
  """Predicted SMPL parameters, ground truth for the parts not predicted.

  Gender is the hard switch of the authors' code (male when the logit > 0).
  `project` maps raw rotation-matrix outputs onto SO(3).
  """
  if 'rotation' in predictions:
    rotation = predictions['rotation']
    if project:
      rotation = rotations.project_to_rotation(rotation)
  else:
    rotation = ground_truth['pose']
  if 'betas' in predictions:
    betas = predictions['betas']
    gender = (predictions['male_logit'] > 0).astype(jnp.int32)
  else:
    betas, gender = ground_truth['betas'], ground_truth['gender']
  return rotation, betas, gender


LOSS_STYLES = ('ours', 'authors')


def loss_terms(predictions: dict[str, jnp.ndarray], batch: dict,
               points_model: bm.BodyModel, with_smpl: bool,
               example_weights: jnp.ndarray | None = None,
               style: str = 'ours') -> dict[str, jnp.ndarray]:
  """SMPLR's training losses (paper Sec. 3.2), each a scalar.

  style 'ours': 'betas' L1, 'gender' sigmoid cross-entropy on the male logit,
  'shape_reg' mean |betas| (shape part); 'pose' L1 on the rotation entries
  (pose part); with `with_smpl`, 'smpl': L1 on the 42 JL (root included) of
  the SMPL output of the predicted parameters (ground truth for a part not
  predicted) against batch['jl'].

  style 'authors' (their `Losses/losses.py`): 'betas' mean L1 over the 11
  shape values, the 10 betas and gender as a +-1 target (the male logit is
  their gender output: its sign picks the model either way), 'shape_reg'
  mean |.| of those 11 predicted values (their weight is 0.01, set in
  `loss_weights.shape_reg`), no separate 'gender' term; 'pose' as ours;
  'smpl' the sum of two L1 terms, over the 23 non-root joints and over the
  18 landmark vertices.

  Args:
    predictions: `SMPLR.apply` output.
    batch: jl [B, 42, 3] (root-relative metres), pose [B, 24, 3, 3], betas
      [B, S], gender [B] int.
    points_model: `GenderedModels.points` (the landmark-only SMPL).
    with_smpl: add the SMPL-output term.
    example_weights: [B] weights of the examples (0 masks one out: an image
      without SMPL ground truth); None weighs all equally.
    style: 'ours' or 'authors' (see above).
  """
  if style not in LOSS_STYLES:
    raise ValueError(f'unknown SMPLR loss style {style!r}; known: '
                     f'{LOSS_STYLES}.')
  def mean(per_example_values):  # [B, ...] -> weighted mean over examples
    per_example = jnp.mean(per_example_values.reshape(
        per_example_values.shape[0], -1), axis=1)
    if example_weights is None:
      return jnp.mean(per_example)
    return (jnp.sum(per_example * example_weights) /
            jnp.maximum(jnp.sum(example_weights), 1.0))

  terms = {}
  if 'betas' in predictions and style == 'ours':
    terms['betas'] = mean(jnp.abs(predictions['betas'] - batch['betas']))
    terms['gender'] = mean(optax.sigmoid_binary_cross_entropy(
        predictions['male_logit'], batch['gender'].astype(jnp.float32)))
    terms['shape_reg'] = mean(jnp.abs(predictions['betas']))
  elif 'betas' in predictions:
    shape = jnp.concatenate([predictions['betas'],
                             predictions['male_logit'][:, None]], axis=-1)
    sign = 2.0 * batch['gender'].astype(shape.dtype) - 1.0
    target = jnp.concatenate([batch['betas'], sign[:, None]], axis=-1)
    terms['betas'] = mean(jnp.abs(shape - target))
    terms['shape_reg'] = mean(jnp.abs(shape))
  if 'rotation' in predictions:
    terms['pose'] = mean(jnp.abs(predictions['rotation'] - batch['pose']))
  if with_smpl:
    rotation, betas, gender = smpl_parameters(predictions, batch,
                                              project=False)
    points = jl_lib.smpl_points(points_model, rotation, betas, gender)
    error = jnp.abs(points - batch['jl'])
    if style == 'ours':
      terms['smpl'] = mean(error)
    else:
      joints = slice(1, jl_lib.NUM_JOINTS)
      landmarks = slice(jl_lib.NUM_JOINTS, jl_lib.NUM_POINTS)
      terms['smpl'] = mean(error[:, joints]) + mean(error[:, landmarks])
  return terms
