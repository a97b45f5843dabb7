"""Smooth motion for clips with ground truth: poses eased between keyframes.

`smooth_motion` draws keyframe poses from the sampler (body frame, y up)
and moves every joint from one to the next by spherical interpolation with
an ease-in-out (zero velocity at each keyframe), so the clip has the
smooth, accelerating and decelerating joint trajectories of real motion;
the body also turns slowly about the vertical. Rendered by
`synthetic.render_clip`; used by the video evaluation.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from smplr_jax.data import sampler


def smooth_motion(seed: int, num_frames: int, frames_per_key: int = 30,
                  turn_deg: float = 90.0) -> np.ndarray:
  """[T, 24, 3, 3] body-frame relative rotations of one smooth motion.

  Args:
    seed: keyframes' seed.
    num_frames: T.
    frames_per_key: frames from one keyframe to the next (30: one second at
      30 frames/s).
    turn_deg: the body's total turn about the vertical over the clip.
  """
  if num_frames < 2 or frames_per_key < 1:
    raise ValueError('a clip needs at least 2 frames and 1 frame per key.')
  num_keys = -(-(num_frames - 1) // frames_per_key) + 1
  pose, _, _ = sampler.sample_parameters(jax.random.PRNGKey(seed), num_keys,
                                         frame='body')
  pose = np.asarray(pose, np.float64)  # [K, 24, 3, 3]
  # Ease-in-out time: keyframe k at frame k * frames_per_key, zero velocity
  # there.
  frame = np.arange(num_frames) / frames_per_key
  key = np.minimum(np.floor(frame), num_keys - 2)
  fraction = np.clip(frame - key, 0.0, 1.0)
  eased = key + fraction * fraction * (3.0 - 2.0 * fraction)
  out = np.empty((num_frames, pose.shape[1], 3, 3))
  for joint in range(pose.shape[1]):
    slerp = Slerp(np.arange(num_keys), Rotation.from_matrix(pose[:, joint]))
    out[:, joint] = slerp(eased).as_matrix()
  # Keep keyframe 0's heading for the whole clip, plus a slow turn.
  heading = np.deg2rad(turn_deg) * np.arange(num_frames) / max(
      num_frames - 1, 1)
  turn = Rotation.from_rotvec(np.outer(heading, [0.0, 1.0, 0.0])).as_matrix()
  out[:, 0] = np.einsum('tij,jk->tik', turn, out[0, 0])
  return out.astype(np.float32)
