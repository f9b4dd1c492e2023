"""`collector.collect()`: the `collect` command as one Python call, its options and defaults those of CollectOptions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .addresses import AddressPolicy
from .classes import build_specs
from .crawl import CollectError, CollectOptions, run_sync
from .keywords import options_from, with_options_signature
from .summary import Summary


@with_options_signature(CollectOptions)
def collect(
    classes: Iterable[str],
    *,
    queries: Mapping[str, Iterable[str]] | None = None,
    classes_file: str | Path | None = None,
    allow_private_addresses: bool = False,
    **options: object,
) -> Summary:
    """Collect images for `classes` into `out`, as the `collect` command does, and return the summary.

    `queries` maps a class to its search terms (default: the class name); every other
    keyword is a field of CollectOptions. Mistakes raise CollectorError subclasses.
    """
    checked = options_from(CollectOptions, friendly_forms(options), caller="collect", error=CollectError)
    query_options = [f"{name}={q}" for name, qs in (queries or {}).items() for q in qs]
    specs = build_specs(list(classes), Path(classes_file) if classes_file is not None else None, query_options)
    if allow_private_addresses:
        checked = replace(checked, policy=AddressPolicy.allow_all())
    return run_sync(specs, checked)


def friendly_forms(options: Mapping[str, object]) -> dict[str, object]:
    """The forms a notebook writes, as CollectOptions holds them: a str path, one engine name, a list of engines."""
    given = dict(options)
    if isinstance(given.get("out"), str):
        given["out"] = Path(given["out"])  # type: ignore[arg-type]
    engines = given.get("engines")
    if isinstance(engines, str):
        given["engines"] = (engines,)
    elif isinstance(engines, list | set | frozenset):
        given["engines"] = tuple(engines)
    return given
