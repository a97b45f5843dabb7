"""Shared defaults of the image-network experiments (the paper's stacked
hourglass unless a config picks the U-Net); not run directly.

`base_config()` is called by the runnable configs `cpu.py` (a CPU-sized
network, measured in the README) and `paper.py` (the paper's size, a GPU
run); their docstrings give the command, runtime and result.

Network per the paper (Sec. 3.3) and the authors' code (docs/paper_facts.md,
Section 8): stacked volumetric hourglass, 41 point + 4 limb channels, 2.5 m
cube, sigmoid cross-entropy on every stack. Data: a TFDS dataset of
`smplr_jax.data.datasets` (default: the rendered `smplr_synthetic`, built on
first use), root-centred crops with the paper's augmentations
(`smplr_jax.data.augment`).
"""

import ml_collections

from experiments import common_config
from smplr_jax.data import augment


def base_config(input_size: int, num_stacks: int, num_features: int,
                num_steps: int) -> ml_collections.ConfigDict:
  config = common_config.training_config('image_net', num_steps=num_steps,
                                         eval_every=max(num_steps // 4, 1))
  config.input_size = input_size  # S; volumes are S/4 x S/4 x num_depth_bins
  config.cube_size = 2.5  # metres

  config.model = ml_collections.ConfigDict()
  config.model.num_stacks = num_stacks
  config.model.num_features = num_features
  config.model.hourglass_depth = 4
  config.model.num_depth_bins = 16
  config.model.dropout_rate = 0.1

  # The paper's loss: sigmoid cross-entropy on every voxel, no L1 term
  # (heatmaps.image_net_loss explains 'softmax_ce').
  config.loss = ml_collections.ConfigDict(dict(
      l1_weight=0.0, point_loss='sigmoid_ce', limb_weight=1.0))

  config.augment = augment.augment_config()
  config.augment.crop_size = config.get_ref('input_size')
  config.augment.cube_size = config.get_ref('cube_size')

  config.data = ml_collections.ConfigDict()
  config.data.name = 'smplr_synthetic'  # | 'surreal' | 'human36m' | 'up3d'
  # A registered builder config, or n<train>_v<val>_t<test>_s<seed>.
  config.data.builder_config = 'small'
  config.data.data_dir = ''  # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets
  config.data.manual_dir = ''  # the official release (real datasets)
  config.data.build = True  # build the dataset if it is not there yet
  config.data.train_split = 'train'
  config.data.validation_split = 'validation'
  config.data.test_split = 'test'
  config.data.num_threads = 2
  # A corrupt training record (bad image bytes, a wrong shape) stops the run
  # with an error naming its file and index; True logs, counts and replaces
  # it by the next readable record. Evaluation always stops.
  config.data.skip_corrupt_records = False

  config.log_every = 50
  config.eval_batch_size = 16
  return config
