"""Rule base class and registry.

A rule has a stable code (``Q001``), a slug (``unmatched-closing-quote``), a default
severity, a one-line ``summary`` of what it catches, and a docstring with a bad and a
good example. ``check`` yields findings for one document.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity

FAMILIES = {
    "Q": "quotes",
    "R": "repetition",
    "P": "punctuation",
    "G": "fragments",
    "C": "casing",
    "S": "script",
    "F": "fluency",
    "A": "accuracy",
}


@dataclass
class RuleContext:
    """What a rule may know beyond the document: the user's allowlist of terms."""

    allowlist: frozenset[str] = field(default_factory=frozenset)

    def allowed(self, term: str) -> bool:
        return term in self.allowlist or term.lower() in self.allowlist


class Rule:
    code: ClassVar[str]
    slug: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    uses_lm: ClassVar[bool] = False  # LM rules are produced by the fluency model, not by check()
    needs_source: ClassVar[bool] = False  # accuracy rules compare with the source: check_pair()

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        start: int,
        end: int,
        message: str,
        suggestion: str | None = None,
        score: float | None = None,
    ) -> Finding:
        return Finding(self.code, self.slug, self.severity, start, end, message, suggestion, score)

    @classmethod
    def family(cls) -> str:
        return FAMILIES[cls.code[0]]

    @classmethod
    def description(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or cls.summary)

    @classmethod
    def example(cls, kind: str) -> str:
        """The docstring's first ``Bad`` or ``Good`` example as one text.

        An example is one or more double-backticked pieces after ``Bad:``/``Good:``; pieces joined
        by ``…`` belong to one document (joined with a space), and ``/`` starts an alternative
        example, left out here. A piece after the word "source" is the example's source (see
        :meth:`example_pair`), not part of its text.
        """
        return " ".join(cls.example_pair(kind)[0])

    @classmethod
    def example_pair(cls, kind: str) -> tuple[list[str], str | None]:
        """The first ``Bad`` or ``Good`` example's pieces and its source (``(source ``…``)``), if any."""
        match = re.search(rf"^{kind}:(.*?)(?=^\S+:|^\s*$|\Z)", cls.description(), re.MULTILINE | re.DOTALL)
        pieces = re.findall(r"(source\s+)?``(.+?)``|(?<=``)\s*(/)", match.group(1), re.DOTALL) if match else []
        texts: list[str] = []
        source = None
        for is_source, text, slash in pieces:
            if slash:
                break
            if is_source:
                source = text
            else:
                texts.append(text)
        if not texts:
            raise ValueError(f"{cls.code} has no {kind} example")
        return texts, source


_REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if cls.code in _REGISTRY:
        raise ValueError(f"duplicate rule code {cls.code}")
    for attribute in ("code", "slug", "severity", "summary"):
        if not hasattr(cls, attribute):
            raise TypeError(f"{cls.__name__} lacks {attribute}")
    _REGISTRY[cls.code] = cls
    return cls


def all_rules() -> dict[str, type[Rule]]:
    """Every registered rule, by code (heuristic families are imported on first call)."""
    from mtcheck.rules import load_builtin_rules

    load_builtin_rules()
    return dict(sorted(_REGISTRY.items()))
