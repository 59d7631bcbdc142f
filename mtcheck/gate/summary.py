"""The gate's summary: the numbers of a run, the decision against the thresholds, and the summary
as text (terminal, CI logs) and as a Markdown section.

The summary is a JSON-ready dict (``mtcheck gate --format json`` writes it under ``"gate"``);
every report format adds it through ``Formatter.with_gate`` (mtcheck.formats.base).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mtcheck.findings import Severity
from mtcheck.gate.tally import FLUENCY_WORDS, GateTally

if TYPE_CHECKING:
    from mtcheck.gate.run import GateRun


@dataclass(frozen=True)
class Thresholds:
    """What makes the gate fail; None leaves a check out."""

    max_flag_rate: float | None = None
    fail_on: Severity | None = None
    max_findings: int | None = None
    min_chrf: float | None = None
    min_bleu: float | None = None
    min_fluency: float | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {
            "max_flag_rate": self.max_flag_rate,
            "fail_on": None if self.fail_on is None else str(self.fail_on),
            "max_findings": self.max_findings,
            "min_chrf": self.min_chrf,
            "min_bleu": self.min_bleu,
            "min_fluency": self.min_fluency,
        }
        return {k: v for k, v in values.items() if v is not None}


def summarize(run: GateRun, thresholds: Thresholds) -> dict[str, Any]:
    """The gate summary of one run as a JSON-ready dict, decision and reasons included (a corpus
    checked in slices folds its runs into a :class:`~mtcheck.gate.tally.GateTally` instead)."""
    return GateTally().add(run).summary(thresholds, run.seconds)


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def decide(summary: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """Every threshold the summary breaks, as one sentence each (empty: the gate passes).
    A document whose check raised fails the gate whatever the thresholds: it was not checked."""
    reasons = []
    unchecked = summary.get("unchecked") or []
    if unchecked:
        first = unchecked[0]
        noun = "document" if len(unchecked) == 1 else "documents"
        reasons.append(
            f"{len(unchecked)} {noun} could not be checked (the first, at {first['file']}:{first['line']}: {first['error']})"
        )
    if thresholds.max_flag_rate is not None and summary["flag_rate"] > thresholds.max_flag_rate:
        reasons.append(
            f"flag rate {summary['flag_rate']:.2f} per 100 sentences ({summary['flagged']} warning/error findings "
            f"in {summary['corpus']['sentences']} sentences) is above --max-flag-rate {_number(thresholds.max_flag_rate)}"
        )
    if thresholds.fail_on is not None:
        count = at_or_above(summary, str(thresholds.fail_on))
        if count:
            noun = "finding" if count == 1 else "findings"
            reasons.append(f"{count} {noun} at or above {thresholds.fail_on} (--fail-on {thresholds.fail_on})")
    if thresholds.max_findings is not None and summary["findings"]["total"] > thresholds.max_findings:
        reasons.append(f"{summary['findings']['total']} findings is above --max-findings {thresholds.max_findings}")
    metrics = summary.get("metrics") or {}
    for key, label, limit, option in (
        ("chrf", "chrF", thresholds.min_chrf, "--min-chrf"),
        ("bleu", "BLEU", thresholds.min_bleu, "--min-bleu"),
    ):
        if limit is None:
            continue
        if key not in metrics:
            reasons.append(f"{label} was not measured (no references) but {option} {_number(limit)} was asked for")
        elif metrics[key]["score"] < limit:
            reasons.append(f"corpus {label} {metrics[key]['score']:.2f} is below {option} {_number(limit)}")
    if thresholds.min_fluency is not None:
        fluency = summary.get("fluency") or {}
        mean = fluency.get("documents_mean")
        if mean is None:
            reasons.append(f"fluency was not measured (language model off) but --min-fluency {_number(thresholds.min_fluency)} was asked for")
        elif mean < thresholds.min_fluency:
            reasons.append(f"mean document fluency {mean:.3f} is below --min-fluency {_number(thresholds.min_fluency)}")
    return reasons



def summary_text(summary: dict[str, Any], color: bool = False, width: int = 100) -> str:
    """The human summary: decision and every reason first, then the numbers behind them."""
    from io import StringIO

    from rich.console import Console
    from rich.text import Text

    buffer = StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, emoji=False, markup=False,
                      soft_wrap=True)  # a reason is one line, even in a narrow CI log
    passed = summary["passed"]
    console.print(Text(f"mtcheck gate: {'PASSED' if passed else 'FAILED'}", style="bold green" if passed else "bold red"))
    for reason in summary["reasons"]:
        console.print(Text(f"  ✖ {reason}", style="red"))
    corpus = summary["corpus"]
    findings = summary["findings"]
    rows: list[tuple[str, str]] = [
        ("corpus", ", ".join(_count(corpus[key], key[:-1]) for key in ("files", "documents", "segments", "sentences"))),
        ("findings", f"{findings['total']}: " + ", ".join(f"{n} {name}" for name, n in findings["by_severity"].items())),
        ("flag rate", f"{summary['flag_rate']:.2f} warning/error findings per 100 sentences"),
    ]
    if corpus.get("split_documents"):
        shown = ", ".join(corpus.get("split_shown", []))
        rows.append(("split", f"{_count(corpus['split_documents'], 'document')} continued after other documents, "
                              f"more than a slice later; each part was checked on its own (sort the corpus by "
                              f"document to check them whole): {shown}"))
    if corpus.get("source_language"):
        rows.append(("sources", f"in {corpus['source_language']}: accuracy rules (A) checked each segment against its source"))
    fluency = summary["fluency"]
    if fluency is None:
        rows.append(("fluency", "not measured (language model off)"))
    else:
        sentences = fluency.get("sentences") or {}
        described = ", ".join(f"{k} {sentences[k]:.3f}" for k in ("mean", "p10", "p50", "p90") if k in sentences)
        words = fluency.get("documents") or {}
        counted = ", ".join(f"{words.get(label, 0)} {label}" for label in FLUENCY_WORDS)
        rows.append(("fluency", f"documents mean {fluency['documents_mean']:.3f} ({counted}; 0 garbled – 1 fluent); "
                                f"sentences {described}"))
    for metric in (summary["metrics"] or {}).values():
        rows.append((metric["name"], f"{metric['score']:.2f}  {metric['signature']}"))
    if summary["cache"] is not None:
        cache = summary["cache"]
        rows.append(("cache", f"{cache['hits']} hits, {cache['misses']} misses, {cache['corrupt']} corrupt entries replaced"))
    speed = summary["segments_per_second"]
    shown_speed = f"{speed:,.1f}" if speed and speed < 100 else f"{speed:,.0f}" if speed else ""
    rows.append(("time", f"{summary['seconds']:.2f} s" + (f" ({shown_speed} segments/s)" if speed else "")))
    if summary["cache"] and summary["cache"]["write_errors"]:
        rows.append(("cache", f"{summary['cache']['write_errors']} entries could not be written (read-only or full?)"))
    for label, value in rows:
        line = Text(f"  {label:<10}", style="bold")
        line.append(value)
        console.print(line)
    if findings["by_code"]:
        console.print(Text("  by rule", style="bold"))
        for code, entry in sorted(findings["by_code"].items(), key=lambda item: (-item[1]["count"], item[0])):
            console.print(Text(f"    {code}  {entry['slug']:<34} {entry['count']:>6}"))
    if len(summary["unchecked"]) > 1:
        console.print(Text("  not checked", style="bold"))
        for entry in summary["unchecked"][:5]:
            console.print(Text(f"    {entry['file']}:{entry['line']}  (id {entry['id']}): {entry['error']}"))
    if summary["lowest_chrf"]:
        console.print(Text("  lowest segment chrF", style="bold"))
        for entry in summary["lowest_chrf"][:5]:
            console.print(Text(f"    {entry['chrf']:6.2f}  {entry['file']}:{entry['line']}  (id {entry['id']})"))
    return buffer.getvalue()


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def gate_markdown(summary: dict[str, Any]) -> str:
    """A gate section for the top of the Markdown report."""
    from mtcheck.formats.markdown import cell

    passed = summary["passed"]
    thresholds = summary["thresholds"]
    out = [f"## mtcheck gate: {'✅ passed' if passed else '❌ failed'}", ""]
    out += [f"- ✖ {cell(reason)}" for reason in summary["reasons"]]
    if summary["reasons"]:
        out.append("")
    out += ["| Measure | Value | Threshold |", "| --- | ---: | --- |"]
    corpus = summary["corpus"]
    out.append(f"| Segments / sentences | {corpus['segments']} / {corpus['sentences']} | |")
    if corpus.get("source_language"):
        out.append(f"| Source language (accuracy rules) | {corpus['source_language']} | |")
    out.append(f"| Findings | {summary['findings']['total']} | "
               + (f"≤ {thresholds['max_findings']}" if "max_findings" in thresholds else "") + " |")
    out.append(f"| Flag rate per 100 sentences | {summary['flag_rate']:.2f} | "
               + (f"≤ {thresholds['max_flag_rate']:g}" if "max_flag_rate" in thresholds else "") + " |")
    if "fail_on" in thresholds:
        out.append(f"| Findings at or above {thresholds['fail_on']} | "
                   f"{at_or_above(summary, thresholds['fail_on'])} | 0 |")
    fluency = summary["fluency"]
    if fluency is not None and fluency.get("documents_mean") is not None:
        out.append(f"| Mean document fluency (0 garbled – 1 fluent) | {fluency['documents_mean']:.3f} | "
                   + (f"≥ {thresholds['min_fluency']:g}" if "min_fluency" in thresholds else "") + " |")
        words = fluency.get("documents") or {}
        out.append("| Documents: " + ", ".join(FLUENCY_WORDS) + " | "
                   + " / ".join(str(words.get(label, 0)) for label in FLUENCY_WORDS) + " | |")
    limits = {"bleu": "min_bleu", "chrf": "min_chrf"}
    for key, metric in (summary["metrics"] or {}).items():
        limit = limits.get(key)
        shown = f"≥ {thresholds[limit]:g}" if limit in thresholds else ""
        out.append(f"| {cell(metric['name'])} | {metric['score']:.2f} | {shown} |")
    if summary["metrics"]:
        out += ["", "Signatures: " + "; ".join(f"`{m['name']}|{m['signature']}`" for m in summary["metrics"].values())]
    return "\n".join(out) + "\n\n"




def without_segments(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary less its per-segment findings (which a format already lists in its own way)."""
    return {k: v for k, v in summary.items() if k != "segments"}


def at_or_above(summary: dict[str, Any], severity: str) -> int:
    """How many findings of the summary are at ``severity`` or above."""
    floor = Severity.parse(severity)
    return sum(n for name, n in summary["findings"]["by_severity"].items() if Severity.parse(name) >= floor)
