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


def write_obj(path: pathlib.Path,
              meshes: list[tuple[np.ndarray, np.ndarray]]) -> None:
  """Wavefront OBJ of (vertices [V, 3], faces [F, 3]) meshes, one object
  ('person_N') each."""
  lines, offset = [], 1
  for number, (vertices, faces) in enumerate(meshes):
    lines.append(f'o person_{number}')
    lines += [f'v {x:.5f} {y:.5f} {z:.5f}' for x, y, z in vertices]
    lines += [f'f {a + offset} {b + offset} {c + offset}'
              for a, b, c in np.asarray(faces)]
    offset += len(vertices)
  path.write_text('\n'.join(lines) + '\n')


def predict_photo(predictor, photo: np.ndarray, box=None, focal=None,
                  everyone: bool = False) -> list[dict]:
  """The bodies of a photo: with a box the image network on its crop,
  without one the photo path (the most confident person, or with
  `everyone` every person found). Each dict is `predict_image`'s plus
  'box' (pixels).

  Raises:
    ValueError: a bad box, no person found (`detector.NoPersonError`), or
      no detector extra (the message names it).
  """
  if box is not None:
    out = predictor.predict_image(photo, box, focal)  # validates the box
    return [dict(out, box=[round(float(v), 1) for v in box])]
  if everyone:
    people = predictor.predict_people(photo, focal)
    if not people:
      from smplr_jax.predict import detector  # pylint: disable=g-import-not-at-top
      raise detector.NoPersonError('no person found in the photo.')
  else:  # raises detector.NoPersonError, a ValueError
    people = [predictor.predict_image(photo, focal=focal)]
  return [dict(out, box=[round(float(v), 1) for v in out['box']])
          for out in people]


def body_record(out: dict, uses_dae: bool, refined: bool = False) -> dict:
  """One body as body.json holds it (camera frame, metres)."""
  root = np.asarray(out['root_cam'])
  pose = Rotation.from_matrix(np.asarray(out['pose'], np.float64)).as_rotvec()
  return {
      'pose_axis_angle': pose.round(5).tolist(),
      'betas': np.asarray(out['betas']).round(5).tolist(),
      'gender': int(out['gender']),
      'male_probability': float(out['male_probability']),
      'root_cam_m': root.round(4).tolist(), 'focal_px': out['focal'],
      'box': list(out['box']),
      'frame': 'camera: x right, y down, z forward, m',
      'used_dae': uses_dae,
      'front_end': 'detector' if 'keypoints_2d' in out else 'crop',
      'refined': bool(refined) or 'fit_cost' in out,
      **({'fit_cost': float(np.asarray(out['fit_cost']).reshape(-1)[0])}
         if 'fit_cost' in out else {}),
      **({'hypothesis': out['hypothesis']} if 'hypothesis' in out else {}),
      **({'keypoints_2d_px': np.asarray(out['keypoints_2d']).round(1)
          .tolist()} if 'keypoints_2d' in out else {})}


def overlay_picture(photo: np.ndarray, people: list[dict]) -> np.ndarray:
  """The photo (longer side at most _MAX_SIDE) with every body drawn over
  it; one body also shows the crop its front end read, at the left."""
  height, width = photo.shape[:2]
  scale = min(1.0, _MAX_SIDE / max(height, width))
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  picture = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
  principal = np.array([(width - 1) / 2, (height - 1) / 2])
  to_picture = np.array([[scale, 0, 0.5 * scale], [0, scale, 0.5 * scale],
                         [0, 0, 1.0]])  # then -0.5 in draw.project
  # The farthest first, so that nearer people are drawn over them.
  for out in sorted(people, key=lambda o: -float(o['root_cam'][2])):
    root = np.asarray(out['root_cam'])
    vertices = np.asarray(out['vertices']) + root
    points = draw.project(vertices, out['focal'], principal, to_picture)
    joint_pixels = draw.project(np.asarray(out['joints']) + root,
                                out['focal'], principal, to_picture)
    picture = draw.mesh_overlay(picture, points, out['faces'], vertices,
                                joints=joint_pixels[:, :2])
  if len(people) != 1:
    return picture
  crop = np.asarray(Image.fromarray(people[0]['crop']).resize(
      (picture.shape[0], picture.shape[0]), Image.NEAREST))
  return np.concatenate([crop, picture], axis=1)


def write_photo_outputs(people: list[dict], photo: np.ndarray, output,
                        uses_dae: bool, refined: bool = False,
                        glb: bool = False) -> dict[str, pathlib.Path]:
  """mesh.obj (every body, camera frame), overlay.png and body.json (one
  body's record, or {'people': [...]} for several), and with `glb` a
  static body.glb (`export.write_mesh_glb`, needs pygltflib), in `output`.
  Returns the paths written."""
  output = pathlib.Path(output)
  output.mkdir(parents=True, exist_ok=True)
  paths = {'obj': output / 'mesh.obj', 'png': output / 'overlay.png',
           'json': output / 'body.json'}
  meshes = [(np.asarray(out['vertices']) + np.asarray(out['root_cam']),
             np.asarray(out['faces'])) for out in people]
  write_obj(paths['obj'], meshes)
  Image.fromarray(overlay_picture(photo, people)).save(paths['png'])
  records = [body_record(out, uses_dae, refined) for out in people]
  paths['json'].write_text(json.dumps(
      records[0] if len(records) == 1 else {'people': records}, indent=1))
  if glb:
    from smplr_jax.predict import export  # pylint: disable=g-import-not-at-top
    paths['glb'] = export.write_mesh_glb(output / 'body.glb', meshes)
  return paths


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
  people = predict_photo(predictor, photo, box, focal)
  return write_photo_outputs(people, photo, output, predictor.uses_dae,
                             refine)


