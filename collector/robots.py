"""What a server's X-Robots-Tag headers say about training AI on its images (`noai`, `noimageai`)."""

from __future__ import annotations

from collections.abc import Iterable

AI_OPT_OUTS = frozenset({"noai", "noimageai"})
# Directives that carry a value after a colon, so that `max-snippet: 20` is not read as a robot's name.
VALUED_DIRECTIVES = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
OUR_NAMES = frozenset({"*", "imgharvest"})


def opts_out_of_ai(headers: Iterable[str]) -> str | None:
    """The first `noai`/`noimageai` directive meant for every robot or for us, or None.

    A header may name the robot it is for (`X-Robots-Tag: otherbot: noai`); then it binds only that robot.
    """
    for header in headers:
        robot, colon, rest = header.partition(":")
        name = robot.strip().lower()
        if colon and name not in VALUED_DIRECTIVES and name and "," not in name and " " not in name:
            if name not in OUR_NAMES:
                continue
            header = rest
        for directive in header.split(","):
            if directive.strip().lower() in AI_OPT_OUTS:
                return directive.strip().lower()
    return None
