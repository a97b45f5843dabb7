r"""BlazePose on a synthetic split: (detected keypoints, true body) pairs.

    python -m experiments.adapter.detect_pairs --split=train \
        --num_images=4096 --output=workdirs/pairs/blazepose_train.npz

Needs the detector extra. Runs `detector.BlazePoseDetector` on the first
`--num_images` whole frames of a split of `smplr_synthetic` (default the
image network's set, n32768_v512_t1024_s0) and writes, for every frame with
a person found: keypoints_3d [N, 33, 3] (world landmarks, metres),
keypoints_2d [N, 33, 2] (pixels), visibility [N, 33], focal [N, 2],
principal [N, 2], and the truth pose [N, 24, 3] (axis-angle, camera frame),
betas [N, 10], gender [N], index [N] (the record). `tasks.adapter` trains
on such pairs (`config.paired`), the paper's recipe for the DAE (train on
the first stage's real outputs). About 60 ms per frame on one CPU core.
"""

from __future__ import annotations

import pathlib

import numpy as np
from absl import app, flags, logging

from smplr_jax import resources
from smplr_jax.nets import weights_io
from smplr_jax.predict import detector as detector_lib
from smplr_jax.training.tasks import image_net as image_net_task

_SPLIT = flags.DEFINE_enum('split', 'train', ['train', 'validation', 'test'],
                           'Split to run on.')
_NUM_IMAGES = flags.DEFINE_integer('num_images', 4096, 'Frames to run on.')
_DATA = flags.DEFINE_string('data_config', 'n32768_v512_t1024_s0',
                            'smplr_synthetic builder config.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output .npz.')
flags.mark_flag_as_required('output')


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  config = weights_io.load_config(resources.weights_dir() / 'image_net')
  config.data.builder_config = _DATA.value
  source = image_net_task.load_sources(config)[
      {'train': 'train', 'validation': 'validation', 'test': 'test'}[
          _SPLIT.value]]
  detector = detector_lib.BlazePoseDetector()
  keys = ('focal', 'principal', 'pose', 'betas', 'gender')
  found = {k: [] for k in ('keypoints_3d', 'keypoints_2d', 'visibility',
                           'index') + keys}
  count = min(_NUM_IMAGES.value, len(source))
  for index in range(count):
    record = source[index]
    try:
      detection = detector(record['image'])
    except detector_lib.NoPersonError:
      continue
    found['keypoints_3d'].append(detection.keypoints_3d)
    found['keypoints_2d'].append(detection.keypoints_2d)
    found['visibility'].append(detection.visibility)
    found['index'].append(index)
    for key in keys:
      found[key].append(record[key])
  arrays = {k: np.asarray(v, np.int32 if k in ('gender', 'index')
                          else np.float32) for k, v in found.items()}
  output = pathlib.Path(_OUTPUT.value)
  output.parent.mkdir(parents=True, exist_ok=True)
  np.savez_compressed(output, **arrays)
  print(f'{output}: a person found in {len(arrays["index"])} of {count} '
        f'{_SPLIT.value} frames.')


if __name__ == '__main__':
  app.run(main)
