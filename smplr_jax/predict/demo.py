"""The demo as two library functions: a photo -> mesh.obj, overlay.png and
body.json (`run`); a clip -> per-track animations and an overlay .mp4
(`run_video`).

`smplr-jax demo` (`smplr_jax.console`) and `python -m experiments.demo`
call them through `run_command`; the latter's docstring lists the files. They only join the
homes of each idea: `read` (the photo, the clip, the box), `predictor`
(the bodies), `write` (the files) and `draw` (the overlays).
"""

from __future__ import annotations

import pathlib

from smplr_jax.predict import detector, read, write
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import predictor as predictor_lib
from smplr_jax.predict import settings as settings_lib


def run(image_path: str | None, box_text: str | None, output: str | None,
        *, everyone: bool = False, focal: float | None = None,
        weights: str | None = None, use_dae: bool = True,
        front_end: str = 'auto', refine: bool = False,
        flip_test: bool = False,
        gender: str | None = None) -> dict[str, pathlib.Path]:
  """A photo -> mesh.obj, overlay.png and body.json in `output`
  (`write.write_photo_outputs`). Returns the paths written.

  With a box (`read.parse_box`) the image network reads its crop; without
  one (front_end 'auto' or 'blazepose') the photo path finds the most
  confident person, or with `everyone` every person found. `gender`:
  'female', 'male' or 'neutral' (that body model is used; body.json says
  it was stated), None or 'auto' to estimate it (`gender`).

  Raises:
    ValueError: a missing or unreadable photo, a bad box, no output folder,
      no person found, or a missing detector extra (one line each; nothing
      is written).
  """
  if front_end == 'blazepose' and box_text:
    raise ValueError('--box is not used with --front_end=blazepose: the '
                     'detector finds the person.')
  if everyone and box_text:
    raise ValueError('--everyone finds every person: pass it without '
                     '--box.')
  box = read.parse_box(box_text)
  if box is None and front_end == 'crop':
    raise ValueError('no person box: pass --box=x0,y0,x1,y1 (pixels).')
  if not image_path:
    raise ValueError('no photo: pass --image=PATH.')
  gender = gender_lib.check_stated(gender)
  photo = read.load_photo(image_path)
  if output is None:
    raise ValueError('no output folder: pass --output=DIR.')
  predictor = predictor_lib.load_pipeline(
      weights, use_dae=use_dae, front_end=front_end, refine=refine,
      flip_test=flip_test)
  if box is not None:
    people = [predictor.predict_image(photo, box=box, focal=focal,
                                      gender=gender)]
  elif everyone:
    people = predictor.predict_people(photo, focal=focal, gender=gender)
    if not people:
      raise detector.NoPersonError('no person found in the photo.')
  else:  # raises detector.NoPersonError, a ValueError
    people = [predictor.predict_image(photo, focal=focal, gender=gender)]
  return write.write_photo_outputs(people, photo, output)


def run_video(video_path: str | None, output: str | None, *,
              fps: float | None = None, focal: float | None = None,
              weights: str | None = None, mode: str = 'offline',
              max_people: int = 1,
              overlay: bool = True,
              gender: str | None = None,
              fbx: bool = False) -> dict[str, pathlib.Path]:
  """A clip -> per-track .npz, .json, .bvh, .glb (and .fbx with `fbx`,
  by Blender: `blender.glb_to_fbx`), an overlay .mp4 and video.json in
  `output` (`write.write_clip_outputs`). Returns the paths written.

  Raises:
    ValueError: a missing or unreadable clip, no output folder, a bad mode
      or max_people, no person in any frame, or a missing extra (bpy with
      `fbx`: said before the clip is read).
  """
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  if fbx:  # a missing bpy: one line before any work
    from smplr_jax.predict import blender  # pylint: disable=g-import-not-at-top
    try:
      blender.import_bpy()
    except ImportError as e:
      raise ValueError(str(e)) from e
  if not video_path:
    raise ValueError('no video: pass --video=PATH.')
  if output is None:
    raise ValueError('no output folder: pass --output=DIR.')
  gender = gender_lib.check_stated(gender)
  settings = settings_lib.VideoSettings(mode=mode, max_people=max_people)
  try:  # a missing or unreadable file: one line, before the models load
    frames = read.open_video(video_path)
  except ImportError as e:  # PyAV is missing: say how to install it
    raise ValueError(str(e)) from e
  # A clip needs no image network: the photo path only.
  predictor = predictor_lib.load_pipeline(weights, front_end='blazepose')
  with tqdm(desc='frames', unit='frame') as bar:
    result = predictor.predict_video(
        frames, fps=fps, focal=focal, settings=settings,
        progress=lambda count: bar.update(count - bar.n), gender=gender)
  if not result['tracks']:
    raise ValueError(f'no person found in any of the {result["num_frames"]}'
                     ' frames.')
  return write.write_clip_outputs(result, video_path, output, predictor.body,
                                  predictor.track_vertices, mode, overlay,
                                  fbx=fbx)


def run_command(*, image: str | None = None, video: str | None = None,
                output: str | None = None, box: str | None = None,
                everyone: bool = False, focal: float | None = None,
                weights: str | None = None, use_dae: bool = True,
                front_end: str = 'auto', refine: bool = False,
                flip_test: bool = False, mode: str = 'offline',
                max_people: int = 1,
                gender: str | None = None,
                fbx: bool = False) -> dict[str, pathlib.Path]:
  """The demo command, whatever its front (`smplr-jax demo`, `python -m
  experiments.demo`): a clip (`run_video`) when `video` is given, else a
  photo (`run`). Returns the paths written.

  Raises:
    ValueError: photo-only flags given with a clip, --fbx with a photo, and
      `run`'s or `run_video`'s errors.
  """
  if video:
    if image or box or everyone:
      raise ValueError('--video takes no --image, --box or --everyone '
                       '(they are for photos).')
    return run_video(video, output, focal=focal, weights=weights, mode=mode,
                     max_people=max_people, gender=gender, fbx=fbx)
  if fbx:
    raise ValueError('--fbx is for clips (--video): a photo gives a still '
                     'body (mesh.obj).')
  return run(image, box, output, everyone=everyone, focal=focal,
             weights=weights, use_dae=use_dae, front_end=front_end,
             refine=refine, flip_test=flip_test, gender=gender)
