"""Command-line edge: options in, one-line errors and exit codes out."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path

import click
from PIL import Image

from .addresses import AddressPolicy
from .check import CHECK_QUERY, format_checks, run_checks
from .classes import ClassSpecError, build_specs
from .console import one_line_errors, route_warnings
from .crawl import CollectOptions, run_sync
from .engines import DEFAULT_ENGINE, ENGINES
from .fetch import FetchLimits
from .licenses import LicenseError, LicenseFilter
from .summary import format_table

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


class ByteSize(click.ParamType):
    """A byte count such as 20000000, 500k or 20MB."""

    name = "bytes"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, int):
            return value
        match = SIZE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a size like 20MB or 500k", param, ctx)
        number, unit = match.groups()
        return int(float(number) * 1024 ** " kmg".index(unit.lower() or " "))


class LicenseSpec(click.ParamType):
    """A `--license` value: `any`, groups such as `commercial`, or codes such as cc0,by,by-sa."""

    name = "licenses"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        try:
            return LicenseFilter.parse(str(value)).spec
        except LicenseError as error:
            self.fail(str(error), param, ctx)


def report_checks(names: list[str], endpoints: dict[str, str], query: str, timeout: float, as_json: bool) -> None:
    """Run `--check` and print it; no engine working is an error."""
    checks = run_checks(names, endpoints, query, timeout)
    if as_json:
        click.echo(json.dumps([c.to_json() for c in checks], indent=2, ensure_ascii=False))
    else:
        click.echo(format_checks(checks))
    if not any(c.works for c in checks):
        raise click.ClickException(f"none of the {len(checks)} engines works from here")


def parse_endpoints(values: tuple[str, ...]) -> dict[str, str]:
    endpoints = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{value!r} must look like NAME=http://host:port", param_hint="--endpoint")
        if name not in ENGINES:
            raise click.BadParameter(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}",
                                     param_hint="--endpoint")
        endpoints[name] = url
    return endpoints


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("names", metavar="[CLASS]...", nargs=-1)
@click.option("--classes", "class_names", metavar="NAME", multiple=True,
              help="Class to collect; also a folder name. `--classes cat dog` and repeating the option both work.")
@click.option("--classes-file", type=click.Path(path_type=Path),
              help="File with one class a line, optionally `name: query one | query two`; # starts a comment.")
@click.option("--query", "queries", metavar="CLASS=TEXT", multiple=True,
              help="Search TEXT for CLASS instead of the class name (repeatable), e.g. --query cat=猫.")
@click.option("--engine", "engines", multiple=True, type=click.Choice([*ENGINES, "all"]),
              help=f"Search engine to use (repeatable); `all` uses every one. Default: {DEFAULT_ENGINE}.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("data"), show_default=True,
              help="Dataset root: images go to OUT/train/<class>/ and OUT/val/<class>/, provenance to "
                   "OUT/manifest.sqlite.")
@click.option("--pages", type=click.IntRange(min=1), default=CollectOptions.pages, show_default=True,
              help="Result pages to read per query per engine (without --per-class).")
@click.option("--per-class", type=click.IntRange(min=1),
              help="Target images per class: read further result pages until each class holds this many "
                   "(images `curate` quarantined do not count), and stop saving there. A re-run tops a class "
                   "up; one whose target is met sends no request.")
@click.option("--max-pages", type=click.IntRange(min=1), default=CollectOptions.max_pages, show_default=True,
              help="Most result pages to read per query per engine while chasing --per-class.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=CollectOptions.val_fraction,
              show_default=True,
              help="Share of images that go to val/, chosen by a stable hash of each image's content.")
@click.option("--seed", type=int, default=CollectOptions.seed, show_default=True,
              help="Salt for the train/val hash and the retry jitter.")
@click.option("--concurrency", type=click.IntRange(min=1), default=CollectOptions.concurrency, show_default=True,
              help="Downloads in flight at once.")
@click.option("--per-host", type=click.IntRange(min=1), default=CollectOptions.per_host, show_default=True,
              help="Downloads in flight at once from any one host (host:port). A host that answers 429 or 503 "
                   "pauses every request to it for its Retry-After, or a backoff that doubles.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=FetchLimits.timeout, show_default=True,
              help="Seconds one request may take in all (each redirect hop): connecting, waiting and reading.")
@click.option("--retries", type=click.IntRange(min=0), default=FetchLimits.retries, show_default=True,
              help="Retries after a connection error, timeout, 5xx or 429 (Retry-After is honoured).")
@click.option("--max-bytes", type=ByteSize(), default="20MB", show_default=True,
              help="Largest download accepted, e.g. 20MB or 500k.")
@click.option("--min-side", type=click.IntRange(min=0), default=CollectOptions.min_side, show_default=True,
              help="Reject images whose shorter side is smaller, in pixels.")
@click.option("--license", "license_", type=LicenseSpec(), default=CollectOptions.license, show_default=True,
              help="Licences to keep: `any` (unknown licences included), `cc` (Creative Commons or public domain), "
                   "`commercial`, `modification` (licences that allow that use), or codes such as cc0,pdm,by,by-sa; "
                   "comma-joined groups must all hold. Pushed down to engines that filter (bing, duckduckgo, "
                   "wikimedia, openverse; not baidu) and checked again on every result; an image whose licence is "
                   "unknown is kept only under `any`.")
@click.option("--endpoint", "endpoints", metavar="NAME=URL", multiple=True,
              help="Use URL as engine NAME's base URL (a mirror, a proxy, or the test fake); the engine "
                   "appends its own path and query.")
@click.option("--allow-private-addresses", is_flag=True,
              help="Allow image URLs on loopback, private and link-local addresses (refused by default).")
@click.option("--ignore-noai", is_flag=True,
              help="Also save images whose server sends `X-Robots-Tag: noai` or `noimageai` (skipped by default, "
                   "recorded as failed:noai).")
@click.option("--contact", metavar="URL_OR_EMAIL",
              help="Your own URL or e-mail, added to the User-Agent of every download so a site owner can reach "
                   "you.")
@click.option("--check", is_flag=True,
              help="Only check the engines (those given by --engine, else all): one small search each for the first "
                   "class (else 'cat'), printing whether it is reachable, results parsed, latency and the exact "
                   "reason when blocked. Exits 1 when none works.")
@click.option("--dry-run", is_flag=True, help="Search only: report candidates per class and engine, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def main(names, class_names, classes_file, queries, engines, out, pages, per_class, max_pages, val_fraction, seed,
         concurrency, per_host, timeout, retries, max_bytes, min_side, license_, endpoints, allow_private_addresses,
         ignore_noai, contact, check, dry_run, as_json, quiet) -> None:  # type: ignore[no-untyped-def]
    """Search image engines for each class and build an ImageFolder dataset.

    \b
    Examples:
      collect --classes cat dog --pages 5
      collect --query cat=猫 --query dog=狗 --engine baidu
      collect --classes-file classes.txt --engine all --per-class 500
      collect --classes fox --engine openverse --engine wikimedia --license commercial

    Running the same command again resumes: only URLs never tried (or that failed
    transiently) are fetched, and existing files are kept. Each run writes the credit lines
    (train/metadata.jsonl, val/metadata.jsonl) and the dataset card OUT/README.md.

    \b
    Exit status:
      0  the dataset has images (with --check: at least one engine works)
      1  nothing could be collected, or an error (bad output folder, full disk,
         unreadable manifest or classes file), printed as one line
      2  a mistake in the options
      130  interrupted; run the same command again to resume
    """
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    route_warnings()
    if check:
        chosen = [*dict.fromkeys(e for e in engines if e != "all")] or list(ENGINES)
        report_checks(chosen, parse_endpoints(endpoints), ([*class_names, *names] or [CHECK_QUERY])[0], timeout,
                      as_json)
        return
    engine_names = tuple(ENGINES) if "all" in engines else tuple(dict.fromkeys(engines)) or (DEFAULT_ENGINE,)
    try:
        with one_line_errors(usage=(ClassSpecError,)):
            specs = build_specs([*class_names, *names], classes_file, list(queries))
            options = CollectOptions(
                out=out, engines=engine_names, pages=pages, per_class=per_class, max_pages=max_pages,
                val_fraction=val_fraction, seed=seed,
                concurrency=concurrency, per_host=per_host, min_side=min_side, endpoints=parse_endpoints(endpoints),
                limits=FetchLimits(timeout=timeout, max_bytes=max_bytes, retries=retries),
                policy=AddressPolicy.allow_all() if allow_private_addresses else AddressPolicy(),
                respect_noai=not ignore_noai, contact=contact, dry_run=dry_run, progress=not quiet, license=license_,
            )
            summary = run_sync(specs, options)
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to resume", err=True)
        sys.exit(130)
    click.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False) if as_json else format_table(summary))
    cause = summary.failure_cause()
    if cause:
        raise click.ClickException(cause)
