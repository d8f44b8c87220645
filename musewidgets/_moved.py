"""Old module names kept working for a while, with a ``DeprecationWarning`` that names the new place."""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

# old module -> where it lives now (issue 17: training in musewidgets.training, datasets in musewidgets.datasets)
MOVED = {
    "musewidgets.corpus": "musewidgets.datasets.corpus",
    "musewidgets.frames": "musewidgets.datasets.frames",
    "musewidgets.store": "musewidgets.datasets.store",
    "musewidgets.gan_training": "musewidgets.training.gan",
    "musewidgets.frame_training": "musewidgets.training.frames",
    "musewidgets.infill_training": "musewidgets.training.infill",
    "musewidgets.classifier_training": "musewidgets.training.classifier",
    "musewidgets.distributed": "musewidgets.training.distributed",
}


def warn(old: str, stacklevel: int = 3) -> None:
    """Warn, at the line that imported ``old``, that it moved (called from the old module's body)."""
    warnings.warn(
        f"{old} has moved to {MOVED[old]}; import it from there (the old name will be removed in a later release)",
        DeprecationWarning,
        stacklevel=stacklevel,  # this function, the old module's body, (import machinery skipped), the importer
    )


def alias(old: str) -> ModuleType:
    """Make ``old`` the very module it moved to (the same object: monkeypatching either patches both)."""
    warn(old, stacklevel=4)  # one frame more: this function
    module = importlib.import_module(MOVED[old])
    sys.modules[old] = module
    return module
