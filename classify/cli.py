"""Command-line edge of `classify`."""

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Train, evaluate and use image classifiers (not built yet)."""
    raise click.ClickException("classify is not built yet")
