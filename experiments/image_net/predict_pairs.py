r"""Pairs of (predicted, true) JL of an image network on a split, for the DAE.

    python -m experiments.image_net.predict_pairs \
        --workdir=workdirs/image_net/cpu_long --split=train --num=4096 \
        --output=workdirs/pairs/cpu_long_train.npz

Runs the run's best checkpoint on the first --num examples of --split (plain
root-centred crops; root-relative camera-frame JL through the true root) and
writes pred_jl, gt_jl, jl_valid [N, 42, 3 / 42]: the input of
`datasets.PairedJLDataset` and `experiments/dae/configs/paired.py`, so the
DAE learns this network's own errors (the paper trains its DAE on its
hourglass's outputs).
"""

from __future__ import annotations

import pathlib

import numpy as np
from absl import app, flags, logging

from smplr_jax.nets import weights_io
from smplr_jax.training.tasks import image_net as image_net_task

_WORKDIR = flags.DEFINE_string('workdir', None, 'Image-network run.')
_SPLIT = flags.DEFINE_enum('split', 'train', ['train', 'validation', 'test'],
                           'Split to predict.')
_NUM = flags.DEFINE_integer('num', 4096, 'Examples (the first ones).')
_OUTPUT = flags.DEFINE_string('output', None, 'Pairs file (.npz).')
flags.mark_flags_as_required(['workdir', 'output'])


class _First:
  """The first `count` records of a random-access source."""

  def __init__(self, source, count: int):
    self.source, self.count = source, min(count, len(source))

  def __len__(self):
    return self.count

  def __getitem__(self, index):
    if isinstance(index, (list, tuple, np.ndarray)):
      return [self.source[int(i)] for i in index]
    if not 0 <= index < self.count:
      raise IndexError(index)
    return self.source[index]

  def __getitems__(self, indices):
    return [self.source[int(i)] for i in indices]


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  config, variables, step = weights_io.load_trained_variables(_WORKDIR.value)
  config.progress_bar = False
  sources = image_net_task.load_sources(config)
  sources[_SPLIT.value] = _First(sources[_SPLIT.value], _NUM.value)
  task = image_net_task.ImageNetTask(config, sources)
  pairs = task.predict_camera_jl(variables, _SPLIT.value)
  output = pathlib.Path(_OUTPUT.value)
  output.parent.mkdir(parents=True, exist_ok=True)
  np.savez_compressed(output, pred_jl=pairs['pred_jl'],
                      gt_jl=pairs['gt_jl'], jl_valid=pairs['jl_valid'])
  error = np.linalg.norm(pairs['pred_jl'] - pairs['gt_jl'], axis=-1)[:, 1:]
  print(f'{output}: {len(error)} pairs of {_SPLIT.value} (checkpoint step '
        f'{step}), mean point error {error.mean() * 1000:.1f} mm')


if __name__ == '__main__':
  app.run(main)
