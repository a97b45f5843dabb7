r"""Demo: a photo -> a body mesh (.obj, .png, .json); a clip -> animations.

    python -m experiments.demo --image=PHOTO --output=DIR   # the photo path
    python -m experiments.demo --image=PHOTO --everyone --output=DIR
    python -m experiments.demo --video=CLIP.mp4 --output=DIR [--mode=causal] \
        [--max_people=2] [--fbx]   # track_N.npz/.json/.bvh/.glb, overlay.mp4
    python -m experiments.demo --image=PHOTO --box=x0,y0,x1,y1 --output=DIR \
        [--focal=PIXELS] [--weights=FOLDER] [--no_dae] [--refine] \
        [--flip_test]

Without --box (needs `pip install -e ".[detector]"`; without it a one-line
error says so): BlazePose finds the person, an adapter and SMPLR give a
body, and a fit matches it to every landmark, trying the detection and the
detector's reading of the mirrored photo (`smplr_jax.predict.detector`).

--everyone fits every person the detector finds (body.json then holds
{'people': [...]}, mesh.obj one object each).

--fbx (clips) also writes track_N.fbx, the .glb's skinned, animated body
exported by Blender's own FBX exporter (`pip install -e ".[fbx]"`, Python
3.11 only; `smplr_jax.predict.blender`); without bpy a one-line error says
so before the clip is read.

With --box (x0,y0,x1,y1 or x0;y0;x1;y1, corners in any order,
`read.parse_box`): crops the photo around the box the way the image network
was trained (the paper's root-centred crop, `crop.crop_person`: the root at
the box centre, the box's longer side taken as 1.8 m, the focal length from
a 55 degree field of view unless --focal is given), runs the image network,
the DAE and SMPLR (`predictor.load_pipeline`: the weights shipped in
third_party/weights unless --weights), and writes to --output
(`smplr_jax.predict.demo.run`; `smplr-jax demo` takes the same flags):

  * mesh.obj: the SMPL mesh in the photo's camera frame (x right, y down,
    z forward, metres; placed at the estimated root),
  * overlay.png: the lit, outlined mesh drawn over the photo by the
    project's rasteriser, joints marked, beside the crop the network saw,
  * body.json: pose (24 axis-angle rotations, camera frame), betas, the
    gender (the body model's index, its label 'female', 'male' or
    'unknown', or the stated one with --gender, and whether it was stated),
    the calibrated probability of male, the root position, focal length
    and box.

--refine fits the body to the JL that SMPLR saw by a short batched
Levenberg-Marquardt fit (`smplr_jax.fitting.refine_prediction`) before
writing.
--flip_test averages the image network's reading of the crop and of the
mirrored crop.

On the photo path body.json also holds the detected box and 2D keypoints,
which joints the photo showed ('joint_seen', by name: False where the body
was inferred), the fit's cost and the reading kept ('hypothesis'), and the
root is placed so that the body's keypoints meet the detected pixels.

Phone photos are turned upright by their EXIF orientation; grayscale, RGBA
and 16-bit photos are converted; a file that is not an image, a box
outside the image or a missing box, no person found, or a missing
mediapipe get one line, and nothing is written.
"""

from __future__ import annotations

from absl import flags

from smplr_jax import cli
from smplr_jax.predict import demo

_IMAGE = flags.DEFINE_string('image', None, 'Photo (any format PIL reads).')
_VIDEO = flags.DEFINE_string('video', None, 'A clip (any format ffmpeg '
                             'reads; needs the [video] and [detector] '
                             'extras): per-track .npz, .json, .bvh, .glb '
                             'and an overlay .mp4.')
_MODE = flags.DEFINE_enum('mode', 'offline', ['offline', 'causal'],
                          'Video: offline (sees the whole clip) or causal '
                          "(as live: frame t's body from frames up to 0.4 s "
                          'later).')
_MAX_PEOPLE = flags.DEFINE_integer('max_people', 1, 'Video: people per '
                                   'frame.')
_FBX = flags.DEFINE_bool('fbx', False, 'Video: also track_N.fbx, by '
                         "Blender's exporter (needs the [fbx] extra, Python "
                         '3.11).')
_BOX = flags.DEFINE_string('box', None, 'Person box x0,y0,x1,y1 (pixels).')
_EVERYONE = flags.DEFINE_bool('everyone', False, 'Photo: every person the '
                              'detector finds (default: the most confident '
                              'one).')
_OUTPUT = flags.DEFINE_string('output', None, 'Output folder.')
_FOCAL = flags.DEFINE_float('focal', None, 'Focal length in pixels.')
_WEIGHTS = flags.DEFINE_string('weights', None, 'Pipeline folder (default: '
                               'the shipped weights).')
_NO_DAE = flags.DEFINE_bool('no_dae', False, 'Skip the DAE.')
_FRONT_END = flags.DEFINE_enum(
    'front_end', 'auto', ['auto', 'crop', 'blazepose'],
    'auto: without --box the photo path (detector -> adapter -> SMPLR -> '
    'fit), with --box the image network on its crop; crop: --box required; '
    'blazepose: the photo path only.')
_REFINE = flags.DEFINE_bool('refine', False, 'Refine the body to the JL '
                            'SMPLR saw by a short fit (smplr_jax.fitting).')
_FLIP = flags.DEFINE_bool('flip_test', False, 'Average the image network '
                          'over the crop and the mirrored crop.')
_GENDER = flags.DEFINE_enum(
    'gender', 'auto', ['auto', 'female', 'male', 'neutral'],
    "The body model: auto (estimated; 'unknown' uses the neutral body) or "
    'the one you state (body.json says it was stated).')


def main(argv):
  del argv
  # A ValueError (bad photo, box, focal, weights) is one line (`cli.run`).
  paths = demo.run_command(
      image=_IMAGE.value, video=_VIDEO.value, output=_OUTPUT.value,
      box=_BOX.value, everyone=_EVERYONE.value, focal=_FOCAL.value,
      weights=_WEIGHTS.value, use_dae=not _NO_DAE.value,
      front_end=_FRONT_END.value, refine=_REFINE.value, flip_test=_FLIP.value,
      mode=_MODE.value, max_people=_MAX_PEOPLE.value, gender=_GENDER.value,
      fbx=_FBX.value)
  for path in paths.values():
    print(f'wrote {path}')


if __name__ == '__main__':
  cli.run(main)
