"""The training clock the learning curve reads from a run's log."""

import json

import pytest

from smplr_jax.training import metric_writers


def _write_log(path, rates):
  lines = [json.dumps({'step': 100 * (i + 1), 'steps_per_second': r})
           for i, r in enumerate(rates)]
  (path / 'metrics.jsonl').write_text('\n'.join(lines + ['{"step": 400}']))


def test_hours_from_the_logged_rates(tmp_path):
  _write_log(tmp_path, [1.0, 2.0, 0.5])
  hours = metric_writers.training_hours(tmp_path)
  assert hours[100] == pytest.approx(100 / 3600)
  assert hours[300] == pytest.approx((100 + 50 + 200) / 3600)


def test_rate_until_times_later_steps_at_the_earlier_rate(tmp_path):
  # Steps 0-200 ran at 150 / 2 steps/s on average; 200-300 logged a slow,
  # shared rate that the clock replaces with the earlier one.
  _write_log(tmp_path, [1.0, 2.0, 0.01])
  hours = metric_writers.training_hours(tmp_path, rate_until=200)
  mean_rate = 200 / 150
  assert hours[200] == pytest.approx(150 / 3600)
  assert hours[300] == pytest.approx((150 + 100 / mean_rate) / 3600)
