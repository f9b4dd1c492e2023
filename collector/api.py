"""`collector.collect()`: the `collect` command as one Python call, its options and defaults those of CollectOptions."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path

from .addresses import AddressPolicy
from .classes import build_specs
from .crawl import CollectError, CollectOptions, run_sync
from .summary import Summary

OPTIONS = {f.name: f for f in dataclasses.fields(CollectOptions)}
# Annotations of CollectOptions fields whose values are checked here, before they reach arithmetic.
SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "int | None": (int, type(None)), "float": (int, float), "bool": (bool,),
    "str | None": (str, type(None)),
}


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
    checked = check_options(options)
    query_options = [f"{name}={q}" for name, qs in (queries or {}).items() for q in qs]
    specs = build_specs(list(classes), Path(classes_file) if classes_file is not None else None, query_options)
    if allow_private_addresses:
        checked["policy"] = AddressPolicy.allow_all()
    return run_sync(specs, CollectOptions(**checked))


def check_options(options: Mapping[str, object]) -> dict[str, object]:
    """The options with friendly forms normalised (a str path, one engine name), or a CollectError naming the slip."""
    checked = dict(options)
    for name, value in options.items():
        if name not in OPTIONS:
            close = difflib.get_close_matches(name, [*OPTIONS, *EXTRA], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; options are {', '.join(sorted(OPTIONS))}"
            raise CollectError(f"collect() got an unknown option {name!r}{hint}")
        expected = SIMPLE_TYPES.get(str(OPTIONS[name].type))
        if expected and (not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))):
            raise CollectError(f"option {name!r} must be {OPTIONS[name].type}, got {value!r}")
    if isinstance(checked.get("out"), str):
        checked["out"] = Path(checked["out"])  # type: ignore[arg-type]
    if isinstance(checked.get("engines"), str):
        checked["engines"] = (checked["engines"],)
    elif "engines" in checked:
        engines = checked["engines"]
        if not isinstance(engines, Iterable):
            raise CollectError(f"option 'engines' must be engine names, got {engines!r}")
        checked["engines"] = tuple(engines)
    return checked


def _default(field: dataclasses.Field) -> object:
    return field.default_factory() if field.default is dataclasses.MISSING else field.default  # type: ignore[misc]


def _signature() -> inspect.Signature:
    """collect()'s own parameters, then one keyword-only parameter per CollectOptions field, so that
    help() and completion show every option with its one default."""
    own = [p for p in inspect.signature(collect).parameters.values() if p.kind is not p.VAR_KEYWORD]
    fields = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=_default(f), annotation=f.type)
              for name, f in OPTIONS.items()]
    return inspect.Signature([*own, *fields], return_annotation="Summary")


EXTRA = [name for name in inspect.signature(collect).parameters if name not in ("classes", "options")]
collect.__signature__ = _signature()  # type: ignore[attr-defined]
