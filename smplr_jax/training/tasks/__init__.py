"""Training tasks: what `smplr_jax.training.train.train_and_evaluate` trains.

Each module defines one `train.Task`: `smplr.SMPLRTask` (Psi and Omega),
`dae.DAETask` (the denoising autoencoder), `image_net.ImageNetTask` (the
image network: the stacked hourglass or the U-Net), `end_to_end.EndToEndTask` (the image network trained
through the DAE, SMPLR and SMPL) and `adapter.AdapterTask` (another
detector's keypoints -> JL). They sit above the library (networks, data,
the trainer); nothing below imports them. `make_task` picks one by
`config.task`, for launchers and evaluation scripts.
"""

from __future__ import annotations

import ml_collections

from smplr_jax.training.tasks import adapter, dae, end_to_end, image_net, smplr

TASKS = {
    'smplr': smplr.SMPLRTask,
    'dae': dae.DAETask,
    'image_net': image_net.ImageNetTask,
    'end_to_end': end_to_end.EndToEndTask,
    'adapter': adapter.AdapterTask,
}


def make_task(config: ml_collections.ConfigDict):
  """The `train.Task` named by `config.task` (a key of `TASKS`; a saved
  run's config under a task's old name is upgraded when it is read,
  `weights_io.load_config`)."""
  if config.task not in TASKS:
    raise ValueError(f'unknown task {config.task!r}; known: '
                     f'{", ".join(sorted(TASKS))}')
  return TASKS[config.task](config)
