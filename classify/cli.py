"""Command-line edge of `classify`: options in, one-line errors and exit codes out."""

from __future__ import annotations

import click

from .baselines.cli import baseline


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Train, evaluate and use image classifiers on ImageFolder datasets."""


main.add_command(baseline)
