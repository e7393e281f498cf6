"""The Qt layer: main window, panes (one module each), table models, dialogs, theme."""
