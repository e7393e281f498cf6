"""The panes. Each module registers itself on import; they are imported here by name, not by string."""

from __future__ import annotations


def load_panes() -> None:
    """Import every pane module, which registers its PaneSpec (see hmi.ui.pane_registry)."""
    from hmi.ui.panes import (  # noqa: F401  (imported for their registration)
        alarm_health, alarm_journal, alarms, andon, audit, downtime, oee, orders, overview, planning, production,
        shopfloors, trends,
    )
