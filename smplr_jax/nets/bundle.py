"""The networks of the image -> body chain, loaded together.

A *pipeline folder* (`third_party/weights/`, or any folder laid out the
same) holds one sub-folder per stage: `image_net`, `smplr` and optionally
`dae`, each an exported folder or a training workdir
(`smplr_jax.nets.weights_io`). `load_stages(folder)` reads it into a
`Bundle`: the modules (`Stages`), their variables keyed by stage and the
body models SMPLR was trained with. Every caller that needs trained stages
(`predict.predictor.load_pipeline`, `predict.keypoint_predictor`, the
adapter and end-to-end tasks) loads them here, so the checks (SMPLR has
both networks, an image network is where it should be) live once.

Folders and runs from before the image-network role was named `image_net`
(a `hourglass` sub-folder, a `hourglass` variables key) still load.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import flax.linen as nn

from smplr_jax import resources
from smplr_jax.body import gendered
from smplr_jax.nets import dae as dae_lib
from smplr_jax.nets import image_net as image_net_lib
from smplr_jax.nets import smplr as smplr_lib
from smplr_jax.nets import weights_io

PyTree = Any
# Sub-folders of a pipeline folder, one per stage.
STAGE_FOLDERS = ('image_net', 'smplr', 'dae')
# The image network's sub-folder in folders written before the rename.
LEGACY_STAGE_FOLDERS = {'image_net': 'hourglass'}


@dataclasses.dataclass(frozen=True)
class Stages:
  """The networks of the image -> body chain (modules only; their variables
  and the body model are passed as arguments).

  Attributes:
    image_net: the image network (`image_net.from_config`: the stacked
      hourglass or the U-Net; inference module), or None for JL input.
    smplr: SMPLR with both parts.
    dae: the denoising autoencoder, or None to feed JL to SMPLR directly.
    cube_size: the image network's cube side (metres).
  """
  image_net: nn.Module | None
  smplr: smplr_lib.SMPLR
  dae: dae_lib.DAE | None = None
  cube_size: float = 2.5


@dataclasses.dataclass(frozen=True)
class Bundle:
  """Trained stages with everything needed to run them.

  Attributes:
    stages: the modules.
    variables: {'image_net', 'smplr', 'dae'}: each stage's {'params',
      'batch_stats'} (only the stages present).
    body: the body models SMPLR was trained with.
    input_size: the image network's crop side S (None without one).
    configs: each stage's training config.
  """
  stages: Stages
  variables: dict[str, PyTree]
  body: gendered.GenderedModels
  input_size: int | None
  configs: dict[str, Any]


def stage_folder(root: str | pathlib.Path, stage: str) -> pathlib.Path:
  """`root/stage`, or the stage's pre-rename sub-folder when only that one
  exists (`LEGACY_STAGE_FOLDERS`)."""
  root = pathlib.Path(root)
  legacy = LEGACY_STAGE_FOLDERS.get(stage)
  if legacy and not (root / stage).exists() and (root / legacy).exists():
    return root / legacy
  return root / stage


def load_smplr(path: str | pathlib.Path, step: int | None = None):
  """(config, SMPLR module, variables) of an SMPLR run or exported folder.

  Args:
    path: a workdir of a run trained with parts ('shape', 'pose') or an
      exported folder (`third_party/weights/smplr`).
    step: a checkpoint step of a workdir; default the best one.

  Raises:
    ValueError: the path does not exist, is not a run, or lacks a network.
  """
  if not pathlib.Path(path).exists():
    raise ValueError(f'{path} does not exist (expected an SMPLR training '
                     'workdir or an exported folder such as '
                     'third_party/weights/smplr).')
  if step is None:
    config, variables = weights_io.load_variables(path)
  else:
    config, variables, _ = weights_io.load_trained_variables(path, step)
  missing = set(smplr_lib.PARTS) - set(variables['params'])
  if missing:
    raise ValueError(f'{path}: the SMPLR run trained only '
                     f'{sorted(variables["params"])}; a predictor needs both '
                     'networks (train experiments/smplr/configs/smplr.py).')
  return config, smplr_lib.from_config(config.smplr), variables


def load_stages(folder: str | pathlib.Path | None = None, *,
                image_net: bool = True, dae: bool = True,
                smplr: str | pathlib.Path | None = None,
                require_dae: bool = False) -> Bundle:
  """Loads a pipeline folder's stages.

  Args:
    folder: a pipeline folder; None the shipped weights.
    image_net: load the image network (False: JL or keypoint input).
    dae: load the DAE when the folder has one.
    smplr: another SMPLR (workdir or exported folder) in place of the
      folder's.
    require_dae: a folder without a DAE is an error.

  Raises:
    ValueError: a missing folder or stage, or an SMPLR without both
      networks.
  """
  root = pathlib.Path(folder) if folder is not None else (
      resources.weights_dir())
  if not root.is_dir():
    raise ValueError(f'{root} does not exist (expected a folder with '
                     f'{", ".join(STAGE_FOLDERS)} sub-folders).')
  smplr_config, smplr_net, smplr_variables = load_smplr(
      smplr if smplr is not None else stage_folder(root, 'smplr'))
  variables = {'smplr': smplr_variables}
  configs = {'smplr': smplr_config}
  image_net_module, input_size, cube_size = None, None, 2.5
  if image_net:
    path = stage_folder(root, 'image_net')
    if not path.exists():
      raise ValueError(f'{root} has no image_net sub-folder.')
    configs['image_net'], variables['image_net'] = weights_io.load_variables(
        path)
    image_net_module = image_net_lib.from_config(configs['image_net'])
    input_size = int(configs['image_net'].input_size)
    cube_size = float(configs['image_net'].cube_size)
  dae_net = None
  if dae and (root / 'dae').exists():
    configs['dae'], variables['dae'] = weights_io.load_variables(root / 'dae')
    dae_net = dae_lib.make_dae(configs['dae'].dae)
  elif require_dae:
    raise ValueError(f'{root} has no dae sub-folder.')
  stages = Stages(image_net=image_net_module, smplr=smplr_net, dae=dae_net,
                  cube_size=cube_size)
  body = gendered.GenderedModels.load(smplr_config.get('body_model_path'),
                                      with_neutral=True)
  return Bundle(stages=stages, variables=variables, body=body,
                input_size=input_size, configs=configs)
