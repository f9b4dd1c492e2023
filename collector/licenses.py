"""The `--license` vocabulary, and what an engine's licence text means within it.

Everything is reduced to the eight Creative Commons and public domain codes that
Openverse also uses; a licence outside them (GFDL, "all rights reserved") is
known but never admitted, and a missing licence is unknown: kept only under `any`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import CollectorError

CODES = ("cc0", "pdm", "by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")
PUBLIC_DOMAIN = frozenset({"cc0", "pdm"})
GROUPS = {
    "cc": frozenset(CODES),
    "commercial": frozenset({"cc0", "pdm", "by", "by-sa", "by-nd"}),
    "modification": frozenset({"cc0", "pdm", "by", "by-sa", "by-nc", "by-nc-sa"}),
}
"""Names for the licences that allow a use; several in one spec must all allow it."""
ANY = "any"
NAMES = {"cc0": "CC0", "pdm": "Public Domain Mark"}
"""How codes are written in credits; the others are "CC <CODE>"."""

_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*$")
_CC = re.compile(r"^(?:creative\s+commons\s+|cc[\s-]*)?(by(?:-nc)?(?:-sa|-nd)?)(?:[\s-]+(\d+(?:\.\d+)?))?\b")
_PUBLIC_DOMAIN = re.compile(r"^(?:public[\s-]+domain|pd\b|pdm\b|pd-)")
_ZERO = re.compile(r"^(?:cc[\s-]*0|cc[\s-]*zero|creative\s+commons\s+zero)\b")


class LicenseError(CollectorError):
    """A `--license` value outside the vocabulary."""


@dataclass(frozen=True)
class LicenseFilter:
    """Which licences a run accepts: `codes` is None under `any` (every image, unknown licence included)."""

    spec: str
    codes: frozenset[str] | None

    @classmethod
    def parse(cls, spec: str) -> LicenseFilter:
        """`any`; or comma-joined groups (cc, commercial, modification: all must hold) and codes (any may)."""
        words = [word.strip().lower() for word in spec.split(",") if word.strip()]
        if words == [ANY]:
            return cls(ANY, None)
        unknown = [word for word in words if word not in GROUPS and word not in CODES]
        if not words or unknown:
            shown = unknown[0] if unknown else spec
            raise LicenseError(f"unknown licence {shown!r}: use {ANY}, {', '.join(GROUPS)} or codes such as "
                               f"{','.join(CODES)}, joined by commas")
        codes = frozenset(word for word in words if word in CODES) or frozenset(CODES)
        for word in words:
            codes &= GROUPS.get(word, frozenset(CODES))
        if not codes:
            raise LicenseError(f"no licence satisfies {spec!r}: each group narrows the codes given")
        return cls(",".join(words), codes)

    def admits(self, license: str | None) -> bool:
        """Whether an image under this licence text may be kept; every code it may stand for must be accepted."""
        if self.codes is None:
            return True
        possible = codes_of(license)
        return bool(possible) and possible <= self.codes


ANY_LICENSE = LicenseFilter(ANY, None)


def codes_of(license: str | None) -> frozenset[str] | None:
    """The codes a licence text may stand for: None when there is no text, empty for a licence outside the set.

    "CC BY-SA 4.0" -> {by-sa}; "cc-by-sa-4.0" -> {by-sa}; "Public domain" -> {pdm};
    "CC BY or CC BY-SA (Bing licence filter)" -> {by, by-sa}; "GFDL" -> {}.
    """
    if not license or not license.strip():
        return None
    text = _PARENTHESIS.sub("", license.strip().lower())
    codes = [_code(part.strip()) for part in text.split(" or ")]
    return frozenset(code for code in codes if code is not None) if all(codes) else frozenset()


def _code(text: str) -> str | None:
    if _ZERO.match(text):
        return "cc0"
    if _PUBLIC_DOMAIN.match(text):
        return "pdm"
    match = _CC.match(text)
    return match.group(1) if match else None


def label(codes: frozenset[str]) -> str:
    """Codes as people write them, in the vocabulary's order: {by-sa, by} -> "CC BY or CC BY-SA"."""
    return " or ".join(NAMES.get(code, f"CC {code.upper()}") for code in CODES if code in codes)


def license_url(license: str | None) -> str | None:
    """The deed of a Creative Commons licence text that names one licence and its version, else None."""
    if not license:
        return None
    text = _PARENTHESIS.sub("", license.strip().lower())
    if _ZERO.match(text):
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if "public domain mark" in text:
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    match = _CC.match(text)
    if match is None or match.group(2) is None or " or " in text:
        return None
    return f"https://creativecommons.org/licenses/{match.group(1)}/{match.group(2)}/"


def best_option(options: dict[str, frozenset[str]], accepted: frozenset[str]) -> tuple[str, frozenset[str]] | None:
    """The engine filter admitting the most licences among those within `accepted`; None when none fits."""
    fitting = [(name, codes) for name, codes in options.items() if codes <= accepted]
    return max(fitting, key=lambda option: len(option[1]), default=None)
