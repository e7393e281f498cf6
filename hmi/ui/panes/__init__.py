"""The panes. Each module registers itself on import; they are imported here by name, not by string."""
