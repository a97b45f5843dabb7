"""Stitched evaluations: SMPLR alone and behind the DAE on noisy JL, the
rows of the paper's Table 1 that combine stages (mm)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import gendered
from smplr_jax.data import noise
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import dae as dae_lib
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.predict.pipeline import Stages, denoise_and_recover, jl_to_body

PyTree = Any


def smplr_jl_metrics(smplr: smplr_lib.SMPLR, body: gendered.GenderedModels,
                     variables: dict[str, PyTree], jl_in: jnp.ndarray,
                     batch: dict, gt_vertices: jnp.ndarray,
                     project_rotations: bool = True) -> dict:
  """SMPLR on input JL [B, 42, 3] -> per-sample `metrics.jl_metrics` of its
  SMPL output against the batch (ground truth for the parts not predicted).

  Args:
    smplr, body, variables, project_rotations: as in `jl_to_body`.
    jl_in: [B, 42, 3] input JL.
    batch: ground truth: jl [B, 42, 3], pose, betas, gender.
    gt_vertices: [B, V, 3] root-relative true mesh (`gendered.true_vertices`).
  """
  recovered = jl_to_body(smplr, body, variables, jl_in, ground_truth=batch,
                         project_rotations=project_rotations)
  male_prob = recovered.get('male_prob')
  return metrics_lib.jl_metrics(
      recovered['jl'], batch['jl'], pred_vertices=recovered['vertices'],
      gt_vertices=gt_vertices, pred_male_prob=male_prob,
      gt_male=batch['gender'] == 1 if male_prob is not None else None)


def evaluate_stitched(dae_net: dae_lib.DAE, dae_variables: dict[str, PyTree],
                      smplr_net: smplr_lib.SMPLR,
                      smplr_variables: dict[str, PyTree],
                      body: gendered.GenderedModels,
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

  with_dae = Stages(image_net=None, smplr=smplr_net, dae=dae_net)
  variables = {'smplr': smplr_variables, 'dae': dae_variables}

  def smpl_metrics(recovered, batch, gt_vertices):
    male_prob = recovered['male_prob']
    return metrics_lib.jl_metrics(
        recovered['jl'], batch['jl'], pred_vertices=recovered['vertices'],
        gt_vertices=gt_vertices, pred_male_prob=male_prob,
        gt_male=batch['gender'] == 1)

  @jax.jit
  def rows(batch, noise_key):
    jl_in = noise.add_noise(noise_key, batch['jl'], noise_kind, 1.0,
                            **noise_params)
    recovered = denoise_and_recover(with_dae, variables, body, jl_in)
    gt_vertices = gendered.true_vertices(body, batch)
    dae_in = dae_lib.drop_depth(jl_in) if dae_net.zero_depth else jl_in
    return {'input': metrics_lib.jl_metrics(dae_in, batch['jl']),
            'dae': metrics_lib.jl_metrics(recovered['jl_input'], batch['jl']),
            'smplr': smpl_row(jl_in, batch, gt_vertices),
            'dae+smplr': smpl_metrics(recovered, batch, gt_vertices)}

  return metrics_lib.reduce_batches(
      test_set, batch_size,
      lambda b, start: rows(b, jax.random.fold_in(key, start)))
