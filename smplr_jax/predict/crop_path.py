"""The crop path: a person box -> the paper's root-centred crop -> image
network -> (DAE) -> SMPLR -> body (`pipeline.image_to_body`, jitted).

`CropPath.predict_crops` is the batched network call on crops;
`predict_box` crops one photo around a box first (`crop.crop_person`).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from smplr_jax import checks, crop, fitting
from smplr_jax.body import gendered
from smplr_jax.nets import bundle
from smplr_jax.predict import pipeline, prediction


class CropPath:
  """Root-centred crops -> bodies, jitted.

  Attributes:
    stages: the networks (`bundle.Stages`; stages.image_net is set).
    variables: their variables.
    body: the body models.
    input_size: S, the crops' side.
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the image network and SMPLR.
    refine: whether SMPLR's body is refined to SMPLR's input JL
      (`fitting.refine_prediction`).
    flip_test: whether the image network also sees the mirrored crop and
      the two JL are averaged (`pipeline.image_to_body`).
  """

  def __init__(self, stages: bundle.Stages, variables: dict[str, Any],
               body: gendered.GenderedModels, input_size: int,
               refine: bool = False, flip_test: bool = False):
    self.refine = refine
    self.flip_test = flip_test
    self.stages = stages
    self.variables = variables
    self.body = body
    self.input_size = input_size
    self.faces = np.asarray(body.gendered.faces)
    self.uses_dae = stages.dae is not None
    # root None (weak perspective) is an empty pytree: its own compilation.
    self._predict = jax.jit(
        lambda v, images, root: pipeline.image_to_body(
            stages, v, body, images, root, flip_test=flip_test))

  def predict_crops(self, crops: Any, root_cam: Any = None) -> dict[str, Any]:
    """Bodies from crops, batched.

    Args:
      crops: uint8 [B, S, S, 3] (or [S, S, 3]) root-centred crops, each a
        square window of side f * 2.5 m / z_root centred on the root's pixel
        resized to S (`crop.crop_person`, or `augment.process_example(...,
        train=False)`); or floats in [0, 1].
      root_cam: [B, 3] roots in camera coordinates (`crop.Crop.root_cam`)
        for the exact perspective conversion; None reads the crops under
        weak perspective (`crop.cube_to_root_relative`).

    Returns:
      the batched prediction (`prediction.BODY_KEYS`, [B, ...];
      jl_front_end is the image network's JL), with fit_cost when refined.

    Raises:
      ValueError: a wrong shape, NaN/Inf, floats outside [0, 1], or roots
        that are not [B, 3] with positive depths.
    """
    crops = np.asarray(crops)
    if crops.ndim == 3:
      crops = crops[None]
    size = self.input_size
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
      raise ValueError(f'crops must be [B, {size}, {size}, 3] (this '
                       f'pipeline\'s input_size is {size}), got '
                       f'{crops.shape}; make them with crop.crop_person.')
    if crops.dtype == np.uint8:
      images = crops.astype(np.float32) / 255.0
    else:
      images = crops.astype(np.float32)
      checks.check_finite(images, 'crops')
      if images.min() < 0 or images.max() > 1:
        raise ValueError('float crops must be in [0, 1].')
    if root_cam is not None:
      root_cam = np.asarray(root_cam, np.float32).reshape(-1, 3)
      checks.check_finite(root_cam, 'root_cam')
      if root_cam.shape[0] != images.shape[0] or not np.all(
          root_cam[:, 2] > 0):
        raise ValueError('root_cam must be [B, 3] with positive depths.')
    out = self._predict(self.variables, images, root_cam)
    result = prediction.from_chain(out, self.faces)
    if self.refine:
      result = fitting.refine_prediction(result, self.body)
    return result

  def predict_box(self, photo: Any, box: Any,
                  focal: float | None = None) -> dict[str, Any]:
    """One photo's body from a person box (x0, y0, x1, y1 pixels): the
    image network on the box's root-centred crop. Returns one body
    (`prediction.PHOTO_KEYS` included; front_end 'crop')."""
    window = crop.crop_person(photo, box, self.input_size, focal,
                              self.stages.cube_size)
    out = prediction.one_body(self.predict_crops(window.image[None],
                                                 window.root_cam[None]))
    return dict(out, crop=window.image, root_cam=window.root_cam,
                focal=window.focal,
                box=np.asarray(box, np.float64).reshape(-1),
                front_end='crop', used_dae=self.uses_dae)
