"""The one output of every predictor: a dict of numpy arrays with the same
keys whatever the front end (image network crop, detector keypoints, JL).

All points are in the camera frame (x right, y down, z forward), metres,
root-relative:

| key | shape | what |
|---|---|---|
| `jl_front_end` | [B, 42, 3] | the front end's JL: the image network's (crop), the adapter's (keypoints) or the given JL |
| `jl_smplr_input` | [B, 42, 3] | what SMPLR saw: after the DAE, or `jl_front_end` without one |
| `jl_body` | [B, 42, 3] | the recovered body's JL (its SMPL forward) |
| `joints` | [B, 24, 3] | the body's joints (`jl_body[:, :24]`) |
| `landmarks` | [B, 18, 3] | the body's landmarks (`jl_body[:, 24:]`) |
| `vertices` | [B, V, 3] | the body's mesh |
| `pose` | [B, 24, 3, 3] | relative rotations (joint 0: global orientation) |
| `betas` | [B, 10] | shape |
| `gender` | [B] int | the body model used: 0 female, 1 male |
| `male_probability` | [B] | Psi's probability of male (`gender` is it > 0.5) |
| `faces` | [F, 3] | the mesh's triangles |

Photo predictors add `crop`, `root_cam` and `focal` (and the detector `box`
and `keypoints_2d`); a refined body adds `fit_cost`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

KEYS = ('jl_front_end', 'jl_smplr_input', 'jl_body', 'joints', 'landmarks',
        'vertices', 'pose', 'betas', 'gender', 'male_probability', 'faces')


def from_chain(chain: dict[str, Any], faces: Any,
               jl_front_end: Any | None = None) -> dict[str, np.ndarray]:
  """The prediction of a `pipeline.denoise_and_recover`-style output.

  Args:
    chain: jl_input, jl, joints, landmarks, vertices, pose, betas, gender
      (int), male_prob and, from an image, jl_image.
    faces: [F, 3] the mesh's triangles.
    jl_front_end: the front end's JL when `chain` has no jl_image (an
      adapter's, or the JL given to SMPLR).

  Returns:
    dict with `KEYS` (numpy).
  """
  chain = jax.device_get(chain)
  front = chain['jl_image'] if jl_front_end is None else jl_front_end
  return {
      'jl_front_end': np.asarray(front),
      'jl_smplr_input': np.asarray(chain['jl_input']),
      'jl_body': np.asarray(chain['jl']),
      'joints': np.asarray(chain['joints']),
      'landmarks': np.asarray(chain['landmarks']),
      'vertices': np.asarray(chain['vertices']),
      'pose': np.asarray(chain['pose']),
      'betas': np.asarray(chain['betas']),
      'gender': np.asarray(chain['gender'], np.int32),
      'male_probability': np.asarray(chain['male_prob']),
      'faces': np.asarray(faces),
  }
