"""Inference: a trained SMPLR run as a function from JL to a body mesh."""

from __future__ import annotations

import pathlib
from typing import Callable

import jax
import jax.numpy as jnp

from smplr_jax import checkpoints
from smplr_jax import jl as jl_lib
from smplr_jax import pipeline
from smplr_jax import smplr as smplr_lib


def load_smplr(workdir: str | pathlib.Path,
               step: int | None = None) -> Callable[[jnp.ndarray], dict]:
  """Loads a trained SMPLR run (both networks) from its workdir.

  Args:
    workdir: workdir of a run trained with parts ('shape', 'pose'), e.g. the
      `experiments/smplr/configs/smplr.py` experiment.
    step: checkpoint step; default the best one.

  Returns:
    `predictor(jl)`: jl [B, 42, 3] root-relative metres -> dict with 'pose'
    [B, 24, 3, 3] (on SO(3)), 'betas' [B, S], 'gender' [B] (probability of
    male), 'vertices' [B, V, 3], 'joints' [B, 24, 3], 'landmarks' [B, 18, 3]
    (all root-relative metres), 'faces' [F, 3].
  """
  config, variables, _ = checkpoints.load_trained_variables(workdir, step)
  missing = set(smplr_lib.PARTS) - set(variables['params'])
  if missing:
    raise ValueError(f'{workdir}: the run trained only '
                     f'{sorted(variables["params"])}; a predictor needs both '
                     'networks (train experiments/smplr/configs/smplr.py).')
  body = smplr_lib.GenderedModels.load(config.get('body_model_path'))
  net = smplr_lib.SMPLR(config.smplr)

  @jax.jit
  def predict(variables, jl):
    body_out = pipeline.jl_to_body(net, body, variables, jl)
    return dict(pose=body_out['pose'], betas=body_out['betas'],
                gender=body_out['male_prob'], vertices=body_out['vertices'],
                joints=body_out['joints'], landmarks=body_out['landmarks'])

  def predictor(jl: jnp.ndarray) -> dict:
    jl = jnp.asarray(jl, jnp.float32)
    jl_lib.check_jl(jl)
    if not bool(jnp.all(jnp.isfinite(jl))):
      raise ValueError('jl contains NaN or Inf values.')
    return dict(predict(variables, jl), faces=body.gendered.faces)

  return predictor
