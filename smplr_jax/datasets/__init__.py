"""TFDS datasets of images with camera-frame JL, built and read without TF.

Importing this package registers the builders `smplr_synthetic`, `surreal`,
`human36m` and `up3d` with TFDS, so that

    import smplr_jax.datasets
    import tensorflow_datasets as tfds
    source = tfds.data_source('smplr_synthetic/tiny', split='train',
                              data_dir=DATA)

returns records of the contract in `smplr_jax.datasets.common`. Build with
`python -m smplr_jax.datasets.build NAME --data_dir=DATA [--config=...]
[--manual_dir=...]`; each module's docstring gives its manual-directory
layout.
"""

from smplr_jax.datasets.common import (
    RECORD_SPEC,
    MissingFilesError,
    check_record,
)
from smplr_jax.datasets.human36m import Human36m
from smplr_jax.datasets.smplr_synthetic import SmplrSynthetic
from smplr_jax.datasets.surreal import Surreal
from smplr_jax.datasets.up3d import Up3d

BUILDERS = {
    'smplr_synthetic': SmplrSynthetic,
    'surreal': Surreal,
    'human36m': Human36m,
    'up3d': Up3d,
}

__all__ = [
    'BUILDERS',
    'RECORD_SPEC',
    'Human36m',
    'MissingFilesError',
    'SmplrSynthetic',
    'Surreal',
    'Up3d',
    'check_record',
]
