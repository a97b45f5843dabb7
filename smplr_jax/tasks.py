"""Builds the task named by a config (`config.task`)."""

from __future__ import annotations

import ml_collections


def make_task(config: ml_collections.ConfigDict):
  """Returns the `train.Task` for `config.task`."""
  if config.task == 'smplr':
    from smplr_jax import smplr  # pylint: disable=g-import-not-at-top
    return smplr.SMPLRTask(config)
  if config.task == 'dae':
    from smplr_jax import dae  # pylint: disable=g-import-not-at-top
    return dae.DAETask(config)
  if config.task == 'hourglass':
    from smplr_jax import shn  # pylint: disable=g-import-not-at-top
    return shn.HourglassTask(config)
  raise ValueError(f"unknown task {config.task!r}; known: 'smplr', 'dae', "
                   "'hourglass'")
