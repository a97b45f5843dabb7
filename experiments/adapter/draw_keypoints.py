r"""Draws the keypoint sets on the default body (docs/keypoints.png).

    python -m experiments.adapter.draw_keypoints [--output=docs/keypoints.png]

Top row: the neutral rest pose from the front with each set's keypoints
numbered in the detector's order (`smplr_jax.body.keypoints`): red for SMPL
joints (or sums of joints), blue for surface vertices. Bottom row: close-ups
of BlazePose's face, left hand (seen from above, palm down) and left foot
(seen from the body's left). About 10 s on a CPU.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence

import matplotlib

matplotlib.use('Agg')
# pylint: disable=g-import-not-at-top
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from experiments.tools import draw_body_models as draw
from smplr_jax.body import body_model as bm
from smplr_jax.body import keypoints as kp

# Close-up views: (screen-right, screen-up, towards-camera) unit vectors.
_VIEWS = {
    'front': draw.VIEWS['front'],
    'top': (np.array([1.0, 0, 0]), np.array([0, 0, -1.0]),
            np.array([0, 1.0, 0])),
    'left': (np.array([0, 0, -1.0]), np.array([0, 1.0, 0]),
             np.array([1.0, 0, 0])),
}


def _draw(ax, vertices, faces, view, points, on_surface, labels, window=None,
          font=7.0):
  draw.VIEWS.setdefault(view, _VIEWS[view])
  right, up, towards = _VIEWS[view]
  if window is not None:  # only faces near the close-up's centre
    centre, half = window
    near = np.all(np.abs(vertices - centre) < half * 1.6, axis=1)
    faces = faces[np.all(near[faces], axis=1)]
  draw.draw_mesh(ax, vertices, faces, view)
  for surface, colour in ((False, 'red'), (True, 'blue')):
    chosen = np.asarray(on_surface) == surface
    if chosen.any():
      draw.mark_points(ax, points[chosen], view, colour,
                       [l for l, c in zip(labels, chosen) if c], size=14,
                       font=font)
  if window is not None:
    centre, half = window
    ax.set_xlim(centre @ right - half, centre @ right + half)
    ax.set_ylim(centre @ up - half, centre @ up + half)
  del towards


def draw_sets(output: pathlib.Path) -> None:
  model = bm.load_body_model(None, 'neutral')
  vertices = np.asarray(model.v_template)
  joints = np.asarray(model.joint_template)
  faces = np.asarray(model.faces)
  fig, axes = plt.subplots(2, 3, figsize=(18, 13))
  blaze = kp.BLAZEPOSE33
  for ax, keypoint_set in zip(axes[0], kp.KEYPOINT_SETS.values()):
    surface = vertices[kp.vertex_ids(keypoint_set, model)]
    points = np.asarray(kp.keypoints_from_points(
        keypoint_set, joints[None], surface[None])[0])
    on_surface = [all(s not in kp.JOINT_IDS for s, _ in sources)
                  for sources in keypoint_set.sources]
    _draw(ax, vertices, faces, 'front', points, on_surface,
          [str(i) for i in range(keypoint_set.num_keypoints)])
    ax.set_title(f'{keypoint_set.name} ({keypoint_set.num_keypoints} '
                 'points)', fontsize=11)
  surface = vertices[kp.vertex_ids(blaze, model)]
  points = np.asarray(kp.keypoints_from_points(blaze, joints[None],
                                               surface[None])[0])
  on_surface = [all(s not in kp.JOINT_IDS for s, _ in sources)
                for sources in blaze.sources]
  head, hand, ankle = (joints[kp.JOINT_IDS[n]]
                       for n in ('head', 'left_hand', 'left_ankle'))
  # (title, view, centre, half side, depth below the centre still labelled)
  closeups = (('face', 'front', head + [0, 0.02, 0.05], 0.11, 0.1),
              ('left hand, from above', 'top', hand + [0, 0, 0.03], 0.09,
               0.06),
              ('left foot, from the left', 'left', ankle + [0, -0.03, 0.07],
               0.14, 0.03))
  for ax, (title, view, centre, half, depth) in zip(axes[1], closeups):
    labels = [f'{i} {n}' for i, n in enumerate(blaze.names)]
    right, up, towards = _VIEWS[view]
    # Label only the points inside the close-up and facing the viewer.
    inside = [abs((p - centre) @ right) < half and abs((p - centre) @ up) <
              half and (p - centre) @ towards > -depth for p in points]
    chosen = np.asarray(inside)
    _draw(ax, vertices, faces, view, points[chosen],
          np.asarray(on_surface)[chosen],
          [l for l, c in zip(labels, chosen) if c], (centre, half), font=8)
    ax.set_title(f'blazepose33: {title}', fontsize=10)
  fig.suptitle('Keypoint sets on the default body (neutral rest pose; red: '
               'SMPL joints or joint mixtures, blue: surface vertices; '
               'smplr_jax.body.keypoints)', fontsize=12)
  fig.tight_layout()
  fig.savefig(output, dpi=70)
  plt.close(fig)
  # A 64-colour palette keeps the PNG small (flat shading, few colours).
  with Image.open(output) as image:
    image.convert('RGB').quantize(64).save(output, optimize=True)


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--output', type=pathlib.Path,
                      default=pathlib.Path('docs/keypoints.png'))
  args = parser.parse_args(argv)
  draw_sets(args.output)
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main()
