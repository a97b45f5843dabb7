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
