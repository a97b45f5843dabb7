"""The SMPLR task: Psi and Omega trained on synthetic bodies (paper Sec. 3.2).

`SMPLRTask` (a `train.Task`) trains any subset of the two networks of
`smplr_jax.nets.smplr.SMPLR` with the paper's losses, on bodies drawn on device by
`smplr_jax.data.sampler` and corrupted by `smplr_jax.data.noise`: L1 on betas, a
cross-entropy on gender, L1 on the rotation entries and, with
`loss_weights.smpl`, L1 on the JL of the SMPL output (`loss_style` 'ours'
or the authors' form, see `smplr.loss_terms`). The input noise is
`input_noise` (a `noise.NOISE_MODELS` kind: 'uniform' is ours, 'authors'
their table) times `input_noise_scale`. Runs initialise networks from
trained workdirs (`init_from`). Evaluation gives the Table-1 metrics on the
seeded held-out set, from clean and from noisy JL.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np

from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import noise, sampler
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.evaluation import stitched
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.nets import weights_io
from smplr_jax.training import train
from smplr_jax.training.parallel import DATA_AXIS

PyTree = Any


class SMPLRTask:
  """Trains SMPLR networks on synthetic bodies (a `train.Task`)."""

  def __init__(self, config: ml_collections.ConfigDict,
               body: gendered.GenderedModels | None = None):
    self.config = config
    self.body = body or gendered.GenderedModels.load(
        config.get('body_model_path'))
    self.smplr = smplr_lib.from_config(config.smplr, axis_name=DATA_AXIS)
    self.eval_smplr = smplr_lib.from_config(config.smplr)
    self._eval_fns = {}  # compiled evaluation steps, reused across calls

  # --- data -----------------------------------------------------------------

  def sample_batch(self, rng: jax.Array, batch_size: int) -> dict:
    body_key, noise_key = jax.random.split(rng)
    rotation, betas, gender = sampler.sample_parameters(
        body_key, batch_size, num_betas=self.config.smplr.num_betas)
    jl = jl_lib.smpl_points(self.body.points, rotation, betas, gender)
    return dict(jl=jl, pose=rotation, betas=betas, gender=gender,
                jl_in=noise.add_noise(noise_key, jl, input_noise(self.config),
                                      self.config.input_noise_scale))

  def validation_batches(self) -> list[dict]:
    return train.sampled_batches(self.sample_batch,
                                 self.config.validation_seed,
                                 self.config.validation_size,
                                 self.config.eval_batch_size)

  # --- training -------------------------------------------------------------

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    variables = self.smplr.init_variables(rng)
    for part, workdir in self.config.init_from.items():
      if workdir:
        _, trained, _ = weights_io.load_trained_variables(workdir)
        if part not in trained['params']:
          raise ValueError(f'{workdir} holds no {part!r} network (it has '
                           f'{sorted(trained["params"])}).')
        variables['params'][part] = trained['params'][part]
        variables['batch_stats'][part] = trained['batch_stats'][part]
    return variables

  def loss(self, params, batch_stats, batch, rng, train: bool):
    del rng
    smplr = self.smplr if train else self.eval_smplr
    weights = self.config.loss_weights
    predictions, new_stats = smplr_lib.forward(
        smplr, params, batch_stats, batch['jl_in'],
        self.body.template_lengths, train)
    terms = smplr_lib.loss_terms(predictions, batch, self.body.points,
                                 with_smpl=bool(weights.smpl),
                                 style=self.config.get('loss_style', 'ours'))
    loss = sum(weights[k] * v for k, v in terms.items())
    metrics = {f'loss_{k}': v for k, v in terms.items()}
    return loss, (metrics, new_stats)

  # --- evaluation -----------------------------------------------------------

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """Table-1 metrics on the held-out set, from clean and from noisy JL
    (the training noise kind, `input_noise`).

    Rotation-matrix networks are evaluated twice: with the predicted
    matrices projected onto SO(3) before SMPL ('clean/...', 'noisy/...')
    and raw, as the authors feed them ('clean_raw/...', 'noisy_raw/...').
    """
    test_set = sampler.make_test_set(self.body.gendered,
                                     size=self.config.test_set_size,
                                     seed=self.config.test_seed)
    raw_too = ('pose' in self.config.smplr.parts and
               self.config.smplr.rotation == 'rotmat')
    results = {}
    for project in (True, False) if raw_too else (True,):
      for name, scale in (('clean', 0.0), ('noisy', 1.0)):
        prefix = name if project else f'{name}_raw'
        results.update({f'{prefix}/{k}': v for k, v in evaluate_on(
            self.eval_smplr, self.body, variables, test_set,
            noise_scale=scale, batch_size=self.config.eval_batch_size,
            noise_seed=self.config.test_noise_seed,
            noise_kind=input_noise(self.config),
            project_rotations=project, compiled=self._eval_fns).items()})
    return results


def input_noise(config: ml_collections.ConfigDict) -> str:
  """The config's input-noise kind (`noise.NOISE_MODELS`; 'uniform' when
  unset, as in runs made before the field existed)."""
  return config.get('input_noise', 'uniform')


def evaluate_on(smplr: smplr_lib.SMPLR, body: gendered.GenderedModels,
                variables: dict[str, PyTree], test_set: dict[str, np.ndarray],
                noise_scale: float, batch_size: int, noise_seed: int,
                noise_kind: str = 'uniform',
                project_rotations: bool = True,
                compiled: dict | None = None) -> dict[str, float]:
  """Runs SMPLR on a test set and reduces `metrics.jl_metrics` over it.

  Args:
    smplr, body, variables: the networks (as in `pipeline.jl_to_body`).
    test_set: `sampler.make_test_set` output.
    noise_scale: input noise, x the bounds of the noise model (0: clean).
    batch_size: evaluation batch size (a remainder is dropped).
    noise_seed: the noise of batch `start` is drawn from
      fold_in(PRNGKey(noise_seed), start).
    noise_kind: a key of `noise.NOISE_MODELS`.
    project_rotations: as in `pipeline.jl_to_body`.
    compiled: a dict in which the compiled step is kept per (noise kind,
      projection), for callers that evaluate the same networks repeatedly
      (the noise scale is an argument, so clean and noisy share one).

  Returns:
    Table-1 metrics (mm, %).
  """

  cache = {} if compiled is None else compiled
  if (noise_kind, project_rotations) not in cache:
    @jax.jit
    def step(variables, batch, key, scale):
      jl_in = noise.add_noise(key, batch['jl'], noise_kind, scale)
      return stitched.smplr_jl_metrics(smplr, body, variables, jl_in, batch,
                                       gendered.true_vertices(body, batch),
                                       project_rotations)
    cache[noise_kind, project_rotations] = step
  step = cache[noise_kind, project_rotations]

  def batch_metrics(variables, batch, key):
    return step(variables, batch, key, noise_scale)

  key = jax.random.PRNGKey(noise_seed)
  whole = len(test_set['jl']) // batch_size * batch_size  # drop a remainder
  return metrics_lib.reduce_batches(
      {k: v[:whole] for k, v in test_set.items()}, batch_size,
      lambda batch, start: {'smplr': batch_metrics(
          variables, batch, jax.random.fold_in(key, start))})['smplr']
