"""Metric logging (smplr_jax.training.metric_writers): log lines and TensorBoard
event files."""

import struct

from absl import logging as absl_logging
from tensorboardX.proto import event_pb2

from smplr_jax.training import metric_writers


def _read_scalars(logdir):
  """{tag: [(step, value)]} from the TFRecord-framed event files in logdir."""
  scalars = {}
  for path in sorted(logdir.glob('events.out.tfevents.*')):
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
      (length,) = struct.unpack('<Q', data[offset:offset + 8])
      payload = data[offset + 12:offset + 12 + length]  # skip the length crc
      offset += 12 + length + 4  # and the payload crc
      event = event_pb2.Event.FromString(payload)
      for value in event.summary.value:
        scalars.setdefault(value.tag, []).append(
            (event.step, value.simple_value))
  return scalars


def test_scalars_reach_the_event_file_and_the_log(tmp_path, caplog):
  writer = metric_writers.create_writer(tmp_path)
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    with caplog.at_level('INFO'):
      writer.write_scalars(3, {'train/loss': 0.5, 'train/lr': 1e-3})
      writer.write_scalars(7, {'train/loss': 0.25})
  finally:
    absl_logging.set_verbosity(verbosity)
    writer.close()
  assert '[3] train/loss=0.5, train/lr=0.001' in caplog.text
  scalars = _read_scalars(tmp_path)
  assert scalars['train/loss'] == [(3, 0.5), (7, 0.25)]
  assert [step for step, _ in scalars['train/lr']] == [3]