def _encoder(container, width: int, height: int, fps: float):
  """An H.264 stream when PyAV's ffmpeg has it, else MPEG-4 part 2."""
  import av  # pylint: disable=g-import-not-at-top
  for codec in ('libx264', 'mpeg4'):
    try:
      stream = container.add_stream(codec, rate=round(fps))
    except (av.error.FFmpegError, ValueError):
      continue
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = 'yuv420p'
    if codec == 'mpeg4':
      stream.bit_rate = 8_000_000
    return stream
  raise ValueError('PyAV has no H.264 or MPEG-4 encoder here.')


def write_overlay_video(path: pathlib.Path, video_path, result: dict,
                        body) -> None:
  """The clip with every track's mesh drawn over its frames (the clip is
  read a second time, frame by frame)."""
  import av  # pylint: disable=g-import-not-at-top

  from smplr_jax.body import gendered as gendered_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import video as video_lib  # pylint: disable=g-import-not-at-top
  width, height = result['image_size']
  principal = np.array([(width - 1) / 2, (height - 1) / 2])
  by_frame: dict[int, list[tuple[dict, int]]] = {}
  for track in result['tracks']:
    for i, frame in enumerate(track['frames']):
      by_frame.setdefault(int(frame), []).append((track, i))
  faces = np.asarray(body.gendered.faces)
  with av.open(str(path), 'w') as container:
    stream = _encoder(container, width, height, result['fps'] or 30.0)
    for index, frame in enumerate(video_lib.open_video(video_path)):
      for track, i in by_frame.get(index, []):
        posed = gendered_lib.posed_body(
            body.gendered, track['pose'][i:i + 1], track['betas'][i:i + 1],
            track['gender'][i:i + 1])
        vertices = np.asarray(posed['vertices'][0]) + track['root_cam'][i]
        points = draw.project(vertices, result['focal'], principal)
        frame = draw.mesh_overlay(frame, points, faces, vertices)
      image = av.VideoFrame.from_ndarray(
          np.ascontiguousarray(frame[:stream.height, :stream.width]),
          format='rgb24')
      for packet in stream.encode(image):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def write_clip_outputs(result: dict, video_path, output, body,
                       mode: str = 'offline',
                       overlay: bool = True) -> dict[str, pathlib.Path]:
  """`video.predict_video`'s result -> per-track .npz, .json, .bvh, .glb,
  overlay.mp4 and video.json in `output`, written to a temporary folder
  first and moved in at the end (an error leaves nothing half-written).
  Returns the paths written, by file name."""
  import shutil  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top

  from smplr_jax.predict import export  # pylint: disable=g-import-not-at-top
  output = pathlib.Path(output)
  output.parent.mkdir(parents=True, exist_ok=True)
  staging = pathlib.Path(tempfile.mkdtemp(prefix='.smplr-video-',
                                          dir=output.parent))
  try:
    names = []
    for number, track in enumerate(result['tracks']):
      stem = staging / f'track_{number}'
      export.write_track_npz(stem.with_suffix('.npz'), track, result['fps'])
      export.write_track_json(stem.with_suffix('.json'), track,
                              result['fps'])
      export.write_bvh(stem.with_suffix('.bvh'), track, body.gendered,
                       result['fps'])
      export.write_glb(stem.with_suffix('.glb'), track, body.gendered,
                       result['fps'])
      names += [f'track_{number}{s}' for s in ('.npz', '.json', '.bvh',
                                                '.glb')]
    if overlay:
      write_overlay_video(staging / 'overlay.mp4', video_path, result, body)
      names.append('overlay.mp4')
    (staging / 'video.json').write_text(json.dumps({
        'fps': result['fps'], 'num_frames': result['num_frames'],
        'skipped_frames': result['skipped_frames'],
        'image_size': result['image_size'], 'focal_px': result['focal'],
        'mode': mode, 'tracks': [
            {'file': f'track_{n}', 'first_frame': int(t['frames'][0]),
             'last_frame': int(t['frames'][-1]),
             'num_frames': len(t['frames'])}
            for n, t in enumerate(result['tracks'])]}, indent=1))
    names.append('video.json')
    output.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
      paths[name] = output / name
      shutil.move(str(staging / name), paths[name])
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return paths


def run_video(video_path, output, fps=None, weights=None, mode='offline',
              max_people=1, overlay=True, focal=None) -> dict:
  """A clip -> per-track .npz, .json, .bvh, .glb and an overlay .mp4 in
  `output` (`write_clip_outputs`). Returns the paths written."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top

  from smplr_jax.predict import video  # pylint: disable=g-import-not-at-top
  if not video_path:
    raise ValueError('no video: pass --video=PATH.')
  if output is None:
    raise ValueError('no output folder: pass --output=DIR.')
  try:  # a missing or unreadable file: one line, before the models load
    frames = video.open_video(video_path)
  except ImportError as e:  # PyAV is missing: say how to install it
    raise ValueError(str(e)) from e
  predictor = inference.load_pipeline(weights)
  with tqdm(desc='frames', unit='frame') as bar:
    result = predictor.predict_video(
        frames, fps, focal=focal,
        options=video.VideoOptions(mode=mode, max_people=max_people),
        progress=lambda count: bar.update(count - bar.n))
  if not result['tracks']:
    raise ValueError(f'no person found in any of the {result["num_frames"]}'
                     ' frames.')
  return write_clip_outputs(result, video_path, output,
                            predictor.photo_path().keypoints.body, mode,
                            overlay)
