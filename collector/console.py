"""What `collect` and `curate` print besides their results: log lines that spare the progress bars, aligned
tables, and one-line errors with documented exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import click
from tqdm import tqdm

from .errors import CollectorError, describe_os_error

EXIT_CODES = "Exit codes: 0 done; 1 an error, said in one line; 2 a bad option; 130 interrupted (Ctrl-C)."


class TqdmHandler(logging.Handler):
    """Log records as `warning: ...` lines on stderr that do not tear the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def route_warnings() -> None:
    """Send the `collector` loggers' records through one TqdmHandler, however many commands run in a process."""
    logger = logging.getLogger("collector")
    if not any(isinstance(handler, TqdmHandler) for handler in logger.handlers):
        logger.addHandler(TqdmHandler())
    logger.propagate = False


def format_table(rows: Sequence[Sequence[object]], *, right: Collection[int] = ()) -> str:
    """The first row as a header underlined with dashes, every column padded to its widest cell; the columns
    numbered in `right` (numbers) are aligned right."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(value.rjust(width) if i in right else value.ljust(width)
                       for i, (value, width) in enumerate(zip(row, widths, strict=True))).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class OneLineError(click.ClickException):
    """One `Error: ...` line with its exit code: 1, or 2 for a mistake in the options."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(_first_line(message))
        self.exit_code = exit_code


@contextmanager
def one_line_errors(*, usage: tuple[type[CollectorError], ...] = ()) -> Iterator[None]:
    """Turn every mistake a user can make (CollectorError) and every failure of the disk (OSError) into one
    `Error: ...` line and exit code 1; the errors in `usage` are mistakes in the options, exit code 2."""
    try:
        yield
    except usage as error:
        raise OneLineError(str(error), exit_code=2) from None
    except CollectorError as error:
        raise click.ClickException(_first_line(str(error))) from None
    except OSError as error:
        raise click.ClickException(_first_line(describe_os_error(error))) from None


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0] if lines else "failed"
