"""The photo -> body demo as a library function: a photo (and optionally a
person box) -> mesh.obj, overlay.png and body.json in a folder.

`run` is what `smplr-jax demo` (`smplr_jax.console`) and
`python -m experiments.demo` call; see the latter's docstring for the files.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.spatial.transform import Rotation

from smplr_jax import checks
from smplr_jax.predict import draw, inference

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
  """A photo file as uint8 [H, W, 3], upright as a person sees it (the
  EXIF orientation of phone photos applied), 16-bit and palette images
  converted."""
  if not path:
    raise ValueError('no photo: pass --image=PATH.')
  try:
    with Image.open(path) as image:
      image = ImageOps.exif_transpose(image)
      if image.mode == 'P':
        image = image.convert('RGBA')
      pixels = np.asarray(image)
      if image.mode.startswith('I'):  # 16-bit grayscale ('I;16', 'I')
        pixels = np.clip(pixels, 0, 65535).astype(np.uint16)
      return checks.as_rgb(pixels)
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
        use_dae=True, front_end='auto', refine=False,
        flip_test=False) -> dict:
  """The demo as a function; returns the paths it wrote.

  Without a box (front_end 'auto' or 'blazepose') the photo path finds the
  person (`inference.ImagePredictor.predict_image`); with one, the image
  network reads the box's crop."""
  if front_end == 'blazepose' and box_text:
    raise ValueError('--box is not used with --front_end=blazepose: the '
                     'detector finds the person.')
  box = parse_box(box_text) if (box_text or front_end == 'crop') else None
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
    out = predictor.predict_image(photo, focal=focal)
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
      'gender': int(out['gender']),
      'male_probability': float(out['male_probability']),
      'root_cam_m': root.round(4).tolist(), 'focal_px': out['focal'],
      'box': list(box), 'frame': 'camera: x right, y down, z forward, m',
      'used_dae': predictor.uses_dae,
      'path': 'detector' if 'keypoints_2d' in out else 'crop',
      'refined': bool(refine) or 'fit_cost' in out,
      **({'fit_cost': float(np.asarray(out['fit_cost']).reshape(-1)[0])}
         if 'fit_cost' in out else {}),
      **({'hypothesis': out['hypothesis']} if 'hypothesis' in out else {}),
      **({'keypoints_2d_px': np.asarray(out['keypoints_2d']).round(1)
          .tolist()} if 'keypoints_2d' in out else {})}, indent=1))
  return paths
