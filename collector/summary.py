"""What a collection run did, per class: the numbers behind the table, the JSON and the exit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import console


@dataclass
class ClassSummary:
    name: str
    candidates: int = 0
    saved: int = 0
    already_saved: int = 0
    duplicates: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    by_engine: Counter[str] = field(default_factory=Counter)
    license_dropped: Counter[str] = field(default_factory=Counter)  # search results outside --license, by engine


@dataclass
class Summary:
    out: Path
    classes: dict[str, ClassSummary]
    dry_run: bool = False
    engine_errors: dict[str, str] = field(default_factory=dict)
    engines_answered: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    license: str = "any"

    @property
    def saved(self) -> int:
        return sum(c.saved for c in self.classes.values())

    @property
    def unreachable(self) -> dict[str, str]:
        """Engines that failed every request they made."""
        return {e: msg for e, msg in self.engine_errors.items() if e not in self.engines_answered}

    def failure_cause(self) -> str | None:
        """Why the run produced nothing usable, or None when it did."""
        candidates = sum(c.candidates for c in self.classes.values())
        if self.dry_run:
            return None if candidates else self._no_candidates()
        if self.saved or any(c.already_saved for c in self.classes.values()):
            return None
        if not candidates:
            return self._no_candidates()
        failures = sum((c.failures for c in self.classes.values()), Counter())
        reasons = ", ".join(f"{reason} {n}" for reason, n in failures.most_common())
        return f"none of the {candidates} candidates could be saved ({reasons or 'nothing was tried'})"

    @property
    def license_dropped(self) -> Counter[str]:
        """Search results each engine returned outside --license, over every class."""
        return sum((c.license_dropped for c in self.classes.values()), Counter())

    def _no_candidates(self) -> str:
        if self.unreachable and not self.engines_answered:
            engines = "; ".join(f"{e}: {msg}" for e, msg in self.unreachable.items())
            return f"no search engine could be reached ({engines})"
        if self.license_dropped:
            return f"every search result was outside --license {self.license}"
        return "the search engines returned no results for any query"

    def to_json(self) -> dict:
        return {
            "out": str(self.out),
            "dry_run": self.dry_run,
            "classes": [
                {**asdict(c), "failures": dict(c.failures), "by_engine": dict(c.by_engine),
                 "license_dropped": dict(c.license_dropped)}
                for c in self.classes.values()
            ],
            "license": self.license,
            "license_dropped": dict(self.license_dropped),
            "unreachable_engines": self.unreachable,
            "warnings": self.warnings,
        }


def format_table(summary: Summary) -> str:
    """A plain-text table, one row per class; failures broken down by reason."""
    if summary.dry_run:
        engines = sorted({e for c in summary.classes.values() for e in c.by_engine})
        header = ["class", "candidates", *engines]
        rows = [[c.name, c.candidates, *(c.by_engine[e] for e in engines)] for c in summary.classes.values()]
    else:
        header = ["class", "candidates", "saved", "already", "duplicates", "failed", "failures by reason"]
        rows = [
            [c.name, c.candidates, c.saved, c.already_saved, c.duplicates, sum(c.failures.values()),
             ", ".join(f"{r} {n}" for r, n in c.failures.most_common()) or "-"]
            for c in summary.classes.values()
        ]
    table = console.format_table([header, *rows], right=range(1, len(header) - 1))
    if summary.license_dropped:
        counts = ", ".join(f"{engine} {n}" for engine, n in sorted(summary.license_dropped.items()))
        table += f"\ndropped outside --license {summary.license}: {counts}"
    return table
