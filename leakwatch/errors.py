"""Errors that end a command with a clear message (exit 2), never a traceback."""


class LeakwatchError(Exception):
    """Base: the message is for the user and names the file, line, field or setting."""


class ConfigError(LeakwatchError):
    pass


class SchemaError(LeakwatchError):
    pass


class KeyMismatch(LeakwatchError):
    pass
