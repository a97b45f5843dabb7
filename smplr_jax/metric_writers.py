"""Metric logging: absl log lines plus TensorBoard event files (tensorboardX).

(clu's metric_writers would need TensorFlow at import time; tensorboardX
writes the same event files without it.)
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from absl import logging


class MetricWriter:
  """Writes scalar metrics to the log and to TensorBoard events in `logdir`
  (no events when `logdir` is None)."""

  def __init__(self, logdir: str | pathlib.Path | None):
    self._events = None
    if logdir is not None:
      import tensorboardX  # pylint: disable=g-import-not-at-top
      self._events = tensorboardX.SummaryWriter(str(logdir), flush_secs=30)

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    logging.info('[%d] %s', step, ', '.join(
        f'{k}={v:.6g}' for k, v in sorted(scalars.items())))
    for key, value in scalars.items():
      if self._events is not None:
        self._events.add_scalar(key, float(value), step)

  def flush(self) -> None:
    if self._events is not None:
      self._events.flush()

  def close(self) -> None:
    if self._events is not None:
      self._events.close()


def create_writer(workdir: str | pathlib.Path,
                  active: bool = True) -> MetricWriter:
  """A writer of TensorBoard events in `workdir`; inactive (log lines only)
  on the processes of a multi-process run other than process 0."""
  return MetricWriter(workdir if active else None)
