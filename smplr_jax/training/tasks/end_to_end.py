"""The end-to-end task: image network -> soft-argmax -> DAE -> SMPLR -> SMPL
trained jointly (paper Sec. 4.5).

`EndToEndTask` (a `train.Task`) extends `tasks.image_net.ImageNetTask`: its
loss is the image-network loss plus `config.e2e.smplr_weight` (lambda) times
SMPLR's losses (`smplr.loss_terms`: L1 on pose, betas, the gender cross-
entropy and L1 on the JL of the SMPL output) computed on the image
network's own camera-frame JL, through the soft-argmax, the DAE and SMPL
(`pipeline.volume_to_body`'s chain). Gradients of the SMPLR terms reach the
image network through all of them.

The three networks start from trained runs (`config.init_from`: a training
workdir or an exported folder each). As in the paper, the DAE and SMPLR are
frozen by default (`config.e2e.train_smplr`, `config.e2e.train_dae` train
them too; their BatchNorm statistics stay frozen either way). Examples
without SMPL ground truth (`has_smpl` 0, e.g. Human3.6M) are masked out of
the SMPLR terms. Evaluation reports the test split's errors of the image
network's JL ('image/...'), of SMPLR's input ('input/...', after the DAE)
and of the SMPL output ('body/...'), in mm.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from smplr_jax.body import gendered, rotations
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import bundle, weights_io
from smplr_jax.nets import dae as dae_lib
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.predict import pipeline
from smplr_jax.training.tasks import image_net as image_net_task

PyTree = Any
# Batch keys of the end-to-end loss: the image network's and the SMPL truth.
_BATCH_KEYS = ('image', 'jl_cube', 'jl_valid', 'jl_cam', 'zoom', 'pose',
               'betas', 'gender', 'has_smpl')


def _start_point(config: ml_collections.ConfigDict, what: str) -> str:
  """`config.init_from.<what>`, or an error that names the empty field."""
  path = config.init_from.get(what)
  if not path:
    raise ValueError(f'config.init_from.{what} is empty: the end-to-end task '
                     f'starts from a trained {what} (a workdir or an '
                     'exported folder).')
  return path


class EndToEndTask(image_net_task.ImageNetTask):
  """Image network + (DAE) + SMPLR + SMPL trained jointly (a `train.Task`)."""

  batch_keys = _BATCH_KEYS

  def __init__(self, config: ml_collections.ConfigDict,
               sources: dict[str, Any] | None = None):
    super().__init__(config, sources)
    _, smplr_net, self._smplr_variables = bundle.load_smplr(
        _start_point(config, 'smplr'))
    self.body = gendered.GenderedModels.load(config.get('body_model_path'))
    dae_net = None
    self._dae_variables = None
    if config.init_from.get('dae'):
      dae_config, self._dae_variables = weights_io.load_variables(
          _start_point(config, 'dae'))
      dae_net = dae_lib.make_dae(dae_config.dae)
    self.stages = bundle.Stages(
        image_net=self.eval_net, smplr=smplr_net, dae=dae_net,
        cube_size=float(config.cube_size))

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    # A trained image network (checked against this config's network, as
    # the image-network task's init_from), or a fresh one.
    image_net_variables = self.fresh_variables(rng)
    if self.config.init_from.get('image_net'):
      image_net_variables = weights_io.load_variables_like(
          self.config.init_from.image_net, image_net_variables)
    stages = {'image_net': image_net_variables,
              'smplr': self._smplr_variables}
    if self._dae_variables is not None:
      stages['dae'] = self._dae_variables
    # Copies: the trainer donates its state's buffers to the step.
    stages = jax.tree.map(jnp.array, stages)
    return {'params': {k: v['params'] for k, v in stages.items()},
            'batch_stats': {k: v['batch_stats'] for k, v in stages.items()}}

  def _stage_variables(self, params, batch_stats) -> dict[str, PyTree]:
    """SMPLR / DAE variables as the pipeline takes them, frozen unless the
    config trains them (gradients stopped: Adam then leaves them as they
    are)."""
    e2e = self.config.e2e
    out = {}
    for stage, trained in (('smplr', e2e.train_smplr),
                           ('dae', e2e.train_dae)):
      if stage not in params:
        continue
      stage_params = params[stage]
      if not trained:
        stage_params = jax.lax.stop_gradient(stage_params)
      out[stage] = {'params': stage_params,
                    'batch_stats': batch_stats[stage]}
    return out

  def loss(self, params, batch_stats, batch, rng, train):
    variables = {'params': params['image_net'],
                 'batch_stats': batch_stats['image_net']}
    outputs, loss, metrics, image_net_stats = self.outputs_and_loss(
        variables, batch, rng, train)
    new_stats = dict(batch_stats, image_net=image_net_stats)
    metrics['loss_image_net'] = loss

    variables = dict(self._stage_variables(params, batch_stats),
                     image_net=variables)
    root = batch['jl_cam'][:, 0]
    # The pipeline's own chain, stopped before the mesh: SMPLR's raw outputs.
    recovered = pipeline.volume_to_body(self.stages, variables, self.body,
                                        outputs[-1], root, batch['zoom'],
                                        with_mesh=False)
    predictions = recovered['predictions']
    truth = {'jl': batch['jl_cam'] - root[:, None],
             'pose': rotations.axis_angle_to_matrix(batch['pose']),
             'betas': batch['betas'], 'gender': batch['gender']}
    terms = smplr_lib.loss_terms(
        predictions, truth, self.body.points, with_smpl=True,
        example_weights=batch['has_smpl'].astype(jnp.float32),
        style=self.config.e2e.get('loss_style', 'ours'))
    weights = self.config.e2e.term_weights
    smplr_loss = sum(weights[k] * v for k, v in terms.items())
    metrics.update({f'loss_smplr_{k}': v for k, v in terms.items()})
    metrics['loss_smplr'] = smplr_loss
    loss = (self.config.e2e.get('image_net_weight', 1.0) * loss +
            self.config.e2e.smplr_weight * smplr_loss)
    return loss, (metrics, new_stats)

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    return self.evaluate_with_predictions(variables)[0]

  def evaluate_with_predictions(self, variables):
    """Test-split errors (mm) of the image network's JL ('image/'), of
    SMPLR's input ('input/', after the DAE; only with a DAE) and of the SMPL
    output ('body/', with the surface error where SMPL ground truth exists),
    every stage given the true root (root-relative protocols)."""
    return evaluate_chain(self, variables, role='test')


def _split_variables(variables):
  return {stage: {'params': variables['params'][stage],
                  'batch_stats': variables['batch_stats'][stage]}
          for stage in variables['params']}


def evaluate_chain(task: image_net_task.ImageNetTask,
                   variables: dict[str, PyTree], role: str = 'test',
                   stages: bundle.Stages | None = None,
                   body: gendered.GenderedModels | None = None,
                   flip_test: bool = False):
  """Image -> body errors on a split, through `pipeline.image_to_body`.

  Args:
    task: an image-network task (its sources, crops and batching).
    variables: {'params': {stage: ...}, 'batch_stats': {stage: ...}} with
      stages 'image_net', 'smplr' and optionally 'dae'.
    role: the split.
    stages, body: default the task's.
    flip_test: average with the mirrored crops (`pipeline.image_to_body`).

  Returns:
    (metrics, predictions): metrics 'image/<col>', 'input/<col>' (with a
    DAE), 'body/<col>' (Table-1 columns, mm, plus 'surface' and
    'gender_acc' where the records have SMPL parameters); predictions
    holds pred_jl (SMPLR's input), gt_jl, jl_valid.
  """
  stages = stages or task.stages
  body = body or task.body
  split = _split_variables(variables)

  @jax.jit
  def run(batch):
    root = batch['jl_cam'][:, 0]
    out = pipeline.image_to_body(stages, split, body, batch['image'], root,
                                 flip_test=flip_test)
    truth = batch['jl_cam'] - root[:, None]
    pose = rotations.axis_angle_to_matrix(batch['pose'])
    gt = {'pose': pose, 'betas': batch['betas'], 'gender': batch['gender']}
    gt_vertices = gendered.true_vertices(body, gt)
    rows = {'image': metrics_lib.jl_metrics(out['jl_image'], truth),
            'body': metrics_lib.jl_metrics(
                out['jl'], truth, pred_vertices=out['vertices'],
                gt_vertices=gt_vertices, pred_male_prob=out['male_prob'],
                gt_male=batch['gender'] == 1)}
    if stages.dae is not None:
      rows['input'] = metrics_lib.jl_metrics(out['jl_input'], truth)
    return rows, out['jl_input'], truth

  totals, preds, truths, valids = None, [], [], []
  has_smpl = True
  batches = task._eval_batches(  # pylint: disable=protected-access
      role, drop_remainder=False)
  for batch in batches:
    keep = batch['valid'] > 0
    has_smpl &= bool(np.all(batch['has_smpl'][keep] > 0))
    rows, jl_input, truth = jax.device_get(run(
        {k: batch[k] for k in ('image', 'jl_cam', 'pose', 'betas',
                               'gender')}))
    rows = jax.tree.map(lambda v: v[keep], rows)
    totals = {row: metrics_lib.accumulate((totals or {}).get(row), values)
              for row, values in rows.items()}
    preds.append(np.asarray(jl_input)[keep])
    truths.append(np.asarray(truth)[keep])
    valids.append(batch['jl_valid'][keep])
  results = {}
  for row, row_totals in totals.items():
    for column, value in metrics_lib.finalize(row_totals).items():
      if row == 'body' and not has_smpl and column in ('surface',
                                                       'gender_acc'):
        continue
      results[f'{row}/{column}'] = value
  predictions = dict(pred_jl=np.concatenate(preds),
                     gt_jl=np.concatenate(truths),
                     jl_valid=np.concatenate(valids))
  results['num_test_examples'] = len(predictions['gt_jl'])
  return results, predictions
