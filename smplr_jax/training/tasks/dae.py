"""The DAE task: the denoising autoencoder trained on noisy or paired JL.

`DAETask` (a `train.Task`) trains `smplr_jax.nets.dae.DAE` with L1 on JL plus L1
on the bone lengths B (Eq. 2, `dae_loss_terms`), on synthetic bodies
corrupted by a noise model of `smplr_jax.data.noise` (`data='synthetic'`) or on
(predicted, ground-truth) pairs of a real network (`data='paired'`,
`smplr_jax.data.datasets.paired.PairedJLDataset`). Evaluation reports errors
before and after the DAE, per noise model, in mm.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import noise, sampler
from smplr_jax.data.datasets import paired
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import dae as dae_lib
from smplr_jax.training import train
from smplr_jax.training.parallel import DATA_AXIS

PyTree = Any


def dae_loss_terms(pred_jl: jnp.ndarray, gt_jl: jnp.ndarray
                   ) -> dict[str, jnp.ndarray]:
  """The DAE's loss terms (metres).

  Args:
    pred_jl, gt_jl: [B, 42, 3] root-relative JL.

  Returns:
    'jl': mean L1 over the 41 non-root points' coordinates; 'bones': mean L1
    of the 41 bone lengths, i.e. of B (Eq. 2), since B* cancels.
  """
  return {
      'jl': jnp.mean(jnp.abs(pred_jl[:, 1:] - gt_jl[:, 1:])),
      'bones': jnp.mean(jnp.abs(jl_lib.bone_lengths(pred_jl) -
                                jl_lib.bone_lengths(gt_jl))),
  }


class DAETask:
  """Trains the DAE on noisy synthetic JL or on paired data (a `train.Task`).

  Config fields read: `dae` (see `make_dae`), `noise` (kind, scale, params:
  the training noise), `data` ('synthetic' or 'paired'), `paired` (path,
  held_out_fraction), `loss_weights` (jl, bones), `eval_noises` (noise
  models of the evaluation), `body_model_path`, `validation_size`,
  `validation_seed`, `test_set_size`, `test_seed`, `test_noise_seed`,
  `eval_batch_size`, `num_devices`.
  """

  def __init__(self, config: ml_collections.ConfigDict,
               body: gendered.GenderedModels | None = None):
    self.config = config
    self.net = dae_lib.make_dae(config.dae, axis_name=DATA_AXIS)
    self.eval_net = dae_lib.make_dae(config.dae)
    if config.data == 'synthetic':
      self.body = body or gendered.GenderedModels.load(
          config.get('body_model_path'))
      self.train_pairs = self.held_out_pairs = None
    elif config.data == 'paired':
      if not config.paired.path:
        raise ValueError("data='paired' needs --config.paired.path=FILE.npz "
                         '(pred_jl and gt_jl, [N, 42, 3])')
      self.body = body
      dataset = paired.PairedJLDataset.load(config.paired.path)
      self.train_pairs, self.held_out_pairs = dataset.split(
          config.paired.held_out_fraction)
      # On device once; sample_batch gathers from them inside the jitted step.
      self._train_pred = jnp.asarray(self.train_pairs.pred_jl)
      self._train_gt = jnp.asarray(self.train_pairs.gt_jl)
    else:
      raise ValueError(f"data must be 'synthetic' or 'paired', got "
                       f'{config.data!r}')

  def add_training_noise(self, rng: jax.Array, jl: jnp.ndarray
                         ) -> jnp.ndarray:
    """The config's training noise model applied to [B, 42, 3] JL."""
    cfg = self.config.noise
    return noise.add_noise(rng, jl, cfg.kind, cfg.scale, **cfg.params.to_dict())

  # --- data -------------------------------------------------------------------

  def sample_batch(self, rng: jax.Array, batch_size: int) -> dict:
    """{'jl': ground truth, 'jl_in': DAE input}, both [B, 42, 3]."""
    if self.config.data == 'paired':
      ids = jax.random.randint(rng, (batch_size,), 0, len(self.train_pairs))
      return dict(jl=self._train_gt[ids], jl_in=self._train_pred[ids])
    body_key, noise_key = jax.random.split(rng)
    rotation, betas, gender = sampler.sample_parameters(body_key, batch_size)
    jl = jl_lib.smpl_points(self.body.points, rotation, betas, gender)
    return dict(jl=jl, jl_in=self.add_training_noise(noise_key, jl))

  def _eval_batch_size(self, available: int) -> int:
    devices = self.config.get('num_devices', 0) or jax.device_count()
    size = min(self.config.eval_batch_size, available) // devices * devices
    if not size:
      raise ValueError(f'{available} held-out samples are fewer than the '
                       f'{devices} devices')
    return size

  def validation_batches(self) -> list[dict]:
    if self.config.data == 'paired':
      held = self.held_out_pairs
      size = self._eval_batch_size(len(held))
      return [dict(jl=held.gt_jl[i:i + size], jl_in=held.pred_jl[i:i + size])
              for i in range(0, len(held) - size + 1, size)]
    return train.sampled_batches(self.sample_batch,
                                 self.config.validation_seed,
                                 self.config.validation_size,
                                 self.config.eval_batch_size)

  # --- training ---------------------------------------------------------------

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    dummy = jnp.zeros((2, jl_lib.NUM_POINTS, 3))
    return dict(self.eval_net.init(rng, dummy, train=False))

  def loss(self, params, batch_stats, batch, rng, train: bool):
    variables = {'params': params, 'batch_stats': batch_stats}
    if train:
      out, updates = self.net.apply(variables, batch['jl_in'], train=True,
                                    rngs={'dropout': rng},
                                    mutable=['batch_stats'])
      batch_stats = updates['batch_stats']
    else:
      out = self.eval_net.apply(variables, batch['jl_in'], train=False)
    terms = dae_loss_terms(out, batch['jl'])
    weights = self.config.loss_weights
    loss = sum(weights[k] * v for k, v in terms.items())
    return loss, ({f'loss_{k}': v for k, v in terms.items()}, batch_stats)

  # --- evaluation -------------------------------------------------------------

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """Errors before (DAE input) and after (DAE output), in mm.

    Synthetic data: on the seeded held-out set (`sampler.make_test_set`),
    for each noise model of `eval_noises`; keys '<noise>/before/<metric>' and
    '<noise>/after/<metric>' (metrics of `metrics.jl_metrics`). The noise of
    batch `start` is drawn from fold_in(PRNGKey(test_noise_seed), start), as
    in `tasks.smplr.evaluate_on`. Paired data: 'paired/before|after/<metric>'
    on the held-out pairs. With `zero_depth` the "before" input has z = 0.
    """
    net = self.eval_net

    @jax.jit
    def before_after(variables, jl_in, jl):
      if self.config.dae.zero_depth:
        jl_in = dae_lib.drop_depth(jl_in)
      return {'before': metrics_lib.jl_metrics(jl_in, jl),
              'after': metrics_lib.jl_metrics(
                  net.apply(variables, jl_in, train=False), jl)}

    results = {}
    if self.config.data == 'paired':
      pairs = self.held_out_pairs
      rows = metrics_lib.reduce_batches(
          dict(jl=pairs.gt_jl, jl_in=pairs.pred_jl),
          self.config.eval_batch_size,
          lambda b, _: before_after(variables, b['jl_in'], b['jl']))
      return {f'paired/{row}/{k}': v for row, m in rows.items()
              for k, v in m.items()}

    test_set = sampler.make_test_set(self.body.gendered,
                                     size=self.config.test_set_size,
                                     seed=self.config.test_seed)
    key = jax.random.PRNGKey(self.config.test_noise_seed)
    for kind in self.config.eval_noises:
      params = (self.config.noise.params.to_dict()
                if kind == self.config.noise.kind else {})
      add = jax.jit(lambda k, jl, kind=kind, params=params: noise.add_noise(
          k, jl, kind, 1.0, **params))
      rows = metrics_lib.reduce_batches(
          {'jl': test_set['jl']}, self.config.eval_batch_size,
          lambda b, start, add=add: before_after(
              variables, add(jax.random.fold_in(key, start), b['jl']),
              b['jl']))
      results.update({f'{kind}/{row}/{k}': v for row, m in rows.items()
                      for k, v in m.items()})
    return results
