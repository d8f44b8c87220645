"""The house: training in musewidgets.training, data in musewidgets.datasets, imports flowing one way."""

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import musewidgets

PACKAGE = Path(musewidgets.__file__).parent


# The floors of the house, from the ground up: a module imports only from its own floor and the floors below it.
FLOORS = (
    ("errors", "threads", "memory"),
    ("piece",),
    ("keys",),
    ("io",),
    ("audio", "plotting", "engraving"),
    ("display", "export"),
    ("codecs",),
    ("datasets",),
    ("models",),
    ("checkpoints",),
    ("analysis",),
    ("sampling",),
    ("training",),
    ("evaluation",),
    ("session",),
    ("widgets",),
    ("cli", "__main__", ""),  # "": the package's own __init__, which re-exports the public names
)


def _name(path: Path) -> str:
    parts = ("musewidgets", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str:
    """The module that ``name`` (a module, or a name inside one) is or lives in."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _import_nodes(path: Path):
    """``(node, module)`` for every ``from ... import`` and ``import`` of musewidgets in a file, at the top or
    inside functions; ``module`` is absolute."""
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("musewidgets"):
                yield node, module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("musewidgets"):
                    yield node, alias.name


def _imports(path: Path) -> set[str]:
    """Every musewidgets module a file imports, at the top or inside functions."""
    found = set()
    for node, module in _import_nodes(path):
        names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
        submodules = {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
        found |= submodules or {_resolve(module)}
    return found - {_name(path)}


def _floor(module: str) -> int:
    rest = module.removeprefix("musewidgets").removeprefix(".")
    for i, names in enumerate(FLOORS):
        if rest.split(".")[0] in names:
            return i
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def test_no_import_points_up():
    upward = [
        f"{_name(path)} (floor {_floor(_name(path))}) imports {target} (floor {_floor(target)})"
        for path in MODULES.values()
        for target in _imports(path)
        if _floor(target) > _floor(_name(path))
    ]
    assert upward == []


def test_no_two_modules_import_each_other_even_through_others():
    graph = {name: _imports(path) for name, path in MODULES.items()}
    cycles, done = [], set()

    def visit(name, trail):
        if name in trail:
            cycles.append(trail[trail.index(name) :] + [name])
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, trail + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_no_private_name_is_imported_from_another_module():
    private = [
        f"{_name(path)} imports {alias.name} from {module}"
        for path in MODULES.values()
        for node, module in _import_nodes(path)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert private == []


def test_datasets_import_nothing_from_training_and_the_trainer_finds_its_tasks_by_name():
    for path in (PACKAGE / "datasets").glob("*.py"):
        assert not any(m.startswith("musewidgets.training") for m in _imports(path)), path.name
    tasks = ("sequence", "gan", "infill", "classifier", "frames")
    trainer = _imports(PACKAGE / "training" / "trainer.py")
    assert not {f"musewidgets.training.{t}" for t in tasks} & trainer
    from musewidgets.training.trainer import TASKS, _task_class

    assert {_task_class(family).__name__ for family in TASKS} == {
        "SequenceTask",
        "GANTask",
        "InfillTask",
        "ClassifierTask",
    }


def test_the_public_training_api_is_where_it_was():
    from musewidgets.training import SequenceData, TrainConfig, Trainer, evaluate_nll, transpose_key_index

    assert TrainConfig().family == "lstm" and callable(evaluate_nll) and callable(transpose_key_index)
    assert Trainer.__module__ == "musewidgets.training.trainer"
    assert SequenceData.__module__ == "musewidgets.training.sequence"
    assert musewidgets.load_style.__module__ == "musewidgets.datasets.corpus"


def test_reading_the_corpus_or_a_token_store_does_not_import_torch():
    code = (
        "import sys\n"
        "from musewidgets.datasets import corpus, store, preparation, frames, midi\n"
        "import musewidgets.datasets as d; d.load_style, d.TokenStore\n"
        "print('torch' in sys.modules)\n"
    )
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
