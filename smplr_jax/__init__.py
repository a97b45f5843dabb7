"""smplr_jax: SMPL reverse (SMPLR) in JAX."""

from smplr_jax.body_model import BodyModel
from smplr_jax.body_model import load_body_model
from smplr_jax.body_model import stack_body_models
from smplr_jax.rotations import axis_angle_to_matrix
from smplr_jax.smpl import smpl_forward
from smplr_jax.smpl import SMPLOutput

__all__ = [
    'BodyModel', 'load_body_model', 'stack_body_models', 'axis_angle_to_matrix',
    'smpl_forward', 'SMPLOutput',
]
