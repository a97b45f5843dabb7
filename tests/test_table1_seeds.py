"""Table 1 over seeds (experiments/smplr/table1_seeds.py): mean +- std."""

import json

import numpy as np
import pytest

from experiments.smplr import table1_seeds


def _write(root, seed, row, results):
  path = root / f'seed{seed}' / row
  path.mkdir(parents=True)
  (path / 'eval.json').write_text(json.dumps(results))


def test_mean_and_std_over_seeds(tmp_path):
  for seed, (jt, raw) in enumerate([(20.0, 30.0), (22.0, 34.0),
                                    (24.0, 38.0)]):
    _write(tmp_path, seed, 'omega', {'clean/mpjpe': jt, 'clean/Hd': 5.0,
                                     'clean_raw/mpjpe': raw,
                                     'noisy/mpjpe': jt + 1})
    _write(tmp_path, seed, 'omega_6d', {'clean/mpjpe': jt - 1})
  values = table1_seeds.collect(tmp_path, 'clean')
  summary = table1_seeds.summarise(values)
  assert summary['omega']['mpjpe'] == pytest.approx(
      dict(mean=22.0, std=2.0, n=3))
  assert summary['omega_6d']['mpjpe']['mean'] == pytest.approx(21.0)
  table = table1_seeds.format_table(summary)
  assert '| omega (n=3) |' in table and '22.0 ± 2.0' in table
  assert '21.0 ± 2.0' in table
  raw = table1_seeds.summarise(table1_seeds.collect(tmp_path, 'clean_raw'))
  assert set(raw) == {'omega'}  # 6D rows have no raw-matrix variant
  assert raw['omega']['mpjpe']['std'] == pytest.approx(4.0)
  # One seed: no spread to report.
  one = table1_seeds.summarise({'psi': {'mpjpe': [3.0]}})
  assert one['psi']['mpjpe']['n'] == 1 and np.isnan(one['psi']['mpjpe']['std'])


def test_no_runs_is_an_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='run_table1.sh'):
    table1_seeds.collect(tmp_path, 'clean')
