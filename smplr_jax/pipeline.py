"""From JL to a body: the stages after the image network as pure functions.

    JL [B, 42, 3] -> (DAE) -> Psi, Omega -> SMPL parameters -> SMPL -> mesh

`jl_to_body` is the one function from JL to joints, landmarks and vertices,
used by evaluation (`smplr_jl_metrics`, `evaluate_stitched`) and inference
(`smplr_jax.inference`). JL are root-relative metres.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import dae as dae_lib
from smplr_jax import jl as jl_lib
from smplr_jax import metrics as metrics_lib
from smplr_jax import noise
from smplr_jax import smpl
from smplr_jax import smplr as smplr_lib

PyTree = Any


def jl_to_body(smplr: smplr_lib.SMPLR, body: smplr_lib.GenderedModels,
               variables: dict[str, PyTree], jl: jnp.ndarray,
               ground_truth: dict[str, jnp.ndarray] | None = None
               ) -> dict[str, jnp.ndarray]:
  """SMPLR's networks on JL, then SMPL: the recovered body.

  Rotation-matrix outputs are projected onto SO(3) before SMPL; gender is
  the hard switch of the authors' code (male when the logit > 0).

  Args:
    smplr: the networks (inference mode is used).
    body: the body models.
    variables: {'params', 'batch_stats'} of `smplr`.
    jl: [B, 42, 3] root-relative input JL (metres).
    ground_truth: pose [B, 24, 3, 3], betas, gender standing in for a part
      `smplr` does not predict (a Psi-only or Omega-only run); None when it
      predicts both.

  Returns:
    dict with pose [B, 24, 3, 3], betas [B, S], gender [B] int (0 female,
    1 male), male_prob [B] (only when Psi runs), and the SMPL output, all
    root-relative metres: jl [B, 42, 3], joints [B, 24, 3], landmarks
    [B, 18, 3], vertices [B, V, 3].
  """
  predictions, _ = smplr.apply(variables['params'], variables['batch_stats'],
                               jl, body.template_lengths, False)
  rotation, betas, gender = smplr_lib.smpl_parameters(predictions,
                                                      ground_truth,
                                                      project=True)
  out = smpl.smpl_forward(body.gendered, rotation, betas, gender=gender)
  root = out.joints[:, :1]
  points = jl_lib.joints_and_landmarks(body.gendered, out.vertices,
                                       out.joints)
  result = dict(pose=rotation, betas=betas, gender=gender, jl=points,
                joints=out.joints - root,
                landmarks=points[:, jl_lib.NUM_JOINTS:],
                vertices=out.vertices - root)
  if 'male_logit' in predictions:
    result['male_prob'] = jax.nn.sigmoid(predictions['male_logit'])
  return result


def smplr_jl_metrics(smplr: smplr_lib.SMPLR, body: smplr_lib.GenderedModels,
                     variables: dict[str, PyTree], jl_in: jnp.ndarray,
                     batch: dict, gt_vertices: jnp.ndarray) -> dict:
  """SMPLR on input JL [B, 42, 3] -> per-sample `metrics.jl_metrics` of its
  SMPL output against the batch (ground truth for the parts not predicted).

  Args:
    smplr, body, variables: as in `jl_to_body`.
    jl_in: [B, 42, 3] input JL.
    batch: ground truth: jl [B, 42, 3], pose, betas, gender.
    gt_vertices: [B, V, 3] root-relative true mesh (`smplr.true_vertices`).
  """
  recovered = jl_to_body(smplr, body, variables, jl_in, ground_truth=batch)
  male_prob = recovered.get('male_prob')
  return metrics_lib.jl_metrics(
      recovered['jl'], batch['jl'], pred_vertices=recovered['vertices'],
      gt_vertices=gt_vertices, pred_male_prob=male_prob,
      gt_male=batch['gender'] == 1 if male_prob is not None else None)


def evaluate_stitched(dae_net: dae_lib.DAE, dae_variables: dict[str, PyTree],
                      smplr_net: smplr_lib.SMPLR,
                      smplr_variables: dict[str, PyTree],
                      body: smplr_lib.GenderedModels,
                      test_set: dict[str, np.ndarray], noise_kind: str,
                      noise_seed: int, batch_size: int,
                      noise_params: dict | None = None
                      ) -> dict[str, dict[str, float]]:
  """SMPLR with and without the DAE in front, on noisy JL (mm).

  The noise of batch `start` is drawn from fold_in(PRNGKey(noise_seed),
  start) (as in `tasks.dae.DAETask.evaluate` and `tasks.smplr.evaluate_on`),
  so the 'input' and 'dae' rows equal a DAE run's '<noise>/before|after'
  results.

  Args:
    dae_net, dae_variables: the trained DAE (inference module).
    smplr_net, smplr_variables: a trained SMPLR with both networks.
    body: the body models.
    test_set: `sampler.make_test_set` output (jl, pose, betas, gender).
    noise_kind: a key of `noise.NOISE_MODELS`.
    noise_seed: seed of the noise.
    batch_size: evaluation batch size.
    noise_params: keyword parameters of the noise model.

  Returns:
    {row: metrics} for rows 'input' (noisy JL), 'dae' (DAE(noisy)),
    'smplr' (SMPL output of SMPLR(noisy)) and 'dae+smplr' (of
    SMPLR(DAE(noisy))); SMPLR rows include 'surface' and 'gender_acc'.
  """
  if set(smplr_net.parts) != set(smplr_lib.PARTS):
    raise ValueError(f'the SMPLR run trained only {list(smplr_net.parts)}; '
                     'the stitched evaluation needs shape and pose')
  noise_params = noise_params or {}
  key = jax.random.PRNGKey(noise_seed)

  def smpl_row(jl_in, batch, gt_vertices):
    return smplr_jl_metrics(smplr_net, body, smplr_variables, jl_in, batch,
                            gt_vertices)

  @jax.jit
  def rows(batch, noise_key):
    jl_in = noise.add_noise(noise_key, batch['jl'], noise_kind, 1.0,
                            **noise_params)
    denoised = dae_net.apply(dae_variables, jl_in, train=False)
    gt_vertices = smplr_lib.true_vertices(body, batch)
    dae_in = dae_lib.drop_depth(jl_in) if dae_net.zero_depth else jl_in
    return {'input': metrics_lib.jl_metrics(dae_in, batch['jl']),
            'dae': metrics_lib.jl_metrics(denoised, batch['jl']),
            'smplr': smpl_row(jl_in, batch, gt_vertices),
            'dae+smplr': smpl_row(denoised, batch, gt_vertices)}

  return metrics_lib.reduce_batches(
      test_set, batch_size,
      lambda b, start: rows(b, jax.random.fold_in(key, start)))
