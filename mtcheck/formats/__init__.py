"""Output formats: ``render(report, fmt)`` turns a Report into text, JSON, SARIF, HTML and more.

>>> from mtcheck.formats import FORMATS, render
>>> "sarif" in FORMATS
True

Every format returns a complete file ending in a newline (``jsonl`` of an empty report is ``""``).
Each lives in its own module and registers itself in :mod:`mtcheck.formats.base`.
"""

from __future__ import annotations

from mtcheck.atomic import write_atomic
from mtcheck.findings import Report
from mtcheck.formats import (  # noqa: F401  (registers)
    github,
    html_report,
    json_report,
    junit,
    markdown,
    sarif,
    text,
)
from mtcheck.formats.base import Formatter, RenderOptions, registered
from mtcheck.rules.base import Rule

__all__ = ["FORMATS", "Formatter", "formatter", "extension_for", "render", "write_atomic"]

FORMATS: tuple[str, ...] = ("text", "json", "jsonl", "sarif", "github", "junit", "markdown", "html")
assert set(FORMATS) == set(registered()), "every format module must register exactly its name"


def formatter(fmt: str) -> Formatter:
    """A new formatter of format ``fmt`` (ValueError naming the known ones if there is none)."""
    try:
        return registered()[fmt]()
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})") from None


def extension_for(fmt: str) -> str:
    """The file name extension a format's output is usually saved with ('.sarif', '.html', …)."""
    return formatter(fmt).extension


def render(
    report: Report,
    fmt: str,
    *,
    rules: dict[str, type[Rule]] | None = None,
    color: bool = False,
    width: int | None = None,
) -> str:
    """Render ``report`` in format ``fmt``; ``rules`` (code → Rule class) describes the codes.

    Without ``rules`` the built-in registry is used; codes it does not know are described
    from their findings.
    """
    chosen = formatter(fmt)
    if rules is None:
        from mtcheck.rules.base import all_rules

        rules = all_rules()
    return chosen.render(report, RenderOptions(rules=rules, color=color, width=width))
