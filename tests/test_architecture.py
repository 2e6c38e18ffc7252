"""The shape of the house: which way imports go (docs/architecture.md), checked on the source itself.

An AST walk reads every import statement of ``src/trainlab`` (those inside
functions too) and builds the graph of trainlab's modules.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "trainlab"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The trainlab modules that module ``name`` imports (a package's ``__init__`` for ``from pkg import x``
    unless x is itself a module)."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_is_read():
    assert "trainlab.layers.conv" in GRAPH and "trainlab.kernels" in GRAPH["trainlab.layers.conv"]


def test_no_import_cycles():
    assert cycles() == []


#: What a layer file may import from the kernel wing: the switch and the registry of reference kernels.
LAYER_MAY_IMPORT = {"trainlab.kernels", "trainlab.kernels.registry"}


@pytest.mark.parametrize("layer_module", sorted(m for m in MODULES if m.startswith("trainlab.layers")))
def test_layers_import_no_kernel_internals_and_no_process_state(layer_module):
    """Layers call the kernels through the switch; thread pools, storage layouts and the allocator
    belong to the kernel wing and the runtime."""
    wing = {m for m in GRAPH[layer_module] if m.startswith("trainlab.kernels")} - LAYER_MAY_IMPORT
    assert not wing, f"{layer_module} imports kernel internals {sorted(wing)}"
    state = GRAPH[layer_module] & {"trainlab.threads", "trainlab.allocator", "trainlab.process"}
    assert not state, f"{layer_module} imports {sorted(state)}"


def test_the_kernel_wing_imports_no_layer():
    for name in MODULES:
        if name.startswith("trainlab.kernels"):
            upward = {m for m in GRAPH[name] if m.startswith(("trainlab.layers", "trainlab.models",
                                                               "trainlab.training"))}
            assert not upward, f"{name} imports {sorted(upward)}"


#: The floors, from the bottom: a module imports only from its own floor or those below. (The package
#: itself, ``trainlab/__init__.py``, only offers ``trainlab.runtime`` from the training floor, lazily.)
FLOORS = [
    ("foundation", ("trainlab", "trainlab.errors", "trainlab.backend", "trainlab.registry", "trainlab.validation",
                    "trainlab.fileio", "trainlab.npzread", "trainlab.init", "trainlab.functions2d")),
    ("data", ("trainlab.data",)),
    ("kernels", ("trainlab.kernels", "trainlab.allocator")),
    ("layers", ("trainlab.layers", "trainlab.gradcheck")),
    ("optim", ("trainlab.optim", "trainlab.regularization")),
    ("training", ("trainlab.training", "trainlab.process", "trainlab.threads")),
    ("models", ("trainlab.models", "trainlab.folding", "trainlab.checkpoint", "trainlab.checkpoint_header")),
    ("plots", ("trainlab.plots",)),
    ("search", ("trainlab.search",)),
    ("experiments", ("trainlab.experiments", "trainlab.speedrun")),
    ("cli", ("trainlab.cli", "trainlab.cliargs", "trainlab.__main__", "trainlab.data.cli", "trainlab.search.cli",
             "trainlab.notebook")),
]


def floor_of(name: str) -> int:
    best, floor = -1, None
    for k, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            inside = name == prefix or (prefix != "trainlab" and name.startswith(prefix + "."))
            if inside and len(prefix) > best:
                best, floor = len(prefix), k
    assert floor is not None, f"{name} is on no floor; add it to FLOORS and to docs/architecture.md"
    return floor


def test_imports_go_down_the_floors():
    upward = []
    for name in sorted(MODULES):
        if name == "trainlab":
            continue
        for target in sorted(GRAPH[name]):
            if target == "trainlab":
                continue
            if floor_of(target) > floor_of(name):
                upward.append(f"{name} ({FLOORS[floor_of(name)][0]}) -> {target} ({FLOORS[floor_of(target)][0]})")
    assert not upward, "imports that go up a floor:\n" + "\n".join(upward)


def test_the_layer_protocol_carries_no_speed_flags():
    from trainlab.layers.base import Layer

    assert not [name for name in vars(Layer) if "thread" in name or "split" in name or "fast" in name]
