"""Notebook widgets: the Workbench and its building blocks (each usable alone).

Importing this imports ipywidgets and anywidget.
"""

from .controls import SamplerControls
from .editor import RollEditor
from .player import TakeView
from .progress import TrainingMonitor
from .takes import Take, TakeList
from .views import DownloadLinks, PianoRollView, Player, ScoreView
from .workbench import Workbench

__all__ = [
    "DownloadLinks",
    "PianoRollView",
    "RollEditor",
    "Player",
    "SamplerControls",
    "ScoreView",
    "Take",
    "TakeList",
    "TakeView",
    "TrainingMonitor",
    "Workbench",
]
