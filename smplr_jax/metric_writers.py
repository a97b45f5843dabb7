"""Metric logging: absl log lines plus TensorBoard event files (tensorboardX).

(clu's metric_writers would need TensorFlow at import time; tensorboardX
writes the same event files without it.)
"""

from __future__ import annotations

import pathlib
from typing import Mapping

from absl import logging


class MetricWriter:
  """Writes scalar metrics to the log and to TensorBoard events in `logdir`."""

  def __init__(self, logdir: str | pathlib.Path):
    import tensorboardX  # pylint: disable=g-import-not-at-top
    self._events = tensorboardX.SummaryWriter(str(logdir), flush_secs=30)

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    logging.info('[%d] %s', step, ', '.join(
        f'{k}={v:.6g}' for k, v in sorted(scalars.items())))
    for key, value in scalars.items():
      self._events.add_scalar(key, float(value), step)

  def flush(self) -> None:
    self._events.flush()

  def close(self) -> None:
    self._events.close()


def create_writer(workdir: str | pathlib.Path) -> MetricWriter:
  return MetricWriter(workdir)
