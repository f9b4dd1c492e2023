"""The one root of every error a user of `classify` can cause, so callers and commands catch one class."""


class ClassifyError(Exception):
    """A mistake the user can fix (an option, a path, a file); the message says what and where."""


class OptionError(ClassifyError, TypeError):
    """An option the called step does not have: a TypeError as Python gives for any unknown keyword, and a
    ClassifyError like every other user mistake."""
