"""SMPL reverse (SMPLR): JL -> SMPL pose and shape -> SMPL -> mesh.

`SMPLR` bundles the two networks of the paper (Sec. 3.2) with the body model:
Psi regresses betas and gender from bone lengths B (Eq. 2), Omega regresses
the 24 relative rotations from bone directions N (Eq. 1), and the SMPL layer
turns them back into joints, landmarks and vertices. `SMPLRTask` trains any
subset of the two networks with the paper's losses on synthetic bodies, for
`smplr_jax.train.train_and_evaluate`.

Gender: index 0 = female, 1 = male (the stacked body model is
[female, male]); the shape network outputs a male logit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from smplr_jax import body_model as bm
from smplr_jax import jl as jl_lib
from smplr_jax import metrics as metrics_lib
from smplr_jax import models
from smplr_jax import noise
from smplr_jax import rotations
from smplr_jax import sampler
from smplr_jax import smpl

PARTS = ('shape', 'pose')
PyTree = Any


@dataclasses.dataclass(frozen=True)
class BodyModels:
  """The body models SMPLR works with.

  Attributes:
    gendered: stacked [female, male] model (full mesh).
    points: `gendered` restricted to the landmark vertices (cheap JL).
    template_lengths: [41] B*, bone lengths of the neutral template.
  """
  gendered: bm.BodyModel
  points: bm.BodyModel
  template_lengths: jnp.ndarray

  @classmethod
  def load(cls, path: str | None = None) -> 'BodyModels':
    gendered = sampler.load_gendered_models(path)
    neutral = bm.load_body_model(path, 'neutral')
    return cls(gendered=gendered,
               points=sampler.landmark_points_model(gendered),
               template_lengths=jl_lib.template_bone_lengths(neutral))


def points_from_parameters(body: BodyModels, rotation: jnp.ndarray,
                           betas: jnp.ndarray,
                           gender: jnp.ndarray) -> jnp.ndarray:
  """SMPL parameters -> root-relative JL [B, 42, 3], skinning only 18 vertices.

  Args:
    body: the body models.
    rotation: [B, 24, 3, 3] relative rotations.
    betas: [B, S] shape coefficients.
    gender: [B] int, 0 female / 1 male.
  """
  return sampler.smpl_points(body.points, rotation, betas, gender)


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
      self.shape_feature_ids = np.arange(jl_lib.NUM_POINTS - 1)
    elif config.shape_inputs == 'joints':
      self.shape_feature_ids = np.arange(jl_lib.NUM_JOINTS - 1)
    else:
      raise ValueError("shape_inputs must be 'joints_landmarks' or 'joints', "
                       f'got {config.shape_inputs!r}')

  def init(self, rng: jax.Array) -> dict[str, PyTree]:
    variables = {'params': {}, 'batch_stats': {}}
    dummy = jnp.zeros((2, jl_lib.NUM_POINTS, 3))
    for part, key in zip(PARTS, jax.random.split(rng)):
      if part in self.parts:
        net, inputs = self._net_and_inputs(part, dummy, jnp.zeros(41))
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


class SMPLRTask:
  """Trains SMPLR networks on synthetic bodies (a `train.Task`)."""

  def __init__(self, config: ml_collections.ConfigDict,
               body: BodyModels | None = None):
    self.config = config
    self.body = body or BodyModels.load(config.get('body_model_path'))
    self.smplr = SMPLR(config.smplr, axis_name='data')
    self.eval_smplr = SMPLR(config.smplr)

  # --- data -----------------------------------------------------------------

  def sample_batch(self, rng: jax.Array, batch_size: int) -> dict:
    body_key, noise_key = jax.random.split(rng)
    rotation, betas, gender = sampler.sample_parameters(
        body_key, batch_size, num_betas=self.config.smplr.num_betas)
    jl = points_from_parameters(self.body, rotation, betas, gender)
    return dict(jl=jl, pose=rotation, betas=betas, gender=gender,
                jl_in=noise.uniform_point_noise(
                    noise_key, jl, self.config.input_noise_scale))

  def validation_batches(self) -> list[dict]:
    key = jax.random.PRNGKey(self.config.validation_seed)
    size, batch = self.config.validation_size, self.config.eval_batch_size
    sample = jax.jit(self.sample_batch, static_argnums=1)
    return [jax.device_get(sample(jax.random.fold_in(key, i), batch))
            for i in range(max(1, size // batch))]

  # --- training -------------------------------------------------------------

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    variables = self.smplr.init(rng)
    from smplr_jax import train  # pylint: disable=g-import-not-at-top
    for part, workdir in self.config.init_from.items():
      if workdir:
        _, trained, _ = train.load_trained_variables(workdir)
        if part not in trained['params']:
          raise ValueError(f'{workdir} holds no {part!r} network (it has '
                           f'{sorted(trained["params"])}).')
        variables['params'][part] = trained['params'][part]
        variables['batch_stats'][part] = trained['batch_stats'][part]
    return variables

  def loss(self, params, batch_stats, batch, rng, train: bool):
    del rng
    smplr = self.smplr if train else self.eval_smplr
    weights = self.config.loss_weights
    predictions, new_stats = smplr.apply(params, batch_stats, batch['jl_in'],
                                         self.body.template_lengths, train)
    terms = {}
    if 'betas' in predictions:
      terms['betas'] = jnp.mean(jnp.abs(predictions['betas'] - batch['betas']))
      terms['gender'] = jnp.mean(optax.sigmoid_binary_cross_entropy(
          predictions['male_logit'], batch['gender'].astype(jnp.float32)))
      terms['shape_reg'] = jnp.mean(jnp.abs(predictions['betas']))
    if 'rotation' in predictions:
      terms['pose'] = jnp.mean(jnp.abs(predictions['rotation'] -
                                       batch['pose']))
    if weights.smpl:
      rotation, betas, gender = smpl_parameters(predictions, batch,
                                                project=False)
      points = points_from_parameters(self.body, rotation, betas, gender)
      terms['smpl'] = jnp.mean(jnp.abs(points - batch['jl']))
    loss = sum(weights[k] * v for k, v in terms.items())
    metrics = {f'loss_{k}': v for k, v in terms.items()}
    return loss, (metrics, new_stats)

  # --- evaluation -----------------------------------------------------------

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """Table-1 metrics on the held-out set, from clean and from noisy JL."""
    test_set = sampler.make_test_set(self.body.gendered,
                                     size=self.config.test_set_size,
                                     seed=self.config.test_seed)
    results = {}
    for name, scale in (('clean', 0.0), ('noisy', 1.0)):
      results.update({f'{name}/{k}': v for k, v in evaluate_on(
          self.eval_smplr, self.body, variables, test_set,
          noise_scale=scale, batch_size=self.config.eval_batch_size).items()})
    return results


def true_vertices(body: BodyModels, batch: dict) -> jnp.ndarray:
  """[B, V, 3] root-relative ground-truth mesh of a batch's SMPL parameters."""
  out = smpl.smpl_forward(body.gendered, batch['pose'], batch['betas'],
                          gender=batch['gender'])
  return out.vertices - out.joints[:, :1]


