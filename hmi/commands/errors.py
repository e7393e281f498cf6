"""The error a command raises for a user's mistake: printed as one line, never as a traceback."""


class CommandError(Exception):
    """A user-facing failure: the message says what is wrong and what to do."""
