"""The denoising autoencoder (DAE) between the image CNN and SMPLR (Sec. 3.4).

`DAE` denoises root-relative JL (or lifts 2D JL to 3D, `zero_depth=True`,
the paper's DAE2d): the 41 non-root points, flattened to 123 values, go
through dropout, an encoder 1024 -> 1024 -> 512, dropout, a decoder
1024 -> 1024 whose layers add the matching encoder layers (decoder 1 +
encoder 2, decoder 2 + encoder 1), and a linear layer to 123 values that are
added to the input (a residual). Hidden layers are Dense -> BatchNorm -> ELU.
The output layer starts at zero, so a fresh DAE is the identity.

`DAETask` trains it for `smplr_jax.train.train_and_evaluate` with L1 on JL
plus L1 on the bone lengths B (Eq. 2), on synthetic bodies corrupted by a
noise model of `smplr_jax.noise`, or on (predicted, ground-truth) pairs of a
real network (`PairedJLDataset`). `evaluate_stitched` runs DAE + SMPLR on
noisy JL (the paper's DAE + Psi + Omega row).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from smplr_jax import jl as jl_lib
from smplr_jax import metrics as metrics_lib
from smplr_jax import models
from smplr_jax import noise
from smplr_jax import sampler
from smplr_jax import smplr as smplr_lib

PyTree = Any
ENCODER = (1024, 1024, 512)
DECODER = (1024, 1024)
NUM_INPUTS = (jl_lib.NUM_POINTS - 1) * 3  # 123


def _check_jl(jl: jnp.ndarray | np.ndarray, name: str = 'jl') -> None:
  if jl.ndim != 3 or tuple(jl.shape[1:]) != (jl_lib.NUM_POINTS, 3):
    raise ValueError(f'{name} must be [B, {jl_lib.NUM_POINTS}, 3], got '
                     f'{tuple(jl.shape)}')


def drop_depth(jl: jnp.ndarray) -> jnp.ndarray:
  """[..., 3] points with z (camera depth) set to 0: DAE2d's input."""
  return jl.at[..., 2].set(0.0)


class DAE(nn.Module):
  """Denoising autoencoder: root-relative JL [B, 42, 3] -> [B, 42, 3].

  Attributes:
    encoder: encoder widths; the last is the middle (bottleneck) layer.
    decoder: decoder widths; decoder layer k adds encoder layer
      len(encoder) - k (1-based), so their widths must match.
    dropout_rate: dropout on the input and after the last encoder layer
      (the authors' keep probability 0.8 -> 0.2). Active only when `train`;
      draws from the 'dropout' RNG stream.
    activation: 'elu' (authors' code) or 'relu'.
    zero_depth: DAE2d: the input's z is set to 0 (2D -> 3D lifting).
    axis_name: mesh axis for BatchNorm statistics inside a data-parallel step.
    bn_momentum: BatchNorm running-average momentum.
  """
  encoder: Sequence[int] = ENCODER
  decoder: Sequence[int] = DECODER
  dropout_rate: float = 0.2
  activation: str = 'elu'
  zero_depth: bool = False
  axis_name: str | None = None
  bn_momentum: float = 0.99

  @nn.compact
  def __call__(self, jl: jnp.ndarray, train: bool) -> jnp.ndarray:
    """Denoises JL.

    Args:
      jl: [B, 42, 3] root-relative points (metres); point 0 is ignored.
      train: dropout on and BatchNorm on batch statistics (needs
        `rngs={'dropout': key}` and `mutable=['batch_stats']`).

    Returns:
      [B, 42, 3] denoised points, the root at the origin.
    """
    _check_jl(jl)
    if len(self.decoder) >= len(self.encoder):
      raise ValueError('the decoder needs fewer layers than the encoder '
                       f'(got {self.decoder} vs {self.encoder})')
    skips = list(self.encoder[:-1])[::-1][:len(self.decoder)]
    if tuple(skips) != tuple(self.decoder):
      raise ValueError(f'decoder widths {tuple(self.decoder)} must match the '
                       f'encoder layers they add, {tuple(skips)}')
    act = models.ACTIVATIONS[self.activation]
    batch = jl.shape[0]
    points = jl[:, 1:]
    if self.zero_depth:
      points = drop_depth(points)
    x = points.reshape(batch, NUM_INPUTS)

    def hidden_layer(h, width, name):
      h = nn.Dense(width, use_bias=False, name=f'{name}_dense')(h)
      h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name,
                       momentum=self.bn_momentum, name=f'{name}_bn')(h)
      return act(h)

    h = nn.Dropout(self.dropout_rate, deterministic=not train,
                   name='input_dropout')(x)
    encoded = []
    for i, width in enumerate(self.encoder, start=1):
      h = hidden_layer(h, width, f'encoder{i}')
      encoded.append(h)
    h = nn.Dropout(self.dropout_rate, deterministic=not train,
                   name='middle_dropout')(h)
    for k, width in enumerate(self.decoder, start=1):
      h = hidden_layer(h, width, f'decoder{k}') + encoded[-1 - k]
    residual = nn.Dense(NUM_INPUTS, kernel_init=nn.initializers.zeros,
                        name='residual')(h)
    out = (x + residual).reshape(batch, jl_lib.NUM_POINTS - 1, 3)
    return jnp.concatenate([jnp.zeros_like(out[:, :1]), out], axis=1)


