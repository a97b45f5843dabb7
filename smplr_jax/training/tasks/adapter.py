"""The adapter task: another detector's keypoints -> JL, on synthetic bodies.

`AdapterTask` (a `train.Task`) trains `smplr_jax.nets.adapter.Adapter` with L1 on
JL plus L1 on the bone lengths (`tasks.dae.dae_loss_terms`). Each batch is
drawn on device: camera-frame bodies from the sampler, their keypoints
(`keypoints.smpl_keypoints`), detector-like noise with missing points
(`keypoints.detector_noise`), then the set's normalisation (3D: centred at
the hips; 2D: a centred view at a random distance, `project_centred`, scaled
to unit RMS radius).

With `paired.path` (an .npz of `experiments.adapter.detect_pairs`: a real
detector's keypoints on synthetic renders and the true bodies), a fraction
`paired.fraction` of every batch is drawn from those pairs instead: the
paper's recipe for the DAE, training on the first stage's real outputs.

Evaluation, on the seeded held-out bodies (`sampler.make_test_set`), clean
(all points, no noise) and noisy (`detector_noise` with the noise scale
fixed at 1), and on held-out pairs (`paired.eval_path`): the adapter's JL,
and the bodies that the shipped (or `eval_weights`) SMPLR recovers from
them without and with the DAE (P1 `mpjpe`, P2 `pa_mpjpe`, surface), in mm.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from smplr_jax.body import gendered, rotations
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.data import sampler
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import adapter as adapter_lib
from smplr_jax.nets import bundle
from smplr_jax.predict import pipeline
from smplr_jax.training import train
from smplr_jax.training.tasks import dae as dae_task

PyTree = Any


class AdapterTask:
  """Trains an adapter for one keypoint set (a `train.Task`).

  Config fields read: `adapter` (keypoint_set, dims, width, num_blocks),
  `noise` (keyword arguments of `keypoints.detector_noise`), `depth_range`
  (2D: distance of the hips, metres), `paired` (path, fraction,
  eval_path), `loss_weights` (jl, bones),
  `eval_weights` (folder with smplr/ and dae/; '' the shipped ones, 'none'
  skips the body rows), `body_model_path`, `validation_size`,
  `validation_seed`, `test_set_size`, `test_seed`, `test_noise_seed`,
  `eval_batch_size`.
  """

  def __init__(self, config: ml_collections.ConfigDict,
               body: gendered.GenderedModels | None = None):
    self.config = config
    self.keypoint_set = kp_lib.get_set(config.adapter.keypoint_set)
    self.dims = int(config.adapter.dims)
    self.net = adapter_lib.make_adapter(config.adapter)
    self.body = body or gendered.GenderedModels.load(
        config.get('body_model_path'))
    self.points = kp_lib.keypoints_model(self.body.gendered,
                                         self.keypoint_set)
    paired = config.get('paired')
    self.pairs = None
    if paired is not None and paired.path:
      # On device once; sample_batch gathers from them in the jitted step.
      pairs = self.load_pairs(paired.path)
      self.pairs = {k: jnp.asarray(pairs[k])
                    for k in ('jl', 'points', 'visible')}

  def load_pairs(self, path: str) -> dict[str, np.ndarray]:
    """A detector's 3D keypoints and the true bodies (`experiments.adapter.
    detect_pairs`) as adapter inputs: {'points' [N, K, 3], 'visible' [N, K]
    (all ones: the detector gives every point), 'jl' [N, 42, 3], 'pose'
    [N, 24, 3, 3], 'betas', 'gender'}."""
    if self.keypoint_set.name != kp_lib.BLAZEPOSE33.name or self.dims != 3:
      raise ValueError(f'{path}: pairs hold blazepose33 world landmarks '
                       '(3D); this adapter reads '
                       f'{self.keypoint_set.name} in {self.dims}D.')
    with np.load(path) as data:
      arrays = {k: data[k] for k in data.files}
    count = len(arrays['index'])
    visible = np.ones((count, self.keypoint_set.num_keypoints), np.float32)
    points = kp_lib.centre_3d(arrays['keypoints_3d'], visible,
                              self.keypoint_set)
    pose = rotations.axis_angle_to_matrix(jnp.asarray(arrays['pose']))
    betas = jnp.asarray(arrays['betas'])
    gender = jnp.asarray(arrays['gender'])
    jl, _ = jax.jit(kp_lib.smpl_keypoints, static_argnums=1)(
        self.points, self.keypoint_set, pose, betas, gender)
    return jax.device_get({'points': points.astype(jnp.float32),
                           'visible': visible, 'jl': jl, 'pose': pose,
                           'betas': betas, 'gender': gender})

  # --- data -------------------------------------------------------------------

  def inputs(self, rng: jax.Array, keypoints: jnp.ndarray,
             visible: jnp.ndarray) -> jnp.ndarray:
    """Camera-frame keypoints [B, K, 3] -> the adapter's points [B, K, dims]
    (2D: seen from a random distance in `depth_range`)."""
    if self.dims == 3:
      return kp_lib.centre_3d(keypoints, visible, self.keypoint_set)
    low, high = self.config.depth_range
    depth = jax.random.uniform(rng, keypoints.shape[:1], keypoints.dtype, low,
                               high)
    image = kp_lib.project_centred(keypoints, self.keypoint_set, depth)
    return kp_lib.normalise_2d(image, visible, self.keypoint_set)

  def _batch(self, rng, pose, betas, gender, noise_params):
    jl, keypoints = kp_lib.smpl_keypoints(self.points, self.keypoint_set,
                                          pose, betas, gender)
    noise_key, depth_key = jax.random.split(rng)
    if noise_params is None:  # clean: every point, no noise
      visible = jnp.ones(keypoints.shape[:2], keypoints.dtype)
    else:
      keypoints, visible = kp_lib.detector_noise(
          noise_key, keypoints, self.keypoint_set, **noise_params)
    return {'jl': jl, 'points': self.inputs(depth_key, keypoints, visible),
            'visible': visible}

  def sample_batch(self, rng: jax.Array, batch_size: int) -> dict:
    """{'jl' [B, 42, 3], 'points' [B, K, dims], 'visible' [B, K]}."""
    body_key, pair_key, rng = jax.random.split(rng, 3)
    num_pairs = 0
    if self.pairs is not None:
      num_pairs = round(self.config.paired.fraction * batch_size)
    pose, betas, gender = sampler.sample_parameters(body_key,
                                                    batch_size - num_pairs)
    batch = self._batch(rng, pose, betas, gender,
                        self.config.noise.to_dict())
    if not num_pairs:
      return batch
    ids = jax.random.randint(pair_key, (num_pairs,), 0,
                             len(self.pairs['jl']))
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b[ids]]), batch,
                        self.pairs)

  def validation_batches(self) -> list[dict]:
    return train.sampled_batches(self.sample_batch,
                                 self.config.validation_seed,
                                 self.config.validation_size,
                                 self.config.eval_batch_size)

  # --- training ---------------------------------------------------------------

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    k = self.keypoint_set.num_keypoints
    variables = self.net.init(rng, jnp.zeros((2, k, self.dims)),
                              jnp.ones((2, k)))
    return {'params': variables['params'], 'batch_stats': {}}

  def loss(self, params, batch_stats, batch, rng, train: bool):
    del rng, train  # no dropout, no batch statistics
    out = self.net.apply({'params': params}, batch['points'],
                         batch['visible'])
    terms = dae_task.dae_loss_terms(out, batch['jl'])
    weights = self.config.loss_weights
    loss = sum(weights[k] * v for k, v in terms.items())
    return loss, ({f'loss_{k}': v for k, v in terms.items()}, batch_stats)

  # --- evaluation -------------------------------------------------------------

  def _stages(self):
    """(Stages with the DAE, their variables), or None without SMPLR."""
    folder = self.config.get('eval_weights', '')
    if folder == 'none':
      return None
    loaded = bundle.load_stages(folder or None, image_net=False,
                                require_dae=True)
    return loaded.stages, loaded.variables

  def _rows(self, points, visible, gt_jl, truth, adapter_variables, stages):
    """Per-example metrics of the adapter's JL and of the recovered bodies
    (`truth`: pose, betas, gender, for the surface error and gender)."""
    jl = self.net.apply(adapter_variables, points, visible)
    out = {'adapter': metrics_lib.jl_metrics(jl, gt_jl)}
    if stages is None:
      return out
    with_dae, stage_variables = stages
    gt_vertices = gendered.true_vertices(self.body, truth)
    for row, net in (('smplr', None), ('dae+smplr', with_dae.dae)):
      chain = bundle.Stages(image_net=None, smplr=with_dae.smplr, dae=net)
      body = pipeline.denoise_and_recover(chain, stage_variables, self.body,
                                          jl)
      out[row] = metrics_lib.jl_metrics(
          body['jl'], gt_jl, pred_vertices=body['vertices'],
          gt_vertices=gt_vertices, pred_male_prob=body['male_prob'],
          gt_male=truth['gender'] == 1)
    return out

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """'<clean|noisy>/<row>/<metric>' in mm (`metrics.jl_metrics`); rows
    'adapter' (its JL), and with SMPLR 'smplr' and 'dae+smplr' (the SMPL
    output; 'surface' and 'gender_acc' included)."""
    cfg = self.config
    test_set = sampler.make_test_set(self.body.gendered,
                                     size=cfg.test_set_size,
                                     seed=cfg.test_seed)
    stages = self._stages()
    noisy = dict(cfg.noise.to_dict(), min_scale=1.0, max_scale=1.0)
    adapter_variables = {'params': variables['params']}

    def rows(batch, key, noise_params):
      data = self._batch(key, batch['pose'], batch['betas'], batch['gender'],
                         noise_params)
      return self._rows(data['points'], data['visible'], batch['jl'], batch,
                        adapter_variables, stages)

    results = {}
    paired = cfg.get('paired')
    if paired is not None and paired.get('eval_path'):
      held = self.load_pairs(paired.eval_path)

      @jax.jit
      def pair_rows(batch):
        return self._rows(batch['points'], batch['visible'], batch['jl'],
                          batch, adapter_variables, stages)

      table = metrics_lib.reduce_batches(held, cfg.eval_batch_size,
                                         lambda b, _: pair_rows(b))
      results.update({f'paired/{row}/{k}': v for row, m in table.items()
                      for k, v in m.items()})
    key = jax.random.PRNGKey(cfg.test_noise_seed)
    for name, params in (('clean', None), ('noisy', noisy)):
      run = jax.jit(lambda b, k, params=params: rows(b, k, params))
      table = metrics_lib.reduce_batches(
          {k: test_set[k] for k in ('jl', 'pose', 'betas', 'gender')},
          cfg.eval_batch_size,
          lambda b, start, run=run: run(b, jax.random.fold_in(key, start)))
      results.update({f'{name}/{row}/{k}': v for row, m in table.items()
                      for k, v in m.items()})
    return results

