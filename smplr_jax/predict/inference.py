"""Inference: from JL (`load_smplr`) or from an image (`load_pipeline`) to a
body mesh, in the camera frame (x right, y down, z forward), root-relative
metres.

`load_pipeline()` uses the weights shipped in `third_party/weights/` (the
image network, the DAE and SMPLR, each with its model card); `crop.crop_person`
makes the paper's root-centred crop of a photo from a person box.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import checks, crop
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import bundle
from smplr_jax.predict import fit, pipeline, prediction
from smplr_jax.predict import hypotheses as hypotheses_lib


def load_smplr(workdir: str | pathlib.Path,
               step: int | None = None) -> Callable[[jnp.ndarray], dict]:
  """Loads a trained SMPLR run (both networks) from its workdir.

  Args:
    workdir: workdir of a run trained with parts ('shape', 'pose'), e.g. the
      `experiments/smplr/configs/smplr.py` experiment, or an exported
      folder (`third_party/weights/smplr`).
    step: checkpoint step; default the best one.

  Returns:
    `predictor(jl)`: jl [B, 42, 3] root-relative metres -> the prediction
    (`smplr_jax.predict.prediction`; jl_front_end and jl_smplr_input are
    the given JL). It raises ValueError on JL with NaN/Inf, in millimetres
    or centimetres, or not root-relative (`jl.check_jl_values`).

  Raises:
    ValueError: `workdir` does not exist, is not a run, or lacks a network.
  """
  config, net, variables = bundle.load_smplr(workdir, step)
  body = gendered.GenderedModels.load(config.get('body_model_path'))

  @jax.jit
  def predict(variables, jl):
    return dict(pipeline.jl_to_body(net, body, variables, jl), jl_input=jl)

  def predictor(jl: jnp.ndarray) -> dict:
    jl_lib.check_jl_values(jl)  # NaN, millimetres, a root off the origin
    jl = jnp.asarray(jl, jnp.float32)
    return prediction.from_chain(predict(variables, jl), body.gendered.faces,
                                 jl_front_end=jl)

  return predictor


class ImagePredictor:
  """Root-centred crops -> bodies (`pipeline.image_to_body`), jitted.

  Attributes:
    input_size: S, the crops' side.
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the image network and SMPLR.
    refine: whether SMPLR's body is refined to SMPLR's input JL
      (`fit.refine_prediction`).
    flip_test: whether the image network also sees the mirrored crop and
      the two JL are averaged (`pipeline.image_to_body`).
  """

  def __init__(self, stages: bundle.Stages, variables: dict[str, Any],
               body: gendered.GenderedModels, input_size: int,
               refine: bool = False, flip_test: bool = False,
               photo_path: Callable[[], Any] | None = None):
    self._load_photo_path = photo_path
    self._photo_path = None
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

  def __call__(self, crops: Any, root_cam: Any = None) -> dict[str, Any]:
    """Bodies from crops.

    Args:
      crops: uint8 [B, S, S, 3] (or [S, S, 3]) root-centred crops, each a
        square window of side f * 2.5 m / z_root centred on the root's pixel
        resized to S (`crop.crop_person`, or `augment.process_example(...,
        train=False)`).
      root_cam: [B, 3] roots in camera coordinates (`crop.Crop.root_cam`) for the
        exact perspective conversion; None reads the crops under weak
        perspective (`crop.cube_to_root_relative`).

    Returns:
      the prediction (`smplr_jax.predict.prediction`): jl_front_end (the
      image network's JL), jl_smplr_input, jl_body, joints, landmarks,
      vertices, pose, betas, gender (index), male_probability, faces.
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
      result = fit.refine_prediction(result, self.body)
    return result

  def photo_path(self):
    """The whole-photo predictor (`detector.BlazePosePredictor`: detector
    -> adapter -> SMPLR -> fit), loaded on first use.

    Raises:
      ValueError: this pipeline has none (front_end='crop'), or the
        detector extra is not installed (the message says how to install
        it, and that a box works without it).
    """
    if self._photo_path is None:
      if self._load_photo_path is None:
        raise ValueError("no box given: this pipeline (front_end='crop') "
                         'needs a person box; load_pipeline() finds people '
                         'itself.')
      try:
        self._photo_path = self._load_photo_path()
      except ImportError as e:
        raise ValueError(f'no box given, and finding the person needs the '
                         f'detector extra: {e} Or pass a person box.') from e
    return self._photo_path

  def predict_image(self, image: Any,
                    box: tuple[float, float, float, float] | None = None,
                    focal: float | None = None) -> dict[str, Any]:
    """One photo -> body.

    Without a box, the photo path (`photo_path`): the detector finds the
    person, an adapter and SMPLR give a body, a fit matches it to every
    keypoint (its dict adds 'keypoints_2d', 'box', 'fit_cost',
    'hypothesis'). With a box, the image network on the paper's crop
    (`crop.crop_person`). Both add 'crop', 'root_cam' (the root in the
    camera frame, metres) and 'focal' (pixels; None assumes a
    `crop.DEFAULT_FIELD_OF_VIEW_DEG` field of view).
    """
    if box is None:
      return self.photo_path().predict_image(image, focal)
    window = crop.crop_person(image, box, self.input_size, focal,
                              self.stages.cube_size)
    out = self(window.image[None], window.root_cam[None])
    return dict({k: v[0] if k != 'faces' else v for k, v in out.items()},
                crop=window.image, root_cam=window.root_cam,
                focal=window.focal)

  def predict_people(self, image: Any,
                     focal: float | None = None) -> list[dict[str, Any]]:
    """Every person in a photo, each as `predict_image(image)`'s dict (the
    photo path); [] when there is none."""
    return self.photo_path().predict_people(image, focal)

  def predict_video(self, frames: Any, fps: float | None = None,
                    **kwargs) -> dict[str, Any]:
    """Every person in a clip (a video file or uint8 [H, W, 3] frames),
    tracked, one shape each, fitted over time: `video.predict_video` with
    this pipeline's photo path (its keyword arguments: focal, options,
    progress)."""
    from smplr_jax.predict import video  # pylint: disable=g-import-not-at-top
    return video.predict_video(self.photo_path(), frames, fps, **kwargs)


def load_pipeline(path: str | pathlib.Path | None = None, *,
                  use_dae: bool = True,
                  smplr: str | pathlib.Path | None = None,
                  front_end: str = 'auto', refine: bool = False,
                  flip_test: bool = False, fit: bool = True,
                  hypotheses: tuple[str, ...] | None = None) -> Any:
  """The image -> body predictor: an `ImagePredictor`, or with
  front_end='blazepose' a `detector.BlazePosePredictor`.

  The default ('auto') takes a photo alone: `predict_image(photo)` runs the
  detector path (detector -> adapter -> SMPLR -> fit with hypotheses, the
  most accurate on real photos; needs `pip install -e ".[detector]"`), and
  `predict_image(photo, box)` the image network on the box's crop.

  Args:
    path: a pipeline folder (`bundle.load_stages`): sub-folders
      'image_net', 'smplr' and (optionally) 'dae', each an exported folder
      (`weights_io.export_variables`) or a training workdir; None loads the
      weights shipped in `third_party/weights/`.
    use_dae: run the DAE between the image network and SMPLR (when there
      is one).
    smplr: another SMPLR (exported folder or workdir) in place of the
      pipeline's.
    front_end: 'auto' (as above), 'crop' (the image network on person
      crops only: a box is required) or 'blazepose' (the
      `detector.BlazePosePredictor` itself).
    refine: refine each body to the JL SMPLR saw by a short fit
      (`fit.refine_prediction`; the 'crop' front end).
    flip_test: the image network also reads the mirrored crop and the two
      JL are averaged ('crop' front end; twice its cost, 3.2 mm better
      MPJPE with the shipped U-Net, docs/photo_path.md).
    fit: the detector path fits SMPLR's body to the keypoints.
    hypotheses: the readings the detector path fits (`hypotheses.ALL`;
      None: `hypotheses.DEFAULT`).

  Raises:
    ValueError: a missing folder, an SMPLR without both networks, or an
      unknown front end.
    ImportError: front_end='blazepose' without mediapipe.
  """
  if front_end not in ('auto', 'crop', 'blazepose'):
    raise ValueError(f"front_end must be 'auto', 'crop' or 'blazepose', "
                     f'got {front_end!r}.')
  hypotheses = hypotheses_lib.check_names(
      hypotheses_lib.DEFAULT if hypotheses is None else hypotheses)

  def photo_path():
    # The optional extra: imported only here, so that the rest works
    # without mediapipe.
    from smplr_jax.predict import detector  # pylint: disable=g-import-not-at-top
    return detector.load_blazepose_pipeline(path, use_dae=use_dae,
                                            smplr=smplr, fit=fit,
                                            hypotheses=hypotheses)

  if front_end == 'blazepose':
    if refine or flip_test:
      raise ValueError("refine and flip_test are implemented for the crop "
                       "front end.")
    return photo_path()
  loaded = bundle.load_stages(path, dae=use_dae, smplr=smplr)
  return ImagePredictor(loaded.stages, loaded.variables, loaded.body,
                        loaded.input_size, refine=refine,
                        flip_test=flip_test,
                        photo_path=photo_path if front_end == 'auto' else None)
