"""What every `classify` command prints besides its result: warnings that spare the progress bar, one-line errors."""

from __future__ import annotations

import logging
import sys

import click
from tqdm import tqdm


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
    """One line whatever the cause: some messages (torch's unpickling errors) span several."""
    lines = str(error).strip().splitlines()
    return click.ClickException(lines[0] if lines else type(error).__name__)
