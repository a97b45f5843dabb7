r"""Prints the README's DAE tables from trained runs' results.json files.

    python -m experiments.dae.summarize --root=workdirs/dae

Table 1: for each run (the noise it was trained on), held-out errors before
and after the DAE under that run's evaluation noise models. Table 2 (when
`stitched_*.json` from run_all.sh exist): SMPLR with and without the DAE.
"""

import json
import pathlib

from absl import app, flags

from smplr_jax.evaluation import metrics

_ROOT = flags.DEFINE_string('root', 'workdirs/dae', 'Folder of DAE runs.')
_RUNS = flags.DEFINE_list(
    'runs', ['gaussian', 'uniform', 'structured', 'structured_nodropout',
             'dae2d'], 'Run names under --root.')


def main(argv):
  del argv
  root = pathlib.Path(_ROOT.value)
  rows = {}
  for run in _RUNS.value:
    path = root / run / 'results.json'
    if not path.is_file():
      print(f'(no {path})')
      continue
    results = json.loads(path.read_text())
    for key, value in results.items():
      parts = key.split('/')
      if len(parts) == 3:
        noise, stage, metric = parts
        rows.setdefault(f'DAE[{run}] on {noise}, {stage}', {})[metric] = value
  print('Held-out set, before / after the DAE (mm):')
  print(metrics.format_table(rows))
  stitched = {}
  for path in sorted(root.glob('stitched_*.json')):
    run = path.stem[len('stitched_'):]
    for noise, table in json.loads(path.read_text()).items():
      for row, values in table.items():
        stitched[f'DAE[{run}], {noise} noise: {row}'] = values
  if stitched:
    print('\nSMPLR with and without the DAE on noisy JL (mm):')
    print(metrics.format_table(stitched))


if __name__ == '__main__':
  app.run(main)
