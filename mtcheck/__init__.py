"""mtcheck: find garbled machine-translated English and point at the exact spans.

>>> from mtcheck import Checker
>>> report = Checker().check("He said.")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Checker", "Config", "Report", "Severity", "check", "__version__"]

if TYPE_CHECKING:
    from mtcheck.config import Config
    from mtcheck.findings import Report, Severity
    from mtcheck.pipeline import Checker


def __getattr__(name: str):
    if name == "Checker":
        from mtcheck.pipeline import Checker

        return Checker
    if name == "Config":
        from mtcheck.config import Config

        return Config
    if name in ("Report", "Severity"):
        from mtcheck import findings

        return getattr(findings, name)
    raise AttributeError(name)


def check(text: str, config: "Config | None" = None) -> "Report":
    """Check one text with a fresh Checker (use Checker directly to reuse the model)."""
    from mtcheck.pipeline import Checker

    return Checker(config).check(text)
