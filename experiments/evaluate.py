r"""Evaluates trained runs from their checkpoints and prints a Table-1 table.

    python -m experiments.evaluate --workdirs=workdirs/psi,workdirs/omega \
        [--json_out=results.json] [--input=clean|noisy]

Each run is evaluated on the seeded held-out set of its config, from clean and
from noisy JL; the table shows the `--input` variant, the JSON holds both.
"""

import json
import pathlib

from absl import flags

from smplr_jax import cli
from smplr_jax.evaluation import metrics
from smplr_jax.nets import weights_io
from smplr_jax.training import tasks

_WORKDIRS = flags.DEFINE_list('workdirs', None, 'Run folders to evaluate.')
_INPUT = flags.DEFINE_enum('input', 'clean', ['clean', 'noisy'],
                           'Which input the printed table shows.')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Write all results here.')
flags.mark_flag_as_required('workdirs')


def main(argv):
  del argv
  missing = [w for w in _WORKDIRS.value if not pathlib.Path(w).exists()]
  if missing:  # before evaluating any run
    raise ValueError(f'--workdirs: {", ".join(missing)} does not exist.')
  everything, rows = {}, {}
  for workdir in _WORKDIRS.value:
    config, variables, step = weights_io.load_trained_variables(workdir)
    results = tasks.make_task(config).evaluate(variables)
    results['checkpoint_step'] = step
    (pathlib.Path(workdir) / 'eval.json').write_text(
        json.dumps(results, indent=2))
    everything[workdir] = results
    prefix = f'{_INPUT.value}/'
    rows[pathlib.Path(workdir).name] = {
        k[len(prefix):]: v for k, v in results.items() if k.startswith(prefix)}
  print(metrics.format_table(rows))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(everything, indent=2))


if __name__ == '__main__':
  cli.run(main)
