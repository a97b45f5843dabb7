r"""SMPLR with and without a trained DAE in front, on noisy JL (Table 1 row
DAE + Psi + Omega).

    python -m experiments.dae.evaluate_stitched \
        --dae_workdir=workdirs/dae/structured \
        --smplr_workdir=workdirs/table1/smplr --noise=structured \
        [--json_out=stitched.json]

Both runs are loaded from their best checkpoints; the held-out set is the
SMPLR run's (`test_set_size`, `test_seed`) and the noise seed the DAE run's,
so the 'input' and 'dae' rows repeat the DAE run's results.json. Rows:
noisy input, DAE output, SMPLR(noisy) and SMPLR(DAE(noisy)) (their SMPL
output's joints, landmarks and mesh), in mm.
"""

import json
import pathlib

from absl import app, flags

from smplr_jax.body import gendered
from smplr_jax.data import sampler
from smplr_jax.evaluation import metrics, stitched
from smplr_jax.nets import dae, smplr, weights_io

_DAE_WORKDIR = flags.DEFINE_string('dae_workdir', None, 'A trained DAE run.')
_SMPLR_WORKDIR = flags.DEFINE_string('smplr_workdir', None,
                                     'A trained SMPLR run (shape + pose).')
_NOISE = flags.DEFINE_list('noise', ['structured'],
                           'Noise models of the input (smplr_jax.data.noise).')
_JSON_OUT = flags.DEFINE_string('json_out', None, 'Write the results here.')
flags.mark_flags_as_required(['dae_workdir', 'smplr_workdir'])


def main(argv):
  del argv
  dae_config, dae_variables, _ = weights_io.load_trained_variables(
      _DAE_WORKDIR.value)
  smplr_config, smplr_variables, _ = weights_io.load_trained_variables(
      _SMPLR_WORKDIR.value)
  body = gendered.GenderedModels.load(smplr_config.get('body_model_path'))
  test_set = sampler.make_test_set(body.gendered,
                                   size=smplr_config.test_set_size,
                                   seed=smplr_config.test_seed)
  everything = {}
  for kind in _NOISE.value:
    params = (dae_config.noise.params.to_dict()
              if kind == dae_config.noise.kind else {})
    rows = stitched.evaluate_stitched(
        dae.make_dae(dae_config.dae), dae_variables,
        smplr.from_config(smplr_config.smplr), smplr_variables, body, test_set,
        noise_kind=kind, noise_seed=dae_config.test_noise_seed,
        batch_size=smplr_config.eval_batch_size, noise_params=params)
    everything[kind] = rows
    print(f'\n{kind} noise; DAE {_DAE_WORKDIR.value}, SMPLR '
          f'{_SMPLR_WORKDIR.value} (mm):')
    print(metrics.format_table({f'{kind}: {row}': m
                                for row, m in rows.items()}))
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(everything, indent=2))


if __name__ == '__main__':
  app.run(main)
