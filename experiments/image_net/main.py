r"""Trains the image network (stacked hourglass or U-Net): a thin launcher.

    python -m experiments.image_net.main \
        --config=experiments/image_net/configs/cpu.py \
        --workdir=workdirs/image_net/cpu [--config.num_steps=...]

Prints the test-split errors (mm) of the last stack's soft-argmax and writes
`predictions.npz` in the workdir (input of the DAE's `paired` config).
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax.evaluation import metrics


def main(argv):
  del argv
  results = launch.train_from_flags()
  print(f'\n{launch.WORKDIR.value}, test split, mm:')
  if 'mpjpe' in results:
    print(metrics.format_table({'SHN': results}))
  print(f'cube-frame error of the 41 points: {results["cube_error"]:.1f} mm')


if __name__ == '__main__':
  cli.run(main)
