r"""Table 1 as mean +- std over seeds, from `run_table1.sh` runs.

    SEEDS="0 1 2" bash experiments/smplr/run_table1.sh workdirs/table1
    python -m experiments.smplr.table1_seeds --root=workdirs/table1 \
        [--variant=clean|noisy|clean_raw|noisy_raw] [--json_out=FILE]

Reads `<root>/seed<k>/<row>/eval.json` (written by `experiments.evaluate`)
for every seed folder under `--root` and prints one markdown row per model:
each cell is the mean over seeds +- the sample standard deviation (ddof 1;
mm, gender in %). Rows missing a variant (e.g. `clean_raw` for a 6D
network) are left out. A difference between two rows means something only
when it exceeds their spread.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from absl import app, flags

from smplr_jax.evaluation import metrics

_ROOT = flags.DEFINE_string('root', 'workdirs/table1', 'run_table1.sh root.')
_VARIANT = flags.DEFINE_enum('variant', 'clean', ['clean', 'noisy',
                                                  'clean_raw', 'noisy_raw'],
                             'Which input (and rotation handling) to show.')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Write mean/std here.')

# run_table1.sh's rows, in the paper's order.
ROWS = ('psi', 'psi_nl', 'omega', 'omega_6d', 'omega_smpl', 'omega_smpl_6d',
        'omega_smpl_6d_long', 'smplr')


def collect(root: pathlib.Path, variant: str
            ) -> dict[str, dict[str, list[float]]]:
  """row -> metric -> one value per seed folder that has the row."""
  seeds = sorted(p for p in root.glob('seed*') if p.is_dir())
  if not seeds:
    raise FileNotFoundError(f'no seed* folders under {root}; run '
                            'experiments/smplr/run_table1.sh first.')
  prefix = f'{variant}/'
  values: dict[str, dict[str, list[float]]] = {}
  for seed in seeds:
    for row in ROWS:
      path = seed / row / 'eval.json'
      if not path.exists():
        continue
      results = json.loads(path.read_text())
      for key, value in results.items():
        if key.startswith(prefix):
          values.setdefault(row, {}).setdefault(
              key[len(prefix):], []).append(float(value))
  return values


def summarise(values: dict[str, dict[str, list[float]]]
              ) -> dict[str, dict[str, dict[str, float]]]:
  """row -> metric -> {mean, std, n}."""
  return {row: {k: dict(mean=float(np.mean(v)),
                        std=float(np.std(v, ddof=1)) if len(v) > 1 else
                        float('nan'), n=len(v))
                for k, v in metrics_.items()}
          for row, metrics_ in values.items()}


def format_table(summary) -> str:
  """`metrics.format_table` of the means, 'mean ± std' where there is a
  spread; each row named with its number of seeds."""
  names = {row: f'{row} (n={max(s["n"] for s in m.values())})'
           for row, m in summary.items()}
  means = {names[row]: {k: s['mean'] for k, s in m.items()}
           for row, m in summary.items()}
  stds = {names[row]: {k: s['std'] for k, s in m.items()}
          for row, m in summary.items()}
  return metrics.format_table(means, spread=stds)


def main(argv):
  del argv
  summary = summarise(collect(pathlib.Path(_ROOT.value), _VARIANT.value))
  print(format_table(summary))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(summary, indent=1))


if __name__ == '__main__':
  app.run(main)
