"""smplr_jax: SMPL reverse (SMPLR) in JAX."""

from smplr_jax.body.body_model import BodyModel
from smplr_jax.body.body_model import load_body_model
from smplr_jax.body.body_model import stack_body_models
from smplr_jax.body.rotations import axis_angle_to_matrix
from smplr_jax.body.smpl import smpl_forward
from smplr_jax.body.smpl import SMPLOutput

__all__ = [
    'BodyModel', 'load_body_model', 'stack_body_models', 'axis_angle_to_matrix',
    'smpl_forward', 'SMPLOutput',
]
