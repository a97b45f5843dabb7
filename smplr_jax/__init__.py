"""smplr_jax: SMPL reverse (SMPLR) in JAX."""

from smplr_jax.body.body_model import BodyModel, load_body_model, stack_body_models
from smplr_jax.body.rotations import axis_angle_to_matrix
from smplr_jax.body.smpl import SMPLOutput, smpl_forward

__all__ = [
    'BodyModel', 'load_body_model', 'stack_body_models', 'axis_angle_to_matrix',
    'smpl_forward', 'SMPLOutput',
]
