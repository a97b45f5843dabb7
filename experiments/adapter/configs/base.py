r"""Shared defaults of the adapter experiments; not run directly.

Each runnable config (`coco17_2d.py`, `h36m17_3d.py`, `blazepose33_3d.py`,
`blazepose33_2d.py`) picks a keypoint set and its dimension; its docstring
gives the command, the runtime and the measured result. All four, then
their export to third_party/weights/adapters:

    bash experiments/adapter/run_all.sh

The adapter (`smplr_jax.nets.adapter.Adapter`): the set's normalised points and
visibility mask -> Dense(352) -> 2 residual blocks (LayerNorm, Dense, GELU,
Dense) -> LayerNorm, GELU -> Dense to the 41 non-root JL, trained with L1
on JL + L1 on the bone lengths, Adam 1e-3 cosine to 1e-5, batch 256, on
camera-frame synthetic bodies with detector-like noise
(`keypoints.detector_noise`: jitter growing distally, missing points,
left/right limb swaps, a size error). Evaluated on the held-out set of the
DAE and SMPLR experiments (test_seed 2; 2,048 bodies), clean and noisy,
through the shipped DAE and SMPLR.
"""

import ml_collections

from experiments import common_config
from smplr_jax.body import keypoints


def base_config(keypoint_set: str, dims: int) -> ml_collections.ConfigDict:
  config = common_config.training_config('adapter', num_steps=10_000,
                                         eval_every=2_500)
  config.adapter = ml_collections.ConfigDict()
  config.adapter.keypoint_set = keypoint_set
  config.adapter.dims = dims
  config.adapter.width = 352
  config.adapter.num_blocks = 2
  # Keyword arguments of keypoints.detector_noise.
  config.noise = ml_collections.ConfigDict(dict(keypoints.NOISE_DEFAULTS))
  config.depth_range = (2.5, 8.0)  # 2D: hip-midpoint distance (metres)
  # A real detector's outputs on renders (experiments.adapter.detect_pairs):
  # `fraction` of every batch comes from `path`; `eval_path` is evaluated.
  config.paired = ml_collections.ConfigDict()
  config.paired.path = ''
  config.paired.fraction = 0.25
  config.paired.eval_path = ''
  config.loss_weights = ml_collections.ConfigDict({'jl': 1.0, 'bones': 1.0})
  # Folder with smplr/ and dae/ for the body rows of the evaluation: ''
  # the shipped weights, 'none' to skip them.
  config.eval_weights = ''
  config.test_set_size = 2048
  return config
