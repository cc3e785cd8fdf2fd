"""Cells by name, for graph specs and gin: ``convrnn_tf.cells.get("timedecay")``."""

from __future__ import annotations

from convrnn_tf.registry import Registry

CELLS = Registry("cell")
register = CELLS.register
names = CELLS.names
get = CELLS.get
