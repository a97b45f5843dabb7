r"""Quickstart: train a small SMPLR, evaluate it, and go from images to meshes.

    python -m experiments.quickstart --workdir=workdirs/quickstart

Runs on the embedded default body model in a few minutes on 2 CPU cores:
trains both SMPLR networks jointly (with the SMPL loss) on synthetic
camera-frame bodies with noisy joints and landmarks, evaluates on the seeded
held-out set (Table-1 columns, mm), then recovers bodies from held-out
renders (the test split of the image network's training set) through the
shipped image network and DAE (`third_party/weights`) and this run's SMPLR,
and writes `quickstart.png`: each row is the network's input crop | the
recovered mesh over it | the true mesh over it. Re-running resumes from the
workdir.
"""

import pathlib

import numpy as np
from absl import flags
from PIL import Image

from experiments.smplr.configs import shipped as shipped_config
from smplr_jax import cli, crop
from smplr_jax.body import gendered, smpl
from smplr_jax.data import augment, synthetic
from smplr_jax.evaluation import metrics
from smplr_jax.predict import draw, predictor as predictor_lib
from smplr_jax.training import train
from smplr_jax.training.tasks import smplr as smplr_task

_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/quickstart', 'Run folder.')
_STEPS = flags.DEFINE_integer('num_steps', 2000, 'Training steps.')
_NUM_SHOWN = flags.DEFINE_integer('num_shown', 3, 'Renders in the picture.')
# The held-out renders: the test split of the image network's dataset
# (smplr_synthetic n32768_v512_t1024_s0: seed 0, examples 33280 on).
_RENDER_SEED, _RENDER_START = 0, 33_280
_PANEL = 192  # pixels per panel in the picture


def quickstart_config(num_steps: int):
  """The shipped SMPLR's config (experiments/smplr/configs/shipped.py),
  shortened."""
  config = shipped_config.get_config()
  config.num_steps = num_steps
  config.log_every = 100
  config.eval_every = 500
  return config


def image_to_mesh_picture(workdir: pathlib.Path, config, count: int,
                          path: pathlib.Path) -> list[float]:
  """Held-out renders -> bodies; writes the picture, returns the surface
  errors (mm)."""
  predictor = predictor_lib.load_pipeline(smplr=workdir)
  body = gendered.load_gendered_models(config.body_model_path)
  records = list(synthetic.render_examples(
      body, count, _RENDER_SEED, start=_RENDER_START,
      config={'batch_size': count}))
  crop_config = augment.augment_config()
  crop_config.crop_size = predictor.input_size
  rows, errors = [], []
  for record in records:
    example = augment.process_example(record, crop_config, train=False)
    crop_image = np.round(example['image'] * 255).astype(np.uint8)
    root = example['jl_cam'][0]
    out = predictor.predict_crops(crop_image[None], root[None])
    truth = smpl.smpl_forward(body, np.asarray(record['pose'])[None],
                              np.asarray(record['betas'])[None],
                              gender=np.asarray([record['gender']]))
    true_vertices = np.asarray(truth.vertices[0] - truth.joints[0, :1])
    errors.append(float(np.linalg.norm(out['vertices'][0] - true_vertices,
                                       axis=-1).mean() * 1000))
    _, pixels = crop.crop_transform(root, record['focal'],
                                    record['principal'], predictor.input_size)
    # The panel: the crop enlarged; crop pixels scaled by the same factor.
    scale = _PANEL / predictor.input_size
    panel = np.asarray(Image.fromarray(crop_image).resize((_PANEL, _PANEL),
                                                    Image.BILINEAR))
    homography = np.diag([scale, scale, 1.0]) @ pixels
    panels = [panel]
    for vertices, joints, colour in (
        (out['vertices'][0], out['joints'][0], (0.30, 0.55, 0.95)),
        (true_vertices, np.asarray(truth.joints[0] - truth.joints[0, :1]),
         (0.95, 0.65, 0.25))):
      focal, principal = draw.camera_in_picture(
          record['focal'], record['principal'], homography)
      joint_pixels = draw.project(joints + root, record['focal'],
                                  record['principal'], homography)
      panels.append(draw.mesh_overlay(panel, vertices + root, out['faces'],
                                      focal, principal, colour=colour,
                                      joints=joint_pixels[:, :2]))
    rows.append(np.concatenate(panels, axis=1))
  Image.fromarray(np.concatenate(rows, axis=0)).save(path)
  return errors


def main(argv):
  del argv
  workdir = pathlib.Path(_WORKDIR.value)
  config = quickstart_config(_STEPS.value)
  results = train.train_and_evaluate(config, workdir,
                                     smplr_task.SMPLRTask(config))
  row = {k.split('/', 1)[1]: v for k, v in results.items()
         if k.startswith('clean/')}
  print('\nHeld-out set, input = ground-truth JL (mm):')
  print(metrics.format_table({'quickstart SMPLR': row}))

  path = workdir / 'quickstart.png'
  errors = image_to_mesh_picture(workdir, config, _NUM_SHOWN.value, path)
  print(f'\nWrote {path}: held-out renders | recovered mesh (blue) | true '
        f'mesh (orange); surface errors '
        f'{", ".join(f"{e:.0f}" for e in errors)} mm')


if __name__ == '__main__':
  cli.run(main)
