r"""Exports a trained run as a small folder of weights (third_party/weights).

    python -m experiments.tools.export_weights --workdir=workdirs/ship/smplr \
        --output=third_party/weights/smplr [--dtype=float16]

Writes the run's config.json and variables.npz (`checkpoints.
export_variables`: the best checkpoint, floating arrays in --dtype) and
log_summary.json (the checkpoint step, the run's final results.json and its
last logged training metrics), then prints the size and, for float16, the
largest change the cast makes to any weight. With --compare, it also runs
the run's own evaluation (`task.evaluate`) on the original and the exported
weights and prints both, the cost of the cast in the task's metrics.
"""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
from absl import app, flags

from smplr_jax.nets import weights_io
from smplr_jax.training import tasks

_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained run.')
_OUTPUT = flags.DEFINE_string('output', None, 'Export folder.')
_DTYPE = flags.DEFINE_enum('dtype', 'float16', ['float16', 'float32'],
                           'Storage type of floating weights.')
_COMPARE = flags.DEFINE_bool('compare', False, 'Evaluate both weight sets.')
flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  del argv
  workdir, output = pathlib.Path(_WORKDIR.value), pathlib.Path(_OUTPUT.value)
  step = weights_io.export_variables(workdir, output, _DTYPE.value)
  summary = {'checkpoint_step': step}
  if (workdir / 'results.json').exists():
    summary['results'] = json.loads((workdir / 'results.json').read_text())
  log = workdir / 'metrics.jsonl'
  if log.exists():
    lines = log.read_text().splitlines()
    summary['last_training_log'] = json.loads(lines[-1]) if lines else None
    summary['num_log_lines'] = len(lines)
  (output / 'log_summary.json').write_text(json.dumps(summary, indent=1))
  size = (output / weights_io.EXPORTED_VARIABLES).stat().st_size
  _, exported = weights_io.load_variables(output)
  _, original, _ = weights_io.load_trained_variables(workdir, step)
  change = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(exported),
                               jax.tree.leaves(original)))
  print(f'{output}: step {step}, {size / 1e6:.1f} MB, largest weight change '
        f'from the cast {change:.2e}')
  if _COMPARE.value:
    config = weights_io.load_config(workdir)
    config.progress_bar = False
    task = tasks.make_task(config)
    for name, variables in (('original', original), (_DTYPE.value, exported)):
      results = task.evaluate(variables)
      shown = {k: round(v, 2) for k, v in results.items()
               if isinstance(v, float) and k.split('/')[-1] in (
                   'mpjpe', 'pa_mpjpe', 'landmarks', 'surface',
                   'gender_acc', 'cube_error')}
      print(name, json.dumps(shown))


if __name__ == '__main__':
  app.run(main)
