"""The front door: `load_pipeline()` -> one `Predictor` for photos, boxes,
crops and clips; `load_smplr()` for JL.

    predictor = load_pipeline()
    body = predictor.predict_image(photo)              # the photo path
    body = predictor.predict_image(photo, gender='female')  # stated
    body = predictor.predict_image(photo, box=box)     # the crop path
    people = predictor.predict_people(photo)           # everyone found
    bodies = predictor.predict_crops(crops, root_cam)  # batched crops
    clip = predictor.predict_video('walk.mp4')         # tracks over time
    vertices = predictor.track_vertices(clip['tracks'][0])
    live = predictor.stream(fps=30.0)                  # frames one by one
    bodies = live.push(frame)                          # final bodies

The weights (`third_party/weights/`, or a pipeline folder) are loaded once;
the parts behind the door are the crop path (`crop_path.CropPath`: the
image network on a box's crop) and the photo path (`photo_path.PhotoPath`:
BlazePose -> adapter -> SMPLR -> fit; the [detector] extra, started on first
use). Every output's keys are documented in `prediction`. Camera frame (x
right, y down, z forward), metres, root-relative.

Gender: `predict_image`, `predict_people` and `predict_video` take
`gender=None` (estimate it: Psi's calibrated probability of male, 'unknown'
and the neutral body when it cannot tell, `gender`) or 'female', 'male',
'neutral' (the user's word: that body model is fitted).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.nets import bundle
from smplr_jax.predict import crop_path as crop_path_lib
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import hypotheses as hypotheses_lib
from smplr_jax.predict import keypoint_predictor, pipeline, prediction
from smplr_jax.predict import settings as settings_lib

FRONT_ENDS = ('auto', 'crop', 'blazepose')


def _check_front_end(front_end: str) -> None:
  if front_end not in FRONT_ENDS:
    raise ValueError(f"front_end must be 'auto', 'crop' or 'blazepose', "
                     f'got {front_end!r}.')


def load_smplr(workdir: str | pathlib.Path,
               step: int | None = None) -> Callable[[jnp.ndarray], dict]:
  """Loads a trained SMPLR run (both networks) from its workdir.

  Args:
    workdir: workdir of a run trained with parts ('shape', 'pose'), e.g. the
      `experiments/smplr/configs/smplr.py` experiment, or an exported
      folder (`third_party/weights/smplr`).
    step: checkpoint step; default the best one.

  Returns:
    `predictor(jl)`: jl [B, 42, 3] root-relative metres -> the batched
    prediction (`prediction.BODY_KEYS`; jl_front_end and jl_smplr_input
    are the given JL). It raises ValueError on JL with NaN/Inf, in
    millimetres or centimetres, or not root-relative
    (`jl.check_jl_values`).

  Raises:
    ValueError: `workdir` does not exist, is not a run, or lacks a network.
  """
  config, net, variables = bundle.load_smplr(workdir, step)
  body = gendered.GenderedModels.load(config.get('body_model_path'),
                                      with_neutral=True)

  @jax.jit
  def predict(variables, jl):
    return dict(pipeline.jl_to_body(net, body, variables, jl), jl_input=jl)

  def predictor(jl: jnp.ndarray) -> dict:
    jl_lib.check_jl_values(jl)  # NaN, millimetres, a root off the origin
    jl = jnp.asarray(jl, jnp.float32)
    return prediction.from_chain(predict(variables, jl), body.gendered.faces,
                                 jl_front_end=jl)

  return predictor


class Predictor:
  """Photos, boxes, crops and clips -> bodies (see the module docstring).

  Attributes:
    body: the body models (`gendered.GenderedModels`).
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs before SMPLR (both paths).
    front_end: 'auto' (a box: the crop path; none: the photo path),
      'crop' (a box is required) or 'blazepose' (the photo path only; the
      image network is not loaded).
    settings: the photo path's `settings.PhotoSettings`.
    crop_path: the `crop_path.CropPath`, or None (front_end='blazepose').
    input_size: S, the crop path's crop side (None without it).
    cube_size: the image network's cube side (metres).
  """

  def __init__(self, loaded: bundle.Bundle, front_end: str = 'auto',
               refine: bool = False, flip_test: bool = False,
               fit: bool = True,
               adapter: str | pathlib.Path = 'blazepose33_3d',
               settings: settings_lib.PhotoSettings = (
                   settings_lib.PhotoSettings())):
    _check_front_end(front_end)
    self.body = loaded.body
    self.faces = np.asarray(loaded.body.gendered.faces)
    self.uses_dae = loaded.stages.dae is not None
    self.front_end = front_end
    self.settings = settings
    self._loaded = loaded
    self._fit = fit
    self._adapter = adapter
    self._photo_path = None
    self.crop_path = None
    self.input_size = loaded.input_size
    self.cube_size = loaded.stages.cube_size
    if loaded.stages.image_net is not None:
      self.crop_path = crop_path_lib.CropPath(
          loaded.stages, loaded.variables, loaded.body, loaded.input_size,
          refine=refine, flip_test=flip_test)

  @property
  def photo_path(self):
    """The photo path (`photo_path.PhotoPath`), started on first use.

    Raises:
      ValueError: this pipeline has none (front_end='crop'), or the
        detector extra is not installed (the message says how to install
        it, and that a box works without it).
    """
    if self._photo_path is None:
      if self.front_end == 'crop':
        raise ValueError("no box given: this pipeline (front_end='crop') "
                         'needs a person box; load_pipeline() finds people '
                         'itself.')
      # The optional extra: imported only here, so that the rest works
      # without mediapipe.
      from smplr_jax.predict import photo_path as photo_path_lib  # pylint: disable=g-import-not-at-top
      reader = keypoint_predictor.over_bundle(self._adapter, self._loaded)
      try:
        self._photo_path = photo_path_lib.load_photo_path(
            reader, self._fit, self.settings)
      except ImportError as e:
        raise ValueError(f'no box given, and finding the person needs the '
                         f'detector extra: {e} Or pass a person box.') from e
    return self._photo_path

  def check_photo_path(self) -> None:
    """Starts the photo path; ValueError (naming the extra) when people
    cannot be found here."""
    self.photo_path  # pylint: disable=pointless-statement

  def predict_crops(self, crops: Any, root_cam: Any = None, *,
                    gender: str | None = None) -> dict[str, Any]:
    """Root-centred crops -> bodies, batched (`crop_path.CropPath.
    predict_crops`: uint8 [B, S, S, 3] crops, [B, 3] roots or None); a
    stated `gender` poses that model (`predict_image`)."""
    out = self._crop_path().predict_crops(crops, root_cam)
    if gender_lib.check_stated(gender) is None:
      return out
    return gender_lib.apply(out, self.body.gendered, self.settings.gender,
                            gender, calibrated=False)

  def predict_image(self, photo: Any, *, box: Any = None,
                    focal: float | None = None,
                    gender: str | None = None) -> dict[str, Any]:
    """One photo -> one body (`prediction`'s keys, no batch axis).

    Without a box, the photo path: the detector finds the most confident
    person, an adapter and SMPLR give a body, and a fit matches it to every
    keypoint. With a box (x0, y0, x1, y1 pixels), the image network on the
    paper's crop (`crop.crop_person`).

    Args:
      photo: uint8 [H, W, 3] (grayscale and RGBA are converted).
      box: a person box, or None to find the person.
      focal: focal length in pixels; None assumes a
        `camera.DEFAULT_FIELD_OF_VIEW_DEG` field of view.
      gender: the body model: 'female', 'male' or 'neutral' (the photo
        path fits that one), or None to estimate it (`gender`: 'unknown',
        the neutral body, where the calibrated probability cannot tell).
        The crop path poses SMPLR's pose and shape with a stated model;
        its estimate is Psi's raw one (the calibration was measured on
        the photo path only).

    Raises:
      ValueError: a bad photo, box, focal or gender; no person found
        (`detector.NoPersonError`); the detector extra missing (no box).
    """
    gender = gender_lib.check_stated(gender)
    if box is None:
      return self.photo_path.predict_image(photo, focal, gender)
    out = self._crop_path().predict_box(photo, box, focal)
    body = prediction.one_body(gender_lib.apply(
        {k: np.asarray(v)[None] for k, v in out.items()
         if k in prediction.BODY_KEYS and k != 'faces'},
        self.body.gendered, self.settings.gender, gender, calibrated=False))
    return dict(out, **body, **gender_lib.labels(body['gender'], gender))

  def predict_people(self, photo: Any, *, focal: float | None = None,
                     max_people: int | None = None,
                     gender: str | None = None) -> list[dict[str, Any]]:
    """Every person in a photo (the photo path), each as `predict_image`'s
    dict; [] when there is none. max_people: default
    `settings.max_people`; gender: as in `predict_image`, for everyone."""
    gender = gender_lib.check_stated(gender)
    return self.photo_path.predict_people(photo, focal, max_people, gender)

  def predict_video(self, frames: Iterable[np.ndarray] | str | pathlib.Path,
                    *, fps: float | None = None, focal: float | None = None,
                    settings: settings_lib.VideoSettings | None = None,
                    progress: Callable[[int], None] | None = None,
                    gender: str | None = None) -> dict[str, Any]:
    """Every person in a clip (a video file, `read.open_video`'s frames or
    uint8 [H, W, 3] frames), tracked, one shape each, fitted over time
    (`video.predict_video`; its tracks' keys: `prediction.TRACK_KEYS`).
    gender: as in `predict_image`, for every track (None: each track's
    vote of its frames' calibrated probabilities).

    Raises:
      ValueError: front_end='crop' (a clip needs the photo path), the
        detector extra missing, a bad gender, or an unreadable clip
        (`read.VideoError`).
    """
    gender = gender_lib.check_stated(gender)
    if self.front_end == 'crop':
      raise ValueError("predict_video needs the photo path's detector; this "
                       "pipeline was loaded with front_end='crop'.")
    from smplr_jax.predict import video  # pylint: disable=g-import-not-at-top
    return video.predict_video(
        self.photo_path, frames, fps=fps, focal=focal,
        settings=settings_lib.VideoSettings() if settings is None else
        settings, progress=progress, gender=gender)

  def stream(self, *, fps: float | None = None, focal: float | None = None,
             settings: settings_lib.VideoSettings | None = None,
             gender: str | None = None):
    """A live stream (`stream.VideoStream`): frames pushed one at a time,
    each person's causal-mode body returned a fixed delay later
    (`stream.delay` frames: 12 at 30 frames/s).

    Raises:
      ValueError: as `predict_video`.
    """
    gender = gender_lib.check_stated(gender)
    if self.front_end == 'crop':
      raise ValueError("a stream needs the photo path's detector; this "
                       "pipeline was loaded with front_end='crop'.")
    from smplr_jax.predict import stream  # pylint: disable=g-import-not-at-top
    return stream.VideoStream(
        self.photo_path, fps=fps, focal=focal,
        settings=settings_lib.VideoSettings(mode='causal') if settings is None
        else settings, gender=gender)

  def track_vertices(self, track: dict[str, Any]) -> np.ndarray:
    """[T, V, 3] the root-relative mesh of each frame of a track
    (`predict_video`'s); add track['root_cam'][:, None] to place it."""
    from smplr_jax.predict import video  # pylint: disable=g-import-not-at-top
    return video.track_vertices(self.body, track)

  def _crop_path(self) -> crop_path_lib.CropPath:
    if self.crop_path is None:
      raise ValueError("a box needs the image network; this pipeline was "
                       "loaded with front_end='blazepose' (no image "
                       "network).")
    return self.crop_path


def load_pipeline(path: str | pathlib.Path | None = None, *,
                  use_dae: bool = True,
                  smplr: str | pathlib.Path | None = None,
                  front_end: str = 'auto', refine: bool = False,
                  flip_test: bool = False, fit: bool = True,
                  hypotheses: tuple[str, ...] | None = None,
                  adapter: str | pathlib.Path = 'blazepose33_3d',
                  settings: settings_lib.PhotoSettings | None = None
                  ) -> Predictor:
  """The image -> body `Predictor`, its weights loaded once.

  Args:
    path: a pipeline folder (`bundle.load_stages`): sub-folders
      'image_net', 'smplr' and (optionally) 'dae', each an exported folder
      (`weights_io.export_variables`) or a training workdir; None loads the
      weights shipped in `third_party/weights/`.
    use_dae: run the DAE before SMPLR (when there is one), on both paths.
    smplr: another SMPLR (exported folder or workdir) in place of the
      pipeline's.
    front_end: 'auto' (a box: the crop path; none: the photo path), 'crop'
      (a box is required) or 'blazepose' (the photo path only; the image
      network is not loaded).
    refine: refine each crop-path body to the JL SMPLR saw by a short fit
      (`fitting.refine_prediction`).
    flip_test: the image network also reads the mirrored crop and the two
      JL are averaged (twice its cost, 3.2 mm better MPJPE with the shipped
      U-Net, docs/photo_path.md).
    fit: the photo path fits SMPLR's body to the keypoints.
    hypotheses: the readings the photo path fits (`hypotheses.ALL`; None:
      `settings.hypotheses`).
    adapter: the photo path's adapter: 'blazepose33_3d' (world landmarks),
      'blazepose33_2d' (pixels) or an adapter folder for the blazepose33
      set.
    settings: the photo path's `settings.PhotoSettings` (None: the
      defaults).

  Raises:
    ValueError: a missing folder, an SMPLR without both networks, an
      unknown front end or hypothesis, or refine / flip_test with
      front_end='blazepose'.
  """
  _check_front_end(front_end)  # before any weights load
  if front_end == 'blazepose' and (refine or flip_test):
    raise ValueError('refine and flip_test are implemented for the crop '
                     'front end.')
  settings = settings_lib.PhotoSettings() if settings is None else settings
  if hypotheses is not None:
    settings = dataclasses.replace(settings, hypotheses=hypotheses)
  hypotheses_lib.check_names(settings.hypotheses)
  loaded = bundle.load_stages(path, image_net=front_end != 'blazepose',
                              dae=use_dae, smplr=smplr)
  return Predictor(loaded, front_end, refine=refine, flip_test=flip_test,
                   fit=fit, adapter=adapter, settings=settings)