def make_dae(config: ml_collections.ConfigDict,
             axis_name: str | None = None) -> DAE:
  """The `DAE` of a `config.dae` block."""
  return DAE(encoder=tuple(config.encoder), decoder=tuple(config.decoder),
             dropout_rate=config.dropout_rate, activation=config.activation,
             zero_depth=config.zero_depth, axis_name=axis_name)


def count_parameters(params: PyTree) -> int:
  """Number of trainable scalars in a parameter tree."""
  return int(sum(np.size(x) for x in jax.tree.leaves(params)))


def apply_dae(net: DAE, variables: dict[str, PyTree],
              jl: jnp.ndarray) -> jnp.ndarray:
  """Inference: [B, 42, 3] -> [B, 42, 3] denoised (dropout off)."""
  return net.apply(variables, jl, train=False)


# --- (prediction, ground truth) pairs of a real network ----------------------


@dataclasses.dataclass(frozen=True)
class PairedJLDataset:
  """JL predicted by a network and their ground truth, root-relative.

  Attributes:
    pred_jl: [N, 42, 3] float32 predictions (metres, root-relative).
    gt_jl: [N, 42, 3] float32 ground truth (metres, root-relative).
  """
  pred_jl: np.ndarray
  gt_jl: np.ndarray

  def __post_init__(self):
    for name in ('pred_jl', 'gt_jl'):
      array = getattr(self, name)
      if array.ndim != 3 or array.shape[1:] != (jl_lib.NUM_POINTS, 3):
        raise ValueError(f'{name} must be [N, {jl_lib.NUM_POINTS}, 3] '
                         f'(24 joints + 18 landmarks, xyz), got {array.shape}')
      if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f'{name} must be floating point, got {array.dtype}')
      bad = ~np.isfinite(array).all(axis=(1, 2))
      if bad.any():
        raise ValueError(f'{name} has NaN/Inf values in {bad.sum()} of '
                         f'{len(array)} samples (first: index '
                         f'{int(np.argmax(bad))}); drop or fix them.')
    if len(self.pred_jl) != len(self.gt_jl):
      raise ValueError(f'pred_jl has {len(self.pred_jl)} samples, gt_jl '
                       f'{len(self.gt_jl)}; they must be pairs.')
    if not len(self.pred_jl):
      raise ValueError('the dataset is empty')

  @classmethod
  def load(cls, path: str | os.PathLike[str]) -> 'PairedJLDataset':
    """Reads an .npz with `pred_jl` and `gt_jl`, both [N, 42, 3] in metres.

    Both are made root-relative (point 0 subtracted) and cast to float32.

    Raises:
      ValueError: a missing file or key, wrong shapes, NaN/Inf values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
      raise ValueError(
          f'paired JL file {path!r} not found; expected an .npz with arrays '
          "'pred_jl' and 'gt_jl' of shape [N, 42, 3] (metres), e.g. "
          "np.savez(path, pred_jl=predictions, gt_jl=ground_truth).")
    with np.load(path) as data:
      missing = {'pred_jl', 'gt_jl'} - set(data.files)
      if missing:
        raise ValueError(f'{path}: missing arrays {sorted(missing)} (has '
                         f'{sorted(data.files)}); expected pred_jl and gt_jl, '
                         'both [N, 42, 3].')
      pred, gt = data['pred_jl'], data['gt_jl']
    cls(pred, gt)  # validates before the root subtraction
    return cls(
        (pred - pred[:, :1]).astype(np.float32),
        (gt - gt[:, :1]).astype(np.float32))

  def __len__(self) -> int:
    return len(self.pred_jl)

  def split(self, held_out_fraction: float
            ) -> tuple['PairedJLDataset', 'PairedJLDataset']:
    """(train, held-out): the last `held_out_fraction` of the samples are
    held out (at least one sample in each part)."""
    n = len(self)
    held = round(n * held_out_fraction)
    if n < 2 or not 0 < held < n:
      raise ValueError(f'cannot hold out {held_out_fraction:.0%} of {n} '
                       'samples and keep both parts non-empty')
    return (PairedJLDataset(self.pred_jl[:-held], self.gt_jl[:-held]),
            PairedJLDataset(self.pred_jl[-held:], self.gt_jl[-held:]))


# --- training task -------------------------------------------------------------


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


def _reduce_batches(arrays: dict[str, np.ndarray], batch_size: int,
                    fn: Callable[[dict, int], dict]) -> dict:
  """Runs `fn(batch, start) -> {row: per-sample metrics}` over all samples
  (the last batch may be smaller) and returns {row: finalized metrics}."""
  size = len(next(iter(arrays.values())))
  totals = {}
  for start in range(0, size, batch_size):
    batch = {k: v[start:start + batch_size] for k, v in arrays.items()}
    for row, per_sample in fn(batch, start).items():
      totals[row] = metrics_lib.accumulate(totals.get(row), per_sample)
  return {row: metrics_lib.finalize(t) for row, t in totals.items()}


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
               body: smplr_lib.BodyModels | None = None):
    self.config = config
    self.net = make_dae(config.dae, axis_name='data')
    self.eval_net = make_dae(config.dae)
    if config.data == 'synthetic':
      self.body = body or smplr_lib.BodyModels.load(
          config.get('body_model_path'))
      self.train_pairs = self.held_out_pairs = None
    elif config.data == 'paired':
      if not config.paired.path:
        raise ValueError("data='paired' needs --config.paired.path=FILE.npz "
                         '(pred_jl and gt_jl, [N, 42, 3])')
      self.body = body
      dataset = PairedJLDataset.load(config.paired.path)
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
    jl = smplr_lib.points_from_parameters(self.body, rotation, betas, gender)
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
    key = jax.random.PRNGKey(self.config.validation_seed)
    size = self.config.eval_batch_size
    sample = jax.jit(self.sample_batch, static_argnums=1)
    return [jax.device_get(sample(jax.random.fold_in(key, i), size))
            for i in range(max(1, self.config.validation_size // size))]

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
    in `smplr.evaluate_on`. Paired data: 'paired/before|after/<metric>' on
    the held-out pairs. With `zero_depth` the "before" input has z = 0.
    """
    net = self.eval_net

    @jax.jit
    def before_after(variables, jl_in, jl):
      if self.config.dae.zero_depth:
        jl_in = drop_depth(jl_in)
      return {'before': metrics_lib.jl_metrics(jl_in, jl),
              'after': metrics_lib.jl_metrics(
                  net.apply(variables, jl_in, train=False), jl)}

    results = {}
    if self.config.data == 'paired':
      pairs = self.held_out_pairs
      rows = _reduce_batches(
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
      rows = _reduce_batches(
          {'jl': test_set['jl']}, self.config.eval_batch_size,
          lambda b, start, add=add: before_after(
              variables, add(jax.random.fold_in(key, start), b['jl']),
              b['jl']))
      results.update({f'{kind}/{row}/{k}': v for row, m in rows.items()
                      for k, v in m.items()})
    return results


# --- DAE + SMPLR on noisy JL ---------------------------------------------------


def evaluate_stitched(dae_net: DAE, dae_variables: dict[str, PyTree],
                      smplr_net: smplr_lib.SMPLR,
                      smplr_variables: dict[str, PyTree],
                      body: smplr_lib.BodyModels,
                      test_set: dict[str, np.ndarray], noise_kind: str,
                      noise_seed: int, batch_size: int,
                      noise_params: dict | None = None
                      ) -> dict[str, dict[str, float]]:
  """SMPLR with and without the DAE in front, on noisy JL (mm).

  The noise of batch `start` is drawn from fold_in(PRNGKey(noise_seed),
  start) (as in `DAETask.evaluate` and `smplr.evaluate_on`), so the
  'input' and 'dae' rows equal a DAE run's '<noise>/before|after' results.

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
    return smplr_lib.smplr_jl_metrics(smplr_net, body, smplr_variables, jl_in,
                                      batch, gt_vertices)

  @jax.jit
  def rows(batch, noise_key):
    jl_in = noise.add_noise(noise_key, batch['jl'], noise_kind, 1.0,
                            **noise_params)
    denoised = dae_net.apply(dae_variables, jl_in, train=False)
    gt_vertices = smplr_lib.true_vertices(body, batch)
    dae_in = drop_depth(jl_in) if dae_net.zero_depth else jl_in
    return {'input': metrics_lib.jl_metrics(dae_in, batch['jl']),
            'dae': metrics_lib.jl_metrics(denoised, batch['jl']),
            'smplr': smpl_row(jl_in, batch, gt_vertices),
            'dae+smplr': smpl_row(denoised, batch, gt_vertices)}

  return _reduce_batches(
      test_set, batch_size,
      lambda b, start: rows(b, jax.random.fold_in(key, start)))
