"""The gate command: thresholds and exit codes, every output format, locations in the real files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mtcheck.config import Config
from mtcheck.gate.anchored import anchored_report
from mtcheck.gate.corpus import read_aligned, read_corpus
from mtcheck.gate.run import run_gate
from mtcheck.gate.summary import Thresholds, decide, summarize
from mtcheck.stats import quantile

from .conftest import (
    CLEAN,
    CLOSING_QUOTE,
    DOUBLED,
    REPEATED,
    SPACED,
    invoke,
    write_jsonl,
)

SCHEMA_PATH = Path(__file__).parent.parent / "formats" / "data" / "sarif-schema-2.1.0.json"


# ------------------------------------------------------------------------ thresholds, exit codes


def test_no_threshold_fails_on_any_warning_like_check(text_corpus: Path) -> None:
    result = invoke(str(text_corpus), "--no-lm")
    assert result.exit_code == 1
    assert "mtcheck gate: FAILED" in result.stdout
    assert "2 findings at or above warning (--fail-on warning)" in result.stdout


def test_every_failed_threshold_is_listed(text_corpus: Path) -> None:
    result = invoke(str(text_corpus), "--no-lm", "--max-flag-rate", "10", "--max-findings", "1", "--fail-on", "warning")
    assert result.exit_code == 1
    # 2 warnings in 7 sentences (the Markdown heading is one): 28.57 per 100 sentences.
    assert "flag rate 28.57 per 100 sentences (2 warning/error findings in 7 sentences) is above --max-flag-rate 10" in result.stdout
    assert "2 findings is above --max-findings 1" in result.stdout
    assert "2 findings at or above warning (--fail-on warning)" in result.stdout


def test_thresholds_that_hold_pass(text_corpus: Path) -> None:
    result = invoke(str(text_corpus), "--no-lm", "--max-flag-rate", "28.6", "--max-findings", "2", "--fail-on", "error")
    assert result.exit_code == 0, result.stdout
    assert "mtcheck gate: PASSED" in result.stdout
    assert "28.57 warning/error findings per 100 sentences" in result.stdout


def test_severity_options_change_the_counts(text_corpus: Path) -> None:
    assert invoke(str(text_corpus), "--no-lm", "--ignore", "P,R").exit_code == 0
    assert invoke(str(text_corpus), "--no-lm", "--select", "Q").exit_code == 0
    assert invoke(str(text_corpus), "--no-lm", "--select", "R").exit_code == 1


def test_reference_thresholds(tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.en"
    hyp.write_text(f"{CLEAN[0]}\n{CLEAN[1]}\n", encoding="utf-8")
    ref = tmp_path / "ref.en"
    ref.write_text(f"{CLEAN[0]}\nThe baker opened early and sold everything by noon.\n", encoding="utf-8")
    passing = invoke("--hyp", str(hyp), "--ref", str(ref), "--no-lm", "--min-chrf", "50", "--min-bleu", "20", "--format", "json")
    assert passing.exit_code == 0, passing.stderr
    gate = json.loads(passing.stdout)["gate"]
    assert gate["metrics"]["chrf"]["score"] > 50
    failing = invoke("--hyp", str(hyp), "--ref", str(ref), "--no-lm", "--min-chrf", "99", "--min-bleu", "99")
    assert failing.exit_code == 1
    assert "corpus chrF" in failing.stdout and "is below --min-chrf 99" in failing.stdout
    assert "corpus BLEU" in failing.stdout and "is below --min-bleu 99" in failing.stdout
    assert "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp" in failing.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to check"),
        (["x.txt", "--hyp", "y.txt"], "either INPUTS or --hyp"),
        (["x.txt", "--ref", "r.txt"], "--src and --ref go with --hyp"),
        (["missing.txt"], "missing.txt: no such file"),
        (["corpus.jsonl", "--min-chrf", "40"], "--min-chrf/--min-bleu need references"),
        (["corpus.jsonl", "--min-fluency", "0.5"], "--min-fluency needs the language model"),
        (["corpus.jsonl", "--output", "report.unknown"], "cannot tell the format"),
        (["corpus.jsonl", "--text-field", "body"], "corpus.jsonl:1: missing text field 'body'"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(jsonl_corpus: Path, args: list[str], message: str) -> None:
    result = invoke(*args, "--no-lm")
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mtcheck: error: ")
    assert "Traceback" not in result.output


def test_invalid_json_line_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("c.jsonl").write_text('{"text": "Fine."}\n{"text": "Broken.\n', encoding="utf-8")
    result = invoke("c.jsonl", "--no-lm")
    assert result.exit_code == 2
    assert "c.jsonl:2: invalid JSON (Unterminated string" in result.stderr


def test_click_usage_errors_also_exit_2(jsonl_corpus: Path) -> None:
    assert invoke("corpus.jsonl", "--max-flag-rate", "-1").exit_code == 2
    assert invoke("corpus.jsonl", "--format", "yaml").exit_code == 2


def test_decide_lists_unmeasured_metrics_as_reasons() -> None:
    summary = {
        "flag_rate": 0.0, "flagged": 0, "corpus": {"sentences": 3}, "metrics": None, "fluency": None,
        "findings": {"total": 0, "by_severity": {"error": 0, "warning": 0, "info": 0}},
    }
    reasons = decide(summary, Thresholds(min_chrf=40, min_fluency=0.5))
    assert reasons == [
        "chrF was not measured (no references) but --min-chrf 40 was asked for",
        "fluency was not measured (language model off) but --min-fluency 0.50 was asked for",
    ]
    assert decide(summary, Thresholds(max_flag_rate=0, max_findings=0, fail_on=None)) == []


def test_quantile_interpolates_like_numpy() -> None:
    values = [0.0, 0.1, 0.2, 0.9]
    assert quantile(values, 0.5) == pytest.approx(0.15)
    assert quantile(values, 0.9) == pytest.approx(0.69)
    assert quantile([0.4], 0.1) == 0.4


# ---------------------------------------------------------------------------------- outputs


def test_json_has_the_gate_object_and_segment_findings(jsonl_corpus: Path) -> None:
    result = invoke("corpus.jsonl", "--no-lm", "--doc-field", "doc", "--ref-field", "ref", "--max-flag-rate", "1", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    gate = data["gate"]
    assert gate["passed"] is False and len(gate["reasons"]) == 1
    assert gate["corpus"] == {"files": 1, "documents": 2, "segments": 4, "sentences": 4, "source_language": None,
                              "split_documents": 0}
    assert gate["findings"]["by_code"] == {"P002": {"slug": "space-before-punctuation", "count": 1},
                                          "R003": {"slug": "repeated-word", "count": 1}}
    assert gate["flag_rate"] == 50.0 and gate["fluency"] is None
    assert set(gate["metrics"]) == {"bleu", "chrf", "ter"}
    segments = {s["id"]: s for s in gate["segments"]}
    assert set(segments) == {"a2", "b1"}
    texts = {s["id"]: r["text"] for r in map(json.loads, Path("corpus.jsonl").read_text().splitlines()) for s in [r]}
    for segment_id, entry in segments.items():
        for finding in entry["findings"]:
            assert finding["text"] == texts[segment_id][finding["start"] : finding["end"]]
    assert segments["a2"]["line"] == 2 and segments["b1"]["doc"] == "B"
    assert segments["b1"]["findings"][0]["text"] == " ,"
    assert gate["lowest_chrf"][0]["id"] == "a2"
    # The findings' own locations are in the corpus file.
    [document] = data["documents"]
    assert document["source"] == "corpus.jsonl"
    lines = Path("corpus.jsonl").read_text(encoding="utf-8").splitlines()
    for finding in document["findings"]:
        assert lines[finding["line"] - 1][finding["column"] - 1 : finding["end_column"] - 1] == finding["text"]


def test_jsonl_ends_with_the_gate_line(jsonl_corpus: Path) -> None:
    result = invoke("corpus.jsonl", "--no-lm", "--format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["code"] for r in records[:-1]] == ["R003", "P002"]
    assert records[-1]["gate"]["passed"] is False
    assert "mtcheck gate: FAILED" in result.stderr  # the summary moves to stderr


def _sarif(*args: str) -> dict:
    result = invoke(*args, "--no-lm", "--format", "sarif")
    log = json.loads(result.stdout)
    if SCHEMA_PATH.exists():
        from jsonschema import Draft4Validator

        Draft4Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))).validate(log)
    assert log["version"] == "2.1.0" and log["runs"][0]["tool"]["driver"]["name"] == "mtcheck"
    return log


def _locations(log: dict) -> list[tuple[str, int, int, int, str]]:
    out = []
    for result in log["runs"][0]["results"]:
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        out.append((location["artifactLocation"]["uri"], region["startLine"], region["startColumn"],
                    region["endColumn"], region["snippet"]["text"]))
    return out


def _line_slice(path: str, line: int, start_column: int, end_column: int) -> str:
    return Path(path).read_text(encoding="utf-8").splitlines()[line - 1][start_column - 1 : end_column - 1]


def test_sarif_points_at_text_files(text_corpus: Path) -> None:
    log = _sarif(str(text_corpus))
    assert log["runs"][0]["properties"]["mtcheckGate"]["passed"] is False
    locations = _locations(log)
    assert [(uri, line) for uri, line, *_ in locations] == [("corpus/news/flood.txt", 3), ("corpus/news/town.md", 3)]
    for uri, line, start, end, snippet in locations:
        assert _line_slice(uri, line, start, end) == snippet


def test_sarif_points_at_jsonl_tsv_and_csv_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(Path("c.jsonl"), [{"text": CLEAN[0]}, {"note": "ü", "text": 'Quote "x" then ' + SPACED}], ensure_ascii=True)
    Path("c.tsv").write_text(f"id\ttext\n1\t{CLEAN[1]}\n2\t{DOUBLED}\n", encoding="utf-8")
    Path("c.csv").write_text(f'id,text\n1,"{CLEAN[2]}"\n2,"He wrote ""yes"" in the the margin."\n', encoding="utf-8")
    locations = _locations(_sarif("c.jsonl", "c.tsv", "c.csv"))
    assert [(uri, line, snippet) for uri, line, _, _, snippet in locations] == [
        ("c.jsonl", 2, " ,"), ("c.tsv", 3, " ."), ("c.csv", 3, " the"),
    ]
    for uri, line, start, end, snippet in locations:
        assert _line_slice(uri, line, start, end) == snippet


def test_sarif_and_github_point_at_hyp_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("out.en").write_text(f"{CLEAN[0]}\n{CLEAN[1]}\n{REPEATED}\n{CLEAN[2]}\n{CLOSING_QUOTE}\n", encoding="utf-8")
    locations = _locations(_sarif("--hyp", "out.en"))
    assert [(uri, line, snippet) for uri, line, _, _, snippet in locations] == [("out.en", 3, " the"), ("out.en", 5, "”")]
    github = invoke("--hyp", "out.en", "--no-lm", "--format", "github").stdout.splitlines()
    assert github[0].startswith("::warning file=out.en,line=3,col=")
    assert github[1].startswith("::error file=out.en,line=5,col=11,")
    assert github[-1].startswith("::error title=mtcheck gate failed::2 findings at or above warning")


def test_github_notice_when_the_gate_passes(text_corpus: Path) -> None:
    result = invoke(str(text_corpus), "--no-lm", "--max-flag-rate", "50", "--format", "github")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("::notice title=mtcheck gate passed::flag rate 28.57")


def test_junit_has_a_gate_test_case(text_corpus: Path) -> None:
    result = invoke(str(text_corpus), "--no-lm", "--max-findings", "0", "--format", "junit")
    root = ET.fromstring(result.stdout)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["mtcheck", "mtcheck gate"]
    failure = suites[1].find("testcase/failure")
    assert failure is not None and failure.get("message") == "2 findings is above --max-findings 0"
    assert root.get("tests") == "4" and root.get("failures") == "3"  # 3 files + the gate; 2 files + the gate fail


def test_markdown_starts_with_the_gate_section(jsonl_corpus: Path) -> None:
    result = invoke("corpus.jsonl", "--no-lm", "--ref-field", "ref", "--max-flag-rate", "60", "--min-chrf", "10", "--format", "markdown")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("## mtcheck gate: ✅ passed\n")
    assert "| Flag rate per 100 sentences | 50.00 | ≤ 60 |" in text
    assert "| chrF2 |" in text and "≥ 10" in text
    assert text.index("## mtcheck gate") < text.index("## mtcheck report")


def test_text_format_and_output_file(jsonl_corpus: Path) -> None:
    result = invoke("corpus.jsonl", "--no-lm", "--format", "text")
    assert "corpus.jsonl:2:" in result.stdout and result.stdout.rstrip().splitlines()[-1].startswith("    R003")
    assert "mtcheck gate: FAILED" in result.stdout and result.stderr == ""
    written = invoke("corpus.jsonl", "--no-lm", "--output", "report.sarif")
    assert written.exit_code == 1
    assert json.loads(Path("report.sarif").read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert "mtcheck gate: FAILED" in written.stdout  # stdout is free: the summary goes there
    quiet = invoke("corpus.jsonl", "--no-lm", "--quiet")
    assert quiet.exit_code == 1 and quiet.output == ""


def test_progress_bar_on_request(jsonl_corpus: Path) -> None:
    shown = invoke("corpus.jsonl", "--no-lm", "--progress")
    assert shown.exit_code == 1
    assert invoke("corpus.jsonl", "--no-lm", "--progress", "--quiet").output == ""


# ------------------------------------------------------------------------- anchored report


def test_anchored_report_spans_equal_the_file_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"doc": "x", "text": DOUBLED}, {"doc": "x", "text": "Zoë said “no” , twice."}, {"doc": "y", "text": REPEATED},
    ], ensure_ascii=False)
    from mtcheck.gate.corpus import FieldNames

    run = run_gate(read_corpus([str(path)], FieldNames(doc="doc")), Config(lm=False))
    report = anchored_report(run)
    [document] = report.documents
    file_text = path.read_text(encoding="utf-8")
    assert document.document.text == file_text
    assert [file_text[f.start : f.end] for f in document.findings] == [" .", " ,", " the"]
    assert report.summary()["sentences"] == sum(len(r.sentences) for r in run.results) == 4
    assert [document.document.line_col(f.start)[0] for f in document.findings] == [1, 2, 3]


def test_aligned_findings_and_duplicates_across_lines_of_one_document(tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text(f"{CLEAN[0]}\n{DOUBLED}\n", encoding="utf-8")
    run = run_gate(read_aligned(str(hyp)), Config(lm=False))
    summary = summarize(run, Thresholds(max_flag_rate=100))
    assert summary["passed"] and summary["corpus"]["sentences"] == 3
    assert summary["segments"][0]["line"] == 2


def test_tiny_language_model_reports_fluency(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from mtcheck.lm.backbone import Backbone
    from mtcheck.lm.testing import tiny_detector, tiny_model
    from mtcheck.pipeline import Checker

    config = Config(lm=True)
    checker = Checker(config, fluency=tiny_detector(Backbone(tiny_model())))
    path = write_jsonl(tmp_path / "c.jsonl", [{"doc": "a", "text": t} for t in CLEAN[:2]] + [{"doc": "b", "text": CLEAN[2]}])
    from mtcheck.gate.corpus import FieldNames

    run = run_gate(read_corpus([str(path)], FieldNames(doc="doc")), config, checker=checker)
    summary = summarize(run, Thresholds(min_fluency=1.01))
    fluency = summary["fluency"]
    assert fluency["sentences"]["count"] == 3
    assert 0.0 <= fluency["sentences"]["p10"] <= fluency["sentences"]["p50"] <= fluency["sentences"]["p90"] <= 1.0
    assert summary["passed"] is False
    assert summary["reasons"][0].startswith("mean document fluency ")
    # every checked document is counted under the word the detector gave it
    assert sum(fluency["documents"].values()) == 2 and set(fluency["documents"]) == {"fluent", "awkward", "garbled"}
    from mtcheck.gate.summary import gate_markdown, summary_text

    text = summary_text(summary)
    counted = ", ".join(f"{fluency['documents'][w]} {w}" for w in ("fluent", "awkward", "garbled"))
    assert f"({counted}; 0 garbled – 1 fluent)" in text
    assert "| Documents: fluent, awkward, garbled |" in gate_markdown(summary)


def test_pre_commit_hooks_run_real_commands(text_corpus: Path) -> None:
    yaml = pytest.importorskip("yaml")
    from click.testing import CliRunner

    from mtcheck.cli.main import main

    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"mtcheck", "mtcheck-gate"}
    for hook in hooks:
        program, command, *options = hook["entry"].split()
        assert program == "mtcheck" and hook["require_serial"] is True
        files = ["corpus/news/flood.txt", "corpus/clean.txt"]
        if command == "gate":
            result = invoke(*options, "--max-flag-rate", "50", *files)
        else:
            result = CliRunner().invoke(main, [command, *options, *files])
        assert result.exit_code in (0, 1), result.output


def test_excerpts_read_as_the_checked_text_while_places_point_into_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "escaped.jsonl", [{"id": "1", "text": "He said “the the talks ended.” Then he left."}])
    assert "\\u201c" in (tmp_path / "escaped.jsonl").read_text()  # the file holds escapes
    line = (tmp_path / "escaped.jsonl").read_text().splitlines()[0]
    column = line.index(" the talks") + 1
    text = invoke("escaped.jsonl", "--no-lm", "--format", "text").output
    assert f"escaped.jsonl:1:{column}  R003" in text
    assert "He said “the the talks ended.”" in text and "\\u201c" not in text
    invoke("escaped.jsonl", "--no-lm", "-o", "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    (finding,) = report["documents"][0]["findings"]
    assert finding["text"] == " the" and (finding["line"], finding["column"]) == (1, column)
    markdown = invoke("escaped.jsonl", "--no-lm", "--format", "markdown").output
    assert "\\u201c" not in markdown
