"""Keyword options checked against an options dataclass, which stays the one place their names, types and
defaults live: a function taking `**options` gets the dataclass's fields as its signature (so `help()` and
completion show them) and a misspelt or mistyped option is a one-line error instead of a TypeError deep inside."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import CollectorError

Options = TypeVar("Options")
Function = TypeVar("Function", bound=Callable[..., Any])


def with_options_signature(options_type: type) -> Callable[[Function], Function]:
    """Give a function `f(positional..., **options)` the signature `f(positional..., *, field=default, ...)`
    with one keyword-only parameter per field of `options_type`, typed and defaulted as the field is."""

    def decorate(function: Function) -> Function:
        resolved = typing.get_type_hints(function)
        own = [p.replace(annotation=resolved.get(p.name, p.annotation))
               for p in inspect.signature(function).parameters.values() if p.kind is not p.VAR_KEYWORD]
        hints = typing.get_type_hints(options_type)
        options = [inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=_default(field),
                                     annotation=hints[field.name])
                   for field in dataclasses.fields(options_type) if field.init]
        function.__signature__ = inspect.signature(function).replace(  # type: ignore[attr-defined]
            parameters=[*own, *options], return_annotation=resolved.get("return", inspect.Signature.empty))
        return function

    return decorate


def options_from(options_type: type[Options], given: Mapping[str, object], *, caller: str,
                 error: type[CollectorError]) -> Options:
    """`options_type(**given)`, after checking every name and type; `error` says which option is wrong and how."""
    fields = {field.name: field for field in dataclasses.fields(options_type) if field.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(options_type)
    for name, value in given.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the options are {', '.join(fields)}"
            raise error(f"{caller}() has no option {name!r}; {hint}")
        if not fits(value, hints[name]):
            raise error(f"{caller}() option {name} must be {describe(hints[name])}, not {value!r}")
    return options_type(**given)


def fits(value: object, hint: object) -> bool:
    """Whether `value` is of the annotated type: unions, None, tuple[X, ...] and plain classes; an int is a float."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return not args or (len(items) == len(value) and all(map(fits, value, items)))
    if isinstance(value, bool) and hint in (int, float):
        return False
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, origin or hint)  # type: ignore[arg-type]


def describe(hint: object) -> str:
    """The annotation as a reader writes it: `int | tuple[int, ...]`, `float`."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _default(field: dataclasses.Field) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return inspect.Parameter.empty
