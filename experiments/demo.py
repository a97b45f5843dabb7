r"""Demo: a photo and a person box -> a body mesh (.obj, .png, .json).

    python -m experiments.demo --image=PHOTO --box=x0,y0,x1,y1 --output=DIR \
        [--focal=PIXELS] [--weights=FOLDER] [--no_dae] [--refine] \
        [--flip_test]
    python -m experiments.demo --front_end=blazepose --image=PHOTO \
        --output=DIR                        # no box: BlazePose finds the person

Crops the photo around the box the way the image network was trained (the
paper's root-centred crop, `crop.crop_person`: the root at the box
centre, the box's longer side taken as 1.8 m, the focal length from a 55
degree field of view unless --focal is given), runs the image network, the
DAE and SMPLR (`inference.load_pipeline`: the weights shipped in
third_party/weights unless --weights), and writes to --output:

  * mesh.obj: the SMPL mesh in the photo's camera frame (x right, y down,
    z forward, metres; placed at the estimated root),
  * overlay.png: the lit, outlined mesh drawn over the photo by the
    project's rasteriser, joints marked, beside the crop the network saw,
  * body.json: pose (24 axis-angle rotations, camera frame), betas, the
    probability of male, the root position, focal length and box.

--refine fits the body to the JL that SMPLR saw by a short batched
Levenberg-Marquardt fit (`smplr_jax.predict.fit.refine`) before writing.
--flip_test averages the image network's reading of the crop and of the
mirrored crop.

With --front_end=blazepose (needs `pip install -e ".[detector]"`) the
photo goes whole to mediapipe's BlazePose, whose landmarks an adapter turns
into JL for the DAE and SMPLR (`smplr_jax.predict.detector`); body.json then also
holds the detected box and 2D keypoints, and the root is placed so that the
body's keypoints meet them.

Grayscale and RGBA photos are converted; a file that is not an image, a box
outside the image or a missing box, no person found, or a missing
mediapipe get one line, and nothing is written.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from absl import flags
from PIL import Image, UnidentifiedImageError
from scipy.spatial.transform import Rotation

from smplr_jax import cli
from smplr_jax.predict import draw
from smplr_jax import checks
from smplr_jax.predict import inference

_IMAGE = flags.DEFINE_string('image', None, 'Photo (any format PIL reads).')
_BOX = flags.DEFINE_string('box', None, 'Person box x0,y0,x1,y1 (pixels).')
_OUTPUT = flags.DEFINE_string('output', None, 'Output folder.')
_FOCAL = flags.DEFINE_float('focal', None, 'Focal length in pixels.')
_WEIGHTS = flags.DEFINE_string('weights', None, 'Pipeline folder (default: '
                               'the shipped weights).')
_NO_DAE = flags.DEFINE_bool('no_dae', False, 'Skip the DAE.')
_FRONT_END = flags.DEFINE_enum(
    'front_end', 'crop', ['crop', 'blazepose'],
    'crop: the image network on the --box crop; blazepose: the whole photo '
    'to mediapipe BlazePose (no box).')
_REFINE = flags.DEFINE_bool('refine', False, 'Refine the body to the JL '
                            'SMPLR saw by a short fit (smplr_jax.predict.fit).')
_FLIP = flags.DEFINE_bool('flip_test', False, 'Average the image network '
                          'over the crop and the mirrored crop.')
_MAX_SIDE = 800  # the overlay picture's longer side (pixels)


def parse_box(text: str | None) -> tuple[float, ...]:
  if not text:
    raise ValueError('no person box: pass --box=x0,y0,x1,y1 (pixels).')
  try:
    box = tuple(float(v) for v in text.split(','))
  except ValueError:
    box = ()
  if len(box) != 4:
    raise ValueError(f'--box must be 4 numbers x0,y0,x1,y1, got {text!r}.')
  return box


def load_photo(path: str | None) -> np.ndarray:
  if not path:
    raise ValueError('no photo: pass --image=PATH.')
  try:
    with Image.open(path) as image:
      return checks.as_rgb(np.asarray(image.convert('RGBA')
                                         if image.mode == 'P' else image))
  except FileNotFoundError as e:
    raise ValueError(f'{path} does not exist.') from e
  except (UnidentifiedImageError, OSError) as e:
    raise ValueError(f'{path} is not an image PIL can read.') from e


def write_obj(path: pathlib.Path, vertices: np.ndarray,
              faces: np.ndarray) -> None:
  lines = [f'v {x:.5f} {y:.5f} {z:.5f}' for x, y, z in vertices]
  lines += [f'f {a + 1} {b + 1} {c + 1}' for a, b, c in faces]
  path.write_text('\n'.join(lines) + '\n')


def run(image_path, box_text, output, focal=None, weights=None,
        use_dae=True, front_end='crop', refine=False,
        flip_test=False) -> dict:
  """The demo as a function; returns the paths it wrote."""
  if front_end == 'blazepose' and box_text:
    raise ValueError('--box is not used with --front_end=blazepose: the '
                     'detector finds the person.')
  box = parse_box(box_text) if front_end != 'blazepose' else None
  photo = load_photo(image_path)
  if output is None:
    raise ValueError('no output folder: pass --output=DIR.')
  try:
    predictor = inference.load_pipeline(weights, use_dae=use_dae,
                                        front_end=front_end, refine=refine,
                                        flip_test=flip_test)
  except ImportError as e:  # the detector extra is not installed
    raise ValueError(str(e)) from e
  if box is None:  # raises detector.NoPersonError, a ValueError
    out = predictor.predict_image(photo, focal)
    box = [round(float(v), 1) for v in out['box']]
  else:
    out = predictor.predict_image(photo, box, focal)  # validates the box
  root = np.asarray(out['root_cam'])
  vertices = np.asarray(out['vertices']) + root
  joints = np.asarray(out['joints']) + root
  # The picture: the photo at most _MAX_SIDE pixels, the mesh over it.
  height, width = photo.shape[:2]
  scale = min(1.0, _MAX_SIDE / max(height, width))
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  picture = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
  principal = np.array([(width - 1) / 2, (height - 1) / 2])
  to_picture = np.array([[scale, 0, 0.5 * scale], [0, scale, 0.5 * scale],
                         [0, 0, 1.0]])  # then -0.5 in draw.project
  points = draw.project(vertices, out['focal'], principal, to_picture)
  joint_pixels = draw.project(joints, out['focal'], principal, to_picture)
  overlay = draw.mesh_overlay(picture, points, out['faces'], vertices,
                              joints=joint_pixels[:, :2])
  crop = np.asarray(Image.fromarray(out['crop']).resize(
      (overlay.shape[0], overlay.shape[0]), Image.NEAREST))
  sheet = np.concatenate([crop, overlay], axis=1)

  output = pathlib.Path(output)
  output.mkdir(parents=True, exist_ok=True)
  paths = {'obj': output / 'mesh.obj', 'png': output / 'overlay.png',
           'json': output / 'body.json'}
  write_obj(paths['obj'], vertices, np.asarray(out['faces']))
  Image.fromarray(sheet).save(paths['png'])
  pose = Rotation.from_matrix(np.asarray(out['pose'], np.float64)).as_rotvec()
  paths['json'].write_text(json.dumps({
      'pose_axis_angle': pose.round(5).tolist(),
      'betas': np.asarray(out['betas']).round(5).tolist(),
      'male_probability': float(out['gender']),
      'root_cam_m': root.round(4).tolist(), 'focal_px': out['focal'],
      'box': list(box), 'frame': 'camera: x right, y down, z forward, m',
      'used_dae': predictor.uses_dae, 'front_end': front_end,
      'refined': bool(refine),
      **({'keypoints_2d_px': np.asarray(out['keypoints_2d']).round(1)
          .tolist()} if 'keypoints_2d' in out else {})}, indent=1))
  return paths


def main(argv):
  del argv
  # A ValueError (bad photo, box, focal, weights) is one line (`cli.run`).
  paths = run(_IMAGE.value, _BOX.value, _OUTPUT.value, _FOCAL.value,
              _WEIGHTS.value, not _NO_DAE.value, _FRONT_END.value,
              _REFINE.value, _FLIP.value)
  for path in paths.values():
    print(f'wrote {path}')


if __name__ == '__main__':
  cli.run(main)
