"""Training tasks: what `smplr_jax.training.train.train_and_evaluate` trains.

Each module defines one `train.Task`: `smplr.SMPLRTask` (Psi and Omega),
`dae.DAETask` (the denoising autoencoder), `hourglass.HourglassTask` (the
image network), `end_to_end.EndToEndTask` (the image network trained
through the DAE, SMPLR and SMPL) and `adapter.AdapterTask` (another
detector's keypoints -> JL). They sit above the library (networks, data,
the trainer); nothing below imports them. `make_task` picks one by
`config.task`, for launchers and evaluation scripts.
"""

from __future__ import annotations

import ml_collections

from smplr_jax.training.tasks import adapter
from smplr_jax.training.tasks import dae
from smplr_jax.training.tasks import end_to_end
from smplr_jax.training.tasks import hourglass
from smplr_jax.training.tasks import smplr

TASKS = {
    'smplr': smplr.SMPLRTask,
    'dae': dae.DAETask,
    'hourglass': hourglass.HourglassTask,
    'end_to_end': end_to_end.EndToEndTask,
    'adapter': adapter.AdapterTask,
}


def make_task(config: ml_collections.ConfigDict):
  """The `train.Task` named by `config.task` (a key of `TASKS`)."""
  if config.task not in TASKS:
    raise ValueError(f'unknown task {config.task!r}; known: '
                     f'{", ".join(sorted(TASKS))}')
  return TASKS[config.task](config)
