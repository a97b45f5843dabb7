"""SMPL reverse (SMPLR): JL -> SMPL pose and shape -> SMPL -> mesh.

`SMPLR` bundles the two networks of the paper (Sec. 3.2): Psi regresses
betas and gender from bone lengths B (Eq. 2), Omega regresses the 24 relative
rotations from bone directions N (Eq. 1); `smpl_parameters` turns their
outputs into SMPL parameters and `GenderedModels` holds the body models they
are used with. `smplr_jax.predict.pipeline` runs them through SMPL to a mesh;
`smplr_jax.training.tasks.smplr.SMPLRTask` trains them.

Gender: index 0 = female, 1 = male (the stacked body model is
[female, male]); the shape network outputs a male logit.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from smplr_jax.body import body_model as bm
from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import mlp as models
from smplr_jax.body import rotations

PARTS = ('shape', 'pose')
PyTree = Any


class SMPLR:
  """The networks of SMPLR and how they map JL to SMPL parameters.

  Attributes:
    parts: which networks exist: ('shape',), ('pose',) or both.
    shape_net / pose_net: the Flax modules.
    shape_feature_ids: which of the 41 bone-length features Psi sees (all, or
      only the 23 skeleton bones for the no-landmark ablation).
  """

  def __init__(self, config: ml_collections.ConfigDict,
               axis_name: str | None = None):
    self.parts = tuple(config.parts)
    unknown = set(self.parts) - set(PARTS)
    if unknown or not self.parts:
      raise ValueError(f'parts must be a non-empty subset of {PARTS}, got '
                       f'{self.parts}')
    self.rotation = config.rotation
    self.shape_net = models.ShapeNet(num_betas=config.num_betas,
                                     activation=config.activation,
                                     axis_name=axis_name)
    self.pose_net = models.PoseNet(rotation=config.rotation,
                                   activation=config.activation,
                                   axis_name=axis_name)
    if config.shape_inputs == 'joints_landmarks':
      self.shape_feature_ids = np.arange(jl_lib.NUM_BONES)
    elif config.shape_inputs == 'joints':  # the 23 bones ending at a joint
      self.shape_feature_ids = np.arange(jl_lib.NUM_JOINTS - 1)
    else:
      raise ValueError("shape_inputs must be 'joints_landmarks' or 'joints', "
                       f'got {config.shape_inputs!r}')

  def init(self, rng: jax.Array) -> dict[str, PyTree]:
    variables = {'params': {}, 'batch_stats': {}}
    dummy = jnp.zeros((2, jl_lib.NUM_POINTS, 3))
    for part, key in zip(PARTS, jax.random.split(rng)):
      if part in self.parts:
        net, inputs = self._net_and_inputs(part, dummy,
                                           jnp.zeros(jl_lib.NUM_BONES))
        v = net.init(key, inputs, train=False)
        variables['params'][part] = v['params']
        variables['batch_stats'][part] = v['batch_stats']
    return variables

  def _net_and_inputs(self, part, jl, template_lengths):
    if part == 'shape':
      features = jl_lib.shape_features(jl, template_lengths)
      return self.shape_net, features[:, self.shape_feature_ids]
    return self.pose_net, jl_lib.bone_directions(jl)

  def apply(self, params: PyTree, batch_stats: PyTree, jl: jnp.ndarray,
            template_lengths: jnp.ndarray, train: bool):
    """Runs the networks on root-relative JL [B, 42, 3].

    Returns:
      (predictions, new batch_stats); predictions holds 'betas' [B, S] and
      'male_logit' [B] (shape part), 'rotation' [B, 24, 3, 3] (pose part).
    """
    predictions, new_stats = {}, {}
    for part in self.parts:
      net, inputs = self._net_and_inputs(part, jl, template_lengths)
      variables = {'params': params[part], 'batch_stats': batch_stats[part]}
      if train:
        out, updates = net.apply(variables, inputs, train=True,
                                 mutable=['batch_stats'])
        new_stats[part] = updates['batch_stats']
      else:
        out = net.apply(variables, inputs, train=False)
        new_stats[part] = batch_stats[part]
      if part == 'shape':
        predictions['betas'], predictions['male_logit'] = out
      else:
        predictions['rotation'] = out
    return predictions, new_stats


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
