"""The public interface: FORMATS, render, extension_for, write_atomic."""

from __future__ import annotations

import os
import stat

import pytest

from mtcheck.findings import Report
from mtcheck.formats import FORMATS, extension_for, render, write_atomic
from mtcheck.formats.base import Formatter, registered


def test_formats_are_the_documented_names_and_all_registered() -> None:
    assert FORMATS == ("text", "json", "jsonl", "sarif", "github", "junit", "markdown", "html")
    assert set(registered()) == set(FORMATS)
    assert all(issubclass(cls, Formatter) for cls in registered().values())


def test_the_command_lines_offer_exactly_the_registered_formats() -> None:
    # The CLI keeps literal lists so that `mtcheck --help` imports no format module.
    from mtcheck.cli.gate import GATE_FORMATS
    from mtcheck.cli.main import FORMAT_NAMES

    assert FORMAT_NAMES == FORMATS
    assert GATE_FORMATS == tuple(name for name in FORMATS if registered()[name].supports_gate)
    assert all(registered()[name].media_type for name in FORMATS)


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="sarif"):
        render(Report(), "yaml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_report(fmt: str) -> None:
    out = render(Report(), fmt)
    assert isinstance(out, str)
    assert out == "" if fmt in ("jsonl", "github") else out.endswith("\n")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_empty_and_blank_documents(fmt: str, make) -> None:
    report = Report([make.document_report("", "empty.txt", []), make.document_report(" \n\n ", "blank.txt", [])])
    out = render(report, fmt)
    if fmt in ("json", "junit", "html"):  # the formats that list every document, flagged or not
        assert "blank.txt" in out and "empty.txt" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_accepts_explicit_rules_and_options(fmt: str, harbour: Report) -> None:
    assert render(harbour, fmt, rules={}, color=False, width=60)


def test_extensions() -> None:
    assert extension_for("sarif") == ".sarif"
    assert extension_for("html") == ".html"
    assert len({extension_for(f) for f in FORMATS}) == len(FORMATS)


def test_write_atomic_writes_and_replaces(tmp_path) -> None:
    target = tmp_path / "out.json"
    write_atomic(target, "first ✓\n")
    write_atomic(str(target), "second\r\nline")
    assert target.read_bytes() == b"second\r\nline"
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_atomic_new_file_gets_umask_mode(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644


def test_write_atomic_keeps_existing_mode(tmp_path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    target.chmod(0o600)
    write_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_atomic_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch) -> None:
    target = tmp_path / "report.sarif"
    target.write_text("old content")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new content")
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["report.sarif"]


def test_write_atomic_survives_lone_surrogates(tmp_path) -> None:
    target = tmp_path / "s.txt"
    write_atomic(target, "bad \udcff byte")
    assert target.read_bytes() == b"bad ? byte"


def test_write_atomic_sweeps_stale_temps_of_the_same_report_only(tmp_path) -> None:
    import time

    stale = tmp_path / ".report.json.k1ll3d.tmp"
    other = tmp_path / ".notes.txt.k1ll3d.tmp"  # another file's: not ours to judge
    for path in (stale, other):
        path.write_text("half")
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    write_atomic(tmp_path / "report.json", "{}")
    assert not stale.exists()
    assert other.exists()


def test_sigterm_during_a_write_leaves_the_old_file_and_no_temp(tmp_path) -> None:
    import subprocess
    import sys

    target = tmp_path / "report.json"
    target.write_text("old report")
    script = (
        "import os, signal\n"
        "from mtcheck.cli import main as cli\n"
        "from mtcheck.atomic import write_atomic\n"
        "cli._exit_cleanly_on_terminate()\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGTERM)\n"  # killed mid-write
        f"write_atomic({str(target)!r}, 'new report')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 128 + 15
    assert done.stderr.strip() == "mtcheck: terminated"
    assert target.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize(
    ("text", "span", "suggestion", "reads"),
    [
        ("They silence their their critics.", (18, 24), "", "delete “their”"),
        ("Two  spaces.", (3, 4), "", "delete the space"),
        ("Ends here", (9, 9), ".", "insert “.”"),
        ("They were inseperable.", (10, 21), "inseparable", "replace with “inseparable”"),
        ("Word ,", (4, 6), ",", "replace with “,”"),
        ("a " + "long " * 20, (0, 102), "", "delete “a long long long long long long long lo…”"),
        ("No fix here.", (0, 2), None, None),
    ],
)
def test_a_suggestion_reads_as_what_to_do(text: str, span: tuple[int, int], suggestion: str | None, reads: str | None) -> None:
    from mtcheck.document import Document
    from mtcheck.findings import Finding, Severity
    from mtcheck.formats.base import suggestion_text

    finding = Finding("X001", "x", Severity.INFO, span[0], span[1], "message", suggestion)
    assert suggestion_text(finding, Document(text)) == reads
