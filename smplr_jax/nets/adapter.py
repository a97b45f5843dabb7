"""Adapters: another detector's keypoints -> JL -> (DAE) -> SMPLR -> body.

`Adapter` is a small residual MLP from one keypoint set's normalised points
and visibility mask (`smplr_jax.body.keypoints`: 3D sets centred at the hip
midpoint in metres, 2D sets seen by a virtual camera looking at the hips,
centred and scaled to unit RMS radius; missing points zeroed) to
root-relative camera-frame JL [B, 42, 3] in metres, which the DAE and SMPLR
take as they take the image network's. `smplr_jax.training.tasks.adapter` trains it
on synthetic bodies with detector-like noise.

`load_keypoint_predictor(name)` loads a shipped adapter
(`third_party/weights/adapters/<name>`, `SHIPPED_ADAPTERS`) with the shipped
DAE and SMPLR; its `KeypointPredictor` takes a detector's keypoints and
returns the same body dict as `inference.ImagePredictor`.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from smplr_jax.training import checkpoints
from smplr_jax import checks, resources
from smplr_jax.predict import pipeline
from smplr_jax.nets import dae as dae_lib
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.body import gendered

PyTree = Any
WEIGHTS = resources.weights_dir()
ADAPTER_WEIGHTS = WEIGHTS / 'adapters'
# name -> (keypoint set, dims) of the shipped adapters.
SHIPPED_ADAPTERS = {
    'coco17_2d': ('coco17', 2),
    'h36m17_3d': ('h36m17', 3),
    'blazepose33_3d': ('blazepose33', 3),
    'blazepose33_2d': ('blazepose33', 2),
}
# Field of view assumed for 2D keypoints when the focal length is unknown
# (degrees, along the image's longer side), as `inference.crop_person`.
DEFAULT_FIELD_OF_VIEW_DEG = 55.0


class Adapter(nn.Module):
  """Keypoints of one set -> root-relative JL.

  Attributes:
    num_keypoints: K.
    dims: 2 or 3, the points' dimension.
    width: hidden width.
    num_blocks: residual blocks (LayerNorm -> Dense -> GELU -> Dense); the
      output is a Dense layer of the GELU of the last one plus a linear map
      of the input.
  """
  num_keypoints: int
  dims: int
  width: int = 352
  num_blocks: int = 2

  @nn.compact
  def __call__(self, points: jnp.ndarray, visible: jnp.ndarray
               ) -> jnp.ndarray:
    """[B, K, dims] normalised points, [B, K] visibility -> [B, 42, 3] JL
    (metres, point 0 the root at the origin)."""
    batch = points.shape[0]
    x = jnp.concatenate([points.reshape(batch, -1), visible], axis=-1)
    h = nn.Dense(self.width)(x)
    for _ in range(self.num_blocks):
      y = nn.Dense(self.width)(nn.LayerNorm()(h))
      h = h + nn.Dense(self.width)(nn.gelu(y))
    size = (jl_lib.NUM_POINTS - 1) * 3
    # A linear path from the input keeps the metric scale of 3D points
    # (a joint given as a keypoint is copied, not re-derived).
    out = nn.Dense(size)(nn.gelu(h)) + nn.Dense(size, use_bias=False)(x)
    out = out.reshape(batch, -1, 3)
    return jnp.concatenate([jnp.zeros_like(out[:, :1]), out], axis=1)


def make_adapter(config: ml_collections.ConfigDict) -> Adapter:
  """The `Adapter` of a config's `adapter` block (keypoint_set, dims, width,
  num_blocks)."""
  keypoint_set = kp_lib.get_set(config.keypoint_set)
  if config.dims not in (2, 3):
    raise ValueError(f'adapter dims must be 2 or 3, got {config.dims}.')
  return Adapter(num_keypoints=keypoint_set.num_keypoints,
                 dims=int(config.dims), width=int(config.width),
                 num_blocks=int(config.num_blocks))


def default_focal(width: int, height: int) -> float:
  """Focal length (pixels) of a `DEFAULT_FIELD_OF_VIEW_DEG` camera."""
  return 0.5 * max(width, height) / math.tan(
      math.radians(DEFAULT_FIELD_OF_VIEW_DEG) / 2)


class KeypointPredictor:
  """A detector's keypoints -> adapter -> (DAE) -> SMPLR -> body, jitted.

  Attributes:
    keypoint_set: the `keypoints.KeypointSet` it reads.
    dims: 2 (pixels) or 3 (metres).
    faces: [F, 3] mesh triangles.
    uses_dae: whether the DAE runs between the adapter and SMPLR.
  """

  def __init__(self, net: Adapter, adapter_variables: PyTree,
               keypoint_set: kp_lib.KeypointSet, stages: pipeline.Stages,
               variables: dict[str, PyTree], body: gendered.GenderedModels):
    self.net = net
    self.keypoint_set = keypoint_set
    self.dims = net.dims
    self.stages = stages
    self.variables = dict(variables, adapter=adapter_variables)
    self.body = body
    self.faces = np.asarray(body.gendered.faces)
    self.uses_dae = stages.dae is not None

    def predict(v, points, visible, rotation):
      jl_adapter = net.apply(v['adapter'], points, visible)
      # Back from the virtual camera (2D) to the photo's camera.
      jl_adapter = jnp.einsum('bji,bpj->bpi', rotation, jl_adapter)
      out = pipeline.denoise_and_recover(stages, v, body, jl_adapter)
      return dict(out, jl_adapter=jl_adapter)

    self._predict = jax.jit(predict)

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
               principal: tuple[float, float] | None = None
               ) -> dict[str, Any]:
    """Bodies from keypoints.

    Args:
      keypoints: [B, K, 3] camera-frame metres (any origin; 3D sets) or
        [B, K, 2] pixels (2D sets), in the set's order (or [K, dims]).
      visible: [B, K] visibility (> 0.5: detected); default all.
      image_size: (width, height) of the photo (2D sets): the principal
        point is its centre and, without `focal`, the focal length follows
        from a `DEFAULT_FIELD_OF_VIEW_DEG` field of view.
      focal: focal length in pixels (2D sets).
      principal: (cx, cy) in pixels (2D sets; default the image centre).

    Returns:
      dict of numpy arrays, root-relative camera-frame metres: 'jl' [B, 42,
      3] (SMPLR's input: after the DAE), 'jl_image' (the adapter's JL),
      'joints' [B, 24, 3], 'landmarks' [B, 18, 3], 'vertices' [B, V, 3],
      'pose' [B, 24, 3, 3], 'betas' [B, 10], 'gender' [B] (probability of
      male), 'faces' [F, 3].

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
        principal = ((image_size[0] - 1) / 2, (image_size[1] - 1) / 2)
      if focal is None:
        focal = default_focal(*image_size)
      if not (math.isfinite(focal) and focal > 0):
        raise ValueError(f'focal must be a positive number of pixels, got '
                         f'{focal}.')
      turned = []
      for b in range(batch):
        xy, rotation[b] = kp_lib.virtual_camera(
            keypoints[b], self.keypoint_set, focal, principal)
        turned.append(xy)
      points = np.asarray(kp_lib.normalise_2d(np.stack(turned), visible,
                                              self.keypoint_set))
    out = jax.device_get(self._predict(
        self.variables, jnp.asarray(points, jnp.float32),
        jnp.asarray(visible, jnp.float32),
        jnp.asarray(rotation, jnp.float32)))
    return {'jl': out['jl_input'], 'jl_image': out['jl_adapter'],
            'joints': out['joints'], 'landmarks': out['landmarks'],
            'vertices': out['vertices'], 'pose': out['pose'],
            'betas': out['betas'], 'gender': out['male_prob'],
            'faces': self.faces}


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
  config, variables = checkpoints.load_variables(path)
  if config.get('task') != 'adapter':
    raise ValueError(f'{path} holds a {config.get("task")!r} run, not an '
                     'adapter.')
  return config, make_adapter(config.adapter), variables


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
  config, net, variables = load_adapter(adapter)
  root = pathlib.Path(weights) if weights is not None else WEIGHTS
  smplr = pathlib.Path(smplr) if smplr is not None else root / 'smplr'
  smplr_config, smplr_variables = checkpoints.load_variables(smplr)
  missing = set(smplr_lib.PARTS) - set(smplr_variables['params'])
  if missing:
    raise ValueError(f'{smplr} trained only '
                     f'{sorted(smplr_variables["params"])}; the predictor '
                     'needs both networks.')
  dae_net, stage_variables = None, {'smplr': smplr_variables}
  if use_dae and (root / 'dae').exists():
    dae_config, stage_variables['dae'] = checkpoints.load_variables(
        root / 'dae')
    dae_net = dae_lib.make_dae(dae_config.dae)
  stages = pipeline.Stages(hourglass=None,
                           smplr=smplr_lib.SMPLR(smplr_config.smplr),
                           dae=dae_net)
  body = gendered.GenderedModels.load(smplr_config.get('body_model_path'))
  return KeypointPredictor(net, variables, kp_lib.get_set(
      config.adapter.keypoint_set), stages, stage_variables, body)
