"""Deprecated: moved to :mod:`musewidgets.training.frames`; importing this name warns and gives that module."""

from ._moved import alias

alias(__name__)
