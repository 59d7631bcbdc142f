"""Run the accuracy rules (A) over translated segments whose source is known.

They run after the target-only check and outside its cache: a result cached for a text must not
depend on a source another corpus pairs it with. Offsets are into each segment's target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mtcheck.config import Config
from mtcheck.findings import Finding, in_text_order
from mtcheck.gate.cache import CheckResult
from mtcheck.rules.accuracy import Pair, source_rules
from mtcheck.rules.base import RuleContext
from mtcheck.source.language import detect_language

MAX_FINDINGS_PER_SEGMENT_RULE = 20


def source_language(sources: Sequence[str], given: str | None) -> str | None:
    """The language the user named, or the one the sources are written in."""
    if given:
        return given.lower().split("-")[0].split("_")[0]
    return detect_language([s for s in sources[:400] if s])


def check_pairs(
    targets: Sequence[str], sources: Sequence[str | None], config: Config, language: str | None,
    memory: dict[str, Any] | None = None,
) -> list[list[Finding]]:
    """The accuracy findings of each target (an empty list where its source is unknown).
    ``memory`` keeps what the corpus-wide rules have seen, by rule code, from one call to the next."""
    rules = source_rules(config.enabled)
    context = RuleContext(allowlist=config.allowlist)
    out: list[list[Finding]] = [[] for _ in targets]
    if not rules:
        return out
    pairs = {i: Pair(t, s, language, config.length_ratio) for i, (t, s) in enumerate(zip(targets, sources, strict=True))
             if s is not None and s.strip()}
    for index, pair in pairs.items():
        for rule in rules:
            found = list(rule.check_pair(pair, context))[:MAX_FINDINGS_PER_SEGMENT_RULE]
            out[index].extend(found)
    for rule in rules:
        if hasattr(rule, "check_corpus"):
            order = sorted(pairs)
            seen = None if memory is None else memory.setdefault(rule.code, {})
            for position, finding in rule.check_corpus([pairs[i] for i in order], seen).items():
                out[order[position]].append(finding)
    for index, findings in enumerate(out):
        target = targets[index]
        out[index] = in_text_order(
            f.with_severity(config.severity_for(f.code, f.severity)) for f in findings
            if not context.allowed(target[f.start : f.end])
        )
    return out


def kept_by_source(finding: Finding, target: str, source: str | None) -> bool:
    """Whether a target-only finding still stands once the source is known: a placeholder or tag
    that S003 reports as left over is the source's own, and belongs in the translation."""
    return not (finding.code == "S003" and source and target[finding.start : finding.end] in source)


class SourceChecks:
    """The accuracy rules over a gate's documents, slice after slice: the language is the one
    given, or the one the first slice with sources is written in; the corpus-wide rules remember
    every earlier slice."""

    def __init__(self, config: Config, language: str | None = None) -> None:
        self.config = config
        self.given = language
        self.language: str | None = None
        self.memory: dict[str, Any] = {}

    def add(self, documents: Sequence[Any], results: Sequence[CheckResult]) -> list[CheckResult]:
        """Each document's result with its segments' accuracy findings added (document offsets).
        Results without a source are returned as they are."""
        segments = [(d, i, s) for d, document in enumerate(documents) for i, s in enumerate(document.segments)]
        sources = [s.src for _, _, s in segments]
        if not any(sources):
            return list(results)
        if self.language is None:
            self.language = source_language([s for s in sources if s], self.given)
        found = check_pairs([s.text for _, _, s in segments], sources, self.config, self.language, self.memory)
        extra: dict[int, list[Finding]] = {}
        for (d, i, _), findings in zip(segments, found, strict=True):
            offset = documents[d].starts[i]
            extra.setdefault(d, []).extend(replace(f, start=f.start + offset, end=f.end + offset) for f in findings)
        out = []
        for d, (document, result) in enumerate(zip(documents, results, strict=True)):
            kept = [f for f in result.findings if _kept_in_document(f, document)]
            added = extra.get(d, [])
            if result.error is not None or (not added and len(kept) == len(result.findings)):
                out.append(result)
                continue
            out.append(replace(result, findings=in_text_order(kept + added)))
        return out


def _kept_in_document(finding: Finding, document: Any) -> bool:
    index, start, end = document.locate(finding.start, finding.end)
    segment = document.segments[index]
    return kept_by_source(replace(finding, start=start, end=end), segment.text, segment.src)


def _blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph (blank-line separated), or of each line when there is one."""
    spans = [m.span() for m in re.finditer(r"\S(?:.*?\S)??(?=\s*(?:\n[ \t]*\n|\Z))", text, re.DOTALL)]
    if len(spans) <= 1:
        spans = [m.span() for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    return spans


def article_findings(target: str, source: str, config: Config, language: str | None) -> tuple[list[Finding], str | None]:
    """The accuracy findings of one article against its source (offsets into ``target``): paragraph
    by paragraph when both have as many paragraphs (or lines), else the whole text as one pair."""
    language = source_language([source], language)
    target_blocks, source_blocks = _blocks(target), _blocks(source)
    if len(target_blocks) != len(source_blocks) or not target_blocks:
        target_blocks, source_blocks = [(0, len(target))], [(0, len(source))]
    found = check_pairs([target[s:e] for s, e in target_blocks], [source[s:e] for s, e in source_blocks], config, language)
    out = [replace(f, start=f.start + start, end=f.end + start) for (start, _), findings in zip(target_blocks, found, strict=True)
           for f in findings]
    return out, language
