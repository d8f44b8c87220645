"""Deprecated: moved to :mod:`musewidgets.training.distributed`; importing this name warns and gives that module."""

from ._moved import alias

alias(__name__)
