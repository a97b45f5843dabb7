"""The package's import graph: dependencies point one way (no cycles)."""

import ast
import pathlib

import smplr_jax

PACKAGE = pathlib.Path(smplr_jax.__file__).parent


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _import_graph() -> dict[str, set[str]]:
  """module -> smplr_jax modules it imports anywhere (function level too)."""
  modules = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
  graph = {}
  for name, path in modules.items():
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        names = [node.module] + [f'{node.module}.{a.name}' for a in node.names]
      else:
        continue
      targets.update(n for n in names if n in modules)
    # A package's own submodules are its children, not its dependencies.
    graph[name] = {t for t in targets if t != name}
  return graph


def _find_cycle(graph):
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for child in sorted(graph[node]):
      if state.get(child) == 'open':
        return stack[stack.index(child):] + [child]
      if child not in state:
        cycle = visit(child)
        if cycle:
          return cycle
    state[node] = 'done'
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node)
      if cycle:
        return cycle
  return None


def _edges_without_package_inits(graph):
  """Drops edges into a package's __init__ from its own submodules (Python
  runs the package first anyway, so they are not a dependency loop)."""
  return {m: {t for t in ts if not m.startswith(t + '.')}
          for m, ts in graph.items()}


def test_graph_covers_the_package():
  graph = _import_graph()
  assert {'smplr_jax.training.train', 'smplr_jax.training.tasks.smplr', 'smplr_jax.training.parallel',
          'smplr_jax.data.datasets.paired'} <= set(graph)
  assert 'smplr_jax.training.parallel' in graph['smplr_jax.training.train']


def test_no_import_cycle():
  graph = _edges_without_package_inits(_import_graph())
  assert _find_cycle(graph) is None, ' -> '.join(_find_cycle(graph))


def test_cycle_finder_finds_a_planted_cycle():
  assert _find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
      'a', 'b', 'c', 'a']


def test_the_trainer_knows_no_task():
  graph = _import_graph()
  below = {'smplr_jax.training.train', 'smplr_jax.training.parallel', 'smplr_jax.training.checkpoints',
           'smplr_jax.data.input_pipeline'}
  for module in below:
    tasks = {t for t in graph[module] if t.startswith('smplr_jax.training.tasks')}
    assert not tasks, f'{module} imports {tasks}'


# The layers, lowest first: a module imports only its own layer, lower
# layers and the shared top-level modules (checks, resources, crop, camera).
LAYERS = ('body', 'fitting', 'nets', 'data', 'predict', 'evaluation',
          'training', 'app')
SHARED = ('smplr_jax.checks', 'smplr_jax.resources', 'smplr_jax.crop',
          'smplr_jax.camera')


def _layer(module: str) -> str | None:
  parts = module.split('.')
  return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_layers_point_down():
  graph = _import_graph()
  wrong = []
  for module, targets in graph.items():
    layer = _layer(module)
    if layer is None:
      continue
    rank = LAYERS.index(layer)
    for target in targets:
      other = _layer(target)
      if other is not None and LAYERS.index(other) > rank:
        wrong.append(f'{module} -> {target}')
  assert not wrong, wrong


def test_shared_modules_import_no_layer_above_body():
  graph = _import_graph()
  for module in SHARED:
    above = {t for t in graph[module] if _layer(t) not in (None, 'body')}
    assert not above, f'{module} imports {above}'


def test_fitting_sits_on_the_body_alone():
  """The fit needs the body model, the camera and the checks: no network,
  dataset, predictor, trainer, evaluation or app."""
  graph = _import_graph()
  allowed = ('smplr_jax.body', 'smplr_jax.fitting', 'smplr_jax.camera',
             'smplr_jax.checks')
  # `from smplr_jax import camera` also names the package itself.
  assert graph['smplr_jax'] <= {t for t in graph if t.startswith(
      'smplr_jax.body')}

  def ok(target):
    return target == 'smplr_jax' or any(
        target == a or target.startswith(a + '.') for a in allowed)

  modules = [m for m in graph if m.startswith('smplr_jax.fitting')]
  assert {'smplr_jax.fitting', 'smplr_jax.fitting.solver'} <= set(modules)
  for module in modules:
    for target in graph[module]:
      assert ok(target), f'{module} -> {target}'


def test_serving_imports_no_training_code():
  """Prediction needs no trainer, task, augmentation, sampler or dataset:
  from data/ it may use only the rasteriser that draws overlays."""
  graph = _import_graph()
  forbidden = ('smplr_jax.training', 'smplr_jax.evaluation')
  allowed_data = {'smplr_jax.data', 'smplr_jax.data.render'}
  for module, targets in graph.items():
    if not module.startswith('smplr_jax.predict'):
      continue
    for target in targets:
      assert not target.startswith(forbidden), f'{module} -> {target}'
      if target.startswith('smplr_jax.data'):
        assert target in allowed_data, f'{module} -> {target}'


def test_the_layer_checks_catch_a_planted_edge(monkeypatch):
  planted = dict(_import_graph())
  planted['smplr_jax.body.jl'] = planted['smplr_jax.body.jl'] | {
      'smplr_jax.training.train'}
  monkeypatch.setattr(__import__(__name__), '_import_graph', lambda: planted)
  try:
    test_layers_point_down()
  except AssertionError as error:
    assert 'smplr_jax.body.jl -> smplr_jax.training.train' in str(error)
  else:
    raise AssertionError('the planted upward edge was not found')
