r"""Learning curve of an image-network run: error vs training hours, on the
synthetic test split and on an unseen-style set.

    python -m experiments.image_net.learning_curve \
        --workdir=workdirs/image_net/cpu_long \
        --output=docs/hourglass_learning_curve.png

For every checkpoint of the run: MPJPE and PA-MPJPE (mm, root-relative,
camera frame, true root) of the last stack's JL on

  * the held-out synthetic test split of the run's dataset (plain crops);
  * an unseen-style set (`--num_unseen` renders, seed 1): bodies rendered
    with `SyntheticConfig(style='unseen')` (background photographs and a
    fabric pattern never used in training) and wearing a long open coat
    (`augment` garments 'coat', never drawn in training) cut from those
    photographs.

Training hours come from the run's log (steps / logged steps per second);
with --rate_until=N, the steps after N are timed at the mean rate up to N
(for a run whose later steps shared the cores or were paused).
Also reported per checkpoint: the slope of the predicted on the true test
coordinates per camera axis (x, y, z), a measure of how far the predictions
are still shrunk toward the mean pose (1: not at all, 0: the mean pose).
Writes the figure and `<output>.json` with the numbers. With --reference
(the JSON of an earlier run of this command), that run's curves are drawn
too, in thin lines:

    python -m experiments.image_net.learning_curve \
        --workdir=workdirs/image_net/cpu_unet \
        --output=docs/unet_learning_curve.png \
        --reference=docs/hourglass_learning_curve.json \
        --reference_label=hourglass

A run that starts from another run's trained weights (`config.init_from`)
continues that run's curve with --continues (the JSON of that run): its rows
come first, this run's hours count on from its last row, and a dotted line
marks the restart:

    python -m experiments.image_net.learning_curve \
        --workdir=workdirs/image_net/cpu_unet_styles \
        --output=docs/unet_styles_learning_curve.png \
        --continues=docs/unet_learning_curve.json \
        --reference=docs/hourglass_learning_curve.json \
        --reference_label=hourglass \
        --label='cpu_unet, then cpu_unet_styles'
"""

from __future__ import annotations

import json
import pathlib

import matplotlib
import numpy as np
from absl import app, flags
from matplotlib import pyplot as plt

from smplr_jax import crop
from smplr_jax.body import gendered
from smplr_jax.data import augment, synthetic
from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.nets import weights_io
from smplr_jax.training import metric_writers
from smplr_jax.training.tasks import image_net as image_net_task

matplotlib.use('Agg')

_WORKDIR = flags.DEFINE_string('workdir', None, 'Image-network run.')
_OUTPUT = flags.DEFINE_string('output', None, 'PNG to write.')
_NUM_UNSEEN = flags.DEFINE_integer('num_unseen', 256, 'Unseen-style renders.')
_RATE_UNTIL = flags.DEFINE_integer(
    'rate_until', 0,
    'If > 0: steps after this one are timed at the mean logged rate up to '
    'it (for runs whose later steps shared the cores with other jobs).')
_REFERENCE = flags.DEFINE_string(
    'reference', None, 'JSON written by an earlier run of this command, '
    'drawn in thin lines for comparison (e.g. the hourglass run).')
_REFERENCE_LABEL = flags.DEFINE_string('reference_label', 'reference',
                                       "The reference run's legend name.")
_CONTINUES = flags.DEFINE_string(
    'continues', None, 'JSON written by this command for the run whose '
    'weights this run started from (config.init_from): the curve goes on '
    'from its last point.')
_LABEL = flags.DEFINE_string('label', None, "This run's legend name "
                             '(default: the workdir\'s name).')
flags.mark_flags_as_required(['workdir', 'output'])

UNSEEN_SEED = 1


def unseen_examples(num: int, crop_size: int) -> list[dict]:
  """Crops of the unseen-style set (see the module docstring)."""
  models = gendered.load_gendered_models()
  backgrounds = synthetic.load_backgrounds(
      names=synthetic.UNSEEN_BACKGROUND_PHOTOS)
  photos = [image[:h, :w] for image, (h, w) in zip(backgrounds.images,
                                                   backgrounds.sizes)]
  config = augment.augment_config()
  config.crop_size = crop_size
  for name in ('scale', 'rotation', 'flip', 'colour', 'background',
               'occluders'):
    config[name].enabled = False
  config.garments.update(dict(probability=1.0, skirt=0.0, dress=0.0,
                              wide_trousers=0.0, loose_shirt=0.0, hair=0.5,
                              coat=1.0))
  records = synthetic.render_examples(models, num, UNSEEN_SEED, start=0,
                                      config={'style': 'unseen'})
  return [augment.process_example(r, config, (UNSEEN_SEED, i), train=True,
                                  backgrounds=photos)
          for i, r in enumerate(records)]


