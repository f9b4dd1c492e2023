"""The edge every `classify` command shares: warnings that spare the progress bar, and user mistakes as one line
with a documented exit code instead of a traceback."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from tqdm import tqdm

from .errors import ClassifyError

EXIT_CODES = ("Exit codes: 0 done; 1 a mistake in the input, options, files or disk, explained in one line on "
              "stderr; 2 a usage error; 130 interrupted.")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

P = ParamSpec("P")
R = TypeVar("R")


class TqdmHandler(logging.Handler):
    """Warnings as `warning: ...` lines on stderr that do not tear the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def route_warnings() -> None:
    """Send the `classify` loggers' records through one TqdmHandler, however many commands run in a process."""
    logger = logging.getLogger("classify")
    if not any(isinstance(handler, TqdmHandler) for handler in logger.handlers):
        logger.addHandler(TqdmHandler())
    logger.propagate = False


def one_line(error: Exception) -> click.ClickException:
    """One line whatever the cause: some messages (torch's unpickling errors) span several; an OSError names its
    file and what went wrong, without the errno."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return click.ClickException(f"{error.filename}: {error.strerror}")
    lines = str(error).strip().splitlines()
    if len(lines) > 1 and lines[0].startswith("Caught ") and "DataLoader worker" in lines[0]:
        # A loader worker's error comes back with the worker's traceback as its message; the error's own message
        # is the traceback's last line, after the exception's qualified name.
        return click.ClickException(lines[-1].partition(": ")[2] or lines[-1])
    return click.ClickException(lines[0] if lines else type(error).__name__)


def command_edge(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command's body with warnings routed past the progress bar, turning every mistake a user can make
    (a ClassifyError) and every file-system failure (an OSError: missing, read-only, full) into one line and
    exit code 1."""
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        route_warnings()
        try:
            return command(*args, **kwargs)
        except (ClassifyError, OSError) as error:
            raise one_line(error) from None
    return run
