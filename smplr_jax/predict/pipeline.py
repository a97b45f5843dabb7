"""From an image to a body: every stage after the pixels as pure functions.

    image crop [B, S, S, 3] -> image network -> volume logits [B, H, W, D, 45]
      -> soft-argmax -> cube-frame JL -> camera-frame JL [B, 42, 3]
      -> (DAE) -> Psi, Omega -> SMPL parameters -> SMPL -> mesh

One frame for every stage after the crop: JL in the camera frame (OpenCV:
x right, y down, z forward), metres, root-relative (`smplr_jax.data.records`).
The only conversion is at the image network's edge, from its cube frame
(`crop.cube_to_root_relative`).

`image_to_body` (crops) and `volume_to_body` (logits, the end-to-end
training step) run the whole chain; `denoise_and_recover` is the JL part
(DAE then SMPLR) and `jl_to_body` the SMPLR part. Training
(`training.tasks.end_to_end`), evaluation (`evaluation.stitched`) and
inference (`predict.crop_path`, `predict.keypoint_predictor`) all call them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from smplr_jax import crop
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import heatmaps
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.nets.bundle import Stages

PyTree = Any


def jl_to_body(smplr: smplr_lib.SMPLR, body: gendered.GenderedModels,
               variables: dict[str, PyTree], jl: jnp.ndarray,
               ground_truth: dict[str, jnp.ndarray] | None = None,
               with_mesh: bool = True,
               project_rotations: bool = True,
               check_inputs: bool = False) -> dict[str, jnp.ndarray]:
  """SMPLR's networks on JL, then SMPL: the recovered body.

  Rotation-matrix outputs are projected onto SO(3) before SMPL (the
  authors feed the raw matrices: `project_rotations=False`); gender is the
  hard switch of the authors' code (male when the logit > 0).

  Args:
    smplr: the networks (inference mode is used).
    body: the body models.
    variables: {'params', 'batch_stats'} of `smplr`.
    jl: [B, 42, 3] root-relative input JL (metres).
    ground_truth: pose [B, 24, 3, 3], betas, gender standing in for a part
      `smplr` does not predict (a Psi-only or Omega-only run); None when it
      predicts both.
    with_mesh: False stops before SMPL (a training loss that needs only the
      networks' raw outputs).
    project_rotations: project rotation-matrix outputs onto SO(3) (SVD).
    check_inputs: check concrete JL from a caller first
      (`jl.check_jl_values`: NaN/Inf, millimetres, root off the origin);
      off inside the chain, whose JL an untrained network may make tiny.

  Returns:
    dict with predictions (the networks' raw outputs, `SMPLR.apply`), pose
    [B, 24, 3, 3], betas [B, S], gender [B] int (0 female, 1 male),
    male_prob [B] (only when Psi runs), and with `with_mesh` the SMPL output,
    all root-relative metres: jl [B, 42, 3], joints [B, 24, 3], landmarks
    [B, 18, 3], vertices [B, V, 3].
  """
  if check_inputs:
    jl_lib.check_jl_values(jl)
  predictions, _ = smplr_lib.forward(smplr, variables['params'],
                                     variables['batch_stats'], jl,
                                     body.template_lengths, False)
  rotation, betas, gender = smplr_lib.smpl_parameters(predictions,
                                                      ground_truth,
                                                      project_rotations)
  result = dict(predictions=predictions, pose=rotation, betas=betas,
                gender=gender)
  if 'male_logit' in predictions:
    result['male_prob'] = jax.nn.sigmoid(predictions['male_logit'])
  if not with_mesh:
    return result
  result.update(gendered.posed_body(body.gendered, rotation, betas, gender))
  return result


def denoise_and_recover(stages: Stages, variables: dict[str, PyTree],
                        body: gendered.GenderedModels, jl: jnp.ndarray,
                        ground_truth: dict[str, jnp.ndarray] | None = None,
                        with_mesh: bool = True) -> dict[str, jnp.ndarray]:
  """Camera-frame JL -> (DAE) -> SMPLR -> SMPL.

  Args:
    stages: the networks (`stages.dae` may be None).
    variables: {'smplr': ..., 'dae': ... (when stages.dae)}.
    body: the body models.
    jl: [B, 42, 3] root-relative camera-frame JL (metres).
    ground_truth, with_mesh: as in `jl_to_body`.

  Returns:
    `jl_to_body`'s dict plus jl_input [B, 42, 3] (what SMPLR saw: the DAE's
    output, or `jl`).
  """
  jl_input = jl
  if stages.dae is not None:
    jl_input = stages.dae.apply(variables['dae'], jl, train=False)
  out = jl_to_body(stages.smplr, body, variables['smplr'], jl_input,
                   ground_truth, with_mesh)
  return dict(out, jl_input=jl_input)


def _volume_jl(stages: Stages, volume_logits: jnp.ndarray,
               root_cam: jnp.ndarray | None,
               zoom: jnp.ndarray | float) -> jnp.ndarray:
  """Logit volumes -> the image network's root-relative camera-frame JL."""
  jl_cube = heatmaps.predict_jl(volume_logits, stages.cube_size)
  return crop.cube_to_root_relative(jl_cube, root_cam, zoom)


def volume_to_body(stages: Stages, variables: dict[str, PyTree],
                   body: gendered.GenderedModels, volume_logits: jnp.ndarray,
                   root_cam: jnp.ndarray | None = None,
                   zoom: jnp.ndarray | float = 1.0,
                   ground_truth: dict[str, jnp.ndarray] | None = None,
                   with_mesh: bool = True) -> dict[str, jnp.ndarray]:
  """One stack's volume logits -> body (differentiable end to end).

  Args:
    stages, variables, body: as in `denoise_and_recover`.
    volume_logits: [B, H, W, D, 45] the last stack's logits.
    root_cam: [B, 3] the root in camera coordinates (exact conversion), or
      None (weak perspective, `crop.cube_to_root_relative`).
    zoom: [B] or scalar crop zoom.
    ground_truth, with_mesh: as in `jl_to_body`.

  Returns:
    `denoise_and_recover`'s dict plus jl_image [B, 42, 3] (the image
    network's root-relative camera-frame JL).
  """
  jl_image = _volume_jl(stages, volume_logits, root_cam, zoom)
  out = denoise_and_recover(stages, variables, body, jl_image, ground_truth,
                            with_mesh)
  return dict(out, jl_image=jl_image)


def image_to_body(stages: Stages, variables: dict[str, PyTree],
                  body: gendered.GenderedModels, images: jnp.ndarray,
                  root_cam: jnp.ndarray | None = None,
                  zoom: jnp.ndarray | float = 1.0,
                  flip_test: bool = False) -> dict[str, jnp.ndarray]:
  """Root-centred crops -> body: the whole pipeline in inference mode.

  Args:
    stages, body: as in `denoise_and_recover`.
    variables: {'image_net', 'smplr', 'dae' (when stages.dae)}.
    images: [B, S, S, 3] float crops in [0, 1] (the paper's root-centred
      crop, `augment.process_example(..., train=False)`).
    root_cam, zoom: as in `volume_to_body`.
    flip_test: also run the image network on the mirrored crops and average
      the two JL (the mirrored crop is the crop of the mirrored scene, whose
      root is (-x, y, z): its JL, converted with that root, mirrored back
      and relabelled, `crop.mirror_points`). Twice the image network's cost.

  Returns:
    `volume_to_body`'s dict: jl_image, jl_input, pose [B, 24, 3, 3], betas,
    gender, male_prob, and the SMPL output jl, joints, landmarks, vertices
    (root-relative camera-frame metres).
  """
  if not flip_test:
    outputs = stages.image_net.apply(variables['image_net'], images,
                                     train=False)
    return volume_to_body(stages, variables, body, outputs[-1], root_cam,
                          zoom)
  count = images.shape[0]
  both = jnp.concatenate([images, images[:, :, ::-1]], axis=0)
  logits = stages.image_net.apply(variables['image_net'], both,
                                  train=False)[-1]
  roots = None if root_cam is None else jnp.concatenate(
      [root_cam, root_cam * jnp.asarray([-1.0, 1.0, 1.0])], axis=0)
  zooms = jnp.concatenate([jnp.broadcast_to(jnp.asarray(zoom), (count,))] * 2)
  jl_both = _volume_jl(stages, logits, roots, zooms)
  jl_image = 0.5 * (jl_both[:count] +
                    crop.mirror_points(jl_both[count:]))
  out = denoise_and_recover(stages, variables, body, jl_image)
  return dict(out, jl_image=jl_image)
