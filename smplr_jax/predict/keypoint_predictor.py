"""A detector's keypoints -> adapter -> (DAE) -> SMPLR -> body.

`load_keypoint_predictor(name)` loads a shipped adapter
(`third_party/weights/adapters/<name>`, `SHIPPED_ADAPTERS`) with the shipped
DAE and SMPLR; its `KeypointPredictor` takes a detector's keypoints and
returns the same batched body dict as `Predictor.predict_crops`.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import camera, checks, resources
from smplr_jax.body import gendered
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.nets import adapter as adapter_lib
from smplr_jax.nets import bundle, weights_io
from smplr_jax.predict import pipeline, prediction

PyTree = Any
ADAPTER_WEIGHTS = resources.weights_dir() / 'adapters'
# name -> (keypoint set, dims) of the shipped adapters.
SHIPPED_ADAPTERS = {
    'coco17_2d': ('coco17', 2),
    'h36m17_3d': ('h36m17', 3),
    'blazepose33_3d': ('blazepose33', 3),
    'blazepose33_2d': ('blazepose33', 2),
}


class KeypointPredictor:
  """A detector's keypoints -> adapter -> (DAE) -> SMPLR -> body, jitted.

  Attributes:
    keypoint_set: the `keypoints.KeypointSet` it reads.
    dims: 2 (pixels) or 3 (metres).
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the adapter and SMPLR.
  """

  def __init__(self, net: adapter_lib.Adapter, adapter_variables: PyTree,
               keypoint_set: kp_lib.KeypointSet, stages: bundle.Stages,
               variables: dict[str, PyTree], body: gendered.GenderedModels):
    self.net = net
    self.keypoint_set = keypoint_set
    self.dims = net.dims
    self.stages = stages
    self.variables = dict(variables, adapter=adapter_variables)
    self.body = body
    self.faces = np.asarray(body.gendered.faces)
    self.uses_dae = stages.dae is not None

    def predict(v, points, visible, rotation, with_mesh=True):
      jl_adapter = net.apply(v['adapter'], points, visible)
      # Back from the virtual camera (2D) to the photo's camera.
      jl_adapter = jnp.einsum('bji,bpj->bpi', rotation, jl_adapter)
      out = pipeline.denoise_and_recover(stages, v, body, jl_adapter,
                                         with_mesh=with_mesh)
      return dict(out, jl_adapter=jl_adapter)

    self._predict = jax.jit(predict, static_argnames='with_mesh')

  def _check(self, keypoints, visible):
    keypoints = np.asarray(keypoints, np.float64)
    if keypoints.ndim == 2:
      keypoints = keypoints[None]
    k = self.keypoint_set.num_keypoints
    if keypoints.ndim != 3 or keypoints.shape[1:] != (k, self.dims):
      raise ValueError(
          f'keypoints must be [B, {k}, {self.dims}] ({self.keypoint_set.name}'
          f', {"pixels" if self.dims == 2 else "metres"}), got '
          f'{keypoints.shape}.')
    if visible is None:
      visible = np.ones(keypoints.shape[:2])
    visible = np.asarray(visible, np.float64).reshape(keypoints.shape[:2])
    visible = (visible > 0.5).astype(np.float64)
    checks.check_finite(keypoints[visible > 0], 'keypoints (visible ones)')
    centre = list(self.keypoint_set.centre_ids)
    if not np.all(visible[:, centre] > 0):
      names = ' and '.join(self.keypoint_set.names[i] for i in centre)
      raise ValueError(f'the {names} keypoints must be visible: the '
                       'adapter centres the body on them.')
    if self.dims == 3:
      spread = np.nanmax(np.linalg.norm(
          np.where(visible[..., None] > 0, keypoints - keypoints[:, centre]
                   .mean(1, keepdims=True), 0.0), axis=-1), axis=1)
      if np.any(spread > 5.0) or np.any(spread < 0.05):
        raise ValueError(
            f'3D keypoints must be metres: the farthest point lies '
            f'{float(spread.max()):.3g} m from the hips (expected 0.05-5).')
    return np.where(visible[..., None] > 0, keypoints, 0.0), visible

  def __call__(self, keypoints: Any, visible: Any = None, *,
               image_size: tuple[int, int] | None = None,
               focal: float | None = None,
               principal: tuple[float, float] | None = None,
               with_mesh: bool = True) -> dict[str, Any]:
    """Bodies from keypoints.

    Args:
      keypoints: [B, K, 3] camera-frame metres (any origin; 3D sets) or
        [B, K, 2] pixels (2D sets), in the set's order (or [K, dims]).
      visible: [B, K] visibility (> 0.5: detected); default all.
      image_size: (width, height) of the photo (2D sets): the principal
        point is its centre and, without `focal`, the focal length follows
        from a `camera.DEFAULT_FIELD_OF_VIEW_DEG` field of view.
      focal: focal length in pixels (2D sets).
      principal: (cx, cy) in pixels (2D sets; default the image centre).
      with_mesh: False stops before SMPL: no jl_body, joints, landmarks,
        vertices (a fit's start: the photo path poses only the kept body).

    Returns:
      the prediction (`smplr_jax.predict.prediction`): jl_front_end (the
      adapter's JL), jl_smplr_input, jl_body, joints, landmarks, vertices,
      pose, betas, gender (index), male_probability, faces.

    Raises:
      ValueError: a wrong shape, NaN/Inf, invisible hips, 3D points not in
        metres, or 2D points without `image_size` / `focal`.
    """
    keypoints, visible = self._check(keypoints, visible)
    batch = len(keypoints)
    rotation = np.broadcast_to(np.eye(3), (batch, 3, 3)).copy()
    if self.dims == 3:
      points = np.asarray(kp_lib.centre_3d(keypoints, visible,
                                           self.keypoint_set))
    else:
      if image_size is None and (focal is None or principal is None):
        raise ValueError('2D keypoints need the camera: pass image_size='
                         '(width, height), or focal and principal.')
      if principal is None:
        principal = camera.principal_point(image_size)
      focal = camera.resolve_focal(focal, image_size)
      turned = []
      for b in range(batch):
        xy, rotation[b] = camera.virtual_camera(
            keypoints[b], self.keypoint_set.centre_ids, focal, principal)
        turned.append(xy)
      points = np.asarray(kp_lib.normalise_2d(np.stack(turned), visible,
                                              self.keypoint_set))
    out = self._predict(
        self.variables, jnp.asarray(points, jnp.float32),
        jnp.asarray(visible, jnp.float32),
        jnp.asarray(rotation, jnp.float32), with_mesh=with_mesh)
    if not with_mesh:
      out = jax.device_get(out)
      return {'jl_front_end': np.asarray(out['jl_adapter']),
              'jl_smplr_input': np.asarray(out['jl_input']),
              'pose': np.asarray(out['pose']),
              'betas': np.asarray(out['betas']),
              'gender': np.asarray(out['gender'], np.int32),
              'male_probability': np.asarray(out['male_prob']),
              'faces': self.faces}
    return prediction.from_chain(out, self.faces,
                                 jl_front_end=out['jl_adapter'])


def load_adapter(path: str | pathlib.Path):
  """(config, net, variables) of an adapter run or exported folder, or of
  a shipped adapter's name (`SHIPPED_ADAPTERS`)."""
  if str(path) in SHIPPED_ADAPTERS:
    path = ADAPTER_WEIGHTS / str(path)
  path = pathlib.Path(path)
  if not path.exists():
    raise ValueError(f'{path} does not exist (expected an adapter run, an '
                     'exported folder, or one of '
                     f'{", ".join(SHIPPED_ADAPTERS)}).')
  config, variables = weights_io.load_variables(path)
  if config.get('task') != 'adapter':
    raise ValueError(f'{path} holds a {config.get("task")!r} run, not an '
                     'adapter.')
  return config, adapter_lib.make_adapter(config.adapter), variables


def over_bundle(adapter: str | pathlib.Path,
                loaded: bundle.Bundle) -> KeypointPredictor:
  """An adapter (a shipped name or a folder, `load_adapter`) over stages
  already loaded (`bundle.load_stages`): their DAE (when loaded), SMPLR and
  body; an image network there is not used."""
  config, net, variables = load_adapter(adapter)
  stage_variables = {k: v for k, v in loaded.variables.items()
                     if k != 'image_net'}
  return KeypointPredictor(net, variables,
                           kp_lib.get_set(config.adapter.keypoint_set),
                           loaded.stages, stage_variables, loaded.body)


def load_keypoint_predictor(adapter: str | pathlib.Path = 'blazepose33_3d',
                            weights: str | pathlib.Path | None = None,
                            use_dae: bool = False,
                            smplr: str | pathlib.Path | None = None
                            ) -> KeypointPredictor:
  """Keypoints of another detector -> body.

  Args:
    adapter: a shipped adapter's name (`SHIPPED_ADAPTERS`), or an adapter
      run / exported folder.
    weights: a folder with 'smplr' and (optionally) 'dae' sub-folders; None
      the shipped weights.
    use_dae: run the DAE between the adapter and SMPLR (off by default:
      it raised the body's error by 2-5 mm on the held-out bodies, and
      changed it by under 1 mm on BlazePose's real outputs).
    smplr: another SMPLR (exported folder or workdir) in place of
      `weights`' one.

  Raises:
    ValueError: missing folders, or not an adapter.
  """
  return over_bundle(adapter, bundle.load_stages(
      weights, image_net=False, dae=use_dae, smplr=smplr))
