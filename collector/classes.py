"""Turn the user's class names and queries into safe folder names and search terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import CollectorError

FORBIDDEN = re.compile(r'[/\\<>:"|?*\x00-\x1f]')
MAX_NAME = 100


class ClassSpecError(CollectorError):
    """A class name or query the user gave cannot be used."""


@dataclass(frozen=True)
class ClassSpec:
    name: str
    queries: tuple[str, ...]


def check_name(name: str) -> str:
    """Return `name` stripped, or raise if it cannot be a folder name inside the dataset."""
    name = name.strip()
    if not name:
        raise ClassSpecError("empty class name")
    if name.startswith((".", "_")):
        raise ClassSpecError(f"class name {name!r} cannot start with '.' or '_'")
    if FORBIDDEN.search(name):
        raise ClassSpecError(
            f"class name {name!r} contains a path separator or a character not allowed in folder names"
        )
    if len(name) > MAX_NAME:
        raise ClassSpecError(f"class name {name[:20]!r}... is longer than {MAX_NAME} characters")
    return name


def default_query(name: str) -> str:
    return re.sub(r"[_-]+", " ", name).strip()


def parse_classes_file(text: str) -> list[tuple[str, list[str]]]:
    """Lines of `name` or `name: query one | query two`; blank lines and `#` comments skipped."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, queries = line.partition(":")
        try:
            entries.append((check_name(name), [q.strip() for q in queries.split("|") if q.strip()]))
        except ClassSpecError as error:
            raise ClassSpecError(f"line {number}: {error}") from None
    return entries


def parse_query_option(value: str) -> tuple[str, str]:
    """`CLASS=TEXT` into (class, query)."""
    name, sep, query = value.partition("=")
    if not sep or not query.strip():
        raise ClassSpecError(f"--query {value!r} must look like CLASS=TEXT")
    return check_name(name), query.strip()


def build_specs(
    names: list[str], classes_file: Path | None = None, queries: list[str] | None = None
) -> list[ClassSpec]:
    """Merge every way of naming classes; explicit queries replace the class name as search term."""
    wanted: dict[str, list[str]] = {}
    for name in names:
        wanted.setdefault(check_name(name), [])
    if classes_file is not None:
        try:
            text = classes_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ClassSpecError(f"cannot read classes file {classes_file}: {error}") from error
        for name, extra in parse_classes_file(text):
            wanted.setdefault(name, []).extend(extra)
    for value in queries or []:
        name, query = parse_query_option(value)
        wanted.setdefault(name, []).append(query)
    folded: dict[str, str] = {}
    for name in wanted:
        if name.casefold() in folded:
            raise ClassSpecError(f"class names {folded[name.casefold()]!r} and {name!r} differ only in case")
        folded[name.casefold()] = name
    if not wanted:
        raise ClassSpecError("no classes given: use --classes NAME..., --classes-file or --query CLASS=TEXT")
    return [ClassSpec(name, tuple(dict.fromkeys(qs)) or (default_query(name),)) for name, qs in wanted.items()]
