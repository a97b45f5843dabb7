r"""Image -> body on the synthetic test split: each stage's error (mm).

    python -m experiments.evaluate_image_pipeline [--weights=FOLDER] \
        [--image_net=RUN] [--data_config=n32768_v512_t1024_s0]

Runs `pipeline.image_to_body` (plain root-centred crops, the true root for
the camera-frame conversion, as root-relative protocols do) on the test
split of the synthetic set the image network was trained on, with and
without the DAE, and prints the Table-1 columns for

  * image: the image network's JL,
  * image + DAE: SMPLR's input,
  * image + SMPLR / image + DAE + SMPLR: the recovered body (SMPL output;
    surface error and gender accuracy included).

--weights is a pipeline folder (default: the shipped weights);
--image_net replaces its image network (e.g. an end-to-end run's workdir,
whose variables hold all three networks: its image network is used).
"""

from __future__ import annotations

import dataclasses

from absl import flags

from smplr_jax import cli, resources
from smplr_jax.evaluation import metrics
from smplr_jax.nets import bundle, image_net, weights_io
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.training.tasks import end_to_end
from smplr_jax.training.tasks import image_net as image_net_task

_WEIGHTS = flags.DEFINE_string('weights', None, 'Pipeline folder.')
_IMAGE_NET = flags.DEFINE_string('image_net', None, 'Image-network run.')
_DATA = flags.DEFINE_string('data_config', 'n32768_v512_t1024_s0',
                            'smplr_synthetic builder config.')
_SPLIT = flags.DEFINE_string('split', 'test', 'Split to evaluate.')
_FLIP = flags.DEFINE_bool('flip_test', False,
                          'Average with the mirrored crops.')


def main(argv):
  del argv
  predictor = predictor_lib.load_pipeline(_WEIGHTS.value)
  variables = dict(predictor.crop_path.variables)
  image_net_config = weights_io.load_config(bundle.stage_folder(
      _WEIGHTS.value or resources.weights_dir(), 'image_net'))
  if _IMAGE_NET.value:
    image_net_config, run = weights_io.load_variables(_IMAGE_NET.value)
    if 'image_net' in run['params']:  # an end-to-end run
      run = {'params': run['params']['image_net'],
             'batch_stats': run['batch_stats']['image_net']}
    variables['image_net'] = run
  image_net_config.data.builder_config = _DATA.value
  image_net_config.progress_bar = False
  task = image_net_task.ImageNetTask(image_net_config)
  nested = {'params': {k: v['params'] for k, v in variables.items()},
            'batch_stats': {k: v['batch_stats'] for k, v in variables.items()}}
  # The image network of --image_net may differ from the folder's (another
  # architecture or size): the module follows the variables' config.
  full = bundle.Stages(
      image_net=image_net.from_config(image_net_config),
      smplr=predictor.crop_path.stages.smplr,
      dae=predictor.crop_path.stages.dae,
      cube_size=float(image_net_config.cube_size))
  rows = {}
  for use_dae in (False, True):
    if use_dae and full.dae is None:
      continue
    stages = full if use_dae else dataclasses.replace(full, dae=None)
    results, _ = end_to_end.evaluate_chain(task, nested, _SPLIT.value,
                                           stages, predictor.body,
                                           flip_test=_FLIP.value)
    table = {}
    for key, value in results.items():
      if '/' in key:
        row, column = key.split('/', 1)
        table.setdefault(row, {})[column] = value
    if not use_dae:
      rows['image'] = table['image']
      rows['image + SMPLR'] = table['body']
    else:
      rows['image + DAE'] = table['input']
      rows['image + DAE + SMPLR'] = table['body']
    count = results['num_test_examples']
  print(f'{count} {_SPLIT.value} examples of smplr_synthetic/{_DATA.value}, '
        'mm (surface and gender: SMPL output):')
  print(metrics.format_table(rows))


if __name__ == '__main__':
  cli.run(main)
