"""The pane registry: each pane module registers itself, and the main window docks what is registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from hmi.ui.context import AppContext


@dataclass(frozen=True)
class PaneSpec:
    """How to make one pane and where it docks by default."""

    object_name: str  # stable: saved layouts refer to it
    title: str
    create: Callable[[AppContext], QWidget]
    area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea
    tab_with: str | None = None  # the object_name of a pane to tab this one with by default
    order: int = 100  # position in the View menu and in the default layout


PANES: dict[str, PaneSpec] = {}


def register_pane(spec: PaneSpec) -> PaneSpec:
    """Add a pane; a second registration under the same object name is a programming error."""
    if spec.object_name in PANES:
        raise ValueError(f"a pane named {spec.object_name!r} is registered twice")
    PANES[spec.object_name] = spec
    return spec


def registered_panes() -> list[PaneSpec]:
    """Every registered pane, in menu order."""
    return sorted(PANES.values(), key=lambda s: (s.order, s.title))
