"""The one root of every error a user of `collect` or `curate` can cause, so callers and commands catch one class."""


class CollectorError(Exception):
    """A mistake the user can fix (an option, a path, a file); the message says what and where."""
