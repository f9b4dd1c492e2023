"""`classify baseline`."""

from __future__ import annotations

import click


@click.command()
def baseline() -> None:
    """Train a classic baseline on MNIST, Fashion-MNIST or CIFAR-10."""
    raise click.ClickException("baseline is not built yet")
