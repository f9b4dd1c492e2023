"""The one root of every error a user of `collect` or `curate` can cause, so callers and commands catch one class."""


class CollectorError(Exception):
    """A mistake the user can fix (an option, a path, a file); the message says what and where."""


def describe_os_error(error: OSError) -> str:
    """An OSError in one line, `path: No space left on device`, whatever it carries."""
    where = error.filename or ""
    what = error.strerror or str(error) or type(error).__name__
    return f"{where}: {what}" if where else what
