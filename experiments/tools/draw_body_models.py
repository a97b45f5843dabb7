r"""Draws the default body models: a contact sheet and a landmark close-up.

Poses the three SMPL-layout files with smplr_jax's forward pass and renders
them with matplotlib (flat-shaded triangles, painter's algorithm), marking the
24 joints (red) and the 18 SMPLR landmarks (blue, numbered in SMPLR order).

  python -m experiments.tools.draw_body_models \
      --model_dir third_party/body_models/anny_smpl

writes `<model_dir>/contact_sheet.png` (rows: neutral, male, female; columns:
rest front, rest side, three poses) and `<model_dir>/landmarks.png` (the
neutral rest pose from the front, back and side, landmarks numbered). Runs in
well under a minute on a CPU.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.collections  # pylint: disable=g-import-not-at-top
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from smplr_jax import (
  load_body_model,  # pylint: disable=g-import-not-at-top
  smpl_forward,  # pylint: disable=g-import-not-at-top
)

GENDERS = ('neutral', 'male', 'female')

# SMPL frame: x body's left, y up, z forward. Each view: (screen-right axis,
# screen-up axis, towards-camera axis), as signed unit vectors.
VIEWS = {
    'front': (np.array([1.0, 0, 0]), np.array([0, 1.0, 0]),
              np.array([0, 0, 1.0])),
    'back': (np.array([-1.0, 0, 0]), np.array([0, 1.0, 0]),
             np.array([0, 0, -1.0])),
    # Seen from the body's right: forward (+z) points to the screen's right.
    'side': (np.array([0, 0, 1.0]), np.array([0, 1.0, 0]),
             np.array([-1.0, 0, 0])),
}


def _joint_pose(**rotations) -> np.ndarray:
  """[24, 3] axis-angle pose from {joint index name: axis-angle} keywords."""
  names = ('pelvis', 'L_hip', 'R_hip', 'spine1', 'L_knee', 'R_knee', 'spine2',
           'L_ankle', 'R_ankle', 'spine3', 'L_foot', 'R_foot', 'neck',
           'L_collar', 'R_collar', 'head', 'L_shoulder', 'R_shoulder',
           'L_elbow', 'R_elbow', 'L_wrist', 'R_wrist', 'L_hand', 'R_hand')
  pose = np.zeros((24, 3))
  for name, value in rotations.items():
    pose[names.index(name)] = value
  return pose


# Three test poses in SMPL's convention (relative axis-angle, radians). Signs:
# about +z lifts the left arm, about -x flexes a hip forward, about +x bends a
# knee, about -y bends the left elbow forward.
POSES = {
    'walk, arms down': _joint_pose(
        L_shoulder=(0, 0, -1.2), R_shoulder=(0, 0, 1.2), L_hip=(-0.5, 0, 0),
        R_hip=(0.4, 0, 0), L_knee=(0.3, 0, 0), R_knee=(0.6, 0, 0),
        L_elbow=(0, -0.4, 0), R_elbow=(0, 0.4, 0)),
    'squat, arms up': _joint_pose(
        L_hip=(-1.4, 0, -0.3), R_hip=(-1.4, 0, 0.3), L_knee=(1.8, 0, 0),
        R_knee=(1.8, 0, 0), L_ankle=(-0.4, 0, 0), R_ankle=(-0.4, 0, 0),
        L_shoulder=(0, 0, 1.2), R_shoulder=(0, 0, -1.2), spine1=(0.3, 0, 0)),
    'twist, elbows bent, head turned': _joint_pose(
        spine1=(0, 0.25, 0.1), spine2=(0, 0.25, 0.1), spine3=(0, 0.2, 0),
        L_elbow=(0, -1.6, 0), R_elbow=(0, 1.2, 0.3),
        L_shoulder=(0, 0.5, -0.5), R_shoulder=(0, 0, 0.8), head=(0.2, 0.6, 0),
        L_wrist=(0.6, 0, 0), R_hand=(0, 0, 0.8), L_hip=(0, 0.3, 0.2)),
}


def draw_mesh(ax, vertices: np.ndarray, faces: np.ndarray, view: str,
              color=(0.80, 0.72, 0.62)) -> None:
  """Flat-shaded mesh [V, 3] in one of `VIEWS`, back to front."""
  right, up, towards = VIEWS[view]
  screen = np.stack([vertices @ right, vertices @ up], axis=-1)
  corners = vertices[faces]
  normals = np.cross(corners[:, 1] - corners[:, 0],
                     corners[:, 2] - corners[:, 0])
  normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
  light = towards + 0.4 * up
  light /= np.linalg.norm(light)
  shade = 0.35 + 0.65 * np.abs(normals @ light)
  order = np.argsort(corners.mean(axis=1) @ towards)  # farthest first
  colors = np.clip(shade[order, None] * np.array(color), 0.0, 1.0)
  ax.add_collection(matplotlib.collections.PolyCollection(
      screen[faces[order]], facecolors=colors, edgecolors='none'))
  ax.set_aspect('equal')
  ax.autoscale_view()
  ax.axis('off')


def mark_points(ax, points: np.ndarray, view: str, color: str,
                labels: Sequence[str] | None = None, size: float = 12.0,
                font: float = 6.0) -> None:
  """Draws points [N, 3] (on top of the mesh) with optional text labels."""
  right, up, _ = VIEWS[view]
  x, y = points @ right, points @ up
  ax.scatter(x, y, s=size, c=color, zorder=3, edgecolors='white',
             linewidths=0.3)
  if labels is not None:
    for xi, yi, label in zip(x, y, labels):
      ax.annotate(label, (xi, yi), xytext=(2, 2), textcoords='offset points',
                  fontsize=font, color=color, zorder=4)


def draw_skeleton(ax, joints: np.ndarray, parents: Sequence[int],
                  view: str) -> None:
  """Bones [J, 3] as red lines from each joint to its parent."""
  right, up, _ = VIEWS[view]
  for j, p in enumerate(parents):
    if p >= 0:
      ax.plot([joints[j] @ right, joints[p] @ right],
              [joints[j] @ up, joints[p] @ up], color='red', lw=0.6,
              zorder=3)


def posed_models(model_dir: pathlib.Path):
  """Yields (gender, model, rest output, posed outputs) for each file."""
  poses = np.stack([np.zeros((24, 3))] + list(POSES.values()))
  for gender in GENDERS:
    model = load_body_model(model_dir, gender=gender)
    out = smpl_forward(model, poses.astype(np.float32),
                       np.zeros((len(poses), 10), np.float32))
    yield gender, model, np.asarray(out.vertices), np.asarray(out.joints)


def contact_sheet(model_dir: pathlib.Path, output: pathlib.Path) -> None:
  """Rows: genders; columns: rest front, rest side, the three `POSES`."""
  columns = [('rest pose, front', 0, 'front'), ('rest pose, side', 0, 'side')]
  columns += [(name, i + 1, 'front') for i, name in enumerate(POSES)]
  fig, axes = plt.subplots(len(GENDERS), len(columns),
                           figsize=(3.2 * len(columns), 4.2 * len(GENDERS)))
  for row, (gender, model, vertices, joints) in enumerate(
      posed_models(model_dir)):
    faces = np.asarray(model.faces)
    landmark_ids = np.asarray(model.landmark_vertex_ids)
    for col, (title, index, view) in enumerate(columns):
      ax = axes[row, col]
      draw_mesh(ax, vertices[index], faces, view)
      draw_skeleton(ax, joints[index], model.parents, view)
      mark_points(ax, joints[index], view, 'red', size=6)
      mark_points(ax, vertices[index][landmark_ids], view, 'blue', size=8)
      ax.set_title(f'{gender}: {title}', fontsize=8)
  fig.suptitle('anny_smpl default body models (joints red, SMPLR landmarks '
               'blue); x = body\'s left, y up, z forward', fontsize=10)
  fig.tight_layout()
  fig.savefig(output, dpi=110)
  plt.close(fig)


def landmark_sheet(model_dir: pathlib.Path, output: pathlib.Path) -> None:
  """The neutral rest pose, front/back/side, landmarks numbered 0-17."""
  model = load_body_model(model_dir, gender='neutral')
  out = smpl_forward(model, np.zeros((1, 24, 3), np.float32),
                     np.zeros((1, 10), np.float32))
  vertices, joints = np.asarray(out.vertices[0]), np.asarray(out.joints[0])
  faces = np.asarray(model.faces)
  ids = np.asarray(model.landmark_vertex_ids)
  labels = [str(i) for i in range(len(ids))]
  fig, axes = plt.subplots(1, 3, figsize=(18, 9),
                           gridspec_kw={'width_ratios': [2.2, 2.2, 1]})
  for ax, view in zip(axes, ('front', 'back', 'side')):
    draw_mesh(ax, vertices, faces, view)
    draw_skeleton(ax, joints, model.parents, view)
    mark_points(ax, joints, view, 'red', size=10)
    towards = VIEWS[view][2]
    # Label only the landmarks on the visible side: not more than 2 cm behind
    # the joints' mean depth.
    depth = joints.mean(axis=0) @ towards
    visible = (vertices[ids] @ towards) >= depth - 0.02
    mark_points(ax, vertices[ids][visible], view, 'blue',
                [l for l, v in zip(labels, visible) if v], size=25, font=10)
    ax.set_title(f'neutral rest pose, {view}', fontsize=12)
  fig.suptitle('SMPLR landmarks on anny_smpl (blue, SMPLR order; see '
               'README table); joints red', fontsize=13)
  fig.tight_layout()
  fig.savefig(output, dpi=80)
  plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model_dir', type=pathlib.Path,
                      default=pathlib.Path('third_party/body_models/anny_smpl'))
  parser.add_argument('--output', type=pathlib.Path, default=None,
                      help='contact sheet path (default: '
                      '<model_dir>/contact_sheet.png).')
  parser.add_argument('--landmarks_output', type=pathlib.Path, default=None,
                      help='default: <model_dir>/landmarks.png.')
  args = parser.parse_args(argv)
  output = args.output or args.model_dir / 'contact_sheet.png'
  landmarks_output = args.landmarks_output or args.model_dir / 'landmarks.png'
  contact_sheet(args.model_dir, output)
  landmark_sheet(args.model_dir, landmarks_output)
  print(f'wrote {output} and {landmarks_output}')


if __name__ == '__main__':
  main()
