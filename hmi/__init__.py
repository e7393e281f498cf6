"""Control-room HMI for process plants."""

__version__ = "0.1.0"
