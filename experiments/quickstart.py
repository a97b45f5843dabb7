r"""Quickstart: sample bodies, train a small SMPLR, evaluate it, draw meshes.

    python -m experiments.quickstart --workdir=workdirs/quickstart

Runs on the embedded default body model in a few minutes on 2 CPU cores:
trains both SMPLR networks jointly (with the SMPL loss) on synthetic bodies
with noisy joints and landmarks, evaluates on the seeded held-out set (Table-1
columns, mm), and writes `quickstart.png`: true vs. predicted meshes of
held-out bodies recovered from their 42 joints and landmarks. Re-running
resumes from the workdir.
"""

import pathlib

from absl import app
from absl import flags
from absl import logging
import jax
import matplotlib
from matplotlib import pyplot as plt
import numpy as np

from experiments.smplr.configs import smplr as smplr_config
from smplr_jax import inference
from smplr_jax import metrics
from smplr_jax import sampler
from smplr_jax import smpl
from smplr_jax import train
from smplr_jax.tasks import smplr as smplr_task

matplotlib.use('Agg')  # no display: draw to files

_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/quickstart', 'Run folder.')
_STEPS = flags.DEFINE_integer('num_steps', 3000, 'Training steps.')
_NUM_SHOWN = flags.DEFINE_integer('num_shown', 4, 'Bodies in the picture.')


def quickstart_config(num_steps: int):
  """The SMPLR end-to-end config, trained from scratch and shortened."""
  config = smplr_config.get_config()
  config.num_steps = num_steps
  config.batch_size = 128
  config.learning_rate = 1e-3
  config.final_learning_rate = 1e-5
  config.log_every = 100
  config.eval_every = 500
  config.smplr.rotation = '6d'  # our improvement over the paper's matrices
  config.test_set_size = 1024
  config.validation_size = 256
  return config


def draw(test_set: dict, predicted: dict, faces: np.ndarray,
         path: pathlib.Path) -> None:
  """Front views of true (grey) and predicted (blue) meshes, side by side."""
  count = len(predicted['vertices'])
  fig, axes = plt.subplots(2, count, figsize=(3 * count, 6.4))
  for i in range(count):
    for row, (verts, colour, title) in enumerate((
        (test_set['vertices'][i], '#9a9a9a', 'true'),
        (predicted['vertices'][i], '#4a7fd0', 'SMPLR from JL'))):
      ax = axes[row, i]
      tri = verts[faces]
      depth = tri[..., 2].mean(1)
      order = np.argsort(depth)
      ax.tripcolor(verts[:, 0], verts[:, 1], faces[order],
                   facecolors=depth[order], cmap='Greys_r' if row == 0
                   else 'Blues_r', shading='flat', edgecolors='none')
      jl = test_set['jl'][i]
      ax.scatter(jl[:, 0], jl[:, 1], s=6, c='red', zorder=3)
      ax.set_aspect('equal')
      ax.axis('off')
      error = np.linalg.norm(predicted['vertices'][i] -
                             test_set['vertices'][i], axis=-1).mean() * 1000
      ax.set_title(f'{title}' + (f'\nsurface err {error:.0f} mm'
                                 if row else ''), fontsize=9, color=colour)
  fig.suptitle('held-out bodies: true mesh (top, red = input JL) vs. mesh '
               'recovered by SMPLR (bottom)', fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv):
  del argv
  if not flags.FLAGS['verbosity'].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  workdir = pathlib.Path(_WORKDIR.value)
  config = quickstart_config(_STEPS.value)
  results = train.train_and_evaluate(config, workdir,
                                     smplr_task.SMPLRTask(config))
  row = {k.split('/', 1)[1]: v for k, v in results.items()
         if k.startswith('clean/')}
  print('\nHeld-out set, input = ground-truth JL (mm):')
  print(metrics.format_table({'quickstart SMPLR': row}))

  predictor = inference.load_smplr(workdir)
  body = sampler.load_gendered_models(config.body_model_path)
  test_set = sampler.make_test_set(body, size=_NUM_SHOWN.value,
                                   seed=config.test_seed)
  predicted = jax.device_get(predictor(test_set['jl']))
  truth = smpl.smpl_forward(body, test_set['pose'], test_set['betas'],
                            gender=test_set['gender'])
  test_set['vertices'] = np.asarray(truth.vertices - truth.joints[:, :1])
  path = workdir / 'quickstart.png'
  draw(test_set, predicted, np.asarray(predicted['faces']), path)
  print(f'\nWrote {path}')


if __name__ == '__main__':
  app.run(main)