def smplr_jl_metrics(smplr: SMPLR, body: BodyModels,
                     variables: dict[str, PyTree], jl_in: jnp.ndarray,
                     batch: dict, gt_vertices: jnp.ndarray) -> dict:
  """SMPLR on input JL [B, 42, 3] -> per-sample `metrics.jl_metrics` of its
  SMPL output against the batch (ground truth for the parts not predicted)."""
  predictions, _ = smplr.apply(variables['params'], variables['batch_stats'],
                               jl_in, body.template_lengths, False)
  rotation, betas, gender = smpl_parameters(predictions, batch, project=True)
  out = smpl.smpl_forward(body.gendered, rotation, betas, gender=gender)
  pred_jl = jl_lib.joints_and_landmarks(body.gendered, out.vertices,
                                        out.joints)
  male_prob = (jax.nn.sigmoid(predictions['male_logit'])
               if 'male_logit' in predictions else None)
  return metrics_lib.jl_metrics(
      pred_jl, batch['jl'], pred_vertices=out.vertices - out.joints[:, :1],
      gt_vertices=gt_vertices, pred_male_prob=male_prob,
      gt_male=batch['gender'] == 1 if male_prob is not None else None)


def evaluate_on(smplr: SMPLR, body: BodyModels, variables: dict[str, PyTree],
                test_set: dict[str, np.ndarray], noise_scale: float,
                batch_size: int) -> dict[str, float]:
  """Runs SMPLR on a test set and reduces `metrics.jl_metrics` over it."""

  @jax.jit
  def batch_metrics(variables, batch, key):
    jl_in = noise.uniform_point_noise(key, batch['jl'], noise_scale)
    return smplr_jl_metrics(smplr, body, variables, jl_in, batch,
                            true_vertices(body, batch))

  size = len(test_set['jl'])
  totals = None
  key = jax.random.PRNGKey(1234)
  for start in range(0, size - batch_size + 1, batch_size):
    batch = {k: v[start:start + batch_size] for k, v in test_set.items()}
    per_sample = batch_metrics(variables, batch,
                               jax.random.fold_in(key, start))
    totals = metrics_lib.accumulate(totals, per_sample)
  return metrics_lib.finalize(totals)
