"""The house: training in musewidgets.training, data in musewidgets.datasets, imports flowing one way, and the old
module names still working with a warning."""

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import musewidgets
from musewidgets._moved import MOVED

PACKAGE = Path(musewidgets.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute, under musewidgets), at the top or inside functions."""
    package = "musewidgets." + ".".join(path.relative_to(PACKAGE).parent.parts)
    package = package.rstrip(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("musewidgets")}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_name_still_imports_and_warns_where_it_moved(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} has moved to {MOVED[old]}") as caught:
        module = importlib.import_module(old)
    assert not caught[0].filename.startswith(str(PACKAGE))  # it points at the importer, not at musewidgets
    new = importlib.import_module(MOVED[old])
    for name in new.__all__:
        assert getattr(module, name) is getattr(new, name)


def test_the_old_store_module_still_offers_prepare_and_the_fast_reader():
    sys.modules.pop("musewidgets.store", None)
    with pytest.warns(DeprecationWarning, match="musewidgets.datasets.store") as caught:
        from musewidgets.store import TokenStore, prepare, read_midi_fast
    assert caught[0].filename == __file__  # the line that imported the old name
    from musewidgets.datasets import TokenStore as store_class
    from musewidgets.datasets import prepare as prepare_fn
    from musewidgets.datasets import read_midi_fast as reader

    assert (TokenStore, prepare, read_midi_fast) == (store_class, prepare_fn, reader)


def test_the_package_itself_uses_no_old_module_name():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_moved.py" or f"musewidgets.{path.stem}" in MOVED and path.parent == PACKAGE:
            continue
        assert not _imports(path) & set(MOVED), f"{path.relative_to(PACKAGE)} imports an old module name"


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