def errors(task, variables, crops: np.ndarray, truth: np.ndarray) -> dict:
  """MPJPE / PA-MPJPE (mm) of root-relative predictions on crops."""
  preds = []
  for start in range(0, len(crops), task.config.eval_batch_size):
    batch = crops[start:start + task.config.eval_batch_size]
    preds.append(np.asarray(task.predict_cube(variables, batch)))
  pred_cube = np.concatenate(preds)
  root = truth[:, 0]
  pred = np.asarray(crop.cube_to_root_relative(pred_cube, root))
  per_sample = metrics_lib.jl_metrics(pred, truth - root[:, None])
  return metrics_lib.finalize(metrics_lib.accumulate(None, per_sample))


def main(argv):
  del argv
  workdir = pathlib.Path(_WORKDIR.value)
  config = weights_io.load_config(workdir)
  config.progress_bar = False
  task = image_net_task.ImageNetTask(config)
  unseen = unseen_examples(_NUM_UNSEEN.value, config.input_size)
  unseen_crops = np.stack([e['image'] for e in unseen])
  unseen_truth = np.stack([e['jl_cam'] for e in unseen])
  manager = weights_io.checkpoint_manager(workdir, create=False)
  steps = sorted(manager.all_steps())
  manager.close()
  hours = metric_writers.training_hours(workdir, _RATE_UNTIL.value)
  rows, restart = [], None
  if _CONTINUES.value:
    if not config.get('init_from'):
      raise app.UsageError(f'--continues: {workdir} did not start from '
                           'trained weights (its config has no init_from).')
    rows = json.loads(pathlib.Path(_CONTINUES.value).read_text())
    restart = rows[-1]['hours']
    hours = {s: h + restart for s, h in hours.items()}
  for step in steps:
    _, variables, _ = weights_io.load_trained_variables(workdir, step)
    test = task.predict_camera_jl(variables, 'test')
    per_sample = metrics_lib.jl_metrics(test['pred_jl'], test['gt_jl'])
    test_errors = metrics_lib.finalize(metrics_lib.accumulate(None,
                                                              per_sample))
    unseen_errors = errors(task, variables, unseen_crops, unseen_truth)
    hour = max((h for s, h in hours.items() if s <= step), default=0.0)
    # Shrinkage toward the mean pose: slope of predicted on true coordinates
    # per camera axis (1 = no shrinkage; a mean-pose network has 0).
    slopes = [float(np.polyfit(test['gt_jl'][:, 1:, a].ravel(),
                               test['pred_jl'][:, 1:, a].ravel(), 1)[0])
              for a in range(3)]
    rows.append(dict(run=workdir.name, step=step, hours=hour,
                     slope_x=slopes[0], slope_y=slopes[1], slope_z=slopes[2],
                     test_mpjpe=test_errors['mpjpe'],
                     test_pa_mpjpe=test_errors['pa_mpjpe'],
                     unseen_mpjpe=unseen_errors['mpjpe'],
                     unseen_pa_mpjpe=unseen_errors['pa_mpjpe']))
    print(' '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}'
                   for k, v in rows[-1].items()))
  output = pathlib.Path(_OUTPUT.value)
  output.parent.mkdir(parents=True, exist_ok=True)
  output.with_suffix('.json').write_text(json.dumps(rows, indent=1))
  fig, ax = plt.subplots(figsize=(6.4, 4.4))
  curves = (('test_mpjpe', 'synthetic test MPJPE', 'C0-'),
            ('test_pa_mpjpe', 'synthetic test PA-MPJPE', 'C0--'),
            ('unseen_mpjpe', 'unseen-style MPJPE', 'C1-'),
            ('unseen_pa_mpjpe', 'unseen-style PA-MPJPE', 'C1--'))
  if _REFERENCE.value:
    reference = json.loads(pathlib.Path(_REFERENCE.value).read_text())
    for key, label, style in curves:
      ax.plot([r['hours'] for r in reference], [r[key] for r in reference],
              style, lw=0.8, alpha=0.5, marker='.',
              label=f'{_REFERENCE_LABEL.value}: {label}')
  x = [r['hours'] for r in rows]
  name = _LABEL.value or workdir.name
  for key, label, style in curves:
    ax.plot(x, [r[key] for r in rows], style, marker='o',
            label=f'{name}: {label}' if _REFERENCE.value else label)
  ax.axhline(90, color='grey', lw=0.8, ls=':')
  if restart is not None:
    ax.axvline(restart, color='k', lw=0.8, ls=':')
    ax.text(restart, ax.get_ylim()[1], f' {workdir.name} starts', fontsize=7,
            va='top')
  ax.set_xlabel('training hours (2 CPU cores)' + (
      f', after step {_RATE_UNTIL.value:,} at the rate before it'
      if _RATE_UNTIL.value else ''))
  ax.set_ylabel('error (mm)')
  ax.set_title(f'{name}: image network JL error')
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(output, dpi=110)
  print(f'wrote {output} and {output.with_suffix(".json")}')


if __name__ == '__main__':
  app.run(main)
