r"""DAEs on a network's real outputs: which one denoises them best.

    python -m experiments.dae.compare_on_pairs \
        --pairs=workdirs/pairs/cpu_long_train.npz \
        --daes=workdirs/dae/paired_cpu_long,third_party/weights/dae

Evaluates each DAE (a workdir or an exported folder) on the held-out part
of a pairs file (`datasets.PairedJLDataset.split`, the same last
`--held_out_fraction` the paired DAE config holds out, so a DAE trained on
these pairs never saw them) and prints Table-1 columns (mm) of its input
and of each DAE's output.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np
from absl import app, flags, logging

from smplr_jax.data import datasets
from smplr_jax.evaluation import metrics
from smplr_jax.nets import dae as dae_lib
from smplr_jax.nets import weights_io

_PAIRS = flags.DEFINE_string('pairs', None, 'Pairs file (.npz).')
_DAES = flags.DEFINE_list('daes', None, 'DAE workdirs or exported folders.')
_HELD_OUT = flags.DEFINE_float('held_out_fraction', 0.1,
                               'Held-out fraction (as the paired config).')
flags.mark_flags_as_required(['pairs', 'daes'])


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  _, held_out = datasets.PairedJLDataset.load(_PAIRS.value).split(
      _HELD_OUT.value)
  rows = {'input (network output)': metrics.finalize(metrics.accumulate(
      None, metrics.jl_metrics(held_out.pred_jl, held_out.gt_jl)))}
  for path in _DAES.value:
    config, variables = weights_io.load_variables(path)
    net = dae_lib.make_dae(config.dae)
    denoised = jax.jit(lambda v, jl, n=net: n.apply(v, jl, train=False))(
        variables, held_out.pred_jl)
    kind = ('trained on these pairs' if config.get('data') == 'paired'
            else f'{config.noise.kind} noise')
    name = f'DAE {pathlib.Path(path).name} ({kind})'
    rows[name] = metrics.finalize(metrics.accumulate(
        None, metrics.jl_metrics(np.asarray(denoised), held_out.gt_jl)))
  print(f'{len(held_out)} held-out pairs of {_PAIRS.value}, mm:')
  print(metrics.format_table(rows))


if __name__ == '__main__':
  app.run(main)
