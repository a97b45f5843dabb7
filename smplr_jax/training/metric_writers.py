"""Metric logging: absl log lines plus TensorBoard event files (tensorboardX).

(clu's metric_writers would need TensorFlow at import time; tensorboardX
writes the same event files without it.)
"""

from __future__ import annotations

import json
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


def training_hours(workdir: str | pathlib.Path,
                   rate_until: int = 0) -> dict[int, float]:
  """step -> hours of training, from a run's metrics.jsonl (steps per second).

  With rate_until > 0, steps after it are timed at the mean rate of the
  steps up to it instead of their own logged rate.
  """
  hours, total, last = {0: 0.0}, 0.0, 0
  frozen_rate = None  # steps/s up to rate_until, fixed once past it
  log = (pathlib.Path(workdir) / 'metrics.jsonl').read_text()
  for line in log.splitlines():
    entry = json.loads(line)
    if 'steps_per_second' in entry:
      if rate_until and frozen_rate is None and last >= rate_until:
        cut = max(step for step in hours if step <= rate_until)
        frozen_rate = cut / hours[cut] / 3600 if cut else None
      rate = frozen_rate or entry['steps_per_second']
      total += (entry['step'] - last) / rate / 3600
      last = entry['step']
      hours[entry['step']] = total
  return hours
