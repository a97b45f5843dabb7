"""The gendered body models SMPLR works with, and the root-relative posed
body: the one place that turns SMPL parameters into the camera-frame,
root-relative points and mesh that every stage compares.

Gender: index 0 = female (`FEMALE`), 1 = male (`MALE`), 2 = neutral
(`NEUTRAL`). The data's bodies are female or male, and training stacks
[female, male] (`load_gendered_models`); prediction adds the neutral one
(`with_neutral=True`: [female, male, neutral]), so that a body whose gender
is unknown is `gender=2` everywhere a gender index goes (`smpl.smpl_forward`,
the fit, the keypoint models, the writers). Indices 0 and 1 pose the same
bodies in both stacks (bitwise for batches up to 8 on CPU; a float32 ulp,
2e-7 m, on larger batches, whose products are blocked differently).
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp

from smplr_jax.body import body_model as bm
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import smpl

# Gender indices into the stacked [female, male, neutral] model.
FEMALE, MALE, NEUTRAL = 0, 1, 2
GENDER_NAMES = ('female', 'male', 'neutral')  # by index


def load_gendered_models(path: str | os.PathLike[str] | None = None,
                         dtype=jnp.float32,
                         with_neutral: bool = False) -> bm.BodyModel:
  """Loads the female and male models, stacked as [female, male], and with
  `with_neutral` the neutral one after them.

  Args:
    path: a folder of SMPL models (see `load_body_model`); None means the
      default model.
    dtype: floating dtype.
    with_neutral: stack [female, male, neutral] (prediction's 'unknown'
      gender).

  Returns:
    Stacked `BodyModel`: gender index 0 female (`FEMALE`), 1 male (`MALE`)
    and, with the neutral one, 2 neutral (`NEUTRAL`).
  """
  names = GENDER_NAMES if with_neutral else GENDER_NAMES[:2]
  return bm.stack_body_models([bm.load_body_model(path, name, dtype)
                               for name in names])


# The fields `body_model.stack_body_models` stacks along [G]; faces,
# landmark ids and the static fields are shared.
_STACKED_FIELDS = ('v_template', 'blend_dirs', 'J_regressor',
                   'joint_template', 'joint_shape_dirs', 'lbs_weights')


def select_model(model: bm.BodyModel, gender: int) -> bm.BodyModel:
  """Model `gender` of a stacked model as a single `BodyModel` (a single
  model is returned as it is)."""
  if not model.is_stacked:
    return model
  return model.replace(**{name: getattr(model, name)[int(gender)]
                          for name in _STACKED_FIELDS})


@dataclasses.dataclass(frozen=True)
class GenderedModels:
  """The body models SMPLR works with (a pytree-free bundle of `BodyModel`s).

  Attributes:
    gendered: stacked [female, male] model (full mesh; training), or
      [female, male, neutral] (`load(with_neutral=True)`: prediction);
      gender index 0 = female, 1 = male, 2 = neutral.
    points: `gendered` restricted to the landmark vertices (cheap JL,
      `jl.smpl_points`).
    template_lengths: [41] B*, bone lengths of the neutral template.
  """
  gendered: bm.BodyModel
  points: bm.BodyModel
  template_lengths: jnp.ndarray

  @classmethod
  def load(cls, path: str | None = None,
           with_neutral: bool = False) -> 'GenderedModels':
    """Loads the models from a folder of SMPL files (None: the default):
    [female, male] for training (the data's genders; every SMPL forward
    blends over the stack, so a third model would cost 1.5x), [female,
    male, neutral] with `with_neutral` for prediction ('unknown' gender)."""
    gendered = load_gendered_models(path, with_neutral=with_neutral)
    neutral = (select_model(gendered, NEUTRAL) if with_neutral else
               bm.load_body_model(path, 'neutral'))
    return cls(gendered=gendered,
               points=jl_lib.landmark_points_model(gendered),
               template_lengths=jl_lib.template_bone_lengths(neutral))


@jax.jit  # eager callers (fits, overlays) get one compiled call
def posed_body(gendered: bm.BodyModel, pose: jnp.ndarray, betas: jnp.ndarray,
               gender: jnp.ndarray) -> dict[str, jnp.ndarray]:
  """SMPL parameters -> the posed body, root-relative (metres).

  Args:
    gendered: stacked [female, male, neutral] model (or [female, male]).
    pose: [B, 24, 3, 3] relative rotations (joint 0: global orientation).
    betas: [B, S] shape coefficients.
    gender: [B] int gender index (`FEMALE`, `MALE`, `NEUTRAL`).

  Returns:
    dict with jl [B, 42, 3], joints [B, 24, 3], landmarks [B, 18, 3] and
    vertices [B, V, 3], all minus the root joint.
  """
  out = smpl.smpl_forward(gendered, pose, betas, gender=gender)
  root = out.joints[:, :1]
  points = jl_lib.joints_and_landmarks(gendered, out.vertices, out.joints)
  return dict(jl=points, joints=out.joints - root,
              landmarks=points[:, jl_lib.NUM_JOINTS:],
              vertices=out.vertices - root)


def true_vertices(body: GenderedModels, batch: dict) -> jnp.ndarray:
  """[B, V, 3] root-relative mesh of a batch's SMPL parameters (pose, betas,
  gender), the ground truth of the surface error."""
  return posed_body(body.gendered, batch['pose'], batch['betas'],
                    batch['gender'])['vertices']
